-- The probe workflow and shell helpers of the gfhost worker specs (flow_worker_spec and
-- flow_worker_dynamodb_spec).
local fs = require("gf.fs")

local M = {}

-- items (params.n, default 4) -> work (one node per item: logs "<pid> <node>" to <dir>/starts,
-- sleeps params.sleep, fails for item params.fail, appends the node to <dir>/effects) -> join;
-- the final node appends "report <number of outcomes>" to <dir>/effects.
local WF = [[
local flow = require("gf.flow")
local wf = flow.workflow(@NAME@)
wf:task { name = "items", run = function(ctx)
  local list = {}
  for i = 1, tonumber(ctx.params.n or "4") do list[i] = ("i%02d"):format(i) end
  return list
end }
wf:task { name = "work", after = { "items" }, foreach = function(ctx) return ctx.output.items end,
  key = function(x) return x end, retries = 1, backoff = 1,
  run = function(ctx, x)
    local fs = require("gf.fs")
    assert(fs.append(ctx.params.dir .. "/starts", ("%d %s\n"):format(require("gf.host").pid(), ctx.node)))
    require("gf.task").sleep(tonumber(ctx.params.sleep or "0.1"))
    if ctx.params.fail == x then error("item " .. x .. " is bad", 0) end
    assert(fs.append(ctx.params.dir .. "/effects", ctx.node .. "\n"))
    return x:upper()
  end }
wf:task { name = "join", after = { "work" }, run = function(ctx)
  local keys = {}
  for k, v in pairs(ctx.output.work) do keys[#keys + 1] = k .. "=" .. v end
  table.sort(keys)
  return table.concat(keys, ",")
end }
wf:final { name = "report", run = function(ctx, outcomes)
  local n = 0
  for _ in pairs(outcomes) do n = n + 1 end
  assert(require("gf.fs").append(ctx.params.dir .. "/effects", "report " .. n .. "\n"))
end }
return wf
]]

--- The probe workflow's source, named `name`.
function M.workflow(name) return (WF:gsub("@NAME@", ("%q"):format(name))) end

function M.sh(cmd) return os.execute(cmd) end
function M.pause(s) os.execute(("sleep %.2f"):format(s)) end

--- The lines of `<dir>/<name>` (empty when the file does not exist).
function M.lines(dir, name)
  local out = {}
  for l in (fs.read(dir .. "/" .. name) or ""):gmatch("[^\n]+") do out[#out + 1] = l end
  return out
end

return M
