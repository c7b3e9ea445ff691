//! Runs one operation many times, for an instruction-counting profiler whose
//! counts do not depend on the machine's load:
//!
//! `valgrind --tool=callgrind target/release/examples/profile_verify MODE [N]`
//!
//! MODE is `verify` (a whole `POST /verify` body), `header` (a
//! `PAYMENT-SIGNATURE` header against the server's requirements), `recover` (this crate's
//! recovery of the same signature, with the backend of the build: libsecp256k1
//! with the feature `libsecp256k1`, else k256), `recover-k256` (this crate's
//! k256 path in either build), `k256` (k256's `recover_from_prehash`),
//! `libsecp256k1` (the C library alone), `sign` (this crate's RFC 6979 signing),
//! `sign-libsecp256k1` (the C library's), or `decode` (the PAYMENT-SIGNATURE
//! header alone).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;

use paywire::evm::{Signature, keccak256};
use paywire::header;
use paywire::json::JsonStr;
use paywire::types::facilitator::PaymentPayload;
use paywire::types::payload::SchemePayload;

fn main() {
    let p = paywire_benches::payment("v2-exact-eip3009-skips-unsupported-first-accept");
    let mode = std::env::args().nth(1).unwrap_or_else(|| "verify".into());
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let config = paywire::verify::Config::default();

    let mut scratch = vec![0u8; p.header.len()];
    let PaymentPayload::V2(v2) = header::decode_payment_signature(&p.header, &mut scratch).unwrap()
    else {
        panic!("v2")
    };
    let SchemePayload::Eip3009(exact) =
        SchemePayload::from_object(v2.payload_json().unwrap()).unwrap()
    else {
        panic!("EIP-3009")
    };
    let extra = v2.accepted.extra.unwrap();
    let domain = paywire::evm::eip712::Domain::eip3009(
        extra.name.unwrap(),
        extra.version.unwrap(),
        v2.accepted.network.evm_chain_id().unwrap(),
        v2.accepted.asset_address().unwrap(),
    );
    let digest = paywire::evm::eip712::eip3009_digest(&domain, &exact.authorization);
    let sig = Signature::parse_hex(JsonStr::new(exact.signature.as_str().unwrap()))
        .unwrap()
        .to_bytes();

    let key = paywire::evm::PrivateKey::from_bytes(&[0x42; 32]).unwrap();
    let mut buf = vec![0u8; p.header.len()];
    // One operation more than asked for, so that a run of N and a run of 0
    // differ by N steady-state operations (one-time set-up, such as the
    // generator's tables, falls in both).
    for _ in 0..=n {
        match mode.as_str() {
            "verify" => assert!(
                paywire::verify::verify_json(black_box(&p.verify_body), p.now, &config).is_valid()
            ),
            "header" => {
                assert!(
                    paywire::verify::verify_header(
                        black_box(&p.header),
                        black_box(&p.requirements),
                        p.now,
                        &config,
                        &mut buf,
                    )
                    .is_valid()
                );
            }
            "decode" => {
                black_box(
                    header::decode_payment_signature(black_box(&p.header), &mut buf).unwrap(),
                );
            }
            "recover" => {
                black_box(
                    Signature::from_bytes(black_box(&sig))
                        .unwrap()
                        .recover(black_box(&digest))
                        .unwrap(),
                );
            }
            "recover-k256" => {
                black_box(
                    Signature::from_bytes(black_box(&sig))
                        .unwrap()
                        .recover_with_k256(black_box(&digest))
                        .unwrap(),
                );
            }
            "sign" => {
                black_box(key.sign_digest(black_box(&digest)));
            }
            "sign-libsecp256k1" => {
                let sk = secp256k1::SecretKey::from_secret_bytes([0x42; 32]).unwrap();
                black_box(
                    secp256k1::ecdsa::RecoverableSignature::sign_ecdsa_recoverable(
                        secp256k1::Message::from_digest(black_box(digest)),
                        &sk,
                    ),
                );
            }
            "k256" => {
                use k256::ecdsa::{RecoveryId, Signature as KSig, VerifyingKey};
                let s = KSig::from_slice(&black_box(sig)[..64]).unwrap();
                let vk = VerifyingKey::recover_from_prehash(
                    black_box(&digest),
                    &s,
                    RecoveryId::try_from(sig[64] - 27).unwrap(),
                )
                .unwrap();
                black_box(keccak256(&vk.to_sec1_point(false).as_bytes()[1..]));
            }
            "libsecp256k1" => {
                use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
                let id = RecoveryId::try_from(i32::from(sig[64] - 27)).unwrap();
                let s = RecoverableSignature::from_compact(&black_box(sig)[..64], id).unwrap();
                let pk = s
                    .recover_ecdsa(secp256k1::Message::from_digest(black_box(digest)))
                    .unwrap();
                black_box(keccak256(&pk.serialize_uncompressed()[1..]));
            }
            other => panic!("unknown mode {other}"),
        }
    }
}
