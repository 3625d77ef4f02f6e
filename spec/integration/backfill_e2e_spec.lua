-- gfhost run backfill end to end against spec/support/cmr_server.py (a local CMR serving
-- generated granules from fixtures/cmr/uat_modis_t_page.json with CMR-Search-After paging).
-- Needs only python3, so it always runs.
local json = require("gf.json")
local fs = require("gf.fs")
local paths = require("spec.support.paths")

local fx = paths.fixtures

local cmr = require("spec.support.cmr")
local start_server = cmr.start

local function run(tmp, argv) return cmr.run_script("backfill", tmp, argv) end

local function messages(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then out[#out + 1] = assert(json.decode(line)) end
  end
  return out
end

local function requests(port)
  local h = io.popen(("curl -s http://127.0.0.1:%d/_requests"):format(port))
  local t = h:read("a")
  h:close()
  return json.decode(t)
end

describe("backfill end to end #integration", function()
  local tmp, port, pid
  local base

  setup(function()
    tmp = paths.tmpdir()
    port, pid = start_server(tmp, "--granules 45")
    base = { "--collection", "MODIS_A-JPL-L2P-v2019.0", "--provider", "pocloud",
      "--cmr-url", "http://127.0.0.1:" .. port, "--forge-tig-configs", fx .. "/forge-tig",
      "--cumulus", "uat", "--cumulus-configurations", fx .. "/cumulus",
      "--default_message_config", fx .. "/cumulus/message_config.json", "--use-data-url",
      "--page-size", "10", "--user", "spec" }
  end)

  teardown(function()
    os.execute("kill " .. pid)
    os.execute("rm -rf " .. tmp)
  end)

  local function with(extra)
    local a = {}
    for _, v in ipairs(base) do a[#a + 1] = v end
    for _, v in ipairs(extra) do a[#a + 1] = v end
    return a
  end

  it("pages through every granule; every counted message is in the file with the §1.5 shape", function()
    local mf = tmp .. "/all.txt"
    local code, _, err = run(tmp, with({ "--footprint", "on", "--image", "on", "--dmrpp", "off", "--message_file", mf }))
    assert.equal(0, code, err)
    local ms = messages(mf)
    assert.equal(90, #ms)
    assert.matches("Messages sent: 90\n", err)
    assert.matches("Date       Granules   Need Image   Need Footprint   Both FP & BBox   Need DMRPP\n", err, 1, true)
    assert.matches("\n2020%-12    31         31           31               0                0\n", err)
    local uuid = ms[1].cli_params.uuid
    local per = {}
    for _, m in ipairs(ms) do
      assert.is_true(m.forge ~= m.tig)
      assert.is_false(m.dmrpp)
      assert.is_true(m.skip_cmr_opendap_update)
      assert.equal(uuid, m.cli_params.uuid)
      assert.equal("spec", m.cli_params.username)
      assert.equal("test-internal", m.cumulus_meta.system_bucket)
      local f = m.payload.granules[1].files[1]
      assert.equal("podaac-uat-cumulus-protected", f.bucket)
      assert.matches("^MODIS_T%-JPL%-L2P%-v2019%.0/.+%.nc$", f.key)
      local cid = m.payload.granules[1].cmrConceptId
      per[cid] = (per[cid] or 0) + 1
    end
    local n = 0
    for _, c in pairs(per) do n = n + 1 assert.equal(2, c) end
    assert.equal(45, n)
  end)

  it("--message-limit 2 sends exactly two messages (force, as the original's e2e test)", function()
    local mf = tmp .. "/limit.txt"
    local code, _, err = run(tmp, with({ "--footprint", "force", "--image", "force", "--dmrpp", "off",
      "--message_file", mf, "--message-limit", "2" }))
    assert.equal(0, code, err)
    local ms = messages(mf)
    assert.equal(2, #ms)
    assert.is_true(ms[1].forge)
    assert.is_true(ms[2].tig)
    assert.matches("Messages sent: 2\n", err)
  end)

  it("an explicit --page-limit 0 wins over the config's page_limit; a CLI page limit bounds the requests", function()
    local cfg = tmp .. "/cfg.yaml"
    assert(fs.write(cfg, "page_limit: 1\npreview: true\nfootprint: 'on'\nimage: 'off'\ndmrpp: 'off'\n"))
    local code, _, err = run(tmp, with({ "--config", cfg }))
    assert.equal(0, code, err)
    assert.matches("Granules processed: 10\n", err)
    code, _, err = run(tmp, with({ "--config", cfg, "--page-limit", "0" }))
    assert.equal(0, code, err)
    assert.matches("Granules processed: 45\n", err)
    assert.matches("preview: nothing sent", err)
  end)

  it("resumes from --cmr-search-after, sends the EDL token, and never logs it", function()
    local before = #requests(port)
    local code, _, err = run(tmp, with({ "--footprint", "on", "--image", "off", "--dmrpp", "off", "--preview",
      "--cmr-search-after", "40", "--edl-token", "sekrit-token-123", "--log-level", "debug" }))
    assert.equal(0, code, err)
    assert.matches("Granules processed: 5\n", err)
    local reqs = requests(port)
    assert.equal("40", reqs[before + 1].search_after)
    assert.equal("Bearer sekrit-token-123", reqs[before + 1].authorization)
    assert.is_nil(err:find("sekrit-token-123", 1, true))
  end)

  it("--cycles and the sort order reach the query, URL-encoded", function()
    local before = #requests(port)
    local code, _, err = run(tmp, with({ "--footprint", "on", "--image", "off", "--dmrpp", "off", "--preview",
      "--cycles", "[1, 2]", "--sort-order", "descending", "-sd", "2020-01-01T00:00:00Z", "--page-limit", "1" }))
    assert.equal(0, code, err)
    local q = requests(port)[before + 1].query
    assert.matches("sort_key%5B%5D=-start_date", q, 1, true)
    local tail = "&temporal=2020-01-01T00%3A00%3A00Z%2C&cycle%5B%5D=1&cycle%5B%5D=2"
    assert.equal(tail, q:sub(-#tail))
  end)

  it("--granule-list-file: concept ids and GranuleURs; a missing one is counted and exits 1", function()
    local lf = tmp .. "/list.txt"
    assert(fs.write(lf, "G1000000003-POCLOUD\ngranule-000007\n\nG99999999999-POCLOUD\n"))
    local mf = tmp .. "/list_msgs.txt"
    local code, _, err = run(tmp, with({ "--footprint", "off", "--image", "on", "--dmrpp", "off",
      "--granule-list-file", lf, "--message_file", mf }))
    assert.equal(1, code, err)
    local ms = messages(mf)
    assert.equal(2, #ms)
    assert.equal("G1000000003-POCLOUD", ms[1].payload.granules[1].cmrConceptId)
    assert.equal("granule-000007", ms[2].payload.granules[1].granuleId)
    assert.matches("Couldn't be processed: 1\n", err)
  end)

  it("validation: the original's messages, exit 2", function()
    local code, _, err = run(tmp, with({ "--footprint", "on", "--dmrpp", "off", "--preview" }))
    assert.equal(2, code)
    assert.matches("Please specify --image.  Must be either 'off', 'on', or 'force'", err, 1, true)
    code, _, err = run(tmp, with({ "--footprint", "off", "--image", "off", "--dmrpp", "off", "--preview" }))
    assert.equal(2, code)
    assert.matches("At least one of --image, --footprint, or --dmrpp must be 'on' or 'force'", err, 1, true)
    code, _, err = run(tmp, { "--collection", "X", "--footprint", "on", "--image", "off", "--dmrpp", "off",
      "--preview", "--cmr", "prod", "--forge-tig-configs", fx .. "/forge-tig" })
    assert.equal(2, code)
    assert.matches("Improper environment specified: prod", err, 1, true)
    code, _, err = run(tmp, with({ "--footprint", "on", "--image", "off", "--dmrpp", "off", "--preview",
      "--cycles", "[1, x]" }))
    assert.equal(2, code)
    assert.matches("Invalid --cycles '[1, x]'", err, 1, true)
    code, _, err = run(tmp, with({ "--footprint", "on", "--image", "off", "--dmrpp", "off", "--preview",
      "--sns-concurrency", "0" }))
    assert.equal(2, code)
    assert.matches("--sns-concurrency must be at least 1, got 0", err, 1, true)
    code, _, err = run(tmp, { "--collection", "NO_SUCH_COLLECTION", "--footprint", "on", "--image", "off",
      "--dmrpp", "off", "--preview", "--forge-tig-configs", fx .. "/forge-tig" })
    assert.equal(2, code)
    assert.matches("There is no footprint setting for this collection, please disable footprint for backfilling", err, 1, true)
  end)

  it("a CMR failure mid-run is reported and exits 1 after the pages before it", function()
    local p2, pid2 = start_server(tmp, "--granules 45 --fail-after 2")
    local code, _, err = run(tmp, { "--collection", "MODIS_A-JPL-L2P-v2019.0", "--provider", "pocloud",
      "--cmr-url", "http://127.0.0.1:" .. p2, "--forge-tig-configs", fx .. "/forge-tig", "--page-size", "10",
      "--footprint", "on", "--image", "off", "--dmrpp", "off", "--preview" })
    os.execute("kill " .. pid2)
    assert.equal(1, code)
    assert.matches("Granules processed: 20\n", err)
    assert.matches("CMR problem", err)
  end)
end)
