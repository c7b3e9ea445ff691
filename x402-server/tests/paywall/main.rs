//! The paywall layer in an axum app, served on 127.0.0.1, settling through a
//! facilitator double: every facilitator behaviour of
//! `x402-core/tests/vectors/paywall.json`, one payment presented 20 times at
//! once (one settlement, one 200), a payment for one route refused on
//! another, the API key sent, free routes untouched, the records in SQLite
//! and (when `PAYWIRE_TEST_POSTGRES` names a server) PostgreSQL, a
//! `payment-identifier` bound to its first payment, and an `upfront` route;
//! `batch-settlement` on EVM in `evm_batch`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../../x402-cli/tests/common/doubles.rs"]
mod doubles;
mod evm_batch;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::response::IntoResponse as _;
use axum::routing::get;
use base64::Engine as _;
use doubles::{Facilitator as Double, Mode, request};
use paywire::client::{Policy, create_payment};
use paywire::evm::PrivateKey;
use paywire::lifecycle::{Settings, record_info};
use paywire_server::paywall::{
    Facilitator, MemoryRecords, Offer, Paywall, PostgresRecords, RecordStore, SqliteRecords,
};
use serde_json::Value;

const VECTORS: &str = include_str!("../../../x402-core/tests/vectors/paywall.json");
const CONTENT: &str = "the paid text";
const USDC: &str = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";
const MERCHANT: &str = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn unb64(v: &str) -> Value {
    let bytes = base64::engine::general_purpose::STANDARD.decode(v).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// An axum app selling `/paid` and `/other` through `fac`, `/free` free;
/// served on 127.0.0.1. Its origin, and how often `/paid` ran.
struct Shop {
    origin: String,
    handled: Arc<AtomicUsize>,
    records: Arc<dyn RecordStore>,
    _server: tokio::task::JoinHandle<()>,
}

async fn shop(fac: &str, records: Arc<dyn RecordStore>, key: Option<&str>) -> Shop {
    let mut facilitator = Facilitator::new(fac).unwrap();
    if let Some(k) = key {
        facilitator = facilitator.api_key(k);
    }
    let settings = Settings {
        settle_timeout_seconds: 2,
        ..Settings::default()
    };
    let offer = || Offer::exact("eip155:84532", USDC, "10000", MERCHANT).token("USDC", "2");
    let paywall = Paywall::new(facilitator, Arc::clone(&records))
        .settings(settings)
        .route("GET /paid", offer().describe("the paid text", "text/plain"))
        .unwrap()
        .route(
            "GET /other",
            Offer::exact("eip155:84532", USDC, "20000", MERCHANT).token("USDC", "2"),
        )
        .unwrap();
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&handled);
    let app = Router::new()
        .route(
            "/paid",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { CONTENT }
            }),
        )
        .route("/other", get(|| async { "the other text" }))
        .route("/free", get(|| async { "free" }))
        .layer(paywall.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(paywire_server::http::serve(
        listener,
        app,
        paywire_server::http::Limits::default(),
        std::future::pending(),
    ));
    Shop {
        origin,
        handled,
        records,
        _server: server,
    }
}

/// What came back: status, the reason (the 402's `error`, or the body's),
/// PAYMENT-RESPONSE, body.
#[derive(Debug)]
struct Got {
    status: u16,
    reason: String,
    payment_response: Option<String>,
    body: String,
}

async fn fetch(url: String, payment: Option<String>) -> Got {
    tokio::task::spawn_blocking(move || {
        let headers: Vec<(&str, &str)> = payment
            .as_deref()
            .map(|p| ("PAYMENT-SIGNATURE", p))
            .into_iter()
            .collect();
        let (status, headers, body) = request("GET", &url, &headers).expect("an answer");
        let find = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let body = String::from_utf8_lossy(&body).into_owned();
        let reason = match find("payment-required") {
            Some(pr) => unb64(&pr)["error"].as_str().unwrap_or("").to_string(),
            None => serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or_default(),
        };
        Got {
            status,
            reason,
            payment_response: find("payment-response"),
            body,
        }
    })
    .await
    .unwrap()
}

/// A fresh payment (nonce from `label`) for the offer at `url`.
async fn pay(url: &str, label: &str) -> String {
    pay_with(url, label, &Policy::default()).await
}

