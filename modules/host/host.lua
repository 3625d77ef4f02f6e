--- gf.host: the host's own commands and conventions.
--
-- fail(message, exit [, extra])  raise an expected failure: printed as `gfhost: <message>`, no
--                       traceback, exit status `exit` (default 1; 2 for usage errors); every
--                       script fails through it
-- root(), version()     where the Lua tree is; gfhost's version
-- load_script(name)     resolve `gfhost run <name|path>` to a loaded chunk, or nil, message
-- command(cmd, ...)     `gfhost list|version|spec ...` (called by the executable)
-- ERROR_CODES           the closed set of codes in `nil, message, code` (docs/errors.md)
local core = require("gf.host.core")

local M = {}

M.root = core.root
M.version = core.version
M.libdir = core.libdir
M.isatty = core.isatty
M.pid = core.pid
M.exe = core.exe

--- The one closed set of error codes: every `nil, message, code` any module, library or script
--- returns uses one of these (docs/errors.md says when; spec/unit/error_codes_spec.lua checks
--- the sources and the specs' expectations against this table).
M.ERROR_CODES = {
  timeout = "a deadline passed, or a lock was held past the wait allowed",
  network = "connection refused, reset or lost; DNS",
  tls = "certificate or TLS handshake failure",
  auth = "credentials missing or refused (401/403, AMQP ACCESS_REFUSED)",
  not_found = "no such object, file, queue, key, record or program",
  conflict = "a condition failed: already exists, already claimed, constraint, inequivalent declare",
  throttled = "the service asked to slow down (429, SlowDown, Throttling)",
  parse = "a document could not be read: bad JSON, YAML, XML, CSV, GRIB",
  invalid_input = "the request was refused as wrong (other 4xx), bad SQL, a bad value",
  io = "a local file or device failed",
  gdal = "GDAL could not open or convert a raster",
  service = "a remote service failed (5xx, CMR or Logs Insights errors, a reply missing a field)",
  protocol = "a peer broke its protocol (AMQP frame errors, channel closed by the broker)",
  closed = "the connection was closed by this process while a task waited on it",
  interrupted = "the task was cancelled (SIGINT/SIGTERM, gf.task.cancel, a timeout)",
}

--- Raise an expected failure (no traceback). `exit` defaults to 1; the fields of `extra` (e.g.
--- a run's partial summary) ride along on the error object for a caller that catches it.
function M.fail(message, exit, extra)
  local e = { message = tostring(message), exit = exit or 1 }
  for k, v in pairs(extra or {}) do e[k] = v end
  error(setmetatable(e, { __tostring = function(x) return x.message end }), 0)
end

local function file_exists(path)
  local f = io.open(path, "r")
  if f then f:close() return true end
  return false
end

--- Resolve a script name or path: a bare name is scripts/<name>.lua under the root.
function M.resolve_script(name)
  if name:find("/", 1, true) or name:match("%.lua$") then
    if file_exists(name) then return name end
    return nil, ("script not found: %s"):format(name)
  end
  local path = ("%s/scripts/%s.lua"):format(core.root(), name)
  if file_exists(path) then return path end
  local wf = ("%s/workflows/%s.lua"):format(core.root(), name)
  if file_exists(wf) then return wf, "workflow" end
  return nil, ("unknown script '%s' (gfhost list shows the scripts; looked in %s/scripts and "
    .. "%s/workflows)"):format(name, core.root(), core.root())
end

function M.load_script(name)
  local path, err = M.resolve_script(name)
  if not path then return nil, err end
  if err == "workflow" then
    return function(...) return require("gf.flow.cli").main(path, ...) end
  end
  local fn, lerr = loadfile(path, "t")
  if not fn then return nil, lerr end
  -- A file that returns a gf.flow workflow is run as one (gfhost run path/to/workflow.lua).
  return function(...)
    local r = table.pack(fn(...))
    local mt = type(r[1]) == "table" and getmetatable(r[1])
    if mt and mt.__name == "gf.flow.workflow" then
      return require("gf.flow.cli").main(path, ...)
    end
    return table.unpack(r, 1, r.n)
  end
end

--- The one-line description of a script: its first `--- ` comment line.
function M.describe(path)
  local f = io.open(path, "r")
  if not f then return "" end
  for line in f:lines() do
    local d = line:match("^%-%-%-%s*(.-)%s*$")
    if d then f:close() return d end
    if not line:match("^%-%-") and not line:match("^#!") and line:match("%S") then break end
  end
  f:close()
  return ""
end

local function list_scripts()
  local fs = require("gf.fs")
  local entries = {}
  for _, kind in ipairs({ "scripts", "workflows" }) do
    local dir = core.root() .. "/" .. kind
    for _, n in ipairs(fs.list(dir) or {}) do
      if n:match("%.lua$") then
        entries[#entries + 1] = { name = n:sub(1, -5), path = dir .. "/" .. n,
          suffix = kind == "workflows" and " (workflow)" or "" }
      end
    end
  end
  table.sort(entries, function(a, b) return a.name < b.name end)
  local width = 0
  for _, e in ipairs(entries) do width = math.max(width, #e.name) end
  for _, e in ipairs(entries) do
    io.stdout:write(("%-" .. width .. "s  %s%s\n"):format(e.name, M.describe(e.path), e.suffix))
  end
  return 0
end

-- Native cores report the library they wrap as _LIBRARY and _LIBVERSION.
local CORES = { "http", "aws", "json", "yaml", "csv", "fs", "time", "sqlite", "state", "amqp",
  "server", "raster", "grib" }

local function version_report()
  local out = io.stdout
  out:write(("gfhost %s\n"):format(core.version()))
  out:write(("  %-10s %s\n"):format("Lua", core.lua_version))
  local seen = {}
  for _, name in ipairs(CORES) do
    local ok, mod = pcall(require, "gf." .. name .. ".core")
    if ok and type(mod) == "table" and mod._LIBRARY and not seen[mod._LIBRARY] then
      seen[mod._LIBRARY] = true
      out:write(("  %-10s %s\n"):format(mod._LIBRARY, tostring(mod._LIBVERSION)))
    end
  end
  return 0
end

local function run_spec(...)
  local root = core.root()
  local args = { ... }
  local has_output = false
  for _, a in ipairs(args) do
    if a == "-o" or a:match("^%-%-output") then has_output = true end
  end
  local argv = { [0] = "busted" }
  if not has_output then
    argv[#argv + 1] = "-o"
    argv[#argv + 1] = root .. "/spec/support/summary.lua"
  end
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  if #args == 0 then argv[#argv + 1] = root .. "/spec" end
  local code
  local real_exit = os.exit
  os.exit = function(c)
    code = (c == true or c == nil) and 0 or (c == false and 1 or c)
    error("__busted_exit__", 0)
  end
  _G.arg = argv
  local ok, err = pcall(function()
    require("busted.runner")({ standalone = false })
  end)
  os.exit = real_exit
  if not ok and err ~= "__busted_exit__" then
    M.fail("spec: " .. tostring(err), 2)
  end
  return code or 0
end

--- Every gfhost command, in the order `gfhost help` lists them: {name, arguments, help, main}.
--- `run` is started by the executable itself (its script becomes the main task).
M.COMMANDS = {
  { "run", "<name|path> [args...]", "run scripts/<name>.lua (or a Lua file) as the main task" },
  { "spec", "[busted args...]", "run the specs (busted) inside the host", run_spec },
  { "list", "", "list the scripts and workflows with their descriptions", list_scripts },
  { "dag", "<workflow> --out DIR", "write HTCondor DAGMan files for a workflow",
    function(...) return require("gf.flow.dag").main(...) end },
  { "task", "<workflow> <node>", "run one workflow node (what DAG nodes run)",
    function(...) return require("gf.flow.cli").task_main(...) end },
  { "worker", "--queue URL", "run workflow nodes from an SQS queue",
    function(...) return require("gf.flow.cli").worker_main(...) end },
  { "serve", "--state PATH|URL", "serve the status page and its JSON API (docs/serve.md)",
    function(...) return require("serve.cli").main(...) end },
  { "version", "", "gfhost and library versions", version_report },
  { "help", "", "this text" },
}

local function usage(out)
  out:write("usage: gfhost <command> [arguments]\n\ncommands:\n")
  for _, c in ipairs(M.COMMANDS) do
    out:write(("  %-28s%s\n"):format(c[1] .. (c[2] ~= "" and " " .. c[2] or ""), c[3]))
  end
  out:write("\n`gfhost run <name> --help` shows a script's options.\n"
    .. "environment: GFHOST_ROOT (Lua tree), GFHOST_WORKERS (worker threads), GFHOST_GRACE\n"
    .. "             (seconds of clean-up after a signal), GFHOST_STALL_MS (report slow loop steps),\n"
    .. "             GFHOST_LOG_LEVEL (debug|info|warn|error), GFHOST_LOG_FORMAT (text|json)\n")
end

--- Run `gfhost <cmd> ...`: the command's exit status. No command: usage on stderr, 2.
function M.command(cmd, ...)
  if cmd == nil or cmd == "" then
    usage(io.stderr)
    return 2
  end
  if cmd == "help" then
    usage(io.stdout)
    return 0
  end
  for _, c in ipairs(M.COMMANDS) do
    if c[1] == cmd and c[4] then return c[4](...) end
  end
  io.stderr:write(("gfhost: unknown command '%s' (see gfhost help)\n"):format(cmd))
  return 2
end

return M
