--- gf.flow.worker: `gfhost worker --queue URL` — run workflow nodes from SQS task messages.
--
-- run(opts) -> stats
--   opts.client       a gf.sqs client (or anything with receive/delete/change_visibility)
--   opts.queue        queue URL (or name)
--   opts.store        gf.state store shared with the coordinator and the other workers
--   opts.concurrency  nodes running at once in this process (default 4; one receive loop each)
--   opts.visibility   seconds a received message stays invisible (default 60); while a node
--                     runs, a heartbeat extends it by this much every visibility/3 seconds
--   opts.wait         long-poll seconds per receive, 0..20 (default 20)
--   opts.max_messages stop after this many messages (any outcome); default: never
--   opts.idle_exit    stop after this many seconds without work (messages that are only left
--                     for the redrive policy — bad, exhausted, busy — do not count); default: never
--   opts.load         function(workflow_ref) -> wf | nil, msg (default gf.flow.load, cached)
--   opts.log, opts.now (epoch seconds; default gf.time.now), opts.worker_id
--   opts.on_release   function(receipts) called once at the end with the receipts of messages
--                     interrupted by SIGINT/SIGTERM (the CLI makes them visible again)
-- stats = {messages=, completed=, reused=, failed=, retried=, exhausted=, busy=, bad=,
--          deferred=, interrupted=, errors=}
--
-- One message (gf.flow.message) is one node. For each message the worker
--   1. decodes and checks it; a bad body, an unknown workflow or node is logged and the message
--      is left alone, so the queue's redrive policy moves it to the dead-letter queue;
--   2. claims the node in state (gf.flow.runner.claim: gf.state's conditional write
--      store:lease_node, atomic on SQLite and on DynamoDB): a node already
--      completed is not run again and its message is deleted (duplicates are harmless); a node
--      whose lease another worker holds is put back with the lease's remaining time; a node that
--      failed with no attempts left is left to the redrive policy;
--   3. runs it through gf.flow.runner.run_one (what `gfhost task` runs), heartbeating
--      meanwhile (ChangeMessageVisibility and store:renew_lease);
--   4. records the outcome in state (store:put_node_if: only while it still holds the lease;
--      a worker whose lease was taken over records nothing and counts the message as busy),
--      and only then deletes the message when it completed. A
--      failure is recorded and the message is not deleted: with attempts left it comes back
--      after the task's backoff (its visibility is set to backoff * 2^(attempt-1)), and after
--      the last attempt the redrive policy (maxReceiveCount) takes it to the dead-letter queue.
-- SIGINT/SIGTERM: no more receives; running nodes are recorded as interrupted and their
-- messages handed to opts.on_release; the run ends with the host's exit status 130.
local task = require("gf.task")
local flow = require("gf.flow")
local message = require("gf.flow.message")
local runner = require("gf.flow.runner")

local M = {}

local function default_now()
  return require("gf.time").now
end

local function default_log()
  return require("gf.log")
end

local function hostname()
  local f = io.open("/proc/sys/kernel/hostname", "r")
  local h = f and f:read("l")
  if f then f:close() end
  return h or os.getenv("HOSTNAME") or "localhost"
end

function M.worker_id()
  local pid = require("gf.host").pid()
  return ("%s:%d:%06x"):format(hostname(), pid, math.random(0, 0xffffff))
end

local Worker = {}
Worker.__index = Worker

-- Outcomes that count as work for --idle-exit (messages left for the redrive policy do not).
local WORK = { completed = true, reused = true, failed = true, retried = true, interrupted = true,
  deferred = true }

function Worker:workflow(ref)
  local wf = self.workflows[ref]
  if wf then return wf end
  local err
  wf, err = self.load(ref)
  if not wf then return nil, err end
  self.workflows[ref] = wf
  return wf
end

