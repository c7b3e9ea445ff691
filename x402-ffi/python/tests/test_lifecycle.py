"""The paid-request lifecycle through ctypes (paywire.Lifecycle), without a
server: a host loop over a MemoryStore and a scripted facilitator."""

import pytest

import paywire
from paywire import Lifecycle, SettleOutcome, SettleReply

NOW = 1750000000
ROUTE = {
    "x402Version": 2,
    "resource": {"url": "https://api.example.com/data"},
    "accepts": [{
        "scheme": "exact", "network": "eip155:84532", "amount": "10000",
        "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
        "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "maxTimeoutSeconds": 60,
        "extra": {"name": "USDC", "version": "2"},
    }],
}
SETTLED = b'{"success":true,"transaction":"0x' + b"ab" * 32 + b'","network":"eip155:84532"}'


def payment(n):
    return paywire.create_payment(ROUTE, bytes([0x11] * 32), NOW, nonce=bytes([n] * 32)).value


def request(pay=None, method="GET"):
    headers = [["PAYMENT-SIGNATURE", pay]] if pay else []
    return {"method": method, "url": "https://api.example.com/data", "headers": headers}


def run(store, req, reply, handler_status=200, route=ROUTE):
    """Drives one request; returns (the respond step, settle calls, handler runs)."""
    settles = handled = 0
    answer = None
    with Lifecycle(route, req, NOW, settings=paywire.LifecycleSettings(settle_timeout_seconds=5)) as life:
        for _ in range(64):
            step = life.next()
            a = step["action"]
            if a == "lookup":
                life.feed_record(store.get(step["key"]))
            elif a == "swap":
                life.feed_swap(*store.swap(step["key"], step["expected"], step["new"]))
            elif a == "handle":
                handled += 1
                life.feed_handler(handler_status, NOW + 1)
            elif a == "settle":
                settles += 1
                assert step["timeoutMs"] == 5000
                life.feed_settle(reply, NOW + 2)
            elif a == "respond":
                answer = step
                life.responded()
            else:
                assert a == "done"
                break
    return answer, settles, handled


def test_unpaid_then_paid_then_spent():
    store = paywire.MemoryStore()
    a, s, h = run(store, request(), None)
    assert a["status"] == 402 and (s, h) == (0, 0) and not store.records()
    assert dict(a["headers"])["Cache-Control"] == "no-store"
    p = payment(0x21)
    a, s, h = run(store, request(p), SettleReply(SettleOutcome.ANSWERED, 200, SETTLED))
    assert a["status"] == 200 and a["useHandlerResponse"] and (s, h) == (1, 1)
    assert dict(a["headers"])["Cache-Control"] == "private, no-store" and "PAYMENT-RESPONSE" in dict(a["headers"])
    (record,) = store.records().values()
    info = paywire.read_record(record)
    assert info.state == "delivered" and info.amount == "10000" and info.payment_response
    assert not paywire.record_forgettable(record, NOW) and paywire.record_forgettable(record, NOW + 86400)
    a, s, h = run(store, request(p), SettleReply(SettleOutcome.ANSWERED, 200, SETTLED))
    assert a["status"] == 409 and a["reason"] == "payment_already_delivered" and (s, h) == (0, 0)
    assert store.forget(NOW + 86400) == 1 and not store.records()


@pytest.mark.parametrize("reply, status, reason, state", [
    (SettleReply(SettleOutcome.NOT_SENT, detail="refused"), 502, "facilitator_unavailable", None),
    (SettleReply(SettleOutcome.NO_ANSWER, detail="timed out"), 502, "settlement_uncertain", "uncertain"),
    (SettleReply(SettleOutcome.ANSWERED, 200, b"\xff\xfe not UTF-8"), 502, "settlement_uncertain", "uncertain"),
    (SettleReply(SettleOutcome.ANSWERED, 404, b"not found"), 502, "facilitator_error", None),
])
def test_a_failing_facilitator_never_delivers(reply, status, reason, state):
    store = paywire.MemoryStore()
    a, s, h = run(store, request(payment(0x22)), reply)
    assert (a["status"], a["reason"], s, h) == (status, reason, 1, 1)
    assert not a["useHandlerResponse"] and "PAYMENT-RESPONSE" not in dict(a["headers"])
    infos = [paywire.read_record(r) for r in store.records().values()]
    assert [i.state for i in infos] == ([state] if state else [])
    if state == "uncertain":
        assert a["uncertainRecord"] and infos[0].cause and store.uncertain() == infos
        if reply.detail:
            assert reply.detail in infos[0].cause


def test_a_failing_handler_is_not_settled():
    store = paywire.MemoryStore()
    a, s, h = run(store, request(payment(0x23)), None, handler_status=503)
    assert (a["status"], a["useHandlerResponse"], s, h) == (503, True, 0, 1) and not store.records()


def test_misuse_is_reported():
    with pytest.raises(paywire.PaywireError) as e:
        paywire.check_route({"x402Version": 2, "resource": {"url": "u"}, "accepts": []})
    assert e.value.code == paywire.Result.INVALID_PAYMENT_REQUIREMENTS
    assert e.value.reason == "invalid_payment_requirements"
    with pytest.raises(paywire.PaywireError) as e:
        Lifecycle(ROUTE, {"method": "GET"}, NOW)
    assert e.value.reason == "invalid_payload"
    with pytest.raises(paywire.PaywireError) as e:
        Lifecycle(ROUTE, request(), NOW, settings=paywire.LifecycleSettings(facilitator_addresses=["x"]))
    assert e.value.code == paywire.Result.INVALID_CONFIG and e.value.reason is None
    life = Lifecycle(ROUTE, request(payment(0x24)), NOW, id="my-request")
    step = life.next()
    assert step["action"] == "lookup" and life.key == step["key"] and life.verdict["isValid"] is True
    with pytest.raises(paywire.PaywireError) as e:
        life.feed_handler(200, NOW)
    assert e.value.code == paywire.Result.INVALID_PAYLOAD and "not the answer" in e.value.message
    with pytest.raises(paywire.PaywireError) as e:
        life.feed_settle(SettleReply(SettleOutcome.ANSWERED, 200, SETTLED), NOW)
    assert e.value.code == paywire.Result.INVALID_ARGUMENT
    assert life.next() == step
    life.close()
    life.close()
    with pytest.raises(paywire.PaywireError):
        life.next()
    with pytest.raises(paywire.PaywireError) as e:
        paywire.read_record("{}")
    assert e.value.reason == "invalid_payload"
    assert paywire.record_forgettable("garbage", NOW) is False
