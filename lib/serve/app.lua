--- serve.app: the HTTP side of `gfhost serve` as one handler function, independent of the server.
--
-- local handle = require("serve.app").new({store = store, token = "t" | nil, allow_actions =
--   false, www = "<dir>"})
-- handle(req) -> status, body, headers     req = {method, path, query, headers (lower-case
--   names), body, remote} as gf.server gives it; body is a string or a table (JSON).
--
-- Routes: GET / and the page's files under www (a fixed list, never a path from the request),
-- GET /api/runs, /api/runs/<id>, /api/payloads, /api/health, POST /api/actions/<name>.
-- With a token, every request must carry it: `Authorization: Bearer <token>`, the cookie
-- gfhost_serve_token=<token>, or `?token=<token>` (the page's entry link: answered with a
-- redirect that sets the cookie and drops the token from the address). Otherwise 401. Actions
-- need allow_actions, the token, POST and a JSON body (a cross-site form cannot send one, and
-- the cookie is SameSite=Strict).
local api_mod = require("serve.api")
local json = require("gf.json")

local M = {}

M.COOKIE = "gfhost_serve_token"

local FILES = {
  ["/"] = { "index.html", "text/html; charset=utf-8" },
  ["/index.html"] = { "index.html", "text/html; charset=utf-8" },
  ["/app.js"] = { "app.js", "text/javascript; charset=utf-8" },
  ["/style.css"] = { "style.css", "text/css; charset=utf-8" },
}

-- Every answer: no framing, no sniffing, scripts and styles only from this origin (an injected
-- <script> or inline handler cannot run even if markup got through), no referrer.
local SECURITY = {
  ["content-security-policy"] = "default-src 'none'; script-src 'self'; style-src 'self'; "
    .. "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
    .. "frame-ancestors 'none'",
  ["x-content-type-options"] = "nosniff",
  ["referrer-policy"] = "no-referrer",
  ["x-frame-options"] = "DENY",
  ["cache-control"] = "no-store",
}

local function headers(extra)
  local h = {}
  for k, v in pairs(SECURITY) do h[k] = v end
  for k, v in pairs(extra or {}) do h[k] = v end
  return h
end

-- Equal strings, compared in time independent of where they differ.
local function same(a, b)
  if type(a) ~= "string" or type(b) ~= "string" or #a ~= #b then return false end
  local d = 0
  for i = 1, #a do d = d | (a:byte(i) ~ b:byte(i)) end
  return d == 0
end
M.same = same

local function cookie(hdrs, name)
  local c = hdrs and hdrs.cookie
  if type(c) ~= "string" then return nil end
  for k, v in c:gmatch("([^=;%s]+)=([^;]*)") do
    if k == name then return v end
  end
  return nil
end

-- "bearer" | "cookie" | "query" when the request carries the token; nil otherwise.
local function presented(req, token)
  local h = req.headers or {}
  local auth = h.authorization
  if type(auth) == "string" then
    local t = auth:match("^[Bb]earer%s+(%S+)%s*$")
    if same(t, token) then return "bearer" end
  end
  if same(cookie(h, M.COOKIE), token) then return "cookie" end
  if same(req.query and req.query.token, token) then return "query" end
  return nil
end

local function is_api(path) return path:sub(1, 5) == "/api/" end

local function read_file(path)
  return (require("gf.fs").read(path)) -- nil when missing; read on the worker pool
end

function M.new(opts)
  assert(type(opts) == "table" and opts.store, "serve.app.new: store required")
  local www = opts.www or (require("gf.host").root() .. "/lib/serve/www")
  local token = opts.token
  if token == "" then token = nil end
  local api = api_mod.new(opts.store, { allow_actions = opts.allow_actions and token ~= nil,
    clock = opts.clock, stats_ttl = opts.stats_ttl,
    collections_workflows = opts.collections_workflows })
  local log = opts.log
  if opts.warm then
    local n = api:warm()
    if log then log.info("payload statistics ready", { collections_workflows = n }) end
  end

  local function deny(req)
    if is_api(req.path) then
      return 401, { error = "unauthorized: this server needs its token (Authorization: Bearer)" },
        headers({ ["www-authenticate"] = 'Bearer realm="gfhost serve"' })
    end
    return 401, "401 unauthorized: open the page with ?token=<token> once (it sets a cookie)\n",
      headers({ ["content-type"] = "text/plain; charset=utf-8",
        ["www-authenticate"] = 'Bearer realm="gfhost serve"' })
  end

  local function route(req)
    local method, path = req.method or "GET", req.path or "/"
    local q = req.query or {}
    local file = FILES[path]
    if file then
      if method ~= "GET" and method ~= "HEAD" then
        return 405, { error = "method not allowed" }, headers({ allow = "GET" })
      end
      local body = read_file(www .. "/" .. file[1])
      if not body then return 500, { error = "page file missing: " .. file[1] }, headers() end
      return 200, body, headers({ ["content-type"] = file[2] })
    end
    if path == "/favicon.ico" then return 204, "", headers() end
    if not is_api(path) then return 404, { error = "not found: " .. path }, headers() end
    local action = path:match("^/api/actions/([%w%-]+)$")
    if action then
      if method ~= "POST" then return 405, { error = "POST only" }, headers({ allow = "POST" }) end
      local ct = (req.headers or {})["content-type"] or ""
      if not ct:find("^application/json") then
        return 415, { error = "actions take a JSON body (content-type: application/json)" },
          headers()
      end
      local body = json.decode(req.body or "")
      if type(body) ~= "table" then return 400, { error = "body: a JSON object expected" }, headers() end
      local status, out = api:action(action, body, { remote = req.remote })
      if log then
        log.info("serve action", { action = action, remote = req.remote, status = status })
      end
      return status, out, headers()
    end
    if method ~= "GET" and method ~= "HEAD" then
      return 405, { error = "method not allowed" }, headers({ allow = "GET" })
    end
    if path == "/api/runs" then return api:runs(q) end
    local id = path:match("^/api/runs/(.+)$")
    if id then return api:run(id, q) end -- req.path arrives %-decoded (libmicrohttpd)
    if path == "/api/payloads" then return api:payloads(q) end
    if path == "/api/health" then return api:health(q) end
    return 404, { error = "not found: " .. path }
  end

  return function(req)
    if token then
      local how = presented(req, token)
      if not how then return deny(req) end
      if how == "query" and not is_api(req.path or "/") then
        -- the entry link: keep the token in an HttpOnly cookie, take it out of the address
        return 303, "", headers({ location = req.path or "/",
          ["set-cookie"] = ("%s=%s; HttpOnly; SameSite=Strict; Path=/"):format(M.COOKIE, token) })
      end
    end
    local status, body, h = route(req)
    return status, body, h or headers()
  end
end

return M
