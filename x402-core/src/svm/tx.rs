//! A strict decoder of Solana wire transactions (legacy and v0), borrowing
//! from the input.
//!
//! [`Transaction::decode`] reads the whole layout once and checks what the
//! runtime's sanitizer checks, plus canonical encodings: canonical compact-u16
//! lengths, a known version byte, a header consistent with the keys, as many
//! signatures as required signers, every index in range, no program at index 0
//! or in a lookup table, no duplicate static key, no trailing bytes, and at
//! most [`MAX_TRANSACTION_SIZE`] bytes. After that the accessors cannot fail:
//! instructions are read again lazily from the checked bytes, nothing is
//! copied or allocated.

use core::fmt;

use super::Pubkey;

/// The largest transaction the network carries (the IPv6 minimum MTU less
/// headers), bytes.
pub const MAX_TRANSACTION_SIZE: usize = 1232;

/// Why bytes are not a well-formed transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// More than [`MAX_TRANSACTION_SIZE`] bytes.
    TooLarge,
    /// The bytes end inside a field.
    Truncated,
    /// A compact-u16 is not in its shortest form or exceeds `u16`.
    NonCanonicalLength,
    /// A version byte other than legacy or `0`.
    UnsupportedVersion(u8),
    /// The header is inconsistent with the keys (no signer, more signers or
    /// read-only accounts than keys, a read-only fee payer).
    InvalidHeader,
    /// The signature count differs from the header's required signers.
    SignatureCountMismatch,
    /// A static key appears twice.
    DuplicateKey,
    /// An instruction's program or account index is out of range, or its
    /// program is the fee payer or comes from a lookup table.
    IndexOutOfRange,
    /// A lookup table entry loads no address, or too many accounts in total.
    InvalidLookup,
    /// Bytes after the message.
    TrailingBytes,
}

impl DecodeError {
    /// A sentence for people.
    #[must_use]
    pub const fn message(self) -> &'static str {
        match self {
            DecodeError::TooLarge => "transaction larger than 1232 bytes",
            DecodeError::Truncated => "transaction truncated",
            DecodeError::NonCanonicalLength => "non-canonical compact-u16 length",
            DecodeError::UnsupportedVersion(_) => "unsupported message version",
            DecodeError::InvalidHeader => "message header inconsistent with its keys",
            DecodeError::SignatureCountMismatch => {
                "signature count differs from the required signers"
            }
            DecodeError::DuplicateKey => "duplicate account key",
            DecodeError::IndexOutOfRange => "instruction index out of range",
            DecodeError::InvalidLookup => "invalid address lookup table entry",
            DecodeError::TrailingBytes => "trailing bytes after the message",
        }
    }
}

impl DecodeError {
    /// The scheme's reason for it (every decoding failure is the same one).
    #[must_use]
    pub const fn reason(self) -> super::SvmReason {
        super::SvmReason::TransactionCouldNotBeDecoded
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// A cursor over the input; every read is checked.
#[derive(Clone, Copy)]
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.rest.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        let (&b, tail) = self.rest.split_first().ok_or(DecodeError::Truncated)?;
        self.rest = tail;
        Ok(b)
    }

    fn array32(&mut self) -> Result<&'a [u8; 32], DecodeError> {
        self.take(32)?
            .try_into()
            .map_err(|_| DecodeError::Truncated)
    }

    /// Solana's `short_vec` length: 1 to 3 bytes of 7 bits, little end first,
    /// in the shortest form, at most `u16::MAX`.
    fn compact_u16(&mut self) -> Result<usize, DecodeError> {
        let mut value: u32 = 0;
        for i in 0..3u32 {
            let b = self.u8()?;
            let bits = u32::from(b & 0x7f);
            if i == 2 && b > 0x03 {
                return Err(DecodeError::NonCanonicalLength);
            }
            value |= bits << (7 * i);
            if b & 0x80 == 0 {
                // A last byte of zero is a longer form of a shorter number.
                if i > 0 && b == 0 {
                    return Err(DecodeError::NonCanonicalLength);
                }
                return usize::try_from(value).map_err(|_| DecodeError::NonCanonicalLength);
            }
        }
        Err(DecodeError::NonCanonicalLength)
    }

    /// A compact-u16 length then that many items of `size` bytes.
    fn vec(&mut self, size: usize) -> Result<(usize, &'a [u8]), DecodeError> {
        let n = self.compact_u16()?;
        let bytes = self.take(n.checked_mul(size).ok_or(DecodeError::Truncated)?)?;
        Ok((n, bytes))
    }
}

