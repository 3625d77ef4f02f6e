-- The event loop and the task scheduler as a user meets them: descriptors watched by the loop,
-- cancellation raised once, shielded calls, the grace period after a signal, the stall detector.
local run = require("spec.support.run")
local files = require("spec.support.files")
local paths = require("spec.support.paths")
local task = require("gf.task")

local GFHOST = run.shquote(paths.gfhost)

--- Run `shell` (which may use $GFHOST and $SCRIPT) for a script; return code, stdout, stderr.
local function sh_script(source, shell)
  local p = run.script(source)
  local out, err = os.tmpname(), os.tmpname()
  local cmd = ("GFHOST=%s SCRIPT=%s; (%s) >%s 2>%s; echo $? >>%s"):format(GFHOST, p, shell,
    out, err, out)
  os.execute("bash -c " .. run.shquote(cmd))
  local o, e = files.read(out) or "", files.read(err) or ""
  os.remove(out)
  os.remove(err)
  os.remove(p)
  local code = tonumber(o:match("(%d+)%s*$"))
  return code, o:gsub("%d+%s*$", ""), e
end

describe("gfhost event loop #unit", function()
  it("waits for stdin through the loop while other tasks run", function()
    local code, out = sh_script([[
      local task, core = require("gf.task"), require("gf.task.core")
      local ticks = 0
      local t = task.spawn(function() while true do task.sleep(0.01); ticks = ticks + 1 end end)
      local ev = core.wait_fd(0, "r", 10)
      io.write(ev & 1, " ", io.read("l"), " ", tostring(ticks >= 10), "\n") -- 1: readable
      task.cancel(t)
    ]], [[(sleep 0.4; echo hello) | $GFHOST run $SCRIPT]])
    assert.equal(0, code)
    assert.equal("1 hello true\n", out)
  end)

  it("reads NDJSON and CSV from stdin through the loop while other tasks run", function()
    local code, out = sh_script([[
      local task, json, csv = require("gf.task"), require("gf.json"), require("gf.csv")
      local ticks = 0
      local t = task.spawn(function() while true do task.sleep(0.01); ticks = ticks + 1 end end)
      local got = {}
      for v, n in json.lines("-") do
        if v == "end" then break end
        got[#got + 1] = n .. "=" .. v.a
      end
      local rows = {}
      local r = csv.reader("-")
      for row in function() return r:read() end do rows[#rows + 1] = table.concat(row, "|") end
      io.write(table.concat(got, " "), " / ", table.concat(rows, " "), " ", tostring(ticks >= 20), "\n")
      task.cancel(t)
    ]], [[(echo '{"a":1}'; sleep 0.3; printf '{"a":2}\n"end"\nx,y\n'; sleep 0.3; echo 'z,w') | $GFHOST run $SCRIPT]])
    assert.equal(0, code)
    assert.equal("1=1 2=2 / x|y z|w true\n", out)
  end)

  it("times out a descriptor wait with nil, message, 'timeout'", function()
    local code, out = sh_script([[
      local core = require("gf.task.core")
      print(core.wait_fd(0, "r", 0.05))
    ]], [[sleep 2 | $GFHOST run $SCRIPT]])
    assert.equal(0, code)
    assert.equal("nil\ttimed out waiting for descriptor 0\ttimeout\n", out)
  end)

  it("reports a loop step longer than GFHOST_STALL_MS with what ran", function()
    local code, _, err = sh_script([[
      local task = require("gf.task")
      task.wait(task.spawn(function()
        local t0 = os.clock()
        while os.clock() - t0 < 0.15 do end
      end))
    ]], [[GFHOST_STALL_MS=50 $GFHOST run $SCRIPT]])
    assert.equal(0, code)
    assert.matches("WARN loop: stalled %d+ ms in task [^\n]*%.lua:2\n", err)
  end)

  it("is silent without GFHOST_STALL_MS", function()
    local code, _, err = sh_script([[
      local t0 = os.clock()
      while os.clock() - t0 < 0.1 do end
    ]], [[$GFHOST run $SCRIPT]])
    assert.equal(0, code)
    assert.equal("", err)
  end)
end)

describe("gf.task cancellation #unit", function()
  it("raises 'interrupted' once; clean-up after it may wait", function()
    local log = {}
    local t = task.spawn(function()
      local ok, err = pcall(task.sleep, 30)
      log[#log + 1] = ok and "slept" or tostring(err):match("interrupted")
      task.sleep(0.01) -- clean-up: waits again
      log[#log + 1] = "cleaned up"
    end)
    task.sleep(0.02)
    assert.is_true(task.cancel(t))
    local ok = task.wait(t)
    assert.is_true(ok)
    assert.same({ "interrupted", "cleaned up" }, log)
  end)

  it("lets a shielded call finish and raises the cancel at the next wait", function()
    local log = {}
    local t = task.spawn(function()
      local v = task.shield(function() task.sleep(0.05); return "done" end)
      log[#log + 1] = v
      local ok, err = pcall(task.sleep, 30)
      log[#log + 1] = ok and "slept" or tostring(err):match("interrupted")
    end)
    task.sleep(0.01)
    task.cancel(t)
    assert.is_true((task.wait(t)))
    assert.same({ "done", "interrupted" }, log)
  end)

  it("passes errors and results through shield", function()
    assert.same({ 1, 2 }, { task.shield(function(a, b) return a, b end, 1, 2) })
    local ok, err = pcall(task.shield, function() error("boom", 0) end)
    assert.is_false(ok)
    assert.equal("boom", err)
  end)

  it("does not report a cancelled task's 'interrupted' as a failure", function()
    local code, _, err = sh_script([[
      local task = require("gf.task")
      local t = task.spawn(function() task.sleep(30) end)
      task.sleep(0.01)
      task.cancel(t)
    ]], [[$GFHOST run $SCRIPT]])
    assert.equal(0, code)
    assert.equal("", err)
  end)
end)

describe("gfhost after SIGINT/SIGTERM #unit", function()
  local CLEANUP = [[
    local task, fs = require("gf.task"), require("gf.fs")
    local marker = os.getenv("MARKER")
    local guard <close> = setmetatable({}, { __close = function()
      fs.write(marker, "started")          -- a worker-pool job: clean-up may still wait
      task.sleep(tonumber(os.getenv("CLEANUP_S")))
      fs.write(marker, "finished")
    end })
    task.sleep(30)
  ]]

  local function signalled(cleanup_s, shell_after, env)
    local marker = os.tmpname()
    local code, _, err = sh_script(CLEANUP, ([[MARKER=%s CLEANUP_S=%s %s $GFHOST run $SCRIPT & pid=$!;
      sleep 0.4; kill -TERM $pid; %s wait $pid]]):format(marker, cleanup_s, env or "", shell_after))
    local m = files.read(marker)
    os.remove(marker)
    return code, m, err
  end

  it("lets <close> handlers wait within the grace period, then exits 130", function()
    local code, m, err = signalled("0.2", "")
    assert.equal(130, code)
    assert.equal("finished", m)
    assert.matches("gfhost: interrupted", err, 1, true)
  end)

  it("ends at once on a second signal", function()
    local code, m = signalled("30", "sleep 0.4; kill -TERM $pid;")
    assert.equal(130, code)
    assert.equal("started", m)
  end)

  it("ends clean-up that outlasts GFHOST_GRACE and says so", function()
    local code, m, err = signalled("30", "", "GFHOST_GRACE=0.5")
    assert.equal(130, code)
    assert.equal("started", m)
    assert.matches("still running after the grace period of 0.5 s", err, 1, true)
  end)
end)
