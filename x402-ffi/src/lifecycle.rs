//! The paid-request lifecycle of a resource server: the core's host-driven
//! state machine ([`paywire::lifecycle::Lifecycle`]) behind an opaque handle.
//!
//! The core decides everything about a payment (which of the route's
//! requirements it pays, verification, its replay record, when to settle, how
//! a facilitator's reply reads, what to answer); the host does the I/O it asks
//! for and feeds the results back. Steps go out as JSON
//! ([`Lifecycle::next_json`]), results come back as JSON
//! ([`Lifecycle::feed_json`]), except a facilitator's reply to `POST /settle`
//! or `POST /verify`, which comes back as the raw bytes it was
//! ([`paywire_lifecycle_feed_settle`], [`paywire_lifecycle_feed_verify`]): a
//! body that is not UTF-8 must reach the core as it is, to be read as what it
//! is (not a SettleResponse, not a VerifyResponse).

use std::ffi::c_char;

use paywire::lifecycle::{
    Action, Lifecycle, Route, Settings, SettleReply, record_forgettable, record_info,
};

use crate::boundary::{Failure, Out, Report, Slot, boundary, bytes, optional, text};
use crate::result::paywire_result;

/// What became of a `POST /settle` or `POST /verify`, for
/// `paywire_lifecycle_feed_settle` and `paywire_lifecycle_feed_verify` (passed
/// as `uint32_t`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum paywire_settle_reply {
    /// A complete HTTP answer arrived: its status and its whole body.
    Answered = 0,
    /// The request certainly never reached the facilitator: the connection
    /// was refused, the name did not resolve, the URL is unusable. Nothing can
    /// have settled.
    NotSent = 1,
    /// The request was sent, or may have been, and no complete answer came: a
    /// timeout, a reset, a body cut short. Settlement may have happened.
    NoAnswer = 2,
}

/// One paid request's lifecycle on a resource server (opaque).
#[allow(non_camel_case_types)]
pub struct paywire_lifecycle {
    life: Lifecycle,
}

/// Borrows a live handle.
///
/// # Safety
/// `lifecycle` is NULL, or a handle from `paywire_lifecycle_new` not yet freed,
/// and not used mutably during `'a`.
unsafe fn borrow<'a>(lifecycle: *const paywire_lifecycle) -> Result<&'a Lifecycle, Failure> {
    // SAFETY: when not NULL, a live handle (a `Box` of ours) that nothing
    // changes during `'a` (the caller's promise).
    let handle = unsafe { lifecycle.as_ref() };
    handle
        .map(|h| &h.life)
        .ok_or_else(|| paywire_result::NullParameter.into())
}

/// Borrows a live handle mutably.
///
/// # Safety
/// `lifecycle` is NULL, or a handle from `paywire_lifecycle_new` not yet freed,
/// and not used otherwise during `'a`.
unsafe fn borrow_mut<'a>(lifecycle: *mut paywire_lifecycle) -> Result<&'a mut Lifecycle, Failure> {
    // SAFETY: when not NULL, a live handle (a `Box` of ours) that nothing else
    // uses during `'a` (the caller's promise).
    let handle = unsafe { lifecycle.as_mut() };
    handle
        .map(|h| &mut h.life)
        .ok_or_else(|| paywire_result::NullParameter.into())
}

fn read_route(json: &[u8]) -> Result<Route, Failure> {
    Route::from_json(json).map_err(|e| Failure::core(&e))
}

fn read_settings(json: Option<&[u8]>) -> Result<(), Failure> {
    match json {
        None => Ok(()),
        Some(json) => Settings::from_json(json)
            .map(|_| ())
            .map_err(|e| Failure::setting(paywire_result::InvalidConfig, "lifecycle settings", &e)),
    }
}

