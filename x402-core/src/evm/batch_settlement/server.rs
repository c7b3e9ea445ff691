//! The resource server's side of `batch-settlement` on EVM: what to do with a
//! payment on a channel, given what the server holds about that channel.
//!
//! The server keeps one [`ChannelRecord`] per channel: the amount charged so
//! far, the latest voucher (its signed ceiling and signature), and its mirror
//! of the channel's on-chain state (balance, claimed total, withdrawal, refund
//! nonce) with the time it was last read. [`decide`] judges a payment
//! against the record (or its absence) and the price of this request, without
//! I/O; its [`Decision`] tells the host what to do next:
//!
//! - [`Decision::Accept`]: a voucher checked here (one signature recovery
//!   against the mirrored state). Run the handler; only if it succeeds,
//!   commit [`Accepted::next`] in place of the record read, and answer with
//!   [`Accepted::response`] as the payment response's `extra`.
//! - [`Decision::Verify`]: the facilitator must verify (a deposit, a refund,
//!   a voucher whose mirrored state is stale or absent, or whose channel has no
//!   payer authorizer). On a valid answer, call [`after_verify`] with the
//!   record read again and the answer's channel state: it decides the same
//!   way, with `Accept` (a deposit's [`Accepted::settle`] is
//!   [`Settle::Deposit`]: run the handler, settle through the facilitator, then
//!   [`deposit_settled`] gives the record to commit) or [`Decision::Refund`].
//! - [`Decision::Refund`]: no handler runs; the host answers that the refund
//!   is acknowledged, settles it through the facilitator with the members of
//!   [`refund_settlement`], then stores [`refund_settled`]'s record (or
//!   deletes it).
//! - [`Decision::Refuse`]: a 402 with the reason; for a voucher that does
//!   not sign the charged total plus the price
//!   (`invalid_batch_settlement_evm_cumulative_amount_mismatch`), with
//!   [`Refusal::corrective`]: the `extra.channelState` and `extra.voucherState`
//!   to add to the matching `accepts` entry, from which the client signs on.
//!
//! A payer's pending withdrawal (`withdrawRequestedAt`) is mirrored and
//! reported, not judged, as in the reference: vouchers stay acceptable until
//! the withdrawal completes, so a host claims what it has charged before then
//! (the claim's typed data: [`claim_batch_digest`](super::claim_batch_digest)).
//!
//! The rules and reasons are those of the reference server (`@x402/evm` 2.27
//! `batch-settlement/server`: `handleBeforeVerify`, `verifyVoucherLocally`,
//! `handleAfterVerify`, `handleBeforeSettle`, `handleEnrichSettlementPayload`,
//! `handleAfterSettle`, `handleEnrichPaymentRequiredResponse`), in its order.
//!
//! # Where this differs from the reference, on purpose
//! - **The price.** The reference charges `amount` of the requirements on
//!   every request. Here the host gives this request's price, at most
//!   `amount` (the per-request maximum the voucher covers; a larger price is
//!   [`PriceAboveMaximum`]): the voucher still signs the charged total plus
//!   `amount`, and the charged total grows by the price. The client learns the
//!   new total from the payment response (`channelState.chargedCumulativeAmount`,
//!   `chargedAmount`), as it does from the reference.
//! - **No reservation in the record.** The reference writes a pending request
//!   into the record at verification (and with it the new voucher), and
//!   answers `invalid_batch_settlement_evm_channel_busy` while one is live.
//!   Here nothing is written before the handler succeeds: the host serializes
//!   the requests of a channel (a lock, or a compare-and-swap of the record it
//!   read against [`Accepted::next`]) and answers
//!   [`BatchReason::ChannelBusy`] itself when it loses. For the same reason
//!   `invalid_batch_settlement_evm_charge_exceeds_signed_cumulative` cannot
//!   occur: the commit is computed from the record the voucher was checked
//!   against, and the price is at most what the voucher covers.
//! - **Times** are unix seconds (the reference keeps milliseconds).
//! - A channel id that is not a 32-byte hex word
//!   (`invalid_batch_settlement_evm_channel_id_invalid` there) does not reach
//!   this module: the payload's parser refuses it (`invalid_payload`).
//! - While the payer has asked to withdraw (`withdrawRequestedAt` ≠ 0) every
//!   voucher goes to the facilitator: the withdrawal may be finalized at any
//!   moment, and the mirrored balance would let vouchers above what the
//!   channel holds through (the reference checks them locally).
//! - The local signature check is [`verify`](super::verify)'s: high-s and
//!   64-byte signatures are refused where viem recovers them.
//! - A refund whose channel id is not its config's is
//!   [`BatchReason::ChannelIdMismatch`] in [`refund_settlement`] (the
//!   reference throws a plain error there); a refund `amount` of `0` is
//!   refused by the payload's parser before.
//!
//! # What stays the host's
//! Serializing a channel's requests and committing records (with
//! `invalid_batch_settlement_evm_channel_busy` when it loses, and
//! `invalid_batch_settlement_evm_verification_state_unavailable` when its
//! store fails), the facilitator's calls, the receiver authorizer's signatures
//! of a refund ([`refund_digest`](super::refund_digest)) and of its claim
//! ([`claim_batch_digest`](super::claim_batch_digest)), and the channel
//! manager's work (claiming, settling and refunding idle channels; its
//! requests for claiming and sweeping are [`manager`](super::manager)'s).

use crate::amount::Amount;
use crate::error::{Error, Reason};
use crate::evm::{Address, B256};
use crate::json::{JsonStr, JsonValue, ObjectWriter, Sink, SinkFull, ToJson};
use crate::types::payload::hex_string;
use crate::types::{b256, fields, integer, object, required, uint_string};

use super::reason::BatchReason;
use super::types::{
    BatchPayload, ChannelConfig, ChannelState, ChannelStateExtra, PayloadType,
    PaymentResponseExtra, VoucherState,
};
use super::verify::{Config, Requirements, check_channel_config, check_voucher};
use super::{ClaimEntry, MIN_WITHDRAW_DELAY, channel_id};

/// What the server holds about one channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelRecord<'a> {
    /// The channel.
    pub channel_id: B256,
    /// Its configuration.
    pub channel_config: ChannelConfig,
    /// What the server has charged so far: the base of the next voucher.
    pub charged_cumulative_amount: Amount,
    /// The latest voucher's ceiling (`maxClaimableAmount`).
    pub signed_max_claimable: Amount,
    /// The latest voucher's signature (hex, as the payer sent it).
    pub signature: JsonStr<'a>,
    /// The mirror of the channel's on-chain state.
    pub onchain: ChannelState,
    /// When `onchain` was last read from the chain or a facilitator (unix
    /// seconds); `None` if never.
    pub onchain_synced_at: Option<u64>,
    /// The time of the channel's last request (unix seconds).
    pub last_request_at: u64,
}

