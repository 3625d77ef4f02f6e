--- File helpers for specs (binary-safe).
--
--   local files = require("spec.support.files")
--   files.read(path) -> contents, or nil when the file cannot be opened
--   files.write(path, data) -> path   (raises when it cannot be written)
local M = {}

function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function M.write(path, data)
  local f = assert(io.open(path, "wb"))
  assert(f:write(data))
  assert(f:close())
  return path
end

return M
