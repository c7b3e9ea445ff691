//! `paywire serve` never loses money: content only after a settlement with a
//! transaction, each payment delivered at most once (concurrently, across two
//! servers sharing a state file, across a crash), the route's own
//! requirements, HEAD never settled, handler failures never settled, paid
//! answers private; and every facilitator behaviour of
//! `x402-core/tests/vectors/paywall.json`, against a facilitator double on
//! 127.0.0.1.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::doubles::{Facilitator, Mode, Upstream, request};
use common::*;

const VECTORS: &str = include_str!("../../x402-core/tests/vectors/paywall.json");
const CONTENT: &str = "the paid text";

/// A merchant, a payer, and `paywire serve` selling `/paid` for 0.01 USDC through `fac`.
struct Shop {
    dir: TempDir,
    payer_key: String,
    payer: String,
    merchant: String,
}

impl Shop {
    fn new() -> Shop {
        let dir = TempDir::new();
        let (_, merchant) = dir.key("merchant.key");
        let (payer_key, payer) = dir.key("payer.key");
        Shop {
            dir,
            payer_key,
            payer,
            merchant,
        }
    }

    fn state(&self) -> String {
        self.dir.file("state.db")
    }

    fn args<'a>(&'a self, fac: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![
            "--pay-to",
            &self.merchant,
            "--price",
            "0.01",
            "--port",
            "0",
            "--path",
            "/paid",
            "--facilitator",
            fac,
            "--settle-timeout",
            "2",
        ];
        args.extend_from_slice(extra);
        args
    }

    fn serve(&self, fac: &str, extra: &[&str]) -> Server {
        serve(self.dir.path(), &self.args(fac, extra))
    }

    /// A fresh payment (a new nonce) for `server`'s offer.
    fn pay(&self, server: &Server) -> String {
        let (status, headers, _) = request("GET", &server.url, &[]).unwrap();
        assert_eq!(status, 402);
        self.pay_for(header(&headers, "payment-required").unwrap())
    }

    fn pay_for(&self, payment_required: &str) -> String {
        let out = self
            .dir
            .run(&["pay", "--key-file", &self.payer_key, payment_required]);
        out.code(0);
        header_value(&out.stdout)
    }

    /// The state of a payment's record in the state file (`none` if absent).
    fn record_state(&self, nonce: &str) -> String {
        let db = rusqlite::Connection::open(self.state()).unwrap();
        db.query_row(
            "SELECT state FROM paywire_payments WHERE key LIKE ?1",
            [format!("%/{nonce}")],
            |r| r.get::<_, String>(0),
        )
        .unwrap_or_else(|_| "none".into())
    }
}

/// Status, the reason (PaymentRequired `error` for a 402, the body's `error`
/// otherwise), PAYMENT-RESPONSE, body.
struct Got {
    status: u16,
    reason: String,
    payment_response: Option<String>,
    cache_control: Option<String>,
    body: String,
}

fn get(url: &str, payment: Option<&str>) -> Got {
    let headers: Vec<(&str, &str)> = payment
        .map(|p| ("PAYMENT-SIGNATURE", p))
        .into_iter()
        .collect();
    let (status, headers, body) = request("GET", url, &headers).expect("an answer");
    let body = String::from_utf8_lossy(&body).into_owned();
    let reason = match header(&headers, "payment-required") {
        Some(pr) => unb64(pr)["error"].as_str().unwrap_or("").to_string(),
        None => serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_default(),
    };
    Got {
        status,
        reason,
        payment_response: header(&headers, "payment-response").map(str::to_string),
        cache_control: header(&headers, "cache-control").map(str::to_string),
        body,
    }
}

