//! `batch-settlement` on EVM (`eip155:*`): payment channels held by the x402
//! batch-settlement contract, paid with cumulative vouchers.
//!
//! A payer deposits into a channel (an EIP-3009 `receiveWithAuthorization` or a
//! Permit2 witness transfer, pulled by a deposit collector), then pays each
//! request with a [`Voucher`]: an EIP-712 signature over the channel id and the
//! cumulative amount the receiver may claim. The receiver's authorizer later
//! claims many vouchers in one `claimWithSignature` and sweeps the claimed funds
//! with `settle`; what is left is refunded with a receiver-authorized `Refund`.
//!
//! This module is the offline core of the scheme, behind the `evm-batch`
//! feature:
//! - the constants and EIP-712 hashes ([`channel_id`], [`voucher_digest`],
//!   [`refund_digest`], [`claim_batch_digest`], the deposit authorizations'
//!   digests), as `@x402/evm` 2.27 computes them;
//! - strict parsing and writing of the payloads and the requirements' `extra`
//!   ([`types`]);
//! - offline verification with the reference's reasons, the chain's part owed
//!   as [`verify::ChainCheck`]s ([`verify`]);
//! - the resource server's decision per channel: accept, ask the facilitator,
//!   or refuse with the corrective 402's state ([`server`]);
//! - payload creation with a [`PrivateKey`](crate::evm::PrivateKey) ([`client`]);
//! - the contract's calls a facilitator makes, ABI-encoded, and its state
//!   reads decoded ([`abi`]);
//! - the channel manager's requests (claiming what was charged, sweeping the
//!   claimed funds to the receiver) and the reading of their answers
//!   ([`manager`]).
//!
//! It is not the `batch` module's `batch-settlement` on `cloudflare:402`, a
//! different scheme under the same name.

pub mod abi;
pub mod client;
pub mod manager;
pub mod reason;
pub mod server;
pub mod settlement;
pub mod types;
pub mod verify;

pub use reason::BatchReason;
pub use types::{
    BatchExtra, BatchPayload, ChannelConfig, ChannelState, ChannelStateExtra, Deposit,
    DepositAuthorization, DepositPayload, Erc3009DepositAuthorization, PayloadType,
    PaymentResponseExtra, Permit2DepositAuthorization, RefundPayload, Voucher, VoucherPayload,
    VoucherState,
};

use crate::amount::Amount;
use crate::evm::eip712::{self, Domain};
use crate::evm::{Address, B256, keccak256, keccak256_concat};
use crate::json::JsonStr;

/// The scheme's name.
pub const SCHEME: &str = "batch-settlement";

/// The batch-settlement contract (the same address on every chain).
pub const BATCH_SETTLEMENT_ADDRESS: Address = Address(eip712::hex_bytes(
    b"4020074e9df2ce1dee5a9c1b5c3f541d02a10003",
));
/// The deposit collector that pulls EIP-3009 `receiveWithAuthorization` deposits.
pub const ERC3009_DEPOSIT_COLLECTOR_ADDRESS: Address = Address(eip712::hex_bytes(
    b"4020806089470a89826cb9fb1f4059150b550004",
));
/// The deposit collector that pulls Permit2 witness-transfer deposits.
pub const PERMIT2_DEPOSIT_COLLECTOR_ADDRESS: Address = Address(eip712::hex_bytes(
    b"4020425faf3b746c082c2f942b4e5159887b0005",
));
/// The contract's EIP-712 domain name.
pub const DOMAIN_NAME: &str = "x402 Batch Settlement";
/// The contract's EIP-712 domain version.
pub const DOMAIN_VERSION: &str = "1";
/// Shortest `withdrawDelay` the contract accepts, seconds (15 minutes).
pub const MIN_WITHDRAW_DELAY: u64 = 900;
/// Longest `withdrawDelay` the contract accepts, seconds (30 days).
pub const MAX_WITHDRAW_DELAY: u64 = 2_592_000;

