--- gf.flow.coordinator: `gfhost run <workflow> --executor sqs --queue URL` — the run process
--- enqueues nodes for `gfhost worker`s instead of running them, in dependency order.
--
-- run(wf, opts) -> summary (the same shape as gf.flow.runner.run's)
--   opts.client, opts.queue   gf.sqs client and queue URL the workers read
--   opts.store                gf.state store the workers share (node states)
--   opts.workflow_ref         what messages name the workflow by (default wf.path or wf.name)
--   opts.params, opts.run_id, opts.rerun_failed, opts.log, opts.progress (as the runner)
--   opts.poll                 seconds between state polls (default 0.5)
--   opts.sleep                function(seconds) (default gf.task.sleep)
--
-- A task is started once every task it depends on has ended: a plain task becomes one
-- message, a foreach task is expanded here (its foreach sees the recorded outputs of the tasks
-- before it) into one message per item, sent in batches of 10. Before a node is sent its state
-- is set to "queued" (so a rerun never mistakes it for done). Nodes already completed in state
-- are reused; a node failed with no attempts left stays failed unless rerun_failed (then its
-- attempts start again at 0); a node whose "running" lease is still live is left to its worker.
-- The coordinator then polls gf.state: a node has ended when it is completed, or failed with
-- attempts >= retries + 1 (the workers retry it by letting its message come back after the
-- backoff). Tasks downstream of a failed task are skipped (recorded as "skipped"). The final
-- node is sent last, after everything else ended, and always runs. SIGINT/SIGTERM stops the
-- coordinator (exit 130); what was sent stays queued and the workers keep going — running the
-- same command again resumes.
local task = require("gf.task")
local message = require("gf.flow.message")
local runner = require("gf.flow.runner")
local store_mod = require("gf.flow.store")

local M = {}

local function lease_live(rec)
  if not rec or rec.status ~= "running" or type(rec.output) ~= "table" then return false end
  local lu = rec.output.lease_until
  local now = require("gf.time").now()
  return type(lu) == "number" and lu > now
end

local C = {}
C.__index = C

function C:max_attempts(node_id)
  local t = runner.task_of(self.wf, node_id)
  return (t and t.retries or 0) + 1
end

-- Has a node ended? -> "completed" | "failed" | nil
function C:ended(node_id)
  local rec = self.states[node_id]
  if not rec then return nil end
  if rec.status == "completed" then return "completed" end
  if rec.status == "failed" and (rec.attempts or 0) >= self:max_attempts(node_id) then
    return "failed"
  end
  return nil
end

function C:finish(node_id, status, rec)
  self.counts[status] = self.counts[status] + 1
  self.nodes[node_id] = { status = status, error = rec and rec.error, attempts = rec and rec.attempts,
    output = rec and rec.output }
  if self.progress then self.progress:tick(1, { failed = status == "failed" }) end
end

function C:add_total(n)
  self.total = self.total + n
  if self.progress then self.progress:set_total(self.total) end
end

-- Send the pending messages (batches of 10); raises when some could not be sent.
function C:flush()
  local batch = self.outbox
  if #batch == 0 then return end
  self.outbox = {}
  local r, err = self.client:send_batch(self.queue, batch)
  if not r then error(("enqueue %d nodes: %s"):format(#batch, tostring(err)), 0) end
  if #r.failed > 0 then
    local f = r.failed[1]
    error(("enqueue: %d of %d nodes not sent (%s: %s)"):format(#r.failed, #batch, tostring(f.code),
      tostring(f.message)), 0)
  end
  self.sent = self.sent + #batch
end

-- Reuse, keep failed, or queue one node. Returns true when it is now outstanding.
function C:submit(node_id, item, has_item)
  local prev = self.states[node_id]
  local ended = self:ended(node_id)
  if ended == "completed" and not self.always[node_id] then
    self.counts.reused = self.counts.reused + 1
    self:finish(node_id, "completed", prev)
    return false
  end
  if ended == "failed" and not self.opts.rerun_failed and not self.always[node_id] then
    self:finish(node_id, "failed", prev)
    return false
  end
  self.outstanding[node_id] = true
  if lease_live(prev) then return true end -- a worker is on it
  local attempts = prev and prev.attempts or 0
  if ended == "failed" or self.always[node_id] then attempts = 0 end
  store_mod.save(self.store, self.run_id, node_id, { status = "queued", attempts = attempts })
  self.states[node_id] = { status = "queued", attempts = attempts }
  self.outbox[#self.outbox + 1] = { id = tostring(#self.outbox + 1), body = message.encode({
    workflow = self.ref, run_id = self.run_id, node = node_id, item = has_item and item or nil,
    params = self.params }) }
  if #self.outbox == 10 then self:flush() end
  return true
end

-- Start a task whose dependencies have all ended.
function C:start(t)
  for _, dep in ipairs(t.after) do
    if self.tstatus[dep] ~= "completed" then
      self.tstatus[t.name] = "skipped"
      if not t.foreach then
        self:add_total(1)
        local e = "upstream task '" .. dep .. "' did not complete"
        store_mod.save(self.store, self.run_id, t.name, { status = "skipped", error = e })
        self.states[t.name] = { status = "skipped", error = e }
        self:finish(t.name, "skipped", { error = e })
      end
      return
    end
  end
  local ids = {}
  if not t.foreach then
    self:add_total(1)
    ids[1] = t.name
    self:submit(t.name)
  else
    local outputs = runner.outputs_from(self.wf, self.states)
    local ok, items = pcall(t.foreach, { workflow = self.wf.name, run_id = self.run_id,
      params = self.params, output = outputs, node = t.name, attempt = 1, log = self.log })
    if not ok or type(items) ~= "table" then
      local e = ok and ("foreach returned " .. type(items) .. ", not a list") or tostring(items)
      self:add_total(1)
      store_mod.save(self.store, self.run_id, t.name, { status = "failed", attempts = 1, error = e })
      self:finish(t.name, "failed", { error = e, attempts = 1 })
      self.tstatus[t.name] = "failed"
      return
    end
    self:add_total(#items)
    local seen = {}
    for i, item in ipairs(items) do
      local key = t.key and t.key(item, i) or i
      local id = ("%s[%s]"):format(t.name, tostring(key))
      if seen[id] then error(("task '%s': duplicate node key '%s'"):format(t.name, tostring(key)), 0) end
      seen[id] = true
      ids[#ids + 1] = id
      self:submit(id, item, true)
    end
  end
  self:flush()
  self.tstatus[t.name] = "running"
  self.task_nodes[t.name] = ids
end

-- One pass: start what can start, account for what ended. Returns true when all tasks ended.
function C:step()
  local all_done = true
  for _, name in ipairs(self.wf:sorted()) do
    local t = self.wf.tasks[name]
    if self.tstatus[name] == nil then
      local ready = true
      for _, dep in ipairs(t.after) do
        local s = self.tstatus[dep]
        if s == nil or s == "running" then ready = false end
      end
      if ready then self:start(t) end
    end
    if self.tstatus[name] == "running" then
      local failed, open = false, false
      for _, id in ipairs(self.task_nodes[name]) do
        if self.outstanding[id] then
          local e = self:ended(id)
          if e then
            self.outstanding[id] = nil
            self:finish(id, e, self.states[id])
          else
            open = true
          end
        end
        if self.nodes[id] and self.nodes[id].status == "failed" then failed = true end
      end
      if not open then self.tstatus[name] = failed and "failed" or "completed" end
    end
    if self.tstatus[name] == nil or self.tstatus[name] == "running" then all_done = false end
  end
  return all_done
end

function C:wait_outstanding()
  while next(self.outstanding) do
    self.sleep(self.poll)
    self.states = store_mod.states(self.store, self.run_id)
    for id in pairs(self.outstanding) do
      local e = self:ended(id)
      if e then
        self.outstanding[id] = nil
        self:finish(id, e, self.states[id])
      end
    end
  end
end

function M.run(wf, opts)
  opts = opts or {}
  wf:validate()
  local self = setmetatable({
    wf = wf, opts = opts, client = opts.client, queue = opts.queue, store = opts.store,
    params = opts.params or {}, run_id = opts.run_id or runner.default_run_id(wf, opts.params),
    ref = opts.workflow_ref or wf.path or wf.name, poll = opts.poll or 0.5,
    sleep = opts.sleep or task.sleep, log = opts.log or runner.logger(), progress = runner.new_progress(opts),
    tstatus = {}, task_nodes = {}, outstanding = {}, outbox = {}, nodes = {}, always = {},
    counts = { completed = 0, failed = 0, skipped = 0, interrupted = 0, reused = 0 },
    total = 0, sent = 0,
  }, C)
  store_mod.note_run(self.store, self.run_id, wf.name)
  self.states = store_mod.states(self.store, self.run_id)
  local ok, err = pcall(function()
    while not self:step() do
      self.sleep(self.poll)
      self.states = store_mod.states(self.store, self.run_id)
    end
    local ft = wf.final_task
    if ft then
      self.always[ft.name] = true
      self:add_total(1)
      self:submit(ft.name)
      self:flush()
      self:wait_outstanding()
    end
  end)
  local bugs = {}
  if not ok then
    if task.interrupted() then
      for _ in pairs(self.outstanding) do self.counts.interrupted = self.counts.interrupted + 1 end
    else
      bugs[1] = tostring(err)
    end
  end
  if self.progress then self.progress:finish() end
  local summary = { run_id = self.run_id, nodes = self.nodes, bugs = bugs, sent = self.sent }
  for k, v in pairs(self.counts) do summary[k] = v end
  summary.ok = self.counts.failed == 0 and self.counts.interrupted == 0 and #bugs == 0
    and not task.interrupted()
  return summary
end

return M
