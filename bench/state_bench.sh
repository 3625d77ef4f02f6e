#!/bin/sh
# gf.state transitions per second on SQLite: claim -> processing -> completed for N payloads
# (3 N conditional transitions, each its own transaction), against python3's sqlite3 module
# running the same three SQL statements on the same SQLite settings (WAL, synchronous=NORMAL).
# usage: [RUNS=5] bench/state_bench.sh [N (default 10000)] [GFHOST (default build/gfhost)]
# Prints the median over RUNS of transitions/s (wall) for gfhost (synchronous NORMAL and FULL)
# and python3, transitions per CPU-second, and the ratios gfhost / python3 (above 1: gfhost is
# faster). The disk dominates the wall figures; the CPU figures show the binding's own cost.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
n=${1:-10000}
gfhost=${2:-$root/build/gfhost}
runs=${RUNS:-5}
tmp=$(mktemp -d /tmp/gfstatebench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/bench.lua" <<'EOF'
local state = require("gf.state")
local time = require("gf.time")
local path, n, sync = os.getenv("DB"), tonumber(os.getenv("N")), os.getenv("SYNC")
local store = assert(state.open({ path = path, synchronous = sync }))
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
