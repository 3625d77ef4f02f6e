#!/usr/bin/env bash
# Many-object S3 transfer: upload then download 2,000 x 64 KiB objects against s3rver
# (127.0.0.1:19000), gfhost vs `aws s3 cp --recursive`, `rclone copy --transfers 32` (when
# installed) and `curl --parallel --parallel-max 8` (the server's limit). REPS rounds (default
# 1); in each round every tool uploads then downloads, in turn, so a slow moment of the shared
# machine hits all tools of a round alike. Prints objects/s both ways, client CPU, peak RSS
# (/usr/bin/time) and the ratios gfhost / peer per round, then their medians over the rounds.
# gfhost downloads twice: durable (the default: every file fsynced before it counts) and with
# {sync = false} (atomic renames, no fsync: what curl, rclone and the AWS CLI do).
#
#   bash bench/s3_transfer_bench.sh [path/to/gfhost]      (default ./build/gfhost)
#   env: N (2000 objects), SIZE (65536), CONC (gfhost concurrency, 16), REPS (1),
#        PEERS ("curl rclone aws": the peers to run, when installed)
# Uses the servers from spec/support/servers.sh (started here unless 19000 already answers).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GFHOST=$(realpath "${1:-$ROOT/build/gfhost}")
N=${N:-2000}
SIZE=${SIZE:-65536}
CONC=${CONC:-16}
REPS=${REPS:-1}
PEERS=${PEERS:-curl rclone aws}
E=http://127.0.0.1:19000
BUCKET=perfbkt
W=$(mktemp -d /tmp/gf-s3bench.XXXXXX)

cleanup() {
  bench_servers_stop
  rm -rf "$W"
}
trap cleanup EXIT

# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"
bench_servers 19000

export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 \
  AWS_PAGER="" AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export RCLONE_CONFIG_X_TYPE=s3 RCLONE_CONFIG_X_PROVIDER=Other RCLONE_CONFIG_X_ENDPOINT=$E \
  RCLONE_CONFIG_X_ACCESS_KEY_ID=S3RVER RCLONE_CONFIG_X_SECRET_ACCESS_KEY=S3RVER \
  RCLONE_CONFIG_X_REGION=us-east-1 RCLONE_CONFIG_X_FORCE_PATH_STYLE=true RCLONE_CONFIG=/dev/null

AWS=""
if [ -x "$HOME/.pyenv/shims/aws" ]; then AWS="$HOME/.pyenv/shims/aws"
elif command -v aws >/dev/null; then AWS=$(command -v aws); fi

echo "# data: $N x $SIZE bytes in $W/small"
mkdir -p "$W/small"
python3 - "$W/small" "$N" "$SIZE" <<'EOF'
import random, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(12345)
for i in range(n):
    open(f"{d}/f{i:04d}.bin", "wb").write(r.randbytes(size))
