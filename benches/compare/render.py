"""Renders the JSON lines of benches/compare/run.sh as a table (printed), and
writes it into the section "Cross-implementation comparison" of
benches/README.md when a README path is given.

    python3 render.py RESULTS LOAD_START LOAD_END [README]
"""

import datetime
import json
import os
import platform
import re
import sys
from pathlib import Path

HEADING = "## Cross-implementation comparison"
OPS = {
    "verify": "full verification of the `POST /verify` body",
    "signature": "signature part alone: EIP-712 digest + recovery",
}


def cpu():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return re.sub(r"\s+", " ", line.split(":", 1)[1]).strip()
    return platform.processor() or "unknown CPU"


def main():
    results_path, load_start, load_end = sys.argv[1:4]
    readme = Path(sys.argv[4]) if len(sys.argv) > 4 else None
    rows = [json.loads(l) for l in Path(results_path).read_text().splitlines() if l.strip()]
    native = {r["op"]: r for r in rows if r["impl"].startswith("paywire (native")}

    table = [
        "| operation | implementation | what is timed | min µs | median µs | ÷ paywire native (min / median) |",
        "|---|---|---|---:|---:|---:|",
    ]
    for op in OPS:
        base = native.get(op)
        for r in (r for r in rows if r["op"] == op):
            ratio = (
                f"{r['min_us'] / base['min_us']:.1f} / {r['median_us'] / base['median_us']:.1f}"
                if base
                else "n/a"
            )
            if r is base:
                ratio = "1 / 1"
            table.append(
                f"| {OPS[op]} | {r['impl']} | {r['what']} | {r['min_us']:.1f} | {r['median_us']:.1f} | {ratio} |"
            )
    today = datetime.date.today().isoformat()
    machine = f"{cpu()}, {os.cpu_count()} cores shared with other work, Linux {platform.release()}"
    text = "\n".join(
        [
            HEADING,
            "",
            f"One run of `benches/compare/run.sh` on {today}: {machine}; 1-minute load average "
            f"{load_start} at the start, {load_end} at the end. Every implementation verifies the same "
            "payment, `v2-exact-eip3009-skips-unsupported-first-accept` of "
            "`x402-core/tests/vectors/official-payments.json` (v2, `exact`, EIP-3009 on Base Sepolia, made by "
            "the official client), at its own `now`, and is timed the same way: 30 samples of at least 20 ms, "
            "µs per call, min and median.",
            "",
            *table,
            "",
            "- *Full verification* starts from the `POST /verify` body as text (parsed by each "
            "implementation: `JSON.parse`, `json.loads` plus the official package's models, this crate's strict "
            "reader) and ends with the verdict. The official facilitators run over a fake healthy chain (code at "
            "the token, none at the payer, so the signature is recovered as an EOA's; the simulated "
            "`transferWithAuthorization` succeeds), with their clocks pinned to the payment's time; a real "
            "deployment adds the RPC round trips.",
            "- *Signature part* is the EIP-712 digest and the recovery from the typed data the payer signed "
            "(viem's `verifyTypedData` also compares the address).",
            "- eth_keys picks coincurve (libsecp256k1) when installed; the rows force each backend with "
            "`ECC_BACKEND_CLASS`.",
            "- The cores were shared with other work during the run: read the ratios, and the minima before "
            "the medians, not the last digit.",
            "",
        ]
    )
    print(text)
    if readme is None:
        return
    old = readme.read_text() if readme.exists() else "# Benchmarks\n"
    start = old.find(HEADING)
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        nxt = old.find("\n## ", start + len(HEADING))
        rest = old[nxt + 1 :] if nxt >= 0 else ""
        new = old[:start] + text + ("\n" + rest if rest else "")
    readme.write_text(new)
    print(f"written to {readme}", file=sys.stderr)


if __name__ == "__main__":
    main()
