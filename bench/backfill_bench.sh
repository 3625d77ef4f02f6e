#!/usr/bin/env bash
# Backfill end to end: N generated granules (2,000 per page, 288 a day as MODIS's 5-minute
# granules) from the local CMR (spec/support/cmr_server.py, pages pre-rendered so that server is
# not the limit) through `gfhost run backfill` to an SNS topic on fauxqs (127.0.0.1:19001).
#   1. --footprint on (one message per granule) at SMALL and LARGE granules: granules/s, peak
#      RSS and the ratio of the peak memories (target: flat within 10%)
#   2. --footprint on --image on (two messages per granule) at LARGE with --message_file, which
#      must hold every message counted as sent
#   3. the server's ceiling: bare publish-batch calls of the same messages, 8 in flight
# Ratios are printed against the original tool's ~310 granules/s (issue #6, measured here the
# same way; the Python tool itself cannot be installed without network) and against the ceiling.
#
#   bash bench/backfill_bench.sh [path/to/gfhost]      (default ./build/gfhost)
#   env: SMALL (10000), LARGE (100000), PAGE (2000)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GFHOST=$(realpath "${1:-$ROOT/build/gfhost}")
SMALL=${SMALL:-10000}
LARGE=${LARGE:-100000}
PAGE=${PAGE:-2000}
ORIGINAL_GPS=310
FX=$(cd "$ROOT/../shared/fixtures" && pwd)
EP=http://127.0.0.1:19001
W=$(mktemp -d /tmp/gf-backfillbench.XXXXXX)
CMR_PID=""
cleanup() {
  [ -n "$CMR_PID" ] && kill "$CMR_PID" 2>/dev/null || true
  bench_servers_stop
  rm -rf "$W"
}
trap cleanup EXIT
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"
bench_servers 19001
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_ENDPOINT_URL=$EP \
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

cat >"$W/topic.lua" <<'EOF2'
local sns = require("gf.sns")
local c = sns.client({ endpoint = os.getenv("AWS_ENDPOINT_URL"), region = "us-east-1" })
io.stdout:write(assert(c:create_topic("gf-backfill-bench-" .. os.time() .. "-" .. math.random(1e6))), "\n")
EOF2
topic() { "$GFHOST" run "$W/topic.lua"; } # a fresh topic per run

start_cmr() { # n -> sets CMR_PORT, CMR_PID (the server renders every page before it listens)
  [ -n "$CMR_PID" ] && kill "$CMR_PID" 2>/dev/null || true
  rm -f "$W/port"
  python3 "$ROOT/spec/support/cmr_server.py" --page "$FX/cmr/uat_modis_t_page.json" --granules "$1" \
    --warm-page-size "$PAGE" --per-day 288 --ports 19050-19059 --port-file "$W/port" >/dev/null 2>&1 &
  CMR_PID=$!
  for _ in $(seq 1 1200); do [ -s "$W/port" ] && break; sleep 0.1; done
  CMR_PORT=$(cat "$W/port")
}

# run_backfill n extra... -> prints "seconds peak_kib", checks the counts
run_backfill() { # n messages-per-granule extra...
  local n=$1 per=$2; shift 2
  local t0 t1
  t0=${EPOCHREALTIME/./}
  /usr/bin/time -f '%M' -o "$W/rss" "$GFHOST" run backfill --collection MODIS_A-JPL-L2P-v2019.0 \
    --provider pocloud --cmr-url "http://127.0.0.1:$CMR_PORT" --forge-tig-configs "$FX/forge-tig" \
    --cumulus uat --cumulus-configurations "$FX/cumulus" \
    --default_message_config "$FX/cumulus/message_config.json" --use-data-url \
    --page-size "$PAGE" --footprint on --dmrpp off --log-level warn "$@" \
    >"$W/out" 2>"$W/err" || { tail -5 "$W/err" >&2; exit 1; }
  t1=${EPOCHREALTIME/./}
  grep -q "^Granules processed: $n\$" "$W/err" || { echo "expected $n granules" >&2; tail -20 "$W/err" >&2; exit 1; }
  grep -q "^Messages sent: $((per * n))\$" "$W/err" || { echo "expected $((per * n)) messages" >&2; exit 1; }
  echo "$(( (t1 - t0) / 1000 )) $(cat "$W/rss")"
}

