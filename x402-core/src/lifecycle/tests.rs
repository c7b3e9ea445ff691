use std::collections::HashMap;

use super::answer::b64;
use super::*;
use crate::client::{self, Policy};
use crate::evm::PrivateKey;
use crate::header;
use crate::network::Network;

const NOW: u64 = 1_750_000_000;
const PAY_TO: &str = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
const USDC: &str = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";
const TX: &str = "0xabababababababababababababababababababababababababababababababab";

fn route_json(amount: &str, pay_to: &str) -> String {
    format!(
        r#"{{"x402Version":2,"resource":{{"url":"https://example.com/report"}},"accepts":[{{"scheme":"exact","network":"eip155:84532","amount":"{amount}","asset":"{USDC}","payTo":"{pay_to}","maxTimeoutSeconds":60,"extra":{{"name":"USDC","version":"2"}}}}]}}"#
    )
}

fn route() -> Route {
    Route::from_json(route_json("10000", PAY_TO).as_bytes()).unwrap()
}

fn key(b: u8) -> PrivateKey {
    PrivateKey::from_bytes(&[b; 32]).unwrap()
}

/// A payment for what `offer` (a route JSON) asks, signed at `now`.
fn pay_for(offer: &str, k: &PrivateKey, nonce: u8, now: u64) -> String {
    let mut out = vec![0u8; 8192];
    let c = client::create_payment(
        offer.as_bytes(),
        k,
        [nonce; 32],
        now,
        &Policy::default(),
        &mut out,
    )
    .unwrap();
    out.truncate(c.len);
    String::from_utf8(out).unwrap()
}

fn pay(nonce: u8) -> String {
    pay_for(&route_json("10000", PAY_TO), &key(0x11), nonce, NOW)
}

fn settled_body() -> String {
    format!(
        r#"{{"success":true,"payer":"{}","transaction":"{TX}","network":"eip155:84532"}}"#,
        key(0x11).address()
    )
}

#[derive(Default)]
struct Store {
    records: HashMap<String, String>,
}

impl Store {
    fn swap(
        &mut self,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
    ) -> Result<(), Option<String>> {
        let current = self.records.get(key).cloned();
        if current.as_deref() != expected {
            return Err(current);
        }
        match new {
            Some(n) => self.records.insert(key.to_owned(), n.to_owned()),
            None => self.records.remove(key),
        };
        Ok(())
    }

    fn state(&self, key: &str) -> Option<String> {
        self.records.get(key).map(|r| record_info(r).unwrap().state)
    }
}

/// What happened on one request.
#[derive(Debug)]
struct Run {
    answer: Answer,
    settles: Vec<String>,
    handled: bool,
    key: Option<String>,
}

/// Drives a lifecycle to its end: the handler answers `status` (0: throws),
/// the facilitator `reply`.
fn drive(
    life: &mut Lifecycle,
    store: &mut Store,
    status: u16,
    reply: &dyn Fn() -> (SettleReply<'static>, &'static str),
) -> Run {
    drive_charging(life, store, status, None, reply)
}

/// [`drive`], the handler also setting `Settlement-Overrides` to `overrides`.
fn drive_charging(
    life: &mut Lifecycle,
    store: &mut Store,
    status: u16,
    overrides: Option<&str>,
    reply: &dyn Fn() -> (SettleReply<'static>, &'static str),
) -> Run {
    let mut settles = Vec::new();
    let mut handled = false;
    let mut answer = None;
    for _ in 0..50 {
        match life.next() {
            Action::Lookup { key } => {
                let r = store.records.get(key).cloned();
                life.feed_record(r.as_deref());
            }
            Action::Swap { key, expected, new } => {
                let (key, expected, new) = (
                    key.to_owned(),
                    expected.map(str::to_owned),
                    new.map(str::to_owned),
                );
                let r = store.swap(&key, expected.as_deref(), new.as_deref());
                life.feed_swap(r.as_ref().map(|_| ()).map_err(|c| c.as_deref()));
            }
            Action::Directory { .. } => life.feed_directory(None),
            Action::Handle => {
                handled = true;
                if let Some(o) = overrides {
                    let _ = life.feed_settlement_overrides(o);
                }
                if status == 0 {
                    life.feed_handler(HandlerResult::Failed("boom"));
                } else {
                    life.feed_handler(HandlerResult::Status(status));
                }
            }
            Action::Settle { body, timeout_ms } => {
                assert_eq!(timeout_ms, 30_000);
                settles.push(body.to_owned());
                let (r, detail) = reply();
                life.feed_settle(r, detail);
            }
            Action::Verify { .. } => panic!("verification at the facilitator is off"),
            Action::Respond(a) => {
                answer = Some(a.clone());
                life.responded();
            }
            Action::Done => {
                return Run {
                    answer: answer.unwrap(),
                    settles,
                    handled,
                    key: life.key().map(str::to_owned),
                };
            }
        }
    }
    panic!("no end");
}

fn get(payment: Option<&str>) -> Lifecycle {
    request("GET", payment, NOW, "r")
}

fn request(method: &str, payment: Option<&str>, now: u64, id: &str) -> Lifecycle {
    let headers: Vec<(&str, &str)> = payment
        .map(|p| ("PAYMENT-SIGNATURE", p))
        .into_iter()
        .collect();
    let req = Request {
        method,
        url: "https://example.com/report",
        headers: &headers,
    };
    Lifecycle::new(&route(), &req, now, id, &Settings::default())
}

fn ok() -> (SettleReply<'static>, &'static str) {
    let body: &'static str = Box::leak(settled_body().into_boxed_str());
    (
        SettleReply::Answered {
            status: 200,
            body: body.as_bytes(),
        },
        "",
    )
}

fn error_of(a: &Answer) -> String {
    let v = header::decode_to_vec(a.header("PAYMENT-REQUIRED").unwrap(), 1 << 14).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&v).unwrap();
    v["error"].as_str().unwrap().to_owned()
}

#[test]
fn unpaid_get_and_head_get_the_same_402() {
    let mut store = Store::default();
    let g = drive(&mut get(None), &mut store, 200, &ok).answer;
    let h = drive(&mut request("HEAD", None, NOW, "r"), &mut store, 200, &ok).answer;
    assert_eq!(g.status, 402);
    assert_eq!(g, h);
    assert_eq!(error_of(&g), "PAYMENT-SIGNATURE header is required");
    assert_eq!(g.header("Cache-Control"), Some("no-store"));
    assert_eq!(
        g.body.as_deref().unwrap().as_bytes(),
        header::decode_to_vec(g.header("PAYMENT-REQUIRED").unwrap(), 1 << 14).unwrap()
    );
}

#[test]
fn paid_head_is_never_settled() {
    let mut store = Store::default();
    let run = drive(
        &mut request("HEAD", Some(&pay(1)), NOW, "r"),
        &mut store,
        200,
        &ok,
    );
    assert_eq!(run.answer.status, 402);
    assert!(run.settles.is_empty() && !run.handled);
    assert!(store.records.is_empty());
}

#[test]
fn paid_get_settles_then_delivers_once() {
    let mut store = Store::default();
    let p = pay(1);
    let run = drive(&mut get(Some(&p)), &mut store, 200, &ok);
    let a = &run.answer;
    assert_eq!((a.status, a.outcome), (200, Outcome::Delivered));
    assert!(a.use_handler_response);
    assert_eq!(a.header("Cache-Control"), Some("private, no-store"));
    let pr = header::decode_to_vec(a.header("PAYMENT-RESPONSE").unwrap(), 1 << 14).unwrap();
    let pr: serde_json::Value = serde_json::from_slice(&pr).unwrap();
    assert_eq!(pr["transaction"], TX);
    assert_eq!(run.settles.len(), 1);
    // The settlement carries the route's requirement and the client's payload.
    let body: serde_json::Value = serde_json::from_str(&run.settles[0]).unwrap();
    assert_eq!(body["paymentRequirements"]["amount"], "10000");
    assert_eq!(body["paymentRequirements"]["payTo"], PAY_TO);
    let key = run.key.unwrap();
    assert_eq!(
        key,
        format!(
            "eip155:84532/{}/{}/0x{}",
            USDC.to_lowercase(),
            key_addr(0x11),
            "01".repeat(32)
        )
    );
    assert_eq!(store.state(&key).as_deref(), Some("delivered"));
    // A retry gets the earlier result: 409 with the same PAYMENT-RESPONSE, no second settlement.
    let again = drive(&mut get(Some(&p)), &mut store, 200, &ok);
    assert_eq!(
        (again.answer.status, again.answer.outcome),
        (409, Outcome::AlreadyDelivered)
    );
    assert_eq!(again.answer.reason, "payment_already_delivered");
    assert_eq!(
        again.answer.header("PAYMENT-RESPONSE"),
        a.header("PAYMENT-RESPONSE")
    );
    assert!(again.settles.is_empty() && !again.handled);
}

fn key_addr(b: u8) -> String {
    key(b).address().checksummed().as_str().to_lowercase()
}

#[test]
fn the_route_decides_price_recipient_and_asset() {
    let mut store = Store::default();
    // Signed for a cheaper offer of the same asset: fails against the route's price.
    let cheap = pay_for(&route_json("1", PAY_TO), &key(0x11), 2, NOW);
    let a = drive(&mut get(Some(&cheap)), &mut store, 200, &ok).answer;
    assert_eq!(a.status, 402);
    assert!(error_of(&a).starts_with("invalid_exact_evm_payload_authorization_value_mismatch"));
    // Paid to someone else.
    let other = pay_for(
        &route_json("10000", "0x000000000000000000000000000000000000dEaD"),
        &key(0x11),
        3,
        NOW,
    );
    let a = drive(&mut get(Some(&other)), &mut store, 200, &ok).answer;
    assert!(
        error_of(&a).starts_with("invalid_exact_evm_recipient_mismatch"),
        "{}",
        error_of(&a)
    );
    // Another asset: no requirement of the route matches.
    let json =
        route_json("10000", PAY_TO).replace(USDC, "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913");
    let a = drive(
        &mut get(Some(&pay_for(&json, &key(0x11), 4, NOW))),
        &mut store,
        200,
        &ok,
    )
    .answer;
    assert!(error_of(&a).starts_with("no_matching_payment_requirements"));
    assert!(store.records.is_empty());
}

