--- viirs.collection: the Cumulus template collection of the SEZ-U VIIRS job, expanded over a
--- span of months as the original generateCollections lambda did (one collection per month).
--
-- load(path) -> text, collection | nil, msg, code      the template JSON (text kept for rendering)
-- months(collection, {span=, now=}) -> list of "YYYYMM", unit | nil, msg, "invalid_input"
--     span "YYYYMM..YYYYMM" (or one month) overrides options.spanStart/spanEnd; spanEnd defaults
--     to the current month (UTC); spanUnit "month" (default here: the original defaulted to
--     "day" and produced each month about 30 times), "year" (every 12th month) or "day" (accepted
--     for old templates: its repeated months are produced once)
-- render(text, month) -> collection | nil, msg        Handlebars-style {{pointInTime}} rendered in
--     the JSON text, then decoded; name = templated_name, templated_name removed (as the original)
-- plan(text, collection, opts) -> list of month items {month, name, version, provider_path,
--     regex, sample} | nil, msg, code                  what workflows/viirs.lua fans out over
local json = require("gf.json")

local M = {}

M.DEFAULT_HOST = "https://data.ngdc.noaa.gov"

local function read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  return s
end

function M.load(path)
  local text, err = read(path)
  if not text then return nil, ("collection %s: cannot read (%s)"):format(path, err), "io" end
  local c, perr = json.decode(text)
  if type(c) ~= "table" then
    return nil, ("collection %s: not a JSON object (%s)"):format(path, perr or type(c)),
      "invalid_input"
  end
  if type(c.provider_path) ~= "string" then
    return nil, ("collection %s: no provider_path"):format(path), "invalid_input"
  end
  return text, c
end

local function ym_ok(s)
  if type(s) ~= "string" then return false end
  local y, m = s:match("^(%d%d%d%d)(%d%d)$")
  return y ~= nil and tonumber(m) >= 1 and tonumber(m) <= 12
end

local function add_months(ym, n)
  local y, m = tonumber(ym:sub(1, 4)), tonumber(ym:sub(5, 6))
  local k = y * 12 + (m - 1) + n
  return ("%04d%02d"):format(k // 12, k % 12 + 1)
end
M.add_months = add_months

function M.months(c, opts)
  opts = opts or {}
  local o = type(c) == "table" and type(c.options) == "table" and c.options or {}
  local start, stop = o.spanStart, o.spanEnd
  if opts.span then
    local a, b = opts.span:match("^%s*(%d+)%s*%.%.%s*(%d+)%s*$")
    if not a then a = opts.span:match("^%s*(%d+)%s*$"); b = a end
    if not a or not ym_ok(a) or not ym_ok(b) then
      return nil, ("--span %s: expected YYYYMM..YYYYMM (e.g. 201201..201805)"):format(opts.span),
        "invalid_input"
    end
    start, stop = a, b
  end
  if start == nil then return nil, "no span: give --span or options.spanStart", "invalid_input" end
  start = tostring(start)
  stop = stop and tostring(stop) or os.date("!%Y%m", opts.now or os.time())
  if not ym_ok(start) then return nil, ("spanStart %s: expected YYYYMM"):format(start), "invalid_input" end
  if not ym_ok(stop) then return nil, ("spanEnd %s: expected YYYYMM"):format(stop), "invalid_input" end
  if stop < start then
    return nil, ("span %s..%s: the end is before the start"):format(start, stop), "invalid_input"
  end
  local unit = o.spanUnit or "month"
  if opts.span then unit = "month" end
  local step = ({ month = 1, months = 1, day = 1, days = 1, year = 12, years = 12 })[unit]
  if not step then
    return nil, ("spanUnit %s: expected month, year or day"):format(tostring(unit)), "invalid_input"
  end
  local list, cur = {}, start
  while cur <= stop do -- inclusive, as the original's `while (current <= spanEnd)`
    list[#list + 1] = cur
    cur = add_months(cur, step)
  end
  return list, unit
end

function M.render(text, month)
  local function value(name)
    if name == "pointInTime" then return month end
    return nil
  end
  local out = text:gsub("{{{?%s*([%w_]+)%s*}?}}", function(name) return value(name) or "" end)
  local c, perr = json.decode(out)
  if type(c) ~= "table" then
    return nil, ("collection rendered for %s is not a JSON object: %s"):format(month, tostring(perr))
  end
  if c.templated_name ~= nil then
    c.name = c.templated_name
    c.templated_name = nil
  end
  return c
end

--- One item per month for the workflow: JSON values only (the SQS executor sends them).
function M.plan(text, c, opts)
  local months, unit = M.months(c, opts)
  if not months then return nil, unit, "invalid_input" end
  local items = {}
  for _, ym in ipairs(months) do
    local r, err = M.render(text, ym)
    if not r then return nil, err, "invalid_input" end
    local f = type(r.files) == "table" and r.files[1] or {}
    items[#items + 1] = { month = ym, name = r.name, version = r.version,
      provider_path = r.provider_path, regex = f.regex or r.granuleIdExtraction or "(.*)\\.tgz",
      sample = f.sampleFileName }
  end
  return items, unit
end

--- host + path, as the original concatenated them, without doubling the slash between.
function M.join(host, path)
  if host:sub(-1) == "/" and path:sub(1, 1) == "/" then return host .. path:sub(2) end
  if host:sub(-1) ~= "/" and path:sub(1, 1) ~= "/" then return host .. "/" .. path end
  return host .. path
end

return M
