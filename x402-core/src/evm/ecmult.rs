//! `u1·G + u2·R` in variable time, the one multi-scalar multiplication of a
//! public-key recovery, built on k256's public point arithmetic.
//!
//! k256's own `mul_by_generator_and_mul_add_vartime` builds four width-5 wNAF
//! tables on every call (`±R`, `±λR`, `±G`, `±λG`). Here:
//! - the generator's tables are built once per process (feature
//!   `precomputed-tables`) and kept
//!   in affine form: odd multiples `1·G … 255·G` and `1·H … 255·H` with
//!   `H = 2¹²⁸·G`, so `u1·G = lo·G + hi·H` needs neither a GLV split nor a
//!   table per call, and its additions are mixed (affine) ones with a window of
//!   width 9 (≈ 26 additions instead of ≈ 43);
//! - `R`'s table (`1·R … 15·R`) is built once per call, and `λR`'s is derived
//!   from it by the endomorphism (`λ·(x, y) = (β·x, y)`, one field
//!   multiplication per entry) instead of a second table.
//!
//! Everything here is variable time: it only ever sees public data (a
//! signature and a digest). Points are added with k256's complete formulas, so
//! no special case (doubling, inverses, the identity) needs a branch.
//!
//! Without the feature k256's path is used: a no_std target may have nowhere to keep
//! the tables, and in wasm (the npm package builds with `alloc` only, on k256's
//! 32-bit backend) they were measured to gain 2 % per recovery in Node while
//! their one-time set-up added about 1.5 ms to the first verification of an
//! isolate, and 4 KB to the gzipped module. The unit tests (with the feature)
//! compare this path with k256's.

use k256::{ProjectivePoint, Scalar};

/// Computes `u1·G + u2·R`.
pub(crate) fn mul_g_add_vartime(u1: &Scalar, u2: &Scalar, r: &ProjectivePoint) -> ProjectivePoint {
    #[cfg(feature = "precomputed-tables")]
    {
        tables::mul_g_add(u1, u2, r)
    }
    #[cfg(not(feature = "precomputed-tables"))]
    {
        use k256::elliptic_curve::ops::MulByGeneratorVartime;
        ProjectivePoint::mul_by_generator_and_mul_add_vartime(u1, u2, r)
    }
}

/// The digits of a width-`w` non-adjacent form of `k < 2¹²⁸`, least
/// significant first: `k = Σ dᵢ·2ⁱ`, every nonzero `dᵢ` odd with
/// `|dᵢ| < 2^(w−1)`, and any `w` consecutive digits hold at most one nonzero.
/// Returns the digits and how many positions are in use (at most 129).
/// `w` is a window width in `2..=15` (digits must fit an `i16`).
#[cfg_attr(not(feature = "precomputed-tables"), allow(dead_code))]
fn wnaf(k: u128, w: u32) -> ([i16; 129], usize) {
    debug_assert!((2..=15).contains(&w), "window width {w}");
    let mut digits = [0i16; 129];
    let mut len = 0;
    let mut carry = 0u32;
    let mut i = 0u32;
    while i < 128 {
        let bit = ((k >> i) & 1) as u32;
        if bit == carry {
            i += 1;
            continue;
        }
        let now = w.min(128 - i);
        // Bits i..i+now of k (now ≤ w ≤ 15, so the cast keeps them all), plus
        // the carry: odd, in [1, 2^now − 1].
        let mut word = ((k >> i) as u32 & ((1u32 << now) - 1)) + carry;
        carry = (word >> (w - 1)) & 1;
        word = word.wrapping_sub(carry << w);
        let slot = digits.get_mut(i as usize);
        debug_assert!(slot.is_some(), "i < 128");
        if let Some(d) = slot {
            // word is in (−2^(w−1), 2^(w−1)) as a two's-complement u32.
            *d = word as i32 as i16;
        }
        len = i as usize + 1;
        i += now;
    }
    if carry != 0 {
        if let Some(d) = digits.get_mut(128) {
            *d = 1;
        }
        len = 129;
    }
    (digits, len)
}

#[cfg(feature = "precomputed-tables")]
mod tables {

    use core::ops::{AddAssign, SubAssign};
    use k256::elliptic_curve::BatchNormalize;
    use k256::elliptic_curve::scalar::IsHigh;
    use k256::{AffinePoint, ProjectivePoint, Scalar};
    use std::sync::OnceLock;

    use super::wnaf;