/// Checks a route's document, as `paywire_lifecycle_new` reads it: a
/// PaymentRequired of x402 version 2 (`resource`, `accepts`, `extensions`)
/// whose requirements are `exact` or `upto` on an `eip155` network (asset and
/// `payTo` addresses), `batch-settlement` on an `eip155` network (with
/// `extra.receiverAuthorizer` and `extra.withdrawDelay`) or on
/// `cloudflare:402`. For hosts
/// that read their routes once, at start-up, and want a bad one refused then.
/// A document the lifecycle cannot sell is
/// `PAYWIRE_RESULT_INVALID_PAYMENT_REQUIREMENTS` (or the code of what else
/// is wrong with it), described in `err_buf`, its reason in `reason_buf`.
///
/// # Safety
/// `route_json` is valid for `route_len` bytes of reads; `err_buf` and
/// `reason_buf`, when not NULL, for `err_cap` and `reason_cap` bytes of writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn paywire_route_check(
    route_json: *const u8,
    route_len: usize,
    err_buf: *mut c_char,
    err_cap: usize,
    reason_buf: *mut c_char,
    reason_cap: usize,
) -> paywire_result {
    // SAFETY: `err_buf` and `reason_buf` follow this function's contract.
    let report = unsafe { Report::new(err_buf, err_cap, reason_buf, reason_cap) };
    boundary(report, || {
        // SAFETY: `route_json` follows this function's contract.
        let route = unsafe { bytes(route_json, route_len) }?;
        read_route(route).map(|_| ())
    })
}

/// Starts the lifecycle of one request on a paid route, at unix time
/// `now_unix`, and writes a new handle to `*out_lifecycle`; free it with
/// `paywire_lifecycle_free`.
///
/// - `route_json`: the route's PaymentRequired (see `paywire_route_check`): the
///   route's own requirements decide price, `payTo`, asset, network and
///   scheme; a payment's `accepted` only selects one of them.
/// - `request_json`: `{"method": "GET", "url": "https://host/path?q", "headers":
///   [["name", "value"], ...]}`, every header line of the request, in order
///   (the full URL: `batch-settlement` signatures cover its authority).
/// - `id`: text unique to this request (a counter, a random hex string),
///   written into the records it makes.
/// - `settings_json` may be NULL (defaults), or `{"settleTimeoutSeconds": 30,
///   "claimSeconds": 60, "retryAfterSeconds": 2, "facilitatorAddresses":
///   ["0x..."], "verifyAtFacilitator": false}` (every member optional; an
///   unknown member is refused; with `verifyAtFacilitator`, every `eip155`
///   payment is also verified through the facilitator's `/verify` before its
///   handler runs).
///
/// A request without a payment, or with one that does not verify, is not an
/// error: its first step is then the 402 to send. A route the lifecycle cannot
/// sell is `PAYWIRE_RESULT_INVALID_PAYMENT_REQUIREMENTS` (or the code of what
/// else is wrong with it), a request that is not that object
/// `PAYWIRE_RESULT_INVALID_PAYLOAD`, bad settings `PAYWIRE_RESULT_INVALID_CONFIG`.
///
/// # Safety
/// `route_json` is valid for `route_len` bytes of reads, `request_json` for
/// `request_len`, `id` for `id_len`, `settings_json` (when not NULL) for
/// `settings_len`; `out_lifecycle` for one write; `err_buf` and `reason_buf`,
/// when not NULL, for `err_cap` and `reason_cap` bytes of writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn paywire_lifecycle_new(
    route_json: *const u8,
    route_len: usize,
    request_json: *const u8,
    request_len: usize,
    now_unix: u64,
    id: *const c_char,
    id_len: usize,
    settings_json: *const u8,
    settings_len: usize,
    out_lifecycle: *mut *mut paywire_lifecycle,
    err_buf: *mut c_char,
    err_cap: usize,
    reason_buf: *mut c_char,
    reason_cap: usize,
) -> paywire_result {
    // SAFETY: `err_buf` and `reason_buf` follow this function's contract.
    let report = unsafe { Report::new(err_buf, err_cap, reason_buf, reason_cap) };
    boundary(report, || {
        // SAFETY: `route_json` follows this function's contract.
        let route = unsafe { bytes(route_json, route_len) }?;
        // SAFETY: `request_json` follows this function's contract.
        let request = unsafe { bytes(request_json, request_len) }?;
        // SAFETY: `id` follows this function's contract.
        let id = unsafe { text(id, id_len) }?;
        // SAFETY: `settings_json` follows this function's contract.
        let settings = unsafe { optional(settings_json, settings_len) }?;
        // SAFETY: `out_lifecycle` follows this function's contract.
        let out_lifecycle = unsafe { Slot::new(out_lifecycle) }?;
        let route = read_route(route)?;
        // Settings are the host's, not a peer's document: refused as a config.
        read_settings(settings)?;
        let life = Lifecycle::from_json(&route, request, now_unix, id, settings)
            .map_err(|e| Failure::core(&e))?;
        out_lifecycle.set(Box::into_raw(Box::new(paywire_lifecycle { life })));
        Ok(())
    })
}

