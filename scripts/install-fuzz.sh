#!/usr/bin/env bash
# Installs what the fuzz targets need, skipping whatever is already present:
# a nightly toolchain (libFuzzer with AddressSanitizer) and cargo-fuzz.
# Without a nightly, the targets still build and run on stable (no sanitizer).
set -euo pipefail

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal \
    || echo "install-fuzz: no nightly toolchain; fuzzing falls back to stable without sanitizers" >&2
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