EOF
SRC_MD5=$(cat "$W"/small/* | md5sum | cut -d' ' -f1)

cat >"$W/gf.lua" <<'EOF'
local s3 = require("gf.s3")
local mode, a, b, conc = os.getenv("GF_MODE"), os.getenv("GF_A"), os.getenv("GF_B"),
  tonumber(os.getenv("CONC"))
local c = s3.client({ endpoint = "http://127.0.0.1:19000", concurrency = conc,
  credentials = { access_key = "S3RVER", secret_key = "S3RVER" } })
local r, msg
if mode == "bucket" then
  local ok, m, code = c:create_bucket(a)
  if not ok and code ~= "conflict" then error(m) end
  return
elseif mode == "up" then
  r, msg = c:upload_dir(a, b)
else
  -- GF_SYNC=false: atomic renames without fsync, as curl, rclone and the AWS CLI write files
  r, msg = c:download_prefix(a, b, { sync = os.getenv("GF_SYNC") ~= "false" })
end
assert(r, msg)
if #r.failed > 0 then error(r.failed[1].message) end
io.stderr:write(("gfhost %s: %d objects\n"):format(mode, r.count))
EOF

gf() { GF_MODE=$1 GF_A=$2 GF_B=${3:-} CONC=$CONC "$GFHOST" run "$W/gf.lua"; }
gf bucket "s3://$BUCKET"
gf up "$W/small" "s3://$BUCKET/src/" 2>/dev/null

# curl config files (unsigned requests: s3rver accepts them), like peer-baselines.md
mk_curl_cfg() { # $1 = up|down, $2 = prefix or dir
  local i f
  for ((i = 0; i < N; i++)); do
    f=$(printf 'f%04d.bin' "$i")
    if [ "$1" = up ]; then
      printf 'url = "%s/%s/%s%s"\nupload-file = "%s/small/%s"\n' "$E" "$BUCKET" "$2" "$f" "$W" "$f"
    else
      printf 'url = "%s/%s/src/%s"\noutput = "%s/%s"\n' "$E" "$BUCKET" "$f" "$2" "$f"
    fi
  done
}

has_peer() { [[ " $PEERS " == *" $1 "* ]]; }

declare -A UP DOWN UPRSS DOWNRSS UPCPU DOWNCPU
# timed NAME DIRECTION CMD... ; records objects/s, cpu, rss
timed() {
  local name=$1 dir=$2
  shift 2
  local t="$W/time.$name.$dir"
  if ! /usr/bin/time -f '%e %U %S %M' -o "$t" "$@" >"$W/out.$name.$dir" 2>&1; then
    echo "!! $name $dir failed:"
    tail -5 "$W/out.$name.$dir"
    return 0
  fi
  read -r wall user sys rss <"$t"
  local ops cpu
  ops=$(awk -v n="$N" -v w="$wall" 'BEGIN{printf "%.0f", n / w}')
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN{printf "%.2f", u + s}')
  if [ "$dir" = up ]; then UP[$name]=$ops; UPCPU[$name]=$cpu; UPRSS[$name]=$rss
  else DOWN[$name]=$ops; DOWNCPU[$name]=$cpu; DOWNRSS[$name]=$rss; fi
  printf '%-8s %-4s wall %6.2f s  %5s obj/s  cpu %5s s  peak RSS %6.1f MiB\n' "$name" "$dir" \
    "$wall" "$ops" "$cpu" "$(awk -v k="$rss" 'BEGIN{print k / 1024}')"
}

check_dir() { # $1 = dir, $2 = name
  local got
  got=$(cat "$1"/* 2>/dev/null | md5sum | cut -d' ' -f1)
  if [ "$got" != "$SRC_MD5" ] || [ "$(ls "$1" | wc -l)" != "$N" ]; then
    echo "!! $2 download does not match the source"
  fi
}

ns() { date +%s%N; }

RATIOS="$W/ratios" # lines: peer up-ratio down-ratio rss-up-ratio rss-down-ratio
: >"$RATIOS"

one_round() { # $1 = round number
  local r=$1 p
  UP=() DOWN=() UPRSS=() DOWNRSS=()
  echo "# round $r: upload then download (s3rver is single-threaded Node: the server is the limit)"
  # gfhost first in odd rounds, last in even ones: file creation on this machine's ext4 costs
  # more shortly after many deletions (inode allocator), which favours whoever runs later.
  if [ $((r % 2)) = 1 ]; then gfhost_round "$r"; fi
  peers_round "$r"
  if [ $((r % 2)) = 0 ]; then gfhost_round "$r"; fi
  round_ratios
}

gf_down_durable() {
  local D="$W/dl-gf-$1"
  timed gfhost down env GF_MODE=down GF_A="s3://$BUCKET/src/" GF_B="$D" CONC="$CONC" \
    "$GFHOST" run "$W/gf.lua"
  check_dir "$D" gfhost
}

gf_down_nosync() {
  local D="$W/dl-gfns-$1"
  timed nosync down env GF_MODE=down GF_SYNC=false GF_A="s3://$BUCKET/src/" GF_B="$D" CONC="$CONC" \
    "$GFHOST" run "$W/gf.lua"
  check_dir "$D" "gfhost (sync = false)"
}

gfhost_round() {
  local r=$1
  timed gfhost up env GF_MODE=up GF_A="$W/small" GF_B="s3://$BUCKET/up/gf-$(ns)/" CONC="$CONC" \
    "$GFHOST" run "$W/gf.lua"
  # The download right after the upload runs while s3rver's fresh objects are written back:
  # the two gfhost downloads take that place in turn.
  if [ $((r % 2)) = 1 ]; then gf_down_durable "$r"; gf_down_nosync "$r"
  else gf_down_nosync "$r"; gf_down_durable "$r"; fi
}

peers_round() {
  local r=$1
  if has_peer curl; then
    mk_curl_cfg up "up/curl-$(ns)/" >"$W/curl_put.cfg"
    mkdir -p "$W/dl-curl-$r"
    mk_curl_cfg down "$W/dl-curl-$r" >"$W/curl_get.cfg"
    timed curl up curl -s -f --parallel --parallel-max 8 -K "$W/curl_put.cfg" -o /dev/null
    timed curl down curl -s -f --parallel --parallel-max 8 -K "$W/curl_get.cfg"
    check_dir "$W/dl-curl-$r" curl
  fi

  if has_peer rclone && command -v rclone >/dev/null; then
    timed rclone up env -u AWS_CA_BUNDLE rclone copy --transfers 32 "$W/small" \
      "X:$BUCKET/up/rc-$(ns)/"
    mkdir -p "$W/dl-rclone-$r"
    timed rclone down env -u AWS_CA_BUNDLE rclone copy --transfers 32 "X:$BUCKET/src/" \
      "$W/dl-rclone-$r/"
    check_dir "$W/dl-rclone-$r" rclone
  elif has_peer rclone; then
    echo "# rclone not installed (apt-get install -y rclone): skipped"
  fi

  if has_peer aws && [ -n "$AWS" ]; then
    timed aws up "$AWS" --endpoint-url "$E" s3 cp --recursive --only-show-errors "$W/small" \
      "s3://$BUCKET/up/aws-$(ns)/"
    mkdir -p "$W/dl-aws-$r"
    timed aws down "$AWS" --endpoint-url "$E" s3 cp --recursive --only-show-errors \
      "s3://$BUCKET/src/" "$W/dl-aws-$r/"
    check_dir "$W/dl-aws-$r" aws
  elif has_peer aws; then
    echo "# aws CLI not found: skipped"
  fi
}

round_ratios() {
  local p
  echo "# round $round ratios: gfhost objects/s / peer objects/s (>1: gfhost faster); RSS gfhost / peer"
  for p in curl rclone aws; do
    [ -n "${UP[$p]:-}" ] || continue
    awk -v p="$p" -v gu="${UP[gfhost]:-0}" -v pu="${UP[$p]}" -v gd="${DOWN[gfhost]:-0}" \
      -v pd="${DOWN[$p]:-0}" -v gr="${UPRSS[gfhost]:-0}" -v pr="${UPRSS[$p]}" \
      -v gdr="${DOWNRSS[gfhost]:-0}" -v pdr="${DOWNRSS[$p]:-1}" -v out="$RATIOS" 'BEGIN{
        du = gu / pu; dd = (pd > 0 ? gd / pd : 0)
        printf "vs %-7s up %.2fx  down %.2fx   peak RSS up %.2f  down %.2f\n", p, du, dd,
          gr / pr, gdr / pdr
        printf "%s %.4f %.4f %.4f %.4f\n", p, du, dd, gr / pr, gdr / pdr >> out }'
  done
  if [ -n "${DOWN[curl]:-}" ] && [ -n "${DOWN[nosync]:-}" ]; then
    awk -v g="${DOWN[nosync]}" -v c="${DOWN[curl]}" -v out="$RATIOS" 'BEGIN {
      printf "vs curl    down with sync = false (no fsync, as curl) %.2fx\n", g / c
      printf "nosync 0 %.4f 0 0\n", g / c >> out }'
  fi
}

for ((round = 1; round <= REPS; round++)); do one_round "$round"; done

if [ "$REPS" -gt 1 ]; then
  echo "# medians over $REPS rounds: gfhost / peer (objects/s up, down; peak RSS up, down)"
  for p in curl rclone aws nosync; do
    grep -q "^$p " "$RATIOS" || continue
    for col in 2 3 4 5; do
      grep "^$p " "$RATIOS" | awk -v c="$col" '{print $c}' | sort -g |
        awk '{v[NR] = $1} END {printf "%.2f ", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
    done | awk -v p="$p" '{ if (p == "nosync") printf "median vs curl    down with sync = false %.2fx\n", $2
      else printf "median vs %-7s up %.2fx  down %.2fx   peak RSS up %.2f  down %.2f\n", p, $1, $2, $3, $4 }'
  done
fi