/// Writes what the host must do next, as JSON (UTF-8, not NUL-terminated):
///
/// - `{"action":"lookup","key"}`: read the record of `key` in the replay store;
/// - `{"action":"swap","key","expected","new"}`: set the record of `key` to
///   `new` (null: remove it) only if it is `expected` (null: absent),
///   atomically, and answer whether it did (and, if not, what is there);
/// - `{"action":"directory","agent"}`: the key directory of a
///   `batch-settlement` agent;
/// - `{"action":"handle"}`: run the resource's handler, holding its response back;
/// - `{"action":"verify","body","timeoutMs"}`: `POST` `body` (JSON) to the
///   facilitator's `/verify`, waiting at most `timeoutMs`; then
///   `paywire_lifecycle_feed_verify`;
/// - `{"action":"settle","body","timeoutMs"}`: `POST` `body` (JSON) to the
///   facilitator's `/settle`, waiting at most `timeoutMs`; then
///   `paywire_lifecycle_feed_settle`;
/// - `{"action":"respond","status","outcome","reason","message","headers":
///   [[name, value]],"body","useHandlerResponse"}`: send this answer (with
///   `useHandlerResponse`, the held response with `headers` set over its own,
///   replacing those of the same name), then feed `{}`;
/// - `{"action":"done","outcome"}`: nothing more.
///
/// Records and bodies are JSON texts inside strings. A step may carry
/// `"uncertainRecord"`: the record of a payment whose settlement is uncertain,
/// for the host's log of payments to reconcile. The call does not change the
/// lifecycle: it may be repeated (a size query, then a call with a buffer of
/// that size).
///
/// # Safety
/// `lifecycle` is a live handle; `out` is valid for `out_cap` bytes of writes
/// (or NULL when `out_cap` is 0); `out_len` for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn paywire_lifecycle_next(
    lifecycle: *const paywire_lifecycle,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> paywire_result {
    boundary(Report::NONE, || {
        // SAFETY: `lifecycle` follows this function's contract.
        let life = unsafe { borrow(lifecycle) }?;
        // SAFETY: `out` and `out_len` follow this function's contract.
        let out = unsafe { Out::new(out, out_cap, out_len) }?;
        out.put(life.next_json().as_bytes())
    })
}

/// Feeds the result of the current step, as JSON: `{"record": text|null}`
/// (lookup), `{"swapped": true}` or `{"swapped": false, "record": text|null}`
/// (swap), `{"storeError": text}` (lookup or swap: the store failed),
/// `{"directory": jwks|null}` (directory), `{"status": n}` or `{"error": text}`
/// (handle: the handler's status, or why it failed), `{"status": n, "body":
/// text}`, `{"notSent": text}` or `{"noAnswer": text}` (settle and verify;
/// but prefer `paywire_lifecycle_feed_settle` and
/// `paywire_lifecycle_feed_verify`, which take the body as bytes), `{}`
/// (respond). Any of them may add `"now"`: the host's clock in unix seconds
/// once the step is over (after the handler, after settlement), from which
/// the leases written next run.
///
/// A result that is not the answer to the current step is
/// `PAYWIRE_RESULT_INVALID_PAYLOAD` and leaves the lifecycle at that step.
///
/// # Safety
/// `lifecycle` is a live handle not used concurrently; `result_json` is valid
/// for `result_len` bytes of reads; `err_buf` and `reason_buf`, when not NULL,
/// for `err_cap` and `reason_cap` bytes of writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn paywire_lifecycle_feed(
    lifecycle: *mut paywire_lifecycle,
    result_json: *const u8,
    result_len: usize,
    err_buf: *mut c_char,
    err_cap: usize,
    reason_buf: *mut c_char,
    reason_cap: usize,
) -> paywire_result {
    // SAFETY: `err_buf` and `reason_buf` follow this function's contract.
    let report = unsafe { Report::new(err_buf, err_cap, reason_buf, reason_cap) };
    boundary(report, || {
        // SAFETY: `lifecycle` follows this function's contract.
        let life = unsafe { borrow_mut(lifecycle) }?;
        // SAFETY: `result_json` follows this function's contract.
        let result = unsafe { bytes(result_json, result_len) }?;
        life.feed_json(result).map_err(|e| Failure::core(&e))
    })
}

