#!/usr/bin/env bash
# Kiln and Redis side by side with redis-benchmark, in one run, alternating
# Redis / Kiln per round so drift on the machine hits both alike.
#
#   scripts/redis-benchmark-side-by-side.sh [rounds]
#
# Needs redis-server and redis-benchmark (Debian: redis-server, redis-tools)
# and a release build (cargo build --release). Loopback only; stops both
# servers on exit. Prints one line per workload: median ops/s of each
# server over the rounds, the ratio, and median p50 latencies.
set -euo pipefail
cd "$(dirname "$0")/.."
# Without GitHub access, V8 comes from the prebuilt archive beside the repo.
if [ -f ../shared/v8/env.sh ]; then
  # shellcheck disable=SC1091
  . ../shared/v8/env.sh
fi
rounds=${1:-3}
kiln=./target/release/kiln-server
[ -x "$kiln" ] || { echo "build first: cargo build --release" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
redis_port=$(free_port); kiln_port=$(free_port); kiln_nopin_port=$(free_port)

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >/dev/null &
pids=($!)
"$kiln" --port "$kiln_port" --core-port-base 0 --pin-threads true --loglevel warn &
pids+=($!)
"$kiln" --port "$kiln_nopin_port" --core-port-base 0 --loglevel warn &
pids+=($!)
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for p in "$redis_port" "$kiln_port" "$kiln_nopin_port"; do
  until redis-cli -p "$p" ping >/dev/null 2>&1; do :; done
done
core_port=$(redis-cli -p "$kiln_nopin_port" cluster slots | sed -n 4p)

# bench PORT TEST ARGS... -> "ops p50"
bench() {
  local port=$1 test=$2; shift 2
  redis-benchmark -p "$port" -t "$test" -q "$@" 2>/dev/null | tr '\r' '\n' \
    | grep "requests per second" | tail -1 \
    | sed -E 's/.*: ([0-9.]+) requests per second, p50=([0-9.]+) msec.*/\1 \2/'
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-34s %12s %12s %7s %9s %9s\n' workload redis_ops/s kiln_ops/s ratio redis_p50 kiln_p50
run() { # name kiln_port test args...
  local name=$1 kport=$2 test=$3; shift 3
  local r=() k=()
  for _ in $(seq "$rounds"); do
    r+=("$(bench "$redis_port" "$test" "$@")")
    k+=("$(bench "$kport" "$test" "${KILN_EXTRA[@]}" "$@")")
  done
  local ro ko rl kl
  ro=$(printf '%s\n' "${r[@]}" | awk '{print $1}' | median)
  ko=$(printf '%s\n' "${k[@]}" | awk '{print $1}' | median)
  rl=$(printf '%s\n' "${r[@]}" | awk '{print $2}' | median)
  kl=$(printf '%s\n' "${k[@]}" | awk '{print $2}' | median)
  printf '%-34s %12.0f %12.0f %7.2f %9s %9s\n' "$name" "$ro" "$ko" "$(echo "$ko / $ro" | bc -l)" "$rl" "$kl"
}

KILN_EXTRA=()
for test in set get; do
  run "$test -n 200000 (main port, pinned)" "$kiln_port" "$test" -n 200000
  run "$test -n 200000 (main port)" "$kiln_nopin_port" "$test" -n 200000
  run "$test -P 16 -n 2000000 (main port)" "$kiln_nopin_port" "$test" -P 16 -n 2000000
  KILN_EXTRA=(--cluster)
  run "$test -P 16 -n 2000000 (--cluster)" "$core_port" "$test" -P 16 -n 2000000
  KILN_EXTRA=()
done

# A keyspace of a million random keys (32-byte values), then GETs over it:
# the table no longer fits in cache, and the main port forwards about half
# of the requests.
for port in "$redis_port" "$kiln_nopin_port"; do
  redis-benchmark -p "$port" -t set -r 1000000 -n 1000000 -d 32 -P 16 -q >/dev/null 2>&1
done
run "get -r 1M -P 16 (main port)" "$kiln_nopin_port" get -r 1000000 -P 16 -n 2000000
KILN_EXTRA=(--cluster)
run "get -r 1M -P 16 (--cluster)" "$core_port" get -r 1000000 -P 16 -n 2000000