impl<'a> ChannelRecord<'a> {
    /// The reference's provisional record of a channel the server does not
    /// know: the payload's voucher, nothing on chain yet.
    fn provisional(payload: &BatchPayload<'a>, charged: Amount, now: u64) -> ChannelRecord<'a> {
        let v = payload.voucher();
        ChannelRecord {
            channel_id: v.channel_id,
            channel_config: *payload.channel_config(),
            charged_cumulative_amount: charged,
            signed_max_claimable: v.max_claimable_amount,
            signature: v.signature,
            onchain: ChannelState::default(),
            onchain_synced_at: None,
            last_request_at: now,
        }
    }

    /// `extra.channelState` reporting this record, with `charged` as its
    /// `chargedCumulativeAmount`.
    #[must_use]
    pub fn channel_state(&self, charged: Option<Amount>) -> ChannelStateExtra {
        ChannelStateExtra::of(self.channel_id, &self.onchain, charged)
    }

    /// `extra.voucherState`: the latest voucher.
    #[must_use]
    pub const fn voucher_state(&self) -> VoucherState<'a> {
        VoucherState {
            signed_max_claimable: self.signed_max_claimable,
            signature: self.signature,
        }
    }

    /// The corrective 402's members for this record.
    #[must_use]
    pub fn corrective(&self) -> Corrective<'a> {
        Corrective {
            channel_state: self.channel_state(Some(self.charged_cumulative_amount)),
            voucher_state: self.voucher_state(),
        }
    }

    /// Whether the mirrored state was read at most `ttl` seconds before `now`.
    #[must_use]
    pub fn is_fresh(&self, ttl: u64, now: u64) -> bool {
        self.onchain_synced_at
            .is_some_and(|t| now.saturating_sub(t) <= ttl)
    }

    /// Reads a record as [`ToJson`] writes it.
    ///
    /// # Errors
    /// `invalid_payload` naming the field.
    pub fn from_json(v: JsonValue<'a>) -> Result<ChannelRecord<'a>, Error> {
        let r = Reason::InvalidPayload;
        let o = object(v, r, "channelRecord")?;
        let [id, cc, ch, sm, sig, bal, tc, wra, rn, sync, last] = fields(o, RECORD_KNOWN);
        let read = || -> Result<ChannelRecord<'a>, Error> {
            Ok(ChannelRecord {
                channel_id: b256(required(id, r, "channelId")?, r, "channelId")?,
                channel_config: ChannelConfig::from_json(required(cc, r, "channelConfig")?)?,
                charged_cumulative_amount: uint_string(
                    required(ch, r, "chargedCumulativeAmount")?,
                    r,
                    "chargedCumulativeAmount",
                )?,
                signed_max_claimable: uint_string(
                    required(sm, r, "signedMaxClaimable")?,
                    r,
                    "signedMaxClaimable",
                )?,
                signature: hex_string(required(sig, r, "signature")?, "signature")?,
                onchain: ChannelState {
                    balance: uint_string(required(bal, r, "balance")?, r, "balance")?,
                    total_claimed: uint_string(
                        required(tc, r, "totalClaimed")?,
                        r,
                        "totalClaimed",
                    )?,
                    withdraw_requested_at: integer(
                        required(wra, r, "withdrawRequestedAt")?,
                        r,
                        "withdrawRequestedAt",
                    )?,
                    refund_nonce: uint_string(required(rn, r, "refundNonce")?, r, "refundNonce")?,
                },
                onchain_synced_at: sync.map(|v| integer(v, r, "onchainSyncedAt")).transpose()?,
                last_request_at: integer(required(last, r, "lastRequestAt")?, r, "lastRequestAt")?,
            })
        };
        read().map_err(|e| e.in_object("channelRecord"))
    }
}

const RECORD_KNOWN: &[&str; 11] = &[
    "channelId",
    "channelConfig",
    "chargedCumulativeAmount",
    "signedMaxClaimable",
    "signature",
    "balance",
    "totalClaimed",
    "withdrawRequestedAt",
    "refundNonce",
    "onchainSyncedAt",
    "lastRequestAt",
];

/// The record as one JSON object (for stores that keep it as text).
impl ToJson for ChannelRecord<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.field("channelId", &self.channel_id)?;
        w.field("channelConfig", &self.channel_config)?;
        w.field("chargedCumulativeAmount", &self.charged_cumulative_amount)?;
        w.field("signedMaxClaimable", &self.signed_max_claimable)?;
        w.str_field("signature", self.signature)?;
        w.field("balance", &self.onchain.balance)?;
        w.field("totalClaimed", &self.onchain.total_claimed)?;
        w.u64_field("withdrawRequestedAt", self.onchain.withdraw_requested_at)?;
        w.field("refundNonce", &self.onchain.refund_nonce)?;
        if let Some(t) = self.onchain_synced_at {
            w.u64_field("onchainSyncedAt", t)?;
        }
        w.u64_field("lastRequestAt", self.last_request_at)?;
        w.end()
    }
}

/// The server's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// How long the mirrored on-chain state is trusted for checking a voucher
    /// here, seconds.
    pub onchain_state_ttl: u64,
    /// When set, deposits below it are refused
    /// (`invalid_batch_settlement_evm_deposit_below_min_deposit`); see
    /// [`min_deposit_hint`].
    pub min_deposit: Option<Amount>,
}

impl Policy {
    /// The reference's defaults for a channel `withdraw_delay` (seconds): the
    /// state is trusted for a third of the delay, between 30 seconds and 5
    /// minutes; deposits are not held to a minimum.
    #[must_use]
    pub const fn for_withdraw_delay(withdraw_delay: u64) -> Policy {
        let third = withdraw_delay / 3;
        let ttl = if third < 30 {
            30
        } else if third > 300 {
            300
        } else {
            third
        };
        Policy {
            onchain_state_ttl: ttl,
            min_deposit: None,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::for_withdraw_delay(MIN_WITHDRAW_DELAY)
    }
}

/// The reference's `extra.minDeposit` hint for a price of `amount`: the
/// configured minimum but at least `amount`, or ten times `amount` when none
/// is configured (saturating).
#[must_use]
pub fn min_deposit_hint(amount: &Amount, configured: Option<&Amount>) -> Amount {
    match configured {
        Some(c) => {
            if amount > c {
                *amount
            } else {
                *c
            }
        }
        None => {
            let mut sum = Amount::ZERO;
            for _ in 0..10 {
                sum = sum.checked_add(amount).unwrap_or(Amount::MAX);
            }
            sum
        }
    }
}

/// The corrective 402's additions to the matching `accepts` entry's `extra`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Corrective<'a> {
    /// `extra.channelState`, with `chargedCumulativeAmount`.
    pub channel_state: ChannelStateExtra,
    /// `extra.voucherState`.
    pub voucher_state: VoucherState<'a>,
}

