-- lib/datamart: announcement parsing, topics, Pacific dates, templates and profiles, the
-- SQLite store (exact schema, idempotency, clear, stale flush) and the listener's logic replayed
-- in-process over the 2,782 real announcements of ../shared/fixtures/datamart.
local message = require("datamart.message")
local tz = require("datamart.tz")
local templates = require("datamart.templates")
local expected = require("datamart.expected")
local store_mod = require("datamart.store")
local listener = require("datamart.listener")
local dispatch = require("datamart.dispatch")
local env = require("datamart.env")
local sqlite = require("gf.sqlite")
local time = require("gf.time")
local paths = require("spec.support.paths")

local FIXTURE = paths.fixtures .. "/datamart/amqp_events_20230422-24.db"

local function fixture_rows()
  local db = assert(sqlite.open(FIXTURE, { readonly = true, wal = false }))
  local rows = assert(db:query("SELECT * FROM message_events ORDER BY event_id"))
  local schema = db:first("SELECT sql FROM sqlite_master WHERE name = 'message_events'").sql
  db:close()
  return rows, schema
end

local function quiet_log()
  local l = { lines = {} }
  for _, lv in ipairs({ "debug", "info", "warn", "error" }) do
    l[lv] = function(msg, f) l.lines[#l.lines + 1] = { lv, msg, f } end
  end
  return l
end

describe("datamart.message", function()
  it("parses the datamart's v02 line and keys it by the first path component", function()
    local m = assert(message.parse("20230628181943.032 https://hpfx.collab.science.gc.ca /20230620/WXO-DD/model_gem_global/15km/grib2/lat_lon/00/099/CMC_glb_PRATE_SFC_0_latlon.15x.15_2023062000_P099.grib2\n"))
    assert.equal("20230620", m.key)
    assert.equal("/20230620/WXO-DD/model_gem_global/15km/grib2/lat_lon/00/099/CMC_glb_PRATE_SFC_0_latlon.15x.15_2023062000_P099.grib2", m.relpath)
    assert.equal("2023-06-28 18:19:43", m.time_sql)
    assert.equal("https://hpfx.collab.science.gc.ca", m.base_url)
  end)
  it("refuses what is not an announcement", function()
    assert.is_nil(message.parse("junkjunkjunk"))
    assert.is_nil(message.parse("a b c d"))
    assert.is_nil(message.parse("1 https://x relative/path"))
    assert.is_nil(message.parse(""))
  end)
  it("round-trips bodies and routing keys of the fixture's paths", function()
    local p = "/20230422/WXO-DD/model_gem_global/15km/grib2/lat_lon/00/138/CMC_glb_PRATE_SFC_0_latlon.15x.15_2023042200_P138.grib2"
    local m = assert(message.parse(message.body(p, "2023-04-22 08:24:00")))
    assert.equal(p, m.relpath)
    assert.equal("2023-04-22 08:24:00", m.time_sql)
    local rk = message.routing_key(p)
    assert.equal("v02.post.20230422.WXO-DD.model_gem_global.15km.grib2.lat_lon.00.138", rk)
    assert.is_true(message.topic_matches("v02.post.*.WXO-DD.model_gem_global.15km.grib2.lat_lon.*.*.#", rk))
    assert.is_false(message.topic_matches("v02.post.*.WXO-DD.model_gem_regional.10km.grib2.*.*.#", rk))
    assert.is_true(message.topic_matches("#", rk))
    assert.is_false(message.topic_matches("v02.post.*", rk))
  end)
end)

describe("datamart.tz", function()
  it("gives the America/Vancouver date across both DST changes", function()
    -- 2023-03-12 10:00Z is 02:00 PST -> 03:00 PDT; 2023-11-05 09:00Z back to PST
    assert.equal(-8, tz.vancouver_offset(time.epoch({ year = 2023, month = 3, day = 12, hour = 9, min = 59 })))
    assert.equal(-7, tz.vancouver_offset(time.epoch({ year = 2023, month = 3, day = 12, hour = 10 })))
    assert.equal(-7, tz.vancouver_offset(time.epoch({ year = 2023, month = 11, day = 5, hour = 8, min = 59 })))
    assert.equal(-8, tz.vancouver_offset(time.epoch({ year = 2023, month = 11, day = 5, hour = 9 })))
    -- 06:30Z on 2024-01-10 is still the 9th in Vancouver; 07:30Z in July is the 10th's 00:30
    assert.equal("20240109", tz.local_date(time.epoch({ year = 2024, month = 1, day = 10, hour = 6, min = 30 })))
    assert.equal("20240710", tz.local_date(time.epoch({ year = 2024, month = 7, day = 10, hour = 7, min = 30 })))
    assert.equal("20240709", tz.local_date(time.epoch({ year = 2024, month = 7, day = 10, hour = 6, min = 30 })))
  end)
  it("validates and shifts dates", function()
    assert.is_true(tz.valid_date("20240229"))
    assert.is_false(tz.valid_date("20230229"))
    assert.is_false(tz.valid_date("2023-04-22"))
    assert.equal("20230301", tz.shift_date("20230228", 1))
    assert.equal("20221231", tz.shift_date("20230101", -1))
  end)
end)

describe("datamart.templates and profiles", function()
  it("renders iterators as the original (3 digits) and refuses unknown placeholders", function()
    assert.same({ "002", "003", "004" }, templates.iterate({ { 2, 4 } }))
    assert.same({ "090", "093", "006", "009", "x" }, templates.iterate({ { 90, 93, 3 }, 6, 9, "x" }))
    assert.same({ "00", "01" }, templates.iterate({ { 0, 1, 1, format = "%02d" } }))
    assert.equal("a-06-b", templates.render("a-{m}-b", { m = "06" }))
    assert.has_error(function() templates.render("{nope}", {}) end)
  end)
  it("expects 236 files a day in the 2023 profile and 272 in the current one", function()
    local cfg = assert(expected.load())
    local p23 = assert(expected.profile(cfg, "2023"))
    local files = expected.files(p23, "20230422")
    assert.equal(236, #files)
    assert.equal("/20230422/WXO-DD/model_gem_regional/10km/grib2/06/002/CMC_reg_PRATE_SFC_0_ps10km_2023042206_P002.grib2", files[1].relpath)
    local cur = assert(expected.profile(cfg, "current"))
    local cf = expected.files(cur, "20240105")
    assert.equal(272, #cf)
    assert.equal("/20240105/WXO-DD/model_rdps/10km/06/002/20240105T06Z_MSC_RDPS_PrecipRate_Sfc_RLatLon0.09_PT002H.grib2", cf[1].relpath)
    assert.is_nil((expected.profile(cfg, "1999")))
  end)
  it("the 2023 profile's routing keys match every fixture announcement", function()
    local cfg = assert(expected.load())
    local p23 = assert(expected.profile(cfg, "2023"))
    local rows = fixture_rows()
    for _, r in ipairs(rows) do
      local rk, ok = message.routing_key(r.event_message), false
      for _, pat in ipairs(p23.routing_keys) do ok = ok or message.topic_matches(pat, rk) end
      assert(ok, rk)
    end
  end)
end)

describe("datamart.store", function()
  local dir
  before_each(function() dir = paths.tmpdir() end)
  after_each(function() os.execute("rm -rf " .. dir) end)

  it("creates message_events with exactly the fixture's schema", function()
    local _, schema = fixture_rows()
    local s = assert(store_mod.open(dir .. "/e.db"))
    s:close()
    local db = assert(sqlite.open(dir .. "/e.db"))
    assert.equal(schema, db:first("SELECT sql FROM sqlite_master WHERE name = 'message_events'").sql)
    db:close()
  end)
  it("opens the fixture itself and counts its distinct announcements", function()
    os.execute(("cp %s %s/f.db"):format(FIXTURE, dir))
    local s = assert(store_mod.open(dir .. "/f.db"))
    assert.equal(2782, s:count())
    assert.same({ "20230422", "20230423", "20230424" }, s:keys())
    assert.equal(236, s.per_key["20230422"])
    s:close()
  end)
  it("records once, clears a day for good, and flushes stale days", function()
    local s = assert(store_mod.open(dir .. "/e.db"))
    local a = { relpath = "/20230422/a", key = "20230422", time_sql = "2023-04-22 08:24:00" }
    local b = { relpath = "/20230423/b", key = "20230423" }
    assert.equal(2, #assert(s:record({ a, b, a })))
    assert.equal(0, #assert(s:record({ a })))
    assert.is_true(s:clear("20230422"))
    assert.equal(0, #assert(s:record({ a })), "a cleared day is not recorded again")
    assert.is_true(s:is_dispatched("20230422"))
    s:close()
    s = assert(store_mod.open(dir .. "/e.db"))
    assert.is_true(s:is_dispatched("20230422"), "the mark survives a restart")
    assert.equal(1, s:count())
    assert.same({ "20230423" }, assert(s:flush_stale("20230424")))
    assert.equal(0, s:count())
    assert.is_false(s:is_dispatched("20230422"))
    s:close()
  end)
  it("reads DB_FILE_PATH as a SQLAlchemy URL or a plain path", function()
    assert.equal("/data/event_database.db", store_mod.db_path("sqlite:////data/event_database.db"))
    assert.equal("event_cache.db", store_mod.db_path("sqlite:///event_cache.db"))
    assert.equal("x/y.db", store_mod.db_path("x/y.db"))
    assert.equal("event_cache.db", store_mod.db_path(nil))
    assert.is_nil((store_mod.db_path("postgresql://h/db")))
    assert.is_nil((store_mod.db_path("sqlite://")))
  end)
end)

describe("datamart.listener core over the real announcements", function()
  local dir
  before_each(function() dir = paths.tmpdir() end)
  after_each(function() os.execute("rm -rf " .. dir) end)

  local function core_with(emit, clock)
    local cfg = assert(expected.load())
    local s = assert(store_mod.open(dir .. "/e.db"))
    local c = listener.new({ store = s, expected = expected.cache(assert(expected.profile(cfg, "2023"))),
      emit = emit, days_to_stale = 100000, log = quiet_log(), backoff = { base = 1, max = 8 },
      now = clock and function() return clock.t end or nil, today = function() return "20230425" end })
    return c, s
  end

  local function replay(c, rows, batch)
    for i = 1, #rows, batch do
      local bodies = {}
      for j = i, math.min(#rows, i + batch - 1) do
        bodies[#bodies + 1] = message.body(rows[j].event_message, rows[j].event_timestmp)
      end
      assert(c:handle(bodies))
      c:run_dispatches()
    end
  end

  it("records the 707 distinct files once and dispatches the two complete days", function()
    local rows = fixture_rows()
    local emitted = {}
    local c, s = core_with(function(key) emitted[#emitted + 1] = key return true end)
    replay(c, rows, 10)
    assert.same({ "20230422", "20230424" }, emitted)
    -- only the incomplete day is left, with the time of each file's first announcement
    local first = {}
    for _, r in ipairs(rows) do
      if r.event_idempotency_key == "20230423" and not first[r.event_message] then first[r.event_message] = r.event_timestmp end
    end
    local db = assert(sqlite.open(dir .. "/e.db"))
    local got = assert(db:query("SELECT event_message, event_timestmp, event_idempotency_key FROM message_events ORDER BY event_id"))
    assert.equal(235, #got)
    for _, r in ipairs(got) do
      assert.equal("20230423", r.event_idempotency_key)
      assert.equal(first[r.event_message], r.event_timestmp)
    end
    db:close()
    assert.same({ "/20230423/WXO-DD/model_gem_global/15km/grib2/lat_lon/00/138/CMC_glb_PRATE_SFC_0_latlon.15x.15_2023042300_P138.grib2" },
      c:missing()["20230423"])
    assert.equal(2782, c.stats.received)
    assert.equal(707, c.stats.recorded + 0)
    s:close()
  end)

  it("acknowledges junk and unexpected files without recording them", function()
    local c, s = core_with(function() return true end)
    local r = assert(c:handle({ "junkjunkjunk",
      message.body("/20230422/WXO-DD/model_gem_regional/10km/grib2/06/001/CMC_reg_WIND_TGL_10_ps10km_2023042206_P001.grib2"),
      message.body("/20230422/WXO-DD/model_gem_regional/10km/grib2/06/001/CMC_reg_TMP_TGL_2_ps10km_2023042206_P001.grib2") }))
    assert.equal(1, r.malformed)
    assert.equal(1, r.ignored)
    assert.equal(1, r.recorded)
    assert.equal(1, s:count())
    s:close()
  end)

  it("keeps a day whose dispatch fails and retries it with backoff", function()
    local rows = fixture_rows()
    local clock = { t = 0 }
    local calls, fail_left = {}, 2
    local c, s = core_with(function(key)
      calls[#calls + 1] = key
      if key == "20230422" and fail_left > 0 then fail_left = fail_left - 1 return nil, "HTTP 500" end
      return true
    end, clock)
    replay(c, rows, 10)
    -- 20230422 failed once at completion; further attempts wait for the backoff
    assert.is_not_nil(c:pending()["20230422"])
    assert.is_true(s:has(rows[1].event_message))
    clock.t = clock.t + 1 -- first delay: base 1 s
    c:run_dispatches()
    assert.is_not_nil(c:pending()["20230422"], "second attempt failed too")
    clock.t = clock.t + 1
    c:run_dispatches()
    assert.is_not_nil(c:pending()["20230422"], "not yet due: the second delay is 2 s")
    clock.t = clock.t + 1
    c:run_dispatches()
    assert.is_nil(c:pending()["20230422"])
    assert.is_false(s:has(rows[1].event_message), "cleared after the 2xx")
    local n22 = 0
    for _, k in ipairs(calls) do if k == "20230422" then n22 = n22 + 1 end end
    assert.equal(3, n22)
    s:close()
  end)

  it("emits complete cached days at start, never a cleared one, and flushes stale days", function()
    local rows = fixture_rows()
    local c, s = core_with(function() return nil, "down" end)
    replay(c, rows, 50)
    s:close()
    local emitted = {}
    c, s = core_with(function(key) emitted[#emitted + 1] = key return true end)
    assert.same({ "20230422", "20230424" }, c:start())
    c:run_dispatches()
    assert.same({ "20230422", "20230424" }, emitted)
    s:close()
    c, s = core_with(function(key) emitted[#emitted + 1] = key return true end)
    assert.same({}, c:start())
    replay(c, rows, 50)
    assert.equal(2, #emitted, "redelivered announcements of cleared days change nothing")
    c.days_to_stale = 1 -- today 20230425: keys before 20230424 are stale
    assert.same({ "20230423" }, c:flush_stale())
    s:close()
  end)
end)

describe("datamart.dispatch and env", function()
  it("builds the original's dispatch JSON byte for byte", function()
    assert.equal('{"event_type": "run-cmc-grib-download", "client_payload": {"idem_key": "20230422", "message": "demo"}}',
      dispatch.body("20230422"))
    assert.equal("https://api.github.com/repos/bcgov/nr-rfc-grib-copy/dispatches", dispatch.url("bcgov", "nr-rfc-grib-copy"))
  end)
  local function E(t) return function(k) return t[k] end end
  it("builds the broker URL from CLOUDAMQP_URL or the AMPQ_/AMQP_ variables", function()
    assert.equal("amqps://anonymous:anonymous@hpfx.collab.science.gc.ca", (env.broker(E({ AMPQ_DOMAIN = "hpfx.collab.science.gc.ca" }))))
    assert.equal("amqps://u:p%40s@h", (env.broker(E({ AMQP_DOMAIN = "h", AMQP_USERNAME = "u", AMQP_PASSWORD = "p@s" }))))
    assert.equal("amqps://a:b@h", (env.broker(E({ AMPQ_DOMAIN = "h", AMPQ_USERNAME = "a", AMQP_USERNAME = "x", AMPQ_PASSWORD = "b" }))))
    assert.equal("amqp://a:b@h:19010", (env.broker(E({ AMPQ_DOMAIN = "h", AMPQ_USERNAME = "a", AMPQ_PASSWORD = "b", AMQP_SCHEME = "amqp", AMQP_PORT = "19010" }))))
    local url, user = env.broker(E({ CLOUDAMQP_URL = "amqp://bob:pw@127.0.0.1:19010/", AMPQ_DOMAIN = "h" }))
    assert.equal("amqp://bob:pw@127.0.0.1:19010", url, "pika's bare '/' is the default vhost")
    assert.equal("bob", user)
    assert.equal("amqps://u:p@h?heartbeat=600", (env.broker(E({ CLOUDAMQP_URL = "amqps://u:p@h/?heartbeat=600" }))))
    assert.equal("amqp://u:p@h/vh", (env.broker(E({ CLOUDAMQP_URL = "amqp://u:p@h/vh" }))))
    assert.equal("guest", select(2, env.broker(E({ CLOUDAMQP_URL = "amqp://127.0.0.1:19010" }))))
    local none, msg = env.broker(E({}))
    assert.is_nil(none)
    assert.matches("AMPQ_DOMAIN", msg)
  end)
  it("names the queue as the original", function()
    assert.equal("q_anonymous.bcgov_listener.cmc_gems.bcgov_rfc-DEV", env.queue_name("anonymous", E({})))
    assert.equal("q_u.bcgov_listener.cmc_gems.bcgov_rfc-PROD-debug", env.queue_name("u", E({ ZONE = "PROD", DEBUG = "true" })))
  end)
  it("names the missing GH_* variable and reads DAYS_TO_STALE as an integer", function()
    local _, missing = env.github(E({ GH_ORG = "o", GH_TOKEN = "t" }))
    assert.equal("GH_REPO", missing)
    assert.same({ org = "o", repo = "r", token = "t" }, env.github(E({ GH_ORG = "o", GH_REPO = "r", GH_TOKEN = "t" })))
    assert.equal(3, env.days_to_stale(E({})))
    assert.equal(7, env.days_to_stale(E({ DAYS_TO_STALE = "7" })))
    assert.is_nil((env.days_to_stale(E({ DAYS_TO_STALE = "seven" }))))
  end)
end)
