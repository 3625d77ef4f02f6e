--- cirrus_update: apply Cirrus update-state to executions that ended (COMPLETED with outputs and published items, FAILED, INVALID, ABORTED).
--
--   gfhost run cirrus_update --collections-workflow C_W [--collections-workflow ...] [--statedb ...]
--       [--base-workflow-arn ARN] [--payload-bucket ...] [--publish-topic ARN] [--event-topic ARN]
--       [--queue URL] [--follow --poll 15 --timeout 3600]
--   gfhost run cirrus_update --payload-id ID [--payload-id ...]
--   gfhost run cirrus_update --events FILE|-      # Step Functions status-change events (EventBridge)
--
-- For every PROCESSING record of the given collections_workflow keys (or the named payloads),
-- its last execution is described (DescribeExecution); one that ended is applied as Cirrus'
-- update-state lambda does: SUCCEEDED -> COMPLETED with the output items' self links as
-- outputs, each item published to --publish-topic with its attributes, chained payloads
-- (process[1..]) sent to --queue; FAILED / TIMED_OUT -> FAILED with last_error
-- "<Error>: <cause>" (INVALID for InvalidInput errors); ABORTED -> ABORTED. Workflow events go to
-- --event-topic. --events reads EventBridge "Step Functions Execution Status Change" events
-- (NDJSON or one document; detail.executionArn, status, input, output, error, cause), the
-- lambda's own input. --dry-run prints each ended execution's status and would-be last_error
-- and writes nothing. --follow repeats every --poll seconds until nothing is running (or
-- --timeout). Prints one JSON line per record changed; exit 1 when a call failed.
local args = require("gf.args")
local host = require("gf.host")
local json = require("gf.json")
local log = require("gf.log")
local task = require("gf.task")
local time = require("gf.time")
local core = require("cirrus.core")
local deploy = require("cirrus.deploy")

local opts = args.parse({
  name = "cirrus_update", version = "1.0.0", env_prefix = false,
  description = "Apply Cirrus update-state to executions that ended.",
  options = deploy.options({ "statedb", "payloads", "workflow", "topics", "queue", "region" }, {
    { name = "collections-workflow", repeatable = true, help = "check the PROCESSING records of this key" },
    { name = "payload-id", repeatable = true, help = "check this payload" },
    { name = "events", metavar = "FILE|-", help = "apply Step Functions status-change events instead" },
    { name = "follow", type = "boolean", help = "repeat until no execution is running" },
    { name = "poll", type = "number", default = 15, help = "--follow: seconds between rounds" },
    { name = "timeout", type = "number", default = 3600, help = "--follow: give up after this many seconds" },
    { name = "dry-run", type = "boolean", help = "print what each ended execution would set; write and publish nothing" },
  }),
}, ...)

if #opts.collections_workflow == 0 and #opts.payload_id == 0 and not opts.events then
  host.fail("cirrus_update: give --collections-workflow, --payload-id or --events", 2)
end
local d, dmsg = deploy.open(opts, { sfn = false })
if not d then host.fail("cirrus_update: " .. dmsg, 1) end
d.sfn = require("gf.awsjson").client({ service = "states", region = d.region })

local st = { checked = 0, running = 0, updated = 0, failed = 0 }

local function report(id, arn, final, le)
  st.updated = st.updated + 1
  io.stdout:write(json.encode({ payload_id = id, execution = arn, state = final, last_error = le },
    { sort_keys = true }), "\n")
end

local function apply(id, arn, desc)
  if opts.dry_run then
    st.updated = st.updated + 1
    io.stdout:write(json.encode({ payload_id = id, execution = arn, status = desc.status, dry_run = true,
      last_error = (desc.status == "FAILED" and core.last_error(desc.error, desc.cause)) or nil },
      { sort_keys = true }), "\n")
    return
  end
  local final, le = core.update(d, id, { status = desc.status, output = desc.output, error = desc.error,
    cause = desc.cause, execution = arn, execution_id = arn:match(":([^:]+)$") })
  if not final then
    st.failed = st.failed + 1
    log.error("update-state failed", { payload_id = id, error = le })
    return
  end
  report(id, arn, final, le)
end

local function check(rec)
  st.checked = st.checked + 1
  local ex = rec.executions or {}
  local arn = ex[#ex]
  if not arn then return end
  local desc, msg = core.describe(d, arn)
  if not desc then
    st.failed = st.failed + 1
    log.error("execution not described", { payload_id = rec.payload_id, execution = arn, error = msg })
    return
  end
  if desc.status == "RUNNING" then
    st.running = st.running + 1
    return
  end
  if desc.status == "FAILED" then
    desc.error, desc.cause = core.execution_error(d, desc.executionArn or arn, desc)
  end
  apply(rec.payload_id, arn, desc)
end

local function round()
  st.running = 0
  local recs = {}
  for _, cw in ipairs(opts.collections_workflow) do
    local items, msg = d.state:query_all({ collections_workflow = cw, state = "PROCESSING" })
    if not items then host.fail("cirrus_update: " .. msg, 1) end
    for _, it in ipairs(items) do recs[#recs + 1] = it end
  end
  for _, id in ipairs(opts.payload_id) do
    local rec, msg, code = d.state:get(id)
    if rec and rec.state == "PROCESSING" then
      recs[#recs + 1] = rec
    elseif not rec and code ~= "not_found" then
      host.fail("cirrus_update: " .. msg, 1)
    elseif not rec then
      log.warn("no state record", { payload_id = id })
    end
  end
  local _, failures = task.map(recs, check, { concurrency = 16 })
  for _, f in ipairs(failures) do
    st.failed = st.failed + 1
    log.error("update-state raised", { error = tostring(f.error) })
  end
end

local function events()
  local text = opts.events == "-" and io.stdin:read("a") or assert(io.open(opts.events, "rb")):read("a")
  local docs = {}
  local one = json.decode(text)
  if one ~= nil then docs = json.is_array(one) and one or { one } else
    for line in text:gmatch("[^\n]+") do
      if line:match("%S") then
        local v, msg = json.decode(line)
        if v == nil then host.fail("cirrus_update: --events: " .. msg, 1) end
        docs[#docs + 1] = v
      end
    end
  end
  for _, ev in ipairs(docs) do
    local det = type(ev.detail) == "table" and ev.detail or ev
    local input = det.input
    if type(input) == "string" then input = json.decode(input) end
    if type(input) == "table" and input.url and not input.process then
      local t = d.payloads:get_url(input.url)
      input = t and json.decode(t)
    end
    local id = type(input) == "table" and core.prepare(input)
    if not id then
      st.failed = st.failed + 1
      log.error("event without a payload input", { execution = det.executionArn })
    elseif det.status == "RUNNING" then
      st.running = st.running + 1
    else
      st.checked = st.checked + 1
      apply(id, det.executionArn or "", det)
    end
  end
end

if opts.events then
  events()
else
  local t0 = time.monotonic()
  round()
  while opts.follow and st.running > 0 and time.monotonic() - t0 < opts.timeout do
    task.sleep(opts.poll)
    round()
  end
end
io.stderr:write(("cirrus_update: %d checked, %d updated, %d still running, %d failed\n"):format(
  st.checked, st.updated, st.running, st.failed))
if st.failed > 0 then host.fail(("cirrus_update: %d records could not be updated"):format(st.failed), 1) end
return 0
