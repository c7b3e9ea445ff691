#!/usr/bin/env bash
# Cross-implementation comparison (a benchmark, not a test): the same payment
# (`v2-exact-eip3009-skips-unsupported-first-accept` of
# x402-core/tests/vectors/official-payments.json) verified in one go by
#   - this crate natively (a release binary: benches/examples/compare_native.rs),
#   - x402-wasm in Node (skipped if the package does not build),
#   - viem's verifyTypedData and the official @x402/evm facilitator verify over
#     a fake healthy chain, in Node (the vector generator's pinned packages),
#   - eth-account with eth_keys' native backend and with coincurve, and the
#     official x402 Python package's facilitator verify over a faked chain,
# each timed the same way (30 samples of at least 20 ms; µs per call, min and
# median). Prints the table with the ratios to this crate and writes it into the
# section "Cross-implementation comparison" of benches/README.md.
#
#   benches/compare/run.sh
#   NO_README=1 benches/compare/run.sh     print only
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

ETH_ACCOUNT=0.14.0
COINCURVE=21.0.0
OFFICIAL_X402_PYPI=2.25.0

results=$(mktemp)
trap 'rm -f "$results"' EXIT
load_start=$(cut -d' ' -f1 /proc/loadavg)

echo "==> native" >&2
cargo build --release --locked -q -p paywire-benches --example compare_native --manifest-path "$root/Cargo.toml"
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
"$target_dir/release/examples/compare_native" >>"$results"

echo "==> node" >&2
"$root/scripts/install-js.sh"
wasm_pkg="$target_dir/compare-wasm-pkg"
if [ -x "$root/x402-wasm/build.sh" ] && "$root/x402-wasm/build.sh" "$wasm_pkg" >/dev/null 2>&1; then
  export PAYWIRE_WASM_PKG="$wasm_pkg"
else
  echo "compare: x402-wasm did not build; its rows are left out" >&2
  export PAYWIRE_WASM_PKG=/nonexistent
fi
node "$here/node.mjs" >>"$results"

echo "==> python" >&2
venv="$here/.venv"
want="eth-account==$ETH_ACCOUNT coincurve==$COINCURVE x402[evm]==$OFFICIAL_X402_PYPI"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.installed" 2>/dev/null)" != "$want" ]; then
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check $want
  echo "$want" >"$venv/.installed"
fi
for backend in NativeECCBackend CoinCurveECCBackend; do
  for what in eth-account official; do
    ECC_BACKEND_CLASS="eth_keys.backends.$backend" "$venv/bin/python" "$here/bench.py" "$what" >>"$results"
  done
done

load_end=$(cut -d' ' -f1 /proc/loadavg)
readme="$root/benches/README.md"
[ -z "${NO_README:-}" ] || readme=
python3 "$here/render.py" "$results" "$load_start" "$load_end" $readme
