--- viirs.zones: the zone GeoJSON files (config/viirs/zones/ or --zones DIR), merged so that one
--- gf.raster.zonal_stats call per raster summarises every zone (the raster is opened and its
--- .tgz member found once, not once per zone).
--
-- load(dir) -> list of {name, path, feature, crs} sorted by name | nil, msg, code
--     name: the file name without .geojson (the CSVs' <zone>); the zone is the file's first
--     feature, as tif_stats used GeoVector(geojson)[0]
-- groups(zones) -> list of GeoJSON FeatureCollection texts, one per CRS, each feature carrying
--     properties.gfhost_zone = name
local fs = require("gf.fs")
local json = require("gf.json")

local M = {}

local POLY = { Polygon = true, MultiPolygon = true }

local function first_feature(doc)
  if type(doc) ~= "table" then return nil end
  if doc.type == "Feature" then return doc end
  if doc.type == "FeatureCollection" and type(doc.features) == "table" then return doc.features[1] end
  if POLY[doc.type] then return { type = "Feature", properties = {}, geometry = doc } end
  return nil
end

function M.load(dir)
  local names, err, code = fs.list(dir)
  if not names then return nil, ("zones %s: %s"):format(dir, err), code end
  local zones = {}
  for _, n in ipairs(names) do
    local zname = n:match("^(.+)%.geojson$") or n:match("^(.+)%.json$")
    if zname then
      local path = dir .. "/" .. n
      local text, rerr = fs.read(path)
      if not text then return nil, ("zone %s: %s"):format(path, rerr), "io" end
      local doc, perr = json.decode(text)
      local f = doc and first_feature(doc)
      if not f or type(f.geometry) ~= "table" or not POLY[f.geometry.type] then
        return nil, ("zone %s: expected a GeoJSON Polygon or MultiPolygon feature%s"):format(path,
          perr and (" (" .. tostring(perr) .. ")") or ""), "invalid_input"
      end
      if not zname:match("^[%w_.-]+$") then
        return nil, ("zone %s: name '%s' must be letters, digits, _ . -"):format(path, zname),
          "invalid_input"
      end
      zones[#zones + 1] = { name = zname, path = path, feature = f,
        crs = type(doc.crs) == "table" and doc.crs or nil }
    end
  end
  if #zones == 0 then return nil, ("zones %s: no .geojson files"):format(dir), "invalid_input" end
  return zones
end

function M.groups(zones)
  local by, order = {}, {}
  for _, z in ipairs(zones) do
    local key = z.crs and json.encode(z.crs) or ""
    if not by[key] then
      by[key] = { type = "FeatureCollection", features = json.array({}), crs = z.crs }
      order[#order + 1] = key
    end
    local props = {}
    for k, v in pairs(type(z.feature.properties) == "table" and z.feature.properties or {}) do
      if type(v) ~= "table" then props[k] = v end
    end
    props.gfhost_zone = z.name
    local fc = by[key].features
    fc[#fc + 1] = { type = "Feature", properties = props, geometry = z.feature.geometry }
  end
  local out = {}
  for _, key in ipairs(order) do out[#out + 1] = json.encode(by[key]) end
  return out
end

return M
