//! Structured Field Values for HTTP (RFC 8941): a strict, allocation-free parser
//! and the canonical serializer.
//!
//! A field value is parsed once ([`Dictionary::parse`], [`List::parse`],
//! [`Item::parse`]); the result is a borrowed view whose iterators walk the
//! already-validated text again, so nothing is copied and nothing allocates.
//! Strings, tokens and byte sequences are slices of the input.
//!
//! # Limits
//! Every parse is bounded by [`Limits`]: the field's length, the number of
//! members of a dictionary or list, of items in an inner list and of parameters
//! on one item or inner list. Nesting is bounded by the grammar itself (a
//! dictionary member may be an inner list of items; items carry parameters;
//! nothing nests deeper), so there is no depth to exhaust.
//!
//! # Where this parser is stricter than RFC 8941 asks
//! - Byte sequences must be canonical base64: padding present, unused bits
//!   zero. RFC 8941 §3.3.5 lets parsers accept missing padding and stray bits;
//!   refusing them gives every signature exactly one textual form.
//! - Dates (`@...`) and display strings (`%"..."`) of RFC 9651 are refused:
//!   this is RFC 8941, which HTTP message signatures are defined over.
//!
//! Duplicate dictionary keys and duplicate parameters follow RFC 8941 (the last
//! value wins, at the first position), and [`Dictionary::has_duplicate_keys`]
//! and [`Parameters::has_duplicates`] let a caller refuse them.
//!
//! ```
//! use paywire::batch::sfv::{Dictionary, Limits};
//! let d = Dictionary::parse("a=1,    b=2;x=1;y=2,   c=(a   b   c)", &Limits::DEFAULT).unwrap();
//! let mut out = Vec::new();
//! d.serialize(&mut out).unwrap();
//! assert_eq!(out, b"a=1, b=2;x=1;y=2, c=(a b c)");
//! ```

use core::fmt;

use crate::header::Base64Sink;
use crate::json::{Sink, SinkFull};

/// Bounds applied while parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum field value length in bytes.
    pub max_len: usize,
    /// Maximum members of a dictionary or list.
    pub max_members: usize,
    /// Maximum items in one inner list.
    pub max_inner_items: usize,
    /// Maximum parameters on one item or inner list.
    pub max_params: usize,
}

impl Limits {
    /// 16 KiB, 64 members, 64 inner-list items, 32 parameters: far above any
    /// signature field, far below harm.
    pub const DEFAULT: Limits = Limits {
        max_len: 16 * 1024,
        max_members: 64,
        max_inner_items: 64,
        max_params: 32,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Why a field value did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SfvError {
    /// Byte offset in the (untrimmed) field value.
    pub offset: usize,
    /// What was wrong.
    pub what: &'static str,
}

impl fmt::Display for SfvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "structured field: {} at byte {}", self.what, self.offset)
    }
}

impl core::error::Error for SfvError {}

/// Largest magnitude of an sf-integer: 15 decimal digits.
pub const MAX_INTEGER: i64 = 999_999_999_999_999;

/// A string as it appears between the quotes, escapes still in place
/// (`\"` and `\\` are the only escapes RFC 8941 allows).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SfString<'a> {
    raw: &'a str,
}

impl<'a> SfString<'a> {
    /// A string from text that has no `"` or `\` (so needs no escape).
    /// Returns `None` otherwise, or for characters outside `%x20-7E`.
    #[must_use]
    pub fn plain(text: &'a str) -> Option<SfString<'a>> {
        text.bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\')
            .then_some(SfString { raw: text })
    }

    /// The text between the quotes, escapes still in place.
    #[must_use]
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The text, if it contains no escapes (the usual case).
    #[must_use]
    pub fn as_plain(&self) -> Option<&'a str> {
        (!self.raw.contains('\\')).then_some(self.raw)
    }

