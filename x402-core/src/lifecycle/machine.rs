//! The [`Lifecycle`] itself: what it holds, its phases, what it asks of the
//! host next, and how it starts and ends. Its steps are in the sibling
//! files, one concern each.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error::Reason;

use super::answer::{Action, Answer, Outcome};
use super::presented::Presented;
use super::record::Payment;
use super::route::{Request, Route, Settings};

/// What the next swap is for: decides what a success and a lost race mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Take a free (or expired) record for this request.
    Claim,
    /// Take a settled, undelivered record for its delivery.
    ClaimDelivery,
    /// claimed → settling: the settlement request may leave after this.
    MarkSettling,
    /// claimed → (none): the handler failed or the payment was refused.
    Release,
    /// delivering → settled: a redelivery whose handler failed.
    ReleaseDelivery,
    /// settling → settled (or batch: claimed → settled).
    RecordSettled,
    /// settling → uncertain, or an expired settling record → uncertain.
    RecordUncertain,
    /// settled → delivered, after the answer went out.
    MarkDelivered,
}

/// Where the lifecycle is: what [`Lifecycle::next`] asks of the host, with
/// what that step needs.
#[derive(Clone, Debug)]
pub(super) enum Phase {
    Lookup,
    /// Read the record of the payment's `payment-identifier`.
    BindLookup,
    /// Bind the `payment-identifier` to this payment: write `new` where
    /// there was nothing.
    BindSwap {
        new: String,
    },
    #[cfg_attr(not(feature = "batch"), allow(dead_code))]
    Directory(String),
    Swap {
        purpose: Purpose,
        expected: Option<String>,
        new: Option<String>,
    },
    Handle {
        redelivery: Option<String>,
    },
    Settle {
        body: String,
        timeout_ms: u64,
    },
    Verify {
        body: String,
        timeout_ms: u64,
    },
    /// Take (`new`) or give back (`new: None`) the claim an EVM
    /// `batch-settlement` deposit or refund holds on its channel while it is
    /// verified and settled; `key` is the claim's.
    #[cfg(feature = "evm-batch")]
    ClaimSwap {
        key: String,
        expected: Option<String>,
        new: Option<String>,
    },
    Respond {
        answer: Answer,
        /// The swap to make once the answer is out (mark delivered).
        after: Option<(Option<String>, Option<String>)>,
    },
    Done,
}

/// One request's lifecycle (see the module docs).
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "batch"), allow(dead_code))]
pub struct Lifecycle {
    pub(super) route: Route,
    pub(super) method: String,
    pub(super) url: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) now: u64,
    pub(super) id: String,
    pub(super) settings: Settings,
    pub(super) presented: Option<Presented>,
    pub(super) payment: Payment,
    /// The store key of the payment's `payment-identifier`, when it carries
    /// one for a route that declares the extension.
    pub(super) binding: Option<String>,
    /// The record as last seen in the store.
    pub(super) seen: Option<String>,
    /// The status the handler answered.
    pub(super) handler_status: u16,
    /// The `PAYMENT-RESPONSE` value once settled.
    pub(super) payment_response: Option<String>,
    /// The answer decided, held while the record is written.
    pub(super) pending: Option<Answer>,
    /// The uncertain record written, for the host's log.
    pub(super) uncertain: Option<String>,
    /// The verification verdict (a VerifyResponse), once verified.
    pub(super) verdict: Option<String>,
    /// Why the payment fails verification now, when it fails only for its
    /// validity window (the payer signed it for this route): such a payment
    /// may still be one this server settled earlier, and its record decides.
    /// `None` when it verifies now.
    pub(super) outside_window: Option<(Reason, String)>,
    /// The settlement transaction a facilitator named in an uncertain answer.
    pub(super) transaction: String,
    /// What the handler charged of an `upto` payment
    /// ([`Lifecycle::feed_settlement_overrides`]): the amount, or why its
    /// `Settlement-Overrides` could not be read.
    pub(super) charge: Option<Result<crate::Amount, String>>,
    /// The route's requirement settles before the handler runs
    /// (`extra.paymentFlow: "upfront"`).
    pub(super) upfront: bool,
    /// This request settled the payment (rather than found it settled).
    pub(super) settled_here: bool,
    pub(super) swaps: u8,
    pub(super) phase: Phase,
    pub(super) outcome: Option<Outcome>,
}