/// Feeds what came of the `POST /settle` the current step asked for: `reply`
/// is a `paywire_settle_reply`; with `PAYWIRE_SETTLE_REPLY_ANSWERED`, `status`
/// and the whole `body` as received (any bytes: the core reads them, a body
/// that is not a SettleResponse included); otherwise `status` and `body` are
/// ignored. `detail` (may be NULL) says what happened, for the record of an
/// uncertain payment (`"connection refused"`, `"timed out after 30 s"`).
/// `now_unix` is the host's clock once the reply came (0: unchanged), from
/// which the leases written next run.
///
/// Only `PAYWIRE_SETTLE_REPLY_NOT_SENT` lets the same payment be presented
/// again: use it only when the request certainly never left (the connection
/// was never made). Anything after the connection was made is `NO_ANSWER` or
/// `ANSWERED`.
///
/// When the current step is not `settle`, or `reply` is unknown, the call is
/// `PAYWIRE_RESULT_INVALID_ARGUMENT` and leaves the lifecycle as it was.
///
/// # Safety
/// `lifecycle` is a live handle not used concurrently; `body` is valid for
/// `body_len` bytes of reads (it may be NULL when `body_len` is 0); `detail`,
/// when not NULL, for `detail_len`; `err_buf`, when not NULL, for `err_cap`
/// bytes of writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn paywire_lifecycle_feed_settle(
    lifecycle: *mut paywire_lifecycle,
    reply: u32,
    status: u16,
    body: *const u8,
    body_len: usize,
    detail: *const c_char,
    detail_len: usize,
    now_unix: u64,
    err_buf: *mut c_char,
    err_cap: usize,
) -> paywire_result {
    // SAFETY: every pointer follows this function's contract, which is
    // `feed_reply`'s.
    unsafe {
        feed_reply(
            Facilitated::Settle,
            lifecycle,
            reply,
            status,
            body,
            body_len,
            detail,
            detail_len,
            now_unix,
            err_buf,
            err_cap,
        )
    }
}

/// Feeds what came of the `POST /verify` the current step asked for (a
/// `batch-settlement` deposit, refund or voucher on an `eip155` network, or
/// any `eip155` payment with the setting `"verifyAtFacilitator": true`):
/// `reply` is a `paywire_settle_reply` (the same three outcomes); with
/// `PAYWIRE_SETTLE_REPLY_ANSWERED`, `status` and the whole `body` as received
/// (any bytes: the core reads them); otherwise `status` and `body` are
/// ignored. `detail` (may be NULL) says what happened; `now_unix` is the
/// host's clock once the reply came (0: unchanged).
///
/// Nothing is charged by a verification, and the handler runs only after a
/// valid one: a payment the facilitator finds invalid is answered 402 with its
/// reason; a facilitator not reached, not answering, or answering something
/// other than a 2xx VerifyResponse, 502 (outcome `facilitatorUnavailable`),
/// and the same payment may be presented again.
///
/// When the current step is not `verify`, or `reply` is unknown, the call is
/// `PAYWIRE_RESULT_INVALID_ARGUMENT` and leaves the lifecycle as it was.
///
/// # Safety
/// `lifecycle` is a live handle not used concurrently; `body` is valid for
/// `body_len` bytes of reads (it may be NULL when `body_len` is 0); `detail`,
/// when not NULL, for `detail_len`; `err_buf`, when not NULL, for `err_cap`
/// bytes of writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn paywire_lifecycle_feed_verify(
    lifecycle: *mut paywire_lifecycle,
    reply: u32,
    status: u16,
    body: *const u8,
    body_len: usize,
    detail: *const c_char,
    detail_len: usize,
    now_unix: u64,
    err_buf: *mut c_char,
    err_cap: usize,
) -> paywire_result {
    // SAFETY: every pointer follows this function's contract, which is
    // `feed_reply`'s.
    unsafe {
        feed_reply(
            Facilitated::Verify,
            lifecycle,
            reply,
            status,
            body,
            body_len,
            detail,
            detail_len,
            now_unix,
            err_buf,
            err_cap,
        )
    }
}