/// The message's version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// No version byte.
    Legacy,
    /// `0x80`: version 0, with address lookup tables.
    V0,
}

/// The message header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Signatures required (the first keys).
    pub num_required_signatures: u8,
    /// Of those, how many are read-only (the last ones).
    pub num_readonly_signed: u8,
    /// Read-only unsigned keys (the last static keys).
    pub num_readonly_unsigned: u8,
}

/// One compiled instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instruction<'a> {
    /// The program's index among the static keys.
    pub program_index: u8,
    /// The accounts' indices (static keys, then lookup-table addresses).
    pub accounts: &'a [u8],
    /// The instruction data.
    pub data: &'a [u8],
}

/// One address lookup table entry of a v0 message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lookup<'a> {
    /// The table's address.
    pub table: &'a [u8; 32],
    /// Indices of the writable addresses it loads.
    pub writable: &'a [u8],
    /// Indices of the read-only addresses it loads.
    pub readonly: &'a [u8],
}

/// A decoded, sanitized transaction, borrowing the wire bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transaction<'a> {
    signatures: &'a [u8],
    message: &'a [u8],
    /// The message's version.
    pub version: Version,
    /// The message header.
    pub header: Header,
    keys: &'a [u8],
    /// The lifetime: a recent blockhash (or a durable nonce).
    pub recent_blockhash: &'a [u8; 32],
    num_instructions: usize,
    instructions: &'a [u8],
    num_lookups: usize,
    lookups: &'a [u8],
    num_lookup_addresses: usize,
}

