//! The resource server: a paywalled resource answering 402 with a
//! `PAYMENT-REQUIRED` header, and an optional deferred-payment route, served
//! by paywire-server's paywall layer (`paywire_server::paywall`) in front of
//! the content (static, or an upstream server's answer). The layer drives
//! each paid request through `paywire::lifecycle`; this module gives it what
//! is particular to the command: where payments settle (the simulated ledger,
//! or a facilitator), the registered agents' key directories, and the events
//! of its log (`--json`) and of the demo's narration.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use paywire::batch::{self, directory::Directory};
use paywire::evm::Address;
use paywire::header::{self, HeaderKind};
use paywire::json::{JsonObject, JsonStr, Limits, ToJson};
use paywire::lifecycle::{Answer, Lifecycle, Outcome, Route, Settings};
use paywire::types::facilitator::{PaymentPayload, SettleResponse};
use paywire::types::payload::SchemePayload;
use paywire::types::{Extra, FromJson, List, v2};
use paywire::verify::{self, Config};
use paywire::{Amount, Network};

use paywire_server::paywall::{
    Answered, Directories, Facilitator, HandlerFailed, MemoryRecords, Observer, RecordStore, Reply,
    Settler,
};

use crate::client_http;
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
    /// Its PaymentRequired (JSON).
    route_json: Vec<u8>,
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
    /// A facilitator (`POST {url}/settle`, with the API key it gave this
    /// resource server, if any), built once.
    Facilitator {
        /// Its base URL, for the log.
        url: String,
        /// Its client.
        client: Box<Facilitator>,
    },
}

/// What produces the paid content.
#[derive(Debug, Clone)]
pub(crate) enum Content {
    /// The offer's own bytes.
    Fixed,
    /// `GET {base}{target}` on an upstream HTTP server, its answer held back
    /// until the payment settles.
    Upstream(String),
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
    /// A payment answered without its content and without a 402: in progress
    /// (409), delivered already (409), its handler failed (not settled), the
    /// facilitator unavailable (502).
    Answered {
        status: u16,
        outcome: &'static str,
        reason: String,
        message: String,
    },
    /// Settlement may have happened: the record kept for reconciliation.
    Uncertain { record: String },
}

/// The paywall's state.
pub(crate) struct Paywall {
    offer: Offer,
    resource_url: String,
    requirement_json: Vec<u8>,
    /// The paid route's PaymentRequired (JSON).
    route_json: Vec<u8>,
    settlement: Settlement,
    events: Box<dyn Fn(Event) + Send + Sync>,
    deferred: Option<Deferred>,
    origin: String,
    store: Arc<dyn RecordStore>,
    settings: Settings,
    content: Content,
    /// Stop the process once a settlement is recorded, before answering
    /// (`PAYWIRE_SERVE_FAULT=exit-after-settle`: to test recovery after a crash).
    exit_after_settle: bool,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A route built by this program from its own options: always well-formed.
fn route_of(json: &[u8]) -> Route {
    Route::from_json(json).unwrap_or_else(|e| {
        crate::say_err(&format!(
            "paywire: internal error: a route this program built: {e}\n"
        ));
        std::process::exit(2)
    })
}

impl Paywall {
    /// A paywall for `offer`, served at `origin` (`http://127.0.0.1:4020`),
    /// with an in-memory replay store.
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
        let resource_url = format!("{origin}{}", offer.path);
        let route_json = payment_required_doc(&requirement_json, &resource_url, &offer, None);
        route_of(&route_json);
        Paywall {
            resource_url,
            offer,
            requirement_json,
            route_json,
            settlement,
            events,
            deferred: None,
            origin: origin.to_string(),
            store: Arc::new(MemoryRecords::default()),
            settings: Settings::default(),
            content: Content::Fixed,
            exit_after_settle: std::env::var("PAYWIRE_SERVE_FAULT").as_deref()
                == Ok("exit-after-settle"),
        }
    }

    /// Keeps replay records in `store` instead of memory.
    pub(crate) fn with_store(mut self, store: Arc<dyn RecordStore>) -> Paywall {
        self.store = store;
        self
    }

    /// Settle timeouts and leases.
    pub(crate) fn with_settings(mut self, settings: Settings) -> Paywall {
        self.settings = settings;
        self
    }

    /// Where the content comes from.
    pub(crate) fn with_content(mut self, content: Content) -> Paywall {
        self.content = content;
        self
    }

