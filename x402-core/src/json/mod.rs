//! A strict, allocation-free JSON reader and a compact writer.
//!
//! x402 documents travel through several parties (client, resource server,
//! facilitator) written in different languages. If two of them can read the same
//! bytes differently, an attacker can make them disagree about what was paid, so
//! this reader accepts exactly RFC 8259 JSON and refuses what parsers disagree on:
//!
//! - duplicate keys in an object (compared after unescaping, so `"a"` and `"\u0061"` clash);
//! - invalid UTF-8 and escapes of lone UTF-16 surrogates;
//! - anything after the value but whitespace;
//! - nesting deeper than [`Limits::max_depth`], and input longer than [`Limits::max_len`].
//!
//! [`parse`] validates the whole document once; the result is a [`JsonValue`], a
//! borrowed view whose accessors walk the already-validated text. Strings are
//! [`JsonStr`]s: they decode escapes lazily, so no buffer is needed to read them.
//!
//! ```
//! use paywire::json::{parse, Limits};
//! let v = parse(br#"{"scheme":"exact","n":[1,2]}"#, &Limits::DEFAULT).unwrap();
//! let obj = v.as_object().unwrap();
//! assert!(obj.get("scheme").unwrap().as_str().unwrap() == "exact");
//! assert!(parse(br#"{"a":1,"a":2}"#, &Limits::DEFAULT).is_err());
//! ```

mod value;
mod write;

pub use value::{JsonArray, JsonObject, JsonStr, JsonValue, Members};
pub use write::{
    BufferTooSmall, Counter, ObjectWriter, Sink, SinkFull, SliceSink, ToJson, write_compact,
    write_escaped,
};

use crate::error::ErrorKind;

/// Bounds applied before and during parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum document length in bytes.
    pub max_len: usize,
    /// Maximum nesting of arrays and objects.
    pub max_depth: usize,
}

impl Limits {
    /// 16 KiB, 32 levels: far above any real x402 document, far below harm.
    pub const DEFAULT: Limits = Limits {
        max_len: 16 * 1024,
        max_depth: 32,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// How many object members may be open at once (the members of an object and of
/// every object enclosing it). Needed for allocation-free duplicate detection;
/// real x402 documents use a few dozen.
pub const MAX_OPEN_MEMBERS: usize = 256;

/// Validates `input` as one strict JSON document and returns a view of its value.
///
/// # Errors
/// An [`ErrorKind`] naming the first problem and its byte offset.
pub fn parse<'a>(input: &'a [u8], limits: &Limits) -> Result<JsonValue<'a>, ErrorKind> {
    if input.len() > limits.max_len {
        return Err(ErrorKind::TooLarge {
            limit: limits.max_len,
        });
    }
    let text = core::str::from_utf8(input).map_err(|_| ErrorKind::Utf8)?;
    let mut v = Validator {
        s: input,
        pos: 0,
        depth: 0,
        max_depth: limits.max_depth,
        keys: [KeyRef::default(); MAX_OPEN_MEMBERS],
        nkeys: 0,
    };
    v.ws();
    let start = v.pos;
    v.value()?;
    let end = v.pos;
    v.ws();
    if v.pos != input.len() {
        return Err(ErrorKind::TrailingBytes { offset: v.pos });
    }
    text.get(start..end)
        .map(JsonValue::from_validated)
        .ok_or(ErrorKind::Syntax { offset: start })
}

#[derive(Clone, Copy, Default)]
struct KeyRef {
    hash: u32,
    start: u32,
    end: u32,
}

struct Validator<'a> {
    s: &'a [u8],
    pos: usize,
    depth: usize,
    max_depth: usize,
    keys: [KeyRef; MAX_OPEN_MEMBERS],
    nkeys: usize,
}

