-- gf.amqp against Debian's rabbitmq-server (spec/support/rabbitmq.sh, started by servers.sh:
-- GF_TEST_AMQP_URL, GF_TEST_AMQPS_URL + GF_TEST_AMQP_CACERT, GF_TEST_RABBITMQCTL).
local servers = require("spec.support.servers")
local files = require("spec.support.files")

local URL = os.getenv("GF_TEST_AMQP_URL")
local CTL = os.getenv("GF_TEST_RABBITMQCTL")

-- Run a command on gf.proc (rabbitmqctl takes about a second: the loop goes on meanwhile).
-- Returns exit status, output.
local function sh(cmd)
  local r = assert(require("gf.proc").run(cmd, { timeout = 60 }))
  return r.code, r.stdout .. r.stderr
end

-- Close the broker side of the connection named `name` (connection_name), as an operator would.
local function kill_connection(name)
  local rc, out = sh(("%s list_connections -q pid client_properties"):format(CTL))
  assert(rc == 0, out)
  local pid
  for line in out:gmatch("[^\n]+") do
    if line:find(name, 1, true) then pid = line:match("^(<[^>]+>)") end
  end
  assert(pid, "connection " .. name .. " not listed:\n" .. out)
  rc, out = sh(("%s close_connection '%s' 'closed by the gf.amqp spec'"):format(CTL, pid))
  assert(rc == 0, out)
end

