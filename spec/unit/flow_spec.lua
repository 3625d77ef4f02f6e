-- gf.flow definitions and the local executor (memory store).
local flow = require("gf.flow")
local runner = require("gf.flow.runner")
local store_mod = require("gf.flow.store")
local task = require("gf.task")

local function run(wf, opts)
  opts = opts or {}
  opts.progress = false
  opts.sleep = opts.sleep or function() end
  local silent = function() end
  opts.log = { info = silent, warn = silent, error = silent }
  return runner.run(wf, opts)
end

describe("gf.flow definitions #unit", function()
  it("rejects duplicate task names with file and line", function()
    local wf = flow.workflow("dup")
    wf:task { name = "a", run = function() end }
    local ok, err = pcall(function() wf:task { name = "a", run = function() end } end)
    assert.is_false(ok)
    assert.matches("flow_spec%.lua:%d+: duplicate task name 'a' %(first defined at .-flow_spec%.lua:%d+%)", err)
  end)

  it("rejects unknown dependencies naming the task's line", function()
    local wf = flow.workflow("unknown")
    wf:task { name = "a", after = { "nope" }, run = function() end }
    local ok, err = pcall(wf.validate, wf)
    assert.is_false(ok)
    assert.matches("flow_spec%.lua:%d+: task 'a' depends on unknown task 'nope'", err)
  end)

  it("rejects cycles and lists the tasks on them", function()
    local wf = flow.workflow("cycle")
    wf:task { name = "a", after = { "c" }, run = function() end }
    wf:task { name = "b", after = { "a" }, run = function() end }
    wf:task { name = "c", after = { "b" }, run = function() end }
    wf:task { name = "free", run = function() end }
    local ok, err = pcall(wf.validate, wf)
    assert.is_false(ok)
    assert.matches("has a cycle among tasks: a, b, c", err)
  end)

  it("rejects bad fields", function()
    local wf = flow.workflow("bad")
    assert.has_error(function() wf:task { name = "x" } end)
    assert.has_error(function() wf:task { name = "x y", run = print } end)
    assert.has_error(function() wf:task { name = "x", run = print, retries = -1 } end)
    assert.has_error(function() wf:task { name = "x", run = print, colour = "red" } end)
    assert.has_error(function() wf:final { name = "f", run = print, after = { "x" } } end)
    assert.has_error(function() flow.workflow("no spaces allowed") end)
  end)
end)

