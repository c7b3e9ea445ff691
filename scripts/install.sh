#!/usr/bin/env bash
# Installs the tools the tests need, skipping whatever is already present.
set -euo pipefail
cd "$(dirname "$0")/.."

have_target() { rustup target list --installed 2>/dev/null | grep -qx "$1"; }
for t in thumbv7em-none-eabihf; do
  have_target "$t" || rustup target add "$t"
done
# The core's minimum Rust version, for the test command's MSRV check.
scripts/msrv.sh install
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt

# Node.js (vector generator and the official SDK cross-checks).
command -v node >/dev/null || { apt-get update && apt-get install -y nodejs npm; }

# PostgreSQL's server binaries (the facilitator's store tests start a cluster of their own).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
  apt-get update && apt-get install -y postgresql
fi

# cargo-deny: licences, bans (duplicate versions) and sources (deny.toml).
CARGO_DENY_VERSION=0.20.2
if ! cargo deny --version 2>/dev/null | grep -qx "cargo-deny $CARGO_DENY_VERSION"; then
  cargo install cargo-deny --version "$CARGO_DENY_VERSION" --locked
fi
