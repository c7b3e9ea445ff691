//! Borrowed views over validated JSON text.

use core::fmt;

use super::hex_digit;
use crate::error::JsonType;

/// One JSON value: a view of its text inside a document that [`super::parse`] validated.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct JsonValue<'a> {
    text: &'a str,
}

impl<'a> JsonValue<'a> {
    pub(super) fn from_validated(text: &'a str) -> Self {
        JsonValue { text }
    }

    /// The value's JSON text, exactly as received (without surrounding whitespace).
    #[must_use]
    pub fn raw(&self) -> &'a str {
        self.text
    }

    /// Which JSON type this is.
    #[must_use]
    pub fn json_type(&self) -> JsonType {
        match self.text.as_bytes().first() {
            Some(b'{') => JsonType::Object,
            Some(b'[') => JsonType::Array,
            Some(b'"') => JsonType::String,
            Some(b't' | b'f') => JsonType::Bool,
            Some(b'n') => JsonType::Null,
            _ => JsonType::Number,
        }
    }

    /// The string, if this is one.
    #[must_use]
    pub fn as_str(&self) -> Option<JsonStr<'a>> {
        let inner = self.text.strip_prefix('"')?.strip_suffix('"')?;
        Some(JsonStr::from_validated_raw(inner))
    }

    /// The object, if this is one.
    #[must_use]
    pub fn as_object(&self) -> Option<JsonObject<'a>> {
        self.text
            .starts_with('{')
            .then_some(JsonObject { text: self.text })
    }

    /// The array, if this is one.
    #[must_use]
    pub fn as_array(&self) -> Option<JsonArray<'a>> {
        self.text
            .starts_with('[')
            .then_some(JsonArray { text: self.text })
    }

    /// The boolean, if this is one.
    #[must_use]
    pub fn as_bool(&self) -> Option<bool> {
        match self.text {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// The number as a `u64`, if it is a non-negative integer written without
    /// fraction or exponent that fits.
    #[must_use]
    pub fn as_u64(&self) -> Option<u64> {
        let b = self.text.as_bytes();
        if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.text.parse().ok()
    }

    /// Whether this is `null`.
    #[must_use]
    pub fn is_null(&self) -> bool {
        self.text == "null"
    }
}

impl fmt::Debug for JsonValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

/// A JSON object: iterate its members or look keys up.
///
/// Lookups are linear scans of the validated text. x402 objects have a handful of
/// members; the typed decoders walk each object once.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct JsonObject<'a> {
    text: &'a str,
}

impl<'a> JsonObject<'a> {
    /// The empty object `{}`.
    pub const EMPTY: JsonObject<'static> = JsonObject { text: "{}" };

    /// The object's JSON text as received.
    #[must_use]
    pub fn raw(&self) -> &'a str {
        self.text
    }

    /// This object as a [`JsonValue`].
    #[must_use]
    pub fn as_value(&self) -> JsonValue<'a> {
        JsonValue { text: self.text }
    }

    /// The members, in document order.
    #[must_use]
    pub fn members(&self) -> Members<'a> {
        Members {
            text: self.text,
            pos: 1,
        }
    }

    /// The value of `key` (compared after unescaping), if present.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<JsonValue<'a>> {
        self.members().find(|(k, _)| *k == *key).map(|(_, v)| v)
    }

    /// Whether the object has no members.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.members().next().is_none()
    }

    /// The number of members.
    #[must_use]
    pub fn len(&self) -> usize {
        self.members().count()
    }
}

impl fmt::Debug for JsonObject<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

/// Iterator over an object's `(key, value)` pairs.
#[derive(Clone, Debug)]
pub struct Members<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for Members<'a> {
    type Item = (JsonStr<'a>, JsonValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.text.as_bytes();
        let mut p = skip_ws(b, self.pos);
        if b.get(p) == Some(&b',') {
            p = skip_ws(b, p + 1);
        }
        if b.get(p) != Some(&b'"') {
            self.pos = b.len();
            return None;
        }
        let key_end = string_end(b, p)?;
        let key = JsonStr::from_validated_raw(self.text.get(p + 1..key_end - 1)?);
        p = skip_ws(b, key_end);
        p = skip_ws(b, p + 1); // the ':'
        let val_end = value_end(b, p)?;
        let value = JsonValue::from_validated(self.text.get(p..val_end)?);
        self.pos = val_end;
        Some((key, value))
    }
}

/// A JSON array.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct JsonArray<'a> {
    text: &'a str,
}

impl<'a> JsonArray<'a> {
    /// The array's JSON text as received.
    #[must_use]
    pub fn raw(&self) -> &'a str {
        self.text
    }

    /// The elements, in order.
    #[must_use]
    pub fn iter(&self) -> Elements<'a> {
        Elements {
            text: self.text,
            pos: 1,
        }
    }

    /// The number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// This array as a [`JsonValue`].
    #[must_use]
    pub fn as_value(&self) -> JsonValue<'a> {
        JsonValue { text: self.text }
    }

    /// Whether the array is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

