#!/usr/bin/env bash
# Server CPU time per request, side by side: utime+stime of each server
# process (/proc/<pid>/stat) before and after the same fixed number of
# requests from kiln-bench, round after round, alternating the servers.
# It does not depend on whether the load generator saturates.
#
#   benches/cpu-per-request.sh [--rounds N] [--requests N] [--pipeline N]
#       [--ratio SET:GET] [--appendfsync off|no|everysec|always] [SERVER-BINARY...]
#
# Each SERVER-BINARY (default: this tree's release kiln-server) runs with
# 2 cores on a free loopback port; redis-server 7 runs beside them. The
# load is memtier's default mix as issue reports use it: 50 connections,
# 1:10 SET:GET, 100-byte values, 100,000 keys (filled first). Prints, per
# server, the median microseconds of CPU per request and the ratio to Redis.
# --appendfsync turns the append-only log on in every server (Redis's and
# Kiln's) with that policy; `off` (the default) runs without one.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f ../shared/v8/env.sh ]; then
  # shellcheck disable=SC1091
  . ../shared/v8/env.sh
fi
rounds=3 requests=20000 pipeline=1 ratio=1:10 fsync=off servers=()
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift ;;
    --requests) requests=$2; shift ;;
    --pipeline) pipeline=$2; shift ;;
    --ratio) ratio=$2; shift ;;
    --appendfsync) fsync=$2; shift ;;
    -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
    *) servers+=("$1") ;;
  esac
  shift
done
command -v redis-server >/dev/null || apt-get install -y -qq redis-server redis-tools >/dev/null
if [ ${#servers[@]} -eq 0 ]; then
  cargo build --release -q -p kiln --bins
  servers=(./target/release/kiln-server)
fi
bench=${KILN_BENCH:-}
if [ -z "$bench" ]; then
  cargo build --release -q -p kiln-bench --bins
  bench=./target/release/kiln-bench
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
pids=() ports=() names=(redis)
data=$(mktemp -d)
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$data"' EXIT
port=$(free_port)
log=(--appendonly no)
if [ "$fsync" != off ]; then log=(--appendonly yes --appendfsync "$fsync"); fi
mkdir -p "$data/redis"
redis-server --port "$port" --bind 127.0.0.1 --save '' --dir "$data/redis" "${log[@]}" >/dev/null &
pids+=($!) ports+=("$port")
for i in "${!servers[@]}"; do
  port=$(free_port)
  mkdir -p "$data/$i"
  # No snapshots during the measurement (builds before them lack --save).
  nosave=()
  "${servers[$i]}" --help | grep -q -- '--save' && nosave=(--save '')
  "${servers[$i]}" --port "$port" --core-port-base 0 --cores 2 --loglevel warn --dir "$data/$i" "${log[@]}" "${nosave[@]}" &
  pids+=($!) ports+=("$port") names+=("$(basename "${servers[$i]}")#$i")
done
for p in "${ports[@]}"; do
  until redis-cli -p "$p" ping >/dev/null 2>&1; do kill -0 "${pids[@]}"; done
done
common=(-t 1 -c 50 -d 100 --key-minimum=1 --key-maximum=100000 --hide-histogram --hide-progress)
for p in "${ports[@]}"; do
  "$bench" -p "$p" "${common[@]}" --ratio=1:0 --key-pattern=P:P -n allkeys >/dev/null
done
per_client=$((requests / 50))
declare -A samples
for _ in $(seq "$rounds"); do
  for i in "${!ports[@]}"; do
    before=$(cpu_ticks "${pids[$i]}")
    "$bench" -p "${ports[$i]}" "${common[@]}" --ratio="$ratio" --pipeline="$pipeline" -n "$per_client" >/dev/null
    after=$(cpu_ticks "${pids[$i]}")
    us=$(awk -v t=$((after - before)) -v hz="$hz" -v n=$((per_client * 50)) 'BEGIN { printf "%.3f", t / hz * 1e6 / n }')
    samples[$i]="${samples[$i]:-} $us"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
redis_us=$(echo "${samples[0]}" | median)
printf '%-24s %14s %10s   (pipeline %s, SET:GET %s, appendfsync %s, %s requests x %s rounds)\n' server "cpu_us/request" vs_redis "$pipeline" "$ratio" "$fsync" "$requests" "$rounds"
for i in "${!ports[@]}"; do
  us=$(echo "${samples[$i]}" | median)
  printf '%-24s %14s %10.2f\n' "${names[$i]}" "$us" "$(awk -v a="$us" -v b="$redis_us" 'BEGIN { print a / b }')"
done
