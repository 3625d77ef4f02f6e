-- gf.state: Cirrus payload state and node state. The suite below is a function of a backend
-- description, so the same behaviour is checked against every backend. This file runs it for
-- SQLite; another backend's spec runs it with its own description:
--
--   local paths = require("spec.support.paths")
--   assert(loadfile(paths.root .. "/spec/unit/state_spec.lua", "t", _ENV))({   -- _ENV: busted's describe/it
--     label = "dynamodb", tag = "#integration",
--     new = function(clock) return store end,      -- a fresh, empty store using clock()
--     dispose = function(store) end,                -- optional: drop what new() created
--     open_source = function(store) return "<Lua expression>" end,
--         -- an expression that opens the same store in another gfhost process (race spec)
--   })
local state = require("gf.state")
local paths = require("spec.support.paths")

local BASE = 1700000000 -- 2023-11-14T22:13:20Z

local function iso(t)
  return state.iso8601(t)
end

local function suite(backend)
  describe(("gf.state %s (%s)"):format(backend.tag or "#unit", backend.label), function()
    local store, now

    before_each(function()
      now = BASE + 0.25
      store = backend.new(function() return now end)
    end)

    after_each(function()
      if backend.dispose then backend.dispose(store) end
      store:close()
    end)

    local ID = "col1/workflow-wf1/item1/item2"

    describe("transitions", function()
      it("claims a new payload: CLAIMED with the execution, times and key fields", function()
        assert.is_true(store:claim(ID, "arn:exec:1"))
        local t = iso(now)
        assert.same({
          payload_id = ID, collections = "col1", workflow = "wf1", items = "item1/item2",
          collections_workflow = "col1_wf1", itemids = "item1/item2",
          state = "CLAIMED", state_updated = "CLAIMED_" .. t,
          created = t, updated = t, claimed_at = t,
          executions = { "arn:exec:1" },
        }, store:get(ID))
        assert.equal("2023-11-14T22:13:20.250000+00:00", t)
      end)

      it("never claims over CLAIMED or PROCESSING; the conflict carries the record", function()
        assert.is_true(store:claim(ID, "a1"))
        now = now + 1
        local r = { store:claim(ID, "a2") }
        assert.same({ nil, "state.claim " .. ID .. ": already CLAIMED", "conflict" },
          { r[1], r[2], r[3] })
        assert.same({ "a1" }, r[4].executions)
        assert.equal("CLAIMED", r[4].state)
        assert.is_true(store:set_processing(ID))
        r = { store:claim(ID, "a3") }
        assert.same({ nil, "state.claim " .. ID .. ": already PROCESSING", "conflict" },
          { r[1], r[2], r[3] })
        assert.equal("PROCESSING", r[4].state)
        local item = store:get(ID)
        assert.same({ "a1" }, item.executions)
        assert.equal("PROCESSING_" .. iso(now), item.state_updated)
      end)

      for _, final in ipairs({ "COMPLETED", "FAILED", "INVALID", "ABORTED" }) do
        it("claims again over " .. final .. ", appending the execution and clearing errors",
          function()
            assert.is_true(store:claim(ID, "a1"))
            assert.is_true(store:set_processing(ID))
            if final == "COMPLETED" then assert.is_true(store:set_completed(ID, { "s3://o/1" }))
            elseif final == "FAILED" then assert.is_true(store:set_failed(ID, "Err: x"))
            elseif final == "INVALID" then assert.is_true(store:set_invalid(ID, "Bad: y"))
            else assert.is_true(store:set_aborted(ID)) end
            assert.equal(final, store:get(ID).state)
            local created = iso(now)
            now = now + 60
            assert.is_true(store:claim(ID, "a2"))
            local item = store:get(ID)
            assert.same({ "CLAIMED", created, iso(now), { "a1", "a2" } },
              { item.state, item.created, item.updated, item.executions })
            assert.is_nil(item.last_error)
            assert.is_nil(item.outputs)
          end)
      end

      it("claims without an execution id", function()
        assert.is_true(store:claim(ID))
        assert.same({}, store:get(ID).executions)
      end)

      it("sets PROCESSING only from CLAIMED", function()
        assert.same({ nil, "state.set_processing " .. ID .. ": not CLAIMED (no record)",
          "conflict" }, { store:set_processing(ID) })
        assert.is_true(store:set_failed(ID, "e"))
        local r = { store:set_processing(ID) }
        assert.same({ nil, "state.set_processing " .. ID .. ": not CLAIMED (FAILED)", "conflict" },
          { r[1], r[2], r[3] })
        assert.equal("FAILED", r[4].state)
        assert.is_true(store:claim(ID, "x"))
        now = now + 5
        assert.is_true(store:set_processing(ID))
        assert.same({ "PROCESSING", "PROCESSING_" .. iso(now) },
          { store:get(ID).state, store:get(ID).state_updated })
      end)

      it("completes with outputs; SUCCEEDED is the same state, stored as COMPLETED", function()
        assert.is_true(store:claim(ID, "x"))
        assert.is_true(store:set_processing(ID))
        now = now + 3
        assert.is_true(store:set_completed(ID, { "s3://out/a.json", "s3://out/b.json" }))
        local item = store:get(ID)
        assert.same({ "COMPLETED", "COMPLETED_" .. iso(now), { "s3://out/a.json", "s3://out/b.json" } },
          { item.state, item.state_updated, item.outputs })
        assert.is_true(store:set_succeeded("c/workflow-w/2"))
        assert.equal("COMPLETED", store:get("c/workflow-w/2").state)
        assert.equal(1, #store:query({ collections_workflow = "c_w", state = "SUCCEEDED" }))
        assert.equal("COMPLETED", state.normalize_state("SUCCEEDED"))
        assert.is_nil(state.normalize_state("RUNNING"))
      end)

      it("records last_error for FAILED and INVALID; ABORTED keeps it", function()
        assert.is_true(store:set_failed(ID, "States.TaskFailed: boom"))
        assert.same({ "FAILED", "States.TaskFailed: boom" },
          { store:get(ID).state, store:get(ID).last_error })
        assert.is_true(store:set_invalid(ID, "InvalidInput: no assets"))
        assert.same({ "INVALID", "InvalidInput: no assets" },
          { store:get(ID).state, store:get(ID).last_error })
        assert.is_true(store:set_aborted(ID))
        assert.same({ "ABORTED", "InvalidInput: no assets" },
          { store:get(ID).state, store:get(ID).last_error })
      end)

      it("creates a missing record on the unconditional transitions, like cirrus", function()
        assert.is_true(store:set_failed(ID, "e"))
        local t = iso(now)
        assert.same({ state = "FAILED", created = t, updated = t, executions = {} }, {
          state = store:get(ID).state, created = store:get(ID).created,
          updated = store:get(ID).updated, executions = store:get(ID).executions })
      end)

      it("sets outputs on an existing record only", function()
        assert.same({ nil, "state.set_outputs " .. ID .. ": not found", "not_found" },
          { store:set_outputs(ID, { "s3://x" }) })
        assert.is_true(store:claim(ID))
        assert.is_true(store:set_outputs(ID, { "s3://x" }))
        assert.same({ "s3://x" }, store:get(ID).outputs)
        assert.equal("CLAIMED", store:get(ID).state)
      end)

      it("gets and deletes", function()
        assert.same({ nil, "state.get " .. ID .. ": not found", "not_found" }, { store:get(ID) })
        assert.is_true(store:claim(ID))
        assert.is_true(store:delete(ID))
        assert.same({ nil, "state.get " .. ID .. ": not found", "not_found" }, { store:get(ID) })
        assert.is_true(store:delete(ID))
      end)

      it("returns invalid_input for malformed payload ids", function()
        local msg = 'payload id "nope": expected <collections>/workflow-<workflow>/<itemids>'
        assert.same({ nil, "state.claim: " .. msg, "invalid_input" }, { store:claim("nope") })
        assert.same({ nil, "state.set_processing: " .. msg, "invalid_input" },
          { store:set_processing("nope") })
        assert.same({ nil, "state.set_failed: " .. msg, "invalid_input" },
          { store:set_failed("nope", "e") })
        assert.same({ nil, "state.get: " .. msg, "invalid_input" }, { store:get("nope") })
        assert.same({ nil, 'state.claim: payload id "c/workflow-a_b/i": workflow name "a_b" must '
          .. "not contain '_'", "invalid_input" }, { store:claim("c/workflow-a_b/i") })
      end)

      it("raises on misuse", function()
        assert.has_error(function() store:claim(42) end,
          "bad argument #1 to 'claim' (payload id string expected, got number)")
        assert.has_error(function() store:claim(ID, 7) end,
          "bad argument #2 to 'claim' (execution id string expected)")
        assert.has_error(function() store:set_failed(ID) end,
          "bad argument #2 to 'set_failed' (string expected)")
        assert.has_error(function() store:set_completed(ID, { 1 }) end,
          "state.set_completed: outputs must be a list of strings")
      end)
    end)

    describe("queries", function()
      local CW = "sar-test_flow"
      local function pid(i) return ("sar-test/workflow-flow/item-%02d"):format(i) end

      -- 30 payloads, one a minute; i % 3: 0 COMPLETED, 1 FAILED, 2 PROCESSING. Another
      -- collections_workflow gets the same states and must never show up.
      before_each(function()
        for i = 1, 30 do
          now = BASE + i * 60
          for _, id in ipairs({ pid(i), ("other/workflow-flow/item-%02d"):format(i) }) do
            assert(store:claim(id, "e" .. i))
            assert(store:set_processing(id))
            if i % 3 == 0 then assert(store:set_completed(id))
            elseif i % 3 == 1 then
              assert(store:set_failed(id, (i < 15 and "failed-error-message " or "Other: ") .. i))
            end
          end
        end
        now = BASE + 31 * 60
      end)

      local function ids(items)
        local out = {}
        for i, it in ipairs(items) do out[i] = it.payload_id end
        return out
      end

      local function expect(pred)
        local out = {}
        for i = 30, 1, -1 do
          if pred(i) then out[#out + 1] = pid(i) end
        end
        return out
      end

      it("lists a collections_workflow newest first", function()
        local items, nxt = store:query({ collections_workflow = CW, limit = 100 })
        assert.same(expect(function() return true end), ids(items))
        assert.is_nil(nxt)
        assert.equal(30, store:count({ collections_workflow = CW }))
      end)

      it("filters by state (SUCCEEDED means COMPLETED)", function()
        local failed = store:query_all({ collections_workflow = CW, state = "FAILED" })
        assert.same(expect(function(i) return i % 3 == 1 end), ids(failed))
        for _, it in ipairs(failed) do assert.equal("FAILED", it.state) end
        assert.same(expect(function(i) return i % 3 == 0 end),
          ids(store:query_all({ collections_workflow = CW, state = "SUCCEEDED" })))
        assert.equal(10, store:count({ collections_workflow = CW, state = "PROCESSING" }))
        assert.equal(0, store:count({ collections_workflow = CW, state = "CLAIMED" }))
      end)

      it("filters by since, with and without a state", function()
        -- now is minute 31: 10m covers the updates of minutes 21..30
        assert.same(expect(function(i) return i >= 21 end),
          ids(store:query_all({ collections_workflow = CW, since = "10m" })))
        assert.same(expect(function(i) return i >= 21 and i % 3 == 1 end),
          ids(store:query_all({ collections_workflow = CW, since = "10m", state = "FAILED" })))
        assert.same(expect(function(i) return i >= 25 end),
          ids(store:query_all({ collections_workflow = CW, since = BASE + 25 * 60 })))
        assert.equal(30, store:count({ collections_workflow = CW, since = "1h" }))
        assert.equal(30, store:count({ collections_workflow = CW, since = "7d" }))
        now = BASE + 86400 * 2
        assert.equal(0, store:count({ collections_workflow = CW, since = "24h" }))
        assert.equal(0, store:count({ collections_workflow = CW, since = "1d", state = "FAILED" }))
      end)

      it("filters by error prefix", function()
        assert.same(expect(function(i) return i % 3 == 1 and i < 15 end),
          ids(store:query_all({ collections_workflow = CW, state = "FAILED",
            error_prefix = "failed-error-message" })))
        assert.equal(5, store:count({ collections_workflow = CW, error_prefix = "Other:" }))
        assert.equal(30, store:count({ collections_workflow = CW, error_prefix = "" }))
      end)

      it("pages with opaque tokens until the end", function()
        local seen, pages, token = {}, 0, nil
        repeat
          local items, nxt = store:query({ collections_workflow = CW, limit = 7, next = token })
          assert.is_true(#items <= 7)
          if nxt then assert.is_string(nxt) end
          for _, it in ipairs(items) do seen[#seen + 1] = it.payload_id end
          pages = pages + 1
          token = nxt
        until not token
        assert.same(expect(function() return true end), seen)
        assert.is_true(pages >= 5)
      end)

      it("pages filtered queries the same way", function()
        local seen, token = {}, nil
        repeat
          local items, nxt = store:query({ collections_workflow = CW, state = "FAILED", limit = 3,
            error_prefix = "failed-error-message", next = token })
          for _, it in ipairs(items) do seen[#seen + 1] = it.payload_id end
          token = nxt
        until not token
        assert.same(expect(function(i) return i % 3 == 1 and i < 15 end), seen)
      end)

      it("query_all stops at limit", function()
        assert.same({ pid(30), pid(29), pid(28), pid(27), pid(26) },
          ids(store:query_all({ collections_workflow = CW, limit = 5, page_size = 2 })))
        assert.same({ pid(28), pid(25) }, ids(store:query_all({ collections_workflow = CW,
          state = "FAILED", limit = 2 })))
      end)

      it("rejects bad tokens, since values and states", function()
        assert.same({ nil, 'state.query: bad next-page token "zzz"', "invalid_input" },
          { store:query({ collections_workflow = CW, next = "zzz" }) })
        local _, tok = store:query({ collections_workflow = CW, limit = 2 })
        local r = { store:query({ collections_workflow = CW, state = "FAILED", next = tok }) }
        assert.same({ nil, "invalid_input" }, { r[1], r[3] })
        assert.same({ nil, 'state: bad since "10 d" (expected <n>d, <n>h, <n>m or an epoch '
          .. "number)", "invalid_input" }, { store:query({ collections_workflow = CW,
          since = "10 d" }) })
        assert.same({ nil, 'state.count: unknown state "completed"', "invalid_input" },
          { store:count({ collections_workflow = CW, state = "completed" }) })
      end)

      it("raises on malformed queries", function()
        assert.has_error(function() store:query({ state = "FAILED" }) end,
          "state.query: collections_workflow is required")
        assert.has_error(function() store:query({ collections_workflow = CW, sate = "x" }) end,
          "state.query: unknown query field 'sate'")
        assert.has_error(function() store:query({ collections_workflow = CW, limit = 0 }) end,
          "state.query: limit must be an integer in 1..1000")
        assert.has_error(function() store:query_all({ collections_workflow = CW, limit = 50001 })
        end, "state.query_all: limit must be an integer in 1..50000")
      end)
    end)

    describe("nodes", function()
      it("puts, gets, lists and deletes node states of a run", function()
        assert.is_true(store:put_node("run-1", "b", { status = "running", attempts = 1 }))
        now = now + 1
        assert.is_true(store:put_node("run-1", "a", { status = "completed", attempts = 2,
          output = { files = { "x.tif", "y.tif" }, count = 2 } }))
        assert.is_true(store:put_node("run-2", "a", { status = "failed", error = "boom" }))
        local a = store:get_node("run-1", "a")
        assert.same({ run_id = "run-1", node = "a", status = "completed", attempts = 2,
          updated = iso(now) }, { run_id = a.run_id, node = a.node, status = a.status,
          attempts = a.attempts, updated = a.updated })
        assert.same({ "x.tif", "y.tif" }, { a.output.files[1], a.output.files[2] })
        assert.equal(2, a.output.count)
        local list = store:list_nodes("run-1")
        assert.same({ "a", "b" }, { list[1].node, list[2].node })
        assert.same({ "b" }, { store:list_nodes("run-1", { status = "running" })[1].node })
        assert.equal(1, #store:list_nodes("run-1", { status = "running" }))
        assert.equal("boom", store:get_node("run-2", "a").error)
        assert.equal(2, store:delete_nodes("run-1"))
        assert.same({}, store:list_nodes("run-1"))
        assert.equal(1, #store:list_nodes("run-2"))
      end)

      it("put replaces the whole record", function()
        store:put_node("r", "n", { status = "failed", attempts = 1, error = "e", output = 5 })
        store:put_node("r", "n", { status = "completed", attempts = 2 })
        local n = store:get_node("r", "n")
        assert.same({ "completed", 2 }, { n.status, n.attempts })
        assert.is_nil(n.error)
        assert.is_nil(n.output)
      end)

      it("reports a missing node and raises on misuse", function()
        assert.same({ nil, "state.get_node r/n: not found", "not_found" },
          { store:get_node("r", "n") })
        assert.has_error(function() store:put_node("r", "n", { attempts = 1 }) end,
          "bad argument #3 to 'put_node' (table with a status string expected)")
        assert.has_error(function() store:put_node("", "n", { status = "x" }) end,
          "bad argument #1 to 'put_node' (non-empty run id string expected)")
        assert.has_error(function() store:put_node("r", "n", { status = "x", attempts = -1 }) end,
          "put_node: attempts must be a non-negative integer")
      end)
    end)

    describe("runs and meta records", function()
      it("records a node's start and lists runs newest first with counts per status, paged",
        function()
          assert.is_true(store:put_node("old", "a", { status = "completed", attempts = 1,
            started = now - 10 }))
          now = now + 5
          assert.is_true(store:put_node("new", "a", { status = "failed", attempts = 3,
            error = "boom", started = now - 2 }))
          now = now + 1
          assert.is_true(store:put_node("new", "b", { status = "completed", attempts = 1 }))
          assert.is_true(store:put_node("new", "c", { status = "completed", attempts = 1 }))
          assert.equal(iso(now - 3), store:get_node("new", "a").started)
          local runs, nxt, total = store:list_runs()
          assert.is_nil(nxt)
          assert.equal(2, total)
          assert.same({ run_id = "new", nodes = 3, counts = { failed = 1, completed = 2 },
            first = iso(now - 3), last = iso(now) }, runs[1])
          assert.same({ run_id = "old", nodes = 1, counts = { completed = 1 },
            first = iso(BASE + 0.25 - 10), last = iso(BASE + 0.25) }, runs[2])
          local page
          page, nxt = store:list_runs({ limit = 1 })
          assert.same({ "new" }, { page[1].run_id, page[2] })
          page, nxt = store:list_runs({ limit = 1, next = nxt })
          assert.same({ "old" }, { page[1].run_id, page[2] })
          assert.is_nil(nxt)
          assert.same({ nil, 'state.list_runs: bad next-page token "x"', "invalid_input" },
            { store:list_runs({ next = "x" }) })
          assert.equal(3, store:delete_nodes("new"))
          runs = store:list_runs()
          assert.same({ "old" }, { runs[1].run_id, runs[2] and runs[2].run_id })
        end)

      it("counts payloads by current state (entered) per window and as an hourly or daily series",
        function()
          local function at(t, fn, id, ...)
            now = t
            assert.is_true(store[fn](store, id, ...))
          end
          -- three days ago, two hours ago, ten minutes ago
          at(BASE - 3 * 86400, "set_completed", "c/workflow-w/old")
          at(BASE - 2 * 3600, "set_failed", "c/workflow-w/f1", "boom")
          at(BASE - 2 * 3600 + 1, "set_completed", "c/workflow-w/ok1")
          at(BASE - 600, "set_failed", "c/workflow-w/f2", "<script>x</script>")
          at(BASE - 600, "claim", "c/workflow-w/c1", "arn:1")
          at(BASE - 600, "set_completed", "other/workflow-w/x")
          now = BASE
          local r = assert(store:payload_stats({ collections_workflow = "c_w",
            windows = { hour = 3600, day = 86400, week = 7 * 86400 } }))
          assert.same({ hour = 1, day = 2, week = 2 }, r.totals.FAILED)
          assert.same({ hour = 0, day = 1, week = 2 }, r.totals.COMPLETED)
          assert.same({ hour = 1, day = 1, week = 1 }, r.totals.CLAIMED)
          assert.same({ hour = 0, day = 0, week = 0 }, r.totals.PROCESSING)
          local hours = {}
          for _, row in ipairs(r.series) do
            hours[#hours + 1] = ("%s %s %d"):format(row.bucket, row.state, row.n)
          end
          local h2, h0 = iso(BASE - 7200):sub(1, 13), iso(BASE - 600):sub(1, 13)
          assert.same({ h2 .. " COMPLETED 1", h2 .. " FAILED 1", h0 .. " CLAIMED 1",
            h0 .. " FAILED 1" }, hours)
          r = assert(store:payload_stats({ collections_workflow = "c_w", interval = "day" }))
          assert.equal(4, #r.series) -- 3 days ago: COMPLETED; today: CLAIMED, COMPLETED, FAILED
          assert.equal(iso(BASE - 3 * 86400):sub(1, 10), r.series[1].bucket)
          assert.same({}, assert(store:payload_stats({ collections_workflow = "none_w" })).series)
        end)

      it("puts, gets, lists (by prefix, newest key first) and deletes meta records", function()
        assert.is_true(store:put_meta("health/listener/a", { connected = true, n = 2 }))
        now = now + 1
        assert.is_true(store:put_meta("action/2023-11-14T22:13:21Z/1", { action = "rerun" }))
        assert.is_true(store:put_meta("action/2023-11-14T22:13:22Z/2", { action = "rerun2" }))
        assert.same({ key = "health/listener/a", value = { connected = true, n = 2 },
          updated = iso(BASE + 0.25) }, store:get_meta("health/listener/a"))
        local acts = store:list_meta("action/")
        assert.same({ "action/2023-11-14T22:13:22Z/2", "action/2023-11-14T22:13:21Z/1" },
          { acts[1].key, acts[2].key })
        assert.equal(1, #store:list_meta("action/", { limit = 1 }))
        assert.equal(1, #store:list_meta("health/"))
        assert.same({ nil, "state.get_meta nope: not found", "not_found" },
          { store:get_meta("nope") })
        assert.is_true(store:delete_meta("health/listener/a"))
        assert.same({}, store:list_meta("health/"))
        -- meta records are not payloads and not runs
        assert.same({}, store:query_all({ collections_workflow = "health/listener/a" }))
        assert.same({}, (store:list_runs()))
        assert.has_error(function() store:put_meta("", 1) end)
      end)
    end)

    describe("node leases", function()
      local function lease(worker, until_, extra)
        local l = { worker = worker, ["until"] = until_, now = now }
        for k, v in pairs(extra or {}) do l[k] = v end
        return l
      end

      it("leases a new node: running, attempt 1, the lease in its output", function()
        local ok, rec = store:lease_node("r", "n", lease("w1", BASE + 30))
        assert.is_true(ok)
        assert.same({ "running", 1, "w1", BASE + 30 },
          { rec.status, rec.attempts, rec.output.worker, rec.output.lease_until })
        local got = store:get_node("r", "n")
        assert.same({ "running", 1, "w1", BASE + 30, iso(now) }, { got.status, got.attempts,
          got.output.worker, got.output.lease_until, got.updated })
      end)

      it("refuses a live lease held by another worker, grants it once the lease ran out", function()
        assert.is_true((store:lease_node("r", "n", lease("w1", BASE + 30))))
        local ok, rec = store:lease_node("r", "n", lease("w2", BASE + 60))
        assert.is_false(ok)
        assert.same({ "running", "w1", BASE + 30 }, { rec.status, rec.output.worker,
          rec.output.lease_until })
        assert.equal("leased", state.lease_refusal(rec, "w2", now))
        -- the holder itself may lease again (a redelivered message of its own)
        assert.is_true((store:lease_node("r", "n", lease("w1", BASE + 31))))
        local ok2, rec2 = store:lease_node("r", "n", lease("w2", BASE + 90, { now = BASE + 31 }))
        assert.is_true(ok2)
        assert.same({ "running", 3, "w2" }, { rec2.status, rec2.attempts, rec2.output.worker })
      end)

      it("refuses a completed node and a failed one with no attempts left", function()
        assert.is_true(store:put_node("r", "done", { status = "completed", attempts = 1, output = 7 }))
        local ok, rec = store:lease_node("r", "done", lease("w1", BASE + 30))
        assert.same({ false, "completed", 7 }, { ok, rec.status, rec.output })
        assert.equal("completed", store:get_node("r", "done").status)
        assert.is_true(store:put_node("r", "bad", { status = "failed", attempts = 2, error = "e" }))
        ok, rec = store:lease_node("r", "bad", lease("w1", BASE + 30, { max_attempts = 2 }))
        assert.same({ false, "failed", 2 }, { ok, rec.status, rec.attempts })
        assert.equal("exhausted", state.lease_refusal(rec, "w1", now, 2))
        ok, rec = store:lease_node("r", "bad", lease("w1", BASE + 30, { max_attempts = 3 }))
        assert.same({ true, "running", 3 }, { ok, rec.status, rec.attempts })
        assert.is_nil(rec.error)
        assert.is_nil(store:get_node("r", "bad").error)
      end)

      it("renews and records only under the holder's lease", function()
        assert.is_true((store:lease_node("r", "n", lease("w1", BASE + 30))))
        assert.is_true(store:renew_lease("r", "n", lease("w1", BASE + 45)))
        assert.equal(BASE + 45, store:get_node("r", "n").output.lease_until)
        assert.is_false(store:renew_lease("r", "n", lease("w2", BASE + 99)))
        assert.is_false(store:renew_lease("r", "other", lease("w1", BASE + 99)))
        local ok, cur = store:put_node_if("r", "n", { status = "failed", attempts = 1, error = "late" },
          { worker = "w2" })
        assert.same({ false, "running", "w1" }, { ok, cur.status, cur.output.worker })
        assert.same({ false }, { store:put_node_if("r", "missing", { status = "completed" },
          { worker = "w1" }) })
        assert.is_true(store:put_node_if("r", "n", { status = "completed", attempts = 1,
          output = { "x" } }, { worker = "w1" }))
        local got = store:get_node("r", "n")
        assert.same({ "completed", 1, { "x" } }, { got.status, got.attempts, got.output })
        -- completed: no more lease, renewal or conditional write for anyone
        assert.is_false(store:renew_lease("r", "n", lease("w1", BASE + 99)))
        assert.is_false((store:put_node_if("r", "n", { status = "failed" }, { worker = "w1" })))
        assert.is_false((store:lease_node("r", "n", lease("w3", BASE + 99))))
      end)

      it("raises on misuse", function()
        assert.has_error(function() store:lease_node("r", "n", { ["until"] = 1 }) end,
          "bad argument #3 to 'lease_node' (lease table with a worker string expected)")
        assert.has_error(function() store:lease_node("r", "n", { worker = "w" }) end,
          "lease_node: lease.until must be a number (epoch seconds)")
        assert.has_error(function() store:lease_node("", "n", lease("w", 1)) end,
          "bad argument #1 to 'lease_node' (non-empty run id string expected)")
        assert.has_error(function() store:lease_node("r", "n", lease("w", 1, { max_attempts = 1.5 })) end,
          "lease_node: lease.max_attempts must be an integer")
        assert.has_error(function() store:renew_lease("r", "n", "w") end,
          "bad argument #3 to 'renew_lease' (lease table with a worker string expected)")
        assert.has_error(function() store:put_node_if("r", "n", { attempts = 1 }, { worker = "w" }) end,
          "bad argument #3 to 'put_node_if' (table with a status string expected)")
      end)
    end)

    describe("two processes", function()
      -- Run the racing loop `body` (it fills won, lost and other from store, me and n) in two
      -- gfhost processes that start together, after `warm` (connections and statements made
      -- before the start). Returns {name -> winning process}, lost, other.
      local function race(n, warm, body, what)
        local dir = paths.tmpdir()
        for p = 1, 2 do
          local f = assert(io.open(("%s/racer%d.lua"):format(dir, p), "w"))
          f:write(("local store = assert(%s)\nlocal dir, me, n = %q, %d, %d\n"):format(
            backend.open_source(store), dir, p, n), warm, [[
io.open(dir .. "/ready" .. me, "w"):close()
while true do
  local go = io.open(dir .. "/go")
  if go then go:close() break end
end
local won, lost, other = {}, 0, 0
]], body, [[
local out = io.open(dir .. "/out" .. me, "w")
out:write(lost, " ", other, "\n", table.concat(won, "\n"), "\n")
out:close()
]])
          f:close()
        end
        local q = "'" .. paths.gfhost:gsub("'", "'\\''") .. "'"
        local cmd = ([[cd '%s' && (%s run ./racer1.lua 2>err1 & %s run ./racer2.lua 2>err2 &
          while [ ! -e ready1 ] || [ ! -e ready2 ]; do sleep 0.01; done; touch go; wait)]]):format(
          dir, q, q)
        assert.is_true(os.execute(cmd))
        local winner, lost, other = {}, 0, 0
        for p = 1, 2 do
          local f = assert(io.open(("%s/out%d"):format(dir, p)))
          local l, o = f:read("n", "n")
          lost, other = lost + l, other + o
          for name in f:lines() do
            if name ~= "" then
              assert.is_nil(winner[name], name .. " " .. what .. " twice")
              winner[name] = p
            end
          end
          f:close()
        end
        os.execute("rm -rf '" .. dir .. "'")
        return winner, lost, other
      end

      it("lease each of 100 nodes exactly once between them", function()
        local N = 100
        local winner, lost, other = race(N, [[
local function lease() return { worker = "w" .. me, ["until"] = os.time() + 600 } end
assert(store:lease_node("warm", "w" .. me, lease()))
]], [[
for i = 1, n do
  local node = ("node-%03d"):format(i)
  local ok, rec = store:lease_node("race", node, lease())
  if ok == true and rec.attempts == 1 then won[#won + 1] = node
  elseif ok == false and rec and rec.output.worker ~= "w" .. me then lost = lost + 1
  else other = other + 1 io.stderr:write(tostring(rec), "\n") end
end
]], "leased")
        assert.equal(0, other)
        assert.equal(N, lost)
        for i = 1, N do
          local node = ("node-%03d"):format(i)
          local p = winner[node]
          assert.is_not_nil(p, node .. " never leased")
          local rec = store:get_node("race", node)
          assert.same({ "running", 1, "w" .. p }, { rec.status, rec.attempts, rec.output.worker })
        end
      end)

      it("claim each of 200 payloads exactly once between them", function()
        local N = 200
        local winner, lost, other = race(N, [[
assert(store:claim(("warm/workflow-warm/%d"):format(me)))
]], [[
for i = 1, n do
  local id = ("race/workflow-race/item-%03d"):format(i)
  local ok, msg, code = store:claim(id, ("exec-%d-%d"):format(me, i))
  if ok then won[#won + 1] = id
  elseif code == "conflict" then lost = lost + 1
  else other = other + 1 io.stderr:write(msg, "\n") end
end
]], "claimed")
        assert.equal(0, other)
        assert.equal(N, lost)
        for i = 1, N do
          local id = ("race/workflow-race/item-%03d"):format(i)
          local p = winner[id]
          assert.is_not_nil(p, id .. " never claimed")
          local item = store:get(id)
          assert.same({ "CLAIMED", { ("exec-%d-%d"):format(p, i) } },
            { item.state, item.executions })
        end
      end)
    end)
  end)
end

-- busted itself passes its own arguments to the file: a backend description has a `new`.
local injected = ...
if type(injected) == "table" and type(injected.new) == "function" then
  suite(injected)
  return
end

-- {====== SQLite ======

local sqlite_dirs = setmetatable({}, { __mode = "k" })

suite({
  label = "sqlite",
  new = function(clock)
    local dir = paths.tmpdir()
    local store = assert(state.open({ path = dir .. "/state.db", clock = clock }))
    sqlite_dirs[store] = dir
    return store
  end,
  dispose = function(store)
    local dir = sqlite_dirs[store]
    if dir then os.execute("rm -rf '" .. dir .. "'") end
  end,
  open_source = function(store)
    return ("require('gf.state').open({ path = %q })"):format(store.backend.path)
  end,
})

describe("gf.state #unit (sqlite specifics)", function()
  local dir, path

  before_each(function()
    dir = paths.tmpdir()
    path = dir .. "/state.db"
  end)

  after_each(function()
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("keeps one WAL database with the query indexes, used by the queries", function()
    local store = assert(state.open({ path = path }))
    local db = store.backend.db
    assert.same({ journal_mode = "wal" }, db:first("PRAGMA journal_mode"))
    assert.same({ user_version = 2 }, db:first("PRAGMA user_version"))
    local plan = db:query("EXPLAIN QUERY PLAN SELECT * FROM payloads WHERE collections_workflow "
      .. "= 'a_b' AND state_updated >= 'FAILED_' AND state_updated < 'FAILED`' ORDER BY "
      .. "state_updated DESC, itemids DESC")
    assert.matches("payloads_state_updated", plan[1].detail)
    plan = db:query("EXPLAIN QUERY PLAN SELECT * FROM payloads WHERE collections_workflow = 'a_b' "
      .. "ORDER BY updated DESC, itemids DESC")
    assert.matches("payloads_updated", plan[1].detail)
    store:close()
  end)

  it("reopens an existing file with its records", function()
    local store = assert(state.open({ path = path }))
    assert.is_true(store:claim("c/workflow-w/i", "x"))
    store:close()
    store = assert(state.open({ path = path }))
    assert.equal("CLAIMED", store:get("c/workflow-w/i").state)
    assert.is_true(store:close())
    assert.has_error(function() store:get("c/workflow-w/i") end, "gf.state: the store is closed")
  end)

  it("refuses a file from a newer schema and a file that is not a database", function()
    local sqlite = require("gf.sqlite")
    local db = assert(sqlite.open(path))
    db:exec("PRAGMA user_version = 3")
    db:close()
    assert.same({ nil, "state.open " .. path .. ": schema version 3 is newer than this gfhost "
      .. "knows (2)", "invalid_input" }, { state.open({ path = path }) })
    local f = io.open(dir .. "/junk", "w")
    f:write(("junk"):rep(1000))
    f:close()
    assert.same({ nil, "sqlite.open " .. dir .. "/junk: file is not a database", "io" },
      { state.open({ path = dir .. "/junk" }) })
  end)

  it("migrates a version-1 file: its nodes gain start times, meta records appear", function()
    local sqlite = require("gf.sqlite")
    local db = assert(sqlite.open(path))
    assert(db:exec([[
CREATE TABLE nodes (run_id TEXT NOT NULL, node TEXT NOT NULL, status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, error TEXT, output TEXT, updated TEXT NOT NULL,
  PRIMARY KEY (run_id, node)) WITHOUT ROWID;
INSERT INTO nodes VALUES ('r1', 'a', 'failed', 2, 'boom', NULL, '2023-11-14T22:13:20.000000+00:00');
PRAGMA user_version = 1;]]))
    db:close()
    local store = assert(state.open({ path = path }))
    assert.same({ user_version = 2 }, store.backend.db:first("PRAGMA user_version"))
    local n = store:get_node("r1", "a")
    assert.same({ "failed", 2, "boom" }, { n.status, n.attempts, n.error })
    assert.is_nil(n.started)
    assert.is_true(store:put_meta("k", { x = 1 }))
    assert.same({ x = 1 }, store:get_meta("k").value)
    local runs = store:list_runs()
    assert.same({ run_id = "r1", nodes = 1, counts = { failed = 1 },
      first = "2023-11-14T22:13:20.000000+00:00", last = "2023-11-14T22:13:20.000000+00:00" },
      runs[1])
    store:close()
  end)

  it("groups transitions in one transaction, rolled back on failure", function()
    local store = assert(state.open({ path = path }))
    assert.same({ nil, "stop", "conflict" }, { store:transaction(function(s)
      assert(s:claim("c/workflow-w/1"))
      return nil, "stop", "conflict"
    end) })
    assert.same({ nil, "state.get c/workflow-w/1: not found", "not_found" },
      { store:get("c/workflow-w/1") })
    assert.is_true(store:transaction(function(s)
      assert(s:claim("c/workflow-w/1"))
      return s:set_processing("c/workflow-w/1")
    end))
    assert.equal("PROCESSING", store:get("c/workflow-w/1").state)
    store:close()
  end)

  it("raises on misuse of open", function()
    assert.has_error(function() state.open({}) end,
      "state.open: path is required for the sqlite backend")
    assert.has_error(function() state.open({ path = path, colour = 1 }) end,
      "state.open: unknown option 'colour'")
    assert.has_error(function() state.open({ backend = "redis", path = path }) end,
      'state.open: unknown backend "redis"')
    assert.has_error(function() state.open("x") end, "bad argument #1 to 'open' (table expected)")
  end)

  it("formats timestamps like Python's isoformat, always with microseconds", function()
    assert.equal("2023-11-14T22:13:20.000000+00:00", state.iso8601(BASE))
    assert.equal("2023-11-14T22:13:21.000000+00:00", state.iso8601(BASE + 0.9999999))
    assert.equal("1970-01-01T00:00:00.123456+00:00", state.iso8601(0.123456))
    assert.equal(BASE - 7 * 86400, state.parse_since("7d", BASE))
    assert.equal(BASE - 24 * 3600, state.parse_since("24h", BASE))
    assert.equal(BASE - 30 * 60, state.parse_since("30m", BASE))
    assert.equal(12, state.parse_since(12, BASE))
    assert.same({ nil, 'state: bad since "7w" (expected <n>d, <n>h, <n>m or an epoch number)',
      "invalid_input" }, { state.parse_since("7w", BASE) })
  end)
end)

-- }======
