--- cirrus_worker: consume the Cirrus process queue — unwrap each message, decide, claim and start the workflow (Cirrus' process lambda).
--
--   gfhost run cirrus_worker --queue URL [--base-workflow-arn ARN | --local] [--statedb ...]
--       [--payload-bucket s3://B|DIR] [--publish-topic ARN] [--event-topic ARN]
--       [--idle-exit 30] [--max-messages N] [--wait 20] [--visibility 300]
--
-- Receives up to 10 messages at a time (long polling), unwraps each body (SQS, SNS, SNS->SQS,
-- Batch url_out; an {"url": "s3://..."} body is fetched from the store), and runs the process
-- decision of cirrus.core on the batch: start on FAILED, ABORTED, CLAIMED or no record, or with
-- replace; ALREADY_<STATE> skips; duplicate ids in a batch are dropped; the claim is
-- conditional. Starting means claim -> upload the input to the payload store -> StartExecution
-- named uuid5(<id>/<executions>) (ExecutionAlreadyExists tolerated) -> PROCESSING; with --local
-- (or no base ARN) the gf.flow workflow workflows/<workflow>.lua runs here instead and the
-- record ends COMPLETED / FAILED / INVALID. A message is deleted once every payload in it
-- reached a decision (started, skipped, rejected, or a terminal failure); a message with a
-- storage or service error stays and comes back after its visibility timeout, as the lambda's
-- partial-batch failure does. Stops after --idle-exit seconds without messages, after
-- --max-messages, or on SIGINT/SIGTERM; prints a summary. Exit 1 when a queue call failed.
-- --dry-run prints one JSON line per payload with what would happen ("would_start" and the
-- execution ARN, "skipped" with its ALREADY_<STATE> event, ...) and writes nothing; the messages
-- become visible again (use --max-messages to stop: they would be received again).
local args = require("gf.args")
local host = require("gf.host")
local json = require("gf.json")
local log = require("gf.log")
local time = require("gf.time")
local core = require("cirrus.core")
local deploy = require("cirrus.deploy")
local event = require("cirrus.event")

local opts = args.parse({
  name = "cirrus_worker", version = "1.0.0", env_prefix = false,
  description = "Consume the Cirrus process queue and start the workflows (the process lambda).",
  options = deploy.options({ "queue", "statedb", "payloads", "workflow", "topics", "region" }, {
    { name = "wait", type = "integer", default = 20, help = "long-poll seconds (0-20)" },
    { name = "visibility", type = "integer", default = 300, help = "seconds a received message stays hidden" },
    { name = "idle-exit", type = "number", help = "stop after this many seconds without messages (default: run until interrupted)" },
    { name = "max-messages", type = "integer", help = "stop after this many messages" },
    { name = "dry-run", type = "boolean", help = "print what would be started or skipped; claim, start and delete nothing (the messages become visible again)" },
  }),
}, ...)

if not opts.queue then host.fail("cirrus_worker: --queue (or CIRRUS_PROCESS_QUEUE_URL) is required", 2) end
if opts.wait < 0 or opts.wait > 20 then host.fail("--wait must be 0-20", 2) end
local d, dmsg = deploy.open(opts)
if not d then host.fail("cirrus_worker: " .. dmsg, 1) end

local st = { messages = 0, payloads = 0, deleted = 0, kept = 0 }
local counts = {}
local last_msg = time.monotonic()

local function payloads_of(m)
  local recs, msg = event.record({ body = m.body })
  if not recs then return nil, msg end
  local list = (type(recs) == "table" and json.is_array(recs)) and recs or { recs }
  local out = {}
  for _, r in ipairs(list) do
    local p, rmsg = event.resolve(r, function(url) return d.payloads:get_url(url) end)
    if not p then return nil, rmsg end
    out[#out + 1] = p
  end
  return out
end

local function handle(batch)
  local all, owner, bad = {}, {}, {}
  for mi, m in ipairs(batch) do
    local ps, msg = payloads_of(m)
    if not ps then
      bad[mi] = true
      log.error("record not extracted", { message_id = m.id, error = msg })
      core.event(d, "RECORD_EXTRACT_FAILED", nil, { error = msg })
    else
      for _, p in ipairs(ps) do
        all[#all + 1] = p
        owner[#all] = mi
      end
    end
  end
  local results = opts.dry_run and core.decide(d, all) or core.process(d, all)
  if opts.dry_run then
    for _, r in ipairs(results) do
      io.stdout:write(json.encode({ id = r.id, status = r.status, event = r.event, execution = r.execution,
        error = r.message }, { sort_keys = true }), "\n")
    end
    counts.dry_run = (counts.dry_run or 0) + #results
    st.payloads = st.payloads + #results
    local ok, vmsg = d.sqs:change_visibility_batch(d.queue, batch, 0)
    if not ok then log.warn("messages not made visible again", { error = vmsg }) end
    return
  end
  for i, r in ipairs(results) do
    counts[r.status] = (counts[r.status] or 0) + 1
    st.payloads = st.payloads + 1
    local fields = { payload_id = r.id, status = r.status, event = r.event, execution = r.execution }
    if r.status == "error" then
      bad[owner[i]] = true
      fields.error = r.message
      log.error("payload not started; its message stays in the queue", fields)
    elseif r.status == "rejected" then
      fields.error = r.message
      log.warn("not a process payload", fields)
    else
      fields.last_error = r.message
      log.info("payload", fields)
    end
  end
  local done = {}
  for mi, m in ipairs(batch) do
    if bad[mi] then st.kept = st.kept + 1 else done[#done + 1] = m end
  end
  if #done > 0 then
    local r, msg = d.sqs:delete_batch(d.queue, done)
    if not r then
      log.error("delete failed (the messages will come back)", { error = msg })
    else
      st.deleted = st.deleted + #r.successful
    end
  end
end

local failed
while true do
  if opts.max_messages and st.messages >= opts.max_messages then break end
  local want = 10
  if opts.max_messages then want = math.min(10, opts.max_messages - st.messages) end
  local wait = opts.wait
  if opts.idle_exit then wait = math.max(0, math.min(wait, math.ceil(opts.idle_exit - (time.monotonic() - last_msg)))) end
  local ms, msg = d.sqs:receive(d.queue, { max = want, wait = wait, visibility = opts.visibility })
  if not ms then
    failed = msg
    log.error("receive failed", { queue = d.queue, error = msg })
    break
  end
  if #ms > 0 then
    last_msg = time.monotonic()
    st.messages = st.messages + #ms
    handle(ms)
  elseif opts.idle_exit and time.monotonic() - last_msg >= opts.idle_exit then
    break
  end
end

local parts = {}
for k, v in pairs(counts) do parts[#parts + 1] = ("%s=%d"):format(k, v) end
table.sort(parts)
io.stderr:write(("cirrus_worker: %d messages, %d payloads (%s), %d deleted, %d left in the queue\n"):format(
  st.messages, st.payloads, table.concat(parts, " "), st.deleted, st.kept))
if failed then host.fail("cirrus_worker: " .. failed, 1) end
return 0
