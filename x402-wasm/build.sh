#!/usr/bin/env bash
# Builds the npm package `paywire` (from the crate paywire-wasm).
#
#   x402-wasm/build.sh [OUT_DIR]        default OUT_DIR: x402-wasm/pkg
#   SKIP_INSTALL=1 x402-wasm/build.sh   assume the tools are present
#
# Two flavours of the module, each with its glue and entry points:
#   .      `paywire`          x402 payments (EVM exact and upto, v1 and v2, headers,
#                             EIP-712); held to the 100 KiB (gzipped) budget
#   full/  `paywire/full`     the crate with its default features: the same, plus
#                             batch-settlement on cloudflare:402 (RFC 9421 HTTP
#                             Message Signatures, Ed25519), and whatever else
#                             is too large for the budget
# For each: cargo (wasm32, profile release-small) -> wasm-bindgen --target web ->
# wasm-opt -Oz (binaryen from npm) -> entry points for Node, browsers and workerd.
# Then package.json, README and the sizes (raw, wasm-opt'd, gzipped) in SIZES.txt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:-$here/pkg}
mkdir -p "$out"
out=$(cd "$out" && pwd)
budget=102400 # bytes, gzipped, of the default flavour's module

[ -n "${SKIP_INSTALL:-}" ] || "$root/scripts/install-wasm.sh"
cd "$root"

# A clean directory, built beside the final one and swapped in at the end.
stage=$(mktemp -d "$out.build.XXXXXX")
chmod 755 "$stage"
trap 'rm -rf "$stage"' EXIT

if [ -n "${RUSTFLAGS:-}${CARGO_ENCODED_RUSTFLAGS:-}" ]; then
  echo "build: RUSTFLAGS is set, so cargo ignores the wasm32 target's flags (cpubits=32)" >&2
fi

sizes=""
# build_module DIR CARGO_FEATURE_ARGS...
build_module() {
  local dir=$1
  shift
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
  sizes+="${name:-.}/paywire_wasm_bg.wasm, in bytes
  cargo (release-small):     $(wc -c <"$raw")
  after wasm-bindgen:        $bindgen_size
  after wasm-opt -Oz:        $(wc -c <"$dir/paywire_wasm_bg.wasm")
  gzip -9 of the above:      $(gzip -9 -c "$dir/paywire_wasm_bg.wasm" | wc -c)
${name:-.}/paywire_wasm.js (glue), gzip -9: $(gzip -9 -c "$dir/paywire_wasm.js" | wc -c)
"
}

build_module "$stage" --no-default-features
build_module "$stage/full" # the default features: everything

# Both flavours, for each runtime: `paywire` and `paywire/full`.
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
    "./full": $(entry "full/"),
    "./web": {
      "types": "./paywire_wasm.d.ts",
      "default": "./paywire_wasm.js"
    },
    "./full/web": {
      "types": "./full/paywire_wasm.d.ts",
      "default": "./full/paywire_wasm.js"
    },
    "./paywire_wasm_bg.wasm": "./paywire_wasm_bg.wasm",
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
    "full/",
    "README.md",
    "SIZES.txt",
    "LICENSE-MIT",
    "LICENSE-APACHE"
  ],
  "sideEffects": ["./node.mjs", "./workerd.mjs", "./full/node.mjs", "./full/workerd.mjs"],
  "engines": {
    "node": ">=20"
  }
}
EOF
cp "$here/README.md" "$stage/README.md"
cp "$root/LICENSE-MIT" "$root/LICENSE-APACHE" "$stage/"
printf '%s' "$sizes" >"$stage/SIZES.txt"

rm -rf "$out.old"
[ -d "$out" ] && mv "$out" "$out.old"
mv "$stage" "$out"
rm -rf "$out.old"
trap - EXIT
cat "$out/SIZES.txt"
gz_size=$(gzip -9 -c "$out/paywire_wasm_bg.wasm" | wc -c)
if [ "$gz_size" -gt "$budget" ]; then
  echo "build: the gzipped module ($gz_size bytes) is over the 100 KiB budget" >&2
  exit 1
fi