/// A refused payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal<'a> {
    /// The reason (`invalidReason` of the 402).
    pub reason: BatchReason,
    /// For `invalid_batch_settlement_evm_cumulative_amount_mismatch`: the
    /// state the client signs on from.
    pub corrective: Option<Corrective<'a>>,
}

impl Refusal<'_> {
    const fn of(reason: BatchReason) -> Self {
        Refusal {
            reason,
            corrective: None,
        }
    }
}

/// What to do on chain once the handler has succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settle {
    /// Nothing: commit [`Accepted::next`].
    Commit,
    /// Settle the deposit through the facilitator, then commit what
    /// [`deposit_settled`] gives from [`Accepted::next`] and the settlement's
    /// channel state.
    Deposit,
}

/// An accepted payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted<'a> {
    /// The payer (`channelConfig.payer`).
    pub payer: Address,
    /// The record to commit in place of the one read, once the handler has
    /// succeeded (and, for a deposit, the deposit is settled).
    pub next: ChannelRecord<'a>,
    /// The payment response's `extra` (for a deposit, its `channelState`
    /// carries only `chargedCumulativeAmount`: the facilitator's settlement
    /// reports the rest, see [`deposit_settled`]).
    pub response: PaymentResponseExtra,
    /// What follows the handler.
    pub settle: Settle,
}

/// What the server does with a payment.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision<'a> {
    /// Run the handler, then commit.
    Accept(Accepted<'a>),
    /// Ask the facilitator to verify the payment, then call [`after_verify`]
    /// (only from [`decide`]).
    Verify {
        /// The channel.
        channel_id: B256,
    },
    /// A refund verified by the facilitator: no handler runs; settle it with
    /// [`refund_settlement`] of `record` (only from [`after_verify`]).
    Refund {
        /// The channel's record with the verified state and the refund's
        /// voucher.
        record: ChannelRecord<'a>,
    },
    /// Answer 402.
    Refuse(Refusal<'a>),
}

/// The price exceeds the requirements' `amount`, the most a voucher covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceAboveMaximum;

impl core::fmt::Display for PriceAboveMaximum {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the price exceeds the requirements' amount")
    }
}

impl core::error::Error for PriceAboveMaximum {}

/// The reference's charged total for a channel it does not know: the voucher's
/// ceiling less the price (zero if below), or the ceiling itself for a refund.
fn inferred_charged(payload: &BatchPayload<'_>, max: &Amount) -> Amount {
    let ceiling = payload.voucher().max_claimable_amount;
    if payload.kind() == PayloadType::Refund {
        return ceiling;
    }
    ceiling.checked_sub(max).unwrap_or(Amount::ZERO)
}

/// The cumulative check against `record` (or the provisional record): the
/// charged total it starts from, or the refusal with the corrective state.
// A refusal is a few hundred bytes on the stack, returned once: no boxing.
#[allow(clippy::result_large_err)]
fn cumulative<'a>(
    record: Option<&ChannelRecord<'a>>,
    payload: &BatchPayload<'a>,
    max: &Amount,
    now: u64,
) -> Result<Amount, Refusal<'a>> {
    let charged = record.map_or_else(
        || inferred_charged(payload, max),
        |r| r.charged_cumulative_amount,
    );
    let expected = if payload.kind() == PayloadType::Refund {
        Some(charged)
    } else {
        charged.checked_add(max)
    };
    if expected == Some(payload.voucher().max_claimable_amount) {
        return Ok(charged);
    }
    let snapshot = match record {
        Some(r) => *r,
        None => ChannelRecord::provisional(payload, charged, now),
    };
    Err(Refusal {
        reason: BatchReason::CumulativeAmountMismatch,
        corrective: Some(snapshot.corrective()),
    })
}

/// The record to commit for a voucher or deposit charged `price` on top of
/// `charged`, with `onchain` mirrored at `synced_at`.
fn charged_record<'a>(
    payload: &BatchPayload<'a>,
    charged: &Amount,
    price: &Amount,
    onchain: ChannelState,
    synced_at: Option<u64>,
    now: u64,
) -> Option<ChannelRecord<'a>> {
    let v = payload.voucher();
    Some(ChannelRecord {
        channel_id: v.channel_id,
        channel_config: *payload.channel_config(),
        charged_cumulative_amount: charged.checked_add(price)?,
        signed_max_claimable: v.max_claimable_amount,
        signature: v.signature,
        onchain,
        onchain_synced_at: synced_at,
        last_request_at: now,
    })
}

fn accept_voucher<'a>(
    payload: &BatchPayload<'a>,
    charged: &Amount,
    price: &Amount,
    onchain: ChannelState,
    synced_at: Option<u64>,
    now: u64,
) -> Decision<'a> {
    // The price is at most the part of the ceiling above `charged`, so this
    // sum cannot overflow; the branch stays for hostile arithmetic's sake.
    let Some(next) = charged_record(payload, charged, price, onchain, synced_at, now) else {
        return Decision::Refuse(Refusal::of(BatchReason::ChargeExceedsSignedCumulative));
    };
    let (settle, channel_state) = if payload.kind() == PayloadType::Deposit {
        (
            Settle::Deposit,
            ChannelStateExtra {
                charged_cumulative_amount: Some(next.charged_cumulative_amount),
                ..ChannelStateExtra::default()
            },
        )
    } else {
        (
            Settle::Commit,
            next.channel_state(Some(next.charged_cumulative_amount)),
        )
    };
    Decision::Accept(Accepted {
        payer: payload.channel_config().payer,
        next,
        response: PaymentResponseExtra {
            channel_state: Some(channel_state),
            charged_amount: Some(*price),
        },
        settle,
    })
}