#[test]
fn handler_failures_are_not_settled_and_the_payment_stays_usable() {
    for status in [0, 302, 404, 500, 503] {
        let mut store = Store::default();
        let p = pay(5);
        let run = drive(&mut get(Some(&p)), &mut store, status, &ok);
        assert!(run.settles.is_empty(), "{status}");
        assert_eq!(run.answer.outcome, Outcome::NotSettled);
        if status == 0 {
            assert_eq!(run.answer.status, 500);
            assert!(!run.answer.use_handler_response);
        } else {
            assert_eq!(run.answer.status, status);
            assert!(run.answer.use_handler_response);
            assert!(run.answer.header("PAYMENT-RESPONSE").is_none());
        }
        assert!(store.records.is_empty(), "{status}");
        let run = drive(&mut get(Some(&p)), &mut store, 200, &ok);
        assert_eq!(run.answer.outcome, Outcome::Delivered);
    }
}

fn answered(status: u16, body: &'static str) -> impl Fn() -> (SettleReply<'static>, &'static str) {
    move || {
        (
            SettleReply::Answered {
                status,
                body: body.as_bytes(),
            },
            "",
        )
    }
}

/// A facilitator behaviour: name, reply, status and reason expected, recorded as uncertain.
type Case = (
    &'static str,
    Box<dyn Fn() -> (SettleReply<'static>, &'static str)>,
    u16,
    &'static str,
    bool,
);

