--- crank.job: the claim and report steps of workflows/crank.lua.
--
--   claim(ctx) -> {ts=, triggers = {{key=, raw=, claim=, malformed=, warnings=}...}, images = {...}}
--   report(ctx, outcomes) -> {processed=, failed=, reports = {keys}}   raises after writing the
--                                                                      reports when any row failed
--
-- ctx.params: input, output, pattern, state, owner, stale, access_key_file, secret_key_file,
-- endpoint (all strings).
local M = {}

local triggers = require("crank.triggers")
local claims = require("crank.claims")

local function store_of(params)
  local store, msg = require("gf.flow.store").open(params.state or require("gf.flow.cli").default_state_path())
  if not store then error(msg, 0) end
  return store
end
M.store_of = store_of

local function stale_of(params) return tonumber(params.stale) or 1800 end

--- The images of one claimed trigger file.
local function load_trigger(input, key, raw)
  local text, msg, code = input:read(key)
  if not text then error(("read %s: %s (%s)"):format(input:url(key), tostring(msg), tostring(code)), 0) end
  return triggers.parse(text, raw)
end

function M.claim(ctx)
  local p = ctx.params
  local log = ctx.log or require("gf.log")
  local input = require("crank.convert").open_locations(p)
  local store = store_of(p)
  local ns = claims.namespace(p.input)
  local owner = p.owner or ("run " .. ctx.run_id)
  local stale = stale_of(p)
  local pattern = p.pattern or "*raw.csv"
  local objs, msg, code = input:list()
  if not objs then error(("list %s: %s (%s)"):format(p.input, tostring(msg), tostring(code)), 0) end
  local ts = triggers.timestamp(require("gf.time").now())
  local mine = {}
  for _, o in ipairs(objs) do
    local raw = triggers.raw_key_of(o.key)
    if raw then
      -- A processing file this run claimed before (a resumed run).
      if triggers.matches(pattern, raw) then
        local rec = claims.lookup(store, ns, o.key)
        if rec and rec.run == ctx.run_id then mine[#mine + 1] = { key = o.key, raw = rec.raw or raw, claim = rec.claim } end
      end
    elseif triggers.matches(pattern, o.key) then
      local pk = triggers.processing_key(o.key, ts)
      if not pk then
        log.warn("crank: trigger does not end in raw.csv; skipped", { key = o.key })
      else
        local node = claims.node_of(o.key, tostring(o.etag) .. "#" .. tostring(o.mtime))
        local won, why = claims.claim(store, ns, node, owner, stale)
        if not won then
          log.info("crank: trigger claimed elsewhere; skipped", { key = o.key, why = why })
        else
          claims.index(store, ns, pk, { claim = node, run = ctx.run_id, raw = o.key })
          local ok, rmsg, rcode = input:rename(o.key, pk)
          if not ok and rcode ~= "not_found" and input:exists(o.key) == false and input:exists(pk) then
            ok = true -- the copy is there and the source has gone: only the reply was lost
          end
          if ok then
            log.info("crank: claimed", { trigger = o.key, as = pk, run = ctx.run_id })
            mine[#mine + 1] = { key = pk, raw = o.key, claim = node }
          else
            -- Gone (another run renamed it first) or not renamed: remove a copy that may have
            -- been made (the source is kept when a rename fails) and give the claim back.
            if rcode ~= "not_found" and input:exists(o.key) then input:delete(pk) end
            claims.release(store, ns, node)
            log.warn("crank: rename failed; trigger left alone", { key = o.key, error = rmsg, code = rcode })
          end
        end
      end
    end
  end
  table.sort(mine, function(a, b) return a.key < b.key end)
  local images = {}
  for _, t in ipairs(mine) do
    local rows, malformed, warnings = load_trigger(input, t.key, t.raw)
    for _, w in ipairs(warnings) do log.warn("crank: " .. w) end
    for _, m in ipairs(malformed) do log.warn("crank: malformed row", { error = m.error }) end
    t.malformed, t.rows = malformed, #rows
    for _, r in ipairs(rows) do
      images[#images + 1] = { id = t.key .. ":" .. r.line, csv = t.key, line = r.line,
        fields = r.fields, tif = r.tif, bands = r.bands, cog = r.cog, jpg = r.jpg }
    end
  end
  store:close()
  require("crank.meter").add_total(#images)
  return { ts = ts, triggers = mine, images = images }
end

function M.image(ctx, item)
  local ok, r = pcall(require("crank.convert").image, ctx.params, item)
  if ok then
    require("crank.meter").tick(r.bytes, false)
    return r
  end
  if ctx.attempt >= M.ATTEMPTS then require("crank.meter").tick(0, true) end
  -- A table error: the runner records its message without a traceback.
  error({ message = ("%s: %s"):format(item.tif, type(r) == "table" and tostring(r.message) or tostring(r)) }, 0)
end
M.ATTEMPTS = 4 -- 1 + 3 retries

function M.report(ctx, outcomes)
  local p = ctx.params
  local log = ctx.log or require("gf.log")
  local claimed = ctx.output.claim
  if type(claimed) ~= "table" or type(claimed.triggers) ~= "table" then
    return { processed = 0, failed = 0, reports = {} } -- nothing was claimed
  end
  local input, output = require("crank.convert").open_locations(p)
  -- One listing of the output, not rows x listing (§2.7).
  local present = {}
  if #claimed.images > 0 then
    local objs, msg, code = output:list()
    if not objs and code ~= "not_found" then error(("list %s: %s"):format(p.output, tostring(msg)), 0) end
    for _, o in ipairs(objs or {}) do present[o.key] = true end
  end
  local by_csv = {}
  for _, t in ipairs(claimed.triggers) do by_csv[t.key] = { ok = {}, bad = {}, raw = t.raw or t.key } end
  for _, img in ipairs(claimed.images) do
    local node = "image[" .. img.id .. "]"
    local o = outcomes[node]
    local r = by_csv[img.csv]
    if o and o.status == "completed" and present[img.cog] and present[img.jpg] then
      r.ok[#r.ok + 1] = { line = img.line, fields = img.fields }
    else
      local why = o and o.status ~= "completed" and (o.error or o.status)
        or ("missing in the output: " .. (present[img.cog] and img.jpg or img.cog))
      local fields = {}
      for i, f in ipairs(img.fields) do fields[i] = f end
      fields[#fields + 1] = ("%s line %d: %s"):format(r.raw, img.line, tostring(why))
      r.bad[#r.bad + 1] = { line = img.line, fields = fields }
    end
  end
  local store -- opened once a trigger is done: a busy state file must not keep a report from
  local ns = claims.namespace(p.input) -- being written or a processing file from going
  local counts = { processed = 0, failed = 0, reports = {} }
  for _, t in ipairs(claimed.triggers) do
    local r = by_csv[t.key]
    for _, m in ipairs(t.malformed or {}) do
      local fields = {}
      for i, f in ipairs(m.fields) do fields[i] = f end
      fields[#fields + 1] = m.error
      r.bad[#r.bad + 1] = { line = m.line, fields = fields }
    end
    table.sort(r.ok, function(a, b) return a.line < b.line end)
    table.sort(r.bad, function(a, b) return a.line < b.line end)
    for kind, list in pairs({ processed = r.ok, failed = r.bad }) do
      if #list > 0 then
        local rows = {}
        for i, e in ipairs(list) do rows[i] = e.fields end
        local key = triggers.report_key(t.key, kind)
        local ok, msg = input:write(key, triggers.crlf_csv(rows), "text/csv")
        if not ok then error(("write %s: %s"):format(input:url(key), tostring(msg)), 0) end
        counts.reports[#counts.reports + 1] = input:url(key)
        log.info("crank: report", { key = input:url(key), rows = #rows })
      end
    end
    counts.processed, counts.failed = counts.processed + #r.ok, counts.failed + #r.bad
    local ok, msg = input:delete(t.key)
    if not ok then error(("delete %s: %s"):format(input:url(t.key), tostring(msg)), 0) end
    if t.claim then
      -- The trigger is done; its claim record only guards against a late duplicate claim, and
      -- a record left running simply expires after --stale.
      local ok_state, serr = pcall(function()
        store = store or store_of(p)
        claims.finish(store, ns, t.claim, { run = ctx.run_id, processing = t.key })
      end)
      if not ok_state then log.warn("crank: claim record not completed", { claim = t.claim, error = tostring(serr) }) end
    end
  end
  if store then store:close() end
  if counts.failed > 0 then
    error({ message = ("%d of %d rows failed; reports: %s"):format(counts.failed,
      counts.failed + counts.processed, table.concat(counts.reports, ", ")) }, 0)
  end
  return counts
end

return M
