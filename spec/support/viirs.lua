-- Helpers for the viirs specs and bench: build VIIRS-like tiles from a real GeoTIFF
-- (viirs_tiles.py), serve them as a provider mirror (viirs_server.py, 127.0.0.1:19110-19119),
-- compute the statistics independently (viirs_expect.py, rasterio), run gfhost.
local paths = require("spec.support.paths")
local files = require("spec.support.files")
local json = require("gf.json")

local M = {}

M.PATH = "/v10/{{pointInTime}}/vcmcfg/"
M.PYTHON = "/usr/bin/python3"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
M.q = q

local function sh(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

function M.testdata()
  return (sh("sh " .. q(paths.root .. "/spec/support/testdata.sh") .. " 2>/dev/null"):match("[^\n]+"))
end

--- Tiles for `months` (list of YYYYMM) under root; zones (if given) written to that directory.
function M.build(root, months, opts)
  opts = opts or {}
  local cmd = ("%s %s --src %s --root %s --path %s --months %s --tiles %d --scale %d%s"):format(
    M.PYTHON, q(paths.root .. "/spec/support/viirs_tiles.py"), q(opts.src or (M.testdata() .. "/terra/elev.tif")),
    q(root), q(M.PATH), table.concat(months, ","), opts.tiles or 6, opts.scale or 1,
    opts.zones and (" --zones " .. q(opts.zones) .. " --nzones " .. (opts.nzones or 3)) or "")
  local out, code = sh(cmd)
  assert(code == 0, "viirs_tiles.py failed: " .. out)
  return assert(json.decode(out))
end

--- The directory of a month's tiles under root.
function M.month_dir(root, ym)
  return root .. M.PATH:gsub("{{pointInTime}}", ym):gsub("/$", "")
end

--- Independent statistics: {["<tgz>/<member>"] = {[zone] = {min, max, mean, stddev, skew, count}}}.
function M.expect(zones, tgzs)
  local qs = {}
  for i, t in ipairs(tgzs) do qs[i] = q(t) end
  local out, code = sh(("%s %s %s %s"):format(M.PYTHON, q(paths.root .. "/spec/support/viirs_expect.py"),
    q(zones), table.concat(qs, " ")))
  assert(code == 0, "viirs_expect.py failed: " .. out)
  return assert(json.decode(out))
end

local Server = {}
Server.__index = Server

function M.serve(dir, opts)
  opts = opts or {}
  local tmp = paths.tmpdir()
  local pf = tmp .. "/port"
  local cmd = ("%s %s --dir %s --port-file %s --rate %s --parent %d >%s 2>&1 & echo $!"):format(M.PYTHON,
    q(paths.root .. "/spec/support/viirs_server.py"), q(dir), q(pf), tostring(opts.rate or 0),
    require("gf.host").pid(), q(tmp .. "/log"))
  local pid = tonumber((sh(cmd)):match("%d+"))
  local deadline = os.time() + 10
  local port
  while not port do
    port = tonumber((files.read(pf) or ""):match("%d+"))
    if not port then
      if os.time() > deadline then
        os.execute("kill " .. pid)
        error("viirs_server did not start: " .. (files.read(tmp .. "/log") or ""))
      end
      require("gf.task").sleep(0.05)
    end
  end
  return setmetatable({ pid = pid, port = port, tmp = tmp, url = ("http://127.0.0.1:%d"):format(port) }, Server)
end

--- {path = count} of the requests the server saw.
function Server:hits()
  local r = assert(require("gf.http").get(self.url .. "/_hits"))
  return assert(json.decode(r.body))
end

function Server:stop()
  os.execute("kill " .. self.pid .. " 2>/dev/null")
  os.execute("rm -rf " .. q(self.tmp))
end

--- gfhost with args (a list) in directory `cwd`; returns code, stdout, stderr.
function M.gfhost(cwd, args, env)
  local parts = { "cd", q(cwd), "&&", "env" }
  for k, v in pairs(env or {}) do parts[#parts + 1] = k .. "=" .. q(v) end
  parts[#parts + 1] = q(paths.gfhost)
  for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
  local out, err = os.tmpname(), os.tmpname()
  local _, _, code = os.execute(table.concat(parts, " ") .. " >" .. out .. " 2>" .. err .. " </dev/null")
  local o, e = files.read(out) or "", files.read(err) or ""
  os.remove(out)
  os.remove(err)
  return code, o, e
end

--- The same in the background: returns its PID (gfhost itself, for kill -9).
function M.gfhost_background(cwd, args, log, env)
  local parts = { "cd", q(cwd), "&&", "exec", "env" }
  for k, v in pairs(env or {}) do parts[#parts + 1] = k .. "=" .. q(v) end
  parts[#parts + 1] = q(paths.gfhost)
  for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
  local cmd = "(" .. table.concat(parts, " ") .. " >" .. q(log) .. " 2>&1 </dev/null) & echo $!"
  return tonumber((sh(cmd)):match("%d+"))
end

--- Parse a statistics CSV: {min, max, mean, stddev, skew, count} (absent values nil).
function M.read_csv(path)
  local text = assert(files.read(path), "missing " .. path)
  local header, row = text:match("^([^\n]*)\n([^\n]*)\n$")
  assert(header == "min,max,mean,stddev,skew,count", "bad CSV " .. path .. ": " .. text)
  local keys = { "min", "max", "mean", "stddev", "skew", "count" }
  local out, i = {}, 0
  for v in (row .. ","):gmatch("([^,]*),") do
    i = i + 1
    out[keys[i]] = tonumber(v)
  end
  return out
end

--- Raises unless got agrees with want to 1e-9 (relative), naming what.
function M.same_stats(want, got, what)
  assert(want.count == got.count, ("%s: count %s, want %s"):format(what, tostring(got.count), tostring(want.count)))
  if want.count == 0 then return end
  for _, k in ipairs({ "min", "max", "mean", "stddev", "skew" }) do
    local a, b = want[k], got[k]
    local tol = 1e-9 * math.max(1, math.abs(a))
    if k == "skew" then tol = 1e-7 * math.max(1, math.abs(a)) end
    assert(b and math.abs(a - b) <= tol, ("%s: %s = %s, want %s"):format(what, k, tostring(b), tostring(a)))
  end
end

return M
