//! What the host is told: the next [`Action`], and the [`Answer`]s a
//! lifecycle writes (402, 409, 502, a paid response).

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::error::Reason;
use crate::header::{self, HeaderKind};
use crate::json::{JsonStr, ObjectWriter};

use super::machine::{Lifecycle, Phase};
use super::record::State;

/// `Cache-Control` of every paid response.
pub const PAID_CACHE_CONTROL: &str = "private, no-store";
/// `Cache-Control` of the answers this module writes itself (402, 409, 502).
pub const ANSWER_CACHE_CONTROL: &str = "no-store";

/// What the request came to, for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// 402: no payment, HEAD, or a payment refused before settlement or by it.
    PaymentRequired,
    /// The handler's 2xx response, released after settlement.
    Delivered,
    /// A payment settled earlier but never delivered, delivered now.
    Redelivered,
    /// The handler failed: its answer, not settled.
    NotSettled,
    /// Settled (before the handler, or earlier), and the handler failed: its
    /// answer with the `PAYMENT-RESPONSE`; the same payment again gets the
    /// resource without paying again.
    Undelivered,
    /// 409: another request holds this payment (claimed or settling).
    InProgress,
    /// 409: the payment was delivered already; the earlier `PAYMENT-RESPONSE`.
    AlreadyDelivered,
    /// 502: settlement may have happened; recorded for reconciliation.
    Uncertain,
    /// 502: the facilitator could not be used; nothing settled.
    FacilitatorUnavailable,
    /// 500: the replay store holds something this module did not write.
    StoreError,
    /// 400: the request carries two payments.
    BadRequest,
}

impl Outcome {
    /// Its name in JSON (`paymentRequired`, `delivered`, ...).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::PaymentRequired => "paymentRequired",
            Outcome::Delivered => "delivered",
            Outcome::Redelivered => "redelivered",
            Outcome::NotSettled => "notSettled",
            Outcome::Undelivered => "undelivered",
            Outcome::InProgress => "inProgress",
            Outcome::AlreadyDelivered => "alreadyDelivered",
            Outcome::Uncertain => "uncertain",
            Outcome::FacilitatorUnavailable => "facilitatorUnavailable",
            Outcome::StoreError => "storeError",
            Outcome::BadRequest => "badRequest",
        }
    }
}

/// An answer for the host to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The status (the handler's own when `use_handler_response`).
    pub status: u16,
    /// What this answer means.
    pub outcome: Outcome,
    /// The reason (`invalid_exact_evm_signature`, `settlement_uncertain`, ...), or empty.
    pub reason: String,
    /// A sentence for people (and logs), or empty.
    pub message: String,
    /// Headers to set, replacing any the handler set with the same name.
    pub headers: Vec<(&'static str, String)>,
    /// The body; `None` when `use_handler_response`.
    pub body: Option<String>,
    /// Send the handler's status, headers and body, with `headers` set over them.
    pub use_handler_response: bool,
}

impl Answer {
    /// The value of one of `headers`.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the host must do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action<'m> {
    /// Read the record of `key` and [`Lifecycle::feed_record`] it.
    Lookup {
        /// The key: a payment's replay key, or the key of its
        /// `payment-identifier` (`payment-identifier/{network}/{payTo}/{id}`).
        key: &'m str,
    },
    /// Set the record of `key` to `new` (`None`: remove it) if it is `expected`
    /// (`None`: absent), atomically; then [`Lifecycle::feed_swap`].
    Swap {
        /// The key, as for [`Action::Lookup`].
        key: &'m str,
        /// The record the lifecycle last saw.
        expected: Option<&'m str>,
        /// The record to write.
        new: Option<&'m str>,
    },
    /// Find the key directory (a JWK Set) of this `batch-settlement` agent, if
    /// it is one the host recognises, and [`Lifecycle::feed_directory`] it.
    Directory {
        /// The agent, as its `Signature-Agent` names it.
        agent: &'m str,
    },
    /// Run the resource's handler, keep its response back, and
    /// [`Lifecycle::feed_handler`] its status.
    Handle,
    /// `POST` `body` (JSON) to the facilitator's `/settle`, waiting at most
    /// `timeout_ms`, and [`Lifecycle::feed_settle`] what came of it.
    Settle {
        /// The request body: `{x402Version, paymentPayload, paymentRequirements}`.
        body: &'m str,
        /// The deadline.
        timeout_ms: u64,
    },
    /// `POST` `body` (JSON) to the facilitator's `/verify`, waiting at most
    /// `timeout_ms`, and [`Lifecycle::feed_verify`] what came of it. Only
    /// with [`Settings::verify_at_facilitator`](super::Settings::verify_at_facilitator).
    Verify {
        /// The request body: `{x402Version, paymentPayload, paymentRequirements}`.
        body: &'m str,
        /// The deadline.
        timeout_ms: u64,
    },
    /// Send this answer, then [`Lifecycle::responded`].
    Respond(&'m Answer),
    /// Nothing more.
    Done,
}

/// A header value: standard base64, with padding, of a JSON text.
pub(super) fn b64(json: &[u8]) -> String {
    let mut out = alloc::vec![0u8; header::base64_encoded_len(json.len())];
    match header::base64_encode(json, &mut out) {
        Ok(n) => {
            out.truncate(n);
            String::from_utf8(out).unwrap_or_default()
        }
        Err(_) => String::new(),
    }
}

impl Lifecycle {
    pub(super) fn answer(&mut self, answer: Answer) {
        self.outcome = Some(answer.outcome);
        self.phase = Phase::Respond {
            answer,
            after: None,
        };
    }

