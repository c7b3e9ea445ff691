#!/usr/bin/env bash
# Instructions per operation, counted by valgrind's callgrind: unlike times, the
# counts do not depend on what else the machine is doing, so the ratios are
# repeatable. Each count is (run with N operations − run with 0) / N.
#
# Two builds of benches/examples/profile_verify: the core on k256 (its
# default), and with its libsecp256k1 backend (feature `libsecp256k1`). Every
# row is divided by libsecp256k1's bare recovery (the C library alone, plus the
# key's Keccak), which both builds carry.
#
#   benches/instructions.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bins=$(mktemp -d)
trap 'rm -rf "$bins"' EXIT
cargo build --quiet --release -p paywire-benches --example profile_verify
cp "$target/release/examples/profile_verify" "$bins/k256"
cargo build --quiet --release -p paywire-benches --example profile_verify --features libsecp256k1
cp "$target/release/examples/profile_verify" "$bins/libsecp256k1"

count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bins/$1" "$2" "$3" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'; }
per() { echo $(( ($(count "$1" "$2" "$n") - $(count "$1" "$2" 0)) / n )); }

# build:mode:label
rows=(
  "k256:decode:decode the PAYMENT-SIGNATURE header (base64, strict JSON, typed view, EIP-55 checks)"
  "libsecp256k1:libsecp256k1:libsecp256k1's bare recovery (\`secp256k1\` 0.33, \`secp256k1_ecdsa_recover\`) + address"
  "k256:k256:k256 0.14's own \`VerifyingKey::recover_from_prehash\` + address"
  "k256:recover:recover the signer, k256 backend (generator tables built once) + address"
  "libsecp256k1:recover:recover the signer, libsecp256k1 backend (\`Signature::from_bytes\` + \`recover\`) + address"
  "k256:header:**verify a v2 header** against the requirements (JSON), start to verdict, k256 backend"
  "libsecp256k1:header:**verify a v2 header** against the requirements (JSON), start to verdict, libsecp256k1 backend"
  "k256:verify:verify a \`POST /verify\` body, start to verdict, k256 backend"
  "libsecp256k1:verify:verify a \`POST /verify\` body, start to verdict, libsecp256k1 backend"
  "k256:sign:sign a digest (RFC 6979), k256 with its basepoint tables (either build: see below)"
  "libsecp256k1:sign-libsecp256k1:sign a digest (RFC 6979), libsecp256k1 (\`sign_ecdsa_recoverable\`)"
)
base=$(per libsecp256k1 libsecp256k1)
printf '| operation | instructions | ÷ libsecp256k1 bare recovery |\n|---|---:|---:|\n'
for row in "${rows[@]}"; do
  IFS=: read -r build mode label <<<"$row"
  if [ "$build:$mode" = "libsecp256k1:libsecp256k1" ]; then v=$base; else v=$(per "$build" "$mode"); fi
  python3 -c "import sys; l,v,b=sys.argv[1],int(sys.argv[2]),int(sys.argv[3]); print(f'| {l} | {v:,} | {v/b:.2f} |')" "$label" "$v" "$base"
done