    /// Window of the generator's tables: odd multiples up to 2⁸ − 1.
    const G_WINDOW: u32 = 9;
    const G_ENTRIES: usize = 1 << (G_WINDOW - 2);
    /// Window of `R`'s table: odd multiples up to 2⁴ − 1.
    const R_WINDOW: u32 = 5;
    const R_ENTRIES: usize = 1 << (R_WINDOW - 2);
    // A digit d of a width-w NAF indexes entry |d| >> 1 < 2^(w−2): each table
    // must have exactly that many entries, or digits would be dropped.
    const _: () = assert!(G_ENTRIES == 1 << (G_WINDOW - 2) && G_WINDOW <= 15);
    const _: () = assert!(R_ENTRIES == 1 << (R_WINDOW - 2) && R_WINDOW <= 15);

    /// GLV lattice projection constants g1 = round(2³⁸⁴·b2/n) and
    /// g2 = round(2³⁸⁴·(−b1)/n), little-endian 64-bit limbs.
    const G1: [u64; 4] = [
        0xe893_209a_45db_b031,
        0x3daa_8a14_71e8_ca7f,
        0xe86c_90e4_9284_eb15,
        0x3086_d221_a7d4_6bcd,
    ];
    const G2: [u64; 4] = [
        0x1571_b4ae_8ac4_7f71,
        0x2212_08ac_9df5_06c6,
        0x6f54_7fa9_0abf_e4c4,
        0xe443_7ed6_010e_8828,
    ];

    struct Tables {
        /// `(2i + 1)·G`.
        g: [AffinePoint; G_ENTRIES],
        /// `(2i + 1)·2¹²⁸·G`.
        h: [AffinePoint; G_ENTRIES],
        /// −b1, −b2 and −λ of the GLV decomposition (as scalars mod n).
        minus_b1: Scalar,
        minus_b2: Scalar,
        minus_lambda: Scalar,
    }

    static TABLES: OnceLock<Tables> = OnceLock::new();

    /// `hi·2¹²⁸ + lo` as a scalar (the value must be below n).
    fn scalar(hi: u128, lo: u128) -> Scalar {
        let two64 = Scalar::from(1u128 << 64);
        Scalar::from(hi) * two64 * two64 + Scalar::from(lo)
    }

    /// `(2i + 1)·P` for `i < N`.
    fn odd_multiples<const N: usize>(p: ProjectivePoint) -> [ProjectivePoint; N] {
        let twice = p.double();
        let mut out = [p; N];
        let mut acc = p;
        for slot in out.iter_mut().skip(1) {
            acc += &twice;
            *slot = acc;
        }
        out
    }

    impl Tables {
        #[cold]
        fn new() -> Tables {
            let mut h = ProjectivePoint::GENERATOR;
            for _ in 0..128 {
                h = h.double();
            }
            Tables {
                g: ProjectivePoint::batch_normalize(&odd_multiples::<G_ENTRIES>(
                    ProjectivePoint::GENERATOR,
                )),
                h: ProjectivePoint::batch_normalize(&odd_multiples::<G_ENTRIES>(h)),
                minus_b1: scalar(0, 0xe443_7ed6_010e_8828_6f54_7fa9_0abf_e4c3),
                minus_b2: scalar(
                    0xffff_ffff_ffff_ffff_ffff_ffff_ffff_fffe,
                    0x8a28_0ac5_0774_346d_d765_cda8_3db1_562c,
                ),
                minus_lambda: scalar(
                    0xac9c_52b3_3fa3_cf1f_5ad9_e3fd_77ed_9ba4,
                    0xa880_b9fc_8ec7_39c2_e0cf_c810_b512_83cf,
                ),
            }
        }
    }

    fn limbs(s: &Scalar) -> [u64; 4] {
        let bytes = s.to_bytes();
        let mut out = [0u64; 4];
        for (limb, chunk) in out.iter_mut().rev().zip(bytes.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *limb = u64::from_be_bytes(b);
        }
        out
    }

    /// `round(a·b / 2³⁸⁴)` for `a, b < 2²⁵⁶` whose product is below 2⁵¹²
    /// (the result is below 2¹²⁸ for the GLV constants and `a < n`).
    fn mul_shift_384(a: &[u64; 4], b: &[u64; 4]) -> u128 {
        let mut wide = [0u64; 8];
        for (i, &ai) in a.iter().enumerate() {
            let mut carry = 0u128;
            for (j, &bj) in b.iter().enumerate() {
                if let Some(w) = wide.get_mut(i + j) {
                    let t = u128::from(ai) * u128::from(bj) + u128::from(*w) + carry;
                    *w = t as u64;
                    carry = t >> 64;
                }
            }
            if let Some(w) = wide.get_mut(i + 4) {
                *w = carry as u64;
            }
        }
        let [.., w5, w6, w7] = wide;
        (u128::from(w6) | (u128::from(w7) << 64)).wrapping_add(u128::from(w5 >> 63))
    }

