//! The HTTP header codec: standard base64 (with padding) of compact UTF-8 JSON.
//!
//! | v2 | v1 | holds |
//! |---|---|---|
//! | `PAYMENT-REQUIRED` | (JSON body of the 402) | [`PaymentRequired`] |
//! | `PAYMENT-SIGNATURE` | `X-PAYMENT` | [`PaymentPayload`] |
//! | `PAYMENT-RESPONSE` | `X-PAYMENT-RESPONSE` | [`SettleResponse`] |
//!
//! Decoding checks the size first (default [`DEFAULT_MAX_DECODED`] bytes after
//! base64), then decodes strict base64 into the caller's buffer, then validates
//! the JSON strictly and returns a borrowed view into that buffer. Base64 is
//! strict too: the standard alphabet, padding required, no whitespace inside, and
//! the unused bits of the last group zero — one text for one byte string, so two
//! parties cannot decode one header two ways.
//!
//! ```
//! use paywire::header;
//! use paywire::types::facilitator::SettleResponse;
//! use paywire::json::JsonStr;
//! let value = "eyJzdWNjZXNzIjp0cnVlLCJ0cmFuc2FjdGlvbiI6IjB4YWIiLCJuZXR3b3JrIjoiZWlwMTU1Ojg0NTMyIn0=";
//! let mut buf = [0u8; 256];
//! let r = header::decode_payment_response(value, &mut buf).unwrap();
//! assert!(r.success && r.transaction == "0xab");
//! let mut out = [0u8; 256];
//! let n = header::encode(&r, &mut out).unwrap();
//! assert_eq!(&out[..n], value.as_bytes());
//! ```

use crate::error::{Error, ErrorKind, Reason};
use crate::json::{BufferTooSmall, Counter, JsonObject, Limits, Sink, SinkFull, SliceSink, ToJson};
use crate::types::FromJson;
use crate::types::facilitator::{PaymentPayload, PaymentRequired, SettleResponse};

/// Default limit on a header's decoded size: 16 KiB.
pub const DEFAULT_MAX_DECODED: usize = 16 * 1024;

/// The x402 headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeaderKind {
    /// `PAYMENT-REQUIRED` (v2, server → client): a `PaymentRequired`.
    PaymentRequired,
    /// `PAYMENT-SIGNATURE` (v2, client → server): a `PaymentPayload`.
    PaymentSignature,
    /// `PAYMENT-RESPONSE` (v2, server → client): a `SettleResponse`.
    PaymentResponse,
    /// `X-PAYMENT` (v1, client → server): a `PaymentPayload`.
    XPayment,
    /// `X-PAYMENT-RESPONSE` (v1, server → client): a `SettleResponse`.
    XPaymentResponse,
}

impl HeaderKind {
    /// Every header kind.
    pub const ALL: [HeaderKind; 5] = [
        HeaderKind::PaymentRequired,
        HeaderKind::PaymentSignature,
        HeaderKind::PaymentResponse,
        HeaderKind::XPayment,
        HeaderKind::XPaymentResponse,
    ];

    /// The header's name, upper case as the spec writes it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            HeaderKind::PaymentRequired => "PAYMENT-REQUIRED",
            HeaderKind::PaymentSignature => "PAYMENT-SIGNATURE",
            HeaderKind::PaymentResponse => "PAYMENT-RESPONSE",
            HeaderKind::XPayment => "X-PAYMENT",
            HeaderKind::XPaymentResponse => "X-PAYMENT-RESPONSE",
        }
    }

    /// Looks a header name up, ignoring ASCII case (HTTP names are case-insensitive).
    #[must_use]
    pub fn from_name(name: &str) -> Option<HeaderKind> {
        HeaderKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }

    /// The protocol version the header belongs to.
    #[must_use]
    pub const fn x402_version(self) -> u8 {
        match self {
            HeaderKind::XPayment | HeaderKind::XPaymentResponse => 1,
            _ => 2,
        }
    }

    /// The reason reported when a header of this kind is malformed.
    #[must_use]
    pub const fn reason(self) -> Reason {
        match self {
            HeaderKind::PaymentRequired => Reason::InvalidPaymentRequirements,
            HeaderKind::PaymentSignature | HeaderKind::XPayment => Reason::InvalidPayload,
            HeaderKind::PaymentResponse | HeaderKind::XPaymentResponse => Reason::InvalidResponse,
        }
    }

    /// The header carrying a payment for protocol version `v` (`X-PAYMENT` for 1).
    #[must_use]
    pub const fn payment_for_version(v: u8) -> HeaderKind {
        if v == 1 {
            HeaderKind::XPayment
        } else {
            HeaderKind::PaymentSignature
        }
    }

    /// The header carrying the settlement for protocol version `v`.
    #[must_use]
    pub const fn response_for_version(v: u8) -> HeaderKind {
        if v == 1 {
            HeaderKind::XPaymentResponse
        } else {
            HeaderKind::PaymentResponse
        }
    }
}

