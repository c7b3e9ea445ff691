//! The life of one paid request on a resource server, as a host-driven state
//! machine (with `alloc`): what to check, in which order, what to store, when
//! to settle, and what to answer, for every outcome. The core does no I/O: a
//! [`Lifecycle`] says what the host must do next ([`Lifecycle::next`]) — read
//! or swap a record of its replay store, fetch an agent's key directory, run
//! the resource's handler with its response held back, `POST /settle` to a
//! facilitator, send an answer — and the host feeds the result back.
//!
//! # The rules
//! - **The route's own requirements.** The payment's `accepted` only selects
//!   which of the route's requirements it pays (same scheme, network and
//!   asset); price, `payTo`, asset, network and scheme are then the route's,
//!   for verification and for settlement. A payment for a cheaper route, or to
//!   someone else, fails verification against the dearer route.
//! - **Settle before delivering.** The handler runs with its response held
//!   back; only a 2xx response is settled, and it is released, with
//!   `PAYMENT-RESPONSE`, only once settlement answered `success: true` with a
//!   transaction. A handler that fails (any status outside 2xx: 3xx, 4xx, 5xx,
//!   or an exception) is not settled: its answer goes out without a charge and
//!   the payment stays usable.
//! - **HEAD is never settled**: without a payment it gets the 402 a GET
//!   without payment gets; with one, the same 402 whose `error` says to pay
//!   with GET, and the payment is left untouched.
//! - **Delivered at most once.** Every payment has a replay key: `(network,
//!   asset, payer, nonce)` for EVM payments (the EIP-3009 nonce, or Permit2's),
//!   the signed commitment for `batch-settlement` (agent, key id, `created`,
//!   `expires`, `nonce` of its signature). The host's store holds one record per
//!   key, which the lifecycle reads after verifying and changes only by
//!   compare-and-swap, so that two requests (two threads, two processes, two
//!   Worker locations) presenting the same payment never both settle: the
//!   record is claimed before the handler runs, marked `settling` before the
//!   settlement request leaves, and `settled`, then `delivered`, after.
//! - **Never a second charge.** A request presenting a payment whose record is
//!   claimed or settling answers 409 `payment_in_progress` (with the earlier
//!   `PAYMENT-RESPONSE` once it is settled and its answer on its way); one already
//!   delivered answers 409 `payment_already_delivered` with the earlier
//!   `PAYMENT-RESPONSE`; one settled but not delivered (the server stopped
//!   between settlement and response) is delivered now, with the earlier
//!   `PAYMENT-RESPONSE`, without settling again.
//! - **Facilitator failures never deliver**, and never answer 402 for a payment
//!   that may have settled. Each reply is classified ([`classify_settle_reply`]):
//!   - settled: HTTP 2xx, a `SettleResponse` with `success: true`, a non-empty
//!     `transaction` and the route's network → the content is released;
//!   - refused, only when the answer proves nothing moved: `success: false`
//!     without a transaction and with a reason decided before anything is
//!     sent (invalid signature, insufficient balance, expired, ...), or
//!     `success: false` with a transaction hash and a reason saying that
//!     transaction reverted (`…_transaction_failed`, `invalid_transaction_state`)
//!     → 402 with that reason, the record is removed and the client may pay again;
//!   - not sent: the request never reached the facilitator (connection refused)
//!     or it refused the request itself (4xx without a `SettleResponse`) → 502
//!     `facilitator_unavailable`/`facilitator_error`, the record is removed,
//!     and the same payment can be presented again;
//!   - uncertain: no answer in time, a 5xx (whatever its body says), a body that
//!     is not a `SettleResponse` (HTML, garbage, truncated JSON), `success:
//!     true` without a transaction ([`settlement_has_transaction`]), a 409, or
//!     `success: false` with a reason that says the payment may have been used
//!     or is pending (`settlement_pending`, nonce already used, a duplicate,
//!     `…_transaction_failed` without a transaction hash — the reference
//!     facilitator answers so when its receipt wait fails after the broadcast —,
//!     any other reason with a transaction hash, any reason this crate does
//!     not know) → 502 `settlement_uncertain`; the record becomes `uncertain`,
//!     with what reconciliation needs (payer, nonce, amount, network, asset,
//!     route, time, cause, and the transaction when one was named); later
//!     presentations of the payment get the same 502 until an operator
//!     resolves it.
//! - **Verified first.** Nothing about a payment's record (whether it exists,
//!   its state, its `PAYMENT-RESPONSE`, its cause) is read, revealed or changed
//!   for a payment that does not verify against the route; one that fails only
//!   its validity window is still looked up (it may be one settled earlier).
//! - **One payment per request**: two payment headers answer 400
//!   `duplicate_payment_header`.
//! - **Forwarded as the token takes it**: a 65-byte signature with `v` = 0/1
//!   is sent to `POST /settle` with `v` = 27/28.
//! - **Paid responses are private**: `Cache-Control: private, no-store`, so no
//!   shared cache serves them to someone who did not pay.
//!
//! # Records
//! The store maps a key (text) to a record (JSON text) that only this module
//! writes; hosts compare records byte for byte and never read them, except to
//! list those whose `state` is `uncertain` for reconciliation. A host's store
//! needs two operations: `get(key)` and `swap(key, expected, new)`, which sets
//! the record to `new` (`None`: removes it) only if it is `expected` (`None`:
//! absent), atomically, and answers the current record when it is not.
//!
//! ```
//! use paywire::lifecycle::{Action, Lifecycle, Request, Route, Settings};
//! let route = Route::from_json(br#"{"x402Version":2,"resource":{"url":"https://example.com/report"},
//!   "accepts":[{"scheme":"exact","network":"eip155:84532","amount":"10000",
//!   "asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
//!   "maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}]}"#).unwrap();
//! let request = Request { method: "GET", url: "https://example.com/report", headers: &[] };
//! let life = Lifecycle::new(&route, &request, 1_750_000_000, "req-1", &Settings::default());
//! match life.next() {
//!     Action::Respond(answer) => assert_eq!(answer.status, 402),
//!     _ => unreachable!(),
//! }
//! ```

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::amount::Amount;
use crate::error::{Error, ErrorKind, Reason};
use crate::evm::Address;
use crate::header::{self, HeaderKind};
use crate::json::{JsonObject, JsonStr, JsonValue, Limits, ObjectWriter, ToJson};
use crate::network::Network;
use crate::types::facilitator::{
    PaymentPayload, PaymentRequirements, SettleResponse, VerifyRequest,
};
use crate::types::payload::SchemePayload;
use crate::types::{FromJson, RawObject, v2};
use crate::verify;

/// `Cache-Control` of every paid response.
pub const PAID_CACHE_CONTROL: &str = "private, no-store";
/// `Cache-Control` of the answers this module writes itself (402, 409, 502).
pub const ANSWER_CACHE_CONTROL: &str = "no-store";
/// How many times a compare-and-swap that lost a race is retried.
const MAX_SWAPS: u8 = 6;
/// The largest route document accepted.
const MAX_ROUTE: usize = 64 * 1024;

fn limits(max_len: usize) -> Limits {
    Limits {
        max_len,
        ..Limits::DEFAULT
    }
}

fn bad(reason: Reason, why: &'static str) -> Error {
    Error::new(reason, ErrorKind::Invalid(why))
}

// ---------------------------------------------------------------------------
// Route

/// What a route sells: the `PaymentRequired` it answers (x402 version 2, its
/// `resource`, `accepts` and `extensions`; `error` is set per answer).
///
/// `accepts` may hold `exact` and `upto` requirements on EVM networks and
/// (feature `batch`) `batch-settlement` on `cloudflare:402`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    doc: Box<[u8]>,
}

