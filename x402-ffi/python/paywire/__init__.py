"""The x402 payment protocol (HTTP 402) for Python, through libpaywire.

Every protocol decision is made by the Rust core behind the C ABI
(include/paywire.h); this package converts Python values and forwards them.
An invalid payment is not an error: :func:`verify` returns a
:class:`VerifyResponse` with ``is_valid`` false and the reference SDK's reason
string. :class:`PaywireError` reports unreadable documents, bad settings and
misuse, with the library's result code and, for a document, the protocol
reason string the library names.
"""

from __future__ import annotations

import ctypes
import datetime as _dt
import enum
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence, Union

from . import _native

__all__ = [
    "ChainCheck", "HeaderKind", "Payment", "Policy", "Result", "VerifyResponse", "PaywireError",
    "SvmFacts", "SvmPayment", "create_svm_payment", "create_payment", "decode_header", "eip3009_digest", "encode_header", "header_kind_from_name",
    "library_path", "permit2_digest", "private_key_address", "recover_address",
    "typed_data_digest", "verify", "verify_header", "version",
    "Chain", "SettleResponse", "http_transport", "settle", "verify_with_chain",
    "BatchSettlementResult", "BatchVerdict", "HttpRequest", "SignedRequest", "sign_request",
    "verify_batch_settlement",
    "Lifecycle", "LifecycleSettings", "RecordInfo", "SettleOutcome", "SettleReply", "check_route",
    "read_record", "record_forgettable",
    "HTTPFacilitator", "MemoryStore", "Paywall", "RecordStore", "Route", "SQLiteStore",
]

_lib = _native.lib

Json = Union[bytes, bytearray, str, dict, list]
Time = Union[int, float, _dt.datetime]


class Result(enum.IntEnum):
    """The C API's result codes (paywire_result); numbers are never reused."""

    OK = 0
    NULL_PARAMETER = 1
    INSUFFICIENT_SIZE = 2
    PANIC = 3
    INVALID_ARGUMENT = 4
    INVALID_UTF8 = 5
    INVALID_CONFIG = 6
    INVALID_POLICY = 7
    INVALID_PRIVATE_KEY = 8
    INVALID_SIGNATURE = 9
    INVALID_PAYLOAD = 100
    INVALID_PAYMENT_REQUIREMENTS = 101
    INVALID_RESPONSE = 102
    INVALID_X402_VERSION = 103
    INVALID_NETWORK = 104

    @property
    def message(self) -> str:
        """The library's sentence for this code."""
        return _result_message(int(self))


class HeaderKind(enum.IntEnum):
    """The x402 HTTP headers (paywire_header_kind)."""

    ANY = 0  #: decoding only: the document's shape decides
    PAYMENT_REQUIRED = 1
    PAYMENT_SIGNATURE = 2
    PAYMENT_RESPONSE = 3
    X_PAYMENT = 4
    X_PAYMENT_RESPONSE = 5

    @property
    def header_name(self) -> str:
        """The name as the specification spells it (``PAYMENT-SIGNATURE``)."""
        return _out_bytes(lambda o, c, n, *_: _lib.paywire_header_name(int(self), o, c, n)).decode()


class PaywireError(Exception):
    """A failed call: the result code, the library's description and, when the
    failure is about a document, its protocol reason string (``reason``, as
    the library reports it; ``None`` otherwise)."""

    def __init__(self, code: int, message: str, reason: Optional[str] = None):
        try:
            self.code: Union[Result, int] = Result(code)
        except ValueError:
            self.code = code
        self.message = message
        self.reason = reason
        super().__init__(message)


def _result_message(code: int) -> str:
    n = ctypes.c_size_t()
    if _lib.paywire_result_message(code, None, 0, ctypes.byref(n)) != Result.INSUFFICIENT_SIZE:
        return f"unknown x402 result {code}"
    buf = ctypes.create_string_buffer(max(n.value, 1))
    if _lib.paywire_result_message(code, buf, n.value, ctypes.byref(n)) != Result.OK:
        return f"unknown x402 result {code}"
    return buf.raw[: n.value].decode()


class _Report:
    """The buffers a failed call describes itself in: ``err_buf`` (the
    description) and ``reason_buf`` (the protocol reason string)."""

    def __init__(self) -> None:
        self.message = ctypes.create_string_buffer(512)
        self.reason = ctypes.create_string_buffer(_native.REASON_CAP)

    def args(self) -> tuple:
        """``(err_buf, err_cap, reason_buf, reason_cap)``, emptied."""
        self.message[0] = b"\0"
        self.reason[0] = b"\0"
        return (self.message, len(self.message), self.reason, len(self.reason))

    def error(self, code: int) -> PaywireError:
        message = self.message.value.decode("utf-8", "replace") or _result_message(code)
        return PaywireError(code, message, self.reason.value.decode("ascii") or None)