-- Extend the message's visibility and the node's lease until told to stop.
function Worker:heartbeat(m, d, lease, hb)
  local interval = math.max(0.5, self.visibility / 3)
  while not hb.done do
    task.sleep(interval)
    if hb.done then return end
    local ok, err = pcall(runner.renew, self.store, d.run_id, d.node, lease)
    if not ok then self.log.warn("lease renewal failed", { node = d.node, error = tostring(err) }) end
    if hb.done then return end
    local vok, verr = self.client:change_visibility(self.queue, m, self.visibility)
    if not vok then
      self.log.warn("visibility heartbeat failed", { node = d.node, error = tostring(verr) })
    end
  end
end

local function backoff_of(t, attempt)
  local d = (t.backoff or 1) * 2 ^ (math.max(1, attempt) - 1)
  return math.max(0, math.min(43200, math.ceil(d)))
end

-- Run one decoded message; returns the outcome name.
function Worker:run_node(m, d, wf, t, received)
  local lease = { worker = self.id, seconds = self.visibility, now = self.now,
    max_attempts = t.retries + 1, ["until"] = received + self.visibility }
  local hb = { done = false }
  local hbt = task.spawn(function() pcall(self.heartbeat, self, m, d, lease, hb) end)
  local r = table.pack(pcall(runner.run_one, wf, d.node, { store = self.store, run_id = d.run_id,
    params = d.params, item = d.item, has_item = d.has_item, lease = lease,
    log = self.log.child and self.log:child({ node = d.node }) or self.log }))
  hb.done = true
  task.cancel(hbt)
  pcall(task.wait, hbt)
  local fields = { node = d.node, run_id = d.run_id, message = m.id }
  if not r[1] then
    if task.interrupted() then return "interrupted" end
    fields.error = tostring(r[2])
    self.log.error("node could not run; message left on the queue", fields)
    return "errors"
  end
  local status, value, rec, reused = r[2], r[3], r[4], r[5]
  if status == nil then
    fields.error = tostring(value)
    if rec == "conflict" then
      self.log.warn("node not ready; message left on the queue", fields)
      return "deferred"
    end
    self.log.error("bad node; message left for the redrive policy", fields)
    return "bad"
  end
  if status == "completed" then
    local ok, err = self.client:delete(self.queue, m)
    if not ok then
      fields.error = tostring(err)
      self.log.warn("node completed but its message could not be deleted (a redelivery is skipped)", fields)
    end
    if reused then return "reused" end
    self.log.info("node completed", { node = d.node, run_id = d.run_id, attempt = rec.attempts })
    return "completed"
  end
  if status == "busy" or status == "lost" then
    if status == "lost" then
      fields.error = "its lease ran out and another worker took the node over"
      self.log.warn("node ran but its outcome was not recorded", fields)
    end
    pcall(self.client.change_visibility, self.client, self.queue, m,
      math.min(43200, math.ceil(value) + 1))
    return "busy"
  end
  if status == "exhausted" then
    fields.error = rec and rec.error
    self.log.warn("node already failed its last attempt; message left for the redrive policy", fields)
    return "exhausted"
  end
  if status == "interrupted" then return "interrupted" end
  -- failed
  fields.error, fields.attempt = tostring(value), rec.attempts
  if rec.attempts < t.retries + 1 then
    local delay = backoff_of(t, rec.attempts)
    fields.retry_in = delay
    self.log.warn("node failed; retrying after its backoff", fields)
    pcall(self.client.change_visibility, self.client, self.queue, m, delay)
    return "retried"
  end
  self.log.error("node failed its last attempt; message left for the redrive policy", fields)
  return "failed"
end

function Worker:handle(m)
  local received = self.now()
  local d, err = message.decode(m.body)
  if not d then
    self.log.error("bad message; left for the redrive policy", { message = m.id, error = err })
    return "bad"
  end
  local wf, werr = self:workflow(d.workflow)
  if not wf then
    self.log.error("bad message: workflow not loadable; left for the redrive policy",
      { message = m.id, workflow = d.workflow, error = tostring(werr) })
    return "bad"
  end
  local t = runner.task_of(wf, d.node)
  if not t then
    self.log.error("bad message: no such node; left for the redrive policy",
      { message = m.id, workflow = wf.name, node = d.node })
    return "bad"
  end
  return self:run_node(m, d, wf, t, received)
end

