--- gf.awsjson: generic calls to AWS JSON-protocol services (JSON 1.0 / 1.1): Step Functions,
-- DynamoDB, CloudWatch Logs, SQS, ... Requests are POSTed to the service endpoint with
-- X-Amz-Target and signed with SigV4 through gf.aws; responses are decoded with gf.json.
--
-- client(opts) -> client
--   opts.service (required): "states" (alias "stepfunctions", "sfn"), "dynamodb", "logs", "sqs",
--     or any signing name (then give target_prefix and json_version)
--   region, endpoint, credentials, profile, retry, timeout, anonymous: as in gf.s3.client
--   json_version ("1.0" | "1.1"), target_prefix ("DynamoDB_20120810", ...) override the defaults
-- client:call(target, params [, {timeout =, op =, resource =, details =}]) -> decoded response
--   table | nil, message, code; with details = true an error the service answered also gives
--   its AWS code and decoded body: nil, message, code, aws_code, error_body (e.g.
--   "ConditionalCheckFailedException" and {Item = ...})
--   target is "PutItem" (the service's prefix is added) or a full "DynamoDB_20120810.PutItem".
--   params is a Lua table encoded with gf.json (empty table -> {}). op and resource replace
--   the names used in error messages.
--   AWS errors: nil, "<service>.<Operation> <resource>: <status> <AwsCode>: <message>", code
--   where resource is the first of TableName, QueueUrl, stateMachineArn, executionArn,
--   activityArn, logGroupName, name found in params (else the endpoint), and code is one of
--   not_found, auth, throttled, conflict, invalid_input, aws (or the transport codes of gf.http:
--   timeout, network, tls, ...).
-- call(service, target, params [, opts]) -> same, through a client cached per service for the
--   default configuration (opts are client options; given opts make a fresh client).
--
-- require("gf.awsjson.query") holds the same for query-protocol services (SNS, STS).
local base = require("gf.awsjson.base")
local json = require("gf.json")

local M = {}

local SERVICES = {
  states = { id = "sfn", signing = "states", prefix = "AWSStepFunctions", version = "1.0" },
  dynamodb = { id = "dynamodb", signing = "dynamodb", prefix = "DynamoDB_20120810",
    version = "1.0" },
  logs = { id = "cloudwatch_logs", signing = "logs", prefix = "Logs_20140328", version = "1.1" },
  sqs = { id = "sqs", signing = "sqs", prefix = "AmazonSQS", version = "1.0" },
  events = { id = "eventbridge", signing = "events", prefix = "AWSEvents", version = "1.1" },
  kinesis = { id = "kinesis", signing = "kinesis", prefix = "Kinesis_20131202", version = "1.1" },
}
SERVICES.stepfunctions = SERVICES.states
SERVICES.sfn = SERVICES.states
M.SERVICES = SERVICES

local RESOURCE_KEYS = { "QueueUrl", "TableName", "stateMachineArn", "executionArn", "activityArn",
  "logGroupName", "QueueName", "name", "taskToken" }

local Client = {}
Client.__index = Client
Client.__name = "gf.awsjson.client"

function M.client(opts)
  if type(opts) ~= "table" then
    error(("bad argument #1 to 'client' (table expected, got %s)"):format(type(opts)), 2)
  end
  local name = opts.service
  if type(name) ~= "string" then error("bad argument #1 to 'client' (service expected)", 2) end
  local known = SERVICES[name] or {}
  local prefix = opts.target_prefix or known.prefix
  local version = opts.json_version or known.version or "1.0"
  if version ~= "1.0" and version ~= "1.1" then
    error("bad argument #1 to 'client' (json_version must be \"1.0\" or \"1.1\")", 2)
  end
  local sopts = {}
  for k, v in pairs(opts) do
    if k ~= "service" and k ~= "target_prefix" and k ~= "json_version" then sopts[k] = v end
  end
  local signing = opts.signing_name or known.signing or name
  sopts.signing_name = nil
  local svc = base.new(sopts, {
    id = known.id or name,
    signing_name = signing,
    retry_non_idempotent = true, -- JSON calls are POSTs; the services make them safe to retry
    host = function(region) return ("%s.%s.amazonaws.com"):format(signing, region) end,
  })
  return setmetatable({
    _svc = svc,
    service = signing,
    prefix = prefix,
    content_type = "application/x-amz-json-" .. version,
    endpoint = svc.endpoint,
    region = svc.region,
  }, Client)
end

local function resource_of(params, fallback)
  for _, k in ipairs(RESOURCE_KEYS) do
    local v = params[k]
    if type(v) == "string" then return v end
  end
  return fallback
end

function Client:call(target, params, opts)
  if type(target) ~= "string" or target == "" then
    error(("bad argument #1 to 'call' (string expected, got %s)"):format(type(target)), 2)
  end
  if params ~= nil and type(params) ~= "table" then
    error(("bad argument #2 to 'call' (table expected, got %s)"):format(type(params)), 2)
  end
  params = params or {}
  if not target:find(".", 1, true) then
    if not self.prefix then
      error("bad argument #1 to 'call' (no target prefix known for " .. self.service .. ")", 2)
    end
    target = self.prefix .. "." .. target
  end
  local op = (opts and opts.op) or self.service .. "." .. target:match("([^.]+)$")
  local resource = (opts and opts.resource) or resource_of(params, self.endpoint)
  local body = next(params) == nil and "{}" or json.encode(params)
  local res, msg, code, aws_code, failed = self._svc:send(op, resource, {
    method = "POST",
    url = self.endpoint .. "/",
    headers = { ["content-type"] = self.content_type, ["x-amz-target"] = target },
    body = body,
    timeout = opts and opts.timeout,
    details = opts and opts.details,
  })
  if not res then
    if not (opts and opts.details) then return nil, msg, code end
    -- with details: the AWS error code and the decoded error body too (e.g. DynamoDB's ALL_OLD
    -- item of a failed condition); transport failures have neither
    local err_body = failed and failed.body ~= "" and json.decode(failed.body) or nil
    return nil, msg, code, aws_code, type(err_body) == "table" and err_body or nil
  end
  if res.body == "" then return {} end
  local t, err = json.decode(res.body)
  if t == nil then
    return nil, ("%s %s: %d response: %s"):format(op, resource, res.status, err), "parse"
  end
  return t
end

M.call = base.caller(function(o) return M.client(o) end)

return M
