--- serve.api: the JSON API of `gfhost serve` as plain functions over a gf.state store.
--
-- local api = require("serve.api").new(store, {allow_actions = false, clock = gf.time.now,
--   stats_ttl = 5, stats_background = true, collections_workflows = {"<collections>_<workflow>"}})
-- Every function takes the request's query (or decoded body) table of strings and returns
-- `status, body`: body a Lua table (JSON for the HTTP layer). Bad input is 400 with
-- {error = "..."}; a storage failure 503 with the backend's message (no secrets in it: gf.state
-- messages name tables and files, never credentials).
--
--   api:runs(q)        GET /api/runs?limit=&next=
--   api:run(id, q)     GET /api/runs/<id>?status=failed|all|<status>&limit=&next=
--   api:payloads(q)    GET /api/payloads?collections_workflow=&state=&since=&limit=&next=&interval=
--   api:health(q)      GET /api/health
--   api:action(name, body, who)   POST /api/actions/<name> (rerun-node, rerun-payload)
--
-- Sizes are bounded: pages of at most 200 entries (default 50), error texts cut at 2,000
-- characters, series at 31 days. Passwords in URLs inside texts are masked. Records written by others are passed through as data; the
-- page escapes every value when it shows it.
local state_mod = require("gf.state")
local json = require("gf.json")
local arr = json.array -- lists stay JSON arrays when empty

local M = {}

M.MAX_LIMIT = 200
M.DEFAULT_LIMIT = 50
M.MAX_TEXT = 2000
M.HEALTH_PREFIX = "health/"
M.ACTION_PREFIX = "action/"
M.RERUN_PREFIX = "rerun/payload/"
M.WINDOWS = { hour = 3600, day = 86400, week = 7 * 86400 }
M.STALE_AFTER = 120 -- a health record not rewritten for this long is reported stale

local A = {}
A.__index = A

function M.new(store, opts)
  opts = opts or {}
  return setmetatable({ store = store, allow_actions = opts.allow_actions == true,
    clock = opts.clock or require("gf.time").now, stats_ttl = opts.stats_ttl or 5,
    stats_background = opts.stats_background ~= false, stats_cache = {}, seq = 0,
    collections_workflows = opts.collections_workflows or {} }, A)
end

local function bad(msg) return 400, { error = msg } end

local function failed(msg, code)
  if code == "invalid_input" then return 400, { error = tostring(msg) } end
  if code == "not_found" then return 404, { error = tostring(msg) } end
  return 503, { error = tostring(msg), code = code }
end

