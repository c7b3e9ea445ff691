//! Token amounts (uint256) and unix times, as canonical decimal strings.
//!
//! The protocol carries amounts as decimal strings of atomic units. Only the
//! canonical form is accepted: digits only, no sign, no leading zero (but `"0"`),
//! no spaces, no exponent, no fraction, at most 2^256 − 1. JavaScript's `BigInt`
//! accepts `" 10"`, `"0x0a"` and `"010"`; a verifier that reads those must read
//! them as its facilitator does, so this crate refuses them instead.

use core::cmp::Ordering;
use core::fmt;

use crate::error::ErrorKind;

/// An unsigned 256-bit integer: a token amount in atomic units.
///
/// ```
/// use paywire::Amount;
/// let a: Amount = "10000".parse().unwrap();
/// assert_eq!(a, Amount::from(10_000u64));
/// assert!("010".parse::<Amount>().is_err());
/// assert_eq!(Amount::MAX.to_string(), "115792089237316195423570985008687907853269984665640564039457584007913129639935");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Amount {
    /// Little-endian 64-bit limbs.
    limbs: [u64; 4],
}

impl Amount {
    /// Zero.
    pub const ZERO: Amount = Amount { limbs: [0; 4] };
    /// 2^256 − 1.
    pub const MAX: Amount = Amount {
        limbs: [u64::MAX; 4],
    };

    /// Parses a canonical decimal string.
    ///
    /// # Errors
    /// [`ErrorKind::NotCanonical`] or [`ErrorKind::Overflow`].
    pub fn parse_decimal(s: &str) -> Result<Amount, ErrorKind> {
        check_canonical_digits(s)?;
        let mut limbs = [0u64; 4];
        for d in s.bytes() {
            let mut carry = u128::from(d - b'0');
            for limb in &mut limbs {
                let v = u128::from(*limb) * 10 + carry;
                *limb = v as u64;
                carry = v >> 64;
            }
            if carry != 0 {
                return Err(ErrorKind::Overflow);
            }
        }
        Ok(Amount { limbs })
    }

    /// From 32 big-endian bytes.
    #[must_use]
    pub fn from_be_bytes(b: [u8; 32]) -> Amount {
        let mut limbs = [0u64; 4];
        for (i, limb) in limbs.iter_mut().enumerate() {
            let mut w = [0u8; 8];
            let start = 24 - 8 * i;
            if let Some(src) = b.get(start..start + 8) {
                w.copy_from_slice(src);
            }
            *limb = u64::from_be_bytes(w);
        }
        Amount { limbs }
    }

    /// As 32 big-endian bytes (the ABI / EIP-712 encoding of a `uint256`).
    #[must_use]
    pub fn to_be_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, limb) in self.limbs.iter().enumerate() {
            let start = 24 - 8 * i;
            if let Some(dst) = out.get_mut(start..start + 8) {
                dst.copy_from_slice(&limb.to_be_bytes());
            }
        }
        out
    }

    /// The value as a `u64`, if it fits.
    #[must_use]
    pub fn to_u64(&self) -> Option<u64> {
        let [lo, a, b, c] = self.limbs;
        (a == 0 && b == 0 && c == 0).then_some(lo)
    }

    /// Whether this is zero.
    #[must_use]
    pub fn is_zero(&self) -> bool {
        self.limbs == [0; 4]
    }

    /// `self + rhs`, or `None` on overflow.
    #[must_use]
    pub fn checked_add(&self, rhs: &Amount) -> Option<Amount> {
        let mut out = [0u64; 4];
        let mut carry = 0u128;
        for (o, (a, b)) in out.iter_mut().zip(self.limbs.iter().zip(rhs.limbs.iter())) {
            let v = u128::from(*a) + u128::from(*b) + carry;
            *o = v as u64;
            carry = v >> 64;
        }
        (carry == 0).then_some(Amount { limbs: out })
    }

    /// `self - rhs`, or `None` if `rhs > self`.
    #[must_use]
    pub fn checked_sub(&self, rhs: &Amount) -> Option<Amount> {
        let mut out = [0u64; 4];
        let mut borrow = false;
        for (o, (a, b)) in out.iter_mut().zip(self.limbs.iter().zip(rhs.limbs.iter())) {
            let (v1, b1) = a.overflowing_sub(*b);
            let (v2, b2) = v1.overflowing_sub(u64::from(borrow));
            *o = v2;
            borrow = b1 || b2;
        }
        (!borrow).then_some(Amount { limbs: out })
    }

    /// Writes the decimal form into `buf` (78 bytes always suffice) and returns it.
    #[must_use]
    pub fn to_decimal<'b>(&self, buf: &'b mut [u8; 78]) -> &'b str {
        let mut limbs = self.limbs;
        let mut i = buf.len();
        loop {
            // Divide the 256-bit number by 10, most significant limb first.
            let mut rem = 0u128;
            for limb in limbs.iter_mut().rev() {
                let cur = (rem << 64) | u128::from(*limb);
                *limb = (cur / 10) as u64;
                rem = cur % 10;
            }
            i -= 1;
            if let Some(d) = buf.get_mut(i) {
                *d = b'0' + rem as u8;
            }
            if limbs == [0; 4] || i == 0 {
                break;
            }
        }
        buf.get(i..)
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("0")
    }
}