/// [`pay`] under `policy`.
async fn pay_with(url: &str, label: &str, policy: &Policy<'_>) -> String {
    let got = tokio::task::spawn_blocking({
        let url = url.to_string();
        move || request("GET", &url, &[]).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(got.0, 402);
    let pr = got
        .1
        .iter()
        .find(|(k, _)| k == "payment-required")
        .unwrap()
        .1
        .clone();
    let key = PrivateKey::from_bytes(&[7u8; 32]).unwrap();
    let mut nonce = [0u8; 32];
    let label = label.as_bytes();
    nonce[..label.len().min(32)].copy_from_slice(&label[..label.len().min(32)]);
    let mut out = vec![0u8; 8192];
    let created = create_payment(pr.as_bytes(), &key, nonce, now(), policy, &mut out).unwrap();
    String::from_utf8(out[..created.len].to_vec()).unwrap()
}

/// The state of the record of the payment whose nonce starts with `label`.
async fn state_of(records: &dyn RecordStore, payment: &str) -> String {
    let nonce = unb64(payment)["payload"]["authorization"]["nonce"]
        .as_str()
        .unwrap()
        .to_lowercase();
    // The key is the core's; find the record by its payment's nonce.
    let all = records.uncertain().await.unwrap();
    if all
        .iter()
        .any(|(_, r)| record_info(r).unwrap().nonce.to_lowercase() == nonce)
    {
        return "uncertain".into();
    }
    "not uncertain".into()
}

async fn vectors_against(records: Arc<dyn RecordStore>) {
    let vectors: Value = serde_json::from_str(VECTORS).unwrap();
    let fac = Double::start(Mode::settled());
    let shop = shop(&fac.url(), records, None).await;
    let url = format!("{}/paid", shop.origin);
    for (i, v) in vectors["vectors"].as_array().unwrap().iter().enumerate() {
        let name = v["name"].as_str().unwrap();
        let expect = &v["expect"];
        fac.set(Mode::from_vector(&v["reply"]));
        let payment = pay(&url, &format!("vector-{i}-{}", std::process::id())).await;
        let calls = fac.calls().len();
        let handled = shop.handled.load(Ordering::SeqCst);
        let got = fetch(url.clone(), Some(payment.clone())).await;
        assert_eq!(
            got.status,
            expect["status"].as_u64().unwrap() as u16,
            "{name}: {got:?}"
        );
        let delivered = expect["delivered"] == true;
        assert_eq!(got.payment_response.is_some(), delivered, "{name}");
        assert_eq!(got.body == CONTENT, delivered, "{name}: {}", got.body);
        if delivered {
            let pr = unb64(got.payment_response.as_deref().unwrap());
            assert_eq!(pr["success"], true, "{name}");
        } else {
            assert!(
                got.reason.starts_with(expect["reason"].as_str().unwrap()),
                "{name}: {got:?}"
            );
        }
        // The handler ran for every valid payment (its answer held back).
        assert_eq!(shop.handled.load(Ordering::SeqCst), handled + 1, "{name}");
        let refused = v["reply"]["refuse"] == true;
        assert_eq!(fac.calls().len(), calls + usize::from(!refused), "{name}");
        assert_eq!(
            state_of(shop.records.as_ref(), &payment).await == "uncertain",
            expect["record"] == "uncertain",
            "{name}"
        );
        if let Some(again) = expect.get("again") {
            let before = fac.calls().len();
            // The delivered record is written once the answer went out: a
            // presentation racing it is told to retry shortly (409, in
            // progress, with the PAYMENT-RESPONSE), as a client would.
            let mut got = fetch(url.clone(), Some(payment.clone())).await;
            for _ in 0..40 {
                if got.reason != "payment_in_progress" {
                    break;
                }
                assert!(got.payment_response.is_some(), "{name}: {got:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                got = fetch(url.clone(), Some(payment.clone())).await;
            }
            assert_eq!(
                got.status,
                again["status"].as_u64().unwrap() as u16,
                "{name} again: {got:?}"
            );
            assert!(
                got.reason.starts_with(again["reason"].as_str().unwrap()),
                "{name} again: {got:?}"
            );
            assert_eq!(
                got.payment_response.is_some(),
                again["paymentResponse"] == true,
                "{name} again"
            );
            assert_ne!(got.body, CONTENT, "{name} again");
            let settles_again = got.status == 402;
            assert_eq!(
                fac.calls().len(),
                before + usize::from(settles_again),
                "{name} again"
            );
        }
        if let Some(recovered) = expect.get("recovered") {
            fac.set(Mode::settled());
            let got = fetch(url.clone(), Some(payment.clone())).await;
            assert_eq!(got.status, recovered["status"].as_u64().unwrap() as u16);
            assert_eq!(got.body, CONTENT, "{name} recovered");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_facilitator_behaviour_of_the_shared_vectors_in_memory() {
    vectors_against(Arc::new(MemoryRecords::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_facilitator_behaviour_of_the_shared_vectors_in_sqlite() {
    let dir = std::env::temp_dir().join(format!("paywire-layer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("records.db");
    let _ = std::fs::remove_file(&path);
    vectors_against(Arc::new(SqliteRecords::open(&path).unwrap())).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_facilitator_behaviour_of_the_shared_vectors_in_postgres() {
    let Ok(url) = std::env::var("PAYWIRE_TEST_POSTGRES") else {
        assert!(
            std::env::var("PAYWIRE_REQUIRE_POSTGRES").is_err(),
            "PAYWIRE_REQUIRE_POSTGRES is set but PAYWIRE_TEST_POSTGRES is not"
        );
        eprintln!("NOT RUN: PAYWIRE_TEST_POSTGRES is not set");
        return;
    };
    let records = PostgresRecords::connect(&url).await.unwrap();
    vectors_against(Arc::new(records)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_payment_presented_twenty_times_at_once_settles_once() {
    let fac = Double::start(Mode::settled_after(Duration::from_millis(300)));
    let shop = shop(&fac.url(), Arc::new(MemoryRecords::default()), None).await;
    let url = format!("{}/paid", shop.origin);
    let payment = pay(&url, &format!("twenty-{}", std::process::id())).await;
    let answers = futures_join(
        (0..20)
            .map(|_| tokio::spawn(fetch(url.clone(), Some(payment.clone()))))
            .collect(),
    )
    .await;
    let delivered = answers.iter().filter(|g| g.body == CONTENT).count();
    assert_eq!(delivered, 1, "{answers:?}");
    assert_eq!(fac.calls().len(), 1, "one settlement");
    for g in &answers {
        assert!(g.status == 200 || g.status == 409, "{g:?}");
        assert_ne!(g.status, 402, "never an invitation to pay again");
    }
}

async fn futures_join(handles: Vec<tokio::task::JoinHandle<Got>>) -> Vec<Got> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payment_for_one_route_is_refused_on_another_and_free_routes_are_untouched() {
    let fac = Double::start(Mode::settled());
    let shop = shop(&fac.url(), Arc::new(MemoryRecords::default()), None).await;
    // A payment for /paid (0.01) does not buy /other (0.02).
    let payment = pay(
        &format!("{}/paid", shop.origin),
        &format!("route-{}", std::process::id()),
    )
    .await;
    let got = fetch(format!("{}/other", shop.origin), Some(payment)).await;
    assert_eq!(got.status, 402, "{got:?}");
    assert_ne!(got.body, "the other text");
    assert!(fac.calls().is_empty(), "nothing settled");
    let free = fetch(format!("{}/free", shop.origin), None).await;
    assert_eq!((free.status, free.body.as_str()), (200, "free"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_api_key_goes_to_the_facilitator() {
    let fac = Double::start(Mode::settled());
    let shop = shop(
        &fac.url(),
        Arc::new(MemoryRecords::default()),
        Some("shop-key-0123"),
    )
    .await;
    let url = format!("{}/paid", shop.origin);
    let payment = pay(&url, &format!("key-{}", std::process::id())).await;
    let got = fetch(url, Some(payment)).await;
    assert_eq!(got.status, 200, "{got:?}");
    assert_eq!(
        fac.authorizations(),
        [Some("Bearer shop-key-0123".to_string())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upto_handler_charges_what_it_used_and_the_header_stays_inside() {
    const FACILITATOR: &str = "0xc312cD8d90598e36418C81756d81d64158Ed78C7";
    let fac = Double::start(Mode::settled());
    let route = serde_json::json!({
        "x402Version": 2,
        "resource": {"url": "http://localhost/llm"},
        "accepts": [{
            "scheme": "upto", "network": "eip155:84532", "amount": "750000", "asset": USDC,
            "payTo": MERCHANT, "maxTimeoutSeconds": 60,
            "extra": {"name": "USDC", "version": "2", "assetTransferMethod": "permit2",
                      "facilitatorAddress": FACILITATOR}
        }]
    });
    let paywall = Paywall::new(
        Facilitator::new(&fac.url()).unwrap(),
        Arc::new(MemoryRecords::default()),
    )
    .settings(Settings {
        facilitator_addresses: vec![FACILITATOR.parse().unwrap()],
        ..Settings::default()
    })
    .route("GET /llm", Offer::document(&route.to_string()))
    .unwrap();
    let app = Router::new()
        .route(
            "/llm",
            get(|| async { ([("Settlement-Overrides", r#"{"amount":"40%"}"#)], "tokens") }),
        )
        .layer(paywall.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/llm", listener.local_addr().unwrap());
    tokio::spawn(paywire_server::http::serve(
        listener,
        app,
        paywire_server::http::Limits::default(),
        std::future::pending(),
    ));
    let policy = Policy {
        allow_upto: true,
        ..Policy::default()
    };
    let payment = pay_with(&url, &format!("upto-{}", std::process::id()), &policy).await;
    let answer = tokio::task::spawn_blocking({
        let url = url.clone();
        move || request("GET", &url, &[("PAYMENT-SIGNATURE", &payment)]).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(answer.0, 200);
    assert_eq!(answer.2, b"tokens");
    assert!(
        !answer.1.iter().any(|(k, _)| k == "settlement-overrides"),
        "the charge never reaches the client"
    );
    let calls = fac.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["paymentRequirements"]["amount"], "300000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_settlement_agent_known_by_its_directory_commits_and_is_served_once() {
    use paywire::batch::{self, SignParams, ed25519::SigningKey};
    use paywire_server::paywall::AgentDirectories;

    // The agent: its key, and its directory served on 127.0.0.1.
    let key = SigningKey::from_seed(&[9u8; 32]);
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.public_key().as_bytes());
    let jwks = serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x}]}).to_string();
    let agent_app = Router::new().route(
        batch::directory::WELL_KNOWN_PATH,
        get(move || {
            let jwks = jwks.clone();
            async move { ([("content-type", batch::directory::MEDIA_TYPE)], jwks) }
        }),
    );
    let agent_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let agent = format!("http://{}", agent_listener.local_addr().unwrap());
    tokio::spawn(paywire_server::http::serve(
        agent_listener,
        agent_app,
        paywire_server::http::Limits::default(),
        std::future::pending(),
    ));

    let fac = Double::start(Mode::settled());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let route = serde_json::json!({
        "x402Version": 2,
        "resource": {"url": format!("{origin}/article")},
        "accepts": [{"scheme": "batch-settlement", "network": "cloudflare:402", "amount": "5",
                     "asset": "USD", "payTo": "merchant", "maxTimeoutSeconds": 30, "extra": {"version": "1"}}],
        "extensions": {"http-message-signatures": {"info": {"signatureSchemes": ["ed25519"], "tags": ["web-bot-auth"]}}}
    });
    let paywall = Paywall::new(
        Facilitator::new(&fac.url()).unwrap(),
        Arc::new(MemoryRecords::default()),
    )
    .directories(Arc::new(AgentDirectories::new(&[agent.as_str()]).unwrap()))
    .route("GET /article", Offer::document(&route.to_string()))
    .unwrap();
    let app = Router::new()
        .route("/article", get(|| async { "deferred payments, explained" }))
        .layer(paywall.layer());
    tokio::spawn(paywire_server::http::serve(
        listener,
        app,
        paywire_server::http::Limits::default(),
        std::future::pending(),
    ));

    // The agent commits to the offer and signs its request.
    let url = format!("{origin}/article");
    let mut scratch = vec![0u8; 16 * 1024];
    let doc = route.to_string();
    let pr = paywire::client::read_payment_required(doc.as_bytes(), &mut scratch).unwrap();
    let mut out = vec![0u8; 32 * 1024];
    let created = paywire::client::create_batch_payment(&pr, &Policy::default(), &mut out).unwrap();
    let payment = String::from_utf8(out[..created.len].to_vec()).unwrap();
    let signed_by = |signer: &SigningKey| {
        let at = now();
        let quoted = format!("\"{agent}\"");
        let headers = [("PAYMENT-SIGNATURE", payment.as_str())];
        let s = batch::sign_request_alloc(
            &batch::Request {
                method: "GET",
                url: &url,
                headers: &headers,
            },
            signer,
            &SignParams {
                label: "sig1",
                signature_agent: &quoted,
                signature_agent_key: None,
                created: at,
                expires: at + 60,
                nonce: Some("n0"),
            },
        )
        .unwrap();
        vec![
            ("PAYMENT-SIGNATURE".to_string(), payment.clone()),
            ("Signature-Agent".to_string(), s.signature_agent),
            ("Signature-Input".to_string(), s.signature_input),
            ("Signature".to_string(), s.signature),
        ]
    };
    let send = |headers: Vec<(String, String)>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let h: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            request("GET", &url, &h).unwrap()
        })
    };
    // A stranger's key under the agent's name: refused.
    let stranger = send(signed_by(&SigningKey::from_seed(&[7u8; 32])))
        .await
        .unwrap();
    assert_eq!(stranger.0, 402);
    let headers = signed_by(&key);
    let first = send(headers.clone()).await.unwrap();
    assert_eq!(first.0, 200, "{}", String::from_utf8_lossy(&first.2));
    assert_eq!(first.2, b"deferred payments, explained");
    // Recorded, not settled on a chain: the facilitator was never called.
    assert!(fac.calls().is_empty());
    // The same signed commitment again: not served twice.
    let mut again = send(headers.clone()).await.unwrap();
    for _ in 0..40 {
        if again.0 != 409 || !String::from_utf8_lossy(&again.2).contains("in_progress") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        again = send(headers.clone()).await.unwrap();
    }
    assert_eq!(again.0, 409, "{}", String::from_utf8_lossy(&again.2));
    assert_ne!(again.2, b"deferred payments, explained");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_verification_at_the_facilitator_an_invalid_payment_is_refused_before_the_handler() {
    use axum::routing::post;
    // A facilitator whose /verify finds the payer short of funds.
    let settles = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&settles);
    let fac = Router::new()
        .route(
            "/verify",
            post(|| async {
                r#"{"isValid":false,"invalidReason":"invalid_exact_evm_insufficient_balance","payer":"0x0000000000000000000000000000000000000001"}"#
            }),
        )
        .route(
            "/settle",
            post(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { "{}" }
            }),
        );
    let fac_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fac_url = format!("http://{}", fac_listener.local_addr().unwrap());
    tokio::spawn(paywire_server::http::serve(
        fac_listener,
        fac,
        paywire_server::http::Limits::default(),
        std::future::pending(),
    ));
    let paywall = Paywall::new(
        Facilitator::new(&fac_url).unwrap(),
        Arc::new(MemoryRecords::default()),
    )
    .settings(Settings {
        verify_at_facilitator: true,
        ..Settings::default()
    })
    .route(
        "GET /paid",
        Offer::exact("eip155:84532", USDC, "10000", MERCHANT).token("USDC", "2"),
    )
    .unwrap();
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&handled);
    let app = Router::new()
        .route(
            "/paid",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { CONTENT }
            }),
        )
        .layer(paywall.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/paid", listener.local_addr().unwrap());
    tokio::spawn(paywire_server::http::serve(
        listener,
        app,
        paywire_server::http::Limits::default(),
        std::future::pending(),
    ));
    let payment = pay(&url, &format!("verify-{}", std::process::id())).await;
    let got = fetch(url, Some(payment)).await;
    assert_eq!(got.status, 402, "{got:?}");
    assert_eq!(got.reason, "invalid_exact_evm_insufficient_balance");
    assert_eq!(handled.load(Ordering::SeqCst), 0, "the handler never ran");
    assert_eq!(settles.load(Ordering::SeqCst), 0, "nothing was settled");
}

#[test]
fn a_route_typo_is_refused_not_left_unpaid() {
    let offer = || Offer::exact("eip155:84532", USDC, "10000", MERCHANT);
    let paywall = || {
        Paywall::new(
            Facilitator::new("http://127.0.0.1:9").unwrap(),
            Arc::new(MemoryRecords::default()),
        )
    };
    for bad in [
        "get /paid",
        "GET paid",
        "GET /items/{id}",
        "GET /files/*rest",
        "GET /a?b=1",
        "/paid",
    ] {
        assert!(paywall().route(bad, offer()).is_err(), "{bad}");
    }
    assert!(paywall().route("GET /paid", offer()).is_ok());
}

/// An app selling `GET /doc` by the whole `PaymentRequired` document
/// `document` (its `resource.url` filled in with the app's own), whose handler
/// fails (500) the first `failures` times. Its origin, and how often the
/// handler ran.
async fn document_shop(
    fac: &str,
    document: impl Fn(&str) -> String,
    failures: usize,
) -> (String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let settings = Settings {
        settle_timeout_seconds: 2,
        ..Settings::default()
    };
    let paywall = Paywall::new(
        Facilitator::new(fac).unwrap(),
        Arc::new(MemoryRecords::default()),
    )
    .settings(settings)
    .route(
        "GET /doc",
        Offer::document(&document(&format!("{origin}/doc"))),
    )
    .unwrap();
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&handled);
    let app = Router::new()
        .route(
            "/doc",
            get(move || {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < failures {
                        (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "broken").into_response()
                    } else {
                        CONTENT.into_response()
                    }
                }
            }),
        )
        .layer(paywall.layer());
    let server = tokio::spawn(paywire_server::http::serve(
        listener,
        app,
        paywire_server::http::Limits::default(),
        std::future::pending(),
    ));
    (origin, handled, server)
}

/// A `PaymentRequired` for one exact requirement at `url`, with `extra` and
/// `extensions` added.
fn document(url: &str, extra: &str, extensions: &str) -> String {
    format!(
        r#"{{"x402Version":2,"resource":{{"url":"{url}","description":"d","mimeType":"text/plain"}},"accepts":[{{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"{USDC}","payTo":"{MERCHANT}","maxTimeoutSeconds":60,"extra":{{"name":"USDC","version":"2"{extra}}}}}]{extensions}}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payment_identifier_gets_the_earlier_result_and_a_reused_one_is_refused() {
    let fac = Double::start(Mode::settled());
    let declared = |url: &str| {
        document(
            url,
            "",
            r#","extensions":{"payment-identifier":{"info":{"required":false},"schema":{"type":"object"}}}"#,
        )
    };
    let (origin, handled, _server) = document_shop(&fac.url(), declared, 0).await;
    let url = format!("{origin}/doc");
    let first = pay(&url, "identifier-first").await;
    let id = unb64(&first)["extensions"]["payment-identifier"]["info"]["id"]
        .as_str()
        .expect("the client attaches an id to a route that declares the extension")
        .to_owned();
    let got = fetch(url.clone(), Some(first.clone())).await;
    assert_eq!((got.status, got.body.as_str()), (200, CONTENT), "{got:?}");
    // The same purchase again: the earlier result, not handled or settled again.
    let again = fetch(url.clone(), Some(first)).await;
    assert_eq!(
        (again.status, again.reason.as_str()),
        (409, "payment_already_delivered"),
        "{again:?}"
    );
    assert_eq!(again.payment_response, got.payment_response);
    // Another purchase that reuses the id: refused, nothing handled or settled.
    let mut other = unb64(&pay(&url, "identifier-other").await);
    other["extensions"]["payment-identifier"]["info"]["id"] = Value::String(id);
    let other = base64::engine::general_purpose::STANDARD.encode(other.to_string());
    let refused = fetch(url.clone(), Some(other)).await;
    assert_eq!(
        (refused.status, refused.reason.as_str()),
        (409, "payment_identifier_conflict"),
        "{refused:?}"
    );
    assert!(refused.payment_response.is_none());
    assert_eq!(handled.load(Ordering::SeqCst), 1);
    assert_eq!(fac.calls().len(), 1, "one settlement");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upfront_route_settles_first_and_a_failed_handler_does_not_ask_to_pay_again() {
    let fac = Double::start(Mode::settled());
    let upfront = |url: &str| document(url, r#","paymentFlow":"upfront""#, "");
    let (origin, handled, _server) = document_shop(&fac.url(), upfront, 1).await;
    let url = format!("{origin}/doc");
    let payment = pay(&url, "upfront-one").await;
    // Settled before the handler ran; the handler fails: its failure, with the
    // settlement, never a 402.
    let failed = fetch(url.clone(), Some(payment.clone())).await;
    assert_eq!(failed.status, 500, "{failed:?}");
    assert!(failed.payment_response.is_some(), "the settlement is told");
    assert_eq!(fac.calls().len(), 1);
    // The same payment again: the resource, without a second settlement.
    let served = fetch(url, Some(payment)).await;
    assert_eq!(
        (served.status, served.body.as_str()),
        (200, CONTENT),
        "{served:?}"
    );
    assert_eq!(fac.calls().len(), 1, "settled once");
    assert_eq!(handled.load(Ordering::SeqCst), 2);
}
