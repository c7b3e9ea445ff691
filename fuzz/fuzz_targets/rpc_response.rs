//! A node's JSON-RPC answers, as the settling facilitator reads them
//! (`rpc::parse_response` and the typed readers): never panics; the quantity
//! readers agree with each other (u64 ⊂ u128 ⊂ uint256) and with
//! `write_quantity`; `data` decodes what `write_data` writes back; revert data
//! and `is_revert` agree; block headers, receipts and their logs read without
//! panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::Amount;
use paywire::evm::Address;
use paywire::json::{self, JsonValue, Limits};
use paywire::rpc::{
    self, BlockHeader, Receipt, data, data_is_empty, parse_response, quantity_amount, quantity_u64,
    quantity_u128, write_data, write_quantity,
};

fn reparse(text: &[u8]) -> JsonValue<'_> {
    json::parse(text, &Limits::DEFAULT).expect("written by the crate")
}

fn check_result(v: JsonValue<'_>) {
    let (q64, q128, qa) = (quantity_u64(v), quantity_u128(v), quantity_amount(v));
    if let Ok(x) = q64 {
        assert_eq!(q128.as_ref().ok(), Some(&u128::from(x)));
    }
    if let Ok(x) = q128 {
        assert_eq!(qa.as_ref().ok(), Some(&Amount::from(x)));
        assert_eq!(q64.is_ok(), u64::try_from(x).is_ok());
        let mut out = Vec::new();
        write_quantity(&mut out, x).unwrap();
        assert_eq!(
            quantity_u128(reparse(&out)).ok(),
            Some(x),
            "write_quantity round trip"
        );
    }
    if let Ok(a) = qa {
        let fits = a.to_be_bytes()[..16] == [0; 16];
        assert_eq!(
            q128.is_ok(),
            fits,
            "u128 and uint256 readers disagree on {v:?}"
        );
    }
    let mut buf = vec![0u8; v.raw().len()];
    if let Ok(bytes) = data(v, &mut buf) {
        let bytes = bytes.to_vec();
        assert_eq!(data_is_empty(v), Some(bytes.is_empty()));
        let mut out = Vec::new();
        write_data(&mut out, &bytes).unwrap();
        let mut again = vec![0u8; bytes.len()];
        assert_eq!(data(reparse(&out), &mut again).ok(), Some(&bytes[..]));
        if let Some(short) = bytes.len().checked_sub(1) {
            assert!(data(v, &mut vec![0u8; short]).is_err());
        }
    }
    let _ = rpc::hash(v, "result");
    if let Ok(h) = BlockHeader::from_json(v) {
        let _ = h.number;
    }
    if let Ok(Some(r)) = Receipt::from_json(v) {
        for log in r.logs().flatten() {
            for i in 0..4 {
                let _ = log.topic(i);
            }
        }
        let a = Address([1; 20]);
        let _ = r.has_transfer(&a, &a, &a, &Amount::ZERO);
    }
}

fuzz_target!(|data_in: &[u8]| {
    let resp = match parse_response(data_in) {
        Ok(r) => r,
        Err(e) => {
            paywire_fuzz::check_error(&e);
            return;
        }
    };
    if let Some(id) = resp.id.as_u64() {
        assert!(resp.id_is(id));
    }
    match resp.result {
        Ok(v) => check_result(v),
        Err(e) => {
            let _ = e.to_string();
            let mut buf = vec![0u8; data_in.len()];
            match (e.revert_hex(), e.revert_data(&mut buf)) {
                (None, r) => assert_eq!(r.ok(), Some(&[][..])),
                (Some(hex), Ok(bytes)) => {
                    let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                    assert_eq!(format!("0x{text}"), hex.to_cow().to_ascii_lowercase());
                }
                (Some(hex), Err(_)) => {
                    // Only an odd number of digits is refused.
                    assert!(hex.len() % 2 == 1, "revert data {hex} refused");
                }
            }
            if e.code == 3 || e.revert_hex().is_some() {
                assert!(e.is_revert());
            }
        }
    }
});
