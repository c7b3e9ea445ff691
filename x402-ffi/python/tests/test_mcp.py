"""Paid MCP tools (paywire.mcp) with the mcp SDK 2.x: a real MCPServer and
Client, in one process and over stdio (the server a subprocess), against the
facilitator double of test_paywall.py on 127.0.0.1: what a paid call delivers
and settles, every row of the facilitator-failure table
(x402-core/tests/vectors/paywall.json) as tool results, the forms of payment
a server accepts, the client's policy, and one payment sent with 20
concurrent calls.

scripts/test-ffi.sh sets PAYWIRE_REQUIRE_FRAMEWORKS=1: there a missing
framework is a failure, not a skip.
"""

import base64
import json
import os
import sys
from pathlib import Path

import pytest

if not os.environ.get("PAYWIRE_REQUIRE_FRAMEWORKS"):
    pytest.importorskip("mcp")
    pytest.importorskip("httpx")

import anyio  # noqa: E402
from mcp import StdioServerParameters  # noqa: E402
from mcp.client.client import Client  # noqa: E402
from mcp.server.mcpserver import MCPServer  # noqa: E402

import paywire  # noqa: E402
from paywire.lifecycle import LifecycleSettings  # noqa: E402
from mcp.server.mcpserver import Context  # noqa: E402
from mcp_types import CallToolResult, InputRequiredResult, TextContent  # noqa: E402
from paywire.mcp import (  # noqa: E402
    PaidTools, PayingClient, PaymentPolicyError, PaymentRefusedError, PaymentUncertainError, payment_required_of,
)
from paywire.paywall import HTTPFacilitator, MemoryStore  # noqa: E402

from conftest import vectors  # noqa: E402
from test_paywall import SETTLED, Double  # noqa: E402

TESTS = Path(__file__).resolve().parent
NETWORK = "eip155:84532"
USDC = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
PRICE = 10_000
KEY = bytes(31) + b"\x43"
PAYER = paywire.private_key_address(KEY)
POLICY = paywire.Policy(max_amount=PRICE, networks=[NETWORK])


@pytest.fixture
def double():
    d = Double()
    yield d
    d.close()


def paid_server(double, **settings):
    server = MCPServer("forecast")
    records = MemoryStore()
    uncertain = []
    paid = PaidTools(server, facilitator=HTTPFacilitator(double.url), records=records,
                     settings=LifecycleSettings(settle_timeout_seconds=2, **settings),
                     on_uncertain=lambda key, info: uncertain.append(info))

    @paid.tool(network=NETWORK, asset=USDC, pay_to=PAY_TO, amount=PRICE,
               extra={"name": "USDC", "version": "2"}, max_timeout_seconds=300)
    async def forecast(city: str) -> str:
        """Tomorrow's weather."""
        return f"sunny in {city}"

    @paid.tool(network=NETWORK, asset=USDC, pay_to=PAY_TO, amount=PRICE,
               extra={"name": "USDC", "version": "2"}, max_timeout_seconds=300)
    async def broken(city: str) -> str:
        """Always fails."""
        raise RuntimeError("the tool broke")

    @paid.tool(accepts=[{"scheme": "exact", "network": NETWORK, "amount": str(PRICE), "asset": USDC,
                         "payTo": PAY_TO, "maxTimeoutSeconds": 300, "extra": {"name": "USDC", "version": "2"}}])
    async def refuses(city: str) -> CallToolResult:
        """Answers an error result of its own."""
        return CallToolResult(content=[TextContent(type="text", text=f"no forecast for {city}")], is_error=True)

    @paid.tool(network=NETWORK, asset=USDC, pay_to=PAY_TO, amount=PRICE,
               extra={"name": "USDC", "version": "2"}, max_timeout_seconds=300)
    async def confirm(city: str, ctx: Context) -> "str | InputRequiredResult":
        """Asks for one more round before it answers."""
        if ctx.request_state is None:
            return InputRequiredResult(request_state="round 2")
        return f"confirmed for {city}"

    @server.tool()
    async def free(city: str) -> str:
        """Not priced."""
        return f"free in {city}"

    return server, records, uncertain


