--- gf.state.sqlite: the SQLite backend of gf.state (one file, WAL, several processes).
--
-- open({path=, busy_timeout_ms=, synchronous=}) -> backend | nil, msg, code
--
-- Tables (schema version 1, PRAGMA user_version):
--   payloads(collections_workflow, itemids, state, state_updated, created, updated, claimed_at,
--            last_error, outputs JSON, executions JSON), primary key (collections_workflow,
--            itemids); indexes (collections_workflow, state_updated) and (collections_workflow,
--            updated) mirror the cirrus table's two GSIs.
--   nodes(run_id, node, status, attempts, error, output JSON, updated, started), primary key
--         (run_id, node); index (run_id, status).
--   meta(key, value JSON, updated), primary key key: small records kept next to the state
--        (listener health, recorded actions; gf.state put_meta/get_meta/list_meta).
-- Schema version 2 (PRAGMA user_version); a version-1 file is migrated when opened (nodes gains
-- `started`, meta is created).
-- Every conditional transition is one SQL statement whose WHERE clause holds the condition, so
-- concurrent processes cannot both win: SQLite serialises writers, and the loser sees 0 changes.
-- The methods are those gf.state documents for backends.
local sqlite = require("gf.sqlite")

local M = {}

local SCHEMA = [[
CREATE TABLE IF NOT EXISTS payloads (
  collections_workflow TEXT NOT NULL,
  itemids TEXT NOT NULL,
  state TEXT NOT NULL,
  state_updated TEXT NOT NULL,
  created TEXT NOT NULL,
  updated TEXT NOT NULL,
  claimed_at TEXT,
  last_error TEXT,
  outputs TEXT,
  executions TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (collections_workflow, itemids)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS payloads_state_updated ON payloads (collections_workflow, state_updated);
CREATE INDEX IF NOT EXISTS payloads_updated ON payloads (collections_workflow, updated);
CREATE TABLE IF NOT EXISTS nodes (
  run_id TEXT NOT NULL,
  node TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  output TEXT,
  updated TEXT NOT NULL,
  started TEXT,
  PRIMARY KEY (run_id, node)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nodes_status ON nodes (run_id, status);
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated TEXT NOT NULL
) WITHOUT ROWID;
PRAGMA user_version = 2;
]]

-- version 1 -> 2: node start times and the meta table
local MIGRATE_1 = [[
ALTER TABLE nodes ADD COLUMN started TEXT;
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated TEXT NOT NULL
) WITHOUT ROWID;
PRAGMA user_version = 2;
]]
local VERSION = 2

local CLAIM = [[
INSERT INTO payloads (collections_workflow, itemids, state, state_updated, created, updated,
                      claimed_at, executions)
VALUES (?1, ?2, 'CLAIMED', 'CLAIMED_' || ?3, ?3, ?3, ?3,
        CASE WHEN ?4 IS NULL THEN '[]' ELSE json_array(?4) END)
ON CONFLICT (collections_workflow, itemids) DO UPDATE SET
  state = 'CLAIMED', state_updated = excluded.state_updated, updated = excluded.updated,
  claimed_at = excluded.claimed_at, last_error = NULL, outputs = NULL,
  executions = CASE WHEN ?4 IS NULL THEN executions ELSE json_insert(executions, '$[#]', ?4) END
WHERE state NOT IN ('PROCESSING', 'CLAIMED')]]

local PROCESSING = [[
UPDATE payloads SET state = 'PROCESSING', state_updated = 'PROCESSING_' || ?3, updated = ?3
WHERE collections_workflow = ?1 AND itemids = ?2 AND state = 'CLAIMED']]

local SET_STATE = [[
INSERT INTO payloads (collections_workflow, itemids, state, state_updated, created, updated,
                      outputs, last_error)
VALUES (?1, ?2, ?3, ?3 || '_' || ?4, ?4, ?4, ?5, ?6)
ON CONFLICT (collections_workflow, itemids) DO UPDATE SET
  state = excluded.state, state_updated = excluded.state_updated, updated = excluded.updated,
  outputs = coalesce(excluded.outputs, outputs), last_error = coalesce(excluded.last_error, last_error)]]

