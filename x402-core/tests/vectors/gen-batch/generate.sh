#!/usr/bin/env bash
# Regenerates x402-core/tests/vectors/batch/web-bot-auth.json with Cloudflare's
# web-bot-auth (pinned in package.json / package-lock.json). Deterministic:
# keys, nonces and time are derived from fixed labels.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
ensure_node
cd "$GEN_DIR"
node src/generate.mjs
