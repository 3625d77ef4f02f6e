--- cirrus.event: records out of the envelopes Cirrus' lambdas receive (cirrus' extract_record
-- and extract_event_records, source-systems §5.2).
--
-- records(event) -> list of records | nil, msg, "parse"
--   event: a decoded table or JSON text. {"Records": [...]} gives one record per entry, any
--   other event is one record. Each entry: an SQS record's `body` or an SNS record's
--   `Sns.Message` is decoded; a `Message` key inside the result is decoded again (SNS -> SQS);
--   a Batch output {"Parameters": {"url_out": U}} becomes {"url": U}.
-- record(entry) -> record | nil, msg, "parse"          one entry as above
-- resolve(record, fetch) -> payload | nil, msg, code
--   {"url": U} is replaced by the JSON document at U: fetch(U) -> text | nil, msg, code
--   (cirrus.payloads' get_url does s3:// and local paths); anything else is returned as is.
local json = require("gf.json")

local M = {}

local function decode(text, what)
  if type(text) ~= "string" then
    return nil, ("cirrus event: %s is a %s, not JSON text"):format(what, type(text)), "parse"
  end
  local v, msg = json.decode(text)
  if v == nil then return nil, ("cirrus event: %s: %s"):format(what, msg), "parse" end
  return v
end

function M.record(r)
  if type(r) ~= "table" then return nil, "cirrus event: a record must be a JSON object", "parse" end
  local msg, code
  if r.body ~= nil then
    r, msg, code = decode(r.body, "SQS body")
  elseif type(r.Sns) == "table" then
    r, msg, code = decode(r.Sns.Message, "SNS Message")
  end
  if not r then return nil, msg, code end
  if type(r) == "table" and r.Message ~= nil then
    r, msg, code = decode(r.Message, "Message")
    if not r then return nil, msg, code end
  end
  if type(r) == "table" and type(r.Parameters) == "table" and r.Parameters.url_out ~= nil then
    r = json.object({ url = r.Parameters.url_out })
  end
  return r
end

function M.records(event)
  if type(event) == "string" then
    local v, msg, code = decode(event, "event")
    if v == nil then return nil, msg, code end
    event = v
  end
  if type(event) ~= "table" then return nil, "cirrus event: an event must be a JSON object", "parse" end
  local out = json.array()
  if type(event.Records) == "table" then
    for i, r in ipairs(event.Records) do
      local rec, msg, code = M.record(r)
      if rec == nil then return nil, ("%s (Records[%d])"):format(msg, i - 1), code end
      out[#out + 1] = rec
    end
    return out
  end
  local rec, msg, code = M.record(event)
  if rec == nil then return nil, msg, code end
  out[1] = rec
  return out
end

function M.resolve(record, fetch)
  if type(record) == "table" and type(record.url) == "string" and record.type == nil
      and record.process == nil then
    local text, msg, code = fetch(record.url)
    if not text then return nil, msg, code end
    local v, dmsg = json.decode(text)
    if v == nil then return nil, ("cirrus event %s: %s"):format(record.url, dmsg), "parse" end
    return v
  end
  return record
end

return M