-- Text from records for the page: a password in a URL (scheme://user:password@host) is masked,
-- long texts are cut at MAX_TEXT characters.
local function cut(s)
  if type(s) ~= "string" then return s end
  s = s:gsub("(%a[%w+.-]*://[^/%s:@]*):[^/%s@]*@", "%1:***@")
  if #s <= M.MAX_TEXT then return s end
  return s:sub(1, M.MAX_TEXT) .. "…"
end
M.clean_text = cut

local function limit_of(q)
  if q.limit == nil or q.limit == "" then return M.DEFAULT_LIMIT end
  local n = tonumber(q.limit)
  if not n or n ~= math.floor(n) or n < 1 or n > M.MAX_LIMIT then
    return nil, ("limit must be an integer in 1..%d"):format(M.MAX_LIMIT)
  end
  return math.tointeger(n)
end

-- ISO 8601 UTC (as gf.state writes it) -> epoch seconds, or nil.
local function epoch(iso)
  if type(iso) ~= "string" then return nil end
  local y, mo, d, h, mi, s, frac = iso:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)(%.?%d*)")
  if not y then return nil end
  -- days from civil (proleptic Gregorian), no dependence on the local time zone
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo <= 2 then y = y - 1 end
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (mo + (mo > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
    + (tonumber("0" .. frac) or 0)
end
M.epoch = epoch

-- {====== runs ======

-- workflow name per run id, from the "run/<id>" meta records gf.flow writes
function A:_workflows()
  local rows = self.store:list_meta("run/", { limit = 1000 })
  local out = {}
  for _, r in ipairs(rows or {}) do
    if type(r.value) == "table" then out[r.key:sub(5)] = r.value.workflow end
  end
  return out
end

local ACTIVE = { queued = true, running = true }

local function run_summary(r, workflow)
  local status = "completed"
  local active = false
  for st, n in pairs(r.counts) do
    if n > 0 and ACTIVE[st] then active = true end
  end
  if active then
    status = "running"
  elseif (r.counts.failed or 0) > 0 then
    status = "failed"
  elseif (r.counts.interrupted or 0) > 0 then
    status = "interrupted"
  end
  return { run_id = r.run_id, workflow = workflow or r.run_id:match("^(.-)%-%x%x%x%x%x%x%x%x$")
      or r.run_id, nodes = r.nodes, counts = r.counts, started = r.first,
    ended = (not active) and r.last or nil, status = status }
end

function A:runs(q)
  q = q or {}
  local limit, lerr = limit_of(q)
  if not limit then return bad(lerr) end
  local runs, nxt, total = self.store:list_runs({ limit = limit,
    next = q.next ~= "" and q.next or nil })
  if not runs then return failed(nxt, total) end
  local wfs = self:_workflows()
  local out = {}
  for i, r in ipairs(runs) do out[i] = run_summary(r, wfs[r.run_id]) end
  return 200, { runs = arr(out), next = nxt, total = total }
end

function A:run(id, q)
  q = q or {}
  if type(id) ~= "string" or id == "" or #id > 512 then return bad("run id: 1..512 characters") end
  local limit, lerr = limit_of(q)
  if not limit then return bad(lerr) end
  local offset = 0
  if q.next and q.next ~= "" then
    offset = tonumber(q.next:match("^n(%d+)$") or "")
    if not offset then return bad("bad next-page token") end
  end
  local status = q.status
  if status == nil or status == "" then status = "failed" end
  local nodes, msg, code = self.store:list_nodes(id, status ~= "all" and { status = status } or nil)
  if not nodes then return failed(msg, code) end
  -- the run's summary (counts over every node)
  local all = status == "all" and nodes or self.store:list_nodes(id)
  if not all then return failed("list_nodes " .. id) end
  if #all == 0 then return 404, { error = ("run %s: no nodes recorded"):format(id) } end
  local counts, first, last = {}, nil, nil
  for _, n in ipairs(all) do
    counts[n.status] = (counts[n.status] or 0) + 1
    local s = n.started or n.updated
    if not first or s < first then first = s end
    if not last or n.updated > last then last = n.updated end
  end
  local wf = self.store:get_meta("run/" .. id)
  local summary = run_summary({ run_id = id, counts = counts, nodes = #all, first = first,
    last = last }, wf and type(wf.value) == "table" and wf.value.workflow or nil)
  local page = {}
  for i = offset + 1, math.min(offset + limit, #nodes) do
    local n = nodes[i]
    local s, u = epoch(n.started), epoch(n.updated)
    page[#page + 1] = { node = n.node, status = n.status, attempts = n.attempts,
      error = cut(n.error), started = n.started, updated = n.updated,
      duration_s = (s and u and not ACTIVE[n.status]) and math.floor((u - s) * 1000 + 0.5) / 1000
        or nil }
  end
  summary.nodes_total = summary.nodes
  summary.status_filter = status
  summary.nodes = arr(page)
  summary.next = offset + limit < #nodes and ("n%d"):format(offset + limit) or nil
  summary.matching = #nodes
  return 200, summary
end

-- }======

-- {====== payloads ======

local function item_row(it)
  local execs = it.executions or {}
  return { payload_id = it.payload_id, itemids = it.itemids, state = it.state,
    created = it.created, updated = it.updated, last_error = cut(it.last_error),
    execution = execs[#execs], executions = #execs }
end

-- Payload statistics per (collections-workflow, interval), computed at most every stats_ttl
-- seconds: a fresh value is served from the cache; an older one is served as it is while one
-- background task computes the next (stale-while-revalidate), so only the first request for a
-- key waits for the pass over the state. stats_background = false computes in the request.
function A:_compute_stats(key, cw, interval)
  local r, msg, code = self.store:payload_stats({ collections_workflow = cw,
    windows = M.WINDOWS, interval = interval })
  local c = self.stats_cache[key]
  if r then
    if not c then -- bounded: at most 64 keys (collections-workflow x interval) are kept
      self.stats_keys = (self.stats_keys or 0) + 1
      if self.stats_keys > 64 then
        self.stats_cache, self.stats_keys = {}, 1
      end
    end
    self.stats_cache[key] = { at = self.clock(), value = r }
  elseif c then
    c.refreshing = nil
  end
  return r, msg, code
end

function A:_stats(cw, interval)
  local key = cw .. "\0" .. interval
  local c = self.stats_cache[key]
  if c and c.value then
    if self.clock() - c.at < self.stats_ttl then return c.value end
    if self.stats_background then
      if not c.refreshing then
        c.refreshing = true
        require("gf.task").spawn(function() self:_compute_stats(key, cw, interval) end)
      end
      return c.value
    end
  end
  return self:_compute_stats(key, cw, interval)
end

--- Compute the payload statistics of the first `max` collections-workflows (those given, then
--- those the backend lists) for both intervals before the first request, so that the page's
--- first view is answered from the cache (a pass over 100,000 DynamoDB records takes seconds).
--- Returns how many were computed.
function A:warm(max)
  local list = {}
  for _, cw in ipairs(self.collections_workflows) do list[#list + 1] = cw end
  for _, cw in ipairs(self.store:collections_workflows(max or 8) or {}) do list[#list + 1] = cw end
  local n, seen = 0, {}
  for _, cw in ipairs(list) do
    if not seen[cw] and n < (max or 8) then
      seen[cw] = true
      n = n + 1
      for _, interval in ipairs({ "hour", "day" }) do
        self:_compute_stats(cw .. "\0" .. interval, cw, interval)
      end
    end
  end
  return n
end

function A:payloads(q)
  q = q or {}
  local cw = q.collections_workflow
  if cw == nil or cw == "" then
    local list, msg, code = self.store:collections_workflows(M.MAX_LIMIT)
    if not list and code ~= "invalid_input" then return failed(msg, code) end
    -- the ones given to `gfhost serve --collections-workflow` first, then the listed ones
    local out, seen = {}, {}
    for _, l in ipairs({ self.collections_workflows, list or {} }) do
      for _, key in ipairs(l) do
        if not seen[key] and #out < M.MAX_LIMIT then
          seen[key] = true
          out[#out + 1] = key
        end
      end
    end
    return 200, { collections_workflows = arr(out), listed = list ~= nil }
  end
  if #cw > 1024 then return bad("collections_workflow: at most 1024 characters") end
  local limit, lerr = limit_of(q)
  if not limit then return bad(lerr) end
  local interval = q.interval
  if interval == nil or interval == "" then interval = "hour" end
  if interval ~= "hour" and interval ~= "day" then return bad("interval must be hour or day") end
  local since = q.since
  if since == "" then since = nil end
  if since == "hour" then since = "1h" elseif since == "day" then since = "1d"
  elseif since == "week" then since = "7d" end
  local st = q.state
  if st == "" then st = nil end
  if st and not state_mod.normalize_state(st) then
    return bad(("state must be one of %s"):format(table.concat(state_mod.STATES, ", ")))
  end
  local items, nxt, code = self.store:query({ collections_workflow = cw, state = st,
    since = since, limit = limit, next = (q.next ~= "" and q.next) or nil })
  if not items then return failed(nxt, code) end
  local rows = {}
  for i, it in ipairs(items) do rows[i] = item_row(it) end
  local stats, msg
  stats, msg, code = self:_stats(cw, interval)
  if not stats then return failed(msg, code) end
  local counts = {}
  for _, s in ipairs(state_mod.STATES) do
    local t = stats.totals[s] or {}
    counts[s] = { hour = t.hour or 0, day = t.day or 0, week = t.week or 0 }
  end
  return 200, { collections_workflow = cw, state = st and state_mod.normalize_state(st) or nil,
    since = since, items = arr(rows), next = nxt, counts = counts,
    states = arr({ table.unpack(state_mod.STATES) }),
    stats_as_of = stats.now,
    series = { interval = interval, since = stats.since, now = stats.now,
      points = arr(stats.series) } }
end

-- }======

-- {====== health ======

function A:health()
  local rows, msg, code = self.store:list_meta(M.HEALTH_PREFIX, { limit = 50 })
  if not rows then return failed(msg, code) end
  local now = self.clock()
  local listeners = {}
  for _, r in ipairs(rows) do
    local v = type(r.value) == "table" and r.value or {}
    local age = epoch(r.updated) and now - epoch(r.updated)
    local per_day = {}
    if type(v.missing_per_day) == "table" then
      for i, d in ipairs(v.missing_per_day) do
        if i > 31 then break end
        if type(d) == "table" then
          per_day[#per_day + 1] = { day = tostring(d.day), missing = tonumber(d.missing) or 0 }
        end
      end
    end
    local la = type(v.last_announcement) == "table" and v.last_announcement or {}
    listeners[#listeners + 1] = {
      name = r.key:sub(#M.HEALTH_PREFIX + 1), kind = type(v.kind) == "string" and v.kind or nil,
      connected = v.connected == true, stale = age == nil or age > M.STALE_AFTER,
      reported = r.updated, since = type(v.since) == "string" and v.since or nil,
      broker = type(v.broker) == "string" and cut(v.broker) or nil,
      last_announcement = { at = type(la.at) == "string" and la.at or nil,
        topic = type(la.topic) == "string" and cut(la.topic) or nil,
        relpath = type(la.relpath) == "string" and cut(la.relpath) or nil },
      last_error = type(v.last_error) == "string" and cut(v.last_error) or nil,
      missing_per_day = arr(per_day),
    }
  end
  local acts = self.store:list_meta(M.ACTION_PREFIX, { limit = 20 }) or {}
  local actions = {}
  for i, a in ipairs(acts) do
    actions[i] = type(a.value) == "table" and a.value or {}
  end
  return 200, { ok = true, now = state_mod.iso8601(now), listeners = arr(listeners),
    actions_enabled = self.allow_actions, recent_actions = arr(actions) }
end

-- }======

-- {====== actions ======

local RERUNNABLE_NODE = { failed = true, interrupted = true }
local RERUNNABLE_PAYLOAD = { FAILED = true, INVALID = true, ABORTED = true }

function A:_record(rec)
  self.seq = self.seq + 1
  local key = ("%s%s/%d-%04d"):format(M.ACTION_PREFIX, rec.at, require("gf.host").pid(),
    self.seq)
  return self.store:put_meta(key, rec)
end

--- who = {remote = "ip"}. -> status, body
function A:action(name, body, who)
  if not self.allow_actions then
    return 403, { error = "actions are disabled (start gfhost serve with --allow-actions)" }
  end
  body = type(body) == "table" and body or {}
  local at = state_mod.iso8601(self.clock())
  local rec = { action = name, at = at, remote = who and who.remote or nil }
  if name == "rerun-node" then
    local run_id, node = body.run_id, body.node
    if type(run_id) ~= "string" or run_id == "" or type(node) ~= "string" or node == "" then
      return bad("rerun-node needs run_id and node")
    end
    local cur, msg, code = self.store:get_node(run_id, node)
    if not cur then return failed(msg, code) end
    if not RERUNNABLE_NODE[cur.status] then
      return 409, { error = ("node %s/%s is %s, not failed"):format(run_id, node, cur.status) }
    end
    local ok
    ok, msg, code = self.store:put_node(run_id, node, { status = "queued", attempts = 0 })
    if not ok then return failed(msg, code) end
    rec.run_id, rec.node = run_id, node
    rec.previous = { status = cur.status, attempts = cur.attempts, error = cut(cur.error) }
    rec.result = "queued: the next `gfhost run --run-id " .. run_id .. "` runs it"
  elseif name == "rerun-payload" then
    local id = body.payload_id
    if type(id) ~= "string" or id == "" then return bad("rerun-payload needs payload_id") end
    local item, msg, code = self.store:get(id)
    if not item then return failed(msg, code) end
    if not RERUNNABLE_PAYLOAD[item.state] then
      return 409, { error = ("payload %s is %s, not FAILED, INVALID or ABORTED"):format(id,
        item.state) }
    end
    local ok
    ok, msg, code = self.store:put_meta(M.RERUN_PREFIX .. id, { payload_id = id, requested = at,
      state = item.state })
    if not ok then return failed(msg, code) end
    rec.payload_id = id
    rec.previous = { state = item.state, last_error = cut(item.last_error) }
    rec.result = "requested: meta record " .. M.RERUN_PREFIX .. id
  else
    return 404, { error = ("unknown action %q (rerun-node, rerun-payload)"):format(tostring(name)) }
  end
  local ok, msg, code = self:_record(rec)
  if not ok then return failed(msg, code) end
  return 200, rec
end

-- }======

return M
