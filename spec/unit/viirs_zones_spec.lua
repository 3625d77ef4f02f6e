-- viirs.zones and viirs.summary: the shipped SEZ zones, merged zone collections, the summary
-- table and the gnuplot chart.
local zones = require("viirs.zones")
local summary = require("viirs.summary")
local json = require("gf.json")
local fs = require("gf.fs")
local host = require("gf.host")
local paths = require("spec.support.paths")

describe("viirs.zones", function()
  it("ships the nine SEZ zones of the original, named as its files, marked as stand-ins", function()
    local z = assert(zones.load(host.root() .. "/config/viirs/zones"))
    local got = {}
    for _, zone in ipairs(z) do
      got[#got + 1] = zone.name
      assert.equal("Polygon", zone.feature.geometry.type)
      assert.is_true(zone.feature.properties.stand_in)
      assert.is_string(zone.feature.properties.site)
      assert.is_string(zone.feature.properties.country)
    end
    assert.same({ "Ahti_River_EPZ", "Bole_Lemi_I_IDZ", "Bonaberi-Doula_IZ", "Coega_IDZ", "Hawassa_IDZ",
      "Hoa_Khanh_IZ", "Linh_Trung_I_EPZ", "Pinthong_GIZ", "Puerto_Chiapas_SEZ" }, got)
  end)

  it("merges every zone into one FeatureCollection tagged with the zone's name", function()
    local z = assert(zones.load(host.root() .. "/config/viirs/zones"))
    local groups = zones.groups(z)
    assert.equal(1, #groups)
    local fc = assert(json.decode(groups[1]))
    assert.equal(9, #fc.features)
    assert.equal("Ahti_River_EPZ", fc.features[1].properties.gfhost_zone)
    assert.equal("Kenya", fc.features[1].properties.country)
  end)

  it("names a zone file that is not a polygon", function()
    local d = paths.tmpdir()
    assert(fs.write(d .. "/Good.geojson", '{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}'))
    assert(fs.write(d .. "/Bad.geojson", '{"type":"Point","coordinates":[0,0]}'))
    local z, err, code = zones.load(d)
    assert.is_nil(z)
    assert.matches("zone " .. d:gsub("%p", "%%%0") .. "/Bad%.geojson: expected a GeoJSON Polygon", err)
    assert.equal("invalid_input", code)
    assert(fs.write(d .. "/Bad.geojson", "{oops"))
    assert.matches("Bad%.geojson: expected a GeoJSON Polygon or MultiPolygon feature %(", select(2, zones.load(d)))
    fs.remove_tree(d)
    assert.matches("no such file", select(2, zones.load(d)):lower())
  end)
end)

describe("viirs.summary", function()
  local rows = {
    { zone = "A", month = "201201", tile = "00N060E", raster = "radiance", mean = 2, count = 3, min = 1, max = 3, stddev = 0.5, skew = 0 },
    { zone = "A", month = "201201", tile = "00N060W", raster = "radiance", mean = 6, count = 1, min = 6, max = 6, stddev = 0, skew = 0 },
    { zone = "A", month = "201201", tile = "00N060W", raster = "coverage", mean = 99, count = 1, min = 99, max = 99, stddev = 0, skew = 0 },
    { zone = "A", month = "201202", tile = "00N060E", raster = "radiance", count = 0 },
    { zone = "B", month = "201202", tile = "00N060E", raster = "radiance", mean = 1.5, count = 2, min = 1, max = 2, stddev = 0.5, skew = 0 },
  }

  it("weights a zone's monthly mean by the pixels of each tile, radiance only", function()
    local s = summary.series(rows)
    assert.same({ "A", "B" }, s.zones)
    assert.same({ "201201", "201202" }, s.months)
    assert.equal(3, s.mean.A["201201"]) -- (2*3 + 6*1) / 4
    assert.is_nil(s.mean.A["201202"])   -- no pixels
    assert.equal(1.5, s.mean.B["201202"])
  end)

  it("writes the zone x month x tile table with the six statistics", function()
    local p = os.tmpname()
    assert(summary.write_csv(p, rows))
    local text = fs.read(p)
    os.remove(p)
    local lines = {}
    for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal("zone,month,tile,raster,min,max,mean,stddev,skew,count", lines[1])
    assert.equal("A,201201,00N060E,radiance,1,3,2,0.5,0,3", lines[2])
    assert.equal("A,201202,00N060E,radiance,,,,,,0", lines[5])
    assert.equal(6, #lines)
  end)

  it("draws the chart with gnuplot (PNG and SVG)", function()
    if not os.execute("command -v gnuplot >/dev/null 2>&1") then
      pending("gnuplot not installed (Debian gnuplot-nox)")
      return
    end
    local d = paths.tmpdir()
    assert(summary.plot(d .. "/trend.png", rows, { title = "t" }))
    assert.equal("\137PNG", fs.read(d .. "/trend.png"):sub(1, 4))
    assert(summary.plot(d .. "/trend.svg", rows))
    local svg = fs.read(d .. "/trend.svg")
    assert.matches("<svg", svg)
    assert.matches(">A<", svg)
    assert.same({ "trend.png", "trend.svg" }, fs.list(d)) -- no temporary files left
    local ok, err, code = summary.plot(d .. "/trend.pdf", rows)
    assert.is_nil(ok)
    assert.matches("%.png or %.svg", err)
    assert.equal("invalid_input", code)
    fs.remove_tree(d)
  end)
end)