    /// Adds a deferred-payment route.
    pub(crate) fn with_deferred(mut self, offer: DeferredOffer) -> Paywall {
        let url = format!("{}{}", self.origin, offer.path);
        let registration = format!("{}{AGENTS_PATH}", self.origin);
        let json = batch::Offer {
            url: &url,
            description: Some(&offer.description),
            mime_type: Some(&offer.mime_type),
            amount: offer.amount,
            asset: &offer.asset,
            pay_to: &offer.pay_to,
            registration_url: &registration,
        }
        .to_json_vec();
        route_of(&json);
        self.deferred = Some(Deferred {
            offer,
            route_json: json,
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

    /// The HTTP app: the paid routes behind paywire-server's paywall layer
    /// (which drives each paid request through `paywire::lifecycle`), in
    /// front of the content; every request told to the log first.
    pub(crate) fn router(self: &Arc<Self>) -> axum::Router {
        let mut layer = paywire_server::paywall::Paywall::new(
            ShopSettler(Arc::clone(self)),
            Arc::clone(&self.store),
        )
        .settings(self.settings.clone())
        .observer(Arc::new(ShopObserver(Arc::clone(self))))
        .directories(Arc::new(ShopDirectories(Arc::clone(self))));
        layer = route_on(layer, &self.offer.path, &self.route_json);
        if let Some(d) = &self.deferred {
            layer = route_on(layer, &d.offer.path, &d.route_json);
        }
        let content = Arc::clone(self);
        let told = Arc::clone(self);
        axum::Router::new()
            .fallback(move |req: axum::extract::Request| {
                let shop = Arc::clone(&content);
                async move { shop.content(req).await }
            })
            .layer(layer.layer())
            .layer(axum::middleware::from_fn(
                move |req: axum::extract::Request, next: axum::middleware::Next| {
                    let shop = Arc::clone(&told);
                    async move {
                        (shop.events)(request_event(&req));
                        next.run(req).await
                    }
                },
            ))
    }

    /// What the paywall serves once paid, and everything that is not paid:
    /// the agents' list, 404 and 405.
    async fn content(self: Arc<Self>, req: axum::extract::Request) -> axum::response::Response {
        let path = req.uri().path().to_string();
        let target = req
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_string(), |p| p.as_str().to_string());
        let get_or_head =
            req.method() == axum::http::Method::GET || req.method() == axum::http::Method::HEAD;
        if let Some(d) = &self.deferred {
            if path == d.offer.path {
                if !get_or_head {
                    return use_get();
                }
                return plain(200, &d.offer.mime_type, d.offer.content.clone());
            }
            if path == AGENTS_PATH {
                let list = lock(&d.agents).join("\n");
                return plain(
                    200,
                    "text/plain; charset=utf-8",
                    format!(
                        "Agents registered for deferred payments on this server \
                         (registration is by its operator):\n{list}\n"
                    )
                    .into_bytes(),
                );
            }
        }
        if path != self.offer.path {
            return plain(
                404,
                "text/plain; charset=utf-8",
                format!("not found: the paid resource is {}\n", self.resource_url).into_bytes(),
            );
        }
        if !get_or_head {
            return use_get();
        }
        match &self.content {
            Content::Fixed => plain(200, &self.offer.mime_type, self.offer.content.clone()),
            Content::Upstream(base) => {
                let url = format!("{}{target}", base.trim_end_matches('/'));
                let fetched = tokio::task::spawn_blocking(move || client_http::get(&url, &[]))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|f| f.message));
                match fetched {
                    Ok(reply) => {
                        let mut resp = plain(reply.status, "application/octet-stream", reply.body);
                        resp.headers_mut().clear();
                        for (n, v) in reply.headers {
                            let hop = [
                                "connection",
                                "keep-alive",
                                "transfer-encoding",
                                "content-length",
                            ];
                            if hop.iter().any(|h| n.eq_ignore_ascii_case(h)) {
                                continue;
                            }
                            if let (Ok(n), Ok(v)) = (
                                axum::http::HeaderName::from_bytes(n.as_bytes()),
                                axum::http::HeaderValue::from_str(&v),
                            ) {
                                resp.headers_mut().append(n, v);
                            }
                        }
                        resp
                    }
                    Err(e) => {
                        (self.events)(Event::Problem {
                            message: format!("the content could not be produced: {e}"),
                        });
                        let mut resp = plain(500, "text/plain; charset=utf-8", Vec::new());
                        resp.extensions_mut().insert(HandlerFailed(e));
                        resp
                    }
                }
            }
        }
    }

