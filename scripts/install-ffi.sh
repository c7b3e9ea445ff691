#!/usr/bin/env bash
# Installs what the C ABI's tests need, skipping whatever is already present:
# cbindgen (pinned), gcc (with AddressSanitizer), valgrind, Go (Debian's
# golang-go, for cgo), and a Python venv with pytest and the wheel's build
# backend for x402-ffi/python.
set -euo pipefail
cd "$(dirname "$0")/.."

CBINDGEN_VERSION=0.29.4
PYTEST_VERSION=8.3.4
SETUPTOOLS_VERSION=80.9.0
SETUPTOOLS_RUST_VERSION=1.13.0
WHEEL_VERSION=0.45.1

apt_updated=
apt_install() {
  # `apt-get update` only when an install fails without it (empty or stale lists).
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"; then
    if [ -z "$apt_updated" ]; then
      apt-get update
      apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
  fi
}

if ! cbindgen --version 2>/dev/null | grep -qx "cbindgen $CBINDGEN_VERSION"; then
  cargo install cbindgen --version "$CBINDGEN_VERSION" --locked
fi

need=()
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v valgrind >/dev/null || need+=(valgrind)
command -v go >/dev/null || need+=(golang-go)
# AddressSanitizer's runtime ships with gcc as libasan; check that it links.
if command -v gcc >/dev/null; then
  if ! echo 'int main(void){return 0;}' | gcc -x c -fsanitize=address,undefined -o /dev/null - 2>/dev/null; then
    need+=("libasan$(gcc -dumpversion | cut -d. -f1)" "libubsan1")
  fi
fi
if [ ${#need[@]} -gt 0 ]; then
  apt_install "${need[@]}"
fi

# The Python build and test venv: pytest, and the wheel's build backend
# (setuptools + setuptools-rust), pinned, so the test command builds the wheel
# without fetching anything (pip wheel --no-build-isolation).
venv=x402-ffi/python/.venv
want="pytest==$PYTEST_VERSION setuptools==$SETUPTOOLS_VERSION setuptools-rust==$SETUPTOOLS_RUST_VERSION wheel==$WHEEL_VERSION"
stamp="$venv/.installed"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check $want
  printf '%s' "$want" >"$stamp"
fi
