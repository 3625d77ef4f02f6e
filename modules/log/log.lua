--- gf.log: levelled logging to stderr as text or JSON lines, with secret redaction.
--
-- debug(msg, fields?) info(msg, fields?) warn(msg, fields?) error(msg, fields?)
--                           log one record. `msg` is any value (tostring'd); `fields` a table of
--                           name = value (nested tables are written as JSON). Text lines:
--                           `2026-11-21T10:00:00Z INFO message key=value ...`; JSON lines:
--                           `{"ts":"...","level":"info","msg":"...","key":value,...}`.
--                           Fields are written in name order, a child's fixed fields first.
-- configure{level=, format=, sink=, clock=}
--                           level: "debug"|"info"|"warn"|"error" (default GFHOST_LOG_LEVEL or
--                           "info"); format: "text"|"json" (default GFHOST_LOG_FORMAT or "text");
--                           sink: function(line) receiving each line without "\n" (default:
--                           write to stderr); clock: function() -> epoch seconds for timestamps.
--                           Only the keys given change; `false` restores a key's default.
--                           Raises on an unknown key or a bad value.
-- secret(value) -> value    register a string that is written as "***" wherever it appears (in
--                           messages, field values, field names, every format). nil and "" are
--                           ignored, so `log.secret(os.getenv("TOKEN"))` is safe.
-- redact(s) -> s            what gf.log does to free text: registered secrets, then secret-looking
--                           `name=value`, `"name":"value"`, `Bearer x`, `Authorization: x`.
--                           Fields whose name looks secret (see gf.log.redact) are written "***".
-- child(fields) -> logger   a logger with the same functions (also callable with `:`) whose
--                           records carry `fields`; children share level, format, sink, counts.
-- counts() -> {debug=, info=, warn=, error=}
--                           records logged per level since start (or reset), printed or not
-- enabled(level) -> bool    would a record at `level` be written
-- status(text|nil)          a live line already drawn on stderr (gf.progress on a terminal): the
--                           default sink clears it before each record and draws it again after
-- reset()                   back to defaults: environment re-read, secrets and counts cleared
--
-- The environment is read at the first record (not at require time) and again after reset().
local redact = require("gf.log.redact")
local format = require("gf.log.format")

local M = {}

local LEVELS = { debug = 1, info = 2, warn = 3, error = 4 }
local LEVEL_NAMES = { "debug", "info", "warn", "error" }
local FORMATS = { text = format.text, json = format.json }
local MASK = redact.MASK

local redactor = redact.new()
local state -- settings resolved from configure() and the environment; nil until first use
local explicit = {} -- what configure() set
local counts = { debug = 0, info = 0, warn = 0, error = 0 }

local status_text -- a live line (gf.progress on a terminal) kept below the log records

local function stderr_sink(line)
  if status_text then
    io.stderr:write("\r\27[K", line, "\n", status_text)
  else
    io.stderr:write(line, "\n")
  end
end

local function resolve()
  local warnings = {}
  local level = explicit.level
  if not level then
    local env = os.getenv("GFHOST_LOG_LEVEL")
    if env and env ~= "" then
      level = env:lower()
      if level == "warning" then level = "warn" end
      if not LEVELS[level] then
        warnings[#warnings + 1] = ("GFHOST_LOG_LEVEL=%s is not one of debug, info, warn, error;"
          .. " using info"):format(env)
        level = nil
      end
    end
  end
  local fmtname = explicit.format
  if not fmtname then
    local env = os.getenv("GFHOST_LOG_FORMAT")
    if env and env ~= "" then
      fmtname = env:lower()
      if not FORMATS[fmtname] then
        warnings[#warnings + 1] = ("GFHOST_LOG_FORMAT=%s is not one of text, json; using text")
          :format(env)
        fmtname = nil
      end
    end
  end
  state = {
    level = LEVELS[level or "info"],
    format = FORMATS[fmtname or "text"],
    sink = explicit.sink or stderr_sink,
    clock = explicit.clock or os.time,
  }
  return warnings
end

local function settings()
  if state then return state end
  local warnings = resolve()
  for _, w in ipairs(warnings) do M.warn(w) end
  return state
end

local function timestamp(clock)
  local t = clock()
  return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t))
end

local function redact_value(v, depth)
  local t = type(v)
  if t == "string" then return redactor:text(v) end
  if t ~= "table" then
    if t == "number" or t == "boolean" or t == "nil" then return v end
    return redactor:text(tostring(v))
  end
  if depth > 8 then return "(nested too deep)" end
  local out = {}
  for k, x in pairs(v) do
    local key = type(k) == "string" and redactor:text(k) or k
    if redact.secret_name(k) and x ~= nil and type(x) ~= "boolean" then
      out[key] = MASK
    else
      out[key] = redact_value(x, depth + 1)
    end
  end
  return out
