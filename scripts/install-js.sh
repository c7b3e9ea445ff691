#!/usr/bin/env bash
# Installs the JavaScript tools of the tests and benchmarks, skipping whatever
# is present: the npm packages pinned in the one lockfile at the repository's
# root (package-lock.json: the official x402 SDKs, viem, web-bot-auth, Hardhat
# and solc, esbuild, litesvm), into the root's node_modules, where every test script
# under the tree finds them. (x402-wasm/package.json is the npm package's own,
# with its own lockfile: workerd and the browser tests.)
set -euo pipefail
cd "$(dirname "$0")/.."

command -v node >/dev/null || { apt-get update && apt-get install -y nodejs npm; }

ready() {
  local stamp=node_modules/.package-lock.json p
  [ -f "$stamp" ] && [ ! package-lock.json -nt "$stamp" ] || return 1
  for p in @x402/core @x402/evm @x402/express @x402/extensions @x402/fetch @x402/svm @solana/kit viem web-bot-auth hardhat solc esbuild express hono @modelcontextprotocol/sdk agents litesvm; do
    [ -f "node_modules/$p/package.json" ] || return 1
  done
}

install() {
  ready && return 0
  echo "install-js: npm ci (package-lock.json)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  # npm ci writes node_modules/.package-lock.json; it must be newer than the lock.
  touch node_modules/.package-lock.json
}

if ready; then exit 0; fi
if command -v flock >/dev/null 2>&1; then
  ( flock 9; install ) 9>"${TMPDIR:-/tmp}/paywire-js-install.lock"
else
  install
fi
