--- cirrus.payloads: the payload store — Cirrus' payload bucket on S3, or a local directory
-- (the embedded default), with the v1 or v2 layout.
--
-- open(spec, {s3 = gf.s3 client, layout = "v1"|"v2", root = "cirrus"}) -> store | nil, msg, code
--   spec "s3://bucket[/prefix]" or a directory ("file://dir" or a plain path; created on the
--   first write). The S3 client is made on first use when not given (gf.s3.client(): endpoint,
--   region and credentials from the environment).
-- store:input_key(id [, execution_id]) -> key relative to the store
--   v1 "<id>/input.json"; v2 "<root>/executions/<id>/<execution_id>/input.json"
-- store:url(key) -> "s3://bucket/prefix/key" or the local path
-- store:get_input(id [, execution_id]) -> payload | nil, msg, code   ("not_found" when missing)
-- store:put_input(id, text [, execution_id]) -> url | nil, msg, code
-- store:put_output(id, text [, execution_id]) -> url           (v1 "<id>/output.json")
-- store:put(key, text) -> url;  store:get(key) -> text
-- store:put_oversized(text) -> url   v1 "payloads/<uuid4>.json", v2 "<root>/tmp/oversized/<uuid4>.json"
-- store:get_url(url) -> text | nil, msg, code     s3:// through the S3 client, else a local path
-- store.kind "s3" | "dir";  store.spec
local json = require("gf.json")

local M = {}

local Store = {}
Store.__index = Store

local function s3c(self)
  if not self.s3 then self.s3 = require("gf.s3").client() end
  return self.s3
end

function M.open(spec, opts)
  if type(spec) ~= "string" or spec == "" then
    return nil, "cirrus payload store: no payload bucket or directory given (--payload-bucket or CIRRUS_PAYLOAD_BUCKET)", "invalid_input"
  end
  opts = opts or {}
  local layout = opts.layout or "v1"
  if layout ~= "v1" and layout ~= "v2" then
    return nil, ("cirrus payload store: layout must be v1 or v2, not '%s'"):format(tostring(layout)), "invalid_input"
  end
  local self = setmetatable({ spec = spec, layout = layout, root = opts.root or "cirrus", s3 = opts.s3 }, Store)
  local bucket, prefix = spec:match("^s3://([^/]+)/?(.*)$")
  if spec:match("^s3://") then
    if not bucket then return nil, ("cirrus payload store %s: no bucket"):format(spec), "invalid_input" end
    self.kind, self.bucket = "s3", bucket
    prefix = prefix:gsub("/+$", "")
    self.prefix = prefix ~= "" and (prefix .. "/") or ""
  else
    self.kind = "dir"
    self.dir = (spec:gsub("^file://", ""):gsub("/+$", ""))
    if self.dir == "" then self.dir = "/" end
  end
  return self
end

function Store:input_key(id, execution_id)
  if self.layout == "v2" then
    if not execution_id then return nil end
    return ("%s/executions/%s/%s/input.json"):format(self.root, id, execution_id)
  end
  return id .. "/input.json"
end

function Store:output_key(id, execution_id)
  if self.layout == "v2" then
    return ("%s/executions/%s/%s/output.json"):format(self.root, id, execution_id or "local")
  end
  return id .. "/output.json"
end

function Store:url(key)
  if self.kind == "s3" then return ("s3://%s/%s%s"):format(self.bucket, self.prefix, key) end
  return self.dir .. "/" .. key
end

function Store:get_url(url)
  if url:match("^s3://") then
    local body, msg, code = s3c(self):get(url)
    if not body then return nil, msg, code end
    return body
  end
  local path = url:gsub("^file://", "")
  local f, err = io.open(path, "rb")
  if not f then
    local code = (err and err:find("No such file")) and "not_found" or "io"
    return nil, ("cirrus payload store: %s: %s"):format(path, err), code
  end
  local text = f:read("a")
  f:close()
  return text
end

function Store:get(key) return self:get_url(self:url(key)) end

function Store:put(key, text)
  local url = self:url(key)
  if self.kind == "s3" then
    local r, msg, code = s3c(self):put(url, text, { content_type = "application/json" })
    if not r then return nil, msg, code end
    return url
  end
  local fs = require("gf.fs")
  local dir = url:match("^(.*)/[^/]+$")
  local ok, msg, code = fs.mkdir_p(dir)
  if not ok then return nil, msg, code end
  ok, msg, code = fs.write_atomic(url, text)
  if not ok then return nil, msg, code end
  return url
end

function Store:get_input(id, execution_id)
  local key = self:input_key(id, execution_id)
  if not key then return nil, ("cirrus payload store: %s has no execution"):format(id), "not_found" end
  local text, msg, code = self:get(key)
  if not text then return nil, msg, code end
  local v, dmsg = json.decode(text)
  if type(v) ~= "table" then
    return nil, ("cirrus payload %s: %s"):format(self:url(key), dmsg or "not a JSON object"), "parse"
  end
  return v
end

function Store:put_input(id, text, execution_id)
  return self:put(self:input_key(id, execution_id or "local"), text)
end

function Store:put_output(id, text, execution_id)
  return self:put(self:output_key(id, execution_id), text)
end

function Store:put_oversized(text)
  local name = require("cirrus.uuid").uuid4() .. ".json"
  if self.layout == "v2" then return self:put(("%s/tmp/oversized/%s"):format(self.root, name), text) end
  return self:put("payloads/" .. name, text)
end

return M
