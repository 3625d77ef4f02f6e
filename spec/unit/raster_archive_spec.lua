-- gf.raster.list / extract / archive_path: rasters inside .tgz archives through GDAL's /vsitar/
-- (the VIIRS job's tiles), on a real GeoTIFF (r-cran-terra's elev.tif, spec/support/testdata.sh).
local fs = require("gf.fs")
local paths = require("spec.support.paths")

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>/dev/null"))
  local out = p:read("a")
  p:close()
  return out
end

describe("gf.raster archives", function()
  if require("spec.support.features").skip_unless(_ENV, "raster") then return end
  local raster = require("gf.raster")
  local dir, elev, tgz

  setup(function()
    local data = sh("sh '" .. paths.root .. "/spec/support/testdata.sh'"):match("[^\n]+")
    elev = data .. "/terra/elev.tif"
    dir = paths.tmpdir()
    assert(fs.mkdir_p(dir .. "/in/sub"))
    assert(fs.copy(elev, dir .. "/in/a.avg_rade9h.tif"))
    assert(fs.copy(elev, dir .. "/in/sub/b.tif"))
    assert(fs.write(dir .. "/in/README", "x"))
    tgz = dir .. "/tile.tgz"
    assert(os.execute(("tar -czf '%s' -C '%s/in' a.avg_rade9h.tif sub README"):format(tgz, dir)))
  end)
  teardown(function() fs.remove_tree(dir) end)

  it("maps archive names to /vsitar/ and /vsizip/", function()
    assert.equal("/vsitar//d/x.tgz", raster.archive_path("/d/x.tgz"))
    assert.equal("/vsitar//d/x.TAR.GZ", raster.archive_path("file:///d/x.TAR.GZ"))
    assert.equal("/vsizip//d/x.zip", raster.archive_path("/d/x.zip"))
    assert.equal("/vsitar//vsis3/b/x.tgz", raster.archive_path("s3://b/x.tgz"))
    assert.equal("/vsitar//d/x.tgz", raster.archive_path("/vsitar//d/x.tgz"))
    assert.equal("/d/x.tif", raster.archive_path("/d/x.tif"))
  end)

  it("lists the files of a .tgz without extracting it, and writes nothing beside it", function()
    local list = assert(raster.list(tgz))
    table.sort(list, function(a, b) return a.name < b.name end)
    local size = fs.stat(elev).size
    assert.same({ { name = "README", size = 1 }, { name = "a.avg_rade9h.tif", size = size },
      { name = "sub/b.tif", size = size } }, list)
    assert.same({ "in", "tile.tgz" }, fs.list(dir)) -- no tile.tgz.properties
    local d = assert(raster.list(dir .. "/in"))
    assert.equal(3, #d)
  end)

  it("reads statistics inside the archive identical to the file's", function()
    local zones = '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"z":"a"},'
      .. '"geometry":{"type":"Polygon","coordinates":[[[5.9,49.6],[6.3,49.6],[6.3,50.0],[5.9,49.6]]]}}]}'
    local inside = assert(raster.zonal_stats(raster.archive_path(tgz) .. "/a.avg_rade9h.tif", zones))
    local plain = assert(raster.zonal_stats(elev, zones))
    assert.is_true(inside[1].count > 100)
    assert.same(plain, inside)
  end)

  it("summarises many zones in one pass exactly as one call per zone does", function()
    -- overlapping, nested, disjoint, outside and out-of-order zones over elev.tif (5.74..6.53 E,
    -- 49.44..50.19 N): the single pass must give each zone the same pixels in the same order
    local polys = {
      { { 5.8, 49.5 }, { 6.4, 49.5 }, { 6.4, 50.1 }, { 5.8, 49.5 } },
      { { 6.0, 49.9 }, { 6.2, 49.9 }, { 6.2, 50.15 }, { 6.0, 50.15 }, { 6.0, 49.9 } },
      { { 5.9, 49.45 }, { 6.5, 49.45 }, { 6.5, 49.55 }, { 5.9, 49.45 } },
      { { 7.5, 49.5 }, { 7.6, 49.5 }, { 7.6, 49.6 }, { 7.5, 49.5 } },
      { { 5.7, 49.4 }, { 6.6, 49.4 }, { 6.6, 50.2 }, { 5.7, 50.2 }, { 5.7, 49.4 } },
      { { 6.1, 49.7 }, { 6.11, 49.7 }, { 6.11, 49.71 }, { 6.1, 49.7 } },
    }
    local json = require("gf.json")
    local function fc(list)
      local f = {}
      for i, ring in ipairs(list) do
        f[#f + 1] = { type = "Feature", properties = { z = i }, geometry = { type = "Polygon", coordinates = { ring } } }
      end
      return json.encode({ type = "FeatureCollection", features = f })
    end
    local src = raster.archive_path(tgz) .. "/a.avg_rade9h.tif"
    local all = assert(raster.zonal_stats(src, fc(polys), { nodata = "raster" }))
    assert.equal(#polys, #all)
    for i, ring in ipairs(polys) do
      local one = assert(raster.zonal_stats(src, fc({ ring }), { nodata = "raster" }))[1]
      one.fid, all[i].fid = nil, nil
      one.properties.z = i
      assert.same(one, all[i])
    end
    assert.equal(0, all[4].count)
    assert.is_true(all[5].count > all[1].count)
  end)

  it("extracts one member byte for byte, atomically", function()
    local out = dir .. "/b.tif"
    local r = assert(raster.extract(raster.archive_path(tgz) .. "/sub/b.tif", out))
    assert.equal(out, r.path)
    assert.equal(fs.sha256(elev), fs.sha256(out))
    local ok, err, code = raster.extract(raster.archive_path(tgz) .. "/missing.tif", dir .. "/m.tif")
    assert.is_nil(ok)
    assert.matches("raster%.extract /vsitar/.*missing%.tif: cannot open it", err)
    assert.equal("gdal", code)
    assert.is_false(fs.exists(dir .. "/m.tif"))
  end)

  it("names a corrupt, truncated or missing archive", function()
    assert(fs.write(dir .. "/bad.tgz", "this is not gzip"))
    local r, err, code = raster.list(dir .. "/bad.tgz")
    assert.is_nil(r)
    assert.matches("raster%.list /vsitar/" .. dir:gsub("%p", "%%%0") .. "/bad%.tgz: cannot read it", err)
    assert.equal("gdal", code)
    assert.matches("cannot read it", select(2, raster.list(dir .. "/none.tgz")))
    -- truncated inside the first member: listed (the header survived), unreadable when read
    local bytes = assert(fs.read(tgz))
    assert(fs.write(dir .. "/cut.tgz", bytes:sub(1, 3000)))
    local zr, zerr = raster.zonal_stats(raster.archive_path(dir .. "/cut.tgz") .. "/a.avg_rade9h.tif",
      '{"type":"FeatureCollection","features":[]}')
    assert.is_nil(zr)
    assert.matches("cut%.tgz", zerr)
    local xr, xerr = raster.extract(raster.archive_path(dir .. "/cut.tgz") .. "/a.avg_rade9h.tif", dir .. "/c.tif")
    assert.is_nil(xr)
    assert.matches("cut%.tgz", xerr)
    assert.is_false(fs.exists(dir .. "/c.tif"))
  end)

  it("refuses misuse", function()
    assert.has_error(function() raster.list(nil) end)
    assert.has_error(function() raster.extract("a", nil) end)
  end)
end)
