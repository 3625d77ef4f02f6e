--- cirrus.core: Cirrus' process and update-state lambdas on gf.state (source-systems §5.3).
--
-- A deployment `d` is a table (cirrus.deploy builds one from options and CIRRUS_* variables):
--   d.state      gf.state store (required)
--   d.payloads   cirrus.payloads store (required to start executions)
--   d.sfn, d.base_arn   gf.awsjson Step Functions client and CIRRUS_BASE_WORKFLOW_ARN
--                (".../stateMachine:<prefix>"); without d.sfn the workflow runs here (local
--                mode: workflows/<workflow>.lua, a gf.flow workflow)
--   d.sqs, d.queue     process queue (chained payloads and `process`), optional
--   d.sns, d.publish_topic, d.event_topic   optional; nothing is published without them
--   d.region     for console URLs (default: the execution ARN's region)
--   d.log        gf.log (default require("gf.log"))
--   d.workflow_dir  where local workflows are looked up (default: gf.flow's workflows/)
--
-- prepare(payload) -> id | nil, msg, "invalid_input"        validate (§5.2) and set the id
-- process(d, payloads [, {replace = bool}]) -> results      the process lambda on a batch
--   results[i] for payloads[i] = {id =, status =, event =, execution =, message =, code =}
--   status: "started" (Step Functions) | "completed" | "failed" | "invalid" | "aborted" (local
--   mode, the final state) | "skipped" (event ALREADY_<STATE> or DUPLICATE_ID_ENCOUNTERED) |
--   "rejected" (not a process payload: event NOT_A_PROCESS_PAYLOAD) | "error" (storage or
--   service failure; the message should be delivered again)
--   Decision: start when the record is FAILED, ABORTED, CLAIMED or missing, or when replace
--   (process[1].replace or opts.replace) is set; the claim's condition still refuses
--   PROCESSING and CLAIMED records — a CLAIMED one is taken over with its stored execution.
-- decide(d, payloads [, opts]) -> results as process() would give, writing nothing
--   (status "would_start" with the execution ARN, "skipped", "rejected", "error")
-- execution_name(item_or_nil, id, region) -> uuid5 of "<id>/<repr(console urls)>"
-- execution_arn(d, workflow, name) -> base ARN with :stateMachine: -> :execution:, + "<workflow>:<name>"
-- console_url(arn [, region]) -> the AWS console URL Cirrus renders executions as
-- update(d, id, outcome) -> state, last_error | nil, msg, code    the update-state lambda
--   outcome = {status = "SUCCEEDED"|"FAILED"|"TIMED_OUT"|"ABORTED", output = payload table
--   or JSON text ({"url": ...} is fetched), error =, cause =, execution = arn}
-- last_error(error, cause) -> "<Error>: <Cause.errorMessage or Cause>"
-- is_invalid_error(error) -> bool   cirrus.lib.errors.InvalidInput, stactask...InvalidInput
-- describe(d, arn) -> DescribeExecution result (falls back to the state machine's execution
--   of the same name when the server names executions differently, as stepfunctions-local does)
-- execution_error(d, arn, desc) -> error, cause of a FAILED execution, from its history (the
--   last failed task event, else ExecutionFailed), else DescribeExecution's
-- publish_items(d, payload) -> n published; event(d, type, id, fields)
-- next_payloads(payload) -> list: the chained payloads (process[2..]; a list entry forks)
-- queue_body(d, payload) -> body | nil, msg, code   over 262,144 bytes: {"url": ...} in the store
local json = require("gf.json")
local payload_ids = require("gf.state.payload")
local uuid = require("cirrus.uuid")
local attributes = require("cirrus.attributes")

local M = {}

M.MAX_BODY = 262144          -- SQS message body limit
M.MAX_INPUT = 250000         -- v1 Step Functions input kept inline
local START_STATES = { FAILED = true, ABORTED = true, CLAIMED = true }
local INVALID_ERRORS = { ["cirrus.lib.errors.InvalidInput"] = true,
  ["stactask.exceptions.InvalidInput"] = true, InvalidInput = true }

local function logger(d) return d.log or require("gf.log") end

function M.prepare(p)
  if type(p) ~= "table" or json.is_array(p) then
    return nil, "payload must be a JSON object", "invalid_input"
  end
  local ok, msg, code = payload_ids.validate(p)
  if not ok then return nil, msg, code end
  local id, imsg, icode = payload_ids.set_id(p)
  if not id then return nil, imsg, icode end
  local parsed, pmsg, pcode = payload_ids.parse(id)
  if not parsed then return nil, pmsg, pcode end
  return id
end

function M.console_url(arn, region)
  region = region or arn:match("^arn:[^:]+:states:([^:]+):") or "us-east-1"
  return ("https://%s.console.aws.amazon.com/states/home?region=%s#/v2/executions/details/%s")
    :format(region, region, arn)
end

function M.execution_name(item, id, region)
  local urls = {}
  for i, e in ipairs(item and item.executions or {}) do
    urls[i] = e:match("^arn:") and M.console_url(e, region) or e
  end
  return uuid.execution_name(id, urls)
end

function M.execution_arn(d, workflow, name)
  local base = d.base_arn or "arn:aws:states:local:000000000000:stateMachine:"
  return (base:gsub(":stateMachine:", ":execution:", 1)) .. workflow .. ":" .. name
end

function M.state_machine_arn(d, workflow)
  return (d.base_arn or "arn:aws:states:local:000000000000:stateMachine:") .. workflow
end

local function collections_workflow(id)
  local p = payload_ids.parse(id)
  return p and p.collections, p and p.workflow
end

-- {====== events ======

function M.event(d, etype, id, fields)
  fields = fields or {}
  local log = logger(d)
  log.debug("cirrus event", { event_type = etype, payload_id = id, error = fields.error })
  if not (d.sns and d.event_topic) then return true end
  local collections, workflow = collections_workflow(id or "")
  local msg = { event_type = etype, payload_id = id,
    isotimestamp = require("gf.state").iso8601(require("gf.time").now()),
    payload_url = fields.payload_url or json.null, execution = fields.execution or json.null,
    error = fields.error or json.null }
  local attrs = { event_type = etype }
  if workflow then attrs.workflow = workflow end
  if collections then attrs.collections = collections end
  if fields.error then attrs.error = fields.error:sub(1, 256) end
  local ok, err = d.sns:publish(d.event_topic, json.encode(msg, { sort_keys = true }), { attributes = attrs })
  if not ok then log.warn("workflow event not published", { event_type = etype, payload_id = id, error = err }) end
  return ok, err
end

function M.publish_items(d, p)
  if not (d.sns and d.publish_topic) then return 0 end
  local entries = {}
  for _, item in ipairs(type(p.features) == "table" and p.features or {}) do
    entries[#entries + 1] = { message = json.encode(item), attributes = attributes.item(item) }
  end
  if #entries == 0 then return 0 end
  local r, msg, code = d.sns:publish_batch(d.publish_topic, entries)
  if not r then return nil, msg, code end
  if #r.failed > 0 then
    return nil, ("sns: %d of %d items not published (%s)"):format(#r.failed, #entries,
      tostring(r.failed[1].message or r.failed[1].code)), "aws"
  end
  return #entries
end

-- }======

-- {====== queue ======

function M.queue_body(d, p)
  local body = type(p) == "string" and p or json.encode(p)
  if #body <= M.MAX_BODY then return body end
  if not d.payloads then
    return nil, ("payload is %d bytes, over the %d-byte SQS limit, and no payload store is set"):format(#body, M.MAX_BODY), "invalid_input"
  end
  local url, msg, code = d.payloads:put_oversized(body)
  if not url then return nil, msg, code end
  return json.encode({ url = url })
end

-- Chained payloads: the output with process[2..]; a list as the next entry forks one payload
-- per definition. chain_filter (a jsonpath filter) is not evaluated: such entries are skipped
-- with a warning.
function M.next_payloads(p, log)
  local proc = p.process
  if type(proc) ~= "table" or #proc < 2 then return {} end
  local nexts = proc[2]
  local defs = (type(nexts) == "table" and nexts.workflow == nil and #nexts > 0) and nexts or { nexts }
  local out = {}
  for _, def in ipairs(defs) do
    if type(def) == "table" and def.chain_filter ~= nil then
      if log then log.warn("chain_filter is not evaluated; chained payload skipped", { workflow = def.workflow }) end
    elseif type(def) == "table" then
      local np = json.decode(json.encode(p))
      np.id = nil
      local rest = json.array({ def })
      for i = 3, #proc do rest[#rest + 1] = proc[i] end
      np.process = rest
      out[#out + 1] = np
    end
  end
  return out
end

-- }======

-- {====== update-state ======

function M.is_invalid_error(e)
  return type(e) == "string" and INVALID_ERRORS[e] == true
end

function M.last_error(err, cause)
  err = (type(err) == "string" and err ~= "") and err or "unknown"
  local c = cause
  if type(cause) == "string" and cause:match("^%s*{") then
    local t = json.decode(cause)
    if type(t) == "table" and t.errorMessage ~= nil then c = t.errorMessage end
  end
  if c == nil or c == json.null or c == "" then return err end
  return ("%s: %s"):format(err, tostring(c))
end

local function output_urls(p)
  local urls = {}
  for _, item in ipairs(type(p.features) == "table" and p.features or {}) do
    local href
    for _, l in ipairs(type(item.links) == "table" and item.links or {}) do
      if type(l) == "table" and l.rel == "self" and type(l.href) == "string" then href = l.href end
    end
    urls[#urls + 1] = href or item.id
  end
  return urls
end

local function decode_output(d, out)
  if type(out) == "string" then
    local v, msg = json.decode(out)
    if type(v) ~= "table" then return nil, "execution output: " .. tostring(msg or "not a JSON object"), "parse" end
    out = v
  end
  if type(out) ~= "table" then return nil, "execution output is missing", "parse" end
  if out.url and not out.features and d.payloads then
    local text, msg, code = d.payloads:get_url(out.url)
    if not text then return nil, msg, code end
    return decode_output(d, text)
  end
  return out
end

function M.update(d, id, o)
  local st, log = d.state, logger(d)
  local status = o.status
  local payload_url = d.payloads and d.payloads:url(d.payloads:input_key(id, o.execution_id or "local") or "")
  if status == "SUCCEEDED" then
    local out, msg, code = decode_output(d, o.output)
    if not out then
      local le = "OutputError: " .. msg
      st:set_failed(id, le)
      M.event(d, "FAILED", id, { execution = o.execution, error = le, payload_url = payload_url })
      return nil, msg, code
    end
    if d.payloads then
      local purl, pmsg = d.payloads:put_output(id, json.encode(out), o.execution_id)
      if not purl then log.warn("output payload not stored", { payload_id = id, error = pmsg }) end
    end
    local ok, smsg, scode = st:set_completed(id, output_urls(out))
    if not ok then return nil, smsg, scode end
    local n, pmsg = M.publish_items(d, out)
    if not n then log.error("output items not published", { payload_id = id, error = pmsg }) end
    M.event(d, "SUCCEEDED", id, { execution = o.execution, payload_url = payload_url })
    for _, np in ipairs(M.next_payloads(out, log)) do
      local nid = M.prepare(np)
      if nid and d.sqs and d.queue then
        local body, emsg = M.queue_body(d, np)
        local sent
        if body then sent, emsg = d.sqs:send(d.queue, body) end
        if not sent then log.error("chained payload not queued", { payload_id = nid, error = emsg }) end
      elseif nid then
        log.info("chained payload (no process queue: processed here)", { payload_id = nid })
        M.process(d, { np })
      end
    end
    return "COMPLETED", nil, out
  elseif status == "FAILED" or status == "TIMED_OUT" then
    local le
    if status == "TIMED_OUT" then
      le = "TimedOutError: The step function execution timed out."
    else
      le = M.last_error(o.error, o.cause)
    end
    local invalid = status == "FAILED" and M.is_invalid_error(o.error)
    local ok, msg, code
    if invalid then ok, msg, code = st:set_invalid(id, le) else ok, msg, code = st:set_failed(id, le) end
    if not ok then return nil, msg, code end
    M.event(d, invalid and "INVALID" or status, id, { execution = o.execution, error = le, payload_url = payload_url })
    return invalid and "INVALID" or "FAILED", le
  elseif status == "ABORTED" then
    local ok, msg, code = st:set_aborted(id)
    if not ok then return nil, msg, code end
    M.event(d, "ABORTED", id, { execution = o.execution, payload_url = payload_url })
    return "ABORTED"
  end
  return nil, ("update-state %s: execution status '%s' has not ended"):format(id, tostring(status)), "invalid_input"
end

function M.describe(d, arn)
  local r, msg, code = d.sfn:call("DescribeExecution", { executionArn = arn })
  if r or code ~= "not_found" then return r, msg, code end
  -- stepfunctions-local names executions with region "local": find the same name there
  local sm = arn:gsub(":execution:", ":stateMachine:", 1):match("^(.*):[^:]+$")
  local name = arn:match(":([^:]+)$")
  local token
  repeat
    local l = d.sfn:call("ListExecutions", { stateMachineArn = sm, maxResults = 1000, nextToken = token })
    if not l then return nil, msg, code end
    for _, e in ipairs(l.executions or {}) do
      if e.name == name then return d.sfn:call("DescribeExecution", { executionArn = e.executionArn }) end
    end
    token = l.nextToken
  until not token or token == json.null
  return nil, msg, code
end

-- The error of a FAILED execution, as Cirrus' update-state reads it from the history (newest
-- first): the last failed task / activity / lambda event's error and cause, else the
-- ExecutionFailed event's, else DescribeExecution's.
function M.execution_error(d, arn, desc)
  local h = d.sfn:call("GetExecutionHistory", { executionArn = arn, reverseOrder = true, maxResults = 100 })
  local exec_failed
  for _, ev in ipairs(h and h.events or {}) do
    for k, det in pairs(ev) do
      if type(k) == "string" and k:match("FailedEventDetails$") and type(det) == "table" and det.error then
        if k == "executionFailedEventDetails" then
          exec_failed = exec_failed or det
        else
          return det.error, det.cause
        end
      end
    end
  end
  if desc and desc.error and desc.error ~= json.null then return desc.error, desc.cause end
  if exec_failed then return exec_failed.error, exec_failed.cause end
  return nil
end

-- }======

-- {====== process ======

local function run_local(d, id, p, name, arn)
  local log = logger(d)
  local flow = require("gf.flow")
  local runner = require("gf.flow.runner")
  local proc = p.process[1]
  local where = d.workflow_dir and (d.workflow_dir .. "/" .. proc.workflow .. ".lua") or proc.workflow
  local wf, msg = flow.load(where)
  if not wf then
    return { status = "FAILED", error = "WorkflowNotFound", cause = ("no workflow '%s' here (%s)"):format(proc.workflow, tostring(msg)) }
  end
  local params = { payload = p, payload_id = id, execution = arn,
    payload_store = d.payloads and d.payloads.spec, payload_layout = d.payloads and d.payloads.layout }
  local ok, summary = pcall(runner.run, wf, { params = params, run_id = "cirrus-" .. name,
    store = d.state, progress = false, concurrency = 4, log = log })
  if not ok then return { status = "FAILED", error = "WorkflowError", cause = tostring(summary) } end
  if summary.interrupted and summary.interrupted > 0 then return { status = "ABORTED" } end
  if not summary.ok then
    local first
    for node, rec in pairs(summary.nodes) do
      if type(rec) == "table" and rec.status == "failed" and (not first or node < first[1]) then first = { node, rec } end
    end
    local e = first and tostring(first[2].error or "failed") or "workflow failed"
    local cls, rest = e:match("^([%w_%.]+): (.*)$")
    if cls and (cls:find("Error") or cls:find("Invalid") or cls:find("%.")) then
      return { status = "FAILED", error = cls, cause = rest }
    end
    return { status = "FAILED", error = "TaskFailed", cause = (first and first[1] .. ": " or "") .. e }
  end
  local order = wf:sorted()
  local last = order[#order]
  local rec = d.state:get_node("cirrus-" .. name, last)
  local out = rec and rec.output
  if type(out) ~= "table" or out.process == nil then out = p end
  return { status = "SUCCEEDED", output = out }
end

local function start(d, id, p, item)
  local log = logger(d)
  local proc = p.process[1]
  local name = M.execution_name(item, id, d.region)
  local arn = M.execution_arn(d, proc.workflow, name)
  local res = { id = id, execution = arn }
  local ok, msg, code, cur = d.state:claim(id, arn)
  if not ok then
    if code ~= "conflict" then
      res.status, res.message, res.code = "error", msg, code
      return res
    end
    if cur and cur.state == "CLAIMED" and cur.executions and #cur.executions > 0 then
      arn = cur.executions[#cur.executions]
      res.execution = arn
      log.info("claimed payload taken over with its execution", { payload_id = id, execution = arn })
    else
      local s = cur and cur.state or "PROCESSING"
      res.status, res.event = "skipped", "ALREADY_" .. s
      M.event(d, res.event, id, { execution = arn })
      return res
    end
  end
  M.event(d, "CLAIMED_PROCESSING", id, { execution = arn })
  local exec_id = arn:match(":([^:]+)$")
  local text = json.encode(p)
  local url
  if d.payloads then
    url, msg, code = d.payloads:put_input(id, text, exec_id)
    if not url then
      res.status, res.message, res.code = "error", msg, code
      return res
    end
  end
  if not d.sfn then
    ok, msg, code = d.state:set_processing(id)
    if not ok then
      res.status, res.message, res.code = "error", msg, code
      return res
    end
    M.event(d, "STARTED_PROCESSING", id, { execution = arn, payload_url = url })
    local outcome = run_local(d, id, p, exec_id, arn)
    outcome.execution, outcome.execution_id = arn, exec_id
    local final, le = M.update(d, id, outcome)
    if not final then
      res.status, res.message, res.code = "error", le, "io"
      return res
    end
    res.status = final:lower()
    res.message = le
    return res
  end
  local input = text
  if #input > M.MAX_INPUT and url then input = json.encode({ url = url }) end
  local sm = M.state_machine_arn(d, proc.workflow)
  local r
  r, msg, code = d.sfn:call("StartExecution", { stateMachineArn = sm, name = exec_id, input = input })
  if not r then
    if code == "conflict" and msg:find("ExecutionAlreadyExists", 1, true) then
      log.info("execution already exists", { payload_id = id, execution = arn })
    elseif msg:find("StateMachineDoesNotExist", 1, true) then
      local le = "StateMachineDoesNotExist: " .. sm
      d.state:set_failed(id, le)
      M.event(d, "FAILED", id, { execution = arn, error = le })
      res.status, res.message, res.code = "failed", le, "not_found"
      return res
    else
      res.status, res.message, res.code = "error", msg, code
      return res
    end
  end
  ok, msg, code = d.state:set_processing(id)
  if not ok and code ~= "conflict" then
    res.status, res.message, res.code = "error", msg, code
    return res
  end
  M.event(d, "STARTED_PROCESSING", id, { execution = arn, payload_url = url })
  res.status = "started"
  return res
end

-- What process() would do, without writing anything: results with status "would_start",
-- "skipped" (event ALREADY_<STATE> / DUPLICATE_ID_ENCOUNTERED), "rejected" or "error".
function M.decide(d, payloads, opts)
  opts = opts or {}
  local results, seen = {}, {}
  for i, p in ipairs(payloads) do
    local id, msg = M.prepare(p)
    if not id then
      results[i] = { status = "rejected", event = "NOT_A_PROCESS_PAYLOAD", message = msg, code = "invalid_input" }
    elseif seen[id] then
      results[i] = { id = id, status = "skipped", event = "DUPLICATE_ID_ENCOUNTERED" }
    else
      seen[id] = true
      local item, gmsg, code = d.state:get(id)
      local s = item and item.state
      if not item and code ~= "not_found" then
        results[i] = { id = id, status = "error", message = gmsg, code = code }
      elseif s == "PROCESSING" or (s ~= nil and not START_STATES[s] and not (opts.replace or p.process[1].replace == true)) then
        results[i] = { id = id, status = "skipped", event = "ALREADY_" .. s }
      else
        local name = M.execution_name(item, id, d.region)
        local arn = (s == "CLAIMED" and item.executions and item.executions[#item.executions])
          or M.execution_arn(d, p.process[1].workflow, name)
        results[i] = { id = id, status = "would_start", execution = arn, state = s }
      end
    end
  end
  return results
end

function M.process(d, payloads, opts)
  opts = opts or {}
  local results, seen, todo = {}, {}, {}
  for i, p in ipairs(payloads) do
    local id, msg = M.prepare(p)
    if not id then
      results[i] = { status = "rejected", event = "NOT_A_PROCESS_PAYLOAD", message = msg, code = "invalid_input" }
      M.event(d, "NOT_A_PROCESS_PAYLOAD", type(p) == "table" and type(p.id) == "string" and p.id or nil, { error = msg })
    elseif seen[id] then
      results[i] = { id = id, status = "skipped", event = "DUPLICATE_ID_ENCOUNTERED" }
      M.event(d, "DUPLICATE_ID_ENCOUNTERED", id)
    else
      seen[id] = true
      todo[#todo + 1] = i
    end
  end
  for _, i in ipairs(todo) do
    local p = payloads[i]
    local id = p.id
    local item, msg, code = d.state:get(id)
    if not item and code ~= "not_found" then
      results[i] = { id = id, status = "error", message = msg, code = code }
    else
      local replace = opts.replace or p.process[1].replace == true
      local s = item and item.state
      if s == nil or START_STATES[s] or replace then
        results[i] = start(d, id, p, item)
      else
        results[i] = { id = id, status = "skipped", event = "ALREADY_" .. s }
        M.event(d, "ALREADY_" .. s, id)
      end
    end
  end
  return results
end

-- }======

return M