    /// The characters after unescaping.
    pub fn chars(&self) -> impl Iterator<Item = char> + 'a {
        let mut escaped = false;
        self.raw.chars().filter(move |&c| {
            if escaped {
                escaped = false;
                true
            } else if c == '\\' {
                escaped = true;
                false
            } else {
                true
            }
        })
    }

    /// Whether the unescaped text equals `s`.
    #[must_use]
    pub fn eq_str(&self, s: &str) -> bool {
        match self.as_plain() {
            Some(p) => p == s,
            None => self.chars().eq(s.chars()),
        }
    }
}

impl PartialEq<str> for SfString<'_> {
    fn eq(&self, other: &str) -> bool {
        self.eq_str(other)
    }
}

impl PartialEq<&str> for SfString<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.eq_str(other)
    }
}

impl fmt::Debug for SfString<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.raw)
    }
}

/// A byte sequence: canonical base64 text (checked when parsed).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ByteSeq<'a> {
    base64: &'a str,
}

impl<'a> ByteSeq<'a> {
    /// The base64 text between the colons.
    #[must_use]
    pub fn base64(&self) -> &'a str {
        self.base64
    }

    /// The decoded length.
    #[must_use]
    pub fn decoded_len(&self) -> usize {
        let pad = self.base64.bytes().rev().take_while(|&b| b == b'=').count();
        (self.base64.len() / 4 * 3).saturating_sub(pad)
    }

    /// Decodes into `out`, returning the bytes written.
    ///
    /// # Errors
    /// [`crate::ErrorKind::BufferTooSmall`] when `out` is shorter than [`Self::decoded_len`].
    pub fn decode_into(&self, out: &mut [u8]) -> Result<usize, crate::ErrorKind> {
        crate::header::base64_decode(self.base64.as_bytes(), out)
    }

    /// Decodes a value of exactly `N` bytes; `None` for any other length.
    #[must_use]
    pub fn decode_array<const N: usize>(&self) -> Option<[u8; N]> {
        if self.decoded_len() != N {
            return None;
        }
        let mut out = [0u8; N];
        self.decode_into(&mut out).ok().filter(|&n| n == N)?;
        Some(out)
    }
}

impl fmt::Debug for ByteSeq<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ":{}:", self.base64)
    }
}

/// A bare item (RFC 8941 §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BareItem<'a> {
    /// `-?[0-9]{1,15}`.
    Integer(i64),
    /// `-?[0-9]{1,12}.[0-9]{1,3}`, held in thousandths.
    Decimal(i64),
    /// `"..."`.
    String(SfString<'a>),
    /// `foo`, `*/*`, `text/html`.
    Token(&'a str),
    /// `:base64:`.
    ByteSeq(ByteSeq<'a>),
    /// `?1` / `?0`.
    Boolean(bool),
}

impl<'a> BareItem<'a> {
    /// The integer, if this is one.
    #[must_use]
    pub fn as_integer(&self) -> Option<i64> {
        match *self {
            BareItem::Integer(i) => Some(i),
            _ => None,
        }
    }

    /// The string, if this is one.
    #[must_use]
    pub fn as_string(&self) -> Option<SfString<'a>> {
        match *self {
            BareItem::String(s) => Some(s),
            _ => None,
        }
    }

    /// The byte sequence, if this is one.
    #[must_use]
    pub fn as_byte_seq(&self) -> Option<ByteSeq<'a>> {
        match *self {
            BareItem::ByteSeq(b) => Some(b),
            _ => None,
        }
    }

    /// The token, if this is one.
    #[must_use]
    pub fn as_token(&self) -> Option<&'a str> {
        match *self {
            BareItem::Token(t) => Some(t),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    #[must_use]
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            BareItem::Boolean(b) => Some(b),
            _ => None,
        }
    }

    /// Writes the canonical serialization (RFC 8941 §4.1.3).
    ///
    /// # Errors
    /// [`SinkFull`] from the sink.
    pub fn serialize(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        match *self {
            BareItem::Integer(i) => write_i64(out, i),
            BareItem::Decimal(d) => {
                if d < 0 {
                    out.put(b"-")?;
                }
                let m = d.unsigned_abs();
                write_u64(out, m / 1000)?;
                out.put(b".")?;
                let mut frac = m % 1000;
                let mut digits = 3;
                while digits > 1 && frac % 10 == 0 {
                    frac /= 10;
                    digits -= 1;
                }
                let mut buf = [b'0'; 3];
                let mut f = frac;
                for slot in buf.iter_mut().take(digits).rev() {
                    *slot = b'0' + (f % 10) as u8;
                    f /= 10;
                }
                out.put(buf.get(..digits).unwrap_or(b"0"))
            }
            // The raw text was validated: `\"` and `\\` are its only escapes, and
            // they are also the only ones the serializer writes.
            BareItem::String(s) => {
                out.put(b"\"")?;
                out.put(s.raw.as_bytes())?;
                out.put(b"\"")
            }
            BareItem::Token(t) => out.put(t.as_bytes()),
            BareItem::ByteSeq(b) => {
                out.put(b":")?;
                out.put(b.base64.as_bytes())?;
                out.put(b":")
            }
            BareItem::Boolean(b) => out.put(if b { b"?1" } else { b"?0" }),
        }
    }
}

