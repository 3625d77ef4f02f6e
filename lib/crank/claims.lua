--- crank.claims: who owns a trigger, as conditional node records in gf.state (SQLite, or
-- DynamoDB for hosts that share nothing).
--
-- S3 has no atomic rename, so the claim is a lease record decided by the store: node
-- "<trigger key>#<ETag>" under the run id `namespace(input)`. store:lease_node is one
-- transaction on SQLite and one conditional UpdateItem on DynamoDB, so of two crank processes
-- claiming one trigger version exactly one wins; the loser skips it. The winner then renames
-- <x>raw.csv to <x>processing-<TS>.csv. The lease lasts `stale` seconds and is renewed while its
-- run lives; a run that died leaves a lease that runs out, and a later run adopts the trigger.
-- An index record "proc:<processing key>" says which claim and which workflow run hold a
-- processing file, so a later run resumes that run (its completed images are skipped).
--
--   namespace(input_url) -> run id of the claim records
--   claim(store, ns, node, owner, stale) -> true | false, why ("completed", "leased", ...)
--   index(store, ns, processing_key, {claim=, run=, raw=}) / lookup(store, ns, key) -> rec|nil
--   renew(store, ns, node, owner, stale) -> bool
--   finish(store, ns, node, output)           the trigger is done: the record is completed
--   release(store, ns, node)                  give a claim back (the rename did not happen)
local M = {}

function M.namespace(input_url)
  return "crank-claims:" .. require("gf.fs").sha256_string(input_url):sub(1, 16)
end

local function now() return require("gf.time").now() end

function M.node_of(key, etag)
  return key .. "#" .. tostring(etag or "")
end

function M.claim(store, ns, node, owner, stale)
  local t = now()
  local ok, rec = store:lease_node(ns, node, { worker = owner, ["until"] = t + stale, now = t })
  if ok then return true end
  local state = require("gf.state")
  return false, (rec and state.lease_refusal(rec, owner, t)) or "refused"
end

function M.renew(store, ns, node, owner, stale)
  return store:renew_lease(ns, node, { worker = owner, ["until"] = now() + stale }) == true
end

function M.index(store, ns, processing_key, info)
  local ok, msg = store:put_node(ns, "proc:" .. processing_key, { status = "completed", output = info })
  if not ok then error(("crank claims: %s"):format(tostring(msg)), 0) end
end

function M.lookup(store, ns, processing_key)
  local rec, msg, code = store:get_node(ns, "proc:" .. processing_key)
  if rec then return rec.output end
  if code ~= "not_found" then error(("crank claims: %s"):format(tostring(msg)), 0) end
  return nil
end

function M.finish(store, ns, node, output)
  local ok, msg = store:put_node(ns, node, { status = "completed", attempts = 1, output = output or {} })
  if not ok then error(("crank claims: %s"):format(tostring(msg)), 0) end
end

function M.release(store, ns, node)
  local ok, msg = store:put_node(ns, node, { status = "failed", attempts = 0, error = "released" })
  if not ok then error(("crank claims: %s"):format(tostring(msg)), 0) end
end

return M
