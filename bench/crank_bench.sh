#!/usr/bin/env bash
# The COG crank end to end on s3rver: 16 x 2048x2048 3-band GeoTIFFs listed in one trigger CSV.
#   gfhost run crank (claim, download, COG LZW + layout check, JPEG q75, upload both, reports)
#   vs the original's per-image job (generate_cogs.sh inside an HTCondor node, source-systems
#   §2.5-2.6): `aws s3 cp` down, gdal_translate COG, gdal_translate JPEG, `aws s3 cp` up twice,
#   run two at a time with `xargs -P 2` (two slots on this 2-core machine) and in sequence.
# Wall time, peak RSS (GNU time's %M: for xargs, the largest single process of the tree), ratios;
# the outputs' pixels are compared (gdalinfo -checksum) and the COGs validated.
# Usage: bench/crank_bench.sh [path/to/gfhost]     (needs s3rver on 127.0.0.1:19000 and awscli)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
source "$root/bench/lib.sh"
gfhost=${1:-$(gfhost_bin)}
bench_servers 19000
trap 'rm -rf "$work"; bench_servers_stop' EXIT
N=${CRANK_BENCH_IMAGES:-16}
AWS=/usr/bin/aws
[ -x "$AWS" ] || AWS=aws
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 AWS_PAGER="" \
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
EP=http://127.0.0.1:19000
data=$(sh "$root/spec/support/testdata.sh")
work=$(mktemp -d /tmp/gfbench-crank.XXXXXX)
id=$(date +%s)$$
IN=crank-bench-in-$id OUT_GF=crank-bench-gf-$id OUT_SEQ=crank-bench-seq-$id OUT_PAR=crank-bench-par-$id
mkdir -p "$work/img"
for b in $IN $OUT_GF $OUT_SEQ $OUT_PAR; do "$AWS" --endpoint-url $EP s3 mb "s3://$b" >/dev/null; done
for ((i = 1; i <= N; i++)); do
  b1=$(( (i % 6) + 1 )); b2=$(( ((i + 1) % 6) + 1 )); b3=$(( ((i + 2) % 6) + 1 ))
  f=$(printf 'img%02d.tif' "$i")
  gdal_translate -q -outsize 2048 2048 -r cubic -b $b1 -b $b2 -b $b3 "$data/stars/L7_ETMs.tif" "$work/img/$f"
  echo "tiles/$f,3" >>"$work/bench_raw.csv"
