--- gf.task: cooperative tasks on the host's event loop.
--
-- spawn(fn, ...) -> task        run fn(...) as a new task
-- wait(task) -> ok, ...         wait for a task: true and its results, or false and its error
-- wait_all(tasks) -> list       wait for every task: list of {ok = bool, ...results | error}
-- map(items, fn, opts) -> results, failures
--                               fn(item, index) for every item with at most opts.concurrency
--                               (default 16) running at once. results[i] is fn's first result
--                               (nil for a failed item); failures is a list, ordered by index,
--                               of {index =, item =, error =}. Nothing is thrown away.
-- cancel(task) -> boolean      stop a task at its current or next wait ("interrupted")
-- timeout(seconds, fn, ...) -> true, ... | nil, message, "timeout"
--                               run fn(...) as a task and cancel it when it takes too long
--                               (a busy Lua loop that never waits cannot be stopped)
-- sleep(seconds), yield(), current(), interrupted(), workers()
-- cancelled() -> boolean       this task was cancelled (or SIGINT/SIGTERM arrived): loops that
--                               catch errors per item should stop taking new items
--
-- shield(fn, ...) -> ...        run fn(...) to its end even if the task is cancelled meanwhile
--                               (an SQS receive whose messages must not be lost); the cancel is
--                               raised at the first wait after it
--
-- stdin() -> reader             standard input through the loop (other tasks run while it
--                               waits): reader:line() -> line | nil at the end, reader:all()
--
-- Cancellation (gf.task.cancel, a timeout, SIGINT/SIGTERM) raises "interrupted" once, at the
-- wait the task is parked in or its next one. Clean-up code after that (<close> handlers, code
-- after a pcall) may still wait: after a signal until GFHOST_GRACE seconds (default 10) have
-- passed, when the process exits 130 with whatever still runs; a second signal exits at once.
-- channel(capacity) -> ch        bounded FIFO: ch:send(v) waits while full, ch:recv() waits while
--                               empty and returns nil once closed and drained; ch:close()
-- semaphore(n) -> sem          sem:acquire(), sem:release()
--
-- A task that fails and is never waited for is reported on stderr and makes the run exit 1.
-- When the script's main function fails, every other task is cancelled as by a signal (a
-- server closes, a consumer stops) and the run exits with the script's status.
local core = require("gf.task.core")

local M = {}

M.sleep = core.sleep
M.yield = core.yield
M.interrupted = core.interrupted
M.cancelled = core.cancelled
M.shield = core.shield
M.workers = core.workers

local records = setmetatable({}, { __mode = "k" }) -- thread -> record

local function traceback(err)
  if type(err) == "string" then return debug.traceback(err, 2) end
  return err
end

