--- gf.flow.store: where the executors record node states — a gf.state store.
--
-- Every executor (local runner, `gfhost task`, `gfhost worker`, the SQS coordinator) keeps node
-- state through gf.state's node API: store:put_node(run_id, node, rec), store:get_node(run_id,
-- node), store:list_nodes(run_id [, {status=}]), store:delete_nodes(run_id) and
-- store:transaction(fn, ...). rec = {status=, attempts=, error=, output=}; output is any JSON
-- value. Statuses gf.flow writes: queued, running, completed, failed, interrupted.
--
--   open(path) -> store | nil, msg, code   gf.state on one SQLite file (created with its
--                                          directory; WAL, safe for several processes)
--   sqlite(path)                           the same (older name)
--   memory() -> store                      gf.state over an in-process backend (tests, one-off
--                                          runs); same encoding of outputs as the SQLite store
--   states(store, run_id) -> {node -> rec} every node of a run, keyed by node id
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

function M.open(path)
  if type(path) ~= "string" or path == "" then
    error("bad argument #1 to 'open' (state file path expected)", 2)
  end
  local dir = path:match("^(.*)/[^/]+$")
  if dir and dir ~= "" then
    local ok, fs = pcall(require, "gf.fs")
    if ok then fs.mkdir_p(dir) end
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

function M.save(store, run_id, node, rec)
  local ok, msg = store:put_node(run_id, node, rec)
  if not ok then error(("flow state: put_node %s/%s: %s"):format(run_id, node, tostring(msg)), 0) end
  return true
end

return M
