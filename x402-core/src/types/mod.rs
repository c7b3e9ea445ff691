//! The protocol's documents, as borrowed views.
//!
//! Every type here is a view over text it borrows: a decoded header or body, or
//! strings and slices the caller owns. Nothing allocates. Fields the protocol
//! fixes are typed and checked when decoded ([`Amount`], [`Network`],
//! [`Address`], ...); fields it leaves open (`extensions`,
//! unknown members of any object) are kept as received, so that decoding and
//! re-encoding a document keeps them, in their original order.
//!
//! - [`v2`]: the current protocol (CAIP-2 networks, `PAYMENT-*` headers).
//! - [`v1`]: the first protocol version, still widely deployed.
//! - [`facilitator`]: `POST /verify`, `POST /settle`, `GET /supported` bodies and
//!   the responses shared by both versions.
//! - [`payload`]: the scheme payloads (EIP-3009, Permit2, batch-settlement).

// First, so that the modules below can use `document!`.
#[macro_use]
mod table;

pub mod facilitator;
pub mod payload;
pub mod v1;
pub mod v2;

mod extra;

pub use extra::Extra;

use core::fmt;

use crate::amount::Amount;
use crate::error::{Error, ErrorKind, JsonType, Reason};
use crate::evm::{Address, B256};
use crate::json::{
    JsonArray, JsonObject, JsonStr, JsonValue, Limits, ObjectWriter, Sink, SinkFull, ToJson,
};
use crate::network::Network;

/// A type that can be read from a JSON value.
pub trait FromJson<'a>: Sized {
    /// The reason reported when this type is malformed.
    const REASON: Reason;

    /// Reads `self` from a validated value.
    ///
    /// # Errors
    /// An [`Error`] naming the field and what is wrong with it.
    fn from_json(v: JsonValue<'a>) -> Result<Self, Error>;

    /// Validates `bytes` strictly (see [`crate::json`]) and reads `Self` from them.
    ///
    /// # Errors
    /// An [`Error`] with [`Self::REASON`] for syntax problems, or the field's error.
    fn from_json_bytes(bytes: &'a [u8], limits: &Limits) -> Result<Self, Error> {
        let v = crate::json::parse(bytes, limits).map_err(|k| Error::new(Self::REASON, k))?;
        Self::from_json(v)
    }
}

/// An owned JSON document (with `alloc`): keep a decoded header or body beyond the
/// buffer it came in, and take typed views of it when needed.
///
/// ```
/// use paywire::types::{Document, facilitator::SettleResponse};
/// let doc = Document::from_header("eyJzdWNjZXNzIjp0cnVlLCJ0cmFuc2FjdGlvbiI6IjB4YWIiLCJuZXR3b3JrIjoiZWlwMTU1Ojg0NTMyIn0=").unwrap();
/// let r: SettleResponse<'_> = doc.view().unwrap();
/// assert!(r.success);
/// ```
#[cfg(feature = "alloc")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    json: alloc::boxed::Box<[u8]>,
}

#[cfg(feature = "alloc")]
impl Document {
    /// Copies `json` after checking it is one strict JSON document.
    ///
    /// # Errors
    /// `invalid_payload` with the JSON problem.
    pub fn from_json(json: &[u8], limits: &Limits) -> Result<Document, Error> {
        crate::json::parse(json, limits).map_err(|k| Error::new(Reason::InvalidPayload, k))?;
        Ok(Document { json: json.into() })
    }

    /// Decodes a header value (any kind) into an owned document.
    ///
    /// # Errors
    /// `invalid_payload` for bad base64, size or JSON.
    pub fn from_header(value: &str) -> Result<Document, Error> {
        let json = crate::header::decode_to_vec(value, crate::header::DEFAULT_MAX_DECODED)?;
        Document::from_json(&json, &Limits::DEFAULT)
    }

    /// The JSON text.
    #[must_use]
    pub fn json(&self) -> &[u8] {
        &self.json
    }

    /// A typed view of the document.
    ///
    /// # Errors
    /// `T`'s decoding error.
    pub fn view<'a, T: FromJson<'a>>(&'a self) -> Result<T, Error> {
        T::from_json_bytes(
            &self.json,
            &Limits {
                max_len: self.json.len(),
                ..Limits::DEFAULT
            },
        )
    }
}

