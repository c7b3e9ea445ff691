"""The paid-request lifecycle of a resource server.

The library decides everything about a payment (which of the route's
requirements it pays, verification, its replay record, when to settle, how the
facilitator's reply reads, what to answer); the host does what
:meth:`Lifecycle.next` asks (read or swap a record, run the handler with its
response held back, ``POST /verify``, ``POST /settle``, send the answer) and feeds the result
back. :class:`paywire.paywall.Paywall` drives it for ASGI; this module is for
other servers.
"""

from __future__ import annotations

import ctypes
import enum
import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence

from . import _native

_lib = _native.lib
_size = ctypes.c_size_t
_lifep = ctypes.c_void_p

_lib.paywire_route_check.argtypes = [ctypes.c_char_p, _size, ctypes.c_void_p, _size, ctypes.c_void_p, _size]
_lib.paywire_lifecycle_new.argtypes = [
    ctypes.c_char_p, _size, ctypes.c_char_p, _size, ctypes.c_uint64, ctypes.c_char_p, _size,
    ctypes.c_char_p, _size, ctypes.POINTER(_lifep), ctypes.c_void_p, _size, ctypes.c_void_p, _size,
]
_lib.paywire_lifecycle_next.argtypes = [_lifep, ctypes.c_void_p, _size, ctypes.POINTER(_size)]
_lib.paywire_lifecycle_feed.argtypes = [
    _lifep, ctypes.c_char_p, _size, ctypes.c_void_p, _size, ctypes.c_void_p, _size,
]
_lib.paywire_lifecycle_feed_settle.argtypes = [
    _lifep, ctypes.c_uint32, ctypes.c_uint16, ctypes.c_char_p, _size, ctypes.c_char_p, _size,
    ctypes.c_uint64, ctypes.c_void_p, _size,
]
_lib.paywire_lifecycle_feed_verify.argtypes = _lib.paywire_lifecycle_feed_settle.argtypes
_lib.paywire_lifecycle_key.argtypes = [_lifep, ctypes.c_void_p, _size, ctypes.POINTER(_size)]
_lib.paywire_lifecycle_verdict.argtypes = [_lifep, ctypes.c_void_p, _size, ctypes.POINTER(_size)]
_lib.paywire_record_info.argtypes = [
    ctypes.c_char_p, _size, ctypes.c_void_p, _size, ctypes.POINTER(_size), ctypes.c_void_p, _size,
    ctypes.c_void_p, _size,
]
_lib.paywire_record_forgettable.argtypes = [
    ctypes.c_char_p, _size, ctypes.c_uint64, ctypes.POINTER(ctypes.c_uint8),
]
for _f in (_lib.paywire_route_check, _lib.paywire_lifecycle_new, _lib.paywire_lifecycle_next,
           _lib.paywire_lifecycle_feed, _lib.paywire_lifecycle_feed_settle,
           _lib.paywire_lifecycle_feed_verify, _lib.paywire_lifecycle_key,
           _lib.paywire_lifecycle_verdict, _lib.paywire_record_info, _lib.paywire_record_forgettable):
    _f.restype = ctypes.c_uint32
_lib.paywire_lifecycle_free.argtypes = [_lifep]
_lib.paywire_lifecycle_free.restype = None


class SettleOutcome(enum.IntEnum):
    """What became of a ``POST /settle`` or a ``POST /verify``
    (paywire_settle_reply)."""

    #: a complete HTTP answer arrived (``status``, ``body``)
    ANSWERED = 0
    #: the request certainly never reached the facilitator (no connection was
    #: made): nothing can have settled, the payment may be presented again
    NOT_SENT = 1
    #: the request was sent, or may have been, and no complete answer came:
    #: settlement may have happened
    NO_ANSWER = 2


@dataclass(frozen=True)
class SettleReply:
    """What came of a ``POST /settle``, for :meth:`Lifecycle.feed_settle`, or
    of a ``POST /verify``, for :meth:`Lifecycle.feed_verify`."""

    outcome: SettleOutcome
    status: int = 0  #: with ANSWERED
    body: bytes = b""  #: with ANSWERED: the whole body, as received
    detail: str = ""  #: what happened, for the record of an uncertain payment


