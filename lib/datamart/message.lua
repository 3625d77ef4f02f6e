--- The datamart's v02 announcement body: "<timestamp> <base_url> <relpath>", e.g.
-- 20230628181943.032 https://hpfx.collab.science.gc.ca /20230620/WXO-DD/model_gem_global/...grib2
-- The original takes split(' ')[2] as the path; its idempotency key is the path's first
-- component (YYYYMMDD).
local M = {}

--- parse(body) -> {timestamp, time_sql, base_url, relpath, key} or nil, why
function M.parse(body)
  if type(body) ~= "string" then return nil, "body is not a string" end
  local ts, base, relpath = body:match("^%s*(%S+)%s+(%S+)%s+(%S+)%s*$")
  if not ts then return nil, "not a '<timestamp> <base_url> <relpath>' announcement" end
  if relpath:sub(1, 1) ~= "/" then return nil, "path does not start with '/'" end
  local key = relpath:match("^/([^/]+)/")
  if not key then return nil, "path has no first component" end
  local y, mo, d, h, mi, s = ts:match("^(%d%d%d%d)(%d%d)(%d%d)(%d%d)(%d%d)(%d%d)")
  local time_sql
  if y then time_sql = ("%s-%s-%s %s:%s:%s"):format(y, mo, d, h, mi, s) end
  return { timestamp = ts, time_sql = time_sql, base_url = base, relpath = relpath, key = key }
end

--- body(relpath, time_sql, base) -> the announcement line for a path (for replays and specs)
function M.body(relpath, time_sql, base)
  local ts = "20000101000000.000"
  if time_sql then
    local y, mo, d, h, mi, s = time_sql:match("^(%d%d%d%d)-(%d%d)-(%d%d) (%d%d):(%d%d):(%d%d)")
    if y then ts = ("%s%s%s%s%s%s.000"):format(y, mo, d, h, mi, s) end
  end
  return ("%s %s %s"):format(ts, base or "https://hpfx.collab.science.gc.ca", relpath)
end

--- routing_key(relpath) -> "v02.post.20230422.WXO-DD.model_gem_global.15km.grib2.lat_lon.00.138"
-- (the datamart's v02 topic: the directory components of the path after "v02.post")
function M.routing_key(relpath)
  local dir = relpath:match("^/(.*)/[^/]*$") or ""
  return "v02.post." .. dir:gsub("/", ".")
end

--- topic_matches(pattern, key): AMQP topic matching (`*` one word, `#` zero or more)
function M.topic_matches(pattern, key)
  local pw, kw = {}, {}
  for w in pattern:gmatch("[^.]+") do pw[#pw + 1] = w end
  for w in key:gmatch("[^.]+") do kw[#kw + 1] = w end
  local function m(i, j)
    if i > #pw then return j > #kw end
    if pw[i] == "#" then
      for k = j, #kw + 1 do if m(i + 1, k) then return true end end
      return false
    end
    if j > #kw then return false end
    if pw[i] == "*" or pw[i] == kw[j] then return m(i + 1, j + 1) end
    return false
  end
  return m(1, 1)
end

return M