/// Writes `bytes` as a byte sequence (`:base64:`).
///
/// # Errors
/// [`SinkFull`] from the sink.
pub fn write_byte_seq(out: &mut dyn Sink, bytes: &[u8]) -> Result<(), SinkFull> {
    out.put(b":")?;
    let mut b = Base64Sink::new(&mut *out);
    b.put(bytes)?;
    b.finish()?;
    out.put(b":")
}

/// Writes `s` as an sf-string, escaping `"` and `\`.
///
/// # Errors
/// [`SinkFull`] from the sink; `Ok(false)` (nothing written) when `s` holds a
/// character outside `%x20-7E`, which an sf-string cannot carry.
pub fn write_string(out: &mut dyn Sink, s: &str) -> Result<bool, SinkFull> {
    if !s.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Ok(false);
    }
    out.put(b"\"")?;
    for chunk in s.split_inclusive(['"', '\\']) {
        match chunk.as_bytes().split_last() {
            Some((&last, head)) if last == b'"' || last == b'\\' => {
                out.put(head)?;
                out.put(&[b'\\', last])?;
            }
            _ => out.put(chunk.as_bytes())?,
        }
    }
    out.put(b"\"")?;
    Ok(true)
}

pub(crate) fn write_u64(out: &mut dyn Sink, mut v: u64) -> Result<(), SinkFull> {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(slot) = buf.get_mut(i) {
            *slot = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.put(buf.get(i..).unwrap_or_default())
}

pub(crate) fn write_i64(out: &mut dyn Sink, v: i64) -> Result<(), SinkFull> {
    if v < 0 {
        out.put(b"-")?;
    }
    write_u64(out, v.unsigned_abs())
}

/// Parameters of an item or inner list (validated text, walked on demand).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Parameters<'a> {
    text: &'a str,
}

impl<'a> Parameters<'a> {
    /// No parameters.
    pub const EMPTY: Parameters<'static> = Parameters { text: "" };

    /// The parameters as `(key, value)` pairs in order (a parameter without a
    /// value is `Boolean(true)`).
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, BareItem<'a>)> + 'a {
        let mut p = Parser::new(self.text, VALIDATED);
        core::iter::from_fn(move || {
            if p.peek() != Some(b';') {
                return None;
            }
            p.parameter().ok()
        })
    }

