//! Smart-wallet payers: ERC-6492 wrapped signatures, ERC-1271 checks and
//! EIP-7702 delegations, read without a chain.
//!
//! A payer whose signature is not a 65-byte ECDSA signature recovering to the
//! payer is a contract (or a contract yet to be deployed). What only the chain
//! can tell — is there code at the payer, does its `isValidSignature` accept
//! the digest — is left to the host; this module says what to ask and reads
//! the answers:
//! - [`unwrap_erc6492`]: a signature ending in [`ERC6492_MAGIC_SUFFIX`] is
//!   `abi.encode(factory, factoryCalldata, innerSignature) ‖ suffix`: the
//!   wallet is deployed by calling `factory` with `factoryCalldata`, then
//!   checks `innerSignature`.
//! - [`classify`]: the payer's signature as the reference facilitator routes
//!   it: an EOA's, or a contract's (with the deployment a counterfactual
//!   wallet needs).
//! - [`is_valid_signature`] and [`is_erc1271_magic`]: the ERC-1271 call and
//!   its answer.
//! - [`eip7702_delegate`]: the code of an EOA delegated under EIP-7702.
//!
//! ```
//! use paywire::evm::smart_wallet::{unwrap_erc6492, ERC6492_MAGIC_SUFFIX};
//! // A plain 65-byte signature is not wrapped.
//! assert_eq!(unwrap_erc6492(&[0u8; 65]), Ok(None));
//! // A suffix without a valid encoding before it is an error, never a panic.
//! assert!(unwrap_erc6492(&ERC6492_MAGIC_SUFFIX).is_err());
//! ```

use core::fmt;

use super::abi::{self, AbiError};
use super::{Address, Signature};

/// The 32 bytes that end an ERC-6492 signature (`0x6492` sixteen times).
pub const ERC6492_MAGIC_SUFFIX: [u8; 32] = [
    0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92,
    0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92,
];

/// `isValidSignature(bytes32,bytes)`: its selector, which is also the value a
/// contract returns when it accepts the signature (ERC-1271).
pub const ERC1271_MAGIC_VALUE: [u8; 4] = [0x16, 0x26, 0xba, 0x7e];

/// The code of an EOA delegated under EIP-7702 starts with these bytes,
/// followed by the delegate's address.
pub const EIP7702_DELEGATION_PREFIX: [u8; 3] = [0xef, 0x01, 0x00];

/// Why an ERC-6492 signature (one that ends in the magic suffix) cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Erc6492Error {
    /// The words before the suffix are not `abi.encode(address, bytes, bytes)`.
    Abi(AbiError),
}

impl fmt::Display for Erc6492Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Erc6492Error::Abi(e) => write!(
                f,
                "ERC-6492 signature is not (factory, calldata, signature): {e}"
            ),
        }
    }
}

impl core::error::Error for Erc6492Error {}

/// An ERC-6492 signature, unwrapped; every slice borrows the signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Erc6492<'a> {
    /// The factory that deploys the wallet.
    pub factory: Address,
    /// The call to send to the factory.
    pub factory_calldata: &'a [u8],
    /// The signature the deployed wallet checks.
    pub signature: &'a [u8],
}

/// Unwraps an ERC-6492 signature: `Ok(None)` when `signature` does not end in
/// [`ERC6492_MAGIC_SUFFIX`] (it is used as it is).
///
/// # Errors
/// [`Erc6492Error`] when it ends in the suffix but what precedes it is not the
/// ABI encoding of `(address, bytes, bytes)` (offsets and lengths are checked
/// against the data; an address with dirty upper bytes is refused).
pub fn unwrap_erc6492(signature: &[u8]) -> Result<Option<Erc6492<'_>>, Erc6492Error> {
    let Some(body_len) = signature.len().checked_sub(ERC6492_MAGIC_SUFFIX.len()) else {
        return Ok(None);
    };
    let (body, suffix) = signature.split_at(body_len);
    if suffix != ERC6492_MAGIC_SUFFIX {
        return Ok(None);
    }
    let factory = abi::decode_address(body).map_err(Erc6492Error::Abi)?;
    let factory_calldata = abi::decode_bytes_at(body, 1).map_err(Erc6492Error::Abi)?;
    let inner = abi::decode_bytes_at(body, 2).map_err(Erc6492Error::Abi)?;
    Ok(Some(Erc6492 {
        factory,
        factory_calldata,
        signature: inner,
    }))
}

