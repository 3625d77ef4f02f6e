--- Values at the point lists, formatted as `wgrib2 FILE -lon X Y -lon ...` prints them:
-- one line per GRIB message, `N:offset:lon=%lf,lat=%lf,val=%lg` then `:lon=...` per point,
-- where lon/lat are the nearest grid point's (0-360 longitudes) and offset is the message's
-- byte offset. A point outside the grid or under a bitmap prints wgrib2's undefined value
-- 9.999e+20.
local grib = require("gf.grib")

local M = {}

M.UNDEFINED = "9.999e+20"

local function lon360(lon) return lon < 0 and lon + 360 or lon end

--- all_points(lists) -> flat list of {lon, lat}, ranges = {{first, last}, ...}
function M.flatten(lists)
  local flat, ranges = {}, {}
  for k, l in ipairs(lists) do
    local first = #flat + 1
    for _, p in ipairs(l) do flat[#flat + 1] = { p[1] or p.lon, p[2] or p.lat } end
    ranges[k] = { first, #flat }
  end
  return flat, ranges
end

--- lines(result, first, last) -> the wgrib2 -lon text (with "\n" after each message's line)
-- for the points first..last of a values_at result
function M.lines(result, first, last)
  local out = {}
  for k, m in ipairs(result.messages) do
    local parts = { ("%s:%d"):format(tostring(m.message or k), m.offset or 0) }
    for i = first, last do
      local p = result.points[i]
      local v = m.values[i]
      local lon, lat
      if p.grid_lon then lon, lat = lon360(p.grid_lon), p.grid_lat else lon, lat = lon360(p.lon), p.lat end
      parts[#parts + 1] = ("lon=%f,lat=%f,val=%s"):format(lon, lat, v and ("%g"):format(v) or M.UNDEFINED)
    end
    out[#out + 1] = table.concat(parts, ":") .. "\n"
  end
  return table.concat(out)
end

--- file(path, lists) -> {text per list index} or nil, msg, code (one decode for all the lists)
function M.file(path, lists)
  local flat, ranges = M.flatten(lists)
  local r, err, code = grib.values_at(path, flat)
  if not r then return nil, err, code end
  local out = {}
  for k, rg in ipairs(ranges) do out[k] = M.lines(r, rg[1], rg[2]) end
  return out
end

return M
