--- serve.cli: `gfhost serve`, the status page of workflow runs, payload states and listeners.
--
--   gfhost serve --state PATH|dynamodb://TABLE [--port 8080] [--bind 127.0.0.1] [--token T]
--                [--allow-actions] [--collections-workflow CW ...]
--
-- Binds 127.0.0.1 unless told otherwise; any other address needs --token (or
-- GFHOST_SERVE_TOKEN), which every request must then carry. --allow-actions (rerun a failed
-- node or payload, each recorded in the state) needs the token too. Runs until SIGINT/SIGTERM.
local args = require("gf.args")
local host = require("gf.host")

local M = {}

local SPEC = {
  name = "serve", version = "1.0.0",
  description = "Serve a status page and JSON API over a gf.state store: workflow runs, Cirrus "
    .. "payload states, listener health.",
  options = {
    { name = "state", required = true, metavar = "PATH|dynamodb://TABLE",
      help = "the gf.state store (a SQLite file, or dynamodb://TABLE[?endpoint=URL&region=R])" },
    { name = "port", type = "integer", default = 8080, help = "TCP port (0: any free port)" },
    { name = "bind", default = "127.0.0.1", help = "address to listen on" },
    { name = "token", secret = true, env = "GFHOST_SERVE_TOKEN",
      help = "required on every request (Bearer header, cookie, or ?token= once in the page's address)" },
    { name = "allow-actions", type = "boolean",
      help = "enable rerun of failed nodes and payloads (needs --token; each action is recorded)" },
    { name = "collections-workflow", repeatable = true, metavar = "CW",
      help = "offer this collections-workflow key on the page (DynamoDB cannot list them)" },
    { name = "max-connections", type = "integer", default = 64, hidden = true },
    { name = "www", type = "path", hidden = true, help = "the page's directory (default: the tree's)" },
  },
}

-- Loopback addresses: 127.0.0.0/8, ::1, localhost.
function M.is_loopback(addr)
  if addr == "localhost" or addr == "::1" or addr == "[::1]" then return true end
  local a = addr:match("^127%.(%d+)%.(%d+)%.(%d+)$")
  return a ~= nil
end

-- The checked options, or raises a usage failure (exit 2).
function M.options(...)
  local opts = args.parse(SPEC, ...)
  if opts.port < 0 or opts.port > 65535 then host.fail("serve: --port must be 0..65535", 2) end
  if opts.token == "" then opts.token = nil end
  if opts.token and #opts.token < 16 then
    host.fail("serve: --token must be at least 16 characters", 2)
  end
  if not M.is_loopback(opts.bind) and not opts.token then
    host.fail(("serve: refusing to bind %s without --token (only 127.0.0.1, ::1 and localhost "
      .. "may go without one)"):format(opts.bind), 2)
  end
  if opts.allow_actions and not opts.token then
    host.fail("serve: --allow-actions needs --token (actions are never open to anyone)", 2)
  end
  return opts
end

function M.main(...)
  local opts = M.options(...)
  local log = require("gf.log")
  local task = require("gf.task")
  local ok, server = pcall(require, "gf.server")
  if not ok then host.fail("serve: gf.server is not in this build") end
  local store, msg = require("gf.flow.store").open(opts.state)
  if not store then host.fail("serve: " .. tostring(msg)) end
  local handle = require("serve.app").new({ store = store, token = opts.token,
    allow_actions = opts.allow_actions, www = opts.www, log = log, warm = true,
    collections_workflows = opts.collections_workflow })
  local srv, err = server.listen({ bind = opts.bind, port = opts.port, max_body = 65536,
    max_connections = opts.max_connections, timeout = 30 }, handle)
  if not srv then host.fail(("serve: cannot listen on %s:%d: %s"):format(opts.bind, opts.port,
    tostring(err))) end
  local shown = opts.bind:find(":", 1, true) and ("[" .. opts.bind .. "]") or opts.bind
  io.stdout:write(("gfhost serve: http://%s:%d/ (state %s, %s%s)\n"):format(shown, srv.port,
    require("gf.flow.store").parse(opts.state).backend, opts.token and "token required" or
    "no token", opts.allow_actions and ", actions enabled" or ", read-only"))
  io.stdout:flush()
  log.info("serve listening", { bind = opts.bind, port = srv.port, actions = opts.allow_actions })
  while true do
    local alive = pcall(task.sleep, 1)
    if not alive or task.interrupted() then break end
  end
  srv:close()
  store:close()
  io.stdout:write("gfhost serve: stopped\n")
  return 0
end

return M
