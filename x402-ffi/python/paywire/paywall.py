"""Paywalls for ASGI servers (Starlette, FastAPI, any ASGI 3 app).

:class:`Paywall` is ASGI middleware that sells routes with the library's
lifecycle of a paid request, in its order: the payment is verified against the
route's own requirements, its replay record claimed in a record store
(:class:`MemoryStore`, or :class:`SQLiteStore` shared by every worker), the
handler run with its response held back (buffered, never sent), the payment
settled through a facilitator (:class:`HTTPFacilitator`: any x402 facilitator
over HTTP), and the held response sent only once settlement succeeded with a
transaction, with ``PAYMENT-RESPONSE``. A handler that answers outside 2xx, or
raises, is not settled. ``batch-settlement`` routes on ``eip155`` networks sell
through payment channels: a deposit is verified at the facilitator's
``/verify``, handled, then settled; the vouchers that follow are checked here
and charged by the swap of the channel's record in the store, with no
facilitator call. A facilitator failure never delivers the content, and a
payment that may have settled is never answered with a new 402.

The core package needs no third-party module: the facilitator client is
``http.client``, the SQLite store ``sqlite3``.
"""

from __future__ import annotations

import asyncio
import http.client
import inspect
import json
import logging
import os
import socket
import sqlite3
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .lifecycle import (
    Lifecycle, LifecycleSettings, RecordInfo, SettleOutcome, SettleReply, check_route, read_record,
    record_forgettable,
)

__all__ = [
    "HTTPFacilitator", "MemoryStore", "Paywall", "RecordStore", "Route", "SQLiteStore", "drive",
]

log = logging.getLogger("paywire")


@dataclass(frozen=True)
class Route:
    """A paid route: a path and the requirement that pays for it (x402 v2)."""

    path: str  #: the request path sold (exact match: ``/report``)
    network: str  #: CAIP-2 (``eip155:8453``)
    asset: str  #: the token's address
    pay_to: str  #: the recipient's address
    amount: Union[int, str]  #: the price in the token's atomic units (10000 is 0.01 USDC)
    #: ``exact``, ``upto``, or ``batch-settlement`` (payment channels on an
    #: ``eip155`` network: ``extra`` then names the ``receiverAuthorizer`` and
    #: the ``withdrawDelay`` besides the token's ``name`` and ``version``)
    scheme: str = "exact"
    #: the requirement's extra: for EIP-3009 tokens their EIP-712 domain ``{"name", "version"}``
    extra: Optional[Mapping[str, Any]] = None
    max_timeout_seconds: int = 60
    description: Optional[str] = None
    mime_type: Optional[str] = None
    #: the resource URL named in the 402 (default: the request's own)
    resource: Optional[str] = None
    #: the 402's ``extensions``: declarations such as ``payment-identifier``
    #: (``{"payment-identifier": {"info": {"required": False}, "schema": {...}}}``)
    #: or ``bazaar``, checked when the paywall is built
    extensions: Optional[Mapping[str, Any]] = None

    def document(self, resource: str) -> dict:
        """The route's PaymentRequired for a request to ``resource``."""
        info: Dict[str, Any] = {"url": self.resource or resource}
        if self.description:
            info["description"] = self.description
        if self.mime_type:
            info["mimeType"] = self.mime_type
        req: Dict[str, Any] = {
            "scheme": self.scheme, "network": self.network, "amount": str(self.amount),
            "asset": self.asset, "payTo": self.pay_to, "maxTimeoutSeconds": self.max_timeout_seconds,
        }
        if self.extra is not None:
            req["extra"] = dict(self.extra)
        doc: Dict[str, Any] = {"x402Version": 2, "resource": info, "accepts": [req]}
        if self.extensions is not None:
            doc["extensions"] = dict(self.extensions)
        return doc


class RecordStore:
    """What a paywall needs of a store of replay records: text the lifecycle
    writes and compares byte for byte. ``swap`` must be atomic for every
    server sharing the store: that is what makes each payment settle at most
    once. Methods may be coroutines; plain methods of a store whose
    ``blocking`` is true run in a worker thread."""

    blocking = True

    def get(self, key: str) -> Optional[str]:
        """The record of ``key``, or ``None``."""
        raise NotImplementedError

    def swap(self, key: str, expected: Optional[str], new: Optional[str]) -> Tuple[bool, Optional[str]]:
        """Sets the record of ``key`` to ``new`` (``None``: removes it) only if
        it is ``expected`` (``None``: absent), atomically; returns ``(True,
        None)``, or ``(False, the record there now)``."""
        raise NotImplementedError


