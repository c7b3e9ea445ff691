//! Compact JSON output into any [`Sink`]: a caller's slice, a byte counter, a
//! base64 encoder, or (with `alloc`) a `Vec<u8>`.

use core::fmt;

use super::value::{JsonStr, JsonValue};
use crate::error::JsonType;

/// The sink is full. Sinks are infallible otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SinkFull;

/// A caller's buffer was too small; `needed` is the exact size that would have sufficed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BufferTooSmall {
    /// Bytes needed.
    pub needed: usize,
}

impl fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "output buffer too small: {} bytes needed", self.needed)
    }
}

impl core::error::Error for BufferTooSmall {}

/// Where encoders write bytes.
pub trait Sink {
    /// Appends `bytes`.
    ///
    /// # Errors
    /// [`SinkFull`] when a bounded sink has no room; nothing is written then.
    fn put(&mut self, bytes: &[u8]) -> Result<(), SinkFull>;
}

impl<S: Sink + ?Sized> Sink for &mut S {
    fn put(&mut self, bytes: &[u8]) -> Result<(), SinkFull> {
        (**self).put(bytes)
    }
}

/// Writes into a caller's slice.
#[derive(Debug)]
pub struct SliceSink<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> SliceSink<'b> {
    /// An empty sink over `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        SliceSink { buf, len: 0 }
    }

    /// Bytes written so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The written part of the buffer.
    #[must_use]
    pub fn into_written(self) -> &'b mut [u8] {
        let len = self.len;
        self.buf.get_mut(..len).unwrap_or_default()
    }
}

impl Sink for SliceSink<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), SinkFull> {
        let end = self.len.checked_add(bytes.len()).ok_or(SinkFull)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(SinkFull)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

/// Counts bytes; used to tell a caller the size it needs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counter(pub usize);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) -> Result<(), SinkFull> {
        self.0 = self.0.saturating_add(bytes.len());
        Ok(())
    }
}

#[cfg(feature = "alloc")]
impl Sink for alloc::vec::Vec<u8> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), SinkFull> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

/// A value that writes itself as compact JSON.
pub trait ToJson {
    /// Writes compact JSON (no insignificant whitespace) into `out`.
    ///
    /// # Errors
    /// [`SinkFull`] from the sink.
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull>;

    /// Encodes into `buf`, returning the length written.
    ///
    /// # Errors
    /// [`BufferTooSmall`] with the exact size needed; `buf` may then hold a prefix.
    fn encode_into(&self, buf: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let mut sink = SliceSink::new(buf);
        match self.write_json(&mut sink) {
            Ok(()) => Ok(sink.len()),
            Err(SinkFull) => Err(BufferTooSmall {
                needed: self.encoded_len(),
            }),
        }
    }

    /// The exact length of the compact encoding.
    fn encoded_len(&self) -> usize {
        let mut c = Counter(0);
        // A counter never fills.
        let _ = self.write_json(&mut c);
        c.0
    }

    /// Encodes into a new `Vec<u8>`.
    #[cfg(feature = "alloc")]
    fn to_json_vec(&self) -> alloc::vec::Vec<u8> {
        let mut v = alloc::vec::Vec::with_capacity(256);
        let _ = self.write_json(&mut v);
        v
    }

    /// Encodes into a new `String`.
    #[cfg(feature = "alloc")]
    fn to_json_string(&self) -> alloc::string::String {
        // Our writer only ever emits UTF-8.
        alloc::string::String::from_utf8(self.to_json_vec()).unwrap_or_default()
    }
}

impl ToJson for JsonValue<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        write_compact(out, *self)
    }
}

