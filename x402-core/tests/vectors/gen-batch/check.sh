#!/usr/bin/env bash
# Check mode: web-bot-auth's verify on requests signed by x402-core.
#   usage: check.sh FILE.json   (as written by tests/it/batch_crosscheck.rs)
# Prints one line per entry and "check: N passed, M failed"; exits 1 if any failed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
ensure_node
exec node "$GEN_DIR/src/check.mjs" "$@"
