//! `batch-settlement` on EVM through the paywall layer: payment channels
//! paid with cumulative vouchers, payments made by the core's client at the
//! time of the test, a facilitator double answering `/verify` and `/settle`
//! as a facilitator of that scheme does. The facilitator-failure table of a
//! deposit, concurrent presentations of one voucher and of one deposit (in
//! memory, SQLite and, when `PAYWIRE_TEST_POSTGRES` names a server,
//! PostgreSQL), and slow or abusive clients on the route.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use paywire::Amount;
use paywire::evm::batch_settlement::client::{self, Created, DepositMethod};
use paywire::evm::batch_settlement::verify::Requirements;
use paywire::evm::{B256, PrivateKey, keccak256};
use paywire::json::{Limits, ToJson};
use paywire::lifecycle::{Settings, record_info};
use paywire::types::FromJson;
use paywire::types::v2::PaymentRequirements;
use paywire_server::paywall::{
    ChannelManager, Facilitator, ManagerOutcome, MemoryRecords, Offer, Paywall, PostgresRecords,
    RecordStore, RecordUpdate, Reply, Settler, SqliteRecords,
};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::doubles::{Facilitator as Double, Mode};
use super::{CONTENT, Got, USDC, fetch, now, unb64};

const NETWORK: &str = "eip155:84532";
const CHAIN: u64 = 84532;
const PAY_TO: &str = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
const PRICE: u64 = 1000;

fn requirement_for(pay_to: &str) -> String {
    format!(
        r#"{{"scheme":"batch-settlement","network":"{NETWORK}","amount":"{PRICE}","asset":"{USDC}","payTo":"{pay_to}","maxTimeoutSeconds":300,"extra":{{"receiverAuthorizer":"0x1111111111111111111111111111111111111111","withdrawDelay":900,"name":"USDC","version":"2"}}}}"#
    )
}

/// A payer's channel (its salt from `label`), and payments on it made by the
/// core's client.
struct Channel {
    payer: PrivateKey,
    authorizer: PrivateKey,
    config: paywire::evm::batch_settlement::ChannelConfig,
    pay_to: String,
}

impl Channel {
    fn new(label: &str) -> Channel {
        Channel::paying(label, PAY_TO)
    }

    /// A channel to `pay_to`.
    fn paying(label: &str, pay_to: &str) -> Channel {
        let mut salt = [0u8; 32];
        let l = label.as_bytes();
        salt[..l.len().min(32)].copy_from_slice(&l[..l.len().min(32)]);
        let payer = PrivateKey::from_bytes(&[1; 32]).unwrap();
        let authorizer = PrivateKey::from_bytes(&[2; 32]).unwrap();
        let text = requirement_for(pay_to);
        let r = PaymentRequirements::from_json_bytes(text.as_bytes(), &Limits::DEFAULT).unwrap();
        let rq = Requirements::from_requirements(&r).unwrap();
        let config =
            client::channel_config(payer.address(), Some(authorizer.address()), &rq, B256(salt))
                .unwrap();
        Channel {
            payer,
            authorizer,
            config,
            pay_to: pay_to.to_owned(),
        }
    }

    /// The store key of the channel's record.
    fn key(&self) -> String {
        let v = client::create_voucher(&self.authorizer, &self.config, CHAIN, Amount::ZERO);
        format!("batch-settlement/{NETWORK}/{}", v.unwrap().channel_id())
    }

    /// A deposit of `amount` with the first voucher (`PRICE`).
    fn deposit(&self, amount: u64) -> String {
        let text = requirement_for(&self.pay_to);
        let r = PaymentRequirements::from_json_bytes(text.as_bytes(), &Limits::DEFAULT).unwrap();
        let rq = Requirements::from_requirements(&r).unwrap();
        let mut salt = [9u8; 32];
        salt[..8].copy_from_slice(&amount.to_be_bytes());
        let c = client::create_deposit(
            &self.payer,
            &self.authorizer,
            &self.config,
            &rq,
            Amount::from(amount),
            Amount::from(PRICE),
            DepositMethod::Erc3009 { salt: B256(salt) },
            now(),
        )
        .unwrap();
        header_of(&c, &self.pay_to)
    }

    /// A voucher for the cumulative `total`.
    fn voucher(&self, total: u64) -> String {
        let c = client::create_voucher(&self.authorizer, &self.config, CHAIN, Amount::from(total));
        header_of(&c.unwrap(), &self.pay_to)
    }
}

fn header_of(c: &Created, pay_to: &str) -> String {
    let doc = format!(
        r#"{{"x402Version":2,"accepted":{},"payload":{}}}"#,
        requirement_for(pay_to),
        c.to_json_string()
    );
    let mut b64 = vec![0u8; paywire::header::base64_encoded_len(doc.len())];
    let n = paywire::header::base64_encode(doc.as_bytes(), &mut b64).unwrap();
    b64.truncate(n);
    String::from_utf8(b64).unwrap()
}

/// An axum app selling `GET /report` as `batch-settlement` through `fac`,
/// its handler counting its calls (and taking `handler_delay`).
struct Shop {
    url: String,
    origin: String,
    handled: Arc<AtomicUsize>,
    records: Arc<dyn RecordStore>,
    _server: tokio::task::JoinHandle<()>,
}

