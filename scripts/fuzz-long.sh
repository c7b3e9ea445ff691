#!/usr/bin/env bash
# Runs fuzz targets for longer, one after the other, keeping each target's
# corpus in fuzz/corpus/<target> (so runs build on each other), and prints per
# target: seconds run, executions, coverage (cov, ft from libFuzzer's final
# stats line), corpus size and crashes (artifacts under fuzz/artifacts/<target>).
#
#   scripts/fuzz-long.sh [seconds per target, default 600] [targets...]
#   nice -n 19 scripts/fuzz-long.sh 900 verify_body payment_mutation
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
[ $# -gt 0 ] && shift
[ -n "${SKIP_INSTALL:-}" ] || scripts/install-fuzz.sh

if rustup run nightly rustc --version >/dev/null 2>&1; then
  toolchain=(+nightly)
  sanitizer=address
else
  toolchain=()
  sanitizer=none
fi
flags=(-a -s "$sanitizer")

cd fuzz
cargo "${toolchain[@]}" fuzz build "${flags[@]}"
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo "${toolchain[@]}" fuzz list)
fi
mkdir -p logs
results=()
# SQLite's C amalgamation (the facilitator's targets) trips AddressSanitizer's
# one-definition check with file-local tables; the memory checks stay on.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_odr_violation=0"
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  before=$(find "artifacts/$t" -type f | wc -l)
  log="logs/$t.log"
  start=$(date +%s)
  status=0
  cargo "${toolchain[@]}" fuzz run "${flags[@]}" "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -timeout=20 -print_final_stats=1 >"$log" 2>&1 || status=$?
  took=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p' <<<"$last")
  crashes=$(( $(find "artifacts/$t" -type f | wc -l) - before ))
  [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes="exit $status"
  results+=("$(printf '%-18s %7ss %12s %7s %7s %12s %8s' "$t" "$took" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes")")
  echo "${results[-1]}"
done
echo
printf '%-18s %8s %12s %7s %7s %12s %8s\n' target time execs cov ft corpus crashes
printf '%s\n' "${results[@]}"
echo "(logs in fuzz/logs/)"
