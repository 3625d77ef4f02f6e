-- gf.aws SigV4 signer: the 38-case AWS test suite (header and query variants, every
-- intermediate), S3 rules checked against botocore's S3SigV4Auth, the key cache, misuse.
local aws = require("gf.aws")
local paths = require("spec.support.paths")

local SUITE = paths.fixtures .. "/sigv4"

local files = require("spec.support.files")

local function read(path) return assert(files.read(path), path) end

local function list_cases()
  local p = io.popen("ls -1 " .. SUITE)
  local out = {}
  for name in p:lines() do
    local f = io.open(SUITE .. "/" .. name .. "/request.txt")
    if f then
      f:close()
      out[#out + 1] = name
    end
  end
  p:close()
  return out
end

-- Days from 1970-01-01 for a proleptic Gregorian date.
local function epoch(ts)
  local y, m, d, H, M, S = ts:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)Z$")
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if m <= 2 then y = y - 1 end
  local era = y // 400
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(H) * 3600 + tonumber(M) * 60 + tonumber(S)
end

local function context(name)
  local j = read(SUITE .. "/" .. name .. "/context.json")
  local function str(k) return j:match('"' .. k .. '"%s*:%s*"(.-)"') end
  local function bool(k) return j:match('"' .. k .. '"%s*:%s*(%a+)') == "true" end
  return {
    credentials = {
      access_key = str("access_key_id"),
      secret_key = str("secret_access_key"),
      session_token = str("token"),
    },
    region = str("region"),
    service = str("service"),
    time = epoch(str("timestamp")),
    normalize = bool("normalize"),
    sign_body = bool("sign_body"),
    omit_session_token = bool("omit_session_token"),
    expires = tonumber(j:match('"expiration_in_seconds"%s*:%s*(%d+)')),
  }
end

