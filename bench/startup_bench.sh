#!/usr/bin/env bash
# Start-up: `gfhost run` of an empty script vs `python3 -c 'import boto3'` and `lua5.4 -e ''`.
# Target: gfhost median <= 10 ms and >= 30x faster than the boto3 import.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bin=$(gfhost_bin)
n=${N:-41}
empty=$(mktemp --suffix=.lua)
echo "-- empty" > "$empty"
py=python3
if ! $py -c 'import boto3' 2>/dev/null; then py=/usr/bin/python3; fi
if ! $py -c 'import boto3' 2>/dev/null; then py=""; fi
g=$(median_ms "$n" "$bin" run "$empty")
l=$(median_ms "$n" lua5.4 -e '')
echo "startup (median of $n runs, ms)"
printf '  %-34s %8s\n' "gfhost run empty.lua" "$g"
printf '  %-34s %8s\n' "lua5.4 -e ''" "$l"
if [ -n "$py" ]; then
  b=$(median_ms 11 "$py" -c 'import boto3')
  printf '  %-34s %8s\n' "$py -c 'import boto3'" "$b"
  echo "  ratio boto3/gfhost: $(ratio "$b" "$g")x"
else
  echo "  boto3 not importable here: no peer figure"
fi
if [ -f "$(dirname "$bin")/lib/gf/raster/core.so" ]; then
  echo 'require("gf.raster")' > "$empty"
  r=$(median_ms "$n" "$bin" run "$empty")
  printf '  %-34s %8s\n' "gfhost run (require gf.raster)" "$r"
fi
rm -f "$empty"
