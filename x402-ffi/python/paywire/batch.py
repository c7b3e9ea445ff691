"""Deferred payments: ``batch-settlement`` on ``cloudflare:402``.

The agent commits to pay in its ``PAYMENT-SIGNATURE`` and signs the request
with Ed25519 (HTTP Message Signatures, RFC 9421, tag ``web-bot-auth``):
:func:`sign_request` produces the three headers to add. The server checks the
signature and the commitment at once with :func:`verify_batch_settlement`,
serves, and answers with the ``PAYMENT-RESPONSE`` value; billing happens later.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

from . import _native

_lib = _native.lib


@dataclass(frozen=True)
class HttpRequest:
    """An HTTP request as batch-settlement signs and verifies it."""

    method: str
    url: str  #: the absolute target URI; its authority is what ``@authority`` signs
    headers: Sequence[Tuple[str, str]] = ()  #: header lines in order, names in any case

    def with_headers(self, *lines: Tuple[str, str]) -> "HttpRequest":
        """This request with ``lines`` appended."""
        return HttpRequest(self.method, self.url, tuple(self.headers) + tuple(lines))

    def _json(self) -> dict:
        return {"method": self.method, "url": self.url, "headers": [[n, v] for n, v in self.headers]}


Request = Union[HttpRequest, Mapping[str, Any]]


def _request(r: Request) -> Any:
    return r._json() if isinstance(r, HttpRequest) else dict(r)


def _value(v: Any, what: str) -> bytes:
    """A JSON document the caller holds, as UTF-8, checked to be one JSON value
    (so that it cannot reach past its place in the input); the library reads it
    strictly."""
    from . import _bytes

    raw = _bytes(v)
    try:
        json.loads(raw)
    except ValueError as e:
        raise ValueError(f"{what} is not one JSON value: {e}") from None
    return raw


@dataclass(frozen=True)
class BatchVerdict:
    """The verdict on a batch-settlement payment, shaped like a VerifyResponse."""

    is_valid: bool
    invalid_reason: Optional[str] = None
    invalid_message: Optional[str] = None
    payer: Optional[str] = None  #: the signature agent the request names
    error_code: Optional[str] = None  #: the network's code when invalid (``invalid_signature``, ...)
    # What the agent committed to, and the signature that binds it (when valid).
    scheme: Optional[str] = None
    network: Optional[str] = None
    amount: Optional[str] = None
    asset: Optional[str] = None
    keyid: Optional[str] = None
    label: Optional[str] = None
    created: Optional[int] = None
    expires: Optional[int] = None


@dataclass(frozen=True)
class BatchSettlementResult:
    """The answer of :func:`verify_batch_settlement`."""

    verdict: BatchVerdict
    #: the PAYMENT-RESPONSE header value to send with the resource
    #: (a SettleResponse with no transaction, base64); None unless valid
    payment_response: Optional[str] = None
    json: bytes = b""

    @property
    def is_valid(self) -> bool:
        return self.verdict.is_valid


def verify_batch_settlement(
    request: Request,
    requirements: Any,
    directories: Mapping[str, Any],
    now: Any,
    *,
    max_clock_skew: Optional[int] = None,
    max_age: Optional[int] = None,
    max_validity: Optional[int] = None,
) -> BatchSettlementResult:
    """Verifies a request paying with batch-settlement on cloudflare:402 at
    ``now`` (unix seconds or a datetime): its signature (Ed25519, tag
    web-bot-auth, covering ``@authority``, ``signature-agent`` and
    ``payment-signature``), the signature's times, and the commitment in its
    PAYMENT-SIGNATURE against ``requirements`` (the server's PaymentRequired,
    a list of PaymentRequirements, or one: JSON text, bytes, dict or list).

    ``directories`` maps each signature agent the network knows (the URI its
    Signature-Agent names) to its key directory, a JWK Set as published (text,
    bytes or dict); an agent absent from it is unknown. The time limits are in
    seconds (defaults: 30 of clock skew, 300 of age, a window of 24 hours).

    A bad payment is a result whose verdict is invalid; a directory the library
    cannot read raises :class:`paywire.PaywireError`."""
    from . import _bytes, _out_bytes, _unix

    config = {k: v for k, v in (("maxClockSkew", max_clock_skew), ("maxAge", max_age),
                                ("maxValidity", max_validity)) if v is not None}
    dirs = b",".join(json.dumps(str(agent), ensure_ascii=False).encode("utf-8") + b":"
                     + _value(d, f"the directory of {agent!r}") for agent, d in directories.items())
    data = (b'{"request":' + _bytes(_request(request))
            + b',"requirements":' + _value(requirements, "requirements")
            + b',"directories":{' + dirs + b'}'
            + b',"now":' + str(_unix(now)).encode()
            + (b',"config":' + _bytes(config) if config else b"") + b"}")
    raw = _out_bytes(
        lambda o, c, n, *report: _lib.paywire_verify_batch_settlement(data, len(data), o, c, n, *report)
    )
    d = json.loads(raw)
    v, extra = d["verdict"], d["verdict"].get("extra", {})
    verdict = BatchVerdict(
        is_valid=v["isValid"],
        invalid_reason=v.get("invalidReason"),
        invalid_message=v.get("invalidMessage"),
        payer=v.get("payer"),
        error_code=extra.get("errorCode"),
        scheme=extra.get("scheme"),
        network=extra.get("network"),
        amount=extra.get("amount"),
        asset=extra.get("asset"),
        keyid=extra.get("keyid"),
        label=extra.get("label"),
        created=extra.get("created"),
        expires=extra.get("expires"),
    )
    return BatchSettlementResult(verdict=verdict, payment_response=d.get("paymentResponse"), json=raw)


@dataclass(frozen=True)
class SignedRequest:
    """What :func:`sign_request` produces: the three header values and the key id."""

    signature_agent: str
    signature_input: str
    signature: str
    keyid: str  #: the key's RFC 7638 JWK thumbprint, the keyid the directory lists
    json: bytes = b""

    def headers(self) -> List[Tuple[str, str]]:
        """The header lines to add to the request, in order."""
        return [
            ("Signature-Agent", self.signature_agent),
            ("Signature-Input", self.signature_input),
            ("Signature", self.signature),
        ]


def sign_request(
    request: Request,
    private_key: Union[bytes, str],
    *,
    signature_agent: str,
    created: Any,
    expires: Any,
    signature_agent_key: Optional[str] = None,
    label: Optional[str] = None,
    nonce: Optional[str] = None,
) -> SignedRequest:
    """Signs ``request`` (which must carry its PAYMENT-SIGNATURE) for
    batch-settlement with an Ed25519 key: ``private_key`` is its 32-byte seed,
    or the JWK ``d`` (base64url text). ``signature_agent`` is the Signature-Agent
    value to send, as the agent's registration names it
    (``'"https://agent.example"'``, or a dictionary with ``signature_agent_key``
    naming the member to cover). ``label`` defaults to ``sig1``. A
    Signature-Agent already in the request is ignored: send the one returned."""
    from . import _bytes, _out_bytes, _unix

    if isinstance(private_key, str):
        d = private_key
    else:
        seed = bytes(private_key)
        if len(seed) != 32:
            raise ValueError(f"private_key must be 32 bytes, got {len(seed)}")
        d = base64.urlsafe_b64encode(seed).rstrip(b"=").decode("ascii")
    doc = {
        "request": _request(request),
        "privateKey": d,
        "signatureAgent": signature_agent,
        "created": _unix(created),
        "expires": _unix(expires),
    }
    for k, v in (("signatureAgentKey", signature_agent_key), ("label", label), ("nonce", nonce)):
        if v is not None:
            doc[k] = v
    data = _bytes(doc)
    raw = _out_bytes(
        lambda o, c, n, *report: _lib.paywire_sign_request(data, len(data), o, c, n, *report)
    )
    s = json.loads(raw)
    return SignedRequest(
        signature_agent=s["signatureAgent"],
        signature_input=s["signatureInput"],
        signature=s["signature"],
        keyid=s["keyid"],
        json=raw,
    )
