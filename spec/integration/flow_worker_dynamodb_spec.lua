-- gfhost worker + gfhost run --executor sqs with the node state in DynamoDB (dynalite,
-- 127.0.0.1:19002) and the queue on fauxqs (127.0.0.1:19001): three workers, one SIGKILLed
-- mid-node, every node completed exactly once; the lease is the DynamoDB backend's conditional
-- UpdateItem (--state dynamodb://TABLE?create=1, endpoint from AWS_ENDPOINT_URL_DYNAMODB).
local servers = require("spec.support.servers")
local fs = require("gf.fs")
local paths = require("spec.support.paths")
local run = require("spec.support.run")

local SQS = "http://127.0.0.1:19001"
local DDB = "http://127.0.0.1:19002"

local probe = require("spec.support.flow_worker")
local WF = probe.workflow("ddb_probe")
local sh, pause = probe.sh, probe.pause

describe("gfhost worker with DynamoDB state #integration", function()
  if servers.skip(_ENV) then return end
  local sqs = require("gf.sqs")
  local state = require("gf.state")
  local dynamodb = require("gf.state.dynamodb")
  local ddb = require("gf.awsjson").client({ service = "dynamodb", endpoint = DDB,
    region = "us-east-1", credentials = { access_key = "test", secret_key = "test" } })
  local c, dir, wf, queue, tbl, spec

  local ENV = ("env -u AWS_PROFILE -u AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID=test "
    .. "AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL_SQS=%s "
    .. "AWS_ENDPOINT_URL_DYNAMODB=%s "):format(SQS, DDB)

  before_each(function()
    c = sqs.client({ endpoint = SQS, region = "us-east-1",
      credentials = { access_key = "test", secret_key = "test" } })
    dir = paths.tmpdir()
    wf = dir .. "/ddb_probe.lua"
    assert(fs.write(wf, WF))
    local suffix = ("%d%06d"):format(os.time(), math.random(0, 999999))
    queue = assert(c:create_queue("gf-flow-ddb-" .. suffix))
    tbl = "gf-flow-ddb-" .. suffix
    spec = ("dynamodb://%s?create=1"):format(tbl)
  end)
  after_each(function()
    c:delete_queue(queue)
    dynamodb.delete_table(ddb, tbl)
    fs.remove_tree(dir)
  end)

  local function start(name, args)
    local q = {}
    for i, a in ipairs(args) do q[i] = run.shquote(a) end
    local out = dir .. "/" .. name
    assert(sh(("(%s%s %s >%s.out 2>%s.err </dev/null; echo $? >%s.code) & echo $! >%s.pid"):format(
      ENV, run.shquote(paths.gfhost), table.concat(q, " "), out, out, out, out)))
    return out
  end

  local function start_worker(name, extra)
    local args = { "worker", "--queue", queue, "--state", spec, "--wait", "1" }
    for _, a in ipairs(extra) do args[#args + 1] = a end
    local out = start(name, args)
    -- the pid of the gfhost process itself (the subshell's child)
    local pid
    for _ = 1, 100 do
      local f = io.popen(("pgrep -P %d"):format(tonumber(fs.read(out .. ".pid"))))
      pid = tonumber(f:read("l") or "")
      f:close()
      if pid then break end
      pause(0.02)
    end
    return assert(pid, "worker did not start"), out
  end

  local function wait_code(out, seconds)
    for _ = 1, seconds * 10 do
      local code = fs.read(out .. ".code")
      if code then return (code:gsub("%s", "")) end
      pause(0.1)
    end
    return "timeout"
  end

  local function lines(name) return probe.lines(dir, name) end

  it("loses nothing and commits nothing twice when one of three workers is SIGKILLed mid-node", function()
    -- the table exists before the workers race to create it
    local st = assert(state.open({ backend = "dynamodb", table = tbl, endpoint = DDB,
      region = "us-east-1", credentials = { access_key = "test", secret_key = "test" },
      create = true }))
    local victim = start_worker("victim", { "--visibility", "3", "--concurrency", "1" })
    local others = {}
    for i = 1, 2 do
      local _, out = start_worker("w" .. i, { "--visibility", "3", "--concurrency", "1",
        "--idle-exit", "6" })
      others[i] = out
    end
    local coord = start("coord", { "run", wf, "--executor", "sqs", "--queue", queue, "--state", spec,
      "--run-id", "r", "--poll", "0.2", "--param", "dir=" .. dir, "--param", "n=9",
      "--param", "sleep=1.5" })
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
    assert.equal("0", wait_code(coord, 90), fs.read(coord .. ".err"))
    assert.matches("ddb_probe r: 12 completed %(0 reused%), 0 failed", fs.read(coord .. ".out"))
    local recs = {}
    for _, r in ipairs(assert(st:list_nodes("r"))) do recs[r.node] = r end
    local eff = {}
    for _, l in ipairs(lines("effects")) do eff[l] = (eff[l] or 0) + 1 end
    for i = 1, 9 do
      local id = ("work[i%02d]"):format(i)
      assert.equal("completed", recs[id].status, id)
      assert.equal(id:match("%[(.*)%]"):upper(), recs[id].output)
      assert.equal(1, eff[id], id .. " committed once")
    end
    assert.equal("i01=I01,i02=I02,i03=I03,i04=I04,i05=I05,i06=I06,i07=I07,i08=I08,i09=I09",
      recs.join.output)
    assert.equal(1, eff["report 11"])
    local starts = 0
    for _, l in ipairs(lines("starts")) do
      if l:match(" (.+)$") == killed_node then starts = starts + 1 end
    end
    assert.equal(2, starts) -- the victim, then a survivor after the lease ran out
    assert.equal(2, recs[killed_node].attempts)
    for _, out in ipairs(others) do assert.equal("0", wait_code(out, 30), fs.read(out .. ".err")) end
    local a = assert(c:get_attributes(queue, { "ApproximateNumberOfMessages",
      "ApproximateNumberOfMessagesNotVisible" }))
    assert.equal(0, tonumber(a.ApproximateNumberOfMessages) + tonumber(a.ApproximateNumberOfMessagesNotVisible))
    st:close()
  end)
end)
