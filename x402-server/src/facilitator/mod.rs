//! An x402 facilitator for EVM chains and Solana: `POST /verify`, `POST /settle`, `GET
//! /supported`, `GET /health`, `GET /metrics` (and, with `[discovery]`
//! on, the bazaar catalog at `GET /discovery/resources`), answering the official SDKs'
//! clients byte-compatibly (every verify and settle outcome with HTTP 200 and
//! the protocol's JSON; `transaction` and `network` always present).
//!
//! # Settlement, and what it guarantees
//! - **One transaction per payment.** A settlement is keyed by its
//!   authorization (`network/asset/payer/nonce`) and claimed in the store
//!   before anything is sent; a second `/settle` of the same payment, at once
//!   or later, on this instance or another, gets that settlement's result and
//!   transaction, never a second transaction. The signed transaction is
//!   written to the store before it leaves.
//! - **Nonces without gaps or collisions.** Each signer's nonces come from
//!   the store (under a row lock in PostgreSQL), asked for only once the
//!   payment's simulation passed; a nonce whose transaction never left is
//!   given back and handed out again, and one left unused is filled.
//! - **Truthful answers.** `success: true` only with a mined, successful
//!   receipt at the configured depth. Sent but unconfirmed within
//!   `receipt_timeout_seconds`: `{"success": false, "errorReason":
//!   "settlement_pending", "transaction": "0x…"}` (SettleResponse has no
//!   pending state: this is its wire form; the official servers resend the
//!   same body once, which waits again on the same transaction; paywire's
//!   paywalls treat it as uncertain, never as "pay again"). Reverted: a
//!   failure naming the transaction. Nothing sent: a failure with an empty
//!   `transaction`.
//! - **Crashes and stops.** Settlements sent but not decided are taken up
//!   again from the store by every instance's watcher: found by hash, sent
//!   again byte for byte if a node lost them, replaced at their nonce with
//!   higher fees when stuck — never a second payment transaction.
//!   `paywire facilitator reconcile` does the same once and lists them.
//!
//! # Solana
//! `exact` on `solana:*` networks (`[[solana_networks]]`) is the `svm`
//! module's: the core's offline verdict and the chain checks it owes, the
//! fee payer's co-signature in slot 0, one submission per transaction message
//! (claimed in the same store, keyed by the message's SHA-256), its
//! signature followed until confirmed.

mod access;
mod approval;
mod batch;
mod calls;
mod discovery;
mod drive;
mod metrics;
mod settle;
mod svm;
mod watch;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Response, StatusCode, header};
use axum::routing::{get, post};
use paywire::Network;
use paywire::evm::Address;
use paywire::json::{JsonStr, ObjectWriter, ToJson};
use paywire::settle::Options;

use crate::config::{
    Config, DiscoveryConfig, NetworkConfig, SchemeConfig, SignerKind, SolanaNetworkConfig, wei,
};
use crate::rpc::Rpc;
use crate::signer::{Ed25519Signer, LocalEd25519Key, LocalKey, Signer};
use crate::store::{self, Store};

pub use settle::SettleSummary;

use access::{Access, Caller, Denied};
use metrics::Metrics;

/// Unix seconds now.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An account that pays gas on a chain.
#[derive(Debug)]
pub(crate) struct Account {
    pub(crate) signer: Arc<dyn Signer>,
    pub(crate) address: Address,
    /// Whether its balance is at least the chain's minimum (checked by the
    /// watcher; true until a check says otherwise).
    pub(crate) funded: AtomicBool,
    /// The last nonce handed out + 1 (for metrics).
    pub(crate) next_nonce: AtomicU64,
}

