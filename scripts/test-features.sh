#!/usr/bin/env bash
# The core's feature combinations that users build, each under clippy with
# warnings denied (dead code in a combination is a warning): no features (the
# no_std core), alloc (the npm package's default flavour), batch, alloc + batch
# + libsecp256k1 (its full flavour: libsecp256k1 without k256's tables, so
# signing through it too), std, alloc + bazaar (the discovery extension
# alone, as a no_std user with an allocator builds it), the default (std,
# batch, precomputed-tables), alloc + gas-sponsoring, alloc + erc20-approval,
# sponsored-payer (the paying side of gas sponsoring, no_std), evm-batch (the EVM
# batch-settlement scheme in the no_std core), alloc + evm-batch (with the
# lifecycle, which drives it, and without cloudflare's batch), and svm (`exact` on Solana in the
# no_std core). The workspace's clippy run covers the default with
# libsecp256k1 (the CLI and the C library turn it on). The full powerset (cargo
# hack) runs in scripts/test-long.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
combos=(
  ""
  "alloc"
  "batch"
  "alloc,batch,libsecp256k1"
  "std"
  "alloc,bazaar"
  "std,batch,precomputed-tables"
  "alloc,gas-sponsoring"
  "alloc,erc20-approval"
  "sponsored-payer"
  "evm-batch"
  "alloc,evm-batch"
  "svm"
)
for f in "${combos[@]}"; do
  echo "paywire --no-default-features --features '${f}'"
  cargo clippy -p paywire --no-default-features --features "$f" --locked --quiet -- -D warnings
done
