//! The libsecp256k1 backend (feature `libsecp256k1`) against the k256 path:
//! for every signature and digest, `Signature::recover` (libsecp256k1) and
//! `Signature::recover_with_k256` give the same `Address` or the same
//! `SignatureError`, and libsecp256k1's signing and key derivation give what
//! k256's give.
//!
//! The cases, from a fixed seed: random `r`, `s`, `v` and digests (about half
//! of random `r` are no curve point's x-coordinate); signatures made by random
//! keys, with their high-s twins; results at the point at infinity (`s·R = z·G`,
//! with the digest both below and above the order); and edge values of every
//! part (`r` and `s` at 1, near `n/2` and near `n`, `v` of 0–3 and 27–31,
//! digests of 0, `n − 1`, `n`, `n + 1`, `2²⁵⁶ − 1`).
//!
//! `PAYWIRE_DIFFERENTIAL_CASES` sets how many (2,000 by default; the test
//! command runs 100,000 in a release build: `scripts/test-backends.sh`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;

use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::sec1::ToSec1Point;
use k256::{ProjectivePoint, Scalar};
use paywire::evm::{PrivateKey, Signature, SignatureError};

/// The order of the group, big-endian.
const N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
];

/// SplitMix64: small, fast, and the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes32(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_be_bytes());
        }
        out
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A nonzero scalar below `n` (a random 256-bit value is at least `n`
    /// with probability 2⁻¹²⁸).
    fn scalar(&mut self) -> Scalar {
        loop {
            if let Some(s) = Option::<Scalar>::from(Scalar::from_repr(self.bytes32().into())) {
                if !bool::from(s.is_zero()) {
                    return s;
                }
            }
        }
    }
}

fn bytes(s: &Scalar) -> [u8; 32] {
    s.to_repr().into()
}

/// A scalar with `s ≤ n/2`: `s` or `n − s`.
fn low(s: Scalar) -> Scalar {
    if bool::from(k256::elliptic_curve::scalar::IsHigh::is_high(&s)) {
        -s
    } else {
        s
    }
}

/// `a + b` on 256-bit big-endian integers, or `None` on overflow.
fn add(a: &[u8; 32], b: &[u8; 32]) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let t = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = t as u8;
        carry = t >> 8;
    }
    (carry == 0).then_some(out)
}

/// `n + k` for a small signed `k`, big-endian (`n − 1`, `n + 1`, ...).
fn n_plus(k: i64) -> [u8; 32] {
    let mut v = N;
    let mut carry = k;
    for b in v.iter_mut().rev() {
        let t = i64::from(*b) + carry;
        *b = t.rem_euclid(256) as u8;
        carry = t.div_euclid(256);
        if carry == 0 {
            break;
        }
    }
    v
}

fn sig_bytes(r: &[u8; 32], s: &[u8; 32], v: u8) -> [u8; 65] {
    let mut out = [0u8; 65];
    out[..32].copy_from_slice(r);
    out[32..64].copy_from_slice(s);
    out[64] = v;
    out
}

/// What one case came to, for the tally.
fn outcome(r: &Result<paywire::evm::Address, SignatureError>) -> String {
    match r {
        Ok(_) => "recovered".into(),
        Err(e) => format!("{e:?}"),
    }
}

