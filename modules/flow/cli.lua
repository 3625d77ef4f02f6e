--- gf.flow.cli: `gfhost run <workflow> [options]` for files under workflows/, `gfhost task`
--- and `gfhost worker`.
--
-- gfhost run <workflow>: --concurrency N, --run-id ID, --rerun-failed, --state PATH|URL (a
-- SQLite file or dynamodb://TABLE[?endpoint=URL&region=R&profile=P&create=1], see
-- gf.flow.store.open; default $GFHOST_STATE or ./.gfhost/state.db; a malformed value exits 2),
-- --param key=value (repeatable;
-- ctx.params), --list (print the tasks and exit), --executor local|sqs (default local),
-- --queue URL (sqs: where the nodes go), --poll S (sqs: seconds between state polls),
-- --endpoint-url, --region, --profile (the SQS client). Exit 0 when every node completed, 1
-- otherwise, 130 interrupted.
-- gfhost worker --queue URL: see M.worker_main and gf.flow.worker.
local args = require("gf.args")
local flow = require("gf.flow")
local host = require("gf.host")

local M = {}

function M.parse_params(list)
  local params = {}
  for _, kv in ipairs(list or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if not k then host.fail(("--param %s: expected key=value"):format(kv), 2) end
    params[k] = v
  end
  return params
end

function M.default_state_path()
  return os.getenv("GFHOST_STATE") or ".gfhost/state.db"
end

--- The gf.state store for --state (a SQLite file or dynamodb://TABLE[?...], see
--- gf.flow.store.open); a malformed value fails with exit status 2, an unreachable store 1.
function M.open_store(spec)
  local store, msg, code = require("gf.flow.store").open(spec)
  if not store then host.fail(msg, code == "invalid_input" and 2 or 1) end
  return store
end

--- The SQS client for --endpoint-url / --region / --profile.
function M.sqs_client(opts)
  return require("gf.sqs").client({ endpoint = opts.endpoint_url, region = opts.region,
    profile = opts.profile })
end

--- How messages name a workflow: its name when it lives in the project's workflows/, else
--- its absolute path (workers elsewhere need the same file at the same place).
function M.workflow_ref(wf)
  local path = wf.path or wf.name
  local name = path:match("^" .. host.root():gsub("%p", "%%%0") .. "/workflows/([%w_.-]+)%.lua$")
  if name and name == wf.name then return name end
  if path:sub(1, 1) ~= "/" then path = (os.getenv("PWD") or ".") .. "/" .. path end
  return path
end

function M.main(name, ...)
  local wf, err = flow.load(name)
  if not wf then host.fail(err, 2) end
  local opts = args.parse({
    name = wf.name,
    description = wf.description or ("workflow " .. wf.name),
    env_prefix = false,
    options = {
      { name = "concurrency", type = "integer", default = 8, help = "nodes running at once" },
      { name = "run-id", type = "string", help = "run identifier (default: workflow + params digest)" },
      { name = "rerun-failed", type = "boolean", help = "give failed nodes fresh attempts" },
      { name = "state", type = "string", default = M.default_state_path(),
        help = "SQLite state file or dynamodb://TABLE[?endpoint=&region=&profile=&create=1]" },
      { name = "param", type = "string", repeatable = true, help = "key=value parameter (ctx.params)" },
      { name = "list", type = "boolean", help = "print the tasks and exit" },
      { name = "executor", type = "choice", choices = { "local", "sqs" }, default = "local",
        help = "local: run here; sqs: enqueue the nodes for gfhost worker and follow them" },
      { name = "queue", type = "string", help = "SQS queue URL (--executor sqs)" },
      { name = "poll", type = "number", default = 0.5, help = "seconds between state polls (--executor sqs)" },
      { name = "endpoint-url", type = "string", env = "AWS_ENDPOINT_URL", help = "SQS endpoint" },
      { name = "region", type = "string", env = "AWS_DEFAULT_REGION", help = "AWS region" },
      { name = "profile", type = "string", env = "AWS_PROFILE", help = "AWS profile" },
    },
  }, { ... })
  if opts.list then
    for _, tname in ipairs(wf:sorted()) do
      local t = wf.tasks[tname]
      io.stdout:write(("%s%s%s\n"):format(tname, #t.after > 0 and (" <- " .. table.concat(t.after, ", ")) or "",
        t.foreach and " (per item)" or ""))
    end
    if wf.final_task then io.stdout:write(("%s (final)\n"):format(wf.final_task.name)) end
    return 0
  end
  if opts.concurrency < 1 then host.fail("--concurrency must be at least 1", 2) end
  local params = M.parse_params(opts.param)
  local store = M.open_store(opts.state)
  local summary
  if opts.executor == "sqs" then
    if not opts.queue then host.fail("--executor sqs needs --queue URL", 2) end
    if opts.poll <= 0 then host.fail("--poll must be positive", 2) end
    summary = require("gf.flow.coordinator").run(wf, { params = params, run_id = opts.run_id,
      store = store, rerun_failed = opts.rerun_failed, client = M.sqs_client(opts),
      queue = opts.queue, poll = opts.poll, workflow_ref = M.workflow_ref(wf) })
  else
    summary = require("gf.flow.runner").run(wf, { params = params, run_id = opts.run_id,
      store = store, concurrency = opts.concurrency, rerun_failed = opts.rerun_failed })
  end
  store:close()
  io.stdout:write(("%s %s: %d completed (%d reused), %d failed, %d skipped, %d interrupted\n"):format(
    wf.name, summary.run_id, summary.completed, summary.reused, summary.failed, summary.skipped,
    summary.interrupted))
  for _, b in ipairs(summary.bugs) do io.stderr:write("gfhost: ", b, "\n") end
  if require("gf.task").interrupted() then return 130 end
  return summary.ok and 0 or 1
end

--- `gfhost task <workflow> <node> [options]`: run one node once and record it (DAGMan nodes,
--- by hand). `gfhost task <workflow> --check`: exit 1 unless every node completed.
function M.task_main(...)
  local opts = args.parse({
    name = "task",
    description = "Run one workflow node (or --check a run).",
    env_prefix = false,
    options = {
      { name = "workflow", positional = true, required = true, help = "workflow name or file" },
      { name = "node", positional = true, help = "node id, e.g. describe[CYVR]" },
      { name = "run-id", type = "string", help = "run identifier (default: workflow + params digest)" },
      { name = "state", type = "string", default = M.default_state_path(),
        help = "SQLite state file or dynamodb://TABLE[?endpoint=&region=&profile=&create=1]" },
      { name = "param", type = "string", repeatable = true, help = "key=value parameter" },
      { name = "check", type = "boolean", help = "exit 1 unless every node of the run completed" },
    },
  }, { ... })
  local wf, err = flow.load(opts.workflow)
  if not wf then host.fail(err, 2) end
  local params = M.parse_params(opts.param)
  local runner = require("gf.flow.runner")
  local run_id = opts.run_id or runner.default_run_id(wf, params)
  local store = M.open_store(opts.state)
  if opts.check then
    local states = require("gf.flow.store").states(store, run_id)
    local nodes = runner.plan(wf, params, states)
    local bad = 0
    for _, n in ipairs(nodes) do
      local st = states[n.id]
      if not st or st.status ~= "completed" then
        bad = bad + 1
        io.stderr:write(("%s: %s%s\n"):format(n.id, st and st.status or "not run",
          st and st.error and (" (" .. st.error .. ")") or ""))
      end
    end
    store:close()
    io.stdout:write(("%s %s: %d nodes, %d not completed\n"):format(wf.name, run_id, #nodes, bad))
    return bad == 0 and 0 or 1
  end
  if not opts.node then host.fail("gfhost task: name a node (or --check)", 2) end
  local status, value, code = runner.run_one(wf, opts.node, { store = store, run_id = run_id,
    params = params })
  store:close()
  if status == nil then host.fail(value, code == "invalid_input" and 2 or 1) end
  io.stdout:write(("%s %s\n"):format(opts.node, status))
  if status ~= "completed" then
    io.stderr:write(("gfhost: node %s %s: %s\n"):format(opts.node, status, tostring(value)))
    return 1
  end
  return 0
end

--- `gfhost worker --queue URL [options]`: consume node messages (gf.flow.worker). Exit 0 when
--- it stopped on --max-messages / --idle-exit, 130 on SIGINT/SIGTERM (running nodes recorded
--- as interrupted and their messages made visible again).
function M.worker_main(...)
  local opts = args.parse({
    name = "worker",
    description = "Run workflow nodes from an SQS queue (messages sent by gfhost run --executor sqs).",
    env_prefix = false,
    options = {
      { name = "queue", type = "string", required = true, help = "SQS queue URL" },
      { name = "state", type = "string", default = M.default_state_path(),
        help = "state shared with the coordinator and the other workers: SQLite file or "
          .. "dynamodb://TABLE[?endpoint=&region=&profile=&create=1]" },
      { name = "concurrency", type = "integer", help = "nodes running at once (default 4)" },
      { name = "workers", type = "integer", hidden = true, help = "same as --concurrency" },
      { name = "visibility", type = "integer", default = 60,
        help = "seconds a message stays invisible; extended while its node runs" },
      { name = "wait", type = "integer", default = 20, help = "long-poll seconds per receive (0-20)" },
      { name = "max-messages", type = "integer", help = "stop after this many messages" },
      { name = "idle-exit", type = "number", help = "stop after this many seconds without a message" },
      { name = "endpoint-url", type = "string", env = "AWS_ENDPOINT_URL", help = "SQS endpoint" },
      { name = "region", type = "string", env = "AWS_DEFAULT_REGION", help = "AWS region" },
      { name = "profile", type = "string", env = "AWS_PROFILE", help = "AWS profile" },
    },
  }, { ... })
  local client = M.sqs_client(opts)
  local n = opts.concurrency or opts.workers or 4
  if n < 1 then host.fail("--concurrency must be at least 1", 2) end
  if opts.visibility < 1 or opts.visibility > 43200 then
    host.fail("--visibility must be in 1..43200 seconds", 2)
  end
  if opts.wait < 0 or opts.wait > 20 then host.fail("--wait must be in 0..20 seconds", 2) end
  if opts.max_messages and opts.max_messages < 1 then host.fail("--max-messages must be at least 1", 2) end
  local store = M.open_store(opts.state)
  local stats = require("gf.flow.worker").run({ client = client, queue = opts.queue,
    store = store, concurrency = n, visibility = opts.visibility, wait = opts.wait,
    max_messages = opts.max_messages, idle_exit = opts.idle_exit,
    on_release = function(receipts) M.release(client, opts.queue, receipts) end })
  store:close()
  io.stdout:write(("worker: %d messages: %d completed, %d reused, %d failed, %d retried, "
    .. "%d exhausted, %d busy, %d bad, %d deferred, %d interrupted, %d errors\n"):format(
    stats.messages, stats.completed, stats.reused, stats.failed, stats.retried, stats.exhausted,
    stats.busy, stats.bad, stats.deferred, stats.interrupted, stats.errors))
  if require("gf.task").interrupted() then return 130 end
  return 0
end

--- Make the messages of interrupted nodes visible again at once (visibility 0), so another
--- worker picks them up now rather than after the visibility timeout. Runs in the host's grace
--- period after SIGINT/SIGTERM (GFHOST_GRACE), when clean-up may still use the network.
function M.release(client, queue, receipts)
  local r, err = client:change_visibility_batch(queue, receipts, 0)
  if not r then
    io.stderr:write(("gfhost: %d interrupted message(s) not released (%s): visible again after "
      .. "their visibility timeout\n"):format(#receipts, tostring(err)))
    return
  end
  io.stderr:write(("gfhost: %d interrupted message(s) visible again\n"):format(#r.successful))
  for _, f in ipairs(r.failed) do
    io.stderr:write(("gfhost: message not released: %s\n"):format(tostring(f.message or f.code)))
  end
end

return M
