//! What the host gives a lifecycle: the route it sells, its settings, the
//! request, and what the handler did.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{Error, ErrorKind, Reason};
use crate::evm::Address;
use crate::json::{JsonStr, Limits, ToJson};
use crate::types::{FromJson, v2};

use super::{BATCH_NETWORK, bad, is_batch, is_evm_batch, limits};

/// The largest route document accepted.
const MAX_ROUTE: usize = 64 * 1024;

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
    /// not an address, a scheme this lifecycle cannot settle, an
    /// `extra.paymentFlow` it cannot follow, or (feature `bazaar`) an
    /// `extensions.bazaar` declaration that breaks the extension's rules or
    /// its own schema.
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
            // The payment flows the reference's servers support: `upfront`
            // for exact; every scheme settles after the handler by default.
            let flow = r.extra.as_ref().and_then(|e| e.payment_flow);
            let supported = match flow.as_ref().and_then(|f| f.as_str()) {
                None if flow.is_none() => true,
                Some("authorization") => true,
                Some("upfront") => r.scheme == "exact",
                _ => false,
            };
            if !supported {
                return Err(bad(
                    Reason::InvalidPaymentRequirements,
                    "not a flow this lifecycle follows (authorization; upfront for exact)",
                )
                .at("extra.paymentFlow"));
            }
            if is_evm_batch(&r) {
                if !cfg!(feature = "evm-batch") {
                    return Err(bad(
                        Reason::InvalidPaymentRequirements,
                        "batch-settlement on EVM needs the `evm-batch` feature",
                    )
                    .at("scheme"));
                }
                #[cfg(feature = "evm-batch")]
                crate::evm::batch_settlement::verify::Requirements::from_requirements(&r)?;
            } else if is_batch(&r) {
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
            } else if r.scheme == "exact" && r.network.namespace() == Some("solana") {
                check_solana(&r)?;
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
        #[cfg(feature = "bazaar")]
        if let Some(ext) = pr.extensions.and_then(|e| e.get(crate::bazaar::BAZAAR)) {
            crate::bazaar::check_declaration(ext).map_err(|_| {
                bad(
                    Reason::InvalidPaymentRequirements,
                    "extensions.bazaar: a declaration whose info fits its schema (paywire::bazaar::check_declaration says where it does not)",
                )
                .at("extensions")
            })?;
        }
        Ok(Route { doc: json.into() })
    }

    /// The route's document, as given.
    #[must_use]
    pub fn json(&self) -> &[u8] {
        &self.doc
    }

    pub(super) fn parsed(&self) -> Option<v2::PaymentRequired<'_>> {
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

/// What carries a lifecycle's requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    /// HTTP requests: answers are HTTP responses.
    #[default]
    Http,
    /// MCP tool calls (x402's MCP transport): the request is the call (its
    /// payment given as a `PAYMENT-SIGNATURE` header), and each answer is
    /// also a tool result ([`crate::mcp::tool_answer`]).
    Mcp,
}

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
    /// Whether a fresh EVM payment is also verified by the facilitator
    /// (`POST /verify`, [`Action::Verify`]) once claimed, before the handler
    /// runs: its chain checks (balance, nonce unused, simulation) then refuse
    /// a payment that cannot settle before any work is done. Off by default:
    /// the offline verification here is the reference's, and settlement
    /// checks the chain anyway.
    ///
    /// [`Action::Verify`]: super::Action::Verify
    pub verify_at_facilitator: bool,
    /// What carries the requests: HTTP, or MCP tool calls (whose answers
    /// the JSON form also gives as tool results, `toolResult` and `toolMeta`).
    pub transport: Transport,
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
            verify_at_facilitator: false,
            transport: Transport::Http,
            #[cfg(feature = "batch")]
            batch: crate::batch::Config::DEFAULT,
        }
    }
}

impl Settings {
    /// Reads `{"settleTimeoutSeconds", "claimSeconds", "retryAfterSeconds",
    /// "facilitatorAddresses", "verifyAtFacilitator", "transport"}` (`"http"`
    /// or `"mcp"`; every member optional; unknown members are
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
            } else if k == "verifyAtFacilitator" {
                s.verify_at_facilitator = v.as_bool().ok_or(err(
                    R,
                    ErrorKind::Invalid("a boolean"),
                    "verifyAtFacilitator",
                ))?;
            } else if k == "transport" {
                s.transport = match v.as_str().map(|t| t.to_cow()) {
                    Some(t) if t == "http" => Transport::Http,
                    Some(t) if t == "mcp" => Transport::Mcp,
                    _ => {
                        return Err(err(
                            R,
                            ErrorKind::Invalid("\"http\" or \"mcp\""),
                            "transport",
                        ));
                    }
                };
            } else if k == "facilitatorAddresses" {
                for a in array(v, R, "facilitatorAddresses")?.iter() {
                    s.facilitator_addresses
                        .push(address(a, R, "facilitatorAddresses")?);
                }
            } else {
                return Err(err(
                    R,
                    ErrorKind::Invalid(
                        "unknown member (known: settleTimeoutSeconds, claimSeconds, retryAfterSeconds, facilitatorAddresses, verifyAtFacilitator, transport)",
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
    pub(super) fn header(&self, name: &str) -> Option<&str> {
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

/// `exact` on `solana:*` (feature `svm`): base58 addresses for `asset`,
/// `payTo` and `extra.feePayer` (the facilitator's fee payer, which the payer
/// needs to build the transaction).
#[cfg(feature = "svm")]
fn check_solana(r: &v2::PaymentRequirements<'_>) -> Result<(), Error> {
    use crate::svm::verify::{FeePayer, Requirements};
    let read = Requirements::from_requirements(r);
    let refuse = |field| {
        bad(
            Reason::InvalidPaymentRequirements,
            "a Solana address (base58 of 32 bytes)",
        )
        .at(field)
    };
    read.asset.ok_or(refuse("asset"))?;
    read.pay_to.ok_or(refuse("payTo"))?;
    match read.fee_payer {
        FeePayer::Key(_) => Ok(()),
        FeePayer::Missing | FeePayer::Invalid => Err(refuse("extra.feePayer")),
    }
}

/// Without `svm`, `solana:*` is not offered.
#[cfg(not(feature = "svm"))]
fn check_solana(_: &v2::PaymentRequirements<'_>) -> Result<(), Error> {
    Err(bad(
        Reason::InvalidPaymentRequirements,
        "exact on solana:* needs the `svm` feature",
    )
    .at("network"))
}
