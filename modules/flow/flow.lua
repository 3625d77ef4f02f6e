--- gf.flow: workflows as task graphs, defined in Lua.
--
--   local flow = require("gf.flow")
--   local wf = flow.workflow("cog_crank", { description = "...", params = {...} })
--   wf:task { name = "list", run = function(ctx) return {"a.tif", "b.tif"} end }
--   wf:task { name = "convert", after = { "list" },
--             foreach = function(ctx) return ctx.output.list end,   -- one node per item
--             key = function(item) return item end,                   -- node id suffix
--             retries = 3, backoff = 2, timeout = 600,
--             run = function(ctx, item) ... return result end }
--   wf:final { name = "report", run = function(ctx, outcomes) ... end }
--   return wf
--
-- A task without `foreach` is one node (id = its name). A `foreach` task becomes one node per
-- item, named `<task>[<key>]`, expanded once every task it depends on has completed. A task
-- that depends on a `foreach` task waits for all its nodes; ctx.output[<task>] is then a table
-- key -> output. The final node runs after every other node has ended, whatever the outcome,
-- and receives outcomes: node id -> {status=, error=, attempts=} (DAGMan FINAL semantics).
--
-- Task fields: name (required, unique, [%w_.-]+), run (function, required), after (list of
-- task names), foreach (function(ctx) -> list), key (function(item, index) -> string; default
-- the index), retries (extra attempts, default 0), backoff (seconds before the first retry,
-- doubled each time, default 1), timeout (seconds per attempt, none by default).
--
-- ctx: { workflow =, run_id =, params = (the run's parameters), output = (outputs of completed
-- tasks), node = (this node's id), attempt = (1-based), log = (gf.log child logger) }.
--
-- Definitions are checked when a task is added (field types, duplicate names) and by
-- wf:validate() (unknown dependencies, cycles); errors name the workflow file and line.
local M = {}

local Workflow = {}
Workflow.__index = Workflow
Workflow.__name = "gf.flow.workflow"

local TASK_FIELDS = { name = true, run = true, after = true, foreach = true, key = true,
  retries = true, backoff = true, timeout = true, description = true }

local function where(level)
  local info = debug.getinfo(level + 1, "Sl")
  if not info then return "?" end
  local src = info.source:gsub("^@", "")
  return ("%s:%d"):format(src, info.currentline or 0)
end

local function def_error(at, fmt, ...)
  error(("%s: " .. fmt):format(at, ...), 0)
end

function M.workflow(name, opts)
  if type(name) ~= "string" or not name:match("^[%w_.-]+$") then
    error("bad argument #1 to 'workflow' (name of letters, digits, _ . - expected)", 2)
  end
  opts = opts or {}
  return setmetatable({ name = name, description = opts.description, params = opts.params,
    tasks = {}, order = {}, final_task = nil, defined_at = where(2) }, Workflow)
end

function M.is_workflow(v)
  return getmetatable(v) == Workflow
end

local function check_task(self, t, at, is_final)
  if type(t) ~= "table" then def_error(at, "task definition must be a table") end
  for k in pairs(t) do
    if not TASK_FIELDS[k] then def_error(at, "task '%s': unknown field '%s'", tostring(t.name), tostring(k)) end
  end
  if type(t.name) ~= "string" or not t.name:match("^[%w_.-]+$") then
    def_error(at, "task name must be a string of letters, digits, _ . - (got %s)", tostring(t.name))
  end
  if self.tasks[t.name] then
    def_error(at, "duplicate task name '%s' (first defined at %s)", t.name, self.tasks[t.name].at)
  end
  if type(t.run) ~= "function" then def_error(at, "task '%s': run must be a function", t.name) end
  if t.after ~= nil and type(t.after) ~= "table" then
    def_error(at, "task '%s': after must be a list of task names", t.name)
  end
  for _, f in ipairs({ "foreach", "key" }) do
    if t[f] ~= nil and type(t[f]) ~= "function" then
      def_error(at, "task '%s': %s must be a function", t.name, f)
    end
  end
  for _, f in ipairs({ "retries", "backoff", "timeout" }) do
    if t[f] ~= nil and (type(t[f]) ~= "number" or t[f] < 0) then
      def_error(at, "task '%s': %s must be a non-negative number", t.name, f)
    end
  end
  if is_final and (t.foreach or t.after) then
    def_error(at, "final task '%s' cannot have foreach or after: it runs after everything", t.name)
  end
end

function Workflow:task(t)
  local at = where(2)
  check_task(self, t, at, false)
  local rec = { name = t.name, run = t.run, after = t.after or {}, foreach = t.foreach,
    key = t.key, retries = math.tointeger(t.retries) or 0, backoff = t.backoff or 1,
    timeout = t.timeout, at = at, description = t.description }
  self.tasks[t.name] = rec
  self.order[#self.order + 1] = t.name
  return self
end

function Workflow:final(t)
  local at = where(2)
  if self.final_task then
    def_error(at, "workflow '%s' already has a final task ('%s' at %s)", self.name,
      self.final_task.name, self.final_task.at)
  end
  check_task(self, t, at, true)
  self.final_task = { name = t.name, run = t.run, after = {}, retries = math.tointeger(t.retries) or 0,
    backoff = t.backoff or 1, timeout = t.timeout, at = at, final = true }
  return self
end

--- Check dependencies and cycles. Returns the workflow, or raises with file:line.
function Workflow:validate()
  for _, name in ipairs(self.order) do
    local t = self.tasks[name]
    for _, dep in ipairs(t.after) do
      if dep == name then def_error(t.at, "task '%s' depends on itself", name) end
      if not self.tasks[dep] then
        if self.final_task and dep == self.final_task.name then
          def_error(t.at, "task '%s' depends on the final task '%s'", name, dep)
        end
        def_error(t.at, "task '%s' depends on unknown task '%s'", name, tostring(dep))
      end
    end
  end
  -- Kahn's algorithm; what is left over lies on a cycle.
  local indeg, users = {}, {}
  for _, name in ipairs(self.order) do
    indeg[name] = #self.tasks[name].after
    for _, dep in ipairs(self.tasks[name].after) do
      users[dep] = users[dep] or {}
      table.insert(users[dep], name)
    end
  end
  local queue, seen = {}, 0
  for _, name in ipairs(self.order) do if indeg[name] == 0 then queue[#queue + 1] = name end end
  local i = 1
  while queue[i] do
    local n = queue[i]
    i = i + 1
    seen = seen + 1
    for _, u in ipairs(users[n] or {}) do
      indeg[u] = indeg[u] - 1
      if indeg[u] == 0 then queue[#queue + 1] = u end
    end
  end
  if seen < #self.order then
    local cyc = {}
    for _, name in ipairs(self.order) do if indeg[name] > 0 then cyc[#cyc + 1] = name end end
    local first = self.tasks[cyc[1]]
    def_error(first.at, "workflow '%s' has a cycle among tasks: %s", self.name, table.concat(cyc, ", "))
  end
  self.topo = queue
  return self
end

--- Tasks in dependency order (after validate).
function Workflow:sorted()
  if not self.topo then self:validate() end
  return self.topo
end

--- Load a workflow file (workflows/<name>.lua or a path) and validate it.
function M.load(name_or_path)
  local host = require("gf.host")
  local path = name_or_path
  if not path:find("/", 1, true) and not path:match("%.lua$") then
    path = ("%s/workflows/%s.lua"):format(host.root(), name_or_path)
  end
  local chunk, err = loadfile(path, "t")
  if not chunk then return nil, err, "not_found" end
  local ok, wf = pcall(chunk)
  if not ok then return nil, tostring(wf), "invalid_input" end
  if not M.is_workflow(wf) then
    return nil, ("%s: a workflow file must return gf.flow.workflow(...)"):format(path), "invalid_input"
  end
  local vok, verr = pcall(wf.validate, wf)
  if not vok then return nil, tostring(verr), "invalid_input" end
  wf.path = path
  return wf
end

return M
