--- memory_profile.insights: the rules of the HiTIDE backfill tool's `backfill_memory_profiler`
-- (memory_profiler.py, source-systems §1.7) — its query, windows, regexes and statistics —
-- as plain functions with no I/O, so specs can pin every one.
--
-- QUERY, LIMIT (10000), WINDOW (300 s), HEADER (the CSV column names), log_group(name)
-- windows(start, stop, width) -> list of {index =, start =, stop =} | nil, message, "invalid_input"
--   start and stop are epoch seconds (integers; stop exclusive); each window covers
--   [start, stop] inclusive, as StartQuery counts time, and the windows never overlap.
-- window_label(w) -> "2024-05-01T00:00:00Z..2024-05-01T00:04:59Z"
-- message_of(row) -> the @message value of one GetQueryResults row (or nil)
-- parse_request_line(text) -> request_id, collection|false   (nil when the line is skipped)
-- parse_report(text) -> request_id, memory_mb, billed_ms        (nil when a regex fails)
-- new() -> acc
--   acc:add(text, pos)      one @message; pos orders updates (a later pos wins) so windows may
--                           be added in any order and give what a sequential run gives
--   acc:collections() -> {collection = {memory = {...}, billed = {...}}}, names (sorted)
-- stats(values) -> minimum, maximum, average, median, sampled   (process_items of the original)
-- rows(acc) -> list of CSV rows (HEADER order), sorted by collection
-- encode_csv(rows, eol) -> text with HEADER first
local json = require("gf.json")
local csv = require("gf.csv")

local M = {}

-- The original's combined query (without its surrounding indentation).
M.QUERY = "fields @timestamp, @message\n"
  .. "| filter (@message like /Max Memory Used:/ or @message like /aws_request_id/)"
M.LIMIT = 10000
M.WINDOW = 300
M.HEADER = { "Collection", "Mem Max", "Mem Min", "Mem Med", "Mem Avg",
  "Bill Max", "Bill Min", "Bill Med", "Bill Avg", "Sampled" }

