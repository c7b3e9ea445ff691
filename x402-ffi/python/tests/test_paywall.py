"""The ASGI paywall in FastAPI under uvicorn on 127.0.0.1, and the httpx
transports that pay, against a facilitator double on 127.0.0.1 (the standard
library's HTTP server) that misbehaves in every way of
x402-core/tests/vectors/paywall.json (the facilitator table of the READMEs).

scripts/test-ffi.sh sets PAYWIRE_REQUIRE_FRAMEWORKS=1: there a missing
framework is a failure, not a skip.
"""

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

if not os.environ.get("PAYWIRE_REQUIRE_FRAMEWORKS"):
    for _m in ("fastapi", "uvicorn", "httpx"):
        pytest.importorskip(_m)

import httpx  # noqa: E402

import paywire  # noqa: E402
from paywire.httpx import AsyncPayingTransport, PayingTransport  # noqa: E402

from conftest import vectors  # noqa: E402

TESTS = Path(__file__).resolve().parent
CONTENT = "the paid text"
KEY = bytes(31) + b"\x42"
POLICY = paywire.Policy(max_amount=50_000, networks=["eip155:84532"])
API_KEY = "k-123"
SETTLED = {"status": 200, "body": {"settled": True}}


# ---------------------------------------------------------------------------
# The facilitator double.

