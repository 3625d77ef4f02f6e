-- `gfhost serve`'s JSON API (lib/serve/api.lua) and its HTTP handler (lib/serve/app.lua: token,
-- headers, actions) over a seeded gf.state store, on SQLite and on DynamoDB (dynalite :19002).
-- The same suite runs on both backends; the handler is called as gf.server calls it.
local state = require("gf.state")
local json = require("gf.json")
local paths = require("spec.support.paths")
local servers = require("spec.support.servers")
local seed = require("spec.support.serve_seed")

local TOKEN = "s3cret-token-0123456789"

local function suite(label, open_fn, dispose)
  describe("gfhost serve API #integration (" .. label .. ")", function()
    local store, base, api, ctx

    before_each(function()
      ctx = {}
      store, base = seed.seed(function(clock) return open_fn(ctx, clock) end)
      api = require("serve.api").new(store, { clock = function() return base end })
    end)

    after_each(function()
      store:close()
      if dispose then dispose(ctx) end
    end)

    it("lists runs newest first with workflow, counts per status, start and end", function()
      local status, body = api:runs({})
      assert.equal(200, status)
      assert.equal(3, body.total)
      assert.same({ "busy-run", seed.RUN, "nightly-20261207" },
        { body.runs[1].run_id, body.runs[2].run_id, body.runs[3].run_id })
      local ex = body.runs[2]
      assert.same({ "example", "failed", 3, { completed = 1, failed = 2 } },
        { ex.workflow, ex.status, ex.nodes, ex.counts })
      assert.equal(state.iso8601(base - 620), ex.started) -- describe[CYUL] ran for 30 s
      assert.equal(state.iso8601(base - 590), ex.ended)
      assert.same({ "running", nil }, { body.runs[1].status, body.runs[1].ended })
      assert.equal("nightly", body.runs[3].workflow) -- no run record: from the id
      -- paged
      local s2, p1 = api:runs({ limit = "2" })
      assert.equal(200, s2)
      assert.equal(2, #p1.runs)
      local _, p2 = api:runs({ limit = "2", next = p1.next })
      assert.same({ "nightly-20261207" }, { p2.runs[1].run_id, p2.runs[2] })
      assert.is_nil(p2.next)
      assert.same({ 400, { error = "limit must be an integer in 1..200" } }, { api:runs({ limit = "1000" }) })
    end)

    it("shows a run's failed nodes with errors, attempts and durations", function()
      local status, r = api:run(seed.RUN, {})
      assert.equal(200, status)
      assert.same({ "example", "failed", 3, 2 }, { r.workflow, r.status, r.nodes_total, r.matching })
      assert.same({ "describe[CYUL]", "describe[CYYZ]" }, { r.nodes[1].node, r.nodes[2].node })
      assert.same({ seed.XSS, 3, 2.5 }, { r.nodes[2].error, r.nodes[2].attempts, r.nodes[2].duration_s })
      assert.equal(30, r.nodes[1].duration_s)
      local _, all = api:run(seed.RUN, { status = "all" })
      assert.equal(3, #all.nodes)
      assert.same({ 404, { error = "run nope: no nodes recorded" } }, { api:run("nope", {}) })
    end)

    it("counts payloads per state for the last hour, day and week, with the item table", function()
      local status, r = api:payloads({ collections_workflow = seed.CW })
      assert.equal(200, status)
      assert.same({ hour = 2, day = 2, week = 3 }, r.counts.FAILED)
      assert.same({ hour = 2, day = 4, week = 4 }, r.counts.COMPLETED)
      assert.same({ hour = 1, day = 1, week = 1 }, r.counts.PROCESSING)
      assert.same({ hour = 0, day = 0, week = 1 }, r.counts.INVALID)
      assert.same({ hour = 0, day = 0, week = 0 }, r.counts.ABORTED)
      assert.equal(9, #r.items)
      local first = r.items[1] -- newest first
      assert.same({ seed.pid(seed.CW, "S2B_running"), "PROCESSING",
        "arn:aws:states:us-west-2:123456789012:execution:cog:exec-1" },
        { first.payload_id, first.state, first.execution })
      -- the hourly series: every record of the last 48 hours in the bucket of its last update
      local n = 0
      for _, p in ipairs(r.series.points) do n = n + p.n end
      assert.equal(7, n) -- not the INVALID one of 3 days ago nor the failure of 2.5 days ago
      assert.equal("hour", r.series.interval)
    end)

    it("serves counts from a 5-second cache, then stale while one task computes the next", function()
      local t = base
      local a = require("serve.api").new(store, { clock = function() return t end })
      local function failed_hour()
        return select(2, a:payloads({ collections_workflow = seed.CW })).counts.FAILED.hour
      end
      assert.equal(2, failed_hour())
      assert.is_true(store:set_failed(seed.pid(seed.CW, "S2B_done_4"), "late failure"))
      assert.equal(2, failed_hour()) -- within 5 s: the cached value
      t = base + 6
      assert.equal(2, failed_hour()) -- stale, served at once; the refresh runs in a task
      for _ = 1, 200 do
        if not a.stats_cache[seed.CW .. "\0hour"].refreshing then break end
        require("gf.task").sleep(0.01)
      end
      assert.equal(3, failed_hour())
      local sync = require("serve.api").new(store, { clock = function() return t end,
        stats_ttl = 0, stats_background = false })
      assert.equal(3, select(2, sync:payloads({ collections_workflow = seed.CW })).counts.FAILED.hour)
    end)

    it("computes the statistics before the first request when warmed (gfhost serve does)", function()
      local a = require("serve.api").new(store, { clock = function() return base end,
        collections_workflows = { seed.CW } })
      local passes = 0
      local real = store.payload_stats
      store.payload_stats = function(...) passes = passes + 1 return real(...) end
      finally(function() store.payload_stats = nil end)
      assert.is_true(a:warm() >= 1)
      local warmed = passes
      assert.is_true(warmed >= 2) -- hour and day for the given collections-workflow
      assert.equal(2, select(2, a:payloads({ collections_workflow = seed.CW })).counts.FAILED.hour)
      assert.equal(warmed, passes) -- the first request was answered from the cache
    end)

    it("filters the table by state and since, and pages it", function()
      local _, r = api:payloads({ collections_workflow = seed.CW, state = "FAILED" })
      assert.equal(3, #r.items)
      assert.equal(seed.XSS, r.items[2].last_error)
      _, r = api:payloads({ collections_workflow = seed.CW, state = "FAILED", since = "hour" })
      assert.equal(2, #r.items)
      _, r = api:payloads({ collections_workflow = seed.CW, since = "1h" })
      assert.equal(5, #r.items)
      _, r = api:payloads({ collections_workflow = seed.CW, state = "SUCCEEDED", since = "day" })
      assert.equal(4, #r.items)
      assert.equal("COMPLETED", r.state)
      local _, p1 = api:payloads({ collections_workflow = seed.CW, limit = "4" })
      assert.equal(4, #p1.items)
      assert.is_string(p1.next)
      local _, p2 = api:payloads({ collections_workflow = seed.CW, limit = "4", next = p1.next })
      assert.equal(seed.pid(seed.CW, "S2A_fail_xss"), p2.items[1].payload_id) -- 5th newest
      local given = require("serve.api").new(store, { collections_workflows = { "given_cw" } })
      local _, l = given:payloads({})
      assert.equal("given_cw", l.collections_workflows[1])
      if l.listed then -- SQLite lists the keys it holds
        assert.same({ "given_cw", seed.OTHER_CW, seed.CW }, l.collections_workflows)
      else
        assert.same({ "given_cw" }, l.collections_workflows)
      end
      _, r = api:payloads({ collections_workflow = seed.OTHER_CW, interval = "day" })
      assert.same({ 2, "day" }, { #r.items, r.series.interval })
      assert.same({ 400, { error = "state must be one of CLAIMED, PROCESSING, COMPLETED, FAILED, "
        .. "INVALID, ABORTED" } }, { api:payloads({ collections_workflow = seed.CW, state = "X" }) })
      assert.equal(400, (api:payloads({ collections_workflow = seed.CW, since = "5y" })))
      assert.equal(400, (api:payloads({ collections_workflow = seed.CW, next = "junk" })))
    end)

    it("reports the listener's health and the recorded actions", function()
      local status, h = api:health({})
      assert.equal(200, status)
      assert.equal(1, #h.listeners)
      local l = h.listeners[1]
      assert.same({ "listener/datamart", true, false }, { l.name, l.connected, l.stale })
      assert.equal(state.iso8601(base - 20), l.last_announcement.at)
      assert.same({ { day = "2026-12-08", missing = 0 }, { day = "2026-12-07", missing = 3 } },
        l.missing_per_day)
      assert.is_false(h.actions_enabled)
      -- a password in a URL never reaches the page
      assert(store:put_meta("health/listener/leaky", { connected = false,
        broker = "amqps://user:hunter2@broker.example:5671/vhost",
        last_error = "connect amqp://u:p%40ss@10.0.0.1/ refused" }))
      local _, h2 = api:health({})
      local leaky = h2.listeners[1].name == "listener/leaky" and h2.listeners[1] or h2.listeners[2]
      assert.equal("amqps://user:***@broker.example:5671/vhost", leaky.broker)
      assert.equal("connect amqp://u:***@10.0.0.1/ refused", leaky.last_error)
      assert.not_matches("hunter2", json.encode(h2), 1, true)
            -- stale once the listener stops reporting
      local later = require("serve.api").new(store, { clock = function() return base + 600 end })
      assert.is_true(select(2, later:health()).listeners[1].stale)
    end)

    it("serves the page and the API through the handler, with the security headers", function()
      local handle = require("serve.app").new({ store = store, clock = function() return base end })
      local s, body, h = handle({ method = "GET", path = "/", headers = {} })
      assert.equal(200, s)
      assert.matches('<script src="/app.js" defer>', body, 1, true)
      assert.matches("script%-src 'self'", h["content-security-policy"])
      assert.equal("nosniff", h["x-content-type-options"])
      s, body = handle({ method = "GET", path = "/api/runs", query = { limit = "1" }, headers = {} })
      assert.same({ 200, "busy-run" }, { s, body.runs[1].run_id })
      s, body = handle({ method = "GET", path = "/api/runs/" .. seed.RUN, query = {}, headers = {} })
      assert.same({ 200, 2 }, { s, #body.nodes })
      assert.equal(404, (handle({ method = "GET", path = "/../etc/passwd", headers = {} })))
      assert.equal(404, (handle({ method = "GET", path = "/api/nope", headers = {} })))
      assert.equal(405, (handle({ method = "POST", path = "/api/runs", headers = {} })))
      -- no token configured: actions do not exist
      s, body = handle({ method = "POST", path = "/api/actions/rerun-node", body = "{}",
        headers = { ["content-type"] = "application/json" } })
      assert.same({ 403, "actions are disabled (start gfhost serve with --allow-actions)" },
        { s, body.error })
    end)

    it("with a token: 401 without it or with a wrong one; Bearer, cookie and the entry link pass",
      function()
        local handle = require("serve.app").new({ store = store, token = TOKEN,
          clock = function() return base end })
        local function get(path, hdrs, query)
          return handle({ method = "GET", path = path, headers = hdrs or {}, query = query or {} })
        end
        local s, body, h = get("/api/runs")
        assert.same({ 401, 'Bearer realm="gfhost serve"' }, { s, h["www-authenticate"] })
        assert.not_matches(TOKEN, json.encode(body), 1, true)
        assert.equal(401, (get("/api/runs", { authorization = "Bearer wrong-token-0123456789" })))
        assert.equal(401, (get("/", { cookie = "gfhost_serve_token=" .. TOKEN .. "x" })))
        assert.equal(401, (get("/api/health", {}, { token = TOKEN:sub(1, -2) })))
        assert.equal(200, (get("/api/runs", { authorization = "Bearer " .. TOKEN })))
        assert.equal(200, (get("/", { cookie = "a=b; gfhost_serve_token=" .. TOKEN })))
        assert.equal(200, (get("/api/health", {}, { token = TOKEN })))
        s, body, h = get("/", {}, { token = TOKEN })
        assert.same({ 303, "/" }, { s, h.location })
        assert.equal("gfhost_serve_token=" .. TOKEN .. "; HttpOnly; SameSite=Strict; Path=/",
          h["set-cookie"])
      end)

    it("reruns a failed node or payload only with actions enabled, and records each", function()
      local handle = require("serve.app").new({ store = store, token = TOKEN, allow_actions = true,
        clock = function() return base end })
      local auth = { authorization = "Bearer " .. TOKEN, ["content-type"] = "application/json" }
      local function post(name, body, hdrs)
        return handle({ method = "POST", path = "/api/actions/" .. name, headers = hdrs or auth,
          body = json.encode(body), remote = "127.0.0.1" })
      end
      assert.equal(401, (post("rerun-node", { run_id = seed.RUN, node = "describe[CYYZ]" },
        { ["content-type"] = "application/json" })))
      assert.equal(415, (post("rerun-node", { run_id = seed.RUN, node = "describe[CYYZ]" },
        { authorization = auth.authorization, ["content-type"] = "text/plain" })))
      assert.equal(409, (post("rerun-node", { run_id = seed.RUN, node = "describe[CYVR]" })))
      local s, r = post("rerun-node", { run_id = seed.RUN, node = "describe[CYYZ]" })
      assert.equal(200, s)
      assert.same({ "queued", 0 }, { store:get_node(seed.RUN, "describe[CYYZ]").status,
        store:get_node(seed.RUN, "describe[CYYZ]").attempts })
      assert.equal("failed", r.previous.status)
      s = post("rerun-payload", { payload_id = seed.pid(seed.CW, "S2A_fail_2") })
      assert.equal(200, s)
      assert.equal(409, (post("rerun-payload", { payload_id = seed.pid(seed.CW, "S2B_done_3") })))
      assert.equal(404, (post("rerun-payload", { payload_id = seed.pid(seed.CW, "nope") })))
      assert.equal(404, (post("launch-missiles", {})))
      local req = store:get_meta("rerun/payload/" .. seed.pid(seed.CW, "S2A_fail_2"))
      assert.equal("FAILED", req.value.state)
      local acts = store:list_meta("action/")
      assert.equal(2, #acts)
      assert.same({ "rerun-payload", "127.0.0.1" }, { acts[1].value.action, acts[1].value.remote })
      assert.same({ "rerun-node", "describe[CYYZ]" }, { acts[2].value.action, acts[2].value.node })
      local _, h = require("serve.api").new(store, { clock = function() return base end }):health()
      assert.equal(2, #h.recent_actions)
    end)
  end)
end

describe("gfhost serve command #integration", function()
  local run = require("spec.support.run")
  local db = os.tmpname()

  it("refuses a non-loopback bind without a token, actions without one, a short token", function()
    for _, bind in ipairs({ "0.0.0.0", "::", "192.168.1.10" }) do
      local r = run.gfhost({ "serve", "--state", db, "--bind", bind, "--port", "19134" })
      assert.equal(2, r.code)
      assert.matches("refusing to bind " .. bind .. " without --token", r.stderr, 1, true)
    end
    local r = run.gfhost({ "serve", "--state", db, "--allow-actions", "--port", "19134" })
    assert.equal(2, r.code)
    assert.matches("--allow-actions needs --token", r.stderr, 1, true)
    r = run.gfhost({ "serve", "--state", db, "--bind", "0.0.0.0", "--token", "short" })
    assert.equal(2, r.code)
    assert.matches("at least 16 characters", r.stderr, 1, true)
    assert.not_matches("short", r.stderr, 1, true) -- a secret is never echoed
    r = run.gfhost({ "serve" })
    assert.equal(2, r.code)
    assert.matches("state", r.stderr, 1, true)
    os.remove(db)
  end)

  it("takes loopback addresses without a token", function()
    local cli = require("serve.cli")
    for _, a in ipairs({ "127.0.0.1", "127.1.2.3", "::1", "localhost" }) do
      assert.is_true(cli.is_loopback(a), a)
    end
    for _, a in ipairs({ "0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "127.0.0.1.example" }) do
      assert.is_false(cli.is_loopback(a), a)
    end
  end)
end)

suite("sqlite", function(ctx, clock)
  ctx.dir = paths.tmpdir()
  return state.open({ path = ctx.dir .. "/state.db", clock = clock })
end, function(ctx) os.execute("rm -rf '" .. ctx.dir .. "'") end)

if not os.getenv("GF_TEST_SERVERS") then
  describe("gfhost serve API #integration (dynamodb)", function()
    servers.skip(_ENV)
  end)
  return
end

local ENDPOINT = "http://127.0.0.1:19002"
suite("dynamodb", function(ctx, clock)
  ctx.table = "gfserve-" .. servers.uid()
  return state.open({ backend = "dynamodb", table = ctx.table, endpoint = ENDPOINT,
    region = "us-east-1", credentials = servers.CREDS, create = true, clock = clock })
end, function(ctx)
  local client = require("gf.awsjson").client({ service = "dynamodb", endpoint = ENDPOINT,
    region = "us-east-1", credentials = servers.CREDS })
  require("gf.state.dynamodb").delete_table(client, ctx.table)
end)
