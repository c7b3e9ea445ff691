//! The resource server: one paywalled resource answering 402 with a
//! `PAYMENT-REQUIRED` header, verifying `PAYMENT-SIGNATURE` offline with the
//! core, settling (on the simulated ledger, or through a facilitator's
//! `POST /settle`), and serving the content with `PAYMENT-RESPONSE`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use x402_core::batch::{self, KeyLookupError, directory::Directory, ed25519::PublicKey};
use x402_core::evm::Address;
use x402_core::header::{self, HeaderKind};
use x402_core::json::{JsonObject, JsonStr, Limits, ToJson};
use x402_core::types::facilitator::{
    PaymentPayload, PaymentRequirements, SettleResponse, VerifyRequest,
};
use x402_core::types::payload::SchemePayload;
use x402_core::types::{Extra, FromJson, List, RawObject, v2};
use x402_core::verify::{self, Config, Verdict};
use x402_core::{Amount, Network, Reason};

use crate::client_http;
use crate::http::{Request, Response};
use crate::ledger::{CheckResult, Ledger};

/// What is sold, for how much, to whom.
#[derive(Debug, Clone)]
pub(crate) struct Offer {
    /// The path of the resource (`/weather`).
    pub(crate) path: String,
    pub(crate) network: Network,
    /// Price in the asset's atomic units.
    pub(crate) amount: Amount,
    pub(crate) asset: Address,
    /// The token's EIP-712 domain name and version (`extra.name`, `extra.version`).
    pub(crate) asset_name: String,
    pub(crate) asset_version: String,
    pub(crate) pay_to: Address,
    pub(crate) max_timeout_seconds: u64,
    pub(crate) description: String,
    pub(crate) mime_type: String,
    pub(crate) content: Vec<u8>,
}

/// A deferred-payment route: `batch-settlement` on `cloudflare:402`. The agent
/// signs its request (RFC 9421); the server verifies, serves and records the
/// commitment, which the network bills later, off-chain.
#[derive(Debug, Clone)]
pub(crate) struct DeferredOffer {
    pub(crate) path: String,
    /// Price in the asset's smallest unit.
    pub(crate) amount: Amount,
    /// A currency code (`USD`).
    pub(crate) asset: String,
    /// The merchant's account name with the network.
    pub(crate) pay_to: String,
    pub(crate) description: String,
    pub(crate) mime_type: String,
    pub(crate) content: Vec<u8>,
}

/// A commitment accepted on the deferred route, kept for billing.
#[derive(Debug, Clone)]
pub(crate) struct Commitment {
    /// The agent, as `Signature-Agent` names it.
    pub(crate) agent: String,
    pub(crate) amount: Amount,
    pub(crate) asset: String,
    /// The key that signed (its JWK thumbprint).
    pub(crate) keyid: String,
    pub(crate) created: u64,
}

/// The deferred route's state.
struct Deferred {
    offer: DeferredOffer,
    requirement_json: Vec<u8>,
    /// Agents known to the network: their origins.
    agents: Mutex<Vec<String>>,
    /// Key directories fetched, by agent.
    directories: Mutex<HashMap<String, Vec<u8>>>,
    /// Commitments accepted, in order.
    book: Mutex<Vec<Commitment>>,
}

/// The path listing the agents registered for deferred payments
/// (`registrationUrl` of the `http-message-signatures` extension).
pub(crate) const AGENTS_PATH: &str = "/agents";

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where payments settle.
pub(crate) enum Settlement {
    /// The simulated ledger (no chain).
    Ledger(Arc<Mutex<Ledger>>),
    /// A facilitator's base URL: `POST {url}/settle`.
    Facilitator(String),
}

