//! Offline verification of `exact` Solana payments, in the reference
//! facilitator's order of checks and with its reasons (`@x402/svm` 2.27, its
//! static-layout path).
//!
//! [`verify`] judges a payload against the requirements: the scheme and
//! network, `extra.feePayer`, the transaction's decoding ([`Transaction`]), the
//! fee payer at account 0, an Ed25519 signature (`verify_strict`) of every
//! other required signer over the message, then the instruction layout:
//! `SetComputeUnitLimit`, `SetComputeUnitPrice` (at most
//! [`MAX_COMPUTE_UNIT_PRICE`]), a Token or Token-2022 `TransferChecked` of
//! `amount` of `asset` to the associated token account of `payTo`, and only
//! Memo or Lighthouse instructions after it (exactly one Memo carrying
//! `extra.memo` when it is set). What only the chain can tell — simulation,
//! the blockhash's age, the payer's balance, the destination account
//! existing — is listed in the valid verdict as owed [`ChainCheck`]s.
//!
//! # Where this verifier is stricter than the reference
//! - A fee payer (`extra.feePayer` or any of [`Config::fee_payers`]) may
//!   appear in no instruction's accounts at all, nor as a program (the
//!   specification's MUST); the reference checks only the transfer's
//!   authority. Refused with
//!   `invalid_exact_svm_payload_transaction_fee_payer_transferring_funds`,
//!   right after the reference's authority check.
//! - The compute unit limit is capped ([`Config::max_compute_units`],
//!   [`DEFAULT_MAX_COMPUTE_UNITS`] by default): without a cap a payer makes
//!   the fee payer pay up to 1.4 million units at the highest accepted price.
//!   The reference caps it only when configured, with the same reason
//!   (`..._compute_limit_instruction_too_high`).
//! - The decoder is strict ([`super::tx`]): non-canonical lengths, trailing
//!   bytes, duplicate keys, a signature count other than the required
//!   signers, or more than 1,232 bytes are
//!   `invalid_exact_svm_payload_transaction_could_not_be_decoded`.
//! - Address lookup tables are refused offline
//!   (`invalid_exact_svm_smart_wallet_alt_resolution_not_available`, as the
//!   reference answers when its signer cannot fetch them).
//! - The memo is compared byte for byte; the reference decodes the data as
//!   UTF-8 with replacement first.
//! - Signatures are checked with `verify_strict` (as the network checks
//!   them): a small-order key is refused, which WebCrypto accepts.
//! - Base64 is canonical (padded), as for the headers.
//!
//! The tests (`tests/it/svm_vectors.rs`) pin each of these against the
//! reference's own verdicts.

use crate::amount::Amount;
use crate::error::{Error, ErrorKind, JsonType, Reason};
use crate::json::{JsonObject, JsonStr, Limits, ObjectWriter, Sink, SinkFull, ToJson};
use crate::types::FromJson;
use crate::types::v2::PaymentRequirements;

use super::reason::SvmReason;
use super::tx::{Instruction, MAX_TRANSACTION_SIZE, Transaction};
use super::{
    COMPUTE_BUDGET_PROGRAM, IX_SET_COMPUTE_UNIT_LIMIT, IX_SET_COMPUTE_UNIT_PRICE,
    IX_TRANSFER_CHECKED, LIGHTHOUSE_PROGRAM, MAX_COMPUTE_UNIT_PRICE, MEMO_PROGRAM, Pubkey, SCHEME,
    TOKEN_2022_PROGRAM, TOKEN_PROGRAM, associated_token_address,
};

/// The default cap on the compute unit limit: the specification's reference
/// default for sponsors (§2.2.1), twenty times the 20,000 units the reference
/// client asks for. At the highest accepted price (5 lamports a unit) it
/// bounds the priority fee at 2,000,000 lamports.
pub const DEFAULT_MAX_COMPUTE_UNITS: u32 = 400_000;

