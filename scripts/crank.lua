--- crank: CSV triggers -> Cloud-Optimized GeoTIFF + JPEG per image, with processed/failed reports (cron or HTCondor)
--
--   gfhost run crank --input s3://in-bucket --output s3://out-bucket -p '*raw.csv' [-a AKF -s SKF -e HOST]
--   gfhost run crank --input ./in --output ./out                       local directories
--   gfhost run crank ... --dry-run                                     what it would claim and write
--   gfhost run crank ... --crondor-submit crondor.sub                  HTCondor crondor description
--   gfhost run crank ... --dag DIR                                     claim now, DAGMan files to run
--   gfhost run crank ... --executor sqs --queue URL                    images on gfhost workers
--
-- One run (docs/crank.md): take the cron lock of the input (another live run on the same input:
-- exit 0, nothing done); resume runs that died with claimed triggers once their claims are
-- older than --stale; then run workflows/crank.lua, which claims every trigger matching the
-- pattern (a conditional claim record in gf.state keyed by the trigger's key, ETag and time,
-- then the rename <x>raw.csv -> <x>processing-<TS>.csv), converts every listed image (one
-- node each: download, COG LZW, layout check, JPEG q75, upload, 3 retries) and writes
-- <x>processed-<TS>.csv / <x>failed-<TS>.csv (CRLF) beside each trigger, then removes the
-- processing file. Exit 0 when every row was converted, 1 when any failed (after the reports),
-- 2 for bad options.
local args = require("gf.args")
local host = require("gf.host")
local fs = require("gf.fs")
local log = require("gf.log")
local task = require("gf.task")
local triggers = require("crank.triggers")
local claims = require("crank.claims")
local credentials = require("crank.credentials")
local location = require("crank.location")

local function cores()
  local n = tonumber(os.getenv("GFHOST_WORKERS") or "")
  if n and n >= 1 then return math.floor(n) end
  local text = fs.read("/proc/cpuinfo") or ""
  local c = 0
  for _ in text:gmatch("\nprocessor%s*:") do c = c + 1 end
  if text:match("^processor%s*:") then c = c + 1 end
  return math.max(c, 1)
end

local opts = args.parse({
  name = "crank", version = "1.0.0",
  description = "Claim CSV triggers in the input and convert every listed GeoTIFF into a COG and a JPEG in the output.",
  options = {
    { name = "input", required = true, help = "s3://bucket[/prefix], file:///dir or a directory with the *raw.csv triggers and images" },
    { name = "output", required = true, help = "s3://bucket[/prefix] or a directory for the COGs and JPEGs" },
    { name = "pattern", short = "p", default = "*raw.csv", help = "fnmatch on the whole key (* crosses /)" },
    { name = "access-key-file", short = "a", type = "path", help = "file holding the S3 access key (with -s and -e)" },
    { name = "secret-key-file", short = "s", type = "path", help = "file holding the S3 secret key (with -a and -e)" },
    { name = "endpoint", short = "e", help = "S3 host (https) or an http(s):// URL (with -a and -s)" },
    { name = "state", help = "claim and node records: SQLite file or dynamodb://TABLE[?...] (default $GFHOST_STATE or .gfhost/state.db)" },
    { name = "stale", type = "duration", default = "30m", help = "a claim not renewed for this long belongs to a dead run and is adopted" },
    { name = "concurrency", type = "integer", help = "images in flight (default: 2 x cores)" },
    { name = "executor", type = "choice", choices = { "local", "sqs" }, default = "local", help = "local: here; sqs: nodes for gfhost worker" },
    { name = "queue", help = "SQS queue URL (--executor sqs)" },
    { name = "poll", type = "number", default = 0.5, help = "seconds between state polls (--executor sqs)" },
    { name = "endpoint-url", env = "AWS_ENDPOINT_URL_SQS", help = "SQS endpoint (--executor sqs)" },
    { name = "region", env = "AWS_DEFAULT_REGION", help = "AWS region (SQS)" },
    { name = "dag", type = "path", help = "claim now and write HTCondor DAGMan files to this directory instead of running" },
    { name = "crondor-submit", type = "path", help = "write the crondor submit description to this file and exit" },
    { name = "lock-dir", type = "path", help = "where the cron lock files live (default $XDG_RUNTIME_DIR or /tmp)" },
    { name = "dry-run", type = "boolean", help = "print the triggers, images and keys it would write; touch nothing" },
  },
}, ...)

