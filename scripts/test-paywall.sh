#!/usr/bin/env bash
# Paywalls that never lose money: the same rules against both servers, each
# with a facilitator double on 127.0.0.1 told to misbehave (the behaviours of
# x402-core/tests/vectors/paywall.json), concurrency, restarts and crashes.
#
#   `paywire serve`                cargo test -p paywire-cli --test paywall (memory and SQLite)
#   the example Worker          scripts/test-wasm.sh paywall (workerd, Durable Object)
#
#   scripts/test-paywall.sh                  install what is missing, then both
#   SKIP_INSTALL=1 scripts/test-paywall.sh   assume the tools are present
set -euo pipefail
cd "$(dirname "$0")/.."

printf '\n==> paywire serve\n'
cargo test -p paywire-cli --test paywall --locked

printf '\n==> the example Worker in workerd\n'
scripts/test-wasm.sh paywall