/// A chain served.
#[derive(Debug)]
pub(crate) struct Chain {
    pub(crate) network: Network,
    pub(crate) chain_id: u64,
    pub(crate) rpc: Rpc,
    pub(crate) accounts: Vec<Arc<Account>>,
    pub(crate) schemes: Vec<SchemeConfig>,
    pub(crate) assets: Vec<Address>,
    pub(crate) options: Options,
    pub(crate) receipt_timeout: Duration,
    pub(crate) replace_after: Duration,
    pub(crate) min_gas_balance: Option<u128>,
    /// The signer that pays payers' approvals for Permit2, if any
    /// (`erc20ApprovalGasSponsoring`).
    pub(crate) sponsor: Option<approval::Sponsor>,
    /// The channels' receiver authorizer (`batch-settlement`), if any.
    pub(crate) authorizer: Option<batch::Authorizer>,
    next_account: AtomicUsize,
    /// Every endpoint answered the network's chain id at start: the
    /// machines' `eth_chainId` is answered here, without a round trip.
    pub(crate) ids_checked: bool,
    /// Contracts found deployed (asset → when): the machines'
    /// `eth_getCode` for them is answered here for [`CODE_CACHE`].
    pub(crate) code: std::sync::Mutex<HashMap<String, (std::time::Instant, Vec<u8>)>>,
}

/// How long a contract found deployed is taken to still be (its code is
/// answered without asking the node again).
pub(crate) const CODE_CACHE: Duration = Duration::from_secs(60);

impl Chain {
    /// The next funded account, in turn; `None` if none is funded.
    pub(crate) fn pick_account(&self) -> Option<Arc<Account>> {
        let n = self.accounts.len();
        let start = self.next_account.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .filter_map(|i| self.accounts.get((start + i) % n))
            .find(|a| a.funded.load(Ordering::Relaxed))
            .cloned()
    }

    /// The account with this address.
    pub(crate) fn account(&self, address: &str) -> Option<Arc<Account>> {
        self.accounts
            .iter()
            .find(|a| a.address.to_string().eq_ignore_ascii_case(address))
            .cloned()
    }
}

/// The state every request shares.
pub(crate) struct Inner {
    pub(crate) chains: HashMap<u64, Arc<Chain>>,
    /// The Solana clusters, by CAIP-2 id.
    pub(crate) solana: HashMap<String, Arc<svm::SolanaChain>>,
    pub(crate) store: Arc<dyn Store>,
    access: Access,
    pub(crate) metrics: Metrics,
    /// This instance's name in the store's records.
    pub(crate) instance: String,
    pub(crate) requests: AtomicU64,
    pub(crate) stopping: AtomicBool,
    /// The bazaar catalog's settings.
    pub(crate) discovery: DiscoveryConfig,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Facilitator")
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

/// A configured facilitator.
#[derive(Clone, Debug)]
pub struct Facilitator {
    inner: Arc<Inner>,
}

impl Facilitator {
    /// Sets a facilitator up from its configuration: the store opened, the
    /// keys read, every RPC endpoint's chain id (a Solana endpoint's genesis
    /// hash) checked against its network.
    ///
    /// # Errors
    /// What cannot be used, in words.
    pub async fn new(config: &Config) -> Result<Facilitator, String> {
        let store = store::open(&config.store.url)
            .await
            .map_err(|e| format!("store {}: {e}", redact_store(&config.store.url)))?;
        let access = Access::from_config(&config.access)?;
        let mut signers: HashMap<String, Arc<dyn Signer>> = HashMap::new();
        let mut fee_payers: HashMap<String, Arc<dyn Ed25519Signer>> = HashMap::new();
        for (i, s) in config.signers.iter().enumerate() {
            if s.kind == SignerKind::Ed25519 {
                let key = LocalEd25519Key::read(s.key_file.as_deref(), s.key_env.as_deref())
                    .map_err(|e| format!("signers[{i}] ({}): {e}", s.name))?;
                fee_payers.insert(s.name.clone(), Arc::new(key));
                continue;
            }
            let key = match (&s.key_file, &s.key_env) {
                (Some(path), _) => LocalKey::from_file(path),
                (None, Some(var)) => LocalKey::from_env(var),
                (None, None) => return Err(format!("signers[{i}]: no key")),
            }
            .map_err(|e| format!("signers[{i}] ({}): {e}", s.name))?;
            signers.insert(s.name.clone(), Arc::new(key));
        }
        let mut chains = HashMap::new();
        for (i, n) in config.networks.iter().enumerate() {
            let mut chain = chain(i, n, &signers)?;
            let checked = chain.rpc.chain_ids().await;
            chain.ids_checked = true;
            for (url, got) in checked {
                match got {
                    Ok(id) if id == chain.chain_id => {}
                    Ok(id) => {
                        return Err(format!(
                            "networks[{i}] ({}): {url} serves chain {id}, not {}",
                            n.id, chain.chain_id
                        ));
                    }
                    Err(e) => {
                        chain.ids_checked = false;
                        tracing::warn!(network = %n.id, %url, error = %e, "RPC endpoint not answering at start")
                    }
                }
            }
            chains.insert(chain.chain_id, Arc::new(chain));
        }
        let mut solana = HashMap::new();
        for (i, n) in config.solana_networks.iter().enumerate() {
            let chain = solana_chain(i, n, &fee_payers)?;
            svm::check_genesis(&chain, &format!("solana_networks[{i}]")).await?;
            solana.insert(chain.network.clone(), Arc::new(chain));
        }
        let instance = format!(
            "{}-{}-{:x}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "paywire".into()),
            std::process::id(),
            now()
        );
        let metrics = Metrics::new();
        Ok(Facilitator {
            inner: Arc::new(Inner {
                chains,
                solana,
                store,
                access,
                metrics,
                instance,
                requests: AtomicU64::new(0),
                stopping: AtomicBool::new(false),
                discovery: config.discovery.clone(),
            }),
        })
    }

