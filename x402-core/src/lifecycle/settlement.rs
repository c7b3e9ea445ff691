//! The handler's result and settlement: what a handler's status leads to,
//! the `POST /settle` request, and what its reply leads to.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::header::HeaderKind;
use crate::json::{JsonObject, JsonStr, ObjectWriter, ToJson};
use crate::types::facilitator::{PaymentPayload, PaymentRequirements, VerifyRequest};
use crate::types::{FromJson, RawObject, v2};

use super::answer::{ANSWER_CACHE_CONTROL, Answer, Outcome, PAID_CACHE_CONTROL, b64};
use super::classify::{SettleReply, Settled, classify_settle_reply};
use super::limits;
use super::machine::{Lifecycle, Phase, Purpose};
use super::presented::Presented;
use super::record::State;
use super::route::HandlerResult;

/// A scheme payload as forwarded to `POST /settle`: its 65-byte ECDSA
/// `signature`, if it has one, re-encoded with `v` = 27/28 (the signature the
/// payer made, normalised: USDC's `transferWithAuthorization` and Permit2's
/// `ecrecover` take only 27/28, so a `v` of 0/1 could never settle); every
/// other member as received. Signatures of other lengths (smart wallets) go
/// as they are.
struct Normalized<'a> {
    payload: JsonObject<'a>,
    signature: Option<crate::evm::HexString<132>>,
}

impl<'a> Normalized<'a> {
    fn of(payload: JsonObject<'a>) -> Normalized<'a> {
        let signature = payload
            .get("signature")
            .and_then(|v| v.as_str())
            .and_then(|s| crate::evm::Signature::parse_hex(s).ok())
            .map(|s| s.to_hex());
        Normalized { payload, signature }
    }
}

impl ToJson for Normalized<'_> {
    fn write_json(&self, out: &mut dyn crate::json::Sink) -> Result<(), crate::json::SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        for (k, v) in self.payload.members() {
            match &self.signature {
                Some(sig) if k == "signature" => {
                    w.str_field("signature", JsonStr::new(sig.as_str()))?
                }
                _ => w.value_field(k, v)?,
            }
        }
        w.end()
    }
}

/// The header a resource's handler sets on its response to charge less than
/// an `upto` payment permits: `{"amount": "<atomic units>"}` or
/// `{"amount": "<percent>%"}` (of the permitted amount, two decimals at
/// most), as the official SDKs' `setSettlementOverrides` writes it. The host
/// hands it to [`Lifecycle::feed_settlement_overrides`] and never sends it
/// on to the client.
pub const SETTLEMENT_OVERRIDES_HEADER: &str = "Settlement-Overrides";

