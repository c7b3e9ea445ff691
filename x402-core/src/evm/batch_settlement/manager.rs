//! The channel manager's part of a resource server: getting paid for the
//! vouchers its paywall accepted. Nothing moves on chain while a paywall
//! charges vouchers ([`server`](super::server) commits the charges to the
//! channel records); the manager later asks its facilitator's `POST /settle`
//! to **claim** them — one `claimWithSignature` of many channels, each at its
//! charged total under its latest voucher — and then to **sweep** the claimed
//! funds to the receiver (`settle(receiver, token)`), as `@x402/evm` 2.27's
//! `BatchSettlementChannelManager` does (`claim`, `settle`).
//!
//! This module writes those requests and reads their answers, without I/O or
//! allocation:
//! - [`claim_row`]: a record's claim (its charged total, its latest voucher's
//!   ceiling and signature), or why it has none ([`Skip`]);
//! - [`ClaimBatch`]: the `{"type":"claim","claims":[…]}` payload of up to
//!   [`MAX_CLAIMS`] rows; [`SettlePayload`]'s [`ToJson`] is the sweep's;
//! - [`ManagerRequirements`] and [`SettleRequest`]: the `/settle` body that
//!   carries either, with the reference manager's requirements (`amount`
//!   `"0"`, no `extra`);
//! - [`read_answer`]: what the facilitator's answer says happened
//!   ([`Outcome`]), strictly: only a 2xx `success: true` naming a
//!   transaction on the manager's network is [`Outcome::Done`];
//! - [`claim_settled`]: the record to store once its claim is done.
//!
//! No `claimAuthorizerSignature` is made here: a facilitator configured as
//! the channels' receiver authorizer (this project's `paywire facilitator`
//! with `receiver_authorizer`) signs the batch itself.
//!
//! ```
//! use paywire::evm::Address;
//! use paywire::evm::batch_settlement::manager::{
//!     ClaimBatch, ManagerRequirements, Outcome, SettleRequest, read_answer,
//! };
//! use paywire::evm::batch_settlement::settlement::SettlePayload;
//! use paywire::json::ToJson;
//!
//! let token = Address([0x44; 20]);
//! let receiver = Address([0x22; 20]);
//! let req = ManagerRequirements::new("eip155:84532", token, receiver).unwrap();
//! // The sweep: the receiver's claimed funds, in one transfer.
//! let sweep = SettlePayload { receiver, token };
//! let body = SettleRequest { requirements: &req, payload: &sweep }.to_json_string();
//! assert!(body.contains(r#""payload":{"type":"settle","#));
//! // A batch needs at least one row.
//! assert!(ClaimBatch::new(&[], None).is_none());
//! let answer = br#"{"success":true,"transaction":"0xab","network":"eip155:84532","amount":"3000"}"#;
//! assert!(matches!(read_answer(200, answer, &req), Outcome::Done { .. }));
//! assert!(matches!(read_answer(502, answer, &req), Outcome::Uncertain { .. }));
//! ```

use crate::amount::Amount;
use crate::evm::Address;
use crate::json::{JsonStr, Limits, ObjectWriter, Sink, SinkFull, ToJson};
use crate::network::Network;
use crate::types::FromJson;
use crate::types::facilitator::SettleResponse;

pub use super::settlement::{ClaimRow, MAX_CLAIMS, SettlePayload};

use super::SCHEME;
use super::server::ChannelRecord;
use super::types::fits_u128;

/// How many channels the reference manager claims in one batch by default.
pub const DEFAULT_CLAIMS_PER_BATCH: usize = 100;

/// Why a record is not claimed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Its charged total is not above the claimed total it mirrors.
    NothingToClaim,
    /// It has no voucher signature (`0x`).
    Unsigned,
    /// Its charged total is above its voucher's ceiling, or does not fit the
    /// contract's `uint128`: no claim of it can succeed (no paywall writes
    /// such a record).
    NotCovered,
    /// Its channel pays another receiver, or in another token, than the
    /// manager's.
    OtherReceiver,
}