    /// Narrates an answer in the log.
    fn tell(&self, a: &Answer, settled_through: bool, deferred: bool, life: &Lifecycle) {
        let simulated = matches!(self.settlement, Settlement::Ledger(_));
        match a.outcome {
            Outcome::PaymentRequired => {
                if settled_through {
                    (self.events)(Event::SettleFailed {
                        reason: a.reason.clone(),
                        message: a.message.clone(),
                    });
                }
                let error = match (a.reason.is_empty(), a.message.is_empty()) {
                    (true, _) => a.message.clone(),
                    (false, true) => a.reason.clone(),
                    (false, false) => format!("{}: {}", a.reason, a.message),
                };
                (self.events)(Event::PaymentRequired { error: Some(error) });
            }
            Outcome::Delivered | Outcome::Redelivered => {
                let response = a
                    .header(HeaderKind::PaymentResponse.name())
                    .and_then(|v| header::decode_to_vec(v, header::DEFAULT_MAX_DECODED).ok())
                    .map(|j| String::from_utf8_lossy(&j).into_owned())
                    .unwrap_or_default();
                if deferred {
                    self.book(life);
                } else if a.outcome == Outcome::Delivered && !simulated {
                    (self.events)(Event::Settled {
                        response,
                        simulated,
                    });
                }
                if a.outcome == Outcome::Redelivered {
                    (self.events)(Event::Answered {
                        status: a.status,
                        outcome: a.outcome.as_str(),
                        reason: String::new(),
                        message:
                            "settled earlier, never delivered: delivered now, not settled again"
                                .into(),
                    });
                }
            }
            _ => (self.events)(Event::Answered {
                status: a.status,
                outcome: a.outcome.as_str(),
                reason: a.reason.clone(),
                message: a.message.clone(),
            }),
        }
    }

    /// Records a delivered deferred commitment in the book, for billing.
    fn book(&self, life: &Lifecycle) {
        let Some(d) = &self.deferred else { return };
        let Some(v) = life
            .verdict_json()
            .and_then(|v| paywire::json::parse(v.as_bytes(), &Limits::DEFAULT).ok())
            .and_then(|v| v.as_object())
        else {
            return;
        };
        let text = |o: JsonObject<'_>, k: &str| {
            o.get(k)
                .and_then(|v| v.as_str())
                .map(|s| s.to_cow().into_owned())
                .unwrap_or_default()
        };
        let Some(extra) = v.get("extra").and_then(|e| e.as_object()) else {
            return;
        };
        let commitment = Commitment {
            agent: text(v, "payer"),
            amount: text(extra, "amount").parse().unwrap_or(Amount::ZERO),
            asset: text(extra, "asset"),
            keyid: text(extra, "keyid"),
            created: extra.get("created").and_then(|c| c.as_u64()).unwrap_or(0),
        };
        (self.events)(Event::Recorded {
            agent: commitment.agent.clone(),
            amount: commitment.amount,
            asset: commitment.asset.clone(),
        });
        lock(&d.book).push(commitment);
    }

    /// The ledger as a facilitator: verifies the body, discharges the chain
    /// checks, moves the balances; answers a SettleResponse.
    fn settle_on_ledger(&self, ledger: &Mutex<Ledger>, body: &str) -> Vec<u8> {
        let verdict = verify::verify_json(body.as_bytes(), now(), &Config::default());
        let refused = |reason: &str, message: &str| {
            (self.events)(Event::SettleFailed {
                reason: reason.into(),
                message: message.into(),
            });
            let network = self.offer.network;
            SettleResponse {
                success: false,
                error_reason: Some(JsonStr::new(reason)),
                error_message: Some(JsonStr::new(message)),
                payer: None,
                transaction: JsonStr::new(""),
                network,
                amount: None,
                extensions: None,
                extra: None,
                source: JsonObject::EMPTY,
            }
            .to_json_vec()
        };
        let request = paywire::json::parse(body.as_bytes(), &Limits::DEFAULT)
            .ok()
            .and_then(|v| v.as_object())
            .and_then(|o| o.get("paymentPayload"))
            .and_then(|p| PaymentPayload::from_json(p).ok());
        let exact = match request {
            Some(PaymentPayload::V2(p)) => p
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
            return refused(
                paywire::Reason::UnsupportedPayloadType.as_str(),
                "the simulated ledger settles EIP-3009 authorizations only",
            );
        };
        let auth = exact.authorization;
        if let Ok(sig) = paywire::evm::Signature::parse_hex(exact.signature) {
            let data = paywire::evm::abi::transfer_with_authorization_sig(&auth, &sig.to_bytes());
            (self.events)(Event::Calldata {
                to: self.offer.asset,
                data: data.to_vec(),
            });
        }
        let mut ledger = lock(ledger);
        match ledger.settle(&verdict, &auth) {
            Ok((settled, checks)) => {
                (self.events)(Event::ChainChecks(checks));
                let payer = settled.from.to_string();
                let json = SettleResponse {
                    success: true,
                    error_reason: None,
                    error_message: None,
                    payer: Some(JsonStr::new(&payer)),
                    transaction: JsonStr::new(&settled.transaction),
                    network: self.offer.network,
                    amount: None,
                    extensions: None,
                    extra: None,
                    source: JsonObject::EMPTY,
                }
                .to_json_vec();
                (self.events)(Event::Settled {
                    response: String::from_utf8_lossy(&json).into_owned(),
                    simulated: true,
                });
                json
            }
            Err(rejected) => {
                (self.events)(Event::ChainChecks(rejected.checks));
                refused(rejected.reason.as_str(), &rejected.message)
            }
        }
    }
}

