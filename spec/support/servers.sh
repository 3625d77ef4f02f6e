#!/usr/bin/env bash
# Test servers on 127.0.0.1 (ports from ../shared/reference/test-servers.md):
#   19000 s3rver (S3)            19001 fauxqs (SQS JSON + SNS + S3)   19002 dynalite (DynamoDB)
#   19005 local-aws-sqs (SQS)    19006 stepfunctions-local (Step Functions)
#   19010-19016 RabbitMQ (spec/support/rabbitmq.sh: AMQP 19010, AMQPS 19016), when installed
#
#   bash spec/support/servers.sh install   npm packages (pinned) into .emu/ (ignored), idempotent
#   source spec/support/servers.sh; servers_start; ...; servers_stop
#   bash spec/support/servers.sh run CMD... start, run CMD, stop
GF_EMU_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/emu
GF_EMU_DIR=$(cd "$GF_EMU_SRC/../../.." && pwd)/.emu
GF_SERVER_PIDS=()
source "$GF_EMU_SRC/../rabbitmq.sh"

servers_install() {
  mkdir -p "$GF_EMU_DIR"
  cp "$GF_EMU_SRC"/package.json "$GF_EMU_SRC"/*.mjs "$GF_EMU_SRC"/*.cjs "$GF_EMU_DIR"/
  if [ -f "$GF_EMU_DIR/node_modules/.gf-installed" ] &&
     cmp -s "$GF_EMU_SRC/package.json" "$GF_EMU_DIR/node_modules/.gf-installed"; then
    return 0
  fi
  (cd "$GF_EMU_DIR" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  cp "$GF_EMU_SRC/package.json" "$GF_EMU_DIR/node_modules/.gf-installed"
}

_wait_port() {
  local port=$1 name=$2 i
  for i in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "servers: $name did not open 127.0.0.1:$port" >&2
  return 1
}

servers_start() {
  local d=$GF_EMU_DIR
  # RabbitMQ first: it takes ~9 s, the Node servers start meanwhile
  local rmq=0
  if [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then rmq_start && rmq=1; fi
  mkdir -p "$d/run" && rm -rf "$d/run/s3data" && mkdir -p "$d/run/s3data"
  (cd "$d" && exec node --openssl-legacy-provider node_modules/s3rver/bin/s3rver.js \
    -d run/s3data -a 127.0.0.1 -p 19000 --silent >"$d/run/s3rver.log" 2>&1) &
  GF_SERVER_PIDS+=($!)
  (cd "$d" && FAUXQS_PORT=19001 exec node fauxqs-loopback.mjs >"$d/run/fauxqs.log" 2>&1) &
  GF_SERVER_PIDS+=($!)
  (cd "$d" && exec node node_modules/dynalite/cli.js --host 127.0.0.1 --port 19002 \
    --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >"$d/run/dynalite.log" 2>&1) &
  GF_SERVER_PIDS+=($!)
  (cd "$d" && PORT=19005 exec node localsqs.cjs >"$d/run/localsqs.log" 2>&1) &
  GF_SERVER_PIDS+=($!)
  (cd "$d" && exec node -r ./force-loopback.cjs \
    node_modules/stepfunctions-local/bin/stepfunctions-local-start.js --port 19006 \
    --region us-east-1 >"$d/run/sfn.log" 2>&1) &
  GF_SERVER_PIDS+=($!)
  _wait_port 19000 s3rver && _wait_port 19001 fauxqs && _wait_port 19002 dynalite &&
    _wait_port 19005 local-aws-sqs && _wait_port 19006 stepfunctions-local || return 1
  if [ "$rmq" = 1 ]; then rmq_wait || return 1; fi
  export GF_TEST_SERVERS=1
}

servers_stop() {
  local p
  for p in "${GF_SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${GF_SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  GF_SERVER_PIDS=()
  rmq_stop
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    install) servers_install ;;
    run) shift; servers_install; servers_start; trap servers_stop EXIT; "$@" ;;
    *) echo "usage: servers.sh install | run CMD..." >&2; exit 2 ;;
  esac
fi
