#!/usr/bin/env bash
# The slow tier: what takes too long for the test command (scripts/test.sh),
# run before resolving the work that needs it, its results in the notes.
#
#   scripts/test-long.sh            everything below
#   scripts/test-long.sh features   only the named parts
#
#   features      the core's full feature powerset (cargo hack), each under clippy
#   differential  libsecp256k1 against k256 on 2,000,000 cases natively (release)
#                 and 1,000,000 in wasm (the npm package's fast flavour against
#                 its default one, in Node); the test command runs 100,000 of each
#   fuzz          every fuzz target for FUZZ_SECONDS (default 600) each
#                 (scripts/fuzz-long.sh)
#   facilitator   the facilitator's on-chain tests at full size: 200 settlements
#                 from 50 payers through one signer, on one instance and on two
#                 sharing PostgreSQL (the test command runs 24)
#   batch-settlement  the core's batch-settlement channels on a local chain at
#                 full size: 1,000 vouchers on one channel, one claim over 50
#                 channels (scripts/test-settlement.sh runs 20 and 3)
#   voucher-bench batch-settlement voucher verification against the official
#                 TypeScript server's, one run (benches/batch/run.sh; a
#                 benchmark: it fails only if a voucher is not accepted)
#   slow-clients  `paywire serve` under 300 connections trickling their requests
#                 for 60 s while an ordinary client keeps asking (the test
#                 command runs 20 for 10 s)
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_HACK_VERSION=0.6.46

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(features differential facilitator batch-settlement voucher-bench slow-clients fuzz)
# shellcheck source=lib/postgres.sh
. scripts/lib/postgres.sh
# shellcheck source=lib/hardhat.sh
. scripts/lib/hardhat.sh
chain_dir=""
trap 'stop_postgres; stop_hardhat; [ -z "$chain_dir" ] || rm -rf "$chain_dir"' EXIT

started=$(date +%s)
for part in "${parts[@]}"; do
  t0=$(date +%s)
  printf '\n==> %s\n' "$part"
  case "$part" in
    features)
      if ! cargo hack --version 2>/dev/null | grep -q "$CARGO_HACK_VERSION"; then
        cargo install cargo-hack --version "$CARGO_HACK_VERSION" --locked
      fi
      cargo hack --feature-powerset --package paywire clippy --locked --quiet -- -D warnings
      ;;
    differential)
      PAYWIRE_DIFFERENTIAL_CASES=2000000 scripts/test-backends.sh
      PAYWIRE_DIFFERENTIAL_CASES=1000000 scripts/test-wasm.sh node
      ;;
    fuzz)
      scripts/fuzz-long.sh "${FUZZ_SECONDS:-600}"
      ;;
    facilitator)
      start_postgres
      PAYWIRE_REQUIRE_POSTGRES=1 PAYWIRE_TEST_LOAD=200 scripts/test-settlement.sh
      ;;
    batch-settlement)
      [ -n "${SKIP_INSTALL:-}" ] || scripts/install-js.sh
      chain_dir=$(mktemp -d)
      HARDHAT_SECONDS=1800 start_hardhat "$chain_dir"
      PAYWIRE_TEST_RPC="$HARDHAT_URL" PAYWIRE_TEST_CONTRACTS="$HARDHAT_CONTRACTS" \
        PAYWIRE_BATCH_VOUCHERS=1000 PAYWIRE_BATCH_CHANNELS=50 \
        cargo test -p paywire --test it --features evm-batch --locked -- batch_settlement_onchain:: --ignored --test-threads=1
      stop_hardhat
      ;;
    voucher-bench)
      benches/batch/run.sh
      ;;
    slow-clients)
      PAYWIRE_TEST_SLOW_CLIENTS=300 PAYWIRE_TEST_SLOW_SECONDS=60 \
        cargo test -p paywire-cli --test slow_clients --locked -- --nocapture
      ;;
    *) echo "test-long: unknown part $part (features, differential, facilitator, batch-settlement, voucher-bench, slow-clients, fuzz)" >&2; exit 2 ;;
  esac
  printf '    (%ss)\n' "$(($(date +%s) - t0))"
done
printf '\ntest-long: done in %ss\n' "$(($(date +%s) - started))"
