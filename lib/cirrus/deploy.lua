--- cirrus.deploy: a Cirrus deployment for the commands — options, CIRRUS_* variables and the
-- clients of cirrus.core.
--
-- options(names) -> list of gf.args option specs, from:
--   statedb        --statedb (CIRRUS_STATE_DB): a SQLite file (default .gfhost/cirrus.db) or
--                  dynamodb://TABLE[?endpoint=&region=&profile=&create=1] (the Cirrus schema)
--   payloads       --payload-bucket: s3://bucket[/prefix] or a local directory (default
--                  .gfhost/payloads); CIRRUS_PAYLOAD_BUCKET when not given (a bare name there is
--                  a bucket, as in Cirrus); --payload-layout v1|v2
--   queue          --queue (CIRRUS_PROCESS_QUEUE_URL)
--   workflow       --base-workflow-arn (CIRRUS_BASE_WORKFLOW_ARN) and --local (run the gf.flow
--                  workflow here even when a base ARN is set)
--   topics         --publish-topic (CIRRUS_PUBLISH_TOPIC_ARN), --event-topic
--                  (CIRRUS_WORKFLOW_EVENT_TOPIC_ARN)
--   region         --region (console URLs; clients: AWS_REGION etc.)
-- open(opts, {state =, payloads =, queue =, sfn =, sns =}) -> d | nil, msg, code
--   opts: what gf.args parsed. Endpoints come from gf.aws (AWS_ENDPOINT_URL_S3, _SQS, _SNS,
--   _SFN, _DYNAMODB, AWS_ENDPOINT_URL, the profile).
local M = {}

local SPECS = {
  statedb = {
    { name = "statedb", env = "CIRRUS_STATE_DB", default = ".gfhost/cirrus.db", metavar = "FILE|dynamodb://TABLE",
      help = "state database: a SQLite file or dynamodb://TABLE[?endpoint=URL&region=R&create=1]" },
  },
  payloads = {
    { name = "payload-bucket", env = false, metavar = "s3://BUCKET[/PREFIX]|DIR",
      help = "payload store (default: CIRRUS_PAYLOAD_BUCKET as a bucket, else the directory .gfhost/payloads)" },
    { name = "payload-layout", type = "choice", choices = { "v1", "v2" }, default = "v1",
      help = "v1: <id>/input.json; v2: cirrus/executions/<id>/<execution>/input.json" },
  },
  queue = {
    { name = "queue", env = "CIRRUS_PROCESS_QUEUE_URL", metavar = "URL", help = "the process queue (SQS URL)" },
  },
  workflow = {
    { name = "base-workflow-arn", env = "CIRRUS_BASE_WORKFLOW_ARN", metavar = "ARN",
      help = "Step Functions ARN prefix (arn:aws:states:R:A:stateMachine:<prefix>); without it workflows run here" },
    { name = "local", type = "boolean", env = false, help = "run the gf.flow workflow here (workflows/<workflow>.lua)" },
  },
  topics = {
    { name = "publish-topic", env = "CIRRUS_PUBLISH_TOPIC_ARN", metavar = "ARN", help = "SNS topic for output items" },
    { name = "event-topic", env = "CIRRUS_WORKFLOW_EVENT_TOPIC_ARN", metavar = "ARN", help = "SNS topic for workflow events" },
  },
  region = {
    { name = "region", env = false, help = "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile)" },
  },
}

function M.options(names, extra)
  local out = {}
  for _, n in ipairs(names) do
    for _, o in ipairs(SPECS[n]) do
      local c = {}
      for k, v in pairs(o) do c[k] = v end
      out[#out + 1] = c
    end
  end
  for _, o in ipairs(extra or {}) do out[#out + 1] = o end
  return out
end

--- The payload store spec: --payload-bucket, else CIRRUS_PAYLOAD_BUCKET (a bare name is a bucket).
function M.payload_spec(opts, env)
  env = env or os.getenv
  if opts.payload_bucket and opts.payload_bucket ~= "" then return opts.payload_bucket end
  local b = env("CIRRUS_PAYLOAD_BUCKET")
  if b and b ~= "" then
    if b:match("^s3://") or b:find("/", 1, true) then return b end
    return "s3://" .. b
  end
  return ".gfhost/payloads"
end

function M.open(opts, need)
  need = need or {}
  local d = { region = opts.region, log = require("gf.log") }
  local client_opts = { region = opts.region }
  if need.state ~= false then
    local st, msg, code = require("gf.flow.store").open(opts.statedb or ".gfhost/cirrus.db")
    if not st then return nil, (msg:gsub("^flow state", "statedb")), code end
    d.state = st
  end
  if need.payloads ~= false then
    local spec = M.payload_spec(opts)
    local s3
    if spec:match("^s3://") then s3 = require("gf.s3").client(client_opts) end
    local p, msg, code = require("cirrus.payloads").open(spec, { layout = opts.payload_layout, s3 = s3 })
    if not p then return nil, msg, code end
    d.payloads = p
  end
  if need.queue ~= false and opts.queue and opts.queue ~= "" then
    d.sqs, d.queue = require("gf.sqs").client(client_opts), opts.queue
  end
  if need.sfn ~= false and opts.base_workflow_arn and opts.base_workflow_arn ~= "" then
    d.base_arn = opts.base_workflow_arn
    if not d.region then d.region = d.base_arn:match("^arn:[^:]+:states:([^:]+):") end
    if not opts["local"] then
      d.sfn = require("gf.awsjson").client({ service = "states", region = opts.region or d.region })
    end
  end
  if need.sns ~= false and ((opts.publish_topic or "") ~= "" or (opts.event_topic or "") ~= "") then
    d.sns = require("gf.sns").client(client_opts)
    if (opts.publish_topic or "") ~= "" then d.publish_topic = opts.publish_topic end
    if (opts.event_topic or "") ~= "" then d.event_topic = opts.event_topic end
  end
  return d
end

return M