def _out_bytes(call: Callable, size: Optional[int] = None) -> bytes:
    """Calls ``call(out, out_cap, out_len, err_buf, err_cap, reason_buf,
    reason_cap)`` for its output. With ``size`` (one the C API states before
    any call: ``ADDRESS_LEN``, ``VERIFY_RESPONSE_MAX``), once, with a buffer
    of that size; without, first with no buffer (the library answers
    INSUFFICIENT_SIZE with the exact size needed), then with a buffer of
    exactly that size."""
    report = _Report()
    n = ctypes.c_size_t()
    if size is None:
        r = call(None, 0, ctypes.byref(n), *report.args())
        if r == Result.OK:
            return b""
        if r != Result.INSUFFICIENT_SIZE:
            raise report.error(r)
        size = n.value
    buf = ctypes.create_string_buffer(max(size, 1))
    r = call(buf, size, ctypes.byref(n), *report.args())
    if r != Result.OK:
        raise report.error(r)
    return buf.raw[: n.value]


def _bytes(v: Json) -> bytes:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    if isinstance(v, str):
        return v.encode("utf-8")
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _unix(now: Time) -> int:
    if isinstance(now, _dt.datetime):
        now = now.timestamp()
    return max(0, int(now))


def _fixed32(v: Union[bytes, bytearray, str], what: str) -> bytes:
    if isinstance(v, str):
        v = bytes.fromhex(v[2:] if v.startswith("0x") else v)
    v = bytes(v)
    if len(v) != 32:
        raise ValueError(f"{what} must be 32 bytes, got {len(v)}")
    return v


def version() -> str:
    """The linked library's version (``paywire-ffi 0.1.0``)."""
    return _out_bytes(lambda o, c, n, *_: _lib.paywire_version(o, c, n)).decode()


def library_path() -> Optional[str]:
    """The path of the loaded libpaywire."""
    return _native.path


@dataclass(frozen=True)
class ChainCheck:
    """A check that needs the chain, owed after a valid offline verdict. For
    ``exact`` on Solana: ``blockhashRecent`` (``blockhash``),
    ``destinationExists`` and ``sourceBalanceAtLeast`` (``account``,
    ``amount``), ``simulate``; base58 addresses."""

    check: str
    asset: Optional[str] = None
    authorizer: Optional[str] = None
    nonce: Optional[str] = None
    owner: Optional[str] = None
    amount: Optional[str] = None
    proxy: Optional[str] = None
    blockhash: Optional[str] = None
    account: Optional[str] = None


@dataclass(frozen=True)
class VerifyResponse:
    """The answer of POST /verify."""

    is_valid: bool
    invalid_reason: Optional[str] = None
    invalid_message: Optional[str] = None
    payer: Optional[str] = None
    chain_checks: List[ChainCheck] = field(default_factory=list)
    json: bytes = b""

    @classmethod
    def _from_json(cls, raw: bytes) -> "VerifyResponse":
        d = json.loads(raw)
        checks = [ChainCheck(**c) for c in d.get("extra", {}).get("chainChecks", [])]
        return cls(
            is_valid=d["isValid"],
            invalid_reason=d.get("invalidReason"),
            invalid_message=d.get("invalidMessage"),
            payer=d.get("payer"),
            chain_checks=checks,
            json=raw,
        )


def _config(facilitator_addresses: Optional[Sequence[str]]) -> Optional[bytes]:
    if not facilitator_addresses:
        return None
    return _bytes({"facilitatorAddresses": list(facilitator_addresses)})


def verify(request: Json, now: Time, *, facilitator_addresses: Optional[Sequence[str]] = None) -> VerifyResponse:
    """Verifies a POST /verify body (``{x402Version, paymentPayload,
    paymentRequirements}``, v1 or v2) offline at ``now`` (unix seconds or a
    datetime). ``facilitator_addresses``: this facilitator's signer addresses,
    which ``upto`` payments must name (without them, upto is refused)."""
    body, cfg = _bytes(request), _config(facilitator_addresses)
    t = _unix(now)
    raw = _out_bytes(
        lambda o, c, n, *report: _lib.paywire_verify_with_config(
            body, len(body), t, cfg, len(cfg or b""), o, c, n, *report
        ),
        _native.VERIFY_RESPONSE_MAX,
    )
    return VerifyResponse._from_json(raw)


