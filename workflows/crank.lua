--- CHTC COG crank: claim *raw.csv triggers, one COG + JPEG node per image, processed/failed reports.
--
-- Normally started by `gfhost run crank` (scripts/crank.lua: the cron lock, adoption of dead
-- runs, the parameters below). The same graph runs under every executor:
--
--   gfhost run crank --input s3://in --output s3://out ...             local executor (scripts/crank.lua)
--   gfhost run crank ... --executor sqs --queue URL                    nodes on `gfhost worker`s
--   gfhost run crank ... --dag DIR                                     HTCondor DAGMan files; or
--   gfhost dag crank --out DIR --state S --param input=... --param output=... --param state=S
--   gfhost task crank 'image[<csv>:<line>]' --run-id ID --state S --param ...   one node
--
-- Tasks: `claim` lists the input, claims each matching trigger (a conditional claim record in
-- gf.state, then the rename to <x>processing-<TS>.csv) and parses the claimed CSVs; `image`
-- runs once per image row (download, COG LZW, layout check, JPEG q75, upload both; 3 retries);
-- the final node `report` writes <x>processed-<TS>.csv / <x>failed-<TS>.csv beside each trigger,
-- removes the processing file and fails when any row failed. Parameters (--param k=v): input,
-- output, pattern (*raw.csv), state (where claim records live; default the --state default),
-- owner (the claim holder), stale (seconds), access_key_file, secret_key_file, endpoint.
local flow = require("gf.flow")

local wf = flow.workflow("crank", {
  description = "Claim CSV triggers; convert every listed GeoTIFF to a COG and a JPEG; report.",
})

wf:task {
  name = "claim",
  retries = 2,
  backoff = 1,
  run = function(ctx) return require("crank.job").claim(ctx) end,
}

wf:task {
  name = "image",
  after = { "claim" },
  foreach = function(ctx) return ctx.output.claim.images end,
  key = function(item) return item.id end,
  retries = 3,
  backoff = 0.25,
  timeout = 3600,
  run = function(ctx, item) return require("crank.job").image(ctx, item) end,
}

wf:final {
  name = "report",
  run = function(ctx, outcomes) return require("crank.job").report(ctx, outcomes) end,
}

return wf