impl Route {
    /// Reads and checks a route's `PaymentRequired`.
    ///
    /// # Errors
    /// `invalid_payment_requirements` naming what is wrong: a malformed
    /// document, no requirement, an EVM requirement whose asset or `payTo` is
    /// not an address, or a scheme this lifecycle cannot settle.
    pub fn from_json(json: &[u8]) -> Result<Route, Error> {
        let pr = v2::PaymentRequired::from_json_bytes(json, &limits(MAX_ROUTE))?;
        if pr.accepts.is_empty() {
            return Err(bad(
                Reason::InvalidPaymentRequirements,
                "a route offers at least one requirement",
            )
            .at("accepts"));
        }
        for r in pr.accepts.iter() {
            if is_batch(&r) {
                if !cfg!(feature = "batch") {
                    return Err(bad(
                        Reason::InvalidPaymentRequirements,
                        "batch-settlement needs the `batch` feature",
                    )
                    .at("scheme"));
                }
                if r.network.as_str() != BATCH_NETWORK {
                    return Err(bad(
                        Reason::InvalidPaymentRequirements,
                        "batch-settlement is offered on cloudflare:402 only",
                    )
                    .at("network"));
                }
            } else if r.scheme == "exact" || r.scheme == "upto" {
                r.asset_address()?;
                r.pay_to_address()?;
                if r.network.namespace() != Some("eip155") || r.network.evm_chain_id().is_none() {
                    return Err(bad(
                        Reason::InvalidPaymentRequirements,
                        "exact and upto are offered on eip155 networks",
                    )
                    .at("network"));
                }
            } else {
                return Err(bad(
                    Reason::InvalidPaymentRequirements,
                    "this lifecycle settles exact, upto and batch-settlement",
                )
                .at("scheme"));
            }
        }
        Ok(Route { doc: json.into() })
    }

    /// The route's document, as given.
    #[must_use]
    pub fn json(&self) -> &[u8] {
        &self.doc
    }

    fn parsed(&self) -> Option<v2::PaymentRequired<'_>> {
        v2::PaymentRequired::from_json_bytes(&self.doc, &limits(MAX_ROUTE)).ok()
    }

    /// The `PaymentRequired` JSON this route answers, with `error`.
    #[must_use]
    pub fn payment_required_json(&self, error: Option<&str>) -> String {
        match self.parsed() {
            Some(pr) => v2::PaymentRequired {
                error: error.map(JsonStr::new),
                ..pr
            }
            .to_json_string(),
            None => String::new(),
        }
    }
}

#[cfg(feature = "batch")]
const BATCH_SCHEME: &str = crate::batch::SCHEME;
#[cfg(not(feature = "batch"))]
const BATCH_SCHEME: &str = "batch-settlement";
#[cfg(feature = "batch")]
const BATCH_NETWORK: &str = crate::batch::NETWORK;
#[cfg(not(feature = "batch"))]
const BATCH_NETWORK: &str = "cloudflare:402";

fn is_batch(r: &v2::PaymentRequirements<'_>) -> bool {
    r.scheme == BATCH_SCHEME
}

// ---------------------------------------------------------------------------
// Settings and inputs

/// How long things may take, and what the verifier needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The host's deadline for `POST /settle`, in seconds (at most the
    /// requirement's `maxTimeoutSeconds` is used).
    pub settle_timeout_seconds: u64,
    /// How long a claim (the handler running) or a delivery lasts before
    /// another request may take the payment over, in seconds.
    pub claim_seconds: u64,
    /// `Retry-After` of a 409 `payment_in_progress` and a 502
    /// `facilitator_unavailable`, in seconds.
    pub retry_after_seconds: u64,
    /// The facilitator's signer addresses (`upto` payments must name one).
    pub facilitator_addresses: Vec<Address>,
    /// Time limits of `batch-settlement` signatures.
    #[cfg(feature = "batch")]
    pub batch: crate::batch::Config,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            settle_timeout_seconds: 30,
            claim_seconds: 60,
            retry_after_seconds: 2,
            facilitator_addresses: Vec::new(),
            #[cfg(feature = "batch")]
            batch: crate::batch::Config::DEFAULT,
        }
    }
}

impl Settings {
    /// Reads `{"settleTimeoutSeconds", "claimSeconds", "retryAfterSeconds",
    /// "facilitatorAddresses"}` (every member optional; unknown members are
    /// refused so that a misspelt setting is not silently ignored).
    ///
    /// ```
    /// use paywire::lifecycle::Settings;
    /// let s = Settings::from_json(br#"{"settleTimeoutSeconds":5}"#).unwrap();
    /// assert_eq!(s.settle_timeout_seconds, 5);
    /// assert!(Settings::from_json(br#"{"settleTimeout":5}"#).is_err());
    /// ```
    ///
    /// # Errors
    /// `invalid_payload` naming the member.
    pub fn from_json(json: &[u8]) -> Result<Settings, Error> {
        use crate::types::{address, array, err, integer, object};
        const R: Reason = Reason::InvalidPayload;
        let v = crate::json::parse(json, &Limits::DEFAULT).map_err(|k| Error::new(R, k))?;
        let mut s = Settings::default();
        for (k, v) in object(v, R, "")?.members() {
            if k == "settleTimeoutSeconds" {
                s.settle_timeout_seconds = integer(v, R, "settleTimeoutSeconds")?;
            } else if k == "claimSeconds" {
                s.claim_seconds = integer(v, R, "claimSeconds")?;
            } else if k == "retryAfterSeconds" {
                s.retry_after_seconds = integer(v, R, "retryAfterSeconds")?;
            } else if k == "facilitatorAddresses" {
                for a in array(v, R, "facilitatorAddresses")?.iter() {
                    s.facilitator_addresses
                        .push(address(a, R, "facilitatorAddresses")?);
                }
            } else {
                return Err(err(
                    R,
                    ErrorKind::Invalid(
                        "unknown member (known: settleTimeoutSeconds, claimSeconds, retryAfterSeconds, facilitatorAddresses)",
                    ),
                    "",
                ));
            }
        }
        Ok(s)
    }
}

/// The request as the host received it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// `GET`, `HEAD`, `POST`, ...
    pub method: &'a str,
    /// The full URL the client addressed (`https://example.com/report?x=1`):
    /// `batch-settlement` signatures cover its authority.
    pub url: &'a str,
    /// Every header line, in order.
    pub headers: &'a [(&'a str, &'a str)],
}

impl Request<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

/// What the handler did with the request (its response held back by the host).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandlerResult<'a> {
    /// It answered with this status.
    Status(u16),
    /// It threw, or could not answer; the text is for the log.
    Failed(&'a str),
}

/// What became of `POST /settle`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettleReply<'a> {
    /// The request never reached the facilitator: the connection was refused,
    /// the name did not resolve, the URL is unusable. Nothing can have settled.
    NotSent,
    /// The request was sent (or may have been), and no complete answer came:
    /// a timeout, a reset, a body cut short.
    NoAnswer,
    /// An HTTP answer arrived, complete.
    Answered {
        /// Its status.
        status: u16,
        /// Its body.
        body: &'a [u8],
    },
}

/// How a settlement reply is read (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Settled: the `SettleResponse` to send as `PAYMENT-RESPONSE` (compact JSON).
    Success(String),
    /// Definitely not settled: the payment's fault; answer 402 with this reason.
    Refused {
        /// The facilitator's `errorReason`.
        reason: String,
        /// Its `errorMessage`, if any.
        message: String,
    },
    /// Definitely not settled: the facilitator could not be used; the payment
    /// may be presented again. `reason` is `facilitator_unavailable` or
    /// `facilitator_error`.
    NotSettled {
        /// Which.
        reason: Reason,
        /// What happened, for people.
        cause: String,
    },
    /// Maybe settled: record for reconciliation, answer 502.
    Uncertain {
        /// What happened, for people and the record.
        cause: String,
        /// The settlement transaction the facilitator named (`settlement_pending`
        /// with a hash, say), or empty: reconciliation starts from it.
        transaction: String,
    },
}

/// `success: false` reasons that prove the payment was not used: the
/// facilitator checked it and refused before sending anything.
const REFUSALS: &[Reason] = &[
    Reason::InvalidPayload,
    Reason::InvalidPaymentRequirements,
    Reason::InvalidX402Version,
    Reason::InvalidNetwork,
    Reason::UnsupportedScheme,
    Reason::UnsupportedPayloadType,
    Reason::ExactEvmScheme,
    Reason::ExactEvmMissingEip712Domain,
    Reason::ExactEvmNetworkMismatch,
    Reason::ExactEvmSignature,
    Reason::ExactEvmRecipientMismatch,
    Reason::ExactEvmValidBefore,
    Reason::ExactEvmValidAfter,
    Reason::ExactEvmValueMismatch,
    Reason::ExactEvmAuthorizationValue,
    Reason::AssetNotDeployedContract,
    Reason::ExactEvmEip3009NotSupported,
    Reason::ExactEvmTokenNameMismatch,
    Reason::ExactEvmTokenVersionMismatch,
    Reason::ExactEvmInsufficientBalance,
    Reason::ExactEvmTransactionSimulationFailed,
    Reason::Permit2Spender,
    Reason::Permit2RecipientMismatch,
    Reason::Permit2DeadlineExpired,
    Reason::Permit2NotYetValid,
    Reason::Permit2AmountMismatch,
    Reason::Permit2TokenMismatch,
    Reason::Permit2Signature,
    Reason::Permit2AllowanceRequired,
    Reason::Permit2SimulationFailed,
    Reason::Permit2InsufficientBalance,
    Reason::Permit2ProxyNotDeployed,
    Reason::Permit2InvalidAmount,
    Reason::Permit2InvalidDestination,
    Reason::Permit2InvalidOwner,
    Reason::Permit2PaymentTooEarly,
    Reason::Permit2Eip2612AmountMismatch,
    Reason::UptoAmountExceedsPermitted,
    Reason::UptoUnauthorizedFacilitator,
    Reason::UptoEvmScheme,
    Reason::UptoEvmNetworkMismatch,
    Reason::UptoFacilitatorMismatch,
    Reason::UptoSettlementExceedsAmount,
    Reason::InvalidScheme,
    Reason::InsufficientFunds,
];

