#!/usr/bin/env bash
# One tenant's storage function against another tenant's GETs on the same
# core, as kiln-bench sees them.
#
#   benches/noisy-neighbour.sh [--time SECS] [--budget MS] [--share PERCENT] [--spin MS] [--callers N]
#
# Starts a release kiln-server with one core (taskset -c 1) and two tenants.
# Tenant `noisy` loads a function that spins for --spin ms (default: 90% of
# the per-call budget, "close to the budget") and calls it back to back
# from --callers connections (default 1); at the same time tenant `quiet`
# GETs one key from one connection. Both load generators share CPU 0.
# --budget (function-cpu-budget, ms) and --share (function-cpu-share, %)
# default to the server's defaults, 5 and 25.
#
# Prints quiet's GETs/s and p50/p99/p99.9 (ms), and noisy's calls/s split
# into answered and refused (TRYAGAIN).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f ../shared/v8/env.sh ]; then
  # shellcheck disable=SC1091
  . ../shared/v8/env.sh
fi

# Defaults: the server's own (function-cpu-budget, function-cpu-share).
secs=10 budget=5 share=25 spin="" callers=1
while [ $# -gt 0 ]; do
  case $1 in
    --time) secs=$2; shift ;;
    --budget) budget=$2; shift ;;
    --share) share=$2; shift ;;
    --spin) spin=$2; shift ;;
    --callers) callers=$2; shift ;;
    -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
command -v redis-cli >/dev/null || apt-get install -y -qq redis-tools >/dev/null
cargo build --release -q -p kiln -p kiln-bench --bins
kiln=./target/release/kiln-server bench=./target/release/kiln-bench

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data=$(mktemp -d)
args=(--port "$port" --core-port-base 0 --cores 1 --loglevel warn --dir "$data" --save '')
args+=(--function-cpu-budget "$budget" --function-cpu-share "$share")
taskset -c 1 "$kiln" "${args[@]}" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do kill -0 "$pid"; done

cli() { redis-cli -p "$port" "$@"; }
[ -n "$spin" ] || spin=$(awk -v b="$budget" 'BEGIN { printf "%.2f", b * 0.9 }')
cli acl setuser noisy on '>noisy' '~*' '+@all' '-@admin' >/dev/null
cli acl setuser quiet on '>quiet' '~*' '+@all' '-@admin' >/dev/null
code="#!js name=spin
kiln.registerFunction('spin', () => { const end = Date.now() + $spin; while (Date.now() < end) {} return 1; });"
redis-cli -p "$port" --user noisy --pass noisy function load replace "$code" >/dev/null
redis-cli -p "$port" --user quiet --pass quiet set k v >/dev/null

common=(-p "$port" -t 1 --test-time="$secs" --hide-histogram --hide-progress)
out=$(mktemp)
taskset -c 0 "$bench" "${common[@]}" -a noisy:noisy -c "$callers" --command="FCALL spin 0" >"$out.noisy" 2>&1 &
noisy=$!
taskset -c 0 "$bench" "${common[@]}" -a quiet:quiet -c 1 --command="GET k" \
  --print-percentiles=50,99,99.9 >"$out.quiet"
wait "$noisy" || true

quiet=$(awk '$1 == "Totals" { print $2, $(NF-3), $(NF-2), $(NF-1) }' "$out.quiet")
calls=$(awk '$1 == "Totals" { print $2 }' "$out.noisy")
refused=$(cli info functions | sed -n 's/^functions_calls_throttled:\([0-9]*\).*/\1/p')
printf 'budget %s ms, share %s%%, spin %s ms, %s caller(s), %s s\n' "$budget" "$share" "$spin" "$callers" "$secs"
printf '%-28s %12s %10s %10s %10s\n' "" ops/s p50_ms p99_ms p99.9_ms
# shellcheck disable=SC2086
printf '%-28s %12.0f %10.3f %10.3f %10.3f\n' "quiet GET" $quiet
printf '%-28s %12.0f   (%s refused with TRYAGAIN)\n' "noisy FCALL spin" "$calls" "${refused:-?}"
rm -f "$out" "$out.noisy" "$out.quiet"
