#!/bin/sh
# gf.http throughput vs `curl --parallel` against the same local fault server (one run).
# usage: bench/http_bench.sh [gfhost binary] [requests] [concurrency]
# Both clients are usually limited by the Python server (~700 req/s on the 2-core machine);
# the ratio shows gf.http adds no overhead of its own.
set -eu
cd "$(dirname "$0")/.."
GFHOST=${1:-./build/gfhost}
N=${2:-2000}
C=${3:-32}
TMP=$(mktemp -d /tmp/httpbench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
cat > "$TMP/bench.lua" <<LUA
local fs = require("spec.support.faultserver")
local http = require("gf.http")
local task = require("gf.task")
local srv = fs.start()
local n, c = $N, $C
local urls = {}
for i = 1, n do urls[i] = srv.url .. "/status/200?body=x" end
local t0 = http.core.now()
local _, errs = task.map(urls, function(u) return assert(http.get(u)).status end, {concurrency = c})
local g = http.core.now() - t0
local f = assert(io.open("$TMP/curl.cfg", "w"))
for i = 1, n do f:write('url = "', urls[i], '"\noutput = "/dev/null"\n') end
f:close()
t0 = http.core.now()
os.execute("curl -s --parallel --parallel-max " .. c .. " -K $TMP/curl.cfg 2>/dev/null")
local k = http.core.now() - t0
srv:stop()
print(("gf.http         %5d GETs, concurrency %d: %6.0f req/s (%d failures)"):format(n, c, n / g, #errs))
print(("curl --parallel %5d GETs, concurrency %d: %6.0f req/s"):format(n, c, n / k))
print(("ratio gf.http / curl: %.2f"):format(k / g))
LUA
"$GFHOST" run "$TMP/bench.lua"
