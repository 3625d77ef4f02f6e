--- gf.proc: child processes that never block the loop (posix_spawn; pipes and exit watched).
--
-- run(cmd, opts) -> {code =, signal =, stdout =, stderr =} | nil, msg, code
--     cmd: a list {"prog", "arg", ...} (PATH searched, no shell) or a string for /bin/sh -c.
--     opts.stdin = string fed to the child (default: none, stdin closed at once)
--     opts.timeout = seconds: past it the child is killed and run returns nil, msg, "timeout"
--     opts.max_output = bytes kept per stream (default 64 MiB): past it the child is killed, "io"
--     A child that cannot be started gives nil, msg, "not_found" | "io". A non-zero exit is no
--     failure here: look at result.code (128 + N when killed by signal N, result.signal = N).
-- spawn(cmd) -> proc | nil, msg, code     the low-level handle (gf.proc.core), for streaming
local core = require("gf.proc.core")
local task = require("gf.task")
local mono = require("gf.time").monotonic

local M = {}

local function argv_of(cmd)
  if type(cmd) == "string" then return { "/bin/sh", "-c", cmd } end
  if type(cmd) ~= "table" or #cmd == 0 then
    error("gf.proc: command must be a string or a non-empty list of strings", 3)
  end
  return cmd
end

function M.spawn(cmd)
  return core.spawn(argv_of(cmd))
end

local function left(deadline)
  if not deadline then return -1 end
  return math.max(0, deadline - mono())
end

local function read_stream(p, which, deadline, max, out)
  local size = 0
  while true do
    local d, err, code = p:read(which)
    if d == nil then
      if err then return nil, err, code end
      return true
    elseif d == false then
      local ok, werr, wcode = p:wait(which, left(deadline))
      if not ok then return nil, werr, wcode end
    else
      size = size + #d
      if size > max then return nil, ("output past %d bytes"):format(max), "io" end
      out[#out + 1] = d
    end
  end
end

-- Read stream `which` to its end into out; true, or nil, msg, code. On a failure the child is
-- killed at once: a child blocked writing its other stream would never close it.
local function drain(p, which, deadline, max, out)
  local ok, err, code = read_stream(p, which, deadline, max, out)
  if not ok then p:kill(9) end
  return ok, err, code
end

local function feed(p, data, deadline)
  local pos = 1
  while pos <= #data do
    local n, err, code = p:write(pos == 1 and data or data:sub(pos))
    if not n then return nil, err, code end
    if n == 0 then
      local ok, werr, wcode = p:wait(0, left(deadline))
      if not ok then return nil, werr, wcode end
    end
    pos = pos + n
  end
  p:close(0)
  return true
end

local function wait_exit(p, deadline)
  while true do
    local code, sig = p:reap()
    if code then return code, sig end
    local ok, err, ecode = p:wait("exit", left(deadline))
    if not ok then return nil, err, ecode end
    if p:reap() == nil then task.sleep(0.005) end -- no pidfd: poll
  end
end

function M.run(cmd, opts)
  opts = opts or {}
  local argv = argv_of(cmd)
  local name = type(cmd) == "string" and cmd or table.concat(argv, " ")
  local p, err, code = core.spawn(argv)
  if not p then return nil, err, code end
  local deadline = opts.timeout and mono() + opts.timeout
  local max = opts.max_output or 64 * 1024 * 1024
  local outs, errs = {}, {}
  local readers = { task.spawn(drain, p, 1, deadline, max, outs),
    task.spawn(drain, p, 2, deadline, max, errs) }
  local failure
  if opts.stdin then
    local ok, ferr, fcode = feed(p, opts.stdin, deadline)
    if not ok and fcode ~= "io" then failure = { ferr, fcode } end -- EPIPE: it stopped reading
  end
  p:close(0)
  for _, r in ipairs(readers) do
    local ok, rok, rerr, rcode = task.wait(r)
    if not ok then error(rok, 0) end
    if not rok and not failure then failure = { rerr, rcode } end
  end
  local status, sig
  if not failure then
    status, sig = wait_exit(p, deadline)
    if not status then failure = { sig, "timeout" } end
  end
  if failure then
    p:kill(9)
    p:reap()
    local why = failure[2] == "timeout" and ("timed out after %g s"):format(opts.timeout)
      or tostring(failure[1])
    return nil, ("proc.run %s: %s"):format(name, why), failure[2]
  end
  return { code = status, signal = sig, stdout = table.concat(outs), stderr = table.concat(errs) }
end

return M
