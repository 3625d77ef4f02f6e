#!/usr/bin/env bash
# AMQP client cost: publish N datamart-like announcements (persistent, to a durable queue,
# each publish waits for its publisher confirm) and consume them back (prefetch 10, one ack
# each),
# gfhost gf.amqp vs python3-pika 1.2 (BlockingConnection) doing the same against the same
# RabbitMQ. The broker sets the pace of the wall time; the client's CPU time (user+sys) is
# what each client costs. Prints messages/s and CPU seconds per side and the ratios.
#
#   bash bench/amqp_bench.sh [path/to/gfhost]     env: N (5000), GF_TEST_AMQP_URL
# (Uses the broker on 127.0.0.1:19010 if one answers, else starts spec/support/rabbitmq.sh's.)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GFHOST=$(realpath "${1:-$ROOT/build/gfhost}")
N=${N:-5000}
W=$(mktemp -d /tmp/gf-amqpbench.XXXXXX)
STARTED=0
cleanup() {
  if [ "$STARTED" = 1 ]; then rmq_stop; fi
  rm -rf "$W"
}
trap cleanup EXIT
# shellcheck source=../spec/support/rabbitmq.sh
source "$ROOT/spec/support/rabbitmq.sh"
if ! (exec 3<>/dev/tcp/127.0.0.1/19010) 2>/dev/null; then
  rmq_start && rmq_wait
  STARTED=1
fi
URL=${GF_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:19010}
export N URL

cat >"$W/bench.lua" <<'LUA'
local amqp = require("gf.amqp")
local now = require("gf.amqp.core").now
local N, URL, Q = tonumber(os.getenv("N")), os.getenv("URL"), os.getenv("Q")
local c = assert(amqp.connect(URL, { confirm = true }))
assert(c:queue_declare(Q, { durable = true }))
local t0 = now()
for i = 1, N do
  local body = ("20230422%06d https://dd.weather.gc.ca /model_gem_regional/10km/grib2/00/%03d/"
    .. "CMC_reg_TMP_TGL_2_ps10km_2023042200_P%03d.grib2"):format(i % 1000000, i % 84, i % 84)
  assert(c:publish("", Q, body, { persistent = true, content_type = "text/plain" }))
end
local t1 = now()
assert(c:qos(10))
assert(c:consume(Q))
for _ = 1, N do
  local m = assert(c:receive(30))
  assert(c:ack(m.delivery_tag))
end
local t2 = now()
assert(c:queue_delete(Q))
c:close()
print(("%.0f %.0f"):format(N / (t1 - t0) * 1000, N / (t2 - t1) * 1000))
LUA

cat >"$W/bench.py" <<'PY'
import os, time, pika
N, URL, Q = int(os.environ["N"]), os.environ["URL"], os.environ["Q"]
conn = pika.BlockingConnection(pika.URLParameters(URL))
ch = conn.channel()
ch.confirm_delivery()
ch.queue_declare(Q, durable=True)
props = pika.BasicProperties(delivery_mode=2, content_type="text/plain")
t0 = time.monotonic()
for i in range(1, N + 1):
    body = ("20230422%06d https://dd.weather.gc.ca /model_gem_regional/10km/grib2/00/%03d/"
            "CMC_reg_TMP_TGL_2_ps10km_2023042200_P%03d.grib2") % (i % 1000000, i % 84, i % 84)
    ch.basic_publish("", Q, body, props)   # BlockingChannel waits for each confirm
t1 = time.monotonic()
ch.basic_qos(prefetch_count=10)
n = 0
for method, _, body in ch.consume(Q):
    ch.basic_ack(method.delivery_tag)
    n += 1
    if n == N:
        break
ch.cancel()
t2 = time.monotonic()
ch.queue_delete(Q)
conn.close()
print("%.0f %.0f" % (N / (t1 - t0), N / (t2 - t1)))
PY

run() { # label cmd... -> "pub/s cons/s cpu_s"
  local out
  out=$( { /usr/bin/time -f '%U %S' -o "$W/time" "$@"; } 2>&1 | tail -1)
  echo "$out $(awk '{printf "%.2f", $1 + $2}' "$W/time")"
}
echo "N=$N, $(uptime | sed 's/.*load/load/')"
read -r gp gc gcpu < <(Q=gf.bench.g.$$ run "$GFHOST" run "$W/bench.lua")
read -r pp pc pcpu < <(Q=gf.bench.p.$$ run /usr/bin/python3 "$W/bench.py")
printf '%-22s %12s %12s %10s\n' "" "publish/s" "consume/s" "CPU s"
printf '%-22s %12s %12s %10s\n' "gfhost gf.amqp" "$gp" "$gc" "$gcpu"
printf '%-22s %12s %12s %10s\n' "python3-pika 1.2" "$pp" "$pc" "$pcpu"
awk -v a="$gp" -v b="$pp" -v c="$gc" -v d="$pc" -v e="$gcpu" -v f="$pcpu" 'BEGIN {
  printf "ratios (gfhost/pika): publish %.1fx, consume %.1fx; pika uses %.1fx the CPU\n", a/b, c/d, f/e }'
