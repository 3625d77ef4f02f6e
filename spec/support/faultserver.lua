-- Start and stop spec/support/faultserver.py (a misbehaving local HTTP server) from specs.
--
--   local fs = require("spec.support.faultserver")
--   local srv = fs.start({port = 0})   -- waits until it listens; srv.url = "http://127.0.0.1:<port>"
--   srv:hits(id) -> number             server-side hit counter for ?id=<id>
--   srv:last(id) -> {lower-case name = value}   the last request's headers for that id
--   srv:stop()                         kill it by PID
--   fs.pattern(from, to) -> the bytes /bytes serves for [from, to): byte i = (i*31+7) & 255
--   fs.same_bytes(want, got [, what])  raises (at the caller) naming the first differing byte,
--                                      without dumping megabytes
local paths = require("spec.support.paths")

local M = {}

local Server = {}
Server.__index = Server

local function sleep(s)
  local ok, task = pcall(require, "gf.task")
  if ok then task.sleep(s) else os.execute("sleep " .. s) end
end

local read_file = require("spec.support.files").read

local function python()
  local f = io.open("/usr/bin/python3", "r")
  if f then f:close() return "/usr/bin/python3" end
  return "python3"
end

--- Start the server; raises when it does not listen within `timeout` seconds (default 10).
function M.start(opts)
  opts = opts or {}
  local dir = paths.tmpdir()
  local ready = dir .. "/ready"
  local log = dir .. "/log"
  local script = paths.root .. "/spec/support/faultserver.py"
  local cmd = ("%s '%s' --port %d --ready '%s' >'%s' 2>&1 & echo $!"):format(
    python(), script, opts.port or 0, ready, log)
  local p = assert(io.popen(cmd, "r"))
  local pid = tonumber(p:read("l"))
  p:close()
  assert(pid, "faultserver: no PID")
  local deadline = os.time() + (opts.timeout or 10)
  local port
  while not port do
    local s = read_file(ready)
    port = s and tonumber(s:match("%d+"))
    if not port then
      if os.time() > deadline then
        os.execute("kill " .. pid)
        error("faultserver did not start: " .. (read_file(log) or ""))
      end
      sleep(0.02)
    end
  end
  return setmetatable({ pid = pid, port = port, dir = dir,
    url = ("http://127.0.0.1:%d"):format(port) }, Server)
end

local function get(url)
  local http = require("gf.http")
  local res, err = http.request({ url = url, retry = false })
  assert(res, err)
  return res.body
end

function Server:hits(id)
  return tonumber(get(("%s/_hits?id=%s"):format(self.url, id)))
end

function Server:last(id)
  local t = {}
  for line in get(("%s/_last?id=%s"):format(self.url, id)):gmatch("[^\n]+") do
    local k, v = line:match("^([^:]+): (.*)$")
    if k then t[k:lower()] = v end
  end
  return t
end

function Server:stop()
  if self.pid then
    os.execute(("kill %d 2>/dev/null"):format(self.pid))
    self.pid = nil
    os.execute(("rm -rf '%s'"):format(self.dir))
  end
end

function M.pattern(from, to)
  local t = {}
  for i = from, to - 1 do t[#t + 1] = string.char((i * 31 + 7) & 255) end
  return table.concat(t)
end

function M.same_bytes(want, got, what)
  if want == got then return end
  local at = 1
  if got then
    while at <= #want and want:byte(at) == got:byte(at) do at = at + 1 end
  end
  error(("%s: %s bytes wanted, %s got, first difference at byte %d"):format(what or "bytes",
    #want, got and #got or "nil", at), 2)
end

return M
