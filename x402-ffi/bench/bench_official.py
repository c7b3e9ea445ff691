"""The official x402 Python package's facilitator verify (exact, EIP-3009),
offline: its FacilitatorEvmSigner is faked as a healthy chain (no contract
code at the payer, so the EOA path recovers the signature with eth_keys;
the transferWithAuthorization simulation succeeds). Prints one JSON line."""

import json
import sys

from common import measure, payment

from eth_keys import KeyAPI
from x402 import x402FacilitatorSync
from x402.mechanisms.evm.exact import register_exact_evm_facilitator
from x402.schemas import parse_payment_payload, parse_payment_requirements

FACILITATOR = "0xfac11174700000000000000000000000000000fa"


class FakeChain:
    """What verify asks of the chain, answered as a healthy chain would."""

    def get_addresses(self):
        return [FACILITATOR]

    def get_code(self, address):
        # The token is a contract; the payer is an EOA.
        return b"\x60\x80" if address.lower() == ASSET else b""

    def read_contract(self, address, abi, function_name, *args):
        return None  # the simulated transferWithAuthorization does not revert

    def get_balance(self, address, token_address):
        return 10**30

    def get_chain_id(self):
        return 84532

    def verify_typed_data(self, *a, **k):
        raise AssertionError("not used on the EOA path")


v, body = payment()
ASSET = v["paymentRequirements"]["asset"].lower()
network = v["paymentRequirements"]["network"]
facilitator = x402FacilitatorSync()
register_exact_evm_facilitator(facilitator, FakeChain(), networks=[network])

# The package reads the clock: pin it to the vector's `now`.
import time as _time  # noqa: E402

_time.time = lambda: v["now"]


def verify():
    req = json.loads(body)
    p = parse_payment_payload(req["paymentPayload"])
    r = parse_payment_requirements(req["x402Version"], req["paymentRequirements"])
    return facilitator.verify(p, r)


result = verify()
assert result.is_valid, result
backend = type(KeyAPI().backend).__name__
print(json.dumps({"name": f"official x402 {sys.argv[1]} ({backend})",
                  "what": "facilitator verify (POST /verify body parsed with its models)",
                  **measure(verify)}), flush=True)