describe("gf.flow local executor #unit", function()
  it("runs tasks in dependency order and passes outputs downstream", function()
    local order = {}
    local wf = flow.workflow("order")
    wf:task { name = "c", after = { "a", "b" }, run = function(ctx)
      order[#order + 1] = "c"
      return ctx.output.a + ctx.output.b
    end }
    wf:task { name = "a", run = function() order[#order + 1] = "a" task.sleep(0.02) return 1 end }
    wf:task { name = "b", run = function() order[#order + 1] = "b" return 2 end }
    local s = run(wf)
    assert.is_true(s.ok)
    assert.equal("c", order[3])
    assert.equal(3, s.nodes.c.output)
    assert.equal(3, s.completed)
  end)

  it("fans out one node per item and gives downstream a key -> output table", function()
    local wf = flow.workflow("fan")
    wf:task { name = "list", run = function() return { "x.tif", "y.tif", "z.tif" } end }
    wf:task { name = "convert", after = { "list" },
      foreach = function(ctx) return ctx.output.list end,
      key = function(item) return item end,
      run = function(_, item) return item:upper() end }
    local seen
    wf:task { name = "report", after = { "convert" }, run = function(ctx) seen = ctx.output.convert end }
    local s = run(wf)
    assert.is_true(s.ok)
    assert.same({ ["x.tif"] = "X.TIF", ["y.tif"] = "Y.TIF", ["z.tif"] = "Z.TIF" }, seen)
    assert.equal("completed", s.nodes["convert[y.tif]"].status)
    assert.equal(5, s.completed)
  end)

  it("retries a failing node with backoff, then records the attempts", function()
    local calls, sleeps = 0, {}
    local wf = flow.workflow("retry")
    wf:task { name = "flaky", retries = 3, backoff = 0.5, run = function()
      calls = calls + 1
      if calls < 3 then error("transient " .. calls) end
      return "ok"
    end }
    local s = run(wf, { sleep = function(d) sleeps[#sleeps + 1] = d end })
    assert.is_true(s.ok)
    assert.equal(3, calls)
    assert.same({ 0.5, 1.0 }, sleeps)
    assert.equal(3, s.nodes.flaky.attempts)
  end)

  it("marks a node failed after its last retry and skips what depends on it", function()
    local wf = flow.workflow("fail")
    wf:task { name = "bad", retries = 1, run = function() error("disk full") end }
    wf:task { name = "good", run = function() return 1 end }
    wf:task { name = "after_bad", after = { "bad" }, run = function() error("must not run") end }
    local s = run(wf)
    assert.is_false(s.ok)
    assert.equal("failed", s.nodes.bad.status)
    assert.matches("disk full", s.nodes.bad.error)
    assert.equal(2, s.nodes.bad.attempts)
    assert.equal("skipped", s.nodes.after_bad.status)
    assert.equal(1, s.failed)
    assert.equal(1, s.skipped)
  end)

  it("times out a node that takes too long", function()
    local wf = flow.workflow("slow")
    wf:task { name = "slow", timeout = 0.05, run = function() task.sleep(5) end }
    local s = run(wf)
    assert.equal("failed", s.nodes.slow.status)
    assert.matches("timed out after 0.05 s", s.nodes.slow.error)
  end)

  it("always runs the final node with every node's outcome", function()
    local got
    local wf = flow.workflow("final")
    wf:task { name = "ok", run = function() return 1 end }
    wf:task { name = "bad", run = function() error("nope") end }
    wf:task { name = "child", after = { "bad" }, run = function() end }
    wf:final { name = "report", run = function(_, outcomes) got = outcomes end }
    local s = run(wf)
    assert.equal("completed", got.ok.status)
    assert.equal("failed", got.bad.status)
    assert.equal("skipped", got.child.status)
    assert.equal("completed", s.nodes.report.status)
  end)

  it("resumes: a second run skips completed nodes and keeps failed ones unless asked", function()
    local st = store_mod.memory()
    local runs = { a = 0, b = 0 }
    local b_fails = true
    local wf = flow.workflow("resume")
    wf:task { name = "a", run = function() runs.a = runs.a + 1 return "A" end }
    wf:task { name = "b", after = { "a" }, run = function(ctx)
      runs.b = runs.b + 1
      if b_fails then error("broken") end
      return ctx.output.a .. "B"
    end }
    local s1 = run(wf, { store = st, run_id = "r1" })
    assert.is_false(s1.ok)
    local s2 = run(wf, { store = st, run_id = "r1" })
    assert.is_false(s2.ok)
    assert.same({ a = 1, b = 1 }, runs) -- nothing ran again
    b_fails = false
    local s3 = run(wf, { store = st, run_id = "r1", rerun_failed = true })
    assert.is_true(s3.ok)
    assert.same({ a = 1, b = 2 }, runs) -- only the failed node reran, with a's recorded output
    assert.equal("AB", s3.nodes.b.output)
    assert.equal(1, s3.reused)
  end)

  it("limits how many nodes run at once", function()
    local running, peak = 0, 0
    local wf = flow.workflow("limit")
    wf:task { name = "many", foreach = function() return { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 } end,
      run = function()
        running = running + 1
        peak = math.max(peak, running)
        task.sleep(0.01)
        running = running - 1
      end }
    local s = run(wf, { concurrency = 3 })
    assert.is_true(s.ok)
    assert.equal(3, peak)
  end)

  it("derives a stable run id from the parameters", function()
    local wf = flow.workflow("ids")
    assert.equal(runner.default_run_id(wf, { b = 2, a = 1 }), runner.default_run_id(wf, { a = 1, b = 2 }))
    assert.not_equal(runner.default_run_id(wf, { a = 1 }), runner.default_run_id(wf, { a = 2 }))
    assert.equal("ids", runner.default_run_id(wf, {}))
  end)
end)
