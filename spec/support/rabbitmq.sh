#!/usr/bin/env bash
# RabbitMQ (Debian rabbitmq-server) for the gf.amqp and datamart specs, on 127.0.0.1 only:
#   19010 AMQP   19011 Erlang distribution   19012 epmd   19013-19019 rabbitmqctl
# (../shared/reference/test-servers.md §2.1). State lives under <root>/.rmq (ignored).
#
#   source spec/support/rabbitmq.sh; rmq_start; ...; rmq_stop   (servers.sh does this)
#   bash spec/support/rabbitmq.sh start|stop|ctl ARGS...       by hand (development broker)
#
# rmq_start returns at once with the broker booting in the background (it takes ~9 s);
# rmq_wait blocks until it answers. GF_TEST_AMQP_URL names it; GF_TEST_RABBITMQCTL is a
# rabbitmqctl wrapper with this broker's environment (specs use it to close connections).
GF_RMQ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GF_RMQ_DIR=${GF_RMQ_DIR:-$GF_RMQ_ROOT/.rmq}
GF_RMQ_PID=

_rmq_env() {
  export HOME=$GF_RMQ_DIR
  export RABBITMQ_CONF_ENV_FILE=$GF_RMQ_DIR/rabbitmq-env.conf RABBITMQ_CONFIG_FILE=$GF_RMQ_DIR/rabbitmq
  export RABBITMQ_ENABLED_PLUGINS_FILE=$GF_RMQ_DIR/enabled_plugins
  export RABBITMQ_MNESIA_BASE=$GF_RMQ_DIR/mnesia RABBITMQ_LOG_BASE=$GF_RMQ_DIR/log
  export RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=19010 RABBITMQ_DIST_PORT=19011
  export ERL_EPMD_PORT=19012 ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_CTL_DIST_PORT_MIN=19013 RABBITMQ_CTL_DIST_PORT_MAX=19019
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

rmq_start() {
  local b=$GF_RMQ_DIR
  rm -rf "$b" && mkdir -p "$b"
  touch "$b/rabbitmq-env.conf"
  echo '[].' >"$b/enabled_plugins"
  cat >"$b/rabbitmq.conf" <<'CONF'
listeners.tcp.default = 127.0.0.1:19010
loopback_users.guest = true
log.console = true
log.console.level = warning
log.file = false
CONF
  cat >"$b/ctl" <<CTL
#!/usr/bin/env bash
GF_RMQ_DIR='$b'
source '$GF_RMQ_ROOT/spec/support/rabbitmq.sh'
_rmq_env
exec /usr/lib/rabbitmq/bin/rabbitmqctl "\$@"
CTL
  chmod +x "$b/ctl"
  (_rmq_env && exec /usr/lib/rabbitmq/bin/rabbitmq-server >"$b/server.out" 2>&1) &
  GF_RMQ_PID=$!
  export GF_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:19010
  export GF_TEST_RABBITMQCTL=$b/ctl
}

rmq_wait() {
  if ! "$GF_RMQ_DIR/ctl" await_startup --timeout 60 >/dev/null 2>&1; then
    echo "servers: rabbitmq-server did not start (see $GF_RMQ_DIR/server.out)" >&2
    return 1
  fi
}

rmq_stop() {
  [ -x "$GF_RMQ_DIR/ctl" ] || return 0
  "$GF_RMQ_DIR/ctl" shutdown >/dev/null 2>&1 || true
  if [ -n "$GF_RMQ_PID" ]; then
    kill "$GF_RMQ_PID" 2>/dev/null || true
    wait "$GF_RMQ_PID" 2>/dev/null || true
  fi
  (_rmq_env && epmd -kill >/dev/null 2>&1) || true
  GF_RMQ_PID=
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    start) rmq_start && rmq_wait && echo "rabbitmq up: $GF_TEST_AMQP_URL (pid $GF_RMQ_PID)" ;;
    stop) rmq_stop ;;
    ctl) shift; exec "$GF_RMQ_DIR/ctl" "$@" ;;
    *) echo "usage: rabbitmq.sh start | stop | ctl ARGS..." >&2; exit 2 ;;
  esac
fi
