"""Errors, settings and conversions of the Python package."""

import datetime

import pytest

import paywire
from conftest import vectors

PR = vectors("official-payments.json")[0]["paymentRequired"]


def test_version_and_library():
    assert paywire.version().startswith("paywire-ffi ")
    assert "libpaywire" in paywire.library_path()


def test_invalid_payments_are_verdicts_not_errors():
    for body in (b"", b"{}", "[", b"\xff", {"x402Version": 2}):
        v = paywire.verify(body, 1750000000)
        assert not v.is_valid and v.invalid_reason and v.invalid_message
    assert paywire.verify({}, 0).invalid_reason == "invalid_x402_version"
    v = paywire.verify_header("not base64", {"scheme": "exact"}, datetime.datetime.now())
    assert v.invalid_reason == "invalid_payload"


def test_bad_config_is_an_error():
    with pytest.raises(paywire.PaywireError) as e:
        paywire.verify({}, 0, facilitator_addresses=["0x12"])
    assert e.value.code == paywire.Result.INVALID_CONFIG
    assert e.value.reason is None and "verifier config" in e.value.message


def test_reasons_come_from_the_library():
    bad_network = {
        "x402Version": 2, "resource": {"url": "u"},
        "accepts": [{
            "scheme": "exact", "network": "eip155:08453", "amount": "1",
            "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
            "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "maxTimeoutSeconds": 60,
        }],
    }
    with pytest.raises(paywire.PaywireError) as e:
        paywire.encode_header(paywire.HeaderKind.PAYMENT_REQUIRED, bad_network)
    assert e.value.code == paywire.Result.INVALID_NETWORK and e.value.reason == "invalid_network"
    with pytest.raises(paywire.PaywireError) as e:
        paywire.typed_data_digest({})
    assert e.value.code == paywire.Result.INVALID_PAYLOAD and e.value.reason == "invalid_payload"
    with pytest.raises(paywire.PaywireError) as e:
        paywire.recover_address(b"\0" * 32, "0x12")
    assert e.value.code == paywire.Result.INVALID_SIGNATURE and e.value.reason is None


def test_sizes_agree_with_the_header():
    from pathlib import Path

    from paywire import _native

    header = Path(__file__).resolve().parents[3] / "include" / "paywire.h"
    if not header.is_file():
        pytest.skip("no checkout: include/paywire.h is not beside the tests")
    defines = {}
    for line in header.read_text().splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "#define":
            defines[words[1]] = words[2]
    assert int(defines["PAYWIRE_REASON_CAP"]) == _native.REASON_CAP
    assert int(defines["PAYWIRE_ADDRESS_LEN"]) == _native.ADDRESS_LEN
    assert int(defines["PAYWIRE_VERIFY_RESPONSE_MAX"]) == _native.VERIFY_RESPONSE_MAX


def test_unreadable_documents_carry_their_reason():
    with pytest.raises(paywire.PaywireError) as e:
        paywire.decode_header(paywire.HeaderKind.PAYMENT_SIGNATURE, "not base64")
    assert e.value.code == paywire.Result.INVALID_PAYLOAD and e.value.reason == "invalid_payload"
    with pytest.raises(paywire.PaywireError) as e:
        paywire.encode_header(paywire.HeaderKind.PAYMENT_REQUIRED, {"x402Version": 7})
    assert e.value.code == paywire.Result.INVALID_X402_VERSION
    with pytest.raises(paywire.PaywireError) as e:
        paywire.decode_header(9, "e30=")
    assert e.value.code == paywire.Result.INVALID_ARGUMENT
    with pytest.raises(paywire.PaywireError) as e:
        paywire.header_kind_from_name("payment")
    assert e.value.code == paywire.Result.INVALID_ARGUMENT
    with pytest.raises(paywire.PaywireError) as e:
        paywire.typed_data_digest({"primaryType": "Mail"})
    assert e.value.code == paywire.Result.INVALID_PAYLOAD


def test_create_payment_policy_and_keys():
    key = bytes(31) + b"\x01"
    p = paywire.create_payment(PR, key, 1750000000, policy=paywire.Policy(max_amount=10**9))
    assert p.payer == "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
    assert p.header == paywire.HeaderKind.PAYMENT_SIGNATURE and p.accepts_index == 0
    # The nonce is random unless given; with a given nonce the payment is deterministic.
    assert paywire.create_payment(PR, key, 1750000000).value != p.value
    a = paywire.create_payment(PR, key, 1750000000, nonce=b"\x01" * 32)
    assert a == paywire.create_payment(PR, key, 1750000000, nonce=b"\x01" * 32)
    # From the PAYMENT-REQUIRED header value too.
    header = paywire.encode_header(paywire.HeaderKind.PAYMENT_REQUIRED, PR)
    assert paywire.create_payment(header, key, 1750000000, nonce=b"\x01" * 32) == a
    with pytest.raises(paywire.PaywireError) as e:
        paywire.create_payment(PR, key, 1750000000, policy=paywire.Policy(max_amount=1))
    assert e.value.code == paywire.Result.INVALID_PAYMENT_REQUIREMENTS
    assert "maximum" in e.value.message
    with pytest.raises(paywire.PaywireError) as e:
        paywire.create_payment(PR, key, 1750000000, policy=paywire.Policy(networks=["EIP155:1"]))
    assert e.value.code == paywire.Result.INVALID_POLICY
    with pytest.raises(paywire.PaywireError) as e:
        paywire.create_payment(PR, bytes(32), 1750000000)
    assert e.value.code == paywire.Result.INVALID_PRIVATE_KEY
    with pytest.raises(ValueError):
        paywire.create_payment(PR, b"short", 1750000000)


def test_signatures():
    with pytest.raises(paywire.PaywireError) as e:
        paywire.recover_address(bytes(32), bytes(64))
    assert e.value.code == paywire.Result.INVALID_SIGNATURE and "2098" in e.value.message
    with pytest.raises(paywire.PaywireError):
        paywire.recover_address(bytes(32), "0x1234")


def test_result_messages():
    for r in paywire.Result:
        assert r.message and not r.message.startswith("unknown")
    assert paywire.PaywireError(42, "x").code == 42


def test_outputs_grow_past_the_first_guess():
    pr = dict(PR)
    pr["resource"] = dict(pr["resource"], description="é" * 5000)
    value = paywire.encode_header(paywire.HeaderKind.PAYMENT_REQUIRED, pr)
    assert paywire.decode_header(paywire.HeaderKind.ANY, value) == pr
    p = paywire.create_payment(value, b"\x09" * 32, 1750000000)
    assert len(p.value) > 10000
