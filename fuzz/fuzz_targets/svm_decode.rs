//! The Solana transaction decoder (`svm::tx::Transaction::decode`), hostile
//! input: never panics; what it accepts is at most 1,232 bytes and canonical —
//! written back from its parts it is the input, byte for byte — with as many
//! signatures as required signers, distinct keys, and every index in range.
//!
//! Input: wire transaction bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::svm::tx::{MAX_TRANSACTION_SIZE, Transaction, Version, write_compact_u16};

fn compact(out: &mut Vec<u8>, n: usize) {
    let mut b = [0u8; 3];
    let k = write_compact_u16(u16::try_from(n).expect("a u16 length"), &mut b).expect("room");
    out.extend_from_slice(&b[..k]);
}

fuzz_target!(|data: &[u8]| {
    let Ok(tx) = Transaction::decode(data) else {
        return;
    };
    assert!(data.len() <= MAX_TRANSACTION_SIZE);
    let signers = usize::from(tx.header.num_required_signatures);
    assert!(signers >= 1);
    assert_eq!(tx.signatures().count(), signers);
    let keys: Vec<_> = tx.keys().collect();
    assert_eq!(keys.len(), tx.num_keys());
    for (i, k) in keys.iter().enumerate() {
        assert!(!keys[i + 1..].contains(k), "duplicate key");
    }
    let total = keys.len() + tx.num_lookup_addresses();
    assert!(total <= 256);
    for ix in tx.instructions() {
        assert!(ix.program_index != 0 && usize::from(ix.program_index) < keys.len());
        assert!(ix.accounts.iter().all(|&a| usize::from(a) < total));
    }
    assert_eq!(tx.instructions().count(), tx.num_instructions());

    // Written back from the parts: the same bytes.
    let mut out = Vec::new();
    compact(&mut out, signers);
    for s in tx.signatures() {
        out.extend_from_slice(s);
    }
    let message_start = out.len();
    if tx.version == Version::V0 {
        out.push(0x80);
    }
    out.extend_from_slice(&[
        tx.header.num_required_signatures,
        tx.header.num_readonly_signed,
        tx.header.num_readonly_unsigned,
    ]);
    compact(&mut out, keys.len());
    for k in &keys {
        out.extend_from_slice(&k.0);
    }
    out.extend_from_slice(tx.recent_blockhash);
    compact(&mut out, tx.num_instructions());
    for ix in tx.instructions() {
        out.push(ix.program_index);
        compact(&mut out, ix.accounts.len());
        out.extend_from_slice(ix.accounts);
        compact(&mut out, ix.data.len());
        out.extend_from_slice(ix.data);
    }
    if tx.version == Version::V0 {
        compact(&mut out, tx.num_lookups());
        for l in tx.lookups() {
            out.extend_from_slice(l.table);
            compact(&mut out, l.writable.len());
            out.extend_from_slice(l.writable);
            compact(&mut out, l.readonly.len());
            out.extend_from_slice(l.readonly);
        }
    } else {
        assert_eq!(tx.num_lookups(), 0);
    }
    assert_eq!(out, data, "not canonical");
    assert_eq!(tx.message_bytes(), &data[message_start..]);
});
