--- gf.args.help: the usage text of a compiled argument declaration.
--
-- usage(spec) -> text    `usage: <name> [options] <positional>...`, the description, then one
--                        entry per option: spelling, value type, help, and in brackets whether
--                        it is required, its default, choices, environment variable, and
--                        whether it repeats. Secret defaults are never shown.
local M = {}

local function metavar(opt)
  if opt.metavar then return opt.metavar end
  if opt.type == "choice" then return "{" .. table.concat(opt.choices, "|") .. "}" end
  return opt.type:upper()
end

local function default_text(opt)
  local d = opt.default
  if opt.raw_default == nil or opt.secret then return nil end
  if type(d) == "table" then
    if #d == 0 then return nil end
    local parts = {}
    for i, v in ipairs(d) do parts[i] = tostring(v) end
    return table.concat(parts, ",")
  end
  if opt.type == "duration" and type(opt.raw_default) == "string" then return opt.raw_default end
  return tostring(d)
end

local function notes(opt)
  local n = {}
  if opt.required then n[#n + 1] = "required" end
  local d = default_text(opt)
  if d then n[#n + 1] = "default " .. d end
  if opt.repeatable then n[#n + 1] = "repeatable" end
  if opt.config then n[#n + 1] = "config file" end
  if opt.secret then n[#n + 1] = "secret" end
  if opt.env_name then n[#n + 1] = "env " .. opt.env_name end
  if #n == 0 then return "" end
  return "[" .. table.concat(n, "; ") .. "]"
end

local function spelling(opt)
  if opt.positional then
    return "<" .. opt.name .. ">" .. (opt.repeatable and "..." or "")
  end
  local s = opt.type == "boolean" and ("--[no-]" .. opt.flag) or ("--" .. opt.flag .. " " .. metavar(opt))
  if opt.short then s = "-" .. opt.short .. ", " .. s end
  return s
end

local function wrap_entry(left, right, width)
  if right == "" then return "  " .. left end
  if #left <= width then return ("  %-" .. width .. "s  %s"):format(left, right) end
  return ("  %s\n  %s  %s"):format(left, (" "):rep(width), right)
end

local function section(lines, title, entries)
  if #entries == 0 then return end
  lines[#lines + 1] = ""
  lines[#lines + 1] = title
  local width = 0
  for _, e in ipairs(entries) do
    if #e[1] <= 30 then width = math.max(width, #e[1]) end
  end
  for _, e in ipairs(entries) do lines[#lines + 1] = wrap_entry(e[1], e[2], width) end
end

function M.usage(spec)
  local head = { "usage: " .. spec.name .. " [options]" }
  for _, opt in ipairs(spec.positionals) do
    local s = "<" .. opt.name .. ">" .. (opt.repeatable and "..." or "")
    head[#head + 1] = opt.required and s or ("[" .. s .. "]")
  end
  local lines = { table.concat(head, " ") }
  if spec.description then
    lines[#lines + 1] = ""
    lines[#lines + 1] = spec.description
  end
  local pos, opts = {}, {}
  for _, opt in ipairs(spec.options) do
    if not opt.hidden then
      local right = opt.help or ""
      local n = notes(opt)
      if n ~= "" then right = right == "" and n or (right .. " " .. n) end
      local list = opt.positional and pos or opts
      list[#list + 1] = { spelling(opt), right }
    end
  end
  opts[#opts + 1] = { "-h, --help", "show this help and exit" }
  if spec.version then opts[#opts + 1] = { "--version", "show the version and exit" } end
  section(lines, "arguments:", pos)
  section(lines, "options:", opts)
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Values come from the command line, then the environment"
    .. (spec.config_opt and ", then the config file" or "") .. ", then the default."
  lines[#lines + 1] = "In option names _ and - are the same (--page_size is --page-size)."
  return table.concat(lines, "\n") .. "\n"
end

return M
