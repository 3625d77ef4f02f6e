--- gf.yaml: YAML configuration files (libyaml).
--
-- load(text [, {name = "<string>"}]) -> value | nil, "<name>:<line>:<col>: <problem>", "parse"
--     The first document (an empty stream loads as yaml.null).
-- load_all(text [, opts]) -> list of documents | nil, message, "parse"
-- load_file(path [, {all = bool}]) -> value (or list with all) | nil, message, code
--     code "io" when the file cannot be read ("yaml.load_file <path>: <reason>"), "parse" with
--     the path as <name>.
-- dump(value) -> text      raises on values YAML cannot hold (functions, userdata, cycles,
--     nesting deeper than 1000, strings that are not UTF-8, keys that are not scalars).
-- null                     the null sentinel: the same light userdata as json.null (truthy!)
--
-- Scalars (YAML 1.2 core schema): a plain (unquoted) scalar is null for "", ~, null/Null/NULL;
-- a boolean for true/True/TRUE/false/False/FALSE only (yes/no/on/off stay strings: YAML 1.2,
-- no "Norway problem"); an integer for 123, -7, +7, 0o17, 0x1F (decimal beyond 64 bits: float);
-- a float for 1.5, 1e3, .5, .inf/-.inf/.nan. Quoted scalars and !!str are always strings.
-- Mapping keys resolve the same way, so `1: a` gives t[1] (a Lua integer) and `"1": a` t["1"];
-- null, NaN and non-scalar keys are parse errors. Null values are yaml.null (a key with a
-- null value is present). Sequences are tables marked json.array, mappings json.object, so
-- json.encode keeps empty ones apart. Anchors and aliases are supported (an alias is the same
-- Lua table); merge keys `<<: *base` / `<<: [*a, *b]` copy the keys the mapping lacks.
-- Nesting deeper than 1000 levels is a parse error.
--
-- dump writes block style with two-space indents; mapping keys sorted (numbers, then strings
-- in byte order, then booleans); strings that would read back as another type ("true", "1",
-- "", "null", "~") are double-quoted; floats always carry a "." or exponent. Tables are
-- classified like json.encode (unmarked empty table: mapping {}).
local core = require("gf.yaml.core")
local json = require("gf.json")

local M = {}

local ARRAY, OBJECT = getmetatable(json.array()), getmetatable(json.object())

M.null = json.null

local function name_of(fname, opts, default, extra)
  if opts == nil then return default end
  if type(opts) ~= "table" then
    error("bad argument #2 to '" .. fname .. "' (table expected, got " .. type(opts) .. ")", 3)
  end
  local name = default
  for k, v in pairs(opts) do
    if k == "name" and type(v) == "string" then
      name = v
    elseif not (extra and extra[k] and type(v) == extra[k]) then
      error("yaml." .. fname .. ": bad option '" .. tostring(k) .. "'", 3)
    end
  end
  return name
end

local function check_text(fname, text)
  if type(text) ~= "string" then
    error("bad argument #1 to '" .. fname .. "' (string expected, got " .. type(text) .. ")", 3)
  end
end

function M.load(text, opts)
  check_text("load", text)
  return core.load(text, name_of("load", opts, "<string>"), false, ARRAY, OBJECT)
end

function M.load_all(text, opts)
  check_text("load_all", text)
  return core.load(text, name_of("load_all", opts, "<string>"), true, ARRAY, OBJECT)
end

function M.load_file(path, opts)
  check_text("load_file", path)
  local name = name_of("load_file", opts, path, { all = "boolean" })
  local f, err = io.open(path, "rb")
  if not f then return nil, "yaml.load_file " .. err, "io" end
  local text, rerr = f:read("a")
  f:close()
  if not text then return nil, "yaml.load_file " .. path .. ": " .. tostring(rerr), "io" end
  return core.load(text, name, opts ~= nil and opts.all or false, ARRAY, OBJECT)
end

function M.dump(value)
  return core.dump(value, ARRAY, OBJECT)
end

return M
