//! The `payment-identifier` extension: an idempotency key a client attaches to
//! its payment when the server declares the extension.
//!
//! The server declares `extensions["payment-identifier"] = {info: {required},
//! schema}`; the client echoes it with `info.id` (16 to 128 characters of
//! `A-Z a-z 0-9 _ -`). Here the client's id is `pay_` and the first 16 bytes of
//! the payment's nonce in hex ([`id_from_nonce`]): unique per payment, and the
//! same for every retry of the same payment. A resource server that declares
//! `required: true` refuses a payment without a valid id (400), and any server
//! refuses an id in the wrong form ([`check`]).
//!
//! ```
//! use paywire::payment_identifier::{id_from_nonce, is_valid_id};
//! let mut buf = [0u8; 36];
//! let id = id_from_nonce(&[0xab; 32], &mut buf);
//! assert_eq!(id, "pay_abababababababababababababababab");
//! assert!(is_valid_id(id) && !is_valid_id("short") && !is_valid_id("pay_with spaces_0000"));
//! ```

use crate::error::Reason;
use crate::json::{JsonObject, JsonStr, ObjectWriter, Sink, SinkFull, ToJson};

/// The extension's key in `extensions`.
pub const PAYMENT_IDENTIFIER: &str = "payment-identifier";

/// Whether `id` is a payment identifier: 16 to 128 characters of
/// `A-Z a-z 0-9 _ -` (the extension's pattern).
#[must_use]
pub fn is_valid_id(id: &str) -> bool {
    (16..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `pay_` and the hex of the nonce's first 16 bytes, written into `buf`.
pub fn id_from_nonce<'b>(nonce: &[u8; 32], buf: &'b mut [u8; 36]) -> &'b str {
    let hex = |d: u8| if d < 10 { b'0' + d } else { b'a' + d - 10 };
    let (prefix, digits) = buf.split_at_mut(4);
    prefix.copy_from_slice(b"pay_");
    for (pair, b) in digits.chunks_exact_mut(2).zip(nonce) {
        if let [hi, lo] = pair {
            *hi = hex(b >> 4);
            *lo = hex(b & 15);
        }
    }
    core::str::from_utf8(&buf[..]).unwrap_or("")
}

/// The declared extension's `info`, when `extensions` declares it (an object
/// with a boolean `required`).
#[must_use]
pub fn declared(extensions: JsonObject<'_>) -> Option<JsonObject<'_>> {
    extensions
        .get(PAYMENT_IDENTIFIER)?
        .as_object()?
        .get("info")?
        .as_object()
        .filter(|i| i.get("required").and_then(|r| r.as_bool()).is_some())
}

/// A server's `extensions`, echoed, the `payment-identifier` one with `info.id`.
pub(crate) struct Echoed<'a> {
    pub(crate) ext: JsonObject<'a>,
    pub(crate) id: &'a str,
}

impl ToJson for Echoed<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        for (k, v) in self.ext.members() {
            match v.as_object().filter(|_| k == PAYMENT_IDENTIFIER) {
                Some(ext) => write_with_id(&mut w, k, ext, self.id)?,
                None => w.value_field(k, v)?,
            }
        }
        w.end()
    }
}

/// Writes the member `k` (the `payment-identifier` extension `ext`) with
/// `info.id` set to `id`, every other member of `ext` and of its `info` as
/// it was.
pub(crate) fn write_with_id(
    w: &mut ObjectWriter<'_>,
    k: JsonStr<'_>,
    ext: JsonObject<'_>,
    id: &str,
) -> Result<(), SinkFull> {
    w.key(k)?;
    let mut e = ObjectWriter::new(w.sink())?;
    for (k2, v2) in ext.members() {
        match v2.as_object().filter(|_| k2 == "info") {
            Some(info) => {
                e.key(k2)?;
                let mut i = ObjectWriter::new(e.sink())?;
                for (k3, v3) in info.members() {
                    if k3 != "id" {
                        i.value_field(k3, v3)?;
                    }
                }
                i.str_field("id", JsonStr::new(id))?;
                i.end()?;
            }
            None => e.value_field(k2, v2)?,
        }
    }
    e.end()
}

/// The `info.id` a payment's `extensions` carry, if any (unchecked: see
/// [`check`]).
#[must_use]
pub fn id_of<'a>(payment_extensions: JsonObject<'a>) -> Option<JsonStr<'a>> {
    payment_extensions
        .get(PAYMENT_IDENTIFIER)?
        .as_object()?
        .get("info")?
        .as_object()?
        .get("id")?
        .as_str()
}

/// The store key an identifier is bound under: per network and payee
/// (`payment-identifier/{network}/{payTo, lower-case}/{id}`), the same for a
/// resource server's lifecycle and a facilitator.
#[cfg(feature = "alloc")]
#[must_use]
pub fn binding_key(network: &str, pay_to: &str, id: &str) -> alloc::string::String {
    alloc::format!(
        "{PAYMENT_IDENTIFIER}/{network}/{}/{id}",
        pay_to.to_ascii_lowercase()
    )
}

/// A resource server's check of a payment's `payment-identifier` against the
/// route's `extensions`: `Err` with the reason and a message when the route
/// requires an id and the payment has none, or the payment's id is not one.
///
/// # Errors
/// [`Reason::PaymentIdentifierRequired`] or [`Reason::InvalidPaymentIdentifier`].
pub fn check(
    route_extensions: Option<JsonObject<'_>>,
    payment_extensions: Option<JsonObject<'_>>,
) -> Result<(), (Reason, &'static str)> {
    let info = payment_extensions
        .and_then(|e| e.get(PAYMENT_IDENTIFIER))
        .and_then(|e| e.as_object())
        .and_then(|e| e.get("info"))
        .and_then(|i| i.as_object());
    let id = info.and_then(|i| i.get("id"));
    if let Some(id) = id {
        let valid = id
            .as_str()
            .and_then(|s| s.as_str())
            .is_some_and(is_valid_id);
        if !valid {
            return Err((
                Reason::InvalidPaymentIdentifier,
                "payment-identifier: info.id must be 16 to 128 characters of A-Z a-z 0-9 _ -",
            ));
        }
        return Ok(());
    }
    let required = route_extensions
        .and_then(declared)
        .and_then(|i| i.get("required"))
        .and_then(|r| r.as_bool())
        == Some(true);
    if required {
        return Err((
            Reason::PaymentIdentifierRequired,
            "this route requires a payment-identifier: echo the extension with info.id",
        ));
    }
    Ok(())
}