/// The longest base64 text of a [`MAX_TRANSACTION_SIZE`] transaction.
pub const MAX_TRANSACTION_BASE64: usize = MAX_TRANSACTION_SIZE.div_ceil(3) * 4;

/// What the verifier is told about itself.
#[derive(Clone, Copy, Debug)]
pub struct Config<'a> {
    /// The facilitator's fee payers. When not empty, `extra.feePayer` must be
    /// one of them and none of them may be the transfer's authority or appear
    /// in an instruction; when empty, only `extra.feePayer` is held to that.
    pub fee_payers: &'a [Pubkey],
    /// The highest compute unit limit accepted.
    pub max_compute_units: u32,
    /// The highest compute unit price accepted, micro-lamports.
    pub max_compute_unit_price: u64,
    /// The most required signatures accepted (the fee payer's included), as
    /// the reference's `maxRequiredSignatures`; `None` (the default, as
    /// there) for no limit.
    pub max_required_signatures: Option<u8>,
}

impl Default for Config<'_> {
    fn default() -> Self {
        Config {
            fee_payers: &[],
            max_compute_units: DEFAULT_MAX_COMPUTE_UNITS,
            max_compute_unit_price: MAX_COMPUTE_UNIT_PRICE,
            max_required_signatures: None,
        }
    }
}

/// A check that needs the chain, owed after a valid offline verdict. Each
/// fails with `invalid_exact_svm_transaction_simulation_failed` (simulation
/// covers them all; the others let a host answer sooner or cache).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainCheck {
    /// The transaction, signed by the fee payer, simulates without error.
    Simulate,
    /// The blockhash is still recent (not expired).
    BlockhashRecent {
        /// The message's blockhash.
        blockhash: [u8; 32],
    },
    /// The destination token account exists (the client does not create it).
    DestinationExists {
        /// The associated token account of `payTo`.
        account: Pubkey,
    },
    /// The source token account holds at least `amount`.
    SourceBalanceAtLeast {
        /// The payer's token account.
        account: Pubkey,
        /// The transfer.
        amount: u64,
    },
}

impl ChainCheck {
    /// Its name (`simulate`, `blockhashRecent`, ...).
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            ChainCheck::Simulate => "simulate",
            ChainCheck::BlockhashRecent { .. } => "blockhashRecent",
            ChainCheck::DestinationExists { .. } => "destinationExists",
            ChainCheck::SourceBalanceAtLeast { .. } => "sourceBalanceAtLeast",
        }
    }

    /// The reason to answer when the check fails.
    #[must_use]
    pub const fn failure_reason(&self) -> SvmReason {
        SvmReason::TransactionSimulationFailed
    }
}

/// A check written as the generic verifier writes its own
/// (`{"check":"sourceBalanceAtLeast","account":"…","amount":"1000"}`; the
/// blockhash in base58).
impl ToJson for ChainCheck {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.str_field("check", JsonStr::new(self.name()))?;
        match self {
            ChainCheck::Simulate => {}
            ChainCheck::BlockhashRecent { blockhash } => {
                w.field("blockhash", &Pubkey(*blockhash))?;
            }
            ChainCheck::DestinationExists { account } => w.field("account", account)?,
            ChainCheck::SourceBalanceAtLeast { account, amount } => {
                w.field("account", account)?;
                w.field("amount", &Amount::from(*amount))?;
            }
        }
        w.end()
    }
}

/// Why a payment is invalid: one of the scheme's reasons, or a protocol reason
/// (`invalid_payload`, ...) for input that could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvalidReason {
    /// `invalid_exact_svm_*`.
    Scheme(SvmReason),
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

/// The transfer a valid payment makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// The token program (Token or Token-2022).
    pub program: Pubkey,
    /// The payer's token account.
    pub source: Pubkey,
    /// The mint (`asset`).
    pub mint: Pubkey,
    /// The associated token account of `payTo`.
    pub destination: Pubkey,
    /// The payer (the transfer's authority).
    pub authority: Pubkey,
    /// The amount, atomic units.
    pub amount: u64,
    /// The decimals the transfer states (the chain checks them).
    pub decimals: u8,
}

