-- gf.state.payload: Cirrus payload ids, their parsing and key mapping (cirrus fixtures).
local payload = require("gf.state.payload")
local json = require("gf.json")
local paths = require("spec.support.paths")

local function fixture(name)
  local f = assert(io.open(paths.fixtures .. "/cirrus/" .. name, "rb"))
  local text = f:read("a")
  f:close()
  return assert(json.decode(text))
end

local function invalid(msg)
  return { nil, msg, "invalid_input" }
end

describe("gf.state.payload #unit", function()
  describe("ids from payloads", function()
    it("builds the id of the cog-archive fixture from its items and workflow", function()
      local p = fixture("test-payload.json")
      local want = p.id
      assert.equal("sentinel-s2-l2a/workflow-cog-archive/S2B_17HQD_20201103_0_L2A", want)
      p.id = nil
      assert.equal(want, payload.make_id(p))
      assert.equal(want, payload.id(p))
      assert.equal(want, payload.set_id(p))
      assert.equal(want, p.id)
    end)

    it("keeps an existing id; make_id still builds one", function()
      local p = fixture("basic_payload.json")
      assert.equal("test/workflow-test-workflow1/test-item", payload.id(p))
      assert.equal("dummy-collection/workflow-test-workflow1/dummy-item", payload.make_id(p))
      assert.is_true(payload.validate(p))
    end)

    it("sorts item ids and distinct collections, and joins them with /", function()
      local p = { process = { { workflow = "w" } }, features = {
        { id = "b", collection = "c2" }, { id = "a", collection = "c1" },
        { id = "c", collection = "c1" } } }
      assert.equal("c1/c2/workflow-w/a/b/c", payload.make_id(p))
    end)

    it("uses process collections as an override, and 'none' without collections", function()
      local p = { process = { { workflow = "w", collections = "mine" } },
        features = { { id = "x", collection = "c" } } }
      assert.equal("mine/workflow-w/x", payload.make_id(p))
      p.process[1].collections = nil
      p.features[1].collection = nil
      assert.equal("none/workflow-w/x", payload.make_id(p))
    end)

    it("rejects payloads without a usable process block", function()
      local p = fixture("basic_payload.json")
      p.id = nil
      local process = p.process
      p.process = nil
      assert.same(invalid("payload: must contain a 'process' array of process definitions"),
        { payload.make_id(p) })
      p.process = json.array()
      assert.same(invalid("payload: 'process' field must be an array with at least one process "
        .. "definition"), { payload.make_id(p) })
      p.process = { workflow = "w" }
      assert.same(invalid("payload: 'process' field must be an array with at least one process "
        .. "definition"), { payload.validate(p) })
      p.process = { { tasks = {} } }
      assert.same(invalid("payload: must contain a 'workflow' field specifying the workflow name"),
        { payload.id(p) })
      p.process = process
      p.features = {}
      assert.same(invalid("payload: has no 'id' and one cannot be constructed without 'features'"),
        { payload.make_id(p) })
      p.features = { { collection = "c" } }
      assert.same(invalid("payload: feature 1 has no string 'id'"), { payload.make_id(p) })
      assert.same(invalid("payload: a table expected, got string"), { payload.make_id("x") })
    end)

    it("rejects an id without workflow- in validate", function()
      local p = fixture("basic_payload.json")
      p.id = "just-an-id"
      assert.same(invalid("payload: 'id' field must contain 'workflow-': just-an-id"),
        { payload.validate(p) })
    end)

    it("rerun sets process[1].replace", function()
      local p = fixture("test-payload.json")
      assert.is_nil(p.process[1].replace)
      assert.equal(p, payload.rerun(p))
      assert.is_true(p.process[1].replace)
      assert.same(invalid("payload: a table expected, got nil"), { payload.rerun(nil) })
    end)
  end)

  describe("parse and keys", function()
    it("parses the cirrus test id", function()
      assert.same({
        collections = "test-collection-input1",
        workflow = "test-workflow1",
        itemids = "test-id1",
        items = { "test-id1" },
        collections_workflow = "test-collection-input1_test-workflow1",
      }, payload.parse("test-collection-input1/workflow-test-workflow1/test-id1"))
    end)

    it("maps ids to keys and back as cirrus' payload_id_to_key does", function()
      assert.same({ collections_workflow = "col1_wf1", itemids = "item1/item2" },
        payload.to_key("col1/workflow-wf1/item1/item2"))
      assert.equal("col1/workflow-wf1/item1/item2", payload.from_key("col1_wf1", "item1/item2"))
      assert.equal("col1/workflow-wf1/item1/item2",
        payload.from_key({ collections_workflow = "col1_wf1", itemids = "item1/item2" }))
      -- collections may hold "_" and "/": the key splits at the last "_"
      local id = "sar_test/panda/workflow-test/S1A_IW_001"
      assert.same({ collections_workflow = "sar_test/panda_test", itemids = "S1A_IW_001" },
        payload.to_key(id))
      assert.equal(id, payload.from_key(payload.to_key(id)))
    end)

    it("splits at the first /workflow-", function()
      local p = payload.parse("a/workflow-b/workflow-c/d")
      assert.same({ "a", "b", "workflow-c/d" }, { p.collections, p.workflow, p.itemids })
      assert.equal("a/workflow-b/workflow-c/d", payload.from_key(payload.to_key(
        "a/workflow-b/workflow-c/d")))
    end)

    it("rejects malformed ids", function()
      local shape = "expected <collections>/workflow-<workflow>/<itemids>"
      for _, id in ipairs({ "", "col/wf/item", "/workflow-wf/item", "col/workflow-wf",
        "col/workflow-wf/", "col/workflow-/item", "col/workflow-wf" }) do
        assert.same(invalid(("payload id %q: %s"):format(id, shape)), { payload.parse(id) })
      end
      assert.same(invalid('payload id "col/workflow-w_f/item": workflow name "w_f" must not '
        .. "contain '_'"), { payload.parse("col/workflow-w_f/item") })
      assert.same(invalid('payload id "col/workflow-wf/a\\\nb": contains a newline'),
        { payload.to_key("col/workflow-wf/a\nb") })
      assert.same(invalid('state key "nounderscore" / "x": expected <collections>_<workflow> and '
        .. "itemids"), { payload.from_key("nounderscore", "x") })
    end)

    it("raises on wrong argument types", function()
      assert.has_error(function() payload.parse(42) end,
        "bad argument #1 to 'parse' (string expected, got number)")
      assert.has_error(function() payload.from_key(1, 2) end,
        "bad arguments to 'from_key' (collections_workflow and itemids strings expected)")
    end)
  end)
end)