def run(fn):
    return anyio.run(fn)


def text_of(result):
    return result.content[0].text


async def payment_for(client):
    unpaid = await client.call_tool("forecast", {"city": "Porto"})
    offer, _ = payment_required_of(unpaid)
    value = paywire.create_payment(offer, KEY, paywire_now(), policy=POLICY).value
    return paywire.decode_header(paywire.HeaderKind.PAYMENT_SIGNATURE, value)


def paywire_now():
    import time

    return time.time()


def call_with(client, payment):
    return client.call_tool("forecast", {"city": "Porto"}, meta={"x402/payment": payment})


def assert_answer(name, result, expect):
    dumped = result.model_dump(by_alias=True, mode="json")
    text = json.dumps(dumped)
    if expect["status"] == 200:
        assert not result.is_error, f"{name}: {text}"
        assert text_of(result) == "sunny in Porto", name
        assert result.meta["x402/payment-response"]["success"] is True, name
        return
    assert result.is_error, f"{name}: {text}"
    assert "sunny" not in text, f"{name}: no content unless settled"
    if expect["status"] == 402:
        asked = payment_required_of(result)
        assert asked is not None, f"{name}: {text}"
        assert asked[0]["error"].startswith(expect["reason"]), f"{name}: {asked[0]['error']}"
    else:
        assert payment_required_of(result) is None, f"{name}: {text}"
        assert "accepts" not in text, f"{name}: {text}"
        assert result.structured_content["error"] == expect["reason"], f"{name}: {text}"
        assert bool((result.meta or {}).get("x402/payment-response")) == bool(expect.get("paymentResponse")), name


def test_unpaid_then_paid_in_process(double):
    server, records, _ = paid_server(double)

    async def main():
        async with Client(server) as client:
            unpaid = await client.call_tool("forecast", {"city": "Lisbon"})
            assert unpaid.is_error
            assert unpaid.structured_content == json.loads(text_of(unpaid))
            assert unpaid.meta["x402/error"] == unpaid.structured_content
            req = unpaid.structured_content["accepts"][0]
            assert (req["amount"], req["payTo"], req["network"]) == (str(PRICE), PAY_TO, NETWORK)
            assert unpaid.structured_content["resource"] == {
                "url": "mcp://tool/forecast", "description": "Tomorrow's weather.", "mimeType": "application/json"}
            assert double.settles() == 0
            # Not priced: untouched.
            assert text_of(await client.call_tool("free", {"city": "Lisbon"})) == "free in Lisbon"

            agent = PayingClient(client, private_key=KEY, policy=POLICY)
            paid = await agent.call_tool("forecast", {"city": "Lisbon"})
            assert not paid.is_error and text_of(paid) == "sunny in Lisbon"
            receipt = paid.meta["x402/payment-response"]
            assert receipt["success"] is True and receipt["network"] == NETWORK
            assert double.settles() == 1
            settled = double.calls[0]
            auth = settled["paymentPayload"]["payload"]["authorization"]
            assert (auth["from"], auth["to"], auth["value"]) == (PAYER, PAY_TO, str(PRICE))
            # A tool that fails: paid for, not settled.
            failed = await agent.call_tool("broken", {"city": "Lisbon"})
            assert failed.is_error and payment_required_of(failed) is None
            assert double.settles() == 1
            assert [paywire.lifecycle.read_record(r).state for r in records.records().values()] == ["delivered"]
            # Over the bare ClientSession too.
            on_session = PayingClient(client.session, private_key=KEY, policy=POLICY)
            assert text_of(await on_session.call_tool("forecast", {"city": "Faro"})) == "sunny in Faro"
            assert double.settles() == 2

    run(main)