-- A raw HTTP request: request line, headers (continuation lines folded into the value,
-- repeated names kept in order as {name, value} pairs), blank line, body.
local function parse_request(raw)
  local head, body = raw:match("^(.-)\n\n(.*)$")
  if not head then head, body = raw, nil end
  local lines = {}
  for line in (head .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
  local method, target = lines[1]:match("^(%S+) (.*) HTTP/1%.1$")
  local headers = {}
  for i = 2, #lines do
    local line = lines[i]
    if line:match("^%s") and #headers > 0 then
      local h = headers[#headers]
      h[2] = h[2] .. "\n" .. line
    elseif line ~= "" then
      local n, v = line:match("^([^:]+):(.*)$")
      headers[#headers + 1] = { n, v }
    end
  end
  local host
  for _, h in ipairs(headers) do
    if h[1]:lower() == "host" then host = h[2] end
  end
  return { method = method, url = "https://" .. host .. target, headers = headers,
           body = body ~= "" and body or nil }, target
end

-- Headers of a signed request file as lower-case name -> list of values.
local function signed_headers(raw)
  local req = parse_request(raw)
  local map = {}
  for _, h in ipairs(req.headers) do
    local k = h[1]:lower()
    map[k] = map[k] or {}
    table.insert(map[k], h[2])
  end
  return map, raw:match("^%S+ (.-) HTTP/1%.1\n")
end

local function unescape(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- The query parameters of a URL or request target, percent-decoded, sorted.
local function query_set(target)
  local q = target:match("%?(.*)$") or ""
  local set = {}
  for part in q:gmatch("[^&]+") do set[#set + 1] = unescape(part) end
  table.sort(set)
  return set, target:match("^[^?]*")
end

local cases = list_cases()

describe("gf.aws sigv4 test suite #unit", function()
  it("finds all 38 cases", function()
    assert.equal(38, #cases)
  end)

  for _, name in ipairs(cases) do
    local dir = SUITE .. "/" .. name .. "/"
    local ctx = context(name)
    local function opts(extra)
      local o = { region = ctx.region, service = ctx.service, time = ctx.time,
                  normalize = ctx.normalize, sign_body = ctx.sign_body,
                  omit_session_token = ctx.omit_session_token, debug = true }
      for k, v in pairs(extra or {}) do o[k] = v end
      return o
    end

    it(name .. " (header)", function()
      local req = parse_request(read(dir .. "request.txt"))
      local added, dbg = aws.sign(req, ctx.credentials, opts())
      assert.equal(read(dir .. "header-canonical-request.txt"), dbg.canonical_request)
      assert.equal(read(dir .. "header-string-to-sign.txt"), dbg.string_to_sign)
      assert.equal(read(dir .. "header-signature.txt"), dbg.signature)
      -- The signed request = the request plus exactly the headers sign() returned.
      local want = signed_headers(read(dir .. "header-signed-request.txt"))
      local got = {}
      for _, h in ipairs(req.headers) do
        local k = h[1]:lower()
        got[k] = got[k] or {}
        table.insert(got[k], h[2])
      end
      for k, v in pairs(added) do
        assert.is_nil(got[k:lower()], "sign() returned a header the request had: " .. k)
        got[k:lower()] = { v }
      end
      assert.same(want, got)
      -- The public helpers agree with the debug table.
      assert.equal(dbg.canonical_request, aws.canonical_request(req, ctx.credentials, opts()))
      assert.equal(dbg.string_to_sign, aws.string_to_sign(req, ctx.credentials, opts()))
    end)

    it(name .. " (query)", function()
      local req = parse_request(read(dir .. "request.txt"))
      local url, dbg = aws.sign(req, ctx.credentials, opts({ presign = ctx.expires }))
      assert.equal(read(dir .. "query-canonical-request.txt"), dbg.canonical_request)
      assert.equal(read(dir .. "query-string-to-sign.txt"), dbg.string_to_sign)
      assert.equal(read(dir .. "query-signature.txt"), dbg.signature)
      local _, target = signed_headers(read(dir .. "query-signed-request.txt"))
      local want_q, want_path = query_set(target)
      local got_q, got_path = query_set(url:gsub("^https://[^/]+", ""))
      assert.same(want_q, got_q)
      assert.equal(want_path, got_path)
      assert.equal("https://example.amazonaws.com", url:match("^https://[^/]+"))
    end)
  end
end)

-- botocore S3SigV4Auth / S3SigV4QueryAuth as a live oracle (Debian python3-botocore).
local ORACLE = [[
import sys, json, datetime, types
from unittest import mock
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
spec = json.loads(sys.stdin.read())
out = []
for c in spec:
    req = AWSRequest(method=c['method'], url=c['url'], data=c.get('body', '').encode(),
                     headers=c.get('headers', {}))
    if c.get('unsigned'):
        req.context['client_config'] = types.SimpleNamespace(s3={'payload_signing_enabled': False})
    creds = Credentials(c['access_key'], c['secret_key'], c.get('token'))
    if c.get('presign'):
        auth = botocore.auth.S3SigV4QueryAuth(creds, 's3', c['region'], expires=c['presign'])
    else:
        auth = botocore.auth.S3SigV4Auth(creds, 's3', c['region'])
    t = datetime.datetime.utcfromtimestamp(c['time'])
    if hasattr(botocore.auth, 'get_current_datetime'):
        botocore.auth.get_current_datetime = lambda *a, **k: t
    with mock.patch('botocore.auth.datetime') as dt:
        dt.datetime.utcnow.return_value = t
        dt.datetime.strptime = datetime.datetime.strptime
        auth.add_auth(req)
    r = {'url': req.url}
    if not c.get('presign'):
        r['authorization'] = req.headers['Authorization']
        r['sha256'] = req.headers['X-Amz-Content-SHA256']
        del req.headers['Authorization']
    else:
        req.url = req.url.split('&X-Amz-Signature=')[0]
    cr = auth.canonical_request(req)
    r['canonical_request'] = cr
    out.append(r)
print(json.dumps(out))
]]

local function json_str(s)
  return '"' .. s:gsub('[%c"\\]', function(ch)
    return string.format("\\u%04x", ch:byte())
  end) .. '"'
end

local function to_json(v)
  if type(v) == "table" then
    if v[1] ~= nil or next(v) == nil then
      local parts = {}
      for _, x in ipairs(v) do parts[#parts + 1] = to_json(x) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = json_str(k) .. ":" .. to_json(x) end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif type(v) == "string" then
    return json_str(v)
  else
    return tostring(v)
  end
end

-- Values of the oracle's flat JSON objects (strings only), in order.
local function from_json_list(s)
  local list = {}
  for obj in s:gmatch("%b{}") do
    local r = {}
    for k, v in obj:gmatch('"([%w_]+)":%s*"(.-[^\\])"') do
      r[k] = v:gsub("\\n", "\n"):gsub('\\"', '"'):gsub("\\\\", "\\")
    end
    list[#list + 1] = r
  end
  return list
end

local function has_botocore()
  local p = io.popen("/usr/bin/python3 -c 'import botocore.auth; print(\"ok\")' 2>/dev/null")
  if not p then return false end
  local out = p:read("a")
  p:close()
  return out:match("ok") ~= nil
end

local function run_oracle(cases_)
  local dir = paths.tmpdir()
  local script = dir .. "/oracle.py"
  local f = assert(io.open(script, "w"))
  f:write(ORACLE)
  f:close()
  local input = dir .. "/in.json"
  f = assert(io.open(input, "w"))
  f:write(to_json(cases_))
  f:close()
  local p = io.popen("/usr/bin/python3 " .. script .. " < " .. input)
  local out = p:read("a")
  p:close()
  os.execute("rm -rf " .. dir)
  return from_json_list(out)
end

local AK, SK = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
local TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//token+with/slashes=="
local T0 = 1369353600 -- 2013-05-24T00:00:00Z

describe("gf.aws S3 rules #unit", function()
  it("signs the S3 documentation example (GET with Range)", function()
    local h, dbg = aws.sign({ method = "GET", url = "https://examplebucket.s3.amazonaws.com/test.txt",
                              headers = { Range = "bytes=0-9" } },
      { access_key = AK, secret_key = SK },
      { region = "us-east-1", service = "s3", s3 = true, time = T0, debug = true })
    assert.equal("f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41", dbg.signature)
    assert.same({
      Authorization = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        .. "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        .. "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
      ["X-Amz-Date"] = "20130524T000000Z",
      ["x-amz-content-sha256"] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    }, h)
  end)

  it("signs the S3 documentation presigned URL example", function()
    local url = aws.sign({ method = "GET", url = "https://examplebucket.s3.amazonaws.com/test.txt" },
      { access_key = AK, secret_key = SK },
      { region = "us-east-1", service = "s3", s3 = true, time = T0, presign = 86400 })
    assert.equal("https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
      .. "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
      .. "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
      .. "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404", url)
  end)

  it("keeps an encoded key as it is and does not normalise it", function()
    local _, dbg = aws.sign({ method = "GET", url = "https://b.s3.amazonaws.com/a//b/../c%20d.txt" },
      { access_key = AK, secret_key = SK },
      { region = "us-east-1", service = "s3", s3 = true, time = T0, debug = true })
    assert.equal("/a//b/../c%20d.txt", dbg.canonical_request:match("^GET\n(.-)\n"))
    -- The same path for another service is normalised and double-encoded.
    _, dbg = aws.sign({ method = "GET", url = "https://b.example.com/a//b/../c%20d.txt" },
      { access_key = AK, secret_key = SK },
      { region = "us-east-1", service = "execute-api", time = T0, debug = true })
    assert.equal("/a/c%2520d.txt", dbg.canonical_request:match("^GET\n(.-)\n"))
  end)

  it("uses UNSIGNED-PAYLOAD and an explicit hash when asked", function()
    local h = aws.sign({ method = "PUT", url = "https://b.s3.amazonaws.com/k", body = "data" },
      { access_key = AK, secret_key = SK },
      { region = "us-east-1", service = "s3", s3 = true, time = T0, payload_hash = "UNSIGNED-PAYLOAD" })
    assert.equal("UNSIGNED-PAYLOAD", h["x-amz-content-sha256"])
    assert.matches("SignedHeaders=host;x%-amz%-content%-sha256;x%-amz%-date,", h.Authorization)
    h = aws.sign({ method = "PUT", url = "https://b.s3.amazonaws.com/k", body = "data" },
      { access_key = AK, secret_key = SK },
      { region = "us-east-1", service = "s3", s3 = true, time = T0 })
    assert.equal(aws.sha256_hex("data"), h["x-amz-content-sha256"])
  end)

  local oracle_cases = {
    { method = "GET", url = "https://examplebucket.s3.amazonaws.com/test.txt",
      headers = { Range = "bytes=0-9" } },
    { method = "PUT", url = "https://bkt.s3.us-west-2.amazonaws.com/dir/my%20file%E2%82%AC%2B1.txt",
      headers = { ["Content-Type"] = "text/plain", ["x-amz-meta-k1"] = "  v1   v2 " },
      body = "hello world", region = "us-west-2" },
    { method = "GET", url = "https://s3.us-east-1.amazonaws.com/bkt?list-type=2&prefix=a%2Fb%20c&delimiter=%2F&continuation-token=1%2Fx%3D%3D" },
    { method = "PUT", url = "http://127.0.0.1:19000/bkt-one/a//b/../c.bin", body = string.rep("x", 1000),
      token = TOKEN },
    { method = "DELETE", url = "https://bkt.s3.amazonaws.com/k?uploadId=abc~def", unsigned = true,
      token = TOKEN },
    { method = "GET", url = "https://bkt.s3.eu-west-1.amazonaws.com/dir/some%20key%21%27%28%29.txt",
      presign = 3600, region = "eu-west-1" },
    { method = "PUT", url = "http://127.0.0.1:19000/bkt-one/up%2Bload.txt?x-id=PutObject",
      presign = 604800, token = TOKEN },
    { method = "GET", url = "https://s3.amazonaws.com/bkt/k?versionId=3%2F4&response-content-type=text%2Fplain",
      presign = 60 },
  }

  it("matches botocore S3SigV4Auth / S3SigV4QueryAuth on " .. #oracle_cases .. " requests", function()
    if not has_botocore() then
      pending("/usr/bin/python3 has no botocore")
      return
    end
    local input = {}
    for i, c in ipairs(oracle_cases) do
      input[i] = { method = c.method, url = c.url, headers = c.headers, body = c.body or "",
                   access_key = AK, secret_key = SK, token = c.token, region = c.region or "us-east-1",
                   time = T0 + i * 1000, presign = c.presign, unsigned = c.unsigned }
    end
    local want = run_oracle(input)
    assert.equal(#oracle_cases, #want)
    for i, c in ipairs(oracle_cases) do
      local headers = {}
      for k, v in pairs(c.headers or {}) do headers[k] = v end
      local out, dbg = aws.sign({ method = c.method, url = c.url, headers = headers, body = c.body },
        { access_key = AK, secret_key = SK, session_token = c.token },
        { region = c.region or "us-east-1", service = "s3", s3 = true, time = T0 + i * 1000,
          presign = c.presign, payload_hash = c.unsigned and "UNSIGNED-PAYLOAD" or nil, debug = true })
      assert.equal(want[i].canonical_request, dbg.canonical_request, "case " .. i)
      if c.presign then
        -- Same parameters (botocore orders them differently), same signature.
        local a = query_set(out)
        local b = query_set(want[i].url)
        assert.same(b, a, "case " .. i)
        assert.equal(want[i].url:match("^[^?]*"), out:match("^[^?]*"))
      else
        assert.equal(want[i].authorization, out.Authorization, "case " .. i)
        assert.equal(want[i].sha256, out["x-amz-content-sha256"], "case " .. i)
        assert.equal(c.token, out["X-Amz-Security-Token"])
      end
    end
  end)
end)

describe("gf.aws signer details #unit", function()
  local creds = { access_key = AK, secret_key = SK }
  local base = { region = "us-east-1", service = "sqs", time = T0 }
  local function opts(extra)
    local o = {}
    for k, v in pairs(base) do o[k] = v end
    for k, v in pairs(extra or {}) do o[k] = v end
    return o
  end

  it("hashes and HMACs like the RFC 4231 vectors", function()
    assert.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", aws.sha256_hex(""))
    assert.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", aws.sha256_hex("abc"))
    assert.equal("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
      aws.hmac_sha256(string.rep("\x0b", 20), "Hi There", true))
    -- Key longer than the block size (RFC 4231 case 6).
    assert.equal("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
      aws.hmac_sha256(string.rep("\xaa", 131), "Test Using Larger Than Block-Size Key - Hash Key First", true))
    assert.equal(32, #aws.hmac_sha256("k", "m"))
  end)

  it("URI-encodes the AWS way", function()
    assert.equal("a%20b%2Fc~d-_.%E2%82%AC%2B", aws.uri_encode("a b/c~d-_.€+"))
    assert.equal("dir/a%20b", aws.uri_encode("dir/a b", true))
  end)

  it("derives the signing key once per (secret, date, region, service)", function()
    local h0, m0 = aws.cache_stats()
    local r = { method = "GET", url = "https://sqs.us-east-1.amazonaws.com/" }
    local a = aws.sign(r, creds, opts())
    local b = aws.sign(r, creds, opts({ time = T0 + 3600 }))        -- same day: hit
    local _, m1 = aws.cache_stats()
    assert.equal(m0 + 1, m1)
    local c = aws.sign(r, creds, opts({ time = T0 + 86400 }))       -- next day: miss
    local d = aws.sign(r, { access_key = AK, secret_key = SK .. "x" }, opts()) -- other secret
    local h2, m2 = aws.cache_stats()
    assert.equal(m0 + 3, m2)
    assert.is_true(h2 >= h0 + 1)
    assert.not_equal(a.Authorization, b.Authorization)
    assert.not_equal(c.Authorization:match("Signature=(%x+)"), d.Authorization:match("Signature=(%x+)"))
    -- Evicted entries are re-derived to the same key: results do not depend on the cache.
    for day = 2, 20 do aws.sign(r, creds, opts({ time = T0 + day * 86400 })) end
    assert.same(a, aws.sign(r, creds, opts()))
  end)

  it("keys its caches on every input: secrets, dates, regions, services and seconds alternated", function()
    -- The signature recomputed from the string to sign with plain HMACs (no cache involved).
    local function expected(secret, region, service, dbg)
      local k = aws.hmac_sha256("AWS4" .. secret, dbg.amz_date:sub(1, 8))
      k = aws.hmac_sha256(aws.hmac_sha256(aws.hmac_sha256(k, region), service), "aws4_request")
      return aws.hmac_sha256(k, dbg.string_to_sign, true)
    end
    local secrets = { SK, SK .. "x", "short" }
    -- "r" / "s": the shortest scope.
    local places = { { "us-east-1", "sqs" }, { "eu-west-3", "sqs" }, { "us-east-1", "states" }, { "r", "s" } }
    local times = { T0, T0 + 1, T0 + 86400, T0 + 1 }
    local first, seen = {}, 0
    for _ = 1, 2 do -- 72 keys: the 4 key slots are evicted between a key's uses
      for _, t in ipairs(times) do
        for _, secret in ipairs(secrets) do
          for _, p in ipairs(places) do
            for _, body in ipairs({ "x=1", "x=2" }) do
              local h, dbg = aws.sign({ method = "POST", url = "https://sqs.us-east-1.amazonaws.com/", body = body },
                { access_key = AK, secret_key = secret },
                { region = p[1], service = p[2], time = t, debug = true })
              assert.equal(expected(secret, p[1], p[2], dbg), dbg.signature)
              assert.equal(dbg.signature, h.Authorization:match("Signature=(%x+)$"))
              local id = table.concat({ secret, p[1], p[2], t, body }, "|")
              first[id] = first[id] or dbg.signature
              assert.equal(first[id], dbg.signature)
              seen = seen + 1
            end
          end
        end
      end
    end
    assert.equal(192, seen)
    local distinct = {}
    for _, sig in pairs(first) do distinct[sig] = true end
    local n = 0
    for _ in pairs(distinct) do n = n + 1 end
    assert.equal(72, n) -- 3 secrets x 4 places x 3 seconds x 2 bodies: every input counts
  end)

  it("derives Host from the URL (default port dropped, others kept, lower case)", function()
    local function host_of(url)
      local _, dbg = aws.sign({ method = "GET", url = url }, creds, opts({ debug = true }))
      return dbg.canonical_request:match("\nhost:([^\n]*)")
    end
    assert.equal("example.com", host_of("https://Example.COM:443/"))
    assert.equal("example.com", host_of("http://example.com:80/x"))
    assert.equal("example.com:8443", host_of("https://user@example.com:8443"))
    assert.equal("127.0.0.1:19000", host_of("http://127.0.0.1:19000/b/k"))
    assert.equal("[::1]:9000", host_of("http://[::1]:9000/"))
    assert.equal("[::1]", host_of("http://[::1]/"))
  end)

  -- Plain-Lua reference for the canonical headers: names lower-cased, values trimmed with inner
  -- whitespace runs made one space, sorted by bytes (a repeated name keeps its order).
  local function reference_headers(list)
    local rows = {}
    for i, h in ipairs(list) do
      rows[i] = { h[1]:lower(), (h[2]:gsub("^%s+", ""):gsub("%s+$", ""):gsub("%s+", " ")), i }
    end
    table.sort(rows, function(a, b)
      if a[1] ~= b[1] then
        local n = math.min(#a[1], #b[1])
        for i = 1, n do
          local x, y = a[1]:byte(i), b[1]:byte(i)
          if x ~= y then return x < y end
        end
        return #a[1] < #b[1]
      end
      return a[3] < b[3]
    end)
    local out, last = {}, nil
    for _, r in ipairs(rows) do
      if r[1] == last then
        out[#out] = out[#out] .. "," .. r[2]
      else
        out[#out + 1] = r[1] .. ":" .. r[2]
      end
      last = r[1]
    end
    return table.concat(out, "\n") .. "\n"
  end

  local function canonical_headers(cr) return cr:match("^[^\n]*\n[^\n]*\n[^\n]*\n(.-\n)\n") end

  it("canonicalises headers of every length like a plain reference (case, whitespace, order)", function()
    local url = "https://sqs.us-east-1.amazonaws.com/"
    local date = os.date("!%Y%m%dT%H%M%SZ", T0)
    local all = {}
    for n = 0, 40 do
      -- Upper case, whitespace and bytes above 0x7f at every offset of names and values.
      local name = ("X-Amz-Meta-" .. string.rep("Ab", n)):sub(1, 11 + n)
      local value = string.rep("v", n)
      local variants = {
        value,
        " \t" .. value .. " \t ",
        value:sub(1, n // 2) .. "  \t " .. value:sub(n // 2 + 1),
        value:sub(1, n - 1) .. (n > 0 and " " or ""),
        value:sub(1, n // 3) .. "\1\xc3\xa9" .. value:sub(n // 3 + 1),
      }
      for i, v in ipairs(variants) do
        local list = { { name, v } }
        local _, dbg = aws.sign({ method = "GET", url = url, headers = list }, creds, opts({ debug = true }))
        list[#list + 1] = { "host", "sqs.us-east-1.amazonaws.com" }
        list[#list + 1] = { "x-amz-date", date }
        assert.equal(reference_headers(list), canonical_headers(dbg.canonical_request), n .. "/" .. i)
        all[#all + 1] = { name .. (i % 2 == 0 and "" or "-X"), v }
      end
    end
    -- Every header at once: names sharing 8, 16 or more bytes, names that prefix others, and
    -- repeated names (the same name in another case).
    all[#all + 1] = { "x-amz-meta-", "again" }
    all[#all + 1] = { "X-AMZ-META-ABABABAB", "twice" }
    local _, dbg = aws.sign({ method = "GET", url = url, headers = all }, creds, opts({ debug = true }))
    all[#all + 1] = { "host", "sqs.us-east-1.amazonaws.com" }
    all[#all + 1] = { "x-amz-date", date }
    assert.equal(reference_headers(all), canonical_headers(dbg.canonical_request))
  end)

  it("splits URLs of every length into host, path and query", function()
    for n = 0, 40 do
      local host = ("Sub" .. string.rep("Ab.", n)):sub(1, n + 1)
      local path = "/" .. string.rep("p", n)
      for _, form in ipairs({
        { "https://" .. host .. path, host:lower(), path, "" },
        { "https://" .. host .. ":443" .. path .. "?a=" .. n .. "#f?g", host:lower(), path, "a=" .. n },
        { "http://user:pw@" .. host .. ":8080" .. path .. "#x", host:lower() .. ":8080", path, "" },
        { "http://" .. host .. "?q", host:lower(), "/", "q=" },
      }) do
        local _, dbg = aws.sign({ method = "GET", url = form[1] }, creds, opts({ debug = true }))
        local got_path, got_query = dbg.canonical_request:match("^GET\n([^\n]*)\n([^\n]*)\n")
        assert.equal(form[2], dbg.canonical_request:match("\nhost:([^\n]*)"), form[1])
        assert.equal(form[3], got_path, form[1])
        assert.equal(form[4], got_query, form[1])
      end
    end
  end)

  it("signs an SQS JSON POST with sign_body and a session token", function()
    local body = '{"QueueUrl":"http://127.0.0.1:19001/000000000000/q","MessageBody":"hi"}'
    local h, dbg = aws.sign({ method = "POST", url = "http://127.0.0.1:19001/",
                              headers = { ["Content-Type"] = "application/x-amz-json-1.0",
                                          ["X-Amz-Target"] = "AmazonSQS.SendMessage",
                                          ["Content-Length"] = #body },
                              body = body },
      { access_key = AK, secret_key = SK, session_token = TOKEN },
      opts({ sign_body = true, debug = true }))
    assert.equal(TOKEN, h["X-Amz-Security-Token"])
    assert.equal(aws.sha256_hex(body), h["x-amz-content-sha256"])
    assert.equal("content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-amz-target",
      h.Authorization:match("SignedHeaders=([^,]+)"))
    assert.matches("\ncontent%-length:" .. #body .. "\n", dbg.canonical_request)
    assert.equal(aws.sha256_hex(body), dbg.canonical_request:match("\n(%x+)$"))
  end)

  it("re-signs a request that already carries old auth headers", function()
    local r = { method = "GET", url = "https://sqs.us-east-1.amazonaws.com/" }
    local fresh = aws.sign(r, creds, opts())
    r.headers = { Authorization = "old", ["X-Amz-Date"] = "20000101T000000Z", ["User-Agent"] = "x" }
    assert.same(fresh, aws.sign(r, creds, opts()))
  end)

  it("accepts headers as a map with repeated values or as a list of pairs", function()
    local url = "https://example.amazonaws.com/"
    local a = aws.sign({ method = "GET", url = url, headers = { ["My-Header1"] = { "value4", "value1" } } },
      creds, opts())
    local b = aws.sign({ method = "GET", url = url, headers = { { "My-Header1", "value4" }, { "my-header1", "value1" } } },
      creds, opts())
    assert.same(a, b)
  end)

  it("returns a presigned URL that ends with the signature", function()
    local url = aws.sign({ method = "GET", url = "https://b.s3.amazonaws.com/k#frag" },
      { access_key = AK, secret_key = SK, session_token = TOKEN },
      opts({ service = "s3", s3 = true, presign = 900 }))
    assert.matches("^https://b%.s3%.amazonaws%.com/k%?X%-Amz%-Algorithm=AWS4%-HMAC%-SHA256&", url)
    assert.matches("&X%-Amz%-Security%-Token=IQoJb3JpZ2luX2VjEXAMPLE%%2F%%2Ftoken%%2Bwith%%2Fslashes%%3D%%3D&", url)
    assert.matches("&X%-Amz%-Signature=%x+$", url)
    assert.is_nil(url:find("#", 1, true))
  end)

  it("raises on misuse without echoing credentials", function()
    local r = { method = "GET", url = "https://example.com/" }
    local function err(f)
      local ok, e = pcall(f)
      assert.is_false(ok)
      assert.is_nil(tostring(e):find(SK, 1, true))
      return tostring(e)
    end
    assert.matches("unknown option 'regoin'", err(function() aws.sign(r, creds, { regoin = "x", region = "r", service = "s" }) end))
    assert.matches("'region' must be a string", err(function() aws.sign(r, creds, { service = "s" }) end))
    assert.matches("'service' must not be empty", err(function() aws.sign(r, creds, { region = "r", service = "" }) end))
    assert.matches("'secret_key' must be a string", err(function() aws.sign(r, { access_key = AK }, base) end))
    assert.matches("url must be absolute", err(function() aws.sign({ method = "GET", url = "/x" }, creds, base) end))
    assert.matches("'presign' must be 1 to 604800", err(function() aws.sign(r, creds, opts({ presign = 604801 })) end))
    assert.matches("'s3' must be a boolean", err(function() aws.sign(r, creds, opts({ s3 = "yes" })) end))
    assert.matches("'time' must be an integer", err(function() aws.sign(r, creds, opts({ time = 1.5 })) end))
    assert.matches("header values must be strings or numbers",
      err(function() aws.sign({ method = "GET", url = "https://e/", headers = { A = true } }, creds, base) end))
    assert.matches("payload hash must be 1 to 96", err(function() aws.sign(r, creds, opts({ payload_hash = "" })) end))
    assert.has_error(function() aws.sign("x", creds, base) end)
    assert.has_error(function() aws.sign(r, nil, base) end)
    assert.has_error(function() aws.sha256_hex(nil) end)
  end)

  it("signs with the current time when none is given", function()
    local h = aws.sign({ method = "GET", url = "https://e.com/" }, creds, { region = "r", service = "s" })
    assert.equal(os.date("!%Y%m%dT%H%M", os.time()), h["X-Amz-Date"]:sub(1, 13))
  end)
end)

describe("gf.aws SHA-256 (libcrypto) #unit", function()
  local function message(n)
    local t = {}
    for i = 1, n do t[i] = string.char((i * 37 + n) % 256) end
    return table.concat(t)
  end

  it("hashes messages of 0 to 200 bytes like sha256sum", function()
    local dir = paths.tmpdir()
    for n = 0, 200 do
      local f = assert(io.open(string.format("%s/m%03d", dir, n), "wb"))
      f:write(message(n))
      f:close()
    end
    local p = assert(io.popen("cd " .. dir .. " && sha256sum m*"))
    local want = {}
    for line in p:lines() do
      local hex, n = line:match("^(%x+)  m(%d+)$")
      want[tonumber(n)] = hex
    end
    p:close()
    os.execute("rm -rf " .. dir)
    assert.equal(200, #want)
    assert.is_string(want[0])
    for n = 0, 200 do assert.equal(want[n], aws.sha256_hex(message(n)), n) end
  end)
end)
