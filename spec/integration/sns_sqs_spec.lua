-- gf.sqs against fauxqs (127.0.0.1:19001, JSON protocol) and local-aws-sqs (127.0.0.1:19005),
-- and gf.sns on fauxqs with delivery into an SQS queue. Run through spec/support/servers.sh.
local servers = require("spec.support.servers")
local CREDS = servers.CREDS
local SQS_SERVERS = {
  -- wakes: a long poll returns as soon as a message arrives; strict: bad receipt handles fail
  { name = "fauxqs", endpoint = "http://127.0.0.1:19001", wakes = true, strict = false },
  { name = "local-aws-sqs", endpoint = "http://127.0.0.1:19005", wakes = false, strict = true },
}


local uid = servers.uid

for _, srv in ipairs(SQS_SERVERS) do
  describe("gf.sqs on " .. srv.name .. " #integration", function()
    if servers.skip(_ENV) then return end
    local sqs = require("gf.sqs")
    local task = require("gf.task")
    local c

    setup(function()
      c = sqs.client({ endpoint = srv.endpoint, region = "us-east-1", credentials = CREDS })
    end)

    it("sends, receives with attributes, and deletes", function()
      local url = assert(c:create_queue("gf-basic-" .. uid()))
      local sent = assert(c:send(url, "hello 1", { attributes = { k = "v", n = 42 } }))
      assert.matches("%x+%-", sent.message_id)
      assert.equal("df0649bc4f1be901c85b6183091c1d83", sent.md5) -- MD5OfMessageBody
      local ms = assert(c:receive(url, { max = 10, wait = 2 }))
      assert.equal(1, #ms)
      local m = ms[1]
      assert.equal("hello 1", m.body)
      assert.equal(sent.message_id, m.id)
      assert.same({ DataType = "String", StringValue = "v" },
        { DataType = m.message_attributes.k.DataType, StringValue = m.message_attributes.k.StringValue })
      assert.equal("42", m.message_attributes.n.StringValue)
      assert.equal("1", m.attributes.ApproximateReceiveCount)
      assert.is_true(c:delete(url, m))
      assert.same({}, c:receive(url, { wait = 0 }))
    end)

    it("sends and deletes in batches of 10 with per-entry results", function()
      local url = assert(c:create_queue("gf-batch-" .. uid()))
      local entries = {}
      for i = 1, 23 do entries[i] = { body = "m" .. i, attributes = { seq = i } } end
      local r = assert(c:send_batch(url, entries))
      assert.equal(23, #r.successful)
      assert.same({}, r.failed)
      assert.equal(23, r.successful[23].index)
      local got = {}
      while true do
        local ms = assert(c:receive(url, { max = 10, wait = 1, visibility = 60 }))
        if #ms == 0 then break end
        for _, m in ipairs(ms) do got[#got + 1] = m end
      end
      assert.equal(23, #got)
      local d = assert(c:delete_batch(url, got))
      assert.equal(23, #d.successful)
      assert.same({}, d.failed)
      local attrs = assert(c:get_attributes(url, { "ApproximateNumberOfMessages" }))
      assert.equal("0", attrs.ApproximateNumberOfMessages)
    end)

    it("reports a bad receipt handle per entry in a delete batch", function()
      if not srv.strict then
        pending(srv.name .. " accepts any receipt handle")
        return
      end
      local url = assert(c:create_queue("gf-badrh-" .. uid()))
      assert(c:send(url, "x"))
      local ms = assert(c:receive(url, { wait = 1 }))
      local d = assert(c:delete_batch(url, { ms[1], "not-a-receipt-handle" }))
      assert.equal(1, #d.successful)
      assert.equal(1, #d.failed)
      assert.equal(2, d.failed[1].index)
      assert.is_string(d.failed[1].code)
    end)

    it("long-polls: an empty queue waits, a message sent meanwhile wakes it", function()
      local url = assert(c:create_queue("gf-poll-" .. uid()))
      local t0 = os.time()
      local sender = task.spawn(function()
        task.sleep(1)
        return c:send(url, "late")
      end)
      local ms = assert(c:receive(url, { wait = 5 }))
      assert.is_true(task.wait(sender))
      if #ms == 0 then ms = assert(c:receive(url, { wait = 2 })) end
      assert.equal(1, #ms)
      assert.equal("late", ms[1].body)
      -- fauxqs answers as soon as the message arrives; local-aws-sqs at the end of the wait
      assert.is_true(os.time() - t0 <= (srv.wakes and 4 or 7))
    end)

    it("changes visibility, purges and reads attributes", function()
      local url = assert(c:create_queue("gf-vis-" .. uid(), { VisibilityTimeout = 60 }))
      assert(c:send(url, "v"))
      local ms = assert(c:receive(url, { wait = 1 }))
      assert.equal(1, #ms)
      assert.same({}, c:receive(url))
      assert.is_true(c:change_visibility(url, ms[1], 0))
      local again = assert(c:receive(url, { wait = 2 }))
      assert.equal(1, #again)
      assert.is_true(tonumber(again[1].attributes.ApproximateReceiveCount) >= 2)
      assert.is_true(c:purge(url))
      local attrs = assert(c:get_attributes(url))
      assert.equal("60", attrs.VisibilityTimeout)
      assert.is_string(attrs.QueueArn)
    end)

    it("moves messages to a dead-letter queue after maxReceiveCount", function()
      local dlq = assert(c:create_queue("gf-dlq-" .. uid()))
      local dlq_arn = assert(c:get_attributes(dlq, { "QueueArn" })).QueueArn
      local main = assert(c:create_queue("gf-main-" .. uid(), { VisibilityTimeout = 1,
        RedrivePolicy = { deadLetterTargetArn = dlq_arn, maxReceiveCount = "1" } }))
      assert(c:send_batch(main, { "d1", "d2", "d3" }))
      local first = {}
      while #first < 3 do
        local ms = assert(c:receive(main, { wait = 1 }))
        if #ms == 0 then break end
        for _, m in ipairs(ms) do first[#first + 1] = m end
      end
      assert.equal(3, #first)
      task.sleep(1.5)
      local moved = {}
      for _ = 1, 10 do
        assert(c:receive(main, { wait = 1 })) -- triggers the redrive on most emulators
        local ms = assert(c:receive(dlq, { wait = 1, visibility = 60 }))
        for _, m in ipairs(ms) do moved[#moved + 1] = m.body end
        if #moved >= 3 then break end
      end
      table.sort(moved)
      assert.same({ "d1", "d2", "d3" }, moved)
    end)

    it("resolves queue names and reports a missing queue as not_found", function()
      local name = "gf-named-" .. uid()
      local url = assert(c:create_queue(name))
      assert.equal(url, c:get_queue_url(name))
      assert(c:send(name, "by name"))
      assert.equal("by name", assert(c:receive(name, { wait = 1 }))[1].body)
      local r, msg, code = c:send("gf-missing-" .. uid(), "x")
      assert.is_nil(r)
      assert.equal("not_found", code)
      assert.matches("^sqs%.get_queue_url gf%-missing%-%d+: 400 [%w.]*QueueDoesNotExist", msg)
      local missing_url = url:gsub("gf%-named%-%d+$", "gf-gone-" .. uid())
      local r2, msg2, code2 = c:receive(missing_url)
      assert.is_nil(r2)
      assert.equal("not_found", code2)
      assert.equal(1, select(2, msg2:gsub("^sqs%.receive ", "")))
      assert.is_true(c:delete_queue(url))
    end)
  end)
end

describe("gf.sns on fauxqs #integration", function()
  if servers.skip(_ENV) then return end
  local sns = require("gf.sns")
  local sqs = require("gf.sqs")
  local json = require("gf.json")
  local EP = "http://127.0.0.1:19001"
  local s, q

  setup(function()
    s = sns.client({ endpoint = EP, region = "us-east-1", credentials = CREDS })
    q = sqs.client({ endpoint = EP, region = "us-east-1", credentials = CREDS })
  end)

  local function subscribed_queue(raw)
    local topic = assert(s:create_topic("gf-topic-" .. uid()))
    local url = assert(q:create_queue("gf-sub-" .. uid()))
    local qarn = assert(q:get_attributes(url, { "QueueArn" })).QueueArn
    local sub = assert(s:subscribe(topic, "sqs", qarn))
    if raw then assert(s:set_subscription_attributes(sub, "RawMessageDelivery", "true")) end
    return topic, url
  end

  local function drain(url, n)
    local got = {}
    for _ = 1, 10 do
      local ms = assert(q:receive(url, { wait = 1, visibility = 60 }))
      for _, m in ipairs(ms) do got[#got + 1] = m end
      if #got >= n then break end
    end
    return got
  end

  it("validates topics", function()
    local topic = assert(s:create_topic("gf-valid-" .. uid()))
    assert.is_true(s:validate_topic(topic))
    assert.equal(topic, s:get_topic_attributes(topic).TopicArn)
    local missing = topic .. "-missing"
    assert.same({ nil, "sns.get_topic_attributes " .. missing .. ": 404 NotFound: Topic does not exist",
      "not_found" }, { s:validate_topic(missing) })
  end)

  it("delivers a published message with subject and attributes into a subscribed queue", function()
    local topic, url = subscribed_queue(false)
    local id = assert(s:publish(topic, '{"granule":"G1"}', { subject = "subj",
      attributes = { collection = "C1", n = 5 } }))
    local got = drain(url, 1)
    assert.equal(1, #got)
    local env = assert(json.decode(got[1].body))
    assert.equal("Notification", env.Type)
    assert.equal(id, env.MessageId)
    assert.equal(topic, env.TopicArn)
    assert.equal("subj", env.Subject)
    assert.equal('{"granule":"G1"}', env.Message)
    assert.equal("C1", env.MessageAttributes.collection.Value)
  end)

  it("publishes batches of 10 and delivers every message raw", function()
    local topic, url = subscribed_queue(true)
    local entries = {}
    for i = 1, 25 do entries[i] = { message = "msg " .. i, attributes = { seq = i } } end
    local r = assert(s:publish_batch(topic, entries))
    assert.equal(25, #r.successful)
    assert.same({}, r.failed)
    local got = drain(url, 25)
    local bodies = {}
    for _, m in ipairs(got) do bodies[m.body] = true end
    for i = 1, 25 do assert.is_true(bodies["msg " .. i], "msg " .. i) end
    assert.equal(25, #got)
  end)

  it("reports per-entry failures of a batch (duplicate ids)", function()
    local topic = assert(s:create_topic("gf-dup-" .. uid()))
    local r, msg, code = s:publish_batch(topic, { { id = "x", message = "a" },
      { id = "x", message = "b" } })
    if r then
      assert.equal(2, #r.successful + #r.failed)
    else
      assert.equal("invalid_input", code)
      assert.matches("^sns%.publish_batch " .. topic:gsub("%p", "%%%0") .. ": 400 ", msg)
    end
  end)

  it("fails a publish to a missing topic with not_found", function()
    local r, msg, code = s:publish("arn:aws:sns:us-east-1:000000000000:gf-none-" .. uid(), "x")
    assert.is_nil(r)
    assert.equal("not_found", code)
    assert.matches("^sns%.publish arn:aws:sns:us%-east%-1:000000000000:gf%-none%-%d+: 404 NotFound",
      msg)
  end)
end)
