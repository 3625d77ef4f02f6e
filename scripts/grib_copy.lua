--- grib_copy: download MSC RDPS/GDPS/CanSIPS GRIB2 (waiting until published), extract the point lists, upload to the object store.
--
--   gfhost run grib_copy --model rdps --model gdps [--date YYYYMMDD] [--days 3] [--dry-run]
--   gfhost run grib_copy --model cansips
--
-- The BC River Forecast Centre's main_cmc.py and main_cansip.py (source-systems §3.2, §3.3),
-- driven by the editable templates of config/grib/models.lua and the five point lists of
-- config/grib/points.lua. Per date (the given --date, else today in America/Vancouver and the
-- --days - 1 days before it):
--   * a date whose summary is already in the object store is skipped (rdps/gdps);
--   * every file is taken from the local disk if there, else from the object store if there,
--     else downloaded from the datamart with a 404 retried every --interval until --deadline
--     (a 404 body is never written; partial downloads resume from their .part file);
--   * rdps/gdps files are read in-process at the points (gf.grib) and the values written as
--     `wgrib2 -lon` lines to cmc_data/summary_V2024/<date>/{P1..P5,T1..T5}_V2024.txt (all
--     files present, else no summary: a partial summary would mark the date done);
--   * GRIB files and summaries are uploaded to OBJ_STORE_BUCKET on OBJ_STORE_HOST (keys whose
--     basename is already under the prefix are skipped).
-- Exit 0 when everything is done, 1 when a file is still missing or a step failed, 2 for bad
-- options or a missing OBJ_STORE_* variable.
local args = require("gf.args")
local log = require("gf.log")
local task = require("gf.task")
local fs = require("gf.fs")
local http = require("gf.http")
local time = require("gf.time")
local host = require("gf.host")
local tz = require("datamart.tz")
local plan = require("grib_copy.plan")
local extract = require("grib_copy.extract")

local opts = args.parse({
  name = "grib_copy", version = "1.0.0", env_prefix = "GF_GRIB_COPY",
  description = "Download the MSC GRIB2 files of a model, extract the point lists, upload to the object store.",
  options = {
    { name = "model", type = "choice", choices = { "rdps", "gdps", "cansips" }, repeatable = true, required = true,
      help = "model(s); rdps and gdps given together share one summary per date, as in the original" },
    { name = "date", type = "string", help = "one date YYYYMMDD (honoured, unlike the original); default: today (America/Vancouver) and the days before" },
    { name = "days", type = "integer", default = 3, help = "how many days back from today when --date is not given" },
    { name = "dry-run", type = "boolean", help = "show what would be downloaded, extracted and uploaded; write nothing" },
    { name = "out", type = "path", default = ".", help = "working directory holding cmc_data/ and raw_data/" },
    { name = "templates", type = "file", help = "models file (default config/grib/models.lua)" },
    { name = "base-url", type = "string", help = "replace every model's base URL (a mirror, or a local server in tests)" },
    { name = "deadline", type = "duration", default = "3h", help = "give up waiting for a file that is not published after this long" },
    { name = "interval", type = "duration", default = "60s", help = "wait between checks of a file not there yet (404)" },
    { name = "concurrency", type = "integer", default = 4, help = "downloads, extractions and uploads in parallel" },
  },
}, ...)

local function fail(msg, code) host.fail(msg, code or 2) end

if opts.days < 1 then fail("--days must be >= 1") end
if opts.concurrency < 1 then fail("--concurrency must be >= 1") end
if opts.date and not tz.valid_date(opts.date) then
  fail(("--date: expected a date YYYYMMDD, got '%s'"):format(opts.date))
end

-- the original's config.py: every script needs the four variables
local store_env = {}
for _, name in ipairs({ "OBJ_STORE_BUCKET", "OBJ_STORE_SECRET", "OBJ_STORE_USER", "OBJ_STORE_HOST" }) do
  local v = os.getenv(name)
  if v == nil or v == "" then
    fail("The process cannot run without populating the environment variable: " .. name)
  end
  store_env[name] = v
end
log.secret(store_env.OBJ_STORE_SECRET)

local cfg, cerr = plan.load(opts.templates)
if not cfg then fail(cerr) end

