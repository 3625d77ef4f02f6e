#!/bin/sh
# gf.state transitions per second on SQLite: claim -> processing -> completed for N payloads
# (3 N conditional transitions, each its own transaction), against python3's sqlite3 module
# running the same three SQL statements on the same SQLite settings (WAL, synchronous=NORMAL).
# Then the same loop on the DynamoDB backend against dynalite (DDB_ENDPOINT, default
# http://127.0.0.1:19002; DDB_N payloads, default 1000), against boto3 issuing cirrus' three
# UpdateItem calls (statedb.py's expressions and conditions) on the same server.
# usage: [RUNS=5] [DDB_N=1000] [DDB_ENDPOINT=url|""] bench/state_bench.sh [N (default 10000)]
#        [GFHOST (default build/gfhost)]
# Prints the median over RUNS of transitions/s (wall) for gfhost (synchronous NORMAL and FULL)
# and python3, transitions per CPU-second, and the ratios gfhost / python3 (above 1: gfhost is
# faster). The disk dominates the wall figures; the CPU figures show the binding's own cost.
# For DynamoDB: gfhost and boto3 transitions/s, gfhost / boto3, and SQLite / DynamoDB (how many
# times faster the local file is than one DynamoDB request per transition). DDB_ENDPOINT=""
# skips DynamoDB; so does an endpoint that does not answer.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
n=${1:-10000}
gfhost=${2:-$root/build/gfhost}
runs=${RUNS:-5}
tmp=$(mktemp -d /tmp/gfstatebench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/bench.lua" <<'EOF'
-- claim -> processing -> completed for N payloads on SQLite (DB, SYNC) or, with DDB_ENDPOINT
-- and TABLE, on DynamoDB (the table is created first and dropped after)
local state = require("gf.state")
local time = require("gf.time")
local n, endpoint, name = tonumber(os.getenv("N")), os.getenv("DDB_ENDPOINT"), os.getenv("TABLE")
local store, client, dynamodb
if endpoint and name then
  dynamodb = require("gf.state.dynamodb")
  client = require("gf.awsjson").client({ service = "dynamodb", endpoint = endpoint,
    region = "us-east-1", credentials = { access_key = "test", secret_key = "test" } })
  assert(dynamodb.create_table(client, name))
  store = assert(state.open({ backend = "dynamodb", table = name, client = client }))
else
  store = assert(state.open({ path = os.getenv("DB"), synchronous = os.getenv("SYNC") }))
end
local ids = {}
for i = 1, n do ids[i] = ("bench-collection/workflow-bench/item-%06d"):format(i) end
local t0 = time.monotonic()
for i = 1, n do
  local id = ids[i]
  assert(store:claim(id, "exec-" .. i))
  assert(store:set_processing(id))
  assert(store:set_completed(id, { "s3://out/" .. i .. ".json" }))
end
local dt = time.monotonic() - t0
assert(store:count({ collections_workflow = "bench-collection_bench", state = "COMPLETED" }) == n)
print(("%.0f"):format(3 * n / dt))
store:close()
if dynamodb then assert(dynamodb.delete_table(client, name)) end
EOF

cat >"$tmp/bench.py" <<'EOF'
import json, os, sqlite3, time
from datetime import datetime, timezone
path, n = os.environ["DB"], int(os.environ["N"])
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=NORMAL")
db.executescript("""
CREATE TABLE payloads (collections_workflow TEXT NOT NULL, itemids TEXT NOT NULL,
  state TEXT NOT NULL, state_updated TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL,
  claimed_at TEXT, last_error TEXT, outputs TEXT, executions TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (collections_workflow, itemids)) WITHOUT ROWID;
CREATE INDEX payloads_state_updated ON payloads (collections_workflow, state_updated);
CREATE INDEX payloads_updated ON payloads (collections_workflow, updated);
""")
CLAIM = """INSERT INTO payloads (collections_workflow, itemids, state, state_updated, created,
  updated, claimed_at, executions) VALUES (?1, ?2, 'CLAIMED', 'CLAIMED_' || ?3, ?3, ?3, ?3,
  json_array(?4)) ON CONFLICT (collections_workflow, itemids) DO UPDATE SET state = 'CLAIMED',
  state_updated = excluded.state_updated, updated = excluded.updated, claimed_at =
  excluded.claimed_at, last_error = NULL, outputs = NULL, executions = json_insert(executions,
  '$[#]', ?4) WHERE state NOT IN ('PROCESSING', 'CLAIMED')"""
PROC = """UPDATE payloads SET state = 'PROCESSING', state_updated = 'PROCESSING_' || ?3,
  updated = ?3 WHERE collections_workflow = ?1 AND itemids = ?2 AND state = 'CLAIMED'"""
DONE = """INSERT INTO payloads (collections_workflow, itemids, state, state_updated, created,
  updated, outputs, last_error) VALUES (?1, ?2, ?3, ?3 || '_' || ?4, ?4, ?4, ?5, ?6)
  ON CONFLICT (collections_workflow, itemids) DO UPDATE SET state = excluded.state,
  state_updated = excluded.state_updated, updated = excluded.updated,
  outputs = coalesce(excluded.outputs, outputs), last_error = coalesce(excluded.last_error,
  last_error)"""
now = lambda: datetime.now(timezone.utc).isoformat()
t0 = time.monotonic()
for i in range(1, n + 1):
    key = ("bench-collection_bench", "item-%06d" % i)
    assert db.execute(CLAIM, (*key, now(), "exec-%d" % i)).rowcount == 1
    assert db.execute(PROC, (*key, now())).rowcount == 1
    db.execute(DONE, (*key, "COMPLETED", now(), json.dumps(["s3://out/%d.json" % i]), None))
print("%.0f" % (3 * n / (time.monotonic() - t0)))
EOF


cat >"$tmp/ddb.py" <<'EOF'
import json, os, time
from datetime import datetime, timezone
import boto3
n, name = int(os.environ["N"]), os.environ["TABLE"]
ddb = boto3.client("dynamodb", endpoint_url=os.environ["DDB_ENDPOINT"], region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
with open(os.environ["SCHEMA"]) as f:
    schema = json.load(f)
schema["TableName"] = name
ddb.create_table(**schema)
ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
now = lambda: datetime.now(timezone.utc).isoformat()
t0 = time.monotonic()
for i in range(1, n + 1):
    key = {"collections_workflow": {"S": "bench-collection_bench"},
           "itemids": {"S": "item-%06d" % i}}
    t = now()
    ddb.update_item(TableName=name, Key=key,
        UpdateExpression="SET #cr = if_not_exists(#cr, :now), #su = :su, #up = :now, "
        "#ca = :now, #ex = list_append(if_not_exists(#ex, :empty), :exec) REMOVE #le, #out",
        ConditionExpression="NOT (begins_with(#su, :proc) OR begins_with(#su, :cl))",
        ExpressionAttributeNames={"#su": "state_updated", "#up": "updated", "#cr": "created",
            "#ca": "claimed_at", "#ex": "executions", "#le": "last_error", "#out": "outputs"},
        ExpressionAttributeValues={":now": {"S": t}, ":su": {"S": "CLAIMED_" + t},
            ":empty": {"L": []}, ":exec": {"L": [{"S": "exec-%d" % i}]},
            ":proc": {"S": "PROCESSING"}, ":cl": {"S": "CLAIMED"}})
    t = now()
    ddb.update_item(TableName=name, Key=key, UpdateExpression="SET #su = :su, #up = :now",
        ConditionExpression="begins_with(#su, :cl)",
        ExpressionAttributeNames={"#su": "state_updated", "#up": "updated"},
        ExpressionAttributeValues={":now": {"S": t}, ":su": {"S": "PROCESSING_" + t},
            ":cl": {"S": "CLAIMED"}})
    t = now()
    ddb.update_item(TableName=name, Key=key,
        UpdateExpression="SET #su = :su, #up = :now, #cr = if_not_exists(#cr, :now), #out = :out",
        ExpressionAttributeNames={"#su": "state_updated", "#up": "updated", "#cr": "created",
            "#out": "outputs"},
        ExpressionAttributeValues={":now": {"S": t}, ":su": {"S": "COMPLETED_" + t},
            ":out": {"L": [{"S": "s3://out/%d.json" % i}]}})
print("%.0f" % (3 * n / (time.monotonic() - t0)))
ddb.delete_table(TableName=name)
EOF

cd "$root"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: >"$tmp/normal" && : >"$tmp/full" && : >"$tmp/py"
# The three runs interleave so that a noisy disk or neighbour hits every side alike.
# Each run also records its CPU time (user + system, whole process, start-up included).
cpu() { # name, command...
  name=$1
  shift
  /usr/bin/time -f "%U %S" -o "$tmp/time" "$@" >>"$tmp/$name"
  awk -v n="$n" '{ printf "%.0f\n", 3 * n / ($1 + $2) }' "$tmp/time" >>"$tmp/$name.cpu"
}
for r in $(seq "$runs"); do
  DB="$tmp/n$r.db" N=$n SYNC=normal cpu normal "$gfhost" run "$tmp/bench.lua"
  DB="$tmp/f$r.db" N=$n SYNC=full cpu full "$gfhost" run "$tmp/bench.lua"
  DB="$tmp/p$r.db" N=$n cpu py python3 "$tmp/bench.py"
  rm -f "$tmp"/*.db "$tmp"/*.db-wal "$tmp"/*.db-shm
done
gf_normal=$(median <"$tmp/normal")
gf_full=$(median <"$tmp/full")
py=$(median <"$tmp/py")
echo "payloads: $n (claim -> processing -> completed: $((3 * n)) transitions, one transaction each)"
echo "median of $runs runs, transitions/s"
echo "gfhost gf.state sqlite, synchronous=NORMAL: $gf_normal   (runs: $(tr '\n' ' ' <"$tmp/normal"))"
echo "gfhost gf.state sqlite, synchronous=FULL:   $gf_full   (runs: $(tr '\n' ' ' <"$tmp/full"))"
echo "python3 sqlite3, same SQL, NORMAL:          $py   (runs: $(tr '\n' ' ' <"$tmp/py"))"
awk -v a="$gf_normal" -v b="$py" 'BEGIN { printf "ratio gfhost / python3 (NORMAL, wall): %.2f\n", a / b }'
gc=$(median <"$tmp/normal.cpu")
pc=$(median <"$tmp/py.cpu")
echo "per CPU-second (user+sys): gfhost NORMAL $gc, python3 $pc transitions"
awk -v a="$gc" -v b="$pc" 'BEGIN { printf "ratio gfhost / python3 (NORMAL, CPU): %.2f\n", a / b }'

ddb_n=${DDB_N:-1000}
ddb_endpoint=${DDB_ENDPOINT-http://127.0.0.1:19002}
if [ -z "$ddb_endpoint" ]; then
  echo "DynamoDB: skipped (DDB_ENDPOINT is empty)"
  exit 0
fi
if ! curl -s -o /dev/null -m 5 "$ddb_endpoint"; then
  echo "DynamoDB: skipped ($ddb_endpoint does not answer)"
  exit 0
fi
schema=${GF_FIXTURES:-$root/../shared/fixtures}/cirrus/statedb-schema.json
py_ddb=""
if python3 -c "import boto3" 2>/dev/null && [ -f "$schema" ]; then py_ddb=1; fi
: >"$tmp/ddb" && : >"$tmp/ddbpy"
for r in $(seq "$runs"); do
  TABLE="gfbench-state-$$-$r" N=$ddb_n DDB_ENDPOINT=$ddb_endpoint \
    "$gfhost" run "$tmp/bench.lua" >>"$tmp/ddb"
  if [ -n "$py_ddb" ]; then
    TABLE="gfbench-state-py-$$-$r" N=$ddb_n DDB_ENDPOINT=$ddb_endpoint SCHEMA=$schema \
      python3 "$tmp/ddb.py" >>"$tmp/ddbpy"
  fi
done
ddb=$(median <"$tmp/ddb")
echo "DynamoDB on $ddb_endpoint: $ddb_n payloads, $((3 * ddb_n)) transitions, one request each"
echo "gfhost gf.state dynamodb:                     $ddb   (runs: $(tr '\n' ' ' <"$tmp/ddb"))"
if [ -n "$py_ddb" ]; then
  ddbpy=$(median <"$tmp/ddbpy")
  echo "python3 boto3, cirrus' three UpdateItem calls: $ddbpy   (runs: $(tr '\n' ' ' <"$tmp/ddbpy"))"
  awk -v a="$ddb" -v b="$ddbpy" \
    'BEGIN { printf "ratio gfhost / boto3 (DynamoDB, wall): %.2f\n", a / b }'
fi
awk -v a="$gf_normal" -v b="$ddb" \
  'BEGIN { printf "ratio SQLite / DynamoDB (gfhost, NORMAL, wall): %.1f\n", a / b }'