impl From<u64> for Amount {
    fn from(v: u64) -> Self {
        Amount {
            limbs: [v, 0, 0, 0],
        }
    }
}

impl From<u128> for Amount {
    fn from(v: u128) -> Self {
        Amount {
            limbs: [v as u64, (v >> 64) as u64, 0, 0],
        }
    }
}

impl Ord for Amount {
    fn cmp(&self, other: &Self) -> Ordering {
        self.limbs.iter().rev().cmp(other.limbs.iter().rev())
    }
}

impl PartialOrd for Amount {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl core::str::FromStr for Amount {
    type Err = ErrorKind;
    fn from_str(s: &str) -> Result<Self, ErrorKind> {
        Amount::parse_decimal(s)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.to_decimal(&mut [0u8; 78]))
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({self})")
    }
}

/// Checks the canonical decimal form shared by amounts and times.
fn check_canonical_digits(s: &str) -> Result<(), ErrorKind> {
    let b = s.as_bytes();
    match b {
        [] => Err(ErrorKind::NotCanonical("empty")),
        _ if !b.iter().all(u8::is_ascii_digit) => {
            Err(ErrorKind::NotCanonical("only the digits 0-9 are allowed"))
        }
        [b'0', _, ..] => Err(ErrorKind::NotCanonical("leading zero")),
        _ if b.len() > 78 => Err(ErrorKind::Overflow),
        _ => Ok(()),
    }
}

/// Parses a canonical decimal string into a `u64` (unix seconds, counts).
///
/// ```
/// assert_eq!(paywire::amount::parse_u64("1740672089"), Ok(1740672089));
/// assert!(paywire::amount::parse_u64("18446744073709551616").is_err());
/// ```
///
/// # Errors
/// [`ErrorKind::NotCanonical`] or [`ErrorKind::Overflow`].
pub fn parse_u64(s: &str) -> Result<u64, ErrorKind> {
    check_canonical_digits(s)?;
    s.bytes().try_fold(0u64, |acc, d| {
        acc.checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or(ErrorKind::Overflow)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_only() {
        for bad in [
            "", " 1", "1 ", "+1", "-1", "01", "00", "1e3", "1.0", "0x10", "１",
        ] {
            assert!(Amount::parse_decimal(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Amount::parse_decimal("0"), Ok(Amount::ZERO));
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(Amount::parse_decimal(max), Ok(Amount::MAX));
        let over = "115792089237316195423570985008687907853269984665640564039457584007913129639936";
        assert_eq!(Amount::parse_decimal(over), Err(ErrorKind::Overflow));
        assert_eq!(
            Amount::parse_decimal(&"9".repeat(79)),
            Err(ErrorKind::Overflow)
        );
    }

    #[test]
    fn arithmetic_and_bytes() {
        let a = Amount::from(u128::MAX);
        let one = Amount::from(1u64);
        let b = a.checked_add(&one).unwrap();
        assert_eq!(b.to_string(), "340282366920938463463374607431768211456");
        assert_eq!(b.checked_sub(&one), Some(a));
        assert_eq!(one.checked_sub(&b), None);
        assert_eq!(Amount::MAX.checked_add(&one), None);
        assert!(a < b && b > one);
        assert_eq!(Amount::from_be_bytes(b.to_be_bytes()), b);
        let mut be = [0u8; 32];
        be[31] = 1;
        assert_eq!(one.to_be_bytes(), be);
        assert_eq!(Amount::ZERO.to_string(), "0");
    }
}
