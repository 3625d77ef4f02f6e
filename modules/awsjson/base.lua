--- gf.awsjson.base: what every AWS service client shares — resolving credentials, region and
-- endpoint through gf.aws, signing and sending one request through gf.http, and turning AWS
-- error bodies (XML or JSON) into `nil, "<op> <resource>: <status> <AwsCode>: <message>", code`.
--
-- new(opts, spec) -> service        (used by gf.s3, gf.sqs, gf.sns, gf.awsjson)
--   opts (the user's client options): region, endpoint, credentials = {access_key =,
--     secret_key =, session_token =} | {access_key_file =, secret_key_file =} (resolved by
--     gf.aws.credentials) | provider (a table with :get()), profile, anonymous,
--     retry (gf.http retry table, or false), timeout (seconds per request), debug
--   spec: id (endpoint id: "s3", "sqs", "sns", "dynamodb", ...), signing_name, s3 (bool),
--     retry_non_idempotent (bool), host = function(region) -> default AWS host
-- service:send(op, resource, req) -> response | nil, message, code [, aws_code, response when
--   req.details]
--   req: method, url, headers (lower-case names), body | body_file, output_file, sync, range,
--   payload_hash, timeout, retry (replaces the client's), expect = {[status] = true} (statuses that are not failures; default
--   2xx). A response outside `expect` becomes the error tuple.
-- service:sign_url(method, url, expires) -> presigned url | nil, message, code
-- classify(status, aws_code) -> gf code; failure(op, resource, response) -> nil, message, code,
--   aws_code, response
-- encode(s [, keep_slash]) -> RFC 3986 percent-encoding (S3 keys keep '/')
local http = require("gf.http")
local aws = require("gf.aws")

local M = {}

