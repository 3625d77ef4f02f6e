-- Start and stop spec/support/datamart_server.py (a stand-in MSC datamart serving files after
-- N 404s, and a stand-in GitHub dispatch API) from the datamart specs.
--
--   local srv = require("spec.support.datamart").start{root =, not_found = 1,
--     dispatch_status = "500,204", dispatch_log = path}
--   srv.url, srv:hits(path), srv:dispatches() -> list of {path, status, headers, body}, srv:stop()
-- and the listener specs' helpers: fixture_rows, publish, start_listener, wait_exit, db_rows.
local paths = require("spec.support.paths")
local files = require("spec.support.files")

local M = {}

local Server = {}
Server.__index = Server

local function sleep(s)
  local ok, task = pcall(require, "gf.task")
  if ok then task.sleep(s) else os.execute("sleep " .. s) end
end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

function M.start(o)
  o = o or {}
  local dir = paths.tmpdir()
  local ready, log = dir .. "/ready", dir .. "/log"
  local dlog = o.dispatch_log or (dir .. "/dispatches.jsonl")
  local cmd = ("/usr/bin/python3 %s --port %d --ready %s --root %s --not-found %d --dispatch-log %s --dispatch-status %s >%s 2>&1 & echo $!")
    :format(q(paths.root .. "/spec/support/datamart_server.py"), o.port or 0, q(ready), q(o.root or dir),
      o.not_found or 0, q(dlog), q(o.dispatch_status or "204"), q(log))
  local p = assert(io.popen(cmd, "r"))
  local pid = tonumber(p:read("l"))
  p:close()
  local deadline = os.time() + 10
  local port
  while not port do
    local s = files.read(ready)
    port = s and tonumber(s:match("%d+"))
    if not port then
      if os.time() > deadline then
        os.execute("kill " .. pid)
        error("datamart_server did not start: " .. (files.read(log) or ""))
      end
      sleep(0.02)
    end
  end
  return setmetatable({ pid = pid, port = port, dir = dir, dispatch_log = dlog,
    url = ("http://127.0.0.1:%d"):format(port) }, Server)
end

function Server:hits(path)
  local http = require("gf.http")
  local r = assert(http.get(self.url .. "/_hits?path=" .. http.url_encode(path)))
  return tonumber(r.body)
end

function Server:dispatches()
  local json = require("gf.json")
  local out = {}
  for line in (files.read(self.dispatch_log) or ""):gmatch("[^\n]+") do out[#out + 1] = json.decode(line) end
  return out
end

--- fixture_rows() -> the captured announcements (../shared/fixtures/datamart), in event_id order
function M.fixture_rows()
  local sqlite = require("gf.sqlite")
  local db = assert(sqlite.open(paths.fixtures .. "/datamart/amqp_events_20230422-24.db", { readonly = true, wal = false }))
  local rows = assert(db:query("SELECT * FROM message_events ORDER BY event_id"))
  db:close()
  return rows
end

--- publish(conn, exchange, rows): each row as the datamart's announcement with its routing key
function M.publish(conn, exchange, rows)
  local message = require("datamart.message")
  for _, r in ipairs(rows) do
    assert(conn:publish(exchange, message.routing_key(r.event_message),
      message.body(r.event_message, r.event_timestmp), { content_type = "text/plain", persistent = true }))
  end
end

--- start_listener{dir, url, zone, exchange, dispatch_url, token, port, idle} -> pid
-- runs `gfhost run datamart_listener --profile 2023` in dir (stdout/stderr appended to
-- dir/out, dir/err), database dir/events.db
function M.start_listener(o)
  local envs = { "GH_ORG=bcgov", "GH_REPO=nr-rfc-grib-copy", "GH_TOKEN=" .. o.token, "CLOUDAMQP_URL=" .. o.url,
    "ZONE=" .. o.zone, "AMPQ_EXCHANGE=" .. o.exchange, "DAYS_TO_STALE=100000",
    "DB_FILE_PATH=sqlite:///" .. o.dir .. "/events.db" }
  local a = { paths.gfhost, "run", "datamart_listener", "--profile", "2023", "--dispatch-url", o.dispatch_url,
    "--retry-base", "0.2", "--bind", "127.0.0.1", "--port", tostring(o.port or 0), "--heartbeat", "5" }
  if o.idle then a[#a + 1] = "--exit-when-idle" a[#a + 1] = tostring(o.idle) end
  if o.state then a[#a + 1] = "--state" a[#a + 1] = o.state end
  for i, x in ipairs(a) do a[i] = q(x) end
  for i, x in ipairs(envs) do envs[i] = q(x) end
  local cmd = ("cd %s && env %s %s >>%s/out 2>>%s/err & echo $!"):format(q(o.dir), table.concat(envs, " "),
    table.concat(a, " "), q(o.dir), q(o.dir))
  local p = assert(io.popen(cmd))
  local pid = tonumber(p:read("l"))
  p:close()
  return pid
end

function M.alive(pid) return os.execute("kill -0 " .. pid .. " 2>/dev/null") == true end

--- wait_exit(pid, seconds, errfile): raises (with errfile's text) when pid outlives the wait
function M.wait_exit(pid, secs, errfile)
  local deadline = os.time() + secs
  while M.alive(pid) do
    if os.time() > deadline then
      os.execute("kill -9 " .. pid .. " 2>/dev/null")
      error("listener did not stop: " .. (files.read(errfile or "/dev/null") or ""))
    end
    sleep(0.05)
  end
end

--- db_rows(path) -> message_events rows (message, time, key) in id order, dispatched keys
function M.db_rows(path)
  local sqlite = require("gf.sqlite")
  local f = io.open(path, "r")
  if not f then return {}, {} end -- not created yet
  f:close()
  local db = assert(sqlite.open(path))
  local r = db:query("SELECT event_message, event_timestmp, event_idempotency_key FROM message_events ORDER BY event_id")
  if not r then db:close() return {}, {} end -- the listener has not made its tables yet
  local d = {}
  local ok, dd = pcall(db.query, db, "SELECT event_idempotency_key FROM gf_dispatched_days ORDER BY 1")
  if ok and dd then for _, x in ipairs(dd) do d[#d + 1] = x.event_idempotency_key end end
  db:close()
  return r, d
end

function Server:stop() -- idempotent (specs also call it from finally)
  if self.stopped then return end
  self.stopped = true
  os.execute("kill " .. self.pid .. " 2>/dev/null")
  os.execute("rm -rf " .. q(self.dir))
end

return M
