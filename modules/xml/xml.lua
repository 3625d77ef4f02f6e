--- gf.xml: a small XML reader for AWS responses (S3, SNS, STS) and an escaper for the few XML
-- request bodies S3 needs. Pure Lua; no DTDs, no namespaces beyond stripping a prefix.
--
-- parse(text) -> root element | nil, message, "parse"
--     An element is {name =, qname =, attrs = {name = value}, children = {elements}, text =}.
--     name is the local name ("Key" for "s3:Key"), qname the name as written. text is the
--     element's own character data (entities and CDATA decoded), concatenated; whitespace is kept.
--     The XML declaration, comments, processing instructions and a DOCTYPE without an internal
--     subset are skipped. Mismatched or unclosed tags, a missing root, text after the root and
--     unknown entities are parse errors: "xml.parse: <problem> at byte N".
-- child(el, name) -> first child element with that local name, or nil
-- children(el [, name]) -> list of child elements (all, or those with that local name)
-- text(el, name) -> text of the first child with that name, or nil
-- find(el, path) -> element at a "/"-separated path of child names below el ("A/B/C"), or nil
-- simplify(el) -> Lua value: an element without child elements becomes its text; otherwise a
--     table name -> value, where a name seen more than once becomes a list, and children named
--     "member" become a list (the query-protocol list shape).
-- escape(s) -> s with & < > " ' written as entities (for element text and attribute values)
-- unescape(s) -> s with the five named entities and character references decoded, or nil,
--     message, "parse" (an unknown entity or a bare '&'); for readers that take text out of a
--     document without building elements (gf.s3's listing pages)
local M = {}

local find, sub, byte, gsub, concat = string.find, string.sub, string.byte, string.gsub,
  table.concat
local utf8char = utf8.char

local ENTITIES = { lt = "<", gt = ">", amp = "&", quot = '"', apos = "'" }

-- Returns the decoded text, or nil and the problem.
local function decode_entities(s)
  if not find(s, "&", 1, true) then return s end
  local bad
  local out = gsub(s, "&([#%w]*)(;?)", function(ent, semi)
    if semi == "" then
      bad = bad or "unescaped '&'"
      return ""
    end
    local v = ENTITIES[ent]
    if v then return v end
    local n
    if sub(ent, 1, 2) == "#x" then
      n = tonumber(sub(ent, 3), 16)
    elseif sub(ent, 1, 1) == "#" then
      n = tonumber(sub(ent, 2), 10)
    end
    if n and n >= 0 and n <= 0x10FFFF then return utf8char(n) end
    bad = bad or ("unknown entity &" .. ent .. ";")
    return ""
  end)
  if bad then return nil, bad end
  return out
end

local function fail(msg, pos)
  return nil, ("xml.parse: %s at byte %d"):format(msg, pos), "parse"
end

local function new_element(qname, attrs)
  local name = qname
  local colon = find(qname, ":", 1, true)
  if colon then name = sub(qname, colon + 1) end
  return { name = name, qname = qname, attrs = attrs, children = {}, text = "" }
end

-- Reads the attributes and end of a start tag at p. Returns attrs, position after '>', and
-- whether the tag closed itself; or nil, message.
local function read_tag_rest(s, p)
  local attrs = {}
  while true do
    local _, e, close = find(s, "^%s*(/?)>", p)
    if e then return attrs, e + 1, close == "/" end
    local _, e2, an, q = find(s, "^%s+([%w_:%.%-]+)%s*=%s*([\"'])", p)
    if not e2 then return nil, "malformed start tag" end
    local vend = find(s, q, e2 + 1, true)
    if not vend then return nil, "unterminated attribute value" end
    local v, bad = decode_entities(sub(s, e2 + 1, vend - 1))
    if not v then return nil, bad end
    attrs[an] = v
    p = vend + 1
  end
end

-- Skips <? ?>, <!-- -->, <!DOCTYPE > at lt; returns the position after it, or nil, message.
local function skip_markup(s, lt)
  if sub(s, lt + 1, lt + 1) == "?" then
    local _, e = find(s, "?>", lt + 2, true)
    if not e then return nil, "unterminated processing instruction" end
    return e + 1
  end
  if sub(s, lt, lt + 3) == "<!--" then
    local _, e = find(s, "-->", lt + 4, true)
    if not e then return nil, "unterminated comment" end
    return e + 1
  end
  if sub(s, lt, lt + 8) == "<!DOCTYPE" then
    local e = find(s, ">", lt + 9, true)
    if not e then return nil, "unterminated DOCTYPE" end
    return e + 1
  end
  return nil, "unexpected markup"
end

function M.parse(s)
  if type(s) ~= "string" then
    error(("bad argument #1 to 'parse' (string expected, got %s)"):format(type(s)), 2)
  end
  local stack, texts = {}, {} -- open elements; texts[depth] = list of text pieces
  local root
  local depth, pos, len = 0, 1, #s
  while pos <= len do
    local lt = find(s, "<", pos, true)
    local chunk = sub(s, pos, (lt or len + 1) - 1)
    if chunk ~= "" then
      if depth == 0 then
        if find(chunk, "%S") then return fail(root and "text after the root element" or
            "text before the root element", pos) end
      else
        local t, bad = decode_entities(chunk)
        if not t then return fail(bad, pos) end
        local tt = texts[depth]
        tt[#tt + 1] = t
      end
    end
    if not lt then break end
    local c = byte(s, lt + 1)
    if c == 47 then -- '/': end tag
      local _, e, qname = find(s, "^([%w_:%.%-]+)%s*>", lt + 2)
      if not e then return fail("malformed end tag", lt) end
      local el = stack[depth]
      if not el or el.qname ~= qname then
        return fail(("end tag </%s> does not match <%s>"):format(qname,
          el and el.qname or "(none)"), lt)
      end
      el.text = concat(texts[depth])
      stack[depth], texts[depth] = nil, nil
      depth = depth - 1
      pos = e + 1
    elseif c == 33 and sub(s, lt, lt + 8) == "<![CDATA[" then
      local cs, ce = find(s, "]]>", lt + 9, true)
      if not cs then return fail("unterminated CDATA section", lt) end
      if depth == 0 then return fail("CDATA outside the root element", lt) end
      local tt = texts[depth]
      tt[#tt + 1] = sub(s, lt + 9, cs - 1)
      pos = ce + 1
    elseif c == 33 or c == 63 then -- '!' or '?'
      local np, msg = skip_markup(s, lt)
      if not np then return fail(msg, lt) end
      pos = np
    else
      local _, e, qname = find(s, "^([%a_][%w_:%.%-]*)", lt + 1)
      if not e then return fail("malformed start tag", lt) end
      if depth == 0 and root then return fail("second root element", lt) end
      local attrs, np, selfclose = read_tag_rest(s, e + 1)
      if not attrs then return fail(np, lt) end
      local el = new_element(qname, attrs)
      if depth == 0 then
        root = el
      else
        local kids = stack[depth].children
        kids[#kids + 1] = el
      end
      if not selfclose then
        depth = depth + 1
        stack[depth], texts[depth] = el, {}
      end
      pos = np
    end
  end
  if depth > 0 then return fail(("unclosed element <%s>"):format(stack[depth].qname), len + 1) end
  if not root then return fail("no root element", 1) end
  return root
end

local function check_el(el, fname)
  if type(el) ~= "table" or type(el.children) ~= "table" then
    error(("bad argument #1 to '%s' (xml element expected, got %s)"):format(fname, type(el)), 3)
  end
end

function M.child(el, name)
  check_el(el, "child")
  for _, c in ipairs(el.children) do
    if c.name == name then return c end
  end
  return nil
end

function M.children(el, name)
  check_el(el, "children")
  if name == nil then return table.move(el.children, 1, #el.children, 1, {}) end
  local out = {}
  for _, c in ipairs(el.children) do
    if c.name == name then out[#out + 1] = c end
  end
  return out
end

function M.text(el, name)
  check_el(el, "text")
  for _, c in ipairs(el.children) do
    if c.name == name then return c.text end
  end
  return nil
end

function M.find(el, path)
  check_el(el, "find")
  local cur = el
  for part in string.gmatch(path, "[^/]+") do
    local nxt
    for _, c in ipairs(cur.children) do
      if c.name == part then
        nxt = c
        break
      end
    end
    if not nxt then return nil end
    cur = nxt
  end
  return cur
end

local function simplify(el)
  local kids = el.children
  if #kids == 0 then return el.text end
  local t, seen = {}, {}
  for _, c in ipairs(kids) do
    local v = simplify(c)
    if c.name == "member" then
      t[#t + 1] = v
    elseif seen[c.name] then
      local cur = t[c.name]
      if seen[c.name] == 1 then
        cur = { cur }
        t[c.name] = cur
      end
      cur[#cur + 1] = v
      seen[c.name] = seen[c.name] + 1
    else
      t[c.name] = v
      seen[c.name] = 1
    end
  end
  return t
end

function M.simplify(el)
  check_el(el, "simplify")
  return simplify(el)
end

local ESC = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&apos;" }

function M.escape(s)
  if type(s) ~= "string" then
    error(("bad argument #1 to 'escape' (string expected, got %s)"):format(type(s)), 2)
  end
  return (gsub(s, "[&<>\"']", ESC))
end

function M.unescape(s)
  if type(s) ~= "string" then
    error(("bad argument #1 to 'unescape' (string expected, got %s)"):format(type(s)), 2)
  end
  local out, bad = decode_entities(s)
  if not out then return nil, "xml.unescape: " .. bad, "parse" end
  return out
end

return M
