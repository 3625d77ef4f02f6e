--- gf.grib: GRIB1/GRIB2 files on GDAL's GRIB driver, decoded on the worker pool.
--
-- What wgrib2 did for the BC RFC job (inventory, -match, -lon, -csv) without a subprocess. The
-- native core (lib/gf/grib/core.so, libgdal) loads on first require. One GDAL band is one GRIB
-- field: `band` numbers fields 1..N in file order; `message` (and `field` for multi-field GRIB2
-- messages) are the GRIB message numbers wgrib2 prints.
--
-- Units stay as stored in the file (Kelvin stays Kelvin): gfhost sets GRIB_NORMALIZE_UNITS=NO,
-- unlike GDAL's default, which converts K to °C. Pass opts.normalize_units = true to any call to
-- get GDAL's conversion for that call only.
--
-- inventory(path, opts) -> list of records, one per field:
--     {band, message, field, fields, offset, length, edition, short_name ("TMP"), level
--      ("2-HTGL"), level_text ("2 m above ground"), description, comment, unit, discipline,
--      ref_time, valid_time (epoch seconds), ref_iso, valid_iso, forecast_seconds,
--      forecast_hours, nodata, line (wgrib2 style: "191:2457396:d=2011011012:TMP:2 m above ground:120 hour
--      fcst:"), grid = {nx, ny, type, template, geotransform, crs}}
-- line(record) -> string                  the wgrib2-style inventory line
-- match(path | records, pattern, opts) -> records whose line matches the Lua pattern
--                                          (opts.plain: a plain substring)
-- values_at(path, points, opts) -> {points = {{lon, lat, grid_lon, grid_lat, col, row} |
--     {lon, lat, outside = true}}, messages = {{<record fields>, values = {v1, ..., vN}}}}
--     points: list of {lon, lat} or {lon =, lat =}; longitudes -180..180 or 0..360. Nearest
--     grid point on regular lat/lon (with wrap-around on global grids), rotated lat/lon and
--     projected (polar stereographic, Lambert) grids. A point outside the grid has
--     outside = true and nil values; a missing (bitmap) value is nil as well.
--     opts.messages: list of band numbers or inventory records; opts.match: a pattern.
-- lon_lines(result) -> list of strings    wgrib2 -lon output, one line per message
-- records(result) -> iterator              (message, point, lon, lat, value) per point and message
-- extract(path, dst, opts) -> {path}      selected fields (opts.messages / opts.match) to
--     opts.format "GTiff", "COG" or "CSV" (default from dst's extension: .csv -> CSV, else GTiff);
--     CSV rows are wgrib2 -csv's: "ref time","valid time","var","level",lon,lat,value
-- stats(path, opts) -> list of {band, short_name, level, min, max, mean, stddev, skew, count}
--
-- Errors: nil, message, "gdal" — a non-GRIB or empty file, a truncated message, an unsupported
-- grid (reduced Gaussian / reduced lat-lon: "unsupported grid in message N: reduced ..."), a
-- field number that does not exist. s3:// and http(s):// paths work as in gf.raster (opts.aws).
local core = require("gf.grib.core")
local raster = require("gf.raster")

local M = {}

local function check_path(p, n, fname)
  if type(p) ~= "string" or p == "" then
    error(string.format("bad argument #%d to '%s' (path or URL expected)", n, fname), 3)
  end
end

local function check_opts(opts, fname)
  if opts == nil then return {} end
  if type(opts) ~= "table" then error(string.format("bad argument to '%s' (options table expected)", fname), 3) end
  return opts
end

local function cfg_of(opts, writing)
  local cfg = raster.gdal_config(opts.aws, writing)
  if opts.normalize_units then cfg.GRIB_NORMALIZE_UNITS = "YES" end
  return cfg
end

local function relay(r, msg, code)
  if r == nil and type(msg) == "string" then
    msg = msg:gsub("/vsis3/", "s3://"):gsub("/vsicurl/", "")
  end
  return r, msg, code
end

--- "1000[Pa] ISBL=..." -> "10 mb", "2[m] HTGL=..." -> "2 m above ground" (wgrib2's wording).
function M.level_text(rec)
  local desc = rec.description or ""
  local value, unit, code, name = desc:match('^(%S+)%[(.-)%]%s+(%S+)="(.*)"$')
  if not value then return rec.level or "" end
  local v = tonumber(value)
  if code == "ISBL" and unit == "Pa" and v then return string.format("%g mb", v / 100) end
  if code == "HTGL" then return string.format("%s m above ground", value) end
  if code == "SFC" then return "surface" end
  if code == "MSL" then return "mean sea level" end
  if code == "TOA" or code == "NTAT" then return "top of atmosphere" end
  if code == "EATM" then return "entire atmosphere" end
  if code == "TRO" then return "tropopause" end
  if code == "MWSL" then return "max wind" end
  if code == "DBLL" and v then return string.format("%s m below ground", value) end
  if v and v ~= 0 then return string.format("%s %s %s", value, unit, name:lower()) end
  return name:lower()
end

local function fcst_text(rec)
  local h = rec.forecast_hours
  if h == nil then return "" end
  if h == 0 then return "anl" end
  if h == math.floor(h) then return string.format("%d hour fcst", h) end
  return string.format("%d min fcst", math.floor(h * 60 + 0.5))
end

function M.line(rec)
  if type(rec) ~= "table" then error("bad argument #1 to 'line' (inventory record expected)", 2) end
  local num = tostring(rec.message or rec.band)
  if rec.fields and rec.fields > 1 then num = num .. "." .. tostring(rec.field) end
  local d = ""
  if rec.ref_time then d = "d=" .. os.date("!%Y%m%d%H", rec.ref_time) end
  return string.format("%s:%s:%s:%s:%s:%s:", num, tostring(rec.offset or 0), d,
    rec.short_name or "", M.level_text(rec), fcst_text(rec))
end

function M.inventory(path, opts)
  check_path(path, 1, "inventory")
  opts = check_opts(opts, "inventory")
  local inv, msg, code = relay(core.inventory(raster.gdal_path(path), cfg_of(opts)))
  if not inv then return nil, msg, code end
  for _, rec in ipairs(inv.fields) do
    rec.grid = inv.grid
    rec.level_text = M.level_text(rec)
    rec.line = M.line(rec)
  end
  return inv.fields
end

function M.match(src, pattern, opts)
  if type(pattern) ~= "string" then error("bad argument #2 to 'match' (pattern expected)", 2) end
  opts = check_opts(opts, "match")
  local records = src
  if type(src) == "string" then
    local msg, code
    records, msg, code = M.inventory(src, opts)
    if not records then return nil, msg, code end
  elseif type(src) ~= "table" then
    error("bad argument #1 to 'match' (path or inventory expected)", 2)
  end
  local out = {}
  for _, rec in ipairs(records) do
    if (rec.line or M.line(rec)):find(pattern, 1, opts.plain and true or false) then
      out[#out + 1] = rec
    end
  end
  return out
end

-- Band numbers for opts.messages / opts.match (nil: every field).
local function select_bands(path, opts)
  local sel = opts.messages
  if opts.match then
    local recs, msg, code = M.match(path, opts.match, { plain = opts.plain, aws = opts.aws })
    if not recs then return nil, msg, code end
    sel = recs
    if #sel == 0 then return nil, "grib: no field matches '" .. opts.match .. "'", "invalid_input" end
  end
  if sel == nil then return false end
  if type(sel) ~= "table" then error("messages: list of band numbers or records expected", 3) end
  local bands = {}
  for i, m in ipairs(sel) do
    local b = type(m) == "table" and m.band or m
    if math.type(b) ~= "integer" then error("messages[" .. i .. "]: band number expected", 3) end
    bands[i] = b
  end
  return bands
end

function M.values_at(path, points, opts)
  check_path(path, 1, "values_at")
  if type(points) ~= "table" or #points == 0 then
    error("bad argument #2 to 'values_at' (non-empty list of points expected)", 2)
  end
  opts = check_opts(opts, "values_at")
  local lons, lats = {}, {}
  for i, p in ipairs(points) do
    if type(p) ~= "table" then error("points[" .. i .. "]: {lon, lat} expected", 2) end
    local lon, lat = p.lon or p[1], p.lat or p[2]
    if type(lon) ~= "number" or type(lat) ~= "number" or lat < -90 or lat > 90 then
      error("points[" .. i .. "]: {lon, lat} with -90 <= lat <= 90 expected", 2)
    end
    lons[i], lats[i] = lon, lat
  end
  local bands, msg, code = select_bands(path, opts)
  if bands == nil then return nil, msg, code end
  local r
  r, msg, code = relay(core.values_at(raster.gdal_path(path), lons, lats, bands or nil, cfg_of(opts)))
  if not r then return nil, msg, code end
  for _, m in ipairs(r.messages) do m.level_text = M.level_text(m) end
  return r
end

local function lon360(lon)
  return lon < 0 and lon + 360 or lon
end

function M.lon_lines(result)
  local lines = {}
  for k, m in ipairs(result.messages) do
    local parts = { tostring(m.message or m.band or k) }
    for i, p in ipairs(result.points) do
      local v = m.values[i]
      parts[#parts + 1] = string.format("lon=%f,lat=%f,val=%s",
        p.grid_lon and lon360(p.grid_lon) or lon360(p.lon), p.grid_lat or p.lat,
        v and string.format("%g", v) or "undefined")
    end
    lines[k] = table.concat(parts, ":")
  end
  return lines
end

function M.records(result)
  local k, i = 1, 0
  local np = #result.points
  return function()
    i = i + 1
    if i > np then k, i = k + 1, 1 end
    local m = result.messages[k]
    if not m or np == 0 then return nil end
    local p = result.points[i]
    return m, i, p.grid_lon or p.lon, p.grid_lat or p.lat, m.values[i]
  end
end

function M.extract(path, dst, opts)
  check_path(path, 1, "extract")
  check_path(dst, 2, "extract")
  opts = check_opts(opts, "extract")
  local format = opts.format or (dst:lower():match("%.csv$") and "CSV" or "GTiff")
  format = string.upper(format) == "CSV" and "CSV" or (string.upper(format) == "COG" and "COG" or format)
  local bands, msg, code = select_bands(path, opts)
  if bands == nil then return nil, msg, code end
  local d = raster.gdal_path(dst)
  if format == "CSV" then
    return relay(core.csv(raster.gdal_path(path), d, bands or nil, cfg_of(opts, d ~= dst)))
  end
  local argv = format == "COG" and raster.cog_argv(opts) or { "-of", format }
  for _, b in ipairs(bands or {}) do
    argv[#argv + 1] = "-b"
    argv[#argv + 1] = tostring(b)
  end
  return raster.translate(path, dst, argv, { aws = opts.aws })
end

function M.stats(path, opts)
  check_path(path, 1, "stats")
  opts = check_opts(opts, "stats")
  local inv, msg, code = M.inventory(path, opts)
  if not inv then return nil, msg, code end
  local want
  if opts.messages or opts.match then
    local bands
    bands, msg, code = select_bands(path, opts)
    if not bands then return nil, msg, code end
    want = {}
    for _, b in ipairs(bands) do want[b] = true end
  end
  local all
  all, msg, code = raster.stats(path, { aws = opts.aws })
  if not all then return nil, (msg:gsub("^raster%.stats", "grib.stats")), code end
  local out = {}
  for _, s in ipairs(all) do
    if not want or want[s.band] then
      local rec = inv[s.band]
      s.short_name, s.level, s.message = rec.short_name, rec.level, rec.message
      out[#out + 1] = s
    end
  end
  return out
end

return M
