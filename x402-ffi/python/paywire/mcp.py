"""Paid MCP tools, and MCP clients that pay for them (x402's MCP transport),
for the ``mcp`` SDK (2.x: ``MCPServer``, ``Client``, ``ClientSession``).

A paid tool goes through the library's lifecycle of a paid request, as a paid
HTTP route does (:class:`paywire.paywall.Paywall`): the tool runs only for a
payment that verifies, its result is sent only once settled, with
``_meta["x402/payment-response"]``; a tool that fails (``is_error``, or
raises) is not settled; each payment pays for one call, once; a facilitator
that fails never gets the result delivered nor the client asked to pay again
(an error result ``settlement_uncertain``, recorded for reconciliation, when
the payment may have settled). What each answer is as a tool result is the
library's (``toolResult`` / ``toolMeta`` of the lifecycle), not this module's.

The client reads a payment-required result in each of its forms
(``structuredContent``, Cloudflare's ``_meta["x402/error"]``, the text), pays
the first requirement its policy allows, and calls once more with
``_meta["x402/payment"]``: the PaymentPayload, or (to a server that signals
only in ``_meta["x402/error"]``) its base64 text. It never pays twice for one
call.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from typing import Any, Awaitable, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

from . import HeaderKind, PaywireError, Policy, create_payment, decode_header, encode_header
from .lifecycle import Lifecycle, LifecycleSettings, RecordInfo, check_route
from .paywall import MemoryStore, RecordStore, drive, log

__all__ = [
    "ERROR_META_KEY", "PAYMENT_META_KEY", "PAYMENT_RESPONSE_META_KEY", "PaidTools", "PayingClient",
    "PaymentPolicyError", "PaymentRefusedError", "PaymentUncertainError", "payment_required_of",
]

#: ``_meta`` key of the payment in a tool call.
PAYMENT_META_KEY = "x402/payment"
#: ``_meta`` key of the settlement in a tool result.
PAYMENT_RESPONSE_META_KEY = "x402/payment-response"
#: ``_meta`` key of the PaymentRequired in the results of Cloudflare's ``agents`` servers.
ERROR_META_KEY = "x402/error"


def _payment_header(meta: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The call's payment as a ``PAYMENT-SIGNATURE`` value: base64 text as it
    came (Cloudflare's clients), an object (the spec's form) as the header
    encodes it; anything the encoder refuses as the base64 of its compact
    JSON, for the lifecycle to refuse with its reason."""
    payment = (meta or {}).get(PAYMENT_META_KEY)
    if payment is None:
        return None
    if isinstance(payment, str):
        return payment
    if isinstance(payment, Mapping):
        try:
            return encode_header(HeaderKind.PAYMENT_SIGNATURE, payment)
        except PaywireError:
            pass
    text = json.dumps(payment, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


class PaidTools:
    """Tools of an ``MCPServer`` paid per call::

        server = MCPServer("weather")
        paid = PaidTools(server, facilitator=HTTPFacilitator(url))

        @paid.tool(network="eip155:8453", asset=USDC, pay_to=PAY_TO, amount=10_000,
                   extra={"name": "USD Coin", "version": "2"})
        async def forecast(city: str) -> str: ...

    ``records`` defaults to a :class:`~paywire.paywall.MemoryStore` (one
    process; :class:`~paywire.paywall.SQLiteStore` for several);
    ``facilitator`` has ``settle(body, timeout)``, and ``verify(body, timeout)``
    for what the lifecycle verifies at the facilitator, as the paywall's."""

    def __init__(self, server: Any, *, facilitator: Any, records: Optional[RecordStore] = None,
                 settings: Optional[LifecycleSettings] = None,
                 on_uncertain: Optional[Callable[[str, RecordInfo], Any]] = None,
                 clock: Callable[[], float] = time.time):
        self.server = server
        self.facilitator = facilitator
        self.records = records if records is not None else MemoryStore()
        self.settings = dataclasses.replace(settings or LifecycleSettings(), transport="mcp")
        self.on_uncertain = on_uncertain or (lambda key, info: log.warning(
            "settlement UNCERTAIN, to reconcile: %s payer %s amount %s: %s", key, info.payer, info.amount,
            info.cause))
        self.clock = clock
        self._routes: Dict[str, dict] = {}
        # Every call goes through the server's call_tool: priced names are paid there.
        self._call_tool = server.call_tool
        server.call_tool = self._paid_call

    def price(self, name: str, accepts: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]], *,
              description: Optional[str] = None) -> None:
        """Prices the tool ``name`` at ``accepts`` (one x402 v2 PaymentRequirements
        object, or several the client chooses from), for ``mcp://tool/<name>``."""
        reqs = [dict(accepts)] if isinstance(accepts, Mapping) else [dict(a) for a in accepts]
        doc = {"x402Version": 2,
               "resource": {"url": f"mcp://tool/{name}", "description": description or name,
                            "mimeType": "application/json"},
               "accepts": reqs}
        check_route(doc)
        # Bad settings are refused now, not on the first paid call.
        Lifecycle(doc, {"method": "POST", "url": doc["resource"]["url"], "headers": []}, self.clock(),
                  settings=self.settings).close()
        self._routes[name] = doc

    def tool(self, *, network: Optional[str] = None, asset: Optional[str] = None, pay_to: Optional[str] = None,
             amount: Optional[Union[int, str]] = None, scheme: str = "exact",
             extra: Optional[Mapping[str, Any]] = None, max_timeout_seconds: int = 60,
             accepts: Optional[Union[Mapping[str, Any], Sequence[Mapping[str, Any]]]] = None,
             name: Optional[str] = None, description: Optional[str] = None,
             **tool_options: Any) -> Callable[[Callable], Callable]:
        """A decorator: registers the function as a tool of the server
        (``server.tool(name=..., description=..., **tool_options)``) priced at
        one requirement (``amount`` in the token's atomic units; ``extra``:
        an EIP-3009 token's EIP-712 domain ``{"name", "version"}``), or at
        ``accepts`` (PaymentRequirements objects, as :meth:`price` takes)."""
        req: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]]
        if accepts is not None:
            if any(v is not None for v in (network, asset, pay_to, amount)):
                raise TypeError("PaidTools.tool: accepts, or network/asset/pay_to/amount, not both")
            req = accepts
        else:
            if network is None or asset is None or pay_to is None or amount is None:
                raise TypeError("PaidTools.tool: network, asset, pay_to and amount are required without accepts")
            one: Dict[str, Any] = {"scheme": scheme, "network": network, "amount": str(amount), "asset": asset,
                                   "payTo": pay_to, "maxTimeoutSeconds": max_timeout_seconds}
            if extra is not None:
                one["extra"] = dict(extra)
            req = one

        def register(fn: Callable) -> Callable:
            tool_name = name or fn.__name__
            text = description or (fn.__doc__ or "").strip() or None
            self.price(tool_name, req, description=text)
            self.server.tool(name=tool_name, description=text, **tool_options)(fn)
            return fn

        return register

    async def _paid_call(self, name: str, arguments: Dict[str, Any], context: Any = None) -> Any:
        route = self._routes.get(name)
        if route is None:
            return await self._call_tool(name, arguments, context)
        from mcp_types import CallToolResult, TextContent

        meta = None
        try:
            meta = context.request_context.meta if context is not None else None
        except (AttributeError, ValueError):
            meta = None
        value = _payment_header(meta)
        life = Lifecycle(route, {"method": "POST", "url": route["resource"]["url"],
                                 "headers": [["PAYMENT-SIGNATURE", value]] if value is not None else []},
                         self.clock(), settings=self.settings)
        held: Optional[Any] = None
        answer: Optional[Any] = None

        async def handle() -> Tuple[Optional[int], str]:
            nonlocal held
            try:
                held = await self._call_tool(name, arguments, context)
            except Exception as e:  # the tool failed: not settled; answered as the server would
                log.info("paid tool %r failed: %r", name, str(e))
                held = CallToolResult(content=[TextContent(type="text", text=str(e))], is_error=True)
                return 500, ""
            # Only a tool's complete, successful result is paid for: an error
            # result, or one asking for more input first, is not settled.
            return (200 if isinstance(held, CallToolResult) and not held.is_error else 500), ""

        async def respond(step: Mapping[str, Any]) -> None:
            nonlocal answer
            if step.get("toolResult") is not None:
                answer = CallToolResult.model_validate(json.loads(step["toolResult"]))
                return
            added = json.loads(step.get("toolMeta") or "{}")
            result = held if held is not None else CallToolResult(content=[], is_error=True)
            if added:
                result = result.model_copy(update={"meta": {**(result.meta or {}), **added}})
            answer = result

        await drive(life, records=self.records, facilitator=self.facilitator, on_uncertain=self.on_uncertain,
                    clock=self.clock, handle=handle, respond=respond)
        if answer is None:
            return CallToolResult(content=[TextContent(type="text", text="paywall_error: the payment's "
                                                       "lifecycle ended without an answer")], is_error=True)
        return answer


