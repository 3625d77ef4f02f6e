--- viirs.params: the workflow's parameters (strings, as --param key=value, DAG VARS and SQS
--- messages carry them) with their defaults, checked and converted.
--
-- from(params) -> p | nil, msg, "invalid_input"
--   span        YYYYMM..YYYYMM (overrides the collection's options)
--   collection  the template JSON (default config/viirs/collection.json)
--   host        the provider host (default https://data.ngdc.noaa.gov)
--   out         a directory or s3://bucket/prefix/ (default out/viirs)
--   zones       the zone GeoJSON directory (default config/viirs/zones)
--   tiles       comma-separated tile file names instead of the listing ({{pointInTime}} allowed)
--   work        download directory (default .gfhost/viirs; one sub-directory per month)
--   downloads   transfers in flight per process (default 6)
--   retries     extra attempts per download (default 4)
--   extract     1: copy the rasters out of the .tgz before reading them (default: /vsitar/)
--   keep        1: keep the downloaded .tgz files
local host = require("gf.host")

local M = {}

local function flag(v)
  return v == "1" or v == "true" or v == "yes" or v == "on" or v == true
end

function M.defaults()
  local root = host.root()
  return { collection = root .. "/config/viirs/collection.json", zones = root .. "/config/viirs/zones",
    host = "https://data.ngdc.noaa.gov", out = "out/viirs", work = ".gfhost/viirs",
    downloads = "6", retries = "4" }
end

function M.from(params)
  params = params or {}
  local d = M.defaults()
  local p = {}
  for k, v in pairs(d) do p[k] = params[k] or v end
  p.span = params.span
  p.extract, p.keep = flag(params.extract), flag(params.keep)
  p.downloads, p.retries = tonumber(p.downloads), tonumber(p.retries)
  if not p.downloads or p.downloads < 1 or p.downloads ~= math.floor(p.downloads) then
    return nil, ("downloads %s: a positive integer expected"):format(tostring(params.downloads)), "invalid_input"
  end
  if not p.retries or p.retries < 0 or p.retries ~= math.floor(p.retries) then
    return nil, ("retries %s: a non-negative integer expected"):format(tostring(params.retries)), "invalid_input"
  end
  p.downloads, p.retries = math.tointeger(p.downloads), math.tointeger(p.retries)
  if not p.host:match("^https?://") then
    return nil, ("host %s: an http(s):// URL expected"):format(p.host), "invalid_input"
  end
  if params.tiles and params.tiles ~= "" then
    p.tiles = {}
    for t in params.tiles:gmatch("[^,%s]+") do p.tiles[#p.tiles + 1] = t end
  end
  return p
end

return M