/// `ChannelConfig(...)`, whose hash under the contract's domain is the channel id.
pub const CHANNEL_CONFIG_TYPE: &str = "ChannelConfig(address payer,address payerAuthorizer,address receiver,address receiverAuthorizer,address token,uint40 withdrawDelay,bytes32 salt)";
/// `Voucher(...)`: the payer's signed cumulative ceiling.
pub const VOUCHER_TYPE: &str = "Voucher(bytes32 channelId,uint128 maxClaimableAmount)";
/// `Refund(...)`: the receiver authorizer's consent to a refund.
pub const REFUND_TYPE: &str = "Refund(bytes32 channelId,uint256 nonce,uint128 amount)";
/// `ClaimEntry(...)`, one channel of a `ClaimBatch`.
pub const CLAIM_ENTRY_TYPE: &str =
    "ClaimEntry(bytes32 channelId,uint128 maxClaimableAmount,uint128 totalClaimed)";
/// `ClaimBatch(...)`: the receiver authorizer's consent to a batch of claims.
pub const CLAIM_BATCH_TYPE: &str = "ClaimBatch(ClaimEntry[] claims)ClaimEntry(bytes32 channelId,uint128 maxClaimableAmount,uint128 totalClaimed)";
/// EIP-3009 `ReceiveWithAuthorization(...)`, the EIP-3009 deposit's signed transfer.
pub const RECEIVE_WITH_AUTHORIZATION_TYPE: &str = "ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)";
/// Permit2 `PermitWitnessTransferFrom` with the deposit's witness (the channel id).
pub const PERMIT_WITNESS_DEPOSIT_TYPE: &str = "PermitWitnessTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline,DepositWitness witness)DepositWitness(bytes32 channelId)TokenPermissions(address token,uint256 amount)";
/// `DepositWitness(bytes32 channelId)`.
pub const DEPOSIT_WITNESS_TYPE: &str = "DepositWitness(bytes32 channelId)";

/// The contract's EIP-712 domain on `chain_id`.
#[must_use]
pub fn domain(chain_id: u64) -> Domain<'static> {
    Domain {
        name: JsonStr::new(DOMAIN_NAME),
        version: Some(JsonStr::new(DOMAIN_VERSION)),
        chain_id,
        verifying_contract: BATCH_SETTLEMENT_ADDRESS,
    }
}

// The constant parts of the hashes, precomputed (checked in the tests).
const DOMAIN_NAME_HASH: [u8; 32] =
    eip712::hex_bytes(b"e03c502b9066cc6f23a8f0f48ed32cb7d506f9f0a2d0055449f256846a770e9a");
const DOMAIN_VERSION_HASH: [u8; 32] =
    eip712::hex_bytes(b"c89efdaa54c0f20c7adf612882df0950f5a951637e0307cdcb4c672f298b8bc6");
const CHANNEL_CONFIG_TYPEHASH: [u8; 32] =
    eip712::hex_bytes(b"1c9a06ceab9b0ebbd3301dc56c9111bb6d9af421356dc9ccb3b7084c755db308");
const VOUCHER_TYPEHASH: [u8; 32] =
    eip712::hex_bytes(b"1e1bd6ff84c3e0d9029a292b212e039c0ca97ec497c55191a4a5874294609a69");
const REFUND_TYPEHASH: [u8; 32] =
    eip712::hex_bytes(b"be23ad087435072cd69b49cc5b92de10ee610fce7ae0ab428307972d764bb216");
/// The domain separators on Base and Base Sepolia.
const KNOWN_SEPARATORS: [(u64, [u8; 32]); 2] = [
    (
        8453,
        eip712::hex_bytes(b"d8d982716899b0e20cf2c1e706a37b8a892c83fdd4ac9b540cfeec11f9c73a39"),
    ),
    (
        84532,
        eip712::hex_bytes(b"fdef80764086b1e0fc6ba99f0cb9aa1d59109fda7c23d60334c89d2de44dffce"),
    ),
];

