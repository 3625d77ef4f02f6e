-- cirrus.*: the pieces with exact expected outputs — gf.aws.sha1 vectors, Python float and
-- list repr, uuid5 execution names, event unwrapping and SNS item attributes from the Cirrus
-- fixtures, and string.Template with defaults.
local aws = require("gf.aws")
local json = require("gf.json")
local paths = require("spec.support.paths")
local files = require("spec.support.files")
local py = require("cirrus.py")
local uuid = require("cirrus.uuid")
local event = require("cirrus.event")
local attributes = require("cirrus.attributes")
local template = require("cirrus.template")
local core = require("cirrus.core")

local FIX = paths.fixtures .. "/cirrus/"

local function fixture(name)
  return assert(files.read(FIX .. name))
end

describe("cirrus library #unit", function()
  describe("gf.aws.sha1 (libcrypto)", function()
    it("gives the FIPS 180 and RFC 3174 vectors", function()
      assert.equal("da39a3ee5e6b4b0d3255bfef95601890afd80709", aws.sha1("", true))
      assert.equal("a9993e364706816aba3e25717850c26c9cd0d89d", aws.sha1("abc", true))
      assert.equal("84983e441c3bd26ebaae4aa1f95129e5e54670f1",
        aws.sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", true))
      assert.equal("34aa973cd4c4daa4f61eeb2bdbad27316534016f", aws.sha1(("a"):rep(1000000), true))
      assert.equal("dea356a2cddd90c7a7ecedc5ebb563934f460452", aws.sha1(("01234567"):rep(80), true))
    end)

    it("returns 20 raw bytes without hex, and keeps NUL bytes", function()
      local raw = aws.sha1("abc")
      assert.equal(20, #raw)
      assert.equal("a9993e364706816aba3e25717850c26c9cd0d89d", (raw:gsub(".", function(c) return ("%02x"):format(c:byte()) end)))
      assert.not_equal(aws.sha1("a\0b", true), aws.sha1("a", true))
    end)

    it("raises on a non-string", function()
      assert.has_error(function() aws.sha1({}) end)
    end)
  end)

  describe("Python text forms", function()
    it("formats floats as str(float) does", function()
      local cases = {
        { -78.85549714480591, "-78.85549714480591" }, { -33.171471085391424, "-33.171471085391424" },
        { 51.56, "51.56" }, { 1.0, "1.0" }, { -0.0, "-0.0" }, { 0.0, "0.0" }, { 1e16, "1e+16" },
        { 1.5e-7, "1.5e-07" }, { 0.0001, "0.0001" }, { 1e-5, "1e-05" }, { 0.1 + 0.2, "0.30000000000000004" },
        { 2.5e15, "2500000000000000.0" }, { 123456789012345.6, "123456789012345.6" }, { 5e-324, "5e-324" },
        { 1.7976931348623157e308, "1.7976931348623157e+308" }, { 100.0, "100.0" }, { 12, "12" },
        { math.huge, "inf" }, { -math.huge, "-inf" },
      }
      for _, c in ipairs(cases) do assert.equal(c[2], py.float_str(c[1])) end
      assert.equal("nan", py.float_str(0 / 0))
    end)

    it("writes list repr with Python's quoting", function()
      assert.equal("[]", py.repr_list({}))
      assert.equal("['a', 'b']", py.repr_list({ "a", "b" }))
      assert.equal([=[["it's", 'say "hi"', 'both \' and "', 'tab\there\\n']]=],
        py.repr_list({ "it's", 'say "hi"', "both ' and \"", "tab\there\\n" }))
      assert.equal("'\\x01\\n'", py.repr_str("\1\n"))
    end)
  end)

  describe("uuid5 execution names", function()
    it("gives Cirrus' tested name for a new payload", function()
      assert.equal("a4201f97-6557-5f4e-ae88-6542ef800708",
        uuid.execution_name("test-collection-input1/workflow-test-workflow1/test-id1", {}))
      assert.equal("a4201f97-6557-5f4e-ae88-6542ef800708",
        core.execution_name(nil, "test-collection-input1/workflow-test-workflow1/test-id1"))
    end)

    it("matches Python's uuid.uuid5 (NAMESPACE_URL, NAMESPACE_DNS)", function()
      assert.equal("8c9ddcb0-8084-5a7f-a988-1095ab18b5df", uuid.uuid5(uuid.NAMESPACE_URL, "http://example.com"))
      assert.equal("886313e1-3b8a-5372-9b90-0c9aee199e5d", uuid.uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org"))
    end)

    it("hashes the repr of the console URLs of earlier executions", function()
      local arn = "arn:aws:states:us-west-2:123456789012:execution:wf:abc"
      local url = "https://us-west-2.console.aws.amazon.com/states/home?region=us-west-2#/v2/executions/details/" .. arn
      assert.equal(url, core.console_url(arn))
      local id = "c/workflow-wf/i"
      assert.equal(uuid.uuid5(uuid.NAMESPACE_URL, id .. "/['" .. url .. "']"),
        core.execution_name({ executions = { arn } }, id))
      assert.not_equal(core.execution_name(nil, id), core.execution_name({ executions = { arn } }, id))
    end)

    it("builds the execution ARN from the base workflow ARN", function()
      local d = { base_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:cirrus-dev-" }
      assert.equal("arn:aws:states:us-east-1:123456789012:execution:cirrus-dev-wf1:a4201f97-6557-5f4e-ae88-6542ef800708",
        core.execution_arn(d, "wf1", "a4201f97-6557-5f4e-ae88-6542ef800708"))
      assert.equal("arn:aws:states:us-east-1:123456789012:stateMachine:cirrus-dev-wf1", core.state_machine_arn(d, "wf1"))
    end)

    it("makes random version 4 uuids", function()
      local a, b = uuid.uuid4(), uuid.uuid4()
      assert.matches("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$", a)
      assert.not_equal(a, b)
    end)
  end)

  describe("event unwrapping", function()
    for _, name in ipairs({ "plain", "plain-batch-url", "sns-single", "sns-multiple", "sqs-single",
        "sqs-multiple", "sns-sqs-single", "sns-sqs-multiple" }) do
      it("gives events/" .. name .. ".json.expected", function()
        local got = assert(event.records(fixture("events/" .. name .. ".json")))
        local want = json.decode(fixture("events/" .. name .. ".json.expected"))
        assert.same(want, got)
      end)
    end

    it("unwraps the real SQS->SNS envelope fixture to its payload", function()
      local recs = assert(event.records(fixture("sqs-event.json")))
      assert.equal(1, #recs)
      assert.is_table(recs[1])
      assert.is_nil(recs[1].Message)
    end)

    it("fetches an {url} record and reports a bad body", function()
      local p = assert(event.resolve({ url = "s3://b/k.json" }, function(u)
        assert.equal("s3://b/k.json", u)
        return '{"id": "x"}'
      end))
      assert.same({ id = "x" }, p)
      assert.same({ nil, "missing", "not_found" }, { event.resolve({ url = "s3://b/none" }, function()
        return nil, "missing", "not_found" end) })
      local r = { event.records({ Records = { { body = "{bad" } } }) }
      assert.is_nil(r[1])
      assert.equal("parse", r[3])
      assert.matches("Records%[0%]", r[2])
    end)
  end)

  describe("SNS item attributes", function()
    for _, name in ipairs({ "item", "item_alt", "item_no_properties" }) do
      it("gives items/" .. name .. ".json.expected exactly", function()
        local got = attributes.item(json.decode(fixture("items/" .. name .. ".json")))
        local want = json.decode(fixture("items/" .. name .. ".json.expected"))
        assert.same(want, got)
        local n = 0
        for _ in pairs(got) do n = n + 1 end
        assert.is_true(n <= 10)
      end)
    end

    it("writes integral floats as 1.0 and integers as integers", function()
      local a = attributes.item({ collection = "c", bbox = { 1.0, -2, 3.5, 4 }, properties = { ["eo:cloud_cover"] = 0.0 } })
      assert.equal("1.0", a["bbox.ll_lon"].StringValue)
      assert.equal("-2", a["bbox.ll_lat"].StringValue)
      assert.equal("0.0", a.cloud_cover.StringValue)
    end)
  end)

  describe("payload templates", function()
    local tpl = '{"succeed": ${succeed?true}, "replace": ${replace?false},\n "id": "collection/workflow-minimal/item${id_suffix?}"}'

    it("substitutes defaults, variables and $$ as Cirrus' minimal template needs", function()
      assert.equal('{"succeed": true, "replace": false,\n "id": "collection/workflow-minimal/item"}',
        template.substitute(tpl, {}))
      assert.equal('{"succeed": false, "replace": false,\n "id": "collection/workflow-minimal/item-2"}',
        template.substitute(tpl, { succeed = "false", id_suffix = "-2" }))
      assert.equal("$x A $ A", template.substitute("$$x $a $$ ${a}", { a = "A" }))
    end)

    it("reports a missing variable and a bad placeholder with line and column", function()
      assert.same({ nil, "template: no value for 'b' at line 2, column 3", "invalid_input" },
        { template.substitute("a\n  $b", {}) })
      assert.same({ nil, "template: invalid placeholder at line 1, column 1", "invalid_input" },
        { template.substitute("$Upper", {}) })
      assert.equal("$Upper $b ${c}", template.substitute("$Upper $b ${c}", {}, { silent = true }))
    end)
  end)
end)
