//! `batch-settlement` on EVM (`eip155:*`): payment channels of the x402
//! batch-settlement contract, paid with cumulative vouchers. The channel's
//! record ([`ChannelRecord`]) lives in the host's store under
//! `batch-settlement/{network}/{channelId}`, read with a lookup and changed
//! only by compare-and-swap; the per-channel decisions are those of
//! [`evm::batch_settlement::server`](crate::evm::batch_settlement::server).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::amount::Amount;
use crate::error::Reason;
use crate::evm::batch_settlement::server::{
    self, Accepted, ChannelRecord, Decision, Policy, Settle as AfterHandler,
};
use crate::evm::batch_settlement::settlement::ClaimRow;
use crate::evm::batch_settlement::types::{
    BatchPayload, ChannelStateExtra, PayloadType, PaymentResponseExtra,
};
use crate::evm::batch_settlement::verify::Requirements;
use crate::evm::batch_settlement::{BatchReason, MIN_WITHDRAW_DELAY};
use crate::header::HeaderKind;
use crate::json::{JsonObject, JsonStr, ObjectWriter, Sink, SinkFull, ToJson};
use crate::types::facilitator::{
    PaymentPayload, PaymentRequirements, SettleResponse, VerifyRequest, VerifyResponse,
};
use crate::types::{FromJson, RawObject, v2};

use super::answer::{ANSWER_CACHE_CONTROL, Answer, Outcome, PAID_CACHE_CONTROL, b64};
use super::classify::{SettleReply, Settled, classify_settle_reply};
use super::machine::{Lifecycle, Phase, Purpose};
use super::presented::Presented;
use super::record::{Payment, State};
use super::route::HandlerResult;
use super::{BATCH_SCHEME, limits};

/// The store key of a channel's record.
pub(super) fn channel_key(network: &str, channel_id: &crate::evm::B256) -> String {
    let mut key = Vec::new();
    let _ = server::write_channel_key_prefix(network, &mut key);
    format!("{}{channel_id}", String::from_utf8_lossy(&key))
}

/// The store key of the claim a deposit or a refund holds on its channel
/// (`channel`: the channel's key) from before it reaches the facilitator
/// until its answer is out: one settlement at a time per channel, and never
/// the same one sent twice by concurrent presentations.
fn claim_key(channel: &str) -> String {
    format!("{channel}{}", server::CLAIM_KEY_SUFFIX)
}

/// The key of the channel record whose claim `record` (under `key`) is, when
/// it is a channel's claim that a deposit or a refund holds at `now`
/// (unix seconds): a channel manager leaves that channel for later.
#[must_use]
pub fn held_channel_claim<'k>(key: &'k str, record: &str, now: u64) -> Option<&'k str> {
    let channel = key.strip_suffix(server::CLAIM_KEY_SUFFIX)?;
    let seen = super::record::read_record(record)?;
    (seen.state == State::Claimed && seen.until > now).then_some(channel)
}

/// Where an EVM `batch-settlement` payment is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// The channel's record is being read, before anything else.
    Lookup,
    /// A deposit or a refund claims its channel before it goes to the
    /// facilitator.
    Claim,
    /// The facilitator verifies the payment.
    Verify,
    /// The record is read again after the facilitator's verification.
    Reread,
    /// The handler runs (its response held back).
    Handle,
    /// The deposit settles through the facilitator.
    SettleDeposit,
    /// The refund settles through the facilitator.
    SettleRefund,
    /// The record is committed (compare-and-swap against the one read).
    Commit,
    /// A deposit settled; its record is committed.
    CommitDeposit,
    /// A refund settled; its record is committed.
    CommitRefund,
    /// An uncertain deposit's or refund's record is written for
    /// reconciliation.
    RecordUncertain,
}

/// An EVM `batch-settlement` payment in progress.
#[derive(Clone, Debug)]
pub(super) struct EvmBatch {
    /// The decoded payment header.
    json: Vec<u8>,
    /// The route requirement it pays.
    index: usize,
    pub(super) step: Step,
    /// The record to commit (JSON), once decided.
    next: Option<String>,
    /// The payment response's `extra` (JSON), once decided.
    response: Option<String>,
    /// The channel's charged total before this request.
    base: Amount,
    /// The `extra` of the facilitator's valid verification (JSON).
    verified: Option<String>,
    /// The enriched refund payload sent to `/settle` (JSON).
    refund_payload: Option<String>,
    /// The `PAYMENT-RESPONSE` value once decided.
    payment_response: Option<String>,
    /// Why the settlement is uncertain, for the answer.
    cause: String,
    /// The channel's claim this request holds (key, record), given back once
    /// its answer is out.
    claim: Option<(String, String)>,
    /// Where the payment goes once its claim is taken.
    after_claim: Option<(Step, Phase)>,
}

