#!/usr/bin/env bash
# Redis and Kiln side by side, measured by kiln-bench in one run.
#
#   benches/vs-redis.sh [--quick] [--rounds N] [--time SECS] [--keys N] [--cores N]
#
# Starts redis-server (Debian package; installed with apt-get if missing, no
# persistence) and a release kiln-server (--cores, default 2) on free loopback ports, fills
# both with the same keys, then for each workload runs kiln-bench against
# Redis, Kiln's main port and Kiln's core ports (--cluster-mode) in turn,
# round after round (A B C A B C ...), so drift on the machine hits all
# alike. Workloads: SET-only, GET-only and 1:10 SET:GET, each unpipelined
# (-c 50) and with --pipeline=16; then FCALL of a trivial function and of a
# read-modify-write function (Lua in Redis, JavaScript in Kiln); one
# kiln-bench thread.
#
# Prints one table: workload, median ops/s of Redis and Kiln over the
# rounds, the ratio, and each one's median p99 latency (ms).
# Default: 2 rounds of 5 s per run, about 4 minutes; --quick: 2 rounds of
# 1 s, under a minute (both after the release build).
set -euo pipefail
cd "$(dirname "$0")/.."
# Without GitHub access, V8 comes from the prebuilt archive beside the repo.
if [ -f ../shared/v8/env.sh ]; then
  # shellcheck disable=SC1091
  . ../shared/v8/env.sh
fi

rounds=2 secs=5 keys=100000 cores=2
while [ $# -gt 0 ]; do
  case $1 in
    --quick) secs=1 keys=20000 ;;
    --rounds) rounds=$2; shift ;;
    --time) secs=$2; shift ;;
    --keys) keys=$2; shift ;;
    --cores) cores=$2; shift ;;
    -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  echo "installing redis-server and redis-tools" >&2
  apt-get install -y -qq redis-server redis-tools >/dev/null
fi
cargo build --release -q -p kiln -p kiln-bench --bins
kiln=./target/release/kiln-server bench=./target/release/kiln-bench

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
redis_port=$(free_port) kiln_port=$(free_port)

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >/dev/null &
pids=($!)
data=$(mktemp -d)
"$kiln" --port "$kiln_port" --core-port-base 0 --cores "$cores" --loglevel warn --dir "$data" --save '' &
pids+=($!)
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$data"' EXIT
for p in "$redis_port" "$kiln_port"; do
  until redis-cli -p "$p" ping >/dev/null 2>&1; do
    kill -0 "${pids[@]}" || { echo "a server failed to start" >&2; exit 1; }
  done
done
core_port=$(redis-cli -p "$kiln_port" cluster slots | sed -n 4p)

common=(-t 1 -c 50 -d 32 --key-minimum=1 --key-maximum="$keys" --hide-histogram --hide-progress)

# Every key exists before the GET workloads (one pass, each client its part).
for p in "$redis_port" "$kiln_port"; do
  "$bench" -p "$p" "${common[@]}" --ratio=1:0 --key-pattern=P:P -n allkeys >/dev/null
done

# bench ARGS... -> "ops/s p99" from the Totals row (p99 is the column before KB/sec).
measure() {
  "$bench" "${common[@]}" --test-time="$secs" --print-percentiles=99 "$@" \
    | awk '$1 == "Totals" { print $2, $(NF-1) }'
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { printf '%s\n' "${@:2}" | awk -v c="$1" '{print $c}' | median; }

row() { # name redis-results kiln-results
  local name=$1; shift
  printf '%-38s %12.0f %12.0f %6.2f %12.3f %12.3f\n' "$name" "$1" "$3" "$(awk -v a="$3" -v b="$1" 'BEGIN{print a/b}')" "$2" "$4"
}

# compare LABEL KIND-ARGS...: Redis, Kiln's main port and Kiln's core ports
# (--cluster-mode) in turn, round after round; two table rows.
compare() {
  local label=$1; shift
  local r=() k=() kc=()
  for _ in $(seq "$rounds"); do
    r+=("$(measure -p "$redis_port" "$@")")
    k+=("$(measure -p "$kiln_port" "$@")")
    kc+=("$(measure -p "$core_port" --cluster-mode "$@")")
  done
  local redis
  redis="$(col 1 "${r[@]}") $(col 2 "${r[@]}")"
  row "$label" $redis "$(col 1 "${k[@]}")" "$(col 2 "${k[@]}")"
  row "$label (cluster)" $redis "$(col 1 "${kc[@]}")" "$(col 2 "${kc[@]}")"
}

printf '%-38s %12s %12s %6s %12s %12s\n' workload redis_ops/s kiln_ops/s ratio redis_p99_ms kiln_p99_ms
for pipeline in 1 16; do
  for mix in "SET-only:1:0" "GET-only:0:1" "1:10 SET:GET:1:10"; do
    name=${mix%:*:*} ratio=${mix#"$name":}
    label="$name$([ "$pipeline" = 1 ] && echo ", -c 50" || echo ", --pipeline=16")"
    compare "$label" --ratio="$ratio" --pipeline="$pipeline"
  done
done

# Storage functions: the same two functions as a Redis 7 Lua library and a
# Kiln JavaScript library (benches/functions/).
redis-cli -p "$redis_port" -x FUNCTION LOAD REPLACE < benches/functions/bench.lua >/dev/null
redis-cli -p "$kiln_port" -x FUNCTION LOAD REPLACE < benches/functions/bench.js >/dev/null
compare "FCALL trivial, -c 50" --command="FCALL trivial 0"
compare "FCALL read-modify-write, -c 50" --command="FCALL rmw 1 __key__" --command-key-pattern=R --key-prefix=fn:
echo
echo "redis: $(redis-server --version | awk '{print $3}'), kiln: $cores core(s); kiln-bench: 1 thread, 50 connections" \
  "(cluster: 50 clients x 2 core connections); $rounds rounds of ${secs}s; $(nproc) CPUs: $(lscpu | sed -n 's/^Model name: *//p')"
