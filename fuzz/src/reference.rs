//! An independent model of what a valid verdict implies, for the verification
//! targets: fields read with serde_json, amounts compared as decimal text,
//! addresses compared case-insensitively, and the signature recovered with
//! libsecp256k1 (not k256, which the core uses).

use paywire::evm::keccak256;
use secp256k1::Message;
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use serde_json::Value;

/// secp256k1's group order n, big-endian.
pub const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
];

/// n / 2 (rounded down), big-endian: the largest low s.
pub const HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

/// `0x` + even-length hex (either case) to bytes.
#[must_use]
pub fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    let digits = s.strip_prefix("0x")?;
    if digits.len() % 2 != 0 {
        return None;
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `n - s` for a scalar below n, big-endian.
#[must_use]
pub fn negate_scalar(s: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(ORDER[i]) - i16::from(s[i]) - borrow;
        borrow = 0;
        if d < 0 {
            d += 256;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    out
}

/// The address libsecp256k1 recovers from `r ‖ s` with recovery bit `odd`,
/// ignoring any low-s policy.
#[must_use]
pub fn recover(rs: &[u8], odd: bool, digest: &[u8; 32]) -> Option<[u8; 20]> {
    let id = RecoveryId::try_from(i32::from(odd)).ok()?;
    let sig = RecoverableSignature::from_compact(rs, id).ok()?;
    let key = sig.recover(Message::from_digest(*digest)).ok()?;
    let xy = key.serialize_uncompressed();
    let h = keccak256(&xy[1..]);
    let mut a = [0u8; 20];
    a.copy_from_slice(&h[12..]);
    Some(a)
}

/// Recovers from a 65-byte `r ‖ s ‖ v` signature under Ethereum's rules
/// (v of 27/28 or 0/1, r and s in [1, n-1], s ≤ n/2); `None` if any fails.
#[must_use]
pub fn recover_strict(sig: &[u8], digest: &[u8; 32]) -> Option<[u8; 20]> {
    if sig.len() != 65 {
        return None;
    }
    let odd = match sig[64] {
        0 | 27 => false,
        1 | 28 => true,
        _ => return None,
    };
    let r: [u8; 32] = sig[..32].try_into().ok()?;
    let s: [u8; 32] = sig[32..64].try_into().ok()?;
    if r == [0; 32] || s == [0; 32] || r >= ORDER || s > HALF_ORDER {
        return None;
    }
    recover(&sig[..64], odd, digest)
}

/// A canonical decimal string compared with another (as numbers).
#[must_use]
pub fn dec_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The decimal text of `n`.
#[must_use]
pub fn dec(n: u64) -> String {
    n.to_string()
}

/// A string member, or `None`.
#[must_use]
pub fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// Two addresses are the same (hex compared case-insensitively).
#[must_use]
pub fn same_address(a: &str, b: &str) -> bool {
    a.len() == 42 && a.eq_ignore_ascii_case(b)
}
