//! Offline verification of `batch-settlement` EVM payloads, in the reference
//! facilitator's order of checks and with its reasons (`@x402/evm` 2.27).
//!
//! [`verify`] judges a payload against the requirements and the current unix
//! time, making one signature recovery per signed structure (the voucher, and a
//! deposit's authorization). What only the chain can tell — the channel's
//! balance and claimed total, the payer's token balance, a Permit2 allowance,
//! smart-wallet signatures, the deposit's simulation — is either judged from
//! [`ChainFacts`] the host already holds, or listed in the valid verdict as
//! owed [`ChainCheck`]s, as [`crate::verify`] does for `exact`. The channel
//! checks are also available alone ([`check_channel_state`]), for a host that
//! reads the state afterwards, and so is the voucher's signature
//! ([`check_voucher`]).
//!
//! [`check_cumulative`] is the resource server's own check: the voucher must
//! sign exactly what the server has charged plus this request's price.
//!
//! # Where this verifier is stricter than the reference
//! - Malformed payloads (a non-canonical amount, an amount above `uint128`, a
//!   wrong-checksum address, a channel id or salt that is not a 32-byte hex
//!   word) are `invalid_payload` here; the reference's type guards accept them
//!   and its `BigInt`/`getAddress`/hashing then accept some and throw on others.
//! - High-s (EIP-2) and 64-byte (EIP-2098) voucher signatures are refused
//!   with `invalid_batch_settlement_evm_voucher_signature`; viem recovers them.
//! - A refund `amount` of `0` is `invalid_payload` (the reference server refuses
//!   it as `invalid_batch_settlement_evm_refund_amount_invalid`, later).

use crate::amount::Amount;
use crate::error::{Error, Reason};
use crate::evm::eip712::Domain;
use crate::evm::{Address, B256, Signature, SignatureError};
use crate::json::{JsonObject, Limits, ObjectWriter, Sink, SinkFull, ToJson};
use crate::network::Network;
use crate::types::FromJson;
use crate::types::v2::PaymentRequirements;

use super::reason::BatchReason;
use super::types::{
    BatchExtra, BatchPayload, ChannelConfig, ChannelState, DepositPayload, PayloadType, Voucher,
};
use super::{
    MAX_WITHDRAW_DELAY, MIN_WITHDRAW_DELAY, PERMIT2_DEPOSIT_COLLECTOR_ADDRESS, SCHEME, channel_id,
    erc3009_deposit_nonce, permit2_deposit_digest, receive_with_authorization_digest,
    voucher_digest,
};

/// The window the reference keeps before `validBefore`/`deadline`, seconds.
pub const EXPIRY_MARGIN_SECONDS: u64 = 6;

/// What the verifier is told about itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct Config {
    /// Whether the host checks smart-wallet signatures on chain (ERC-1271,
    /// ERC-6492): a payer signature (a voucher of a channel without a payer
    /// authorizer, a deposit authorization) that is not a 65-byte ECDSA
    /// signature recovering to the payer then passes owing
    /// [`ChainCheck::PayerSignature`], instead of failing.
    pub smart_wallets: bool,
}

/// What the host already knows from the chain; each fact given is judged
/// offline instead of being owed.
#[derive(Clone, Copy, Debug, Default)]
pub struct ChainFacts {
    /// The channel's state (`channels`, `pendingWithdrawals`, `refundNonce`).
    pub channel: Option<ChannelState>,
    /// The payer's balance of the token (deposits).
    pub payer_balance: Option<Amount>,
}

/// A check that needs the chain, owed after a valid offline verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainCheck {
    /// Read the channel's state and judge it with [`check_channel_state`].
    ChannelState {
        /// The channel.
        channel_id: B256,
    },
    /// `balanceOf(owner) >= amount`, else `invalid_batch_settlement_evm_insufficient_balance`.
    BalanceAtLeast {
        /// The token.
        token: Address,
        /// The payer.
        owner: Address,
        /// The deposit.
        amount: Amount,
    },
    /// `allowance(owner, Permit2) >= amount` (or a gas-sponsoring extension
    /// that grants it), else `invalid_batch_settlement_evm_permit2_allowance_required`.
    Permit2AllowanceAtLeast {
        /// The token.
        token: Address,
        /// The payer.
        owner: Address,
        /// The deposit.
        amount: Amount,
    },
    /// The payer is a smart wallet accepting the signature over `digest`
    /// (ERC-1271, ERC-6492), else `reason`. Owed only under [`Config::smart_wallets`].
    PayerSignature {
        /// The payer.
        payer: Address,
        /// The EIP-712 digest signed.
        digest: B256,
        /// The reason if it does not.
        reason: BatchReason,
    },
    /// Simulating the contract's `deposit` succeeds, else
    /// `invalid_batch_settlement_evm_deposit_simulation_failed`.
    SimulateDeposit {
        /// The channel.
        channel_id: B256,
        /// The deposit.
        amount: Amount,
    },
}