/// A decision with everything owned, to apply to the lifecycle.
enum Next {
    Accept {
        next: String,
        response: String,
        base: Amount,
    },
    Verify,
    Refund {
        record: String,
        payload: String,
    },
    Refuse {
        reason: &'static str,
        corrective: Option<(String, String)>,
    },
    Broken(&'static str),
}

/// The refund payload as settled: the client's members, then what the
/// server adds (`amount` when the client gave none, `refundNonce`, `claims`).
struct EnrichedRefund<'a> {
    payload: JsonObject<'a>,
    settlement: server::RefundSettlement,
    config: &'a crate::evm::batch_settlement::ChannelConfig,
    signature: JsonStr<'a>,
}

impl ToJson for EnrichedRefund<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let s = &self.settlement;
        let mut w = ObjectWriter::new(out)?;
        for (k, v) in self.payload.members() {
            if !(k == "refundNonce" || k == "claims") {
                w.value_field(k, v)?;
            }
        }
        if s.amount_computed {
            w.field("amount", &s.amount)?;
        }
        w.field("refundNonce", &s.refund_nonce)?;
        w.key(JsonStr::new("claims"))?;
        w.sink().put(b"[")?;
        ClaimRow {
            channel: *self.config,
            max_claimable_amount: s.claim.max_claimable_amount,
            signature: self.signature,
            total_claimed: s.claim.total_claimed,
        }
        .write_json(w.sink())?;
        w.sink().put(b"]")?;
        w.end()
    }
}

/// A settlement's payment response with this server's `extra`.
struct WithExtra<'a> {
    settled: JsonObject<'a>,
    extra: &'a str,
}

impl ToJson for WithExtra<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        for (k, v) in self.settled.members() {
            if k != "extra" {
                w.value_field(k, v)?;
            }
        }
        w.key(JsonStr::new("extra"))?;
        w.sink().put(self.extra.as_bytes())?;
        w.end()
    }
}

fn parse_record(text: &str) -> Option<ChannelRecord<'_>> {
    let v = crate::json::parse(text.as_bytes(), &limits(text.len())).ok()?;
    ChannelRecord::from_json(v).ok()
}

fn parse_state(text: Option<&str>) -> Option<ChannelStateExtra> {
    let v = crate::json::parse(text?.as_bytes(), &limits(4096)).ok()?;
    ChannelStateExtra::from_json(v).ok()
}

/// A `SettleResponse`'s `extra.channelState`.
fn settled_state(settle_json: &str) -> Option<ChannelStateExtra> {
    let v = crate::json::parse(settle_json.as_bytes(), &limits(settle_json.len())).ok()?;
    let cs = v
        .as_object()?
        .get("extra")?
        .as_object()?
        .get("channelState")?;
    ChannelStateExtra::from_json(cs).ok()
}

/// Reasons of `success: false` that, without a transaction, prove nothing
/// was sent (the facilitator refused before sending); with a transaction,
/// only the `…_transaction_failed` ones (the transaction reverted) do.
fn batch_refusal(reason: BatchReason, with_transaction: bool) -> bool {
    let reverted = matches!(
        reason,
        BatchReason::DepositTransactionFailed
            | BatchReason::RefundTransactionFailed
            | BatchReason::ClaimTransactionFailed
            | BatchReason::SettleTransactionFailed
    );
    if with_transaction {
        return reverted;
    }
    !reverted
        && !matches!(
            reason,
            BatchReason::RpcReadFailed | BatchReason::SmartWalletDeploymentFailed
        )
}

/// [`classify_settle_reply`] with this scheme's own refusals, and a success
/// that must name its transaction (a deposit and a refund are transactions).
fn classify(reply: SettleReply<'_>, network: crate::Network) -> Settled {
    if let SettleReply::Answered { status, body } = reply {
        let answered = (200..500).contains(&status) && status != 408 && status != 409;
        if let Ok(r) = SettleResponse::from_json_bytes(body, &limits(64 * 1024)) {
            let reason = r
                .error_reason
                .and_then(|s| BatchReason::from_wire(&s.to_cow()));
            if let (true, false, Some(reason)) = (answered, r.success, reason) {
                if batch_refusal(reason, !r.transaction.is_empty()) {
                    return Settled::Refused {
                        reason: reason.as_str().into(),
                        message: r
                            .error_message
                            .map(|m| m.to_cow().into_owned())
                            .unwrap_or_default(),
                    };
                }
            }
            if r.success && r.transaction.is_empty() && (200..300).contains(&status) {
                return Settled::Uncertain {
                    cause: "the facilitator answered success without a transaction".into(),
                    transaction: String::new(),
                };
            }
        }
    }
    classify_settle_reply(reply, BATCH_SCHEME, network)
}