    /// The number of parameters (duplicates counted).
    #[must_use]
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The value of `key` (the last one, as RFC 8941 says).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<BareItem<'a>> {
        self.iter()
            .filter(|(k, _)| *k == key)
            .last()
            .map(|(_, v)| v)
    }

    /// Whether some key occurs twice.
    #[must_use]
    pub fn has_duplicates(&self) -> bool {
        self.iter()
            .enumerate()
            .any(|(i, (k, _))| self.iter().skip(i + 1).any(|(k2, _)| k2 == k))
    }

    /// Writes the canonical serialization (each key once, at its first
    /// position, with its last value).
    ///
    /// # Errors
    /// [`SinkFull`] from the sink.
    pub fn serialize(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        for (i, (k, _)) in self.iter().enumerate() {
            if self.iter().take(i).any(|(k0, _)| k0 == k) {
                continue;
            }
            out.put(b";")?;
            out.put(k.as_bytes())?;
            match self.get(k) {
                Some(BareItem::Boolean(true)) | None => {}
                Some(v) => {
                    out.put(b"=")?;
                    v.serialize(out)?;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Parameters<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// An item: a bare item with parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Item<'a> {
    /// The value.
    pub bare: BareItem<'a>,
    /// Its parameters.
    pub params: Parameters<'a>,
}

impl<'a> Item<'a> {
    /// Parses a whole field value as an Item.
    ///
    /// # Errors
    /// [`SfvError`] at the first problem.
    pub fn parse(value: &'a str, limits: &Limits) -> Result<Item<'a>, SfvError> {
        let mut p = Parser::field(value, *limits)?;
        let item = p.item()?;
        p.end()?;
        Ok(item)
    }

    /// Writes the canonical serialization.
    ///
    /// # Errors
    /// [`SinkFull`] from the sink.
    pub fn serialize(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        self.bare.serialize(out)?;
        self.params.serialize(out)
    }
}

/// An inner list: `(item item ...)` with parameters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct InnerList<'a> {
    /// The text between the parentheses (validated).
    items: &'a str,
    /// Parameters of the list.
    pub params: Parameters<'a>,
}

impl<'a> InnerList<'a> {
    /// The items in order.
    pub fn iter(&self) -> impl Iterator<Item = Item<'a>> + 'a {
        let mut p = Parser::new(self.items, VALIDATED);
        core::iter::from_fn(move || {
            p.skip_sp();
            if p.at_end() {
                return None;
            }
            p.item().ok()
        })
    }

    /// The number of items.
    #[must_use]
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether the list is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// Writes the canonical serialization.
    ///
    /// # Errors
    /// [`SinkFull`] from the sink.
    pub fn serialize(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        out.put(b"(")?;
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                out.put(b" ")?;
            }
            item.serialize(out)?;
        }
        out.put(b")")?;
        self.params.serialize(out)
    }
}

impl fmt::Debug for InnerList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()?;
        fmt::Debug::fmt(&self.params, f)
    }
}

/// A dictionary member's or list member's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Member<'a> {
    /// An item.
    Item(Item<'a>),
    /// An inner list.
    InnerList(InnerList<'a>),
}

impl<'a> Member<'a> {
    /// The item, if this is one.
    #[must_use]
    pub fn as_item(&self) -> Option<Item<'a>> {
        match *self {
            Member::Item(i) => Some(i),
            Member::InnerList(_) => None,
        }
    }

    /// The inner list, if this is one.
    #[must_use]
    pub fn as_inner_list(&self) -> Option<InnerList<'a>> {
        match *self {
            Member::InnerList(l) => Some(l),
            Member::Item(_) => None,
        }
    }

    /// The member's parameters.
    #[must_use]
    pub fn params(&self) -> Parameters<'a> {
        match self {
            Member::Item(i) => i.params,
            Member::InnerList(l) => l.params,
        }
    }

    /// Writes the canonical serialization (RFC 8941 §4.1.2's member value).
    ///
    /// # Errors
    /// [`SinkFull`] from the sink.
    pub fn serialize(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        match self {
            Member::Item(i) => i.serialize(out),
            Member::InnerList(l) => l.serialize(out),
        }
    }
}

/// A dictionary (validated text, walked on demand).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dictionary<'a> {
    text: &'a str,
}

impl<'a> Dictionary<'a> {
    /// Parses a whole field value as a Dictionary (an empty value is an empty
    /// dictionary).
    ///
    /// # Errors
    /// [`SfvError`] at the first problem, including a limit exceeded.
    pub fn parse(value: &'a str, limits: &Limits) -> Result<Dictionary<'a>, SfvError> {
        let mut p = Parser::field(value, *limits)?;
        let start = p.pos;
        let mut n = 0usize;
        while !p.at_end() {
            n += 1;
            if n > limits.max_members {
                return Err(p.error("too many dictionary members"));
            }
            p.dict_member()?;
            p.after_member()?;
        }
        Ok(Dictionary {
            text: value.get(start..p.pos).unwrap_or(""),
        })
    }

    /// The members as `(key, value)` in order, duplicates included.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Member<'a>)> + 'a {
        let mut p = Parser::new(self.text, VALIDATED);
        core::iter::from_fn(move || {
            if p.at_end() {
                return None;
            }
            let m = p.dict_member().ok()?;
            p.after_member().ok()?;
            Some(m)
        })
    }

