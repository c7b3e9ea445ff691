//! secp256k1 signatures: parsing with Ethereum's rules, public-key recovery,
//! RFC 6979 signing, and private keys that never leak.
//!
//! Policy, stricter than the reference SDK where the chain is stricter too:
//! - exactly 65 bytes `r ‖ s ‖ v`; 64-byte EIP-2098 compact signatures are refused
//!   (EIP-3009 tokens take `v, r, s`);
//! - `v` of 27/28, or 0/1 (normalised to 27/28 on output);
//! - `r` and `s` in `[1, n-1]`, and `s ≤ n/2` (EIP-2): a high-s signature is the
//!   malleable twin of a valid one; token contracts (USDC's `ecrecover` wrapper,
//!   OpenZeppelin's `ECDSA`) revert on it, so accepting it offline would promise a
//!   payment that cannot settle.

use core::fmt;

use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::group::Group;
use k256::elliptic_curve::ops::Reduce;
use k256::elliptic_curve::point::DecompressPoint;
use k256::elliptic_curve::scalar::IsHigh;
use k256::elliptic_curve::sec1::ToSec1Point;
use k256::elliptic_curve::subtle::Choice;
use k256::{AffinePoint, FieldBytes, NonZeroScalar, ProjectivePoint, Scalar};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{Address, keccak256};
use crate::json::JsonStr;

/// Why a signature was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureError {
    /// Not `0x` followed by hex digits.
    NotHex,
    /// 64 bytes: an EIP-2098 compact signature.
    Compact,
    /// Neither 65 nor 64 bytes (smart-wallet signatures need an on-chain check).
    Length,
    /// `v` is not 27, 28, 0 or 1.
    BadV,
    /// `r` or `s` is zero or not below the curve order.
    OutOfRange,
    /// `s` is in the upper half of the order (EIP-2).
    HighS,
    /// No public key recovers from this signature and digest.
    Unrecoverable,
    /// The private key is zero or not below the curve order.
    BadKey,
}

impl SignatureError {
    /// A sentence for people (used as `invalidMessage`).
    #[must_use]
    pub const fn message(self) -> &'static str {
        match self {
            SignatureError::NotHex => "signature is not 0x-prefixed hex",
            SignatureError::Compact => {
                "64-byte EIP-2098 compact signatures are not accepted; send 65 bytes r||s||v"
            }
            SignatureError::Length => {
                "signature is not 65 bytes; smart-wallet (EIP-1271/ERC-6492) signatures need an on-chain check"
            }
            SignatureError::BadV => "signature v must be 27, 28, 0 or 1",
            SignatureError::OutOfRange => "signature r or s is zero or not below the curve order",
            SignatureError::HighS => {
                "signature s is in the upper half of the curve order (EIP-2); token contracts reject it on chain"
            }
            SignatureError::Unrecoverable => "no public key recovers from this signature",
            SignatureError::BadKey => "private key is zero or not below the curve order",
        }
    }
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl core::error::Error for SignatureError {}

/// A parsed, policy-checked secp256k1 signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    r: Scalar,
    s: Scalar,
    r_bytes: [u8; 32],
    y_odd: bool,
}

impl Signature {
    /// Parses 65 bytes `r ‖ s ‖ v` under the policy above.
    ///
    /// # Errors
    /// The [`SignatureError`] saying which rule failed.
    pub fn from_bytes(b: &[u8]) -> Result<Signature, SignatureError> {
        let (rs, v) = match b.len() {
            65 => b.split_at(64),
            64 => return Err(SignatureError::Compact),
            _ => return Err(SignatureError::Length),
        };
        let y_odd = match v {
            [27 | 0] => false,
            [28 | 1] => true,
            _ => return Err(SignatureError::BadV),
        };
        let (r_slice, s_slice) = rs.split_at(32);
        let mut r_bytes = [0u8; 32];
        let mut s_bytes = [0u8; 32];
        r_bytes.copy_from_slice(r_slice);
        s_bytes.copy_from_slice(s_slice);
        let r = nonzero_scalar(r_bytes).ok_or(SignatureError::OutOfRange)?;
        let s = nonzero_scalar(s_bytes).ok_or(SignatureError::OutOfRange)?;
        if bool::from(s.is_high()) {
            return Err(SignatureError::HighS);
        }
        Ok(Signature {
            r,
            s,
            r_bytes,
            y_odd,
        })
    }

