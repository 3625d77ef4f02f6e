-- gf.raster on real GeoTIFFs from Debian's r-cran-terra / r-cran-stars (fetched by
-- spec/support/testdata.sh), checked against GDAL's own command-line tools.
local paths = require("spec.support.paths")

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>/dev/null"))
  local out = p:read("a")
  p:close()
  return out
end

local function data_dir()
  local out = sh("sh '" .. paths.root .. "/spec/support/testdata.sh'")
  return (out:match("([^\n]+)\n?$"))
end

-- Per-band checksums as gdalinfo prints them: independent of the file layout.
local function checksums(path)
  local sums = {}
  for c in sh("gdalinfo -checksum '" .. path .. "'"):gmatch("Checksum=(%d+)") do
    sums[#sums + 1] = tonumber(c)
  end
  return sums
end

-- Every pixel of band 1 via gdal_translate -of AAIGrid (an independent reader).
local function pixels(path)
  local t = sh("gdal_translate -q -of AAIGrid '" .. path .. "' /vsistdout/")
  local vals, nodata = {}, nil
  for line in t:gmatch("[^\n]+") do
    local k, v = line:match("^(%a[%w_]*)%s+(%S+)")
    if k then
      if k:lower() == "nodata_value" then nodata = tonumber(v) end
    else
      for n in line:gmatch("%S+") do vals[#vals + 1] = tonumber(n) end
    end
  end
  return vals, nodata
end

local function moments(vals, skip)
  local n, sum = 0, 0
  for _, v in ipairs(vals) do if not skip(v) then n = n + 1; sum = sum + v end end
  local mean, m2, m3 = sum / n, 0, 0
  for _, v in ipairs(vals) do
    if not skip(v) then local d = v - mean; m2 = m2 + d * d; m3 = m3 + d * d * d end
  end
  m2, m3 = m2 / n, m3 / n
  return { count = n, mean = mean, stddev = math.sqrt(m2), skew = m3 / m2 ^ 1.5 }
end

local function near(a, b, tol)
  return math.abs(a - b) <= (tol or 1e-9) * math.max(1, math.abs(b))
end

describe("gf.raster #unit", function()
  if require("spec.support.features").skip_unless(_ENV, "raster") then return end
  local raster = require("gf.raster")
  local task = require("gf.task")
  local data, tmp, elev, l7
  setup(function()
    data = data_dir()
    tmp = paths.tmpdir()
    elev = data .. "/terra/elev.tif"
    l7 = data .. "/stars/L7_ETMs.tif"
  end)
  teardown(function() os.execute("rm -rf '" .. tmp .. "'") end)

  describe("loading", function()
    it("keeps libgdal out of the executable and loads it on first require", function()
      local ldd = sh("ldd '" .. paths.gfhost .. "'")
      assert.is_nil(ldd:find("libgdal", 1, true))
      local script = tmp .. "/lazy.lua"
      local f = assert(io.open(script, "w"))
      f:write([[
local function loaded()
  local m = io.open("/proc/self/maps"):read("a")
  return m:find("libgdal", 1, true) ~= nil
end
io.write(tostring(loaded()), " ")
require("gf.raster")
io.write(tostring(loaded()))
]])
      f:close()
      assert.equal("false true", sh("'" .. paths.gfhost .. "' run '" .. script .. "'"))
    end)

    it("reports the GDAL configuration it uses", function()
      local c = raster.config()
      assert.is_false(c.normalize_units)
      assert.is_true(c.cache_mb > 0)
    end)
  end)

  describe("paths and credentials", function()
    it("maps URLs to GDAL paths", function()
      assert.equal("/vsis3/bucket/a/b.tif", raster.gdal_path("s3://bucket/a/b.tif"))
      assert.equal("/vsicurl/https://h/x.tif", raster.gdal_path("https://h/x.tif"))
      assert.equal("/vsicurl/http://h/x.tif", raster.gdal_path("http://h/x.tif"))
      assert.equal("/tmp/x.tif", raster.gdal_path("file:///tmp/x.tif"))
      assert.equal("rel/x.tif", raster.gdal_path("rel/x.tif"))
      assert.has_error(function() raster.gdal_path(1) end)
    end)

    it("turns gfhost credentials and endpoint into per-job GDAL options", function()
      assert.same({
        AWS_ACCESS_KEY_ID = "AK", AWS_SECRET_ACCESS_KEY = "SK", AWS_SESSION_TOKEN = "T",
        AWS_NO_SIGN_REQUEST = "NO", AWS_S3_ENDPOINT = "127.0.0.1:4568", AWS_HTTPS = "NO",
        AWS_VIRTUAL_HOSTING = "FALSE", AWS_REGION = "us-west-2", AWS_DEFAULT_REGION = "us-west-2",
      }, raster.gdal_config({
        credentials = { access_key_id = "AK", secret_access_key = "SK", session_token = "T" },
        endpoint = "http://127.0.0.1:4568", region = "us-west-2" }))
      assert.same({ AWS_S3_ENDPOINT = "s3.example.org", AWS_HTTPS = "YES", AWS_VIRTUAL_HOSTING = "FALSE",
        CPL_VSIL_USE_TEMP_FILE_FOR_RANDOM_WRITE = "YES" },
        raster.gdal_config({ endpoint = "https://s3.example.org/" }, true))
      assert.same({}, raster.gdal_config(nil))
      assert.has_error(function() raster.gdal_config({ credentials = { access_key_id = "A" } }) end)
      assert.has_error(function() raster.gdal_config({ endpoint = "ftp://x/y" }) end)
      assert.has_error(function() raster.gdal_config("x") end)
    end)

    it("names s3:// URLs, not GDAL paths, in errors", function()
      local r, msg, code = raster.info("s3://no-such-bucket/x.tif",
        { aws = { endpoint = "http://127.0.0.1:9", credentials = { access_key_id = "a", secret_access_key = "b" } } })
      assert.is_nil(r)
      assert.equal("gdal", code)
      assert.truthy(msg:find("^raster%.info s3://no%-such%-bucket/x%.tif: "))
      assert.is_nil(msg:find("/vsis3/", 1, true))
    end)
  end)

  describe("info", function()
    it("describes a real GeoTIFF", function()
      local i = assert(raster.info(elev))
      assert.equal("GTiff", i.driver)
      assert.same({ 95, 90, 1 }, { i.width, i.height, i.band_count })
      assert.equal(4326, i.crs.epsg)
      assert.is_true(i.crs.geographic)
      assert.truthy(i.crs.wkt:find("WGS 84", 1, true))
      assert.equal(6, #i.geotransform)
      assert.equal("Int16", i.bands[1].type)
      assert.equal(-32768, i.bands[1].nodata)
      local s = assert(raster.info(l7))
      assert.equal(6, s.band_count)
      assert.equal(31985, s.crs.epsg)
    end)
  end)

  describe("to_cog", function()
    it("builds the gdal_translate arguments", function()
      assert.same({ "-of", "COG", "-co", "COMPRESS=LZW", "-co", "BLOCKSIZE=512" }, raster.cog_argv({}))
      assert.same({ "-of", "COG", "-co", "COMPRESS=DEFLATE", "-co", "LEVEL=9", "-co", "BLOCKSIZE=256",
        "-co", "OVERVIEWS=AUTO", "-co", "OVERVIEW_RESAMPLING=AVERAGE", "-co", "PREDICTOR=YES",
        "-a_nodata", "0" }, raster.cog_argv({ compress = "deflate", level = 9, blocksize = 256,
        overviews = "auto", resampling = "average", predictor = true, nodata = 0 }))
      assert.has_error(function() raster.cog_argv({ compress = "LZMA2" }) end)
      assert.has_error(function() raster.cog_argv({ blocksize = 100 }) end)
    end)

    it("writes a valid COG with the same pixels as gdal_translate", function()
      local out = tmp .. "/l7_cog.tif"
      assert.same({ path = out }, raster.to_cog(l7, out, { blocksize = 128 }))
      local i = assert(raster.info(out))
      assert.is_true(raster.is_cog(i))
      assert.equal("LZW", i.image_structure.COMPRESSION)
      assert.same({ 128, 128 }, i.bands[1].block)
      assert.same({ { 175, 176 }, { 88, 88 }, { 44, 44 }, { 22, 22 } }, i.bands[1].overviews)
      sh("gdal_translate -q -of COG -co COMPRESS=LZW -co BLOCKSIZE=128 '" .. l7 .. "' '" .. tmp .. "/l7_ref.tif'")
      local ours, ref = checksums(out), checksums(tmp .. "/l7_ref.tif")
      assert.equal(6, #ref)
      assert.same(ref, ours)
      local validator = "/usr/share/doc/python3-gdal/examples/validate_cloud_optimized_geotiff.py"
      if io.open(validator) and sh("/usr/bin/python3 -c 'import osgeo' && echo ok") == "ok\n" then
        assert.truthy(sh("/usr/bin/python3 " .. validator .. " '" .. out .. "'; echo rc=$?"):find("rc=0", 1, true))
      end
      assert.is_false(raster.is_cog(assert(raster.info(l7))))
    end)

    it("honours compression, predictor and nodata", function()
      local out = tmp .. "/elev_cog.tif"
      assert(raster.to_cog(elev, out, { compress = "ZSTD", predictor = true, nodata = -1 }))
      local i = assert(raster.info(out))
      assert.is_true(raster.is_cog(i))
      assert.equal("ZSTD", i.image_structure.COMPRESSION)
      assert.equal("2", i.image_structure.PREDICTOR)
      assert.equal(-1, i.bands[1].nodata)
    end)
  end)

  describe("preview", function()
    it("applies the CHTC band rule: 6 bands become bands 1,2,3 as gdal_translate does", function()
      local out = tmp .. "/l7.jpg"
      local r = assert(raster.preview(l7, out))
      assert.equal(out, r.path)
      assert.same({ "-of", "JPEG", "-b", "1", "-b", "2", "-b", "3", "-co", "QUALITY=75" }, r.argv)
      sh("gdal_translate -q -of JPEG -co QUALITY=75 -b 1 -b 2 -b 3 '" .. l7 .. "' '" .. tmp .. "/l7_ref.jpg'")
      assert.same(checksums(tmp .. "/l7_ref.jpg"), checksums(out))
      assert.is_nil(io.open(out .. ".aux.xml")) -- no side-car files
    end)

    it("scales non-Byte data from the exact min..max to 0..255", function()
      local out = tmp .. "/elev.png"
      local r = assert(raster.preview(elev, out))
      assert.same({ "-of", "PNG", "-b", "1", "-ot", "Byte", "-scale_1", "141", "547", "0", "255" }, r.argv)
      sh("gdal_translate -q -of PNG -ot Byte -scale 141 547 0 255 '" .. elev .. "' '" .. tmp .. "/elev_ref.png'")
      assert.same(checksums(tmp .. "/elev_ref.png"), checksums(out))
      local i = assert(raster.info(out))
      assert.same({ "PNG", 95, 90, "Byte" }, { i.driver, i.width, i.height, i.bands[1].type })
    end)

    it("limits the size", function()
      local out = tmp .. "/small.jpg"
      assert(raster.preview(l7, out, { max_size = 100, quality = 50 }))
      local i = assert(raster.info(out))
      assert.same({ 99, 100, 3 }, { i.width, i.height, i.band_count })
      assert.has_error(function() raster.preview(l7, out, { quality = 0 }) end)
      assert.has_error(function() raster.preview(l7, out, { format = "GIF" }) end)
    end)
  end)

  describe("warp", function()
    it("reprojects to a target CRS and resolution", function()
      local out = tmp .. "/l7_4326.tif"
      assert(raster.warp(l7, out, { crs = "EPSG:4326", resolution = 0.001, resampling = "bilinear" }))
      local i = assert(raster.info(out))
      assert.equal(4326, i.crs.epsg)
      assert.equal(0.001, i.geotransform[2])
      assert.equal(6, i.band_count)
      assert.same({ "-of", "GTiff", "-ts", "10", "20" }, raster.warp_argv({ size = { 10, 20 } }))
      assert.has_error(function() raster.warp(l7, out, { size = { 1, 1 }, resolution = 1 }) end)
    end)
  end)

  describe("stats", function()
    it("matches an independent computation, honouring nodata", function()
      local vals, nodata = pixels(elev)
      assert.equal(95 * 90, #vals)
      local want = moments(vals, function(v) return v == nodata end)
      local s = assert(raster.stats(elev))
      assert.equal(1, #s)
      assert.equal(want.count, s[1].count)
      assert.equal(141, s[1].min)
      assert.equal(547, s[1].max)
      assert.is_true(near(s[1].mean, want.mean))
      assert.is_true(near(s[1].stddev, want.stddev))
      assert.is_true(near(s[1].skew, want.skew, 1e-7))
      assert.equal(-32768, s[1].nodata)
      local all = assert(raster.stats(elev, { nodata = false }))
      assert.equal(95 * 90, all[1].count)
      assert.equal(-32768, all[1].min)
    end)

    it("gives every band of a multi-band image", function()
      local s = assert(raster.stats(l7))
      assert.equal(6, #s)
      for b = 1, 6 do assert.equal(349 * 352, s[b].count) end
      local one = assert(raster.stats(l7, { band = 3 }))
      assert.same(s[3], one[1])
    end)
  end)

  describe("zonal_stats", function()
    -- A box over pixel centres: columns 10..19, rows 20..29 of elev.tif.
    local function box(x0, y0, x1, y1, crs)
      return string.format('{"type":"FeatureCollection",%s"features":[{"type":"Feature",' ..
        '"properties":{"site":"box","id":7},"geometry":{"type":"Polygon","coordinates":' ..
        '[[[%.10f,%.10f],[%.10f,%.10f],[%.10f,%.10f],[%.10f,%.10f],[%.10f,%.10f]]]}}]}',
        crs and ('"crs":{"type":"name","properties":{"name":"' .. crs .. '"}},') or "",
        x0, y0, x1, y0, x1, y1, x0, y1, x0, y0)
    end

    it("gives the VIIRS fields per feature, equal to an independent count", function()
      local i = assert(raster.info(elev))
      local gt = i.geotransform
      local x0, x1 = gt[1] + 10 * gt[2], gt[1] + 20 * gt[2]
      local y0, y1 = gt[4] + 30 * gt[6], gt[4] + 20 * gt[6]
      local vals, nodata = pixels(elev)
      local sel = {}
      for row = 20, 29 do
        for col = 10, 19 do sel[#sel + 1] = vals[row * 95 + col + 1] end
      end
      -- nodata 0 (the VIIRS rule) replaces the file's nodata; "raster" uses the file's
      local z0 = assert(raster.zonal_stats(elev, box(x0, y0, x1, y1)))
      local want0 = moments(sel, function(v) return v == 0 end)
      assert.same({ 100, want0.count, -32768 }, { #sel, z0[1].count, z0[1].min })
      local want = moments(sel, function(v) return v == nodata end)
      assert.equal(95, want.count)
      local z = assert(raster.zonal_stats(elev, box(x0, y0, x1, y1), { nodata = "raster" }))
      assert.equal(1, #z)
      assert.same({ site = "box", id = 7 }, z[1].properties)
      assert.equal(want.count, z[1].count)
      assert.is_true(near(z[1].mean, want.mean))
      assert.is_true(near(z[1].stddev, want.stddev))
      assert.is_true(near(z[1].skew, want.skew, 1e-7))

      -- the same zone given in Web Mercator is reprojected to the raster's CRS
      local function merc(lon, lat)
        local R = 6378137
        return R * math.rad(lon), R * math.log(math.tan(math.pi / 4 + math.rad(lat) / 2))
      end
      local mx0, my0 = merc(x0 + 0.1 * gt[2], y0 - 0.1 * gt[6])
      local mx1, my1 = merc(x1 - 0.1 * gt[2], y1 + 0.1 * gt[6])
      local zm = assert(raster.zonal_stats(elev, box(mx0, my0, mx1, my1, "EPSG:3857"), { nodata = -32768 }))
      assert.equal(want.count, zm[1].count)
      assert.is_true(near(zm[1].mean, want.mean))
    end)

    it("reads zones from a file and reports an empty zone with count 0", function()
      local path = tmp .. "/far.geojson"
      local f = assert(io.open(path, "w"))
      f:write(box(100, 10, 101, 11))
      f:close()
      local z = assert(raster.zonal_stats(elev, path))
      assert.same({ { fid = 7, properties = { site = "box", id = 7 }, count = 0 } }, z)
    end)

    it("rejects bad zones", function()
      local r, msg, code = raster.zonal_stats(elev, "{not json")
      assert.is_nil(r)
      assert.equal("gdal", code)
      assert.truthy(msg:find("^raster%.zonal_stats "))
      assert.has_error(function() raster.zonal_stats(elev, 42) end)
      assert.has_error(function() raster.zonal_stats(elev, box(0, 0, 1, 1), { nodata = "x" }) end)
    end)
  end)

  describe("footprint", function()
    it("outlines the valid data as a simplified GeoJSON polygon in EPSG:4326", function()
      local fp = assert(raster.footprint(elev))
      assert.equal("EPSG:4326", fp.crs)
      assert.truthy(fp.geojson:find('"type": "[Multi]*Polygon"'))
      local i = assert(raster.info(elev))
      local gt = i.geotransform
      for lon, lat in fp.geojson:gmatch("%[ (%-?[%d.]+), (%-?[%d.]+) %]") do
        lon, lat = tonumber(lon), tonumber(lat)
        assert.is_true(lon >= gt[1] - 1e-9 and lon <= gt[1] + 95 * gt[2] + 1e-9)
        assert.is_true(lat <= gt[4] + 1e-9 and lat >= gt[4] + 90 * gt[6] - 1e-9)
      end
    end)

    it("reports a raster without valid pixels", function()
      local r, msg, code = raster.footprint(elev, { nodata = false, max_size = 10, band = 1, tolerance = 0 })
      assert.truthy(r) -- everything valid: the whole extent
      r, msg, code = raster.footprint(data .. "/stars/na.tif")
      if r == nil then
        assert.equal("invalid_input", code)
        assert.truthy(msg:find("no valid data$"))
      end
    end)
  end)

  describe("bad input", function()
    local function write(name, bytes)
      return require("spec.support.files").write(tmp .. "/" .. name, bytes)
    end

    it("returns nil, message, 'gdal' for empty, non-raster and missing files", function()
      local empty = write("empty.tif", "")
      assert.same({ nil, "raster.info " .. empty .. ": `" .. empty ..
        "' not recognized as a supported file format.", "gdal" }, { raster.info(empty) })
      local text = write("text.tif", "hello, not a tiff\n")
      assert.same({ nil, "raster.stats " .. text .. ": `" .. text ..
        "' not recognized as a supported file format.", "gdal" }, { raster.stats(text) })
      local missing = tmp .. "/missing.tif"
      assert.same({ nil, "raster.to_cog " .. missing .. ": " .. missing ..
        ": No such file or directory", "gdal" }, { raster.to_cog(missing, tmp .. "/o.tif") })
    end)

    it("fails cleanly on a truncated TIFF and leaves no partial output", function()
      local whole = assert(io.open(l7, "rb")):read("a")
      local cut = write("cut.tif", whole:sub(1, #whole // 3))
      local r, msg, code = raster.to_cog(cut, tmp .. "/cut_cog.tif")
      assert.is_nil(r)
      assert.equal("gdal", code)
      assert.truthy(msg:find("^raster%.to_cog " .. cut:gsub("%p", "%%%0") .. ": "))
      assert.is_nil(io.open(tmp .. "/cut_cog.tif"))
      assert.equal("", sh("ls '" .. tmp .. "' | grep gftmp"))
      r, msg, code = raster.stats(cut)
      assert.same({ nil, "gdal" }, { r, code })
      local junk = write("junk.tif", "II*\0" .. string.rep("\255", 200))
      r, msg, code = raster.info(junk)
      assert.same({ nil, "gdal" }, { r, code })
    end)

    it("raises on wrong argument types", function()
      assert.has_error(function() raster.info(nil) end)
      assert.has_error(function() raster.info(elev, "x") end)
      assert.has_error(function() raster.to_cog(elev, 5) end)
      assert.has_error(function() raster.stats(elev, { band = "x" }) end)
      assert.has_error(function() raster.preview(elev, tmp .. "/x.jpg", { bands = { 1, 2, 3, 4 } }) end)
      assert.has_error(function() raster.configure({ cache_mb = 64 }) end) -- already set up
    end)
  end)

  describe("concurrency", function()
    it("converts on the worker pool while the event loop stays free", function()
      local ticks, done = 0, false
      local ticker = task.spawn(function()
        while not done do ticks = ticks + 1; task.sleep(0.001) end
      end)
      local items = {}
      for k = 1, 6 do items[k] = k end
      local results, failures = task.map(items, function(k)
        local out = tmp .. "/par" .. k .. ".tif"
        assert(raster.to_cog(l7, out, { compress = "DEFLATE", level = 9 }))
        assert(raster.preview(out, tmp .. "/par" .. k .. ".jpg"))
        return checksums(out)[1]
      end, { concurrency = 4 })
      done = true
      task.wait(ticker)
      assert.same({}, failures)
      for k = 2, 6 do assert.equal(results[1], results[k]) end
      assert.is_true(ticks > 3)
    end)
  end)
end)
