--- VIIRS nightlights per SEZ zone: month span -> parallel tile downloads -> zonal statistics CSVs.
--
--   gfhost run viirs --span 201201..201805 [--out DIR|s3://bucket/sezu-stats/] [--dry-run]
--   gfhost run viirs --collection viirs-collection.json --provider-host https://mirror.example
--   gfhost run viirs --span 201801..201803 --summary stats.csv --plot trend.png
--   gfhost run viirs --span ... --executor sqs --queue URL --state dynamodb://T   (gfhost worker elsewhere)
--
-- The SEZ-U pipeline of Development Seed's cumulus-ce-viirs (source-systems §4) as one command:
-- the collection template (Cumulus JSON with options.spanStart/spanEnd/spanUnit; --span
-- overrides) is expanded into one collection per month (`Scheduled N workflows`), and
-- workflows/viirs.lua runs one node per month on the chosen executor: the month's tiles are
-- discovered from the provider's HTML listing (or --tiles), downloaded in parallel, read inside
-- their .tgz with GDAL's /vsitar/ (--extract: copied out first), and every zone of --zones gets
-- one CSV per month and tile (`<zone>_<YYYYMM>_<tile>.csv` radiance, `..._cvg.csv` coverage).
-- A rerun skips the tiles whose CSVs exist, and the same run id resumes from gf.state.
-- --summary and --plot read every CSV of the span back. docs/viirs.md.
local args = require("gf.args")
local host = require("gf.host")

local opts = args.parse({
  name = "viirs",
  description = "VIIRS DNB monthly tiles over a month span: zonal statistics per SEZ zone as CSV.",
  options = {
    { name = "span", type = "string", help = "months YYYYMM..YYYYMM, inclusive (overrides the collection's options)" },
    { name = "collection", type = "string", default = host.root() .. "/config/viirs/collection.json",
      help = "Cumulus template collection JSON (provider_path, files[1].regex, options.spanStart/spanEnd/spanUnit)" },
    { name = "provider-host", type = "string", default = "https://data.ngdc.noaa.gov",
      help = "provider host the provider_path is appended to (any mirror)" },
    { name = "out", type = "string", default = "out/viirs", help = "directory or s3://bucket/sezu-stats/ for the CSVs" },
    { name = "zones", type = "string", default = host.root() .. "/config/viirs/zones",
      help = "directory of zone GeoJSON files (one zone per file, named by the file)" },
    { name = "tiles", type = "list", help = "tile file names instead of the listing ({{pointInTime}} is the month)" },
    { name = "work", type = "string", default = ".gfhost/viirs", help = "download directory (one sub-directory per month)" },
    { name = "downloads", type = "integer", default = 6, help = "tile downloads in flight per process" },
    { name = "retries", type = "integer", default = 4, help = "extra attempts per download" },
    { name = "extract", type = "boolean", help = "copy each raster out of its .tgz before reading (default: read in place, /vsitar/)" },
    { name = "keep", type = "boolean", help = "keep the downloaded .tgz files" },
    { name = "dry-run", type = "boolean", help = "list the months, tile URLs and outputs; download and write nothing" },
    { name = "summary", type = "string", help = "write one CSV of zone x month x tile with all six statistics" },
    { name = "plot", type = "string", help = "draw the mean radiance per zone over the span (.png or .svg, gnuplot)" },
    { name = "concurrency", type = "integer", default = 2, help = "months running at once (local executor)" },
    { name = "executor", type = "choice", choices = { "local", "sqs" }, default = "local",
      help = "local: run here; sqs: send one message per month to gfhost worker processes" },
    { name = "queue", type = "string", help = "SQS queue URL (--executor sqs)" },
    { name = "poll", type = "number", default = 0.5, help = "seconds between state polls (--executor sqs)" },
    { name = "state", type = "string", default = os.getenv("GFHOST_STATE") or ".gfhost/state.db",
      help = "node states: SQLite file or dynamodb://TABLE[?endpoint=&region=&create=1]" },
    { name = "run-id", type = "string", help = "run identifier (default: workflow + parameter digest)" },
    { name = "rerun-failed", type = "boolean", help = "give failed months fresh attempts" },
    { name = "endpoint-url", type = "string", env = "AWS_ENDPOINT_URL", help = "SQS endpoint (--executor sqs)" },
    { name = "region", type = "string", env = "AWS_DEFAULT_REGION", help = "AWS region" },
    { name = "profile", type = "string", env = "AWS_PROFILE", help = "AWS profile" },
  },
}, { ... })

local collection = require("viirs.collection")
local vparams = require("viirs.params")
local store_mod = require("viirs.store")

local function abs(path)
  if path:sub(1, 1) == "/" or path:match("^%a[%w+.-]*://") then return path end
  return (os.getenv("PWD") or ".") .. "/" .. path
end

-- The workflow's parameters: strings, absolute paths (workers may start elsewhere).
local params = { collection = abs(opts.collection), host = opts.provider_host,
  out = abs(opts.out), zones = abs(opts.zones), work = abs(opts.work),
  downloads = tostring(opts.downloads), retries = tostring(opts.retries) }
if opts.span then params.span = opts.span end
if opts.tiles and #opts.tiles > 0 then params.tiles = table.concat(opts.tiles, ",") end
if opts.extract then params.extract = "1" end
if opts.keep then params.keep = "1" end

local p, perr = vparams.from(params)
if not p then host.fail(perr, 2) end
if opts.concurrency < 1 then host.fail("--concurrency must be at least 1", 2) end
for _, o in ipairs({ "summary", "plot" }) do
  if opts[o] and store_mod.is_s3(opts[o]) then host.fail(("--%s: a local file expected"):format(o), 2) end
end
if opts.plot and not opts.plot:lower():match("%.png$") and not opts.plot:lower():match("%.svg$") then
  host.fail(("--plot %s: .png or .svg expected"):format(opts.plot), 2)
end

local text, c = collection.load(p.collection)
if not text then host.fail(c, 2) end
local items, err = collection.plan(text, c, { span = p.span })
if not items then host.fail(err, 2) end
local zones, zerr = require("viirs.zones").load(p.zones)
if not zones then host.fail(zerr, 2) end
io.stdout:write(("Scheduled %d workflows\n"):format(#items))

local month = require("viirs.month")

if opts.dry_run then
  local task = require("gf.task")
  local found = task.map(items, function(item) return { month.discover(item, p) } end, { concurrency = 8 })
  local store = assert(store_mod.open(p.out))
  for i, item in ipairs(items) do
    local tiles, derr = table.unpack(found[i] or {})
    io.stdout:write(("%s %s %s\n"):format(item.month, item.name or "",
      collection.join(p.host, item.provider_path)))
    if not tiles then
      io.stdout:write(("  discovery failed: %s\n"):format(derr))
    else
      for _, t in ipairs(tiles) do io.stdout:write(("  GET %s\n"):format(t.url)) end
      for _, name in ipairs(month.plan_outputs(item, tiles, zones)) do
        io.stdout:write(("  -> %s (+ coverage %s)\n"):format(store:url(name), name:gsub("%.csv$", "_cvg.csv")))
      end
    end
  end
  io.stdout:write(("dry run: %d months, %d zones; nothing downloaded or written\n"):format(#items, #zones))
  return 0
end

local flow = require("gf.flow")
local cli = require("gf.flow.cli")
local wf, werr = flow.load(host.root() .. "/workflows/viirs.lua")
if not wf then host.fail(werr, 1) end
local state = cli.open_store(opts.state)
local summary
if opts.executor == "sqs" then
  if not opts.queue then host.fail("--executor sqs needs --queue URL", 2) end
  summary = require("gf.flow.coordinator").run(wf, { params = params, run_id = opts.run_id,
    store = state, rerun_failed = opts.rerun_failed, client = cli.sqs_client(opts),
    queue = opts.queue, poll = opts.poll, workflow_ref = cli.workflow_ref(wf) })
else
  summary = require("gf.flow.runner").run(wf, { params = params, run_id = opts.run_id,
    store = state, concurrency = opts.concurrency + 1, rerun_failed = opts.rerun_failed })
end
state:close()
io.stdout:write(("viirs %s: %d completed (%d reused), %d failed, %d skipped, %d interrupted\n"):format(
  summary.run_id, summary.completed, summary.reused, summary.failed, summary.skipped, summary.interrupted))
for _, b in ipairs(summary.bugs) do io.stderr:write("gfhost: ", b, "\n") end
if require("gf.task").interrupted() then return 130 end

local rc = summary.ok and 0 or 1
if opts.summary or opts.plot then
  local vsum = require("viirs.summary")
  local set = {}
  for _, item in ipairs(items) do set[item.month] = true end
  local rows, serr = vsum.collect(assert(store_mod.open(p.out)), zones, set)
  if not rows then host.fail("reading the CSVs back: " .. tostring(serr)) end
  if opts.summary then
    local ok, werr2 = vsum.write_csv(opts.summary, rows)
    if not ok then host.fail(("--summary %s: %s"):format(opts.summary, werr2)) end
    io.stdout:write(("summary: %d rows in %s\n"):format(#rows, opts.summary))
  end
  if opts.plot then
    local ok, gerr = vsum.plot(opts.plot, rows, {
      title = ("VIIRS DNB mean radiance per zone, %s..%s"):format(items[1].month, items[#items].month) })
    if not ok then
      io.stderr:write("gfhost: ", gerr, "\n")
      rc = 1
    else
      io.stdout:write(("plot: %s\n"):format(opts.plot))
    end
  end
end
io.stdout:write(("CSVs: %s\n"):format(p.out))
return rc