impl Lifecycle {
    /// Reads an EVM `batch-settlement` payment and looks its channel up.
    pub(super) fn start_evm_batch(&mut self, json: Vec<u8>) {
        let read = (|| {
            let payload = match PaymentPayload::from_json_bytes(&json, &limits(json.len())) {
                Ok(PaymentPayload::V2(p)) => p,
                Ok(PaymentPayload::V1(_)) => {
                    return Err((
                        Reason::InvalidX402Version.as_str(),
                        String::from("this server speaks x402 version 2"),
                    ));
                }
                Err(e) => return Err((e.reason().as_str(), format!("{e}"))),
            };
            let route = self.route.parsed().ok_or((
                Reason::InvalidPaymentRequirements.as_str(),
                String::from("the route cannot be read"),
            ))?;
            let accepted = payload.accepted;
            let found = route.accepts.iter().enumerate().find(|(_, r)| {
                super::is_evm_batch(r)
                    && r.network == accepted.network
                    && r.asset
                        .to_cow()
                        .eq_ignore_ascii_case(&accepted.asset.to_cow())
            });
            let Some((index, req)) = found else {
                return Err((
                    Reason::NoMatchingRequirements.as_str(),
                    String::from(
                        "accepted (scheme, network, asset) matches none of this route's requirements",
                    ),
                ));
            };
            let p = payload
                .payload_json()
                .and_then(|o| BatchPayload::from_json(o.as_value()))
                .map_err(|e| (e.reason().as_str(), format!("{e}")))?;
            let id = p.voucher().channel_id;
            let payer = p.channel_config().payer.checksummed();
            let amount = match &p {
                BatchPayload::Deposit(d) => d.deposit.amount,
                _ => req.amount,
            };
            let mut payment = Payment::new(
                BATCH_SCHEME,
                &payer.as_str().to_ascii_lowercase(),
                &format!("{id}/{}", p.kind().as_str()),
                amount,
                req.network.as_str(),
                &req.asset.to_cow().to_ascii_lowercase(),
                &route.resource.url.to_cow(),
                self.now,
                0,
            );
            payment.key = channel_key(req.network.as_str(), &id);
            Ok((index, payment))
        })();
        match read {
            Ok((index, payment)) => {
                self.payment = payment;
                self.presented = Some(Presented::EvmBatch(alloc::boxed::Box::new(EvmBatch {
                    json,
                    index,
                    step: Step::Lookup,
                    next: None,
                    response: None,
                    base: Amount::ZERO,
                    verified: None,
                    refund_payload: None,
                    payment_response: None,
                    cause: String::new(),
                    claim: None,
                    after_claim: None,
                })));
                self.phase = Phase::Lookup;
            }
            Err((reason, message)) => self.payment_required(reason, &message),
        }
    }

    fn evm_batch(&self) -> Option<&EvmBatch> {
        match &self.presented {
            Some(Presented::EvmBatch(b)) => Some(b),
            _ => None,
        }
    }

    fn evm_batch_mut(&mut self) -> Option<&mut EvmBatch> {
        match &mut self.presented {
            Some(Presented::EvmBatch(b)) => Some(b),
            _ => None,
        }
    }

    /// Runs `f` on the payment's parts: the payload object, the scheme's
    /// payload, the route's requirement read as the scheme's, and as sent.
    fn with_parts<R>(
        &self,
        f: impl FnOnce(
            JsonObject<'_>,
            &BatchPayload<'_>,
            &Requirements<'_>,
            v2::PaymentRequirements<'_>,
            v2::PaymentPayload<'_>,
        ) -> R,
    ) -> Option<R> {
        let b = self.evm_batch()?;
        let route = self.route.parsed()?;
        let req = route.accepts.get(b.index)?;
        let PaymentPayload::V2(p) =
            PaymentPayload::from_json_bytes(&b.json, &limits(b.json.len())).ok()?
        else {
            return None;
        };
        let object = p.payload_json().ok()?;
        let payload = BatchPayload::from_json(object.as_value()).ok()?;
        let rq = Requirements::from_requirements(&req).ok()?;
        Some(f(object, &payload, &rq, req, p))
    }

    /// The policy for the route's requirement: the mirrored state is trusted
    /// for a third of the channel's withdraw delay (30 s to 5 min).
    fn policy(rq: &Requirements<'_>) -> Policy {
        Policy::for_withdraw_delay(rq.extra.withdraw_delay.unwrap_or(MIN_WITHDRAW_DELAY))
    }

