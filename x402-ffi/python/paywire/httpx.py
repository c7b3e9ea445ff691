"""httpx transports that pay a 402 (``pip install 'paywire[httpx]'``).

:class:`PayingTransport` (for ``httpx.Client``) and
:class:`AsyncPayingTransport` (for ``httpx.AsyncClient``) send a request, and
when the answer is a 402 they may pay, create a payment for the first
requirement the policy allows and send the request once more with it. They pay
at most once per request and never again on the second answer, whatever it is
(a 502 ``settlement_uncertain`` means the payment may have settled: paying again
could pay twice). A 402 nothing in the policy can pay is returned as it came.

With ``solana=SolanaPayer(seed, facts)`` they also pay ``exact`` on a
``solana:*`` network when the secp256k1 key cannot pay the 402: the first
Solana requirement the policy allows, with the Ed25519 key of ``seed``
(:func:`paywire.create_svm_payment`); ``facts(offer)`` answers the mint's
token program and decimals and a recent blockhash (read from a node; it is
called synchronously, also by the async transport).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

import httpx

from . import (
    Payment, PaywireError, Policy, SvmFacts, SvmPayment, create_payment, create_svm_payment,
)

__all__ = ["AsyncPayingTransport", "PayingTransport", "SolanaPayer"]


@dataclass(frozen=True)
class SolanaPayer:
    """How a paying transport pays ``exact`` on Solana: the payer's Ed25519
    ``seed`` (32 bytes or hex), and ``facts(offer)`` -> :class:`paywire.SvmFacts`
    for the offer (the PaymentRequired, a header value or a v1 body); an
    exception from it leaves the 402 unpaid."""

    seed: Union[bytes, str]
    facts: Callable[[Union[str, bytes]], SvmFacts]

_PAYMENT_HEADERS = ("payment-signature", "x-payment")


class _Payer:
    def __init__(self, private_key: Union[bytes, str], policy: Policy,
                 on_payment: Optional[Callable[[httpx.Request, Any], Any]],
                 clock: Callable[[], float], solana: Optional[SolanaPayer] = None):
        if policy is None or policy.max_amount is None:
            raise ValueError("a paying transport needs a Policy with a max_amount")
        self.private_key = private_key
        self.policy = policy
        self.on_payment = on_payment
        self.clock = clock
        self.solana = solana

    @staticmethod
    def carries_payment(request: httpx.Request) -> bool:
        return any(h in request.headers for h in _PAYMENT_HEADERS)

    @staticmethod
    def replayable(request: httpx.Request) -> bool:
        # A body given as bytes can be sent again; a stream cannot.
        return isinstance(request.stream, httpx.ByteStream)

    def pay(self, request: httpx.Request, offer: Union[str, bytes]) -> Optional[httpx.Request]:
        """The request again with a payment, or None if nothing may be paid."""
        payment: Union[Payment, SvmPayment]
        try:
            payment = create_payment(offer, self.private_key, self.clock(), policy=self.policy)
        except PaywireError:
            if self.solana is None:
                return None
            try:
                facts = self.solana.facts(offer)
                payment = create_svm_payment(offer, self.solana.seed, facts, policy=self.policy)
            except Exception:  # the host's facts, or nothing payable on Solana
                return None
        headers = request.headers.copy()
        headers[payment.header_name] = payment.value
        retry = httpx.Request(request.method, request.url, headers=headers, stream=request.stream,
                              extensions=request.extensions)
        if self.on_payment is not None:
            self.on_payment(retry, payment)
        return retry


class PayingTransport(httpx.BaseTransport):
    """Pays a 402 within ``policy`` (whose ``max_amount`` is required) with
    ``private_key``, over ``transport`` (default ``httpx.HTTPTransport()``).
    ``on_payment(request, payment)`` is told of each payment before it is sent
    (a :class:`paywire.Payment`, or a :class:`paywire.SvmPayment` paid through
    ``solana``, a :class:`SolanaPayer`)."""

    def __init__(self, private_key: Union[bytes, str], policy: Policy, *,
                 transport: Optional[httpx.BaseTransport] = None,
                 on_payment: Optional[Callable[[httpx.Request, Any], Any]] = None,
                 clock: Callable[[], float] = time.time,
                 solana: Optional[SolanaPayer] = None):
        self._payer = _Payer(private_key, policy, on_payment, clock, solana)
        self._inner = transport if transport is not None else httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        p = self._payer
        response = self._inner.handle_request(request)
        if response.status_code != 402 or p.carries_payment(request) or not p.replayable(request):
            return response
        offer = response.headers.get("payment-required")
        if offer is None:
            offer = response.read()  # x402 v1: the PaymentRequired is the body
        retry = p.pay(request, offer)
        if retry is None:
            return response
        response.close()
        return self._inner.handle_request(retry)

    def close(self) -> None:
        self._inner.close()


class AsyncPayingTransport(httpx.AsyncBaseTransport):
    """:class:`PayingTransport` for ``httpx.AsyncClient`` (default inner
    transport ``httpx.AsyncHTTPTransport()``)."""

    def __init__(self, private_key: Union[bytes, str], policy: Policy, *,
                 transport: Optional[httpx.AsyncBaseTransport] = None,
                 on_payment: Optional[Callable[[httpx.Request, Any], Any]] = None,
                 clock: Callable[[], float] = time.time,
                 solana: Optional[SolanaPayer] = None):
        self._payer = _Payer(private_key, policy, on_payment, clock, solana)
        self._inner = transport if transport is not None else httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        p = self._payer
        response = await self._inner.handle_async_request(request)
        if response.status_code != 402 or p.carries_payment(request) or not p.replayable(request):
            return response
        offer = response.headers.get("payment-required")
        if offer is None:
            offer = await response.aread()
        retry = p.pay(request, offer)
        if retry is None:
            return response
        await response.aclose()
        return await self._inner.handle_async_request(retry)

    async def aclose(self) -> None:
        await self._inner.aclose()