/// The paid route's PaymentRequired document.
fn payment_required_doc(
    requirement_json: &[u8],
    resource_url: &str,
    offer: &Offer,
    error: Option<&str>,
) -> Vec<u8> {
    let Ok(req) = v2::PaymentRequirements::from_json_bytes(requirement_json, &Limits::DEFAULT)
    else {
        return Vec::new();
    };
    let accepts = [req];
    v2::PaymentRequired {
        error: error.map(JsonStr::new),
        resource: v2::ResourceInfo {
            description: Some(JsonStr::new(&offer.description)),
            mime_type: Some(JsonStr::new(&offer.mime_type)),
            ..v2::ResourceInfo::new(resource_url)
        },
        accepts: List::Slice(&accepts),
        extensions: None,
        source: JsonObject::EMPTY,
    }
    .to_json_vec()
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

/// The log's event for a request as it arrives.
fn request_event(req: &axum::extract::Request) -> Event {
    let has = |k: HeaderKind| req.headers().contains_key(k.name());
    let payment_header = if has(HeaderKind::PaymentSignature) {
        Some(HeaderKind::PaymentSignature.name())
    } else if has(HeaderKind::XPayment) {
        Some(HeaderKind::XPayment.name())
    } else {
        None
    };
    Event::Request {
        method: req.method().as_str().to_string(),
        target: req
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_string(), |p| p.as_str().to_string()),
        payment_header,
    }
}

/// Sells `path` in `layer` with the route document `json` (this program's own: well-formed).
fn route_on(
    layer: paywire_server::paywall::Paywall,
    path: &str,
    json: &[u8],
) -> paywire_server::paywall::Paywall {
    let doc = String::from_utf8_lossy(json);
    let route = format!("GET {path}");
    layer
        .route(&route, paywire_server::paywall::Offer::document(&doc))
        .unwrap_or_else(|e| {
            crate::say_err(&format!(
                "paywire: internal error: a route this program built: {e}\n"
            ));
            std::process::exit(2)
        })
}

/// A plain answer.
fn plain(status: u16, content_type: &str, body: Vec<u8>) -> axum::response::Response {
    let mut r = axum::response::Response::new(axum::body::Body::from(body));
    *r.status_mut() = axum::http::StatusCode::from_u16(status)
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = axum::http::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(axum::http::header::CONTENT_TYPE, v);
    }
    r
}

/// 405 for anything but GET and HEAD on a paid path.
fn use_get() -> axum::response::Response {
    let mut r = plain(405, "text/plain; charset=utf-8", b"use GET\n".to_vec());
    r.headers_mut().insert(
        axum::http::header::ALLOW,
        axum::http::HeaderValue::from_static("GET, HEAD"),
    );
    r
}

/// Where the paywall settles: the simulated ledger, or a facilitator (whose
/// failures go to the log).
struct ShopSettler(Arc<Paywall>);

