-- memory_profile.insights (the rules of memory_profiler.py, source-systems §1.7: query, windows,
-- regexes, the join of request lines with REPORT lines, statistics, CSV) and
-- memory_profile.query (StartQuery / GetQueryResults polling) with a scripted client.
local mp = require("memory_profile.insights")
local mq = require("memory_profile.query")
local json = require("gf.json")
local csv = require("gf.csv")

local T0 = 1714521600 -- 2024-05-01T00:00:00Z

local function req_line(rid, coll)
  local inner = { aws_request_id = rid, collection = coll }
  return json.encode({ level = "INFO", message = json.encode(inner) })
end

local function report(rid, billed, mem)
  return ("REPORT RequestId: %s\tDuration: %d.25 ms\tBilled Duration: %d ms\tMemory Size: 1024 MB\t"
    .. "Max Memory Used: %d MB\tInit Duration: 850.31 ms\t\n"):format(rid, billed - 1, billed, mem)
end

describe("memory_profile rules #unit", function()
  describe("constants of the original", function()
    it("query, limit, window and CSV header", function()
      assert.equal("fields @timestamp, @message\n"
        .. "| filter (@message like /Max Memory Used:/ or @message like /aws_request_id/)", mp.QUERY)
      assert.equal(10000, mp.LIMIT)
      assert.equal(300, mp.WINDOW)
      assert.equal("Collection,Mem Max,Mem Min,Mem Med,Mem Avg,Bill Max,Bill Min,Bill Med,Bill Avg,Sampled",
        table.concat(mp.HEADER, ","))
    end)

    it("log group: /aws/lambda/<name>, a full name as is", function()
      assert.equal("/aws/lambda/svc-tig", mp.log_group("svc-tig"))
      assert.equal("/custom/group", mp.log_group("/custom/group"))
      assert.has_error(function() mp.log_group(5) end, "bad argument #1 to 'log_group' (string expected, got number)")
    end)
  end)

  describe("windows", function()
    it("splits [start, stop) into non-overlapping inclusive 300 s windows; the last is shorter", function()
      local ws = assert(mp.windows(T0, T0 + 700, 300))
      assert.same({
        { index = 1, start = T0, stop = T0 + 299 },
        { index = 2, start = T0 + 300, stop = T0 + 599 },
        { index = 3, start = T0 + 600, stop = T0 + 699 },
      }, ws)
    end)

    it("one hour in 300 s windows is 12 windows covering every second once", function()
      local ws = assert(mp.windows(T0, T0 + 3600, 300))
      assert.equal(12, #ws)
      for i = 2, #ws do assert.equal(ws[i - 1].stop + 1, ws[i].start) end
      assert.equal(T0 + 3599, ws[12].stop)
    end)

    it("a one-second window and a range shorter than a window", function()
      assert.same({ { index = 1, start = 10, stop = 10 }, { index = 2, start = 11, stop = 11 } }, mp.windows(10, 12, 1))
      assert.same({ { index = 1, start = T0, stop = T0 + 9 } }, mp.windows(T0, T0 + 10, 300))
    end)

    it("bad ranges and widths are failures naming the input", function()
      assert.same({ nil, "empty time range: start 2024-05-01T00:00:00Z is not before end 2024-05-01T00:00:00Z",
        "invalid_input" }, { mp.windows(T0, T0, 300) })
      assert.same({ nil, "empty time range: start 2024-05-01T00:00:10Z is not before end 2024-05-01T00:00:00Z",
        "invalid_input" }, { mp.windows(T0 + 10, T0, 300) })
      assert.same({ nil, "window 0 s: must be at least 1 second", "invalid_input" }, { mp.windows(T0, T0 + 1, 0) })
      assert.same({ nil, "start -5: before 1970", "invalid_input" }, { mp.windows(-5, 10, 1) })
    end)

    it("raises on non-integer arguments", function()
      assert.has_error(function() mp.windows(1.5, 10, 1) end, "bad argument #1 to 'windows' (integer expected, got float)")
      assert.has_error(function() mp.windows(1, "10", 1) end, "bad argument #2 to 'windows' (integer expected, got string)")
    end)

    it("labels a window with its inclusive UTC bounds", function()
      assert.equal("2024-05-01T00:05:00Z..2024-05-01T00:09:59Z", mp.window_label({ start = T0 + 300, stop = T0 + 599 }))
    end)
  end)

  describe("parsing", function()
    it("message_of finds @message by field name", function()
      assert.equal("m", mp.message_of({ { field = "@timestamp", value = "t" }, { field = "@message", value = "m" },
        { field = "@ptr", value = "p" } }))
      assert.equal("m", mp.message_of({ { field = "@message", value = "m" } }))
      assert.is_nil(mp.message_of({ { field = "@timestamp", value = "t" } }))
      assert.is_nil(mp.message_of("x"))
    end)

    it("REPORT line: RequestId, Max Memory Used and Billed Duration", function()
      assert.same({ "8f5e-1", 412, 1524 }, { mp.parse_report(report("8f5e-1", 1524, 412)) })
      -- the first RequestId wins, as re.search
      assert.same({ "a", 1, 2 }, { mp.parse_report("RequestId: a RequestId: b Billed Duration: 2 ms Max Memory Used: 1 MB") })
    end)

    it("a REPORT line missing any of the three is skipped (HEAD requires all three)", function()
      assert.is_nil(mp.parse_report("REPORT RequestId: a\tDuration: 1 ms\tMax Memory Used: 5 MB"))
      assert.is_nil(mp.parse_report("REPORT RequestId: a\tBilled Duration: 2 ms\tMemory Size: 5 MB"))
      assert.is_nil(mp.parse_report("REPORT Billed Duration: 2 ms Max Memory Used: 5 MB"))
      assert.is_nil(mp.parse_report("REPORT RequestId: a Billed Duration: 2 ms Max Memory Used: 5.5 MB"))
      assert.is_nil(mp.parse_report("REPORT RequestId: a Billed Duration: 99999999999999999999 ms Max Memory Used: 5 MB"))
    end)

    it("request line: JSON whose message is JSON with aws_request_id and collection", function()
      assert.same({ "r1", "MODIS" }, { mp.parse_request_line(req_line("r1", "MODIS")) })
      assert.same({ "r1", false }, { mp.parse_request_line(req_line("r1", nil)) })
      assert.same({ "r1", false }, { mp.parse_request_line(req_line("r1", "")) })
    end)

    it("request lines the original skips", function()
      for _, text in ipairs({
        "aws_request_id r1 plain text",                                   -- not JSON
        '{"level": "INFO"}',                                              -- no message: '{}'
        '{"message": "aws_request_id=r1"}',                               -- message not JSON
        '{"message": {"aws_request_id": "r1", "collection": "C"}}',       -- message not a string
        '{"message": "{\\"aws_request_id\\": \\"\\", \\"collection\\": \\"C\\"}"}', -- empty id
        '{"message": "{\\"collection\\": \\"C\\"}", "aws_request_id": "r1"}', -- id only outside
        '{"message": "[1, 2]", "x": "aws_request_id"}',                   -- message not an object
        '["aws_request_id"]',                                             -- not an object
      }) do
        assert.is_nil(mp.parse_request_line(text), text)
      end
    end)
  end)

  describe("accumulator and statistics", function()
    it("joins request lines and REPORT lines by request id, in any order", function()
      local acc = mp.new()
      acc:add(report("a", 1524, 412))
      acc:add(req_line("a", "MODIS"))
      acc:add(req_line("b", "MODIS"))
      acc:add(report("b", 1311, 398))
      acc:add("START RequestId: a Version: $LATEST") -- neither kind: skipped
      assert.same({ a = { collection = "MODIS", memory = 412, billed = 1524, cpos = 2, mpos = 1 },
        b = { collection = "MODIS", memory = 398, billed = 1311, cpos = 3, mpos = 4 } }, acc.requests)
      assert.equal(5, acc.events)
      assert.equal(1, acc.skipped)
    end)

    it("a later position overrides an earlier one, whatever order they are added in", function()
      local a1, a2 = mp.new(), mp.new()
      local events = {
        { req_line("r", "FIRST"), 100001 }, { report("r", 10, 1), 100002 },
        { req_line("r", "SECOND"), 200001 }, { report("r", 20, 2), 200002 },
      }
      for i = 1, 4 do a1:add(events[i][1], events[i][2]) end
      for i = 4, 1, -1 do a2:add(events[i][1], events[i][2]) end
      assert.same(a1.requests, a2.requests)
      assert.equal("SECOND", a1.requests.r.collection)
      assert.equal(2, a1.requests.r.memory)
    end)

    it("a later request line without a collection drops the request (the original's update)", function()
      local acc = mp.new()
      acc:add(req_line("r", "MODIS"))
      acc:add(report("r", 10, 1))
      acc:add(req_line("r", nil))
      assert.same({}, mp.rows(acc))
    end)

    it("stats: min, max, average to 1 decimal, statistics.median, count", function()
      assert.same({ 398, 455, 421.7, 412, 3 }, { mp.stats({ 412, 398, 455 }) })
      assert.same({ 610, 615, 612.5, 612.5, 2 }, { mp.stats({ 615, 610 }) })
      assert.equal("float", math.type(select(4, mp.stats({ 1, 3 }))))   -- even: mean of the middle two
      assert.equal("integer", math.type(select(4, mp.stats({ 1, 3, 9 })))) -- odd: the middle value
      assert.same({ 0, 0, 0.0, 0, 1 }, { mp.stats({}) })                  -- an empty list counts as [0]
      assert.same({ 0, 1, 0.2, 0.0, 4 }, { mp.stats({ 0, 0, 0, 1 }) })     -- round(0.25, 1) == 0.2
      assert.same({ 5, 5, 5.0, 5, 1 }, { mp.stats({ 5 }) })
      assert.has_error(function() mp.stats(nil) end, "bad argument #1 to 'stats' (table expected, got nil)")
    end)

    it("stats does not reorder the caller's list", function()
      local v = { 3, 1, 2 }
      mp.stats(v)
      assert.same({ 3, 1, 2 }, v)
    end)

    it("rows: one per collection, sorted, in the header's column order; requests without REPORT count as 0", function()
      local acc = mp.new()
      acc:add(req_line("a", "MODIS")) acc:add(report("a", 1524, 412))
      acc:add(req_line("b", "MODIS")) acc:add(report("b", 1311, 398))
      acc:add(req_line("c", "ASCAT")) -- no REPORT
      acc:add(req_line("d", "VIIRS")) acc:add(report("d", 2400, 610))
      acc:add(req_line("e", "VIIRS")) acc:add("REPORT RequestId: e\tMax Memory Used: 5 MB") -- skipped report
      acc:add(report("x", 99, 999))   -- no request line: not counted
      assert.same({
        { "ASCAT", 0, 0, 0, 0.0, 0, 0, 0, 0.0, 1 },
        { "MODIS", 412, 398, 405.0, 405.0, 1524, 1311, 1417.5, 1417.5, 2 },
        { "VIIRS", 610, 610, 610, 610.0, 2400, 2400, 2400, 2400.0, 1 },
      }, mp.rows(acc))
    end)

    it("encodes the CSV like Python's csv.writer: CRLF, integers, floats with one decimal", function()
      local text = mp.encode_csv({ { "MODIS_A-JPL-L2P-v2019.0", 455, 398, 412, 421.7, 1802, 1311, 1524, 1545.7, 3 },
        { "VIIRS", 615, 610, 612.5, 612.5, 2400, 2301, 2350.5, 2350.5, 2 } })
      assert.equal("Collection,Mem Max,Mem Min,Mem Med,Mem Avg,Bill Max,Bill Min,Bill Med,Bill Avg,Sampled\r\n"
        .. "MODIS_A-JPL-L2P-v2019.0,455,398,412,421.7,1802,1311,1524,1545.7,3\r\n"
        .. "VIIRS,615,610,612.5,612.5,2400,2301,2350.5,2350.5,2\r\n", text)
      assert.equal("Collection,Mem Max,Mem Min,Mem Med,Mem Avg,Bill Max,Bill Min,Bill Med,Bill Avg,Sampled\n",
        mp.encode_csv({}, "\n"))
      -- a collection with a comma is quoted and reads back
      local back = csv.parse(mp.encode_csv({ { "a,b", 1, 1, 1, 1.0, 1, 1, 1, 1.0, 1 } }))
      assert.equal("a,b", back[2][1])
    end)

    it("add raises on a non-string message", function()
      assert.has_error(function() mp.new():add(nil) end, "bad argument #1 to 'add' (string expected, got nil)")
    end)
  end)
end)

-- {====== query polling with a scripted client ======

local function fake_client(script)
  local c = { calls = {} }
  function c:call(target, body, o)
    self.calls[#self.calls + 1] = { target = target, body = body, opts = o }
    local step = table.remove(script, 1)
    assert(step, "unexpected call " .. target)
    assert.equal(step[1], target)
    return table.unpack(step, 2)
  end
  return c
end

local function opts(extra)
  local slept = {}
  local now = 0
  local o = { log_group = "/aws/lambda/x", query = mp.QUERY, limit = 10000, total = 3,
    sleep = function(s) slept[#slept + 1] = s now = now + s end,
    clock = function() return now end }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o, slept
end

local W = { index = 2, start = T0 + 300, stop = T0 + 599 }
local LABEL = "window 2/3 2024-05-01T00:05:00Z..2024-05-01T00:09:59Z"

describe("memory_profile query polling #unit", function()
  it("starts the window's query and polls with backoff until Complete; partial results are ignored", function()
    local rows = { { { field = "@message", value = "m" } } }
    local c = fake_client({
      { "StartQuery", { queryId = "q1" } },
      { "GetQueryResults", { status = "Scheduled", results = {} } },
      { "GetQueryResults", { status = "Running", results = { { { field = "@message", value = "partial" } } } } },
      { "GetQueryResults", { status = "Unknown" } },
      { "GetQueryResults", { status = "Complete", results = rows, statistics = { recordsMatched = 1.0 } } },
    })
    local o, slept = opts({ poll = 1, factor = 2, max_poll = 3 })
    local got, info = mq.run_window(c, W, o)
    assert.same(rows, got)
    assert.same({ query_id = "q1", polls = 4, statistics = { recordsMatched = 1.0 }, truncated = false }, info)
    assert.same({ "StartQuery", { logGroupName = "/aws/lambda/x", startTime = T0 + 300, endTime = T0 + 599,
      queryString = mp.QUERY, limit = 10000 } }, { c.calls[1].target, c.calls[1].body })
    assert.same({ queryId = "q1" }, c.calls[2].body)
    assert.same({ 1, 2, 3, 3 }, slept)
  end)

  it("marks results truncated at the limit or when fewer rows came back than matched", function()
    local c = fake_client({
      { "StartQuery", { queryId = "q" } },
      { "GetQueryResults", { status = "Complete", results = { {}, {} }, statistics = { recordsMatched = 2 } } },
    })
    assert.is_true(select(2, mq.run_window(c, W, opts({ limit = 2 }))).truncated)
    c = fake_client({
      { "StartQuery", { queryId = "q" } },
      { "GetQueryResults", { status = "Complete", results = { {} }, statistics = { recordsMatched = 5 } } },
    })
    assert.is_true(select(2, mq.run_window(c, W, opts())).truncated)
  end)

  for _, status in ipairs({ "Failed", "Cancelled", "Timeout" }) do
    it("a query that ends " .. status .. " is a failure naming the window", function()
      local c = fake_client({
        { "StartQuery", { queryId = "q9" } },
        { "GetQueryResults", { status = "Running" } },
        { "GetQueryResults", { status = status, results = {} } },
      })
      assert.same({ nil, LABEL .. ": query q9 ended " .. status, "service" }, { mq.run_window(c, W, opts()) })
    end)
  end

  it("an unexpected status or a missing queryId is a parse failure", function()
    local c = fake_client({ { "StartQuery", { queryId = "q" } }, { "GetQueryResults", { status = "Weird" } } })
    assert.same({ nil, LABEL .. ": query q: unexpected status Weird", "parse" }, { mq.run_window(c, W, opts()) })
    c = fake_client({ { "StartQuery", {} } })
    assert.same({ nil, LABEL .. ": StartQuery answered without a queryId", "parse" }, { mq.run_window(c, W, opts()) })
  end)

  it("an AWS error from StartQuery or GetQueryResults is returned with the window and its code", function()
    local c = fake_client({ { "StartQuery", nil, "logs.StartQuery /aws/lambda/x: 400 ResourceNotFoundException: "
      .. "The specified log group does not exist.", "not_found" } })
    assert.same({ nil, LABEL .. ": logs.StartQuery /aws/lambda/x: 400 ResourceNotFoundException: The specified log "
      .. "group does not exist.", "not_found" }, { mq.run_window(c, W, opts()) })
    c = fake_client({ { "StartQuery", { queryId = "q" } },
      { "GetQueryResults", nil, "logs.GetQueryResults q: network down", "network" } })
    assert.same({ nil, LABEL .. ": logs.GetQueryResults q: network down", "network" }, { mq.run_window(c, W, opts()) })
  end)

  it("retries a throttled StartQuery with backoff, then gives up after start_attempts", function()
    local c = fake_client({
      { "StartQuery", nil, "LimitExceededException", "throttled" },
      { "StartQuery", { queryId = "q" } },
      { "GetQueryResults", { status = "Complete", results = {} } },
    })
    local o, slept = opts({ poll = 0.5, factor = 2 })
    assert.same({}, (mq.run_window(c, W, o)))
    assert.same({ 0.5, 0.5 }, slept) -- one backoff before the retry, then the first poll wait
    c = fake_client({
      { "StartQuery", nil, "busy 1", "throttled" }, { "StartQuery", nil, "busy 2", "throttled" },
    })
    assert.same({ nil, LABEL .. ": busy 2", "throttled" }, { mq.run_window(c, W, opts({ start_attempts = 2 })) })
  end)

  it("gives up after the timeout, stops the query and names the window", function()
    local script = { { "StartQuery", { queryId = "qs" } } }
    for _ = 1, 20 do script[#script + 1] = { "GetQueryResults", { status = "Running" } } end
    local c = fake_client(script)
    local o, slept = opts({ poll = 1, factor = 2, max_poll = 4, timeout = 10 })
    -- StopQuery is the call after the last poll
    local got = { mq.run_window(setmetatable({ call = function(self, t, b, x)
      if t == "StopQuery" then self.stopped = b.queryId return { success = true } end
      return c:call(t, b, x)
    end }, {}), W, o) }
    assert.same({ nil, LABEL .. ": query qs still Running after 10s (stopped)", "timeout" }, got)
    assert.same({ 1, 2, 4, 3 }, slept) -- the last wait is cut to the time left
  end)

  it("raises on misuse", function()
    assert.has_error(function() mq.run_window({}, W, opts()) end, "bad argument #1 to 'run_window' (client with :call expected)")
    assert.has_error(function() mq.run_window(fake_client({}), { start = 1 }, opts()) end,
      "bad argument #2 to 'run_window' (window {start =, stop =} expected)")
    assert.has_error(function() mq.run_window(fake_client({}), W, { query = "q", limit = 1 }) end,
      "memory_profile_query: opts.log_group is required")
  end)

  it("run: windows in parallel up to the bound; a fatal error stops the windows not yet started", function()
    local ws = assert(mp.windows(T0, T0 + 1500, 300))
    local active, max_active = 0, 0
    local client = { call = function(_, target, body)
      if target == "StartQuery" then
        if body.startTime == T0 + 600 then return nil, "denied", "auth" end
        active = active + 1
        max_active = math.max(max_active, active)
        return { queryId = tostring(body.startTime) }
      end
      active = active - 1
      return { status = "Complete", results = { { { field = "@message", value = body.queryId } } } }
    end }
    local seen = {}
    local task = require("gf.task")
    local failures = mq.run(client, ws, { log_group = "/g", query = "q", limit = 10, concurrency = 2,
      poll = 0.001, sleep = task.sleep,
      on_rows = function(w, rows) seen[#seen + 1] = w.index .. "=" .. rows[1][1].value end })
    assert.equal(2, max_active)
    assert.equal(1, #failures)
    assert.same({ "auth", 3 }, { failures[1].code, failures[1].window.index })
    assert.equal("window 3/5 2024-05-01T00:10:00Z..2024-05-01T00:14:59Z: denied", failures[1].message)
    -- windows 4 and 5 were never started
    assert.equal(2, failures.skipped)
    table.sort(seen)
    assert.same({ "1=" .. T0, "2=" .. (T0 + 300) }, seen)
  end)

  it("run: a window that ends Failed does not stop the others", function()
    local ws = assert(mp.windows(T0, T0 + 900, 300))
    local client = { call = function(_, target, body)
      if target == "StartQuery" then return { queryId = tostring(body.startTime) } end
      return { status = body.queryId == tostring(T0 + 300) and "Failed" or "Complete", results = {} }
    end }
    local done = {}
    local failures = mq.run(client, ws, { log_group = "/g", query = "q", limit = 10, poll = 0.001,
      sleep = require("gf.task").sleep, on_done = function(w, ok) done[w.index] = ok end })
    assert.same({ true, false, true }, done)
    assert.equal(1, #failures)
    assert.equal(0, failures.skipped)
    assert.equal("window 2/3 2024-05-01T00:05:00Z..2024-05-01T00:09:59Z: query " .. (T0 + 300) .. " ended Failed",
      failures[1].message)
  end)
end)
