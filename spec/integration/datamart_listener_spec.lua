-- gfhost run datamart_listener through the shared RabbitMQ of spec/support/servers.sh
-- (GF_TEST_AMQP_URL, 127.0.0.1:19010): the 2,782 captured announcements of
-- ../shared/fixtures/datamart (2023-04-22..24) published in the datamart's body format and
-- routing keys, the 2023 profile, a stand-in GitHub API (spec/support/datamart_server.py).
-- Each test has its own exchange and queue. The broker restart is in
-- datamart_listener_restart_spec.lua (a private broker: restarting this one would disturb
-- other specs).
local servers = require("spec.support.servers")
local paths = require("spec.support.paths")
local files = require("spec.support.files")
local dm = require("spec.support.datamart")

local TOKEN = "ghp_specsecret0123456789"
local HTTP_PORT = 19128
local P138 = "/20230423/WXO-DD/model_gem_global/15km/grib2/lat_lon/00/138/CMC_glb_PRATE_SFC_0_latlon.15x.15_2023042300_P138.grib2"
local ROUTING = { "v02.post.*.WXO-DD.model_gem_regional.10km.grib2.*.*.#", "v02.post.*.WXO-DD.model_gem_global.15km.grib2.lat_lon.*.*.#" }

local function sleep(s) require("gf.task").sleep(s) end

