"""Verification with the chain and settlement, driven over canned JSON-RPC
answers (the on-chain proof is x402-core's settlement_onchain test)."""

import json

import pytest

import paywire

PR = {
    "x402Version": 2,
    "resource": {"url": "https://api.example.com/data"},
    "accepts": [{
        "scheme": "exact", "network": "eip155:84532", "amount": "10000",
        "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
        "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "maxTimeoutSeconds": 60,
        "extra": {"name": "USDC", "version": "2"},
    }],
}
NOW = 1750000000

RESULTS = {
    "eth_chainId": "0x14a34",
    "eth_getCode": "0x6080",
    "eth_call": "0x",
    "eth_estimateGas": "0x186a0",
    "eth_getTransactionCount": "0x2",
    "eth_getBlockByNumber": {"number": "0x10", "timestamp": "0x6853b0f0", "baseFeePerGas": "0x3b9aca00"},
    "eth_maxPriorityFeePerGas": "0x1",
}


def body():
    p = paywire.create_payment(PR, bytes([0x11] * 32), NOW, nonce=bytes([0x66] * 32))
    payload = paywire.decode_header(p.header, p.value)
    return {"x402Version": 2, "paymentPayload": payload, "paymentRequirements": PR["accepts"][0]}


class Node:
    """A node of chain 84532 that refuses raw transactions (no funds)."""

    def __init__(self):
        self.methods = []

    def __call__(self, request: bytes) -> bytes:
        req = json.loads(request)
        self.methods.append(req["method"])
        if req["method"] in RESULTS:
            return json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": RESULTS[req["method"]]}).encode()
        return json.dumps({"jsonrpc": "2.0", "id": req["id"], "error": {
            "code": -32000, "message": "insufficient funds for gas * price + value"}}).encode()


def test_verify_with_chain():
    node = Node()
    v = paywire.verify_with_chain(body(), NOW, node)
    assert v.is_valid and v.payer
    assert node.methods == ["eth_chainId", "eth_getCode", "eth_call"]


def test_settle_signs_and_sends():
    node = Node()
    s = paywire.settle(body(), NOW, "0x" + "07" * 32, node, options={"maxFeePerGas": "5000000000"})
    assert not s.success
    assert s.error_reason == "invalid_exact_evm_transaction_failed"
    assert "insufficient funds" in s.error_message
    assert s.transaction == "" and s.network == "eip155:84532"
    assert node.methods[-1] == "eth_sendRawTransaction" and len(node.methods) == 7


def test_step_by_step_and_misuse():
    with paywire.Chain.verify(body(), NOW, options={"checkChainId": False}) as c:
        req, delay, done = c.next()
        assert not done and delay == 0 and json.loads(req)["method"] == "eth_getCode"
        with pytest.raises(paywire.PaywireError) as e:
            c.feed(b'{"jsonrpc":"2.0","id":42,"result":"0x"}')
        assert e.value.code == paywire.Result.INVALID_RESPONSE
        c.feed(b'{"jsonrpc":"2.0","id":1,"result":"0x"}')
        out, _, done = c.next()
        assert done and json.loads(out)["invalidReason"] == "asset_not_deployed_contract"
    with pytest.raises(paywire.PaywireError):
        c.next()
    with pytest.raises(paywire.PaywireError) as e:
        paywire.Chain.verify(body(), NOW, options={"gasLimitMargin": 5})
    assert e.value.code == paywire.Result.INVALID_CONFIG
    with pytest.raises(paywire.PaywireError) as e:
        paywire.Chain.settle(body(), NOW, bytes(32))
    assert e.value.code == paywire.Result.INVALID_PRIVATE_KEY