local SET_OUTPUTS = [[
UPDATE payloads SET updated = ?3, outputs = ?4 WHERE collections_workflow = ?1 AND itemids = ?2]]

local GET = [[SELECT * FROM payloads WHERE collections_workflow = ?1 AND itemids = ?2]]
local DELETE = [[DELETE FROM payloads WHERE collections_workflow = ?1 AND itemids = ?2]]
local NOW = [[SELECT (julianday('now') - 2440587.5) * 86400.0 AS t]]

local PUT_NODE = [[
INSERT OR REPLACE INTO nodes (run_id, node, status, attempts, error, output, updated, started)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)]]
local GET_NODE = [[SELECT * FROM nodes WHERE run_id = ?1 AND node = ?2]]
local LIST_NODES = [[SELECT * FROM nodes WHERE run_id = ?1 ORDER BY node]]
local LIST_NODES_STATUS = [[SELECT * FROM nodes WHERE run_id = ?1 AND status = ?2 ORDER BY node]]
local DELETE_NODES = [[DELETE FROM nodes WHERE run_id = ?1]]
-- one row per (run, status); runs ordered by their earliest record, newest run first
local RUN_STATS = [[
SELECT run_id, status, count(*) AS n, min(coalesce(started, updated)) AS first,
       max(updated) AS last
FROM nodes GROUP BY run_id, status]]
local PUT_META = [[INSERT OR REPLACE INTO meta (key, value, updated) VALUES (?1, ?2, ?3)]]
local GET_META = [[SELECT * FROM meta WHERE key = ?1]]
local LIST_META = [[
SELECT * FROM meta WHERE key >= ?1 AND key < ?2 ORDER BY key DESC LIMIT ?3]]
local DELETE_META = [[DELETE FROM meta WHERE key = ?1]]

local B = {}
B.__index = B

-- JSON list columns: "[]" needs no decoder; anything else goes through gf.json.
local function decode_list(s)
  if s == nil then return nil end
  if s == "[]" then return {} end
  local v = require("gf.json").decode(s)
  local out = {}
  if type(v) == "table" then
    for i = 1, #v do out[i] = v[i] end
  end
  return out
end

local function encode_list(list)
  if list == nil then return nil end
  if #list == 0 then return "[]" end
  local copy = {}
  for i = 1, #list do copy[i] = list[i] end
  return require("gf.json").encode(copy)
end

local function dbitem(row)
  return {
    collections_workflow = row.collections_workflow,
    itemids = row.itemids,
    state_updated = row.state_updated,
    created = row.created,
    updated = row.updated,
    claimed_at = row.claimed_at,
    last_error = row.last_error,
    outputs = decode_list(row.outputs),
    executions = decode_list(row.executions),
  }
end

function M.open(opts)
  local db, msg, code = sqlite.open(opts.path, {
    busy_timeout_ms = opts.busy_timeout_ms,
    synchronous = opts.synchronous,
  })
  if not db then return nil, msg, code end
  local row
  row, msg, code = db:first("PRAGMA user_version")
  if row and row.user_version > VERSION then
    db:close()
    return nil, ("state.open %s: schema version %d is newer than this gfhost knows (%d)"):format(
      opts.path, row.user_version, VERSION), "invalid_input"
  end
  if row and row.user_version < VERSION then
    local ok
    ok, msg, code = db:transaction(function(d)
      -- read again inside the write transaction: another process may have done it meanwhile
      local v = d:first("PRAGMA user_version").user_version
      if v == 0 then return d:exec(SCHEMA) end
      if v == 1 then return d:exec(MIGRATE_1) end
      return true
    end)
    if not ok then row = nil end
  end
  if not row then
    db:close()
    return nil, msg, code
  end
  return setmetatable({ db = db, path = opts.path }, B)
end

function B:now()
  local r = self.db:first(NOW)
  return r and r.t or os.time()
