-- Seed data for the `gfhost serve` specs, the browser test and the bench: workflow runs, Cirrus
-- payloads of two collections-workflows (one last error holds a <script>), a listener health
-- record. seed(open) takes open(clock) -> a gf.state store using that clock, so every record
-- gets a known time relative to NOW (the real time when the seed runs, so "last hour" holds).
local M = {}

M.CW = "sentinel-2-l2a_cog"
M.OTHER_CW = "landsat-c2_mirror"
M.XSS = "<script>window.__xss = 1</script><img src=x onerror=\"window.__xss = 2\">Error: boom"
M.RUN = "example-0badc0de"

local function pid(cw, item)
  local c, w = cw:match("^(.*)_([^_]+)$")
  return ("%s/workflow-%s/%s"):format(c, w, item)
end
M.pid = pid

function M.seed(open, base)
  base = base or require("gf.time").now()
  local t = base
  local store = assert(open(function() return t end))
  local function at(dt) t = base + dt end
  -- runs
  at(-7200)
  assert(store:put_node("nightly-20261207", "fetch", { status = "completed", attempts = 1,
    started = t - 30 }))
  assert(store:put_node("nightly-20261207", "report", { status = "completed", attempts = 1,
    started = t - 5 }))
  at(-600)
  require("gf.flow.store").note_run(store, M.RUN, "example")
  assert(store:put_node(M.RUN, "describe[CYVR]", { status = "completed", attempts = 1,
    started = t - 1, output = { ok = true } }))
  at(-590)
  assert(store:put_node(M.RUN, "describe[CYYZ]", { status = "failed", attempts = 3,
    error = M.XSS, started = t - 2.5 }))
  assert(store:put_node(M.RUN, "describe[CYUL]", { status = "failed", attempts = 1,
    error = "timeout after 30 s", started = t - 30 }))
  at(-60)
  assert(store:put_node("busy-run", "a", { status = "running", attempts = 1, started = t }))
  assert(store:put_node("busy-run", "b", { status = "queued", attempts = 0 }))
  -- payloads: sentinel, by current state and last update
  local function p(dt, item, fn, ...)
    at(dt)
    assert(store[fn](store, pid(M.CW, item), ...))
  end
  p(-3 * 86400, "S2A_old_invalid", "set_invalid", "InvalidInput: no assets")
  p(-5 * 3600, "S2A_done_1", "set_completed", { "s3://out/S2A_done_1.json" })
  p(-4 * 3600, "S2A_done_2", "set_completed")
  p(-1800, "S2A_fail_xss", "set_failed", M.XSS)
  p(-1700, "S2A_fail_2", "set_failed", "States.Timeout: task timed out")
  p(-1200, "S2B_done_3", "set_completed")
  p(-900, "S2B_done_4", "set_completed")
  p(-300, "S2B_running", "claim", "arn:aws:states:us-west-2:123456789012:execution:cog:exec-1")
  p(-299, "S2B_running", "set_processing")
  p(-2.5 * 86400, "S2A_fail_old", "set_failed", "Error: old failure")
  -- the other collections-workflow
  at(-100)
  assert(store:set_completed(pid(M.OTHER_CW, "LC09_a")))
  assert(store:set_completed(pid(M.OTHER_CW, "LC09_b")))
  -- listener health, as the datamart listener writes it
  at(-5)
  assert(store:put_meta("health/listener/datamart", {
    kind = "datamart", connected = true, since = require("gf.state").iso8601(base - 3600),
    broker = "amqps://dd.weather.gc.ca/ (anonymous)",
    last_announcement = { at = require("gf.state").iso8601(base - 20),
      topic = "v02.post.20261208.WXO-DD.model_gem_global.15km.grib2",
      relpath = "/20261208/WXO-DD/model_gem_global/15km/grib2/lat_lon/00/003/x.grib2" },
    missing_per_day = { { day = "2026-12-08", missing = 0 }, { day = "2026-12-07", missing = 3 } },
  }))
  t = base
  return store, base
end

return M
