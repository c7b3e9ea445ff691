#!/usr/bin/env bash
# batch-settlement voucher verification, this crate against the official
# TypeScript resource server (a benchmark, not a test): the same 64 vouchers
# (one per channel, each with a payer authorizer, made by this crate's client
# with fixed keys by benches/examples/batch_vouchers.rs) verified against the
# same channel state by
#   - this crate natively (release): parse the PaymentPayload, verify it
#     against the channel state, check the cumulative amount;
#   - @x402/evm 2.27.0's batch-settlement server in Node (official.mjs): its
#     onBeforeVerify hook, and x402ResourceServer.verifyPayment,
# in one run, each timed the same way (30 samples of at least 20 ms; µs per
# call, min and median). Prints vouchers per second and the ratios.
#
#   benches/batch/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

results=$(mktemp)
vouchers=$(mktemp)
trap 'rm -f "$results" "$vouchers"' EXIT
load_start=$(cut -d' ' -f1 /proc/loadavg)

[ -n "${SKIP_INSTALL:-}" ] || "$root/scripts/install-js.sh"
cargo build --release --locked -q -p paywire-benches --example batch_vouchers --manifest-path "$root/Cargo.toml"
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
echo "==> native" >&2
"$target_dir/release/examples/batch_vouchers" "$vouchers" >>"$results"
echo "==> node" >&2
node "$here/official.mjs" "$vouchers" >>"$results"
load_end=$(cut -d' ' -f1 /proc/loadavg)

python3 - "$results" "$load_start" "$load_end" <<'PY'
import json, platform, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
print(f"{cpu}, {len(open('/proc/cpuinfo').read().split('processor')) - 1} cores; load average {sys.argv[2]} at the start, {sys.argv[3]} at the end")
print()
print("| implementation | what is timed | min µs | median µs | vouchers/s (median) | ÷ paywire (min / median) |")
print("|---|---|---:|---:|---:|---:|")
base = rows[0]
for r in rows:
    print(f"| {r['impl']} | {r['what']} | {r['min_us']:.1f} | {r['median_us']:.1f} | {1e6 / r['median_us']:.0f} | "
          f"{r['min_us'] / base['min_us']:.1f} / {r['median_us'] / base['median_us']:.1f} |")
PY