fn nonce_of(payment: &str) -> String {
    unb64(payment)["payload"]["authorization"]["nonce"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn every_facilitator_behaviour_of_the_shared_vectors() {
    let vectors: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
    let shop = Shop::new();
    let fac = Facilitator::start(Mode::settled());
    let url = fac.url();
    let state = shop.state();
    let server = shop.serve(&url, &["--state", &state, "--content", CONTENT]);
    for v in vectors["vectors"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let expect = &v["expect"];
        fac.set(Mode::from_vector(&v["reply"]));
        let payment = shop.pay(&server);
        let nonce = nonce_of(&payment);
        let calls = fac.calls().len();
        let got = get(&server.url, Some(&payment));
        assert_eq!(
            got.status,
            expect["status"].as_u64().unwrap() as u16,
            "{name}: {} {}",
            got.reason,
            got.body
        );
        let delivered = expect["delivered"] == true;
        assert_eq!(got.payment_response.is_some(), delivered, "{name}");
        assert_eq!(got.body == CONTENT, delivered, "{name}: {}", got.body);
        if delivered {
            assert_eq!(got.cache_control.as_deref(), Some("private, no-store"));
            let pr = unb64(got.payment_response.as_deref().unwrap());
            assert_eq!(pr["success"], true);
            assert_eq!(pr["payer"], shop.payer.as_str());
        } else {
            assert!(
                got.reason.starts_with(expect["reason"].as_str().unwrap()),
                "{name}: {}",
                got.reason
            );
        }
        let refused_connection = v["reply"]["refuse"] == true;
        let expected_calls = if refused_connection { calls } else { calls + 1 };
        assert_eq!(fac.calls().len(), expected_calls, "{name}");
        assert_eq!(
            shop.record_state(&nonce),
            expect["record"].as_str().unwrap(),
            "{name}"
        );
        if let Some(again) = expect.get("again") {
            let before = fac.calls().len();
            let got = get(&server.url, Some(&payment));
            assert_eq!(
                got.status,
                again["status"].as_u64().unwrap() as u16,
                "{name} again: {}",
                got.body
            );
            assert!(
                got.reason.starts_with(again["reason"].as_str().unwrap()),
                "{name} again: {}",
                got.reason
            );
            assert_eq!(
                got.payment_response.is_some(),
                again["paymentResponse"] == true,
                "{name} again"
            );
            assert_ne!(got.body, CONTENT, "{name} again");
            // Only a refused payment goes back to the facilitator.
            let settles_again = got.status == 402;
            assert_eq!(
                fac.calls().len(),
                before + usize::from(settles_again),
                "{name} again"
            );
        }
        if let Some(recovered) = expect.get("recovered") {
            fac.set(Mode::settled());
            let got = get(&server.url, Some(&payment));
            assert_eq!(got.status, recovered["status"].as_u64().unwrap() as u16);
            assert_eq!(got.body, CONTENT, "{name} recovered");
        }
        if expect["record"] == "uncertain" {
            // Listed for reconciliation: payer, nonce, amount, route, time, cause.
            let out = shop
                .dir
                .run(&["serve", "--state", &state, "--list-uncertain"]);
            out.code(0);
            let line = out
                .stdout
                .lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .find(|r| r["nonce"] == nonce.as_str())
                .unwrap_or_else(|| panic!("{name}: not listed:\n{}", out.stdout));
            assert_eq!(line["payer"], shop.payer.to_lowercase().as_str());
            assert_eq!(line["amount"], "10000");
            assert_eq!(line["network"], "eip155:84532");
            assert_eq!(line["route"], server.url.as_str());
            assert!(line["time"].as_u64().unwrap() >= now() - 120);
            assert!(!line["cause"].as_str().unwrap().is_empty());
        }
    }
    let log = server.stderr();
    assert!(log.contains("UNCERTAIN settlement"), "{log}");
}

#[test]
fn unpaid_head_is_the_unpaid_get_and_paid_head_is_never_settled() {
    let shop = Shop::new();
    let fac = Facilitator::start(Mode::settled());
    let server = shop.serve(&fac.url(), &[]);
    let (gs, gh, gb) = request("GET", &server.url, &[]).unwrap();
    let (hs, hh, hb) = request("HEAD", &server.url, &[]).unwrap();
    assert_eq!((gs, hs), (402, 402));
    assert_eq!(gh, hh, "the same headers");
    assert!(!gb.is_empty() && hb.is_empty());
    let payment = shop.pay_for(header(&gh, "payment-required").unwrap());
    let (status, headers, _) =
        request("HEAD", &server.url, &[("PAYMENT-SIGNATURE", &payment)]).unwrap();
    assert_eq!(status, 402);
    assert!(header(&headers, "payment-response").is_none());
    assert!(fac.calls().is_empty());
    // The payment is untouched: GET uses it.
    let got = get(&server.url, Some(&payment));
    assert_eq!(got.status, 200);
    assert_eq!(fac.calls().len(), 1);
}

#[test]
fn the_route_decides_price_recipient_and_asset_whatever_accepted_says() {
    let shop = Shop::new();
    let fac = Facilitator::start(Mode::settled());
    let server = shop.serve(&fac.url(), &[]);
    let (_, headers, _) = request("GET", &server.url, &[]).unwrap();
    let mut pr = unb64(header(&headers, "payment-required").unwrap());
    let cases = [
        (
            "amount",
            serde_json::json!("1"),
            "invalid_exact_evm_payload_authorization_value_mismatch",
        ),
        (
            "payTo",
            serde_json::json!("0x000000000000000000000000000000000000dEaD"),
            "invalid_exact_evm_recipient_mismatch",
        ),
        (
            "asset",
            serde_json::json!("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"),
            "no_matching_payment_requirements",
        ),
    ];
    for (field, value, reason) in cases {
        let original = pr["accepts"][0][field].clone();
        pr["accepts"][0][field] = value;
        let payment = shop.pay_for(&to_header(&pr));
        pr["accepts"][0][field] = original;
        let got = get(&server.url, Some(&payment));
        assert_eq!(got.status, 402, "{field}");
        assert!(got.reason.starts_with(reason), "{field}: {}", got.reason);
    }
    assert!(fac.calls().is_empty());
}

#[test]
fn handler_failures_are_not_settled_and_paid_answers_are_private() {
    let shop = Shop::new();
    let fac = Facilitator::start(Mode::settled());
    let upstream = Upstream::start();
    let server = shop.serve(&fac.url(), &["--upstream", &upstream.url()]);
    let payment = shop.pay(&server);
    for (mode, status) in [("fail", 500), ("moved", 302)] {
        upstream.set(mode);
        let got = get(&server.url, Some(&payment));
        assert_eq!(got.status, status, "{mode}: {}", got.body);
        assert!(got.payment_response.is_none(), "{mode}");
    }
    assert!(fac.calls().is_empty(), "nothing settled");
    // An upstream that cannot be reached: 500, not settled.
    let gone = format!("http://127.0.0.1:{}", free_port());
    let broken = shop.serve(&fac.url(), &["--upstream", &gone]);
    let got = get(&broken.url, Some(&payment));
    assert_eq!(got.status, 500);
    assert_eq!(got.reason, "handler_failed");
    assert!(fac.calls().is_empty());
    // The same payment, once the upstream answers 200: settled once, delivered,
    // private whatever the upstream said about caching.
    upstream.set("ok");
    let got = get(&server.url, Some(&payment));
    assert_eq!(got.status, 200);
    assert_eq!(got.body, "upstream content\n");
    assert_eq!(got.cache_control.as_deref(), Some("private, no-store"));
    assert!(got.payment_response.is_some());
    assert_eq!(fac.calls().len(), 1);
    assert_eq!(upstream.hits(), 3);
}

/// Presents `payment` `n` times at once, round-robin over `urls`.
fn at_once(urls: &[String], payment: &str, n: usize) -> Vec<Got> {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let url = urls[i % urls.len()].clone();
            let payment = payment.to_string();
            let b = std::sync::Arc::clone(&barrier);
            std::thread::spawn(move || {
                b.wait();
                get(&url, Some(&payment))
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

fn settled_once(got: &[Got], fac: &Facilitator) {
    assert_eq!(fac.calls().len(), 1, "one settlement");
    let delivered: Vec<&Got> = got.iter().filter(|g| g.status == 200).collect();
    assert_eq!(delivered.len(), 1, "one delivery");
    assert_eq!(delivered[0].body, CONTENT);
    for g in got.iter().filter(|g| g.status != 200) {
        assert_eq!(g.status, 409, "{}", g.body);
        assert!(
            g.reason == "payment_in_progress" || g.reason == "payment_already_delivered",
            "{}",
            g.reason
        );
        assert_ne!(g.body, CONTENT);
    }
}

#[test]
fn eight_concurrent_presentations_settle_once() {
    let shop = Shop::new();
    let fac = Facilitator::start(Mode::settled_after(Duration::from_millis(400)));
    let server = shop.serve(&fac.url(), &["--content", CONTENT]);
    let payment = shop.pay(&server);
    let got = at_once(std::slice::from_ref(&server.url), &payment, 8);
    settled_once(&got, &fac);
}

#[test]
fn two_servers_sharing_a_state_file_settle_once() {
    let shop = Shop::new();
    let fac = Facilitator::start(Mode::settled_after(Duration::from_millis(400)));
    let state = shop.state();
    let a = shop.serve(&fac.url(), &["--state", &state, "--content", CONTENT]);
    let b = shop.serve(&fac.url(), &["--state", &state, "--content", CONTENT]);
    let payment = shop.pay(&a);
    let got = at_once(&[a.url.clone(), b.url.clone()], &payment, 8);
    settled_once(&got, &fac);
    // Either server now answers the earlier result.
    for url in [&a.url, &b.url] {
        let g = get(url, Some(&payment));
        assert_eq!(
            (g.status, g.reason.as_str()),
            (409, "payment_already_delivered")
        );
    }
}

/// Waits (bounded) for a server process to end; its exit status.
fn exited(server: &mut Server) -> Option<i32> {
    let child = server.guard.0.as_mut().unwrap();
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code();
        }
        assert!(start.elapsed() < Duration::from_secs(20), "still running");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_crash_between_settlement_and_answer_delivers_later_without_a_second_charge() {
    let shop = Shop::new();
    let fac = Facilitator::start(Mode::settled());
    let state = shop.state();
    let fac_url = fac.url();
    let args = shop.args(
        &fac_url,
        &["--state", &state, "--content", CONTENT, "--lease", "1"],
    );
    let mut first = serve_env(
        shop.dir.path(),
        &args,
        &[("PAYWIRE_SERVE_FAULT", "exit-after-settle")],
    );
    let payment = shop.pay(&first);
    let headers = [("PAYMENT-SIGNATURE", payment.as_str())];
    assert!(
        request("GET", &first.url, &headers).is_none(),
        "no answer from a server that stopped"
    );
    assert_eq!(exited(&mut first), Some(3));
    assert_eq!(fac.calls().len(), 1);
    assert_eq!(shop.record_state(&nonce_of(&payment)), "settled");
    // Restarted: while the stopped server's delivery lease lasts, the payment
    // is in progress (with its settlement), never asked for again.
    let second = shop.serve(&fac.url(), &["--state", &state, "--content", CONTENT]);
    // (The lease is one second: when the restart crosses a second boundary the
    // lease may be over already, and the first request is the delivery.)
    let mut got = get(&second.url, Some(&payment));
    if got.status == 409 {
        assert_eq!(got.reason, "payment_in_progress");
        assert!(got.payment_response.is_some());
        std::thread::sleep(Duration::from_millis(2100));
        got = get(&second.url, Some(&payment));
    }
    // Then it gets the content and the settlement it paid for.
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body, CONTENT);
    let pr = unb64(got.payment_response.as_deref().unwrap());
    let tx = serde_json::from_slice::<serde_json::Value>(&common::doubles::settled_body(
        &fac.calls()[0],
    ))
    .unwrap()["transaction"]
        .clone();
    assert_eq!(pr["transaction"], tx);
    assert_eq!(fac.calls().len(), 1, "not settled again");
    assert_eq!(shop.record_state(&nonce_of(&payment)), "delivered");
    let again = get(&second.url, Some(&payment));
    assert_eq!(
        (again.status, again.reason.as_str()),
        (409, "payment_already_delivered")
    );
    assert!(
        second.stderr().contains("not settled again"),
        "{}",
        second.stderr()
    );
}

#[test]
fn a_crash_while_settling_leaves_the_payment_uncertain_never_charged_twice() {
    let shop = Shop::new();
    let fac = Facilitator::start(Mode::Hang);
    let state = shop.state();
    let fac_url = fac.url();
    let mut args = shop.args(&fac_url, &["--state", &state, "--lease", "1"]);
    // Long enough to kill the server while it waits.
    let at = args.iter().position(|a| *a == "--settle-timeout").unwrap();
    args[at + 1] = "4";
    let mut first = serve(shop.dir.path(), &args);
    let payment = shop.pay(&first);
    let url = first.url.clone();
    let p = payment.clone();
    let client = std::thread::spawn(move || request("GET", &url, &[("PAYMENT-SIGNATURE", &p)]));
    fac.wait_calls(1);
    let pid = first.guard.0.as_ref().unwrap().id().to_string();
    Command::new("kill").args(["-9", &pid]).status().unwrap();
    let _ = exited(&mut first);
    assert!(client.join().unwrap().is_none());
    assert_eq!(shop.record_state(&nonce_of(&payment)), "settling");
    fac.set(Mode::settled());
    let second = shop.serve(&fac.url(), &["--state", &state]);
    // While the dead server's lease lasts: in progress, never a 402.
    let got = get(&second.url, Some(&payment));
    if got.status != 502 {
        assert_eq!(
            (got.status, got.reason.as_str()),
            (409, "payment_in_progress")
        );
        std::thread::sleep(Duration::from_secs(6));
    }
    let got = get(&second.url, Some(&payment));
    assert_eq!(
        (got.status, got.reason.as_str()),
        (502, "settlement_uncertain")
    );
    assert_eq!(fac.calls().len(), 1, "never settled twice");
    let out = shop
        .dir
        .run(&["serve", "--state", &state, "--list-uncertain"]);
    out.code(0)
        .says(&nonce_of(&payment))
        .says("stopped while settling");
}

#[test]
fn list_uncertain_needs_a_state_file() {
    run(&["serve", "--list-uncertain"])
        .code(2)
        .says("--list-uncertain reads the records of --state FILE");
    let dir = TempDir::new();
    let out = dir.run(&[
        "serve",
        "--state",
        &dir.file("empty.db"),
        "--list-uncertain",
    ]);
    out.code(0);
    assert!(out.stdout.is_empty());
}

/// `payment` with its signature replaced by one another key made.
fn forged(shop: &Shop, server: &Server, payment: &str) -> String {
    let dir = TempDir::new();
    let (other_key, _) = dir.key("other.key");
    let (_, headers, _) = request("GET", &server.url, &[]).unwrap();
    let out = dir.run(&[
        "pay",
        "--key-file",
        &other_key,
        header(&headers, "payment-required").unwrap(),
    ]);
    out.code(0);
    let theirs = unb64(&header_value(&out.stdout));
    let mut v = unb64(payment);
    v["payload"]["signature"] = theirs["payload"]["signature"].clone();
    let _ = shop;
    to_header(&v)
}

#[test]
fn a_payment_that_does_not_verify_learns_nothing_of_the_record_it_names() {
    let shop = Shop::new();
    let fac = Facilitator::start(Mode::settled());
    let state = shop.state();
    let server = shop.serve(&fac.url(), &["--state", &state]);
    // A delivered payment and an uncertain one.
    let delivered = shop.pay(&server);
    assert_eq!(get(&server.url, Some(&delivered)).status, 200);
    fac.set(Mode::Hang);
    let uncertain = shop.pay(&server);
    assert_eq!(get(&server.url, Some(&uncertain)).status, 502);
    fac.set(Mode::settled());
    let calls = fac.calls().len();
    for (p, state_before) in [(&delivered, "delivered"), (&uncertain, "uncertain")] {
        let nonce = nonce_of(p);
        let got = get(&server.url, Some(&forged(&shop, &server, p)));
        assert_eq!(got.status, 402, "{state_before}: {}", got.body);
        assert!(
            got.reason.starts_with("invalid_exact_evm_signature"),
            "{}",
            got.reason
        );
        assert!(got.payment_response.is_none());
        assert_eq!(shop.record_state(&nonce), state_before);
        // The payer's own payment still reads its record.
        let got = get(&server.url, Some(p));
        assert_eq!(
            got.status,
            if state_before == "delivered" {
                409
            } else {
                502
            }
        );
    }
    assert_eq!(fac.calls().len(), calls);
}

#[test]
fn two_payment_headers_are_a_bad_request() {
    let shop = Shop::new();
    let fac = Facilitator::start(Mode::settled());
    let server = shop.serve(&fac.url(), &[]);
    let a = shop.pay(&server);
    let b = shop.pay(&server);
    for headers in [
        vec![
            ("PAYMENT-SIGNATURE", a.as_str()),
            ("PAYMENT-SIGNATURE", b.as_str()),
        ],
        vec![("PAYMENT-SIGNATURE", a.as_str()), ("X-PAYMENT", a.as_str())],
    ] {
        let (status, _, body) = request("GET", &server.url, &headers).unwrap();
        assert_eq!(status, 400);
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"], "duplicate_payment_header");
    }
    assert!(fac.calls().is_empty());
    assert_eq!(get(&server.url, Some(&a)).status, 200);
}

#[test]
fn forwarded_signatures_carry_v_27_or_28() {
    let shop = Shop::new();
    let fac = Facilitator::start(Mode::settled());
    let server = shop.serve(&fac.url(), &[]);
    let payment = shop.pay(&server);
    let mut v = unb64(&payment);
    let sig = v["payload"]["signature"].as_str().unwrap().to_string();
    let (rs, last) = sig.split_at(sig.len() - 2);
    let zero_one = if last == "1b" { "00" } else { "01" };
    v["payload"]["signature"] = format!("{rs}{zero_one}").into();
    let got = get(&server.url, Some(&to_header(&v)));
    assert_eq!(got.status, 200, "{}", got.body);
    let sent = &fac.calls()[0];
    assert_eq!(sent["paymentPayload"]["payload"]["signature"], sig.as_str());
}

#[test]
fn the_memory_store_is_bounded() {
    let shop = Shop::new();
    let fac = Facilitator::start(Mode::settled());
    let server = shop.serve(&fac.url(), &["--max-records", "1"]);
    let first = shop.pay(&server);
    assert_eq!(get(&server.url, Some(&first)).status, 200);
    // Its record matters until the payment expires: no room for a second one.
    let second = shop.pay(&server);
    let (status, headers, _) = request(
        "GET",
        &server.url,
        &[("PAYMENT-SIGNATURE", second.as_str())],
    )
    .unwrap();
    assert_eq!(status, 503);
    assert!(header(&headers, "retry-after").is_some());
    assert_eq!(fac.calls().len(), 1, "the second payment was not settled");
    // The first is still remembered.
    assert_eq!(get(&server.url, Some(&first)).status, 409);
}