/// The reference's `verifyVoucherLocally`: `None` when the voucher must go to
/// the facilitator, else the verdict.
fn verify_locally(
    record: &ChannelRecord<'_>,
    payload: &BatchPayload<'_>,
    req: &Requirements<'_>,
    policy: &Policy,
    now: u64,
) -> Option<Result<(), BatchReason>> {
    let config = payload.channel_config();
    // A withdrawal the payer asked for may be finalized at any time after its
    // delay: the mirrored balance is then no longer what the channel holds,
    // and only the chain can say.
    if !record.is_fresh(policy.onchain_state_ttl, now)
        || config.payer_authorizer == Address([0; 20])
        || record.onchain.withdraw_requested_at != 0
    {
        return None;
    }
    let voucher = payload.voucher();
    Some((|| {
        // The config is the voucher's channel's: its id is the voucher's.
        check_channel_config(config, &voucher.channel_id, req)?;
        if voucher.channel_id != record.channel_id {
            return Err(BatchReason::ChannelIdMismatch);
        }
        // A payer authorizer's ECDSA signature (no smart wallet: it is set).
        let ecdsa = Config {
            smart_wallets: false,
        };
        if check_voucher(config, voucher, req.chain_id, &ecdsa) != Ok(None) {
            return Err(BatchReason::InvalidVoucherSignature);
        }
        if voucher.max_claimable_amount > record.onchain.balance {
            return Err(BatchReason::CumulativeExceedsBalance);
        }
        if voucher.max_claimable_amount <= record.onchain.total_claimed {
            return Err(BatchReason::CumulativeAmountBelowClaimed);
        }
        Ok(())
    })())
}

/// Writes the store-key prefix of `network`'s channel records,
/// `batch-settlement/{network}/`: a channel's record is under the prefix and
/// its channel id, the claim a deposit or refund holds on it under the
/// record's key and [`CLAIM_KEY_SUFFIX`].
///
/// # Errors
/// The sink is full.
pub fn write_channel_key_prefix(network: &str, out: &mut dyn Sink) -> Result<(), SinkFull> {
    out.put(super::SCHEME.as_bytes())?;
    out.put(b"/")?;
    out.put(network.as_bytes())?;
    out.put(b"/")
}

/// What a channel's claim key adds to its record's key.
pub const CLAIM_KEY_SUFFIX: &str = "/claim";

fn check_price(price: &Amount, req: &Requirements<'_>) -> Result<(), PriceAboveMaximum> {
    if *price > req.amount {
        Err(PriceAboveMaximum)
    } else {
        Ok(())
    }
}

/// Decides what to do with `payload` on its channel, whose record the host
/// read (`None`: the server does not know the channel), at unix time `now`,
/// for a request priced `price` (at most `req.amount`).
///
/// The payload is one the host has read from a `PaymentPayload` whose scheme
/// and network match `req` (as [`verify`](super::verify::verify) checks).
/// `record` must be the record of the payload's channel id, as stored.
///
/// # Errors
/// [`PriceAboveMaximum`] when `price` exceeds `req.amount`.
pub fn decide<'a>(
    record: Option<&ChannelRecord<'a>>,
    payload: &BatchPayload<'a>,
    req: &Requirements<'_>,
    price: &Amount,
    now: u64,
    policy: &Policy,
) -> Result<Decision<'a>, PriceAboveMaximum> {
    check_price(price, req)?;
    if let (BatchPayload::Deposit(d), Some(min)) = (payload, &policy.min_deposit) {
        if d.deposit.amount < *min {
            return Ok(Decision::Refuse(Refusal::of(
                BatchReason::DepositBelowMinDeposit,
            )));
        }
    }
    let voucher = payload.voucher();
    if channel_id(payload.channel_config(), req.chain_id) != voucher.channel_id {
        return Ok(Decision::Refuse(Refusal::of(
            BatchReason::ChannelIdMismatch,
        )));
    }
    let charged = match cumulative(record, payload, &req.amount, now) {
        Ok(c) => c,
        Err(r) => return Ok(Decision::Refuse(r)),
    };
    if let (BatchPayload::Voucher(_), Some(rec)) = (payload, record) {
        match verify_locally(rec, payload, req, policy, now) {
            None => {}
            Some(Err(reason)) => return Ok(Decision::Refuse(Refusal::of(reason))),
            Some(Ok(())) => {
                return Ok(accept_voucher(
                    payload,
                    &charged,
                    price,
                    rec.onchain,
                    rec.onchain_synced_at,
                    now,
                ));
            }
        }
    }
    Ok(Decision::Verify {
        channel_id: voucher.channel_id,
    })
}

/// Continues [`Decision::Verify`] once the facilitator has answered valid:
/// `record` is the channel's record read again (another request may have
/// moved it), `verified` the answer's `extra` (the channel's state; a member
/// it lacks counts as 0, as in the reference). The channel id's binding to
/// the config is checked again (the reference's `onAfterVerify` relies on its
/// `onBeforeVerify`), so that no record is made for an unbound voucher.
///
/// # Errors
/// [`PriceAboveMaximum`] when `price` exceeds `req.amount`.
pub fn after_verify<'a>(
    record: Option<&ChannelRecord<'a>>,
    payload: &BatchPayload<'a>,
    req: &Requirements<'_>,
    price: &Amount,
    verified: Option<&ChannelStateExtra>,
    now: u64,
) -> Result<Decision<'a>, PriceAboveMaximum> {
    check_price(price, req)?;
    // `decide` checked it; checked again so that no record is ever made for a
    // voucher that does not bind its config.
    if channel_id(payload.channel_config(), req.chain_id) != payload.voucher().channel_id {
        return Ok(Decision::Refuse(Refusal::of(
            BatchReason::ChannelIdMismatch,
        )));
    }
    let charged = match cumulative(record, payload, &req.amount, now) {
        Ok(c) => c,
        Err(r) => return Ok(Decision::Refuse(r)),
    };
    let onchain = ChannelState {
        balance: verified.and_then(|v| v.balance).unwrap_or(Amount::ZERO),
        total_claimed: verified
            .and_then(|v| v.total_claimed)
            .unwrap_or(Amount::ZERO),
        withdraw_requested_at: verified.and_then(|v| v.withdraw_requested_at).unwrap_or(0),
        refund_nonce: verified
            .and_then(|v| v.refund_nonce)
            .unwrap_or(Amount::ZERO),
    };
    if payload.kind() == PayloadType::Refund {
        let mut r = ChannelRecord::provisional(payload, charged, now);
        r.onchain = onchain;
        r.onchain_synced_at = Some(now);
        return Ok(Decision::Refund { record: r });
    }
    Ok(accept_voucher(
        payload,
        &charged,
        price,
        onchain,
        Some(now),
        now,
    ))
}