/// Reads a `Settlement-Overrides` value (see [`SETTLEMENT_OVERRIDES_HEADER`]):
/// the amount to settle of a payment that permits `permitted`, never more
/// than it and never 0.
///
/// ```
/// use paywire::Amount;
/// use paywire::lifecycle::settlement_charge;
/// let permitted = Amount::from(750_000u64);
/// assert_eq!(settlement_charge(r#"{"amount":"40%"}"#, permitted), Ok(Amount::from(300_000u64)));
/// assert_eq!(settlement_charge(r#"{"amount":"900000"}"#, permitted), Ok(permitted));
/// assert!(settlement_charge(r#"{"amount":"$0.12"}"#, permitted).is_err());
/// ```
///
/// # Errors
/// A value that is not `{"amount": "<atomic units>" | "<percent>%"}` (two
/// decimals at most), or that charges nothing; the text names the reason.
pub fn settlement_charge(value: &str, permitted: crate::Amount) -> Result<crate::Amount, String> {
    let v = crate::json::parse(value.as_bytes(), &limits(4096))
        .map_err(|k| format!("Settlement-Overrides: not JSON: {k}"))?;
    let o = v
        .as_object()
        .ok_or_else(|| String::from("Settlement-Overrides: a JSON object"))?;
    let mut amount = None;
    for (k, v) in o.members() {
        if k == "amount" {
            amount = v.as_str().map(|s| s.to_cow().into_owned());
            if amount.is_none() {
                return Err("Settlement-Overrides: amount is a string".into());
            }
        } else {
            return Err(format!(
                "Settlement-Overrides: unknown member {k:?} (known: amount)"
            ));
        }
    }
    let amount = amount.ok_or_else(|| String::from("Settlement-Overrides: amount is missing"))?;
    let charge = if let Some(percent) = amount.strip_suffix('%') {
        let (int, frac) = percent.split_once('.').unwrap_or((percent, ""));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || frac.len() > 2 || !(frac.is_empty() || digits(frac)) || int.len() > 3 {
            return Err(format!(
                "Settlement-Overrides: amount {amount:?}: a percentage has at most two decimals"
            ));
        }
        let hundredths = int.parse::<u128>().unwrap_or(0) * 100
            + format!("{frac:0<2}").parse::<u128>().unwrap_or(0);
        let base = permitted.to_u64().ok_or_else(|| {
            String::from("Settlement-Overrides: a percentage of an amount over 2^64 - 1")
        })?;
        crate::Amount::from(u128::from(base) * hundredths / 10_000)
    } else if amount.starts_with('$') {
        return Err(format!(
            "Settlement-Overrides: amount {amount:?}: give atomic units (the token's decimals are not known here)"
        ));
    } else {
        crate::Amount::parse_decimal(&amount)
            .map_err(|k| format!("Settlement-Overrides: amount {amount:?}: {k}"))?
    };
    let charge = charge.min(permitted);
    if charge.is_zero() {
        return Err(
            "Settlement-Overrides: a charge of 0 (nothing to settle; the payment stays unused)"
                .into(),
        );
    }
    Ok(charge)
}

impl Lifecycle {
    /// Feeds the `Settlement-Overrides` the handler set on its response (see
    /// [`SETTLEMENT_OVERRIDES_HEADER`]), before [`Lifecycle::feed_handler`]:
    /// an `upto` payment then settles the amount it names, capped at the
    /// amount the payment permits. `exact` payments settle their price: the
    /// header changes nothing for them. A value that cannot be read makes the
    /// handler's answer a failure (500, nothing settled, the payment stays
    /// usable), and is returned for the host's log.
    ///
    /// # Errors
    /// The value is not `{"amount": "<atomic units>" | "<percent>%"}`, or
    /// charges nothing.
    pub fn feed_settlement_overrides(&mut self, value: &str) -> Result<(), String> {
        if !matches!(self.phase, Phase::Handle { .. }) {
            return Ok(());
        }
        let permitted = match &self.presented {
            Some(Presented::Evm { index, .. }) => self
                .route
                .parsed()
                .and_then(|r| r.accepts.get(*index))
                .filter(|r| r.scheme == "upto")
                .map(|r| r.amount),
            // Dynamic pricing: at most what the agent committed to.
            #[cfg(feature = "batch")]
            Some(Presented::Batch { receipt, .. }) => receipt.as_ref().map(|r| r.committed),
            // At most the route's amount, the most a voucher covers.
            #[cfg(feature = "evm-batch")]
            Some(Presented::EvmBatch(_)) => self.evm_batch_permitted(),
            _ => None,
        };
        let Some(permitted) = permitted else {
            return Ok(());
        };
        let charge = settlement_charge(value, permitted);
        let result = charge.as_ref().map(|_| ()).map_err(Clone::clone);
        self.charge = Some(charge);
        result
    }