async fn shop(
    fac: &str,
    records: Arc<dyn RecordStore>,
    limits: paywire_server::http::Limits,
    handler_delay: Duration,
) -> Shop {
    shop_paying(fac, records, limits, handler_delay, PAY_TO).await
}

async fn shop_paying(
    fac: &str,
    records: Arc<dyn RecordStore>,
    limits: paywire_server::http::Limits,
    handler_delay: Duration,
    pay_to: &str,
) -> Shop {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let url = format!("{origin}/report");
    let offer = format!(
        r#"{{"x402Version":2,"resource":{{"url":"{url}","description":"a report, paid per request from a channel","mimeType":"text/plain"}},"accepts":[{}]}}"#,
        requirement_for(pay_to)
    );
    let settings = Settings {
        settle_timeout_seconds: 2,
        ..Settings::default()
    };
    let paywall = Paywall::new(Facilitator::new(fac).unwrap(), Arc::clone(&records))
        .settings(settings)
        .route("GET /report", Offer::document(&offer))
        .unwrap();
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&handled);
    let app = Router::new()
        .route(
            "/report",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    tokio::time::sleep(handler_delay).await;
                    CONTENT
                }
            }),
        )
        .route("/free", get(|| async { "free" }))
        .layer(paywall.layer());
    let server = tokio::spawn(paywire_server::http::serve(
        listener,
        app,
        limits,
        std::future::pending(),
    ));
    Shop {
        url,
        origin,
        handled,
        records,
        _server: server,
    }
}

/// A plain shop selling to `pay_to`.
async fn plain_shop_paying(fac: &str, records: Arc<dyn RecordStore>, pay_to: &str) -> Shop {
    shop_paying(
        fac,
        records,
        paywire_server::http::Limits::default(),
        Duration::ZERO,
        pay_to,
    )
    .await
}

async fn plain_shop(fac: &str, records: Arc<dyn RecordStore>) -> Shop {
    shop(
        fac,
        records,
        paywire_server::http::Limits::default(),
        Duration::ZERO,
    )
    .await
}

/// The charged total of the channel's record, if there is one.
async fn charged(records: &dyn RecordStore, ch: &Channel) -> Option<String> {
    let rec = records.get(&ch.key()).await.unwrap()?;
    let v: Value = serde_json::from_str(&rec).unwrap();
    Some(v["chargedCumulativeAmount"].as_str().unwrap().to_string())
}

/// The uncertain records of the channel.
async fn uncertain(records: &dyn RecordStore, ch: &Channel) -> Vec<String> {
    let key = ch.key();
    let all = records.uncertain().await.unwrap();
    all.into_iter()
        .filter(|(k, _)| k.starts_with(&key))
        .map(|(_, r)| r)
        .collect()
}

fn delivered(g: &Got) -> bool {
    g.body == CONTENT
}

async fn deposit_then_vouchers(records: Arc<dyn RecordStore>, label: &str) {
    let fac = Double::start(Mode::settled());
    let shop = plain_shop(&fac.url(), records).await;
    let ch = Channel::new(label);
    // Unpaid: 402 offering the channel scheme.
    let got = fetch(shop.url.clone(), None).await;
    assert_eq!(got.status, 402);
    // The deposit: verified, handled, settled, committed.
    let got = fetch(shop.url.clone(), Some(ch.deposit(10_000))).await;
    assert_eq!(got.status, 200, "{got:?}");
    assert!(delivered(&got));
    assert_eq!((fac.verifies().len(), fac.calls().len()), (1, 1));
    assert_eq!(
        fac.calls()[0]["paymentPayload"]["payload"]["type"],
        "deposit"
    );
    let pr = unb64(got.payment_response.as_deref().unwrap());
    assert_eq!(pr["extra"]["chargedAmount"], "1000");
    assert_eq!(pr["extra"]["channelState"]["balance"], "10000");
    assert_eq!(
        charged(shop.records.as_ref(), &ch).await.as_deref(),
        Some("1000")
    );
    // Vouchers: checked here, no facilitator call; the next total only.
    let got = fetch(shop.url.clone(), Some(ch.voucher(2000))).await;
    assert_eq!((got.status, delivered(&got)), (200, true), "{got:?}");
    let got = fetch(shop.url.clone(), Some(ch.voucher(5000))).await;
    assert_eq!(got.status, 402);
    assert_eq!(
        got.reason,
        "invalid_batch_settlement_evm_cumulative_amount_mismatch"
    );
    let required: Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(
        required["accepts"][0]["extra"]["channelState"]["chargedCumulativeAmount"],
        "2000"
    );
    let got = fetch(shop.url.clone(), Some(ch.voucher(2000))).await;
    assert_eq!(got.status, 402, "a voucher is charged once");
    let got = fetch(shop.url.clone(), Some(ch.voucher(3000))).await;
    assert_eq!((got.status, delivered(&got)), (200, true), "{got:?}");
    assert_eq!((fac.verifies().len(), fac.calls().len()), (1, 1));
    assert_eq!(shop.handled.load(Ordering::SeqCst), 3);
    assert_eq!(
        charged(shop.records.as_ref(), &ch).await.as_deref(),
        Some("3000")
    );
    // The deposit's claim was given back.
    assert!(
        shop.records
            .get(&format!("{}/claim", ch.key()))
            .await
            .unwrap()
            .is_none()
    );
}

