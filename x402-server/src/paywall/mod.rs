//! A paywall as a tower [`Layer`]: axum (or any tower stack over axum's body)
//! answers 402 on its paid routes, and serves a paid request only once its
//! payment is settled.
//!
//! The decisions are the core's [`Lifecycle`]: the payment is verified
//! locally, claimed in a [`RecordStore`] before the handler runs, the
//! handler's response is held back while the facilitator settles, and only a
//! settlement with a transaction delivers it. A payment is delivered once (a
//! second presentation gets 409 with the first `PAYMENT-RESPONSE`); a
//! facilitator that fails never gets content delivered nor the client asked
//! to pay again (502 `facilitator_unavailable` when nothing can have settled,
//! 502 `settlement_uncertain` — recorded for reconciliation — when something
//! may have). This module only does the I/O the lifecycle asks for.
//!
//! A handler behind an `upto` route charges what it used by setting the
//! `Settlement-Overrides` header on its response (`{"amount": "120000"}` or
//! `{"amount": "40%"}`, as the official SDKs' `setSettlementOverrides`): the
//! paywall settles that amount, capped at what the payment permits, and
//! strips the header.
//!
//! Routes are told apart by what they ask: a payment is a signature over a
//! transfer (amount, asset, recipient), not over a URL, so a payment made for
//! one route is refused on any route that asks for something else, and two
//! routes that ask for exactly the same accept each other's payments (as with
//! the official SDKs' middleware). Each payment is delivered once, whichever
//! route it is presented on.
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use paywire_server::paywall::{Facilitator, MemoryRecords, Offer, Paywall};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let paywall = Paywall::new(
//!     Facilitator::new("https://facilitator.example")?.api_key("the key it gave you"),
//!     Arc::new(MemoryRecords::default()),
//! )
//! .route(
//!     "GET /weather",
//!     Offer::exact("eip155:84532", "0x036CbD53842c5426634e7929541eC2318f3dCF7e", "10000",
//!                   "0x209693Bc6afc0C5328bA36FaF03C514EF312287C")
//!         .token("USDC", "2"),
//! )?;
//! let app: Router = Router::new()
//!     .route("/weather", get(|| async { "sunny" }))
//!     .layer(paywall.layer());
//! # let _ = app; Ok(()) }
//! ```

mod body;
mod client;
mod directories;
mod manager;
mod records;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, header};
use paywire::lifecycle::{
    self, Action, Answer, HandlerResult, Lifecycle, Route, SETTLEMENT_OVERRIDES_HEADER, Settings,
};
use tower::{Layer, Service};

pub use client::{Facilitator, Reply, Settler};
pub use directories::{AgentDirectories, Directories};
pub use manager::{
    ChannelManager, ClaimBatchReport, ClaimReport, ClaimedChannel, DEFAULT_MANAGER_TIMEOUT,
    ManagerOutcome, NotClaimed, RecordUpdate,
};
pub use records::{
    BlockingRecords, DEFAULT_MEMORY_RECORDS, MemoryRecords, PostgresRecords, RecordStore,
    SqliteRecords, Swapped,
};

/// What a route sells, as the 402 it answers: one `exact` requirement on an
/// EVM network (see [`Offer::exact`]), or any `PaymentRequired` document the
/// core's [`Route::from_json`] accepts ([`Offer::document`]).
#[derive(Clone, Debug)]
pub struct Offer {
    kind: OfferKind,
    /// The bazaar declaration, as given.
    bazaar: Option<String>,
}

#[derive(Clone, Debug)]
enum OfferKind {
    Exact {
        network: String,
        asset: String,
        amount: String,
        pay_to: String,
        token: (String, String),
        max_timeout_seconds: u64,
        description: String,
        mime_type: String,
    },
    Document(String),
}

