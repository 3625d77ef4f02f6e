--- memory_profile: Lambda memory and billed duration per collection from CloudWatch Logs Insights
-- (the HiTIDE backfill tool's backfill_memory_profiler, memory_profiler.py; source-systems §1.7).
--
--   gfhost run memory_profile --aws_lambda_log svc-tig-podaac-services-uat-hitide-backfill-lambda \
--     --aws_profile service-uat [--start_time 1] [--output collection_statistics.csv]
--   gfhost run memory_profile --aws_lambda_log NAME --start 2024-05-01T00:00Z --end 2024-05-01T06:00Z \
--     --concurrency 8 --output -
--
-- Queries the log group /aws/lambda/<aws_lambda_log> (or a full group name starting with "/")
-- with the original's query (memory_profile.insights.QUERY), limit 10000, in 300 s windows
-- (--window) over the last --start_time hours (or --start/--end, end exclusive), --concurrency
-- queries at once, polling GetQueryResults with backoff (--poll doubling by 1.5 up to --max-poll)
-- until Complete. Joins the JSON log lines (aws_request_id, collection) with the REPORT lines
-- (RequestId, Max Memory Used, Billed Duration) and writes the original's CSV (header
-- Collection,Mem Max,Mem Min,Mem Med,Mem Avg,Bill Max,Bill Min,Bill Med,Bill Avg,Sampled; CRLF
-- line ends as Python's csv module) to --output (default collection_statistics.csv, written
-- atomically; "-" for stdout). Progress and the summary go to stderr.
-- Exit 0 on success, 1 when any window failed (no CSV is written then: the statistics would be
-- silently partial), 2 for bad options.
local args = require("gf.args")
local awsjson = require("gf.awsjson")
local fs = require("gf.fs")
local host = require("gf.host")
local log = require("gf.log")
local task = require("gf.task")
local time = require("gf.time")
local mp = require("memory_profile.insights")
local query = require("memory_profile.query")

local function fail(msg, code) host.fail("memory_profile: " .. msg, code or 2) end

local opts = args.parse({
  name = "memory_profile", version = "1.0.0",
  description = "Lambda memory and billed-duration statistics per collection from CloudWatch Logs Insights.",
  options = {
    { name = "aws_lambda_log", type = "string", required = true, metavar = "NAME",
      help = "Lambda function name (log group /aws/lambda/NAME), or a full log group name starting with /" },
    { name = "aws_profile", type = "string", help = "AWS profile (default: the credentials chain)" },
    { name = "start_time", type = "number", default = 1, metavar = "HOURS",
      help = "start this many hours ago (ignored with --start)" },
    { name = "start", type = "string", metavar = "ISO8601", help = "start of the range (UTC unless an offset is given)" },
    { name = "end", type = "string", metavar = "ISO8601", help = "end of the range, exclusive (default: now)" },
    { name = "window", type = "duration", default = "300", help = "seconds per query window (300 as the original)" },
    { name = "concurrency", type = "integer", default = 4, help = "queries running at once (1-30; the account quota is 30)" },
    { name = "limit", type = "integer", default = mp.LIMIT, help = "log events per window (1-10000)" },
    { name = "poll", type = "number", default = 1, help = "first wait before polling a query, seconds" },
    { name = "max-poll", type = "number", default = 10, help = "longest wait between polls, seconds" },
    { name = "query-timeout", type = "duration", default = "30m", help = "give up on a window's query after this long" },
    { name = "output", short = "o", type = "string", default = "collection_statistics.csv", help = "CSV file, or - for stdout" },
    { name = "region", type = "string", help = "AWS region (default: the profile's, AWS_REGION, us-east-1)" },
    { name = "endpoint-url", type = "string", env = "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
      help = "CloudWatch Logs endpoint (a local or private one)" },
  },
}, { ... })