/// An object the crate carries but does not interpret: either received JSON, or
/// a value of the caller's that writes itself (for documents being built).
#[derive(Clone, Copy)]
pub enum RawObject<'a> {
    /// Received JSON, kept as it came.
    Json(JsonObject<'a>),
    /// A caller's value, written when the document is encoded.
    Value(&'a (dyn ToJson + Sync)),
}

impl<'a> RawObject<'a> {
    /// The JSON object, if this was received (not built).
    #[must_use]
    pub fn as_json(&self) -> Option<JsonObject<'a>> {
        match self {
            RawObject::Json(o) => Some(*o),
            RawObject::Value(_) => None,
        }
    }

    /// A member of the received object.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<JsonValue<'a>> {
        self.as_json().and_then(|o| o.get(key))
    }
}

impl ToJson for RawObject<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        match self {
            RawObject::Json(o) => crate::json::write_compact(out, o.as_value()),
            RawObject::Value(v) => v.write_json(out),
        }
    }
}

impl fmt::Debug for RawObject<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawObject::Json(o) => fmt::Debug::fmt(o, f),
            RawObject::Value(_) => f.write_str("<value>"),
        }
    }
}

impl PartialEq for RawObject<'_> {
    /// Received objects compare by their compact encoding; built values never compare equal.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (RawObject::Json(a), RawObject::Json(b)) => members_eq(a.as_value(), b.as_value()),
            _ => false,
        }
    }
}

/// Structural equality of received JSON: same members in the same order, strings
/// compared after unescaping, numbers compared as written.
pub(crate) fn members_eq(a: JsonValue<'_>, b: JsonValue<'_>) -> bool {
    match (a.as_object(), b.as_object(), a.as_array(), b.as_array()) {
        (Some(x), Some(y), _, _) => {
            x.len() == y.len()
                && x.members()
                    .zip(y.members())
                    .all(|((ka, va), (kb, vb))| ka == kb && members_eq(va, vb))
        }
        (_, _, Some(x), Some(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(va, vb)| members_eq(va, vb))
        }
        _ => match (a.as_str(), b.as_str()) {
            (Some(x), Some(y)) => x == y,
            _ => a.raw() == b.raw(),
        },
    }
}

/// A list: received as a JSON array (validated element by element when decoded),
/// or built from a caller's slice.
#[derive(Clone, Copy)]
pub enum List<'a, T> {
    /// Received JSON; every element decoded successfully when the document was read.
    Json(JsonArray<'a>),
    /// The caller's elements.
    Slice(&'a [T]),
}

impl<'a, T: FromJson<'a> + Copy> List<'a, T> {
    /// The elements, in order.
    pub fn iter(&self) -> impl Iterator<Item = T> + 'a {
        let (json, slice) = match *self {
            List::Json(a) => (Some(a), None),
            List::Slice(s) => (None, Some(s)),
        };
        json.into_iter()
            .flat_map(|a| a.iter())
            // Elements were checked when the document was decoded.
            .filter_map(|v| T::from_json(v).ok())
            .chain(slice.into_iter().flatten().copied())
    }

    /// The number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            List::Json(a) => a.len(),
            List::Slice(s) => s.len(),
        }
    }

    /// Whether there are no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element at `index`.
    #[must_use]
    pub fn get(&self, index: usize) -> Option<T> {
        self.iter().nth(index)
    }

    fn decode(v: JsonValue<'a>, field: &'static str) -> Result<Self, Error> {
        let arr = array(v, T::REASON, field)?;
        for el in arr.iter() {
            T::from_json(el).map_err(|e| e.in_object(field))?;
        }
        Ok(List::Json(arr))
    }
}

impl<'a, T: FromJson<'a> + Copy + ToJson> ToJson for List<'a, T> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        out.put(b"[")?;
        for (i, el) in self.iter().enumerate() {
            if i > 0 {
                out.put(b",")?;
            }
            el.write_json(out)?;
        }
        out.put(b"]")
    }
}

impl<'a, T: FromJson<'a> + Copy + fmt::Debug> fmt::Debug for List<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a, T: FromJson<'a> + Copy + PartialEq> PartialEq for List<'a, T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl<'a> FromJson<'a> for JsonStr<'a> {
    const REASON: Reason = Reason::InvalidPayload;
    fn from_json(v: JsonValue<'a>) -> Result<Self, Error> {
        string(v, Self::REASON, "")
    }
}

// ---------------------------------------------------------------------------
// Decoding helpers: each names the field and reason on failure.