    /// Feeds the handler's result ([`Action::Handle`]).
    ///
    /// [`Action::Handle`]: super::Action::Handle
    pub fn feed_handler(&mut self, result: HandlerResult<'_>) {
        let Phase::Handle { redelivery } = &self.phase else {
            return;
        };
        #[cfg(feature = "evm-batch")]
        if matches!(self.presented, Some(Presented::EvmBatch(_))) {
            self.evm_batch_handled(result);
            return;
        }
        let redelivery = redelivery.clone();
        let status = match (result, &self.charge) {
            // A charge that cannot be read fails the handler's answer.
            (HandlerResult::Status(_), Some(Err(_))) => 0,
            // A handler's own 402 is never passed on: behind the paywall it
            // would ask a payer to pay again (one whose payment may have
            // settled already, on a redelivery).
            (HandlerResult::Status(402), _) => 0,
            (HandlerResult::Status(s), _) => s,
            (HandlerResult::Failed(_), _) => 0,
        };
        self.handler_status = status;
        if !(200..300).contains(&status) {
            self.pending = Some(handler_failed(status, redelivery.as_deref()));
            match redelivery {
                // Settled (before the handler, or earlier): back to
                // settled-undelivered, so that the same payment again gets
                // the resource.
                Some(pr) => {
                    let new = self.record(State::Settled, 0, Some(&pr), "");
                    self.swap(Purpose::ReleaseDelivery, Some(new));
                }
                // Not settled; the payment stays usable.
                None => self.swap(Purpose::Release, None),
            }
            return;
        }
        if let Some(pr) = redelivery {
            let settled = self.seen.clone().unwrap_or_default();
            let outcome = if self.settled_here {
                Outcome::Delivered
            } else {
                Outcome::Redelivered
            };
            self.deliver(outcome, pr, &settled);
            return;
        }
        match &self.presented {
            Some(Presented::Evm { .. }) => self.mark_settling(),
            // The commitment is the payment: recording it is settling it.
            #[cfg(feature = "batch")]
            Some(Presented::Batch { receipt, .. }) => {
                // The receipt charges what the handler charged (dynamic
                // pricing, at most the commitment), else the commitment.
                let charged = match &self.charge {
                    Some(Ok(a)) => Some(*a),
                    _ => receipt.as_ref().map(|r| r.committed),
                };
                let pr = receipt
                    .as_ref()
                    .zip(charged)
                    .map(|(r, amount)| {
                        crate::header::encode_to_string(&crate::batch::PaymentResponse {
                            payer: &r.payer,
                            amount,
                            asset: JsonStr::new(&r.asset),
                            timestamp: r.timestamp,
                        })
                    })
                    .unwrap_or_default();
                if let Some(amount) = charged {
                    self.payment.set_amount(amount);
                }
                let until = self.now.saturating_add(self.settings.claim_seconds);
                let new = self.record(State::Settled, until, Some(&pr), "");
                self.payment_response = Some(pr);
                self.swap(Purpose::RecordSettled, Some(new));
            }
            // Handled before (`evm_batch_handled`).
            #[cfg(feature = "evm-batch")]
            Some(Presented::EvmBatch(_)) => self.phase = Phase::Done,
            None => self.phase = Phase::Done,
        }
    }

    /// claimed → settling, before the settlement request leaves.
    fn mark_settling(&mut self) {
        let until = self.now.saturating_add(
            self.settle_timeout_seconds()
                .saturating_add(self.settings.claim_seconds),
        );
        let new = self.record(State::Settling, until, None, "");
        self.swap(Purpose::MarkSettling, Some(new));
    }

    /// The payment is this request's and verified: the handler runs, or,
    /// for an `upfront` payment flow, settlement first.
    pub(super) fn claimed_and_verified(&mut self) {
        if self.upfront {
            self.mark_settling();
        } else {
            self.phase = Phase::Handle { redelivery: None };
        }
    }

    fn settle_timeout_seconds(&self) -> u64 {
        let max = match &self.presented {
            Some(Presented::Evm { index, .. }) => self
                .route
                .parsed()
                .and_then(|r| r.accepts.get(*index))
                .map_or(0, |r| r.max_timeout_seconds),
            _ => 0,
        };
        let t = self.settings.settle_timeout_seconds;
        if max > 0 { t.min(max) } else { t }
    }