    /// Feeds the channel's record ([`Action::Lookup`](super::Action::Lookup)).
    pub(super) fn evm_batch_record(&mut self, record: Option<&str>) {
        let Some(step) = self.evm_batch().map(|b| b.step) else {
            return;
        };
        self.seen = record.map(String::from);
        if record.is_some_and(|r| parse_record(r).is_none()) {
            self.problem(
                500,
                Outcome::StoreError,
                Reason::UnexpectedSettleError,
                "the store holds a channel record this server cannot read",
            );
            return;
        }
        let now = self.now;
        let verified = self.evm_batch().and_then(|b| b.verified.clone());
        let decided = self.with_parts(|object, payload, rq, _, _| {
            let rec = record.and_then(parse_record);
            let decision = if step == Step::Reread {
                let state = parse_state(verified.as_deref());
                server::after_verify(rec.as_ref(), payload, rq, &rq.amount, state.as_ref(), now)
            } else {
                server::decide(
                    rec.as_ref(),
                    payload,
                    rq,
                    &rq.amount,
                    now,
                    &Self::policy(rq),
                )
            };
            match decision {
                Err(_) => Next::Broken("the price exceeds the route's amount"),
                Ok(Decision::Accept(a)) => Next::Accept {
                    next: a.next.to_json_string(),
                    response: a.response.to_json_string(),
                    base: rec.map_or_else(
                        || {
                            a.next
                                .charged_cumulative_amount
                                .checked_sub(&rq.amount)
                                .unwrap_or(Amount::ZERO)
                        },
                        |r| r.charged_cumulative_amount,
                    ),
                },
                Ok(Decision::Verify { .. }) if step == Step::Reread => {
                    Next::Broken("verified twice")
                }
                Ok(Decision::Verify { .. }) => Next::Verify,
                Ok(Decision::Refund { record: r }) => {
                    match server::refund_settlement(Some(&r), payload, rq) {
                        Ok(s) => {
                            let BatchPayload::Refund(refund) = payload else {
                                return Next::Broken("not a refund");
                            };
                            Next::Refund {
                                record: r.to_json_string(),
                                payload: EnrichedRefund {
                                    payload: object,
                                    settlement: s,
                                    config: &refund.channel_config,
                                    signature: refund.voucher.signature,
                                }
                                .to_json_string(),
                            }
                        }
                        Err(reason) => Next::Refuse {
                            reason: reason.as_str(),
                            corrective: None,
                        },
                    }
                }
                Ok(Decision::Refuse(r)) => Next::Refuse {
                    reason: r.reason.as_str(),
                    corrective: r.corrective.map(|c| {
                        (
                            c.channel_state.to_json_string(),
                            c.voucher_state.to_json_string(),
                        )
                    }),
                },
            }
        });
        let Some(decided) = decided else {
            self.payment_required(
                Reason::InvalidPayload.as_str(),
                "the payment cannot be read",
            );
            return;
        };
        self.apply(decided);
    }

    fn apply(&mut self, next: Next) {
        match next {
            Next::Accept {
                next,
                response,
                base,
            } => {
                if let Some(b) = self.evm_batch_mut() {
                    b.next = Some(next);
                    b.response = Some(response);
                    b.base = base;
                    b.step = Step::Handle;
                }
                self.phase = Phase::Handle { redelivery: None };
            }
            Next::Verify => {
                let body = self.batch_facilitator_body(None);
                let verify = Phase::Verify {
                    body,
                    timeout_ms: self.batch_timeout_ms(),
                };
                // A deposit settles later in this request: it claims the
                // channel first. A voucher only reads the chain's state.
                let deposit = self
                    .with_parts(|_, p, _, _, _| p.kind() == PayloadType::Deposit)
                    .unwrap_or(false);
                if deposit {
                    self.claim_then(Step::Verify, verify);
                } else {
                    if let Some(b) = self.evm_batch_mut() {
                        b.step = Step::Verify;
                    }
                    self.phase = verify;
                }
            }
            Next::Refund { record, payload } => {
                let body = self.batch_facilitator_body(Some(&payload));
                if let Some(b) = self.evm_batch_mut() {
                    b.next = Some(record);
                    b.refund_payload = Some(payload);
                }
                let settle = Phase::Settle {
                    body,
                    timeout_ms: self.batch_timeout_ms(),
                };
                self.claim_then(Step::SettleRefund, settle);
            }
            Next::Refuse { reason, corrective } => self.batch_refused(reason, corrective),
            Next::Broken(why) => {
                self.problem(500, Outcome::StoreError, Reason::UnexpectedSettleError, why)
            }
        }
    }

    /// Claims the channel (a claim record under [`claim_key`], written only
    /// where there is none or an expired one), then goes on to `phase`.
    fn claim_then(&mut self, step: Step, phase: Phase) {
        let key = claim_key(&self.payment.key);
        // Long enough for the verification, the handler and the settlement.
        let lease = self
            .settings
            .claim_seconds
            .saturating_add(self.batch_timeout_ms().div_ceil(1000).saturating_mul(2));
        let new = self.record(State::Claimed, self.now.saturating_add(lease), None, "");
        if let Some(b) = self.evm_batch_mut() {
            b.step = Step::Claim;
            b.after_claim = Some((step, phase));
        }
        self.phase = Phase::ClaimSwap {
            key,
            expected: None,
            new: Some(new),
        };
    }

    /// Feeds the result of a swap of the channel's claim.
    pub(super) fn evm_batch_claim_swapped(&mut self, result: Result<(), Option<&str>>) {
        let Phase::ClaimSwap { key, new, .. } = &self.phase else {
            return;
        };
        let (key, new) = (key.clone(), new.clone());
        // Given back: nothing more to do, whoever holds it now.
        let Some(new) = new else {
            self.phase = Phase::Done;
            return;
        };
        match result {
            Ok(()) => {
                self.swaps = 0;
                let Some(b) = self.evm_batch_mut() else {
                    return;
                };
                b.claim = Some((key, new));
                match b.after_claim.take() {
                    Some((step, phase)) => {
                        b.step = step;
                        self.phase = phase;
                    }
                    None => self.phase = Phase::Done,
                }
            }
            Err(current) => {
                self.swaps = self.swaps.saturating_add(1);
                if self.swapped_too_often() {
                    return;
                }
                let seen = current.map(|c| (c, super::record::read_record(c)));
                let expected = match seen {
                    None => None,
                    // Another request settles on this channel now.
                    Some((_, Some(held))) if held.until > self.now => {
                        self.problem(
                            409,
                            Outcome::InProgress,
                            Reason::PaymentInProgress,
                            "another request is settling on this channel now; nothing was charged: retry shortly",
                        );
                        return;
                    }
                    // Its holder is gone: take it over.
                    Some((c, Some(_))) => Some(String::from(c)),
                    Some((_, None)) => {
                        self.problem(
                            500,
                            Outcome::StoreError,
                            Reason::UnexpectedSettleError,
                            "the store holds a channel claim this server cannot read",
                        );
                        return;
                    }
                };
                self.phase = Phase::ClaimSwap {
                    key,
                    expected,
                    new: Some(new),
                };
            }
        }
    }

