#!/usr/bin/env bash
# Benchmark (not a test; never part of the test command): paywire's
# facilitator against the official TypeScript facilitator and x402-rs's, on
# one local Hardhat chain with the same payments. Prints a table (ratios from
# this one run); benches/README.md has the latest.
#
#   benches/facilitator/run.sh                 CONCURRENCY=16 SECONDS=10 SETTLES=30
#   NO_X402RS=1 benches/facilitator/run.sh     without building x402-rs
#
# x402-rs is built from crates.io (its published Cargo.lock) into
# benches/facilitator/.x402-rs, with a target directory of its own
# (target/x402-rs): its alloy and Solana dependencies take long to compile.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
X402RS_VERSION=0.12.5

# Hardhat, the official SDK, viem: the repository's test tools.
"$root/scripts/install-js.sh" >&2
cargo build --release --locked -p paywire-cli --manifest-path "$root/Cargo.toml" >&2
x402rs=""
if [ -z "${NO_X402RS:-}" ]; then
  if [ ! -x "$here/.x402-rs/bin/x402-rs" ]; then
    cargo install x402-rs --version "$X402RS_VERSION" --locked --root "$here/.x402-rs" \
      --target-dir "$root/target/x402-rs" >&2 || echo "x402-rs $X402RS_VERSION could not be built" >&2
  fi
  [ -x "$here/.x402-rs/bin/x402-rs" ] && x402rs="$here/.x402-rs/bin/x402-rs"
fi

work=$(mktemp -d)
# shellcheck source=../../scripts/lib/hardhat.sh
. "$root/scripts/lib/hardhat.sh"
trap 'stop_hardhat; rm -rf "$work"' EXIT
HARDHAT_SECONDS=1800 start_hardhat "$work"

PAYWIRE_BENCH_RPC="$HARDHAT_URL" PAYWIRE_BENCH_CONTRACTS="$HARDHAT_CONTRACTS" \
  PAYWIRE_BENCH_PAYWIRE="$root/target/release/paywire" PAYWIRE_BENCH_X402RS="$x402rs" \
  PAYWIRE_BENCH_WORK="$work" PAYWIRE_BENCH_OUT="${PAYWIRE_BENCH_OUT:-}" \
  timeout 1200 node "$here/run.mjs"