/// How a counterfactual wallet is deployed: the call its ERC-6492 signature names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deployment<'a> {
    /// The factory.
    pub factory: Address,
    /// The call to send to it.
    pub calldata: &'a [u8],
}

/// A payer's signature, routed the way the reference facilitator routes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayerSignature<'a> {
    /// A 65-byte ECDSA signature that recovers to the payer: an EOA, checked
    /// offline (low-s, `v` 27/28 or 0/1).
    Eoa(Signature),
    /// Anything else: the payer must be a contract that accepts `signature`
    /// (ERC-1271), or, with `deployment`, a wallet that the factory deploys
    /// at the payer's address when there is no code there yet (ERC-6492).
    Contract {
        /// What the wallet checks: the inner signature of an ERC-6492 wrapper
        /// naming a factory, else the signature as given.
        signature: &'a [u8],
        /// The deployment an ERC-6492 wrapper names (`None` without a wrapper,
        /// or when it names the zero address, which the reference treats as no
        /// deployment).
        deployment: Option<Deployment<'a>>,
    },
}

/// Routes `signature` of `payer` over `digest`: [`PayerSignature::Eoa`] when
/// it is a 65-byte ECDSA signature recovering to `payer`, else a contract's.
///
/// # Errors
/// [`Erc6492Error`] for a signature that ends in the ERC-6492 suffix but
/// cannot be unwrapped.
pub fn classify<'a>(
    signature: &'a [u8],
    digest: &[u8; 32],
    payer: &Address,
) -> Result<PayerSignature<'a>, Erc6492Error> {
    if let Ok(sig) = Signature::from_bytes(signature) {
        if sig.recover(digest).is_ok_and(|a| a == *payer) {
            return Ok(PayerSignature::Eoa(sig));
        }
    }
    Ok(match unwrap_erc6492(signature)? {
        Some(w) if w.factory != Address::default() => PayerSignature::Contract {
            signature: w.signature,
            deployment: Some(Deployment {
                factory: w.factory,
                calldata: w.factory_calldata,
            }),
        },
        // The reference keeps the whole signature when the wrapper names no factory.
        _ => PayerSignature::Contract {
            signature,
            deployment: None,
        },
    })
}

/// Length of [`is_valid_signature`]'s calldata for a signature of `sig_len` bytes.
#[must_use]
pub const fn is_valid_signature_len(sig_len: usize) -> usize {
    4 + 2 * 32 + 32 + sig_len.div_ceil(32) * 32
}

/// The calldata of ERC-1271 `isValidSignature(hash, signature)`.
///
/// # Errors
/// [`crate::json::BufferTooSmall`] with the length needed.
pub fn is_valid_signature(
    hash: &[u8; 32],
    signature: &[u8],
    out: &mut [u8],
) -> Result<usize, crate::json::BufferTooSmall> {
    abi::selector_call_bytes32_bytes(ERC1271_MAGIC_VALUE, hash, signature, out)
}

/// Whether an `isValidSignature` result accepts the signature: its first four
/// bytes are [`ERC1271_MAGIC_VALUE`] (as the reference reads the `bytes4`).
#[must_use]
pub fn is_erc1271_magic(result: &[u8]) -> bool {
    result.get(..4) == Some(&ERC1271_MAGIC_VALUE[..])
}

