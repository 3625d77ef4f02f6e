-- The executable: commands, exit codes, error reporting.
local run = require("spec.support.run")

describe("gfhost executable #unit", function()
  it("prints usage for help and exits 0", function()
    local r = run.gfhost({ "help" })
    assert.equal(0, r.code)
    assert.matches("usage: gfhost <command>", r.stdout)
    assert.matches("run <name|path>", r.stdout)
  end)

  it("exits 2 with usage on stderr when no command is given", function()
    local r = run.gfhost({})
    assert.equal(2, r.code)
    assert.matches("usage: gfhost", r.stderr)
  end)

  it("exits 2 for an unknown command and names it", function()
    local r = run.gfhost({ "frobnicate" })
    assert.equal(2, r.code)
    assert.equal("gfhost: unknown command 'frobnicate' (see gfhost help)\n", r.stderr)
  end)

  it("exits 2 for an unknown script and names it", function()
    local r = run.gfhost({ "run", "no_such_script" })
    assert.equal(2, r.code)
    assert.matches("gfhost: unknown script 'no_such_script'", r.stderr, 1, true)
  end)

  it("exits 2 when run has no script", function()
    local r = run.gfhost({ "run" })
    assert.equal(2, r.code)
    assert.matches("missing script name", r.stderr)
  end)

  it("runs a script by path with its arguments as varargs", function()
    local p = run.script("local a, b = ...; io.write(a, '+', b, '\\n')")
    local r = run.gfhost({ "run", p, "x", "y z" })
    os.remove(p)
    assert.equal(0, r.code)
    assert.equal("x+y z\n", r.stdout)
  end)

  it("uses an integer returned by the main chunk as the exit status", function()
    local p = run.script("return 7")
    local r = run.gfhost({ "run", p })
    os.remove(p)
    assert.equal(7, r.code)
  end)

  it("exits 1 when the main chunk returns false", function()
    local p = run.script("return false")
    local r = run.gfhost({ "run", p })
    os.remove(p)
    assert.equal(1, r.code)
  end)

  it("reports a script bug with its traceback and exits 1", function()
    local p = run.script("local function f() error('kaboom') end\nf()\n")
    local r = run.gfhost({ "run", p })
    os.remove(p)
    assert.equal(1, r.code)
    assert.matches("^gfhost: .-kaboom", r.stderr)
    assert.matches("stack traceback:", r.stderr, 1, true)
  end)

  it("reports an expected failure (gf.host.fail) without traceback", function()
    local p = run.script("require('gf.host').fail('collection X not found', 3)")
    local r = run.gfhost({ "run", p })
    os.remove(p)
    assert.equal(3, r.code)
    assert.equal("gfhost: collection X not found\n", r.stderr)
  end)

  it("reports a syntax error in a script with exit 2", function()
    local p = run.script("local = 1")
    local r = run.gfhost({ "run", p })
    os.remove(p)
    assert.equal(2, r.code)
    assert.matches("^gfhost: .-:1: .-expected near", r.stderr)
  end)

  it("exits 130 on SIGTERM while a task waits, running <close> handlers", function()
    local marker = os.tmpname()
    local p = run.script(([[
      local task = require("gf.task")
      local guard <close> = setmetatable({}, { __close = function()
        local f = io.open(%q, "w"); f:write("closed"); f:close() end })
      task.sleep(30)
    ]]):format(marker))
    local t0 = os.time()
    local ok = os.execute(("(%s run %s 2>/dev/null & pid=$!; sleep 0.4; kill -TERM $pid; wait $pid; "
      .. "echo $? > %s.code)"):format(run.shquote(require("spec.support.paths").gfhost), p, marker))
    assert.truthy(ok)
    local f = assert(io.open(marker .. ".code"))
    local code = tonumber(f:read("l"))
    f:close()
    local g = assert(io.open(marker))
    local closed = g:read("a")
    g:close()
    os.remove(marker)
    os.remove(marker .. ".code")
    os.remove(p)
    assert.equal(130, code)
    assert.equal("closed", closed)
    assert.is_true(os.time() - t0 < 10)
  end)

  it("exits 130 on SIGINT during a busy Lua loop", function()
    local p = run.script("local x = 0 while true do x = x + 1 end")
    local out = os.tmpname()
    os.execute(("(%s run %s 2>%s & pid=$!; sleep 0.3; kill -INT $pid; wait $pid; echo $? >> %s)")
      :format(run.shquote(require("spec.support.paths").gfhost), p, out, out))
    local f = assert(io.open(out))
    local text = f:read("a")
    f:close()
    os.remove(out)
    os.remove(p)
    assert.matches("gfhost: interrupted", text, 1, true)
    assert.matches("130%s*$", text)
  end)

  it("lists scripts with their descriptions", function()
    local r = run.gfhost({ "list" })
    assert.equal(0, r.code)
    assert.matches("crank%s+%S", r.stdout)
  end)

  it("prints gfhost and library versions", function()
    local r = run.gfhost({ "version" })
    assert.equal(0, r.code)
    assert.matches("^gfhost %d+%.%d+%.%d+\n", r.stdout)
    assert.matches("Lua%s+Lua 5%.4", r.stdout)
    -- Each native core names the library it wraps (only those built into this host).
    for core, pattern in pairs({ ["gf.http.core"] = "libcurl%s+%d", ["gf.yaml.core"] = "libyaml%s+%d",
      ["gf.sqlite.core"] = "SQLite%s+%d", ["gf.aws.core"] = "OpenSSL.-OpenSSL 3",
      ["gf.raster.core"] = "GDAL%s+%d" }) do
      if pcall(require, core) then assert.matches(pattern, r.stdout) end
    end
  end)

  it("adds no globals", function()
    local p = run.script([[
      local known = {}
      for _, k in ipairs({ "_G", "_VERSION", "assert", "collectgarbage", "coroutine", "debug",
        "dofile", "error", "getmetatable", "io", "ipairs", "load", "loadfile", "math", "next",
        "os", "package", "pairs", "pcall", "print", "rawequal", "rawget", "rawlen", "rawset",
        "require", "select", "setmetatable", "string", "table", "tonumber", "tostring", "type",
        "utf8", "warn", "xpcall" }) do known[k] = true end
      require("gf.task"); require("gf.host")
      for k in pairs(_G) do if not known[k] then io.write(k, "\n") end end
    ]])
    local r = run.gfhost({ "run", p })
    os.remove(p)
    assert.equal(0, r.code)
    assert.equal("", r.stdout)
  end)
end)
