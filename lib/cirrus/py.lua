--- cirrus.py: Python's text forms where Cirrus' output depends on them.
--
-- float_str(x) -> Python str(x) / repr(x) of a float: the shortest digits that read back to
--                 the same double, fixed notation for exponents -4..15 ("1.0", "0.0001",
--                 "-78.85549714480591"), else "1e+16" / "1.5e-07"; integers as str(int);
--                 "nan", "inf", "-inf"
-- str(v)       -> Python str() of a JSON scalar (string as is, integer, float as above,
--                 True / False / None)
-- repr_str(s)  -> Python repr of a str: single quotes unless the text holds ' and no ",
--                 backslash, quote, \t \n \r and other control bytes escaped
-- repr_list(list) -> "[" .. repr_str of each, joined by ", " .. "]"  ("[]" when empty)
local M = {}

local function shortest(x)
  for p = 0, 16 do
    local s = ("%." .. p .. "e"):format(x)
    if tonumber(s) == x then return s end
  end
  return ("%.16e"):format(x)
end

function M.float_str(x)
  if type(x) ~= "number" then error("bad argument #1 to 'float_str' (number expected, got " .. type(x) .. ")", 2) end
  if math.type(x) == "integer" then return tostring(x) end
  if x ~= x then return "nan" end
  if x == math.huge then return "inf" end
  if x == -math.huge then return "-inf" end
  if x == 0 then return (1 / x < 0) and "-0.0" or "0.0" end
  local s = shortest(x)
  local sign, int, frac, exp = s:match("^(%-?)(%d)%.?(%d*)e([-+]%d+)$")
  local digits = (int .. frac):gsub("0+$", "")
  if digits == "" then digits = "0" end
  local e = tonumber(exp)
  if e >= -4 and e < 16 then
    if e >= 0 then
      local ip = digits:sub(1, e + 1)
      ip = ip .. ("0"):rep(e + 1 - #ip)
      local fp = digits:sub(e + 2)
      if fp == "" then fp = "0" end
      return sign .. ip .. "." .. fp
    end
    return sign .. "0." .. ("0"):rep(-e - 1) .. digits
  end
  local mant = digits:sub(1, 1)
  if #digits > 1 then mant = mant .. "." .. digits:sub(2) end
  return ("%s%se%s%02d"):format(sign, mant, e < 0 and "-" or "+", math.abs(e))
end

function M.str(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then return M.float_str(v) end
  if t == "boolean" then return v and "True" or "False" end
  if v == nil then return "None" end
  local ok, json = pcall(require, "gf.json")
  if ok and v == json.null then return "None" end
  return tostring(v)
end

local ESC = { ["\\"] = "\\\\", ["\t"] = "\\t", ["\n"] = "\\n", ["\r"] = "\\r" }

function M.repr_str(s)
  if type(s) ~= "string" then error("bad argument #1 to 'repr_str' (string expected, got " .. type(s) .. ")", 2) end
  local q = "'"
  if s:find("'", 1, true) and not s:find('"', 1, true) then q = '"' end
  local body = s:gsub("[%c\\'\"]", function(c)
    if ESC[c] then return ESC[c] end
    if c == q then return "\\" .. c end
    if c == "'" or c == '"' then return c end
    return ("\\x%02x"):format(c:byte())
  end)
  return q .. body .. q
end

function M.repr_list(list)
  if type(list) ~= "table" then error("bad argument #1 to 'repr_list' (table expected, got " .. type(list) .. ")", 2) end
  local parts = {}
  for i, v in ipairs(list) do parts[i] = M.repr_str(tostring(v)) end
  return "[" .. table.concat(parts, ", ") .. "]"
end

return M
