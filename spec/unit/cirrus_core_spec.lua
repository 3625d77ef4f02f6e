-- cirrus.core on SQLite and a local payload directory, in local mode (the gf.flow workflow
-- workflows/cirrus-minimal.lua): Cirrus' test_process cases (source-systems §5.5), update-state,
-- chaining, and the commands get_payloads (test_manage's cases), process and payload run as
-- gfhost subprocesses.
local json = require("gf.json")
local fs = require("gf.fs")
local state = require("gf.state")
local paths = require("spec.support.paths")
local run = require("spec.support.run")
local core = require("cirrus.core")
local event = require("cirrus.event")
local uuid = require("cirrus.uuid")
local payloads = require("cirrus.payloads")

local COL = "test-collection-input1"
local WF = "cirrus-minimal"
local OLD = "arn:aws:states:us-east-1:123456789012:execution:cirrus-minimal:old-"

local function payload(i, extra)
  local p = {
    type = "FeatureCollection",
    features = json.array({ { type = "Feature", id = "test-id" .. i, collection = COL,
      bbox = { 0, 0, 1, 1 }, properties = { datetime = "2024-01-01T00:00:00Z" } } }),
    process = json.array({ { workflow = WF } }),
  }
  for k, v in pairs(extra or {}) do p.process[1][k] = v end
  return p
end

local function id_of(i) return ("%s/workflow-%s/test-id%d"):format(COL, WF, i) end

local quiet = { debug = function() end, info = function() end, warn = function() end, error = function() end }

describe("cirrus core, local mode on SQLite #unit", function()
  local dir, d

  before_each(function()
    dir = paths.tmpdir()
    d = { state = assert(state.open({ path = dir .. "/state.db" })),
      payloads = assert(payloads.open(dir .. "/payloads")), log = quiet }
  end)

  after_each(function()
    d.state:close()
    fs.remove_tree(dir)
  end)

  -- a record in `s`, with one earlier execution
  local function seed(id, s, err)
    assert(d.state:claim(id, OLD .. s))
    if s == "CLAIMED" then return end
    assert(d.state:set_processing(id))
    if s == "PROCESSING" then return end
    if s == "COMPLETED" then assert(d.state:set_completed(id, { "s3://out/x.json" }))
    elseif s == "FAILED" then assert(d.state:set_failed(id, err or "failed-error-message"))
    elseif s == "INVALID" then assert(d.state:set_invalid(id, err or "invalid"))
    elseif s == "ABORTED" then assert(d.state:set_aborted(id)) end
  end

  describe("process (test_process)", function()
    it("does nothing with an empty batch", function()
      assert.same({}, core.process(d, {}))
      assert.same({}, assert(event.records({ Records = {} })))
    end)

    it("processes a single payload from an SQS event, with a uuid5 execution name", function()
      local recs = assert(event.records({ Records = { { body = json.encode(payload(1)) } } }))
      local r = core.process(d, recs)
      assert.equal(1, #r)
      assert.equal("completed", r[1].status)
      assert.equal(id_of(1), r[1].id)
      local name = uuid.execution_name(id_of(1), {})
      assert.equal("arn:aws:states:local:000000000000:execution:cirrus-minimal:" .. name, r[1].execution)
      local rec = assert(d.state:get(id_of(1)))
      assert.equal("COMPLETED", rec.state)
      assert.same({ r[1].execution }, rec.executions)
      assert.same({ dir .. "/payloads/items/" .. COL .. "/test-id1.json" }, rec.outputs)
      assert.is_true(fs.exists(dir .. "/payloads/" .. id_of(1) .. "/input.json"))
      assert.is_true(fs.exists(dir .. "/payloads/" .. id_of(1) .. "/output.json"))
      local item = json.decode(assert(fs.read(rec.outputs[1])))
      assert.equal("test-id1", item.id)
    end)

    it("processes two payloads of one SQS event", function()
      local recs = assert(event.records({ Records = { { body = json.encode(payload(1)) },
        { body = json.encode(payload(2)) } } }))
      local r = core.process(d, recs)
      assert.same({ "completed", "completed" }, { r[1].status, r[2].status })
    end)

    it("rejects bad JSON and payloads without process", function()
      local bad = { event.records({ Records = { { body = "{not json" } } }) }
      assert.is_nil(bad[1])
      assert.equal("parse", bad[3])
      local p = payload(1)
      p.process = json.array()
      local r = core.process(d, { p, { id = "x" } })
      assert.equal("rejected", r[1].status)
      assert.equal("NOT_A_PROCESS_PAYLOAD", r[1].event)
      assert.matches("process", r[1].message)
      assert.equal("rejected", r[2].status)
      assert.equal("not_found", select(3, d.state:get(id_of(1))))
    end)

    it("drops duplicate ids in a batch", function()
      local r = core.process(d, { payload(1), payload(1) })
      assert.equal("completed", r[1].status)
      assert.same({ "skipped", "DUPLICATE_ID_ENCOUNTERED" }, { r[2].status, r[2].event })
      assert.equal(1, #assert(d.state:get(id_of(1))).executions)
    end)

    for _, c in ipairs({
      { "FAILED", false, "completed" }, { "ABORTED", false, "completed" }, { "CLAIMED", false, "completed" },
      { "COMPLETED", false, "skipped", "ALREADY_COMPLETED" }, { "INVALID", false, "skipped", "ALREADY_INVALID" },
      { "PROCESSING", false, "skipped", "ALREADY_PROCESSING" },
      { "FAILED", true, "completed" }, { "ABORTED", true, "completed" }, { "COMPLETED", true, "completed" },
      { "INVALID", true, "completed" }, { "CLAIMED", true, "completed" },
      { "PROCESSING", true, "skipped", "ALREADY_PROCESSING" },
    }) do
      local s, replace, want, ev = c[1], c[2], c[3], c[4]
      it(("reruns a %s payload %s replace: %s"):format(s, replace and "with" or "without", ev or want), function()
        seed(id_of(1), s)
        local before = assert(d.state:get(id_of(1)))
        local r = core.process(d, { payload(1, replace and { replace = true } or nil) })[1]
        assert.equal(want, r.status)
        assert.equal(ev, r.event)
        local after = assert(d.state:get(id_of(1)))
        if want == "skipped" then
          assert.equal(s, after.state)
          assert.same(before.executions, after.executions)
        else
          assert.equal("COMPLETED", after.state)
        end
      end)
    end

    it("decide says what process would do and writes nothing", function()
      seed(id_of(1), "COMPLETED")
      seed(id_of(2), "FAILED")
      seed(id_of(3), "CLAIMED")
      local before = assert(d.state:get(id_of(2)))
      local r = core.decide(d, { payload(1), payload(2), payload(3), payload(4), payload(4), { id = "x" } })
      assert.same({ "skipped", "ALREADY_COMPLETED" }, { r[1].status, r[1].event })
      assert.equal("would_start", r[2].status)
      assert.equal(core.execution_arn(d, WF, core.execution_name(before, id_of(2))), r[2].execution)
      assert.same({ "would_start", OLD .. "CLAIMED" }, { r[3].status, r[3].execution })
      assert.same({ "would_start", "skipped", "rejected" }, { r[4].status, r[5].status, r[6].status })
      assert.same(before, assert(d.state:get(id_of(2))))
      assert.equal("not_found", select(3, d.state:get(id_of(4))))
      assert.equal("would_start", core.decide(d, { payload(1, { replace = true }) })[1].status)
    end)

    it("the call's replace works like process[0].replace", function()
      seed(id_of(1), "COMPLETED")
      assert.equal("completed", core.process(d, { payload(1) }, { replace = true })[1].status)
    end)

    it("takes over a CLAIMED record with its stored execution (race to CLAIMED)", function()
      seed(id_of(1), "CLAIMED")
      local r = core.process(d, { payload(1) })[1]
      assert.equal("completed", r.status)
      assert.equal(OLD .. "CLAIMED", r.execution)
      assert.same({ OLD .. "CLAIMED" }, assert(d.state:get(id_of(1))).executions)
    end)

    it("skips a payload another worker moved to PROCESSING after the decision (race to PROCESSING)", function()
      -- the decision reads no record; the claim then finds PROCESSING
      local real_get = d.state.get
      d.state.get = function(self, id)
        local r = { real_get(self, id) }
        seed(id, "PROCESSING")
        return table.unpack(r)
      end
      local r = core.process(d, { payload(1) })[1]
      d.state.get = nil
      assert.same({ "skipped", "ALREADY_PROCESSING" }, { r.status, r.event })
    end)

    it("names executions deterministically from the record's executions", function()
      seed(id_of(1), "FAILED")
      local rec = assert(d.state:get(id_of(1)))
      local n1 = core.execution_name(rec, id_of(1))
      assert.equal(n1, core.execution_name(assert(d.state:get(id_of(1))), id_of(1)))
      local url = core.console_url(OLD .. "FAILED")
      assert.equal(uuid.uuid5(uuid.NAMESPACE_URL, id_of(1) .. "/['" .. url .. "']"), n1)
      local r = core.process(d, { payload(1) })[1]
      assert.equal("arn:aws:states:local:000000000000:execution:cirrus-minimal:" .. n1, r.execution)
    end)

    it("records a failing workflow as FAILED and an InvalidInput one as INVALID", function()
      local r = core.process(d, { payload(1, { tasks = { [WF] = { fail = "boom" } } }) })[1]
      assert.equal("failed", r.status)
      assert.equal("RuntimeError: boom", assert(d.state:get(id_of(1))).last_error)
      r = core.process(d, { payload(2, { tasks = { [WF] = { fail = "no assets", invalid = true } } }) })[1]
      assert.equal("invalid", r.status)
      local rec = assert(d.state:get(id_of(2)))
      assert.same({ "INVALID", "InvalidInput: no assets" }, { rec.state, rec.last_error })
    end)

    it("fails a payload whose workflow does not exist", function()
      local p = payload(1)
      p.process[1].workflow = "no-such-workflow"
      local r = core.process(d, { p })[1]
      assert.equal("failed", r.status)
      assert.matches("^WorkflowNotFound: no workflow 'no%-such%-workflow'", assert(d.state:get(p.id)).last_error)
    end)
  end)

  describe("update-state", function()
    it("SUCCEEDED -> COMPLETED with the items' self links as outputs", function()
      seed(id_of(1), "PROCESSING")
      local out = payload(1)
      out.features[1].links = { { rel = "self", href = "s3://out/test-id1.json" } }
      assert.equal("COMPLETED", core.update(d, id_of(1), { status = "SUCCEEDED", output = json.encode(out) }))
      local rec = assert(d.state:get(id_of(1)))
      assert.same({ "COMPLETED", { "s3://out/test-id1.json" } }, { rec.state, rec.outputs })
    end)

    it("reads an output given as {url}", function()
      seed(id_of(1), "PROCESSING")
      local url = assert(d.payloads:put("big/out.json", json.encode(payload(1))))
      assert.equal("COMPLETED", core.update(d, id_of(1), { status = "SUCCEEDED", output = { url = url } }))
    end)

    it("FAILED -> FAILED with '<Error>: <errorMessage>', INVALID for InvalidInput errors", function()
      seed(id_of(1), "PROCESSING")
      seed(id_of(2), "PROCESSING")
      seed(id_of(3), "PROCESSING")
      assert.same({ "FAILED", "States.TaskFailed: boom" }, { core.update(d, id_of(1),
        { status = "FAILED", error = "States.TaskFailed", cause = "boom" }) })
      assert.same({ "INVALID", "cirrus.lib.errors.InvalidInput: bad item" }, { core.update(d, id_of(2),
        { status = "FAILED", error = "cirrus.lib.errors.InvalidInput", cause = '{"errorMessage": "bad item", "errorType": "InvalidInput"}' }) })
      assert.same({ "INVALID", "stactask.exceptions.InvalidInput: x" }, { core.update(d, id_of(3),
        { status = "FAILED", error = "stactask.exceptions.InvalidInput", cause = "x" }) })
      assert.equal("INVALID", assert(d.state:get(id_of(2))).state)
      assert.equal("States.TaskFailed: boom", assert(d.state:get(id_of(1))).last_error)
    end)

    it("TIMED_OUT -> FAILED, ABORTED -> ABORTED, RUNNING is refused", function()
      seed(id_of(1), "PROCESSING")
      seed(id_of(2), "PROCESSING")
      assert.same({ "FAILED", "TimedOutError: The step function execution timed out." },
        { core.update(d, id_of(1), { status = "TIMED_OUT" }) })
      assert.equal("ABORTED", core.update(d, id_of(2), { status = "ABORTED" }))
      assert.equal("ABORTED", assert(d.state:get(id_of(2))).state)
      assert.equal("invalid_input", select(3, core.update(d, id_of(2), { status = "RUNNING" })))
    end)

    it("chains process[1..]: a next definition, or a fork of several", function()
      local p = payload(1)
      p.id = id_of(1)
      p.process = json.array({ { workflow = "a" }, { workflow = "b" }, { workflow = "c" } })
      local n = core.next_payloads(p)
      assert.equal(1, #n)
      assert.is_nil(n[1].id)
      assert.same({ { workflow = "b" }, { workflow = "c" } }, n[1].process)
      p.process = json.array({ { workflow = "a" }, json.array({ { workflow = "b" }, { workflow = "d" } }) })
      n = core.next_payloads(p)
      assert.same({ "b", "d" }, { n[1].process[1].workflow, n[2].process[1].workflow })
      p.process = json.array({ { workflow = "a" } })
      assert.same({}, core.next_payloads(p))
    end)

    it("a chained payload without a queue is processed here", function()
      local p = payload(1)
      p.process[2] = { workflow = WF, collections = "chained" }
      local r = core.process(d, { p })[1]
      assert.equal("completed", r.status)
      local rec = assert(d.state:get("chained/workflow-" .. WF .. "/test-id1"))
      assert.equal("COMPLETED", rec.state)
    end)
  end)
end)

describe("cirrus commands on SQLite and a directory #unit", function()
  local dir, st, ps
  local CW = "manage-col_" .. WF

  local function mk(i)
    local p = payload(i)
    p.features[1].collection = "manage-col"
    assert(require("cirrus.core").prepare(p))
    return p
  end

  local function gf(args, stdin)
    local a = { "run" }
    for _, v in ipairs(args) do a[#a + 1] = v end
    for _, v in ipairs({ "--statedb", dir .. "/state.db", "--payload-bucket", dir .. "/payloads" }) do a[#a + 1] = v end
    return run.gfhost(a, { stdin = stdin, env = { CIRRUS_PROCESS_QUEUE_URL = "", CIRRUS_PAYLOAD_BUCKET = "",
      CIRRUS_BASE_WORKFLOW_ARN = "", CIRRUS_STATE_DB = "" } })
  end

  local function lines(s)
    local t = {}
    for l in s:gmatch("[^\n]+") do t[#t + 1] = l end
    return t
  end

  setup(function()
    dir = paths.tmpdir()
    st = assert(state.open({ path = dir .. "/state.db" }))
    ps = assert(payloads.open(dir .. "/payloads"))
    -- test_manage's seed: COMPLETED, FAILED with failed-error-message, FAILED with another error
    for i = 1, 12 do
      local p = mk(i)
      assert(ps:put_input(p.id, json.encode(p)))
      assert(st:claim(p.id, OLD .. i))
      assert(st:set_processing(p.id))
      if i <= 4 then assert(st:set_completed(p.id, {}))
      elseif i <= 8 then assert(st:set_failed(p.id, "failed-error-message: task " .. i))
      elseif i <= 11 then assert(st:set_failed(p.id, "States.Timeout: after " .. (i * 100) .. " s"))
      else assert(st:set_invalid(p.id, "InvalidInput: x")) end
    end
    st:close()
  end)

  teardown(function() fs.remove_tree(dir) end)

  local function ids(from, to)
    local t = {}
    for i = from, to do t[mk(i).id] = true end
    return t
  end

  for _, c in ipairs({
    { { "--state", "COMPLETED" }, ids(1, 4), 4 },
    { { "--state", "SUCCEEDED" }, ids(1, 4), 4 },
    { { "--state", "FAILED" }, ids(5, 11), 7 },
    { { "--since", "10d", "--state", "COMPLETED" }, ids(1, 4), 4 },
    { { "--state", "FAILED", "--error-prefix", "failed-error-message" }, ids(5, 8), 4 },
    { { "--limit", "1" }, ids(1, 12), 1 },
  }) do
    it("get_payloads " .. table.concat(c[1], " ") .. " --rerun prints the expected payloads with replace", function()
      local a = { "get_payloads", "--collections-workflow", CW, "--rerun" }
      for _, v in ipairs(c[1]) do a[#a + 1] = v end
      local r = gf(a)
      assert.equal(0, r.code, r.stderr)
      local got = lines(r.stdout)
      assert.equal(c[3], #got)
      local seen = {}
      for _, l in ipairs(got) do
        local p = assert(json.decode(l))
        assert.is_true(c[2][p.id], p.id)
        assert.is_nil(seen[p.id])
        seen[p.id] = true
        assert.is_true(p.process[1].replace)
      end
    end)
  end

  it("get_payloads prints newest first and reports a missing payload", function()
    os.remove(dir .. "/payloads/" .. mk(3).id .. "/input.json")
    local r = gf({ "get_payloads", "--collections-workflow", CW, "--state", "COMPLETED" })
    assert.equal(0, r.code, r.stderr)
    local got = {}
    for _, l in ipairs(lines(r.stdout)) do got[#got + 1] = json.decode(l).features[1].id end
    assert.same({ "test-id4", "test-id2", "test-id1" }, got)
    assert.matches("Payload ID: '" .. mk(3).id:gsub("%-", "%%-") .. "' was not found in the payload directory", r.stderr)
    assert.is_nil(json.decode(lines(r.stdout)[1]).process[1].replace)
    fs.write(dir .. "/payloads/" .. mk(3).id .. "/input.json", json.encode(mk(3)))
  end)

  it("get_payloads --payload-layout v2 reads the last execution's input.json", function()
    local v2 = dir .. "/v2"
    local p = mk(7)
    local exec = OLD .. 7
    fs.mkdir_p(v2 .. "/cirrus/executions/" .. p.id .. "/old-7")
    fs.write(v2 .. "/cirrus/executions/" .. p.id .. "/old-7/input.json", json.encode(p))
    local r = run.gfhost({ "run", "get_payloads", "--collections-workflow", CW, "--state", "FAILED",
      "--error-prefix", "failed-error-message: task 7", "--statedb", dir .. "/state.db", "--payload-bucket", v2,
      "--payload-layout", "v2" }, { env = { CIRRUS_PAYLOAD_BUCKET = "" } })
    assert.equal(0, r.code, r.stderr)
    assert.equal(p.id, json.decode(r.stdout).id)
    assert.equal(OLD .. 7, exec)
  end)

  it("get_payloads refuses bad options with exit 2", function()
    for _, a in ipairs({ { "--since", "10 d" }, { "--limit", "0" }, { "--limit", "50001" }, { "--state", "failed" } }) do
      local args = { "get_payloads", "--collections-workflow", CW }
      for _, v in ipairs(a) do args[#args + 1] = v end
      local r = gf(args)
      assert.equal(2, r.code, table.concat(a, " "))
    end
    assert.equal(2, gf({ "get_payloads" }).code)
  end)

  it("get_payloads --group-errors counts the FAILED records by error, with the prefix to rerun", function()
    local r = gf({ "get_payloads", "--collections-workflow", CW, "--group-errors", "--json" })
    assert.equal(0, r.code, r.stderr)
    local doc = assert(json.decode(r.stdout))
    assert.equal(7, doc.records)
    assert.equal(2, #doc.groups)
    assert.same({ 4, "failed-error-message: task " }, { doc.groups[1].count, doc.groups[1].error_prefix })
    assert.same({ 3, "States.Timeout: after " }, { doc.groups[2].count, doc.groups[2].error_prefix })
    r = gf({ "get_payloads", "--collections-workflow", CW, "--group-errors" })
    assert.equal(0, r.code)
    assert.matches("7 FAILED records of " .. CW:gsub("%-", "%%-") .. " in 2 error groups", r.stdout)
    assert.matches("      4  %-%-error%-prefix 'failed%-error%-message: task '", r.stdout)
  end)

  it("get_payloads | process (no queue) reruns the FAILED payloads here", function()
    local g = gf({ "get_payloads", "--collections-workflow", CW, "--state", "FAILED", "--error-prefix", "States.Timeout", "--rerun" })
    assert.equal(0, g.code, g.stderr)
    local r = gf({ "process" }, g.stdout)
    assert.equal(0, r.code, r.stderr)
    local got = {}
    for _, l in ipairs(lines(r.stdout)) do
      local x = json.decode(l)
      got[#got + 1] = x.status
      assert.is_true(ids(9, 11)[x.id])
    end
    assert.same({ "completed", "completed", "completed" }, got)
    local s2 = assert(state.open({ path = dir .. "/state.db" }))
    assert.equal("COMPLETED", assert(s2:get(mk(9).id)).state)
    assert.equal(2, #assert(s2:get(mk(9).id)).executions)
    s2:close()
  end)

  it("process reports bad lines with their number and goes on; accepts one pretty document", function()
    local input = json.encode(mk(20)) .. "\n{oops\n" .. json.encode({ id = "x" }) .. "\n\n" .. json.encode(mk(21)) .. "\n"
    local r = gf({ "process", "--dry-run" }, input)
    assert.equal(1, r.code)
    local l = lines(r.stdout)
    assert.equal(4, #l)
    assert.same({ 1, "dry-run" }, { json.decode(l[1]).line, json.decode(l[1]).status })
    assert.same({ 2, "failed" }, { json.decode(l[2]).line, json.decode(l[2]).status })
    assert.matches("bad JSON", json.decode(l[2]).error)
    assert.same({ 3, "failed" }, { json.decode(l[3]).line, json.decode(l[3]).status })
    assert.same({ 5, mk(21).id }, { json.decode(l[4]).line, json.decode(l[4]).id })
    r = gf({ "process", "--dry-run" }, json.encode(mk(22), { pretty = true }))
    assert.equal(0, r.code, r.stderr)
    assert.equal(mk(22).id, json.decode(r.stdout).id)
  end)

  it("payload get-id, validate and template", function()
    local fix = assert(require("spec.support.files").read(paths.fixtures .. "/cirrus/test-payload.json"))
    local r = run.gfhost({ "run", "payload", "get-id" }, { stdin = fix })
    assert.same({ 0, "sentinel-s2-l2a/workflow-cog-archive/S2B_17HQD_20201103_0_L2A\n" }, { r.code, r.stdout })
    local p = json.decode(fix)
    p.id = nil
    r = run.gfhost({ "run", "payload", "get-id" }, { stdin = json.encode(p) })
    assert.same({ 0, "sentinel-s2-l2a/workflow-cog-archive/S2B_17HQD_20201103_0_L2A\n" }, { r.code, r.stdout })
    r = run.gfhost({ "run", "payload", "validate" }, { stdin = '{"process": []}' })
    assert.equal(1, r.code)
    assert.matches("'process' field must be an array", r.stderr)
    assert.equal(0, run.gfhost({ "run", "payload", "validate" }, { stdin = fix }).code)
    local vf = dir .. "/vars.env"
    fs.write(vf, "# vars\nsucceed=false\nexport id_suffix='-7'\n")
    r = run.gfhost({ "run", "payload", "template", vf, "-x", "replace", "true" },
      { stdin = '{"succeed": ${succeed?true}, "replace": ${replace?false}, "id": "collection/workflow-minimal/item${id_suffix?}"}' })
    assert.equal(0, r.code, r.stderr)
    assert.same({ succeed = false, replace = true, id = "collection/workflow-minimal/item-7" }, json.decode(r.stdout))
    r = run.gfhost({ "run", "payload", "template" }, { stdin = "$missing" })
    assert.equal(1, r.code)
    assert.equal("$missing", run.gfhost({ "run", "payload", "template", "--silence-templating-errors" }, { stdin = "$missing" }).stdout)
  end)

  it("cirrus_update --events applies EventBridge status-change events", function()
    local s2 = assert(state.open({ path = dir .. "/state.db" }))
    local a, b = mk(40), mk(41)
    for _, p in ipairs({ a, b }) do
      assert(s2:claim(p.id, OLD .. "ev"))
      assert(s2:set_processing(p.id))
    end
    local out = mk(40)
    out.features[1].links = { { rel = "self", href = "s3://out/test-id40.json" } }
    local events = json.encode({ ["detail-type"] = "Step Functions Execution Status Change",
      detail = { executionArn = OLD .. "ev", status = "SUCCEEDED", input = json.encode(a), output = json.encode(out) } })
      .. "\n" .. json.encode({ detail = { executionArn = OLD .. "ev", status = "FAILED", input = json.encode(b),
      error = "States.TaskFailed", cause = "boom" } }) .. "\n"
    local r = gf({ "cirrus_update", "--events", "-" }, events)
    assert.equal(0, r.code, r.stderr)
    assert.equal(2, #lines(r.stdout))
    local ra, rb = assert(s2:get(a.id)), assert(s2:get(b.id))
    assert.same({ "COMPLETED", { "s3://out/test-id40.json" } }, { ra.state, ra.outputs })
    assert.same({ "FAILED", "States.TaskFailed: boom" }, { rb.state, rb.last_error })
    s2:close()
  end)

  it("run_workflow exits 0 with the output, 10 with last_error; get_state and get_execution show it", function()
    local r = gf({ "run_workflow", "-p", "0.05" }, json.encode(mk(30)))
    assert.equal(0, r.code, r.stderr)
    local out = assert(json.decode(r.stdout))
    assert.equal(mk(30).id, out.id)
    assert.matches("items/manage%-col/test%-id30.json$", out.features[1].links[1].href)
    local p = mk(31)
    p.process[1].tasks = { [WF] = { fail = "broken" } }
    r = gf({ "run_workflow", "-p", "0.05" }, json.encode(p))
    assert.equal(10, r.code, r.stderr)
    assert.same({ last_error = "RuntimeError: broken" }, json.decode(r.stdout))
    r = gf({ "get_state", mk(31).id, "--max-time", "0" })
    assert.equal(0, r.code, r.stderr)
    local s = json.decode(r.stdout)
    assert.same({ "FAILED", "RuntimeError: broken", 1 }, { s.state, s.last_error, #s.executions })
    assert.matches("^https://local%.console%.aws%.amazon%.com/states/home%?region=local#/v2/executions/details/arn:", s.executions[1])
    r = run.gfhost({ "run", "get_execution", "--payload-id", mk(31).id, "--statedb", dir .. "/state.db" })
    assert.equal(0, r.code, r.stderr)
    local e = json.decode(r.stdout)
    assert.same({ "local", "check", "failed" }, { e.mode, e.nodes[1].node, e.nodes[1].status })
    assert.equal(1, gf({ "get_state", "nope/workflow-x/y", "--max-time", "0" }).code)
    assert.equal(2, run.gfhost({ "run", "get_execution" }).code)
  end)
end)
