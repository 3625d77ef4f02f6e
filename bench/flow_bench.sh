#!/bin/bash
# gf.flow local executor overhead: a workflow of one list task and N no-op nodes (foreach
# fan-out), run by `gfhost run <workflow>` with its node states in SQLite (two state writes per
# node: running, completed). Prints nodes/s (wall, median of RUNS) at N = 10,000, and peak
# resident memory (/usr/bin/time -v) at 1,000 and 10,000 nodes with their ratio, which should
# stay near 1 (flat memory), plus the same peak for an empty run (the process baseline).
# usage: [RUNS=3] [CONCURRENCY=64] bench/flow_bench.sh [GFHOST (default build/gfhost)]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
gfhost=${1:-$root/build/gfhost}
runs=${RUNS:-3}
conc=${CONCURRENCY:-64}
tmp=$(mktemp -d /tmp/gfflowbench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/noop.lua" <<'LUA'
local flow = require("gf.flow")
local wf = flow.workflow("noop_bench")
wf:task { name = "list", run = function(ctx)
  local items = {}
  for i = 1, tonumber(ctx.params.n) do items[i] = i end
  return items
end }
wf:task { name = "noop", after = { "list" }, foreach = function(ctx) return ctx.output.list end,
  run = function() end }
return wf
LUA

# run_once N -> "wall_seconds peak_kib"
run_once() {
  rm -f "$tmp"/state.db*
  /usr/bin/time -v -o "$tmp/time.txt" "$gfhost" run "$tmp/noop.lua" --param "n=$1" \
    --state "$tmp/state.db" --concurrency "$conc" >"$tmp/out.txt" 2>"$tmp/err.txt"
  grep -q "$(( $1 + 1 )) completed" "$tmp/out.txt" || { cat "$tmp/out.txt" "$tmp/err.txt" >&2; exit 1; }
  awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0;
      for (i = 1; i <= n; i++) s = s * 60 + p[i]; w = s }
    /Maximum resident set size/ { m = $2 } END { print w, m }' "$tmp/time.txt"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }

walls=""
peak10k=""
for ((i = 0; i < runs; i++)); do
  read -r w m <<<"$(run_once 10000)"
  walls="$walls $w"
  peak10k="$peak10k $m"
done
wall=$(tr ' ' '\n' <<<"$walls" | grep . | median)
m10k=$(tr ' ' '\n' <<<"$peak10k" | grep . | median)
p1k=""
for ((i = 0; i < runs; i++)); do
  read -r _ m <<<"$(run_once 1000)"
  p1k="$p1k $m"
done
m1k=$(tr ' ' '\n' <<<"$p1k" | grep . | median)
echo 'require("gf.flow.runner") require("gf.state")' >"$tmp/empty.lua"
/usr/bin/time -v -o "$tmp/time.txt" "$gfhost" run "$tmp/empty.lua" >/dev/null 2>&1
m0=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/time.txt")

awk -v w="$wall" -v a="$m1k" -v b="$m10k" -v z="$m0" -v c="$conc" 'BEGIN {
  printf "local executor, 10000 no-op nodes (concurrency %d, SQLite state): %.2f s, %.0f nodes/s\n", c, w, 10000 / w
  printf "peak RSS: empty run %.1f MiB, 1000 nodes %.1f MiB, 10000 nodes %.1f MiB\n", z / 1024, a / 1024, b / 1024
  printf "ratio peak 10000 / 1000 nodes: %.2f (above the empty run: %.2f)\n", b / a, (b - z) / (a - z)
}'
