#!/usr/bin/env bash
# Runs every check and test of the project. Installs what is missing first
# (idempotently: whatever is already present is skipped). Prints the seconds
# each step took, and a summary at the end.
#
#   scripts/test.sh                  everything
#   SKIP_INSTALL=1 scripts/test.sh   assume the tools are present
#
# The slow tier (full-size load and fault tests, long fuzzing, the feature
# powerset, benchmarks) is scripts/test-long.sh, not run here.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

started=$(date +%s)
timings=()
current=""
step_started=0
finish_step() {
  if [ -n "$current" ]; then
    local took=$(($(date +%s) - step_started))
    printf '    (%ss)\n' "$took"
    timings+=("$(printf '%5ss  %s' "$took" "$current")")
  fi
}
step() {
  finish_step
  current="$*"
  step_started=$(date +%s)
  printf '\n==> %s\n' "$*"
}
summary() {
  local status=$?
  finish_step
  current=""
  printf '\nseconds per step:\n'
  printf '%s\n' "${timings[@]}"
  if [ "$status" -eq 0 ]; then
    printf '\nall checks passed in %ss\n' "$(($(date +%s) - started))"
  else
    printf '\nFAILED (exit %s) after %ss\n' "$status" "$(($(date +%s) - started))"
  fi
}
# shellcheck source=lib/postgres.sh
. scripts/lib/postgres.sh
trap 'summary; stop_postgres' EXIT

if [ -z "${SKIP_INSTALL:-}" ]; then
  step "install missing tools"
  scripts/install.sh
fi

# One PostgreSQL for the whole run (the facilitator's store tests and its
# multi-instance tests on the local chain), on 127.0.0.1, stopped by its PID.
step "PostgreSQL of the run's own on 127.0.0.1 (scripts/lib/postgres.sh)"
start_postgres
export PAYWIRE_REQUIRE_POSTGRES=1

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --features paywire-server/mcp --locked -- -D warnings

step "no_std build of the core (thumbv7em-none-eabihf, no default features)"
cargo build -p paywire --no-default-features --target thumbv7em-none-eabihf --locked
cargo build -p paywire --no-default-features --features svm --target thumbv7em-none-eabihf --locked

step "the core's Rust version: cargo +$(scripts/msrv.sh) check -p paywire"
scripts/msrv.sh check

step "the core's feature combinations (scripts/test-features.sh)"
scripts/test-features.sh

step "dependencies: cargo deny check licenses bans sources"
cargo deny --workspace check licenses bans sources

step "cargo doc -Dwarnings"
RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --features paywire-server/mcp --no-deps --locked --quiet

step "cargo test"
cargo test --workspace --features paywire-server/mcp --locked

step "exact on Solana: the core's svm feature against the official @x402/svm vectors"
cargo test -p paywire --features svm --locked -- svm
# Without svm (the workspace's test run has it, through the C library): a
# Solana requirement is a typed refusal.
cargo test -p paywire --locked --test it svm_generic

step "exact on Solana in the facilitator: litesvm behind a JSON-RPC shim on 127.0.0.1 (scripts/test-svm.sh)"
scripts/test-svm.sh

step "official facilitator (@x402/evm) on payments created by this crate"
x402-core/tests/vectors/gen/check.sh "$root/target/x402-created-payments.json"

step "deferred payments: batch-settlement cross-check with web-bot-auth (scripts/test-batch.sh)"
scripts/test-batch.sh

step "the npm package in Node, workerd, paid MCP tools, headless Chromium, and installed from its tarball (scripts/test-wasm.sh)"
scripts/test-wasm.sh

step "settlement on a local EVM: Hardhat on 127.0.0.1 (scripts/test-settlement.sh)"
scripts/test-settlement.sh

step "the crates as published: cargo package (paywire, paywire-server, paywire-cli), cargo install --path x402-cli"
scripts/test-packages.sh

step "C ABI, Go and Python, each installed with its own tool (scripts/test-ffi.sh)"
scripts/test-ffi.sh

# After the release build of libpaywire, whose dependencies the release build
# of the differential test shares in part.
step "the core on each secp256k1 backend: k256 alone, and libsecp256k1 against it on 100,000 cases (scripts/test-backends.sh)"
scripts/test-backends.sh

step "fuzz targets: build all, smoke-run each (scripts/test-fuzz.sh)"
scripts/test-fuzz.sh
