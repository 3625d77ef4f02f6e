-- gfhost run backfill publishing to SNS on fauxqs (127.0.0.1:19001), delivered into a subscribed
-- SQS queue: every message counted as sent arrives once, in the SNS envelope Cumulus reads, with
-- the same body as the --message_file copy. The CMR is spec/support/cmr_server.py.
local servers = require("spec.support.servers")
local json = require("gf.json")
local paths = require("spec.support.paths")
local cmr = require("spec.support.cmr")

local fx = paths.fixtures
local EP = "http://127.0.0.1:19001"
local CREDS = servers.CREDS
local ENV = { AWS_ACCESS_KEY_ID = "test", AWS_SECRET_ACCESS_KEY = "test-secret-sns-spec",
  AWS_REGION = "us-east-1", AWS_ENDPOINT_URL = EP }

local uid = servers.uid

describe("backfill to SNS on fauxqs #integration", function()
  if servers.skip(_ENV) then return end
  local sns = require("gf.sns")
  local sqs = require("gf.sqs")
  local tmp, port, pid, s, q

  setup(function()
    tmp = paths.tmpdir()
    port, pid = cmr.start(tmp, "--granules 37")
    s = sns.client({ endpoint = EP, region = "us-east-1", credentials = CREDS })
    q = sqs.client({ endpoint = EP, region = "us-east-1", credentials = CREDS })
  end)

  teardown(function()
    os.execute("kill " .. pid)
    os.execute("rm -rf " .. tmp)
  end)

  local function subscribed_queue()
    local topic = assert(s:create_topic("gf-backfill-" .. uid()))
    local url = assert(q:create_queue("gf-backfill-sub-" .. uid()))
    local qarn = assert(q:get_attributes(url, { "QueueArn" })).QueueArn
    assert(s:subscribe(topic, "sqs", qarn))
    return topic, url
  end

  -- Receive until `n` messages arrived and one more poll comes back empty.
  local function drain(url, n)
    local got = {}
    for _ = 1, 200 do
      local ms = assert(q:receive(url, { max = 10, wait = 1, visibility = 120 }))
      for _, m in ipairs(ms) do got[#got + 1] = m end
      if #ms == 0 and #got >= n then break end
    end
    return got
  end

  local function args(extra)
    local a = { "--collection", "MODIS_A-JPL-L2P-v2019.0", "--provider", "pocloud",
      "--cmr-url", "http://127.0.0.1:" .. port, "--forge-tig-configs", fx .. "/forge-tig",
      "--cumulus", "uat", "--cumulus-configurations", fx .. "/cumulus",
      "--default_message_config", fx .. "/cumulus/message_config.json", "--use-data-url",
      "--page-size", "10", "--user", "spec", "--footprint", "on", "--image", "on", "--dmrpp", "off" }
    for _, v in ipairs(extra) do a[#a + 1] = v end
    return a
  end

  it("publishes every message once, in batches, with the body of the message file", function()
    local topic, url = subscribed_queue()
    local mf = tmp .. "/sns_msgs.txt"
    local code, _, err = cmr.run_script("backfill", tmp, args({ "--sns-arn", topic, "--message_file", mf }), ENV)
    assert.equal(0, code, err)
    assert.matches("Messages sent: 74\n", err)
    assert.matches("Messages failed: 0\n", err)
    assert.is_nil(err:find("test-secret-sns-spec", 1, true))

    local file = {}
    for line in io.lines(mf) do
      if line ~= "" then file[line] = (file[line] or 0) + 1 end
    end
    local got = drain(url, 74)
    assert.equal(74, #got)
    local seen, per_granule = {}, {}
    for _, m in ipairs(got) do
      local env = assert(json.decode(m.body))
      assert.equal("Notification", env.Type)
      assert.equal(topic, env.TopicArn)
      assert.equal(1, file[env.Message], "SNS message not in the message file")
      assert.is_nil(seen[env.Message], "delivered twice")
      seen[env.Message] = true
      local msg = assert(json.decode(env.Message))
      assert.equal("spec", msg.cli_params.username)
      assert.is_true(msg.forge ~= msg.tig)
      assert.equal("test-internal", msg.cumulus_meta.system_bucket)
      local g = msg.payload.granules[1]
      per_granule[g.cmrConceptId] = (per_granule[g.cmrConceptId] or 0) + 1
    end
    local n = 0
    for _, c in pairs(per_granule) do
      n = n + 1
      assert.equal(2, c)
    end
    assert.equal(37, n)
  end)

  it("--message-limit stops at exactly N published messages", function()
    local topic, url = subscribed_queue()
    local code, _, err = cmr.run_script("backfill", tmp, args({ "--sns-arn", topic, "--message-limit", "13" }), ENV)
    assert.equal(0, code, err)
    assert.matches("Messages sent: 13\n", err)
    assert.equal(13, #drain(url, 13))
  end)

  it("checks the topic first: a missing topic is an error and nothing is published", function()
    local topic, url = subscribed_queue()
    local missing = topic .. "-missing"
    local code, _, err = cmr.run_script("backfill", tmp, args({ "--sns-arn", missing }), ENV)
    assert.equal(2, code)
    assert.matches("SnsMessageSender given invalid topic_arn", err, 1, true)
    assert.matches(missing:gsub("%p", "%%%0"), err)
    assert.is_nil(err:find("test-secret-sns-spec", 1, true))
    assert.same({}, assert(q:receive(url, { max = 10, wait = 0 })))
  end)
end)
