#!/usr/bin/env bash
# Dead-letter replay: N messages (1 KiB JSON bodies with two message attributes) from a DLQ back
# onto the main queue on fauxqs (127.0.0.1:19001): `gfhost run replay` (receive 10 with long
# polling, SendMessageBatch, DeleteMessageBatch, --concurrency loops) vs the original
# backfill_replay loop in boto3 (receive 1 with short polling, send_message, delete_message,
# stop at the first empty receive; source-systems.md §1.7). Fresh queues for each; checks that
# the DLQ ends empty and the main queue holds every message. Prints messages/s and the ratio.
#
#   bash bench/replay_bench.sh [path/to/gfhost]      (default ./build/gfhost)
#   env: N (10000), CONC (gfhost --concurrency, 8), PYTHON (python3 with boto3)
# gfhost runs with --max N (it stops at the last message instead of after a final empty poll).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GFHOST=$(realpath "${1:-$ROOT/build/gfhost}")
N=${N:-10000}
EP=http://127.0.0.1:19001
W=$(mktemp -d /tmp/gf-replaybench.XXXXXX)
cleanup() {
  bench_servers_stop
  rm -rf "$W"
}
trap cleanup EXIT
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"
bench_servers 19001
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for p in "$HOME/.pyenv/shims/python3" python3; do
    if "$p" -c "import boto3" 2>/dev/null; then PY=$p; break; fi
  done
fi

cat >"$W/queues.lua" <<'EOF2'
-- GF_MODE=fill: two fresh queues, N messages in the first; prints both URLs.
-- GF_MODE=count: messages left in A and B (visible + in flight).
local sqs, task, json = require("gf.sqs"), require("gf.task"), require("gf.json")
local c = sqs.client({ endpoint = os.getenv("EP"), region = "us-east-1" })
local function count(url)
  local a = assert(c:get_attributes(url, { "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible" }))
  return tonumber(a.ApproximateNumberOfMessages) + tonumber(a.ApproximateNumberOfMessagesNotVisible)
end
if os.getenv("GF_MODE") == "count" then
  print(count(os.getenv("A")), count(os.getenv("B")))
  return
end
local n, tag = tonumber(os.getenv("N")), os.time() .. "-" .. math.random(1e6)
local a = assert(c:create_queue("gf-replay-dlq-" .. tag))
local b = assert(c:create_queue("gf-replay-main-" .. tag))
local batches = {}
for j = 0, n - 1, 10 do
  local e = {}
  for k = j, math.min(j + 9, n - 1) do
    local s = json.encode({ i = k, pad = "" })
    e[#e + 1] = { body = json.encode({ i = k, pad = string.rep("x", 1024 - #s) }),
      attributes = { source = "bench", seq = k } }
  end
  batches[#batches + 1] = e
end
local _, fails = task.map(batches, function(e)
  local r = assert(c:send_batch(a, e))
  assert(#r.failed == 0)
end, { concurrency = 8 })
assert(#fails == 0)
print(a, b)
EOF2

cat >"$W/original.py" <<'EOF2'
# the original backfill_replay loop (replay.py), timed
import os, sys, time
import boto3
sqs = boto3.client("sqs", endpoint_url=os.environ["EP"], region_name="us-east-1")
dlq, main = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
moved = 0
while True:
    r = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=1)
    ms = r.get("Messages", [])
    if not ms:
        break
    m = ms[0]
    sqs.send_message(QueueUrl=main, MessageBody=m["Body"])
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=m["ReceiptHandle"])
    moved += 1
print(moved, time.perf_counter() - t0)
EOF2

q() { EP=$EP N=$N GF_MODE=${1:-fill} A=${2:-} B=${3:-} "$GFHOST" run "$W/queues.lua"; }
echo "# replay of $N messages on fauxqs ($EP), one run each"
read -r A B < <(q fill)
t0=${EPOCHREALTIME/./}
"$GFHOST" run replay --dlq-url "$A" --sqs-url "$B" --aws-endpoint-url "$EP" --wait 1 --empty-polls 1 --max "$N" --concurrency "${CONC:-8}" \
  >"$W/gf.out" 2>"$W/gf.err" || { tail -5 "$W/gf.err" >&2; exit 1; }
t1=${EPOCHREALTIME/./}
read -r left got < <(q count "$A" "$B")
gf_rate=$(awk -v n="$N" -v us="$((t1 - t0))" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
echo "gfhost replay: $N messages in $(awk -v us="$((t1 - t0))" 'BEGIN { printf "%.2f", us / 1e6 }') s = $gf_rate msg/s; DLQ left $left, main queue $got"
[ "$left" = 0 ] && [ "$got" = "$N" ] || { echo "replay lost or duplicated messages" >&2; exit 1; }
if [ -z "$PY" ]; then
  echo "# no python3 with boto3: the original's loop is skipped"
  exit 0
fi
read -r A B < <(q fill)
read -r moved secs < <(EP=$EP "$PY" "$W/original.py" "$A" "$B")
read -r left got < <(q count "$A" "$B")
py_rate=$(awk -v n="$moved" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
echo "original loop (boto3): $moved messages in $(printf '%.2f' "$secs") s = $py_rate msg/s; DLQ left $left, main queue $got"
awk -v g="$gf_rate" -v p="$py_rate" 'BEGIN { printf "ratio gfhost/original: %.1fx (target >= 5000 msg/s)\n", g / p }'
