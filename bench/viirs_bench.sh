#!/usr/bin/env bash
# VIIRS job benchmarks (one run each, same input for both sides; prints the ratios):
#  1. zonal statistics: 9 zones x 6 tiles x 3 months (36 rasters read inside their .tgz, 324
#     radiance + 324 coverage CSVs) with gfhost's viirs.month.tile_stats (gf.raster.zonal_stats,
#     one call per raster for all zones, on the worker pool) against bench/viirs_zonal_peer.py
#     (rasterio + numpy, each raster opened once, a window per zone). Target >= 3x.
#  2. downloads: one month's 6 tiles from the local provider mirror (spec/support/viirs_server.py)
#     with viirs.month.download (gf.http, 6 in flight, resumable, size-checked) against the
#     original parallel_wget's one-process-per-URL approach done with curl (6 curl processes).
#     Target >= 1x.
# usage: bench/viirs_bench.sh [gfhost] [scale (raster size factor, default 16)] [MiB per download tile (default 64)]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
GFHOST=${1:-$(gfhost_bin)}
SCALE=${2:-16}
DLMB=${3:-64}
PY=/usr/bin/python3
TMP=$(mktemp -d /tmp/viirsbench.XXXXXX)
SRV_PID=
cleanup() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
DATA=$(sh spec/support/testdata.sh 2>/dev/null)

# 1. zonal statistics
$PY spec/support/viirs_tiles.py --src "$DATA/terra/elev.tif" --root "$TMP/srv" --path /v10/{{pointInTime}}/vcmcfg/ \
  --months 201201,201202,201203 --scale "$SCALE" --zones "$TMP/zones" --nzones 7 > "$TMP/built.json"
TGZ=$(find "$TMP/srv" -name '*.tgz' | sort)
W=$($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%dx%d" % (d["width"], d["height"]))' "$TMP/built.json")
cat > "$TMP/zonal.lua" <<'LUA'
local month, zones = require("viirs.month"), require("viirs.zones")
local fs, task = require("gf.fs"), require("gf.task")
local zdir, out = ...
local groups = zones.groups(assert(zones.load(zdir)))
local list = {}
for line in io.lines(out .. ".list") do list[#list + 1] = line end
assert(fs.mkdir_p(out))
local _, failed = task.map(list, function(tgz)
  local name = tgz:match("([^/]+)$")
  local ym, tile = name:sub(11, 16), name:sub(29, 35)
  for _, r in ipairs(month.tile_stats(tgz, name, groups, {}, out)) do
    assert(fs.write(("%s/%s_%s_%s%s.csv"):format(out, r.zone, ym, tile, r.kind == "coverage" and "_cvg" or ""),
      month.csv_text(r.stats)))
  end
end, { concurrency = task.workers and task.workers() or 2 })
assert(#failed == 0, failed[1] and tostring(failed[1].error))
LUA
echo "$TGZ" > "$TMP/gf.list"
G=$(median_ms 5 "$GFHOST" run "$TMP/zonal.lua" "$TMP/zones" "$TMP/gf")
P=$(median_ms 5 $PY bench/viirs_zonal_peer.py "$TMP/zones" "$TMP/py" $TGZ)
cpu() { /usr/bin/time -f '%U %S' -o "$TMP/cpu" "$@" >/dev/null 2>&1; awk '{printf "%.0f", ($1 + $2) * 1000}' "$TMP/cpu"; }
GC=$(cpu "$GFHOST" run "$TMP/zonal.lua" "$TMP/zones" "$TMP/gf")
PC=$(cpu $PY bench/viirs_zonal_peer.py "$TMP/zones" "$TMP/py" $TGZ)
NG=$(ls "$TMP/gf" | grep -c '\.csv$'); NP=$(ls "$TMP/py" | grep -c '\.csv$')
SAME=$($PY - "$TMP/gf" "$TMP/py" <<'PY'
import os, sys
a, b = sys.argv[1:3]
worst = 0.0
for n in os.listdir(b):
    x = open(os.path.join(a, n)).read().split("\n")[1].split(",")
    y = open(os.path.join(b, n)).read().split("\n")[1].split(",")
    for u, v in zip(x, y):
        if u != v:
            u, v = float(u), float(v)
            worst = max(worst, abs(u - v) / max(1.0, abs(v)))
print("%.1e" % worst)
PY
)
echo "zonal statistics, 9 zones x 6 tiles x 3 months, rasters ${W} (Float32 + UInt16) inside .tgz:"
echo "  gfhost (viirs.month.tile_stats, gf.raster)   ${G} ms wall (median of 5), ${GC} ms CPU  ($NG CSVs)"
echo "  rasterio + numpy (bench/viirs_zonal_peer.py) ${P} ms wall (median of 5), ${PC} ms CPU  ($NP CSVs)"
echo "  ratio $(ratio "$P" "$G")x wall, $(ratio "$PC" "$GC")x CPU   largest relative difference between the CSVs: $SAME"

# 2. downloads: one month's six tiles
D="$TMP/dl/v10/201801/vcmcfg"
mkdir -p "$D"
for t in 75N180W 75N060W 75N060E 00N180W 00N060W 00N060E; do
  head -c $((DLMB * 1048576)) /dev/urandom > "$D/SVDNB_npp_20180101-20180131_${t}_vcmcfg_v10_c201802021200.tgz"
done
$PY spec/support/viirs_server.py --dir "$TMP/dl" --port-file "$TMP/port" --parent $$ > "$TMP/srv.log" 2>&1 &
SRV_PID=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
URL="http://127.0.0.1:$(cat "$TMP/port")/v10/201801/vcmcfg/"
NAMES=$(ls "$D")
cat > "$TMP/dl.lua" <<'LUA'
local month, task = require("viirs.month"), require("gf.task")
local url, dir, names = ...
local tiles = {}
for n in names:gmatch("%S+") do tiles[#tiles + 1] = { name = n, url = url .. n } end
os.execute("rm -rf " .. dir .. " && mkdir -p " .. dir)
local _, failed = task.map(tiles, function(t) return month.download(t, dir .. "/" .. t.name,
  { downloads = 6, retries = 4 }) end, { concurrency = 6 })
assert(#failed == 0, failed[1] and tostring(failed[1].error))
LUA
curl_all() {
  rm -rf "$TMP/curl" && mkdir -p "$TMP/curl"
  local f
  for f in $NAMES; do curl -sf -o "$TMP/curl/$f" "$URL$f" & done
  wait
}
G2=$(median_ms 5 timeout 300 "$GFHOST" run "$TMP/dl.lua" "$URL" "$TMP/gfdl" "$NAMES")
C2=$(median_ms 5 curl_all)
cmp -s "$TMP/gfdl/$(echo "$NAMES" | head -1)" "$D/$(echo "$NAMES" | head -1)" && OK=identical || OK=DIFFERENT
MB=$((DLMB * 6))
echo "downloads, one month's 6 tiles of ${DLMB} MiB (${MB} MiB) from the local mirror:"
echo "  gfhost (viirs.month.download, gf.http)  ${G2} ms  ($(awk -v m=$MB -v t="$G2" 'BEGIN{printf "%.0f", m/(t/1000)}') MiB/s, bytes $OK)"
echo "  6 curl processes (parallel_wget style)  ${C2} ms  ($(awk -v m=$MB -v t="$C2" 'BEGIN{printf "%.0f", m/(t/1000)}') MiB/s)"
echo "  ratio $(ratio "$C2" "$G2")x"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
