-- gf.state on DynamoDB (dynalite, 127.0.0.1:19002): the shared gf.state suite
-- (spec/unit/state_spec.lua) with one fresh cirrus-schema table per test, then what is
-- DynamoDB's own: the table from cirrus' schema, records cirrus can read, error mapping, paging
-- through ExclusiveStartKey, cirrus v2's SUCCEEDED_ records, node records.
local paths = require("spec.support.paths")

if not os.getenv("GF_TEST_SERVERS") then
  describe("gf.state #integration (dynamodb)", function()
    it("needs the test servers", function()
      pending("GF_TEST_SERVERS not set: run through spec/support/servers.sh run")
    end)
  end)
  return
end

local state = require("gf.state")
local dynamodb = require("gf.state.dynamodb")
local awsjson = require("gf.awsjson")
local json = require("gf.json")

local ENDPOINT = "http://127.0.0.1:19002"
local CREDS = { access_key = "test", secret_key = "test" }
local client = awsjson.client({ service = "dynamodb", endpoint = ENDPOINT, region = "us-east-1",
  credentials = CREDS })

local counter = 0
local function table_name()
  counter = counter + 1
  return ("gfstate-%d-%d-%d"):format(os.time(), math.random(100000, 999999), counter)
end

local function open(name, extra)
  local opts = { backend = "dynamodb", table = name, endpoint = ENDPOINT, region = "us-east-1",
    credentials = CREDS }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return state.open(opts)
end

local tables = setmetatable({}, { __mode = "k" })

-- _ENV: the chunk must see busted's describe/it, which live in this file's environment
assert(loadfile(paths.root .. "/spec/unit/state_spec.lua", "t", _ENV))({
  label = "dynamodb",
  tag = "#integration",
  new = function(clock)
    local name = table_name()
    assert(dynamodb.create_table(client, name))
    local store = assert(open(name, { clock = clock }))
    tables[store] = name
    return store
  end,
  dispose = function(store)
    assert(dynamodb.delete_table(client, tables[store]))
  end,
  open_source = function(store)
    return ("require('gf.state').open({ backend = 'dynamodb', table = %q, endpoint = %q, "
      .. "region = 'us-east-1', credentials = { access_key = 'test', secret_key = 'test' } })")
      :format(tables[store], ENDPOINT)
  end,
})

local BASE = 1700000000

