-- Start and stop spec/support/datamart_server.py (a stand-in MSC datamart serving files after
-- N 404s, and a stand-in GitHub dispatch API) from the datamart specs.
--
--   local srv = require("spec.support.datamart").start{root =, not_found = 1,
--     dispatch_status = "500,204", dispatch_log = path}
--   srv.url, srv:hits(path), srv:dispatches() -> list of {path, status, headers, body}, srv:stop()
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

function Server:stop()
  os.execute("kill " .. self.pid .. " 2>/dev/null")
  os.execute("rm -rf " .. q(self.dir))
end

return M
