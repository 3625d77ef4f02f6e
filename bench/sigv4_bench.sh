#!/bin/sh
# SigV4 signatures per second: gfhost (gf.aws.sign, native) vs botocore's SigV4Auth /
# S3SigV4Auth (Debian /usr/bin/python3 + python3-botocore) on the same two requests: an S3 GET
# (Range header, S3 rules) and an SQS JSON POST (body hashed). Both sides sign the same request
# object over and over with the wall clock as the time, for SECONDS of CPU time each (both sides
# measure process CPU time, so other load on the machine skews the ratio less).
# usage: bench/sigv4_bench.sh [SECONDS (default 2)] [GFHOST (default build/gfhost)]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
secs=${1:-2}
gfhost=${2:-${GFHOST_BIN:-$root/build/gfhost}}
tmp=$(mktemp -d /tmp/gfsigv4bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/bench.lua" <<'LUA'
local aws = require("gf.aws")
local secs = tonumber(arg and arg[1]) or 2
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
local function rate(req, opts)
  local n, t0 = 0, clock()
  while true do
    for _ = 1, 2000 do sign(req, creds, opts) end
    n = n + 2000
    local t = clock()
    if t - t0 >= secs then return n / (t - t0) end
  end
end
print(string.format("s3_get %.0f", rate(s3, s3_opts)))
print(string.format("sqs_post %.0f", rate(sqs, sqs_opts)))
LUA

"$gfhost" run "$tmp/bench.lua" "$secs" >"$tmp/gf.out"
/usr/bin/python3 "$here/sigv4_bench.py" "$secs" >"$tmp/py.out"

awk 'FNR == NR { gf[$1] = $2; next } { py[$1] = $2 }
END {
  printf "%-9s %14s %14s %8s\n", "request", "gfhost sig/s", "botocore sig/s", "ratio"
  for (k in gf) printf "%-9s %14d %14d %7.1fx\n", k, gf[k], py[k], gf[k] / py[k]
}' "$tmp/gf.out" "$tmp/py.out" | sort