/// A failure case: name, the verification's answer (`None`: valid), the
/// settlement's, the status and reason the client gets, whether the deposit
/// reaches `/settle`, whether it is recorded as uncertain.
type Case<'a> = (&'a str, Option<Mode>, Mode, u16, &'a str, bool, bool);

/// The double answering `status` with the JSON `body`, at once.
fn reply(status: u16, body: &str) -> Mode {
    Mode::Reply {
        status,
        content_type: "application/json".into(),
        body: Some(body.as_bytes().to_vec()),
        delay: Duration::ZERO,
        cut_off: false,
    }
}

/// Each way a deposit's settlement can fail: what the client gets, and
/// that nothing is delivered or committed.
async fn failure_table(records: Arc<dyn RecordStore>, label: &str) {
    let fac = Double::start(Mode::settled());
    let shop = plain_shop(&fac.url(), records).await;
    let refused = r#"{"success":false,"errorReason":"invalid_batch_settlement_evm_deposit_simulation_failed","transaction":"","network":"eip155:84532"}"#;
    let no_tx = r#"{"success":true,"transaction":"","network":"eip155:84532"}"#;
    let invalid = r#"{"isValid":false,"invalidReason":"invalid_batch_settlement_evm_deposit_insufficient_balance"}"#;
    // (name, verify, settle, status, reason, settled?, uncertain?)
    let cases: Vec<Case<'_>> = vec![
        (
            "verify refused",
            Some(reply(200, invalid)),
            Mode::settled(),
            402,
            "invalid_batch_settlement_evm_deposit_insufficient_balance",
            false,
            false,
        ),
        (
            "verify 500",
            Some(reply(500, r#"{"error":"down"}"#)),
            Mode::settled(),
            502,
            "",
            false,
            false,
        ),
        (
            "verify hangs",
            Some(Mode::Hang),
            Mode::settled(),
            502,
            "",
            false,
            false,
        ),
        (
            "settle refused",
            None,
            reply(200, refused),
            402,
            "invalid_batch_settlement_evm_deposit_simulation_failed",
            true,
            false,
        ),
        (
            "settle 500",
            None,
            reply(500, "oops"),
            502,
            "settlement_uncertain",
            true,
            true,
        ),
        (
            "settle garbage",
            None,
            reply(200, "{not json"),
            502,
            "settlement_uncertain",
            true,
            true,
        ),
        (
            "settle cut off",
            None,
            Mode::Reply {
                status: 200,
                content_type: "application/json".into(),
                body: None,
                delay: Duration::ZERO,
                cut_off: true,
            },
            502,
            "settlement_uncertain",
            true,
            true,
        ),
        (
            "settle hangs past the timeout",
            None,
            Mode::Hang,
            502,
            "settlement_uncertain",
            true,
            true,
        ),
        (
            "success without transaction",
            None,
            reply(200, no_tx),
            502,
            "settlement_uncertain",
            true,
            true,
        ),
    ];
    for (i, (name, verify, settle, status, reason, settles, is_uncertain)) in
        cases.into_iter().enumerate()
    {
        let ch = Channel::new(&format!("{label}-{i}"));
        fac.set_verify(verify);
        fac.set(settle);
        let (verifies, calls) = (fac.verifies().len(), fac.calls().len());
        let handled = shop.handled.load(Ordering::SeqCst);
        let got = fetch(shop.url.clone(), Some(ch.deposit(10_000))).await;
        assert_eq!(got.status, status, "{name}: {got:?}");
        assert!(got.reason.starts_with(reason), "{name}: {got:?}");
        assert!(!delivered(&got), "{name}");
        assert!(got.payment_response.is_none(), "{name}");
        assert_eq!(fac.verifies().len(), verifies + 1, "{name}");
        assert_eq!(fac.calls().len(), calls + usize::from(settles), "{name}");
        // The handler runs only for a verified deposit (its answer held).
        assert_eq!(
            shop.handled.load(Ordering::SeqCst),
            handled + usize::from(settles),
            "{name}"
        );
        assert_eq!(charged(shop.records.as_ref(), &ch).await, None, "{name}");
        let u = uncertain(shop.records.as_ref(), &ch).await;
        assert_eq!(u.len(), usize::from(is_uncertain), "{name}");
        if is_uncertain {
            let info = record_info(&u[0]).unwrap();
            assert_eq!(
                (info.amount.as_str(), info.network.as_str()),
                ("10000", NETWORK)
            );
            // Presented again meanwhile: not sent again, never a 402.
            fac.set(Mode::settled());
            let calls = fac.calls().len();
            let again = fetch(shop.url.clone(), Some(ch.deposit(10_000))).await;
            assert_eq!(again.status, 409, "{name} again: {again:?}");
            assert_eq!(fac.calls().len(), calls, "{name} again");
        } else {
            // Nothing happened: the same deposit settles once the
            // facilitator is well.
            fac.set_verify(None);
            fac.set(Mode::settled());
            let again = fetch(shop.url.clone(), Some(ch.deposit(10_000))).await;
            assert_eq!(
                (again.status, delivered(&again)),
                (200, true),
                "{name} again"
            );
            assert_eq!(
                charged(shop.records.as_ref(), &ch).await.as_deref(),
                Some("1000")
            );
        }
    }
    // Unreachable: nothing sent, nothing recorded; the same deposit settles
    // when the facilitator is back.
    let ch = Channel::new(&format!("{label}-unreachable"));
    fac.set_verify(None);
    fac.set(Mode::Refuse);
    let got = fetch(shop.url.clone(), Some(ch.deposit(10_000))).await;
    assert_eq!(got.status, 502, "{got:?}");
    assert!(!delivered(&got) && got.payment_response.is_none());
    assert_eq!(charged(shop.records.as_ref(), &ch).await, None);
    assert!(uncertain(shop.records.as_ref(), &ch).await.is_empty());
    fac.set(Mode::settled());
    let got = fetch(shop.url.clone(), Some(ch.deposit(10_000))).await;
    assert_eq!((got.status, delivered(&got)), (200, true), "{got:?}");
}

/// `n` presentations of `payment` at once.
async fn at_once(url: &str, payment: &str, n: usize) -> Vec<Got> {
    let handles: Vec<_> = (0..n)
        .map(|_| tokio::spawn(fetch(url.to_string(), Some(payment.to_string()))))
        .collect();
    super::futures_join(handles).await
}

async fn concurrent(records: Arc<dyn RecordStore>, label: &str) {
    // Slow enough that every presentation arrives while the first settles.
    let fac = Double::start(Mode::settled_after(Duration::from_millis(400)));
    let shop = plain_shop(&fac.url(), records).await;
    let ch = Channel::new(label);
    // One deposit, eight times at once: one settlement, one delivery, the
    // others told it is in progress (never a 402).
    let answers = at_once(&shop.url, &ch.deposit(10_000), 8).await;
    let ok: Vec<_> = answers.iter().filter(|g| delivered(g)).collect();
    assert_eq!(ok.len(), 1, "{answers:?}");
    assert_eq!(ok[0].status, 200);
    for g in answers.iter().filter(|g| !delivered(g)) {
        assert_eq!(g.status, 409, "{g:?}");
        assert!(
            g.payment_response.is_none() || g.reason.contains("channel_busy"),
            "{g:?}"
        );
    }
    assert_eq!(fac.calls().len(), 1, "one settlement");
    assert_eq!(fac.verifies().len(), 1, "one verification");
    assert_eq!(
        charged(shop.records.as_ref(), &ch).await.as_deref(),
        Some("1000")
    );
    // One voucher, eight times at once: one charge, one delivery; the
    // others refused (the channel moved under them), nothing sent anywhere.
    let answers = at_once(&shop.url, &ch.voucher(2000), 8).await;
    let ok = answers.iter().filter(|g| delivered(g)).count();
    assert_eq!(ok, 1, "{answers:?}");
    for g in answers.iter().filter(|g| !delivered(g)) {
        assert_eq!(g.status, 402, "{g:?}");
        assert!(
            g.reason
                .starts_with("invalid_batch_settlement_evm_channel_busy")
                || g.reason
                    .starts_with("invalid_batch_settlement_evm_cumulative_amount_mismatch"),
            "{g:?}"
        );
        assert!(g.payment_response.is_none());
    }
    assert_eq!((fac.verifies().len(), fac.calls().len()), (1, 1));
    assert_eq!(
        charged(shop.records.as_ref(), &ch).await.as_deref(),
        Some("2000")
    );
    // Charged once: the next total is accepted.
    let got = fetch(shop.url.clone(), Some(ch.voucher(3000))).await;
    assert_eq!((got.status, delivered(&got)), (200, true), "{got:?}");
}

fn sqlite(name: &str) -> (Arc<dyn RecordStore>, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("paywire-evm-batch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let records = SqliteRecords::open(&dir.join("records.db")).unwrap();
    (Arc::new(records), dir)
}

async fn postgres() -> Option<Arc<dyn RecordStore>> {
    let Ok(url) = std::env::var("PAYWIRE_TEST_POSTGRES") else {
        assert!(
            std::env::var("PAYWIRE_REQUIRE_POSTGRES").is_err(),
            "PAYWIRE_REQUIRE_POSTGRES is set but PAYWIRE_TEST_POSTGRES is not"
        );
        eprintln!("NOT RUN: PAYWIRE_TEST_POSTGRES is not set");
        return None;
    };
    Some(Arc::new(PostgresRecords::connect(&url).await.unwrap()))
}

/// A label unique to this run (the PostgreSQL store outlives it).
fn label(name: &str) -> String {
    format!("{name}-{}-{}", std::process::id(), now())
}

/// Runs `test` on a store of each kind (PostgreSQL when the run has one),
/// with a label of this run's own per store (`prefix` + `m`, `s`, `p`).
async fn in_every_store<F, T>(name: &str, prefix: &str, test: F)
where
    F: Fn(Arc<dyn RecordStore>, String) -> T,
    T: std::future::Future<Output = ()>,
{
    test(
        Arc::new(MemoryRecords::default()),
        label(&format!("{prefix}m")),
    )
    .await;
    let (records, dir) = sqlite(name);
    test(records, label(&format!("{prefix}s"))).await;
    let _ = std::fs::remove_dir_all(dir);
    if let Some(records) = postgres().await {
        test(records, label(&format!("{prefix}p"))).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn evm_batch_a_deposit_then_vouchers_in_every_store() {
    in_every_store("flow", "", |records, label| async move {
        deposit_then_vouchers(records, &label).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn evm_batch_every_facilitator_failure_of_a_deposit() {
    in_every_store("failures", "f", |records, label| async move {
        failure_table(records, &label).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn evm_batch_one_voucher_or_one_deposit_presented_at_once_is_charged_and_settled_once() {
    in_every_store("concurrent", "c", |records, label| async move {
        concurrent(records, &label).await;
    })
    .await;
}

/// Reads until the server closes (or `within` passes): what it sent.
async fn until_closed(s: &mut tokio::net::TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    let end = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(end, s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return Some(out),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn evm_batch_slow_and_abusive_clients_are_cut_off_and_charge_nothing() {
    let fac = Double::start(Mode::settled());
    let records: Arc<dyn RecordStore> = Arc::new(MemoryRecords::default());
    let limits = paywire_server::http::Limits {
        header_timeout: Duration::from_millis(800),
        request_timeout: Duration::from_secs(2),
        max_head: 16 * 1024,
        ..paywire_server::http::Limits::default()
    };
    let fast = shop(&fac.url(), Arc::clone(&records), limits, Duration::ZERO).await;
    // The same channels, behind a handler slower than the request's limit.
    let slow = shop(
        &fac.url(),
        Arc::clone(&records),
        limits,
        Duration::from_secs(4),
    )
    .await;
    let ch = Channel::new(&label("slow"));
    let got = fetch(fast.url.clone(), Some(ch.deposit(10_000))).await;
    assert_eq!(got.status, 200, "{got:?}");

    // A client trickling a paid request's head, never ending it: closed
    // after the head timeout, its voucher never charged; meanwhile the
    // route serves others.
    let addr = fast.origin.trim_start_matches("http://").to_string();
    let mut trickling = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "GET /report HTTP/1.1\r\nHost: x\r\nPAYMENT-SIGNATURE: {}\r\n",
        ch.voucher(2000)
    );
    let started = std::time::Instant::now();
    let t = tokio::spawn(async move {
        for chunk in head.as_bytes().chunks(64) {
            if trickling.write_all(chunk).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        until_closed(&mut trickling, Duration::from_secs(10)).await
    });
    let other = Channel::new(&label("other"));
    let got = fetch(fast.url.clone(), Some(other.deposit(10_000))).await;
    assert_eq!((got.status, delivered(&got)), (200, true), "{got:?}");
    assert!(
        t.await.unwrap().is_some(),
        "the trickling client was not closed"
    );
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        charged(records.as_ref(), &ch).await.as_deref(),
        Some("1000")
    );

    // A payment header past the head limit: 431, nothing read or stored.
    let handled = fast.handled.load(Ordering::SeqCst);
    let huge = format!("{}{}", ch.voucher(2000), "A".repeat(20 * 1024));
    let got = fetch(fast.url.clone(), Some(huge)).await;
    assert_eq!(got.status, 431, "{got:?}");
    assert_eq!(fast.handled.load(Ordering::SeqCst), handled);

    // A handler slower than the request's limit: 408, the voucher not
    // charged (it pays on the fast route afterwards).
    let got = fetch(slow.url.clone(), Some(ch.voucher(2000))).await;
    assert_eq!(got.status, 408, "{got:?}");
    assert!(!delivered(&got));
    assert_eq!(
        charged(records.as_ref(), &ch).await.as_deref(),
        Some("1000")
    );
    let got = fetch(fast.url.clone(), Some(ch.voucher(2000))).await;
    assert_eq!((got.status, delivered(&got)), (200, true), "{got:?}");
    assert_eq!(
        charged(records.as_ref(), &ch).await.as_deref(),
        Some("2000")
    );
    // The facilitator saw the two deposits only.
    assert_eq!((fac.verifies().len(), fac.calls().len()), (2, 2));
}

/// A receiver of this run's own (the PostgreSQL store outlives runs and is
/// shared by the tests running at once: a manager lists only its receiver's
/// channels).
fn receiver(label: &str) -> String {
    paywire::evm::Address(keccak256(label.as_bytes())[..20].try_into().unwrap()).to_string()
}

/// A channel manager of `records` for `pay_to`'s channels, through `settler`.
fn manager_for(
    settler: impl Settler + 'static,
    records: &Arc<dyn RecordStore>,
    pay_to: &str,
) -> ChannelManager {
    ChannelManager::new(settler, Arc::clone(records), NETWORK, USDC, pay_to).unwrap()
}

/// The record of the channel, as JSON.
async fn record(records: &dyn RecordStore, ch: &Channel) -> Value {
    serde_json::from_str(&records.get(&ch.key()).await.unwrap().unwrap()).unwrap()
}

/// A facilitator through which a voucher is charged on the channel while a
/// claim is on its way: the record changes between the listing and the
/// update.
struct ChargingMeanwhile {
    inner: Facilitator,
    charge: std::sync::Mutex<Option<(String, String)>>,
}

#[async_trait::async_trait]
impl Settler for ChargingMeanwhile {
    async fn settle(&self, body: &str, timeout: Duration) -> Reply {
        let charge = self.charge.lock().unwrap().take();
        if let Some((url, voucher)) = charge {
            let got = fetch(url, Some(voucher)).await;
            assert_eq!(got.status, 200, "{got:?}");
        }
        self.inner.settle(body, timeout).await
    }

    async fn verify(&self, body: &str, timeout: Duration) -> Reply {
        self.inner.verify(body, timeout).await
    }
}

/// What a claim's outcome should be.
type Expected = fn(&ManagerOutcome) -> bool;

async fn claimed_by_the_manager(records: Arc<dyn RecordStore>, label: &str) {
    let fac = Double::start(Mode::settled());
    let pay_to = receiver(label);
    let shop = plain_shop_paying(&fac.url(), Arc::clone(&records), &pay_to).await;
    let ch = Channel::paying(label, &pay_to);
    // Another channel of the same receiver, deposited and not charged since.
    let other = Channel::paying(&format!("{label}/2"), &pay_to);
    for (payment, status) in [
        (ch.deposit(10_000), 200),
        (ch.voucher(2000), 200),
        (ch.voucher(3000), 200),
        (other.deposit(5000), 200),
    ] {
        let got = fetch(shop.url.clone(), Some(payment)).await;
        assert_eq!(got.status, status, "{got:?}");
    }
    let manager = manager_for(Facilitator::new(&fac.url()).unwrap(), &records, &pay_to);

    // One claim naming both channels, each at its charged total under its
    // latest voucher.
    let before = fac.calls().len();
    let report = manager.claim().await;
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.batches.len(), 1, "{report:?}");
    assert_eq!(report.claimed_channels(), 2);
    assert_eq!(report.claimed_amount(), Amount::from(4000u64));
    let claim_tx = format!("0x{}", "c".repeat(64));
    assert_eq!(report.transactions(), [claim_tx.as_str()]);
    let calls = fac.calls();
    assert_eq!(calls.len(), before + 1);
    let call = &calls[before];
    let payload = &call["paymentPayload"]["payload"];
    assert_eq!(payload["type"], "claim");
    assert!(payload.get("claimAuthorizerSignature").is_none());
    assert_eq!(call["paymentRequirements"]["amount"], "0");
    assert_eq!(call["paymentRequirements"]["payTo"], pay_to.as_str());
    assert_eq!(call["paymentRequirements"]["asset"], USDC);
    assert_eq!(
        call["paymentPayload"]["accepted"],
        call["paymentRequirements"]
    );
    let latest = |c: &Channel, total: u64| {
        let v =
            client::create_voucher(&c.authorizer, &c.config, CHAIN, Amount::from(total)).unwrap();
        serde_json::json!({
            "voucher": {
                "channel": serde_json::from_str::<Value>(&c.config.to_json_string()).unwrap(),
                "maxClaimableAmount": total.to_string(),
            },
            "signature": v.voucher.voucher().signature.as_str().unwrap(),
            "totalClaimed": total.to_string(),
        })
    };
    let mut rows = payload["claims"].as_array().unwrap().clone();
    rows.sort_by_key(|r| r["totalClaimed"].as_str().unwrap().parse::<u64>().unwrap());
    assert_eq!(rows, [latest(&other, 1000), latest(&ch, 3000)]);
    for c in &report.batches[0].channels {
        assert_eq!(c.record, RecordUpdate::Updated, "{c:?}");
    }
    let r = record(records.as_ref(), &ch).await;
    assert_eq!(
        (
            r["totalClaimed"].as_str(),
            r["chargedCumulativeAmount"].as_str()
        ),
        (Some("3000"), Some("3000"))
    );
    assert_eq!(
        record(records.as_ref(), &other).await["totalClaimed"],
        "1000"
    );

    // Nothing charged since: nothing sent.
    let report = manager.claim().await;
    assert!(
        report.batches.is_empty() && report.failures.is_empty(),
        "{report:?}"
    );
    assert_eq!(fac.calls().len(), before + 1);

    // The sweep: the receiver and the token.
    let swept = manager.sweep().await;
    assert_eq!(
        swept.transaction(),
        Some(format!("0x{}", "5".repeat(64)).as_str()),
        "{swept}"
    );
    let call = &fac.calls()[before + 1];
    assert_eq!(
        call["paymentPayload"]["payload"],
        serde_json::json!({"type": "settle", "receiver": pay_to, "token": USDC})
    );

    // Charged again; the facilitator failing in each way: the record is
    // left as it was, the outcome told apart.
    let got = fetch(shop.url.clone(), Some(ch.voucher(4000))).await;
    assert_eq!(got.status, 200, "{got:?}");
    let refused = r#"{"success":false,"errorReason":"invalid_batch_settlement_evm_claim_simulation_failed","transaction":"","network":"eip155:84532"}"#;
    let pending = format!(
        r#"{{"success":false,"errorReason":"settlement_pending","transaction":"0x{}","network":"eip155:84532"}}"#,
        "d".repeat(64)
    );
    let no_tx = r#"{"success":true,"transaction":"","network":"eip155:84532"}"#;
    let manager = manager.timeout(Duration::from_secs(1));
    let cases: Vec<(&str, Mode, Expected)> = vec![
        (
            "refused",
            reply(200, refused),
            |o| matches!(o, ManagerOutcome::Refused { reason, .. } if reason == "invalid_batch_settlement_evm_claim_simulation_failed"),
        ),
        ("HTTP 500", reply(500, "oops"), |o| {
            matches!(o, ManagerOutcome::Uncertain { .. })
        }),
        ("garbage", reply(200, "<html>"), |o| {
            matches!(o, ManagerOutcome::Uncertain { .. })
        }),
        (
            "pending",
            reply(200, &pending),
            |o| matches!(o, ManagerOutcome::Uncertain { transaction: Some(t), .. } if t.starts_with("0xddd")),
        ),
        ("success without a transaction", reply(200, no_tx), |o| {
            matches!(o, ManagerOutcome::Uncertain { .. })
        }),
        (
            "forbidden",
            reply(403, r#"{"error":"pay_to_not_allowed"}"#),
            |o| matches!(o, ManagerOutcome::Refused { status: 403, .. }),
        ),
        ("hangs", Mode::Hang, |o| {
            matches!(o, ManagerOutcome::Uncertain { .. })
        }),
    ];
    let kept = records.get(&ch.key()).await.unwrap();
    for (name, mode, expected) in cases {
        fac.set(mode);
        let started = std::time::Instant::now();
        let report = manager.claim().await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name}: bounded"
        );
        assert_eq!(report.batches.len(), 1, "{name}: {report:?}");
        let batch = &report.batches[0];
        assert!(expected(&batch.outcome), "{name}: {}", batch.outcome);
        assert_eq!(batch.channels.len(), 1, "{name}");
        assert_eq!(batch.channels[0].record, RecordUpdate::Unchanged, "{name}");
        assert_eq!(report.claimed_channels(), 0, "{name}");
        assert!(!report.is_complete(), "{name}");
        assert_eq!(
            records.get(&ch.key()).await.unwrap(),
            kept,
            "{name}: unchanged"
        );
    }
    fac.set(Mode::Refuse);
    let report = manager.claim().await;
    assert!(
        matches!(report.batches[0].outcome, ManagerOutcome::NotSent(_)),
        "{report:?}"
    );
    assert_eq!(records.get(&ch.key()).await.unwrap(), kept);

    // Working again, and a voucher charged while the claim is on its way:
    // the record read again and raised, the new charge kept.
    let fac2 = Double::start(Mode::settled());
    let meanwhile = ChargingMeanwhile {
        inner: Facilitator::new(&fac2.url()).unwrap(),
        charge: std::sync::Mutex::new(Some((shop.url.clone(), ch.voucher(5000)))),
    };
    let manager = manager_for(meanwhile, &records, &pay_to);
    let report = manager.claim().await;
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.claimed_amount(), Amount::from(1000u64));
    assert_eq!(report.batches[0].channels[0].record, RecordUpdate::Updated);
    let r = record(records.as_ref(), &ch).await;
    assert_eq!(
        (
            r["totalClaimed"].as_str(),
            r["chargedCumulativeAmount"].as_str()
        ),
        (Some("4000"), Some("5000")),
        "{r}"
    );
    let rows = fac2.calls()[0]["paymentPayload"]["payload"]["claims"].clone();
    assert_eq!(rows, serde_json::json!([latest(&ch, 4000)]));
    // And the next claim takes the new charge.
    let manager = manager_for(Facilitator::new(&fac2.url()).unwrap(), &records, &pay_to);
    let report = manager.claim().await;
    assert_eq!(report.claimed_amount(), Amount::from(1000u64), "{report:?}");
    assert_eq!(record(records.as_ref(), &ch).await["totalClaimed"], "5000");
    // Another receiver's manager claims none of these.
    let stranger = manager_for(
        Facilitator::new(&fac2.url()).unwrap(),
        &records,
        &receiver(&format!("{label}/x")),
    );
    let report = stranger.claim().await;
    assert!(report.batches.is_empty(), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn evm_batch_the_channel_manager_claims_what_was_charged_in_every_store() {
    in_every_store("manager", "k", |records, label| async move {
        claimed_by_the_manager(records, &label).await;
    })
    .await;
}

/// `n` channels to a receiver of their own, each with a deposit of 10,000
/// and its first voucher charged, in memory.
struct Funded {
    fac: Double,
    records: Arc<dyn RecordStore>,
    pay_to: String,
    _shop: Shop,
    channels: Vec<Channel>,
}

async fn funded(tag: &str, n: usize) -> Funded {
    let fac = Double::start(Mode::settled());
    let records: Arc<dyn RecordStore> = Arc::new(MemoryRecords::default());
    let label = label(tag);
    let pay_to = receiver(&label);
    let shop = plain_shop_paying(&fac.url(), Arc::clone(&records), &pay_to).await;
    let channels: Vec<Channel> = (0..n)
        .map(|i| Channel::paying(&format!("{label}/{i}"), &pay_to))
        .collect();
    for c in &channels {
        let got = fetch(shop.url.clone(), Some(c.deposit(10_000))).await;
        assert_eq!(got.status, 200, "{got:?}");
    }
    Funded {
        fac,
        records,
        pay_to,
        _shop: shop,
        channels,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn evm_batch_the_channel_manager_claims_in_batches_and_skips_busy_channels() {
    let Funded {
        fac,
        records,
        pay_to,
        _shop,
        channels,
    } = funded("kb", 5).await;
    // A deposit settling on the last channel (its claim held, live: the
    // lifecycle's claim record, leased until `until`).
    let busy = format!("{}/claim", channels[4].key());
    let claim = format!(
        r#"{{"state":"claimed","until":{},"id":"r","payment":{{"scheme":"batch-settlement","payer":"0x1","nonce":"0x2","amount":"1","network":"{NETWORK}","asset":"0x3","route":"/","time":1}}}}"#,
        now() + 600
    );
    records
        .swap(&busy, None, Some(&claim))
        .await
        .unwrap()
        .unwrap();
    // A record that is no channel record.
    let broken = format!("batch-settlement/{NETWORK}/0x{}", "e".repeat(64));
    records
        .swap(&broken, None, Some("{}"))
        .await
        .unwrap()
        .unwrap();
    let manager =
        manager_for(Facilitator::new(&fac.url()).unwrap(), &records, &pay_to).claims_per_batch(2);
    let report = manager.claim().await;
    assert_eq!(
        report
            .batches
            .iter()
            .map(|b| b.channels.len())
            .collect::<Vec<_>>(),
        [2, 2],
        "{report:?}"
    );
    assert_eq!(fac.calls().len(), 5 + 2);
    assert_eq!(report.claimed_channels(), 4);
    assert_eq!(report.claimed_amount(), Amount::from(4000u64));
    let mut failed: Vec<&str> = report.failures.iter().map(|f| f.key.as_str()).collect();
    failed.sort_unstable();
    let mut expected = vec![broken.as_str(), channels[4].key().leak() as &str];
    expected.sort_unstable();
    assert_eq!(failed, expected, "{report:?}");
    assert!(!report.is_complete());
    // The claim given back (or its lease over): claimed next time.
    records
        .swap(&busy, Some(&claim), None)
        .await
        .unwrap()
        .unwrap();
    let report = manager.claim().await;
    assert_eq!(report.claimed_channels(), 1, "{report:?}");
    assert_eq!(
        record(records.as_ref(), &channels[4]).await["totalClaimed"],
        "1000"
    );
}

/// A facilitator that refuses every claim naming one channel (its salt), as
/// the contract refuses a whole batch for one channel.
struct RefusingOne {
    inner: Facilitator,
    salt: String,
}

#[async_trait::async_trait]
impl Settler for RefusingOne {
    async fn settle(&self, body: &str, timeout: Duration) -> Reply {
        if body.contains(&self.salt) {
            return Reply::Answered {
                status: 200,
                body: br#"{"success":false,"errorReason":"invalid_batch_settlement_evm_claim_simulation_failed","transaction":"","network":"eip155:84532"}"#.to_vec(),
            };
        }
        self.inner.settle(body, timeout).await
    }

    async fn verify(&self, body: &str, timeout: Duration) -> Reply {
        self.inner.verify(body, timeout).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn evm_batch_a_refused_batch_is_claimed_channel_by_channel() {
    let Funded {
        fac,
        records,
        pay_to,
        _shop,
        channels,
    } = funded("kr", 3).await;
    let poisoned = &channels[1];
    let manager = manager_for(
        RefusingOne {
            inner: Facilitator::new(&fac.url()).unwrap(),
            salt: poisoned.config.salt.to_string(),
        },
        &records,
        &pay_to,
    );
    let report = manager.claim().await;
    // The batch of three refused, then each channel alone (in the order of
    // their keys): all but the refused one claimed.
    let outcomes: Vec<(usize, bool)> = report
        .batches
        .iter()
        .map(|b| (b.channels.len(), b.outcome.transaction().is_some()))
        .collect();
    let mut alone: Vec<(String, bool)> = report.batches[1..]
        .iter()
        .map(|b| (b.channels[0].key.clone(), b.outcome.transaction().is_some()))
        .collect();
    alone.sort();
    let mut expected: Vec<(String, bool)> = channels
        .iter()
        .map(|c| (c.key(), c.key() != poisoned.key()))
        .collect();
    expected.sort();
    assert_eq!(outcomes.len(), 4, "{report:?}");
    assert_eq!(outcomes[0], (3, false), "{report:?}");
    assert_eq!(alone, expected, "{report:?}");
    assert_eq!(report.claimed_channels(), 2);
    assert_eq!(report.claimed_amount(), Amount::from(2000u64));
    assert!(!report.is_complete());
    assert_eq!(
        record(records.as_ref(), &channels[0]).await["totalClaimed"],
        "1000"
    );
    assert_eq!(
        record(records.as_ref(), poisoned).await["totalClaimed"],
        "0"
    );
    assert_eq!(
        record(records.as_ref(), &channels[2]).await["totalClaimed"],
        "1000"
    );
    // Next time only the refused one is tried, alone.
    let report = manager.claim().await;
    assert_eq!(report.batches.len(), 1, "{report:?}");
    assert_eq!(report.batches[0].channels[0].key, poisoned.key());
}