def verify_header(
    header: Union[str, bytes],
    requirements: Json,
    now: Time,
    *,
    facilitator_addresses: Optional[Sequence[str]] = None,
) -> VerifyResponse:
    """Verifies a PAYMENT-SIGNATURE or X-PAYMENT header value against the
    server's own requirements (PaymentRequirements of the header's version)."""
    h = header.encode("utf-8") if isinstance(header, str) else bytes(header)
    req, cfg = _bytes(requirements), _config(facilitator_addresses)
    t = _unix(now)
    raw = _out_bytes(
        lambda o, c, n, *report: _lib.paywire_verify_header(
            h, len(h), req, len(req), t, cfg, len(cfg or b""), o, c, n, *report
        ),
        _native.VERIFY_RESPONSE_MAX,
    )
    return VerifyResponse._from_json(raw)


def header_kind_from_name(name: str) -> HeaderKind:
    """Looks a header name up, ignoring ASCII case."""
    b = name.encode("utf-8")
    k = ctypes.c_uint32()
    r = _lib.paywire_header_kind_from_name(b, len(b), ctypes.byref(k))
    if r != Result.OK:
        raise PaywireError(r, f"{name!r}: {_result_message(r)}")
    return HeaderKind(k.value)


def decode_header(kind: Union[HeaderKind, int], value: Union[str, bytes]) -> dict:
    """Decodes a header value of ``kind`` (``HeaderKind.ANY``: by shape) into
    its document, strictly validated."""
    v = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    raw = _out_bytes(
        lambda o, c, n, *report: _lib.paywire_decode_header(int(kind), v, len(v), o, c, n, *report)
    )
    return json.loads(raw)


def encode_header(kind: Union[HeaderKind, int], document: Json) -> str:
    """Validates a document for the header ``kind`` and returns the header value."""
    doc = _bytes(document)
    raw = _out_bytes(
        lambda o, c, n, *report: _lib.paywire_encode_header(int(kind), doc, len(doc), o, c, n, *report)
    )
    return raw.decode("ascii")


@dataclass(frozen=True)
class Policy:
    """What :func:`create_payment` may pay. Empty lists allow anything."""

    networks: Sequence[str] = ()  #: CAIP-2 identifiers or v1 names
    assets: Sequence[str] = ()  #: token addresses
    max_amount: Optional[Union[int, str]] = None  #: atomic units
    allow_upto: bool = False

    def _json(self) -> bytes:
        d: dict = {}
        if self.networks:
            d["networks"] = list(self.networks)
        if self.assets:
            d["assets"] = list(self.assets)
        if self.max_amount is not None:
            d["maxAmount"] = str(self.max_amount)
        if self.allow_upto:
            d["allowUpto"] = True
        return _bytes(d)


@dataclass(frozen=True)
class Payment:
    """A created payment: send ``value`` in the header ``header_name``."""

    header: HeaderKind
    header_name: str
    value: str
    accepts_index: int
    payer: str


def create_payment(
    payment_required: Json,
    private_key: Union[bytes, str],
    now: Time,
    *,
    policy: Optional[Policy] = None,
    nonce: Optional[bytes] = None,
) -> Payment:
    """Pays a 402: ``payment_required`` is the PaymentRequired (JSON, dict or a
    PAYMENT-REQUIRED header value); the first requirement the policy allows is
    signed with the 32-byte ``private_key``. ``nonce`` (32 bytes) defaults to
    ``os.urandom(32)``; the same inputs give the same payment, so never reuse one."""
    pr = _bytes(payment_required)
    key = _fixed32(private_key, "private_key")
    n32 = _fixed32(nonce if nonce is not None else os.urandom(32), "nonce")
    pol = policy._json() if policy is not None else None
    info = _native.PaymentInfo()
    t = _unix(now)
    # Signing is deterministic (RFC 6979): the size query and the call that
    # fills the buffer make the same payment.
    raw = _out_bytes(
        lambda o, c, n, *report: _lib.paywire_create_payment(
            pr, len(pr), key, n32, t, pol, len(pol or b""), ctypes.byref(info), o, c, n, *report
        )
    )
    kind = HeaderKind(info.header_kind)
    return Payment(
        header=kind,
        header_name=kind.header_name,
        value=raw.decode("ascii"),
        accepts_index=info.accepts_index,
        payer=info.payer.decode("ascii"),
    )


@dataclass(frozen=True)
class SvmFacts:
    """What a Solana payer needs besides the 402, read from the chain: the
    mint's owner program (Token ``TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA``
    or Token-2022 ``TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb``) and its
    decimals; a recent blockhash (base58) for requirements without
    ``extra.recentBlockhash``."""

    token_program: str
    decimals: int
    recent_blockhash: Optional[str] = None

    def _json(self) -> bytes:
        d: dict = {"tokenProgram": self.token_program, "decimals": self.decimals}
        if self.recent_blockhash:
            d["recentBlockhash"] = self.recent_blockhash
        return _bytes(d)


