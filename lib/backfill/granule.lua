--- backfill.granule: what a UMM-G search item ({meta = {...}, umm = {...}}) holds: its
--- footprint, image and OPeNDAP links, S3 location, sizes, dates and DMR++ version. Facts only;
--- which work a granule needs is operator policy in config/backfill/rules.lua. `o` is the run's
--- settings: o.geometries (geometry keys that count as a footprint), o.use_data_url (derive
--- the S3 bucket/key from the https GET DATA URL).
local R = {}

R.default_geometries = { "GPolygons", "Lines" }

local function geometry(g)
  local umm = type(g) == "table" and g.umm
  local se = type(umm) == "table" and umm.SpatialExtent
  local hsd = type(se) == "table" and se.HorizontalSpatialDomain
  local geo = type(hsd) == "table" and hsd.Geometry
  return type(geo) == "table" and geo or nil
end

local function related_urls(g)
  local umm = type(g) == "table" and g.umm
  local urls = type(umm) == "table" and umm.RelatedUrls
  return type(urls) == "table" and urls or {}
end

--- A configured geometry key with a non-empty list value.
function R.has_footprint(g, o)
  local geo = geometry(g)
  if not geo then return false end
  for _, key in ipairs((o and o.geometries) or R.default_geometries) do
    local v = geo[key]
    if type(v) == "table" and v[1] ~= nil then return true end
  end
  return false
end

--- BoundingRectangles present and a footprint geometry too (counted only).
function R.has_footprint_and_bbox(g, o)
  local geo = geometry(g)
  return geo ~= nil and geo.BoundingRectangles ~= nil and R.has_footprint(g, o)
end

function R.has_image(g)
  for _, u in ipairs(related_urls(g)) do
    if u.Type == "GET RELATED VISUALIZATION" then return true end
  end
  return false
end

function R.opendap_url(g)
  for _, u in ipairs(related_urls(g)) do
    if u.Subtype == "OPENDAP DATA" and type(u.URL) == "string" and u.URL:find("opendap", 1, true) then
      return u.URL
    end
  end
  return nil
end

local function split_location(rest)
  local bucket, key = rest:match("^([^/?#]+)/+([^?#]+)")
  if not bucket or key == "" then return nil end
  return { bucket = bucket, key = key, filename = key:match("([^/]+)$") }
end

--- {bucket, key, filename} from the direct-access s3:// URL, else (use_data_url) the https
--- GET DATA URL read as https://host/<bucket>/<key...>; nil when neither applies.
function R.s3_info(g, o)
  local urls = related_urls(g)
  for _, u in ipairs(urls) do
    if u.Type == "GET DATA VIA DIRECT ACCESS" and type(u.URL) == "string" then
      local rest = u.URL:match("s3://(.*)$")
      if rest then
        local info = split_location(rest)
        if info then return info end
      end
    end
  end
  if o and o.use_data_url then
    for _, u in ipairs(urls) do
      if u.Type == "GET DATA" and type(u.URL) == "string" and u.Subtype ~= "OPENDAP DATA" then
        local rest = u.URL:match("https://[^/]+/(.*)$")
        if rest then
          local info = split_location(rest)
          if info then return info end
        end
      end
    end
  end
  return nil
end

--- SizeInBytes of the named file in ArchiveAndDistributionInformation, else 0.
function R.size(g, filename)
  local umm = type(g) == "table" and g.umm or {}
  local dg = type(umm.DataGranule) == "table" and umm.DataGranule or {}
  for _, f in ipairs(type(dg.ArchiveAndDistributionInformation) == "table"
    and dg.ArchiveAndDistributionInformation or {}) do
    if f.Name == filename and math.type(f.SizeInBytes) then return f.SizeInBytes end
  end
  return 0
end

function R.dates(g)
  local umm = type(g) == "table" and g.umm or {}
  local te = type(umm.TemporalExtent) == "table" and umm.TemporalExtent or {}
  local r = type(te.RangeDateTime) == "table" and te.RangeDateTime or {}
  local s, e = r.BeginningDateTime, r.EndingDateTime
  return type(s) == "string" and s or nil, type(e) == "string" and e or nil
end

--- "3.20.9-91" -> {3, 20, 9, 91}; nil for anything else.
function R.parse_version(s)
  if type(s) ~= "string" then return nil end
  local a, b, c, d = s:match("^%s*(%d+)%.(%d+)%.(%d+)%-(%d+)%s*$")
  if not a then return nil end
  return { tonumber(a), tonumber(b), tonumber(c), tonumber(d) }
end

--- The value of the root element's first attribute whose name ends in "version" (dmrpp:version).
function R.dmrpp_version(text)
  if type(text) ~= "string" then return nil end
  local pos = 1
  while true do
    local s, e, name = text:find("<([%a_][%w_:%.%-]*)", pos)
    if not s then return nil end
    local c = text:sub(s + 1, s + 1)
    if c ~= "?" and c ~= "!" then
      local close = text:find(">", e, true)
      if not close then return nil end
      local tag = text:sub(e + 1, close)
      for attr, _, v in tag:gmatch("([%w_:%.%-]+)%s*=%s*([\"'])(.-)%2") do
        if attr:sub(-7) == "version" then return v end
      end
      return nil, name
    end
    pos = e + 1
  end
end

--- "older" | "missing" | "matched" | "newer" for a DMR++ text against the minimum version.
function R.dmrpp_state(text, min)
  local v = R.parse_version((R.dmrpp_version(text)))
  if not v then return "missing" end
  for i = 1, 4 do
    if v[i] < min[i] then return "older" end
    if v[i] > min[i] then return "newer" end
  end
  return "matched"
end

return R
