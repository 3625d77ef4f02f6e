-- gfhost worker + gfhost run --executor sqs against fauxqs (127.0.0.1:19001, SQS JSON protocol):
-- a DAG end to end, three workers with one SIGKILLed mid-node, the visibility heartbeat, SIGINT,
-- and bad messages left for the redrive policy.
local servers = require("spec.support.servers")
local fs = require("gf.fs")
local json = require("gf.json")
local paths = require("spec.support.paths")
local run = require("spec.support.run")

local ENDPOINT = "http://127.0.0.1:19001"

local probe = require("spec.support.flow_worker")
local WF = probe.workflow("worker_probe")
local sh, pause = probe.sh, probe.pause

describe("gfhost worker on fauxqs #integration", function()
  if servers.skip(_ENV) then return end
  local sqs = require("gf.sqs")
  local state = require("gf.state")
  local c, dir, wf, db, queue

  local ENV = ("env -u AWS_PROFILE AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "
    .. "AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL=%s "):format(ENDPOINT)

  before_each(function()
    c = sqs.client({ endpoint = ENDPOINT, region = "us-east-1",
      credentials = { access_key = "test", secret_key = "test" } })
    dir = paths.tmpdir()
    wf = dir .. "/worker_probe.lua"
    db = dir .. "/state.db"
    assert(fs.write(wf, WF))
    queue = assert(c:create_queue(("gf-flow-worker-%d%06d"):format(os.time(), math.random(0, 999999))))
  end)
  after_each(function()
    c:delete_queue(queue)
    fs.remove_tree(dir)
  end)

  -- Start a worker in the background; returns its pid and output prefix.
  local function start_worker(name, extra)
    local args = { "worker", "--queue", queue, "--state", db, "--wait", "1" }
    for _, a in ipairs(extra or {}) do args[#args + 1] = a end
    local q = {}
    for i, a in ipairs(args) do q[i] = run.shquote(a) end
    local out = dir .. "/" .. name
    assert(sh(("%s%s %s >%s.out 2>%s.err </dev/null & echo $! >%s.pid"):format(ENV,
      run.shquote(paths.gfhost), table.concat(q, " "), out, out, out)))
    return tonumber(fs.read(out .. ".pid")), out
  end

  local function wait_exit(pid, seconds)
    for _ = 1, seconds * 10 do
      if not sh(("kill -0 %d 2>/dev/null"):format(pid)) then return true end
      pause(0.1)
    end
    return false
  end

  local function coordinator(extra)
    local args = { "run", wf, "--executor", "sqs", "--queue", queue, "--state", db, "--run-id", "r",
      "--poll", "0.2", "--param", "dir=" .. dir }
    for _, a in ipairs(extra or {}) do args[#args + 1] = a end
    return run.gfhost(args, { env = { AWS_ACCESS_KEY_ID = "test", AWS_SECRET_ACCESS_KEY = "test",
      AWS_DEFAULT_REGION = "us-east-1", AWS_ENDPOINT_URL = ENDPOINT } })
  end

  local function lines(name) return probe.lines(dir, name) end

  local function count_by_line(name)
    local n = {}
    for _, l in ipairs(lines(name)) do n[l] = (n[l] or 0) + 1 end
    return n
  end

  local function states()
    local st = assert(state.open({ path = db }))
    local out = {}
    for _, r in ipairs(assert(st:list_nodes("r"))) do out[r.node] = r end
    st:close()
    return out
  end

  local function queue_count()
    local a = assert(c:get_attributes(queue, { "ApproximateNumberOfMessages",
      "ApproximateNumberOfMessagesNotVisible" }))
    return tonumber(a.ApproximateNumberOfMessages) + tonumber(a.ApproximateNumberOfMessagesNotVisible)
  end

  it("runs a DAG through the queue: same summary as the local executor, queue drained", function()
    local w1 = start_worker("w1", { "--idle-exit", "3", "--concurrency", "2" })
    local w2 = start_worker("w2", { "--idle-exit", "3", "--concurrency", "2" })
    local r = coordinator({ "--param", "n=6" })
    assert.equal(0, r.code, r.stderr)
    assert.matches("worker_probe r: 9 completed %(0 reused%), 0 failed, 0 skipped, 0 interrupted", r.stdout)
    local st = states()
    assert.equal("completed", st.items.status)
    assert.equal("i01=I01,i02=I02,i03=I03,i04=I04,i05=I05,i06=I06", st.join.output)
    assert.equal("completed", st.report.status)
    local eff = count_by_line("effects")
    for i = 1, 6 do assert.equal(1, eff[("work[i%02d]"):format(i)]) end
    assert.equal(1, eff["report 8"]) -- the final node saw the 8 other nodes
    assert.is_true(wait_exit(w1, 15))
    assert.is_true(wait_exit(w2, 15))
    assert.equal(0, queue_count())
    -- a second run reuses everything and sends only the final node
    local w3 = start_worker("w3", { "--idle-exit", "2" })
    local r2 = coordinator({ "--param", "n=6" })
    assert.equal(0, r2.code, r2.stderr)
    assert.matches("9 completed %(8 reused%)", r2.stdout)
    assert.is_true(wait_exit(w3, 15))
    assert.equal(1, count_by_line("effects")["work[i01]"])
  end)

  it("loses nothing and runs nothing twice when one of three workers is SIGKILLed mid-node", function()
    local victim = start_worker("victim", { "--visibility", "3", "--concurrency", "1" })
    local others = {}
    for i = 1, 2 do
      others[i] = start_worker("w" .. i, { "--visibility", "3", "--concurrency", "1", "--idle-exit", "6" })
    end
    local coord = dir .. "/coord"
    local args = { "run", wf, "--executor", "sqs", "--queue", queue, "--state", db, "--run-id", "r",
      "--poll", "0.2", "--param", "dir=" .. dir, "--param", "n=9", "--param", "sleep=1.5" }
    local q = {}
    for i, a in ipairs(args) do q[i] = run.shquote(a) end
    assert(sh(("(%s%s %s >%s.out 2>%s.err </dev/null; echo $? >%s.code) &"):format(ENV,
      run.shquote(paths.gfhost), table.concat(q, " "), coord, coord, coord)))
    -- wait until the victim is inside a work node, then kill it
    local killed_node
    for _ = 1, 300 do
      for _, l in ipairs(lines("starts")) do
        local pid, node = l:match("^(%d+) (.+)$")
        if tonumber(pid) == victim and node:match("^work") then killed_node = node end
      end
      if killed_node then break end
      pause(0.05)
    end
    assert.is_not_nil(killed_node, "the victim never started a work node")
    assert(sh(("kill -KILL %d"):format(victim)))
    for _ = 1, 600 do
      if fs.read(coord .. ".code") then break end
      pause(0.1)
    end
    assert.equal("0", (fs.read(coord .. ".code") or "timeout"):gsub("%s", ""), fs.read(coord .. ".err"))
    assert.matches("12 completed %(0 reused%), 0 failed", fs.read(coord .. ".out"))
    local st = states()
    local eff = count_by_line("effects")
    for i = 1, 9 do
      local id = ("work[i%02d]"):format(i)
      assert.equal("completed", st[id].status, id)
      assert.equal(1, eff[id], id .. " committed once")
    end
    -- the killed node was started twice (victim, then a survivor) but committed once
    local starts = 0
    for _, l in ipairs(lines("starts")) do
      if l:match(" (.+)$") == killed_node then starts = starts + 1 end
    end
    assert.equal(2, starts)
    assert.equal(2, st[killed_node].attempts)
    assert.equal("completed", st.report.status)
    for _, pid in ipairs(others) do assert.is_true(wait_exit(pid, 30)) end
    assert.equal(0, queue_count())
  end)

  it("heartbeats: a node slower than the visibility timeout is not redelivered", function()
    local w1 = start_worker("w1", { "--visibility", "2", "--idle-exit", "3", "--concurrency", "1" })
    local w2 = start_worker("w2", { "--visibility", "2", "--idle-exit", "3", "--concurrency", "1" })
    local r = coordinator({ "--param", "n=1", "--param", "sleep=6" })
    assert.equal(0, r.code, r.stderr)
    assert.is_true(wait_exit(w1, 20))
    assert.is_true(wait_exit(w2, 20))
    local n = 0
    for _, l in ipairs(lines("starts")) do if l:match("work%[i01%]$") then n = n + 1 end end
    assert.equal(1, n)
    for _, w in ipairs({ "w1", "w2" }) do
      local out = fs.read(dir .. "/" .. w .. ".out") or ""
      -- the message never came back while the node ran
      assert(out:find(" 0 busy,", 1, true), ("%s printed %q; stderr: %s"):format(w, out,
        fs.read(dir .. "/" .. w .. ".err") or ""))
    end
    assert.equal(1, states()["work[i01]"].attempts)
  end)

  it("on SIGTERM records the running node as interrupted, makes its message visible at once, exits 130", function()
    local st0 = assert(state.open({ path = db }))
    assert(st0:put_node("r", "items", { status = "completed", attempts = 1, output = { "i01" } }))
    st0:close()
    assert(c:send(queue, require("gf.flow.message").encode({ workflow = wf, run_id = "r",
      node = "work[i01]", item = "i01", params = { dir = dir, sleep = "30" } })))
    local pid, out = start_worker("w1", { "--visibility", "60", "--concurrency", "2" })
    for _ = 1, 200 do
      if #lines("starts") > 0 then break end
      pause(0.05)
    end
    pause(0.3)
    assert(sh(("kill -TERM %d"):format(pid)))
    assert.is_true(wait_exit(pid, 15))
    assert.matches("0 completed, .* 1 interrupted", fs.read(out .. ".out"))
    assert.matches("1 interrupted message%(s%) visible again", fs.read(out .. ".err"))
    local st = states()
    assert.equal("completed", st.items.status)
    assert.equal("interrupted", st["work[i01]"].status)
    -- released by the worker itself before it exited: no child process is left behind
    assert.is_falsy(sh("pgrep -f -- 'worker .*-[-]release' >/dev/null"))
    -- a one-second poll finds it: visible again long before its 60 s visibility timeout
    local got = assert(c:receive(queue, { wait = 1, max = 10 }))
    assert.equal(1, #got)
    assert.equal("work[i01]", json.decode(got[1].body).node)
  end)

  it("leaves bad messages for the redrive policy and runs nothing for them", function()
    assert(c:send(queue, "this is not json"))
    assert(c:send(queue, json.encode({ workflow = wf, run_id = "r" })))
    assert(c:send(queue, require("gf.flow.message").encode({ workflow = wf, run_id = "r",
      node = "nope", params = { dir = dir } })))
    local pid, out = start_worker("w1", { "--visibility", "1", "--max-messages", "3",
      "--concurrency", "3" })
    assert.is_true(wait_exit(pid, 20))
    assert.matches("worker: 3 messages: 0 completed, .* 3 bad", fs.read(out .. ".out"))
    local err = fs.read(out .. ".err")
    assert.matches("flow message: not JSON", err)
    assert.matches("field 'node' must be a non%-empty string", err)
    assert.matches("no such node", err)
    assert.same({}, states())
    pause(1.2)
    assert.equal(3, queue_count()) -- all three still there, for the redrive policy
  end)
end)
