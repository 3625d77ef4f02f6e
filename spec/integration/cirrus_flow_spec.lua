-- The Cirrus rerun flow end to end on real servers: 50 payloads seeded across states and error
-- prefixes; `get_payloads --state FAILED --error-prefix X --rerun | process` enqueues exactly
-- the expected payloads with replace; cirrus_worker claims them and starts executions with
-- uuid5 names (checked against Python's uuid module); a second process is skipped
-- (ALREADY_PROCESSING); cirrus_update sets the final states and publishes the items to SNS
-- (delivered to an SQS subscriber). Once on dynalite + s3rver + fauxqs + stepfunctions-local,
-- once on SQLite + a local directory (+ fauxqs), where the gf.flow workflow runs locally.
-- Also: Cirrus' test_statedb cases on dynalite, an oversized body going through the store, and
-- a failing state machine ending INVALID.
local json = require("gf.json")
local fs = require("gf.fs")
local state = require("gf.state")
local s3 = require("gf.s3")
local sqs = require("gf.sqs")
local sns = require("gf.sns")
local awsjson = require("gf.awsjson")
local servers = require("spec.support.servers")
local paths = require("spec.support.paths")
local run = require("spec.support.run")
local core = require("cirrus.core")

local CREDS = { access_key = "S3RVER", secret_key = "S3RVER" }
local S3_EP, SQS_EP, DDB_EP, SFN_EP = "http://127.0.0.1:19000", "http://127.0.0.1:19001",
  "http://127.0.0.1:19002", "http://127.0.0.1:19006"
local WF = "cirrus-minimal"
local ENV = {
  AWS_ACCESS_KEY_ID = "S3RVER", AWS_SECRET_ACCESS_KEY = "S3RVER", AWS_REGION = "us-east-1",
  AWS_DEFAULT_REGION = "us-east-1", AWS_CONFIG_FILE = "/dev/null", AWS_SHARED_CREDENTIALS_FILE = "/dev/null",
  AWS_ENDPOINT_URL_S3 = S3_EP, AWS_ENDPOINT_URL_SQS = SQS_EP, AWS_ENDPOINT_URL_SNS = SQS_EP,
  AWS_ENDPOINT_URL_SFN = SFN_EP, AWS_ENDPOINT_URL_DYNAMODB = DDB_EP,
  CIRRUS_PROCESS_QUEUE_URL = "", CIRRUS_PAYLOAD_BUCKET = "", CIRRUS_BASE_WORKFLOW_ARN = "", CIRRUS_STATE_DB = "",
  GFHOST_LOG_LEVEL = "warn",
}

local function envstr(extra)
  local parts = {}
  for k, v in pairs(ENV) do parts[#parts + 1] = k .. "=" .. run.shquote(v) end
  for k, v in pairs(extra or {}) do parts[#parts + 1] = k .. "=" .. run.shquote(v) end
  return "env " .. table.concat(parts, " ")
end

local function cmd(args)
  local t = { envstr(), run.shquote(paths.gfhost), "run" }
  for _, a in ipairs(args) do t[#t + 1] = run.shquote(a) end
  return table.concat(t, " ")
end

local function sh(line)
  local out, err = os.tmpname(), os.tmpname()
  local _, _, code = os.execute(("(%s) >%s 2>%s"):format(line, out, err))
  local files = require("spec.support.files")
  local r = { code = code, stdout = files.read(out) or "", stderr = files.read(err) or "" }
  os.remove(out)
  os.remove(err)
  return r
end

-- cmdline with `text` on its stdin
local function feed(text, cmdline)
  local tmp = os.tmpname()
  require("spec.support.files").write(tmp, text)
  local r = sh(cmdline .. " <" .. tmp)
  os.remove(tmp)
  return r
end

local function lines(s)
  local t = {}
  for l in s:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

-- Python's uuid5 of "<id>/<repr(console urls)>": the oracle for the execution names
local function python_names(list)
  local src = { "import uuid, sys, json", "for id_, arns in json.load(sys.stdin):",
    "    urls = ['https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/' + a for a in arns]",
    "    print(uuid.uuid5(uuid.NAMESPACE_URL, f'{id_}/{urls}'))" }
  local tmp = os.tmpname()
  require("spec.support.files").write(tmp, json.encode(list))
  local p = io.popen("python3 -c " .. run.shquote(table.concat(src, "\n")) .. " < " .. tmp)
  local out = p:read("a")
  p:close()
  os.remove(tmp)
  return lines(out)
end

describe("cirrus flow on real servers #integration", function()
  if servers.skip(_ENV) then return end

  local uid = servers.uid()
  local sq = sqs.client({ endpoint = SQS_EP, region = "us-east-1", credentials = CREDS })
  local sn = sns.client({ endpoint = SQS_EP, region = "us-east-1", credentials = CREDS })
  local sfn = awsjson.client({ service = "states", endpoint = SFN_EP, region = "us-east-1", credentials = CREDS })
  local s3c = s3.client({ endpoint = S3_EP, region = "us-east-1", credentials = CREDS })

  -- 50 payloads of one collections_workflow: 0-9 FAILED "States.Timeout…", 10-19 FAILED
  -- "RuntimeError…", 20-29 COMPLETED, 30-34 INVALID, 35-39 ABORTED, 40-44 PROCESSING,
  -- 45-49 FAILED "States.Timeout…" of which 45 and 46 have no stored input payload.
  local function seed(store, put, col)
    local old = "arn:aws:states:us-east-1:123456789012:execution:old-" .. WF .. ":"
    local ids = {}
    for i = 0, 49 do
      local p = { type = "FeatureCollection", process = json.array({ { workflow = WF } }),
        features = json.array({ { type = "Feature", id = ("item%02d"):format(i), collection = col,
          bbox = { -78.85549714480591, -33.5090673116811, -77.66654434530413, -33.171471085391424 },
          properties = { datetime = "2020-11-03T15:22:26Z", ["eo:cloud_cover"] = 51.56 },
          links = json.array(), assets = json.object() } }) }
      local id = assert(core.prepare(p))
      ids[i] = id
      if i ~= 45 and i ~= 46 then assert(put(id, json.encode(p))) end
      assert(store:claim(id, old .. i))
      assert(store:set_processing(id))
      if i < 10 or i >= 45 then assert(store:set_failed(id, "States.Timeout: task timed out after " .. (60 + i) .. " s"))
      elseif i < 20 then assert(store:set_failed(id, "RuntimeError: cannot open s3://in/item" .. i .. ".tif"))
      elseif i < 30 then assert(store:set_completed(id, { "s3://out/" .. i }))
      elseif i < 35 then assert(store:set_invalid(id, "InvalidInput: no assets"))
      elseif i < 40 then assert(store:set_aborted(id)) end
    end
    return ids, old
  end

  local variants = {
    {
      label = "dynalite + s3rver + fauxqs + stepfunctions-local",
      setup = function(v)
        v.table = "gfc-" .. uid
        v.statedb = ("dynamodb://%s?create=1"):format(v.table)
        v.bucket = "s3://gfc-" .. uid
        assert(s3c:create_bucket(v.bucket))
        v.store = assert(state.open({ backend = "dynamodb", table = v.table, endpoint = DDB_EP,
          region = "us-east-1", credentials = CREDS, create = true }))
        v.base = ("arn:aws:states:us-east-1:123456789012:stateMachine:gfc%s-"):format(uid)
        local pass = json.encode({ StartAt = "P", States = { P = { Type = "Pass", End = true } } })
        assert(sfn:call("CreateStateMachine", { name = "gfc" .. uid .. "-" .. WF, definition = pass,
          roleArn = "arn:aws:iam::123456789012:role/x" }))
        v.activity = assert(sfn:call("CreateActivity", { name = "gfc" .. uid .. "-act" })).activityArn
        local fail = json.encode({ StartAt = "T", States = { T = { Type = "Task", Resource = v.activity, End = true } } })
        assert(sfn:call("CreateStateMachine", { name = "gfc" .. uid .. "-failing", definition = fail,
          roleArn = "arn:aws:iam::123456789012:role/x" }))
        v.put = function(id, text)
          return s3c:put(v.bucket .. "/" .. id .. "/input.json", text, { content_type = "application/json" })
        end
        v.opts = { "--statedb", v.statedb, "--payload-bucket", v.bucket }
        v.worker_opts = { "--base-workflow-arn", v.base }
        v.missing = "was not found in S3"
      end,
    },
    {
      label = "SQLite + a local directory (+ fauxqs), workflows run here",
      setup = function(v)
        v.dir = paths.tmpdir()
        v.statedb = v.dir .. "/cirrus.db"
        v.bucket = v.dir .. "/payloads"
        v.store = assert(state.open({ path = v.statedb }))
        v.put = function(id, text)
          assert(fs.mkdir_p(v.bucket .. "/" .. id))
          return fs.write(v.bucket .. "/" .. id .. "/input.json", text)
        end
        v.opts = { "--statedb", v.statedb, "--payload-bucket", v.bucket }
        v.worker_opts = { "--local" }
        v.missing = "was not found in the payload directory"
        v.is_local = true
      end,
    },
  }

  for vi, v in ipairs(variants) do
    describe(v.label, function()
      local col, cw, ids, old, queue, topic, subq, expected, etopic, eventq

      setup(function()
        v.setup(v)
        col = ("col%d-%s"):format(vi, uid)
        cw = col .. "_" .. WF
        ids, old = seed(v.store, v.put, col)
        queue = assert(sq:create_queue(("gfc-process-%d-%s"):format(vi, uid), { VisibilityTimeout = 30 }))
        topic = assert(sn:create_topic(("gfc-publish-%d-%s"):format(vi, uid)))
        subq = assert(sq:create_queue(("gfc-items-%d-%s"):format(vi, uid)))
        local qarn = assert(sq:get_attributes(subq, { "QueueArn" })).QueueArn
        assert(sn:subscribe(topic, "sqs", qarn))
        etopic = assert(sn:create_topic(("gfc-events-%d-%s"):format(vi, uid)))
        eventq = assert(sq:create_queue(("gfc-events-%d-%s"):format(vi, uid)))
        assert(sn:subscribe(etopic, "sqs", assert(sq:get_attributes(eventq, { "QueueArn" })).QueueArn))
        expected = {}
        for _, i in ipairs({ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 47, 48, 49 }) do expected[ids[i]] = i end
      end)

      teardown(function()
        v.store:close()
        if v.dir then fs.remove_tree(v.dir) end
        if v.table then
          require("gf.state.dynamodb").delete_table(awsjson.client({ service = "dynamodb", endpoint = DDB_EP,
            region = "us-east-1", credentials = CREDS }), v.table)
        end
      end)

      local function all(list, extra)
        local t = {}
        for _, a in ipairs(list) do t[#t + 1] = a end
        for _, a in ipairs(extra or {}) do t[#t + 1] = a end
        return t
      end

      it("get_payloads --state FAILED --error-prefix X --rerun | process enqueues exactly the expected payloads", function()
        local g = cmd(all({ "get_payloads", "--collections-workflow", cw, "--state", "FAILED",
          "--error-prefix", "States.Timeout", "--rerun" }, v.opts))
        local p = cmd({ "process", "--queue", queue })
        local r = sh(g .. " 2>" .. paths.root .. "/.gfhost-cirrus-gp.err | " .. p)
        local gerr = require("spec.support.files").read(paths.root .. "/.gfhost-cirrus-gp.err") or ""
        os.remove(paths.root .. "/.gfhost-cirrus-gp.err")
        assert.equal(0, r.code, r.stderr .. gerr)
        assert.matches("Payload ID: '" .. ids[45]:gsub("%p", "%%%0") .. "' " .. v.missing, gerr)
        assert.matches("Payload ID: '" .. ids[46]:gsub("%p", "%%%0") .. "' " .. v.missing, gerr)
        local res = lines(r.stdout)
        assert.equal(13, #res)
        for _, l in ipairs(res) do
          local x = json.decode(l)
          assert.equal("queued", x.status)
          assert.is_not_nil(expected[x.id], x.id)
        end
        -- what the queue holds: each expected payload once, with replace
        local seen, n, held = {}, 0, {}
        for _ = 1, 10 do
          local ms = assert(sq:receive(queue, { max = 10, wait = 1, visibility = 20 }))
          for _, m in ipairs(ms) do
            local body = assert(json.decode(m.body))
            assert.is_not_nil(expected[body.id], body.id)
            assert.is_nil(seen[body.id])
            assert.is_true(body.process[1].replace)
            seen[body.id] = true
            n = n + 1
            held[#held + 1] = m
          end
          if n >= 13 then break end
        end
        for i = 1, #held, 10 do      -- visible again for the worker
          assert(sq:change_visibility_batch(queue, { table.unpack(held, i, math.min(i + 9, #held)) }, 0))
        end
        assert.equal(13, n)
        assert.same({}, assert(sq:receive(queue, { max = 10, wait = 0, visibility = 0 })) and {})
      end)

      it("cirrus_worker claims them and starts executions with the uuid5 names", function()
        local dry = sh(cmd(all({ "cirrus_worker", "--queue", queue, "--wait", "1", "--max-messages", "13", "--dry-run" },
          all(v.opts, v.worker_opts))))
        assert.equal(0, dry.code, dry.stderr)
        local would = 0
        for _, l in ipairs(lines(dry.stdout)) do
          local x = json.decode(l)
          assert.is_not_nil(expected[x.id], x.id)
          if x.status == "would_start" then would = would + 1 end
        end
        assert.is_true(would >= 1)
        assert.equal("FAILED", assert(v.store:get(ids[0])).state)
        local r = sh(cmd(all({ "cirrus_worker", "--queue", queue, "--wait", "1", "--idle-exit", "2",
          "--publish-topic", topic, "--event-topic", etopic }, all(v.opts, v.worker_opts))))
        assert.equal(0, r.code, r.stderr)
        assert.matches("13 deleted, 0 left in the queue", r.stderr)
        local list, order = {}, {}
        for id, i in pairs(expected) do
          list[#list + 1] = { id, { old .. i } }
          order[#order + 1] = id
        end
        local names = python_names(list)
        assert.equal(13, #names)
        for k, id in ipairs(order) do
          local rec = assert(v.store:get(id))
          assert.equal(2, #rec.executions)
          local arn = rec.executions[2]
          assert.equal(names[k], arn:match(":([^:]+)$"))
          if v.is_local then
            assert.equal("COMPLETED", rec.state)
          else
            assert.equal(v.base:gsub(":stateMachine:", ":execution:") .. WF .. ":" .. names[k], arn)
            assert.equal("PROCESSING", rec.state)
            local d = assert(core.describe({ sfn = sfn }, arn))
            assert.equal(names[k], d.name)
          end
        end
        -- workflow events: CLAIMED_PROCESSING and STARTED_PROCESSING per payload (+ SUCCEEDED locally)
        local events = {}
        for _ = 1, 20 do
          local ms = assert(sq:receive(eventq, { max = 10, wait = 1 }))
          for _, m in ipairs(ms) do
            local env = assert(json.decode(m.body))
            local e = assert(json.decode(env.Message))
            assert.is_not_nil(expected[e.payload_id], e.payload_id)
            assert.same({ Type = "String", Value = e.event_type }, env.MessageAttributes.event_type)
            assert.same({ Type = "String", Value = WF }, env.MessageAttributes.workflow)
            assert.same({ Type = "String", Value = col }, env.MessageAttributes.collections)
            events[e.event_type] = (events[e.event_type] or 0) + 1
          end
          if #ms > 0 then assert(sq:delete_batch(eventq, ms)) end
          if (events.STARTED_PROCESSING or 0) >= 13 and (not v.is_local or (events.SUCCEEDED or 0) >= 13) then break end
        end
        assert.equal(13, events.CLAIMED_PROCESSING)
        assert.equal(13, events.STARTED_PROCESSING)
        if v.is_local then assert.equal(13, events.SUCCEEDED) end
        -- the other 37 are untouched
        assert.equal("COMPLETED", assert(v.store:get(ids[20])).state)
        assert.equal("FAILED", assert(v.store:get(ids[10])).state)
        assert.equal(1, #assert(v.store:get(ids[10])).executions)
      end)

      it("a second process of the same payload is skipped", function()
        local p = assert(json.decode(assert(v.put and (v.is_local and fs.read(v.bucket .. "/" .. ids[0] .. "/input.json")
          or s3c:get(v.bucket .. "/" .. ids[0] .. "/input.json")))))
        p.process[1].replace = not v.is_local or nil   -- replace cannot override PROCESSING
        local r = feed(json.encode(p), cmd(all({ "process" }, all(v.opts, v.worker_opts))))
        assert.equal(0, r.code, r.stderr)
        local x = json.decode(r.stdout)
        assert.equal("skipped", x.status)
        assert.equal(v.is_local and "ALREADY_COMPLETED" or "ALREADY_PROCESSING", x.event)
        if v.is_local then
          -- an item still PROCESSING (seeded) is refused even with replace
          p = assert(json.decode(assert(fs.read(v.bucket .. "/" .. ids[40] .. "/input.json"))))
          p.process[1].replace = true
          r = feed(json.encode(p), cmd(all({ "process" }, all(v.opts, v.worker_opts))))
          assert.equal("ALREADY_PROCESSING", json.decode(r.stdout).event)
        end
      end)

      it("update-state sets the final states and publishes the items with their attributes", function()
        if not v.is_local then
          local a = { "cirrus_update", "--follow", "--poll", "0.3", "--timeout", "30", "--publish-topic", topic }
          for id in pairs(expected) do a[#a + 1] = "--payload-id"; a[#a + 1] = id end
          local r = sh(cmd(all(a, all(v.opts, v.worker_opts))))
          assert.equal(0, r.code, r.stderr)
          assert.equal(13, #lines(r.stdout))
          for _, l in ipairs(lines(r.stdout)) do assert.equal("COMPLETED", json.decode(l).state) end
        end
        for id in pairs(expected) do
          local rec = assert(v.store:get(id))
          assert.equal("COMPLETED", rec.state)
          assert.is_nil(rec.last_error)
          assert.equal(1, #rec.outputs)
        end
        -- published items arrive through SNS -> SQS with the attributes of cirrus.attributes
        local got = {}
        for _ = 1, 10 do
          local ms = assert(sq:receive(subq, { max = 10, wait = 1 }))
          for _, m in ipairs(ms) do
            local env = assert(json.decode(m.body))
            local item = assert(json.decode(env.Message))
            got[item.id] = env.MessageAttributes
          end
          if #ms > 0 then assert(sq:delete_batch(subq, ms)) end
          local n = 0
          for _ in pairs(got) do n = n + 1 end
          if n >= 13 then break end
        end
        local n, any = 0, nil
        for _, a in pairs(got) do n, any = n + 1, a end
        assert.equal(13, n)
        assert.same({ Type = "Number", Value = "-78.85549714480591" }, any["bbox.ll_lon"])
        assert.same({ Type = "Number", Value = "-33.171471085391424" }, any["bbox.ur_lat"])
        assert.same({ Type = "Number", Value = "51.56" }, any.cloud_cover)
        assert.same({ Type = "String", Value = col }, any.collection)
        assert.same({ Type = "String", Value = "2020-11-03T15:22:26Z" }, any.datetime)
      end)

      if vi == 2 then
        it("a chained payload goes back to the process queue and the worker runs it too", function()
          local p = { type = "FeatureCollection", process = json.array({ { workflow = WF },
            { workflow = WF, collections = "chained-" .. uid } }),
            features = json.array({ { type = "Feature", id = "ch1", collection = col, properties = {} } }) }
          assert(sq:send(queue, json.encode(p)))
          local r = sh(cmd(all({ "cirrus_worker", "--queue", queue, "--wait", "1", "--idle-exit", "2" }, all(v.opts, v.worker_opts))))
          assert.equal(0, r.code, r.stderr)
          assert.matches("2 messages", r.stderr)
          assert.equal("COMPLETED", assert(v.store:get(col .. "/workflow-" .. WF .. "/ch1")).state)
          local chained = assert(v.store:get("chained-" .. uid .. "/workflow-" .. WF .. "/ch1"))
          assert.equal("COMPLETED", chained.state)
        end)
      end

      if vi == 2 then
        it("run_workflow enqueues, a worker runs it, and it exits 0 with the output payload", function()
          local p = { type = "FeatureCollection", process = json.array({ { workflow = WF } }),
            features = json.array({ { type = "Feature", id = "rw1", collection = col, properties = {} } }) }
          local tmp = os.tmpname()
          require("spec.support.files").write(tmp, json.encode(p))
          local worker = cmd(all({ "cirrus_worker", "--queue", queue, "--wait", "1", "--idle-exit", "3" }, all(v.opts, v.worker_opts)))
          local rw = cmd(all({ "run_workflow", "--queue", queue, "-p", "0.2", "-t", "30" }, v.opts))
          local r = sh(worker .. " >/dev/null 2>&1 & " .. rw .. " <" .. tmp .. "; rc=$?; wait; exit $rc")
          os.remove(tmp)
          assert.equal(0, r.code, r.stderr)
          local out = assert(json.decode(r.stdout))
          assert.equal(col .. "/workflow-" .. WF .. "/rw1", out.id)
          assert.matches("items/" .. col:gsub("%-", "%%-") .. "/rw1%.json$", out.features[1].links[1].href)
        end)
      end

      if vi == 1 then
        it("a failed execution ends INVALID (InvalidInput) and a stopped one ABORTED", function()
          -- stepfunctions-local reports a Fail state as SUCCEEDED; an activity task that the
          -- spec fails with SendTaskFailure gives a real FAILED execution
          local function payload(name)
            return { type = "FeatureCollection", process = json.array({ { workflow = "failing" } }),
              features = json.array({ { type = "Feature", id = name, collection = col } }) }
          end
          local x = {}
          for i, name in ipairs({ "bad1", "stop1" }) do
            local r = feed(json.encode(payload(name)), cmd(all({ "process" }, all(v.opts, v.worker_opts))))
            assert.equal(0, r.code, r.stderr)
            x[i] = json.decode(r.stdout)
            assert.equal("started", x[i].status)
          end
          local t = assert(sfn:call("GetActivityTask", { activityArn = v.activity }))
          assert.equal("bad1", json.decode(t.input).features[1].id)
          assert(sfn:call("SendTaskFailure", { taskToken = t.taskToken, error = "cirrus.lib.errors.InvalidInput",
            cause = '{"errorMessage": "no assets in the input", "errorType": "InvalidInput"}' }))
          local stop = assert(core.describe({ sfn = sfn }, x[2].execution))
          assert(sfn:call("StopExecution", { executionArn = stop.executionArn }))
          local r = sh(cmd(all({ "cirrus_update", "--payload-id", x[1].id, "--payload-id", x[2].id, "--follow",
            "--poll", "0.5", "--timeout", "30" }, all(v.opts, v.worker_opts))))
          assert.equal(0, r.code, r.stderr)
          local rec = assert(v.store:get(x[1].id))
          assert.same({ "INVALID", "cirrus.lib.errors.InvalidInput: no assets in the input" }, { rec.state, rec.last_error })
          assert.equal("ABORTED", assert(v.store:get(x[2].id)).state)
          r = sh(cmd({ "get_execution", "--arn", rec.executions[1] }))
          assert.equal(0, r.code, r.stderr)
          assert.equal("FAILED", json.decode(r.stdout).status)
          -- a workflow with no state machine fails the payload at once
          local p = payload("nomachine1")
          p.process[1].workflow = "nomachine"
          assert(core.prepare(p))
          r = feed(json.encode(p), cmd(all({ "process" }, all(v.opts, v.worker_opts))))
          assert.equal("failed", json.decode(r.stdout).status)
          assert.matches("^StateMachineDoesNotExist", assert(v.store:get(p.id)).last_error)
        end)

        it("process stores a body over 262,144 bytes and sends {url}", function()
          local p = { type = "FeatureCollection", process = json.array({ { workflow = WF } }),
            features = json.array({ { type = "Feature", id = "big1", collection = col,
              properties = { pad = ("x"):rep(270000) } } }) }
          local q2 = assert(sq:create_queue("gfc-big-" .. uid))
          local r = feed(json.encode(p), cmd(all({ "process", "--queue", q2 }, v.opts)))
          assert.equal(0, r.code, r.stderr)
          local x = json.decode(r.stdout)
          assert.matches("^s3://gfc%-" .. uid .. "/payloads/[%x%-]+%.json$", x.url)
          local m = assert(sq:receive(q2, { max = 1, wait = 2 }))[1]
          assert.same({ url = x.url }, json.decode(m.body))
          -- --rate paces the sends; everything still arrives
          local three = {}
          for k = 1, 3 do
            three[k] = json.encode({ type = "FeatureCollection", process = json.array({ { workflow = WF } }),
              features = json.array({ { type = "Feature", id = "rate" .. k, collection = col } }) })
          end
          local q3 = assert(sq:create_queue("gfc-rate-" .. uid))
          local rr = feed(table.concat(three, "\n"), cmd(all({ "process", "--queue", q3, "--rate", "50/s" }, v.opts)))
          assert.equal(0, rr.code, rr.stderr)
          assert.equal(3, #lines(rr.stdout))
          assert.equal("3", assert(sq:get_attributes(q3, { "ApproximateNumberOfMessages" })).ApproximateNumberOfMessages)
          local stored = assert(s3c:get(x.url))
          assert(core.prepare(p))       -- the id process set
          assert.same(p, json.decode(stored))
          -- the worker fetches the {url} body from S3 and starts the payload
          assert(sq:change_visibility(q2, m, 0))
          local w = sh(cmd(all({ "cirrus_worker", "--queue", q2, "--wait", "1", "--idle-exit", "2" },
            all(v.opts, v.worker_opts))))
          assert.equal(0, w.code, w.stderr)
          assert.matches("1 deleted", w.stderr)
          assert.equal("PROCESSING", assert(v.store:get(p.id)).state)
        end)
      end
    end)
  end
end)

describe("cirrus test_statedb on dynalite #integration", function()
  if servers.skip(_ENV) then return end
  local dynamodb = require("gf.state.dynamodb")
  local ddb = awsjson.client({ service = "dynamodb", endpoint = DDB_EP, region = "us-east-1", credentials = CREDS })
  local tables = {}
  assert(loadfile(paths.root .. "/spec/unit/cirrus_statedb_spec.lua", "t", _ENV))({
    label = "dynamodb", tag = "#integration",
    new = function(clock)
      local t = "gfc-sdb-" .. servers.uid()
      tables[#tables + 1] = t
      return assert(state.open({ backend = "dynamodb", table = t, client = ddb, create = true, clock = clock }))
    end,
    dispose = function() dynamodb.delete_table(ddb, table.remove(tables)) end,
  })
end)
