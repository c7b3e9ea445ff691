#!/usr/bin/env bash
# Deferred payments (batch-settlement on cloudflare:402): the Rust tests, then the
# cross-check in both directions with Cloudflare's web-bot-auth:
#   1. its signatures (tests/vectors/batch/web-bot-auth.json) verify in x402-core
#      (tests/batch_crosscheck.rs, run by the cargo test below);
#   2. requests signed by x402-core verify in web-bot-auth (check mode).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

PAYWIRE_BATCH_SIGNED_OUT="$OUT/x402-signed.json" cargo test -p paywire --test it -- batch_
cargo test -p paywire --doc batch
x402-core/tests/vectors/gen-batch/check.sh "$OUT/x402-signed.json"
