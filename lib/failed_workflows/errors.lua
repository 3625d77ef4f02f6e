--- failed_workflows.errors: the rules of `gfhost run failed_workflows` — what a FAILED Step
-- Functions execution's history says went wrong, and which errors are "the same".
--
-- scanner() -> s                 s:add(event) for every GetExecutionHistory event, in order;
--                                 keeps only the last state-entered event, the last failed /
--                                 timed-out task event and the ExecutionFailed event
-- record(execution, s) -> r      what one execution failed with (execution = a ListExecutions
--                                 entry: executionArn, name, startDate, stopDate):
--   r = {execution_arn, name, execution_name, collection, granule_id, error, error_type,
--        message, source, start_date, stop_date}
--   execution_name: cumulus_meta.execution_name of the failing state's input (else the
--     execution's name); collection / granule_id: payload.granules[1].dataType / .granuleId
--     (collection falls back to meta.collection.name). error: the first of
--     details.errorMessage, exception.Cause of that input (what the original read), the
--     failing task event's cause (else its error), the ExecutionFailed event's cause (else its
--     error); source says which ("details", "exception", "task", "execution", "none").
--     message: error, or the errorMessage inside it when it is a Lambda error object
--     ({"errorMessage":..,"errorType":..,"stackTrace":..}); it is what gets compared.
-- normalize(text, {granule_id =, collection =}) -> pattern
--   masks the variable parts: the record's own granule id and collection, ARNs, URLs, UUIDs,
--   long identifiers (>= 20 of [%w._-] with a digit, not all hex), hex words (>= 8 with a digit),
--   numbers (every digit run, also inside words: md5 -> md<n>)
-- tokens(pattern) -> list of lower-case words ([%w_<>]+; punctuation dropped; at most 200)
-- similarity(a, b) -> 0..1       token lists: 1 - levenshtein(a, b) / max(#a, #b)  (both empty: 1)
-- levenshtein(a, b [, limit]) -> edit distance between token lists (insert, delete, replace a
--                                 token); with limit, limit + 1 as soon as it must exceed limit
-- group(records, {threshold = 0.7}) -> groups
--   greedy, in record order: a record joins the most similar existing group whose first
--   member's tokens are at least `threshold` similar (identical patterns join at once),
--   else starts a new group. groups = list of {count, pattern, first = record, members =
--   {record...}, error_types = {type...}}, sorted by count (descending), then first seen.
-- text_lines(groups) -> list of the original's output lines
--   "Number of unique errors found: N", then per group "Execution UUID :  ", "Execution Arn :  ",
--   "Collection : ", "Granule Id : ", "Error :  " (the first member's values; a missing value
--   prints None like the original's Python), "Failed executions : N", and a row of 61 '#'.
local json = require("gf.json")

local M = {}

M.THRESHOLD = 0.7
M.MAX_TOKENS = 200
M.RULE = ("#"):rep(61)

local function argcheck(cond, n, fname, msg)
  if not cond then error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3) end
end

local function str(v)
  if type(v) == "string" and v ~= "" then return v end
  return nil
end

local function tbl(v)
  if type(v) == "table" then return v end
  return nil
end

-- {====== history ======

local Scanner = {}
Scanner.__index = Scanner

function M.scanner()
  return setmetatable({ events = 0 }, Scanner)
end

local function details_of(ev)
  for k, v in pairs(ev) do
    if type(k) == "string" and k:match("EventDetails$") and type(v) == "table" then return v end
  end
  return nil
end

function Scanner:add(ev)
  if type(ev) ~= "table" then return end
  self.events = self.events + 1
  local t = ev.type
  if type(t) ~= "string" then return end
  if t == "ExecutionFailed" then
    self.failed = tbl(ev.executionFailedEventDetails) or {}
  elseif t:match("StateEntered$") then
    self.entered = tbl(ev.stateEnteredEventDetails) or {}
  elseif (t:match("Failed$") or t:match("TimedOut$")) and not t:match("^Execution") then
    local d = details_of(ev) or {}
    self.task = { type = t, error = str(d.error), cause = str(d.cause) }
  end
end

-- }======

-- {====== record ======

-- A Lambda error object serialised into a cause: {"errorMessage": ..., "errorType": ...}.
local function lambda_error(text)
  if type(text) ~= "string" or not text:match("^%s*{") then return nil end
  local t = json.decode(text)
  if type(t) == "table" and str(t.errorMessage) then return t end
  return nil
end

function M.record(ex, s)
  argcheck(ex == nil or type(ex) == "table", 1, "record", "table expected, got " .. type(ex))
  argcheck(getmetatable(s) == Scanner, 2, "record", "scanner expected")
  ex = ex or {}
  local r = {
    execution_arn = ex.executionArn, name = ex.name,
    start_date = ex.startDate, stop_date = ex.stopDate,
  }
  local input
  if s.entered and str(s.entered.input) then
    input = tbl(json.decode(s.entered.input))
  end
  input = input or {}
  r.state = s.entered and str(s.entered.name)
  local meta = tbl(input.cumulus_meta)
  r.execution_name = (meta and str(meta.execution_name)) or ex.name
  local payload = tbl(input.payload)
  local granule = payload and tbl(payload.granules) and tbl(payload.granules[1])
  if granule then
    r.granule_id = str(granule.granuleId)
    r.collection = str(granule.dataType)
  end
  if not r.collection then
    local m = tbl(input.meta)
    local c = m and tbl(m.collection)
    r.collection = c and str(c.name)
  end

  local details, exception = tbl(input.details), tbl(input.exception)
  local task, failed = s.task, s.failed
  local err, etype, source
  if details and str(details.errorMessage) then
    err, etype, source = details.errorMessage, str(details.errorType) or str(details.Error), "details"
  elseif exception and (str(exception.Cause) or str(exception.cause)) then
    err = str(exception.Cause) or str(exception.cause)
    etype, source = str(exception.Error) or str(exception.error), "exception"
  elseif task and (task.cause or task.error) then
    err, etype, source = task.cause or task.error, task.error, "task"
  elseif failed and (str(failed.cause) or str(failed.error)) then
    err, etype, source = str(failed.cause) or str(failed.error), str(failed.error), "execution"
  else
    source = "none"
  end
  etype = etype or (task and task.error) or (failed and str(failed.error))
  r.error, r.error_type, r.source = err, etype, source
  local le = lambda_error(err)
  if le then
    r.message = le.errorMessage
    r.error_type = r.error_type or str(le.errorType)
  else
    r.message = err or etype or ""
  end
  return r
end

-- }======

-- {====== similarity ======

local UUID = "%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x"

local function plain(s)
  return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"))
end

function M.normalize(text, ctx)
  argcheck(text == nil or type(text) == "string", 1, "normalize", "string expected, got " .. type(text))
  argcheck(ctx == nil or type(ctx) == "table", 2, "normalize", "table expected, got " .. type(ctx))
  local s = text or ""
  ctx = ctx or {}
  -- the record's own granule id and collection first: they hold digits the masks below would split
  if str(ctx.granule_id) and #ctx.granule_id >= 3 then s = s:gsub(plain(ctx.granule_id), "<granule>") end
  if str(ctx.collection) and #ctx.collection >= 3 then s = s:gsub(plain(ctx.collection), "<collection>") end
  s = s:gsub("arn:[%w%-]+:[^%s\"',;)%]}]+", "<arn>")
  s = s:gsub("%a[%w+.%-]*://[^%s\"',;)%]}]+", "<url>")
  s = s:gsub(UUID, "<uuid>")
  s = s:gsub("[%w._%-]+", function(w)
    if #w >= 20 and w:find("%d") and w:find("[^%x]") then return "<id>" end
  end)
  s = s:gsub("%f[%w]%x+%f[^%w]", function(w)
    if #w >= 8 and w:find("%d") then return "<hex>" end
  end)
  s = s:gsub("%d+%.?%d*", "<n>")
  s = s:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
  return s
end

function M.tokens(pattern)
  argcheck(type(pattern) == "string", 1, "tokens", "string expected, got " .. type(pattern))
  local out = {}
  for w in pattern:lower():gmatch("[%w_<>]+") do
    out[#out + 1] = w
    if #out >= M.MAX_TOKENS then break end
  end
  return out
end

-- Token edit distance; with `limit`, stops once every path is longer and returns limit + 1.
local function levenshtein(a, b, limit)
  local n, m = #a, #b
  if n == 0 then return m end
  if m == 0 then return n end
  limit = limit or math.huge
  local prev, cur = {}, {}
  for j = 0, m do prev[j] = j end
  for i = 1, n do
    cur[0] = i
    local ai = a[i]
    local low = i
    for j = 1, m do
      local cost = (ai == b[j]) and 0 or 1
      local v = prev[j - 1] + cost
      local d = prev[j] + 1
      if d < v then v = d end
      local ins = cur[j - 1] + 1
      if ins < v then v = ins end
      cur[j] = v
      if v < low then low = v end
    end
    if low > limit then return limit + 1 end
    prev, cur = cur, prev
  end
  return prev[m]
end
M.levenshtein = levenshtein

function M.similarity(a, b)
  argcheck(type(a) == "table", 1, "similarity", "table expected, got " .. type(a))
  argcheck(type(b) == "table", 2, "similarity", "table expected, got " .. type(b))
  local n = math.max(#a, #b)
  if n == 0 then return 1.0 end
  return 1.0 - levenshtein(a, b) / n
end

function M.group(records, opts)
  argcheck(type(records) == "table", 1, "group", "table expected, got " .. type(records))
  argcheck(opts == nil or type(opts) == "table", 2, "group", "table expected, got " .. type(opts))
  local threshold = (opts and opts.threshold) or M.THRESHOLD
  argcheck(type(threshold) == "number" and threshold >= 0 and threshold <= 1, 2, "group",
    "threshold must be a number from 0 to 1")
  local groups, by_pattern = {}, {}
  for i, r in ipairs(records) do
    argcheck(type(r) == "table", 1, "group", ("record %d is a %s, not a table"):format(i, type(r)))
    local pat = M.normalize(r.message, r)
    local g = by_pattern[pat]
    if not g then
      local toks = M.tokens(pat)
      local best, best_sim = nil, -1
      for _, cand in ipairs(groups) do
        -- the length difference alone bounds the similarity: skip hopeless candidates
        local a, b = #toks, #cand.tokens
        local bound = (a == 0 and b == 0) and 1 or math.min(a, b) / math.max(a, b)
        if bound >= threshold and bound > best_sim then
          -- only a distance that beats both the threshold and the best so far matters
          local n = math.max(a, b)
          local need = math.max(threshold, best_sim)
          local limit = math.floor((1 - need) * n + 1e-9)
          local sim = n == 0 and 1.0 or 1.0 - levenshtein(toks, cand.tokens, limit) / n
          if sim >= threshold and sim > best_sim then best, best_sim = cand, sim end
        end
      end
      g = best
      if not g then
        g = { pattern = pat, tokens = toks, first = r, members = {}, error_types = {}, order = i,
          seen_types = {} }
        groups[#groups + 1] = g
      end
      by_pattern[pat] = g
    end
    g.members[#g.members + 1] = r
    local t = r.error_type
    if t and not g.seen_types[t] then
      g.seen_types[t] = true
      g.error_types[#g.error_types + 1] = t
    end
  end
  for _, g in ipairs(groups) do
    g.count = #g.members
    g.seen_types, g.tokens = nil, nil
  end
  table.sort(groups, function(x, y)
    if x.count ~= y.count then return x.count > y.count end
    return x.order < y.order
  end)
  for _, g in ipairs(groups) do g.order = nil end
  return groups
end

-- }======

local function py(v)
  if v == nil then return "None" end
  return tostring(v)
end

function M.text_lines(groups)
  argcheck(type(groups) == "table", 1, "text_lines", "table expected, got " .. type(groups))
  local out = { ("Number of unique errors found: %d"):format(#groups) }
  for _, g in ipairs(groups) do
    local r = g.first
    out[#out + 1] = "Execution UUID :  " .. py(r.execution_name)
    out[#out + 1] = "Execution Arn :  " .. py(r.execution_arn)
    out[#out + 1] = "Collection : " .. py(r.collection)
    out[#out + 1] = "Granule Id : " .. py(r.granule_id)
    out[#out + 1] = "Error :  " .. py(r.error)
    out[#out + 1] = ("Failed executions : %d"):format(g.count)
    out[#out + 1] = M.RULE
  end
  return out
end

return M