describe("datamart_listener through RabbitMQ #integration", function()
  if servers.skip(_ENV) then return end
  local URL = os.getenv("GF_TEST_AMQP_URL") or "amqp://guest:guest@127.0.0.1:19010"
  local amqp = require("gf.amqp")
  local http = require("gf.http")
  local json = require("gf.json")
  local rows, first_time, tmp, exchange, zone, conn

  setup(function()
    rows = dm.fixture_rows()
    first_time = {}
    for _, r in ipairs(rows) do
      if not first_time[r.event_message] then first_time[r.event_message] = r.event_timestmp end
    end
  end)
  before_each(function()
    tmp = paths.tmpdir()
    local id = servers.uid()
    exchange, zone = "xpublic.dm" .. id, "SPEC" .. id
    conn = assert(amqp.connect(URL, { timeout = 10 }))
    -- the datamart's exchange; the queue as the listener declares it, so publishing can start first
    assert(conn:exchange_declare(exchange, { type = "topic", durable = true }))
    local q = "q_guest.bcgov_listener.cmc_gems.bcgov_rfc-" .. zone
    assert(conn:queue_declare(q, { durable = true }))
    for _, rk in ipairs(ROUTING) do assert(conn:queue_bind(q, exchange, rk)) end
  end)
  after_each(function()
    conn:queue_delete("q_guest.bcgov_listener.cmc_gems.bcgov_rfc-" .. zone)
    conn:exchange_delete(exchange)
    conn:close()
    os.execute("rm -rf " .. tmp)
  end)

  local function listener(gh, o)
    o = o or {}
    return dm.start_listener({ dir = tmp, url = URL, zone = zone, exchange = exchange, token = TOKEN,
      dispatch_url = gh.url .. "/repos/bcgov/nr-rfc-grib-copy/dispatches", port = o.port, idle = o.idle, state = o.state })
  end

  local function check_final_rows()
    local r, d = dm.db_rows(tmp .. "/events.db")
    assert.equal(235, #r)
    local seen = {}
    for _, row in ipairs(r) do
      assert.equal("20230423", row.event_idempotency_key)
      assert.equal(first_time[row.event_message], row.event_timestmp)
      assert.is_nil(seen[row.event_message], "recorded once")
      seen[row.event_message] = true
    end
    assert.same({ "20230422", "20230424" }, d)
  end

  it("replays the 2,782 announcements: exact rows, exact dispatches, a 500 kept and retried", function()
    local gh = dm.start({ dispatch_status = "500,204" })
    finally(function() gh:stop() end)
    local pid = listener(gh, { port = HTTP_PORT, idle = 1.5, state = tmp .. "/gfstate.db" })
    finally(function() if dm.alive(pid) then os.execute("kill -9 " .. pid) end end)
    dm.publish(conn, exchange, rows)
    -- the endpoints while it runs (after the stream, before its idle exit)
    local base = ("http://127.0.0.1:%d"):format(HTTP_PORT)
    local deadline = os.time() + 60
    local cnt
    repeat
      sleep(0.1)
      local r = http.get(base .. "/cached_msgs_cnt", { retry = false })
      cnt = r and r.status == 200 and json.decode(r.body).messageid
      assert(os.time() < deadline, "never settled: " .. (files.read(tmp .. "/err") or ""))
    until cnt == 235 and #gh:dispatches() == 3
    local h = assert(http.get(base .. "/healthz", { retry = false }))
    assert.equal(200, h.status)
    assert.same({ status = "ok" }, json.decode(h.body))
    assert.same({ message = "Hello World" }, json.decode(assert(http.get(base .. "/", { retry = false })).body))
    assert.same({ missing_struct = { ["20230423"] = { P138 } } },
      json.decode(assert(http.get(base .. "/missing_msgs", { retry = false })).body))
    -- the health record `gfhost serve` shows, while connected
    local st = assert(require("gf.state").open({ path = tmp .. "/gfstate.db" }))
    local hv
    repeat -- rewritten at most once a second while announcements arrive
      sleep(0.2)
      local hrec = st:get_meta("health/listener/q_guest.bcgov_listener.cmc_gems.bcgov_rfc-" .. zone)
      hv = hrec and (hrec.value or hrec)
      assert(os.time() < deadline, "no current health record")
    until hv and hv.last_announcement and #hv.missing_per_day == 1
      and hv.missing_per_day[1].day == "20230423" and hv.missing_per_day[1].missing == 1
    st:close()
    assert.is_true(hv.connected)
    assert.equal("datamart", hv.kind)
    assert.matches("^v02%.post%.", hv.last_announcement.topic)
    assert.same({ { day = "20230423", missing = 1 } }, hv.missing_per_day)
    dm.wait_exit(pid, 30, tmp .. "/err")
    local d = gh:dispatches()
    gh:stop()
    -- the first completion (20230422) gets the 500; its retry and 20230424 succeed, in either order
    assert.equal(3, #d)
    local got = {}
    for i, x in ipairs(d) do
      assert.equal("/repos/bcgov/nr-rfc-grib-copy/dispatches", x.path)
      local key = x.body:match('"idem_key": "(%d+)"')
      assert.equal(('{"event_type": "run-cmc-grib-download", "client_payload": {"idem_key": "%s", "message": "demo"}}'):format(key), x.body)
      assert.equal("token " .. TOKEN, x.headers.authorization)
      assert.equal("application/vnd.github+json", x.headers.accept)
      got[i] = key .. "/" .. x.status
    end
    assert.equal("20230422/500", got[1])
    local rest = { got[2], got[3] }
    table.sort(rest)
    assert.same({ "20230422/204", "20230424/204" }, rest)
    check_final_rows()
    local err = files.read(tmp .. "/err") or ""
    assert.is_nil(err:find(TOKEN, 1, true), "the token never reaches the log")
    assert.matches("dispatch failed; the day is kept and retried", err, 1, true)
    assert.matches("received=2782 reconnects=0 recorded=707", err, 1, true)
    -- everything was acknowledged
    assert.equal(0, assert(conn:queue_declare("q_guest.bcgov_listener.cmc_gems.bcgov_rfc-" .. zone, { passive = true })).message_count)
  end)

  it("kill -9 mid-replay, restart: every announcement once, no cleared day dispatched twice", function()
    local gh = dm.start({ dispatch_status = "204" })
    finally(function() gh:stop() end)
    local pid = listener(gh)
    finally(function() if dm.alive(pid) then os.execute("kill -9 " .. pid) end end)
    -- the first half of the stream (20230422 completes within it), killed as soon as that day
    -- is cleared (a kill between the 2xx and the clear's commit would send it again after the
    -- restart: at least once, by design, and harmless as grib_copy skips a done date)
    dm.publish(conn, exchange, { table.unpack(rows, 1, 1500) })
    local deadline = os.time() + 60
    while select(2, dm.db_rows(tmp .. "/events.db"))[1] ~= "20230422" do
      assert(os.time() < deadline, files.read(tmp .. "/err"))
      sleep(0.01)
    end
    os.execute("kill -9 " .. pid)
    dm.wait_exit(pid, 5)
    -- the rest arrives while it is down; the unacknowledged part of the first half is redelivered
    dm.publish(conn, exchange, { table.unpack(rows, 1501, #rows) })
    pid = listener(gh, { idle = 1.5 })
    dm.wait_exit(pid, 60, tmp .. "/err")
    local keys = {}
    for _, x in ipairs(gh:dispatches()) do keys[#keys + 1] = json.decode(x.body).client_payload.idem_key end
    gh:stop()
    assert.same({ "20230422", "20230424" }, keys)
    check_final_rows()
    assert.equal(0, assert(conn:queue_declare("q_guest.bcgov_listener.cmc_gems.bcgov_rfc-" .. zone, { passive = true })).message_count)
  end)

  it("--dry-run checks the broker and the passive exchange, consumes nothing", function()
    dm.publish(conn, exchange, { rows[1] })
    local r = require("spec.support.run").gfhost({ "run", "datamart_listener", "--profile", "2023", "--dry-run", "--port", "0" },
      { env = { GH_ORG = "o", GH_REPO = "r", GH_TOKEN = TOKEN, CLOUDAMQP_URL = URL, ZONE = zone, AMPQ_EXCHANGE = exchange } })
    assert.equal(0, r.code, r.stderr)
    assert.matches("exchange " .. exchange .. " exists", r.stdout, 1, true)
    assert.equal(1, assert(conn:queue_declare("q_guest.bcgov_listener.cmc_gems.bcgov_rfc-" .. zone, { passive = true })).message_count)
    r = require("spec.support.run").gfhost({ "run", "datamart_listener", "--dry-run", "--port", "0" },
      { env = { GH_ORG = "o", GH_REPO = "r", GH_TOKEN = TOKEN, CLOUDAMQP_URL = URL, AMPQ_EXCHANGE = "no-such-exchange" .. zone } })
    assert.equal(1, r.code)
    assert.matches("no-such-exchange", r.stderr, 1, true)
  end)
end)
