#!/usr/bin/env bash
# SQS move: 10,000 messages (1024-byte JSON bodies, attributes `source` String and `seq` Number)
# from queue A to queue B on fauxqs (127.0.0.1:19001, JSON protocol) with the loop
# receive(10, wait 1, all attributes) -> send_batch(B) -> delete_batch(A).
# gfhost (one loop, and MOVERS loops as concurrent tasks) vs the same loop in boto3.
# One run each; prints messages/s, checks A ends empty and B holds every message, prints ratios.
#
#   bash bench/sqs_move_bench.sh [path/to/gfhost]      (default ./build/gfhost)
#   env: N (10000), MOVERS (4), PYTHON (python3 with boto3; else /usr/bin/python3 + botocore)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GFHOST=$(realpath "${1:-$ROOT/build/gfhost}")
N=${N:-10000}
MOVERS=${MOVERS:-4}
EP=http://127.0.0.1:19001
W=$(mktemp -d /tmp/gf-sqsbench.XXXXXX)
cleanup() {
  bench_servers_stop
  rm -rf "$W"
}
trap cleanup EXIT
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"
bench_servers 19001

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for p in "$HOME/.pyenv/shims/python3" python3 /usr/bin/python3; do
    if "$p" -c "import boto3" 2>/dev/null; then PY=$p; break; fi
  done
fi

cat >"$W/move.lua" <<'EOF'
local sqs = require("gf.sqs")
local task = require("gf.task")
local json = require("gf.json")
local N, MOVERS, EP = tonumber(os.getenv("N")), tonumber(os.getenv("MOVERS")), os.getenv("EP")
local c = sqs.client({ endpoint = EP, region = "us-east-1",
  credentials = { access_key = "test", secret_key = "test" } })
local clock = os.clock
local ok_time, gftime = pcall(require, "gf.time")
-- (a popen-based clock would fork inside the event loop, which stalls transfers: use gf.time)
local now = ok_time and gftime.monotonic or os.time

