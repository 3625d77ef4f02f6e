--- VIIRS nightlights (SEZ-U): per month discover, download and zonal statistics of the DNB tiles.
--
--   gfhost run viirs --span 201201..201805 [--out DIR|s3://bucket/sezu-stats/] ...  (scripts/viirs.lua)
--   gfhost run workflows/viirs.lua --param span=201201..201203 --param out=out/viirs
--   gfhost dag viirs --out dag/ --param span=201201..201203 --param out=/data/viirs
--   gfhost task viirs 'month[201202]' --param span=201201..201203 ...
--
-- Tasks: `months` expands the collection template over the span (one item per month, the
-- original generateCollections); `month` runs once per month (viirs.month: discover, download,
-- zonal statistics, CSVs; one retry after 2 s, which
-- redoes only the tiles without CSVs); the final `report` logs the months that did not
-- complete. Parameters: lib/viirs/params.lua (span, collection, host, out, zones, tiles, work,
-- downloads, retries, extract, keep). docs/viirs.md has the whole story.
local flow = require("gf.flow")

local wf = flow.workflow("viirs", {
  description = "VIIRS DNB monthly tiles: discover, download, zonal statistics per SEZ zone as CSV.",
})

local function params(ctx)
  local p, err = require("viirs.params").from(ctx.params)
  if not p then error(err, 0) end
  return p
end

wf:task {
  name = "months",
  run = function(ctx)
    local collection = require("viirs.collection")
    local p = params(ctx)
    local text, c = collection.load(p.collection)
    if not text then error(c, 0) end
    local items, err = collection.plan(text, c, { span = p.span })
    if not items then error(err, 0) end
    return items
  end,
}

wf:task {
  name = "month",
  after = { "months" },
  foreach = function(ctx) return ctx.output.months end,
  key = function(item) return item.month end,
  retries = 1,
  backoff = 2,
  run = function(ctx, item)
    return require("viirs.month").run(item, params(ctx), ctx.log)
  end,
}

wf:final {
  name = "report",
  run = function(ctx, outcomes)
    local bad = {}
    for id, o in pairs(outcomes) do
      if o.status ~= "completed" then bad[#bad + 1] = ("%s %s%s"):format(id, o.status,
        o.error and (": " .. tostring(o.error)) or "") end
    end
    table.sort(bad)
    local log = ctx.log or require("gf.log")
    for _, line in ipairs(bad) do log.warn("viirs: " .. line) end
    return { not_completed = #bad }
  end,
}

return wf
