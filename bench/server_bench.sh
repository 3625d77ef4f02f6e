#!/bin/bash
# gf.server vs the original's FastAPI + uvicorn on the same endpoint: GET /healthz answering
# {"status":"ok"}, loaded by ApacheBench (ab) with and without keep-alive (Kubernetes probes
# open a new connection each time). Prints requests/s and server CPU per request (from
# /proc/<pid>/stat, so that a shared machine's load does not hide the server's own cost).
# usage: bench/server_bench.sh [gfhost binary] [requests] [concurrency] [rounds]
# needs: apache2-utils python3-fastapi python3-uvicorn (Debian), ports 19147-19148
set -eu
cd "$(dirname "$0")/.."
GFHOST=${1:-./build/gfhost}
N=${2:-20000}
C=${3:-32}
ROUNDS=${4:-2}
PY=/usr/bin/python3
command -v ab >/dev/null || { echo "server_bench: needs ab (apt-get install apache2-utils)" >&2; exit 2; }
$PY -c 'import fastapi, uvicorn' 2>/dev/null ||
  { echo "server_bench: needs python3-fastapi python3-uvicorn" >&2; exit 2; }
TMP=$(mktemp -d /tmp/serverbench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

cat > "$TMP/serve.lua" <<'LUA'
local server = require("gf.server")
local r = server.router()
r:get("/healthz", function() return 200, { status = "ok" } end)
assert(server.listen({ port = 19147, max_connections = 256 }, r))
LUA
cat > "$TMP/app.py" <<'PY'
from fastapi import FastAPI
app = FastAPI()

@app.get("/healthz")
def healthz():
    return {"status": "ok"}
PY

"$GFHOST" run "$TMP/serve.lua" & pids+=($!)
gf_pid=$!
(cd "$TMP" && exec $PY -m uvicorn app:app --host 127.0.0.1 --port 19148 --log-level warning) &
pids+=($!)
py_pid=$!
for port in 19147 19148; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
done
[ "$(curl -s http://127.0.0.1:19147/healthz)" = '{"status":"ok"}' ] || { echo "gfhost not up" >&2; exit 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# run <pid> <port> <ab flags...>: prints "req/s cpu_us_per_req"
run() {
  local pid=$1 port=$2
  shift 2
  local c0 c1 rps
  c0=$(cpu_ticks "$pid")
  rps=$(ab -q "$@" -n "$N" -c "$C" "http://127.0.0.1:$port/healthz" 2>/dev/null |
    awk '/^Requests per second/ {print $4} /^Non-2xx/ {print "non2xx"}' | tr '\n' ' ')
  c1=$(cpu_ticks "$pid")
  echo "$rps $(awk -v d=$((c1 - c0)) -v hz="$hz" -v n="$N" 'BEGIN {printf "%.1f", d / hz * 1e6 / n}')"
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in keepalive close; do
  flags=()
  [ "$mode" = keepalive ] && flags=(-k)
  for r in $(seq "$ROUNDS"); do
    read -r g_rps g_cpu < <(run "$gf_pid" 19147 "${flags[@]}")
    read -r p_rps p_cpu < <(run "$py_pid" 19148 "${flags[@]}")
    printf '%-9s round %d: gf.server %7.0f req/s %6.1f us CPU/req | FastAPI+uvicorn %7.0f req/s %6.1f us CPU/req | %.1fx req/s, %.1fx less CPU\n' \
      "$mode" "$r" "$g_rps" "$g_cpu" "$p_rps" "$p_cpu" \
      "$(awk -v a="$g_rps" -v b="$p_rps" 'BEGIN {print a / b}')" \
      "$(awk -v a="$g_cpu" -v b="$p_cpu" 'BEGIN {print (a > 0 ? b / a : 0)}')"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