@dataclass(frozen=True)
class SvmPayment:
    """A created Solana payment: send ``value`` in ``PAYMENT-SIGNATURE``."""

    value: str
    accepts_index: int
    payer: str  #: base58 of the Ed25519 public key
    header_name: str = "PAYMENT-SIGNATURE"


def create_svm_payment(
    payment_required: Json,
    seed: Union[bytes, str],
    facts: SvmFacts,
    *,
    policy: Optional[Policy] = None,
    nonce: Optional[bytes] = None,
) -> SvmPayment:
    """Pays an ``exact`` requirement on a Solana network (x402 v2): the first
    in ``accepts`` the policy allows (a policy listing ``assets``, EVM tokens,
    allows none). Builds the transaction the reference client (@x402/svm)
    builds — compute budget, ``TransferChecked`` to the associated token
    account of ``payTo``, a Memo of ``extra.memo`` or of a random nonce —,
    partly signed by the Ed25519 key of the 32-byte ``seed``; the fee payer
    (``extra.feePayer``) signs later. ``nonce`` (32 bytes, its first 16 the
    memo's) defaults to ``os.urandom(32)``."""
    pr = _bytes(payment_required)
    key = _fixed32(seed, "seed")
    n32 = _fixed32(nonce if nonce is not None else os.urandom(32), "nonce")
    fj = facts._json()
    pol = policy._json() if policy is not None else None
    info = _native.SvmPaymentInfo()
    # Ed25519 signing is deterministic: the size query and the call that
    # fills the buffer make the same payment.
    raw = _out_bytes(
        lambda o, c, n, *report: _lib.paywire_create_svm_payment(
            pr, len(pr), key, n32, fj, len(fj), pol, len(pol or b""), ctypes.byref(info),
            o, c, n, *report
        )
    )
    return SvmPayment(
        value=raw.decode("ascii"),
        accepts_index=info.accepts_index,
        payer=info.payer.decode("ascii"),
    )


def _digest(call: Callable) -> bytes:
    out = ctypes.create_string_buffer(32)
    report = _Report()
    r = call(out, *report.args())
    if r != Result.OK:
        raise report.error(r)
    return out.raw


def eip3009_digest(domain: Json, message: Json) -> bytes:
    """The EIP-712 digest an EIP-3009 payer signs: domain ``{name, version,
    chainId, verifyingContract}``, message a payload's ``authorization``."""
    d, m = _bytes(domain), _bytes(message)
    return _digest(lambda o, *report: _lib.paywire_eip3009_digest(d, len(d), m, len(m), o, *report))


def permit2_digest(chain_id: int, message: Json) -> bytes:
    """The EIP-712 digest a Permit2 payer signs on ``chain_id``; message a
    payload's ``permit2Authorization``."""
    m = _bytes(message)
    return _digest(lambda o, *report: _lib.paywire_permit2_digest(chain_id, m, len(m), o, *report))


def typed_data_digest(typed_data: Json) -> bytes:
    """The EIP-712 digest of a typed-data document ``{types, primaryType,
    domain, message}`` of an x402 primary type."""
    t = _bytes(typed_data)
    return _digest(lambda o, *report: _lib.paywire_typed_data_digest(t, len(t), o, *report))


def recover_address(digest: bytes, signature: Union[bytes, str]) -> str:
    """The EIP-55 address that signed ``digest``; ``signature`` is 65 raw
    bytes or ``0x`` + 130 hex digits. High-s and 64-byte signatures are refused."""
    d = _fixed32(digest, "digest")
    s = signature.encode("ascii") if isinstance(signature, str) else bytes(signature)
    return _out_bytes(
        lambda o, c, n, *report: _lib.paywire_recover_address(d, s, len(s), o, c, n, *report),
        _native.ADDRESS_LEN,
    ).decode("ascii")


def private_key_address(private_key: Union[bytes, str]) -> str:
    """The EIP-55 address of a 32-byte secp256k1 private key."""
    k = _fixed32(private_key, "private_key")
    return _out_bytes(
        lambda o, c, n, *_: _lib.paywire_private_key_address(k, o, c, n), _native.ADDRESS_LEN
    ).decode("ascii")


from .chain import Chain, SettleResponse, http_transport, settle, verify_with_chain  # noqa: E402
from .batch import (  # noqa: E402
    BatchSettlementResult, BatchVerdict, HttpRequest, SignedRequest, sign_request,
    verify_batch_settlement,
)
from .lifecycle import (  # noqa: E402
    Lifecycle, LifecycleSettings, RecordInfo, SettleOutcome, SettleReply, check_route, read_record,
    record_forgettable,
)
from .paywall import HTTPFacilitator, MemoryStore, Paywall, RecordStore, Route, SQLiteStore  # noqa: E402
