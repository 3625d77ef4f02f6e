#!/bin/sh
# Values at 500 points for every field (343) of python-grib-doc's gfs.t12z.pgrbf120.2p5deg.grib2:
#   gfhost gf.grib.values_at   vs   gdallocationinfo -wgs84 (one process, points on stdin)
#   and ecCodes grib_ls -l LAT,LON,1 (one process per point; timed on 20 points, scaled to 500).
# Reports how many points each answers and whether the answered values agree. One run.
# Usage: bench/grib_bench.sh [path/to/gfhost]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
gfhost=${1:-$root/build/gfhost}
data=$(sh "$root/spec/support/testdata.sh")
gfs="$data/grib/gfs.t12z.pgrbf120.2p5deg.grib2"
work=$(mktemp -d /tmp/gfbench-grib.XXXXXX)
trap 'rm -rf "$work"' EXIT
export GDAL_PAM_ENABLED=NO GRIB_NORMALIZE_UNITS=NO
# 500 fixed pseudo-random points, longitudes -180..180 (as gdallocationinfo -wgs84 expects)
# (the first 5 lie east of 178.75E, the last column of GDAL's shifted grid)
awk 'BEGIN { srand(42); for (i = 0; i < 500; i++) printf "%.4f %.4f\n", (i < 5 ? 178.8 + i * 0.25 : rand() * 360 - 180), rand() * 178 - 89 }' > "$work/points.txt"
now() { date +%s.%N; }

t0=$(now)
gdallocationinfo -wgs84 -valonly "$gfs" < "$work/points.txt" > "$work/gdal.txt" 2>/dev/null || true
t1=$(now)
cat > "$work/grib.lua" <<LUA
local grib = require("gf.grib")
local pts = {}
for line in io.lines("$work/points.txt") do
  local lon, lat = line:match("(%S+) (%S+)")
  pts[#pts + 1] = { tonumber(lon), tonumber(lat) }
end
local r = assert(grib.values_at("$gfs", pts))
local out = assert(io.open("$work/gf.txt", "w"))
local answered = 0
for i = 1, #pts do
  if not r.points[i].outside then answered = answered + 1 end
  for _, m in ipairs(r.messages) do
    local v = m.values[i]
    out:write(v and string.format("%.10g", v) or "", "\n")
  end
end
out:close()
io.write(answered, "\n")
LUA
gf_answered=$("$gfhost" run "$work/grib.lua")
t2=$(now)
head -n 20 "$work/points.txt" > "$work/p20.txt"
t3=$(now)
while read -r lon lat; do grib_get -F %.10g -l "$lat,$lon,1" "$gfs"; done < "$work/p20.txt" > "$work/ec.txt"
t4=$(now)

# gdallocationinfo prints nothing for a point it places off the grid: count its reports (untimed)
lines=$(wc -l < "$work/gdal.txt")
gdal_off=$(gdallocationinfo -wgs84 "$gfs" < "$work/points.txt" 2>&1 | grep -c "Location is off this file" || true)
gdal_answered=$((500 - gdal_off))
# ecCodes answers (7 significant digits, 9999 = missing) for the first 20 points
ec_agree=$(head -n $((20 * 343)) "$work/gf.txt" | paste -d' ' "$work/ec.txt" - | awk '{ n++; e = $1 + 0; g = $2; if (e == 9999 && (g == "" || g == 9999)) next; d = e - sprintf("%.7g", g); if (d < 0) d = -d; m = (e < 0 ? -e : e); if (d > 1e-6 * m + 1e-9) bad++ } END { printf "%d compared, %d differ", n, bad + 0 }')
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" -v ga="$gdal_answered" -v fa="$gf_answered" -v lines="$lines" -v ec_agree="$ec_agree" 'BEGIN {
  gdal = b - a; gf = c - b; ec = (e - d) / 20 * 500
  printf "500 points x 343 fields, GFS 2.5 deg (144x73)\n"
  printf "  gdallocationinfo -wgs84     %6.2f s  points answered %d/500 (%d lines)\n", gdal, ga, lines
  printf "  ecCodes grib_ls per point   %6.2f s  (extrapolated from 20 points)\n", ec
  printf "  gfhost values_at            %6.2f s  points answered %d/500\n", gf, fa
  printf "  speed-up vs gdallocationinfo %.2fx, vs grib_ls %.0fx\n", gdal / gf, ec / gf
  printf "  values vs ecCodes (20 points): %s\n", ec_agree
}'
