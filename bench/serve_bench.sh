#!/bin/bash
# `gfhost serve`: API latency p50/p99 at N payload records (and 10,000 workflow nodes in 100
# runs) on SQLite and on DynamoDB (dynalite), and the page's time to first full render in
# headless Chromium.
# usage: [N=100000] [DDB_N=$N] [CALLS=50] [RENDERS=5] [DDB_ENDPOINT=http://127.0.0.1:19002|""]
#        [PARTS="sqlite dynamodb http render"] bench/serve_bench.sh
# Seeding: SQLite through gf.state in transactions of 1,000 transitions; dynalite with
# BatchWriteItem (25 items a request, 8 requests in flight) of records in the Cirrus format.
# Latency is measured on the API functions (lib/serve/api.lua, what each HTTP request runs),
# CALLS calls per endpoint, the payload statistics computed afresh on every call (cache off) and
# again with the page's 5-second cache; then over HTTP through `gfhost serve` (SQLite).
# Render: Chromium navigates to the page and waits for its body[data-ready] (health, runs,
# payload counts, item table and chart all drawn from the API), RENDERS times, median.
# DDB_ENDPOINT="" skips DynamoDB.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
gfhost=${GFHOST_BIN:-$root/build/gfhost}
n=${N:-100000}
ddb_n=${DDB_N:-$n}
calls=${CALLS:-50}
renders=${RENDERS:-5}
endpoint=${DDB_ENDPOINT-http://127.0.0.1:19002}
parts=" ${PARTS:-sqlite dynamodb http render} "
tmp=$(mktemp -d /tmp/gfservebench.XXXXXX)
serve_pid=""
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

cat >"$tmp/bench.lua" <<'EOF'
-- seed N payloads and 10,000 nodes, then time every API endpoint
local state = require("gf.state")
local time = require("gf.time")
local task = require("gf.task")
local json = require("gf.json")
local backend, n, calls = os.getenv("BACKEND"), tonumber(os.getenv("N")), tonumber(os.getenv("CALLS"))
local CW = "sentinel-2-l2a_cog"
local STATES = { "COMPLETED", "COMPLETED", "COMPLETED", "COMPLETED", "COMPLETED", "COMPLETED",
  "FAILED", "INVALID", "ABORTED", "PROCESSING" }
local now = time.now()
local WEEK = 8 * 86400
-- record i: its state and the time of its last update (spread over the last 8 days)
local function rec(i)
  return STATES[i % #STATES + 1], now - (i * 7919 % n) / n * WEEK
end

local t0 = time.monotonic()
local store, client, dynamodb
if backend == "sqlite" then
  local t = now
  store = assert(state.open({ path = os.getenv("DB"), clock = function() return t end }))
  for b = 0, n - 1, 1000 do
    assert(store:transaction(function(s)
      for i = b + 1, math.min(b + 1000, n) do
        local st, at = rec(i)
        t = at
        local id = ("sentinel-2-l2a/workflow-cog/S2_%07d"):format(i)
        if st == "FAILED" or st == "INVALID" then
          assert(s["set_" .. st:lower()](s, id, "States.TaskFailed: item " .. i .. " <b>failed</b>"))
        elseif st == "PROCESSING" then
          assert(s:claim(id, "arn:aws:states:us-west-2:123456789012:execution:cog:" .. i))
          assert(s:set_processing(id))
        else
          assert(s["set_" .. st:lower()](s, id))
        end
      end
      return true
    end))
  end
  for r = 1, 100 do
    assert(store:transaction(function(s)
      local run = ("bench-run-%03d"):format(r)
      t = now - r * 3600
      require("gf.flow.store").note_run(s, run, "bench")
      for k = 1, 100 do
        local failed = k % 10 == 0
        assert(s:put_node(run, ("node[%03d]"):format(k), { status = failed and "failed" or "completed",
          attempts = failed and 3 or 1, error = failed and "Error: node " .. k or nil, started = t - 2 }))
      end
      return true
    end))
  end
  t = nil
  store:close()
  store = assert(state.open({ path = os.getenv("DB") }))
else
  dynamodb = require("gf.state.dynamodb")
  client = require("gf.awsjson").client({ service = "dynamodb", endpoint = os.getenv("DDB_ENDPOINT"),
    region = "us-east-1", credentials = { access_key = "test", secret_key = "test" } })
  local name = os.getenv("TABLE")
  assert(dynamodb.create_table(client, name))
  store = assert(state.open({ backend = "dynamodb", table = name, client = client }))
  local function S(s) return { S = s } end
  local function write(items)
    local pending = { [name] = items }
    for attempt = 1, 20 do
      local r = assert(client:call("BatchWriteItem", { RequestItems = pending }))
      pending = r.UnprocessedItems
      if not pending or next(pending) == nil then return end
      task.sleep(0.05 * attempt)
    end
    error("BatchWriteItem: unprocessed items left")
  end
  local batches = {}
  for b = 0, n - 1, 25 do batches[#batches + 1] = b end
  local _, errs = task.map(batches, function(b)
    local items = json.array()
    for i = b + 1, math.min(b + 25, n) do
      local st, at = rec(i)
      local ts = state.iso8601(at)
      local item = { collections_workflow = S(CW), itemids = S(("S2_%07d"):format(i)),
        state_updated = S(st .. "_" .. ts), created = S(ts), updated = S(ts),
        executions = { L = json.array({ S("arn:aws:states:us-west-2:123456789012:execution:cog:" .. i) }) } }
      if st == "FAILED" or st == "INVALID" then item.last_error = S("States.TaskFailed: item " .. i) end
      items[#items + 1] = { PutRequest = { Item = item } }
    end
    write(items)
  end, { concurrency = 8 })
  assert(#errs == 0, errs[1] and errs[1].error)
  -- 10,000 nodes in 100 runs through gf.state (PutItem each; the run index once per run)
  local runs = {}
  for r = 1, 100 do runs[r] = r end
  _, errs = task.map(runs, function(r)
    local run = ("bench-run-%03d"):format(r)
    require("gf.flow.store").note_run(store, run, "bench")
    for k = 1, 100 do
      local failed = k % 10 == 0
      assert(store:put_node(run, ("node[%03d]"):format(k), { status = failed and "failed" or "completed",
        attempts = failed and 3 or 1, error = failed and "Error: node " .. k or nil, started = now - 2 }))
    end
  end, { concurrency = 8 })
  assert(#errs == 0, errs[1] and errs[1].error)
end
local seeded = time.monotonic() - t0
assert(store:count({ collections_workflow = CW }) == n, "seeded count")

local api_mod = require("serve.api")
local function measure(label, api, fn)
  local t = {}
  for i = 1, calls do
    local c0 = time.monotonic()
    local status, body = fn(api, i)
    t[i] = (time.monotonic() - c0) * 1000
    assert(status == 200, label .. ": " .. tostring(status) .. " " .. json.encode(body))
  end
  table.sort(t)
  local p = function(q) return t[math.max(1, math.ceil(q * #t))] end
  print(("%s\t%s\t%.1f\t%.1f"):format(backend, label, p(0.5), p(0.99)))
end
local fresh = api_mod.new(store, { stats_ttl = 0, stats_background = false })
local cached = api_mod.new(store)
measure("/api/runs", fresh, function(a) return a:runs({}) end)
measure("/api/runs/<id>", fresh, function(a, i) return a:run(("bench-run-%03d"):format(i % 100 + 1), {}) end)
measure("/api/payloads (stats fresh)", fresh, function(a) return a:payloads({ collections_workflow = CW }) end)
measure("/api/payloads (served: 5 s cache, stale while refreshing)", cached, function(a) return a:payloads({ collections_workflow = CW }) end)
measure("/api/payloads?state=FAILED&since=day (cached)", cached, function(a)
  return a:payloads({ collections_workflow = CW, state = "FAILED", since = "day" }) end)
measure("/api/payloads?interval=day (stats fresh)", fresh, function(a)
  return a:payloads({ collections_workflow = CW, interval = "day" }) end)
measure("/api/health", fresh, function(a) return a:health({}) end)
print(("%s\tseeded %d payloads + 10000 nodes in %.1f s"):format(backend, n, seeded))
store:close()
if dynamodb then dynamodb.delete_table(client, os.getenv("TABLE")) end
EOF

echo "# gfhost serve bench: N=$n payloads (DynamoDB: $ddb_n), 10,000 nodes, $calls calls per endpoint"
echo "# backend	endpoint	p50 ms	p99 ms"
cd "$root"
if [[ $parts == *" sqlite "* || $parts == *" http "* || $parts == *" render "* ]]; then
  BACKEND=sqlite N=$n CALLS=$calls DB="$tmp/state.db" "$gfhost" run "$tmp/bench.lua"
fi
if [[ $parts != *" dynamodb "* ]]; then
  :
elif [ -n "$endpoint" ] && curl -s -o /dev/null --max-time 3 "$endpoint"; then
  BACKEND=dynamodb N=$ddb_n CALLS=$calls DDB_ENDPOINT=$endpoint TABLE="gfservebench-$$-$RANDOM" \
    "$gfhost" run "$tmp/bench.lua"
else
  echo "# DynamoDB skipped (DDB_ENDPOINT='$endpoint' does not answer)"
fi

# over HTTP: `gfhost serve` on the SQLite state seeded above, then API latency through it
# (gf.http from a second gfhost, one request at a time, keep-alive) and the page's first render
port=19136
if [[ $parts == *" http "* || $parts == *" render "* ]]; then
  "$gfhost" serve --state "$tmp/state.db" --port $port >/dev/null 2>&1 &
  serve_pid=$!
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/favicon.ico" && break
    sleep 0.1
  done
fi

if [[ $parts == *" http "* ]]; then
  cat >"$tmp/http.lua" <<'EOF2'
local http, time = require("gf.http"), require("gf.time")
local base, calls = os.getenv("BASE"), tonumber(os.getenv("CALLS"))
local function measure(label, path)
  local t = {}
  for i = 1, calls do
    local c0 = time.monotonic()
    local r = assert(http.get(base .. path:gsub("<i>", ("%03d"):format(i % 100 + 1))))
    t[i] = (time.monotonic() - c0) * 1000
    assert(r.status == 200, label .. ": " .. r.status)
  end
  table.sort(t)
  local p = function(q) return t[math.max(1, math.ceil(q * #t))] end
  print(("sqlite/http\t%s\t%.1f\t%.1f"):format(label, p(0.5), p(0.99)))
end
measure("GET /api/runs", "/api/runs")
measure("GET /api/runs/<id>", "/api/runs/bench-run-<i>")
measure("GET /api/payloads?collections_workflow= (5 s cache)", "/api/payloads?collections_workflow=sentinel-2-l2a_cog")
measure("GET /api/payloads?...&state=FAILED&since=day", "/api/payloads?collections_workflow=sentinel-2-l2a_cog&state=FAILED&since=day")
measure("GET /api/health", "/api/health")
measure("GET / (the page)", "/")
EOF2
  BASE="http://127.0.0.1:$port" CALLS=$calls "$gfhost" run "$tmp/http.lua"
fi

# time to first full render in Chromium
if [[ $parts != *" render "* ]]; then
  :
elif command -v chromium >/dev/null && /usr/bin/python3 -c 'import websocket' 2>/dev/null; then
  out=$(/usr/bin/python3 "$root/spec/support/serve_browser.py" render \
    "http://127.0.0.1:$port/#cw=sentinel-2-l2a_cog" --port 19137 --runs "$renders")
  echo "# render (gfhost serve, $n payloads): $out"
  median=$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print("%.0f" % (json.load(sys.stdin)["median"] * 1000))')
  echo "sqlite	page: time to first full render (median of $renders)	${median} ms"
else
  echo "# render skipped: no chromium or python3-websocket"
fi
