--- viirs.listing: the file names of an HTML directory listing (Apache, nginx, Python's
--- http.server), and the Cumulus collection regex (a JavaScript RegExp) as a Lua pattern.
--
-- names(html) -> list of file names (hrefs, %-decoded, without directories, query or fragment;
--                each once, in page order)
-- pattern(regex) -> Lua pattern | nil, msg            the subset Cumulus templates use: literals,
--                `.`, `\.` and other escapes, `\d \w \s` (and upper case), `[...]` classes,
--                `* + ? *?` on one item, `{n}` `{n,m}`, `( )` groups without quantifiers, `^ $`.
--                Alternation and quantified groups are refused with a message.
-- match(names, regex) -> list of names | nil, msg      the regex must match the whole name (as
--                Cumulus' file regexes are meant: "(.*)\.tgz" takes x.tgz, not x.tgz.md5)
local M = {}

local function url_decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

function M.names(html)
  local out, seen = {}, {}
  for href in html:gmatch("<[aA]%s[^>]-[hH][rR][eE][fF]%s*=%s*[\"']([^\"']+)[\"']") do
    local p = href:gsub("[?#].*$", "")
    if p ~= "" and p:sub(-1) ~= "/" and not p:match("^%a[%w+.-]*:[^/]") then
      local name = url_decode(p:match("([^/]+)$") or p)
      if name ~= "" and not seen[name] then
        seen[name] = true
        out[#out + 1] = name
      end
    end
  end
  return out
end

local ESC = { d = "%d", D = "%D", w = "[%w_]", W = "[^%w_]", s = "%s", S = "%S" }
local CLASS_ESC = { d = "%d", w = "%w_", s = "%s" }

function M.pattern(re)
  if type(re) ~= "string" then return nil, "regex: string expected" end
  local out, last = {}, nil -- last: the previous single item (for {n,m})
  local i, n = 1, #re
  local function bad(why) return nil, ("regex %s: %s (not supported)"):format(re, why) end
  while i <= n do
    local c = re:sub(i, i)
    local item
    if c == "\\" then
      local d = re:sub(i + 1, i + 1)
      if d == "" then return bad("trailing backslash") end
      item = ESC[d] or (d:match("%w") and d or "%" .. d)
      i = i + 2
    elseif c == "[" then
      local j, body = i + 1, { "[" }
      if re:sub(j, j) == "^" then body[#body + 1] = "^"; j = j + 1 end
      while j <= n and re:sub(j, j) ~= "]" do
        local e = re:sub(j, j)
        if e == "\\" then
          local d = re:sub(j + 1, j + 1)
          body[#body + 1] = CLASS_ESC[d] or (d:match("%w") and d or "%" .. d)
          j = j + 2
        else
          body[#body + 1] = (e == "%" and "%%") or e
          j = j + 1
        end
      end
      if j > n then return bad("unterminated [") end
      body[#body + 1] = "]"
      item = table.concat(body)
      i = j + 1
    elseif c == "(" then
      if re:sub(i + 1, i + 1) == "?" then return bad("(?...) groups") end
      out[#out + 1] = "("
      last = nil
      i = i + 1
    elseif c == ")" then
      out[#out + 1] = ")"
      local q = re:sub(i + 1, i + 1)
      if q == "*" or q == "+" or q == "?" or q == "{" then return bad("a quantified group") end
      last = nil
      i = i + 1
    elseif c == "|" then
      return bad("alternation |")
    elseif c == "*" or c == "+" or c == "?" then
      if not last then return bad("a quantifier without an item") end
      if c == "*" and re:sub(i + 1, i + 1) == "?" then
        out[#out + 1] = "-"
        i = i + 2
      else
        out[#out + 1] = c
        i = i + 1
      end
      last = nil
    elseif c == "{" then
      local a, b, close = re:match("^{(%d+)(,?%d*)}()", i)
      if not a or not last then return bad("{n,m} without an item") end
      local lo = tonumber(a)
      local hi = b == "" and lo or (b == "," and nil or tonumber(b:sub(2)))
      if not hi then return bad("an open {n,} repeat") end
      local rep = {}
      for _ = 2, lo do rep[#rep + 1] = last end
      for _ = lo + 1, hi do rep[#rep + 1] = last .. "?" end
      if lo == 0 then out[#out] = nil end
      out[#out + 1] = table.concat(rep)
      last = nil
      i = close
    elseif c == "^" and i == 1 then
      out[#out + 1] = "^"
      i = i + 1
    elseif c == "$" and i == n then
      out[#out + 1] = "$"
      i = i + 1
    elseif c == "." then
      item = "."
      i = i + 1
    else
      item = c:match("[%^%$%(%)%%%.%[%]%*%+%-%?]") and "%" .. c or c
      i = i + 1
    end
    if item then
      out[#out + 1] = item
      last = item
    end
  end
  return table.concat(out)
end

function M.match(names, regex)
  local pat, err = M.pattern(regex)
  if not pat then return nil, err end
  if pat:sub(1, 1) ~= "^" then pat = "^" .. pat end
  if pat:sub(-1) ~= "$" or pat:sub(-2) == "%$" then pat = pat .. "$" end
  local out = {}
  for _, name in ipairs(names) do
    if name:find(pat) then out[#out + 1] = name end
  end
  return out
end

return M
