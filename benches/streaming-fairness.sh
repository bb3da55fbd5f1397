#!/usr/bin/env bash
# One client streams requests faster than its core runs them (redis-cli
# --pipe of PFADDs of 500 elements, 600,000 of them, about 3 GB); another
# samples PING latency on the same core (redis-cli --latency, realtime
# priority so its own CPU share does not count). Then a bulk load: 3 M SETs
# of 64-byte values through redis-cli --pipe. Servers on CPU 1 (Kiln with
# one core), load on CPU 0, each server in turn, ROUNDS times.
#
#   benches/streaming-fairness.sh [kiln-server ...]   (default: this tree's release build)
#
# Needs redis-cli, redis-server, chrt and root (or CAP_SYS_NICE) for chrt.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
servers=("$@")
if [ ${#servers[@]} -eq 0 ]; then
  [ -f ../shared/v8/env.sh ] && . ../shared/v8/env.sh
  cargo build --release -q -p kiln --bins
  servers=("${CARGO_TARGET_DIR:-target}/release/kiln-server")
fi
servers+=(redis-server)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" <<'PY'
import sys
sys.path.insert(0, "benches")
from benchlib import resp
work = sys.argv[1]
tail = resp("PFADD", "K", *[f"e{j}" for j in range(500)]).split(b"K\r\n", 1)[1]
with open(f"{work}/pfadd.bin", "wb") as f:
    for i in range(600_000):
        k = b"hll:%d" % (i % 2000)
        f.write(b"*502\r\n$5\r\nPFADD\r\n$%d\r\n%s\r\n%s" % (len(k), k, tail))
with open(f"{work}/sets.bin", "wb") as f:
    f.write(b"".join(resp("SET", "key:%d" % (i % 100_000), "v" * 64) for i in range(3_000_000)))
PY

start() {  # $1 server binary; prints "pid port"
  local port
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  if [[ $(basename "$1") == redis-server ]]; then
    taskset -c 1 "$1" --port "$port" --bind 127.0.0.1 --save "" >/dev/null &
  else
    taskset -c 1 "$1" --port "$port" --bind 127.0.0.1 --core-port-base 0 --cores 1 --loglevel warn --save "" >/dev/null &
  fi
  local pid=$!
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.05; done
  echo "$pid $port"
}

printf '%-40s %-28s %s\n' server "PING while streaming (ms)" "bulk load of 3 M SETs (s)"
for round in $(seq "$ROUNDS"); do
  for server in "${servers[@]}"; do
    read -r pid port < <(start "$server")
    began=$(date +%s.%N)
    taskset -c 0 redis-cli -p "$port" --pipe <"$work/sets.bin" >/dev/null 2>&1
    ended=$(date +%s.%N)
    (taskset -c 0 redis-cli -p "$port" --pipe <"$work/pfadd.bin" >/dev/null 2>&1 || true) &
    pipe=$!
    sleep 0.3
    # min max avg samples
    lat=$(timeout 4 chrt -f 50 taskset -c 0 redis-cli -p "$port" --latency --raw 2>/dev/null | tail -1 || true)
    kill "$pipe" 2>/dev/null || true
    wait "$pipe" 2>/dev/null || true
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    read -r lo hi avg n <<<"$lat"
    printf '%-40s avg %6s max %5s (n=%s)     %.2f\n' "$(basename "$server") [$server]" "$avg" "$hi" "$n" \
      "$(echo "$ended - $began" | bc)"
  done
done
