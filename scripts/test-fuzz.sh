#!/usr/bin/env bash
# Builds every fuzz target and runs each briefly on its seeds (a smoke run: a
# crash or a failed property fails the script). Nightly with AddressSanitizer
# where a nightly is installed, else stable without a sanitizer.
#
#   scripts/test-fuzz.sh                        every target, FUZZ_SECONDS (default 4) each
#   FUZZ_SECONDS=2 scripts/test-fuzz.sh json_parse amount
#   SKIP_INSTALL=1 scripts/test-fuzz.sh         assume nightly and cargo-fuzz are present
set -euo pipefail
cd "$(dirname "$0")/.."

[ -n "${SKIP_INSTALL:-}" ] || scripts/install-fuzz.sh

if rustup run nightly rustc --version >/dev/null 2>&1; then
  toolchain=(+nightly)
  sanitizer=address
else
  toolchain=()
  sanitizer=none
fi
seconds=${FUZZ_SECONDS:-4}
started=$(date +%s)

cd fuzz
# -a: debug assertions and overflow checks, in the core too.
flags=(-a -s "$sanitizer")
echo "==> cargo ${toolchain[*]} fuzz build ${flags[*]}"
cargo "${toolchain[@]}" fuzz build "${flags[@]}"

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo "${toolchain[@]}" fuzz list)
fi
host=$(rustc "${toolchain[@]}" -vV | sed -n 's/^host: //p')
bin="target/$host/release"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t" "artifacts/$t"
  log="$scratch/$t.log"
  # The built binary directly (as `cargo fuzz run` would, without its rebuild
  # check); new inputs go to the scratch corpus, seeds/ is only read.
  # The facilitator's targets link SQLite's C amalgamation, whose file-local
  # tables AddressSanitizer's one-definition check mistakes for duplicates
  # (one copy of the library is linked); the memory checks stay on.
  if ! ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_odr_violation=0" "$bin/$t" -artifact_prefix="artifacts/$t/" -max_total_time="$seconds" -timeout=20 \
      -print_final_stats=1 "$scratch/$t" "seeds/$t" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz target $t failed (artifact under fuzz/artifacts/$t/)" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  printf '  %-18s ok  %10s runs\n' "$t" "$runs"
done
echo "fuzz smoke run: ${#targets[@]} targets in $(( $(date +%s) - started ))s (sanitizer: $sanitizer)"