end

local function add_fields(list, fields)
  if not fields then return end
  local names = {}
  for k in pairs(fields) do names[#names + 1] = k end
  table.sort(names, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(names) do
    local v = fields[k]
    local name = redactor:text(tostring(k))
    if redact.secret_name(tostring(k)) and type(v) ~= "boolean" then
      list[#list + 1] = { name, MASK }
    else
      list[#list + 1] = { name, redact_value(v, 0) }
    end
  end
end

local function emit(level, fixed, msg, fields)
  counts[level] = counts[level] + 1
  local s = settings()
  if LEVELS[level] < s.level then return end
  local list = {}
  if fixed and fields then
    local merged = {}
    for k, v in pairs(fixed) do if fields[k] == nil then merged[k] = v end end
    add_fields(list, merged)
  else
    add_fields(list, fixed)
  end
  add_fields(list, fields)
  local text = redactor:text(tostring(msg))
  local line = s.format(timestamp(s.clock), level, text, list)
  -- Second pass over the finished line: a secret split by escaping in one value is still
  -- caught where it appears verbatim.
  s.sink(redactor:secrets_only(line))
end

local function check_fields(fname, fields)
  if fields ~= nil and type(fields) ~= "table" then
    error(("bad argument #2 to 'log.%s' (table expected, got %s)"):format(fname, type(fields)), 3)
  end
end

-- Build debug/info/warn/error/child functions over a fixed field table (nil for the root).
local function make_logger(target, fixed)
  for _, level in ipairs(LEVEL_NAMES) do
    target[level] = function(msg, fields, ...)
      if msg == target then msg, fields = fields, ... end -- called with `:`
      check_fields(level, fields)
      emit(level, fixed, msg, fields)
    end
  end
  target.child = function(fields, more)
    if fields == target then fields = more end
    if type(fields) ~= "table" then
      error(("bad argument #1 to 'log.child' (table expected, got %s)"):format(type(fields)), 2)
    end
    local merged = {}
    if fixed then for k, v in pairs(fixed) do merged[k] = v end end
    for k, v in pairs(fields) do merged[k] = v end
    return make_logger({}, merged)
  end
  target.enabled = function(level, more)
    if level == target then level = more end
    local n = LEVELS[level]
    if not n then error(("log.enabled: unknown level '%s'"):format(tostring(level)), 2) end
    return n >= settings().level
  end
  return target
end

make_logger(M, nil)

local CONFIG_KEYS = {
  level = function(v)
    if LEVELS[v] then return v end
    return nil, "level must be one of debug, info, warn, error"
  end,
  format = function(v)
    if FORMATS[v] then return v end
    return nil, "format must be one of text, json"
  end,
  sink = function(v)
    if type(v) == "function" then return v end
    return nil, "sink must be a function"
  end,
  clock = function(v)
    if type(v) == "function" then return v end
    return nil, "clock must be a function"
  end,
}

function M.configure(opts)
  if type(opts) ~= "table" then
    error(("bad argument #1 to 'log.configure' (table expected, got %s)"):format(type(opts)), 2)
  end
  local new = {}
  for k, v in pairs(opts) do
    local check = CONFIG_KEYS[k]
    if not check then error(("log.configure: unknown option '%s'"):format(tostring(k)), 2) end
    if v ~= false then
      local ok, err = check(v)
      if not ok then error("log.configure: " .. err, 2) end
    end
    new[k] = v
  end
  for k, v in pairs(new) do
    if v == false then explicit[k] = nil else explicit[k] = v end
  end
  state = nil
end

function M.secret(value)
  return redactor:add(value)
end

function M.redact(s)
  if type(s) ~= "string" then
    error(("bad argument #1 to 'log.redact' (string expected, got %s)"):format(type(s)), 2)
  end
  return redactor:text(s)
end

function M.status(text)
  if text ~= nil and type(text) ~= "string" then
    error(("bad argument #1 to 'log.status' (string expected, got %s)"):format(type(text)), 2)
  end
  status_text = text
end

function M.counts()
  return { debug = counts.debug, info = counts.info, warn = counts.warn, error = counts.error }
end

function M.reset()
  explicit = {}
  state = nil
  status_text = nil
  redactor:clear()
  counts = { debug = 0, info = 0, warn = 0, error = 0 }
end

M.LEVELS = { "debug", "info", "warn", "error" }

return M
