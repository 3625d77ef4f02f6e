--- gf.sns: Amazon SNS over the query protocol (form POST, XML responses), built on
-- gf.awsjson.query.
--
-- client(opts) -> client
--   region, endpoint, credentials, profile, retry, timeout: as in gf.s3.client. Calls are
--   retried by gf.http (a repeated Publish can at worst deliver twice; SNS is at-least-once).
-- client:publish(topic_arn, message [, {subject =, attributes =, group_id =, dedup_id =,
--   structure = "json"}]) -> message_id
-- client:publish_batch(topic_arn, entries) -> {successful = {...}, failed = {...}}
--   entries: strings or {message =, id =, subject =, attributes =, group_id =, dedup_id =};
--   sent 10 per call. successful[i] = {index =, id =, message_id =}; failed[i] = {index =,
--   id =, code =, message =, sender_fault =}; index is the position in `entries`. When every call
--   failed as a whole: nil, message, code.
-- client:get_topic_attributes(topic_arn) -> {name = value}
-- client:validate_topic(topic_arn) -> true | nil, message, code   (not_found for a missing topic)
-- client:create_topic(name [, attributes]) -> topic_arn;  client:delete_topic(arn) -> true
-- client:subscribe(topic_arn, protocol, endpoint [, attributes]) -> subscription_arn
-- client:set_subscription_attributes(subscription_arn, name, value) -> true
-- attributes: name -> string (String), number (Number), or {DataType =, StringValue =}.
-- Failures: nil, "sns.<op> <topic>: <status> <AwsCode>: <message>", code.
local query = require("gf.awsjson.query")
local xml = require("gf.xml")

local M = {}

local Client = {}
Client.__index = Client
Client.__name = "gf.sns.client"