/// What the server did, for its log (serve) or for the demo's narration.
#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// A request arrived.
    Request {
        method: String,
        target: String,
        payment_header: Option<&'static str>,
    },
    /// Answered 402, with the reason when a payment was refused.
    PaymentRequired { error: Option<String> },
    /// The offline verdict, as a VerifyResponse.
    Verified { valid: bool, response: String },
    /// The chain checks, discharged on the simulated ledger.
    ChainChecks(Vec<CheckResult>),
    /// Settled: the SettleResponse, and whether it was simulated.
    Settled { response: String, simulated: bool },
    /// Settlement refused.
    SettleFailed { reason: String, message: String },
    /// Served the resource.
    Served { status: u16, bytes: usize },
    /// Anything else that went wrong (a facilitator unreachable, a bad request).
    Problem { message: String },
    /// An agent's key directory was fetched (deferred route).
    DirectoryFetched { agent: String, keys: usize },
    /// A deferred commitment was recorded for later billing.
    Recorded {
        agent: String,
        amount: Amount,
        asset: String,
    },
    /// The call a facilitator would send to the token to settle on chain
    /// (shown, never sent: the ledger is simulated).
    Calldata { to: Address, data: Vec<u8> },
}

/// The paywall's state.
pub(crate) struct Paywall {
    offer: Offer,
    resource_url: String,
    requirement_json: Vec<u8>,
    settlement: Settlement,
    events: Box<dyn Fn(Event) + Send + Sync>,
    deferred: Option<Deferred>,
    origin: String,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Paywall {
    /// A paywall for `offer`, served at `origin` (`http://127.0.0.1:4020`).
    pub(crate) fn new(
        offer: Offer,
        origin: &str,
        settlement: Settlement,
        events: Box<dyn Fn(Event) + Send + Sync>,
    ) -> Paywall {
        let asset = offer.asset.to_string();
        let pay_to = offer.pay_to.to_string();
        let requirement = v2::PaymentRequirements {
            scheme: JsonStr::new("exact"),
            network: offer.network,
            amount: offer.amount,
            asset: JsonStr::new(&asset),
            pay_to: JsonStr::new(&pay_to),
            max_timeout_seconds: offer.max_timeout_seconds,
            extra: Some(Extra {
                name: Some(JsonStr::new(&offer.asset_name)),
                version: Some(JsonStr::new(&offer.asset_version)),
                ..Extra::EMPTY
            }),
            source: JsonObject::EMPTY,
        };
        let requirement_json = requirement.to_json_vec();
        Paywall {
            resource_url: format!("{origin}{}", offer.path),
            offer,
            requirement_json,
            settlement,
            events,
            deferred: None,
            origin: origin.to_string(),
        }
    }

    /// Adds a deferred-payment route.
    pub(crate) fn with_deferred(mut self, offer: DeferredOffer) -> Paywall {
        let requirement = v2::PaymentRequirements {
            scheme: JsonStr::new(batch::SCHEME),
            network: Network::parse_caip2(batch::NETWORK).unwrap_or(self.offer.network),
            amount: offer.amount,
            asset: JsonStr::new(&offer.asset),
            pay_to: JsonStr::new(&offer.pay_to),
            max_timeout_seconds: 30,
            extra: Some(Extra {
                version: Some(JsonStr::new("1")),
                ..Extra::EMPTY
            }),
            source: JsonObject::EMPTY,
        };
        let requirement_json = requirement.to_json_vec();
        self.deferred = Some(Deferred {
            offer,
            requirement_json,
            agents: Mutex::new(Vec::new()),
            directories: Mutex::new(HashMap::new()),
            book: Mutex::new(Vec::new()),
        });
        self
    }

    /// Registers an agent (its origin) for deferred payments.
    pub(crate) fn register_agent(&self, origin: &str) {
        if let Some(d) = &self.deferred {
            lock(&d.agents).push(origin.to_string());
        }
    }

    /// The deferred route's URL.
    pub(crate) fn deferred_url(&self) -> Option<String> {
        self.deferred
            .as_ref()
            .map(|d| format!("{}{}", self.origin, d.offer.path))
    }

    /// The commitments accepted on the deferred route.
    pub(crate) fn commitments(&self) -> Vec<Commitment> {
        self.deferred
            .as_ref()
            .map(|d| lock(&d.book).clone())
            .unwrap_or_default()
    }

    /// The resource's URL.
    pub(crate) fn url(&self) -> &str {
        &self.resource_url
    }

    /// The one requirement offered, as compact JSON.
    pub(crate) fn requirement_json(&self) -> &[u8] {
        &self.requirement_json
    }

    fn requirement(&self) -> Option<v2::PaymentRequirements<'_>> {
        v2::PaymentRequirements::from_json_bytes(&self.requirement_json, &Limits::DEFAULT).ok()
    }