    /// A scalar below 2¹²⁸ in absolute value: its magnitude and whether it is
    /// negative (as an element of [0, n), "negative" meaning above n/2).
    fn signed_half(s: Scalar) -> Option<(u128, bool)> {
        let negative = bool::from(s.is_high());
        let m = if negative { -s } else { s };
        let bytes = m.to_bytes();
        let (high, low) = bytes.split_at(16);
        if high.iter().any(|&b| b != 0) {
            return None;
        }
        let mut b = [0u8; 16];
        b.copy_from_slice(low);
        Some((u128::from_be_bytes(b), negative))
    }

    /// `k = r1 + r2·λ (mod n)` with `|r1|, |r2| < 2¹²⁸`.
    fn split_lambda(t: &Tables, k: &Scalar) -> Option<((u128, bool), (u128, bool))> {
        let kl = limbs(k);
        let c1 = Scalar::from(mul_shift_384(&kl, &G1));
        let c2 = Scalar::from(mul_shift_384(&kl, &G2));
        let r2 = c1 * t.minus_b1 + c2 * t.minus_b2;
        let r1 = *k + r2 * t.minus_lambda;
        Some((signed_half(r1)?, signed_half(r2)?))
    }

    /// Adds `d·P` (or `−d·P` when `negate`) for an odd wNAF digit `d`, `P`
    /// from a table of odd multiples (projective for R, affine for G).
    fn add_digit<T>(acc: &mut ProjectivePoint, d: i16, negate: bool, table: &[T])
    where
        for<'t> ProjectivePoint: AddAssign<&'t T> + SubAssign<&'t T>,
    {
        if d == 0 {
            return;
        }
        let entry = table.get(usize::from(d.unsigned_abs() >> 1));
        debug_assert!(entry.is_some(), "digit {d} beyond the table");
        if let Some(p) = entry {
            if (d < 0) != negate {
                *acc -= p;
            } else {
                *acc += p;
            }
        }
    }

    /// `u1·G + u2·R`.
    pub(super) fn mul_g_add(u1: &Scalar, u2: &Scalar, r: &ProjectivePoint) -> ProjectivePoint {
        let t = TABLES.get_or_init(Tables::new);

        let u1_bytes = u1.to_bytes();
        let (hi_bytes, lo_bytes) = u1_bytes.split_at(16);
        let mut b = [0u8; 16];
        b.copy_from_slice(lo_bytes);
        let (g_lo, g_lo_len) = wnaf(u128::from_be_bytes(b), G_WINDOW);
        b.copy_from_slice(hi_bytes);
        let (g_hi, g_hi_len) = wnaf(u128::from_be_bytes(b), G_WINDOW);

        let Some(((k1, neg1), (k2, neg2))) = split_lambda(t, u2) else {
            // Unreachable: both halves are proven below 2¹²⁸ (a test checks the
            // constants). The identity makes the recovery refuse, never accept.
            return ProjectivePoint::IDENTITY;
        };
        let (r1, r1_len) = wnaf(k1, R_WINDOW);
        let (r2, r2_len) = wnaf(k2, R_WINDOW);
        let r_table = odd_multiples::<R_ENTRIES>(*r);
        let lambda_r_table = r_table.map(|p| p.endomorphism());

        let len = g_lo_len.max(g_hi_len).max(r1_len).max(r2_len);
        let mut acc = ProjectivePoint::IDENTITY;
        for i in (0..len).rev() {
            acc = acc.double();
            let digit = |d: &[i16; 129]| d.get(i).copied().unwrap_or(0);
            add_digit(&mut acc, digit(&r1), neg1, &r_table);
            add_digit(&mut acc, digit(&r2), neg2, &lambda_r_table);
            add_digit(&mut acc, digit(&g_lo), false, &t.g);
            add_digit(&mut acc, digit(&g_hi), false, &t.h);
        }
        acc
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_constants_split_scalars_within_the_bounds() {
            let t = Tables::new();
            let lambda = -t.minus_lambda;
            for k in super::super::tests::scalars() {
                let ((m1, n1), (m2, n2)) = split_lambda(&t, &k).expect("GLV bound");
                let s = |m: u128, n: bool| {
                    let v = Scalar::from(m);
                    if n { -v } else { v }
                };
                assert_eq!(s(m1, n1) + s(m2, n2) * lambda, k);
            }
        }

        #[test]
        fn the_generator_tables_hold_odd_multiples() {
            let t = Tables::new();
            let two128 = scalar(1, 0);
            for (i, (g, h)) in t.g.iter().zip(t.h.iter()).enumerate() {
                let m = Scalar::from(2 * i as u64 + 1);
                assert_eq!(ProjectivePoint::from(*g), ProjectivePoint::GENERATOR * m);
                assert_eq!(
                    ProjectivePoint::from(*h),
                    ProjectivePoint::GENERATOR * (m * two128)
                );
            }
        }
    }
}