/// After a deposit's settlement: `next` of its [`Accepted`] with the
/// channel's state as the settlement reports it (each member it lacks kept),
/// synced at `now`; and the payment response's `extra`: that state with the
/// charged total, and the price.
#[must_use]
pub fn deposit_settled<'a>(
    accepted: &Accepted<'a>,
    settled: Option<&ChannelStateExtra>,
    now: u64,
) -> (ChannelRecord<'a>, PaymentResponseExtra) {
    let mut next = accepted.next;
    if let Some(s) = settled {
        let o = &mut next.onchain;
        o.balance = s.balance.unwrap_or(o.balance);
        o.total_claimed = s.total_claimed.unwrap_or(o.total_claimed);
        o.withdraw_requested_at = s.withdraw_requested_at.unwrap_or(o.withdraw_requested_at);
        o.refund_nonce = s.refund_nonce.unwrap_or(o.refund_nonce);
    }
    next.onchain_synced_at = Some(now);
    next.last_request_at = now;
    let response = PaymentResponseExtra {
        channel_state: Some(next.channel_state(Some(next.charged_cumulative_amount))),
        charged_amount: accepted.response.charged_amount,
    };
    (next, response)
}

/// The members a refund's settlement adds to its payload (the reference's
/// `enrichSettlementPayload`); the receiver authorizer signs `Refund`
/// (`refund_digest(chain, channel_id, refund_nonce, amount)`) and the claim
/// batch of `claim`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefundSettlement {
    /// The channel.
    pub channel_id: B256,
    /// The amount to refund: the payload's, or all that is left uncharged.
    pub amount: Amount,
    /// Whether `amount` was computed here (the payload had none): it is then
    /// added to the payload as `amount`.
    pub amount_computed: bool,
    /// `refundNonce`: the channel's.
    pub refund_nonce: Amount,
    /// The claim of what was charged, settled before the refund.
    pub claim: ClaimEntry,
}

/// The settlement of a refund accepted by [`after_verify`], from the record of
/// [`Decision::Refund`] (or the record the host holds, read again).
///
/// # Errors
/// The reference's reasons: `missing_channel` without a record,
/// `cumulative_amount_mismatch` when the voucher is not at the charged total,
/// `voucher_signature` when its signature is not the record's,
/// `refund_no_balance` when nothing is left uncharged, `refund_amount_invalid`
/// for a zero amount, `payload_type` for a payload that is not a refund.
pub fn refund_settlement(
    record: Option<&ChannelRecord<'_>>,
    payload: &BatchPayload<'_>,
    req: &Requirements<'_>,
) -> Result<RefundSettlement, BatchReason> {
    let BatchPayload::Refund(refund) = payload else {
        return Err(BatchReason::InvalidPayloadType);
    };
    let id = channel_id(&refund.channel_config, req.chain_id);
    if id != refund.voucher.channel_id {
        return Err(BatchReason::ChannelIdMismatch);
    }
    let record = record.ok_or(BatchReason::MissingChannel)?;
    if refund.voucher.max_claimable_amount != record.charged_cumulative_amount {
        return Err(BatchReason::CumulativeAmountMismatch);
    }
    if refund.voucher.signature != record.signature {
        return Err(BatchReason::InvalidVoucherSignature);
    }
    let remainder = record
        .onchain
        .balance
        .checked_sub(&record.charged_cumulative_amount)
        .filter(|r| !r.is_zero())
        .ok_or(BatchReason::RefundNoBalance)?;
    let (amount, amount_computed) = match refund.amount {
        Some(a) if a.is_zero() => return Err(BatchReason::RefundAmountInvalid),
        Some(a) => (a, false),
        None => (remainder, true),
    };
    Ok(RefundSettlement {
        channel_id: id,
        amount,
        amount_computed,
        refund_nonce: record.onchain.refund_nonce,
        claim: ClaimEntry {
            channel_id: id,
            max_claimable_amount: refund.voucher.max_claimable_amount,
            total_claimed: record.charged_cumulative_amount,
        },
    })
}

/// After a refund's settlement: the record to store, from the settlement's
/// `channelState` (all four on-chain members needed), or `None` when the
/// channel has nothing left above the charged total (the record is then
/// deleted).
///
/// # Errors
/// `invalid_batch_settlement_evm_refund_payload` when the settlement's state
/// lacks a member.
pub fn refund_settled<'a>(
    record: &ChannelRecord<'a>,
    settled: Option<&ChannelStateExtra>,
    now: u64,
) -> Result<Option<ChannelRecord<'a>>, BatchReason> {
    let onchain = settled
        .and_then(ChannelStateExtra::onchain)
        .ok_or(BatchReason::RefundPayload)?;
    if onchain.balance <= record.charged_cumulative_amount {
        return Ok(None);
    }
    Ok(Some(ChannelRecord {
        onchain,
        onchain_synced_at: Some(now),
        last_request_at: now,
        ..*record
    }))
}

#[cfg(test)]
mod tests {
    use super::super::client::{self, Created, DepositMethod};
    use super::super::types::{BatchExtra, RefundPayload};
    use super::*;
    use crate::evm::PrivateKey;
    use crate::json::{Limits, parse};

    const CHAIN: u64 = 8453;
    const NOW: u64 = 1_000_000;

    fn key(b: u8) -> PrivateKey {
        PrivateKey::from_bytes(&[b; 32]).unwrap()
    }

