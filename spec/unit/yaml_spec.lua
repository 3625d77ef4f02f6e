describe("gf.yaml #unit", function()
  local yaml = require("gf.yaml")
  local json = require("gf.json")
  local paths = require("spec.support.paths")

  local tmp
  setup(function() tmp = paths.tmpdir() end)
  teardown(function() os.execute("rm -rf '" .. tmp .. "'") end)

  local files = require("spec.support.files")
  local function write(name, text) return files.write(tmp .. "/" .. name, text) end

  describe("load", function()
    it("resolves plain scalars by the YAML 1.2 core schema", function()
      local v = assert(yaml.load([[
n1: ~
n2: null
n3:
t: true
f: False
yes_is_string: yes
on_is_string: on
i: 42
neg: -7
plus: +3
oct: 0o17
hex: 0x1F
big: 9223372036854775807
huge: 99999999999999999999
fl: 2.5
exp: 1e3
dot: .5
inf: -.inf
nan: .nan
str: hello world
date: 2024-01-02
ver: 1.2.3
]]))
      assert.equal(yaml.null, v.n1)
      assert.equal(yaml.null, v.n2)
      assert.equal(yaml.null, v.n3)
      assert.is_true(v.t)
      assert.is_false(v.f)
      assert.equal("yes", v.yes_is_string)
      assert.equal("on", v.on_is_string)
      assert.equal(42, v.i)
      assert.equal("integer", math.type(v.i))
      assert.equal(-7, v.neg)
      assert.equal(3, v.plus)
      assert.equal(15, v.oct)
      assert.equal(31, v.hex)
      assert.equal(math.maxinteger, v.big)
      assert.equal("float", math.type(v.huge))
      assert.equal(2.5, v.fl)
      assert.equal("float", math.type(v.exp))
      assert.equal(1000.0, v.exp)
      assert.equal(0.5, v.dot)
      assert.equal(-math.huge, v.inf)
      assert.is_true(v.nan ~= v.nan)
      assert.equal("hello world", v.str)
      assert.equal("2024-01-02", v.date)
      assert.equal("1.2.3", v.ver)
    end)

    it("keeps quoted scalars and !!str as strings", function()
      assert.same({ a = "true", b = "42", c = "", d = "~", e = "7" },
        yaml.load('a: "true"\nb: \'42\'\nc: ""\nd: "~"\ne: !!str 7\n'))
    end)

    it("resolves keys too: numbers become Lua numbers, quoted keys stay strings", function()
      local v = yaml.load('1: one\n"2": two\ntrue: yes\n')
      assert.equal("one", v[1])
      assert.equal("two", v["2"])
      assert.is_nil(v[2])
      assert.equal("yes", v[true])
    end)

    it("marks sequences and mappings so json.encode keeps their kind", function()
      local v = yaml.load("a: []\nb: {}\nc: [1, {x: y}]\n")
      assert.is_true(json.is_array(v.a))
      assert.is_true(json.is_object(v.b))
      assert.equal('{"a":[],"b":{},"c":[1,{"x":"y"}]}', json.encode(v, { sort_keys = true }))
    end)

    it("supports anchors, aliases and merge keys", function()
      local v = assert(yaml.load([[
base: &b {x: 1, y: 2}
other: &o {z: 3, x: 9}
list: &l [1, 2]
child:
  x: 5
  <<: [*b, *o]
again: *l
]]))
      assert.same({ x = 5, y = 2, z = 3 }, v.child)
      assert.equal(v.list, v.again) -- the same table
      assert.same({ x = 1, y = 2 }, v.base)
    end)

    it("keeps text bytes and multi-line scalars", function()
      local v = yaml.load("u: caf\u{e9} \u{1F600}\nlit: |\n  line1\n  line2\nesc: \"a\\tb\\u00e9\\0z\"\n")
      assert.equal("caf\u{e9} \u{1F600}", v.u)
      assert.equal("line1\nline2\n", v.lit)
      assert.equal("a\tb\u{e9}\0z", v.esc)
    end)

    it("returns the first document; load_all returns every one", function()
      local text = "---\na: 1\n---\nb: 2\n...\n---\n- x\n"
      assert.same({ a = 1 }, yaml.load(text))
      assert.same({ { a = 1 }, { b = 2 }, { "x" } }, yaml.load_all(text))
      assert.equal(yaml.null, yaml.load(""))
      assert.same({}, yaml.load_all(""))
      assert.equal("scalar", yaml.load("scalar"))
    end)

    it("returns nil, '<name>:<line>:<col>: problem', 'parse' for malformed input", function()
      assert.same({ nil, "cfg.yaml:2:1: did not find expected ',' or ']' (while parsing a flow sequence)",
        "parse" }, { yaml.load("a: [1, 2\n", { name = "cfg.yaml" }) })
      assert.same({ nil, "<string>:2:5: mapping values are not allowed in this context", "parse" },
        { yaml.load("a: b\nc: d: e\n") })
      assert.same({ nil, "<string>:1:4: unknown alias *nope", "parse" }, { yaml.load("a: *nope\n") })
      assert.same({ nil, "<string>:1:1: mapping key is null", "parse" }, { yaml.load("~: x\n") })
      assert.same({ nil, "<string>:1:3: mapping keys must be scalars", "parse" }, { yaml.load("? [a]\n: x\n") })
      assert.same({ nil, "<string>:3:3: found character that cannot start any token (while scanning for the next token)", "parse" },
        { yaml.load("a: 1\nb:\n  \tc: 2\n") })
      local v, msg, code = yaml.load_all("a: 1\n---\n[\n")
      assert.is_nil(v)
      assert.equal("parse", code)
      assert.matches("^<string>:4:1: ", msg)
    end)

    it("limits nesting to 1000 levels", function()
      assert.is_table(yaml.load(string.rep("[", 999) .. string.rep("]", 999)))
      local v, msg, code = yaml.load(string.rep("[", 1001) .. string.rep("]", 1001))
      assert.is_nil(v)
      assert.equal("parse", code)
      assert.matches("nesting deeper than 1000 levels", msg, 1, true)
    end)

    it("loads files, naming them in errors, and returns 'io' failures", function()
      local ok = write("ok.yaml", "name: x\nitems:\n  - 1\n  - 2\n")
      assert.same({ name = "x", items = { 1, 2 } }, yaml.load_file(ok))
      assert.same({ { a = 1 }, { b = 2 } }, yaml.load_file(write("m.yaml", "a: 1\n---\nb: 2\n"), { all = true }))
      local bad = write("bad.yaml", "a: [\n")
      assert.same({ nil, bad .. ":2:1: did not find expected node content (while parsing a flow node)", "parse" },
        { yaml.load_file(bad) })
      assert.same({ nil, "yaml.load_file " .. tmp .. "/none.yaml: No such file or directory", "io" },
        { yaml.load_file(tmp .. "/none.yaml") })
    end)

    it("raises on wrong argument types", function()
      assert.has_error(function() yaml.load(nil) end)
      assert.has_error(function() yaml.load({}) end)
      assert.has_error(function() yaml.load("a", "name") end)
      assert.has_error(function() yaml.load("a", { bogus = 1 }) end)
      assert.has_error(function() yaml.load_file(1) end)
    end)
  end)

  describe("dump", function()
    it("writes block YAML with sorted keys and safe quoting", function()
      local text = yaml.dump({ b = { 1, 2.5, "x" }, a = "true", c = {}, d = json.array(), e = yaml.null,
        f = "yes", g = "", h = 1.0, [1] = "one" })
      assert.equal('1: one\na: "true"\nb:\n- 1\n- 2.5\n- x\nc: {}\nd: []\ne: null\nf: "yes"\ng: ""\nh: 1.0\n', text)
    end)

    it("round-trips through load", function()
      local v = { name = "collection", n = 12, ratio = 0.1, on = false, tags = { "a", "b: c", "- d", "#e" },
        nested = { deep = { list = { { k = "v" } } } }, text = "two\nlines\n", odd = "  spaced  ",
        numbers = { "1", "0x10", "1e3", ".inf", "null", "~" }, big = math.mininteger, inf = math.huge,
        uni = "caf\u{e9}" }
      assert.same(v, yaml.load(yaml.dump(v)))
      local cmr = io.open(paths.fixtures .. "/cmr/uat_modis_t_page.json", "rb")
      local page = json.decode(cmr:read("a"))
      cmr:close()
      assert.same(page, yaml.load(yaml.dump(page)))
    end)

    it("raises on values YAML cannot hold", function()
      assert.has_error(function() yaml.dump({ f = print }) end, "yaml.dump: cannot dump a function")
      local t = {}
      t.self = t
      assert.has_error(function() yaml.dump(t) end, "yaml.dump: table refers to itself (cycle)")
      assert.has_error(function() yaml.dump({ [{}] = 1 }) end, "yaml.dump: cannot dump a table as a mapping key")
      assert.has_error(function() yaml.dump({ s = "\255\254" }) end, "yaml.dump: string is not valid UTF-8")
      assert.equal("null\n", yaml.dump(nil))
      assert.equal("42\n", yaml.dump(42))
    end)
  end)
end)
