--- gf.state.dynamodb: the DynamoDB backend of gf.state, on a table with the Cirrus state-database
-- schema (hash collections_workflow, range itemids; GSIs `state_updated` and `updated` on
-- (collections_workflow, <name>), projection ALL), so that gfhost and Cirrus can share a table.
--
-- open(opts) -> backend | nil, msg, code
--   opts.table (required)   the payload table
--   opts.client             a gf.awsjson client for "dynamodb"; else one is made from
--                           opts.endpoint, opts.region, opts.credentials, opts.profile
--   opts.nodes_table        workflow node records go to this table (same key schema) instead of
--                           the payload table
--   opts.create             create the table(s) when missing (see create_table)
--   The table is checked with DescribeTable: a missing one gives
--   nil, "dynamodb.DescribeTable <t>: 400 ResourceNotFoundException: ...", "not_found".
-- create_table(client, name [, {schema = table | path, timeout = s}]) -> true | nil, msg, code
--   CreateTable with the Cirrus schema (the built-in copy SCHEMA, or the given CreateTable JSON
--   document or file), TableName replaced by name; waits until the table and its indexes are
--   ACTIVE (timeout 60 s). An existing table: nil, "...ResourceInUseException...", "conflict".
-- delete_table(client, name) -> true | nil, msg, code
-- SCHEMA: the CreateTable request of cirrus' statedb (tests/fixtures/statedb-schema.json).
--
-- Records are written the way cirrus writes them: string attributes collections_workflow,
-- itemids, state_updated ("<STATE>_<iso8601>"), created, updated, claimed_at, last_error, and
-- lists of strings executions and outputs. Every transition is one UpdateItem whose
-- ConditionExpression is cirrus' condition (claim: NOT begins_with PROCESSING/CLAIMED;
-- set_processing: begins_with CLAIMED); ConditionalCheckFailedException becomes `false, old`
-- (old: the ALL_OLD item of the error body, or a consistent GetItem where the server omits it).
-- A query for COMPLETED also reads the `SUCCEEDED_` range (records written by cirrus v2) and
-- merges both, newest first.
--
-- Node records live in the payload table (or opts.nodes_table) under
-- collections_workflow = "gf-nodes#<run_id>", itemids = <node>, with attributes status,
-- attempts (N), error, output (JSON text) and node_updated. They have neither state_updated
-- nor updated, so they never appear in the two indexes; the "gf-nodes#" prefix is reserved.
-- A worker's lease (lease_node) is one UpdateItem whose ConditionExpression is the lease
-- condition; running records it writes also carry lease_worker (S) and lease_until (N), which
-- renew_lease and put_node_if condition on. ConditionalCheckFailedException -> false.
-- The methods are those gf.state documents for backends.
local json = require("gf.json")

local M = {}

M.NODE_PREFIX = "gf-nodes#"
M.RUNS_KEY = "gf-runs#"   -- collections_workflow of the run index (itemids = run id)
M.META_KEY = "gf-meta#"   -- collections_workflow of meta records (itemids = key)

local function S(s) return { S = s } end

local function keylist(...)
  local out = json.array()
  for i = 1, select("#", ...) do
    local k = select(i, ...)
    out[i] = json.object({ AttributeName = k[1], KeyType = k[2] })
  end
  return out
end

local function gsi(name)
  return json.object({ IndexName = name,
    KeySchema = keylist({ "collections_workflow", "HASH" }, { name, "RANGE" }),
    Projection = json.object({ ProjectionType = "ALL" }) })
end

local function attr(name)
  return json.object({ AttributeName = name, AttributeType = "S" })
end

--- The CreateTable request of cirrus' state database (without TableName).
function M.schema()
  return json.object({
    BillingMode = "PAY_PER_REQUEST",
    AttributeDefinitions = json.array({ attr("collections_workflow"), attr("itemids"),
      attr("state_updated"), attr("updated") }),
    KeySchema = keylist({ "collections_workflow", "HASH" }, { "itemids", "RANGE" }),
    GlobalSecondaryIndexes = json.array({ gsi("state_updated"), gsi("updated") }),
  })
end

