//! EIP-712 typed-data hashing for the structures x402 signs, without allocation.
//!
//! Type strings are constants; their type hashes are precomputed constants too
//! (a test checks each against Keccak-256 of its string), so a digest costs three
//! to five Keccak-256 permutations and nothing else.

use sha3::{Digest, Keccak256};

#[cfg(test)]
use super::B256;
use super::{Address, keccak256};
use crate::json::JsonStr;
use crate::types::payload::{Eip3009Authorization, Permit2Authorization};

/// `EIP712Domain` with a version (EIP-3009 tokens such as USDC).
pub const EIP712_DOMAIN_TYPE: &str =
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
/// `EIP712Domain` without a version (Permit2).
pub const EIP712_DOMAIN_NO_VERSION_TYPE: &str =
    "EIP712Domain(string name,uint256 chainId,address verifyingContract)";
/// EIP-3009's `TransferWithAuthorization`.
pub const TRANSFER_WITH_AUTHORIZATION_TYPE: &str = "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)";
/// Permit2's `TokenPermissions`.
pub const TOKEN_PERMISSIONS_TYPE: &str = "TokenPermissions(address token,uint256 amount)";
/// The `exact` scheme's Permit2 witness.
pub const WITNESS_EXACT_TYPE: &str = "Witness(address to,uint256 validAfter)";
/// The `upto` scheme's Permit2 witness.
pub const WITNESS_UPTO_TYPE: &str = "Witness(address to,address facilitator,uint256 validAfter)";
/// `PermitWitnessTransferFrom` with the `exact` witness (referenced types appended, sorted).
pub const PERMIT_WITNESS_TRANSFER_FROM_EXACT_TYPE: &str = "PermitWitnessTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline,Witness witness)TokenPermissions(address token,uint256 amount)Witness(address to,uint256 validAfter)";
/// `PermitWitnessTransferFrom` with the `upto` witness.
pub const PERMIT_WITNESS_TRANSFER_FROM_UPTO_TYPE: &str = "PermitWitnessTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline,Witness witness)TokenPermissions(address token,uint256 amount)Witness(address to,address facilitator,uint256 validAfter)";

