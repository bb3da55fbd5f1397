#!/usr/bin/env bash
# Type-checks the example libraries against functions/kiln.d.ts with the
# TypeScript compiler (examples/functions/jsconfig.json), so the declarations
# and the examples cannot drift apart unnoticed.
#
#   scripts/check-kiln-dts.sh
#
# Needs node and npm; installs typescript 5 into a temporary directory that
# is removed on exit. Not part of .ci/run (it needs the npm registry).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm install --silent --no-audit --no-fund --prefix "$tmp" typescript@5 >/dev/null
"$tmp/node_modules/.bin/tsc" -p examples/functions/jsconfig.json
echo "kiln.d.ts: examples type-check"
