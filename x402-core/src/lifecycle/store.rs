//! The lifecycle's side of the replay store: the lookup, what a record found
//! there decides, and the compare-and-swaps that move a record from state to
//! state (and what a lost race or a failing store means for each).

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;

use crate::error::Reason;

use super::answer::Outcome;
use super::machine::{Lifecycle, Phase, Purpose};
use super::presented::Presented;
use super::record::{Seen, State, payment_key, payment_time, read_record, same_purchase};

/// How many times a compare-and-swap that lost a race is retried.
const MAX_SWAPS: u8 = 6;

impl Lifecycle {
    pub(super) fn swap(&mut self, purpose: Purpose, new: Option<String>) {
        self.phase = Phase::Swap {
            purpose,
            expected: self.seen.clone(),
            new,
        };
    }

    /// Keeps the original `payment` member (first claim time) when rewriting
    /// another request's record.
    fn adopt(&mut self, seen: &Seen) {
        self.payment.json.clone_from(&seen.payment);
    }

    /// Feeds the record of the key ([`Action::Lookup`]), or the current record
    /// after a lost swap.
    ///
    /// [`Action::Lookup`]: super::Action::Lookup
    pub fn feed_record(&mut self, record: Option<&str>) {
        if matches!(self.phase, Phase::BindLookup) {
            self.on_binding(record);
            return;
        }
        if !matches!(self.phase, Phase::Lookup) {
            return;
        }
        #[cfg(feature = "evm-batch")]
        if matches!(self.presented, Some(Presented::EvmBatch(_))) {
            self.evm_batch_record(record);
            return;
        }
        self.seen = record.map(str::to_owned);
        self.decide_on_record(true);
    }

    /// Decides from the record in `self.seen`: `fresh` when it comes from a
    /// lookup, rather than from a lost swap. The payment was verified before
    /// the lookup (at least as the payer's, for this route).
    fn decide_on_record(&mut self, fresh: bool) {
        let now = self.now;
        let Some(text) = self.seen.clone() else {
            self.claim_if_valid();
            return;
        };
        let Some(seen) = read_record(&text) else {
            self.problem(
                500,
                Outcome::StoreError,
                Reason::UnexpectedSettleError,
                "the replay store holds a record this server cannot read for this payment",
            );
            return;
        };
        match seen.state {
            State::Claimed if seen.until > now => self.in_progress(),
            // A claim whose holder is gone: nothing was sent, take it over.
            State::Claimed => self.claim_if_valid(),
            State::Settling if seen.until > now => self.in_progress(),
            // The holder is gone while the settlement request may have been out.
            State::Settling => {
                self.adopt(&seen);
                let cause = "the server handling this payment stopped while settling it";
                let new = self.record(State::Uncertain, 0, None, cause);
                self.pending = None;
                self.uncertain = Some(new.clone());
                self.swap(Purpose::RecordUncertain, Some(new));
            }
            // Settled, its answer on its way: say so, with the settlement.
            State::Settled if seen.until > now => {
                self.payment_response = seen.payment_response;
                self.in_progress();
            }
            State::Settled => {
                // Settled, never delivered: deliver now, without settling again,
                // to whoever holds the signed payment (checked as it was when
                // first claimed: it may have expired since) — but only for the
                // purchase that was settled: the same nonce signed again for a
                // dearer route or amount must not unlock it.
                if !same_purchase(&self.payment.json, &seen.payment) {
                    self.payment_required(
                        Reason::ExactEvmNonceAlreadyUsed.as_str(),
                        "this authorization's nonce was settled for another purchase; sign a new payment",
                    );
                    return;
                }
                if fresh {
                    let first = payment_time(&seen.payment).unwrap_or(now);
                    if let Some((reason, message)) = self.check(first) {
                        self.payment_required(reason.as_str(), &message);
                        return;
                    }
                }
                self.adopt(&seen);
                let pr = seen.payment_response.unwrap_or_default();
                let until = now.saturating_add(self.settings.claim_seconds);
                let new = self.record(State::Settled, until, Some(&pr), "");
                self.payment_response = Some(pr);
                self.swap(Purpose::ClaimDelivery, Some(new));
            }
            State::Delivered => {
                self.payment_response = seen.payment_response;
                self.problem(
                    409,
                    Outcome::AlreadyDelivered,
                    Reason::PaymentAlreadyDelivered,
                    "this payment was settled and its content delivered already; PAYMENT-RESPONSE is the earlier result",
                );
            }
            State::Uncertain => {
                let cause = seen.cause;
                self.uncertain_answer(&cause);
            }
            // Only a payment-identifier's key holds one.
            State::Bound => self.problem(
                500,
                Outcome::StoreError,
                Reason::UnexpectedSettleError,
                "the replay store holds a record this server cannot read for this payment",
            ),
        }
    }