/// The room for owed checks in a verdict.
const MAX_CHECKS: usize = 4;

/// The outcome of [`verify`].
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The offline checks passed.
    Valid {
        /// The payer (the transfer's authority).
        payer: Pubkey,
        /// The fee payer (account 0).
        fee_payer: Pubkey,
        /// The transfer.
        transfer: Transfer,
        /// Checks still owed, in order.
        checks: [Option<ChainCheck>; MAX_CHECKS],
    },
    /// A check failed.
    Invalid {
        /// The first failed check's reason.
        reason: InvalidReason,
        /// The payer, once known (as the reference reports it).
        payer: Option<Pubkey>,
    },
}

impl Verdict {
    fn bad(reason: SvmReason, payer: Option<Pubkey>) -> Verdict {
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
    pub const fn payer(&self) -> Option<Pubkey> {
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

/// A verdict written as a VerifyResponse: `{isValid, invalidReason?, payer?}`.
impl ToJson for Verdict {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        match self {
            Verdict::Valid { payer, .. } => {
                w.bool_field("isValid", true)?;
                w.field("payer", payer)?;
            }
            Verdict::Invalid { reason, payer } => {
                w.bool_field("isValid", false)?;
                w.str_field("invalidReason", JsonStr::new(reason.as_str()))?;
                if let Some(p) = payer {
                    w.field("payer", p)?;
                }
            }
        }
        w.end()
    }
}

/// `extra.feePayer` as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeePayer {
    /// Absent, empty or not a string.
    Missing,
    /// A string that is not a base58 address.
    Invalid,
    /// An address.
    Key(Pubkey),
}

/// The requirements as this scheme reads them. Unreadable addresses are kept
/// as `None` and fail where the reference's comparison fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requirements<'a> {
    /// `amount`.
    pub amount: Amount,
    /// `asset`: the mint.
    pub asset: Option<Pubkey>,
    /// `payTo`: the owner of the destination token account.
    pub pay_to: Option<Pubkey>,
    /// `extra.feePayer`.
    pub fee_payer: FeePayer,
    /// `extra.memo`, when a non-empty string.
    pub memo: Option<JsonStr<'a>>,
}

fn pubkey_of(s: JsonStr<'_>) -> Option<Pubkey> {
    let mut buf = [0u8; super::PUBKEY_BASE58_MAX];
    let t = s.unescape_into(&mut buf).ok()?;
    Pubkey::parse(t).ok()
}

impl<'a> Requirements<'a> {
    /// Reads the scheme's view of `r`.
    #[must_use]
    pub fn from_requirements(r: &PaymentRequirements<'a>) -> Requirements<'a> {
        let extra = r.extra.as_ref().map(|e| e.source);
        let fee_payer = match extra
            .and_then(|e| e.get("feePayer"))
            .and_then(|v| v.as_str())
        {
            None => FeePayer::Missing,
            Some(s) if s.is_empty() => FeePayer::Missing,
            Some(s) => pubkey_of(s).map_or(FeePayer::Invalid, FeePayer::Key),
        };
        let memo = extra
            .and_then(|e| e.get("memo"))
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty());
        Requirements {
            amount: r.amount,
            asset: pubkey_of(r.asset),
            pay_to: pubkey_of(r.pay_to),
            fee_payer,
            memo,
        }
    }
}

/// Decodes the payload's `transaction` (strict base64) into `buf`.
///
/// # Errors
/// `None` for text that is not base64 of at most [`MAX_TRANSACTION_SIZE`] bytes.
pub fn decode_base64<'b>(
    text: JsonStr<'_>,
    buf: &'b mut [u8; MAX_TRANSACTION_SIZE],
) -> Option<&'b [u8]> {
    let mut tbuf = [0u8; MAX_TRANSACTION_BASE64];
    let t = text.unescape_into(&mut tbuf).ok()?;
    let n = crate::header::base64_decode(t.as_bytes(), buf).ok()?;
    buf.get(..n)
}

