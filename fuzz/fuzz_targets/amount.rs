//! Amounts (uint256 decimal strings): `Amount::parse_decimal` accepts exactly the
//! canonical decimals up to 2^256 − 1 (no sign, space, exponent, fraction or
//! leading zero), refusing the rest with the right error; Display gives the
//! input back; the value agrees with a u128 parse when it fits and with an
//! independent big-number parse otherwise; `parse_u64` agrees on u64; order,
//! addition and subtraction agree with u128 arithmetic.
//!
//! Input: one decimal, or two separated by a comma.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::{Amount, ErrorKind};

/// Big-endian bytes of a decimal string with base-2^8 long multiplication, or
/// `None` above 2^256 − 1.
fn reference_be(s: &str) -> Option<[u8; 32]> {
    let mut n = [0u8; 32];
    for d in s.bytes() {
        let mut carry = u32::from(d - b'0');
        for byte in n.iter_mut().rev() {
            let v = u32::from(*byte) * 10 + carry;
            *byte = v as u8;
            carry = v >> 8;
        }
        if carry != 0 {
            return None;
        }
    }
    Some(n)
}

fn canonical(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && !(s.len() > 1 && s.starts_with('0'))
}

fn check(s: &str) -> Option<Amount> {
    let parsed = Amount::parse_decimal(s);
    if !canonical(s) {
        assert!(
            matches!(parsed, Err(ErrorKind::NotCanonical(_))),
            "{s:?}: {parsed:?}"
        );
        assert!(paywire::amount::parse_u64(s).is_err());
        return None;
    }
    let Some(be) = reference_be(s) else {
        assert_eq!(parsed, Err(ErrorKind::Overflow), "{s:?}");
        return None;
    };
    let a = parsed.unwrap_or_else(|e| panic!("{s:?} refused: {e}"));
    assert_eq!(a.to_be_bytes(), be);
    assert_eq!(Amount::from_be_bytes(be), a);
    assert_eq!(a.to_string(), s, "Display is not the input");
    assert_eq!(s.parse::<Amount>(), Ok(a));
    assert_eq!(a.is_zero(), s == "0");
    if let Ok(v) = s.parse::<u128>() {
        assert_eq!(a, Amount::from(v));
    }
    match s.parse::<u64>() {
        Ok(v) => {
            assert_eq!(a, Amount::from(v));
            assert_eq!(a.to_u64(), Some(v));
            assert_eq!(paywire::amount::parse_u64(s), Ok(v));
        }
        Err(_) => {
            assert_eq!(a.to_u64(), None);
            assert_eq!(paywire::amount::parse_u64(s), Err(ErrorKind::Overflow));
        }
    }
    Some(a)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(2, ',');
    let x = parts.next().and_then(check);
    let y = parts.next().and_then(check);
    let (Some(x), Some(y)) = (x, y) else {
        return;
    };
    assert_eq!(x.cmp(&y), x.to_be_bytes().cmp(&y.to_be_bytes()));
    if let (Some(sum), Some(d)) = (x.checked_add(&y), y.checked_sub(&y)) {
        assert_eq!(d, Amount::ZERO);
        assert_eq!(sum.checked_sub(&y), Some(x));
        assert_eq!(sum.checked_sub(&x), Some(y));
    } else {
        assert!(x.checked_add(&y).is_none());
        assert!(Amount::MAX.checked_sub(&x).unwrap() < y);
    }
    assert_eq!(x.checked_sub(&y).is_some(), x >= y);
    let (xs, ys) = (x.to_string(), y.to_string());
    if let (Ok(a), Ok(b)) = (xs.parse::<u128>(), ys.parse::<u128>()) {
        assert_eq!(x.cmp(&y), a.cmp(&b));
        if let Some(s) = a.checked_add(b) {
            assert_eq!(x.checked_add(&y), Some(Amount::from(s)));
        }
        assert_eq!(x.checked_sub(&y), a.checked_sub(b).map(Amount::from));
    }
});