    /// Looks the payment's record up, after binding its `payment-identifier`
    /// (if it carries one) to it.
    pub(super) fn look_up(&mut self) {
        self.phase = match &self.binding {
            Some(_) => Phase::BindLookup,
            None => Phase::Lookup,
        };
    }

    /// Decides from the record of the payment's `payment-identifier`: none
    /// yet, bind it to this payment; bound to this purchase, go on to the
    /// payment's own record; bound to another, 409 (a reused identifier
    /// never reaches another payment's record, nor settles a second one).
    fn on_binding(&mut self, record: Option<&str>) {
        let Some(text) = record else {
            let new = self.record(State::Bound, 0, None, "");
            self.phase = Phase::BindSwap { new };
            return;
        };
        let bound = read_record(text).filter(|seen| seen.state == State::Bound);
        let Some(seen) = bound else {
            self.problem(
                500,
                Outcome::StoreError,
                Reason::UnexpectedSettleError,
                "the replay store holds a record this server cannot read for this payment",
            );
            return;
        };
        let same = payment_key(&seen.payment).as_deref() == Some(self.payment.key.as_str())
            && same_purchase(&self.payment.json, &seen.payment);
        if same {
            self.phase = Phase::Lookup;
        } else {
            self.problem(
                409,
                Outcome::BadRequest,
                Reason::PaymentIdentifierConflict,
                "this payment-identifier names another payment",
            );
        }
    }

    /// Claims the payment for this request if it verifies now; else the 402
    /// its validity window earns (nothing was settled for it).
    fn claim_if_valid(&mut self) {
        match self.outside_window.clone() {
            None => self.claim(),
            Some((reason, message)) => self.payment_required(reason.as_str(), &message),
        }
    }

    fn claim(&mut self) {
        let until = self.now.saturating_add(self.settings.claim_seconds);
        let new = self.record(State::Claimed, until, None, "");
        self.swap(Purpose::Claim, Some(new));
    }

    /// Feeds the result of [`Action::Swap`]: `Ok(())` when the record was
    /// written, else `Err(current)` (the record as it is now; `None`: absent).
    ///
    /// [`Action::Swap`]: super::Action::Swap
    pub fn feed_swap(&mut self, result: Result<(), Option<&str>>) {
        if matches!(self.phase, Phase::BindSwap { .. }) {
            match result {
                Ok(()) => self.phase = Phase::Lookup,
                // Another request bound it first: decide from what it wrote.
                Err(current) => self.on_binding(current),
            }
            return;
        }
        #[cfg(feature = "evm-batch")]
        if matches!(self.phase, Phase::ClaimSwap { .. }) {
            self.evm_batch_claim_swapped(result);
            return;
        }
        let Phase::Swap { purpose, new, .. } = &self.phase else {
            return;
        };
        #[cfg(feature = "evm-batch")]
        if matches!(self.presented, Some(Presented::EvmBatch(_))) {
            if result.is_ok() {
                self.seen.clone_from(new);
            }
            self.evm_batch_swapped(result);
            return;
        }
        let (purpose, new) = (*purpose, new.clone());
        match result {
            Ok(()) => {
                self.seen = new;
                self.swaps = 0;
                self.swapped(purpose);
            }
            Err(current) => {
                self.seen = current.map(str::to_owned);
                self.swaps = self.swaps.saturating_add(1);
                self.lost(purpose);
            }
        }
    }

