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
// Base64 (RFC 4648 §4, standard alphabet, with padding).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

const fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// [`sextet`] as a table: the value, or `0xFF` for a byte outside the alphabet.
// Evaluated at compile time: an index out of bounds would not compile.
#[allow(clippy::indexing_slicing)]
const SEXTETS: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = match sextet(c as u8) {
            Some(v) => v,
            None => 0xFF,
        };
        c += 1;
    }
    t
};

/// The decoded length of a well-formed base64 text of `len` characters (an upper
/// bound for malformed ones).
#[must_use]
pub const fn base64_decoded_len(len: usize) -> usize {
    len / 4 * 3
}

/// Whether `s` is canonical standard base64 with padding (the only form
/// [`base64_decode`] accepts), without decoding it.
#[must_use]
pub fn is_canonical_base64(s: &[u8]) -> bool {
    if !s.len().is_multiple_of(4) {
        return false;
    }
    let pad = s.iter().rev().take_while(|&&b| b == b'=').count();
    let data = s.get(..s.len().saturating_sub(pad)).unwrap_or_default();
    if pad > 2 || !data.iter().all(|&b| sextet(b).is_some()) {
        return false;
    }
    // The bits that padding drops must be zero.
    match (pad, data.last().and_then(|&b| sextet(b))) {
        (1, Some(v)) => v & 0x03 == 0,
        (2, Some(v)) => v & 0x0f == 0,
        _ => true,
    }
}

/// The decoded length of a base64 text, counting its padding (an upper bound
/// for malformed text, which the decoder then refuses).
fn exact_decoded_len(value: &str) -> usize {
    let pad = value
        .bytes()
        .rev()
        .take(2)
        .take_while(|&b| b == b'=')
        .count();
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
    let pad = match input {
        [.., b'=', b'='] => 2,
        [.., b'='] => 1,
        _ => 0,
    };
    let n = base64_decoded_len(input.len()) - pad;
    let out = out.get_mut(..n).ok_or(ErrorKind::BufferTooSmall)?;
    // Every group but the last has no padding: decode those through the table,
    // four characters to three bytes at a time.
    let full = (input.len() / 4).saturating_sub(1);
    let (body, tail) = input.split_at(full * 4);
    let (out_body, out_tail) = out.split_at_mut(full * 3);
    for (g, dst) in body.chunks_exact(4).zip(out_body.chunks_exact_mut(3)) {
        let &[a, b, c, d] = g else {
            return Err(ErrorKind::Base64);
        };
        let [a, b, c, d] =
            [a, b, c, d].map(|x| SEXTETS.get(usize::from(x)).copied().unwrap_or(0xFF));
        if (a | b | c | d) & 0xC0 != 0 {
            return Err(ErrorKind::Base64);
        }
        let v = (u32::from(a) << 18) | (u32::from(b) << 12) | (u32::from(c) << 6) | u32::from(d);
        let [_, x, y, z] = v.to_be_bytes();
        dst.copy_from_slice(&[x, y, z]);
    }
    let out = out_tail;
    let input = tail;
    let mut o = 0;
    let groups = input.chunks_exact(4);
    let last = groups.len().saturating_sub(1);
    for (gi, g) in groups.enumerate() {
        let mut vals = [0u8; 4];
        let used = if gi == last { 4 - pad } else { 4 };
        for (i, (v, &c)) in vals.iter_mut().zip(g).enumerate() {
            if i < used {
                *v = sextet(c).ok_or(ErrorKind::Base64)?;
            } else if c != b'=' {
                return Err(ErrorKind::Base64);
            }
        }
        let [a, b, c, d] = vals;
        let bytes = [(a << 2) | (b >> 4), (b << 4) | (c >> 2), (c << 6) | d];
        // Canonical form: the bits dropped by padding must be zero.
        let stray = match used {
            2 => b & 0x0f,
            3 => c & 0x03,
            _ => 0,
        };
        if stray != 0 {
            return Err(ErrorKind::Base64);
        }
        for &byte in bytes.iter().take(used - 1) {
            *out.get_mut(o).ok_or(ErrorKind::Base64)? = byte;
            o += 1;
        }
    }
    Ok(full * 3 + o)
}

/// A sink that base64-encodes what it is given into another sink, so JSON can be
/// written straight into a header value without an intermediate buffer.
pub struct Base64Sink<S: Sink> {
    inner: S,
    pending: [u8; 3],
    npending: usize,
}

impl<S: Sink> Base64Sink<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Base64Sink {
            inner,
            pending: [0; 3],
            npending: 0,
        }
    }

    fn emit(&mut self, group: [u8; 3], n: usize) -> Result<(), SinkFull> {
        let [a, b, c] = group;
        let idx = [
            a >> 2,
            ((a & 0x03) << 4) | (b >> 4),
            ((b & 0x0f) << 2) | (c >> 6),
            c & 0x3f,
        ];
        let mut out = [b'='; 4];
        for (o, i) in out.iter_mut().zip(idx).take(n + 1) {
            *o = ALPHABET.get(usize::from(i)).copied().unwrap_or(b'=');
        }
        self.inner.put(&out)
    }

    /// Flushes the last partial group with padding and returns the inner sink.
    ///
    /// # Errors
    /// [`SinkFull`] from the inner sink.
    pub fn finish(mut self) -> Result<S, SinkFull> {
        if self.npending > 0 {
            let mut g = [0u8; 3];
            if let (Some(dst), Some(src)) = (
                g.get_mut(..self.npending),
                self.pending.get(..self.npending),
            ) {
                dst.copy_from_slice(src);
            }
            self.emit(g, self.npending)?;
        }
        Ok(self.inner)
    }
}

impl<S: Sink> Sink for Base64Sink<S> {
    fn put(&mut self, mut bytes: &[u8]) -> Result<(), SinkFull> {
        while let Some((&b, rest)) = bytes.split_first() {
            if let Some(slot) = self.pending.get_mut(self.npending) {
                *slot = b;
            }
            self.npending += 1;
            bytes = rest;
            if self.npending == 3 {
                self.npending = 0;
                self.emit(self.pending, 3)?;
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
    let mut s = Base64Sink::new(SliceSink::new(out));
    s.put(input).map_err(|_| BufferTooSmall { needed })?;
    s.finish()
        .map(|s| s.len())
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
    if exact_decoded_len(value) > max_decoded {
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
    if exact_decoded_len(value) > max_decoded {
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
