-- gf.grib on real GRIB files (Debian's python-grib-doc: GFS, CMC, ECMWF...) and on ecCodes
-- templates filled with varying fields by grib_filter; values at points are checked against
-- ecCodes' own nearest-point answer (grib_get/grib_ls -l LAT,LON,1), an independent decoder.
local paths = require("spec.support.paths")

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>/dev/null"))
  local out = p:read("a")
  p:close()
  return out
end

local function q(s) return "'" .. s .. "'" end

-- ecCodes' nearest value per field at lat/lon, in file order, and the grid point chosen.
local function eccodes_nearest(file, lat, lon)
  local vals = {}
  for off, v in sh(string.format("grib_get -F %%.10g -l %.6f,%.6f,1 -p offset:i %s", lat, lon, q(file))):gmatch("(%d+)%s+(%S+)") do
    vals[#vals + 1] = tonumber(v)
  end
  local chosen = sh(string.format("grib_ls -l %.6f,%.6f,1 -p offset:i %s", lat, lon, q(file)))
  local glat, glon = chosen:match("Grid Point chosen #%d+ index=%d+ latitude=(%S+) longitude=(%S+)")
  return vals, tonumber(glat), tonumber(glon)
end

local function close(a, b)
  -- ecCodes prints nearest values with 7 significant digits
  return a ~= nil and b ~= nil and math.abs(tonumber(string.format("%.7g", a)) - b) <= 1e-6 * math.abs(b) + 1e-9
end

local function lon180(x) return (x + 180) % 360 - 180 end

-- An ecCodes sample with a varying field: v = 250 + (i % 16) + 0.5 * (i // 16) + i / 1000.
local function varying(sample, out)
  local n = tonumber(sh("grib_get -p numberOfPoints " .. q(sample)))
  local v = {}
  for i = 0, n - 1 do v[#v + 1] = string.format("%.3f", 250 + (i % 16) + 0.5 * (i // 16) + i / 1000) end
  local filter = out .. ".filter"
  local f = assert(io.open(filter, "w"))
  f:write("set values = { ", table.concat(v, ","), " };\nwrite \"", out, "\";\n")
  f:close()
  sh("grib_filter " .. q(filter) .. " " .. q(sample))
  return out
end

describe("gf.grib #unit", function()
  if require("spec.support.features").skip_unless(_ENV, "grib") then return end
  local grib = require("gf.grib")
  local task = require("gf.task")
  local data, tmp, gfs, cmc
  local samples = "/usr/share/eccodes/samples/"
  setup(function()
    local out = sh("sh " .. q(paths.root .. "/spec/support/testdata.sh"))
    data = out:match("([^\n]+)\n?$") .. "/grib/"
    tmp = paths.tmpdir()
    gfs = data .. "gfs.t12z.pgrbf120.2p5deg.grib2"
    cmc = data .. "CMC_reg_WIND_ISBL_300_ps60km_2010052400_P012.grib"
  end)
  teardown(function() os.execute("rm -rf " .. q(tmp)) end)

  describe("inventory", function()
    it("lists every field with the byte offsets ecCodes reports", function()
      local inv = assert(grib.inventory(gfs))
      assert.equal(343, #inv)
      -- 307 GRIB messages, some holding several fields (ecCodes lists each field at its
      -- message's offset)
      local offsets, count = {}, tonumber(sh("grib_count " .. q(gfs)))
      for off in sh("grib_get -p offset:i " .. q(gfs)):gmatch("(%d+)") do offsets[#offsets + 1] = tonumber(off) end
      assert.same({ 343, 307 }, { #offsets, count })
      for i, rec in ipairs(inv) do
        assert.equal(offsets[i], rec.offset)
        assert.equal(i, rec.band)
      end
      assert.same({ 1, 307 }, { inv[1].message, inv[343].message })
      assert.equal("1:0:d=2011011012:HGT:10 mb:120 hour fcst:", inv[1].line)
      local t = inv[217]
      assert.same({ "TMP", "2-HTGL", "2 m above ground", "[K]", 120, 432000, 1294660800,
        "2011-01-15T12:00:00Z" }, { t.short_name, t.level, t.level_text, t.unit, t.forecast_hours,
        t.forecast_seconds, t.ref_time, t.valid_iso })
      assert.equal("191:2457396:d=2011011012:TMP:2 m above ground:120 hour fcst:", grib.line(t))
      assert.same({ 144, 73, "regular lat/lon" }, { t.grid.nx, t.grid.ny, t.grid.type })
    end)

    it("describes polar-stereographic and rotated grids", function()
      local inv = assert(grib.inventory(cmc))
      assert.equal("polar stereographic", inv[1].grid.type)
      assert.equal(1, inv[1].edition)
      inv = assert(grib.inventory(data .. "rotated_ll.grib1"))
      assert.equal("rotated lat/lon", inv[1].grid.type)
    end)

    it("matches lines with a pattern", function()
      local m = assert(grib.match(gfs, ":TMP:2 m above ground:"))
      assert.equal(1, #m)
      assert.same({ 217, 191 }, { m[1].band, m[1].message })
      local inv = assert(grib.inventory(gfs))
      local hgt = grib.match(inv, ":HGT:")
      local n = 0
      for _, rec in ipairs(inv) do if rec.short_name == "HGT" then n = n + 1 end end
      assert.equal(n, #hgt)
      assert.is_true(n > 20)
      for _, rec in ipairs(hgt) do assert.equal("HGT", rec.short_name) end
      assert.equal(1, #grib.match(inv, "TMP:2 m above ground:120", { plain = true }))
      assert.equal(0, #grib.match(inv, "%d", { plain = true }))
      assert.equal(343, #grib.match(inv, "%d"))
      assert.has_error(function() grib.match(inv, 5) end)
    end)
  end)

  describe("values_at", function()
    it("agrees with ecCodes on every field of a real GFS file, wrapping longitudes", function()
      local pts = { { -123.1, 49.25 }, { 237.64, 49.025 }, { 179.4, 10.3 }, { -179.9, -63.1 },
        { 359.2, 0.4 }, { 12.3, 89.9 } }
      assert(grib.inventory(gfs))
      local r = assert(grib.values_at(gfs, pts))
      assert.equal(343, #r.messages)
      for i, p in ipairs(pts) do
        local want, glat, glon = eccodes_nearest(gfs, p[2], p[1])
        local got = r.points[i]
        assert.is_nil(got.outside)
        assert.is_true(math.abs(got.grid_lat - glat) < 0.006)
        assert.is_true(math.abs(lon180(got.grid_lon - glon)) < 0.006)
        for k, m in ipairs(r.messages) do
          local w = want[m.band]
          -- ecCodes' missing value; gfhost gives nil (bitmap) or GDAL's 9999 as stored
          if w == 9999 then w = nil end
          if w == nil and m.values[i] == 9999 then w = 9999 end
          if not (w == nil and m.values[i] == nil) and not close(m.values[i], w) then
            error(string.format("point %d field %d: %s vs ecCodes %s", i, k, tostring(m.values[i]), tostring(w)))
          end
        end
      end
      -- the same point as -123.1 and 236.9 gives the same answer
      local a = assert(grib.values_at(gfs, { { -123.1, 49.25 }, { 236.9, 49.25 } }, { match = ":TMP:" }))
      for _, m in ipairs(a.messages) do assert.equal(m.values[1], m.values[2]) end
    end)

    local function check_sample(file)
      local rows = {}
      for lat, lon in sh("grib_get_data " .. q(file)):gmatch("\n%s*(%-?[%d.]+)%s+(%-?[%d.]+)%s") do
        rows[#rows + 1] = { tonumber(lon), tonumber(lat) }
      end
      assert.equal(496, #rows)
      local pts = {}
      for _, k in ipairs({ 18, 40, 100, 250, 333, 470 }) do
        pts[#pts + 1] = { rows[k][1] + 0.013, rows[k][2] - 0.011 }
      end
      local r = assert(grib.values_at(file, pts))
      for i, p in ipairs(pts) do
        local want = eccodes_nearest(file, p[2], p[1])
        if not close(r.messages[1].values[i], want[1]) then
          error(string.format("%s point %d (%g, %g): %s vs ecCodes %s", cmc, i, p[1], p[2],
            tostring(r.messages[1].values[i]), tostring(want[1])))
        end
      end
      return r
    end

    it("agrees with ecCodes on regular, rotated and polar-stereographic templates", function()
      check_sample(varying(samples .. "GRIB2.tmpl", tmp .. "/ramp.grib2"))
      local rot = check_sample(varying(samples .. "rotated_ll_sfc_grib2.tmpl", tmp .. "/rot.grib2"))
      assert.equal("rotated lat/lon", assert(grib.inventory(tmp .. "/rot.grib2"))[1].grid.type)
      assert.equal(6, #rot.points)
      -- ecCodes' polar-stereographic samples carry Dx = Dy = 0: GDAL cannot place them
      local ps = varying(samples .. "polar_stereographic_sfc_grib2.tmpl", tmp .. "/ps.grib2")
      assert.same({ nil, "grib.values_at " .. ps .. ": unsupported grid: polar stereographic " ..
        "(GRIB2 template 20)", "gdal" }, { grib.values_at(ps, { { 0, 60 } }) })
    end)

    it("agrees with ecCodes on a real CMC polar-stereographic file", function()
      local pts = { { -100, 50 }, { -123.1, 49.25 }, { 237.64, 49.025 }, { -75.7, 45.4 } }
      local r = assert(grib.values_at(cmc, pts))
      for i, p in ipairs(pts) do
        local want = eccodes_nearest(cmc, p[2], p[1])
        if not close(r.messages[1].values[i], want[1]) then
          error(string.format("%s point %d (%g, %g): %s vs ecCodes %s", cmc, i, p[1], p[2],
            tostring(r.messages[1].values[i]), tostring(want[1])))
        end
      end
    end)

    it("marks points outside the grid", function()
      local r = assert(grib.values_at(cmc, { { 100, -30 }, { -100, 50 } }))
      assert.same({ lon = 100, lat = -30, outside = true }, r.points[1])
      assert.is_nil(r.messages[1].values[1])
      assert.is_number(r.messages[1].values[2])
      local lines = grib.lon_lines(r)
      assert.truthy(lines[1]:find("^1:lon=100%.000000,lat=%-30%.000000,val=undefined:lon=259%.67"))
      local n = 0
      for m, i, lon, lat, v in grib.records(r) do
        n = n + 1
        assert.equal(r.messages[1], m)
        if i == 2 then assert.equal(r.messages[1].values[2], v) end
      end
      assert.equal(2, n)
    end)

    it("keeps units as stored unless asked", function()
      local k = assert(grib.values_at(gfs, { { 0, 0 } }, { match = ":TMP:2 m above" }))
      local c = assert(grib.values_at(gfs, { { 0, 0 } }, { match = ":TMP:2 m above", normalize_units = true }))
      assert.is_true(k.messages[1].values[1] > 200)
      assert.is_true(math.abs(c.messages[1].values[1] - (k.messages[1].values[1] - 273.15)) < 1e-6)
    end)

    it("raises on bad points and options", function()
      assert.has_error(function() grib.values_at(gfs, {}) end)
      assert.has_error(function() grib.values_at(gfs, { { 0, 95 } }) end)
      assert.has_error(function() grib.values_at(gfs, { "x" }) end)
      assert.has_error(function() grib.values_at(gfs, { { 0, 0 } }, { messages = { "a" } }) end)
      assert.has_error(function() grib.values_at(nil, { { 0, 0 } }) end)
    end)
  end)

  describe("extract and stats", function()
    it("writes selected fields to CSV like wgrib2 -csv", function()
      local out = tmp .. "/t2m.csv"
      assert.same({ path = out }, grib.extract(gfs, out, { match = ":TMP:2 m above ground:" }))
      local f = assert(io.open(out))
      local first = f:read("l")
      local n = 1
      for _ in f:lines() do n = n + 1 end
      f:close()
      assert.equal(144 * 73, n)
      assert.truthy(first:find('^"2011%-01%-10 12:00:00","2011%-01%-15 12:00:00","TMP","2%-HTGL",%-180%.000000,90%.000000,'))
    end)

    it("writes selected fields to GeoTIFF with the same pixels as gdal_translate", function()
      local out = tmp .. "/t2m.tif"
      assert(grib.extract(gfs, out, { messages = { 217, 2 } }))
      sh("GRIB_NORMALIZE_UNITS=NO gdal_translate -q -b 217 -b 2 " .. q(gfs) .. " " .. q(tmp .. "/ref.tif"))
      local function sums(p)
        local s = {}
        for c in sh("gdalinfo -checksum " .. q(p)):gmatch("Checksum=(%d+)") do s[#s + 1] = c end
        return s
      end
      assert.same(sums(tmp .. "/ref.tif"), sums(out))
      assert(grib.extract(gfs, tmp .. "/t2m_cog.tif", { messages = { 217 }, format = "COG" }))
      assert.is_true(require("gf.raster").is_cog(assert(require("gf.raster").info(tmp .. "/t2m_cog.tif"))))
    end)

    it("gives statistics per message", function()
      local s = assert(grib.stats(varying(samples .. "GRIB2.tmpl", tmp .. "/ramp2.grib2")))
      assert.equal(1, #s)
      assert.equal(496, s[1].count)
      assert.is_true(math.abs(s[1].min - 250) < 1e-3 and math.abs(s[1].max - (250 + 15 + 15 + 0.495)) < 1e-2)
      local g = assert(grib.stats(gfs, { match = ":TMP:" }))
      assert.equal(#assert(grib.match(gfs, ":TMP:")), #g)
      assert.equal("TMP", g[1].short_name)
    end)
  end)

  describe("bad input", function()
    local function write(name, bytes)
      return require("spec.support.files").write(tmp .. "/" .. name, bytes)
    end

    it("reports reduced grids clearly", function()
      local f = data .. "reduced_latlon_surface.grib2"
      assert.same({ nil, "grib.inventory " .. f .. ": unsupported grid in message 1: reduced " ..
        "(quasi-regular) lat/lon grid; only regular grids can be read", "gdal" }, { grib.inventory(f) })
      f = data .. "ecmwf_tigge.grb"
      assert.same({ nil, "grib.values_at " .. f .. ": unsupported grid in message 1: reduced " ..
        "(quasi-regular) Gaussian grid; only regular grids can be read", "gdal" },
        { grib.values_at(f, { { 0, 0 } }) })
      local rg = samples .. "reduced_gg_pl_32_grib2.tmpl"
      local r, msg, code = grib.inventory(rg)
      assert.same({ nil, "gdal" }, { r, code })
      assert.truthy(msg:find("reduced %(quasi%-regular%) Gaussian grid"))
    end)

    it("rejects empty, non-GRIB and truncated files", function()
      local empty = write("empty.grib2", "")
      local r, msg, code = grib.inventory(empty)
      assert.same({ nil, "gdal" }, { r, code })
      assert.truthy(msg:find("^grib%.inventory " .. empty:gsub("%p", "%%%0") .. ": not a GRIB file"))
      local text = write("text.grib2", "GRIB? no, just text that mentions GRIB\n")
      r, msg, code = grib.values_at(text, { { 0, 0 } })
      assert.same({ nil, "gdal" }, { r, code })
      local whole = assert(io.open(gfs, "rb")):read("a")
      local cut = write("cut.grib2", whole:sub(1, 5000))
      r, msg, code = grib.values_at(cut, { { 0, 0 } })
      assert.same({ nil, "gdal" }, { r, code })
      assert.truthy(msg:find("^grib%.values_at "))
      -- a file cut inside a later message: the complete messages are still read
      local part = write("part.grib2", whole:sub(1, 30000))
      local inv = grib.inventory(part)
      if inv then assert.is_true(#inv >= 2) end
      local corrupt = write("corrupt.grib2", whole:sub(1, 200) .. string.rep("\0", 16099) .. whole:sub(16300))
      r, msg, code = grib.values_at(corrupt, { { 0, 0 } })
      if r == nil then assert.equal("gdal", code) end
    end)

    it("rejects a field number that does not exist", function()
      assert.same({ nil, "grib.values_at " .. gfs .. ": field 999 does not exist (343 fields)", "gdal" },
        { grib.values_at(gfs, { { 0, 0 } }, { messages = { 999 } }) })
      assert.same({ nil, "grib: no field matches ':NOPE:'", "invalid_input" },
        { grib.values_at(gfs, { { 0, 0 } }, { match = ":NOPE:" }) })
    end)
  end)

  describe("concurrency", function()
    it("decodes on the worker pool from several tasks", function()
      local function sig(path)
        local r = assert(grib.values_at(path, { { -100, 50 }, { 10, -20 } }))
        local parts = {}
        for _, m in ipairs(r.messages) do parts[#parts + 1] = tostring(m.values[1]) .. "," .. tostring(m.values[2]) end
        return table.concat(parts, ";")
      end
      local want = { [gfs] = sig(gfs), [cmc] = sig(cmc) }
      local items = { gfs, cmc, gfs, cmc, gfs, gfs, cmc, gfs }
      local results, failures = task.map(items, sig)
      assert.same({}, failures)
      for i, path in ipairs(items) do assert.equal(want[path], results[i]) end
    end)
  end)
end)
