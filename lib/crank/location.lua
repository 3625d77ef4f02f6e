--- crank.location: the crank's input and output, an S3 prefix or a local directory, behind one
-- small interface keyed by paths relative to the location (S3 keys below the prefix, or paths
-- below the directory).
--
--   location.open(url, s3opts) -> loc | nil, msg, "invalid_input"
--     url: s3://bucket[/prefix], file:///dir or a plain directory path
--   loc:list() -> {{key=, etag=, size=, mtime=}...} | nil, msg, code   recursive, every object
--   loc:read(key) -> bytes                 loc:write(key, bytes, content_type) -> true
--   loc:download(key, path) -> path        (a local location returns its own file instead)
--   loc:upload(path, key, content_type) -> true
--   loc:rename(src, dst) -> true           nil, msg, "not_found" when src has gone
--   loc:delete(key) -> true                loc:exists(key) -> bool
--   loc:url(key) -> printable name
-- Every failure is `nil, message, code`.
local M = {}

local S3, Dir = {}, {}
S3.__index, Dir.__index = S3, Dir

local function join(prefix, key)
  if prefix == "" then return key end
  return prefix .. "/" .. key
end

--- Parse a location URL: {kind = "s3", bucket =, prefix =} or {kind = "dir", path =}.
function M.parse(url)
  if type(url) ~= "string" or url == "" then return nil, "location: empty URL", "invalid_input" end
  local bucket, rest = url:match("^s3://([^/]+)/?(.*)$")
  if bucket then
    rest = rest:gsub("/+$", "")
    return { kind = "s3", bucket = bucket, prefix = rest, url = url }
  end
  if url:match("^s3:") then return nil, ("location %s: expected s3://bucket[/prefix]"):format(url), "invalid_input" end
  local path = url:match("^file://(.*)$") or url
  if url:match("^%a[%w+.-]*://") and not url:match("^file://") then
    return nil, ("location %s: expected s3://bucket[/prefix], file:///dir or a directory"):format(url), "invalid_input"
  end
  if path == "" then return nil, ("location %s: empty path"):format(url), "invalid_input" end
  if #path > 1 then path = path:gsub("/+$", "") end
  return { kind = "dir", path = path, url = url }
end

function M.open(url, s3opts)
  local p, msg, code = M.parse(url)
  if not p then return nil, msg, code end
  if p.kind == "s3" then
    local client = require("gf.s3").client(s3opts or {})
    return setmetatable({ kind = "s3", bucket = p.bucket, prefix = p.prefix, client = client,
      base = "s3://" .. p.bucket .. (p.prefix ~= "" and "/" .. p.prefix or "") }, S3)
  end
  return setmetatable({ kind = "dir", path = p.path, base = p.path }, Dir)
end

-- {====== S3 ======

function S3:url(key) return "s3://" .. self.bucket .. "/" .. join(self.prefix, key) end

function S3:list()
  local prefix = self.prefix ~= "" and self.prefix .. "/" or ""
  local out = {}
  local ok, msg, code = self.client:list_pages("s3://" .. self.bucket .. "/" .. prefix, {},
    function(objs)
      for _, o in ipairs(objs) do
        out[#out + 1] = { key = o.key:sub(#prefix + 1), etag = o.etag, size = o.size,
          mtime = o.last_modified }
      end
    end)
  if not ok then return nil, msg, code end
  return out
end

function S3:read(key) return self.client:get(self:url(key)) end

function S3:write(key, data, content_type)
  local r, msg, code = self.client:put(self:url(key), data, { content_type = content_type })
  if not r then return nil, msg, code end
  return true
end

function S3:download(key, path)
  local r, msg, code = self.client:get(self:url(key), { file = path, sync = false })
  if not r then return nil, msg, code end
  return path
end

function S3:upload(path, key, content_type)
  local r, msg, code = self.client:put(self:url(key), nil, { file = path, content_type = content_type })
  if not r then return nil, msg, code end
  return true
end

function S3:rename(src, dst) return self.client:rename(self:url(src), self:url(dst)) end

function S3:delete(key) return self.client:delete(self:url(key)) end

function S3:exists(key)
  local h, msg, code = self.client:head(self:url(key))
  if h then return true end
  if code == "not_found" then return false end
  return nil, msg, code
end

-- }======

-- {====== local directory ======

function Dir:url(key) return join(self.path, key) end

function Dir:list()
  local fs = require("gf.fs")
  local st, msg, code = fs.stat(self.path)
  if not st then return nil, msg, code end
  if st.type ~= "dir" then return nil, ("location %s: not a directory"):format(self.path), "invalid_input" end
  local rels
  rels, msg, code = fs.walk(self.path)
  if not rels then return nil, msg, code end
  local out = {}
  for _, rel in ipairs(rels) do
    if not rel:match("%.gftmp%-") and not rel:match("%.part$") then
      local s = fs.stat(join(self.path, rel))
      if s and s.type == "file" then
        -- No ETag on a file system: size and modification time identify the version.
        out[#out + 1] = { key = rel, size = s.size, mtime = s.mtime,
          etag = ("%d-%.6f"):format(s.size, s.mtime) }
      end
    end
  end
  return out
end

function Dir:read(key) return require("gf.fs").read(self:url(key)) end

local function parent_of(path) return path:match("^(.*)/[^/]*$") end

function Dir:write(key, data)
  local fs = require("gf.fs")
  local path = self:url(key)
  local dir = parent_of(path)
  if dir and dir ~= "" then
    local ok, msg, code = fs.mkdir_p(dir)
    if not ok then return nil, msg, code end
  end
  return fs.write_atomic(path, data)
end

function Dir:download(key)
  local path = self:url(key)
  local st, msg, code = require("gf.fs").stat(path)
  if not st then return nil, msg, code end
  return path
end

function Dir:upload(path, key)
  local fs = require("gf.fs")
  local dst = self:url(key)
  local dir = parent_of(dst)
  if dir and dir ~= "" then
    local ok, msg, code = fs.mkdir_p(dir)
    if not ok then return nil, msg, code end
  end
  return fs.copy(path, dst)
end

function Dir:rename(src, dst)
  -- rename(2) is atomic: of two processes renaming one file, one gets ENOENT.
  return require("gf.fs").rename(self:url(src), self:url(dst))
end

function Dir:exists(key) return require("gf.fs").exists(self:url(key)) end

function Dir:delete(key)
  local ok, msg, code = require("gf.fs").remove(self:url(key))
  if not ok and code ~= "not_found" then return nil, msg, code end
  return true
end

-- }======

return M