class MemoryStore(RecordStore):
    """Records in this process's memory: one worker process, records lost on
    restart (a payment settled and not yet delivered when it stops is then
    lost to its payer). Use :class:`SQLiteStore` for several workers."""

    blocking = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: Dict[str, str] = {}

    def get(self, key: str) -> Optional[str]:
        with self._lock:
            return self._records.get(key)

    def swap(self, key: str, expected: Optional[str], new: Optional[str]) -> Tuple[bool, Optional[str]]:
        with self._lock:
            current = self._records.get(key)
            if current != expected:
                return False, current
            if new is None:
                self._records.pop(key, None)
            else:
                self._records[key] = new
            return True, None

    def records(self) -> Dict[str, str]:
        """A copy of every record, by key."""
        with self._lock:
            return dict(self._records)

    def uncertain(self) -> List[RecordInfo]:
        """The payments whose settlement is uncertain: to reconcile."""
        return [i for i in map(read_record, self.records().values()) if i.state == "uncertain"]

    def forget(self, now: Any) -> int:
        """Removes the records that may be forgotten at ``now`` (delivered
        payments whose signature has expired); returns how many."""
        with self._lock:
            gone = [k for k, r in self._records.items() if record_forgettable(r, now)]
            for k in gone:
                del self._records[k]
            return len(gone)


def _state(record: str) -> str:
    try:
        return read_record(record).state
    except Exception:  # a record the library did not write
        return "unknown"


