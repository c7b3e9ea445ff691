#!/usr/bin/env bash
# Regenerates every vector file in x402-core/tests/vectors/ from the official
# x402 TypeScript SDK, viem and Python eth-account. Deterministic: re-running
# produces byte-identical files. Installs deps into gen/ only if missing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
ensure_node
ensure_venv
cd "$GEN_DIR"

node src/gen-headers.mjs
node src/gen-resource-info.mjs
node src/gen-bazaar.mjs
node src/gen-eip712.mjs
node src/dump-sdk-types.mjs | .venv/bin/python py/gen_eip712_eth_account.py
node src/crosscheck-eth-account.mjs
node src/gen-payments.mjs
node src/gen-verdicts.mjs
node src/gen-settlement.mjs
node src/gen-smart-wallet.mjs
node src/gen-batch-settlement.mjs
node src/gen-batch-server.mjs
node src/gen-svm.mjs

# Self-tests of check mode: it must reproduce every recorded verdict, and accept
# every official payment.
node src/check.mjs --use-recorded-verdicts ../official-verdicts.json >/dev/null ||
  { echo "generate: check mode disagrees with official-verdicts.json" >&2; exit 1; }
node src/check.mjs ../official-payments.json >/dev/null ||
  { echo "generate: check mode rejects an official payment" >&2; exit 1; }
echo "generate: all vector files written and self-checked"