    /// Says the store failed for a swap of the channel's claim.
    pub(super) fn evm_batch_claim_store_error(&mut self, detail: &str) {
        let Phase::ClaimSwap { new, .. } = &self.phase else {
            return;
        };
        if new.is_none() {
            // Not given back: it expires.
            self.phase = Phase::Done;
            return;
        }
        self.problem_text(
            503,
            Outcome::StoreError,
            BatchReason::VerificationStateUnavailable.as_str(),
            &format!("the channel store is unavailable ({detail}); nothing was charged"),
        );
    }

    /// Gives the channel's claim back, once the answer is out; `false` when
    /// this request holds none.
    pub(super) fn evm_batch_release(&mut self) -> bool {
        let Some((key, claim)) = self.evm_batch_mut().and_then(|b| b.claim.take()) else {
            return false;
        };
        self.phase = Phase::ClaimSwap {
            key,
            expected: Some(claim),
            new: None,
        };
        true
    }

    /// 402 with `reason`; for a cumulative-amount mismatch, the matching
    /// `accepts` entry carries `extra.channelState` and `extra.voucherState`.
    fn batch_refused(&mut self, reason: &str, corrective: Option<(String, String)>) {
        self.payment_required(reason, "");
        let (Some((cs, vs)), Some(index)) = (corrective, self.evm_batch().map(|b| b.index)) else {
            return;
        };
        let Phase::Respond { answer, .. } = &mut self.phase else {
            return;
        };
        let Some(body) = answer.body.as_deref() else {
            return;
        };
        let Ok(v) = crate::json::parse(body.as_bytes(), &limits(body.len())) else {
            return;
        };
        let Some(o) = v.as_object() else {
            return;
        };
        let json = Corrected {
            doc: o,
            index,
            channel_state: &cs,
            voucher_state: &vs,
        }
        .to_json_string();
        for (name, value) in &mut answer.headers {
            if *name == HeaderKind::PaymentRequired.name() {
                *value = b64(json.as_bytes());
            }
        }
        answer.body = Some(json);
    }

    fn batch_timeout_ms(&self) -> u64 {
        let max = self
            .evm_batch()
            .and_then(|b| {
                self.route
                    .parsed()
                    .and_then(|r| r.accepts.get(b.index).map(|r| r.max_timeout_seconds))
            })
            .unwrap_or(0);
        let t = self.settings.settle_timeout_seconds;
        let t = if max > 0 { t.min(max) } else { t };
        t.saturating_mul(1000)
    }

    /// `{x402Version, paymentPayload, paymentRequirements}` for `/verify`
    /// and `/settle`; `payload`: the scheme payload to send instead of the
    /// client's (a refund's, enriched).
    fn batch_facilitator_body(&self, payload: Option<&str>) -> String {
        let replaced =
            payload.and_then(|p| crate::json::parse(p.as_bytes(), &limits(p.len())).ok());
        self.with_parts(|_, _, _, req, p| {
            let p = match &replaced {
                Some(v) => v2::PaymentPayload {
                    payload: RawObject::Value(v),
                    ..p
                },
                None => p,
            };
            VerifyRequest {
                payment_payload: PaymentPayload::V2(p),
                payment_requirements: PaymentRequirements::V2(req),
                source: JsonObject::EMPTY,
            }
            .to_json_string()
        })
        .unwrap_or_default()
    }

    /// Feeds the facilitator's verification ([`Action::Verify`](super::Action::Verify)).
    pub(super) fn evm_batch_verified(&mut self, reply: SettleReply<'_>, detail: &str) {
        let verdict = match reply {
            SettleReply::Answered { status, body } if (200..300).contains(&status) => {
                VerifyResponse::from_json_bytes(body, &limits(body.len()))
                    .ok()
                    .map(|v| {
                        (
                            v.is_valid,
                            v.invalid_reason
                                .map(|r| r.to_cow().into_owned())
                                .unwrap_or_default(),
                            v.invalid_message
                                .map(|m| m.to_cow().into_owned())
                                .unwrap_or_default(),
                            v.extra
                                .and_then(|e| e.as_json())
                                .map(|e| String::from(e.raw())),
                        )
                    })
            }
            _ => None,
        };
        match verdict {
            Some((true, _, _, extra)) => {
                if let Some(b) = self.evm_batch_mut() {
                    b.verified = extra;
                    b.step = Step::Reread;
                }
                self.phase = Phase::Lookup;
            }
            Some((false, reason, message, _)) => {
                let reason = if reason.is_empty() {
                    String::from("invalid_payload")
                } else {
                    reason
                };
                self.payment_required(&reason, &message);
            }
            _ => {
                let why = match reply {
                    SettleReply::NotSent => {
                        "the facilitator could not be reached to verify the payment"
                    }
                    SettleReply::NoAnswer => "the facilitator did not answer the verification",
                    SettleReply::Answered { .. } => {
                        "the facilitator's verification was not a VerifyResponse"
                    }
                };
                let cause = if detail.is_empty() {
                    String::from(why)
                } else {
                    format!("{why} ({detail})")
                };
                self.problem(
                    502,
                    Outcome::FacilitatorUnavailable,
                    Reason::UnexpectedVerifyError,
                    &format!("{cause}; nothing was charged: present the same payment again later"),
                );
            }
        }
    }
}

