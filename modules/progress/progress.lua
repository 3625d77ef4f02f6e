--- gf.progress: progress of a batch on stderr, as a live line on a terminal or log lines.
--
-- new{total=, label=, interval=, redraw=, clock=, tty=, sink=, log=} -> p
--   total     number of items, or nil when unknown (set later with p:set_total)
--   label     what is counted (default "items")
--   interval  seconds between log lines when stderr is not a terminal (default 5)
--   redraw    seconds between redraws on a terminal (default 0.1: at most 10 per second)
--   clock     function() -> seconds (default: gf.time.monotonic when present, else os.time)
--   tty       draw a live line (default: gf.host.isatty(2))
--   sink      function(text) for the live line (default: write to stderr, and keep the line
--             below gf.log records with log.status)
--   log       logger with .info(msg, fields) for log lines (default gf.log)
-- p:tick(n?, {failed = bool}?)   n (default 1) items done; failed = true counts them as failed
-- p:set_total(n)                 set or change the total
-- p:summary() -> {done=, failed=, total=, elapsed=, rate=}   rate in items per second (0 when
--                                no time has passed)
-- p:finish() -> summary          final line (terminal) or a "<label> finished" log record;
--                                idempotent. tick after finish raises.
--
-- Terminal line: `\r<label> 120/1000 12.0% 35.2/s ETA 25s 3 failed` (cleared to the end of the
-- line). Log records: `<label> progress` with fields done, total, percent, rate, eta_s, failed,
-- every `interval` seconds, and `<label> finished` with done, failed, elapsed_s, rate.
-- The rate is the average since new(); the ETA is what is left at that rate.
local M = {}

local Progress = {}
Progress.__index = Progress
Progress.__name = "gf.progress"

local function default_clock()
  return require("gf.time").monotonic
end

local function default_tty()
  return require("gf.host").isatty(2) == true
end

local function stderr_sink(text)
  io.stderr:write(text)
  io.stderr:flush()
end

local function round(x, places)
  local m = 10 ^ places
  return math.floor(x * m + 0.5) / m
end

--- 42s, 3m05s, 1h02m, 2d03h
function M.format_duration(s)
  s = math.floor(s + 0.5)
  if s < 60 then return ("%ds"):format(s) end
  if s < 3600 then return ("%dm%02ds"):format(s // 60, s % 60) end
  if s < 86400 then return ("%dh%02dm"):format(s // 3600, (s % 3600) // 60) end
  return ("%dd%02dh"):format(s // 86400, (s % 86400) // 3600)
end

local function check_count(name, n, argn)
  if math.type(n) ~= "integer" and not (type(n) == "number" and math.tointeger(n)) then
    error(("bad argument #%d to '%s' (integer expected, got %s)"):format(argn, name,
      math.type(n) or type(n)), 3)
  end
  if n < 0 then error(("bad argument #%d to '%s' (must be >= 0)"):format(argn, name), 3) end
  return math.tointeger(n)
end

local NEW_FIELDS = {
  total = true, label = true, interval = true, redraw = true, clock = true, tty = true,
  sink = true, log = true,
}

function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    error(("bad argument #1 to 'progress.new' (table expected, got %s)"):format(type(opts)), 2)
  end
  for k in pairs(opts) do
    if not NEW_FIELDS[k] then error(("progress.new: unknown option '%s'"):format(tostring(k)), 2) end
  end
  if opts.total ~= nil then check_count("progress.new", opts.total, 1) end
  for _, k in ipairs({ "interval", "redraw" }) do
    if opts[k] ~= nil and (type(opts[k]) ~= "number" or opts[k] < 0) then
      error(("progress.new: %s must be a number >= 0"):format(k), 2)
    end
  end
  local clock = opts.clock or default_clock()
  local tty = opts.tty
  if tty == nil then tty = default_tty() end
  local start = clock()
  -- With the default sink on a terminal, gf.log keeps the live line below its records.
  local status = nil
  if tty and not opts.sink then
    status = require("gf.log").status
  end
  return setmetatable({
    total = opts.total and math.tointeger(opts.total), label = opts.label or "items",
    interval = opts.interval or 5, redraw = opts.redraw or 0.1, clock = clock, tty = tty,
    sink = opts.sink or stderr_sink, status = status, log = opts.log, done = 0, failed = 0, start = start,
    last_draw = nil, last_log = start, finished = nil,
  }, Progress)
end

function Progress:summary()
  local now = self.finished or self.clock()
  local elapsed = now - self.start
  local rate = elapsed > 0 and self.done / elapsed or 0
  return { done = self.done, failed = self.failed, total = self.total, elapsed = elapsed,
    rate = rate }
end

local function eta(self, s)
  if not self.total or s.rate <= 0 then return nil end
  return math.max(self.total - self.done, 0) / s.rate
end

function Progress:line()
  local s = self:summary()
  local parts = { self.label }
  if self.total then
    local pct = self.total > 0 and 100 * self.done / self.total or 100
    parts[#parts + 1] = ("%d/%d"):format(self.done, self.total)
    parts[#parts + 1] = ("%.1f%%"):format(pct)
  else
    parts[#parts + 1] = ("%d"):format(self.done)
  end
  parts[#parts + 1] = ("%.1f/s"):format(s.rate)
  local left = eta(self, s)
  if left and not self.finished then parts[#parts + 1] = "ETA " .. M.format_duration(left) end
  if self.finished then parts[#parts + 1] = "in " .. M.format_duration(s.elapsed) end
  if self.failed > 0 then parts[#parts + 1] = ("%d failed"):format(self.failed) end
  return table.concat(parts, " ")
end

local function logger(self)
  return self.log or require("gf.log")
end

local function log_progress(self)
  local s = self:summary()
  local left = eta(self, s)
  logger(self).info(self.label .. " progress", {
    done = self.done, total = self.total, failed = self.failed, rate = round(s.rate, 2),
    percent = self.total and self.total > 0 and round(100 * self.done / self.total, 1) or nil,
    eta_s = left and math.floor(left + 0.5) or nil,
  })
end

local function draw(self)
  local text = "\r" .. self:line() .. "\27[K"
  self.sink(text)
  if self.status then self.status(text) end
end

function Progress:tick(n, opts)
  if self.finished then error("progress: tick after finish", 2) end
  n = check_count("tick", n == nil and 1 or n, 1)
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #2 to 'tick' (table expected, got %s)"):format(type(opts)), 2)
  end
  self.done = self.done + n
  if opts and opts.failed then self.failed = self.failed + n end
  local now = self.clock()
  if self.tty then
    if not self.last_draw or now - self.last_draw >= self.redraw - 1e-9 then
      self.last_draw = now
      draw(self)
    end
  elseif now - self.last_log >= self.interval - 1e-9 then
    self.last_log = now
    log_progress(self)
  end
end

function Progress:set_total(n)
  self.total = check_count("set_total", n, 1)
end

function Progress:finish()
  if self.finished then return self:summary() end
  self.finished = self.clock()
  local s = self:summary()
  if self.tty then
    draw(self)
    if self.status then self.status(nil) end
    self.sink("\n")
  else
    logger(self).info(self.label .. " finished", {
      done = s.done, failed = s.failed, total = s.total, elapsed_s = round(s.elapsed, 3),
      rate = round(s.rate, 2),
    })
  end
  return s
end

return M