end

function B:get(key)
  local row, msg, code = self.db:first(GET, key.collections_workflow, key.itemids)
  if row then return dbitem(row) end
  if msg then return nil, msg, code end
  return false
end

function B:claim(key, now, execution)
  local n, msg, code = self.db:execute(CLAIM, key.collections_workflow, key.itemids, now, execution)
  if not n then return nil, msg, code end
  if n > 0 then return true end
  return false, self:get(key)
end

function B:set_processing(key, now)
  local n, msg, code = self.db:execute(PROCESSING, key.collections_workflow, key.itemids, now)
  if not n then return nil, msg, code end
  if n > 0 then return true end
  return false, self:get(key)
end

function B:set_state(key, state, now, fields)
  local n, msg, code = self.db:execute(SET_STATE, key.collections_workflow, key.itemids, state,
    now, encode_list(fields.outputs), fields.last_error)
  if not n then return nil, msg, code end
  return true
end

function B:set_outputs(key, now, outputs)
  local n, msg, code = self.db:execute(SET_OUTPUTS, key.collections_workflow, key.itemids, now,
    encode_list(outputs))
  if not n then return nil, msg, code end
  return n > 0
end

function B:delete(key)
  local n, msg, code = self.db:execute(DELETE, key.collections_workflow, key.itemids)
  if not n then return nil, msg, code end
  return true
end

