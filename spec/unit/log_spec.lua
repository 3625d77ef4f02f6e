describe("gf.log #unit", function()
  local log = require("gf.log")
  local lines
  local T0 = 1795255200 -- 2026-11-21T10:00:00Z

  local function capture(extra)
    lines = {}
    local opts = {
      sink = function(line) lines[#lines + 1] = line end,
      clock = function() return T0 end,
      level = "debug",
      format = "text",
    }
    for k, v in pairs(extra or {}) do opts[k] = v end
    log.configure(opts)
  end

  before_each(function()
    log.reset()
    capture()
  end)

  after_each(function()
    log.reset()
  end)

  describe("text lines", function()
    it("writes timestamp, level, message and fields in name order", function()
      log.info("granule queued", { id = "G1", size = 42, ok = true, ratio = 0.5 })
      assert.same({ "2026-11-21T10:00:00Z INFO granule queued id=G1 ok=true ratio=0.5 size=42" },
        lines)
    end)

    it("quotes values with spaces, quotes, equals signs or nothing", function()
      log.warn("w", { a = "x y", b = 'say "hi"', c = "k=v", d = "" })
      assert.same({ [[2026-11-21T10:00:00Z WARN w a="x y" b="say \"hi\"" c="k=v" d=""]] }, lines)
    end)

    it("keeps one record on one line", function()
      log.error("line one\nline two", { v = "a\nb" })
      assert.same({ [[2026-11-21T10:00:00Z ERROR line one\nline two v="a\nb"]] }, lines)
    end)

    it("writes tables as JSON and tostrings non-string messages", function()
      log.debug(404, { list = { 1, 2 }, obj = { b = 2, a = "x" } })
      assert.same({ [[2026-11-21T10:00:00Z DEBUG 404 list=[1,2] obj={"a":"x","b":2}]] }, lines)
    end)

    it("writes to stderr by default", function()
      log.reset()
      local real = io.stderr
      local written = {}
      -- io.stderr is read at each record, so a stand-in file object captures the default sink
      io.stderr = { write = function(_, ...) for _, s in ipairs({ ... }) do written[#written + 1] = s end end }
      local ok, err = pcall(log.error, "to stderr")
      io.stderr = real
      assert.is_true(ok, err)
      assert.equal(2, #written)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ ERROR to stderr$", written[1])
      assert.equal("\n", written[2])
    end)
  end)

  describe("JSON lines", function()
    it("writes ts, level, msg, then fields", function()
      capture({ format = "json" })
      log.info("done", { n = 3, name = "a\"b", nested = { x = { 1, "two" } }, f = 1.5, b = false })
      assert.same({ '{"ts":"2026-11-21T10:00:00Z","level":"info","msg":"done","b":false,'
        .. '"f":1.5,"n":3,"name":"a\\"b","nested":{"x":[1,"two"]}}' }, lines)
    end)

    it("escapes control characters", function()
      capture({ format = "json" })
      log.info("a\tb\1", {})
      assert.same({ '{"ts":"2026-11-21T10:00:00Z","level":"info","msg":"a\\tb\\u0001"}' }, lines)
    end)
  end)

  describe("levels", function()
    it("drops records below the level and still counts them", function()
      capture({ level = "warn" })
      log.debug("d")
      log.info("i")
      log.warn("w")
      log.error("e")
      log.error("e2")
      assert.same({ "2026-11-21T10:00:00Z WARN w", "2026-11-21T10:00:00Z ERROR e",
        "2026-11-21T10:00:00Z ERROR e2" }, lines)
      assert.same({ debug = 1, info = 1, warn = 1, error = 2 }, log.counts())
      assert.is_false(log.enabled("info"))
      assert.is_true(log.enabled("error"))
    end)

    it("counts() returns a copy and reset() clears it", function()
      log.info("x")
      local c = log.counts()
      c.info = 99
      assert.same({ debug = 0, info = 1, warn = 0, error = 0 }, log.counts())
      log.reset()
      assert.same({ debug = 0, info = 0, warn = 0, error = 0 }, log.counts())
    end)

    it("configure with false restores a default", function()
      capture({ level = "error" })
      log.configure({ level = false })
      log.info("back to the default level")
      log.debug("still below info")
      assert.same({ "2026-11-21T10:00:00Z INFO back to the default level" }, lines)
    end)
  end)

  describe("misuse", function()
    it("raises on bad configure options", function()
      assert.has_error(function() log.configure({ level = "loud" }) end,
        "log.configure: level must be one of debug, info, warn, error")
      assert.has_error(function() log.configure({ format = "xml" }) end,
        "log.configure: format must be one of text, json")
      assert.has_error(function() log.configure({ sink = 1 }) end,
        "log.configure: sink must be a function")
      assert.has_error(function() log.configure({ colour = true }) end,
        "log.configure: unknown option 'colour'")
      assert.has_error(function() log.configure("json") end,
        "bad argument #1 to 'log.configure' (table expected, got string)")
    end)

    it("raises when fields is not a table", function()
      assert.has_error(function() log.info("m", "k=v") end,
        "bad argument #2 to 'log.info' (table expected, got string)")
      assert.has_error(function() log.child("x") end,
        "bad argument #1 to 'log.child' (table expected, got string)")
      assert.has_error(function() log.enabled("trace") end, "log.enabled: unknown level 'trace'")
      assert.has_error(function() log.secret({}) end, "log.secret: expected a string, got table")
    end)
  end)

  describe("child loggers", function()
    it("carry fixed fields first; call fields override them", function()
      local s3 = log.child({ component = "s3", bucket = "b" })
      s3.info("put", { key = "k", bucket = "other" })
      s3:warn("slow", { ms = 900 })
      assert.same({
        "2026-11-21T10:00:00Z INFO put component=s3 bucket=other key=k",
        "2026-11-21T10:00:00Z WARN slow bucket=b component=s3 ms=900",
      }, lines)
    end)

    it("nest and share level, sink and counts", function()
      local a = log.child({ a = 1 })
      local b = a.child({ b = 2 })
      b.error("x")
      log.configure({ level = "error" })
      b.info("dropped")
      assert.same({ "2026-11-21T10:00:00Z ERROR x a=1 b=2" }, lines)
      assert.same({ debug = 0, info = 1, warn = 0, error = 1 }, log.counts())
    end)
  end)

  describe("redaction", function()
    local SECRET = "s3cr3t-Value/with+chars"

    local function all_output()
      return table.concat(lines, "\n")
    end

    local function emit_everywhere(logger)
      logger.info("token is " .. SECRET, {
        plain = SECRET,
        ["name-" .. SECRET] = 1,
        nested = { deeper = { SECRET, "prefix" .. SECRET .. "suffix" } },
        quoted = 'has "quotes" and ' .. SECRET,
      })
      logger.error(SECRET)
    end

    for _, fmtname in ipairs({ "text", "json" }) do
      it("never writes a registered secret (" .. fmtname .. ")", function()
        capture({ format = fmtname })
        assert.equal(SECRET, log.secret(SECRET))
        emit_everywhere(log)
        emit_everywhere(log.child({ component = SECRET }))
        assert.equal(4, #lines)
        assert.is_nil(all_output():find(SECRET, 1, true))
        assert.truthy(all_output():find("***", 1, true))
      end)
    end

    it("registers numbers and ignores nil, false and empty strings", function()
      assert.is_nil(log.secret(nil))
      assert.equal(false, log.secret(false))
      assert.equal("", log.secret(""))
      assert.equal(987654, log.secret(987654))
      log.info("pin 987654 here", { n = 987654 })
      assert.same({ "2026-11-21T10:00:00Z INFO pin *** here n=***" }, lines)
    end)

    it("masks the longest of overlapping secrets whole", function()
      log.secret("abc")
      log.secret("abcdef")
      log.info("x abcdef y abc")
      assert.same({ "2026-11-21T10:00:00Z INFO x *** y ***" }, lines)
    end)

    it("masks fields whose names look secret, case-insensitively", function()
      local names = { "Authorization", "x-amz-security-token", "AWS_SECRET_ACCESS_KEY", "password",
        "db_passwd", "api_key", "access_key", "SessionId", "signature", "Cookie", "edl_token" }
      for _, n in ipairs(names) do
        lines = {}
        log.info("m", { [n] = "v4lue" })
        assert.same({ "2026-11-21T10:00:00Z INFO m " .. n .. "=***" }, lines)
      end
      lines = {}
      log.info("m", { keyring = "visible", headers = { Authorization = "AWS4 x", Accept = "a" } })
      assert.same({ '2026-11-21T10:00:00Z INFO m headers={"Accept":"a","Authorization":"***"}'
        .. " keyring=visible" }, lines)
    end)

    it("leaves booleans of secret-named fields readable", function()
      log.info("m", { has_token = true })
      assert.same({ "2026-11-21T10:00:00Z INFO m has_token=true" }, lines)
    end)

    local MESSAGES = {
      { "GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Signature=deadbeef&x=1",
        "GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Signature=***&x=1" },
      { "sig Signature=abc123, SignedHeaders=host", "sig Signature=***, SignedHeaders=host" },
      { "X-Amz-Security-Token=FQoG/long+token&a=b", "X-Amz-Security-Token=***&a=b" },
      { "call with Bearer eyJhbGciOi.x.y failed", "call with Bearer *** failed" },
      { "Authorization: AWS4-HMAC-SHA256 Credential=AK/x, Signature=ff", "Authorization: ***" },
      { 'body {"password": "hunter2", "user": "u"}', 'body {"password": "***", "user": "u"}' },
      { 'login password="two words" ok', 'login password="***" ok' },
      { "url: https://x cookie: a=b", "url: https://x cookie: ***" },
      { "plain message with key=value", "plain message with key=value" },
    }
    for _, case in ipairs(MESSAGES) do
      it("masks credentials in messages: " .. case[1], function()
        log.info(case[1])
        assert.same({ "2026-11-21T10:00:00Z INFO " .. case[2] }, lines)
        assert.equal(case[2], log.redact(case[1]))
      end)
    end

    it("masks message patterns in string field values too", function()
      capture({ format = "json" })
      log.info("m", { url = "https://h/k?X-Amz-Signature=abc&y=2" })
      assert.same({ '{"ts":"2026-11-21T10:00:00Z","level":"info","msg":"m",'
        .. '"url":"https://h/k?X-Amz-Signature=***&y=2"}' }, lines)
    end)

    it("reset() forgets secrets", function()
      log.secret("forget-me")
      log.reset()
      capture()
      log.info("forget-me")
      assert.same({ "2026-11-21T10:00:00Z INFO forget-me" }, lines)
    end)
  end)

  describe("environment", function()
    -- The environment cannot be set from Lua, so these run a child gfhost.
    local paths = require("spec.support.paths")

    local function run(env, code)
      local dir = paths.tmpdir()
      local script = dir .. "/s.lua"
      local f = assert(io.open(script, "w"))
      f:write(code)
      f:close()
      local exe = require("gf.host.core").exe()
      local p = io.popen(("%s %s run %s 2>&1"):format(env, exe, script))
      local out = p:read("a")
      p:close()
      os.remove(script)
      os.remove(dir)
      return out
    end

    it("reads GFHOST_LOG_LEVEL and GFHOST_LOG_FORMAT at the first record", function()
      local code = 'local log = require("gf.log"); log.debug("d"); log.info("i")'
      local out = run("GFHOST_LOG_LEVEL=debug GFHOST_LOG_FORMAT=json", code)
      assert.matches('^{"ts":"[^"]+","level":"debug","msg":"d"}\n{"ts":"[^"]+","level":"info",'
        .. '"msg":"i"}\n$', out)
      out = run("GFHOST_LOG_LEVEL=error", code)
      assert.equal("", out)
    end)

    it("warns about a bad GFHOST_LOG_LEVEL and uses info", function()
      local out = run("GFHOST_LOG_LEVEL=loud",
        'local log = require("gf.log"); log.debug("d"); log.info("i")')
      assert.matches("^%S+ WARN GFHOST_LOG_LEVEL=loud is not one of debug, info, warn, error; "
        .. "using info\n%S+ INFO i\n$", out)
    end)
  end)
end)
