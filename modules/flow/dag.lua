--- gf.flow.dag: `gfhost dag <workflow> --out DIR` writes HTCondor DAGMan input.
--
-- Output: DIR/<workflow>.dag (JOB, VARS, RETRY, PARENT/CHILD, FINAL with SCRIPT POST) and
-- DIR/node.sub, the submit description every node shares: its executable is gfhost itself and
-- its arguments run one node, `gfhost task <workflow> <node> --run-id ID --state PATH ...`
-- (also usable by hand). Node states go to the state named by --state (a SQLite file, or
-- dynamodb://TABLE[?...] shared through DynamoDB); a SQLite file must be on a
-- file system the execute nodes share.
--
-- Per-item tasks (foreach) need their items: the tasks they depend on run here first (planning),
-- are recorded as completed and appear in the DAG marked DONE. RETRY is the task's `retries`.
-- The final node's POST script is `gfhost task <workflow> --check ...`, which fails the DAG
-- when any node did not complete.
local M = {}

local function dagname(i, id)
  return ("n%d_%s"):format(i, (id:gsub("[^%w_.-]", "_")))
end

local function vars_escape(s)
  return (tostring(s):gsub("\\", "\\\\"):gsub('"', '\\"'))
end

--- Quote one argument for HTCondor's new-style `arguments = "..."` syntax.
local function condor_arg(s)
  s = tostring(s)
  if s:match("^[%w_./:=,@%-]+$") then return s end
  return "'" .. s:gsub("'", "''"):gsub('"', '""') .. "'"
end

--- Run what the per-item tasks need, until every node is known.
local function plan_fully(wf, runner, store, opts)
  for _ = 1, #wf.order + 1 do
    local states = require("gf.flow.store").states(store, opts.run_id)
    local nodes, pending = runner.plan(wf, opts.params, states)
    if #pending == 0 then return nodes end
    local need = {}
    for _, name in ipairs(pending) do
      for _, dep in ipairs(wf.tasks[name].after) do need[dep] = true end
    end
    local progressed = false
    for _, n in ipairs(nodes) do
      if need[n.task] and not (states[n.id] and states[n.id].status == "completed") then
        local status, value = runner.run_one(wf, n.id, { store = store, run_id = opts.run_id,
          params = opts.params })
        if status ~= "completed" then
          return nil, ("planning node %s %s: %s"):format(n.id, tostring(status), tostring(value))
        end
        progressed = true
      end
    end
    if not progressed then return nil, "planning made no progress (a dependency of a per-item task cannot run)" end
  end
  return nil, "planning did not converge"
end
M.plan_fully = plan_fully

--- Write the DAG. opts: out, run_id, params, state (path), gfhost (executable), store.
function M.write(wf, opts)
  local fs = require("gf.fs")
  local runner = require("gf.flow.runner")
  local store = opts.store
  local nodes, err = plan_fully(wf, runner, store, opts)
  if not nodes then return nil, err, "invalid_input" end
  local states = require("gf.flow.store").states(store, opts.run_id)
  assert(fs.mkdir_p(opts.out .. "/logs"))
  local names, by_task = {}, {}
  for i, n in ipairs(nodes) do
    names[n.id] = dagname(i, n.id)
    by_task[n.task] = by_task[n.task] or {}
    table.insert(by_task[n.task], n)
  end
  local common = { "--run-id", opts.run_id, "--state", opts.state }
  local pkeys = {}
  for k in pairs(opts.params or {}) do pkeys[#pkeys + 1] = k end
  table.sort(pkeys)
  for _, k in ipairs(pkeys) do
    common[#common + 1] = "--param"
    common[#common + 1] = k .. "=" .. opts.params[k]
  end
  local args = { "task", wf.path }
  for _, a in ipairs(common) do args[#args + 1] = a end
  local argtext = {}
  for _, a in ipairs(args) do argtext[#argtext + 1] = condor_arg(a) end

  local sub = table.concat({
    "# Submit description for one gfhost workflow node (written by gfhost dag).",
    "universe = vanilla",
    "executable = " .. opts.gfhost,
    ('arguments = "%s $(node)"'):format(table.concat(argtext, " ")),
    "log = " .. opts.out .. "/" .. wf.name .. ".log",
    "output = " .. opts.out .. "/logs/$(JOB).out",
    "error = " .. opts.out .. "/logs/$(JOB).err",
    "getenv = true",
    "request_cpus = 1",
    "request_memory = 1GB",
    "queue",
    "",
  }, "\n")
  local lines = { ("# DAG for workflow %s, run %s (written by gfhost dag)"):format(wf.name, opts.run_id) }
  local final
  for _, n in ipairs(nodes) do
    local t = wf.tasks[n.task] or wf.final_task
    if n.final then
      final = n
    else
      local done = states[n.id] and states[n.id].status == "completed"
      lines[#lines + 1] = ("JOB %s node.sub%s"):format(names[n.id], done and " DONE" or "")
      lines[#lines + 1] = ('VARS %s node="%s"'):format(names[n.id], vars_escape(n.id))
      if (t.retries or 0) > 0 then lines[#lines + 1] = ("RETRY %s %d"):format(names[n.id], t.retries) end
    end
  end
  for _, n in ipairs(nodes) do
    local t = wf.tasks[n.task]
    if t then
      for _, dep in ipairs(t.after) do
        local parents = {}
        for _, p in ipairs(by_task[dep] or {}) do parents[#parents + 1] = names[p.id] end
        if #parents > 0 then
          lines[#lines + 1] = ("PARENT %s CHILD %s"):format(table.concat(parents, " "), names[n.id])
        end
      end
    end
  end
  if final then
    lines[#lines + 1] = ("FINAL %s node.sub"):format(names[final.id])
    lines[#lines + 1] = ('VARS %s node="%s"'):format(names[final.id], vars_escape(final.id))
    local check = { condor_arg(opts.gfhost), "task", condor_arg(wf.path), "--check" }
    for _, a in ipairs(common) do check[#check + 1] = condor_arg(a) end
    lines[#lines + 1] = ("SCRIPT POST %s %s"):format(names[final.id], table.concat(check, " "))
  end
  lines[#lines + 1] = ""
  local dag_path = ("%s/%s.dag"):format(opts.out, wf.name)
  assert(fs.write_atomic(opts.out .. "/node.sub", sub))
  assert(fs.write_atomic(dag_path, table.concat(lines, "\n")))
  return dag_path, #nodes
end

function M.main(...)
  local argsmod = require("gf.args")
  local host = require("gf.host")
  local flow = require("gf.flow")
  local cli = require("gf.flow.cli")
  local opts = argsmod.parse({
    name = "dag",
    description = "Write HTCondor DAGMan input for a workflow.",
    env_prefix = false,
    options = {
      { name = "workflow", positional = true, required = true, help = "workflow name or file" },
      { name = "out", type = "string", required = true, help = "output directory" },
      { name = "run-id", type = "string", help = "run identifier (default: workflow + params digest)" },
      { name = "state", type = "string", default = cli.default_state_path(),
        help = "shared state: SQLite file or dynamodb://TABLE[?...]" },
      { name = "param", type = "string", repeatable = true, help = "key=value parameter" },
    },
  }, { ... })
  local wf, err = flow.load(opts.workflow)
  if not wf then host.fail(err, 2) end
  local params = cli.parse_params(opts.param)
  local run_id = opts.run_id or require("gf.flow.runner").default_run_id(wf, params)
  local state = opts.state
  if state:sub(1, 1) ~= "/" and not state:match("^%a[%w+.-]*://") then
    state = (os.getenv("PWD") or ".") .. "/" .. state
  end
  local store = cli.open_store(state)
  local path, n = M.write(wf, { out = opts.out, run_id = run_id, params = params, state = state,
    gfhost = host.exe(), store = store })
  store:close()
  if not path then host.fail(n) end
  io.stdout:write(("%s: %d nodes, run %s\n"):format(path, n, run_id))
  return 0
end

return M
