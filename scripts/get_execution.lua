--- get_execution: describe a payload's last Step Functions execution, or one by ARN (Cirrus' get-execution).
--
--   gfhost run get_execution --payload-id ID [--statedb ...] [--base-workflow-arn ARN]
--   gfhost run get_execution --arn EXECUTION_ARN
--
-- Exactly one of --payload-id and --arn. A payload id resolves to the last entry of the record's
-- executions. Prints DescribeExecution's answer as JSON. An execution that ran here (local mode,
-- no Step Functions) is shown from gf.state instead: its ARN, the record's state, and every
-- workflow node with its status, attempts and error. Endpoint: AWS_ENDPOINT_URL_SFN /
-- AWS_ENDPOINT_URL. Exit 1 when it does not exist, 2 for bad options.
local args = require("gf.args")
local host = require("gf.host")
local json = require("gf.json")
local deploy = require("cirrus.deploy")
local core = require("cirrus.core")

local opts = args.parse({
  name = "get_execution", version = "1.0.0", env_prefix = false,
  description = "Describe a payload's last execution (or one by ARN).",
  options = deploy.options({ "statedb", "workflow", "region" }, {
    { name = "payload-id", help = "the payload whose last execution to show" },
    { name = "arn", help = "an execution ARN" },
  }),
}, ...)

if (opts.payload_id == nil) == (opts.arn == nil) then
  host.fail("get_execution: give exactly one of --payload-id and --arn", 2)
end
local d, dmsg = deploy.open(opts, { state = opts.payload_id ~= nil, payloads = false, queue = false, sns = false })
if not d then host.fail("get_execution: " .. dmsg, 1) end

local arn, rec = opts.arn, nil
if opts.payload_id then
  local msg
  rec, msg = d.state:get(opts.payload_id)
  if not rec then host.fail("get_execution: " .. msg, 1) end
  local ex = rec.executions or {}
  arn = ex[#ex]
  if not arn then host.fail(("get_execution: payload %s has no executions"):format(opts.payload_id), 1) end
end

local is_local = arn:match("^arn:aws:states:local:000000000000:")
if not d.sfn and not is_local then
  d.sfn = require("gf.awsjson").client({ service = "states", region = opts.region or arn:match("^arn:[^:]+:states:([^:]+):") })
end
if d.sfn and not is_local then
  local r, msg = core.describe(d, arn)
  if not r then host.fail("get_execution: " .. msg, 1) end
  io.stdout:write(json.encode(r, { pretty = true, sort_keys = true }), "\n")
  return 0
end
if not d.state then
  local st, msg = require("gf.flow.store").open(opts.statedb or ".gfhost/cirrus.db")
  if not st then host.fail("get_execution: " .. msg, 1) end
  d.state = st
end
local name = arn:match(":([^:]+)$")
local nodes = d.state:list_nodes("cirrus-" .. name)
if not nodes or #nodes == 0 then host.fail(("get_execution: no local execution %s"):format(arn), 1) end
local out = { executionArn = arn, name = name, mode = "local", nodes = json.array() }
if rec then out.state = rec.state; out.last_error = rec.last_error end
for _, n in ipairs(nodes) do
  out.nodes[#out.nodes + 1] = { node = n.node, status = n.status, attempts = n.attempts, error = n.error, updated = n.updated }
end
io.stdout:write(json.encode(out, { pretty = true, sort_keys = true }), "\n")
return 0
