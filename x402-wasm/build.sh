#!/usr/bin/env bash
# Builds the npm package `paywire` (from the crate paywire-wasm).
#
#   x402-wasm/build.sh [OUT_DIR]        default OUT_DIR: x402-wasm/pkg
#   SKIP_INSTALL=1 x402-wasm/build.sh   assume the tools are present
#
# Three flavours of the module, each with its glue and entry points:
#   .      `paywire`          x402 payments (EVM exact and upto, v1 and v2, headers,
#                             EIP-712), secp256k1 on k256; held to a budget of
#                             100 KiB (gzipped)
#   fast/  `paywire/fast`     the same API, with public-key recovery and signing
#                             through libsecp256k1 (C, compiled by clang for
#                             wasm32): verification about 1.7 times faster;
#                             held to a 132 KiB budget
#   full/  `paywire/full`     everything, on libsecp256k1 as `fast`: the same,
#                             plus PaymentLifecycle, ChainMachine and
#                             batch-settlement on cloudflare:402 (RFC 9421 HTTP
#                             Message Signatures, Ed25519); no budget
# For each: cargo (wasm32, profile release-small) -> wasm-bindgen --target web ->
# wasm-opt -Oz (binaryen from npm) -> entry points for Node, browsers and workerd.
# Then package.json, README and the sizes (raw, wasm-opt'd, gzipped) in SIZES.txt.
# Each module's imports are checked (wasm-bindgen's only: a libc import would
# break workerd), and so is which secp256k1 it carries.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:-$here/pkg}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Bytes, gzipped, of each flavour's module (build_module's second argument).
budget_default=102400 # 100 KiB
budget_fast=135168    # 132 KiB

[ -n "${SKIP_INSTALL:-}" ] || "$root/scripts/install-wasm.sh"
cd "$root"

# A clean directory, built beside the final one and swapped in at the end.
stage=$(mktemp -d "$out.build.XXXXXX")
chmod 755 "$stage"
trap 'rm -rf "$stage"' EXIT

if [ -n "${RUSTFLAGS:-}${CARGO_ENCODED_RUSTFLAGS:-}" ]; then
  echo "build: RUSTFLAGS is set, so cargo ignores the wasm32 target's flags (cpubits=32)" >&2
fi

# libsecp256k1 for wasm32 (the fast and full flavours), compiled by the `cc`
# crate with Debian's clang and llvm-ar (scripts/install-wasm.sh installs them).
# - USE_FORCE_WIDEMUL_INT64: 32-bit limbs with 64-bit products (10x26 field,
#   8x32 scalar), the native i64.mul; clang would otherwise pick 5x52 limbs
#   with 128-bit products, each a call to a software routine.
# - ECMULT_WINDOW_SIZE=8: the `lowmemory` feature (the wasm crate's dependency)
#   sets 4 for the generator's tables of recovery; 8 (two tables of 64 points,
#   8 KB) makes a recovery about 10 % faster for 7 KB gzipped. The later
#   definition wins (cc puts CFLAGS last), hence -Wno-macro-redefined.
# - The C code is compiled at the profile's opt-level ("s": clang -Os): -O3 was
#   measured at 1-2 % faster recovery for 7 KB more gzipped.
for tool in clang llvm-ar; do
  if ! command -v "${tool}" >/dev/null 2>&1; then
    echo "build: $tool is needed for libsecp256k1 in wasm32 (apt-get install clang llvm; scripts/install-wasm.sh does it)" >&2
    exit 1
  fi
done
export CC_wasm32_unknown_unknown=${CC_wasm32_unknown_unknown:-clang}
export AR_wasm32_unknown_unknown=${AR_wasm32_unknown_unknown:-llvm-ar}
export CFLAGS_wasm32_unknown_unknown="-DUSE_FORCE_WIDEMUL_INT64 -DECMULT_WINDOW_SIZE=8 -Wno-macro-redefined${CFLAGS_wasm32_unknown_unknown:+ $CFLAGS_wasm32_unknown_unknown}"

