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

function M.run(wf, opts)
  opts = opts or {}
  wf:validate()
  local store = opts.store or store_mod.memory()
  local run_id = opts.run_id or default_run_id(wf, opts.params)
  local function previous(node_id)
    local rec, msg, code = store:get_node(run_id, node_id)
    if rec then return rec end
    if code ~= "not_found" then error(("flow state: get_node %s: %s"):format(node_id, tostring(msg)), 0) end
    return nil
  end
  local sem = task.semaphore(opts.concurrency or 8)
  local sleep = opts.sleep or task.sleep
  local log = opts.log or logger()
  local progress = new_progress(opts)
  local outputs, nodes = {}, {}
  local counts = { completed = 0, failed = 0, skipped = 0, interrupted = 0, reused = 0 }
  local total = 0

  local function record(node_id, rec)
    store_mod.save(store, run_id, node_id, rec)
  end

  local function add_total(n)
    total = total + n
    if progress then progress:set_total(total) end
  end

  -- Only nodes that did not complete stay in memory; completed ones are read back from the
  -- store when asked for (summary.nodes), so memory stays flat however many nodes complete.
  local function finish(node_id, status, rec)
    counts[status] = counts[status] + 1
    if status ~= "completed" then nodes[node_id] = rec end
    if progress then progress:tick(1, { failed = status == "failed" }) end
  end

  local function ctx_for(node_id, attempt)
    return { workflow = wf.name, run_id = run_id, params = opts.params or {}, output = outputs,
      node = node_id, attempt = attempt, log = log }
  end

  -- One node: reuse, or run with retries. Returns "completed", output | "failed", err | ...
  local function run_node(t, node_id, item, always_run)
    local prev = not always_run and previous(node_id)
    if prev and prev.status == "completed" then
      counts.reused = counts.reused + 1
      finish(node_id, "completed", prev)
      return "completed", prev.output
    end
    if prev and prev.status == "failed" and not opts.rerun_failed then
      finish(node_id, "failed", prev)
      return "failed", prev.error
    end
    if task.interrupted() then
      return "interrupted", "interrupted"
    end
    sem:acquire()
    local attempts = t.retries + 1
    local status, value, last
    for attempt = 1, attempts do
      record(node_id, { status = "running", attempts = attempt })
      local r
      if t.timeout then
        r = table.pack(task.timeout(t.timeout, t.run, ctx_for(node_id, attempt), item))
        if r[1] == nil then r = { false, r[2], n = 2 } end
      else
        r = table.pack(pcall(t.run, ctx_for(node_id, attempt), item))
      end
      if r[1] then
        status, value = "completed", r[2]
        last = { status = "completed", attempts = attempt, output = value }
        record(node_id, last)
        break
      end
      local e = err_text(r[2])
      if task.interrupted() then
        status, value = "interrupted", e
        last = { status = "interrupted", attempts = attempt, error = e }
        record(node_id, last)
        break
      end
      status, value = "failed", e
      if attempt < attempts then
        log.warn("node failed, retrying", { workflow = wf.name, node = node_id, attempt = attempt,
          error = e })
        local ok = pcall(sleep, t.backoff * 2 ^ (attempt - 1))
        if not ok then
          status = "interrupted"
          last = { status = "interrupted", attempts = attempt, error = e }
          record(node_id, last)
          break
        end
      else
        last = { status = "failed", attempts = attempt, error = e }
        record(node_id, last)
        log.error("node failed", { workflow = wf.name, node = node_id, attempts = attempt, error = e })
      end
    end
    sem:release()
    finish(node_id, status, last)
    return status, value
  end

  -- One workflow task: wait for its dependencies, expand, run its nodes.
  local handles = {}
  local task_status = {}
  local function run_task(t)
    for _, dep in ipairs(t.after) do
      task.wait(handles[dep])
    end
    for _, dep in ipairs(t.after) do
      if task_status[dep] ~= "completed" then
        task_status[t.name] = "skipped"
        local n = 1
        if t.foreach then n = 0 end
        add_total(n)
        if not t.foreach then
          counts.skipped = counts.skipped + 1
          nodes[t.name] = { status = "skipped", error = "upstream task '" .. dep .. "' did not complete" }
          if progress then progress:tick(1) end
        end
        return
      end
    end
    if not t.foreach then
      add_total(1)
      local status, value = run_node(t, t.name, nil)
      task_status[t.name] = status
      if status == "completed" then outputs[t.name] = value end
      return
    end
    local ok, items = pcall(t.foreach, ctx_for(t.name, 1))
    if not ok or type(items) ~= "table" then
      local e = ok and ("foreach returned " .. type(items) .. ", not a list") or err_text(items)
      task_status[t.name] = "failed"
      add_total(1)
      local rec = { status = "failed", attempts = 1, error = e }
      record(t.name, rec)
      finish(t.name, "failed", rec)
      return
    end
    add_total(#items)
    -- keys only (no per-node tables): memory stays flat in the number of items
    local keys, seen = {}, {}
    for i, item in ipairs(items) do
      local key = t.key and t.key(item, i) or i
      local sk = tostring(key)
      if seen[sk] then error(("task '%s': duplicate node key '%s'"):format(t.name, sk), 0) end
      seen[sk] = true
      keys[i] = key
    end
    seen = nil
    local out = {}
    local all_ok = true
    local results = task.map(items, function(item, i)
      local status, value = run_node(t, ("%s[%s]"):format(t.name, tostring(keys[i])), item)
      if status == "completed" then out[keys[i]] = value else all_ok = false end
      return status
    end, { concurrency = math.max(1, (opts.concurrency or 8) * 2) })
    for i = 1, #items do
      if results[i] == "interrupted" then task_status[t.name] = "interrupted" end
    end
    task_status[t.name] = task_status[t.name] or (all_ok and "completed" or "failed")
    if task_status[t.name] == "completed" then outputs[t.name] = out end
  end

  for _, name in ipairs(wf:sorted()) do
    local t = wf.tasks[name]
    handles[name] = task.spawn(run_task, t)
  end
  local bugs = {}
  for _, name in ipairs(wf:sorted()) do
    local ok, err = task.wait(handles[name])
    if not ok then bugs[#bugs + 1] = ("%s: %s"):format(name, err_text(err)) end
  end

  if wf.final_task and not task.interrupted() then
    local ft = wf.final_task
    local outcomes = {}
    for _, rec in ipairs(store:list_nodes(run_id) or {}) do
      if rec.node ~= ft.name then
        outcomes[rec.node] = { status = rec.status, error = rec.error, attempts = rec.attempts }
      end
    end
    for id, rec in pairs(nodes) do
      outcomes[id] = { status = rec.status, error = rec.error, attempts = rec.attempts }
    end
    add_total(1)
    run_node(ft, ft.name, outcomes, true) -- the final node always runs
  end
  if progress then progress:finish() end

  setmetatable(nodes, { __index = function(_, id)
    if type(id) ~= "string" then return nil end
    local rec = store:get_node(run_id, id)
    return rec and rec.status == "completed" and rec or nil
  end })
  local summary = { run_id = run_id, nodes = nodes, bugs = bugs }
  for k, v in pairs(counts) do summary[k] = v end
  summary.ok = counts.failed == 0 and counts.interrupted == 0 and #bugs == 0
    and not task.interrupted()
  return summary
end

-- {====== one node at a time (gfhost task, DAGMan nodes, SQS workers) ======

--- Rebuild ctx.output from a run's recorded states.
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
    store_mod.save(store, run_id, node_id, { status = "running", attempts = attempt })
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
    rec = { status = "completed", attempts = attempt, output = r[2] }
  elseif task.interrupted() then
    rec = { status = "interrupted", attempts = attempt, error = err_text(r[2]) }
  else
    rec = { status = "failed", attempts = attempt, error = err_text(r[2]) }
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
