--- gf.flow.store: where the executors record node states — a gf.state store.
--
-- Every executor (local runner, `gfhost task`, `gfhost worker`, the SQS coordinator) keeps node
-- state through gf.state's node API: store:put_node(run_id, node, rec), store:get_node(run_id,
-- node), store:list_nodes(run_id [, {status=}]), store:delete_nodes(run_id),
-- store:transaction(fn, ...) and the workers' conditional writes store:lease_node,
-- store:renew_lease and store:put_node_if (atomic on SQLite and DynamoDB). rec = {status=, attempts=, error=, output=}; output is any JSON
-- value. Statuses gf.flow writes: queued, running, completed, failed, interrupted.
--
--   open(spec) -> store | nil, msg, code   spec is a SQLite file path: gf.state on that file
--                                          (created with its directory; WAL, safe for several
--                                          processes), or dynamodb://TABLE[?endpoint=URL&
--                                          region=R&profile=P&create=1]: gf.state's DynamoDB
--                                          backend (endpoint otherwise from gf.aws:
--                                          AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, the
--                                          profile; values may be %-encoded). A malformed spec:
--                                          nil, "flow state <spec>: ...", "invalid_input"
--   parse(spec) -> {backend="sqlite", path=} | {backend="dynamodb", table=, endpoint=, region=,
--                  profile=, create=} | nil, msg, "invalid_input"
--   sqlite(path)                           the same as open (older name)
--   memory() -> store                      gf.state over an in-process backend (tests, one-off
--                                          runs); same encoding of outputs as the SQLite store
--   states(store, run_id) -> {node -> rec} every node of a run, keyed by node id
--   note_run(store, run_id, workflow)      records which workflow a run belongs to (meta record
--                                          "run/<run_id>" = {workflow=}, what `gfhost serve`
--                                          shows); best effort: a store without meta records or a
--                                          failed write is ignored
--   save(store, run_id, node, rec)         put_node that raises on a storage failure (the
--                                          executors cannot continue without their state)
local M = {}

-- {====== in-memory gf.state backend (node API only) ======

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

local function payload_unsupported()
  return nil, "gf.flow.store.memory: payload state is not kept in memory", "invalid_input"
end

local function memory_backend()
  local runs = {}
  local b = {}
  function b.put_node(_, run_id, node, rec, now)
    local run = runs[run_id]
    if not run then
      run = {}
      runs[run_id] = run
    end
    local r = copy(rec)
    r.node, r.updated = node, now
    run[node] = r
    return true
  end
  function b.get_node(_, run_id, node)
    local r = runs[run_id] and runs[run_id][node]
    if not r then return false end
    return copy(r)
  end
  function b.list_nodes(_, run_id, status)
    local out = {}
    for _, r in pairs(runs[run_id] or {}) do
      if status == nil or r.status == status then out[#out + 1] = copy(r) end
    end
    table.sort(out, function(x, y) return x.node < y.node end)
    return out
  end
  function b.delete_nodes(_, run_id)
    local n = 0
    for _ in pairs(runs[run_id] or {}) do n = n + 1 end
    runs[run_id] = nil
    return n
  end
  for _, name in ipairs({ "claim", "set_processing", "set_state", "set_outputs", "get", "delete",
    "query", "count" }) do
    b[name] = payload_unsupported
  end
  return b
end

-- }======

function M.memory()
  return require("gf.state").open({ backend = memory_backend(), clock = os.time })
end

local function unescape(v)
  return (v:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function bad(spec, why)
  return nil, ("flow state %s: %s"):format(spec, why), "invalid_input"
end

local QUERY = { endpoint = true, region = true, profile = true, create = true }

--- Parse a --state value. -> {backend = "sqlite", path =} | {backend = "dynamodb", table =,
--- endpoint =, region =, profile =, create =} | nil, msg, "invalid_input".
function M.parse(spec)
  if type(spec) ~= "string" then
    error("bad argument #1 to 'parse' (state path or dynamodb:// URL expected)", 2)
  end
  if spec == "" then return bad('""', "empty state path") end
  local scheme, rest = spec:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then return { backend = "sqlite", path = spec } end
  if scheme ~= "dynamodb" then
    return bad(spec, ("unknown scheme '%s://' (a SQLite file path or dynamodb://TABLE)"):format(scheme))
  end
  local name, query = rest:match("^([^?]*)%?(.*)$")
  name = name or rest
  if name == "" then return bad(spec, "no table name (dynamodb://TABLE)") end
  if #name < 3 or #name > 255 or name:find("[^%w_.-]") then
    return bad(spec, ("bad table name '%s' (3-255 letters, digits, '_', '-', '.')"):format(name))
  end
  local out = { backend = "dynamodb", table = name }
  for pair in (query or ""):gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=(.*)$")
    if not k then k, v = pair, "" end
    k, v = unescape(k), unescape(v)
    if not QUERY[k] then
      return bad(spec, ("unknown parameter '%s' (endpoint, region, profile, create)"):format(k))
    end
    if out[k] ~= nil then return bad(spec, ("parameter '%s' given twice"):format(k)) end
    if k == "create" then
      if v == "1" or v == "true" then
        v = true
      elseif v == "0" or v == "false" then
        v = false
      else
        return bad(spec, ("create must be 1, 0, true or false, not '%s'"):format(v))
      end
    elseif v == "" then
      return bad(spec, ("parameter '%s' is empty"):format(k))
    elseif k == "endpoint" and not v:match("^https?://[^/]") then
      return bad(spec, ("endpoint must be an http:// or https:// URL, not '%s'"):format(v))
    end
    out[k] = v
  end
  return out
end

--- The gf.state store for a --state value: a SQLite file path, or dynamodb://TABLE[?query].
function M.open(spec)
  if type(spec) ~= "string" or spec == "" then
    error("bad argument #1 to 'open' (state file path expected)", 2)
  end
  local p, perr, pcode = M.parse(spec)
  if not p then return nil, perr, pcode end
  if p.backend == "dynamodb" then
    local store, msg, code = require("gf.state").open({ backend = "dynamodb", table = p.table,
      endpoint = p.endpoint, region = p.region, profile = p.profile, create = p.create })
    if not store then return nil, ("flow state %s: %s"):format(spec, msg), code end
    return store
  end
  local path = spec
  local dir = path:match("^(.*)/[^/]+$")
  if dir and dir ~= "" then
    require("gf.fs").mkdir_p(dir)
  end
  local store, msg, code = require("gf.state").open({ path = path })
  if not store then return nil, ("flow state %s: %s"):format(path, msg), code end
  return store
end
M.sqlite = M.open

function M.states(store, run_id)
  local rows, msg = store:list_nodes(run_id)
  if not rows then error(("flow state: list_nodes %s: %s"):format(run_id, tostring(msg)), 0) end
  local out = {}
  for _, r in ipairs(rows) do out[r.node] = r end
  return out
end

function M.note_run(store, run_id, workflow)
  if type(store.put_meta) ~= "function" then return false end
  local key = "run/" .. run_id
  local cur = store:get_meta(key)
  if cur and type(cur.value) == "table" and cur.value.workflow == workflow then return true end
  return store:put_meta(key, { workflow = workflow }) or false
end

function M.save(store, run_id, node, rec)
  local ok, msg = store:put_node(run_id, node, rec)
  if not ok then error(("flow state: put_node %s/%s: %s"):format(run_id, node, tostring(msg)), 0) end
  return true
end

return M
