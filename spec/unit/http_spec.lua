-- gf.http unit specs: URL helpers, argument checks, transport error tuples, and the retry /
-- until_exists / debug policies driven by a scripted fake core (no server needed).
local http = require("gf.http")

local real_core = http.core

-- A fake core: request() answers from `script` (a list of {res} or {nil, msg, code}), counts
-- calls and records the requests; everything else is the real core.
local function fake(script)
  local f = setmetatable({ calls = 0, seen = {} }, { __index = real_core })
  function f.request(req)
    f.calls = f.calls + 1
    f.seen[#f.seen + 1] = req
    local r = script[math.min(f.calls, #script)]
    return table.unpack(r, 1, 3)
  end
  return f
end

local function response(status, headers, body)
  return { status = status, headers = headers or {}, body = body or "", url = "http://x/",
    bytes = #(body or ""), time = 0.001, http_version = "1.1" }
end

-- A clock that only moves when the policy sleeps.
local function clock()
  local c = { t = 0, slept = {} }
  c.now = function() return c.t end
  c.sleep = function(s)
    c.slept[#c.slept + 1] = s
    c.t = c.t + s
  end
  return c
end

local function policy(c, extra)
  local p = { base = 0.2, max_delay = 20, random = function() return 0.5 end, sleep = c.sleep,
    now = c.now }
  for k, v in pairs(extra or {}) do p[k] = v end
  return p
end

describe("gf.http #unit", function()
  after_each(function() http.core = real_core end)

  describe("URL helpers", function()
    it("percent-encodes per RFC 3986", function()
      assert.equal("a%20b%2Fc~-._%C3%A9%00%2B", http.url_encode("a b/c~-._é\0+"))
      assert.equal("", http.url_encode(""))
    end)

    it("decodes, with '+' as space only in form mode", function()
      assert.equal("a b+c", http.url_decode("a%20b+c"))
      assert.equal("a b c", http.url_decode("a%20b+c", true))
      assert.equal("\0\255", http.url_decode("%00%fF"))
      assert.same({ nil, "http.url_decode: malformed percent-escape", "invalid_input" },
        { http.url_decode("%2") })
      assert.same({ nil, "http.url_decode: malformed percent-escape", "invalid_input" },
        { http.url_decode("%zz") })
    end)

    it("builds queries with sorted keys and repeated array values", function()
      assert.equal("a=b%20c&b=1&flag&k=x&k=y%26z&%C3%A9=%3D",
        http.query({ b = 1, a = "b c", flag = true, k = { "x", "y&z" }, ["é"] = "=" }))
      assert.equal("", http.query({}))
    end)

    it("parses URLs with default ports", function()
      assert.same({ scheme = "https", user = "u", password = "p", host = "example.com",
        port = 443, path = "/a/b", query = "x=1", fragment = "f" },
        http.parse_url("https://u:p@example.com/a/b?x=1#f"))
      assert.same({ scheme = "http", host = "127.0.0.1", port = 8080, path = "/" },
        http.parse_url("http://127.0.0.1:8080"))
      local r, msg, code = http.parse_url("http://exa mple.com/")
      assert.is_nil(r)
      assert.equal("invalid_input", code)
      assert.matches("^http%.parse_url http://exa mple%.com/: ", msg)
    end)

    it("masks secrets in URLs", function()
      assert.equal("https://u:***@h/p?X-Amz-Signature=***&a=1&X-Amz-Security-Token=***&" ..
        "Signature=***&token=***#frag", http.redact_url(
          "https://u:pw@h/p?X-Amz-Signature=abc&a=1&X-Amz-Security-Token=tok&Signature=s&token=t#frag"))
      assert.equal("http://h/p?a=1&b=2", http.redact_url("http://h/p?a=1&b=2"))
    end)

    it("parses Retry-After in seconds and as an HTTP date", function()
      assert.equal(3, http.retry_after(response(429, { ["retry-after"] = "3" })))
      assert.equal(1445412480, real_core.parse_date("Wed, 21 Oct 2015 07:28:00 GMT"))
      local soon = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 100)
      local d = http.retry_after(response(503, { ["retry-after"] = soon }))
      assert.is_true(d >= 98 and d <= 101, tostring(d))
      assert.is_nil(http.retry_after(response(503, { ["retry-after"] = "soon" })))
      assert.is_nil(http.retry_after(response(503)))
    end)
  end)

  describe("misuse raises", function()
    it("on wrong argument types", function()
      assert.has_error(function() http.request("http://x/") end,
        "bad argument #1 to 'request' (table expected, got string)")
      assert.has_error(function() http.request({ url = 5 }) end,
        "http.request: option 'url' must be a string")
      assert.has_error(function() http.get(nil) end,
        "bad argument #1 to 'get' (string expected, got nil)")
      assert.has_error(function() http.post("http://x/", 5) end,
        "bad argument #2 to 'post' (string expected, got number)")
      assert.has_error(function() http.get("http://x/", "opts") end,
        "bad argument to 'get' (options table expected, got string)")
      assert.has_error(function() http.download("http://x/", nil) end,
        "bad argument #2 to 'download' (string expected, got nil)")
      assert.has_error(function() http.query("a=b") end,
        "bad argument #1 to 'query' (table expected)")
      assert.has_error(function() http.query({ a = {} , b = function() end }) end)
    end)

    it("on bad options", function()
      local u = "http://127.0.0.1:1/"
      assert.has_error(function() http.request({ url = u, bogus = 1, retry = false }) end,
        "http.request: unknown option 'bogus'")
      assert.has_error(function() http.request({ url = u, timeout = -1, retry = false }) end,
        "http.request: option 'timeout' must be a non-negative number")
      assert.has_error(function() http.request({ url = u, headers = "x", retry = false }) end,
        "http.request: option 'headers' must be a table")
      assert.has_error(function()
        http.request({ url = u, headers = { ["X-A"] = "a\r\nX-B: b" }, retry = false })
      end, "http.request: header 'X-A' holds a line break")
      assert.has_error(function() http.request({ url = u, method = "GE T", retry = false }) end,
        "http.request: bad method")
      assert.has_error(function()
        http.request({ url = u, body = "a", body_file = "/etc/hostname", retry = false })
      end, "http.request: give body or body_file, not both")
      assert.has_error(function() http.request({ url = u, retry = { tries = 3 } }) end,
        "http.request: unknown retry option 'tries'")
      assert.has_error(function() http.request({ url = u, retry = { attempts = "3" } }) end,
        "http.request: retry option 'attempts' must be integer (got string)")
      assert.has_error(function() http.request({ url = u, until_exists = 5 }) end,
        "http.request: option 'until_exists' must be a table")
      assert.has_error(function() http.request({ url = u, max_body = 1.5, retry = false }) end,
        "http.request: option 'max_body' must be a non-negative integer")
      assert.has_error(function() http.configure({ max_connections = 0 }) end,
        "http.configure: 'max_connections' must be a positive integer")
      assert.has_error(function() http.configure({ pool = 3 }) end,
        "http.configure: unknown option 'pool'")
    end)
  end)

  describe("transport failures return whole tuples", function()
    it("connection refused", function()
      local r = { http.get("http://127.0.0.1:1/x?X-Amz-Signature=abc", { retry = false }) }
      r[2] = r[2]:gsub("after %d+ ms", "after N ms")
      assert.same({ nil, "http.request GET http://127.0.0.1:1/x?X-Amz-Signature=***: Failed to " ..
        "connect to 127.0.0.1 port 1 after N ms: Couldn't connect to server", "network" }, r)
    end)

    it("unsupported scheme", function()
      assert.same({ nil, 'http.request GET ftp://127.0.0.1/: Protocol "ftp" not supported or ' ..
        "disabled in libcurl", "invalid_input" }, { http.get("ftp://127.0.0.1/", { retry = false }) })
    end)

    it("unreadable body_file", function()
      assert.same({ nil, "http.request PUT http://127.0.0.1:1/: cannot read body_file " ..
        "/nonexistent/x: No such file or directory", "io" },
        { http.request({ url = "http://127.0.0.1:1/", method = "put", body_file = "/nonexistent/x" }) })
    end)

    it("counts attempts in the message after retries", function()
      local c = clock()
      http.core = fake({ { nil, "http.request GET http://x/: reset", "network" } })
      assert.same({ nil, "http.request GET http://x/: reset (after 3 attempts)", "network" },
        { http.get("http://x/", { retry = policy(c, { attempts = 3 }) }) })
      assert.equal(3, http.core.calls)
    end)
  end)

  describe("retry policy", function()
    it("retries 5xx and 429, then returns the success with its attempt count", function()
      local c = clock()
      http.core = fake({ { response(503) }, { response(429) }, { response(502) }, { response(200, {}, "ok") } })
      local res = http.get("http://x/", { retry = policy(c) })
      assert.equal(200, res.status)
      assert.equal("ok", res.body)
      assert.equal(4, res.attempts)
      -- full jitter with random() = 0.5: 0.5 * 0.2 * 2^(n-1)
      assert.same({ 0.1, 0.2, 0.4 }, c.slept)
    end)

    it("gives up after `attempts` and returns the last response", function()
      local c = clock()
      http.core = fake({ { response(500) } })
      local res = http.get("http://x/", { retry = policy(c, { attempts = 3 }) })
      assert.equal(500, res.status)
      assert.equal(3, res.attempts)
      assert.equal(3, http.core.calls)
    end)

    it("caps the backoff at max_delay", function()
      local p = policy(clock(), { random = function() return 1 end, max_delay = 1 })
      assert.equal(0.2, http.backoff(p, 1))
      assert.equal(0.8, http.backoff(p, 3))
      assert.equal(1, http.backoff(p, 10))
    end)

    it("does not retry 4xx (except 429), 501 or 505", function()
      for _, s in ipairs({ 400, 401, 403, 404, 409, 501, 505 }) do
        local c = clock()
        http.core = fake({ { response(s) }, { response(200) } })
        assert.equal(s, http.get("http://x/", { retry = policy(c) }).status)
        assert.equal(1, http.core.calls)
      end
    end)

    it("retries AWS throttling codes found in an error body", function()
      for _, code in ipairs({ "Throttling", "ThrottlingException", "RequestLimitExceeded",
        "SlowDown", "TooManyRequestsException", "ProvisionedThroughputExceededException",
        "RequestThrottled" }) do
        local c = clock()
        http.core = fake({ { response(400, {}, "<Error><Code>" .. code .. "</Code></Error>") },
          { response(200) } })
        assert.equal(200, http.get("http://x/", { retry = policy(c) }).status, code)
        assert.equal(2, http.core.calls, code)
      end
      local c = clock()
      http.core = fake({ { response(400, {}, '{"__type":"ValidationException"}') }, { response(200) } })
      assert.equal(400, http.get("http://x/", { retry = policy(c) }).status)
    end)

    it("retries timeouts and network errors, not tls or io", function()
      for code, want in pairs({ timeout = 2, network = 2, tls = 1, io = 1, invalid_input = 1 }) do
        local c = clock()
        http.core = fake({ { nil, "boom", code }, { response(200) } })
        http.get("http://x/", { retry = policy(c) })
        assert.equal(want, http.core.calls, code)
      end
    end)

    it("does not retry non-idempotent methods unless asked", function()
      local c = clock()
      http.core = fake({ { response(503) }, { response(200) } })
      assert.equal(503, http.post("http://x/", "b", { retry = policy(c) }).status)
      assert.equal(1, http.core.calls)
      http.core = fake({ { response(503) }, { response(200) } })
      assert.equal(200, http.post("http://x/", "b",
        { retry = policy(c, { retry_non_idempotent = true }) }).status)
      assert.equal(2, http.core.calls)
      for _, m in ipairs({ "PUT", "DELETE", "HEAD", "OPTIONS" }) do
        http.core = fake({ { response(503) }, { response(200) } })
        assert.equal(200, http.request({ url = "http://x/", method = m, retry = policy(c) }).status)
      end
    end)

    it("honours Retry-After instead of the backoff", function()
      local c = clock()
      http.core = fake({ { response(429, { ["retry-after"] = "7" }) }, { response(200) } })
      assert.equal(200, http.get("http://x/", { retry = policy(c) }).status)
      assert.same({ 7 }, c.slept)
    end)

    it("stops when a wait would pass the deadline", function()
      local c = clock()
      http.core = fake({ { response(503, { ["retry-after"] = "30" }) }, { response(200) } })
      local res = http.get("http://x/", { retry = policy(c, { deadline = 10 }) })
      assert.equal(503, res.status)
      assert.equal(1, http.core.calls)
      assert.same({}, c.slept)
    end)

    it("limits each attempt's timeout to the time left before the deadline", function()
      local c = clock()
      http.core = fake({ { response(503) }, { response(200) } })
      http.get("http://x/", { timeout = 60, retry = policy(c, { deadline = 10 }) })
      assert.equal(10, http.core.seen[1].timeout)
      assert.equal(9.9, http.core.seen[2].timeout)
    end)

    it("retries extra statuses or codes listed in `on`, or as a predicate decides", function()
      local c = clock()
      http.core = fake({ { response(409) }, { response(200) } })
      assert.equal(200, http.get("http://x/", { retry = policy(c, { on = { 409 } }) }).status)
      http.core = fake({ { response(503) }, { response(200) } })
      assert.equal(503, http.get("http://x/",
        { retry = policy(c, { on = function(res) return res.status ~= 503 end }) }).status)
    end)

    it("is off with retry = false", function()
      http.core = fake({ { response(503) }, { response(200) } })
      assert.equal(503, http.get("http://x/", { retry = false }).status)
      assert.equal(1, http.core.calls)
    end)
  end)

  describe("until_exists", function()
    it("retries 404 every interval until it appears, logging each wait", function()
      local c = clock()
      local lines = {}
      http.core = fake({ { response(404) }, { response(404) }, { response(200, {}, "here") } })
      local res = http.get("http://x/f.grib2", { retry = policy(c),
        until_exists = { deadline = 100, interval = 30 },
        log = function(level, line) lines[#lines + 1] = level .. " " .. line end })
      assert.equal("here", res.body)
      assert.same({ 30, 30 }, c.slept)
      assert.same({
        "info http: http://x/f.grib2 not there yet (404); checking again in 30 s (100 s to deadline)",
        "info http: http://x/f.grib2 not there yet (404); checking again in 30 s (70 s to deadline)",
      }, lines)
    end)

    it("returns the last 404 at the deadline", function()
      local c = clock()
      http.core = fake({ { response(404) } })
      local res = http.get("http://x/", { retry = policy(c),
        until_exists = { deadline = 50, interval = 20 }, log = function() end })
      assert.equal(404, res.status)
      assert.same({ 20, 20, 10 }, c.slept)
      assert.equal(4, http.core.calls)
    end)
  end)

  describe("debug output", function()
    it("masks Authorization, tokens, cookies and signatures", function()
      local lines = {}
      http.core = fake({ { response(403, { ["set-cookie"] = "session=SETCOOKIESECRET",
        ["content-type"] = "text/plain" }) } })
      http.get("https://b.s3.amazonaws.com/k?X-Amz-Signature=SIGSECRET&X-Amz-Credential=CREDSECRET",
        { debug = true, retry = false, headers = {
          Authorization = "AWS4-HMAC-SHA256 Credential=AKID/x, Signature=AUTHSECRET",
          ["X-Amz-Security-Token"] = "TOKENSECRET", Cookie = "c=COOKIESECRET", Accept = "*/*" },
          log = function(_, line) lines[#lines + 1] = line end })
      local all = table.concat(lines, "\n")
      for _, s in ipairs({ "SIGSECRET", "CREDSECRET", "AUTHSECRET", "TOKENSECRET", "COOKIESECRET",
        "SETCOOKIESECRET", "AKID" }) do
        assert.is_nil(all:find(s, 1, true), s .. " leaked:\n" .. all)
      end
      assert.same({
        "http > GET https://b.s3.amazonaws.com/k?X-Amz-Signature=***&X-Amz-Credential=***",
        "http > accept: */*",
        "http > authorization: ***",
        "http > cookie: ***",
        "http > x-amz-security-token: ***",
        "http < 403 https://b.s3.amazonaws.com/k?X-Amz-Signature=***&X-Amz-Credential=*** " ..
          "(HTTP/1.1, 0 bytes, 0.001 s)",
        "http < content-type: text/plain",
        "http < set-cookie: ***",
      }, lines)
    end)
  end)
end)