fn is_fee_payer(k: &Pubkey, fee_payer: &Pubkey, config: &Config<'_>) -> bool {
    k == fee_payer || config.fee_payers.contains(k)
}

fn compute_limit(
    ix: &Instruction<'_>,
    tx: &Transaction<'_>,
    config: &Config<'_>,
) -> Result<(), SvmReason> {
    if tx.key(usize::from(ix.program_index)) != Some(COMPUTE_BUDGET_PROGRAM)
        || ix.data.first() != Some(&IX_SET_COMPUTE_UNIT_LIMIT)
    {
        return Err(SvmReason::ComputeLimitInstruction);
    }
    let units = ix
        .data
        .get(1..5)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
        .ok_or(SvmReason::ComputeLimitInstruction)?;
    if units > config.max_compute_units {
        return Err(SvmReason::ComputeLimitInstructionTooHigh);
    }
    Ok(())
}

fn compute_price(
    ix: &Instruction<'_>,
    tx: &Transaction<'_>,
    config: &Config<'_>,
) -> Result<(), SvmReason> {
    if tx.key(usize::from(ix.program_index)) != Some(COMPUTE_BUDGET_PROGRAM)
        || ix.data.first() != Some(&IX_SET_COMPUTE_UNIT_PRICE)
    {
        return Err(SvmReason::ComputePriceInstruction);
    }
    let price = ix
        .data
        .get(1..9)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
        .ok_or(SvmReason::ComputePriceInstruction)?;
    if price > config.max_compute_unit_price {
        return Err(SvmReason::ComputePriceInstructionTooHigh);
    }
    Ok(())
}

fn is_token_program(k: Option<Pubkey>) -> bool {
    k == Some(TOKEN_PROGRAM) || k == Some(TOKEN_2022_PROGRAM)
}

/// The reference's notion of the payer: account 3 of the first Token or
/// Token-2022 instruction with at least four accounts.
fn token_payer(tx: &Transaction<'_>) -> Option<Pubkey> {
    tx.instructions()
        .filter(|ix| is_token_program(tx.key(usize::from(ix.program_index))))
        .find_map(|ix| ix.accounts.get(3).map(|&i| tx.key(usize::from(i))))
        .flatten()
}

fn verify_signature(key: &Pubkey, signature: &[u8; 64], message: &[u8]) -> bool {
    let Ok(vk) = ed25519_dalek::VerifyingKey::from_bytes(&key.0) else {
        return false;
    };
    let sig = ed25519_dalek::Signature::from_bytes(signature);
    vk.verify_strict(message, &sig).is_ok()
}