class Double:
    """POST /settle answered as `mode` says (a vector's `reply`, plus `delay`);
    GET /supported and POST /verify answer as a working facilitator does."""

    def __init__(self):
        self.mode = SETTLED
        self.calls = []
        self.auth = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.server = None
        self.port = 0
        self._serve()

    def _serve(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, doc):
                data = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                # GET /supported (an official resource server asks first): exact on Base Sepolia.
                self.answer({"kinds": [{"x402Version": 2, "scheme": "exact", "network": "eip155:84532"}],
                             "extensions": [], "signers": {}})

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    req = json.loads(raw)
                except ValueError:
                    req = {}
                if self.path.rstrip("/").endswith("/verify"):
                    # Verification (an official resource server asks before settling): valid.
                    auth = req.get("paymentPayload", {}).get("payload", {}).get("authorization", {})
                    self.answer({"isValid": True, "payer": auth.get("from")})
                    return
                with double.lock:
                    double.calls.append(req)
                    double.auth.append(self.headers.get("Authorization"))
                    m = dict(double.mode)
                if m.get("hang"):
                    double.release.wait(30)
                    self.close_connection = True
                    return
                if m.get("delay"):
                    time.sleep(m["delay"])
                body = m.get("body")
                data = body.encode() if isinstance(body, str) else settled_body(req)
                ctype = m.get("contentType", "application/json")
                head = (f"HTTP/1.1 {m['status']} Whatever\r\nContent-Type: {ctype}\r\n"
                        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode()
                if m.get("cutOff"):
                    self.wfile.write(head + data[: len(data) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(head + data)
                self.close_connection = True

        for _ in range(100):
            try:
                self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
                break
            except OSError:
                time.sleep(0.02)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def set(self, mode):
        """Switches the behaviour; `refuse` stops listening, anything else listens again."""
        with self.lock:
            self.mode = mode
        if mode.get("refuse") and self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        elif not mode.get("refuse") and self.server is None:
            self._serve()

    def settles(self):
        with self.lock:
            return len(self.calls)

    def close(self):
        self.release.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def settled_body(req):
    auth = req.get("paymentPayload", {}).get("payload", {}).get("authorization", {})
    return json.dumps({"success": True, "transaction": "0x" + "ab" * 32,
                       "network": req.get("paymentRequirements", {}).get("network"),
                       "payer": auth.get("from")}).encode()


# ---------------------------------------------------------------------------
# The shop: FastAPI under uvicorn, started and stopped by its PID.

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Shop:
    def __init__(self, facilitator_url, db):
        self.port = free_port()
        env = dict(os.environ, PAYWIRE_TEST_FACILITATOR=facilitator_url, PAYWIRE_TEST_DB=str(db),
                   PAYWIRE_TEST_API_KEY=API_KEY)
        # Its log goes to a file (a pipe nobody reads could fill and stop it).
        self.log = open(Path(db).parent / f"uvicorn-{self.port}.log", "w+b")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "shop_app:app", "--app-dir", str(TESTS), "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", "--no-access-log",
             "--timeout-graceful-shutdown", "2"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"uvicorn exited: {self.log.read().decode(errors='replace')}")
            try:
                if httpx.get(f"{self.url}/free", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("uvicorn did not answer within 30 s")
            time.sleep(0.05)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def state(self, store):
        return httpx.get(f"{self.url}/_state/{store}", timeout=5).json()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


@pytest.fixture(scope="module")
def double():
    d = Double()
    yield d
    d.close()


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return tmp_path_factory.mktemp("paywall") / "records.db"


@pytest.fixture(scope="module")
def shop(double, db):
    s = Shop(double.url, db)
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def settled_again(double):
    yield
    double.set(SETTLED)


# ---------------------------------------------------------------------------
# Helpers.

def unb64(v):
    return json.loads(base64.b64decode(v, validate=True))


def reason_of(r):
    pr = r.headers.get("payment-required")
    if pr:
        return unb64(pr).get("error", "")
    try:
        return r.json().get("error", "")
    except ValueError:
        return ""


def paying_client(policy=POLICY, sent=None, **kw):
    def on_payment(request, payment):
        if sent is not None:
            sent.append(payment.value)

    return httpx.Client(transport=PayingTransport(KEY, policy, on_payment=on_payment, **kw), timeout=20)


def present(url, payment, method="GET"):
    return httpx.request(method, url, headers={"PAYMENT-SIGNATURE": payment}, timeout=20)


def nonce_of(payment):
    return unb64(payment)["payload"]["authorization"]["nonce"].lower()


def record_of(shop, store, nonce):
    for r in shop.state(store)["records"]:
        info = paywire.read_record(r)
        if info.nonce == nonce:
            return info
    return None


class HoldPaid(httpx.BaseTransport):
    """Sends unpaid requests; keeps a paid one instead of sending it."""

    def __init__(self):
        self.inner = httpx.HTTPTransport()
        self.held = []

    def handle_request(self, request):
        if "payment-signature" in request.headers:
            self.held.append(request.headers["payment-signature"])
            raise httpx.ConnectError("held", request=request)
        return self.inner.handle_request(request)


def unused_payment(url, policy=POLICY):
    """A payment the paying client makes for `url`, held instead of sent."""
    hold = HoldPaid()
    with httpx.Client(transport=PayingTransport(KEY, policy, transport=hold)) as c:
        with pytest.raises(httpx.ConnectError):
            c.get(url)
    assert len(hold.held) == 1
    return hold.held[0]


# ---------------------------------------------------------------------------
# The tests.

@pytest.mark.parametrize("store", ["mem", "sql"])
def test_every_facilitator_behaviour(shop, double, store):
    url = f"{shop.url}/{store}/paid"
    rows = vectors("paywall.json")
    assert len(rows) >= 20
    for v in rows:
        name, expect = v["name"], v["expect"]
        double.set(v["reply"])
        before = double.settles()
        sent = []
        with paying_client(sent=sent) as c:
            r = c.get(url)
        assert len(sent) == 1, f"{name}: the client did not pay once: {r.status_code}"
        payment = sent[0]
        assert r.status_code == expect["status"], f"{name}: {r.status_code} {r.text}"
        delivered = bool(expect.get("delivered"))
        assert ("payment-response" in r.headers) == delivered, name
        assert (r.text == CONTENT) == delivered, f"{name}: {r.text}"
        if delivered:
            assert r.headers["cache-control"] == "private, no-store", name
            pr = unb64(r.headers["payment-response"])
            assert pr["success"] is True and pr["transaction"], name
        else:
            assert reason_of(r).startswith(expect["reason"]), f"{name}: {reason_of(r)}"
        want = before if v["reply"].get("refuse") else before + 1
        assert double.settles() == want, f"{name}: {double.settles() - before} settle calls"
        info = record_of(shop, store, nonce_of(payment))
        assert (info.state if info else "none") == expect["record"], name
        if expect["record"] == "uncertain":
            told = [u for u in shop.state(store)["uncertain"] if u["nonce"] == info.nonce]
            assert told and told[0]["amount"] == "10000" and told[0]["cause"], f"{name}: {told}"
            assert info.payer == paywire.private_key_address(KEY).lower(), name
        again = expect.get("again")
        if again:
            before = double.settles()
            a = present(url, payment)
            assert a.status_code == again["status"], f"{name} again: {a.status_code} {a.text}"
            assert reason_of(a).startswith(again["reason"]), f"{name} again: {reason_of(a)}"
            assert ("payment-response" in a.headers) == bool(again.get("paymentResponse")), name
            assert a.text != CONTENT, name
            # Only a payment refused before anything moved goes back to the facilitator.
            assert double.settles() == before + (1 if a.status_code == 402 else 0), f"{name} again"
            if a.status_code == 502:
                assert "payment-required" not in a.headers, f"{name}: a 502 inviting payment"
        recovered = expect.get("recovered")
        if recovered:
            double.set(SETTLED)
            a = present(url, payment)
            assert a.status_code == recovered["status"] and a.text == CONTENT, f"{name} recovered: {a.text}"
    assert set(double.auth) == {f"Bearer {API_KEY}"}


def twenty_at_once(urls, payment):
    n = 20
    barrier = threading.Barrier(n)
    got = [None] * n

    def one(i):
        barrier.wait(10)
        got[i] = present(urls[i % len(urls)], payment)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    ok = [r for r in got if r is not None and r.status_code == 200 and r.text == CONTENT]
    conflict = [r for r in got if r is not None and r.status_code == 409
                and reason_of(r) in ("payment_in_progress", "payment_already_delivered")]
    return ok, conflict, got


@pytest.mark.parametrize("store", ["mem", "sql"])
def test_one_payment_twenty_times_at_once(shop, double, store):
    url = f"{shop.url}/{store}/paid"
    payment = unused_payment(url)
    double.set({"status": 200, "body": {"settled": True}, "delay": 0.3})
    before, handled = double.settles(), shop.state(store)["handled"]
    ok, conflict, got = twenty_at_once([url], payment)
    assert len(ok) == 1 and len(conflict) == 19, [(r.status_code, r.text) for r in got if r is not None]
    assert double.settles() == before + 1
    assert shop.state(store)["handled"] == handled + 1
    assert record_of(shop, store, nonce_of(payment)).state == "delivered"


def test_one_payment_twenty_times_at_once_across_two_workers(shop, double, db):
    """Two uvicorn processes sharing the SQLite store: still one settlement."""
    second = Shop(double.url, db)
    try:
        urls = [f"{shop.url}/sql/paid", f"{second.url}/sql/paid"]
        payment = unused_payment(urls[0])
        double.set({"status": 200, "body": {"settled": True}, "delay": 0.3})
        before = double.settles()
        handled = shop.state("sql")["handled"] + second.state("sql")["handled"]
        ok, conflict, got = twenty_at_once(urls, payment)
        assert len(ok) == 1 and len(conflict) == 19, [(r.status_code, r.text) for r in got if r is not None]
        assert double.settles() == before + 1
        assert shop.state("sql")["handled"] + second.state("sql")["handled"] == handled + 1
    finally:
        second.stop()


def test_a_payment_for_one_route_is_refused_on_another(shop, double):
    base = f"{shop.url}/mem"
    payment = unused_payment(f"{base}/paid")
    before, handled = double.settles(), shop.state("mem")["handled"]
    for path, reason in (("/dear", "invalid_exact_evm_payload_authorization_value_mismatch"),
                         ("/elsewhere", "invalid_exact_evm_recipient_mismatch")):
        r = present(base + path, payment)
        assert r.status_code == 402 and reason_of(r).startswith(reason), f"{path}: {reason_of(r)}"
    assert double.settles() == before and shop.state("mem")["handled"] == handled
    assert record_of(shop, "mem", nonce_of(payment)) is None
    r = present(f"{base}/paid", payment)
    assert r.status_code == 200 and r.text == CONTENT
    assert present(f"{base}/dear", payment).status_code == 402
    r = present(f"{base}/paid", payment)
    assert r.status_code == 409 and reason_of(r) == "payment_already_delivered"
    assert double.settles() == before + 1


def test_handler_failures_head_and_free_paths(shop, double):
    assert httpx.get(f"{shop.url}/free").text == "free"
    r = httpx.get(f"{shop.url}/sql/paid")
    assert r.status_code == 402 and r.headers["cache-control"] == "no-store"
    assert "payment-required" in r.headers
    for fail, status in (("404", 404), ("raise", 500)):
        before = double.settles()
        sent = []
        with paying_client(sent=sent) as c:
            r = c.get(f"{shop.url}/sql/paid", params={"fail": fail})
        assert r.status_code == status and "payment-response" not in r.headers, f"{fail}: {r.text}"
        assert double.settles() == before, fail
        assert record_of(shop, "sql", nonce_of(sent[0])) is None, fail
        ok = present(f"{shop.url}/sql/paid", sent[0])
        assert ok.status_code == 200 and ok.text == CONTENT, f"{fail}, then: {ok.text}"
    before = double.settles()
    with paying_client() as c:
        r = c.head(f"{shop.url}/sql/paid")
    assert r.status_code == 402 and double.settles() == before


def test_paying_transports(shop, double):
    url = f"{shop.url}/mem/paid"
    # Over the cap, or another network: the 402 as it came.
    for policy in (paywire.Policy(max_amount=9_999), paywire.Policy(max_amount=50_000, networks=["eip155:8453"])):
        sent = []
        with paying_client(policy, sent=sent) as c:
            r = c.get(url)
        assert r.status_code == 402 and not sent and "payment-required" in r.headers
    with pytest.raises(ValueError):
        PayingTransport(KEY, paywire.Policy())
    # A body is sent again with the payment.
    with paying_client() as c:
        r = c.post(url, content=b"the question")
    assert r.status_code == 200 and r.text == f"{CONTENT} / the question"
    # The async transport.
    import asyncio

    async def pay():
        async with httpx.AsyncClient(transport=AsyncPayingTransport(KEY, POLICY), timeout=20) as c:
            return await c.get(url)

    r = asyncio.run(pay())
    assert r.status_code == 200 and r.text == CONTENT and "payment-response" in r.headers
    # An uncertain answer comes back: the client does not pay twice.
    double.set({"status": 503, "body": {"settled": True}})
    sent = []
    with paying_client(sent=sent) as c:
        r = c.get(url)
    assert r.status_code == 502 and len(sent) == 1


def test_a_solana_route(shop, double):
    from paywire.httpx import SolanaPayer

    from conftest import VECTORS

    p = json.loads((VECTORS / "svm.json").read_text(encoding="utf-8"))["payments"][0]
    c = p["client"]
    solana = SolanaPayer(c["payerSeed"], lambda _offer: paywire.SvmFacts(c["tokenProgram"], c["decimals"]))
    before = double.settles()
    sent = []
    with paying_client(paywire.Policy(max_amount=1000), sent=sent, solana=solana) as client:
        r = client.get(f"{shop.url}/mem/sol")
    assert r.status_code == 200 and r.text == CONTENT, (r.status_code, reason_of(r))
    assert double.settles() == before + 1 and len(sent) == 1
    settled = double.calls[-1]
    assert settled["paymentRequirements"]["network"].startswith("solana:")
    assert "transaction" in settled["paymentPayload"]["payload"]
    records = [json.loads(v) if isinstance(v, str) else v for v in shop.state("mem")["records"]]
    assert any(c["payer"] in json.dumps(rec) for rec in records)
    # The same payment again: the earlier result, no second settlement.
    again = present(f"{shop.url}/mem/sol", sent[0])
    assert again.status_code == 409 and double.settles() == before + 1
    # Without the Solana payer: the 402 as it came.
    with paying_client(paywire.Policy(max_amount=1000)) as client:
        assert client.get(f"{shop.url}/mem/sol").status_code == 402


def test_upto_route(shop, double):
    url = f"{shop.url}/sql/metered"
    sent = []
    with paying_client(paywire.Policy(max_amount=10_000), sent=sent) as c:
        assert c.get(url).status_code == 402 and not sent  # upto not allowed
    before = double.settles()
    with paying_client(paywire.Policy(max_amount=10_000, allow_upto=True), sent=sent) as c:
        r = c.get(url)
    assert r.status_code == 200 and r.text == CONTENT and "payment-response" in r.headers
    assert double.settles() == before + 1
    with double.lock:
        settled = double.calls[-1]["paymentRequirements"]
    assert settled["scheme"] == "upto" and settled["amount"] == "10000"


@pytest.mark.parametrize("store", ["mem", "sql"])
def test_a_payment_identifier_gets_the_earlier_result_and_a_reused_one_is_refused(shop, double, store):
    url = f"{shop.url}/{store}/ided"
    first = unused_payment(url)
    ident = unb64(first)["extensions"]["payment-identifier"]["info"]["id"]
    before, handled = double.settles(), shop.state(store)["handled"]
    r = present(url, first)
    assert r.status_code == 200 and r.text == CONTENT
    again = present(url, first)
    assert again.status_code == 409 and reason_of(again) == "payment_already_delivered"
    assert again.headers["payment-response"] == r.headers["payment-response"]
    other = unb64(unused_payment(url))
    other["extensions"]["payment-identifier"]["info"]["id"] = ident
    refused = present(url, base64.b64encode(json.dumps(other).encode()).decode())
    assert refused.status_code == 409 and reason_of(refused) == "payment_identifier_conflict"
    assert "payment-response" not in refused.headers
    assert double.settles() == before + 1 and shop.state(store)["handled"] == handled + 1


def test_an_upfront_route_settles_first_and_a_failed_handler_does_not_ask_to_pay_again(shop, double):
    url = f"{shop.url}/mem/upfront"
    payment = unused_payment(url)
    before = double.settles()
    failed = present(f"{url}?fail=raise", payment)
    assert failed.status_code == 500 and "payment-response" in failed.headers, failed.text
    assert "payment-required" not in failed.headers
    assert double.settles() == before + 1
    served = present(url, payment)
    assert served.status_code == 200 and served.text == CONTENT
    assert double.settles() == before + 1


def test_sqlite_store(tmp_path):
    a = paywire.SQLiteStore(tmp_path / "r.db")
    b = paywire.SQLiteStore(tmp_path / "r.db")  # another process would see the same
    assert a.get("k") is None
    assert a.swap("k", "x", "a") == (False, None)
    assert a.swap("k", None, "a") == (True, None)
    assert b.swap("k", None, "b") == (False, "a")
    assert b.swap("k", "a", None) == (True, None)
    assert a.get("k") is None
    a.close()
    b.close()


def test_bad_configurations_are_refused():
    fac = paywire.HTTPFacilitator("http://127.0.0.1:1")

    def route(**kw):
        d = dict(path="/a", network="eip155:84532", asset="0x036CbD53842c5426634e7929541eC2318f3dCF7e",
                 pay_to="0x209693Bc6afc0C5328bA36FaF03C514EF312287C", amount=1)
        d.update(kw)
        return paywire.Route(**d)

    app = object()
    for routes in ([route(path="a")], [route(amount="ten")], [route(pay_to="merchant")],
                   [route(scheme="lottery")], [route(), route()]):
        with pytest.raises((ValueError, paywire.PaywireError)):
            paywire.Paywall(app, routes=routes, facilitator=fac)
    with pytest.raises(paywire.PaywireError) as e:
        paywire.Paywall(app, routes=[route()], facilitator=fac,
                        settings=paywire.LifecycleSettings(facilitator_addresses=["nope"]))
    assert e.value.code == paywire.Result.INVALID_CONFIG
