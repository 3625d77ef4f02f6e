-- Run the built gfhost as a subprocess and capture what it did.
local paths = require("spec.support.paths")

local M = {}

local function shquote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.shquote = shquote

local function slurp(path) -- and remove it
  local s = require("spec.support.files").read(path) or ""
  os.remove(path)
  return s
end

--- gfhost(args, opts) -> {code=, stdout=, stderr=}; args is a list; opts.env = {K=V}, opts.stdin.
function M.gfhost(args, opts)
  opts = opts or {}
  local parts = {}
  for k, v in pairs(opts.env or {}) do parts[#parts + 1] = k .. "=" .. shquote(v) end
  parts[#parts + 1] = shquote(paths.gfhost)
  for _, a in ipairs(args) do parts[#parts + 1] = shquote(a) end
  local out, err = os.tmpname(), os.tmpname()
  local cmd = table.concat(parts, " ") .. " >" .. out .. " 2>" .. err
  if opts.stdin then
    local inp = os.tmpname()
    local f = assert(io.open(inp, "wb"))
    f:write(opts.stdin)
    f:close()
    cmd = cmd .. " <" .. inp
  else
    cmd = cmd .. " </dev/null"
  end
  local _, _, code = os.execute(cmd)
  return { code = code, stdout = slurp(out), stderr = slurp(err) }
end

--- Write a Lua script to a temporary file and return its path.
function M.script(source)
  local path = os.tmpname() .. ".lua"
  local f = assert(io.open(path, "w"))
  f:write(source)
  f:close()
  return path
end

return M
