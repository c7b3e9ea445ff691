//! How a facilitator's reply to `POST /settle` is read: settled, refused,
//! not sent, or uncertain (the rules are in the module docs of
//! [`crate::lifecycle`]).

use alloc::format;
use alloc::string::String;

use crate::error::Reason;
use crate::json::ToJson;
use crate::network::Network;
use crate::types::FromJson;
use crate::types::facilitator::SettleResponse;

use super::{BATCH_SCHEME, limits};

/// A facilitator's `extensionResponses` member, for the resource server alone.
const EXTENSION_RESPONSES_MEMBER: &str = "extensionResponses";

/// The SettleResponse as the buyer gets it in `PAYMENT-RESPONSE`: without
/// `extensionResponses`, which a facilitator addresses to the resource server
/// (as the official SDK's `encodePaymentResponseHeader` drops it).
fn buyer_facing(json: &str) -> String {
    let Ok(v) = crate::json::parse(json.as_bytes(), &limits(64 * 1024)) else {
        return String::from(json);
    };
    let Some(o) = v.as_object() else {
        return String::from(json);
    };
    if o.get(EXTENSION_RESPONSES_MEMBER).is_none() {
        return String::from(json);
    }
    let mut out = alloc::vec::Vec::with_capacity(json.len());
    let written = (|| {
        let mut w = crate::json::ObjectWriter::new(&mut out)?;
        for (k, v) in o.members() {
            if k != EXTENSION_RESPONSES_MEMBER {
                w.value_field(k, v)?;
            }
        }
        w.end()
    })();
    match written {
        Ok(()) => String::from_utf8(out).unwrap_or_else(|_| String::from(json)),
        Err(_) => String::from(json),
    }
}

/// The members of each extension's response a resource server logs (those
/// `@x402/core` 2.27's facilitator client logs): status and reasons, never
/// the extension's data.
const EXTENSION_RESPONSE_LOGGED: [&str; 4] = ["status", "rejectedReason", "reason", "code"];

/// A facilitator's `EXTENSION-RESPONSES` header (base64 of a JSON object,
/// one member per extension; the spec's side channel to the resource
/// server), summarised for a log line as the reference's client logs it:
/// `{"bazaar":{"status":"rejected","rejectedReason":"…"}}`, each extension
/// with only its status and reason members. `None` when the header is not a
/// base64 JSON object (at most 8 KiB decoded).
///
/// ```
/// use paywire::lifecycle::extension_responses_summary;
/// // {"bazaar":{"status":"processed","resource":{"url":"https://x"}}}
/// let header = "eyJiYXphYXIiOnsic3RhdHVzIjoicHJvY2Vzc2VkIiwicmVzb3VyY2UiOnsidXJsIjoiaHR0cHM6Ly94In19fQ==";
/// assert_eq!(extension_responses_summary(header).unwrap(), r#"{"bazaar":{"status":"processed"}}"#);
/// assert_eq!(extension_responses_summary("bm90IGpzb24="), None);
/// ```
#[must_use]
pub fn extension_responses_summary(header: &str) -> Option<String> {
    let bytes = crate::header::decode_to_vec(header, 8 * 1024).ok()?;
    let v = crate::json::parse(&bytes, &limits(8 * 1024)).ok()?;
    let o = v.as_object()?;
    let mut out = alloc::vec::Vec::new();
    let mut w = crate::json::ObjectWriter::new(&mut out).ok()?;
    for (name, response) in o.members() {
        let mut inner = alloc::vec::Vec::new();
        let mut iw = crate::json::ObjectWriter::new(&mut inner).ok()?;
        if let Some(r) = response.as_object() {
            for key in EXTENSION_RESPONSE_LOGGED {
                if let Some(m) = r.get(key) {
                    iw.value_field(crate::json::JsonStr::new(key), m).ok()?;
                }
            }
        }
        iw.end().ok()?;
        w.value_field(name, crate::json::parse(&inner, &limits(8 * 1024)).ok()?)
            .ok()?;
    }
    w.end().ok()?;
    String::from_utf8(out).ok()
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
    if status == 408 {
        // Servers answer 408 when their own deadline passes, whatever the
        // handler had done by then.
        return uncertain_tx(
            "the facilitator answered HTTP 408 (its deadline passed: the settlement may have been sent)"
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
        return Settled::Success(buyer_facing(&r.to_json_string()));
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

#[cfg(all(test, feature = "std"))]
mod extension_responses_tests {
    use super::extension_responses_summary;
    use base64::Engine as _;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn only_status_and_reasons_are_kept_and_anything_else_is_none() {
        let h = b64(
            r#"{"bazaar":{"status":"rejected","rejectedReason":"bad schema","resource":{"secret":1}},"other":7,"x":{"code":3,"reason":"r"}}"#,
        );
        assert_eq!(
            extension_responses_summary(&h).as_deref(),
            Some(
                r#"{"bazaar":{"status":"rejected","rejectedReason":"bad schema"},"other":{},"x":{"reason":"r","code":3}}"#
            )
        );
        for bad in ["[]", "1", "\"s\"", "{", ""] {
            assert_eq!(extension_responses_summary(&b64(bad)), None, "{bad}");
        }
        assert_eq!(extension_responses_summary("%%%"), None);
        let big = b64(&format!(r#"{{"a":"{}"}}"#, "x".repeat(9000)));
        assert_eq!(extension_responses_summary(&big), None);
    }
}
