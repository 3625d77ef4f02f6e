--- The listener's SQLite store: table message_events with exactly the original schema
-- (backend/db/model.py, read from the captured fixture), plus a table of the days already
-- dispatched (so that an announcement of a cleared day, redelivered or late, never makes it
-- complete again) and an index on event_message (idempotency lookups).
local sqlite = require("gf.sqlite")

local M = {}

-- byte for byte the fixture's sqlite_master.sql (SQLAlchemy's DDL)
M.SCHEMA = "CREATE TABLE message_events (\n"
  .. "\tevent_id INTEGER NOT NULL, \n"
  .. "\tevent_message VARCHAR(200) NOT NULL, \n"
  .. "\tevent_timestmp DATETIME DEFAULT (CURRENT_TIMESTAMP), \n"
  .. "\tevent_idempotency_key VARCHAR(50) NOT NULL, \n"
  .. "\tCONSTRAINT event_pk PRIMARY KEY (event_id)\n"
  .. ")"

local EXTRA = [[
CREATE INDEX IF NOT EXISTS gf_message_events_message ON message_events (event_message);
CREATE INDEX IF NOT EXISTS gf_message_events_key ON message_events (event_idempotency_key);
CREATE TABLE IF NOT EXISTS gf_dispatched_days (
  event_idempotency_key VARCHAR(50) NOT NULL PRIMARY KEY,
  dispatched_at DATETIME DEFAULT (CURRENT_TIMESTAMP)
);
]]

--- db_path(value) -> path: DB_FILE_PATH as a SQLAlchemy URL (sqlite:///relative.db,
-- sqlite:////absolute.db) or a plain path; nil/"" -> "event_cache.db"
function M.db_path(v)
  if v == nil or v == "" then return "event_cache.db" end
  if v:match("^sqlite:") then
    local rest = v:match("^sqlite:///(.+)$")
    if not rest then
      return nil, ("DB_FILE_PATH: '%s' is not a sqlite:///path URL"):format(v), "invalid_input"
    end
    return rest
  end
  if v:match("^%a[%w+.-]*://") then
    return nil, ("DB_FILE_PATH: only sqlite URLs are supported, got '%s'"):format(v:match("^[^:]*")), "invalid_input"
  end
  return v
end

local Store = {}
Store.__index = Store

--- open(path, opts) -> store or nil, msg, code. opts.synchronous ("normal" default, "full")
function M.open(path, opts)
  opts = opts or {}
  local db, err, code = sqlite.open(path, { synchronous = opts.synchronous })
  if not db then return nil, err, code end
  local has = db:first("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'message_events'")
  local ok, e2, c2
  if not has then
    ok, e2, c2 = db:exec(M.SCHEMA)
    if not ok then db:close() return nil, e2, c2 end
  end
  ok, e2, c2 = db:exec(EXTRA)
  if not ok then db:close() return nil, e2, c2 end
  local self = setmetatable({ db = db, path = path, known = {}, dispatched = {}, per_key = {}, rows = 0 }, Store)
  for _, r in ipairs(assert(db:query("SELECT event_message, event_idempotency_key FROM message_events"))) do
    if not self.known[r.event_message] then
      self.known[r.event_message] = r.event_idempotency_key
      self.per_key[r.event_idempotency_key] = (self.per_key[r.event_idempotency_key] or 0) + 1
    end
    self.rows = self.rows + 1
  end
  for _, r in ipairs(assert(db:query("SELECT event_idempotency_key FROM gf_dispatched_days"))) do
    self.dispatched[r.event_idempotency_key] = true
  end
  return self
end

--- store:record(items) -> list of new items (committed), or nil, msg, code (nothing committed)
-- items: {relpath, key, time_sql}. Already-recorded paths and paths of dispatched days are
-- skipped. One transaction for the whole batch.
function Store:record(items)
  local new, seen = {}, {}
  for _, it in ipairs(items) do
    if not self.known[it.relpath] and not self.dispatched[it.key] and not seen[it.relpath] then
      seen[it.relpath] = true
      new[#new + 1] = it
    end
  end
  if #new == 0 then return new end
  local ok, err, code = self.db:transaction(function(db)
    for _, it in ipairs(new) do
      local n, e, c
      if it.time_sql then
        n, e, c = db:execute("INSERT INTO message_events (event_message, event_timestmp, event_idempotency_key) VALUES (?, ?, ?)",
          it.relpath, it.time_sql, it.key)
      else
        n, e, c = db:execute("INSERT INTO message_events (event_message, event_idempotency_key) VALUES (?, ?)",
          it.relpath, it.key)
      end
      if not n then return nil, e, c end
    end
    return true
  end)
  if not ok then return nil, err, code end
  for _, it in ipairs(new) do
    self.known[it.relpath] = it.key
    self.per_key[it.key] = (self.per_key[it.key] or 0) + 1
    self.rows = self.rows + 1
  end
  return new
end

function Store:has(relpath) return self.known[relpath] ~= nil end
function Store:is_dispatched(key) return self.dispatched[key] == true end
function Store:count() return self.rows end

--- keys() -> sorted list of cached idempotency keys
function Store:keys()
  local out = {}
  for k in pairs(self.per_key) do out[#out + 1] = k end
  table.sort(out)
  return out
end

--- clear(key): delete the day's rows and remember it as dispatched, in one transaction
function Store:clear(key)
  local ok, err, code = self.db:transaction(function(db)
    local n, e, c = db:execute("DELETE FROM message_events WHERE event_idempotency_key = ?", key)
    if not n then return nil, e, c end
    n, e, c = db:execute("INSERT OR IGNORE INTO gf_dispatched_days (event_idempotency_key) VALUES (?)", key)
    if not n then return nil, e, c end
    return true
  end)
  if not ok then return nil, err, code end
  self:_forget(key)
  self.dispatched[key] = true
  return true
end

function Store:_forget(key)
  for p, k in pairs(self.known) do
    if k == key then self.known[p] = nil end
  end
  self.rows = self.rows - (self.per_key[key] or 0)
  self.per_key[key] = nil
end

--- flush_stale(cutoff) -> list of deleted keys: every key (YYYYMMDD) older than cutoff, with
-- its rows and its dispatched mark
function Store:flush_stale(cutoff)
  local stale = {}
  for k in pairs(self.per_key) do if k < cutoff then stale[#stale + 1] = k end end
  local marks = {}
  for k in pairs(self.dispatched) do if k < cutoff then marks[#marks + 1] = k end end
  if #stale == 0 and #marks == 0 then return stale end
  local ok, err, code = self.db:transaction(function(db)
    local n, e, c = db:execute("DELETE FROM message_events WHERE event_idempotency_key < ?", cutoff)
    if not n then return nil, e, c end
    n, e, c = db:execute("DELETE FROM gf_dispatched_days WHERE event_idempotency_key < ?", cutoff)
    if not n then return nil, e, c end
    return true
  end)
  if not ok then return nil, err, code end
  for _, k in ipairs(stale) do self:_forget(k) end
  for _, k in ipairs(marks) do self.dispatched[k] = nil end
  table.sort(stale)
  return stale
end

--- paths(key) -> set of recorded relpaths of that day
function Store:paths(key)
  local out = {}
  for p, k in pairs(self.known) do if k == key then out[p] = true end end
  return out
end

function Store:close() self.db:close() end

return M
