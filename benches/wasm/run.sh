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
# viem, @x402/evm and esbuild: the repository's test tools.
"$root/scripts/install-js.sh"
exec node "$here/run.mjs"
