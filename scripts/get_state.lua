--- get_state: print the Cirrus state record of one payload as JSON (Cirrus' get-state).
--
--   gfhost run get_state <payload-id> [--statedb FILE|dynamodb://TABLE] [--max-time 60]
--
-- Prints {payload_id, collections, workflow, items, state, created, updated, last_error,
-- outputs, executions (console URLs), payload (the input payload's URL)}. While the record is
-- missing it asks again with exponential backoff (0.5 s, doubling, at most --max-time seconds,
-- as Cirrus does), then fails with "payload <id> not found" (exit 1). Exit 2 for bad options.
local args = require("gf.args")
local host = require("gf.host")
local json = require("gf.json")
local task = require("gf.task")
local time = require("gf.time")
local deploy = require("cirrus.deploy")
local view = require("cirrus.view")
local payload_ids = require("gf.state.payload")

local opts = args.parse({
  name = "get_state", version = "1.0.0", env_prefix = false,
  description = "Print the Cirrus state record of a payload.",
  options = deploy.options({ "statedb", "payloads", "region" }, {
    { name = "payload-id", positional = true, required = true, metavar = "PAYLOAD_ID" },
    { name = "max-time", type = "number", default = 60, help = "seconds to keep asking while the record is missing" },
  }),
}, ...)

local ok, perr = payload_ids.parse(opts.payload_id)
if not ok then host.fail("get_state: " .. perr, 2) end
local d, dmsg = deploy.open(opts, { queue = false, sfn = false, sns = false })
if not d then host.fail("get_state: " .. dmsg, 1) end

local t0, delay = time.monotonic(), 0.5
while true do
  local rec, msg, code = d.state:get(opts.payload_id)
  if rec then
    io.stdout:write(json.encode(view.item(d, rec), { pretty = true, sort_keys = true }), "\n")
    return 0
  end
  if code ~= "not_found" then host.fail("get_state: " .. msg, 1) end
  local left = opts.max_time - (time.monotonic() - t0)
  if left <= 0 then host.fail(("get_state: payload %s not found"):format(opts.payload_id), 1) end
  task.sleep(math.min(delay, left))
  delay = delay * 2
end
