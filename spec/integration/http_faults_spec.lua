-- gf.http against spec/support/faultserver.py: real transfers, real misbehaviour.
local http = require("gf.http")
local task = require("gf.task")
local paths = require("spec.support.paths")
local faultserver = require("spec.support.faultserver")
local files = require("spec.support.files")

local srv, tmp
local quiet = function() end
local fast = { base = 0.01, max_delay = 0.05 }

local pattern, same_bytes = faultserver.pattern, faultserver.same_bytes

local read, write = files.read, files.write

local function id()
  return ("t%d"):format(math.random(1, 1 << 30))
end

describe("gf.http fault injection #integration", function()
  setup(function()
    srv = faultserver.start({ port = tonumber(os.getenv("GF_FAULTSERVER_PORT")) or 0 })
    tmp = paths.tmpdir()
  end)

  teardown(function()
    if srv then srv:stop() end
    if tmp then os.execute(("rm -rf '%s'"):format(tmp)) end
  end)

  describe("requests and responses", function()
    it("echoes method, headers and a binary body with NUL bytes", function()
      local body = {}
      for i = 0, 255 do body[#body + 1] = string.char(i) end
      body = table.concat(body) .. "\0tail\0"
      local res = assert(http.request({ url = srv.url .. "/echo", method = "PUT", body = body,
        query = { a = "b c", z = "1" }, headers = { ["X-Custom"] = "v 1", ["X-Empty"] = "" } }))
      assert.equal(200, res.status)
      assert.equal("PUT", res.headers["x-echo-method"])
      assert.equal("/echo?a=b%20c&z=1", res.headers["x-echo-path"])
      assert.equal("v 1", res.headers["x-echo-h-x-custom"])
      assert.equal("", res.headers["x-echo-h-x-empty"])
      assert.equal(tostring(#body), res.headers["x-echo-body-length"])
      same_bytes(body, res.body)
      assert.equal(#body, res.bytes)
      assert.equal("1.1", res.http_version)
      assert.equal(srv.url .. "/echo?a=b%20c&z=1", res.url)
      assert.is_true(res.time > 0 and res.time < 5)
    end)

    it("sends a part of a file as the body (body_offset, body_length)", function()
      local f = tmp .. "/part.bin"
      write(f, pattern(0, 100000))
      local res = assert(http.request({ url = srv.url .. "/echo", method = "PUT", body_file = f,
        body_offset = 65536, body_length = 20000 }))
      assert.equal("20000", res.headers["x-echo-body-length"])
      same_bytes(pattern(0, 100000):sub(65537, 85536), res.body)
      -- to the end of the file when body_length is absent
      res = assert(http.request({ url = srv.url .. "/echo", method = "PUT", body_file = f,
        body_offset = 99990 }))
      same_bytes(pattern(0, 100000):sub(99991), res.body)
      -- a part beyond the end of the file is refused before anything is sent
      local r = { http.request({ url = srv.url .. "/echo", method = "PUT", body_file = f,
        body_offset = 90000, body_length = 20000, retry = false }) }
      assert.is_nil(r[1])
      assert.equal("io", r[3])
      assert.matches("100000 bytes, the body asks for 20000 from 90000", r[2], 1, true)
      assert.has_error(function() http.request({ url = srv.url, body_offset = 1 }) end,
        "http.request: body_offset and body_length need body_file")
    end)

    it("sends a body from a file, and other methods", function()
      local f = tmp .. "/up.bin"
      write(f, pattern(0, 70000))
      local res = assert(http.request({ url = srv.url .. "/echo", method = "POST", body_file = f }))
      assert.equal("POST", res.headers["x-echo-method"])
      same_bytes(pattern(0, 70000), res.body)
      for _, m in ipairs({ "DELETE", "OPTIONS", "PATCH" }) do
        assert.equal(m, assert(http.request({ url = srv.url .. "/echo", method = m })).headers["x-echo-method"])
      end
      local h = assert(http.head(srv.url .. "/bytes?n=1234"))
      assert.same({ 200, "", "1234" }, { h.status, h.body, h.headers["content-length"] })
    end)

    it("lower-cases header names and joins repeated headers", function()
      local res = assert(http.get(srv.url .. "/dup"))
      assert.equal("a, b", res.headers["x-dup"])
      assert.equal("c=1", res.headers["set-cookie"])
      assert.is_nil(res.headers["X-Dup"])
    end)

    it("returns a response for every HTTP status", function()
      for _, s in ipairs({ 201, 204, 400, 404, 418, 500 }) do
        local res = assert(http.get(srv.url .. "/status/" .. s .. "?body=b" .. s, { retry = false }))
        assert.equal(s, res.status)
        assert.equal(s == 204 and "" or ("b" .. s), res.body)
      end
    end)

    it("keeps big bodies whole and enforces max_body", function()
      local n = 8 * 1024 * 1024 + 3
      local res = assert(http.get(srv.url .. "/bytes?n=" .. n))
      assert.equal(n, #res.body)
      same_bytes(pattern(n - 1000, n), res.body:sub(-1000))
      assert.same({ nil, ("http.request GET %s/bytes?n=100000: response body larger than " ..
        "max_body (1000 bytes)"):format(srv.url), "io" },
        { http.get(srv.url .. "/bytes?n=100000", { max_body = 1000, retry = false }) })
    end)
  end)

  describe("retries (counted by the server)", function()
    it("retries 503 until success", function()
      local k = id()
      local res = assert(http.get(srv.url .. "/fail?n=2&id=" .. k, { retry = fast, log = quiet }))
      assert.same({ 200, "ok after 3", 3 }, { res.status, res.body, res.attempts })
      assert.equal(3, srv:hits(k))
    end)

    it("stops after `attempts` and returns the last 500", function()
      local k = id()
      local res = assert(http.get(srv.url .. "/fail?code=500&n=10&id=" .. k,
        { retry = { attempts = 3, base = 0.01 }, log = quiet }))
      assert.same({ 500, 3 }, { res.status, res.attempts })
      assert.equal(3, srv:hits(k))
    end)

    it("does not retry 501 or 404", function()
      for _, code in ipairs({ 501, 404 }) do
        local k = id()
        assert.equal(code, http.get(srv.url .. ("/fail?code=%d&id=%s"):format(code, k),
          { retry = fast, log = quiet }).status)
        assert.equal(1, srv:hits(k))
      end
    end)

    it("does not retry a POST unless asked", function()
      local k = id()
      assert.equal(503, http.post(srv.url .. "/fail?n=2&id=" .. k, "x", { retry = fast }).status)
      assert.equal(1, srv:hits(k))
      local k2 = id()
      local fast_post = { base = 0.01, retry_non_idempotent = true }
      assert.equal(200, http.post(srv.url .. "/fail?n=2&id=" .. k2, "x",
        { retry = fast_post, log = quiet }).status)
      assert.equal(3, srv:hits(k2))
    end)

    it("honours Retry-After in seconds and as an HTTP date", function()
      local k = id()
      local t0 = http.core.now()
      local res = assert(http.get(srv.url .. "/fail?code=429&retry_after=1&id=" .. k,
        { retry = fast, log = quiet }))
      local dt = http.core.now() - t0
      assert.equal(200, res.status)
      assert.is_true(dt >= 1 and dt < 3, tostring(dt))
      local k2 = id()
      t0 = http.core.now()
      res = assert(http.get(srv.url .. "/fail?code=503&retry_date=2&id=" .. k2,
        { retry = fast, log = quiet }))
      dt = http.core.now() - t0
      assert.equal(200, res.status)
      assert.is_true(dt >= 0.9 and dt < 4, tostring(dt)) -- HTTP dates have 1 s resolution
    end)

    it("gives up at once when Retry-After passes the deadline", function()
      local k = id()
      local t0 = http.core.now()
      local res = assert(http.get(srv.url .. "/fail?code=503&retry_after=30&id=" .. k,
        { retry = { deadline = 5 }, log = quiet }))
      assert.equal(503, res.status)
      assert.is_true(http.core.now() - t0 < 1)
      assert.equal(1, srv:hits(k))
    end)

    it("retries AWS throttling error bodies (XML and JSON)", function()
      for _, q in ipairs({ "aws=SlowDown&fmt=xml&status=503", "aws=ThrottlingException&fmt=json",
        "aws=RequestLimitExceeded&status=400" }) do
        local k = id()
        local res = assert(http.get(srv.url .. "/throttle?n=2&" .. q .. "&id=" .. k,
          { retry = fast, log = quiet }))
        assert.equal(200, res.status, q)
        assert.equal(3, srv:hits(k), q)
      end
    end)
  end)

  describe("broken transfers", function()
    it("reports a reset mid-body, and retries it", function()
      local k = id()
      local u = srv.url .. "/reset?n=1&id=" .. k
      assert.same({ nil, "http.request GET " .. u .. ": Recv failure: Connection reset by peer",
        "network" }, { http.get(u, { retry = false }) })
      local k2 = id()
      local res = assert(http.get(srv.url .. "/reset?n=1&id=" .. k2, { retry = fast, log = quiet }))
      assert.same({ 200, "ok after 2" }, { res.status, res.body })
      assert.equal(2, srv:hits(k2))
    end)

    it("never takes a truncated body for a complete one", function()
      local u = srv.url .. "/truncate?len=1000&send=100"
      assert.same({ nil, "http.request GET " .. u ..
        ": partial body: transfer closed with 900 bytes remaining to read", "network" },
        { http.get(u, { retry = false }) })
      local r, msg = http.get(u, { retry = { attempts = 2, base = 0.01 }, log = quiet })
      assert.is_nil(r)
      assert.matches("%(after 2 attempts%)$", msg)
    end)

    it("times out: total and idle", function()
      local t0 = http.core.now()
      local u = srv.url .. "/slow?secs=3"
      local r = { http.get(u, { timeout = 0.3, retry = false }) }
      assert.is_true(http.core.now() - t0 < 1.5)
      assert.is_nil(r[1])
      assert.equal("timeout", r[3])
      assert.matches("^http%.request GET " .. u:gsub("%p", "%%%0") .. ": Operation timed out after %d+ milliseconds", r[2])
      t0 = http.core.now()
      u = srv.url .. "/stall?secs=4"
      r = { http.get(u, { idle_timeout = 1, retry = false }) }
      local dt = http.core.now() - t0
      assert.is_true(dt >= 0.9 and dt < 2.5, tostring(dt))
      assert.same({ nil, "http.request GET " .. u .. ": no data for 1000 ms (idle_timeout)",
        "timeout" }, r)
    end)
  end)

  describe("until_exists", function()
    it("waits for a 404 to become 200, logging each wait", function()
      local k = id()
      local lines = {}
      local res = assert(http.get(srv.url .. "/notyet?n=2&id=" .. k, {
        until_exists = { deadline = 10, interval = 0.1 },
        log = function(level, line) lines[#lines + 1] = level .. " " .. line end }))
      assert.same({ 200, "here" }, { res.status, res.body })
      assert.equal(3, srv:hits(k))
      assert.equal(2, #lines)
      assert.matches("^info http: .*/notyet%?n=2&id=" .. k .. " not there yet %(404%); checking again in 0%.1 s", lines[1])
    end)

    it("returns the 404 at the deadline", function()
      local k = id()
      local res = assert(http.get(srv.url .. "/notyet?n=1000&id=" .. k,
        { until_exists = { deadline = 0.5, interval = 0.3 }, log = quiet }))
      assert.equal(404, res.status)
      assert.equal(3, srv:hits(k)) -- at 0, 0.3 and 0.5 s (the last wait is cut to the deadline)
    end)
  end)

  describe("redirects", function()
    it("follows them to the end", function()
      local res = assert(http.get(srv.url .. "/redirect?n=3&to=/echo"))
      assert.equal(200, res.status)
      assert.equal(srv.url .. "/echo", res.url)
      assert.equal("GET", res.headers["x-echo-method"])
    end)

    it("can leave them to the caller, or limit them", function()
      local res = assert(http.get(srv.url .. "/redirect?n=1&to=/echo", { follow_redirects = false }))
      assert.same({ 302, "/echo" }, { res.status, res.headers.location })
      local u = srv.url .. "/redirect?n=3&to=/echo"
      assert.same({ nil, "http.request GET " .. u .. ": Maximum (1) redirects followed", "network" },
        { http.get(u, { max_redirects = 1, retry = false }) })
    end)
  end)

  describe("ranges and files", function()
    it("asks for a Range", function()
      local res = assert(http.get(srv.url .. "/bytes?n=1000", { range = "bytes=10-19" }))
      assert.same({ 206, pattern(10, 20), "bytes 10-19/1000" },
        { res.status, res.body, res.headers["content-range"] })
    end)

    it("streams to a file, renamed only when complete", function()
      local out = tmp .. "/whole.bin"
      local res = assert(http.download(srv.url .. "/bytes?n=300000", out))
      assert.same({ 200, out, "" }, { res.status, res.path, res.body })
      same_bytes(pattern(0, 300000), read(out))
      assert.is_nil(read(out .. ".part"))
    end)

    it("keeps a broken download under .part and resumes it", function()
      local out = tmp .. "/resume.bin"
      local k = id()
      local u = srv.url .. "/bytes?n=200000&fail_at=50000&fail_times=1&id=" .. k
      local r = { http.download(u, out, { retry = false }) }
      assert.same({ nil, "http.request GET " .. u .. ": Recv failure: Connection reset by peer",
        "network" }, r)
      assert.is_nil(read(out))
      same_bytes(pattern(0, 50000), read(out .. ".part"))
      local res = assert(http.download(u, out))
      assert.equal(206, res.status)
      assert.equal("bytes=50000-", srv:last(k).range)
      same_bytes(pattern(0, 200000), read(out))
      assert.is_nil(read(out .. ".part"))
    end)

    it("resumes through retries within one call", function()
      local out = tmp .. "/retried.bin"
      local k = id()
      local res = assert(http.download(srv.url .. "/bytes?n=100000&fail_at=30000&fail_times=1&id=" .. k,
        out, { retry = fast, log = quiet }))
      assert.same({ 206, 2 }, { res.status, res.attempts })
      same_bytes(pattern(0, 100000), read(out))
    end)

    it("starts over when the server ignores the Range", function()
      local out = tmp .. "/ignored.bin"
      write(out .. ".part", "garbage that is not the start")
      local res = assert(http.download(srv.url .. "/bytes?n=5000&ignore_range=1", out))
      assert.equal(200, res.status)
      same_bytes(pattern(0, 5000), read(out))
    end)

    it("never writes a truncated body under the final name", function()
      local out = tmp .. "/trunc.bin"
      local u = srv.url .. "/truncate?len=1000&send=100"
      local r, _, code = http.request({ url = u, output_file = out, retry = false })
      assert.same({ nil, "network" }, { r, code })
      assert.is_nil(read(out))
    end)

    it("turns a non-2xx download into a failure and leaves no file", function()
      local out = tmp .. "/missing.bin"
      assert.same({ nil, "http.download " .. srv.url .. "/status/404: HTTP 404", "not_found" },
        { http.download(srv.url .. "/status/404", out, { retry = false }) })
      assert.is_nil(read(out))
      assert.is_nil(read(out .. ".part"))
      local res = assert(http.request({ url = srv.url .. "/status/500?body=oops", output_file = out,
        retry = false }))
      assert.same({ 500, "oops" }, { res.status, res.body })
      assert.is_nil(res.path)
      assert.is_nil(read(out))
    end)
  end)

  describe("concurrency", function()
    it("keeps 64 slow requests in flight at once", function()
      local urls = {}
      for i = 1, 64 do urls[i] = srv.url .. "/slow?secs=0.5&i=" .. i end
      local t0 = http.core.now()
      local results, failures = task.map(urls, function(u) return assert(http.get(u)).status end,
        { concurrency = 64 })
      local dt = http.core.now() - t0
      assert.same({}, failures)
      assert.equal(64, #results)
      assert.equal(200, results[64])
      assert.is_true(dt < 5, ("64 x 0.5 s took %.2f s"):format(dt))
    end)

    it("caps connections when the pool is bounded", function()
      http.configure({ max_connections = 4 })
      local urls = {}
      for i = 1, 8 do urls[i] = srv.url .. "/slow?secs=0.3&j=" .. i end
      local t0 = http.core.now()
      local _, failures = task.map(urls, function(u) return assert(http.get(u)).status end,
        { concurrency = 8 })
      local dt = http.core.now() - t0
      http.configure({ max_connections = 256 })
      assert.same({}, failures)
      assert.is_true(dt >= 0.55, ("8 requests over 4 connections took %.2f s"):format(dt))
    end)
  end)

  describe("transfer slots", function()
    it("keeps at most n of the requests sharing http.slots(n) in flight", function()
      local slots = http.slots(3)
      local most, done = 0, false
      local monitor = task.spawn(function()
        while not done do
          most = math.max(most, slots:in_flight())
          task.sleep(0.01)
        end
      end)
      local urls = {}
      for i = 1, 8 do urls[i] = srv.url .. "/slow?secs=0.2&s=" .. i end
      local results, failures = task.map(urls, function(u)
        return assert(http.get(u, { slots = slots })).status
      end, { concurrency = 8 })
      done = true
      task.wait(monitor)
      assert.same({}, failures)
      assert.equal(8, #results)
      assert.same({ 3, 0 }, { most, slots:in_flight() })
    end)

    it("frees a download's slot before its commit and checks its arguments", function()
      local slots = http.slots(1)
      local out = tmp .. "/slotted.bin"
      local res = assert(http.download(srv.url .. "/bytes?n=3000", out, { slots = slots }))
      assert.same({ 200, out, 0 }, { res.status, res.path, slots:in_flight() })
      assert.equal(3000, #read(out))
      assert.has_error(function() http.get(srv.url .. "/", { slots = { max = 1 } }) end,
        "http.request: option 'slots' must come from http.slots(n)")
      assert.has_error(function() http.slots(0) end,
        "bad argument #1 to 'slots' (positive integer expected, got 0)")
      assert.has_error(function() http.slots(1.5) end,
        "bad argument #1 to 'slots' (positive integer expected, got 1.5)")
    end)
  end)

  describe("in a gfhost subprocess", function()
    local function run_script(src, after)
      local script = tmp .. "/s" .. id() .. ".lua"
      write(script, src)
      local cmd = ("cd '%s' && '%s' run '%s' 2>&1"):format(paths.root, paths.gfhost, script)
      if after then cmd = after(cmd) end
      local p = assert(io.popen(cmd, "r"))
      local out = p:read("a")
      p:close()
      return out
    end

    it("never prints secrets in debug output", function()
      local out = run_script(([[
        local http = require("gf.http")
        local r = http.get(%q, { debug = true, retry = { attempts = 2, base = 0.01 }, headers = {
          Authorization = "AWS4-HMAC-SHA256 Credential=AKIDSECRET/x, Signature=AUTHSIGSECRET",
          ["X-Amz-Security-Token"] = "TOKENSECRET", Cookie = "s=COOKIESECRET" } })
        print("status", r.status)
        local r2, msg = http.get(%q, { debug = true, retry = false })
        print("error", msg)
      ]]):format(srv.url .. "/status/503?X-Amz-Signature=QUERYSIGSECRET&X-Amz-Security-Token=QTOKSECRET",
        "http://127.0.0.1:1/?Signature=PORTSIGSECRET"))
      assert.matches("status\t503", out)
      assert.matches("http > authorization: %*%*%*", out)
      assert.matches("error\thttp%.request GET http://127%.0%.0%.1:1/%?Signature=%*%*%*: ", out)
      for _, s in ipairs({ "AKIDSECRET", "AUTHSIGSECRET", "TOKENSECRET", "COOKIESECRET",
        "QUERYSIGSECRET", "QTOKSECRET", "PORTSIGSECRET" }) do
        assert.is_nil(out:find(s, 1, true), s .. " leaked:\n" .. out)
      end
    end)

    it("exits 130 promptly on SIGINT during a slow request", function()
      local out = run_script(([[
        local http = require("gf.http")
        io.stdout:write("started\n") io.stdout:flush()
        http.get(%q)
        print("finished")
      ]]):format(srv.url .. "/slow?secs=20"), function(cmd)
        return ("sh -c '(%s) & pid=$!; sleep 0.7; t0=$(date +%%s%%N); kill -INT $pid; wait $pid; " ..
          "echo \"exit=$? ms=$(( ($(date +%%s%%N) - t0) / 1000000 ))\"'"):format(cmd:gsub("'", "'\\''"))
      end)
      assert.matches("started", out)
      assert.is_nil(out:find("finished", 1, true))
      local code, ms = out:match("exit=(%d+) ms=(%d+)")
      assert.equal("130", code, out)
      assert.is_true(tonumber(ms) < 2000, out)
    end)
  end)
end)
