--- gf.raster: rasters on GDAL (libgdal 3.6), every heavy step on the worker pool.
--
-- The native core (lib/gf/raster/core.so, linked with libgdal) is loaded on the first require, so
-- scripts that never use rasters never load GDAL. Every operation below runs on a worker thread:
-- the calling task yields, other tasks (uploads, downloads) keep running, and gf.task.map over
-- several images keeps every worker busy. Each job opens its own dataset.
--
-- Sources and destinations: local paths, file:// URLs, s3://bucket/key (GDAL /vsis3/) and
-- http(s):// URLs (read-only, /vsicurl/). For s3:// pass opts.aws = {credentials = {access_key_id,
-- secret_access_key, session_token}, endpoint = "http://127.0.0.1:4568", region = "us-east-1"}
-- (what gf.aws resolves); these are set for that one job only (GDAL thread-local options), with
-- path-style addressing. Without opts.aws GDAL's own defaults apply (AWS_* environment).
--
-- configure{cache_mb = 256, threads = 1 | n | "all", normalize_units = false}
--                        GDAL settings, applied once before the first operation (later: raises)
-- config() -> {cache_mb, threads, normalize_units, setup}
-- info(src, opts) -> {driver, width, height, band_count, geotransform, crs = {wkt, epsg, name,
--                     geographic}, metadata, image_structure, bands = {{type, nodata,
--                     description, color, block, overviews, metadata}}}
-- to_cog(src, dst, opts) -> {path}      opts: compress ("LZW" | "DEFLATE" | "ZSTD" | "JPEG" |
--                     "NONE"), level, quality, blocksize (512), overviews ("AUTO" | "NONE" |
--                     ...), resampling (overview resampling, "NEAREST"), nodata, predictor
--                     (true | "STANDARD" | "FLOATING_POINT"), bigtiff, creation (extra -co list)
-- preview(src, dst, opts) -> {path, argv}   opts: format ("JPEG" | "PNG"; default from dst's
--                     extension), quality (75), max_size, resampling ("average" when resized),
--                     bands ({1,2,3}), scale ({min, max})
--                     Band rule (CHTC): 1 or 3 bands as they are, 2 bands -> band 1, otherwise
--                     bands 1,2,3. Non-Byte bands are scaled linearly from each band's exact
--                     min..max (nodata ignored) to 0..255; a constant band becomes 0.
-- warp(src, dst, opts) -> {path}        opts: crs ("EPSG:4326"), resolution (n or {x, y}), size
--                     ({w, h}), resampling ("near"), format ("GTiff" | "COG"), nodata, creation
-- stats(src, opts) -> list of {band, min, max, mean, stddev, skew, count, nodata}
--                     opts: band (all), nodata (nil: the file's; false: none; number)
-- zonal_stats(src, geojson, opts) -> list of {fid, properties, min, max, mean, stddev, skew, count}
--                     geojson: a file/URL or GeoJSON text; zones in any CRS are reprojected to the
--                     raster's. opts: band (1), nodata (0 as in the VIIRS job; "raster": the
--                     file's; false: none), all_touched (false: pixel centres inside)
-- footprint(src, opts) -> {geojson, crs = "EPSG:4326", tolerance}
--                     opts: band (1), nodata (nil: the file's nodata or mask), max_size (1024,
--                     resolution of the mask), tolerance (simplification in the raster's CRS
--                     units; default one mask pixel). No valid pixel: nil, msg, "invalid_input"
-- list(src, opts) -> list of {name, size}   the files in a directory or an archive (.tgz, .tar.gz,
--                     .tar, .zip: read through /vsitar/ or /vsizip/, nothing extracted); names are
--                     relative to src. Unreadable or corrupt: nil, msg, "gdal"
-- extract(src, dst, opts) -> {path}     copy one file's bytes out of GDAL's virtual file systems
--                     (e.g. archive_path("x.tgz") .. "/a.tif") to the local dst: temporary name,
--                     size check against the member's size, rename
-- archive_path(url) -> string           gdal_path, inside /vsitar/ or /vsizip/ for archives
-- is_cog(info) -> boolean               GDAL's own COG layout check (LAYOUT=COG)
-- cog_layout(path) -> details | nil, msg, code
--                                       the TIFF structure of a local file checked with the rules
--                                       of GDAL's validate_cloud_optimized_geotiff.py (full check);
--                                       pure Lua, gf.raster.cog_layout
-- gdal_path(url) -> string; gdal_config(aws, writing) -> table   (used by gf.grib too)
--
-- Statistics: stddev is the population standard deviation, skew the Fisher-Pearson coefficient
-- m3/m2^1.5 (as scipy.stats.skew and gippy); NaN and nodata pixels are not counted. GDAL never
-- writes .aux.xml side-car files (GDAL_PAM_ENABLED=NO). Failures: nil, "raster.<op> <src>:
-- <GDAL's message>", "gdal".
local core = require("gf.raster.core")

local M = {}

M.configure = core.configure
M.config = core.config

local function check_opts(opts, fname)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(string.format("bad argument to '%s' (options table expected, got %s)", fname, type(opts)), 3)
  end
  return opts
end

local function check_path(p, n, fname)
  if type(p) ~= "string" or p == "" then
    error(string.format("bad argument #%d to '%s' (path or URL expected)", n, fname), 3)
  end
end

--- Map a URL to the path GDAL opens.
function M.gdal_path(url)
  if type(url) ~= "string" then error("bad argument #1 to 'gdal_path' (string expected)", 2) end
  local rest = url:match("^s3://(.+)$")
  if rest then return "/vsis3/" .. rest end
  if url:match("^https?://") then return "/vsicurl/" .. url end
  rest = url:match("^file://(.*)$")
  if rest then return rest end
  return url
end

--- Thread-local GDAL options for one job from an opts.aws table.
function M.gdal_config(aws, writing)
  local cfg = {}
  if writing then cfg.CPL_VSIL_USE_TEMP_FILE_FOR_RANDOM_WRITE = "YES" end
  if aws == nil then return cfg end
  if type(aws) ~= "table" then error("aws: table expected", 3) end
  local c = aws.credentials
  if c ~= nil then
    if type(c) ~= "table" then error("aws.credentials: table expected", 3) end
    local id = c.access_key_id or c.access_key
    local secret = c.secret_access_key or c.secret_key
    if type(id) ~= "string" or type(secret) ~= "string" then
      error("aws.credentials: access_key_id and secret_access_key expected", 3)
    end
    cfg.AWS_ACCESS_KEY_ID = id
    cfg.AWS_SECRET_ACCESS_KEY = secret
    local token = c.session_token or c.token
    if token then cfg.AWS_SESSION_TOKEN = token end
    cfg.AWS_NO_SIGN_REQUEST = "NO"
  end
  if aws.endpoint ~= nil then
    if type(aws.endpoint) ~= "string" then error("aws.endpoint: string expected", 3) end
    local scheme, hostport = aws.endpoint:match("^(https?)://([^/]+)/?$")
    if not scheme then
      scheme, hostport = "https", aws.endpoint:match("^([^/:]+[:%d]*)$")
    end
    if not hostport then error("aws.endpoint: http(s)://host[:port] expected", 3) end
    cfg.AWS_S3_ENDPOINT = hostport
    cfg.AWS_HTTPS = scheme == "https" and "YES" or "NO"
    cfg.AWS_VIRTUAL_HOSTING = "FALSE"
  end
  if aws.region ~= nil then
    if type(aws.region) ~= "string" then error("aws.region: string expected", 3) end
    cfg.AWS_REGION = aws.region
    cfg.AWS_DEFAULT_REGION = aws.region
  end
  return cfg
end

-- Core failures name GDAL paths; show the caller's URLs instead.
local function relay(name, ok, msg, code, ...)
  if ok == nil and type(msg) == "string" then
    msg = msg:gsub("/vsis3/", "s3://"):gsub("/vsicurl/", "")
    if name then msg = msg:gsub("^raster%.[%w_]+", "raster." .. name, 1) end
    return nil, msg, code
  end
  return ok, msg, code, ...
end

function M.info(src, opts)
  check_path(src, 1, "info")
  opts = check_opts(opts, "info")
  return relay(nil, core.info(M.gdal_path(src), M.gdal_config(opts.aws)))
end

function M.is_cog(info)
  return type(info) == "table" and type(info.image_structure) == "table"
    and info.image_structure.LAYOUT == "COG"
end

function M.cog_layout(path)
  return require("gf.raster.cog_layout").check(path)
end

local COMPRESS = { LZW = true, DEFLATE = true, ZSTD = true, JPEG = true, NONE = true,
  WEBP = true, LERC = true, LERC_DEFLATE = true, LERC_ZSTD = true }

--- The gdal_translate argument list for to_cog (pure; exposed for specs and scripts).
function M.cog_argv(opts)
  opts = opts or {}
  local argv = { "-of", "COG" }
  local function co(k, v) argv[#argv + 1] = "-co"; argv[#argv + 1] = k .. "=" .. tostring(v) end
  local compress = string.upper(opts.compress or "LZW")
  if not COMPRESS[compress] then error("to_cog: unknown compress '" .. tostring(opts.compress) .. "'", 3) end
  co("COMPRESS", compress)
  if opts.level ~= nil then co("LEVEL", math.tointeger(opts.level) or error("to_cog: level: integer expected", 3)) end
  if opts.quality ~= nil then co("QUALITY", math.tointeger(opts.quality) or error("to_cog: quality: integer expected", 3)) end
  local bs = opts.blocksize or 512
  if not math.tointeger(bs) or bs < 16 or bs % 16 ~= 0 then
    error("to_cog: blocksize: multiple of 16 expected", 3)
  end
  co("BLOCKSIZE", bs)
  if opts.overviews ~= nil then co("OVERVIEWS", string.upper(tostring(opts.overviews))) end
  if opts.resampling ~= nil then co("OVERVIEW_RESAMPLING", string.upper(opts.resampling)) end
  if opts.predictor ~= nil and opts.predictor ~= false then
    local p = opts.predictor == true and "YES" or string.upper(tostring(opts.predictor))
    co("PREDICTOR", p)
  end
  if opts.bigtiff ~= nil then co("BIGTIFF", opts.bigtiff == true and "YES" or string.upper(tostring(opts.bigtiff))) end
  if opts.nodata ~= nil then
    if type(opts.nodata) ~= "number" then error("to_cog: nodata: number expected", 3) end
    argv[#argv + 1] = "-a_nodata"; argv[#argv + 1] = string.format("%.17g", opts.nodata)
  end
  for _, c in ipairs(opts.creation or {}) do co(c:match("^([^=]+)=(.*)$")) end
  return argv
end

function M.to_cog(src, dst, opts)
  check_path(src, 1, "to_cog")
  check_path(dst, 2, "to_cog")
  opts = check_opts(opts, "to_cog")
  local argv = M.cog_argv(opts)
  local d = M.gdal_path(dst)
  return relay("to_cog", core.translate(M.gdal_path(src), d, argv, M.gdal_config(opts.aws, d ~= dst)))
end

--- gdal_translate with your own arguments (e.g. {"-of", "GTiff", "-b", "1"}).
function M.translate(src, dst, argv, opts)
  check_path(src, 1, "translate")
  check_path(dst, 2, "translate")
  if type(argv) ~= "table" then error("bad argument #3 to 'translate' (argument list expected)", 2) end
  opts = check_opts(opts, "translate")
  local d = M.gdal_path(dst)
  return relay(nil, core.translate(M.gdal_path(src), d, argv, M.gdal_config(opts.aws, d ~= dst)))
end

function M.preview(src, dst, opts)
  check_path(src, 1, "preview")
  check_path(dst, 2, "preview")
  opts = check_opts(opts, "preview")
  local format = opts.format
  if format == nil then
    local ext = dst:match("%.(%w+)$")
    ext = ext and ext:lower()
    format = (ext == "png") and "PNG" or "JPEG"
  end
  format = string.upper(format)
  if format == "JPG" then format = "JPEG" end
  if format ~= "JPEG" and format ~= "PNG" then error("preview: format must be JPEG or PNG", 2) end
  local q = opts.quality or 75
  if not math.tointeger(q) or q < 1 or q > 100 then error("preview: quality: 1..100 expected", 2) end
  local copts = { format = format, quality = q, max_size = opts.max_size,
    resampling = opts.resampling, bands = opts.bands, scale = opts.scale }
  return relay(nil, core.preview(M.gdal_path(src), M.gdal_path(dst), copts, M.gdal_config(opts.aws)))
end

--- The gdalwarp argument list for warp (pure).
function M.warp_argv(opts)
  local argv = { "-of", opts.format or "GTiff" }
  local function add(...) for _, v in ipairs({ ... }) do argv[#argv + 1] = tostring(v) end end
  if opts.crs then add("-t_srs", opts.crs) end
  if opts.resolution and opts.size then error("warp: resolution and size exclude each other", 3) end
  local r = opts.resolution
  if type(r) == "number" then add("-tr", r, r)
  elseif type(r) == "table" then add("-tr", r[1], r[2])
  elseif r ~= nil then error("warp: resolution: number or {x, y} expected", 3) end
  local s = opts.size
  if type(s) == "table" then add("-ts", math.tointeger(s[1]) or 0, math.tointeger(s[2]) or 0)
  elseif s ~= nil then error("warp: size: {width, height} expected", 3) end
  if opts.resampling then add("-r", opts.resampling) end
  if opts.nodata ~= nil then add("-dstnodata", string.format("%.17g", opts.nodata)) end
  for _, c in ipairs(opts.creation or {}) do add("-co", c) end
  return argv
end

function M.warp(src, dst, opts)
  check_path(src, 1, "warp")
  check_path(dst, 2, "warp")
  opts = check_opts(opts, "warp")
  local argv = M.warp_argv(opts)
  local d = M.gdal_path(dst)
  return relay(nil, core.warp(M.gdal_path(src), d, argv, M.gdal_config(opts.aws, d ~= dst)))
end

local function nodata_arg(v, default, fname)
  if v == nil then return default end
  if v == false or type(v) == "number" then return v end
  if v == "raster" then return nil end
  error(fname .. ": nodata: number, false or \"raster\" expected", 3)
end

function M.stats(src, opts)
  check_path(src, 1, "stats")
  opts = check_opts(opts, "stats")
  return relay(nil, core.stats(M.gdal_path(src), opts.band or 0, nodata_arg(opts.nodata, nil, "stats"),
    M.gdal_config(opts.aws)))
end

function M.zonal_stats(src, geojson, opts)
  check_path(src, 1, "zonal_stats")
  if type(geojson) ~= "string" or geojson == "" then
    error("bad argument #2 to 'zonal_stats' (GeoJSON path or text expected)", 2)
  end
  opts = check_opts(opts, "zonal_stats")
  local zones = geojson:match("^%s*{") and geojson or M.gdal_path(geojson)
  return relay(nil, core.zonal(M.gdal_path(src), zones, opts.band or 1,
    nodata_arg(opts.nodata, 0, "zonal_stats"), opts.all_touched and true or false,
    M.gdal_config(opts.aws)))
end

--- The GDAL path of an archive's contents: /vsitar/ for .tgz, .tar.gz and .tar, /vsizip/ for
--- .zip; other paths as gdal_path maps them.
function M.archive_path(url)
  local p = M.gdal_path(url)
  if p:match("^/vsitar/") or p:match("^/vsizip/") then return p end
  local lower = p:lower()
  if lower:match("%.tgz$") or lower:match("%.tar%.gz$") or lower:match("%.tar$") then
    return "/vsitar/" .. p
  end
  if lower:match("%.zip$") then return "/vsizip/" .. p end
  return p
end

function M.list(src, opts)
  check_path(src, 1, "list")
  opts = check_opts(opts, "list")
  return relay(nil, core.list(M.archive_path(src), M.gdal_config(opts.aws)))
end

function M.extract(src, dst, opts)
  check_path(src, 1, "extract")
  check_path(dst, 2, "extract")
  opts = check_opts(opts, "extract")
  return relay(nil, core.extract(M.gdal_path(src), dst, M.gdal_config(opts.aws)))
end

function M.footprint(src, opts)
  check_path(src, 1, "footprint")
  opts = check_opts(opts, "footprint")
  local r, msg, code = relay(nil, core.footprint(M.gdal_path(src), opts.band or 1,
    nodata_arg(opts.nodata, nil, "footprint"), opts.max_size or 1024, opts.tolerance or -1,
    M.gdal_config(opts.aws)))
  if r == nil and msg and msg:find(": no valid data$") then code = "invalid_input" end
  return r, msg, code
end

return M
