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
//!     true` without a transaction ([`settlement_has_transaction`]), a 408 or 409, or
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
//! # `batch-settlement` on EVM (feature `evm-batch`)
//! A payment on a channel of the x402 batch-settlement contract (`deposit`,
//! `voucher` or `refund`), judged by
//! [`evm::batch_settlement::server`](crate::evm::batch_settlement::server):
//! - **One record per channel**, under `batch-settlement/{network}/{channelId}`
//!   in the same store, read with [`Action::Lookup`] and changed only by
//!   [`Action::Swap`] against the record read: the swap is the channel's
//!   serialization across threads, processes and Worker locations. A swap
//!   that loses answers 402 `invalid_batch_settlement_evm_channel_busy`
//!   (as the reference does) and delivers nothing; the client pays again on
//!   the channel's new state.
//! - **A voucher** checked here (one signature recovery against the mirrored
//!   on-chain state, trusted for a third of the channel's withdraw delay,
//!   30 s to 5 min) runs the handler with its response held back; only a 2xx
//!   response commits the charge, and the commit is the payment: the
//!   response is released, with a `PAYMENT-RESPONSE` whose `extra` is the
//!   channel's state and the charge, only once the swap succeeded. No
//!   facilitator call, no transaction. A handler that fails commits nothing.
//! - **The facilitator verifies** ([`Action::Verify`]) a deposit, a refund,
//!   and a voucher whose mirrored state is stale or absent; the record is
//!   then read again and judged with the verified state.
//! - **One settlement at a time per channel.** A deposit (before the
//!   facilitator verifies it) and a refund (before it settles) first claim
//!   the channel: a claim record under
//!   `batch-settlement/{network}/{channelId}/claim`, written by [`Action::Swap`]
//!   only where there is none (or one whose lease, the claim time plus twice
//!   the settlement timeout, has passed), and given back by a last swap after
//!   the answer went out. A presentation while another holds it answers 409
//!   `payment_in_progress` and reaches no facilitator, so one deposit
//!   presented many times at once is verified and settled once. An uncertain
//!   settlement keeps its claim until the lease ends.
//! - **A deposit** runs the handler, then settles through the facilitator
//!   ([`Action::Settle`]), then commits; its response is released only after
//!   both. A refused settlement answers 402 with the facilitator's reason; a
//!   facilitator never reached, 502 `facilitator_unavailable`; an uncertain
//!   one (the rules above, and a `success: true` without a transaction)
//!   502 `settlement_uncertain`, with a record to reconcile under
//!   `batch-settlement/{network}/{channelId}/uncertain/{request id}`. A deposit
//!   settled whose commit loses or fails answers 409 or 503 with its
//!   `PAYMENT-RESPONSE`, never a 402.
//! - **A refund** runs no handler: it settles through the facilitator with the
//!   members the server adds (`amount` when the client gave none,
//!   `refundNonce`, the claim of what was charged; the facilitator signs as
//!   the channels' receiver authorizer), then the record is updated (or
//!   removed when nothing is left above the charged total); the answer is
//!   200 `{}` with the settlement's `PAYMENT-RESPONSE`.
//! - **The price** is the route's `amount` (the most a voucher covers), or
//!   less when the handler says so with `Settlement-Overrides`
//!   ([`SETTLEMENT_OVERRIDES_HEADER`]); never more.
//! - A voucher that does not sign the charged total plus `amount` gets the
//!   corrective 402: `invalid_batch_settlement_evm_cumulative_amount_mismatch`
//!   with `extra.channelState` and `extra.voucherState` added to the matching
//!   `accepts` entry.
//! - A store that fails answers 503
//!   `invalid_batch_settlement_evm_verification_state_unavailable` and delivers
//!   nothing.
//!
//! The channel manager's work (claiming vouchers, sweeping, refunding idle
//! channels) is the host's, through the facilitator; the requests for
//! claiming and sweeping are
//! [`evm::batch_settlement::manager`](crate::evm::batch_settlement::manager)'s.
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

// One concern per file: the inputs (`route`), the machine's state and its
// host-facing surface (`machine`, `answer`, `json`), each step (`presented`
// and `batch` read and verify the payment, `store` talks to the replay store,
// `settlement` runs the handler and settles), the record format (`record`),
// and the reading of a facilitator's reply (`classify`).
mod answer;
#[cfg(feature = "batch")]
mod batch;
mod classify;
#[cfg(feature = "evm-batch")]
mod evm_batch;
mod json;
mod machine;
mod presented;
mod record;
mod route;
mod settlement;
mod store;

pub use answer::{ANSWER_CACHE_CONTROL, Action, Answer, Outcome, PAID_CACHE_CONTROL};
pub use classify::{
    SettleReply, Settled, classify_settle_reply, extension_responses_summary,
    settlement_has_transaction,
};
#[cfg(feature = "evm-batch")]
pub use evm_batch::held_channel_claim;
pub use machine::Lifecycle;
pub use record::{RecordInfo, record_forgettable, record_info};
pub use route::{HandlerResult, Request, Route, Settings, Transport};
pub use settlement::{SETTLEMENT_OVERRIDES_HEADER, settlement_charge};

use crate::error::{Error, ErrorKind, Reason};
use crate::json::Limits;
use crate::types::v2;

/// The default JSON limits with another maximum length.
fn limits(max_len: usize) -> Limits {
    Limits {
        max_len,
        ..Limits::DEFAULT
    }
}

/// An error for an invalid input.
fn bad(reason: Reason, why: &'static str) -> Error {
    Error::new(reason, ErrorKind::Invalid(why))
}

#[cfg(feature = "batch")]
const BATCH_SCHEME: &str = crate::batch::SCHEME;
#[cfg(not(feature = "batch"))]
const BATCH_SCHEME: &str = "batch-settlement";
#[cfg(feature = "batch")]
const BATCH_NETWORK: &str = crate::batch::NETWORK;
#[cfg(not(feature = "batch"))]
const BATCH_NETWORK: &str = "cloudflare:402";

/// Whether a requirement is `batch-settlement` (on any network).
fn is_batch(r: &v2::PaymentRequirements<'_>) -> bool {
    r.scheme == BATCH_SCHEME
}

/// Whether a requirement is `batch-settlement` on an EVM network.
fn is_evm_batch(r: &v2::PaymentRequirements<'_>) -> bool {
    is_batch(r) && r.network.namespace() == Some("eip155")
}

#[cfg(test)]
mod tests;
#[cfg(all(test, feature = "evm-batch"))]
mod tests_evm_batch;