impl core::fmt::Display for Skip {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Skip::NothingToClaim => "nothing charged above the claimed total",
            Skip::Unsigned => "no voucher signature",
            Skip::NotCovered => "the charged total is not covered by the voucher",
            Skip::OtherReceiver => "another receiver or token",
        })
    }
}

/// The claim of `record`'s charged total under its latest voucher, for a
/// manager paid as `receiver` in `token`: `{voucher: {channel,
/// maxClaimableAmount}, signature, totalClaimed}` with `totalClaimed` the
/// charged total (the reference manager's row).
///
/// # Errors
/// Why the record has nothing to claim here ([`Skip`]).
pub fn claim_row<'a>(
    record: &ChannelRecord<'a>,
    receiver: &Address,
    token: &Address,
) -> Result<ClaimRow<'a>, Skip> {
    let config = &record.channel_config;
    if config.receiver != *receiver || config.token != *token {
        return Err(Skip::OtherReceiver);
    }
    let charged = record.charged_cumulative_amount;
    if charged <= record.onchain.total_claimed {
        return Err(Skip::NothingToClaim);
    }
    if record.signature.len() <= 2 {
        return Err(Skip::Unsigned);
    }
    if charged > record.signed_max_claimable || !fits_u128(&record.signed_max_claimable) {
        return Err(Skip::NotCovered);
    }
    Ok(ClaimRow {
        channel: *config,
        max_claimable_amount: record.signed_max_claimable,
        signature: record.signature,
        total_claimed: charged,
    })
}

/// The record to store once a claim of `total_claimed` for its channel is
/// done ([`Outcome::Done`]): its mirrored `totalClaimed` raised to it.
/// `None` when the record mirrors as much already (nothing to write). The
/// record's other members are kept, `onchain_synced_at` too: the claim tells
/// the claimed total only, not the balance, a withdrawal or the refund nonce,
/// so the rest of the mirror is no fresher than before.
#[must_use]
pub fn claim_settled<'a>(
    record: &ChannelRecord<'a>,
    total_claimed: Amount,
) -> Option<ChannelRecord<'a>> {
    if total_claimed <= record.onchain.total_claimed {
        return None;
    }
    let mut next = *record;
    next.onchain.total_claimed = total_claimed;
    Some(next)
}

/// `{"type":"claim","claims":[…]}`: a batch of claims, with the receiver
/// authorizer's `ClaimBatch` signature when the host made it (absent, a
/// facilitator that is the channels' receiver authorizer signs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimBatch<'r, 'a> {
    rows: &'r [ClaimRow<'a>],
    claim_authorizer_signature: Option<JsonStr<'a>>,
}

impl<'r, 'a> ClaimBatch<'r, 'a> {
    /// The batch of `rows`; `None` unless there are 1 to [`MAX_CLAIMS`] of
    /// them (a facilitator refuses any other count).
    #[must_use]
    pub fn new(
        rows: &'r [ClaimRow<'a>],
        claim_authorizer_signature: Option<JsonStr<'a>>,
    ) -> Option<ClaimBatch<'r, 'a>> {
        (!rows.is_empty() && rows.len() <= MAX_CLAIMS).then_some(ClaimBatch {
            rows,
            claim_authorizer_signature,
        })
    }

    /// The rows.
    #[must_use]
    pub const fn rows(&self) -> &'r [ClaimRow<'a>] {
        self.rows
    }
}

impl ToJson for ClaimBatch<'_, '_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.str_field("type", JsonStr::new("claim"))?;
        w.key(JsonStr::new("claims"))?;
        for (i, row) in self.rows.iter().enumerate() {
            w.sink().put(if i == 0 { b"[" } else { b"," })?;
            row.write_json(w.sink())?;
        }
        w.sink().put(b"]")?;
        w.opt_str_field("claimAuthorizerSignature", self.claim_authorizer_signature)?;
        w.end()
    }
}