impl ChainCheck {
    /// Its name (`channelState`, `balanceAtLeast`, ...).
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            ChainCheck::ChannelState { .. } => "channelState",
            ChainCheck::BalanceAtLeast { .. } => "balanceAtLeast",
            ChainCheck::Permit2AllowanceAtLeast { .. } => "permit2AllowanceAtLeast",
            ChainCheck::PayerSignature { .. } => "payerSignature",
            ChainCheck::SimulateDeposit { .. } => "simulateDeposit",
        }
    }

    /// The reason to answer when the check fails (the channel state's own
    /// reasons come from [`check_channel_state`]).
    #[must_use]
    pub const fn failure_reason(&self) -> BatchReason {
        match self {
            ChainCheck::ChannelState { .. } => BatchReason::RpcReadFailed,
            ChainCheck::BalanceAtLeast { .. } => BatchReason::InsufficientBalance,
            ChainCheck::Permit2AllowanceAtLeast { .. } => BatchReason::Permit2AllowanceRequired,
            ChainCheck::PayerSignature { reason, .. } => *reason,
            ChainCheck::SimulateDeposit { .. } => BatchReason::DepositSimulationFailed,
        }
    }
}

/// Why a payment is invalid: one of the scheme's reasons, or a protocol reason
/// (`invalid_payload`, `invalid_payment_requirements`, ...) for input that
/// could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvalidReason {
    /// `invalid_batch_settlement_evm_*`.
    Scheme(BatchReason),
    /// A reading error.
    Input(Error),
}

impl InvalidReason {
    /// The reason string.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            InvalidReason::Scheme(r) => r.as_str(),
            InvalidReason::Input(e) => e.reason().as_str(),
        }
    }
}

/// The room for owed checks in a verdict.
const MAX_CHECKS: usize = 6;

/// The outcome of [`verify`].
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The offline checks passed.
    Valid {
        /// The payer (`channelConfig.payer`).
        payer: Address,
        /// The channel.
        channel_id: B256,
        /// The channel's state, when it was given.
        state: Option<ChannelState>,
        /// Checks still owed, in order.
        checks: [Option<ChainCheck>; MAX_CHECKS],
    },
    /// A check failed.
    Invalid {
        /// The first failed check's reason.
        reason: InvalidReason,
        /// The payer, once known.
        payer: Option<Address>,
    },
}

impl Verdict {
    fn bad(reason: BatchReason, payer: Option<Address>) -> Verdict {
        Verdict::Invalid {
            reason: InvalidReason::Scheme(reason),
            payer,
        }
    }

    fn input(e: Error) -> Verdict {
        Verdict::Invalid {
            reason: InvalidReason::Input(e),
            payer: None,
        }
    }

    /// Whether the offline checks passed.
    #[must_use]
    pub const fn is_valid(&self) -> bool {
        matches!(self, Verdict::Valid { .. })
    }

    /// The reason string of an invalid verdict.
    #[must_use]
    pub const fn reason_str(&self) -> Option<&'static str> {
        match self {
            Verdict::Valid { .. } => None,
            Verdict::Invalid { reason, .. } => Some(reason.as_str()),
        }
    }

    /// The payer, when known.
    #[must_use]
    pub const fn payer(&self) -> Option<Address> {
        match self {
            Verdict::Valid { payer, .. } => Some(*payer),
            Verdict::Invalid { payer, .. } => *payer,
        }
    }

    /// The checks still owed.
    pub fn chain_checks(&self) -> impl Iterator<Item = ChainCheck> + '_ {
        let checks: &[Option<ChainCheck>] = match self {
            Verdict::Valid { checks, .. } => checks,
            Verdict::Invalid { .. } => &[],
        };
        checks.iter().flatten().copied()
    }
}

