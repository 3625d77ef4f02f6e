--- gf.s3.transfer: the many-request S3 operations behind gf.s3's client (multipart upload with
-- parallel parts, DeleteObjects batches, parallel directory upload and prefix download).
-- Use them through the client: client:put(url, nil, {file =}), client:delete_many,
-- client:upload_dir, client:download_prefix (documented in gf.s3).
local base = require("gf.awsjson.base")
local aws = require("gf.aws")
local http = require("gf.http")
local task = require("gf.task")
local xml = require("gf.xml")
local s3 = require("gf.s3")

local M = {}

-- {====== base64 of a digest ======

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

function M.base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1, c2 = (n >> 18) & 63, (n >> 12) & 63
    local c3, c4 = (n >> 6) & 63, n & 63
    out[#out + 1] = B64:sub(c1 + 1, c1 + 1) .. B64:sub(c2 + 1, c2 + 1) ..
      (b and B64:sub(c3 + 1, c3 + 1) or "=") .. (c and B64:sub(c4 + 1, c4 + 1) or "=")
  end
  return table.concat(out)
end

local function sha256_b64(s)
  local hex = aws.sha256_hex(s)
  return M.base64((hex:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)))
end

-- }======

-- {====== multipart upload ======

local function abort(c, bucket, key, upload_id)
  c:send("s3.abort_multipart", bucket, key, { method = "DELETE",
    url = c:object_url(bucket, key, { uploadId = upload_id }) })
end

function M.multipart_upload(c, bucket, key, opts, size)
  local url = "s3://" .. bucket .. "/" .. key
  local part_size = math.max(c.part_size, (size + 9999) // 10000)
  local headers = s3._object_headers(opts, key)
  local res, msg, code = c:send("s3.put", bucket, key, { method = "POST", headers = headers,
    url = c:object_url(bucket, key, { uploads = true }), body = "" })
  if not res then return nil, msg, code end
  local root = xml.parse(res.body)
  local upload_id = root and xml.text(root, "UploadId")
  if not upload_id then
    return nil, ("s3.put %s: CreateMultipartUpload without an UploadId"):format(url), "parse"
  end
  local parts = {}
  for n = 1, (size + part_size - 1) // part_size do parts[n] = n end
  local etags, failure = {}, nil
  task.map(parts, function(n)
    if failure then return end
    -- each part streams from the file (nothing read or hashed on the loop in one piece)
    local offset = (n - 1) * part_size
    local r, m, cd = c:send("s3.put", bucket, key, { method = "PUT", body_file = opts.file,
      body_offset = offset, body_length = math.min(part_size, size - offset),
      payload_hash = "UNSIGNED-PAYLOAD",
      headers = { ["content-type"] = "application/octet-stream" },
      url = c:object_url(bucket, key, { partNumber = n, uploadId = upload_id }) })
    if not r then
      failure = failure or { m .. (" (part %d)"):format(n), cd }
      return
    end
    etags[n] = r.headers["etag"]
  end, { concurrency = c.part_concurrency })
  if not failure then
    for n = 1, #parts do
      if not etags[n] then failure = { ("s3.put %s: part %d has no ETag"):format(url, n), "service" } end
    end
  end
  if failure then
    abort(c, bucket, key, upload_id)
    return nil, failure[1], failure[2]
  end
  local body = { "<CompleteMultipartUpload>" }
  for n = 1, #parts do
    body[#body + 1] = ("<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>"):format(n,
      xml.escape(etags[n]))
  end
  body[#body + 1] = "</CompleteMultipartUpload>"
  res, msg, code = c:send("s3.put", bucket, key, { method = "POST",
    url = c:object_url(bucket, key, { uploadId = upload_id }), body = table.concat(body),
    headers = { ["content-type"] = "application/xml" } })
  if res then
    msg, code = s3.embedded_error("s3.put", url, res)
    if not msg then
      root = xml.parse(res.body)
      return { etag = root and (xml.text(root, "ETag") or ""):gsub('^"(.*)"$', "%1"),
        parts = #parts }
    end
  end
  abort(c, bucket, key, upload_id)
  return nil, msg, code
end

-- }======

-- {====== DeleteObjects ======

-- DeleteObjects is a POST but repeating it is harmless (deleting a deleted key succeeds).
local function idempotent_retry(c)
  local r = c._svc.retry
  if not r then return false end
  local o = { retry_non_idempotent = true }
  for k, v in pairs(r) do o[k] = v end
  return o
end

function M.delete_many(c, bucket, keys)
  local out = { deleted = {}, failed = {} }
  for start = 1, #keys, 1000 do
    local body, batch = { "<Delete><Quiet>true</Quiet>" }, {}
    for i = start, math.min(start + 999, #keys) do
      local k = keys[i]
      if type(k) == "table" then k = k.key end
      if type(k) ~= "string" then
        error(("bad argument #2 to 'delete_many' (key %d is not a string)"):format(i), 3)
      end
      batch[#batch + 1] = k
      body[#body + 1] = "<Object><Key>" .. xml.escape(k) .. "</Key></Object>"
    end
    body[#body + 1] = "</Delete>"
    body = table.concat(body)
    local res, msg, code = c:send("s3.delete_many", bucket, nil, { method = "POST",
      retry = idempotent_retry(c),
      url = c:object_url(bucket, "", { delete = true }), body = body,
      headers = { ["content-type"] = "application/xml",
        ["x-amz-checksum-sha256"] = sha256_b64(body),
        ["x-amz-sdk-checksum-algorithm"] = "SHA256" } })
    local errors = {}
    if not res then
      for _, k in ipairs(batch) do out.failed[#out.failed + 1] = { key = k, code = code,
        message = msg } end
    else
      local root = xml.parse(res.body or "")
      for _, el in ipairs(root and root.children or {}) do
        if el.name == "Error" then
          local k = xml.text(el, "Key")
          errors[k] = true
          out.failed[#out.failed + 1] = { key = k, code = base.classify(nil, xml.text(el, "Code")),
            message = ("s3.delete_many s3://%s/%s: %s: %s"):format(bucket, k,
              tostring(xml.text(el, "Code")), tostring(xml.text(el, "Message"))) }
        end
      end
      for _, k in ipairs(batch) do
        if not errors[k] then out.deleted[#out.deleted + 1] = k end
      end
    end
  end
  return out
end

-- }======

-- {====== directories ======

local function walk(dir)
  return require("gf.fs").walk(dir)
end

local function mkdir_p(path)
  return require("gf.fs").mkdir_p(path)
end

local DIR_OPTS = { concurrency = true, match = true, cross_slash = true, delimiter = true, sync = true }

local function check_dir_opts(fname, opts)
  if opts == nil then return {} end
  if type(opts) ~= "table" then error(("bad argument #3 to '%s' (table expected)"):format(fname), 3) end
  for k in pairs(opts) do
    if not DIR_OPTS[k] then
      error(("bad argument #3 to '%s' (unknown option '%s')"):format(fname, tostring(k)), 3)
    end
  end
  if opts.sync ~= nil and type(opts.sync) ~= "boolean" then
    error(("bad argument #3 to '%s' (sync must be a boolean, got %s)"):format(fname, type(opts.sync)), 3)
  end
  return opts
end

local function prefix_of(url)
  local bucket, key = s3.parse_url(url)
  if key ~= "" and key:sub(-1) ~= "/" then key = key .. "/" end
  return bucket, key
end

function M.upload_dir(c, dir, url, opts)
  if type(dir) ~= "string" then error("bad argument #1 to 'upload_dir' (string expected)", 2) end
  opts = check_dir_opts("upload_dir", opts)
  local bucket, prefix = prefix_of(url)
  local files, msg, code = walk(dir)
  if not files then return nil, msg, code end
  local match = opts.match
  local fs = require("gf.fs")
  local selected = {}
  for _, rel in ipairs(files) do
    if not match or fs.match(match, rel, { cross_slash = opts.cross_slash }) then
      selected[#selected + 1] = rel
    end
  end
  local out = { count = 0, bytes = 0, failed = {} }
  local root = dir:gsub("/+$", "")
  task.map(selected, function(rel)
    local path = root .. "/" .. rel
    local r, m, cd = c:put("s3://" .. bucket .. "/" .. prefix .. rel, nil, { file = path })
    if r then
      out.count = out.count + 1
    else
      out.failed[#out.failed + 1] = { path = path, message = m, code = cd }
    end
  end, { concurrency = opts.concurrency or c.concurrency })
  table.sort(out.failed, function(a, b) return a.path < b.path end)
  if fs then
    for _, rel in ipairs(selected) do
      local st = fs.stat(root .. "/" .. rel)
      if st then out.bytes = out.bytes + st.size end
    end
  end
  return out
end

local function safe_rel(rel)
  if rel == "" or rel:sub(1, 1) == "/" then return false end
  for seg in rel:gmatch("[^/]+") do
    if seg == ".." or seg == "." then return false end
  end
  return true
end

function M.download_prefix(c, url, dir, opts)
  if type(dir) ~= "string" then
    error("bad argument #2 to 'download_prefix' (string expected)", 2)
  end
  opts = check_dir_opts("download_prefix", opts)
  local bucket, prefix = prefix_of(url)
  local root = dir:gsub("/+$", "")
  local out = { count = 0, bytes = 0, failed = {} }
  local conc = opts.concurrency or c.concurrency
  -- conc transfers in flight, run by a quarter more tasks: a download waiting for its commit
  -- (write, fsync, rename on the worker pool; a few ms) does not hold a transfer back.
  local slots = http.slots(conc)

  local function fetch(o)
    local path = root .. "/" .. o.key:sub(#prefix + 1)
    -- gf.http writes the file on a worker thread and commits concurrent downloads together
    -- (one fsync round per batch), so the event loop keeps the transfers going.
    local info, m, cd = c:get(o.url, { file = path, sync = opts.sync, slots = slots })
    if info then
      out.count = out.count + 1
      out.bytes = out.bytes + (info.size or 0)
    else
      out.failed[#out.failed + 1] = { key = o.key, message = m, code = cd }
    end
  end

  -- Downloads start with the first listing page: workers take objects from a channel while
  -- the next page is listed.
  local ch = task.channel(conc * 4)
  local workers = {}
  for i = 1, conc + math.max(2, (conc + 3) // 4) do
    workers[i] = task.spawn(function()
      for o in function() return ch:recv() end do fetch(o) end
    end)
  end
  local made, fatal = {}, nil
  -- Objects go to the channel as the page is read: no page of object tables is kept.
  local ok, msg, code = c:_walk("s3://" .. bucket .. "/" .. prefix,
    { match = opts.match, cross_slash = opts.cross_slash, delimiter = opts.delimiter },
    function(o)
      local rel = o.key:sub(#prefix + 1)
      if rel == "" or rel:sub(-1) == "/" then return end
      if not safe_rel(rel) then
        out.failed[#out.failed + 1] = { key = o.key, code = "invalid_input",
          message = ("s3.download_prefix %s: unsafe local path"):format(o.url) }
        return
      end
      local d = (root .. "/" .. rel):match("^(.*)/[^/]*$")
      if d and not made[d] then
        made[d] = true
        local mk, m, cd = mkdir_p(d)
        if not mk then
          fatal = { m, cd }
          return false
        end
      end
      ch:send(o)
    end, function() end)
  ch:close()
  for _, w in ipairs(workers) do
    local wok, err = task.wait(w)
    if not wok then error(err, 0) end
  end
  if not ok then return nil, msg, code end
  if fatal then return nil, fatal[1], fatal[2] end
  table.sort(out.failed, function(a, b) return a.key < b.key end)
  return out
end

-- }======

return M