    /// The HTTP routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/verify", post(verify))
            .route("/settle", post(settle_route))
            .route("/supported", get(supported))
            .route("/health", get(health))
            .route("/metrics", get(metrics_route))
            .route("/discovery/resources", get(discovery::list))
            .fallback(not_found)
            .with_state(Arc::clone(&self.inner))
    }

    /// Starts the background work: settlements in flight taken up again,
    /// signers' balances, nonce gaps. It stops when `stop` is set.
    pub fn spawn_watcher(&self) -> tokio::task::JoinHandle<()> {
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move { watch::run(inner).await })
    }

    /// Says the service is stopping: no new settlement starts (those in
    /// flight finish or are left recorded), the watcher ends.
    pub fn stop(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
    }

    /// Takes up every settlement in flight once (as the watcher does) and
    /// answers what became of each: `paywire facilitator reconcile`.
    pub async fn reconcile(&self) -> Result<Vec<SettleSummary>, String> {
        watch::reconcile(&self.inner).await
    }
}

fn solana_chain(
    i: usize,
    n: &SolanaNetworkConfig,
    fee_payers: &HashMap<String, Arc<dyn Ed25519Signer>>,
) -> Result<svm::SolanaChain, String> {
    let rpc = Rpc::new(n.rpc.clone(), Duration::from_secs(10))?;
    let mut signers = Vec::new();
    for name in &n.fee_payers {
        let signer = fee_payers.get(name).ok_or_else(|| {
            format!("solana_networks[{i}].fee_payers: no ed25519 signer {name:?}")
        })?;
        signers.push(Arc::clone(signer));
    }
    let mut assets = Vec::new();
    for (j, a) in n.assets.iter().enumerate() {
        assets.push(
            paywire::svm::Pubkey::parse(a)
                .map_err(|e| format!("solana_networks[{i}].assets[{j}]: {e}"))?,
        );
    }
    Ok(svm::SolanaChain {
        network: n.id.clone(),
        rpc,
        keys: signers.iter().map(|s| s.pubkey()).collect(),
        fee_payers: signers,
        assets,
        max_compute_units: n.max_compute_units,
        max_compute_unit_price: n.max_compute_unit_price,
        receipt_timeout: Duration::from_secs(n.receipt_timeout_seconds),
    })
}