pub(crate) fn err(reason: Reason, kind: ErrorKind, field: &'static str) -> Error {
    Error::new(reason, kind).at(field)
}

fn wrong(reason: Reason, expected: JsonType, field: &'static str) -> Error {
    err(reason, ErrorKind::WrongType { expected }, field)
}

pub(crate) fn object<'a>(
    v: JsonValue<'a>,
    reason: Reason,
    field: &'static str,
) -> Result<JsonObject<'a>, Error> {
    v.as_object()
        .ok_or_else(|| wrong(reason, JsonType::Object, field))
}

pub(crate) fn array<'a>(
    v: JsonValue<'a>,
    reason: Reason,
    field: &'static str,
) -> Result<JsonArray<'a>, Error> {
    v.as_array()
        .ok_or_else(|| wrong(reason, JsonType::Array, field))
}

pub(crate) fn string<'a>(
    v: JsonValue<'a>,
    reason: Reason,
    field: &'static str,
) -> Result<JsonStr<'a>, Error> {
    v.as_str()
        .ok_or_else(|| wrong(reason, JsonType::String, field))
}

/// `serviceName`, or one of `tags`: 1 to 32 printable ASCII characters (the
/// official SDK's schema).
pub(crate) fn label<'a>(
    v: JsonValue<'a>,
    reason: Reason,
    field: &'static str,
) -> Result<JsonStr<'a>, Error> {
    let s = string(v, reason, field)?;
    if (1..=32).contains(&s.len()) && s.chars().all(|c| (' '..='~').contains(&c)) {
        Ok(s)
    } else {
        Err(err(
            reason,
            ErrorKind::Invalid("1 to 32 printable ASCII characters"),
            field,
        ))
    }
}

/// `tags`: at most 5 [`label`]s.
pub(crate) fn labels<'a>(
    v: JsonValue<'a>,
    reason: Reason,
    field: &'static str,
) -> Result<crate::json::JsonArray<'a>, Error> {
    let a = array(v, reason, field)?;
    if a.len() > 5 {
        return Err(err(reason, ErrorKind::Invalid("at most 5 tags"), field));
    }
    for t in a.iter() {
        label(t, reason, field)?;
    }
    Ok(a)
}

/// `iconUrl`: a string of at most 2048 characters.
pub(crate) fn icon_url<'a>(
    v: JsonValue<'a>,
    reason: Reason,
    field: &'static str,
) -> Result<JsonStr<'a>, Error> {
    let s = string(v, reason, field)?;
    if s.chars().count() <= 2048 {
        Ok(s)
    } else {
        Err(err(
            reason,
            ErrorKind::Invalid("at most 2048 characters"),
            field,
        ))
    }
}

pub(crate) fn boolean(
    v: JsonValue<'_>,
    reason: Reason,
    field: &'static str,
) -> Result<bool, Error> {
    v.as_bool()
        .ok_or_else(|| wrong(reason, JsonType::Bool, field))
}

/// A JSON number that is a non-negative integer written plainly (`60`, not `6e1`).
pub(crate) fn integer(v: JsonValue<'_>, reason: Reason, field: &'static str) -> Result<u64, Error> {
    if v.json_type() != JsonType::Number {
        return Err(wrong(reason, JsonType::Number, field));
    }
    v.as_u64().ok_or_else(|| {
        err(
            reason,
            ErrorKind::Invalid("must be a non-negative integer without fraction or exponent"),
            field,
        )
    })
}

/// Short ASCII protocol values are copied out of the (possibly escaped) string.
fn ascii<'b, const N: usize>(
    s: JsonStr<'b>,
    buf: &'b mut [u8; N],
    reason: Reason,
    field: &'static str,
    what: ErrorKind,
) -> Result<&'b str, Error> {
    if let Some(text) = s.as_str() {
        // No escapes: the text itself, under the same length and ASCII rules.
        return if text.len() <= N && text.is_ascii() {
            Ok(text)
        } else {
            Err(err(reason, what, field))
        };
    }
    let (arr, n) = s.ascii_array::<N>().ok_or(err(reason, what, field))?;
    *buf = arr;
    buf.get(..n)
        .and_then(|b| core::str::from_utf8(b).ok())
        .ok_or(err(reason, what, field))
}

