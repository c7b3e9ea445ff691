"""Verification with the chain and settlement through a node's JSON-RPC.

The library decides which JSON-RPC call to make next (:meth:`Chain.next`); the
caller sends it to its node and hands the answer back (:meth:`Chain.feed`),
until the machine is done with a VerifyResponse or a SettleResponse.
:meth:`Chain.run` does that loop over any transport, :func:`http_transport`
is one over ``urllib``.
"""

from __future__ import annotations

import ctypes
import json
import time
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

from . import _native

_lib = _native.lib
_size = ctypes.c_size_t
_chainp = ctypes.c_void_p

_lib.paywire_chain_verify_new.argtypes = [
    ctypes.c_char_p, _size, ctypes.c_uint64, ctypes.c_char_p, _size, ctypes.c_char_p, _size,
    ctypes.POINTER(_chainp), ctypes.c_void_p, _size, ctypes.c_void_p, _size,
]
_lib.paywire_chain_settle_new.argtypes = [
    ctypes.c_char_p, _size, ctypes.c_uint64, ctypes.c_char_p, ctypes.c_char_p, _size,
    ctypes.POINTER(_chainp), ctypes.c_void_p, _size, ctypes.c_void_p, _size,
]
_lib.paywire_chain_next.argtypes = [
    _chainp, ctypes.c_void_p, _size, ctypes.POINTER(_size), ctypes.POINTER(ctypes.c_uint32),
    ctypes.POINTER(ctypes.c_uint8),
]
_lib.paywire_chain_feed.argtypes = [
    _chainp, ctypes.c_char_p, _size, ctypes.c_void_p, _size, ctypes.c_void_p, _size,
]
for _f in (_lib.paywire_chain_verify_new, _lib.paywire_chain_settle_new, _lib.paywire_chain_next,
           _lib.paywire_chain_feed):
    _f.restype = ctypes.c_uint32
_lib.paywire_chain_free.argtypes = [_chainp]
_lib.paywire_chain_free.restype = None

Transport = Callable[[bytes], bytes]


class Chain:
    """A verification with the chain, or a settlement, in progress. Use it as a
    context manager, or call :meth:`close`."""

    def __init__(self, handle: int):
        self._h: Optional[int] = handle

    @classmethod
    def _new(cls, call: Callable) -> "Chain":
        from . import _Report

        h = _chainp()
        report = _Report()
        r = call(ctypes.byref(h), *report.args())
        if r != 0:
            raise report.error(r)
        return cls(h.value)

    @classmethod
    def verify(cls, request: Any, now: Any, *, facilitator_addresses: Optional[Sequence[str]] = None,
               options: Optional[Dict[str, Any]] = None) -> "Chain":
        """Starts verifying a POST /verify body with the chain at ``now``."""
        from . import _bytes, _config, _unix

        body, cfg, opts = _bytes(request), _config(facilitator_addresses), _options(options)
        t = _unix(now)
        return cls._new(lambda out, *report: _lib.paywire_chain_verify_new(
            body, len(body), t, cfg, len(cfg or b""), opts, len(opts or b""), out, *report))

    @classmethod
    def settle(cls, request: Any, now: Any, private_key: Union[bytes, str], *,
               options: Optional[Dict[str, Any]] = None) -> "Chain":
        """Starts settling a POST /settle body at ``now``, paying gas from
        ``private_key``'s account (32 bytes, or hex)."""
        from . import _bytes, _fixed32, _unix

        body, key, opts = _bytes(request), _fixed32(private_key, "private_key"), _options(options)
        t = _unix(now)
        return cls._new(lambda out, *report: _lib.paywire_chain_settle_new(
            body, len(body), t, key, opts, len(opts or b""), out, *report))

    def _handle(self) -> int:
        if self._h is None:
            from . import Result, PaywireError

            raise PaywireError(Result.NULL_PARAMETER, "closed chain")
        return self._h

    def next(self) -> Tuple[bytes, float, bool]:
        """``(body, delay_seconds, done)``: the JSON-RPC request to send after
        the delay, or, when done, the outcome JSON."""
        from . import _out_bytes

        h = self._handle()
        delay, done = ctypes.c_uint32(), ctypes.c_uint8()
        # next does not change the machine: the size query and the call that
        # fills the buffer write the same body.
        body = _out_bytes(lambda o, c, n, *_: _lib.paywire_chain_next(
            h, o, c, n, ctypes.byref(delay), ctypes.byref(done)))
        return body, delay.value / 1000.0, bool(done.value)

    def feed(self, response: bytes) -> None:
        """Hands the node's response body to the machine; a body that does not
        answer the last request raises :class:`PaywireError` (INVALID_RESPONSE)."""
        from . import _Report

        h = self._handle()
        report = _Report()
        r = _lib.paywire_chain_feed(h, bytes(response), len(response), *report.args())
        if r != 0:
            raise report.error(r)

    def run(self, transport: Transport) -> bytes:
        """Drives the machine to its end over ``transport``; returns the outcome JSON."""
        while True:
            body, delay, done = self.next()
            if done:
                return body
            if delay:
                time.sleep(delay)
            self.feed(transport(body))

    def close(self) -> None:
        """Releases the machine (its key is zeroed). Safe to call twice."""
        if self._h is not None:
            _lib.paywire_chain_free(self._h)
            self._h = None

    def __enter__(self) -> "Chain":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


def _options(options: Optional[Dict[str, Any]]) -> Optional[bytes]:
    if options is None:
        return None
    return json.dumps(options, separators=(",", ":")).encode()


def http_transport(url: str, timeout: float = 30.0) -> Transport:
    """POSTs JSON-RPC bodies to ``url`` with ``urllib``."""

    def send(body: bytes) -> bytes:
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (caller's URL)
            return resp.read(8 << 20)

    return send


@dataclass(frozen=True)
class SettleResponse:
    """The answer of POST /settle."""

    success: bool
    transaction: str
    network: str
    error_reason: Optional[str] = None
    error_message: Optional[str] = None
    payer: Optional[str] = None
    amount: Optional[str] = None
    json: bytes = b""


def verify_with_chain(request: Any, now: Any, transport: Transport, *,
                      facilitator_addresses: Optional[Sequence[str]] = None,
                      options: Optional[Dict[str, Any]] = None):
    """Verifies a POST /verify body with the chain behind ``transport``."""
    from . import VerifyResponse

    with Chain.verify(request, now, facilitator_addresses=facilitator_addresses, options=options) as c:
        return VerifyResponse._from_json(c.run(transport))


def settle(request: Any, now: Any, private_key: Union[bytes, str], transport: Transport, *,
           options: Optional[Dict[str, Any]] = None) -> SettleResponse:
    """Settles a POST /settle body through the node behind ``transport``."""
    with Chain.settle(request, now, private_key, options=options) as c:
        raw = c.run(transport)
    d = json.loads(raw)
    return SettleResponse(
        success=d["success"],
        transaction=d.get("transaction", ""),
        network=d.get("network", ""),
        error_reason=d.get("errorReason"),
        error_message=d.get("errorMessage"),
        payer=d.get("payer"),
        amount=d.get("amount"),
        json=raw,
    )
