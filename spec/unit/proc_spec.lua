-- gf.proc: child processes whose pipes and exit the loop watches.
local proc = require("gf.proc")
local task = require("gf.task")

describe("gf.proc #unit", function()
  it("runs a command with stdin, and returns its exit code and both outputs", function()
    local r = assert(proc.run({ "sh", "-c", "cat; echo oops >&2; exit 3" }, { stdin = "in\0put\n" }))
    assert.same({ code = 3, signal = 0, stdout = "in\0put\n", stderr = "oops\n" }, r)
  end)

  it("runs a string through /bin/sh -c", function()
    local r = assert(proc.run("printf '%s-%s' a b"))
    assert.equal("a-b", r.stdout)
    assert.equal(0, r.code)
  end)

  it("keeps the loop running while the child works", function()
    local ticks = 0
    local t = task.spawn(function()
      for _ = 1, 10 do task.sleep(0.01); ticks = ticks + 1 end
    end)
    local r = assert(proc.run({ "sh", "-c", "sleep 0.3; echo done" }))
    assert.equal("done\n", r.stdout)
    assert.equal(10, ticks)
    task.wait(t)
  end)

  it("moves more than a pipe's capacity both ways", function()
    local big = string.rep("0123456789abcdef", 262144) -- 4 MiB
    local r = assert(proc.run({ "cat" }, { stdin = big }))
    assert.equal(#big, #r.stdout)
    assert.is_true(r.stdout == big)
  end)

  it("kills a child past its timeout", function()
    assert.same({ nil, "proc.run sleep 10: timed out after 0.1 s", "timeout" },
      { proc.run("sleep 10", { timeout = 0.1 }) })
  end)

  it("kills a child past max_output", function()
    local r = { proc.run({ "head", "-c", "100000", "/dev/zero" }, { max_output = 1000 }) }
    assert.is_nil(r[1])
    assert.equal("io", r[3])
    assert.matches("output past 1000 bytes", r[2], 1, true)
  end)

  it("reports a program that does not exist", function()
    assert.same({ nil, "proc.spawn: cannot run /no/such/prog: No such file or directory",
      "not_found" }, { proc.run({ "/no/such/prog" }) })
  end)

  it("reports death by a signal as 128 + N", function()
    local r = assert(proc.run({ "sh", "-c", "kill -TERM $$" }))
    assert.equal(143, r.code)
    assert.equal(15, r.signal)
  end)

  it("refuses a bad command", function()
    assert.has_error(function() proc.run({}) end,
      "gf.proc: command must be a string or a non-empty list of strings")
    assert.has_error(function() proc.run(42) end,
      "gf.proc: command must be a string or a non-empty list of strings")
  end)
end)