impl<'a> Transaction<'a> {
    /// Decodes and sanitizes a wire transaction.
    ///
    /// # Errors
    /// The first [`DecodeError`] met.
    pub fn decode(bytes: &'a [u8]) -> Result<Transaction<'a>, DecodeError> {
        if bytes.len() > MAX_TRANSACTION_SIZE {
            return Err(DecodeError::TooLarge);
        }
        let mut r = Reader { rest: bytes };
        let (num_signatures, signatures) = r.vec(64)?;
        let message = r.rest;
        let first = r.u8()?;
        let (version, num_required) = if first & 0x80 != 0 {
            let v = first & 0x7f;
            if v != 0 {
                return Err(DecodeError::UnsupportedVersion(v));
            }
            (Version::V0, r.u8()?)
        } else {
            (Version::Legacy, first)
        };
        let header = Header {
            num_required_signatures: num_required,
            num_readonly_signed: r.u8()?,
            num_readonly_unsigned: r.u8()?,
        };
        let (num_keys, keys) = r.vec(32)?;
        let recent_blockhash = r.array32()?;
        let (num_instructions, instructions) = {
            let n = r.compact_u16()?;
            let after_len = r.rest;
            for _ in 0..n {
                r.u8()?;
                r.vec(1)?;
                r.vec(1)?;
            }
            let used = after_len.len().saturating_sub(r.rest.len());
            (n, after_len.get(..used).ok_or(DecodeError::Truncated)?)
        };
        let (num_lookups, lookups, num_lookup_addresses) = match version {
            Version::Legacy => (0, &[][..], 0usize),
            Version::V0 => {
                let n = r.compact_u16()?;
                let after_len = r.rest;
                let mut loaded = 0usize;
                for _ in 0..n {
                    r.array32()?;
                    let (w, _) = r.vec(1)?;
                    let (ro, _) = r.vec(1)?;
                    if w == 0 && ro == 0 {
                        return Err(DecodeError::InvalidLookup);
                    }
                    loaded = loaded.saturating_add(w).saturating_add(ro);
                }
                let used = after_len.len().saturating_sub(r.rest.len());
                (
                    n,
                    after_len.get(..used).ok_or(DecodeError::Truncated)?,
                    loaded,
                )
            }
        };
        if !r.rest.is_empty() {
            return Err(DecodeError::TrailingBytes);
        }

        // The header against the keys.
        let required = usize::from(header.num_required_signatures);
        if required == 0
            || header.num_readonly_signed >= header.num_required_signatures
            || required.saturating_add(usize::from(header.num_readonly_unsigned)) > num_keys
        {
            return Err(DecodeError::InvalidHeader);
        }
        if num_signatures != required {
            return Err(DecodeError::SignatureCountMismatch);
        }
        let total_keys = num_keys.saturating_add(num_lookup_addresses);
        if total_keys > 256 {
            return Err(DecodeError::InvalidLookup);
        }
        let tx = Transaction {
            signatures,
            message,
            version,
            header,
            keys,
            recent_blockhash,
            num_instructions,
            instructions,
            num_lookups,
            lookups,
            num_lookup_addresses,
        };
        // No key twice.
        for (i, a) in tx.keys().enumerate() {
            if tx.keys().skip(i.saturating_add(1)).any(|b| b == a) {
                return Err(DecodeError::DuplicateKey);
            }
        }
        // Programs are static keys other than the fee payer; accounts are in range.
        for ix in tx.instructions() {
            let p = usize::from(ix.program_index);
            if p == 0 || p >= num_keys {
                return Err(DecodeError::IndexOutOfRange);
            }
            if ix.accounts.iter().any(|&a| usize::from(a) >= total_keys) {
                return Err(DecodeError::IndexOutOfRange);
            }
        }
        Ok(tx)
    }

    /// The signatures, in key order (64 bytes each; all zero when not yet signed).
    pub fn signatures(&self) -> impl Iterator<Item = &'a [u8; 64]> + 'a {
        self.signatures
            .chunks_exact(64)
            .filter_map(|c| c.try_into().ok())
    }

    /// The signature of signer `i`.
    #[must_use]
    pub fn signature(&self, i: usize) -> Option<&'a [u8; 64]> {
        self.signatures().nth(i)
    }

    /// The serialized message: what every signature signs.
    #[must_use]
    pub const fn message_bytes(&self) -> &'a [u8] {
        self.message
    }

    /// The static account keys.
    pub fn keys(&self) -> impl Iterator<Item = Pubkey> + 'a {
        self.keys
            .chunks_exact(32)
            .filter_map(|c| <[u8; 32]>::try_from(c).ok().map(Pubkey))
    }

    /// The number of static account keys.
    #[must_use]
    pub const fn num_keys(&self) -> usize {
        self.keys.len() / 32
    }

    /// The static key at `index`; `None` past them (a lookup-table address).
    #[must_use]
    pub fn key(&self, index: usize) -> Option<Pubkey> {
        self.keys().nth(index)
    }

    /// The fee payer (key 0).
    #[must_use]
    pub fn fee_payer(&self) -> Pubkey {
        self.key(0).unwrap_or_default()
    }

    /// The number of instructions.
    #[must_use]
    pub const fn num_instructions(&self) -> usize {
        self.num_instructions
    }

    /// The instructions, in order.
    pub fn instructions(&self) -> Instructions<'a> {
        Instructions {
            r: Reader {
                rest: self.instructions,
            },
            left: self.num_instructions,
        }
    }

    /// Instruction `i`.
    #[must_use]
    pub fn instruction(&self, i: usize) -> Option<Instruction<'a>> {
        self.instructions().nth(i)
    }

    /// The number of address lookup table entries (v0).
    #[must_use]
    pub const fn num_lookups(&self) -> usize {
        self.num_lookups
    }

    /// The addresses the lookup tables load.
    #[must_use]
    pub const fn num_lookup_addresses(&self) -> usize {
        self.num_lookup_addresses
    }

    /// The address lookup table entries (v0).
    pub fn lookups(&self) -> impl Iterator<Item = Lookup<'a>> + 'a {
        let mut r = Reader { rest: self.lookups };
        let mut left = self.num_lookups;
        core::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left = left.saturating_sub(1);
            let table = r.array32().ok()?;
            let (_, writable) = r.vec(1).ok()?;
            let (_, readonly) = r.vec(1).ok()?;
            Some(Lookup {
                table,
                writable,
                readonly,
            })
        })
    }

    /// Whether key `index` must sign.
    #[must_use]
    pub fn is_signer(&self, index: usize) -> bool {
        index < usize::from(self.header.num_required_signatures)
    }

    /// SHA-256 of the message: what identifies a payment whatever its
    /// signatures (a facilitator keys its settlement record by it).
    #[must_use]
    pub fn message_hash(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut out = [0u8; 32];
        out.copy_from_slice(&Sha256::digest(self.message));
        out
    }
}