describe("gf.amqp on RabbitMQ #integration", function()
  if servers.skip(_ENV) then return end
  if not URL then
    it("needs RabbitMQ", function() pending("GF_TEST_AMQP_URL not set (rabbitmq-server missing?)") end)
    return
  end
  local amqp = require("gf.amqp")
  local task = require("gf.task")
  local uid = servers.uid

  local function connect(opts)
    return assert(amqp.connect(URL, opts))
  end

  -- A queue bound to a fresh topic exchange, with a consumer.
  local function setup_consumer(c, prefetch, qopts)
    local ex, q = "gf.x." .. uid(), "gf.q." .. uid()
    assert(c:exchange_declare(ex, { type = "topic", auto_delete = true }))
    local info = assert(c:queue_declare(q, qopts or { auto_delete = true }))
    assert.equal(q, info.queue)
    assert.equal(0, info.message_count)
    assert(c:queue_bind(q, ex, "t.#"))
    if prefetch then assert(c:qos(prefetch)) end
    local tag = assert(c:consume(q))
    return ex, q, tag
  end

  it("declares, binds, publishes, consumes and acks", function()
    local c = connect({ name = "gf-roundtrip" })
    local ex, q = "gf.x." .. uid(), "gf.q." .. uid()
    assert.is_true(c:exchange_declare(ex, { type = "topic", durable = true }))
    assert.is_true(c:exchange_declare(ex, { type = "topic", passive = true }))
    local info = assert(c:queue_declare(q, { durable = true }))
    assert.equal(q, info.queue)
    assert.is_true(c:queue_bind(q, ex, "v02.post.#"))
    assert.is_true(c:qos(10))
    local tag = assert(c:consume(q))
    assert.is_true(c:publish(ex, "v02.post.a.b", "20230422 https://x /a/b.grib2",
      { content_type = "text/plain", persistent = true, message_id = "m1", timestamp = 1682121600,
        headers = { sum = "d,abc", parts = 1, ratio = 0.5, flag = true, list = { 1, "two" },
          nested = { k = "v" } } }))
    assert.is_true(c:publish(ex, "other.key", "not routed here"))
    local m = assert(c:receive(5))
    assert.equal("20230422 https://x /a/b.grib2", m.body)
    assert.equal("v02.post.a.b", m.routing_key)
    assert.equal(ex, m.exchange)
    assert.equal(tag, m.consumer_tag)
    assert.is_false(m.redelivered)
    assert.equal(1, m.delivery_tag)
    local p = m.properties
    assert.equal("text/plain", p.content_type)
    assert.is_true(p.persistent)
    assert.equal(2, p.delivery_mode)
    assert.equal("m1", p.message_id)
    assert.equal(1682121600, p.timestamp)
    assert.same({ sum = "d,abc", parts = 1, ratio = 0.5, flag = true, list = { 1, "two" },
      nested = { k = "v" } }, p.headers)
    assert.is_true(c:ack(m.delivery_tag))
    local none, err, code = c:receive(0.3)
    assert.is_nil(none)
    assert.equal("timeout", err)
    assert.equal("timeout", code)
    assert.is_true(c:close())
    assert.is_false(c:is_open())
    -- acked means gone: a new consumer gets nothing; the queue is still there
    local c2 = connect()
    info = assert(c2:queue_declare(q, { passive = true }))
    assert.equal(0, info.message_count)
    assert.equal(0, c2:queue_delete(q))
    assert(c2:exchange_delete(ex))
    local gone, _, gcode = c2:queue_declare(q, { passive = true })
    assert.is_nil(gone)
    assert.equal("not_found", gcode)
    c2:close()
  end)

  it("redelivers a nacked message with redelivered = true, drops it without requeue", function()
    local c = connect()
    local ex, q = setup_consumer(c, 10)
    assert(c:publish(ex, "t.1", "first"))
    local m = assert(c:receive(5))
    assert.is_false(m.redelivered)
    assert.is_true(c:nack(m.delivery_tag, { requeue = true }))
    local again = assert(c:receive(5))
    assert.equal("first", again.body)
    assert.is_true(again.redelivered)
    assert.is_true(c:nack(again, { requeue = false }))
    assert.is_nil((c:receive(0.3)))
    assert.equal(0, assert(c:queue_declare(q, { passive = true })).message_count)
    c:close()
  end)

  it("holds at most prefetch unacked deliveries", function()
    local c = connect()
    local ex, q = setup_consumer(c, 3)
    for i = 1, 10 do assert(c:publish(ex, "t.n", "m" .. i)) end
    local got = {}
    while true do
      local m = c:receive(0.5)
      if not m then break end
      got[#got + 1] = m
    end
    assert.equal(3, #got)
    assert.same({ "m1", "m2", "m3" }, { got[1].body, got[2].body, got[3].body })
    -- the other 7 wait in the queue, ready
    assert.equal(7, assert(c:queue_declare(q, { passive = true })).message_count)
    assert(c:ack(got[1].delivery_tag))
    local m4 = assert(c:receive(5))
    assert.equal("m4", m4.body)
    assert.is_nil((c:receive(0.3)))
    assert(c:ack(got[3].delivery_tag, { multiple = true })) -- m2, m3
    assert(c:ack(m4))
    local rest = {}
    for _ = 1, 6 do
      local m = assert(c:receive(5))
      rest[#rest + 1] = m.body
      assert(c:ack(m))
    end
    assert.same({ "m5", "m6", "m7", "m8", "m9", "m10" }, rest)
    c:close()
  end)

  it("reports a missing exchange as not_found and keeps the connection usable", function()
    local c = connect()
    -- not auto-delete: the channel's end cancels the consumer, which would delete it
    local ex, q = setup_consumer(c, 5, {})
    local ok, err, code = c:exchange_declare("gf.missing." .. uid(), { passive = true })
    assert.is_nil(ok)
    assert.equal("not_found", code)
    assert.matches("404 NOT_FOUND", err)
    assert.is_true(c:is_open())
    -- the channel was reopened with its qos and consumer: traffic goes on
    assert.is_true(c:exchange_declare(ex, { type = "topic", passive = true }))
    assert(c:publish(ex, "t.after", "after the channel error"))
    local m = assert(c:receive(5))
    assert.equal("after the channel error", m.body)
    assert.is_true(c:ack(m))
    assert(c:queue_delete(q))
    c:close()
  end)

  it("reports an inequivalent re-declare as conflict", function()
    local c = connect()
    local q = "gf.q." .. uid()
    assert(c:queue_declare(q, { durable = true }))
    local ok, err, code = c:queue_declare(q, { durable = false })
    assert.is_nil(ok)
    assert.equal("conflict", code)
    assert.matches("406 PRECONDITION_FAILED", err)
    assert(c:queue_delete(q))
    c:close()
  end)

  it("refuses an ack of a delivery from a channel that was closed since", function()
    local c = connect()
    local ex, q = setup_consumer(c, 5, {})
    assert(c:publish(ex, "t.1", "x"))
    local m = assert(c:receive(5))
    assert.is_nil((c:exchange_declare("gf.missing." .. uid(), { passive = true })))
    local ok, err, code = c:ack(m)
    assert.is_nil(ok)
    assert.equal("network", code)
    assert.matches("belongs to a channel that was closed", err)
    -- the broker redelivers it on the new channel
    local again = assert(c:receive(5))
    assert.equal("x", again.body)
    assert.is_true(again.redelivered)
    assert.is_true(c:ack(again))
    assert(c:queue_delete(q))
    c:close()
  end)

  it("refuses a wrong password with auth, and a missing vhost with auth", function()
    local bad = URL:gsub("guest:guest@", "guest:wrong@")
    local c, err, code = amqp.connect(bad)
    assert.is_nil(c)
    assert.equal("auth", code)
    assert.matches("403 ACCESS_REFUSED", err)
    c, err, code = amqp.connect(URL .. "/no-such-vhost")
    assert.is_nil(c)
    assert.equal("auth", code)
    assert.matches("530 NOT_ALLOWED", err)
  end)

  it("returns network when the broker closes the connection, and reconnect() replays", function()
    local name = "gf-reconnect-" .. uid()
    local c = connect({ name = name })
    -- an exclusive queue dies with its connection: only a replayed declare + bind + consume
    -- brings the deliveries back
    local ex, q = setup_consumer(c, 2, { exclusive = true })
    assert(c:publish(ex, "t.1", "before"))
    local m = assert(c:receive(5))
    assert.equal("before", m.body)
    kill_connection(name)
    local none, err, code = c:receive(10)
    assert.is_nil(none)
    assert.equal("network", code)
    assert.matches("320 CONNECTION_FORCED", err)
    assert.is_false(c:is_open())
    local again, aerr, acode = c:ack(m)
    assert.is_nil(again)
    assert.equal("network", acode)
    assert.is_string(aerr)
    assert.is_true(c:reconnect({ attempts = 5, backoff = 0.2 }))
    assert.is_true(c:is_open())
    -- another connection publishes: the replayed queue, binding and consumer get it
    local p = connect()
    assert(p:publish(ex, "t.2", "after"))
    p:close()
    local after = assert(c:receive(5))
    assert.equal("after", after.body)
    assert.is_true(c:ack(after))
    assert.equal(0, assert(c:queue_declare(q, { passive = true })).message_count)
    c:close()
  end)

  it("replays a server-named queue under its new name", function()
    local name = "gf-renamed-" .. uid()
    local c = connect({ name = name })
    local ex = "gf.x." .. uid()
    assert(c:exchange_declare(ex, { type = "topic", auto_delete = true }))
    local old = assert(c:queue_declare("", { exclusive = true })).queue
    assert.matches("^amq%.gen%-", old)
    assert(c:queue_bind(old, ex, "t.#"))
    assert(c:consume(old))
    -- a re-declare and passive polls before the drop (replayed once, not at all)
    assert(c:exchange_declare(ex, { type = "topic", auto_delete = true }))
    assert(c:exchange_declare(ex, { type = "topic", passive = true }))
    assert(c:queue_declare(old, { passive = true }))
    kill_connection(name)
    assert.is_nil((c:receive(10)))
    assert.is_true(c:reconnect({ attempts = 5, backoff = 0.2 }))
    local new = c:queue_name(old)
    assert.matches("^amq%.gen%-", new)
    assert.are_not.equal(old, new)
    local p = connect()
    assert(p:publish(ex, "t.x", "to the new queue"))
    p:close()
    local m = assert(c:receive(5))
    assert.equal("to the new queue", m.body)
    assert(c:ack(m))
    c:close()
  end)

  it("reports a consumer the broker cancelled (queue deleted) once", function()
    local c = connect()
    local _, q = setup_consumer(c, 1, {})
    local other = connect()
    assert(other:queue_delete(q))
    other:close()
    local m, err, code = c:receive(5)
    assert.is_nil(m)
    assert.equal("not_found", code)
    assert.matches("broker cancelled consumer", err)
    assert.equal("timeout", select(3, c:receive(0.2)))
    assert.equal(1, c:status().consumers_cancelled)
    c:close()
  end)

  it("drops the connection when a task is cancelled while its method waits", function()
    local c = connect()
    local ok, err, code = task.timeout(0.0001, function()
      return c:queue_declare("gf.q." .. uid(), { auto_delete = true })
    end)
    assert.is_nil(ok)
    assert.equal("timeout", code)
    assert.is_string(err)
    -- its reply could be taken for the next method's: the connection is given up
    assert.is_false(c:is_open())
    local st = c:status()
    assert.equal("network", st.code)
    assert.matches("abandoned while waiting", st.err)
    assert.is_true(c:reconnect({ attempts = 3 }))
    assert(c:queue_declare("gf.q." .. uid(), { auto_delete = true }))
    c:close()
  end)

  it("keeps other tasks running while a consumer waits", function()
    local c = connect()
    local ex = setup_consumer(c, 1)
    local ticks, stop = 0, false
    local ticker = task.spawn(function()
      while not stop do
        task.sleep(0.02)
        ticks = ticks + 1
      end
    end)
    local publisher = task.spawn(function()
      task.sleep(0.3)
      local p = connect()
      assert(p:publish(ex, "t.late", "late"))
      p:close()
    end)
    local m = assert(c:receive(10))
    assert.equal("late", m.body)
    local waited_ticks = ticks
    stop = true
    assert.is_true(task.wait(ticker))
    assert.is_true(task.wait(publisher))
    -- the publisher slept 0.3 s before sending: the ticker went round all that time
    assert.is_true(waited_ticks >= 5, "ticker ran " .. waited_ticks .. " times")
    c:close()
  end)

  it("serves several tasks on one connection: a method while another task receives", function()
    local c = connect()
    local ex = setup_consumer(c, 10)
    local got
    local consumer = task.spawn(function() got = assert(c:receive(10)) end)
    task.sleep(0.05) -- the consumer is parked in receive
    local q2 = "gf.q." .. uid()
    assert(c:queue_declare(q2, { auto_delete = true }))
    assert(c:queue_bind(q2, ex, "t.#"))
    assert(c:publish(ex, "t.x", "to both"))
    assert.is_true(task.wait(consumer))
    assert.equal("to both", got.body)
    assert.equal(1, assert(c:queue_declare(q2, { passive = true })).message_count)
    c:close()
  end)

  it("keeps an idle connection open with heartbeats", function()
    local name = "gf-heartbeat-" .. uid()
    local c = connect({ heartbeat = 1, name = name })
    assert.equal(1, c:status().heartbeat)
    -- idle for 3.5 heartbeat intervals: the broker drops a client silent for 2
    task.sleep(3.5)
    assert.is_true(c:is_open())
    -- (the same wait with the loop blocked, so that no heartbeat goes out, ends in
    -- "connection lost: Connection reset by peer" here)
    local q = "gf.q." .. uid()
    assert(c:queue_declare(q, { auto_delete = true }))
    c:close()
  end)

  -- spec/support/tcpproxy.py on 127.0.0.1:19018 in front of the broker: {proc =, url =}
  local SIGKILL, SIGCONT, SIGSTOP = 9, 18, 19
  local function start_proxy()
    local ready = os.tmpname()
    os.remove(ready)
    local proxy = require("spec.support.paths").root .. "/spec/support/tcpproxy.py"
    local p = assert(require("gf.proc").spawn({ "python3", proxy, "--port", "19018", "--target",
      URL:match(":(%d+)$"), "--ready", ready }))
    for _ = 1, 200 do
      if files.read(ready) then break end
      task.sleep(0.05)
    end
    assert(files.read(ready), "tcpproxy.py did not start")
    os.remove(ready)
    return { proc = p, url = (URL:gsub(":%d+$", ":19018")) }
  end

  local function stop_proxy(p) -- its sockets close as it dies
    p.proc:kill(SIGCONT)
    p.proc:kill(SIGKILL)
    p.proc:wait("exit", 10)
    p.proc:reap()
  end

  it("notices a silent broker by its missing heartbeats", function()
    -- through a proxy that is then frozen (SIGSTOP): the TCP connection stays up, nothing
    -- comes back, no heartbeat either
    local proxy = start_proxy()
    local ok, err = pcall(function()
      local c = assert(amqp.connect(proxy.url, { heartbeat = 1 }))
      local ex = setup_consumer(c, 1)
      assert(c:publish(ex, "t.1", "through the proxy"))
      assert.equal("through the proxy", assert(c:receive(5)).body)
      proxy.proc:kill(SIGSTOP)
      local m, rerr, code = c:receive(30)
      assert.is_nil(m)
      assert.equal("network", code)
      assert.matches("no heartbeat from the broker for 2 s", rerr)
      assert.is_false(c:is_open())
      c:close()
    end)
    stop_proxy(proxy)
    assert(ok, err)
  end)

  it("reconnects with backoff once the broker can be reached again", function()
    local proxy = start_proxy()
    local c = assert(amqp.connect(proxy.url, { name = "gf-backoff-" .. uid() }))
    local ex, q = setup_consumer(c, 1, { exclusive = true })
    stop_proxy(proxy) -- the connection breaks; nothing listens on 19018 now
    local m, err, code = c:receive(10)
    assert.is_nil(m)
    assert.equal("network", code)
    assert.is_string(err)
    local failed, ferr, fcode = c:reconnect({ attempts = 2, backoff = 0.05 })
    assert.is_nil(failed)
    assert.equal("network", fcode)
    assert.matches("cannot connect to 127%.0%.0%.1:19018", ferr)
    local revived
    local reviver = task.spawn(function()
      task.sleep(0.6)
      revived = start_proxy()
    end)
    local ok, rerr = c:reconnect({ backoff = 0.1, max_backoff = 0.4 })
    assert.is_true(task.wait(reviver))
    local pok, perr = pcall(function()
      assert.is_true(ok, rerr)
      local p = connect()
      assert(p:publish(ex, "t.back", "back"))
      p:close()
      local got = assert(c:receive(5))
      assert.equal("back", got.body)
      assert(c:ack(got))
      assert.equal(0, assert(c:queue_declare(q, { passive = true })).message_count)
      c:close()
    end)
    stop_proxy(revived)
    assert(pok, perr)
  end)

  it("publishes with confirms, one by one and in a batch", function()
    local c = connect({ confirm = true })
    local ex, q = setup_consumer(c, 100, {})
    assert.is_true(c:publish(ex, "t.c", "confirmed"))
    for i = 1, 50 do assert(c:publish(ex, "t.c", "b" .. i, nil, { wait = false })) end
    assert.is_true(c:wait_confirms(10))
    local n = 0
    while true do
      local m = c:receive(0.5)
      if not m then break end
      n = n + 1
      assert(c:ack(m))
    end
    assert.equal(51, n)
    local ok, err, code = c:publish("gf.missing." .. uid(), "k", "lost")
    assert.is_nil(ok)
    assert.equal("not_found", code)
    assert.matches("404", err)
    -- the channel came back in confirm mode
    assert.is_true(c:publish(ex, "t.c", "after"))
    assert.equal("after", assert(c:receive(5)).body)
    assert(c:queue_delete(q))
    c:close()
  end)

  it("carries a large body in several frames", function()
    local c = connect()
    local ex = setup_consumer(c, 2)
    local body = ("0123456789abcdef"):rep(20000) .. "end" -- 320 KB: three frames
    assert(c:publish(ex, "t.big", body))
    local m = assert(c:receive(10))
    assert.equal(#body, #m.body)
    assert.is_true(m.body == body)
    c:close()
  end)

  describe("over TLS", function()
    local TLS_URL, CA = os.getenv("GF_TEST_AMQPS_URL"), os.getenv("GF_TEST_AMQP_CACERT")
    if not TLS_URL then
      it("needs the AMQPS listener", function() pending("GF_TEST_AMQPS_URL not set") end)
      return
    end

    it("connects with the CA that signed the broker's certificate", function()
      local c = assert(amqp.connect(TLS_URL, { cacert = CA }))
      local ex = setup_consumer(c, 2)
      assert(c:publish(ex, "t.tls", "over tls"))
      assert.equal("over tls", assert(c:receive(5)).body)
      c:close()
    end)

    it("checks the host name against the certificate", function()
      -- the certificate names localhost (and IP 127.0.0.1, which rabbitmq-c 0.11 does not read)
      local c, err, code = amqp.connect(TLS_URL:gsub("@localhost:", "@127.0.0.1:"), { cacert = CA })
      assert.is_nil(c)
      assert.equal("tls", code)
      assert.matches("hostname verification failed", err)
      local c2 = assert(amqp.connect(TLS_URL:gsub("@localhost:", "@127.0.0.1:"),
        { cacert = CA, verify = false }))
      c2:close()
      local c3, err3, code3 = amqp.connect(TLS_URL, { cacert = "/nonexistent/ca.pem" })
      assert.is_nil(c3)
      assert.equal("tls", code3)
      assert.matches("cannot read the CA certificates in /nonexistent/ca.pem", err3)
    end)

    it("refuses a certificate the system CAs do not vouch for with tls", function()
      local c, err, code = amqp.connect(TLS_URL)
      assert.is_nil(c)
      assert.equal("tls", code)
      assert.matches("verification failed", err)
    end)
  end)
end)
