#!/usr/bin/env bash
# Check mode: runs the OFFICIAL @x402/evm facilitator verify (fake healthy chain,
# pinned time) on entries written by the x402-core Rust tests.
#   usage: check.sh <entries.json>
# Prints one line per entry and "check: N passed, M failed"; exits non-zero if any
# entry is not isValid: true (or does not match its `expect`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
ensure_node
exec node "$GEN_DIR/src/check.mjs" "$@"