    /// Parses `0x` + 130 hex digits.
    ///
    /// # Errors
    /// The [`SignatureError`] saying which rule failed.
    pub fn parse_hex(s: JsonStr<'_>) -> Result<Signature, SignatureError> {
        // A JSON string may spell its characters as escapes: read it as text
        // first (an escaped signature longer than any valid one is refused by
        // length below all the same).
        let mut text = [0u8; 2 + 2 * 65];
        let t = match s.as_str() {
            Some(t) => t,
            None => s.unescape_into(&mut text).map_err(|_| {
                // Longer than any signature: refused for what it holds first.
                let mut c = s.chars();
                let prefixed = c.next() == Some('0') && c.next() == Some('x');
                if prefixed && c.all(|c| c.is_ascii_hexdigit()) {
                    SignatureError::Length
                } else {
                    SignatureError::NotHex
                }
            })?,
        };
        let digits = t.strip_prefix("0x").ok_or(SignatureError::NotHex)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) || digits.len() % 2 != 0 {
            return Err(SignatureError::NotHex);
        }
        match digits.len() {
            128 => Err(SignatureError::Compact),
            130 => {
                let mut buf = [0u8; 65];
                base16ct::mixed::decode(digits, &mut buf).map_err(|_| SignatureError::NotHex)?;
                Signature::from_bytes(&buf)
            }
            _ => Err(SignatureError::Length),
        }
    }

    /// `r ‖ s ‖ v` with `v` of 27 or 28.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        if let Some(r) = out.get_mut(..32) {
            r.copy_from_slice(&self.r_bytes);
        }
        if let Some(s) = out.get_mut(32..64) {
            s.copy_from_slice(&self.s.to_repr());
        }
        out[64] = if self.y_odd { 28 } else { 27 };
        out
    }

    /// `0x` + 130 lower-case hex digits (v = 27/28).
    #[must_use]
    pub fn to_hex(&self) -> super::address::HexString<132> {
        let mut out = [0u8; 132];
        super::address::encode_prefixed_hex(&self.to_bytes(), &mut out);
        super::address::HexString(out)
    }

    /// `v` as 27 or 28.
    #[must_use]
    pub fn v(&self) -> u8 {
        if self.y_odd { 28 } else { 27 }
    }

    /// Recovers the signer's address from the digest it signed.
    ///
    /// With the feature `libsecp256k1`, through libsecp256k1
    /// (`secp256k1_ecdsa_recover`); otherwise on k256's point arithmetic
    /// ([`Signature::recover_with_k256`]). Both give the same answer for every
    /// signature and digest: the policy above is checked when the signature is
    /// parsed, and both refuse the same `r` (no curve point) and the same
    /// results (the point at infinity).
    ///
    /// # Errors
    /// [`SignatureError::Unrecoverable`] if `r` is not the x-coordinate of a curve
    /// point or the result is the point at infinity.
    pub fn recover(&self, digest: &[u8; 32]) -> Result<Address, SignatureError> {
        #[cfg(feature = "libsecp256k1")]
        {
            self.recover_with_libsecp256k1(digest)
        }
        #[cfg(not(feature = "libsecp256k1"))]
        {
            self.recover_with_k256(digest)
        }
    }

    /// [`Signature::recover`] on k256's point arithmetic, whatever the features:
    /// one multi-scalar multiplication, `Q = r⁻¹(s·R − z·G)`, with the
    /// generator's tables built once per process (feature
    /// `precomputed-tables`); unlike `VerifyingKey::recover_from_prehash` it
    /// does not re-verify the signature it has just recovered from (recovery
    /// already proves it: `Q` is by construction the one key this signature
    /// verifies under). Kept beside the libsecp256k1 path to compare the two.
    ///
    /// # Errors
    /// As [`Signature::recover`].
    #[doc(hidden)]
    pub fn recover_with_k256(&self, digest: &[u8; 32]) -> Result<Address, SignatureError> {
        let r_point = AffinePoint::decompress(
            &FieldBytes::from(self.r_bytes),
            Choice::from(u8::from(self.y_odd)),
        );
        let r_point: ProjectivePoint = Option::<AffinePoint>::from(r_point)
            .ok_or(SignatureError::Unrecoverable)?
            .into();
        let z = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(*digest));
        let r_inv =
            Option::<Scalar>::from(self.r.invert_vartime()).ok_or(SignatureError::Unrecoverable)?;
        let u1 = -(r_inv * z);
        let u2 = r_inv * self.s;
        let q = super::ecmult::mul_g_add_vartime(&u1, &u2, &r_point);
        address_of_point(&q).ok_or(SignatureError::Unrecoverable)
    }

    /// [`Signature::recover`] through libsecp256k1. `r` and `s` are in
    /// `[1, n-1]` (checked at parse), so the compact form always parses; the
    /// digest is reduced modulo `n` as k256 reduces it.
    #[cfg(feature = "libsecp256k1")]
    fn recover_with_libsecp256k1(&self, digest: &[u8; 32]) -> Result<Address, SignatureError> {
        use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
        let mut compact = [0u8; 64];
        let (r, s) = compact.split_at_mut(32);
        r.copy_from_slice(&self.r_bytes);
        s.copy_from_slice(&self.s.to_repr());
        let recid = RecoveryId::from_u8_masked(u8::from(self.y_odd));
        let sig = RecoverableSignature::from_compact(&compact, recid)
            .map_err(|_| SignatureError::Unrecoverable)?;
        let key = sig
            .recover_ecdsa(secp256k1::Message::from_digest(*digest))
            .map_err(|_| SignatureError::Unrecoverable)?;
        let encoded = key.serialize_uncompressed();
        let xy = encoded.get(1..).ok_or(SignatureError::Unrecoverable)?;
        Ok(address_of_coordinates(xy))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

fn nonzero_scalar(bytes: [u8; 32]) -> Option<Scalar> {
    let s = Option::<Scalar>::from(Scalar::from_repr(FieldBytes::from(bytes)))?;
    (!bool::from(s.is_zero())).then_some(s)
}

/// The Ethereum address of a public key point: the last 20 bytes of the
/// Keccak-256 of its uncompressed coordinates.
fn address_of_point(q: &ProjectivePoint) -> Option<Address> {
    if bool::from(q.is_identity()) {
        return None;
    }
    let encoded = q.to_affine().to_sec1_point(false);
    Some(address_of_coordinates(encoded.as_bytes().get(1..65)?))
}

/// The Ethereum address of the 64 bytes `x ‖ y` of a public key.
fn address_of_coordinates(xy: &[u8]) -> Address {
    let h = keccak256(xy);
    let mut a = [0u8; 20];
    if let Some(tail) = h.get(12..) {
        a.copy_from_slice(tail);
    }
    Address(a)
}

/// A secp256k1 private key. Zeroized on drop; `Debug` never shows it.
///
/// ```
/// use paywire::evm::signature::PrivateKey;
/// let key = PrivateKey::from_bytes(&[1u8; 32]).unwrap();
/// assert_eq!(format!("{key:?}"), "PrivateKey(<redacted>)");
/// let sig = key.sign_digest(&[7u8; 32]);
/// assert_eq!(sig.recover(&[7u8; 32]).unwrap(), key.address());
/// ```
#[derive(Clone)]
pub struct PrivateKey {
    d: NonZeroScalar,
}

impl Drop for PrivateKey {
    fn drop(&mut self) {
        self.d.zeroize();
    }
}

impl ZeroizeOnDrop for PrivateKey {}

impl PrivateKey {
    /// From 32 big-endian bytes.
    ///
    /// # Errors
    /// [`SignatureError::BadKey`] if zero or not below the curve order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<PrivateKey, SignatureError> {
        let d = NonZeroScalar::from_repr(FieldBytes::from(*bytes));
        Option::<NonZeroScalar>::from(d)
            .map(|d| PrivateKey { d })
            .ok_or(SignatureError::BadKey)
    }

    /// From `0x` + 64 hex digits (or 64 hex digits).
    ///
    /// # Errors
    /// [`SignatureError::BadKey`].
    pub fn from_hex(s: &str) -> Result<PrivateKey, SignatureError> {
        let s = s.trim();
        let digits = s.strip_prefix("0x").unwrap_or(s);
        let mut prefixed = [0u8; 66];
        prefixed[0] = b'0';
        prefixed[1] = b'x';
        let dst = prefixed
            .get_mut(2..2 + digits.len())
            .ok_or(SignatureError::BadKey)?;
        dst.copy_from_slice(digits.as_bytes());
        let text = core::str::from_utf8(prefixed.get(..2 + digits.len()).unwrap_or_default())
            .map_err(|_| SignatureError::BadKey)?;
        let mut bytes =
            super::address::decode_prefixed_hex::<32>(text).map_err(|_| SignatureError::BadKey)?;
        prefixed.zeroize();
        let key = PrivateKey::from_bytes(&bytes);
        bytes.zeroize();
        key
    }

    /// The key's Ethereum address (through libsecp256k1 where signing goes
    /// through it: see [`PrivateKey::sign_digest`]).
    #[must_use]
    pub fn address(&self) -> Address {
        #[cfg(all(feature = "libsecp256k1", not(feature = "precomputed-tables")))]
        {
            self.address_with_libsecp256k1()
        }
        #[cfg(not(all(feature = "libsecp256k1", not(feature = "precomputed-tables"))))]
        {
            self.address_with_k256()
        }
    }

    /// [`PrivateKey::address`] on k256's arithmetic, whatever the features.
    #[doc(hidden)]
    #[must_use]
    pub fn address_with_k256(&self) -> Address {
        let q = ProjectivePoint::mul_by_generator(&self.d);
        address_of_point(&q).unwrap_or_default()
    }

    /// [`PrivateKey::address`] through libsecp256k1.
    #[cfg(feature = "libsecp256k1")]
    #[doc(hidden)]
    #[must_use]
    pub fn address_with_libsecp256k1(&self) -> Address {
        self.with_libsecp256k1_key(|key| {
            let encoded = secp256k1::PublicKey::from_secret_key(key).serialize_uncompressed();
            encoded.get(1..).map(address_of_coordinates)
        })
        .unwrap_or_else(|| self.address_with_k256())
    }

    /// Signs a 32-byte digest: deterministic RFC 6979 nonce, low-s normalised,
    /// the recovery bit in `v`.
    ///
    /// With the feature `libsecp256k1` and without `precomputed-tables`,
    /// through libsecp256k1, which is then the faster (in wasm, `createPayment`
    /// takes about a fifth less time); otherwise on k256, which with its basepoint
    /// tables signs in a fifth fewer instructions than libsecp256k1 (whose safe
    /// API re-randomises its context after every signature: a second
    /// multiplication by the generator). Both give the same signature: RFC 6979
    /// with SHA-256, low s.
    #[must_use]
    pub fn sign_digest(&self, digest: &[u8; 32]) -> Signature {
        #[cfg(all(feature = "libsecp256k1", not(feature = "precomputed-tables")))]
        {
            self.sign_digest_with_libsecp256k1(digest)
        }
        #[cfg(not(all(feature = "libsecp256k1", not(feature = "precomputed-tables"))))]
        {
            self.sign_digest_with_k256(digest)
        }
    }

    /// [`PrivateKey::sign_digest`] on k256's arithmetic, whatever the features.
    #[doc(hidden)]
    #[must_use]
    pub fn sign_digest_with_k256(&self, digest: &[u8; 32]) -> Signature {
        let (sig, recid) = ecdsa::hazmat::sign_prehashed_rfc6979::<k256::Secp256k1, sha2::Sha256>(
            &self.d,
            digest,
            &[],
        );
        let (r, s) = sig.split_scalars();
        let r: Scalar = *r;
        let mut s: Scalar = *s;
        let mut y_odd = recid.is_y_odd();
        // k256 normalises s already; keep the invariant explicit.
        if bool::from(s.is_high()) {
            s = -s;
            y_odd = !y_odd;
        }
        Signature {
            r,
            s,
            r_bytes: r.to_repr().into(),
            y_odd,
        }
    }

    /// [`PrivateKey::sign_digest`] through libsecp256k1 (which signs low-s).
    #[cfg(feature = "libsecp256k1")]
    #[doc(hidden)]
    #[must_use]
    pub fn sign_digest_with_libsecp256k1(&self, digest: &[u8; 32]) -> Signature {
        self.with_libsecp256k1_key(|key| {
            let sig = secp256k1::ecdsa::RecoverableSignature::sign_ecdsa_recoverable(
                secp256k1::Message::from_digest(*digest),
                key,
            );
            let (recid, compact) = sig.serialize_compact();
            let (r, s) = compact.split_at(32);
            let r_bytes: [u8; 32] = r.try_into().ok()?;
            Some(Signature {
                r: nonzero_scalar(r_bytes)?,
                s: nonzero_scalar(s.try_into().ok()?)?,
                r_bytes,
                // Bit 1 (x ≥ n) is never set in practice (probability about
                // 2⁻¹²⁷) and has no place in `v`, as with k256.
                y_odd: recid.to_u8() & 1 == 1,
            })
        })
        .unwrap_or_else(|| self.sign_digest_with_k256(digest))
    }

    /// Runs `f` with the key as libsecp256k1's, erased afterwards.
    #[cfg(feature = "libsecp256k1")]
    fn with_libsecp256k1_key<T>(
        &self,
        f: impl FnOnce(&secp256k1::SecretKey) -> Option<T>,
    ) -> Option<T> {
        let mut bytes: [u8; 32] = self.d.to_repr().into();
        let key = secp256k1::SecretKey::from_secret_bytes(bytes);
        bytes.zeroize();
        let mut key = key.ok()?;
        let out = f(&key);
        key.non_secure_erase();
        out
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig_bytes(hex: &str) -> Vec<u8> {
        let h = hex.strip_prefix("0x").unwrap();
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn policy() {
        let key = PrivateKey::from_bytes(&[0x42; 32]).unwrap();
        let digest = [9u8; 32];
        let sig = key.sign_digest(&digest);
        let bytes = sig.to_bytes();
        assert_eq!(
            Signature::from_bytes(&bytes)
                .unwrap()
                .recover(&digest)
                .unwrap(),
            key.address()
        );
        // v = 0/1 accepted and equivalent.
        let mut v01 = bytes;
        v01[64] -= 27;
        assert_eq!(
            Signature::from_bytes(&v01)
                .unwrap()
                .recover(&digest)
                .unwrap(),
            key.address()
        );
        // v = 29 refused.
        let mut v29 = bytes;
        v29[64] = 29;
        assert_eq!(Signature::from_bytes(&v29), Err(SignatureError::BadV));
        // The high-s twin (s' = n - s, v flipped) recovers the same key mathematically, but is refused.
        let s = Option::<Scalar>::from(Scalar::from_repr(FieldBytes::from(
            <[u8; 32]>::try_from(&bytes[32..64]).unwrap(),
        )))
        .unwrap();
        let mut high = bytes;
        high[32..64].copy_from_slice(&(-s).to_repr());
        high[64] = if bytes[64] == 27 { 28 } else { 27 };
        assert_eq!(Signature::from_bytes(&high), Err(SignatureError::HighS));
        assert_eq!(
            Signature::from_bytes(&bytes[..64]),
            Err(SignatureError::Compact)
        );
        assert_eq!(
            Signature::from_bytes(&[0u8; 66]),
            Err(SignatureError::Length)
        );
        let mut zero_r = bytes;
        zero_r[..32].fill(0);
        assert_eq!(
            Signature::from_bytes(&zero_r),
            Err(SignatureError::OutOfRange)
        );
        let mut big_s = bytes;
        big_s[32..64].fill(0xff);
        assert_eq!(
            Signature::from_bytes(&big_s),
            Err(SignatureError::OutOfRange)
        );
        assert_eq!(
            PrivateKey::from_bytes(&[0u8; 32]).unwrap_err(),
            SignatureError::BadKey
        );
        assert_eq!(
            PrivateKey::from_bytes(&[0xff; 32]).unwrap_err(),
            SignatureError::BadKey
        );
    }

    #[test]
    fn spec_example_recovers_to_its_payer() {
        // scheme_exact_evm.md: the example authorization on Base Sepolia USDC.
        let sig = Signature::parse_hex(JsonStr::new("0x2d6a7588d6acca505cbf0d9a4a227e0c52c6c34008c8e8986a1283259764173608a2ce6496642e377d6da8dbbf5836e9bd15092f9ecab05ded3d6293af148b571c")).unwrap();
        let digest: [u8; 32] =
            sig_bytes("0xf256992871671abcb27ff92885a7afa46218724e5fc0bac35d050115aa1d22e6")
                .try_into()
                .unwrap();
        assert_eq!(
            sig.recover(&digest).unwrap().to_string(),
            "0x857b06519E91e3A54538791bDbb0E22373e36b66"
        );
    }

    #[test]
    fn parse_hex_rules() {
        assert_eq!(
            Signature::parse_hex(JsonStr::new("2d6a")),
            Err(SignatureError::NotHex)
        );
        assert_eq!(
            Signature::parse_hex(JsonStr::new("0x2d6g")),
            Err(SignatureError::NotHex)
        );
        assert_eq!(
            Signature::parse_hex(JsonStr::new("0x2d6")),
            Err(SignatureError::NotHex)
        );
        assert_eq!(
            Signature::parse_hex(JsonStr::new(&format!("0x{}", "11".repeat(64)))),
            Err(SignatureError::Compact)
        );
        assert_eq!(
            Signature::parse_hex(JsonStr::new(&format!("0x{}", "11".repeat(66)))),
            Err(SignatureError::Length)
        );
    }
}
