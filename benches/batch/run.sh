#!/usr/bin/env bash
# batch-settlement voucher verification, this crate against the official
# TypeScript resource server (a benchmark, not a test): the same 64 vouchers
# (one per channel, each with a payer authorizer, made by this crate's client
# with fixed keys by benches/examples/batch_vouchers.rs) verified against the
# same channel state by
#   - this crate natively (release, with k256 and with libsecp256k1): parse
#     the PaymentPayload, verify it against the channel state, check the
#     cumulative amount; and the resource server's path, server::decide;
#   - @x402/evm 2.27.0's batch-settlement server in Node (official.mjs): its
#     onBeforeVerify hook, and x402ResourceServer.verifyPayment,
# in one run, each timed the same way (30 samples of at least 20 ms; µs per
# call, min and median). Prints vouchers per second and the ratios, and, when
# valgrind is installed, this crate's instructions per voucher (callgrind:
# 200 calls less none; they do not depend on the machine's load).
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
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
# The core with its libsecp256k1 backend (as the command line and the C
# library build it) first, kept aside; then the default (k256) build.
cargo build --release --locked -q -p paywire-benches --features libsecp256k1 --example batch_vouchers --manifest-path "$root/Cargo.toml"
libsecp=$(mktemp)
trap 'rm -f "$results" "$vouchers" "$libsecp"' EXIT
cp "$target_dir/release/examples/batch_vouchers" "$libsecp"
chmod +x "$libsecp"
cargo build --release --locked -q -p paywire-benches --example batch_vouchers --manifest-path "$root/Cargo.toml"
echo "==> native" >&2
"$target_dir/release/examples/batch_vouchers" "$vouchers" >>"$results"
"$libsecp" "$vouchers" | sed 's/"paywire (native, release)"/"paywire (native, release, libsecp256k1)"/' >>"$results"
echo "==> node" >&2
node "$here/official.mjs" "$vouchers" >>"$results"
load_end=$(cut -d' ' -f1 /proc/loadavg)

instructions=""
if command -v valgrind >/dev/null; then
  count() {
    BATCH_VOUCHERS_PATH=$1 BATCH_VOUCHERS_CALLS=$2 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
      "$target_dir/release/examples/batch_vouchers" "$vouchers" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
  }
  none=$(count verify 0)
  instructions="verify $(( ($(count verify 200) - none) / 200 )) decide $(( ($(count decide 200) - none) / 200 ))"
fi

python3 - "$results" "$load_start" "$load_end" "$instructions" <<'PY'
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
if sys.argv[4]:
    w = sys.argv[4].split()
    print()
    print(f"paywire instructions per voucher (callgrind): verify path {int(w[1]):,}, decide path {int(w[3]):,}")
PY
