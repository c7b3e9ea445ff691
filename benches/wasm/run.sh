#!/usr/bin/env bash
# Benchmark (not a test) of x402-wasm against viem and the official @x402/evm
# facilitator, in workerd and Node. Installs and builds what it needs, then
# rewrites the section "WASM: workerd and Node" of benches/README.md.
#
#   benches/wasm/run.sh                 ROUNDS=15 TARGET_MS=100 by default
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

"$root/scripts/install-wasm.sh"
SKIP_INSTALL=1 "$root/x402-wasm/build.sh" >/dev/null
# viem and @x402/evm, pinned by the vector generator.
(source "$root/x402-core/tests/vectors/gen/_env.sh" && ensure_node)
if [ ! -f "$here/node_modules/.package-lock.json" ] ||
  [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$here/node_modules/.package-lock.json"
fi
exec node "$here/run.mjs"
