//! The facilitator's HTTP surface without a chain (its node is a closed port
//! on 127.0.0.1): who may call, the bounds every request is held to, slow and
//! abusive clients, and hostile bodies — answered with a status and JSON,
//! never a crash, and nothing sent.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "../support/mod.rs"]
mod support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::{API_KEY, Running, Scratch, Setup, key, pay_at, post};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const NETWORK: &str = "eip155:84532";
/// Nothing listens here: every call to the node is refused at once.
const NO_NODE: &str = "http://127.0.0.1:9";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token() -> paywire::evm::Address {
    "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
        .parse()
        .unwrap()
}

async fn start<'a>(dir: &Scratch, edit: impl FnOnce(&mut Setup<'a>)) -> Running {
    let signer = key("http/signer").1;
    let mut setup = Setup::new(
        format!("sqlite://{}", dir.0.join("records.db").display()),
        NO_NODE,
        NETWORK,
        &[&signer],
    );
    edit(&mut setup);
    Running::start(&setup.toml(dir)).await
}

fn payment(label: &str, pay_to: &paywire::evm::Address) -> String {
    let payer = key(&format!("http/payer/{label}")).0;
    pay_at(
        NETWORK,
        &token(),
        now(),
        &payer,
        pay_to,
        10_000,
        label,
        |_| {},
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_key_holders_settle_for_their_payees_at_their_rate() {
    let dir = Scratch::new("access");
    let allowed = key("http/allowed").0.address();
    let extra = format!("pay_to = [\"{allowed}\"]\nrequests_per_minute = 3");
    let f = start(&dir, |s| s.extra_key = &extra).await;
    let body = payment("access", &allowed);

    // No key, a wrong key, another scheme: 401 with WWW-Authenticate.
    for auth in [None, Some("not-the-key")] {
        let (status, v) = post(&format!("{}/settle", f.url), &body, auth).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
        assert_eq!(v["error"], "unauthorized");
    }
    let r = support::http()
        .post(format!("{}/verify", f.url))
        .header("authorization", format!("Basic {API_KEY}"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");

    // The key, for another payee: 403, nothing looked at further.
    let other = payment("access-other", &key("http/other").0.address());
    let (status, v) = f.post("/settle", &other).await;
    assert_eq!(
        (status, v["error"].clone()),
        (StatusCode::FORBIDDEN, json!("pay_to_not_allowed"))
    );

    // The key for its payee: answered (the node is down: nothing can be
    // settled, and the answer says so without a transaction).
    let (status, v) = f.post("/verify", &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["isValid"], false, "{v}");
    // The rate: three a minute (the 403 counted too).
    let (status, _) = f.post("/verify", &body).await;
    assert_eq!(status, StatusCode::OK);
    let r = support::http()
        .post(format!("{}/verify", f.url))
        .header("authorization", format!("Bearer {API_KEY}"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");

    // Public: /supported and /health; unknown paths: 404 in JSON.
    let (status, s) = f.get("/supported").await;
    assert_eq!(status, StatusCode::OK);
    let s: Value = serde_json::from_str(&s).unwrap();
    assert_eq!(s["extensions"], json!([]));
    assert!(
        s["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["network"] == NETWORK)
    );
    assert_eq!(f.get("/health").await.0, StatusCode::OK);
    let (status, body404) = f.get("/nothing/here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        serde_json::from_str::<Value>(&body404).unwrap()["error"],
        "not_found"
    );
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settlement_the_node_cannot_take_sends_nothing_and_can_be_presented_again() {
    let dir = Scratch::new("down");
    let f = start(&dir, |_| {}).await;
    let body = payment("down", &key("http/merchant").0.address());
    for _ in 0..2 {
        let (status, v) = f.post("/settle", &body).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["success"], false, "{v}");
        assert_eq!(v["transaction"], "", "{v}");
        assert_eq!(v["network"], NETWORK, "{v}");
        assert_ne!(v["errorReason"], "settlement_pending", "{v}");
    }
    // A signature that does not match: refused offline with the reference's reason.
    let mut bad: Value = serde_json::from_str(&body).unwrap();
    bad["paymentPayload"]["payload"]["authorization"]["value"] = json!("10001");
    let (_, v) = f.post("/verify", &bad.to_string()).await;
    assert_eq!(v["isValid"], false);
    assert!(
        v["invalidReason"].as_str().unwrap().contains("value")
            || v["invalidReason"].as_str().unwrap().contains("signature"),
        "{v}"
    );
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_identifier_belongs_to_the_first_payment_that_carries_it() {
    let dir = Scratch::new("payment-identifier");
    let f = start(&dir, |_| {}).await;
    let merchant = key("http/merchant").0.address();
    let with_id = |label: &str, id: &str| {
        let mut v: Value = serde_json::from_str(&payment(label, &merchant)).unwrap();
        v["paymentPayload"]["extensions"] =
            json!({"payment-identifier": {"info": {"required": false, "id": id}}});
        v.to_string()
    };
    let id = "pay_0123456789abcdef0123456789abcdef";
    let first = with_id("pid-first", id);
    let other = with_id("pid-other", id);
    // The first payment binds the id (the node is down: nothing is sent, and
    // it may be presented again).
    for _ in 0..2 {
        let (_, v) = f.post("/settle", &first).await;
        assert_eq!(v["success"], false, "{v}");
        assert_ne!(v["errorReason"], "payment_identifier_conflict", "{v}");
    }
    // Another payment with the same id: refused by /verify and /settle.
    let (_, v) = f.post("/verify", &other).await;
    assert_eq!(
        (v["isValid"].clone(), v["invalidReason"].clone()),
        (json!(false), json!("payment_identifier_conflict")),
        "{v}"
    );
    let (_, v) = f.post("/settle", &other).await;
    assert_eq!(
        (v["success"].clone(), v["errorReason"].clone()),
        (json!(false), json!("payment_identifier_conflict")),
        "{v}"
    );
    // The same id for another payee is another id; an id in the wrong form binds nothing.
    let mut elsewhere: Value = serde_json::from_str(&payment(
        "pid-elsewhere",
        &key("http/merchant-2").0.address(),
    ))
    .unwrap();
    elsewhere["paymentPayload"]["extensions"] =
        json!({"payment-identifier": {"info": {"required": false, "id": id}}});
    let (_, v) = f.post("/settle", &elsewhere.to_string()).await;
    assert_ne!(v["errorReason"], "payment_identifier_conflict", "{v}");
    for label in ["pid-short-1", "pid-short-2"] {
        let (_, v) = f.post("/settle", &with_id(label, "short")).await;
        assert_ne!(v["errorReason"], "payment_identifier_conflict", "{v}");
    }
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_get_an_answer_never_a_crash() {
    let dir = Scratch::new("hostile");
    let f = start(&dir, |s| s.extra_server = "max_body_bytes = 8192").await;
    let good = payment("hostile", &key("http/merchant").0.address());
    let mut bodies: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"{".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{\"x402Version\":2}".to_vec(),
        vec![b'['; 5000],
        vec![0xff; 100],
        format!("{{\"x402Version\":{}}}", "9".repeat(400)).into_bytes(),
        good.replace("\"exact\"", "\"exact\\u0000\"").into_bytes(),
        good.replace("eip155:84532", "eip155:99999999999999999999999")
            .into_bytes(),
        good.replace("eip155:84532", "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp")
            .into_bytes(),
        format!("{good}{good}").into_bytes(),
    ];
    // Every prefix of a good body, and single-byte changes through it.
    let g = good.as_bytes();
    for cut in (0..g.len()).step_by(37) {
        bodies.push(g[..cut].to_vec());
        let mut flipped = g.to_vec();
        flipped[cut] ^= 0x20;
        bodies.push(flipped);
    }
    for body in &bodies {
        for path in ["/verify", "/settle"] {
            let r = support::http()
                .post(format!("{}{path}", f.url))
                .header("authorization", format!("Bearer {API_KEY}"))
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = r.status();
            let text = r.text().await.unwrap();
            assert!(
                [
                    StatusCode::OK,
                    StatusCode::BAD_REQUEST,
                    StatusCode::FORBIDDEN
                ]
                .contains(&status),
                "{path} {status}: {text} for {:?}",
                String::from_utf8_lossy(body)
            );
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"));
            if status == StatusCode::OK && path == "/settle" {
                assert_eq!(
                    (v["success"].clone(), v["transaction"].clone()),
                    (json!(false), json!("")),
                    "{v}"
                );
            }
        }
    }
    // Too large: 413 before it is read whole.
    let (status, _) = f.post("/verify", &"x".repeat(9000)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Still serving.
    assert_eq!(f.get("/health").await.0, StatusCode::OK);
    f.stop().await;
}

/// Opens a connection and sends part of a request head.
async fn trickle(url: &str) -> TcpStream {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /verify HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    s
}

/// Reads until the server closes (or `within` passes): what it sent.
async fn until_closed(s: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    let end = Instant::now() + within;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(out),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_the_connection_limit_answers_503() {
    let dir = Scratch::new("slow");
    let f = start(&dir, |s| {
        s.extra_server = "header_timeout_ms = 600\nmax_connections = 4"
    })
    .await;
    // A client that never finishes its head is closed after the head timeout.
    let mut slow = trickle(&f.url).await;
    let started = Instant::now();
    let t = tokio::spawn(async move {
        // One more header line now and then, never the end of the head.
        for i in 0..20 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if slow
                .write_all(format!("X-{i}: y\r\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
        until_closed(&mut slow, Duration::from_secs(5)).await
    });
    assert!(t.await.unwrap().is_some(), "the slow client was not closed");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // Four connections hold every slot: a fifth gets 503 with Retry-After,
    // at once; once their heads time out, requests are served again.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(trickle(&f.url).await);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let r = support::http()
        .get(format!("{}/health", f.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "1");
    for mut h in held {
        assert!(until_closed(&mut h, Duration::from_secs(5)).await.is_some());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(f.get("/health").await.0, StatusCode::OK);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_error_names_file_line_and_field() {
    let dir = Scratch::new("config");
    let signer = key("http/signer").1;
    let store = format!("sqlite://{}", dir.0.join("records.db").display());
    let text = Setup::new(store, NO_NODE, NETWORK, &[&signer]).toml(&dir);
    let bad = text.replace(
        "receipt_timeout_seconds = 8",
        "receipt_timeout_seconds = \"8\"",
    );
    let e =
        paywire_server::config::Config::parse(std::path::Path::new("f.toml"), &bad).unwrap_err();
    let line = bad
        .lines()
        .position(|l| l.starts_with("receipt_timeout_seconds"))
        .unwrap()
        + 1;
    assert_eq!(e.line, Some(line), "{e}");
    assert!(e.to_string().starts_with(&format!("f.toml:{line}:")), "{e}");
    // A key file others can read is refused, naming it.
    let loose = dir.0.join("loose.key");
    std::fs::write(&loose, &signer).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let c = paywire_server::config::Config::parse(
        std::path::Path::new("f.toml"),
        &text.replace(
            &format!("{:?}", dir.0.join("signer0.key")),
            &format!("{loose:?}"),
        ),
    )
    .unwrap();
    let e = paywire_server::facilitator::Facilitator::new(&c)
        .await
        .unwrap_err();
    assert!(e.contains("signers[0]") && e.contains("loose.key"), "{e}");
    assert!(!e.contains(&signer[2..]), "the key must never be shown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_discovery_catalog_is_off_by_default_and_bounded_when_on() {
    let dir = Scratch::new("discovery-off");
    let f = start(&dir, |_| {}).await;
    assert_eq!(f.get("/discovery/resources").await.0, StatusCode::NOT_FOUND);
    f.stop().await;

    let dir = Scratch::new("discovery-on");
    let f = start(&dir, |s| s.extra_server = "[discovery]\nenabled = true\n").await;
    let (status, s) = f.get("/supported").await;
    assert_eq!(status, StatusCode::OK);
    let s: Value = serde_json::from_str(&s).unwrap();
    assert_eq!(s["extensions"], json!(["bazaar"]));
    let (status, body) = f.get("/discovery/resources?limit=1000&x=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"x402Version": 2, "items": [], "pagination": {"limit": 100, "offset": 0, "total": 0}})
    );
    for bad in ["limit=0", "limit=x", "offset=-1", "offset=100000000"] {
        let (status, body) = f.get(&format!("/discovery/resources?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["error"],
            "invalid_request"
        );
    }
    f.stop().await;

    // Not public: API key holders only.
    let dir = Scratch::new("discovery-private");
    let f = start(&dir, |s| {
        s.extra_server = "[discovery]\nenabled = true\npublic = false\n"
    })
    .await;
    assert_eq!(
        f.get("/discovery/resources").await.0,
        StatusCode::UNAUTHORIZED
    );
    let r = support::http()
        .get(format!("{}/discovery/resources", f.url))
        .header("authorization", format!("Bearer {}", support::API_KEY))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    f.stop().await;
}

/// Solana beside an EVM network, its node down: `/supported` lists both;
/// a payment the core refuses offline is answered with its reason without
/// the node; one it accepts cannot be checked, so it is neither valid nor
/// settled, and nothing is sent or kept (it can be presented again); a key
/// limited to EVM payees may not act for a Solana one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn solana_without_a_node() {
    use paywire::svm::client::SigningKey;
    use paywire::svm::{Pubkey, TOKEN_PROGRAM};
    const SOLANA: &str = "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1";
    let dir = Scratch::new("solana");
    let fee_payer = SigningKey::from_bytes(&[1; 32]);
    let fp = Pubkey(fee_payer.verifying_key().to_bytes());
    let seed: String = fee_payer
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let file = dir.secret("sol.key", &seed);
    let signer = key("http/signer").1;
    let setup = Setup::new(
        format!("sqlite://{}", dir.0.join("records.db").display()),
        NO_NODE,
        NETWORK,
        &[&signer],
    );
    let solana = format!(
        "\n[[signers]]\nname = \"sol\"\nkind = \"ed25519\"\nkey_file = {file:?}\n\n[[solana_networks]]\nid = \"{SOLANA}\"\nrpc = [\"{NO_NODE}\"]\nfee_payers = [\"sol\"]\nreceipt_timeout_seconds = 2\n"
    );
    let f = Running::start(&format!("{}{solana}", setup.toml(&dir))).await;

    let (_, s) = f.get("/supported").await;
    let s: Value = serde_json::from_str(&s).unwrap();
    assert!(
        s["kinds"]
            .as_array()
            .unwrap()
            .contains(&json!({"x402Version": 2, "scheme": "exact", "network": SOLANA, "extra": {"feePayer": fp.to_string()}})),
        "{s}"
    );
    assert_eq!(s["signers"]["solana:*"], json!([fp.to_string()]));
    assert_eq!(s["signers"]["eip155:*"].as_array().unwrap().len(), 1);

    let pay_to = Pubkey([3; 32]);
    let accepted = |fee_payer: &Pubkey| {
        json!({
            "scheme": "exact", "network": SOLANA, "amount": "1000",
            "asset": Pubkey([9; 32]).to_string(), "payTo": pay_to.to_string(),
            "maxTimeoutSeconds": 60, "extra": {"feePayer": fee_payer.to_string()},
        })
    };
    let payer = SigningKey::from_bytes(&[2; 32]);
    // Offline refusals need no node.
    let (_, other) = support::svm_payment(
        &payer,
        TOKEN_PROGRAM,
        &accepted(&Pubkey([7; 32])),
        [5; 32],
        1,
    );
    let (status, v) = f.post("/verify", &other.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        v["invalidReason"],
        json!("invalid_exact_svm_fee_payer_not_managed_by_facilitator"),
        "{v}"
    );
    let (_, s) = f.post("/settle", &other.to_string()).await;
    assert_eq!(s["success"], json!(false));
    assert_eq!(s["transaction"], json!(""));
    assert_eq!(s["network"], json!(SOLANA));
    let (_, good) = support::svm_payment(&payer, TOKEN_PROGRAM, &accepted(&fp), [5; 32], 2);
    let mut garbage = good.clone();
    garbage["paymentPayload"]["payload"]["transaction"] = json!("AAAA");
    let (status, v) = f.post("/settle", &garbage.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        v["errorReason"],
        json!("invalid_exact_svm_payload_transaction_could_not_be_decoded"),
        "{v}"
    );
    // Valid offline; the node cannot be asked: not valid, nothing sent, and
    // the same answer again (nothing was kept).
    let (_, v) = f.post("/verify", &good.to_string()).await;
    assert_eq!(v["isValid"], json!(false), "{v}");
    assert_eq!(v["invalidReason"], json!("unexpected_verify_error"), "{v}");
    for _ in 0..2 {
        let (_, s) = f.post("/settle", &good.to_string()).await;
        assert_eq!(s["success"], json!(false), "{s}");
        assert_eq!(s["errorReason"], json!("unexpected_settle_error"), "{s}");
        assert_eq!(s["transaction"], json!(""));
    }
    f.stop().await;

    // A key limited to an EVM payee: 403 for a Solana one.
    let evm_only = format!("pay_to = [\"{}\"]", key("http/allowed").0.address());
    let mut setup = setup;
    setup.extra_key = &evm_only;
    let f = Running::start(&format!("{}{solana}", setup.toml(&dir))).await;
    let (status, v) = f.post("/verify", &good.to_string()).await;
    assert_eq!(
        (status, v["error"].clone()),
        (StatusCode::FORBIDDEN, json!("pay_to_not_allowed"))
    );
    let (status, _) = f.post("/settle", &good.to_string()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    f.stop().await;
}