impl Validator<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn err(&self) -> ErrorKind {
        ErrorKind::Syntax { offset: self.pos }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Result<(), ErrorKind> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err())
        }
    }

    fn value(&mut self) -> Result<(), ErrorKind> {
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(|_| ()),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.err()),
        }
    }

    fn literal(&mut self, lit: &[u8]) -> Result<(), ErrorKind> {
        let end = self.pos + lit.len();
        if self.s.get(self.pos..end) == Some(lit) {
            self.pos = end;
            Ok(())
        } else {
            Err(self.err())
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<(), ErrorKind> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err()),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.err());
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.err());
            }
        }
        Ok(())
    }

    fn hex4(&mut self) -> Result<u16, ErrorKind> {
        let mut v: u16 = 0;
        for _ in 0..4 {
            let d = self.peek().and_then(hex_digit).ok_or_else(|| self.err())?;
            v = (v << 4) | u16::from(d);
            self.pos += 1;
        }
        Ok(v)
    }

    /// Validates a string at `pos` (the opening quote); returns the content range.
    fn string(&mut self) -> Result<(usize, usize), ErrorKind> {
        self.eat(b'"')?;
        let start = self.pos;
        loop {
            // Fast path over plain bytes; UTF-8 validity was checked for the whole input.
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            match self.peek() {
                Some(b'"') => {
                    let end = self.pos;
                    self.pos += 1;
                    return Ok((start, end));
                }
                Some(b'\\') => {
                    let esc_at = self.pos;
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1;
                        }
                        Some(b'u') => {
                            self.pos += 1;
                            let cu = self.hex4()?;
                            if (0xDC00..=0xDFFF).contains(&cu) {
                                return Err(ErrorKind::LoneSurrogate { offset: esc_at });
                            }
                            if (0xD800..=0xDBFF).contains(&cu) {
                                let pair = self.s.get(self.pos..self.pos + 2) == Some(b"\\u");
                                if !pair {
                                    return Err(ErrorKind::LoneSurrogate { offset: esc_at });
                                }
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..=0xDFFF).contains(&lo) {
                                    return Err(ErrorKind::LoneSurrogate { offset: esc_at });
                                }
                            }
                        }
                        _ => return Err(self.err()),
                    }
                }
                // A control character or the end of input.
                _ => return Err(self.err()),
            }
        }
    }

    fn enter(&mut self) -> Result<(), ErrorKind> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(ErrorKind::TooDeep {
                limit: self.max_depth,
            });
        }
        self.pos += 1;
        self.ws();
        Ok(())
    }

    fn array(&mut self) -> Result<(), ErrorKind> {
        self.enter()?;
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.value()?;
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.ws();
                }
                Some(b']') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(self.err()),
            }
        }
    }

    fn object(&mut self) -> Result<(), ErrorKind> {
        self.enter()?;
        let base = self.nkeys;
        let result = self.members(base);
        self.nkeys = base;
        self.depth -= 1;
        result
    }

    fn members(&mut self, base: usize) -> Result<(), ErrorKind> {
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let key_at = self.pos;
            let (start, end) = self.string()?;
            self.check_duplicate(base, start, end, key_at)?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            self.value()?;
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.ws();
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.err()),
            }
        }
    }

    fn key_str(&self, start: usize, end: usize) -> JsonStr<'_> {
        // The range was produced by `string()` on validated UTF-8 at quote boundaries.
        let raw = self
            .s
            .get(start..end)
            .and_then(|b| core::str::from_utf8(b).ok());
        JsonStr::from_validated_raw(raw.unwrap_or(""))
    }

    fn check_duplicate(
        &mut self,
        base: usize,
        start: usize,
        end: usize,
        at: usize,
    ) -> Result<(), ErrorKind> {
        let key = self.key_str(start, end);
        let hash = key.fnv1a();
        let open = self.keys.get(base..self.nkeys).unwrap_or(&[]);
        for k in open {
            if k.hash == hash && self.key_str(k.start as usize, k.end as usize) == key {
                return Err(ErrorKind::DuplicateKey { offset: at });
            }
        }
        let slot = self
            .keys
            .get_mut(self.nkeys)
            .ok_or(ErrorKind::TooManyMembers {
                limit: MAX_OPEN_MEMBERS,
            })?;
        // Documents are bounded by `max_len`, far below 4 GiB; saturate defensively.
        *slot = KeyRef {
            hash,
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        };
        self.nkeys += 1;
        Ok(())
    }
}

