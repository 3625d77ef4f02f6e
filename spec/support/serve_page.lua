-- Start and stop the `gfhost serve` page for the browser specs and the bench, on 127.0.0.1.
--
--   local page = require("spec.support.serve_page")
--   local srv = page.start({state = PATH, port = 19133, token = T|nil, allow_actions = bool})
--   srv.url, srv:stop()
--   page.python() -> /usr/bin/python3 (Debian's, which has python3-websocket)
--   page.have_browser() -> true | nil, why   (chromium, python3-websocket, gf.server built)
local paths = require("spec.support.paths")
local shquote = require("spec.support.run").shquote

local M = {}

local Srv = {}
Srv.__index = Srv

function M.python()
  local f = io.open("/usr/bin/python3", "r")
  if f then f:close() return "/usr/bin/python3" end
  return "python3"
end

function M.have_browser()
  if not M.has_server() then return nil, "gf.server is not in this build (libmicrohttpd-dev)" end
  if not os.execute("command -v chromium >/dev/null 2>&1") then
    return nil, "no chromium (apt-get install chromium)"
  end
  if not os.execute(M.python() .. " -c 'import websocket' >/dev/null 2>&1") then
    return nil, "no python3-websocket (apt-get install python3-websocket)"
  end
  return true
end

function M.has_server()
  return (pcall(require, "gf.server"))
end

local function sleep(s) require("gf.task").sleep(s) end

-- HTTP status of a GET (curl), or nil when nothing answers.
function M.status(url, header)
  local cmd = ("curl -s -o /dev/null -w '%%{http_code}' --max-time 5 %s %s"):format(
    header and ("-H " .. shquote(header)) or "", shquote(url))
  local p = io.popen(cmd)
  local code = tonumber(p:read("a"))
  p:close()
  if code == 0 then return nil end
  return code
end

function M.start(opts)
  local port = assert(opts.port, "port")
  local log = os.tmpname()
  local cmd = ("exec %s serve --state %s --port %d"):format(shquote(paths.gfhost),
    shquote(opts.state), port)
  if opts.allow_actions then cmd = cmd .. " --allow-actions" end
  -- the token through the environment, not the command line (ps would show it)
  if opts.token then cmd = "GFHOST_SERVE_TOKEN=" .. shquote(opts.token) .. " " .. cmd end
  local p = assert(io.popen(cmd .. " >" .. log .. " 2>&1 & echo $!"))
  local pid = tonumber(p:read("l"))
  p:close()
  local url = ("http://127.0.0.1:%d/"):format(port)
  for _ = 1, 300 do
    if M.status(url .. "favicon.ico") then
      return setmetatable({ pid = pid, url = url, port = port, log = log }, Srv)
    end
    sleep(0.05)
  end
  os.execute("kill " .. pid)
  error("serve page did not start: " .. (require("spec.support.files").read(log) or ""))
end

function Srv:stop()
  if self.pid then os.execute("kill " .. self.pid .. " 2>/dev/null") end
  self.pid = nil
  os.remove(self.log)
end

--- Run spec/support/serve_browser.py; -> decoded JSON output, or raises with its stderr.
function M.browser(args)
  local parts = { M.python(), shquote(paths.root .. "/spec/support/serve_browser.py") }
  for _, a in ipairs(args) do parts[#parts + 1] = shquote(a) end
  local err = os.tmpname()
  local p = io.popen(table.concat(parts, " ") .. " 2>" .. err)
  local out = p:read("a")
  p:close()
  local files = require("spec.support.files")
  local e = files.read(err) or ""
  os.remove(err)
  local v = require("gf.json").decode(out)
  if type(v) ~= "table" then error("serve_browser.py: " .. out .. e) end
  return v
end

return M
