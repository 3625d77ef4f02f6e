-- gf.task: the scheduler seen from Lua (these specs run inside the host's main task).
local task = require("gf.task")
local function wall()
  -- os.time has 1 s resolution; use the loop-independent clock from /proc/uptime.
  local f = io.open("/proc/uptime")
  local s = f:read("n")
  f:close()
  return s
end

describe("gf.task #unit", function()
  it("runs the spec itself inside a task", function()
    assert.is_not_nil(task.current())
  end)

  it("spawn + wait returns the task's results", function()
    local t = task.spawn(function(a, b) return a + b, "x" end, 2, 3)
    assert.same({ true, 5, "x" }, { task.wait(t) })
  end)

  it("wait returns false and the error of a failed task", function()
    local t = task.spawn(function() error("bad thing") end)
    local ok, err = task.wait(t)
    assert.is_false(ok)
    assert.matches("bad thing", err)
  end)

  it("sleeping tasks overlap instead of running one after another", function()
    local t0 = wall()
    local res = task.map({ 1, 2, 3, 4, 5, 6, 7, 8 }, function(x)
      task.sleep(0.3)
      return x * 2
    end, { concurrency = 8 })
    local elapsed = wall() - t0
    assert.same({ 2, 4, 6, 8, 10, 12, 14, 16 }, res)
    assert.is_true(elapsed < 1.5, "8 sleeps of 0.3 s took " .. elapsed .. " s")
  end)

  it("map keeps results in input order and collects every failure", function()
    local res, fails = task.map({ 5, 1, 4, 2, 3 }, function(x, i)
      task.sleep(x * 0.01)
      if x % 2 == 0 then error("even " .. x) end
      return x * 10 + i
    end, { concurrency = 3 })
    assert.equal(51, res[1])
    assert.equal(12, res[2])
    assert.is_nil(res[3])
    assert.is_nil(res[4])
    assert.equal(35, res[5])
    assert.equal(2, #fails)
    assert.equal(3, fails[1].index)
    assert.equal(4, fails[1].item)
    assert.matches("even 4", fails[1].error)
    assert.equal(4, fails[2].index)
    assert.matches("even 2", fails[2].error)
  end)

  it("map respects the concurrency limit", function()
    local running, peak = 0, 0
    task.map({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, function()
      running = running + 1
      peak = math.max(peak, running)
      task.sleep(0.01)
      running = running - 1
    end, { concurrency = 3 })
    assert.equal(3, peak)
  end)

  it("map over an empty list returns empty results", function()
    local res, fails = task.map({}, function() error("never") end)
    assert.same({}, res)
    assert.same({}, fails)
  end)

  it("raises on misuse", function()
    assert.has_error(function() task.spawn(42) end)
    assert.has_error(function() task.map({}, 1) end)
    assert.has_error(function() task.map({ 1 }, function() end, { concurrency = 0 }) end)
    assert.has_error(function() task.sleep(-1) end)
    assert.has_error(function() task.sleep("soon") end)
    assert.has_error(function() task.wait({}) end)
    assert.has_error(function() task.channel(0) end)
  end)

  it("channels pass values in order with back-pressure", function()
    local ch = task.channel(2)
    local sent = 0
    local producer = task.spawn(function()
      for i = 1, 10 do
        ch:send(i)
        sent = i
      end
      ch:close()
    end)
    task.sleep(0.01)
    assert.is_true(sent <= 3, "producer ran ahead of a full channel: " .. sent)
    local got = {}
    while true do
      local v = ch:recv()
      if v == nil then break end
      got[#got + 1] = v
    end
    assert.same({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, got)
    assert.is_true((task.wait(producer)))
  end)

  it("send on a closed channel raises", function()
    local ch = task.channel(1)
    ch:close()
    assert.has_error(function() ch:send(1) end)
    assert.is_nil(ch:recv())
  end)

  it("a semaphore bounds concurrent holders", function()
    local sem = task.semaphore(2)
    local inside, peak = 0, 0
    local ts = {}
    for i = 1, 6 do
      ts[i] = task.spawn(function()
        sem:acquire()
        inside = inside + 1
        peak = math.max(peak, inside)
        task.sleep(0.01)
        inside = inside - 1
        sem:release()
      end)
    end
    for _, t in ipairs(ts) do task.wait(t) end
    assert.equal(2, peak)
  end)

  it("yield lets other ready tasks run", function()
    local order = {}
    local t = task.spawn(function() order[#order + 1] = "other" end)
    order[#order + 1] = "before"
    task.yield()
    order[#order + 1] = "after"
    task.wait(t)
    assert.same({ "before", "other", "after" }, order)
  end)

  it("a plain coroutine inside a task can still sleep (drives the loop itself)", function()
    local co = coroutine.wrap(function()
      task.sleep(0.01)
      return "woke"
    end)
    assert.equal("woke", co())
  end)

  it("reports the worker pool size", function()
    assert.is_true(task.workers() >= 1)
  end)
end)

describe("gf.task cancel and timeout #unit", function()
  local function wall()
    local f = io.open("/proc/uptime")
    local s = f:read("n")
    f:close()
    return s
  end

  it("timeout stops a task that waits too long", function()
    local t0 = wall()
    local closed = false
    local r = { task.timeout(0.1, function()
      local guard <close> = setmetatable({}, { __close = function() closed = true end })
      task.sleep(10)
      return "late"
    end) }
    assert.same({ nil, "timed out after 0.1 s", "timeout" }, r)
    assert.is_true(closed)
    assert.is_true(wall() - t0 < 2)
  end)

  it("timeout returns the results of a task that finishes in time", function()
    assert.same({ true, 42 }, { task.timeout(5, function() task.sleep(0.01) return 42 end) })
  end)

  it("cancel makes a waiting task fail with 'interrupted'", function()
    local t = task.spawn(function() task.sleep(10) end)
    task.yield()
    assert.is_true(task.cancel(t))
    local ok, err = task.wait(t)
    assert.is_false(ok)
    assert.matches("interrupted", err)
    assert.is_false(task.cancel(t))
  end)
end)
