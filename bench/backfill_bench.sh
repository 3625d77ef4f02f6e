#!/usr/bin/env bash
# Backfill end to end: N generated granules (2,000 per page) from the local CMR
# (spec/support/cmr_server.py, pages pre-rendered so the server is not the limit) through
# `gfhost run backfill --footprint on --image on` to an SNS topic on fauxqs (127.0.0.1:19001),
# plus the same run with --message_file, which must hold every message counted as sent.
# Prints granules/s and peak RSS at SMALL and LARGE granules, the ratio of the peak memories,
# and the ratio to the original tool's figure measured on this machine (~310 granules/s,
# source-systems.md §1 / issue #6: the Python tool cannot be installed here without network).
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
STARTED=0
CMR_PID=""
cleanup() {
  [ -n "$CMR_PID" ] && kill "$CMR_PID" 2>/dev/null || true
  [ "$STARTED" = 1 ] && servers_stop
  rm -rf "$W"
}
trap cleanup EXIT
# shellcheck source=../spec/support/servers.sh
source "$ROOT/spec/support/servers.sh"
if ! (exec 3<>/dev/tcp/127.0.0.1/19001) 2>/dev/null; then
  servers_install
  servers_start
  STARTED=1
fi
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_ENDPOINT_URL=$EP \
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

cat >"$W/topic.lua" <<'EOF2'
local sns = require("gf.sns")
local c = sns.client({ endpoint = os.getenv("AWS_ENDPOINT_URL"), region = "us-east-1" })
io.stdout:write(assert(c:create_topic("gf-backfill-bench-" .. os.time())), "\n")
EOF2
TOPIC=$("$GFHOST" run "$W/topic.lua")

start_cmr() { # n -> sets CMR_PORT, CMR_PID (the server renders every page before it listens)
  [ -n "$CMR_PID" ] && kill "$CMR_PID" 2>/dev/null || true
  rm -f "$W/port"
  python3 "$ROOT/spec/support/cmr_server.py" --page "$FX/cmr/uat_modis_t_page.json" --granules "$1" \
    --warm-page-size "$PAGE" --ports 19050-19059 --port-file "$W/port" >/dev/null 2>&1 &
  CMR_PID=$!
  for _ in $(seq 1 1200); do [ -s "$W/port" ] && break; sleep 0.1; done
  CMR_PORT=$(cat "$W/port")
}

# run_backfill n extra... -> prints "seconds peak_kib", checks the counts
run_backfill() {
  local n=$1; shift
  local t0 t1
  t0=${EPOCHREALTIME/./}
  /usr/bin/time -f '%M' -o "$W/rss" "$GFHOST" run backfill --collection MODIS_A-JPL-L2P-v2019.0 \
    --provider pocloud --cmr-url "http://127.0.0.1:$CMR_PORT" --forge-tig-configs "$FX/forge-tig" \
    --cumulus uat --cumulus-configurations "$FX/cumulus" \
    --default_message_config "$FX/cumulus/message_config.json" --use-data-url \
    --page-size "$PAGE" --footprint on --image on --dmrpp off --log-level warn "$@" \
    >"$W/out" 2>"$W/err" || { tail -5 "$W/err" >&2; exit 1; }
  t1=${EPOCHREALTIME/./}
  grep -q "^Granules processed: $n\$" "$W/err" || { echo "expected $n granules" >&2; tail -20 "$W/err" >&2; exit 1; }
  grep -q "^Messages sent: $((2 * n))\$" "$W/err" || { echo "expected $((2 * n)) messages" >&2; exit 1; }
  echo "$(( (t1 - t0) / 1000 )) $(cat "$W/rss")"
}

report() { # label n ms kib
  awk -v l="$1" -v n="$2" -v ms="$3" -v kib="$4" -v o="$ORIGINAL_GPS" 'BEGIN {
    g = n / (ms / 1000); printf "%-34s %7d granules  %6.2f s  %8.0f granules/s  peak %6.1f MiB  (%.1fx the original)\n",
      l, n, ms / 1000, g, kib / 1024, g / o }'
}

echo "# backfill bench: page size $PAGE, footprint+image (2 messages per granule), SNS on fauxqs"
start_cmr "$SMALL"
read -r ms_s kib_s < <(run_backfill "$SMALL" --sns-arn "$TOPIC")
report "gfhost -> SNS" "$SMALL" "$ms_s" "$kib_s"
start_cmr "$LARGE"
read -r ms_l kib_l < <(run_backfill "$LARGE" --sns-arn "$TOPIC")
report "gfhost -> SNS" "$LARGE" "$ms_l" "$kib_l"
read -r ms_f kib_f < <(run_backfill "$LARGE" --sns-arn "$TOPIC" --message_file "$W/messages.txt")
report "gfhost -> SNS + --message_file" "$LARGE" "$ms_f" "$kib_f"
lines=$(grep -c . "$W/messages.txt")
echo "message file: $lines messages for $((2 * LARGE)) counted as sent"
[ "$lines" -eq $((2 * LARGE)) ] || { echo "message file lost messages" >&2; exit 1; }
awk -v a="$kib_l" -v b="$kib_s" -v ns="$SMALL" -v nl="$LARGE" 'BEGIN {
  printf "peak memory %d vs %d granules: %.2fx (target: flat within 10%%; the original grew 2.4x from 2,000 to 20,000)\n", nl, ns, a / b }'