    pub(super) fn settle_request(&mut self) {
        let body = self.facilitator_body();
        self.phase = Phase::Settle {
            body,
            timeout_ms: self.settle_timeout_seconds().saturating_mul(1000),
        };
    }

    /// The facilitator's verification of a claimed payment ([`Action::Verify`]).
    ///
    /// [`Action::Verify`]: super::Action::Verify
    pub(super) fn verify_request(&mut self) {
        let body = self.facilitator_body();
        self.phase = Phase::Verify {
            body,
            timeout_ms: self.settle_timeout_seconds().saturating_mul(1000),
        };
    }

    /// Feeds what came of `POST /verify` ([`Action::Verify`]): a valid
    /// verdict lets the handler run; an invalid one answers 402 with the
    /// facilitator's reason; anything else (never sent, no answer, not a
    /// VerifyResponse) answers 502 `facilitator_unavailable`. Either way the
    /// claim is released: verification moves no money, the payment stays
    /// usable.
    ///
    /// [`Action::Verify`]: super::Action::Verify
    pub fn feed_verify(&mut self, reply: SettleReply<'_>, detail: &str) {
        if !matches!(self.phase, Phase::Verify { .. }) {
            return;
        }
        #[cfg(feature = "evm-batch")]
        if matches!(self.presented, Some(Presented::EvmBatch(_))) {
            self.evm_batch_verified(reply, detail);
            return;
        }
        let verdict = match reply {
            SettleReply::Answered { status, body } if (200..300).contains(&status) => {
                crate::types::facilitator::VerifyResponse::from_json_bytes(
                    body,
                    &limits(body.len()),
                )
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
                    )
                })
            }
            _ => None,
        };
        match verdict {
            Some((true, _, _)) => self.claimed_and_verified(),
            Some((false, reason, message)) => {
                let reason = if reason.is_empty() {
                    String::from("invalid_payload")
                } else {
                    reason
                };
                self.payment_required(&reason, &message);
                self.pending = self.take_answer();
                self.swap(Purpose::Release, None);
            }
            None => {
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
                    crate::error::Reason::UnexpectedVerifyError,
                    &format!("{cause}; nothing was settled: present the same payment again later"),
                );
                self.pending = self.take_answer();
                self.swap(Purpose::Release, None);
            }
        }
    }

    /// The body of `POST /settle` and `POST /verify`: the payment (its
    /// signature normalised) and the route's requirement it pays.
    fn facilitator_body(&self) -> String {
        match &self.presented {
            Some(Presented::Evm { json, index }) => {
                let route = self.route.parsed();
                let req = route.as_ref().and_then(|r| r.accepts.get(*index));
                match (
                    PaymentPayload::from_json_bytes(json, &limits(json.len())),
                    req,
                ) {
                    (Ok(PaymentPayload::V2(p)), Some(r)) => {
                        let normalized = p.payload_json().ok().map(Normalized::of);
                        let payload = match &normalized {
                            Some(n) => v2::PaymentPayload {
                                payload: RawObject::Value(n),
                                ..p
                            },
                            None => p,
                        };
                        // An `upto` payment settles what the handler charged.
                        let r = match &self.charge {
                            Some(Ok(amount)) if r.scheme == "upto" => v2::PaymentRequirements {
                                amount: *amount,
                                ..r
                            },
                            _ => r,
                        };
                        VerifyRequest {
                            payment_payload: PaymentPayload::V2(payload),
                            payment_requirements: PaymentRequirements::V2(r),
                            source: JsonObject::EMPTY,
                        }
                        .to_json_string()
                    }
                    _ => String::new(),
                }
            }
            _ => String::new(),
        }
    }

    /// Feeds what came of `POST /settle` ([`Action::Settle`]); `detail` (an
    /// error message, or empty) goes into the record of an uncertain payment.
    ///
    /// [`Action::Settle`]: super::Action::Settle
    pub fn feed_settle(&mut self, reply: SettleReply<'_>, detail: &str) {
        if !matches!(self.phase, Phase::Settle { .. }) {
            return;
        }
        #[cfg(feature = "evm-batch")]
        if matches!(self.presented, Some(Presented::EvmBatch(_))) {
            self.evm_batch_settled(reply, detail);
            return;
        }
        let offered = match &self.presented {
            Some(Presented::Evm { index, .. }) => self
                .route
                .parsed()
                .and_then(|r| r.accepts.get(*index))
                .map(|r| (r.scheme.to_cow().into_owned(), r.network)),
            _ => None,
        };
        let Some((scheme, network)) = offered else {
            self.phase = Phase::Done;
            return;
        };
        match classify_settle_reply(reply, &scheme, network) {
            Settled::Success(json) => {
                let pr = b64(json.as_bytes());
                let until = self.now.saturating_add(self.settings.claim_seconds);
                let new = self.record(State::Settled, until, Some(&pr), "");
                self.payment_response = Some(pr);
                self.swap(Purpose::RecordSettled, Some(new));
            }
            Settled::Refused { reason, message } => {
                self.payment_required(&reason, &message);
                self.pending = self.take_answer();
                self.swap(Purpose::Release, None);
            }
            Settled::NotSettled { reason, cause } => {
                let cause = with_detail(cause, detail);
                let status = 502;
                self.problem(
                    status,
                    Outcome::FacilitatorUnavailable,
                    reason,
                    &format!("{cause}; nothing was settled: present the same payment again later"),
                );
                self.pending = self.take_answer();
                self.swap(Purpose::Release, None);
            }
            Settled::Uncertain { cause, transaction } => {
                let cause = with_detail(cause, detail);
                self.transaction = transaction;
                let new = self.record(State::Uncertain, 0, None, &cause);
                self.uncertain = Some(new.clone());
                self.pending = None;
                self.swap(Purpose::RecordUncertain, Some(new));
            }
        }
    }
}

