#!/usr/bin/env bash
# sha256_bench.sh — SHA-256 of COUNT generated files of SIZE_MB MiB each (default 8 x 256 MiB):
#   gfhost   gf.task.map + gf.fs.sha256 (the host's worker pool, one job per file)
#   sha256sum, sequential (coreutils)
#   python3 hashlib, sequential (1 MiB reads)
# The files are read once before timing so that every tool hashes from the page cache. The three
# outputs are compared; the script fails if any digest differs.
#
# Usage: bench/sha256_bench.sh        env: GFHOST_BIN (default build/gfhost), COUNT, SIZE_MB,
#                                          BENCH_TMP (default $TMPDIR or /tmp), GFHOST_WORKERS
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
gfhost="${GFHOST_BIN:-$root/build/gfhost}"
count="${COUNT:-8}"
size_mb="${SIZE_MB:-256}"
[ -x "$gfhost" ] || { echo "sha256_bench: $gfhost not built (set GFHOST_BIN)" >&2; exit 2; }

work="$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/gf-sha256-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "generating $count x $size_mb MiB in $work ..."
files=()
for i in $(seq 1 "$count"); do
  f="$work/data-$i.bin"
  head -c "$((size_mb * 1048576))" /dev/urandom > "$f"
  files+=("$f")
done
sync # no write-back of the new files while timing
cat "${files[@]}" > /dev/null # warm the page cache

cat > "$work/hash.lua" <<'EOF'
local fs = require("gf.fs")
local task = require("gf.task")
local files = { ... }
local digests, failures = task.map(files, function(path)
  return assert(fs.sha256(path))
end, { concurrency = #files })
if #failures > 0 then error(failures[1].error) end
for i, path in ipairs(files) do io.write(digests[i], "  ", path, "\n") end
EOF

cat > "$work/hash.py" <<'EOF'
import hashlib, sys
for path in sys.argv[1:]:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    print(f"{h.hexdigest()}  {path}")
EOF

# wall, user and system seconds of one command into $work/<name>.time
timed() {
  local name="$1"; shift
  /usr/bin/time -f "%e %U %S" -o "$work/$name.time" "$@" > "$work/$name.out"
}

timed gfhost "$gfhost" run "$work/hash.lua" "${files[@]}"
timed sha256sum sha256sum "${files[@]}"
timed python python3 "$work/hash.py" "${files[@]}"

cmp -s "$work/gfhost.out" "$work/sha256sum.out" || { echo "gfhost digests differ" >&2; exit 1; }
cmp -s "$work/python.out" "$work/sha256sum.out" || { echo "python digests differ" >&2; exit 1; }

total_mb=$((count * size_mb))
workers=$("$gfhost" run <(echo 'print(require("gf.task").workers())') 2>/dev/null || echo "?")
echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "input:   $count files x $size_mb MiB = $total_mb MiB (page cache warm); gfhost workers: $workers"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine inflates wall times)"
printf "%-26s %8s %9s %8s %10s\n" "" "wall" "MiB/s" "ratio" "CPU s"
for name in gfhost sha256sum python; do
  case $name in
    gfhost) label="gfhost (task.map, pool)" ;;
    sha256sum) label="sha256sum (sequential)" ;;
    python) label="python3 hashlib (seq.)" ;;
  esac
  read -r wall user sys < "$work/$name.time"
  read -r gwall _ < "$work/gfhost.time"
  awk -v l="$label" -v w="$wall" -v u="$user" -v s="$sys" -v g="$gwall" -v mb="$total_mb" \
    'BEGIN { printf "%-26s %7.2fs %9.0f %7.2fx %9.2fs\n", l, w, mb / w, w / g, u + s }'
done
echo "(ratio = peer wall time / gfhost wall time; above 1 means gfhost is faster)"
