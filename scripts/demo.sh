#!/usr/bin/env bash
# The demo: runs on a fresh machine with nothing but a Rust toolchain.
# `paywire demo`: an agent pays for an HTTP resource end to end, in one process on
# 127.0.0.1 (settlement simulated by a local test-USDC ledger).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --quiet -p paywire-cli -- demo "$@"