/// `success: false` reasons that, with a transaction hash, say the settlement
/// transaction was mined and reverted: nothing moved. Without a hash they say
/// nothing of the kind: the reference facilitator answers
/// `invalid_exact_evm_transaction_failed` with an empty `transaction` from one
/// `catch` around sending the transaction *and* waiting for its receipt, so a
/// receipt wait that timed out after the broadcast reads the same.
const REVERTED: &[Reason] = &[
    Reason::ExactEvmTransactionFailed,
    Reason::UptoEvmTransactionFailed,
    Reason::InvalidTransactionState,
];

/// Other SDKs' spellings of refusals (the spec's §9 list, the Python SDK).
const REFUSAL_ALIASES: &[&str] = &[
    "invalid_exact_evm_payload_signature",
    "invalid_exact_evm_payload_recipient_mismatch",
    "invalid_exact_evm_payload_authorization_value",
    "invalid_exact_evm_payload_authorization_value_mismatch",
    "network_mismatch",
    "invalid_exact_evm_payload_authorization_valid_after",
];

/// Whether a successful settlement of `scheme` on `network` names a
/// transaction: `true` for the schemes that settle each payment on chain
/// (`exact`, `upto`), whose `success: true` without a transaction proves
/// nothing; `false` for `batch-settlement`, whose receipts legitimately carry
/// an empty `transaction` (on `cloudflare:402` the network bills later,
/// off-chain; on EVM a voucher is claimed later, in bulk). `network` is for
/// schemes whose rule differs by network; none does today.
///
/// ```
/// use paywire::lifecycle::settlement_has_transaction;
/// use paywire::Network;
/// let base = Network::parse_caip2("eip155:8453").unwrap();
/// assert!(settlement_has_transaction("exact", &base));
/// assert!(!settlement_has_transaction("batch-settlement", &base));
/// ```
#[must_use]
pub fn settlement_has_transaction(scheme: &str, network: &Network) -> bool {
    let _ = network;
    scheme != BATCH_SCHEME
}

/// Reads a facilitator's reply to `POST /settle` for a payment of `scheme` on
/// `network` (the rules are in the module docs).
///
/// ```
/// use paywire::lifecycle::{classify_settle_reply, Settled, SettleReply};
/// use paywire::Network;
/// let net = Network::parse_caip2("eip155:84532").unwrap();
/// let ok = br#"{"success":true,"transaction":"0xab","network":"eip155:84532"}"#;
/// let c = |reply| classify_settle_reply(reply, "exact", net);
/// assert!(matches!(c(SettleReply::Answered { status: 200, body: ok }), Settled::Success(_)));
/// // The same body with a 503 is not believed.
/// assert!(matches!(c(SettleReply::Answered { status: 503, body: ok }), Settled::Uncertain { .. }));
/// assert!(matches!(c(SettleReply::NoAnswer), Settled::Uncertain { .. }));
/// // "transaction failed" without a hash may follow a broadcast: uncertain, never "pay again".
/// let failed = br#"{"success":false,"errorReason":"invalid_exact_evm_transaction_failed","transaction":"","network":"eip155:84532"}"#;
/// assert!(matches!(c(SettleReply::Answered { status: 200, body: failed }), Settled::Uncertain { .. }));
/// ```
#[must_use]
pub fn classify_settle_reply(reply: SettleReply<'_>, scheme: &str, network: Network) -> Settled {
    let uncertain = |cause: String| Settled::Uncertain {
        cause,
        transaction: String::new(),
    };
    let (status, body) = match reply {
        SettleReply::NotSent => {
            return Settled::NotSettled {
                reason: Reason::FacilitatorUnavailable,
                cause: "the settlement request did not reach the facilitator".into(),
            };
        }
        SettleReply::NoAnswer => {
            return uncertain(
                "the facilitator did not answer the settlement request in time".into(),
            );
        }
        SettleReply::Answered { status, body } => (status, body),
    };
    let parsed = SettleResponse::from_json_bytes(body, &limits(64 * 1024));
    // A transaction named in any readable answer is kept for reconciliation.
    let named = parsed
        .as_ref()
        .map(|r| r.transaction.to_cow().into_owned())
        .unwrap_or_default();
    let uncertain_tx = |cause: String| Settled::Uncertain {
        cause,
        transaction: named.clone(),
    };
    if status >= 500 {
        return uncertain_tx(format!("the facilitator answered HTTP {status}"));
    }
    if status == 409 {
        return uncertain_tx(
            "the facilitator answered HTTP 409 (a conflict: the payment may be settled already)"
                .into(),
        );
    }
    let two_xx = (200..300).contains(&status);
    let r = match parsed {
        Ok(r) => r,
        Err(e) if two_xx => {
            return uncertain(format!(
                "the facilitator answered HTTP {status} without a SettleResponse ({e})"
            ));
        }
        Err(_) => {
            return Settled::NotSettled {
                reason: Reason::FacilitatorError,
                cause: format!("the facilitator refused the settlement request with HTTP {status}"),
            };
        }
    };
    if r.success {
        if !two_xx {
            return uncertain_tx(format!(
                "the facilitator answered success with HTTP {status}"
            ));
        }
        if r.transaction.is_empty() && settlement_has_transaction(scheme, &network) {
            return uncertain("the facilitator answered success without a transaction".into());
        }
        if r.network != network {
            return uncertain_tx(format!(
                "the facilitator answered success on another network ({})",
                r.network.as_str()
            ));
        }
        return Settled::Success(r.to_json_string());
    }
    let reason = r
        .error_reason
        .map(|s| s.to_cow().into_owned())
        .unwrap_or_default();
    let message = r
        .error_message
        .map(|s| s.to_cow().into_owned())
        .unwrap_or_default();
    let known = Reason::from_wire(&reason);
    if !named.is_empty() {
        // A transaction exists. Only a reverted one proves nothing moved.
        if known.is_some_and(|k| REVERTED.contains(&k)) {
            let message = if message.is_empty() {
                format!("the settlement transaction {named} reverted; nothing was transferred")
            } else {
                message
            };
            return Settled::Refused { reason, message };
        }
        return uncertain_tx(format!(
            "success: false with errorReason {reason:?} and transaction {named} (the payment may be used or pending)"
        ));
    }
    let refused =
        known.is_some_and(|k| REFUSALS.contains(&k)) || REFUSAL_ALIASES.contains(&reason.as_str());
    if refused {
        return Settled::Refused { reason, message };
    }
    let mut why = if reason.is_empty() {
        String::from("success: false without errorReason")
    } else if known.is_some_and(|k| REVERTED.contains(&k)) {
        format!(
            "success: false with errorReason {reason} and no transaction: the transaction may have been sent before the facilitator lost track of it"
        )
    } else {
        format!("success: false with errorReason {reason} (the payment may be used or pending)")
    };
    if !message.is_empty() {
        why.push_str(": ");
        why.push_str(&message);
    }
    uncertain(why)
}

// ---------------------------------------------------------------------------
// What the host does

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
        /// The payment's replay key.
        key: &'m str,
    },
    /// Set the record of `key` to `new` (`None`: remove it) if it is `expected`
    /// (`None`: absent), atomically; then [`Lifecycle::feed_swap`].
    Swap {
        /// The payment's replay key.
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
    /// Send this answer, then [`Lifecycle::responded`].
    Respond(&'m Answer),
    /// Nothing more.
    Done,
}

// ---------------------------------------------------------------------------
// Records

/// The state part of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Claimed,
    Settling,
    Settled,
    Delivered,
    Uncertain,
}