/// The facilitator call whose reply is fed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Facilitated {
    Settle,
    Verify,
}

/// Feeds a facilitator's reply to the step `call`.
///
/// # Safety
/// As `paywire_lifecycle_feed_settle`.
#[allow(clippy::too_many_arguments)]
unsafe fn feed_reply(
    call: Facilitated,
    lifecycle: *mut paywire_lifecycle,
    reply: u32,
    status: u16,
    body: *const u8,
    body_len: usize,
    detail: *const c_char,
    detail_len: usize,
    now_unix: u64,
    err_buf: *mut c_char,
    err_cap: usize,
) -> paywire_result {
    // SAFETY: `err_buf` follows the caller's contract; there is no reason buffer.
    let report = unsafe { Report::new(err_buf, err_cap, std::ptr::null_mut(), 0) };
    boundary(report, || {
        // SAFETY: `lifecycle` follows the caller's contract.
        let life = unsafe { borrow_mut(lifecycle) }?;
        // SAFETY: `body` follows the caller's contract (NULL only with length 0).
        let body = unsafe { optional(body, body_len) }?;
        // SAFETY: `detail` follows the caller's contract.
        let detail = unsafe { optional(detail.cast::<u8>(), detail_len) }?;
        let body = match body {
            Some(b) => b,
            None if body_len == 0 => &[],
            None => return Err(paywire_result::NullParameter.into()),
        };
        let detail = match detail {
            Some(d) => std::str::from_utf8(d)
                .map_err(|_| Failure::new(paywire_result::InvalidUtf8, "detail is not UTF-8"))?,
            None => "",
        };
        let reply = match reply {
            r if r == paywire_settle_reply::Answered as u32 => {
                SettleReply::Answered { status, body }
            }
            r if r == paywire_settle_reply::NotSent as u32 => SettleReply::NotSent,
            r if r == paywire_settle_reply::NoAnswer as u32 => SettleReply::NoAnswer,
            _ => {
                return Err(Failure::new(
                    paywire_result::InvalidArgument,
                    "unknown paywire_settle_reply",
                ));
            }
        };
        let at_step = matches!(
            (call, life.next()),
            (Facilitated::Settle, Action::Settle { .. })
                | (Facilitated::Verify, Action::Verify { .. })
        );
        if !at_step {
            return Err(Failure::new(
                paywire_result::InvalidArgument,
                match call {
                    Facilitated::Settle => "the current step is not settle",
                    Facilitated::Verify => "the current step is not verify",
                },
            ));
        }
        life.advance_clock(now_unix);
        match call {
            Facilitated::Settle => life.feed_settle(reply, detail),
            Facilitated::Verify => life.feed_verify(reply, detail),
        }
        Ok(())
    })
}

/// Writes the payment's replay key (the key of its record in the store) once
/// the lifecycle knows it, else nothing (`*out_len` is 0). UTF-8, not
/// NUL-terminated.
///
/// # Safety
/// `lifecycle` is a live handle; `out` is valid for `out_cap` bytes of writes
/// (or NULL when `out_cap` is 0); `out_len` for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn paywire_lifecycle_key(
    lifecycle: *const paywire_lifecycle,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> paywire_result {
    boundary(Report::NONE, || {
        // SAFETY: `lifecycle` follows this function's contract.
        let life = unsafe { borrow(lifecycle) }?;
        // SAFETY: `out` and `out_len` follow this function's contract.
        let out = unsafe { Out::new(out, out_cap, out_len) }?;
        out.put(life.key().unwrap_or_default().as_bytes())
    })
}

