--- gf.flow.cli: `gfhost run <workflow> [options]` for files under workflows/.
--
-- Options: --concurrency N, --run-id ID, --rerun-failed, --state PATH (SQLite file; default
-- $GFHOST_STATE or ./.gfhost/state.db), --param key=value (repeatable; ctx.params), --list
-- (print the tasks and exit). Exit 0 when every node completed, 1 otherwise, 130 interrupted.
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
      { name = "state", type = "string", default = M.default_state_path(), help = "SQLite state file" },
      { name = "param", type = "string", repeatable = true, help = "key=value parameter (ctx.params)" },
      { name = "list", type = "boolean", help = "print the tasks and exit" },
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
  local store, serr = require("gf.flow.store").open(opts.state)
  if not store then host.fail(serr) end
  local summary = require("gf.flow.runner").run(wf, { params = params, run_id = opts.run_id,
    store = store, concurrency = opts.concurrency, rerun_failed = opts.rerun_failed })
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
      { name = "state", type = "string", default = M.default_state_path(), help = "SQLite state file" },
      { name = "param", type = "string", repeatable = true, help = "key=value parameter" },
      { name = "check", type = "boolean", help = "exit 1 unless every node of the run completed" },
    },
  }, { ... })
  local wf, err = flow.load(opts.workflow)
  if not wf then host.fail(err, 2) end
  local params = M.parse_params(opts.param)
  local runner = require("gf.flow.runner")
  local run_id = opts.run_id or runner.default_run_id(wf, params)
  local store, serr = require("gf.flow.store").open(opts.state)
  if not store then host.fail(serr) end
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

return M