impl Offer {
    /// An `exact` payment of `amount` (atomic units, decimal) of the token at
    /// `asset` on `network` (`eip155:<chain id>`) to `pay_to`. The token's
    /// EIP-712 domain defaults to USDC's (`"USD Coin"`, `"2"`): set it with
    /// [`Offer::token`].
    #[must_use]
    pub fn exact(network: &str, asset: &str, amount: &str, pay_to: &str) -> Offer {
        Offer {
            kind: OfferKind::Exact {
                network: network.to_owned(),
                asset: asset.to_owned(),
                amount: amount.to_owned(),
                pay_to: pay_to.to_owned(),
                token: ("USD Coin".to_owned(), "2".to_owned()),
                max_timeout_seconds: 60,
                description: String::new(),
                mime_type: "application/json".to_owned(),
            },
            bazaar: None,
        }
    }

    /// A whole `PaymentRequired` document (x402 version 2): several
    /// requirements, `upto`, `batch-settlement`, extensions. Its
    /// `resource.url` is kept as written.
    #[must_use]
    pub fn document(payment_required_json: &str) -> Offer {
        Offer {
            kind: OfferKind::Document(payment_required_json.to_owned()),
            bazaar: None,
        }
    }

    /// Declares the route to discovery services (the `bazaar` extension):
    /// `declaration` is the `extensions.bazaar` object
    /// (`paywire::bazaar::Declaration` writes one, as the reference's
    /// `declareDiscoveryExtension` does). An HTTP declaration is given the
    /// route's method, as the reference's server extension does per request;
    /// one that then breaks the extension's rules or its own schema makes
    /// [`Paywall::route`] fail. A document's own `extensions.bazaar` is
    /// treated alike.
    #[must_use]
    pub fn bazaar(mut self, declaration: &str) -> Offer {
        self.bazaar = Some(declaration.to_owned());
        self
    }

    /// The token's EIP-712 domain name and version.
    #[must_use]
    pub fn token(mut self, name: &str, version: &str) -> Offer {
        if let OfferKind::Exact { token, .. } = &mut self.kind {
            *token = (name.to_owned(), version.to_owned());
        }
        self
    }

    /// The resource's description and media type, as the 402 shows them.
    #[must_use]
    pub fn describe(mut self, text: &str, media_type: &str) -> Offer {
        if let OfferKind::Exact {
            description,
            mime_type,
            ..
        } = &mut self.kind
        {
            text.clone_into(description);
            media_type.clone_into(mime_type);
        }
        self
    }

    /// How long a payment for it may take to settle (`maxTimeoutSeconds`,
    /// default 60).
    #[must_use]
    pub fn max_timeout_seconds(mut self, seconds: u64) -> Offer {
        if let OfferKind::Exact {
            max_timeout_seconds,
            ..
        } = &mut self.kind
        {
            *max_timeout_seconds = seconds;
        }
        self
    }

    pub(crate) fn route(&self, resource_url: &str, method: &str) -> Result<Route, Error> {
        let json = match &self.kind {
            OfferKind::Document(doc) => doc.clone(),
            OfferKind::Exact {
                network,
                asset,
                amount,
                pay_to,
                token,
                max_timeout_seconds,
                description,
                mime_type,
            } => serde_json::json!({
                "x402Version": 2,
                "resource": { "url": resource_url, "description": description, "mimeType": mime_type },
                "accepts": [{
                    "scheme": "exact",
                    "network": network,
                    "amount": amount,
                    "asset": asset,
                    "payTo": pay_to,
                    "maxTimeoutSeconds": max_timeout_seconds,
                    "extra": { "name": token.0, "version": token.1 },
                }],
            })
            .to_string(),
        };
        let json = self.declared(json, method)?;
        Route::from_json(json.as_bytes()).map_err(|e| Error(format!("the offer: {e}")))
    }

