-- scripts/demo.lua end to end: CSV + YAML in, one JSON per station out; bad input refused.
local paths = require("spec.support.paths")
local run = require("spec.support.run")
local fs = require("gf.fs")
local json = require("gf.json")

describe("demo script #unit", function()
  local dir
  before_each(function() dir = paths.tmpdir() end)
  after_each(function() fs.remove_tree(dir) end)

  local csv_path = paths.root .. "/config/demo/stations.csv"
  local yaml_path = paths.root .. "/config/demo/demo.yaml"

  it("writes one JSON file per station and a summary", function()
    local r = run.gfhost({ "run", "demo", "--input", csv_path, "--config", yaml_path, "--out", dir })
    assert.equal(0, r.code, r.stderr)
    assert.equal("demo: 12 stations x 12 months -> " .. dir .. " (0 failed)\n", r.stdout)
    local files = fs.list(dir)
    assert.equal(13, #files)
    local yvr = json.decode(fs.read(dir .. "/CYVR.json"))
    assert.equal("Vancouver Intl", yvr.name)
    assert.equal(12, #yvr.months)
    assert.equal("2026-06-15", yvr.months[6].date)
    -- Vancouver (49.2 N): about 16 h of daylight in mid-June, about 8.6 h in mid-January.
    assert.is_true(math.abs(yvr.months[6].day_length_h - 16.1) < 0.3, yvr.months[6].day_length_h)
    assert.is_true(math.abs(yvr.months[1].day_length_h - 8.6) < 0.3, yvr.months[1].day_length_h)
    local summary = json.decode(fs.read(dir .. "/summary.json"))
    assert.equal(12, #summary.stations)
    assert.equal(0, #summary.failed)
    assert.is_nil(fs.stat(dir .. "/CYVR.json.tmp"))
  end)

  it("names a missing input file and exits non-zero", function()
    local r = run.gfhost({ "run", "demo", "--input", dir .. "/nope.csv", "--config", yaml_path, "--out", dir .. "/o" })
    assert.is_true(r.code ~= 0)
    assert.matches("nope%.csv", r.stderr)
  end)

  it("reports a malformed YAML file with its line", function()
    assert(fs.write(dir .. "/bad.yaml", "span: [202601\n"))
    local r = run.gfhost({ "run", "demo", "--input", csv_path, "--config", dir .. "/bad.yaml", "--out", dir .. "/o" })
    assert.equal(1, r.code)
    assert.matches("bad%.yaml:%d+:%d+:", r.stderr)
  end)

  it("reports a ragged CSV row with its line number", function()
    assert(fs.write(dir .. "/bad.csv", "station,name,lon,lat,elevation_m\nA,a,1,2,3\nB,b,1\n"))
    local r = run.gfhost({ "run", "demo", "--input", dir .. "/bad.csv", "--config", yaml_path, "--out", dir .. "/o" })
    assert.is_true(r.code ~= 0)
    assert.matches("bad%.csv:3", r.stderr)
  end)

  it("exits 2 when a required option is missing", function()
    local r = run.gfhost({ "run", "demo", "--input", csv_path })
    assert.equal(2, r.code)
    assert.matches("%-%-config", r.stderr)
  end)
end)