pub(crate) fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> bool {
        parse(s.as_bytes(), &Limits::DEFAULT).is_ok()
    }

    fn kind(s: &[u8]) -> ErrorKind {
        match parse(s, &Limits::DEFAULT) {
            Ok(_) => panic!("accepted {:?}", core::str::from_utf8(s)),
            Err(k) => k,
        }
    }

    #[test]
    fn accepts_rfc8259() {
        for s in [
            "0",
            "-0",
            "1.5e-3",
            "1E+2",
            "\"\"",
            "true",
            "null",
            " [ ] ",
            "{}",
            r#"{"a":[1,{"b":null}],"c":"\u00e9\ud83d\ude00"}"#,
            "\"\u{1F600}\"",
        ] {
            assert!(ok(s), "{s}");
        }
    }

    #[test]
    fn rejects_what_parsers_disagree_on() {
        assert!(matches!(
            kind(br#"{"a":1,"a":2}"#),
            ErrorKind::DuplicateKey { offset: 7 }
        ));
        assert!(matches!(
            kind(br#"{"a":1,"\u0061":2}"#),
            ErrorKind::DuplicateKey { .. }
        ));
        assert!(matches!(
            kind(br#"{"a":{"a":1},"b":{"a":1,"a":1}}"#),
            ErrorKind::DuplicateKey { .. }
        ));
        // The same key in sibling objects is fine.
        assert!(ok(r#"[{"a":1},{"a":1}]"#));
        assert!(ok(r#"{"x":{"a":1},"a":{"a":1}}"#));
        assert!(matches!(
            kind(br#""\ud800""#),
            ErrorKind::LoneSurrogate { offset: 1 }
        ));
        assert!(matches!(
            kind(br#""\udc00\ud800""#),
            ErrorKind::LoneSurrogate { .. }
        ));
        assert!(matches!(
            kind(br#""\ud800\u0041""#),
            ErrorKind::LoneSurrogate { .. }
        ));
        assert!(matches!(kind(b"\"\xff\""), ErrorKind::Utf8));
        assert!(matches!(
            kind(b"{} x"),
            ErrorKind::TrailingBytes { offset: 3 }
        ));
        assert!(matches!(kind(b"{}{}"), ErrorKind::TrailingBytes { .. }));
        for bad in [
            "",
            " ",
            "01",
            "1.",
            ".5",
            "+1",
            "1e",
            "-",
            "NaN",
            "Infinity",
            "[1,]",
            "{\"a\":1,}",
            "{'a':1}",
            "\"\t\"",
            "\"\\x\"",
            "\"\\u12\"",
            "[",
            "{\"a\"}",
            "tru",
            "nul",
        ] {
            assert!(!ok(bad), "{bad:?}");
        }
    }

    #[test]
    fn bounds_depth_size_and_members() {
        let deep = "[".repeat(33) + &"]".repeat(33);
        assert_eq!(kind(deep.as_bytes()), ErrorKind::TooDeep { limit: 32 });
        let fine = "[".repeat(32) + &"]".repeat(32);
        assert!(ok(&fine));
        let big = vec![b' '; Limits::DEFAULT.max_len + 1];
        assert_eq!(kind(&big), ErrorKind::TooLarge { limit: 16 * 1024 });
        let mut many = String::from("{");
        for i in 0..=MAX_OPEN_MEMBERS {
            if i > 0 {
                many.push(',');
            }
            many.push_str(&format!("\"k{i}\":0"));
        }
        many.push('}');
        assert_eq!(
            kind(many.as_bytes()),
            ErrorKind::TooManyMembers {
                limit: MAX_OPEN_MEMBERS
            }
        );
    }
}
