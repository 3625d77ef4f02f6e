--- gf.state.payload: Cirrus process payloads and payload ids.
--
-- A payload is a decoded GeoJSON FeatureCollection of (partial) STAC Items plus `process`, a
-- non-empty array whose first entry (process[1] in Lua) names the workflow. Its id is
-- `<collections>/workflow-<workflow>/<itemids>`.
--
-- validate(payload) -> true | nil, msg, "invalid_input"
--     process must be a non-empty array, process[1] a table with a string `workflow`, and the
--     payload's id (existing or generated) must contain "workflow-" (as cirrus does).
-- id(payload) -> id | nil, msg, "invalid_input"       the existing `id`, else make_id(payload)
-- make_id(payload) -> id | nil, msg, "invalid_input"  always built from the payload:
--     collections = process[1].collections (a string override) or the sorted distinct
--     `collection` of the features joined by "/" ("none" when no feature has one);
--     itemids = the sorted feature ids joined by "/"
-- set_id(payload) -> id | nil, msg, code               sets payload.id when missing (cirrus set_id)
-- parse(id) -> {collections=, workflow=, itemids=, items={...}, collections_workflow=}
--            | nil, msg, "invalid_input"
--     The id is split at its first "/workflow-", the workflow ends at the next "/". Every part
--     must be non-empty, no part may hold a newline (cirrus' PAYLOAD_ID_REGEX), and the workflow
--     must not contain "_" (the store key joins collections and workflow with the last "_").
-- to_key(id) -> {collections_workflow=, itemids=} | nil, msg, "invalid_input"
-- from_key(collections_workflow, itemids) -> id | nil, msg, "invalid_input"
--     from_key also accepts one table {collections_workflow=, itemids=}
-- rerun(payload) -> payload                           sets process[1].replace = true
-- process_definition(payload) -> process[1] | nil
local M = {}

local function invalid(fmt, ...)
  return nil, fmt:format(...), "invalid_input"
end

local function is_array(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

function M.process_definition(payload)
  if type(payload) ~= "table" or type(payload.process) ~= "table" then return nil end
  return payload.process[1]
end

local function check_process(payload)
  if type(payload) ~= "table" then
    return invalid("payload: a table expected, got %s", type(payload))
  end
  if payload.process == nil then
    return invalid("payload: must contain a 'process' array of process definitions")
  end
  if not is_array(payload.process) or #payload.process == 0 then
    return invalid("payload: 'process' field must be an array with at least one process definition")
  end
  local p = payload.process[1]
  if type(p) ~= "table" or type(p.workflow) ~= "string" then
    return invalid("payload: must contain a 'workflow' field specifying the workflow name")
  end
  return p
end

local function features(payload)
  local f = payload.features
  if type(f) ~= "table" or #f == 0 then return nil end
  return f
end

function M.make_id(payload)
  local p, msg, code = check_process(payload)
  if not p then return nil, msg, code end
  local feats = features(payload)
  if not feats then
    return invalid("payload: has no 'id' and one cannot be constructed without 'features'")
  end
  local collections = p.collections
  if collections ~= nil and type(collections) ~= "string" then
    return invalid("payload: process 'collections' must be a string")
  end
  local ids = {}
  if collections == nil then
    local seen, cols = {}, {}
    for _, item in ipairs(feats) do
      local c = type(item) == "table" and item.collection
      if type(c) == "string" and not seen[c] then
        seen[c] = true
        cols[#cols + 1] = c
      end
    end
    table.sort(cols)
    collections = #cols > 0 and table.concat(cols, "/") or "none"
  end
  for i, item in ipairs(feats) do
    local id = type(item) == "table" and item.id
    if type(id) ~= "string" then return invalid("payload: feature %d has no string 'id'", i) end
    ids[#ids + 1] = id
  end
  table.sort(ids)
  return ("%s/workflow-%s/%s"):format(collections, p.workflow, table.concat(ids, "/"))
end

function M.id(payload)
  if type(payload) == "table" and payload.id ~= nil then
    if type(payload.id) ~= "string" then return invalid("payload: 'id' must be a string") end
    return payload.id
  end
  return M.make_id(payload)
end

function M.set_id(payload)
  local id, msg, code = M.id(payload)
  if not id then return nil, msg, code end
  payload.id = id
  return id
end

function M.validate(payload)
  local p, msg, code = check_process(payload)
  if not p then return nil, msg, code end
  local id
  id, msg, code = M.id(payload)
  if not id then return nil, msg, code end
  if not id:find("workflow-", 1, true) then
    return invalid("payload: 'id' field must contain 'workflow-': %s", id)
  end
  return true
end

local SHAPE = "expected <collections>/workflow-<workflow>/<itemids>"

-- collections, workflow, itemids of an id, or nil, msg, "invalid_input".
local function split(id)
  local s, e = id:find("/workflow-", 1, true)
  if not s or s == 1 then return invalid("payload id %q: %s", id, SHAPE) end
  local workflow, itemids = id:match("^([^/]+)/(.+)$", e + 1)
  if not workflow then return invalid("payload id %q: %s", id, SHAPE) end
  if id:find("\n", 1, true) then return invalid("payload id %q: contains a newline", id) end
  if workflow:find("_", 1, true) then
    return invalid("payload id %q: workflow name %q must not contain '_'", id, workflow)
  end
  return id:sub(1, s - 1), workflow, itemids
end

function M.parse(id)
  if type(id) ~= "string" then
    error(("bad argument #1 to 'parse' (string expected, got %s)"):format(type(id)), 2)
  end
  local collections, workflow, itemids = split(id)
  if not collections then return nil, workflow, itemids end
  local items = {}
  for part in (itemids .. "/"):gmatch("(.-)/") do items[#items + 1] = part end
  return {
    collections = collections,
    workflow = workflow,
    itemids = itemids,
    items = items,
    collections_workflow = collections .. "_" .. workflow,
  }
end

function M.to_key(id)
  if type(id) ~= "string" then
    error(("bad argument #1 to 'to_key' (string expected, got %s)"):format(type(id)), 2)
  end
  local collections, workflow, itemids = split(id)
  if not collections then return nil, workflow, itemids end
  return { collections_workflow = collections .. "_" .. workflow, itemids = itemids }
end

function M.from_key(cw, itemids)
  if type(cw) == "table" and itemids == nil then
    cw, itemids = cw.collections_workflow, cw.itemids
  end
  if type(cw) ~= "string" or type(itemids) ~= "string" then
    error("bad arguments to 'from_key' (collections_workflow and itemids strings expected)", 2)
  end
  local collections, workflow = cw:match("^(.+)_([^_]+)$")
  if not collections or itemids == "" then
    return invalid("state key %q / %q: expected <collections>_<workflow> and itemids", cw, itemids)
  end
  return ("%s/workflow-%s/%s"):format(collections, workflow, itemids)
end

function M.rerun(payload)
  local p, msg, code = check_process(payload)
  if not p then return nil, msg, code end
  p.replace = true
  return payload
end

return M
