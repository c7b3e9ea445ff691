//! ABI encoding of the batch-settlement contract's calls a facilitator makes,
//! and decoding of its state reads. No allocation: fixed-size calls return
//! arrays, calls with `bytes` write into the caller's buffer and say how long
//! they are (`*_len`).
//!
//! | call | selector |
//! |---|---|
//! | `deposit((address,address,address,address,address,uint40,bytes32),uint128,address,bytes)` | `0x140f1e75` |
//! | `claimWithSignature((((address,address,address,address,address,uint40,bytes32),uint128),bytes,uint128)[],bytes)` | `0xe43ce1f2` |
//! | `refundWithSignature((address,address,address,address,address,uint40,bytes32),uint128,uint256,bytes)` | `0xb77433e9` |
//! | `settle(address,address)` | `0x9db32a8f` |
//! | `channels(bytes32)` → `(uint128 balance, uint128 totalClaimed)` | `0x7a7ebd7b` |
//! | `pendingWithdrawals(bytes32)` → `(uint128 amount, uint40 initiatedAt)` | `0xb7f06ebe` |
//! | `refundNonce(bytes32)` → `uint256` | `0xf0dc792e` |
//! | `receivers(address,address)` → `(uint128 totalClaimed, uint128 totalSettled)` | `0x21ff6389` |
//! | `multicall(bytes[])` | `0xac9650d8` |
//!
//! Signatures are passed as the contract takes them: ECDSA signatures of 65
//! bytes get `v` as 27 or 28; an ERC-6492 wrapper must be removed by the
//! caller (the reference passes the inner signature).

use super::types::ChannelConfig;
use crate::amount::Amount;
use crate::evm::abi::{
    AbiError, Selector, Writer, bytes_tail_len, normalized_sig_tail, u64_word, uint_word,
};
use crate::evm::{Address, B256};
use crate::json::BufferTooSmall;
use crate::rpc::Log;

/// `deposit(ChannelConfig,uint128,address,bytes)`.
pub const DEPOSIT: Selector = [0x14, 0x0f, 0x1e, 0x75];
/// `claimWithSignature(VoucherClaim[],bytes)`.
pub const CLAIM_WITH_SIGNATURE: Selector = [0xe4, 0x3c, 0xe1, 0xf2];
/// `refundWithSignature(ChannelConfig,uint128,uint256,bytes)`.
pub const REFUND_WITH_SIGNATURE: Selector = [0xb7, 0x74, 0x33, 0xe9];
/// `settle(address,address)`.
pub const SETTLE: Selector = [0x9d, 0xb3, 0x2a, 0x8f];
/// `channels(bytes32)`.
pub const CHANNELS: Selector = [0x7a, 0x7e, 0xbd, 0x7b];
/// `pendingWithdrawals(bytes32)`.
pub const PENDING_WITHDRAWALS: Selector = [0xb7, 0xf0, 0x6e, 0xbe];
/// `refundNonce(bytes32)`.
pub const REFUND_NONCE: Selector = [0xf0, 0xdc, 0x79, 0x2e];

/// `receivers(address,address)`.
pub const RECEIVERS: Selector = [0x21, 0xff, 0x63, 0x89];
/// `multicall(bytes[])`.
pub const MULTICALL: Selector = [0xac, 0x96, 0x50, 0xd8];
/// The topic of `Settled(address indexed receiver, address indexed token,
/// address indexed sender, uint128 amount)`.
pub const SETTLED_TOPIC: [u8; 32] = crate::evm::eip712::hex_bytes(
    b"7337b4386b690fdb8ba66905b92b9d45d33bc6626ee2620c905fb150ec0cc47d",
);

/// The seven words of a `ChannelConfig` tuple (static, so written in place).
fn config_words(c: &ChannelConfig) -> [[u8; 32]; 7] {
    [
        c.payer.to_word(),
        c.payer_authorizer.to_word(),
        c.receiver.to_word(),
        c.receiver_authorizer.to_word(),
        c.token.to_word(),
        u64_word(c.withdraw_delay),
        c.salt.0,
    ]
}

