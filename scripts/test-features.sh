#!/usr/bin/env bash
# The core's feature combinations that users build, each under clippy with
# warnings denied (dead code in a combination is a warning): no features (the
# no_std core), alloc, batch, alloc + batch, std, and everything. The full
# powerset (cargo hack) runs in scripts/test-long.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
combos=(
  ""
  "alloc"
  "batch"
  "alloc,batch"
  "std"
  "std,batch,precomputed-tables"
)
for f in "${combos[@]}"; do
  echo "paywire --no-default-features --features '${f}'"
  cargo clippy -p paywire --no-default-features --features "$f" --locked --quiet -- -D warnings
done
