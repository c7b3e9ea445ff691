"""Errors, settings and conversions of the Python package."""

import datetime

import pytest

import x402
from conftest import vectors

PR = vectors("official-payments.json")[0]["paymentRequired"]


def test_version_and_library():
    assert x402.version().startswith("x402-ffi ")
    assert x402.library_path().endswith("libx402.so")


def test_invalid_payments_are_verdicts_not_errors():
    for body in (b"", b"{}", "[", b"\xff", {"x402Version": 2}):
        v = x402.verify(body, 1750000000)
        assert not v.is_valid and v.invalid_reason and v.invalid_message
    assert x402.verify({}, 0).invalid_reason == "invalid_x402_version"
    v = x402.verify_header("not base64", {"scheme": "exact"}, datetime.datetime.now())
    assert v.invalid_reason == "invalid_payload"


def test_bad_config_is_an_error():
    with pytest.raises(x402.X402Error) as e:
        x402.verify({}, 0, facilitator_addresses=["0x12"])
    assert e.value.code == x402.Result.INVALID_CONFIG
    assert e.value.reason is None and "verifier config" in e.value.message


def test_unreadable_documents_carry_their_reason():
    with pytest.raises(x402.X402Error) as e:
        x402.decode_header(x402.HeaderKind.PAYMENT_SIGNATURE, "not base64")
    assert e.value.code == x402.Result.INVALID_PAYLOAD and e.value.reason == "invalid_payload"
    with pytest.raises(x402.X402Error) as e:
        x402.encode_header(x402.HeaderKind.PAYMENT_REQUIRED, {"x402Version": 7})
    assert e.value.code == x402.Result.INVALID_X402_VERSION
    with pytest.raises(x402.X402Error) as e:
        x402.decode_header(9, "e30=")
    assert e.value.code == x402.Result.INVALID_ARGUMENT
    with pytest.raises(x402.X402Error) as e:
        x402.header_kind_from_name("payment")
    assert e.value.code == x402.Result.INVALID_ARGUMENT
    with pytest.raises(x402.X402Error) as e:
        x402.typed_data_digest({"primaryType": "Mail"})
    assert e.value.code == x402.Result.INVALID_PAYLOAD


def test_create_payment_policy_and_keys():
    key = bytes(31) + b"\x01"
    p = x402.create_payment(PR, key, 1750000000, policy=x402.Policy(max_amount=10**9))
    assert p.payer == "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
    assert p.header == x402.HeaderKind.PAYMENT_SIGNATURE and p.accepts_index == 0
    # The nonce is random unless given; with a given nonce the payment is deterministic.
    assert x402.create_payment(PR, key, 1750000000).value != p.value
    a = x402.create_payment(PR, key, 1750000000, nonce=b"\x01" * 32)
    assert a == x402.create_payment(PR, key, 1750000000, nonce=b"\x01" * 32)
    # From the PAYMENT-REQUIRED header value too.
    header = x402.encode_header(x402.HeaderKind.PAYMENT_REQUIRED, PR)
    assert x402.create_payment(header, key, 1750000000, nonce=b"\x01" * 32) == a
    with pytest.raises(x402.X402Error) as e:
        x402.create_payment(PR, key, 1750000000, policy=x402.Policy(max_amount=1))
    assert e.value.code == x402.Result.INVALID_PAYMENT_REQUIREMENTS
    assert "maximum" in e.value.message
    with pytest.raises(x402.X402Error) as e:
        x402.create_payment(PR, key, 1750000000, policy=x402.Policy(networks=["EIP155:1"]))
    assert e.value.code == x402.Result.INVALID_POLICY
    with pytest.raises(x402.X402Error) as e:
        x402.create_payment(PR, bytes(32), 1750000000)
    assert e.value.code == x402.Result.INVALID_PRIVATE_KEY
    with pytest.raises(ValueError):
        x402.create_payment(PR, b"short", 1750000000)


def test_signatures():
    with pytest.raises(x402.X402Error) as e:
        x402.recover_address(bytes(32), bytes(64))
    assert e.value.code == x402.Result.INVALID_SIGNATURE and "2098" in e.value.message
    with pytest.raises(x402.X402Error):
        x402.recover_address(bytes(32), "0x1234")


def test_result_messages():
    for r in x402.Result:
        assert r.message and not r.message.startswith("unknown")
    assert x402.X402Error(42, "x").code == 42


def test_outputs_grow_past_the_first_guess():
    pr = dict(PR)
    pr["resource"] = dict(pr["resource"], description="é" * 5000)
    value = x402.encode_header(x402.HeaderKind.PAYMENT_REQUIRED, pr)
    assert x402.decode_header(x402.HeaderKind.ANY, value) == pr
    p = x402.create_payment(value, b"\x09" * 32, 1750000000)
    assert len(p.value) > 10000
