#!/bin/bash
# Point extraction of grib_copy: the 483 points of config/grib/points.lua (five lists) over 20
# real GRIB2 files (the first 20 messages of python-grib-doc's GFS 2.5° sample, one per file,
# cut with ecCodes' grib_copy).
#   gfhost: grib_copy's extraction (gf.grib.values_at, one decode per file for the five lists,
#           wgrib2 -lon lines written), start-up included
#   peer:   gdallocationinfo -wgs84 -valonly per file and point set (100 processes), the
#           stand-in for the original's wgrib2 call per file and point set
# Prints times (median of 3), points answered, the ratio. Usage: bench/datamart_extract_bench.sh [gfhost]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
gfhost=${1:-$(gfhost_bin)}
data=$(sh "$root/spec/support/testdata.sh")
gfs="$data/grib/gfs.t12z.pgrbf120.2p5deg.grib2"
work=$(mktemp -d /tmp/gfbench-dmx.XXXXXX)
trap 'rm -rf "$work"' EXIT
export GDAL_PAM_ENABLED=NO GRIB_NORMALIZE_UNITS=NO
for i in $(seq 1 20); do grib_copy -w count=$i "$gfs" "$work/f$i.grib2"; done
# the point lists as lon(-180..180) lat lines, one file per list
cat > "$work/pts.lua" <<LUA
local t = dofile("$root/config/grib/points.lua")
for k, l in ipairs(t) do
  local f = assert(io.open("$work/pts" .. k .. ".txt", "w"))
  for _, p in ipairs(l) do f:write(("%s %s\n"):format(p[1] > 180 and p[1] - 360 or p[1], p[2])) end
  f:close()
end
LUA
"$gfhost" run "$work/pts.lua"
cat > "$work/gf.lua" <<LUA
local extract = require("grib_copy.extract")
local plan = require("grib_copy.plan")
local cfg = assert(plan.load())
local task = require("gf.task")
local files = {}
for i = 1, 20 do files[i] = "$work/f" .. i .. ".grib2" end
local out = {}
local res = task.map(files, function(f) return assert(extract.file(f, cfg.point_lists)) end, { concurrency = 4 })
local answered, undef = 0, 0
for i = 1, 20 do
  for k = 1, #cfg.point_lists do
    local text = res[i][k]
    out[#out + 1] = text
    for v in text:gmatch("val=([^:\n]+)") do
      if v == extract.UNDEFINED then undef = undef + 1 else answered = answered + 1 end
    end
  end
end
local f = assert(io.open("$work/gf.out", "w")) f:write(table.concat(out)) f:close()
print(answered, undef)
LUA
peer() {
  for i in $(seq 1 20); do
    for k in 1 2 3 4 5; do
      gdallocationinfo -wgs84 -valonly "$work/f$i.grib2" < "$work/pts$k.txt"
    done
  done > "$work/gdal.out" 2>/dev/null
}
gf_ms=$(median_ms 3 "$gfhost" run "$work/gf.lua")
peer_ms=$(median_ms 3 peer)
read -r gf_answered gf_undef < <("$gfhost" run "$work/gf.lua")
peer
gdal_answered=$(grep -c . "$work/gdal.out" || true)
agree=$(grep -o 'val=[^:]*' "$work/gf.out" | cut -d= -f2 | paste -d' ' - "$work/gdal.out" | awk '{ n++; d = $1 - $2; if (d < 0) d = -d; m = ($2 < 0 ? -$2 : $2); if (d > 1e-4 * m + 1e-9) bad++ } END { printf "%d compared, %d differ", n, bad + 0 }')
echo "483 points x 20 GRIB2 files (GFS 2.5°, one message each)"
printf "  gfhost grib_copy extraction        %8.1f ms  values %d/%d\n" "$gf_ms" "$gf_answered" $((483 * 20))
printf "  gdallocationinfo per file+set (100) %8.1f ms  values %d/%d\n" "$peer_ms" "$gdal_answered" $((483 * 20))
echo "  values gfhost vs gdallocationinfo: $agree"
echo "  ratio: $(ratio "$peer_ms" "$gf_ms")x (target >= 3x)"