/// The contract's domain separator on `chain_id`.
#[must_use]
pub fn domain_separator(chain_id: u64) -> [u8; 32] {
    if let Some((_, s)) = KNOWN_SEPARATORS.iter().find(|(c, _)| *c == chain_id) {
        return *s;
    }
    keccak256_concat(&[
        &eip712::EIP712_DOMAIN_TYPEHASH,
        &DOMAIN_NAME_HASH,
        &DOMAIN_VERSION_HASH,
        &u64_word(chain_id),
        &BATCH_SETTLEMENT_ADDRESS.to_word(),
    ])
}

fn u64_word(v: u64) -> [u8; 32] {
    Amount::from(v).to_be_bytes()
}

/// `hashStruct(ChannelConfig)`.
#[must_use]
pub fn channel_config_hash(c: &ChannelConfig) -> [u8; 32] {
    keccak256_concat(&[
        &CHANNEL_CONFIG_TYPEHASH,
        &c.payer.to_word(),
        &c.payer_authorizer.to_word(),
        &c.receiver.to_word(),
        &c.receiver_authorizer.to_word(),
        &c.token.to_word(),
        &u64_word(c.withdraw_delay),
        &c.salt.0,
    ])
}

/// The channel id: the EIP-712 digest of the [`ChannelConfig`] under the
/// contract's domain on `chain_id`.
#[must_use]
pub fn channel_id(c: &ChannelConfig, chain_id: u64) -> B256 {
    B256(eip712::digest(
        &domain_separator(chain_id),
        &channel_config_hash(c),
    ))
}

/// `hashStruct(Voucher)`.
#[must_use]
pub fn voucher_hash(channel_id: &B256, max_claimable_amount: &Amount) -> [u8; 32] {
    keccak256_concat(&[
        &VOUCHER_TYPEHASH,
        &channel_id.0,
        &max_claimable_amount.to_be_bytes(),
    ])
}

/// The digest a voucher signs.
#[must_use]
pub fn voucher_digest(chain_id: u64, channel_id: &B256, max_claimable_amount: &Amount) -> [u8; 32] {
    eip712::digest(
        &domain_separator(chain_id),
        &voucher_hash(channel_id, max_claimable_amount),
    )
}

/// The digest a receiver authorizer signs to allow refunding `amount` from a
/// channel whose refund nonce is `nonce`.
#[must_use]
pub fn refund_digest(
    chain_id: u64,
    channel_id: &B256,
    nonce: &Amount,
    amount: &Amount,
) -> [u8; 32] {
    let h = keccak256_concat(&[
        &REFUND_TYPEHASH,
        &channel_id.0,
        &nonce.to_be_bytes(),
        &amount.to_be_bytes(),
    ]);
    eip712::digest(&domain_separator(chain_id), &h)
}

/// One channel of a claim batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimEntry {
    /// The channel.
    pub channel_id: B256,
    /// The voucher's cumulative ceiling.
    pub max_claimable_amount: Amount,
    /// The channel's claimed total after this claim.
    pub total_claimed: Amount,
}

/// `hashStruct(ClaimEntry)`.
#[must_use]
pub fn claim_entry_hash(e: &ClaimEntry) -> [u8; 32] {
    keccak256_concat(&[
        &keccak256(CLAIM_ENTRY_TYPE.as_bytes()),
        &e.channel_id.0,
        &e.max_claimable_amount.to_be_bytes(),
        &e.total_claimed.to_be_bytes(),
    ])
}

/// The digest a receiver authorizer signs for `claimWithSignature` over `claims`.
#[must_use]
pub fn claim_batch_digest(chain_id: u64, claims: &[ClaimEntry]) -> [u8; 32] {
    let mut h = <sha3::Keccak256 as sha3::Digest>::new();
    for e in claims {
        sha3::Digest::update(&mut h, claim_entry_hash(e));
    }
    let array: [u8; 32] = sha3::Digest::finalize(h).into();
    let s = keccak256_concat(&[&keccak256(CLAIM_BATCH_TYPE.as_bytes()), &array]);
    eip712::digest(&domain_separator(chain_id), &s)
}

/// The EIP-3009 nonce of a deposit: `keccak256(abi.encode(channelId, salt))`.
#[must_use]
pub fn erc3009_deposit_nonce(channel_id: &B256, salt: &B256) -> B256 {
    B256(keccak256_concat(&[&channel_id.0, &salt.0]))
}

