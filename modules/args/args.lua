--- gf.args: a script declares its options; gf.args parses argv, the environment and a config
-- file into a plain table of values.
--
--   local args = require("gf.args")
--   local opts = args.parse({
--     name = "backfill", description = "...", version = "1.2.3",
--     options = {
--       { name = "collection", type = "string", required = true, help = "..." },
--       { name = "page-size", type = "integer", default = 2000 },
--       { name = "footprint", type = "choice", choices = { "on", "off", "force" }, default = "off" },
--       { name = "preview", type = "boolean" },
--       { name = "cycle", type = "integer", repeatable = true },
--       { name = "config", type = "file", config = true, help = "YAML config" },
--       { name = "token", type = "string", secret = true, env = "EDL_TOKEN" },
--       { name = "granule", positional = true },
--     } }, { ... })
--
-- parse(spec, argv, ctx?) -> opts, info       argv: the list { ... }
-- parse(spec, ...) -> opts, info               or the script's arguments themselves
--   opts: values keyed by option name with `-` turned into `_` (opts.page_size). Booleans
--   without a value are false, repeatable options without a value are {}, others nil.
--   info.sources[key] = "cli" | "env" | "config" | "default" (nil: no value);
--   info.config = the config file's table (or nil), info.config_path.
--   Precedence per option: command line > environment > config file > default. A value given
--   on the command line always wins, including `0`, `false` and `--no-flag`.
--   ctx (for tests): env = table or function(name) (default os.getenv);
--   stdout = function(text) (default io.stdout:write).
-- usage(spec) -> text    the --help text
--
-- Option fields: name (required; `page-size` and `page_size` are the same option), type
-- (string, integer, number, boolean, choice, duration [seconds, from "90", "30s", "15m", "24h",
-- "7d", "2w", "1h30m"], list [comma-separated], file [must be readable], path; default string),
-- default, required, help, choices (for choice), repeatable, positional, short (one letter),
-- metavar, hidden, secret (value registered with gf.log.secret and never echoed),
-- config (this option names a YAML or JSON file of option values), env (variable name, or false;
-- positional arguments have no environment variable unless env names one).
-- Spec fields: name, description, version, options, env_prefix (default "GF_<NAME>_": option
-- page-size of script backfill reads GF_BACKFILL_PAGE_SIZE; false for none), strict_config
-- (reject config keys that are not options).
--
-- Command line: --name value, --name=value, -s value, --flag, --no-flag, --flag=false, `--`
-- ends options. A non-repeatable option given twice is an error. --help prints the usage on
-- stdout and --version prints "<name> <version>"; both end the run with status 0.
-- Errors in the spec are misuse and raise. Errors in the input raise gf.host.fail(message, 2):
-- the run prints `gfhost: <message>` and exits 2; messages name the option.
-- Environment values that are empty count as unset. Config keys may spell names with - or _;
-- YAML needs gf.yaml, .json files use gf.json (or gf.yaml when gf.json is missing).
local convert = require("gf.args.convert")
local help = require("gf.args.help")

local M = {}

local OPTION_FIELDS = {
  name = true, type = true, default = true, required = true, help = true, choices = true,
  repeatable = true, positional = true, short = true, metavar = true, hidden = true,
  secret = true, config = true, env = true,
}
local SPEC_FIELDS = {
  name = true, description = true, version = true, options = true, env_prefix = true,
  strict_config = true,
}

local function fail(message, exit)
  require("gf.host").fail(message, exit)
end

local function norm(name)
  return (name:gsub("%-", "_"))
end

local function misuse(fmt, ...)
  error("args: " .. fmt:format(...), 3)
end