local function fail(msg, code) host.fail(msg, code or 2) end

for _, name in ipairs({ "input", "output" }) do
  local ok, msg = location.parse(opts[name])
  if not ok then fail(("--%s: %s"):format(name, msg)) end
end
if opts.stale <= 0 then fail("--stale must be positive") end
if opts.concurrency and opts.concurrency < 1 then fail("--concurrency must be at least 1") end
if opts.executor == "sqs" and not opts.queue then fail("--executor sqs needs --queue URL") end
if opts.dag and opts.executor ~= "local" then fail("--dag and --executor sqs exclude each other") end

local s3opts, how = credentials.resolve(opts)
if not s3opts then fail(how) end

local function absolute(path)
  if path:sub(1, 1) == "/" or path:match("^%a[%w+.-]*://") then return path end
  return (os.getenv("PWD") or ".") .. "/" .. path
end

local state_spec = absolute(opts.state or require("gf.flow.cli").default_state_path())

local function abs_location(url)
  local p = location.parse(url)
  if p.kind == "dir" then return absolute(p.path) end
  return url
end

-- Parameters of the workflow (strings): the same for every executor.
local owner = ("%s:%d:%s"):format((fs.read("/proc/sys/kernel/hostname") or "host"):gsub("%s+$", ""),
  host.pid(), fs.sha256_string(tostring(os.time()) .. tostring({}) .. host.pid()):sub(1, 8))
local params = {
  input = abs_location(opts.input), output = abs_location(opts.output), pattern = opts.pattern,
  state = state_spec, owner = owner, stale = tostring(math.floor(opts.stale)),
}
credentials.to_params({
  access_key_file = opts.access_key_file and absolute(opts.access_key_file),
  secret_key_file = opts.secret_key_file and absolute(opts.secret_key_file),
  endpoint = opts.endpoint,
}, params)

