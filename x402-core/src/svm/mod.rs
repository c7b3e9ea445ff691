//! `exact` on Solana (`solana:*`): the payer's partly signed SPL token transfer.
//!
//! The payload is `{"transaction": base64}`: a legacy or v0 Solana
//! transaction whose fee payer (account 0, signature slot 0 left empty) is the
//! facilitator's `extra.feePayer`, and whose instructions follow a fixed
//! layout: `SetComputeUnitLimit`, `SetComputeUnitPrice`, a Token or Token-2022
//! `TransferChecked` to the associated token account of `payTo` for `asset`,
//! then only Memo or Lighthouse instructions.
//!
//! This module is the offline core of the scheme, behind the `svm` feature:
//! - [`Pubkey`] with base58, and the programs' addresses;
//! - a strict decoder of the wire transaction ([`tx`]);
//! - program-derived addresses and associated token accounts
//!   ([`find_program_address`], [`associated_token_address`]);
//! - offline verification with the reasons of `@x402/svm` 2.27, the chain's
//!   part owed as [`verify::ChainCheck`]s ([`verify`]);
//! - building and partly signing the payer's transaction ([`client`]).
//!
//! Nothing here allocates.

pub mod client;
pub mod reason;
pub mod tx;
pub mod verify;

pub use reason::SvmReason;

use core::fmt;
use sha2::{Digest, Sha256};

/// The scheme's name.
pub const SCHEME: &str = "exact";

/// A Solana address: 32 bytes, written in base58.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pubkey(pub [u8; 32]);

/// The longest base58 text of 32 bytes.
pub const PUBKEY_BASE58_MAX: usize = 44;
/// The longest base58 text of 64 bytes (a signature).
pub const SIGNATURE_BASE58_MAX: usize = 88;

impl Pubkey {
    /// Reads a base58 address: exactly 32 bytes, no more, no less.
    ///
    /// # Errors
    /// [`Base58Error`] for text that is not base58 of 32 bytes.
    pub fn parse(s: &str) -> Result<Pubkey, Base58Error> {
        if s.len() > PUBKEY_BASE58_MAX || s.len() < 32 {
            return Err(Base58Error);
        }
        let mut out = [0u8; 32];
        // One spare byte: a 33-byte value must fail, not be cut.
        let mut buf = [0u8; 33];
        match bs58::decode(s.as_bytes()).onto(&mut buf[..]) {
            Ok(32) => {
                out.copy_from_slice(buf.get(..32).ok_or(Base58Error)?);
                Ok(Pubkey(out))
            }
            _ => Err(Base58Error),
        }
    }

    /// Writes the address in base58 into `buf`, returning the text.
    pub fn to_base58<'b>(&self, buf: &'b mut [u8; PUBKEY_BASE58_MAX]) -> &'b str {
        let n = bs58::encode(&self.0).onto(&mut buf[..]).unwrap_or_default();
        core::str::from_utf8(buf.get(..n).unwrap_or_default()).unwrap_or_default()
    }

    /// The address as bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether the 32 bytes are the compressed form of a point of Curve25519
    /// (an Ed25519 public key may be; a program-derived address may not).
    #[must_use]
    pub fn is_on_curve(&self) -> bool {
        curve25519_dalek::edwards::CompressedEdwardsY(self.0)
            .decompress()
            .is_some()
    }
}

impl fmt::Display for Pubkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; PUBKEY_BASE58_MAX];
        f.write_str(self.to_base58(&mut buf))
    }
}

impl fmt::Debug for Pubkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pubkey({self})")
    }
}

impl crate::json::ToJson for Pubkey {
    fn write_json(&self, out: &mut dyn crate::json::Sink) -> Result<(), crate::json::SinkFull> {
        let mut buf = [0u8; PUBKEY_BASE58_MAX];
        crate::json::JsonStr::new(self.to_base58(&mut buf)).write_json(out)
    }
}

/// Writes a signature (64 bytes) in base58 into `buf`, returning the text: a
/// Solana transaction's id is its first signature so written.
pub fn signature_to_base58<'b>(
    signature: &[u8; 64],
    buf: &'b mut [u8; SIGNATURE_BASE58_MAX],
) -> &'b str {
    let n = bs58::encode(signature)
        .onto(&mut buf[..])
        .unwrap_or_default();
    core::str::from_utf8(buf.get(..n).unwrap_or_default()).unwrap_or_default()
}

/// Text that is not base58 of the expected length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Base58Error;

impl fmt::Display for Base58Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a base58 address")
    }
}

/// Decodes a base58 address at compile time (for the constants below).
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn pubkey_const(s: &str) -> Pubkey {
    const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let b = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < b.len() {
        let mut digit = 0;
        while digit < 58 && ALPHABET[digit] != b[i] {
            digit += 1;
        }
        assert!(digit < 58, "not base58");
        let mut carry = digit as u32;
        let mut j = 32;
        while j > 0 {
            j -= 1;
            carry += out[j] as u32 * 58;
            out[j] = carry as u8;
            carry >>= 8;
        }
        assert!(carry == 0, "more than 32 bytes");
        i += 1;
    }
    Pubkey(out)
}