/// Whom a manager works for: the network, the token (the route's `asset`)
/// and the receiver (its `payTo`). Written as the requirements every
/// request of the manager carries, as the reference manager writes them:
/// `{scheme: "batch-settlement", network, asset, amount: "0", payTo,
/// maxTimeoutSeconds: 0, extra: {}}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ManagerRequirements {
    /// The network (`eip155:<chain id>`).
    pub network: Network,
    /// The token.
    pub asset: Address,
    /// The receiver (`payTo`).
    pub pay_to: Address,
}

impl ManagerRequirements {
    /// The requirements for `network` (`eip155:<chain id>`, canonical),
    /// `asset` and `pay_to`; `None` for any other network.
    #[must_use]
    pub fn new(network: &str, asset: Address, pay_to: Address) -> Option<ManagerRequirements> {
        let network = Network::parse_caip2(network).ok()?;
        network.evm_chain_id()?;
        Some(ManagerRequirements {
            network,
            asset,
            pay_to,
        })
    }

    /// The sweep of the receiver's claimed funds in the token.
    #[must_use]
    pub const fn sweep(&self) -> SettlePayload {
        SettlePayload {
            receiver: self.pay_to,
            token: self.asset,
        }
    }

    /// The store-key prefix of this network's channel records
    /// (`batch-settlement/{network}/`; a record's key adds its channel id).
    pub fn write_key_prefix(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        super::server::write_channel_key_prefix(self.network.as_str(), out)
    }
}

impl ToJson for ManagerRequirements {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.str_field("scheme", JsonStr::new(SCHEME))?;
        w.field("network", &self.network)?;
        w.field("asset", &self.asset)?;
        w.str_field("amount", JsonStr::new("0"))?;
        w.field("payTo", &self.pay_to)?;
        w.u64_field("maxTimeoutSeconds", 0)?;
        w.key(JsonStr::new("extra"))?;
        w.sink().put(b"{}")?;
        w.end()
    }
}

/// The `POST /settle` body of a manager's request: `{x402Version: 2,
/// paymentPayload: {x402Version: 2, accepted, payload}, paymentRequirements}`,
/// `accepted` and `paymentRequirements` both the manager's requirements.
#[derive(Clone, Copy)]
pub struct SettleRequest<'r> {
    /// The manager's requirements.
    pub requirements: &'r ManagerRequirements,
    /// A [`ClaimBatch`] or a [`SettlePayload`].
    pub payload: &'r dyn ToJson,
}

impl ToJson for SettleRequest<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.u64_field("x402Version", 2)?;
        w.key(JsonStr::new("paymentPayload"))?;
        let mut p = ObjectWriter::new(w.sink())?;
        p.u64_field("x402Version", 2)?;
        p.field("accepted", self.requirements)?;
        p.field("payload", self.payload)?;
        p.end()?;
        w.field("paymentRequirements", self.requirements)?;
        w.end()
    }
}

/// Why an answer leaves the outcome open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Doubt {
    /// HTTP 5xx, 408 or 409: the facilitator may have sent the transaction.
    Status(u16),
    /// A 2xx answer that is not a `SettleResponse`.
    NotASettleResponse,
    /// `success: true` without a transaction, or outside a 2xx answer.
    SuccessUnproven,
    /// `success: true` on another network than the manager's.
    OtherNetwork,
    /// `success: false` while a transaction may be on its way: one named
    /// and not said to have reverted (`settlement_pending`), or a
    /// transaction failure without its hash, or no reason at all.
    Unfinished,
}

impl core::fmt::Display for Doubt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Doubt::Status(s) => write!(f, "the facilitator answered HTTP {s}"),
            Doubt::NotASettleResponse => {
                f.write_str("the facilitator's answer is not a SettleResponse")
            }
            Doubt::SuccessUnproven => {
                f.write_str("the facilitator answered success without a transaction")
            }
            Doubt::OtherNetwork => {
                f.write_str("the facilitator answered success on another network")
            }
            Doubt::Unfinished => f.write_str("the facilitator's transaction is not finished"),
        }
    }
}

