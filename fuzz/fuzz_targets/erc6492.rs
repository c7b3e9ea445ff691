//! ERC-6492 signatures, unwrapped against an independent model:
//! - `unwrap_erc6492` never panics; without the magic suffix it is `Ok(None)`;
//! - with it, it agrees with a decoder written out here (offsets and lengths
//!   as big integers, every bound checked) on acceptance and on the three
//!   parts, which borrow the input;
//! - `(factory, calldata, signature)` taken from the input, encoded here and
//!   unwrapped, come back exactly;
//! - `classify` routes whatever it is given without panicking, and never
//!   calls an ERC-6492 signature an EOA's.
//!
//! Input: a 20-byte address, then the rest as a wrapped signature (and, split
//! in two at its first byte's value, as calldata and signature to wrap).
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::evm::Address;
use paywire::evm::smart_wallet::{ERC6492_MAGIC_SUFFIX, PayerSignature, classify, unwrap_erc6492};

/// The word at byte `at` as a number, if it fits a u128 (else "too big").
fn word(data: &[u8], at: usize) -> Option<u128> {
    let w = data.get(at..at.checked_add(32)?)?;
    if w[..16].iter().any(|b| *b != 0) {
        return Some(u128::MAX);
    }
    Some(u128::from_be_bytes(w[16..].try_into().ok()?))
}

/// `bytes` whose head is word `index`.
fn model_bytes(body: &[u8], index: usize) -> Option<&[u8]> {
    let offset = word(body, index * 32)?;
    if offset > body.len() as u128 {
        return None;
    }
    let offset = offset as usize;
    let len = word(body, offset)?;
    let start = offset + 32;
    if len > (body.len() - start) as u128 {
        return None;
    }
    Some(&body[start..start + len as usize])
}

fn model(sig: &[u8]) -> Option<Option<(Address, &[u8], &[u8])>> {
    if sig.len() < 32 || sig[sig.len() - 32..] != ERC6492_MAGIC_SUFFIX {
        return Some(None);
    }
    let body = &sig[..sig.len() - 32];
    let head = body.get(..32)?;
    if head[..12].iter().any(|b| *b != 0) {
        return None;
    }
    let factory = Address(head[12..].try_into().ok()?);
    Some(Some((
        factory,
        model_bytes(body, 1)?,
        model_bytes(body, 2)?,
    )))
}

fn encode(factory: &Address, calldata: &[u8], sig: &[u8]) -> Vec<u8> {
    let word = |n: usize| {
        let mut w = [0u8; 32];
        w[24..].copy_from_slice(&(n as u64).to_be_bytes());
        w
    };
    let mut out = factory.to_word().to_vec();
    out.extend_from_slice(&word(0x60));
    out.extend_from_slice(&word(0x60 + 32 + calldata.len().div_ceil(32) * 32));
    for data in [calldata, sig] {
        out.extend_from_slice(&word(data.len()));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(32) * 32, 0);
    }
    out.extend_from_slice(&ERC6492_MAGIC_SUFFIX);
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 20 {
        return;
    }
    let (addr, rest) = data.split_at(20);
    let factory = Address(addr.try_into().unwrap());

    // Raw input, and the same with the suffix appended.
    let mut suffixed = rest.to_vec();
    suffixed.extend_from_slice(&ERC6492_MAGIC_SUFFIX);
    for input in [rest, &suffixed[..]] {
        let got = unwrap_erc6492(input);
        let want = model(input);
        match (&got, want) {
            (Ok(None), Some(None)) | (Err(_), None) => {}
            (Ok(Some(w)), Some(Some((f, c, s)))) => {
                assert_eq!((w.factory, w.factory_calldata, w.signature), (f, c, s));
                let range = input.as_ptr_range();
                for part in [w.factory_calldata, w.signature] {
                    assert!(range.start <= part.as_ptr() && part.as_ptr_range().end <= range.end);
                }
            }
            _ => panic!("unwrap {got:?} but the model says {want:?}"),
        }
        let digest = [7u8; 32];
        if let Ok(PayerSignature::Eoa(_)) = classify(input, &digest, &factory) {
            assert_eq!(input.len(), 65, "an EOA's signature is 65 bytes");
        }
    }

    // Round trip.
    let split = usize::from(rest.first().copied().unwrap_or(0)).min(rest.len());
    let (calldata, sig) = rest.split_at(split);
    let wrapped = encode(&factory, calldata, sig);
    let w = unwrap_erc6492(&wrapped).unwrap().unwrap();
    assert_eq!(
        (w.factory, w.factory_calldata, w.signature),
        (factory, calldata, sig)
    );
    if let Ok(PayerSignature::Eoa(_)) = classify(&wrapped, &[7; 32], &factory) {
        panic!("an ERC-6492 signature routed as an EOA's");
    }
});