impl State {
    const fn as_str(self) -> &'static str {
        match self {
            State::Claimed => "claimed",
            State::Settling => "settling",
            State::Settled => "settled",
            State::Delivered => "delivered",
            State::Uncertain => "uncertain",
        }
    }

    fn from_str(s: &str) -> Option<State> {
        [
            State::Claimed,
            State::Settling,
            State::Settled,
            State::Delivered,
            State::Uncertain,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// A record read back.
struct Seen {
    state: State,
    until: u64,
    payment_response: Option<String>,
    cause: String,
    transaction: String,
    /// The `payment` member as written, kept when the record is rewritten.
    payment: String,
}

fn read_payer(payment: &str) -> Option<String> {
    crate::json::parse(payment.as_bytes(), &Limits::DEFAULT)
        .ok()?
        .as_object()?
        .get("payer")?
        .as_str()
        .map(|s| s.to_cow().into_owned())
}

/// Whether two `payment` members of records describe the same purchase: same
/// scheme, amount and route path (the key already fixes network, asset, payer
/// and nonce). The route is compared without its origin, so that replicas
/// reached under different host names or ports agree.
fn same_purchase(a: &str, b: &str) -> bool {
    let read = |text: &str| -> Option<[String; 3]> {
        let v = crate::json::parse(text.as_bytes(), &Limits::DEFAULT).ok()?;
        let o = v.as_object()?;
        let f = |k: &str| {
            o.get(k)
                .and_then(|v| v.as_str())
                .map(|s| s.to_cow().into_owned())
        };
        Some([
            f("scheme")?,
            f("amount")?,
            route_path(&f("route")?).to_owned(),
        ])
    };
    matches!((read(a), read(b)), (Some(x), Some(y)) if x == y)
}

/// `https://host:port/a/b?q` → `/a/b?q`; text without an origin is kept.
fn route_path(route: &str) -> &str {
    match route.split_once("://") {
        Some((_, rest)) => rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/"),
        None => route,
    }
}

fn payment_time(payment: &str) -> Option<u64> {
    crate::json::parse(payment.as_bytes(), &Limits::DEFAULT)
        .ok()?
        .as_object()?
        .get("time")?
        .as_u64()
}

fn read_record(text: &str) -> Option<Seen> {
    let v = crate::json::parse(text.as_bytes(), &limits(64 * 1024)).ok()?;
    let o = v.as_object()?;
    let s = |k: &str| {
        o.get(k)
            .and_then(|v| v.as_str())
            .map(|s| s.to_cow().into_owned())
    };
    Some(Seen {
        state: State::from_str(&s("state")?)?,
        until: o.get("until").and_then(|v| v.as_u64()).unwrap_or(0),
        payment_response: s("paymentResponse"),
        cause: s("cause").unwrap_or_default(),
        transaction: s("transaction").unwrap_or_default(),
        payment: o.get("payment")?.as_object()?.raw().to_owned(),
    })
}

/// Fields of the reconciliation part of a record, for [`record_info`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordInfo {
    /// `claimed`, `settling`, `settled`, `delivered` or `uncertain`.
    pub state: String,
    /// The payer (EVM address or `batch-settlement` agent).
    pub payer: String,
    /// The payment's nonce (EIP-3009 hex, Permit2 decimal, or the signature's
    /// key id, times and nonce for `batch-settlement`).
    pub nonce: String,
    /// The amount, in atomic units.
    pub amount: String,
    /// The network.
    pub network: String,
    /// The asset.
    pub asset: String,
    /// The route's resource URL.
    pub route: String,
    /// When the payment was first claimed (unix seconds).
    pub time: u64,
    /// When the signed payment stops being valid (unix seconds: EIP-3009
    /// `validBefore`, Permit2 `deadline`, the signature's `expires` for
    /// `batch-settlement`), or 0 if unknown.
    pub expires: u64,
    /// Why it is uncertain, for `uncertain` records.
    pub cause: String,
    /// The settlement transaction a facilitator named for an `uncertain`
    /// record (`settlement_pending` with a hash), or empty.
    pub transaction: String,
    /// The `PAYMENT-RESPONSE` value, for `settled` and `delivered` records.
    pub payment_response: String,
}

impl ToJson for RecordInfo {
    /// `{state, payer, nonce, amount, network, asset, route, time, expires?,
    /// cause?, transaction?, paymentResponse?}`: what a host lists of a record
    /// (empty members and a zero `expires` are left out).
    fn write_json(&self, out: &mut dyn crate::json::Sink) -> Result<(), crate::json::SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        for (k, v) in [
            ("state", &self.state),
            ("payer", &self.payer),
            ("nonce", &self.nonce),
            ("amount", &self.amount),
            ("network", &self.network),
            ("asset", &self.asset),
            ("route", &self.route),
        ] {
            w.str_field(k, JsonStr::new(v))?;
        }
        w.u64_field("time", self.time)?;
        if self.expires > 0 {
            w.u64_field("expires", self.expires)?;
        }
        for (k, v) in [
            ("cause", &self.cause),
            ("transaction", &self.transaction),
            ("paymentResponse", &self.payment_response),
        ] {
            if !v.is_empty() {
                w.str_field(k, JsonStr::new(v))?;
            }
        }
        w.end()
    }
}

/// Reads what a host may show of a record (to list those to reconcile).
///
/// # Errors
/// `invalid_payload` if the text is not a record this module wrote.
pub fn record_info(record: &str) -> Result<RecordInfo, Error> {
    let seen = read_record(record).ok_or(bad(Reason::InvalidPayload, "not a payment record"))?;
    let v = crate::json::parse(seen.payment.as_bytes(), &Limits::DEFAULT)
        .map_err(|k| Error::new(Reason::InvalidPayload, k))?;
    let o = v
        .as_object()
        .ok_or(bad(Reason::InvalidPayload, "not a payment record"))?;
    let s = |k: &str| {
        o.get(k)
            .and_then(|v| v.as_str())
            .map(|s| s.to_cow().into_owned())
            .unwrap_or_default()
    };
    Ok(RecordInfo {
        state: seen.state.as_str().into(),
        payer: s("payer"),
        nonce: s("nonce"),
        amount: s("amount"),
        network: s("network"),
        asset: s("asset"),
        route: s("route"),
        time: o.get("time").and_then(|v| v.as_u64()).unwrap_or(0),
        expires: o.get("expires").and_then(|v| v.as_u64()).unwrap_or(0),
        cause: seen.cause,
        transaction: seen.transaction,
        payment_response: seen.payment_response.unwrap_or_default(),
    })
}

/// Whether a host's store may forget this record at `now` (unix seconds):
/// the payment's signature has expired (with a minute's margin for clocks),
/// so it can no longer be presented, and the record holds nothing anyone
/// is owed or must reconcile — it is `delivered`, or a `claimed` record whose
/// holder is gone before settling. Never an `uncertain`, `settling` or
/// `settled` record (a payer may be owed content, or a transfer may have
/// happened), never a record without a known expiry, and never a
/// `batch-settlement` commitment (the record the network bills from).
///
/// ```
/// use paywire::lifecycle::record_forgettable;
/// assert!(!record_forgettable("not a record", 2_000_000_000));
/// ```
#[must_use]
pub fn record_forgettable(record: &str, now: u64) -> bool {
    /// Slack for a presenting client's clock and the verifier's margin.
    const MARGIN: u64 = 60;
    let Some(seen) = read_record(record) else {
        return false;
    };
    let over = match seen.state {
        State::Delivered => true,
        State::Claimed => seen.until <= now,
        State::Settling | State::Settled | State::Uncertain => false,
    };
    if !over {
        return false;
    }
    let Ok(v) = crate::json::parse(seen.payment.as_bytes(), &Limits::DEFAULT) else {
        return false;
    };
    let Some(o) = v.as_object() else {
        return false;
    };
    let batch = o
        .get("scheme")
        .and_then(|s| s.as_str())
        .is_some_and(|s| s == BATCH_SCHEME);
    let expires = o.get("expires").and_then(|v| v.as_u64()).unwrap_or(0);
    !batch && expires > 0 && expires.saturating_add(MARGIN) < now
}

/// Who pays what: a payment's replay key and the `payment` member of its records.
#[derive(Clone, Debug, Default)]
struct Payment {
    key: String,
    json: String,
}