class SQLiteStore(RecordStore):
    """Records in a SQLite file, shared by every process that opens it (its
    swap takes the write lock before reading: one step for all of them). The
    table is ``paywire_payments``, as ``paywire serve --state`` writes it."""

    blocking = True
    _SCHEMA = (
        "CREATE TABLE IF NOT EXISTS paywire_payments (key TEXT PRIMARY KEY NOT NULL, "
        "record TEXT NOT NULL, state TEXT NOT NULL, updated INTEGER NOT NULL)"
    )

    def __init__(self, path: Union[str, os.PathLike], *, busy_timeout: float = 10.0):
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None,
                                     check_same_thread=False)
        # WAL: readers beside one writer; FULL: each commit is on disk before
        # the answer it allows leaves.
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(self._SCHEMA)

    def get(self, key: str) -> Optional[str]:
        with self._lock:
            row = self._conn.execute("SELECT record FROM paywire_payments WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def swap(self, key: str, expected: Optional[str], new: Optional[str]) -> Tuple[bool, Optional[str]]:
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                row = c.execute("SELECT record FROM paywire_payments WHERE key = ?", (key,)).fetchone()
                current = row[0] if row else None
                if current != expected:
                    c.execute("ROLLBACK")
                    return False, current
                if new is None:
                    c.execute("DELETE FROM paywire_payments WHERE key = ?", (key,))
                else:
                    c.execute(
                        "INSERT INTO paywire_payments (key, record, state, updated) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET record = excluded.record, state = excluded.state, "
                        "updated = excluded.updated",
                        (key, new, _state(new), int(time.time())),
                    )
                c.execute("COMMIT")
                return True, None
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise

    def records(self) -> Dict[str, str]:
        """Every record, by key."""
        with self._lock:
            return dict(self._conn.execute("SELECT key, record FROM paywire_payments").fetchall())

    def uncertain(self) -> List[RecordInfo]:
        """The payments whose settlement is uncertain: to reconcile."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT record FROM paywire_payments WHERE state = 'uncertain' ORDER BY key").fetchall()
        return [read_record(r[0]) for r in rows]

    def forget(self, now: Any) -> int:
        """Removes the records that may be forgotten at ``now``; returns how many."""
        n = 0
        for key, record in self.records().items():
            if record_forgettable(record, now) and self.swap(key, record, None)[0]:
                n += 1
        return n

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class HTTPFacilitator:
    """Any x402 facilitator over HTTP: ``POST {url}/settle`` and ``POST
    {url}/verify``, once, never retried, no redirect followed. Whether the request can have left is
    decided by the connection: a failure before one was made is NOT_SENT;
    any failure after it is NO_ANSWER (the facilitator may have settled)."""

    def __init__(self, url: str, *, api_key: Optional[str] = None, max_body: int = 1 << 20,
                 ssl_context: Optional[ssl.SSLContext] = None):
        """``api_key``, when set, is sent as ``Authorization: Bearer api_key``."""
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.max_body = max_body
        self.ssl_context = ssl_context

    def settle(self, body: bytes, timeout: float) -> SettleReply:
        """``POST {url}/settle`` with ``body`` (JSON) within ``timeout`` seconds."""
        return self._post("/settle", body, timeout)

    def verify(self, body: bytes, timeout: float) -> SettleReply:
        """``POST {url}/verify`` with ``body`` (JSON) within ``timeout`` seconds,
        with the same headers, limits and reading of failures as :meth:`settle`."""
        return self._post("/verify", body, timeout)

    def _post(self, endpoint: str, body: bytes, timeout: float) -> SettleReply:
        u = urllib.parse.urlsplit(self.url + endpoint)
        if u.scheme not in ("http", "https") or not u.hostname:
            return SettleReply(SettleOutcome.NOT_SENT, detail=f"unusable facilitator URL {self.url!r}")
        deadline = time.monotonic() + timeout
        if u.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                u.hostname, u.port, timeout=timeout, context=self.ssl_context or ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        try:
            try:
                conn.connect()
            except (OSError, ValueError) as e:
                return SettleReply(SettleOutcome.NOT_SENT, detail=f"connecting to the facilitator: {e}")
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            if self.api_key:
                headers["Authorization"] = f"Bearer {self.api_key}"
            try:
                path = u.path + (f"?{u.query}" if u.query else "")
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                declared = resp.getheader("Content-Length")
                chunks: List[bytes] = []
                got = 0
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise socket.timeout(f"the answer took longer than the {endpoint[1:]} timeout")
                    if conn.sock is not None:
                        conn.sock.settimeout(left)
                    chunk = resp.read(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    got += len(chunk)
                    if got > self.max_body:
                        return SettleReply(SettleOutcome.NO_ANSWER, detail=f"HTTP {resp.status} with a body over "
                                                                           f"{self.max_body} bytes")
                data = b"".join(chunks)
                if declared is not None and declared.strip().isdigit() and int(declared) != len(data):
                    return SettleReply(SettleOutcome.NO_ANSWER,
                                       detail=f"HTTP {resp.status}, then the body was cut short "
                                              f"({len(data)} of {declared} bytes)")
                return SettleReply(SettleOutcome.ANSWERED, status=resp.status, body=data)
            except Exception as e:  # sent, or may have been: the answer is unknown
                return SettleReply(SettleOutcome.NO_ANSWER, detail=f"{type(e).__name__}: {e}")
        finally:
            conn.close()


async def _run(blocking: bool, fn: Callable, *args: Any) -> Any:
    """Calls a store's or a facilitator's method: awaited if it is a coroutine,
    in a worker thread if it blocks, else inline."""
    if inspect.iscoroutinefunction(fn):
        return await fn(*args)
    if not blocking:
        return fn(*args)
    try:
        import anyio.to_thread  # Starlette's own, and works under trio too

        return await anyio.to_thread.run_sync(lambda: fn(*args))
    except ImportError:
        return await asyncio.to_thread(fn, *args)


class _Held:
    """A handler's response, held back until settlement."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: List[Tuple[bytes, bytes]] = []
        self.body: List[bytes] = []
        self.complete = False

    async def send(self, message: Mapping[str, Any]) -> None:
        kind = message.get("type")
        if kind == "http.response.start":
            if self.status == 0:
                self.status = int(message["status"])
                self.headers = [(bytes(n), bytes(v)) for n, v in message.get("headers", [])]
        elif kind == "http.response.body":
            self.body.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                self.complete = True


def _headers_over(held: Sequence[Tuple[bytes, bytes]], over: Sequence[Sequence[str]]) -> List[Tuple[bytes, bytes]]:
    """``held`` with each name of ``over`` replacing every held line of that name."""
    names = {n.lower().encode("latin-1") for n, _ in over}
    kept = [(n, v) for n, v in held if n.lower() not in names]
    return kept + [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in over]


async def drive(life: Lifecycle, *, records: RecordStore, facilitator: Any,
                on_uncertain: Callable[[str, RecordInfo], Any], clock: Callable[[], float],
                handle: Callable[[], Any], respond: Callable[[Mapping[str, Any]], Any]) -> bool:
    """Drives one lifecycle to its answer, for a paywall of any transport
    (HTTP here, MCP tools in :mod:`paywire.mcp`): reads and swaps records,
    runs ``handle()`` (awaited: ``(status, "")``, or ``(None, why)`` when the
    handler failed), verifies (``facilitator.verify``) and settles
    (``facilitator.settle``) through ``facilitator``, and hands the answer
    step to ``respond(step)`` (awaited) once. Closes ``life``; returns whether
    an answer was given."""
    answered = False
    blocking = getattr(records, "blocking", True)
    try:
        for _ in range(64):
            step = life.next()
            action = step["action"]
            if action == "lookup":
                try:
                    record = await _run(blocking, records.get, step["key"])
                except Exception as e:
                    life.feed_store_error(f"{type(e).__name__}: {e}")
                else:
                    life.feed_record(record)
            elif action == "swap":
                try:
                    swapped, current = await _run(blocking, records.swap, step["key"], step["expected"],
                                                  step["new"])
                except Exception as e:
                    life.feed_store_error(f"{type(e).__name__}: {e}")
                else:
                    life.feed_swap(swapped, current)
            elif action == "directory":
                # batch-settlement agents are not registered with these paywalls.
                life.feed_directory(None)
            elif action == "handle":
                try:
                    status, failure = await handle()
                except Exception as e:  # the handler failed: not settled
                    status, failure = None, f"the handler raised {type(e).__name__}: {e}"
                if status is None:
                    life.feed_handler_failure(failure, clock())
                else:
                    life.feed_handler(status, clock())
            elif action == "verify":
                verify = getattr(facilitator, "verify", None)
                if verify is None:
                    reply = SettleReply(SettleOutcome.NOT_SENT, detail="the facilitator has no verify method")
                else:
                    try:
                        reply = await _run(True, verify, step["body"].encode("utf-8"),
                                           max(step["timeoutMs"], 1) / 1000.0)
                    except Exception as e:  # no verdict: nothing is charged
                        reply = SettleReply(SettleOutcome.NO_ANSWER, detail=f"{type(e).__name__}: {e}")
                life.feed_verify(reply, clock())
            elif action == "settle":
                try:
                    reply = await _run(True, facilitator.settle, step["body"].encode("utf-8"),
                                       step["timeoutMs"] / 1000.0)
                except Exception as e:  # it may have sent the request: uncertain
                    reply = SettleReply(SettleOutcome.NO_ANSWER, detail=f"{type(e).__name__}: {e}")
                life.feed_settle(reply, clock())
            elif action == "respond":
                if step.get("uncertainRecord"):
                    try:
                        on_uncertain(life.key or "", read_record(step["uncertainRecord"]))
                    except Exception:
                        log.exception("on_uncertain failed")
                if not answered:
                    answered = True
                    await respond(step)
                # The marks that follow (delivered) are made after the answer left.
                life.responded()
            else:
                break
    finally:
        life.close()
    return answered


class Paywall:
    """ASGI middleware selling ``routes``. With Starlette or FastAPI::

        app.add_middleware(Paywall, routes=[Route(...)], facilitator=HTTPFacilitator(url))

    Requests to other paths pass through. The handler of a paid route runs
    before settlement with its response held back in memory (the lifecycle's
    order: verify, claim, handle, settle, deliver); it must not stream
    endlessly."""

    def __init__(self, app: Any, *, routes: Sequence[Route], facilitator: Any,
                 records: Optional[RecordStore] = None, settings: Optional[LifecycleSettings] = None,
                 on_uncertain: Optional[Callable[[str, RecordInfo], Any]] = None,
                 clock: Callable[[], float] = time.time):
        """``facilitator`` has ``settle(body: bytes, timeout: float) ->
        SettleReply`` (plain or a coroutine), and ``verify`` of the same shape
        for ``batch-settlement`` routes on ``eip155`` networks and for
        ``settings.verify_at_facilitator`` (:class:`HTTPFacilitator` has
        both; a route or setting that needs ``verify`` without it is a
        ``ValueError``); ``records`` defaults to a
        :class:`MemoryStore`; ``on_uncertain(key, info)`` is told of every
        payment whose settlement became uncertain (default: a warning on the
        ``paywire`` logger)."""
        self.app = app
        self.facilitator = facilitator
        self.records = records if records is not None else MemoryStore()
        self.settings = settings
        self.on_uncertain = on_uncertain or (lambda key, info: log.warning(
            "settlement UNCERTAIN, to reconcile: %s payer %s amount %s: %s", key, info.payer, info.amount,
            info.cause))
        self.clock = clock
        self.routes: Dict[str, Route] = {}
        for r in routes:
            if not r.path.startswith("/"):
                raise ValueError(f"route {r.path!r}: a path starts with /")
            if r.path in self.routes:
                raise ValueError(f"route {r.path!r} given twice")
            check_route(r.document(f"http://localhost{r.path}"))
            if (r.scheme == "batch-settlement" and r.network.startswith("eip155:")
                    and not callable(getattr(facilitator, "verify", None))):
                raise ValueError(f"route {r.path!r}: batch-settlement on {r.network} needs a facilitator "
                                 "with verify(body, timeout)")
            self.routes[r.path] = r
        if settings is not None and settings.verify_at_facilitator and not callable(
                getattr(facilitator, "verify", None)):
            raise ValueError("verify_at_facilitator needs a facilitator with verify(body, timeout)")
        if settings is not None and self.routes:
            # Bad settings are refused now, not on the first paid request.
            probe = next(iter(self.routes.values()))
            Lifecycle(probe.document("http://localhost/"), {"method": "GET", "url": "http://localhost/",
                                                           "headers": []}, clock(), settings=settings).close()

    async def __call__(self, scope: Dict[str, Any], receive: Callable, send: Callable) -> None:
        route = self.routes.get(scope.get("path", "")) if scope.get("type") == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        await self._paid(route, scope, receive, send)

    @staticmethod
    def _request(scope: Mapping[str, Any]) -> Tuple[str, str, List[List[str]]]:
        headers = [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope.get("headers", [])]
        host = next((v for n, v in headers if n.lower() == "host"), None)
        if host is None:
            server = scope.get("server") or ("localhost", None)
            host = server[0] if server[1] is None else f"{server[0]}:{server[1]}"
        base = f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}{scope['path']}"
        query = scope.get("query_string", b"").decode("latin-1")
        return base, base + (f"?{query}" if query else ""), headers

    async def _handle(self, scope: Dict[str, Any], receive: Callable) -> Tuple[Optional[_Held], str]:
        held = _Held()
        try:
            await self.app(scope, receive, held.send)
        except Exception as e:  # the handler failed: not settled
            return None, f"the handler raised {type(e).__name__}: {e}"
        if held.status == 0:
            return None, "the handler sent no response"
        return held, ""

    async def _send(self, send: Callable, scope: Mapping[str, Any], step: Mapping[str, Any],
                    held: Optional[_Held]) -> None:
        head = scope.get("method") == "HEAD"
        if step.get("useHandlerResponse") and held is not None:
            status, headers = int(step["status"]), _headers_over(held.headers, step["headers"])
            body = b"".join(held.body)
        else:
            body = (step.get("body") or "").encode("utf-8")
            status = int(step["status"])
            headers = _headers_over([(b"content-length", str(len(body)).encode())], step["headers"])
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else body})

    async def _paid(self, route: Route, scope: Dict[str, Any], receive: Callable, send: Callable) -> None:
        resource, url, headers = self._request(scope)
        life = Lifecycle(route.document(resource), {"method": scope.get("method", "GET"), "url": url,
                                                    "headers": headers}, self.clock(), settings=self.settings)
        held: Optional[_Held] = None

        async def handle() -> Tuple[Optional[int], str]:
            nonlocal held
            held, failure = await self._handle(scope, receive)
            return (None, failure) if held is None else (held.status, "")

        async def respond(step: Mapping[str, Any]) -> None:
            await self._send(send, scope, step, held)

        answered = await drive(life, records=self.records, facilitator=self.facilitator,
                               on_uncertain=self.on_uncertain, clock=self.clock, handle=handle, respond=respond)
        if not answered:
            body = json.dumps({"error": "paywall_error",
                               "message": "the payment's lifecycle ended without an answer"}).encode()
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json"), (b"cache-control", b"no-store"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
