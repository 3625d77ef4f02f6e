--- gf.server: an HTTP/1.1 server for Lua handlers, on the host loop (libmicrohttpd).
--
-- router() -> router
--   router:get|post|put|delete|patch|options(pattern, fn), router:route(method, pattern, fn)
--       pattern "/api/runs/:id" (":name" captures one segment into req.params, a final "*name"
--       the rest of the path); HEAD is served by GET routes
--   router:static(prefix, dir)     files under dir (index.html for a directory), GET/HEAD only
--   router:handle(req) -> status, body, headers
-- listen(opts, router | fn) -> srv | nil, message, code
--   opts: bind ("127.0.0.1"), port (0: any free port), max_body (1 MiB), max_connections (64),
--   timeout (30 s: a request must arrive within it; idle keep-alive connections close after it)
--   srv.port, srv.bind; srv:close([{timeout = 10}]) graceful: stop accepting, let in-flight
--   handlers finish (until the timeout), then close every connection
-- file(path) -> a body that sends the file (content type from its extension unless given)
-- content_type(path) -> MIME type for the file name's extension
--
-- Each request runs handler(req) in its own task. req = {method, path, query = {k = v},
-- headers = {lower-case name = value}, body, params, remote, version}; req:json() decodes the
-- body (value | nil, msg, "parse"). The handler returns status, body, headers: a string body is
-- sent as is (text/plain unless a content-type is given), a table is JSON-encoded
-- (application/json). A handler error gives 500 {"error":"internal server error"} and is logged
-- with its traceback (never sent). Every request is logged at debug level. See docs/server.md.
local core = require("gf.server.core")
local task = require("gf.task")
local json = require("gf.json")
local log = require("gf.log")
local fs = require("gf.fs")
local clock = require("gf.time").monotonic

local M = { core = core }

local DEFAULTS = { bind = "127.0.0.1", port = 0, max_body = 1048576, max_connections = 64,
  timeout = 30 }

-- {====== bodies ======

local FileBody = { __name = "gf.server.file" }

function M.file(path)
  if type(path) ~= "string" then error("bad argument #1 to 'file' (string expected)", 2) end
  return setmetatable({ path = path }, FileBody)
end

local TYPES = {
  html = "text/html; charset=utf-8", htm = "text/html; charset=utf-8",
  css = "text/css; charset=utf-8", js = "text/javascript; charset=utf-8",
  mjs = "text/javascript; charset=utf-8", json = "application/json",
  geojson = "application/geo+json", txt = "text/plain; charset=utf-8",
  md = "text/markdown; charset=utf-8", csv = "text/csv; charset=utf-8",
  xml = "application/xml", svg = "image/svg+xml", png = "image/png", jpg = "image/jpeg",
  jpeg = "image/jpeg", gif = "image/gif", webp = "image/webp", ico = "image/x-icon",
  pdf = "application/pdf", wasm = "application/wasm", woff = "font/woff", woff2 = "font/woff2",
  map = "application/json", tif = "image/tiff", tiff = "image/tiff", nc = "application/x-netcdf",
}

function M.content_type(path)
  local ext = path:match("%.([%w]+)$")
  return ext and TYPES[ext:lower()] or "application/octet-stream"
end

-- }======

