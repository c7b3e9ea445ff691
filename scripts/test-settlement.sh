#!/usr/bin/env bash
# Settlement on a real EVM: compiles the test contracts (pinned solc), starts a
# local Hardhat network on 127.0.0.1, and runs x402-core's on-chain tests
# (x402-core/tests/it/settlement_onchain.rs) against it. The chain is stopped by
# its PID when the script exits, and cannot outlive a time limit.
#
#   scripts/test-settlement.sh               install what is missing, then test
#   SKIP_INSTALL=1 scripts/test-settlement.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
chain="$root/x402-core/tests/chain"

[ -n "${SKIP_INSTALL:-}" ] || scripts/install-settlement.sh

work=$(mktemp -d)
node_pid=""
cleanup() {
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
    kill "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

node "$chain/compile.mjs" "$work/contracts.json"

port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
(
  cd "$chain"
  HARDHAT_DISABLE_TELEMETRY_PROMPT=true exec timeout 600 node node_modules/hardhat/internal/cli/cli.js \
    --config hardhat.config.cjs node --hostname 127.0.0.1 --port "$port"
) >"$work/chain.log" 2>&1 &
node_pid=$!

url="http://127.0.0.1:$port"
ready=""
for _ in $(seq 1 120); do
  if node -e 'fetch(process.argv[1],{method:"POST",headers:{"content-type":"application/json"},body:JSON.stringify({jsonrpc:"2.0",id:1,method:"eth_chainId",params:[]})}).then(r=>r.json()).then(j=>process.exit(j.result?0:1),()=>process.exit(1))' "$url" 2>/dev/null; then
    ready=1
    break
  fi
  kill -0 "$node_pid" 2>/dev/null || break
  sleep 0.5
done
if [ -z "$ready" ]; then
  echo "test-settlement: the local chain did not start" >&2
  cat "$work/chain.log" >&2
  exit 1
fi
echo "test-settlement: local chain at $url (pid $node_pid)" >&2

PAYWIRE_TEST_RPC="$url" PAYWIRE_TEST_CONTRACTS="$work/contracts.json" PAYWIRE_TEST_FIXTURE="$work/fixture.json" \
  cargo test -p paywire --test it --locked -- settlement_onchain:: --ignored --test-threads=1

# The facilitator service (paywire-server) on the same chain: settlement,
# concurrency over two instances (on the run's PostgreSQL when the test
# command started one), faults injected between it and the node, restarts.
printf '\n==> the facilitator on the local chain\n'
PAYWIRE_TEST_RPC="$url" PAYWIRE_TEST_CONTRACTS="$work/contracts.json" \
  cargo test -p paywire-server --test onchain --locked -- --ignored --test-threads=1

# The example Worker (x402-wasm) settling on the same chain, when the wasm
# package's tools are installed (scripts/install-wasm.sh); built if needed.
wasm="$root/x402-wasm"
if [ -x "$wasm/node_modules/.bin/workerd" ] && command -v wasm-bindgen >/dev/null 2>&1; then
  if ! grep -qs ChainMachine "$wasm/pkg/full/paywire_wasm.js"; then
    SKIP_INSTALL=1 "$wasm/build.sh" >&2
  fi
  # The tests import the package by its name (scripts/test-wasm.sh installs
  # the packed tarball there; a copy of the build does as well here).
  rm -rf "$wasm/node_modules/paywire" "$wasm/node_modules/x402-wasm"
  cp -r "$wasm/pkg" "$wasm/node_modules/paywire"
  printf '\n==> the example Worker settling on the local chain\n'
  (cd "$wasm/tests" && PAYWIRE_TEST_FIXTURE="$work/fixture.json" timeout 300 node --test chain/*.test.mjs)
else
  echo "test-settlement: NOT RUN: the Worker's on-chain test needs the wasm tools (scripts/install-wasm.sh)" >&2
fi