    pub(super) fn payment_required(&mut self, reason: &str, message: &str) {
        let error = match (reason.is_empty(), message.is_empty()) {
            (true, _) => message.to_owned(),
            (false, true) => reason.to_owned(),
            (false, false) => format!("{reason}: {message}"),
        };
        let json = self.route.payment_required_json(Some(&error));
        let value = b64(json.as_bytes());
        self.answer(Answer {
            status: 402,
            outcome: Outcome::PaymentRequired,
            reason: reason.to_owned(),
            message: message.to_owned(),
            headers: alloc::vec![
                (HeaderKind::PaymentRequired.name(), value),
                ("Content-Type", "application/json".into()),
                ("Cache-Control", ANSWER_CACHE_CONTROL.into()),
            ],
            body: Some(json),
            use_handler_response: false,
        });
    }

    pub(super) fn problem(&mut self, status: u16, outcome: Outcome, reason: Reason, message: &str) {
        self.problem_text(status, outcome, reason.as_str(), message);
    }

    /// [`Lifecycle::problem`] with a reason given as text (a scheme's own).
    pub(super) fn problem_text(
        &mut self,
        status: u16,
        outcome: Outcome,
        reason: &str,
        message: &str,
    ) {
        let mut body = Vec::new();
        let _ = (|| {
            let mut w = ObjectWriter::new(&mut body)?;
            w.str_field("error", JsonStr::new(reason))?;
            w.str_field("message", JsonStr::new(message))?;
            w.end()
        })();
        let mut headers = alloc::vec![
            ("Content-Type", String::from("application/json")),
            ("Cache-Control", ANSWER_CACHE_CONTROL.into()),
        ];
        if matches!(
            outcome,
            Outcome::InProgress | Outcome::FacilitatorUnavailable
        ) || status == 503
        {
            headers.push(("Retry-After", self.settings.retry_after_seconds.to_string()));
        }
        if let (Outcome::AlreadyDelivered | Outcome::InProgress, Some(pr)) =
            (outcome, &self.payment_response)
        {
            headers.push((HeaderKind::PaymentResponse.name(), pr.clone()));
        }
        self.answer(Answer {
            status,
            outcome,
            reason: reason.into(),
            message: message.to_owned(),
            headers,
            body: Some(String::from_utf8(body).unwrap_or_default()),
            use_handler_response: false,
        });
    }

    pub(super) fn in_progress(&mut self) {
        self.problem(
            409,
            Outcome::InProgress,
            Reason::PaymentInProgress,
            "another request is using this payment now; retry it shortly",
        );
    }

    pub(super) fn uncertain_answer(&mut self, cause: &str) {
        let message = format!(
            "settlement of this payment may have happened and is recorded for reconciliation; do not pay again ({cause})"
        );
        self.problem(
            502,
            Outcome::Uncertain,
            Reason::SettlementUncertain,
            &message,
        );
    }

    pub(super) fn deliver(&mut self, outcome: Outcome, payment_response: String, settled: &str) {
        let delivered = self.record(State::Delivered, 0, Some(&payment_response), "");
        self.outcome = Some(outcome);
        self.phase = Phase::Respond {
            answer: Answer {
                status: self.handler_status,
                outcome,
                reason: String::new(),
                message: String::new(),
                headers: alloc::vec![
                    (HeaderKind::PaymentResponse.name(), payment_response),
                    ("Cache-Control", PAID_CACHE_CONTROL.into()),
                ],
                body: None,
                use_handler_response: true,
            },
            after: Some((Some(settled.to_owned()), Some(delivered))),
        };
    }

    /// Takes back the answer just decided, to hold it while a record is
    /// written.
    pub(super) fn take_answer(&mut self) -> Option<Answer> {
        match core::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Respond { answer, .. } => Some(answer),
            other => {
                self.phase = other;
                None
            }
        }
    }
}
