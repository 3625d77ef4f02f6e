--- backfill.run: run the backfill (scripts/backfill.lua) in-process, as a library.
--
-- run(argv) -> summary | nil, message, exit, summary?
--   argv: the backfill command line as a list of strings, exactly as after `gfhost run
--   backfill`. scripts/backfill.lua is loaded afresh for every call, so options, counters and
--   the message writer belong to that one run; its report goes to stderr as usual.
--   summary = {granules =, footprint =, image =, dmrpp =, both =, failed =, messages =,
--     sent =, send_failed =, cmr_failed =, preview =}  (messages: counted, or would be sent in
--     preview; sent: accepted by every writer).
--   An expected failure of the run (bad options: exit 2; granule, message or CMR failures:
--   exit 1, with the summary of the finished run) and any other error (exit 1, message only)
--   come back as nil, message, exit, summary — they never raise, so one collection's failure
--   cannot stop a caller's loop. A non-table argv raises (misuse).
local host = require("gf.host")

local M = {}

function M.run(argv)
  if type(argv) ~= "table" then
    error(("bad argument #1 to 'run' (table expected, got %s)"):format(type(argv)), 2)
  end
  local chunk, lerr = host.load_script("backfill")
  if not chunk then return nil, lerr, 1 end
  local words = {}
  for i, a in ipairs(argv) do
    if type(a) ~= "string" then
      error(("bad argument #1 to 'run' (argv[%d] is a %s, string expected)"):format(i, type(a)), 2)
    end
    words[i] = a
  end
  local ok, res = pcall(chunk, table.unpack(words))
  if ok then return res end
  if type(res) == "table" and res.message ~= nil then
    return nil, tostring(res.message), res.exit or 1, res.summary
  end
  return nil, tostring(res), 1
end

return M
