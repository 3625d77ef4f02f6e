#!/bin/sh
# A private RabbitMQ node for the datamart specs that restart their broker (so the shared one of
# spec/support/servers.sh, 127.0.0.1:19010, is never disturbed). test-servers.md §2.1 setup on
# ports BASE (AMQP), BASE+1 (Erlang dist), BASE+2 (epmd), BASE+3..BASE+7 (rabbitmqctl).
#
#   rabbitmq_private.sh start DIR [BASE]   start (or restart on the same data) and wait until ready
#   rabbitmq_private.sh stop DIR [BASE]    stop the node and its epmd
# BASE defaults to 19120 (the datamart job's range 19120-19129).
set -eu
cmd=$1 dir=$2 base=${3:-19120}
mkdir -p "$dir"
export HOME=$dir
export RABBITMQ_CONF_ENV_FILE=$dir/rabbitmq-env.conf RABBITMQ_CONFIG_FILE=$dir/rabbitmq
export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins RABBITMQ_MNESIA_BASE=$dir/mnesia RABBITMQ_LOG_BASE=$dir/log
export RABBITMQ_NODENAME=rabbit_dm$base@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$base
export RABBITMQ_DIST_PORT=$((base + 1)) ERL_EPMD_PORT=$((base + 2)) ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_CTL_DIST_PORT_MIN=$((base + 3)) RABBITMQ_CTL_DIST_PORT_MAX=$((base + 7))
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
case $cmd in
  start)
    touch "$dir/rabbitmq-env.conf"
    echo '[].' > "$dir/enabled_plugins"
    cat > "$dir/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$base
loopback_users.guest = true
log.console = true
log.console.level = warning
log.file = false
CONF
    /usr/lib/rabbitmq/bin/rabbitmq-server > "$dir/server.out" 2>&1 &
    echo $! > "$dir/pid"
    # await_startup fails at once while the node is not registered with epmd yet: retry
    i=0
    until /usr/lib/rabbitmq/bin/rabbitmqctl -q await_startup >/dev/null 2>&1; do
      i=$((i + 1))
      if [ $i -gt 60 ]; then cat "$dir/server.out" >&2; exit 1; fi
      sleep 0.5
    done
    ;;
  stop)
    /usr/lib/rabbitmq/bin/rabbitmqctl -q shutdown >/dev/null 2>&1 || true
    epmd -kill >/dev/null 2>&1 || true
    ;;
  *) echo "usage: $0 start|stop DIR [BASE]" >&2; exit 2 ;;
esac