/// Parses and recovers with both backends; they must agree. Answers the outcome.
fn compare(sig: &[u8; 65], digest: &[u8; 32]) -> Result<paywire::evm::Address, SignatureError> {
    let parsed = Signature::from_bytes(sig)?;
    let lib = parsed.recover(digest);
    let k256 = parsed.recover_with_k256(digest);
    assert_eq!(
        lib,
        k256,
        "signature {} digest {}: libsecp256k1 {lib:?}, k256 {k256:?}",
        hex(sig),
        hex(digest)
    );
    lib
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The point `k·G`: its x-coordinate and whether its y is odd.
fn point(k: &Scalar) -> ([u8; 32], bool) {
    let p = ProjectivePoint::mul_by_generator(k).to_affine();
    let enc = p.to_sec1_point(true);
    let b = enc.as_bytes();
    (b[1..33].try_into().unwrap(), b[0] == 3)
}

/// One case, chosen by `i`; answers its outcome.
fn case(i: usize, rng: &mut Rng) -> String {
    let v_any = |rng: &mut Rng| -> u8 {
        const VS: [u8; 10] = [0, 1, 2, 3, 27, 28, 29, 30, 31, 255];
        VS[rng.below(VS.len())]
    };
    match i % 16 {
        // A key signs a digest: both backends sign alike, derive the same
        // address, recover it; the high-s twin is refused.
        0 => {
            let key = PrivateKey::from_bytes(&bytes(&rng.scalar())).unwrap();
            let digest = rng.bytes32();
            let sig = key.sign_digest_with_k256(&digest);
            assert_eq!(
                key.sign_digest_with_libsecp256k1(&digest),
                sig,
                "signing {}",
                hex(&digest)
            );
            let address = key.address_with_k256();
            assert_eq!(key.address_with_libsecp256k1(), address);
            let b = sig.to_bytes();
            assert_eq!(compare(&b, &digest), Ok(address));
            let s: [u8; 32] = b[32..64].try_into().unwrap();
            let s = Option::<Scalar>::from(Scalar::from_repr(s.into())).unwrap();
            let mut twin = b;
            twin[32..64].copy_from_slice(&bytes(&-s));
            twin[64] = if b[64] == 27 { 28 } else { 27 };
            let r = compare(&twin, &digest);
            assert_eq!(r, Err(SignatureError::HighS));
            "signed".into()
        }
        // The result is the point at infinity: s·R = z·G with R = k·G and
        // z = s·k, the digest being z itself or z + n (reduced to z).
        1 | 2 => {
            let (k, s, digest) = if i % 16 == 1 {
                let k = rng.scalar();
                let s = low(rng.scalar());
                (k, s, bytes(&(s * k)))
            } else {
                // z below 2^128, so that z + n fits in 256 bits.
                let mut z = [0u8; 32];
                z[16..].copy_from_slice(&rng.bytes32()[16..]);
                z[16] |= 1;
                let zs = Option::<Scalar>::from(Scalar::from_repr(z.into())).unwrap();
                let s = low(rng.scalar());
                let k = zs * Option::<Scalar>::from(s.invert()).unwrap();
                (k, s, add(&z, &N).unwrap())
            };
            let (x, y_odd) = point(&k);
            // x ≥ n has probability 2⁻¹²⁸; r is then not x.
            let r = compare(&sig_bytes(&x, &bytes(&s), 27 + u8::from(y_odd)), &digest);
            assert_eq!(r, Err(SignatureError::Unrecoverable), "infinity");
            "infinity".into()
        }
        // Edge values of every part.
        3..=5 => {
            // (n − 1)/2, the largest low s: −1/2 modulo n.
            let half = bytes(&-Option::<Scalar>::from(Scalar::from(2u64).invert()).unwrap());
            let r = match rng.below(7) {
                0 => bytes(&Scalar::ONE),
                1 => bytes(&Scalar::from(2u64)),
                2 => n_plus(-1),
                3 => n_plus(-2),
                4 => half,
                5 => n_plus(0),
                _ => rng.bytes32(),
            };
            let s = match rng.below(8) {
                0 => bytes(&Scalar::ONE),
                1 => bytes(&Scalar::from(2u64)),
                2 => half,
                3 => add(&half, &bytes(&Scalar::ONE)).unwrap(),
                4 => n_plus(-1),
                5 => n_plus(0),
                6 => [0; 32],
                _ => bytes(&low(rng.scalar())),
            };
            let digest = match rng.below(7) {
                0 => [0; 32],
                1 => bytes(&Scalar::ONE),
                2 => n_plus(-1),
                3 => n_plus(0),
                4 => n_plus(1),
                5 => [0xff; 32],
                _ => rng.bytes32(),
            };
            outcome(&compare(&sig_bytes(&r, &s, v_any(rng)), &digest))
        }
        // Random r (a curve point's x-coordinate about half the time), low s,
        // any v, random digests.
        _ => {
            let r = rng.bytes32();
            let s = bytes(&low(rng.scalar()));
            let v = if rng.below(8) == 0 {
                v_any(rng)
            } else {
                [0, 1, 27, 28][rng.below(4)]
            };
            outcome(&compare(&sig_bytes(&r, &s, v), &rng.bytes32()))
        }
    }
}

#[test]
fn libsecp256k1_and_k256_agree() {
    let cases: usize = std::env::var("PAYWIRE_DIFFERENTIAL_CASES")
        .ok()
        .map(|v| v.parse().expect("PAYWIRE_DIFFERENTIAL_CASES: a number"))
        .unwrap_or(2_000);
    // Two threads, each its own share of the cases and its own generator.
    let threads = 2;
    let tallies: Vec<BTreeMap<String, usize>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let mut rng = Rng(0x7061_7977_6972_6500 + t as u64);
                    let mut tally = BTreeMap::new();
                    for i in (t..cases).step_by(threads) {
                        *tally.entry(case(i, &mut rng)).or_insert(0) += 1;
                    }
                    tally
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut tally = BTreeMap::new();
    for t in tallies {
        for (k, v) in t {
            *tally.entry(k).or_insert(0) += v;
        }
    }
    eprintln!("{cases} cases: {tally:?}");
    assert_eq!(tally.values().sum::<usize>(), cases);
    if cases >= 1_000 {
        // Every kind of answer was reached, by both backends alike.
        for kind in [
            "signed",
            "infinity",
            "recovered",
            "Unrecoverable",
            "HighS",
            "OutOfRange",
            "BadV",
        ] {
            assert!(
                tally.get(kind).copied().unwrap_or(0) > 0,
                "no case came to {kind}: {tally:?}"
            );
        }
    }
}
