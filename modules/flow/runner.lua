--- gf.flow.runner: the local executor (the embedded default).
--
-- run(wf, opts) -> summary
--   opts.params        the run's parameters (ctx.params)
--   opts.run_id        default: "<workflow>" plus a digest of the params
--   opts.store         a gf.state store for node states (default: gf.flow.store.memory())
--   opts.concurrency   nodes running at once (default 8)
--   opts.rerun_failed  give failed nodes fresh attempts (default: keep them failed)
--   opts.progress      a gf.progress-like object or false (default: a new gf.progress)
--   opts.sleep         function(seconds) for retry backoff (default gf.task.sleep)
--   opts.log           logger with info/warn/error (default gf.log)
-- A second run with the same run id resumes: completed nodes are skipped (their recorded
-- outputs feed downstream tasks), nodes never run or interrupted run now, and failed nodes stay
-- failed unless rerun_failed. Nodes downstream of a failed node are "skipped" (not recorded as
-- failed). An interrupt (SIGINT/SIGTERM) records running nodes as "interrupted", never as failed
-- or completed. summary = {run_id=, completed=, failed=, skipped=, interrupted=, reused=,
-- nodes = {id -> {status=, error=, attempts=, output=}}, ok = (nothing failed or interrupted)}.
-- Memory stays flat in the number of nodes: only nodes that did not complete are kept in
-- summary.nodes (pairs() lists those); a completed node is read from the store on access.
-- Node states are read from the store one node at a time, never a whole run at once (except
-- for the final node, whose outcomes list every node).
local task = require("gf.task")
local store_mod = require("gf.flow.store")
local clock = require("gf.time").now

local M = {}

local function default_run_id(wf, params)
  local keys = {}
  for k in pairs(params or {}) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. tostring(params[k]) end
  if #parts == 0 then return wf.name end
  -- FNV-1a over the sorted parameters: short, stable, no crypto needed.
  local h = 2166136261
  for c in table.concat(parts, "&"):gmatch(".") do
    h = ((h ~ c:byte()) * 16777619) & 0xffffffff
  end
  return ("%s-%08x"):format(wf.name, h)
end
M.default_run_id = default_run_id

local function logger()
  return require("gf.log")
end

local function new_progress(opts)
  if opts.progress == false then return nil end
  if opts.progress then return opts.progress end
  return require("gf.progress").new({ label = "nodes" })
end

-- shared with gf.flow.coordinator: the logger (gf.log) and the progress display
M.logger, M.new_progress = logger, new_progress

local function err_text(e)
  if type(e) == "table" and e.message then return tostring(e.message) end
  return tostring(e)
end

