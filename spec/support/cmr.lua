-- The local CMR server (spec/support/cmr_server.py) and a runner for the backfill scripts.
local fs = require("gf.fs")
local paths = require("spec.support.paths")

local M = {}

-- Start `python3 <root>/spec/support/<script> <args> --port-file F`; returns port, pid.
local function start_python(script, tmp, args)
  local pf = tmp .. "/port" .. tostring(math.random(1e9))
  os.execute(("python3 %s/spec/support/%s %s --port-file %s >/dev/null 2>&1 & echo $! > %s.pid")
    :format(paths.root, script, args, pf, pf))
  for _ = 1, 100 do
    local f = io.open(pf)
    if f then
      local port = f:read("n")
      f:close()
      local pidf = io.open(pf .. ".pid")
      local pid = pidf:read("n")
      pidf:close()
      if port then return port, pid end
    end
    os.execute("sleep 0.05")
  end
  error(script .. " did not start")
end

--- Start the CMR server with extra arguments (e.g. "--granules 45"); returns port, pid.
function M.start(tmp, extra)
  return start_python("cmr_server.py", tmp, ("--page %s/cmr/uat_modis_t_page.json %s"):format(paths.fixtures,
    extra or ""))
end

--- Start spec/support/listing_server.py over `dir` (a GitHub-contents-style listing of its
--- files); `extra` e.g. "--missing X.cfg". Returns port, pid.
function M.start_listing(tmp, dir, extra)
  return start_python("listing_server.py", tmp, ("--dir '%s' %s"):format(dir, extra or ""))
end

local function quote(a) return "'" .. a:gsub("'", "'\\''") .. "'" end

--- `gfhost run <script> argv...` from the root, with extra environment variables from `env`
--- (name -> value); returns exit code, stdout, stderr.
function M.run_script(script, tmp, argv, env)
  local q, e = {}, {}
  for i, a in ipairs(argv) do q[i] = quote(a) end
  for k, v in pairs(env or {}) do e[#e + 1] = k .. "=" .. quote(v) end
  table.sort(e)
  local cmd = ("cd %s && env %s %s run %s %s > %s/out 2> %s/err"):format(paths.root, table.concat(e, " "),
    paths.gfhost, script, table.concat(q, " "), tmp, tmp)
  local _, _, code = os.execute(cmd)
  return code, fs.read(tmp .. "/out") or "", fs.read(tmp .. "/err") or ""
end

return M