/// Verifies a decoded transaction against the requirements, from the fee
/// payer's check on (the scheme, network and `extra.feePayer` having passed).
#[must_use]
pub fn verify_transaction(
    tx: &Transaction<'_>,
    fee_payer: &Pubkey,
    req: &Requirements<'_>,
    config: &Config<'_>,
) -> Verdict {
    if config
        .max_required_signatures
        .is_some_and(|m| tx.header.num_required_signatures > m)
    {
        return Verdict::bad(SvmReason::ExcessiveSigners, None);
    }
    // Account 0 pays the fees; every other signer has signed.
    if tx.fee_payer() != *fee_payer {
        return Verdict::bad(SvmReason::FeePayerMismatch, None);
    }
    let message = tx.message_bytes();
    for i in 1..usize::from(tx.header.num_required_signatures) {
        let ok = match (tx.key(i), tx.signature(i)) {
            (Some(k), Some(s)) => verify_signature(&k, s, message),
            _ => false,
        };
        if !ok {
            return Verdict::bad(SvmReason::SignatureInvalid, None);
        }
    }
    if tx.num_lookups() > 0 {
        return Verdict::bad(SvmReason::AltResolutionNotAvailable, None);
    }

    // The layout.
    let n = tx.num_instructions();
    if !(3..=7).contains(&n) {
        return Verdict::bad(SvmReason::InstructionsLength, None);
    }
    let mut ixs = tx.instructions();
    let (Some(limit), Some(price), Some(transfer)) = (ixs.next(), ixs.next(), ixs.next()) else {
        return Verdict::bad(SvmReason::InstructionsLength, None);
    };
    if let Err(r) = compute_limit(&limit, tx, config) {
        return Verdict::bad(r, None);
    }
    if let Err(r) = compute_price(&price, tx, config) {
        return Verdict::bad(r, None);
    }
    let Some(payer) = token_payer(tx) else {
        return Verdict::bad(SvmReason::NoTransferInstruction, None);
    };
    let bad = |r| Verdict::bad(r, Some(payer));

    // The transfer.
    let program = tx.key(usize::from(transfer.program_index));
    let Some(program) = program.filter(|_| is_token_program(program)) else {
        return bad(SvmReason::NoTransferInstruction);
    };
    if transfer.data.len() < 10 || transfer.data.first() != Some(&IX_TRANSFER_CHECKED) {
        return bad(SvmReason::NoTransferInstruction);
    }
    let account = |i: usize| {
        transfer
            .accounts
            .get(i)
            .and_then(|&k| tx.key(usize::from(k)))
    };
    let (Some(source), Some(mint), Some(destination), Some(authority)) =
        (account(0), account(1), account(2), account(3))
    else {
        return bad(SvmReason::NoTransferInstruction);
    };
    let amount = transfer
        .data
        .get(1..9)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
        .unwrap_or_default();
    let decimals = transfer.data.get(9).copied().unwrap_or_default();

    let managed = |k: &Pubkey| {
        if config.fee_payers.is_empty() {
            k == fee_payer
        } else {
            config.fee_payers.contains(k)
        }
    };
    if managed(&authority) {
        return bad(SvmReason::FeePayerTransferringFunds);
    }
    // Stricter: no fee payer in any instruction's accounts, nor as a program.
    for ix in tx.instructions() {
        for &a in ix
            .accounts
            .iter()
            .chain(core::iter::once(&ix.program_index))
        {
            if tx
                .key(usize::from(a))
                .is_some_and(|k| is_fee_payer(&k, fee_payer, config))
            {
                return bad(SvmReason::FeePayerTransferringFunds);
            }
        }
    }
    if req.asset != Some(mint) {
        return bad(SvmReason::MintMismatch);
    }
    let Some(pay_to) = req.pay_to else {
        return bad(SvmReason::RecipientMismatch);
    };
    if destination != associated_token_address(&pay_to, &mint, &program) {
        return bad(SvmReason::RecipientMismatch);
    }
    if req.amount != Amount::from(amount) {
        return bad(SvmReason::AmountMismatch);
    }

    // Only Memo and Lighthouse after the transfer.
    const UNKNOWN: [SvmReason; 4] = [
        SvmReason::UnknownFourthInstruction,
        SvmReason::UnknownFifthInstruction,
        SvmReason::UnknownSixthInstruction,
        SvmReason::UnknownSeventhInstruction,
    ];
    for (i, ix) in tx.instructions().skip(3).enumerate() {
        let p = tx.key(usize::from(ix.program_index));
        if p != Some(MEMO_PROGRAM) && p != Some(LIGHTHOUSE_PROGRAM) {
            return bad(UNKNOWN
                .get(i)
                .copied()
                .unwrap_or(SvmReason::UnknownSeventhInstruction));
        }
    }
    if let Some(memo) = req.memo {
        let mut memos = tx
            .instructions()
            .skip(3)
            .filter(|ix| tx.key(usize::from(ix.program_index)) == Some(MEMO_PROGRAM));
        let (Some(only), None) = (memos.next(), memos.next()) else {
            return bad(SvmReason::MemoCount);
        };
        let mut buf = [0u8; MAX_TRANSACTION_SIZE];
        let same = memo
            .unescape_into(&mut buf)
            .is_ok_and(|m| m.as_bytes() == only.data);
        if !same {
            return bad(SvmReason::MemoMismatch);
        }
    }

    Verdict::Valid {
        payer,
        fee_payer: *fee_payer,
        transfer: Transfer {
            program,
            source,
            mint,
            destination,
            authority,
            amount,
            decimals,
        },
        checks: [
            Some(ChainCheck::BlockhashRecent {
                blockhash: *tx.recent_blockhash,
            }),
            Some(ChainCheck::DestinationExists {
                account: destination,
            }),
            Some(ChainCheck::SourceBalanceAtLeast {
                account: source,
                amount,
            }),
            Some(ChainCheck::Simulate),
        ],
    }
}

