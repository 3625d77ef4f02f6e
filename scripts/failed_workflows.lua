--- failed_workflows: list the FAILED executions of a Step Functions state machine and print
-- their unique errors (the HiTIDE backfill tool's failed_workflow.py, source-systems §1.7).
--
--   gfhost run failed_workflows --workflow-arn ARN [--profile-name P] [--limit N] [--json]
--     [--region R] [--endpoint-url URL] [--page-size 1000] [--concurrency 16] [--threshold 0.7]
--
-- Lists every FAILED execution (ListExecutions, statusFilter FAILED, every page through
-- nextToken; newest first; --limit N stops after the N newest), reads each one's history
-- (GetExecutionHistory, every page) with --concurrency requests in flight, and takes the error
-- the way the original did — details.errorMessage or exception.Cause of the failing state's
-- input — falling back to the failing task event's and the ExecutionFailed event's error and
-- cause (rules: lib/failed_workflows/errors.lua). Errors are grouped by a token
-- Levenshtein similarity after masking numbers, UUIDs, ARNs, URLs, granule ids and other long
-- identifiers; --threshold (0-1) is how similar two errors must be to count as one.
-- Prints the original's lines on stdout ("Number of unique errors found: N", then per error
-- Execution UUID / Execution Arn / Collection / Granule Id / Error, plus "Failed executions : N"
-- and a row of '#'), or one JSON object with --json; a summary goes to stderr.
-- Fixed against the original: a single page of results is read (the original reported 0
-- errors when there was no nextToken), and errors are compared with errors (not whole records).
-- Endpoint: --endpoint-url, else AWS_ENDPOINT_URL_SFN / AWS_ENDPOINT_URL / the profile's
-- endpoint_url, else AWS. Region: --region, else the ARN's region.
-- Exit 0; 1 when a call failed (ListExecutions: nothing printed; a history: the rest is
-- printed and the execution is named on stderr); 2 for bad options.
local args = require("gf.args")
local host = require("gf.host")
local json = require("gf.json")
local log = require("gf.log")
local task = require("gf.task")
local time = require("gf.time")
local awsjson = require("gf.awsjson")
local rules = require("failed_workflows.errors")

local MAX_PAGE = 1000

local function usage_error(msg) host.fail(msg, 2) end

local opts = args.parse({
  name = "failed_workflows", version = "1.0.0",
  description = "List the FAILED executions of a Step Functions state machine and print their unique errors.",
  options = {
    { name = "workflow-arn", type = "string", help = "state machine ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME)" },
    { name = "profile-name", type = "string", help = "AWS profile for the credentials (default: the usual chain)" },
    { name = "limit", type = "integer", help = "scan only the N newest failed executions (default: all)" },
    { name = "region", type = "string", env = false, help = "default: the ARN's region" },
    { name = "endpoint-url", type = "string", env = false, help = "Step Functions endpoint (default: AWS_ENDPOINT_URL_SFN, AWS_ENDPOINT_URL, AWS)" },
    { name = "page-size", type = "integer", default = MAX_PAGE, help = "executions per ListExecutions call (1-1000)" },
    { name = "concurrency", type = "integer", default = 16, help = "execution histories read at once" },
    { name = "threshold", type = "number", default = rules.THRESHOLD, help = "similarity (0-1) at which two errors count as one" },
    { name = "json", type = "boolean", help = "print one JSON object instead of the text lines" },
  },
}, { ... })

-- {====== validation ======
local arn = opts.workflow_arn
if not arn then
  usage_error("missing required option --workflow-arn (the state machine's ARN, arn:aws:states:REGION:ACCOUNT:stateMachine:NAME)")
end
local arn_region = arn:match("^arn:aws[%w%-]*:states:([%w%-]+):%d+:stateMachine:[^:%s]+$")
  or arn:match("^arn:aws[%w%-]*:states:([%w%-]+):%d+:stateMachine:[^:%s]+:[^:%s]+$") -- version / alias
if not arn_region then
  local hint = arn:find(":execution:", 1, true) and " (that is an execution ARN)" or ""
  usage_error(("--workflow-arn: '%s' is not a state machine ARN%s; expected "
    .. "arn:aws:states:REGION:ACCOUNT:stateMachine:NAME"):format(arn, hint))
end
if opts.limit and opts.limit < 1 then usage_error(("--limit must be >= 1, got %d"):format(opts.limit)) end
if opts.page_size < 1 or opts.page_size > MAX_PAGE then
  usage_error(("--page-size must be 1-%d, got %d"):format(MAX_PAGE, opts.page_size))
end
if opts.concurrency < 1 then usage_error(("--concurrency must be >= 1, got %d"):format(opts.concurrency)) end
if not (opts.threshold >= 0 and opts.threshold <= 1) then
  usage_error(("--threshold must be between 0 and 1, got %s"):format(tostring(opts.threshold)))
end
if opts.endpoint_url and not opts.endpoint_url:match("^https?://[^/%s]+") then
  usage_error(("--endpoint-url must be an http(s) URL, got '%s'"):format(opts.endpoint_url))
end
-- }======

