#!/usr/bin/env bash
# The core on each of its secp256k1 backends. The workspace's own test run
# (cargo test --workspace) builds the core with libsecp256k1, which the CLI and
# the C library turn on; here:
#   1. the core on k256 alone (no libsecp256k1): its unit and integration
#      tests, the known answers among them;
#   2. the differential test of the two (tests/it/differential.rs) on
#      PAYWIRE_DIFFERENTIAL_CASES cases (100,000 by default) in a release
#      build: random and edge-case signatures, high-s twins, v of 0-3 and
#      27-31, results at the point at infinity, signing and key derivation.
# The same comparison in wasm (the npm package's fast flavour against its
# default one) is x402-wasm/tests/node/fast.test.mjs, run by scripts/test-wasm.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> the core on k256 alone: cargo test -p paywire --lib --test it"
cargo test -p paywire --locked --lib --test it --quiet

cases=${PAYWIRE_DIFFERENTIAL_CASES:-100000}
echo "==> libsecp256k1 against k256, $cases cases (release)"
PAYWIRE_DIFFERENTIAL_CASES=$cases cargo test --release -p paywire --features libsecp256k1 --locked \
  --test it differential -- --nocapture