-- {{{ validation
local function parse_time(name, text)
  local t, msg = time.parse_iso8601(text)
  if not t then fail(("--%s '%s': not an ISO-8601 time (%s)"):format(name, text, msg)) end
  return t
end

-- whole seconds: the end is exclusive, so a fractional --end is rounded up, "now" down
local stop = opts["end"] and math.ceil(parse_time("end", opts["end"])) or math.floor(time.now())
local start
if opts.start then
  start = math.floor(parse_time("start", opts.start))
else
  if not (opts.start_time > 0 and opts.start_time < math.huge) then
    fail(("--start-time %s: must be a positive number of hours"):format(tostring(opts.start_time)))
  end
  start = stop - math.floor(opts.start_time * 3600 + 0.5)
end
if stop <= start then
  if not opts.start then fail(("--start-time %s: shorter than a second"):format(tostring(opts.start_time))) end
  fail(("--start %s is not before --end %s"):format(time.iso8601(start), time.iso8601(stop)))
end
local width = math.tointeger(opts.window)
if not width or width < 1 then
  fail(("--window %s: must be a whole number of seconds >= 1"):format(tostring(opts.window)))
end
if opts.concurrency < 1 or opts.concurrency > 30 then
  fail(("--concurrency %d: must be 1-30"):format(opts.concurrency))
end
if opts.limit < 1 or opts.limit > 10000 then fail(("--limit %d: must be 1-10000"):format(opts.limit)) end
if not (opts.poll > 0) then fail(("--poll %s: must be > 0"):format(tostring(opts.poll))) end
if not (opts.max_poll >= opts.poll) then
  fail(("--max-poll %s: must be >= --poll %s"):format(tostring(opts.max_poll), tostring(opts.poll)))
end
if not (opts.query_timeout > 0) then fail("--query-timeout: must be > 0") end
if opts.aws_lambda_log == "" then fail("--aws-lambda-log: empty") end
local group = mp.log_group(opts.aws_lambda_log)
if not group:match("^[%.%-_/#A-Za-z0-9]+$") or #group > 512 then
  fail(("--aws-lambda-log %s: log group %s is not a valid name"):format(opts.aws_lambda_log, group))
end
local MAX_WINDOWS = 10000
if (stop - start) / width > MAX_WINDOWS then
  fail(("%s..%s in %d s windows is %d queries (more than %d): use a larger --window or a shorter range")
    :format(time.iso8601(start), time.iso8601(stop), width, math.ceil((stop - start) / width), MAX_WINDOWS))
end
local windows, werr = mp.windows(start, stop, width)
if not windows then fail(werr) end
-- }}}

local client = awsjson.client({ service = "logs", region = opts.region, profile = opts.aws_profile,
  endpoint = opts.endpoint_url })

log.info("querying CloudWatch Logs Insights", { log_group = group, start = time.iso8601(start),
  ["end"] = time.iso8601(stop), windows = #windows, window_s = width, concurrency = opts.concurrency,
  endpoint = client.endpoint })

local acc = mp.new()
local progress = require("gf.progress").new({ total = #windows, label = "windows" })
local rows_seen, truncated = 0, 0
local t0 = time.monotonic()

local failures = query.run(client, windows, {
  log_group = group, query = mp.QUERY, limit = opts.limit, concurrency = opts.concurrency,
  poll = opts.poll, max_poll = opts.max_poll, timeout = opts.query_timeout,
  on_rows = function(w, rows, info)
    for i, row in ipairs(rows) do
      local text = mp.message_of(row)
      if text then acc:add(text, w.index * 100000 + i) end
    end
    rows_seen = rows_seen + #rows
    if info.truncated then
      truncated = truncated + 1
      log.warn("window results may be truncated; use a smaller --window", { window = mp.window_label(w),
        rows = #rows, matched = info.statistics.recordsMatched, limit = opts.limit })
    end
  end,
  on_done = function(_, ok) progress:tick(1, { failed = not ok }) end,
})
progress:finish()
if task.interrupted() then error("interrupted", 0) end

if #failures > 0 or failures.skipped > 0 then
  for _, f in ipairs(failures) do log.error(f.message, { code = f.code }) end
  local first = failures[1] and failures[1].message or "unknown"
  local extra = failures.skipped > 0 and (", %d not run after it"):format(failures.skipped) or ""
  fail(("%d of %d windows failed%s; no CSV written. First: %s"):format(#failures, #windows, extra, first), 1)
end

local rows = mp.rows(acc)
local text = mp.encode_csv(rows)
if opts.output == "-" then
  io.stdout:write(text)
  io.stdout:flush()
else
  local ok, msg = fs.write_atomic(opts.output, text)
  if not ok then fail(("--output %s: %s"):format(opts.output, msg), 1) end
end

io.stderr:write(("%d windows, %d log events (%d skipped), %d requests, %d collections in %.1f s%s -> %s\n")
  :format(#windows, rows_seen, acc.skipped, (function()
    local n = 0
    for _ in pairs(acc.requests) do n = n + 1 end
    return n
  end)(), #rows, time.monotonic() - t0,
  truncated > 0 and (", %d windows possibly truncated"):format(truncated) or "",
  opts.output == "-" and "stdout" or opts.output))
return 0