/// The EIP-3009 `ReceiveWithAuthorization` digest an EIP-3009 deposit signs:
/// from the payer to the EIP-3009 deposit collector, under the token's domain
/// (`extra.name`, `extra.version`).
#[must_use]
#[allow(clippy::too_many_arguments)]
pub fn receive_with_authorization_digest(
    token_domain: &Domain<'_>,
    payer: &Address,
    value: &Amount,
    valid_after: &Amount,
    valid_before: &Amount,
    nonce: &B256,
) -> [u8; 32] {
    let h = keccak256_concat(&[
        &keccak256(RECEIVE_WITH_AUTHORIZATION_TYPE.as_bytes()),
        &payer.to_word(),
        &ERC3009_DEPOSIT_COLLECTOR_ADDRESS.to_word(),
        &value.to_be_bytes(),
        &valid_after.to_be_bytes(),
        &valid_before.to_be_bytes(),
        &nonce.0,
    ]);
    eip712::digest(&token_domain.separator(), &h)
}

/// The Permit2 digest a Permit2 deposit signs.
#[must_use]
pub fn permit2_deposit_digest(chain_id: u64, a: &Permit2DepositAuthorization<'_>) -> [u8; 32] {
    let permitted = keccak256_concat(&[
        &keccak256(eip712::TOKEN_PERMISSIONS_TYPE.as_bytes()),
        &a.token.to_word(),
        &a.amount.to_be_bytes(),
    ]);
    let witness = keccak256_concat(&[
        &keccak256(DEPOSIT_WITNESS_TYPE.as_bytes()),
        &a.witness_channel_id.0,
    ]);
    let h = keccak256_concat(&[
        &keccak256(PERMIT_WITNESS_DEPOSIT_TYPE.as_bytes()),
        &permitted,
        &a.spender.to_word(),
        &a.nonce.to_be_bytes(),
        &a.deadline.to_be_bytes(),
        &witness,
    ]);
    eip712::digest(&Domain::permit2(chain_id).separator(), &h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precomputed_hashes_are_the_hashes_of_their_text() {
        assert_eq!(DOMAIN_NAME_HASH, keccak256(DOMAIN_NAME.as_bytes()));
        assert_eq!(DOMAIN_VERSION_HASH, keccak256(DOMAIN_VERSION.as_bytes()));
        assert_eq!(
            CHANNEL_CONFIG_TYPEHASH,
            keccak256(CHANNEL_CONFIG_TYPE.as_bytes())
        );
        assert_eq!(VOUCHER_TYPEHASH, keccak256(VOUCHER_TYPE.as_bytes()));
        assert_eq!(REFUND_TYPEHASH, keccak256(REFUND_TYPE.as_bytes()));
        for chain in [1, 137, 8453, 84532, u64::MAX] {
            assert_eq!(
                domain_separator(chain),
                domain(chain).separator(),
                "{chain}"
            );
        }
        for (chain, sep) in KNOWN_SEPARATORS {
            let computed = keccak256_concat(&[
                &eip712::EIP712_DOMAIN_TYPEHASH,
                &DOMAIN_NAME_HASH,
                &DOMAIN_VERSION_HASH,
                &u64_word(chain),
                &BATCH_SETTLEMENT_ADDRESS.to_word(),
            ]);
            assert_eq!(sep, computed);
        }
    }

    #[test]
    fn addresses_decode() {
        assert_eq!(
            BATCH_SETTLEMENT_ADDRESS.checksummed().as_str(),
            "0x4020074e9dF2ce1deE5A9C1b5c3f541D02a10003"
        );
        assert_eq!(
            PERMIT2_DEPOSIT_COLLECTOR_ADDRESS.checksummed().as_str(),
            "0x4020425FAf3B746C082C2f942b4E5159887B0005"
        );
        assert_eq!(
            ERC3009_DEPOSIT_COLLECTOR_ADDRESS.checksummed().as_str(),
            "0x4020806089470a89826cB9fB1f4059150b550004"
        );
    }
}
