#!/usr/bin/env bash
# The crates meant for crates.io, as they would be published: `cargo package`
# (which builds each packaged crate, the later ones against the earlier ones'
# packages) with their docs.rs metadata, and `cargo install --path x402-cli`,
# which installs the `paywire` command. The install builds in the workspace's
# target directory with the release profile, the one the C library, the Python
# wheel and the Go package use: nothing is compiled twice.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
crates=(paywire paywire-server paywire-cli)

args=()
for c in "${crates[@]}"; do args+=(-p "$c"); done
# Cargo verifies a later crate against the earlier ones' packages through a
# local registry, whose sources it extracts once per name and version, and
# whose builds it never rebuilds (a registry's crates do not change): drop
# what an earlier run extracted and built, or the verification builds against
# old code. The verification builds in a target directory of its own, so that
# dropping its paywire builds leaves the workspace's alone.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
verify=target/package-verify
for c in "${crates[@]}"; do
  rm -rf "$cargo_home"/registry/src/*/"$c"-[0-9]* "$cargo_home"/registry/cache/*/"$c"-[0-9]*.crate
done
rm -rf "$verify"/debug/.fingerprint/paywire* "$verify"/debug/deps/*paywire*
# --allow-dirty: the test command may run on a tree with uncommitted changes;
# what is packaged is the tree as it is.
cargo package --locked --allow-dirty --target-dir "$verify" "${args[@]}"
for c in "${crates[@]}"; do
  crate=$(ls "$verify"/package/"$c"-[0-9]*.crate)
  listing=$(tar -tzf "$crate")
  for f in LICENSE-MIT LICENSE-APACHE README.md Cargo.toml; do
    grep -qx "${c}-[0-9.]*/$f" <<<"$listing" ||
      { echo "test-packages: $crate lacks $f" >&2; exit 1; }
  done
  manifest=$(tar -xzOf "$crate" "$(basename "$crate" .crate)/Cargo.toml")
  grep -q '^\[package.metadata.docs.rs\]' <<<"$manifest" ||
    { echo "test-packages: $c has no docs.rs metadata" >&2; exit 1; }
  echo "packaged $(basename "$crate") ($(wc -c <"$crate") bytes)"
done

bin=$(mktemp -d "${TMPDIR:-/tmp}/paywire-install.XXXXXX")
trap 'rm -rf "$bin"' EXIT
cargo install --locked --quiet --path x402-cli --root "$bin" --target-dir "$root/target"
"$bin/bin/paywire" --version
