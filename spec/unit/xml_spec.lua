describe("gf.xml #unit", function()
  local xml = require("gf.xml")

  describe("parse", function()
    it("reads an S3 listing with declaration, namespace and repeated elements", function()
      local doc = [[<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bkt</Name><IsTruncated>false</IsTruncated>
  <Contents><Key>a/b.txt</Key><Size>5</Size><ETag>&quot;abc&quot;</ETag></Contents>
  <Contents><Key>a/c &amp; d.txt</Key><Size>0</Size></Contents>
</ListBucketResult>]]
      local root = assert(xml.parse(doc))
      assert.equal("ListBucketResult", root.name)
      assert.same({ xmlns = "http://s3.amazonaws.com/doc/2006-03-01/" }, root.attrs)
      assert.equal("bkt", xml.text(root, "Name"))
      local contents = xml.children(root, "Contents")
      assert.equal(2, #contents)
      assert.equal('"abc"', xml.text(contents[1], "ETag"))
      assert.equal("a/c & d.txt", xml.text(contents[2], "Key"))
      assert.is_nil(xml.text(root, "Missing"))
      assert.equal(4, #xml.children(root))
    end)

    it("decodes numeric entities, CDATA and keeps unicode bytes", function()
      local root = assert(xml.parse("<a>x&#65;&#x263A;<![CDATA[<raw> & ]]>ü</a>"))
      assert.equal("xA\u{263A}<raw> & ü", root.text)
    end)

    it("strips a namespace prefix into name and keeps qname", function()
      local root = assert(xml.parse('<s:Env xmlns:s="u"><s:Body k=\'v\' n="1"/></s:Env>'))
      assert.equal("Env", root.name)
      assert.equal("s:Env", root.qname)
      local body = xml.child(root, "Body")
      assert.same({ k = "v", n = "1" }, body.attrs)
      assert.same({}, body.children)
      assert.equal("", body.text)
    end)

    it("skips comments and processing instructions", function()
      local root = assert(xml.parse("<!-- c --><?pi x?><r><!-- inner --><k>v</k></r><!-- end -->"))
      assert.equal("v", xml.text(root, "k"))
    end)

    it("returns parse errors as nil, message, code", function()
      assert.same({ nil, "xml.parse: end tag </b> does not match <a> at byte 8", "parse" },
        { xml.parse("<a>text</b>") })
      assert.same({ nil, "xml.parse: unclosed element <a> at byte 8", "parse" },
        { xml.parse("<a><b/>") })
      assert.same({ nil, "xml.parse: no root element at byte 1", "parse" }, { xml.parse("  ") })
      assert.same({ nil, "xml.parse: unknown entity &nbsp; at byte 4", "parse" },
        { xml.parse("<a>&nbsp;</a>") })
      assert.same({ nil, "xml.parse: unescaped '&' at byte 4", "parse" },
        { xml.parse("<a>a & b</a>") })
      assert.same({ nil, "xml.parse: second root element at byte 5", "parse" },
        { xml.parse("<a/><b/>") })
      assert.same({ nil, "xml.parse: text after the root element at byte 5", "parse" },
        { xml.parse("<a/>junk") })
      assert.same({ nil, "xml.parse: malformed start tag at byte 1", "parse" },
        { xml.parse("<a b=c/>") })
      assert.same({ nil, "xml.parse: unterminated comment at byte 4", "parse" },
        { xml.parse("<a><!-- x</a>") })
    end)

    it("raises for a non-string", function()
      assert.has_error(function() xml.parse(nil) end,
        "bad argument #1 to 'parse' (string expected, got nil)")
      assert.has_error(function() xml.text("x", "k") end,
        "bad argument #1 to 'text' (xml element expected, got string)")
    end)

    it("parses a 1000-entry listing quickly enough", function()
      local parts = { "<ListBucketResult>" }
      for i = 1, 1000 do
        parts[#parts + 1] = ("<Contents><Key>k/%04d</Key><Size>%d</Size><ETag>\"e\"</ETag>"
          .. "<LastModified>2026-01-01T00:00:00.000Z</LastModified></Contents>"):format(i, i)
      end
      parts[#parts + 1] = "</ListBucketResult>"
      local root = assert(xml.parse(table.concat(parts)))
      local c = xml.children(root, "Contents")
      assert.equal(1000, #c)
      assert.equal("k/1000", xml.text(c[1000], "Key"))
    end)
  end)

  describe("find and simplify", function()
    local doc = [[<GetTopicAttributesResponse><GetTopicAttributesResult><Attributes>
      <entry><key>Owner</key><value>1</value></entry>
      <entry><key>TopicArn</key><value>arn:x</value></entry>
    </Attributes></GetTopicAttributesResult></GetTopicAttributesResponse>]]

    it("walks a path of child names", function()
      local root = assert(xml.parse(doc))
      local attrs = xml.find(root, "GetTopicAttributesResult/Attributes")
      assert.equal(2, #attrs.children)
      assert.is_nil(xml.find(root, "GetTopicAttributesResult/Nope"))
    end)

    it("turns repeated names and member lists into Lua lists", function()
      local root = assert(xml.parse(doc))
      assert.same({ Attributes = { entry = { { key = "Owner", value = "1" },
        { key = "TopicArn", value = "arn:x" } } } },
        xml.simplify(xml.child(root, "GetTopicAttributesResult")))
      local r = assert(xml.parse("<R><L><member>a</member><member>b</member></L><S>x</S></R>"))
      assert.same({ L = { "a", "b" }, S = "x" }, xml.simplify(r))
    end)
  end)

  it("escapes the five XML special characters", function()
    assert.equal("a&amp;b&lt;c&gt;d&quot;e&apos;f ü", xml.escape("a&b<c>d\"e'f ü"))
    assert.has_error(function() xml.escape(1) end,
      "bad argument #1 to 'escape' (string expected, got number)")
  end)

  it("unescapes entities and character references, and names a bad one", function()
    assert.equal("a&b<c>d\"e'f \u{263A}\u{263A}", xml.unescape("a&amp;b&lt;c&gt;d&quot;e&apos;f &#x263A;&#9786;"))
    assert.equal("plain", xml.unescape("plain"))
    assert.same({ nil, "xml.unescape: unknown entity &nbsp;", "parse" }, { xml.unescape("a&nbsp;b") })
    assert.same({ nil, "xml.unescape: unescaped '&'", "parse" }, { xml.unescape("a & b") })
    assert.has_error(function() xml.unescape(nil) end,
      "bad argument #1 to 'unescape' (string expected, got nil)")
  end)
end)