impl Payment {
    #[allow(clippy::too_many_arguments)]
    fn new(
        kind: &str,
        payer: &str,
        nonce: &str,
        amount: Amount,
        network: &str,
        asset: &str,
        route: &str,
        time: u64,
        expires: u64,
    ) -> Payment {
        let amount = amount.to_string();
        let mut json = Vec::new();
        let _ = (|| {
            let mut w = ObjectWriter::new(&mut json)?;
            w.str_field("scheme", JsonStr::new(kind))?;
            w.str_field("payer", JsonStr::new(payer))?;
            w.str_field("nonce", JsonStr::new(nonce))?;
            w.str_field("amount", JsonStr::new(&amount))?;
            w.str_field("network", JsonStr::new(network))?;
            w.str_field("asset", JsonStr::new(asset))?;
            w.str_field("route", JsonStr::new(route))?;
            w.u64_field("time", time)?;
            if expires > 0 {
                w.u64_field("expires", expires)?;
            }
            w.end()
        })();
        Payment {
            key: format!("{network}/{asset}/{payer}/{nonce}"),
            json: String::from_utf8(json).unwrap_or_default(),
        }
    }
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

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

/// A header value: standard base64, with padding, of a JSON text.
fn b64(json: &[u8]) -> String {
    let mut out = alloc::vec![0u8; header::base64_encoded_len(json.len())];
    match header::base64_encode(json, &mut out) {
        Ok(n) => {
            out.truncate(n);
            String::from_utf8(out).unwrap_or_default()
        }
        Err(_) => String::new(),
    }
}

// ---------------------------------------------------------------------------
// The machine

/// What the next swap is for: decides what a success and a lost race mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
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

#[derive(Clone, Debug)]
enum Phase {
    Lookup,
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
    Respond {
        answer: Answer,
        /// The swap to make once the answer is out (mark delivered).
        after: Option<(Option<String>, Option<String>)>,
    },
    Done,
}

/// The payment as this request presents it.
#[derive(Clone, Debug)]
enum Presented {
    /// `exact`/`upto` on EVM: the decoded header (JSON) and the index of the
    /// route requirement it pays.
    Evm { json: Vec<u8>, index: usize },
    /// `batch-settlement`: verified once the directory is known.
    #[cfg(feature = "batch")]
    Batch {
        directories: Vec<(String, Vec<u8>)>,
        response: Option<String>,
    },
}

/// One request's lifecycle (see the module docs).
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "batch"), allow(dead_code))]
pub struct Lifecycle {
    route: Route,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    now: u64,
    id: String,
    settings: Settings,
    presented: Option<Presented>,
    payment: Payment,
    /// The record as last seen in the store.
    seen: Option<String>,
    /// The status the handler answered.
    handler_status: u16,
    /// The `PAYMENT-RESPONSE` value once settled.
    payment_response: Option<String>,
    /// The answer decided, held while the record is written.
    pending: Option<Answer>,
    /// The uncertain record written, for the host's log.
    uncertain: Option<String>,
    /// The verification verdict (a VerifyResponse), once verified.
    verdict: Option<String>,
    /// Why the payment fails verification now, when it fails only for its
    /// validity window (the payer signed it for this route): such a payment
    /// may still be one this server settled earlier, and its record decides.
    /// `None` when it verifies now.
    outside_window: Option<(Reason, String)>,
    /// The settlement transaction a facilitator named in an uncertain answer.
    transaction: String,
    swaps: u8,
    phase: Phase,
    outcome: Option<Outcome>,
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
            seen: None,
            handler_status: 0,
            payment_response: None,
            pending: None,
            uncertain: None,
            verdict: None,
            outside_window: None,
            transaction: String::new(),
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

    #[cfg_attr(not(feature = "batch"), allow(dead_code))]
    fn request(&self) -> (Vec<(&str, &str)>, &str) {
        (
            self.headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect(),
            self.url.as_str(),
        )
    }

    // ---- answers

    fn answer(&mut self, answer: Answer) {
        self.outcome = Some(answer.outcome);
        self.phase = Phase::Respond {
            answer,
            after: None,
        };
    }

