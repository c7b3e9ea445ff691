//! The MCP transport (x402 v2 over the Model Context Protocol).
//!
//! - A paid tool answers with a tool result `{isError: true, structuredContent:
//!   PaymentRequired, content: [{type: "text", text: <the same JSON>}]}`:
//!   [`PaymentRequiredResult`] writes it, [`read_payment_required`] reads it
//!   (`structuredContent` first, the text as fallback).
//! - The client retries with `params._meta["x402/payment"]` = PaymentPayload, and
//!   the server answers `result._meta["x402/payment-response"]` = SettleResponse:
//!   [`Meta`] writes such a `_meta` object, [`payment_from_meta`] and
//!   [`payment_response_from_meta`] read them.
//!
//! ```
//! use paywire::mcp::{Meta, PAYMENT_META_KEY};
//! use paywire::json::ToJson;
//! let settle = br#"{"success":true,"transaction":"0x01","network":"eip155:8453"}"#;
//! let v = paywire::json::parse(settle, &Default::default()).unwrap();
//! let meta = Meta { key: paywire::mcp::PAYMENT_RESPONSE_META_KEY, value: &v };
//! let json = meta.to_json_string();
//! let back = paywire::json::parse(json.as_bytes(), &Default::default()).unwrap();
//! let r = paywire::mcp::payment_response_from_meta(back.as_object().unwrap()).unwrap();
//! assert!(r.success);
//! # let _ = PAYMENT_META_KEY;
//! ```

use crate::error::{Error, ErrorKind, Reason};
use crate::json::{JsonObject, JsonStr, JsonValue, Limits, ObjectWriter, Sink, SinkFull, ToJson};
use crate::types::FromJson;
use crate::types::facilitator::{PaymentPayload, PaymentRequired, SettleResponse};

/// `_meta` key of the payment in a tool call.
pub const PAYMENT_META_KEY: &str = "x402/payment";
/// `_meta` key of the settlement in a tool result.
pub const PAYMENT_RESPONSE_META_KEY: &str = "x402/payment-response";

/// A sink adapter that writes bytes JSON-string-escaped (without quotes).
struct Escaping<'s>(&'s mut dyn Sink);

impl Sink for Escaping<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), SinkFull> {
        // Compact JSON is valid UTF-8 and escaping only touches ASCII bytes, so
        // escaping chunk by chunk is exact.
        match core::str::from_utf8(bytes) {
            Ok(s) => {
                let mut out = Counter2 { inner: self.0 };
                crate::json::write_escaped(&mut out, JsonStr::new(s))
            }
            Err(_) => self.0.put(bytes),
        }
    }
}

/// Drops the quotes `write_escaped` adds around a string.
struct Counter2<'s> {
    inner: &'s mut dyn Sink,
}

impl Sink for Counter2<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), SinkFull> {
        if bytes == b"\"" {
            Ok(())
        } else {
            self.inner.put(bytes)
        }
    }
}

/// The tool result for a tool that requires payment.
#[derive(Clone, Copy, Debug)]
pub struct PaymentRequiredResult<'a> {
    /// What the tool requires.
    pub payment_required: &'a PaymentRequired<'a>,
}

impl ToJson for PaymentRequiredResult<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.field("structuredContent", self.payment_required)?;
        w.key(JsonStr::new("content"))?;
        let s = w.sink();
        s.put(br#"[{"type":"text","text":""#)?;
        self.payment_required.write_json(&mut Escaping(s))?;
        s.put(br#""}]"#)?;
        w.bool_field("isError", true)?;
        w.end()
    }
}

/// Reads the PaymentRequired of a tool result: `structuredContent` if present,
/// else the JSON text of `content[0]` (unescaped into `buf`).
///
/// # Errors
/// `invalid_payment_requirements` if neither holds a valid PaymentRequired, or the
/// result is not an error result.
pub fn read_payment_required<'b>(
    result: JsonObject<'b>,
    buf: &'b mut [u8],
) -> Result<PaymentRequired<'b>, Error> {
    let r = Reason::InvalidPaymentRequirements;
    if result.get("isError").and_then(|v| v.as_bool()) != Some(true) {
        return Err(Error::new(
            r,
            ErrorKind::Invalid("a payment-required tool result has isError: true"),
        )
        .at("isError"));
    }
    if let Some(sc) = result.get("structuredContent").filter(|v| !v.is_null()) {
        return PaymentRequired::from_json(sc).map_err(|e| e.in_object("structuredContent"));
    }
    let text = result
        .get("content")
        .and_then(|c| c.as_array())
        .and_then(|a| a.iter().next())
        .and_then(|first| first.as_object())
        .filter(|o| {
            o.get("type")
                .and_then(|t| t.as_str())
                .is_some_and(|t| t == "text")
        })
        .and_then(|o| o.get("text"))
        .and_then(|t| t.as_str())
        .ok_or(Error::new(r, ErrorKind::MissingField).at("content"))?;
    let json = text
        .unescape_into(buf)
        .map_err(|_| Error::new(r, ErrorKind::BufferTooSmall).at("content"))?;
    PaymentRequired::from_json_bytes(json.as_bytes(), &Limits::DEFAULT)
        .map_err(|e| e.in_object("content"))
}

/// A `_meta` object with one x402 member.
#[derive(Clone, Copy)]
pub struct Meta<'a> {
    /// [`PAYMENT_META_KEY`] or [`PAYMENT_RESPONSE_META_KEY`].
    pub key: &'a str,
    /// The PaymentPayload or SettleResponse.
    pub value: &'a dyn ToJson,
}

impl ToJson for Meta<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.field(self.key, self.value)?;
        w.end()
    }
}

fn meta_member<'a>(
    meta: JsonObject<'a>,
    key: &'static str,
    reason: Reason,
) -> Result<JsonValue<'a>, Error> {
    meta.get(key)
        .filter(|v| !v.is_null())
        .ok_or(Error::new(reason, ErrorKind::MissingField).at(key))
}

/// Reads `_meta["x402/payment"]`.
///
/// # Errors
/// `invalid_payload` naming the field.
pub fn payment_from_meta(meta: JsonObject<'_>) -> Result<PaymentPayload<'_>, Error> {
    PaymentPayload::from_json(meta_member(meta, PAYMENT_META_KEY, Reason::InvalidPayload)?)
}

/// Reads `_meta["x402/payment-response"]`.
///
/// # Errors
/// `invalid_response` naming the field.
pub fn payment_response_from_meta(meta: JsonObject<'_>) -> Result<SettleResponse<'_>, Error> {
    SettleResponse::from_json(meta_member(
        meta,
        PAYMENT_RESPONSE_META_KEY,
        Reason::InvalidResponse,
    )?)
}
