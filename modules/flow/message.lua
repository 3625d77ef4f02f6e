--- gf.flow.message: the SQS task message that `gfhost run --executor sqs` sends and
--- `gfhost worker` consumes — one message per workflow node.
--
--   {"type": "gfhost.flow.node", "version": 1,
--    "workflow": "example",              name under workflows/, or a path to a workflow file
--    "run_id": "example-1a2b3c4d",       the run whose node states the node reads and writes
--    "node": "describe[CYVR]",           node id: <task> or <task>[<key>] or the final node
--    "item": {...},                      foreach nodes: the item (any JSON); "inputs" is
--                                        accepted as another name for it
--    "params": {"out": "out/x"}}         the run's parameters (ctx.params), strings
--
-- encode(m) -> JSON text     m = {workflow=, run_id=, node=, item=, params=}; raises on misuse
-- decode(body) -> m | nil, message, code
--     m = {workflow=, run_id=, node=, params=, item=, has_item=}; a body that is not JSON gives
--     code "parse", a JSON body that is not a node message gives "invalid_input". The message
--     names what is wrong ("flow message: field 'node' must be a non-empty string").
local json = require("gf.json")

local M = {}

M.TYPE = "gfhost.flow.node"
M.VERSION = 1

local function check_params(params, fail)
  if params == nil then return {} end
  if type(params) ~= "table" or json.is_array(params) and #params > 0 then
    return fail("field 'params' must be an object of strings")
  end
  local out = {}
  for k, v in pairs(params) do
    if type(k) ~= "string" or type(v) ~= "string" then
      return fail("field 'params' must be an object of strings")
    end
    out[k] = v
  end
  return out
end

function M.encode(m)
  if type(m) ~= "table" then error("bad argument #1 to 'encode' (table expected)", 2) end
  for _, f in ipairs({ "workflow", "run_id", "node" }) do
    if type(m[f]) ~= "string" or m[f] == "" then
      error(("flow message: %s must be a non-empty string"):format(f), 2)
    end
  end
  local params = check_params(m.params, function(msg) error("flow message: " .. msg, 3) end)
  local body = { type = M.TYPE, version = M.VERSION, workflow = m.workflow, run_id = m.run_id,
    node = m.node, params = json.object(params), item = m.item }
  return json.encode(body, { sort_keys = true })
end

function M.decode(body)
  if type(body) ~= "string" then
    return nil, "flow message: body must be a string", "invalid_input"
  end
  local v, err = json.decode(body)
  if v == nil then return nil, "flow message: not JSON: " .. tostring(err), "parse" end
  local function fail(msg) return nil, "flow message: " .. msg, "invalid_input" end
  if type(v) ~= "table" or json.is_array(v) then return fail("not a JSON object") end
  if v.type ~= nil and v.type ~= M.TYPE then
    return fail(("type %q is not %q"):format(tostring(v.type), M.TYPE))
  end
  if v.version ~= nil and v.version ~= M.VERSION then
    return fail(("version %s is not supported (this gfhost reads %d)"):format(tostring(v.version),
      M.VERSION))
  end
  for _, f in ipairs({ "workflow", "run_id", "node" }) do
    if type(v[f]) ~= "string" or v[f] == "" then
      return fail(("field '%s' must be a non-empty string"):format(f))
    end
  end
  local params, perr, pcode = check_params(v.params, fail)
  if not params then return nil, perr, pcode end
  local item = v.item
  if item == nil then item = v.inputs end
  if item == json.null then item = nil end
  return { workflow = v.workflow, run_id = v.run_id, node = v.node, params = params, item = item,
    has_item = item ~= nil }
end

return M