/// What a claim or a sweep came to, as the facilitator's answer says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome<'b> {
    /// Done on chain: `success: true` in a 2xx answer, naming its
    /// transaction, on the manager's network.
    Done {
        /// The transaction.
        transaction: JsonStr<'b>,
        /// The amount the answer names (a sweep's: what the receiver got).
        amount: Option<Amount>,
    },
    /// Not done: refused before anything was sent (a `success: false` with
    /// a reason and no transaction; an HTTP 4xx without a `SettleResponse`,
    /// such as an API key that may not act for the receiver), or its
    /// transaction reverted (`*_transaction_failed` naming it).
    Refused {
        /// The HTTP status.
        status: u16,
        /// `errorReason`, if the answer is a `SettleResponse`.
        reason: Option<JsonStr<'b>>,
        /// `errorMessage`, if any.
        message: Option<JsonStr<'b>>,
    },
    /// Maybe done: the host changes nothing and asks again later (the
    /// facilitator answers the same request with the same transaction's
    /// outcome).
    Uncertain {
        /// Why.
        doubt: Doubt,
        /// The transaction the answer names, if any.
        transaction: Option<JsonStr<'b>>,
    },
}

/// Reads the facilitator's answer (`status`, `body`) to a request made with
/// `req`. Strict: anything but a 2xx `success: true` naming a transaction on
/// `req`'s network is not [`Outcome::Done`], and only an answer that proves
/// nothing moved is [`Outcome::Refused`].
#[must_use]
pub fn read_answer<'b>(status: u16, body: &'b [u8], req: &ManagerRequirements) -> Outcome<'b> {
    let limits = Limits {
        max_len: 64 * 1024,
        ..Limits::DEFAULT
    };
    let parsed = SettleResponse::from_json_bytes(body, &limits).ok();
    let named = parsed
        .as_ref()
        .map(|r| r.transaction)
        .filter(|t| !t.is_empty());
    let uncertain = |doubt| Outcome::Uncertain {
        doubt,
        transaction: named,
    };
    if status >= 500 || status == 408 || status == 409 {
        return uncertain(Doubt::Status(status));
    }
    let two_xx = (200..300).contains(&status);
    let Some(r) = parsed else {
        if two_xx {
            return uncertain(Doubt::NotASettleResponse);
        }
        return Outcome::Refused {
            status,
            reason: None,
            message: None,
        };
    };
    if r.success {
        let Some(transaction) = named.filter(|_| two_xx) else {
            return uncertain(Doubt::SuccessUnproven);
        };
        if r.network != req.network {
            return uncertain(Doubt::OtherNetwork);
        }
        return Outcome::Done {
            transaction,
            amount: r.amount,
        };
    }
    let reason = r.error_reason.filter(|s| !s.is_empty());
    let failed = reason
        .and_then(|s| s.as_str())
        .is_some_and(|s| s.ends_with("_transaction_failed"));
    let refused = match named {
        // A transaction exists: only one said to have reverted is final.
        Some(_) => failed,
        None => reason.is_some_and(|s| !failed && s != "settlement_pending"),
    };
    if refused {
        Outcome::Refused {
            status,
            reason,
            message: r.error_message,
        }
    } else {
        uncertain(Doubt::Unfinished)
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::super::settlement::SettleAction;
    use super::super::types::{ChannelConfig, ChannelState};
    use super::*;
    use crate::evm::B256;
    use crate::json::parse;
    use alloc::string::String;
    use alloc::vec::Vec;

    const NETWORK: &str = "eip155:84532";

    fn req() -> ManagerRequirements {
        ManagerRequirements::new(NETWORK, Address([0x44; 20]), Address([0x22; 20])).unwrap()
    }

    fn record(
        n: u8,
        charged: u64,
        claimed: u64,
        signature: &'static str,
    ) -> ChannelRecord<'static> {
        let config = ChannelConfig {
            payer: Address([n; 20]),
            payer_authorizer: Address([n; 20]),
            receiver: Address([0x22; 20]),
            receiver_authorizer: Address([0x33; 20]),
            token: Address([0x44; 20]),
            withdraw_delay: 900,
            salt: B256([n; 32]),
        };
        ChannelRecord {
            channel_id: super::super::channel_id(&config, 84532),
            channel_config: config,
            charged_cumulative_amount: Amount::from(charged),
            signed_max_claimable: Amount::from(charged + 1000),
            signature: JsonStr::new(signature),
            onchain: ChannelState {
                balance: Amount::from(100_000u64),
                total_claimed: Amount::from(claimed),
                ..ChannelState::default()
            },
            onchain_synced_at: Some(7),
            last_request_at: 9,
        }
    }

    fn sig(b: u8) -> &'static str {
        let s: String = alloc::format!("0x{}", alloc::format!("{b:02x}").repeat(65));
        alloc::boxed::Box::leak(s.into_boxed_str())
    }

    #[test]
    fn the_claim_names_each_channel_with_its_charged_total_and_latest_voucher() {
        let (r1, r2) = (req().pay_to, req().asset);
        let records = [
            record(1, 3000, 0, sig(0xa1)),
            record(2, 2000, 2000, sig(0xa2)), // claimed already
            record(3, 5000, 1000, "0x"),      // unsigned
            record(4, 4000, 1000, sig(0xa4)),
        ];
        let outcome: Vec<_> = records.iter().map(|r| claim_row(r, &r1, &r2)).collect();
        assert_eq!(outcome[1], Err(Skip::NothingToClaim));
        assert_eq!(outcome[2], Err(Skip::Unsigned));
        let rows: Vec<ClaimRow<'_>> = outcome.into_iter().filter_map(Result::ok).collect();
        let batch = ClaimBatch::new(&rows, None).unwrap();
        let body = SettleRequest {
            requirements: &req(),
            payload: &batch,
        }
        .to_json_string();
        let doc = parse(body.as_bytes(), &Limits::DEFAULT).unwrap();
        let o = doc.as_object().unwrap();
        let payment = o.get("paymentPayload").unwrap().as_object().unwrap();
        assert_eq!(
            o.get("paymentRequirements"),
            payment.get("accepted"),
            "{body}"
        );
        let Some(SettleAction::Claim(c)) =
            SettleAction::from_json(payment.get("payload").unwrap()).unwrap()
        else {
            panic!("a claim: {body}")
        };
        assert!(c.claim_authorizer_signature.is_none());
        let read: Vec<_> = c.claims.rows().collect();
        assert_eq!(read, rows);
        let named: Vec<_> = read
            .iter()
            .map(|r| (r.entry(84532).channel_id, r.total_claimed, r.signature))
            .collect();
        assert_eq!(
            named,
            [
                (
                    records[0].channel_id,
                    Amount::from(3000u64),
                    JsonStr::new(sig(0xa1))
                ),
                (
                    records[3].channel_id,
                    Amount::from(4000u64),
                    JsonStr::new(sig(0xa4))
                ),
            ]
        );
        assert!(
            read.iter().all(|r| Some(r.max_claimable_amount)
                == r.total_claimed.checked_add(&Amount::from(1000u64)))
        );
        // The requirements, as the reference manager writes them.
        let accepted = req().to_json_string();
        assert_eq!(
            accepted,
            alloc::format!(
                r#"{{"scheme":"batch-settlement","network":"eip155:84532","asset":"{}","amount":"0","payTo":"{}","maxTimeoutSeconds":0,"extra":{{}}}}"#,
                Address([0x44; 20]),
                Address([0x22; 20])
            )
        );
    }

    #[test]
    fn records_that_cannot_be_claimed_here_are_skipped() {
        let (receiver, token) = (req().pay_to, req().asset);
        let mut other = record(1, 3000, 0, sig(1));
        other.channel_config.receiver = Address([0x99; 20]);
        assert_eq!(
            claim_row(&other, &receiver, &token),
            Err(Skip::OtherReceiver)
        );
        let mut other = record(1, 3000, 0, sig(1));
        other.channel_config.token = Address([0x98; 20]);
        assert_eq!(
            claim_row(&other, &receiver, &token),
            Err(Skip::OtherReceiver)
        );
        let mut over = record(1, 3000, 0, sig(1));
        over.signed_max_claimable = Amount::from(2999u64);
        assert_eq!(claim_row(&over, &receiver, &token), Err(Skip::NotCovered));
        let mut huge = record(1, 3000, 0, sig(1));
        huge.signed_max_claimable = Amount::from_be_bytes([0xff; 32]);
        assert_eq!(claim_row(&huge, &receiver, &token), Err(Skip::NotCovered));
        let below = record(1, 1000, 2000, sig(1));
        assert_eq!(
            claim_row(&below, &receiver, &token),
            Err(Skip::NothingToClaim)
        );
        assert_eq!(Skip::Unsigned.to_string(), "no voucher signature");
    }

    #[test]
    fn a_batch_holds_one_to_256_rows() {
        let r = record(1, 3000, 0, sig(1));
        let row = claim_row(&r, &req().pay_to, &req().asset).unwrap();
        assert!(ClaimBatch::new(&[], None).is_none());
        let many = alloc::vec![row; MAX_CLAIMS + 1];
        assert!(ClaimBatch::new(&many, None).is_none());
        let full = ClaimBatch::new(&many[..MAX_CLAIMS], None).unwrap();
        let limits = Limits {
            max_len: 1 << 20,
            ..Limits::DEFAULT
        };
        let json = full.to_json_string();
        let Some(SettleAction::Claim(c)) =
            SettleAction::from_json(parse(json.as_bytes(), &limits).unwrap()).unwrap()
        else {
            panic!("a claim")
        };
        assert_eq!(c.claims.len(), MAX_CLAIMS);
        // With the receiver authorizer's signature, when the host made it.
        let s = sig(7);
        let signed = ClaimBatch::new(&many[..1], Some(JsonStr::new(s))).unwrap();
        let json = signed.to_json_string();
        let Some(SettleAction::Claim(c)) =
            SettleAction::from_json(parse(json.as_bytes(), &limits).unwrap()).unwrap()
        else {
            panic!("a claim")
        };
        assert_eq!(c.claim_authorizer_signature, Some(JsonStr::new(s)));
    }

    #[test]
    fn the_sweep_names_the_receiver_and_token() {
        let body = SettleRequest {
            requirements: &req(),
            payload: &req().sweep(),
        }
        .to_json_string();
        let doc = parse(body.as_bytes(), &Limits::DEFAULT).unwrap();
        let payload = doc
            .as_object()
            .and_then(|o| o.get("paymentPayload"))
            .and_then(|p| p.as_object())
            .and_then(|p| p.get("payload"))
            .unwrap();
        assert_eq!(
            SettleAction::from_json(payload).unwrap(),
            Some(SettleAction::Settle(SettlePayload {
                receiver: Address([0x22; 20]),
                token: Address([0x44; 20]),
            }))
        );
        let mut prefix = Vec::new();
        req().write_key_prefix(&mut prefix).unwrap();
        assert_eq!(prefix, b"batch-settlement/eip155:84532/");
        assert!(
            ManagerRequirements::new("solana:abc", Address([0; 20]), Address([0; 20])).is_none()
        );
        assert!(
            ManagerRequirements::new("eip155:0084532", Address([0; 20]), Address([0; 20]))
                .is_none()
        );
    }

    #[test]
    fn a_claimed_record_mirrors_the_claimed_total_and_nothing_else() {
        let r = record(1, 3000, 1000, sig(1));
        let next = claim_settled(&r, Amount::from(3000u64)).unwrap();
        assert_eq!(next.onchain.total_claimed, Amount::from(3000u64));
        let back = ChannelRecord {
            onchain: r.onchain,
            ..next
        };
        assert_eq!(back, r, "only totalClaimed changes");
        assert_eq!(next.onchain_synced_at, Some(7));
        assert_eq!(claim_settled(&next, Amount::from(3000u64)), None);
        assert_eq!(claim_settled(&next, Amount::from(2000u64)), None);
        // Once claimed, nothing more to claim until charged again.
        assert_eq!(
            claim_row(&next, &req().pay_to, &req().asset),
            Err(Skip::NothingToClaim)
        );
    }

    #[test]
    fn only_a_proven_success_is_done() {
        let req = req();
        let tx = alloc::format!("0x{}", "ab".repeat(32));
        let ok = alloc::format!(
            r#"{{"success":true,"transaction":"{tx}","network":"eip155:84532","amount":"3000"}}"#
        );
        assert_eq!(
            read_answer(200, ok.as_bytes(), &req),
            Outcome::Done {
                transaction: JsonStr::new(&tx),
                amount: Some(Amount::from(3000u64))
            }
        );
        let doubt = |status: u16, body: &str| match read_answer(status, body.as_bytes(), &req) {
            Outcome::Uncertain { doubt, .. } => Some(doubt),
            _ => None,
        };
        assert_eq!(doubt(500, &ok), Some(Doubt::Status(500)));
        assert_eq!(doubt(408, "x"), Some(Doubt::Status(408)));
        assert_eq!(doubt(409, &ok), Some(Doubt::Status(409)));
        assert_eq!(doubt(200, "garbage"), Some(Doubt::NotASettleResponse));
        assert_eq!(
            doubt(201, &ok.replace(&tx, "")),
            Some(Doubt::SuccessUnproven)
        );
        assert_eq!(
            doubt(202, &ok.replace("84532", "8453")),
            Some(Doubt::OtherNetwork)
        );
        assert_eq!(doubt(404, &ok), Some(Doubt::SuccessUnproven));
        let failed = |reason: &str, t: &str| {
            alloc::format!(
                r#"{{"success":false,"errorReason":"{reason}","errorMessage":"m","transaction":"{t}","network":"eip155:84532"}}"#
            )
        };
        let pending = failed("settlement_pending", &tx);
        assert_eq!(doubt(200, &pending), Some(Doubt::Unfinished));
        assert_eq!(
            read_answer(200, pending.as_bytes(), &req),
            Outcome::Uncertain {
                doubt: Doubt::Unfinished,
                transaction: Some(JsonStr::new(&tx))
            }
        );
        assert_eq!(
            doubt(200, &failed("settlement_pending", "")),
            Some(Doubt::Unfinished)
        );
        let lost = failed("invalid_batch_settlement_evm_claim_transaction_failed", "");
        assert_eq!(doubt(200, &lost), Some(Doubt::Unfinished));
        assert_eq!(doubt(200, &failed("", "")), Some(Doubt::Unfinished));
        assert_eq!(
            doubt(
                200,
                &failed("invalid_batch_settlement_evm_claim_simulation_failed", &tx)
            ),
            Some(Doubt::Unfinished)
        );
        // Refused: nothing sent, or its transaction reverted.
        let refused = |status: u16, body: &str| {
            matches!(
                read_answer(status, body.as_bytes(), &req),
                Outcome::Refused { .. }
            )
        };
        let sim = failed("invalid_batch_settlement_evm_claim_simulation_failed", "");
        assert_eq!(
            read_answer(200, sim.as_bytes(), &req),
            Outcome::Refused {
                status: 200,
                reason: Some(JsonStr::new(
                    "invalid_batch_settlement_evm_claim_simulation_failed"
                )),
                message: Some(JsonStr::new("m"))
            }
        );
        assert!(refused(
            200,
            &failed("invalid_batch_settlement_evm_claim_transaction_failed", &tx)
        ));
        assert!(refused(403, r#"{"error":"pay_to_not_allowed"}"#));
        assert!(refused(400, &sim));
        assert_eq!(
            Doubt::Status(502).to_string(),
            "the facilitator answered HTTP 502"
        );
    }
}
