--- get_payloads: Cirrus get-payloads — the input payloads of state records as NDJSON (--rerun marks them for reprocessing; --group-errors counts failures by error).
--
--   gfhost run get_payloads --collections-workflow sar-test_flow --state FAILED --since 7d --rerun \
--       [--error-prefix P] [--limit N] [--statedb FILE|dynamodb://TABLE] [--payload-bucket s3://B|DIR]
--   gfhost run get_payloads --collections-workflow sar-test_flow --group-errors [--json]
--   (alias: gfhost run get_input_payloads ...)
--
-- The records come from gf.state with Cirrus' query (source-systems §5.4): with --since and a
-- state the state_updated range, with --since alone the updated range, with a state alone the
-- state prefix, otherwise by updated; newest first; pages of --page-size (100); --error-prefix
-- is applied after each page, as DynamoDB does; stop at --limit. Each record's input payload is
-- read from the payload store (v1 "<id>/input.json", v2 the last execution's input.json), with
-- --concurrency reads in flight and the output kept in query order; a missing one is reported
-- ("Payload ID: '<id>' was not found in S3") and skipped. --rerun sets process[0].replace.
-- --group-errors reads no payloads: it groups the records' last_error with the similarity
-- measure of failed_workflows (--threshold) and prints count, the common prefix to pass to
-- --error-prefix, and an example error per group (--state defaults to FAILED there).
-- Exit 0; 1 when the state database cannot be read or a payload read failed for another reason
-- than a missing object; 2 for bad options.
local args = require("gf.args")
local host = require("gf.host")
local json = require("gf.json")
local log = require("gf.log")
local task = require("gf.task")
local deploy = require("cirrus.deploy")

local STATES = { "CLAIMED", "PROCESSING", "COMPLETED", "FAILED", "INVALID", "ABORTED", "SUCCEEDED" }

local opts = args.parse({
  name = "get_payloads", version = "1.0.0", env_prefix = false,
  description = "Print the input payloads of Cirrus state records as NDJSON (get-payloads).",
  options = deploy.options({ "statedb", "payloads", "region" }, {
    { name = "collections-workflow", required = true, metavar = "COLLECTIONS_WORKFLOW",
      help = "the exact key '<collections>_<workflow>', e.g. sar-test_flow" },
    { name = "state", type = "choice", choices = STATES, help = "only records in this state (SUCCEEDED = COMPLETED)" },
    { name = "since", help = "only records updated in the last Nd, Nh or Nm (e.g. 7d, 24h, 30m)" },
    { name = "limit", type = "integer", help = "at most this many payloads (1-50000)" },
    { name = "error-prefix", help = "only records whose last_error begins with this" },
    { name = "rerun", type = "boolean", help = "set process[0].replace = true in each payload" },
    { name = "group-errors", type = "boolean", help = "print the records' errors grouped by similarity instead of payloads" },
    { name = "threshold", type = "number", default = 0.7, help = "--group-errors: similarity (0-1) at which two errors count as one" },
    { name = "json", type = "boolean", help = "--group-errors: one JSON object instead of text" },
    { name = "page-size", type = "integer", default = 1000, help = "records per state query page (1-1000; Cirrus uses 100: the same records in the same order, in more round trips)" },
    { name = "concurrency", type = "integer", default = 64, help = "payload reads in flight" },
  }),
}, ...)

local function usage(msg) host.fail(msg, 2) end
if opts.since and not opts.since:match("^%d+[dhm]$") then
  usage(("--since: '%s' does not match ^(\\d+)([dhm])$ (e.g. 7d, 24h, 30m)"):format(opts.since))
end
if opts.limit and (opts.limit < 1 or opts.limit > 50000) then
  usage(("--limit: %d is not in the range 1<=x<=50000"):format(opts.limit))
end
if opts.page_size < 1 or opts.page_size > 1000 then usage("--page-size must be 1-1000") end
if opts.concurrency < 1 then usage("--concurrency must be >= 1") end
if not (opts.threshold >= 0 and opts.threshold <= 1) then usage("--threshold must be between 0 and 1") end
if not opts.collections_workflow:find("_", 1, true) then
  usage(("--collections-workflow: '%s' is not '<collections>_<workflow>'"):format(opts.collections_workflow))
end
local state = opts.state
if opts.group_errors and not state then state = "FAILED" end

local d, dmsg = deploy.open(opts, { payloads = not opts.group_errors, queue = false, sfn = false, sns = false })
if not d then host.fail("get_payloads: " .. dmsg, 1) end

-- {====== the records, page by page ======
-- pages(fn): fn(items) for each page in order. A task reads the pages ahead (up to 4) through a
-- channel, so the next query runs while fn reads the payloads of this one.
local function pages(fn)
  local q = { collections_workflow = opts.collections_workflow, state = state, since = opts.since,
    error_prefix = opts.error_prefix, limit = opts.page_size }
  local ch = task.channel(4)
  local err
  local reader = task.spawn(function()
    local n = 0
    repeat
      local items, tok, code = d.state:query(q)
      if not items then
        err = { tok, code }
        break
      end
      if opts.limit and n + #items > opts.limit then
        local cut = {}
        for i = 1, opts.limit - n do cut[i] = items[i] end
        items = cut
      end
      n = n + #items
      if #items > 0 then ch:send(items) end
      q.next = tok
    until not tok or (opts.limit and n >= opts.limit)
    ch:close()
  end)
  while true do
    local items = ch:recv()
    if not items then break end
    fn(items)
  end
  local ok, terr = task.wait(reader)
  if not ok then host.fail("get_payloads: " .. tostring(terr), 1) end
  if err then
    local hint = err[2] == "invalid_input" and "" or " (check --statedb)"
    host.fail("get_payloads: " .. tostring(err[1]) .. hint, err[2] == "invalid_input" and 2 or 1)
  end
end
-- }======

if opts.group_errors then
  local records = {}
  pages(function(items)
    for _, it in ipairs(items) do
      local e = type(it.last_error) == "string" and it.last_error or ""
      records[#records + 1] = { payload_id = it.payload_id, error = e, message = e,
        error_type = e:match("^([%w_%.]+):") }
    end
  end)
  local groups = require("failed_workflows.errors").group(records, { threshold = opts.threshold })
  local function common_prefix(g)
    local p = g.members[1].error
    for _, r in ipairs(g.members) do
      local i = 0
      while i < #p and i < #r.error and p:byte(i + 1) == r.error:byte(i + 1) do i = i + 1 end
      p = p:sub(1, i)
    end
    return p
  end
  if opts.json then
    local doc = { collections_workflow = opts.collections_workflow, state = state, records = #records,
      groups = json.array() }
    for _, g in ipairs(groups) do
      local ids = json.array()
      for _, r in ipairs(g.members) do ids[#ids + 1] = r.payload_id end
      doc.groups[#doc.groups + 1] = { count = g.count, error_prefix = common_prefix(g), pattern = g.pattern,
        error = g.first.error, error_types = json.array(g.error_types), payload_ids = ids }
    end
    io.stdout:write(json.encode(doc, { sort_keys = true }), "\n")
  else
    io.stdout:write(("%d %s records of %s in %d error groups\n"):format(#records, state,
      opts.collections_workflow, #groups))
    for _, g in ipairs(groups) do
      io.stdout:write(("%7d  --error-prefix %s\n         e.g. %s\n"):format(g.count,
        require("cirrus.py").repr_str(common_prefix(g)), g.first.error == "" and "(no last_error)" or g.first.error))
    end
  end
  return 0
end

-- {====== payloads ======
local prog = require("gf.progress").new({ label = "payloads", total = opts.limit })
local st = { printed = 0, missing = 0, failed = 0 }
local where = d.payloads.kind == "s3" and "S3" or ("the payload directory " .. d.payloads.dir)
local out = io.stdout

local function read(item)
  local exec
  if d.payloads.layout == "v2" then
    local ex = item.executions or {}
    exec = ex[#ex] and ex[#ex]:match(":([^:]+)$")
  end
  local p, msg, code = d.payloads:get_input(item.payload_id, exec)
  if not p then return { missing = code == "not_found", message = msg } end
  return { payload = p }
end

pages(function(items)
  local results, failures = task.map(items, read, { concurrency = opts.concurrency })
  local buf = {}
  for i, it in ipairs(items) do
    local r = results[i]
    if r and r.payload then
      local p = r.payload
      if opts.rerun then
        if type(p.process) == "table" and type(p.process[1]) == "table" then
          p.process[1].replace = true
        else
          log.warn("payload has no process definition; --rerun cannot mark it", { payload_id = it.payload_id })
        end
      end
      buf[#buf + 1] = json.encode(p)
      st.printed = st.printed + 1
      prog:tick(1)
    elseif r and r.missing then
      io.stderr:write(("Payload ID: '%s' was not found in %s\n"):format(it.payload_id, where))
      st.missing = st.missing + 1
      prog:tick(1, { failed = true })
    else
      log.error("payload not read", { payload_id = it.payload_id, error = r and r.message or "?" })
      st.failed = st.failed + 1
      prog:tick(1, { failed = true })
    end
  end
  for _, f in ipairs(failures) do
    log.error("payload read raised", { error = tostring(f.error) })
  end
  if #buf > 0 then out:write(table.concat(buf, "\n"), "\n") end
end)
local s = prog:finish()
io.stderr:write(("get_payloads: %d payloads printed, %d not found, %d unreadable (%.2f s)\n"):format(
  st.printed, st.missing, st.failed, s.elapsed or 0))
if st.failed > 0 then host.fail(("get_payloads: %d payloads could not be read"):format(st.failed), 1) end
return 0
