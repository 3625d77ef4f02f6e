--- create_config: write the backfill YAML config template for an environment (ops, uat, sit).
--
--   gfhost run create_config --env uat --filename backfill-uat.yaml [--force]
--
-- The original's create-backfill-config (source-systems §1.7). Per environment it fills in
--   ops, uat: cmr <env>, provider pocloud,    cumulus <env>, aws_profile ngap-services-<env>
--   sit:      cmr uat,   provider pocumulus,  cumulus sit,   aws_profile ngap-services-sit
-- and `use_data_url: true` (uncommented, as the original); every other backfill option is listed
-- commented out with its default or an example. The keys are the backfill's option names, so
-- `gfhost run backfill --config FILE ...` reads them (command-line options win). --filename -
-- writes to stdout. An existing file is kept unless --force (the original overwrote it).
-- Exit 2 for bad options or an existing file, 1 when the file cannot be written.
local host = require("gf.host")
local args = require("gf.args")
local fs = require("gf.fs")

local ENVS = {
  ops = { cmr = "ops", provider = "pocloud", cumulus = "ops", aws_profile = "ngap-services-ops" },
  uat = { cmr = "uat", provider = "pocloud", cumulus = "uat", aws_profile = "ngap-services-uat" },
  sit = { cmr = "uat", provider = "pocumulus", cumulus = "sit", aws_profile = "ngap-services-sit" },
}

local function fail(msg, code)
  host.fail(msg, code or 2)
end

local opts = args.parse({
  name = "create_config", version = "1.0.0",
  description = "Write the backfill YAML config template for an environment.",
  options = {
    { name = "env", type = "choice", choices = { "ops", "uat", "sit" }, required = true },
    { name = "filename", type = "string", required = true, help = "file to write, or - for stdout" },
    { name = "force", type = "boolean", help = "overwrite an existing file" },
  },
}, ...)

local e = ENVS[opts.env]
local text = ([[
# Backfill configuration for %s (gfhost run create_config --env %s).
# Use it with: gfhost run backfill --config THIS_FILE --collection NAME --footprint on --image on --dmrpp off
# Command-line options win over this file (an explicit --page-limit 0 too). Quote on/off/force:
# unquoted, YAML reads them as booleans.

cmr: %s                          # ops | uat | sit (or cmr_url: any CMR base URL)
provider: %s
cumulus: %s                      # ops | uat | sit | swot-sit | swot-uat | swot-ops
aws_profile: %s

use_data_url: true               # derive bucket/key from the GET DATA https URL when no s3:// URL

# collection: MODIS_A-JPL-L2P-v2019.0
# start_date: "2020-01-01T00:00:00Z"
# end_date: "2020-12-31T23:59:59Z"
# cycles: "[1, 2]"
# sort_order: ascending           # ascending | descending
# page_size: 2000
# page_limit: 5                   # 0 or false: every page
# geometries: [GPolygons, Lines]  # geometry keys that count as a footprint

# footprint: "on"                 # off | on | force
# image: "on"                     # off | on | force
# dmrpp: "off"                    # off | on | force
# dmrpp_min_version: "3.21.1-367"

# cumulus_configurations: /path/to/cumulus-configurations
# default_message_config: /path/to/default_message_config.json
# sns_arn: arn:aws:sns:us-west-2:123456789012:PREFIX-sns
# message_file: messages.txt      # or stdout
# message_limit: 100
# preview: true
# user: YOUR_NAME

# log_level: INFO
# log_file: backfill.log
]]):format(opts.env, opts.env, e.cmr, e.provider, e.cumulus, e.aws_profile)

if opts.filename == "-" then
  io.stdout:write(text)
  return 0
end
if fs.exists(opts.filename) and not opts.force then
  fail(("Error: %s exists (use --force to overwrite it)"):format(opts.filename), 2)
end
local ok, msg = fs.write_atomic(opts.filename, text)
if not ok then fail("Error: " .. msg, 1) end
io.stderr:write(("Wrote %s config to %s\n"):format(opts.env, opts.filename))
return 0
