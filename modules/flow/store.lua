--- gf.flow.store: where the executor records node states.
--
-- A store has load(run_id) -> {node_id -> rec} and save(run_id, node_id, rec), where rec is
-- {status=, attempts=, error=, output=, updated=} and output is JSON-encodable.
--   memory()          in this process only (tests, one-off runs)
--   sqlite(path)      one SQLite file (WAL; safe for several processes); outputs as JSON
local M = {}

function M.memory()
  local runs = {}
  return {
    load = function(_, run_id)
      local out = {}
      for id, rec in pairs(runs[run_id] or {}) do
        local copy = {}
        for k, v in pairs(rec) do copy[k] = v end
        out[id] = copy
      end
      return out
    end,
    save = function(_, run_id, node_id, rec)
      runs[run_id] = runs[run_id] or {}
      local copy = {}
      for k, v in pairs(rec) do copy[k] = v end
      runs[run_id][node_id] = copy
    end,
  }
end

local SCHEMA = [[
CREATE TABLE IF NOT EXISTS flow_nodes (
  run_id   TEXT NOT NULL,
  node     TEXT NOT NULL,
  status   TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  error    TEXT,
  output   TEXT,
  updated  INTEGER NOT NULL,
  PRIMARY KEY (run_id, node)
);
CREATE INDEX IF NOT EXISTS flow_nodes_status ON flow_nodes (run_id, status);
]]

function M.sqlite(path)
  local sqlite = require("gf.sqlite")
  local json = require("gf.json")
  local dir = path:match("^(.*)/[^/]+$")
  if dir and dir ~= "" then
    local ok, fs = pcall(require, "gf.fs")
    if ok then fs.mkdir_p(dir) end
  end
  local db, err, code = sqlite.open(path)
  if not db then return nil, err, code end
  local ok, serr, scode = db:exec(SCHEMA)
  if not ok then
    db:close()
    return nil, ("flow state %s: %s"):format(path, serr), scode
  end
  local store = { db = db, path = path }
  function store.load(_, run_id)
    local rows = assert(db:query("SELECT node, status, attempts, error, output, updated "
      .. "FROM flow_nodes WHERE run_id = ?", run_id))
    local out = {}
    for _, r in ipairs(rows) do
      local output = nil
      if r.output then output = json.decode(r.output) end
      out[r.node] = { status = r.status, attempts = r.attempts, error = r.error, output = output,
        updated = r.updated }
    end
    return out
  end
  function store.save(_, run_id, node_id, rec)
    local output = nil
    if rec.output ~= nil then output = json.encode(rec.output) end
    assert(db:execute("INSERT INTO flow_nodes (run_id, node, status, attempts, error, output, "
      .. "updated) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, node) DO UPDATE SET "
      .. "status = excluded.status, attempts = excluded.attempts, error = excluded.error, "
      .. "output = excluded.output, updated = excluded.updated",
      run_id, node_id, rec.status, rec.attempts or 0, rec.error, output, rec.updated or os.time()))
  end
  function store.close()
    db:close()
  end
  return store
end

return M