pub(crate) fn amount(
    v: JsonValue<'_>,
    reason: Reason,
    field: &'static str,
) -> Result<Amount, Error> {
    let s = string(v, reason, field)?;
    if let Some(text) = s.as_str() {
        return Amount::parse_decimal(text).map_err(|k| err(reason, k, field));
    }
    let mut buf = [0u8; 80];
    let text = ascii(
        s,
        &mut buf,
        reason,
        field,
        ErrorKind::NotCanonical("only the digits 0-9 are allowed"),
    )?;
    Amount::parse_decimal(text).map_err(|k| err(reason, k, field))
}

/// A member whose value is a type of its own, read by its [`FromJson`] (which
/// names its own reason and fields).
pub(crate) fn nested<'a, T: FromJson<'a>>(
    v: JsonValue<'a>,
    _: Reason,
    _: &'static str,
) -> Result<T, Error> {
    T::from_json(v)
}

/// A list whose elements are read by their [`FromJson`].
pub(crate) fn list<'a, T: FromJson<'a> + Copy>(
    v: JsonValue<'a>,
    _: Reason,
    field: &'static str,
) -> Result<List<'a, T>, Error> {
    List::decode(v, field)
}

/// An object carried as received.
pub(crate) fn raw_object<'a>(
    v: JsonValue<'a>,
    reason: Reason,
    field: &'static str,
) -> Result<RawObject<'a>, Error> {
    object(v, reason, field).map(RawObject::Json)
}

/// A uint256 decimal string compared against unix time: kept as [`Amount`] so that
/// "never expires" values such as 2^256 − 1 are read exactly.
pub(crate) fn uint_string(
    v: JsonValue<'_>,
    reason: Reason,
    field: &'static str,
) -> Result<Amount, Error> {
    amount(v, reason, field)
}

pub(crate) fn address(
    v: JsonValue<'_>,
    reason: Reason,
    field: &'static str,
) -> Result<Address, Error> {
    let s = string(v, reason, field)?;
    let mut buf = [0u8; 42];
    let text = ascii(s, &mut buf, reason, field, ErrorKind::Hex("wrong length"))?;
    Address::parse(text).map_err(|k| err(reason, k, field))
}

pub(crate) fn b256(v: JsonValue<'_>, reason: Reason, field: &'static str) -> Result<B256, Error> {
    let s = string(v, reason, field)?;
    let mut buf = [0u8; 66];
    let text = ascii(s, &mut buf, reason, field, ErrorKind::Hex("wrong length"))?;
    B256::parse(text).map_err(|k| err(reason, k, field))
}

pub(crate) fn network_caip2(
    v: JsonValue<'_>,
    reason: Reason,
    field: &'static str,
) -> Result<Network, Error> {
    let s = string(v, reason, field)?;
    let mut buf = [0u8; 100];
    let bad = ErrorKind::Network("expected namespace:reference");
    let text = ascii(s, &mut buf, Reason::InvalidNetwork, field, bad)?;
    Network::parse_caip2(text).map_err(|k| err(Reason::InvalidNetwork, k, field))
}

pub(crate) fn network_v1(
    v: JsonValue<'_>,
    reason: Reason,
    field: &'static str,
) -> Result<Network, Error> {
    let s = string(v, reason, field)?;
    let mut buf = [0u8; 100];
    let bad = ErrorKind::Network("v1 names are 1-64 characters of [-a-z0-9]");
    let text = ascii(s, &mut buf, Reason::InvalidNetwork, field, bad)?;
    Network::parse_v1(text).map_err(|k| err(Reason::InvalidNetwork, k, field))
}

/// Either form: CAIP-2 when it has a colon, else a v1 name (used where a document
/// carries no `x402Version`, such as a SettleResponse).
pub(crate) fn network_any(
    v: JsonValue<'_>,
    reason: Reason,
    field: &'static str,
) -> Result<Network, Error> {
    match v.as_str() {
        Some(s) if s.chars().any(|c| c == ':') => network_caip2(v, reason, field),
        _ => network_v1(v, reason, field),
    }
}

/// `x402Version`, which must be exactly `want`.
pub(crate) fn version(v: JsonValue<'_>, want: u64) -> Result<u64, Error> {
    let n = integer(v, Reason::InvalidX402Version, "x402Version")?;
    if n == want {
        Ok(n)
    } else {
        Err(err(
            Reason::InvalidX402Version,
            ErrorKind::UnsupportedVersion,
            "x402Version",
        ))
    }
}

/// Reads the protocol version of a document: 1 or 2.
///
/// # Errors
/// `invalid_x402_version` when absent, not an integer, or not 1 or 2.
pub fn detect_version(obj: JsonObject<'_>) -> Result<u8, Error> {
    version_of(obj.get("x402Version"))
}