local function run(rec, fn, ...)
  local r = table.pack(xpcall(fn, traceback, ...))
  rec.result = r
  rec.done = true
  local waiters = rec.waiters
  rec.waiters = nil
  -- A task stopped by its cancellation ends as asked: that is no failure to report.
  local stopped = not r[1] and core.cancelled() and type(r[2]) == "string"
    and r[2]:find("interrupted", 1, true) ~= nil
  if not r[1] and not stopped and (not waiters or #waiters == 0) then
    rec.unobserved = true
  end
  if waiters then
    for _, w in ipairs(waiters) do core.wake(w) end
  end
  if rec.unobserved then
    -- Give a waiter that arrives later a chance; report only if still unobserved at the end
    -- of the run (the host counts errors raised from here).
    core.yield()
    if rec.unobserved then error(r[2], 0) end
  end
end

local Task = {}
Task.__index = Task
Task.__name = "gf.task.task"

function M.spawn(fn, ...)
  if type(fn) ~= "function" then error("bad argument #1 to 'spawn' (function expected)", 2) end
  local rec = { waiters = {} }
  local handle = setmetatable({ _rec = rec }, Task)
  rec.thread = core.spawn(run, rec, fn, ...)
  records[rec.thread] = rec
  return handle
end

function M.current()
  return core.current()
end

local function record_of(t)
  if getmetatable(t) ~= Task then error("bad argument to 'wait' (gf.task.task expected)", 3) end
  return t._rec
end

function M.wait(t)
  local rec = record_of(t)
  while not rec.done do
    local me = core.current()
    if not me then error("gf.task.wait: not inside a task", 2) end
    rec.waiters[#rec.waiters + 1] = me
    core.suspend()
  end
  rec.unobserved = false
  return table.unpack(rec.result, 1, rec.result.n)
end

function M.wait_all(tasks)
  local out = {}
  for i, t in ipairs(tasks) do
    local r = table.pack(M.wait(t))
    if r[1] then
      out[i] = table.move(r, 1, r.n, 1, { n = r.n, ok = true })
    else
      out[i] = { ok = false, error = r[2] }
    end
  end
  return out
end

function M.cancel(t)
  local rec = record_of(t)
  if rec.done then return false end
  return core.cancel(rec.thread)
end

function M.timeout(seconds, fn, ...)
  if type(seconds) ~= "number" or seconds < 0 then
    error("bad argument #1 to 'timeout' (non-negative number expected)", 2)
  end
  local t = M.spawn(fn, ...)
  local rec = t._rec
  local timed_out = false
  local watchdog = M.spawn(function()
    core.sleep(seconds)
    if not rec.done then
      timed_out = true
      core.cancel(rec.thread)
    end
  end)
  local r = table.pack(M.wait(t))
  if not watchdog._rec.done then core.cancel(watchdog._rec.thread) end
  M.wait(watchdog)
  if timed_out then
    return nil, ("timed out after %g s"):format(seconds), "timeout"
  end
  return table.unpack(r, 1, r.n)
end

function Task:done()
  return self._rec.done == true
end

-- {====== channel ======

local Channel = {}
Channel.__index = Channel
Channel.__name = "gf.task.channel"

function M.channel(capacity)
  capacity = capacity or 1
  if math.type(capacity) ~= "integer" or capacity < 1 then
    error("bad argument #1 to 'channel' (positive integer expected)", 2)
  end
  return setmetatable({ cap = capacity, items = {}, head = 1, tail = 0,
    recv_waiters = {}, send_waiters = {}, closed = false }, Channel)
end

local function wake_one(list)
  while #list > 0 do
    local w = table.remove(list, 1)
    if core.wake(w) then return true end
  end
  return false
end

function Channel:send(v)
  if v == nil then error("gf.task.channel: cannot send nil", 2) end
  while not self.closed and self.tail - self.head + 1 >= self.cap do
    self.send_waiters[#self.send_waiters + 1] = core.current()
    core.suspend()
  end
  if self.closed then error("gf.task.channel: send on a closed channel", 2) end
  self.tail = self.tail + 1
  self.items[self.tail] = v
  wake_one(self.recv_waiters)
  return true
end

function Channel:recv()
  while self.tail < self.head do
    if self.closed then return nil end
    self.recv_waiters[#self.recv_waiters + 1] = core.current()
    core.suspend()
  end
  local v = self.items[self.head]
  self.items[self.head] = nil
  self.head = self.head + 1
  wake_one(self.send_waiters)
  return v
end

function Channel:close()
  self.closed = true
  while wake_one(self.recv_waiters) do end
  while wake_one(self.send_waiters) do end
end

function Channel:__len()
  return self.tail - self.head + 1
end

-- }======

-- {====== semaphore ======

local Semaphore = {}
Semaphore.__index = Semaphore

function M.semaphore(n)
  return setmetatable({ free = n, waiters = {} }, Semaphore)
end

function Semaphore:acquire()
  while self.free <= 0 do
    self.waiters[#self.waiters + 1] = core.current()
    core.suspend()
  end
  self.free = self.free - 1
end

function Semaphore:release()
  self.free = self.free + 1
  wake_one(self.waiters)
end

-- }======

function M.map(items, fn, opts)
  if type(items) ~= "table" then error("bad argument #1 to 'map' (table expected)", 2) end
  if type(fn) ~= "function" then error("bad argument #2 to 'map' (function expected)", 2) end
  local n = #items
  local concurrency = (opts and opts.concurrency) or 16
  if math.type(concurrency) ~= "integer" or concurrency < 1 then
    error("bad argument #3 to 'map' (concurrency must be a positive integer)", 2)
  end
  local results, errors = {}, {}
  local next_index = 1
  local function worker()
    while next_index <= n and not core.cancelled() do
      local i = next_index
      next_index = i + 1
      local ok, r = xpcall(fn, traceback, items[i], i)
      if ok then
        results[i] = r
      else
        errors[#errors + 1] = { index = i, item = items[i], error = r }
      end
    end
  end
  local workers = {}
  for w = 1, math.min(concurrency, n) do workers[w] = M.spawn(worker) end
  for _, t in ipairs(workers) do
    local ok, err = M.wait(t)
    if not ok then error(err, 0) end -- interrupted
  end
  table.sort(errors, function(a, b) return a.index < b.index end)
  return results, errors
end

-- {====== standard input through the loop ======

local Input = {}
Input.__index = Input

local function fill(r)
  if r.eof then return false end
  local ok, err, code = core.wait_fd(r.fd, "r")
  if not ok then error(("stdin: %s (%s)"):format(tostring(err), tostring(code)), 0) end
  local data, rerr = core.read_fd(r.fd)
  if not data then error("stdin: " .. tostring(rerr), 0) end
  if data == "" then
    r.eof = true
    return false
  end
  r.buf = r.buf .. data
  return true
end

--- The next line without its "\n" (and a "\r" before it), or nil at the end of input.
function Input:line()
  while true do
    local nl = self.buf:find("\n", self.pos, true)
    if nl then
      local line = self.buf:sub(self.pos, nl - 1)
      self.pos = nl + 1
      if self.pos > 65536 then self.buf, self.pos = self.buf:sub(self.pos), 1 end
      return (line:gsub("\r$", ""))
    end
    if not fill(self) then
      if self.pos > #self.buf then return nil end
      local line = self.buf:sub(self.pos)
      self.buf, self.pos = "", 1
      return line
    end
  end
end

--- The rest of the input.
function Input:all()
  while fill(self) do end
  local s = self.buf:sub(self.pos)
  self.buf, self.pos = "", 1
  return s
end

local stdin_reader
function M.stdin()
  stdin_reader = stdin_reader or setmetatable({ fd = 0, buf = "", pos = 1, eof = false }, Input)
  return stdin_reader
end

-- }======

return M
