#!/usr/bin/env bash
# Builds the npm package `paywire` and tests it on its runtimes:
#   node      Node's test runner: the shared vectors, the API, the TypeScript types,
#             the fast flavour (libsecp256k1) against the default one (k256) on
#             PAYWIRE_DIFFERENTIAL_CASES signatures (100,000 by default)
#   workerd   Workers built on the package (the full flavour, the fast one, the README's),
#             served by workerd, paid by a Node client
#   paywall   the example Worker and its Durable Object in workerd, against a
#             facilitator double told to misbehave (x402-core/tests/vectors/paywall.json),
#             concurrency, restarts, handler failures, the deferred route, the
#             metered route (batch-settlement on EVM: a deposit and its vouchers,
#             x402-core/tests/vectors/batch-settlement-paywall.json)
#   mcp       paid MCP tools (paywire/mcp): this package's paying client and
#             Cloudflare's (agents) against this package's paid tool and
#             Cloudflare's, over stdio and Streamable HTTP; the facilitator-failure
#             table as tool results; one in a Worker (workerd, Durable Object)
#   chromium  the web build in headless Chromium
#   consumer  the packed tarball installed with npm in a fresh directory, and
#             imported from there by Node, the example Worker in workerd and
#             a page in headless Chromium
#
#   scripts/test-wasm.sh                   install what is missing, build, test all
#   scripts/test-wasm.sh node workerd      only these runtimes
#   SKIP_INSTALL=1 scripts/test-wasm.sh    assume the tools are present
#
# Every server a test starts listens on 127.0.0.1 only and is stopped by its PID
# when its test ends; each runtime's run is bounded by `timeout` as well.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ -z "${SKIP_INSTALL:-}" ]; then
  scripts/install-wasm.sh
  # Hono, the MCP SDK and Cloudflare's agents: the repository's test tools.
  scripts/install-js.sh
fi
SKIP_INSTALL=1 x402-wasm/build.sh

# The package as it ships: npm pack, then the tarball's contents installed as
# x402-wasm/node_modules/paywire (a copy: the tests import the package by its
# name, through its package.json `exports`, from what was packed); the
# `consumer` runtime installs the tarball with npm outside the repository.
pack_dir=$(mktemp -d "${TMPDIR:-/tmp}/paywire-pack.XXXXXX")
trap 'rm -rf "$pack_dir"' EXIT
(cd x402-wasm/pkg && npm pack --silent --pack-destination "$pack_dir" >/dev/null)
export PAYWIRE_TARBALL
PAYWIRE_TARBALL=$(ls "$pack_dir"/paywire-*.tgz)
echo "packed $(basename "$PAYWIRE_TARBALL") ($(wc -c <"$PAYWIRE_TARBALL") bytes)"
rm -rf x402-wasm/node_modules/paywire x402-wasm/node_modules/x402-wasm
mkdir -p x402-wasm/node_modules/paywire
tar -xzf "$PAYWIRE_TARBALL" -C x402-wasm/node_modules/paywire --strip-components=1

runtimes=("$@")
[ ${#runtimes[@]} -gt 0 ] || runtimes=(node workerd paywall mcp chromium consumer)

# A stopped run takes its process group with it (the test runner and anything
# it started); the tests themselves stop their servers by PID.
pgid_cleanup() { [ -n "${runner:-}" ] && kill -- "-$runner" 2>/dev/null || true; }
trap 'pgid_cleanup; rm -rf "$pack_dir"' EXIT INT TERM

cd "$root/x402-wasm/tests"
for runtime in "${runtimes[@]}"; do
  case "$runtime" in
    node | workerd | paywall | mcp | chromium | consumer) ;;
    *) echo "test-wasm: unknown runtime $runtime (node, workerd, paywall, mcp, chromium, consumer)" >&2; exit 2 ;;
  esac
  printf '\n==> x402-wasm: %s\n' "$runtime"
  setsid timeout --kill-after=10 600 node --test "$runtime"/*.test.mjs &
  runner=$!
  wait "$runner"
  runner=
done