function Worker:should_stop()
  if self.stopping or task.interrupted() then return true end
  if self.max_messages and self.stats.messages + self.receiving >= self.max_messages then
    return true
  end
  if self.idle_exit and self.inflight == 0 and self.now() - self.last_message >= self.idle_exit then
    return true
  end
  return false
end

function Worker:consume()
  while not self:should_stop() do
    local wait = self.wait
    if self.idle_exit then
      local left = self.idle_exit - (self.now() - self.last_message)
      wait = math.max(0, math.min(wait, math.ceil(left)))
    end
    -- A receive runs to its end even after SIGINT/SIGTERM: one abandoned mid-poll could still
    -- be handed a message by the server, invisible to everyone until its visibility timeout.
    self.receiving = self.receiving + 1
    local ok, msgs, err = pcall(task.shield, self.client.receive, self.client, self.queue,
      { max = 1, wait = wait, visibility = self.visibility })
    self.receiving = self.receiving - 1
    if not ok then
      if task.interrupted() then break end
      msgs, err = nil, msgs
    end
    if msgs and task.cancelled() then
      for _, m in ipairs(msgs) do self.release[#self.release + 1] = m end
      break
    elseif not msgs then
      self.stats.errors = self.stats.errors + 1
      self.log.warn("receive failed", { error = tostring(err) })
      if not pcall(task.sleep, 1) then break end
    else
      for _, m in ipairs(msgs) do
        self.stats.messages = self.stats.messages + 1
        self.inflight = self.inflight + 1
        local hok, outcome = pcall(self.handle, self, m)
        self.inflight = self.inflight - 1
        if not hok then
          if not task.interrupted() then
            self.log.error("message handling failed", { message = m.id, error = tostring(outcome) })
          end
          outcome = task.interrupted() and "interrupted" or "errors"
        end
        self.stats[outcome] = self.stats[outcome] + 1
        if outcome == "interrupted" then self.release[#self.release + 1] = m end
        if WORK[outcome] then self.last_message = self.now() end
      end
    end
  end
end

function M.run(opts)
  if type(opts) ~= "table" or not opts.client or not opts.queue or not opts.store then
    error("bad argument #1 to 'run' (table with client, queue and store expected)", 2)
  end
  local now = opts.now or default_now()
  local cache = {}
  local self = setmetatable({
    client = opts.client, queue = opts.queue, store = opts.store,
    concurrency = opts.concurrency or 4, visibility = opts.visibility or 60,
    wait = opts.wait or 20, max_messages = opts.max_messages, idle_exit = opts.idle_exit,
    load = opts.load or function(ref)
      local wf, err = flow.load(ref)
      cache[ref] = wf
      return wf, err
    end,
    log = opts.log or default_log(), now = now, id = opts.worker_id or M.worker_id(),
    workflows = {}, inflight = 0, receiving = 0, last_message = now(), release = {},
    stats = { messages = 0, completed = 0, reused = 0, failed = 0, retried = 0, exhausted = 0,
      busy = 0, bad = 0, deferred = 0, interrupted = 0, errors = 0 },
  }, Worker)
  if math.type(self.concurrency) ~= "integer" or self.concurrency < 1 then
    error("worker: concurrency must be a positive integer", 2)
  end
  if math.type(self.visibility) ~= "integer" or self.visibility < 1 or self.visibility > 43200 then
    error("worker: visibility must be an integer in 1..43200", 2)
  end
  self.log.info("worker started", { worker = self.id, queue = self.queue,
    concurrency = self.concurrency, visibility = self.visibility })
  local live = self.concurrency
  local function finish()
    live = live - 1
    if live == 0 and #self.release > 0 and opts.on_release then
      local receipts = {}
      for i, m in ipairs(self.release) do receipts[i] = m.receipt end
      task.shield(opts.on_release, receipts) -- clean-up: runs even in a task not yet told
    end
  end
  local loops = {}
  for i = 1, self.concurrency do
    loops[i] = task.spawn(function()
      pcall(self.consume, self)
      finish()
    end)
  end
  for _, l in ipairs(loops) do
    if not pcall(task.wait, l) then break end -- interrupted: the loops finish on their own
  end
  return self.stats
end

return M