    /// The value of `key` (the last one, as RFC 8941 says).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<Member<'a>> {
        self.iter()
            .filter(|(k, _)| *k == key)
            .last()
            .map(|(_, v)| v)
    }

    /// The number of members, duplicates counted.
    #[must_use]
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there are no members.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Whether some key occurs twice.
    #[must_use]
    pub fn has_duplicate_keys(&self) -> bool {
        self.iter()
            .enumerate()
            .any(|(i, (k, _))| self.iter().skip(i + 1).any(|(k2, _)| k2 == k))
    }

    /// Writes the canonical serialization (each key once, at its first
    /// position, with its last value).
    ///
    /// # Errors
    /// [`SinkFull`] from the sink.
    pub fn serialize(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut first = true;
        for (i, (k, _)) in self.iter().enumerate() {
            if self.iter().take(i).any(|(k0, _)| k0 == k) {
                continue;
            }
            let Some(v) = self.get(k) else { continue };
            if !first {
                out.put(b", ")?;
            }
            first = false;
            out.put(k.as_bytes())?;
            match v {
                Member::Item(Item {
                    bare: BareItem::Boolean(true),
                    params,
                }) => params.serialize(out)?,
                _ => {
                    out.put(b"=")?;
                    v.serialize(out)?;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Dictionary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A list (validated text, walked on demand).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct List<'a> {
    text: &'a str,
}

impl<'a> List<'a> {
    /// Parses a whole field value as a List (an empty value is an empty list).
    ///
    /// # Errors
    /// [`SfvError`] at the first problem, including a limit exceeded.
    pub fn parse(value: &'a str, limits: &Limits) -> Result<List<'a>, SfvError> {
        let mut p = Parser::field(value, *limits)?;
        let start = p.pos;
        let mut n = 0usize;
        while !p.at_end() {
            n += 1;
            if n > limits.max_members {
                return Err(p.error("too many list members"));
            }
            p.member()?;
            p.after_member()?;
        }
        Ok(List {
            text: value.get(start..p.pos).unwrap_or(""),
        })
    }

    /// The members in order.
    pub fn iter(&self) -> impl Iterator<Item = Member<'a>> + 'a {
        let mut p = Parser::new(self.text, VALIDATED);
        core::iter::from_fn(move || {
            if p.at_end() {
                return None;
            }
            let m = p.member().ok()?;
            p.after_member().ok()?;
            Some(m)
        })
    }

    /// The number of members.
    #[must_use]
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether the list is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Writes the canonical serialization.
    ///
    /// # Errors
    /// [`SinkFull`] from the sink.
    pub fn serialize(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        for (i, m) in self.iter().enumerate() {
            if i > 0 {
                out.put(b", ")?;
            }
            m.serialize(out)?;
        }
        Ok(())
    }
}

impl fmt::Debug for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Parses the text of one inner list (`(...)` with parameters), as found in a
/// `Signature-Input` member.
///
/// # Errors
/// [`SfvError`] at the first problem.
pub fn parse_inner_list<'a>(value: &'a str, limits: &Limits) -> Result<InnerList<'a>, SfvError> {
    let mut p = Parser::field(value, *limits)?;
    let l = p.inner_list()?;
    p.end()?;
    Ok(l)
}

// ---------------------------------------------------------------------------
// The parser (RFC 8941 §4.2).

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    end: usize,
    limits: Limits,
}

pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.*".contains(&b)
}

/// Limits for walking text a parse already validated under the caller's
/// limits: checking it again against narrower ones would silently cut short a
/// value parsed with wider ones.
const VALIDATED: Limits = Limits {
    max_len: usize::MAX,
    max_members: usize::MAX,
    max_inner_items: usize::MAX,
    max_params: usize::MAX,
};

