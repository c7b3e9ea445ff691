"""paywire through Python ctypes, and eth-account recovering the same EIP-712
signature. Prints one JSON line per measurement. Run by run.sh, once per
eth_keys backend (ECC_BACKEND_CLASS)."""

import json
import os
import sys

from common import ROOT, measure, payment, typed_data

sys.path.insert(0, str(ROOT / "x402-ffi/python"))

which = sys.argv[1]
v, body = payment()
now = v["now"]
sig = v["paymentPayload"]["payload"]["signature"]
payer = v["payer"]
typed = typed_data(v)


def emit(name, what, fn):
    print(json.dumps({"name": name, "what": what, **measure(fn)}), flush=True)


if which == "paywire":
    import paywire

    assert paywire.verify(body, now).is_valid
    emit("paywire via Python ctypes", "verify (POST /verify body, bytes in, VerifyResponse dataclass out)",
         lambda: paywire.verify(body, now))
    typed_json = json.dumps(typed, separators=(",", ":")).encode()

    def recover():
        return paywire.recover_address(paywire.typed_data_digest(typed_json), sig)

    assert recover() == payer
    emit("paywire via Python ctypes", "EIP-712 digest + recover (typed data JSON)", recover)
else:
    from eth_account import Account
    from eth_account.messages import encode_typed_data
    from eth_keys import KeyAPI

    backend = type(KeyAPI().backend).__name__

    def recover():
        return Account.recover_message(encode_typed_data(full_message=typed), signature=sig)

    assert recover() == payer
    emit(f"eth-account 0.14.0 ({backend})", "EIP-712 digest + recover (typed data dict)", recover)
