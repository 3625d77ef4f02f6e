describe("gf.json #unit", function()
  local json = require("gf.json")
  local paths = require("spec.support.paths")

  local tmp
  setup(function() tmp = paths.tmpdir() end)
  teardown(function() os.execute("rm -rf '" .. tmp .. "'") end)

  local files = require("spec.support.files")
  local function write(name, text) return files.write(tmp .. "/" .. name, text) end

  describe("decode", function()
    it("decodes every JSON type", function()
      local v = json.decode('{"s":"x","i":42,"f":2.5,"t":true,"b":false,"n":null,"a":[1,"2"],"o":{}}')
      assert.same("x", v.s)
      assert.equal(42, v.i)
      assert.equal("integer", math.type(v.i))
      assert.equal(2.5, v.f)
      assert.is_true(v.t)
      assert.is_false(v.b)
      assert.equal(json.null, v.n)
      assert.same({ 1, "2" }, v.a)
      assert.is_true(json.is_object(v.o))
      assert.is_true(json.is_array(v.a))
      assert.is_true(json.is_object(v))
    end)

    it("keeps integers exact and floats float", function()
      assert.equal(9007199254740993, json.decode("9007199254740993"))
      assert.equal(math.maxinteger, json.decode("9223372036854775807"))
      assert.equal(math.mininteger, json.decode("-9223372036854775808"))
      assert.equal("float", math.type(json.decode("9223372036854775808")))
      assert.equal("float", math.type(json.decode("1.0")))
      assert.equal("float", math.type(json.decode("1e2")))
      assert.equal(100.0, json.decode("1E+2"))
      assert.equal(-0.5, json.decode("-0.5"))
      assert.equal(0.1, json.decode("0.1"))
    end)

    it("decodes escapes, surrogate pairs and NUL bytes", function()
      assert.equal('a"b\\c/\b\f\n\r\t', json.decode('"a\\"b\\\\c\\/\\b\\f\\n\\r\\t"'))
      assert.equal("\u{e9}\u{20ac}", json.decode('"\\u00e9\\u20AC"'))
      assert.equal("\u{1F600}", json.decode('"\\ud83d\\ude00"'))
      local s = json.decode('"a\\u0000b"')
      assert.equal(3, #s)
      assert.equal("a\0b", s)
      assert.equal("caf\u{e9}", json.decode('"caf\u{e9}"'))
    end)

    it("keeps duplicate keys' last value and tolerates surrounding whitespace", function()
      assert.same({ a = 2 }, json.decode(' \r\n\t{"a":1,"a":2} \n'))
    end)

    it("returns nil, message, 'parse' with position for malformed input", function()
      assert.same({ nil, "json.decode: expected string key ('}') at line 1, column 8 (byte 8)", "parse" },
        { json.decode('{"a":1,}') })
      assert.same({ nil, "json.decode: unexpected end of input at line 1, column 5 (byte 5)", "parse" },
        { json.decode("[1,2") })
      assert.same({ nil, "json.decode: expected ',' or ']' ('x') at line 2, column 3 (byte 7)", "parse" },
        { json.decode("[1,\n2 x]") })
      assert.same({ nil, "json.decode: unexpected end of input at line 1, column 1 (byte 1)", "parse" },
        { json.decode("") })
      assert.same({ nil, "json.decode: unexpected data after the value ('2') at line 1, column 3 (byte 3)",
        "parse" }, { json.decode("1 2") })
      assert.same({ nil, "json.decode: leading zero in number ('0') at line 1, column 1 (byte 1)", "parse" },
        { json.decode("01") })
      assert.same({ nil, "json.decode: unexpected character ('N') at line 1, column 1 (byte 1)", "parse" },
        { json.decode("NaN") })
      assert.same({ nil, "json.decode: control character in string (0x0a) at line 1, column 3 (byte 3)",
        "parse" }, { json.decode('"a\nb"') })
      assert.same({ nil, "json.decode: invalid escape in string ('\\') at line 1, column 2 (byte 2)", "parse" },
        { json.decode('"\\x"') })
      assert.same({ nil,
        "json.decode: unpaired high surrogate in \\u escape ('\\') at line 1, column 2 (byte 2)", "parse" },
        { json.decode('"\\ud83d"') })
      assert.same({ nil, "json.decode: unterminated string ('\"') at line 1, column 1 (byte 1)", "parse" },
        { json.decode('"abc') })
      assert.same({ nil, "json.decode: expected ':' ('1') at line 1, column 6 (byte 6)", "parse" },
        { json.decode('{"a" 1}') })
    end)

    it("limits nesting to 1000 levels", function()
      local ok = json.decode(string.rep("[", 1000) .. string.rep("]", 1000))
      assert.is_table(ok)
      local v, msg, code = json.decode(string.rep("[", 1001) .. string.rep("]", 1001))
      assert.is_nil(v)
      assert.equal("parse", code)
      assert.matches("nesting deeper than 1000 levels", msg, 1, true)
    end)

    it("raises on wrong argument types", function()
      assert.has_error(function() json.decode() end)
      assert.has_error(function() json.decode({}) end)
      assert.has_error(function() json.decode("1", { x = 1 }) end)
    end)

    it("decodes a real CMR page and a large document", function()
      local f = assert(io.open(paths.fixtures .. "/cmr/uat_modis_t_page.json", "rb"))
      local page = assert(json.decode(f:read("a")))
      f:close()
      assert.equal(10, #page.items)
      assert.equal("G1237730654-POCLOUD", page.items[1].meta["concept-id"])
      assert.equal(180, page.items[1].umm.SpatialExtent.HorizontalSpatialDomain.Geometry
        .BoundingRectangles[1].EastBoundingCoordinate)
      local big = json.encode(json.array({ page, page, page, page, page, page, page, page, page }))
      assert.is_true(#big > 65536) -- takes the collector-paused path
      assert.is_true(collectgarbage("isrunning"))
      local back = assert(json.decode(big))
      assert.is_true(collectgarbage("isrunning"))
      assert.equal(9, #back)
      assert.same(page, back[9])
    end)
  end)

  describe("encode", function()
    it("encodes scalars", function()
      assert.equal("null", json.encode(nil))
      assert.equal("null", json.encode(json.null))
      assert.equal("true", json.encode(true))
      assert.equal("42", json.encode(42))
      assert.equal("-9223372036854775808", json.encode(math.mininteger))
      assert.equal("1.0", json.encode(1.0))
      assert.equal("0.1", json.encode(0.1))
      assert.equal("1e+300", json.encode(1e300))
      assert.equal("0.30000000000000004", json.encode(0.1 + 0.2))
      assert.equal('"a\\"b\\\\c\\n\\u0000\\u001f\u{e9}"', json.encode('a"b\\c\n\0\31\u{e9}'))
    end)

    it("chooses array or object and honours marks", function()
      assert.equal("[1,2,3]", json.encode({ 1, 2, 3 }))
      assert.equal('{"a":1}', json.encode({ a = 1 }))
      assert.equal("{}", json.encode({}))
      assert.equal("[]", json.encode(json.array()))
      assert.equal("[]", json.encode(json.array({})))
      assert.equal("{}", json.encode(json.object()))
      assert.equal("[]", json.encode(json.decode("[]")))
      assert.equal("{}", json.encode(json.decode("{}")))
      assert.equal('[1,null,3]', json.encode({ 1, json.null, 3 }))
    end)

    it("sorts keys and pretty-prints", function()
      local v = { b = 1, a = { 1, 2 }, c = {}, d = json.array() }
      assert.equal('{"a":[1,2],"b":1,"c":{},"d":[]}', json.encode(v, { sort_keys = true }))
      assert.equal('{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1,\n  "c": {},\n  "d": []\n}',
        json.encode(v, { sort_keys = true, pretty = true }))
    end)

    it("raises on unencodable values, naming the place", function()
      assert.has_error(function() json.encode({ a = { b = { 1, print } } }) end,
        "json.encode: cannot encode a function at $.a.b[2]")
      assert.has_error(function() json.encode({ x = 0 / 0 }) end, "json.encode: cannot encode NaN at $.x")
      assert.has_error(function() json.encode({ math.huge }) end,
        "json.encode: cannot encode infinity at $[1]")
      local t = { a = {} }
      t.a.back = t
      assert.has_error(function() json.encode(t) end, "json.encode: table refers to itself (cycle) at $.a.back")
      assert.has_error(function() json.encode({ 1, 2, x = 3 }) end,
        "json.encode: table mixes array and object keys at $")
      assert.has_error(function() json.encode({ [1] = 1, [3] = 3 }) end,
        "json.encode: array has holes or keys outside 1..n at $")
      assert.has_error(function() json.encode({ a = 1, [2] = 2 }) end,
        "json.encode: table mixes array and object keys at $")
      assert.has_error(function() json.encode({ a = 1, [true] = 2 }) end)
      assert.has_error(function() json.encode(json.object({ [1] = 1 })) end,
        "json.encode: table mixes array and object keys at $")
      assert.has_error(function() json.encode(coroutine.create(print)) end, "json.encode: cannot encode a thread at $")
      local deep = {}
      for _ = 1, 1001 do deep = { deep } end
      assert.has_error(function() json.encode(deep) end)
    end)

    it("raises on bad options and marks", function()
      assert.has_error(function() json.encode(1, { indent = 2 }) end, "json.encode: unknown option 'indent'")
      assert.has_error(function() json.encode(1, "pretty") end)
      assert.has_error(function() json.array(setmetatable({}, {})) end)
      assert.has_error(function() json.array(1) end)
    end)

    it("round-trips values exactly", function()
      local v = { ints = { 0, -1, math.maxinteger, math.mininteger, 9007199254740993 },
        floats = { 0.1, -2.5e-300, 1.7976931348623157e308, 5e-324, 1.0 },
        strings = { "", "\0\1\127", "\u{10FFFF}", "\r\n", string.rep("x", 100000) },
        nested = { { {} }, json.array(), { k = json.null } } }
      local back = json.decode(json.encode(v))
      assert.same(v, back)
      for i, x in ipairs(v.floats) do assert.equal(math.type(x), math.type(back.floats[i])) end
      assert.equal(json.encode(v, { sort_keys = true }), json.encode(back, { sort_keys = true }))
    end)
  end)

  describe("lines", function()
    it("yields each NDJSON value with its line number, skipping blank lines", function()
      local path = write("ok.ndjson", '{"a":1}\n\n[2]\r\n"x"\n')
      local got = {}
      for v, n in json.lines(path) do got[#got + 1] = { v, n } end
      assert.same({ { { a = 1 }, 1 }, { { 2 }, 3 }, { "x", 4 } }, got)
    end)

    it("reads from an open file handle without closing it", function()
      local f = assert(io.open(write("h.ndjson", "1\n2\n"), "rb"))
      local got = {}
      for v in json.lines(f) do got[#got + 1] = v end
      assert.same({ 1, 2 }, got)
      assert.equal("file", io.type(f))
      f:close()
    end)

    it("raises on a bad line with name and line number", function()
      local path = write("bad.ndjson", '{"a":1}\n{"a":\n3\n')
      assert.same({ false, "ndjson " .. path .. ":2: unexpected end of input at column 6" },
        { pcall(function() for _ in json.lines(path) do end end) })
    end)

    it("passes bad lines to on_error and goes on", function()
      local path = write("bad2.ndjson", '1\nnope\n3\n')
      local got, errs = {}, {}
      for v in json.lines(path, { on_error = function(msg, n) errs[#errs + 1] = { msg, n } end }) do
        got[#got + 1] = v
      end
      assert.same({ 1, 3 }, got)
      assert.same({ { "ndjson " .. path .. ":2: unexpected character ('n') at column 1", 2 } },
        errs)
    end)

    it("returns nil, message, 'io' for a missing file and raises on bad arguments", function()
      assert.same({ nil, "ndjson " .. tmp .. "/missing: No such file or directory", "io" },
        { json.lines(tmp .. "/missing") })
      assert.has_error(function() json.lines(42) end)
      assert.has_error(function() json.lines("x", { bogus = true }) end)
    end)
  end)
end)