// ---------------------------------------------------------------------------
// Base64 (RFC 4648 §4, standard alphabet, with padding), through the `base64`
// crate: its STANDARD engine requires canonical padding and refuses non-zero
// trailing bits, which is exactly the strictness headers need; without default
// features it is no_std and writes into caller buffers.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The decoded length of a well-formed base64 text of `len` characters (an upper
/// bound for malformed ones).
#[must_use]
pub const fn base64_decoded_len(len: usize) -> usize {
    len / 4 * 3
}

/// Whether `s` is canonical standard base64 with padding (the only form
/// [`base64_decode`] accepts), without keeping what it decodes to (structured
/// fields' byte sequences).
#[cfg(feature = "batch")]
#[must_use]
pub(crate) fn is_canonical_base64(s: &[u8]) -> bool {
    // Decoded a chunk at a time into a stack buffer: padding may only end the
    // last chunk, which the decoder checks as it would for the whole text.
    const CHUNK: usize = 256;
    let mut scratch = [0u8; CHUNK / 4 * 3];
    s.len().is_multiple_of(4)
        && s.chunks(CHUNK)
            .all(|chunk| STANDARD.decode_slice(chunk, &mut scratch).is_ok())
}

/// The decoded length of a base64 text, counting its padding (an upper bound
/// for malformed text, which the decoder then refuses).
fn exact_decoded_len(value: &[u8]) -> usize {
    let pad = match value {
        [.., b'=', b'='] => 2,
        [.., b'='] => 1,
        _ => 0,
    };
    base64_decoded_len(value.len()).saturating_sub(pad)
}

/// The encoded length of `len` bytes.
#[must_use]
pub const fn base64_encoded_len(len: usize) -> usize {
    len.div_ceil(3) * 4
}

/// Decodes strict standard base64 into `out`, returning the length.
///
/// # Errors
/// [`ErrorKind::Base64`] for anything but canonical padded base64;
/// [`ErrorKind::BufferTooSmall`] if `out` is too short.
pub fn base64_decode(input: &[u8], out: &mut [u8]) -> Result<usize, ErrorKind> {
    if !input.len().is_multiple_of(4) {
        return Err(ErrorKind::Base64);
    }
    let out = out
        .get_mut(..exact_decoded_len(input))
        .ok_or(ErrorKind::BufferTooSmall)?;
    STANDARD.decode_slice(input, out).map_err(|e| match e {
        base64::DecodeSliceError::OutputSliceTooSmall => ErrorKind::BufferTooSmall,
        base64::DecodeSliceError::DecodeError(_) => ErrorKind::Base64,
    })
}

/// A sink that base64-encodes what it is given into another sink, so JSON can be
/// written straight into a header value without an intermediate buffer.
pub(crate) struct Base64Sink<S: Sink> {
    inner: S,
    /// Bytes not yet encoded: whole groups of three are encoded as the buffer
    /// fills, the rest (with padding) by [`Base64Sink::finish`].
    pending: [u8; BATCH],
    npending: usize,
}

/// How many bytes a [`Base64Sink`] encodes at a time (a multiple of 3: no
/// padding inside).
const BATCH: usize = 3 * 64;

impl<S: Sink> Base64Sink<S> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: S) -> Self {
        Base64Sink {
            inner,
            pending: [0; BATCH],
            npending: 0,
        }
    }

    /// Encodes the pending bytes (padded if they are not whole groups).
    fn flush(&mut self) -> Result<(), SinkFull> {
        let mut text = [0u8; BATCH / 3 * 4];
        let bytes = self.pending.get(..self.npending).unwrap_or_default();
        let n = STANDARD
            .encode_slice(bytes, &mut text)
            .map_err(|_| SinkFull)?;
        self.npending = 0;
        self.inner.put(text.get(..n).unwrap_or_default())
    }

    /// Flushes the last partial group with padding and returns the inner sink.
    ///
    /// # Errors
    /// [`SinkFull`] from the inner sink.
    pub(crate) fn finish(mut self) -> Result<S, SinkFull> {
        if self.npending > 0 {
            self.flush()?;
        }
        Ok(self.inner)
    }
}