/// The delegate of an EOA delegated under EIP-7702: `Some` when `code` is
/// exactly `0xef0100 ‖ address`. The reference treats such an account as a
/// contract (any code means ERC-1271), and so does this crate; this only
/// names it.
#[must_use]
pub fn eip7702_delegate(code: &[u8]) -> Option<Address> {
    let rest = code.strip_prefix(&EIP7702_DELEGATION_PREFIX[..])?;
    <[u8; 20]>::try_from(rest).ok().map(Address)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(b: &[u8]) -> [u8; 32] {
        let mut w = [0u8; 32];
        w[32 - b.len()..].copy_from_slice(b);
        w
    }

    fn wrap(factory: [u8; 20], calldata: &[u8], sig: &[u8]) -> std::vec::Vec<u8> {
        let mut out = std::vec::Vec::new();
        out.extend_from_slice(&word(&factory));
        out.extend_from_slice(&word(&[0x60]));
        let cd_words = calldata.len().div_ceil(32);
        let sig_off = 0x60 + 32 + cd_words * 32;
        out.extend_from_slice(&word(&u64::try_from(sig_off).unwrap().to_be_bytes()));
        for (data, words) in [(calldata, cd_words), (sig, sig.len().div_ceil(32))] {
            out.extend_from_slice(&word(&u64::try_from(data.len()).unwrap().to_be_bytes()));
            let mut padded = data.to_vec();
            padded.resize(words * 32, 0);
            out.extend_from_slice(&padded);
        }
        out.extend_from_slice(&ERC6492_MAGIC_SUFFIX);
        out
    }

    #[test]
    fn suffix_is_6492_repeated() {
        assert_eq!(ERC6492_MAGIC_SUFFIX[..4], [0x64, 0x92, 0x64, 0x92]);
        assert_eq!(ERC6492_MAGIC_SUFFIX[30..], [0x64, 0x92]);
    }

    #[test]
    fn unwraps_and_refuses() {
        let w = wrap([0x11; 20], &[1, 2, 3], &[9; 70]);
        let u = unwrap_erc6492(&w).unwrap().unwrap();
        assert_eq!(u.factory, Address([0x11; 20]));
        assert_eq!(u.factory_calldata, &[1, 2, 3]);
        assert_eq!(u.signature, &[9; 70][..]);
        // Every truncation and every single-byte change either unwraps or errs.
        for n in 0..w.len() {
            let _ = unwrap_erc6492(&w[n..]);
            let _ = unwrap_erc6492(&w[..n]);
        }
        let mut dirty = w.clone();
        dirty[0] = 1;
        assert!(unwrap_erc6492(&dirty).is_err());
        let mut far = w.clone();
        far[63] = 0xff;
        assert!(unwrap_erc6492(&far).is_err());
        assert_eq!(unwrap_erc6492(&w[..w.len() - 1]), Ok(None));
    }

    #[test]
    fn classifies() {
        let key = crate::evm::PrivateKey::from_bytes(&[7; 32]).unwrap();
        let digest = [3u8; 32];
        let sig = key.sign_digest(&digest).to_bytes();
        let me = key.address();
        assert!(matches!(
            classify(&sig, &digest, &me),
            Ok(PayerSignature::Eoa(_))
        ));
        let other = Address([5; 20]);
        assert_eq!(
            classify(&sig, &digest, &other),
            Ok(PayerSignature::Contract {
                signature: &sig[..],
                deployment: None
            })
        );
        let w = wrap([0x11; 20], &[1, 2, 3], &sig);
        assert_eq!(
            classify(&w, &digest, &other),
            Ok(PayerSignature::Contract {
                signature: &sig[..],
                deployment: Some(Deployment {
                    factory: Address([0x11; 20]),
                    calldata: &[1, 2, 3]
                })
            })
        );
        let zero = wrap([0; 20], &[1], &sig);
        assert_eq!(
            classify(&zero, &digest, &other),
            Ok(PayerSignature::Contract {
                signature: &zero[..],
                deployment: None
            })
        );
    }

    #[test]
    fn erc1271_call_and_answer() {
        let mut out = [0u8; 256];
        let n = is_valid_signature(&[0xaa; 32], &[1, 2, 3], &mut out).unwrap();
        assert_eq!(n, is_valid_signature_len(3));
        assert_eq!(out[..4], ERC1271_MAGIC_VALUE);
        assert_eq!(out[4..36], [0xaa; 32]);
        assert_eq!(out[36 + 31], 0x40);
        assert_eq!(out[68 + 31], 3);
        assert_eq!(out[100..103], [1, 2, 3]);
        let mut answer = [0u8; 32];
        answer[..4].copy_from_slice(&ERC1271_MAGIC_VALUE);
        assert!(is_erc1271_magic(&answer));
        assert!(!is_erc1271_magic(&[0u8; 32]));
        assert!(!is_erc1271_magic(&[]));
    }

    #[test]
    fn eip7702() {
        let mut code = [0u8; 23];
        code[..3].copy_from_slice(&EIP7702_DELEGATION_PREFIX);
        code[3..].copy_from_slice(&[0x42; 20]);
        assert_eq!(eip7702_delegate(&code), Some(Address([0x42; 20])));
        assert_eq!(eip7702_delegate(&code[..22]), None);
        assert_eq!(eip7702_delegate(&[0x60, 0x80]), None);
    }
}
