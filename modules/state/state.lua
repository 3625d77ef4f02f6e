--- gf.state: payload state with Cirrus semantics, and workflow node state, over a backend.
--
-- open(opts) -> store | nil, msg, code
--     opts.backend   "sqlite" (default), "dynamodb" or a backend object (see "Backends" below)
--     opts.path      the SQLite file (required for "sqlite"); opts.busy_timeout_ms (5000) and
--                    opts.synchronous ("normal") are passed to gf.sqlite.open
--     opts.table     the DynamoDB table with the cirrus schema (required for "dynamodb");
--                    opts.endpoint, opts.region, opts.credentials, opts.profile make the
--                    gf.awsjson client (or give opts.client); opts.nodes_table puts node records
--                    in a second table; opts.create = true creates missing tables;
--                    opts.match_succeeded = false stops COMPLETED queries from also reading
--                    cirrus v2's SUCCEEDED_ records. See gf.state.dynamodb.
--                    Passing an option another backend uses raises.
--     opts.clock     function() -> epoch seconds (float); default gf.time.now (else the
--                    backend's clock)
--
-- Payload state (ids are `<collections>/workflow-<workflow>/<itemids>`, see gf.state.payload;
-- an invalid id gives nil, msg, "invalid_input"):
--   store:claim(id [, execution]) -> true | nil, msg, "conflict", item
--       CLAIMED_<now>; creates the record (created = now) or takes over one that is not
--       PROCESSING or CLAIMED; appends `execution` to executions; sets claimed_at; clears
--       last_error and outputs (as cirrus v2 does). On conflict the 4th value is the record.
--   store:set_processing(id) -> true | nil, msg, "conflict", item|nil   only from CLAIMED
--   store:set_completed(id [, outputs]) -> true     (set_succeeded: the same, cirrus v2 name)
--   store:set_failed(id, error) / store:set_invalid(id, error) -> true   sets last_error
--   store:set_aborted(id) -> true
--       These never fail on the current state; they create a missing record, as cirrus does.
--   store:set_outputs(id, outputs) -> true | nil, msg, "not_found"   outputs: list of strings
--   store:get(id) -> item | nil, msg, "not_found"
--   store:delete(id) -> true
--   store:query(q) -> items, next_token|nil         one page, newest first
--   store:query_all(q) -> items                     every page until q.limit items
--   store:count(q) -> n
--       q.collections_workflow (required: "<collections>_<workflow>"), q.state, q.since
--       ("7d", "24h", "30m", or an epoch number: updated at or after it), q.error_prefix
--       (last_error starts with it), q.limit (query: page size 1..1000, default 100;
--       query_all: total 1..50000, default all), q.page_size (query_all: 1..1000, default 100),
--       q.next (query: the token returned by the previous page).
--       With since: range over state_updated ("<STATE>_<begin>".."<STATE>_<now>") when a state
--       is given, else over updated. A state alone: state_updated begins with "<STATE>_".
--       Otherwise ordered by updated. Ties are ordered by itemids, descending.
--   item = {payload_id, collections, workflow, items (= itemids), collections_workflow,
--           itemids, state, state_updated, created, updated, claimed_at, last_error,
--           outputs (list), executions (list)}
--
-- States: CLAIMED, PROCESSING, COMPLETED, FAILED, INVALID, ABORTED. SUCCEEDED (cirrus v2) is
-- accepted wherever a state is given and means COMPLETED: records are written and reported as
-- COMPLETED (the v1 name, which the cirrus table schema and get-payloads use).
-- Timestamps are ISO 8601 UTC with microseconds, "2024-05-01T12:00:00.000000+00:00" (what
-- Python's datetime.isoformat() writes, always with the fraction so strings sort by time).
--
-- Node state for workflows (gf.flow), keyed (run_id, node):
--   store:put_node(run_id, node, {status=, attempts=, error=, output=}) -> true
--       replaces the record; status is required; output is any JSON value (gf.json)
--   store:get_node(run_id, node) -> {run_id, node, status, attempts, error, output, updated}
--                                   | nil, msg, "not_found"
--   store:list_nodes(run_id [, {status=}]) -> list ordered by node name
--   store:delete_nodes(run_id) -> number removed
-- Leases (gf.flow workers), conditional writes decided atomically by the backend:
--   store:lease_node(run_id, node, {worker=, until=, now=, max_attempts=})
--       -> true, rec | false, rec|nil
--       Records the node `running`, attempts + 1, output = {worker=, lease_until=until}, only if
--       it is not completed, not failed with attempts >= max_attempts (when given), and not
--       running under another worker's lease that is still live (lease_until > now; now
--       defaults to the store's clock). false comes with the record that refused it (read just
--       after the refusal; nil when the node has gone). Of two racing workers exactly one wins.
--   store:renew_lease(run_id, node, {worker=, until=}) -> true | false
--       moves lease_until, only while the node is running under this worker's lease.
--   store:put_node_if(run_id, node, rec, {worker=}) -> true | false, rec|nil
--       put_node, only while the node is running under this worker's lease.
--   Backends with lease_node/renew_lease/put_node_if do it in one conditional request
--   (DynamoDB); otherwise the store reads, checks and writes in store:transaction (SQLite).
--   lease_refusal(rec, worker, now, max_attempts) -> "completed"|"exhausted"|"leased"|nil
--
-- store:transaction(fn, ...) -> fn's results, inside one backend transaction when the backend
-- has them (SQLite), else fn is simply called. store:close().
-- Helpers: STATES, normalize_state(s), iso8601(epoch), parse_since(since, now).
--
-- Backends: a table of methods (self first), all returning `nil, msg, code` on failure:
--   claim(key, now, execution|nil) -> true | false, old_dbitem|false
--   set_processing(key, now) -> true | false, old_dbitem|false
--   set_state(key, state, now, {outputs=, last_error=}) -> true     (upsert, no condition)
--   set_outputs(key, now, outputs) -> true | false (no record)
--   get(key) -> dbitem | false;  delete(key) -> true
--   query(bq) -> {dbitem...}, last|nil;  count(bq) -> n
--       bq = {collections_workflow, index = "updated"|"state_updated", lo, hi (inclusive
--       range) or prefix, error_prefix, limit, after (a `last` table from a previous page)}
--       `last` is a table of strings; the store turns it into an opaque token and back.
--   put_node(run_id, node, rec, now), get_node(run_id, node) -> rec|false,
--   list_nodes(run_id, status|nil) -> list, delete_nodes(run_id) -> n
--   optional: now() -> epoch seconds, transaction(fn, ...), close(), and the conditional node
--   writes lease_node(run_id, node, lease, now) -> true, rec | false, rec|false,
--   renew_lease(run_id, node, lease, now) -> true | false,
--   put_node_if(run_id, node, rec, now, worker) -> true | false, rec|false, where
--   lease = {worker, until, now (epoch), max_attempts|nil, output (JSON text of the lease)}.
-- key = {collections_workflow, itemids}; dbitem = the cirrus DynamoDB attributes
-- {collections_workflow, itemids, state_updated, created, updated, claimed_at, last_error,
-- outputs, executions}; node rec = {status, attempts, error, output (JSON text), updated}.
local payload = require("gf.state.payload")

local M = {}

M.STATES = { "CLAIMED", "PROCESSING", "COMPLETED", "FAILED", "INVALID", "ABORTED" }
local CANON = { CLAIMED = "CLAIMED", PROCESSING = "PROCESSING", COMPLETED = "COMPLETED",
  SUCCEEDED = "COMPLETED", FAILED = "FAILED", INVALID = "INVALID", ABORTED = "ABORTED" }

--- The canonical name of a state ("SUCCEEDED" -> "COMPLETED"), or nil if unknown.
function M.normalize_state(s)
  return CANON[s]
end

--- Epoch seconds -> "YYYY-MM-DDTHH:MM:SS.ffffff+00:00".
function M.iso8601(t)
  local sec = math.floor(t)
  local us = math.floor((t - sec) * 1e6 + 0.5)
  if us >= 1000000 then
    sec, us = sec + 1, us - 1000000
  end
  return os.date("!%Y-%m-%dT%H:%M:%S", sec) .. (".%06d+00:00"):format(us)
end

local UNIT = { d = 86400, h = 3600, m = 60 }

--- `7d` / `24h` / `30m` (relative to now) or an epoch number -> start epoch seconds.
function M.parse_since(since, now)
  if type(since) == "number" then return since end
  if type(since) == "string" then
    local n, u = since:match("^(%d+)([dhm])$")
    if n then return now - tonumber(n) * UNIT[u] end
  end
  return nil, ("state: bad since %q (expected <n>d, <n>h, <n>m or an epoch number)"):format(
    tostring(since)), "invalid_input"
end

-- {====== opaque page tokens ======

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

local function encode_token(last)
  local keys = {}
  for k in pairs(last) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. "\0" .. tostring(last[k]) end
  return "1." .. hex(table.concat(parts, "\0"))
end

local function decode_token(tok)
  local body = type(tok) == "string" and tok:match("^1%.(%x*)$")
  if not body or #body % 2 == 1 then
    return nil, ("state.query: bad next-page token %q"):format(tostring(tok)), "invalid_input"
  end
  local raw = body:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)
  local last, fields = {}, {}
  for f in (raw .. "\0"):gmatch("(.-)%z") do fields[#fields + 1] = f end
  if #fields % 2 == 1 then
    return nil, ("state.query: bad next-page token %q"):format(tok), "invalid_input"
  end
  for i = 1, #fields, 2 do last[fields[i]] = fields[i + 1] end
  return last
end

-- }======

local Store = {}
Store.__index = Store
Store.__name = "gf.state.store"

local function check_closed(self)
  if not self.backend then error("gf.state: the store is closed", 3) end
end

function Store:_now()
  return M.iso8601(self.clock())
end

local function key_of(op, id)
  if type(id) ~= "string" then
    error(("bad argument #1 to '%s' (payload id string expected, got %s)"):format(op, type(id)), 3)
  end
  local key, msg, code = payload.to_key(id)
  if not key then return nil, ("state.%s: %s"):format(op, msg), code end
  return key
end

local function to_item(d)
  local raw_state, stamp = d.state_updated:match("^([^_]*)_(.*)$")
  local state = CANON[raw_state] or raw_state
  local pid = payload.from_key(d.collections_workflow, d.itemids)
  local p = pid and payload.parse(pid)
  return {
    payload_id = pid,
    collections = p and p.collections,
    workflow = p and p.workflow,
    items = d.itemids,
    collections_workflow = d.collections_workflow,
    itemids = d.itemids,
    state = state,
    state_updated = state .. "_" .. (stamp or ""),
    created = d.created,
    updated = d.updated,
    claimed_at = d.claimed_at,
    last_error = d.last_error,
    outputs = d.outputs,
    executions = d.executions or {},
  }
end
M.item_of = to_item

local function check_strings(op, list, what)
  if type(list) ~= "table" then error(("%s: %s must be a list of strings"):format(op, what), 3) end
  for i = 1, #list do
    if type(list[i]) ~= "string" then
      error(("%s: %s must be a list of strings"):format(op, what), 3)
    end
  end
end

function Store:claim(id, execution)
  check_closed(self)
  local key, msg, code = key_of("claim", id)
  if not key then return nil, msg, code end
  if execution ~= nil and type(execution) ~= "string" then
    error("bad argument #2 to 'claim' (execution id string expected)", 2)
  end
  local ok, old, c = self.backend:claim(key, self:_now(), execution)
  if ok then return true end
  if ok == nil then return nil, old, c end
  local item = old and to_item(old) or nil
  return nil, ("state.claim %s: already %s"):format(id, item and item.state or "changed"),
    "conflict", item
end

function Store:set_processing(id)
  check_closed(self)
  local key, msg, code = key_of("set_processing", id)
  if not key then return nil, msg, code end
  local ok, old, c = self.backend:set_processing(key, self:_now())
  if ok then return true end
  if ok == nil then return nil, old, c end
  local item = old and to_item(old) or nil
  return nil, ("state.set_processing %s: not CLAIMED (%s)"):format(id,
    item and item.state or "no record"), "conflict", item
end

local function set_state(self, op, id, state, fields)
  check_closed(self)
  local key, msg, code = key_of(op, id)
  if not key then return nil, msg, code end
  local ok, err, c = self.backend:set_state(key, state, self:_now(), fields)
  if not ok then return nil, err, c end
  return true
end

function Store:set_completed(id, outputs)
  if outputs ~= nil then check_strings("state.set_completed", outputs, "outputs") end
  return set_state(self, "set_completed", id, "COMPLETED", { outputs = outputs })
end
Store.set_succeeded = Store.set_completed

function Store:set_failed(id, err)
  if type(err) ~= "string" then error("bad argument #2 to 'set_failed' (string expected)", 2) end
  return set_state(self, "set_failed", id, "FAILED", { last_error = err })
end

function Store:set_invalid(id, err)
  if type(err) ~= "string" then error("bad argument #2 to 'set_invalid' (string expected)", 2) end
  return set_state(self, "set_invalid", id, "INVALID", { last_error = err })
end

function Store:set_aborted(id)
  return set_state(self, "set_aborted", id, "ABORTED", {})
end

function Store:set_outputs(id, outputs)
  check_closed(self)
  check_strings("state.set_outputs", outputs, "outputs")
  local key, msg, code = key_of("set_outputs", id)
  if not key then return nil, msg, code end
  local ok, err, c = self.backend:set_outputs(key, self:_now(), outputs)
  if ok == false then return nil, ("state.set_outputs %s: not found"):format(id), "not_found" end
  if not ok then return nil, err, c end
  return true
end

function Store:get(id)
  check_closed(self)
  local key, msg, code = key_of("get", id)
  if not key then return nil, msg, code end
  local d, err, c = self.backend:get(key)
  if d == nil then return nil, err, c end
  if d == false then return nil, ("state.get %s: not found"):format(id), "not_found" end
  return to_item(d)
end

function Store:delete(id)
  check_closed(self)
  local key, msg, code = key_of("delete", id)
  if not key then return nil, msg, code end
  local ok, err, c = self.backend:delete(key)
  if not ok then return nil, err, c end
  return true
end

-- {====== queries ======

local QUERY_FIELDS = { collections_workflow = "string", state = "string", since = true,
  error_prefix = "string", limit = "number", page_size = "number", next = "string" }

local function check_query(op, q)
  if type(q) ~= "table" then error(("bad argument #1 to '%s' (table expected)"):format(op), 3) end
  for k, v in pairs(q) do
    local want = QUERY_FIELDS[k]
    if not want then error(("state.%s: unknown query field '%s'"):format(op, tostring(k)), 3) end
    if want ~= true and type(v) ~= want then
      error(("state.%s: query field '%s' must be a %s"):format(op, k, want), 3)
    end
  end
  if q.collections_workflow == nil then
    error(("state.%s: collections_workflow is required"):format(op), 3)
  end
end

local function check_limit(op, name, v, max, default)
  if v == nil then return default end
  if math.type(v) ~= "integer" or v < 1 or v > max then
    error(("state.%s: %s must be an integer in 1..%d"):format(op, name, max), 3)
  end
  return v
end

-- The backend query for q (without paging fields), or nil, msg, code.
function Store:_backend_query(op, q)
  local bq = { collections_workflow = q.collections_workflow, index = "updated" }
  local state
  if q.state ~= nil then
    state = CANON[q.state]
    if not state then
      return nil, ("state.%s: unknown state %q"):format(op, q.state), "invalid_input"
    end
  end
  if q.since ~= nil then
    local now = self.clock()
    local start, msg, code = M.parse_since(q.since, now)
    if not start then return nil, msg, code end
    local lo, hi = M.iso8601(start), M.iso8601(now)
    if state then
      bq.index, bq.lo, bq.hi = "state_updated", state .. "_" .. lo, state .. "_" .. hi
    else
      bq.lo, bq.hi = lo, hi
    end
  elseif state then
    bq.index, bq.prefix = "state_updated", state .. "_"
  end
  if q.error_prefix and q.error_prefix ~= "" then bq.error_prefix = q.error_prefix end
  return bq
end

function Store:query(q)
  check_closed(self)
  check_query("query", q)
  local bq, msg, code = self:_backend_query("query", q)
  if not bq then return nil, msg, code end
  bq.limit = check_limit("query", "limit", q.limit, 1000, 100)
  if q.next then
    bq.after, msg, code = decode_token(q.next)
    if not bq.after then return nil, msg, code end
  end
  local rows, last, c = self.backend:query(bq)
  if not rows then return nil, last, c end
  local items = {}
  for i, d in ipairs(rows) do items[i] = to_item(d) end
  return items, last and encode_token(last) or nil
end

function Store:query_all(q)
  check_closed(self)
  check_query("query_all", q)
  local total = check_limit("query_all", "limit", q.limit, 50000, math.maxinteger)
  local page = { collections_workflow = q.collections_workflow, state = q.state, since = q.since,
    error_prefix = q.error_prefix, next = q.next,
    limit = check_limit("query_all", "page_size", q.page_size, 1000, 100) }
  local items = {}
  repeat
    local got, nxt, code = self:query(page)
    if not got then return nil, nxt, code end
    for _, it in ipairs(got) do
      if #items >= total then break end
      items[#items + 1] = it
    end
    page.next = nxt
  until not nxt or #items >= total
  return items
end

function Store:count(q)
  check_closed(self)
  check_query("count", q)
  local bq, msg, code = self:_backend_query("count", q)
  if not bq then return nil, msg, code end
  return self.backend:count(bq)
end

-- }======

-- {====== nodes ======

local function check_node_key(op, run_id, node)
  if type(run_id) ~= "string" or run_id == "" then
    error(("bad argument #1 to '%s' (non-empty run id string expected)"):format(op), 3)
  end
  if type(node) ~= "string" or node == "" then
    error(("bad argument #2 to '%s' (non-empty node name string expected)"):format(op), 3)
  end
end

local function json()
  return require("gf.json")
end

-- The backend record for rec (output as JSON text); raises on misuse (level 3: the caller of
-- the Store method), nil, msg, code when the output cannot be encoded.
local function encode_node(run_id, node, rec, op)
  if type(rec) ~= "table" or type(rec.status) ~= "string" then
    error(("bad argument #3 to '%s' (table with a status string expected)"):format(op), 3)
  end
  local attempts = rec.attempts or 0
  if math.type(attempts) ~= "integer" or attempts < 0 then
    error(op .. ": attempts must be a non-negative integer", 3)
  end
  if rec.error ~= nil and type(rec.error) ~= "string" then
    error(op .. ": error must be a string", 3)
  end
  local out
  if rec.output ~= nil then
    local msg, code
    out, msg, code = json().encode(rec.output)
    if not out then return nil, ("state.%s %s/%s: %s"):format(op, run_id, node, msg), code end
  end
  local started = rec.started
  if type(started) == "number" then
    started = M.iso8601(started)
  elseif started ~= nil and type(started) ~= "string" then
    error(op .. ": started must be epoch seconds or an ISO 8601 string", 3)
  end
  return { status = rec.status, attempts = attempts, error = rec.error, output = out,
    started = started }
end

function Store:put_node(run_id, node, rec)
  check_closed(self)
  check_node_key("put_node", run_id, node)
  local enc, msg, code = encode_node(run_id, node, rec, "put_node")
  if not enc then return nil, msg, code end
  return self.backend:put_node(run_id, node, enc, self:_now())
end

local function node_view(run_id, node, r)
  local v = { run_id = run_id, node = node, status = r.status, attempts = r.attempts,
    error = r.error, updated = r.updated, started = r.started }
  if r.output ~= nil then v.output = json().decode(r.output) end
  return v
end

function Store:get_node(run_id, node)
  check_closed(self)
  check_node_key("get_node", run_id, node)
  local r, msg, code = self.backend:get_node(run_id, node)
  if r == nil then return nil, msg, code end
  if r == false then
    return nil, ("state.get_node %s/%s: not found"):format(run_id, node), "not_found"
  end
  return node_view(run_id, node, r)
end

function Store:list_nodes(run_id, opts)
  check_closed(self)
  check_node_key("list_nodes", run_id, "-")
  local status = opts and opts.status
  if status ~= nil and type(status) ~= "string" then
    error("list_nodes: status must be a string", 2)
  end
  local rows, msg, code = self.backend:list_nodes(run_id, status)
  if not rows then return nil, msg, code end
  local out = {}
  for i, r in ipairs(rows) do out[i] = node_view(run_id, r.node, r) end
  return out
end

function Store:delete_nodes(run_id)
  check_closed(self)
  check_node_key("delete_nodes", run_id, "-")
  return self.backend:delete_nodes(run_id)
end

-- Payload statistics of one collections-workflow, by each record's current state and the time
-- it entered it (state_updated, what get-payloads --since --state selects on):
-- q.collections_workflow, q.windows ({name = seconds}: a count per state of the records that
-- entered their state within each, e.g. {hour = 3600, day = 86400, week = 604800}),
-- q.interval ("hour" | "day") and q.span (seconds, at most 31 days; default 48 hours / 7 days)
-- for the series (whole hours / UTC days, the last one holding now).
-- -> {totals = {STATE = {<window> = n}}, series = {{bucket = "YYYY-MM-DDTHH" | "YYYY-MM-DD",
--     state =, n =}} (ascending, empty buckets left out), since = first bucket, now =}
function Store:payload_stats(q)
  check_closed(self)
  if type(q) ~= "table" or type(q.collections_workflow) ~= "string" then
    error("bad argument #1 to 'payload_stats' (table with collections_workflow expected)", 2)
  end
  local interval = q.interval or "hour"
  local step = ({ hour = 3600, day = 86400 })[interval]
  if not step then error("payload_stats: interval must be 'hour' or 'day'", 2) end
  local span = q.span or (interval == "hour" and 48 * 3600 or 7 * 86400)
  if type(span) ~= "number" or span <= 0 or span > 31 * 86400 then
    error("payload_stats: span must be a number of seconds in (0, 31 days]", 2)
  end
  if not self.backend.stats then
    return nil, "state.payload_stats: this backend keeps no payloads", "invalid_input"
  end
  local now = self.clock()
  local marks = {}
  for name, secs in pairs(q.windows or {}) do marks[name] = M.iso8601(now - secs) end
  local len = interval == "hour" and 13 or 10
  local last = math.floor(now / step) * step
  local buckets = {}
  for b = last - (math.ceil(span / step) - 1) * step, last, step do
    buckets[#buckets + 1] = { key = M.iso8601(b):sub(1, len), lo = M.iso8601(b),
      hi = M.iso8601(b + step) }
  end
  local r, msg, code = self.backend:stats({ collections_workflow = q.collections_workflow,
    hi = M.iso8601(now), marks = marks, buckets = buckets, states = M.STATES })
  if not r then return nil, msg, code end
  r.since, r.now = buckets[1].lo, M.iso8601(now)
  return r
end

-- The collections_workflow keys the backend can list cheaply (SQLite), or nil, msg,
-- "invalid_input" (DynamoDB would have to scan the table).
function Store:collections_workflows(limit)
  check_closed(self)
  if not self.backend.collections_workflows then
    return nil, "state.collections_workflows: not listed by this backend", "invalid_input"
  end
  return self.backend:collections_workflows(limit or 1000)
end

-- Runs: one summary per run id {run_id, nodes, counts = {status = n}, first, last}, newest
-- first: on SQLite by the earliest time any of its node records started (else was written), on
-- DynamoDB by the time the run's first node was written (its run index record).
-- opts.limit (1..1000, default 100), opts.next (the token of the previous page).
-- -> runs, next_token|nil, total
function Store:list_runs(opts)
  check_closed(self)
  opts = opts or {}
  if type(opts) ~= "table" then error("bad argument #1 to 'list_runs' (table expected)", 2) end
  local limit = check_limit("list_runs", "limit", opts.limit, 1000, 100)
  local offset = 0
  if opts.next ~= nil then
    offset = type(opts.next) == "string" and tonumber(opts.next:match("^r(%d+)$"))
    if not offset then
      return nil, ("state.list_runs: bad next-page token %q"):format(tostring(opts.next)),
        "invalid_input"
    end
  end
  if not self.backend.list_runs then
    return nil, "state.list_runs: this backend cannot list runs", "invalid_input"
  end
  local runs, msg, code = self.backend:list_runs()
  if not runs then return nil, msg, code end
  table.sort(runs, function(a, b)
    if a.first ~= b.first then return a.first > b.first end
    return a.run_id > b.run_id
  end)
  local out = {}
  for i = offset + 1, math.min(offset + limit, #runs) do out[#out + 1] = runs[i] end
  -- backends that list runs without counts (DynamoDB) count the page's runs only
  if self.backend.run_counts then
    local ok_task, task = pcall(require, "gf.task")
    local failure
    local function fill(r)
      if r.counts or failure then return end
      local c, cmsg, ccode = self.backend:run_counts(r.run_id)
      if not c then
        failure = { cmsg, ccode }
        return
      end
      r.counts, r.nodes, r.last = c.counts, c.nodes, c.last ~= "" and c.last or r.first
      if c.first and c.first < r.first then r.first = c.first end
    end
    if ok_task and task.map and #out > 1 then
      local _, errs = task.map(out, fill, { concurrency = 8 })
      if errs[1] then error(errs[1].error, 0) end
    else
      for _, r in ipairs(out) do fill(r) end
    end
    if failure then return nil, failure[1], failure[2] end
  end
  local nxt = offset + limit < #runs and ("r%d"):format(offset + limit) or nil
  return out, nxt, #runs
end

-- {====== meta: small JSON records next to the state (listener health, recorded actions) ======

local function check_meta_key(op, key)
  if type(key) ~= "string" or key == "" or #key > 512 or key:find("%c") then
    error(("bad argument #1 to '%s' (key: 1..512 characters, no control characters)"):format(op), 3)
  end
end

function Store:put_meta(key, value)
  check_closed(self)
  check_meta_key("put_meta", key)
  local text, msg, code = json().encode(value)
  if not text then return nil, ("state.put_meta %s: %s"):format(key, msg), code end
  if #text > 65536 then
    return nil, ("state.put_meta %s: value is %d bytes (at most 65536)"):format(key, #text),
      "invalid_input"
  end
  if not self.backend.put_meta then
    return nil, "state.put_meta: this backend keeps no meta records", "invalid_input"
  end
  return self.backend:put_meta(key, text, self:_now())
end

local function meta_view(r)
  return { key = r.key, value = json().decode(r.value), updated = r.updated }
end

function Store:get_meta(key)
  check_closed(self)
  check_meta_key("get_meta", key)
  if not self.backend.get_meta then
    return nil, "state.get_meta: this backend keeps no meta records", "invalid_input"
  end
  local r, msg, code = self.backend:get_meta(key)
  if r == nil then return nil, msg, code end
  if r == false then return nil, ("state.get_meta %s: not found"):format(key), "not_found" end
  return meta_view(r)
end

-- Records whose key begins with prefix, keys descending (newest first for time-stamped keys).
function Store:list_meta(prefix, opts)
  check_closed(self)
  if type(prefix) ~= "string" then error("bad argument #1 to 'list_meta' (string expected)", 2) end
  local limit = check_limit("list_meta", "limit", opts and opts.limit, 1000, 100)
  if not self.backend.list_meta then
    return nil, "state.list_meta: this backend keeps no meta records", "invalid_input"
  end
  local rows, msg, code = self.backend:list_meta(prefix, limit)
  if not rows then return nil, msg, code end
  local out = {}
  for i, r in ipairs(rows) do out[i] = meta_view(r) end
  return out
end

function Store:delete_meta(key)
  check_closed(self)
  check_meta_key("delete_meta", key)
  if not self.backend.delete_meta then return true end
  return self.backend:delete_meta(key)
end

-- }======

-- {====== leases (conditional node writes for workers) ======
--
-- A lease record is `running` with output = {worker=, lease_until=}. A backend with
-- lease_node / renew_lease / put_node_if methods decides the condition itself in one request
-- (DynamoDB: a ConditionExpression); otherwise the store reads, checks and writes inside
-- store:transaction (atomic on SQLite, which has transactions).

local function check_lease(op, lease, want_until)
  if type(lease) ~= "table" or type(lease.worker) ~= "string" or lease.worker == "" then
    error(("bad argument #3 to '%s' (lease table with a worker string expected)"):format(op), 3)
  end
  if want_until and type(lease["until"]) ~= "number" then
    error(("%s: lease.until must be a number (epoch seconds)"):format(op), 3)
  end
  if lease.now ~= nil and type(lease.now) ~= "number" then
    error(("%s: lease.now must be a number (epoch seconds)"):format(op), 3)
  end
  if lease.max_attempts ~= nil and math.type(lease.max_attempts) ~= "integer" then
    error(("%s: lease.max_attempts must be an integer"):format(op), 3)
  end
end

-- Why a record (node_view) refuses a lease for `worker` at `now`; nil when it does not.
local function refusal(r, worker, now, max_attempts)
  if not r then return nil end
  if r.status == "completed" then return "completed" end
  if r.status == "failed" and max_attempts and (r.attempts or 0) >= max_attempts then
    return "exhausted"
  end
  local o = r.status == "running" and type(r.output) == "table" and r.output
  if o and o.worker ~= worker and type(o.lease_until) == "number" and o.lease_until > now then
    return "leased"
  end
  return nil
end
M.lease_refusal = refusal

local function held_by(r, worker)
  return r and r.status == "running" and type(r.output) == "table" and r.output.worker == worker
end

-- The backend's view of a lease: the output record as JSON text plus the plain fields.
local function backend_lease(lease, now)
  return { worker = lease.worker, ["until"] = lease["until"], now = now,
    max_attempts = lease.max_attempts,
    output = json().encode({ worker = lease.worker, lease_until = lease["until"] }) }
end

function Store:lease_node(run_id, node, lease)
  check_closed(self)
  check_node_key("lease_node", run_id, node)
  check_lease("lease_node", lease, true)
  local now = lease.now or self.clock()
  local b = self.backend
  if b.lease_node then
    local ok, r, code = b:lease_node(run_id, node, backend_lease(lease, now), self:_now())
    if ok == nil then return nil, r, code end
    if ok then return true, node_view(run_id, node, r) end
    return false, r and node_view(run_id, node, r) or nil
  end
  return self:transaction(function(s)
    local r, msg, code = s:get_node(run_id, node)
    if not r and code ~= "not_found" then return nil, msg, code end
    if refusal(r, lease.worker, now, lease.max_attempts) then return false, r end
    local rec = { status = "running", attempts = (r and r.attempts or 0) + 1,
      output = { worker = lease.worker, lease_until = lease["until"] }, started = s.clock() }
    local ok, pmsg, pcode = s:put_node(run_id, node, rec)
    if not ok then return nil, pmsg, pcode end
    return true, s:get_node(run_id, node)
  end)
end

function Store:renew_lease(run_id, node, lease)
  check_closed(self)
  check_node_key("renew_lease", run_id, node)
  check_lease("renew_lease", lease, true)
  local b = self.backend
  if b.renew_lease then
    return b:renew_lease(run_id, node, backend_lease(lease, lease.now or self.clock()), self:_now())
  end
  return self:transaction(function(s)
    local r, msg, code = s:get_node(run_id, node)
    if not r and code ~= "not_found" then return nil, msg, code end
    if not held_by(r, lease.worker) then return false end
    local ok, pmsg, pcode = s:put_node(run_id, node, { status = "running", attempts = r.attempts,
      output = { worker = lease.worker, lease_until = lease["until"] }, started = r.started })
    if not ok then return nil, pmsg, pcode end
    return true
  end)
end

function Store:put_node_if(run_id, node, rec, lease)
  check_closed(self)
  check_node_key("put_node_if", run_id, node)
  check_lease("put_node_if", lease, false)
  local enc, msg, code = encode_node(run_id, node, rec, "put_node_if")
  if not enc then return nil, msg, code end
  local b = self.backend
  if b.put_node_if then
    local ok, r, c = b:put_node_if(run_id, node, enc, self:_now(), lease.worker)
    if ok == nil then return nil, r, c end
    if ok then return true end
    return false, r and node_view(run_id, node, r) or nil
  end
  return self:transaction(function(s)
    local r, gmsg, gcode = s:get_node(run_id, node)
    if not r and gcode ~= "not_found" then return nil, gmsg, gcode end
    if not held_by(r, lease.worker) then return false, r end
    local ok, pmsg, pcode = s.backend:put_node(run_id, node, enc, s:_now())
    if not ok then return nil, pmsg, pcode end
    return true
  end)
end

-- }======

function Store:transaction(fn, ...)
  check_closed(self)
  if self.backend.transaction then return self.backend:transaction(fn, self, ...) end
  return fn(self, ...)
end

function Store:close()
  local b = self.backend
  self.backend = nil
  if b and b.close then b:close() end
  return true
end
Store.__close = Store.close
Store.__gc = Store.close

local OPEN_FIELDS = { backend = true, path = "string", clock = "function",
  busy_timeout_ms = "number", synchronous = "string",
  table = "string", nodes_table = "string", endpoint = "string", region = "string",
  credentials = "table", profile = "string", client = "table", create = "boolean",
  match_succeeded = "boolean" }
-- The options each named backend reads (backend and clock are common).
local BACKEND_FIELDS = {
  sqlite = { path = true, busy_timeout_ms = true, synchronous = true },
  dynamodb = { table = true, nodes_table = true, endpoint = true, region = true,
    credentials = true, profile = true, client = true, create = true, match_succeeded = true },
}

function M.open(opts)
  if type(opts) ~= "table" then error("bad argument #1 to 'open' (table expected)", 2) end
  for k, v in pairs(opts) do
    local want = OPEN_FIELDS[k]
    if not want then error(("state.open: unknown option '%s'"):format(tostring(k)), 2) end
    if want ~= true and type(v) ~= want then
      error(("state.open: option '%s' must be a %s"):format(k, want), 2)
    end
  end
  local backend = opts.backend or "sqlite"
  local fields = BACKEND_FIELDS[backend]
  if fields then
    for k in pairs(opts) do
      if k ~= "backend" and k ~= "clock" and not fields[k] then
        error(("state.open: option '%s' is not used by the %s backend"):format(k, backend), 2)
      end
    end
  end
  if backend == "sqlite" then
    if not opts.path then error("state.open: path is required for the sqlite backend", 2) end
    local msg, code
    backend, msg, code = require("gf.state.sqlite").open(opts)
    if not backend then return nil, msg, code end
  elseif backend == "dynamodb" then
    local msg, code
    backend, msg, code = require("gf.state.dynamodb").open(opts)
    if not backend then return nil, msg, code end
  elseif type(backend) ~= "table" then
    error(("state.open: unknown backend %q"):format(tostring(backend)), 2)
  end
  local clock = opts.clock or require("gf.time").now
  return setmetatable({ backend = backend, clock = clock }, Store)
end

return M