class PaymentPolicyError(Exception):
    """Not paid: no requirement is one the policy allows, or the payment was declined."""

    def __init__(self, message: str, result: Any):
        super().__init__(message)
        self.result = result  #: the payment-required result


class PaymentUncertainError(Exception):
    """The server could not tell whether the payment settled
    (``settlement_uncertain``): it may have been charged; do not pay again."""

    def __init__(self, message: str, result: Any):
        super().__init__(message)
        self.result = result  #: the error result


class PaymentRefusedError(Exception):
    """The server asked for payment again after being paid: nothing more was paid."""

    def __init__(self, message: str, reason: str, result: Any):
        super().__init__(message)
        self.reason = reason  #: the server's reason, or ""
        self.result = result  #: the second payment-required result


def _as_payment_required(v: Any) -> Optional[dict]:
    if isinstance(v, Mapping) and v.get("x402Version") == 2 and isinstance(v.get("accepts"), list) \
            and v["accepts"]:
        return dict(v)
    return None


def payment_required_of(result: Any) -> Optional[Tuple[dict, bool]]:
    """The PaymentRequired of a tool result (a ``CallToolResult`` or its JSON
    object) in any of its forms, with whether the server wants the payment as
    base64 text (it signals only in ``_meta["x402/error"]``); ``None`` for
    any other result."""
    if hasattr(result, "model_dump"):
        result = result.model_dump(by_alias=True, mode="json")
    if not isinstance(result, Mapping):
        return None
    if result.get("resultType") == "payment_required":
        offer = _as_payment_required(result.get("paymentRequired"))
        return (offer, False) if offer else None
    if result.get("isError") is not True:
        return None
    offer = _as_payment_required(result.get("structuredContent"))
    if offer:
        return offer, False
    cloudflare = (result.get("_meta") or {}).get(ERROR_META_KEY)
    if isinstance(cloudflare, Mapping) and isinstance(cloudflare.get("accepts"), list) and cloudflare["accepts"]:
        return {"x402Version": 2, **cloudflare}, True
    content = result.get("content") or []
    first = content[0] if content else None
    if isinstance(first, Mapping) and first.get("type") == "text" and isinstance(first.get("text"), str) \
            and len(first["text"]) <= 64 * 1024:
        try:
            offer = _as_payment_required(json.loads(first["text"]))
        except ValueError:
            offer = None
        if offer:
            return offer, False
    return None


