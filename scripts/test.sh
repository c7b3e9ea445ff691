#!/usr/bin/env bash
# Runs every check and test of the project. Installs what is missing first
# (idempotently: whatever is already present is skipped).
#
#   scripts/test.sh            everything
#   SKIP_INSTALL=1 scripts/test.sh   assume the tools are present
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n==> %s\n' "$*"; }
started=$(date +%s)

if [ -z "${SKIP_INSTALL:-}" ]; then
  step "install missing tools"
  scripts/install.sh
fi

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "no_std build of x402-core (thumbv7em-none-eabihf, no default features)"
cargo build -p x402-core --no-default-features --target thumbv7em-none-eabihf --locked

step "cargo doc -Dwarnings"
RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps --locked --quiet

step "cargo test"
cargo test --workspace --locked

step "official facilitator (@x402/evm) on payments created by this crate"
x402-core/tests/vectors/gen/check.sh "$root/target/x402-created-payments.json"

step "deferred payments: batch-settlement cross-check with web-bot-auth (scripts/test-batch.sh)"
scripts/test-batch.sh

step "wasm package in Node, workerd and headless Chromium (scripts/test-wasm.sh)"
scripts/test-wasm.sh

step "settlement on a local EVM: Hardhat on 127.0.0.1 (scripts/test-settlement.sh)"
scripts/test-settlement.sh

step "C ABI, Go and Python (scripts/test-ffi.sh)"
scripts/test-ffi.sh

step "fuzz targets: build all, smoke-run each (scripts/test-fuzz.sh)"
scripts/test-fuzz.sh

printf '\nall checks passed in %ss\n' "$(( $(date +%s) - started ))"
