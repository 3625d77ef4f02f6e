--- gf.json: JSON and NDJSON.
--
-- decode(text) -> value | nil, message, "parse"
--     Objects become tables marked json.object, arrays tables marked json.array (so they
--     re-encode the same, empty ones included); null becomes json.null; numbers without a
--     fraction or exponent that fit in 64 bits become Lua integers, others floats; strings keep
--     every byte (\u0000 included). The message names line, column and byte:
--     "json.decode: expected ',' or '}' ('x') at line 3, column 7 (byte 41)".
--     Nesting deeper than 1000 levels is a parse error.
-- encode(value [, {pretty = bool, sort_keys = bool}]) -> text
--     Raises on what JSON cannot hold, naming the place: functions, userdata, coroutines,
--     NaN/infinity, cycles, tables mixing array and object keys, arrays with holes, nesting
--     deeper than 1000 ("json.encode: cannot encode a function at $.items[2].f").
--     A table marked json.array/json.object is written as that kind. An unmarked table is an
--     array when its keys are exactly 1..n, an object when its keys are strings; an unmarked
--     EMPTY table is written as an object "{}" (mark it json.array() to get "[]").
--     Integers are written exactly; floats in the shortest form that reads back to the same
--     double, always with a "." or exponent (1.0 -> "1.0"). Strings are written byte for byte
--     with '"', '\\' and control characters escaped (the caller supplies UTF-8).
--     pretty: two-space indent, "key": value. sort_keys: keys in byte order.
-- null                      the JSON null sentinel (light userdata NULL; also yaml.null)
-- array([t]) -> t           mark t (or a new table) as a JSON array; raises if t has another
-- object([t]) -> t          metatable. Mark object likewise.
-- is_array(t), is_object(t) -> boolean   whether t carries that mark
-- lines(source [, {on_error = fn}]) -> iterator
--     NDJSON: source is a path, an open file handle (not closed here) or "-" for stdin.
--     `for value, lineno in json.lines(path) do ... end`. Blank lines are skipped. A line that
--     does not parse raises "ndjson <name>:<line>: <problem> at column <n>", unless on_error is given:
--     then on_error(message, lineno) is called and the line skipped. A path that cannot be
--     opened returns nil, "ndjson <path>: <reason>", "io". The iterator closes a file it opened
--     at the end of input, on error, and when a `for` loop is left early (to-be-closed value).
local core = require("gf.json.core")

local M = {}

local ARRAY, OBJECT = core.array_mt, core.object_mt

M.null = core.null

-- Building a large document allocates only live data, so the collector's incremental passes over
-- it are wasted work (about a third of the decode time at 50 MB): pause it for big inputs.
local BIG = 1 << 16

function M.decode(text, opts)
  if type(text) == "string" and #text > BIG and collectgarbage("isrunning") then
    collectgarbage("stop")
    local ok, value, msg, code = pcall(core.decode, text, opts)
    collectgarbage("restart")
    if not ok then error(value, 0) end
    return value, msg, code
  end
  return core.decode(text, opts)
end

function M.encode(value, opts)
  local pretty, sort_keys = false, false
  if opts ~= nil then
    if type(opts) ~= "table" then error("bad argument #2 to 'encode' (table expected)", 2) end
    for k, v in pairs(opts) do
      if k == "pretty" then
        pretty = v and true or false
      elseif k == "sort_keys" then
        sort_keys = v and true or false
      else
        error("json.encode: unknown option '" .. tostring(k) .. "'", 2)
      end
    end
  end
  return core.encode(value, pretty, sort_keys)
end

local function mark(mt, name)
  return function(t)
    if t == nil then return setmetatable({}, mt) end
    if type(t) ~= "table" then error("bad argument #1 to '" .. name .. "' (table expected)", 2) end
    local old = getmetatable(t)
    if old ~= nil and old ~= ARRAY and old ~= OBJECT then
      error("json." .. name .. ": table already has a metatable", 2)
    end
    return setmetatable(t, mt)
  end
end

M.array = mark(ARRAY, "array")
M.object = mark(OBJECT, "object")

function M.is_array(t)
  return type(t) == "table" and getmetatable(t) == ARRAY
end

function M.is_object(t)
  return type(t) == "table" and getmetatable(t) == OBJECT
end

local function closer(fh)
  return setmetatable({}, {
    __close = function()
      if fh and io.type(fh) == "file" then fh:close() end
    end,
  })
end

function M.lines(source, opts)
  local on_error
  if opts ~= nil then
    if type(opts) ~= "table" then error("bad argument #2 to 'lines' (table expected)", 2) end
    for k, v in pairs(opts) do
      if k == "on_error" and type(v) == "function" then
        on_error = v
      else
        error("json.lines: bad option '" .. tostring(k) .. "'", 2)
      end
    end
  end
  local fh, name, owned
  if source == "-" then
    fh, name = require("gf.task").stdin(), "<stdin>" -- read through the loop
  elseif type(source) == "string" then
    local err
    fh, err = io.open(source, "rb")
    if not fh then return nil, "ndjson " .. err, "io" end
    name, owned = source, true
  elseif io.type(source) == "file" then
    fh, name = source, "<file>"
  else
    error("bad argument #1 to 'lines' (path, \"-\" or open file expected)", 2)
  end
  local lineno = 0
  local function finish()
    if owned and io.type(fh) == "file" then fh:close() end
  end
  local function iter()
    while true do
      local line
      if source == "-" then
        line = fh:line()
      elseif io.type(fh) ~= "file" then
        return nil
      else
        line = fh:read("l")
      end
      if line == nil then
        finish()
        return nil
      end
      lineno = lineno + 1
      if line:find("[^ \t\r\n]") then
        local value, msg = core.decode(line)
        if msg == nil then return value, lineno end
        msg = msg:gsub("^json%.decode: ", ""):gsub(" at line 1, (column %d+) %(byte %d+%)$", " at %1")
        msg = "ndjson " .. name .. ":" .. lineno .. ": " .. msg
        if not on_error then
          finish()
          error(msg, 0)
        end
        on_error(msg, lineno)
      end
    end
  end
  return iter, nil, nil, owned and closer(fh) or nil
end

return M
