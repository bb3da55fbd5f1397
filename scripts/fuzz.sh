#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a bounded time, starting from the
# committed seeds in fuzz/corpus/<target>.
#
#   scripts/fuzz.sh [seconds-per-target]     (default 35; CI runs this)
#
# Needs cargo-fuzz (`cargo install --locked cargo-fuzz`). Stable Rust builds
# the libFuzzer/ASan instrumentation with RUSTC_BOOTSTRAP=1, for the fuzz
# build only. New inputs go to a scratch directory, so the committed seeds
# stay as they are; a crash leaves its input in fuzz/artifacts/<target>/ and
# fails the script. -malloc_limit_mb makes any single allocation over 256 MB
# a failure: no input may allocate beyond the caps.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-35}
export RUSTC_BOOTSTRAP=1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

cargo fuzz build
for target in $(cargo fuzz list); do
  mkdir -p "$scratch/$target"
  dict=()
  [ -f "$target.dict" ] && dict=("-dict=$target.dict")
  log="$scratch/$target.log"
  if ! cargo fuzz run "$target" "$scratch/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -malloc_limit_mb=256 -timeout=10 "${dict[@]}" >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz: $target FAILED (input saved under fuzz/artifacts/$target/)" >&2
    exit 1
  fi
  echo "fuzz: $target: $(grep -E '^Done' "$log")"
done
