--- gf.sqs: Amazon SQS over the JSON protocol (AmazonSQS.* targets). Every call is POSTed to the
-- configured endpoint with QueueUrl in the body — the client never connects to the host inside
-- a queue URL (emulators hand out URLs such as http://sqs.us-east-1.localhost:19001/...).
--
-- client(opts) -> client
--   region, endpoint, credentials, profile, retry, timeout: as in gf.s3.client. Calls are
--   retried by gf.http (SQS calls are safe to repeat: delivery is at-least-once anyway).
-- A `queue` argument is a queue URL, or a queue name (resolved once with GetQueueUrl, cached).
--
-- client:send(queue, body [, {attributes =, delay =, group_id =, dedup_id =}]) -> {message_id =,
--   md5 =, sequence =}
-- client:send_batch(queue, entries) -> {successful = {...}, failed = {...}}
--   entries: strings (bodies) or {body =, id =, attributes =, message_attributes =, delay =,
--   group_id =, dedup_id =}; a received message is a valid entry (body + message_attributes).
--   Sent 10 per call. successful[i] = {index =, id =, message_id =}; failed[i] = {index =, id =,
--   code =, message =, sender_fault =}; index is the position in `entries`. When every call
--   failed as a whole, the result is nil, message, code instead.
-- client:receive(queue [, {max = 10, wait =, visibility =, attributes = {"All"},
--   message_attributes = {"All"}}]) -> list of messages {id =, body =, receipt =, md5 =,
--   attributes = {system attributes}, message_attributes = {name = {DataType =, StringValue =
--   | BinaryValue =}}}; wait (0-20 s) is the long-poll time.
-- client:delete(queue, receipt_or_message) -> true
-- client:delete_batch(queue, receipts_or_messages) -> {successful =, failed =} (10 per call)
-- client:change_visibility(queue, receipt_or_message, seconds) -> true
-- client:change_visibility_batch(queue, items, seconds) -> {successful =, failed =}
-- client:get_attributes(queue [, names = {"All"}]) -> {name = string value}
-- client:set_attributes(queue, attributes) -> true
-- client:purge(queue) -> true
-- client:create_queue(name [, attributes]) -> url   (attribute values: strings, numbers, or a
--   table for RedrivePolicy / RedriveAllowPolicy, encoded as JSON)
-- client:get_queue_url(name) -> url;  client:delete_queue(queue) -> true
-- client:list_queues([prefix]) -> {urls}
-- attributes(t) -> SQS MessageAttributes: "s" -> String, numbers -> Number, a table with
--   DataType is kept as is.
-- Failures: nil, "sqs.<op> <queue>: <status> <AwsCode>: <message>", code (not_found for a
-- missing queue, auth, throttled, invalid_input, aws, or a transport code).
local awsjson = require("gf.awsjson")
local json = require("gf.json")

local M = {}

local Client = {}
Client.__index = Client
Client.__name = "gf.sqs.client"

function M.client(opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    error(("bad argument #1 to 'client' (table expected, got %s)"):format(type(opts)), 2)
  end
  local o = { service = "sqs" }
  for k, v in pairs(opts) do o[k] = v end
  local c = awsjson.client(o)
  return setmetatable({ _c = c, _urls = {}, endpoint = c.endpoint, region = c.region }, Client)
end

local function check_queue(queue, fname)
  if type(queue) ~= "string" or queue == "" then
    error(("bad argument #1 to '%s' (queue URL or name expected, got %s)"):format(fname,
      type(queue)), 3)
  end
end

local function call(self, target, params, op, resource, timeout)
  return self._c:call(target, params, { op = "sqs." .. op, resource = resource, timeout = timeout })
end

-- Queue URL for a URL or a name; nil, msg, code when a name cannot be resolved.
local function url_of(self, queue)
  if queue:find("://", 1, true) then return queue end
  local u = self._urls[queue]
  if u then return u end
  local r, msg, code = call(self, "GetQueueUrl", { QueueName = queue }, "get_queue_url", queue)
  if not r then return nil, msg, code end
  self._urls[queue] = r.QueueUrl
  return r.QueueUrl
end

function M.attributes(t)
  if t == nil then return nil end
  if type(t) ~= "table" then error("attributes must be a table", 3) end
  local out = {}
  for k, v in pairs(t) do
    local tv = type(v)
    if tv == "string" then
      out[k] = { DataType = "String", StringValue = v }
    elseif tv == "number" then
      out[k] = { DataType = "Number",
        StringValue = math.type(v) == "integer" and ("%d"):format(v) or tostring(v) }
    elseif tv == "table" and v.DataType then
      out[k] = { DataType = v.DataType, StringValue = v.StringValue, BinaryValue = v.BinaryValue }
    else
      error(("attribute %s: string, number or {DataType =, ...} expected"):format(tostring(k)), 3)
    end
  end
  return next(out) and out or nil
end

local function int_opt(v, name, lo, hi)
  if v == nil then return nil end
  if math.type(v) ~= "integer" or v < lo or v > hi then
    error(("%s must be an integer in %d..%d"):format(name, lo, hi), 3)
  end
  return v
end

function Client:send(queue, body, opts)
  check_queue(queue, "send")
  if type(body) ~= "string" then
    error(("bad argument #2 to 'send' (string expected, got %s)"):format(type(body)), 2)
  end
  opts = opts or {}
  local url, msg, code = url_of(self, queue)
  if not url then return nil, msg, code end
  local r
  r, msg, code = call(self, "SendMessage", {
    QueueUrl = url, MessageBody = body, MessageAttributes = M.attributes(opts.attributes),
    DelaySeconds = int_opt(opts.delay, "delay", 0, 900), MessageGroupId = opts.group_id,
    MessageDeduplicationId = opts.dedup_id,
  }, "send", url)
  if not r then return nil, msg, code end
  return { message_id = r.MessageId, md5 = r.MD5OfMessageBody, sequence = r.SequenceNumber }
end

local function entry_of(e, i)
  if type(e) == "string" then return { Id = tostring(i), MessageBody = e } end
  if type(e) ~= "table" or type(e.body) ~= "string" then
    error(("entry %d: a string or a table with a string body expected"):format(i), 3)
  end
  local ma = e.message_attributes
  if ma and next(ma) == nil then ma = nil end
  return {
    Id = e.id and tostring(e.id) or tostring(i), MessageBody = e.body,
    MessageAttributes = ma or M.attributes(e.attributes),
    DelaySeconds = int_opt(e.delay, "delay", 0, 900), MessageGroupId = e.group_id,
    MessageDeduplicationId = e.dedup_id,
  }
end

-- Runs batches of 10: build(entry, i) -> request entry; returns the merged result.
local function batched(self, queue, items, fname, target, build, extra)
  check_queue(queue, fname)
  if type(items) ~= "table" then
    error(("bad argument #2 to '%s' (table expected, got %s)"):format(fname, type(items)), 3)
  end
  local url, msg, code = url_of(self, queue)
  if not url then return nil, msg, code end
  local out = { successful = {}, failed = {} }
  local calls, call_failures, first_err = 0, 0, nil
  for start = 1, #items, 10 do
    local entries, index_of = {}, {}
    for i = start, math.min(start + 9, #items) do
      local e = build(items[i], i)
      entries[#entries + 1] = e
      index_of[e.Id] = i
    end
    local params = { QueueUrl = url, Entries = entries }
    if extra then for k, v in pairs(extra) do params[k] = v end end
    calls = calls + 1
    local r, m, c = call(self, target, params, fname, url)
    if not r then
      call_failures = call_failures + 1
      first_err = first_err or { m, c }
      for _, e in ipairs(entries) do
        out.failed[#out.failed + 1] = { index = index_of[e.Id], id = e.Id, code = c, message = m }
      end
    else
      for _, s in ipairs(r.Successful or {}) do
        out.successful[#out.successful + 1] = { index = index_of[s.Id], id = s.Id,
          message_id = s.MessageId }
      end
      for _, f in ipairs(r.Failed or {}) do
        out.failed[#out.failed + 1] = { index = index_of[f.Id], id = f.Id, code = f.Code,
          message = f.Message, sender_fault = f.SenderFault }
      end
    end
  end
  if calls > 0 and call_failures == calls then return nil, first_err[1], first_err[2] end
  table.sort(out.successful, function(a, b) return a.index < b.index end)
  table.sort(out.failed, function(a, b) return a.index < b.index end)
  return out
end

function Client:send_batch(queue, entries)
  return batched(self, queue, entries, "send_batch", "SendMessageBatch", entry_of)
end

local function receipt_of(x, i)
  if type(x) == "string" then return x end
  if type(x) == "table" and type(x.receipt) == "string" then return x.receipt end
  error(("item %s: a receipt handle or a received message expected"):format(tostring(i)), 3)
end

function Client:delete_batch(queue, items)
  return batched(self, queue, items, "delete_batch", "DeleteMessageBatch", function(x, i)
    return { Id = tostring(i), ReceiptHandle = receipt_of(x, i) }
  end)
end

function Client:change_visibility_batch(queue, items, seconds)
  int_opt(seconds, "seconds", 0, 43200)
  return batched(self, queue, items, "change_visibility_batch", "ChangeMessageVisibilityBatch",
    function(x, i)
      return { Id = tostring(i), ReceiptHandle = receipt_of(x, i), VisibilityTimeout = seconds }
    end)
end

local function names(v, default)
  if v == nil then return default end
  if type(v) == "string" then return { v } end
  if type(v) ~= "table" then error("attribute names: a string or a list expected", 3) end
  if #v == 0 then return nil end -- an empty table would encode as {} (not a list)
  return v
end

function Client:receive(queue, opts)
  check_queue(queue, "receive")
  opts = opts or {}
  if type(opts) ~= "table" then error("bad argument #2 to 'receive' (table expected)", 2) end
  local url, msg, code = url_of(self, queue)
  if not url then return nil, msg, code end
  local wait = int_opt(opts.wait, "wait", 0, 20)
  local r
  r, msg, code = call(self, "ReceiveMessage", {
    QueueUrl = url, MaxNumberOfMessages = int_opt(opts.max, "max", 1, 10) or 10,
    WaitTimeSeconds = wait, VisibilityTimeout = int_opt(opts.visibility, "visibility", 0, 43200),
    AttributeNames = names(opts.attributes, { "All" }),
    MessageAttributeNames = names(opts.message_attributes, { "All" }),
  }, "receive", url, (wait or 0) + 30)
  if not r then return nil, msg, code end
  local out = {}
  for i, m in ipairs(r.Messages or {}) do
    out[i] = { id = m.MessageId, body = m.Body, receipt = m.ReceiptHandle, md5 = m.MD5OfBody,
      attributes = m.Attributes or {}, message_attributes = m.MessageAttributes or {} }
  end
  return out
end

local function simple(self, fname, target, queue, extra)
  check_queue(queue, fname)
  local url, msg, code = url_of(self, queue)
  if not url then return nil, msg, code end
  local params = { QueueUrl = url }
  for k, v in pairs(extra or {}) do params[k] = v end
  local r
  r, msg, code = call(self, target, params, fname, url)
  if not r then return nil, msg, code end
  return r
end

function Client:delete(queue, receipt)
  local r, msg, code = simple(self, "delete", "DeleteMessage", queue,
    { ReceiptHandle = receipt_of(receipt, 2) })
  if not r then return nil, msg, code end
  return true
end

function Client:change_visibility(queue, receipt, seconds)
  int_opt(seconds, "seconds", 0, 43200)
  local r, msg, code = simple(self, "change_visibility", "ChangeMessageVisibility", queue,
    { ReceiptHandle = receipt_of(receipt, 2), VisibilityTimeout = seconds })
  if not r then return nil, msg, code end
  return true
end

function Client:get_attributes(queue, which)
  local r, msg, code = simple(self, "get_attributes", "GetQueueAttributes", queue,
    { AttributeNames = names(which, { "All" }) })
  if not r then return nil, msg, code end
  return r.Attributes or {}
end

local function attr_strings(t)
  if t == nil then return nil end
  local out = {}
  for k, v in pairs(t) do
    if type(v) == "table" then
      out[k] = json.encode(v)
    elseif math.type(v) == "integer" then
      out[k] = ("%d"):format(v)
    else
      out[k] = tostring(v)
    end
  end
  return out
end

function Client:set_attributes(queue, attrs)
  if type(attrs) ~= "table" then error("bad argument #2 to 'set_attributes' (table expected)", 2) end
  local r, msg, code = simple(self, "set_attributes", "SetQueueAttributes", queue,
    { Attributes = attr_strings(attrs) })
  if not r then return nil, msg, code end
  return true
end

function Client:purge(queue)
  local r, msg, code = simple(self, "purge", "PurgeQueue", queue)
  if not r then return nil, msg, code end
  return true
end

function Client:delete_queue(queue)
  local r, msg, code = simple(self, "delete_queue", "DeleteQueue", queue)
  if not r then return nil, msg, code end
  if not queue:find("://", 1, true) then self._urls[queue] = nil end
  return true
end

function Client:create_queue(name, attrs)
  if type(name) ~= "string" or name == "" then
    error(("bad argument #1 to 'create_queue' (string expected, got %s)"):format(type(name)), 2)
  end
  if attrs ~= nil and type(attrs) ~= "table" then
    error("bad argument #2 to 'create_queue' (table expected)", 2)
  end
  local r, msg, code = call(self, "CreateQueue", { QueueName = name,
    Attributes = attr_strings(attrs) }, "create_queue", name)
  if not r then return nil, msg, code end
  self._urls[name] = r.QueueUrl
  return r.QueueUrl
end

function Client:get_queue_url(name)
  if type(name) ~= "string" or name == "" then
    error(("bad argument #1 to 'get_queue_url' (string expected, got %s)"):format(type(name)), 2)
  end
  self._urls[name] = nil
  return url_of(self, name)
end

function Client:list_queues(prefix)
  local r, msg, code = call(self, "ListQueues", { QueueNamePrefix = prefix }, "list_queues",
    prefix or self.endpoint)
  if not r then return nil, msg, code end
  return r.QueueUrls or {}
end

return M