done
"$AWS" --endpoint-url $EP s3 cp --quiet --recursive "$work/img" "s3://$IN/tiles/"
mb=$(du -cm "$work"/img/*.tif | tail -1 | cut -f1)

# The original's node: generate_cogs.sh between HTCondor's S3 transfers (one scratch dir each).
cat >"$work/node.sh" <<'SH'
#!/bin/sh
key=$1; out=$2; d=$(mktemp -d "$WORK/node.XXXXXX"); cd "$d"
infile=$(basename "$key"); jpegfile="${infile%.*}.jpg"
$AWS --endpoint-url $EP s3 cp --quiet "s3://$IN/$key" "$infile"
gdal_translate -q "$infile" tempfile.tif -of COG -CO compress=lzw
mv tempfile.tif "$infile"
gdal_translate -q "$infile" "$jpegfile" -of jpeg -CO quality=75
rm -f ./*.xml
$AWS --endpoint-url $EP s3 cp --quiet "$infile" "s3://$out/$key"
$AWS --endpoint-url $EP s3 cp --quiet "$jpegfile" "s3://$out/${key%.tif}.jpg"
cd / && rm -rf "$d"
SH
chmod +x "$work/node.sh"
export WORK=$work AWS EP IN
keys() { cut -d, -f1 "$work/bench_raw.csv"; }

now() { date +%s.%N; }
t0=$(now)
/usr/bin/time -f '%M' -o "$work/seq.rss" sh -c "for k in \$(cut -d, -f1 '$work/bench_raw.csv'); do '$work/node.sh' \$k $OUT_SEQ; done"
t1=$(now)
keys | /usr/bin/time -f '%M' -o "$work/par.rss" xargs -P 2 -I{} "$work/node.sh" {} $OUT_PAR
t2=$(now)
printf '%s' S3RVER >"$work/ak"; printf '%s' S3RVER >"$work/sk"
"$AWS" --endpoint-url $EP s3 cp --quiet "$work/bench_raw.csv" "s3://$IN/bench_raw.csv"
t3=$(now)
/usr/bin/time -f '%M' -o "$work/gf.rss" "$gfhost" run crank --input "s3://$IN" --output "s3://$OUT_GF" \
  -a "$work/ak" -s "$work/sk" -e $EP --state "$work/state.db" --lock-dir "$work" >"$work/gf.out" 2>"$work/gf.err" \
  || { cat "$work/gf.out" "$work/gf.err"; exit 1; }
t4=$(now)

# Same pixels as the original's outputs; every COG valid; the processed report lists every row.
same=yes; cogs=valid
mkdir -p "$work/check"
for k in $(keys); do
  for ext in tif jpg; do
    kk=${k%.tif}.$ext
    "$AWS" --endpoint-url $EP s3 cp --quiet "s3://$OUT_PAR/$kk" "$work/check/par.$ext"
    "$AWS" --endpoint-url $EP s3 cp --quiet "s3://$OUT_GF/$kk" "$work/check/gf.$ext"
    a=$(gdalinfo -checksum "$work/check/par.$ext" | grep Checksum); g=$(gdalinfo -checksum "$work/check/gf.$ext" | grep Checksum)
    [ "$a" = "$g" ] || { same=no; echo "pixels differ: $kk"; }
  done
  /usr/bin/python3 /usr/lib/python3/dist-packages/osgeo_utils/samples/validate_cloud_optimized_geotiff.py -q "$work/check/gf.tif" || cogs=invalid
done
rows=$("$AWS" --endpoint-url $EP s3 ls "s3://$IN/" | awk '/bench_processed-/ {print $4}' | head -1)
"$AWS" --endpoint-url $EP s3 cp --quiet "s3://$IN/$rows" "$work/processed.csv"
nrows=$(grep -c . "$work/processed.csv")
for b in $IN $OUT_GF $OUT_SEQ $OUT_PAR; do "$AWS" --endpoint-url $EP s3 rb --force "s3://$b" >/dev/null; done

awk -v s="$t0" -v a="$t1" -v p="$t2" -v g0="$t3" -v g1="$t4" -v same="$same" -v cogs="$cogs" \
  -v n="$(nproc)" -v N="$N" -v mb="$mb" -v rows="$nrows" \
  -v rs="$(cat "$work/seq.rss")" -v rp="$(cat "$work/par.rss")" -v rg="$(cat "$work/gf.rss")" 'BEGIN {
  seq = a - s; par = p - a; gf = g1 - g0
  printf "crank: %d images 2048x2048x3 (%d MB) in s3rver -> COG (LZW) + JPEG q75 in s3rver, %d cores\n", N, mb, n
  printf "  original per-image job, sequential   %7.2f s  (%.3f s/image)  peak RSS %6.1f MiB\n", seq, seq / N, rs / 1024
  printf "  original per-image job, xargs -P 2   %7.2f s  (%.3f s/image)  peak RSS %6.1f MiB\n", par, par / N, rp / 1024
  printf "  gfhost run crank (end to end)        %7.2f s  (%.3f s/image)  peak RSS %6.1f MiB\n", gf, gf / N, rg / 1024
  printf "  speed-up vs sequential %.2fx, vs xargs -P 2 %.2fx; same pixels: %s; COGs %s; processed rows %d/%d\n",
    seq / gf, par / gf, same, cogs, rows, N
}'
