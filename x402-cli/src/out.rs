//! Output: JSON for scripts (`--json`) and indented JSON for people.
//!
//! Documents received from peers are printed through the core's strict reader,
//! member order kept; the command's own reports are built with [`J`].

use std::fmt::Write as _;

use paywire::error::JsonType;
use paywire::json::{self, JsonStr, JsonValue, Limits};

/// A JSON value built by the CLI for its own reports.
#[derive(Debug, Clone)]
pub(crate) enum J {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An unsigned integer.
    Num(u64),
    /// A string.
    Str(String),
    /// JSON text produced elsewhere (a decoded document), inserted as is.
    Raw(String),
    /// An array.
    Arr(Vec<J>),
    /// An object, members in order.
    Obj(Vec<(String, J)>),
}

impl J {
    pub(crate) fn str(s: impl AsRef<str>) -> J {
        J::Str(s.as_ref().to_string())
    }

    pub(crate) fn obj(members: Vec<(&str, J)>) -> J {
        J::Obj(
            members
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    /// JSON bytes produced by the core (valid by construction), or `null` if not UTF-8.
    pub(crate) fn raw(bytes: &[u8]) -> J {
        match std::str::from_utf8(bytes) {
            Ok(s) => J::Raw(s.to_string()),
            Err(_) => J::Null,
        }
    }

    /// Compact JSON text.
    pub(crate) fn compact(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }

    fn write(&self, s: &mut String) {
        match self {
            J::Null => s.push_str("null"),
            J::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => {
                let _ = write!(s, "{n}");
            }
            J::Str(t) => s.push_str(&quote(t)),
            J::Raw(r) => s.push_str(r),
            J::Arr(items) => {
                s.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    item.write(s);
                }
                s.push(']');
            }
            J::Obj(members) => {
                s.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    s.push_str(&quote(k));
                    s.push(':');
                    v.write(s);
                }
                s.push('}');
            }
        }
    }
}

/// A JSON string literal for `text`, escaped as the core escapes.
pub(crate) fn quote(text: &str) -> String {
    let mut v: Vec<u8> = Vec::with_capacity(text.len() + 2);
    let _ = json::write_escaped(&mut v, JsonStr::new(text));
    String::from_utf8(v).unwrap_or_default()
}

/// Re-indents JSON text (two spaces, member order kept). Text that is not JSON
/// is returned as it is.
pub(crate) fn pretty(text: &[u8]) -> String {
    let limits = Limits {
        max_len: 1 << 20,
        ..Limits::DEFAULT
    };
    match json::parse(text, &limits) {
        Ok(v) => {
            let mut s = String::new();
            write_pretty(&mut s, v, 0);
            s
        }
        Err(_) => String::from_utf8_lossy(text).into_owned(),
    }
}

fn write_pretty(s: &mut String, v: JsonValue<'_>, depth: usize) {
    let pad = |s: &mut String, d: usize| {
        s.push('\n');
        for _ in 0..d {
            s.push_str("  ");
        }
    };
    match v.json_type() {
        JsonType::Object => {
            let Some(o) = v.as_object() else { return };
            if o.is_empty() {
                s.push_str("{}");
                return;
            }
            s.push('{');
            for (i, (k, val)) in o.members().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                pad(s, depth + 1);
                s.push_str(&quote(&k.to_cow()));
                s.push_str(": ");
                write_pretty(s, val, depth + 1);
            }
            pad(s, depth);
            s.push('}');
        }
        JsonType::Array => {
            let Some(a) = v.as_array() else { return };
            if a.is_empty() {
                s.push_str("[]");
                return;
            }
            s.push('[');
            for (i, el) in a.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                pad(s, depth + 1);
                write_pretty(s, el, depth + 1);
            }
            pad(s, depth);
            s.push(']');
        }
        JsonType::String => match v.as_str() {
            Some(t) => s.push_str(&quote(&t.to_cow())),
            None => s.push_str(v.raw()),
        },
        _ => s.push_str(v.raw()),
    }
}

/// Indents every line of `text` by `n` spaces.
pub(crate) fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `0x` and lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * bytes.len());
    s.push_str("0x");
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// An amount of a 6-decimal token (USDC) for people: `10000` → `0.010000`.
pub(crate) fn usdc(atomic: &paywire::Amount) -> String {
    match atomic.to_u64() {
        Some(n) => format!("{}.{:06}", n / 1_000_000, n % 1_000_000),
        None => format!("{atomic} atomic units"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pretty_keeps_order_and_escapes() {
        let p = pretty(br#"{"b":1,"a":["x\"y",{}],"c":{"d":null}}"#);
        assert_eq!(
            p,
            "{\n  \"b\": 1,\n  \"a\": [\n    \"x\\\"y\",\n    {}\n  ],\n  \"c\": {\n    \"d\": null\n  }\n}"
        );
    }

    #[test]
    fn builder() {
        let j = J::obj(vec![
            ("s", J::str("a\nb")),
            ("n", J::Num(3)),
            ("r", J::Raw("{\"x\":true}".into())),
            ("l", J::Arr(vec![J::Bool(false), J::Null])),
        ]);
        assert_eq!(
            j.compact(),
            r#"{"s":"a\nb","n":3,"r":{"x":true},"l":[false,null]}"#
        );
    }

    #[test]
    fn usdc_format() {
        assert_eq!(usdc(&10_000u64.into()), "0.010000");
        assert_eq!(usdc(&1_250_000u64.into()), "1.250000");
    }
}