impl<'a> IntoIterator for JsonArray<'a> {
    type Item = JsonValue<'a>;
    type IntoIter = Elements<'a>;
    fn into_iter(self) -> Elements<'a> {
        self.iter()
    }
}

impl fmt::Debug for JsonArray<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

/// Iterator over an array's elements.
#[derive(Clone, Debug)]
pub struct Elements<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for Elements<'a> {
    type Item = JsonValue<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.text.as_bytes();
        let mut p = skip_ws(b, self.pos);
        if b.get(p) == Some(&b',') {
            p = skip_ws(b, p + 1);
        }
        if matches!(b.get(p), None | Some(b']')) {
            self.pos = b.len();
            return None;
        }
        let end = value_end(b, p)?;
        self.pos = end;
        Some(JsonValue::from_validated(self.text.get(p..end)?))
    }
}

fn skip_ws(b: &[u8], mut p: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(p) {
        p += 1;
    }
    p
}

/// Index just past the string starting at `p` (its opening quote).
fn string_end(b: &[u8], p: usize) -> Option<usize> {
    let mut i = p + 1;
    loop {
        match b.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

/// Index just past the value starting at `p`, in validated text.
fn value_end(b: &[u8], p: usize) -> Option<usize> {
    match b.get(p)? {
        b'"' => string_end(b, p),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = p;
            loop {
                match b.get(i)? {
                    b'"' => {
                        i = string_end(b, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = p;
            while let Some(c) = b.get(i) {
                if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                i += 1;
            }
            Some(i)
        }
    }
}

/// A JSON string: either literal text, or JSON-escaped text straight from a
/// document, decoded lazily.
///
/// Comparisons, [`fmt::Display`] and [`JsonStr::chars`] see the decoded text, so
/// `"\u0065xact"` equals `"exact"`. Writing it back ([`super::write_escaped`])
/// produces the canonical escaping (that of `JSON.stringify`).
///
/// ```
/// use paywire::json::JsonStr;
/// let s = JsonStr::new("exact");
/// assert!(s == "exact");
/// assert_eq!(s.as_str(), Some("exact"));
/// ```
#[derive(Clone, Copy)]
pub struct JsonStr<'a> {
    s: &'a str,
    escaped: bool,
}

impl<'a> JsonStr<'a> {
    /// A string with the given (unescaped) text.
    #[must_use]
    pub const fn new(text: &'a str) -> Self {
        JsonStr {
            s: text,
            escaped: false,
        }
    }

    /// From the raw contents of a validated JSON string literal (between the quotes).
    pub(crate) fn from_validated_raw(raw: &'a str) -> Self {
        JsonStr {
            s: raw,
            escaped: raw.as_bytes().contains(&b'\\'),
        }
    }

    /// The text, if it needs no unescaping (the common case: borrowed, free).
    #[must_use]
    pub fn as_str(&self) -> Option<&'a str> {
        (!self.escaped).then_some(self.s)
    }

    /// Whether the text came with escape sequences.
    #[must_use]
    pub fn is_escaped(&self) -> bool {
        self.escaped
    }

    /// The decoded characters.
    #[must_use]
    pub fn chars(&self) -> Chars<'a> {
        Chars {
            s: self.s.as_bytes(),
            text: self.s,
            pos: 0,
            escaped: self.escaped,
        }
    }

    /// Length of the decoded text in UTF-8 bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        if self.escaped {
            self.chars().map(char::len_utf8).sum()
        } else {
            self.s.len()
        }
    }

    /// Whether the decoded text is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.s.is_empty()
    }

    /// Writes the decoded text into `buf` and returns it.
    ///
    /// # Errors
    /// [`super::BufferTooSmall`] with the needed length.
    pub fn unescape_into<'b>(&self, buf: &'b mut [u8]) -> Result<&'b str, super::BufferTooSmall> {
        let needed = self.len();
        let out = buf
            .get_mut(..needed)
            .ok_or(super::BufferTooSmall { needed })?;
        let mut i = 0;
        for c in self.chars() {
            let n = c.len_utf8();
            if let Some(dst) = out.get_mut(i..i + n) {
                c.encode_utf8(dst);
            }
            i += n;
        }
        core::str::from_utf8(out).map_err(|_| super::BufferTooSmall { needed })
    }

    /// Copies the decoded ASCII text into a fixed array, for short protocol
    /// values (addresses, amounts, networks). `None` if longer than `N` or not ASCII.
    pub(crate) fn ascii_array<const N: usize>(&self) -> Option<([u8; N], usize)> {
        let mut out = [0u8; N];
        let mut n = 0;
        for c in self.chars() {
            if !c.is_ascii() {
                return None;
            }
            *out.get_mut(n)? = c as u8;
            n += 1;
        }
        Some((out, n))
    }

    /// FNV-1a over the decoded UTF-8 bytes; used for duplicate-key detection.
    pub(crate) fn fnv1a(&self) -> u32 {
        let step = |h: u32, b: u8| (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        let seed: u32 = 0x811c_9dc5;
        match self.as_str() {
            Some(text) => text.bytes().fold(seed, step),
            None => self.chars().fold(seed, |h, c| {
                c.encode_utf8(&mut [0u8; 4]).bytes().fold(h, step)
            }),
        }
    }

    /// The decoded text, borrowed when no unescaping is needed.
    #[cfg(feature = "alloc")]
    #[must_use]
    pub fn to_cow(&self) -> alloc::borrow::Cow<'a, str> {
        match self.as_str() {
            Some(s) => alloc::borrow::Cow::Borrowed(s),
            None => alloc::borrow::Cow::Owned(self.chars().collect()),
        }
    }
}

