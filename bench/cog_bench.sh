#!/bin/sh
# COG + JPEG preview of 8 x (2048x2048, 3-band) GeoTIFFs, the CHTC per-image job:
#   gfhost (one process, gf.task.map over the worker pool)
#   vs gdal_translate per file in sequence, and vs `xargs -P 2` of it.
# Pixels of every output are compared (gdalinfo -checksum). One run; ratios printed.
# Usage: bench/cog_bench.sh [path/to/gfhost]   (default: build/gfhost, built with raster)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
gfhost=${1:-$root/build/gfhost}
data=$(sh "$root/spec/support/testdata.sh")
work=$(mktemp -d /tmp/gfbench-cog.XXXXXX)
trap 'rm -rf "$work"' EXIT
export GDAL_PAM_ENABLED=NO
mkdir -p "$work/in" "$work/seq" "$work/par" "$work/gf"
# Real Landsat bands resampled to 2048x2048 (varied content, uncompressed input like the CHTC tiles)
for i in 1 2 3 4 5 6 7 8; do
  b1=$(( (i % 6) + 1 )); b2=$(( ((i + 1) % 6) + 1 )); b3=$(( ((i + 2) % 6) + 1 ))
  gdal_translate -q -outsize 2048 2048 -r cubic -b $b1 -b $b2 -b $b3 \
    "$data/stars/L7_ETMs.tif" "$work/in/img$i.tif"
done
now() { date +%s.%N; }
job='f=$1; o=$2; b=$(basename "$f" .tif);
gdal_translate -q "$f" "$o/$b.tif" -of COG -co COMPRESS=LZW &&
gdal_translate -q "$o/$b.tif" "$o/$b.jpg" -of JPEG -co QUALITY=75'

t0=$(now)
for f in "$work"/in/*.tif; do sh -c "$job" sh "$f" "$work/seq"; done
t1=$(now)
ls "$work"/in/*.tif | xargs -P 2 -I{} sh -c "$job" sh {} "$work/par"
t2=$(now)
cat > "$work/cog.lua" <<LUA
local raster = require("gf.raster")
local task = require("gf.task")
local files = {}
for i = 1, 8 do files[i] = "$work/in/img" .. i .. ".tif" end
local _, failures = task.map(files, function(f)
  local out = "$work/gf/" .. f:match("([^/]+)%.tif$")
  assert(raster.to_cog(f, out .. ".tif", { compress = "LZW" }))
  assert(raster.preview(out .. ".tif", out .. ".jpg", { quality = 75 }))
end)
assert(#failures == 0, failures[1] and tostring(failures[1].error))
LUA
t3=$(now)
"$gfhost" run "$work/cog.lua"
t4=$(now)

same=yes
for f in "$work"/seq/*; do
  b=$(basename "$f")
  a=$(gdalinfo -checksum "$f" | grep Checksum); g=$(gdalinfo -checksum "$work/gf/$b" | grep Checksum)
  [ "$a" = "$g" ] || { same=no; echo "pixels differ: $b"; }
done
python_ok=$(/usr/bin/python3 -c 'import osgeo' 2>/dev/null && echo yes || echo no)
cogs=valid
for f in "$work"/gf/*.tif; do
  gdalinfo "$f" | grep -q "LAYOUT=COG" || cogs=invalid
  if [ "$python_ok" = yes ]; then
    /usr/bin/python3 /usr/share/doc/python3-gdal/examples/validate_cloud_optimized_geotiff.py -q "$f" || cogs=invalid
  fi
done
awk -v s="$t0" -v a="$t1" -v p="$t2" -v g0="$t3" -v g1="$t4" -v same="$same" -v cogs="$cogs" -v n="$(nproc)" 'BEGIN {
  seq = a - s; par = p - a; gf = g1 - g0
  printf "8 images 2048x2048x3 -> COG (LZW) + JPEG q75, %d cores\n", n
  printf "  gdal_translate sequential   %6.2f s  (%.3f s/image)\n", seq, seq / 8
  printf "  gdal_translate xargs -P 2   %6.2f s  (%.3f s/image)\n", par, par / 8
  printf "  gfhost (one process)        %6.2f s  (%.3f s/image)\n", gf, gf / 8
  printf "  speed-up vs sequential %.2fx, vs xargs -P 2 %.2fx; same pixels: %s; COGs %s\n", seq / gf, par / gf, same, cogs
}'