    fn req() -> Requirements<'static> {
        Requirements {
            chain_id: CHAIN,
            pay_to: Address([0x20; 20]),
            asset: Address([0x83; 20]),
            amount: Amount::from(1000u64),
            max_timeout_seconds: 300,
            extra: BatchExtra {
                receiver_authorizer: Some(Address([0x11; 20])),
                withdraw_delay: Some(900),
                name: Some(JsonStr::new("USD Coin")),
                version: Some(JsonStr::new("2")),
                ..BatchExtra::default()
            },
        }
    }

    fn a(v: u64) -> Amount {
        Amount::from(v)
    }

    /// A channel with a payer authorizer (key 2) and its voucher at `ceiling`.
    fn voucher(ceiling: u64) -> Created {
        let cc = client::channel_config(
            key(1).address(),
            Some(key(2).address()),
            &req(),
            B256([7; 32]),
        )
        .unwrap();
        client::create_voucher(&key(2), &cc, CHAIN, a(ceiling)).unwrap()
    }

    /// The server's record of `c`'s channel, charged `charged`, synced at NOW.
    fn record(c: &Created, charged: u64) -> ChannelRecord<'static> {
        ChannelRecord {
            channel_id: c.channel_id(),
            channel_config: c.channel_config,
            charged_cumulative_amount: a(charged),
            signed_max_claimable: a(charged),
            signature: JsonStr::new("0xfeed"),
            onchain: ChannelState {
                balance: a(10_000),
                total_claimed: a(1000),
                withdraw_requested_at: 0,
                refund_nonce: a(2),
            },
            onchain_synced_at: Some(NOW - 10),
            last_request_at: NOW - 10,
        }
    }

    fn refused(d: Result<Decision<'_>, PriceAboveMaximum>) -> BatchReason {
        match d {
            Ok(Decision::Refuse(r)) => r.reason,
            other => panic!("not refused: {other:?}"),
        }
    }

    fn accepted<'a>(d: Result<Decision<'a>, PriceAboveMaximum>) -> Accepted<'a> {
        match d {
            Ok(Decision::Accept(a)) => a,
            other => panic!("not accepted: {other:?}"),
        }
    }

    #[test]
    fn a_voucher_on_the_charged_total_plus_the_price_is_accepted_here() {
        let c = voucher(4000);
        let rec = record(&c, 3000);
        let p = c.payload();
        let acc = accepted(decide(
            Some(&rec),
            &p,
            &req(),
            &a(1000),
            NOW,
            &Policy::default(),
        ));
        assert_eq!(acc.payer, key(1).address());
        assert_eq!(acc.settle, Settle::Commit);
        assert_eq!(acc.next.charged_cumulative_amount, a(4000));
        assert_eq!(acc.next.signed_max_claimable, a(4000));
        assert_eq!(acc.next.signature, p.voucher().signature);
        assert_eq!(acc.next.onchain, rec.onchain);
        assert_eq!(acc.next.onchain_synced_at, rec.onchain_synced_at);
        assert_eq!(acc.next.last_request_at, NOW);
        // The payment response: the mirrored state with the new charged total.
        let cs = acc.response.channel_state.unwrap();
        assert_eq!(cs.channel_id, Some(c.channel_id()));
        assert_eq!(cs.balance, Some(a(10_000)));
        assert_eq!(cs.total_claimed, Some(a(1000)));
        assert_eq!(cs.refund_nonce, Some(a(2)));
        assert_eq!(cs.charged_cumulative_amount, Some(a(4000)));
        assert_eq!(acc.response.charged_amount, Some(a(1000)));
    }

    #[test]
    fn a_lower_price_is_charged_and_a_higher_one_is_the_hosts_error() {
        let c = voucher(4000);
        let rec = record(&c, 3000);
        let p = c.payload();
        let acc = accepted(decide(
            Some(&rec),
            &p,
            &req(),
            &a(250),
            NOW,
            &Policy::default(),
        ));
        assert_eq!(acc.next.charged_cumulative_amount, a(3250));
        assert_eq!(acc.next.signed_max_claimable, a(4000));
        assert_eq!(acc.response.charged_amount, Some(a(250)));
        // The next voucher signs the new total plus the maximum.
        let c2 = voucher(4250);
        let p2 = c2.payload();
        let acc2 = accepted(decide(
            Some(&acc.next),
            &p2,
            &req(),
            &a(0),
            NOW,
            &Policy::default(),
        ));
        assert_eq!(acc2.next.charged_cumulative_amount, a(3250));
        assert_eq!(
            decide(Some(&rec), &p, &req(), &a(1001), NOW, &Policy::default()),
            Err(PriceAboveMaximum)
        );
        assert_eq!(
            after_verify(Some(&rec), &p, &req(), &a(1001), None, NOW),
            Err(PriceAboveMaximum)
        );
    }

    #[test]
    fn a_cumulative_mismatch_carries_the_record_as_corrective_state() {
        let c = voucher(3500);
        let rec = record(&c, 3000);
        let p = c.payload();
        let Ok(Decision::Refuse(r)) =
            decide(Some(&rec), &p, &req(), &a(1000), NOW, &Policy::default())
        else {
            panic!()
        };
        assert_eq!(r.reason, BatchReason::CumulativeAmountMismatch);
        let corr = r.corrective.unwrap();
        assert_eq!(corr.channel_state, rec.channel_state(Some(a(3000))));
        assert_eq!(corr.voucher_state.signed_max_claimable, a(3000));
        assert_eq!(corr.voucher_state.signature, JsonStr::new("0xfeed"));
        // Its JSON, as it goes into the accepts entry's extra.
        let extra = BatchExtra {
            channel_state: Some(corr.channel_state),
            voucher_state: Some(corr.voucher_state),
            ..BatchExtra::default()
        };
        let json = extra.to_json_vec();
        let back = BatchExtra::from_json(parse(&json, &Limits::DEFAULT).unwrap()).unwrap();
        assert_eq!(back.channel_state, Some(corr.channel_state));
    }

    #[test]
    fn an_unknown_channel_goes_to_the_facilitator_or_gets_a_provisional_correction() {
        let c = voucher(4000);
        let p = c.payload();
        assert_eq!(
            decide(None, &p, &req(), &a(1000), NOW, &Policy::default()),
            Ok(Decision::Verify {
                channel_id: c.channel_id()
            })
        );
        // A ceiling below the price cannot be the charged total plus it.
        let c = voucher(999);
        let p = c.payload();
        let Ok(Decision::Refuse(r)) = decide(None, &p, &req(), &a(1000), NOW, &Policy::default())
        else {
            panic!()
        };
        assert_eq!(r.reason, BatchReason::CumulativeAmountMismatch);
        let corr = r.corrective.unwrap();
        assert_eq!(
            corr.channel_state,
            ChannelStateExtra::of(c.channel_id(), &ChannelState::default(), Some(Amount::ZERO))
        );
        assert_eq!(corr.voucher_state.signed_max_claimable, a(999));
        assert_eq!(corr.voucher_state.signature, p.voucher().signature);
    }

    #[test]
    fn stale_state_or_no_payer_authorizer_goes_to_the_facilitator() {
        let c = voucher(4000);
        let p = c.payload();
        let mut rec = record(&c, 3000);
        let policy = Policy::default();
        assert_eq!(policy.onchain_state_ttl, 300);
        rec.onchain_synced_at = Some(NOW - 301);
        assert!(matches!(
            decide(Some(&rec), &p, &req(), &a(1000), NOW, &policy),
            Ok(Decision::Verify { .. })
        ));
        rec.onchain_synced_at = None;
        assert!(matches!(
            decide(Some(&rec), &p, &req(), &a(1000), NOW, &policy),
            Ok(Decision::Verify { .. })
        ));
        rec.onchain_synced_at = Some(NOW - 300);
        assert!(matches!(
            decide(Some(&rec), &p, &req(), &a(1000), NOW, &policy),
            Ok(Decision::Accept(_))
        ));
        // A channel without a payer authorizer (a smart-wallet payer's).
        let mut cc = client::channel_config(key(1).address(), None, &req(), B256([8; 32])).unwrap();
        cc.payer_authorizer = Address([0; 20]);
        let c = client::create_voucher(&key(1), &cc, CHAIN, a(4000)).unwrap();
        let p = c.payload();
        let mut rec = record(&c, 3000);
        rec.channel_config = cc;
        assert!(matches!(
            decide(Some(&rec), &p, &req(), &a(1000), NOW, &policy),
            Ok(Decision::Verify { .. })
        ));
    }

    #[test]
    fn local_checks_refuse_with_the_references_reasons() {
        let policy = Policy::default();
        let c = voucher(4000);
        let p = c.payload();
        let rec = record(&c, 3000);
        // The channel id must bind the config.
        let mut tampered = p;
        if let BatchPayload::Voucher(v) = &mut tampered {
            v.channel_config.salt = B256([9; 32]);
        }
        assert_eq!(
            refused(decide(
                Some(&rec),
                &tampered,
                &req(),
                &a(1000),
                NOW,
                &policy
            )),
            BatchReason::ChannelIdMismatch
        );
        assert_eq!(
            refused(after_verify(
                Some(&rec),
                &tampered,
                &req(),
                &a(1000),
                None,
                NOW
            )),
            BatchReason::ChannelIdMismatch
        );
        // The config must match the requirements.
        let mut r2 = req();
        r2.pay_to = Address([0x21; 20]);
        assert_eq!(
            refused(decide(Some(&rec), &p, &r2, &a(1000), NOW, &policy)),
            BatchReason::ReceiverMismatch
        );
        // The record must be this channel's.
        let mut other = rec;
        other.channel_id = B256([1; 32]);
        assert_eq!(
            refused(decide(Some(&other), &p, &req(), &a(1000), NOW, &policy)),
            BatchReason::ChannelIdMismatch
        );
        // The payer authorizer signs.
        let cc = c.channel_config;
        let forged = client::create_voucher(&key(3), &cc, CHAIN, a(4000)).unwrap();
        assert_eq!(
            refused(decide(
                Some(&rec),
                &forged.payload(),
                &req(),
                &a(1000),
                NOW,
                &policy
            )),
            BatchReason::InvalidVoucherSignature
        );
        // The ceiling within the balance, above the claimed total.
        let mut poor = rec;
        poor.onchain.balance = a(3999);
        assert_eq!(
            refused(decide(Some(&poor), &p, &req(), &a(1000), NOW, &policy)),
            BatchReason::CumulativeExceedsBalance
        );
        let mut claimed = rec;
        claimed.onchain.total_claimed = a(4000);
        assert_eq!(
            refused(decide(Some(&claimed), &p, &req(), &a(1000), NOW, &policy)),
            BatchReason::CumulativeAmountBelowClaimed
        );
    }

    fn deposit(amount: u64, ceiling: u64) -> Created {
        let cc = client::channel_config(
            key(1).address(),
            Some(key(2).address()),
            &req(),
            B256([7; 32]),
        )
        .unwrap();
        client::create_deposit(
            &key(1),
            &key(2),
            &cc,
            &req(),
            a(amount),
            a(ceiling),
            DepositMethod::Erc3009 {
                salt: B256([5; 32]),
            },
            NOW,
        )
        .unwrap()
    }

    #[test]
    fn a_deposit_is_verified_and_settled_by_the_facilitator() {
        let c = deposit(10_000, 1000);
        let p = c.payload();
        let mut policy = Policy::default();
        assert_eq!(
            decide(None, &p, &req(), &a(1000), NOW, &policy),
            Ok(Decision::Verify {
                channel_id: c.channel_id()
            })
        );
        policy.min_deposit = Some(a(10_001));
        assert_eq!(
            refused(decide(None, &p, &req(), &a(1000), NOW, &policy)),
            BatchReason::DepositBelowMinDeposit
        );
        // The facilitator says the channel holds nothing yet.
        let verified = ChannelStateExtra::of(c.channel_id(), &ChannelState::default(), None);
        let acc = accepted(after_verify(
            None,
            &p,
            &req(),
            &a(600),
            Some(&verified),
            NOW,
        ));
        assert_eq!(acc.settle, Settle::Deposit);
        assert_eq!(acc.next.charged_cumulative_amount, a(600));
        assert_eq!(acc.next.signed_max_claimable, a(1000));
        assert_eq!(
            acc.response.channel_state,
            Some(ChannelStateExtra {
                charged_cumulative_amount: Some(a(600)),
                ..ChannelStateExtra::default()
            })
        );
        // The settlement reports the deposit on chain.
        let settled = ChannelStateExtra {
            balance: Some(a(10_000)),
            ..ChannelStateExtra::default()
        };
        let (next, response) = deposit_settled(&acc, Some(&settled), NOW + 5);
        assert_eq!(next.onchain.balance, a(10_000));
        assert_eq!(next.onchain_synced_at, Some(NOW + 5));
        assert_eq!(next.charged_cumulative_amount, a(600));
        let cs = response.channel_state.unwrap();
        assert_eq!(cs.balance, Some(a(10_000)));
        assert_eq!(cs.charged_cumulative_amount, Some(a(600)));
        assert_eq!(response.charged_amount, Some(a(600)));
    }

    #[test]
    fn after_verify_takes_the_facilitators_state_and_rechecks_the_record() {
        let c = voucher(4000);
        let p = c.payload();
        let rec = record(&c, 3000);
        // Only the balance reported: the rest counts as zero.
        let verified = ChannelStateExtra {
            balance: Some(a(20_000)),
            ..ChannelStateExtra::default()
        };
        let acc = accepted(after_verify(
            Some(&rec),
            &p,
            &req(),
            &a(1000),
            Some(&verified),
            NOW,
        ));
        assert_eq!(acc.settle, Settle::Commit);
        assert_eq!(
            acc.next.onchain,
            ChannelState {
                balance: a(20_000),
                ..ChannelState::default()
            }
        );
        assert_eq!(acc.next.onchain_synced_at, Some(NOW));
        assert_eq!(acc.next.charged_cumulative_amount, a(4000));
        // Another request moved the record meanwhile.
        let moved = ChannelRecord {
            charged_cumulative_amount: a(4000),
            ..rec
        };
        let Ok(Decision::Refuse(r)) = after_verify(Some(&moved), &p, &req(), &a(1000), None, NOW)
        else {
            panic!()
        };
        assert_eq!(r.reason, BatchReason::CumulativeAmountMismatch);
        assert_eq!(
            r.corrective
                .unwrap()
                .channel_state
                .charged_cumulative_amount,
            Some(a(4000))
        );
    }

    fn refund(charged: u64, amount: Option<u64>) -> Created {
        let cc = client::channel_config(
            key(1).address(),
            Some(key(2).address()),
            &req(),
            B256([7; 32]),
        )
        .unwrap();
        client::create_refund(&key(2), &cc, CHAIN, a(charged), amount.map(a)).unwrap()
    }

    #[test]
    fn a_refund_skips_the_handler_and_settles_what_is_left() {
        let c = refund(3000, None);
        let p = c.payload();
        let rec = record(&c, 3000);
        assert!(matches!(
            decide(Some(&rec), &p, &req(), &a(1000), NOW, &Policy::default()),
            Ok(Decision::Verify { .. })
        ));
        // A refund voucher above the charged total is a mismatch.
        let over = refund(3500, None);
        assert_eq!(
            refused(decide(
                Some(&rec),
                &over.payload(),
                &req(),
                &a(1000),
                NOW,
                &Policy::default()
            )),
            BatchReason::CumulativeAmountMismatch
        );
        let verified = rec.channel_state(None);
        let Ok(Decision::Refund { record: r }) =
            after_verify(Some(&rec), &p, &req(), &a(1000), Some(&verified), NOW)
        else {
            panic!()
        };
        assert_eq!(r.charged_cumulative_amount, a(3000));
        assert_eq!(r.signature, p.voucher().signature);
        assert_eq!(r.onchain, rec.onchain);
        let s = refund_settlement(Some(&r), &p, &req()).unwrap();
        assert_eq!(s.amount, a(7000));
        assert!(s.amount_computed);
        assert_eq!(s.refund_nonce, a(2));
        assert_eq!(
            s.claim,
            ClaimEntry {
                channel_id: c.channel_id(),
                max_claimable_amount: a(3000),
                total_claimed: a(3000),
            }
        );
        // A partial refund keeps its amount.
        let part = refund(3000, Some(500));
        let Ok(Decision::Refund { record: r2 }) = after_verify(
            Some(&rec),
            &part.payload(),
            &req(),
            &a(1000),
            Some(&verified),
            NOW,
        ) else {
            panic!()
        };
        let s = refund_settlement(Some(&r2), &part.payload(), &req()).unwrap();
        assert_eq!((s.amount, s.amount_computed), (a(500), false));
        // After the settlement: kept while something is left, else deleted.
        let left = ChannelStateExtra::of(
            c.channel_id(),
            &ChannelState {
                balance: a(9500),
                total_claimed: a(3000),
                withdraw_requested_at: 0,
                refund_nonce: a(3),
            },
            None,
        );
        let kept = refund_settled(&r2, Some(&left), NOW + 1).unwrap().unwrap();
        assert_eq!(kept.onchain.refund_nonce, a(3));
        assert_eq!(kept.onchain_synced_at, Some(NOW + 1));
        let empty = ChannelStateExtra::of(
            c.channel_id(),
            &ChannelState {
                balance: a(3000),
                total_claimed: a(3000),
                withdraw_requested_at: 0,
                refund_nonce: a(3),
            },
            None,
        );
        assert_eq!(refund_settled(&r, Some(&empty), NOW + 1), Ok(None));
        assert_eq!(
            refund_settled(&r, Some(&ChannelStateExtra::default()), NOW),
            Err(BatchReason::RefundPayload)
        );
        assert_eq!(
            refund_settled(&r, None, NOW),
            Err(BatchReason::RefundPayload)
        );
    }

    #[test]
    fn refund_settlement_refuses_with_the_references_reasons() {
        let c = refund(3000, None);
        let p = c.payload();
        let mut rec = record(&c, 3000);
        rec.signature = p.voucher().signature;
        assert!(refund_settlement(Some(&rec), &p, &req()).is_ok());
        assert_eq!(
            refund_settlement(None, &p, &req()),
            Err(BatchReason::MissingChannel)
        );
        let mut moved = rec;
        moved.charged_cumulative_amount = a(3500);
        assert_eq!(
            refund_settlement(Some(&moved), &p, &req()),
            Err(BatchReason::CumulativeAmountMismatch)
        );
        let mut other_sig = rec;
        other_sig.signature = JsonStr::new("0xfeed");
        assert_eq!(
            refund_settlement(Some(&other_sig), &p, &req()),
            Err(BatchReason::InvalidVoucherSignature)
        );
        let mut spent = rec;
        spent.onchain.balance = a(3000);
        assert_eq!(
            refund_settlement(Some(&spent), &p, &req()),
            Err(BatchReason::RefundNoBalance)
        );
        let BatchPayload::Refund(r) = p else { panic!() };
        let zero = BatchPayload::Refund(RefundPayload {
            amount: Some(Amount::ZERO),
            ..r
        });
        assert_eq!(
            refund_settlement(Some(&rec), &zero, &req()),
            Err(BatchReason::RefundAmountInvalid)
        );
        let v = voucher(3000);
        assert_eq!(
            refund_settlement(Some(&rec), &v.payload(), &req()),
            Err(BatchReason::InvalidPayloadType)
        );
        let mut tampered = r;
        tampered.channel_config.salt = B256([1; 32]);
        assert_eq!(
            refund_settlement(Some(&rec), &BatchPayload::Refund(tampered), &req()),
            Err(BatchReason::ChannelIdMismatch)
        );
    }

    #[test]
    fn a_record_reads_back_from_its_json() {
        let c = voucher(4000);
        let mut rec = record(&c, 3000);
        let sig = c.payload().voucher().signature;
        rec.signature = sig;
        let json = rec.to_json_vec();
        let back = ChannelRecord::from_json(parse(&json, &Limits::DEFAULT).unwrap()).unwrap();
        assert_eq!(back, rec);
        rec.onchain_synced_at = None;
        let json = rec.to_json_vec();
        let back = ChannelRecord::from_json(parse(&json, &Limits::DEFAULT).unwrap()).unwrap();
        assert_eq!(back, rec);
        let bad = br#"{"channelId":"0x01"}"#;
        let e = ChannelRecord::from_json(parse(bad, &Limits::DEFAULT).unwrap()).unwrap_err();
        assert_eq!(e.reason(), Reason::InvalidPayload);
    }

    #[test]
    fn policy_defaults_and_the_min_deposit_hint_follow_the_reference() {
        assert_eq!(Policy::for_withdraw_delay(900).onchain_state_ttl, 300);
        assert_eq!(Policy::for_withdraw_delay(600).onchain_state_ttl, 200);
        assert_eq!(Policy::for_withdraw_delay(60).onchain_state_ttl, 30);
        assert_eq!(Policy::for_withdraw_delay(2_592_000).onchain_state_ttl, 300);
        assert_eq!(min_deposit_hint(&a(1000), None), a(10_000));
        assert_eq!(min_deposit_hint(&a(1000), Some(&a(500))), a(1000));
        assert_eq!(min_deposit_hint(&a(1000), Some(&a(5000))), a(5000));
        assert_eq!(min_deposit_hint(&Amount::MAX, None), Amount::MAX);
    }
}
