--- gf.amqp: an AMQP 0-9-1 client (rabbitmq-c) on the host loop. docs/amqp.md has the details.
--
-- connect(url, opts) -> conn | nil, msg, code
--     url: amqp://user:pass@host:port/vhost or amqps://... (TLS, verified against the system
--     CAs). opts: heartbeat (s, 60; 0 off), timeout (s, 30: connect, login, each method),
--     name (connection_name shown by the broker), cacert (PEM file instead of the system
--     CAs), verify (true), confirm (false: publisher confirms), frame_max (131072).
-- parse_url(url) -> {scheme, host, port, user, password, vhost, tls, query = {}} | nil, msg
--
-- conn:exchange_declare(name, {type = "direct", passive, durable, auto_delete, internal,
--     arguments}) -> true | nil, msg, code
-- conn:queue_declare(name, {passive, durable, exclusive, auto_delete, arguments})
--     -> {queue =, message_count =, consumer_count =} | nil, msg, code
-- conn:queue_bind(queue, exchange, routing_key, arguments) / queue_unbind(...) -> true | nil..
-- conn:queue_delete(name, {if_unused, if_empty}) / queue_purge(name) -> messages | nil, ...
-- conn:exchange_delete(name, {if_unused}) -> true | nil, ...
-- conn:qos(prefetch_count) -> true | nil, ...
-- conn:consume(queue, {tag, no_ack = false, exclusive, arguments}) -> consumer_tag | nil, ...
-- conn:cancel(tag) -> true | nil, ...
-- conn:receive(timeout) -> msg | nil, msg, code          timeout nil: wait for ever
--     msg = {body, routing_key, exchange, delivery_tag, redelivered, consumer_tag,
--            properties = {content_type, headers, delivery_mode, persistent, ...}}
-- conn:ack(tag, {multiple}) / conn:nack(tag, {requeue = true, multiple}) -> true | nil, ...
-- conn:publish(exchange, routing_key, body, properties, {mandatory, wait = true})
--     -> true | nil, msg, code   (with confirms on, waits for the broker's ack unless
--     wait = false; then conn:wait_confirms(timeout) -> true | nil, msg, code)
-- conn:confirm_select() -> true | nil, ...
-- conn:reconnect({attempts, backoff = 0.5, max_backoff = 30}) -> true | nil, msg, code
--     new connection, every declaration, binding, qos, confirm mode and consumer replayed
-- conn:is_open(), conn:status(), conn:close() -> true
--
-- Codes: "network", "timeout", "auth", "not_found", "conflict", "protocol", "tls".
-- Misuse (wrong argument types, unknown options, a closed conn) raises.
local core = require("gf.amqp.core")
local tcore = require("gf.task.core")

local M = { _LIBRARY = core._LIBRARY, _LIBVERSION = core._LIBVERSION }