fn chain(
    i: usize,
    n: &NetworkConfig,
    signers: &HashMap<String, Arc<dyn Signer>>,
) -> Result<Chain, String> {
    let network = Network::parse_caip2(&n.id).map_err(|e| format!("networks[{i}].id: {e}"))?;
    let chain_id = network
        .evm_chain_id()
        .ok_or_else(|| format!("networks[{i}].id: not an EVM network"))?;
    // Config::check holds it within the server's request deadline.
    let receipt_timeout = Duration::from_secs(n.receipt_timeout_seconds);
    let rpc = Rpc::new(n.rpc.clone(), Duration::from_secs(10))?;
    let mut accounts = Vec::new();
    for name in &n.signers {
        let signer = signers
            .get(name)
            .ok_or_else(|| format!("networks[{i}].signers: no signer {name:?}"))?;
        accounts.push(Arc::new(Account {
            address: signer.address(),
            signer: Arc::clone(signer),
            funded: AtomicBool::new(true),
            next_nonce: AtomicU64::new(0),
        }));
    }
    let sponsor = match (&n.approval_sponsor, &n.approval_max_fee_per_gas) {
        (Some(name), Some(fee)) => {
            let signer = signers
                .get(name)
                .ok_or_else(|| format!("networks[{i}].approval_sponsor: no signer {name:?}"))?;
            let fee = wei(fee)
                .ok_or_else(|| format!("networks[{i}].approval_max_fee_per_gas: not wei"))?;
            Some(approval::Sponsor::new(
                Account {
                    address: signer.address(),
                    signer: Arc::clone(signer),
                    funded: AtomicBool::new(true),
                    next_nonce: AtomicU64::new(0),
                },
                fee,
            ))
        }
        _ => None,
    };
    let authorizer = match &n.receiver_authorizer {
        Some(name) => {
            let signer = signers
                .get(name)
                .ok_or_else(|| format!("networks[{i}].receiver_authorizer: no signer {name:?}"))?;
            Some(batch::Authorizer {
                address: signer.address(),
                signer: Arc::clone(signer),
            })
        }
        None => None,
    };
    let poll = Duration::from_millis(250);
    let mut eip6492_allowed_factories = paywire::settle::AllowedFactories::EMPTY;
    for a in &n.eip6492_allowed_factories {
        let a = a
            .parse()
            .map_err(|e| format!("networks[{i}].eip6492_allowed_factories: {e}"))?;
        eip6492_allowed_factories
            .push(a)
            .map_err(|e| format!("networks[{i}].eip6492_allowed_factories: {e}"))?;
    }
    let options = Options {
        eip6492_allowed_factories,
        confirmations: n.confirmations,
        receipt_poll_interval_ms: u32::try_from(poll.as_millis()).unwrap_or(250),
        max_receipt_polls: u32::try_from(receipt_timeout.as_millis() / poll.as_millis().max(1))
            .unwrap_or(u32::MAX)
            .max(1),
        max_fee_per_gas: n.max_fee_per_gas.as_deref().and_then(wei),
        priority_fee_per_gas: n.priority_fee_per_gas.as_deref().and_then(wei),
        ..Options::default()
    };
    Ok(Chain {
        network,
        chain_id,
        rpc,
        accounts,
        schemes: n.schemes.clone(),
        assets: n.assets.iter().filter_map(|a| a.parse().ok()).collect(),
        options,
        receipt_timeout,
        replace_after: Duration::from_secs(n.replace_after_seconds),
        min_gas_balance: n.min_gas_balance.as_deref().and_then(wei),
        sponsor,
        authorizer,
        next_account: AtomicUsize::new(0),
        ids_checked: false,
        code: std::sync::Mutex::new(HashMap::new()),
    })
}

/// A plain ether transfer of `value` wei from `a` to `to` at `nonce`,
/// signed by `a`'s signer: 21,000 gas, `tip` per gas, and a fee cap of twice
/// `base_fee` plus the tip (within the chain's `max_fee_per_gas`).
pub(crate) async fn signed_transfer(
    chain: &Chain,
    a: &Account,
    to: Address,
    value: u128,
    nonce: u64,
    base_fee: u128,
    tip: u128,
) -> Result<paywire::evm::tx::SignedTransaction<'static>, String> {
    let mut max_fee = base_fee.saturating_mul(2).saturating_add(tip);
    if let Some(cap) = chain.options.max_fee_per_gas {
        max_fee = max_fee.min(cap);
    }
    let tx = paywire::evm::tx::Eip1559Transaction {
        chain_id: chain.chain_id,
        nonce,
        max_priority_fee_per_gas: tip.min(max_fee),
        max_fee_per_gas: max_fee,
        gas_limit: 21_000,
        to: Some(to),
        value: paywire::Amount::from(value),
        data: &[],
    };
    let sig = a
        .signer
        .sign_hash(paywire::evm::B256(tx.signing_hash()))
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let (v, r, s) = paywire::evm::abi::split_signature(&sig);
    Ok(paywire::evm::tx::SignedTransaction {
        tx,
        y_parity: v == 28,
        r,
        s,
    })
}