    /// Says the store could not be read or written for [`Action::Lookup`] or
    /// [`Action::Swap`]. Before settlement nothing happens (503); after a
    /// settlement the content is delivered all the same (the record stays
    /// `settling`, which a later presentation turns into `uncertain`).
    ///
    /// [`Action::Lookup`]: super::Action::Lookup
    /// [`Action::Swap`]: super::Action::Swap
    pub fn feed_store_error(&mut self, detail: &str) {
        #[cfg(feature = "evm-batch")]
        if matches!(self.phase, Phase::ClaimSwap { .. }) {
            self.evm_batch_claim_store_error(detail);
            return;
        }
        let purpose = match &self.phase {
            Phase::Lookup | Phase::BindLookup | Phase::BindSwap { .. } => None,
            Phase::Swap { purpose, .. } => Some(*purpose),
            _ => return,
        };
        #[cfg(feature = "evm-batch")]
        if matches!(self.presented, Some(Presented::EvmBatch(_))) {
            self.evm_batch_store_error(detail);
            return;
        }
        let unavailable = |life: &mut Lifecycle| {
            life.problem(
                503,
                Outcome::StoreError,
                Reason::UnexpectedSettleError,
                &format!("the replay store is unavailable ({detail}); nothing was settled"),
            );
        };
        let evm = matches!(self.presented, Some(Presented::Evm { .. }));
        match purpose {
            None | Some(Purpose::Claim | Purpose::ClaimDelivery | Purpose::MarkSettling) => {
                unavailable(self)
            }
            Some(Purpose::RecordSettled) if !evm => unavailable(self),
            Some(Purpose::RecordSettled) => {
                let new = self.phase_new();
                self.seen = new;
                self.swapped(Purpose::RecordSettled);
            }
            Some(Purpose::Release | Purpose::ReleaseDelivery | Purpose::RecordUncertain) => {
                self.release_pending()
            }
            Some(Purpose::MarkDelivered) => self.phase = Phase::Done,
        }
    }

    fn swapped(&mut self, purpose: Purpose) {
        match purpose {
            Purpose::Claim => {
                let evm = matches!(self.presented, Some(Presented::Evm { .. }));
                if evm && self.settings.verify_at_facilitator {
                    self.verify_request();
                } else {
                    self.claimed_and_verified();
                }
            }
            Purpose::ClaimDelivery => {
                self.phase = Phase::Handle {
                    redelivery: self.payment_response.clone(),
                }
            }
            Purpose::MarkSettling => self.settle_request(),
            Purpose::Release | Purpose::ReleaseDelivery | Purpose::RecordUncertain => {
                self.release_pending()
            }
            Purpose::RecordSettled => {
                let pr = self.payment_response.clone().unwrap_or_default();
                self.settled_here = true;
                if self.upfront && self.handler_status == 0 {
                    // Settled before the handler: now the handler, as for
                    // a payment settled earlier.
                    self.phase = Phase::Handle {
                        redelivery: Some(pr),
                    };
                    return;
                }
                let settled = self.seen.clone().unwrap_or_default();
                self.deliver(Outcome::Delivered, pr, &settled);
            }
            Purpose::MarkDelivered => self.phase = Phase::Done,
        }
    }

    /// The answer held while a record was written, or the uncertain answer.
    fn release_pending(&mut self) {
        match self.pending.take() {
            Some(a) => self.answer(a),
            None => {
                let cause = self
                    .seen
                    .as_deref()
                    .and_then(read_record)
                    .map(|s| s.cause)
                    .unwrap_or_default();
                self.uncertain_answer(&cause);
            }
        }
    }

    /// Answers 500 when a record kept changing under this request (more
    /// lost swaps than [`MAX_SWAPS`]); `true` then.
    pub(super) fn swapped_too_often(&mut self) -> bool {
        if self.swaps <= MAX_SWAPS {
            return false;
        }
        self.problem(
            500,
            Outcome::StoreError,
            Reason::UnexpectedSettleError,
            "the replay store kept changing under this request",
        );
        true
    }

    fn lost(&mut self, purpose: Purpose) {
        if self.swapped_too_often() {
            return;
        }
        match purpose {
            // Someone else got there first: decide again on what is there now.
            Purpose::Claim | Purpose::ClaimDelivery => self.decide_on_record(false),
            // The claim was taken over (this request was too slow): nothing was
            // sent, and the handler's response is not released.
            Purpose::MarkSettling => self.in_progress(),
            // Someone else holds the record now: leave it to them.
            Purpose::Release | Purpose::ReleaseDelivery | Purpose::RecordUncertain => {
                self.release_pending()
            }
            // Settled through the facilitator: that is what the record must
            // say, whatever another request wrote meanwhile (an expired lease
            // marked uncertain). A batch commitment is only recorded while this
            // request holds the claim: another request took it over.
            Purpose::RecordSettled => {
                let evm = matches!(self.presented, Some(Presented::Evm { .. }));
                if evm {
                    let new = self.phase_new();
                    self.swap(Purpose::RecordSettled, new);
                } else {
                    self.in_progress();
                }
            }
            Purpose::MarkDelivered => self.phase = Phase::Done,
        }
    }

    fn phase_new(&self) -> Option<String> {
        match &self.phase {
            Phase::Swap { new, .. } => new.clone(),
            _ => None,
        }
    }
}