@dataclass(frozen=True)
class LifecycleSettings:
    """A paywall's time limits and the facilitator's signers; ``None`` keeps
    the library's default (30 s for POST /settle, at most the requirement's
    maxTimeoutSeconds; a claim of 60 s; Retry-After 2 s)."""

    settle_timeout_seconds: Optional[int] = None
    claim_seconds: Optional[int] = None  #: how long a request may hold a payment
    retry_after_seconds: Optional[int] = None  #: of a 409 in progress, a 502 unavailable
    facilitator_addresses: Sequence[str] = ()  #: upto payments must name one of them
    #: what carries the requests: ``"http"`` (the default) or ``"mcp"`` (tool
    #: calls: each respond step also has ``toolResult`` / ``toolMeta``)
    transport: Optional[str] = None
    #: verify every eip155 payment at the facilitator's ``POST /verify`` too,
    #: before its handler runs (batch-settlement deposits, refunds and vouchers
    #: on a stale channel are verified there whatever this says)
    verify_at_facilitator: bool = False

    def _json(self) -> bytes:
        from . import _bytes

        d: Dict[str, Any] = {}
        if self.settle_timeout_seconds is not None:
            d["settleTimeoutSeconds"] = self.settle_timeout_seconds
        if self.claim_seconds is not None:
            d["claimSeconds"] = self.claim_seconds
        if self.retry_after_seconds is not None:
            d["retryAfterSeconds"] = self.retry_after_seconds
        if self.facilitator_addresses:
            d["facilitatorAddresses"] = list(self.facilitator_addresses)
        if self.transport is not None:
            d["transport"] = self.transport
        if self.verify_at_facilitator:
            d["verifyAtFacilitator"] = True
        return _bytes(d)


@dataclass(frozen=True)
class RecordInfo:
    """What may be shown of a payment record (to list the payments to reconcile)."""

    state: str  #: claimed, settling, settled, delivered or uncertain; bound (a payment-identifier's record)
    payer: str
    nonce: str
    amount: str
    network: str
    asset: str
    route: str  #: the route's resource URL
    time: int  #: when the payment was first claimed (unix seconds)
    expires: int = 0  #: when the signed payment stops being valid (0: unknown)
    cause: Optional[str] = None  #: why an uncertain payment is uncertain
    transaction: Optional[str] = None  #: the transaction a facilitator named
    payment_response: Optional[str] = None  #: PAYMENT-RESPONSE of a settled payment


def check_route(route: Any) -> None:
    """Checks a route's PaymentRequired (x402 version 2) as :class:`Lifecycle`
    reads it; raises :class:`paywire.PaywireError` if it cannot be sold."""
    from . import _bytes, _Report

    doc = _bytes(route)
    report = _Report()
    r = _lib.paywire_route_check(doc, len(doc), *report.args())
    if r != 0:
        raise report.error(r)


def read_record(record: str) -> RecordInfo:
    """What may be shown of a record the lifecycle wrote."""
    from . import _out_bytes

    text = record.encode("utf-8")
    raw = _out_bytes(lambda o, c, n, *report: _lib.paywire_record_info(text, len(text), o, c, n, *report))
    d = json.loads(raw)
    return RecordInfo(
        state=d["state"], payer=d["payer"], nonce=d["nonce"], amount=d["amount"],
        network=d["network"], asset=d["asset"], route=d["route"], time=d["time"],
        expires=d.get("expires", 0), cause=d.get("cause"), transaction=d.get("transaction"),
        payment_response=d.get("paymentResponse"),
    )


def record_forgettable(record: str, now: Any) -> bool:
    """Whether a store may forget this record at ``now``: only a delivered one
    (or an abandoned claim) whose payment's signature has expired; never an
    uncertain, settling or settled one."""
    from . import _unix

    text = record.encode("utf-8")
    f = ctypes.c_uint8()
    r = _lib.paywire_record_forgettable(text, len(text), _unix(now), ctypes.byref(f))
    return r == 0 and f.value == 1