fn with_detail(cause: String, detail: &str) -> String {
    if detail.is_empty() {
        cause
    } else {
        format!("{cause}: {detail}")
    }
}

/// The answer when the handler failed (`status` 0: threw, or answered what
/// is never passed on): its own response, or a 500 saying so; for a
/// `settled` payment (its `PAYMENT-RESPONSE`), with the settlement and
/// never a 402.
pub(super) fn handler_failed(status: u16, settled: Option<&str>) -> Answer {
    let mut headers = Vec::new();
    if let Some(pr) = settled {
        headers.push((HeaderKind::PaymentResponse.name(), String::from(pr)));
        headers.push(("Cache-Control", String::from(PAID_CACHE_CONTROL)));
    } else if status == 0 {
        headers.push(("Cache-Control", String::from(ANSWER_CACHE_CONTROL)));
    }
    let what = if settled.is_some() {
        "settled, not delivered"
    } else {
        "not settled"
    };
    let body = (status == 0).then(|| {
        headers.push(("Content-Type", String::from("application/json")));
        let mut body = Vec::new();
        let _ = (|| {
            let mut w = ObjectWriter::new(&mut body)?;
            w.str_field("error", JsonStr::new("handler_failed"))?;
            w.str_field(
                "message",
                JsonStr::new(&format!(
                    "the resource could not be produced; the payment was {what}"
                )),
            )?;
            w.end()
        })();
        String::from_utf8(body).unwrap_or_default()
    });
    Answer {
        status: if status == 0 { 500 } else { status },
        outcome: if settled.is_some() {
            Outcome::Undelivered
        } else {
            Outcome::NotSettled
        },
        reason: String::new(),
        message: format!("the handler answered {status}; {what}"),
        headers,
        use_handler_response: body.is_none(),
        body,
    }
}
