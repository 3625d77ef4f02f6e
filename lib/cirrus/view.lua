--- cirrus.view: a state record as Cirrus' API shows it (statedb.dbitem_to_item), for the
-- operator commands.
--
-- item(d, rec) -> {payload_id, collections, workflow, items, state, created, updated,
--   claimed_at, last_error, outputs, payload (the v1 input URL), executions (console URLs)}
local json = require("gf.json")
local core = require("cirrus.core")

local M = {}

function M.item(d, rec)
  local v = { payload_id = rec.payload_id, collections = rec.collections, workflow = rec.workflow,
    items = rec.items, state = rec.state, created = rec.created, updated = rec.updated,
    claimed_at = rec.claimed_at, last_error = rec.last_error }
  if rec.outputs then v.outputs = json.array(rec.outputs) end
  local ex = json.array()
  for i, e in ipairs(rec.executions or {}) do
    ex[i] = e:match("^arn:") and core.console_url(e, d.region) or e
  end
  v.executions = ex
  if d.payloads then
    local ids = rec.executions or {}
    local last = ids[#ids] and ids[#ids]:match(":([^:]+)$")
    local key = d.payloads:input_key(rec.payload_id, last)
    if key then v.payload = d.payloads:url(key) end
  end
  return v
end

return M