    /// The document with its bazaar declaration (the offer's, else its own)
    /// given the route's method and checked.
    fn declared(&self, json: String, method: &str) -> Result<String, Error> {
        let mut doc: serde_json::Value =
            serde_json::from_str(&json).map_err(|e| Error(format!("the offer: {e}")))?;
        let given = match &self.bazaar {
            Some(d) => Some(d.clone()),
            None => doc
                .pointer("/extensions/bazaar")
                .map(serde_json::Value::to_string),
        };
        let Some(given) = given else {
            return Ok(json);
        };
        let limits = paywire::json::Limits {
            max_len: 64 * 1024,
            max_depth: 64,
        };
        let ext = paywire::json::parse(given.as_bytes(), &limits)
            .map_err(|e| Error(format!("the offer's bazaar declaration: {e}")))?;
        let enriched = paywire::bazaar::enrich(ext, method).unwrap_or_else(|| given.clone());
        let checked = paywire::json::parse(enriched.as_bytes(), &limits)
            .map_err(|e| Error(format!("the offer's bazaar declaration: {e}")))?;
        paywire::bazaar::check_declaration(checked)
            .map_err(|e| Error(format!("the offer's {e}")))?;
        let value: serde_json::Value =
            serde_json::from_str(&enriched).map_err(|e| Error(format!("the offer: {e}")))?;
        let Some(o) = doc.as_object_mut() else {
            return Ok(json);
        };
        let extensions = o
            .entry("extensions")
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        match extensions.as_object_mut() {
            Some(e) => {
                e.insert(paywire::bazaar::BAZAAR.to_owned(), value);
            }
            None => return Err(Error("the offer: extensions is an object".into())),
        }
        Ok(doc.to_string())
    }
}

/// A paywall's configuration error, naming what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// One paid route.
#[derive(Debug)]
struct Paid {
    method: Method,
    path: String,
    route: Route,
}

/// The paywall: its paid routes, where payments settle, where their records
/// are kept. Cheap to clone; [`Paywall::layer`] puts it in front of a service.
#[derive(Clone)]
pub struct Paywall {
    pub(crate) inner: Arc<Inner>,
}

/// Put in a response's extensions by a handler that could not produce the
/// resource (an upstream unreachable, ...): the payment is not settled, and
/// the client gets 500 `handler_failed` (the text goes to the log).
#[derive(Clone, Debug)]
pub struct HandlerFailed(pub String);

/// What a paid request came to, for a host's log ([`Observer::answered`]).
#[derive(Debug)]
pub struct Answered<'a> {
    /// The paid route's path.
    pub path: &'a str,
    /// The answer about to be sent.
    pub answer: &'a Answer,
    /// The request's lifecycle (its verdict, its uncertain record, ...).
    pub lifecycle: &'a Lifecycle,
    /// Whether the payment went to the facilitator's `/settle` on this request.
    pub settled_through: bool,
    /// The answer body's length, when known.
    pub body_len: Option<u64>,
}

/// Watches what a paywall does, for a host's log or metrics. Every method
/// does nothing by default.
pub trait Observer: Send + Sync {
    /// The offline verdict of a presented payment, as a `VerifyResponse`.
    fn verified(&self, _verdict_json: &str) {}
    /// A paid request's answer, before it is sent.
    fn answered(&self, _answered: &Answered<'_>) {}
    /// The record store failed.
    fn store_error(&self, _message: &str) {}
}

pub(crate) struct Inner {
    routes: Vec<Paid>,
    facilitator: Arc<dyn Settler>,
    observer: Option<Arc<dyn Observer>>,
    pub(crate) records: Arc<dyn RecordStore>,
    directories: Option<Arc<dyn Directories>>,
    pub(crate) settings: Settings,
    origin: Option<String>,
    pub(crate) next_id: AtomicU64,
}

impl std::fmt::Debug for Paywall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paywall")
            .field("routes", &self.inner.routes)
            .finish_non_exhaustive()
    }
}

