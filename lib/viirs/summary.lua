--- viirs.summary: what none of the original's parts had: one table of every statistic, and the
--- mean radiance per zone over the span as a chart (gnuplot, Debian gnuplot-nox).
--
-- collect(store, zones, months) -> rows | nil, msg, code    rows sorted by zone, month, tile, raster:
--     {zone, month, tile, raster = "radiance" | "coverage", min, max, mean, stddev, skew, count}
--     read back from the stored CSVs (local or S3) of the given months (a set "YYYYMM" -> true)
-- write_csv(path, rows) -> true | nil, msg, code
-- series(rows) -> {zones = {...}, months = {...}, mean = {[zone] = {[month] = v}}}: the radiance
--     mean of each zone and month, the pixel-count-weighted mean over the tiles that hold it
-- plot(path, rows, opts) -> true | nil, msg, code            .png or .svg; opts.title, opts.gnuplot
local csv = require("gf.csv")
local names = require("viirs.names")

local M = {}

M.COLUMNS = { "zone", "month", "tile", "raster", "min", "max", "mean", "stddev", "skew", "count" }
local STATS = { "min", "max", "mean", "stddev", "skew", "count" }

local function parse_name(name, zones)
  local best
  for _, z in ipairs(zones) do
    local r = names.parse_csv_name(name, z.name)
    if r and (not best or #r.zone > #best.zone) then best = r end
  end
  return best
end

function M.collect(store, zones, months)
  local list, err, code = store:list()
  if not list then return nil, err, code end
  local todo = {}
  for _, n in ipairs(list) do
    local r = parse_name(n, zones)
    if r and (not months or months[r.month]) then
      r.file = n
      todo[#todo + 1] = r
    end
  end
  local task = require("gf.task")
  local _, failures = task.map(todo, function(r)
    local text, rerr = store:read(r.file)
    if not text then error(("%s: %s"):format(store:url(r.file), rerr), 0) end
    local rows, perr = csv.parse(text, { header = true })
    if not rows or not rows[1] then
      error(("%s: not a statistics CSV (%s)"):format(store:url(r.file), perr or "no row"), 0)
    end
    for _, k in ipairs(STATS) do r[k] = tonumber(rows[1][k]) end
    r.raster, r.kind, r.file = r.kind, nil, nil
    return true
  end, { concurrency = 16 })
  if failures and #failures > 0 then return nil, tostring(failures[1].error), "io" end
  table.sort(todo, function(a, b)
    if a.zone ~= b.zone then return a.zone < b.zone end
    if a.month ~= b.month then return a.month < b.month end
    if a.tile ~= b.tile then return a.tile < b.tile end
    return a.raster > b.raster -- radiance before coverage
  end)
  return todo
end

local function fmt(v)
  if v == nil then return "" end
  if math.type(v) == "integer" or (v == math.floor(v) and math.abs(v) < 2 ^ 53) then return ("%d"):format(v) end
  return ("%.17g"):format(v)
end

function M.write_csv(path, rows)
  local fs = require("gf.fs")
  local lines = { csv.encode_row(M.COLUMNS) }
  for _, r in ipairs(rows) do
    local row = {}
    for i, k in ipairs(M.COLUMNS) do row[i] = i <= 4 and r[k] or fmt(r[k]) end
    lines[#lines + 1] = csv.encode_row(row)
  end
  return fs.write_atomic(path, table.concat(lines, "\n") .. "\n")
end

function M.series(rows)
  local acc, zones, months, zseen, mseen = {}, {}, {}, {}, {}
  for _, r in ipairs(rows) do
    if r.raster == "radiance" and r.count and r.count > 0 and r.mean then
      acc[r.zone] = acc[r.zone] or {}
      local a = acc[r.zone][r.month] or { sum = 0, n = 0 }
      a.sum, a.n = a.sum + r.mean * r.count, a.n + r.count
      acc[r.zone][r.month] = a
      if not zseen[r.zone] then zseen[r.zone] = true; zones[#zones + 1] = r.zone end
      if not mseen[r.month] then mseen[r.month] = true; months[#months + 1] = r.month end
    end
  end
  table.sort(zones)
  table.sort(months)
  local mean = {}
  for z, by in pairs(acc) do
    mean[z] = {}
    for m, a in pairs(by) do mean[z][m] = a.sum / a.n end
  end
  return { zones = zones, months = months, mean = mean }
end

--- The gnuplot script for a data file with one block per zone ("month value" lines).
function M.gnuplot_script(path, data, zones, opts, nmonths)
  local ext = opts.format or path:lower():match("%.(%w+)$")
  local term = ext == "svg" and "svg size 1000,560 dynamic background rgb 'white'"
    or "pngcairo size 1000,560"
  local lines = {
    "set terminal " .. term,
    ("set output '%s'"):format(path:gsub("'", "''")),
    ("set title '%s'"):format((opts.title or "VIIRS DNB mean radiance per zone"):gsub("'", "''")),
    "set xdata time", "set timefmt '%Y%m'", "set format x '%Y-%m'", "set xtics rotate by -45",
    ("set xtics %d"):format(math.max(1, math.ceil((nmonths or 1) / 12)) * 2629746),
    "set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05",
    "set ylabel 'mean radiance (nW/cm^2/sr)'", "set key outside right top", "set grid",
  }
  local plots = {}
  for i, z in ipairs(zones) do
    plots[#plots + 1] = ("'%s' index %d using 1:2 with linespoints title '%s'"):format(
      data:gsub("'", "''"), i - 1, z:gsub("_", " "):gsub("'", "''"))
  end
  lines[#lines + 1] = "plot " .. table.concat(plots, ", \\\n     ")
  return table.concat(lines, "\n") .. "\n"
end

function M.plot(path, rows, opts)
  opts = opts or {}
  local fs = require("gf.fs")
  local ext = path:lower():match("%.(%w+)$")
  if ext ~= "png" and ext ~= "svg" then
    return nil, ("--plot %s: .png or .svg expected"):format(path), "invalid_input"
  end
  local s = M.series(rows)
  if #s.zones == 0 then return nil, ("--plot %s: no radiance statistics with pixels to plot"):format(path), "invalid_input" end
  local dir = assert(fs.tempdir("gf-viirs-plot-"))
  local blocks = {}
  for _, z in ipairs(s.zones) do
    local b = { "# " .. z }
    for _, m in ipairs(s.months) do
      local v = s.mean[z][m]
      if v then b[#b + 1] = ("%s %.17g"):format(m, v) end
    end
    blocks[#blocks + 1] = table.concat(b, "\n")
  end
  local data, script = dir .. "/series.dat", dir .. "/plot.gp"
  assert(fs.write(data, table.concat(blocks, "\n\n\n") .. "\n"))
  local tmp = path .. ".gftmp-" .. require("gf.host").pid()
  assert(fs.write(script, M.gnuplot_script(tmp, data, s.zones,
    { title = opts.title, format = ext }, #s.months)))
  -- gf.proc: the child runs beside the loop, never blocking it
  local r, perr = require("gf.proc").run({ opts.gnuplot or "gnuplot", script }, { timeout = 120 })
  if not r or r.code ~= 0 or not fs.exists(tmp) then
    os.remove(tmp)
    fs.remove_tree(dir)
    return nil, ("--plot %s: gnuplot failed (is gnuplot-nox installed?): %s"):format(path,
      r and (r.stderr ~= "" and r.stderr or ("exit " .. tostring(r.code))) or tostring(perr)), "io"
  end
  local rok, rerr, rcode = fs.rename(tmp, path)
  fs.remove_tree(dir)
  if not rok then return nil, rerr, rcode end
  return true
end

return M