fn call_bytes32(selector: Selector, id: &B256) -> [u8; 36] {
    let mut out = [0u8; 36];
    let (head, tail) = out.split_at_mut(4);
    head.copy_from_slice(&selector);
    tail.copy_from_slice(&id.0);
    out
}

/// `channels(channelId)`.
#[must_use]
pub fn channels(channel_id: &B256) -> [u8; 36] {
    call_bytes32(CHANNELS, channel_id)
}

/// `pendingWithdrawals(channelId)`.
#[must_use]
pub fn pending_withdrawals(channel_id: &B256) -> [u8; 36] {
    call_bytes32(PENDING_WITHDRAWALS, channel_id)
}

/// `refundNonce(channelId)`.
#[must_use]
pub fn refund_nonce(channel_id: &B256) -> [u8; 36] {
    call_bytes32(REFUND_NONCE, channel_id)
}

fn word(data: &[u8], index: usize) -> Result<[u8; 32], AbiError> {
    let start = index.checked_mul(32).ok_or(AbiError::Short)?;
    data.get(start..start + 32)
        .and_then(|w| <[u8; 32]>::try_from(w).ok())
        .ok_or(AbiError::Short)
}

/// A word holding a `uintN`: the bytes above `bits` must be zero.
fn uint_n(data: &[u8], index: usize, bits: usize) -> Result<Amount, AbiError> {
    let w = word(data, index)?;
    let high = 32 - bits / 8;
    if w.iter().take(high).any(|b| *b != 0) {
        return Err(AbiError::NotCanonical);
    }
    Ok(Amount::from_be_bytes(w))
}

/// Decodes `channels`' result: `(balance, totalClaimed)`.
///
/// # Errors
/// [`AbiError::Short`], or [`AbiError::NotCanonical`] for a word above `uint128`.
pub fn decode_channels(data: &[u8]) -> Result<(Amount, Amount), AbiError> {
    Ok((uint_n(data, 0, 128)?, uint_n(data, 1, 128)?))
}

/// Decodes `pendingWithdrawals`' result: `(amount, initiatedAt)`.
///
/// # Errors
/// [`AbiError::Short`], or [`AbiError::NotCanonical`] for words out of range.
pub fn decode_pending_withdrawal(data: &[u8]) -> Result<(Amount, u64), AbiError> {
    let at = uint_n(data, 1, 40)?
        .to_u64()
        .ok_or(AbiError::NotCanonical)?;
    Ok((uint_n(data, 0, 128)?, at))
}

/// Decodes `refundNonce`' result.
///
/// # Errors
/// [`AbiError::Short`].
pub fn decode_refund_nonce(data: &[u8]) -> Result<Amount, AbiError> {
    uint_n(data, 0, 256)
}

/// `settle(receiver, token)`: sweeps the receiver's claimed funds.
#[must_use]
pub fn settle(receiver: &Address, token: &Address) -> [u8; 68] {
    let mut out = [0u8; 68];
    let mut w = Writer::new(&mut out);
    w.put(&SETTLE);
    w.put(&receiver.to_word());
    w.put(&token.to_word());
    let _ = w.finish();
    out
}

/// `receivers(receiver, token)`.
#[must_use]
pub fn receivers(receiver: &Address, token: &Address) -> [u8; 68] {
    let mut out = [0u8; 68];
    let mut w = Writer::new(&mut out);
    w.put(&RECEIVERS);
    w.put(&receiver.to_word());
    w.put(&token.to_word());
    let _ = w.finish();
    out
}

/// Decodes `receivers`' result: `(totalClaimed, totalSettled)`.
///
/// # Errors
/// [`AbiError::Short`], or [`AbiError::NotCanonical`] for a word above `uint128`.
pub fn decode_receivers(data: &[u8]) -> Result<(Amount, Amount), AbiError> {
    Ok((uint_n(data, 0, 128)?, uint_n(data, 1, 128)?))
}

/// Length of [`multicall`] of calls of these lengths.
#[must_use]
pub fn multicall_len(calls: &[&[u8]]) -> usize {
    4 + 2 * 32
        + calls
            .iter()
            .map(|c| 32 + bytes_tail_len(c.len()))
            .sum::<usize>()
}

