#!/usr/bin/env bash
# Installs what the C ABI's tests need, skipping whatever is already present:
# cbindgen (pinned), gcc (with AddressSanitizer), valgrind, Go (Debian's
# golang-go, for cgo), and a Python venv with the wheel's build backend and the
# pinned test dependencies of x402-ffi/python (requirements-test.txt: pytest,
# FastAPI, uvicorn, httpx), whose wheels are also kept in a local wheelhouse
# from which the test command installs them into its fresh venv.
set -euo pipefail
cd "$(dirname "$0")/.."

CBINDGEN_VERSION=0.29.4
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

# The Python build and test venv: the wheel's build backend (setuptools +
# setuptools-rust), pinned, so the test command builds the wheel without
# fetching anything (pip wheel --no-build-isolation), and the pinned test
# dependencies; their wheels go to a wheelhouse beside it, for the test
# command's fresh venv (pip install --no-index --find-links).
venv=x402-ffi/python/.venv
requirements=x402-ffi/python/requirements-test.txt
want="setuptools==$SETUPTOOLS_VERSION setuptools-rust==$SETUPTOOLS_RUST_VERSION wheel==$WHEEL_VERSION"
stamp="$venv/.installed"
stamp_value="$want $(sha256sum "$requirements" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$stamp_value" ]; then
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check $want -r "$requirements"
  rm -rf "$venv/wheelhouse"
  "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --dest "$venv/wheelhouse" \
    -r "$requirements"
  printf '%s' "$stamp_value" >"$stamp"
fi
