-- gfhost run memory_profile end to end against spec/support/logs_server.py, a local CloudWatch
-- Logs endpoint that checks each request (target, SigV4 header, body against the API
-- reference) and answers with the recorded sessions in spec/support/logs/. Our own server on
-- an ephemeral port, so this runs without GF_TEST_SERVERS; it needs python3.
local json = require("gf.json")
local fs = require("gf.fs")
local paths = require("spec.support.paths")
local run = require("spec.support.run")

local LAMBDA = "svc-tig-podaac-services-uat-hitide-backfill-lambda"
local GROUP = "/aws/lambda/" .. LAMBDA
local T0 = 1714521600 -- 2024-05-01T00:00:00Z
local ENV = { AWS_ACCESS_KEY_ID = "test", AWS_SECRET_ACCESS_KEY = "test", AWS_EC2_METADATA_DISABLED = "true" }

local function scenario_path(name) return paths.root .. "/spec/support/logs/" .. name .. ".json" end

local function start_server(name)
  local dir = paths.tmpdir()
  local p = assert(io.popen(("python3 '%s/spec/support/logs_server.py' --scenario '%s' --ready '%s/ready' "
    .. ">'%s/log' 2>&1 & echo $!"):format(paths.root, scenario_path(name), dir, dir, dir)))
  local pid = tonumber(p:read("l"))
  p:close()
  for _ = 1, 200 do
    local s = fs.read(dir .. "/ready")
    local port = s and tonumber(s:match("%d+"))
    if port then return { pid = pid, port = port, dir = dir, url = "http://127.0.0.1:" .. port } end
    os.execute("sleep 0.02")
  end
  os.execute("kill " .. pid)
  error("logs_server did not start: " .. tostring(fs.read(dir .. "/log")))
end

local function stop_server(s)
  os.execute(("kill %d 2>/dev/null"):format(s.pid))
  os.execute(("rm -rf '%s'"):format(s.dir))
end

local function get(s, path)
  local h = io.popen(("curl -s %s%s"):format(s.url, path))
  local t = h:read("a")
  h:close()
  return assert(json.decode(t))
end