/// Hex to bytes, for constants only: evaluated at compile time, where an
/// out-of-range index is a build error, not a runtime panic.
#[allow(clippy::indexing_slicing)]
pub(crate) const fn hex_bytes<const N: usize, const H: usize>(s: &[u8; H]) -> [u8; N] {
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = (nib(s[2 * i]) << 4) | nib(s[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nib(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => 0,
    }
}

/// keccak256 of [`EIP712_DOMAIN_TYPE`].
pub const EIP712_DOMAIN_TYPEHASH: [u8; 32] =
    hex_bytes(b"8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f");
/// keccak256 of [`EIP712_DOMAIN_NO_VERSION_TYPE`].
pub const EIP712_DOMAIN_NO_VERSION_TYPEHASH: [u8; 32] =
    hex_bytes(b"8cad95687ba82c2ce50e74f7b754645e5117c3a5bec8151c0726d5857980a866");
/// keccak256 of [`TRANSFER_WITH_AUTHORIZATION_TYPE`].
pub const TRANSFER_WITH_AUTHORIZATION_TYPEHASH: [u8; 32] =
    hex_bytes(b"7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267");
/// keccak256 of [`TOKEN_PERMISSIONS_TYPE`].
pub const TOKEN_PERMISSIONS_TYPEHASH: [u8; 32] =
    hex_bytes(b"618358ac3db8dc274f0cd8829da7e234bd48cd73c4a740aede1adec9846d06a1");
/// keccak256 of [`WITNESS_EXACT_TYPE`].
pub const WITNESS_EXACT_TYPEHASH: [u8; 32] =
    hex_bytes(b"d97b3239a7f32295517bd14cb074edfdd188dfe5eb42f802bb26d4fd1eb12c37");
/// keccak256 of [`WITNESS_UPTO_TYPE`].
pub const WITNESS_UPTO_TYPEHASH: [u8; 32] =
    hex_bytes(b"d4171c445a74218b01d4fd8af34ff1106580ea1e36ff837e64484bfaa2253b75");
/// keccak256 of [`PERMIT_WITNESS_TRANSFER_FROM_EXACT_TYPE`].
pub const PERMIT_WITNESS_TRANSFER_FROM_EXACT_TYPEHASH: [u8; 32] =
    hex_bytes(b"ebc156cd23678a74c94df13d772ef5478420637f0c94bd10d509e1dc98f521c7");
/// keccak256 of [`PERMIT_WITNESS_TRANSFER_FROM_UPTO_TYPE`].
pub const PERMIT_WITNESS_TRANSFER_FROM_UPTO_TYPEHASH: [u8; 32] =
    hex_bytes(b"51dff6974ad4388c499e7fcfe838d2bd767162553a144098ce20ea661d70c2ee");

/// The canonical Permit2 contract (same address on every chain).
pub const PERMIT2_ADDRESS: Address =
    Address(hex_bytes(b"000000000022d473030f116ddee9f6b43ac78ba3"));
/// The x402 `exact` Permit2 proxy: the `spender` of exact Permit2 payments.
pub const X402_EXACT_PERMIT2_PROXY: Address =
    Address(hex_bytes(b"402085c248eea27d92e8b30b2c58ed07f9e20001"));
/// The x402 `upto` Permit2 proxy: the `spender` of upto payments.
pub const X402_UPTO_PERMIT2_PROXY: Address =
    Address(hex_bytes(b"4020a4f3b7b90cca423b9fabcc0ce57c6c240002"));

/// Keccak-256 of the domain strings nearly every x402 payment uses (USDC's and
/// Permit2's names, the versions `"1"` and `"2"`), so that a domain separator
/// costs one Keccak-256 permutation instead of three. A test checks each.
const KNOWN_TEXT_HASHES: [(&str, [u8; 32]); 5] = [
    (
        "2",
        hex_bytes(b"ad7c5bef027816a800da1736444fb58a807ef4c9603b7848673f7e3a68eb14a5"),
    ),
    (
        "USD Coin",
        hex_bytes(b"52878b207aaddbfc15ea7bebcda681eb8ccd306e2227b61cef68505c8c056341"),
    ),
    (
        "USDC",
        hex_bytes(b"d6aca1be9729c13d677335161321649cccae6a591554772516700f986f942eaa"),
    ),
    (
        "Permit2",
        hex_bytes(b"9ac997416e8ff9d2ff6bebeb7149f65cdae5e32e2b90440b566bb3044041d36a"),
    ),
    (
        "1",
        hex_bytes(b"c89efdaa54c0f20c7adf612882df0950f5a951637e0307cdcb4c672f298b8bc6"),
    ),
];

/// A domain as the separator table below keys it: `(name, version, chainId,
/// verifyingContract)`.
type DomainKey = (&'static str, Option<&'static str>, u64, [u8; 20]);

/// Domain separators of the domains x402 payments mostly sign in (USDC and
/// Permit2 on Base and Base Sepolia), precomputed: each costs two Keccak-f
/// permutations otherwise, a tenth of what the rest of a verification hashes.
/// A test recomputes every entry, and the viem vectors cover them.
const KNOWN_SEPARATORS: [(DomainKey, [u8; 32]); 4] = [
    (
        (
            "USD Coin",
            Some("2"),
            8453,
            hex_bytes(b"833589fcd6edb6e08f4c7c32d4f71b54bda02913"),
        ),
        hex_bytes(b"02fa7265e7c5d81118673727957699e4d68f74cd74b7db77da710fe8a2c7834f"),
    ),
    (
        (
            "USDC",
            Some("2"),
            84532,
            hex_bytes(b"036cbd53842c5426634e7929541ec2318f3dcf7e"),
        ),
        hex_bytes(b"71f17a3b2ff373b803d70a5a07c046c1a2bc8e89c09ef722fcb047abe94c9818"),
    ),
    (
        (
            "Permit2",
            None,
            8453,
            hex_bytes(b"000000000022d473030f116ddee9f6b43ac78ba3"),
        ),
        hex_bytes(b"3b6f35e4fce979ef8eac3bcdc8c3fc38fe7911bb0c69c8fe72bf1fd1a17e6f07"),
    ),
    (
        (
            "Permit2",
            None,
            84532,
            hex_bytes(b"000000000022d473030f116ddee9f6b43ac78ba3"),
        ),
        hex_bytes(b"010f27a92fb9a32622f44f001dc4d15706a85b33499cfc2ce9033113ab26592c"),
    ),
];

/// Keccak-256 of a JSON string's decoded UTF-8 text (EIP-712 encodes `string`
/// members as the hash of their bytes).
#[must_use]
pub fn keccak_text(s: JsonStr<'_>) -> [u8; 32] {
    match s.as_str() {
        Some(text) => KNOWN_TEXT_HASHES
            .iter()
            .find(|(known, _)| *known == text)
            .map_or_else(|| keccak256(text.as_bytes()), |(_, h)| *h),
        None => {
            let mut h = Keccak256::new();
            let mut buf = [0u8; 4];
            for c in s.chars() {
                h.update(c.encode_utf8(&mut buf).as_bytes());
            }
            h.finalize().into()
        }
    }
}

fn u64_word(v: u64) -> [u8; 32] {
    let mut w = [0u8; 32];
    if let Some(tail) = w.get_mut(24..) {
        tail.copy_from_slice(&v.to_be_bytes());
    }
    w
}

/// Hashes 32-byte words in one Keccak-256 call.
fn hash_words<const N: usize>(words: [[u8; 32]; N]) -> [u8; 32] {
    let mut h = Keccak256::new();
    for w in &words {
        h.update(w);
    }
    h.finalize().into()
}

/// An EIP-712 domain: `name`, optional `version`, `chainId`, `verifyingContract`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Domain<'a> {
    /// `name`.
    pub name: JsonStr<'a>,
    /// `version`, absent for Permit2.
    pub version: Option<JsonStr<'a>>,
    /// `chainId`.
    pub chain_id: u64,
    /// `verifyingContract`.
    pub verifying_contract: Address,
}

impl<'a> Domain<'a> {
    /// The domain of an EIP-3009 token (`extra.name`, `extra.version`, the asset).
    #[must_use]
    pub fn eip3009(name: JsonStr<'a>, version: JsonStr<'a>, chain_id: u64, token: Address) -> Self {
        Domain {
            name,
            version: Some(version),
            chain_id,
            verifying_contract: token,
        }
    }

    /// The Permit2 domain on `chain_id`.
    #[must_use]
    pub fn permit2(chain_id: u64) -> Domain<'static> {
        Domain {
            name: JsonStr::new("Permit2"),
            version: None,
            chain_id,
            verifying_contract: PERMIT2_ADDRESS,
        }
    }

    /// `hashStruct(domain)`.
    #[must_use]
    pub fn separator(&self) -> [u8; 32] {
        if let Some(known) = self.known_separator() {
            return known;
        }
        self.computed_separator()
    }

    fn known_separator(&self) -> Option<[u8; 32]> {
        let name = self.name.as_str()?;
        let version = match self.version {
            Some(v) => Some(v.as_str()?),
            None => None,
        };
        KNOWN_SEPARATORS
            .iter()
            .find(|((n, v, c, a), _)| {
                *c == self.chain_id
                    && *a == self.verifying_contract.0
                    && *n == name
                    && *v == version
            })
            .map(|(_, sep)| *sep)
    }

    fn computed_separator(&self) -> [u8; 32] {
        let name = keccak_text(self.name);
        let chain = u64_word(self.chain_id);
        let contract = self.verifying_contract.to_word();
        match self.version {
            Some(v) => hash_words([
                EIP712_DOMAIN_TYPEHASH,
                name,
                keccak_text(v),
                chain,
                contract,
            ]),
            None => hash_words([EIP712_DOMAIN_NO_VERSION_TYPEHASH, name, chain, contract]),
        }
    }
}