-- WHERE clause and values for a backend query (see gf.state).
local function where(bq, paging)
  local col = bq.index == "state_updated" and "state_updated" or "updated"
  local w = { "collections_workflow = :cw" }
  local v = { cw = bq.collections_workflow }
  if bq.lo then
    w[#w + 1] = col .. " BETWEEN :lo AND :hi"
    v.lo, v.hi = bq.lo, bq.hi
  elseif bq.prefix then
    -- a prefix as a range, so the index is used: [prefix, prefix with its last byte + 1)
    w[#w + 1] = col .. " >= :lo AND " .. col .. " < :hi"
    v.lo = bq.prefix
    v.hi = bq.prefix:sub(1, -2) .. string.char(bq.prefix:byte(-1) + 1)
  end
  if bq.error_prefix then
    w[#w + 1] = "substr(last_error, 1, length(:ep)) = :ep"
    v.ep = bq.error_prefix
  end
  if paging and bq.after then
    w[#w + 1] = ("(%s, itemids) < (:ak, :ai)"):format(col)
    v.ak, v.ai = bq.after.k, bq.after.itemids
  end
  return col, table.concat(w, " AND "), v
end

function B:query(bq)
  if bq.after and (bq.after.index ~= bq.index or bq.after.cw ~= bq.collections_workflow
      or not bq.after.k or not bq.after.itemids) then
    return nil, "state.query: the next-page token belongs to another query", "invalid_input"
  end
  local col, w, v = where(bq, true)
  v.lim = bq.limit + 1
  local sql = ("SELECT * FROM payloads WHERE %s ORDER BY %s DESC, itemids DESC LIMIT :lim"):format(
    w, col)
  local rows, msg, code = self.db:query(sql, v)
  if not rows then return nil, msg, code end
  local last
  if #rows > bq.limit then
    rows[#rows] = nil
    local r = rows[#rows]
    last = { index = bq.index, cw = bq.collections_workflow, k = r[col], itemids = r.itemids }
  end
  for i, r in ipairs(rows) do rows[i] = dbitem(r) end
  return rows, last
end

function B:count(bq)
  local _, w, v = where(bq, false)
  local row, msg, code = self.db:first("SELECT count(*) AS n FROM payloads WHERE " .. w, v)
  if not row then return nil, msg, code end
  return row.n
end

function B:put_node(run_id, node, rec, now)
  local n, msg, code = self.db:execute(PUT_NODE, run_id, node, rec.status, rec.attempts, rec.error,
    rec.output, now, rec.started)
  if not n then return nil, msg, code end
  return true
end

function B:get_node(run_id, node)
  local row, msg, code = self.db:first(GET_NODE, run_id, node)
  if row then return row end
  if msg then return nil, msg, code end
  return false
end

function B:list_nodes(run_id, status)
  if status then return self.db:query(LIST_NODES_STATUS, run_id, status) end
  return self.db:query(LIST_NODES, run_id)
end

function B:delete_nodes(run_id)
  return self.db:execute(DELETE_NODES, run_id)
end

-- Payload counts by current state and the time it was entered (state_updated), as counts of
-- index ranges of (collections_workflow, state_updated), which SQLite answers from the index
-- alone: q = {collections_workflow, hi (ISO), marks = {name = ISO}, buckets = {{key, lo, hi}}
-- (hi exclusive), states}. -> {totals = {STATE = {<mark> = n}}, series = {{bucket, state, n}}}
local COUNT_RANGE = [[
SELECT count(*) AS n FROM payloads
WHERE collections_workflow = ?1 AND state_updated >= ?2 AND state_updated < ?3]]

function B:stats(q)
  local totals, series = {}, {}
  local cw = q.collections_workflow
  local function count(lo, hi)
    local row, msg, code = self.db:first(COUNT_RANGE, cw, lo, hi)
    if not row then return nil, msg or "state.stats: no row", code end
    return row.n
  end
  for _, st in ipairs(q.states) do
    local t = {}
    local top = st .. "_" .. q.hi .. "~" -- after every stamp up to hi
    for name, iso in pairs(q.marks) do
      local n, msg, code = count(st .. "_" .. iso, top)
      if not n then return nil, msg, code end
      t[name] = n
    end
    totals[st] = t
  end
  for _, b in ipairs(q.buckets) do
    for _, st in ipairs(q.states) do
      local n, msg, code = count(st .. "_" .. b.lo, st .. "_" .. b.hi)
      if not n then return nil, msg, code end
      if n > 0 then series[#series + 1] = { bucket = b.key, state = st, n = n } end
    end
  end
  return { totals = totals, series = series }
end

-- The distinct collections_workflow keys (at most limit).
function B:collections_workflows(limit)
  local rows, msg, code = self.db:query("SELECT DISTINCT collections_workflow AS cw FROM payloads "
    .. "ORDER BY cw LIMIT ?1", limit)
  if not rows then return nil, msg, code end
  local out = {}
  for i, r in ipairs(rows) do out[i] = r.cw end
  return out
end

-- Every run with its node counts per status, newest first (by its earliest node record).
function B:list_runs()
  local rows, msg, code = self.db:query(RUN_STATS)
  if not rows then return nil, msg, code end
  local by, out = {}, {}
  for _, r in ipairs(rows) do
    local run = by[r.run_id]
    if not run then
      run = { run_id = r.run_id, counts = {}, nodes = 0, first = r.first, last = r.last }
      by[r.run_id] = run
      out[#out + 1] = run
    end
    run.counts[r.status] = r.n
    run.nodes = run.nodes + r.n
    if r.first < run.first then run.first = r.first end
    if r.last > run.last then run.last = r.last end
  end
  return out
end

function B:put_meta(key, value, now)
  local n, msg, code = self.db:execute(PUT_META, key, value, now)
  if not n then return nil, msg, code end
  return true
end

function B:get_meta(key)
  local row, msg, code = self.db:first(GET_META, key)
  if row then return row end
  if msg then return nil, msg, code end
  return false
end

function B:list_meta(prefix, limit)
  local hi = prefix == "" and "\u{10FFFF}" or prefix:sub(1, -2) .. string.char(prefix:byte(-1) + 1)
  return self.db:query(LIST_META, prefix, hi, limit)
end

function B:delete_meta(key)
  local n, msg, code = self.db:execute(DELETE_META, key)
  if not n then return nil, msg, code end
  return true
end

function B:transaction(fn, ...)
  return self.db:transaction(function(_, ...) return fn(...) end, ...)
end

function B:close()
  if self.db then self.db:close() end
  self.db = nil
end

return M
