"""Writes the benchmark's results into benches/README.md, section
"FFI: Go and Python" (the section only; the rest of the file is kept)."""

import datetime
import json
import platform
import re
import sys
from pathlib import Path

HEADING = "## FFI: Go and Python"


def cpu():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main(results_path, readme_path, versions):
    rows = [json.loads(l) for l in Path(results_path).read_text().splitlines() if l.strip()]
    base_verify = next(r for r in rows if r["name"] == "x402 via Python ctypes" and r["what"].startswith("verify"))
    base_recover = next(r for r in rows if r["name"] == "x402 via Python ctypes" and "recover" in r["what"])
    body_bytes = next(r["body_bytes"] for r in rows if "body_bytes" in r)
    lines = [
        HEADING,
        "",
        f"One run of `x402-ffi/bench/run.sh` on {datetime.date.today().isoformat()}: {cpu()}, "
        f"{versions}. The payment: `v2-exact-eip3009-skips-unsupported-first-accept` "
        f"from `x402-core/tests/vectors/official-payments.json` (v2, `exact`, EIP-3009 on Base Sepolia; "
        f"its `POST /verify` body is {body_bytes} bytes of compact JSON), the one the criterion benches use. "
        "Each figure is µs per call over 30 samples of about 20 ms each (min and median). "
        "The x402 rows use the release `libpaywire` (Go links `libpaywire.a`, Python loads `libpaywire.so`).",
        "",
        "| implementation | operation | min µs | median µs | median ÷ x402 (ctypes), same operation |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        base = base_recover if "recover" in r["what"] else base_verify
        ratio = r["median_us"] / base["median_us"]
        lines.append(f"| {r['name']} | {r['what']} | {r['min_us']:.1f} | {r['median_us']:.1f} | {ratio:.2f} |")
    lines += [
        "",
        "- *verify* is the whole offline verification of a `POST /verify` body: JSON parsing, "
        "EIP-712 hashing, secp256k1 recovery, every check, and the VerifyResponse back into the host language.",
        "- *digest + recover* is the signature part alone, from the typed data the payer signed.",
        "- The official package's verify runs with its `FacilitatorEvmSigner` faked as a healthy chain "
        "(`get_code` answers code for the token and none for the payer, an EOA, so it recovers the "
        "signature with eth_keys; the simulated "
        "`transferWithAuthorization` succeeds) and its clock pinned to the payment's time; "
        "a real deployment adds the RPC round trips of `eth_getCode` and the simulation.",
        "- eth_keys picks coincurve when it is installed; the rows force each backend with `ECC_BACKEND_CLASS`.",
        "- The machine's 2 cores are shared with other work: read the ratios, not the last digit.",
        "",
    ]
    section = "\n".join(lines)
    p = Path(readme_path)
    text = p.read_text() if p.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    p.write_text(text.rstrip("\n") + "\n")
    print(section)


if __name__ == "__main__":
    main(*sys.argv[1:4])