/// A 402 document whose `accepts[index].extra` carries the corrective state.
struct Corrected<'a> {
    doc: JsonObject<'a>,
    index: usize,
    channel_state: &'a str,
    voucher_state: &'a str,
}

impl ToJson for Corrected<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        for (k, v) in self.doc.members() {
            let accepts = match (k == "accepts", v.as_array()) {
                (true, Some(a)) => a,
                _ => {
                    w.value_field(k, v)?;
                    continue;
                }
            };
            w.key(k)?;
            w.sink().put(b"[")?;
            for (i, e) in accepts.iter().enumerate() {
                if i > 0 {
                    w.sink().put(b",")?;
                }
                match (i == self.index, e.as_object()) {
                    (true, Some(entry)) => self.entry(entry, w.sink())?,
                    _ => w.sink().put(e.raw().as_bytes())?,
                }
            }
            w.sink().put(b"]")?;
        }
        w.end()
    }
}

impl Corrected<'_> {
    fn entry(&self, entry: JsonObject<'_>, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        let mut had_extra = false;
        for (k, v) in entry.members() {
            if k != "extra" {
                w.value_field(k, v)?;
                continue;
            }
            had_extra = true;
            w.key(k)?;
            let mut x = ObjectWriter::new(w.sink())?;
            if let Some(o) = v.as_object() {
                for (k, v) in o.members() {
                    if !(k == "channelState" || k == "voucherState") {
                        x.value_field(k, v)?;
                    }
                }
            }
            self.states(&mut x)?;
            x.end()?;
        }
        if !had_extra {
            w.key(JsonStr::new("extra"))?;
            let mut x = ObjectWriter::new(w.sink())?;
            self.states(&mut x)?;
            x.end()?;
        }
        w.end()
    }

    fn states(&self, x: &mut ObjectWriter<'_>) -> Result<(), SinkFull> {
        x.key(JsonStr::new("channelState"))?;
        x.sink().put(self.channel_state.as_bytes())?;
        x.key(JsonStr::new("voucherState"))?;
        x.sink().put(self.voucher_state.as_bytes())
    }
}

impl Lifecycle {
    /// The most a handler may charge through `Settlement-Overrides`: the
    /// route's `amount` (the per-request maximum the voucher covers).
    pub(super) fn evm_batch_permitted(&self) -> Option<Amount> {
        let b = self.evm_batch()?;
        self.route.parsed()?.accepts.get(b.index).map(|r| r.amount)
    }

    /// Feeds the handler's result: a failure commits nothing; a success
    /// commits the charge (a voucher), or settles the deposit first.
    pub(super) fn evm_batch_handled(&mut self, result: HandlerResult<'_>) {
        let status = match (result, &self.charge) {
            (HandlerResult::Status(_), Some(Err(_))) | (HandlerResult::Status(402), _) => 0,
            (HandlerResult::Status(s), _) => s,
            (HandlerResult::Failed(_), _) => 0,
        };
        self.handler_status = status;
        if !(200..300).contains(&status) {
            // Nothing was written: the voucher (or deposit) stays unused.
            let answer = super::settlement::handler_failed(status, None);
            self.answer(answer);
            return;
        }
        let price = match (&self.charge, self.evm_batch_permitted()) {
            (Some(Ok(c)), Some(max)) => (*c).min(max),
            (_, Some(max)) => max,
            (_, None) => Amount::ZERO,
        };
        let Some(b) = self.evm_batch_mut() else {
            return;
        };
        // The charge is this request's price, at most the route's amount.
        let (next, response) = match (
            b.next.as_deref().and_then(parse_record),
            b.response.as_deref(),
        ) {
            (Some(mut next), Some(response)) => {
                let response = crate::json::parse(response.as_bytes(), &limits(response.len()))
                    .ok()
                    .and_then(|v| PaymentResponseExtra::from_json(v).ok());
                let Some(mut response) = response else {
                    return;
                };
                let Some(charged) = b.base.checked_add(&price) else {
                    return;
                };
                next.charged_cumulative_amount = charged;
                response.charged_amount = Some(price);
                if let Some(cs) = &mut response.channel_state {
                    cs.charged_cumulative_amount = Some(charged);
                }
                (next.to_json_string(), response.to_json_string())
            }
            _ => return,
        };
        let deposit = parse_record(&next).is_some()
            && self
                .with_parts(|_, p, _, _, _| p.kind() == PayloadType::Deposit)
                .unwrap_or(false);
        let Some(b) = self.evm_batch_mut() else {
            return;
        };
        b.next = Some(next.clone());
        b.response = Some(response);
        if deposit {
            b.step = Step::SettleDeposit;
            let body = self.batch_facilitator_body(None);
            self.phase = Phase::Settle {
                body,
                timeout_ms: self.batch_timeout_ms(),
            };
        } else {
            b.step = Step::Commit;
            self.swap(Purpose::RecordSettled, Some(next));
        }
    }

