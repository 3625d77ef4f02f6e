describe("gf.args #unit", function()
  local args = require("gf.args")
  local log = require("gf.log")
  local mocker = require("spec.support.mocker")
  local paths = require("spec.support.paths")

  local tmp
  setup(function() tmp = paths.tmpdir() end)
  teardown(function() os.execute("rm -rf '" .. tmp .. "'") end)

  local files = require("spec.support.files")
  local function write(name, text) return files.write(tmp .. "/" .. name, text) end

  local function spec(extra)
    local s = {
      name = "backfill", description = "Backfill granules.", version = "1.2.3",
      options = {
        { name = "collection", type = "string", help = "collection short name" },
        { name = "page-size", type = "integer", default = 2000 },
        { name = "footprint", type = "choice", choices = { "on", "off", "force" }, default = "off" },
        { name = "preview", type = "boolean" },
        { name = "cycle", type = "integer", repeatable = true },
        { name = "config", type = "file", config = true, help = "YAML config" },
        { name = "token", type = "string", secret = true, env = "EDL_TOKEN" },
      },
    }
    for k, v in pairs(extra or {}) do s[k] = v end
    return s
  end

  -- The error a failed parse raises, as {message, exit}.
  local function failure(fn)
    local ok, e = pcall(fn)
    assert.is_false(ok, "expected the parse to fail")
    assert.equal("table", type(e), tostring(e))
    return { e.message, e.exit }
  end

  local function parse_fails(s, argv, ctx)
    return failure(function() args.parse(s, argv, ctx) end)
  end

  describe("types", function()
    local S = {
      name = "t", env_prefix = false,
      options = {
        { name = "s" }, { name = "i", type = "integer" }, { name = "n", type = "number" },
        { name = "b", type = "boolean" }, { name = "d", type = "duration" },
        { name = "l", type = "list" }, { name = "p", type = "path" },
        { name = "c", type = "choice", choices = { "x", "y" } },
      },
    }

    it("converts each type from the command line", function()
      local opts = args.parse(S, { "--s", "text", "--i", "-42", "--n", "2.5e3", "--b", "--d",
        "1h30m", "--l", " a, b ,,c ", "--p", "/no/such/file", "--c", "y" })
      assert.same({ s = "text", i = -42, n = 2500.0, b = true, d = 5400, l = { "a", "b", "c" },
        p = "/no/such/file", c = "y" }, opts)
      assert.equal("integer", math.type(opts.i))
    end)

    local DURATIONS = { { "90", 90 }, { "45s", 45 }, { "30m", 1800 }, { "24h", 86400 },
      { "7d", 604800 }, { "2w", 1209600 }, { "1h30m", 5400 }, { "1.5h", 5400 }, { "0", 0 } }
    for _, case in ipairs(DURATIONS) do
      it("reads duration " .. case[1], function()
        assert.equal(case[2], args.parse(S, { "--d=" .. case[1] }).d)
      end)
    end

    local BOOLS = { { "--b", true }, { "--no-b", false }, { "--b=false", false },
      { "--b=true", true }, { "--b=0", false }, { "--b=1", true }, { "--b=no", false },
      { "--b=YES", true }, { "--b=off", false } }
    for _, case in ipairs(BOOLS) do
      it("reads boolean " .. case[1], function()
        assert.equal(case[2], args.parse(S, { case[1] }).b)
      end)
    end

    it("leaves unset options nil and unset booleans false", function()
      assert.same({ b = false }, args.parse(S, {}))
    end)

    it("checks that a file option names a readable file", function()
      local S2 = { name = "t", options = { { name = "input", type = "file" } } }
      local path = write("in.txt", "x")
      assert.equal(path, args.parse(S2, { "--input", path }).input)
      assert.same({ "--input: cannot read '" .. tmp .. "/nope': No such file or directory", 2 },
        parse_fails(S2, { "--input", tmp .. "/nope" }))
    end)
  end)

  describe("spellings", function()
    it("accepts --page-size and --page_size for the same option", function()
      assert.equal(10, args.parse(spec(), { "--page-size", "10" }).page_size)
      assert.equal(11, args.parse(spec(), { "--page_size=11" }).page_size)
    end)

    it("accepts dashes for options declared with underscores", function()
      local S = { name = "t", options = { { name = "max_items", type = "integer" },
        { name = "dry_run", type = "boolean" } } }
      assert.same({ max_items = 3, dry_run = false }, args.parse(S, { "--max-items", "3",
        "--no-dry-run" }))
      assert.same({ max_items = 4, dry_run = true }, args.parse(S, { "--max_items=4", "--dry_run" }))
    end)

    it("takes short options", function()
      local S = { name = "t", options = { { name = "count", type = "integer", short = "n" },
        { name = "verbose", type = "boolean", short = "v" } } }
      assert.same({ count = 5, verbose = true }, args.parse(S, { "-n", "5", "-v" }))
      assert.same({ count = 6, verbose = false }, args.parse(S, { "-n6" }))
    end)
  end)

  describe("precedence", function()
    local function with_config(values)
      local text = "fake config"
      local path = write("cfg.yaml", text)
      return path, values
    end

    -- Each row: command line, environment, config file values, expected value and source.
    local ROWS = {
      { "page-size: default", {}, {}, {}, "page_size", 2000, "default" },
      { "page-size: config beats default", {}, {}, { ["page-size"] = 7 }, "page_size", 7, "config" },
      { "page-size: config key with _", {}, {}, { page_size = 8 }, "page_size", 8, "config" },
      { "page-size: env beats config", {}, { GF_BACKFILL_PAGE_SIZE = "5" }, { page_size = 7 },
        "page_size", 5, "env" },
      { "page-size: CLI beats env and config", { "--page-size", "3" },
        { GF_BACKFILL_PAGE_SIZE = "5" }, { page_size = 7 }, "page_size", 3, "cli" },
      { "page-size: explicit CLI 0 wins", { "--page-size=0" }, { GF_BACKFILL_PAGE_SIZE = "5" },
        { page_size = 7 }, "page_size", 0, "cli" },
      { "page-size: explicit env 0 wins over config", {}, { GF_BACKFILL_PAGE_SIZE = "0" },
        { page_size = 7 }, "page_size", 0, "env" },
      { "page-size: empty env is unset", {}, { GF_BACKFILL_PAGE_SIZE = "" }, { page_size = 7 },
        "page_size", 7, "config" },
      { "preview: config true", {}, {}, { preview = true }, "preview", true, "config" },
      { "preview: explicit --no-preview wins over config", { "--no-preview" }, {},
        { preview = true }, "preview", false, "cli" },
      { "preview: explicit --preview=false wins over env and config", { "--preview=false" },
        { GF_BACKFILL_PREVIEW = "true" }, { preview = true }, "preview", false, "cli" },
      { "preview: env false wins over config true", {}, { GF_BACKFILL_PREVIEW = "false" },
        { preview = true }, "preview", false, "env" },
      { "preview-on: config false wins over a true default", {}, {}, { ["preview-on"] = false },
        "preview_on", false, "config" },
      { "footprint: config string", {}, {}, { footprint = "force" }, "footprint", "force",
        "config" },
      { "cycle: CLI repeats", { "--cycle", "1", "--cycle=2" }, { GF_BACKFILL_CYCLE = "9" },
        { cycle = { 7 } }, "cycle", { 1, 2 }, "cli" },
      { "cycle: env comma list", {}, { GF_BACKFILL_CYCLE = "4, 5" }, { cycle = { 7 } }, "cycle",
        { 4, 5 }, "env" },
      { "cycle: config list", {}, {}, { cycle = { 7, 8 } }, "cycle", { 7, 8 }, "config" },
      { "cycle: config scalar", {}, {}, { cycle = 6 }, "cycle", { 6 }, "config" },
      { "cycle: none", {}, {}, {}, "cycle", {}, nil },
      { "token: explicit env name", {}, { EDL_TOKEN = "tok-env" }, { token = "tok-cfg" },
        "token", "tok-env", "env" },
    }

    for _, row in ipairs(ROWS) do
      it(row[1], function()
        local config = row[4]
        mocker.setup(finally, { modules = { { "gf.yaml", {
          load = function() return config end,
        } } } })
        local path = with_config(config)
        local s = spec()
        table.insert(s.options, { name = "preview-on", type = "boolean", default = true })
        local argv = { "--config", path }
        for _, a in ipairs(row[2]) do argv[#argv + 1] = a end
        local opts, info = args.parse(s, argv, { env = row[3] })
        assert.same(row[6], opts[row[5]])
        assert.equal(row[7], info.sources[row[5]])
        assert.same(config, info.config)
        assert.equal(path, info.config_path)
      end)
    end

    it("takes the config file path itself from the environment", function()
      local path = write("env.yaml", "x")
      mocker.setup(finally, { modules = { { "gf.yaml", { load = function(text)
        assert.equal("x", text)
        return { collection = "C1" }
      end } } } })
      local opts, info = args.parse(spec(), {}, { env = { GF_BACKFILL_CONFIG = path } })
      assert.equal("C1", opts.collection)
      assert.equal("env", info.sources.config)
    end)

    it("reads .json config files with gf.json", function()
      local path = write("c.json", '{"page_size": 12}')
      local fake = mocker.recorder({ decode = function() return { page_size = 12 } end })
      mocker.setup(finally, { modules = { { "gf.json", fake } } })
      assert.equal(12, args.parse(spec(), { "--config", path }).page_size)
      assert.same({ { fn = "decode", n = 1, '{"page_size": 12}' } }, fake.calls)
    end)
  end)

  describe("with the real gf.json and gf.time", function()
    local has_json = pcall(require, "gf.json")
    local has_time = pcall(require, "gf.time")

    it("reads a JSON config file; null means unset", function()
      if not has_json then return pending("gf.json is not in this build") end
      local path = write("real.json",
        '{"page_size": 0, "preview": true, "footprint": null, "cycle": [3, 4], "since": "2h"}')
      local opts, info = args.parse(spec({ options = {
        { name = "page-size", type = "integer", default = 2000 },
        { name = "preview", type = "boolean" },
        { name = "footprint", type = "choice", choices = { "on", "off" }, default = "off" },
        { name = "cycle", type = "integer", repeatable = true },
        { name = "since", type = "duration" },
        { name = "config", type = "file", config = true },
      } }), { "--config", path, "--no-preview" })
      assert.same({ page_size = 0, preview = false, footprint = "off", cycle = { 3, 4 },
        since = 7200, config = path }, opts)
      assert.same({ page_size = "config", preview = "cli", footprint = "default", cycle = "config",
        since = "config", config = "cli" }, info.sources)
    end)

    it("reports a JSON syntax error with its position", function()
      if not has_json then return pending("gf.json is not in this build") end
      local path = write("broken.json", '{"page_size": }')
      local e = parse_fails(spec(), { "--config", path })
      assert.equal(2, e[2])
      assert.matches("^%-%-config " .. path:gsub("%p", "%%%0") .. ": json%.decode: .*line 1", e[1])
    end)

    it("uses gf.time's duration syntax", function()
      if not has_time then return pending("gf.time is not in this build") end
      local S = { name = "d", options = { { name = "d", type = "duration" } } }
      assert.equal(0.25, args.parse(S, { "--d", "250ms" }).d)
      assert.equal(93784, args.parse(S, { "--d", "1d02h03m04s" }).d)
    end)
  end)

  describe("config file problems", function()
    it("reports a YAML parse error with the file", function()
      local path = write("bad.yaml", "a: [")
      mocker.setup(finally, { modules = { { "gf.yaml", {
        load = function() return nil, "line 1: did not find expected node", "parse" end,
      } } } })
      assert.same({ "--config " .. path .. ": line 1: did not find expected node", 2 },
        parse_fails(spec(), { "--config", path }))
    end)

    it("reports a decoder that raises", function()
      local path = write("raise.yaml", "a: [")
      mocker.setup(finally, { modules = { { "gf.yaml", {
        load = function() error("boom", 0) end,
      } } } })
      assert.same({ "--config " .. path .. ": boom", 2 }, parse_fails(spec(), { "--config", path }))
    end)

    it("needs a mapping", function()
      local path = write("list.yaml", "- 1")
      mocker.setup(finally, { modules = { { "gf.yaml", { load = function() return "x" end } } } })
      assert.same({ "--config " .. path .. ": expected a mapping of option values", 2 },
        parse_fails(spec(), { "--config", path }))
    end)

    it("names a bad value and the file it came from", function()
      local path = write("v.yaml", "x")
      mocker.setup(finally, { modules = { { "gf.yaml", {
        load = function() return { ["page-size"] = "lots" } end,
      } } } })
      assert.same({ "--page-size (in " .. path .. "): expected an integer, got 'lots'", 2 },
        parse_fails(spec(), { "--config", path }))
    end)

    it("rejects unknown keys only when strict_config is set", function()
      local path = write("k.yaml", "x")
      mocker.setup(finally, { modules = { { "gf.yaml", {
        load = function() return { collection = "C", colour = "red" } end,
      } } } })
      assert.equal("C", args.parse(spec(), { "--config", path }).collection)
      assert.same({ "--config " .. path .. ": unknown key 'colour'", 2 },
        parse_fails(spec({ strict_config = true }), { "--config", path }))
    end)

    it("reports an unreadable config file", function()
      assert.same({ "--config: cannot read '" .. tmp .. "/none.yaml': No such file or directory",
        2 }, parse_fails(spec(), { "--config", tmp .. "/none.yaml" }))
    end)
  end)

  describe("validation messages", function()
    local S = {
      name = "v", env_prefix = false,
      options = {
        { name = "collection", required = true, env = "COLL" },
        { name = "page-size", type = "integer" },
        { name = "ratio", type = "number" },
        { name = "preview", type = "boolean" },
        { name = "footprint", type = "choice", choices = { "on", "off", "force" } },
        { name = "since", type = "duration" },
        { name = "cycle", type = "integer", repeatable = true },
        { name = "input", positional = true, required = true },
      },
    }
    local ok_rest = { "--collection", "c", "in" }

    local function with(...)
      local argv = { ... }
      for _, a in ipairs(ok_rest) do argv[#argv + 1] = a end
      return argv
    end

    local CASES = {
      { with("--colection", "x"), "unknown option --colection (did you mean --collection?) (see --help)" },
      { with("--frobnicate"), "unknown option --frobnicate (see --help)" },
      { with("-z"), "unknown option -z (see --help)" },
      { with("--no-footprint"), "unknown option --no-footprint (see --help)" },
      { { "in" }, "missing required option --collection (or set COLL)" },
      { { "--collection", "c" }, "missing required argument <input>" },
      { with("--page-size", "ten"), "--page-size: expected an integer, got 'ten'" },
      { with("--page-size=1.5"), "--page-size: expected an integer, got '1.5'" },
      { with("--ratio", "x"), "--ratio: expected a number, got 'x'" },
      { with("--preview=maybe"), "--preview: expected true or false, got 'maybe'" },
      { with("--no-preview=1"), "--no-preview takes no value" },
      { with("--footprint", "sometimes"), "--footprint: 'sometimes' is not one of on, off, force" },
      { with("--since", "3 fortnights"), "--since: expected a duration such as 90, 30s, 15m, 24h or 7d, got '3 fortnights'" },
      { with("--cycle", "x"), "--cycle: expected an integer, got 'x'" },
      { with("--page-size"), "--page-size needs a value" },
      { { "in", "--collection", "c", "--page-size" }, "--page-size needs a value" },
      { with("--page-size", "--preview"), "--page-size needs a value" },
      { with("--page-size", "1", "--page_size", "2"), "--page-size given more than once" },
      { { "--collection", "c", "in", "extra" }, "unexpected argument 'extra'" },
    }
    for _, case in ipairs(CASES) do
      it(case[2], function()
        assert.same({ case[2], 2 }, parse_fails(S, case[1]))
      end)
    end

    it("names the environment variable a bad value came from", function()
      assert.same({ "--page-size (from GF_BACKFILL_PAGE_SIZE): expected an integer, got 'x'", 2 },
        parse_fails(spec(), {}, { env = { GF_BACKFILL_PAGE_SIZE = "x" } }))
    end)

    it("never echoes a secret value", function()
      local S2 = { name = "s", options = { { name = "pin", type = "integer", secret = true } } }
      assert.same({ "--pin: expected an integer, got '***'", 2 }, parse_fails(S2, { "--pin", "12a4" }))
    end)

    it("raises through gf.host.fail so the run exits 2", function()
      local host = require("gf.host")
      local ok, e = pcall(args.parse, S, { "--bogus" })
      assert.is_false(ok)
      local _, expected = pcall(host.fail, "unknown option --bogus (see --help)", 2)
      assert.same(expected, e)
      assert.equal("unknown option --bogus (see --help)", tostring(e))
    end)
  end)

  describe("argv as varargs", function()
    it("accepts args.parse(spec, ...) as well as args.parse(spec, { ... })", function()
      local S = { name = "v", options = { { name = "a" }, { name = "n", type = "integer" },
        { name = "rest", positional = true, repeatable = true } } }
      local function script(...) return args.parse(S, ...) end
      assert.same({ a = "x", n = 3, rest = { "p", "q" } }, script("--a", "x", "p", "--n=3", "q"))
      assert.same({ rest = {} }, script())
      -- exactly one argument (Lua passes nil for the missing ctx parameter)
      assert.same({ a = "y", rest = {} }, script("--a=y"))
      assert.same({ rest = { "p" } }, script("p"))
      assert.same({ rest = { "p", "q" } }, script("p", "q"))
    end)
  end)

  describe("positional arguments", function()
    local S = { name = "p", options = {
      { name = "source", positional = true, required = true },
      { name = "numbers", positional = true, type = "integer", repeatable = true },
      { name = "flag", type = "boolean" },
    } }

    it("fill in order, the last one repeating", function()
      assert.same({ source = "a", numbers = { 1, -2, 3 }, flag = true },
        args.parse(S, { "a", "1", "--flag", "-2", "3" }))
    end)

    it("take everything after --", function()
      assert.same({ source = "--flag", numbers = { 4 }, flag = false },
        args.parse(S, { "--", "--flag", "4" }))
    end)
  end)

  describe("--help and --version", function()
    it("print the usage on stdout and end with status 0", function()
      local out = {}
      local ok, e = pcall(args.parse, spec(), { "--page-size", "1", "--help" },
        { stdout = function(s) out[#out + 1] = s end })
      assert.is_false(ok)
      assert.same({ "", 0 }, { e.message, e.exit })
      assert.equal(1, #out)
      assert.equal(args.usage(spec()), out[1])
      local text = out[1]
      assert.matches("^usage: backfill %[options%]\n\nBackfill granules%.\n", text)
      assert.matches("\n  %-%-page%-size INTEGER +%[default 2000; env GF_BACKFILL_PAGE_SIZE%]\n", text)
      assert.matches("\n  %-%-footprint {on|off|force} +%[default off; env GF_BACKFILL_FOOTPRINT%]\n", text)
      assert.matches("\n  %-%-%[no%-%]preview +%[env GF_BACKFILL_PREVIEW%]\n", text)
      assert.matches("\n  %-%-cycle INTEGER +%[repeatable; env GF_BACKFILL_CYCLE%]\n", text)
      assert.matches("\n  %-%-token STRING +%[secret; env EDL_TOKEN%]\n", text)
      assert.matches("\n  %-%-config FILE +YAML config %[config file; env GF_BACKFILL_CONFIG%]\n", text)
      assert.matches("\n  %-h, %-%-help +show this help and exit\n", text)
    end)

    it("marks required options and positional arguments", function()
      local text = args.usage({ name = "x", env_prefix = false, options = {
        { name = "a", required = true, help = "the a" },
        { name = "files", positional = true, required = true, repeatable = true },
        { name = "key", secret = true, default = "do-not-show" },
      } })
      assert.matches("^usage: x %[options%] <files>%.%.%.\n", text)
      assert.matches("\n  %-%-a STRING +the a %[required%]\n", text)
      assert.matches("\n  <files>%.%.%. +%[required; repeatable%]\n", text)
      assert.is_nil(text:find("do-not-show", 1, true))
      assert.is_nil(text:find("env ", 1, true))
    end)

    it("--version prints name and version", function()
      local out = {}
      local ok, e = pcall(args.parse, spec(), { "--version" },
        { stdout = function(s) out[#out + 1] = s end })
      assert.is_false(ok)
      assert.same({ "", 0 }, { e.message, e.exit })
      assert.same({ "backfill 1.2.3\n" }, out)
    end)

    it("exits 0 with only the usage on stdout when run by the host", function()
      local dir = paths.tmpdir()
      local script = dir .. "/s.lua"
      local f = assert(io.open(script, "w"))
      f:write('require("gf.args").parse({ name = "s", options = { { name = "x" } } }, { ... })')
      f:close()
      local exe = require("gf.host.core").exe()
      local p = io.popen(("%s run %s --help 2>%s/err; echo \"rc=$?\""):format(exe, script, dir))
      local out = p:read("a")
      p:close()
      local ef = io.open(dir .. "/err")
      local err = ef:read("a")
      ef:close()
      os.execute("rm -rf '" .. dir .. "'")
      assert.matches("^usage: s %[options%]\n", out)
      assert.matches("\nrc=0\n$", out)
      assert.equal("", err)
    end)
  end)

  describe("secrets", function()
    after_each(function() log.reset() end)

    it("registers secret values with gf.log", function()
      local lines = {}
      log.configure({ sink = function(l) lines[#lines + 1] = l end })
      local opts = args.parse(spec(), { "--token", "tok-123456" })
      assert.equal("tok-123456", opts.token)
      log.info("using tok-123456", { t = opts.token })
      assert.is_nil(table.concat(lines, "\n"):find("tok-123456", 1, true))
      assert.equal("x *** y", log.redact("x tok-123456 y"))
    end)
  end)

  describe("misuse", function()
    local BAD = {
      { { name = "x", options = { { name = "a", typo = 1 } } }, "args: options[1]: unknown field 'typo'" },
      { { name = "x", options = { { name = "a", type = "float" } } }, "args: option 'a': unknown type 'float'" },
      { { name = "x", options = { { name = "a", type = "choice" } } }, "args: option 'a': a choice needs a non-empty choices list" },
      { { name = "x", options = { { name = "a" }, { name = "A" }, { name = "a" } } }, "args: option 'a' is declared twice" },
      { { name = "x", options = { { name = "page-size" }, { name = "page_size" } } }, "args: option 'page_size' is declared twice" },
      { { name = "x", options = { { name = "help" } } }, "args: option name 'help' is reserved" },
      { { name = "x", options = { { name = "n", type = "integer", default = "many" } } }, "args: option 'n': bad default: expected an integer, got 'many'" },
      { { name = "x", options = { { name = "1st" } } }, "args: options[1]: name must be a word such as 'page-size'" },
      { { options = {} }, "args: spec.name must be a string" },
      { { name = "x", colour = 1 }, "args: unknown spec field 'colour'" },
      { { name = "x", options = { { name = "a", config = true }, { name = "b", config = true } } }, "args: only one option may be the config file" },
      { { name = "x", options = { { name = "a", positional = true, repeatable = true }, { name = "b", positional = true } } }, "args: option 'a': only the last positional argument may repeat" },
    }
    for _, case in ipairs(BAD) do
      it("raises: " .. case[2], function()
        assert.has_error(function() args.parse(case[1], {}) end, case[2])
      end)
    end

    it("raises on wrong argument types", function()
      assert.has_error(function() args.parse("x", {}) end,
        "bad argument #1 to 'args.parse' (table expected, got string)")
      assert.has_error(function() args.parse({ name = "x" }, 5) end,
        "bad argument #2 to 'args.parse' (table expected, got number)")
      assert.has_error(function() args.parse({ name = "x" }, "--a", "b", 3) end,
        "bad argument #4 to 'args.parse' (string expected, got number)")
      assert.has_error(function() args.parse({ name = "x" }, { 1 }) end,
        "bad argument #2 to 'args.parse' (argv[1] is a number)")
      assert.has_error(function() args.parse({ name = "x" }, {}, 5) end,
        "bad argument #3 to 'args.parse' (table expected, got number)")
    end)
  end)
end)
