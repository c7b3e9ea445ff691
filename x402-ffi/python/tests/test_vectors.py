"""The shared vectors (x402-core/tests/vectors) through the Python package."""

import pytest

import paywire
from conftest import facilitators, vectors

VERDICTS = vectors("official-verdicts.json")
PAYMENTS = vectors("official-payments.json")
HEADERS = vectors("sdk-headers.json")
EIP712 = vectors("eip712.json") + vectors("eip712-eth-account.json")


def test_vector_counts():
    assert len(VERDICTS) >= 100 and len(PAYMENTS) >= 10
    assert len(HEADERS) >= 20 and len(EIP712) >= 80


@pytest.mark.parametrize("v", VERDICTS, ids=[v["name"] for v in VERDICTS])
def test_official_verdict(v):
    got = paywire.verify(v["request"], v["now"], facilitator_addresses=facilitators(v))
    want = v["verdict"]
    if v.get("stricter"):
        # Deliberately stricter than the reference (high-s signatures).
        assert not got.is_valid, got
    elif "threw" in want:
        assert not got.is_valid
        assert got.invalid_reason in ("invalid_payload", "unsupported_scheme")
    else:
        assert (got.is_valid, got.invalid_reason) == (want["isValid"], want.get("invalidReason"))
    if got.is_valid:
        assert got.chain_checks and got.chain_checks[0].check
        assert got.invalid_message is None


@pytest.mark.parametrize("i,v", list(enumerate(PAYMENTS)), ids=[v["name"] for v in PAYMENTS])
def test_official_payment(i, v):
    now = v["now"]
    fac = facilitators(v)
    got = paywire.verify_header(v["header"], v["paymentRequirements"], now, facilitator_addresses=fac)
    assert got.is_valid, got
    assert got.payer.lower() == v["payer"].lower()
    kind = paywire.header_kind_from_name(v["headerName"])
    assert paywire.decode_header(kind, v["header"]) == v["paymentPayload"]
    # A payment created here for the same 402 verifies the same way.
    p = paywire.create_payment(
        v["paymentRequired"], bytes([i + 1]) * 32, now, policy=paywire.Policy(allow_upto=True),
        nonce=b"\x5a" * 32,
    )
    assert p.header == kind and p.header_name == v["headerName"]
    mine = paywire.verify_header(p.value, v["paymentRequirements"], now, facilitator_addresses=fac)
    assert mine.is_valid and mine.payer == p.payer, mine


@pytest.mark.parametrize("v", HEADERS, ids=[v["name"] for v in HEADERS])
def test_sdk_header(v):
    kind = paywire.header_kind_from_name(v["header"])
    assert kind.header_name == v["header"]
    doc = paywire.decode_header(kind, v["value"])
    assert doc == v["json"]
    assert paywire.decode_header(paywire.HeaderKind.ANY, v["value"]) == doc
    # Python's dict keeps the order: re-encoding gives the SDK's value, byte for byte.
    assert paywire.encode_header(kind, doc) == v["value"]


@pytest.mark.parametrize("v", EIP712, ids=[v["name"] for v in EIP712])
def test_eip712(v):
    want = bytes.fromhex(v["digest"][2:])
    typed = {k: v[k] for k in ("types", "primaryType", "domain", "message")}
    assert paywire.typed_data_digest(typed) == want
    if v["kind"] == "eip3009":
        assert paywire.eip3009_digest(v["domain"], v["message"]) == want
    else:
        assert paywire.permit2_digest(v["domain"]["chainId"], v["message"]) == want
    assert paywire.recover_address(want, v["signature"]) == v["address"]
    assert paywire.recover_address(want, bytes.fromhex(v["signature"][2:])) == v["address"]
    assert paywire.private_key_address(v["privateKey"]) == v["address"]
