--- regression: backfill every collection that has a forge-tig config (forge, tig or forge-py).
--
--   gfhost run regression --backfill_config backfill.yaml --type forge \
--     [--configs DIR|URL] [--exclusions FILE] [--preview] [--list] [-- backfill options...]
--
-- The original's backfill_regression (source-systems §1.7). --configs is a directory of
-- <shortName>.cfg files or a listing URL (default: the GitHub contents API listing of
-- podaac/forge-tig-configuration config-files; a JSON array of {name =, download_url =} or of
-- names relative to the URL), downloaded into a temporary directory. Classification: a truthy
-- `footprint` goes to forge-py when `footprinter` is "forge-py", otherwise to forge; a truthy
-- `imgVariables` goes to tig. Each collection of the type, minus config/regression/exclusions.lua
-- (names and a predicate; --exclusions FILE for another file), is backfilled in-process
-- (backfill.run) with
--   --config <backfill_config> --collection <name> --forge-tig-configs <configs dir> + type flags
--   forge, forge-py: --image off --footprint force --dmrpp off;  tig: --image force --footprint off
--   --dmrpp off;  no --type: every collection, no flags (the YAML must set them)
-- then --preview when given and every argument after `--`. One collection failing does not stop
-- the others. At the end a summary table per collection on stdout; exit 1 when any failed.
-- --list prints the selection (and the exclusions) without backfilling.
local host = require("gf.host")
local args = require("gf.args")
local fs = require("gf.fs")
local http = require("gf.http")
local json = require("gf.json")
local log = require("gf.log")
local task = require("gf.task")
local time = require("gf.time")
local backfill = require("backfill.run")

local LISTING = "https://api.github.com/repos/podaac/forge-tig-configuration/contents/config-files"

local function fail(msg, code)
  host.fail(msg, code or 2)
end