-- The original's regexes, as Lua patterns: RequestId: (\S+), Max Memory Used: (\d+) MB,
-- Billed Duration: (\d+) ms. %S and %d are ASCII classes (Python's also match Unicode).
M.REQUEST_ID = "RequestId: (%S+)"
M.MEMORY_USED = "Max Memory Used: (%d+) MB"
M.BILLED_DURATION = "Billed Duration: (%d+) ms"

function M.log_group(name)
  if type(name) ~= "string" then
    error(("bad argument #1 to 'log_group' (string expected, got %s)"):format(type(name)), 2)
  end
  if name:sub(1, 1) == "/" then return name end
  return "/aws/lambda/" .. name
end

local function iso(t)
  return require("gf.time").iso8601(t)
end

--- Split [start, stop) into windows of `width` seconds (the last one shorter).
function M.windows(start, stop, width)
  for i, v in ipairs({ start, stop, width }) do
    if math.type(v) ~= "integer" then
      error(("bad argument #%d to 'windows' (integer expected, got %s)"):format(i,
        math.type(v) or type(v)), 2)
    end
  end
  if width < 1 then
    return nil, ("window %d s: must be at least 1 second"):format(width), "invalid_input"
  end
  if start < 0 then
    return nil, ("start %d: before 1970"):format(start), "invalid_input"
  end
  if stop <= start then
    return nil, ("empty time range: start %s is not before end %s"):format(iso(start), iso(stop)),
      "invalid_input"
  end
  local out = {}
  local t = start
  while t < stop do
    local e = math.min(t + width, stop)
    out[#out + 1] = { index = #out + 1, start = t, stop = e - 1 }
    t = e
  end
  return out
end

function M.window_label(w)
  return iso(w.start) .. ".." .. iso(w.stop)
end

--- The @message value of one result row (a list of {field =, value =}).
function M.message_of(row)
  if type(row) ~= "table" then return nil end
  for _, f in ipairs(row) do
    if type(f) == "table" and f.field == "@message" then
      return type(f.value) == "string" and f.value or nil
    end
  end
  return nil
end

--- A JSON log line whose "message" is itself JSON carrying aws_request_id and collection.
--- Returns request_id and collection (false when absent or not a non-empty string); nil when
--- the line is skipped (the original's JSONDecodeError/TypeError, or no truthy request id).
function M.parse_request_line(text)
  local outer = json.decode(text)
  if type(outer) ~= "table" then return nil end
  local inner = outer.message
  if inner == nil then return nil end -- .get('message', '{}') -> no request id
  if type(inner) ~= "string" then return nil end
  local msg = json.decode(inner)
  if type(msg) ~= "table" then return nil end
  local rid = msg.aws_request_id
  if type(rid) ~= "string" or rid == "" then return nil end
  local coll = msg.collection
  if type(coll) ~= "string" or coll == "" then coll = false end
  return rid, coll
end

--- A Lambda REPORT line: all three regexes must match (the original at HEAD).
function M.parse_report(text)
  local rid = text:match(M.REQUEST_ID)
  local mem = text:match(M.MEMORY_USED)
  local bill = text:match(M.BILLED_DURATION)
  if not (rid and mem and bill) then return nil end
  mem, bill = math.tointeger(tonumber(mem)), math.tointeger(tonumber(bill))
  if not (mem and bill) then return nil end -- beyond 64-bit integers
  return rid, mem, bill
end

-- {====== accumulator ======

local Acc = {}
Acc.__index = Acc
Acc.__name = "memory_profile.insights.acc"

function M.new()
  return setmetatable({ requests = {}, events = 0, skipped = 0 }, Acc)
end

local function entry(self, rid)
  local r = self.requests[rid]
  if not r then
    r = {}
    self.requests[rid] = r
  end
  return r
end

--- One @message at position `pos` (any number; a later position overrides an earlier one).
function Acc:add(text, pos)
  if type(text) ~= "string" then
    error(("bad argument #1 to 'add' (string expected, got %s)"):format(type(text)), 2)
  end
  pos = pos or (self.events + 1)
  self.events = self.events + 1
  if text:find("aws_request_id", 1, true) then
    local rid, coll = M.parse_request_line(text)
    if not rid then self.skipped = self.skipped + 1 return end
    local r = entry(self, rid)
    if not r.cpos or pos > r.cpos then r.collection, r.cpos = coll, pos end
  elseif text:find("Max Memory Used:", 1, true) then
    local rid, mem, bill = M.parse_report(text)
    if not rid then self.skipped = self.skipped + 1 return end
    local r = entry(self, rid)
    if not r.mpos or pos > r.mpos then r.memory, r.billed, r.mpos = mem, bill, pos end
  else
    self.skipped = self.skipped + 1
  end
end

--- Per collection: the memory and billed values of its requests that had a REPORT line
--- (the original's None entries, which its statistics drop), and the number of requests.
function Acc:collections()
  local out, names = {}, {}
  for _, r in pairs(self.requests) do
    local c = r.collection
    if c then
      local t = out[c]
      if not t then
        t = { memory = {}, billed = {}, requests = 0 }
        out[c] = t
        names[#names + 1] = c
      end
      t.requests = t.requests + 1
      if r.memory then t.memory[#t.memory + 1] = r.memory end
      if r.billed then t.billed[#t.billed + 1] = r.billed end
    end
  end
  table.sort(names)
  return out, names
end

-- }======

local function round1(x)
  return tonumber(("%.1f"):format(x)) + 0.0
end

--- min, max, average (rounded to 1 decimal, a float), median (statistics.median: the middle
--- value, or the mean of the two middle values as a float), count. An empty list counts as {0}.
function M.stats(values)
  if type(values) ~= "table" then
    error(("bad argument #1 to 'stats' (table expected, got %s)"):format(type(values)), 2)
  end
  local v = {}
  for i = 1, #values do v[i] = values[i] end
  if #v == 0 then v[1] = 0 end
  table.sort(v)
  local n = #v
  local sum = 0
  for i = 1, n do sum = sum + v[i] end
  local median
  if n % 2 == 1 then
    median = v[(n + 1) // 2]
  else
    median = (v[n // 2] + v[n // 2 + 1]) / 2
  end
  return v[1], v[n], round1(sum / n), median, n
end

function M.rows(acc)
  local colls, names = acc:collections()
  local out = {}
  for _, name in ipairs(names) do
    local c = colls[name]
    local mn, mx, avg, med, sampled = M.stats(c.memory)
    local bmn, bmx, bavg, bmed = M.stats(c.billed)
    out[#out + 1] = { name, mx, mn, med, avg, bmx, bmn, bmed, bavg, sampled }
  end
  return out
end

--- The CSV text: HEADER, then the rows; `eol` defaults to "\r\n" (Python's csv.writer).
function M.encode_csv(rows, eol)
  eol = eol or "\r\n"
  local parts = { csv.encode_row(M.HEADER) }
  for _, r in ipairs(rows) do parts[#parts + 1] = csv.encode_row(r) end
  return table.concat(parts, eol) .. eol
end

return M
