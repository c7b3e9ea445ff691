//! Where the time of one recovery goes, and the two multi-scalar
//! multiplications k256 0.14 offers: its joint GLV/wNAF lincomb (four tables
//! built per call) and a basepoint-table multiplication plus a wNAF one (slower
//! still). This crate's recovery uses neither: its own generator tables are
//! built once (`x402-core/src/evm/ecmult.rs`; instruction counts in
//! benches/README.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]
use criterion::{Criterion, criterion_group, criterion_main};
use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::ops::{MulByGeneratorVartime, MulVartime, Reduce};
use k256::elliptic_curve::point::DecompressPoint;
use k256::elliptic_curve::subtle::Choice;
use k256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar};
use std::hint::black_box;

fn parts() -> ([u8; 32], [u8; 32], bool, [u8; 32]) {
    let key = paywire::evm::PrivateKey::from_bytes(&[0x42; 32]).unwrap();
    let d = [9u8; 32];
    let b = key.sign_digest(&d).to_bytes();
    (
        b[..32].try_into().unwrap(),
        b[32..64].try_into().unwrap(),
        b[64] == 28,
        d,
    )
}

fn benches(c: &mut Criterion) {
    let (rb, sb, odd, d) = parts();
    let r = Scalar::from_repr(FieldBytes::from(rb)).unwrap();
    let s = Scalar::from_repr(FieldBytes::from(sb)).unwrap();
    let z = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(d));
    let rp: ProjectivePoint =
        AffinePoint::decompress(&FieldBytes::from(rb), Choice::from(odd as u8))
            .unwrap()
            .into();
    let rinv = r.invert_vartime().unwrap();
    let u1 = -(rinv * z);
    let u2 = rinv * s;
    let mut g = c.benchmark_group("variants");
    g.bench_function("joint_lincomb", |b| {
        b.iter(|| {
            black_box(ProjectivePoint::mul_by_generator_and_mul_add_vartime(
                black_box(&u1),
                black_box(&u2),
                black_box(&rp),
            ))
        })
    });
    g.bench_function("split_table_plus_wnaf", |b| {
        b.iter(|| {
            black_box(
                ProjectivePoint::mul_by_generator_vartime(black_box(&u1))
                    + black_box(rp).mul_vartime(black_box(&u2)),
            )
        })
    });
    g.bench_function("decompress", |b| {
        b.iter(|| {
            black_box(AffinePoint::decompress(
                &FieldBytes::from(black_box(rb)),
                Choice::from(odd as u8),
            ))
        })
    });
    g.bench_function("scalar_invert_vartime", |b| {
        b.iter(|| black_box(black_box(r).invert_vartime()))
    });
    let q = ProjectivePoint::mul_by_generator_and_mul_add_vartime(&u1, &u2, &rp);
    g.bench_function("to_affine", |b| {
        b.iter(|| black_box(black_box(q).to_affine()))
    });
    g.bench_function("keccak64", |b| {
        b.iter(|| black_box(paywire::evm::keccak256(black_box(&[1u8; 64]))))
    });
    g.finish();
}
criterion_group!(breakdown, benches);
criterion_main!(breakdown);
