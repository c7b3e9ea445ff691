//! Checks shared by the fuzz targets: what every accepted document must satisfy
//! (its encoding is strict compact JSON of the announced length, decodes again,
//! and is a fixed point), and what every rejection must carry.

pub mod reference;

use paywire::json::{self, JsonValue, Limits, SliceSink, ToJson};
use paywire::{Error, Reason};

/// The time the verification targets run at (the vectors' `now`).
pub const NOW: u64 = 1_750_000_000;

/// Limits generous enough for anything a target re-reads.
pub const WIDE: Limits = Limits {
    max_len: 1 << 20,
    max_depth: 32,
};

/// The compact form of a strict JSON document (`write_compact`), if it is one.
#[must_use]
pub fn compact(bytes: &[u8], limits: &Limits) -> Option<Vec<u8>> {
    let v = json::parse(bytes, limits).ok()?;
    let mut out = Vec::with_capacity(bytes.len());
    json::write_compact(&mut out, v).ok()?;
    Some(out)
}

/// Whether a `null` occurs anywhere in the value (typed decoders read a `null`
/// member as absent, so re-encoding drops it).
#[must_use]
pub fn has_null(v: JsonValue<'_>) -> bool {
    if v.is_null() {
        return true;
    }
    if let Some(o) = v.as_object() {
        return o.members().any(|(_, m)| has_null(m));
    }
    if let Some(a) = v.as_array() {
        return a.iter().any(has_null);
    }
    false
}

/// Encodes a value and checks the encoder's contract: the announced length is
/// exact, a buffer one byte short is refused with that length, and the output is
/// strict JSON already in compact form.
///
/// # Panics
/// When the contract is broken.
#[must_use]
pub fn encode_checked(doc: &dyn ToJson) -> Vec<u8> {
    let v = doc.to_json_vec();
    assert_eq!(
        doc.encoded_len(),
        v.len(),
        "encoded_len disagrees with the output"
    );
    let mut exact = vec![0u8; v.len()];
    assert_eq!(doc.encode_into(&mut exact), Ok(v.len()));
    assert_eq!(exact, v, "encode_into differs from to_json_vec");
    if let Some(short) = v.len().checked_sub(1) {
        let mut small = vec![0u8; short];
        let err = doc
            .encode_into(&mut small)
            .expect_err("a short buffer must be refused");
        assert_eq!(err.needed, v.len(), "BufferTooSmall must announce the size");
    }
    let back = compact(&v, &WIDE).unwrap_or_else(|| {
        panic!(
            "the encoder wrote something that is not strict JSON: {}",
            String::from_utf8_lossy(&v)
        )
    });
    assert_eq!(back, v, "the encoder's output is not in compact form");
    v
}

/// Every rejection carries a known reason string and a message for people.
///
/// # Panics
/// When it does not.
pub fn check_error(e: &Error) {
    let reason = e.reason();
    assert_eq!(Reason::from_wire(reason.as_str()), Some(reason));
    assert!(!e.to_string().is_empty());
    let _ = e.field();
    let _ = e.object();
}

/// Writes a value into a fixed buffer through a [`SliceSink`] (the allocation-free
/// path), and checks it agrees with the `Vec` path.
///
/// # Panics
/// When the two paths disagree.
pub fn check_slice_sink(doc: &dyn ToJson, expected: &[u8]) {
    let mut buf = vec![0u8; expected.len()];
    let mut sink = SliceSink::new(&mut buf);
    assert!(doc.write_json(&mut sink).is_ok());
    assert_eq!(sink.len(), expected.len());
    assert_eq!(buf, expected);
}

/// Decodes a document of type `$t` from `$bytes` under `$limits` and checks the
/// round trip:
/// - the encoding is strict compact JSON of the announced length ([`encode_checked`]);
/// - it decodes again, and re-encodes to the same bytes (a fixed point);
/// - decode → encode → decode is the identity: the compact form of the input
///   decodes to a value equal to the re-decoded one;
/// - with `exact`, when the input holds no `null`, the encoding is the input's
///   compact form byte for byte (nothing is lost, reordered or rewritten).
///
/// Evaluates to `Some(encoding)` when the input was accepted.
#[macro_export]
macro_rules! roundtrip {
    ($t:ty, $bytes:expr, $limits:expr, exact = $exact:expr) => {{
        use paywire::json::ToJson as _;
        use paywire::types::FromJson as _;
        let bytes: &[u8] = $bytes;
        let limits: paywire::json::Limits = $limits;
        match <$t>::from_json_bytes(bytes, &limits) {
            Err(e) => {
                $crate::check_error(&e);
                None
            }
            Ok(a) => {
                let enc = $crate::encode_checked(&a);
                let b = <$t>::from_json_bytes(&enc, &limits).unwrap_or_else(|e| {
                    panic!(
                        "{}: re-encoding does not decode: {e}\ninput:  {}\nencoded: {}",
                        stringify!($t),
                        String::from_utf8_lossy(bytes),
                        String::from_utf8_lossy(&enc)
                    )
                });
                assert_eq!(
                    enc,
                    b.to_json_vec(),
                    "{}: encode is not a fixed point",
                    stringify!($t)
                );
                let c = $crate::compact(bytes, &limits).expect("an accepted input is strict JSON");
                let ac = <$t>::from_json_bytes(&c, &limits).unwrap_or_else(|e| {
                    panic!("{}: the compact form is refused: {e}", stringify!($t))
                });
                let parsed = paywire::json::parse(&c, &limits).expect("compact parses");
                if !$crate::has_null(parsed) {
                    assert!(
                        ac == b,
                        "{}: decode -> encode -> decode changed the value\ninput:   {}\nencoded: {}",
                        stringify!($t),
                        String::from_utf8_lossy(&c),
                        String::from_utf8_lossy(&enc)
                    );
                    if $exact {
                        assert_eq!(
                            String::from_utf8_lossy(&enc),
                            String::from_utf8_lossy(&c),
                            "{}: re-encoding differs from the input's compact form",
                            stringify!($t)
                        );
                    }
                }
                Some(enc)
            }
        }
    }};
}