-- {====== a local run: one Run object, its steps as methods ======

local Run = {}
Run.__index = Run

local function new_run(wf, opts)
  local self = setmetatable({
    wf = wf, opts = opts, store = opts.store or store_mod.memory(),
    run_id = opts.run_id or default_run_id(wf, opts.params),
    sem = task.semaphore(opts.concurrency or 8), sleep = opts.sleep or task.sleep,
    log = opts.log or logger(), progress = new_progress(opts),
    outputs = {}, nodes = {}, total = 0, handles = {}, task_status = {},
    counts = { completed = 0, failed = 0, skipped = 0, interrupted = 0, reused = 0 },
  }, Run)
  store_mod.note_run(self.store, self.run_id, wf.name)
  return self
end

function Run:previous(node_id)
  local rec, msg, code = self.store:get_node(self.run_id, node_id)
  if rec then return rec end
  if code ~= "not_found" then error(("flow state: get_node %s: %s"):format(node_id, tostring(msg)), 0) end
  return nil
end

function Run:record(node_id, rec)
  store_mod.save(self.store, self.run_id, node_id, rec)
end

function Run:add_total(n)
  self.total = self.total + n
  if self.progress then self.progress:set_total(self.total) end
end

-- Only nodes that did not complete stay in memory; completed ones are read back from the
-- store when asked for (summary.nodes), so memory stays flat however many nodes complete.
function Run:finish(node_id, status, rec)
  self.counts[status] = self.counts[status] + 1
  if status ~= "completed" then self.nodes[node_id] = rec end
  if self.progress then self.progress:tick(1, { failed = status == "failed" }) end
end

function Run:ctx_for(node_id, attempt)
  return { workflow = self.wf.name, run_id = self.run_id, params = self.opts.params or {},
    output = self.outputs, node = node_id, attempt = attempt, log = self.log }
end

-- A recorded outcome to reuse instead of running: "completed", output | "failed", error | nil.
function Run:reuse(node_id)
  local prev = self:previous(node_id)
  if prev and prev.status == "completed" then
    self.counts.reused = self.counts.reused + 1
    self:finish(node_id, "completed", prev)
    return "completed", prev.output
  end
  if prev and prev.status == "failed" and not self.opts.rerun_failed then
    self:finish(node_id, "failed", prev)
    return "failed", prev.error
  end
  return nil
end

-- One attempt of t on node_id: true, output | false, error text.
function Run:attempt(t, node_id, item, attempt)
  local r
  if t.timeout then
    r = table.pack(task.timeout(t.timeout, t.run, self:ctx_for(node_id, attempt), item))
    if r[1] == nil then r = { false, r[2], n = 2 } end
  else
    r = table.pack(pcall(t.run, self:ctx_for(node_id, attempt), item))
  end
  if r[1] then return true, r[2] end
  return false, err_text(r[2])
end

-- Run t on node_id with its retries and backoff; every attempt is recorded.
-- Returns status, output-or-error and the last record.
function Run:attempts(t, node_id, item)
  local n = t.retries + 1
  for attempt = 1, n do
    local started = clock() -- every record of this attempt carries it (durations)
    self:record(node_id, { status = "running", attempts = attempt, started = started })
    local ok, value = self:attempt(t, node_id, item, attempt)
    local status = ok and "completed" or (task.interrupted() and "interrupted") or "failed"
    local last = { status = status, attempts = attempt, started = started }
    if ok then last.output = value else last.error = value end
    if status == "failed" and attempt < n then
      self.log.warn("node failed, retrying", { workflow = self.wf.name, node = node_id,
        attempt = attempt, error = value })
      if not pcall(self.sleep, t.backoff * 2 ^ (attempt - 1)) then
        last.status = "interrupted"
        self:record(node_id, last)
        return "interrupted", value, last
      end
    else
      self:record(node_id, last)
      if status == "failed" then
        self.log.error("node failed", { workflow = self.wf.name, node = node_id, attempts = attempt,
          error = value })
      end
      return status, value, last
    end
  end
end

-- One node: reuse, or run with retries. Returns "completed", output | "failed", err | ...
function Run:run_node(t, node_id, item, always_run)
  if not always_run then
    local status, value = self:reuse(node_id)
    if status then return status, value end
  end
  if task.interrupted() then return "interrupted", "interrupted" end
  self.sem:acquire()
  local status, value, last = self:attempts(t, node_id, item)
  self.sem:release()
  self:finish(node_id, status, last)
  return status, value
end

-- true when an upstream task did not complete (t is then skipped and counted)
function Run:upstream_failed(t)
  for _, dep in ipairs(t.after) do
    if self.task_status[dep] ~= "completed" then
      self.task_status[t.name] = "skipped"
      self:add_total(t.foreach and 0 or 1)
      if not t.foreach then
        self.counts.skipped = self.counts.skipped + 1
        self.nodes[t.name] = { status = "skipped", error = "upstream task '" .. dep .. "' did not complete" }
        if self.progress then self.progress:tick(1) end
      end
      return true
    end
  end
  return false
end

-- The items of a foreach task and their node keys, or nil after recording the failure.
function Run:expand(t)
  local ok, items = pcall(t.foreach, self:ctx_for(t.name, 1))
  if not ok or type(items) ~= "table" then
    local e = ok and ("foreach returned " .. type(items) .. ", not a list") or err_text(items)
    self.task_status[t.name] = "failed"
    self:add_total(1)
    local rec = { status = "failed", attempts = 1, error = e }
    self:record(t.name, rec)
    self:finish(t.name, "failed", rec)
    return nil
  end
  -- keys only (no per-node tables): memory stays flat in the number of items
  local keys, seen = {}, {}
  for i, item in ipairs(items) do
    local key = t.key and t.key(item, i) or i
    local sk = tostring(key)
    if seen[sk] then error(("task '%s': duplicate node key '%s'"):format(t.name, sk), 0) end
    seen[sk] = true
    keys[i] = key
  end
  return items, keys
end

function Run:run_foreach(t)
  local items, keys = self:expand(t)
  if not items then return end
  self:add_total(#items)
  local out, all_ok = {}, true
  local results = task.map(items, function(item, i)
    local status, value = self:run_node(t, ("%s[%s]"):format(t.name, tostring(keys[i])), item)
    if status == "completed" then out[keys[i]] = value else all_ok = false end
    return status
  end, { concurrency = math.max(1, (self.opts.concurrency or 8) * 2) })
  for i = 1, #items do
    if results[i] == "interrupted" then self.task_status[t.name] = "interrupted" end
  end
  self.task_status[t.name] = self.task_status[t.name] or (all_ok and "completed" or "failed")
  if self.task_status[t.name] == "completed" then self.outputs[t.name] = out end
end

-- One workflow task: wait for its dependencies, expand, run its nodes.
function Run:run_task(t)
  for _, dep in ipairs(t.after) do task.wait(self.handles[dep]) end
  if self:upstream_failed(t) then return end
  if t.foreach then return self:run_foreach(t) end
  self:add_total(1)
  local status, value = self:run_node(t, t.name, nil)
  self.task_status[t.name] = status
  if status == "completed" then self.outputs[t.name] = value end
end

-- The final node always runs, with every other node's outcome.
function Run:run_final()
  local ft = self.wf.final_task
  local outcomes = {}
  for _, rec in ipairs(self.store:list_nodes(self.run_id) or {}) do
    if rec.node ~= ft.name then
      outcomes[rec.node] = { status = rec.status, error = rec.error, attempts = rec.attempts }
    end
  end
  for id, rec in pairs(self.nodes) do
    outcomes[id] = { status = rec.status, error = rec.error, attempts = rec.attempts }
  end
  self:add_total(1)
  self:run_node(ft, ft.name, outcomes, true)
end

function Run:summary(bugs)
  local store, run_id = self.store, self.run_id
  setmetatable(self.nodes, { __index = function(_, id)
    if type(id) ~= "string" then return nil end
    local rec = store:get_node(run_id, id)
    return rec and rec.status == "completed" and rec or nil
  end })
  local summary = { run_id = run_id, nodes = self.nodes, bugs = bugs }
  for k, v in pairs(self.counts) do summary[k] = v end
  summary.ok = self.counts.failed == 0 and self.counts.interrupted == 0 and #bugs == 0
    and not task.interrupted()
  return summary
end

function M.run(wf, opts)
  opts = opts or {}
  wf:validate()
  local run = new_run(wf, opts)
  for _, name in ipairs(wf:sorted()) do
    run.handles[name] = task.spawn(run.run_task, run, wf.tasks[name])
  end
  local bugs = {}
  for _, name in ipairs(wf:sorted()) do
    local ok, err = task.wait(run.handles[name])
    if not ok then bugs[#bugs + 1] = ("%s: %s"):format(name, err_text(err)) end
  end
  if wf.final_task and not task.interrupted() then run:run_final() end
  if run.progress then run.progress:finish() end
  return run:summary(bugs)
end

-- }======

local function outputs_from(wf, states)
  local outputs = {}
  for _, name in ipairs(wf:sorted()) do
    local t = wf.tasks[name]
    if t.foreach then
      local prefix = name .. "["
      local out, any = {}, false
      for id, rec in pairs(states) do
        if id:sub(1, #prefix) == prefix and rec.status == "completed" then
          out[id:sub(#prefix + 1, -2)] = rec.output
          any = true
        end
      end
      if any then outputs[name] = out end
    elseif states[name] and states[name].status == "completed" then
      outputs[name] = states[name].output
    end
  end
  return outputs
end
M.outputs_from = outputs_from

--- The nodes of a run as far as they can be known now: {id=, task=, item=, key=} in
--- dependency order. A foreach task whose dependencies have not all completed is left out
--- (returned in `pending`).
function M.plan(wf, params, states)
  local outputs = outputs_from(wf, states or {})
  local nodes, pending = {}, {}
  for _, name in ipairs(wf:sorted()) do
    local t = wf.tasks[name]
    if not t.foreach then
      nodes[#nodes + 1] = { id = name, task = name }
    else
      local ready = true
      for _, dep in ipairs(t.after) do
        if outputs[dep] == nil then ready = false end
      end
      if ready then
        local items = t.foreach({ workflow = wf.name, params = params or {}, output = outputs,
          node = name, attempt = 1 })
        for i, item in ipairs(items) do
          local key = t.key and t.key(item, i) or i
          nodes[#nodes + 1] = { id = ("%s[%s]"):format(name, tostring(key)), task = name,
            item = item, key = key }
        end
      else
        pending[#pending + 1] = name
      end
    end
  end
  if wf.final_task then
    nodes[#nodes + 1] = { id = wf.final_task.name, task = wf.final_task.name, final = true }
  end
  return nodes, pending
end

-- Resolve a node id to its task and item key.
local function task_of(wf, node_id)
  local name, key = node_id:match("^(.-)%[(.*)%]$")
  name = name or node_id
  local t = wf.tasks[name] or (wf.final_task and wf.final_task.name == name and wf.final_task)
  return t, name, key
end
M.task_of = task_of

--- Claim a node for one worker with gf.state's conditional write store:lease_node (one
--- transaction on SQLite, one conditional UpdateItem on DynamoDB: of racing workers exactly one
--- wins). lease = {worker=, seconds=, now=, max_attempts=, until=}: the lease runs until
--- `until` (epoch seconds; default now + seconds). Returns:
---   "completed", rec            already completed: nothing to run
---   "busy", seconds_left        another worker's lease on it is live
---   "exhausted", rec            failed with no attempts left (max_attempts)
---   "claimed", attempt          recorded as running, output = {worker=, lease_until=}
function M.claim(store, run_id, node_id, lease)
  for _ = 1, 5 do
    local now = lease.now()
    local ok, rec, code = store:lease_node(run_id, node_id, { worker = lease.worker, now = now,
      ["until"] = lease["until"] or now + lease.seconds, max_attempts = lease.max_attempts })
    if ok == nil then return nil, rec, code end
    if ok then return "claimed", rec.attempts end
    -- refused: rec is the record read just after; it may have changed meanwhile
    local why = require("gf.state").lease_refusal(rec, lease.worker, now, lease.max_attempts)
    if why == "completed" then return "completed", rec end
    if why == "exhausted" then return "exhausted", rec end
    if why == "leased" then return "busy", rec.output.lease_until - now end
  end
  return "busy", 1
end

--- Extend a claimed node's lease; false when the node is no longer running under this worker.
function M.renew(store, run_id, node_id, lease)
  return store:renew_lease(run_id, node_id, { worker = lease.worker,
    ["until"] = lease.now() + lease.seconds })
end

-- The argument a node's run function gets: the final node's outcomes, an item, or nil.
local function node_arg(wf, t, name, key, node_id, states, outputs, opts)
  if t.final then
    local arg = {}
    for id, rec in pairs(states) do
      if id ~= node_id then arg[id] = { status = rec.status, error = rec.error, attempts = rec.attempts } end
    end
    return arg
  end
  for _, dep in ipairs(t.after) do
    if outputs[dep] == nil then
      return nil, ("node %s: upstream task '%s' has not completed"):format(node_id, dep), "conflict"
    end
  end
  if not t.foreach then return false end
  if not key then
    return nil, ("node %s: task '%s' runs per item: name the item as %s[key]"):format(node_id,
      name, name), "invalid_input"
  end
  if opts.has_item then return opts.item end
  local items = t.foreach({ workflow = wf.name, params = opts.params or {}, output = outputs,
    node = name, attempt = 1 })
  for i, item in ipairs(items) do
    if tostring(t.key and t.key(item, i) or i) == key then return item end
  end
  return nil, ("node %s: no item with key '%s'"):format(node_id, key), "not_found"
end

-- The node states run_one needs: every node for the final node or a task after a foreach
-- task; otherwise only this node and the plain tasks it depends on (one read each).
local function states_for(wf, t, store, run_id, node_id)
  if t.final then return store_mod.states(store, run_id) end
  local want = { node_id }
  for _, dep in ipairs(t.after) do
    if wf.tasks[dep].foreach then return store_mod.states(store, run_id) end
    want[#want + 1] = dep
  end
  local states = {}
  for _, id in ipairs(want) do
    local rec, msg, code = store:get_node(run_id, id)
    if rec then
      states[id] = rec
    elseif code ~= "not_found" then
      error(("flow state: get_node %s: %s"):format(id, tostring(msg)), 0)
    end
  end
  return states
end

--- Run one node once (no retries: the caller's engine retries) and record its state.
--- Returns status ("completed" | "failed" | "interrupted"), value (output or error), the
--- record, and true when a completed node was reused instead of run; nil, msg, code when the
--- node cannot run (unknown, upstream not completed). opts: store, run_id, params, log,
--- item (with has_item = true: the item, instead of expanding the task's foreach again),
--- lease = {worker=, seconds=, now=, max_attempts=} (claim first, see M.claim: may return
--- "busy", seconds_left or "exhausted", rec; the outcome is then recorded only while this
--- worker still holds the lease, else "lost", seconds_left, rec — another worker took the
--- node over — or "completed", output, rec, true when it completed meanwhile), states
--- (preloaded node states).
function M.run_one(wf, node_id, opts)
  opts = opts or {}
  local store = opts.store
  local run_id = opts.run_id or default_run_id(wf, opts.params)
  local params = opts.params or {}
  local t, name, key = task_of(wf, node_id)
  if not t then return nil, ("workflow %s has no task '%s'"):format(wf.name, name), "invalid_input" end
  local states = opts.states or states_for(wf, t, store, run_id, node_id)
  local done = states[node_id]
  if done and done.status == "completed" and not t.final and not opts.lease then
    return "completed", done.output, done, true
  end
  local outputs = outputs_from(wf, states)
  local arg, msg, code = node_arg(wf, t, name, key, node_id, states, outputs, opts)
  if arg == nil then return nil, msg, code end
  if arg == false then arg = nil end
  local attempt
  local started = clock()
  if opts.lease then
    local got, a, c = M.claim(store, run_id, node_id, opts.lease)
    if got ~= "claimed" then
      if got == nil then return nil, a, c end
      if got == "completed" then return "completed", a.output, a, true end
      return got, a
    end
    attempt = a
  else
    attempt = (done and done.attempts or 0) + 1
    store_mod.save(store, run_id, node_id, { status = "running", attempts = attempt,
      started = started })
  end
  local ctx = { workflow = wf.name, run_id = run_id, params = params, output = outputs,
    node = node_id, attempt = attempt, log = opts.log or logger() }
  local r
  if t.timeout then
    r = table.pack(task.timeout(t.timeout, t.run, ctx, arg))
    if r[1] == nil then r = { false, r[2], n = 2 } end
  else
    r = table.pack(pcall(t.run, ctx, arg))
  end
  local rec
  if r[1] then
    rec = { status = "completed", attempts = attempt, output = r[2], started = started }
  elseif task.interrupted() then
    rec = { status = "interrupted", attempts = attempt, error = err_text(r[2]), started = started }
  else
    rec = { status = "failed", attempts = attempt, error = err_text(r[2]), started = started }
  end
  if opts.lease then
    -- only while this worker still holds the node: a worker whose lease ran out and was taken
    -- over must not overwrite the new holder's record (a late failure over a completion)
    local ok, cur = store:put_node_if(run_id, node_id, rec, { worker = opts.lease.worker })
    if ok == nil then
      error(("flow state: put_node_if %s/%s: %s"):format(run_id, node_id, tostring(cur)), 0)
    end
    if not ok then
      if cur and cur.status == "completed" then return "completed", cur.output, cur, true end
      local left = cur and cur.status == "running" and type(cur.output) == "table"
        and type(cur.output.lease_until) == "number" and cur.output.lease_until - opts.lease.now()
      return "lost", math.max(0, left or 0), cur
    end
  else
    store_mod.save(store, run_id, node_id, rec)
  end
  if rec.status == "completed" then return "completed", rec.output, rec end
  return rec.status, rec.error, rec
end

-- }======

return M
