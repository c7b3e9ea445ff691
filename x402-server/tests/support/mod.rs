//! What the facilitator's tests share: a local chain (Hardhat, started by
//! `scripts/test-settlement.sh`), facilitators started in this process on
//! 127.0.0.1, payments created by the core's client, and a JSON-RPC proxy
//! that injects faults between a facilitator and the chain.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use paywire::client::{Policy, create_payment};
use paywire::evm::{Address, PrivateKey, abi, keccak256};
use paywire::header;
use paywire::json::ToJson;
use paywire_server::config::Config;
use paywire_server::facilitator::Facilitator;
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const NEEDS_CHAIN: &str = "needs a local chain: run scripts/test-settlement.sh";

// ------------------------------------------------------------------ chain

/// The local chain, and a token of this test's own on it.
pub struct Hardhat {
    pub url: String,
    pub chain_id: u64,
    pub network: String,
    pub token: Address,
    /// An account the node signs for (Hardhat's first): the token's minter.
    pub minter: String,
    http: reqwest::Client,
}

/// An HTTP client (rustls needs its crypto provider chosen first).
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

pub fn hex(b: &[u8]) -> String {
    format!(
        "0x{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}

pub fn unhex(s: &str) -> Vec<u8> {
    let h = s.trim_start_matches("0x");
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

fn quantity(v: &Value) -> u128 {
    u128::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// ABI encoding of a constructor's string arguments.
fn abi_strings(items: &[&str]) -> Vec<u8> {
    let word = |n: usize| {
        let mut w = [0u8; 32];
        w[24..].copy_from_slice(&(n as u64).to_be_bytes());
        w
    };
    let mut head = Vec::new();
    let mut tail = Vec::new();
    for s in items {
        head.extend_from_slice(&word(items.len() * 32 + tail.len()));
        tail.extend_from_slice(&word(s.len()));
        tail.extend_from_slice(s.as_bytes());
        tail.resize(tail.len().div_ceil(32) * 32, 0);
    }
    head.extend_from_slice(&tail);
    head
}

impl Hardhat {
    /// Connects to the chain of `PAYWIRE_TEST_RPC` and deploys a token of the
    /// test's own (compiled into `PAYWIRE_TEST_CONTRACTS`).
    pub async fn connect() -> Hardhat {
        let url = std::env::var("PAYWIRE_TEST_RPC").expect(NEEDS_CHAIN);
        let contracts: Value = serde_json::from_slice(
            &std::fs::read(std::env::var("PAYWIRE_TEST_CONTRACTS").expect(NEEDS_CHAIN)).unwrap(),
        )
        .unwrap();
        let mut h = Hardhat {
            url,
            chain_id: 0,
            network: String::new(),
            token: Address::default(),
            minter: String::new(),
            http: http(),
        };
        h.chain_id = quantity(&h.rpc("eth_chainId", json!([])).await) as u64;
        h.network = format!("eip155:{}", h.chain_id);
        h.rpc("evm_setIntervalMining", json!([0])).await;
        h.automine(true).await;
        h.minter = h.rpc("eth_accounts", json!([])).await[0]
            .as_str()
            .unwrap()
            .to_owned();
        let mut init = unhex(
            contracts["contracts"]["Eip3009Token"]["bytecode"]
                .as_str()
                .unwrap(),
        );
        init.extend_from_slice(&abi_strings(&["USD Coin", "2", "USDC"]));
        let hash = h
            .rpc(
                "eth_sendTransaction",
                json!([{"from": h.minter, "data": hex(&init), "gas": "0x500000"}]),
            )
            .await;
        let receipt = h
            .receipt(hash.as_str().unwrap())
            .await
            .expect("deployed (automine)");
        h.token = receipt["contractAddress"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        h
    }

    pub async fn rpc(&self, method: &str, params: Value) -> Value {
        let answer: Value = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(
                json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string(),
            )
            .send()
            .await
            .unwrap()
            .json_value()
            .await;
        if let Some(e) = answer.get("error") {
            panic!("{method}: {e}");
        }
        answer["result"].clone()
    }

    pub async fn receipt(&self, hash: &str) -> Option<Value> {
        let r = self.rpc("eth_getTransactionReceipt", json!([hash])).await;
        (!r.is_null()).then_some(r)
    }

    pub async fn automine(&self, on: bool) {
        self.rpc("evm_setAutomine", json!([on])).await;
    }

    pub async fn mine(&self) {
        self.rpc("evm_mine", json!([])).await;
    }

    /// Gives `a` 100 ETH.
    pub async fn fund(&self, a: &Address) {
        self.set_eth(a, 100_000_000_000_000_000_000).await;
    }

    pub async fn set_eth(&self, a: &Address, wei: u128) {
        self.rpc(
            "hardhat_setBalance",
            json!([a.to_string(), format!("0x{wei:x}")]),
        )
        .await;
    }

    pub async fn mint(&self, to: &Address, amount: u128) {
        let mut data = keccak256(b"mint(address,uint256)")[..4].to_vec();
        data.extend_from_slice(&to.to_word());
        data.extend_from_slice(&abi::uint_word(&paywire::Amount::from(amount)));
        let hash = self
            .rpc(
                "eth_sendTransaction",
                json!([{"from": self.minter, "to": self.token.to_string(), "data": hex(&data)}]),
            )
            .await;
        let r = self
            .receipt(hash.as_str().unwrap())
            .await
            .expect("mined (automine)");
        assert_eq!(r["status"], "0x1", "mint reverted");
    }

    /// The token balance of `owner`.
    pub async fn balance(&self, owner: &Address) -> u128 {
        let out = self
            .rpc("eth_call", json!([{"to": self.token.to_string(), "data": hex(&abi::balance_of(owner))}, "latest"]))
            .await;
        abi::decode_uint(&unhex(out.as_str().unwrap()))
            .unwrap()
            .to_string()
            .parse()
            .unwrap()
    }

    /// The account's ether, in wei.
    pub async fn eth(&self, a: &Address) -> u128 {
        quantity(
            &self
                .rpc("eth_getBalance", json!([a.to_string(), "latest"]))
                .await,
        )
    }

    /// The latest block's base fee per gas.
    pub async fn base_fee(&self) -> u128 {
        quantity(
            &self
                .rpc("eth_getBlockByNumber", json!(["latest", false]))
                .await["baseFeePerGas"],
        )
    }

    /// What a mined transaction cost its sender in gas (`gasUsed ×
    /// effectiveGasPrice`).
    pub async fn gas_cost(&self, hash: &str) -> u128 {
        let r = self.receipt(hash).await.expect("mined");
        quantity(&r["gasUsed"]) * quantity(&r["effectiveGasPrice"])
    }

    /// The account's mined transaction count.
    pub async fn nonce(&self, a: &Address) -> u64 {
        quantity(
            &self
                .rpc("eth_getTransactionCount", json!([a.to_string(), "latest"]))
                .await,
        ) as u64
    }

    /// The latest block's timestamp.
    pub async fn now(&self) -> u64 {
        quantity(
            &self
                .rpc("eth_getBlockByNumber", json!(["latest", false]))
                .await["timestamp"],
        ) as u64
    }

    /// The hashes of the transactions waiting in the node's pool.
    pub async fn pool(&self) -> Vec<String> {
        let block = self
            .rpc("eth_getBlockByNumber", json!(["pending", false]))
            .await;
        block["transactions"]
            .as_array()
            .map(|a| a.iter().map(|t| t.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    }

    /// The first transaction in the node's pool, once there is one (within `within`).
    pub async fn wait_pool(&self, within: Duration) -> String {
        let end = std::time::Instant::now() + within;
        loop {
            if let Some(t) = self.pool().await.first() {
                return t.clone();
            }
            assert!(
                std::time::Instant::now() < end,
                "no transaction reached the pool"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How many transactions `from` sent to the token in blocks `from_block..`.
    pub async fn sent_by(&self, from: &Address, since_block: u64) -> Vec<String> {
        let head = quantity(&self.rpc("eth_blockNumber", json!([])).await) as u64;
        let mut out = Vec::new();
        for n in since_block..=head {
            let b = self
                .rpc("eth_getBlockByNumber", json!([format!("0x{n:x}"), true]))
                .await;
            for t in b["transactions"].as_array().unwrap() {
                if t["from"]
                    .as_str()
                    .unwrap()
                    .eq_ignore_ascii_case(&from.to_string())
                {
                    out.push(t["hash"].as_str().unwrap().to_owned());
                }
            }
        }
        out
    }

    /// Puts Permit2 and the x402 proxies at their canonical addresses.
    pub async fn install_permit2(&self) {
        let contracts: Value = serde_json::from_slice(
            &std::fs::read(std::env::var("PAYWIRE_TEST_CONTRACTS").expect(NEEDS_CHAIN)).unwrap(),
        )
        .unwrap();
        use paywire::evm::eip712::{
            PERMIT2_ADDRESS, X402_EXACT_PERMIT2_PROXY, X402_UPTO_PERMIT2_PROXY,
        };
        for (addr, name) in [
            (PERMIT2_ADDRESS, "Permit2SignatureTransfer"),
            (X402_EXACT_PERMIT2_PROXY, "X402ExactPermit2Proxy"),
            (X402_UPTO_PERMIT2_PROXY, "X402UptoPermit2Proxy"),
        ] {
            let code = contracts["contracts"][name]["deployedBytecode"].clone();
            self.rpc("hardhat_setCode", json!([addr.to_string(), code]))
                .await;
        }
    }

    /// `owner` lets Permit2 move all its tokens (the node signs for it).
    pub async fn approve_permit2(&self, owner: &Address) {
        self.fund(owner).await;
        self.rpc("hardhat_impersonateAccount", json!([owner.to_string()]))
            .await;
        let mut data = keccak256(b"approve(address,uint256)")[..4].to_vec();
        data.extend_from_slice(&paywire::evm::eip712::PERMIT2_ADDRESS.to_word());
        data.extend_from_slice(&abi::uint_word(&paywire::Amount::MAX));
        let hash = self
            .rpc("eth_sendTransaction", json!([{"from": owner.to_string(), "to": self.token.to_string(), "data": hex(&data)}]))
            .await;
        let r = self
            .receipt(hash.as_str().unwrap())
            .await
            .expect("mined (automine)");
        assert_eq!(r["status"], "0x1", "approve reverted");
        self.rpc(
            "hardhat_stopImpersonatingAccount",
            json!([owner.to_string()]),
        )
        .await;
    }

    pub async fn block_number(&self) -> u64 {
        quantity(&self.rpc("eth_blockNumber", json!([])).await) as u64
    }
}

trait JsonValue {
    async fn json_value(self) -> Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        let bytes = self.bytes().await.unwrap();
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
    }
}

// ------------------------------------------------------------------ keys and payments

/// A key derived from a label (stable across runs, distinct per label), and its hex.
pub fn key(label: &str) -> (PrivateKey, String) {
    let bytes = keccak256(format!("paywire facilitator test/{label}").as_bytes());
    (PrivateKey::from_bytes(&bytes).unwrap(), hex(&bytes))
}

/// A `/verify` and `/settle` body: `payer` pays `amount` of the token to
/// `pay_to` with an EIP-3009 authorization made by the core's client.
pub async fn pay(
    chain: &Hardhat,
    payer: &PrivateKey,
    pay_to: &Address,
    amount: u128,
    nonce_label: &str,
) -> String {
    pay_with(chain, payer, pay_to, amount, nonce_label, |_| {}).await
}

/// [`pay`] for a requirement adjusted by `edit` (Permit2, `upto`).
pub async fn pay_with(
    chain: &Hardhat,
    payer: &PrivateKey,
    pay_to: &Address,
    amount: u128,
    nonce_label: &str,
    edit: impl FnOnce(&mut Value),
) -> String {
    let now = chain.now().await;
    // Unique per run: Permit2's nonces outlive the run's token.
    let nonce_label = format!("{}/{nonce_label}", chain.token);
    pay_at(
        &chain.network,
        &chain.token,
        now,
        payer,
        pay_to,
        amount,
        &nonce_label,
        edit,
    )
}

/// A payment body for `network` and `token` made at `now`, without a chain.
#[allow(clippy::too_many_arguments)]
pub fn pay_at(
    network: &str,
    token: &Address,
    now: u64,
    payer: &PrivateKey,
    pay_to: &Address,
    amount: u128,
    nonce_label: &str,
    edit: impl FnOnce(&mut Value),
) -> String {
    let mut accept = json!({
        "scheme": "exact",
        "network": network,
        "amount": amount.to_string(),
        "asset": token.to_string(),
        "payTo": pay_to.to_string(),
        "maxTimeoutSeconds": 300,
        "extra": {"name": "USD Coin", "version": "2"}
    });
    edit(&mut accept);
    let pr = json!({"x402Version": 2, "resource": {"url": "http://127.0.0.1/paid"}, "accepts": [accept]});
    let mut out = vec![0u8; 8192];
    let policy = Policy {
        allow_upto: true,
        ..Policy::default()
    };
    let created = create_payment(
        pr.to_string().as_bytes(),
        payer,
        keccak256(nonce_label.as_bytes()),
        now,
        &policy,
        &mut out,
    )
    .unwrap();
    let value = std::str::from_utf8(&out[..created.len]).unwrap();
    let mut scratch = vec![0u8; 8192];
    let payload = header::decode_payment_signature(value, &mut scratch).unwrap();
    let payload: Value = serde_json::from_str(&payload.to_json_string()).unwrap();
    json!({"x402Version": 2, "paymentPayload": payload, "paymentRequirements": accept}).to_string()
}

/// A Solana payment of `accepted` made by the core's client with `payer`'s
/// key, for a mint of `program` with 6 decimals: its wire transaction and
/// `/verify` body.
pub fn svm_payment(
    payer: &paywire::svm::client::SigningKey,
    program: paywire::svm::Pubkey,
    accepted: &Value,
    blockhash: [u8; 32],
    nonce: u8,
) -> (Vec<u8>, Value) {
    use paywire::svm::client::{Payment, create_transaction, write_payment_payload};
    use paywire::types::FromJson;
    let text = accepted.to_string();
    let v = paywire::json::parse(text.as_bytes(), &paywire::json::Limits::DEFAULT).unwrap();
    let r = paywire::types::v2::PaymentRequirements::from_json(v).unwrap();
    let mut memo = [0u8; paywire::svm::MAX_MEMO_BYTES];
    let p = Payment::from_requirements(&r, program, 6, Some(blockhash), [nonce; 16], &mut memo)
        .unwrap();
    let mut out = [0u8; paywire::svm::tx::MAX_TRANSACTION_SIZE];
    let n = create_transaction(payer, &p, &mut out).unwrap();
    let mut payload = Vec::new();
    write_payment_payload(&r, &out[..n], &mut payload).unwrap();
    let payload: Value = serde_json::from_slice(&payload).unwrap();
    (
        out[..n].to_vec(),
        json!({"x402Version": 2, "paymentPayload": payload, "paymentRequirements": accepted}),
    )
}

// ------------------------------------------------------------------ facilitators

/// A directory of the test's own, removed at drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("paywire-fac-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// Writes a secret file readable by its owner only.
    pub fn secret(&self, name: &str, content: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, content).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The API key the tests' resource server holds.
pub const API_KEY: &str = "test-api-key-0123456789";

/// What a test's facilitator configuration varies.
pub struct Setup<'a> {
    pub store: String,
    pub rpc: Vec<String>,
    pub network: &'a str,
    /// The signers' keys, in hex.
    pub signers: Vec<String>,
    pub receipt_timeout: u64,
    pub replace_after: u64,
    pub extra_network: &'a str,
    pub extra_server: &'a str,
    /// More lines of the API key's table (`pay_to`, `requests_per_minute`).
    pub extra_key: &'a str,
}

impl<'a> Setup<'a> {
    pub fn new(store: String, rpc: &str, network: &'a str, signers: &[&str]) -> Setup<'a> {
        Setup {
            store,
            rpc: vec![rpc.to_owned()],
            network,
            signers: signers.iter().map(|s| (*s).to_owned()).collect(),
            receipt_timeout: 8,
            replace_after: 600,
            extra_network: "",
            extra_server: "",
            extra_key: "",
        }
    }

    /// The TOML text, with key files written into `dir`.
    pub fn toml(&self, dir: &Scratch) -> String {
        let api = dir.secret("api.key", API_KEY);
        let mut t = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nrequest_timeout_ms = {}\n{}\n[store]\nurl = {:?}\n\n[[access.keys]]\nname = \"shop\"\nkey_file = {:?}\n{}\n\n",
            (self.receipt_timeout + 5) * 1000,
            self.extra_server,
            self.store,
            api,
            self.extra_key
        );
        let mut names = Vec::new();
        for (i, k) in self.signers.iter().enumerate() {
            let file = dir.secret(&format!("signer{i}.key"), k);
            t.push_str(&format!(
                "[[signers]]\nname = \"s{i}\"\nkey_file = {file:?}\n\n"
            ));
            names.push(format!("\"s{i}\""));
        }
        t.push_str(&format!(
            "[[networks]]\nid = {:?}\nrpc = {:?}\nschemes = [\"exact-eip3009\", \"exact-permit2\", \"upto\"]\nsigners = [{}]\nreceipt_timeout_seconds = {}\nreplace_after_seconds = {}\n{}\n",
            self.network,
            self.rpc,
            names.join(", "),
            self.receipt_timeout,
            self.replace_after,
            self.extra_network
        ));
        t
    }
}

/// A facilitator serving on 127.0.0.1 in this process.
pub struct Running {
    pub url: String,
    pub facilitator: Facilitator,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub async fn start(toml: &str) -> Running {
        if std::env::var_os("RUST_LOG").is_some() {
            paywire_server::facilitator::init_logs(paywire_server::facilitator::LogFormat::Text);
        }
        let config =
            Config::parse(Path::new("test.toml"), toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
        let facilitator = Facilitator::new(&config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let f = facilitator.clone();
        let server = config.server.clone();
        let task = tokio::spawn(async move {
            f.serve(listener, &server, async move {
                let _ = rx.await;
            })
            .await;
        });
        Running {
            url,
            facilitator,
            stop: Some(tx),
            task,
        }
    }

    /// Stops as SIGTERM would: no new requests, those in flight finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(30), &mut self.task).await;
    }

    /// Stops at once, as a killed process would: requests in flight are cut
    /// off wherever they are.
    pub fn kill(self) {
        self.facilitator.stop();
        self.task.abort();
    }

    pub async fn post(&self, path: &str, body: &str) -> (StatusCode, Value) {
        post(&format!("{}{path}", self.url), body, Some(API_KEY)).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = http()
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }
}

pub async fn post(url: &str, body: &str, key: Option<&str>) -> (StatusCode, Value) {
    let mut req = http()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let bytes = r.bytes().await.unwrap();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, v)
}

// ------------------------------------------------------------------ faults

/// What the proxy does to one JSON-RPC call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forwards it, then answers HTTP 502 instead of the node's answer: the
    /// call took effect, its answer was lost.
    LoseAnswer,
    /// Answers HTTP 502 without forwarding it.
    Refuse,
    /// Waits this many milliseconds before forwarding it.
    Slow(u64),
    /// Answers a JSON-RPC internal error without forwarding it.
    Error,
    /// Answers bytes that are not JSON.
    Garbage,
}

#[derive(Debug)]
struct Rule {
    method: &'static str,
    fault: Fault,
    times: u32,
}

/// The proxy's upstream, rules, the methods it saw, and its client.
type ProxyState = (
    String,
    Arc<Mutex<Vec<Rule>>>,
    Arc<Mutex<Vec<String>>>,
    reqwest::Client,
);

/// A JSON-RPC proxy in front of the chain that injects faults.
pub struct Proxy {
    pub url: String,
    rules: Arc<Mutex<Vec<Rule>>>,
    seen: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: &str) -> Proxy {
        let rules: Arc<Mutex<Vec<Rule>>> = Arc::default();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = (
            upstream.to_owned(),
            Arc::clone(&rules),
            Arc::clone(&seen),
            http(),
        );
        let app = axum::Router::new().fallback(axum::routing::post(
            |axum::extract::State((up, rules, seen, http)): axum::extract::State<ProxyState>,
             body: Bytes| async move {
                let method = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v["method"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                seen.lock().unwrap().push(method.clone());
                let fault = {
                    let mut rules = rules.lock().unwrap();
                    rules
                        .iter_mut()
                        .find(|r| r.times > 0 && (r.method == "*" || r.method == method))
                        .map(|r| {
                            r.times -= 1;
                            r.fault
                        })
                };
                let forward = || async {
                    http.post(&up)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap()
                        .bytes()
                        .await
                        .unwrap()
                };
                match fault {
                    None => (StatusCode::OK, forward().await.to_vec()),
                    Some(Fault::LoseAnswer) => {
                        forward().await;
                        (StatusCode::BAD_GATEWAY, b"lost".to_vec())
                    }
                    Some(Fault::Refuse) => (StatusCode::BAD_GATEWAY, b"refused".to_vec()),
                    Some(Fault::Slow(ms)) => {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        (StatusCode::OK, forward().await.to_vec())
                    }
                    Some(Fault::Error) => (
                        StatusCode::OK,
                        br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"internal error"}}"#.to_vec(),
                    ),
                    Some(Fault::Garbage) => (StatusCode::OK, b"{\"jsonrpc\":\"2.0\",\"id\":1,\"resu".to_vec()),
                }
            },
        ))
        .with_state(state);
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Proxy {
            url,
            rules,
            seen,
            task,
        }
    }

    /// Applies `fault` to the next `times` calls of `method` (`*`: any).
    pub fn inject(&self, method: &'static str, fault: Fault, times: u32) {
        self.rules.lock().unwrap().push(Rule {
            method,
            fault,
            times,
        });
    }

    /// Forgets every fault not yet applied.
    pub fn heal(&self) {
        self.rules.lock().unwrap().clear();
    }

    /// How many calls of `method` came through.
    pub fn calls(&self, method: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|m| *m == method)
            .count()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The PostgreSQL server of the run, if the test command started one.
pub fn postgres() -> Option<String> {
    match std::env::var("PAYWIRE_TEST_POSTGRES") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("PAYWIRE_REQUIRE_POSTGRES").is_err(),
                "PAYWIRE_TEST_POSTGRES is not set"
            );
            None
        }
    }
}

/// A database of the test's own in the run's PostgreSQL.
pub async fn fresh_postgres(name: &str) -> Option<String> {
    let url = postgres()?;
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let task = tokio::spawn(conn);
    let db = format!("paywire_it_{name}_{}", std::process::id());
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .await
        .unwrap();
    client
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .unwrap();
    drop(client);
    let _ = task.await;
    let base = url
        .rsplit_once('/')
        .map_or(url.as_str(), |(b, _)| b)
        .to_owned();
    Some(format!("{base}/{db}"))
}