/// Writes the verification verdict (a VerifyResponse, JSON) once the payment
/// was verified, for the host's log; else nothing (`*out_len` is 0). Ask its
/// size first: a `batch-settlement` verdict is not one of the verify
/// functions', which `PAYWIRE_VERIFY_RESPONSE_MAX` bounds.
///
/// # Safety
/// `lifecycle` is a live handle; `out` is valid for `out_cap` bytes of writes
/// (or NULL when `out_cap` is 0); `out_len` for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn paywire_lifecycle_verdict(
    lifecycle: *const paywire_lifecycle,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> paywire_result {
    boundary(Report::NONE, || {
        // SAFETY: `lifecycle` follows this function's contract.
        let life = unsafe { borrow(lifecycle) }?;
        // SAFETY: `out` and `out_len` follow this function's contract.
        let out = unsafe { Out::new(out, out_cap, out_len) }?;
        out.put(life.verdict_json().unwrap_or_default().as_bytes())
    })
}

/// Releases a handle from `paywire_lifecycle_new`. NULL is accepted and
/// ignored. Freeing a lifecycle before it is done abandons the request: the
/// records it wrote stay as they are (a claim expires after `claimSeconds`,
/// a `settling` record becomes uncertain when the payment is presented again).
///
/// # Safety
/// `lifecycle` is NULL or a handle not yet freed, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn paywire_lifecycle_free(lifecycle: *mut paywire_lifecycle) {
    if lifecycle.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: a pointer from `Box::into_raw` in `paywire_lifecycle_new`,
        // not yet freed and not used afterwards (this function's contract).
        drop(unsafe { Box::from_raw(lifecycle) });
    }));
}

/// Writes what a host may show of a record the lifecycle wrote (to list the
/// payments to reconcile), as JSON: `{"state", "payer", "nonce", "amount",
/// "network", "asset", "route", "time", "expires"?, "cause"?, "transaction"?,
/// "paymentResponse"?}`; `state` is `claimed`, `settling`, `settled`,
/// `delivered` or `uncertain`. A text that is not such a record is
/// `PAYWIRE_RESULT_INVALID_PAYLOAD`.
///
/// # Safety
/// `record` is valid for `record_len` bytes of reads; `out` for `out_cap`
/// bytes of writes (or NULL when `out_cap` is 0); `out_len` for one write;
/// `err_buf` and `reason_buf`, when not NULL, for `err_cap` and `reason_cap`
/// bytes of writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn paywire_record_info(
    record: *const c_char,
    record_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err_buf: *mut c_char,
    err_cap: usize,
    reason_buf: *mut c_char,
    reason_cap: usize,
) -> paywire_result {
    // SAFETY: `err_buf` and `reason_buf` follow this function's contract.
    let report = unsafe { Report::new(err_buf, err_cap, reason_buf, reason_cap) };
    boundary(report, || {
        // SAFETY: `record` follows this function's contract.
        let record = unsafe { text(record, record_len) }?;
        // SAFETY: `out` and `out_len` follow this function's contract.
        let out = unsafe { Out::new(out, out_cap, out_len) }?;
        let info = record_info(record).map_err(|e| Failure::core(&e))?;
        out.put_json(&info)
    })
}

