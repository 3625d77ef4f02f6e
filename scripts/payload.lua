--- payload: Cirrus payload tools on stdin — get-id, validate, template (cirrus payload ...).
--
--   gfhost run payload get-id < payload.json          # the id, or the one Cirrus would make
--   gfhost run payload validate < payload.json        # exit 0 valid, 1 invalid (the reason on stderr)
--   gfhost run payload template [-x NAME VALUE]... [VARFILE...] [--silence-templating-errors] < payload.json.template
--
-- get-id prints the payload's id, or `<collections>/workflow-<workflow>/<itemids>` built as
-- Cirrus' set_id does (source-systems §5.2). validate checks process (a non-empty array whose
-- first entry names a workflow) and the id. template substitutes $name, ${name} and
-- ${name?default} (Python string.Template rules, identifiers [_a-z][_a-z0-9]*, `$$` is `$`)
-- from the variable files (a JSON object, or name=value lines) and then -x/--var pairs (later
-- ones win); a missing variable or a bad placeholder is an error naming its line and column,
-- unless --silence-templating-errors leaves it as it is.
local args = require("gf.args")
local host = require("gf.host")
local json = require("gf.json")
local core = require("cirrus.core")
local template = require("cirrus.template")

-- -x/--var take two values: pulled out before gf.args sees the rest.
local argv, pairs_ = {}, {}
do
  local a = { ... }
  local i = 1
  while i <= #a do
    local w = a[i]
    if w == "-x" or w == "--var" then
      if a[i + 1] == nil or a[i + 2] == nil then host.fail(w .. " needs a NAME and a VALUE", 2) end
      pairs_[#pairs_ + 1] = { a[i + 1], a[i + 2] }
      i = i + 3
    else
      argv[#argv + 1] = w
      i = i + 1
    end
  end
end

local opts = args.parse({
  name = "payload", version = "1.0.0", env_prefix = false,
  description = "Cirrus payload tools: get-id, validate, template (stdin). -x/--var NAME VALUE sets a template variable.",
  options = {
    { name = "command", positional = true, required = true, metavar = "get-id|validate|template" },
    { name = "varfile", positional = true, repeatable = true, metavar = "VARFILE", help = "template: variable files" },
    { name = "silence-templating-errors", type = "boolean", help = "template: leave unknown placeholders as they are" },
  },
}, argv)

local cmd = opts.command
if cmd ~= "get-id" and cmd ~= "validate" and cmd ~= "template" then
  host.fail(("payload: unknown command '%s' (get-id, validate, template)"):format(cmd), 2)
end
if cmd ~= "template" and (#opts.varfile > 0 or #pairs_ > 0) then
  host.fail("payload " .. cmd .. ": variables are only for template", 2)
end

local text = io.stdin:read("a") or ""

if cmd == "template" then
  local vars = {}
  for _, f in ipairs(opts.varfile) do
    local v, msg = template.read_vars(f)
    if not v then host.fail("payload template: " .. msg, 1) end
    for k, val in pairs(v) do vars[k] = val end
  end
  for _, kv in ipairs(pairs_) do vars[kv[1]] = kv[2] end
  local out, msg = template.substitute(text, vars, { silent = opts.silence_templating_errors })
  if not out then host.fail("payload template: stdin: " .. msg, 1) end
  io.stdout:write(out)
  return 0
end

local p, perr = json.decode(text)
if type(p) ~= "table" then host.fail("payload " .. cmd .. ": stdin: " .. tostring(perr or "not a JSON object"), 1) end
local had_id = type(p.id) == "string"
local id, msg = core.prepare(p)
if not id then host.fail("payload " .. cmd .. ": " .. msg, 1) end
if cmd == "get-id" then
  io.stdout:write(id, "\n")
else
  io.stderr:write(("valid payload %s%s\n"):format(id, had_id and "" or " (id generated)"))
end
return 0
