--- gf.log.format: one log record as a text line or a JSON line.
--
-- text(ts, level, msg, fields) -> line    `2026-11-21T10:00:00Z INFO message key=value ...`
-- json(ts, level, msg, fields) -> line    `{"ts":"...","level":"info","msg":"...","key":value}`
-- value_text(v) -> string                 how a field value is written in text lines
--
-- `fields` is a list of {name, value} pairs, already ordered and redacted by gf.log. Lines never
-- contain a newline: control characters are escaped in both formats.
local M = {}

local concat, fmt = table.concat, string.format

local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function escape(s)
  return (s:gsub('[%c"\\]', function(c)
    return ESCAPES[c] or fmt("\\u%04x", c:byte())
  end))
end

local function is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t, n
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

local function number_json(v)
  if math.type(v) == "integer" then return fmt("%d", v) end
  if v ~= v or v == math.huge or v == -math.huge then return '"' .. tostring(v) .. '"' end
  local s = fmt("%.14g", v)
  if tonumber(s) ~= v then s = fmt("%.17g", v) end
  return s
end

local function json_value(v, depth)
  local t = type(v)
  if t == "string" then return '"' .. escape(v) .. '"' end
  if t == "number" then return number_json(v) end
  if t == "boolean" then return tostring(v) end
  if t == "nil" then return "null" end
  if t == "table" and depth < 8 then
    local array, n = is_array(v)
    local parts = {}
    if array and n > 0 then
      for i = 1, n do parts[i] = json_value(v[i], depth + 1) end
      return "[" .. concat(parts, ",") .. "]"
    end
    for _, k in ipairs(sorted_keys(v)) do
      parts[#parts + 1] = '"' .. escape(tostring(k)) .. '":' .. json_value(v[k], depth + 1)
    end
    return "{" .. concat(parts, ",") .. "}"
  end
  return '"' .. escape(tostring(v)) .. '"'
end

M.json_value = function(v) return json_value(v, 0) end

function M.value_text(v)
  local t = type(v)
  if t == "table" then return json_value(v, 0) end
  if t == "number" then return number_json(v) end
  local s = tostring(v)
  if s == "" or s:find('[%s"=\\%c]') then return '"' .. escape(s) .. '"' end
  return s
end

function M.text(ts, level, msg, fields)
  local parts = { ts, level:upper(), (msg:gsub("[%c]", function(c) return ESCAPES[c] or
    fmt("\\x%02x", c:byte()) end)) }
  for _, f in ipairs(fields) do
    parts[#parts + 1] = tostring(f[1]):gsub("[%s=%c]", "_") .. "=" .. M.value_text(f[2])
  end
  return concat(parts, " ")
end

function M.json(ts, level, msg, fields)
  local parts = { '{"ts":"' .. ts .. '","level":"' .. level .. '","msg":"' .. escape(msg) .. '"' }
  for _, f in ipairs(fields) do
    parts[#parts + 1] = '"' .. escape(tostring(f[1])) .. '":' .. json_value(f[2], 0)
  end
  return concat(parts, ",") .. "}"
end

return M