-- {====== URLs ======

local function unescape(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

--- Parse an AMQP URI (RabbitMQ's URI spec, but a bare "/" is vhost "/" as in pika): no path or
--- "/" is vhost "/", "/%2f" is "/", "/vh" is "vh".
function M.parse_url(url)
  if type(url) ~= "string" then
    error(("bad argument #1 to 'parse_url' (string expected, got %s)"):format(type(url)), 2)
  end
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then return nil, "gf.amqp: not an amqp:// or amqps:// URL" end
  scheme = scheme:lower()
  if scheme ~= "amqp" and scheme ~= "amqps" then
    return nil, ("gf.amqp: unsupported scheme '%s' (amqp or amqps)"):format(scheme)
  end
  local query
  rest, query = rest:match("^([^?#]*)%??([^#]*)")
  local authority, path = rest:match("^([^/]*)(.*)$")
  local userinfo, hostport = authority:match("^(.*)@([^@]*)$")
  if not userinfo then hostport = authority end
  local user, password = "guest", "guest"
  if userinfo then
    local u, p = userinfo:match("^([^:]*):(.*)$")
    if u then user, password = unescape(u), unescape(p) else user = unescape(userinfo) end
  end
  local host, port
  if hostport:sub(1, 1) == "[" then
    host, port = hostport:match("^%[([^%]]+)%]:?(%d*)$")
  else
    host, port = hostport:match("^([^:]*):?(%d*)$")
  end
  if not host or host == "" then
    return nil, "gf.amqp: URL has no host"
  end
  if hostport:find(":", 1, true) and not hostport:match("^%[") and port == "" then
    return nil, "gf.amqp: URL port is empty"
  end
  local tls = scheme == "amqps"
  port = port ~= "" and tonumber(port) or (tls and 5671 or 5672)
  if port < 1 or port > 65535 then return nil, "gf.amqp: URL port out of range" end
  local vhost
  if path == "" or path == "/" then
    -- a bare "/" is vhost "" in RabbitMQ's URI spec, which no broker can have; pika (the
    -- original datamart listener's client) reads it as the default vhost, and so does this
    vhost = "/"
  else
    vhost = path:sub(2)
    if vhost:find("/", 1, true) then
      return nil, "gf.amqp: a vhost with '/' must be written %2f"
    end
    vhost = unescape(vhost)
  end
  local q = {}
  for k, v in (query or ""):gmatch("([^&=]+)=?([^&]*)") do q[unescape(k)] = unescape(v) end
  return { scheme = scheme, host = host, port = port, user = user, password = password,
    vhost = vhost, tls = tls, query = q }
end

-- }======

-- {====== waiting ======

local function deadline_of(timeout)
  if timeout == nil or timeout < 0 or timeout == math.huge then return nil end
  return core.now() + math.floor(timeout * 1000 + 0.5)
end

-- Wait until check() returns something other than false. Every wait parks on an eventfd the
-- connection signals when anything arrives or changes (lamqp.c).
local function await(self, check, deadline, what)
  while true do
    local r = table.pack(check())
    if r[1] ~= false then return table.unpack(r, 1, r.n) end
    local left
    if deadline then
      left = (deadline - core.now()) / 1000
      if left <= 0 then return nil, what, "timeout" end
    end
    local c = self._c
    self._streak = 0
    local fd = c:waiter()
    local ok, err = pcall(tcore.wait_fd, fd, "r", left or -1)
    c:unwaiter(fd)
    if not ok then error(err, 0) end
  end
end

-- A task that publishes or receives from a full buffer never has to wait: let the other
-- tasks (and the loop) run every STREAK calls.
local STREAK = 64
local function fair(self)
  local n = (self._streak or 0) + 1
  if n >= STREAK then
    n = 0
    tcore.yield()
  end
  self._streak = n
end

local function conn_error(self)
  local st = self._c:status()
  return nil, st.err or "gf.amqp: connection closed", st.code or "network"
end

-- Before a write: wait (yielding) until the socket takes data. A broker applying flow control
-- stops reading; rabbitmq-c would then block the loop inside its send.
local function room(self, deadline, what)
  local c = self._c
  if c:writable() then return true end
  return await(self, function()
    if c:writable() then return true end
    c:want_write()
    return false
  end, deadline, what .. ": the broker does not take data (socket full)")
end

-- }======

-- {====== synchronous methods (one at a time per connection) ======

local Conn = {}
Conn.__index = Conn
Conn.__name = "gf.amqp.connection"

local function lock(self)
  if self._busy then
    await(self, function() return not self._busy or false end, nil, "lock")
  end
  self._busy = true
end

local function unlock(self)
  self._busy = false
  self._c:notify()
end

-- Send one method and wait for its reply (the lock is held).
local function raw(self, kind, ...)
  local ok, err, code = room(self, deadline_of(self._timeout), kind)
  if not ok then return nil, err, code end
  ok, err, code = self._c:rpc(kind, ...)
  if not ok then return nil, err, code end
  local ok2, r = pcall(function()
    return table.pack(await(self, function() return self._c:rpc_result() end,
      deadline_of(self._timeout), kind .. ": no reply from the broker in time"))
  end)
  if not ok2 or (r[1] == nil and r[3] == "timeout") then
    -- the reply may still come and be taken for another method's: this connection is done
    -- (a timeout, or the waiting task was cancelled); reconnect() makes a new one
    self._c:drop(kind .. (ok2 and ": no reply from the broker in time" or ": abandoned while "
      .. "waiting for the broker's reply") .. ": connection dropped", ok2 and "timeout" or "network")
    if not ok2 then error(r, 0) end
  end
  return table.unpack(r, 1, r.n)
end

local CHANNEL_SCOPED = { qos = true, confirm_select = true, consume = true }

-- Replay the journal (all of it, or only what lives on the channel) with the lock held.
local function replay(self, channel_only)
  local names = self._renamed
  for _, e in ipairs(self._journal) do
    if not channel_only or CHANNEL_SCOPED[e.kind] then
      local args = table.pack(table.unpack(e.args, 1, e.args.n))
      if e.kind == "queue_bind" or e.kind == "consume" then
        args[1] = names[args[1]] or args[1]
      end
      local ok, err, code = raw(self, e.kind, table.unpack(args, 1, args.n))
      if not ok then
        return nil, ("replaying %s: %s"):format(e.kind, err), code
      end
      if e.kind == "queue_declare" and e.args[1] == "" then
        names[e.name] = err -- the new server-generated name
      end
    end
  end
  return true
end

-- After the broker closed the channel: open it again and restore what lived on it.
local function reopen_channel(self)
  local st = self._c:status()
  if not st.open or st.channel_open then return true end
  local ok, err, code = raw(self, "channel_open")
  if not ok then return nil, err, code end
  return replay(self, true)
end

-- A synchronous method: lock, send, wait; a channel error reopens the channel.
local function rpc(self, kind, ...)
  if self._closed then error("gf.amqp: connection is closed", 3) end
  lock(self)
  local ok, r = pcall(function(...)
    local st = self._c:status()
    if not st.open then return table.pack(conn_error(self)) end
    if not st.channel_open then
      local rok, rerr, rcode = reopen_channel(self)
      if not rok then return table.pack(nil, rerr, rcode) end
    end
    local res = table.pack(raw(self, kind, ...))
    if res[1] == nil and self._c:status().open and not self._c:status().channel_open then
      reopen_channel(self)
    end
    return res
  end, ...)
  unlock(self)
  if not ok then error(r, 0) end
  return table.unpack(r, 1, r.n)
end

-- The journal's key of an entry: a later entry with the same key replaces it (a listener that
-- re-declares on every start, or polls a queue, does not grow the journal).
local function key_of(kind, args)
  if kind == "queue_bind" then
    return ("%s\0%s\0%s\0%s"):format(kind, args[1], args[2], args[3])
  elseif kind == "consume" then
    return kind .. "\0" .. tostring(args[2])
  elseif kind == "qos" or kind == "confirm_select" then
    return kind
  end
  if args[1] == "" then return nil end -- every server-named queue is its own
  return kind .. "\0" .. tostring(args[1])
end

local function record(self, kind, ...)
  local e = { kind = kind, args = table.pack(...) }
  local key = key_of(kind, e.args)
  e.key = key
  if key then
    for i, old in ipairs(self._journal) do
      if old.key == key then -- in its place: what was declared before it stays before it
        self._journal[i] = e
        return e
      end
    end
  end
  self._journal[#self._journal + 1] = e
  return e
end

local function forget(self, pred)
  local j = {}
  for _, e in ipairs(self._journal) do
    if not pred(e) then j[#j + 1] = e end
  end
  self._journal = j
end

-- }======

-- {====== options ======

local function check_opts(fname, opts, spec, level)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(("gf.amqp.%s: options must be a table"):format(fname), level + 1)
  end
  for k, v in pairs(opts) do
    local want = spec[k]
    if not want then
      error(("gf.amqp.%s: unknown option '%s'"):format(fname, tostring(k)), level + 1)
    end
    if want ~= "any" and type(v) ~= want then
      error(("gf.amqp.%s: option '%s' must be a %s"):format(fname, k, want), level + 1)
    end
  end
  return opts
end

local function check_name(fname, i, v, level)
  if type(v) ~= "string" then
    error(("bad argument #%d to '%s' (string expected, got %s)"):format(i, fname, type(v)),
      level + 1)
  end
end

-- }======

-- {====== connect ======

local CONNECT_OPTS = { heartbeat = "number", timeout = "number", name = "string",
  cacert = "string", verify = "boolean", confirm = "boolean", frame_max = "number" }

local function config_of(url, opts)
  local u, err = M.parse_url(url)
  if not u then return nil, err end
  local hb = opts.heartbeat or tonumber(u.query.heartbeat) or 60
  local timeout = opts.timeout
    or (u.query.connection_timeout and tonumber(u.query.connection_timeout) / 1000) or 30
  if hb < 0 or hb > 65535 or math.floor(hb) ~= hb then
    return nil, "gf.amqp: heartbeat must be whole seconds between 0 and 65535"
  end
  if timeout <= 0 then return nil, "gf.amqp: timeout must be positive" end
  local verify = opts.verify
  if verify == nil then verify = u.query.verify ~= "verify_none" end
  return {
    host = u.host, port = u.port, vhost = u.vhost, user = u.user, password = u.password,
    tls = u.tls, verify = verify, cacert = opts.cacert or u.query.cacertfile,
    name = opts.name, heartbeat = hb, timeout_ms = math.floor(timeout * 1000 + 0.5),
    frame_max = opts.frame_max or 131072,
  }, timeout
end

function M.connect(url, opts)
  if type(url) ~= "string" then
    error(("bad argument #1 to 'connect' (string expected, got %s)"):format(type(url)), 2)
  end
  opts = check_opts("connect", opts, CONNECT_OPTS, 2)
  local cfg, timeout = config_of(url, opts)
  if not cfg then error(timeout, 2) end
  local okl, log = pcall(require, "gf.log")
  if okl then log.secret(cfg.password ~= "guest" and cfg.password or nil) end
  local c, err, code = core.connect(cfg)
  if not c then return nil, err, code end
  local self = setmetatable({ _c = c, _cfg = cfg, _timeout = timeout, _journal = {},
    _renamed = {}, _busy = false, _url_host = cfg.host .. ":" .. cfg.port }, Conn)
  if opts.confirm then
    local ok, e2, c2 = self:confirm_select()
    if not ok then
      self:close()
      return nil, e2, c2
    end
  end
  return self
end

-- }======

-- {====== declarations ======

local EXCHANGE_OPTS = { type = "string", passive = "boolean", durable = "boolean",
  auto_delete = "boolean", internal = "boolean", arguments = "table" }

function Conn:exchange_declare(name, opts)
  check_name("exchange_declare", 1, name, 2)
  opts = check_opts("exchange_declare", opts, EXCHANGE_OPTS, 2)
  local args = { name, opts.type or "direct", opts.passive or false, opts.durable or false,
    opts.auto_delete or false, opts.internal or false, opts.arguments }
  local ok, err, code = rpc(self, "exchange_declare", table.unpack(args, 1, 7))
  if not ok then return nil, err, code end
  if not opts.passive then record(self, "exchange_declare", table.unpack(args, 1, 7)) end
  return true
end

local QUEUE_OPTS = { passive = "boolean", durable = "boolean", exclusive = "boolean",
  auto_delete = "boolean", arguments = "table" }

function Conn:queue_declare(name, opts)
  check_name("queue_declare", 1, name, 2)
  opts = check_opts("queue_declare", opts, QUEUE_OPTS, 2)
  local args = { name, opts.passive or false, opts.durable or false, opts.exclusive or false,
    opts.auto_delete or false, opts.arguments }
  local ok, qname, messages, consumers = rpc(self, "queue_declare", table.unpack(args, 1, 6))
  if not ok then return nil, qname, messages end
  if not opts.passive then
    local e = record(self, "queue_declare", table.unpack(args, 1, 6))
    e.name = qname
  end
  return { queue = qname, message_count = messages, consumer_count = consumers }
end

function Conn:queue_bind(queue, exchange, key, arguments)
  check_name("queue_bind", 1, queue, 2)
  check_name("queue_bind", 2, exchange, 2)
  key = key or ""
  check_name("queue_bind", 3, key, 2)
  local ok, err, code = rpc(self, "queue_bind", queue, exchange, key, arguments)
  if not ok then return nil, err, code end
  record(self, "queue_bind", queue, exchange, key, arguments)
  return true
end

function Conn:queue_unbind(queue, exchange, key, arguments)
  check_name("queue_unbind", 1, queue, 2)
  check_name("queue_unbind", 2, exchange, 2)
  key = key or ""
  local ok, err, code = rpc(self, "queue_unbind", queue, exchange, key, arguments)
  if not ok then return nil, err, code end
  forget(self, function(e)
    return e.kind == "queue_bind" and e.args[1] == queue and e.args[2] == exchange
      and e.args[3] == key
  end)
  return true
end

function Conn:queue_delete(name, opts)
  check_name("queue_delete", 1, name, 2)
  opts = check_opts("queue_delete", opts, { if_unused = "boolean", if_empty = "boolean" }, 2)
  local ok, err, messages = rpc(self, "queue_delete", name, opts.if_unused or false,
    opts.if_empty or false)
  if not ok then return nil, err, messages end
  forget(self, function(e)
    return (e.kind == "queue_declare" or e.kind == "queue_bind" or e.kind == "consume")
      and e.args[1] == name
  end)
  return messages
end

function Conn:queue_purge(name)
  check_name("queue_purge", 1, name, 2)
  local ok, err, messages = rpc(self, "queue_purge", name)
  if not ok then return nil, err, messages end
  return messages
end

function Conn:exchange_delete(name, opts)
  check_name("exchange_delete", 1, name, 2)
  opts = check_opts("exchange_delete", opts, { if_unused = "boolean" }, 2)
  local ok, err, code = rpc(self, "exchange_delete", name, opts.if_unused or false)
  if not ok then return nil, err, code end
  forget(self, function(e)
    return (e.kind == "exchange_declare" and e.args[1] == name)
      or (e.kind == "queue_bind" and e.args[2] == name)
  end)
  return true
end

function Conn:qos(prefetch)
  if math.type(prefetch) ~= "integer" or prefetch < 0 or prefetch > 65535 then
    error("bad argument #1 to 'qos' (integer 0..65535 expected)", 2)
  end
  local ok, err, code = rpc(self, "qos", prefetch, false)
  if not ok then return nil, err, code end
  record(self, "qos", prefetch, false)
  return true
end

function Conn:confirm_select()
  local ok, err, code = rpc(self, "confirm_select")
  if not ok then return nil, err, code end
  record(self, "confirm_select")
  self._confirm = true
  return true
end

local CONSUME_OPTS = { tag = "string", no_ack = "boolean", exclusive = "boolean",
  arguments = "table" }

function Conn:consume(queue, opts)
  check_name("consume", 1, queue, 2)
  opts = check_opts("consume", opts, CONSUME_OPTS, 2)
  local ok, tag, code = rpc(self, "consume", queue, opts.tag or "", opts.no_ack or false,
    opts.exclusive or false, opts.arguments)
  if not ok then return nil, tag, code end
  -- replayed with the tag the broker gave, so that deliveries keep naming it
  record(self, "consume", queue, tag, opts.no_ack or false, opts.exclusive or false,
    opts.arguments)
  return tag
end

function Conn:cancel(tag)
  check_name("cancel", 1, tag, 2)
  local ok, err, code = rpc(self, "cancel", tag)
  if not ok then return nil, err, code end
  forget(self, function(e) return e.kind == "consume" and e.args[2] == tag end)
  return true
end

-- }======

-- {====== traffic ======

function Conn:receive(timeout)
  if self._closed then error("gf.amqp: connection is closed", 2) end
  if timeout ~= nil and type(timeout) ~= "number" then
    error("bad argument #1 to 'receive' (number expected)", 2)
  end
  local c = self._c
  fair(self)
  return await(self, function()
    local m = c:take()
    if m then return m end
    local st = c:status()
    if not st.open then return conn_error(self) end
    if not st.channel_open then
      -- the broker closed the channel (a failed method, a bad ack): reopen, report once
      local err, code = c:channel_error()
      if not self._busy then
        lock(self)
        local ok, e = pcall(reopen_channel, self)
        unlock(self)
        if not ok then error(e, 0) end
      end
      if err then return nil, err, code end
      return false
    end
    local err, code = c:channel_error()
    if err then return nil, err, code end
    return false
  end, deadline_of(timeout), "timeout")
end

local function tag_of(fname, tag)
  if type(tag) == "table" then tag = tag.delivery_tag end
  if math.type(tag) ~= "integer" then
    error(("bad argument #1 to '%s' (delivery tag expected)"):format(fname), 3)
  end
  return tag
end

function Conn:ack(tag, opts)
  if self._closed then error("gf.amqp: connection is closed", 2) end
  tag = tag_of("ack", tag)
  opts = check_opts("ack", opts, { multiple = "boolean" }, 2)
  local ok, err, code = room(self, deadline_of(self._timeout), "ack")
  if not ok then return nil, err, code end
  return self._c:ack(tag, opts.multiple or false)
end

function Conn:nack(tag, opts)
  if self._closed then error("gf.amqp: connection is closed", 2) end
  tag = tag_of("nack", tag)
  opts = check_opts("nack", opts, { multiple = "boolean", requeue = "boolean" }, 2)
  local requeue = opts.requeue
  if requeue == nil then requeue = true end
  local ok, err, code = room(self, deadline_of(self._timeout), "nack")
  if not ok then return nil, err, code end
  return self._c:nack(tag, opts.multiple or false, requeue)
end

local PROPS = { content_type = "string", content_encoding = "string", headers = "table",
  delivery_mode = "number", persistent = "boolean", priority = "number",
  correlation_id = "string", reply_to = "string", expiration = "string",
  message_id = "string", timestamp = "number", type = "string", user_id = "string",
  app_id = "string" }

function Conn:publish(exchange, key, body, props, opts)
  if self._closed then error("gf.amqp: connection is closed", 2) end
  check_name("publish", 1, exchange, 2)
  check_name("publish", 2, key, 2)
  check_name("publish", 3, body, 2)
  props = check_opts("publish", props, PROPS, 2)
  opts = check_opts("publish", opts, { mandatory = "boolean", wait = "boolean",
    timeout = "number" }, 2)
  local c = self._c
  fair(self)
  local deadline = deadline_of(opts.timeout or self._timeout)
  local rok, rerr, rcode = room(self, deadline, "publish")
  if not rok then return nil, rerr, rcode end
  if not c:status().channel_open and c:status().open then
    -- the broker closed the channel since (a refused publish, a bad ack): open it again
    lock(self)
    local ok, r1, r2, r3 = pcall(reopen_channel, self)
    unlock(self)
    if not ok then error(r1, 0) end
    if not r1 then return nil, r2, r3 end
  end
  local seq, err, code = c:publish(exchange, key, body, props, opts.mandatory or false)
  if not seq then return nil, err, code end
  if seq == 0 or opts.wait == false then return true end
  return await(self, function()
    local s = c:confirm_state(seq)
    if s == "ack" then return true end
    if s == "nack" then
      local st = c:status()
      if not st.open then return conn_error(self) end
      if not st.channel_open then
        local cerr, ccode = c:channel_error()
        if cerr then return nil, "publish: " .. cerr, ccode end
        return nil, "publish: the channel closed before the broker confirmed", "network"
      end
      return nil, "publish: the broker refused the message (basic.nack)", "protocol"
    end
    return false
  end, deadline, "publish: no confirm from the broker in time")
end

function Conn:wait_confirms(timeout)
  local c = self._c
  return await(self, function()
    local pending = c:unconfirmed()
    if pending > 0 and c:status().open then return false end
    local _, nacked = c:unconfirmed()
    if pending > 0 then return conn_error(self) end
    if nacked > 0 then
      return nil, ("%d message(s) not confirmed (nacked, or lost with the channel)"):format(
        nacked), "protocol"
    end
    return true
  end, deadline_of(timeout or self._timeout), "wait_confirms: timed out")
end

-- }======

-- {====== life ======

function Conn:is_open()
  return not self._closed and self._c:status().open
end

function Conn:status()
  local st = self._c:status()
  st.closed = self._closed or false
  st.fd = nil
  return st
end

local RECONNECT_OPTS = { attempts = "number", backoff = "number", max_backoff = "number" }

--- A new connection in place of this one, then every recorded declaration, binding, qos,
--- confirm mode and consumer again. Retries with exponential backoff (network and timeout
--- errors); an auth or tls failure, or a declaration the broker refuses, ends it at once.
function Conn:reconnect(opts)
  if self._closed then error("gf.amqp: connection is closed", 2) end
  opts = check_opts("reconnect", opts, RECONNECT_OPTS, 2)
  local attempts = opts.attempts or math.huge
  local delay = opts.backoff or 0.5
  local max_delay = opts.max_backoff or 30
  local n = 0
  lock(self)
  local ok, r = pcall(function()
    while true do
      n = n + 1
      local ok, err, code = self._c:reconnect(self._cfg)
      if ok then
        ok, err, code = replay(self, false)
        if ok then return { true } end
        if code ~= "network" and code ~= "timeout" then return { nil, err, code } end
      end
      if code == "auth" or code == "tls" or n >= attempts then return { nil, err, code } end
      tcore.sleep(delay)
      delay = math.min(delay * 2, max_delay)
    end
  end)
  unlock(self)
  if not ok then error(r, 0) end
  return table.unpack(r, 1, 3)
end

--- The server-generated name that replaced `name` after a reconnect (or `name`).
function Conn:queue_name(name)
  return self._renamed[name] or name
end

function Conn:close()
  if self._closed then return true end
  self._closed = true
  local c = self._c
  if c:status().open and c:close_send() then
    await(self, function() return not c:status().open or false end,
      deadline_of(math.min(self._timeout, 5)), "close")
  end
  c:drop()
  return true
end

Conn.__close = Conn.close

-- }======

return M