/// The EIP-712 digest: `keccak256(0x19 0x01 ‖ domainSeparator ‖ structHash)`.
#[must_use]
pub fn digest(domain_separator: &[u8; 32], struct_hash: &[u8; 32]) -> [u8; 32] {
    let mut h = Keccak256::new();
    h.update([0x19, 0x01]);
    h.update(domain_separator);
    h.update(struct_hash);
    h.finalize().into()
}

/// `hashStruct(TransferWithAuthorization)`.
#[must_use]
pub fn transfer_with_authorization_hash(a: &Eip3009Authorization) -> [u8; 32] {
    hash_words([
        TRANSFER_WITH_AUTHORIZATION_TYPEHASH,
        a.from.to_word(),
        a.to.to_word(),
        a.value.to_be_bytes(),
        a.valid_after.to_be_bytes(),
        a.valid_before.to_be_bytes(),
        a.nonce.0,
    ])
}

/// The digest an EIP-3009 payer signs.
///
/// ```
/// use paywire::evm::eip712::{Domain, eip3009_digest};
/// use paywire::types::payload::Eip3009Authorization;
/// use paywire::json::JsonStr;
/// // The example of the exact-EVM scheme specification.
/// let auth = Eip3009Authorization {
///     from: "0x857b06519E91e3A54538791bDbb0E22373e36b66".parse().unwrap(),
///     to: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C".parse().unwrap(),
///     value: 10_000u64.into(),
///     valid_after: 1_740_672_089u64.into(),
///     valid_before: 1_740_672_154u64.into(),
///     nonce: "0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480".parse().unwrap(),
/// };
/// let usdc = "0x036CbD53842c5426634e7929541eC2318f3dCF7e".parse().unwrap();
/// let domain = Domain::eip3009(JsonStr::new("USDC"), JsonStr::new("2"), 84532, usdc);
/// let d = eip3009_digest(&domain, &auth);
/// assert_eq!(paywire::evm::B256(d).to_string(), "0xf256992871671abcb27ff92885a7afa46218724e5fc0bac35d050115aa1d22e6");
/// ```
#[must_use]
pub fn eip3009_digest(domain: &Domain<'_>, a: &Eip3009Authorization) -> [u8; 32] {
    digest(&domain.separator(), &transfer_with_authorization_hash(a))
}