impl<S: Sink> Sink for Base64Sink<S> {
    fn put(&mut self, mut bytes: &[u8]) -> Result<(), SinkFull> {
        while !bytes.is_empty() {
            let room = BATCH - self.npending;
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            if let Some(dst) = self
                .pending
                .get_mut(self.npending..self.npending + now.len())
            {
                dst.copy_from_slice(now);
            }
            self.npending += now.len();
            bytes = rest;
            if self.npending == BATCH {
                self.flush()?;
            }
        }
        Ok(())
    }
}

/// Base64-encodes `input` into `out`.
///
/// # Errors
/// [`BufferTooSmall`] with the needed size.
pub fn base64_encode(input: &[u8], out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let needed = base64_encoded_len(input.len());
    STANDARD
        .encode_slice(input, out)
        .map_err(|_| BufferTooSmall { needed })
}

// ---------------------------------------------------------------------------
// Header values.

/// Trims the optional whitespace HTTP allows around a field value.
fn trim_ows(value: &str) -> &str {
    value.trim_matches(|c| c == ' ' || c == '\t')
}

/// Decodes a header value's base64 into `buf` and returns the JSON bytes.
///
/// The size limit is checked on the value's length before any decoding.
///
/// # Errors
/// `reason` with [`ErrorKind::TooLarge`], [`ErrorKind::Base64`] or [`ErrorKind::BufferTooSmall`].
pub fn decode_to_json<'b>(
    value: &str,
    buf: &'b mut [u8],
    max_decoded: usize,
    reason: Reason,
) -> Result<&'b [u8], Error> {
    let value = trim_ows(value);
    if exact_decoded_len(value.as_bytes()) > max_decoded {
        return Err(Error::new(
            reason,
            ErrorKind::TooLarge { limit: max_decoded },
        ));
    }
    let n = base64_decode(value.as_bytes(), buf).map_err(|k| Error::new(reason, k))?;
    let buf: &'b [u8] = buf;
    buf.get(..n)
        .ok_or(Error::new(reason, ErrorKind::BufferTooSmall))
}

/// Decodes a header value into any document type, with an explicit size limit.
///
/// # Errors
/// An [`Error`] with `T`'s reason.
pub fn decode_with_limit<'b, T: FromJson<'b>>(
    value: &str,
    buf: &'b mut [u8],
    max_decoded: usize,
) -> Result<T, Error> {
    let json = decode_to_json(value, buf, max_decoded, T::REASON)?;
    T::from_json_bytes(
        json,
        &Limits {
            max_len: max_decoded,
            ..Limits::DEFAULT
        },
    )
}

/// Decodes a `PAYMENT-REQUIRED` header (either version, detected).
///
/// # Errors
/// `invalid_payment_requirements`, `invalid_x402_version` or `invalid_network`, naming the field.
pub fn decode_payment_required<'b>(
    value: &str,
    buf: &'b mut [u8],
) -> Result<PaymentRequired<'b>, Error> {
    decode_with_limit(value, buf, DEFAULT_MAX_DECODED)
}

/// Decodes a `PAYMENT-SIGNATURE` or `X-PAYMENT` header (version detected).
///
/// # Errors
/// `invalid_payload`, `invalid_x402_version` or `invalid_network`, naming the field.
pub fn decode_payment_signature<'b>(
    value: &str,
    buf: &'b mut [u8],
) -> Result<PaymentPayload<'b>, Error> {
    decode_with_limit(value, buf, DEFAULT_MAX_DECODED)
}

/// Decodes a `PAYMENT-RESPONSE` or `X-PAYMENT-RESPONSE` header.
///
/// # Errors
/// `invalid_response`, naming the field.
pub fn decode_payment_response<'b>(
    value: &str,
    buf: &'b mut [u8],
) -> Result<SettleResponse<'b>, Error> {
    decode_with_limit(value, buf, DEFAULT_MAX_DECODED)
}

/// A decoded header of any kind.
// Views are small `Copy` values on the stack; boxing would need `alloc`.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decoded<'a> {
    /// From `PAYMENT-REQUIRED` (or a v1 402 body).
    PaymentRequired(PaymentRequired<'a>),
    /// From `PAYMENT-SIGNATURE` / `X-PAYMENT`.
    PaymentPayload(PaymentPayload<'a>),
    /// From `PAYMENT-RESPONSE` / `X-PAYMENT-RESPONSE`.
    SettleResponse(SettleResponse<'a>),
}

impl Decoded<'_> {
    /// The header that carries this document in protocol version 2, or in v1 for
    /// v1 payloads.
    #[must_use]
    pub fn kind(&self) -> HeaderKind {
        match self {
            Decoded::PaymentRequired(_) => HeaderKind::PaymentRequired,
            Decoded::PaymentPayload(p) => HeaderKind::payment_for_version(p.x402_version()),
            Decoded::SettleResponse(_) => HeaderKind::PaymentResponse,
        }
    }
}

impl ToJson for Decoded<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        match self {
            Decoded::PaymentRequired(x) => x.write_json(out),
            Decoded::PaymentPayload(x) => x.write_json(out),
            Decoded::SettleResponse(x) => x.write_json(out),
        }
    }
}