/// Writes to `*forgettable` whether a replay store may forget this record at
/// `now_unix` (1) or must keep it (0): 1 only for a record that holds nothing
/// anyone is owed or must reconcile (`delivered`, or a claim whose holder is
/// gone before settling) and whose payment's signature has expired, so that it
/// can no longer be presented. Never for an `uncertain`, `settling` or
/// `settled` record, one without a known expiry, or a `batch-settlement`
/// commitment. A text that is not a record is kept (0).
///
/// # Safety
/// `record` is valid for `record_len` bytes of reads; `forgettable` for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn paywire_record_forgettable(
    record: *const c_char,
    record_len: usize,
    now_unix: u64,
    forgettable: *mut u8,
) -> paywire_result {
    boundary(Report::NONE, || {
        // SAFETY: `record` follows this function's contract.
        let record = unsafe { bytes(record.cast::<u8>(), record_len) }?;
        // SAFETY: `forgettable` follows this function's contract.
        let forgettable = unsafe { Slot::new(forgettable) }?;
        let text = std::str::from_utf8(record).unwrap_or("");
        forgettable.set(u8::from(record_forgettable(text, now_unix)));
        Ok(())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const ROUTE: &str = r#"{"x402Version":2,"resource":{"url":"https://example.com/r"},"accepts":[{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}]}"#;
    const REQUEST: &str = r#"{"method":"GET","url":"https://example.com/r","headers":[]}"#;

    fn start(settings: Option<&str>) -> (paywire_result, *mut paywire_lifecycle) {
        let mut life: *mut paywire_lifecycle = std::ptr::null_mut();
        let id = "t";
        let (s, sl) = settings.map_or((std::ptr::null(), 0), |s| (s.as_ptr(), s.len()));
        // SAFETY: every pointer is to a live local of the right size, or NULL where allowed.
        let r = unsafe {
            paywire_lifecycle_new(
                ROUTE.as_ptr(),
                ROUTE.len(),
                REQUEST.as_ptr(),
                REQUEST.len(),
                1_750_000_000,
                id.as_ptr().cast(),
                id.len(),
                s,
                sl,
                &mut life,
                std::ptr::null_mut(),
                0,
                std::ptr::null_mut(),
                0,
            )
        };
        (r, life)
    }

    #[test]
    fn an_unpaid_request_answers_402_and_is_done() {
        let (r, life) = start(Some(r#"{"claimSeconds":5}"#));
        assert_eq!(r, paywire_result::Ok);
        let mut out = [0u8; 4096];
        let mut len = 0usize;
        // SAFETY: a live handle and local buffers.
        let r = unsafe { paywire_lifecycle_next(life, out.as_mut_ptr(), out.len(), &mut len) };
        assert_eq!(r, paywire_result::Ok);
        assert!(out[..len].starts_with(br#"{"action":"respond","status":402,"#));
        // Settling now is out of turn: refused, nothing changes.
        // SAFETY: as above; a NULL body with length 0.
        let r = unsafe {
            paywire_lifecycle_feed_settle(
                life,
                paywire_settle_reply::NoAnswer as u32,
                0,
                std::ptr::null(),
                0,
                std::ptr::null(),
                0,
                0,
                std::ptr::null_mut(),
                0,
            )
        };
        assert_eq!(r, paywire_result::InvalidArgument);
        // So is a verification, and a reply of no known kind.
        for reply in [paywire_settle_reply::Answered as u32, 7] {
            let body = br#"{"isValid":true}"#;
            // SAFETY: as above; a live body of its length.
            let r = unsafe {
                paywire_lifecycle_feed_verify(
                    life,
                    reply,
                    200,
                    body.as_ptr(),
                    body.len(),
                    std::ptr::null(),
                    0,
                    0,
                    std::ptr::null_mut(),
                    0,
                )
            };
            assert_eq!(r, paywire_result::InvalidArgument);
        }
        let done = b"{}";
        // SAFETY: as above.
        let r = unsafe {
            paywire_lifecycle_feed(
                life,
                done.as_ptr(),
                done.len(),
                std::ptr::null_mut(),
                0,
                std::ptr::null_mut(),
                0,
            )
        };
        assert_eq!(r, paywire_result::Ok);
        // SAFETY: as above.
        let r = unsafe { paywire_lifecycle_next(life, out.as_mut_ptr(), out.len(), &mut len) };
        assert_eq!(r, paywire_result::Ok);
        assert_eq!(
            &out[..len],
            br#"{"action":"done","outcome":"paymentRequired"}"#
        );
        // No payment: no key, no verdict.
        // SAFETY: as above.
        let r = unsafe { paywire_lifecycle_key(life, out.as_mut_ptr(), out.len(), &mut len) };
        assert_eq!((r, len), (paywire_result::Ok, 0));
        // SAFETY: a live handle, not used afterwards.
        unsafe { paywire_lifecycle_free(life) };
        // SAFETY: NULL is accepted.
        unsafe { paywire_lifecycle_free(std::ptr::null_mut()) };
    }

    #[test]
    fn bad_settings_are_a_config_error_and_no_handle() {
        let (r, life) = start(Some(r#"{"claim":5}"#));
        assert_eq!(r, paywire_result::InvalidConfig);
        assert!(life.is_null());
    }
}
