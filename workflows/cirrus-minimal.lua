--- cirrus-minimal: a Cirrus workflow for local mode — writes each item of the payload to the payload store and returns the output payload.
--
-- Run by the Cirrus core when a payload's process[0].workflow is "cirrus-minimal" and no Step
-- Functions ARN is configured (`gfhost run process`, `cirrus_worker --local`, `run_workflow`):
--
--   echo '{"type":"FeatureCollection","features":[{"type":"Feature","id":"item1",
--     "collection":"demo","properties":{"datetime":"2024-01-01T00:00:00Z"},"bbox":[0,0,1,1],
--     "links":[],"assets":{}}],"process":[{"workflow":"cirrus-minimal"}]}' | gfhost run process
--
-- params (set by cirrus.core): payload (the input payload), payload_id, execution,
-- payload_store (s3://bucket[/prefix] or a directory), payload_layout.
-- Tasks: `check` refuses a payload without items (InvalidInput: the record becomes INVALID) and
-- fails on purpose when process[0].tasks["cirrus-minimal"].fail is set (a string: the error
-- message; with `invalid = true` as InvalidInput); `write` (one node per item) stores the item as
-- items/<collection>/<id>.json in the payload store; `output` returns the output payload: the
-- items with a self link to where they were written and properties.updated set.
local flow = require("gf.flow")

local wf = flow.workflow("cirrus-minimal", {
  description = "Cirrus local-mode example: write each item to the payload store, return the output payload.",
})

local function options(p)
  local proc = type(p.process) == "table" and p.process[1] or {}
  local tasks = type(proc.tasks) == "table" and proc.tasks or {}
  return type(tasks["cirrus-minimal"]) == "table" and tasks["cirrus-minimal"] or {}
end

local function payload_of(ctx)
  local p = ctx.params.payload
  if type(p) ~= "table" then error("InvalidInput: no payload (this workflow is run by the Cirrus core)", 0) end
  return p
end

wf:task {
  name = "check",
  run = function(ctx)
    local p = payload_of(ctx)
    local features = type(p.features) == "table" and p.features or {}
    if #features == 0 then error("InvalidInput: the payload has no items", 0) end
    local o = options(p)
    if o.fail then
      error(((o.invalid and "InvalidInput: ") or "RuntimeError: ") .. tostring(o.fail), 0)
    end
    local items = {}
    for i, f in ipairs(features) do
      if type(f.id) ~= "string" then error(("InvalidInput: item %d has no id"):format(i), 0) end
      items[i] = f.id
    end
    return items
  end,
}

wf:task {
  name = "write",
  after = { "check" },
  foreach = function(ctx) return ctx.output.check end,
  key = function(id) return id end,
  retries = 1,
  backoff = 0.2,
  run = function(ctx, id)
    local json = require("gf.json")
    local p = payload_of(ctx)
    local item
    for _, f in ipairs(p.features) do
      if f.id == id then item = f end
    end
    local store = assert(require("cirrus.payloads").open(ctx.params.payload_store or ".gfhost/payloads",
      { layout = ctx.params.payload_layout }))
    local key = ("items/%s/%s.json"):format(item.collection or "none", id)
    local url = store:url(key)
    local links = json.array()
    for _, l in ipairs(type(item.links) == "table" and item.links or {}) do
      if not (type(l) == "table" and l.rel == "self") then links[#links + 1] = l end
    end
    links[#links + 1] = { rel = "self", href = url, type = "application/geo+json" }
    item.links = links
    local ok, msg = store:put(key, json.encode(item))
    if not ok then error(msg, 0) end
    return url
  end,
}

wf:task {
  name = "output",
  after = { "write" },
  run = function(ctx)
    local p = payload_of(ctx)
    local now = os.date("!%Y-%m-%dT%H:%M:%SZ")
    for _, f in ipairs(p.features) do
      local url = ctx.output.write[f.id]
      local links = require("gf.json").array()
      for _, l in ipairs(type(f.links) == "table" and f.links or {}) do
        if not (type(l) == "table" and l.rel == "self") then links[#links + 1] = l end
      end
      links[#links + 1] = { rel = "self", href = url, type = "application/geo+json" }
      f.links = links
      if type(f.properties) == "table" then
        f.properties.created = f.properties.created or now
        f.properties.updated = now
      end
    end
    return p
  end,
}

return wf