local models, seen = {}, {}
for _, m in ipairs(opts.model) do
  if not seen[m] then seen[m] = true models[#models + 1] = m end
end

-- the object store (MinIO in the original: host without scheme, TLS by default)
local s3 = require("gf.s3")
local endpoint = store_env.OBJ_STORE_HOST
if not endpoint:match("^https?://") then endpoint = "https://" .. endpoint end
local client = s3.client({ endpoint = endpoint, region = os.getenv("OBJ_STORE_REGION") or "us-east-1",
  credentials = { access_key = store_env.OBJ_STORE_USER, secret_key = store_env.OBJ_STORE_SECRET } })
local bucket = "s3://" .. store_env.OBJ_STORE_BUCKET .. "/"

local listed = {} -- ostore dir -> {basename = true} or nil, err
local function store_names(dir)
  if listed[dir] then return listed[dir] end
  local objs, err = client:list(bucket .. dir .. "/")
  if not objs then
    fail("object store: " .. tostring(err), 1)
  end
  local set = {}
  for _, o in ipairs(objs) do set[o.key:match("[^/]*$")] = true end
  listed[dir] = set
  return set
end

local function out_path(p) return opts.out .. "/" .. p end

local function local_ok(path)
  local st = fs.stat(path)
  return st and st.type == "file" and st.size > 0
end

-- dates
local dates = {}
local now = time.now()
if opts.date then
  dates[1] = opts.date
else
  local today = tz.local_date(now, cfg.timezone or "America/Vancouver", cfg.date_format)
  for i = 0, opts.days - 1 do dates[#dates + 1] = tz.shift_date(today, -i) end
end

local stats = { downloaded = 0, from_store = 0, local_ = 0, skipped_store = 0, missing = 0, failed = 0,
  uploaded = 0, upload_skipped = 0, summaries = 0, dates_skipped = 0 }
local problems = {}
local t0 = time.monotonic()

-- one date: returns the files to fetch and what to do after
local work = {} -- {date, files, extract_models, summary}
for _, date in ipairs(dates) do
  local w = { date = date, files = {}, extract = false }
  for _, m in ipairs(models) do
    local mc = cfg.models[m]
    if not mc then fail(("model '%s' is not in the templates"):format(m)) end
    local files, ferr = plan.files(cfg, m, date, opts.base_url)
    if not files then fail(ferr) end
    if mc.extract then
      w.extract = true
      w.extract_files = w.extract_files or {}
      for _, f in ipairs(files) do w.extract_files[#w.extract_files + 1] = f end
    end
    for _, f in ipairs(files) do
      f.extract = mc.extract
      w.files[#w.files + 1] = f
    end
  end
  if w.extract then
    w.summary = plan.summary(cfg, date)
    local names = store_names(w.summary.ostore_dir)
    if next(names) then
      log.info("summary already in the object store; date skipped", { date = date, prefix = w.summary.ostore_dir })
      stats.dates_skipped = stats.dates_skipped + 1
      -- keep only the models without extraction (cansips) for that date
      local keep = {}
      for _, f in ipairs(w.files) do if not f.extract then keep[#keep + 1] = f end end
      w.files, w.extract, w.extract_files = keep, false, nil
    end
  end
  work[#work + 1] = w
end

-- decide per file: local, from the store, download, or (cansips) already stored
local todo = {}
for _, w in ipairs(work) do
  for _, f in ipairs(w.files) do
    local in_store = store_names(f.ostore_dir)[f.file]
    f.path = out_path(f.local_path)
    if f.extract and local_ok(f.path) then
      f.action = "local"
    elseif in_store then
      f.action = f.extract and "from_store" or "stored"
    elseif local_ok(f.path) then
      f.action = "local"
    else
      f.action = "download"
    end
    todo[#todo + 1] = f
  end
end

if opts.dry_run then
  local counts = {}
  for _, f in ipairs(todo) do
    counts[f.action] = (counts[f.action] or 0) + 1
    if f.action == "download" then io.stdout:write("would download ", f.url, " -> ", f.path, "\n")
    elseif f.action == "from_store" then io.stdout:write("would fetch ", bucket, f.key, " -> ", f.path, "\n") end
  end
  for _, w in ipairs(work) do
    if w.extract then
      io.stdout:write(("would extract %d files at %d point lists into %s\n"):format(#w.extract_files,
        #cfg.point_lists, out_path(w.summary.dir)))
    end
  end
  io.stderr:write(("Dry run: %d dates (%d skipped: summary exists), %d files: %d to download, %d from the object store, %d local, %d already stored; nothing written\n")
    :format(#dates, stats.dates_skipped, #todo, counts.download or 0, counts.from_store or 0, counts["local"] or 0, counts.stored or 0))
  return 0
end

-- downloads
local progress = require("gf.progress").new({ total = #todo, label = "grib files" })
local function fetch(f)
  local ok = true
  if f.action == "local" then
    stats.local_ = stats.local_ + 1
  elseif f.action == "stored" then
    stats.skipped_store = stats.skipped_store + 1
  elseif f.action == "from_store" then
    assert(fs.mkdir_p(f.path:match("^(.*)/")))
    local r, err = client:get(bucket .. f.key, { file = f.path })
    if r then stats.from_store = stats.from_store + 1
    else
      ok = false
      stats.failed = stats.failed + 1
      problems[#problems + 1] = ("%s: %s"):format(f.key, tostring(err))
    end
  else
    assert(fs.mkdir_p(f.path:match("^(.*)/")))
    local res, err = http.request({ url = f.url, output_file = f.path, resume = true,
      until_exists = { deadline = opts.deadline, interval = opts.interval },
      retry = { attempts = 8, deadline = opts.deadline }, idle_timeout = 120 })
    if res and res.status >= 200 and res.status < 300 then
      stats.downloaded = stats.downloaded + 1
    elseif res and res.status == 404 then
      ok = false
      stats.missing = stats.missing + 1
      problems[#problems + 1] = ("%s: still 404 after %s"):format(f.url, time.format_duration(opts.deadline))
    else
      ok = false
      stats.failed = stats.failed + 1
      problems[#problems + 1] = ("%s: %s"):format(f.url, res and ("HTTP " .. res.status) or tostring(err))
    end
  end
  f.ok = ok and (f.action ~= "stored")
  progress:tick(1, { failed = not ok })
end
local _, errs = task.map(todo, fetch, { concurrency = opts.concurrency })
for _, e in ipairs(errs) do
  stats.failed = stats.failed + 1
  problems[#problems + 1] = tostring(e.error)
end
progress:finish()

-- extraction and summaries
for _, w in ipairs(work) do
  if w.extract then
    local missing = 0
    for _, f in ipairs(w.extract_files) do if not f.ok then missing = missing + 1 end end
    if missing > 0 then
      log.warn("summary not written: files missing", { date = w.date, missing = missing })
      w.summary_written = false
    else
      local results = {}
      local ex_progress = require("gf.progress").new({ total = #w.extract_files, label = "extract " .. w.date })
      local _, xerrs = task.map(w.extract_files, function(f, i)
        local r, err = extract.file(f.path, cfg.point_lists)
        if not r then error(err, 0) end
        results[i] = r
        ex_progress:tick()
      end, { concurrency = opts.concurrency })
      ex_progress:finish()
      if #xerrs > 0 then
        for _, e in ipairs(xerrs) do
          stats.failed = stats.failed + 1
          problems[#problems + 1] = ("extract %s: %s"):format(w.extract_files[e.index].path, tostring(e.error))
        end
      else
        local texts = {}
        for i, f in ipairs(w.extract_files) do
          for k, text in ipairs(results[i]) do
            local key = f.code .. k
            texts[key] = texts[key] or {}
            table.insert(texts[key], text)
          end
        end
        local dir = out_path(w.summary.dir)
        assert(fs.mkdir_p(dir))
        for _, key in ipairs(w.summary.keys) do
          if texts[key] then
            assert(fs.write_atomic(dir .. "/" .. w.summary.names[key], table.concat(texts[key])))
          end
        end
        stats.summaries = stats.summaries + 1
        w.summary_written = true
      end
    end
  end
end

-- uploads: GRIB files, then the summaries (a summary in the store marks the date done)
local uploads = {}
for _, f in ipairs(todo) do
  if f.ok and (f.action == "download" or f.action == "local") then
    if store_names(f.ostore_dir)[f.file] then stats.upload_skipped = stats.upload_skipped + 1
    else uploads[#uploads + 1] = { path = f.path, dir = f.ostore_dir, name = f.file } end
  end
end
local function upload(u)
  local r, err = client:put(bucket .. u.dir .. "/" .. u.name, nil, { file = u.path })
  if r then
    stats.uploaded = stats.uploaded + 1
    listed[u.dir][u.name] = true
  else
    stats.failed = stats.failed + 1
    problems[#problems + 1] = ("upload %s: %s"):format(u.path, tostring(err))
  end
end
task.map(uploads, upload, { concurrency = opts.concurrency })
local sums = {}
for _, w in ipairs(work) do
  if w.summary_written then
    local names = store_names(w.summary.ostore_dir)
    for _, key in ipairs(w.summary.keys) do
      local name = w.summary.names[key]
      local p = out_path(w.summary.dir) .. "/" .. name
      if names[name] then stats.upload_skipped = stats.upload_skipped + 1
      elseif fs.exists(p) then sums[#sums + 1] = { path = p, dir = w.summary.ostore_dir, name = name } end
    end
  end
end
task.map(sums, upload, { concurrency = opts.concurrency })

local secs = time.monotonic() - t0
io.stderr:write(table.concat({
  ("grib_copy %s for %s in %.1f s"):format(table.concat(models, "+"), table.concat(dates, ", "), secs),
  ("  files: %d downloaded, %d from the object store, %d already local, %d already stored, %d missing, %d failed")
    :format(stats.downloaded, stats.from_store, stats.local_, stats.skipped_store, stats.missing, stats.failed),
  ("  summaries written: %d; dates skipped (summary exists): %d"):format(stats.summaries, stats.dates_skipped),
  ("  uploaded: %d; already in the object store: %d"):format(stats.uploaded, stats.upload_skipped),
}, "\n"), "\n")
for _, p in ipairs(problems) do log.error(p) end
if stats.missing > 0 or stats.failed > 0 then
  host.fail(("grib_copy: %d files missing, %d failures"):format(stats.missing, stats.failed), 1)
end
return 0
