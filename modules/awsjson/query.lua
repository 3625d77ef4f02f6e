--- gf.awsjson.query: generic calls to AWS query-protocol services (SNS, STS, ...): form-encoded
-- POST bodies `Action=...&Version=...`, XML responses read with gf.xml.
--
-- client(opts) -> client
--   opts.service (required): "sns", "sts", or any signing name (then give version)
--   version: the API version ("2010-03-31" for SNS, "2011-06-15" for STS by default)
--   region, endpoint, credentials, profile, retry, timeout: as in gf.s3.client
-- client:call(action, params [, {op =, resource =}]) -> result, root | nil, message, code
--   params are flattened into query keys: a nested record becomes "Key.Sub", a list becomes
--   "Key.member.N" (1-based), scalars are strings, numbers or booleans; a key that already holds
--   dots ("Attributes.entry.1.key") is passed as is. result is gf.xml.simplify of the
--   <ActionResult> element ({} when absent) and root the whole parsed document.
--   Errors: nil, "<service>.<Action> <resource>: <status> <AwsCode>: <message>", code (see
--   gf.awsjson).
-- call(service, action, params [, opts]) -> same, with a client cached per service.
-- flatten(params) -> {key = string}: the flattening above, for inspection.
local base = require("gf.awsjson.base")
local xml = require("gf.xml")

local M = {}

local SERVICES = {
  sns = { id = "sns", version = "2010-03-31" },
  sts = { id = "sts", version = "2011-06-15" },
  sqs = { id = "sqs", version = "2012-11-05" },
  iam = { id = "iam", version = "2010-05-08" },
}
M.SERVICES = SERVICES

local function flatten_into(out, prefix, v)
  local t = type(v)
  if t == "string" then
    out[prefix] = v
  elseif t == "number" then
    out[prefix] = math.type(v) == "integer" and ("%d"):format(v) or tostring(v)
  elseif t == "boolean" then
    out[prefix] = v and "true" or "false"
  elseif t == "table" then
    if #v > 0 or next(v) == nil then
      for i, item in ipairs(v) do flatten_into(out, prefix .. ".member." .. i, item) end
    else
      for k, item in pairs(v) do
        if type(k) ~= "string" then
          error(("query: key %s of %s is not a string"):format(tostring(k), prefix), 4)
        end
        flatten_into(out, prefix .. "." .. k, item)
      end
    end
  else
    error(("query: cannot encode a %s at %s"):format(t, prefix), 4)
  end
end

function M.flatten(params)
  local out = {}
  for k, v in pairs(params) do
    if type(k) ~= "string" then error("query: parameter names must be strings", 3) end
    flatten_into(out, k, v)
  end
  return out
end

local function form(flat)
  return require("gf.http").query(flat)
end

local Client = {}
Client.__index = Client
Client.__name = "gf.awsjson.query_client"

function M.client(opts)
  if type(opts) ~= "table" then
    error(("bad argument #1 to 'client' (table expected, got %s)"):format(type(opts)), 2)
  end
  local name = opts.service
  if type(name) ~= "string" then error("bad argument #1 to 'client' (service expected)", 2) end
  local known = SERVICES[name] or {}
  local version = opts.version or known.version
  if type(version) ~= "string" then
    error("bad argument #1 to 'client' (version expected for service " .. name .. ")", 2)
  end
  local sopts = {}
  for k, v in pairs(opts) do
    if k ~= "service" and k ~= "version" then sopts[k] = v end
  end
  local svc = base.new(sopts, {
    id = known.id or name,
    signing_name = name,
    retry_non_idempotent = true, -- query calls are POSTs; SNS and STS calls are safe to repeat
    host = function(region)
      if name == "sts" and region == "us-east-1" then return "sts.amazonaws.com" end
      return ("%s.%s.amazonaws.com"):format(name, region)
    end,
  })
  return setmetatable({ _svc = svc, service = name, version = version, endpoint = svc.endpoint,
    region = svc.region }, Client)
end

function Client:call(action, params, opts)
  if type(action) ~= "string" or action == "" then
    error(("bad argument #1 to 'call' (string expected, got %s)"):format(type(action)), 2)
  end
  if params ~= nil and type(params) ~= "table" then
    error(("bad argument #2 to 'call' (table expected, got %s)"):format(type(params)), 2)
  end
  local flat = M.flatten(params or {})
  flat.Action, flat.Version = action, self.version
  local op = (opts and opts.op) or self.service .. "." .. action
  local resource = (opts and opts.resource) or flat.TopicArn or flat.QueueUrl or flat.RoleArn or
    flat.Name or self.endpoint
  local res, msg, code = self._svc:send(op, resource, {
    method = "POST",
    url = self.endpoint .. "/",
    headers = { ["content-type"] = "application/x-www-form-urlencoded; charset=utf-8" },
    body = form(flat),
  })
  if not res then return nil, msg, code end
  local root, perr = xml.parse(res.body)
  if not root then
    return nil, ("%s %s: %d response: %s"):format(op, resource, res.status, perr), "parse"
  end
  local result = xml.child(root, action .. "Result")
  return result and xml.simplify(result) or {}, root
end

M.call = base.caller(function(o) return M.client(o) end)

return M