impl Lifecycle {
    /// Starts the lifecycle of `request` on `route` at `now` (unix seconds).
    /// `id` names this request in the records it writes (any text unique to
    /// it: a counter, a UUID).
    #[must_use]
    pub fn new(
        route: &Route,
        request: &Request<'_>,
        now: u64,
        id: &str,
        settings: &Settings,
    ) -> Lifecycle {
        let mut life = Lifecycle {
            route: route.clone(),
            method: request.method.to_owned(),
            url: request.url.to_owned(),
            headers: request
                .headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            now,
            id: id.to_owned(),
            settings: settings.clone(),
            presented: None,
            payment: Payment::default(),
            binding: None,
            seen: None,
            handler_status: 0,
            payment_response: None,
            pending: None,
            uncertain: None,
            verdict: None,
            outside_window: None,
            transaction: String::new(),
            charge: None,
            upfront: false,
            settled_here: false,
            swaps: 0,
            phase: Phase::Done,
            outcome: None,
        };
        life.start(request);
        life
    }

    /// What the host must do next.
    #[must_use]
    pub fn next(&self) -> Action<'_> {
        match &self.phase {
            Phase::Lookup => Action::Lookup {
                key: &self.payment.key,
            },
            Phase::BindLookup => Action::Lookup {
                key: self.binding.as_deref().unwrap_or_default(),
            },
            Phase::BindSwap { new } => Action::Swap {
                key: self.binding.as_deref().unwrap_or_default(),
                expected: None,
                new: Some(new),
            },
            Phase::Directory(agent) => Action::Directory { agent },
            Phase::Swap { expected, new, .. } => Action::Swap {
                key: &self.payment.key,
                expected: expected.as_deref(),
                new: new.as_deref(),
            },
            Phase::Handle { .. } => Action::Handle,
            Phase::Settle { body, timeout_ms } => Action::Settle {
                body,
                timeout_ms: *timeout_ms,
            },
            Phase::Verify { body, timeout_ms } => Action::Verify {
                body,
                timeout_ms: *timeout_ms,
            },
            #[cfg(feature = "evm-batch")]
            Phase::ClaimSwap { key, expected, new } => Action::Swap {
                key,
                expected: expected.as_deref(),
                new: new.as_deref(),
            },
            Phase::Respond { answer, .. } => Action::Respond(answer),
            Phase::Done => Action::Done,
        }
    }

    /// What the request came to, once decided.
    #[must_use]
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome
    }

    /// The payment's replay key, once known.
    #[must_use]
    pub fn key(&self) -> Option<&str> {
        Some(self.payment.key.as_str()).filter(|k| !k.is_empty())
    }

    /// The verification verdict, as a `VerifyResponse` (JSON), once the
    /// payment was verified (for the host's log).
    #[must_use]
    pub fn verdict_json(&self) -> Option<&str> {
        self.verdict.as_deref()
    }

    /// The `uncertain` record this request wrote, for the host's log of
    /// payments to reconcile.
    #[must_use]
    pub fn uncertain_record(&self) -> Option<&str> {
        self.uncertain.as_deref()
    }

    /// Moves the lifecycle's clock to `now` (unix seconds), the host's time
    /// when a slow step (the handler, settlement) has ended: the leases and
    /// claims written afterwards run from then, not from the request's start.
    /// An earlier time than the lifecycle's is ignored.
    ///
    /// Call it before [`Lifecycle::feed_handler`] and
    /// [`Lifecycle::feed_settle`]; [`Lifecycle::feed_json`] takes it as the
    /// answer's optional `"now"` member.
    pub fn advance_clock(&mut self, now: u64) {
        self.now = self.now.max(now);
    }

    /// Says the answer of [`Action::Respond`] was sent (or handed to the
    /// runtime); a paid answer is then recorded as delivered.
    pub fn responded(&mut self) {
        let Phase::Respond { after, .. } = &self.phase else {
            return;
        };
        match after.clone() {
            Some((expected, new)) => {
                self.seen = expected;
                self.swap(Purpose::MarkDelivered, new);
            }
            None => {
                // An EVM batch-settlement claim is given back once the answer
                // is out, whatever it was.
                #[cfg(feature = "evm-batch")]
                if self.evm_batch_release() {
                    return;
                }
                self.phase = Phase::Done;
            }
        }
    }
}
