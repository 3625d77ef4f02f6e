--- run_workflow: run one Cirrus payload from stdin and wait for its outcome (Cirrus' run-workflow; exit 0 COMPLETED, 10 failed, 11 timeout).
--
--   gfhost run run_workflow [-t 3600] [-p 15] [--queue URL] [--statedb ...] < payload.json
--
-- The payload (one JSON document) is validated and its id set. With --queue
-- (CIRRUS_PROCESS_QUEUE_URL) it is enqueued for the workers; without one it is processed here
-- (Step Functions with --base-workflow-arn, else the local gf.flow workflow). Then its state is
-- polled every -p seconds until it is neither PROCESSING nor CLAIMED and has changed since the
-- payload was sent (so a rerun of a FAILED payload is not mistaken for its old outcome):
-- COMPLETED prints the output payload (the stored output.json, else the record) and exits 0;
-- any other state prints {"last_error": ...} and exits 10; after -t seconds it prints
-- {"last_error": "timeout"} and exits 11. Bad input exits 1, bad options 2. --dry-run validates
-- and prints the id and what would happen, and sends nothing.
local args = require("gf.args")
local host = require("gf.host")
local json = require("gf.json")
local task = require("gf.task")
local time = require("gf.time")
local core = require("cirrus.core")
local deploy = require("cirrus.deploy")

local opts = args.parse({
  name = "run_workflow", version = "1.0.0", env_prefix = false,
  description = "Run one Cirrus payload from stdin and wait for its outcome.",
  options = deploy.options({ "queue", "statedb", "payloads", "workflow", "topics", "region" }, {
    { name = "timeout", short = "t", type = "number", default = 3600, help = "seconds to wait" },
    { name = "poll-interval", short = "p", type = "number", default = 15, help = "seconds between state checks" },
    { name = "dry-run", type = "boolean", help = "validate, print the id and what would happen; send and run nothing" },
  }),
}, ...)

local d, dmsg = deploy.open(opts)
if not d then host.fail("run_workflow: " .. dmsg, 1) end

local text = io.stdin:read("a")
local p, perr = json.decode(text or "")
if type(p) ~= "table" then host.fail("run_workflow: stdin: " .. tostring(perr or "not a JSON object"), 1) end
local id, msg = core.prepare(p)
if not id then host.fail("run_workflow: " .. msg, 1) end

if opts.dry_run then
  local r = core.decide(d, { p })[1]
  io.stdout:write(json.encode({ id = id, target = d.queue or (d.sfn and "stepfunctions") or "local",
    status = r.status, event = r.event, execution = r.execution }, { sort_keys = true }), "\n")
  return 0
end

local before = d.state:get(id)
local before_updated = before and before.updated

if d.queue then
  local body, bmsg = core.queue_body(d, p)
  if not body then host.fail("run_workflow: " .. bmsg, 1) end
  local ok, smsg = d.sqs:send(d.queue, body)
  if not ok then host.fail("run_workflow: " .. smsg, 1) end
else
  local r = core.process(d, { p })[1]
  if r.status == "error" or r.status == "rejected" then host.fail("run_workflow: " .. tostring(r.message), 1) end
end

local t0 = time.monotonic()
local function finish(rec)
  if rec.state == "COMPLETED" then
    local ex = rec.executions or {}
    local out = d.payloads and d.payloads:get(d.payloads:output_key(id, ex[#ex] and ex[#ex]:match(":([^:]+)$")))
    if out then
      io.stdout:write(out, "\n")
    else
      io.stdout:write(json.encode(require("cirrus.view").item(d, rec), { sort_keys = true }), "\n")
    end
    return 0
  end
  io.stdout:write(json.encode({ last_error = rec.last_error or ("state " .. tostring(rec.state)) }), "\n")
  host.fail("", 10)
end

while true do
  local rec, gmsg, code = d.state:get(id)
  if not rec and code ~= "not_found" then host.fail("run_workflow: " .. gmsg, 1) end
  if rec and rec.state ~= "PROCESSING" and rec.state ~= "CLAIMED" and rec.updated ~= before_updated then
    return finish(rec)
  end
  if time.monotonic() - t0 >= opts.timeout then
    io.stdout:write(json.encode({ last_error = "timeout" }), "\n")
    host.fail("", 11)
  end
  task.sleep(math.min(opts.poll_interval, math.max(0.05, opts.timeout - (time.monotonic() - t0))))
end