/// Writes `signature` into signature slot `slot` of the wire transaction
/// `wire` (slot 0: the fee payer's), after decoding it strictly.
///
/// # Errors
/// The [`DecodeError`] of a transaction that does not decode, or
/// [`DecodeError::IndexOutOfRange`] for a slot it does not have.
pub fn set_signature(
    wire: &mut [u8],
    slot: usize,
    signature: &[u8; 64],
) -> Result<(), DecodeError> {
    let (start, count) = {
        let tx = Transaction::decode(wire)?;
        let start = wire
            .len()
            .checked_sub(tx.message.len())
            .and_then(|n| n.checked_sub(tx.signatures.len()))
            .ok_or(DecodeError::Truncated)?;
        (start, tx.signatures.len() / 64)
    };
    if slot >= count {
        return Err(DecodeError::IndexOutOfRange);
    }
    let at = slot
        .checked_mul(64)
        .and_then(|o| o.checked_add(start))
        .ok_or(DecodeError::IndexOutOfRange)?;
    wire.get_mut(at..at.saturating_add(64))
        .ok_or(DecodeError::Truncated)?
        .copy_from_slice(signature);
    Ok(())
}

/// The instructions of a [`Transaction`].
#[derive(Clone, Copy)]
pub struct Instructions<'a> {
    r: Reader<'a>,
    left: usize,
}

impl<'a> Iterator for Instructions<'a> {
    type Item = Instruction<'a>;

    fn next(&mut self) -> Option<Instruction<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left = self.left.saturating_sub(1);
        let program_index = self.r.u8().ok()?;
        let (_, accounts) = self.r.vec(1).ok()?;
        let (_, data) = self.r.vec(1).ok()?;
        Some(Instruction {
            program_index,
            accounts,
            data,
        })
    }
}

