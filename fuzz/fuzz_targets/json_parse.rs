//! The strict JSON reader against serde_json, an independent parser:
//! - what this reader accepts, serde_json accepts too (but for numbers beyond
//!   f64, which serde_json refuses and this reader keeps as text), with the same
//!   value: every object, key, string (after unescaping), number and literal;
//! - `write_compact` is idempotent and its output is read back as the same value;
//! - the reader refuses duplicate keys, which serde_json silently merges.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::json::{self, JsonValue, Limits};
use serde_json::Value;

/// Compares a view of this reader with serde_json's value, recursively.
fn same(ours: JsonValue<'_>, theirs: &Value) {
    match theirs {
        Value::Null => assert!(ours.is_null()),
        Value::Bool(b) => assert_eq!(ours.as_bool(), Some(*b)),
        Value::Number(n) => {
            let raw = ours.raw();
            let reparsed: Value = serde_json::from_str(raw).expect("a number serde_json read");
            assert_eq!(&reparsed, theirs, "number {raw}");
            if let Some(u) = ours.as_u64() {
                assert_eq!(n.as_u64(), Some(u), "as_u64 of {raw}");
            }
        }
        Value::String(s) => {
            let js = ours.as_str().expect("a string");
            assert_eq!(js.to_cow(), s.as_str());
            assert_eq!(js.len(), s.len());
            assert_eq!(js.is_empty(), s.is_empty());
            assert!(js.chars().eq(s.chars()));
            let mut buf = vec![0u8; s.len()];
            assert_eq!(js.unescape_into(&mut buf).ok(), Some(s.as_str()));
            if let Some(short) = s.len().checked_sub(1) {
                let mut small = vec![0u8; short];
                assert!(js.unescape_into(&mut small).is_err());
            }
        }
        Value::Array(items) => {
            let a = ours.as_array().expect("an array");
            assert_eq!(a.len(), items.len());
            assert_eq!(a.is_empty(), items.is_empty());
            for (x, y) in a.iter().zip(items) {
                same(x, y);
            }
        }
        Value::Object(map) => {
            let o = ours.as_object().expect("an object");
            // No duplicates were accepted, so the member counts agree.
            assert_eq!(o.len(), map.len());
            assert_eq!(o.is_empty(), map.is_empty());
            for (k, v) in o.members() {
                let key = k.to_cow();
                let theirs = map.get(key.as_ref()).expect("the same keys");
                same(v, theirs);
                let got = o.get(&key).expect("get finds every member");
                assert_eq!(got.raw(), v.raw());
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits::DEFAULT;
    let theirs = serde_json::from_slice::<Value>(data);
    let ours = match json::parse(data, &limits) {
        Ok(v) => v,
        Err(_) => return,
    };
    let compact = paywire_fuzz::compact(data, &limits).expect("accepted input writes compactly");
    assert!(
        compact.len() <= data.len(),
        "compact form is longer than the input"
    );
    match &theirs {
        Ok(value) => {
            same(ours, value);
            let back: Value = serde_json::from_slice(&compact).expect("serde_json reads compact");
            assert_eq!(&back, value, "write_compact changed the value");
        }
        Err(e) => {
            // serde_json refuses numbers it cannot hold in an f64; nothing else.
            assert!(
                e.to_string().contains("number out of range"),
                "accepted what serde_json refuses ({e}): {}",
                String::from_utf8_lossy(data)
            );
        }
    }
    // write_compact is idempotent.
    let again = paywire_fuzz::compact(&compact, &limits).expect("compact form parses");
    assert_eq!(again, compact, "write_compact is not idempotent");
    // The typed view of the compact form has the same shape.
    let reparsed = json::parse(&compact, &limits).expect("compact form parses");
    assert_eq!(reparsed.json_type(), ours.json_type());
});
