-- gf.server: a real libmicrohttpd server in this process, driven by gf.http and by raw sockets
-- (spec/support/rawhttp.py) for what no well-behaved client sends. Ports 19140-19149.
local server = require("gf.server")
local http = require("gf.http")
local task = require("gf.task")
local json = require("gf.json")
local fs = require("gf.fs")
local paths = require("spec.support.paths")
local files = require("spec.support.files")
local rawhttp = require("spec.support.rawhttp")
local log = require("gf.log")
local proc = require("gf.proc")

local PORT = 19140
local raw

local function url(port, path) return ("http://127.0.0.1:%d%s"):format(port, path) end

local function req(port, path, opts)
  local o = { url = url(port, path), retry = false, timeout = 30 }
  for k, v in pairs(opts or {}) do o[k] = v end
  return assert(http.request(o))
end

-- Run fn with gf.log at debug level into a list of lines.
local function logged(fn)
  local lines = {}
  log.configure({ level = "debug", sink = function(line) lines[#lines + 1] = line end })
  local ok, err = pcall(fn)
  log.configure({ level = false, sink = false })
  assert(ok, err)
  return table.concat(lines, "\n")
end

-- A status line and what follows, from a raw response.
local function status_of(text) return tonumber(text:match("^HTTP/1%.1 (%d%d%d)")) end

describe("gf.server #unit", function()
  setup(function() raw = rawhttp.start(19149) end)
  teardown(function() if raw then raw:stop() end end)

  describe("routes and JSON", function()
    local srv
    local seen = {}
    setup(function()
      local r = server.router()
      r:get("/healthz", function() return 200, { status = "ok" } end)
      r:get("/api/runs/:id", function(q)
        return 200, { id = q.params.id, query = q.query }
      end)
      r:get("/api/runs/:id/files/*path", function(q)
        return 200, { id = q.params.id, path = q.params.path }
      end)
      r:post("/api/echo", function(q)
        local v, err = q:json()
        if not v then return 400, { error = err } end
        return 201, { got = v, ctype = q.headers["content-type"] }, { ["X-Reply"] = "yes" }
      end)
      r:put("/api/runs/:id", function(q) return 204 end)
      r:post("/api/len", function(q) return 200, tostring(#q.body) end)
      r:get("/text", function(q)
        seen.req = q
        return 200, "plain"
      end)
      r:get("/boom", function() error("db password is hunter2") end)
      r:get("/bad-status", function() return "200", "x" end)
      r:get("/bad-body", function() return 200, function() end end)
      r:get("/bad-header", function() return 200, "x", { ["X-Evil"] = "a\r\nSet-Cookie: x=1" } end)
      srv = assert(server.listen({ port = PORT }, r))
    end)
    teardown(function() srv:close() end)

    it("answers a route with a table body as JSON", function()
      local res = req(PORT, "/healthz")
      assert.equal(200, res.status)
      assert.equal("application/json", res.headers["content-type"])
      assert.same({ status = "ok" }, json.decode(res.body))
      assert.equal(PORT, srv.port)
    end)

    it("captures :params and a final *rest, and parses the query", function()
      local res = req(PORT, "/api/runs/r-42", { query = { a = "b c", n = "1", e = "" } })
      assert.same({ id = "r-42", query = { a = "b c", n = "1", e = "" } }, json.decode(res.body))
      res = req(PORT, "/api/runs/a%20b%C3%A9/files/x")
      assert.same({ id = "a b\xC3\xA9", path = "x" }, json.decode(res.body))
      res = req(PORT, "/api/runs/7/files/a/b/c.txt")
      assert.same({ id = "7", path = "a/b/c.txt" }, json.decode(res.body))
    end)

    it("takes a JSON body and sends one back with the handler's headers", function()
      local res = req(PORT, "/api/echo", { method = "POST", body = '{"a":[1,2,{"b":null}]}',
        headers = { ["Content-Type"] = "application/json" } })
      assert.equal(201, res.status)
      assert.equal("yes", res.headers["x-reply"])
      local v = json.decode(res.body)
      assert.same({ 1, 2 }, { v.got.a[1], v.got.a[2] })
      assert.equal(json.null, v.got.a[3].b)
      assert.equal("application/json", v.ctype)
      res = req(PORT, "/api/echo", { method = "POST", body = "{nope" })
      assert.equal(400, res.status)
      assert.matches("json.decode", json.decode(res.body).error)
    end)

    it("takes a body of the default limit (1 MiB) and refuses one byte more", function()
      local body = ("x"):rep(1048576)
      local res = req(PORT, "/api/len", { method = "POST", body = body .. "x" })
      assert.equal(413, res.status)
      res = req(PORT, "/api/len", { method = "POST", body = body })
      assert.equal(200, res.status)
      assert.equal("1048576", res.body)
    end)

    it("gives the request's method, path, lower-case headers and remote address", function()
      local res = req(PORT, "/text", { headers = { ["X-Mixed-Case"] = "v" } })
      assert.equal("plain", res.body)
      assert.equal("text/plain; charset=utf-8", res.headers["content-type"])
      assert.equal("GET", seen.req.method)
      assert.equal("/text", seen.req.path)
      assert.equal("v", seen.req.headers["x-mixed-case"])
      assert.equal("127.0.0.1", seen.req.remote)
      assert.equal("", seen.req.body)
    end)

    it("answers 404 for an unknown route and 405 with Allow for a wrong method", function()
      local res = req(PORT, "/nope")
      assert.equal(404, res.status)
      assert.same({ error = "not found" }, json.decode(res.body))
      res = req(PORT, "/healthz", { method = "DELETE" })
      assert.equal(405, res.status)
      assert.equal("GET, HEAD", res.headers.allow)
      res = req(PORT, "/api/runs/1", { method = "PUT" })
      assert.equal(204, res.status)
      res = req(PORT, "/api/runs/1", { method = "POST" })
      assert.equal(405, res.status)
      assert.equal("GET, HEAD, PUT", res.headers.allow)
    end)

    it("serves HEAD from a GET route without a body", function()
      local res = req(PORT, "/healthz", { method = "HEAD" })
      assert.equal(200, res.status)
      assert.equal("", res.body)
    end)

    it("logs every request at debug level", function()
      local text = logged(function() req(PORT, "/api/runs/9") end)
      assert.matches("gf.server request", text, 1, true)
      assert.matches("path=/api/runs/9", text, 1, true)
      assert.matches("status=200", text, 1, true)
      assert.matches("remote=127.0.0.1", text, 1, true)
    end)

    it("turns a handler error into 500 without leaking the message or traceback", function()
      local res
      local text = logged(function() res = req(PORT, "/boom") end)
      assert.matches("handler failed", text, 1, true)
      assert.matches("hunter2", text, 1, true) -- the operator sees it in the log
      assert.matches("stack traceback", text, 1, true)
      assert.equal(500, res.status)
      assert.same({ error = "internal server error" }, json.decode(res.body))
      assert.is_nil(res.body:find("hunter2", 1, true))
      assert.is_nil(res.body:find("traceback", 1, true))
      for _, p in ipairs({ "/bad-status", "/bad-body", "/bad-header" }) do
        res = req(PORT, p)
        assert.equal(500, res.status, p)
        assert.is_nil(res.headers["set-cookie"])
      end
      assert.equal(200, req(PORT, "/healthz").status) -- still serving
    end)
  end)

  describe("listen", function()
    it("reports a port in use as nil, message naming bind:port, 'io'", function()
      local a = assert(server.listen({ port = PORT + 1 }, function() return 200 end))
      local b, err, code = server.listen({ port = PORT + 1 }, function() return 200 end)
      assert.is_nil(b)
      assert.equal("server.listen 127.0.0.1:" .. (PORT + 1) .. ": address in use", err)
      assert.equal("io", code)
      a:close()
      -- the port is free again after close
      local c = assert(server.listen({ port = PORT + 1 }, function() return 200, "c" end))
      assert.equal("c", req(PORT + 1, "/").body)
      c:close()
      assert.is_true(c:close()) -- idempotent
    end)

    it("takes port 0 (srv.port tells) and a plain function handler", function()
      local s = assert(server.listen({ port = 0 }, function(q) return 200, q.path end))
      assert.is_true(s.port > 0)
      assert.equal("/x/y", req(s.port, "/x/y").body)
      s:close()
    end)

    it("binds 0.0.0.0 when asked, and IPv6 addresses", function()
      local s = assert(server.listen({ bind = "0.0.0.0", port = PORT + 1 }, function(q)
        return 200, q.remote
      end))
      assert.equal("127.0.0.1", req(PORT + 1, "/").body)
      s:close()
      local s6, err = server.listen({ bind = "::1", port = PORT + 1 }, function(q)
        return 200, q.remote
      end)
      if s6 then -- a machine without IPv6 loopback says so in err
        local u6 = ("http://[::1]:%d/"):format(PORT + 1)
        assert.equal("::1", req(PORT + 1, "/", { url = u6 }).body)
        s6:close()
      else
        assert.matches("::1", err, 1, true)
      end
    end)

    it("refuses a bad bind address and misuse", function()
      assert.same({ nil, "server.listen: bind address 'example.org' is not a numeric IP address",
        "invalid_input" }, { server.listen({ bind = "example.org" }, function() end) })
      assert.has_error(function() server.listen({ prot = 1 }, function() end) end,
        "gf.server.listen: unknown option 'prot'")
      assert.has_error(function() server.listen({ port = "80" }, function() end) end)
      assert.has_error(function() server.listen({}, 42) end)
      assert.has_error(function() server.router():get("nope", function() end) end)
    end)
  end)

  describe("static files", function()
    local srv, dir, outside
    setup(function()
      dir = assert(fs.tempdir("gfserver-"))
      outside = assert(fs.tempdir("gfserver-"))
      assert(fs.mkdir_p(dir .. "/site/css"))
      assert(fs.mkdir_p(dir .. "/site/sub"))
      files.write(dir .. "/site/index.html", "<h1>home</h1>")
      files.write(dir .. "/site/css/app.css", "body{}")
      files.write(dir .. "/site/sub/index.html", "<p>sub</p>")
      files.write(dir .. "/site/data.bin", "\0\1\2")
      files.write(dir .. "/site/.hidden", "hidden")
      files.write(dir .. "/secret.txt", "TOP-SECRET")
      files.write(outside .. "/other.txt", "OUTSIDE")
      assert.equal(0, assert(proc.run({ "ln", "-s", outside .. "/other.txt",
        dir .. "/site/link.txt" })).code)
      local r = server.router()
      r:get("/api/x", function() return 200, { x = 1 } end)
      r:static("/", dir .. "/site")
      r:get("/api/after", function() return 200, { after = true } end) -- behind the static "/"
      r:post("/index.html", function() return 200, "posted" end)
      srv = assert(server.listen({ port = PORT + 2 }, r))
    end)
    teardown(function()
      srv:close()
      fs.remove_tree(dir)
      fs.remove_tree(outside)
    end)

    it("serves files with content types, index.html for a directory", function()
      local res = req(PORT + 2, "/")
      assert.equal(200, res.status)
      assert.equal("<h1>home</h1>", res.body)
      assert.equal("text/html; charset=utf-8", res.headers["content-type"])
      res = req(PORT + 2, "/css/app.css")
      assert.equal("body{}", res.body)
      assert.equal("text/css; charset=utf-8", res.headers["content-type"])
      assert.equal("no-cache", res.headers["cache-control"])
      local again = req(PORT + 2, "/css/app.css",
        { headers = { ["If-Modified-Since"] = res.headers["last-modified"] } })
      assert.equal(304, again.status)
      assert.equal("", again.body)
      res = req(PORT + 2, "/data.bin")
      assert.equal("\0\1\2", res.body)
      assert.equal("application/octet-stream", res.headers["content-type"])
      res = req(PORT + 2, "/sub", { follow_redirects = false })
      assert.equal(301, res.status)
      assert.equal("/sub/", res.headers.location)
      assert.equal("<p>sub</p>", req(PORT + 2, "/sub/").body)
      assert.same({ x = 1 }, json.decode(req(PORT + 2, "/api/x").body))
      assert.equal(404, req(PORT + 2, "/missing.txt").status)
      assert.equal(404, req(PORT + 2, "/.hidden").status)
      assert.same({ after = true }, json.decode(req(PORT + 2, "/api/after").body))
      assert.equal("posted", req(PORT + 2, "/index.html", { method = "POST" }).body)
      local res405 = req(PORT + 2, "/css/app.css", { method = "DELETE" })
      assert.equal(405, res405.status)
      assert.equal("GET, HEAD", res405.headers.allow)
    end)

    it("refuses traversal out of the directory", function()
      for _, target in ipairs({ "/../secret.txt", "/%2e%2e/secret.txt", "/css/../../secret.txt",
        "/..%2fsecret.txt", "/css/%2E%2E/%2E%2E/secret.txt", "/link.txt" }) do
        local data = ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"):format(target)
        local r = raw:run(PORT + 2, { data = data, wait = 5 })
        local st = status_of(r.response)
        assert.is_true(st == 403 or st == 404, target .. ": " .. r.response)
        assert.is_nil(r.response:find("TOP-SECRET", 1, true), target)
        assert.is_nil(r.response:find("OUTSIDE", 1, true), target)
      end
    end)
  end)

  describe("misbehaving clients", function()
    local srv
    local calls = 0
    setup(function()
      local r = server.router()
      r:get("/hi", function() calls = calls + 1 return 200, "hi" end)
      r:post("/echo", function(q) calls = calls + 1 return 200, q.body end)
      srv = assert(server.listen({ port = PORT + 3, timeout = 1, max_body = 100 }, r))
    end)
    teardown(function() srv:close() end)

    it("answers malformed requests with 400 and stays up", function()
      local before = calls
      for _, data in ipairs({
        "FOO BAR\r\n\r\n",                                            -- request line
        "GET  HTTP/1.1\r\n\r\n",                                      -- no target
        "GET /hi HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n",     -- header line
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nxx",
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
      }) do
        local r = raw:run(PORT + 3, { data = data, wait = 3 })
        assert.equal(400, status_of(r.response), ("%q: %s"):format(data, r.response))
        assert.is_true(r.closed)
      end
      local big = raw:run(PORT + 3, { data = "GET /hi HTTP/1.1\r\nHost: x\r\nX-Big: "
        .. ("a"):rep(40000) .. "\r\n\r\n", wait = 3 })
      assert.equal(431, status_of(big.response), big.response:sub(1, 200))
      big = raw:run(PORT + 3, { data = "GET /" .. ("a"):rep(40000) .. " HTTP/1.1\r\n\r\n",
        wait = 3 })
      assert.equal(414, status_of(big.response), big.response:sub(1, 200))
      -- no space at all, or TLS bytes: libmicrohttpd closes without a reply
      for _, data in ipairs({ "GARBAGE\r\n\r\n", "\22\3\1\0\200\1\0\0\124\3\3\r\n\r\n" }) do
        local r = raw:run(PORT + 3, { data = data, wait = 3 })
        assert.is_true(r.closed)
        assert.is_nil(r.response:find("200 OK", 1, true))
      end
      assert.equal(before, calls) -- no handler ran
      assert.equal("hi", req(PORT + 3, "/hi").body)
    end)

    it("answers an oversize body with 413 without calling the handler", function()
      local before = calls
      local res = req(PORT + 3, "/echo", { method = "POST", body = ("z"):rep(101) })
      assert.equal(413, res.status)
      assert.same({ error = "request body too large" }, json.decode(res.body))
      -- chunked, so that the size shows only while the body arrives
      local r = raw:run(PORT + 3, { data = "POST /echo HTTP/1.1\r\nHost: x\r\n"
        .. "Transfer-Encoding: chunked\r\n\r\n50\r\n" .. ("x"):rep(80) .. "\r\n50\r\n"
        .. ("y"):rep(80) .. "\r\n0\r\n\r\n", wait = 3 })
      assert.equal(413, status_of(r.response), r.response)
      -- announced sizes: waiting for 100 Continue, or far too large to read: 413 at once
      for _, head in ipairs({ "Content-Length: 101\r\nExpect: 100-continue\r\n",
        "Content-Length: 999999999\r\n" }) do
        r = raw:run(PORT + 3, { data = "POST /echo HTTP/1.1\r\nHost: x\r\n" .. head .. "\r\n",
          wait = 3 })
        assert.equal(413, status_of(r.response), r.response)
        assert.is_nil(r.response:find("100 Continue", 1, true))
      end
      assert.equal(before, calls)
      res = req(PORT + 3, "/echo", { method = "POST", body = ("z"):rep(100) })
      assert.equal(200, res.status)
      assert.equal(("z"):rep(100), res.body)
    end)

    it("closes an idle keep-alive connection silently: the next request goes through", function()
      assert.equal("hi", req(PORT + 3, "/hi").body)
      task.sleep(1.4) -- past the timeout: the pooled connection is closed
      local res = req(PORT + 3, "/hi")
      assert.equal(200, res.status)
      assert.equal("hi", res.body)
    end)

    it("cuts off a client that trickles its headers while others are served", function()
      local before = calls
      local request = "GET /hi HTTP/1.1\r\nHost: x\r\nX-Pad: " .. ("a"):rep(30) .. "\r\n\r\n"
      local slow = raw:spawn(PORT + 3, { data = request, delay = 0.1, wait = 3 })
      local served = 0
      for _ = 1, 12 do
        if req(PORT + 3, "/hi").body == "hi" then served = served + 1 end
        task.sleep(0.1)
      end
      local _, r = task.wait(slow)
      assert.equal(12, served)
      assert.is_true(r.closed)
      assert.is_true(r.sent < #request, "sent " .. r.sent .. " of " .. #request)
      assert.is_true(r.response == "" or status_of(r.response) == 408, r.response)
      assert.equal(before + 12, calls) -- the slow request never reached a handler
    end)
  end)

  describe("load", function()
    it("holds clients beyond max_connections until a connection frees", function()
      local srv = assert(server.listen({ port = PORT + 4, max_connections = 2, timeout = 10 },
        function() return 200, "ok" end))
      finally(function() srv:close() end)
      local hold = raw:spawn(PORT + 4, { hold = 1.5, count = 2 })
      while srv:connections() < 2 do task.sleep(0.01) end
      local t = task.spawn(function() return req(PORT + 4, "/") end)
      task.sleep(0.5)
      assert.is_false(t:done()) -- both connections are taken
      local _, held = task.wait(hold)
      assert.equal(2, #held.conns)
      local ok, res = task.wait(t)
      assert.is_true(ok)
      assert.equal("ok", res.body)
      srv:close()
    end)

    it("answers 200 concurrent requests", function()
      local srv = assert(server.listen({ port = PORT + 5, max_connections = 256 }, function(q)
        task.sleep(0.05)
        return 200, { n = tonumber(q.query.n) }
      end))
      finally(function() srv:close() end)
      local items = {}
      for i = 1, 200 do items[i] = i end
      local results, failures = task.map(items, function(i)
        return json.decode(req(PORT + 5, "/", { query = { n = tostring(i) } }).body).n
      end, { concurrency = 200 })
      assert.same({}, failures)
      assert.same(items, results)
      srv:close()
    end)

    it("keeps serving while a handler waits (sleep, HTTP call)", function()
      local port = PORT + 6
      local ticks, slow_done = 0, false
      local r = server.router()
      r:get("/slow", function()
        task.sleep(1)
        return 200, "slow"
      end)
      r:get("/fast", function() return 200, "fast" end)
      r:get("/proxy", function()
        local res = assert(http.request({ url = url(port, "/slow"), retry = false }))
        return 200, "via " .. res.body
      end)
      local srv = assert(server.listen({ port = port }, r))
      finally(function() srv:close() end)
      local slow = task.spawn(function()
        local res = req(port, "/proxy")
        slow_done = true
        return res.body
      end)
      local ticker = task.spawn(function()
        while not slow_done do
          ticks = ticks + 1
          task.sleep(0.02)
        end
      end)
      task.sleep(0.1)
      for _ = 1, 5 do assert.equal("fast", req(port, "/fast").body) end
      assert.is_false(slow_done) -- the fast ones went by while /proxy -> /slow waited
      local _, body = task.wait(slow)
      task.wait(ticker)
      assert.equal("via slow", body)
      assert.is_true(ticks >= 10, "ticks: " .. ticks)
      srv:close()
    end)
  end)

  describe("close", function()
    it("on SIGTERM answers the request in flight with 503 and exits 130", function()
      local dir = assert(fs.tempdir("gfserver-"))
      finally(function() fs.remove_tree(dir) end)
      files.write(dir .. "/serve.lua", ([[
        local server = require("gf.server")
        local task = require("gf.task")
        local srv = assert(server.listen({ port = %d }, function(q)
          if q.path == "/slow" then
            local f = io.open(%q, "w")
            f:write(require("gf.host").pid())
            f:close()
            task.sleep(30)
          end
          return 200, "up"
        end))
      ]]):format(PORT + 1, dir .. "/entered"))
      local run = task.spawn(proc.run, { paths.gfhost, "run", dir .. "/serve.lua" },
        { timeout = 60 })
      local up
      for _ = 1, 500 do
        up = http.request({ url = url(PORT + 1, "/"), retry = false })
        if up then break end
        task.sleep(0.02)
      end
      assert.equal("up", up and up.body)
      local t = task.spawn(function() return req(PORT + 1, "/slow") end)
      local pid
      while not pid do
        pid = tonumber(files.read(dir .. "/entered") or "")
        if not pid then task.sleep(0.01) end
      end
      assert(proc.run("kill -TERM " .. pid)) -- the server, by its own PID (sh's builtin kill)
      local _, res = task.wait(t)
      assert.equal(503, res.status)
      assert.same({ error = "server stopping" }, json.decode(res.body))
      local _, r = task.wait(run)
      assert.equal(130, r.code, r.stderr)
    end)

    it("does not keep a failed script alive", function()
      local dir = assert(fs.tempdir("gfserver-"))
      finally(function() fs.remove_tree(dir) end)
      files.write(dir .. "/fail.lua", ([[
        local server = require("gf.server")
        assert(server.listen({ port = %d }, function() return 200 end))
        require("gf.host").fail("cannot go on", 2)
      ]]):format(PORT + 1))
      local r = assert(proc.run({ paths.gfhost, "run", dir .. "/fail.lua" }, { timeout = 30 }))
      assert.equal(2, r.code, r.stderr)
      assert.matches("cannot go on", r.stderr, 1, true)
    end)

    it("lets an in-flight request finish, then refuses connections", function()
      local port = PORT + 7
      local entered = false
      local srv = assert(server.listen({ port = port }, function()
        entered = true
        task.sleep(0.4)
        return 200, "finished"
      end))
      finally(function() srv:close() end)
      local t = task.spawn(function() return req(port, "/") end)
      while not entered do task.sleep(0.01) end
      assert.is_true(srv:close()) -- returns once the reply is sent
      local _, res = task.wait(t)
      assert.equal(200, res.status)
      assert.equal("finished", res.body)
      local none, err, code = http.request({ url = url(port, "/"), retry = false })
      assert.is_nil(none)
      assert.equal("network", code, err)
    end)

    it("can be closed by one of its handlers", function()
      local port = PORT + 7
      local srv
      srv = assert(server.listen({ port = port }, function()
        srv:close()
        return 200, "bye", { ["Content-Length"] = "999" }
      end))
      finally(function() srv:close() end)
      local res = req(port, "/shutdown")
      assert.equal("bye", res.body)
      assert.equal("3", res.headers["content-length"])
      while srv:in_flight() > 0 or not srv._done do task.sleep(0.01) end
      assert.is_nil(http.request({ url = url(port, "/"), retry = false }))
    end)

    it("answers 503 for a handler still running at the deadline", function()
      local port = PORT + 8
      local entered = false
      local srv = assert(server.listen({ port = port }, function()
        entered = true
        task.sleep(3)
        return 200, "late"
      end))
      finally(function() srv:close() end)
      local t = task.spawn(function() return req(port, "/") end)
      while not entered do task.sleep(0.01) end
      srv:close({ timeout = 0.2 })
      local _, res = task.wait(t)
      assert.equal(503, res.status)
    end)
  end)
end)
