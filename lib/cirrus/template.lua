--- cirrus.template: Cirrus' payload templates, Python string.Template with defaults.
--
-- substitute(text, vars [, {silent = bool}]) -> text | nil, msg, "invalid_input"
--   `$$` -> `$`; `$name` and `${name}` -> vars[name]; `${name?default}` -> vars[name] or the
--   default (anything up to the next `}`, possibly empty). Identifiers are [_a-z][_a-z0-9]*
--   (lower case only). A missing variable without a default, or a `$` that starts none of
--   these: an error naming the line and column (Python's KeyError / "Invalid placeholder"),
--   unless silent, which leaves that text as it is (safe_substitute).
-- read_vars(path) -> {name = value} | nil, msg, code
--   a variable file: a JSON object (.json), else lines `name=value` (`export ` allowed,
--   blank lines and `#` comments skipped, values may be in single or double quotes)
local M = {}

local ID = "[_a-z][_a-z0-9]*"

local function position(text, i)
  local line, col = 1, 1
  for p = 1, i - 1 do
    if text:byte(p) == 10 then line, col = line + 1, 1 else col = col + 1 end
  end
  return line, col
end

function M.substitute(text, vars, opts)
  if type(text) ~= "string" then error("bad argument #1 to 'substitute' (string expected)", 2) end
  vars = vars or {}
  local silent = opts and opts.silent
  local out, i, n = {}, 1, #text
  while i <= n do
    local j = text:find("$", i, true)
    if not j then
      out[#out + 1] = text:sub(i)
      break
    end
    out[#out + 1] = text:sub(i, j - 1)
    local rest = j + 1
    local name, default, stop
    if text:sub(rest, rest) == "$" then
      out[#out + 1] = "$"
      i = rest + 1
      goto continue
    end
    name = text:match("^" .. ID, rest)
    if name then
      stop = rest + #name
    else
      local a, b, nm, d = text:find("^{(" .. ID .. ")%?([^}]*)}", rest)
      if not a then a, b, nm = text:find("^{(" .. ID .. ")}", rest) end
      if a then name, default, stop = nm, d, b + 1 end
    end
    if not name then
      if silent then
        out[#out + 1] = "$"
        i = rest
        goto continue
      end
      local line, col = position(text, j)
      return nil, ("template: invalid placeholder at line %d, column %d"):format(line, col), "invalid_input"
    end
    do
      local v = vars[name]
      if v == nil then v = default end
      if v == nil then
        if silent then
          out[#out + 1] = text:sub(j, stop - 1)
          i = stop
          goto continue
        end
        local line, col = position(text, j)
        return nil, ("template: no value for '%s' at line %d, column %d"):format(name, line, col), "invalid_input"
      end
      out[#out + 1] = tostring(v)
      i = stop
    end
    ::continue::
  end
  return table.concat(out)
end

function M.read_vars(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, ("template variables %s: %s"):format(path, err), "io" end
  local text = f:read("a")
  f:close()
  local vars = {}
  if path:match("%.json$") then
    local v, msg = require("gf.json").decode(text)
    if type(v) ~= "table" then
      return nil, ("template variables %s: %s"):format(path, msg or "not a JSON object"), "parse"
    end
    for k, val in pairs(v) do
      if type(val) ~= "table" then vars[k] = require("cirrus.py").str(val) end
    end
    return vars
  end
  local ln = 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    ln = ln + 1
    line = line:gsub("\r$", "")
    if not line:match("^%s*$") and not line:match("^%s*#") then
      local k, v = line:match("^%s*export%s+([%w_]+)%s*=(.*)$")
      if not k then k, v = line:match("^%s*([%w_]+)%s*=(.*)$") end
      if not k then
        return nil, ("template variables %s:%d: expected name=value"):format(path, ln), "parse"
      end
      v = v:gsub("^%s+", ""):gsub("%s+$", "")
      local q = v:match("^(['\"]).*%1$")
      if q then v = v:sub(2, -2) end
      vars[k] = v
    end
  end
  return vars
end

return M