@pytest.mark.parametrize("row", vectors("paywall.json"), ids=lambda r: r["name"])
def test_the_facilitator_failure_table(double, row):
    double.set({**row["reply"]})
    server, _, uncertain = paid_server(double)
    expect = row["expect"]

    async def main():
        async with Client(server) as client:
            payment = await payment_for(client)
            assert_answer(row["name"], await call_with(client, payment), expect)
            if expect["record"] == "uncertain":
                assert len(uncertain) == 1, "recorded for reconciliation"
            settles = double.settles()
            if "again" in expect:
                again = expect["again"]
                assert_answer(row["name"] + ", again", await call_with(client, payment), again)
                assert double.settles() == settles + (1 if again["status"] == 402 else 0), "never settled twice"
            if "recovered" in expect:
                double.set(SETTLED)
                assert_answer(row["name"] + ", recovered", await call_with(client, payment), expect["recovered"])

    run(main)


def test_payment_forms_and_garbage(double):
    server, _, _ = paid_server(double)

    async def main():
        async with Client(server) as client:
            payment = await payment_for(client)
            as_text = base64.b64encode(json.dumps(payment).encode()).decode()
            assert_answer("base64", await call_with(client, as_text), {"status": 200})
            assert_answer("object after base64", await call_with(client, payment),
                          {"status": 409, "reason": "payment_already_delivered", "paymentResponse": True})
            assert_answer("garbage", await call_with(client, "not-base64!"),
                          {"status": 402, "reason": "invalid_payload"})
            assert_answer("an object that is no PaymentPayload", await call_with(client, {"x402Version": 2}),
                          {"status": 402, "reason": "invalid_payload"})
            assert double.settles() == 1

    run(main)


def test_the_client_pays_within_its_policy_and_never_twice(double):
    server, _, _ = paid_server(double)

    async def main():
        async with Client(server) as client:
            with pytest.raises(ValueError, match="max_amount is required"):
                PayingClient(client, private_key=KEY, policy=paywire.Policy())
            cheap = PayingClient(client, private_key=KEY, policy=paywire.Policy(max_amount=PRICE - 1))
            with pytest.raises(PaymentPolicyError):
                await cheap.call_tool("forecast", {"city": "Porto"})
            seen = []
            declining = PayingClient(client, private_key=KEY, policy=POLICY,
                                     confirm=lambda req, offer: seen.append(req) or False)
            with pytest.raises(PaymentPolicyError, match="declined"):
                await declining.call_tool("forecast", {"city": "Porto"})
            assert seen[0]["amount"] == str(PRICE)
            assert double.settles() == 0
            double.set({"status": 200, "body": json.dumps({
                "success": False, "errorReason": "invalid_exact_evm_insufficient_balance", "transaction": "",
                "network": NETWORK})})
            agent = PayingClient(client, private_key=KEY, policy=POLICY)
            with pytest.raises(PaymentRefusedError) as refused:
                await agent.call_tool("forecast", {"city": "Porto"})
            assert refused.value.reason.startswith("invalid_exact_evm_insufficient_balance")
            assert double.settles() == 1

    run(main)


def test_one_payment_twenty_concurrent_calls(double):
    double.set({**SETTLED, "delay": 0.3})
    server, _, _ = paid_server(double)

    async def main():
        async with Client(server) as client:
            payment = await payment_for(client)
            results = []

            async def one():
                results.append(await call_with(client, payment))

            async with anyio.create_task_group() as tg:
                for _ in range(20):
                    tg.start_soon(one)
            ok = [r for r in results if not r.is_error]
            assert len(ok) == 1, [r.structured_content for r in results]
            assert double.settles() == 1
            for r in results:
                if r.is_error:
                    assert r.structured_content["error"] in ("payment_in_progress", "payment_already_delivered")
                    assert payment_required_of(r) is None

    run(main)