describe("gf.state #integration (dynamodb specifics)", function()
  local name, store, now

  before_each(function()
    name = table_name()
    now = BASE + 0.5
    assert(dynamodb.create_table(client, name))
    store = assert(open(name, { clock = function() return now end }))
  end)

  after_each(function()
    store:close()
    dynamodb.delete_table(client, name)
  end)

  local function raw_get(cw, itemids)
    return assert(client:call("GetItem", { TableName = name, ConsistentRead = true,
      Key = { collections_workflow = { S = cw }, itemids = { S = itemids } } })).Item
  end

  describe("tables", function()
    local function sorted(list, field)
      local out = {}
      for i, v in ipairs(list) do out[i] = v end
      table.sort(out, function(a, b) return a[field] < b[field] end)
      return out
    end

    local function shape(t)
      local gsis = {}
      for i, g in ipairs(sorted(t.GlobalSecondaryIndexes, "IndexName")) do
        gsis[i] = { IndexName = g.IndexName, KeySchema = g.KeySchema,
          Projection = { ProjectionType = g.Projection.ProjectionType } }
      end
      local attrs = {}
      for i, a in ipairs(sorted(t.AttributeDefinitions, "AttributeName")) do
        attrs[i] = { AttributeName = a.AttributeName, AttributeType = a.AttributeType }
      end
      return { KeySchema = t.KeySchema, AttributeDefinitions = attrs, GlobalSecondaryIndexes = gsis }
    end

    it("creates the table of cirrus' schema file, ACTIVE with its two indexes", function()
      local f = assert(io.open(paths.fixtures .. "/cirrus/statedb-schema.json"))
      local want = json.decode(f:read("a"))
      f:close()
      local desc = assert(client:call("DescribeTable", { TableName = name })).Table
      assert.equal("ACTIVE", desc.TableStatus)
      assert.same(shape(want), shape(desc))
      -- the same from the file itself
      local other = table_name()
      assert.is_true(dynamodb.create_table(client, other,
        { schema = paths.fixtures .. "/cirrus/statedb-schema.json" }))
      assert.same(shape(want), shape(assert(client:call("DescribeTable",
        { TableName = other })).Table))
      assert.is_true(dynamodb.delete_table(client, other))
    end)

    it("refuses an existing table, a bad schema file, and misuse", function()
      assert.same({ nil, "dynamodb.CreateTable " .. name .. ": 400 ResourceInUseException",
        "conflict" }, { dynamodb.create_table(client, name) })
      local r = { dynamodb.create_table(client, "x", { schema = "/nonexistent/schema.json" }) }
      assert.same({ nil, "state.create_table: /nonexistent/schema.json: No such file or directory",
        "io" }, r)
      assert.has_error(function() dynamodb.create_table("c", "x") end,
        "bad argument #1 to 'create_table' (gf.awsjson client expected)")
      assert.has_error(function() dynamodb.create_table(client, "") end,
        "bad argument #2 to 'create_table' (table name expected)")
    end)

    it("creates a missing table on open with create = true", function()
      local other = table_name()
      local s = assert(open(other, { create = true }))
      assert.is_true(s:claim("c/workflow-w/i", "x"))
      assert.equal("CLAIMED", s:get("c/workflow-w/i").state)
      s:close()
      assert.is_true(dynamodb.delete_table(client, other))
    end)
  end)

  describe("errors", function()
    it("a missing table gives ResourceNotFoundException / not_found, on open and later", function()
      local missing = "gfstate-none-" .. math.random(100000, 999999)
      assert.same({ nil, "dynamodb.DescribeTable " .. missing .. ": 400 "
        .. "ResourceNotFoundException: Requested resource not found: Table: " .. missing
        .. " not found", "not_found" }, { open(missing) })
      assert.is_true(dynamodb.delete_table(client, name))
      local gone = "dynamodb.%s " .. name .. ": 400 ResourceNotFoundException: Requested "
        .. "resource not found"
      -- dynalite deletes asynchronously: wait until the table is gone
      for _ = 1, 100 do
        if not client:call("DescribeTable", { TableName = name }) then break end
        require("gf.task").sleep(0.05)
      end
      assert.same({ nil, gone:format("GetItem"), "not_found" }, { store:get("c/workflow-w/i") })
      assert.same({ nil, gone:format("UpdateItem"), "not_found" },
        { store:claim("c/workflow-w/i", "x") })
      assert.same({ nil, gone:format("Query"), "not_found" },
        { store:query({ collections_workflow = "c_w" }) })
      -- a run's first node write records the run in the run index (an UpdateItem) first
      assert.same({ nil, gone:format("UpdateItem"), "not_found" },
        { store:put_node("r", "n", { status = "running" }) })
    end)

    it("an unreachable endpoint gives a transport code", function()
      local r = { state.open({ backend = "dynamodb", table = "t", client = awsjson.client({
        service = "dynamodb", endpoint = "http://127.0.0.1:1", region = "us-east-1",
        credentials = CREDS, retry = false }) }) }
      assert.is_nil(r[1])
      assert.matches("^dynamodb%.DescribeTable t: ", r[2])
      assert.equal("network", r[3])
    end)

    it("raises on misuse of open", function()
      assert.has_error(function() state.open({ backend = "dynamodb" }) end,
        "state.open: table is required for the dynamodb backend")
      assert.has_error(function() state.open({ backend = "dynamodb", table = "t", path = "x" }) end,
        "state.open: option 'path' is not used by the dynamodb backend")
      assert.has_error(function() state.open({ path = "x.db", table = "t" }) end,
        "state.open: option 'table' is not used by the sqlite backend")
      assert.has_error(function() state.open({ backend = "dynamodb", table = 5 }) end,
        "state.open: option 'table' must be a string")
      assert.has_error(function() state.open({ backend = "dynamodb", table = "t", client = {} }) end,
        "state.open: client must be a gf.awsjson client")
    end)
  end)

  describe("conflicts", function()
    -- dynalite predates ReturnValuesOnConditionCheckFailure; the spy answers a failed condition
    -- as DynamoDB does, with the ALL_OLD item in the error body (marked so the test can tell it
    -- from a GetItem), and counts GetItem calls.
    local function all_old_spy()
      local spy = { gets = 0, asked = {} }
      spy.call = function(_, target, params, opts)
        if target == "GetItem" then spy.gets = spy.gets + 1 end
        local r, msg, code, aws_code, body = client:call(target, params, opts)
        if target == "UpdateItem" then
          spy.asked[#spy.asked + 1] = params.ReturnValuesOnConditionCheckFailure
          assert(not params.ReturnValuesOnConditionCheckFailure or (opts and opts.details),
            "ALL_OLD asked for without details")
        end
        if not r and aws_code == "ConditionalCheckFailedException" and params.ReturnValuesOnConditionCheckFailure == "ALL_OLD" then
          local item = assert(client:call("GetItem", { TableName = name, Key = params.Key, ConsistentRead = true })).Item
          item.last_error = { S = "from ALL_OLD" }
          body = { __type = "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
            message = "The conditional request failed", Item = item }
        end
        return r, msg, code, aws_code, body
      end
      return spy
    end

    it("a failed claim or set_processing returns the ALL_OLD item of the error, without a GetItem", function()
      local id = "c/workflow-w/item-1"
      assert.is_true(store:claim(id, "exec-1"))
      local spy = all_old_spy()
      local s = assert(open(name, { client = spy, clock = function() return now end }))
      local r = { s:claim(id, "exec-2") }
      assert.same({ nil, "state.claim " .. id .. ": already CLAIMED", "conflict" }, { r[1], r[2], r[3] })
      assert.equal("CLAIMED", r[4].state)
      assert.equal("from ALL_OLD", r[4].last_error)
      assert.same({ "exec-1" }, r[4].executions)
      assert.equal(0, spy.gets)
      assert.is_true(s:set_failed(id, "boom"))
      r = { s:set_processing(id) }
      assert.same({ nil, "conflict" }, { r[1], r[3] })
      assert.equal("FAILED", r[4].state)
      assert.equal("from ALL_OLD", r[4].last_error)
      assert.equal(0, spy.gets)
      assert.same({ "ALL_OLD", "ALL_OLD" }, { spy.asked[1], spy.asked[#spy.asked] })
      s:close()
    end)

    it("without an item in the error body the record comes from a consistent GetItem", function()
      local id = "c/workflow-w/item-2"
      assert.is_true(store:claim(id, "exec-1"))
      local r = { store:claim(id, "exec-2") }
      assert.same({ nil, "conflict", "CLAIMED", { "exec-1" } }, { r[1], r[3], r[4].state, r[4].executions })
    end)

    it("gf.awsjson returns the AWS error code and the decoded error body when asked", function()
      local req = { TableName = name .. "-missing",
        Key = { collections_workflow = { S = "a" }, itemids = { S = "b" } } }
      local r = { client:call("GetItem", req, { details = true }) }
      assert.same({ nil, "not_found", "ResourceNotFoundException" }, { r[1], r[3], r[4] })
      assert.is_table(r[5])
      assert.matches("ResourceNotFoundException", r[5].__type)
      assert.equal(3, select("#", client:call("GetItem", req)))
    end)
  end)

  describe("records", function()
    it("writes the attributes cirrus reads (S strings, L lists of S)", function()
      local id = "sentinel-s2-l2a/workflow-cog-archive/S2B_17HQD_20201103_0_L2A"
      assert.is_true(store:claim(id, "arn:aws:states:us-east-1:1:execution:cog-archive:a"))
      assert.is_true(store:set_processing(id))
      now = now + 2
      assert.is_true(store:set_completed(id, { "s3://out/a.json" }))
      local t0, t1 = state.iso8601(BASE + 0.5), state.iso8601(now)
      assert.same({
        collections_workflow = { S = "sentinel-s2-l2a_cog-archive" },
        itemids = { S = "S2B_17HQD_20201103_0_L2A" },
        state_updated = { S = "COMPLETED_" .. t1 },
        created = { S = t0 }, updated = { S = t1 }, claimed_at = { S = t0 },
        executions = { L = { { S = "arn:aws:states:us-east-1:1:execution:cog-archive:a" } } },
        outputs = { L = { { S = "s3://out/a.json" } } },
      }, raw_get("sentinel-s2-l2a_cog-archive", "S2B_17HQD_20201103_0_L2A"))
      assert.is_true(store:set_failed(id, "States.Timeout: x"))
      assert.same({ S = "States.Timeout: x" }, raw_get("sentinel-s2-l2a_cog-archive",
        "S2B_17HQD_20201103_0_L2A").last_error)
      -- a claim removes last_error and outputs, as cirrus v2 does
      assert.is_true(store:claim(id, "b"))
      local raw = raw_get("sentinel-s2-l2a_cog-archive", "S2B_17HQD_20201103_0_L2A")
      assert.is_nil(raw.last_error)
      assert.is_nil(raw.outputs)
      assert.equal(2, #raw.executions.L)
    end)

    it("reads records cirrus wrote, including v2's SUCCEEDED_ and timestamps without fraction",
      function()
        assert(client:call("PutItem", { TableName = name, Item = {
          collections_workflow = { S = "c_w" }, itemids = { S = "i1" },
          state_updated = { S = "SUCCEEDED_2024-05-01T12:00:00+00:00" },
          created = { S = "2024-05-01T11:00:00+00:00" }, updated = { S = "2024-05-01T12:00:00+00:00" },
          executions = { L = { { S = "arn:1" } } }, outputs = { L = { { S = "s3://x" } } } } }))
        assert.same({ payload_id = "c/workflow-w/i1", collections = "c", workflow = "w",
          items = "i1", collections_workflow = "c_w", itemids = "i1", state = "COMPLETED",
          state_updated = "COMPLETED_2024-05-01T12:00:00+00:00",
          created = "2024-05-01T11:00:00+00:00", updated = "2024-05-01T12:00:00+00:00",
          executions = { "arn:1" }, outputs = { "s3://x" } }, store:get("c/workflow-w/i1"))
        -- a SUCCEEDED record can be claimed again
        assert.is_true(store:claim("c/workflow-w/i1", "arn:2"))
        assert.same({ "arn:1", "arn:2" }, store:get("c/workflow-w/i1").executions)
      end)
  end)

  describe("queries", function()
    -- 20 records one minute apart; odd minutes written by cirrus v2 as SUCCEEDED_, even ones
    -- by gfhost as COMPLETED_; one FAILED record before them all.
    local CW = "mix_w"
    local function pid(i) return ("mix/workflow-w/item-%02d"):format(i) end

    before_each(function()
      now = BASE
      assert(store:set_failed("mix/workflow-w/zz-failed", "Boom: x"))
      for i = 1, 20 do
        now = BASE + i * 60
        if i % 2 == 0 then
          assert(store:claim(pid(i), "e" .. i))
          assert(store:set_completed(pid(i), { "s3://o/" .. i }))
        else
          local t = state.iso8601(now)
          assert(client:call("PutItem", { TableName = name, Item = {
            collections_workflow = { S = CW }, itemids = { S = ("item-%02d"):format(i) },
            state_updated = { S = "SUCCEEDED_" .. t }, created = { S = t }, updated = { S = t } } }))
        end
      end
      now = BASE + 21 * 60
    end)

    local function ids(items)
      local out = {}
      for i, it in ipairs(items) do out[i] = it.payload_id end
      return out
    end

    local function all_desc(from)
      local out = {}
      for i = 20, from or 1, -1 do out[#out + 1] = pid(i) end
      return out
    end

    it("a COMPLETED query merges COMPLETED_ and SUCCEEDED_ newest first, in pages", function()
      for _, limit in ipairs({ 1, 3, 7, 100 }) do
        local seen, token, pages = {}, nil, 0
        repeat
          local items, nxt = assert(store:query({ collections_workflow = CW, state = "COMPLETED",
            limit = limit, next = token }))
          assert.is_true(#items <= limit)
          for _, it in ipairs(items) do
            assert.equal("COMPLETED", it.state)
            seen[#seen + 1] = it.payload_id
          end
          token, pages = nxt, pages + 1
          assert.is_true(pages <= 50)
        until not token
        assert.same(all_desc(), seen)
      end
      assert.same(all_desc(), ids(store:query_all({ collections_workflow = CW,
        state = "SUCCEEDED", page_size = 4 })))
      assert.equal(20, store:count({ collections_workflow = CW, state = "COMPLETED" }))
      assert.equal(21, store:count({ collections_workflow = CW }))
    end)

    it("merges in order when the error filter leaves one range's pages short", function()
      -- COMPLETED_ at minutes 20..11, matching only at 20 and 12; SUCCEEDED_ at 19.5, 5, 4, 3,
      -- all matching. A page of COMPLETED_ ends near minute 20 while SUCCEEDED_ reaches minute
      -- 3: minute 12 must still come before minute 5.
      local function put(itemids, st, minute, err)
        local t = state.iso8601(BASE + minute * 60)
        assert(client:call("PutItem", { TableName = name, Item = {
          collections_workflow = { S = "err_w" }, itemids = { S = itemids },
          state_updated = { S = st .. "_" .. t }, created = { S = t }, updated = { S = t },
          last_error = { S = err } } }))
      end
      for m = 11, 20 do put(("c%02d"):format(m), "COMPLETED", m, (m == 20 or m == 12) and "Err" or "Other") end
      put("s19", "SUCCEEDED", 19.5, "Err: a")
      for m = 3, 5 do put(("s%02d"):format(m), "SUCCEEDED", m, "Err: b") end
      local want = { "c20", "s19", "c12", "s05", "s04", "s03" }
      for _, limit in ipairs({ 1, 2, 3, 4, 10 }) do
        local seen, token = {}, nil
        repeat
          local items, nxt = assert(store:query({ collections_workflow = "err_w",
            state = "COMPLETED", error_prefix = "Err", limit = limit, next = token }))
          for _, it in ipairs(items) do seen[#seen + 1] = it.itemids end
          token = nxt
        until not token
        assert.same(want, seen)
      end
      assert.equal(6, store:count({ collections_workflow = "err_w", state = "COMPLETED",
        error_prefix = "Err" }))
    end)

    it("with since, over both ranges", function()
      -- minute 21 now: 5m covers minutes 16..20
      assert.same(all_desc(16), ids(store:query_all({ collections_workflow = CW,
        state = "COMPLETED", since = "5m", page_size = 2 })))
      assert.equal(5, store:count({ collections_workflow = CW, state = "COMPLETED", since = "5m" }))
    end)

    it("reads only COMPLETED_ with match_succeeded = false", function()
      local s = assert(open(name, { match_succeeded = false, clock = function() return now end }))
      local want = {}
      for i = 20, 1, -2 do want[#want + 1] = pid(i) end
      assert.same(want, ids(s:query_all({ collections_workflow = CW, state = "COMPLETED" })))
      assert.equal(10, s:count({ collections_workflow = CW, state = "COMPLETED" }))
      s:close()
    end)

    it("pages through LastEvaluatedKey / ExclusiveStartKey", function()
      local calls = {}
      local spy = { call = function(_, target, params)
        local r, msg, code = client:call(target, params)
        if target == "Query" then calls[#calls + 1] = { req = params, res = r } end
        return r, msg, code
      end }
      local s = assert(open(name, { client = spy, clock = function() return now end }))
      local p1, tok = s:query({ collections_workflow = CW, limit = 8 })
      assert.same(all_desc(13), ids(p1))
      assert.same({ "updated", false, 8, nil }, { calls[1].req.IndexName,
        calls[1].req.ScanIndexForward, calls[1].req.Limit, calls[1].req.ExclusiveStartKey })
      local lek = calls[1].res.LastEvaluatedKey
      assert.same({ collections_workflow = { S = CW }, itemids = { S = "item-13" },
        updated = { S = state.iso8601(BASE + 13 * 60) } }, lek)
      local p2 = s:query({ collections_workflow = CW, limit = 8, next = tok })
      assert.same(lek, calls[2].req.ExclusiveStartKey)
      assert.same({ pid(12), pid(11), pid(10), pid(9), pid(8), pid(7), pid(6), pid(5) }, ids(p2))
      -- the error filter applies after Limit, as in DynamoDB: short pages that still go on
      calls = {}
      local p, t = s:query({ collections_workflow = CW, limit = 2, error_prefix = "Boom" })
      assert.same({ {}, "string" }, { p, type(t) })
      assert.equal("begins_with(#le, :ep)", calls[1].req.FilterExpression)
      assert.same({ "mix/workflow-w/zz-failed" }, ids(s:query_all({ collections_workflow = CW,
        error_prefix = "Boom", page_size = 2 })))
      -- a token whose position does not fit the key condition is refused by DynamoDB
      local _, ftok = s:query({ collections_workflow = CW, state = "FAILED", limit = 1 })
      local _, ptok = s:query({ collections_workflow = CW, state = "PROCESSING", limit = 1 })
      assert.is_nil(ptok)
      assert.is_string(ftok)
      local r = { s:query({ collections_workflow = CW, state = "ABORTED", next = ftok }) }
      assert.same({ nil, "invalid_input" }, { r[1], r[3] })
      assert.matches("ValidationException", r[2])
      s:close()
    end)

    it("counts past one page of COUNT results", function()
      local calls = 0
      local spy = { call = function(_, target, params)
        if target == "Query" then
          calls = calls + 1
          params.Limit = 6 -- force DynamoDB to page the count
        end
        return client:call(target, params)
      end }
      local s = assert(open(name, { client = spy }))
      assert.equal(21, s:count({ collections_workflow = CW }))
      assert.equal(4, calls)
      s:close()
    end)
  end)

  describe("nodes", function()
    it("live in the payload table under gf-nodes#<run>, outside both indexes", function()
      assert.is_true(store:put_node("run_1", "b", { status = "running", attempts = 1,
        output = { x = 1 } }))
      assert.same({ collections_workflow = { S = "gf-nodes#run_1" }, itemids = { S = "b" },
        status = { S = "running" }, attempts = { N = "1" }, output = { S = '{"x":1}' },
        node_updated = { S = state.iso8601(now) } }, raw_get("gf-nodes#run_1", "b"))
      assert.equal(0, store:count({ collections_workflow = "gf-nodes#run_1" }))
      assert.same({}, store:query({ collections_workflow = "gf-nodes#run_1" }))
    end)

    it("go to nodes_table when given, and delete in batches", function()
      local nodes = table_name()
      assert(dynamodb.create_table(client, nodes))
      local s = assert(open(name, { nodes_table = nodes }))
      for i = 1, 60 do
        assert.is_true(s:put_node("r", ("n%02d"):format(i), { status = i % 2 == 0 and "ok" or "bad" }))
      end
      local list = s:list_nodes("r")
      assert.equal(60, #list)
      assert.same({ "n01", "n02", "n60" }, { list[1].node, list[2].node, list[60].node })
      assert.equal(30, #s:list_nodes("r", { status = "ok" }))
      local raw = assert(client:call("GetItem", { TableName = nodes, Key = {
        collections_workflow = { S = "gf-nodes#r" }, itemids = { S = "n01" } } }))
      assert.same({ S = "bad" }, raw.Item.status)
      assert.is_nil(assert(client:call("GetItem", { TableName = name, Key = {
        collections_workflow = { S = "gf-nodes#r" }, itemids = { S = "n01" } } })).Item)
      assert.equal(60, s:delete_nodes("r"))
      assert.same({}, s:list_nodes("r"))
      assert.equal(0, s:delete_nodes("r"))
      s:close()
      assert.is_true(dynamodb.delete_table(client, nodes))
      assert.same({ nil, "dynamodb.DescribeTable gf-none-nodes: 400 ResourceNotFoundException: "
        .. "Requested resource not found: Table: gf-none-nodes not found", "not_found" },
        { open(name, { nodes_table = "gf-none-nodes" }) })
    end)
  end)
end)
