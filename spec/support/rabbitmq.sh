#!/usr/bin/env bash
# RabbitMQ (Debian rabbitmq-server) for the gf.amqp and datamart specs, on 127.0.0.1 only:
#   19010 AMQP   19011 Erlang distribution   19012 epmd   19013-19015 rabbitmqctl
#   19016 AMQPS (a throw-away CA and a certificate for localhost/127.0.0.1, made at start-up)
# (../shared/reference/test-servers.md §2.1). State lives under <root>/.rmq (ignored).
#
#   source spec/support/rabbitmq.sh; rmq_start; ...; rmq_stop   (servers.sh does this)
#   bash spec/support/rabbitmq.sh start|stop|ctl ARGS...       by hand (development broker)
#
# rmq_start returns at once with the broker booting in the background (it takes ~9 s);
# rmq_wait blocks until it answers. GF_TEST_AMQP_URL names it, GF_TEST_AMQPS_URL its TLS
# listener (GF_TEST_AMQP_CACERT: the CA); GF_TEST_RABBITMQCTL is a rabbitmqctl wrapper with
# this broker's environment (specs use it to close connections).
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
  export RABBITMQ_CTL_DIST_PORT_MIN=19013 RABBITMQ_CTL_DIST_PORT_MAX=19015
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

# A CA and a server certificate (localhost, 127.0.0.1) for the TLS listener.
_rmq_tls() {
  local d=$1
  mkdir -p "$d" && (
    cd "$d" &&
      openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=gfhost test CA" \
        -keyout ca.key -out ca.pem &&
      openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key \
        -out server.csr &&
      printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >ext.cnf &&
      openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile ext.cnf -out server.pem &&
      chmod 644 server.key
  ) >/dev/null 2>&1 || { echo "servers: openssl could not make the test certificates" >&2; return 1; }
}

rmq_start() {
  local b=$GF_RMQ_DIR
  if (exec 3<>/dev/tcp/127.0.0.1/19010) 2>/dev/null; then
    echo "servers: 127.0.0.1:19010 is taken (another RabbitMQ? bash <its tree>/spec/support/rabbitmq.sh stop)" >&2
    return 1
  fi
  rm -rf "$b" && mkdir -p "$b"
  touch "$b/rabbitmq-env.conf"
  _rmq_tls "$b/tls" || return 1
  echo '[].' >"$b/enabled_plugins"
  cat >"$b/rabbitmq.conf" <<'CONF'
listeners.tcp.default = 127.0.0.1:19010
loopback_users.guest = true
log.console = true
log.console.level = warning
log.file = false
CONF
  cat >>"$b/rabbitmq.conf" <<CONF
listeners.ssl.default = 127.0.0.1:19016
ssl_options.cacertfile = $b/tls/ca.pem
ssl_options.certfile = $b/tls/server.pem
ssl_options.keyfile = $b/tls/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
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
  export GF_TEST_AMQPS_URL=amqps://guest:guest@localhost:19016
  export GF_TEST_AMQP_CACERT=$b/tls/ca.pem
  export GF_TEST_RABBITMQCTL=$b/ctl
}

rmq_wait() {
  # await_startup fails at once while the node is not even registered with epmd: retry
  local i
  for i in $(seq 1 120); do
    if "$GF_RMQ_DIR/ctl" await_startup --timeout 60 >/dev/null 2>&1; then return 0; fi
    if [ -n "$GF_RMQ_PID" ] && ! kill -0 "$GF_RMQ_PID" 2>/dev/null; then break; fi
    sleep 0.5
  done
  echo "servers: rabbitmq-server did not start (see $GF_RMQ_DIR/server.out)" >&2
  return 1
}

# Stop the broker this shell started (rmq_stop force: whichever runs from GF_RMQ_DIR).
rmq_stop() {
  [ -n "$GF_RMQ_PID" ] || [ "${1:-}" = force ] || return 0
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
    stop) rmq_stop force ;;
    ctl) shift; exec "$GF_RMQ_DIR/ctl" "$@" ;;
    *) echo "usage: rabbitmq.sh start | stop | ctl ARGS..." >&2; exit 2 ;;
  esac
fi