/// A store URL without its password.
fn redact_store(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://…@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Routes

pub(crate) fn json_response(status: StatusCode, json: String) -> Response<Body> {
    let mut r = Response::new(Body::from(json));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

/// `{"error": code, "message": …}` (requests that are not protocol documents).
pub(crate) fn problem(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let mut out = Vec::new();
    let _ = (|| {
        let mut w = ObjectWriter::new(&mut out)?;
        w.str_field("error", JsonStr::new(code))?;
        w.str_field("message", JsonStr::new(message))?;
        w.end()
    })();
    json_response(status, String::from_utf8(out).unwrap_or_default())
}

fn denied(d: &Denied) -> Response<Body> {
    match d {
        Denied::Unauthenticated => {
            let mut r = problem(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send the facilitator's API key as Authorization: Bearer <key>",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            r
        }
        Denied::RateLimited(wait) => {
            let mut r = problem(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "this API key's rate is spent; retry after the time Retry-After gives",
            );
            if let Ok(v) = header::HeaderValue::from_str(&wait.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
    }
}

fn caller<'a>(inner: &'a Inner, headers: &HeaderMap) -> Result<Caller<'a>, Box<Response<Body>>> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    inner.access.check(auth).map_err(|d| Box::new(denied(&d)))
}

async fn verify(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let who = match caller(&inner, &headers) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    if let Some(chain) = svm::network_of(&body).and_then(|n| inner.solana.get(&n).cloned()) {
        if let Some(refused) = refuse_solana_payee(&who, &body) {
            return refused;
        }
        let started = std::time::Instant::now();
        let (answer, label) = svm::verify(&chain, &body).await;
        count(&inner, "verify", &chain.network, &label);
        tracing::info!(
            endpoint = "verify",
            network = %chain.network,
            outcome = %label,
            caller = who.name(),
            latency_ms = started.elapsed().as_millis() as u64,
            "verify"
        );
        return answer;
    }
    settle::verify(&inner, &who, &body).await
}

/// 403 when the caller's key may not act for this Solana body's `payTo`.
fn refuse_solana_payee(who: &Caller<'_>, body: &[u8]) -> Option<Response<Body>> {
    let pay_to = svm::pay_to_of(body);
    (!who.may_pay_solana(pay_to.as_ref())).then(|| {
        problem(
            StatusCode::FORBIDDEN,
            "pay_to_not_allowed",
            "this API key may not verify or settle payments to this payTo",
        )
    })
}

fn count(inner: &Inner, endpoint: &'static str, network: &str, outcome: &str) {
    inner
        .metrics
        .requests
        .get_or_create(&metrics::Outcome {
            endpoint,
            network: network.to_string(),
            outcome: outcome.to_string(),
        })
        .inc();
}

async fn settle_route(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let who = match caller(&inner, &headers) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let solana = svm::network_of(&body).and_then(|n| inner.solana.get(&n).cloned());
    if solana.is_some()
        && let Some(refused) = refuse_solana_payee(&who, &body)
    {
        return refused;
    }
    if let Some(refused) = settle::refuse_payee(&who, &body) {
        return refused;
    }
    if let Some(refused) = batch::refuse_receivers(&who, &body) {
        return refused;
    }
    let name = who.name().to_string();
    if inner.stopping.load(Ordering::SeqCst) {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "this facilitator is stopping; nothing was settled",
        );
    }
    // Settled in a task of its own: a client that hangs up does not stop a
    // settlement halfway.
    let task_inner = Arc::clone(&inner);
    let task = tokio::spawn(async move {
        if let Some(chain) = solana {
            let started = std::time::Instant::now();
            let (json, label, transaction) = svm::settle(&task_inner, &chain, &body).await;
            count(&task_inner, "settle", &chain.network, &label);
            tracing::info!(
                endpoint = "settle",
                network = %chain.network,
                outcome = %label,
                caller = %name,
                transaction = %transaction,
                latency_ms = started.elapsed().as_millis() as u64,
                "settle"
            );
            return json_response(StatusCode::OK, json);
        }
        let (mut answer, success) = settle::settle(&task_inner, &name, body.clone()).await;
        if task_inner.discovery.enabled
            && success
            && let Some(said) = discovery::record(&task_inner, &body).await
            && let Ok(v) = header::HeaderValue::from_str(&paywire::header::encode_to_string(&said))
        {
            // For the resource server only (spec: the extension-responses
            // sidechannel); the official client reads it from this header.
            answer.headers_mut().insert("extension-responses", v);
        }
        answer
    });
    match task.await {
        Ok(r) => r,
        Err(e) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            &format!("the settlement task failed: {e}"),
        ),
    }
}

async fn supported(State(inner): State<Arc<Inner>>) -> Response<Body> {
    json_response(StatusCode::OK, settle::supported_json(&inner))
}

async fn health(State(inner): State<Arc<Inner>>) -> Response<Body> {
    let stopping = inner.stopping.load(Ordering::SeqCst);
    let mut out = Vec::new();
    let _ = (|| {
        let mut w = ObjectWriter::new(&mut out)?;
        w.str_field(
            "status",
            JsonStr::new(if stopping { "stopping" } else { "ok" }),
        )?;
        w.end()
    })();
    json_response(
        if stopping {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        },
        String::from_utf8(out).unwrap_or_default(),
    )
}

async fn metrics_route(State(inner): State<Arc<Inner>>) -> Response<Body> {
    let mut r = Response::new(Body::from(inner.metrics.encode()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
    );
    r
}

async fn not_found() -> Response<Body> {
    problem(
        StatusCode::NOT_FOUND,
        "not_found",
        "this facilitator serves POST /verify, POST /settle, GET /supported, GET /health, GET /metrics (and GET /discovery/resources when its catalog is on)",
    )
}

impl ToJson for SettleSummary {
    fn write_json(&self, out: &mut dyn paywire::json::Sink) -> Result<(), paywire::json::SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.str_field("key", JsonStr::new(&self.key))?;
        w.str_field("state", JsonStr::new(&self.state))?;
        w.str_field("transaction", JsonStr::new(&self.transaction))?;
        w.str_field("detail", JsonStr::new(&self.detail))?;
        w.end()
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One line of text per event.
    Text,
    /// One JSON object per event.
    Json,
}

/// Sets the process's log output (standard error; `RUST_LOG` filters, `info`
/// by default). Once per process; later calls do nothing.
pub fn init_logs(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Runs a facilitator until SIGTERM or Ctrl-C: binds `server.listen`, prints
/// `listening on http://ADDR` on standard output once it accepts, serves, then
/// stops accepting, lets requests in flight finish (settlements sent are in
/// the store either way) and returns.
///
/// # Errors
/// What prevented it from starting, in words.
pub async fn run(config: &Config) -> Result<(), String> {
    let facilitator = Facilitator::new(config).await?;
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .map_err(|e| format!("server.listen {}: {e}", config.server.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("server.listen: {e}"))?;
    println!("listening on http://{addr}");
    facilitator
        .serve(listener, &config.server, async {
            crate::http::stop_signal().await;
            tracing::info!("stopping: no new requests; finishing those in flight");
        })
        .await;
    Ok(())
}

impl Facilitator {
    /// Serves on `listener` within the bounds of `server` (connections,
    /// header and request time, body size), with the watcher running, until
    /// `shutdown` completes; then stops accepting, lets requests in flight
    /// finish within `server.shutdown_grace_seconds`, and stops the watcher.
    pub async fn serve<F>(
        &self,
        listener: tokio::net::TcpListener,
        server: &crate::config::ServerConfig,
        shutdown: F,
    ) where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let watcher = self.spawn_watcher();
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, instance = %self.inner.instance, "facilitator listening");
        }
        let limits = crate::http::Limits {
            max_connections: server.max_connections,
            header_timeout: Duration::from_millis(server.header_timeout_ms),
            request_timeout: Duration::from_millis(server.request_timeout_ms),
            max_body: server.max_body_bytes,
            max_head: 16 * 1024 + server.max_body_bytes.min(64 * 1024),
            shutdown_grace: Duration::from_secs(server.shutdown_grace_seconds),
        };
        let stopping = self.clone();
        crate::http::serve(listener, self.router(), limits, async move {
            shutdown.await;
            stopping.stop();
        })
        .await;
        self.stop();
        let _ = tokio::time::timeout(Duration::from_secs(5), watcher).await;
        tracing::info!("stopped");
    }
}