/// `multicall(calls)`: the contract runs each call on itself in turn, all
/// or nothing.
///
/// # Errors
/// [`BufferTooSmall`] with the length needed.
pub fn multicall(calls: &[&[u8]], out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    w.put(&MULTICALL);
    w.put(&u64_word(32));
    w.put(&u64_word(calls.len() as u64));
    let mut offset = calls.len() * 32;
    for c in calls {
        w.put(&u64_word(offset as u64));
        offset += bytes_tail_len(c.len());
    }
    for c in calls {
        w.bytes_tail(c);
    }
    w.finish()
}

/// The amount of a `Settled` log of the contract paying `receiver` in
/// `token`: its topics and data as a receipt holds them.
#[must_use]
pub fn settled_amount(
    topics: &[[u8; 32]],
    data: &[u8],
    receiver: &Address,
    token: &Address,
) -> Option<Amount> {
    match topics {
        [t0, t1, t2, _]
            if *t0 == SETTLED_TOPIC && *t1 == receiver.to_word() && *t2 == token.to_word() =>
        {
            uint_n(data, 0, 128).ok()
        }
        _ => None,
    }
}

/// [`settled_amount`] of a receipt's log: the amount it pays `receiver` in
/// `token` when it is the contract's `Settled` event; `None` for any other
/// log, and for one that is not well formed.
#[must_use]
pub fn settled_log_amount(log: &Log<'_>, receiver: &Address, token: &Address) -> Option<Amount> {
    if log.address != super::BATCH_SETTLEMENT_ADDRESS {
        return None;
    }
    let mut topics = [[0u8; 32]; 4];
    if log.topics.len() != topics.len() {
        return None;
    }
    for (i, t) in topics.iter_mut().enumerate() {
        *t = log.topic(i)?.0;
    }
    let mut buf = [0u8; 64];
    let data = log.read_data(&mut buf).ok()?;
    settled_amount(&topics, data, receiver, token)
}

/// Length of [`deposit`] with `collector_data_len` bytes of collector data.
#[must_use]
pub const fn deposit_len(collector_data_len: usize) -> usize {
    4 + 10 * 32 + bytes_tail_len(collector_data_len)
}

/// `deposit(config, amount, collector, collectorData)`.
///
/// # Errors
/// [`BufferTooSmall`] with the length needed.
pub fn deposit(
    config: &ChannelConfig,
    amount: &Amount,
    collector: &Address,
    collector_data: &[u8],
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    w.put(&DEPOSIT);
    for word in config_words(config) {
        w.put(&word);
    }
    w.put(&uint_word(amount));
    w.put(&collector.to_word());
    w.put(&u64_word(10 * 32));
    w.bytes_tail(collector_data);
    w.finish()
}

/// Length of [`erc3009_collector_data`] for a signature of `sig_len` bytes.
#[must_use]
pub const fn erc3009_collector_data_len(sig_len: usize) -> usize {
    4 * 32 + bytes_tail_len(sig_len)
}

/// The EIP-3009 deposit collector's data:
/// `abi.encode(uint256 validAfter, uint256 validBefore, uint256 salt, bytes signature)`.
///
/// # Errors
/// [`BufferTooSmall`] with the length needed.
pub fn erc3009_collector_data(
    valid_after: &Amount,
    valid_before: &Amount,
    salt: &B256,
    signature: &[u8],
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    w.put(&uint_word(valid_after));
    w.put(&uint_word(valid_before));
    w.put(&salt.0);
    w.put(&u64_word(4 * 32));
    normalized_sig_tail(&mut w, signature);
    w.finish()
}

/// Length of [`permit2_collector_data`].
#[must_use]
pub const fn permit2_collector_data_len(sig_len: usize, eip2612_len: usize) -> usize {
    4 * 32 + bytes_tail_len(sig_len) + bytes_tail_len(eip2612_len)
}

/// The Permit2 deposit collector's data:
/// `abi.encode(uint256 nonce, uint256 deadline, bytes signature, bytes eip2612PermitData)`
/// (`eip2612PermitData` empty without the gas-sponsoring extension).
///
/// # Errors
/// [`BufferTooSmall`] with the length needed.
pub fn permit2_collector_data(
    nonce: &Amount,
    deadline: &Amount,
    signature: &[u8],
    eip2612_permit_data: &[u8],
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    w.put(&uint_word(nonce));
    w.put(&uint_word(deadline));
    w.put(&u64_word(4 * 32));
    w.put(&u64_word((4 * 32 + bytes_tail_len(signature.len())) as u64));
    normalized_sig_tail(&mut w, signature);
    w.bytes_tail(eip2612_permit_data);
    w.finish()
}

