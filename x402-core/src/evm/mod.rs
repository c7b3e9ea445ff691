//! Ethereum building blocks: addresses, 32-byte words, Keccak-256, EIP-712
//! hashing and secp256k1 signatures.

pub mod abi;
mod address;
#[cfg(feature = "evm-batch")]
#[cfg_attr(docsrs, doc(cfg(feature = "evm-batch")))]
pub mod batch_settlement;
mod ecmult;
pub mod eip712;
pub mod rlp;
pub mod signature;
pub mod smart_wallet;
pub mod tx;
pub mod typed_data;

pub use address::{Address, B256, ChecksumAddress, HexString};
pub use signature::{PrivateKey, Signature, SignatureError};

use sha3::{Digest, Keccak256};

/// Keccak-256 of `data` (the Ethereum hash, not NIST SHA3-256).
///
/// ```
/// let h = paywire::evm::keccak256(b"");
/// assert_eq!(h[..4], [0xc5, 0xd2, 0x46, 0x01]);
/// ```
#[must_use]
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}

/// Keccak-256 over several slices, without concatenating them first.
#[must_use]
pub fn keccak256_concat(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Keccak256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}