#[test]
fn facilitator_failures_never_deliver_nor_ask_to_pay_again() {
    let success = r#"{"success":true,"transaction":"0xab","network":"eip155:84532"}"#;
    let cases: Vec<Case> = vec![
        (
            "timeout",
            Box::new(|| (SettleReply::NoAnswer, "timed out")),
            502,
            "settlement_uncertain",
            true,
        ),
        (
            "refused",
            Box::new(|| (SettleReply::NotSent, "connection refused")),
            502,
            "facilitator_unavailable",
            false,
        ),
        (
            "502 html",
            Box::new(answered(502, "<html>bad gateway</html>")),
            502,
            "settlement_uncertain",
            true,
        ),
        (
            "503 success body",
            Box::new(answered(503, success)),
            502,
            "settlement_uncertain",
            true,
        ),
        (
            "garbage",
            Box::new(answered(200, "garbage")),
            502,
            "settlement_uncertain",
            true,
        ),
        (
            "truncated",
            Box::new(answered(200, r#"{"success":true,"transac"#)),
            502,
            "settlement_uncertain",
            true,
        ),
        (
            "no transaction",
            Box::new(answered(
                200,
                r#"{"success":true,"transaction":"","network":"eip155:84532"}"#,
            )),
            502,
            "settlement_uncertain",
            true,
        ),
        (
            "other network",
            Box::new(answered(
                200,
                r#"{"success":true,"transaction":"0xab","network":"eip155:8453"}"#,
            )),
            502,
            "settlement_uncertain",
            true,
        ),
        (
            "pending",
            Box::new(answered(
                200,
                r#"{"success":false,"errorReason":"settlement_pending","transaction":"0xab","network":"eip155:84532"}"#,
            )),
            502,
            "settlement_uncertain",
            true,
        ),
        (
            "nonce used",
            Box::new(answered(
                200,
                r#"{"success":false,"errorReason":"invalid_exact_evm_nonce_already_used","transaction":"","network":"eip155:84532"}"#,
            )),
            502,
            "settlement_uncertain",
            true,
        ),
        (
            "duplicate 409",
            Box::new(answered(
                409,
                r#"{"success":false,"errorReason":"duplicate_settlement","transaction":"","network":"eip155:84532"}"#,
            )),
            502,
            "settlement_uncertain",
            true,
        ),
        (
            "unknown reason",
            Box::new(answered(
                200,
                r#"{"success":false,"errorReason":"something_new","transaction":"","network":"eip155:84532"}"#,
            )),
            502,
            "settlement_uncertain",
            true,
        ),
        (
            "404",
            Box::new(answered(404, "not found")),
            502,
            "facilitator_error",
            false,
        ),
        (
            "refusal",
            Box::new(answered(
                200,
                r#"{"success":false,"errorReason":"invalid_exact_evm_insufficient_balance","transaction":"","network":"eip155:84532"}"#,
            )),
            402,
            "invalid_exact_evm_insufficient_balance",
            false,
        ),
        (
            "refusal 400",
            Box::new(answered(
                400,
                r#"{"success":false,"errorReason":"invalid_exact_evm_signature","transaction":"","network":"eip155:84532"}"#,
            )),
            402,
            "invalid_exact_evm_signature",
            false,
        ),
    ];
    for (name, reply, status, reason, recorded) in cases {
        let mut store = Store::default();
        let p = pay(6);
        let run = drive(&mut get(Some(&p)), &mut store, 200, &*reply);
        let a = &run.answer;
        assert_eq!(
            (a.status, a.reason.as_str()),
            (status, reason),
            "{name}: {a:?}"
        );
        assert!(a.header("PAYMENT-RESPONSE").is_none(), "{name}");
        assert_eq!(run.settles.len(), 1, "{name}");
        let key = run.key.unwrap();
        if recorded {
            let info = record_info(&store.records[&key]).unwrap();
            assert_eq!(info.state, "uncertain", "{name}");
            assert_eq!(info.payer, key_addr(0x11));
            assert_eq!(info.nonce, format!("0x{}", "06".repeat(32)));
            assert_eq!(info.amount, "10000");
            assert_eq!(info.route, "https://example.com/report");
            assert_eq!(info.time, NOW);
            assert!(!info.cause.is_empty());
            // Presented again: the same 502, never a second settlement nor a 402.
            let again = drive(&mut get(Some(&p)), &mut store, 200, &ok);
            assert_eq!(
                (again.answer.status, again.answer.outcome),
                (502, Outcome::Uncertain),
                "{name}"
            );
            assert!(again.settles.is_empty() && !again.handled, "{name}");
        } else {
            assert!(store.records.is_empty(), "{name}");
            // Nothing settled: the same payment goes through once the facilitator works.
            let again = drive(&mut get(Some(&p)), &mut store, 200, &ok);
            assert_eq!(again.answer.outcome, Outcome::Delivered, "{name}");
        }
    }
}

#[test]
fn concurrent_presentations_settle_once() {
    let mut store = Store::default();
    let p = pay(7);
    // Eight requests interleaved step by step: only one gets past its claim.
    let mut lives: Vec<Lifecycle> = (0..8)
        .map(|i| request("GET", Some(&p), NOW, &format!("r{i}")))
        .collect();
    let mut answers: Vec<Option<Answer>> = vec![None; 8];
    let mut settles = 0;
    for _ in 0..20 {
        for (i, life) in lives.iter_mut().enumerate() {
            match life.next() {
                Action::Lookup { key } => {
                    let r = store.records.get(key).cloned();
                    life.feed_record(r.as_deref());
                }
                Action::Swap { key, expected, new } => {
                    let (key, expected, new) = (
                        key.to_owned(),
                        expected.map(str::to_owned),
                        new.map(str::to_owned),
                    );
                    let r = store.swap(&key, expected.as_deref(), new.as_deref());
                    life.feed_swap(r.as_ref().map(|_| ()).map_err(|c| c.as_deref()));
                }
                Action::Handle => life.feed_handler(HandlerResult::Status(200)),
                Action::Settle { .. } => {
                    settles += 1;
                    let (r, d) = ok();
                    life.feed_settle(r, d);
                }
                Action::Verify { .. } => panic!("verification at the facilitator is off"),
                Action::Respond(a) => {
                    answers[i] = Some(a.clone());
                    life.responded();
                }
                Action::Directory { .. } | Action::Done => {}
            }
        }
    }
    assert_eq!(settles, 1);
    let delivered = answers
        .iter()
        .flatten()
        .filter(|a| a.outcome == Outcome::Delivered)
        .count();
    let busy = answers.iter().flatten().filter(|a| a.status == 409).count();
    assert_eq!((delivered, busy), (1, 7), "{answers:?}");
}

#[test]
fn a_settled_payment_whose_answer_was_lost_is_delivered_later_without_settling() {
    let mut store = Store::default();
    let p = pay(8);
    let mut life = get(Some(&p));
    // Run until the answer, then "crash": no `responded`.
    let key;
    loop {
        match life.next() {
            Action::Lookup { key } => {
                let r = store.records.get(key).cloned();
                life.feed_record(r.as_deref());
            }
            Action::Swap { key, expected, new } => {
                let (key, expected, new) = (
                    key.to_owned(),
                    expected.map(str::to_owned),
                    new.map(str::to_owned),
                );
                let r = store.swap(&key, expected.as_deref(), new.as_deref());
                life.feed_swap(r.as_ref().map(|_| ()).map_err(|c| c.as_deref()));
            }
            Action::Handle => life.feed_handler(HandlerResult::Status(200)),
            Action::Settle { .. } => {
                let (r, d) = ok();
                life.feed_settle(r, d);
            }
            Action::Respond(_) => {
                key = life.key().unwrap().to_owned();
                break;
            }
            _ => unreachable!(),
        }
    }
    assert_eq!(store.state(&key).as_deref(), Some("settled"));
    // While the first request may still be answering: in progress.
    let soon = drive(
        &mut request("GET", Some(&p), NOW + 1, "r2"),
        &mut store,
        200,
        &ok,
    );
    assert_eq!(soon.answer.status, 409);
    assert_eq!(soon.answer.reason, "payment_in_progress");
    assert!(soon.answer.header("PAYMENT-RESPONSE").is_some());
    // After its lease, even past the payment's validBefore: delivered, not settled again.
    let later = NOW + 3600;
    let run = drive(
        &mut request("GET", Some(&p), later, "r3"),
        &mut store,
        200,
        &ok,
    );
    assert_eq!(run.answer.outcome, Outcome::Redelivered);
    assert!(run.settles.is_empty());
    assert!(run.answer.header("PAYMENT-RESPONSE").is_some());
    assert_eq!(store.state(&key).as_deref(), Some("delivered"));
}

#[test]
fn a_forged_payment_cannot_take_a_settled_delivery() {
    let mut store = Store::default();
    let p = pay(9);
    let mut life = get(Some(&p));
    loop {
        match life.next() {
            Action::Lookup { key } => {
                let r = store.records.get(key).cloned();
                life.feed_record(r.as_deref());
            }
            Action::Swap { key, expected, new } => {
                let (key, expected, new) = (
                    key.to_owned(),
                    expected.map(str::to_owned),
                    new.map(str::to_owned),
                );
                let r = store.swap(&key, expected.as_deref(), new.as_deref());
                life.feed_swap(r.as_ref().map(|_| ()).map_err(|c| c.as_deref()));
            }
            Action::Handle => life.feed_handler(HandlerResult::Status(200)),
            Action::Settle { .. } => {
                let (r, d) = ok();
                life.feed_settle(r, d);
            }
            Action::Respond(_) => break,
            _ => unreachable!(),
        }
    }
    // Same payer and nonce, another value: the signature no longer matches.
    let json = header::decode_to_vec(&p, 1 << 14).unwrap();
    let forged = String::from_utf8(json)
        .unwrap()
        .replace("\"value\":\"10000\"", "\"value\":\"10001\"");
    let forged = b64(forged.as_bytes());
    let run = drive(
        &mut request("GET", Some(&forged), NOW + 3600, "x"),
        &mut store,
        200,
        &ok,
    );
    assert_eq!(run.answer.status, 402);
    assert!(!run.handled);
}

#[test]
fn an_abandoned_settlement_becomes_uncertain() {
    let mut store = Store::default();
    let p = pay(10);
    let mut life = get(Some(&p));
    let key;
    loop {
        match life.next() {
            Action::Lookup { key } => {
                let r = store.records.get(key).cloned();
                life.feed_record(r.as_deref());
            }
            Action::Swap { key, expected, new } => {
                let (key, expected, new) = (
                    key.to_owned(),
                    expected.map(str::to_owned),
                    new.map(str::to_owned),
                );
                let r = store.swap(&key, expected.as_deref(), new.as_deref());
                life.feed_swap(r.as_ref().map(|_| ()).map_err(|c| c.as_deref()));
            }
            Action::Handle => life.feed_handler(HandlerResult::Status(200)),
            Action::Settle { .. } => {
                key = life.key().unwrap().to_owned();
                break;
            }
            _ => unreachable!(),
        }
    }
    assert_eq!(store.state(&key).as_deref(), Some("settling"));
    let run = drive(
        &mut request("GET", Some(&p), NOW + 3600, "r2"),
        &mut store,
        200,
        &ok,
    );
    assert_eq!(
        (run.answer.status, run.answer.outcome),
        (502, Outcome::Uncertain)
    );
    assert!(run.settles.is_empty());
    assert_eq!(store.state(&key).as_deref(), Some("uncertain"));
    // The first request's settlement comes back after all: the record says settled.
    let (r, d) = ok();
    life.feed_settle(r, d);
    let a = drive(&mut life, &mut store, 200, &ok).answer;
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(store.state(&key).as_deref(), Some("delivered"));
}

#[test]
fn malformed_payments_and_v1() {
    let mut store = Store::default();
    for (value, reason) in [
        ("bm90IGEgcGF5bWVudA==", "invalid_payload"),
        ("not base64!", "invalid_payload"),
    ] {
        let a = drive(&mut get(Some(value)), &mut store, 200, &ok).answer;
        assert_eq!(a.status, 402);
        assert!(error_of(&a).starts_with(reason), "{}", error_of(&a));
    }
    let headers = [("X-PAYMENT", "e30=")];
    let req = Request {
        method: "GET",
        url: "https://example.com/report",
        headers: &headers,
    };
    let mut life = Lifecycle::new(&route(), &req, NOW, "r", &Settings::default());
    let a = drive(&mut life, &mut store, 200, &ok).answer;
    assert!(error_of(&a).starts_with("invalid_x402_version"));
    assert!(store.records.is_empty());
}

#[test]
fn an_unreadable_record_is_a_store_error() {
    let mut store = Store::default();
    let p = pay(11);
    let run = drive(&mut get(Some(&p)), &mut store, 200, &ok);
    let key = run.key.unwrap();
    store.records.insert(key, "garbage".into());
    let a = drive(&mut get(Some(&p)), &mut store, 200, &ok).answer;
    assert_eq!((a.status, a.outcome), (500, Outcome::StoreError));
}

#[test]
fn routes_are_checked() {
    for bad in [
        r#"{"x402Version":2,"resource":{"url":"u"},"accepts":[]}"#.to_owned(),
        route_json("10000", "merchant"),
        route_json("10000", PAY_TO).replace("eip155:84532", "solana:abc"),
        route_json("10000", PAY_TO).replace("\"exact\"", "\"deferred\""),
    ] {
        assert!(Route::from_json(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn the_json_form_drives_the_same_machine() {
    let p = pay(12);
    let request = format!(
        r#"{{"method":"GET","url":"https://example.com/report","headers":[["Payment-Signature","{p}"]]}}"#
    );
    let mut life = Lifecycle::from_json(
        &route(),
        request.as_bytes(),
        NOW,
        "j",
        Some(br#"{"settleTimeoutSeconds":5}"#),
    )
    .unwrap();
    let mut store = Store::default();
    let mut seen = Vec::new();
    for _ in 0..20 {
        let step: serde_json::Value = serde_json::from_str(&life.next_json()).unwrap();
        let action = step["action"].as_str().unwrap().to_owned();
        seen.push(action.clone());
        let reply = match action.as_str() {
            "lookup" => {
                serde_json::json!({"record": store.records.get(step["key"].as_str().unwrap())})
            }
            "swap" => {
                let r = store.swap(
                    step["key"].as_str().unwrap(),
                    step["expected"].as_str(),
                    step["new"].as_str(),
                );
                match r {
                    Ok(()) => serde_json::json!({"swapped": true}),
                    Err(c) => serde_json::json!({"swapped": false, "record": c}),
                }
            }
            "handle" => serde_json::json!({"status": 200}),
            "settle" => {
                assert_eq!(step["timeoutMs"], 5000);
                serde_json::json!({"status": 200, "body": settled_body()})
            }
            "respond" => {
                assert_eq!(step["status"], 200);
                assert_eq!(step["useHandlerResponse"], true);
                let h = step["headers"].as_array().unwrap();
                assert!(
                    h.iter()
                        .any(|p| p[0] == "Cache-Control" && p[1] == "private, no-store")
                );
                serde_json::json!({})
            }
            "done" => {
                assert_eq!(step["outcome"], "delivered");
                break;
            }
            other => panic!("{other}"),
        };
        life.feed_json(reply.to_string().as_bytes()).unwrap();
    }
    assert_eq!(
        seen,
        [
            "lookup", "swap", "handle", "swap", "settle", "swap", "respond", "swap", "done"
        ]
    );
    assert!(life.feed_json(b"{}").is_err());
}

#[test]
fn a_failing_store_never_settles_and_never_loses_a_settlement() {
    // Before settlement: 503, nothing settled.
    let p = pay(13);
    let mut life = get(Some(&p));
    life.feed_json(br#"{"storeError":"disk full"}"#).unwrap();
    match life.next() {
        Action::Respond(a) => {
            assert_eq!((a.status, a.outcome), (503, Outcome::StoreError));
            assert!(a.header("Retry-After").is_some());
        }
        other => panic!("{other:?}"),
    }
    // After settlement: delivered all the same.
    let mut store = Store::default();
    let mut life = get(Some(&p));
    loop {
        match life.next() {
            Action::Lookup { key } => {
                let r = store.records.get(key).cloned();
                life.feed_record(r.as_deref());
            }
            Action::Swap { key, expected, new } => {
                if new.is_some_and(|n| n.contains("\"settled\"")) {
                    life.feed_store_error("disk full");
                    continue;
                }
                let (key, expected, new) = (
                    key.to_owned(),
                    expected.map(str::to_owned),
                    new.map(str::to_owned),
                );
                let r = store.swap(&key, expected.as_deref(), new.as_deref());
                life.feed_swap(r.as_ref().map(|_| ()).map_err(|c| c.as_deref()));
            }
            Action::Handle => life.feed_handler(HandlerResult::Status(200)),
            Action::Settle { .. } => {
                let (r, d) = ok();
                life.feed_settle(r, d);
            }
            Action::Respond(a) => {
                assert_eq!((a.status, a.outcome), (200, Outcome::Delivered));
                break;
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn settle_replies_are_classified() {
    let net = Network::parse_caip2("eip155:84532").unwrap();
    let c = |status, body: &str| {
        classify_settle_reply(
            SettleReply::Answered {
                status,
                body: body.as_bytes(),
            },
            "exact",
            net,
        )
    };
    assert!(matches!(c(200, &settled_body()), Settled::Success(_)));
    assert!(matches!(c(201, &settled_body()), Settled::Success(_)));
    assert!(matches!(c(302, &settled_body()), Settled::Uncertain { .. }));
    assert!(matches!(c(500, "{}"), Settled::Uncertain { .. }));
    assert!(matches!(
        c(429, "slow down"),
        Settled::NotSettled {
            reason: Reason::FacilitatorError,
            ..
        }
    ));
    assert!(matches!(
        c(
            200,
            r#"{"success":false,"errorReason":"invalid_exact_evm_payload_signature","transaction":"","network":"eip155:84532"}"#
        ),
        Settled::Refused { .. }
    ));
    assert!(matches!(
        c(
            200,
            r#"{"success":false,"errorReason":"invalid_transaction_state","transaction":"","network":"eip155:84532"}"#
        ),
        Settled::Uncertain { .. }
    ));
    assert!(matches!(
        c(
            200,
            r#"{"success":false,"transaction":"","network":"eip155:84532"}"#
        ),
        Settled::Uncertain { .. }
    ));
}

#[cfg(feature = "batch")]
mod batch_route {
    use super::*;
    use crate::batch::{self, SignParams, ed25519::SigningKey};

    const AGENT: &str = "https://agent.example";

    fn route() -> Route {
        Route::from_json(br#"{"x402Version":2,"resource":{"url":"https://example.com/article"},"accepts":[{"scheme":"batch-settlement","network":"cloudflare:402","amount":"5","asset":"USD","payTo":"merchant","maxTimeoutSeconds":30,"extra":{"version":"1"}}]}"#).unwrap()
    }

    fn signed(created: u64) -> Vec<(String, String)> {
        let json = br#"{"x402Version":2,"payload":{"amount":"5","asset":"USD"},"accepted":{"scheme":"batch-settlement","network":"cloudflare:402","amount":"5","asset":"USD","payTo":"merchant","maxTimeoutSeconds":30,"extra":{"version":"1"}}}"#;
        let payment = b64(json);
        let key = SigningKey::from_seed(&[42; 32]);
        let unsigned = [("PAYMENT-SIGNATURE", payment.as_str())];
        let req = batch::Request {
            method: "GET",
            url: "https://example.com/article",
            headers: &unsigned,
        };
        let params = SignParams {
            label: "sig1",
            signature_agent: "\"https://agent.example\"",
            signature_agent_key: None,
            created,
            expires: created + 60,
            nonce: None,
        };
        let s = batch::sign_request_alloc(&req, &key, &params).unwrap();
        vec![
            ("PAYMENT-SIGNATURE".into(), payment),
            ("Signature-Agent".into(), s.signature_agent),
            ("Signature-Input".into(), s.signature_input),
            ("Signature".into(), s.signature),
        ]
    }

    fn jwks() -> Vec<u8> {
        let mut out = Vec::new();
        batch::directory::write_directory(
            &[SigningKey::from_seed(&[42; 32]).public_key()],
            &mut out,
        )
        .unwrap();
        out
    }

    fn run(headers: &[(String, String)], store: &mut Store, known: bool) -> (Answer, Vec<String>) {
        run_charging(headers, store, known, None)
    }

    /// [`run`], the handler setting `Settlement-Overrides` to `overrides`.
    fn run_charging(
        headers: &[(String, String)],
        store: &mut Store,
        known: bool,
        overrides: Option<&str>,
    ) -> (Answer, Vec<String>) {
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let req = Request {
            method: "GET",
            url: "https://example.com/article",
            headers: &pairs,
        };
        let mut life = Lifecycle::new(&route(), &req, NOW + 5, "b", &Settings::default());
        let mut actions = Vec::new();
        loop {
            match life.next() {
                Action::Directory { agent } => {
                    assert_eq!(agent, AGENT);
                    actions.push("directory".to_owned());
                    let j = jwks();
                    life.feed_directory(known.then_some(j.as_slice()));
                }
                Action::Lookup { key } => {
                    actions.push("lookup".into());
                    let r = store.records.get(key).cloned();
                    life.feed_record(r.as_deref());
                }
                Action::Swap { key, expected, new } => {
                    actions.push("swap".into());
                    let (key, expected, new) = (
                        key.to_owned(),
                        expected.map(str::to_owned),
                        new.map(str::to_owned),
                    );
                    let r = store.swap(&key, expected.as_deref(), new.as_deref());
                    life.feed_swap(r.as_ref().map(|_| ()).map_err(|c| c.as_deref()));
                }
                Action::Handle => {
                    actions.push("handle".into());
                    if let Some(o) = overrides {
                        let _ = life.feed_settlement_overrides(o);
                    }
                    life.feed_handler(HandlerResult::Status(200));
                }
                Action::Settle { .. } => panic!("batch-settlement has no facilitator"),
                Action::Verify { .. } => panic!("verification at the facilitator is off"),
                Action::Respond(a) => {
                    let a = a.clone();
                    life.responded();
                    while let Action::Swap { key, expected, new } = life.next() {
                        let (key, expected, new) = (
                            key.to_owned(),
                            expected.map(str::to_owned),
                            new.map(str::to_owned),
                        );
                        let r = store.swap(&key, expected.as_deref(), new.as_deref());
                        life.feed_swap(r.as_ref().map(|_| ()).map_err(|c| c.as_deref()));
                    }
                    return (a, actions);
                }
                Action::Done => unreachable!(),
            }
        }
    }

    #[test]
    fn the_handler_may_charge_less_than_the_commitment() {
        let amount_of = |a: &Answer| -> serde_json::Value {
            let pr = header::decode_to_vec(a.header("PAYMENT-RESPONSE").unwrap(), 1 << 14).unwrap();
            serde_json::from_slice::<serde_json::Value>(&pr).unwrap()["amount"].clone()
        };
        // Dynamic pricing: 3 of the 5 committed, in the receipt and the record.
        let mut store = Store::default();
        let (a, _) = run_charging(&signed(NOW), &mut store, true, Some(r#"{"amount":"3"}"#));
        assert_eq!((a.status, amount_of(&a)), (200, serde_json::json!("3")));
        let info = record_info(store.records.values().next().unwrap()).unwrap();
        assert_eq!(
            (info.state.as_str(), info.amount.as_str()),
            ("delivered", "3")
        );
        // A percentage of the commitment; more than the commitment is capped at it.
        for (overrides, charged) in [(r#"{"amount":"40%"}"#, "2"), (r#"{"amount":"9"}"#, "5")] {
            let mut store = Store::default();
            let (a, _) = run_charging(&signed(NOW), &mut store, true, Some(overrides));
            assert_eq!(
                (a.status, amount_of(&a)),
                (200, serde_json::json!(charged)),
                "{overrides}"
            );
        }
        // A charge that cannot be read: the handler's answer fails, nothing recorded.
        let mut store = Store::default();
        let (a, _) = run_charging(&signed(NOW), &mut store, true, Some(r#"{"amount":3}"#));
        assert_eq!((a.status, a.outcome), (500, Outcome::NotSettled));
        assert!(store.records.is_empty());
    }

    #[test]
    fn a_signed_commitment_is_recorded_and_delivered_once() {
        let mut store = Store::default();
        let h = signed(NOW);
        let (a, actions) = run(&h, &mut store, true);
        assert_eq!((a.status, a.outcome), (200, Outcome::Delivered), "{a:?}");
        assert_eq!(actions, ["directory", "lookup", "swap", "handle", "swap"]);
        let pr = header::decode_to_vec(a.header("PAYMENT-RESPONSE").unwrap(), 1 << 14).unwrap();
        assert_eq!(
            core::str::from_utf8(&pr).unwrap(),
            format!(
                r#"{{"success":true,"transaction":"","network":"cloudflare:402","payer":"https://agent.example","amount":"5","asset":"USD","extra":{{"timestamp":{}}}}}"#,
                NOW + 5
            )
        );
        let (key, record) = store.records.iter().next().unwrap();
        assert!(
            key.starts_with("cloudflare:402/USD/https://agent.example/"),
            "{key}"
        );
        let info = record_info(record).unwrap();
        assert_eq!(
            (info.state.as_str(), info.amount.as_str()),
            ("delivered", "5")
        );
        // The same signed request again: the earlier result, not a second delivery.
        let (again, _) = run(&h, &mut store, true);
        assert_eq!(
            (again.status, again.outcome),
            (409, Outcome::AlreadyDelivered)
        );
        // A new signature (another `created`) is a new commitment.
        let (other, _) = run(&signed(NOW + 1), &mut store, true);
        assert_eq!(other.outcome, Outcome::Delivered);
    }

    #[test]
    fn an_unknown_agent_is_refused() {
        let mut store = Store::default();
        let (a, actions) = run(&signed(NOW), &mut store, false);
        assert_eq!(a.status, 402);
        assert_eq!(actions, ["directory"]);
        assert!(
            error_of(&a).starts_with("invalid_batch_settlement_cloudflare_signature_agent_unknown")
        );
    }
}

/// The `until` of the settling record written after the handler answered,
/// with the host's clock at `handler_done` then (`None`: not told).
fn settling_until(handler_done: Option<u64>, json: bool) -> u64 {
    let mut store = Store::default();
    let p = pay(1);
    let mut life = get(Some(&p));
    for _ in 0..50 {
        match life.next() {
            Action::Lookup { key } => {
                let r = store.records.get(key).cloned();
                life.feed_record(r.as_deref());
            }
            Action::Swap { key, expected, new } => {
                let (key, expected, new) = (
                    key.to_owned(),
                    expected.map(str::to_owned),
                    new.map(str::to_owned),
                );
                let info = new.as_deref().map(|n| record_info(n).unwrap().state);
                if info.as_deref() == Some("settling") {
                    let v: serde_json::Value =
                        serde_json::from_str(new.as_deref().unwrap()).unwrap();
                    return v["until"].as_u64().unwrap();
                }
                let r = store.swap(&key, expected.as_deref(), new.as_deref());
                life.feed_swap(r.as_ref().map(|_| ()).map_err(|c| c.as_deref()));
            }
            Action::Handle => match (handler_done, json) {
                (Some(t), true) => life
                    .feed_json(format!(r#"{{"status":200,"now":{t}}}"#).as_bytes())
                    .unwrap(),
                (Some(t), false) => {
                    life.advance_clock(t);
                    life.feed_handler(HandlerResult::Status(200));
                }
                (None, _) => life.feed_handler(HandlerResult::Status(200)),
            },
            other => panic!("unexpected {other:?}"),
        }
    }
    panic!("no settling record");
}

#[test]
fn the_settling_lease_runs_from_when_the_handler_finished() {
    let at_start = settling_until(None, false);
    assert!(at_start > NOW);
    // A handler that took 100 s: the lease starts 100 s later.
    assert_eq!(settling_until(Some(NOW + 100), false), at_start + 100);
    assert_eq!(settling_until(Some(NOW + 100), true), at_start + 100);
    // A clock behind the lifecycle's is ignored.
    assert_eq!(settling_until(Some(NOW - 50), false), at_start);
    assert_eq!(settling_until(Some(NOW - 50), true), at_start);
}

#[test]
fn now_in_a_json_answer_must_be_unix_seconds() {
    let mut life = get(None);
    let e = life
        .feed_json(br#"{"record":null,"now":"soon"}"#)
        .unwrap_err();
    assert_eq!(e.reason().as_str(), "invalid_payload");
    assert!(e.to_string().contains("now"), "{e}");
}

/// A facilitator's `success: false` body.
fn failed_body(reason: &str, tx: &str) -> String {
    format!(
        r#"{{"success":false,"errorReason":"{reason}","transaction":"{tx}","network":"eip155:84532"}}"#
    )
}

#[test]
fn a_failed_transaction_without_a_hash_is_uncertain_and_with_one_a_refusal() {
    let net = Network::parse_caip2("eip155:84532").unwrap();
    for scheme in ["exact", "upto"] {
        for reason in [
            "invalid_exact_evm_transaction_failed",
            "invalid_upto_evm_transaction_failed",
            "invalid_transaction_state",
        ] {
            let c = |tx: &str| {
                let body = failed_body(reason, tx);
                classify_settle_reply(
                    SettleReply::Answered {
                        status: 200,
                        body: body.as_bytes(),
                    },
                    scheme,
                    net,
                )
            };
            assert!(
                matches!(c(""), Settled::Uncertain { ref transaction, .. } if transaction.is_empty()),
                "{scheme} {reason} without a hash: {:?}",
                c("")
            );
            assert!(
                matches!(c(TX), Settled::Refused { reason: ref r, .. } if r == reason),
                "{scheme} {reason} with a hash: {:?}",
                c(TX)
            );
        }
        // Any other reason with a transaction hash: something was sent.
        for reason in [
            "settlement_pending",
            "invalid_exact_evm_insufficient_balance",
            "something_new",
        ] {
            let body = failed_body(reason, TX);
            let got = classify_settle_reply(
                SettleReply::Answered {
                    status: 200,
                    body: body.as_bytes(),
                },
                scheme,
                net,
            );
            assert!(
                matches!(got, Settled::Uncertain { ref transaction, .. } if transaction == TX),
                "{scheme} {reason}: {got:?}"
            );
        }
    }
    // Success without a transaction: uncertain for on-chain schemes only.
    let empty = r#"{"success":true,"transaction":"","network":"eip155:84532"}"#;
    let reply = SettleReply::Answered {
        status: 200,
        body: empty.as_bytes(),
    };
    assert!(matches!(
        classify_settle_reply(reply, "exact", net),
        Settled::Uncertain { .. }
    ));
    assert!(matches!(
        classify_settle_reply(reply, "upto", net),
        Settled::Uncertain { .. }
    ));
    assert!(matches!(
        classify_settle_reply(reply, "batch-settlement", net),
        Settled::Success(_)
    ));
}

#[test]
fn transaction_failed_through_the_lifecycle() {
    // Without a hash: 502, recorded uncertain, never 402 nor a second /settle.
    for reason in [
        "invalid_exact_evm_transaction_failed",
        "invalid_upto_evm_transaction_failed",
    ] {
        let mut store = Store::default();
        let p = pay(40);
        let body: &'static str = Box::leak(failed_body(reason, "").into_boxed_str());
        let run = drive(&mut get(Some(&p)), &mut store, 200, &answered(200, body));
        assert_eq!(
            (run.answer.status, run.answer.reason.as_str()),
            (502, "settlement_uncertain"),
            "{reason}"
        );
        let key = run.key.unwrap();
        let info = record_info(&store.records[&key]).unwrap();
        assert_eq!(info.state, "uncertain");
        assert!(info.cause.contains(reason), "{}", info.cause);
        for _ in 0..3 {
            let again = drive(&mut get(Some(&p)), &mut store, 200, &ok);
            assert_eq!((again.answer.status, again.settles.len()), (502, 0));
        }
        // With a hash: the transaction reverted, nothing moved: 402, the payment usable.
        let mut store = Store::default();
        let body: &'static str = Box::leak(failed_body(reason, TX).into_boxed_str());
        let run = drive(&mut get(Some(&p)), &mut store, 200, &answered(200, body));
        assert_eq!(
            (run.answer.status, run.answer.reason.as_str()),
            (402, reason)
        );
        assert!(store.records.is_empty());
    }
}

#[test]
fn a_pending_settlement_keeps_its_transaction_for_reconciliation() {
    let mut store = Store::default();
    let p = pay(41);
    let body: &'static str = Box::leak(failed_body("settlement_pending", TX).into_boxed_str());
    let run = drive(&mut get(Some(&p)), &mut store, 200, &answered(200, body));
    assert_eq!(run.answer.status, 502);
    let info = record_info(&store.records[&run.key.unwrap()]).unwrap();
    assert_eq!(
        (info.state.as_str(), info.transaction.as_str()),
        ("uncertain", TX)
    );
    assert!(run.answer.message.contains("do not pay again"));
}

/// A payment with the payer and nonce of `p` whose signature is another key's.
fn forged_like(p: &str) -> String {
    let theirs: serde_json::Value =
        serde_json::from_slice(&header::decode_to_vec(p, 1 << 14).unwrap()).unwrap();
    let mine: serde_json::Value = serde_json::from_slice(
        &header::decode_to_vec(
            &pay_for(&route_json("10000", PAY_TO), &key(0x22), 7, NOW),
            1 << 14,
        )
        .unwrap(),
    )
    .unwrap();
    let mut forged = theirs.clone();
    forged["payload"]["signature"] = mine["payload"]["signature"].clone();
    b64(forged.to_string().as_bytes())
}

#[test]
fn nothing_of_a_record_is_revealed_or_changed_for_a_payment_that_does_not_verify() {
    // One payment per state a record can be in.
    let mut store = Store::default();
    let delivered = pay(42);
    drive(&mut get(Some(&delivered)), &mut store, 200, &ok);
    let uncertain = pay(43);
    drive(&mut get(Some(&uncertain)), &mut store, 200, &|| {
        (SettleReply::NoAnswer, "timed out")
    });
    let settling = pay(44);
    let mut life = get(Some(&settling));
    loop {
        match life.next() {
            Action::Lookup { key } => {
                let r = store.records.get(key).cloned();
                life.feed_record(r.as_deref());
            }
            Action::Swap { key, expected, new } => {
                let (key, expected, new) = (
                    key.to_owned(),
                    expected.map(str::to_owned),
                    new.map(str::to_owned),
                );
                let r = store.swap(&key, expected.as_deref(), new.as_deref());
                life.feed_swap(r.as_ref().map(|_| ()).map_err(|c| c.as_deref()));
            }
            Action::Handle => life.feed_handler(HandlerResult::Status(200)),
            Action::Settle { .. } => break,
            other => panic!("{other:?}"),
        }
    }
    let before = store.records.clone();
    for p in [&delivered, &uncertain, &settling] {
        // Long after the settling lease: a verified presentation would mark it uncertain.
        for at in [NOW, NOW + 3600] {
            let forged = forged_like(p);
            let life = request("GET", Some(&forged), at, "attacker");
            let a = match life.next() {
                Action::Respond(a) => a.clone(),
                other => panic!("a forged payment reached {other:?}"),
            };
            assert_eq!(a.status, 402);
            assert!(
                error_of(&a).starts_with("invalid_exact_evm_signature"),
                "{}",
                error_of(&a)
            );
            assert!(a.header("PAYMENT-RESPONSE").is_none());
        }
    }
    assert_eq!(store.records, before);
}

#[test]
fn an_expired_payment_of_the_payer_still_reads_its_record() {
    let mut store = Store::default();
    let p = pay(45);
    let first = drive(&mut get(Some(&p)), &mut store, 200, &ok);
    assert_eq!(first.answer.outcome, Outcome::Delivered);
    // Days later, the payment has expired: the payer still gets the earlier receipt.
    let later = NOW + 5 * 86_400;
    let run = drive(
        &mut request("GET", Some(&p), later, "late"),
        &mut store,
        200,
        &ok,
    );
    assert_eq!(run.answer.status, 409);
    assert!(run.answer.header("PAYMENT-RESPONSE").is_some());
    // An expired payment without a record: the 402 its window earns, nothing stored.
    let fresh = pay(46);
    let run = drive(
        &mut request("GET", Some(&fresh), later, "late"),
        &mut store,
        200,
        &ok,
    );
    assert_eq!(run.answer.status, 402);
    assert!(
        error_of(&run.answer).starts_with("invalid_exact_evm_payload_authorization_valid_before"),
        "{}",
        error_of(&run.answer)
    );
    assert!(run.settles.is_empty() && !run.handled);
    assert_eq!(store.records.len(), 1);
}

/// `p` with its signature's v byte as 0/1 instead of 27/28.
fn with_v_zero_one(p: &str) -> String {
    let mut v: serde_json::Value =
        serde_json::from_slice(&header::decode_to_vec(p, 1 << 14).unwrap()).unwrap();
    let sig = v["payload"]["signature"].as_str().unwrap().to_owned();
    let (rs, last) = sig.split_at(sig.len() - 2);
    let flipped = match last {
        "1b" => "00",
        "1c" => "01",
        other => panic!("v = {other}"),
    };
    v["payload"]["signature"] = format!("{rs}{flipped}").into();
    b64(v.to_string().as_bytes())
}

#[test]
fn forwarded_signatures_carry_v_27_or_28() {
    let mut store = Store::default();
    let p = pay(47);
    let original: serde_json::Value =
        serde_json::from_slice(&header::decode_to_vec(&p, 1 << 14).unwrap()).unwrap();
    let zero_one = with_v_zero_one(&p);
    let run = drive(&mut get(Some(&zero_one)), &mut store, 200, &ok);
    assert_eq!(run.answer.outcome, Outcome::Delivered);
    let sent: serde_json::Value = serde_json::from_str(&run.settles[0]).unwrap();
    assert_eq!(
        sent["paymentPayload"]["payload"]["signature"],
        original["payload"]["signature"]
    );
    // Everything else as received.
    assert_eq!(
        sent["paymentPayload"]["payload"]["authorization"],
        original["payload"]["authorization"]
    );
    assert_eq!(sent["paymentPayload"]["accepted"], original["accepted"]);
}

#[test]
fn two_payment_headers_are_a_bad_request() {
    let p = pay(48);
    let q = pay(49);
    let joined = format!("{p}, {q}");
    for headers in [
        vec![
            ("PAYMENT-SIGNATURE", p.as_str()),
            ("payment-signature", q.as_str()),
        ],
        vec![("PAYMENT-SIGNATURE", p.as_str()), ("X-PAYMENT", q.as_str())],
        vec![("PAYMENT-SIGNATURE", joined.as_str())],
        vec![("X-PAYMENT", p.as_str()), ("X-Payment", p.as_str())],
    ] {
        for method in ["GET", "HEAD"] {
            let req = Request {
                method,
                url: "https://example.com/report",
                headers: &headers,
            };
            let mut store = Store::default();
            let mut life = Lifecycle::new(&route(), &req, NOW, "r", &Settings::default());
            let run = drive(&mut life, &mut store, 200, &ok);
            assert_eq!(
                (run.answer.status, run.answer.reason.as_str()),
                (400, "duplicate_payment_header"),
                "{headers:?}"
            );
            assert_eq!(run.answer.outcome, Outcome::BadRequest);
            assert!(!run.handled && run.settles.is_empty() && store.records.is_empty());
        }
    }
}

#[test]
fn stores_may_forget_only_expired_delivered_records() {
    let mut store = Store::default();
    let delivered = pay(50);
    let key = drive(&mut get(Some(&delivered)), &mut store, 200, &ok)
        .key
        .unwrap();
    let record = store.records[&key].clone();
    let info = record_info(&record).unwrap();
    // The client signs for at most an hour.
    assert!(
        info.expires > NOW && info.expires <= NOW + 3600,
        "{}",
        info.expires
    );
    assert!(!record_forgettable(&record, NOW));
    assert!(!record_forgettable(&record, info.expires));
    assert!(record_forgettable(&record, info.expires + 61));
    // Uncertain and settled records are never forgotten.
    let uncertain = pay(51);
    let run = drive(&mut get(Some(&uncertain)), &mut store, 200, &|| {
        (SettleReply::NoAnswer, "timed out")
    });
    let record = store.records[&run.key.unwrap()].clone();
    assert!(!record_forgettable(&record, u64::MAX / 2));
    assert!(!record_forgettable("{}", u64::MAX / 2));
}

/// Every row of the shared paywall vectors, through the machine alone (the
/// hosts run the same rows against a facilitator double on 127.0.0.1).
#[test]
fn every_row_of_the_shared_paywall_vectors() {
    let text = include_str!("../../tests/vectors/paywall.json");
    let vectors: serde_json::Value = serde_json::from_str(text).unwrap();
    let rows = vectors["vectors"].as_array().unwrap();
    for (i, v) in rows.iter().enumerate() {
        let name = v["name"].as_str().unwrap();
        let reply = &v["reply"];
        let body: &'static str = match &reply["body"] {
            serde_json::Value::String(s) => Box::leak(s.clone().into_boxed_str()),
            serde_json::Value::Object(_) => Box::leak(settled_body().into_boxed_str()),
            _ => "",
        };
        let status = reply["status"].as_u64().unwrap_or(0) as u16;
        let (hang, refuse, cut) = (
            reply["hang"] == true,
            reply["refuse"] == true,
            reply["cutOff"] == true,
        );
        let answer = move || -> (SettleReply<'static>, &'static str) {
            if refuse {
                (SettleReply::NotSent, "connection refused")
            } else if hang || cut {
                (SettleReply::NoAnswer, "no complete answer")
            } else {
                (
                    SettleReply::Answered {
                        status,
                        body: body.as_bytes(),
                    },
                    "",
                )
            }
        };
        let expect = &v["expect"];
        let mut store = Store::default();
        let p = pay(100 + u8::try_from(i).unwrap());
        let run = drive(&mut get(Some(&p)), &mut store, 200, &answer);
        let a = &run.answer;
        assert_eq!(
            u64::from(a.status),
            expect["status"].as_u64().unwrap(),
            "{name}: {a:?}"
        );
        let reason = if a.status == 402 {
            error_of(a)
        } else {
            a.reason.clone()
        };
        if expect["delivered"] != true {
            assert!(
                reason.starts_with(expect["reason"].as_str().unwrap()),
                "{name}: {reason}"
            );
        }
        assert_eq!(
            a.header("PAYMENT-RESPONSE").is_some(),
            expect["delivered"] == true,
            "{name}"
        );
        assert_tool_answer(name, a);
        let key = run.key.unwrap();
        let state = store.state(&key).unwrap_or_else(|| "none".into());
        assert_eq!(state, expect["record"].as_str().unwrap(), "{name}");
        if let Some(again) = expect.get("again") {
            let run = drive(&mut get(Some(&p)), &mut store, 200, &answer);
            assert_tool_answer(name, &run.answer);
            assert_eq!(
                u64::from(run.answer.status),
                again["status"].as_u64().unwrap(),
                "{name} again"
            );
            assert_eq!(
                run.settles.len(),
                usize::from(run.answer.status == 402),
                "{name} again"
            );
        }
        if let Some(recovered) = expect.get("recovered") {
            let run = drive(&mut get(Some(&p)), &mut store, 200, &ok);
            assert_eq!(
                u64::from(run.answer.status),
                recovered["status"].as_u64().unwrap(),
                "{name}"
            );
        }
    }
}

/// The MCP form of an answer keeps the HTTP rules: a 402 is the transport's
/// payment-required result (and Cloudflare's `_meta["x402/error"]`); a
/// delivery is the tool's result with the settlement; anything else is an
/// error result that names its reason and offers nothing to pay.
fn assert_tool_answer(name: &str, a: &Answer) {
    use crate::mcp::{ToolAnswer, tool_answer};
    let parse = |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap();
    match tool_answer(a) {
        ToolAnswer::ToolResult { meta } => {
            assert!(a.use_handler_response, "{name}");
            let meta = parse(&meta);
            let settled = &meta["x402/payment-response"];
            assert_eq!(
                settled.is_object(),
                a.header("PAYMENT-RESPONSE").is_some(),
                "{name}: {meta}"
            );
            if settled.is_object() {
                assert_eq!(settled["success"], true, "{name}");
            }
        }
        ToolAnswer::Result(r) => {
            let r = parse(&r);
            assert_eq!(r["isError"], true, "{name}: {r}");
            let text = r["content"][0]["text"].as_str().unwrap();
            if a.status == 402 {
                let pr = &r["structuredContent"];
                assert!(!pr["accepts"].as_array().unwrap().is_empty(), "{name}");
                assert_eq!(&parse(text), pr, "{name}");
                assert_eq!(&r["_meta"]["x402/error"], pr, "{name}");
            } else {
                assert!(!r.to_string().contains("accepts"), "{name}: {r}");
                assert_eq!(r["structuredContent"]["error"], a.reason.as_str(), "{name}");
                assert!(text.starts_with(&a.reason), "{name}: {text}");
                assert_eq!(
                    r["_meta"]["x402/payment-response"].is_object(),
                    a.header("PAYMENT-RESPONSE").is_some(),
                    "{name}: {r}"
                );
            }
        }
    }
}

const FACILITATOR: &str = "0xc312cD8d90598e36418C81756d81d64158Ed78C7";

fn upto_route_json(amount: &str) -> String {
    format!(
        r#"{{"x402Version":2,"resource":{{"url":"https://example.com/llm"}},"accepts":[{{"scheme":"upto","network":"eip155:84532","amount":"{amount}","asset":"{USDC}","payTo":"{PAY_TO}","maxTimeoutSeconds":60,"extra":{{"name":"USDC","version":"2","assetTransferMethod":"permit2","facilitatorAddress":"{FACILITATOR}"}}}}]}}"#
    )
}

/// An `upto` request for 750000 at most, the handler charging `overrides`:
/// what was sent to `/settle` (its requirements' amount) and the answer.
fn charged(offer_json: &str, overrides: Option<&str>, nonce: u8) -> (Option<String>, Answer) {
    let mut out = vec![0u8; 8192];
    let policy = Policy {
        allow_upto: true,
        ..Policy::default()
    };
    let c = client::create_payment(
        offer_json.as_bytes(),
        &key(0x11),
        [nonce; 32],
        NOW,
        &policy,
        &mut out,
    )
    .unwrap();
    out.truncate(c.len);
    let payment = String::from_utf8(out).unwrap();
    let route = Route::from_json(offer_json.as_bytes()).unwrap();
    let settings = Settings {
        facilitator_addresses: vec![FACILITATOR.parse().unwrap()],
        ..Settings::default()
    };
    let headers = [("PAYMENT-SIGNATURE", payment.as_str())];
    let req = Request {
        method: "GET",
        url: "https://example.com/llm",
        headers: &headers,
    };
    let mut life = Lifecycle::new(&route, &req, NOW, "r", &settings);
    let mut store = Store::default();
    let run = drive_charging(&mut life, &mut store, 200, overrides, &ok);
    let amount = run.settles.first().map(|b| {
        let v: serde_json::Value = serde_json::from_str(b).unwrap();
        v["paymentRequirements"]["amount"]
            .as_str()
            .unwrap()
            .to_owned()
    });
    (amount, run.answer)
}

#[test]
fn an_upto_handler_charges_what_it_used_capped_at_what_was_permitted() {
    let offer = upto_route_json("750000");
    for (overrides, settled) in [
        (None, "750000"),
        (Some(r#"{"amount":"120000"}"#), "120000"),
        (Some(r#"{"amount":"40%"}"#), "300000"),
        (Some(r#"{"amount":"12.5%"}"#), "93750"),
        (Some(r#"{"amount":"0.01%"}"#), "75"),
        // More than permitted: capped.
        (Some(r#"{"amount":"900000"}"#), "750000"),
        (Some(r#"{"amount":"150%"}"#), "750000"),
    ] {
        let (amount, answer) = charged(&offer, overrides, 1);
        assert_eq!(amount.as_deref(), Some(settled), "{overrides:?}");
        assert_eq!(answer.status, 200, "{overrides:?}");
    }
}

#[test]
fn an_unreadable_charge_settles_nothing() {
    let offer = upto_route_json("750000");
    for bad in [
        "not json",
        r#"{"amount":120000}"#,
        r#"{"amount":"$0.12"}"#,
        r#"{"amount":"1.234%"}"#,
        r#"{"amount":"-5"}"#,
        r#"{"amount":"0"}"#,
        r#"{"amount":"0%"}"#,
        r#"{"amount":"5","extra":1}"#,
        r#"{}"#,
    ] {
        let (amount, answer) = charged(&offer, Some(bad), 2);
        assert_eq!(amount, None, "{bad}: nothing settled");
        assert_eq!(answer.status, 500, "{bad}");
        assert_eq!(answer.outcome, Outcome::NotSettled, "{bad}");
    }
}

#[test]
fn a_handlers_own_402_is_never_passed_on() {
    let mut store = Store::default();
    let mut life = get(Some(&pay(50)));
    let run = drive(&mut life, &mut store, 402, &ok);
    assert_eq!(run.answer.status, 500);
    assert_eq!(run.answer.outcome, Outcome::NotSettled);
    assert!(run.settles.is_empty());
}

#[test]
fn a_charge_is_never_0_even_of_a_route_that_permits_nothing() {
    assert!(settlement_charge(r#"{"amount":"5"}"#, crate::Amount::ZERO).is_err());
    assert!(settlement_charge(r#"{"amount":"50%"}"#, crate::Amount::from(1u64)).is_err());
}

#[test]
fn an_exact_payment_settles_its_price_whatever_the_handler_says() {
    let mut life = get(Some(&pay(3)));
    let mut store = Store::default();
    let run = drive_charging(&mut life, &mut store, 200, Some(r#"{"amount":"1"}"#), &ok);
    let v: serde_json::Value = serde_json::from_str(&run.settles[0]).unwrap();
    assert_eq!(v["paymentRequirements"]["amount"], "10000");
    assert_eq!(run.answer.status, 200);
}

/// Drives a request with verification at the facilitator on: the facilitator
/// answers `verify` to POST /verify, and settles. What was asked of it, in
/// order, and the answer.
fn drive_verifying(
    payment: &str,
    store: &mut Store,
    verify: &dyn Fn() -> (SettleReply<'static>, &'static str),
) -> (Vec<&'static str>, Answer) {
    let settings = Settings {
        verify_at_facilitator: true,
        ..Settings::default()
    };
    let headers = [("PAYMENT-SIGNATURE", payment)];
    let req = Request {
        method: "GET",
        url: "https://example.com/report",
        headers: &headers,
    };
    let mut life = Lifecycle::new(&route(), &req, NOW, "r", &settings);
    let mut asked = Vec::new();
    for _ in 0..50 {
        match life.next() {
            Action::Lookup { key } => {
                let r = store.records.get(key).cloned();
                life.feed_record(r.as_deref());
            }
            Action::Swap { key, expected, new } => {
                let (key, expected, new) = (
                    key.to_owned(),
                    expected.map(str::to_owned),
                    new.map(str::to_owned),
                );
                let r = store.swap(&key, expected.as_deref(), new.as_deref());
                life.feed_swap(r.as_ref().map(|_| ()).map_err(|c| c.as_deref()));
            }
            Action::Directory { .. } => life.feed_directory(None),
            Action::Handle => {
                asked.push("handle");
                life.feed_handler(HandlerResult::Status(200));
            }
            Action::Verify { body, .. } => {
                asked.push("verify");
                let v: serde_json::Value = serde_json::from_str(body).unwrap();
                assert_eq!(v["paymentRequirements"]["amount"], "10000");
                let (r, d) = verify();
                life.feed_verify(r, d);
            }
            Action::Settle { .. } => {
                asked.push("settle");
                let (r, d) = ok();
                life.feed_settle(r, d);
            }
            Action::Respond(a) => {
                let a = a.clone();
                life.responded();
                while let Action::Swap { key, expected, new } = life.next() {
                    let (key, expected, new) = (
                        key.to_owned(),
                        expected.map(str::to_owned),
                        new.map(str::to_owned),
                    );
                    let r = store.swap(&key, expected.as_deref(), new.as_deref());
                    life.feed_swap(r.as_ref().map(|_| ()).map_err(|c| c.as_deref()));
                }
                return (asked, a);
            }
            Action::Done => panic!("no answer"),
        }
    }
    panic!("no end");
}

#[test]
fn verification_at_the_facilitator_runs_before_the_handler_on_fresh_payments_only() {
    let valid = || {
        (
            SettleReply::Answered {
                status: 200,
                body: br#"{"isValid":true,"payer":"0x0000000000000000000000000000000000000001"}"#,
            },
            "",
        )
    };
    let mut store = Store::default();
    let p = pay(40);
    let (asked, a) = drive_verifying(&p, &mut store, &valid);
    assert_eq!(asked, ["verify", "handle", "settle"]);
    assert_eq!(a.status, 200);
    // Delivered: presented again, it is answered from its record, never verified again.
    let (asked, a) = drive_verifying(&p, &mut store, &valid);
    assert_eq!(asked, Vec::<&str>::new());
    assert_eq!(a.status, 409);
}

#[test]
fn a_payment_the_facilitator_finds_invalid_is_refused_and_stays_unused() {
    let invalid = || {
        (
            SettleReply::Answered {
                status: 200,
                body: br#"{"isValid":false,"invalidReason":"invalid_exact_evm_insufficient_balance","invalidMessage":"the payer holds less"}"#,
            },
            "",
        )
    };
    let mut store = Store::default();
    let p = pay(41);
    let (asked, a) = drive_verifying(&p, &mut store, &invalid);
    assert_eq!(asked, ["verify"]);
    assert_eq!(a.status, 402);
    assert_eq!(a.reason, "invalid_exact_evm_insufficient_balance");
    assert!(store.records.is_empty(), "the claim is released");
    // Unreachable or unreadable: 502, nothing handled or settled, released.
    for reply in [
        (SettleReply::NotSent, "refused"),
        (SettleReply::NoAnswer, "timed out"),
        (
            SettleReply::Answered {
                status: 500,
                body: b"oops",
            },
            "",
        ),
        (
            SettleReply::Answered {
                status: 200,
                body: b"{}",
            },
            "",
        ),
    ] {
        let (asked, a) = drive_verifying(&p, &mut store, &move || reply);
        assert_eq!(asked, ["verify"]);
        assert_eq!(a.status, 502);
        assert_eq!(a.outcome, Outcome::FacilitatorUnavailable);
        assert!(store.records.is_empty());
    }
}

#[test]
fn verification_at_the_facilitator_is_a_setting() {
    let s = Settings::from_json(br#"{"verifyAtFacilitator":true}"#).unwrap();
    assert!(s.verify_at_facilitator);
    assert!(!Settings::default().verify_at_facilitator);
    assert!(Settings::from_json(br#"{"verifyAtFacilitator":1}"#).is_err());
}

#[test]
fn a_tool_call_gets_tool_results_in_the_json_form() {
    use super::Transport;
    let s = Settings::from_json(br#"{"transport":"mcp"}"#).unwrap();
    assert_eq!(s.transport, Transport::Mcp);
    assert!(Settings::from_json(br#"{"transport":"ws"}"#).is_err());
    let start = |headers: &str, settings: &[u8]| {
        let request =
            format!(r#"{{"method":"POST","url":"mcp://tool/report","headers":[{headers}]}}"#);
        Lifecycle::from_json(&route(), request.as_bytes(), NOW, "t", Some(settings)).unwrap()
    };
    // No payment: the payment-required tool result.
    let life = start("", br#"{"transport":"mcp"}"#);
    let step: serde_json::Value = serde_json::from_str(&life.next_json()).unwrap();
    assert_eq!(step["action"], "respond");
    let result: serde_json::Value =
        serde_json::from_str(step["toolResult"].as_str().unwrap()).unwrap();
    assert_eq!(result["isError"], true);
    assert_eq!(result["structuredContent"]["accepts"][0]["amount"], "10000");
    assert_eq!(step["toolMeta"], serde_json::Value::Null);
    // Over HTTP the step has neither.
    let life = start("", b"{}");
    let step: serde_json::Value = serde_json::from_str(&life.next_json()).unwrap();
    assert!(step.get("toolResult").is_none() && step.get("toolMeta").is_none());
}

#[test]
fn payment_identifiers_are_attached_and_required_where_declared() {
    let declared = |required: bool| {
        route_json("10000", PAY_TO).replacen(
            r#"]}"#,
            &format!(
                r#"],"extensions":{{"payment-identifier":{{"info":{{"required":{required}}},"schema":{{"type":"object"}}}},"other":{{"info":{{}}}}}}}}"#
            ),
            1,
        )
    };
    let route_with = |json: &str| Route::from_json(json.as_bytes()).unwrap();
    let run = |route: &Route, payment: &str, store: &mut Store| {
        let headers = [("PAYMENT-SIGNATURE", payment)];
        let req = Request {
            method: "GET",
            url: "https://example.com/report",
            headers: &headers,
        };
        let mut life = Lifecycle::new(route, &req, NOW, "p", &Settings::default());
        drive(&mut life, store, 200, &ok)
    };
    // The client echoes the extension with this payment's id; the others as they came.
    let required = declared(true);
    let p = pay_for(&required, &key(0x11), 61, NOW);
    let doc: serde_json::Value =
        serde_json::from_slice(&header::decode_to_vec(&p, 1 << 14).unwrap()).unwrap();
    let ext = &doc["extensions"]["payment-identifier"];
    assert_eq!(ext["info"]["id"], format!("pay_{}", "3d".repeat(16)));
    assert_eq!(ext["info"]["required"], true);
    assert_eq!(ext["schema"]["type"], "object");
    assert_eq!(doc["extensions"]["other"], serde_json::json!({"info": {}}));
    // Required and present: paid as usual.
    let mut store = Store::default();
    assert_eq!(
        run(&route_with(&required), &p, &mut store).answer.status,
        200
    );
    // Required and absent (a payment made for the route without the extension): 400, nothing settled.
    let plain = pay(62);
    let r = run(&route_with(&required), &plain, &mut store);
    assert_eq!(
        (r.answer.status, r.answer.reason.as_str()),
        (400, "payment_identifier_required")
    );
    assert!(r.settles.is_empty() && !r.handled);
    // Optional: absent is fine.
    let r = run(&route_with(&declared(false)), &pay(63), &mut store);
    assert_eq!(r.answer.status, 200);
    // An id in the wrong form: 400 whatever the route says.
    let bad = String::from_utf8(
        header::decode_to_vec(&pay_for(&required, &key(0x11), 64, NOW), 1 << 14).unwrap(),
    )
    .unwrap()
    .replace(&format!("pay_{}", "40".repeat(16)), "short");
    let bad = header::encode_to_string(&paywire_json(&bad));
    for route in [route_with(&required), route()] {
        let r = run(&route, &bad, &mut store);
        assert_eq!(
            (r.answer.status, r.answer.reason.as_str()),
            (400, "invalid_payment_identifier")
        );
        assert!(r.settles.is_empty());
    }
}

#[test]
fn a_payment_identifier_is_bound_to_the_first_payment_that_carries_it() {
    let route_json = route_json("10000", PAY_TO).replacen(
        r#"]}"#,
        r#"],"extensions":{"payment-identifier":{"info":{"required":false},"schema":{"type":"object"}}}}"#,
        1,
    );
    let route = Route::from_json(route_json.as_bytes()).unwrap();
    let run = |route: &Route, payment: &str, store: &mut Store| {
        let headers = [("PAYMENT-SIGNATURE", payment)];
        let req = Request {
            method: "GET",
            url: "https://example.com/report",
            headers: &headers,
        };
        let mut life = Lifecycle::new(route, &req, NOW, "p", &Settings::default());
        drive(&mut life, store, 200, &ok)
    };
    let first = pay_for(&route_json, &key(0x11), 0x51, NOW);
    let id = format!("pay_{}", "51".repeat(16));
    // Another payment (another nonce) that carries the first one's id.
    let other = String::from_utf8(
        header::decode_to_vec(&pay_for(&route_json, &key(0x11), 0x52, NOW), 1 << 14).unwrap(),
    )
    .unwrap()
    .replace(&format!("pay_{}", "52".repeat(16)), &id);
    let other = header::encode_to_string(&paywire_json(&other));
    let mut store = Store::default();
    let r = run(&route, &first, &mut store);
    assert_eq!((r.answer.status, r.settles.len()), (200, 1));
    let bound_key = format!(
        "payment-identifier/eip155:84532/{}/{id}",
        PAY_TO.to_ascii_lowercase()
    );
    assert_eq!(store.state(&bound_key).as_deref(), Some("bound"));
    let info = record_info(&store.records[&bound_key]).unwrap();
    assert_eq!(
        (info.amount.as_str(), info.route.as_str()),
        ("10000", "https://example.com/report")
    );
    // The same payment again: the earlier result (the payment's own record).
    let r = run(&route, &first, &mut store);
    assert_eq!(
        (r.answer.status, r.answer.reason.as_str()),
        (409, "payment_already_delivered")
    );
    assert!(r.answer.header("PAYMENT-RESPONSE").is_some());
    // Another payment with the same id: 409, not handled, not settled, and
    // nothing of the first payment's record in the answer.
    let r = run(&route, &other, &mut store);
    assert_eq!(
        (r.answer.status, r.answer.reason.as_str()),
        (409, "payment_identifier_conflict")
    );
    assert!(r.settles.is_empty() && !r.handled);
    assert!(r.answer.header("PAYMENT-RESPONSE").is_none());
    assert_eq!(store.records.len(), 2, "no record for the refused payment");
    // A route that does not declare the extension ignores the id.
    let r = run(
        &self::route(),
        &pay_for(&route_json, &key(0x11), 0x53, NOW),
        &mut store,
    );
    assert_eq!(r.answer.status, 200);
    assert_eq!(store.records.len(), 3);
    // The binding is forgotten once its payment has expired, not before.
    let bound = &store.records[&bound_key];
    assert!(!record_forgettable(bound, NOW));
    assert!(record_forgettable(bound, NOW + 100_000));
}

#[test]
fn an_upfront_payment_flow_settles_before_the_handler() {
    let json = route_json("10000", PAY_TO).replace(
        r#""extra":{"name":"USDC","version":"2"}"#,
        r#""extra":{"name":"USDC","version":"2","paymentFlow":"upfront"}"#,
    );
    let upfront = Route::from_json(json.as_bytes()).unwrap();
    let run = |payment: &str,
               store: &mut Store,
               status: u16,
               reply: &dyn Fn() -> (SettleReply<'static>, &'static str)| {
        let headers = [("PAYMENT-SIGNATURE", payment)];
        let req = Request {
            method: "GET",
            url: "https://example.com/report",
            headers: &headers,
        };
        let mut life = Lifecycle::new(&upfront, &req, NOW, "u", &Settings::default());
        drive(&mut life, store, status, reply)
    };
    let refused = || {
        (
            SettleReply::Answered {
                status: 200,
                body: br#"{"success":false,"errorReason":"invalid_exact_evm_insufficient_balance","transaction":"","network":"eip155:84532"}"#,
            },
            "",
        )
    };
    let mut store = Store::default();
    // Refused by the facilitator: a 402, and the handler never ran.
    let r = run(
        &pay_for(&json, &key(0x11), 0x71, NOW),
        &mut store,
        200,
        &refused,
    );
    assert_eq!(
        (r.answer.status, r.settles.len(), r.handled),
        (402, 1, false)
    );
    // Uncertain: 502, the handler never ran.
    let r = run(
        &pay_for(&json, &key(0x11), 0x72, NOW),
        &mut store,
        200,
        &|| (SettleReply::NoAnswer, "timed out"),
    );
    assert_eq!((r.answer.status, r.handled), (502, false));
    assert_eq!(r.answer.outcome, Outcome::Uncertain);
    // Settled, then the handler: delivered with the settlement.
    let r = run(&pay_for(&json, &key(0x11), 0x73, NOW), &mut store, 200, &ok);
    assert_eq!(
        (r.answer.status, r.settles.len(), r.handled),
        (200, 1, true)
    );
    assert_eq!(r.answer.outcome, Outcome::Delivered);
    assert!(r.answer.header("PAYMENT-RESPONSE").is_some());
    assert_eq!(
        store.state(r.key.as_deref().unwrap()).as_deref(),
        Some("delivered")
    );
    // Settled, and the handler fails (throws, or answers 503): its failure
    // with the settlement, never a 402; the record stays settled, and the
    // same payment again gets the resource without a second settlement.
    let p = pay_for(&json, &key(0x11), 0x74, NOW);
    for status in [0, 503] {
        let r = run(&p, &mut store, status, &ok);
        let expected_settles = usize::from(status == 0);
        assert_eq!(
            r.settles.len(),
            expected_settles,
            "settled once, before the first handler"
        );
        assert_eq!(r.answer.status, if status == 0 { 500 } else { 503 });
        assert_eq!(r.answer.outcome, Outcome::Undelivered);
        assert!(r.answer.header("PAYMENT-RESPONSE").is_some());
        assert!(r.answer.header("PAYMENT-REQUIRED").is_none());
        assert_eq!(
            store.state(r.key.as_deref().unwrap()).as_deref(),
            Some("settled")
        );
    }
    let r = run(&p, &mut store, 200, &ok);
    assert_eq!((r.answer.status, r.settles.len()), (200, 0));
    assert_eq!(r.answer.outcome, Outcome::Redelivered);
    // Flows this lifecycle cannot follow are refused when the route is read.
    for (scheme_flow, ok_route) in [
        (r#""paymentFlow":"authorization""#, true),
        (r#""paymentFlow":"escrow""#, false),
        (r#""paymentFlow":"later""#, false),
        (r#""paymentFlow":7"#, false),
    ] {
        let j = route_json("10000", PAY_TO).replace(
            r#""extra":{"name":"USDC","version":"2"}"#,
            &format!(r#""extra":{{"name":"USDC","version":"2",{scheme_flow}}}"#),
        );
        assert_eq!(
            Route::from_json(j.as_bytes()).is_ok(),
            ok_route,
            "{scheme_flow}"
        );
    }
}

/// A JSON document as a header's document, for [`header::encode_to_string`].
fn paywire_json(json: &str) -> crate::types::facilitator::PaymentPayload<'_> {
    use crate::types::FromJson;
    crate::types::facilitator::PaymentPayload::from_json_bytes(
        json.as_bytes(),
        &crate::json::Limits::DEFAULT,
    )
    .unwrap()
}

/// `exact` on Solana: a route on `solana:*` takes the official client's
/// payment (svm.json), settles it once through the facilitator and keys its
/// record by the payer and the payer's signature; a mutated payment is
/// refused with the reference's reason, before any record is read.
#[cfg(feature = "svm")]
mod solana {
    use super::*;

    fn vectors() -> serde_json::Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/svm.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn route_of(req: &serde_json::Value) -> Route {
        let json = serde_json::json!({
            "x402Version": 2,
            "resource": {"url": "https://example.com/report"},
            "accepts": [req],
        });
        Route::from_json(json.to_string().as_bytes()).unwrap()
    }

    fn present(route: &Route, payment_payload: &serde_json::Value) -> Lifecycle {
        use base64::Engine as _;
        let value = base64::engine::general_purpose::STANDARD.encode(payment_payload.to_string());
        let headers = [("PAYMENT-SIGNATURE", value.as_str())];
        let req = Request {
            method: "GET",
            url: "https://example.com/report",
            headers: &headers,
        };
        Lifecycle::new(route, &req, NOW, "s", &Settings::default())
    }

    #[test]
    fn a_solana_payment_is_settled_once() {
        let f = vectors();
        let p = &f["payments"][0];
        let payer = p["client"]["payer"].as_str().unwrap();
        let route = route_of(&p["paymentRequirements"]);
        let settled: &'static str = Box::leak(
            format!(
                r#"{{"success":true,"payer":"{payer}","transaction":"5j7s1QzqC9JWuNYRjtXEy1ajhTrJLJT1Bz1sN4CM9kMwUqpCGx6nmrPt7CSgnc1qbxgmr2Jmh6vqTZgmyAzC2yAs","network":"{}"}}"#,
                f["network"].as_str().unwrap()
            )
            .into_boxed_str(),
        );
        let reply = || {
            (
                SettleReply::Answered {
                    status: 200,
                    body: settled.as_bytes(),
                },
                "",
            )
        };
        let mut store = Store::default();
        let run = drive(
            &mut present(&route, &p["paymentPayload"]),
            &mut store,
            200,
            &reply,
        );
        assert_eq!(run.answer.status, 200, "{:?}", run.answer);
        assert!(run.handled);
        assert_eq!(run.settles.len(), 1);
        let body: serde_json::Value = serde_json::from_str(&run.settles[0]).unwrap();
        assert_eq!(
            body["paymentPayload"]["payload"],
            p["paymentPayload"]["payload"]
        );
        let key = run.key.unwrap();
        assert!(
            key.starts_with(&format!(
                "{}/{}/{payer}/",
                f["network"].as_str().unwrap(),
                p["paymentRequirements"]["asset"].as_str().unwrap()
            )),
            "{key}"
        );
        assert_eq!(store.state(&key).as_deref(), Some("delivered"));
        // Presented again: the earlier result, no second settlement.
        let again = drive(
            &mut present(&route, &p["paymentPayload"]),
            &mut store,
            200,
            &reply,
        );
        assert_eq!(
            (again.answer.status, again.answer.outcome),
            (409, Outcome::AlreadyDelivered)
        );
        assert!(again.settles.is_empty() && !again.handled);
    }

    #[test]
    fn a_mutated_solana_payment_is_refused_with_the_references_reason() {
        let f = vectors();
        let route = route_of(&f["payments"][0]["paymentRequirements"]);
        for name in ["amount-plus-1", "bad-signature", "wrong-mint"] {
            let v = f["verdicts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == name)
                .unwrap();
            let mut store = Store::default();
            let run = drive(
                &mut present(&route, &v["paymentPayload"]),
                &mut store,
                200,
                &ok,
            );
            assert_eq!(run.answer.status, 402, "{name}");
            assert!(
                error_of(&run.answer).starts_with(v["official"]["invalidReason"].as_str().unwrap()),
                "{name}: {}",
                error_of(&run.answer)
            );
            assert!(run.settles.is_empty() && !run.handled && store.records.is_empty());
        }
    }

    #[test]
    fn solana_routes_are_checked() {
        let f = vectors();
        let req = &f["payments"][0]["paymentRequirements"];
        let mut no_fee_payer = req.clone();
        no_fee_payer["extra"]
            .as_object_mut()
            .unwrap()
            .remove("feePayer");
        let mut evm_asset = req.clone();
        evm_asset["asset"] = USDC.into();
        for bad in [no_fee_payer, evm_asset] {
            let json =
                serde_json::json!({"x402Version": 2, "resource": {"url": "u"}, "accepts": [bad]});
            assert!(
                Route::from_json(json.to_string().as_bytes()).is_err(),
                "{bad}"
            );
        }
    }
}
