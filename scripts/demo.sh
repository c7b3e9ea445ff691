#!/usr/bin/env bash
# The demo: runs on a fresh machine with nothing but a Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f x402-core/examples/decode_headers.rs ]; then
  cargo run --quiet -p x402-core --example decode_headers
  echo
fi
cargo run --quiet -p x402-core --example pay_and_verify
