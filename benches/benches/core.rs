//! Criterion benchmarks of the hot paths, with the cryptographic floor beside them:
//! libsecp256k1 (the `secp256k1` crate) and k256's own `recover_from_prehash`,
//! recovering the same signature of the same digest.
//!
//! The core's backend is the build's: k256 by default, libsecp256k1 with
//! `--features libsecp256k1`; the group is named after it (`x402-k256`,
//! `x402-libsecp256k1`), so that both runs can be compared.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use paywire::client::{Policy, create_payment};
use paywire::evm::eip712::{self, Domain};
use paywire::evm::{PrivateKey, Signature, keccak256};
use paywire::header;
use paywire::json::JsonStr;
use paywire::types::facilitator::PaymentPayload;
use paywire::types::payload::SchemePayload;
use paywire::verify::{self, Config};
use paywire_benches::payment;

/// A ~1 KB v2 EIP-3009 PAYMENT-SIGNATURE header made by the official client.
const PAYMENT: &str = "v2-exact-eip3009-skips-unsupported-first-accept";

fn benches(c: &mut Criterion) {
    let p = payment(PAYMENT);
    let config = Config::default();
    let mut scratch = vec![0u8; p.header.len()];

    // The digest and signature of that payment.
    let decoded = header::decode_payment_signature(&p.header, &mut scratch).unwrap();
    let PaymentPayload::V2(v2) = decoded else {
        panic!("v2")
    };
    let SchemePayload::Eip3009(exact) =
        SchemePayload::from_object(v2.payload_json().unwrap()).unwrap()
    else {
        panic!("eip3009")
    };
    let extra = v2.accepted.extra.unwrap();
    let domain = Domain::eip3009(
        extra.name.unwrap(),
        extra.version.unwrap(),
        v2.accepted.network.evm_chain_id().unwrap(),
        v2.accepted.asset_address().unwrap(),
    );
    let auth = exact.authorization;
    let sig_hex = exact.signature.as_str().unwrap().to_string();
    let digest = eip712::eip3009_digest(&domain, &auth);
    let sig = Signature::parse_hex(JsonStr::new(&sig_hex)).unwrap();
    let sig_bytes = sig.to_bytes();
    assert_eq!(sig.recover(&digest).unwrap(), auth.from);
    assert!(
        verify::verify_header(
            &p.header,
            &p.requirements,
            p.now,
            &config,
            &mut vec![0u8; p.header.len()]
        )
        .is_valid()
    );

    let backend = if cfg!(feature = "libsecp256k1") {
        "libsecp256k1"
    } else {
        "k256"
    };
    let mut g = c.benchmark_group(format!("x402-{backend}"));
    g.bench_function("header_decode_payment_signature", |b| {
        let mut buf = vec![0u8; p.header.len()];
        b.iter(|| {
            let d = header::decode_payment_signature(black_box(&p.header), &mut buf).unwrap();
            black_box(d.x402_version());
        })
    });
    g.bench_function("eip712_digest_eip3009", |b| {
        b.iter(|| black_box(eip712::eip3009_digest(black_box(&domain), black_box(&auth))))
    });
    g.bench_function("recover_x402_core", |b| {
        b.iter(|| {
            black_box(
                Signature::from_bytes(black_box(&sig_bytes))
                    .unwrap()
                    .recover(black_box(&digest))
                    .unwrap(),
            )
        })
    });
    g.bench_function("recover_x402_core_k256_path", |b| {
        b.iter(|| {
            black_box(
                Signature::from_bytes(black_box(&sig_bytes))
                    .unwrap()
                    .recover_with_k256(black_box(&digest))
                    .unwrap(),
            )
        })
    });
    g.bench_function("recover_k256_recover_from_prehash", |b| {
        use k256::ecdsa::{RecoveryId, Signature as KSig, VerifyingKey};
        b.iter(|| {
            let s = KSig::from_slice(&black_box(sig_bytes)[..64]).unwrap();
            let id = RecoveryId::try_from(sig_bytes[64] - 27).unwrap();
            let vk = VerifyingKey::recover_from_prehash(black_box(&digest), &s, id).unwrap();
            let point = vk.to_sec1_point(false);
            black_box(keccak256(&point.as_bytes()[1..]))
        })
    });
    g.bench_function("recover_libsecp256k1", |b| {
        use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
        b.iter(|| {
            let id = RecoveryId::try_from(i32::from(sig_bytes[64] - 27)).unwrap();
            let s = RecoverableSignature::from_compact(&black_box(sig_bytes)[..64], id).unwrap();
            let msg = secp256k1::Message::from_digest(black_box(digest));
            let pk = s.recover_ecdsa(msg).unwrap();
            black_box(keccak256(&pk.serialize_uncompressed()[1..]))
        })
    });
    g.bench_function("verify_v2_header", |b| {
        let mut buf = vec![0u8; p.header.len()];
        b.iter(|| {
            black_box(verify::verify_header(
                black_box(&p.header),
                black_box(&p.requirements),
                p.now,
                &config,
                &mut buf,
            ))
        })
    });
    g.bench_function("verify_json_body", |b| {
        b.iter(|| {
            black_box(verify::verify_json(
                black_box(&p.verify_body),
                p.now,
                &config,
            ))
        })
    });
    let key = PrivateKey::from_bytes(&[0x42; 32]).unwrap();
    g.bench_function("sign_digest", |b| {
        b.iter(|| black_box(key.sign_digest(black_box(&digest))))
    });
    g.bench_function("create_payment_v2_eip3009", |b| {
        let mut out = vec![0u8; 4096];
        let policy = Policy::default();
        b.iter(|| {
            black_box(
                create_payment(
                    black_box(&p.payment_required),
                    &key,
                    [7; 32],
                    p.now,
                    &policy,
                    &mut out,
                )
                .unwrap(),
            )
        })
    });
    g.finish();
}

criterion_group!(core, benches);
criterion_main!(core);
