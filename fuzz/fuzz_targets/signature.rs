//! Signatures against an independent model and an independent implementation:
//! - `Signature::from_bytes` accepts exactly what Ethereum's rules accept (65
//!   bytes, v of 27/28 or 0/1, r and s in [1, n-1], s ≤ n/2) and refuses the rest
//!   with the right error;
//! - what it accepts recovers the same address as libsecp256k1 (or fails where
//!   libsecp256k1 fails), and the high-s twin of an accepted signature (s → n-s,
//!   v flipped) is refused as high-s though it recovers the same key;
//! - `to_bytes`/`to_hex` round-trip through `from_bytes`/`parse_hex`;
//! - `parse_hex` reads the same signature from plain, upper-case and
//!   JSON-escaped text.
//!
//! Input: a 32-byte digest, then the signature bytes; the whole input is also
//! tried as hex text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::evm::{Signature, SignatureError};
use paywire::json::{self, JsonStr, Limits};
use paywire_fuzz::reference::{HALF_ORDER, ORDER, negate_scalar, recover};

/// Ethereum's rules, written out.
fn model(b: &[u8]) -> Result<(), SignatureError> {
    match b.len() {
        65 => {}
        64 => return Err(SignatureError::Compact),
        _ => return Err(SignatureError::Length),
    }
    if !matches!(b[64], 0 | 1 | 27 | 28) {
        return Err(SignatureError::BadV);
    }
    let r: [u8; 32] = b[..32].try_into().unwrap();
    let s: [u8; 32] = b[32..64].try_into().unwrap();
    if r == [0; 32] || s == [0; 32] || r >= ORDER || s >= ORDER {
        return Err(SignatureError::OutOfRange);
    }
    if s > HALF_ORDER {
        return Err(SignatureError::HighS);
    }
    Ok(())
}

fn hex(b: &[u8]) -> String {
    let mut s = String::from("0x");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

fn check_bytes(digest: &[u8; 32], b: &[u8]) {
    let ours = Signature::from_bytes(b);
    assert_eq!(ours.map(|_| ()), model(b), "policy differs for {}", hex(b));
    // parse_hex of the same bytes decides the same.
    let text = hex(b);
    let from_text = Signature::parse_hex(JsonStr::new(&text));
    assert_eq!(from_text, ours, "parse_hex differs from from_bytes");
    let upper = format!("0x{}", text[2..].to_ascii_uppercase());
    assert_eq!(Signature::parse_hex(JsonStr::new(&upper)), ours);
    let Ok(sig) = ours else {
        if ours == Err(SignatureError::HighS) {
            // The low-s twin is accepted and recovers the same key.
            let s: [u8; 32] = b[32..64].try_into().unwrap();
            let mut twin = b.to_vec();
            twin[32..64].copy_from_slice(&negate_scalar(&s));
            twin[64] = if matches!(b[64], 0 | 27) { 28 } else { 27 };
            let low = Signature::from_bytes(&twin).expect("the low-s twin is accepted");
            let odd = matches!(b[64], 1 | 28);
            assert_eq!(
                low.recover(digest).ok().map(|a| a.0),
                recover(&b[..64], odd, digest),
                "the twins recover different keys"
            );
        }
        return;
    };
    // Normalised encodings.
    let bytes = sig.to_bytes();
    assert_eq!(&bytes[..64], &b[..64]);
    assert_eq!(bytes[64], if matches!(b[64], 1 | 28) { 28 } else { 27 });
    assert_eq!(sig.v(), bytes[64]);
    assert_eq!(Signature::from_bytes(&bytes), Ok(sig));
    let h = sig.to_hex();
    assert_eq!(h.as_str(), hex(&bytes));
    assert_eq!(Signature::parse_hex(JsonStr::new(h.as_str())), Ok(sig));
    // Recovery agrees with libsecp256k1.
    let odd = bytes[64] == 28;
    let theirs = recover(&b[..64], odd, digest);
    let ours = sig.recover(digest).ok().map(|a| a.0);
    assert_eq!(
        ours,
        theirs,
        "recovery differs from libsecp256k1 for {}",
        hex(b)
    );
    if ours.is_none() {
        assert_eq!(sig.recover(digest), Err(SignatureError::Unrecoverable));
    }
    // The high-s twin is refused.
    let s: [u8; 32] = b[32..64].try_into().unwrap();
    let mut twin = bytes;
    twin[32..64].copy_from_slice(&negate_scalar(&s));
    twin[64] = if odd { 27 } else { 28 };
    if twin[32..64] != b[32..64] {
        assert_eq!(Signature::from_bytes(&twin), Err(SignatureError::HighS));
        assert_eq!(
            recover(&twin[..64], !odd, digest),
            theirs,
            "twin recovers another key"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() >= 32 {
        let digest: [u8; 32] = data[..32].try_into().unwrap();
        check_bytes(&digest, &data[32..]);
    }
    // The whole input as text, plain and as the inside of a JSON string.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let plain = Signature::parse_hex(JsonStr::new(text));
    let is_hex = text
        .strip_prefix("0x")
        .is_some_and(|d| d.bytes().all(|c| c.is_ascii_hexdigit()) && d.len() % 2 == 0);
    if !is_hex {
        assert_eq!(plain, Err(SignatureError::NotHex), "{text:?}");
    }
    if let Ok(sig) = plain {
        assert!(is_hex);
        assert_eq!(sig.to_hex().as_str(), {
            let mut b = paywire_fuzz::reference::hex_bytes(text).unwrap();
            b[64] = sig.v();
            hex(&b)
        });
    }
    let quoted = format!("\"{text}\"");
    if let Ok(v) = json::parse(quoted.as_bytes(), &Limits::DEFAULT) {
        let s = v.as_str().expect("a string");
        let unescaped = s.to_cow();
        assert_eq!(
            Signature::parse_hex(s),
            Signature::parse_hex(JsonStr::new(&unescaped))
        );
    }
});
