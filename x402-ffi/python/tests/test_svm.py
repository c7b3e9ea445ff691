"""exact on Solana through libpaywire: the official @x402/svm client's
payments (svm.json) verify, mutations are refused with the official
facilitator's reasons, and create_svm_payment makes the official client's
transactions byte for byte."""
import base64
import json

import pytest

import paywire
from conftest import VECTORS

SVM = json.loads((VECTORS / "svm.json").read_text(encoding="utf-8"))
NOW = 1_750_000_000


def body(v):
    return {"x402Version": 2, "paymentPayload": v["paymentPayload"],
            "paymentRequirements": v["paymentRequirements"]}


def offer(requirements):
    return {"x402Version": 2, "resource": {"url": "https://example.com/a"},
            "accepts": [requirements]}


def facts(c, blockhash=True):
    return paywire.SvmFacts(c["tokenProgram"], c["decimals"],
                            c["blockhash"] if blockhash else None)


@pytest.mark.parametrize("p", SVM["payments"], ids=lambda p: p["name"])
def test_official_payments_verify(p):
    v = paywire.verify(body(p), NOW)
    assert v.is_valid, v.json
    assert v.payer == p["client"]["payer"]
    assert [c.check for c in v.chain_checks] == [
        "blockhashRecent", "destinationExists", "sourceBalanceAtLeast", "simulate"]
    assert v.chain_checks[0].blockhash == p["client"]["blockhash"]
    assert v.chain_checks[2].amount == "1000" and v.chain_checks[2].account
    header = base64.b64encode(json.dumps(p["paymentPayload"]).encode()).decode()
    h = paywire.verify_header(header, p["paymentRequirements"], NOW)
    assert h.is_valid and h.payer == p["client"]["payer"]


MUTATIONS = {
    "wrong-mint": "invalid_exact_svm_payload_mint_mismatch",
    "amount-plus-1": "invalid_exact_svm_payload_amount_mismatch",
    "amount-minus-1": "invalid_exact_svm_payload_amount_mismatch",
    "bad-signature": "invalid_exact_svm_payload_signature_invalid",
    "memo-mismatch": "invalid_exact_svm_payload_memo_mismatch",
    "fee-payer-authority": "invalid_exact_svm_payload_transaction_fee_payer_transferring_funds",
    "price-above-cap":
        "invalid_exact_svm_payload_transaction_instructions_compute_price_instruction_too_high",
    "eight-instructions": "invalid_exact_svm_payload_transaction_instructions_length",
    "version-byte-0x81": "invalid_exact_svm_payload_transaction_could_not_be_decoded",
    "network-mismatch": "invalid_exact_svm_network_mismatch",
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutations_are_refused_with_the_official_reason(name):
    v = next(v for v in SVM["verdicts"] if v["name"] == name)
    assert v["official"]["invalidReason"] == MUTATIONS[name]
    got = paywire.verify(body(v), NOW)
    assert not got.is_valid
    assert got.invalid_reason == MUTATIONS[name]
    assert got.chain_checks == []


@pytest.mark.parametrize("p", SVM["payments"], ids=lambda p: p["name"])
def test_create_makes_the_official_transaction(p):
    c = p["client"]
    nonce = bytes.fromhex((c.get("memoNonce") or "").ljust(64, "0"))
    made = paywire.create_svm_payment(offer(p["paymentRequirements"]), c["payerSeed"], facts(c),
                                      nonce=nonce, policy=paywire.Policy(max_amount=1000))
    assert made.payer == c["payer"] and made.accepts_index == 0
    doc = paywire.decode_header(paywire.HeaderKind.PAYMENT_SIGNATURE, made.value)
    assert doc["payload"] == p["paymentPayload"]["payload"]
    assert doc["accepted"] == p["paymentRequirements"]
    v = paywire.verify_header(made.value, p["paymentRequirements"], NOW)
    assert v.is_valid and v.payer == c["payer"], v.json
    # With a random memo nonce, it still verifies.
    again = paywire.create_svm_payment(offer(p["paymentRequirements"]), c["payerSeed"], facts(c))
    assert paywire.verify_header(again.value, p["paymentRequirements"], NOW).is_valid


def test_create_says_what_it_lacks():
    p = SVM["payments"][0]
    c = p["client"]
    req = json.loads(json.dumps(p["paymentRequirements"]))
    del req["extra"]["recentBlockhash"]
    with pytest.raises(paywire.PaywireError) as e:
        paywire.create_svm_payment(offer(req), c["payerSeed"], facts(c, blockhash=False))
    assert e.value.reason == "invalid_payment_requirements"
    assert "recentBlockhash" in str(e.value)
    with pytest.raises(paywire.PaywireError) as e:
        paywire.create_svm_payment(offer(req), c["payerSeed"], paywire.SvmFacts("nope", 6))
    assert e.value.code == paywire.Result.INVALID_ARGUMENT and "tokenProgram" in str(e.value)
    with pytest.raises(paywire.PaywireError) as e:
        paywire.create_payment(offer(req), c["payerSeed"], NOW)
    assert "Ed25519" in str(e.value)


def test_paying_transport_pays_on_solana():
    httpx = pytest.importorskip("httpx")
    from paywire.httpx import PayingTransport, SolanaPayer

    p = SVM["payments"][0]
    c = p["client"]
    offer_value = paywire.encode_header(paywire.HeaderKind.PAYMENT_REQUIRED,
                                        offer(p["paymentRequirements"]))
    verdicts = []

    def server(request):
        sig = request.headers.get("payment-signature")
        if sig is None:
            return httpx.Response(402, headers={"payment-required": offer_value})
        v = paywire.verify_header(sig, p["paymentRequirements"], NOW)
        verdicts.append(v)
        return httpx.Response(200 if v.is_valid else 402, text="paid")

    evm_key = "11" * 32
    policy = paywire.Policy(max_amount=1000)
    # Without a Solana payer: the 402 as it came.
    plain = httpx.Client(transport=PayingTransport(evm_key, policy,
                                                   transport=httpx.MockTransport(server)))
    assert plain.get("https://shop.example/a").status_code == 402

    paid = []
    solana = SolanaPayer(c["payerSeed"], lambda _offer: facts(c, blockhash=False))
    client = httpx.Client(transport=PayingTransport(
        evm_key, policy, transport=httpx.MockTransport(server), solana=solana,
        on_payment=lambda _req, payment: paid.append(payment)))
    r = client.get("https://shop.example/a")
    assert r.status_code == 200 and r.text == "paid"
    assert len(paid) == 1 and paid[0].payer == c["payer"]
    assert verdicts[-1].is_valid and verdicts[-1].payer == c["payer"]

    # Over the maximum, or facts that fail: unpaid.
    over = httpx.Client(transport=PayingTransport(
        evm_key, paywire.Policy(max_amount=999), transport=httpx.MockTransport(server),
        solana=solana))
    assert over.get("https://shop.example/a").status_code == 402

    def no_node(_offer):
        raise RuntimeError("no node")

    broken = httpx.Client(transport=PayingTransport(
        evm_key, policy, transport=httpx.MockTransport(server),
        solana=SolanaPayer(c["payerSeed"], no_node)))
    assert broken.get("https://shop.example/a").status_code == 402
    assert len(paid) == 1