#[cfg(all(test, feature = "precomputed-tables"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use k256::FieldBytes;
    use k256::elliptic_curve::ops::MulByGeneratorVartime;
    use k256::elliptic_curve::ops::Reduce;
    use sha2::{Digest, Sha256};

    /// Edge scalars and a few hundred pseudo-random ones.
    pub(super) fn scalars() -> alloc::vec::Vec<Scalar> {
        let mut v = alloc::vec![
            Scalar::ZERO,
            Scalar::ONE,
            -Scalar::ONE,
            Scalar::from(u128::MAX),
            Scalar::from(u128::MAX) + Scalar::ONE,
            -Scalar::from(u128::MAX),
            Scalar::from(2u64),
            -Scalar::from(2u64),
        ];
        for i in 0u32..300 {
            let h = Sha256::digest(i.to_be_bytes());
            let k = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(<[u8; 32]>::from(h)));
            v.push(k);
            // Scalars with a short magnitude, either sign.
            v.push(Scalar::from(
                u128::from_be_bytes(h[..16].try_into().unwrap()) >> (i % 128),
            ));
            v.push(-Scalar::from(u64::from(i)));
        }
        v
    }

    #[test]
    fn wnaf_digits_rebuild_the_scalar() {
        let mut ks = alloc::vec![
            0u128,
            1,
            2,
            3,
            15,
            16,
            17,
            127,
            128,
            255,
            u128::MAX,
            u128::MAX - 1,
            1 << 127
        ];
        for i in 0u32..500 {
            let h = Sha256::digest(i.to_be_bytes());
            ks.push(u128::from_be_bytes(h[..16].try_into().unwrap()) >> (i % 100));
        }
        for w in [2u32, 4, 5, 8, 9, 10, 12] {
            for &k in &ks {
                let (d, len) = wnaf(k, w);
                let mut sum = 0i128; // of the digits below 2^127 (exact below)
                let mut big = Scalar::ZERO;
                let mut last_nonzero: Option<usize> = None;
                for (i, &di) in d.iter().enumerate() {
                    if i >= len {
                        assert_eq!(di, 0);
                        continue;
                    }
                    if di != 0 {
                        assert!(di % 2 != 0, "digit {di} even");
                        assert!(i32::from(di).abs() < 1 << (w - 1));
                        if let Some(j) = last_nonzero {
                            assert!(i - j >= w as usize, "digits {j} and {i} too close (w={w})");
                        }
                        last_nonzero = Some(i);
                        let p = if i < 128 {
                            Scalar::from(1u128 << i)
                        } else {
                            Scalar::from(1u128 << 64) * Scalar::from(1u128 << 64)
                        };
                        let v = Scalar::from(u64::from(di.unsigned_abs())) * p;
                        big = if di < 0 { big - v } else { big + v };
                        if i < 120 {
                            sum += i128::from(di) << i;
                        }
                    }
                }
                assert_eq!(big, Scalar::from(k), "k={k} w={w}");
                if len <= 120 {
                    assert_eq!(sum, k as i128);
                }
                if k != 0 {
                    assert!(d[len - 1] != 0);
                }
            }
        }
    }

    #[test]
    fn agrees_with_k256() {
        let ks = scalars();
        let points = [
            ProjectivePoint::GENERATOR,
            ProjectivePoint::GENERATOR * Scalar::from(7u64),
            -ProjectivePoint::GENERATOR,
            ProjectivePoint::GENERATOR * ks[20],
        ];
        for (i, u1) in ks.iter().enumerate() {
            let u2 = &ks[(i * 7 + 3) % ks.len()];
            let r = &points[i % points.len()];
            let want = ProjectivePoint::mul_by_generator_and_mul_add_vartime(u1, u2, r);
            assert_eq!(mul_g_add_vartime(u1, u2, r), want, "u1={u1:?} u2={u2:?}");
            // u2 = ±u1 with R = G: doublings and cancellations inside the sum.
            let g = ProjectivePoint::GENERATOR;
            assert_eq!(mul_g_add_vartime(u1, &-*u1, &g), ProjectivePoint::IDENTITY);
            assert_eq!(mul_g_add_vartime(u1, u1, &g), g * (*u1 + *u1));
        }
    }
}
