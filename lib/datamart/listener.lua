--- The listener's logic, transport-free: announcements in, rows committed, complete days
-- dispatched (with retries), stale days flushed. The AMQP consumer and the HTTP endpoints of
-- scripts/datamart_listener.lua sit on top of it.
--
--   local core = listener.new{store =, expected = expected.cache(profile), emit = fn(key) ->
--     true | nil, why, days_to_stale = 3, today = fn() -> "YYYYMMDD", log =, backoff = {base, max},
--     now = fn() -> seconds}
--   local r = core:handle(bodies)    -- commits; r = {recorded, ignored, malformed, complete = {keys}}
--                                    -- or nil, msg, code (nothing committed: do not ack)
--   core:start()                     -- flush stale, queue the complete cached days
--   core:due() -> list of keys whose dispatch is due now; core:dispatch(key) -> ok
--   core:run_dispatches()            -- one pass over the due keys
--   core:missing() -> {key = {paths}}, core:pending() -> {key = {attempts, next_at, last_error}}
local message = require("datamart.message")
local tz = require("datamart.tz")

local M = {}

local Core = {}
Core.__index = Core

function M.new(o)
  assert(o.store and o.expected and o.emit, "listener.new: store, expected and emit are required")
  local self = setmetatable({
    store = o.store, expected = o.expected, emit = o.emit,
    days_to_stale = o.days_to_stale or 3,
    today = o.today or function() return tz.local_date(require("gf.time").now(), "America/Vancouver") end,
    log = o.log or require("gf.log"),
    backoff = o.backoff or { base = 2, max = 300 },
    now = o.now or function() return require("gf.time").monotonic() end,
    queue = {}, -- key -> {attempts, next_at, last_error}
    emits = 0, dispatched = 0, failures = 0,
    stats = { received = 0, recorded = 0, duplicate = 0, ignored = 0, malformed = 0 },
  }, Core)
  return self
end

--- is_complete(key) -> bool: every expected file of the day recorded
function Core:is_complete(key)
  if self.store:is_dispatched(key) then return false end
  local e = self.expected(key)
  if e.n == 0 then return false end
  if (self.store.per_key[key] or 0) < e.n then return false end
  for p in pairs(e.set) do
    if not self.store:has(p) then return false end
  end
  return true
end

function Core:_queue(key)
  if self.queue[key] or self.store:is_dispatched(key) then return false end
  self.queue[key] = { attempts = 0, next_at = self.now() }
  self.log.info("day complete, dispatch queued", { key = key, files = self.expected(key).n })
  return true
end

--- handle(bodies) -> result or nil, msg, code. All or nothing: the batch's new rows are
-- committed in one transaction before this returns; a failure commits nothing.
function Core:handle(bodies)
  local items, res = {}, { recorded = 0, ignored = 0, malformed = 0, duplicate = 0, complete = {} }
  for _, body in ipairs(bodies) do
    local m, why = message.parse(body)
    if not m then
      res.malformed = res.malformed + 1
      self.log.warn("announcement not understood; acknowledged and skipped", { error = why, body = tostring(body):sub(1, 200) })
    elseif not self.expected(m.key).set[m.relpath] then
      res.ignored = res.ignored + 1 -- not one of the expected files (the original's is_event_of_interest)
    else
      items[#items + 1] = { relpath = m.relpath, key = m.key, time_sql = m.time_sql }
    end
  end
  local new, err, code = self.store:record(items)
  if not new then return nil, err, code end
  res.recorded = #new
  res.duplicate = #items - #new
  local touched, seen = {}, {}
  for _, it in ipairs(new) do
    if not seen[it.key] then seen[it.key] = true touched[#touched + 1] = it.key end
  end
  for _, key in ipairs(touched) do
    if self:is_complete(key) and self:_queue(key) then res.complete[#res.complete + 1] = key end
  end
  local s = self.stats
  s.received = s.received + #bodies
  s.recorded = s.recorded + res.recorded
  s.duplicate = s.duplicate + res.duplicate
  s.ignored = s.ignored + res.ignored
  s.malformed = s.malformed + res.malformed
  return res
end

--- cutoff() -> the oldest key kept: today - DAYS_TO_STALE
function Core:cutoff()
  return tz.shift_date(self.today(), -self.days_to_stale)
end

--- flush_stale() -> list of flushed keys
function Core:flush_stale()
  local cutoff = self:cutoff()
  local flushed, err, code = self.store:flush_stale(cutoff)
  if not flushed then
    self.log.error("stale flush failed", { error = err })
    return nil, err, code
  end
  for _, k in ipairs(flushed) do
    self.queue[k] = nil
    self.log.info("stale day flushed", { key = k, cutoff = cutoff })
  end
  return flushed
end

--- start(): stale flush, then every complete cached day is queued (the original's
-- flush_stale + emit_cached_events at startup)
function Core:start()
  self:flush_stale()
  local queued = {}
  for _, key in ipairs(self.store:keys()) do
    if self:is_complete(key) and self:_queue(key) then queued[#queued + 1] = key end
  end
  return queued
end

function Core:delay(attempts)
  local b = self.backoff
  return math.min(b.max, b.base * 2 ^ (attempts - 1))
end

--- due() -> sorted keys whose next attempt is due
function Core:due()
  local now, out = self.now(), {}
  for k, q in pairs(self.queue) do if q.next_at <= now then out[#out + 1] = k end end
  table.sort(out)
  return out
end

--- next_due_in() -> seconds until the next queued attempt (nil when the queue is empty)
function Core:next_due_in()
  local now, best = self.now(), nil
  for _, q in pairs(self.queue) do
    local d = q.next_at - now
    if not best or d < best then best = d end
  end
  return best and math.max(0, best) or nil
end

--- dispatch(key) -> true (emitted and cleared) or false (kept, retried later)
function Core:dispatch(key)
  local q = self.queue[key]
  if not q then return false end
  q.attempts = q.attempts + 1
  self.emits = self.emits + 1
  local ok, why = self.emit(key)
  if ok then
    local cleared, err = self.store:clear(key)
    if not cleared then
      -- emitted but not cleared: keep it queued; the next attempt re-emits (at least once)
      q.last_error = "clear failed: " .. tostring(err)
      q.next_at = self.now() + self:delay(q.attempts)
      self.log.error("dispatched but the cache could not be cleared", { key = key, error = err })
      return false
    end
    self.queue[key] = nil
    self.dispatched = self.dispatched + 1
    self.log.info("day dispatched, cache cleared", { key = key, attempts = q.attempts })
  else
    q.last_error = tostring(why)
    q.next_at = self.now() + self:delay(q.attempts)
    self.failures = self.failures + 1
    self.log.error("dispatch failed; the day is kept and retried", { key = key, error = why,
      attempt = q.attempts, retry_in_s = self:delay(q.attempts) })
  end
  if self.emits % 10 == 0 then self:flush_stale() end -- the original checks every 10th emit
  return ok and true or false
end

function Core:run_dispatches()
  local n = 0
  for _, key in ipairs(self:due()) do
    if self:dispatch(key) then n = n + 1 end
  end
  return n
end

--- missing() -> {key = sorted list of expected paths not yet announced} for every cached day
function Core:missing()
  local out = {}
  for _, key in ipairs(self.store:keys()) do
    local list = {}
    for _, f in ipairs(self.expected(key).list) do
      if not self.store:has(f.relpath) then list[#list + 1] = f.relpath end
    end
    out[key] = list
  end
  return out
end

function Core:pending()
  local out = {}
  for k, q in pairs(self.queue) do out[k] = { attempts = q.attempts, last_error = q.last_error } end
  return out
end

return M
