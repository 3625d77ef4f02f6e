-- gf.s3 against real S3 emulators: s3rver (127.0.0.1:19000, access key S3RVER) and the S3 part
-- of fauxqs (127.0.0.1:19001). Run through `bash spec/support/servers.sh run ...`, which starts
-- them and sets GF_TEST_SERVERS.
local servers = require("spec.support.servers")
local SERVERS = {
  { name = "s3rver", endpoint = "http://127.0.0.1:19000", key = "S3RVER" },
  { name = "fauxqs", endpoint = "http://127.0.0.1:19001", key = "test" },
}

local files = require("spec.support.files")
local write_file, read_file = files.write, files.read

-- Deterministic pseudo-random bytes (xorshift), so a corrupted transfer cannot look right.
local function bytes(n, seed)
  local parts, x = {}, seed or 88172645463325252
  local chunk = {}
  for i = 1, n do
    x = x ~ (x << 13)
    x = x ~ (x >> 7)
    x = x ~ (x << 17)
    chunk[#chunk + 1] = x & 255
    if #chunk == 4096 or i == n then
      parts[#parts + 1] = string.char(table.unpack(chunk))
      chunk = {}
    end
  end
  return table.concat(parts)
end

for _, srv in ipairs(SERVERS) do
  describe("gf.s3 on " .. srv.name .. " #integration", function()
    if servers.skip(_ENV) then return end
    local s3 = require("gf.s3")
    local paths = require("spec.support.paths")
    local c, bucket, tmp
    local run = tostring(os.time()) .. tostring(math.random(1000, 9999))

    setup(function()
      c = s3.client({ endpoint = srv.endpoint, region = "us-east-1",
        credentials = { access_key = srv.key, secret_key = srv.key } })
      bucket = "s3://gfspec-" .. run
      assert(c:create_bucket(bucket))
      tmp = paths.tmpdir()
    end)

    teardown(function()
      os.execute("rm -rf " .. tmp)
    end)

    it("puts, heads, gets and deletes an object with metadata and content type", function()
      local url = bucket .. "/dir/hello.txt"
      local r = assert(c:put(url, "hello world", { content_type = "text/plain",
        metadata = { k1 = "v1" } }))
      assert.equal("5eb63bbbe01eeed093cb22bb8f5acdc3", r.etag)
      local h = assert(c:head(url))
      assert.equal(11, h.size)
      assert.equal("text/plain", h.content_type)
      assert.equal("5eb63bbbe01eeed093cb22bb8f5acdc3", h.etag)
      assert.same({ k1 = "v1" }, h.metadata)
      local body, info = c:get(url)
      assert.equal("hello world", body)
      assert.equal(11, info.size)
      assert.is_true(c:delete(url))
      assert.same({ nil, "s3.head " .. url .. ": 404 NotFound", "not_found" }, { c:head(url) })
    end)

    it("returns not_found tuples for a missing key and a missing bucket", function()
      local url = bucket .. "/no/such/key"
      assert.same({ nil, "s3.get " .. url .. ": 404 NoSuchKey: The specified key does not exist.",
        "not_found" }, { c:get(url) })
      local body, msg, code = c:get("s3://gfspec-missing-" .. run .. "/k")
      assert.is_nil(body)
      assert.equal("not_found", code)
      assert.matches("^s3%.get s3://gfspec%-missing%-%d+/k: 404 NoSuchBucket", msg)
    end)

    it("reads byte ranges", function()
      local url = bucket .. "/range.txt"
      assert(c:put(url, "0123456789", { content_type = "text/plain" }))
      local body, info = c:get(url, { range = { 2, 5 } })
      assert.equal("2345", body)
      assert.equal("bytes 2-5/10", info.content_range)
      assert.equal("789", (c:get(url, { range = "bytes=7-" })))
    end)

    it("round-trips keys with spaces, unicode, '+', '=' and other odd characters", function()
      local keys = { "odd/a b.txt", "odd/ünï cødé ☃.txt", "odd/a+b=c.txt", "odd/x&y;z@1,2$.txt",
        "odd/(paren) [br] 'q' !~*.txt", "odd/100%.txt" }
      for i, k in ipairs(keys) do
        assert(c:put(bucket .. "/" .. k, "v" .. i, { content_type = "text/plain" }))
      end
      for i, k in ipairs(keys) do
        assert.equal("v" .. i, (c:get(bucket .. "/" .. k)))
        assert.equal(#("v" .. i), c:head(bucket .. "/" .. k).size)
      end
      local objs = assert(c:list(bucket .. "/odd/"))
      local listed = {}
      for _, o in ipairs(objs) do listed[#listed + 1] = o.key end
      table.sort(listed)
      local want = { table.unpack(keys) }
      table.sort(want)
      assert.same(want, listed)
      local r = c:delete_many(bucket, keys)
      assert.equal(#keys, #r.deleted)
      assert.same({}, r.failed)
      assert.same({}, (c:list(bucket .. "/odd/")))
    end)

    it("lists with paging, delimiter and a glob", function()
      local n = 0
      for i = 1, 25 do
        assert(c:put(("%s/list/f%02d%s"):format(bucket, i, i % 5 == 0 and "_raw.csv" or ".txt"),
          "x", { content_type = "text/plain" }))
        n = n + 1
      end
      assert(c:put(bucket .. "/list/sub/deep_raw.csv", "y", { content_type = "text/csv" }))
      local pages = 0
      assert(c:list_pages(bucket .. "/list/", { page_size = 10 }, function(objs)
        pages = pages + 1
        assert.is_true(#objs <= 10)
      end))
      assert.equal(3, pages)
      local all = assert(c:list(bucket .. "/list/", { page_size = 7 }))
      assert.equal(n + 1, #all)
      local objs, prefixes = c:list(bucket .. "/list/", { delimiter = "/" })
      assert.equal(n, #objs)
      assert.same({ "list/sub/" }, prefixes)
      local raw = assert(c:list(bucket .. "/list/*_raw.csv", { page_size = 4 }))
      local got = {}
      for _, o in ipairs(raw) do got[#got + 1] = o.key end
      assert.same({ "list/f05_raw.csv", "list/f10_raw.csv", "list/f15_raw.csv",
        "list/f20_raw.csv", "list/f25_raw.csv" }, got)
      local deep = assert(c:list(bucket .. "/list/", { match = "**_raw.csv" }))
      assert.equal(6, #deep)
      assert.equal(3, #(c:list(bucket .. "/list/", { limit = 3, page_size = 2 })))
    end)

    it("copies and renames with verification", function()
      local src = bucket .. "/mv/source file ü.txt"
      assert(c:put(src, "payload", { content_type = "text/plain" }))
      local cp = assert(c:copy(src, bucket .. "/mv/copy.txt"))
      assert.equal(c:head(src).etag, cp.etag)
      assert.is_true(c:rename(src, bucket .. "/mv/renamed ü.txt"))
      assert.equal("not_found", select(3, c:head(src)))
      assert.equal("payload", (c:get(bucket .. "/mv/renamed ü.txt")))
      local nothing = bucket .. "/mv/nothing"
      assert.same({ nil, "s3.rename " .. nothing .. ": 404 NotFound", "not_found" },
        { c:rename(nothing, bucket .. "/mv/x") })
    end)

    it("streams gets and puts through files", function()
      local data = bytes(300000, 7)
      local src = tmp .. "/up.bin"
      write_file(src, data)
      assert(c:put(bucket .. "/files/up.bin", nil, { file = src }))
      assert.equal("application/octet-stream", c:head(bucket .. "/files/up.bin").content_type)
      local info = assert(c:get(bucket .. "/files/up.bin", { file = tmp .. "/down.bin" }))
      assert.equal(300000, info.size)
      assert.equal(data, read_file(tmp .. "/down.bin"))
      assert.same({ nil, "s3.get " .. bucket .. "/files/missing: 404 NoSuchKey: The specified key"
        .. " does not exist.", "not_found" }, { c:get(bucket .. "/files/missing",
        { file = tmp .. "/missing.bin" }) })
      assert.is_nil(read_file(tmp .. "/missing.bin"))
    end)

    it("uploads a large file in parallel multipart and reads it back exactly", function()
      local size = srv.name == "s3rver" and 20 * 1000 * 1000 or 12 * 1000 * 1000
      local data = bytes(size, 11)
      local src = tmp .. "/big.bin"
      write_file(src, data)
      local mc = s3.client({ endpoint = srv.endpoint, credentials = { access_key = srv.key,
        secret_key = srv.key }, multipart_threshold = 5 * 1024 * 1024, part_size = 5 * 1024 * 1024,
        part_concurrency = 3 })
      local r = assert(mc:put(bucket .. "/big/big.bin", nil, { file = src }))
      assert.equal(math.ceil(size / (5 * 1024 * 1024)), r.parts)
      assert.equal(size, mc:head(bucket .. "/big/big.bin").size)
      assert(mc:get(bucket .. "/big/big.bin", { file = tmp .. "/big.out" }))
      assert.is_true(read_file(tmp .. "/big.out") == data)
      local mid = mc:get(bucket .. "/big/big.bin", { range = { 5242875, 5242884 } })
      assert.equal(data:sub(5242876, 5242885), mid)
    end)

    it("aborts a multipart upload that cannot complete", function()
      local src = tmp .. "/mp.bin"
      write_file(src, bytes(6 * 1024 * 1024, 3))
      local mc = s3.client({ endpoint = srv.endpoint, credentials = { access_key = srv.key,
        secret_key = srv.key }, multipart_threshold = 5 * 1024 * 1024, part_size = 5 * 1024 * 1024 })
      local r, msg, code = mc:put("s3://gfspec-nobucket-" .. run .. "/k", nil, { file = src })
      assert.is_nil(r)
      assert.equal("not_found", code)
      assert.matches("^s3%.put s3://gfspec%-nobucket%-%d+/k: 404 NoSuchBucket", msg)
    end)

    it("uploads a directory and downloads a prefix in parallel", function()
      local dir = tmp .. "/tree"
      os.execute("mkdir -p " .. dir .. "/a/b")
      local files = {}
      for i = 1, 40 do
        local rel = (i % 3 == 0 and "a/b/" or (i % 2 == 0 and "a/" or "")) .. ("f%02d.bin"):format(i)
        files[rel] = bytes(1000 + i * 37, i)
        write_file(dir .. "/" .. rel, files[rel])
      end
      local up = assert(c:upload_dir(dir, bucket .. "/tree", { concurrency = 8 }))
      assert.equal(40, up.count)
      assert.same({}, up.failed)
      local out = tmp .. "/tree-down"
      local down = assert(c:download_prefix(bucket .. "/tree/", out, { concurrency = 8 }))
      assert.equal(40, down.count)
      assert.same({}, down.failed)
      for rel, data in pairs(files) do assert.is_true(read_file(out .. "/" .. rel) == data, rel) end
      local only = assert(c:download_prefix(bucket .. "/tree", tmp .. "/only",
        { match = "a/b/*.bin" }))
      assert.equal(13, only.count)
      assert.is_nil(read_file(tmp .. "/only/f01.bin"))
      -- sync = false: the same complete files, renamed into place (no .part left), without fsync
      local fast = assert(c:download_prefix(bucket .. "/tree/", tmp .. "/nosync", { sync = false }))
      assert.equal(40, fast.count)
      assert.same({}, fast.failed)
      for rel, data in pairs(files) do
        assert.is_true(read_file(tmp .. "/nosync/" .. rel) == data, rel)
        assert.is_nil(read_file(tmp .. "/nosync/" .. rel .. ".part"), rel)
      end
      assert.has_error(function() c:download_prefix(bucket .. "/tree/", tmp .. "/x", { sync = 1 }) end,
        "bad argument #3 to 'download_prefix' (sync must be a boolean, got number)")
    end)

    it("deletes many objects across DeleteObjects calls", function()
      local keys = {}
      for i = 1, 30 do
        keys[i] = ("many/k%03d"):format(i)
        assert(c:put(bucket .. "/" .. keys[i], "x", { content_type = "text/plain" }))
      end
      local listed = assert(c:list(bucket .. "/many/"))
      local r = c:delete_many(bucket, listed)
      assert.equal(30, #r.deleted)
      assert.same({}, (c:list(bucket .. "/many/")))
    end)

    it("presigns a GET that plain HTTP can fetch", function()
      assert(c:put(bucket .. "/pre.txt", "signed", { content_type = "text/plain" }))
      local url = assert(c:presign(bucket .. "/pre.txt", { expires = 600 }))
      assert.matches("X%-Amz%-Signature=%x+$", url)
      local res = assert(require("gf.http").request({ url = url }))
      assert.equal(200, res.status)
      assert.equal("signed", res.body)
    end)
  end)
end

describe("gf.s3 auth on s3rver #integration", function()
  if servers.skip(_ENV) then return end
  it("maps an unknown access key to auth and never shows the secret", function()
    local s3 = require("gf.s3")
    local secret = "sEcReT-should-never-appear-0123456789"
    local c = s3.client({ endpoint = "http://127.0.0.1:19000",
      credentials = { access_key = "NOTAKEY", secret_key = secret }, retry = false })
    local r, msg, code = c:get("s3://any-bucket/k")
    assert.is_nil(r)
    assert.equal("auth", code)
    assert.matches("^s3%.get s3://any%-bucket/k: 403 InvalidAccessKeyId", msg)
    assert.is_nil(msg:find(secret, 1, true))
  end)
end)

describe("gf.s3 configured from the environment #integration", function()
  if servers.skip(_ENV) then return end
  local run = require("spec.support.run")

  it("uses AWS_ENDPOINT_URL_S3 and env credentials, and debug output hides the secret", function()
    local secret = "S3RVER-secret-value-that-must-not-leak"
    local script = run.script([[
      local s3 = require("gf.s3")
      local c = s3.client()
      local b = "s3://" .. os.getenv("BUCKET")
      assert(c:create_bucket(b))
      assert(c:put(b .. "/e.txt", "from env", { content_type = "text/plain" }))
      print((assert(c:get(b .. "/e.txt"))))
      local _, msg, code = c:get(b .. "/missing")
      print(code, (msg:gsub("gfspec%-env%-%d+", "B")))
    ]])
    local r = run.gfhost({ "run", script }, { env = { AWS_ENDPOINT_URL_S3 = "http://127.0.0.1:19000",
      AWS_ACCESS_KEY_ID = "S3RVER", AWS_SECRET_ACCESS_KEY = secret, AWS_REGION = "us-east-1",
      AWS_SESSION_TOKEN = "token-that-must-not-leak", AWS_CONFIG_FILE = "/dev/null",
      AWS_SHARED_CREDENTIALS_FILE = "/dev/null", GFHOST_HTTP_DEBUG = "1",
      BUCKET = "gfspec-env-" .. os.time() .. math.random(1000, 9999) } })
    os.remove(script)
    assert.equal(0, r.code, r.stderr)
    assert.equal("from env\nnot_found\ts3.get s3://B/missing: 404 NoSuchKey: The specified"
      .. " key does not exist.\n", r.stdout)
    assert.truthy(r.stderr:find("authorization", 1, true)) -- debug output was on
    for _, s in ipairs({ secret, "token-that-must-not-leak" }) do
      assert.is_nil(r.stdout:find(s, 1, true))
      assert.is_nil(r.stderr:find(s, 1, true))
    end
  end)
end)
