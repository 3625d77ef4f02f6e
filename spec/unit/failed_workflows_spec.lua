-- failed_workflows.errors: reading an execution history the way AWS writes it, the masks,
-- the token Levenshtein similarity, the grouping and the original's output lines.
local fw = require("failed_workflows.errors")
local json = require("gf.json")

local function lines(s)
  local t = {}
  for l in s:gmatch("([^\n]*)\n") do t[#t + 1] = l end
  return t
end

local COLLECTION = "MODIS_A-JPL-L2P-v2019.0"
local GID = "20200115120000-JPL-L2P_GHRSST-SSTskin-MODIS_A-D-v02.0-fv01.0"
local EX = {
  executionArn = "arn:aws:states:us-west-2:123456789012:execution:podaac-backfill-forge:7d5e0e0c-1f3a-4b7e-9c1d-2a6f3b8e9d10",
  name = "7d5e0e0c-1f3a-4b7e-9c1d-2a6f3b8e9d10", startDate = 1700000000.5, stopDate = 1700000100.25,
}

local function cumulus(extra)
  local m = {
    cumulus_meta = { execution_name = "c0ffee00-0000-4000-8000-000000000001", state_machine = "forge" },
    meta = { collection = { name = COLLECTION, version = "2019.0" } },
    payload = { granules = { { granuleId = GID, dataType = COLLECTION } } },
  }
  for k, v in pairs(extra or {}) do m[k] = v end
  return json.encode(m)
end

local function scan(events)
  local s = fw.scanner()
  for _, e in ipairs(events) do s:add(e) end
  return s
end

local LAMBDA_CAUSE = json.encode({ errorMessage = "Footprint of " .. GID .. " has 2 points",
  errorType = "FootprintError", stackTrace = { "  File \"/var/task/forge.py\", line 88, in handler" } })

-- the history of a Cumulus workflow whose Lambda failed twice, was caught into $.exception and
-- ended in the WorkflowFailed Fail state
local function caught_history()
  return {
    { id = 1, type = "ExecutionStarted", executionStartedEventDetails = { input = cumulus() } },
    { id = 2, type = "TaskStateEntered", stateEnteredEventDetails = { name = "Forge", input = cumulus() } },
    { id = 3, type = "LambdaFunctionScheduled", lambdaFunctionScheduledEventDetails = { resource = "arn:aws:lambda:x" } },
    { id = 4, type = "LambdaFunctionFailed", lambdaFunctionFailedEventDetails = { error = "Lambda.Unknown", cause = "first try" } },
    { id = 5, type = "LambdaFunctionFailed", lambdaFunctionFailedEventDetails = { error = "FootprintError", cause = LAMBDA_CAUSE } },
    { id = 6, type = "TaskStateExited", stateExitedEventDetails = { name = "Forge", output = "{}" } },
    { id = 7, type = "FailStateEntered", stateEnteredEventDetails = { name = "WorkflowFailed",
      input = cumulus({ exception = { Error = "FootprintError", Cause = LAMBDA_CAUSE } }) } },
    { id = 8, type = "ExecutionFailed", executionFailedEventDetails = { error = "FootprintError", cause = "Workflow failed" } },
  }
end

describe("failed_workflows.errors #unit", function()
  describe("scanner and record", function()
    it("reads a caught Lambda error like the original (exception.Cause of the failing state's input)", function()
      local s = scan(caught_history())
      assert.equal(8, s.events)
      assert.same({ type = "LambdaFunctionFailed", error = "FootprintError", cause = LAMBDA_CAUSE }, s.task)
      assert.same({
        execution_arn = EX.executionArn, name = EX.name, start_date = 1700000000.5, stop_date = 1700000100.25,
        state = "WorkflowFailed", execution_name = "c0ffee00-0000-4000-8000-000000000001",
        granule_id = GID, collection = COLLECTION, error = LAMBDA_CAUSE, error_type = "FootprintError",
        source = "exception", message = "Footprint of " .. GID .. " has 2 points",
      }, fw.record(EX, s))
    end)

    it("prefers details.errorMessage, as the original did", function()
      local s = scan({
        { type = "TaskStateEntered", stateEnteredEventDetails = { name = "Tig", input = cumulus({
          details = { errorMessage = "Image variable sst missing", errorType = "TigError" },
          exception = { Error = "X", Cause = "ignored" } }) } },
        { type = "ExecutionFailed", executionFailedEventDetails = { error = "States.TaskFailed" } },
      })
      local r = fw.record(EX, s)
      assert.same({ "Image variable sst missing", "TigError", "details", "Image variable sst missing" },
        { r.error, r.error_type, r.source, r.message })
    end)

    it("falls back to the failing task's error, then to ExecutionFailed, then to nothing", function()
      local r = fw.record(EX, scan({
        { type = "TaskStateEntered", stateEnteredEventDetails = { name = "Run", input = '{"meta":{"collection":{"name":"C1"}}}' } },
        { type = "TaskFailed", taskFailedEventDetails = { resourceType = "ecs", error = "States.TaskFailed", cause = "Essential container exited" } },
        { type = "ExecutionFailed", executionFailedEventDetails = { error = "States.TaskFailed", cause = "Essential container exited" } },
      }))
      assert.same({ "Essential container exited", "States.TaskFailed", "task", EX.name, "C1", nil },
        { r.error, r.error_type, r.source, r.execution_name, r.collection, r.granule_id })

      r = fw.record(EX, scan({
        { type = "TaskStateEntered", stateEnteredEventDetails = { name = "Run", input = "not json {" } },
        { type = "ActivityTimedOut", activityTimedOutEventDetails = { error = "States.Timeout" } },
        { type = "ExecutionFailed", executionFailedEventDetails = { error = "States.Timeout" } },
      }))
      assert.same({ "States.Timeout", "States.Timeout", "task", "States.Timeout" },
        { r.error, r.error_type, r.source, r.message })

      r = fw.record(EX, scan({
        { type = "ExecutionStarted", executionStartedEventDetails = { input = "{}" } },
        { type = "ExecutionFailed", executionFailedEventDetails = { error = "States.Runtime", cause = "An error occurred while executing the state 'X' (entered at the event id #2). Invalid path '$.a'" } },
      }))
      assert.same({ "An error occurred while executing the state 'X' (entered at the event id #2). Invalid path '$.a'",
        "States.Runtime", "execution", nil }, { r.error, r.error_type, r.source, r.state })

      r = fw.record(EX, scan({ { type = "ExecutionStarted" }, { type = "ExecutionFailed" } }))
      assert.same({ nil, nil, "none", "" }, { r.error, r.error_type, r.source, r.message })
    end)

    it("ignores events that are not tables and Execution* failures as task failures", function()
      local s = fw.scanner()
      s:add("x")
      s:add({ id = 1 })
      s:add({ type = "ExecutionTimedOut", executionTimedOutEventDetails = { error = "States.Timeout" } })
      assert.equal(2, s.events)
      assert.is_nil(s.task)
    end)

    it("raises for wrong argument types", function()
      assert.has_error(function() fw.record("x", fw.scanner()) end,
        "bad argument #1 to 'record' (table expected, got string)")
      assert.has_error(function() fw.record(EX, {}) end, "bad argument #2 to 'record' (scanner expected)")
    end)
  end)

  describe("normalize", function()
    it("masks the record's granule and collection, ARNs, URLs, UUIDs, long ids, hex and numbers", function()
      assert.equal("Footprint of <granule> (<collection>) has <n> points, need <n>",
        fw.normalize("Footprint of " .. GID .. " (" .. COLLECTION .. ") has 2 points, need 4",
          { granule_id = GID, collection = COLLECTION }))
      assert.equal("Task <arn> timed out after <n> s; see <url> request <uuid>",
        fw.normalize("Task arn:aws:lambda:us-west-2:123456789012:function:forge timed out after  900.05 s;\n"
          .. "see https://example.com/a?b=1 request 0f8fad5b-d9cb-469f-a165-70867728950e"))
      assert.equal("granule <id> md<n> <hex> and deadbeefcafe kept",
        fw.normalize("granule ascat_20200101_000000_metopa_68000_eps_o_250_3202_ovw.l2 md5 "
          .. "9e107d9d372bb6826bd81d3542a419d6 and deadbeefcafe kept"))
      assert.equal("", fw.normalize(nil))
    end)

    it("raises for wrong argument types", function()
      assert.has_error(function() fw.normalize(12) end, "bad argument #1 to 'normalize' (string expected, got number)")
      assert.has_error(function() fw.normalize("x", "y") end, "bad argument #2 to 'normalize' (table expected, got string)")
    end)
  end)

  describe("tokens and similarity", function()
    it("lower-cases words, drops punctuation and caps the count", function()
      assert.same({ "an", "error", "occurred", "nosuchkey", "<n>" }, fw.tokens("An error occurred (NoSuchKey): <n>!"))
      assert.equal(fw.MAX_TOKENS, #fw.tokens(("w "):rep(500)))
      assert.has_error(function() fw.tokens({}) end, "bad argument #1 to 'tokens' (string expected, got table)")
    end)

    it("is 1 - token edit distance / longer length", function()
      assert.equal(3, fw.levenshtein({ "k", "i", "t", "t", "e", "n" }, { "s", "i", "t", "t", "i", "n", "g" }))
      -- with a limit it gives up once the distance must exceed it
      assert.equal(3, fw.levenshtein({ "a", "b", "c", "d" }, { "w", "x", "y", "z" }, 2))
      assert.equal(2, fw.levenshtein({ "a", "b", "c", "d" }, { "a", "x", "y", "d" }, 2))
      assert.equal(1.0, fw.similarity({}, {}))
      assert.equal(0.0, fw.similarity({ "a" }, {}))
      assert.equal(1.0, fw.similarity({ "a", "b" }, { "a", "b" }))
      assert.near(2 / 3, fw.similarity({ "a", "b", "c" }, { "a", "x", "c" }), 1e-12)
      assert.near(0.75, fw.similarity({ "a", "b", "c", "d" }, { "a", "b", "c" }), 1e-12)
      assert.has_error(function() fw.similarity("a", {}) end, "bad argument #1 to 'similarity' (table expected, got string)")
      assert.has_error(function() fw.similarity({}, nil) end, "bad argument #2 to 'similarity' (table expected, got nil)")
    end)
  end)

  describe("group", function()
    local function rec(msg, extra)
      local r = { message = msg, error = msg }
      for k, v in pairs(extra or {}) do r[k] = v end
      return r
    end

    it("puts errors that differ only in masked parts or a few words together, others apart", function()
      local rs = {
        rec("Task timed out after 900.05 seconds", { error_type = "States.Timeout" }),
        rec("An error occurred (AccessDenied) when calling the GetObject operation: Access Denied"),
        rec("Task timed out after 300.00 seconds", { error_type = "Lambda.Timeout" }),
        rec("An error occurred (NoSuchKey) when calling the GetObject operation: The specified key does not exist."),
        rec("Footprint of G1234 has 2 points", { granule_id = "G1234" }),
        rec("Footprint of G98765 has 3 points", { granule_id = "G98765" }),
        rec("Task timed out after 12 seconds", { error_type = "States.Timeout" }),
        rec("An error occurred (AccessDenied) when calling the PutObject operation: Access Denied"),
      }
      local gs = fw.group(rs)
      assert.equal(4, #gs)
      assert.same({ 3, "Task timed out after <n> seconds", rs[1], { "States.Timeout", "Lambda.Timeout" } },
        { gs[1].count, gs[1].pattern, gs[1].first, gs[1].error_types })
      assert.same({ rs[1], rs[3], rs[7] }, gs[1].members)
      -- a one-word difference (GetObject / PutObject: 10 of 11 words alike) is the same error
      assert.same({ 2, { rs[2], rs[8] } }, { gs[2].count, gs[2].members })
      assert.same({ 2, { rs[5], rs[6] }, "Footprint of <granule> has <n> points" },
        { gs[3].count, gs[3].members, gs[3].pattern })
      assert.same({ 1, { rs[4] }, {} }, { gs[4].count, gs[4].members, gs[4].error_types })
    end)

    it("takes its threshold: 1 keeps every distinct pattern apart, 0 joins everything", function()
      local rs = { rec("a b c d"), rec("a b c e"), rec("x y"), rec("a b c d") }
      local gs = fw.group(rs, { threshold = 1 })
      assert.same({ 2, 1, 1 }, { gs[1].count, gs[2].count, gs[3].count })
      assert.same({ rs[1], rs[4] }, gs[1].members)
      assert.equal(1, #fw.group(rs, { threshold = 0 }))
      -- 3 of 4 words: joins at 0.75, not at 0.76
      assert.equal(2, #fw.group(rs, { threshold = 0.75 }))
      assert.equal(3, #fw.group(rs, { threshold = 0.76 }))
    end)

    it("joins the most similar group, not the first one above the threshold", function()
      local base = "a b c d e f g h i j k l m n o p q r s t"
      local r1 = rec(base)
      local r2 = rec((base:gsub("o p q r s t", "u v w x y z")))      -- 6 of 20 differ from r1: 0.7
      local r3 = rec((base:gsub("q r s t", "w x y z")))              -- 0.8 to r1, 0.9 to r2
      local gs = fw.group({ r1, r2, r3 }, { threshold = 0.75 })
      assert.equal(2, #gs)
      assert.same({ r2, r3 }, gs[1].members)
      assert.same({ r1 }, gs[2].members)
    end)

    it("ties on count keep the order first seen; empty input gives no groups", function()
      local rs = { rec("one thing"), rec("another problem entirely") }
      local gs = fw.group(rs)
      assert.same({ rs[1], rs[2] }, { gs[1].first, gs[2].first })
      assert.same({}, fw.group({}))
    end)

    it("raises for wrong argument types and thresholds", function()
      assert.has_error(function() fw.group("x") end, "bad argument #1 to 'group' (table expected, got string)")
      assert.has_error(function() fw.group({}, { threshold = 2 }) end,
        "bad argument #2 to 'group' (threshold must be a number from 0 to 1)")
      assert.has_error(function() fw.group({}, { threshold = "0.5" }) end,
        "bad argument #2 to 'group' (threshold must be a number from 0 to 1)")
      assert.has_error(function() fw.group({ "x" }) end, "bad argument #1 to 'group' (record 1 is a string, not a table)")
    end)
  end)

  describe("text_lines", function()
    it("prints the original's lines, None for a missing value", function()
      local r1 = fw.record(EX, scan(caught_history()))
      local r2 = fw.record({ executionArn = "arn:x", name = "n2" }, scan({ { type = "ExecutionFailed" } }))
      local gs = fw.group({ r1, r2, r1 })
      assert.same({
        "Number of unique errors found: 2",
        "Execution UUID :  c0ffee00-0000-4000-8000-000000000001",
        "Execution Arn :  " .. EX.executionArn,
        "Collection : " .. COLLECTION,
        "Granule Id : " .. GID,
        "Error :  " .. LAMBDA_CAUSE,
        "Failed executions : 2",
        ("#"):rep(61),
        "Execution UUID :  n2",
        "Execution Arn :  arn:x",
        "Collection : None",
        "Granule Id : None",
        "Error :  None",
        "Failed executions : 1",
        ("#"):rep(61),
      }, fw.text_lines(gs))
      assert.same({ "Number of unique errors found: 0" }, fw.text_lines({}))
      assert.has_error(function() fw.text_lines(nil) end, "bad argument #1 to 'text_lines' (table expected, got nil)")
    end)
  end)

  -- the script itself, in process, over a fake Step Functions client
  describe("the script over a fake gf.awsjson", function()
    local mocker = require("spec.support.mocker")
    local paths = require("spec.support.paths")
    local task = require("gf.task")
    local SM = "arn:aws:states:us-west-2:123456789012:stateMachine:forge"

    local function fake_sfn(n, o)
      o = o or {}
      local st = { calls = {}, inflight = 0, max_inflight = 0, opts = nil }
      local exs = {}
      for i = 1, n do
        exs[i] = { executionArn = SM:gsub("stateMachine", "execution") .. ":e" .. i, name = "e" .. i,
          status = "FAILED" }
      end
      local function history(i, page)
        local input = json.encode({ cumulus_meta = { execution_name = "u" .. i },
          payload = { granules = { { granuleId = "G" .. (1000 + i), dataType = "C1" } } } })
        local msg = (i % 2 == 0) and ("Task timed out after %d seconds"):format(i) or ("No such key G%d.nc"):format(1000 + i)
        if i == 5 then -- two pages
          if page == 1 then
            return { events = { { type = "TaskStateEntered", stateEnteredEventDetails = { name = "P", input = input } } },
              nextToken = "p2" }
          end
          return { events = { { type = "TaskFailed", taskFailedEventDetails = { error = "E", cause = msg } },
            { type = "ExecutionFailed", executionFailedEventDetails = {} } }, nextToken = json.null }
        end
        return { events = { { type = "TaskStateEntered", stateEnteredEventDetails = { name = "P", input = input } },
          { type = "TaskFailed", taskFailedEventDetails = { error = "E", cause = msg } },
          { type = "ExecutionFailed", executionFailedEventDetails = {} } } }
      end
      local Client = {}
      Client.__index = Client
      function Client:call(target, params)
        st.calls[#st.calls + 1] = { target, params }
        if target == "ListExecutions" then
          if o.list_error then return nil, o.list_error[1], o.list_error[2] end
          local from = tonumber(params.nextToken or "0")
          local page = {}
          for i = from + 1, math.min(from + params.maxResults, n) do page[#page + 1] = exs[i] end
          local more = from + params.maxResults < n
          return { executions = page, nextToken = more and tostring(from + params.maxResults) or json.null }
        end
        assert(target == "GetExecutionHistory", target)
        st.inflight = st.inflight + 1
        st.max_inflight = math.max(st.max_inflight, st.inflight)
        task.sleep(0.005)
        st.inflight = st.inflight - 1
        local i = tonumber(params.executionArn:match(":e(%d+)$"))
        if i == o.broken then
          return nil, "states.GetExecutionHistory " .. params.executionArn .. ": 500 InternalError", "service"
        end
        return history(i, params.nextToken == "p2" and 2 or 1)
      end
      local fake = { client = function(copts) st.opts = copts return setmetatable({}, Client) end }
      return fake, st
    end

    local function run_script(fake, argv)
      mocker.setup(finally, { modules = { { "gf.awsjson", fake } } })
      local out, err = io.tmpfile(), io.tmpfile()
      local real_out, real_err = io.stdout, io.stderr
      io.stdout, io.stderr = out, err
      local chunk = assert(loadfile(paths.root .. "/scripts/failed_workflows.lua"))
      local ok, e = pcall(chunk, table.unpack(argv))
      io.stdout, io.stderr = real_out, real_err
      out:seek("set")
      err:seek("set")
      local o, r = out:read("a"), err:read("a")
      out:close()
      err:close()
      return ok, e, o, r
    end

    local function calls_of(st, target)
      local t = {}
      for _, c in ipairs(st.calls) do if c[1] == target then t[#t + 1] = c[2] end end
      return t
    end

    it("reads every page of executions and of each history, with at most --concurrency reads at once", function()
      local fake, st = fake_sfn(7)
      local ok, e, out, err = run_script(fake, { "--workflow_arn", SM, "--profile_name", "ops",
        "--page-size", "3", "--concurrency", "2" })
      assert.same({ true, 0 }, { ok, e })
      assert.same({ service = "states", region = "us-west-2", profile = "ops" }, st.opts)
      local lists = calls_of(st, "ListExecutions")
      assert.same({ { stateMachineArn = SM, statusFilter = "FAILED", maxResults = 3 },
        { stateMachineArn = SM, statusFilter = "FAILED", maxResults = 3, nextToken = "3" },
        { stateMachineArn = SM, statusFilter = "FAILED", maxResults = 3, nextToken = "6" } }, lists)
      assert.equal(8, #calls_of(st, "GetExecutionHistory")) -- e5 has two pages
      assert.equal(2, st.max_inflight)
      local l = lines(out)
      assert.equal("Number of unique errors found: 2", l[1])
      assert.equal("Failed executions : 4", l[7])
      assert.equal("Error :  No such key G1001.nc", l[6])
      assert.equal("Failed executions : 3", l[14])
      assert.matches("^Scanned 7 FAILED executions %(3 ListExecutions pages%)", err)
    end)

    it("--limit asks for no more than it needs", function()
      local fake, st = fake_sfn(7)
      local ok, e = run_script(fake, { "--workflow-arn", SM, "--page-size", "3", "--limit", "4", "--region", "eu-west-1",
        "--endpoint-url", "http://127.0.0.1:9" })
      assert.same({ true, 0 }, { ok, e })
      assert.same({ service = "states", region = "eu-west-1", endpoint = "http://127.0.0.1:9" }, st.opts)
      local lists = calls_of(st, "ListExecutions")
      assert.same({ 3, 1 }, { lists[1].maxResults, lists[2].maxResults })
      assert.equal(4, #calls_of(st, "GetExecutionHistory"))
    end)

    it("prints what it could read, names the unreadable history and exits 1", function()
      local fake = fake_sfn(7, { broken = 3 })
      local ok, e, out, err = run_script(fake, { "--workflow-arn", SM, "--json" })
      assert.is_false(ok)
      assert.same({ "failed_workflows: 1 of 7 execution histories could not be read", 1 }, { e.message, e.exit })
      local doc = assert(json.decode(out))
      assert.same({ 7, 1, 2 }, { doc.failed_executions, doc.unreadable, doc.unique_errors })
      assert.same({ { execution_arn = SM:gsub("stateMachine", "execution") .. ":e3", code = "service",
        message = "states.GetExecutionHistory " .. SM:gsub("stateMachine", "execution") .. ":e3: 500 InternalError" } },
        doc.errors)
      assert.same({ 3, 3 }, { doc.groups[1].count, doc.groups[2].count })
      assert.matches("1 histories unreadable", err)
    end)

    it("turns a ListExecutions failure into one clear failure", function()
      local fake = fake_sfn(7, { list_error = { "states.ListExecutions " .. SM .. ": 400 AccessDeniedException: "
        .. "not authorized", "auth" } })
      local ok, e, out = run_script(fake, { "--workflow-arn", SM })
      assert.is_false(ok)
      assert.same({ "failed_workflows: states.ListExecutions " .. SM .. ": 400 AccessDeniedException: not authorized", 1 },
        { e.message, e.exit })
      assert.equal("", out)
    end)
  end)
end)
