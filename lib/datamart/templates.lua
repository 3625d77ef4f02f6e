--- Templates, iterators and editable Lua config files shared by grib_copy, datamart_listener
-- and datamart_gaps.
--
-- render("{datestr}T{model_number}Z_...PT{iterator}H.grib2", vars) -> string; an unknown
-- placeholder raises (a typo in config/ must not silently produce wrong URLs).
-- iterate(spec) -> list of strings: items are integers (rendered "%03d", the original's
-- f'{i:03}'), strings (as written) or ranges {from, to[, step][, format = "%02d"]}, inclusive.
-- load(path) -> table: a config file is a Lua chunk returning a table, run with no globals but
-- a few pure helpers (string, table, math, ipairs, pairs, range).
local M = {}

function M.render(tpl, vars, what)
  return (tpl:gsub("{([%w_]+)}", function(k)
    local v = vars[k]
    if v == nil then
      error(("%s: unknown placeholder {%s} in '%s'"):format(what or "template", k, tpl), 0)
    end
    return tostring(v)
  end))
end

function M.iterate(spec)
  local out = {}
  if type(spec) ~= "table" then error("iterator: expected a list, got " .. type(spec), 0) end
  for _, item in ipairs(spec) do
    if math.type(item) == "integer" then
      out[#out + 1] = ("%03d"):format(item)
    elseif type(item) == "string" then
      out[#out + 1] = item
    elseif type(item) == "table" then
      local from, to, step = item[1], item[2], item[3] or 1
      if math.type(from) ~= "integer" or math.type(to) ~= "integer" or math.type(step) ~= "integer" or step == 0 then
        error("iterator: a range is {from, to[, step]} with integers", 0)
      end
      local fmt = item.format or "%03d"
      for i = from, to, step do out[#out + 1] = fmt:format(i) end
    else
      error("iterator: unexpected item of type " .. type(item), 0)
    end
  end
  return out
end

function M.load(path)
  local env = { string = string, table = table, math = math, ipairs = ipairs, pairs = pairs,
    tostring = tostring, tonumber = tonumber }
  local chunk, err = loadfile(path, "t", env)
  if not chunk then return nil, "config " .. path .. ": " .. tostring(err), "invalid_input" end
  local ok, t = pcall(chunk)
  if not ok then return nil, "config " .. path .. ": " .. tostring(t), "invalid_input" end
  if type(t) ~= "table" then return nil, "config " .. path .. ": must return a table", "invalid_input" end
  return t
end

--- default_path("grib", "models.lua") -> <root>/config/grib/models.lua
function M.default_path(dir, name)
  return require("gf.host").root() .. "/config/" .. dir .. "/" .. name
end

return M