impl ToJson for JsonStr<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        write_escaped(out, *self)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `s` as a JSON string literal, escaped the way `JSON.stringify` escapes:
/// `"` and `\` with a backslash, `\b \f \n \r \t` by name, other controls as
/// `\u00xx`, everything else as UTF-8.
///
/// # Errors
/// [`SinkFull`] from the sink.
pub fn write_escaped(out: &mut dyn Sink, s: JsonStr<'_>) -> Result<(), SinkFull> {
    out.put(b"\"")?;
    match s.as_str() {
        Some(text) => write_escaped_text(out, text)?,
        None => {
            let mut buf = [0u8; 4];
            for c in s.chars() {
                write_escaped_text(out, c.encode_utf8(&mut buf))?;
            }
        }
    }
    out.put(b"\"")
}

fn write_escaped_text(out: &mut dyn Sink, text: &str) -> Result<(), SinkFull> {
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => &[],
            _ => continue,
        };
        out.put(bytes.get(start..i).unwrap_or_default())?;
        if esc.is_empty() {
            let hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
            let lo = HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0');
            out.put(&[b'\\', b'u', b'0', b'0', hi, lo])?;
        } else {
            out.put(esc)?;
        }
        start = i + 1;
    }
    out.put(bytes.get(start..).unwrap_or_default())
}

/// Re-emits a validated value compactly: whitespace dropped, strings re-escaped
/// canonically, numbers and literals kept as written, member order kept.
///
/// # Errors
/// [`SinkFull`] from the sink.
pub fn write_compact(out: &mut dyn Sink, v: JsonValue<'_>) -> Result<(), SinkFull> {
    match v.json_type() {
        JsonType::Object => {
            let mut w = ObjectWriter::new(out)?;
            if let Some(o) = v.as_object() {
                for (k, val) in o.members() {
                    w.key(k)?;
                    write_compact(w.sink(), val)?;
                }
            }
            w.end()
        }
        JsonType::Array => {
            out.put(b"[")?;
            if let Some(a) = v.as_array() {
                for (i, el) in a.iter().enumerate() {
                    if i > 0 {
                        out.put(b",")?;
                    }
                    write_compact(out, el)?;
                }
            }
            out.put(b"]")
        }
        JsonType::String => match v.as_str() {
            Some(s) => write_escaped(out, s),
            None => out.put(v.raw().as_bytes()),
        },
        _ => out.put(v.raw().as_bytes()),
    }
}

/// Writes an object member by member, placing the commas.
///
/// ```
/// use paywire::json::{ObjectWriter, SliceSink, JsonStr};
/// let mut buf = [0u8; 64];
/// let mut sink = SliceSink::new(&mut buf);
/// let mut w = ObjectWriter::new(&mut sink).unwrap();
/// w.str_field("scheme", JsonStr::new("exact")).unwrap();
/// w.u64_field("maxTimeoutSeconds", 60).unwrap();
/// w.end().unwrap();
/// assert_eq!(sink.into_written(), br#"{"scheme":"exact","maxTimeoutSeconds":60}"#);
/// ```
pub struct ObjectWriter<'s> {
    out: &'s mut dyn Sink,
    first: bool,
}

impl<'s> ObjectWriter<'s> {
    /// Opens the object.
    ///
    /// # Errors
    /// [`SinkFull`] from the sink.
    pub fn new(out: &'s mut dyn Sink) -> Result<Self, SinkFull> {
        out.put(b"{")?;
        Ok(ObjectWriter { out, first: true })
    }

    /// The underlying sink, to write a member's value after [`ObjectWriter::key`].
    pub fn sink(&mut self) -> &mut dyn Sink {
        self.out
    }

    /// Writes `,"key":` (no comma before the first member).
    ///
    /// # Errors
    /// [`SinkFull`] from the sink.
    pub fn key(&mut self, key: JsonStr<'_>) -> Result<(), SinkFull> {
        if !self.first {
            self.out.put(b",")?;
        }
        self.first = false;
        write_escaped(self.out, key)?;
        self.out.put(b":")
    }

    /// A member whose value is any [`ToJson`].
    ///
    /// # Errors
    /// [`SinkFull`] from the sink.
    pub fn field(&mut self, key: &str, value: &dyn ToJson) -> Result<(), SinkFull> {
        self.key(JsonStr::new(key))?;
        value.write_json(self.out)
    }

