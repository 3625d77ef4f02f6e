--- process: send Cirrus payloads (NDJSON lines or one JSON document) to the process queue, or process them here.
--
--   gfhost run get_payloads --collections-workflow C_W --state FAILED --rerun | gfhost run process --queue URL
--   gfhost run process --queue URL payloads.ndjson [more.ndjson ...] [--rate 50/s] [--dry-run]
--   gfhost run process < payload.json              # no queue: the local Cirrus core runs it
--
-- Input: stdin or files, one payload per line (NDJSON); a file (or stdin) holding a single
-- pretty-printed JSON document is read as one payload. Each payload is validated (process must
-- be a non-empty array whose first entry names a workflow; source-systems §5.2) and gets its id
-- when it has none. With --queue (CIRRUS_PROCESS_QUEUE_URL) the payloads go to SQS in batches
-- of 10 (--concurrency batches in flight, or --rate N/s); a body over 262,144 bytes is stored
-- in the payload store (payloads/<uuid>.json) and replaced by {"url": ...}. Without a queue the
-- payload is processed here: claimed in the state database, started on Step Functions when
-- --base-workflow-arn (CIRRUS_BASE_WORKFLOW_ARN) is set, else run as the gf.flow workflow
-- workflows/<workflow>.lua with the same state transitions.
-- Prints one JSON result line per payload on stdout ({"line", "id", "status", ...}); a bad line
-- is reported with its file and line number and the rest go on. Exit 1 if any failed, 2 for
-- bad options.
local args = require("gf.args")
local host = require("gf.host")
local json = require("gf.json")
local log = require("gf.log")
local task = require("gf.task")
local time = require("gf.time")
local core = require("cirrus.core")
local deploy = require("cirrus.deploy")

local opts = args.parse({
  name = "process", version = "1.0.0", env_prefix = false,
  description = "Send Cirrus payloads to the process queue, one per line, or process them here.",
  options = deploy.options({ "queue", "statedb", "payloads", "workflow", "topics", "region" }, {
    { name = "input", positional = true, repeatable = true, metavar = "FILE",
      help = "NDJSON or JSON files (default: stdin; '-' is stdin)" },
    { name = "rate", help = "at most N payloads per second (e.g. 50/s)" },
    { name = "concurrency", type = "integer", default = 16, help = "SQS batches in flight" },
    { name = "replace", type = "boolean", help = "local processing: start even COMPLETED / INVALID payloads" },
    { name = "dry-run", type = "boolean", help = "validate and print what would be sent; send nothing" },
  }),
}, ...)

local rate
if opts.rate then
  local n = opts.rate:match("^(%d+%.?%d*)/s$") or opts.rate:match("^(%d+%.?%d*)$")
  rate = tonumber(n)
  if not rate or rate <= 0 then host.fail(("--rate: expected N/s such as 50/s, got '%s'"):format(opts.rate), 2) end
end
if opts.concurrency < 1 then host.fail("--concurrency must be >= 1", 2) end

local d, dmsg = deploy.open(opts, { state = not opts.queue and not opts.dry_run })
if not d then host.fail("process: " .. dmsg, 1) end

local out = io.stdout
local st = { lines = 0, ok = 0, failed = 0 }
local prog = require("gf.progress").new({ label = "payloads" })

local function emit(r)
  if r.error then st.failed = st.failed + 1 else st.ok = st.ok + 1 end
  prog:tick(1, { failed = r.error ~= nil })
  out:write(json.encode(r, { sort_keys = true }), "\n")
end

-- {====== input: NDJSON lines, or one JSON document ======
-- entries(path, fn): fn(payload|nil, lineno, source, error) for each entry, streamed line by
-- line. When the first non-blank line is not JSON by itself, the whole input is tried as one
-- (pretty-printed) document; if that fails too, every line is reported on its own.
local function entries(path, fn)
  local name = path == "-" and "stdin" or path
  local f, err = io.stdin, nil
  if path ~= "-" then f, err = io.open(path, "rb") end
  if not f then
    fn(nil, 0, name, "cannot read: " .. tostring(err))
    return
  end
  local n, first = 0, nil
  for line in f:lines() do
    n = n + 1
    if line:match("%S") then
      first = line
      break
    end
  end
  local function each(line)
    n = n + 1
    if line:match("%S") then
      local v, msg = json.decode(line)
      if v == nil then fn(nil, n, name, msg) else fn(v, n, name) end
    end
  end
  if first then
    local v, msg = json.decode(first)
    if v ~= nil then
      fn(v, n, name)
      for line in f:lines() do each(line) end
    else
      local rest = f:read("a") or ""
      local doc = json.decode(first .. "\n" .. rest)
      if doc ~= nil then
        fn(doc, n, name)
      else
        fn(nil, n, name, msg)
        for line in (rest .. "\n"):gmatch("([^\n]*)\n") do each(line) end
      end
    end
  end
  if f ~= io.stdin then f:close() end
end
-- }======

