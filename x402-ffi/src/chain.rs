//! Verification with the chain and settlement: the core's host-driven state
//! machine ([`paywire::settle::Machine`]) behind an opaque handle.
//!
//! The host makes the JSON-RPC calls: `paywire_chain_next` writes the next request
//! body (or, once done, the VerifyResponse / SettleResponse), the host POSTs it
//! to its node and hands the response body to `paywire_chain_feed`. This is the one
//! part of the API that keeps state between calls, so it is the one that
//! allocates: `paywire_chain_free` releases the handle.

use std::ffi::c_char;

use paywire::evm::PrivateKey;
use paywire::settle::{Machine, Options, Step};

use crate::boundary::{Failure, Out, Report, Slot, array32, boundary, bytes, optional};
use crate::read_config;
use crate::result::paywire_result;

/// A verification with the chain, or a settlement, in progress (opaque).
#[allow(non_camel_case_types)]
pub struct paywire_chain {
    machine: Machine,
}

fn read_options(options_json: Option<&[u8]>) -> Result<Options, Failure> {
    match options_json {
        None => Ok(Options::default()),
        Some(json) => Options::from_json(json)
            .map_err(|e| Failure::setting(paywire_result::InvalidConfig, "chain options", &e)),
    }
}

/// Hands a new handle to the caller, who frees it with `paywire_chain_free`.
fn hand_out(machine: Machine, out_chain: Slot<'_, *mut paywire_chain>) {
    out_chain.set(Box::into_raw(Box::new(paywire_chain { machine })));
}

/// Borrows a live handle.
///
/// # Safety
/// `chain` is NULL, or a handle from `paywire_chain_verify_new` or
/// `paywire_chain_settle_new` not yet freed, and not used mutably during `'a`.
unsafe fn borrow<'a>(chain: *const paywire_chain) -> Result<&'a paywire_chain, Failure> {
    // SAFETY: when not NULL, a live handle (a `Box` of ours) that nothing
    // changes during `'a` (the caller's promise).
    unsafe { chain.as_ref() }.ok_or_else(|| paywire_result::NullParameter.into())
}

/// Borrows a live handle mutably.
///
/// # Safety
/// `chain` is NULL, or a handle from `paywire_chain_verify_new` or
/// `paywire_chain_settle_new` not yet freed, and not used otherwise during `'a`.
unsafe fn borrow_mut<'a>(chain: *mut paywire_chain) -> Result<&'a mut paywire_chain, Failure> {
    // SAFETY: when not NULL, a live handle (a `Box` of ours) that nothing else
    // uses during `'a` (the caller's promise).
    unsafe { chain.as_mut() }.ok_or_else(|| paywire_result::NullParameter.into())
}

/// Starts verifying a facilitator `POST /verify` body with the chain at unix
/// time `now_unix`: the offline checks of `paywire_verify`, then the JSON-RPC calls
/// `paywire_chain_next` asks for (chain id, the asset's code, a simulation of the
/// transfer and, when it fails, the reference facilitator's diagnosis). Writes a
/// new handle to `*out_chain`; free it with `paywire_chain_free`.
///
/// `config_json` may be NULL, or `{"facilitatorAddresses":["0x..."]}` as for
/// `paywire_verify_with_config`. `options_json` may be NULL (defaults), or
/// `{"checkChainId":true,"gasLimitMarginPercent":20,"baseFeeMultiplier":2,
/// "priorityFeePerGas":"1000000","maxFeePerGas":"50000000000","nonce":7,
/// "maxReceiptPolls":60,"receiptPollIntervalMs":1000}` (every member optional;
/// wei amounts as decimal strings). A bad config or options is
/// `PAYWIRE_RESULT_INVALID_CONFIG`. An unreadable or invalid payment is not an
/// error: the handle is then already done with `"isValid":false`.
///
/// # Safety
/// `request_json` is valid for `request_len` bytes of reads, `config_json` and
/// `options_json` (when not NULL) for their lengths; `out_chain` for one write;
/// `err_buf` and `reason_buf`, when not NULL, for `err_cap` and `reason_cap`
/// bytes of writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn paywire_chain_verify_new(
    request_json: *const u8,
    request_len: usize,
    now_unix: u64,
    config_json: *const u8,
    config_len: usize,
    options_json: *const u8,
    options_len: usize,
    out_chain: *mut *mut paywire_chain,
    err_buf: *mut c_char,
    err_cap: usize,
    reason_buf: *mut c_char,
    reason_cap: usize,
) -> paywire_result {
    // SAFETY: `err_buf` and `reason_buf` follow this function's contract.
    let report = unsafe { Report::new(err_buf, err_cap, reason_buf, reason_cap) };
    boundary(report, || {
        // SAFETY: `request_json` follows this function's contract.
        let request = unsafe { bytes(request_json, request_len) }?;
        // SAFETY: `config_json` follows this function's contract.
        let config = unsafe { optional(config_json, config_len) }?;
        // SAFETY: `options_json` follows this function's contract.
        let options = unsafe { optional(options_json, options_len) }?;
        // SAFETY: `out_chain` follows this function's contract.
        let out_chain = unsafe { Slot::new(out_chain) }?;
        let config = read_config(config)?;
        let options = read_options(options)?;
        let m = Machine::verify_json(request, now_unix, &config.config(), &options);
        hand_out(m, out_chain);
        Ok(())
    })
}

