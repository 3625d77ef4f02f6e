--- datamart_listener: record the MSC datamart's AMQP announcements in SQLite; dispatch the GRIB download when a day is complete; /healthz.
--
--   gfhost run datamart_listener [--port 8000] [--profile current|2023] [--dispatch-url URL]
--                                [--on-complete 'gfhost run grib_copy --model rdps --model gdps --date {key}']
--
-- The BC River Forecast Centre's backend/ listener (source-systems §3.4), with its flagged bugs
-- fixed. Broker: CLOUDAMQP_URL, else amqps://{AMPQ_USERNAME|anonymous}:{AMPQ_PASSWORD|anonymous}
-- @{AMPQ_DOMAIN}/ (AMQP_* accepted too). Exchange AMPQ_EXCHANGE or xpublic, declared passive;
-- queue q_{user}.bcgov_listener.cmc_gems.bcgov_rfc-{ZONE}[-debug] (durable), bound with the
-- profile's routing keys (config/datamart/profiles.lua); prefetch 10, manual ack.
-- Each batch of announcements is parsed and the expected files recorded in message_events
-- (DB_FILE_PATH, sqlite:/// URL or path) in one committed transaction BEFORE the batch is
-- acknowledged; a redelivery is recognised and skipped. When every expected file of a day
-- (the path's first component) is recorded, the day is POSTed to GitHub's repository_dispatch
-- (GH_ORG, GH_REPO, GH_TOKEN; --dispatch-url to redirect) or --on-complete runs; on success
-- the day's rows are cleared and the day is remembered as dispatched; otherwise it is retried
-- with exponential backoff. Days older than DAYS_TO_STALE are flushed. HTTP on --port:
-- /healthz (200 while the broker connection is up, else 503), /, /cached_msgs_cnt,
-- /missing_msgs. Exit 2 for bad options or a missing variable (named).
local args = require("gf.args")
local log = require("gf.log")
local task = require("gf.task")
local time = require("gf.time")
local host = require("gf.host")
local env = require("datamart.env")
local expected = require("datamart.expected")
local store_mod = require("datamart.store")
local listener = require("datamart.listener")
local dispatch = require("datamart.dispatch")

local opts = args.parse({
  name = "datamart_listener", version = "1.0.0", env_prefix = "GF_DATAMART_LISTENER",
  description = "Record the MSC datamart's announcements; dispatch the GRIB download of each complete day.",
  options = {
    { name = "port", type = "integer", default = 8000, help = "HTTP port of /healthz and the API (0: no HTTP server)" },
    { name = "bind", type = "string", default = "0.0.0.0", help = "HTTP bind address (the pod's probes need more than loopback)" },
    { name = "profile", type = "string", env = "DATAMART_PROFILE", help = "profile of config/datamart/profiles.lua (default: its default, 'current')" },
    { name = "profiles", type = "file", help = "profiles file (default config/datamart/profiles.lua)" },
    { name = "db", type = "string", env = "DB_FILE_PATH", default = "sqlite:///event_cache.db", help = "SQLite database: sqlite:///relative.db, sqlite:////absolute.db or a path" },
    { name = "exchange", type = "string", env = "AMPQ_EXCHANGE", default = "xpublic" },
    { name = "prefetch", type = "integer", default = 10 },
    { name = "dispatch-url", type = "string", help = "POST the dispatch here instead of https://api.github.com/repos/{GH_ORG}/{GH_REPO}/dispatches" },
    { name = "on-complete", type = "string", help = "run this shell command for a complete day instead of the dispatch ({key} = YYYYMMDD)" },
    { name = "retry-base", type = "number", default = 2, help = "first retry delay of a failed dispatch, seconds (doubles)" },
    { name = "retry-max", type = "number", default = 300, help = "longest retry delay, seconds" },
    { name = "heartbeat", type = "integer", default = 60, help = "AMQP heartbeat, seconds" },
    { name = "exit-when-idle", type = "number", hidden = true, help = "stop after this many seconds without a message and with no dispatch pending (replays, benchmarks)" },
    { name = "state", type = "string", env = "GFHOST_STATE", help = "also report health (connection, last announcement, missing files per day) to this gf.state (SQLite path or dynamodb://TABLE) for `gfhost serve`" },
    { name = "dry-run", type = "boolean", help = "check the configuration, connect and declare passively, then stop; nothing is bound, consumed or written" },
  },
}, ...)

local function fail(msg) host.fail(msg, 2) end

-- environment (the original's bugs: the required check was dead code; DAYS_TO_STALE a string)
local emit, emit_desc
if opts.on_complete then
  emit = dispatch.command(opts.on_complete)
  emit_desc = "command: " .. opts.on_complete
else
  local gh, missing = env.github()
  if not gh then fail(("the environment variable %s is required (GH_ORG, GH_REPO, GH_TOKEN; or give --on-complete)"):format(missing)) end
  log.secret(gh.token)
  local url = opts.dispatch_url or dispatch.url(gh.org, gh.repo)
  emit = dispatch.github({ url = url, token = gh.token })
  emit_desc = "POST " .. require("gf.http").redact_url(url)
end
local days_to_stale, derr = env.days_to_stale()
if not days_to_stale then fail(derr) end
local broker, user = env.broker()
if not broker then fail(broker == nil and user or "broker") end
do -- the password never reaches a log line
  local p = require("gf.http").parse_url(broker)
  if p and p.password and p.password ~= "" and p.password ~= "anonymous" and p.password ~= "guest" then log.secret(p.password) end
end
local queue = env.queue_name(user)
local ack_enabled = (os.getenv("MESSAGE_ACK") or "1") ~= "" and env.truthy(os.getenv("MESSAGE_ACK") or "1")
if opts.prefetch < 1 then fail("--prefetch must be >= 1") end

local cfg, cerr = expected.load(opts.profiles)
if not cfg then fail(cerr) end
local profile, perr = expected.profile(cfg, opts.profile)
if not profile then fail("--profile: " .. perr) end
local db_path, dberr = store_mod.db_path(opts.db)
if not db_path then fail(dberr) end

local ok_amqp, amqp = pcall(require, "gf.amqp")
if not ok_amqp then host.fail("datamart_listener needs gf.amqp, which this build lacks (" .. tostring(amqp):match("^[^\n]*") .. ")", 1) end

local function redacted_broker() return require("gf.http").redact_url(broker) end

local function declare(conn)
  local ok, err = conn:exchange_declare(opts.exchange, { type = "topic", passive = true, durable = true })
  if not ok then return nil, ("exchange %s: %s"):format(opts.exchange, tostring(err)) end
  if opts.dry_run then return true end
  ok, err = conn:queue_declare(queue, { durable = true, auto_delete = false })
  if not ok then return nil, ("queue %s: %s"):format(queue, tostring(err)) end
  for _, rk in ipairs(profile.routing_keys) do
    ok, err = conn:queue_bind(queue, opts.exchange, rk)
    if not ok then return nil, ("bind %s: %s"):format(rk, tostring(err)) end
  end
  ok, err = conn:qos(opts.prefetch)
  if not ok then return nil, "qos: " .. tostring(err) end
  ok, err = conn:consume(queue)
  if not ok then return nil, "consume: " .. tostring(err) end
  return true
end

if opts.dry_run then
  local conn, err = amqp.connect(broker, { heartbeat = opts.heartbeat, timeout = 30 })
  if not conn then host.fail(("broker %s: %s"):format(redacted_broker(), tostring(err)), 1) end
  local ok, derr2 = declare(conn)
  conn:close()
  if not ok then host.fail(derr2, 1) end
  io.stdout:write(("dry run: broker %s ok; exchange %s exists; would consume %s bound to %s; profile %s (%d files a day); db %s; on complete: %s\n")
    :format(redacted_broker(), opts.exchange, queue, table.concat(profile.routing_keys, ", "), opts.profile or cfg.default,
      expected.cache(profile)("20000101").n, db_path, emit_desc))
  return 0
end

local store, serr = store_mod.open(db_path)
if not store then host.fail(serr, 1) end
local core = listener.new({ store = store, expected = expected.cache(profile), emit = emit,
  days_to_stale = days_to_stale, backoff = { base = opts.retry_base, max = opts.retry_max } })

local state = { connected = false, stop = false, last_message = time.monotonic(), batches = 0, reconnects = 0 }

-- HTTP endpoints
local srv
if opts.port ~= 0 then
  local ok_srv, server = pcall(require, "gf.server")
  if not ok_srv then host.fail("datamart_listener needs gf.server for --port, which this build lacks (--port 0 runs without HTTP)", 1) end
  local router = server.router()
  router:get("/healthz", function()
    if state.connected then return 200, { status = "ok" } end
    return 503, { status = "error" }
  end)
  router:get("/", function() return 200, { message = "Hello World" } end)
  router:get("/cached_msgs_cnt", function() return 200, { messageid = store:count() } end)
  router:get("/missing_msgs", function()
    local json = require("gf.json")
    local m = json.object()
    for k, list in pairs(core:missing()) do m[k] = json.array(list) end
    return 200, { missing_struct = m }
  end)
  local lerr
  srv, lerr = server.listen({ bind = opts.bind, port = opts.port }, router)
  if not srv then host.fail(("HTTP server on %s:%d: %s"):format(opts.bind, opts.port, tostring(lerr)), 1) end
  log.info("HTTP endpoints up", { bind = opts.bind, port = srv.port })
end

-- health for `gfhost serve` (--state): written on every connection change, and at most once a
-- second while announcements arrive (else every 30 s)
local health_store = opts.state and not opts.dry_run and require("gf.flow.cli").open_store(opts.state)
local health_key = "health/listener/" .. queue
local function write_health()
  if not health_store then return end
  local days = {}
  for day, list in pairs(core:missing()) do days[#days + 1] = { day = day, missing = #list } end
  table.sort(days, function(a, b) return a.day > b.day end)
  while #days > 31 do days[#days] = nil end
  local ok, herr = health_store:put_meta(health_key, { kind = "datamart", connected = state.connected,
    since = state.since, broker = redacted_broker(), last_announcement = state.last_announcement,
    missing_per_day = days, last_error = state.last_error })
  if not ok then log.warn("health record not written", { error = herr }) end
end
local function set_connected(up, err)
  if state.connected ~= up then state.since = time.iso8601(os.time()) end
  state.connected = up
  if err then state.last_error = tostring(err) end
  write_health()
end

-- start: stale flush and the complete cached days (the original's startup)
local queued = core:start()
log.info("listener starting", { broker = redacted_broker(), queue = queue, exchange = opts.exchange,
  profile = opts.profile or cfg.default, db = db_path, cached_rows = store:count(), queued = #queued,
  on_complete = emit_desc, days_to_stale = days_to_stale })

-- dispatcher: runs the due dispatches, sleeps until the next one
local dispatcher = task.spawn(function()
  while not state.stop do
    core:run_dispatches()
    local d = core:next_due_in()
    task.sleep(math.max(0.05, math.min(d or 0.5, 0.5)))
  end
end)

-- consumer
local conn
local function connect_loop()
  local delay = 1
  while not state.stop do
    local c, err = amqp.connect(broker, { heartbeat = opts.heartbeat, timeout = 30 })
    if c then
      local ok, derr3 = declare(c)
      if ok then
        conn = c
        set_connected(true)
        log.info("connected to the broker", { queue = queue })
        return true
      end
      c:close()
      err = derr3
    end
    state.last_error = tostring(err)
    log.error("broker connection failed; retrying", { error = err, retry_in_s = delay })
    task.sleep(delay)
    delay = math.min(delay * 2, 60)
  end
end

local function handle_batch(msgs)
  local bodies = {}
  for i, m in ipairs(msgs) do bodies[i] = m.body end
  local res, err = core:handle(bodies)
  while not res do
    -- nothing committed: the batch is not acknowledged; try again (the broker keeps it)
    log.error("could not record the batch; retrying", { error = err, messages = #msgs })
    task.sleep(1)
    res, err = core:handle(bodies)
  end
  if ack_enabled then
    for _, m in ipairs(msgs) do
      local ok, aerr = conn:ack(m.delivery_tag)
      if not ok then
        log.warn("ack failed (the broker will redeliver; harmless)", { error = aerr })
        break
      end
    end
  end
  state.batches = state.batches + 1
  state.last_ack = time.monotonic()
  local last = msgs[#msgs]
  state.last_announcement = { at = time.iso8601(os.time()), topic = last.routing_key }
end

local last_report = time.monotonic()
local function report(final)
  local s = core.stats
  local fields = { received = s.received, recorded = s.recorded, duplicates = s.duplicate, ignored = s.ignored,
    malformed = s.malformed, dispatched = core.dispatched, dispatch_failures = core.failures,
    cached_rows = store:count(), pending = 0, reconnects = state.reconnects }
  for _ in pairs(core.queue) do fields.pending = fields.pending + 1 end
  if state.first_delivery and state.last_ack then -- first delivery to last ack (benchmarks)
    fields.ingest_s = tonumber(("%.3f"):format(state.last_ack - state.first_delivery))
  end
  log.info(final and "listener stopped" or "listener progress", fields)
end

connect_loop()
while not state.stop do
  local msg, err, code = conn:receive(math.min(1, opts.exit_when_idle or 1))
  if msg then
    state.last_message = time.monotonic()
    state.first_delivery = state.first_delivery or state.last_message
    local batch = { msg }
    while #batch < opts.prefetch do
      local m2, e2, c2 = conn:receive(0)
      if not m2 then
        if c2 and c2 ~= "timeout" then err, code = e2, c2 end
        break
      end
      batch[#batch + 1] = m2
    end
    handle_batch(batch)
  end
  if not msg and code ~= "timeout" or (code and code ~= "timeout") then
    set_connected(false, err)
    log.warn("broker connection lost; reconnecting", { error = err, code = code })
    state.reconnects = state.reconnects + 1
    local ok, rerr = conn:reconnect()
    if ok then
      set_connected(true)
      log.info("reconnected to the broker")
    else
      log.error("reconnect failed; connecting afresh", { error = rerr })
      pcall(conn.close, conn)
      connect_loop()
    end
  end
  if time.monotonic() - last_report > 60 then report(false) last_report = time.monotonic() end
  local since_health = time.monotonic() - (state.health_at or 0)
  if health_store and (since_health > 30 or (since_health > 1 and state.last_ack
      and state.last_ack > (state.health_at or 0))) then
    state.health_at = time.monotonic()
    write_health()
  end
  if opts.exit_when_idle and time.monotonic() - state.last_message > opts.exit_when_idle and next(core.queue) == nil then
    state.stop = true
  end
end

task.wait(dispatcher)
if conn then pcall(conn.close, conn) end
if srv then srv:close() end
report(true)
if health_store then
  set_connected(false)
  health_store:close()
end
store:close()
return 0
