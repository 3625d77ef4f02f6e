# Shared helpers for the benchmarks: median wall time of a command, peak RSS.
# shellcheck shell=bash

# median_ms N cmd... : run cmd N times, print the median wall time in milliseconds.
median_ms() {
  local n=$1; shift
  local times=() i t0 t1
  for ((i = 0; i < n; i++)); do
    t0=${EPOCHREALTIME/./}   # microseconds, no fork (bash 5)
    "$@" >/dev/null 2>&1
    t1=${EPOCHREALTIME/./}
    times+=($((t1 - t0)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f\n", m/1000}'
}

# peak_rss_mb cmd... : run once, print peak resident memory in MiB.
peak_rss_mb() {
  /usr/bin/time -f '%M' -o /tmp/gfbench.rss "$@" >/dev/null 2>&1
  awk '{printf "%.1f\n", $1/1024}' /tmp/gfbench.rss
}

# ratio a b : a / b with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "inf"; else printf "%.1f\n", a / b }'; }

gfhost_bin() {
  local here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  echo "${GFHOST_BIN:-$here/build/gfhost}"
}

# bench_servers PORT: the test servers of spec/support/servers.sh, started here unless PORT on
# 127.0.0.1 already answers; bench_servers_stop (from the caller's EXIT trap) stops only what
# bench_servers started.
BENCH_STARTED=0
bench_servers() {
  # shellcheck source=../spec/support/servers.sh
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/spec/support/servers.sh"
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
    servers_install
    servers_start
    BENCH_STARTED=1
  fi
}
bench_servers_stop() {
  if [ "$BENCH_STARTED" = 1 ]; then servers_stop; fi
  return 0
}
