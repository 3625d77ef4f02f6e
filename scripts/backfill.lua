--- backfill: the PO.DAAC HiTIDE backfill tool as a gfhost script.
--
--   gfhost run backfill --cmr uat --collection MODIS_A-JPL-L2P-v2019.0 --provider pocloud \
--     --footprint on --image on --dmrpp off --cumulus uat --cumulus-configurations DIR \
--     --default_message_config FILE --message_file out.txt [--sns-arn ARN] [--preview]
--
-- Searches CMR (granules.umm_json, CMR-Search-After paging, pages fetched ahead), decides per
-- granule with config/backfill/rules.lua (require "backfill.rules"; --rules FILE for another
-- file), builds one Cumulus message per need (backfill.message) and hands each to one writer task
-- that appends it to --message-file (or stdout) and publishes it to SNS in batches of 10
-- (--sns-concurrency publish-batch calls in flight, 8 by default).
-- --message-limit N sends exactly N. At the end: the monthly table, the counts and the first 100
-- concept ids per need on stderr. Exit 2 for bad options, 1 when any granule or message failed.
-- Options are those of the original (source-systems §1.2) plus --cmr-url, --forge-tig-configs,
-- --rules, --sns-concurrency, --aws-endpoint-url and --region. Precedence: command line > environment > --config
-- YAML > defaults; an explicit --page-limit 0 (or false: unlimited) wins over the config.
local host = require("gf.host")
local args = require("gf.args")
local fs = require("gf.fs")
local http = require("gf.http")
local json = require("gf.json")
local log = require("gf.log")
local task = require("gf.task")
local cmr = require("backfill.cmr")
local message = require("backfill.message")
local granule = require("backfill.granule")

local VERSION = "1.0.0"

local function fail(msg, code, summary)
  host.fail(msg, code or 2, { summary = summary })
end

-- Two-letter short options of the original (-sd, -ed).
local argv = { ... }
for i, a in ipairs(argv) do
  if a == "-sd" then argv[i] = "--start-date" elseif a == "-ed" then argv[i] = "--end-date" end
end

local MODES = { off = true, on = true, force = true }
local opts, info = args.parse({
  name = "backfill", version = VERSION,
  description = "Search CMR for a collection's granules and send a Cumulus message per missing footprint, image or DMR++.",
  options = {
    { name = "config", type = "file", config = true, help = "YAML file of option values" },
    { name = "cmr", type = "string", help = "ops | uat | sit" },
    { name = "cmr-url", type = "string", help = "any CMR base URL (wins over --cmr)" },
    { name = "collection", short = "c", type = "string", help = "CMR short name" },
    { name = "provider", type = "string", help = "CMR provider" },
    { name = "start-date", type = "string", help = "temporal start (also -sd)" },
    { name = "end-date", type = "string", help = "temporal end (also -ed)" },
    { name = "page-size", type = "integer", default = 2000 },
    { name = "page-limit", type = "string", help = "pages to fetch; 0 or false: unlimited" },
    { name = "edl-token", type = "string", secret = true },
    { name = "launchpad-token", type = "string", secret = true },
    { name = "cmr-search-after", type = "string", help = "resume from a CMR-Search-After value" },
    { name = "granule-list-file", type = "file", help = "GranuleURs or concept ids, one a line" },
    { name = "geometry", short = "g", type = "string", repeatable = true, help = "footprint geometry key (default GPolygons, Lines)" },
    { name = "footprint", type = "string", help = "off | on | force" },
    { name = "image", type = "string", help = "off | on | force" },
    { name = "dmrpp", type = "string", help = "off | on | force" },
    { name = "dmrpp-min-version", type = "string", default = "3.21.1-367" },
    { name = "use-data-url", type = "boolean" },
    { name = "cumulus", type = "choice", choices = { "ops", "uat", "sit", "swot-sit", "swot-uat", "swot-ops" } },
    { name = "cumulus-configurations", type = "path" },
    { name = "default-message-config", type = "path" },
    { name = "preview", type = "boolean" },
    { name = "sns-arn", type = "string" },
    { name = "sns-concurrency", type = "integer", default = 8, help = "SNS publish-batch calls in flight" },
    { name = "aws-profile", type = "string" },
    { name = "region", type = "string", env = "AWS_DEFAULT_REGION", default = "us-west-2" },
    { name = "aws-endpoint-url", type = "string", env = "AWS_ENDPOINT_URL", hidden = true },
    { name = "message-file", type = "string", help = "path, or stdout" },
    { name = "message-limit", type = "integer" },
    { name = "user", type = "string" },
    { name = "log-file", type = "path" },
    { name = "log-level", type = "choice", choices = { "debug", "info", "warn", "error", "DEBUG", "INFO", "WARNING", "WARN", "ERROR" } },
    { name = "cycles", type = "string", help = "a number or a list: [1,2]" },
    { name = "sort-order", type = "choice", choices = { "ascending", "descending" }, default = "ascending" },
    { name = "forge-tig-configs", type = "string", default = "https://hitide.podaac.earthdatacloud.nasa.gov/dataset-configs", help = "directory or URL of <collection>.cfg files" },
    { name = "rules", type = "file", help = "rules file (default config/backfill/rules.lua)" },
    { name = "concurrency", type = "integer", default = 32, help = "DMR++ reads and granule lookups in flight" },
  },
}, argv)

