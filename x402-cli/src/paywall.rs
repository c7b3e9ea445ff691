//! The resource server: a paywalled resource answering 402 with a
//! `PAYMENT-REQUIRED` header, and an optional deferred-payment route. Each
//! request is driven through `paywire::lifecycle`, which decides everything
//! about the payment (which requirement it pays, verification, the replay
//! record, when to settle, what to answer); this host only does the I/O: it
//! reads and swaps records in its replay store, runs the handler (static
//! content, or an upstream server), settles (on the simulated ledger, or
//! through a facilitator's `POST /settle`) and sends the answer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use paywire::batch::{self, directory::Directory};
use paywire::evm::Address;
use paywire::header::{self, HeaderKind};
use paywire::json::{JsonObject, JsonStr, Limits, ToJson};
use paywire::lifecycle::{
    self, Action, Answer, HandlerResult, Lifecycle, Outcome, Route, Settings, SettleReply,
};
use paywire::types::facilitator::{PaymentPayload, SettleResponse};
use paywire::types::payload::SchemePayload;
use paywire::types::{Extra, FromJson, List, v2};
use paywire::verify::{self, Config};
use paywire::{Amount, Network};
use zeroize::Zeroizing;

use crate::client_http::{self, Posted};
use crate::http::{Request, Response};
use crate::ledger::{CheckResult, Ledger};
use paywire_server::paywall::{BlockingRecords as ReplayStore, MemoryRecords as MemoryStore};

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
    route: Route,
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
    /// A facilitator: `POST {url}/settle`, with `Authorization: Bearer {key}`
    /// when it asks resource servers for an API key.
    Facilitator {
        /// Its base URL.
        url: String,
        /// The API key it gave this resource server.
        key: Option<Zeroizing<String>>,
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
    route: Route,
    settlement: Settlement,
    events: Box<dyn Fn(Event) + Send + Sync>,
    deferred: Option<Deferred>,
    origin: String,
    store: Arc<dyn ReplayStore>,
    settings: Settings,
    content: Content,
    /// Stop the process once a settlement is recorded, before answering
    /// (`PAYWIRE_SERVE_FAULT=exit-after-settle`: to test recovery after a crash).
    exit_after_settle: bool,
    next_id: AtomicU64,
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
        let route = route_of(&payment_required_doc(
            &requirement_json,
            &resource_url,
            &offer,
            None,
        ));
        Paywall {
            resource_url,
            offer,
            requirement_json,
            route,
            settlement,
            events,
            deferred: None,
            origin: origin.to_string(),
            store: Arc::new(MemoryStore::default()),
            settings: Settings::default(),
            content: Content::Fixed,
            exit_after_settle: std::env::var("PAYWIRE_SERVE_FAULT").as_deref()
                == Ok("exit-after-settle"),
            next_id: AtomicU64::new(0),
        }
    }

    /// Keeps replay records in `store` instead of memory.
    pub(crate) fn with_store(mut self, store: Arc<dyn ReplayStore>) -> Paywall {
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
        self.deferred = Some(Deferred {
            offer,
            route: route_of(&json),
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
                if req.method != "GET" && req.method != "HEAD" {
                    return Response::new(405, "text/plain; charset=utf-8", "use GET\n")
                        .with_header("Allow", "GET, HEAD");
                }
                return self.run(req, true);
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
        self.run(req, false)
    }

    /// Drives one request's lifecycle: the core decides, this does the I/O.
    fn run(&self, req: &Request, deferred: bool) -> Response {
        let route = match (&self.deferred, deferred) {
            (Some(d), true) => &d.route,
            _ => &self.route,
        };
        // Signatures of deferred payments cover @authority as the client addressed it.
        let url = match req.header("Host") {
            Some(host) => format!("http://{host}{}", req.target),
            None => format!("{}{}", self.origin, req.target),
        };
        let headers: Vec<(&str, &str)> = req
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let request = lifecycle::Request {
            method: &req.method,
            url: &url,
            headers: &headers,
        };
        let id = format!(
            "{}-{}",
            std::process::id(),
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let mut life = Lifecycle::new(route, &request, now(), &id, &self.settings);
        let mut held: Option<Response> = None;
        let mut settled_through = false;
        let mut verdict_told = false;
        for _ in 0..64 {
            if !verdict_told && let Some(v) = life.verdict_json() {
                verdict_told = true;
                (self.events)(Event::Verified {
                    valid: v.starts_with("{\"isValid\":true"),
                    response: v.to_string(),
                });
            }
            match life.next() {
                Action::Lookup { key } => match self.store.get(key) {
                    Ok(r) => life.feed_record(r.as_deref()),
                    Err(e) => self.store_error(&mut life, &e),
                },
                Action::Swap { key, expected, new } => match self.store.swap(key, expected, new) {
                    Ok(r) => life.feed_swap(r.as_ref().map(|_| ()).map_err(Option::as_deref)),
                    Err(e) => self.store_error(&mut life, &e),
                },
                Action::Directory { agent } => {
                    let agent = agent.to_string();
                    let jwks = self.directory(&agent);
                    life.feed_directory(jwks.as_deref());
                }
                Action::Handle => {
                    let mut produced = self.produce(req, deferred);
                    // An upstream's charge for an `upto` payment: read, never sent on.
                    if let Ok(r) = &mut produced {
                        let name = lifecycle::SETTLEMENT_OVERRIDES_HEADER;
                        if let Some(value) = r.header(name).map(str::to_owned) {
                            r.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
                            if let Err(why) = life.feed_settlement_overrides(&value) {
                                (self.events)(Event::Problem { message: why });
                            }
                        }
                    }
                    life.advance_clock(now());
                    match &produced {
                        Ok(r) => life.feed_handler(HandlerResult::Status(r.status)),
                        Err(e) => {
                            (self.events)(Event::Problem {
                                message: format!("the content could not be produced: {e}"),
                            });
                            life.feed_handler(HandlerResult::Failed(e));
                        }
                    }
                    held = produced.ok();
                }
                Action::Settle { body, timeout_ms } => {
                    settled_through = true;
                    let body = body.to_string();
                    let (reply, detail) = self.settle(&body, timeout_ms);
                    life.advance_clock(now());
                    let (r, d) = (reply.as_reply(), detail);
                    life.feed_settle(r, &d);
                }
                Action::Verify { body, timeout_ms } => {
                    let body = body.to_string();
                    let (reply, detail) = self.verify(&body, timeout_ms);
                    life.advance_clock(now());
                    life.feed_verify(reply.as_reply(), &detail);
                }
                Action::Respond(answer) => {
                    let answer = answer.clone();
                    if let Some(record) = life.uncertain_record() {
                        (self.events)(Event::Uncertain {
                            record: record.to_string(),
                        });
                    }
                    self.tell(&answer, settled_through, deferred, &life);
                    if self.exit_after_settle && answer.outcome == Outcome::Delivered {
                        crate::say_err(
                            "paywire: PAYWIRE_SERVE_FAULT=exit-after-settle: stopping before the answer\n",
                        );
                        std::process::exit(3);
                    }
                    let response = build(&answer, held.take());
                    if matches!(answer.outcome, Outcome::Delivered | Outcome::Redelivered) {
                        (self.events)(Event::Served {
                            status: response.status,
                            bytes: response.body.len(),
                        });
                    }
                    let store = Arc::clone(&self.store);
                    return response.after(Box::new(move |written| {
                        // Not written: the record stays settled, and the
                        // payment's next presentation gets the content.
                        if written {
                            life.responded();
                            finish(&mut life, store.as_ref());
                        }
                    }));
                }
                Action::Done => break,
            }
        }
        Response::new(
            500,
            "text/plain; charset=utf-8",
            "the request's lifecycle ended without an answer\n",
        )
    }

    fn store_error(&self, life: &mut Lifecycle, e: &str) {
        (self.events)(Event::Problem {
            message: format!("replay store: {e}"),
        });
        life.feed_store_error(e);
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

    /// The content, held back: the offer's bytes, or the upstream's answer.
    fn produce(&self, req: &Request, deferred: bool) -> Result<Response, String> {
        if let (Some(d), true) = (&self.deferred, deferred) {
            return Ok(Response::new(
                200,
                &d.offer.mime_type,
                d.offer.content.clone(),
            ));
        }
        match &self.content {
            Content::Fixed => Ok(Response::new(
                200,
                &self.offer.mime_type,
                self.offer.content.clone(),
            )),
            Content::Upstream(base) => {
                let url = format!("{}{}", base.trim_end_matches('/'), req.target);
                let reply = client_http::get(&url, &[]).map_err(|f| f.message)?;
                let mut resp = Response::new(reply.status, "application/octet-stream", reply.body);
                resp.headers.clear();
                for (n, v) in reply.headers {
                    let hop = [
                        "connection",
                        "keep-alive",
                        "transfer-encoding",
                        "content-length",
                    ];
                    if !hop.iter().any(|h| n.eq_ignore_ascii_case(h)) {
                        resp.headers.push((n, v));
                    }
                }
                Ok(resp)
            }
        }
    }

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

    /// Settles a `POST /settle` body: on the ledger, or at the facilitator.
    fn settle(&self, body: &str, timeout_ms: u64) -> (Posted, String) {
        match &self.settlement {
            Settlement::Ledger(ledger) => (
                Posted::Answered {
                    status: 200,
                    body: self.settle_on_ledger(ledger, body),
                },
                String::new(),
            ),
            Settlement::Facilitator { .. } => self.post_to_facilitator("settle", body, timeout_ms),
        }
    }

    /// Verifies a `POST /verify` body: offline on the ledger, or at the facilitator.
    fn verify(&self, body: &str, timeout_ms: u64) -> (Posted, String) {
        match &self.settlement {
            Settlement::Ledger(_) => (
                Posted::Answered {
                    status: 200,
                    body: verify::verify_json(body.as_bytes(), now(), &Config::default())
                        .to_json_vec(),
                },
                String::new(),
            ),
            Settlement::Facilitator { .. } => self.post_to_facilitator("verify", body, timeout_ms),
        }
    }

    /// `POST {facilitator}/{path}` with `body`, once.
    fn post_to_facilitator(&self, path: &str, body: &str, timeout_ms: u64) -> (Posted, String) {
        match &self.settlement {
            Settlement::Ledger(_) => (Posted::NotSent("no facilitator".into()), String::new()),
            Settlement::Facilitator { url: base, key } => {
                let url = format!("{}/{path}", base.trim_end_matches('/'));
                let timeout = Duration::from_millis(timeout_ms.max(1));
                let posted = client_http::post_json_once(
                    &url,
                    body.as_bytes(),
                    key.as_deref().map(String::as_str),
                    timeout,
                );
                let detail = match &posted {
                    Posted::NotSent(why) | Posted::NoAnswer(why) => {
                        (self.events)(Event::Problem {
                            message: format!("facilitator {url}: {why}"),
                        });
                        why.clone()
                    }
                    Posted::Answered { .. } => String::new(),
                };
                (posted, detail)
            }
        }
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

impl Posted {
    fn as_reply(&self) -> SettleReply<'_> {
        match self {
            Posted::NotSent(_) => SettleReply::NotSent,
            Posted::NoAnswer(_) => SettleReply::NoAnswer,
            Posted::Answered { status, body } => SettleReply::Answered {
                status: *status,
                body,
            },
        }
    }
}

/// The response for an answer: the held handler response with the answer's
/// headers set over it, or the answer's own.
fn build(a: &Answer, held: Option<Response>) -> Response {
    let mut resp = match (a.use_handler_response, held) {
        (true, Some(r)) => r,
        (true, None) => Response::new(500, "text/plain; charset=utf-8", "no response\n"),
        (false, _) => {
            let ct = a.header("Content-Type").unwrap_or("application/json");
            Response::new(a.status, ct, a.body.clone().unwrap_or_default())
        }
    };
    for (n, v) in &a.headers {
        resp = resp.set_header(n, v);
    }
    resp
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
            url: JsonStr::new(resource_url),
            description: Some(JsonStr::new(&offer.description)),
            mime_type: Some(JsonStr::new(&offer.mime_type)),
            source: JsonObject::EMPTY,
        },
        accepts: List::Slice(&accepts),
        extensions: None,
        source: JsonObject::EMPTY,
    }
    .to_json_vec()
}

/// Runs the lifecycle's last steps (the delivered record) after the answer went out.
fn finish(life: &mut Lifecycle, store: &dyn ReplayStore) {
    for _ in 0..16 {
        match life.next() {
            Action::Swap { key, expected, new } => match store.swap(key, expected, new) {
                Ok(r) => life.feed_swap(r.as_ref().map(|_| ()).map_err(Option::as_deref)),
                Err(e) => life.feed_store_error(&e),
            },
            _ => return,
        }
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