-- same bodies as peer-baselines.md: 1024-byte JSON {"i":..,"pad":..}
local function body(i)
  local s = json.encode({ i = i, pad = "" })
  return json.encode({ i = i, pad = string.rep("x", 1024 - #s) })
end

local function fill(url)
  local entries = {}
  for j = 0, N - 1, 10 do
    local batch = {}
    for k = 0, 9 do
      batch[#batch + 1] = { body = body(j + k), attributes = { source = "bench", seq = j + k } }
    end
    entries[#entries + 1] = batch
  end
  local _, failures = task.map(entries, function(b)
    local r = assert(c:send_batch(url, b))
    assert(#r.failed == 0, r.failed[1] and r.failed[1].message)
  end, { concurrency = 8 })
  assert(#failures == 0, failures[1] and failures[1].error)
end

local function count(url)
  local a = assert(c:get_attributes(url, { "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible" }))
  return tonumber(a.ApproximateNumberOfMessages), tonumber(a.ApproximateNumberOfMessagesNotVisible)
end

local moved = 0
local function mover(a, b)
  local empties = 0
  while moved < N do
    local ms = assert(c:receive(a, { max = 10, wait = 1, attributes = {},
      message_attributes = { "All" } }))
    if #ms == 0 then
      empties = empties + 1
      if empties > 3 then return end
    else
      local sr = assert(c:send_batch(b, ms))
      assert(#sr.failed == 0, sr.failed[1] and sr.failed[1].message)
      local dr = assert(c:delete_batch(a, ms))
      assert(#dr.failed == 0, dr.failed[1] and dr.failed[1].message)
      moved = moved + #ms
    end
  end
end

for _, movers in ipairs({ 1, MOVERS }) do
  moved = 0
  local tag = ("%d-%d"):format(movers, os.time())
  local a = assert(c:create_queue("gfA-" .. tag))
  local b = assert(c:create_queue("gfB-" .. tag))
  fill(a)
  local t0, c0 = now(), clock()
  local tasks = {}
  for i = 1, movers do tasks[i] = task.spawn(mover, a, b) end
  for _, t in ipairs(tasks) do assert(task.wait(t)) end
  local wall, cpu = now() - t0, clock() - c0
  local ca, cna = count(a)
  local cb = count(b)
  print(("gfhost movers=%d: %d msgs in %.2f s = %.0f msg/s, client cpu %.2f s, A %d/%d, B %d")
    :format(movers, moved, wall, N / wall, cpu, ca, cna, cb))
  assert(moved == N and ca == 0 and cna == 0 and cb == N, "lost or duplicated messages")
  c:delete_queue(a)
  c:delete_queue(b)
end
EOF

cat >"$W/move.py" <<'EOF'
import json, os, random, sys, time
import boto3
from botocore.config import Config
N, EP = int(os.environ["N"]), os.environ["EP"]
sqs = boto3.client("sqs", endpoint_url=EP, region_name="us-east-1", aws_access_key_id="test",
                   aws_secret_access_key="test",
                   config=Config(retries={"max_attempts": 3, "mode": "standard"}))
def body(i):
    s = json.dumps({"i": i, "pad": ""})
    return json.dumps({"i": i, "pad": "x" * (1024 - len(s))})
def count(url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])
tag = f"{os.getpid()}-{int(time.time())}"
a = sqs.create_queue(QueueName=f"pyA-{tag}")["QueueUrl"]
b = sqs.create_queue(QueueName=f"pyB-{tag}")["QueueUrl"]
for j in range(0, N, 10):
    r = sqs.send_message_batch(QueueUrl=a, Entries=[{"Id": str(k), "MessageBody": body(j + k),
        "MessageAttributes": {"source": {"DataType": "String", "StringValue": "bench"},
                              "seq": {"DataType": "Number", "StringValue": str(j + k)}}}
        for k in range(10)])
    assert not r.get("Failed"), r
t0 = time.perf_counter(); c0 = time.process_time()
moved = empties = 0
while moved < N:
    ms = sqs.receive_message(QueueUrl=a, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                             MessageAttributeNames=["All"]).get("Messages", [])
    if not ms:
        empties += 1
        if empties > 3: break
        continue
    sr = sqs.send_message_batch(QueueUrl=b, Entries=[{"Id": str(k), "MessageBody": m["Body"],
        "MessageAttributes": m.get("MessageAttributes", {})} for k, m in enumerate(ms)])
    assert not sr.get("Failed"), sr
    dr = sqs.delete_message_batch(QueueUrl=a, Entries=[{"Id": str(k),
        "ReceiptHandle": m["ReceiptHandle"]} for k, m in enumerate(ms)])
    assert not dr.get("Failed"), dr
    moved += len(ms)
w = time.perf_counter() - t0; c = time.process_time() - c0
ca, cna = count(a); cb, _ = count(b)
print(f"boto3 loop: {moved} msgs in {w:.2f} s = {N / w:.0f} msg/s, client cpu {c:.2f} s, "
      f"A {ca}/{cna}, B {cb}")
assert moved == N and ca == 0 and cna == 0 and cb == N
sqs.delete_queue(QueueUrl=a); sqs.delete_queue(QueueUrl=b)
EOF

echo "# SQS move of $N messages on fauxqs ($EP), one run each"
N=$N MOVERS=$MOVERS EP=$EP "$GFHOST" run "$W/move.lua" | tee "$W/gf.out"
if [ -n "$PY" ]; then
  N=$N EP=$EP "$PY" "$W/move.py" | tee "$W/py.out"
else
  echo "# no python3 with boto3 found: peer skipped"
  exit 0
fi
rate() { grep -o '= [0-9]* msg/s' "$1" | sed -n "${2}p" | tr -dc '0-9'; }
G1=$(rate "$W/gf.out" 1)
GM=$(rate "$W/gf.out" 2)
P=$(rate "$W/py.out" 1)
awk -v g1="$G1" -v gm="$GM" -v p="$P" -v m="$MOVERS" 'BEGIN{
  printf "ratio gfhost/boto3: one loop %.2fx, %d loops %.2fx (target >= 5000 msg/s)\n",
    g1 / p, m, gm / p }'