def _error_reason(result: Any) -> Optional[str]:
    """The ``error`` of an error result's ``structuredContent`` (as the
    library writes its answers that offer nothing to pay), else ``None``."""
    if hasattr(result, "model_dump"):
        result = result.model_dump(by_alias=True, mode="json")
    if not isinstance(result, Mapping) or result.get("isError") is not True:
        return None
    structured = result.get("structuredContent")
    reason = structured.get("error") if isinstance(structured, Mapping) else None
    return reason if isinstance(reason, str) else None


class PayingClient:
    """An MCP client (``mcp.Client`` or ``ClientSession``) whose
    :meth:`call_tool` pays a payment-required result with ``private_key``
    within ``policy`` (its ``max_amount`` is required), once, and calls again::

        agent = PayingClient(client, private_key=KEY, policy=Policy(max_amount=10_000))
        result = await agent.call_tool("forecast", {"city": "Lisbon"})

    ``confirm(requirement, offer)`` (optional, plain or a coroutine) may
    decline a payment by answering false: :class:`PaymentPolicyError`,
    nothing sent. Paid, a second payment-required result raises
    :class:`PaymentRefusedError` and an uncertain settlement
    :class:`PaymentUncertainError`: nothing is ever paid twice."""

    def __init__(self, client: Any, *, private_key: Union[bytes, str], policy: Policy,
                 confirm: Optional[Callable[[dict, dict], Union[bool, Awaitable[bool]]]] = None,
                 clock: Callable[[], float] = time.time):
        # The server names the price: without a cap it could ask for the whole wallet.
        if policy.max_amount is None:
            raise ValueError("PayingClient: policy.max_amount is required (the most one call pays, atomic units)")
        self.client = client
        self._key = private_key
        self.policy = policy
        self.confirm = confirm
        self.clock = clock

    async def call_tool(self, name: str, arguments: Optional[Dict[str, Any]] = None, **kwargs: Any) -> Any:
        """``client.call_tool(name, arguments, **kwargs)``, paying when asked."""
        meta = dict(kwargs.pop("meta", None) or {})
        first = await self.client.call_tool(name, arguments, meta=meta or None, **kwargs)
        asked = payment_required_of(first)
        if asked is None or meta.get(PAYMENT_META_KEY) is not None:
            return first
        offer, as_text = asked
        try:
            payment = create_payment(offer, self._key, self.clock(), policy=self.policy)
        except Exception as e:
            raise PaymentPolicyError(f"not paid: {e}", first) from e
        if self.confirm is not None:
            requirement = offer["accepts"][payment.accepts_index]
            ok = self.confirm(requirement, offer)
            if hasattr(ok, "__await__"):
                ok = await ok
            if not ok:
                raise PaymentPolicyError("not paid: the payment was declined", first)
        meta[PAYMENT_META_KEY] = payment.value if as_text else decode_header(HeaderKind.PAYMENT_SIGNATURE,
                                                                            payment.value)
        second = await self.client.call_tool(name, arguments, meta=meta, **kwargs)
        if _error_reason(second) == "settlement_uncertain":
            raise PaymentUncertainError("settlement_uncertain: the payment may have been charged; do not pay "
                                        "again (the server recorded it for reconciliation)", second)
        again = payment_required_of(second)
        if again is not None:
            reason = str(again[0].get("error") or "")
            hint = " (a failed settlement may still have charged it: do not pay again)" \
                if "settle" in reason.lower() else ""
            raise PaymentRefusedError(
                f"the server refused the payment{': ' + reason if reason else ''}; nothing more was paid{hint}",
                reason, second)
        return second