    /// The PaymentRequired document, with `error` when a payment was refused.
    pub(crate) fn payment_required(&self, error: Option<&str>) -> Vec<u8> {
        let Some(req) = self.requirement() else {
            return Vec::new();
        };
        let accepts = [req];
        let pr = v2::PaymentRequired {
            error: error.map(JsonStr::new),
            resource: v2::ResourceInfo {
                url: JsonStr::new(&self.resource_url),
                description: Some(JsonStr::new(&self.offer.description)),
                mime_type: Some(JsonStr::new(&self.offer.mime_type)),
                source: JsonObject::EMPTY,
            },
            accepts: List::Slice(&accepts),
            extensions: None,
            source: JsonObject::EMPTY,
        };
        pr.to_json_vec()
    }

    fn answer_402(&self, error: Option<String>) -> Response {
        let json = self.payment_required(error.as_deref());
        (self.events)(Event::PaymentRequired { error });
        // The header carries the document; the body repeats it for people and v1 clients.
        let value = header_value(&json);
        Response::new(402, "application/json", json)
            .with_header(HeaderKind::PaymentRequired.name(), value)
    }

    /// Handles one request.
    pub(crate) fn handle(&self, req: &Request) -> Response {
        let signature = req.header(HeaderKind::PaymentSignature.name());
        let v1_payment = req.header(HeaderKind::XPayment.name());
        (self.events)(Event::Request {
            method: req.method.clone(),
            target: req.target.clone(),
            payment_header: signature
                .map(|_| HeaderKind::PaymentSignature.name())
                .or(v1_payment.map(|_| HeaderKind::XPayment.name())),
        });
        if let Some(d) = &self.deferred {
            if req.path() == d.offer.path {
                return self.handle_deferred(d, req);
            }
            if req.path() == AGENTS_PATH {
                let list = lock(&d.agents).join("\n");
                return Response::new(
                    200,
                    "text/plain; charset=utf-8",
                    format!(
                        "Agents registered for deferred payments on this server \
                         (registration is by its operator):\n{list}\n"
                    ),
                );
            }
        }
        if req.path() != self.offer.path {
            return Response::new(
                404,
                "text/plain; charset=utf-8",
                format!("not found: the paid resource is {}\n", self.resource_url),
            );
        }
        if req.method != "GET" && req.method != "HEAD" {
            return Response::new(405, "text/plain; charset=utf-8", "use GET\n")
                .with_header("Allow", "GET, HEAD");
        }
        let value = match (signature, v1_payment) {
            (Some(v), _) => v,
            (None, Some(_)) => {
                return self.answer_402(Some(format!(
                    "{}: this server speaks x402 version 2: send PAYMENT-SIGNATURE, not X-PAYMENT",
                    Reason::InvalidX402Version
                )));
            }
            (None, None) => {
                return self.answer_402(Some("PAYMENT-SIGNATURE header is required".into()));
            }
        };
        let at = now();
        let mut scratch = vec![0u8; header::base64_decoded_len(value.len())];
        let verdict = verify::verify_header(
            value,
            &self.requirement_json,
            at,
            &Config::default(),
            &mut scratch,
        );
        (self.events)(Event::Verified {
            valid: verdict.is_valid(),
            response: verdict.to_json_string(),
        });
        if !verdict.is_valid() {
            return self.answer_402(Some(verdict_error(&verdict)));
        }
        let settled = match &self.settlement {
            Settlement::Ledger(ledger) => self.settle_on_ledger(ledger, &verdict, value),
            Settlement::Facilitator(url) => self.settle_with_facilitator(url, value),
        };
        match settled {
            Ok(response_json) => {
                let value = header_value(&response_json);
                (self.events)(Event::Served {
                    status: 200,
                    bytes: self.offer.content.len(),
                });
                Response::new(200, &self.offer.mime_type, self.offer.content.clone())
                    .with_header(HeaderKind::PaymentResponse.name(), value)
            }
            Err(Refusal::Payment(error)) => self.answer_402(Some(error)),
            Err(Refusal::Upstream(message)) => {
                (self.events)(Event::Problem {
                    message: message.clone(),
                });
                Response::new(502, "text/plain; charset=utf-8", format!("{message}\n"))
            }
        }
    }

