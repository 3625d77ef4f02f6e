--- Expected files of a day from a profile of config/datamart/profiles.lua.
local templates = require("datamart.templates")

local M = {}

--- load(path?) -> profiles table (config/datamart/profiles.lua by default)
function M.load(path)
  return templates.load(path or templates.default_path("datamart", "profiles.lua"))
end

--- profile(cfg, name?) -> profile or nil, msg, "invalid_input"
function M.profile(cfg, name)
  name = name or cfg.default
  local p = cfg.profiles and cfg.profiles[name]
  if not p then
    local names = {}
    for k in pairs(cfg.profiles or {}) do names[#names + 1] = k end
    table.sort(names)
    return nil, ("unknown profile '%s' (known: %s)"):format(tostring(name), table.concat(names, ", ")), "invalid_input"
  end
  if type(p.groups) ~= "table" or #p.groups == 0 then
    return nil, ("profile '%s' has no groups"):format(name), "invalid_input"
  end
  return p
end

--- files(profile, datestr) -> list of {relpath, model, code, hour, file} in config order
function M.files(profile, datestr)
  local out = {}
  for _, g in ipairs(profile.groups) do
    for _, it in ipairs(templates.iterate(g.iterator)) do
      local vars = { datestr = datestr, model_number = g.model_number or "", iterator = it }
      vars.file = templates.render(g.file_template, vars, "file_template")
      out[#out + 1] = { relpath = templates.render(g.path_template, vars, "path_template"),
        model = g.model, code = g.code, hour = it, file = vars.file }
    end
  end
  return out
end

--- cache(profile) -> function(datestr) -> {list = files, set = {relpath = true}, n = count}
-- (memoised per date: the listener asks for every announcement)
function M.cache(profile)
  local memo, order = {}, {}
  return function(datestr)
    local e = memo[datestr]
    if e then return e end
    local list = M.files(profile, datestr)
    local set, n = {}, 0
    for _, f in ipairs(list) do
      if not set[f.relpath] then set[f.relpath] = true n = n + 1 end
    end
    e = { list = list, set = set, n = n }
    memo[datestr] = e
    order[#order + 1] = datestr
    if #order > 64 then memo[table.remove(order, 1)] = nil end
    return e
  end
end

return M
