-- gfhost run replay against fauxqs (127.0.0.1:19001): DLQ -> main queue, attributes kept,
-- --max, --dry-run, the original's YAML keys, and nothing deleted when the send fails.
-- Run through: bash spec/support/servers.sh run ./build-NAME/gfhost spec spec/integration/replay_spec.lua
local servers = require("spec.support.servers")
local fs = require("gf.fs")
local paths = require("spec.support.paths")

local ENDPOINT = "http://127.0.0.1:19001"

local uid = servers.uid

describe("replay on fauxqs #integration", function()
  if servers.skip(_ENV) then return end
  local sqs = require("gf.sqs")
  local c, tmp

  setup(function()
    c = sqs.client({ endpoint = ENDPOINT, region = "us-east-1", credentials = { access_key = "test", secret_key = "test" } })
    tmp = paths.tmpdir()
  end)
  teardown(function() os.execute("rm -rf " .. tmp) end)

  local function run(argv)
    local q = {}
    for i, a in ipairs(argv) do q[i] = "'" .. a:gsub("'", "'\\''") .. "'" end
    local cmd = ("cd %s && env -u AWS_PROFILE AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_ENDPOINT_URL=%s "
      .. "AWS_DEFAULT_REGION=us-east-1 %s run replay %s > %s/out 2> %s/err")
      :format(paths.root, ENDPOINT, paths.gfhost, table.concat(q, " "), tmp, tmp)
    local _, _, code = os.execute(cmd)
    return code, fs.read(tmp .. "/out") or "", fs.read(tmp .. "/err") or ""
  end

  local function fill(url, n)
    local entries = {}
    for i = 1, n do entries[i] = { body = ('{"n":%d}'):format(i), attributes = { seq = i, kind = "backfill" } } end
    local r = assert(c:send_batch(url, entries))
    assert.equal(n, #r.successful)
  end

  local function drain(url)
    local got = {}
    while true do
      local ms = assert(c:receive(url, { max = 10, wait = 0 }))
      if #ms == 0 then break end
      for _, m in ipairs(ms) do got[#got + 1] = m end
      assert(c:delete_batch(url, ms))
    end
    return got
  end

  local function queues()
    local id = uid()
    return assert(c:create_queue("gf-replay-dlq-" .. id)), assert(c:create_queue("gf-replay-main-" .. id))
  end

  local function yaml_for(dlq, main)
    local y = tmp .. "/replay-" .. uid() .. ".yaml"
    assert(fs.write(y, ("dlq_url: %s\nsqs_url: %s\n"):format(dlq, main)))
    return y
  end

  it("moves every message with its attributes, from the original's YAML keys, and empties the DLQ", function()
    local dlq, main = queues()
    fill(dlq, 37)
    local code, out, err = run({ "--config", yaml_for(dlq, main), "--wait", "1", "--empty-polls", "2" })
    assert.equal(0, code, err)
    assert.equal("", out)
    assert.matches("Moved 37 messages from " .. dlq:gsub("%p", "%%%0") .. " to ", err)
    assert.matches("Send failures %(left in the DLQ%): 0\n", err)
    assert.matches("Stopped: 2 empty polls\n", err)
    local got = drain(main)
    assert.equal(37, #got)
    local seen = {}
    for _, m in ipairs(got) do
      local n = tonumber(m.body:match('{"n":(%d+)}'))
      assert.equal(tostring(n), m.message_attributes.seq.StringValue)
      assert.equal("Number", m.message_attributes.seq.DataType)
      assert.equal("backfill", m.message_attributes.kind.StringValue)
      assert.is_nil(seen[n])
      seen[n] = true
    end
    assert.same({}, drain(dlq))
  end)

  it("--max moves exactly that many and leaves the rest", function()
    local dlq, main = queues()
    fill(dlq, 25)
    local code, _, err = run({ "--dlq-url", dlq, "--sqs-url", main, "--max", "13", "--wait", "1", "--concurrency", "4" })
    assert.equal(0, code, err)
    assert.matches("Moved 13 messages", err)
    assert.matches("Stopped: %-%-max 13 reached\n", err)
    assert.equal(13, #drain(main))
    os.execute("sleep 0.2")
    assert.equal(12, #drain(dlq))
  end)

  it("--dry-run counts the messages, moves none, and leaves them visible", function()
    local dlq, main = queues()
    fill(dlq, 15)
    local code, _, err = run({ "--config", yaml_for(dlq, main), "--dry-run", "--wait", "1", "--empty-polls", "1" })
    assert.equal(0, code, err)
    assert.matches("Dry run: 15 messages would be moved from ", err)
    assert.same({}, drain(main))
    assert.equal(15, #drain(dlq))
  end)

  it("deletes nothing when the main queue does not accept the messages", function()
    local dlq = queues()
    fill(dlq, 5)
    local missing = dlq:gsub("gf%-replay%-dlq%-", "gf-replay-missing-")
    local code, _, err = run({ "--dlq-url", dlq, "--sqs-url", missing, "--wait", "1", "--visibility", "1",
      "--concurrency", "1" })
    assert.equal(1, code)
    assert.matches("Moved 0 messages", err)
    assert.matches("Send failures %(left in the DLQ%): 5\n", err)
    assert.matches("gfhost: replay: send to " .. missing:gsub("%p", "%%%0") .. ": ", err)
    os.execute("sleep 1.2")
    assert.equal(5, #drain(dlq))
  end)

  it("without dlq_url and sqs_url it prints the original's message and exits 2", function()
    local y = tmp .. "/partial.yaml"
    assert(fs.write(y, "aws_profile: x\ndlq_url: q\n"))
    local code, _, err = run({ "--config", y })
    assert.equal(2, code)
    assert.equal("gfhost: Error: Please include aws_profile, dlq_url, and sqs_url in the config (or give --dlq-url and --sqs-url)\n", err)
  end)
end)
