#!/usr/bin/env bash
# Settlement on a real EVM: compiles the test contracts (pinned solc), starts a
# local Hardhat network on 127.0.0.1 (scripts/lib/hardhat.sh), and runs against
# it x402-core's on-chain tests (x402-core/tests/it/settlement_onchain.rs and
# batch_settlement_onchain.rs), the facilitator's (x402-server/tests/onchain),
# the example Worker's, and the interop test of the facilitator with the
# official x402 SDKs (x402-server/tests/interop). The chain is stopped by its PID when the script
# exits, and cannot outlive a time limit.
#
#   scripts/test-settlement.sh               install what is missing, then test
#   SKIP_INSTALL=1 scripts/test-settlement.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ -z "${SKIP_INSTALL:-}" ]; then
  scripts/install-js.sh
  scripts/install-interop.sh
  # FastAPI and uvicorn for the Python paywall (x402-ffi/python/.venv).
  scripts/install-ffi.sh
fi

work=$(mktemp -d)
# shellcheck source=lib/hardhat.sh
. scripts/lib/hardhat.sh
trap 'stop_hardhat; rm -rf "$work"' EXIT INT TERM
HARDHAT_SECONDS=900 start_hardhat "$work"
url=$HARDHAT_URL
echo "test-settlement: local chain at $url" >&2

# The npm package's full flavour (the Worker's), built if needed, when the wasm
# package's tools are installed (scripts/install-wasm.sh).
wasm="$root/x402-wasm"
workerd=""
if [ -x "$wasm/node_modules/.bin/workerd" ] && command -v wasm-bindgen >/dev/null 2>&1; then
  if ! grep -qs ChainMachine "$wasm/pkg/full/paywire_wasm.js" || [ ! -f "$wasm/pkg/mcp.mjs" ]; then
    SKIP_INSTALL=1 "$wasm/build.sh" >&2
  fi
  workerd="$wasm/node_modules/.bin/workerd"
fi

# Interop: the official x402 SDKs (the @x402/express resource server, the
# @x402/fetch and Python clients) paying through `paywire facilitator`; and
# each of this project's paywalls settling through it, paid by the official
# client: `paywire serve`, the example Worker, the Rust layer (axum), the
# Python package (FastAPI) and the Go package (net/http). First, while the
# chain's clock is the machine's: the tests after it move the chain's time
# forward, and the official clients sign authorizations valid from the
# machine's clock.
printf '\n==> the official x402 SDKs, and every paywall of this project, through paywire facilitator\n'
interop="$root/x402-server/tests/interop"
[ -x "$interop/.venv/bin/python" ] || { echo "test-settlement: $interop/.venv is missing: run scripts/install-interop.sh" >&2; exit 1; }
cargo build -p paywire-cli -p paywire-server -p paywire-ffi --bin paywire --example paywall --lib --locked
# The Go shop links the release library (as the Go package's own tests do).
cargo build --release -p paywire-ffi --locked
(cd "$interop/go-shop" && env -u CGO_LDFLAGS -u CGO_CFLAGS -u CGO_ENABLED GOPROXY=off GOFLAGS=-mod=mod \
  go build -o "$work/go-shop" .)
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
(cd "$interop" && PAYWIRE_TEST_RPC="$url" PAYWIRE_TEST_CONTRACTS="$HARDHAT_CONTRACTS" PAYWIRE_BIN="$target/debug/paywire" \
  PAYWIRE_TEST_PYTHON="$interop/.venv/bin/python" PAYWIRE_TEST_WORKERD="$workerd" \
  PAYWIRE_TEST_WASM_PKG="${workerd:+$wasm/pkg}" \
  PAYWIRE_TEST_LAYER_BIN="$target/debug/examples/paywall" \
  PAYWIRE_TEST_SHOP_PYTHON="$root/x402-ffi/python/.venv/bin/python" PAYWIRE_LIB="$target/debug/libpaywire.so" \
  PAYWIRE_TEST_GO_SHOP="$work/go-shop" \
  timeout 300 node --test interop.test.mjs)
# batch-settlement: the official resource server, client and channel manager
# through `paywire facilitator` (deposit, vouchers, claim, sweep, refund).
(cd "$interop" && PAYWIRE_TEST_RPC="$url" PAYWIRE_TEST_CONTRACTS="$HARDHAT_CONTRACTS" PAYWIRE_BIN="$target/debug/paywire" \
  timeout 120 node --test batch.test.mjs)
# batch-settlement through this project's Rust paywall layer (the core's
# lifecycle), paid by the official client: deposit, vouchers without a
# transaction, the client's refund, and a sweep through paywire facilitator.
(cd "$interop" && PAYWIRE_TEST_RPC="$url" PAYWIRE_TEST_CONTRACTS="$HARDHAT_CONTRACTS" PAYWIRE_BIN="$target/debug/paywire" \
  PAYWIRE_TEST_LAYER_BIN="$target/debug/examples/paywall" timeout 120 node --test batch-paywall.test.mjs)

# Built once with evm-batch: the same test binary runs the batch-settlement
# channels last (below), as they move the chain's clock forward.
printf '\n==> the core settling on the local chain\n'
PAYWIRE_TEST_RPC="$url" PAYWIRE_TEST_CONTRACTS="$HARDHAT_CONTRACTS" PAYWIRE_TEST_FIXTURE="$work/fixture.json" \
  cargo test -p paywire --test it --features evm-batch --locked -- settlement_onchain:: --skip batch_settlement_onchain:: \
  --ignored --test-threads=1

# The facilitator service (paywire-server) on the same chain: settlement,
# concurrency over two instances (on the run's PostgreSQL when the test
# command started one), faults injected between it and the node, restarts.
printf '\n==> the facilitator on the local chain\n'
PAYWIRE_TEST_RPC="$url" PAYWIRE_TEST_CONTRACTS="$HARDHAT_CONTRACTS" \
  cargo test -p paywire-server --test onchain --locked -- --ignored --test-threads=1

# The example Worker (x402-wasm) settling on the same chain, when the wasm
# package's tools are installed (scripts/install-wasm.sh); built if needed.
if [ -n "$workerd" ]; then
  # The tests import the package by its name (scripts/test-wasm.sh installs
  # the packed tarball there; a copy of the build does as well here).
  rm -rf "$wasm/node_modules/paywire" "$wasm/node_modules/x402-wasm"
  cp -r "$wasm/pkg" "$wasm/node_modules/paywire"
  printf '\n==> the example Worker settling on the local chain\n'
  (cd "$wasm/tests" && PAYWIRE_TEST_FIXTURE="$work/fixture.json" timeout 300 node --test chain/*.test.mjs)
else
  echo "test-settlement: NOT RUN: the Worker's on-chain test needs the wasm tools (scripts/install-wasm.sh)" >&2
fi

# batch-settlement on EVM: channels of the x402 batch-settlement contract
# opened through both deposit collectors, paid with vouchers, claimed in one
# signed batch over several channels, settled, refunded and withdrawn from
# (x402-core/tests/it/batch_settlement_onchain.rs). Last, because the timed
# withdrawal moves the chain's clock past the machine's, which the clients
# above sign against. PAYWIRE_BATCH_VOUCHERS and PAYWIRE_BATCH_CHANNELS set
# the sizes (20 and 3 unless given).
printf '\n==> batch-settlement channels on the local chain\n'
PAYWIRE_TEST_RPC="$url" PAYWIRE_TEST_CONTRACTS="$HARDHAT_CONTRACTS" \
  cargo test -p paywire --test it --features evm-batch --locked -- batch_settlement_onchain:: --ignored --test-threads=1