-- everything after the first `--` goes to every backfill run
local argv, forward = {}, {}
do
  local dest = argv
  for _, a in ipairs({ ... }) do
    if dest == argv and a == "--" then dest = forward else dest[#dest + 1] = a end
  end
end

local opts = args.parse({
  name = "regression", version = "1.0.0",
  description = "Run the backfill for every collection that has a forge-tig configuration.",
  options = {
    { name = "backfill-config", type = "file", required = true, help = "backfill YAML (--config of each run)" },
    { name = "type", type = "choice", choices = { "forge", "tig", "forge-py" }, help = "collections to run and the flags they get" },
    { name = "configs", type = "string", default = LISTING, help = "directory or listing URL of <shortName>.cfg files" },
    { name = "exclusions", type = "file", help = "exclusions file (default config/regression/exclusions.lua)" },
    { name = "preview", type = "boolean", help = "pass --preview to every run" },
    { name = "list", type = "boolean", help = "print the selected collections and stop" },
    { name = "concurrency", type = "integer", default = 8, help = "config downloads in flight" },
  },
}, argv)

local FLAGS = {
  forge = { "--image", "off", "--footprint", "force", "--dmrpp", "off" },
  tig = { "--image", "force", "--footprint", "off", "--dmrpp", "off" },
  ["forge-py"] = { "--image", "off", "--footprint", "force", "--dmrpp", "off" },
}

-- Python truthiness of a decoded JSON value
local function truthy(v)
  if v == nil or v == false or v == json.null or v == 0 or v == "" then return false end
  if type(v) == "table" and next(v) == nil then return false end
  return true
end

-- {{{ configs: a directory, or a listing URL downloaded into a temporary directory
local tmpdir
local function fetch_listing(url)
  local hdr = { Accept = "application/vnd.github+json", ["User-Agent"] = "gfhost-regression" }
  local res, msg = http.get(url, { headers = hdr, timeout = 120 })
  if not res then fail("Error: config listing: " .. tostring(msg), 1) end
  if res.status ~= 200 then fail(("Error: config listing %s: status %d"):format(url, res.status), 1) end
  local list, jerr = json.decode(res.body)
  if type(list) ~= "table" or (list[1] == nil and next(list) ~= nil) then
    fail(("Error: config listing %s: %s"):format(url, jerr or "not a JSON array"), 1)
  end
  local files = {}
  for _, e in ipairs(list) do
    local name, durl
    if type(e) == "string" then
      name, durl = e:match("[^/]*$"), url:gsub("[?#].*$", ""):gsub("/+$", "") .. "/" .. http.url_encode(e)
    elseif type(e) == "table" and type(e.name) == "string" and (e.type == nil or e.type == "file") then
      name, durl = e.name, e.download_url
    end
    if name and name:sub(-4) == ".cfg" and type(durl) == "string" then files[#files + 1] = { name = name, url = durl } end
  end
  if #files == 0 then fail(("Error: config listing %s: no .cfg files listed"):format(url), 1) end
  tmpdir = assert(fs.tempdir("gf-regression-"))
  local _, fails = task.map(files, function(f)
    local r, err = http.get(f.url, { headers = { ["User-Agent"] = "gfhost-regression" }, timeout = 120 })
    if not r then error(err, 0) end
    if r.status ~= 200 then error(("status %d"):format(r.status), 0) end
    assert(fs.write(tmpdir .. "/" .. f.name, r.body))
    return true
  end, { concurrency = opts.concurrency })
  for _, f in ipairs(fails) do
    log.error("config download failed", { file = f.item.name, error = tostring(f.error) })
  end
  log.info("configs downloaded", { files = #files - #fails, failed = #fails, dir = tmpdir })
  return tmpdir, fails
end

local dir, not_downloaded = opts.configs, {}
if dir:match("^https?://") then dir, not_downloaded = fetch_listing(dir) end
local names, lerr = fs.list(dir)
if not names then fail("Error: " .. lerr, 2) end
-- }}}

-- {{{ classification and exclusions
local excl
if opts.exclusions then excl = assert(dofile(opts.exclusions)) else excl = require("regression.exclusions") end
if type(excl) ~= "table" then fail("Error: the exclusions file must return a table", 2) end
local excluded_names = {}
for k, v in pairs(excl.names or {}) do
  if type(k) == "number" then excluded_names[v] = "excluded by name" else excluded_names[k] = tostring(v) end
end

local groups = { forge = {}, tig = {}, ["forge-py"] = {}, all = {} }
local bad = {}
for _, file in ipairs(names) do
  if file:sub(-4) == ".cfg" then
    local stem = file:sub(1, -5) -- not a character-set strip (the original's old bug)
    local text = fs.read(dir .. "/" .. file)
    local cfg = text and json.decode(text)
    if type(cfg) ~= "table" then
      bad[#bad + 1] = stem
    else
      local c = { name = stem, cfg = cfg }
      groups.all[#groups.all + 1] = c
      if truthy(cfg.footprint) then
        local g = cfg.footprinter == "forge-py" and groups["forge-py"] or groups.forge
        g[#g + 1] = c
      end
      if truthy(cfg.imgVariables) then groups.tig[#groups.tig + 1] = c end
    end
  end
end
for _, stem in ipairs(bad) do log.error("unreadable forge-tig config", { collection = stem }) end

local kind = opts.type or "all"
local selected, excluded = {}, {}
for _, c in ipairs(groups[kind]) do
  local why = excluded_names[c.name]
  if not why and type(excl.exclude) == "function" then
    local r = excl.exclude(c.name, c.cfg, kind)
    if r then why = type(r) == "string" and r or "excluded by predicate" end
  end
  if why then excluded[#excluded + 1] = { name = c.name, reason = why } else selected[#selected + 1] = c end
end
-- }}}

local out = {}
local function line(s) out[#out + 1] = s end

-- The end of both modes: the configs that could not be downloaded, the report, the exit.
local function finish(failed, total)
  for _, f in ipairs(not_downloaded) do line(("Not downloaded: %s: %s"):format(f.item.name, tostring(f.error))) end
  io.stdout:write(table.concat(out, "\n"), "\n")
  io.stdout:flush()
  if tmpdir then fs.remove_tree(tmpdir) end
  if failed > 0 then fail(("regression: %d of %d collections failed"):format(failed, total), 1) end
  if #not_downloaded > 0 then fail(("regression: %d configs could not be downloaded"):format(#not_downloaded), 1) end
  return 0
end

if opts.list then
  line(("forge %d, tig %d, forge-py %d, unreadable %d"):format(#groups.forge, #groups.tig,
    #groups["forge-py"], #bad))
  line(("Selected (%s): %d"):format(kind, #selected))
  for _, c in ipairs(selected) do line("  " .. c.name) end
  line(("Excluded: %d"):format(#excluded))
  for _, e in ipairs(excluded) do line(("  %s: %s"):format(e.name, e.reason)) end
  return finish(0, 0)
end

-- {{{ the runs
local results = {}
local failed = 0
for i, c in ipairs(selected) do
  local a = { "--config", opts.backfill_config, "--collection", c.name, "--forge-tig-configs", dir }
  for _, f in ipairs(FLAGS[kind] or {}) do a[#a + 1] = f end
  if opts.preview then a[#a + 1] = "--preview" end
  for _, f in ipairs(forward) do a[#a + 1] = f end
  log.info("regression: backfill", { collection = c.name, type = kind, n = i, of = #selected })
  local t0 = time.monotonic()
  local s, msg, code, partial = backfill.run(a)
  local r = { name = c.name, seconds = time.monotonic() - t0, summary = s or partial }
  if s then
    r.status = "ok"
  else
    r.status = code == 1 and partial and "failed" or "error"
    r.error = msg
    failed = failed + 1
    log.error("regression: backfill failed", { collection = c.name, error = msg })
  end
  results[#results + 1] = r
end
-- }}}

-- {{{ summary table
line("")
line(("Regression (%s): %d collections, %d failed, %d excluded%s"):format(kind, #results, failed, #excluded,
  opts.preview and " (preview)" or ""))
local w = 10
for _, r in ipairs(results) do if #r.name > w then w = #r.name end end
local fmt = "%-" .. w .. "s  %-9s  %-7s  %9s  %9s  %6s  %6s  %8s  %6s  %8s"
line(fmt:format("Collection", "Type", "Status", "Granules", "Footprint", "Image", "DMRPP", "Messages", "Failed", "Seconds"))
for _, r in ipairs(results) do
  local s = r.summary
  local function n(k) return s and tostring(s[k]) or "-" end
  line(fmt:format(r.name, kind, r.status, n("granules"), n("footprint"), n("image"), n("dmrpp"), n("messages"),
    n("failed"), ("%.2f"):format(r.seconds)))
end
for _, r in ipairs(results) do
  if r.error then line(("%s: %s"):format(r.name, r.error)) end
end
if #excluded > 0 then
  line("Excluded:")
  for _, e in ipairs(excluded) do line(("  %s: %s"):format(e.name, e.reason)) end
end
-- }}}

return finish(failed, #results)
