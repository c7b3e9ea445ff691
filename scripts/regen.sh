#!/usr/bin/env bash
# Regenerates every generated file that is checked in. One generator per file:
#
#   include/paywire.h   cbindgen (pinned below) from x402-ffi/src; all of its
#                    configuration is in x402-ffi/cbindgen.toml
#   x402-core/tests/vectors/batch-settlement-paywall.json   the core's
#                    batch-settlement client (EVM), by the example
#                    x402-core/examples/batch_settlement_payments.rs: the
#                    payments the Go and Python paywalls are tested with
#   x402-core/tests/vectors/svm.json   the official @x402/svm client and
#                    facilitator (x402-core/tests/vectors/gen/src/gen-svm.mjs,
#                    packages pinned by the root package-lock.json)
#
# To add a generator: write a gen_* function that writes the file named by its
# first argument, and add "path gen_function" to GENERATORS.
#
#   scripts/regen.sh           regenerate in place
#   scripts/regen.sh --check   generate into a temporary directory and fail on
#                              any difference from the checked-in files
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

CBINDGEN_VERSION=0.29.4

gen_c_header() {
  if ! cbindgen --version 2>/dev/null | grep -qx "cbindgen $CBINDGEN_VERSION"; then
    cargo install cbindgen --version "$CBINDGEN_VERSION" --locked
  fi
  (cd "$root/x402-ffi" && cbindgen --quiet --output "$1")
}

gen_batch_paywall_vectors() {
  cargo run --quiet --locked -p paywire --features evm-batch --example batch_settlement_payments >"$1"
}

gen_svm_vectors() {
  "$root/scripts/install-js.sh"
  node "$root/x402-core/tests/vectors/gen/src/gen-svm.mjs" "$1"
}

gen_batch_server_vectors() {
  "$root/scripts/install-js.sh"
  node "$root/x402-core/tests/vectors/gen/src/gen-batch-server.mjs" "$1"
}

GENERATORS=(
  "include/paywire.h gen_c_header"
  "x402-core/tests/vectors/batch-settlement-paywall.json gen_batch_paywall_vectors"
  "x402-core/tests/vectors/svm.json gen_svm_vectors"
  "x402-core/tests/vectors/batch-settlement-server.json gen_batch_server_vectors"
)

check=
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for entry in "${GENERATORS[@]}"; do
  read -r path gen <<<"$entry"
  mkdir -p "$tmp/$(dirname "$path")"
  "$gen" "$tmp/$path"
  if [ -n "$check" ]; then
    if ! diff -u "$path" "$tmp/$path"; then
      echo "regen: $path is out of date; run scripts/regen.sh" >&2
      status=1
    fi
  else
    mkdir -p "$(dirname "$path")"
    if ! cmp -s "$tmp/$path" "$path"; then
      cp "$tmp/$path" "$path"
      echo "regen: wrote $path"
    fi
  fi
done
exit $status
