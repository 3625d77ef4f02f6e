#!/bin/sh
# SigV4 signatures per second: gfhost (gf.aws.sign, native) vs botocore's SigV4Auth /
# S3SigV4Auth (Debian /usr/bin/python3 + python3-botocore) on the same two requests: an S3 GET
# (Range header, S3 rules) and an SQS JSON POST (body hashed). Both sides sign the same request
# object over and over with the wall clock as the time, for SECONDS of CPU time each (both sides
# measure process CPU time, so other load on the machine skews the ratio less).
#
# Before timing, both sides sign the two requests at one fixed time (CHECK_TIME) and the
# Authorization headers must be byte-identical, else the bench fails (exit 1).
#
# ROUNDS > 1 runs gfhost and botocore alternately ROUNDS times and adds the median of the
# per-round ratios (the machine's load varies from second to second).
# Target: >= 15x botocore (issue 11; the signer runs on libcrypto's SHA-256 and HMAC. The old
# >= 50x target of its own SHA-256 is retired.)
# usage: bench/sigv4_bench.sh [SECONDS (default 2)] [GFHOST (default build/gfhost)] [ROUNDS (1)]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
secs=${1:-2}
gfhost=${2:-${GFHOST_BIN:-$root/build/gfhost}}
rounds=${3:-1}
tmp=$(mktemp -d /tmp/gfsigv4bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/bench.lua" <<'LUA'
local aws = require("gf.aws")
local secs = tonumber((...)) or 2
local CHECK_TIME = 1700000000 -- 2023-11-14T22:13:20Z, also in bench/sigv4_bench.py
local creds = { access_key = "AKIAIOSFODNN7EXAMPLE", secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" }
local body = '{"QueueUrl":"https://sqs.us-east-1.amazonaws.com/123456789012/gf-queue",'
  .. '"MessageBody":"{\\"bucket\\":\\"bkt\\",\\"key\\":\\"dir/2024/file.grib2\\"}"}'
local s3 = { method = "GET", url = "https://bkt.s3.us-east-1.amazonaws.com/dir/2024/file%20name.grib2",
             headers = { Range = "bytes=0-1048575" } }
local sqs = { method = "POST", url = "https://sqs.us-east-1.amazonaws.com/", body = body,
              headers = { ["Content-Type"] = "application/x-amz-json-1.0",
                          ["X-Amz-Target"] = "AmazonSQS.SendMessage" } }
local s3_opts = { region = "us-east-1", service = "s3", s3 = true }
local sqs_opts = { region = "us-east-1", service = "sqs" }
local sign, clock = aws.sign, os.clock
local function check(req, opts)
  local o = { time = CHECK_TIME }
  for k, v in pairs(opts) do o[k] = v end
  return sign(req, creds, o).Authorization
end
local function rate(req, opts)
  local n, t0 = 0, clock()
  while true do
    for _ = 1, 2000 do sign(req, creds, opts) end
    n = n + 2000
    local t = clock()
    if t - t0 >= secs then return n / (t - t0) end
  end
end
print("check_s3_get " .. check(s3, s3_opts))
print("check_sqs_post " .. check(sqs, sqs_opts))
print(string.format("s3_get %.0f", rate(s3, s3_opts)))
print(string.format("sqs_post %.0f", rate(sqs, sqs_opts)))
LUA

# The figures move with the machine's load: note it before and after.
loadavg() { [ -r /proc/loadavg ] && echo "load average ($1): $(cut -d' ' -f1-3 /proc/loadavg)" || true; }
loadavg start

i=1
while [ "$i" -le "$rounds" ]; do
  "$gfhost" run "$tmp/bench.lua" "$secs" >"$tmp/gf.$i"
  /usr/bin/python3 "$here/sigv4_bench.py" "$secs" >"$tmp/py.$i"
  if [ "$i" -eq 1 ]; then
    grep '^check_' "$tmp/gf.1" >"$tmp/gf.check"
    grep '^check_' "$tmp/py.1" >"$tmp/py.check"
    if [ ! -s "$tmp/gf.check" ] || ! cmp -s "$tmp/gf.check" "$tmp/py.check"; then
      echo "sigv4_bench: gfhost and botocore signatures differ:" >&2
      diff "$tmp/gf.check" "$tmp/py.check" >&2 || true
      exit 1
    fi
    echo "signatures identical (gfhost = botocore at time $(sed -n 's/^local CHECK_TIME = \([0-9]*\).*/\1/p' "$tmp/bench.lua"))"
  fi
  i=$((i + 1))
done

# One line per round and request, then the medians when there are several rounds.
for f in "$tmp"/gf.[0-9]*; do
  n=${f##*.}
  awk -v n="$n" '!/^check_/ && FNR == NR { gf[$1] = $2; next } !/^check_/ { py[$1] = $2 }
  END { for (k in gf) printf "%s %d %d %d %.2f\n", k, n, gf[k], py[k], gf[k] / py[k] }' \
    "$f" "$tmp/py.$n"
done | sort -k1,1 -k2,2n >"$tmp/rows"

awk -v rounds="$rounds" '
function median(a, m,   i, j, t) {
  for (i = 2; i <= m; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
BEGIN { printf "%-9s %5s %14s %14s %8s\n", "request", "round", "gfhost sig/s", "botocore sig/s", "ratio" }
{
  printf "%-9s %5d %14d %14d %7.1fx\n", $1, $2, $3, $4, $5
  k[$1]++; g[$1, k[$1]] = $3; p[$1, k[$1]] = $4; r[$1, k[$1]] = $5
}
END {
  if (rounds < 2) exit
  for (q in k) {
    for (i = 1; i <= k[q]; i++) { a[i] = g[q, i]; b[i] = p[q, i]; c[i] = r[q, i] }
    printf "%-9s %5s %14d %14d %7.1fx\n", q, "med", median(a, k[q]), median(b, k[q]), median(c, k[q])
  }
}' "$tmp/rows"
loadavg end
