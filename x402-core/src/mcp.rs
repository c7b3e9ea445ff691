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

/// `_meta` key under which servers of Cloudflare's `agents` package put the
/// PaymentRequired of a payment-required tool result (their clients read it
/// there, not in `structuredContent`); [`tool_answer`] writes it too.
pub const ERROR_META_KEY: &str = "x402/error";

/// What a paid tool call answers, from the lifecycle's
/// [`Answer`](crate::lifecycle::Answer) (a lifecycle started on a tool call:
/// [`Transport::Mcp`](crate::lifecycle::Transport::Mcp)).
#[cfg(feature = "alloc")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolAnswer {
    /// Send the tool's own result (held back until now), with the members
    /// of `meta` (a JSON object's text; `{}` when none) added to its `_meta`:
    /// `x402/payment-response`, the settlement, when it settled.
    ToolResult {
        /// The members to add to the result's `_meta`.
        meta: alloc::string::String,
    },
    /// Send this tool result (JSON text) instead of the tool's.
    Result(alloc::string::String),
}

/// The tool result for an answer of the paid-request lifecycle:
/// - 402 (no payment, or one refused before anything could settle): the
///   transport's payment-required result, `{isError: true,
///   structuredContent: PaymentRequired, content: [{type: "text", text: the
///   same JSON}]}`, with the PaymentRequired also in `_meta["x402/error"]`
///   for clients of Cloudflare's `agents` package;
/// - the tool's result, settled: the tool's own, with
///   `_meta["x402/payment-response"]`; a tool that failed: its own result,
///   not settled;
/// - anything else (409 in progress or already delivered, 502 settlement
///   uncertain or facilitator unavailable, 400, 500, 503): `{isError: true,
///   structuredContent: {error, message}, content: [{type: "text", text:
///   message}]}` with no `accepts` anywhere, so that no client is invited to
///   pay again; with the earlier settlement in
///   `_meta["x402/payment-response"]` when there is one (a payment already
///   delivered).
///
/// ```
/// use paywire::lifecycle::{Answer, Outcome};
/// use paywire::mcp::{ToolAnswer, tool_answer};
/// let a = Answer {
///     status: 502,
///     outcome: Outcome::Uncertain,
///     reason: "settlement_uncertain".into(),
///     message: "do not pay again".into(),
///     headers: vec![],
///     body: Some(r#"{"error":"settlement_uncertain","message":"do not pay again"}"#.into()),
///     use_handler_response: false,
/// };
/// let ToolAnswer::Result(json) = tool_answer(&a) else { panic!() };
/// assert!(json.contains(r#""isError":true"#) && !json.contains("accepts"));
/// ```
#[cfg(feature = "alloc")]
#[must_use]
pub fn tool_answer(answer: &crate::lifecycle::Answer) -> ToolAnswer {
    use crate::header::HeaderKind;
    use crate::lifecycle::Outcome;
    use alloc::string::String;
    use alloc::vec::Vec;

    // The settlement of a PAYMENT-RESPONSE header, as JSON text.
    let settlement = answer
        .header(HeaderKind::PaymentResponse.name())
        .and_then(|v| {
            let mut buf = alloc::vec![0u8; crate::header::DEFAULT_MAX_DECODED];
            let json = crate::header::decode_to_json(
                v,
                &mut buf,
                crate::header::DEFAULT_MAX_DECODED,
                Reason::InvalidResponse,
            )
            .ok()?;
            // Written by the lifecycle; checked all the same before it is
            // embedded as JSON.
            SettleResponse::from_json_bytes(json, &Limits::DEFAULT).ok()?;
            String::from_utf8(json.to_vec()).ok()
        });
    let meta_of = |out: &mut Vec<u8>| -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        if let Some(s) = &settlement {
            w.key(JsonStr::new(PAYMENT_RESPONSE_META_KEY))?;
            w.sink().put(s.as_bytes())?;
        }
        w.end()
    };
    let mut meta = Vec::new();
    let _ = meta_of(&mut meta);
    if answer.use_handler_response {
        return ToolAnswer::ToolResult {
            meta: String::from_utf8(meta).unwrap_or_default(),
        };
    }
    let body = answer.body.as_deref().unwrap_or("");
    // The lifecycle's own bodies are compact JSON objects it wrote; anything
    // else is not embedded.
    let body = crate::json::parse(body.as_bytes(), &Limits::DEFAULT)
        .ok()
        .filter(|v| v.as_object().is_some())
        .map(|_| body);
    let mut out = Vec::new();
    let _ = (|| {
        let mut w = ObjectWriter::new(&mut out)?;
        match (answer.outcome, body) {
            (Outcome::PaymentRequired, Some(pr)) => {
                w.key(JsonStr::new("structuredContent"))?;
                w.sink().put(pr.as_bytes())?;
                write_text_content(&mut w, pr)?;
                w.bool_field("isError", true)?;
                w.key(JsonStr::new("_meta"))?;
                let s = w.sink();
                s.put(b"{")?;
                crate::json::write_escaped(s, JsonStr::new(ERROR_META_KEY))?;
                s.put(b":")?;
                s.put(pr.as_bytes())?;
                s.put(b"}")?;
            }
            (_, problem) => {
                if let Some(p) = problem {
                    w.key(JsonStr::new("structuredContent"))?;
                    w.sink().put(p.as_bytes())?;
                }
                let line = if answer.message.is_empty() {
                    answer.reason.as_str()
                } else {
                    answer.message.as_str()
                };
                let line = if answer.reason.is_empty() || line == answer.reason {
                    String::from(line)
                } else {
                    alloc::format!("{}: {line}", answer.reason)
                };
                write_text_content(&mut w, &line)?;
                w.bool_field("isError", true)?;
                if settlement.is_some() {
                    w.key(JsonStr::new("_meta"))?;
                    w.sink().put(&meta)?;
                }
            }
        }
        w.end()
    })();
    ToolAnswer::Result(String::from_utf8(out).unwrap_or_default())
}

#[cfg(feature = "alloc")]
fn write_text_content(w: &mut ObjectWriter<'_>, text: &str) -> Result<(), SinkFull> {
    w.key(JsonStr::new("content"))?;
    let s = w.sink();
    s.put(br#"[{"type":"text","text":"#)?;
    crate::json::write_escaped(s, JsonStr::new(text))?;
    s.put(b"}]")
}
