#!/bin/bash
# Listener ingest: the 2,782 captured announcements (../shared/fixtures/datamart), and the same
# x10, pre-published on xpublic of a private RabbitMQ (127.0.0.1:19120, started here unless
# GF_DATAMART_RMQ_UP=1), consumed with commit-before-ack by
#   gfhost run datamart_listener --profile 2023 --on-complete true (batch commit per prefetch window)
#   bench/datamart_ingest_pika.py: the original's per-message SQLite logic on pika (python3-pika)
# messages/s from the first delivery to the last ack (gfhost: its final log record's ingest_s),
# best of 3 runs each (the machine is shared).
# Usage: bench/datamart_ingest_bench.sh [gfhost]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
gfhost=${1:-$(gfhost_bin)}
base=19120
url="amqp://guest:guest@127.0.0.1:$base"
work=$(mktemp -d /tmp/gfbench-dmi.XXXXXX)
rmq=$work/rmq
cleanup() {
  [ "${GF_DATAMART_RMQ_UP:-}" = 1 ] || sh "$root/spec/support/rabbitmq_private.sh" stop "$rmq" $base
  rm -rf "$work"
}
trap cleanup EXIT
[ "${GF_DATAMART_RMQ_UP:-}" = 1 ] || sh "$root/spec/support/rabbitmq_private.sh" start "$rmq" $base
fixture=$root/../shared/fixtures/datamart/amqp_events_20230422-24.db

publish() { # queue copies: declare + bind the queue, publish the fixture `copies` times
  /usr/bin/python3 - "$url" "$1" "$2" "$fixture" <<'PY'
import sqlite3, sys, pika
url, queue, copies, fixture = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rows = sqlite3.connect(fixture).execute("SELECT event_message, event_timestmp FROM message_events ORDER BY event_id").fetchall()
c = pika.BlockingConnection(pika.URLParameters(url)); ch = c.channel()
ch.exchange_declare("xpublic", "topic", durable=True)
ch.queue_declare(queue, durable=True)
for rk in ("v02.post.*.WXO-DD.model_gem_regional.10km.grib2.*.*.#", "v02.post.*.WXO-DD.model_gem_global.15km.grib2.lat_lon.*.*.#"):
    ch.queue_bind(queue, "xpublic", rk)
for _ in range(copies):
    for path, ts in rows:
        ts = ts.replace("-", "").replace(" ", "").replace(":", "") + ".000"
        rk = "v02.post." + ".".join(path.split("/")[1:-1])
        ch.basic_publish("xpublic", rk, f"{ts} https://hpfx.collab.science.gc.ca {path}")
c.close()
PY
}

best() { sort -n | head -n 1; }
for copies in 1 10; do
  n=$((2782 * copies))
  pika_runs=() gf_runs=()
  for run in 1 2 3; do
    q="q_guest.bcgov_listener.cmc_gems.bcgov_rfc-PIKA$copies-$run"
    publish "$q" $copies
    read -r _ s _ < <(/usr/bin/python3 "$root/bench/datamart_ingest_pika.py" "$url" "$q" "$work/pika$copies-$run.db" $n)
    pika_runs+=("$s")
  done
  pika_s=$(printf '%s\n' "${pika_runs[@]}" | best)
  if echo 'require("gf.amqp")' > "$work/probe.lua" && "$gfhost" run "$work/probe.lua" 2>/dev/null; then
    for run in 1 2 3; do
      publish "q_guest.bcgov_listener.cmc_gems.bcgov_rfc-GF$copies-$run" $copies
      s=$(cd "$work" && CLOUDAMQP_URL=$url ZONE=GF$copies-$run DAYS_TO_STALE=100000 DB_FILE_PATH="sqlite:///$work/gf$copies-$run.db" \
        GFHOST_LOG_FORMAT=json "$gfhost" run datamart_listener --profile 2023 --on-complete true --port 0 --exit-when-idle 0.5 2>&1 |
        grep '"listener stopped"' | sed 's/.*"ingest_s":\([0-9.]*\).*/\1/')
      gf_runs+=("$s")
    done
    gf_s=$(printf '%s\n' "${gf_runs[@]}" | best)
    gf_rate=$(awk -v n="$n" -v s="$gf_s" 'BEGIN { printf "%.0f", n / s }')
    pika_rate=$(awk -v n="$n" -v s="$pika_s" 'BEGIN { printf "%.0f", n / s }')
    echo "$n announcements (best of 3, first delivery to last ack): gfhost ${gf_rate}/s (${gf_s} s), pika ${pika_rate}/s (${pika_s} s): $(ratio "$gf_rate" "$pika_rate")x (target >= 5x)"
  else
    echo "$n announcements: pika $(awk -v n="$n" -v s="$pika_s" 'BEGIN { printf "%.0f", n / s }')/s (${pika_s} s); gfhost: this build lacks gf.amqp"
  fi
done