/// `hashStruct(PermitWitnessTransferFrom)` with the exact witness (no
/// `facilitator`) or the upto witness (with one).
#[must_use]
pub fn permit_witness_transfer_from_hash(p: &Permit2Authorization) -> [u8; 32] {
    let permitted = hash_words([
        TOKEN_PERMISSIONS_TYPEHASH,
        p.permitted.token.to_word(),
        p.permitted.amount.to_be_bytes(),
    ]);
    let (typehash, witness) = match p.witness.facilitator {
        None => (
            PERMIT_WITNESS_TRANSFER_FROM_EXACT_TYPEHASH,
            hash_words([
                WITNESS_EXACT_TYPEHASH,
                p.witness.to.to_word(),
                p.witness.valid_after.to_be_bytes(),
            ]),
        ),
        Some(f) => (
            PERMIT_WITNESS_TRANSFER_FROM_UPTO_TYPEHASH,
            hash_words([
                WITNESS_UPTO_TYPEHASH,
                p.witness.to.to_word(),
                f.to_word(),
                p.witness.valid_after.to_be_bytes(),
            ]),
        ),
    };
    hash_words([
        typehash,
        permitted,
        p.spender.to_word(),
        p.nonce.to_be_bytes(),
        p.deadline.to_be_bytes(),
        witness,
    ])
}