-- {{{ compiling the declaration

local function compile_default(opt)
  local d = opt.default
  if d == nil then
    if opt.repeatable then return {} end
    if opt.type == "boolean" then return false end
    return nil
  end
  opt.raw_default = d
  if opt.repeatable then
    local list = type(d) == "table" and d or { d }
    local out = {}
    for i, item in ipairs(list) do
      local v, why = convert.value(opt, item)
      if v == nil then misuse("option '%s': bad default: %s", opt.name, why) end
      out[i] = v
    end
    return out
  end
  if opt.type == "file" then return d end -- checked only when used
  local v, why = convert.value(opt, d)
  if v == nil then misuse("option '%s': bad default: %s", opt.name, why) end
  return v
end

local function compile_option(spec, raw, i, seen)
  if type(raw) ~= "table" then misuse("options[%d] must be a table", i) end
  for k in pairs(raw) do
    if not OPTION_FIELDS[k] then misuse("options[%d]: unknown field '%s'", i, tostring(k)) end
  end
  if type(raw.name) ~= "string" or not raw.name:match("^%a[%w_%-]*$") then
    misuse("options[%d]: name must be a word such as 'page-size'", i)
  end
  local opt = {}
  for k, v in pairs(raw) do opt[k] = v end
  opt.type = opt.type or "string"
  opt.key = norm(opt.name)
  opt.flag = opt.name:gsub("_", "-")
  if not convert.TYPES[opt.type] then
    misuse("option '%s': unknown type '%s'", opt.name, tostring(opt.type))
  end
  if opt.key == "help" or opt.key == "version" then misuse("option name '%s' is reserved", opt.name) end
  if seen[opt.key] then misuse("option '%s' is declared twice", opt.name) end
  seen[opt.key] = opt
  if opt.type == "choice" then
    if type(opt.choices) ~= "table" or #opt.choices == 0 then
      misuse("option '%s': a choice needs a non-empty choices list", opt.name)
    end
    for _, c in ipairs(opt.choices) do
      if type(c) ~= "string" then misuse("option '%s': choices must be strings", opt.name) end
    end
  elseif opt.choices ~= nil then
    misuse("option '%s': choices are only for type choice", opt.name)
  end
  if opt.short ~= nil and (type(opt.short) ~= "string" or not opt.short:match("^%a$")) then
    misuse("option '%s': short must be one letter", opt.name)
  end
  if opt.env ~= nil and opt.env ~= false and type(opt.env) ~= "string" then
    misuse("option '%s': env must be a variable name or false", opt.name)
  end
  if opt.env == false then
    opt.env_name = nil
  elseif opt.env then
    opt.env_name = opt.env
  elseif spec.env_prefix and not opt.positional then
    opt.env_name = spec.env_prefix .. opt.key:upper()
  end
  if opt.positional and (opt.type == "boolean" or opt.config or opt.short) then
    misuse("option '%s': a positional argument cannot be boolean, config or short", opt.name)
  end
  if opt.config and opt.repeatable then misuse("option '%s': config cannot repeat", opt.name) end
  opt.default = compile_default(opt)
  return opt
end

local function compile(spec)
  if type(spec) ~= "table" then
    error(("bad argument #1 to 'args.parse' (table expected, got %s)"):format(type(spec)), 3)
  end
  for k in pairs(spec) do
    if not SPEC_FIELDS[k] then misuse("unknown spec field '%s'", tostring(k)) end
  end
  if type(spec.name) ~= "string" or spec.name == "" then misuse("spec.name must be a string") end
  local c = {
    name = spec.name, description = spec.description, version = spec.version,
    strict_config = spec.strict_config, options = {}, positionals = {}, by_key = {},
    by_short = {},
  }
  if spec.env_prefix == nil then
    c.env_prefix = "GF_" .. spec.name:upper():gsub("[^%w]", "_") .. "_"
  else
    c.env_prefix = spec.env_prefix
  end
  for i, raw in ipairs(spec.options or {}) do
    local opt = compile_option(c, raw, i, c.by_key)
    c.options[#c.options + 1] = opt
    if opt.positional then
      local last = c.positionals[#c.positionals]
      if last and last.repeatable then
        misuse("option '%s': only the last positional argument may repeat", last.name)
      end
      c.positionals[#c.positionals + 1] = opt
    end
    if opt.short then
      if c.by_short[opt.short] then misuse("short option -%s is declared twice", opt.short) end
      c.by_short[opt.short] = opt
    end
    if opt.config then
      if c.config_opt then misuse("only one option may be the config file") end
      c.config_opt = opt
    end
  end
  return c
end

-- }}}
-- {{{ the command line

local function label(opt)
  if opt.positional then return "<" .. opt.name .. ">" end
  return "--" .. opt.flag
end

local function checked(opt, raw, where)
  local v, why = convert.value(opt, raw)
  if v == nil then fail(("%s%s: %s"):format(label(opt), where or "", why), 2) end
  return v
end

local function edit_distance(a, b)
  if math.abs(#a - #b) > 2 then return 3 end
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

local function unknown(spec, given)
  local key = norm(given:gsub("^%-+", ""))
  local best, best_d = nil, 3
  for _, opt in ipairs(spec.options) do
    if not opt.positional and not opt.hidden then
      local d = edit_distance(key, opt.key)
      if d < best_d then best, best_d = opt, d end
    end
  end
  local msg = ("unknown option %s"):format(given)
  if best then msg = msg .. (" (did you mean --%s?)"):format(best.flag) end
  fail(msg .. " (see --help)", 2)
end

local function record(cli, opt, value)
  if opt.repeatable then
    local list = cli[opt.key] or {}
    if opt.type == "list" then
      for _, v in ipairs(value) do list[#list + 1] = v end
    else
      list[#list + 1] = value
    end
    cli[opt.key] = list
    return
  end
  if cli[opt.key] ~= nil then fail(("%s given more than once"):format(label(opt)), 2) end
  cli[opt.key] = value
end

local function take_value(argv, i, opt, given)
  local v = argv[i + 1]
  if v == nil or (v:sub(1, 2) == "--" and #v > 2) then
    fail(("%s needs a value"):format(given or label(opt)), 2)
  end
  return v
end

-- One `--name[=value]` argument; returns how many extra arguments it consumed.
local function long_option(spec, cli, argv, i)
  local a = argv[i]
  local body = a:sub(3)
  local name, value = body:match("^([^=]+)=(.*)$")
  name = name or body
  local key = norm(name)
  local opt, negated = spec.by_key[key], false
  if not opt and key:sub(1, 3) == "no_" then
    local o = spec.by_key[key:sub(4)]
    if o and o.type == "boolean" then opt, negated = o, true end
  end
  if not opt or opt.positional then unknown(spec, "--" .. name) end
  if opt.type == "boolean" then
    if negated then
      if value ~= nil then fail(("--%s takes no value"):format(name), 2) end
      record(cli, opt, false)
    elseif value == nil then
      record(cli, opt, true)
    else
      record(cli, opt, checked(opt, value))
    end
    return 0
  end
  local used = 0
  if value == nil then
    value = take_value(argv, i, opt, "--" .. name)
    used = 1
  end
  record(cli, opt, checked(opt, value))
  return used
end

local function short_option(spec, cli, argv, i)
  local a = argv[i]
  local letter, value = a:match("^%-(%a)=?(.*)$")
  local opt = letter and spec.by_short[letter]
  if not opt then unknown(spec, a) end
  if opt.type == "boolean" then
    record(cli, opt, value == "" and true or checked(opt, value))
    return 0
  end
  if value ~= "" then
    record(cli, opt, checked(opt, value))
    return 0
  end
  record(cli, opt, checked(opt, take_value(argv, i, opt, "-" .. letter)))
  return 1
end

local function write_out(ctx, text)
  if ctx.stdout then ctx.stdout(text) else io.stdout:write(text) io.stdout:flush() end
end

local function assign_positionals(spec, cli, words)
  local n = 1
  for _, opt in ipairs(spec.positionals) do
    if opt.repeatable then
      while words[n] do
        record(cli, opt, checked(opt, words[n]))
        n = n + 1
      end
    elseif words[n] then
      record(cli, opt, checked(opt, words[n]))
      n = n + 1
    end
  end
  if words[n] then fail(("unexpected argument '%s'"):format(words[n]), 2) end
end

local function parse_argv(spec, argv, ctx)
  local cli, words, i, rest = {}, {}, 1, false
  while argv[i] ~= nil do
    local a = argv[i]
    if type(a) ~= "string" then
      error(("bad argument #2 to 'args.parse' (argv[%d] is a %s)"):format(i, type(a)), 3)
    end
    if rest or a == "-" or not a:match("^%-") or tonumber(a) then
      words[#words + 1] = a
    elseif a == "--" then
      rest = true
    elseif a == "--help" or a == "-h" then
      write_out(ctx, help.usage(spec))
      fail("", 0)
    elseif a == "--version" then
      write_out(ctx, ("%s %s\n"):format(spec.name, spec.version or "(no version)"))
      fail("", 0)
    elseif a:sub(1, 2) == "--" then
      i = i + long_option(spec, cli, argv, i)
    else
      i = i + short_option(spec, cli, argv, i)
    end
    i = i + 1
  end
  assign_positionals(spec, cli, words)
  return cli
end

-- }}}
-- {{{ environment and config file

local function getenv(ctx, name)
  local env = ctx.env
  local v
  if type(env) == "table" then v = env[name]
  elseif type(env) == "function" then v = env(name)
  else v = os.getenv(name) end
  if v == "" then return nil end
  return v
end

local function from_env(opt, raw)
  local where = " (from " .. opt.env_name .. ")"
  if opt.repeatable and opt.type ~= "list" then
    local out = {}
    for item in raw:gmatch("[^,]+") do
      out[#out + 1] = checked(opt, item:match("^%s*(.-)%s*$"), where)
    end
    return out
  end
  return checked(opt, raw, where)
end

local function decoder(path)
  local is_json = path:lower():match("%.json$") ~= nil
  if is_json then return require("gf.json").decode end
  return require("gf.yaml").load
end

local function load_config(spec, path)
  local where = ("%s %s"):format(label(spec.config_opt), path)
  local f, oerr = io.open(path, "r")
  if not f then fail(("%s: cannot read: %s"):format(where, (oerr or ""):gsub("^.-: ", "")), 2) end
  local text = f:read("a")
  f:close()
  local decode = decoder(path)
  local ok, t, err = pcall(decode, text)
  if not ok then t, err = nil, t end
  if t == nil then fail(("%s: %s"):format(where, tostring(err or "cannot parse")), 2) end
  if type(t) ~= "table" then fail(("%s: expected a mapping of option values"):format(where), 2) end
  if spec.strict_config then
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    for _, k in ipairs(keys) do
      if not spec.by_key[norm(k)] then fail(("%s: unknown key '%s'"):format(where, k), 2) end
    end
  end
  return t
end

-- JSON/YAML null in a config file means "not set".
local function is_null(v)
  if type(v) ~= "userdata" then return false end
  for _, name in ipairs({ "gf.json", "gf.yaml" }) do
    local mod = package.loaded[name]
    if type(mod) == "table" and mod.null ~= nil and rawequal(mod.null, v) then return true end
  end
  return false
end

local function config_value(opt, config)
  local v = config[opt.key]
  if v == nil then v = config[opt.flag] end
  if v == nil then v = config[opt.name] end
  if is_null(v) then return nil end
  return v
end

local function from_config(opt, raw, path)
  local where = (" (in %s)"):format(path)
  if opt.repeatable and opt.type ~= "list" then
    local list = type(raw) == "table" and raw or { raw }
    local out = {}
    for i, item in ipairs(list) do out[i] = checked(opt, item, where) end
    return out
  end
  return checked(opt, raw, where)
end

-- }}}
-- {{{ resolution

local function copy_default(opt)
  local d = opt.default
  if type(d) ~= "table" then return d end
  local out = {}
  for i, v in ipairs(d) do out[i] = v end
  return out
end

local function resolve(spec, opt, cli, ctx, config, config_path)
  if cli[opt.key] ~= nil then return cli[opt.key], "cli" end
  if opt.env_name then
    local raw = getenv(ctx, opt.env_name)
    if raw ~= nil then return from_env(opt, raw), "env" end
  end
  if config and opt ~= spec.config_opt then
    local raw = config_value(opt, config)
    if raw ~= nil then return from_config(opt, raw, config_path), "config" end
  end
  if opt.raw_default ~= nil then
    if opt.type == "file" then return checked(opt, opt.raw_default, " (default)"), "default" end
    return copy_default(opt), "default"
  end
  return copy_default(opt), nil
end

local function register_secrets(opt, value)
  if not opt.secret or value == nil then return end
  local log = require("gf.log")
  if type(value) == "table" then
    for _, v in ipairs(value) do log.secret(v) end
  elseif type(value) == "string" or type(value) == "number" then
    log.secret(value)
  end
end

function M.parse(spec, argv, ctx, ...)
  spec = compile(spec)
  if type(argv) == "string" then -- args.parse(spec, ...): the script's arguments themselves
    -- one script argument: ctx is the nil Lua passes for a missing parameter, not an argument
    local n = (ctx == nil and select("#", ...) == 0) and 1 or 2 + select("#", ...)
    argv, ctx = table.pack(argv, ctx, ...), nil
    argv.n = n
    for i = 1, argv.n do
      if type(argv[i]) ~= "string" then
        error(("bad argument #%d to 'args.parse' (string expected, got %s)"):format(i + 1,
          type(argv[i])), 2)
      end
    end
    argv.n = nil
  elseif argv ~= nil and type(argv) ~= "table" then
    error(("bad argument #2 to 'args.parse' (table expected, got %s)"):format(type(argv)), 2)
  end
  if ctx ~= nil and type(ctx) ~= "table" then
    error(("bad argument #3 to 'args.parse' (table expected, got %s)"):format(type(ctx)), 2)
  end
  ctx = ctx or {}
  local cli = parse_argv(spec, argv or {}, ctx)
  local opts, info = {}, { sources = {} }
  local config, config_path
  if spec.config_opt then
    local o = spec.config_opt
    local path, source = resolve(spec, o, cli, ctx, nil, nil)
    opts[o.key], info.sources[o.key] = path, source
    if path then
      config, config_path = load_config(spec, path), path
      info.config, info.config_path = config, path
    end
  end
  for _, opt in ipairs(spec.options) do
    if opt ~= spec.config_opt then
      opts[opt.key], info.sources[opt.key] = resolve(spec, opt, cli, ctx, config, config_path)
    end
    register_secrets(opt, opts[opt.key])
  end
  for _, opt in ipairs(spec.options) do
    local v = opts[opt.key]
    if opt.required and (v == nil or (opt.repeatable and #v == 0)) then
      local how = opt.env_name and (" (or set %s)"):format(opt.env_name) or ""
      local what = opt.positional and "argument" or "option"
      fail(("missing required %s %s%s"):format(what, label(opt), how), 2)
    end
  end
  return opts, info
end

function M.usage(spec)
  return help.usage(compile(spec))
end

-- }}}

return M