sizes=""
budgets=()
# build_module DIR BUDGET SECP256K1 CARGO_FEATURE_ARGS...
#   BUDGET     bytes (gzipped) the module may take, or "" for none
#   SECP256K1  libsecp256k1 or k256: which one recovers, checked in the module
build_module() {
  local dir=$1 module_budget=$2 backend=$3
  shift 3
  mkdir -p "$dir"
  # Build settings of the package, passed here rather than kept in a profile:
  # - k256 and crypto-bigint pick 64-bit limbs on wasm32, where every 64x64-bit
  #   multiply becomes a 128-bit software routine; their 32-bit backends use the
  #   native i64.mul instead: 40 KB less code and about 1.7x faster.
  # - Keccak at opt-level 3 (the rest at "s"): hashing twice as fast for 1 KB.
  cargo build -p paywire-wasm --lib --target wasm32-unknown-unknown --profile release-small --locked \
    --config 'target.wasm32-unknown-unknown.rustflags = ["--cfg", "cpubits=\"32\""]' \
    --config 'profile.release-small.package.sha3.opt-level = 3' \
    --config 'profile.release-small.package.keccak.opt-level = 3' \
    "$@"
  local raw="${CARGO_TARGET_DIR:-$root/target}/wasm32-unknown-unknown/release-small/paywire_wasm.wasm"

  # Only wasm-bindgen's imports (libsecp256k1 must bring none: no libc), and
  # the backend asked for (the module still has its function names here).
  node --input-type=module -e '
    import { readFileSync } from "node:fs";
    const [file, backend] = process.argv.slice(1);
    const bytes = readFileSync(file);
    const mod = new WebAssembly.Module(bytes);
    const bad = WebAssembly.Module.imports(mod)
      .filter((i) => !i.module.startsWith("__wbindgen_"))
      .map((i) => `${i.module}.${i.name}`);
    if (bad.length) throw new Error(`unexpected imports: ${bad.join(", ")}`);
    const hasLib = bytes.includes("secp256k1_v0_14_ecdsa_recover");
    if (hasLib !== (backend === "libsecp256k1")) throw new Error(`expected ${backend}, libsecp256k1 is ${hasLib ? "present" : "absent"}`);
  ' "$raw" "$backend" || { echo "build: $dir: the module is not what it should be" >&2; exit 1; }

  wasm-bindgen --target web --out-dir "$dir" --out-name paywire_wasm "$raw"
  local bindgen_size
  bindgen_size=$(wc -c <"$dir/paywire_wasm_bg.wasm")

  # binaryen from npm (132): Debian's wasm-opt 108 rewrites wasm-bindgen's
  # externref table as anyref, which engines then refuse. The Rust target emits
  # these post-MVP features, which wasm-opt must be told about.
  "$here/node_modules/.bin/wasm-opt" -Oz --converge \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$dir/paywire_wasm_bg.wasm" -o "$dir/paywire_wasm_bg.opt.wasm"
  mv "$dir/paywire_wasm_bg.opt.wasm" "$dir/paywire_wasm_bg.wasm"

  cat >"$dir/node.mjs" <<'EOF'
// Node entry point: instantiates the module synchronously from the file beside
// this one, so that every export is ready on import.
import { readFileSync } from "node:fs";
import { initSync } from "./paywire_wasm.js";

initSync({ module: readFileSync(new URL("./paywire_wasm_bg.wasm", import.meta.url)) });

export * from "./paywire_wasm.js";
export { default } from "./paywire_wasm.js";
EOF

  cat >"$dir/workerd.mjs" <<'EOF'
// Cloudflare Workers (workerd) entry point: the runtime compiles the .wasm import
// into a WebAssembly.Module at deploy time; it is instantiated synchronously here.
import wasmModule from "./paywire_wasm_bg.wasm";
import { initSync } from "./paywire_wasm.js";

initSync({ module: wasmModule });

export * from "./paywire_wasm.js";
export { default } from "./paywire_wasm.js";
EOF

  local name=${dir#"$stage"}
  name=${name#/}
  budgets+=("${name:-.}/paywire_wasm_bg.wasm $module_budget")
  sizes+="${name:-.}/paywire_wasm_bg.wasm, in bytes (secp256k1: $backend)
  cargo (release-small):     $(wc -c <"$raw")
  after wasm-bindgen:        $bindgen_size
  after wasm-opt -Oz:        $(wc -c <"$dir/paywire_wasm_bg.wasm")
  gzip -9 of the above:      $(gzip -9 -c "$dir/paywire_wasm_bg.wasm" | wc -c)
${name:-.}/paywire_wasm.js (glue), gzip -9: $(gzip -9 -c "$dir/paywire_wasm.js" | wc -c)
"
}

build_module "$stage" "$budget_default" k256 --no-default-features
build_module "$stage/fast" "$budget_fast" libsecp256k1 --no-default-features --features libsecp256k1,gas-sponsoring
build_module "$stage/full" "" libsecp256k1 --features libsecp256k1 # everything

# The flavours, for each runtime: `paywire`, `paywire/fast` and `paywire/full`.
entry() {
  local d=$1
  cat <<EOF
{
      "types": "./${d}paywire_wasm.d.ts",
      "workerd": "./${d}workerd.mjs",
      "node": "./${d}node.mjs",
      "browser": "./${d}paywire_wasm.js",
      "default": "./${d}paywire_wasm.js"
    }
EOF
}
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$root/Cargo.toml")
cat >"$stage/package.json" <<EOF
{
  "name": "paywire",
  "version": "$version",
  "description": "The x402 payment protocol (HTTP 402) in WebAssembly: verify and create payments in Cloudflare Workers, browsers and Node.",
  "license": "MIT OR Apache-2.0",
  "keywords": ["x402", "http-402", "payments", "eip-3009", "permit2", "cloudflare-workers", "wasm"],
  "type": "module",
  "main": "./node.mjs",
  "module": "./paywire_wasm.js",
  "types": "./paywire_wasm.d.ts",
  "exports": {
    ".": $(entry ""),
    "./fast": $(entry "fast/"),
    "./full": $(entry "full/"),
    "./web": {
      "types": "./paywire_wasm.d.ts",
      "default": "./paywire_wasm.js"
    },
    "./fast/web": {
      "types": "./fast/paywire_wasm.d.ts",
      "default": "./fast/paywire_wasm.js"
    },
    "./full/web": {
      "types": "./full/paywire_wasm.d.ts",
      "default": "./full/paywire_wasm.js"
    },
    "./paywall": {
      "types": "./paywall.d.ts",
      "default": "./paywall.mjs"
    },
    "./durable-object": {
      "types": "./durable-object.d.ts",
      "default": "./durable-object.mjs"
    },
    "./hono": {
      "types": "./hono.d.ts",
      "default": "./hono.mjs"
    },
    "./fetch": {
      "types": "./fetch.d.ts",
      "default": "./fetch.mjs"
    },
    "./mcp": {
      "types": "./mcp.d.ts",
      "default": "./mcp.mjs"
    },
    "./paywire_wasm_bg.wasm": "./paywire_wasm_bg.wasm",
    "./fast/paywire_wasm_bg.wasm": "./fast/paywire_wasm_bg.wasm",
    "./full/paywire_wasm_bg.wasm": "./full/paywire_wasm_bg.wasm",
    "./package.json": "./package.json"
  },
  "files": [
    "paywire_wasm.js",
    "paywire_wasm.d.ts",
    "paywire_wasm_bg.wasm",
    "paywire_wasm_bg.wasm.d.ts",
    "node.mjs",
    "workerd.mjs",
    "fast/",
    "full/",
    "paywall.mjs",
    "paywall.d.ts",
    "durable-object.mjs",
    "durable-object.d.ts",
    "hono.mjs",
    "hono.d.ts",
    "fetch.mjs",
    "fetch.d.ts",
    "mcp.mjs",
    "mcp.d.ts",
    "README.md",
    "SIZES.txt",
    "LICENSE-MIT",
    "LICENSE-APACHE"
  ],
  "sideEffects": ["./node.mjs", "./workerd.mjs", "./fast/node.mjs", "./fast/workerd.mjs", "./full/node.mjs", "./full/workerd.mjs"],
  "engines": {
    "node": ">=20"
  }
}
EOF
cp "$here/README.md" "$stage/README.md"
# The paywall, the Durable Object record store, the Hono middleware, the
# paying fetch and the paid MCP tools: plain modules over whichever flavour the host imports.
cp "$here"/js/*.mjs "$here"/js/*.d.ts "$stage/"
cp "$root/LICENSE-MIT" "$root/LICENSE-APACHE" "$stage/"
printf '%s' "$sizes" >"$stage/SIZES.txt"

rm -rf "$out.old"
[ -d "$out" ] && mv "$out" "$out.old"
mv "$stage" "$out"
rm -rf "$out.old"
trap - EXIT
cat "$out/SIZES.txt"
over=0
for entry in "${budgets[@]}"; do
  read -r module module_budget <<<"$entry"
  [ -n "$module_budget" ] || continue
  gz_size=$(gzip -9 -c "$out/$module" | wc -c)
  if [ "$gz_size" -gt "$module_budget" ]; then
    echo "build: $module gzipped ($gz_size bytes) is over its budget ($module_budget bytes)" >&2
    over=1
  fi
done
exit "$over"