-- {====== crondor submit description (§2.2) ======

local function crondor_text()
  local argv = { "run", "crank", "--input", params.input, "--output", params.output,
    "--pattern", opts.pattern, "--state", state_spec, "--stale", tostring(math.floor(opts.stale)) }
  for _, k in ipairs({ "access_key_file", "secret_key_file", "endpoint" }) do
    if params[k] then
      argv[#argv + 1] = "--" .. k:gsub("_", "-")
      argv[#argv + 1] = params[k]
    end
  end
  local quoted = {}
  for i, a in ipairs(argv) do
    quoted[i] = a:match("^[%w_./:=,@%-]+$") and a or ("'" .. a:gsub("'", "''"):gsub('"', '""') .. "'")
  end
  return table.concat({
    "# crondor: gfhost crank every 15 minutes (written by gfhost run crank --crondor-submit)",
    "universe = local",
    "executable = " .. host.exe(),
    ('arguments = "%s"'):format(table.concat(quoted, " ")),
    "request_disk = 512MB",
    "request_memory = 512",
    "request_cpus = 1",
    "log = crondor_$(CLUSTER).log",
    "output = crondor_$(CLUSTER).out",
    "error = crondor_$(CLUSTER).err",
    'cron_minute = */15',
    "cron_hour = *",
    "cron_day_of_month = *",
    "cron_month = *",
    "cron_day_of_week = *",
    "on_exit_remove = false",
    "getenv = true",
    ('+JobBatchName = "COG-Pipeline-Crondor-%s"'):format(opts.pattern:gsub('"', '""')),
    "queue",
    "",
  }, "\n")
end

if opts.crondor_submit then
  local ok, msg = fs.write_atomic(opts.crondor_submit, crondor_text())
  if not ok then host.fail(msg, 1) end
  io.stdout:write(("crank: crondor submit description written to %s (condor_submit %s)\n"):format(
    opts.crondor_submit, opts.crondor_submit))
  return 0
end

-- }======

local input = assert(location.open(params.input, s3opts))
local output = assert(location.open(params.output, s3opts))

-- {====== dry run ======

if opts.dry_run then
  local objs, msg, code = input:list()
  if not objs then host.fail(("list %s: %s (%s)"):format(opts.input, tostring(msg), tostring(code)), 1) end
  local ts = triggers.timestamp(os.time())
  local out = io.stdout
  local n_trig, n_img, n_bad = 0, 0, 0
  for _, o in ipairs(objs) do
    local raw = triggers.raw_key_of(o.key)
    local pk, how_
    if raw and triggers.matches(opts.pattern, raw) then
      pk, how_ = o.key, "adopt if its claim is stale"
    elseif not raw and triggers.matches(opts.pattern, o.key) then
      pk, how_ = triggers.processing_key(o.key, ts), "claim"
      if not pk then out:write(("skip   %s (does not end in raw.csv)\n"):format(input:url(o.key))) end
    end
    if pk then
      n_trig = n_trig + 1
      out:write(("%s  %s -> %s\n"):format(how_, input:url(o.key), input:url(pk)))
      local text = input:read(o.key)
      local rows, malformed = triggers.parse(text or "", raw or o.key)
      for _, r in ipairs(rows) do
        n_img = n_img + 1
        out:write(("  image  %s -> %s + %s\n"):format(input:url(r.tif), output:url(r.cog), output:url(r.jpg)))
      end
      for _, m in ipairs(malformed) do
        n_bad = n_bad + 1
        out:write(("  bad    %s\n"):format(m.error))
      end
      out:write(("  report %s / %s (when not empty)\n"):format(input:url(triggers.report_key(pk, "processed")),
        input:url(triggers.report_key(pk, "failed"))))
    end
  end
  out:write(("crank --dry-run: %d triggers, %d images, %d malformed rows; nothing written\n"):format(
    n_trig, n_img, n_bad))
  return 0
end

-- }======

-- {====== the cron lock ======

local lock_dir = opts.lock_dir or os.getenv("XDG_RUNTIME_DIR")
if not lock_dir or lock_dir == "" then lock_dir = "/tmp" end
local lock_path = ("%s/gfhost-crank-%s.lock"):format(lock_dir, fs.sha256_string(params.input):sub(1, 16))
local lock, lmsg, lcode = fs.lock(lock_path)
if not lock then
  if lcode == "conflict" then
    io.stdout:write(("crank: another run is live on %s (lock %s); nothing to do\n"):format(opts.input, lock_path))
    return 0
  end
  host.fail(lmsg, 1)
end

-- }======

local flow = require("gf.flow")
local runner = require("gf.flow.runner")
local wf = assert(flow.load("crank"))
local store = require("gf.flow.cli").open_store(state_spec)
local ns = claims.namespace(params.input)

-- Adopt what dead runs left in processing: resume their runs (completed images are reused).
local runs, order = {}, {}
local function add_run(id)
  if not runs[id] then runs[id] = true; order[#order + 1] = id end
end
do
  local objs, msg, code = input:list()
  if not objs then host.fail(("list %s: %s (%s)"):format(opts.input, tostring(msg), tostring(code)), 1) end
  local now = require("gf.time").now()
  for _, o in ipairs(objs) do
    local raw = triggers.raw_key_of(o.key)
    if raw and triggers.matches(opts.pattern, raw) then
      local rec = claims.lookup(store, ns, o.key)
      if rec and rec.claim then
        local won, why = claims.claim(store, ns, rec.claim, owner, opts.stale)
        if won then
          log.warn("crank: adopting a dead run's trigger", { trigger = o.key, run = rec.run })
          add_run(rec.run)
        else
          log.info("crank: processing file held by a live run", { trigger = o.key, why = why })
        end
      else
        -- Claimed through another state (or none): adopted once it is older than --stale.
        local age = type(o.mtime) == "number" and now - o.mtime
          or (now - (require("gf.time").parse_iso8601 and require("gf.time").parse_iso8601(o.mtime) or now))
        if age >= opts.stale then
          local node = claims.node_of(o.key, tostring(o.etag) .. "#" .. tostring(o.mtime))
          local won = claims.claim(store, ns, node, owner, opts.stale)
          if won then
            local run = "crank-adopt-" .. fs.sha256_string(node):sub(1, 12)
            claims.index(store, ns, o.key, { claim = node, run = run, raw = raw })
            log.warn("crank: adopting an unknown processing file", { trigger = o.key, run = run })
            add_run(run)
          end
        end
      end
    end
  end
end
local new_run = ("crank-%s-%s"):format(triggers.timestamp(os.time()), owner:match("([^:]+)$"))
add_run(new_run)

-- Keep this process's claims alive while it runs.
local done = false
local beat = task.spawn(function()
  while not done do
    task.sleep(math.max(opts.stale / 3, 0.2))
    if done then break end
    for _, id in ipairs(order) do
      local rec = store:get_node(id, "claim")
      if rec and rec.status == "completed" and type(rec.output) == "table" then
        for _, t in ipairs(rec.output.triggers or {}) do
          if t.claim then claims.renew(store, ns, t.claim, owner, opts.stale) end
        end
      end
    end
  end
end)

local meter = require("crank.meter")
local totals = { runs = 0 }
local exit = 0

local function run_all()
  for _, id in ipairs(order) do
    local summary
    if opts.dag then
      local dir = opts.dag .. "/" .. id
      local path, n = require("gf.flow.dag").write(wf, { out = dir, run_id = id, params = params,
        state = state_spec, gfhost = host.exe(), store = store })
      if not path then host.fail(n, 1) end
      local rec = store:get_node(id, "claim")
      local claimed = rec and rec.output or {}
      io.stdout:write(("crank: %s: %d triggers, %d images, %d nodes (condor_submit_dag %s)\n"):format(
        id, #(claimed.triggers or {}), #(claimed.images or {}), n, path))
    else
      meter.start(0)
      local reused = 0 -- images a previous attempt of this run completed
      for _, rec in ipairs(store:list_nodes(id) or {}) do
        if rec.node:match("^image%[") and rec.status == "completed" then reused = reused + 1 end
      end
      if opts.executor == "sqs" then
        summary = require("gf.flow.coordinator").run(wf, { params = params, run_id = id, store = store,
          client = require("gf.sqs").client({ endpoint = opts.endpoint_url, region = opts.region }),
          queue = opts.queue, poll = opts.poll, workflow_ref = "crank" })
      else
        summary = runner.run(wf, { params = params, run_id = id, store = store, progress = false,
          concurrency = opts.concurrency or 2 * cores() })
      end
      local m = meter.finish()
      local rec = store:get_node(id, "claim")
      local claimed = rec and rec.status == "completed" and rec.output or { triggers = {}, images = {} }
      local final = store:get_node(id, "report")
      local rep = final and final.output
      local rows_bad = 0
      for _, t in ipairs(claimed.triggers or {}) do rows_bad = rows_bad + #(t.malformed or {}) end
      local img_failed = 0
      for node, r in pairs(summary.nodes) do
        if node:match("^image%[") and r.status == "failed" then img_failed = img_failed + 1 end
      end
      if #(claimed.triggers or {}) > 0 or not summary.ok then
        totals.runs = totals.runs + 1
        io.stdout:write(("crank: run %s: %d triggers, %d images: %d converted (%d reused), %d failed, %d malformed rows%s\n"):format(
          id, #(claimed.triggers or {}), #(claimed.images or {}), #(claimed.images or {}) - img_failed,
          reused, img_failed, rows_bad,
          m and m.mb_rate and (", %.1f MB/s"):format(m.mb_rate) or ""))
        local claim_rec = summary.nodes.claim
        if claim_rec and claim_rec.status ~= "completed" then
          io.stdout:write("crank: claim failed: ", tostring(claim_rec.error), "\n")
        end
        if final and final.status == "failed" then io.stdout:write("crank: ", tostring(final.error), "\n") end
        if rep and type(rep) == "table" then
          for _, r in ipairs(rep.reports or {}) do io.stdout:write("crank: report ", r, "\n") end
        end
      end
      for _, b in ipairs(summary.bugs) do io.stderr:write("gfhost: ", b, "\n") end
      if not summary.ok then exit = 1 end
      if task.interrupted() then exit = 130 break end
    end
  end
end

-- Whatever happens, stop renewing the claims before the process ends.
local ok, err = pcall(run_all)
done = true
task.cancel(beat)
pcall(task.wait, beat)
if not ok then error(err, 0) end
store:close()
if not opts.dag and totals.runs == 0 then
  io.stdout:write(("crank: no triggers matching %s in %s\n"):format(opts.pattern, opts.input))
end
lock:unlock()
return exit
