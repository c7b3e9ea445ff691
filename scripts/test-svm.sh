#!/usr/bin/env bash
# exact on Solana in the facilitator, on a real SVM without a validator: the
# JSON-RPC shim x402-server/tests/svm/rpc-shim.mjs serves npm `litesvm`
# (SPL Token, Token-2022, associated token accounts; signature and blockhash
# checks on) on 127.0.0.1, started and stopped by its PID by the test
# x402-server/tests/svm (payments made by the core's client, verified and
# settled by a facilitator in the test's process, balances read back).
#
#   scripts/test-svm.sh                 install what is missing, then test
#   SKIP_INSTALL=1 scripts/test-svm.sh
set -euo pipefail
cd "$(dirname "$0")/.."

[ -n "${SKIP_INSTALL:-}" ] || scripts/install-js.sh
[ -f node_modules/litesvm/package.json ] || {
  echo "test-svm: npm litesvm is not installed: run scripts/install-js.sh" >&2
  exit 1
}
cargo test -p paywire-server --test svm --locked -- --ignored --nocapture
