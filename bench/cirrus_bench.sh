#!/usr/bin/env bash
# Cirrus reruns: N payloads (default 10,000) in dynalite (Cirrus table schema, state FAILED) and
# s3rver (<id>/input.json, ~1.3 KB each), then
#   1. get_payloads --state FAILED --rerun to NDJSON: gfhost vs a boto3 script doing what
#      Cirrus' get-payloads does (query pages of 100 on the state_updated index, newest first,
#      one S3 GET per payload, in sequence, json.dumps per line);
#   2. process of the N lines into SQS: gfhost (batches of 10, 16 batches in flight) vs boto3
#      send_message per line — on local-aws-sqs with Debian's boto3 (query protocol, which
#      fauxqs refuses), and on fauxqs with a JSON-protocol boto3 when one is installed
#      (PYTHON_JSON, default ~/.pyenv/shims/python3).
# Prints wall seconds, payloads/s, peak RSS (MiB) of each side and the ratios; checks both
# sides print the same payload ids and both queues end with N messages.
#
#   bash bench/cirrus_bench.sh [path/to/gfhost]   env: N (10000), PYTHON (/usr/bin/python3), PYTHON_JSON, KEEP
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GFHOST=$(realpath "${1:-$ROOT/build/gfhost}")
N=${N:-10000}
W=$(mktemp -d /tmp/gf-cirrusbench.XXXXXX)
cleanup() {
  bench_servers_stop
  [ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"
bench_servers 19002

PY=${PYTHON:-/usr/bin/python3}
"$PY" -c "import boto3" || { echo "cirrus_bench: $PY has no boto3 (apt-get install python3-boto3)" >&2; exit 1; }

UID_=$(date +%s)$$
export N TABLE="gfc-bench-$UID_" BUCKET="gfc-bench-$UID_"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:19000 AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:19002
# local-aws-sqs: Debian botocore 1.29 sends SQS in the query protocol, which fauxqs refuses
export AWS_ENDPOINT_URL_SQS=http://127.0.0.1:19005
export CIRRUS_PROCESS_QUEUE_URL="" CIRRUS_PAYLOAD_BUCKET="" CIRRUS_BASE_WORKFLOW_ARN="" CIRRUS_STATE_DB=""
CW="bench-col_bench-wf"

# {====== seed: N records (BatchWriteItem, 25 per call) and N objects, in parallel ======
cat >"$W/seed.lua" <<'EOF'
local awsjson, s3, sqs = require("gf.awsjson"), require("gf.s3"), require("gf.sqs")
local task, json, state = require("gf.task"), require("gf.json"), require("gf.state")
local dynamodb = require("gf.state.dynamodb")
local N, T, B = tonumber(os.getenv("N")), os.getenv("TABLE"), os.getenv("BUCKET")
local ddb = awsjson.client({ service = "dynamodb" })
assert(dynamodb.create_table(ddb, T))
local s3c = s3.client()
assert(s3c:create_bucket("s3://" .. B))
local now = os.time() - 3600
local function id(i) return ("bench-col/workflow-bench-wf/item%05d"):format(i) end
local function payload(i)
  return json.encode({ type = "FeatureCollection", id = id(i),
    features = { { type = "Feature", stac_version = "1.0.0", id = ("item%05d"):format(i), collection = "bench-col",
      bbox = { -78.85549714480591, -33.5090673116811, -77.66654434530413, -33.171471085391424 },
      geometry = { type = "Polygon", coordinates = { { { -78.8, -33.5 }, { -77.6, -33.5 }, { -77.6, -33.1 }, { -78.8, -33.5 } } } },
      properties = { datetime = "2020-11-03T15:22:26Z", ["eo:cloud_cover"] = 51.56, created = "2020-11-11T00:00:00Z", updated = "2020-11-11T00:00:00Z" },
      assets = { data = { href = ("s3://bench-in/item%05d.tif"):format(i), type = "image/tiff" } }, links = json.array() } },
    process = { { workflow = "bench-wf", upload_options = { path_template = "${collection}/${id}" }, tasks = { t = { p = true } } } } })
end
local batches = {}
for i = 1, N, 25 do
  local reqs = {}
  for j = i, math.min(i + 24, N) do
    local ts = state.iso8601(now + j)
    reqs[#reqs + 1] = { PutRequest = { Item = {
      collections_workflow = { S = "bench-col_bench-wf" }, itemids = { S = ("item%05d"):format(j) },
      created = { S = ts }, updated = { S = ts }, state_updated = { S = "FAILED_" .. ts },
      last_error = { S = "States.Timeout: task timed out" },
      executions = { L = { { S = "arn:aws:states:us-east-1:123456789012:execution:bench-wf:" .. j } } } } } }
  end
  batches[#batches + 1] = reqs
end
local _, f1 = task.map(batches, function(reqs)
  local items = { [T] = reqs }
  repeat
    local r = assert(ddb:call("BatchWriteItem", { RequestItems = items }))
    items = r.UnprocessedItems
  until not items or next(items) == nil
end, { concurrency = 8 })
assert(#f1 == 0, f1[1] and tostring(f1[1].error))
local idx = {}
for i = 1, N do idx[i] = i end
local _, f2 = task.map(idx, function(i)
  assert(s3c:put(("s3://%s/%s/input.json"):format(B, id(i)), payload(i), { content_type = "application/json" }))
end, { concurrency = 32 })
assert(#f2 == 0, f2[1] and tostring(f2[1].error))
EOF
t0=${EPOCHREALTIME/./}
"$GFHOST" run "$W/seed.lua"
t1=${EPOCHREALTIME/./}
echo "seeded $N records and payloads in $(( (t1 - t0) / 1000000 )) s"
# }======

# {====== the boto3 peers ======
cat >"$W/get_payloads.py" <<'EOF'
# What Cirrus' get-payloads does (manage.py + statedb.get_items_page): query pages of 100 on
# the state_updated index, newest first; one S3 GET per item, in sequence; set replace; print.
import json, os, sys
import boto3
from boto3.dynamodb.conditions import Key
ddb = boto3.resource("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"])
table = ddb.Table(os.environ["TABLE"])
bucket = os.environ["BUCKET"]
kw = dict(IndexName="state_updated", ScanIndexForward=False, Limit=100,
          KeyConditionExpression=Key("collections_workflow").eq("bench-col_bench-wf")
          & Key("state_updated").begins_with("FAILED"))
out = sys.stdout
while True:
    resp = table.query(**kw)
    for item in resp["Items"]:
        cw = item["collections_workflow"]
        col, wf = cw.rsplit("_", 1)
        pid = f"{col}/workflow-{wf}/{item['itemids']}"
        try:
            body = s3.get_object(Bucket=bucket, Key=f"{pid}/input.json")["Body"].read()
        except s3.exceptions.NoSuchKey:
            print(f"Payload ID: '{pid}' was not found in S3", file=sys.stderr)
            continue
        payload = json.loads(body)
        payload["process"][0]["replace"] = True
        out.write(json.dumps(payload, default=str) + "\n")
    if "LastEvaluatedKey" not in resp:
        break
    kw["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
EOF
cat >"$W/process.py" <<'EOF'
# process, fixed to one message per line: boto3 send_message per NDJSON line.
import os, sys
import boto3
sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL_SQS"])
url = os.environ["QP_URL"]
n = 0
for line in sys.stdin:
    if line.strip():
        sqs.send_message(QueueUrl=url, MessageBody=line.rstrip("\n"))
        n += 1
print(n)
EOF
# }======

timed() { # timed OUT ERR cmd... -> "seconds peak_rss_mib"
  local out=$1 err=$2; shift 2
  /usr/bin/time -f '%e %M' -o "$W/time" "$@" >"$out" 2>"$err"
  awk '{printf "%s %.1f\n", $1, $2/1024}' "$W/time"
}

echo "== get_payloads --state FAILED --rerun, $N payloads (dynalite + s3rver)"
read -r gs gm < <(timed "$W/gf.ndjson" "$W/gf.err" "$GFHOST" run get_payloads --collections-workflow "$CW" \
  --state FAILED --rerun --statedb "dynamodb://$TABLE" --payload-bucket "s3://$BUCKET")
read -r ps pm < <(timed "$W/py.ndjson" "$W/py.err" "$PY" "$W/get_payloads.py")
gl=$(wc -l <"$W/gf.ndjson"); pl=$(wc -l <"$W/py.ndjson")
idrep() { "$PY" -c 'import json, sys
for l in sys.stdin: p = json.loads(l); print(p["id"], p["process"][0]["replace"])' <"$1"; }
cmp <(idrep "$W/gf.ndjson") <(idrep "$W/py.ndjson") \
  || { echo "get_payloads: gfhost and boto3 printed different ids or order" >&2; exit 1; }
[ "$gl" = "$N" ] || { echo "get_payloads: gfhost printed $gl lines, want $N" >&2; tail -3 "$W/gf.err" >&2; exit 1; }
printf '%-8s %8s s %9s payloads/s  peak RSS %7s MiB  (%s lines)\n' gfhost "$gs" "$(awk -v n="$N" -v s="$gs" 'BEGIN{printf "%.0f", n/s}')" "$gm" "$gl"
printf '%-8s %8s s %9s payloads/s  peak RSS %7s MiB  (%s lines)\n' boto3 "$ps" "$(awk -v n="$N" -v s="$ps" 'BEGIN{printf "%.0f", n/s}')" "$pm" "$pl"
echo "ratio (boto3 time / gfhost time): $(ratio "$ps" "$gs")x   memory (boto3 / gfhost): $(ratio "$pm" "$gm")x"

cat >"$W/queues.lua" <<'EOF'
local q = require("gf.sqs").client()
local id = os.getenv("QID")
print(assert(q:create_queue("gfc-bench-gf-" .. id)))
print(assert(q:create_queue("gfc-bench-py-" .. id)))
EOF
cat >"$W/count.lua" <<'EOF'
local q = require("gf.sqs").client()
for _, u in ipairs({ os.getenv("QG_URL"), os.getenv("QP_URL") }) do
  print(assert(q:get_attributes(u, { "ApproximateNumberOfMessages" })).ApproximateNumberOfMessages)
  q:delete_queue(u)
end
EOF
# process_bench LABEL ENDPOINT PYTHON: gfhost process vs PYTHON's boto3 send_message per line
process_bench() {
  local label=$1 ep=$2 py=$3 queued
  export AWS_ENDPOINT_URL_SQS=$ep
  mapfile -t QS < <(QID="$UID_$RANDOM" "$GFHOST" run "$W/queues.lua")
  export QG_URL=${QS[0]} QP_URL=${QS[1]}
  echo "== process of $N NDJSON lines into SQS ($label)"
  read -r gs2 gm2 < <(timed "$W/gf.out" "$W/gf2.err" "$GFHOST" run process --queue "$QG_URL" "$W/gf.ndjson")
  read -r ps2 pm2 < <(timed "$W/py.out" "$W/py2.err" "$py" "$W/process.py" <"$W/gf.ndjson")
  mapfile -t COUNTS < <("$GFHOST" run "$W/count.lua")
  queued=$(grep -c '"status":"queued"' "$W/gf.out" || true)
  printf '%-8s %8s s %9s payloads/s  peak RSS %7s MiB  (%s queued, queue holds %s)\n' gfhost "$gs2" "$(awk -v n="$N" -v s="$gs2" 'BEGIN{printf "%.0f", n/s}')" "$gm2" "$queued" "${COUNTS[0]}"
  printf '%-8s %8s s %9s payloads/s  peak RSS %7s MiB  (%s sent, queue holds %s)\n' boto3 "$ps2" "$(awk -v n="$N" -v s="$ps2" 'BEGIN{printf "%.0f", n/s}')" "$pm2" "$(cat "$W/py.out")" "${COUNTS[1]}"
  echo "ratio (boto3 time / gfhost time): $(ratio "$ps2" "$gs2")x   memory (boto3 / gfhost): $(ratio "$pm2" "$gm2")x"
  [ "${COUNTS[0]}" = "$N" ] && [ "${COUNTS[1]}" = "$N" ] || { echo "process: a queue does not hold $N messages" >&2; exit 1; }
}
process_bench "local-aws-sqs, Debian boto3 $("$PY" -c 'import boto3; print(boto3.__version__)'), query protocol" \
  http://127.0.0.1:19005 "$PY"
# fauxqs speaks only the JSON protocol: with a boto3 that does (the image's pyenv one), compare there too
PYJ=${PYTHON_JSON:-$HOME/.pyenv/shims/python3}
if [ -x "$PYJ" ] && [ "$("$PYJ" -c 'import botocore.session as s; print(s.get_session().get_service_model("sqs").protocol)' 2>/dev/null)" = json ]; then
  process_bench "fauxqs, boto3 $("$PYJ" -c 'import boto3; print(boto3.__version__)'), JSON protocol" http://127.0.0.1:19001 "$PYJ"
fi

cat >"$W/drop.lua" <<'EOF'
local dynamodb, awsjson = require("gf.state.dynamodb"), require("gf.awsjson")
dynamodb.delete_table(awsjson.client({ service = "dynamodb" }), os.getenv("TABLE"))
local s3c = require("gf.s3").client()
local b = "s3://" .. os.getenv("BUCKET")
local objs = assert(s3c:list(b .. "/"))
local keys = {}
for i, o in ipairs(objs) do keys[i] = o.key end
assert(s3c:delete_many(b, keys))
assert(s3c:delete_bucket(b))
EOF
[ -n "${KEEP:-}" ] || "$GFHOST" run "$W/drop.lua" || true