/// A valid verdict written as a VerifyResponse: `{isValid, payer, extra}` where
/// `extra` holds the channel state when it was given (as the reference does).
impl ToJson for Verdict {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        match self {
            Verdict::Valid {
                payer,
                channel_id,
                state,
                ..
            } => {
                w.bool_field("isValid", true)?;
                w.field("payer", payer)?;
                if let Some(s) = state {
                    w.field(
                        "extra",
                        &super::types::ChannelStateExtra::of(*channel_id, s, None),
                    )?;
                }
            }
            Verdict::Invalid { reason, payer } => {
                w.bool_field("isValid", false)?;
                w.str_field("invalidReason", crate::json::JsonStr::new(reason.as_str()))?;
                if let Some(p) = payer {
                    w.field("payer", p)?;
                }
            }
        }
        w.end()
    }
}

/// The requirements as this scheme reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requirements<'a> {
    /// The EVM chain id of `network`.
    pub chain_id: u64,
    /// `payTo`: the receiver.
    pub pay_to: Address,
    /// `asset`: the token.
    pub asset: Address,
    /// `amount`: this request's price.
    pub amount: Amount,
    /// `maxTimeoutSeconds`.
    pub max_timeout_seconds: u64,
    /// The scheme's `extra` members.
    pub extra: BatchExtra<'a>,
}

