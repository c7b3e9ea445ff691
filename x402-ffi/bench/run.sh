#!/usr/bin/env bash
# The FFI benchmark (not a test): one payment verified through Go (cgo) and
# through Python (ctypes) over the release libpaywire, beside eth-account (with
# and without coincurve) recovering the same EIP-712 signature, and the
# official x402 Python package's facilitator verify over a faked chain.
# Writes the table into benches/README.md, section "FFI: Go and Python".
#
#   x402-ffi/bench/run.sh
set -euo pipefail
cd "$(dirname "$0")"
bench=$(pwd)
root=$(cd ../.. && pwd)

ETH_ACCOUNT=0.14.0
OFFICIAL_X402_PYPI=2.25.0
COINCURVE=21.0.0

cargo build -p paywire-ffi --release --locked --manifest-path "$root/Cargo.toml"
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
lib="$target_dir/release"

venv() { # dir, packages...
  local dir=$1; shift
  if [ ! -x "$dir/bin/python" ] || [ "$(cat "$dir/.installed" 2>/dev/null)" != "$*" ]; then
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
    echo "$*" >"$dir/.installed"
  fi
}
# Two environments, one per package under test (ours imports as `paywire`, the
# official one as `x402`), so that neither's dependencies affect the other.
venv .venv "eth-account==$ETH_ACCOUNT" "coincurve==$COINCURVE"
venv .venv-official "x402[evm]==$OFFICIAL_X402_PYPI" "eth-account==$ETH_ACCOUNT" "coincurve==$COINCURVE"

results=$(mktemp)
trap 'rm -f "$results"' EXIT
native=eth_keys.backends.NativeECCBackend
coincurve=eth_keys.backends.CoinCurveECCBackend

(cd go && GOPROXY=off GOFLAGS=-mod=mod go run . "$root") >>"$results"
PAYWIRE_LIB="$lib/libpaywire.so" .venv/bin/python bench_python.py paywire >>"$results"
ECC_BACKEND_CLASS=$native .venv/bin/python bench_python.py eth-account >>"$results"
ECC_BACKEND_CLASS=$coincurve .venv/bin/python bench_python.py eth-account >>"$results"
ECC_BACKEND_CLASS=$native .venv-official/bin/python bench_official.py "$OFFICIAL_X402_PYPI" >>"$results"
ECC_BACKEND_CLASS=$coincurve .venv-official/bin/python bench_official.py "$OFFICIAL_X402_PYPI" >>"$results"

python3 render.py "$results" "$root/benches/README.md" \
  "Python $(python3 -c 'import platform; print(platform.python_version())'), $(go version | cut -d' ' -f3), eth-account $ETH_ACCOUNT, coincurve $COINCURVE, x402 (PyPI) $OFFICIAL_X402_PYPI"
