"""batch-settlement on cloudflare:402 (HTTP Message Signatures, Ed25519)
through the Python package: Cloudflare's signatures (the shared web-bot-auth
vectors), requests signed here with RFC 9421's Ed25519 test key, refusals and
misuse."""

import base64
import datetime
import json

import pytest

import paywire
from conftest import VECTORS, vectors

WEB_BOT_AUTH = vectors("batch/web-bot-auth.json")
KEY = json.loads((VECTORS / "batch" / "rfc9421.json").read_text(encoding="utf-8"))["keys"][
    "test-key-ed25519"
]

AGENT = "https://agent.example"
URL = "https://example.com/article"
REQUIREMENT = {
    "scheme": "batch-settlement", "network": "cloudflare:402", "amount": "5", "asset": "USD",
    "payTo": "merchant", "maxTimeoutSeconds": 30,
}
EXACT = {
    "scheme": "exact", "network": "eip155:84532", "amount": "10000",
    "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
    "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "maxTimeoutSeconds": 60,
    "extra": {"name": "USDC", "version": "2"},
}
CREATED, EXPIRES, NOW = 1750000000, 1750000060, 1750000010


def directory(x):
    return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x}]}


DIRS = {AGENT: directory(KEY["x"])}


def commitment(amount="5", pay_amount="5"):
    """The PAYMENT-SIGNATURE value committing to REQUIREMENT (with ``amount``),
    paying ``pay_amount``."""
    doc = {"x402Version": 2, "resource": {"url": URL}, "accepted": dict(REQUIREMENT, amount=amount),
           "payload": {"amount": pay_amount, "asset": "USD"}}
    return paywire.encode_header(paywire.HeaderKind.PAYMENT_SIGNATURE, doc)


def signed_get(payment, url=URL, host="example.com", key=KEY["d"]):
    req = paywire.HttpRequest("GET", url, (("Host", host), ("PAYMENT-SIGNATURE", payment)))
    s = paywire.sign_request(req, key, signature_agent=f'"{AGENT}"', created=CREATED,
                          expires=EXPIRES, nonce="py-test-1")
    return req.with_headers(*s.headers()), s


def replaced(req, name, value=None):
    """``req`` with header ``name`` set to ``value`` (removed when None)."""
    lines = [(n, value if n == name else v) for n, v in req.headers if n != name or value is not None]
    return paywire.HttpRequest(req.method, req.url, tuple(lines))


def test_vector_count():
    assert len(WEB_BOT_AUTH) >= 26


@pytest.mark.parametrize("v", WEB_BOT_AUTH, ids=[v["name"] for v in WEB_BOT_AUTH])
def test_web_bot_auth(v):
    # The network's registry knows one agent, whose directory holds the vector's key.
    res = paywire.verify_batch_settlement(v["request"], v["offer"], {AGENT: {"keys": [v["jwk"]]}}, v["now"])
    want = v["expect"]
    assert (res.verdict.is_valid, res.verdict.invalid_reason) == (want["isValid"], want.get("invalidReason"))
    assert (res.payment_response is not None) == want["isValid"]
    if res.is_valid:
        assert res.verdict.keyid == v["keyid"] and res.verdict.payer == AGENT


def test_sign_then_verify():
    payment = commitment()
    req, s = signed_get(payment)
    assert s.keyid == KEY["thumbprint"] and s.signature_agent == f'"{AGENT}"'
    assert s.signature_input == (
        'sig1=("@authority" "signature-agent" "payment-signature");created=1750000000;'
        f'expires=1750000060;keyid="{KEY["thumbprint"]}";alg="ed25519";nonce="py-test-1";'
        'tag="web-bot-auth"'
    )
    assert s.signature.startswith("sig1=:") and s.signature.endswith(":") and len(s.signature) == 95
    # The key as its 32-byte seed signs the same (Ed25519 is deterministic).
    seed = base64.urlsafe_b64decode(KEY["d"] + "=")
    assert signed_get(payment, key=seed)[1] == s
    offer = {"x402Version": 2, "resource": {"url": URL}, "accepts": [EXACT, REQUIREMENT]}
    forms = (offer, [REQUIREMENT], REQUIREMENT, json.dumps(REQUIREMENT), json.dumps(offer).encode())
    for requirements in forms:
        res = paywire.verify_batch_settlement(req, requirements, DIRS, NOW)
        v = res.verdict
        assert res.is_valid and v.invalid_reason is None and v.error_code is None, res.json
        assert (v.payer, v.scheme, v.network, v.amount, v.asset) == (
            AGENT, "batch-settlement", "cloudflare:402", "5", "USD")
        assert (v.keyid, v.label, v.created, v.expires) == (KEY["thumbprint"], "sig1", CREATED, EXPIRES)
        assert json.loads(base64.b64decode(res.payment_response)) == {
            "success": True, "transaction": "", "network": "cloudflare:402", "payer": AGENT,
            "amount": "5", "asset": "USD", "extra": {"timestamp": NOW}}
    # The directory as published (text) and a datetime for now.
    at = datetime.datetime.fromtimestamp(NOW, datetime.timezone.utc)
    assert paywire.verify_batch_settlement(req, REQUIREMENT, {AGENT: json.dumps(DIRS[AGENT])}, at).is_valid


