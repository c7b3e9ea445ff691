"""batch-settlement on an EVM network through the ASGI paywall: payments made
by the core's client (x402-core/tests/vectors/batch-settlement-paywall.json)
against a facilitator double on 127.0.0.1 answering POST /verify and POST
/settle as a facilitator of that scheme does, the channel's record in a
MemoryStore or a SQLiteStore. The paywall is called as an ASGI app, in
process, with a plain ASGI handler behind it."""

import asyncio
import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import paywire

from conftest import VECTORS

DOC = json.loads((VECTORS / "batch-settlement-paywall.json").read_text(encoding="utf-8"))
PAYMENTS = {v["name"]: v["header"] for v in DOC["vectors"]}
RQ = DOC["paymentRequirements"]
CONTENT = b"the paid text"
TX = "0x" + "ab" * 32


def channel_state(balance):
    return {"channelId": DOC["channelId"], "balance": balance, "totalClaimed": "0",
            "withdrawRequestedAt": 0, "refundNonce": "0"}


class Facilitator:
    """POST /verify: valid (the channel before the deposit) unless `verify`
    says otherwise ((status, body text)); POST /settle: settled, with the
    channel's state after the deposit."""

    def __init__(self, verify=None):
        self.verify = verify
        self.calls = []  # (path, body, Authorization)
        self.lock = threading.Lock()
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    req = json.loads(raw)
                except ValueError:
                    req = {}
                with double.lock:
                    double.calls.append((self.path, req, self.headers.get("Authorization")))
                if self.path == "/verify" and double.verify is not None:
                    status, text = double.verify
                    data = text.encode()
                elif self.path == "/verify":
                    status, data = 200, json.dumps({"isValid": True, "payer": DOC["payer"],
                                                    "extra": channel_state("0")}).encode()
                elif self.path == "/settle":
                    status, data = 200, json.dumps({
                        "success": True, "payer": DOC["payer"], "transaction": TX, "network": RQ["network"],
                        "extra": {"channelState": channel_state("10000")}}).encode()
                else:
                    status, data = 404, b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def paths(self):
        with self.lock:
            return [c[0] for c in self.calls]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Shop:
    """The paywall in front of a handler that counts its calls."""

    def __init__(self, facilitator, records):
        self.handled = 0
        self.records = records

        async def app(scope, receive, send):
            self.handled += 1
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": CONTENT})

        route = paywire.Route(path="/report", scheme=RQ["scheme"], network=RQ["network"], asset=RQ["asset"],
                              pay_to=RQ["payTo"], amount=RQ["amount"], extra=RQ["extra"],
                              max_timeout_seconds=RQ["maxTimeoutSeconds"])
        self.paywall = paywire.Paywall(app, routes=[route], facilitator=facilitator, records=records,
                                       clock=lambda: DOC["now"])

    def get(self, payment=None):
        """GET /report, paying with `payment`: (status, headers, body)."""
        headers = [(b"host", b"shop.example")]
        if payment is not None:
            headers.append((b"payment-signature", payment.encode()))
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": "/report", "raw_path": b"/report", "query_string": b"",
                 "root_path": "", "headers": headers, "server": ("shop.example", 80)}
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        asyncio.run(self.paywall(scope, receive, send))
        start = next(m for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return start["status"], {n.decode().lower(): v.decode() for n, v in start["headers"]}, body

    def charged(self):
        rec = self.records.get(f"batch-settlement/{RQ['network']}/{DOC['channelId']}")
        return None if rec is None else json.loads(rec)["chargedCumulativeAmount"]


def unb64(v):
    return json.loads(base64.b64decode(v))


@pytest.fixture(params=["memory", "sqlite"])
def records(request, tmp_path):
    if request.param == "memory":
        yield paywire.MemoryStore()
    else:
        store = paywire.SQLiteStore(tmp_path / "records.db")
        yield store
        store.close()


@pytest.fixture
def facilitator():
    f = Facilitator()
    yield f
    f.close()


def test_deposit_then_vouchers(facilitator, records):
    shop = Shop(paywire.HTTPFacilitator(facilitator.url, api_key="k1"), records)
    status, headers, _ = shop.get()
    assert status == 402

    # A deposit: verified, handled, settled, committed.
    status, headers, body = shop.get(PAYMENTS["deposit"])
    assert (status, body) == (200, CONTENT)
    assert facilitator.paths() == ["/verify", "/settle"]
    for _, req, auth in facilitator.calls:
        assert req["paymentPayload"]["payload"]["type"] == "deposit"
        assert req["paymentRequirements"]["scheme"] == "batch-settlement"
        assert auth == "Bearer k1"
    pr = unb64(headers["payment-response"])
    assert pr["success"] is True and pr["transaction"] == TX
    assert pr["extra"]["chargedAmount"] == "1000"
    assert pr["extra"]["channelState"]["chargedCumulativeAmount"] == "1000"
    assert pr["extra"]["channelState"]["balance"] == "10000"
    assert shop.charged() == "1000" and shop.handled == 1

    # The next voucher: checked here, charged by the record's swap, no facilitator call.
    status, headers, body = shop.get(PAYMENTS["voucher2000"])
    assert (status, body) == (200, CONTENT)
    pr = unb64(headers["payment-response"])
    assert pr["transaction"] == "" and pr["extra"]["channelState"]["chargedCumulativeAmount"] == "2000"
    assert len(facilitator.calls) == 2
    assert shop.charged() == "2000" and shop.handled == 2

    # A voucher off the charged total: 402 with the channel's state, no handler.
    status, headers, body = shop.get(PAYMENTS["voucher5000"])
    assert status == 402
    required = json.loads(body)
    assert required == unb64(headers["payment-required"])
    assert required["error"] == "invalid_batch_settlement_evm_cumulative_amount_mismatch"
    state = required["accepts"][0]["extra"]["channelState"]
    assert state["channelId"] == DOC["channelId"] and state["chargedCumulativeAmount"] == "2000"
    assert required["accepts"][0]["extra"]["receiverAuthorizer"] == RQ["extra"]["receiverAuthorizer"]
    assert len(facilitator.calls) == 2 and shop.handled == 2 and shop.charged() == "2000"

    # The voucher signing the next total is accepted.
    status, _, _ = shop.get(PAYMENTS["voucher3000"])
    assert status == 200 and shop.charged() == "3000"


@pytest.mark.parametrize("verify,want", [
    ((200, json.dumps({"isValid": False, "payer": DOC["payer"],
                       "invalidReason": "invalid_batch_settlement_evm_deposit_insufficient_balance"})), 402),
    ((500, '{"error":"down"}'), 502),
    ((200, "<html>"), 502),
])
def test_a_failed_verification_delivers_nothing(records, verify, want):
    f = Facilitator(verify=verify)
    try:
        shop = Shop(paywire.HTTPFacilitator(f.url), records)
        status, headers, body = shop.get(PAYMENTS["deposit"])
        assert status == want
        assert CONTENT not in body and "payment-response" not in headers
        if want == 402:
            assert json.loads(body)["error"] == "invalid_batch_settlement_evm_deposit_insufficient_balance"
        assert f.paths() == ["/verify"]
        assert shop.handled == 0 and shop.charged() is None
    finally:
        f.close()


def test_a_facilitator_not_reached_delivers_nothing(records):
    f = Facilitator()
    url = f.url
    f.close()
    shop = Shop(paywire.HTTPFacilitator(url), records)
    status, headers, body = shop.get(PAYMENTS["deposit"])
    assert status == 502 and CONTENT not in body and shop.handled == 0 and shop.charged() is None


def test_a_facilitator_that_cannot_verify_is_refused():
    class SettleOnly:
        def settle(self, body, timeout):
            return paywire.SettleReply(paywire.SettleOutcome.NOT_SENT)

    with pytest.raises(ValueError, match="verify"):
        Shop(SettleOnly(), paywire.MemoryStore())
    route = paywire.Route(path="/paid", network="eip155:84532", asset=RQ["asset"], pay_to=RQ["payTo"],
                          amount=10000, extra={"name": "USDC", "version": "2"})
    with pytest.raises(ValueError, match="verify"):
        paywire.Paywall(None, routes=[route], facilitator=SettleOnly(),
                        settings=paywire.LifecycleSettings(verify_at_facilitator=True))
