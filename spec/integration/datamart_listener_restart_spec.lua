-- datamart_listener through a broker restart: a private RabbitMQ on 127.0.0.1:19120 (the
-- datamart job's ports; spec/support/rabbitmq_private.sh), started here because the spec
-- restarts it (the shared broker of servers.sh serves other specs meanwhile). /healthz must go
-- 200, 503 while the broker is away, 200 again, and what is published after is recorded.
local paths = require("spec.support.paths")
local files = require("spec.support.files")
local dm = require("spec.support.datamart")

local BASE = 19120
local URL = ("amqp://guest:guest@127.0.0.1:%d"):format(BASE)
local HTTP_PORT = 19129
local TOKEN = "ghp_specsecret0123456789"

local function sleep(s) require("gf.task").sleep(s) end
local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

describe("datamart_listener across a broker restart #integration", function()
  if not (os.getenv("GF_TEST_SERVERS") and io.open("/usr/lib/rabbitmq/bin/rabbitmq-server")) then
    it("needs rabbitmq-server and the test servers", function() pending("GF_TEST_SERVERS unset or rabbitmq-server missing") end)
    return
  end
  local amqp = require("gf.amqp")
  local http = require("gf.http")
  local rmq_dir, tmp, rows
  local script = paths.root .. "/spec/support/rabbitmq_private.sh"
  local function ctl(args)
    return sh(("HOME=%s RABBITMQ_NODENAME=rabbit_dm%d@localhost ERL_EPMD_PORT=%d RABBITMQ_CTL_DIST_PORT_MIN=%d RABBITMQ_CTL_DIST_PORT_MAX=%d /usr/lib/rabbitmq/bin/rabbitmqctl -q %s")
      :format(rmq_dir, BASE, BASE + 2, BASE + 3, BASE + 7, args))
  end

  setup(function()
    rmq_dir = paths.tmpdir()
    tmp = paths.tmpdir()
    local out, ok = sh(("sh %s start %s %d"):format(script, rmq_dir, BASE))
    assert(ok, out)
    rows = dm.fixture_rows()
    local c = assert(amqp.connect(URL, { timeout = 10 }))
    assert(c:exchange_declare("xpublic", { type = "topic", durable = true }))
    c:close()
  end)
  teardown(function()
    sh(("sh %s stop %s %d"):format(script, rmq_dir, BASE))
    os.execute("rm -rf " .. rmq_dir .. " " .. tmp)
  end)

  local function publish(list)
    local c = assert(amqp.connect(URL, { timeout = 10 }))
    dm.publish(c, "xpublic", list)
    c:close()
  end

  it("reconnects after a broker restart: /healthz 200, 503, 200, and records what follows", function()
    local gh = dm.start({ dispatch_status = "204" })
    finally(function() gh:stop() end)
    local pid = dm.start_listener({ dir = tmp, url = URL, zone = "RESTART", exchange = "xpublic", token = TOKEN,
      dispatch_url = gh.url .. "/repos/bcgov/nr-rfc-grib-copy/dispatches", port = HTTP_PORT })
    finally(function() if dm.alive(pid) then os.execute("kill -9 " .. pid) end end)
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
    while #(dm.db_rows(tmp .. "/events.db")) < 2 do assert(os.time() < deadline, files.read(tmp .. "/err")) sleep(0.1) end
    local r = dm.db_rows(tmp .. "/events.db")
    assert.equal(rows[1].event_message, r[1].event_message)
    assert.equal(rows[3].event_message, r[2].event_message)
    os.execute("kill -TERM " .. pid)
    dm.wait_exit(pid, 30, tmp .. "/err")
    local err = files.read(tmp .. "/err") or ""
    assert.matches("broker connection lost; reconnecting", err, 1, true)
    assert.matches("reconnected to the broker", err, 1, true)
    gh:stop()
  end)
end)