-- {====== errors ======

local NOT_FOUND = {
  NoSuchKey = true, NoSuchBucket = true, NoSuchUpload = true, NotFound = true,
  QueueDoesNotExist = true, ["AWS.SimpleQueueService.NonExistentQueue"] = true,
  NonExistentQueue = true, ResourceNotFoundException = true, NotFoundException = true,
  NotFound404 = true, StateMachineDoesNotExist = true, ExecutionDoesNotExist = true,
  ActivityDoesNotExist = true, TopicNotFound = true, NoSuchEntity = true,
}
local AUTH = {
  InvalidAccessKeyId = true, SignatureDoesNotMatch = true, ExpiredToken = true,
  ExpiredTokenException = true, AccessDenied = true, AccessDeniedException = true,
  UnrecognizedClientException = true, InvalidClientTokenId = true, AuthFailure = true,
  MissingAuthenticationToken = true, MissingAuthenticationTokenException = true,
  IncompleteSignature = true, IncompleteSignatureException = true, InvalidToken = true,
  TokenRefreshRequired = true, AuthorizationError = true,
}
local THROTTLED = {
  Throttling = true, ThrottlingException = true, ThrottledException = true,
  RequestLimitExceeded = true, SlowDown = true, TooManyRequestsException = true,
  ProvisionedThroughputExceededException = true, RequestThrottled = true,
  RequestThrottledException = true, ["AWS.SimpleQueueService.RequestThrottled"] = true,
  LimitExceededException = true,
}
local CONFLICT = {
  ConditionalCheckFailedException = true, PreconditionFailed = true,
  TransactionConflictException = true, BucketAlreadyExists = true,
  BucketAlreadyOwnedByYou = true, OperationAborted = true, ResourceInUseException = true,
  ExecutionAlreadyExists = true, QueueAlreadyExists = true, ["AWS.SimpleQueueService.QueueNameExists"] = true,
  QueueNameExists = true, ConcurrentModificationException = true,
}
local INVALID = {
  ValidationException = true, ValidationError = true, InvalidParameterValue = true,
  InvalidParameter = true, InvalidParameterException = true, MissingParameter = true,
  InvalidArgument = true, InvalidRequest = true, MalformedXML = true,
  SerializationException = true, InvalidAction = true, InvalidBucketName = true,
  EntityTooLarge = true, EntityTooSmall = true, InvalidPart = true, InvalidPartOrder = true,
  InvalidRange = true, InvalidParameterCombination = true, InvalidAttributeName = true,
  InvalidAttributeValue = true, ["AWS.SimpleQueueService.BatchEntryIdsNotDistinct"] = true,
  ["AWS.SimpleQueueService.TooManyEntriesInBatchRequest"] = true,
  ["AWS.SimpleQueueService.EmptyBatchRequest"] = true, InvalidMessageContents = true,
  InvalidBatchEntryId = true, TooManyEntriesInBatchRequest = true,
  ReceiptHandleIsInvalid = true, ["AWS.SimpleQueueService.InvalidBatchEntryId"] = true,
}

--- The gf error code for an HTTP status and an AWS error code (either may be nil).
function M.classify(status, code)
  if code then
    if NOT_FOUND[code] then return "not_found" end
    if AUTH[code] then return "auth" end
    if THROTTLED[code] then return "throttled" end
    if CONFLICT[code] then return "conflict" end
    if INVALID[code] then return "invalid_input" end
  end
  status = status or 0
  if status == 404 or status == 410 then return "not_found" end
  if status == 401 or status == 403 then return "auth" end
  if status == 429 then return "throttled" end
  if status == 409 or status == 412 then return "conflict" end
  if status >= 400 and status < 500 then return "invalid_input" end
  return "service"
end

local function one_line(s, max)
  s = s:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
  if #s > max then s = s:sub(1, max) .. "..." end
  return s
end

-- "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException" -> "ResourceNotFoundException";
-- "ValidationException:http://internal.amazon.com/..." -> "ValidationException".
local function short_code(c)
  if type(c) ~= "string" or c == "" then return nil end
  c = c:gsub(":.*$", "")
  return (c:match("#([^#]*)$") or c)
end

local function text_of(body, tag)
  local v = body:match("<" .. tag .. ">(.-)</" .. tag .. ">")
  if v then
    v = v:gsub("<!%[CDATA%[(.-)%]%]>", "%1"):gsub("&lt;", "<"):gsub("&gt;", ">")
      :gsub("&quot;", '"'):gsub("&apos;", "'"):gsub("&amp;", "&")
  end
  return v
end

--- AWS error code and message from a response (XML or JSON body, or headers), either may be nil.
function M.parse_error(res)
  local body = res.body or ""
  local h = res.headers or {}
  local code, msg
  local first = body:match("^%s*(.)")
  if first == "<" then
    code, msg = text_of(body, "Code"), text_of(body, "Message")
  elseif first == "{" then
    local t = require("gf.json").decode(body)
    if type(t) == "table" then
      code = short_code(t.__type or t.code or t.Code)
      msg = t.message or t.Message or t.errorMessage
      if type(msg) ~= "string" then msg = nil end
    end
  end
  if h["x-amzn-query-error"] then -- SQS JSON: "AWS.SimpleQueueService.NonExistentQueue;Sender"
    code = code or h["x-amzn-query-error"]:match("^([^;]+)")
  end
  code = code or short_code(h["x-amzn-errortype"])
  if not msg and not code and body ~= "" and first ~= "<" and first ~= "{" then
    msg = one_line(body, 200)
  end
  return code, msg
end

local REASON = { [400] = "BadRequest", [401] = "Unauthorized", [403] = "Forbidden",
  [404] = "NotFound", [405] = "MethodNotAllowed", [409] = "Conflict", [412] = "PreconditionFailed",
  [413] = "EntityTooLarge", [416] = "InvalidRange", [429] = "TooManyRequests",
  [500] = "InternalError", [501] = "NotImplemented", [502] = "BadGateway",
  [503] = "ServiceUnavailable", [504] = "GatewayTimeout" }

--- nil, "<op> <resource>: <status> <AwsCode>: <message>", code for a failed response.
function M.failure(op, resource, res)
  local code, msg = M.parse_error(res)
  local status = res.status
  local shown = code or REASON[status] or "HTTPError"
  local text = ("%s %s: %d %s"):format(op, resource, status, shown)
  if msg and msg ~= "" then text = text .. ": " .. one_line(msg, 500) end
  return nil, text, M.classify(status, code), code, res
end

-- Service:send's failure: nil, message, code; with req.details also the AWS error code and the
-- response (callers that need the error body, such as DynamoDB's ALL_OLD item)
local function send_failure(op, resource, res, details)
  local _, text, class, code = M.failure(op, resource, res)
  if details then return nil, text, class, code, res end
  return nil, text, class
end

-- }======

--- RFC 3986 percent-encoding: A-Z a-z 0-9 - . _ ~ kept (and '/' with keep_slash).
-- percent-encoding of every byte but the unreserved ones, for gsub (a table is much cheaper
-- than a function call per byte)
local PCT = {}
for b = 0, 255 do PCT[string.char(b)] = ("%%%02X"):format(b) end

function M.encode(s, keep_slash)
  if keep_slash then return (s:gsub("[^A-Za-z0-9%-%._~/]", PCT)) end
  return http.url_encode(s) -- in C: query bodies carry whole JSON messages
end

local function env(name)
  local v = os.getenv(name)
  if v == "" then return nil end
  return v
end

local function strip_slash(u) return (u:gsub("/+$", "")) end

-- {====== service ======

local Service = {}
Service.__index = Service

local CLIENT_OPTS = { region = true, endpoint = true, credentials = true, profile = true,
  anonymous = true, retry = true, timeout = true, debug = true, path_style = true,
  -- service-specific options checked by the service modules themselves
  part_size = true, multipart_threshold = true, concurrency = true, part_concurrency = true,
  json_version = true, target_prefix = true, service = true, signing_name = true,
  checksum = true, connect_timeout = true }

local function resolve_region(opts)
  if opts.region then return opts.region end
  if type(aws.region) == "function" then
    local ok, r = pcall(aws.region, { profile = opts.profile })
    if ok and type(r) == "string" and r ~= "" then return r end
  end
  return env("AWS_REGION") or env("AWS_DEFAULT_REGION") or "us-east-1"
end

local function resolve_endpoint(opts, spec, region)
  if opts.endpoint then return strip_slash(opts.endpoint), true end
  if type(aws.endpoint) == "function" then
    local ok, e, path_style = pcall(aws.endpoint, spec.id, { profile = opts.profile,
      region = region })
    if ok and type(e) == "string" and e ~= "" and path_style then
      return strip_slash(e), true -- configured (custom) endpoint
    end
    -- otherwise the AWS default, built here with the service's own host name below
  end
  local e = env("AWS_ENDPOINT_URL_" .. spec.id:upper():gsub("[^%w]", "_")) or
    env("AWS_ENDPOINT_URL")
  if e then return strip_slash(e), true end
  return "https://" .. spec.host(region), false
end

--- A new service handle; raises on misuse (unknown option, wrong types).
function M.new(opts, spec)
  opts = opts or {}
  if type(opts) ~= "table" then
    error(("bad argument #1 to 'client' (table expected, got %s)"):format(type(opts)), 3)
  end
  for k in pairs(opts) do
    if not CLIENT_OPTS[k] then
      error(("bad argument #1 to 'client' (unknown option '%s')"):format(tostring(k)), 3)
    end
  end
  for _, k in ipairs({ "region", "endpoint", "profile" }) do
    if opts[k] ~= nil and type(opts[k]) ~= "string" then
      error(("bad argument #1 to 'client' (%s must be a string)"):format(k), 3)
    end
  end
  if opts.credentials ~= nil and type(opts.credentials) ~= "table" then
    error("bad argument #1 to 'client' (credentials must be a table)", 3)
  end
  local region = resolve_region(opts)
  local endpoint, custom = resolve_endpoint(opts, spec, region)
  local retry = opts.retry
  if retry == nil then retry = {} end
  if retry and spec.retry_non_idempotent then
    local r = { retry_non_idempotent = true }
    for k, v in pairs(retry) do r[k] = v end
    retry = r
  end
  return setmetatable({
    id = spec.id,
    signing_name = spec.signing_name or spec.id,
    s3 = spec.s3 or false,
    region = region,
    endpoint = endpoint,
    custom_endpoint = custom,
    path_style = opts.path_style == nil and custom or opts.path_style,
    profile = opts.profile,
    anonymous = opts.anonymous or false,
    retry = retry,
    timeout = opts.timeout,
    connect_timeout = opts.connect_timeout,
    debug = opts.debug,
    _explicit = opts.credentials,
  }, Service)
end

--- The credentials to sign with: {access_key, secret_key, session_token} or nil, msg, code.
function Service:credentials()
  local c = self._creds
  if not c then
    c = self._explicit
    if c and not c.access_key and type(c.get) ~= "function" then
      -- key files or other resolver options (access_key_file, secret_key_file, ...)
      local o = { profile = self.profile }
      for k, v in pairs(c) do o[k] = v end
      c = aws.credentials(o)
    end
    if not c then
      local ok, r, msg, code = pcall(aws.credentials, { profile = self.profile })
      if not ok then return nil, "credentials: " .. tostring(r), "auth" end
      if not r then return nil, msg, code or "auth" end
      c = r
    end
    self._creds = c
  end
  if type(c.get) == "function" then -- a refreshing provider
    local r, msg, code = c:get()
    if not r then return nil, msg, code or "auth" end
    return r
  end
  if not c.access_key or not c.secret_key then
    return nil, self.id .. ": credentials need access_key and secret_key", "auth"
  end
  return c
end

function Service:send(op, resource, req)
  local headers = req.headers or {}
  if not self.anonymous then
    local creds, msg, code = self:credentials()
    if not creds then return nil, ("%s %s: %s"):format(op, resource, msg), code end
    local hash = req.payload_hash
    if self.s3 then
      if not hash and req.body == nil then hash = "UNSIGNED-PAYLOAD" end
      if not hash then hash = aws.sha256_hex(req.body) end
      headers["x-amz-content-sha256"] = hash
    end
    local add = aws.sign({ method = req.method, url = req.url, headers = headers, body = req.body },
      creds, { region = self.region, service = self.signing_name, s3 = self.s3 or nil,
        payload_hash = hash })
    for k, v in pairs(add) do headers[k:lower()] = v end
  end
  local res, msg, code = http.request({
    method = req.method, url = req.url, headers = headers, body = req.body,
    body_file = req.body_file, body_offset = req.body_offset, body_length = req.body_length,
    output_file = req.output_file, range = req.range, sync = req.sync,
    slots = req.slots,
    timeout = req.timeout or self.timeout, connect_timeout = self.connect_timeout,
    retry = req.retry == nil and self.retry or req.retry, debug = self.debug,
  })
  if not res then
    local text = tostring(msg):gsub("^http%.request %S+ %S+: ", "")
    return nil, ("%s %s: %s"):format(op, resource, text), code
  end
  local expect = req.expect
  local st = res.status
  if (expect and expect[st]) or (not expect and st >= 200 and st < 300) then return res end
  return send_failure(op, resource, res, req.details)
end

function Service:sign_url(method, url, expires)
  local creds, msg, code = self:credentials()
  if not creds then return nil, msg, code end
  return aws.sign({ method = method, url = url, headers = {} }, creds,
    { region = self.region, service = self.signing_name, s3 = self.s3 or nil, presign = expires })
end

-- }======

--- A module-level call(service, op, params, opts) over make_client: one cached client per
--- service, or a fresh one when opts are given (opts.service is set from `service`).
function M.caller(make_client)
  local cache = {}
  return function(service, op, params, opts)
    if type(service) ~= "string" then
      error(("bad argument #1 to 'call' (string expected, got %s)"):format(type(service)), 2)
    end
    local c
    if opts then
      local o = { service = service }
      for k, v in pairs(opts) do o[k] = v end
      c = make_client(o)
    else
      c = cache[service]
      if not c then
        c = make_client({ service = service })
        cache[service] = c
      end
    end
    return c:call(op, params)
  end
end

return M
