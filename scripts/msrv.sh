#!/usr/bin/env bash
# The core's minimum supported Rust version, read from the workspace manifest.
#
#   scripts/msrv.sh          prints it (1.87)
#   scripts/msrv.sh install  installs that toolchain with rustup if it is missing
#   scripts/msrv.sh check    checks the core with it: every feature, and none
set -euo pipefail
cd "$(dirname "$0")/.."
msrv=$(sed -n '/^\[workspace.package\]/,/^\[/s/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
case "${1:-}" in
  "") echo "$msrv" ;;
  install)
    rustup toolchain list 2>/dev/null | grep -q "^$msrv" ||
      rustup toolchain install "$msrv" --profile minimal
    ;;
  check)
    cargo "+$msrv" check -p paywire --locked --all-features
    cargo "+$msrv" check -p paywire --locked --no-default-features
    ;;
  *) echo "usage: scripts/msrv.sh [install|check]" >&2; exit 2 ;;
esac