local client = awsjson.client({ service = "states", region = opts.region or arn_region,
  endpoint = opts.endpoint_url, profile = opts.profile_name })

-- Every page of FAILED executions, fetched by a task one page ahead of the history readers.
local function list_pages(pages, st)
  local token
  local listed = 0
  repeat
    local want = opts.page_size
    if opts.limit then want = math.min(want, opts.limit - listed) end
    local req = { stateMachineArn = arn, statusFilter = "FAILED", maxResults = want, nextToken = token }
    local r, msg, code = client:call("ListExecutions", req)
    if not r then
      st.list_error, st.list_code = msg, code
      break
    end
    st.pages = st.pages + 1
    local exs = type(r.executions) == "table" and r.executions or {}
    if opts.limit and #exs > opts.limit - listed then
      local cut = {}
      for i = 1, opts.limit - listed do cut[i] = exs[i] end
      exs = cut
    end
    listed = listed + #exs
    if #exs > 0 then pages:send(exs) end
    token = type(r.nextToken) == "string" and r.nextToken ~= "" and r.nextToken or nil
  until not token or (opts.limit and listed >= opts.limit)
  pages:close()
end

-- One execution's history, every page, reduced to what record() needs.
local function read_history(ex)
  if type(ex) ~= "table" or type(ex.executionArn) ~= "string" then
    return { read_error = "ListExecutions returned an entry without executionArn", code = "parse" }
  end
  local s = rules.scanner()
  local token
  repeat
    local r, msg, code = client:call("GetExecutionHistory",
      { executionArn = ex.executionArn, maxResults = MAX_PAGE, nextToken = token })
    if not r then return { execution_arn = ex.executionArn, read_error = msg, code = code } end
    if type(r.events) == "table" then
      for _, ev in ipairs(r.events) do s:add(ev) end
    end
    token = type(r.nextToken) == "string" and r.nextToken ~= "" and r.nextToken or nil
  until not token
  return rules.record(ex, s)
end

local t0 = time.monotonic()
local st = { pages = 0 }
local records, unreadable = {}, {}
local pages = task.channel(2)
local lister = task.spawn(list_pages, pages, st)
while true do
  local exs = pages:recv()
  if not exs then break end
  local results, failures = task.map(exs, read_history, { concurrency = opts.concurrency })
  for i = 1, #exs do
    local r = results[i]
    if r and not r.read_error then
      records[#records + 1] = r
    elseif r then
      unreadable[#unreadable + 1] = r
    end
  end
  for _, f in ipairs(failures) do
    local a = type(f.item) == "table" and f.item.executionArn or "?"
    unreadable[#unreadable + 1] = { execution_arn = a, read_error = tostring(f.error), code = "error" }
  end
end
local ok, err = task.wait(lister)
if not ok then host.fail("failed_workflows: " .. tostring(err), 1) end
if st.list_error then
  local hint = st.list_code == "not_found" and " (check --workflow-arn, --region and the endpoint)" or ""
  host.fail("failed_workflows: " .. st.list_error .. hint, 1)
end

local groups = rules.group(records, { threshold = opts.threshold })
local secs = time.monotonic() - t0
local scanned = #records + #unreadable

if opts.json then
  local doc = {
    state_machine_arn = arn, failed_executions = scanned, pages = st.pages,
    unique_errors = #groups, threshold = opts.threshold, unreadable = #unreadable,
    seconds = secs, groups = json.array(), errors = json.array(),
  }
  for _, g in ipairs(groups) do
    local f = g.first
    local members = json.array()
    for _, r in ipairs(g.members) do
      members[#members + 1] = { execution_arn = r.execution_arn, name = r.name,
        execution_name = r.execution_name, collection = r.collection, granule_id = r.granule_id,
        error = r.error, error_type = r.error_type, source = r.source, state = r.state,
        start_date = r.start_date, stop_date = r.stop_date }
    end
    doc.groups[#doc.groups + 1] = {
      count = g.count, pattern = g.pattern, error = f.error, message = f.message,
      error_types = json.array(g.error_types), execution_name = f.execution_name,
      execution_arn = f.execution_arn, collection = f.collection, granule_id = f.granule_id,
      executions = members,
    }
  end
  for _, u in ipairs(unreadable) do
    doc.errors[#doc.errors + 1] = { execution_arn = u.execution_arn, message = u.read_error, code = u.code }
  end
  io.stdout:write(json.encode(doc, { sort_keys = true }), "\n")
else
  io.stdout:write(table.concat(rules.text_lines(groups), "\n"), "\n")
end

for _, u in ipairs(unreadable) do
  log.error("could not read the execution history", { execution = u.execution_arn, error = u.read_error })
end
io.stderr:write(("Scanned %d FAILED executions (%d ListExecutions pages) in %.2f s (%.1f executions/s): "
  .. "%d unique errors, %d histories unreadable\n"):format(scanned, st.pages, secs,
  secs > 0 and scanned / secs or 0, #groups, #unreadable))
if #unreadable > 0 then
  host.fail(("failed_workflows: %d of %d execution histories could not be read"):format(#unreadable, scanned), 1)
end
return 0