-- {====== attribute values ======

local function list_value(list)
  local l = json.array()
  for i = 1, #list do l[i] = S(list[i]) end
  return { L = l }
end

local function plain(v)
  if v.S ~= nil then return v.S end
  if v.N ~= nil then return math.tointeger(tonumber(v.N)) or tonumber(v.N) end
  if v.L ~= nil then
    local out = {}
    for i, e in ipairs(v.L) do out[i] = plain(e) end
    return out
  end
  if v.SS ~= nil then
    local out = {}
    for i, e in ipairs(v.SS) do out[i] = e end
    return out
  end
  if v.BOOL ~= nil then return v.BOOL end
  if v.M ~= nil then
    local out = {}
    for k, e in pairs(v.M) do out[k] = plain(e) end
    return out
  end
  return nil -- NULL, binary
end

local function string_list(v)
  if v == nil then return nil end
  local p = plain(v)
  if type(p) ~= "table" then return nil end
  local out = {}
  for _, e in ipairs(p) do
    if type(e) == "string" then out[#out + 1] = e end
  end
  return out
end

local function str(v)
  if v == nil then return nil end
  local p = plain(v)
  if type(p) == "string" then return p end
  return nil
end

local function dbitem(it)
  return {
    collections_workflow = str(it.collections_workflow),
    itemids = str(it.itemids),
    state_updated = str(it.state_updated),
    created = str(it.created),
    updated = str(it.updated),
    claimed_at = str(it.claimed_at),
    last_error = str(it.last_error),
    outputs = string_list(it.outputs),
    executions = string_list(it.executions),
  }
end

-- }======

-- {====== requests ======

-- Every attribute goes through a #name, so no reserved word (status, ...) can bite.
local NAMES = {
  ["#cw"] = "collections_workflow", ["#it"] = "itemids", ["#su"] = "state_updated",
  ["#cr"] = "created", ["#up"] = "updated", ["#ca"] = "claimed_at", ["#le"] = "last_error",
  ["#out"] = "outputs", ["#ex"] = "executions", ["#st"] = "status", ["#at"] = "attempts",
  ["#er"] = "error", ["#op"] = "output", ["#nu"] = "node_updated", ["#lw"] = "lease_worker",
  ["#lu"] = "lease_until", ["#sd"] = "started", ["#rf"] = "run_first", ["#mv"] = "meta_value",
  ["#mu"] = "meta_updated",
}

-- Sets ExpressionAttributeNames from the #names the request's expressions use.
local function with_names(req)
  local names
  for _, f in ipairs({ "UpdateExpression", "ConditionExpression", "KeyConditionExpression",
    "FilterExpression", "ProjectionExpression" }) do
    local e = req[f]
    if e then
      for n in e:gmatch("#%w+") do
        names = names or {}
        names[n] = assert(NAMES[n], n)
      end
    end
  end
  req.ExpressionAttributeNames = names
  return req
end

local function is_condition_failure(msg)
  return type(msg) == "string" and msg:find("ConditionalCheckFailedException", 1, true) ~= nil
end

local function sleep(s)
  require("gf.task").sleep(s)
end

-- }======

local B = {}
B.__index = B

local function key_of(key)
  return { collections_workflow = S(key.collections_workflow), itemids = S(key.itemids) }
end

function B:_call(target, req, details)
  return self.client:call(target, with_names(req), details and { details = true } or nil)
end

function B:get(key)
  local r, msg, code = self:_call("GetItem", { TableName = self.table, Key = key_of(key),
    ConsistentRead = true })
  if not r then return nil, msg, code end
  if not r.Item then return false end
  return dbitem(r.Item)
end

-- The record that failed a condition: the ALL_OLD item of the error body when the service
-- returns it (DynamoDB with ReturnValuesOnConditionCheckFailure), else a consistent read just
-- after the failure (dynalite, and requests that do not ask for it).
function B:_old(key, err_body)
  if type(err_body) == "table" and type(err_body.Item) == "table" then return false, dbitem(err_body.Item) end
  local old, msg, code = self:get(key)
  if old == nil then return nil, msg, code end
  return false, old
end

function B:claim(key, now, execution)
  local values = { [":su"] = S("CLAIMED_" .. now),
    [":now"] = S(now), [":proc"] = S("PROCESSING"), [":cl"] = S("CLAIMED"),
    [":empty"] = { L = json.array() } }
  local ex = "if_not_exists(#ex, :empty)"
  if execution then
    values[":exec"] = list_value({ execution })
    ex = "list_append(if_not_exists(#ex, :empty), :exec)"
  end
  local r, msg, code, _, err_body = self:_call("UpdateItem", {
    TableName = self.table, Key = key_of(key),
    UpdateExpression = "SET #cr = if_not_exists(#cr, :now), #su = :su, #up = :now, #ca = :now, "
      .. "#ex = " .. ex .. " REMOVE #le, #out",
    ConditionExpression = "NOT (begins_with(#su, :proc) OR begins_with(#su, :cl))",
    ExpressionAttributeValues = values,
    ReturnValuesOnConditionCheckFailure = "ALL_OLD",
  }, true)
  if r then return true end
  if not is_condition_failure(msg) then return nil, msg, code end
  local ok, old, c = self:_old(key, err_body)
  if ok == nil then return nil, old, c end
  -- A request retried after a lost response finds its own claim: that is a success.
  if execution and old and old.state_updated == "CLAIMED_" .. now and old.executions
      and old.executions[#old.executions] == execution then
    return true
  end
  return false, old
end

function B:set_processing(key, now)
  local r, msg, code, _, err_body = self:_call("UpdateItem", {
    TableName = self.table, Key = key_of(key),
    UpdateExpression = "SET #su = :su, #up = :now",
    ConditionExpression = "begins_with(#su, :cl)",
    ExpressionAttributeValues = { [":su"] = S("PROCESSING_" .. now), [":now"] = S(now),
      [":cl"] = S("CLAIMED") },
    ReturnValuesOnConditionCheckFailure = "ALL_OLD",
  }, true)
  if r then return true end
  if not is_condition_failure(msg) then return nil, msg, code end
  return self:_old(key, err_body)
end

function B:set_state(key, state, now, fields)
  local set = { "#su = :su", "#up = :now", "#cr = if_not_exists(#cr, :now)" }
  local values = { [":su"] = S(state .. "_" .. now), [":now"] = S(now) }
  if fields.outputs then
    set[#set + 1] = "#out = :out"
    values[":out"] = list_value(fields.outputs)
  end
  if fields.last_error then
    set[#set + 1] = "#le = :le"
    values[":le"] = S(fields.last_error)
  end
  local r, msg, code = self:_call("UpdateItem", { TableName = self.table, Key = key_of(key),
    UpdateExpression = "SET " .. table.concat(set, ", "), ExpressionAttributeValues = values })
  if not r then return nil, msg, code end
  return true
end

function B:set_outputs(key, now, outputs)
  local r, msg, code = self:_call("UpdateItem", {
    TableName = self.table, Key = key_of(key),
    UpdateExpression = "SET #up = :now, #out = :out",
    ConditionExpression = "attribute_exists(#it)",
    ExpressionAttributeValues = { [":now"] = S(now), [":out"] = list_value(outputs) },
  })
  if r then return true end
  if is_condition_failure(msg) then return false end
  return nil, msg, code
end

function B:delete(key)
  local r, msg, code = self:_call("DeleteItem", { TableName = self.table, Key = key_of(key) })
  if not r then return nil, msg, code end
  return true
end

-- {====== queries ======
--
-- A backend query reads one or more streams: key ranges of one index, each newest first. Only
-- a COMPLETED query has two (COMPLETED_ and cirrus v2's SUCCEEDED_). A page takes up to
-- `limit` items from each stream after its position, and returns the merge (by timestamp,
-- newest first) of the items that no unread item can precede. Each stream's position is a key
-- DynamoDB gave (an item it returned, or its LastEvaluatedKey), so ExclusiveStartKey always
-- names a real position of that stream, whatever order DynamoDB gives to equal timestamps.
-- The `last` table: {index, cw, n (streams), k<i>, i<i> (position), d<i> = "1" (stream done)}.

local function streams_of(self, bq)
  local col = bq.index == "state_updated" and "state_updated" or "updated"
  local out = {}
  local function add(lo, hi, prefix)
    out[#out + 1] = { lo = lo, hi = hi, prefix = prefix }
  end
  add(bq.lo, bq.hi, bq.prefix)
  if col == "state_updated" and self.match_succeeded then
    local lo_rest = bq.lo and bq.lo:match("^COMPLETED_(.*)$")
    local p_rest = bq.prefix and bq.prefix:match("^COMPLETED_(.*)$")
    if lo_rest then
      add("SUCCEEDED_" .. lo_rest, "SUCCEEDED_" .. bq.hi:match("^COMPLETED_(.*)$"))
    elseif p_rest then
      add(nil, nil, "SUCCEEDED_" .. p_rest)
    end
  end
  return col, out
end

local function stream_request(self, bq, col, s)
  local values = { [":cw"] = S(bq.collections_workflow) }
  local cond = "#cw = :cw"
  local k = col == "state_updated" and "#su" or "#up"
  if s.lo then
    cond = cond .. " AND " .. k .. " BETWEEN :lo AND :hi"
    values[":lo"], values[":hi"] = S(s.lo), S(s.hi)
  elseif s.prefix then
    cond = cond .. " AND begins_with(" .. k .. ", :p)"
    values[":p"] = S(s.prefix)
  end
  local req = { TableName = self.table, IndexName = col, KeyConditionExpression = cond,
    ExpressionAttributeValues = values, ScanIndexForward = false }
  if bq.error_prefix then
    req.FilterExpression = "begins_with(#le, :ep)"
    values[":ep"] = S(bq.error_prefix)
  end
  return req
end

local function start_key(bq, col, k, itemids)
  return { collections_workflow = S(bq.collections_workflow), itemids = S(itemids), [col] = S(k) }
end

-- The timestamp of a sort-key value: "<STATE>_<ts>" -> ts on the state_updated index.
local function stamp(col, k)
  if col == "state_updated" then return k:match("^[^_]*_(.*)$") or k end
  return k
end

function B:query(bq)
  local col, streams = streams_of(self, bq)
  local n = #streams
  local after = bq.after
  if after and (after.index ~= bq.index or after.cw ~= bq.collections_workflow
      or after.n ~= tostring(n)) then
    return nil, "state.query: the next-page token belongs to another query", "invalid_input"
  end
  -- read each stream that is not done
  local fetched = {}
  for i, s in ipairs(streams) do
    local f = { items = {}, done = after and after["d" .. i] == "1" }
    fetched[i] = f
    if not f.done then
      local req = stream_request(self, bq, col, s)
      req.Limit = bq.limit
      if after and after["k" .. i] then
        if not after["i" .. i] then
          return nil, "state.query: the next-page token belongs to another query", "invalid_input"
        end
        req.ExclusiveStartKey = start_key(bq, col, after["k" .. i], after["i" .. i])
      end
      local r, msg, code = self:_call("Query", req)
      if not r then return nil, msg, code end
      for j, it in ipairs(r.Items or {}) do
        local d = dbitem(it)
        f.items[j] = { d = d, k = d[col], ts = stamp(col, d[col] or "") }
      end
      local lek = r.LastEvaluatedKey
      if lek then
        f.lek = { k = str(lek[col]), i = str(lek.itemids) }
        f.bound = stamp(col, f.lek.k or "")
      end
    end
  end
  -- unread items of a stream that has more are not newer than its LastEvaluatedKey
  local bound
  for _, f in ipairs(fetched) do
    if f.bound and (not bound or f.bound > bound) then bound = f.bound end
  end
  local pos, rows = {}, {}
  for i = 1, n do pos[i] = 0 end
  while #rows < bq.limit do
    local best
    for i, f in ipairs(fetched) do
      local c = f.items[pos[i] + 1]
      if c and (not bound or c.ts >= bound) and (not best or c.ts > fetched[best].items[pos[best] + 1].ts) then
        best = i
      end
    end
    if not best then break end
    pos[best] = pos[best] + 1
    rows[#rows + 1] = fetched[best].items[pos[best]].d
  end
  local last = { index = bq.index, cw = bq.collections_workflow, n = tostring(n) }
  local more = false
  for i, f in ipairs(fetched) do
    if f.done then
      last["d" .. i] = "1"
    elseif pos[i] == #f.items then -- took every item read: on from where DynamoDB stopped
      if f.lek then
        last["k" .. i], last["i" .. i] = f.lek.k, f.lek.i
        more = true
      else
        last["d" .. i] = "1"
      end
    else
      if pos[i] > 0 then
        local c = f.items[pos[i]]
        last["k" .. i], last["i" .. i] = c.k, c.d.itemids
      elseif after then
        last["k" .. i], last["i" .. i] = after["k" .. i], after["i" .. i]
      end
      more = true
    end
  end
  return rows, more and last or nil
end

function B:count(bq)
  local col, streams = streams_of(self, bq)
  local total = 0
  for _, s in ipairs(streams) do
    local req = stream_request(self, bq, col, s)
    req.Select = "COUNT"
    repeat
      local r, msg, code = self:_call("Query", req)
      if not r then return nil, msg, code end
      total = total + (r.Count or 0)
      req.ExclusiveStartKey = r.LastEvaluatedKey
    until not req.ExclusiveStartKey
  end
  return total
end

-- }======

-- {====== nodes ======

local function node_key(run_id, node)
  return { collections_workflow = S(M.NODE_PREFIX .. run_id), itemids = S(node) }
end

local function node_item(run_id, node, rec, now)
  local item = node_key(run_id, node)
  item.status = S(rec.status)
  item.attempts = { N = tostring(rec.attempts) }
  item.node_updated = S(now)
  if rec.error then item.error = S(rec.error) end
  if rec.output then item.output = S(rec.output) end
  if rec.started then item.started = S(rec.started) end
  return item
end

-- The run index: one item per run (collections_workflow = RUNS_KEY, itemids = run id) with
-- run_first, the first time a node of it was written; written once per run and backend object,
-- so that runs can be listed without scanning the table.
function B:_index_run(run_id, now)
  if self.runs_indexed[run_id] then return true end
  local r, msg, code = self:_call("UpdateItem", { TableName = self.nodes_table,
    Key = { collections_workflow = S(M.RUNS_KEY), itemids = S(run_id) },
    UpdateExpression = "SET #rf = if_not_exists(#rf, :now)",
    ExpressionAttributeValues = { [":now"] = S(now) } })
  if not r then return nil, msg, code end
  self.runs_indexed[run_id] = true
  return true
end

function B:put_node(run_id, node, rec, now)
  local ok, msg, code = self:_index_run(run_id, now)
  if not ok then return nil, msg, code end
  local r
  r, msg, code = self:_call("PutItem", { TableName = self.nodes_table,
    Item = node_item(run_id, node, rec, now) })
  if not r then return nil, msg, code end
  return true
end

local function node_rec(it)
  return { node = str(it.itemids), status = str(it.status), attempts = plain(it.attempts or
    { N = "0" }), error = str(it.error), output = str(it.output), updated = str(it.node_updated),
    started = str(it.started) }
end

function B:get_node(run_id, node)
  local r, msg, code = self:_call("GetItem", { TableName = self.nodes_table,
    Key = node_key(run_id, node), ConsistentRead = true })
  if not r then return nil, msg, code end
  if not r.Item then return false end
  return node_rec(r.Item)
end

-- The node after a failed condition: false, rec|false (a consistent read, as B:_old).
function B:_old_node(run_id, node)
  local r, msg, code = self:get_node(run_id, node)
  if r == nil then return nil, msg, code end
  return false, r
end

local function epoch(t)
  return { N = ("%.6f"):format(t) }
end

-- Leases: the record keeps the lease as JSON in `output` (what get_node shows, as on SQLite)
-- and as two plain attributes, lease_worker (S) and lease_until (N), which the conditions read.
-- put_node replaces the item, so only running records written here carry them.
function B:lease_node(run_id, node, lease, now)
  local iok, imsg, icode = self:_index_run(run_id, now)
  if not iok then return nil, imsg, icode end
  local values = { [":run"] = S("running"), [":done"] = S("completed"), [":zero"] = { N = "0" },
    [":one"] = { N = "1" }, [":out"] = S(lease.output), [":w"] = S(lease.worker),
    [":until"] = epoch(lease["until"]), [":now"] = epoch(lease.now), [":nu"] = S(now) }
  local cond = "(attribute_not_exists(#st) OR #st <> :done) "
    .. "AND (attribute_not_exists(#lu) OR #lu <= :now OR #lw = :w)"
  if lease.max_attempts then
    cond = cond .. " AND NOT (#st = :failed AND #at >= :max)"
    values[":failed"] = S("failed")
    values[":max"] = { N = tostring(lease.max_attempts) }
  end
  local r, msg, code = self:_call("UpdateItem", {
    TableName = self.nodes_table, Key = node_key(run_id, node),
    UpdateExpression = "SET #st = :run, #at = if_not_exists(#at, :zero) + :one, #op = :out, "
      .. "#lw = :w, #lu = :until, #nu = :nu, #sd = :nu REMOVE #er",
    ConditionExpression = cond, ExpressionAttributeValues = values, ReturnValues = "ALL_NEW",
  })
  if r then return true, node_rec(r.Attributes or {}) end
  if not is_condition_failure(msg) then return nil, msg, code end
  return self:_old_node(run_id, node)
end

function B:renew_lease(run_id, node, lease, now)
  local r, msg, code = self:_call("UpdateItem", {
    TableName = self.nodes_table, Key = node_key(run_id, node),
    UpdateExpression = "SET #lu = :until, #op = :out, #nu = :nu",
    ConditionExpression = "#st = :run AND #lw = :w",
    ExpressionAttributeValues = { [":run"] = S("running"), [":w"] = S(lease.worker),
      [":until"] = epoch(lease["until"]), [":out"] = S(lease.output), [":nu"] = S(now) },
  })
  if r then return true end
  if is_condition_failure(msg) then return false end
  return nil, msg, code
end

function B:put_node_if(run_id, node, rec, now, worker)
  local r, msg, code = self:_call("PutItem", { TableName = self.nodes_table,
    Item = node_item(run_id, node, rec, now),
    ConditionExpression = "#st = :run AND #lw = :w",
    ExpressionAttributeValues = { [":run"] = S("running"), [":w"] = S(worker) } })
  if r then return true end
  if not is_condition_failure(msg) then return nil, msg, code end
  return self:_old_node(run_id, node)
end

-- Every node item of a run (ascending node names), optionally with one status.
function B:_node_items(run_id, status, projection)
  local values = { [":cw"] = S(M.NODE_PREFIX .. run_id) }
  local req = { TableName = self.nodes_table, KeyConditionExpression = "#cw = :cw",
    ExpressionAttributeValues = values, ConsistentRead = true, ProjectionExpression = projection }
  if status then
    req.FilterExpression = "#st = :st"
    values[":st"] = S(status)
  end
  local out = {}
  repeat
    local r, msg, code = self:_call("Query", req)
    if not r then return nil, msg, code end
    for _, it in ipairs(r.Items or {}) do out[#out + 1] = it end
    req.ExclusiveStartKey = r.LastEvaluatedKey
  until not req.ExclusiveStartKey
  return out
end

function B:list_nodes(run_id, status)
  local items, msg, code = self:_node_items(run_id, status)
  if not items then return nil, msg, code end
  for i, it in ipairs(items) do items[i] = node_rec(it) end
  return items
end

function B:delete_nodes(run_id)
  local items, msg, code = self:_node_items(run_id, nil, "#cw, #it")
  if not items then return nil, msg, code end
  local done
  done, msg, code = self:_call("DeleteItem", { TableName = self.nodes_table,
    Key = { collections_workflow = S(M.RUNS_KEY), itemids = S(run_id) } })
  if not done then return nil, msg, code end
  self.runs_indexed[run_id] = nil
  local i = 1
  while i <= #items do
    local reqs = json.array()
    for j = i, math.min(i + 24, #items) do
      reqs[#reqs + 1] = { DeleteRequest = { Key = { collections_workflow = items[j].collections_workflow,
        itemids = items[j].itemids } } }
    end
    local pending = { [self.nodes_table] = reqs }
    for attempt = 1, 8 do
      local r
      r, msg, code = self:_call("BatchWriteItem", { RequestItems = pending })
      if not r then return nil, msg, code end
      pending = r.UnprocessedItems
      if not pending or next(pending) == nil then break end
      if attempt == 8 then
        return nil, ("state.delete_nodes %s: unprocessed deletes after 8 attempts"):format(run_id),
          "throttled"
      end
      sleep(0.05 * 2 ^ attempt)
    end
    i = i + 25
  end
  return #items
end

-- Payload counts by current state and the time it was entered (see the SQLite backend): per
-- state one paged Query of the state_updated index from the earliest mark or bucket to hi,
-- reading only state_updated (COMPLETED also reads cirrus v2's SUCCEEDED_ range).
function B:stats(q)
  local lo = q.hi
  for _, iso in pairs(q.marks) do
    if iso < lo then lo = iso end
  end
  if q.buckets[1] and q.buckets[1].lo < lo then lo = q.buckets[1].lo end
  local totals, per = {}, {}
  local ranges = {}
  for _, st in ipairs(q.states) do
    local t = {}
    for name in pairs(q.marks) do t[name] = 0 end
    totals[st] = t
    ranges[#ranges + 1] = { st, st }
    if st == "COMPLETED" and self.match_succeeded then ranges[#ranges + 1] = { st, "SUCCEEDED" } end
  end
  local bucket_of, keylen = {}, q.buckets[1] and #q.buckets[1].key
  for _, bk in ipairs(q.buckets) do bucket_of[bk.key] = bk.key end
  -- one paged Query per state range, several in flight
  local function pass(range)
    local st, pre = range[1], range[2]
    local t = totals[st]
    do
      local req = { TableName = self.table, IndexName = "state_updated",
        KeyConditionExpression = "#cw = :cw AND #su BETWEEN :lo AND :hi",
        ExpressionAttributeValues = { [":cw"] = S(q.collections_workflow),
          [":lo"] = S(pre .. "_" .. lo), [":hi"] = S(pre .. "_" .. q.hi .. "~") },
        ProjectionExpression = "#su" }
      repeat
        local r, msg, code = self:_call("Query", req)
        if not r then return { msg = msg, code = code } end
        for _, it in ipairs(r.Items or {}) do
          local ts = (str(it.state_updated) or ""):match("^[^_]*_(.*)$") or ""
          for name, iso in pairs(q.marks) do
            if ts >= iso then t[name] = t[name] + 1 end
          end
          -- buckets are whole hours / days: the stamp's prefix names its bucket
          local bk = keylen and bucket_of[ts:sub(1, keylen)]
          if bk then
            local k = bk .. "\0" .. st
            per[k] = (per[k] or 0) + 1
          end
        end
        req.ExclusiveStartKey = r.LastEvaluatedKey
      until not req.ExclusiveStartKey
    end
    return true
  end
  local ok_task, task = pcall(require, "gf.task")
  local results
  if ok_task and task.map then
    local errs
    results, errs = task.map(ranges, pass, { concurrency = 4 })
    if errs[1] then error(errs[1].error, 0) end
  else
    results = {}
    for i, range in ipairs(ranges) do results[i] = pass(range) end
  end
  for i in ipairs(ranges) do
    local r = results[i]
    if r ~= true then return nil, r and r.msg, r and r.code end
  end
  local series = {}
  for _, bk in ipairs(q.buckets) do
    for _, st in ipairs(q.states) do
      local n = per[bk.key .. "\0" .. st]
      if n then series[#series + 1] = { bucket = bk.key, state = st, n = n } end
    end
  end
  return { totals = totals, series = series }
end

-- Every item of one hash key (all pages), ascending (or descending) range keys.
function B:_all(tbl, cw, projection, forward, limit)
  local req = { TableName = tbl, KeyConditionExpression = "#cw = :cw",
    ExpressionAttributeValues = { [":cw"] = S(cw) }, ProjectionExpression = projection,
    ScanIndexForward = forward }
  local out = {}
  repeat
    local r, msg, code = self:_call("Query", req)
    if not r then return nil, msg, code end
    for _, it in ipairs(r.Items or {}) do out[#out + 1] = it end
    req.ExclusiveStartKey = r.LastEvaluatedKey
  until not req.ExclusiveStartKey or (limit and #out >= limit)
  return out
end

-- Every run of the run index, without counts (one Query, paged): {run_id, first}. The store
-- asks run_counts for the runs of the page it returns.
function B:list_runs()
  local idx, msg, code = self:_all(self.nodes_table, M.RUNS_KEY, "#it, #rf", true)
  if not idx then return nil, msg, code end
  local out = {}
  for i, it in ipairs(idx) do
    out[i] = { run_id = str(it.itemids), first = str(it.run_first) or "" }
  end
  return out
end

-- One run's node counts per status, its earliest start and latest update (one Query, paged).
function B:run_counts(run_id)
  local nodes, msg, code = self:_node_items(run_id, nil, "#st, #nu, #sd")
  if not nodes then return nil, msg, code end
  local run = { counts = {}, nodes = #nodes, first = nil, last = "" }
  for _, n in ipairs(nodes) do
    local st = str(n.status) or "?"
    run.counts[st] = (run.counts[st] or 0) + 1
    local first, upd = str(n.started) or str(n.node_updated), str(n.node_updated) or ""
    if first and (not run.first or first < run.first) then run.first = first end
    if upd > run.last then run.last = upd end
  end
  return run
end

local function meta_key(key)
  return { collections_workflow = S(M.META_KEY), itemids = S(key) }
end

local function meta_row(it)
  return { key = str(it.itemids), value = str(it.meta_value), updated = str(it.meta_updated) }
end

function B:put_meta(key, value, now)
  local item = meta_key(key)
  item.meta_value, item.meta_updated = S(value), S(now)
  local r, msg, code = self:_call("PutItem", { TableName = self.nodes_table, Item = item })
  if not r then return nil, msg, code end
  return true
end

function B:get_meta(key)
  local r, msg, code = self:_call("GetItem", { TableName = self.nodes_table, Key = meta_key(key),
    ConsistentRead = true })
  if not r then return nil, msg, code end
  if not r.Item then return false end
  return meta_row(r.Item)
end

function B:list_meta(prefix, limit)
  local values = { [":cw"] = S(M.META_KEY) }
  local cond = "#cw = :cw"
  if prefix ~= "" then
    cond = cond .. " AND begins_with(#it, :p)"
    values[":p"] = S(prefix)
  end
  local req = { TableName = self.nodes_table, KeyConditionExpression = cond,
    ExpressionAttributeValues = values, ScanIndexForward = false, Limit = limit,
    ConsistentRead = true }
  local r, msg, code = self:_call("Query", req)
  if not r then return nil, msg, code end
  local out = {}
  for i, it in ipairs(r.Items or {}) do out[i] = meta_row(it) end
  return out
end

function B:delete_meta(key)
  local r, msg, code = self:_call("DeleteItem", { TableName = self.nodes_table, Key = meta_key(key) })
  if not r then return nil, msg, code end
  return true
end

-- }======

function B:close()
  self.client = nil
end

-- {====== tables ======

local function read_schema(schema)
  if schema == nil then return M.schema() end
  if type(schema) == "table" then return schema end
  local f, err = io.open(schema, "rb")
  if not f then return nil, ("state.create_table: %s"):format(err), "io" end
  local text = f:read("a")
  f:close()
  local t, msg = json.decode(text)
  if type(t) ~= "table" then
    return nil, ("state.create_table %s: %s"):format(schema, msg or "not a JSON object"), "parse"
  end
  return t
end

local function active(desc)
  local t = desc and desc.Table
  if not t or t.TableStatus ~= "ACTIVE" then return false end
  for _, g in ipairs(t.GlobalSecondaryIndexes or {}) do
    if g.IndexStatus ~= "ACTIVE" then return false end
  end
  return true
end

local function wait_active(client, name, timeout)
  local deadline = os.time() + timeout
  local delay = 0.05
  while true do
    local d, msg, code = client:call("DescribeTable", { TableName = name })
    if not d then return nil, msg, code end
    if active(d) then return true end
    if os.time() > deadline then
      return nil, ("dynamodb.DescribeTable %s: not ACTIVE after %d s"):format(name, timeout),
        "timeout"
    end
    sleep(delay)
    delay = math.min(delay * 2, 1)
  end
end

function M.create_table(client, name, opts)
  if type(client) ~= "table" or type(client.call) ~= "function" then
    error("bad argument #1 to 'create_table' (gf.awsjson client expected)", 2)
  end
  if type(name) ~= "string" or name == "" then
    error("bad argument #2 to 'create_table' (table name expected)", 2)
  end
  opts = opts or {}
  local schema, msg, code = read_schema(opts.schema)
  if not schema then return nil, msg, code end
  local req = {}
  for k, v in pairs(schema) do req[k] = v end
  req.TableName = name
  local r
  r, msg, code = client:call("CreateTable", req)
  if not r then return nil, msg, code end
  return wait_active(client, name, opts.timeout or 60)
end

function M.delete_table(client, name)
  if type(client) ~= "table" or type(client.call) ~= "function" then
    error("bad argument #1 to 'delete_table' (gf.awsjson client expected)", 2)
  end
  local r, msg, code = client:call("DeleteTable", { TableName = name })
  if not r then return nil, msg, code end
  return true
end

-- The table exists (or is created, with opts.create) and is ACTIVE.
local function ensure(client, name, create)
  local d, msg, code = client:call("DescribeTable", { TableName = name })
  if d then
    if active(d) then return true end
    return wait_active(client, name, 60)
  end
  if code ~= "not_found" or not create then return nil, msg, code end
  local ok
  ok, msg, code = M.create_table(client, name)
  if ok then return true end
  if code == "conflict" then return wait_active(client, name, 60) end -- created meanwhile
  return nil, msg, code
end

-- }======

function M.open(opts)
  if type(opts.table) ~= "string" or opts.table == "" then
    error("state.open: table is required for the dynamodb backend", 3)
  end
  local client = opts.client
  if client == nil then
    client = require("gf.awsjson").client({ service = "dynamodb", endpoint = opts.endpoint,
      region = opts.region, credentials = opts.credentials, profile = opts.profile })
  elseif type(client.call) ~= "function" then
    error("state.open: client must be a gf.awsjson client", 3)
  end
  local ok, msg, code = ensure(client, opts.table, opts.create)
  if not ok then return nil, msg, code end
  local nodes = opts.nodes_table or opts.table
  if nodes ~= opts.table then
    ok, msg, code = ensure(client, nodes, opts.create)
    if not ok then return nil, msg, code end
  end
  return setmetatable({ client = client, table = opts.table, nodes_table = nodes,
    match_succeeded = opts.match_succeeded ~= false, runs_indexed = {} }, B)
end

return M
