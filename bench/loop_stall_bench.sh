#!/usr/bin/env bash
# Loop stalls under mixed load (issue: "nothing waits on the loop thread").
#
#   bash bench/loop_stall_bench.sh [BEFORE_REF] [ROUNDS]
#
# Builds gfhost at BEFORE_REF (default 8204eb4, the tree before the loop work) in
# build-stall-before/ and runs the same workload (bench/loop_stall.lua) with it and with
# build/gfhost: a ticker task wakes every 5 ms while the process claims payloads on a SQLite state
# file that two other processes claim on too, uploads 64 MiB to s3rver (multipart), makes 2,000
# small atomic writes and renames 100 MiB from /dev/shm (another file system: a copy). Prints the
# worst and p99 tick delays of each round. Target: worst < 25 ms after the work.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/bench/lib.sh"
before=${1:-8204eb4}
rounds=${2:-3}
new=$(gfhost_bin)

old_dir=$here/build-stall-before
if [ ! -x "$old_dir/gfhost" ]; then
  src=$(mktemp -d)
  git -C "$here" archive "$before" | tar -x -C "$src"
  cmake -S "$src" -B "$old_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$old_dir" -j "$(nproc)" >/dev/null
  echo "$src" > "$old_dir/.source"
fi
old=$old_dir/gfhost
old_root=$(cat "$old_dir/.source")

bench_servers 19000
trap bench_servers_stop EXIT

work=$(mktemp -d "$here/.stall.XXXXXX")
trap 'rm -rf "$work" /dev/shm/gfstall.*; bench_servers_stop' EXIT
head -c $((64 * 1024 * 1024)) /dev/urandom > "$work/big.bin"

run_round() { # bin root label
  local bin=$1 root=$2 label=$3 d shm
  d=$(mktemp -d "$work/r.XXXXXX")
  shm=$(mktemp /dev/shm/gfstall.XXXXXX)
  head -c $((100 * 1024 * 1024)) /dev/zero > "$shm"
  sync
  GFHOST_ROOT=$root "$bin" run "$here/bench/loop_stall.lua" claimer "$d" p1 2000 &
  local p1=$!
  GFHOST_ROOT=$root "$bin" run "$here/bench/loop_stall.lua" claimer "$d" p2 2000 &
  local p2=$!
  printf '%-7s %s\n' "$label" "$(GFHOST_ROOT=$root "$bin" run "$here/bench/loop_stall.lua" main "$d" "$work/big.bin" "$shm")"
  wait "$p1" "$p2" || true
  rm -rf "$d" "$shm"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((i = 1; i <= rounds; i++)); do
  run_round "$old" "$old_root" before
  run_round "$new" "$here" after
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