/// [`detect_version`] for an already looked-up `x402Version` member.
pub(crate) fn version_of(v: Option<JsonValue<'_>>) -> Result<u8, Error> {
    let v = v.ok_or(err(
        Reason::InvalidX402Version,
        ErrorKind::MissingField,
        "x402Version",
    ))?;
    match integer(v, Reason::InvalidX402Version, "x402Version")? {
        1 => Ok(1),
        2 => Ok(2),
        _ => Err(err(
            Reason::InvalidX402Version,
            ErrorKind::UnsupportedVersion,
            "x402Version",
        )),
    }
}

/// An optional member: absent and `null` both read as `None`.
pub(crate) fn present(v: Option<JsonValue<'_>>) -> Option<JsonValue<'_>> {
    v.filter(|v| !v.is_null())
}

pub(crate) fn required<T>(v: Option<T>, reason: Reason, field: &'static str) -> Result<T, Error> {
    v.ok_or(err(reason, ErrorKind::MissingField, field))
}

/// Walks an object's members once, handing each known key's index and value to `f`.
/// Unknown keys are skipped (the caller keeps the object to re-emit them).
pub(crate) fn read_members<'a>(
    obj: JsonObject<'a>,
    known: &[&str],
    mut f: impl FnMut(usize, JsonValue<'a>) -> Result<(), Error>,
) -> Result<(), Error> {
    for (k, v) in obj.members() {
        if let Some(i) = known.iter().position(|name| k == *name) {
            f(i, v)?;
        }
    }
    Ok(())
}

/// The values of the known members, by index (`None` when absent).
pub(crate) fn fields<'a, const N: usize>(
    source: JsonObject<'a>,
    known: &[&str; N],
) -> [Option<JsonValue<'a>>; N] {
    let mut f = [None; N];
    for (k, v) in source.members() {
        if let Some(slot) = known
            .iter()
            .position(|name| k == *name)
            .and_then(|i| f.get_mut(i))
        {
            *slot = Some(v);
        }
    }
    f
}

/// Writes an object: members of `source` in their original order, with each known
/// key written by `field` (which writes nothing for an absent field), then the
/// known fields the source lacked, in the order of `known`.
pub(crate) fn write_members(
    out: &mut dyn Sink,
    source: JsonObject<'_>,
    known: &[&str],
    mut field: impl FnMut(usize, &mut ObjectWriter<'_>) -> Result<(), SinkFull>,
) -> Result<(), SinkFull> {
    let mut w = ObjectWriter::new(out)?;
    let mut done: u64 = 0;
    for (k, v) in source.members() {
        match known.iter().position(|name| k == *name) {
            Some(i) => {
                let bit = 1u64 << (i % 64);
                if done & bit == 0 {
                    field(i, &mut w)?;
                    done |= bit;
                }
            }
            None => w.value_field(k, v)?,
        }
    }
    for i in 0..known.len() {
        if done & (1u64 << (i % 64)) == 0 {
            field(i, &mut w)?;
        }
    }
    w.end()
}

/// Unknown members of `source` (those not in `known`), in order.
pub(crate) fn unknown_members<'a>(
    source: JsonObject<'a>,
    known: &'static [&'static str],
) -> impl Iterator<Item = (JsonStr<'a>, JsonValue<'a>)> + 'a {
    source
        .members()
        .filter(move |(k, _)| !known.iter().any(|n| *k == *n))
}

/// Writes a `0x`-hex string for a 20-byte address in EIP-55 form.
pub(crate) fn address_json(a: &Address) -> impl ToJson {
    AddressJson(*a)
}

struct AddressJson(Address);
impl ToJson for AddressJson {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        out.put(b"\"")?;
        out.put(self.0.checksummed().as_str().as_bytes())?;
        out.put(b"\"")
    }
}

impl ToJson for Address {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        address_json(self).write_json(out)
    }
}

impl ToJson for B256 {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        out.put(b"\"")?;
        out.put(self.to_hex().as_str().as_bytes())?;
        out.put(b"\"")
    }
}

impl ToJson for Amount {
    /// Amounts are decimal strings on the wire.
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        out.put(b"\"")?;
        out.put(self.to_decimal(&mut [0u8; 78]).as_bytes())?;
        out.put(b"\"")
    }
}

impl ToJson for Network {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        self.as_str().write_json(out)
    }
}