def server_env(**extra):
    """The environment of a server subprocess: it imports this paywire (the
    installed one, or the source tree's) whatever its working directory."""
    here = str(Path(paywire.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


def test_over_stdio(double):
    env = server_env(FACILITATOR_URL=double.url, NETWORK=NETWORK, ASSET=USDC, PAY_TO=PAY_TO, PRICE=str(PRICE))
    params = StdioServerParameters(command=sys.executable, args=[str(TESTS / "mcp_server.py")], env=env)

    async def main():
        with anyio.fail_after(60):
            async with Client(params) as client:
                agent = PayingClient(client, private_key=KEY, policy=POLICY)
                paid = await agent.call_tool("forecast", {"city": "Lisbon"})
                assert text_of(paid) == "sunny in Lisbon"
                assert paid.meta["x402/payment-response"]["success"] is True
                failed = await agent.call_tool("broken", {"city": "Lisbon"})
                assert failed.is_error and payment_required_of(failed) is None
                assert double.settles() == 1

    run(main)


REPO = TESTS.parents[2]
JS_SERVER = REPO / "x402-wasm" / "tests" / "mcp" / "server.mjs"


def _node_server_ready():
    import shutil

    return shutil.which("node") and (REPO / "node_modules" / "agents" / "package.json").exists()


@pytest.mark.skipif(not _node_server_ready(), reason="Node and the JavaScript test tools (scripts/install-js.sh) are not installed")
def test_paying_cloudflares_paid_tool_over_stdio(double):
    """Cloudflare's agents server (withX402 + paidTool, Node, over stdio): it
    signals only in _meta["x402/error"] and reads the payment as base64 text;
    this client answers it in that form, once."""
    env = {**os.environ, "FACILITATOR_URL": double.url, "NETWORK": NETWORK, "ASSET": USDC, "PAY_TO": PAY_TO,
           "PRICE": str(PRICE), "TOKEN_NAME": "USDC", "TOKEN_VERSION": "2"}
    params = StdioServerParameters(command="node", args=[str(JS_SERVER), "cloudflare", "stdio"], env=env)

    async def main():
        with anyio.fail_after(60):
            async with Client(params) as client:
                unpaid = await client.call_tool("forecast", {"city": "Lisbon"})
                offer, as_text = payment_required_of(unpaid)
                assert as_text and offer["accepts"][0]["amount"] == str(PRICE)
                agent = PayingClient(client, private_key=KEY, policy=POLICY)
                paid = await agent.call_tool("forecast", {"city": "Lisbon"})
                assert text_of(paid) == "sunny in Lisbon"
                assert paid.meta["x402/payment-response"]["success"] is True
                assert double.settles() == 1
                auth = double.calls[0]["paymentPayload"]["payload"]["authorization"]
                assert (auth["from"], auth["to"], auth["value"]) == (PAYER, PAY_TO, str(PRICE))

    run(main)


class Recording:
    """A client that records the ``meta`` of every call it passes on."""

    def __init__(self, client):
        self.client, self.metas = client, []

    async def call_tool(self, name, arguments=None, **kwargs):
        self.metas.append(kwargs.get("meta"))
        return await self.client.call_tool(name, arguments, **kwargs)


def test_a_tool_that_fails_is_not_settled(double):
    server, records, _ = paid_server(double)

    async def main():
        async with Client(server) as client:
            agent = PayingClient(client, private_key=KEY, policy=POLICY)
            raised = await agent.call_tool("broken", {"city": "Porto"})
            own = await agent.call_tool("refuses", {"city": "Porto"})
            for name, failed in (("raises", raised), ("is_error", own)):
                assert failed.is_error and payment_required_of(failed) is None, name
                assert "x402/payment-response" not in (failed.meta or {}), name
            assert text_of(raised) == "Error executing tool broken", "as the SDK answers it"
            assert text_of(own) == "no forecast for Porto"
            assert double.settles() == 0
            assert records.records() == {}, "the payments' claims are released"

    run(main)


def test_the_tool_decorator_takes_accepts_or_one_requirement(double):
    paid = PaidTools(MCPServer("x"), facilitator=HTTPFacilitator(double.url))
    with pytest.raises(TypeError):
        paid.tool(accepts=[{}], network=NETWORK)
    with pytest.raises(TypeError):
        paid.tool(network=NETWORK, asset=USDC)


@pytest.mark.parametrize("reply", [
    {"hang": True},
    {"status": 500, "contentType": "text/html", "body": "<html>\x00 oops"},
], ids=["hangs past the timeout", "500 with garbage"])
def test_the_client_never_pays_again_after_an_uncertain_settlement(double, reply):
    double.set(reply)
    server, _, uncertain = paid_server(double)

    async def main():
        async with Client(server) as client:
            recording = Recording(client)
            agent = PayingClient(recording, private_key=KEY, policy=POLICY)
            with pytest.raises(PaymentUncertainError, match="may have been charged; do not pay again") as e:
                await agent.call_tool("forecast", {"city": "Porto"})
            text = json.dumps(e.value.result.model_dump(by_alias=True, mode="json"))
            assert "settlement_uncertain" in text and "accepts" not in text and "sunny" not in text
            assert double.settles() == 1 and len(uncertain) == 1
            assert len(recording.metas) == 2, "one unpaid call, one paid, no more"

    run(main)


def test_a_policy_refusal_signs_and_sends_nothing(double):
    server, _, _ = paid_server(double)
    refusals = {
        "over the maximum": paywire.Policy(max_amount=PRICE - 1),
        "another network": paywire.Policy(max_amount=PRICE, networks=["eip155:8453"]),
        "another asset": paywire.Policy(max_amount=PRICE, assets=["0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"]),
    }

    async def main():
        async with Client(server) as client:
            for name, policy in refusals.items():
                recording = Recording(client)
                with pytest.raises(PaymentPolicyError, match="not paid"):
                    await PayingClient(recording, private_key=KEY, policy=policy).call_tool("forecast", {"city": "P"})
                assert recording.metas == [None], f"{name}: only the unpaid call"
            assert double.settles() == 0

    run(main)


def test_a_tool_asking_for_input_is_settled_once_complete(double):
    server, records, _ = paid_server(double)

    async def main():
        async with Client(server) as client:
            unpaid = await client.call_tool("confirm", {"city": "Porto"})
            offer, _ = payment_required_of(unpaid)
            value = paywire.create_payment(offer, KEY, paywire_now(), policy=POLICY).value
            meta = {"x402/payment": paywire.decode_header(paywire.HeaderKind.PAYMENT_SIGNATURE, value)}
            first = await client.session.call_tool("confirm", {"city": "Porto"}, meta=meta,
                                                   allow_input_required=True)
            assert isinstance(first, InputRequiredResult)
            assert double.settles() == 0 and records.records() == {}, "not settled, the claim released"
            done = await client.session.call_tool("confirm", {"city": "Porto"}, meta=meta,
                                                  request_state=first.request_state)
            assert text_of(done) == "confirmed for Porto"
            assert done.meta["x402/payment-response"]["success"] is True
            assert double.settles() == 1
            # The client's own rounds carry the payment on: paid once, complete.
            agent = PayingClient(client, private_key=KEY, policy=POLICY)
            paid = await agent.call_tool("confirm", {"city": "Lisbon"})
            assert text_of(paid) == "confirmed for Lisbon" and double.settles() == 2

    run(main)


@pytest.mark.skipif(not _node_server_ready(), reason="Node and the JavaScript test tools (scripts/install-js.sh) are not installed")
def test_cloudflares_tool_whose_settlement_fails_is_paid_once(double):
    """Cloudflare's server answers a failed settlement with a new
    payment-required result, even when the transfer may have happened: the
    client stops there, and says not to pay again."""
    double.set({"status": 502, "contentType": "text/html", "body": "<html>bad gateway</html>"})
    env = server_env(FACILITATOR_URL=double.url, NETWORK=NETWORK, ASSET=USDC, PAY_TO=PAY_TO, PRICE=str(PRICE),
                     TOKEN_NAME="USDC", TOKEN_VERSION="2")
    params = StdioServerParameters(command="node", args=[str(JS_SERVER), "cloudflare", "stdio"], env=env)

    async def main():
        with anyio.fail_after(60):
            async with Client(params) as client:
                agent = PayingClient(client, private_key=KEY, policy=POLICY)
                with pytest.raises(PaymentRefusedError, match="do not pay again"):
                    await agent.call_tool("forecast", {"city": "Lisbon"})
                assert double.settles() == 1, "one settlement asked, never a second payment"

    run(main)