-- {====== router ======

local Router = {}
Router.__index = Router
Router.__name = "gf.server.router"

function M.router()
  return setmetatable({ entries = {} }, Router)
end

local function segments(path)
  local out = {}
  for seg in path:gmatch("[^/]+") do out[#out + 1] = seg end
  return out
end

local function compile(pattern, level)
  if type(pattern) ~= "string" or pattern:sub(1, 1) ~= "/" then
    error("gf.server: route pattern must be a string starting with '/'", level + 1)
  end
  local segs = segments(pattern)
  for i, seg in ipairs(segs) do
    if seg:sub(1, 1) == "*" and i ~= #segs then
      error("gf.server: '*' only as the last segment of " .. pattern, level + 1)
    end
  end
  return segs
end

function Router:route(method, pattern, fn)
  if type(method) ~= "string" then error("bad argument #1 to 'route' (string expected)", 2) end
  if type(fn) ~= "function" then error("bad argument #3 to 'route' (function expected)", 2) end
  local e = { method = method:upper(), segs = compile(pattern, 2), fn = fn }
  self.entries[#self.entries + 1] = e
  return self
end

for _, m in ipairs({ "get", "post", "put", "delete", "patch", "options" }) do
  Router[m] = function(self, pattern, fn)
    if type(fn) ~= "function" then
      error("bad argument #2 to '" .. m .. "' (function expected)", 2)
    end
    local e = { method = m:upper(), segs = compile(pattern, 2), fn = fn }
    self.entries[#self.entries + 1] = e
    return self
  end
end

-- Captures when segs matches the path's segments, else nil.
local function match(segs, parts)
  local params = {}
  for i, seg in ipairs(segs) do
    local c = seg:sub(1, 1)
    if c == "*" then
      local name = seg:sub(2)
      params[name ~= "" and name or "rest"] = table.concat(parts, "/", i)
      return params
    end
    local part = parts[i]
    if part == nil then return nil end
    if c == ":" then
      params[seg:sub(2)] = part
    elseif seg ~= part then
      return nil
    end
  end
  if #parts ~= #segs then return nil end
  return params
end

local function serve_static(e, req, rel)
  for _, seg in ipairs(rel) do
    if seg == ".." or seg == "." or seg:find("[%z\\]") then
      return 403, { error = "forbidden" }
    end
    if seg:sub(1, 1) == "." then return nil end
  end
  local root = core.realpath(e.dir)
  if not root then return nil end
  local real = core.realpath(#rel > 0 and (root .. "/" .. table.concat(rel, "/")) or root)
  if not real then return nil end
  if real ~= root and real:sub(1, #root + 1) ~= root .. "/" then
    return 403, { error = "forbidden" } -- a link out of the directory
  end
  local st = fs.stat(real)
  if st and st.type == "dir" then
    if req.path:sub(-1) ~= "/" then
      return 301, "", { location = req.path .. "/" }
    end
    real = real .. "/index.html"
    st = fs.stat(real)
  end
  if not st or st.type ~= "file" then return nil end
  -- browsers revalidate (no-cache) and get 304 while the file is unchanged
  local modified = os.date("!%a, %d %b %Y %H:%M:%S GMT", math.floor(st.mtime))
  local headers = { ["Last-Modified"] = modified, ["Cache-Control"] = "no-cache" }
  if req.headers["if-modified-since"] == modified then return 304, "", headers end
  headers["Content-Type"] = M.content_type(real)
  return 200, M.file(real), headers
end

function Router:static(prefix, dir)
  if type(dir) ~= "string" then error("bad argument #2 to 'static' (string expected)", 2) end
  local e = { static = true, segs = compile(prefix, 2), dir = dir }
  self.entries[#self.entries + 1] = e
  return self
end

function Router:handle(req)
  local parts = segments(req.path)
  local method = req.method
  local allowed = {}
  local found_static = false
  for _, e in ipairs(self.entries) do
    if e.static then
      local n = #e.segs
      local under = #parts >= n
      for i = 1, n do under = under and parts[i] == e.segs[i] end
      if under then
        if method == "GET" or method == "HEAD" then
          -- no such file: later routes may still match (an API beside a static "/")
          local rel = table.move(parts, n + 1, #parts, 1, {})
          local status, body, headers = serve_static(e, req, rel)
          if status then return status, body, headers end
          found_static = true
        else
          allowed.GET, allowed.HEAD = true, true
        end
      end
    else
      local params = match(e.segs, parts)
      if params then
        if e.method == method or (method == "HEAD" and e.method == "GET") then
          req.params = params
          return e.fn(req)
        end
        allowed[e.method] = true
        if e.method == "GET" then allowed.HEAD = true end
      end
    end
  end
  if next(allowed) and not found_static then
    local list = {}
    for m in pairs(allowed) do list[#list + 1] = m end
    table.sort(list)
    return 405, { error = "method not allowed" }, { allow = table.concat(list, ", ") }
  end
  return 404, { error = "not found" }
end

-- }======

-- {====== serving ======

local Request = {}
Request.__index = Request

function Request:json()
  return json.decode(self.body)
end

local function flat_headers(headers, flat)
  local ctype
  if headers ~= nil then
    if type(headers) ~= "table" then error("gf.server: headers must be a table", 0) end
    for k, v in pairs(headers) do
      if type(k) ~= "string" or (type(v) ~= "string" and type(v) ~= "number") then
        error("gf.server: header names and values must be strings", 0)
      end
      local lk = k:lower()
      if lk == "content-type" then ctype = tostring(v) end
      if lk ~= "content-length" then -- libmicrohttpd sets it from the body
        flat[#flat + 1] = k
        flat[#flat + 1] = tostring(v)
      end
    end
  end
  return ctype
end

-- Send status/body/headers; raises on a bad reply (the caller answers 500 then).
local function send(h, id, status, body, headers)
  if math.type(status) ~= "integer" or status < 100 or status > 599 then
    error("gf.server: handler returned a bad status " .. tostring(status), 0)
  end
  local flat, file = {}, nil
  local ctype = flat_headers(headers, flat)
  local default
  if getmetatable(body) == FileBody then
    file, body = body.path, nil
    default = M.content_type(file)
  elseif type(body) == "table" then
    body = json.encode(body)
    default = "application/json"
  elseif body == nil then
    body = ""
  elseif type(body) ~= "string" then
    error("gf.server: body must be a string, a table or server.file(), not " .. type(body), 0)
  end
  if not ctype then
    flat[#flat + 1] = "Content-Type"
    flat[#flat + 1] = default or "text/plain; charset=utf-8"
  end
  local ok, err, code = core.respond(h, id, status, flat, body, file)
  if ok == nil then
    if code == "not_found" then
      return core.respond(h, id, 404, { "Content-Type", "application/json" },
        '{"error":"not found"}'), 404
    end
    error(err, 0)
  end
  return ok, status
end

local function traceback(err)
  if type(err) == "string" then return debug.traceback(err, 2) end
  return err
end

local function serve_one(srv, id, req)
  local t0 = clock()
  local me = task.current()
  srv._handlers[me] = true
  setmetatable(req, Request)
  req.params = req.params or {}
  local r = table.pack(xpcall(srv._handler, traceback, req))
  local status = r[2]
  if not r[1] then
    local cancelled = task.cancelled()
    if cancelled then
      log.warn("gf.server: handler interrupted", { method = req.method, path = req.path })
    else
      log.error("gf.server: handler failed", { method = req.method, path = req.path,
        error = tostring(r[2]) })
    end
    status = cancelled and 503 or 500
    r = { true, status, { error = cancelled and "server stopping" or "internal server error" } }
  end
  local ok, sent, final = pcall(send, srv._h, id, r[2], r[3], r[4])
  if not ok then
    log.error("gf.server: bad reply", { method = req.method, path = req.path, error = sent })
    status = 500
    pcall(core.respond, srv._h, id, 500, { "Content-Type", "application/json" },
      '{"error":"internal server error"}')
  else
    status = final
  end
  srv._handlers[me] = nil
  if not log.enabled("debug") then return end
  log.debug("gf.server request", { method = req.method, path = req.path, status = status,
    ms = math.floor((clock() - t0) * 1000 + 0.5), remote = req.remote })
end

local Server = {}
Server.__index = Server
Server.__name = "gf.server"

local function shutdown(srv, timeout, from_acceptor)
  local h = srv._h
  core.quiesce(h)
  if not from_acceptor then task.wait(srv._acceptor) end
  local deadline = clock() + timeout
  while core.in_flight(h) > 0 and clock() < deadline do task.sleep(0.01) end
  core.close(h)
  srv._done = true
end

local function accept_loop(srv)
  local h = srv._h
  while true do
    local id, req = core.accept(h)
    if id then
      task.spawn(serve_one, srv, id, req)
    elseif id == nil then
      return
    else
      local ok, err = pcall(core.wait, h)
      if not ok then
        -- cancelled (a signal): stop as srv:close() would
        if not srv._closing then
          srv._closing = true
          log.info("gf.server: stopping", { port = srv.port, reason = tostring(err) })
          shutdown(srv, srv._grace, true)
        end
        return
      end
    end
  end
end

local OPTS = { bind = "string", port = "number", max_body = "number", max_connections = "number",
  timeout = "number", grace = "number" }

function M.listen(opts, handler)
  opts = opts or {}
  if type(opts) ~= "table" then error("bad argument #1 to 'listen' (table expected)", 2) end
  for k, v in pairs(opts) do
    if OPTS[k] == nil then error("gf.server.listen: unknown option '" .. tostring(k) .. "'", 2) end
    if type(v) ~= OPTS[k] then
      error(("gf.server.listen: option '%s' must be a %s"):format(k, OPTS[k]), 2)
    end
  end
  local fn = handler
  if type(handler) == "table" and type(handler.handle) == "function" then
    fn = function(req) return handler:handle(req) end
  elseif type(handler) ~= "function" then
    error("bad argument #2 to 'listen' (router or function expected)", 2)
  end
  local o = {}
  for k, v in pairs(DEFAULTS) do o[k] = opts[k] == nil and v or opts[k] end
  for _, k in ipairs({ "port", "max_body", "max_connections" }) do
    if math.type(o[k]) ~= "integer" then
      error(("gf.server.listen: option '%s' must be an integer"):format(k), 2)
    end
  end
  local h, err, code = core.listen(o.bind, o.port, o.max_body, o.max_connections, o.timeout)
  if not h then return nil, err, code end
  local srv = setmetatable({ port = core.port(h), bind = o.bind, _h = h, _handler = fn,
    _grace = opts.grace or 10, _handlers = setmetatable({}, { __mode = "k" }) }, Server)
  srv._acceptor = task.spawn(accept_loop, srv)
  log.debug("gf.server listening", { bind = o.bind, port = srv.port })
  return srv
end

--- Graceful close: stop accepting, wait for in-flight requests (at most opts.timeout seconds,
-- default 10), then close every connection. Waits (yields). Idempotent.
function Server:close(opts)
  local timeout = opts and opts.timeout or self._grace
  if type(timeout) ~= "number" or timeout < 0 then
    error("gf.server close: timeout must be a non-negative number", 2)
  end
  if self._closing then
    while not self._done and not self._handlers[task.current()] do task.sleep(0.01) end
    return true
  end
  self._closing = true
  if self._handlers[task.current()] then
    -- called by a handler (a /shutdown route): its own request must be answered first
    core.quiesce(self._h)
    task.spawn(shutdown, self, timeout, false)
    return true
  end
  shutdown(self, timeout, false)
  return true
end

function Server:in_flight()
  return self._done and 0 or core.in_flight(self._h)
end

function Server:connections()
  return self._done and 0 or core.connections(self._h)
end

Server.__close = function(self) self:close() end

-- }======

return M
