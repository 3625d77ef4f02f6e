-- gfhost run regression: classification of the 127 real forge-tig configs (§1.7 counts),
-- exclusions (names + predicate), in-process backfills against spec/support/cmr_server.py,
-- the summary table, and one failing collection not stopping the others. Needs python3.
local json = require("gf.json")
local fs = require("gf.fs")
local paths = require("spec.support.paths")
local run_backfill = require("backfill.run").run

local fx = paths.fixtures

local cmr = require("spec.support.cmr")
local function start_server(tmp) return cmr.start(tmp, "--granules 12") end

local function run(tmp, argv) return cmr.run_script("regression", tmp, argv) end

local function requests(port)
  local h = io.popen(("curl -s http://127.0.0.1:%d/_requests"):format(port))
  local t = h:read("a")
  h:close()
  return json.decode(t)
end

-- a config directory of symlinks to real fixtures: {link name = fixture name}
local function config_dir(tmp, sub, links)
  local d = tmp .. "/" .. sub
  assert(fs.mkdir_p(d))
  for link, target in pairs(links) do
    os.execute(("ln -s '%s/forge-tig/%s.cfg' '%s/%s.cfg'"):format(fx, target, d, link))
  end
  return d
end

local function row(out, name)
  for l in out:gmatch("[^\n]+") do
    if l:sub(1, #name + 1) == name .. " " then
      local cols = {}
      for w in l:gmatch("%S+") do cols[#cols + 1] = w end
      return cols
    end
  end
end

describe("regression #unit", function()
  local tmp, port, pid, yaml

  setup(function()
    tmp = paths.tmpdir()
    port, pid = start_server(tmp)
    yaml = tmp .. "/backfill.yaml"
    assert(fs.write(yaml, ("cmr_url: http://127.0.0.1:%d\nprovider: pocloud\npage_size: 5\nuse_data_url: true\n"):format(port)))
  end)

  teardown(function()
    os.execute("kill " .. pid)
    os.execute("rm -rf " .. tmp)
  end)

  it("classifies the 127 real configs as §1.8 counts them: 63 forge, 96 tig, 38 forge-py", function()
    local code, out, err = run(tmp, { "--backfill_config", yaml, "--configs", fx .. "/forge-tig", "--list", "--type", "forge-py" })
    assert.equal(0, code, err)
    assert.matches("^forge 63, tig 96, forge%-py 38, unreadable 0\n", out)
    assert.matches("\nSelected %(forge%-py%): 38\n", out)
    assert.matches("\n  AVHRR19_G%-NAVO%-L2P%-v1%.0\n", out) -- the §1.8 forge-py example
    assert.matches("\nExcluded: 0\n", out)
    code, out = run(tmp, { "--backfill_config", yaml, "--configs", fx .. "/forge-tig", "--list" })
    assert.equal(0, code)
    assert.matches("\nSelected %(all%): 127\n", out)
  end)

  it("leaves out the exclusions file's names and what its predicate rejects", function()
    local ex = tmp .. "/excl.lua"
    assert(fs.write(ex, [[return { names = { ["AVHRR19_G-NAVO-L2P-v1.0"] = "being reworked" },
      exclude = function(name, cfg, kind)
        assert(kind == "forge-py" and cfg.shortName == name)
        return name:match("^SWOT") and "no SWOT today" or nil
      end }]]))
    local code, out, err = run(tmp, { "--backfill_config", yaml, "--configs", fx .. "/forge-tig", "--list",
      "--type", "forge-py", "--exclusions", ex })
    assert.equal(0, code, err)
    local nswot = select(2, out:gsub("\n  SWOT[^\n]*: no SWOT today", ""))
    assert.is_true(nswot > 0)
    assert.matches("\n  AVHRR19_G%-NAVO%-L2P%-v1%.0: being reworked\n", out)
    assert.matches(("\nSelected %%(forge%%-py%%): %d\n"):format(38 - 1 - nswot), out)
    assert.matches(("\nExcluded: %d\n"):format(1 + nswot), out)
    assert.is_nil(out:find("\n  SWOT[^:\n]*\n"))
  end)

  it("the default exclusions leave out configs whose shortName is not the file name", function()
    local d = config_dir(tmp, "renamed", { ["MODIS_A-JPL-L2P-v2019.0"] = "MODIS_A-JPL-L2P-v2019.0",
      ["COPY_OF_MODIS_T"] = "MODIS_T-JPL-L2P-v2019.0" })
    local code, out, err = run(tmp, { "--backfill_config", yaml, "--configs", d, "--list", "--type", "tig" })
    assert.equal(0, code, err)
    assert.matches("\nSelected %(tig%): 1\n  MODIS_A%-JPL%-L2P%-v2019%.0\n", out)
    assert.matches("\n  COPY_OF_MODIS_T: config shortName MODIS_T%-JPL%-L2P%-v2019%.0 is not the file name\n", out)
  end)

  it("backfills every selected collection in preview with the type's flags; one CMR query per collection", function()
    local d = config_dir(tmp, "three", { ["MODIS_A-JPL-L2P-v2019.0"] = "MODIS_A-JPL-L2P-v2019.0",
      ["MODIS_T-JPL-L2P-v2019.0"] = "MODIS_T-JPL-L2P-v2019.0", ["AVHRR19_G-NAVO-L2P-v1.0"] = "AVHRR19_G-NAVO-L2P-v1.0" })
    local before = #requests(port)
    local code, out, err = run(tmp, { "--backfill_config", yaml, "--configs", d, "--type", "tig", "--preview",
      "--", "--page-limit", "2" })
    assert.equal(0, code, err)
    assert.matches("\nRegression %(tig%): 3 collections, 0 failed, 0 excluded %(preview%)\n", out)
    assert.matches("Collection%s+Type%s+Status%s+Granules%s+Footprint%s+Image%s+DMRPP%s+Messages%s+Failed%s+Seconds\n", out)
    for _, name in ipairs({ "AVHRR19_G-NAVO-L2P-v1.0", "MODIS_A-JPL-L2P-v2019.0", "MODIS_T-JPL-L2P-v2019.0" }) do
      local c = row(out, name)
      assert.is_table(c, name)
      -- tig: --image force --footprint off; --page-limit 2 of 5 → 10 granules, 10 image messages
      assert.same({ name, "tig", "ok", "10", "0", "10", "0", "10", "0" }, { table.unpack(c, 1, 9) })
    end
    local reqs = requests(port)
    local seen = {}
    for i = before + 1, #reqs do
      local sn = reqs[i].query:match("short_name=([^&]+)")
      seen[sn] = (seen[sn] or 0) + 1
    end
    assert.same({ ["AVHRR19_G-NAVO-L2P-v1.0"] = 2, ["MODIS_A-JPL-L2P-v2019.0"] = 2, ["MODIS_T-JPL-L2P-v2019.0"] = 2 }, seen)
    assert.matches("Messages that would be sent: 10 %(preview: nothing sent%)", err)
  end)

  it("a failing collection is reported and the next one still runs and sends its messages", function()
    -- AAA (a copy of MODIS_T) has no Cumulus collection config, so its backfill stops with exit 2;
    -- MODIS_A, after it, sends real messages to the file.
    local d = config_dir(tmp, "fail", { ["AAA_NO_CUMULUS"] = "MODIS_T-JPL-L2P-v2019.0",
      ["MODIS_A-JPL-L2P-v2019.0"] = "MODIS_A-JPL-L2P-v2019.0" })
    local ex = tmp .. "/none.lua"
    assert(fs.write(ex, "return { names = {}, exclude = function() return nil end }"))
    local mf = tmp .. "/messages.txt"
    local y = tmp .. "/send.yaml"
    assert(fs.write(y, fs.read(yaml) .. ("cumulus: uat\ncumulus_configurations: %s/cumulus\ndefault_message_config: %s/cumulus/message_config.json\nmessage_file: %s\npage_limit: 1\n")
      :format(fx, fx, mf)))
    local code, out, err = run(tmp, { "--backfill_config", y, "--configs", d, "--type", "forge", "--exclusions", ex })
    assert.equal(1, code, err)
    assert.matches("\nRegression %(forge%): 2 collections, 1 failed, 0 excluded\n", out)
    assert.same({ "AAA_NO_CUMULUS", "forge", "error", "-" }, { table.unpack(row(out, "AAA_NO_CUMULUS"), 1, 4) })
    assert.same({ "MODIS_A-JPL-L2P-v2019.0", "forge", "ok", "5", "5", "0", "0", "5", "0" },
      { table.unpack(row(out, "MODIS_A-JPL-L2P-v2019.0"), 1, 9) })
    assert.matches("\nAAA_NO_CUMULUS: Error: Could not find collection config", out)
    assert.matches("gfhost: regression: 1 of 2 collections failed\n", err)
    local n = 0
    for l in io.lines(mf) do
      if l ~= "" then
        local m = assert(json.decode(l))
        assert.is_true(m.forge)
        assert.is_false(m.tig)
        assert.equal("MODIS_A-JPL-L2P-v2019.0", m.cli_params.collection_short_name)
        n = n + 1
      end
    end
    assert.equal(5, n)
  end)

  describe("configs from a listing URL", function()
    local lport, lpid, lport2, lpid2
    setup(function()
      local d = config_dir(tmp, "listed", { ["MODIS_A-JPL-L2P-v2019.0"] = "MODIS_A-JPL-L2P-v2019.0",
        ["MODIS_T-JPL-L2P-v2019.0"] = "MODIS_T-JPL-L2P-v2019.0", ["AVHRR19_G-NAVO-L2P-v1.0"] = "AVHRR19_G-NAVO-L2P-v1.0" })
      lport, lpid = cmr.start_listing(tmp, d)
      lport2, lpid2 = cmr.start_listing(tmp, d, "--missing GONE-v1.cfg")
    end)
    teardown(function()
      os.execute("kill " .. lpid .. " " .. lpid2)
    end)

    local function listing_requests(p)
      local h = io.popen(("curl -s http://127.0.0.1:%d/_requests"):format(p))
      local t = h:read("a")
      h:close()
      return json.decode(t)
    end

    it("downloads the .cfg files of a GitHub-contents listing (files only) and backfills them", function()
      local url = ("http://127.0.0.1:%d/contents"):format(lport)
      local code, out, err = run(tmp, { "--backfill_config", yaml, "--configs", url, "--list" })
      assert.equal(0, code, err)
      assert.matches("^forge 2, tig 3, forge%-py 1, unreadable 0\n", out)
      assert.matches("\nSelected %(all%): 3\n", out)
      local reqs = listing_requests(lport)
      assert.equal("/contents", reqs[1].path)
      assert.equal("application/vnd.github+json", reqs[1].accept)
      assert.equal("gfhost-regression", reqs[1].user_agent)
      local raw = {}
      for i = 2, #reqs do raw[#raw + 1] = reqs[i].path end
      table.sort(raw)
      -- never the README or the "dir" entry
      assert.same({ "/raw/AVHRR19_G-NAVO-L2P-v1.0.cfg", "/raw/MODIS_A-JPL-L2P-v2019.0.cfg",
        "/raw/MODIS_T-JPL-L2P-v2019.0.cfg" }, raw)

      code, out, err = run(tmp, { "--backfill_config", yaml, "--configs", url, "--type", "tig", "--preview",
        "--", "--page-limit", "1" })
      assert.equal(0, code, err)
      assert.matches("\nRegression %(tig%): 3 collections, 0 failed, 0 excluded %(preview%)\n", out)
      assert.same({ "MODIS_T-JPL-L2P-v2019.0", "tig", "ok", "5" }, { table.unpack(row(out, "MODIS_T-JPL-L2P-v2019.0"), 1, 4) })
    end)

    it("reads a listing of plain names relative to the listing URL", function()
      local code, out, err = run(tmp, { "--backfill_config", yaml, "--configs",
        ("http://127.0.0.1:%d/names"):format(lport), "--list", "--type", "forge-py" })
      assert.equal(0, code, err)
      assert.matches("\nSelected %(forge%-py%): 1\n  AVHRR19_G%-NAVO%-L2P%-v1%.0\n", out)
    end)

    it("a config that cannot be downloaded is named, the others still run, and the exit is 1", function()
      local code, out, err = run(tmp, { "--backfill_config", yaml, "--configs",
        ("http://127.0.0.1:%d/contents"):format(lport2), "--type", "tig", "--preview", "--", "--page-limit", "1" })
      assert.equal(1, code, err)
      assert.matches("\nRegression %(tig%): 3 collections, 0 failed, 0 excluded %(preview%)\n", out)
      assert.matches("\nNot downloaded: GONE%-v1%.cfg: status 404\n", out)
      assert.matches("gfhost: regression: 1 configs could not be downloaded\n", err)
    end)

    it("a listing that is not there, or not a JSON array, is an error naming the URL", function()
      local url = ("http://127.0.0.1:%d/nope"):format(lport)
      local code, out, err = run(tmp, { "--backfill_config", yaml, "--configs", url, "--list" })
      assert.equal(1, code)
      assert.equal("", out)
      assert.matches("Error: config listing " .. url:gsub("%p", "%%%0") .. ": status 404", err)
      url = ("http://127.0.0.1:%d/raw/MODIS_A-JPL-L2P-v2019.0.cfg"):format(lport)
      code, _, err = run(tmp, { "--backfill_config", yaml, "--configs", url, "--list" })
      assert.equal(1, code)
      assert.matches("Error: config listing " .. url:gsub("%p", "%%%0") .. ": not a JSON array", err)
      url = ("http://127.0.0.1:%d/_requests"):format(lport)
      code, _, err = run(tmp, { "--backfill_config", yaml, "--configs", url, "--list" })
      assert.equal(1, code)
      assert.matches("Error: config listing " .. url:gsub("%p", "%%%0") .. ": no .cfg files listed", err)
      code, _, err = run(tmp, { "--backfill_config", yaml, "--configs", "http://127.0.0.1:1/contents", "--list" })
      assert.equal(1, code)
      assert.matches("Error: config listing: ", err)
    end)
  end)

  it("a missing --backfill_config is a usage error", function()
    local code, out, err = run(tmp, { "--configs", fx .. "/forge-tig", "--list" })
    assert.equal(2, code)
    assert.equal("", out)
    assert.matches("backfill%-config", err)
  end)

  describe("backfill.run", function()
    it("returns the run's summary in-process", function()
      local s, msg = run_backfill({ "--config", yaml, "--collection", "MODIS_A-JPL-L2P-v2019.0",
        "--forge-tig-configs", fx .. "/forge-tig", "--footprint", "on", "--image", "off", "--dmrpp", "off",
        "--preview", "--page-limit", "1" })
      assert.is_nil(msg)
      assert.same({ granules = 5, footprint = 5, image = 0, dmrpp = 0, both = 0, failed = 0, messages = 5,
        sent = 0, send_failed = 0, cmr_failed = false, preview = true }, s)
    end)

    it("returns nil, message, exit for bad options instead of raising", function()
      assert.same({ nil, "Error: Please specify --image.  Must be either 'off', 'on', or 'force'", 2, nil },
        { run_backfill({ "--config", yaml, "--collection", "X", "--footprint", "on", "--dmrpp", "off", "--preview" }) })
    end)

    it("returns the summary with exit 1 when granules failed", function()
      local s, msg, code, partial = run_backfill({ "--cmr-url", "http://127.0.0.1:" .. port, "--provider", "pocloud",
        "--collection", "MODIS_A-JPL-L2P-v2019.0", "--forge-tig-configs", fx .. "/forge-tig", "--footprint", "on",
        "--image", "off", "--dmrpp", "off", "--preview", "--page-size", "4", "--page-limit", "1" })
      assert.is_nil(s)
      assert.equal("backfill finished with failures (granules 4, messages 0, cmr false)", msg)
      assert.equal(1, code)
      assert.equal(4, partial.granules)
      assert.equal(4, partial.failed)
    end)

    it("raises on misuse", function()
      assert.has_error(function() run_backfill("--preview") end, "bad argument #1 to 'run' (table expected, got string)")
      assert.has_error(function() run_backfill({ 1 }) end, "bad argument #1 to 'run' (argv[1] is a number, string expected)")
    end)
  end)
end)
