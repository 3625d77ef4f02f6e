--- replay: move the backfill's dead-letter-queue messages back onto the main queue.
--
--   gfhost run replay --config replay.yaml [--max N] [--empty-polls 3] [--wait 20] [--dry-run]
--   gfhost run replay --dlq-url URL --sqs-url URL [--aws-profile P]
--
-- The original's backfill_replay (source-systems §1.7) reads `aws_profile`, `dlq_url` and
-- `sqs_url` from its YAML --config; the same keys work here (or the options --aws-profile,
-- --dlq-url, --sqs-url; command line wins). Unlike the original (receive 1 with short polling,
-- send the body only, stop at the first empty receive) it receives 10 at a time with long
-- polling (--wait seconds) in --concurrency parallel loops, copies body and message attributes
-- (and a FIFO message's group and deduplication ids) with SendMessageBatch, and deletes from
-- the DLQ only the messages whose copy SendMessageBatch accepted (per entry). A message whose
-- send failed stays in the DLQ and becomes visible again after --visibility seconds. Killed at
-- any moment, no message is lost (at worst one is copied twice: sent, not yet deleted).
-- Stops after --empty-polls consecutive empty long polls, after --max messages (never more),
-- or when a whole SQS call fails. --dry-run receives and counts the messages without sending or
-- deleting and then makes them visible again. --aws-endpoint-url (or AWS_ENDPOINT_URL) for a
-- local SQS. Exit 1 when any message failed to move or a call failed, 2 for bad options.
local host = require("gf.host")
local args = require("gf.args")
local log = require("gf.log")
local task = require("gf.task")
local sqs = require("gf.sqs")
local time = require("gf.time")

local function fail(msg, code)
  host.fail(msg, code or 2)
end

local opts = args.parse({
  name = "replay", version = "1.0.0",
  description = "Move the messages of an SQS dead-letter queue back onto the main queue.",
  options = {
    { name = "config", type = "file", config = true, help = "YAML with aws_profile, dlq_url, sqs_url" },
    { name = "aws-profile", type = "string" },
    { name = "dlq-url", type = "string", help = "dead-letter queue (URL or name)" },
    { name = "sqs-url", type = "string", help = "main queue (URL or name)" },
    { name = "max", type = "integer", help = "move at most this many messages" },
    { name = "empty-polls", type = "integer", default = 3, help = "stop after this many empty polls in a row" },
    { name = "wait", type = "integer", default = 20, help = "long-poll seconds (0-20)" },
    { name = "visibility", type = "integer", default = 300, help = "seconds a received message stays hidden" },
    { name = "concurrency", type = "integer", default = 8, help = "receive/send/delete loops in parallel" },
    { name = "dry-run", type = "boolean", help = "count the messages, move nothing" },
    { name = "region", type = "string", env = "AWS_DEFAULT_REGION", default = "us-west-2" },
    { name = "aws-endpoint-url", type = "string", env = "AWS_ENDPOINT_URL", hidden = true },
  },
}, ...)

if not (opts.dlq_url and opts.sqs_url) then
  fail("Error: Please include aws_profile, dlq_url, and sqs_url in the config (or give --dlq-url and --sqs-url)")
end
if opts.dlq_url == opts.sqs_url then fail("Error: dlq_url and sqs_url are the same queue") end
if opts.wait < 0 or opts.wait > 20 then fail("Error: --wait must be 0-20 seconds") end
if opts.visibility < 1 or opts.visibility > 43200 then fail("Error: --visibility must be 1-43200 seconds") end
if opts.empty_polls < 1 then fail("Error: --empty-polls must be >= 1") end
if opts.concurrency < 1 then fail("Error: --concurrency must be >= 1") end
if opts.max and opts.max < 0 then fail("Error: --max must be >= 0") end

local client = sqs.client({ region = opts.region, profile = opts.aws_profile, endpoint = opts.aws_endpoint_url })
local dlq, main = opts.dlq_url, opts.sqs_url

local st = { received = 0, moved = 0, send_failed = 0, delete_failed = 0, reserved = 0, empty = 0 }
local stop_reason, call_error
local held = {} -- dry run: messages to make visible again
local seen = {}
local progress = require("gf.progress").new({ label = "messages" })

local function stop(reason) stop_reason = stop_reason or reason end

-- one copy step: send a received batch, delete what was accepted
local function move(ms)
  local entries = {}
  for i, m in ipairs(ms) do
    entries[i] = { id = tostring(i), body = m.body, message_attributes = m.message_attributes,
      group_id = m.attributes.MessageGroupId, dedup_id = m.attributes.MessageDeduplicationId }
  end
  local r, msg = client:send_batch(main, entries)
  if not r then
    call_error = call_error or ("send to " .. main .. ": " .. tostring(msg))
    st.send_failed = st.send_failed + #ms
    stop("error")
    return
  end
  for _, f in ipairs(r.failed) do
    st.send_failed = st.send_failed + 1
    log.error("send failed; the message stays in the DLQ", { id = ms[f.index].id, code = f.code, error = f.message })
  end
  if #r.successful == 0 then return end
  local accepted = {}
  for _, s in ipairs(r.successful) do accepted[#accepted + 1] = ms[s.index] end
  local d, dmsg = client:delete_batch(dlq, accepted)
  if not d then
    call_error = call_error or ("delete from " .. dlq .. ": " .. tostring(dmsg))
    st.delete_failed = st.delete_failed + #accepted
    st.moved = st.moved + #accepted
    stop("error")
    return
  end
  st.moved = st.moved + #d.successful + #d.failed
  for _, f in ipairs(d.failed) do
    st.delete_failed = st.delete_failed + 1
    log.error("copied but not deleted from the DLQ (it will be copied again)", { id = accepted[f.index].id,
      code = f.code, error = f.message })
  end
  progress:tick(#accepted)
end

local function loop()
  while not stop_reason do
    local take = 10
    if opts.max then
      take = math.min(10, opts.max - st.reserved)
      if take <= 0 then stop("max") break end
    end
    st.reserved = st.reserved + take
    local ms, msg = client:receive(dlq, { max = take, wait = opts.wait, visibility = opts.visibility })
    if not ms then
      st.reserved = st.reserved - take
      call_error = call_error or ("receive from " .. dlq .. ": " .. tostring(msg))
      stop("error")
      break
    end
    if opts.dry_run then
      -- a message seen twice (visibility ran out) is counted once
      local fresh = {}
      for _, m in ipairs(ms) do
        if not seen[m.id] then seen[m.id] = true fresh[#fresh + 1] = m end
        held[#held + 1] = m
      end
      ms = fresh
    end
    st.reserved = st.reserved - take + #ms
    if #ms == 0 then
      st.empty = st.empty + 1
      if st.empty >= opts.empty_polls then stop("empty") end
    else
      st.empty = 0
      st.received = st.received + #ms
      if opts.dry_run then progress:tick(#ms) else move(ms) end
    end
  end
end

local t0 = time.monotonic()
if opts.max == 0 then
  stop("max")
else
  local workers = {}
  for i = 1, opts.concurrency do workers[i] = task.spawn(loop) end
  for _, w in ipairs(workers) do
    local ok, err = task.wait(w)
    if not ok then call_error = call_error or tostring(err) stop("error") end
  end
end
if #held > 0 then
  local r, msg = client:change_visibility_batch(dlq, held, 0)
  if not r then log.warn("could not make the messages visible again", { error = msg })
  elseif #r.failed > 0 then log.warn("could not make some messages visible again", { failed = #r.failed }) end
end
progress:finish()
local secs = time.monotonic() - t0

local out = {}
if opts.dry_run then
  out[#out + 1] = ("Dry run: %d messages would be moved from %s to %s (nothing sent or deleted)"):format(st.received, dlq, main)
else
  out[#out + 1] = ("Moved %d messages from %s to %s in %.1f s"):format(st.moved, dlq, main, secs)
  out[#out + 1] = ("Send failures (left in the DLQ): %d"):format(st.send_failed)
  out[#out + 1] = ("Copied but not deleted from the DLQ: %d"):format(st.delete_failed)
end
out[#out + 1] = ("Stopped: %s"):format(({ empty = ("%d empty polls"):format(opts.empty_polls),
  max = ("--max %s reached"):format(tostring(opts.max)), error = "SQS call failed" })[stop_reason] or "done")
io.stderr:write(table.concat(out, "\n"), "\n")

if call_error then fail("replay: " .. call_error, 1) end
if st.send_failed > 0 or st.delete_failed > 0 then
  fail(("replay: %d messages not moved, %d copied but not deleted"):format(st.send_failed, st.delete_failed), 1)
end
return 0