impl PartialEq for JsonStr<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self.as_str(), other.as_str()) {
            (Some(a), Some(b)) => a == b,
            _ => self.chars().eq(other.chars()),
        }
    }
}

impl Eq for JsonStr<'_> {}

impl PartialEq<str> for JsonStr<'_> {
    fn eq(&self, other: &str) -> bool {
        match self.as_str() {
            Some(a) => a == other,
            None => self.chars().eq(other.chars()),
        }
    }
}

impl PartialEq<&str> for JsonStr<'_> {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl fmt::Display for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_str() {
            Some(s) => f.write_str(s),
            None => self.chars().try_for_each(|c| fmt::Write::write_char(f, c)),
        }
    }
}

impl fmt::Debug for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        self.chars()
            .flat_map(char::escape_debug)
            .try_for_each(|c| fmt::Write::write_char(f, c))?;
        f.write_str("\"")
    }
}

impl<'a> From<&'a str> for JsonStr<'a> {
    fn from(s: &'a str) -> Self {
        JsonStr::new(s)
    }
}

/// The decoded characters of a [`JsonStr`].
#[derive(Clone, Debug)]
pub struct Chars<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    escaped: bool,
}

impl Chars<'_> {
    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0u32;
        for i in 0..4 {
            v = (v << 4) | u32::from(hex_digit(*self.s.get(at + i)?)?);
        }
        Some(v)
    }
}

impl Iterator for Chars<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        let rest = self.text.get(self.pos..)?;
        let c = rest.chars().next()?;
        if c != '\\' || !self.escaped {
            self.pos += c.len_utf8();
            return Some(c);
        }
        let e = *self.s.get(self.pos + 1)?;
        self.pos += 2;
        let simple = match e {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4(self.pos)?;
                self.pos += 4;
                if (0xD800..0xDC00).contains(&hi) {
                    // Validated input guarantees the low half follows as `\uXXXX`.
                    let lo = self.hex4(self.pos + 2)?;
                    self.pos += 6;
                    return char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00));
                }
                return char::from_u32(hi);
            }
            _ => return None,
        };
        Some(simple)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Limits, parse};

    #[test]
    fn walks_objects_and_arrays() {
        let doc = br#" { "a" : [ 1 , "x" , { "b" : true } ] , "c\u0064" : null , "e":{} } "#;
        let v = parse(doc, &Limits::DEFAULT).unwrap();
        let o = v.as_object().unwrap();
        let keys: Vec<String> = o.members().map(|(k, _)| k.to_string()).collect();
        assert_eq!(keys, ["a", "cd", "e"]);
        let a = o.get("a").unwrap().as_array().unwrap();
        let items: Vec<&str> = a.iter().map(|v| v.raw()).collect();
        assert_eq!(items, ["1", "\"x\"", "{ \"b\" : true }"]);
        assert!(o.get("cd").unwrap().is_null());
        assert!(o.get("e").unwrap().as_object().unwrap().is_empty());
        assert_eq!(o.len(), 3);
        assert!(o.get("zz").is_none());
    }

    #[test]
    fn decodes_escapes() {
        let v = parse(br#""a\"b\\c\/\n\u00e9\ud83d\ude00""#, &Limits::DEFAULT).unwrap();
        let s = v.as_str().unwrap();
        assert_eq!(s.to_string(), "a\"b\\c/\n\u{e9}\u{1F600}");
        assert_eq!(s.len(), "a\"b\\c/\n\u{e9}\u{1F600}".len());
        let mut buf = [0u8; 64];
        assert_eq!(
            s.unescape_into(&mut buf).unwrap(),
            "a\"b\\c/\n\u{e9}\u{1F600}"
        );
        assert_eq!(s.unescape_into(&mut [0u8; 3]).unwrap_err().needed, s.len());
        assert!(s.as_str().is_none());
    }
}
