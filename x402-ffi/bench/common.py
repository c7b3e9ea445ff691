"""The benchmark's input and timing, shared by the Python benchmark scripts."""

import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The payment the criterion benchmarks (benches/) use too.
PAYMENT = "v2-exact-eip3009-skips-unsupported-first-accept"


def payment():
    vs = json.loads((ROOT / "x402-core/tests/vectors/official-payments.json").read_text())["vectors"]
    v = next(v for v in vs if v["name"] == PAYMENT)
    body = {
        "x402Version": v["x402Version"],
        "paymentPayload": v["paymentPayload"],
        "paymentRequirements": v["paymentRequirements"],
    }
    return v, json.dumps(body, separators=(",", ":")).encode()


def typed_data(v):
    """The EIP-712 typed data the payer signed, as eth_signTypedData_v4 takes it."""
    req = v["paymentRequirements"]
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "TransferWithAuthorization": [
                {"name": "from", "type": "address"},
                {"name": "to", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "validAfter", "type": "uint256"},
                {"name": "validBefore", "type": "uint256"},
                {"name": "nonce", "type": "bytes32"},
            ],
        },
        "primaryType": "TransferWithAuthorization",
        "domain": {
            "name": req["extra"]["name"],
            "version": req["extra"]["version"],
            "chainId": int(req["network"].split(":")[1]),
            "verifyingContract": req["asset"],
        },
        "message": v["paymentPayload"]["payload"]["authorization"],
    }


def measure(fn, samples=30, min_sample_s=0.02):
    """µs per call of fn: (min, median) over `samples` samples of n calls each,
    n chosen so that one sample lasts about min_sample_s."""
    for _ in range(3):
        fn()
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t >= min_sample_s:
            break
        n *= 2
    per_op = []
    for _ in range(samples):
        t = time.perf_counter_ns()
        for _ in range(n):
            fn()
        per_op.append((time.perf_counter_ns() - t) / n / 1000)
    per_op.sort()
    return {"min_us": per_op[0], "median_us": per_op[len(per_op) // 2], "calls_per_sample": n,
            "samples": samples}
