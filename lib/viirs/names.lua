--- viirs.names: what a VIIRS DNB monthly tile's file names say, and the CSV names written.
--
-- parse(name) -> {granule, month, tile} | nil, msg
--     SVDNB_npp_20180301-20180331_00N060E_vcmcfg_v10_c201804022005.tgz -> granule (without .tgz),
--     month "201803", tile "00N060E". Other names fall back to tif_stats' fixed positions
--     (basename[10:16], basename[28:35]) when those hold a month and a tile.
-- kind(member) -> "radiance" | "coverage" | nil        avg_rade9* / cf_cvg* rasters of a tile
-- csv_name(zone, month, tile, kind) -> "<zone>_<YYYYMM>_<tile>.csv" (radiance, tif_stats' name)
--     or "<zone>_<YYYYMM>_<tile>_cvg.csv" (coverage: its own name, where the original overwrote the
--     radiance CSV with it)
-- parse_csv_name(name, zones) -> {zone, month, tile, kind} | nil
local M = {}

M.TILES = { "75N180W", "75N060W", "75N060E", "00N180W", "00N060W", "00N060E" }
M.COVERAGE_SUFFIX = "_cvg"

local TILE = "%d%d[NS]%d%d%d[EW]"

function M.parse(name)
  local base = name:match("([^/]+)$") or name
  local granule = base:gsub("%.tgz$", ""):gsub("%.tar%.gz$", "")
  local ym, tile = granule:match("^SVDNB_npp_(%d%d%d%d%d%d)%d%d%-%d+_(" .. TILE .. ")_")
  if not ym then
    ym, tile = granule:sub(11, 16), granule:sub(29, 35) -- tif_stats: basename[10:16], [28:35]
    if not (ym:match("^%d%d%d%d%d%d$") and tile:match("^" .. TILE .. "$")) then
      return nil, ("%s: not a VIIRS DNB tile name (SVDNB_npp_YYYYMMDD-YYYYMMDD_<tile>_...)"):format(base)
    end
  end
  return { granule = granule, month = ym, tile = tile }
end

function M.kind(member)
  local base = (member:match("([^/]+)$") or member):lower()
  if not base:match("%.tiff?$") then return nil end
  if base:find("avg_rade9", 1, true) then return "radiance" end
  if base:find("cf_cvg", 1, true) then return "coverage" end
  return nil
end

function M.csv_name(zone, month, tile, kind)
  return ("%s_%s_%s%s.csv"):format(zone, month, tile, kind == "coverage" and M.COVERAGE_SUFFIX or "")
end

function M.parse_csv_name(name, zone)
  local prefix = zone .. "_"
  if name:sub(1, #prefix) ~= prefix then return nil end
  local ym, tile, cvg = name:sub(#prefix + 1):match("^(%d%d%d%d%d%d)_(" .. TILE .. ")(.-)%.csv$")
  if not ym then return nil end
  if cvg ~= "" and cvg ~= M.COVERAGE_SUFFIX then return nil end
  return { zone = zone, month = ym, tile = tile, kind = cvg == "" and "radiance" or "coverage" }
end

return M