report() { # label n ms kib
  awk -v l="$1" -v n="$2" -v ms="$3" -v kib="$4" -v o="$ORIGINAL_GPS" 'BEGIN {
    g = n / (ms / 1000); printf "%-34s %7d granules  %6.2f s  %8.0f granules/s  peak %6.1f MiB  (%.1fx the original)\n",
      l, n, ms / 1000, g, kib / 1024, g / o }'
}

cat >"$W/ceiling.lua" <<'EOF2'
-- publish-batch calls of the backfill's own messages, 8 in flight: what fauxqs can take
local sns, task, time = require("gf.sns"), require("gf.task"), require("gf.time")
local c = sns.client({ endpoint = os.getenv("AWS_ENDPOINT_URL"), region = "us-east-1" })
local topic = assert(c:create_topic("gf-backfill-ceiling-" .. os.time() .. "-" .. math.random(1e6)))
local msgs = {}
for line in io.lines(os.getenv("MSGS")) do
  if line ~= "" then msgs[#msgs + 1] = line end
  if #msgs == 20000 then break end
end
local batches = {}
for i = 1, #msgs, 10 do
  local e = {}
  for j = i, math.min(i + 9, #msgs) do e[#e + 1] = { message = msgs[j] } end
  batches[#batches + 1] = e
end
local t0 = time.monotonic()
local _, fails = task.map(batches, function(e) assert(c:publish_batch(topic, e)) end, { concurrency = 8 })
assert(#fails == 0, fails[1] and tostring(fails[1].error))
io.stdout:write(("%.0f\n"):format(#msgs / (time.monotonic() - t0)))
EOF2

echo "# backfill bench: page size $PAGE, SNS on fauxqs, one run each"
start_cmr "$SMALL"
read -r ms_s kib_s < <(run_backfill "$SMALL" 1 --image off --sns-arn "$(topic)")
report "footprint -> SNS" "$SMALL" "$ms_s" "$kib_s"
start_cmr "$LARGE"
read -r ms_l kib_l < <(run_backfill "$LARGE" 1 --image off --sns-arn "$(topic)")
report "footprint -> SNS" "$LARGE" "$ms_l" "$kib_l"
read -r ms_f kib_f < <(run_backfill "$LARGE" 2 --image on --sns-arn "$(topic)" --message_file "$W/messages.txt")
report "footprint+image -> SNS + file" "$LARGE" "$ms_f" "$kib_f"
lines=$(grep -c . "$W/messages.txt")
echo "message file: $lines messages for $((2 * LARGE)) counted as sent"
[ "$lines" -eq $((2 * LARGE)) ] || { echo "message file lost messages" >&2; exit 1; }
ceiling=$(MSGS="$W/messages.txt" "$GFHOST" run "$W/ceiling.lua")
awk -v a="$kib_l" -v b="$kib_s" -v ns="$SMALL" -v nl="$LARGE" -v c="$ceiling" \
    -v m1="$ms_l" -v m2="$ms_f" 'BEGIN {
  printf "peak memory %d vs %d granules: %.2fx (target: flat within 10%%; the original grew 2.4x from 2,000 to 20,000)\n", nl, ns, a / b
  printf "fauxqs ceiling (bare publish-batch, 8 in flight): %.0f messages/s\n", c
  printf "gfhost messages/s vs the ceiling: footprint %.2fx, footprint+image %.2fx\n", nl / (m1 / 1000) / c, 2 * nl / (m2 / 1000) / c }'
