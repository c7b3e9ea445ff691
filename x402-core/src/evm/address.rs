//! EVM addresses (EIP-55) and 32-byte hex words.

use core::fmt;

use super::keccak256;
use crate::error::ErrorKind;

/// Decodes `0x` + exactly `2N` hex digits (either case) into `N` bytes.
pub(crate) fn decode_prefixed_hex<const N: usize>(s: &str) -> Result<[u8; N], ErrorKind> {
    let digits = s
        .strip_prefix("0x")
        .ok_or(ErrorKind::Hex("must start with 0x"))?;
    if digits.len() != 2 * N {
        return Err(ErrorKind::Hex("wrong length"));
    }
    let mut out = [0u8; N];
    base16ct::mixed::decode(digits, &mut out).map_err(|_| ErrorKind::Hex("not a hex digit"))?;
    Ok(out)
}

/// Writes `0x` + lower-case hex of `bytes` into `out` (which must hold `2 + 2 * bytes.len()`).
pub(crate) fn encode_prefixed_hex<'b>(bytes: &[u8], out: &'b mut [u8]) -> &'b str {
    let n = 2 + 2 * bytes.len();
    let Some(out) = out.get_mut(..n) else {
        return "";
    };
    let (prefix, digits) = out.split_at_mut(2);
    prefix.copy_from_slice(b"0x");
    if base16ct::lower::encode(bytes, digits).is_err() {
        return "";
    }
    core::str::from_utf8(out).unwrap_or("")
}

/// A 20-byte EVM address.
///
/// Parsing accepts `0x` + 40 hex digits in all lower case, all upper case, or
/// mixed case with a valid EIP-55 checksum; a mixed-case string with a wrong
/// checksum is a typo detector firing, and is refused. [`fmt::Display`] writes
/// the EIP-55 form.
///
/// ```
/// use paywire::evm::Address;
/// let a: Address = "0x036cbd53842c5426634e7929541ec2318f3dcf7e".parse().unwrap();
/// assert_eq!(a.to_string(), "0x036CbD53842c5426634e7929541eC2318f3dCF7e");
/// assert!("0x036CbD53842c5426634e7929541eC2318f3dCF7E".parse::<Address>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// Parses with the EIP-55 rule above.
    ///
    /// # Errors
    /// [`ErrorKind::Hex`] or [`ErrorKind::Checksum`].
    pub fn parse(s: &str) -> Result<Address, ErrorKind> {
        let bytes = decode_prefixed_hex::<20>(s)?;
        let addr = Address(bytes);
        let digits = s.as_bytes().get(2..).unwrap_or_default();
        let has_lower = digits.iter().any(u8::is_ascii_lowercase);
        let has_upper = digits.iter().any(u8::is_ascii_uppercase);
        if has_lower && has_upper && addr.checksummed().as_str() != s {
            return Err(ErrorKind::Checksum);
        }
        Ok(addr)
    }

    /// The EIP-55 checksummed form.
    #[must_use]
    pub fn checksummed(&self) -> ChecksumAddress {
        let mut out = [0u8; 42];
        encode_prefixed_hex(&self.0, &mut out);
        let hash = keccak256(out.get(2..).unwrap_or_default());
        for (i, c) in out.iter_mut().skip(2).enumerate() {
            let nibble = hash
                .get(i / 2)
                .map_or(0, |h| if i % 2 == 0 { h >> 4 } else { h & 0xf });
            if c.is_ascii_lowercase() && nibble >= 8 {
                c.make_ascii_uppercase();
            }
        }
        ChecksumAddress(out)
    }

    /// The ABI encoding: 12 zero bytes then the address.
    #[must_use]
    pub fn to_word(&self) -> [u8; 32] {
        let mut w = [0u8; 32];
        if let Some(dst) = w.get_mut(12..) {
            dst.copy_from_slice(&self.0);
        }
        w
    }
}

impl core::str::FromStr for Address {
    type Err = ErrorKind;
    fn from_str(s: &str) -> Result<Self, ErrorKind> {
        Address::parse(s)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.checksummed().as_str())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

/// An address rendered as its 42-character EIP-55 string, on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ChecksumAddress([u8; 42]);

impl ChecksumAddress {
    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl fmt::Display for ChecksumAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ChecksumAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A 32-byte word written as `0x` + 64 hex digits: a nonce, a hash.
///
/// ```
/// use paywire::evm::B256;
/// let n: B256 = "0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480".parse().unwrap();
/// assert_eq!(n.0[0], 0xf3);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct B256(pub [u8; 32]);

impl B256 {
    /// Parses `0x` + 64 hex digits (either case).
    ///
    /// # Errors
    /// [`ErrorKind::Hex`].
    pub fn parse(s: &str) -> Result<B256, ErrorKind> {
        decode_prefixed_hex::<32>(s).map(B256)
    }

    /// Lower-case hex with `0x`, on the stack.
    #[must_use]
    pub fn to_hex(&self) -> HexString<66> {
        let mut out = [0u8; 66];
        encode_prefixed_hex(&self.0, &mut out);
        HexString(out)
    }
}

impl core::str::FromStr for B256 {
    type Err = ErrorKind;
    fn from_str(s: &str) -> Result<Self, ErrorKind> {
        B256::parse(s)
    }
}

impl fmt::Display for B256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.to_hex().as_str())
    }
}

impl fmt::Debug for B256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "B256({self})")
    }
}

/// `0x`-prefixed lower-case hex of fixed length `N`, on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HexString<const N: usize>(pub(crate) [u8; N]);

impl<const N: usize> HexString<N> {
    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl<const N: usize> fmt::Display for HexString<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> fmt::Debug for HexString<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eip55_spec_vectors() {
        // The four groups of examples given in EIP-55.
        for s in [
            "0x52908400098527886E0F7030069857D2E4169EE7",
            "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
            "0xde709f2102306220921060314715629080e2fb77",
            "0x27b1fdb04752bbc536007a920d24acb045561c26",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            let a = Address::parse(s).unwrap();
            assert!(a.to_string().eq_ignore_ascii_case(s));
            if s.bytes().any(|b| b.is_ascii_lowercase())
                && s.bytes().skip(2).any(|b| b.is_ascii_uppercase())
            {
                assert_eq!(a.to_string(), s);
            }
        }
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(
            Address::parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"),
            Err(ErrorKind::Checksum)
        );
        assert!(matches!(
            Address::parse("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"),
            Err(ErrorKind::Hex(_))
        ));
        assert!(matches!(
            Address::parse("0X5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"),
            Err(ErrorKind::Hex(_))
        ));
        assert!(matches!(
            Address::parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae"),
            Err(ErrorKind::Hex(_))
        ));
        assert!(matches!(
            Address::parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg"),
            Err(ErrorKind::Hex(_))
        ));
        assert!(matches!(B256::parse("0x00"), Err(ErrorKind::Hex(_))));
    }
}
