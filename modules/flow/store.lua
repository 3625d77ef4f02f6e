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

return M
