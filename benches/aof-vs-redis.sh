#!/usr/bin/env bash
# SET throughput and p99 with the append-only log, Redis and Kiln side by
# side in one run.
#
#   benches/aof-vs-redis.sh [--rounds N] [--time SECS] [--cores N]
#
# For each appendfsync policy (log off, everysec, always) starts
# redis-server and a release kiln-server (--cores, default 2) with that
# policy in fresh directories on free loopback ports, then runs kiln-bench's
# SET-only load (50 connections, 100-byte values, 100,000 keys) against
# each in turn, round after round. Prints median ops/s and p99 (ms) per
# server and policy, Kiln/Redis, and each server's fraction of its own
# log-off throughput.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f ../shared/v8/env.sh ]; then
  # shellcheck disable=SC1091
  . ../shared/v8/env.sh
fi
rounds=3 secs=5 cores=2
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift ;;
    --time) secs=$2; shift ;;
    --cores) cores=$2; shift ;;
    -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
command -v redis-server >/dev/null || apt-get install -y -qq redis-server redis-tools >/dev/null
cargo build --release -q -p kiln -p kiln-bench --bins
kiln=./target/release/kiln-server bench=./target/release/kiln-bench

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
data=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$data"' EXIT
policies=(off everysec always)
declare -A port
for policy in "${policies[@]}"; do
  log=(--appendonly no)
  [ "$policy" = off ] || log=(--appendonly yes --appendfsync "$policy")
  mkdir -p "$data/redis-$policy" "$data/kiln-$policy"
  port[redis-$policy]=$(free_port)
  redis-server --port "${port[redis-$policy]}" --bind 127.0.0.1 --save '' \
    --dir "$data/redis-$policy" "${log[@]}" >/dev/null &
  pids+=($!)
  port[kiln-$policy]=$(free_port)
  "$kiln" --port "${port[kiln-$policy]}" --core-port-base 0 --cores "$cores" --loglevel warn \
    --dir "$data/kiln-$policy" --save '' "${log[@]}" &
  pids+=($!)
done
for p in "${port[@]}"; do
  until redis-cli -p "$p" ping >/dev/null 2>&1; do kill -0 "${pids[@]}"; done
done
common=(-t 1 -c 50 -d 100 --key-minimum=1 --key-maximum=100000 --ratio=1:0
  --hide-histogram --hide-progress --print-percentiles=99)
declare -A runs
for _ in $(seq "$rounds"); do
  for policy in "${policies[@]}"; do
    for server in redis kiln; do
      runs[$server-$policy]+="$("$bench" -p "${port[$server-$policy]}" "${common[@]}" --test-time="$secs" \
        | awk '$1 == "Totals" { print $2, $(NF-1) }');"
    done
  done
done
median() { tr ';' '\n' | grep -v '^$' | awk -v c="$1" '{print $c}' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-10s %12s %12s %7s %10s %10s %12s %12s\n' appendfsync redis_ops/s kiln_ops/s ratio redis_p99 kiln_p99 redis_vs_off kiln_vs_off
for policy in "${policies[@]}"; do
  r=$(median 1 <<<"${runs[redis-$policy]}") k=$(median 1 <<<"${runs[kiln-$policy]}")
  r0=$(median 1 <<<"${runs[redis-off]}") k0=$(median 1 <<<"${runs[kiln-off]}")
  printf '%-10s %12.0f %12.0f %7.2f %10s %10s %12.2f %12.2f\n' "$policy" "$r" "$k" \
    "$(awk -v a="$k" -v b="$r" 'BEGIN{print a/b}')" \
    "$(median 2 <<<"${runs[redis-$policy]}")" "$(median 2 <<<"${runs[kiln-$policy]}")" \
    "$(awk -v a="$r" -v b="$r0" 'BEGIN{print a/b}')" "$(awk -v a="$k" -v b="$k0" 'BEGIN{print a/b}')"
done
echo "redis $(redis-server --version | awk '{print $3}'), kiln $cores cores; SET-only, 50 connections, 100-byte values; $rounds rounds of ${secs}s, alternating"
