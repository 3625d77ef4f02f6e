-- Paths specs use: the Lua tree, the shared fixtures beside the checkout, the built executable.
local host = require("gf.host")

local M = {}

M.root = host.root()
M.fixtures = os.getenv("GF_FIXTURES") or (M.root .. "/../shared/fixtures")
M.gfhost = os.getenv("GFHOST_BIN") or host.exe()

--- A fresh temporary directory, removed by the caller (or left in /tmp on failure).
function M.tmpdir()
  local p = io.popen("mktemp -d /tmp/gfspec.XXXXXX")
  local d = p:read("l")
  p:close()
  return d
end

return M
