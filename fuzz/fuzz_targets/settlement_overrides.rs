//! `Settlement-Overrides` (an `upto` handler's charge): whatever the value,
//! `settlement_charge` never panics, and a charge it accepts is above 0 and
//! at most the permitted amount; an atomic amount within the permitted one
//! is taken as given, and a whole percentage is that share of it, rounded
//! down.
//!
//! Input: the permitted amount (a decimal) and a newline, then the header's
//! value; without a newline, the value, of 750000 permitted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::Amount;
use paywire::lifecycle::settlement_charge;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (permitted, value) = match text.split_once('\n') {
        Some((p, v)) => match Amount::parse_decimal(p) {
            Ok(p) => (p, v),
            Err(_) => return,
        },
        None => (Amount::from(750_000u64), text),
    };
    let Ok(charge) = settlement_charge(value, permitted) else {
        return;
    };
    assert!(!charge.is_zero(), "{value:?}: a charge of 0");
    assert!(charge <= permitted, "{value:?}: {charge} over {permitted}");
    // Cross-check the simple forms against u128 arithmetic.
    let json: serde_json::Value = serde_json::from_str(value).expect("accepted, so JSON");
    let amount = json["amount"].as_str().expect("accepted, so a string");
    let p = permitted.to_u64().map(u128::from);
    if let (Ok(a), Some(p)) = (amount.parse::<u128>(), p) {
        if !amount.starts_with('0') && a > 0 {
            assert_eq!(u128::from(charge.to_u64().unwrap_or(u64::MAX)), a.min(p), "{value:?}");
        }
    }
    if let (Some(whole), Some(p)) = (amount.strip_suffix('%'), p) {
        if let Ok(pc) = whole.parse::<u128>() {
            let expect = (p * pc / 100).min(p);
            assert_eq!(u128::from(charge.to_u64().unwrap_or(u64::MAX)), expect, "{value:?}");
        }
    }
});
