--- What grib_copy does for a model and a date, from config/grib/models.lua.
local templates = require("datamart.templates")

local M = {}

--- load(path?) -> cfg with cfg.point_lists loaded (points file relative to the models file)
function M.load(path)
  path = path or templates.default_path("grib", "models.lua")
  local cfg, err, code = templates.load(path)
  if not cfg then return nil, err, code end
  local dir = path:match("^(.*)/[^/]*$") or "."
  local pp = cfg.points or "points.lua"
  if pp:sub(1, 1) ~= "/" then pp = dir .. "/" .. pp end
  local pts
  pts, err, code = templates.load(pp)
  if not pts then return nil, err, code end
  for k, l in ipairs(pts) do
    for i, p in ipairs(l) do
      if type(p) ~= "table" or type(p[1]) ~= "number" or type(p[2]) ~= "number" then
        return nil, ("points %s: list %d, point %d is not {lon, lat}"):format(pp, k, i), "invalid_input"
      end
    end
  end
  cfg.point_lists = pts
  return cfg
end

--- files(cfg, model, datestr, base) -> list of {url, file, dir, local_path, ostore_dir, key,
-- code, group, iterator} in config order
function M.files(cfg, model, datestr, base)
  local m = cfg.models[model]
  if not m then return nil, ("unknown model '%s'"):format(tostring(model)), "invalid_input" end
  local vars0 = { datestr = datestr, yyyy = datestr:sub(1, 4), mm = datestr:sub(5, 6),
    base = (base or m.base):gsub("/+$", "") }
  local out = {}
  for gi, g in ipairs(m.groups) do
    for _, it in ipairs(templates.iterate(g.iterator)) do
      local v = setmetatable({ model_number = g.model_number or "", iterator = it }, { __index = vars0 })
      local file = templates.render(g.file_template, v, "file_template")
      local url = templates.render(g.url_template, v, "url_template")
      if url:sub(-1) ~= "/" then url = url .. "/" end
      local dir = templates.render(m.dir, v, "dir")
      local odir = templates.render(m.ostore_dir, v, "ostore_dir")
      out[#out + 1] = { url = url .. file, file = file, dir = dir, local_path = dir .. "/" .. file,
        ostore_dir = odir, key = odir .. "/" .. file, code = g.code, group = gi, iterator = it, model = model }
    end
  end
  return out
end

--- summary(cfg, datestr) -> {dir, ostore_dir, names = {key -> file name}, keys = {"P1".."T5"}}
function M.summary(cfg, datestr)
  local s = cfg.summary
  local v = { datestr = datestr }
  local keys, names = {}, {}
  for _, code in ipairs({ "P", "T" }) do
    for k = 1, #cfg.point_lists do
      local key = code .. k
      keys[#keys + 1] = key
      names[key] = templates.render(s.file, { key = key, datestr = datestr }, "summary.file")
    end
  end
  return { dir = templates.render(s.dir, v, "summary.dir"), ostore_dir = templates.render(s.ostore_dir, v, "summary.ostore_dir"),
    names = names, keys = keys }
end

return M
