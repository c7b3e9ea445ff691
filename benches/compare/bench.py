"""The Python side of benches/compare, one JSON line per row: eth-account
recovering the payment's EIP-712 signature, or (with `official`) the official
x402 package's facilitator verify over a faked healthy chain. The eth_keys
backend (native or coincurve) is chosen by ECC_BACKEND_CLASS. Timed as the
native and Node sides time theirs (30 samples of at least 20 ms; µs per call,
min and median).

    python bench.py eth-account | python bench.py official
"""

import json
import sys
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAYMENT = "v2-exact-eip3009-skips-unsupported-first-accept"

vectors = json.loads((ROOT / "x402-core/tests/vectors/official-payments.json").read_text())["vectors"]
v = next(x for x in vectors if x["name"] == PAYMENT)
req = v["paymentRequirements"]
auth = v["paymentPayload"]["payload"]["authorization"]
sig = v["paymentPayload"]["payload"]["signature"]
body = json.dumps(
    {"x402Version": v["x402Version"], "paymentPayload": v["paymentPayload"], "paymentRequirements": req},
    separators=(",", ":"),
).encode()


def measure(fn, samples=30, min_sample_s=0.02):
    for _ in range(3):
        assert fn()
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
    return {"min_us": per_op[0], "median_us": per_op[len(per_op) // 2]}


def emit(impl, op, what, fn):
    print(json.dumps({"impl": impl, "op": op, "what": what, **measure(fn)}), flush=True)


from eth_keys import KeyAPI  # noqa: E402

backend = {"NativeECCBackend": "native", "CoinCurveECCBackend": "coincurve"}.get(
    type(KeyAPI().backend).__name__, type(KeyAPI().backend).__name__
)
python = "Python " + sys.version.split()[0]

if sys.argv[1] == "eth-account":
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    typed = {
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
        "message": auth,
    }
    emit(
        f"eth-account {version('eth-account')} ({backend}) in {python}",
        "signature",
        "Account.recover_message(encode_typed_data(full_message=...)) (typed data dict)",
        lambda: Account.recover_message(encode_typed_data(full_message=typed), signature=sig) == v["payer"],
    )
else:
    from x402 import x402FacilitatorSync
    from x402.mechanisms.evm.exact import register_exact_evm_facilitator
    from x402.schemas import parse_payment_payload, parse_payment_requirements

    asset = req["asset"].lower()

    class FakeChain:
        """What verify asks of the chain, answered as a healthy chain would."""

        def get_addresses(self):
            return ["0xfac11174700000000000000000000000000000fa"]

        def get_code(self, address):
            # The token is a contract; the payer is an EOA (so the signature is recovered).
            return b"\x60\x80" if address.lower() == asset else b""

        def read_contract(self, address, abi, function_name, *args):
            return None  # the simulated transferWithAuthorization does not revert

        def get_balance(self, address, token_address):
            return 10**30

        def get_chain_id(self):
            return int(req["network"].split(":")[1])

        def verify_typed_data(self, *a, **k):
            raise AssertionError("not used on the EOA path")

    facilitator = x402FacilitatorSync()
    register_exact_evm_facilitator(facilitator, FakeChain(), networks=[req["network"]])
    time.time = lambda: v["now"]  # the package reads the clock: the payment's time

    def verify():
        b = json.loads(body)
        p = parse_payment_payload(b["paymentPayload"])
        r = parse_payment_requirements(b["x402Version"], b["paymentRequirements"])
        return facilitator.verify(p, r).is_valid

    emit(
        f"official x402 {version('x402')} ({backend}) in {python}",
        "verify",
        "facilitator.verify of the parsed body over a faked healthy chain",
        verify,
    )