impl<'a> Requirements<'a> {
    /// Reads `batch-settlement` requirements on an `eip155:*` network.
    ///
    /// # Errors
    /// `invalid_payment_requirements` (`invalid_network` for a non-EVM network),
    /// naming the field.
    pub fn from_requirements(r: &PaymentRequirements<'a>) -> Result<Requirements<'a>, Error> {
        let rq = Reason::InvalidPaymentRequirements;
        let chain_id = r.network.evm_chain_id().ok_or(
            Error::new(
                Reason::InvalidNetwork,
                crate::error::ErrorKind::Network("not an eip155 network"),
            )
            .at("network"),
        )?;
        // The scheme's members are read from the object as received; a
        // built `Extra` (no source) still gives its typed members.
        let extra = match &r.extra {
            Some(e) => {
                let mut b = BatchExtra::from_object(e.source)?;
                b.name = b.name.or(e.name);
                b.version = b.version.or(e.version);
                b.asset_transfer_method = b.asset_transfer_method.or(e.asset_transfer_method);
                b
            }
            None => BatchExtra::default(),
        };
        let mut buf = [0u8; 42];
        let pay_to = r
            .pay_to
            .unescape_into(&mut buf)
            .map_err(|_| Error::new(rq, crate::error::ErrorKind::Hex("wrong length")).at("payTo"))
            .and_then(|t| Address::parse(t).map_err(|k| Error::new(rq, k).at("payTo")))?;
        Ok(Requirements {
            chain_id,
            pay_to,
            asset: r.asset_address()?,
            amount: r.amount,
            max_timeout_seconds: r.max_timeout_seconds,
            extra,
        })
    }
}

enum Sig {
    Ok,
    Owed,
    Bad,
}

/// One recovery: `Ok` when the signature recovers to `expected`; for a signer
/// that may be a smart wallet, `Owed` when the host checks those on chain.
fn check_signature(
    text: crate::json::JsonStr<'_>,
    digest: &[u8; 32],
    expected: Address,
    may_be_wallet: bool,
    config: &Config,
) -> Sig {
    let recovered = Signature::parse_hex(text).and_then(|s| s.recover(digest));
    match recovered {
        Ok(a) if a == expected => Sig::Ok,
        Ok(_)
        | Err(SignatureError::Length | SignatureError::Compact | SignatureError::Unrecoverable)
            if may_be_wallet && config.smart_wallets =>
        {
            Sig::Owed
        }
        _ => Sig::Bad,
    }
}

/// The reference's `validateChannelConfig`: the channel id binds the config, and
/// the config matches the requirements.
///
/// # Errors
/// The first failed check's reason.
pub fn check_channel_config(
    config: &ChannelConfig,
    claimed_channel_id: &B256,
    req: &Requirements<'_>,
) -> Result<(), BatchReason> {
    if channel_id(config, req.chain_id) != *claimed_channel_id {
        return Err(BatchReason::ChannelIdMismatch);
    }
    if config.receiver != req.pay_to {
        return Err(BatchReason::ReceiverMismatch);
    }
    match req.extra.receiver_authorizer {
        Some(ra) if ra != Address([0; 20]) && ra == config.receiver_authorizer => {}
        _ => return Err(BatchReason::ReceiverAuthorizerMismatch),
    }
    if config.token != req.asset {
        return Err(BatchReason::TokenMismatch);
    }
    if req
        .extra
        .withdraw_delay
        .is_some_and(|d| d != config.withdraw_delay)
    {
        return Err(BatchReason::WithdrawDelayMismatch);
    }
    if !(MIN_WITHDRAW_DELAY..=MAX_WITHDRAW_DELAY).contains(&config.withdraw_delay) {
        return Err(BatchReason::WithdrawDelayOutOfRange);
    }
    Ok(())
}

/// The channel checks of a voucher, refund or deposit against the channel's
/// state: a voucher or refund needs a funded channel (`channel_not_found`);
/// the voucher's ceiling may not exceed the balance (plus the deposit:
/// `cumulative_exceeds_balance`) and must be above the claimed total (at least
/// it, for a refund: `cumulative_below_claimed`).
///
/// # Errors
/// The first failed check's reason.
pub fn check_channel_state(
    kind: PayloadType,
    max_claimable_amount: &Amount,
    deposit: Option<&Amount>,
    state: &ChannelState,
) -> Result<(), BatchReason> {
    let balance = match (kind, deposit) {
        (PayloadType::Deposit, Some(d)) => state.balance.checked_add(d).unwrap_or(Amount::MAX),
        (PayloadType::Deposit, None) => state.balance,
        _ => {
            if state.balance.is_zero() {
                return Err(BatchReason::ChannelNotFound);
            }
            state.balance
        }
    };
    if *max_claimable_amount > balance {
        return Err(BatchReason::CumulativeExceedsBalance);
    }
    let below = if kind == PayloadType::Refund {
        *max_claimable_amount < state.total_claimed
    } else {
        *max_claimable_amount <= state.total_claimed
    };
    if below {
        return Err(BatchReason::CumulativeAmountBelowClaimed);
    }
    Ok(())
}

/// The resource server's check that the voucher signs exactly the charged
/// total plus this request's price (the charged total alone for a refund),
/// else `invalid_batch_settlement_evm_cumulative_amount_mismatch`, answered
/// with a corrective 402 carrying `extra.channelState` and `extra.voucherState`.
///
/// # Errors
/// `CumulativeAmountMismatch`.
pub fn check_cumulative(
    kind: PayloadType,
    max_claimable_amount: &Amount,
    charged_cumulative_amount: &Amount,
    price: &Amount,
) -> Result<(), BatchReason> {
    let expected = if kind == PayloadType::Refund {
        Some(*charged_cumulative_amount)
    } else {
        charged_cumulative_amount.checked_add(price)
    };
    if expected == Some(*max_claimable_amount) {
        Ok(())
    } else {
        Err(BatchReason::CumulativeAmountMismatch)
    }
}

struct Owed {
    checks: [Option<ChainCheck>; MAX_CHECKS],
    n: usize,
}

impl Owed {
    fn push(&mut self, c: ChainCheck) {
        if let Some(slot) = self.checks.get_mut(self.n) {
            *slot = Some(c);
            self.n += 1;
        }
    }
}

/// The voucher's signature on chain `chain_id`: `Ok(None)` when it recovers
/// to the channel's payer authorizer, or to the payer when the channel has
/// none (`payerAuthorizer` zero). Such a payer may be a smart wallet: with
/// [`Config::smart_wallets`], a signature that does not recover to it passes
/// owing [`ChainCheck::PayerSignature`] (`Ok(Some(..))`). The voucher's
/// `channelId` is not compared with `config` here
/// ([`check_channel_config`] does).
///
/// # Errors
/// [`BatchReason::InvalidVoucherSignature`].
pub fn check_voucher(
    config: &ChannelConfig,
    voucher: &Voucher<'_>,
    chain_id: u64,
    cfg: &Config,
) -> Result<Option<ChainCheck>, BatchReason> {
    let digest = voucher_digest(chain_id, &voucher.channel_id, &voucher.max_claimable_amount);
    let zero = Address([0; 20]);
    let (signer, may_be_wallet) = if config.payer_authorizer == zero {
        (config.payer, true)
    } else {
        (config.payer_authorizer, false)
    };
    match check_signature(voucher.signature, &digest, signer, may_be_wallet, cfg) {
        Sig::Ok => Ok(None),
        Sig::Owed => Ok(Some(ChainCheck::PayerSignature {
            payer: signer,
            digest: B256(digest),
            reason: BatchReason::InvalidVoucherSignature,
        })),
        Sig::Bad => Err(BatchReason::InvalidVoucherSignature),
    }
}

/// Verifies a decoded payload against the requirements at unix time `now`.
#[must_use]
pub fn verify_payload(
    payload: &BatchPayload<'_>,
    req: &Requirements<'_>,
    now: u64,
    facts: &ChainFacts,
    config: &Config,
) -> Verdict {
    let cc = payload.channel_config();
    let payer = Some(cc.payer);
    let voucher = payload.voucher();
    let id = voucher.channel_id;
    if let Err(r) = check_channel_config(cc, &id, req) {
        return Verdict::bad(r, payer);
    }
    let mut owed = Owed {
        checks: [None; MAX_CHECKS],
        n: 0,
    };
    let deposit = if let BatchPayload::Deposit(d) = payload {
        if let Err(r) = check_deposit_authorization(d, req, now, config, &mut owed) {
            return Verdict::bad(r, payer);
        }
        Some(d.deposit.amount)
    } else {
        None
    };
    match check_voucher(cc, voucher, req.chain_id, config) {
        Ok(Some(check)) => owed.push(check),
        Ok(None) => {}
        Err(r) => return Verdict::bad(r, payer),
    }
    // A deposit reads the channel and the payer's balance together, and judges
    // the balance first.
    if let Some(amount) = deposit {
        match facts.payer_balance {
            Some(b) if b < amount => return Verdict::bad(BatchReason::InsufficientBalance, payer),
            Some(_) => {}
            None => owed.push(ChainCheck::BalanceAtLeast {
                token: req.asset,
                owner: cc.payer,
                amount,
            }),
        }
    }
    match &facts.channel {
        Some(s) => {
            if let Err(r) = check_channel_state(
                payload.kind(),
                &voucher.max_claimable_amount,
                deposit.as_ref(),
                s,
            ) {
                return Verdict::bad(r, payer);
            }
        }
        None => owed.push(ChainCheck::ChannelState { channel_id: id }),
    }
    if let Some(amount) = deposit {
        owed.push(ChainCheck::SimulateDeposit {
            channel_id: id,
            amount,
        });
    }
    Verdict::Valid {
        payer: cc.payer,
        channel_id: id,
        state: facts.channel,
        checks: owed.checks,
    }
}

fn check_deposit_authorization(
    d: &DepositPayload<'_>,
    req: &Requirements<'_>,
    now: u64,
    config: &Config,
    owed: &mut Owed,
) -> Result<(), BatchReason> {
    let payer = d.channel_config.payer;
    let auth = &d.deposit.authorization;
    let permit2 = match req.extra.asset_transfer_method {
        Some(m) if !m.is_empty() => m == "permit2",
        _ => auth.permit2.is_some(),
    };
    let amount = d.deposit.amount;
    let margin = Amount::from(now.saturating_add(EXPIRY_MARGIN_SECONDS));
    if permit2 {
        let p = auth
            .permit2
            .as_ref()
            .ok_or(BatchReason::InvalidPayloadType)?;
        if p.from != payer {
            return Err(BatchReason::Permit2InvalidSignature);
        }
        if p.spender != PERMIT2_DEPOSIT_COLLECTOR_ADDRESS {
            return Err(BatchReason::Permit2InvalidSpender);
        }
        if p.token != req.asset {
            return Err(BatchReason::TokenMismatch);
        }
        if p.amount != amount {
            return Err(BatchReason::Permit2AmountMismatch);
        }
        // The reference compares the two strings as written.
        let same_text = match (p.witness_text.and_then(|t| t.as_str()), d.voucher_text()) {
            (Some(a), Some(b)) => a == b,
            _ => p.witness_channel_id == d.voucher.channel_id,
        };
        if p.witness_channel_id != d.voucher.channel_id || !same_text {
            return Err(BatchReason::ChannelIdMismatch);
        }
        if p.deadline < margin {
            return Err(BatchReason::Permit2DeadlineExpired);
        }
        let digest = permit2_deposit_digest(req.chain_id, p);
        match check_signature(p.signature, &digest, payer, true, config) {
            Sig::Ok => {}
            Sig::Owed => owed.push(ChainCheck::PayerSignature {
                payer,
                digest: B256(digest),
                reason: BatchReason::Permit2InvalidSignature,
            }),
            Sig::Bad => return Err(BatchReason::Permit2InvalidSignature),
        }
        owed.push(ChainCheck::Permit2AllowanceAtLeast {
            token: req.asset,
            owner: payer,
            amount,
        });
        return Ok(());
    }
    let e = auth
        .erc3009
        .as_ref()
        .ok_or(BatchReason::Erc3009AuthorizationRequired)?;
    let (name, version) = match (req.extra.name, req.extra.version) {
        (Some(n), Some(v)) if !n.is_empty() && !v.is_empty() => (n, v),
        _ => return Err(BatchReason::MissingEip712Domain),
    };
    if e.valid_before < margin {
        return Err(BatchReason::ValidBeforeExpired);
    }
    if e.valid_after > Amount::from(now) {
        return Err(BatchReason::ValidAfterInFuture);
    }
    let domain = Domain::eip3009(name, version, req.chain_id, req.asset);
    let nonce = erc3009_deposit_nonce(&d.voucher.channel_id, &e.salt);
    let digest = receive_with_authorization_digest(
        &domain,
        &payer,
        &amount,
        &e.valid_after,
        &e.valid_before,
        &nonce,
    );
    match check_signature(e.signature, &digest, payer, true, config) {
        Sig::Ok => Ok(()),
        Sig::Owed => {
            owed.push(ChainCheck::PayerSignature {
                payer,
                digest: B256(digest),
                reason: BatchReason::InvalidReceiveAuthorizationSignature,
            });
            Ok(())
        }
        Sig::Bad => Err(BatchReason::InvalidReceiveAuthorizationSignature),
    }
}

impl DepositPayload<'_> {
    fn voucher_text(&self) -> Option<&str> {
        self.voucher_id_text.and_then(|t| t.as_str())
    }
}