local function profile(srv, argv)
  local a = { "run", "memory_profile", "--aws_lambda_log", LAMBDA, "--region", "us-east-1", "--poll", "0.02" }
  if srv then a[#a + 1] = "--endpoint-url" a[#a + 1] = srv.url end
  for _, v in ipairs(argv) do a[#a + 1] = v end
  return run.gfhost(a, { env = ENV })
end

local function starts(reqs)
  local out = {}
  for _, r in ipairs(reqs) do
    if r.target == "Logs_20140328.StartQuery" then out[#out + 1] = r.body end
  end
  return out
end

describe("memory_profile end to end #unit", function()
  local tmp
  before_each(function() tmp = paths.tmpdir() end)
  after_each(function() os.execute("rm -rf " .. tmp) end)

  describe("recorded 15 minutes of the uat TIG lambda", function()
    local srv, expected
    before_each(function()
      srv = start_server("tig_uat_15m")
      local sc = json.decode(assert(fs.read(scenario_path("tig_uat_15m"))))
      expected = table.concat(sc.expected_csv, "\r\n") .. "\r\n"
    end)
    after_each(function() stop_server(srv) end)

    it("writes the original's CSV from three windows queried with a bound on concurrency", function()
      local out = tmp .. "/stats.csv"
      local r = profile(srv, { "--start", "2024-05-01T00:00:00Z", "--end", "2024-05-01T00:15:00Z",
        "--concurrency", "2", "--output", out })
      assert.equal(0, r.code, r.stderr)
      assert.equal(expected, fs.read(out))
      assert.equal("", r.stdout)
      assert.same({ "stats.csv" }, fs.list(tmp)) -- written by rename: no temporary left
      assert.matches("3 windows, 17 log events %(2 skipped%), 9 requests, 3 collections in [%d.]+ s %-> " .. out:gsub("%p", "%%%0"), r.stderr)
      assert.matches("INFO querying CloudWatch Logs Insights", r.stderr, 1, true)

      local reqs = get(srv, "/_requests")
      local ss = starts(reqs)
      -- the first window's StartQuery was throttled once (LimitExceededException) and retried
      assert.equal(4, #ss)
      local windows = {}
      for _, b in ipairs(ss) do
        assert.same({ endTime = b.endTime, limit = 10000, logGroupName = GROUP,
          queryString = "fields @timestamp, @message\n| filter (@message like /Max Memory Used:/ or @message like /aws_request_id/)",
          startTime = b.startTime }, b)
        windows[b.startTime] = b.endTime
      end
      assert.same({ [T0] = T0 + 299, [T0 + 300] = T0 + 599, [T0 + 600] = T0 + 899 }, windows)
      local stats = get(srv, "/_stats")
      assert.equal(0, stats.active)
      assert.is_true(stats.max_active >= 1 and stats.max_active <= 2, tostring(stats.max_active))
      local polls = 0
      for _, q in ipairs(reqs) do
        if q.target == "Logs_20140328.GetQueryResults" then polls = polls + 1 end
      end
      assert.equal(6, polls) -- 3 + 2 + 1 recorded polls to Complete
    end)

    it("--output - writes the same bytes to stdout; --concurrency 1 runs one query at a time", function()
      local r = profile(srv, { "--start", "2024-05-01T00:00:00Z", "--end", "2024-05-01T00:15:00Z",
        "--concurrency", "1", "--output", "-" })
      assert.equal(0, r.code, r.stderr)
      assert.equal(expected, r.stdout)
      assert.equal(1, get(srv, "/_stats").max_active)
    end)
  end)

  describe("--start_time hours ago (any window answered empty)", function()
    local srv
    before_each(function() srv = start_server("relative") end)
    after_each(function() stop_server(srv) end)

    it("default: the last hour in twelve contiguous 300 s windows; header-only CSV", function()
      local before = os.time()
      local r = profile(srv, { "--concurrency", "3", "--output", "-" })
      assert.equal(0, r.code, r.stderr)
      assert.equal("Collection,Mem Max,Mem Min,Mem Med,Mem Avg,Bill Max,Bill Min,Bill Med,Bill Avg,Sampled\r\n", r.stdout)
      local ss = starts(get(srv, "/_requests"))
      assert.equal(12, #ss)
      table.sort(ss, function(a, b) return a.startTime < b.startTime end)
      for i, b in ipairs(ss) do
        assert.equal(299, b.endTime - b.startTime)
        if i > 1 then assert.equal(ss[i - 1].endTime + 1, b.startTime) end
      end
      local stop = ss[12].endTime + 1
      assert.is_true(stop >= before and stop <= os.time() + 1)
      local stats = get(srv, "/_stats")
      assert.equal(3, stats.max_active) -- three at once, never more
    end)

    it("--start_time 0.5 with --window 10m is three windows", function()
      local r = profile(srv, { "--start_time", "0.5", "--window", "10m", "--output", tmp .. "/o.csv" })
      assert.equal(0, r.code, r.stderr)
      local ss = starts(get(srv, "/_requests"))
      assert.equal(3, #ss)
      for _, b in ipairs(ss) do assert.equal(599, b.endTime - b.startTime) end
    end)
  end)

  describe("failures", function()
    it("windows that end Failed and Timeout: exit 1, each window named, no CSV", function()
      local srv = start_server("failed_windows")
      local out = tmp .. "/stats.csv"
      local r = profile(srv, { "--start", "2024-05-01T00:00:00Z", "--end", "2024-05-01T00:15:00Z", "--output", out })
      stop_server(srv)
      assert.equal(1, r.code)
      assert.is_nil(fs.read(out))
      assert.matches("ERROR window 2/3 2024-05-01T00:05:00Z..2024-05-01T00:09:59Z: query "
        .. "8d5170a6-c2bf-4e95-9042-5f6e708192a3 ended Failed code=service", r.stderr, 1, true)
      assert.matches("ERROR window 3/3 2024-05-01T00:10:00Z..2024-05-01T00:14:59Z: query "
        .. "9e6281b7-d3c0-4fa6-8153-607f8192a3b4 ended Timeout code=service", r.stderr, 1, true)
      assert.matches("gfhost: memory_profile: 2 of 3 windows failed; no CSV written. First: window 2/3 "
        .. "2024-05-01T00:05:00Z..2024-05-01T00:09:59Z: query 8d5170a6-c2bf-4e95-9042-5f6e708192a3 ended Failed\n",
        r.stderr, 1, true)
    end)

    it("a 400 AWS error from StartQuery (no such log group) stops the windows not yet started", function()
      local srv = start_server("relative")
      local r = run.gfhost({ "run", "memory_profile", "--aws_lambda_log", "nope", "--region", "us-east-1",
        "--endpoint-url", srv.url, "--start", "2024-05-01T00:00:00Z", "--end", "2024-05-01T00:15:00Z",
        "--concurrency", "1", "--output", tmp .. "/o.csv" }, { env = ENV })
      local ss = starts(get(srv, "/_requests"))
      stop_server(srv)
      assert.equal(1, r.code)
      assert.equal(1, #ss)
      assert.matches("gfhost: memory_profile: 1 of 3 windows failed, 2 not run after it; no CSV written. First: "
        .. "window 1/3 2024-05-01T00:00:00Z..2024-05-01T00:04:59Z: logs.StartQuery /aws/lambda/nope: 400 "
        .. "ResourceNotFoundException: The specified log group does not exist.\n", r.stderr, 1, true)
      assert.is_nil(fs.read(tmp .. "/o.csv"))
    end)

    it("a 400 AWS error body from GetQueryResults names the window and the query", function()
      local srv = start_server("poll_error")
      local r = profile(srv, { "--start", "2024-05-01T00:00:00Z", "--end", "2024-05-01T00:05:00Z", "--output", "-" })
      stop_server(srv)
      assert.equal(1, r.code)
      assert.equal("", r.stdout)
      assert.matches("First: window 1/1 2024-05-01T00:00:00Z..2024-05-01T00:04:59Z: logs.GetQueryResults "
        .. "af7392c8-e4d1-40b7-9264-718192a3b4c5: 400 InvalidParameterException: Query "
        .. "'af7392c8-e4d1-40b7-9264-718192a3b4c5' is not valid.\n", r.stderr, 1, true)
    end)

    it("a query still Running after --query-timeout is stopped (StopQuery) and named", function()
      local srv = start_server("stuck")
      local r = profile(srv, { "--start", "2024-05-01T00:00:00Z", "--end", "2024-05-01T00:05:00Z",
        "--query-timeout", "0.3", "--max-poll", "0.1", "--output", "-" })
      local reqs = get(srv, "/_requests")
      stop_server(srv)
      assert.equal(1, r.code)
      assert.matches(("window 1/1 2024-05-01T00:00:00Z..2024-05-01T00:04:59Z: query "):gsub("%p", "%%%0")
        .. "[%x%-]+ still Running after 0%.3s %(stopped%) code=timeout", r.stderr)
      assert.equal("Logs_20140328.StopQuery", reqs[#reqs].target)
    end)

    it("a profile that does not exist is an auth failure before any request; later windows are not run", function()
      local srv = start_server("relative")
      assert(fs.write(tmp .. "/config", "[profile other]\nregion = us-west-2\n"))
      assert(fs.write(tmp .. "/credentials", "[other]\naws_access_key_id = a\naws_secret_access_key = b\n"))
      local r = run.gfhost({ "run", "memory_profile", "--aws_lambda_log", LAMBDA, "--aws_profile", "nosuch",
        "--region", "us-east-1", "--endpoint-url", srv.url, "--start", "2024-05-01T00:00:00Z",
        "--end", "2024-05-01T00:15:00Z", "--concurrency", "1", "--output", "-" },
        { env = { AWS_CONFIG_FILE = tmp .. "/config", AWS_SHARED_CREDENTIALS_FILE = tmp .. "/credentials",
          AWS_EC2_METADATA_DISABLED = "true" } })
      local reqs = get(srv, "/_requests")
      stop_server(srv)
      assert.equal(1, r.code)
      assert.same({}, reqs)
      assert.matches("gfhost: memory_profile: 1 of 3 windows failed, 2 not run after it; no CSV written. First: "
        .. "window 1/3 2024-05-01T00:00:00Z..2024-05-01T00:04:59Z: logs.StartQuery " .. GROUP .. ": ", r.stderr, 1, true)
      assert.matches("nosuch", r.stderr, 1, true)
      assert.equal("", r.stdout)
    end)

    it("an unreachable endpoint is a network failure naming the window", function()
      local r = profile({ url = "http://127.0.0.1:9" }, { "--start", "2024-05-01T00:00:00Z",
        "--end", "2024-05-01T00:05:00Z", "--output", "-" })
      assert.equal(1, r.code)
      assert.matches("First: window 1/1 2024-05-01T00:00:00Z..2024-05-01T00:04:59Z: logs.StartQuery " .. GROUP, r.stderr, 1, true)
    end)
  end)

  describe("options", function()
    local function bad(argv, message)
      local a = { "run", "memory_profile", "--aws_lambda_log", LAMBDA }
      for _, v in ipairs(argv) do a[#a + 1] = v end
      local r = run.gfhost(a, { env = ENV })
      assert.equal(2, r.code, r.stderr)
      assert.equal("", r.stdout)
      assert.matches("gfhost: " .. message, r.stderr, 1, true)
    end

    it("--help lists the options and exits 0", function()
      local r = run.gfhost({ "run", "memory_profile", "--help" })
      assert.equal(0, r.code)
      for _, o in ipairs({ "--aws-lambda-log", "--aws-profile", "--start-time", "--start", "--end", "--window",
        "--concurrency", "--output", "--endpoint-url", "--region", "--query-timeout" }) do
        assert.matches(o, r.stdout, 1, true)
      end
    end)

    it("bad dates name the option and the input", function()
      bad({ "--start", "2024-13-01" }, "memory_profile: --start '2024-13-01': not an ISO-8601 time (time.parse_iso8601 '2024-13-01': ")
      bad({ "--start", "2024-05-01", "--end", "yesterday" }, "memory_profile: --end 'yesterday': not an ISO-8601 time")
      bad({ "--start", "2024-05-02", "--end", "2024-05-01" },
        "memory_profile: --start 2024-05-02T00:00:00Z is not before --end 2024-05-01T00:00:00Z")
      bad({ "--start_time", "-1" }, "memory_profile: --start-time -1: must be a positive number of hours")
      bad({ "--start-time", "0.0001" }, "memory_profile: --start-time 0.0001: shorter than a second")
      bad({ "--start", "1969-12-31T23:59:00Z", "--end", "1970-01-01T00:01:00Z" }, "memory_profile: start -60: before 1970")
      bad({ "--start-time", "0" }, "memory_profile: --start-time 0: must be a positive number of hours")
      bad({ "--start_time", "soon" }, "--start-time: expected a number, got 'soon'")
    end)

    it("bad windows and bounds", function()
      bad({ "--window", "0" }, "memory_profile: --window 0: must be a whole number of seconds >= 1")
      bad({ "--window", "1.5" }, "memory_profile: --window 1.5: must be a whole number of seconds >= 1")
      bad({ "--window", "five" }, "--window: expected a duration")
      bad({ "--start", "2020-01-01", "--end", "2024-01-01" }, "memory_profile: 2020-01-01T00:00:00Z..2024-01-01T00:00:00Z "
        .. "in 300 s windows is 420768 queries (more than 10000): use a larger --window or a shorter range")
      bad({ "--concurrency", "0" }, "memory_profile: --concurrency 0: must be 1-30")
      bad({ "--concurrency", "31" }, "memory_profile: --concurrency 31: must be 1-30")
      bad({ "--limit", "10001" }, "memory_profile: --limit 10001: must be 1-10000")
      bad({ "--poll", "0" }, "memory_profile: --poll 0: must be > 0")
      bad({ "--poll", "5", "--max-poll", "1" }, "memory_profile: --max-poll 1: must be >= --poll 5")
    end)

    it("a missing or invalid lambda name", function()
      local r = run.gfhost({ "run", "memory_profile" }, { env = ENV })
      assert.equal(2, r.code)
      assert.matches("gfhost: missing required option --aws-lambda-log (or set GF_MEMORY_PROFILE_AWS_LAMBDA_LOG)\n", r.stderr, 1, true)
      r = run.gfhost({ "run", "memory_profile", "--aws_lambda_log", "bad name!" }, { env = ENV })
      assert.equal(2, r.code)
      assert.matches("memory_profile: --aws-lambda-log bad name!: log group /aws/lambda/bad name! is not a valid name",
        r.stderr, 1, true)
    end)
  end)
end)