/// Length of [`refund_with_signature`] for a signature of `sig_len` bytes.
#[must_use]
pub const fn refund_with_signature_len(sig_len: usize) -> usize {
    4 + 10 * 32 + bytes_tail_len(sig_len)
}

/// `refundWithSignature(config, amount, nonce, receiverAuthorizerSignature)`.
///
/// # Errors
/// [`BufferTooSmall`] with the length needed.
pub fn refund_with_signature(
    config: &ChannelConfig,
    amount: &Amount,
    nonce: &Amount,
    signature: &[u8],
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    w.put(&REFUND_WITH_SIGNATURE);
    for word in config_words(config) {
        w.put(&word);
    }
    w.put(&uint_word(amount));
    w.put(&uint_word(nonce));
    w.put(&u64_word(10 * 32));
    normalized_sig_tail(&mut w, signature);
    w.finish()
}

/// One channel's claim in `claimWithSignature`: the voucher (its channel and
/// ceiling), the payer's signature of it, and the channel's claimed total
/// after the claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoucherClaim<'a> {
    /// The channel.
    pub channel: ChannelConfig,
    /// The voucher's ceiling.
    pub max_claimable_amount: Amount,
    /// The voucher's signature.
    pub signature: &'a [u8],
    /// The claimed total after this claim.
    pub total_claimed: Amount,
}

/// A `VoucherClaim` tuple: 8 words of voucher, the signature's offset, the
/// total, then the signature.
const fn claim_len(sig_len: usize) -> usize {
    10 * 32 + bytes_tail_len(sig_len)
}