impl<'a> Parser<'a> {
    fn new(text: &'a str, limits: Limits) -> Self {
        Parser {
            text,
            pos: 0,
            end: text.len(),
            limits,
        }
    }

    /// A parser over a whole field value: length checked, surrounding SP dropped.
    fn field(value: &'a str, limits: Limits) -> Result<Self, SfvError> {
        if value.len() > limits.max_len {
            return Err(SfvError {
                offset: limits.max_len,
                what: "field value longer than the limit",
            });
        }
        let b = value.as_bytes();
        let start = b.iter().take_while(|&&c| c == b' ').count();
        let trailing = b.iter().rev().take_while(|&&c| c == b' ').count();
        let end = b.len().saturating_sub(trailing).max(start);
        Ok(Parser {
            text: value,
            pos: start,
            end,
            limits,
        })
    }

    fn error(&self, what: &'static str) -> SfvError {
        SfvError {
            offset: self.pos,
            what,
        }
    }

    fn peek(&self) -> Option<u8> {
        if self.pos < self.end {
            self.text.as_bytes().get(self.pos).copied()
        } else {
            None
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    fn bump(&mut self) {
        self.pos += 1;
    }

    fn expect(&mut self, b: u8, what: &'static str) -> Result<(), SfvError> {
        if self.peek() == Some(b) {
            self.bump();
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.text.get(start..end).unwrap_or("")
    }

    fn skip_sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.bump();
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.bump();
        }
    }

    fn end(&mut self) -> Result<(), SfvError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.error("unexpected characters after the value"))
        }
    }

    /// After a dictionary or list member: end, or OWS "," OWS and another member.
    fn after_member(&mut self) -> Result<(), SfvError> {
        self.skip_ows();
        if self.at_end() {
            return Ok(());
        }
        self.expect(b',', "expected ',' between members")?;
        self.skip_ows();
        if self.at_end() {
            return Err(self.error("trailing ','"));
        }
        Ok(())
    }

    fn key(&mut self) -> Result<&'a str, SfvError> {
        let start = self.pos;
        match self.peek() {
            Some(c) if c.is_ascii_lowercase() || c == b'*' => self.bump(),
            _ => return Err(self.error("a key starts with a-z or '*'")),
        }
        while self.peek().is_some_and(is_key_char) {
            self.bump();
        }
        Ok(self.slice(start, self.pos))
    }

    fn dict_member(&mut self) -> Result<(&'a str, Member<'a>), SfvError> {
        let key = self.key()?;
        if self.peek() == Some(b'=') {
            self.bump();
            Ok((key, self.member()?))
        } else {
            let params = self.params()?;
            Ok((
                key,
                Member::Item(Item {
                    bare: BareItem::Boolean(true),
                    params,
                }),
            ))
        }
    }

    fn member(&mut self) -> Result<Member<'a>, SfvError> {
        if self.peek() == Some(b'(') {
            self.inner_list().map(Member::InnerList)
        } else {
            self.item().map(Member::Item)
        }
    }

    fn inner_list(&mut self) -> Result<InnerList<'a>, SfvError> {
        self.expect(b'(', "expected '('")?;
        let start = self.pos;
        let mut n = 0usize;
        loop {
            self.skip_sp();
            if self.peek() == Some(b')') {
                let items = self.slice(start, self.pos);
                self.bump();
                let params = self.params()?;
                return Ok(InnerList { items, params });
            }
            n += 1;
            if n > self.limits.max_inner_items {
                return Err(self.error("too many inner-list items"));
            }
            self.item()?;
            match self.peek() {
                Some(b' ' | b')') => {}
                _ => return Err(self.error("expected ' ' or ')' in an inner list")),
            }
        }
    }

    fn item(&mut self) -> Result<Item<'a>, SfvError> {
        let bare = self.bare_item()?;
        let params = self.params()?;
        Ok(Item { bare, params })
    }

    fn params(&mut self) -> Result<Parameters<'a>, SfvError> {
        let start = self.pos;
        let mut n = 0usize;
        while self.peek() == Some(b';') {
            n += 1;
            if n > self.limits.max_params {
                return Err(self.error("too many parameters"));
            }
            self.parameter()?;
        }
        Ok(Parameters {
            text: self.slice(start, self.pos),
        })
    }

    /// One `;key[=value]`, positioned on the `;`.
    fn parameter(&mut self) -> Result<(&'a str, BareItem<'a>), SfvError> {
        self.expect(b';', "expected ';'")?;
        self.skip_sp();
        let key = self.key()?;
        if self.peek() == Some(b'=') {
            self.bump();
            Ok((key, self.bare_item()?))
        } else {
            Ok((key, BareItem::Boolean(true)))
        }
    }

    fn bare_item(&mut self) -> Result<BareItem<'a>, SfvError> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'"') => self.string(),
            Some(b':') => self.byte_seq(),
            Some(b'?') => self.boolean(),
            Some(c) if c.is_ascii_alphabetic() || c == b'*' => Ok(self.token()),
            _ => Err(self.error("expected an item")),
        }
    }

    fn number(&mut self) -> Result<BareItem<'a>, SfvError> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.bump();
        }
        let mut int: i64 = 0;
        let mut digits = 0usize;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            digits += 1;
            if digits > 15 {
                return Err(self.error("integer longer than 15 digits"));
            }
            int = int * 10 + i64::from(c - b'0');
            self.bump();
        }
        if digits == 0 {
            return Err(self.error("expected a digit"));
        }
        if self.peek() != Some(b'.') {
            return Ok(BareItem::Integer(if negative { -int } else { int }));
        }
        if digits > 12 {
            return Err(self.error("decimal with more than 12 integer digits"));
        }
        self.bump();
        let mut frac: i64 = 0;
        let mut fdigits = 0u32;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            fdigits += 1;
            if fdigits > 3 {
                return Err(self.error("decimal with more than 3 fraction digits"));
            }
            frac = frac * 10 + i64::from(c - b'0');
            self.bump();
        }
        if fdigits == 0 {
            return Err(self.error("decimal ends with '.'"));
        }
        let scaled = int * 1000 + frac * 10i64.pow(3 - fdigits);
        Ok(BareItem::Decimal(if negative { -scaled } else { scaled }))
    }

    fn string(&mut self) -> Result<BareItem<'a>, SfvError> {
        self.bump();
        let start = self.pos;
        loop {
            match self.peek() {
                Some(b'"') => {
                    let raw = self.slice(start, self.pos);
                    self.bump();
                    return Ok(BareItem::String(SfString { raw }));
                }
                Some(b'\\') => {
                    self.bump();
                    match self.peek() {
                        Some(b'"' | b'\\') => self.bump(),
                        _ => return Err(self.error("only \\\" and \\\\ may be escaped")),
                    }
                }
                Some(0x20..=0x7e) => self.bump(),
                Some(_) => return Err(self.error("character not allowed in a string")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    fn token(&mut self) -> BareItem<'a> {
        let start = self.pos;
        self.bump();
        while self
            .peek()
            .is_some_and(|c| is_tchar(c) || c == b':' || c == b'/')
        {
            self.bump();
        }
        BareItem::Token(self.slice(start, self.pos))
    }

    fn byte_seq(&mut self) -> Result<BareItem<'a>, SfvError> {
        self.bump();
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/' || c == b'=')
        {
            self.bump();
        }
        let base64 = self.slice(start, self.pos);
        if self.peek() != Some(b':') {
            return Err(self.error("unterminated byte sequence"));
        }
        if !crate::header::is_canonical_base64(base64.as_bytes()) {
            return Err(SfvError {
                offset: start,
                what: "byte sequence is not canonical padded base64",
            });
        }
        self.bump();
        Ok(BareItem::ByteSeq(ByteSeq { base64 }))
    }

    fn boolean(&mut self) -> Result<BareItem<'a>, SfvError> {
        self.bump();
        let b = match self.peek() {
            Some(b'1') => true,
            Some(b'0') => false,
            _ => return Err(self.error("a boolean is ?0 or ?1")),
        };
        self.bump();
        Ok(BareItem::Boolean(b))
    }
}