/// Decodes a header of the given kind.
///
/// # Errors
/// An [`Error`] with the kind's reason.
pub fn decode<'b>(kind: HeaderKind, value: &str, buf: &'b mut [u8]) -> Result<Decoded<'b>, Error> {
    let json = decode_to_json(value, buf, DEFAULT_MAX_DECODED, kind.reason())?;
    decode_json(kind, json)
}

/// Decodes a header value without knowing its kind: the JSON's shape decides
/// (`accepts` → PaymentRequired, `payload` → PaymentPayload, `success` → SettleResponse).
///
/// # Errors
/// `invalid_payload` if the shape is none of these, or the document's own error.
pub fn decode_any<'b>(value: &str, buf: &'b mut [u8]) -> Result<Decoded<'b>, Error> {
    let json = decode_to_json(value, buf, DEFAULT_MAX_DECODED, Reason::InvalidPayload)?;
    let v = crate::json::parse(json, &Limits::DEFAULT)
        .map_err(|k| Error::new(Reason::InvalidPayload, k))?;
    let obj: JsonObject<'b> = v.as_object().ok_or(Error::new(
        Reason::InvalidPayload,
        ErrorKind::WrongType {
            expected: crate::error::JsonType::Object,
        },
    ))?;
    if obj.get("accepts").is_some() {
        PaymentRequired::from_json(v).map(Decoded::PaymentRequired)
    } else if obj.get("payload").is_some() {
        PaymentPayload::from_json(v).map(Decoded::PaymentPayload)
    } else if obj.get("success").is_some() {
        SettleResponse::from_json(v).map(Decoded::SettleResponse)
    } else {
        Err(Error::new(
            Reason::InvalidPayload,
            ErrorKind::Invalid("not a PaymentRequired, PaymentPayload or SettleResponse"),
        ))
    }
}

/// Encodes a document as a header value (compact JSON, standard base64 with
/// padding) into `out`, returning the length.
///
/// # Errors
/// [`BufferTooSmall`] with the exact size needed.
pub fn encode(doc: &dyn ToJson, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let mut s = Base64Sink::new(SliceSink::new(out));
    let written = doc
        .write_json(&mut s)
        .and_then(|()| s.finish().map(|s| s.len()));
    written.map_err(|SinkFull| BufferTooSmall {
        needed: encoded_len(doc),
    })
}

/// Encodes a document as a header value into any sink, returning the length
/// written: with a [`Counter`], the exact length of the value.
///
/// # Errors
/// [`SinkFull`] from the sink.
pub fn encode_to_sink(doc: &dyn ToJson, out: &mut dyn Sink) -> Result<usize, SinkFull> {
    /// Counts what passes through to the inner sink.
    struct Counted<'s> {
        inner: &'s mut dyn Sink,
        len: usize,
    }
    impl Sink for Counted<'_> {
        fn put(&mut self, bytes: &[u8]) -> Result<(), SinkFull> {
            self.inner.put(bytes)?;
            self.len = self.len.saturating_add(bytes.len());
            Ok(())
        }
    }
    let mut s = Base64Sink::new(Counted { inner: out, len: 0 });
    doc.write_json(&mut s)?;
    Ok(s.finish()?.len)
}

/// The exact length of `doc`'s header value.
#[must_use]
pub fn encoded_len(doc: &dyn ToJson) -> usize {
    let mut c = Counter(0);
    let _ = doc.write_json(&mut c);
    base64_encoded_len(c.0)
}

/// Encodes a document as a header value into a new `String`.
#[cfg(feature = "alloc")]
#[must_use]
pub fn encode_to_string(doc: &dyn ToJson) -> alloc::string::String {
    let mut v = alloc::vec::Vec::with_capacity(encoded_len(doc));
    let mut s = Base64Sink::new(&mut v);
    let _ = doc.write_json(&mut s);
    let _ = s.finish();
    // The base64 alphabet is ASCII.
    alloc::string::String::from_utf8(v).unwrap_or_default()
}