impl Paywall {
    /// A paywall with no paid route yet, settling through `facilitator`,
    /// keeping payments' records in `records`.
    #[must_use]
    pub fn new(facilitator: impl Settler + 'static, records: Arc<dyn RecordStore>) -> Paywall {
        Paywall {
            inner: Arc::new(Inner {
                routes: Vec::new(),
                facilitator: Arc::new(facilitator),
                observer: None,
                records,
                directories: None,
                settings: Settings::default(),
                origin: None,
                next_id: AtomicU64::new(0),
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Inner)) -> Paywall {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => f(inner),
            None => {
                // Configured after a clone: rebuild from a copy of the parts.
                let old = &self.inner;
                let mut inner = Inner {
                    routes: old
                        .routes
                        .iter()
                        .map(|p| Paid {
                            method: p.method.clone(),
                            path: p.path.clone(),
                            route: p.route.clone(),
                        })
                        .collect(),
                    facilitator: Arc::clone(&old.facilitator),
                    observer: old.observer.clone(),
                    records: Arc::clone(&old.records),
                    directories: old.directories.clone(),
                    settings: old.settings.clone(),
                    origin: old.origin.clone(),
                    next_id: AtomicU64::new(0),
                };
                f(&mut inner);
                self.inner = Arc::new(inner);
            }
        }
        self
    }

    /// Sells `"METHOD /path"` (`GET` also answers `HEAD`, which never
    /// settles) with `offer`.
    ///
    /// # Errors
    /// The route is not `"METHOD /path"`, or the offer is not one the core's
    /// lifecycle can settle (the error names the field).
    pub fn route(self, route: &str, offer: Offer) -> Result<Paywall, Error> {
        let (method, path) = route
            .split_once(' ')
            .ok_or_else(|| Error(format!("route {route:?}: \"METHOD /path\"")))?;
        // A typo must not leave a route unpaid: upper-case methods, literal
        // paths (matched as sent, after any `nest` prefix is stripped).
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Error(format!(
                "route {route:?}: {method:?} is not an upper-case method"
            )));
        }
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| Error(format!("route {route:?}: {method:?} is not a method")))?;
        if !path.starts_with('/') {
            return Err(Error(format!("route {route:?}: the path starts with /")));
        }
        if path.contains(['{', '}', '*', ':', '?', '#', ' ']) {
            return Err(Error(format!(
                "route {route:?}: a literal path (no patterns, query or fragment)"
            )));
        }
        let origin = self.inner.origin.as_deref().unwrap_or("http://localhost");
        let route_doc = offer.route(&format!("{origin}{path}"), method.as_str())?;
        let path = path.to_owned();
        Ok(self.edit(|inner| {
            inner.routes.push(Paid {
                method,
                path,
                route: route_doc,
            });
        }))
    }

    /// Who watches what the paywall does (a log, metrics).
    #[must_use]
    pub fn observer(self, observer: Arc<dyn Observer>) -> Paywall {
        self.edit(|inner| inner.observer = Some(observer))
    }

    /// Where `batch-settlement` agents' key directories come from (without
    /// it, every such payment is refused as from an unknown agent).
    #[must_use]
    pub fn directories(self, directories: Arc<dyn Directories>) -> Paywall {
        self.edit(|inner| inner.directories = Some(directories))
    }

    /// The lifecycle's settings (settle timeout, claim lease, ...).
    #[must_use]
    pub fn settings(self, settings: Settings) -> Paywall {
        self.edit(|inner| inner.settings = settings)
    }

    /// The origin clients address (`https://shop.example`), for the
    /// resource URL in offers set after this; without it, the request's
    /// `Host` is used for signatures and `http://localhost` in offers.
    #[must_use]
    pub fn origin(self, origin: &str) -> Paywall {
        let origin = origin.trim_end_matches('/').to_owned();
        self.edit(|inner| inner.origin = Some(origin))
    }

    /// This paywall as a tower layer (axum: `Router::layer`).
    #[must_use]
    pub fn layer(&self) -> PaywallLayer {
        PaywallLayer {
            paywall: self.clone(),
        }
    }

    fn paid(&self, method: &Method, path: &str) -> Option<&Paid> {
        self.inner.routes.iter().find(|p| {
            p.path == path
                && (p.method == method || (p.method == Method::GET && method == Method::HEAD))
        })
    }
}