/// Verifies a `paymentPayload` object (`{x402Version, accepted, payload, ...}`)
/// against `paymentRequirements`, as the reference facilitator's `verify` does:
/// the scheme and network first, then the payload's type, then
/// [`verify_payload`].
#[must_use]
pub fn verify(
    payment_payload: JsonObject<'_>,
    requirements: &PaymentRequirements<'_>,
    now: u64,
    facts: &ChainFacts,
    config: &Config,
) -> Verdict {
    let accepted = match payment_payload.get("accepted") {
        Some(v) => match PaymentRequirements::from_json(v) {
            Ok(a) => a,
            Err(e) => return Verdict::input(e.in_object("accepted")),
        },
        None => {
            return Verdict::input(
                crate::types::err(
                    Reason::InvalidPayload,
                    crate::error::ErrorKind::MissingField,
                    "accepted",
                )
                .in_object("paymentPayload"),
            );
        }
    };
    if accepted.scheme != SCHEME || requirements.scheme != SCHEME {
        return Verdict::bad(BatchReason::InvalidScheme, None);
    }
    if !same_network(&accepted.network, &requirements.network) {
        return Verdict::bad(BatchReason::NetworkMismatch, None);
    }
    let Some(raw) = payment_payload.get("payload").and_then(|v| v.as_object()) else {
        return Verdict::bad(BatchReason::InvalidPayloadType, None);
    };
    if PayloadType::of(raw).is_none() {
        return Verdict::bad(BatchReason::InvalidPayloadType, None);
    }
    let payload = match BatchPayload::from_json(raw.as_value()) {
        Ok(p) => p,
        Err(e) => return Verdict::input(e),
    };
    let req = match Requirements::from_requirements(requirements) {
        Ok(r) => r,
        Err(e) => return Verdict::input(e),
    };
    verify_payload(&payload, &req, now, facts, config)
}

