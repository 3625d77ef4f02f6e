--- viirs.store: where the CSVs go: a local directory (the embedded default) or an S3 prefix
--- (s3://bucket/sezu-stats/, as the original's protected bucket). Names are flat file names.
--
-- open(out, opts) -> store | nil, msg, code     opts.client: a gf.s3 client (default: gf.s3.client()
--                                               from the environment: AWS_ENDPOINT_URL, profile...)
-- store:url(name)            where a name is stored
-- store:exists(name) -> bool | nil, msg, code
-- store:put(name, text) -> true | nil, msg, code  local: written atomically; s3: one PUT
-- store:read(name) -> text | nil, msg, code
-- store:list() -> list of names (sorted) | nil, msg, code
local fs = require("gf.fs")

local M = {}

local Local, S3 = {}, {}
Local.__index, S3.__index = Local, S3

function M.is_s3(out) return type(out) == "string" and out:match("^s3://") ~= nil end

function M.open(out, opts)
  opts = opts or {}
  if type(out) ~= "string" or out == "" then return nil, "out: a directory or s3:// URL expected", "invalid_input" end
  if M.is_s3(out) then
    local bucket = out:match("^s3://([^/]+)")
    if not bucket then return nil, ("out %s: s3://bucket/prefix/ expected"):format(out), "invalid_input" end
    local prefix = out:sub(#("s3://" .. bucket) + 2)
    if prefix ~= "" and prefix:sub(-1) ~= "/" then prefix = prefix .. "/" end
    local client = opts.client or require("gf.s3").client(opts.s3 or {})
    return setmetatable({ out = out, bucket = bucket, prefix = prefix, client = client }, S3)
  end
  local dir = out:gsub("^file://", ""):gsub("/+$", "")
  if dir == "" then dir = "/" end
  return setmetatable({ out = out, dir = dir }, Local)
end

function Local:url(name) return self.dir .. "/" .. name end
function Local:exists(name) return fs.exists(self:url(name)) end
function Local:put(name, text)
  local ok, err, code = fs.mkdir_p(self.dir)
  if not ok then return nil, err, code end
  return fs.write_atomic(self:url(name), text)
end
function Local:read(name) return fs.read(self:url(name)) end
function Local:list()
  if not fs.exists(self.dir) then return {} end
  local names, err, code = fs.list(self.dir)
  if not names then return nil, err, code end
  local out = {}
  for _, n in ipairs(names) do
    if n:match("%.csv$") then out[#out + 1] = n end
  end
  return out
end

function S3:url(name) return ("s3://%s/%s%s"):format(self.bucket, self.prefix, name) end
function S3:exists(name)
  local r, err, code = self.client:head(self:url(name))
  if r then return true end
  if code == "not_found" then return false end
  return nil, err, code
end
function S3:put(name, text)
  local r, err, code = self.client:put(self:url(name), text, { content_type = "text/csv" })
  if not r then return nil, err, code end
  return true
end
function S3:read(name) return self.client:get(self:url(name)) end
function S3:list()
  local objs, err, code = self.client:list(("s3://%s/%s"):format(self.bucket, self.prefix))
  if not objs then return nil, err, code end
  local out = {}
  for _, o in ipairs(objs) do
    local name = o.key:sub(#self.prefix + 1)
    if not name:find("/", 1, true) and name:match("%.csv$") then out[#out + 1] = name end
  end
  table.sort(out)
  return out
end

return M