/// Verifies the scheme payload (`{"transaction": base64}`) against the
/// requirements, from `extra.feePayer` on.
#[must_use]
pub fn verify_payload(
    payload: Option<JsonObject<'_>>,
    req: &Requirements<'_>,
    config: &Config<'_>,
) -> Verdict {
    let fee_payer = match req.fee_payer {
        FeePayer::Missing => return Verdict::bad(SvmReason::MissingFeePayer, None),
        FeePayer::Invalid if !config.fee_payers.is_empty() => {
            return Verdict::bad(SvmReason::FeePayerNotManaged, None);
        }
        FeePayer::Invalid => None,
        FeePayer::Key(k) => {
            if !config.fee_payers.is_empty() && !config.fee_payers.contains(&k) {
                return Verdict::bad(SvmReason::FeePayerNotManaged, None);
            }
            Some(k)
        }
    };
    let mut buf = [0u8; MAX_TRANSACTION_SIZE];
    let tx = payload
        .and_then(|p| p.get("transaction"))
        .and_then(|v| v.as_str())
        .and_then(|t| decode_base64(t, &mut buf))
        .and_then(|b| Transaction::decode(b).ok());
    let Some(tx) = tx else {
        return Verdict::bad(SvmReason::TransactionCouldNotBeDecoded, None);
    };
    let Some(fee_payer) = fee_payer else {
        let excessive = config
            .max_required_signatures
            .is_some_and(|m| tx.header.num_required_signatures > m);
        return Verdict::bad(
            if excessive {
                SvmReason::ExcessiveSigners
            } else {
                SvmReason::FeePayerMismatch
            },
            None,
        );
    };
    verify_transaction(&tx, &fee_payer, req, config)
}

/// Verifies a `paymentPayload` object (`{x402Version, accepted, payload, ...}`)
/// against `paymentRequirements`, as the reference facilitator's `verify` does.
#[must_use]
pub fn verify(
    payment_payload: JsonObject<'_>,
    requirements: &PaymentRequirements<'_>,
    config: &Config<'_>,
) -> Verdict {
    let accepted = match payment_payload.get("accepted") {
        Some(v) => match PaymentRequirements::from_json(v) {
            Ok(a) => a,
            Err(e) => return Verdict::input(e.in_object("accepted")),
        },
        None => {
            return Verdict::input(
                crate::types::err(Reason::InvalidPayload, ErrorKind::MissingField, "accepted")
                    .in_object("paymentPayload"),
            );
        }
    };
    verify_accepted(
        &accepted,
        payment_payload.get("payload").and_then(|v| v.as_object()),
        requirements,
        config,
    )
}

/// [`verify`] of a decoded v2 `PaymentPayload` (the generic verifier's
/// entry, [`crate::verify::verify_parts`], routes `solana:*` here).
#[must_use]
pub fn verify_parts(
    payment_payload: &crate::types::v2::PaymentPayload<'_>,
    requirements: &PaymentRequirements<'_>,
    config: &Config<'_>,
) -> Verdict {
    verify_accepted(
        &payment_payload.accepted,
        payment_payload.payload.as_json(),
        requirements,
        config,
    )
}

