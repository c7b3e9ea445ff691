#!/usr/bin/env bash
# Installs what building and testing the x402-wasm npm package needs, skipping
# whatever is already present (safe to run again and again):
#   - the wasm32-unknown-unknown Rust target
#   - wasm-bindgen-cli, the exact version the crate pins
#   - headless Chromium (Debian's chromium)
#   - clang and llvm-ar (Debian's clang and llvm), which compile libsecp256k1
#     for wasm32 (the package's fast and full flavours)
#   - the npm tools of x402-wasm/package-lock.json: binaryen (wasm-opt),
#     workerd, typescript
set -euo pipefail
cd "$(dirname "$0")/.."

# Keep in step with `wasm-bindgen = "=…"` in x402-wasm/Cargo.toml.
WASM_BINDGEN_VERSION=0.2.130

note() { printf 'install-wasm: %s\n' "$*" >&2; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  note "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! wasm-bindgen --version 2>/dev/null | grep -qF " $WASM_BINDGEN_VERSION"; then
  # No --locked: the CLI's lockfile names a crate version the registry lacks.
  note "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2-3 minutes)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

apt_pkgs=()
command -v chromium >/dev/null 2>&1 || apt_pkgs+=(chromium)
command -v clang >/dev/null 2>&1 || apt_pkgs+=(clang)
command -v llvm-ar >/dev/null 2>&1 || apt_pkgs+=(llvm)
if [ ${#apt_pkgs[@]} -gt 0 ]; then
  note "installing ${apt_pkgs[*]} (apt)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_pkgs[@]}" >/dev/null
fi

command -v node >/dev/null 2>&1 || { note "node (>= 20) is required"; exit 1; }

# npm install only when node_modules is absent or older than the lockfile. Not
# `npm ci`: the registry mirror lacks workerd's binaries for other platforms,
# which the lockfile therefore cannot list, and `npm ci` refuses such a lock;
# `npm install` installs exactly the locked versions and leaves the lock as is.
npm_ready() {
  local dir=$1 stamp="$1/node_modules/.package-lock.json"
  [ -f "$stamp" ] && [ ! "$dir/package-lock.json" -nt "$stamp" ]
}
for dir in x402-wasm; do
  if ! npm_ready "$dir"; then
    note "npm install (locked) in $dir"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >&2)
    touch "$dir/node_modules/.package-lock.json"
  fi
done
