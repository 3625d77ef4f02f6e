-- gfhost run create_config: the backfill YAML template per environment (source-systems §1.7).
local fs = require("gf.fs")
local yaml = require("gf.yaml")
local paths = require("spec.support.paths")

local root = paths.root

local function run(tmp, argv)
  local q = {}
  for i, a in ipairs(argv) do q[i] = "'" .. a:gsub("'", "'\\''") .. "'" end
  local cmd = ("cd %s && %s run create_config %s > %s/out 2> %s/err"):format(root, paths.gfhost, table.concat(q, " "), tmp, tmp)
  local _, _, code = os.execute(cmd)
  return code, fs.read(tmp .. "/out") or "", fs.read(tmp .. "/err") or ""
end

-- the backfill's option names (as config keys) read from scripts/backfill.lua itself
local function backfill_keys()
  local keys = { geometries = true }
  local src = assert(fs.read(root .. "/scripts/backfill.lua"))
  for n in src:gmatch('{ name = "([%w%-]+)"') do keys[(n:gsub("%-", "_"))] = true end
  return keys
end

describe("create_config #unit", function()
  local tmp
  before_each(function() tmp = paths.tmpdir() end)
  after_each(function() os.execute("rm -rf " .. tmp) end)

  local expected = {
    ops = { cmr = "ops", provider = "pocloud", cumulus = "ops", aws_profile = "ngap-services-ops", use_data_url = true },
    uat = { cmr = "uat", provider = "pocloud", cumulus = "uat", aws_profile = "ngap-services-uat", use_data_url = true },
    sit = { cmr = "uat", provider = "pocumulus", cumulus = "sit", aws_profile = "ngap-services-sit", use_data_url = true },
  }
  for env, want in pairs(expected) do
    it("writes the " .. env .. " template with exactly the per-environment keys set", function()
      local f = tmp .. "/" .. env .. ".yaml"
      local code, out, err = run(tmp, { "--env", env, "--filename", f })
      assert.equal(0, code, err)
      assert.equal("", out)
      assert.equal(("Wrote %s config to %s\n"):format(env, f), err)
      assert.same(want, yaml.load(assert(fs.read(f))))
    end)
  end

  it("every commented key, once uncommented, is a backfill option and parses", function()
    local code, out = run(tmp, { "--env", "uat", "--filename", "-" })
    assert.equal(0, code)
    local uncommented = out:gsub("\n# (%w[%w_]*:)", "\n%1")
    local t = yaml.load(uncommented)
    local keys = backfill_keys()
    local n = 0
    for k in pairs(t) do
      assert.is_true(keys[k] == true, "not a backfill option: " .. k)
      n = n + 1
    end
    assert.equal(26, n) -- 5 set + 21 commented
    assert.equal("on", t.footprint)
    assert.equal("off", t.dmrpp)
    assert.equal("3.21.1-367", t.dmrpp_min_version)
    assert.same({ "GPolygons", "Lines" }, t.geometries)
  end)

  it("keeps an existing file unless --force", function()
    local f = tmp .. "/keep.yaml"
    assert(fs.write(f, "mine: 1\n"))
    local code, out, err = run(tmp, { "--env", "ops", "--filename", f })
    assert.equal(2, code)
    assert.equal("", out)
    assert.equal(("gfhost: Error: %s exists (use --force to overwrite it)\n"):format(f), err)
    assert.equal("mine: 1\n", fs.read(f))
    code = run(tmp, { "--env", "ops", "--filename", f, "--force" })
    assert.equal(0, code)
    assert.equal("ops", yaml.load(fs.read(f)).cmr)
  end)

  it("rejects a missing or unknown --env and a missing --filename", function()
    local code, out, err = run(tmp, { "--env", "prod", "--filename", tmp .. "/x.yaml" })
    assert.equal(2, code)
    assert.equal("", out)
    assert.matches("env", err)
    assert.matches("prod", err)
    code, _, err = run(tmp, { "--filename", tmp .. "/x.yaml" })
    assert.equal(2, code)
    assert.matches("missing required", err)
    code, _, err = run(tmp, { "--env", "uat" })
    assert.equal(2, code)
    assert.matches("filename", err)
    assert.is_false(fs.exists(tmp .. "/x.yaml"))
  end)

  it("reports an unwritable path with exit 1", function()
    local code, _, err = run(tmp, { "--env", "uat", "--filename", tmp .. "/no/such/dir/c.yaml" })
    assert.equal(1, code)
    assert.matches("^gfhost: Error: fs%.", err)
  end)
end)
