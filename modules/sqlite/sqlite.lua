--- gf.sqlite: SQLite databases (the embedded state store's engine).
--
-- open(path, opts) -> db | nil, msg, code
--     opts.readonly (false), opts.busy_timeout_ms (5000), opts.wal (true: journal_mode=WAL),
--     opts.synchronous ("normal" with WAL, else SQLite's default; or "off"/"full"/"extra").
--     A file that cannot be opened or is not a database gives nil, msg, "io".
-- blob(s) -> value that binds s as a BLOB (plain strings bind as TEXT; both keep every byte)
--
-- db:exec(sql) -> true | nil, msg, code          one or more statements, no parameters
-- db:query(sql, ...) -> {row, ...} | nil, msg, code
-- db:first(sql, ...) -> row | nil | nil, msg, code
-- db:execute(sql, ...) -> changes | nil, msg, code
--     query/first/execute keep a cache of 32 prepared statements keyed by the SQL text; the
--     values after sql are bound positionally (?, ?NNN), or a single table binds by name
--     (:name, @name, $name; a missing key binds NULL).
-- db:prepare(sql) -> stmt | nil, msg, code
--     stmt:bind(...) -> stmt; stmt:step() -> row | nil when done | nil, msg, code;
--     `for row in stmt:rows(...) do` (binds ... when given; raises on failure);
--     stmt:reset(), stmt:columns(), stmt:close()
-- db:transaction(fn, ...) -> fn's results
--     BEGIN IMMEDIATE, fn(db, ...), COMMIT. fn raising rolls back and re-raises; fn returning
--     nil, msg, code rolls back and returns those. Nested calls use SAVEPOINTs. Another task
--     calling transaction() on the same db waits until the open one ends.
--
-- A database locked by another connection or process never blocks the loop: SQLite's busy
-- handler is off, and open, exec, query, first, execute and BEGIN/COMMIT are retried with
-- backoff (gf.task.sleep: other tasks run meanwhile) for up to busy_timeout_ms, then return
-- nil, msg, "timeout".
-- db:last_insert_id(), db:changes(), db:autocommit(), db:busy_timeout([ms]) -> previous
-- db:close() -> true (idempotent; __gc and __close too)
--
-- Values: nil <-> NULL (absent from row tables), booleans -> 0/1, integers <-> Lua integers,
-- floats <-> REAL, TEXT and BLOB -> Lua strings. Codes: "conflict" (constraint violation),
-- "timeout" (locked past the busy timeout), "io", "interrupted", "invalid_input" (SQL the
-- database cannot run: syntax, missing table).
-- Misuse raises: closed objects, unknown options, unsupported value types, too many values.
local core = require("gf.sqlite.core")
local tc = require("gf.task.core")

local M = {
  _LIBRARY = core._LIBRARY,
  _LIBVERSION = core._LIBVERSION,
  blob = core.blob,
}

local OPTIONS = { readonly = "boolean", busy_timeout_ms = "number", wal = "boolean",
  synchronous = "string" }

function M.open(path, opts)
  if type(path) ~= "string" then
    error(("bad argument #1 to 'open' (string expected, got %s)"):format(type(path)), 2)
  end
  opts = opts or {}
  if type(opts) ~= "table" then error("bad argument #2 to 'open' (table expected)", 2) end
  for k, v in pairs(opts) do
    local want = OPTIONS[k]
    if not want then error(("sqlite.open: unknown option '%s'"):format(tostring(k)), 2) end
    if type(v) ~= want then
      error(("sqlite.open: option '%s' must be a %s"):format(k, want), 2)
    end
  end
  local readonly = opts.readonly == true
  local wal = opts.wal ~= false and not readonly
  local busy = opts.busy_timeout_ms or 5000
  if math.type(busy) ~= "integer" or busy < 0 then
    error("sqlite.open: busy_timeout_ms must be a non-negative integer", 2)
  end
  local sync = opts.synchronous
  if sync == nil and wal and not readonly then sync = "normal" end
  if sync and readonly then sync = nil end
  if sync ~= nil and not ({ off = 1, normal = 1, full = 1, extra = 1 })[sync] then
    error("sqlite.open: synchronous must be off, normal, full or extra", 2)
  end
  return M.retry_busy(busy, core.open, path, readonly, wal, busy, sync)
end

-- {====== a locked database: retried, never waited for on the loop ======

--- retry_busy(budget_ms, f, ...) -> f(...), called again with backoff while it returns
--- nil, msg, "timeout" and budget_ms has not passed (first call immediate, then 1 ms doubling to
--- 100 ms, jittered). gf.task.sleep parks a task; outside a task it drives the loop.
function M.retry_busy(budget_ms, f, ...)
  local a, b, c = f(...)
  if c ~= "timeout" or a ~= nil then return a, b, c end
  local waited, pause = 0, 0.001
  while waited * 1000 < budget_ms do
    local d = pause * (0.5 + math.random())
    tc.sleep(d)
    waited = waited + d
    pause = math.min(pause * 2, 0.1)
    a, b, c = f(...)
    if c ~= "timeout" or a ~= nil then return a, b, c end
  end
  return a, b, c
end

local Db = core.Db
for _, name in ipairs({ "exec", "query", "first", "execute" }) do
  local raw = Db[name]
  Db[name] = function(db, ...) return M.retry_busy(db:busy_timeout(), raw, db, ...) end
end

-- }======

-- {====== transactions ======

local owners = setmetatable({}, { __mode = "k" }) -- db -> {task =, depth =}


-- Wait while another task holds this db's transaction.
local function acquire(db)
  local me = tc.current() or "main"
  local o = owners[db]
  while o and o.task ~= me do
    if not tc.current() then
      error("sqlite.transaction: the database is in a transaction of another task", 3)
    end
    tc.sleep(0.001)
    o = owners[db]
  end
  if not o then
    o = { task = me, depth = 0 }
    owners[db] = o
  end
  o.depth = o.depth + 1
  return o
end

local function release(db, o)
  o.depth = o.depth - 1
  if o.depth == 0 then owners[db] = nil end
end

local function finish(db, o, sp, r)
  local ok = r[1]
  local soft_fail = ok and r[2] == nil and type(r[3]) == "string"
  if ok and not soft_fail then
    local cok, cmsg, ccode
    if sp then
      cok, cmsg, ccode = db:exec("RELEASE " .. sp)
    else
      cok, cmsg, ccode = db:exec("COMMIT")
    end
    if cok then
      release(db, o)
      return table.unpack(r, 2, r.n)
    end
    r = { n = 4, true, nil, cmsg, ccode }
  end
  if sp then
    db:exec("ROLLBACK TO " .. sp)
    db:exec("RELEASE " .. sp)
  elseif not db:autocommit() then
    db:exec("ROLLBACK")
  end
  release(db, o)
  if not ok then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

function Db.transaction(db, fn, ...)
  if type(fn) ~= "function" then error("bad argument #1 to 'transaction' (function expected)", 2) end
  local o = acquire(db)
  local sp
  if o.depth > 1 then
    sp = "gf_sp" .. o.depth
    local ok, msg, code = db:exec("SAVEPOINT " .. sp)
    if not ok then
      release(db, o)
      return nil, msg, code
    end
  else
    local ok, msg, code = db:exec("BEGIN IMMEDIATE")
    if not ok then
      release(db, o)
      return nil, msg, code
    end
  end
  local r = table.pack(pcall(fn, db, ...))
  return finish(db, o, sp, r)
end

-- }======

return M