-- {====== sending ======
local pending = {}            -- {line=, source=, id=, body=}
local last_send = time.monotonic()

local function send_batches(list)
  local batches = {}
  for i = 1, #list, 10 do
    local b = {}
    for j = i, math.min(i + 9, #list) do b[#b + 1] = list[j] end
    batches[#batches + 1] = b
  end
  local function send(b)
    local entries_ = {}
    for i, e in ipairs(b) do entries_[i] = { id = tostring(i), body = e.body } end
    local r, msg, code = d.sqs:send_batch(d.queue, entries_)
    if not r then
      for _, e in ipairs(b) do e.error, e.code = msg, code end
      return
    end
    for _, s in ipairs(r.successful) do b[s.index].message_id = s.message_id end
    for _, f in ipairs(r.failed) do b[f.index].error, b[f.index].code = f.message or f.code, f.code end
  end
  local _, failures = task.map(batches, send, { concurrency = rate and 1 or opts.concurrency })
  for _, f in ipairs(failures) do
    for _, e in ipairs(f.item) do e.error = e.error or tostring(f.error) end
  end
  for _, e in ipairs(list) do
    if e.error then
      emit({ line = e.line, source = e.source, id = e.id, status = "failed", error = e.error, code = e.code })
    else
      emit({ line = e.line, source = e.source, id = e.id, status = "queued", message_id = e.message_id,
        url = e.url })
    end
  end
end

local function flush(force)
  local chunk = rate and math.max(1, math.min(10, math.floor(rate))) or 10 * opts.concurrency
  while #pending >= chunk or (force and #pending > 0) do
    local list = {}
    for i = 1, math.min(chunk, #pending) do list[i] = pending[i] end
    table.move(pending, #list + 1, #pending + #list, 1)
    if rate then
      local wait = last_send + #list / rate - time.monotonic()
      if wait > 0 then task.sleep(wait) end
      last_send = math.max(last_send + #list / rate, time.monotonic() - 1)
    end
    send_batches(list)
  end
end
-- }======

local function handle(p, lineno, source, err)
  st.lines = st.lines + 1
  if p == nil then
    emit({ line = lineno, source = source, status = "failed", error = "bad JSON: " .. tostring(err) })
    log.error("bad input line", { source = source, line = lineno, error = err })
    return
  end
  local id, msg = core.prepare(p)
  if not id then
    emit({ line = lineno, source = source, status = "failed", error = msg })
    log.error("invalid payload", { source = source, line = lineno, error = msg })
    return
  end
  if opts.dry_run then
    local bytes = #json.encode(p)
    emit({ line = lineno, source = source, id = id, status = "dry-run", bytes = bytes,
      oversized = bytes > core.MAX_BODY or nil, target = d.queue or "local" })
    return
  end
  if d.queue then
    local body, bmsg = core.queue_body(d, p)
    if not body then
      emit({ line = lineno, source = source, id = id, status = "failed", error = bmsg })
      return
    end
    pending[#pending + 1] = { line = lineno, source = source, id = id, body = body,
      url = #body < 1024 and body:match('^{"url":"(.-)"}$') or nil }
    flush(false)
    return
  end
  local r = core.process(d, { p }, { replace = opts.replace })[1]
  local res = { line = lineno, source = source, id = id, status = r.status, event = r.event,
    execution = r.execution }
  if r.status == "error" or r.status == "rejected" then res.error = r.message
  elseif r.message then res.last_error = r.message end
  emit(res)
end

local inputs = opts.input
if #inputs == 0 then inputs = { "-" } end
for _, path in ipairs(inputs) do entries(path, handle) end
flush(true)
local s = prog:finish()
io.stderr:write(("process: %d payloads, %d %s, %d failed (%.2f s)\n"):format(st.lines, st.ok,
  opts.dry_run and "checked" or (d.queue and "queued" or "processed"), st.failed, s.elapsed or 0))
if st.failed > 0 then host.fail(("process: %d of %d payloads failed"):format(st.failed, st.lines), 1) end
return 0