fn verify_accepted(
    accepted: &PaymentRequirements<'_>,
    payload: Option<JsonObject<'_>>,
    requirements: &PaymentRequirements<'_>,
    config: &Config<'_>,
) -> Verdict {
    if accepted.scheme != SCHEME || requirements.scheme != SCHEME {
        return Verdict::bad(SvmReason::UnsupportedScheme, None);
    }
    if accepted.network.as_str() != requirements.network.as_str() {
        return Verdict::bad(SvmReason::NetworkMismatch, None);
    }
    let req = Requirements::from_requirements(requirements);
    verify_payload(payload, &req, config)
}

/// [`verify`] of a `POST /verify` body (`{paymentPayload, paymentRequirements}`).
#[must_use]
pub fn verify_json(body: &[u8], config: &Config<'_>) -> Verdict {
    let v = match crate::json::parse(body, &Limits::DEFAULT) {
        Ok(v) => v,
        Err(k) => return Verdict::input(Error::new(Reason::InvalidPayload, k)),
    };
    let Some(o) = v.as_object() else {
        return Verdict::input(crate::types::err(
            Reason::InvalidPayload,
            ErrorKind::WrongType {
                expected: JsonType::Object,
            },
            "body",
        ));
    };
    let Some(pp) = o.get("paymentPayload").and_then(|v| v.as_object()) else {
        return Verdict::input(crate::types::err(
            Reason::InvalidPayload,
            ErrorKind::MissingField,
            "paymentPayload",
        ));
    };
    let Some(rv) = o.get("paymentRequirements") else {
        return Verdict::input(crate::types::err(
            Reason::InvalidPaymentRequirements,
            ErrorKind::MissingField,
            "paymentRequirements",
        ));
    };
    match PaymentRequirements::from_json(rv) {
        Ok(r) => verify(pp, &r, config),
        Err(e) => Verdict::input(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::svm::client::{Memo, Payment, SigningKey, create_transaction};

    const FEE_PAYER: Pubkey = Pubkey([7; 32]);
    const MINT: Pubkey = Pubkey([8; 32]);
    const PAY_TO: Pubkey = Pubkey([9; 32]);

    fn payment(memo: Memo<'_>) -> Payment<'_> {
        Payment {
            fee_payer: FEE_PAYER,
            mint: MINT,
            pay_to: PAY_TO,
            token_program: TOKEN_2022_PROGRAM,
            decimals: 6,
            amount: 1000,
            recent_blockhash: [3; 32],
            memo,
            compute_unit_limit: 20_000,
            compute_unit_price: 1,
        }
    }

    fn build(p: &Payment<'_>) -> std::vec::Vec<u8> {
        let key = SigningKey::from_bytes(&[42; 32]);
        let mut out = [0u8; MAX_TRANSACTION_SIZE];
        let n = create_transaction(&key, p, &mut out).unwrap();
        out[..n].to_vec()
    }

    fn req(memo: Option<&'static str>) -> Requirements<'static> {
        Requirements {
            amount: Amount::from(1000u64),
            asset: Some(MINT),
            pay_to: Some(PAY_TO),
            fee_payer: FeePayer::Key(FEE_PAYER),
            memo: memo.map(JsonStr::new),
        }
    }

    fn judge(bytes: &[u8], r: &Requirements<'_>) -> Verdict {
        let tx = Transaction::decode(bytes).unwrap();
        verify_transaction(&tx, &FEE_PAYER, r, &Config::default())
    }

    #[test]
    fn own_payments_are_valid() {
        let b = build(&payment(Memo::Nonce([1; 16])));
        let v = judge(&b, &req(None));
        assert!(v.is_valid(), "{v:?}");
        assert_eq!(v.chain_checks().count(), 4);
        let b = build(&payment(Memo::Text(b"invoice")));
        assert!(judge(&b, &req(Some("invoice"))).is_valid());
        assert_eq!(
            judge(&b, &req(Some("other"))).reason_str(),
            Some(SvmReason::MemoMismatch.as_str())
        );
    }

    #[test]
    fn requirements_mismatches() {
        let b = build(&payment(Memo::Nonce([1; 16])));
        let mut r = req(None);
        r.amount = Amount::from(1001u64);
        assert_eq!(
            judge(&b, &r).reason_str(),
            Some(SvmReason::AmountMismatch.as_str())
        );
        let mut r = req(None);
        r.asset = None;
        assert_eq!(
            judge(&b, &r).reason_str(),
            Some(SvmReason::MintMismatch.as_str())
        );
        let mut r = req(None);
        r.pay_to = Some(MINT);
        assert_eq!(
            judge(&b, &r).reason_str(),
            Some(SvmReason::RecipientMismatch.as_str())
        );
        let tx = Transaction::decode(&b).unwrap();
        let v = verify_transaction(&tx, &PAY_TO, &req(None), &Config::default());
        assert_eq!(v.reason_str(), Some(SvmReason::FeePayerMismatch.as_str()));
    }

    #[test]
    fn compute_caps() {
        let mut p = payment(Memo::Nonce([1; 16]));
        p.compute_unit_limit = DEFAULT_MAX_COMPUTE_UNITS + 1;
        assert_eq!(
            judge(&build(&p), &req(None)).reason_str(),
            Some(SvmReason::ComputeLimitInstructionTooHigh.as_str())
        );
        let mut p = payment(Memo::Nonce([1; 16]));
        p.compute_unit_price = MAX_COMPUTE_UNIT_PRICE + 1;
        assert_eq!(
            judge(&build(&p), &req(None)).reason_str(),
            Some(SvmReason::ComputePriceInstructionTooHigh.as_str())
        );
    }

    #[test]
    fn required_signatures_cap() {
        let b = build(&payment(Memo::Nonce([1; 16])));
        let tx = Transaction::decode(&b).unwrap();
        let mut c = Config {
            max_required_signatures: Some(1),
            ..Config::default()
        };
        assert_eq!(
            verify_transaction(&tx, &FEE_PAYER, &req(None), &c).reason_str(),
            Some(SvmReason::ExcessiveSigners.as_str())
        );
        c.max_required_signatures = Some(2);
        assert!(verify_transaction(&tx, &FEE_PAYER, &req(None), &c).is_valid());
    }

    #[test]
    fn a_flipped_message_byte_breaks_the_signature() {
        let mut b = build(&payment(Memo::Nonce([1; 16])));
        let last = b.len() - 2;
        b[last] ^= 1;
        assert_eq!(
            judge(&b, &req(None)).reason_str(),
            Some(SvmReason::SignatureInvalid.as_str())
        );
    }

    #[test]
    fn unreadable_bodies() {
        let c = Config::default();
        assert_eq!(
            verify_json(b"nope", &c).reason_str(),
            Some("invalid_payload")
        );
        let body = br#"{"paymentPayload":{"x402Version":2,"accepted":{"scheme":"exact","network":"solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1","amount":"1","asset":"a","payTo":"b","maxTimeoutSeconds":60,"extra":{"feePayer":"96jgpaHSdAiGufjzHYDiAyhdD9UFwJmFdmmawdPoVX3D"}},"payload":{}},"paymentRequirements":{"scheme":"exact","network":"solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1","amount":"1","asset":"a","payTo":"b","maxTimeoutSeconds":60,"extra":{"feePayer":"96jgpaHSdAiGufjzHYDiAyhdD9UFwJmFdmmawdPoVX3D"}}}"#;
        assert_eq!(
            verify_json(body, &c).reason_str(),
            Some(SvmReason::TransactionCouldNotBeDecoded.as_str())
        );
        let v = verify_json(body, &c);
        let json = crate::json::ToJson::to_json_vec(&v);
        assert!(json.starts_with(br#"{"isValid":false,"invalidReason":"invalid_exact_svm_"#));
    }
}