impl ShopSettler {
    async fn at_facilitator(&self, path: &str, body: &str, timeout: Duration) -> Reply {
        let Settlement::Facilitator {
            url,
            client: facilitator,
        } = &self.0.settlement
        else {
            return Reply::NotSent("no facilitator".into());
        };
        let reply = if path == "verify" {
            facilitator.verify(body, timeout).await
        } else {
            facilitator.settle(body, timeout).await
        };
        if let Reply::NotSent(why) | Reply::NoAnswer(why) = &reply {
            (self.0.events)(Event::Problem {
                message: format!("facilitator {}/{path}: {why}", url.trim_end_matches('/')),
            });
        }
        reply
    }
}

#[async_trait::async_trait]
impl Settler for ShopSettler {
    async fn settle(&self, body: &str, timeout: Duration) -> Reply {
        match &self.0.settlement {
            Settlement::Ledger(ledger) => Reply::Answered {
                status: 200,
                body: self.0.settle_on_ledger(ledger, body),
            },
            Settlement::Facilitator { .. } => self.at_facilitator("settle", body, timeout).await,
        }
    }

    async fn verify(&self, body: &str, timeout: Duration) -> Reply {
        match &self.0.settlement {
            Settlement::Ledger(_) => Reply::Answered {
                status: 200,
                body: verify::verify_json(body.as_bytes(), now(), &Config::default()).to_json_vec(),
            },
            Settlement::Facilitator { .. } => self.at_facilitator("verify", body, timeout).await,
        }
    }
}

/// The paywall's doings, told as events.
struct ShopObserver(Arc<Paywall>);

impl Observer for ShopObserver {
    fn verified(&self, verdict_json: &str) {
        (self.0.events)(Event::Verified {
            valid: verdict_json.starts_with("{\"isValid\":true"),
            response: verdict_json.to_string(),
        });
    }

    fn answered(&self, a: &Answered<'_>) {
        let shop = &self.0;
        if let Some(record) = a.lifecycle.uncertain_record() {
            (shop.events)(Event::Uncertain {
                record: record.to_string(),
            });
        }
        let deferred = shop
            .deferred
            .as_ref()
            .is_some_and(|d| d.offer.path == a.path);
        shop.tell(a.answer, a.settled_through, deferred, a.lifecycle);
        if shop.exit_after_settle && a.answer.outcome == Outcome::Delivered {
            crate::say_err(
                "paywire: PAYWIRE_SERVE_FAULT=exit-after-settle: stopping before the answer\n",
            );
            std::process::exit(3);
        }
        if matches!(a.answer.outcome, Outcome::Delivered | Outcome::Redelivered) {
            (shop.events)(Event::Served {
                status: a.answer.status,
                bytes: a
                    .body_len
                    .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX)),
            });
        }
    }

    fn store_error(&self, message: &str) {
        (self.0.events)(Event::Problem {
            message: format!("replay store: {message}"),
        });
    }
}

/// The key directories of the agents registered for deferred payments
/// (fetched once each, told as events).
struct ShopDirectories(Arc<Paywall>);

#[async_trait::async_trait]
impl Directories for ShopDirectories {
    async fn directory(&self, agent: &str) -> Option<String> {
        let shop = Arc::clone(&self.0);
        let agent = agent.to_string();
        tokio::task::spawn_blocking(move || shop.directory(&agent))
            .await
            .ok()
            .flatten()
            .and_then(|j| String::from_utf8(j).ok())
    }
}

impl Paywall {
    /// The key directory of a registered agent (fetched once).
    fn directory(&self, agent: &str) -> Option<Vec<u8>> {
        let d = self.deferred.as_ref()?;
        if !lock(&d.agents).iter().any(|a| a == agent) {
            return None;
        }
        if let Some(j) = lock(&d.directories).get(agent) {
            return Some(j.clone());
        }
        let url = format!(
            "{}{}",
            agent.trim_end_matches('/'),
            batch::directory::WELL_KNOWN_PATH
        );
        let reply = match client_http::get(&url, &[]) {
            Ok(r) => r,
            Err(f) => {
                (self.events)(Event::Problem {
                    message: format!("the key directory of {agent}: {}", f.message),
                });
                return None;
            }
        };
        match Directory::parse(&reply.body) {
            Ok(dir) => (self.events)(Event::DirectoryFetched {
                agent: agent.to_string(),
                keys: dir.keys().count(),
            }),
            Err(e) => {
                (self.events)(Event::Problem {
                    message: format!("the key directory of {agent}: {e}"),
                });
                return None;
            }
        }
        lock(&d.directories).insert(agent.to_string(), reply.body.clone());
        Some(reply.body)
    }
}