class Lifecycle:
    """One paid request: :meth:`next` says what to do, the ``feed_*`` methods
    take the result. Use it as a context manager, or call :meth:`close`. Used
    by one thread at a time."""

    def __init__(self, route: Any, request: Any, now: Any, *, id: Optional[str] = None,
                 settings: Optional[LifecycleSettings] = None):
        """Starts the lifecycle of ``request`` (an :class:`paywire.HttpRequest`
        or ``{"method", "url", "headers": [[name, value], ...]}``) on ``route``
        (its PaymentRequired, x402 version 2) at ``now``. ``id`` is unique to
        this request (random by default)."""
        from . import _bytes, _Report, _unix
        from .batch import _request

        self._h: Optional[int] = None
        doc = _bytes(route)
        req = _bytes(_request(request))
        ident = (id if id is not None else os.urandom(16).hex()).encode("utf-8")
        sets = settings._json() if settings is not None else None
        h = _lifep()
        report = _Report()
        r = _lib.paywire_lifecycle_new(doc, len(doc), req, len(req), _unix(now), ident, len(ident),
                                       sets, len(sets or b""), ctypes.byref(h), *report.args())
        if r != 0:
            raise report.error(r)
        self._h = h.value

    def _handle(self) -> int:
        if self._h is None:
            from . import PaywireError, Result

            raise PaywireError(Result.NULL_PARAMETER, "closed lifecycle")
        return self._h

    def next(self) -> Dict[str, Any]:
        """What to do next: ``{"action": "lookup" | "swap" | "directory" |
        "handle" | "verify" | "settle" | "respond" | "done", ...}`` (include/paywire.h,
        paywire_lifecycle_next). It does not change the lifecycle."""
        from . import _out_bytes

        h = self._handle()
        return json.loads(_out_bytes(lambda o, c, n, *_: _lib.paywire_lifecycle_next(h, o, c, n)))

    def feed(self, result: Dict[str, Any]) -> None:
        """Hands the result of the current step over, as the C API takes it
        (``{"record": ...}``, ``{"swapped": ...}``, ...); the ``feed_*``
        methods build it."""
        from . import _bytes, _Report

        h = self._handle()
        raw = _bytes(result)
        report = _Report()
        r = _lib.paywire_lifecycle_feed(h, raw, len(raw), *report.args())
        if r != 0:
            raise report.error(r)

    def feed_record(self, record: Optional[str]) -> None:
        """Answers a lookup: the key's record, or ``None``."""
        self.feed({"record": record})

    def feed_swap(self, swapped: bool, current: Optional[str] = None) -> None:
        """Answers a swap: whether it was made, and if not, the record there now."""
        self.feed({"swapped": True} if swapped else {"swapped": False, "record": current})

    def feed_store_error(self, why: str) -> None:
        """Answers a lookup or a swap whose store failed."""
        self.feed({"storeError": why})

    def feed_handler(self, status: int, now: Any) -> None:
        """Answers a handle step with the handler's status, at ``now`` (when it
        finished: the leases written next run from then)."""
        from . import _unix

        self.feed({"status": int(status), "now": _unix(now)})

    def feed_handler_failure(self, why: str, now: Any) -> None:
        """Answers a handle step whose handler failed (raised, or did not answer)."""
        from . import _unix

        self.feed({"error": why, "now": _unix(now)})

    def feed_directory(self, jwks: Optional[Any]) -> None:
        """Answers a directory step: the agent's JWK Set, or ``None``."""
        self.feed({"directory": jwks})

    def responded(self) -> None:
        """Says the answer of a respond step was sent."""
        self.feed({})

    def feed_settle(self, reply: SettleReply, now: Any) -> None:
        """Answers a settle step with what came of ``POST /settle``, at ``now``.
        The body goes to the library as the bytes it was."""
        self._feed_reply(_lib.paywire_lifecycle_feed_settle, reply, now)

    def feed_verify(self, reply: SettleReply, now: Any) -> None:
        """Answers a verify step with what came of ``POST /verify``, at ``now``.
        The body goes to the library as the bytes it was. A verification
        charges nothing: a payment refused, or a facilitator not reached,
        leaves the handler unrun."""
        self._feed_reply(_lib.paywire_lifecycle_feed_verify, reply, now)

    def _feed_reply(self, feed: Any, reply: SettleReply, now: Any) -> None:
        from . import _Report, _unix

        h = self._handle()
        body = bytes(reply.body)
        detail = reply.detail.encode("utf-8")
        report = _Report()
        err, cap, _, _ = report.args()
        r = feed(h, int(reply.outcome), int(reply.status), body, len(body), detail, len(detail),
                 _unix(now), err, cap)
        if r != 0:
            raise report.error(r)

    @property
    def key(self) -> Optional[str]:
        """The payment's replay key, once known."""
        from . import _out_bytes

        h = self._handle()
        k = _out_bytes(lambda o, c, n, *_: _lib.paywire_lifecycle_key(h, o, c, n)).decode("utf-8")
        return k or None

    @property
    def verdict(self) -> Optional[Dict[str, Any]]:
        """The verification verdict (a VerifyResponse), once verified."""
        from . import _out_bytes

        h = self._handle()
        raw = _out_bytes(lambda o, c, n, *_: _lib.paywire_lifecycle_verdict(h, o, c, n))
        return json.loads(raw) if raw else None

    def close(self) -> None:
        """Releases the lifecycle. Safe to call twice."""
        if self._h is not None:
            _lib.paywire_lifecycle_free(self._h)
            self._h = None

    def __enter__(self) -> "Lifecycle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

