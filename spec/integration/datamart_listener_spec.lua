-- gfhost run datamart_listener through a real RabbitMQ: the 2,782 captured announcements of
-- ../shared/fixtures/datamart (2023-04-22..24) are published in the datamart's body format and
-- routing keys onto xpublic, the listener runs with the 2023 profile and a stand-in GitHub API
-- (spec/support/datamart_server.py). The spec starts its own broker on 127.0.0.1:19120 (the
-- datamart job's ports; spec/support/rabbitmq_private.sh) because it restarts it.
local paths = require("spec.support.paths")
local files = require("spec.support.files")
local run = require("spec.support.run")
local dm = require("spec.support.datamart")
local sqlite = require("gf.sqlite")
local message = require("datamart.message")

local FIXTURE = paths.fixtures .. "/datamart/amqp_events_20230422-24.db"
local BASE = tonumber(os.getenv("GF_DATAMART_RMQ_PORT") or "19120")
local URL = ("amqp://guest:guest@127.0.0.1:%d"):format(BASE)
local HTTP_PORT = BASE + 8
local TOKEN = "ghp_specsecret0123456789"
local P138 = "/20230423/WXO-DD/model_gem_global/15km/grib2/lat_lon/00/138/CMC_glb_PRATE_SFC_0_latlon.15x.15_2023042300_P138.grib2"

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok, code
end

local function sleep(s) require("gf.task").sleep(s) end

local function fixture_rows()
  local db = assert(sqlite.open(FIXTURE, { readonly = true, wal = false }))
  local rows = assert(db:query("SELECT * FROM message_events ORDER BY event_id"))
  db:close()
  return rows
end

describe("datamart_listener through RabbitMQ #integration", function()
  local have_amqp = pcall(require, "gf.amqp")
  local have_server = pcall(require, "gf.server")
  if not (have_amqp and have_server) then
    it("needs gf.amqp and gf.server", function() pending("this build lacks gf.amqp or gf.server") end)
    return
  end
  if not io.open("/usr/lib/rabbitmq/bin/rabbitmq-server") then
    it("needs rabbitmq-server", function() pending("Debian rabbitmq-server is not installed") end)
    return
  end
  local amqp = require("gf.amqp")
  local http = require("gf.http")
  local json = require("gf.json")
  local rmq_dir, tmp, rows, first_time
  local script = paths.root .. "/spec/support/rabbitmq_private.sh"

  local function broker(cmd) return sh(("sh %s %s %s %d"):format(script, cmd, rmq_dir, BASE)) end
  local function ctl(args)
    return sh(("HOME=%s RABBITMQ_NODENAME=rabbit_dm%d@localhost ERL_EPMD_PORT=%d RABBITMQ_CTL_DIST_PORT_MIN=%d RABBITMQ_CTL_DIST_PORT_MAX=%d /usr/lib/rabbitmq/bin/rabbitmqctl -q %s")
      :format(rmq_dir, BASE, BASE + 2, BASE + 3, BASE + 7, args))
  end

  setup(function()
    rmq_dir = paths.tmpdir()
    local out, ok = broker("start")
    assert(ok, out)
    rows = fixture_rows()
    first_time = {}
    for _, r in ipairs(rows) do
      if not first_time[r.event_message] then first_time[r.event_message] = r.event_timestmp end
    end
    local c = assert(amqp.connect(URL, { timeout = 10 }))
    assert(c:exchange_declare("xpublic", { type = "topic", durable = true }))
    c:close()
  end)
  teardown(function()
    broker("stop")
    os.execute("rm -rf " .. rmq_dir)
  end)
  before_each(function() tmp = paths.tmpdir() end)
  after_each(function() os.execute("rm -rf " .. tmp) end)

  local function publish(list)
    local c = assert(amqp.connect(URL, { timeout = 10 }))
    for _, r in ipairs(list) do
      assert(c:publish("xpublic", message.routing_key(r.event_message),
        message.body(r.event_message, r.event_timestmp), { content_type = "text/plain", persistent = true }))
    end
    c:close()
  end

  local function start_listener(o)
    local envs = { "GH_ORG=bcgov", "GH_REPO=nr-rfc-grib-copy", "GH_TOKEN=" .. TOKEN, "CLOUDAMQP_URL=" .. URL,
      "ZONE=" .. o.zone, "DAYS_TO_STALE=100000", "DB_FILE_PATH=sqlite:///" .. tmp .. "/events.db" }
    local a = { paths.gfhost, "run", "datamart_listener", "--profile", "2023", "--dispatch-url", o.gh.url .. "/repos/bcgov/nr-rfc-grib-copy/dispatches",
      "--retry-base", "0.2", "--bind", "127.0.0.1", "--port", tostring(o.port or 0) }
    if o.idle then a[#a + 1] = "--exit-when-idle" a[#a + 1] = tostring(o.idle) end
    for i, x in ipairs(a) do a[i] = run.shquote(x) end
    local cmd = ("cd %s && env %s %s >>%s/out 2>>%s/err & echo $!"):format(tmp, table.concat(envs, " "), table.concat(a, " "), tmp, tmp)
    local p = assert(io.popen(cmd))
    local pid = tonumber(p:read("l"))
    p:close()
    return pid
  end

  local function alive(pid) return os.execute("kill -0 " .. pid .. " 2>/dev/null") == true end
  local function wait_exit(pid, secs)
    local deadline = os.time() + secs
    while alive(pid) do
      assert(os.time() < deadline, "listener did not stop: " .. (files.read(tmp .. "/err") or ""))
      sleep(0.1)
    end
  end
  local function db_rows()
    local db = assert(sqlite.open(tmp .. "/events.db", { wal = true }))
    local r = assert(db:query("SELECT event_message, event_timestmp, event_idempotency_key FROM message_events ORDER BY event_id"))
    local d = assert(db:query("SELECT event_idempotency_key FROM gf_dispatched_days ORDER BY 1"))
    db:close()
    return r, d
  end
  local function check_final_rows()
    local r, d = db_rows()
    assert.equal(235, #r)
    local seen = {}
    for _, row in ipairs(r) do
      assert.equal("20230423", row.event_idempotency_key)
      assert.equal(first_time[row.event_message], row.event_timestmp)
      assert.is_nil(seen[row.event_message], "recorded once")
      seen[row.event_message] = true
    end
    assert.same({ { event_idempotency_key = "20230422" }, { event_idempotency_key = "20230424" } }, d)
  end

  it("replays the 2,782 announcements: exact rows, exact dispatches, a 500 kept and retried", function()
    local gh = dm.start({ dispatch_status = "500,204" })
    local pid = start_listener({ zone = "REPLAY", gh = gh, idle = 3, port = HTTP_PORT })
    -- the queue exists once the listener declared it; publish then
    local deadline = os.time() + 20
    while not ctl("list_queues name"):find("q_guest.bcgov_listener.cmc_gems.bcgov_rfc-REPLAY", 1, true) do
      assert(os.time() < deadline, "queue never declared: " .. (files.read(tmp .. "/err") or ""))
      sleep(0.1)
    end
    publish(rows)
    -- endpoints while running (after the stream, before the idle exit)
    deadline = os.time() + 60
    local cnt
    repeat
      sleep(0.2)
      local r = http.get(("http://127.0.0.1:%d/cached_msgs_cnt"):format(HTTP_PORT), { retry = false })
      cnt = r and r.status == 200 and json.decode(r.body).messageid
      assert(os.time() < deadline, "never settled")
    until cnt == 235 and #gh:dispatches() == 3
    local h = assert(http.get(("http://127.0.0.1:%d/healthz"):format(HTTP_PORT), { retry = false }))
    assert.equal(200, h.status)
    assert.same({ status = "ok" }, json.decode(h.body))
    local root = assert(http.get(("http://127.0.0.1:%d/"):format(HTTP_PORT), { retry = false }))
    assert.same({ message = "Hello World" }, json.decode(root.body))
    local miss = assert(http.get(("http://127.0.0.1:%d/missing_msgs"):format(HTTP_PORT), { retry = false }))
    assert.same({ missing_struct = { ["20230423"] = { P138 } } }, json.decode(miss.body))
    wait_exit(pid, 30)
    local d = gh:dispatches()
    gh:stop()
    assert.equal(3, #d)
    -- the first completion (20230422) gets the 500; its retry and 20230424 succeed, in either order
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
  end)

  it("kill -9 mid-replay, restart: every announcement once, no cleared day dispatched twice", function()
    local gh = dm.start({ dispatch_status = "204" })
    local pid = start_listener({ zone = "CRASH", gh = gh })
    local deadline = os.time() + 20
    while not ctl("list_queues name"):find("bcgov_rfc-CRASH", 1, true) do
      assert(os.time() < deadline) sleep(0.1)
    end
    publish(rows)
    -- kill it once the first day is dispatched and the stream is still flowing
    deadline = os.time() + 60
    while #gh:dispatches() < 1 do assert(os.time() < deadline, files.read(tmp .. "/err")) sleep(0.02) end
    os.execute("kill -9 " .. pid)
    wait_exit(pid, 5)
    local r1 = db_rows()
    pid = start_listener({ zone = "CRASH", gh = gh, idle = 3 })
    wait_exit(pid, 60)
    local d = gh:dispatches()
    gh:stop()
    local keys = {}
    for _, x in ipairs(d) do keys[#keys + 1] = json.decode(x.body).client_payload.idem_key end
    assert.same({ "20230422", "20230424" }, keys)
    check_final_rows()
    assert(#r1 <= 707)
  end)

  it("reconnects after a broker restart: /healthz 200, 503, 200, and records what follows", function()
    local gh = dm.start({ dispatch_status = "204" })
    local pid = start_listener({ zone = "RESTART", gh = gh, port = HTTP_PORT })
    local function health()
      local r = http.get(("http://127.0.0.1:%d/healthz"):format(HTTP_PORT), { retry = false, timeout = 2 })
      return r and r.status
    end
    local function wait_health(want)
      local deadline = os.time() + 60
      while health() ~= want do
        assert(os.time() < deadline, ("healthz never %d: %s"):format(want, files.read(tmp .. "/err") or ""))
        sleep(0.1)
      end
    end
    wait_health(200)
    publish({ rows[1] })
    local out, ok = ctl("stop_app")
    assert(ok, out)
    wait_health(503)
    out, ok = ctl("start_app")
    assert(ok, out)
    wait_health(200)
    publish({ rows[3] })
    local deadline = os.time() + 30
    while #(db_rows()) < 2 do assert(os.time() < deadline, files.read(tmp .. "/err")) sleep(0.1) end
    local r = db_rows()
    assert.equal(rows[1].event_message, r[1].event_message)
    assert.equal(rows[3].event_message, r[2].event_message)
    os.execute("kill -TERM " .. pid)
    wait_exit(pid, 30)
    gh:stop()
  end)
end)
