--- gf.s3: Amazon S3 and S3-compatible storage over gf.http, signed by gf.aws (SigV4, S3 rules).
--
-- Objects are named by URL: "s3://bucket/key" (the key as it is, not percent-encoded; it is
-- encoded exactly once on the wire: spaces, unicode, '+', '=' all work). Custom endpoints use
-- path-style addressing; AWS uses virtual-hosted style (path style for bucket names with dots).
--
-- client(opts) -> client
--   region, endpoint ("http://127.0.0.1:19000"; else AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL /
--   AWS), credentials = {access_key =, secret_key =, session_token =} | provider, profile,
--   anonymous (no signing), path_style (default: true with a custom endpoint), retry (gf.http
--   retry options, false to disable), timeout (s), multipart_threshold (8 MiB),
--   part_size (8 MiB), part_concurrency (4), concurrency (32, for upload_dir/download_prefix),
--   checksum (false: file uploads are sent with UNSIGNED-PAYLOAD; true: sha256 of the file)
--
-- client:list(url [, opts]) -> objects, prefixes
--   ListObjectsV2 with paging. url "s3://b/prefix"; a wildcard in the URL ("s3://b/in/*raw.csv")
--   lists the prefix before it and filters with the pattern. opts: prefix (added to the URL's),
--   delimiter ("/" gives prefixes = the "subdirectories"), match (glob on the key relative to
--   the listed prefix; '*' does not cross '/' unless cross_slash = true), limit (stop after
--   this many objects), start_after, page_size (1..1000).
--   objects[i] = {key =, url =, size =, etag =, last_modified =, storage_class =};
--   prefixes[i] = "prefix/" strings.
-- client:list_pages(url, opts, fn) -> true: fn(objects, prefixes) per page (flat memory); fn
--   returning false stops the listing.
-- client:head(url) -> {size =, etag =, content_type =, last_modified =, metadata = {}, headers =}
-- client:get(url [, {range = "bytes=0-9" | {first, last}}]) -> body, info
-- client:get(url, {file = path [, range] [, sync = false] [, slots]}) -> info (info.path = path;
--   written atomically from path.part and made durable with fsync; sync = false keeps the atomic
--   rename but skips the fsyncs, as curl and the AWS CLI do; slots: gf.http's transfer limit)
-- client:put(url, data [, opts]) -> {etag =}
-- client:put(url, nil, {file = path, ...}) -> {etag =, parts =}   multipart above the threshold
--   opts: content_type (default from the extension, else application/octet-stream), metadata =
--   {k = v} (x-amz-meta-*), cache_control, content_encoding, content_disposition, acl,
--   storage_class, if_none_match ("*": only create), checksum (see client)
-- client:copy(src_url, dst_url [, {metadata =, content_type =}]) -> {etag =}
-- client:delete(url) -> true            (a missing key is not an error: S3 semantics)
-- client:delete_many(bucket_url, keys) -> {deleted = {keys}, failed = {{key =, code =,
--   message =}}}   keys: strings or listed objects; 1000 per DeleteObjects call
-- client:rename(src_url, dst_url) -> true   copy, verify the copy with HEAD (size, and ETag for
--   single-part sources), then delete the source; a failed verification leaves the source
-- client:upload(path, url [, opts]) -> {etag =, parts =}   = put(url, nil, {file = path})
-- client:upload_dir(dir, url_prefix [, {concurrency =, match =}]) -> {count =, bytes =,
--   failed = {{path =, message =, code =}}}
-- client:download_prefix(url_prefix, dir [, {concurrency =, match =, delimiter =, sync =}]) -> {count =,
--   bytes =, failed = {{key =, message =, code =}}}
-- client:presign(url [, {expires = 3600, method = "GET"}]) -> presigned https URL
-- client:create_bucket(url) -> true;  client:delete_bucket(url) -> true
--
-- parse_url("s3://b/k") -> bucket, key   (raises for anything else)
-- encode_key(key) -> key percent-encoded for a URL path ('/' kept)
-- Failures: nil, "s3.<op> s3://b/k: <status> <AwsCode>: <message>", code with code not_found
-- (NoSuchKey, NoSuchBucket, 404), auth, throttled, conflict (412, 409), invalid_input (4xx),
-- aws (5xx), or gf.http's transport codes (timeout, network, tls, io).
local base = require("gf.awsjson.base")
local xml = require("gf.xml")

local M = {}

local MiB = 1024 * 1024

-- {====== URLs ======

function M.parse_url(url)
  if type(url) ~= "string" then
    error(("bad argument #1 (s3:// URL expected, got %s)"):format(type(url)), 3)
  end
  local bucket, key = url:match("^s3://([^/]+)/?(.*)$")
  if not bucket then error(("bad argument #1 (s3:// URL expected, got %q)"):format(url), 3) end
  return bucket, key
end

function M.encode_key(key)
  return base.encode(key, true)
end

local function query_string(q)
  if not q then return "" end
  return "?" .. require("gf.http").query(q)
end

-- }======

local Client = {}
Client.__index = Client
Client.__name = "gf.s3.client"

local function pos_int(v, name, default)
  if v == nil then return default end
  if math.type(v) ~= "integer" or v < 1 then
    error(("bad argument #1 to 'client' (%s must be a positive integer)"):format(name), 3)
  end
  return v
end

function M.client(opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    error(("bad argument #1 to 'client' (table expected, got %s)"):format(type(opts)), 2)
  end
  local svc = base.new(opts, {
    id = "s3", signing_name = "s3", s3 = true,
    host = function(region) return ("s3.%s.amazonaws.com"):format(region) end,
  })
  local part_size = pos_int(opts.part_size, "part_size", 8 * MiB)
  if part_size < 5 * MiB then
    error("bad argument #1 to 'client' (part_size must be at least 5 MiB)", 2)
  end
  return setmetatable({
    _svc = svc,
    endpoint = svc.endpoint,
    region = svc.region,
    multipart_threshold = pos_int(opts.multipart_threshold, "multipart_threshold", 8 * MiB),
    part_size = part_size,
    part_concurrency = pos_int(opts.part_concurrency, "part_concurrency", 4),
    concurrency = pos_int(opts.concurrency, "concurrency", 32),
    checksum = opts.checksum or false,
  }, Client)
end

--- The HTTP URL of bucket/key with an optional query table.
function Client:object_url(bucket, key, q)
  local svc = self._svc
  local ekey = base.encode(key or "", true)
  if svc.path_style or bucket:find(".", 1, true) or bucket:find("%u") then
    local u = svc.endpoint .. "/" .. bucket
    if ekey ~= "" then u = u .. "/" .. ekey end
    return u .. query_string(q)
  end
  local scheme, rest = svc.endpoint:match("^(%a[%w+.-]*://)(.*)$")
  return scheme .. bucket .. "." .. rest .. "/" .. ekey .. query_string(q)
end

function Client:send(op, bucket, key, req)
  local resource = "s3://" .. bucket .. (key and key ~= "" and ("/" .. key) or "")
  return self._svc:send(op, resource, req)
end
M.Client = Client

-- {====== metadata ======

local function unquote(etag)
  if not etag then return nil end
  return (etag:gsub('^"(.*)"$', "%1"))
end

local function info_of(res)
  local h = res.headers
  local meta = {}
  for k, v in pairs(h) do
    local m = k:match("^x%-amz%-meta%-(.+)$")
    if m then meta[m] = v end
  end
  local size = tonumber(h["content-length"])
  local cr = h["content-range"]
  return {
    size = size and math.tointeger(size) or size,
    etag = unquote(h["etag"]),
    content_type = h["content-type"],
    last_modified = h["last-modified"],
    content_range = cr,
    total_size = cr and math.tointeger(tonumber(cr:match("/(%d+)$"))) or nil,
    version_id = h["x-amz-version-id"],
    metadata = meta,
    headers = h,
  }
end

local TYPES = {
  json = "application/json", geojson = "application/geo+json", csv = "text/csv",
  txt = "text/plain", xml = "application/xml", html = "text/html", tif = "image/tiff",
  tiff = "image/tiff", jpg = "image/jpeg", jpeg = "image/jpeg", png = "image/png",
  gz = "application/gzip", zip = "application/zip", nc = "application/x-netcdf",
  h5 = "application/x-hdf5", grib2 = "application/octet-stream", yaml = "application/yaml",
  yml = "application/yaml", md = "text/markdown", ndjson = "application/x-ndjson",
}

function M.content_type(name)
  local ext = name and name:match("%.([%w]+)$")
  return (ext and TYPES[ext:lower()]) or "application/octet-stream"
end

local PUT_OPTS = { content_type = true, metadata = true, cache_control = true,
  content_encoding = true, content_disposition = true, acl = true, storage_class = true,
  if_none_match = true, checksum = true, file = true }

local function object_headers(opts, key)
  local h = { ["content-type"] = opts.content_type or M.content_type(opts.file or key) }
  if opts.metadata then
    for k, v in pairs(opts.metadata) do h["x-amz-meta-" .. tostring(k):lower()] = tostring(v) end
  end
  if opts.cache_control then h["cache-control"] = opts.cache_control end
  if opts.content_encoding then h["content-encoding"] = opts.content_encoding end
  if opts.content_disposition then h["content-disposition"] = opts.content_disposition end
  if opts.acl then h["x-amz-acl"] = opts.acl end
  if opts.storage_class then h["x-amz-storage-class"] = opts.storage_class end
  return h
end
M._object_headers = object_headers

-- }======

-- {====== single objects ======

function Client:head(url)
  local bucket, key = M.parse_url(url)
  local res, msg, code = self:send("s3.head", bucket, key,
    { method = "HEAD", url = self:object_url(bucket, key) })
  if not res then return nil, msg, code end
  return info_of(res)
end

local function range_of(r)
  if r == nil then return nil end
  if type(r) == "string" then return r:find("^bytes=") and r or ("bytes=" .. r) end
  if type(r) == "table" and math.type(r[1]) == "integer" then
    return ("bytes=%d-%s"):format(r[1], r[2] and ("%d"):format(r[2]) or "")
  end
  error("bad argument #2 to 'get' (range must be \"bytes=a-b\" or {first, last})", 3)
end

function Client:get(url, opts)
  local bucket, key = M.parse_url(url)
  opts = opts or {}
  if type(opts) ~= "table" then error("bad argument #2 to 'get' (table expected)", 2) end
  for k in pairs(opts) do
    if k ~= "file" and k ~= "range" and k ~= "sync" and k ~= "slots" then
      error(("bad argument #2 to 'get' (unknown option '%s')"):format(tostring(k)), 2)
    end
  end
  if opts.sync ~= nil and type(opts.sync) ~= "boolean" then
    error(("bad argument #2 to 'get' (sync must be a boolean, got %s)"):format(type(opts.sync)), 2)
  end
  local range = range_of(opts.range)
  local res, msg, code = self:send("s3.get", bucket, key, {
    method = "GET", url = self:object_url(bucket, key), output_file = opts.file, sync = opts.sync,
    slots = opts.slots,
    headers = range and { range = range } or {},
  })
  if not res then return nil, msg, code end
  local info = info_of(res)
  if opts.file then
    info.path = res.path or opts.file
    info.size = math.tointeger(res.bytes) or info.size
    return info
  end
  return res.body, info
end

local function check_put_opts(opts)
  for k in pairs(opts) do
    if not PUT_OPTS[k] then
      error(("bad argument #3 to 'put' (unknown option '%s')"):format(tostring(k)), 3)
    end
  end
end

local function file_size(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local n = f:seek("end")
  f:close()
  return n
end

function Client:put(url, data, opts)
  local bucket, key = M.parse_url(url)
  opts = opts or {}
  if type(opts) ~= "table" then error("bad argument #3 to 'put' (table expected)", 2) end
  check_put_opts(opts)
  if data ~= nil and type(data) ~= "string" then
    error(("bad argument #2 to 'put' (string expected, got %s)"):format(type(data)), 2)
  end
  if (data == nil) == (opts.file == nil) then
    error("bad argument #2 to 'put' (give either data or opts.file)", 2)
  end
  local headers = object_headers(opts, key)
  if opts.if_none_match then headers["if-none-match"] = opts.if_none_match end
  local hash
  if opts.file then
    local size, err = file_size(opts.file)
    if not size then return nil, ("s3.put %s: %s"):format(url, err), "io" end
    if size > self.multipart_threshold then
      return require("gf.s3.transfer").multipart_upload(self, bucket, key, opts, size)
    end
    if opts.checksum or (opts.checksum == nil and self.checksum) then
      local fs = require("gf.fs")
      local h, m, c = fs.sha256(opts.file)
      if not h then return nil, ("s3.put %s: %s"):format(url, m), c end
      hash = h
    else
      hash = "UNSIGNED-PAYLOAD"
    end
  end
  local res, msg, code = self:send("s3.put", bucket, key, {
    method = "PUT", url = self:object_url(bucket, key), headers = headers, body = data,
    body_file = opts.file, payload_hash = hash,
  })
  if not res then return nil, msg, code end
  return { etag = unquote(res.headers["etag"]), version_id = res.headers["x-amz-version-id"] }
end

function Client:upload(path, url, opts)
  if type(path) ~= "string" then
    error(("bad argument #1 to 'upload' (string expected, got %s)"):format(type(path)), 2)
  end
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.file = path
  return self:put(url, nil, o)
end

-- A 200 response whose body is an <Error> document (CopyObject, CompleteMultipartUpload).
function M.embedded_error(op, resource, res)
  if res.body and res.body:find("<Error>", 1, true) then
    local r = { status = 500, headers = res.headers, body = res.body }
    local _, msg, code = base.failure(op, resource, r)
    return msg, code
  end
  return nil
end

function Client:copy(src, dst, opts)
  local sb, sk = M.parse_url(src)
  local db, dk = M.parse_url(dst)
  opts = opts or {}
  local headers = { ["x-amz-copy-source"] = "/" .. sb .. "/" .. base.encode(sk, true) }
  if opts.metadata or opts.content_type then
    headers["x-amz-metadata-directive"] = "REPLACE"
    for k, v in pairs(object_headers(opts, dk)) do headers[k] = v end
  end
  local res, msg, code = self:send("s3.copy", db, dk, {
    method = "PUT", url = self:object_url(db, dk), headers = headers,
  })
  if not res then return nil, msg:gsub("^s3%.copy ", "s3.copy " .. src .. " -> ", 1), code end
  local emsg, ecode = M.embedded_error("s3.copy", src .. " -> " .. dst, res)
  if emsg then return nil, emsg, ecode end
  local etag
  local root = xml.parse(res.body or "")
  if root then etag = unquote(xml.text(root, "ETag")) end
  return { etag = etag }
end

function Client:delete(url)
  local bucket, key = M.parse_url(url)
  local res, msg, code = self:send("s3.delete", bucket, key,
    { method = "DELETE", url = self:object_url(bucket, key) })
  if not res then return nil, msg, code end
  return true
end

function Client:rename(src, dst)
  local before, msg, code = self:head(src)
  if not before then return nil, msg:gsub("^s3%.head", "s3.rename", 1), code end
  local ok
  ok, msg, code = self:copy(src, dst)
  if not ok then return nil, msg:gsub("^s3%.copy", "s3.rename", 1), code end
  local after
  after, msg, code = self:head(dst)
  if not after then return nil, msg:gsub("^s3%.head", "s3.rename", 1), code end
  local multipart = before.etag and before.etag:find("-", 1, true)
  if after.size ~= before.size or (not multipart and before.etag and after.etag ~= before.etag) then
    return nil, ("s3.rename %s -> %s: copy does not match the source (size %s/%s, etag %s/%s);"
      .. " source kept"):format(src, dst, tostring(after.size), tostring(before.size),
      tostring(after.etag), tostring(before.etag)), "conflict"
  end
  ok, msg, code = self:delete(src)
  if not ok then return nil, msg:gsub("^s3%.delete", "s3.rename", 1), code end
  return true
end

-- }======

-- {====== listing ======

local function glob_split(key)
  local w = key:find("[%*%?%[]")
  if not w then return key, nil end
  local slash = key:sub(1, w):match("^.*()/")
  if not slash then return "", key end
  return key:sub(1, slash), key:sub(slash + 1)
end
M._glob_split = glob_split

local function matcher(pat, cross)
  if not pat then return nil end
  local fs = require("gf.fs")
  local o = cross and { cross_slash = true } or nil
  return function(name) return fs.match(pat, name, o) end
end

local LIST_OPTS = { prefix = true, delimiter = true, match = true, limit = true,
  start_after = true, page_size = true, cross_slash = true }

-- One ListObjectsV2 page, read without building elements: a 1,000-key page is 200 KB of XML but
-- 2.5 MB as element tables, so a DOM per page would set a listing's memory. S3 escapes '<' in
-- keys, so an element's text never holds markup, and <Contents> never nests.
local gmatch, sfind = string.gmatch, string.find

local LEAF = {} -- element name -> the pattern capturing its text
for _, name in ipairs({ "Key", "ETag", "LastModified", "Prefix" }) do
  LEAF[name] = "<" .. name .. ">(.-)</" .. name .. ">"
end

local function leaf(block, name)
  local v = block:match(LEAF[name])
  if v == nil then return nil end
  return xml.unescape(v)
end

local function read_page(body, on_contents, on_prefix)
  if not sfind(body, "<ListBucketResult", 1, true) or
      not sfind(body, "</ListBucketResult>", 1, true) then
    return nil, "not a complete ListBucketResult document"
  end
  for block in gmatch(body, "<Contents>(.-)</Contents>") do
    local more, msg = on_contents(block)
    if more ~= true then return more, msg end
  end
  for block in gmatch(body, "<CommonPrefixes>(.-)</CommonPrefixes>") do
    local p, msg = leaf(block, "Prefix")
    if not p then return nil, msg or "CommonPrefixes without a Prefix" end
    if on_prefix(p) == false then return false end
  end
  return true
end

-- The walk under list_pages and download_prefix: on_object(o) per object as each page is read
-- (one page's text in memory, no object table kept), on_page() after each page; either
-- returning false stops. -> true | nil, message, code
function Client:_walk(url, opts, on_object, on_prefix, on_page)
  local bucket, key = M.parse_url(url)
  opts = opts or {}
  if type(opts) ~= "table" then error("bad argument #2 to 'list' (table expected)", 3) end
  for k in pairs(opts) do
    if not LIST_OPTS[k] then
      error(("bad argument #2 to 'list' (unknown option '%s')"):format(tostring(k)), 3)
    end
  end
  local prefix, pat = glob_split(key .. (opts.prefix or ""))
  local match = matcher(pat or opts.match, opts.cross_slash)
  local q = { ["list-type"] = 2, prefix = prefix ~= "" and prefix or nil,
    delimiter = opts.delimiter, ["start-after"] = opts.start_after, ["max-keys"] = opts.page_size }
  local resource = "s3://" .. bucket .. "/" .. prefix
  local limit, seen = opts.limit, 0
  local url_head = "s3://" .. bucket .. "/"
  local bad
  local function contents(block)
    local k, msg = leaf(block, "Key")
    if not k then
      bad = msg or "Contents without a Key"
      return nil
    end
    if (match and not match(k:sub(#prefix + 1))) or (limit and seen >= limit) then return true end
    seen = seen + 1
    local etag, last_modified = leaf(block, "ETag"), leaf(block, "LastModified")
    return on_object({ key = k, url = url_head .. k,
      size = math.tointeger(tonumber(block:match("<Size>(%d+)</Size>"))),
      etag = etag and unquote(etag), last_modified = last_modified,
      storage_class = block:match("<StorageClass>(.-)</StorageClass>") }) ~= false
  end
  while true do
    local res, msg, code = self._svc:send("s3.list", resource,
      { method = "GET", url = self:object_url(bucket, "", q) })
    if not res then return nil, msg, code end
    local body = res.body
    res = nil -- the page's text is the only copy kept while it is read
    local more, perr = read_page(body, contents, on_prefix)
    if more == nil then
      return nil, ("s3.list %s: %s"):format(resource, bad or perr), "parse"
    end
    if more == false or (on_page and on_page() == false) then return true end
    local token = body:match("<NextContinuationToken>(.-)</NextContinuationToken>")
    if body:match("<IsTruncated>(.-)</IsTruncated>") ~= "true" or not token or token == "" or
        (limit and seen >= limit) then
      return true
    end
    q["continuation-token"] = xml.unescape(token)
    q["start-after"] = nil
  end
end

function Client:list_pages(url, opts, fn)
  local objects, prefixes = {}, {}
  return self:_walk(url, opts,
    function(o) objects[#objects + 1] = o end,
    function(p) prefixes[#prefixes + 1] = p end,
    function()
      local o, p = objects, prefixes
      objects, prefixes = {}, {}
      return fn(o, p)
    end)
end

function Client:list(url, opts)
  local all, pre = {}, {}
  local ok, msg, code = self:list_pages(url, opts, function(objects, prefixes)
    table.move(objects, 1, #objects, #all + 1, all)
    table.move(prefixes, 1, #prefixes, #pre + 1, pre)
  end)
  if not ok then return nil, msg, code end
  return all, pre
end

-- }======

function Client:delete_many(bucket_url, keys)
  local bucket = M.parse_url(bucket_url)
  if type(keys) ~= "table" then
    error(("bad argument #2 to 'delete_many' (table expected, got %s)"):format(type(keys)), 2)
  end
  return require("gf.s3.transfer").delete_many(self, bucket, keys)
end

function Client:upload_dir(dir, url, opts)
  return require("gf.s3.transfer").upload_dir(self, dir, url, opts)
end

function Client:download_prefix(url, dir, opts)
  return require("gf.s3.transfer").download_prefix(self, url, dir, opts)
end

function Client:presign(url, opts)
  local bucket, key = M.parse_url(url)
  opts = opts or {}
  return self._svc:sign_url(opts.method or "GET", self:object_url(bucket, key),
    opts.expires or 3600)
end

function Client:create_bucket(url)
  local bucket = M.parse_url(url)
  local body
  if self.region ~= "us-east-1" and not self._svc.custom_endpoint then
    body = ("<CreateBucketConfiguration><LocationConstraint>%s</LocationConstraint>"
      .. "</CreateBucketConfiguration>"):format(xml.escape(self.region))
  end
  local res, msg, code = self:send("s3.create_bucket", bucket, nil, {
    method = "PUT", url = self:object_url(bucket, ""), body = body or "",
    headers = { ["content-type"] = "application/xml" },
  })
  if not res then return nil, msg, code end
  return true
end

function Client:delete_bucket(url)
  local bucket = M.parse_url(url)
  local res, msg, code = self:send("s3.delete_bucket", bucket, nil,
    { method = "DELETE", url = self:object_url(bucket, "") })
  if not res then return nil, msg, code end
  return true
end

return M