/// The SPL Token program.
pub const TOKEN_PROGRAM: Pubkey = pubkey_const("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
/// The SPL Token-2022 program.
pub const TOKEN_2022_PROGRAM: Pubkey = pubkey_const("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb");
/// The associated token account program.
pub const ASSOCIATED_TOKEN_PROGRAM: Pubkey =
    pubkey_const("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL");
/// The compute budget program.
pub const COMPUTE_BUDGET_PROGRAM: Pubkey =
    pubkey_const("ComputeBudget111111111111111111111111111111");
/// The SPL Memo program (v2).
pub const MEMO_PROGRAM: Pubkey = pubkey_const("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr");
/// The Lighthouse program (wallets' assertion instructions).
pub const LIGHTHOUSE_PROGRAM: Pubkey = pubkey_const("L2TExMFKdjpN9kozasaurPirfHy9P8sbXoAN1qA3S95");

/// `TransferChecked`'s instruction tag in both token programs.
pub const IX_TRANSFER_CHECKED: u8 = 12;
/// `SetComputeUnitLimit`'s tag in the compute budget program.
pub const IX_SET_COMPUTE_UNIT_LIMIT: u8 = 2;
/// `SetComputeUnitPrice`'s tag in the compute budget program.
pub const IX_SET_COMPUTE_UNIT_PRICE: u8 = 3;

/// The highest compute unit price the reference accepts, micro-lamports.
pub const MAX_COMPUTE_UNIT_PRICE: u64 = 5_000_000;
/// The compute unit limit the reference client sets.
pub const DEFAULT_COMPUTE_UNIT_LIMIT: u32 = 20_000;
/// The compute unit price the reference client sets, micro-lamports.
pub const DEFAULT_COMPUTE_UNIT_PRICE: u64 = 1;
/// The longest `extra.memo` the reference client writes, bytes.
pub const MAX_MEMO_BYTES: usize = 256;

/// The program-derived address of `seeds` under `program` with `bump`, or
/// `None` when that hash is a curve point (no address for this bump).
#[must_use]
pub fn create_program_address(seeds: &[&[u8]], bump: u8, program: &Pubkey) -> Option<Pubkey> {
    let mut h = Sha256::new();
    for s in seeds {
        h.update(s);
    }
    h.update([bump]);
    h.update(program.0);
    h.update(b"ProgramDerivedAddress");
    let mut out = [0u8; 32];
    out.copy_from_slice(&h.finalize());
    let key = Pubkey(out);
    (!key.is_on_curve()).then_some(key)
}

/// Solana's `find_program_address`: the first bump from 255 down whose
/// address is off the curve, with that bump.
#[must_use]
pub fn find_program_address(seeds: &[&[u8]], program: &Pubkey) -> Option<(Pubkey, u8)> {
    (0..=u8::MAX)
        .rev()
        .find_map(|bump| create_program_address(seeds, bump, program).map(|k| (k, bump)))
}

/// The associated token account of `owner` for `mint` under `token_program`.
#[must_use]
pub fn associated_token_address(owner: &Pubkey, mint: &Pubkey, token_program: &Pubkey) -> Pubkey {
    // Some bump always gives an off-curve address (about half do); a miss on
    // all 256 has probability 2^-256.
    find_program_address(
        &[&owner.0, &token_program.0, &mint.0],
        &ASSOCIATED_TOKEN_PROGRAM,
    )
    .map(|(k, _)| k)
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_ids_round_trip() {
        for (k, s) in [
            (TOKEN_PROGRAM, "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"),
            (
                COMPUTE_BUDGET_PROGRAM,
                "ComputeBudget111111111111111111111111111111",
            ),
            (MEMO_PROGRAM, "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr"),
        ] {
            assert_eq!(Pubkey::parse(s).unwrap(), k);
            assert_eq!(std::format!("{k}"), s);
        }
        assert_eq!(
            Pubkey::parse("11111111111111111111111111111111").unwrap(),
            Pubkey([0; 32])
        );
    }

    #[test]
    fn base58_refuses_other_lengths() {
        assert!(Pubkey::parse("").is_err());
        assert!(Pubkey::parse("1111111111111111111111111111111").is_err());
        // 33 bytes.
        assert!(Pubkey::parse("JEKNVnkbo3jma5nREBBJCDoXFVeKkD56V3xKrvRmWxFGj").is_err());
        assert!(Pubkey::parse("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5D0").is_err());
    }

    #[test]
    fn usdc_associated_token_accounts() {
        // The USDC account of a well-known owner, as the ATA program derives it.
        let owner = Pubkey::parse("2wKupLR9q6wXYppw8Gr2NvWxKBUqm4PPJKkQfoxHDBg4").unwrap();
        let mint = Pubkey::parse("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v").unwrap();
        // As @solana/kit's getProgramDerivedAddress finds them (bumps 254, 255).
        let seeds: [&[u8]; 3] = [&owner.0, &TOKEN_PROGRAM.0, &mint.0];
        let (ata, bump) = find_program_address(&seeds, &ASSOCIATED_TOKEN_PROGRAM).unwrap();
        assert_eq!(
            (ata.to_string().as_str(), bump),
            ("3XZXfFJHF5ox3yPop16oqYfSWxLpkjsEuvTe2S67G2rj", 254)
        );
        assert!(!ata.is_on_curve());
        // Bump 255 of that address is on the curve: skipped.
        assert!(create_program_address(&seeds, 255, &ASSOCIATED_TOKEN_PROGRAM).is_none());
        assert_eq!(associated_token_address(&owner, &mint, &TOKEN_PROGRAM), ata);
        assert_eq!(
            associated_token_address(&owner, &mint, &TOKEN_2022_PROGRAM).to_string(),
            "H7BrdQ48x8XkXh3UXs7pvPxxF8Z5Ej1WyBwU2ZryzTBL"
        );
    }
}
