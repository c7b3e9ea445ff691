//! EVM addresses: `Address::parse` accepts `0x` + 40 hex digits that are all
//! lower case, all upper case, or mixed case with a valid EIP-55 checksum
//! (computed here independently), and nothing else; what it accepts displays
//! as its EIP-55 form, which parses back to the same address; every case
//! variant of an accepted address parses to it or is refused as a bad checksum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::ErrorKind;
use paywire::evm::{Address, keccak256};

/// EIP-55, from the specification's description.
fn eip55(lower_hex: &str) -> String {
    let hash = keccak256(lower_hex.as_bytes());
    let mut out = String::from("0x");
    for (i, c) in lower_hex.chars().enumerate() {
        let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0xf;
        out.push(if nibble >= 8 {
            c.to_ascii_uppercase()
        } else {
            c
        });
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = Address::parse(s);
    let digits = s.strip_prefix("0x");
    let well_formed =
        digits.is_some_and(|d| d.len() == 40 && d.bytes().all(|b| b.is_ascii_hexdigit()));
    let Some(d) = digits.filter(|_| well_formed) else {
        assert!(
            matches!(parsed, Err(ErrorKind::Hex(_))),
            "{s:?}: {parsed:?}"
        );
        return;
    };
    let lower = d.to_ascii_lowercase();
    let checksummed = eip55(&lower);
    let mixed =
        d.bytes().any(|b| b.is_ascii_lowercase()) && d.bytes().any(|b| b.is_ascii_uppercase());
    if mixed && s != checksummed {
        assert_eq!(parsed, Err(ErrorKind::Checksum), "{s:?}");
        return;
    }
    let a = parsed.unwrap_or_else(|e| panic!("{s:?} refused: {e}"));
    // The bytes are the hex digits.
    let mut bytes = [0u8; 20];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&lower[2 * i..2 * i + 2], 16).unwrap();
    }
    assert_eq!(a.0, bytes);
    // Display is EIP-55, and parses back.
    let shown = a.to_string();
    assert_eq!(shown, checksummed);
    assert_eq!(a.checksummed().as_str(), checksummed);
    assert_eq!(Address::parse(&shown), Ok(a));
    assert_eq!(shown.parse::<Address>(), Ok(a));
    assert_eq!(Address::parse(&format!("0x{lower}")), Ok(a));
    assert_eq!(
        Address::parse(&format!("0x{}", lower.to_ascii_uppercase())),
        Ok(a)
    );
    // The ABI word.
    let w = a.to_word();
    assert_eq!(&w[..12], &[0u8; 12]);
    assert_eq!(&w[12..], &bytes);
    // Flipping the case of one letter of the checksummed form breaks it, unless
    // the result is all one case.
    if let Some(i) = shown[2..].bytes().position(|b| b.is_ascii_alphabetic()) {
        let mut flipped = shown.clone().into_bytes();
        let c = &mut flipped[2 + i];
        *c = if c.is_ascii_uppercase() {
            c.to_ascii_lowercase()
        } else {
            c.to_ascii_uppercase()
        };
        let flipped = String::from_utf8(flipped).unwrap();
        let fd = &flipped[2..];
        let one_case = !(fd.bytes().any(|b| b.is_ascii_lowercase())
            && fd.bytes().any(|b| b.is_ascii_uppercase()));
        let r = Address::parse(&flipped);
        if one_case {
            assert_eq!(r, Ok(a));
        } else {
            assert_eq!(r, Err(ErrorKind::Checksum), "{flipped}");
        }
    }
});