fn same_network(a: &Network, b: &Network) -> bool {
    a.as_str() == b.as_str()
}

/// [`verify`] of a `POST /verify` body (`{paymentPayload, paymentRequirements}`).
#[must_use]
pub fn verify_json(body: &[u8], now: u64, facts: &ChainFacts, config: &Config) -> Verdict {
    let v = match crate::json::parse(body, &Limits::DEFAULT) {
        Ok(v) => v,
        Err(k) => return Verdict::input(Error::new(Reason::InvalidPayload, k)),
    };
    let Some(o) = v.as_object() else {
        return Verdict::input(crate::types::err(
            Reason::InvalidPayload,
            crate::error::ErrorKind::WrongType {
                expected: crate::error::JsonType::Object,
            },
            "body",
        ));
    };
    let pp = match o.get("paymentPayload").and_then(|v| v.as_object()) {
        Some(p) => p,
        None => {
            return Verdict::input(crate::types::err(
                Reason::InvalidPayload,
                crate::error::ErrorKind::MissingField,
                "paymentPayload",
            ));
        }
    };
    let req = match o.get("paymentRequirements") {
        Some(v) => match PaymentRequirements::from_json(v) {
            Ok(r) => r,
            Err(e) => return Verdict::input(e.in_object("paymentRequirements")),
        },
        None => {
            return Verdict::input(crate::types::err(
                Reason::InvalidPaymentRequirements,
                crate::error::ErrorKind::MissingField,
                "paymentRequirements",
            ));
        }
    };
    verify(pp, &req, now, facts, config)
}

