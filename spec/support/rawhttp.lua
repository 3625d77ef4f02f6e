-- Raw-socket HTTP client for server specs: spec/support/rawhttp.py, started once and driven over
-- HTTP (gf.http), so that a gf.server in the same process keeps serving while it works.
--
--   local rawhttp = require("spec.support.rawhttp")
--   local raw = rawhttp.start()                      -- waits until it listens
--   local r = raw:run(port, {data = "GET / HTTP/1.1\r\n\r\n", delay = 0.1, wait = 5})
--   -- r = {response = text, sent = n, closed = bool, error = str|nil}
--   local h = raw:spawn(port, {hold = 2, count = 3})  -- a task; gf.task.wait(h) -> true, result
--   raw:stop()
local paths = require("spec.support.paths")
local files = require("spec.support.files")
local json = require("gf.json")
local http = require("gf.http")
local task = require("gf.task")
local proc = require("gf.proc")

local M = {}

local Raw = {}
Raw.__index = Raw

function M.start(port)
  local dir = assert(require("gf.fs").tempdir("gfrawhttp-"))
  local ready = dir .. "/ready"
  -- gf.proc spawns without blocking the loop; the child's output goes to a log file
  local p = assert(proc.spawn({ "/bin/sh", "-c", ("exec python3 '%s/spec/support/rawhttp.py' "
    .. "--port %d --ready '%s' --parent %d >'%s/log' 2>&1"):format(paths.root, port or 0, ready,
    require("gf.host").pid(), dir) }))
  local deadline = os.time() + 10
  local cport
  while not cport do
    local s = files.read(ready)
    cport = s and tonumber(s:match("%d+"))
    if not cport then
      if os.time() > deadline or p:reap() then
        p:kill(9)
        error("rawhttp.py did not start: " .. (files.read(dir .. "/log") or ""))
      end
      task.sleep(0.02)
    end
  end
  return setmetatable({ proc = p, dir = dir,
    url = ("http://127.0.0.1:%d/run"):format(cport) }, Raw)
end

function Raw:run(port, scenario)
  local sc = { port = port }
  for k, v in pairs(scenario or {}) do sc[k] = v end
  local res = assert(http.request({ url = self.url, method = "POST", body = json.encode(sc),
    retry = false, timeout = 60 }))
  assert(res.status == 200, "rawhttp.py: " .. res.status)
  return assert(json.decode(res.body))
end

function Raw:spawn(port, scenario)
  return task.spawn(function() return self:run(port, scenario) end)
end

function Raw:stop()
  if self.proc then
    self.proc:kill(15)
    while not self.proc:reap() do task.sleep(0.01) end
    self.proc = nil
    require("gf.fs").remove_tree(self.dir)
  end
end

return M
