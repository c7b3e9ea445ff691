#!/usr/bin/env bash
# Installs what the settlement tests need, skipping whatever is present: the
# npm packages pinned in x402-core/tests/chain/package-lock.json (Hardhat's
# local EVM and the solc compiler) into that folder's node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."
chain=x402-core/tests/chain

command -v node >/dev/null || { apt-get update && apt-get install -y nodejs npm; }

ready() {
  local stamp="$chain/node_modules/.package-lock.json"
  [ -f "$stamp" ] && [ ! "$chain/package-lock.json" -nt "$stamp" ] &&
    [ -f "$chain/node_modules/hardhat/package.json" ] &&
    [ -f "$chain/node_modules/solc/package.json" ]
}

install() {
  ready && return 0
  echo "install-settlement: npm ci in $chain" >&2
  (cd "$chain" && npm ci --no-audit --no-fund --loglevel=error >&2)
  touch "$chain/node_modules/.package-lock.json"
}

if ready; then exit 0; fi
if command -v flock >/dev/null 2>&1; then
  ( flock 9; install ) 9>"${TMPDIR:-/tmp}/x402-settlement-install.lock"
else
  install
fi