#[cfg(test)]
mod tests {
    use super::super::client::{self, DepositMethod};
    use super::super::types::{ChannelStateExtra, PaymentResponseExtra};
    use super::*;
    use crate::evm::PrivateKey;
    use crate::json::JsonStr;

    fn key(b: u8) -> PrivateKey {
        PrivateKey::from_bytes(&[b; 32]).unwrap()
    }

    fn req() -> Requirements<'static> {
        Requirements {
            chain_id: 8453,
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

    #[test]
    fn a_voucher_owes_the_channel_state_without_facts() {
        let k = key(1);
        let r = req();
        let cc = client::channel_config(k.address(), None, &r, B256([7; 32])).unwrap();
        let c = client::create_voucher(&k, &cc, 8453, Amount::from(3000u64)).unwrap();
        let v = verify_payload(
            &c.payload(),
            &r,
            0,
            &ChainFacts::default(),
            &Config::default(),
        );
        assert!(v.is_valid(), "{v:?}");
        let checks: Vec<_> = v.chain_checks().collect();
        assert_eq!(
            checks,
            [ChainCheck::ChannelState {
                channel_id: c.channel_id()
            }]
        );
        // The host then judges the state it reads.
        let state = ChannelState {
            balance: Amount::from(3000u64),
            total_claimed: Amount::from(3000u64),
            ..ChannelState::default()
        };
        assert_eq!(
            check_channel_state(PayloadType::Voucher, &Amount::from(3000u64), None, &state),
            Err(BatchReason::CumulativeAmountBelowClaimed)
        );
        assert_eq!(
            check_channel_state(PayloadType::Refund, &Amount::from(3000u64), None, &state),
            Ok(())
        );
    }

    #[test]
    fn a_deposit_owes_balance_state_and_simulation() {
        let k = key(2);
        let r = req();
        let cc = client::channel_config(k.address(), None, &r, B256([0; 32])).unwrap();
        for method in [
            DepositMethod::Erc3009 {
                salt: B256([9; 32]),
            },
            DepositMethod::Permit2 {
                nonce: Amount::from(77u64),
            },
        ] {
            let c = client::create_deposit(
                &k,
                &k,
                &cc,
                &r,
                Amount::from(10_000u64),
                Amount::from(1000u64),
                method,
                1_000,
            )
            .unwrap();
            let mut r2 = r;
            if matches!(method, DepositMethod::Permit2 { .. }) {
                r2.extra.asset_transfer_method = Some(JsonStr::new("permit2"));
            }
            let v = verify_payload(
                &c.payload(),
                &r2,
                1_000,
                &ChainFacts::default(),
                &Config::default(),
            );
            let names: Vec<_> = v.chain_checks().map(|c| c.name()).collect();
            let want: &[&str] = if matches!(method, DepositMethod::Permit2 { .. }) {
                &[
                    "permit2AllowanceAtLeast",
                    "balanceAtLeast",
                    "channelState",
                    "simulateDeposit",
                ]
            } else {
                &["balanceAtLeast", "channelState", "simulateDeposit"]
            };
            assert_eq!(names, want, "{v:?}");
            // The same payload read back from its JSON verifies the same.
            let json = c.to_json_vec();
            let p = BatchPayload::from_json_bytes(&json, &Limits::DEFAULT).unwrap();
            assert_eq!(
                verify_payload(&p, &r2, 1_000, &ChainFacts::default(), &Config::default()),
                v
            );
            // Past the authorization's window, it expires.
            let late = verify_payload(&p, &r2, 1_300, &ChainFacts::default(), &Config::default());
            assert!(!late.is_valid());
        }
    }

    #[test]
    fn a_payer_signature_that_does_not_recover_is_owed_to_the_chain_for_smart_wallets() {
        let k = key(3);
        let r = req();
        let mut cc = client::channel_config(k.address(), None, &r, B256([1; 32])).unwrap();
        cc.payer_authorizer = Address([0; 20]);
        let other = key(4);
        let c = client::create_voucher(&other, &cc, 8453, Amount::from(5u64)).unwrap();
        let strict = verify_payload(
            &c.payload(),
            &r,
            0,
            &ChainFacts::default(),
            &Config::default(),
        );
        assert_eq!(
            strict.reason_str(),
            Some("invalid_batch_settlement_evm_voucher_signature")
        );
        let wallets = Config {
            smart_wallets: true,
        };
        let v = verify_payload(&c.payload(), &r, 0, &ChainFacts::default(), &wallets);
        assert!(v.is_valid());
        assert!(v.chain_checks().any(|c| matches!(
            c,
            ChainCheck::PayerSignature { payer, reason: BatchReason::InvalidVoucherSignature, .. } if payer == k.address()
        )));
        // A payer authorizer's signature is ECDSA only.
        cc.payer_authorizer = Address([5; 20]);
        let c = client::create_voucher(&other, &cc, 8453, Amount::from(5u64)).unwrap();
        let v = verify_payload(&c.payload(), &r, 0, &ChainFacts::default(), &wallets);
        assert_eq!(
            v.reason_str(),
            Some("invalid_batch_settlement_evm_voucher_signature")
        );
    }

    #[test]
    fn the_cumulative_amount_is_the_charged_total_plus_the_price() {
        let charged = Amount::from(2000u64);
        let price = Amount::from(1000u64);
        let ok = Amount::from(3000u64);
        assert_eq!(
            check_cumulative(PayloadType::Voucher, &ok, &charged, &price),
            Ok(())
        );
        assert_eq!(
            check_cumulative(PayloadType::Deposit, &ok, &charged, &price),
            Ok(())
        );
        assert_eq!(
            check_cumulative(PayloadType::Voucher, &charged, &charged, &price),
            Err(BatchReason::CumulativeAmountMismatch)
        );
        assert_eq!(
            check_cumulative(PayloadType::Refund, &charged, &charged, &price),
            Ok(())
        );
        assert_eq!(
            check_cumulative(PayloadType::Refund, &ok, &charged, &price),
            Err(BatchReason::CumulativeAmountMismatch)
        );
        assert_eq!(
            check_cumulative(PayloadType::Voucher, &Amount::MAX, &Amount::MAX, &price),
            Err(BatchReason::CumulativeAmountMismatch)
        );
    }

    #[test]
    fn corrective_402_and_payment_response_extras_read_and_write() {
        let extra = br#"{"name":"USD Coin","version":"2","receiverAuthorizer":"0x1111111111111111111111111111111111111111","withdrawDelay":900,"minDeposit":"10000","channelState":{"channelId":"0x0707070707070707070707070707070707070707070707070707070707070707","balance":"50000","totalClaimed":"2000","withdrawRequestedAt":0,"refundNonce":"1","chargedCumulativeAmount":"3000"},"voucherState":{"signedMaxClaimable":"3000","signature":"0xabcd"}}"#;
        let v = crate::json::parse(extra, &Limits::DEFAULT).unwrap();
        let e = BatchExtra::from_json(v).unwrap();
        let cs = e.channel_state.unwrap();
        assert_eq!(cs.charged_cumulative_amount, Some(Amount::from(3000u64)));
        assert_eq!(cs.onchain().unwrap().refund_nonce, Amount::from(1u64));
        assert_eq!(
            e.voucher_state.unwrap().signed_max_claimable,
            Amount::from(3000u64)
        );
        assert_eq!(e.min_deposit, Some(Amount::from(10_000u64)));
        let back = e.to_json_vec();
        let again =
            BatchExtra::from_json(crate::json::parse(&back, &Limits::DEFAULT).unwrap()).unwrap();
        assert_eq!(again, e);

        let bad = br#"{"channelState":{"balance":50000}}"#;
        let err =
            BatchExtra::from_json(crate::json::parse(bad, &Limits::DEFAULT).unwrap()).unwrap_err();
        assert_eq!(err.reason(), Reason::InvalidPaymentRequirements);
        assert_eq!((err.object(), err.field()), ("channelState", "balance"));

        for (json, charged) in [
            (&br#"{"channelState":{"channelId":"0x0707070707070707070707070707070707070707070707070707070707070707","balance":"50000","totalClaimed":"2000","withdrawRequestedAt":0,"refundNonce":"0","chargedCumulativeAmount":"4000"},"chargedAmount":"1000"}"#[..], Some(1000u64)),
            (&br#"{"channelState":{"chargedCumulativeAmount":"1000"},"chargedAmount":"1000"}"#[..], Some(1000)),
            (&br#"{"channelState":{"channelId":"0x0707070707070707070707070707070707070707070707070707070707070707","balance":"0","totalClaimed":"2000","withdrawRequestedAt":0,"refundNonce":"1"}}"#[..], None),
        ] {
            let p = PaymentResponseExtra::from_json(crate::json::parse(json, &Limits::DEFAULT).unwrap()).unwrap();
            assert_eq!(p.charged_amount, charged.map(Amount::from));
            assert_eq!(p.to_json_vec(), json);
        }
        let s = ChannelStateExtra::of(B256([7; 32]), &ChannelState::default(), None);
        assert!(s.onchain().is_some());
    }
}
