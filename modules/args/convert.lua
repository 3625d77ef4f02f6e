--- gf.args.convert: turn a raw option value (a CLI or environment string, or a value from a
-- config file or a default) into the option's type.
--
-- value(opt, raw) -> value | nil, reason      reason reads "expected an integer, got 'x'"
-- duration(s) -> seconds | nil                "90", "45s", "30m", "24h", "7d", "2w", "1h30m"
--                                             (gf.time.duration)
-- TYPES                                       set of known type names
local M = {}

M.TYPES = {
  string = true, integer = true, number = true, boolean = true, choice = true, duration = true,
  list = true, file = true, path = true,
}

-- gf.time.duration: one syntax across gfhost.
function M.duration(s)
  local ok, v = pcall(require("gf.time").duration, s)
  if ok and type(v) == "number" then return v end
  return nil
end

local function shown(opt, raw)
  if opt.secret then return "'***'" end
  if type(raw) == "string" then return ("'%s'"):format(raw) end
  if type(raw) == "table" then return "a list or mapping" end
  return tostring(raw)
end

local BOOLEANS = {
  ["true"] = true, ["yes"] = true, ["on"] = true, ["1"] = true,
  ["false"] = false, ["no"] = false, ["off"] = false, ["0"] = false,
}

local convert = {}

function convert.string(opt, raw)
  local t = type(raw)
  if t == "string" then return raw end
  if t == "number" then
    return math.type(raw) == "integer" and ("%d"):format(raw) or tostring(raw)
  end
  return nil, ("expected a string, got %s"):format(shown(opt, raw))
end

convert.path = convert.string

function convert.file(opt, raw)
  local s, err = convert.string(opt, raw)
  if not s then return nil, err end
  local f, oerr = io.open(s, "r")
  if not f then return nil, ("cannot read %s: %s"):format(shown(opt, s),
    ((oerr or ""):gsub("^.-: ", ""))) end
  f:close()
  return s
end

function convert.integer(opt, raw)
  if math.type(raw) == "integer" then return raw end
  if type(raw) == "number" and math.tointeger(raw) then return math.tointeger(raw) end
  if type(raw) == "string" and raw:match("^%s*[-+]?%d+%s*$") then
    local n = math.tointeger(tonumber(raw))
    if n then return n end
  end
  return nil, ("expected an integer, got %s"):format(shown(opt, raw))
end

function convert.number(opt, raw)
  local n = type(raw) == "number" and raw or (type(raw) == "string" and tonumber(raw))
  if n and n == n and n ~= math.huge and n ~= -math.huge then return n end
  return nil, ("expected a number, got %s"):format(shown(opt, raw))
end

function convert.boolean(opt, raw)
  if type(raw) == "boolean" then return raw end
  if type(raw) == "string" then
    local b = BOOLEANS[raw:lower()]
    if b ~= nil then return b end
  end
  if raw == 0 or raw == 1 then return raw == 1 end
  return nil, ("expected true or false, got %s"):format(shown(opt, raw))
end

function convert.choice(opt, raw)
  local s = type(raw) == "number" and tostring(raw) or raw
  for _, c in ipairs(opt.choices) do
    if s == c then return c end
  end
  return nil, ("%s is not one of %s"):format(shown(opt, raw), table.concat(opt.choices, ", "))
end

function convert.duration(opt, raw)
  if type(raw) == "number" and raw >= 0 then return raw end
  if type(raw) == "string" then
    local v = M.duration(raw)
    if v then return v end
  end
  return nil, ("expected a duration such as 90, 30s, 15m, 24h or 7d, got %s"):format(
    shown(opt, raw))
end

function convert.list(opt, raw)
  if type(raw) == "string" then
    local out = {}
    for item in raw:gmatch("[^,]+") do
      item = item:match("^%s*(.-)%s*$")
      if item ~= "" then out[#out + 1] = item end
    end
    return out
  end
  if type(raw) == "table" then
    local out = {}
    for i, v in ipairs(raw) do
      local s = convert.string(opt, v)
      if not s then return nil, ("expected a list of strings, item %d is %s"):format(i, type(v)) end
      out[i] = s
    end
    return out
  end
  if type(raw) == "number" then return { tostring(raw) } end
  return nil, ("expected a comma-separated list, got %s"):format(shown(opt, raw))
end

function M.value(opt, raw)
  return convert[opt.type](opt, raw)
end

return M