    fn payment_required(&mut self, reason: &str, message: &str) {
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

    fn problem(&mut self, status: u16, outcome: Outcome, reason: Reason, message: &str) {
        let mut body = Vec::new();
        let _ = (|| {
            let mut w = ObjectWriter::new(&mut body)?;
            w.str_field("error", JsonStr::new(reason.as_str()))?;
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
            reason: reason.as_str().into(),
            message: message.to_owned(),
            headers,
            body: Some(String::from_utf8(body).unwrap_or_default()),
            use_handler_response: false,
        });
    }

    fn in_progress(&mut self) {
        self.problem(
            409,
            Outcome::InProgress,
            Reason::PaymentInProgress,
            "another request is using this payment now; retry it shortly",
        );
    }

    fn uncertain_answer(&mut self, cause: &str) {
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

    fn deliver(&mut self, outcome: Outcome, payment_response: String, settled: &str) {
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

    // ---- records

    fn record(
        &self,
        state: State,
        until: u64,
        payment_response: Option<&str>,
        cause: &str,
    ) -> String {
        let mut out = Vec::new();
        let _ = (|| {
            let mut w = ObjectWriter::new(&mut out)?;
            w.str_field("state", JsonStr::new(state.as_str()))?;
            if until > 0 {
                w.u64_field("until", until)?;
            }
            w.str_field("id", JsonStr::new(&self.id))?;
            if let Some(pr) = payment_response {
                w.str_field("paymentResponse", JsonStr::new(pr))?;
            }
            if !cause.is_empty() {
                w.str_field("cause", JsonStr::new(cause))?;
            }
            if state == State::Uncertain && !self.transaction.is_empty() {
                w.str_field("transaction", JsonStr::new(&self.transaction))?;
            }
            w.key(JsonStr::new("payment"))?;
            w.sink().put(self.payment.json.as_bytes())?;
            w.end()
        })();
        String::from_utf8(out).unwrap_or_default()
    }

    fn swap(&mut self, purpose: Purpose, new: Option<String>) {
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

    // ---- steps

    fn start(&mut self, request: &Request<'_>) {
        // Two payments in one request: a proxy or a meter reading the other
        // one would disagree with this server about what was paid. Runtimes
        // that fold repeated headers into one value join them with ", ";
        // base64 has no comma, so a comma means two headers too.
        let presented = request
            .headers
            .iter()
            .filter(|(n, _)| {
                n.eq_ignore_ascii_case(HeaderKind::PaymentSignature.name())
                    || n.eq_ignore_ascii_case(HeaderKind::XPayment.name())
            })
            .map(|(_, v)| 1 + v.matches(',').count())
            .sum::<usize>();
        if presented > 1 {
            self.problem(
                400,
                Outcome::BadRequest,
                Reason::DuplicatePaymentHeader,
                "one request carries one payment: send a single PAYMENT-SIGNATURE header (and no X-PAYMENT beside it)",
            );
            return;
        }
        let head = request.method.eq_ignore_ascii_case("HEAD");
        let signature = request.header(HeaderKind::PaymentSignature.name());
        let x_payment = request.header(HeaderKind::XPayment.name());
        if head {
            // Never settled: the same 402 as a GET without payment, whatever it carries.
            let message = match signature.or(x_payment) {
                Some(_) => "HEAD is never settled: send the payment with GET",
                None => "PAYMENT-SIGNATURE header is required",
            };
            self.payment_required("", message);
            return;
        }
        let value = match (signature, x_payment) {
            (Some(v), _) => v,
            (None, Some(_)) => {
                self.payment_required(
                    Reason::InvalidX402Version.as_str(),
                    "this server speaks x402 version 2: send PAYMENT-SIGNATURE, not X-PAYMENT",
                );
                return;
            }
            (None, None) => {
                self.payment_required("", "PAYMENT-SIGNATURE header is required");
                return;
            }
        };
        let json = match header::decode_to_vec(value, header::DEFAULT_MAX_DECODED) {
            Ok(j) => j,
            Err(e) => {
                self.payment_required(e.reason().as_str(), &e.to_string());
                return;
            }
        };
        let scheme = crate::json::parse(&json, &Limits::DEFAULT)
            .ok()
            .and_then(|v| v.as_object())
            .and_then(|o| o.get("accepted"))
            .and_then(|a| a.as_object())
            .and_then(|a| a.get("scheme"))
            .and_then(|s| s.as_str())
            .is_some_and(|s| s == BATCH_SCHEME);
        if scheme {
            self.start_batch();
        } else {
            self.start_evm(json);
        }
    }

    fn start_evm(&mut self, json: Vec<u8>) {
        let payload = match PaymentPayload::from_json_bytes(&json, &limits(json.len())) {
            Ok(PaymentPayload::V2(p)) => p,
            Ok(PaymentPayload::V1(_)) => {
                self.payment_required(
                    Reason::InvalidX402Version.as_str(),
                    "this server speaks x402 version 2",
                );
                return;
            }
            Err(e) => {
                self.payment_required(e.reason().as_str(), &e.to_string());
                return;
            }
        };
        let Some(route) = self.route.parsed() else {
            self.problem(
                500,
                Outcome::StoreError,
                Reason::InvalidPaymentRequirements,
                "the route cannot be read",
            );
            return;
        };
        let accepted = payload.accepted;
        let same_asset =
            |r: &v2::PaymentRequirements<'_>| match (r.asset_address(), accepted.asset_address()) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            };
        let found = route.accepts.iter().enumerate().find(|(_, r)| {
            !is_batch(r)
                && r.scheme == accepted.scheme
                && r.network == accepted.network
                && same_asset(r)
        });
        let Some((index, req)) = found else {
            self.payment_required(
                Reason::NoMatchingRequirements.as_str(),
                "accepted (scheme, network, asset) matches none of this route's requirements",
            );
            return;
        };
        // The key: the route's network and asset, the payload's payer and nonce.
        let asset = req
            .asset_address()
            .map(|a| lower(a.checksummed().as_str()))
            .unwrap_or_default();
        let ids = payload
            .payload_json()
            .and_then(SchemePayload::from_object)
            .ok()
            .and_then(|s| match s {
                SchemePayload::Eip3009(e) => Some((
                    e.authorization.from,
                    String::from(e.authorization.nonce.to_hex().as_str()),
                    e.authorization.valid_before,
                )),
                SchemePayload::Permit2(p) => Some((
                    p.authorization.from,
                    p.authorization.nonce.to_string(),
                    p.authorization.deadline,
                )),
                SchemePayload::Batch(_) => None,
            });
        let Some((payer, nonce, expires)) = ids else {
            // Not a payment that can be keyed: verification says what is wrong.
            let verdict = verify::verify_parts(
                &PaymentPayload::V2(payload),
                &PaymentRequirements::V2(req),
                self.now,
                &verify::Config::default(),
            );
            let reason = verdict.reason.unwrap_or(Reason::InvalidPayload);
            self.payment_required(reason.as_str(), verdict.message.as_str());
            return;
        };
        let scheme = req.scheme.to_cow().into_owned();
        let network = req.network;
        let amount = req.amount;
        let route_url = route.resource.url.to_cow().into_owned();
        self.payment = Payment::new(
            &scheme,
            &lower(payer.checksummed().as_str()),
            &nonce,
            amount,
            network.as_str(),
            &asset,
            &route_url,
            self.now,
            expires.to_u64().unwrap_or(u64::MAX),
        );
        self.presented = Some(Presented::Evm { json, index });
        self.verify_first();
    }

    /// Verifies before anything about a record is read: a payment the payer
    /// did not sign for this route learns nothing of the payment it names
    /// (whether it exists, its state, its `PAYMENT-RESPONSE`), and changes no
    /// record. One that fails only for its validity window is looked up all
    /// the same: it may be one this server settled and still owes.
    fn verify_first(&mut self) {
        let failed = self.check(self.now);
        self.verdict = self.verdict_of(failed.as_ref());
        match failed {
            None => self.phase = Phase::Lookup,
            Some((reason, message)) if is_window(reason) && self.check_any_time().is_none() => {
                self.outside_window = Some((reason, message));
                self.phase = Phase::Lookup;
            }
            Some((reason, message)) => self.payment_required(reason.as_str(), &message),
        }
    }

    #[cfg(not(feature = "batch"))]
    fn start_batch(&mut self) {
        self.payment_required(
            Reason::UnsupportedScheme.as_str(),
            "batch-settlement is not supported by this build",
        );
    }

    #[cfg(feature = "batch")]
    fn start_batch(&mut self) {
        let offered = self
            .route
            .parsed()
            .is_some_and(|pr| pr.accepts.iter().any(|r| is_batch(&r)));
        if !offered {
            self.payment_required(
                Reason::NoMatchingRequirements.as_str(),
                "this route does not offer batch-settlement",
            );
            return;
        }
        self.presented = Some(Presented::Batch {
            directories: Vec::new(),
            response: None,
        });
        self.verify_batch();
    }

    /// Verifies a batch-settlement request with the directories known so far;
    /// asks for the agent's directory the first time it is needed.
    #[cfg(feature = "batch")]
    fn verify_batch(&mut self) {
        use crate::batch::{self, KeyLookupError, directory::Directory};
        use core::cell::RefCell;
        use core::fmt::Write as _;
        let Some(Presented::Batch { directories, .. }) = &self.presented else {
            return;
        };
        let asked: RefCell<Option<String>> = RefCell::new(None);
        let lookup = |agent: &str, keyid: &str| match directories.iter().find(|(a, _)| a == agent) {
            Some((_, jwks)) if jwks.is_empty() => Err(KeyLookupError::UnknownAgent),
            Some((_, jwks)) => Directory::parse(jwks)
                .ok()
                .and_then(|d| d.find(keyid))
                .ok_or(KeyLookupError::UnknownKey),
            None => {
                *asked.borrow_mut() = Some(agent.to_owned());
                Err(KeyLookupError::UnknownAgent)
            }
        };
        let (headers, url) = self.request();
        let req = batch::Request {
            method: &self.method,
            url,
            headers: &headers,
        };
        let doc = self.route.json();
        let verdict = batch::verify_batch_settlement_alloc(
            &req,
            doc,
            &lookup,
            self.now,
            &self.settings.batch,
        );
        if let Some(agent) = asked.borrow_mut().take() {
            self.phase = Phase::Directory(agent);
            return;
        }
        let verdict_json = verdict.to_json_string();
        let (Some(c), Some(payer)) = (verdict.commitment, verdict.payer) else {
            let reason = verdict.reason.unwrap_or(Reason::InvalidPayload);
            let message = String::from(verdict.message.as_str());
            self.verdict = Some(verdict_json);
            self.payment_required(reason.as_str(), &message);
            return;
        };
        let response = verdict
            .payment_response(self.now)
            .map(|r| header::encode_to_string(&r));
        // The commitment: what the agent signed, which no one else can sign.
        let mut nonce = String::new();
        let _ = write!(nonce, "{}", c.keyid.as_plain().unwrap_or_default());
        let _ = write!(nonce, ";created={};expires={}", c.created, c.expires);
        if let Some(n) = c.nonce {
            let _ = write!(nonce, ";nonce={}", n.as_plain().unwrap_or_default());
        }
        let asset = c.asset.to_cow().into_owned();
        let route_url = self
            .route
            .parsed()
            .map(|pr| pr.resource.url.to_cow().into_owned())
            .unwrap_or_default();
        let payer = payer.to_owned();
        let amount = c.amount;
        self.payment = Payment::new(
            BATCH_SCHEME,
            &payer,
            &nonce,
            amount,
            BATCH_NETWORK,
            &asset,
            &route_url,
            self.now,
            c.expires,
        );
        if let Some(Presented::Batch { response: r, .. }) = &mut self.presented {
            *r = response;
        }
        self.verdict = Some(verdict_json);
        self.phase = Phase::Lookup;
    }

    /// Feeds the record of the key ([`Action::Lookup`]), or the current record
    /// after a lost swap.
    pub fn feed_record(&mut self, record: Option<&str>) {
        if !matches!(self.phase, Phase::Lookup) {
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

    /// A VerifyResponse for an EVM payment's verdict.
    fn verdict_of(&self, failed: Option<&(Reason, String)>) -> Option<String> {
        if !matches!(self.presented, Some(Presented::Evm { .. })) {
            return self.verdict.clone();
        }
        let payer = read_payer(&self.payment.json);
        let payer = payer.as_deref();
        Some(
            match failed {
                Some((r, m)) => {
                    crate::types::facilitator::VerifyResponse::invalid(r.as_str(), Some(m), payer)
                }
                None => crate::types::facilitator::VerifyResponse::valid(payer),
            }
            .to_json_string(),
        )
    }

    /// Why the payment fails verification at `at`, if it does.
    fn check(&self, at: u64) -> Option<(Reason, String)> {
        match &self.presented {
            Some(Presented::Evm { json, index }) => {
                let route = self.route.parsed();
                let req = route.as_ref().and_then(|r| r.accepts.get(*index));
                let payload = PaymentPayload::from_json_bytes(json, &limits(json.len()));
                match (payload, req) {
                    (Ok(p), Some(r)) => {
                        let config = verify::Config {
                            facilitator_addresses: &self.settings.facilitator_addresses,
                        };
                        let v = verify::verify_parts(&p, &PaymentRequirements::V2(r), at, &config);
                        v.reason.map(|r| (r, String::from(v.message.as_str())))
                    }
                    _ => Some((Reason::InvalidPayload, String::new())),
                }
            }
            // Verified before the key was known.
            #[cfg(feature = "batch")]
            Some(Presented::Batch { .. }) => None,
            None => Some((Reason::InvalidPayload, String::new())),
        }
    }

    /// Why the payment fails every offline check but its validity window, if
    /// it does: `None` says the payer signed it for this route.
    fn check_any_time(&self) -> Option<(Reason, String)> {
        let Some(Presented::Evm { json, index }) = &self.presented else {
            return Some((Reason::InvalidPayload, String::new()));
        };
        let route = self.route.parsed();
        let req = route.as_ref().and_then(|r| r.accepts.get(*index));
        match (
            PaymentPayload::from_json_bytes(json, &limits(json.len())),
            req,
        ) {
            (Ok(p), Some(r)) => {
                let config = verify::Config {
                    facilitator_addresses: &self.settings.facilitator_addresses,
                };
                let v = verify::verify_parts_any_time(&p, &PaymentRequirements::V2(r), &config);
                v.reason.map(|r| (r, String::from(v.message.as_str())))
            }
            _ => Some((Reason::InvalidPayload, String::new())),
        }
    }

    fn claim(&mut self) {
        let until = self.now.saturating_add(self.settings.claim_seconds);
        let new = self.record(State::Claimed, until, None, "");
        self.swap(Purpose::Claim, Some(new));
    }

    /// Feeds the result of [`Action::Directory`]: the agent's JWK Set, or
    /// `None` if the agent is not one the host recognises.
    pub fn feed_directory(&mut self, jwks: Option<&[u8]>) {
        let Phase::Directory(agent) = &self.phase else {
            return;
        };
        #[cfg(feature = "batch")]
        {
            let agent = agent.clone();
            if let Some(Presented::Batch { directories, .. }) = &mut self.presented {
                directories.push((agent, jwks.map(<[u8]>::to_vec).unwrap_or_default()));
            }
            self.verify_batch();
        }
        #[cfg(not(feature = "batch"))]
        {
            let _ = (agent, jwks);
        }
    }

    /// Feeds the result of [`Action::Swap`]: `Ok(())` when the record was
    /// written, else `Err(current)` (the record as it is now; `None`: absent).
    pub fn feed_swap(&mut self, result: Result<(), Option<&str>>) {
        let Phase::Swap { purpose, new, .. } = &self.phase else {
            return;
        };
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
    pub fn feed_store_error(&mut self, detail: &str) {
        let purpose = match &self.phase {
            Phase::Lookup => None,
            Phase::Swap { purpose, .. } => Some(*purpose),
            _ => return,
        };
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
            Purpose::Claim => self.phase = Phase::Handle { redelivery: None },
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

    fn lost(&mut self, purpose: Purpose) {
        if self.swaps > MAX_SWAPS {
            self.problem(
                500,
                Outcome::StoreError,
                Reason::UnexpectedSettleError,
                "the replay store kept changing under this request",
            );
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

    /// Feeds the handler's result ([`Action::Handle`]).
    pub fn feed_handler(&mut self, result: HandlerResult<'_>) {
        let Phase::Handle { redelivery } = &self.phase else {
            return;
        };
        let redelivery = redelivery.clone();
        let status = match result {
            HandlerResult::Status(s) => s,
            HandlerResult::Failed(_) => 0,
        };
        self.handler_status = status;
        if !(200..300).contains(&status) {
            // Not settled; the payment stays usable.
            let answer = if status == 0 {
                let mut body = Vec::new();
                let _ = (|| {
                    let mut w = ObjectWriter::new(&mut body)?;
                    w.str_field("error", JsonStr::new("handler_failed"))?;
                    w.str_field(
                        "message",
                        JsonStr::new(
                            "the resource could not be produced; the payment was not settled",
                        ),
                    )?;
                    w.end()
                })();
                Answer {
                    status: 500,
                    outcome: Outcome::NotSettled,
                    reason: String::new(),
                    message: "the handler failed; not settled".into(),
                    headers: alloc::vec![
                        ("Content-Type", String::from("application/json")),
                        ("Cache-Control", ANSWER_CACHE_CONTROL.into()),
                    ],
                    body: Some(String::from_utf8(body).unwrap_or_default()),
                    use_handler_response: false,
                }
            } else {
                Answer {
                    status,
                    outcome: Outcome::NotSettled,
                    reason: String::new(),
                    message: format!("the handler answered {status}; not settled"),
                    headers: Vec::new(),
                    body: None,
                    use_handler_response: true,
                }
            };
            self.pending = Some(answer);
            match redelivery {
                Some(pr) => {
                    // Back to settled-undelivered, for a later retry.
                    let new = self.record(State::Settled, 0, Some(&pr), "");
                    self.swap(Purpose::ReleaseDelivery, Some(new));
                }
                None => self.swap(Purpose::Release, None),
            }
            return;
        }
        if let Some(pr) = redelivery {
            let settled = self.seen.clone().unwrap_or_default();
            self.deliver(Outcome::Redelivered, pr, &settled);
            return;
        }
        match &self.presented {
            Some(Presented::Evm { .. }) => {
                let until = self.now.saturating_add(
                    self.settle_timeout_seconds()
                        .saturating_add(self.settings.claim_seconds),
                );
                let new = self.record(State::Settling, until, None, "");
                self.swap(Purpose::MarkSettling, Some(new));
            }
            // The commitment is the payment: recording it is settling it.
            #[cfg(feature = "batch")]
            Some(Presented::Batch { response, .. }) => {
                let pr = response.clone().unwrap_or_default();
                let until = self.now.saturating_add(self.settings.claim_seconds);
                let new = self.record(State::Settled, until, Some(&pr), "");
                self.payment_response = Some(pr);
                self.swap(Purpose::RecordSettled, Some(new));
            }
            None => self.phase = Phase::Done,
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

    fn settle_request(&mut self) {
        let body = match &self.presented {
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
        };
        self.phase = Phase::Settle {
            body,
            timeout_ms: self.settle_timeout_seconds().saturating_mul(1000),
        };
    }

    /// Feeds what came of `POST /settle` ([`Action::Settle`]); `detail` (an
    /// error message, or empty) goes into the record of an uncertain payment.
    pub fn feed_settle(&mut self, reply: SettleReply<'_>, detail: &str) {
        if !matches!(self.phase, Phase::Settle { .. }) {
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

    fn take_answer(&mut self) -> Option<Answer> {
        match core::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Respond { answer, .. } => Some(answer),
            other => {
                self.phase = other;
                None
            }
        }
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
            None => self.phase = Phase::Done,
        }
    }
}

/// Reasons that say only that a payment is outside its validity window.
fn is_window(reason: Reason) -> bool {
    matches!(
        reason,
        Reason::ExactEvmValidBefore
            | Reason::ExactEvmValidAfter
            | Reason::Permit2DeadlineExpired
            | Reason::Permit2NotYetValid
    )
}

fn with_detail(cause: String, detail: &str) -> String {
    if detail.is_empty() {
        cause
    } else {
        format!("{cause}: {detail}")
    }
}

// ---------------------------------------------------------------------------
// JSON form, for bindings

impl Lifecycle {
    /// Starts a lifecycle from JSON (for bindings): `request` is
    /// `{"method", "url", "headers": [[name, value], ...]}`.
    ///
    /// # Errors
    /// `invalid_payload` for a request that is not that object, or settings
    /// [`Settings::from_json`] refuses.
    pub fn from_json(
        route: &Route,
        request_json: &[u8],
        now: u64,
        id: &str,
        settings_json: Option<&[u8]>,
    ) -> Result<Lifecycle, Error> {
        let settings = match settings_json {
            Some(s) => Settings::from_json(s)?,
            None => Settings::default(),
        };
        let v = crate::json::parse(request_json, &limits(256 * 1024))
            .map_err(|k| Error::new(Reason::InvalidPayload, k))?;
        let o = v.as_object().ok_or(bad(
            Reason::InvalidPayload,
            "request must be {method, url, headers}",
        ))?;
        let text = |k: &'static str| {
            o.get(k)
                .and_then(|v| v.as_str())
                .map(|s| s.to_cow().into_owned())
                .ok_or(Error::new(Reason::InvalidPayload, ErrorKind::MissingField).at(k))
        };
        let method = text("method")?;
        let url = text("url")?;
        let mut headers: Vec<(String, String)> = Vec::new();
        let list = o.get("headers").and_then(|h| h.as_array()).ok_or(
            bad(
                Reason::InvalidPayload,
                "headers must be an array of [name, value] pairs",
            )
            .at("headers"),
        )?;
        for h in list.iter() {
            let pair = h.as_array().map(|a| {
                let mut it = a.iter();
                (it.next(), it.next(), it.next())
            });
            let Some((Some(n), Some(v), None)) = pair else {
                return Err(
                    bad(Reason::InvalidPayload, "a header is a [name, value] pair").at("headers"),
                );
            };
            let (Some(n), Some(v)) = (n.as_str(), v.as_str()) else {
                return Err(bad(
                    Reason::InvalidPayload,
                    "a header is a [name, value] pair of strings",
                )
                .at("headers"));
            };
            headers.push((n.to_cow().into_owned(), v.to_cow().into_owned()));
        }
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let request = Request {
            method: &method,
            url: &url,
            headers: &pairs,
        };
        Ok(Lifecycle::new(route, &request, now, id, &settings))
    }

    /// [`Lifecycle::next`] as JSON: `{"action": "lookup", "key"}`,
    /// `{"action": "swap", "key", "expected", "new"}`, `{"action":
    /// "directory", "agent"}`, `{"action": "handle"}`, `{"action": "settle",
    /// "body", "timeoutMs"}`, `{"action": "respond", "status", "outcome",
    /// "reason", "message", "headers": [[name, value]], "body",
    /// "useHandlerResponse"}`, `{"action": "done", "outcome"}`; records and
    /// bodies are JSON texts inside strings.
    #[must_use]
    pub fn next_json(&self) -> String {
        let mut out = Vec::with_capacity(512);
        let opt = |w: &mut ObjectWriter<'_>, k: &str, v: Option<&str>| match v {
            Some(s) => w.str_field(k, JsonStr::new(s)),
            None => {
                w.key(JsonStr::new(k))?;
                w.sink().put(b"null")
            }
        };
        let _ = (|| {
            let mut w = ObjectWriter::new(&mut out)?;
            match self.next() {
                Action::Lookup { key } => {
                    w.str_field("action", JsonStr::new("lookup"))?;
                    w.str_field("key", JsonStr::new(key))?;
                }
                Action::Swap { key, expected, new } => {
                    w.str_field("action", JsonStr::new("swap"))?;
                    w.str_field("key", JsonStr::new(key))?;
                    opt(&mut w, "expected", expected)?;
                    opt(&mut w, "new", new)?;
                }
                Action::Directory { agent } => {
                    w.str_field("action", JsonStr::new("directory"))?;
                    w.str_field("agent", JsonStr::new(agent))?;
                }
                Action::Handle => w.str_field("action", JsonStr::new("handle"))?,
                Action::Settle { body, timeout_ms } => {
                    w.str_field("action", JsonStr::new("settle"))?;
                    w.str_field("body", JsonStr::new(body))?;
                    w.u64_field("timeoutMs", timeout_ms)?;
                }
                Action::Respond(a) => {
                    w.str_field("action", JsonStr::new("respond"))?;
                    w.u64_field("status", u64::from(a.status))?;
                    w.str_field("outcome", JsonStr::new(a.outcome.as_str()))?;
                    w.str_field("reason", JsonStr::new(&a.reason))?;
                    w.str_field("message", JsonStr::new(&a.message))?;
                    w.key(JsonStr::new("headers"))?;
                    let s = w.sink();
                    s.put(b"[")?;
                    for (i, (n, v)) in a.headers.iter().enumerate() {
                        if i > 0 {
                            s.put(b",")?;
                        }
                        s.put(b"[")?;
                        crate::json::write_escaped(s, JsonStr::new(n))?;
                        s.put(b",")?;
                        crate::json::write_escaped(s, JsonStr::new(v))?;
                        s.put(b"]")?;
                    }
                    s.put(b"]")?;
                    opt(&mut w, "body", a.body.as_deref())?;
                    w.bool_field("useHandlerResponse", a.use_handler_response)?;
                }
                Action::Done => {
                    w.str_field("action", JsonStr::new("done"))?;
                    opt(&mut w, "outcome", self.outcome.map(Outcome::as_str))?;
                }
            }
            if let Some(u) = &self.uncertain {
                w.str_field("uncertainRecord", JsonStr::new(u))?;
            }
            w.end()
        })();
        String::from_utf8(out).unwrap_or_default()
    }

    /// Feeds the result of the current action as JSON: `{"record": text|null}`
    /// (lookup), `{"swapped": true}` or `{"swapped": false, "record":
    /// text|null}` (swap), `{"storeError": text}` (lookup or swap: the store
    /// failed), `{"directory": jwks|null}` (the JWK Set as an object
    /// or its text), `{"status": n}` or `{"error": text}` (handle), `{"status":
    /// n, "body": text}`, `{"notSent": text}` or `{"noAnswer": text}` (settle),
    /// `{}` (respond). Any of them may add `"now"`: the host's clock in unix
    /// seconds, given to [`Lifecycle::advance_clock`] first.
    ///
    /// # Errors
    /// `invalid_payload` for a JSON text that is not the answer to the current action.
    pub fn feed_json(&mut self, json: &[u8]) -> Result<(), Error> {
        let v = crate::json::parse(json, &limits(1024 * 1024))
            .map_err(|k| Error::new(Reason::InvalidPayload, k))?;
        let o = v
            .as_object()
            .ok_or(bad(Reason::InvalidPayload, "the answer is an object"))?;
        if let Some(now) = o.get("now") {
            let now = now
                .as_u64()
                .ok_or(bad(Reason::InvalidPayload, "now is unix seconds").at("now"))?;
            self.advance_clock(now);
        }
        let text = |v: Option<JsonValue<'_>>| -> Result<Option<String>, Error> {
            match v {
                None => Ok(None),
                Some(v) if v.is_null() => Ok(None),
                Some(v) => v
                    .as_str()
                    .map(|s| Some(s.to_cow().into_owned()))
                    .ok_or(bad(Reason::InvalidPayload, "must be a string or null")),
            }
        };
        let wrong = || {
            bad(
                Reason::InvalidPayload,
                "not the answer to the current action",
            )
        };
        if let Some(e) = o.get("storeError") {
            if !matches!(self.next(), Action::Lookup { .. } | Action::Swap { .. }) {
                return Err(wrong());
            }
            let e = text(Some(e))?.unwrap_or_default();
            self.feed_store_error(&e);
            return Ok(());
        }
        match self.next() {
            Action::Lookup { .. } => {
                let r = text(Some(o.get("record").ok_or_else(wrong)?))?;
                self.feed_record(r.as_deref());
            }
            Action::Swap { .. } => {
                let ok = o
                    .get("swapped")
                    .and_then(|v| v.as_bool())
                    .ok_or_else(wrong)?;
                if ok {
                    self.feed_swap(Ok(()));
                } else {
                    let r = text(o.get("record"))?;
                    self.feed_swap(Err(r.as_deref()));
                }
            }
            Action::Directory { .. } => {
                let d = o.get("directory").ok_or_else(wrong)?;
                if d.is_null() {
                    self.feed_directory(None);
                } else if let Some(s) = d.as_str() {
                    let s = s.to_cow().into_owned();
                    self.feed_directory(Some(s.as_bytes()));
                } else {
                    self.feed_directory(Some(d.raw().as_bytes()));
                }
            }
            Action::Handle => {
                if let Some(s) = o.get("status") {
                    let s = s.as_u64().and_then(|s| u16::try_from(s).ok()).ok_or(
                        bad(Reason::InvalidPayload, "status is an HTTP status").at("status"),
                    )?;
                    self.feed_handler(HandlerResult::Status(s));
                } else {
                    let e = text(o.get("error"))?.ok_or_else(wrong)?;
                    self.feed_handler(HandlerResult::Failed(&e));
                }
            }
            Action::Settle { .. } => {
                if let Some(why) = text(o.get("notSent"))? {
                    self.feed_settle(SettleReply::NotSent, &why);
                } else if let Some(why) = text(o.get("noAnswer"))? {
                    self.feed_settle(SettleReply::NoAnswer, &why);
                } else {
                    let status = o
                        .get("status")
                        .and_then(|s| s.as_u64())
                        .and_then(|s| u16::try_from(s).ok())
                        .ok_or_else(wrong)?;
                    let body = text(o.get("body"))?.unwrap_or_default();
                    self.feed_settle(
                        SettleReply::Answered {
                            status,
                            body: body.as_bytes(),
                        },
                        "",
                    );
                }
            }
            Action::Respond(_) => self.responded(),
            Action::Done => return Err(wrong()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