    /// Feeds the facilitator's settlement of a deposit or a refund.
    pub(super) fn evm_batch_settled(&mut self, reply: SettleReply<'_>, detail: &str) {
        let Some((step, network)) = self.evm_batch().and_then(|b| {
            let r = self.route.parsed()?;
            Some((b.step, r.accepts.get(b.index)?.network))
        }) else {
            self.phase = Phase::Done;
            return;
        };
        match classify(reply, network) {
            Settled::Success(json) => {
                let state = settled_state(&json);
                let now = self.now;
                let Some(b) = self.evm_batch_mut() else {
                    return;
                };
                let Some(next) = b.next.clone() else {
                    return;
                };
                let Some(record) = parse_record(&next) else {
                    return;
                };
                if step == Step::SettleDeposit {
                    let response = b
                        .response
                        .as_deref()
                        .and_then(|r| crate::json::parse(r.as_bytes(), &limits(r.len())).ok())
                        .and_then(|v| PaymentResponseExtra::from_json(v).ok())
                        .unwrap_or_default();
                    let accepted = Accepted {
                        payer: record.channel_config.payer,
                        next: record,
                        response,
                        settle: AfterHandler::Deposit,
                    };
                    let (committed, extra) =
                        server::deposit_settled(&accepted, state.as_ref(), now);
                    let pr = payment_response(&json, &extra.to_json_string());
                    let committed = committed.to_json_string();
                    b.payment_response = Some(pr);
                    b.step = Step::CommitDeposit;
                    self.swap(Purpose::RecordSettled, Some(committed));
                } else {
                    // A refund: the channel's state after it, or no record
                    // when nothing is left above the charged total. A
                    // settlement without the state leaves the mirror stale.
                    let new = match server::refund_settled(&record, state.as_ref(), now) {
                        Ok(r) => r.map(|r| r.to_json_string()),
                        Err(_) => Some(
                            ChannelRecord {
                                onchain_synced_at: None,
                                ..record
                            }
                            .to_json_string(),
                        ),
                    };
                    b.payment_response = Some(b64(json.as_bytes()));
                    b.step = Step::CommitRefund;
                    self.swap(Purpose::RecordSettled, new);
                }
            }
            Settled::Refused { reason, message } => self.payment_required(&reason, &message),
            Settled::NotSettled { reason, cause } => {
                let cause = if detail.is_empty() {
                    cause
                } else {
                    format!("{cause}: {detail}")
                };
                self.problem(
                    502,
                    Outcome::FacilitatorUnavailable,
                    reason,
                    &format!("{cause}; nothing was settled: present the same payment again later"),
                );
            }
            Settled::Uncertain { cause, transaction } => {
                let cause = if detail.is_empty() {
                    cause
                } else {
                    format!("{cause}: {detail}")
                };
                self.transaction = transaction;
                // The record for reconciliation, under a key of this request
                // beside the channel's (whose record is left as it was).
                let key = format!("{}/uncertain/{}", self.payment.key, self.id);
                self.payment.key = key;
                let new = self.record(State::Uncertain, 0, None, &cause);
                self.uncertain = Some(new.clone());
                if let Some(b) = self.evm_batch_mut() {
                    b.step = Step::RecordUncertain;
                    b.cause = cause;
                    // The claim stays until it expires: the same payment
                    // presented meanwhile is not sent again.
                    b.claim = None;
                }
                self.seen = None;
                self.swap(Purpose::RecordUncertain, Some(new));
            }
        }
    }

    /// Feeds the result of a compare-and-swap of the channel's record.
    pub(super) fn evm_batch_swapped(&mut self, result: Result<(), Option<&str>>) {
        let Some(b) = self.evm_batch() else {
            return;
        };
        let (step, pr, response, cause) = (
            b.step,
            b.payment_response.clone(),
            b.response.clone(),
            b.cause.clone(),
        );
        match (step, result) {
            (Step::Commit, Ok(())) => {
                // The voucher's charge is committed: that is the payment.
                let pr = self
                    .with_parts(|_, p, _, req, _| {
                        voucher_response(
                            p,
                            req.network.as_str(),
                            response.as_deref().unwrap_or("{}"),
                        )
                    })
                    .unwrap_or_default();
                self.batch_deliver(pr);
            }
            (Step::CommitDeposit, Ok(())) => self.batch_deliver(pr.unwrap_or_default()),
            (Step::CommitRefund, Ok(())) => self.refund_answer(pr.unwrap_or_default()),
            (Step::Commit, Err(_)) => self.channel_busy(None),
            // The deposit settled: never a 402, nothing delivered.
            (Step::CommitDeposit, Err(_)) => self.channel_busy(pr),
            // The refund settled; another request moved the record: the
            // refund's answer all the same (the mirror is refreshed by the
            // next verification).
            (Step::CommitRefund, Err(_)) => self.refund_answer(pr.unwrap_or_default()),
            (Step::RecordUncertain, _) => self.uncertain_answer(&cause),
            _ => {}
        }
    }

