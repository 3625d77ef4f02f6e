--- memory_profile.query: CloudWatch Logs Insights queries over time windows, through a
-- gf.awsjson client for the "logs" service (StartQuery, GetQueryResults, StopQuery).
--
-- run_window(client, window, opts) -> rows, info | nil, message, code
--   StartQuery {logGroupName, startTime, endTime, queryString, limit} for the window, then
--   GetQueryResults until the status is Complete, waiting opts.poll seconds first and
--   opts.factor times longer after each poll, up to opts.max_poll.
--   rows: the Complete response's `results` (partial Running results are never used);
--   info: {query_id =, polls =, statistics =, truncated = bool (as many rows as the limit,
--   or fewer rows than statistics.recordsMatched)}.
--   Failures (the message always names the window, "window 2/3 <start>..<stop>: ..."):
--     the query ends Failed, Cancelled or Timeout          -> code "service"
--     still Scheduled/Running/Unknown after opts.timeout s -> code "timeout" (StopQuery is sent)
--     a StartQuery/GetQueryResults call fails              -> the call's code (not_found, auth, ...)
--     a response without queryId / status                  -> code "parse"
--   StartQuery answered LimitExceededException/throttling is retried opts.start_attempts times
--   with the same backoff (the account's concurrent-query quota is shared).
--   opts: log_group, query, limit (required); poll (1), factor (1.5), max_poll (10),
--   timeout (1800), start_attempts (6), sleep (gf.task.sleep), clock (gf.time.monotonic),
--   total (number of windows, for the label).
-- run(client, windows, opts) -> failures
--   every window through run_window with at most opts.concurrency (default 4) queries at once
--   (gf.task.map). opts.on_rows(window, rows, info) gets each Complete window's rows as it
--   finishes; opts.on_done(window, ok) after each window. A call failure that would fail every
--   window the same way (not_found, auth, invalid_input) stops the windows not yet started.
--   failures: list by window order of {window =, message =, code =} (skipped windows are not
--   listed; failures.skipped counts them).
local mp = require("memory_profile.insights")

local M = {}

local TERMINAL_FAIL = { Failed = true, Cancelled = true, Timeout = true }
local PENDING = { Scheduled = true, Running = true, Unknown = true }
local FATAL = { not_found = true, auth = true, invalid_input = true }

local function label(w, total)
  return ("window %d/%d %s"):format(w.index, total or w.index, mp.window_label(w))
end

local function defaults(opts)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  for _, k in ipairs({ "log_group", "query", "limit" }) do
    if o[k] == nil then error(("memory_profile_query: opts.%s is required"):format(k), 3) end
  end
  o.poll = o.poll or 1
  o.factor = o.factor or 1.5
  o.max_poll = o.max_poll or 10
  o.timeout = o.timeout or 1800
  o.start_attempts = o.start_attempts or 6
  if not o.sleep then o.sleep = require("gf.task").sleep end
  if not o.clock then o.clock = require("gf.time").monotonic end
  return o
end

local function next_wait(o, wait)
  return math.min(o.max_poll, wait * o.factor)
end

local function start(client, w, o, name)
  local body = { logGroupName = o.log_group, startTime = w.start, endTime = w.stop,
    queryString = o.query, limit = o.limit }
  local wait = o.poll
  for attempt = 1, o.start_attempts do
    local r, msg, code = client:call("StartQuery", body)
    if r then
      if type(r.queryId) ~= "string" or r.queryId == "" then
        return nil, name .. ": StartQuery answered without a queryId", "parse"
      end
      return r.queryId
    end
    if code ~= "throttled" or attempt == o.start_attempts then
      return nil, ("%s: %s"):format(name, msg), code
    end
    o.sleep(wait)
    wait = next_wait(o, wait)
  end
end

local function stop_query(client, id)
  -- best effort: frees the account's concurrent-query slot; its outcome changes nothing
  client:call("StopQuery", { queryId = id })
end

function M.run_window(client, w, opts)
  if type(client) ~= "table" or type(client.call) ~= "function" then
    error("bad argument #1 to 'run_window' (client with :call expected)", 2)
  end
  if type(w) ~= "table" or math.type(w.start) ~= "integer" or math.type(w.stop) ~= "integer" then
    error("bad argument #2 to 'run_window' (window {start =, stop =} expected)", 2)
  end
  local o = defaults(opts)
  local name = label(w, o.total)
  local id, msg, code = start(client, w, o, name)
  if not id then return nil, msg, code end
  local t0 = o.clock()
  local wait = o.poll
  local polls = 0
  while true do
    o.sleep(wait)
    polls = polls + 1
    local r, err, ecode = client:call("GetQueryResults", { queryId = id }, { resource = id })
    if not r then return nil, ("%s: %s"):format(name, err), ecode end
    local status = r.status
    if status == "Complete" then
      local rows = type(r.results) == "table" and r.results or {}
      local stats = type(r.statistics) == "table" and r.statistics or {}
      local matched = tonumber(stats.recordsMatched)
      return rows, { query_id = id, polls = polls, statistics = stats,
        truncated = #rows >= o.limit or (matched ~= nil and matched > #rows) }
    elseif TERMINAL_FAIL[status] then
      return nil, ("%s: query %s ended %s"):format(name, id, status), "service"
    elseif not PENDING[status] then
      return nil, ("%s: query %s: unexpected status %s"):format(name, id, tostring(status)), "parse"
    end
    local elapsed = o.clock() - t0
    if elapsed >= o.timeout then
      stop_query(client, id)
      return nil, ("%s: query %s still %s after %gs (stopped)"):format(name, id, status, o.timeout),
        "timeout"
    end
    wait = math.min(next_wait(o, wait), math.max(o.timeout - elapsed, 0.001))
  end
end

function M.run(client, windows, opts)
  local task = require("gf.task")
  local o = defaults(opts)
  o.total = o.total or #windows
  local failures = { skipped = 0 }
  local stop_reason
  local bad = {}
  local function one(w)
    if stop_reason then
      failures.skipped = failures.skipped + 1
      return false
    end
    local rows, info, code = M.run_window(client, w, o)
    if rows then
      if o.on_rows then o.on_rows(w, rows, info) end
      if o.on_done then o.on_done(w, true) end
      return true
    end
    bad[w.index] = { window = w, message = info, code = code }
    if FATAL[code] then stop_reason = info end
    if o.on_done then o.on_done(w, false) end
    return false
  end
  local _, raised = task.map(windows, one, { concurrency = o.concurrency or 4 })
  for _, f in ipairs(raised or {}) do
    bad[f.item.index] = { window = f.item, message = ("%s: %s"):format(label(f.item, o.total),
      tostring(f.error)), code = "error" }
  end
  for _, w in ipairs(windows) do
    if bad[w.index] then failures[#failures + 1] = bad[w.index] end
  end
  return failures
end

return M