/// Starts settling a facilitator `POST /settle` body at unix time `now_unix`,
/// paying gas from the account of the 32-byte big-endian secp256k1
/// `private_key`: the offline checks, then the calls `paywire_chain_next` asks for
/// (chain id, asset code, gas estimation, which simulates the transfer, the
/// account nonce, fees, `eth_sendRawTransaction` of an EIP-1559 transaction
/// signed with the key, and the receipt until mined). For `upto`,
/// `paymentRequirements.amount` is the amount to charge. `options_json` as for
/// `paywire_chain_verify_new`. Writes a new handle to `*out_chain`; free it with
/// `paywire_chain_free`.
///
/// # Safety
/// As `paywire_chain_verify_new`; `private_key` is valid for 32 bytes of reads.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn paywire_chain_settle_new(
    request_json: *const u8,
    request_len: usize,
    now_unix: u64,
    private_key: *const u8,
    options_json: *const u8,
    options_len: usize,
    out_chain: *mut *mut paywire_chain,
    err_buf: *mut c_char,
    err_cap: usize,
    reason_buf: *mut c_char,
    reason_cap: usize,
) -> paywire_result {
    // SAFETY: `err_buf` and `reason_buf` follow this function's contract.
    let report = unsafe { Report::new(err_buf, err_cap, reason_buf, reason_cap) };
    boundary(report, || {
        // SAFETY: `request_json` follows this function's contract.
        let request = unsafe { bytes(request_json, request_len) }?;
        // SAFETY: `private_key` follows this function's contract.
        let mut key_bytes = unsafe { array32(private_key) }?;
        // SAFETY: `options_json` follows this function's contract.
        let options = unsafe { optional(options_json, options_len) }?;
        // SAFETY: `out_chain` follows this function's contract.
        let out_chain = unsafe { Slot::new(out_chain) }?;
        let key = PrivateKey::from_bytes(&key_bytes);
        key_bytes.fill(0);
        let key = key.map_err(|e| Failure::new(paywire_result::InvalidPrivateKey, e.message()))?;
        let options = read_options(options)?;
        let m = Machine::settle_json(request, now_unix, &key, &options);
        hand_out(m, out_chain);
        Ok(())
    })
}

/// Writes what to do next. While the machine needs the chain, `*done` is 0 and
/// `out` receives a JSON-RPC request body to POST to the node after waiting
/// `*delay_ms` milliseconds (non-zero between receipt polls). Once finished,
/// `*done` is 1 and `out` receives the outcome: a VerifyResponse
/// (`{"isValid":...,"invalidReason":...,"invalidMessage":...,"payer":...}`) or a
/// SettleResponse (`{"success":...,"errorReason":...,"payer":...,
/// "transaction":...,"network":...}`). The call does not change the machine, so
/// it may be repeated (to retry a request, or with a larger buffer).
///
/// # Safety
/// `chain` is a live handle; `out` is valid for `out_cap` bytes of writes (or
/// NULL when `out_cap` is 0); `out_len`, `delay_ms` and `done` for one write each.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn paywire_chain_next(
    chain: *const paywire_chain,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    delay_ms: *mut u32,
    done: *mut u8,
) -> paywire_result {
    boundary(Report::NONE, || {
        // SAFETY: `chain` follows this function's contract.
        let chain = unsafe { borrow(chain) }?;
        // SAFETY: `delay_ms` follows this function's contract.
        let delay_ms = unsafe { Slot::new(delay_ms) }?;
        // SAFETY: `done` follows this function's contract.
        let done = unsafe { Slot::new(done) }?;
        // SAFETY: `out` and `out_len` follow this function's contract.
        let out = unsafe { Out::new(out, out_cap, out_len) }?;
        let (wait, finished) = match chain.machine.step() {
            Step::Call(c) => {
                out.put_json(&c)?;
                (c.delay_ms, 0)
            }
            Step::Done(o) => {
                out.put_json(o)?;
                (0, 1)
            }
            // The C API makes machines that hold the facilitator's key.
            Step::Sign(_) => {
                return Err(Failure::new(
                    paywire_result::InvalidArgument,
                    "this machine waits for a signature, which the C API does not take",
                ));
            }
        };
        delay_ms.set(wait);
        done.set(finished);
        Ok(())
    })
}

