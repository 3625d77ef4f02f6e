--- Example workflow: fan out over a CSV, retry, time out, hash on the worker pool, report.
--
--   gfhost run example --param input=config/example/stations.csv --param out=out/example
--   gfhost run example --list                       # the task graph
--   gfhost run example ... --rerun-failed           # give failed nodes fresh attempts
--   gfhost dag example --out dag/                   # the same graph as HTCondor DAGMan files
--   gfhost worker --queue "$Q" &                    # SQS workers (as many as you like), then
--   gfhost run example --executor sqs --queue "$Q"  # enqueue the nodes instead of running here
--
-- Features (docs/flow.md): a DAG (stations -> describe -> checksums), a foreach fan-out
-- (describe: one node per CSV row), retries with backoff and a timeout (describe), native modules
-- inside tasks (gf.csv, gf.json, gf.fs, sha256 on the worker pool) and a final node (report).
-- Tasks: `stations` reads the CSV; `describe` runs once per station (retries 2, timeout 30 s)
-- and writes <out>/<station>.json atomically; `checksums` hashes every file written (sha256 on
-- the worker pool); the final node `report` always runs and writes <out>/report.json with
-- every node's outcome. A second run with the same parameters skips what is done.
local flow = require("gf.flow")

local wf = flow.workflow("example", {
  description = "Fan out over a station CSV, write one JSON per station, hash them, report.",
})

local function param(ctx, name, default)
  local v = ctx.params[name] or default
  if not v then error(("parameter '%s' is required (--param %s=...)"):format(name, name), 0) end
  return v
end

wf:task {
  name = "stations",
  run = function(ctx)
    local csv = require("gf.csv")
    local path = param(ctx, "input", "config/example/stations.csv")
    local reader = assert(csv.reader(path, { header = true }))
    local list = {}
    for row, err in reader:rows() do
      if not row then error(err, 0) end
      list[#list + 1] = { id = row.station, lon = tonumber(row.lon), lat = tonumber(row.lat) }
    end
    reader:close()
    return list
  end,
}

wf:task {
  name = "describe",
  after = { "stations" },
  foreach = function(ctx) return ctx.output.stations end,
  key = function(st) return st.id end,
  retries = 2,
  backoff = 0.5,
  timeout = 30,
  run = function(ctx, st)
    local fs, json = require("gf.fs"), require("gf.json")
    local out = param(ctx, "out", "out/example")
    assert(fs.mkdir_p(out))
    if ctx.params.fail == st.id then error("station " .. st.id .. " rejected (fail=" .. st.id .. ")", 0) end
    local doc = { station = st.id, lon = st.lon, lat = st.lat,
      hemisphere = st.lat >= 0 and "N" or "S", attempt = ctx.attempt }
    local path = ("%s/%s.json"):format(out, st.id)
    assert(fs.write_atomic(path, json.encode(doc)))
    return path
  end,
}

wf:task {
  name = "checksums",
  after = { "describe" },
  run = function(ctx)
    local fs, task = require("gf.fs"), require("gf.task")
    local paths = {}
    for _, p in pairs(ctx.output.describe) do paths[#paths + 1] = p end
    table.sort(paths)
    local sums = task.map(paths, function(p) return assert(fs.sha256(p)) end, { concurrency = 4 })
    local out = {}
    for i, p in ipairs(paths) do out[p] = sums[i] end
    return out
  end,
}

wf:final {
  name = "report",
  run = function(ctx, outcomes)
    local fs, json = require("gf.fs"), require("gf.json")
    local out = param(ctx, "out", "out/example")
    local counts = {}
    for _, o in pairs(outcomes) do counts[o.status] = (counts[o.status] or 0) + 1 end
    assert(fs.mkdir_p(out))
    assert(fs.write_atomic(out .. "/report.json", json.encode({ run_id = ctx.run_id,
      counts = counts, nodes = outcomes }, { pretty = true })))
  end,
}

return wf
