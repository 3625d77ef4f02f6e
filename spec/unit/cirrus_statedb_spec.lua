-- Cirrus' tests/lib/test_statedb.py cases (source-systems §5.5) on gf.state, as the Cirrus
-- commands use it. Run here on SQLite; spec/integration/cirrus_flow_spec.lua runs the same
-- cases on dynalite:
--   assert(loadfile(paths.root .. "/spec/unit/cirrus_statedb_spec.lua", "t", _ENV))({
--     label = "dynamodb", tag = "#integration", new = function(clock) ... end, dispose = ... })
local state = require("gf.state")
local payload = require("gf.state.payload")
local paths = require("spec.support.paths")

local BASE = 1700000000

local function suite(backend)
  describe(("cirrus test_statedb %s (%s)"):format(backend.tag or "#unit", backend.label), function()
    local store, now
    local COL, WF = "test-collection", "test-workflow"
    local CW = COL .. "_" .. WF
    local function id(i) return ("%s/workflow-%s/item-%02d"):format(COL, WF, i) end

    before_each(function()
      now = BASE
      store = backend.new(function() return now end)
    end)

    after_each(function()
      if backend.dispose then backend.dispose(store) end
      store:close()
    end)

    -- test_statedb's fixture: 20 items, every other one FAILED with "failed-error-message",
    -- the rest COMPLETED, one second apart
    local function seed(n)
      for i = 1, n or 20 do
        now = BASE + i
        assert(store:claim(id(i), "arn:aws:states:us-east-1:123456789012:execution:" .. WF .. ":" .. i))
        assert(store:set_processing(id(i)))
        if i % 2 == 0 then assert(store:set_failed(id(i), "failed-error-message " .. i))
        else assert(store:set_completed(id(i), { "s3://out/" .. i })) end
      end
      now = BASE + 100
    end

    it("converts payload ids to keys and back", function()
      assert.same({ collections_workflow = "col1_wf1", itemids = "item1/item2" },
        payload.to_key("col1/workflow-wf1/item1/item2"))
      assert.equal("col1/workflow-wf1/item1/item2", payload.from_key("col1_wf1", "item1/item2"))
      assert.equal("col_with_underscores/workflow-wf1/i", payload.from_key(payload.to_key("col_with_underscores/workflow-wf1/i")))
    end)

    it("get_items pages with a record limit of 10, newest first", function()
      seed()
      local first, tok = assert(store:query({ collections_workflow = CW, limit = 10 }))
      assert.equal(10, #first)
      assert.is_string(tok)
      assert.equal(id(20), first[1].payload_id)
      local second, tok2 = assert(store:query({ collections_workflow = CW, limit = 10, next = tok }))
      assert.equal(10, #second)
      assert.equal(id(10), second[1].payload_id)
      if tok2 then assert.same({}, (store:query({ collections_workflow = CW, limit = 10, next = tok2 }))) end
      assert.equal(20, #assert(store:query_all({ collections_workflow = CW, page_size = 10 })))
    end)

    it("get_items with limit 1", function()
      seed()
      local items = assert(store:query_all({ collections_workflow = CW, limit = 1, page_size = 10 }))
      assert.equal(1, #items)
      assert.equal(id(20), items[1].payload_id)
    end)

    it("get_items with an error prefix", function()
      seed()
      local items = assert(store:query_all({ collections_workflow = CW, state = "FAILED",
        error_prefix = "failed-error-message", page_size = 10 }))
      assert.equal(10, #items)
      for _, it_ in ipairs(items) do assert.equal("FAILED", it_.state) end
      assert.equal(0, #assert(store:query_all({ collections_workflow = CW, error_prefix = "nope" })))
    end)

    it("counts with and without state or since", function()
      seed()
      assert.equal(20, store:count({ collections_workflow = CW }))
      assert.equal(10, store:count({ collections_workflow = CW, state = "COMPLETED" }))
      assert.equal(10, store:count({ collections_workflow = CW, state = "FAILED" }))
      assert.equal(20, store:count({ collections_workflow = CW, since = "10d" }))
      assert.equal(5, store:count({ collections_workflow = CW, state = "FAILED", since = BASE + 11 }))
      assert.equal(0, store:count({ collections_workflow = CW, since = "1m" }))
    end)

    it("claims, refuses a double claim, and refuses set_processing without a claim", function()
      assert.is_true(store:claim(id(1), "arn:1"))
      local r = { store:claim(id(1), "arn:2") }
      assert.same({ nil, "conflict" }, { r[1], r[3] })
      assert.equal("CLAIMED", r[4].state)
      assert.same({ "arn:1" }, assert(store:get(id(1))).executions)
      local p = { store:set_processing(id(2)) }
      assert.same({ nil, "conflict" }, { p[1], p[3] })
      assert.is_true(store:set_processing(id(1)))
      local again = { store:claim(id(1), "arn:3") }
      assert.same({ nil, "conflict", "PROCESSING" }, { again[1], again[3], again[4].state })
    end)

    it("sets outputs, completed, failed, invalid, aborted, and deletes", function()
      assert(store:claim(id(1), "arn:1"))
      assert(store:set_processing(id(1)))
      assert(store:set_completed(id(1), { "s3://a", "s3://b" }))
      local rec = assert(store:get(id(1)))
      assert.same({ "COMPLETED", { "s3://a", "s3://b" } }, { rec.state, rec.outputs })
      assert(store:set_outputs(id(1), { "s3://c" }))
      assert.same({ "s3://c" }, assert(store:get(id(1))).outputs)
      assert(store:set_failed(id(1), "failed"))
      assert.same({ "FAILED", "failed" }, { assert(store:get(id(1))).state, assert(store:get(id(1))).last_error })
      assert(store:set_invalid(id(1), "invalid"))
      assert.equal("INVALID", assert(store:get(id(1))).state)
      assert(store:set_aborted(id(1)))
      assert.equal("ABORTED", assert(store:get(id(1))).state)
      assert.is_true(store:delete(id(1)))
      assert.equal("not_found", select(3, store:get(id(1))))
    end)
  end)
end

local args = ...
if type(args) == "table" and args.new then
  suite(args)
else
  local fs = require("gf.fs")
  local dir
  suite({
    label = "sqlite",
    new = function(clock)
      dir = paths.tmpdir()
      return assert(state.open({ path = dir .. "/s.db", clock = clock }))
    end,
    dispose = function() fs.remove_tree(dir) end,
  })
end
