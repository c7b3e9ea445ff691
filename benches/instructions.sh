#!/usr/bin/env bash
# Instructions per operation, counted by valgrind's callgrind: unlike times, the
# counts do not depend on what else the machine is doing, so the ratios are
# repeatable. Each count is (run with N operations − run with 0) / N.
#
#   benches/instructions.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
cargo build --quiet --release -p paywire-benches --example profile_verify
bin=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/examples/profile_verify
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'; }
declare -A per
for mode in decode recover k256 libsecp256k1 header verify; do
  base=$(count "$mode" 0)
  total=$(count "$mode" "$n")
  per[$mode]=$(( (total - base) / n ))
done
printf '| operation | instructions | ÷ this crate'"'"'s recovery | ÷ libsecp256k1 recovery |\n|---|---:|---:|---:|\n'
for mode in decode recover k256 libsecp256k1 header verify; do
  python3 -c "import sys; m,v,r,l=sys.argv[1],int(sys.argv[2]),int(sys.argv[3]),int(sys.argv[4]); print(f'| {m} | {v:,} | {v/r:.2f} | {v/l:.2f} |')" \
    "$mode" "${per[$mode]}" "${per[recover]}" "${per[libsecp256k1]}"
done