    /// The deferred route's PaymentRequired, with `error` when a payment was refused.
    fn deferred_payment_required(&self, d: &Deferred, error: Option<&str>) -> Vec<u8> {
        let Ok(req) =
            v2::PaymentRequirements::from_json_bytes(&d.requirement_json, &Limits::DEFAULT)
        else {
            return Vec::new();
        };
        let extensions = format!(
            "{{\"{}\":{{\"info\":{{\"registrationUrl\":{},\"signatureSchemes\":[\"ed25519\"],\"tags\":[\"{}\"]}}}}}}",
            batch::EXTENSION,
            crate::out::quote(&format!("{}{AGENTS_PATH}", self.origin)),
            batch::TAG
        );
        let Some(ext) = x402_core::json::parse(extensions.as_bytes(), &Limits::DEFAULT)
            .ok()
            .and_then(|v| v.as_object())
        else {
            return Vec::new();
        };
        let url = format!("{}{}", self.origin, d.offer.path);
        let accepts = [req];
        v2::PaymentRequired {
            error: error.map(JsonStr::new),
            resource: v2::ResourceInfo {
                url: JsonStr::new(&url),
                description: Some(JsonStr::new(&d.offer.description)),
                mime_type: Some(JsonStr::new(&d.offer.mime_type)),
                source: JsonObject::EMPTY,
            },
            accepts: List::Slice(&accepts),
            extensions: Some(RawObject::Json(ext)),
            source: JsonObject::EMPTY,
        }
        .to_json_vec()
    }

    fn deferred_402(&self, d: &Deferred, error: Option<String>) -> Response {
        let json = self.deferred_payment_required(d, error.as_deref());
        (self.events)(Event::PaymentRequired { error });
        let value = header_value(&json);
        Response::new(402, "application/json", json)
            .with_header(HeaderKind::PaymentRequired.name(), value)
    }

    /// The agent's key, from its directory (fetched once, from registered agents only).
    fn lookup_key(
        &self,
        d: &Deferred,
        agent: &str,
        keyid: &str,
    ) -> Result<PublicKey, KeyLookupError> {
        if !lock(&d.agents).iter().any(|a| a == agent) {
            return Err(KeyLookupError::UnknownAgent);
        }
        let cached = lock(&d.directories).get(agent).cloned();
        let jwks = match cached {
            Some(j) => j,
            None => {
                let url = format!(
                    "{}{}",
                    agent.trim_end_matches('/'),
                    batch::directory::WELL_KNOWN_PATH
                );
                let reply = client_http::get(&url, &[]).map_err(|f| {
                    (self.events)(Event::Problem {
                        message: format!("the key directory of {agent}: {}", f.message),
                    });
                    KeyLookupError::UnknownAgent
                })?;
                let keys = Directory::parse(&reply.body)
                    .map(|dir| dir.keys().count())
                    .map_err(|e| {
                        (self.events)(Event::Problem {
                            message: format!("the key directory of {agent}: {e}"),
                        });
                        KeyLookupError::UnknownAgent
                    })?;
                (self.events)(Event::DirectoryFetched {
                    agent: agent.to_string(),
                    keys,
                });
                lock(&d.directories).insert(agent.to_string(), reply.body.clone());
                reply.body
            }
        };
        Directory::parse(&jwks)
            .ok()
            .and_then(|dir| dir.find(keyid))
            .ok_or(KeyLookupError::UnknownKey)
    }