/// Decodes a header value into a new `Vec<u8>` of JSON, for callers that want to
/// keep the document beyond the call (parse views from it with [`FromJson`]).
///
/// # Errors
/// `invalid_payload` with [`ErrorKind::TooLarge`] or [`ErrorKind::Base64`].
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub fn decode_to_vec(value: &str, max_decoded: usize) -> Result<alloc::vec::Vec<u8>, Error> {
    let value = trim_ows(value);
    if exact_decoded_len(value.as_bytes()) > max_decoded {
        return Err(Error::new(
            Reason::InvalidPayload,
            ErrorKind::TooLarge { limit: max_decoded },
        ));
    }
    let mut v = alloc::vec![0u8; base64_decoded_len(value.len())];
    let n = decode_to_json(value, &mut v, max_decoded, Reason::InvalidPayload)?.len();
    v.truncate(n);
    Ok(v)
}

/// Reads the JSON document a header of `kind` carries, with the same checks as
/// [`decode`] (for `PAYMENT-SIGNATURE` / `X-PAYMENT`, `x402Version` must match the
/// header), so that a document can be validated before [`encode`] turns it into
/// the header value.
///
/// ```
/// use paywire::header::{self, HeaderKind};
/// let json = br#"{"success":true,"transaction":"0xab","network":"eip155:84532"}"#;
/// let doc = header::decode_json(HeaderKind::PaymentResponse, json).unwrap();
/// let mut out = [0u8; 128];
/// let n = header::encode(&doc, &mut out).unwrap();
/// assert_eq!(&out[..n], b"eyJzdWNjZXNzIjp0cnVlLCJ0cmFuc2FjdGlvbiI6IjB4YWIiLCJuZXR3b3JrIjoiZWlwMTU1Ojg0NTMyIn0=");
/// ```
///
/// # Errors
/// An [`Error`] with the kind's reason, or `invalid_x402_version`.
pub fn decode_json(kind: HeaderKind, json: &[u8]) -> Result<Decoded<'_>, Error> {
    let limits = Limits {
        max_len: DEFAULT_MAX_DECODED,
        ..Limits::DEFAULT
    };
    match kind {
        HeaderKind::PaymentRequired => {
            PaymentRequired::from_json_bytes(json, &limits).map(Decoded::PaymentRequired)
        }
        HeaderKind::PaymentSignature | HeaderKind::XPayment => {
            let p = PaymentPayload::from_json_bytes(json, &limits)?;
            if p.x402_version() != kind.x402_version() {
                return Err(Error::new(
                    Reason::InvalidX402Version,
                    ErrorKind::Invalid("header name and x402Version disagree"),
                )
                .at("x402Version"));
            }
            Ok(Decoded::PaymentPayload(p))
        }
        HeaderKind::PaymentResponse | HeaderKind::XPaymentResponse => {
            SettleResponse::from_json_bytes(json, &limits).map(Decoded::SettleResponse)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &[u8]) -> String {
        let mut out = vec![0u8; base64_encoded_len(s.len())];
        let n = base64_encode(s, &mut out).unwrap();
        String::from_utf8(out[..n].to_vec()).unwrap()
    }

    #[test]
    fn rfc4648_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(b64(plain.as_bytes()), enc);
            let mut out = [0u8; 8];
            let n = base64_decode(enc.as_bytes(), &mut out).unwrap();
            assert_eq!(&out[..n], plain.as_bytes());
        }
    }

    #[test]
    fn strict_base64() {
        let mut out = [0u8; 16];
        for bad in [
            "Zg", "Zg=", "Zh==", "Zm9=", "Z===", "====", "Zm9v\n", "Zm 9v", "Zm9v-_==", "Zg==Zg==",
            "=Zg=",
        ] {
            assert_eq!(
                base64_decode(bad.as_bytes(), &mut out),
                Err(ErrorKind::Base64),
                "{bad:?}"
            );
        }
        assert_eq!(
            base64_decode(b"Zm9vYmFy", &mut [0u8; 5]),
            Err(ErrorKind::BufferTooSmall)
        );
    }

    #[test]
    fn header_names() {
        assert_eq!(
            HeaderKind::from_name("payment-signature"),
            Some(HeaderKind::PaymentSignature)
        );
        assert_eq!(
            HeaderKind::from_name("X-Payment-Response"),
            Some(HeaderKind::XPaymentResponse)
        );
        assert_eq!(HeaderKind::from_name("payment"), None);
    }

    #[test]
    fn size_limit_before_work() {
        let huge = "A".repeat(base64_encoded_len(DEFAULT_MAX_DECODED) + 4);
        let err = decode_payment_signature(&huge, &mut []).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::TooLarge {
                limit: DEFAULT_MAX_DECODED
            }
        );
        assert_eq!(err.reason(), Reason::InvalidPayload);
    }
}