    /// Says the store failed for the channel's lookup or a swap.
    pub(super) fn evm_batch_store_error(&mut self, detail: &str) {
        let Some(b) = self.evm_batch() else {
            return;
        };
        let (step, pr, cause) = (b.step, b.payment_response.clone(), b.cause.clone());
        match step {
            Step::RecordUncertain => self.uncertain_answer(&cause),
            Step::CommitRefund => self.refund_answer(pr.unwrap_or_default()),
            _ => {
                let settled = if pr.is_some() {
                    "the deposit settled (PAYMENT-RESPONSE); this request was not charged"
                } else {
                    "nothing was charged"
                };
                self.problem_text(
                    503,
                    Outcome::StoreError,
                    BatchReason::VerificationStateUnavailable.as_str(),
                    &format!("the channel store is unavailable ({detail}); {settled}"),
                );
                if let (Some(pr), Phase::Respond { answer, .. }) = (pr, &mut self.phase) {
                    answer
                        .headers
                        .push((HeaderKind::PaymentResponse.name(), pr));
                }
            }
        }
    }

    /// `invalid_batch_settlement_evm_channel_busy`: another request changed
    /// the channel's record first; nothing is delivered. 402 as the
    /// reference answers, or 409 with the deposit's `PAYMENT-RESPONSE` when
    /// this request's deposit settled (it must not be paid again).
    fn channel_busy(&mut self, settled: Option<String>) {
        let reason = BatchReason::ChannelBusy.as_str();
        match settled {
            None => self.payment_required(
                reason,
                "another request changed this channel first; nothing was charged",
            ),
            Some(pr) => {
                self.problem_text(
                    409,
                    Outcome::InProgress,
                    reason,
                    "the deposit settled (PAYMENT-RESPONSE) but another request changed this channel first: this request was not charged; pay it with a voucher",
                );
                if let Phase::Respond { answer, .. } = &mut self.phase {
                    answer
                        .headers
                        .push((HeaderKind::PaymentResponse.name(), pr));
                }
            }
        }
    }

    /// The handler's response, released with `PAYMENT-RESPONSE`.
    fn batch_deliver(&mut self, payment_response: String) {
        self.payment_response = Some(payment_response.clone());
        self.answer(Answer {
            status: self.handler_status,
            outcome: Outcome::Delivered,
            reason: String::new(),
            message: String::new(),
            headers: alloc::vec![
                (HeaderKind::PaymentResponse.name(), payment_response),
                ("Cache-Control", PAID_CACHE_CONTROL.into()),
            ],
            body: None,
            use_handler_response: false,
        });
        if let Phase::Respond { answer, .. } = &mut self.phase {
            answer.use_handler_response = true;
        }
    }

    /// A settled refund: 200 `{}` with `PAYMENT-RESPONSE`, no handler.
    fn refund_answer(&mut self, payment_response: String) {
        self.payment_response = Some(payment_response.clone());
        self.answer(Answer {
            status: 200,
            outcome: Outcome::Delivered,
            reason: String::new(),
            message: String::new(),
            headers: alloc::vec![
                (HeaderKind::PaymentResponse.name(), payment_response),
                ("Content-Type", "application/json".into()),
                ("Cache-Control", ANSWER_CACHE_CONTROL.into()),
            ],
            body: Some("{}".into()),
            use_handler_response: false,
        });
    }
}

/// `PAYMENT-RESPONSE` of a settlement with this server's `extra`.
fn payment_response(settle_json: &str, extra: &str) -> String {
    let Ok(v) = crate::json::parse(settle_json.as_bytes(), &limits(settle_json.len())) else {
        return b64(settle_json.as_bytes());
    };
    match v.as_object() {
        Some(settled) => b64(WithExtra { settled, extra }.to_json_string().as_bytes()),
        None => b64(settle_json.as_bytes()),
    }
}

/// `PAYMENT-RESPONSE` of a voucher: no transaction, the channel's state.
fn voucher_response(payload: &BatchPayload<'_>, network: &str, extra: &str) -> String {
    let mut out = Vec::new();
    let _ = (|| {
        let mut w = ObjectWriter::new(&mut out)?;
        w.bool_field("success", true)?;
        w.str_field(
            "payer",
            JsonStr::new(
                &payload
                    .channel_config()
                    .payer
                    .checksummed()
                    .as_str()
                    .to_ascii_lowercase(),
            ),
        )?;
        w.str_field("transaction", JsonStr::new(""))?;
        w.str_field("network", JsonStr::new(network))?;
        w.key(JsonStr::new("extra"))?;
        w.sink().put(extra.as_bytes())?;
        w.end()
    })();
    b64(&out)
}
