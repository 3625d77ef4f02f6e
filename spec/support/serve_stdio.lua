-- The `gfhost serve` handler (serve.app) over stdin/stdout, one JSON request per line in, one
-- JSON answer per line out: the transport of spec/support/serve_bridge.py, which lets the browser
-- specs and the bench drive the real page, API and token checks where gf.server is not built.
--   gfhost run spec/support/serve_stdio.lua STATE [TOKEN [allow-actions]]
local json = require("gf.json")
local spec, token, actions = ...
local store = assert(require("gf.flow.store").open(spec))
local handle = require("serve.app").new({ store = store, token = token ~= "" and token or nil,
  allow_actions = actions == "allow-actions" })
io.stdout:setvbuf("full")
for line in io.stdin:lines() do
  local req = json.decode(line)
  local ok, status, body, headers = pcall(handle, req)
  if not ok then status, body, headers = 500, { error = tostring(status) }, {} end
  headers = headers or {}
  if type(body) == "table" then
    body = json.encode(body)
    headers["content-type"] = "application/json"
  end
  io.stdout:write(json.encode({ status = status, body = body or "", headers = headers }), "\n")
  io.stdout:flush()
end
store:close()