/// Length of [`claim_with_signature`].
#[must_use]
pub fn claim_with_signature_len(claims: &[VoucherClaim<'_>], sig_len: usize) -> usize {
    let elements: usize = claims
        .iter()
        .map(|c| 32 + claim_len(c.signature.len()))
        .sum();
    4 + 2 * 32 + 32 + elements + bytes_tail_len(sig_len)
}

/// `claimWithSignature(voucherClaims, authorizerSignature)`: the receiver
/// authorizer's signature is over [`super::claim_batch_digest`] of the
/// claims' channel ids, ceilings and totals.
///
/// # Errors
/// [`BufferTooSmall`] with the length needed.
pub fn claim_with_signature(
    claims: &[VoucherClaim<'_>],
    authorizer_signature: &[u8],
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    w.put(&CLAIM_WITH_SIGNATURE);
    let array_len = 32
        + claims
            .iter()
            .map(|c| 32 + claim_len(c.signature.len()))
            .sum::<usize>();
    w.put(&u64_word(2 * 32));
    w.put(&u64_word((2 * 32 + array_len) as u64));
    w.put(&u64_word(claims.len() as u64));
    // Offsets of the elements, from the start of the element heads.
    let mut offset = claims.len() * 32;
    for c in claims {
        w.put(&u64_word(offset as u64));
        offset += claim_len(c.signature.len());
    }
    for c in claims {
        for word in config_words(&c.channel) {
            w.put(&word);
        }
        w.put(&uint_word(&c.max_claimable_amount));
        w.put(&u64_word(10 * 32));
        w.put(&uint_word(&c.total_claimed));
        normalized_sig_tail(&mut w, c.signature);
    }
    normalized_sig_tail(&mut w, authorizer_signature);
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evm::keccak256;

    #[test]
    fn selectors_are_the_signatures_hashes() {
        let cfg = "(address,address,address,address,address,uint40,bytes32)";
        for (sig, sel) in [
            (
                alloc_free_concat(&["deposit(", cfg, ",uint128,address,bytes)"]),
                DEPOSIT,
            ),
            (
                alloc_free_concat(&[
                    "claimWithSignature(((",
                    cfg,
                    ",uint128),bytes,uint128)[],bytes)",
                ]),
                CLAIM_WITH_SIGNATURE,
            ),
            (
                alloc_free_concat(&["refundWithSignature(", cfg, ",uint128,uint256,bytes)"]),
                REFUND_WITH_SIGNATURE,
            ),
            (alloc_free_concat(&["settle(address,address)"]), SETTLE),
            (alloc_free_concat(&["channels(bytes32)"]), CHANNELS),
            (
                alloc_free_concat(&["pendingWithdrawals(bytes32)"]),
                PENDING_WITHDRAWALS,
            ),
            (alloc_free_concat(&["refundNonce(bytes32)"]), REFUND_NONCE),
            (
                alloc_free_concat(&["receivers(address,address)"]),
                RECEIVERS,
            ),
            (alloc_free_concat(&["multicall(bytes[])"]), MULTICALL),
        ] {
            assert_eq!(keccak256(sig.as_bytes())[..4], sel, "{sig}");
        }
    }

    #[test]
    fn settled_topic_is_the_events_hash() {
        assert_eq!(
            keccak256(b"Settled(address,address,address,uint128)"),
            SETTLED_TOPIC
        );
    }

    #[test]
    fn reads_the_amount_of_a_receipts_settled_log() {
        let contract = super::super::BATCH_SETTLEMENT_ADDRESS;
        let receiver = Address([0x22; 20]);
        let token = Address([0x44; 20]);
        let word = |a: &Address| B256(a.to_word()).to_string();
        let topics = [
            B256(SETTLED_TOPIC).to_string(),
            word(&receiver),
            word(&token),
            word(&Address([0x55; 20])),
        ];
        let amount = format!("0x{:064x}", 1234);
        let read = |from: &Address, topics: &[String]| {
            let json = format!(
                r#"{{"address":"{from}","topics":["{}"],"data":"{amount}"}}"#,
                topics.join(r#"",""#)
            );
            let v = crate::json::parse(json.as_bytes(), &crate::json::Limits::DEFAULT).unwrap();
            settled_log_amount(&Log::from_json(v).unwrap(), &receiver, &token)
        };
        assert_eq!(read(&contract, &topics), Some(Amount::from(1234u64)));
        // Another emitter, another receiver, a topic short.
        assert_eq!(read(&token, &topics), None);
        let mut other = topics.clone();
        other[1] = word(&token);
        assert_eq!(read(&contract, &other), None);
        assert_eq!(read(&contract, &topics[..3]), None);
    }

    #[test]
    fn multicall_encodes_bytes_array() {
        let a = [1u8, 2, 3];
        let b = [7u8; 40];
        let calls: [&[u8]; 2] = [&a, &b];
        let mut out = [0u8; 512];
        let n = multicall(&calls, &mut out).unwrap();
        assert_eq!(n, multicall_len(&calls));
        let d = &out[4..n];
        assert_eq!(d[31], 32); // offset of the array
        assert_eq!(d[63], 2); // its length
        assert_eq!(d[95], 64); // first element's offset (after two heads)
        assert_eq!(d[127], 64 + 64); // second: after 32 + 32 bytes
        assert_eq!(d[159], 3);
        assert_eq!(&d[160..163], &a);
        assert_eq!(d[223], 40);
        assert_eq!(&d[224..264], &b);
        assert!(multicall(&calls, &mut [0u8; 10]).is_err());
    }

    fn alloc_free_concat(parts: &[&str]) -> std::string::String {
        parts.concat()
    }

    #[test]
    fn state_reads_decode_and_refuse_out_of_range_words() {
        let mut data = [0u8; 64];
        data[31] = 7;
        data[63] = 9;
        assert_eq!(
            decode_channels(&data),
            Ok((Amount::from(7u64), Amount::from(9u64)))
        );
        assert_eq!(
            decode_pending_withdrawal(&data),
            Ok((Amount::from(7u64), 9))
        );
        assert_eq!(decode_channels(&data[..40]), Err(AbiError::Short));
        data[0] = 1;
        assert_eq!(decode_channels(&data), Err(AbiError::NotCanonical));
        assert_eq!(decode_refund_nonce(&data).map(|a| a.is_zero()), Ok(false));
    }
}