REQ, _ = signed_get(commitment())
OFFER6 = dict(REQUIREMENT, amount="6")
CHEAP, _ = signed_get(commitment("5", "4"))
SIG = "invalid_batch_settlement_cloudflare_signature"

REFUSALS = [
    ("amount changed after signing", replaced(REQ, "PAYMENT-SIGNATURE", commitment("6", "6")), OFFER6,
     DIRS, NOW, {}, SIG, "invalid_signature"),
    ("wrong authority", paywire.HttpRequest("GET", "https://example.org/article",
                                         replaced(REQ, "Host", "example.org").headers),
     REQUIREMENT, DIRS, NOW, {}, SIG, "invalid_signature"),
    ("expired", REQ, REQUIREMENT, DIRS, EXPIRES + 1, {}, SIG + "_expired", "invalid_signature"),
    ("created in the future", REQ, REQUIREMENT, DIRS, CREATED - 31, {}, SIG + "_created",
     "invalid_signature"),
    ("older than max_age", REQ, REQUIREMENT, DIRS, NOW, {"max_age": 5}, SIG + "_created",
     "invalid_signature"),
    ("unknown agent", REQ, REQUIREMENT, {"https://other.example": directory(KEY["x"])}, NOW, {},
     SIG + "_agent_unknown", "signature_agent_unknown"),
    ("no directories", REQ, REQUIREMENT, {}, NOW, {}, SIG + "_agent_unknown",
     "signature_agent_unknown"),
    ("unknown key", REQ, REQUIREMENT, {AGENT: directory("xGq6Sl39fNFm1k5gQ8xCNd_3I5ya15riLqevXLDhWu0")},
     NOW, {}, "invalid_batch_settlement_cloudflare_key_unknown", "invalid_signature"),
    ("accepted not offered", REQ, OFFER6, DIRS, NOW, {},
     "invalid_batch_settlement_cloudflare_accepted_mismatch", "price_not_acceptable"),
    ("payload amount below accepted", CHEAP, REQUIREMENT, DIRS, NOW, {},
     "invalid_batch_settlement_cloudflare_amount_mismatch", "price_not_acceptable"),
    ("no Signature", replaced(REQ, "Signature"), REQUIREMENT, DIRS, NOW, {}, SIG + "_malformed",
     "invalid_signature"),
    ("no payment", replaced(REQ, "PAYMENT-SIGNATURE"), REQUIREMENT, DIRS, NOW, {},
     "invalid_batch_settlement_cloudflare_payment_missing", "blocked"),
    ("requirements not requirements", REQ, '"USD"', DIRS, NOW, {}, "invalid_payment_requirements",
     "origin_error"),
]


@pytest.mark.parametrize("name,req,requirements,dirs,now,limits,reason,code", REFUSALS,
                         ids=[r[0] for r in REFUSALS])
def test_refusals(name, req, requirements, dirs, now, limits, reason, code):
    res = paywire.verify_batch_settlement(req, requirements, dirs, now, **limits)
    v = res.verdict
    assert (v.is_valid, v.invalid_reason, v.error_code) == (False, reason, code), res.json
    assert v.invalid_message and res.payment_response is None and v.amount is None


