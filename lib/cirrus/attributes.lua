--- cirrus.attributes: the SNS message attributes Cirrus publishes with each output item
-- (update-state, source-systems §5.3).
--
-- item(item) -> {name = {DataType =, StringValue =}}   (gf.sns takes this form as it is)
--   collection (String); bbox.ll_lon, bbox.ll_lat, bbox.ur_lon, bbox.ur_lat (Number, Python
--   str of the value); start_datetime and end_datetime (String; properties.datetime when the
--   item has no range); datetime; cloud_cover (Number, from eo:cloud_cover); status (String:
--   "created" when properties.created equals properties.updated, else "updated"). Only what
--   the item has; at most 10.
local py = require("cirrus.py")

local M = {}

local function s(v) return { DataType = "String", StringValue = py.str(v) } end
local function n(v) return { DataType = "Number", StringValue = py.str(v) } end

function M.item(item)
  if type(item) ~= "table" then error("bad argument #1 to 'item' (table expected, got " .. type(item) .. ")", 2) end
  local a = {}
  if type(item.collection) == "string" then a.collection = s(item.collection) end
  local b = item.bbox
  if type(b) == "table" and #b >= 4 then
    local k = #b // 2            -- a 3-D bbox is [x1, y1, z1, x2, y2, z2]
    a["bbox.ll_lon"], a["bbox.ll_lat"] = n(b[1]), n(b[2])
    a["bbox.ur_lon"], a["bbox.ur_lat"] = n(b[k + 1]), n(b[k + 2])
  end
  local p = item.properties
  if type(p) == "table" then
    local start = p.start_datetime or p.datetime
    local stop = p.end_datetime or p.datetime
    if type(start) == "string" then a.start_datetime = s(start) end
    if type(stop) == "string" then a.end_datetime = s(stop) end
    if type(p.datetime) == "string" then a.datetime = s(p.datetime) end
    if type(p["eo:cloud_cover"]) == "number" then a.cloud_cover = n(p["eo:cloud_cover"]) end
    if p.created ~= nil and p.updated ~= nil then
      a.status = s(p.created == p.updated and "created" or "updated")
    end
  end
  return a
end

return M