/// Hands the response body of the request `paywire_chain_next` wrote to the
/// machine. A body that is not a JSON-RPC response to that request (malformed,
/// another id) is `PAYWIRE_RESULT_INVALID_RESPONSE` and leaves the machine as it
/// was: send the same request again. Node errors (a reverted simulation, a
/// rejected transaction) are answers, not failures: they lead to the outcome.
///
/// # Safety
/// `chain` is a live handle not used concurrently; `response` is valid for
/// `response_len` bytes of reads; `err_buf` and `reason_buf`, when not NULL, for
/// `err_cap` and `reason_cap` bytes of writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn paywire_chain_feed(
    chain: *mut paywire_chain,
    response: *const u8,
    response_len: usize,
    err_buf: *mut c_char,
    err_cap: usize,
    reason_buf: *mut c_char,
    reason_cap: usize,
) -> paywire_result {
    // SAFETY: `err_buf` and `reason_buf` follow this function's contract.
    let report = unsafe { Report::new(err_buf, err_cap, reason_buf, reason_cap) };
    boundary(report, || {
        // SAFETY: `chain` follows this function's contract.
        let chain = unsafe { borrow_mut(chain) }?;
        // SAFETY: `response` follows this function's contract.
        let response = unsafe { bytes(response, response_len) }?;
        chain.machine.feed(response).map_err(|e| Failure::core(&e))
    })
}

/// Releases a handle from `paywire_chain_verify_new` or `paywire_chain_settle_new`
/// (the facilitator key it holds is zeroed). NULL is accepted and ignored.
///
/// # Safety
/// `chain` is NULL or a handle not yet freed, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn paywire_chain_free(chain: *mut paywire_chain) {
    if chain.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: a pointer from `Box::into_raw` in `hand_out`, not yet freed
        // and not used afterwards (this function's contract).
        drop(unsafe { Box::from_raw(chain) });
    }));
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_body_is_done_at_once_and_the_handle_frees() {
        let body = b"{}";
        let mut chain: *mut paywire_chain = std::ptr::null_mut();
        // SAFETY: every pointer is to a live local of the right size, or NULL where allowed.
        let r = unsafe {
            paywire_chain_verify_new(
                body.as_ptr(),
                body.len(),
                1_750_000_000,
                std::ptr::null(),
                0,
                std::ptr::null(),
                0,
                &mut chain,
                std::ptr::null_mut(),
                0,
                std::ptr::null_mut(),
                0,
            )
        };
        assert_eq!(r, paywire_result::Ok);
        let mut out = [0u8; 512];
        let (mut len, mut delay, mut done) = (0usize, 7u32, 0u8);
        // SAFETY: as above.
        let r = unsafe {
            paywire_chain_next(
                chain,
                out.as_mut_ptr(),
                out.len(),
                &mut len,
                &mut delay,
                &mut done,
            )
        };
        assert_eq!(r, paywire_result::Ok);
        assert_eq!(done, 1);
        assert_eq!(delay, 0);
        assert!(
            std::str::from_utf8(&out[..len])
                .unwrap()
                .starts_with(r#"{"isValid":false,"invalidReason":"invalid_x402_version""#)
        );
        let feed = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x1\"}";
        let mut reason = [0 as c_char; crate::PAYWIRE_REASON_CAP];
        // SAFETY: as above.
        let r = unsafe {
            paywire_chain_feed(
                chain,
                feed.as_ptr(),
                feed.len(),
                std::ptr::null_mut(),
                0,
                reason.as_mut_ptr(),
                reason.len(),
            )
        };
        assert_eq!(r, paywire_result::InvalidResponse);
        let reason: Vec<u8> = reason
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        assert_eq!(reason, b"invalid_response");
        // SAFETY: a live handle, not used afterwards.
        unsafe { paywire_chain_free(chain) };
        // SAFETY: NULL is accepted.
        unsafe { paywire_chain_free(std::ptr::null_mut()) };
    }

    #[test]
    fn bad_options_are_a_config_error() {
        let body = b"{}";
        let opts = br#"{"nonce":"seven"}"#;
        let mut chain: *mut paywire_chain = std::ptr::null_mut();
        // SAFETY: every pointer is to a live local of the right size, or NULL where allowed.
        let r = unsafe {
            paywire_chain_verify_new(
                body.as_ptr(),
                body.len(),
                0,
                std::ptr::null(),
                0,
                opts.as_ptr(),
                opts.len(),
                &mut chain,
                std::ptr::null_mut(),
                0,
                std::ptr::null_mut(),
                0,
            )
        };
        assert_eq!(r, paywire_result::InvalidConfig);
        assert!(chain.is_null());
    }
}
