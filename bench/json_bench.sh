#!/bin/sh
# JSON decode + re-encode of a CMR umm_json-like document: gfhost (gf.json) vs python3 (json).
# usage: bench/json_bench.sh [SIZE_MB (default 50)] [GFHOST (default build/gfhost)]
# Prints each side's decode/encode CPU time, wall time and peak RSS (/usr/bin/time -v), then the
# ratios python3 / gfhost (above 1 means gfhost is faster / smaller).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
size=${1:-50}
gfhost=${2:-$root/build/gfhost}
fixtures=${GF_FIXTURES:-$root/../shared/fixtures}
tmp=$(mktemp -d /tmp/gfjsonbench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

python3 "$here/json_gen.py" "$fixtures/cmr/uat_modis_t_page.json" "$tmp/doc.json" "$size"

run() { # name, command...
  name=$1
  shift
  /usr/bin/time -v -o "$tmp/$name.time" "$@" >"$tmp/$name.out"
  cat "$tmp/$name.out"
  wall=$(sed -n 's/.*Elapsed (wall clock) time.*: //p' "$tmp/$name.time")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/$name.time")
  echo "$name wall $wall, peak RSS $((rss / 1024)) MB"
  echo "$rss" >"$tmp/$name.rss"
  awk -F'[ ,]+' '{print $3 + $6}' "$tmp/$name.out" >"$tmp/$name.cpu"
}

run gfhost "$gfhost" run "$here/json_bench.lua" "$tmp/doc.json"
run python3 python3 "$here/json_bench.py" "$tmp/doc.json"

awk -v gc="$(cat "$tmp/gfhost.cpu")" -v pc="$(cat "$tmp/python3.cpu")" \
    -v gr="$(cat "$tmp/gfhost.rss")" -v pr="$(cat "$tmp/python3.rss")" 'BEGIN {
  printf "ratio python3/gfhost: decode+encode time %.2fx, peak RSS %.2fx\n", pc / gc, pr / gr
}'