/// The digest a Permit2 payer signs (exact or upto, by the witness).
#[must_use]
pub fn permit2_digest(chain_id: u64, p: &Permit2Authorization) -> [u8; 32] {
    digest(
        &Domain::permit2(chain_id).separator(),
        &permit_witness_transfer_from_hash(p),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_separators_are_the_computed_ones() {
        for ((name, version, chain_id, contract), sep) in KNOWN_SEPARATORS {
            let d = Domain {
                name: JsonStr::new(name),
                version: version.map(JsonStr::new),
                chain_id,
                verifying_contract: Address(contract),
            };
            assert_eq!(d.known_separator(), Some(sep), "{name}");
            assert_eq!(d.computed_separator(), sep, "{name} on {chain_id}");
            // Any other field and the table is not used.
            let other = Domain {
                chain_id: chain_id + 1,
                ..d
            };
            assert_eq!(other.known_separator(), None);
            assert_eq!(other.separator(), other.computed_separator());
        }
    }

    #[test]
    fn known_text_hashes_are_their_keccak() {
        for (text, h) in KNOWN_TEXT_HASHES {
            assert_eq!(keccak256(text.as_bytes()), h, "{text}");
            assert_eq!(keccak_text(JsonStr::new(text)), h);
        }
        assert_eq!(
            keccak_text(JsonStr::new("USD Coin ")),
            keccak256(b"USD Coin ")
        );
    }

    #[test]
    fn typehashes_are_hashes_of_their_type_strings() {
        for (s, h) in [
            (EIP712_DOMAIN_TYPE, EIP712_DOMAIN_TYPEHASH),
            (
                EIP712_DOMAIN_NO_VERSION_TYPE,
                EIP712_DOMAIN_NO_VERSION_TYPEHASH,
            ),
            (
                TRANSFER_WITH_AUTHORIZATION_TYPE,
                TRANSFER_WITH_AUTHORIZATION_TYPEHASH,
            ),
            (TOKEN_PERMISSIONS_TYPE, TOKEN_PERMISSIONS_TYPEHASH),
            (WITNESS_EXACT_TYPE, WITNESS_EXACT_TYPEHASH),
            (WITNESS_UPTO_TYPE, WITNESS_UPTO_TYPEHASH),
            (
                PERMIT_WITNESS_TRANSFER_FROM_EXACT_TYPE,
                PERMIT_WITNESS_TRANSFER_FROM_EXACT_TYPEHASH,
            ),
            (
                PERMIT_WITNESS_TRANSFER_FROM_UPTO_TYPE,
                PERMIT_WITNESS_TRANSFER_FROM_UPTO_TYPEHASH,
            ),
        ] {
            assert_eq!(keccak256(s.as_bytes()), h, "{s}");
        }
        // The spec's published typehash of TransferWithAuthorization.
        assert_eq!(
            B256(TRANSFER_WITH_AUTHORIZATION_TYPEHASH).to_string(),
            "0x7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267"
        );
        // Permit2 type strings are the primary type followed by the referenced types, sorted.
        assert_eq!(
            PERMIT_WITNESS_TRANSFER_FROM_EXACT_TYPE,
            ["PermitWitnessTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline,Witness witness)", TOKEN_PERMISSIONS_TYPE, WITNESS_EXACT_TYPE].concat()
        );
        assert_eq!(
            PERMIT_WITNESS_TRANSFER_FROM_UPTO_TYPE,
            ["PermitWitnessTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline,Witness witness)", TOKEN_PERMISSIONS_TYPE, WITNESS_UPTO_TYPE].concat()
        );
        assert_eq!(
            PERMIT2_ADDRESS.to_string(),
            "0x000000000022D473030F116dDEE9F6B43aC78BA3"
        );
        assert_eq!(
            X402_EXACT_PERMIT2_PROXY.to_string(),
            "0x402085c248EeA27D92E8b30b2C58ed07f9E20001"
        );
        assert_eq!(
            X402_UPTO_PERMIT2_PROXY.to_string(),
            "0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002"
        );
    }
}