function M.client(opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    error(("bad argument #1 to 'client' (table expected, got %s)"):format(type(opts)), 2)
  end
  local o = { service = "sns" }
  for k, v in pairs(opts) do o[k] = v end
  local c = query.client(o)
  return setmetatable({ _c = c, endpoint = c.endpoint, region = c.region }, Client)
end

-- A topic's or subscription's attributes {k = v} as Attributes.entry.N.{key,value} in p.
local function add_attribute_entries(p, attrs)
  local i = 0
  for k, v in pairs(attrs or {}) do
    i = i + 1
    p[("Attributes.entry.%d.key"):format(i)] = k
    p[("Attributes.entry.%d.value"):format(i)] = tostring(v)
  end
end

local function check_str(v, n, fname, what)
  if type(v) ~= "string" or v == "" then
    error(("bad argument #%d to '%s' (%s expected, got %s)"):format(n, fname, what, type(v)), 3)
  end
end

-- MessageAttributes.entry.N.{Name,Value.DataType,Value.StringValue} into flat under prefix.
local function put_attributes(flat, prefix, attrs)
  if attrs == nil then return end
  if type(attrs) ~= "table" then error("attributes must be a table", 4) end
  local keys = {}
  for k in pairs(attrs) do keys[#keys + 1] = k end
  table.sort(keys)
  for i, k in ipairs(keys) do
    local v, p = attrs[k], ("%s.entry.%d."):format(prefix, i)
    local dt, sv
    if type(v) == "string" then
      dt, sv = "String", v
    elseif type(v) == "number" then
      dt, sv = "Number", math.type(v) == "integer" and ("%d"):format(v) or tostring(v)
    elseif type(v) == "table" and v.DataType then
      dt, sv = v.DataType, v.StringValue
      if v.BinaryValue then flat[p .. "Value.BinaryValue"] = v.BinaryValue end
    else
      error(("attribute %s: string, number or {DataType =, ...} expected"):format(tostring(k)), 4)
    end
    flat[p .. "Name"] = k
    flat[p .. "Value.DataType"] = dt
    if sv then flat[p .. "Value.StringValue"] = sv end
  end
end

function Client:publish(topic, message, opts)
  check_str(topic, 1, "publish", "topic ARN")
  if type(message) ~= "string" then
    error(("bad argument #2 to 'publish' (string expected, got %s)"):format(type(message)), 2)
  end
  opts = opts or {}
  local p = { TopicArn = topic, Message = message, Subject = opts.subject,
    MessageGroupId = opts.group_id, MessageDeduplicationId = opts.dedup_id,
    MessageStructure = opts.structure }
  put_attributes(p, "MessageAttributes", opts.attributes)
  local r, msg, code = self._c:call("Publish", p, { op = "sns.publish", resource = topic })
  if not r then return nil, msg, code end
  return r.MessageId
end

local function entry_params(flat, i, e, n)
  local p = ("PublishBatchRequestEntries.member.%d."):format(i)
  if type(e) == "string" then e = { message = e } end
  if type(e) ~= "table" or type(e.message) ~= "string" then
    error(("entry %d: a string or a table with a string message expected"):format(n), 4)
  end
  local id = e.id and tostring(e.id) or tostring(n)
  flat[p .. "Id"] = id
  flat[p .. "Message"] = e.message
  if e.subject then flat[p .. "Subject"] = e.subject end
  if e.group_id then flat[p .. "MessageGroupId"] = e.group_id end
  if e.dedup_id then flat[p .. "MessageDeduplicationId"] = e.dedup_id end
  put_attributes(flat, p .. "MessageAttributes", e.attributes)
  return id
end

local function as_list(v)
  if v == nil or v == "" then return {} end
  if v[1] == nil and next(v) then return { v } end
  return v
end

function Client:publish_batch(topic, entries)
  check_str(topic, 1, "publish_batch", "topic ARN")
  if type(entries) ~= "table" then
    error(("bad argument #2 to 'publish_batch' (table expected, got %s)"):format(type(entries)), 2)
  end
  local out = { successful = {}, failed = {} }
  local calls, failures, first = 0, 0, nil
  for start = 1, #entries, 10 do
    local flat, index_of = { TopicArn = topic }, {}
    for i = start, math.min(start + 9, #entries) do
      index_of[entry_params(flat, i - start + 1, entries[i], i)] = i
    end
    calls = calls + 1
    local r, msg, code = self._c:call("PublishBatch", flat,
      { op = "sns.publish_batch", resource = topic })
    if not r then
      failures = failures + 1
      first = first or { msg, code }
      for id, i in pairs(index_of) do
        out.failed[#out.failed + 1] = { index = i, id = id, code = code, message = msg }
      end
    else
      for _, s in ipairs(as_list(r.Successful)) do
        out.successful[#out.successful + 1] = { index = index_of[s.Id], id = s.Id,
          message_id = s.MessageId }
      end
      for _, f in ipairs(as_list(r.Failed)) do
        out.failed[#out.failed + 1] = { index = index_of[f.Id], id = f.Id, code = f.Code,
          message = f.Message, sender_fault = f.SenderFault == "true" }
      end
    end
  end
  if calls > 0 and failures == calls then return nil, first[1], first[2] end
  table.sort(out.successful, function(a, b) return a.index < b.index end)
  table.sort(out.failed, function(a, b) return a.index < b.index end)
  return out
end

function Client:get_topic_attributes(topic)
  check_str(topic, 1, "get_topic_attributes", "topic ARN")
  local r, root, code = self._c:call("GetTopicAttributes", { TopicArn = topic },
    { op = "sns.get_topic_attributes", resource = topic })
  if not r then return nil, root, code end
  local out = {}
  local attrs = xml.find(root, "GetTopicAttributesResult/Attributes")
  for _, e in ipairs(attrs and attrs.children or {}) do
    local k = xml.text(e, "key")
    if k then out[k] = xml.text(e, "value") or "" end
  end
  return out
end

function Client:validate_topic(topic)
  local attrs, msg, code = self:get_topic_attributes(topic)
  if not attrs then return nil, msg, code end
  return true
end

function Client:create_topic(name, attrs)
  check_str(name, 1, "create_topic", "string")
  local p = { Name = name }
  add_attribute_entries(p, attrs)
  local r, msg, code = self._c:call("CreateTopic", p, { op = "sns.create_topic", resource = name })
  if not r then return nil, msg, code end
  return r.TopicArn
end

function Client:delete_topic(topic)
  check_str(topic, 1, "delete_topic", "topic ARN")
  local r, msg, code = self._c:call("DeleteTopic", { TopicArn = topic }, { op = "sns.delete_topic", resource = topic })
  if not r then return nil, msg, code end
  return true
end

function Client:subscribe(topic, protocol, endpoint, attrs)
  check_str(topic, 1, "subscribe", "topic ARN")
  check_str(protocol, 2, "subscribe", "protocol")
  check_str(endpoint, 3, "subscribe", "endpoint")
  local p = { TopicArn = topic, Protocol = protocol, Endpoint = endpoint,
    ReturnSubscriptionArn = true }
  add_attribute_entries(p, attrs)
  local r, msg, code = self._c:call("Subscribe", p, { op = "sns.subscribe", resource = topic })
  if not r then return nil, msg, code end
  return r.SubscriptionArn
end

function Client:set_subscription_attributes(arn, name, value)
  check_str(arn, 1, "set_subscription_attributes", "subscription ARN")
  local r, msg, code = self._c:call("SetSubscriptionAttributes", { SubscriptionArn = arn,
    AttributeName = name, AttributeValue = tostring(value) }, { op = "sns.set_subscription_attributes", resource = arn })
  if not r then return nil, msg, code end
  return true
end

return M
