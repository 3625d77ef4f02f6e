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

describe("gf.flow SQS messages #unit", function()
  local message = require("gf.flow.message")
  local json = require("gf.json")

  it("round-trips a node message", function()
    local body = message.encode({ workflow = "example", run_id = "r1", node = "describe[CYVR]",
      item = { id = "CYVR", lat = 49.19 }, params = { out = "o" } })
    local m = message.decode(body)
    assert.same({ workflow = "example", run_id = "r1", node = "describe[CYVR]", params = { out = "o" },
      item = { id = "CYVR", lat = 49.19 }, has_item = true }, m)
    local doc = json.decode(body)
    assert.equal("gfhost.flow.node", doc.type)
    assert.equal(1, doc.version)
    local plain = message.decode(message.encode({ workflow = "w", run_id = "r", node = "a" }))
    assert.is_false(plain.has_item)
    assert.same({}, plain.params)
    assert.equal("x", message.decode('{"workflow":"w","run_id":"r","node":"t[1]","inputs":"x"}').item)
  end)

  it("rejects bad bodies with a clear message and code", function()
    local r = { message.decode("not json") }
    assert.equal(3, #r)
    assert.is_nil(r[1])
    assert.matches("^flow message: not JSON: json%.decode: ", r[2])
    assert.equal("parse", r[3])
    assert.same({ nil, "flow message: not a JSON object", "invalid_input" }, { message.decode("[1]") })
    assert.same({ nil, "flow message: field 'node' must be a non-empty string", "invalid_input" },
      { message.decode('{"workflow":"w","run_id":"r"}') })
    assert.same({ nil, "flow message: field 'run_id' must be a non-empty string", "invalid_input" },
      { message.decode('{"workflow":"w","run_id":"","node":"a"}') })
    assert.same({ nil, "flow message: field 'params' must be an object of strings", "invalid_input" },
      { message.decode('{"workflow":"w","run_id":"r","node":"a","params":{"n":1}}') })
    assert.same({ nil, "flow message: version 2 is not supported (this gfhost reads 1)", "invalid_input" },
      { message.decode('{"workflow":"w","run_id":"r","node":"a","version":2}') })
    assert.same({ nil, 'flow message: type "x" is not "gfhost.flow.node"', "invalid_input" },
      { message.decode('{"workflow":"w","run_id":"r","node":"a","type":"x"}') })
    assert.same({ nil, "flow message: body must be a string", "invalid_input" }, { message.decode(42) })
  end)

  it("raises on misuse when encoding", function()
    assert.has_error(function() message.encode("x") end)
    assert.has_error(function() message.encode({ workflow = "w", run_id = "r" }) end)
    assert.has_error(function() message.encode({ workflow = "w", run_id = "r", node = "a", params = { n = 1 } }) end)
  end)
end)

describe("gf.flow worker with a fake queue #unit", function()
  local message = require("gf.flow.message")
  local worker = require("gf.flow.worker")
  local silent = function() end
  local log = { info = silent, warn = silent, error = silent, debug = silent }

  -- A queue in memory: receive hands out each pending message once.
  local function fake_queue(bodies, st)
    local q = { pending = {}, deleted = {}, visibility = {}, state_at_delete = {} }
    for i, b in ipairs(bodies) do q.pending[i] = { id = "m" .. i, body = b, receipt = "rh" .. i } end
    function q.receive(_, _, opts)
      assert.equal(1, opts.max)
      local m = table.remove(q.pending, 1)
      return m and { m } or {}
    end
    function q.delete(_, _, m)
      local d = message.decode(m.body)
      q.state_at_delete[m.id] = st:get_node(d.run_id, d.node).status
      q.deleted[#q.deleted + 1] = m.id
      return true
    end
    function q.change_visibility(_, _, m, s)
      q.visibility[#q.visibility + 1] = { m.id, s }
      return true
    end
    return q
  end

  local function probe()
    local runs = {}
    local wf = flow.workflow("fake_probe")
    wf:task { name = "a", run = function() runs.a = (runs.a or 0) + 1 return "A" end }
    wf:task { name = "b", after = { "a" }, foreach = function() return { "x", "y" } end,
      key = function(v) return v end, retries = 1, backoff = 3,
      run = function(ctx, v)
        runs[v] = (runs[v] or 0) + 1
        if v == "y" then error("y breaks", 0) end
        return ctx.output.a .. v
      end }
    return wf, runs
  end

  local function msg(node, item)
    return message.encode({ workflow = "fake_probe", run_id = "r", node = node, item = item })
  end

  it("deletes a message only after its node's completion is recorded; failures stay queued", function()
    local st = store_mod.memory()
    local wf, runs = probe()
    local q = fake_queue({ msg("a"), msg("b[x]", "x"), msg("b[y]", "y"), "garbage", msg("a") }, st)
    local stats = worker.run({ client = q, queue = "q", store = st, concurrency = 1, wait = 0,
      max_messages = 5, log = log, load = function() return wf end })
    assert.same({ "m1", "m2", "m5" }, q.deleted)
    assert.same({ m1 = "completed", m2 = "completed", m5 = "completed" }, q.state_at_delete)
    assert.same({ { "m3", 3 } }, q.visibility) -- b[y] comes back after its backoff
    assert.same({ a = 1, x = 1, y = 1 }, runs) -- the duplicate of a did not run again
    assert.equal("AX", st:get_node("r", "b[x]").output:upper())
    local y = st:get_node("r", "b[y]")
    assert.same({ "failed", 1, "y breaks" }, { y.status, y.attempts, y.error })
    assert.same({ 5, 2, 1, 1, 1, 0 }, { stats.messages, stats.completed, stats.reused, stats.retried,
      stats.bad, stats.failed })
  end)

  it("leaves a node failed on its last attempt to the redrive policy and never reruns it", function()
    local st = store_mod.memory()
    local wf, runs = probe()
    assert(st:put_node("r", "a", { status = "completed", attempts = 1, output = "A" }))
    local q = fake_queue({ msg("b[y]", "y"), msg("b[y]", "y"), msg("b[y]", "y") }, st)
    local stats = worker.run({ client = q, queue = "q", store = st, concurrency = 1, wait = 0,
      max_messages = 3, log = log, load = function() return wf end })
    assert.same({}, q.deleted)
    assert.equal(2, runs.y) -- retries = 1: two attempts, then the third delivery is refused
    assert.same({ 1, 1, 1 }, { stats.retried, stats.failed, stats.exhausted })
    assert.equal(2, st:get_node("r", "b[y]").attempts)
  end)

  it("does not run a node whose lease another worker holds", function()
    local st = store_mod.memory()
    local wf, runs = probe()
    assert(st:put_node("r", "a", { status = "running", attempts = 1,
      output = { worker = "other", lease_until = os.time() + 30 } }))
    local q = fake_queue({ msg("a") }, st)
    local stats = worker.run({ client = q, queue = "q", store = st, concurrency = 1, wait = 0,
      max_messages = 1, log = log, load = function() return wf end, now = os.time })
    assert.is_nil(runs.a)
    assert.equal(1, stats.busy)
    assert.same({}, q.deleted)
    assert.equal("m1", q.visibility[1][1])
    assert.is_true(q.visibility[1][2] >= 30 and q.visibility[1][2] <= 32)
  end)
end)