/// The layer of a [`Paywall`].
#[derive(Clone, Debug)]
pub struct PaywallLayer {
    paywall: Paywall,
}

impl<S> Layer<S> for PaywallLayer {
    type Service = PaywallService<S>;

    fn layer(&self, inner: S) -> PaywallService<S> {
        PaywallService {
            paywall: self.paywall.clone(),
            inner,
        }
    }
}

/// A service behind a [`Paywall`].
#[derive(Clone, Debug)]
pub struct PaywallService<S> {
    paywall: Paywall,
    inner: S,
}

impl<S> Service<Request<Body>> for PaywallService<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // The clone that was made ready serves this request (tower's rule).
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let paywall = self.paywall.clone();
        // On a task of its own: a client gone, or a deadline answered 408,
        // drops this future, never a settlement in flight — the lifecycle
        // runs to its end and records what came of it (settled, or
        // uncertain), and an answer never sent is not marked delivered.
        let task = tokio::spawn(async move { paywall.serve(req, inner).await });
        Box::pin(async move {
            Ok(task.await.unwrap_or_else(|_| {
                plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the paid request's task failed",
                )
            }))
        })
    }
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Paywall {
    async fn serve<S>(&self, req: Request<Body>, mut inner: S) -> Response<Body>
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
    {
        let Some(paid) = self.paid(req.method(), req.uri().path()) else {
            return match inner.call(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
        };
        let target = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let url = match (&self.inner.origin, req.headers().get(header::HOST)) {
            (Some(origin), _) => format!("{origin}{target}"),
            (None, Some(host)) => {
                format!("http://{}{target}", host.to_str().unwrap_or("localhost"))
            }
            (None, None) => format!("http://localhost{target}"),
        };
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let header_refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let method = req.method().as_str().to_owned();
        let request = lifecycle::Request {
            method: &method,
            url: &url,
            headers: &header_refs,
        };
        let id = format!(
            "{}-{}",
            std::process::id(),
            self.inner.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let life = Lifecycle::new(&paid.route, &request, now(), &id, &self.inner.settings);
        let started = std::time::Instant::now();
        let handle = || async move {
            let mut response = match inner.call(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            // What an `upto` handler charged: read, and never sent on.
            let overrides = response
                .headers_mut()
                .remove(SETTLEMENT_OVERRIDES_HEADER)
                .map(|v| v.to_str().unwrap_or("(not text)").to_owned());
            let result = match response.extensions().get::<HandlerFailed>() {
                Some(HandlerFailed(why)) => Err(why.clone()),
                None => Ok(response.status().as_u16()),
            };
            Handled {
                held: Some(response),
                result,
                overrides,
            }
        };
        let Some(Responding {
            answer,
            life,
            held,
            settled_through,
        }) = self.inner.drive(life, &target, handle).await
        else {
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the request's lifecycle ended without an answer",
            );
        };
        log(&answer, &life, &method, &target, started);
        let response = build(&answer, held);
        if let Some(o) = self.inner.observer.as_deref() {
            o.answered(&Answered {
                path: &paid.path,
                answer: &answer,
                lifecycle: &life,
                settled_through,
                body_len: http_body::Body::size_hint(response.body()).exact(),
            });
        }
        let records = Arc::clone(&self.inner.records);
        body::after_sent(
            response,
            Box::new(move |sent| {
                Box::pin(async move {
                    // Not sent: the record stays settled, and the payment's
                    // next presentation gets the content.
                    if sent {
                        finish(life, records.as_ref()).await;
                    }
                })
            }),
        )
    }
}

/// What a handler produced, for the lifecycle: its answer (held back), its
/// status or why it failed, and an `upto` charge.
pub(crate) struct Handled<H> {
    pub(crate) held: Option<H>,
    pub(crate) result: Result<u16, String>,
    pub(crate) overrides: Option<String>,
}

/// A lifecycle at its answer: the answer, the lifecycle (to mark the payment
/// delivered once the answer is out, [`finish`]), the handler's held answer.
pub(crate) struct Responding<H> {
    pub(crate) answer: Answer,
    pub(crate) life: Lifecycle,
    pub(crate) held: Option<H>,
    pub(crate) settled_through: bool,
}

impl Inner {
    /// Drives `life` to its answer, for a paywall of any transport (HTTP
    /// here, MCP tools in [`crate::mcp`]): records, the agents' directories,
    /// the handler (`handle`, run at most once), the facilitator. `label`
    /// names the request in logs. `None`: the lifecycle ended without an answer.
    pub(crate) async fn drive<H, Fut>(
        &self,
        mut life: Lifecycle,
        label: &str,
        handle: impl FnOnce() -> Fut,
    ) -> Option<Responding<H>>
    where
        Fut: Future<Output = Handled<H>>,
    {
        let mut handle = Some(handle);
        let mut held: Option<H> = None;
        let records = &self.records;
        let observer = self.observer.as_deref();
        let store_error = |life: &mut Lifecycle, e: &str| {
            if let Some(o) = observer {
                o.store_error(e);
            }
            life.feed_store_error(e);
        };
        let (mut verdict_told, mut settled_through) = (false, false);
        for _ in 0..64 {
            if !verdict_told && let Some(v) = life.verdict_json() {
                verdict_told = true;
                if let Some(o) = observer {
                    o.verified(v);
                }
            }
            match life.next() {
                Action::Lookup { key } => match records.get(key).await {
                    Ok(r) => life.feed_record(r.as_deref()),
                    Err(e) => store_error(&mut life, &e),
                },
                Action::Swap { key, expected, new } => {
                    match records.swap(key, expected, new).await {
                        Ok(r) => life.feed_swap(r.as_ref().map(|_| ()).map_err(Option::as_deref)),
                        Err(e) => store_error(&mut life, &e),
                    }
                }
                Action::Directory { agent } => {
                    let jwks = match &self.directories {
                        Some(d) => d.directory(agent).await,
                        None => None,
                    };
                    life.feed_directory(jwks.as_deref().map(str::as_bytes));
                }
                Action::Handle => {
                    let Some(handle) = handle.take() else {
                        life.feed_handler(HandlerResult::Failed("the request was already handled"));
                        continue;
                    };
                    let handled = handle().await;
                    if let Some(value) = &handled.overrides
                        && let Err(why) = life.feed_settlement_overrides(value)
                    {
                        tracing::warn!(target: "paywire::paywall", %label, %why, "the handler's charge");
                    }
                    life.advance_clock(now());
                    match &handled.result {
                        Ok(status) => life.feed_handler(HandlerResult::Status(*status)),
                        Err(why) => life.feed_handler(HandlerResult::Failed(why)),
                    }
                    held = handled.held;
                }
                Action::Settle { body, timeout_ms } => {
                    settled_through = true;
                    let body = body.to_owned();
                    let timeout = Duration::from_millis(timeout_ms.max(1));
                    let settled = self.facilitator.settle(&body, timeout).await;
                    life.advance_clock(now());
                    let (reply, detail) = settled.as_reply();
                    life.feed_settle(reply, &detail);
                }
                // With `Settings::verify_at_facilitator`: the facilitator's
                // chain checks before the handler runs.
                Action::Verify { body, timeout_ms } => {
                    let body = body.to_owned();
                    let timeout = Duration::from_millis(timeout_ms.max(1));
                    let verified = self.facilitator.verify(&body, timeout).await;
                    life.advance_clock(now());
                    let (reply, detail) = verified.as_reply();
                    life.feed_verify(reply, &detail);
                }
                Action::Respond(answer) => {
                    let answer = answer.clone();
                    return Some(Responding {
                        answer,
                        life,
                        held,
                        settled_through,
                    });
                }
                Action::Done => break,
            }
        }
        None
    }
}

/// The lifecycle's last steps (the delivered record), after the answer went out.
pub(crate) async fn finish(mut life: Lifecycle, records: &dyn RecordStore) {
    life.responded();
    for _ in 0..16 {
        match life.next() {
            Action::Swap { key, expected, new } => match records.swap(key, expected, new).await {
                Ok(r) => life.feed_swap(r.as_ref().map(|_| ()).map_err(Option::as_deref)),
                Err(e) => life.feed_store_error(&e),
            },
            _ => return,
        }
    }
}

/// One log line per paid request: what it came to, and why.
fn log(answer: &Answer, life: &Lifecycle, method: &str, target: &str, started: std::time::Instant) {
    let latency_ms = started.elapsed().as_millis() as u64;
    if let Some(record) = life.uncertain_record() {
        tracing::warn!(
            target: "paywire::paywall",
            %method, %target, record, "settlement uncertain: recorded for reconciliation"
        );
    }
    tracing::info!(
        target: "paywire::paywall",
        %method,
        %target,
        status = answer.status,
        outcome = answer.outcome.as_str(),
        reason = %answer.reason,
        latency_ms,
        "paid route"
    );
}

/// The lifecycle's answer as an HTTP response: the handler's own (held back
/// until now) with the answer's headers set over it, or the answer itself.
fn build(answer: &Answer, held: Option<Response<Body>>) -> Response<Body> {
    let mut response = match (answer.use_handler_response, held) {
        (true, Some(r)) => r,
        (_, _) => {
            let mut r = Response::new(Body::from(answer.body.clone().unwrap_or_default()));
            *r.status_mut() =
                StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            r
        }
    };
    if !answer.use_handler_response {
        *response.status_mut() =
            StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    for (name, value) in &answer.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(n, v);
        }
    }
    response
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(format!("{text}\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use paywire::bazaar::{Declaration, Input};
    use paywire::json::{Limits, ToJson, parse};

    const PAY_TO: &str = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
    const USDC: &str = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";

    fn declaration(method: Option<&str>) -> String {
        let example = parse(br#"{"city":"Paris"}"#, &Limits::DEFAULT).unwrap();
        Declaration {
            method,
            input: Input::Query {
                params: Some(example),
                schema: None,
            },
            output_example: None,
            output_schema: None,
        }
        .to_json_string()
    }

    fn offered(route: &Route) -> serde_json::Value {
        serde_json::from_str(&route.payment_required_json(None)).unwrap()
    }

    #[test]
    fn a_route_declares_itself_with_its_method() {
        let offer = Offer::exact("eip155:84532", USDC, "10", PAY_TO).bazaar(&declaration(None));
        let route = offer.route("https://shop.example/weather", "HEAD").unwrap();
        let ext = &offered(&route)["extensions"]["bazaar"];
        assert_eq!(ext["info"]["input"]["method"], "HEAD");
        assert_eq!(
            ext["schema"]["properties"]["input"]["properties"]["method"]["enum"],
            serde_json::json!(["HEAD"])
        );
        // A document's own declaration too.
        let doc = offered(&route).to_string();
        let route = Offer::document(&doc).route("ignored", "DELETE").unwrap();
        assert_eq!(
            offered(&route)["extensions"]["bazaar"]["info"]["input"]["method"],
            "DELETE"
        );
        // A body declared on a query method breaks the extension's rules.
        let body = Declaration {
            method: None,
            input: Input::Body {
                body_type: paywire::bazaar::BodyType::Json,
                example: None,
                schema: None,
            },
            output_example: None,
            output_schema: None,
        }
        .to_json_string();
        let offer = Offer::exact("eip155:84532", USDC, "10", PAY_TO).bazaar(&body);
        let e = offer.route("https://shop.example/x", "GET").unwrap_err();
        assert!(e.0.contains("info/input/bodyType"), "{e}");
        assert!(offer.route("https://shop.example/x", "POST").is_ok());
        let offer = Offer::exact("eip155:84532", USDC, "10", PAY_TO).bazaar("[1]");
        assert!(offer.route("https://shop.example/x", "GET").is_err());
    }
}
