--- gf.http: yieldable HTTP on libcurl, with retries as policy.
--
-- request(opts) -> response | nil, message, code
--   A request yields its task while the transfer runs on the host's shared curl multi handle
--   (keep-alive pool), so gf.task.map(urls, http.get, {concurrency = 64}) keeps 64 in flight.
--   opts:
--     url (required), method ("GET"), headers = {name = value}, query = {k = v} | "k=v"
--     body = string (any bytes) | body_file = path [, body_offset = n] [, body_length = n]
--                            (a file body streams from the file: a part of it with offset/length)
--     output_file = path     a 2xx body goes to path..".part", then is fsynced and renamed to
--                            path once its size is checked (response.path is set) — on the
--                            worker pool, concurrent downloads committed together; other
--                            statuses stay in body
--     sync = false           with output_file: no fdatasync / directory fsync (still renamed)
--     resume = bool          continue an existing path..".part" with a Range request
--     range = "bytes=0-99"   plain Range request
--     timeout (0: none), connect_timeout (30), idle_timeout (120: abort when no byte moves
--     for that long) — all seconds
--     follow_redirects (true), max_redirects (10), insecure (false), ca_file, proxy (else
--     libcurl reads http_proxy / https_proxy / no_proxy), max_body (bytes; 0: unlimited)
--     retry = false | {attempts = 5, base = 0.2, max_delay = 20, deadline = nil (s),
--                      retry_non_idempotent = false, on = {statuses or codes} | function(res,
--                      msg, code) -> bool|nil, random = fn() -> [0,1), sleep = fn(s), now = fn()}
--       Exponential backoff with full jitter (random() * min(max_delay, base * 2^(n-1))), or the
--       server's Retry-After (seconds or HTTP date) when given; a wait that would pass the
--       deadline ends the retries. Retried: timeouts, connect errors, resets, partial bodies,
--       429, 5xx (not 501/505) and AWS throttling codes in an error body — for GET HEAD PUT
--       DELETE OPTIONS only, unless retry_non_idempotent.
--     until_exists = true | {deadline = 600, interval = 30}: a 404 is retried every interval
--       until the deadline (one log line per wait); the last 404 response is returned then.
--     debug = true (or env GFHOST_HTTP_DEBUG=1): log request and response lines, with
--       Authorization, cookies, X-Amz-Security-Token and signature query values masked.
--     log = function(level, line): where log lines go (default gf.log, else stderr).
--     slots = http.slots(n): at most n of the requests sharing it move bytes at once; a
--       download's commit (write, fsync, rename) runs after its slot is freed, so with more
--       tasks than slots the next transfer starts while the disk works.
--   response: {status =, headers = {lower-case name = value; repeats joined by ", "},
--              body = string, url = effective URL, bytes =, time = seconds, http_version =,
--              attempts =, path = (output_file only)} — for EVERY HTTP status.
--   Failure (transport only): nil, "http.request GET <url, secrets masked>: <text>", code with
--   code timeout | network | tls | io | invalid_input | interrupted. A body shorter than its
--   Content-Length is a failure ("partial body"), never a short success.
-- get(url, opts), head(url, opts), delete(url, opts), post(url, body, opts), put(url, body, opts)
-- download(url, path, opts) -> response | nil, message, code
--   request with output_file = path and resume = true; a non-2xx status is a failure here
--   (code not_found for 404/410, auth for 401/403, throttled for 429, network for 5xx, else
--   invalid_input).
-- query(t) -> "a=1&b=x%20y"   RFC 3986 encoding, sorted keys, array values repeat the key,
--                             `true` gives the bare name; the one query/form encoder of gfhost
-- url_encode(s), url_decode(s [, form]) -> s | nil, msg, code, parse_url(url) -> table,
-- redact_url(url) -> url with secrets masked
-- slots(n) -> a transfer limit for the slots option; slots:in_flight() -> transfers holding one
-- configure{max_connections =, max_host_connections =}: bound the shared keep-alive pool
--   (libcurl's total / per-host connection limits); max_connections also caps the transfers in
--   flight from this process: more requests wait in FIFO order, their tasks parked.
local M = {}

M.core = require("gf.http.core") -- specs may swap it for a fake (and restore it)
local tcore = require("gf.task.core") -- waits of the gate and of group commits

M.url_encode = M.core.url_encode
M.url_decode = M.core.url_decode
M.parse_url = M.core.parse_url
M.redact_url = M.core.redact_url

-- In-flight bound set by configure{max_connections}: active transfers and parked tasks.
local gate = { max = nil, active = 0, waiters = {} }

local Slots = {}
Slots.__index = Slots
Slots.__name = "gf.http.slots"

function M.slots(n)
  if math.type(n) ~= "integer" or n < 1 then
    error(("bad argument #1 to 'slots' (positive integer expected, got %s)"):format(tostring(n)), 2)
  end
  return setmetatable({ max = n, active = 0, waiters = {} }, Slots)
end

function Slots:in_flight() return self.active end

function M.configure(opts)
  if type(opts) ~= "table" then error("bad argument #1 to 'configure' (table expected)", 2) end
  M.core.configure(opts)
  if opts.max_connections then gate.max = opts.max_connections end
end

local function gate_enter(g)
  if not g.max then return end
  while g.active >= g.max do
    local me = tcore.current()
    if not me then break end -- not a task: cannot park, go ahead (libcurl still bounds)
    g.waiters[#g.waiters + 1] = me
    tcore.suspend()
  end
  g.active = g.active + 1
end

local function gate_leave(g)
  if not g.max and g.active == 0 then return end
  g.active = math.max(0, g.active - 1)
  while #g.waiters > 0 do
    if tcore.wake(table.remove(g.waiters, 1)) then break end
  end
end

-- {====== committing downloads ======
-- A 2xx output_file body comes back from the core as res.file; it is written, fsynced and
-- renamed on a worker thread. Downloads that finish while a commit runs wait and go together
-- in the next one (group commit): one fdatasync round and one directory fsync for the whole
-- batch instead of one per file, and the event loop never blocks on the disk.

local commits = { running = 0, pending = {} } -- at most one commit per worker thread

local function commit_batch(batch)
  local files = {}
  for i, e in ipairs(batch) do files[i] = e.file end
  local ok, res = pcall(M.core.commit, files)
  for i, e in ipairs(batch) do
    e.result = ok and res[i] or { tostring(res), "interrupted" }
    e.done = true
  end
  return ok, res
end

local function commit(file)
  local me = tcore.current()
  local e = { file = file, task = me }
  if not me then -- not a task: cannot wait for a batch, commit alone
    local ok, res = commit_batch({ e })
    if not ok then error(res, 0) end
  else
    local q = commits
    q.pending[#q.pending + 1] = e
    while not e.done do
      -- Lead only a batch that has files: when e is in a batch another task is committing,
      -- q.pending may be empty, and committing an empty batch returns without yielding (a
      -- spurious wake-up would then spin here forever). That leader wakes e when it is done.
      if q.pending[1] and q.running < math.max(1, tcore.workers()) then
        q.running = q.running + 1
        local batch = q.pending
        q.pending = {}
        local ok, res = commit_batch(batch)
        q.running = q.running - 1
        for _, o in ipairs(batch) do
          if o ~= e then tcore.wake(o.task) end
        end
        if q.pending[1] then tcore.wake(q.pending[1].task) end -- the next batch's leader
        if not ok then error(res, 0) end
      else
        tcore.suspend()
      end
    end
  end
  if e.result == true then return true end
  return nil, e.result[1], e.result[2]
end

-- }======

local function transfer(req, slots)
  if slots then gate_enter(slots) end
  gate_enter(gate)
  local ok, res, err, code = pcall(M.core.request, req)
  gate_leave(gate)
  if slots then gate_leave(slots) end -- the commit below runs outside the slot
  if not ok then error(res, 0) end
  if res and res.file then
    local file = res.file
    res.file = nil
    local done, msg, ccode = commit(file)
    if not done then
      return nil, ("http.request %s %s: %s"):format(req.method or "GET",
        M.core.redact_url(req.url), msg), ccode
    end
  end
  return res, err, code
end

local IDEMPOTENT = { GET = true, HEAD = true, PUT = true, DELETE = true, OPTIONS = true,
  TRACE = true }

--- The one table of throttling error codes (AWS and S3-compatible services): a 4xx whose error
--- body names one is retried like a 429, and gf.awsjson classifies it as "throttled".
M.THROTTLING_CODES = {
  Throttling = true, ThrottlingException = true, ThrottledException = true,
  RequestLimitExceeded = true, SlowDown = true, TooManyRequestsException = true,
  ProvisionedThroughputExceededException = true, RequestThrottled = true,
  RequestThrottledException = true, ["AWS.SimpleQueueService.RequestThrottled"] = true,
  LimitExceededException = true,
}
local THROTTLING_PATTERNS = {}
for code in pairs(M.THROTTLING_CODES) do
  THROTTLING_PATTERNS[#THROTTLING_PATTERNS + 1] = "%f[%w]" .. code:gsub("%p", "%%%0") .. "%f[^%w]"
end

local SECRET_HEADERS = { ["authorization"] = true, ["proxy-authorization"] = true,
  ["x-amz-security-token"] = true, ["cookie"] = true, ["set-cookie"] = true,
  ["x-api-key"] = true }

-- {====== query ======

local function scalar(v, what)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" or t == "boolean" then return tostring(v) end
  error(("http.query: %s must be a string, number or boolean (got %s)"):format(what, t), 3)
end

function M.query(t)
  if type(t) ~= "table" then error("bad argument #1 to 'query' (table expected)", 2) end
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" then error("http.query: keys must be strings", 2) end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  local out = {}
  local enc = M.core.url_encode
  for _, k in ipairs(keys) do
    local v = t[k]
    if type(v) == "table" then
      for _, item in ipairs(v) do out[#out + 1] = enc(k) .. "=" .. enc(scalar(item, k)) end
    elseif v == true then
      out[#out + 1] = enc(k) -- a bare name (S3's ?uploads, ?delete)
    else
      out[#out + 1] = enc(k) .. "=" .. enc(scalar(v, k))
    end
  end
  return table.concat(out, "&")
end

-- }======

-- {====== logging ======

local function default_log(level, line)
  require("gf.log")[level](line)
end

local function masked_headers(h)
  local names = {}
  for k in pairs(h or {}) do names[#names + 1] = k end
  table.sort(names)
  local out = {}
  for _, k in ipairs(names) do
    local v = SECRET_HEADERS[k:lower()] and "***" or tostring(h[k])
    out[#out + 1] = ("%s: %s"):format(k:lower(), v)
  end
  return out
end

local function debug_request(log, req)
  log("info", ("http > %s %s"):format(req.method or "GET", M.core.redact_url(req.url)))
  for _, line in ipairs(masked_headers(req.headers)) do log("info", "http > " .. line) end
  if req.body then log("info", ("http > (%d body bytes)"):format(#req.body)) end
end

local function debug_response(log, req, res, err, code)
  if not res then
    log("info", ("http < failed (%s): %s"):format(code, err))
    return
  end
  log("info", ("http < %d %s (HTTP/%s, %d bytes, %.3f s)"):format(res.status,
    M.core.redact_url(req.url), res.http_version, res.bytes, res.time))
  for _, line in ipairs(masked_headers(res.headers)) do log("info", "http < " .. line) end
end

-- }======

-- {====== policies ======

local RETRY_KEYS = { attempts = "integer", base = "number", max_delay = "number",
  deadline = "number", retry_non_idempotent = "boolean", on = "table|function",
  random = "function", sleep = "function", now = "function" }

local function check_fields(t, spec, what)
  for k, v in pairs(t) do
    local want = spec[k]
    if not want then error(("http.request: unknown %s option '%s'"):format(what, tostring(k)), 4) end
    local got = math.type(v) == "integer" and "integer" or type(v)
    local okk = want:find(got, 1, true) or (want == "number" and got == "integer")
    if not okk then
      error(("http.request: %s option '%s' must be %s (got %s)"):format(what, k, want, type(v)), 4)
    end
  end
end

local function task_sleep(s)
  require("gf.task").sleep(s)
end

local function retry_policy(r)
  local p = { attempts = 5, base = 0.2, max_delay = 20, retry_non_idempotent = false,
    random = math.random, sleep = task_sleep, now = M.core.now }
  if r == false then
    p.attempts = 1
    return p
  end
  if r == nil or r == true then return p end
  if type(r) ~= "table" then error("http.request: option 'retry' must be a table or false", 3) end
  check_fields(r, RETRY_KEYS, "retry")
  for k, v in pairs(r) do p[k] = v end
  if p.attempts < 1 then error("http.request: retry.attempts must be at least 1", 3) end
  return p
end

local function until_policy(u)
  if u == nil or u == false then return nil end
  local p = { deadline = 600, interval = 30 }
  if u == true then return p end
  if type(u) ~= "table" then error("http.request: option 'until_exists' must be a table", 3) end
  check_fields(u, { deadline = "number", interval = "number" }, "until_exists")
  for k, v in pairs(u) do p[k] = v end
  return p
end

local function throttled_body(res)
  if res.status < 400 or #res.body == 0 then return false end
  local head = res.body:sub(1, 65536)
  for _, pat in ipairs(THROTTLING_PATTERNS) do
    if head:find(pat) then return true end
  end
  return false
end

--- Seconds asked by a Retry-After header (delta seconds or an HTTP date), or nil.
function M.retry_after(res)
  local v = res and res.headers and res.headers["retry-after"]
  if not v then return nil end
  local secs = tonumber(v:match("^%s*(%d+%.?%d*)%s*$"))
  if secs then return secs end
  local at = M.core.parse_date(v)
  if at then return math.max(0, at - os.time()) end
  return nil
end

--- Would policy p retry this outcome of a `method` request? Exposed for specs.
function M.should_retry(p, method, res, err, code)
  if not IDEMPOTENT[method or "GET"] and not p.retry_non_idempotent then return false end
  if type(p.on) == "function" then
    local d = p.on(res, err, code)
    if d ~= nil then return d end
  elseif type(p.on) == "table" then
    for _, v in ipairs(p.on) do
      if (res and v == res.status) or (not res and v == code) then return true end
    end
  end
  if not res then return code == "timeout" or code == "network" end
  local s = res.status
  if s == 429 or (s >= 500 and s ~= 501 and s ~= 505) then return true end
  return throttled_body(res)
end

--- Full jitter: a random wait in [0, min(max_delay, base * 2^(attempt-1))).
function M.backoff(p, attempt)
  return p.random() * math.min(p.max_delay, p.base * 2 ^ (attempt - 1))
end

-- }======

-- {====== request ======

local FACADE_KEYS = { retry = true, until_exists = true, debug = true, log = true, query = true,
  slots = true }

local function with_query(url, q)
  if q == nil then return url end
  local qs = type(q) == "table" and M.query(q) or q
  if type(qs) ~= "string" then error("http.request: option 'query' must be a table or string", 4) end
  if qs == "" then return url end
  return url .. (url:find("?", 1, true) and "&" or "?") .. qs
end

local function attempts(req, p, log, dbg, slots)
  local started = p.now()
  local n = 0
  while true do
    n = n + 1
    local sub = req
    if p.deadline then
      local left = p.deadline - (p.now() - started)
      if left > 0 and (not req.timeout or req.timeout == 0 or req.timeout > left) then
        sub = {}
        for k, v in pairs(req) do sub[k] = v end
        sub.timeout = left
      end
    end
    if dbg then debug_request(log, sub) end
    local res, err, code = transfer(sub, slots)
    if dbg then debug_response(log, sub, res, err, code) end
    if n >= p.attempts or not M.should_retry(p, req.method, res, err, code) then
      return res, err, code, n
    end
    local delay = M.retry_after(res) or M.backoff(p, n)
    if p.deadline and (p.now() - started) + delay > p.deadline then return res, err, code, n end
    log("warn", ("http: %s %s: %s; retry %d/%d in %.2f s"):format(req.method or "GET",
      M.core.redact_url(req.url), res and ("HTTP " .. res.status) or code, n + 1, p.attempts,
      delay))
    p.sleep(delay)
  end
end

function M.request(opts)
  if type(opts) ~= "table" then
    error(("bad argument #1 to 'request' (table expected, got %s)"):format(type(opts)), 2)
  end
  if type(opts.url) ~= "string" then error("http.request: option 'url' must be a string", 2) end
  if opts.log ~= nil and type(opts.log) ~= "function" then
    error("http.request: option 'log' must be a function", 2)
  end
  if opts.slots ~= nil and getmetatable(opts.slots) ~= Slots then
    error("http.request: option 'slots' must come from http.slots(n)", 2)
  end
  local req = {}
  for k, v in pairs(opts) do
    if not FACADE_KEYS[k] then req[k] = v end
  end
  if type(req.method) == "string" then req.method = req.method:upper() end
  req.url = with_query(opts.url, opts.query)
  local p = retry_policy(opts.retry)
  local u = until_policy(opts.until_exists)
  local log = opts.log or default_log
  local dbg = opts.debug or os.getenv("GFHOST_HTTP_DEBUG") == "1"
  local started = p.now()
  while true do
    local res, err, code, n = attempts(req, p, log, dbg, opts.slots)
    if not res then
      if n > 1 then err = ("%s (after %d attempts)"):format(err, n) end
      return nil, err, code
    end
    res.attempts = n
    if not u or res.status ~= 404 then return res end
    local left = u.deadline - (p.now() - started)
    if left <= 0 then return res end
    local wait = math.min(u.interval, left)
    log("info", ("http: %s not there yet (404); checking again in %g s (%d s to deadline)"):format(
      M.core.redact_url(req.url), wait, math.ceil(left)))
    p.sleep(wait)
  end
end

-- }======

-- {====== conveniences ======

local function merged(opts, extra, fname)
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument to '%s' (options table expected, got %s)"):format(fname, type(opts)), 3)
  end
  local t = {}
  for k, v in pairs(opts or {}) do t[k] = v end
  for k, v in pairs(extra) do t[k] = v end
  return t
end

local function url_arg(url, fname)
  if type(url) ~= "string" then
    error(("bad argument #1 to '%s' (string expected, got %s)"):format(fname, type(url)), 3)
  end
  return url
end

function M.get(url, opts)
  return M.request(merged(opts, { url = url_arg(url, "get"), method = "GET" }, "get"))
end

function M.head(url, opts)
  return M.request(merged(opts, { url = url_arg(url, "head"), method = "HEAD" }, "head"))
end

function M.delete(url, opts)
  return M.request(merged(opts, { url = url_arg(url, "delete"), method = "DELETE" }, "delete"))
end

function M.post(url, body, opts)
  if body ~= nil and type(body) ~= "string" then
    error(("bad argument #2 to 'post' (string expected, got %s)"):format(type(body)), 2)
  end
  return M.request(merged(opts, { url = url_arg(url, "post"), method = "POST", body = body }, "post"))
end

function M.put(url, body, opts)
  if body ~= nil and type(body) ~= "string" then
    error(("bad argument #2 to 'put' (string expected, got %s)"):format(type(body)), 2)
  end
  return M.request(merged(opts, { url = url_arg(url, "put"), method = "PUT", body = body }, "put"))
end

local STATUS_CODES = { [404] = "not_found", [410] = "not_found", [401] = "auth", [403] = "auth",
  [429] = "throttled" }

function M.download(url, path, opts)
  url_arg(url, "download")
  if type(path) ~= "string" then
    error(("bad argument #2 to 'download' (string expected, got %s)"):format(type(path)), 2)
  end
  local o = merged(opts, { url = url, output_file = path }, "download")
  if o.resume == nil then o.resume = true end
  local res, err, code = M.request(o)
  if not res then return nil, err, code end
  if res.status < 200 or res.status > 299 then
    local c = STATUS_CODES[res.status] or (res.status >= 500 and "network") or "invalid_input"
    return nil, ("http.download %s: HTTP %d"):format(M.core.redact_url(url), res.status), c
  end
  return res
end

-- }======

return M