    /// Verifies a signed request committing to pay later, serves, and records it.
    fn handle_deferred(&self, d: &Deferred, req: &Request) -> Response {
        if req.method != "GET" && req.method != "HEAD" {
            return Response::new(405, "text/plain; charset=utf-8", "use GET\n")
                .with_header("Allow", "GET, HEAD");
        }
        if req.header(HeaderKind::PaymentSignature.name()).is_none() {
            return self.deferred_402(d, Some("PAYMENT-SIGNATURE header is required".into()));
        }
        // The signature covers @authority as the agent addressed this server.
        let url = match req.header("Host") {
            Some(host) => format!("http://{host}{}", req.target),
            None => format!("{}{}", self.origin, req.target),
        };
        let headers: Vec<(&str, &str)> = req
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let request = batch::Request {
            method: &req.method,
            url: &url,
            headers: &headers,
        };
        let at = now();
        let lookup = |agent: &str, keyid: &str| self.lookup_key(d, agent, keyid);
        let verdict = batch::verify_batch_settlement_alloc(
            &request,
            &d.requirement_json,
            &lookup,
            at,
            &batch::Config::DEFAULT,
        );
        (self.events)(Event::Verified {
            valid: verdict.is_valid(),
            response: verdict.to_json_string(),
        });
        let (Some(c), Some(receipt)) = (verdict.commitment, verdict.payment_response(at)) else {
            let reason = verdict.reason.map_or("invalid_payload", |r| r.as_str());
            return self.deferred_402(d, Some(format!("{reason}: {}", verdict.message.as_str())));
        };
        let commitment = Commitment {
            agent: verdict.payer.unwrap_or_default().to_string(),
            amount: c.amount,
            asset: c.asset.to_cow().into_owned(),
            keyid: c.keyid.as_plain().unwrap_or_default().to_string(),
            created: c.created,
        };
        (self.events)(Event::Recorded {
            agent: commitment.agent.clone(),
            amount: commitment.amount,
            asset: commitment.asset.clone(),
        });
        lock(&d.book).push(commitment);
        (self.events)(Event::Served {
            status: 200,
            bytes: d.offer.content.len(),
        });
        Response::new(200, &d.offer.mime_type, d.offer.content.clone()).with_header(
            HeaderKind::PaymentResponse.name(),
            header::encode_to_string(&receipt),
        )
    }

    fn settle_on_ledger(
        &self,
        ledger: &Mutex<Ledger>,
        verdict: &Verdict,
        value: &str,
    ) -> Result<Vec<u8>, Refusal> {
        let mut buf = vec![0u8; header::base64_decoded_len(value.len())];
        let exact = match header::decode_payment_signature(value, &mut buf) {
            Ok(PaymentPayload::V2(p)) => p
                .payload_json()
                .and_then(SchemePayload::from_object)
                .ok()
                .and_then(|s| match s {
                    SchemePayload::Eip3009(e) => Some(e),
                    _ => None,
                }),
            _ => None,
        };
        let Some(exact) = exact else {
            let message = "the simulated ledger settles EIP-3009 authorizations only".to_string();
            (self.events)(Event::SettleFailed {
                reason: Reason::UnsupportedPayloadType.as_str().into(),
                message: message.clone(),
            });
            return Err(Refusal::Payment(format!(
                "{}: {message}",
                Reason::UnsupportedPayloadType
            )));
        };
        let auth = exact.authorization;
        if let Ok(sig) = x402_core::evm::Signature::parse_hex(exact.signature) {
            let data = x402_core::evm::abi::transfer_with_authorization_sig(&auth, &sig.to_bytes());
            (self.events)(Event::Calldata {
                to: self.offer.asset,
                data: data.to_vec(),
            });
        }
        let mut ledger = ledger.lock().unwrap_or_else(|e| e.into_inner());
        match ledger.settle(verdict, &auth) {
            Ok((settled, checks)) => {
                (self.events)(Event::ChainChecks(checks));
                let payer = settled.from.to_string();
                let response = SettleResponse {
                    success: true,
                    error_reason: None,
                    error_message: None,
                    payer: Some(JsonStr::new(&payer)),
                    transaction: JsonStr::new(&settled.transaction),
                    network: self.offer.network,
                    amount: None,
                    extensions: None,
                    source: JsonObject::EMPTY,
                };
                let json = response.to_json_vec();
                (self.events)(Event::Settled {
                    response: String::from_utf8_lossy(&json).into_owned(),
                    simulated: true,
                });
                Ok(json)
            }
            Err(rejected) => {
                (self.events)(Event::ChainChecks(rejected.checks));
                (self.events)(Event::SettleFailed {
                    reason: rejected.reason.as_str().into(),
                    message: rejected.message.clone(),
                });
                Err(Refusal::Payment(format!(
                    "{}: {}",
                    rejected.reason, rejected.message
                )))
            }
        }
    }

