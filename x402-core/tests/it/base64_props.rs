//! The header codec's base64 decoder against an independent one (the `base64`
//! crate's standard engine, which also requires canonical padding and zero
//! trailing bits): the same texts are accepted, with the same bytes.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use paywire::header;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

fn ours(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; header::base64_decoded_len(text.len())];
    let n = header::base64_decode(text, &mut out).ok()?;
    out.truncate(n);
    Some(out)
}

fn check(text: &[u8]) -> Result<(), TestCaseError> {
    let theirs = STANDARD.decode(text).ok();
    prop_assert_eq!(ours(text), theirs, "{:?}", String::from_utf8_lossy(text));
    Ok(())
}

/// Mostly alphabet characters and padding, sometimes anything.
fn text() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".to_vec()),
        1 => Just(b'='),
        1 => any::<u8>(),
    ];
    vec(byte, 0..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8192))]

    #[test]
    fn decodes_what_an_independent_decoder_decodes(t in text()) {
        check(&t)?;
    }

    #[test]
    fn decodes_every_encoding(bytes in vec(any::<u8>(), 0..100)) {
        let text = STANDARD.encode(&bytes);
        prop_assert_eq!(ours(text.as_bytes()), Some(bytes));
        check(text.as_bytes())?;
    }

    /// One character of a valid encoding replaced: refused or decoded alike.
    #[test]
    fn one_changed_character(bytes in vec(any::<u8>(), 1..60), at in any::<usize>(), c in any::<u8>()) {
        let mut text = STANDARD.encode(&bytes).into_bytes();
        let i = at % text.len();
        text[i] = c;
        check(&text)?;
    }
}
