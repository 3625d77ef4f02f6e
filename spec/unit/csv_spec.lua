describe("gf.csv #unit", function()
  local csv = require("gf.csv")
  local json = require("gf.json")
  local paths = require("spec.support.paths")

  local tmp
  setup(function() tmp = paths.tmpdir() end)
  teardown(function() os.execute("rm -rf '" .. tmp .. "'") end)

  local files = require("spec.support.files")
  local function write(name, text) return files.write(tmp .. "/" .. name, text) end

  local function slurp(path) return assert(files.read(path), path) end

  describe("reading", function()
    it("handles quotes, doubled quotes, embedded delimiters and line breaks", function()
      assert.same({ { "a", "b", "c" }, { "1", "x,y", 'he said "hi"' }, { "3", "multi\r\nline", "" } },
        csv.parse('a,b,c\n1,"x,y","he said ""hi"""\n3,"multi\r\nline",\n'))
    end)

    it("accepts CRLF, LF and CR line ends, a BOM, blank lines and no final line end", function()
      assert.same({ { "a", "b" }, { "1", "2" }, { "3", "4" }, { "5", "6" } },
        csv.parse("\239\187\191a,b\r\n\r\n1,2\n\n3,4\r5,6"))
      assert.same({}, csv.parse(""))
      assert.same({ { "" } }, csv.parse('""\n'))
      assert.same({ { "", "" } }, csv.parse(",\n"))
    end)

    it("keeps NUL bytes and UTF-8 in fields", function()
      assert.same({ { "a\0b", "caf\u{e9}" } }, csv.parse('"a\0b",caf\u{e9}\n'))
    end)

    it("keys rows by the header and reports lines", function()
      local r = assert(csv.from_string("id,name\n1,\"A\nB\"\n2,C\n", { header = true }))
      assert.same({ "id", "name" }, r:header())
      assert.same({ id = "1", name = "A\nB" }, r:read())
      assert.equal(2, r:line())
      assert.same({ id = "2", name = "C" }, r:read())
      assert.equal(4, r:line())
      assert.is_nil(r:read())
      r:close()
    end)

    it("uses another delimiter and quote", function()
      assert.same({ { "a;b", "c" } }, csv.parse("'a;b';c\n", { delimiter = ";", quote = "'" }))
      assert.same({ { "a", "b c" } }, csv.parse("a\tb c\n", { delimiter = "\t" }))
    end)

    it("reports ragged rows as parse failures and continues (strict)", function()
      local r = csv.from_string("a,b\n1,2\n3\n4,5,6\n7,8\n")
      assert.same({ "a", "b" }, r:read())
      assert.same({ "1", "2" }, r:read())
      assert.same({ nil, "csv <string>:3: expected 2 fields, got 1", "parse" }, { r:read() })
      assert.same({ nil, "csv <string>:4: expected 2 fields, got 3", "parse" }, { r:read() })
      assert.same({ "7", "8" }, r:read())
      assert.is_nil(r:read())
      assert.same({ nil, "csv <string>:2: expected 2 fields, got 3", "parse" }, { csv.parse("a,b\n1,2,3\n") })
    end)

    it("reports quoting errors with the record's line", function()
      assert.same({ nil, "csv <string>:2: unterminated quoted field", "parse" }, { csv.parse('a\n"x\ny\n') })
      assert.same({ nil, "csv <string>:1: quote inside an unquoted field", "parse" }, { csv.parse('a"b\n') })
      assert.same({ nil, "csv <string>:1: unexpected character after a closing quote", "parse" },
        { csv.parse('"a"b,c\n') })
      local r = csv.from_string('a"b,c\nd,e\n')
      assert.same({ nil, "csv <string>:1: quote inside an unquoted field", "parse" }, { r:read() })
      assert.same({ "d", "e" }, r:read())
    end)

    it("returns ragged rows and stray quotes as they are when strict = false", function()
      assert.same({ { "a", "b" }, { "1" }, { "2", "3", "4" }, { 'x"y', "z" } },
        csv.parse('a,b\n1\n2,3,4\nx"y,z\n', { strict = false }))
      local r = csv.from_string("k,v\n1\n2,3,4\n", { header = true, strict = false })
      assert.same({ k = "1" }, r:read())
      assert.same({ k = "2", v = "3", [3] = "4" }, r:read())
      assert.equal(3, r:line())
    end)

    it("rejects a duplicate header name", function()
      assert.same({ nil, "csv <string>:1: duplicate column name 'a' in the header", "parse" },
        { csv.from_string("a,b,a\n1,2,3\n", { header = true }) })
    end)

    it("reads files by path, by handle and raises from rows() on bad input", function()
      local path = write("in.csv", "x,y\r\n1,2\r\n3,4\r\n")
      local got = {}
      for row in assert(csv.reader(path, { header = true })):rows() do got[#got + 1] = row end
      assert.same({ { x = "1", y = "2" }, { x = "3", y = "4" } }, got)
      local f = assert(io.open(path, "rb"))
      local r = assert(csv.reader(f))
      assert.same({ "x", "y" }, r:read())
      r:close()
      assert.equal("file", io.type(f)) -- a handle passed in stays open
      f:close()
      local bad = write("bad.csv", "a,b\n1\n")
      -- (pcall, not has_error: luassert strips a "name:line:" prefix before comparing)
      assert.same({ false, "csv " .. bad .. ":2: expected 2 fields, got 1" },
        { pcall(function() for _ in assert(csv.reader(bad)):rows() do end end) })
    end)

    it("streams a large file", function()
      local path = tmp .. "/big.csv"
      local w = assert(csv.writer(path, { header = { "i", "s" } }))
      for i = 1, 20000 do w:write({ i = i, s = "row " .. i .. ", quoted" }) end
      assert.is_true(w:close())
      local n, last = 0, nil
      for row in assert(csv.reader(path, { header = true })):rows() do n, last = n + 1, row end
      assert.equal(20000, n)
      assert.same({ i = "20000", s = "row 20000, quoted" }, last)
    end)

    it("returns nil, message, 'io' for a missing file", function()
      assert.same({ nil, "csv.reader " .. tmp .. "/nope.csv: No such file or directory", "io" },
        { csv.reader(tmp .. "/nope.csv") })
    end)

    it("raises on misuse", function()
      assert.has_error(function() csv.reader(42) end)
      assert.has_error(function() csv.parse(nil) end)
      assert.has_error(function() csv.parse("a", { header = "yes" }) end, "csv.parse: option 'header' must be a boolean")
      assert.has_error(function() csv.parse("a", { bogus = 1 }) end, "csv.parse: unknown option 'bogus'")
      assert.has_error(function() csv.parse("a", { delimiter = ";;" }) end)
      assert.has_error(function() csv.parse("a", { delimiter = '"' }) end)
      local r = csv.from_string("a\n")
      r:close()
      r:close() -- idempotent
      assert.has_error(function() r:read() end, "csv.reader: attempt to use a closed reader")
    end)
  end)

  describe("writing", function()
    it("quotes only when needed", function()
      assert.equal('a,"b,c","q""x"," lead","trail ","l\nf","c\rr",,1,2.5,true,false,',
        csv.encode_row({ "a", "b,c", 'q"x', " lead", "trail ", "l\nf", "c\rr", "", 1, 2.5, true, false,
          json.null }))
      assert.equal("0.1;1.0;-7", csv.encode_row({ 0.1, 1.0, -7 }, { delimiter = ";" }))
      assert.equal("", csv.encode_row({}))
    end)

    it("raises on values it cannot write", function()
      assert.has_error(function() csv.encode_row({ "a", {} }) end, "csv: cannot write a table (field 2)")
      assert.has_error(function() csv.encode_row("a") end)
    end)

    it("writes a header and keyed rows to a path and round-trips", function()
      local path = tmp .. "/out.csv"
      local w = assert(csv.writer(path, { header = { "id", "text" }, eol = "\r\n" }))
      assert.is_true(w:write({ id = 1, text = 'multi\nline "quoted"' }))
      assert.is_true(w:write({ id = 2 }))
      assert.is_true(w:close())
      assert.is_true(w:close())
      assert.equal('id,text\r\n1,"multi\nline ""quoted"""\r\n2,\r\n', slurp(path))
      assert.same({ { id = "1", text = 'multi\nline "quoted"' }, { id = "2", text = "" } },
        csv.parse(slurp(path), { header = true }))
      assert.has_error(function() w:write({ 1 }) end, "csv.writer: attempt to use a closed writer")
    end)

    it("writes lists to an open handle and leaves it open", function()
      local path = tmp .. "/h.csv"
      local f = assert(io.open(path, "wb"))
      local w = assert(csv.writer(f))
      w:write({ "a", "b" })
      w:close()
      f:write("tail\n")
      f:close()
      assert.equal("a,b\ntail\n", slurp(path))
    end)

    it("returns nil, message, 'io' when the target cannot be created", function()
      assert.same({ nil, "csv.writer " .. tmp .. "/no/dir.csv: No such file or directory", "io" },
        { csv.writer(tmp .. "/no/dir.csv") })
      assert.has_error(function() csv.writer(tmp .. "/x.csv", { header = { 1 } }) end)
      assert.has_error(function() csv.writer({}) end)
    end)
  end)
end)