    fn settle_with_facilitator(&self, base: &str, value: &str) -> Result<Vec<u8>, Refusal> {
        let mut buf = vec![0u8; header::base64_decoded_len(value.len())];
        let (Ok(payload), Some(req)) = (
            header::decode_payment_signature(value, &mut buf),
            self.requirement(),
        ) else {
            return Err(Refusal::Payment(Reason::InvalidPayload.as_str().into()));
        };
        let body = VerifyRequest {
            payment_payload: payload,
            payment_requirements: PaymentRequirements::V2(req),
            source: JsonObject::EMPTY,
        }
        .to_json_vec();
        let url = format!("{}/settle", base.trim_end_matches('/'));
        let reply = client_http::post_json(&url, &body)
            .map_err(|f| Refusal::Upstream(format!("facilitator: {}", f.message)))?;
        let limits = Limits {
            max_len: 64 * 1024,
            ..Limits::DEFAULT
        };
        let response = SettleResponse::from_json_bytes(&reply.body, &limits).map_err(|e| {
            Refusal::Upstream(format!(
                "facilitator {url} answered {} with no SettleResponse: {e}",
                reply.status
            ))
        })?;
        let json = response.to_json_vec();
        if response.success {
            (self.events)(Event::Settled {
                response: String::from_utf8_lossy(&json).into_owned(),
                simulated: false,
            });
            Ok(json)
        } else {
            let reason = response.error_reason.map_or_else(
                || Reason::UnexpectedSettleError.as_str().into(),
                |r| r.to_cow().into_owned(),
            );
            let message = response
                .error_message
                .map(|m| m.to_cow().into_owned())
                .unwrap_or_default();
            (self.events)(Event::SettleFailed {
                reason: reason.clone(),
                message: message.clone(),
            });
            Err(Refusal::Payment(if message.is_empty() {
                reason
            } else {
                format!("{reason}: {message}")
            }))
        }
    }
}

/// Why a valid payment was not served.
enum Refusal {
    /// Settlement refused the payment: answer 402.
    Payment(String),
    /// The facilitator could not be used: answer 502.
    Upstream(String),
}

/// `reason: message` of an invalid verdict (the PaymentRequired `error`).
fn verdict_error(v: &Verdict) -> String {
    let reason = v.reason.map_or("invalid_payload", |r| r.as_str());
    if v.message.as_str().is_empty() {
        reason.to_string()
    } else {
        format!("{reason}: {}", v.message.as_str())
    }
}

/// The header value carrying a JSON document (standard base64 with padding).
pub(crate) fn header_value(json: &[u8]) -> String {
    let mut out = vec![0u8; header::base64_encoded_len(json.len())];
    match header::base64_encode(json, &mut out) {
        Ok(n) => {
            out.truncate(n);
            String::from_utf8(out).unwrap_or_default()
        }
        Err(_) => String::new(),
    }
}
