--- Demo job: day length per station and month from a CSV and a YAML file, written as JSON.
--
-- Reads a station list (CSV: station,name,lon,lat,elevation_m) and settings (YAML: span,
-- day_of_month, min_elevation_m, concurrency), computes each station's day length on the given
-- day of every month of the span (NOAA solar-position approximation) in parallel tasks, and
-- writes one JSON file per station plus summary.json into --out. Every write is atomic.
local args = require("gf.args")
local csv = require("gf.csv")
local fs = require("gf.fs")
local json = require("gf.json")
local log = require("gf.log")
local task = require("gf.task")
local gtime = require("gf.time")
local yaml = require("gf.yaml")

local opts = args.parse({
  name = "demo",
  description = "Day length per station and month from a CSV and a YAML file, written as JSON.",
  options = {
    { name = "input", type = "string", required = true, help = "station CSV (station,name,lon,lat,elevation_m)" },
    { name = "config", type = "string", required = true, help = "YAML settings (span, day_of_month, ...)" },
    { name = "out", type = "string", required = true, help = "output directory (created)" },
  },
}, ...)

local rad, deg = math.rad, math.deg

--- Day length in hours at latitude `lat` on day-of-year `doy` (NOAA approximation).
local function day_length(lat, doy)
  local gamma = 2 * math.pi / 365 * (doy - 1)
  local decl = 0.006918 - 0.399912 * math.cos(gamma) + 0.070257 * math.sin(gamma)
    - 0.006758 * math.cos(2 * gamma) + 0.000907 * math.sin(2 * gamma)
    - 0.002697 * math.cos(3 * gamma) + 0.00148 * math.sin(3 * gamma)
  local cos_h = (math.cos(rad(90.833)) / (math.cos(rad(lat)) * math.cos(decl)))
    - math.tan(rad(lat)) * math.tan(decl)
  if cos_h <= -1 then return 24.0 end
  if cos_h >= 1 then return 0.0 end
  return 2 * deg(math.acos(cos_h)) / 15
end

local settings, err = yaml.load_file(opts.config)
if not settings then require("gf.host").fail(err) end
local months, merr = gtime.month_span(settings.span or "")
if not months then require("gf.host").fail(("%s: span: %s"):format(opts.config, merr)) end
local day = math.tointeger(settings.day_of_month or 15) or 15

local reader, rerr = csv.reader(opts.input, { header = true })
if not reader then require("gf.host").fail(rerr) end
local stations = {}
while true do
  local row, row_err = reader:read()
  if row_err then require("gf.host").fail(row_err) end
  if not row then break end
  local lat, lon = tonumber(row.lat), tonumber(row.lon)
  if not lat or not lon then
    require("gf.host").fail(("%s: station %s: bad lon/lat"):format(opts.input, row.station))
  end
  if (tonumber(row.elevation_m) or 0) >= (settings.min_elevation_m or 0) then
    stations[#stations + 1] = { id = row.station, name = row.name, lon = lon, lat = lat }
  end
end
reader:close()

assert(fs.mkdir_p(opts.out))
log.info("demo starting", { stations = #stations, months = #months, out = opts.out })

local results, failures = task.map(stations, function(st)
  local rows = {}
  for i, m in ipairs(months) do
    local epoch = m.start + (day - 1) * 86400
    local doy = tonumber(os.date("!%j", epoch))
    rows[i] = { month = m.ym, date = gtime.iso8601(epoch):sub(1, 10),
      day_length_h = math.floor(day_length(st.lat, doy) * 100 + 0.5) / 100 }
    task.yield()
  end
  local doc = { station = st.id, name = st.name, lon = st.lon, lat = st.lat, months = json.array(rows) }
  assert(fs.write_atomic(("%s/%s.json"):format(opts.out, st.id), json.encode(doc, { pretty = true })))
  return { station = st.id, longest_h = rows[6] and rows[6].day_length_h or 0 }
end, { concurrency = math.tointeger(settings.concurrency) or 8 })

local summary = { span = settings.span, stations = json.array({}), failed = json.array({}) }
for i = 1, #stations do
  if results[i] then summary.stations[#summary.stations + 1] = results[i] end
end
for _, f in ipairs(failures) do
  summary.failed[#summary.failed + 1] = { station = f.item.id, error = tostring(f.error) }
  log.error("station failed", { station = f.item.id, error = tostring(f.error) })
end
assert(fs.write_atomic(opts.out .. "/summary.json", json.encode(summary, { pretty = true })))
io.stdout:write(("demo: %d stations x %d months -> %s (%d failed)\n"):format(
  #summary.stations, #months, opts.out, #failures))
return #failures == 0 and 0 or 1