/// Writes `n` as a canonical compact-u16 into `out`, returning the bytes used
/// (1 to 3), or `None` if `out` is too short.
pub fn write_compact_u16(n: u16, out: &mut [u8]) -> Option<usize> {
    let mut v = n;
    let mut i = 0;
    loop {
        let mut b = (v & 0x7f) as u8;
        v >>= 7;
        if v != 0 {
            b |= 0x80;
        }
        *out.get_mut(i)? = b;
        i += 1;
        if v == 0 {
            return Some(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compact(bytes: &[u8]) -> Result<usize, DecodeError> {
        Reader { rest: bytes }.compact_u16()
    }

    #[test]
    fn compact_u16_is_canonical() {
        assert_eq!(compact(&[0]), Ok(0));
        assert_eq!(compact(&[0x7f]), Ok(127));
        assert_eq!(compact(&[0x80, 0x01]), Ok(128));
        assert_eq!(compact(&[0xff, 0xff, 0x03]), Ok(65535));
        assert_eq!(compact(&[0x80, 0x00]), Err(DecodeError::NonCanonicalLength));
        assert_eq!(
            compact(&[0x81, 0x80, 0x00]),
            Err(DecodeError::NonCanonicalLength)
        );
        assert_eq!(
            compact(&[0xff, 0xff, 0x04]),
            Err(DecodeError::NonCanonicalLength)
        );
        assert_eq!(compact(&[0x80]), Err(DecodeError::Truncated));
        for n in [0u16, 1, 127, 128, 255, 16383, 16384, 65535] {
            let mut buf = [0u8; 3];
            let k = write_compact_u16(n, &mut buf).unwrap();
            assert_eq!(compact(&buf[..k]), Ok(usize::from(n)));
        }
    }

    /// A legacy message: 1 signer (fee payer), a program, one instruction.
    fn legacy() -> std::vec::Vec<u8> {
        let mut t = std::vec![1u8];
        t.extend([0u8; 64]);
        t.extend([1, 0, 1]); // header
        t.push(2); // keys
        t.extend([7u8; 32]);
        t.extend([9u8; 32]);
        t.extend([3u8; 32]); // blockhash
        t.push(1); // instructions
        t.extend([1, 1, 0, 2, 0xaa, 0xbb]);
        t
    }

    #[test]
    fn decodes_legacy() {
        let b = legacy();
        let tx = Transaction::decode(&b).unwrap();
        assert_eq!(tx.version, Version::Legacy);
        assert_eq!(tx.num_keys(), 2);
        assert_eq!(tx.fee_payer(), Pubkey([7; 32]));
        let ix = tx.instruction(0).unwrap();
        assert_eq!(
            (ix.program_index, ix.accounts, ix.data),
            (1, &[0u8][..], &[0xaa, 0xbb][..])
        );
        assert_eq!(tx.message_bytes(), &b[65..]);
    }

    #[test]
    fn signs_a_slot_in_place() {
        let mut b = legacy();
        let hash = Transaction::decode(&b).unwrap().message_hash();
        set_signature(&mut b, 0, &[5; 64]).unwrap();
        let tx = Transaction::decode(&b).unwrap();
        assert_eq!(tx.signature(0), Some(&[5; 64]));
        // The message, and so its hash, is untouched.
        assert_eq!(tx.message_hash(), hash);
        assert_eq!(
            set_signature(&mut b, 1, &[5; 64]),
            Err(DecodeError::IndexOutOfRange)
        );
        let mut t = b.clone();
        t.push(0);
        assert_eq!(
            set_signature(&mut t, 0, &[6; 64]),
            Err(DecodeError::TrailingBytes)
        );
    }

    #[test]
    fn refuses_malformed() {
        let b = legacy();
        let mut t = b.clone();
        t.push(0);
        assert_eq!(Transaction::decode(&t), Err(DecodeError::TrailingBytes));
        for n in 0..b.len() {
            assert!(Transaction::decode(&b[..n]).is_err(), "{n}");
        }
        let mut t = b.clone();
        t[0] = 2;
        assert!(Transaction::decode(&t).is_err());
        let mut t = b.clone();
        t[65 + 3 + 1 + 32..65 + 3 + 1 + 64].copy_from_slice(&[7u8; 32]);
        assert_eq!(Transaction::decode(&t), Err(DecodeError::DuplicateKey));
        let mut t = b.clone();
        let n = t.len();
        t[n - 6] = 0; // program = fee payer
        assert_eq!(Transaction::decode(&t), Err(DecodeError::IndexOutOfRange));
        let mut t = b.clone();
        t[n - 4] = 2; // account out of range
        assert_eq!(Transaction::decode(&t), Err(DecodeError::IndexOutOfRange));
        let mut t = b.clone();
        t[65] = 0x81;
        assert_eq!(
            Transaction::decode(&t),
            Err(DecodeError::UnsupportedVersion(1))
        );
        assert_eq!(
            Transaction::decode(&[0u8; 1233]),
            Err(DecodeError::TooLarge)
        );
    }
}