    /// A member whose value is a string.
    ///
    /// # Errors
    /// [`SinkFull`] from the sink.
    pub fn str_field(&mut self, key: &str, value: JsonStr<'_>) -> Result<(), SinkFull> {
        self.key(JsonStr::new(key))?;
        write_escaped(self.out, value)
    }

    /// A member whose value is a string, if present.
    ///
    /// # Errors
    /// [`SinkFull`] from the sink.
    pub fn opt_str_field(&mut self, key: &str, value: Option<JsonStr<'_>>) -> Result<(), SinkFull> {
        match value {
            Some(v) => self.str_field(key, v),
            None => Ok(()),
        }
    }

    /// A member whose value is a non-negative integer.
    ///
    /// # Errors
    /// [`SinkFull`] from the sink.
    pub fn u64_field(&mut self, key: &str, value: u64) -> Result<(), SinkFull> {
        self.key(JsonStr::new(key))?;
        write_u64(self.out, value)
    }

    /// A member whose value is a boolean.
    ///
    /// # Errors
    /// [`SinkFull`] from the sink.
    pub fn bool_field(&mut self, key: &str, value: bool) -> Result<(), SinkFull> {
        self.key(JsonStr::new(key))?;
        self.out.put(if value { b"true" } else { b"false" })
    }

    /// A member whose value is received JSON, re-emitted compactly.
    ///
    /// # Errors
    /// [`SinkFull`] from the sink.
    pub fn value_field(&mut self, key: JsonStr<'_>, value: JsonValue<'_>) -> Result<(), SinkFull> {
        self.key(key)?;
        write_compact(self.out, value)
    }

    /// Closes the object.
    ///
    /// # Errors
    /// [`SinkFull`] from the sink.
    pub fn end(self) -> Result<(), SinkFull> {
        self.out.put(b"}")
    }
}

/// Writes a decimal integer.
///
/// # Errors
/// [`SinkFull`] from the sink.
pub(crate) fn write_u64(out: &mut dyn Sink, mut v: u64) -> Result<(), SinkFull> {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(d) = buf.get_mut(i) {
            *d = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.put(buf.get(i..).unwrap_or_default())
}

impl ToJson for u64 {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        write_u64(out, *self)
    }
}

impl ToJson for bool {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        out.put(if *self { b"true" } else { b"false" })
    }
}

impl ToJson for str {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        write_escaped(out, JsonStr::new(self))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Limits, parse};
    use super::*;

    fn compact(s: &str) -> String {
        let v = parse(s.as_bytes(), &Limits::DEFAULT).unwrap();
        v.to_json_string()
    }

    #[test]
    fn compacts_like_json_stringify() {
        assert_eq!(
            compact(" { \"a\" : [ 1 , 2.50 ] , \"b\" : { } } "),
            r#"{"a":[1,2.50],"b":{}}"#
        );
        assert_eq!(compact(r#""\u0041\/\u00e9\u001F""#), "\"A/\u{e9}\\u001f\"");
        assert_eq!(
            compact(r#""tab\tquote\"back\\""#),
            r#""tab\tquote\"back\\""#
        );
    }

    #[test]
    fn slice_sink_reports_needed_size() {
        let v = parse(br#"{"k":"v"}"#, &Limits::DEFAULT).unwrap();
        let mut small = [0u8; 4];
        assert_eq!(v.encode_into(&mut small), Err(BufferTooSmall { needed: 9 }));
        let mut ok = [0u8; 9];
        assert_eq!(v.encode_into(&mut ok), Ok(9));
        assert_eq!(v.encoded_len(), 9);
    }

    #[test]
    fn writes_integers() {
        for n in [0u64, 7, 10, 12345, u64::MAX] {
            assert_eq!(n.to_json_string(), n.to_string());
        }
    }
}