-- logging
if opts.log_level then
  local lv = opts.log_level:lower()
  log.configure({ level = (lv == "warning") and "warn" or lv })
end
if opts.log_file then
  local lf = assert(io.open(opts.log_file, "a"))
  log.configure({ sink = function(line) lf:write(line, "\n") lf:flush() end })
end

-- {{{ validation (order of the original's verify_inputs)
for _, k in ipairs({ "image", "footprint", "dmrpp" }) do
  local v = opts[k]
  if v ~= nil then v = v:lower() opts[k] = v end
  if not MODES[v] then fail(("Error: Please specify --%s.  Must be either 'off', 'on', or 'force'"):format(k)) end
end
if opts.footprint == "off" and opts.image == "off" and opts.dmrpp == "off" then
  fail("Error: At least one of --image, --footprint, or --dmrpp must be 'on' or 'force'")
end
if not opts.collection then fail("Error: Please specify --collection") end
if not opts.preview then
  if not opts.default_message_config then fail("Error: --default_message_config is required unless --preview") end
  if not opts.cumulus_configurations then fail("Error: --cumulus-configurations is required unless --preview") end
  if not opts.cumulus then fail("Error: --cumulus is required unless --preview") end
end

local page_limit
do
  local v = opts.page_limit
  if v ~= nil and v ~= "false" and v ~= "none" and v ~= "None" then
    local n = math.tointeger(tonumber(v))
    if not n or n < 0 then fail(("Error: --page-limit must be a whole number >= 0 or false, got '%s'"):format(v)) end
    if n > 0 then page_limit = n end
  end
end
local min_version = require("backfill.granule").parse_version(opts.dmrpp_min_version)
if not min_version then fail(("Error: --dmrpp-min-version must look like X.Y.Z-B, got '%s'"):format(opts.dmrpp_min_version)) end
local cycles
if opts.cycles then
  local c, msg = cmr.parse_cycles(opts.cycles)
  if not c then fail("Error: " .. msg) end
  cycles = c
end
if opts.message_limit and opts.message_limit < 0 then fail("Error: --message-limit must be >= 0") end
if opts.sns_concurrency < 1 then fail(("Error: --sns-concurrency must be at least 1, got %d"):format(opts.sns_concurrency)) end
local geometries = opts.geometry
if info.sources.geometry == nil or #geometries == 0 then
  local fromcfg = info.config and info.config.geometries
  geometries = type(fromcfg) == "table" and fromcfg or { "GPolygons", "Lines" }
end
local base, berr = cmr.base_url(opts.cmr_url or opts.cmr or "ops")
if not base then fail("Error: " .. berr) end

-- forge-tig configuration (read even in preview, as the original)
local function forge_tig_config(name)
  local src = opts.forge_tig_configs
  local text
  if src:match("^https?://") then
    local res, msg = http.get(src:gsub("/+$", "") .. "/" .. http.url_encode(name) .. ".cfg", { timeout = 120 })
    if not res then return nil, msg end
    if res.status ~= 200 then return nil, ("status %d"):format(res.status) end
    text = res.body
  else
    local t, msg = fs.read(src .. "/" .. name .. ".cfg")
    if not t then return nil, msg end
    text = t
  end
  return json.decode(text)
end
if opts.footprint ~= "off" or opts.image ~= "off" then
  local ftc = forge_tig_config(opts.collection) or {}
  if opts.footprint ~= "off" and not (ftc.footprint and ftc.footprint ~= json.null) then
    fail("Error: There is no footprint setting for this collection, please disable footprint for backfilling")
  end
  if opts.image ~= "off" and not (ftc.imgVariables and ftc.imgVariables ~= json.null) then
    fail("Error: There is no imgVariables setting for this collection, please disable image for backfilling")
  end
end

local builder, collection_config
if not opts.preview then
  local text, msg = fs.read(opts.default_message_config)
  if not text then fail("Error: " .. msg) end
  local mc, jerr = json.decode(text)
  if not mc then fail(("Error: message config %s: %s"):format(opts.default_message_config, jerr)) end
  local ccp, cerr = message.find_collection_config(opts.cumulus_configurations, opts.cumulus, opts.collection)
  if not ccp then fail("Error: " .. cerr) end
  local cc, ccerr = json.decode(assert(fs.read(ccp)))
  if not cc then fail(("Error: collection config %s: %s"):format(ccp, ccerr)) end
  collection_config = cc
  local b, bmsg = message.builder({ message_config = mc, cumulus = opts.cumulus, collection_config = cc,
    collection = opts.collection, provider = opts.provider, start_date = opts.start_date,
    end_date = opts.end_date, user = opts.user })
  if not b then fail("Error: " .. bmsg) end
  builder = b
end
if opts.dmrpp ~= "off" and not opts.preview then
  if not (opts.message_file or opts.sns_arn) then
    fail("Error: --dmrpp needs a message writer: give --message-file or --sns-arn")
  end
  local ok = false
  for _, f in ipairs(type(collection_config.files) == "table" and collection_config.files or {}) do
    if type(f.regex) == "string" and f.regex:sub(-7) == ".dmrpp$" then ok = true end
  end
  if not ok then fail("Error: the collection config has no file regex ending in .dmrpp$, please disable dmrpp for backfilling") end
end
-- }}}

local rules
if opts.rules then
  rules = assert(dofile(opts.rules))
else
  rules = require("backfill.rules")
end
local settings = { footprint = opts.footprint, image = opts.image, dmrpp = opts.dmrpp,
  geometries = geometries, use_data_url = opts.use_data_url, dmrpp_min_version = min_version }
local headers = cmr.headers({ edl_token = opts.edl_token, launchpad_token = opts.launchpad_token })

-- {{{ S3 reader for DMR++ versions (only with --dmrpp on)
local ctx = {}
if opts.dmrpp == "on" then
  local s3client
  ctx.read_dmrpp = function(bucket, key)
    if not s3client then
      s3client = require("gf.s3").client({ region = opts.region, profile = opts.aws_profile,
        endpoint = opts.aws_endpoint_url })
    end
    local ok, body, err, code = pcall(s3client.get, s3client, "s3://" .. bucket .. "/" .. key,
      { range = "bytes=0-16383" })
    if not ok then return nil, tostring(body) end
    if body == nil then return nil, err, code end
    return body
  end
end
-- }}}

-- {{{ the writer task: the only place messages are written or published
local writer_ch, writer, sent, send_failed = nil, nil, 0, 0
local out_handle, sns, sns_topic
if not opts.preview then
  if opts.message_file == "stdout" or opts.message_file == "-" then
    out_handle = io.stdout
  elseif opts.message_file then
    local h, msg = io.open(opts.message_file, "a")
    if not h then fail("Error: " .. msg) end
    h:setvbuf("full", 1 << 16)
    out_handle = h
  end
  if opts.sns_arn then
    sns = require("gf.sns").client({ region = opts.region, profile = opts.aws_profile,
      endpoint = opts.aws_endpoint_url })
    local ok, msg = sns:validate_topic(opts.sns_arn)
    if not ok then fail("Error: SnsMessageSender given invalid topic_arn: " .. tostring(msg)) end
    sns_topic = opts.sns_arn
  end
  writer_ch = task.channel(256)
  writer = task.spawn(function()
    -- Batches of 10 are published by opts.sns_concurrency publisher tasks at once (the order
    -- of messages on a topic carries no meaning); the writer waits for all of them at the end.
    local batch, batches, publishers = {}, nil, {}
    local function publish(entries)
      local ok, res, msg = pcall(sns.publish_batch, sns, sns_topic, entries)
      if not ok or not res then
        log.error("SNS publish failed", { error = tostring(ok and msg or res), messages = #entries })
        send_failed = send_failed + #entries
      else
        send_failed = send_failed + #res.failed
        for _, f in ipairs(res.failed) do log.error("SNS publish failed", { code = f.code, error = f.message }) end
      end
    end
    if sns then
      batches = task.channel(opts.sns_concurrency)
      for i = 1, opts.sns_concurrency do
        publishers[i] = task.spawn(function()
          for entries in batches.recv, batches do publish(entries) end
        end)
      end
    end
    local function flush_sns()
      if #batch == 0 then return end
      batches:send(batch)
      batch = {}
    end
    local function drain_publishers()
      batches:close()
      for _, t in ipairs(publishers) do
        local ok, err = task.wait(t)
        if not ok then error(err, 0) end
      end
    end
    while true do
      local m = writer_ch:recv()
      if m == nil then break end
      if out_handle then out_handle:write("\n", m, "\n") end
      if sns then
        batch[#batch + 1] = m
        if #batch == 10 then flush_sns() end
      end
      sent = sent + 1
    end
    if sns then flush_sns() drain_publishers() end
    if out_handle then out_handle:flush() if out_handle ~= io.stdout then out_handle:close() end end
  end)
end
-- }}}

-- {{{ statistics
local months, month_order = {}, {}
local counts = { granules = 0, footprint = 0, image = 0, dmrpp = 0, both = 0, failed = 0, messages = 0 }
local first = { footprint = {}, image = {}, dmrpp = {} }
local function month(g)
  local s = granule.dates(g)
  local key = s and s:sub(1, 7) or "unknown"
  local m = months[key]
  if not m then
    m = { granules = 0, image = 0, footprint = 0, both = 0, dmrpp = 0 }
    months[key] = m
    month_order[#month_order + 1] = key
  end
  return m
end
-- }}}

local progress = require("gf.progress").new({ label = "granules" })
local limit = opts.message_limit
local stopped = false

-- Handle one granule's decision: count, build and queue its messages. Returns false at the limit.
local function handle(g, d)
  local m = month(g)
  counts.granules = counts.granules + 1
  m.granules = m.granules + 1
  if d.footprint_and_bbox then counts.both = counts.both + 1 m.both = m.both + 1 end
  local cid = type(g.meta) == "table" and g.meta["concept-id"] or "?"
  for _, e in ipairs(d.errors) do
    counts.failed = counts.failed + 1
    log.warn("granule could not be processed", { concept_id = cid, need = e.need, error = e.message })
  end
  local gs, ge = granule.dates(g)
  for _, need in ipairs(d.needs) do
    if limit and counts.messages >= limit then return false end
    counts[need] = counts[need] + 1
    m[need] = m[need] + 1
    local f = first[need]
    if #f < 100 then f[#f + 1] = cid end
    counts.messages = counts.messages + 1
    if writer_ch then
      writer_ch:send(builder:build(g, need, d.s3, { size = granule.size(g, d.s3.filename),
        skip_opendap = d.skip_opendap[need], granule_start = gs, granule_end = ge }))
    end
  end
  progress:tick(1, { failed = #d.errors > 0 })
  return not (limit and counts.messages >= limit)
end

local function process_list(items)
  local decisions
  if ctx.read_dmrpp then
    decisions = task.map(items, function(g) return rules.decide(g, settings, ctx) end,
      { concurrency = opts.concurrency })
  end
  for i, g in ipairs(items) do
    local d = decisions and decisions[i] or (not decisions and rules.decide(g, settings, ctx))
    if not d then
      counts.failed = counts.failed + 1
      log.warn("granule could not be processed", { index = i })
    elseif not handle(g, d) then
      return false
    end
  end
  return true
end

local cmr_failed = false
if limit == 0 then stopped = true end
if not stopped and opts.granule_list_file then
  local items = {}
  for line in io.lines(opts.granule_list_file) do
    line = line:match("^%s*(.-)%s*$")
    if line ~= "" and not line:match("^#") then items[#items + 1] = line end
  end
  progress:set_total(#items)
  local found, fails = task.map(items, function(item)
    local g, msg = cmr.lookup(base, item, { provider = opts.provider, collection = opts.collection, headers = headers })
    if not g then error(msg, 0) end
    return g
  end, { concurrency = opts.concurrency })
  for _, f in ipairs(fails) do
    counts.failed = counts.failed + 1
    log.error("granule lookup failed", { item = f.item, error = tostring(f.error) })
  end
  local list = {}
  for i = 1, #items do if found[i] then list[#list + 1] = found[i] end end
  process_list(list)
elseif not stopped then
  local url = cmr.search_url({ base = base, provider = opts.provider, page_size = opts.page_size,
    sort_order = opts.sort_order, collection = opts.collection, start_date = opts.start_date,
    end_date = opts.end_date, cycles = cycles })
  log.info("CMR search", { url = url, search_after = opts.cmr_search_after })
  local iter, stop = cmr.pages({ url = url, page_limit = page_limit, search_after = opts.cmr_search_after,
    headers = headers })
  local npages = 0
  while true do
    local page, err = iter()
    if not page then
      if err then
        cmr_failed = true
        log.error("CMR error", { error = err })
      end
      break
    end
    npages = npages + 1
    if npages == 1 then progress:set_total(page_limit and math.min(page.hits, page_limit * opts.page_size) or page.hits) end
    if not process_list(page.items) then
      stop()
      break
    end
    log.debug("page done", { page = npages, granules = counts.granules, messages = counts.messages,
      search_after = page.search_after })
  end
end

if writer_ch then
  writer_ch:close()
  local ok, err = task.wait(writer)
  if not ok then log.error("message writer failed", { error = tostring(err) }) send_failed = counts.messages - sent end
end
progress:finish()

-- {{{ report on stderr
local w = {}
local function out(s) w[#w + 1] = s end
out("")
out("Date       Granules   Need Image   Need Footprint   Both FP & BBox   Need DMRPP")
table.sort(month_order)
local year
for _, key in ipairs(month_order) do
  local m = months[key]
  local y = key:sub(1, 4)
  if year and y ~= year then out(("-"):rep(80)) end
  year = y
  out(("%-11s%-11d%-13d%-17d%-17d%d"):format(key, m.granules, m.image, m.footprint, m.both, m.dmrpp))
end
out("")
out(("Granules processed: %d"):format(counts.granules))
out(("Need footprint: %d"):format(counts.footprint))
out(("Need image: %d"):format(counts.image))
out(("Need dmrpp: %d"):format(counts.dmrpp))
out(("Both footprint and bbox: %d"):format(counts.both))
out(("Couldn't be processed: %d"):format(counts.failed))
if opts.preview then
  out(("Messages that would be sent: %d (preview: nothing sent)"):format(counts.messages))
else
  out(("Messages sent: %d"):format(sent - send_failed))
  out(("Messages failed: %d"):format(send_failed))
end
for _, need in ipairs({ "image", "footprint", "dmrpp" }) do
  if #first[need] > 0 then out(("First %d concept ids needing %s: %s"):format(#first[need], need, table.concat(first[need], ", "))) end
end
io.stderr:write(table.concat(w, "\n"), "\n")
-- }}}

-- the run's figures, returned to in-process callers (backfill.run)
local summary = { granules = counts.granules, footprint = counts.footprint, image = counts.image,
  dmrpp = counts.dmrpp, both = counts.both, failed = counts.failed, messages = counts.messages,
  sent = sent - send_failed, send_failed = send_failed, cmr_failed = cmr_failed,
  preview = opts.preview and true or false }
if cmr_failed or counts.failed > 0 or send_failed > 0 then
  fail(("backfill finished with failures (granules %d, messages %d, cmr %s)"):format(counts.failed, send_failed,
    tostring(cmr_failed)), 1, summary)
end
return summary