def test_time_limits_at_their_edges():
    for now in (CREATED - 30, EXPIRES):
        assert paywire.verify_batch_settlement(REQ, REQUIREMENT, DIRS, now).is_valid
    assert paywire.verify_batch_settlement(REQ, REQUIREMENT, DIRS, NOW, max_age=3600).is_valid
    assert not paywire.verify_batch_settlement(REQ, REQUIREMENT, DIRS, CREATED - 1, max_clock_skew=0).is_valid
    assert not paywire.verify_batch_settlement(REQ, REQUIREMENT, DIRS, NOW, max_validity=59).is_valid


@pytest.mark.parametrize("jwks,says", [
    ({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": KEY["x"], "d": KEY["d"]}]}, "private"),
    ({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "short"}]}, "43 characters"),
    ({"keys": {}}, "keys array"),
    ([], "keys array"),
])
def test_unreadable_directories_are_errors(jwks, says):
    with pytest.raises(paywire.PaywireError) as e:
        paywire.verify_batch_settlement(REQ, REQUIREMENT, {AGENT: jwks}, NOW)
    assert e.value.code == paywire.Result.INVALID_PAYLOAD and e.value.reason == "invalid_payload"
    assert says in e.value.message


def test_documents_must_be_one_json_value():
    # Nothing a directory holds can reach past its place in the input.
    for bad in ("", "{", '{"keys":[]}},"https://other.example":{"keys":[]}', b"\xff"):
        with pytest.raises(ValueError):
            paywire.verify_batch_settlement(REQ, REQUIREMENT, {AGENT: bad}, NOW)
        with pytest.raises(ValueError):
            paywire.verify_batch_settlement(REQ, bad, DIRS, NOW)
    with pytest.raises(paywire.PaywireError) as e:
        paywire.verify_batch_settlement({"method": "GET", "url": URL}, REQUIREMENT, DIRS, NOW)
    assert e.value.code == paywire.Result.INVALID_PAYLOAD and "headers" in e.value.message


@pytest.mark.parametrize("kwargs,says", [
    ({"created": EXPIRES, "expires": CREATED}, "expires"),
    ({"label": "Sig1"}, "label"),
    ({"nonce": "\x01"}, "nonce"),
    ({"signature_agent_key": "agent2"}, "Signature-Agent"),
    ({"signature_agent": '"https://agent\x01.example"'}, "Signature-Agent"),
])
def test_sign_refusals(kwargs, says):
    args = dict(signature_agent=f'"{AGENT}"', created=CREATED, expires=EXPIRES)
    args.update(kwargs)
    with pytest.raises(paywire.PaywireError) as e:
        paywire.sign_request(REQ, KEY["d"], **args)
    assert e.value.code == paywire.Result.INVALID_PAYLOAD and says in e.value.message


def test_sign_misuse():
    args = dict(signature_agent=f'"{AGENT}"', created=CREATED, expires=EXPIRES)
    with pytest.raises(paywire.PaywireError) as e:
        paywire.sign_request(paywire.HttpRequest("GET", URL), KEY["d"], **args)
    assert "PAYMENT-SIGNATURE" in e.value.message
    with pytest.raises(paywire.PaywireError) as e:
        paywire.sign_request(REQ, "not a key", **args)
    assert e.value.code == paywire.Result.INVALID_PAYLOAD and "privateKey" in e.value.message
    with pytest.raises(ValueError):
        paywire.sign_request(REQ, b"short", **args)


def test_dictionary_agent_label_and_large_outputs():
    agent = "https://agent.example/" + "a" * 1500
    req = paywire.HttpRequest("POST", URL, (("PAYMENT-SIGNATURE", commitment()),))
    s = paywire.sign_request(req, KEY["d"], signature_agent=f'agent2="{agent}"', signature_agent_key="agent2",
                          label="pay", created=CREATED, expires=EXPIRES)
    assert s.signature_input.startswith(
        'pay=("@authority" "signature-agent";key="agent2" "payment-signature")')
    res = paywire.verify_batch_settlement(req.with_headers(*s.headers()), REQUIREMENT,
                                       {agent: directory(KEY["x"])}, NOW)
    assert res.is_valid and res.verdict.payer == agent and res.verdict.label == "pay"
    assert len(res.json) > 1500
