//! Regressions of the paid-request lifecycle found by review.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg(feature = "std")]

use std::collections::HashMap;

use paywire::client::{self, Policy};
use paywire::evm::PrivateKey;
use paywire::lifecycle::{
    Action, Answer, HandlerResult, Lifecycle, Request, Route, Settings, SettleReply,
};

const NOW: u64 = 1_750_000_000;
const PAY_TO: &str = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
const USDC: &str = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";
const TX: &str = "0xabababababababababababababababababababababababababababababababab";

fn route_json(path: &str, amount: &str) -> String {
    format!(
        r#"{{"x402Version":2,"resource":{{"url":"https://example.com/{path}"}},"accepts":[{{"scheme":"exact","network":"eip155:84532","amount":"{amount}","asset":"{USDC}","payTo":"{PAY_TO}","maxTimeoutSeconds":60,"extra":{{"name":"USDC","version":"2"}}}}]}}"#
    )
}

fn pay_for(offer: &str, key: &PrivateKey, nonce: u8, now: u64) -> String {
    let mut out = vec![0u8; 8192];
    let c = client::create_payment(
        offer.as_bytes(),
        key,
        [nonce; 32],
        now,
        &Policy::default(),
        &mut out,
    )
    .unwrap();
    out.truncate(c.len);
    String::from_utf8(out).unwrap()
}

/// Drives one request against an in-memory store with a facilitator that always
/// settles; `written: false` is a client that hangs up before the paid answer.
#[allow(clippy::too_many_arguments)]
fn drive(
    route: &Route,
    path: &str,
    payment: &str,
    now: u64,
    id: &str,
    store: &mut HashMap<String, String>,
    written: bool,
    settles: &mut u32,
) -> Answer {
    let url = format!("https://example.com/{path}");
    let headers = [("PAYMENT-SIGNATURE", payment)];
    let req = Request {
        method: "GET",
        url: &url,
        headers: &headers,
    };
    let mut life = Lifecycle::new(route, &req, now, id, &Settings::default());
    let mut answer = None;
    for _ in 0..50 {
        match life.next() {
            Action::Lookup { key } => {
                let r = store.get(key).cloned();
                life.feed_record(r.as_deref());
            }
            Action::Swap { key, expected, new } => {
                let current = store.get(key).cloned();
                if current.as_deref() == expected {
                    match new {
                        Some(n) => store.insert(key.to_owned(), n.to_owned()),
                        None => store.remove(key),
                    };
                    life.feed_swap(Ok(()));
                } else {
                    life.feed_swap(Err(current.as_deref()));
                }
            }
            Action::Directory { .. } => life.feed_directory(None),
            Action::Handle => life.feed_handler(HandlerResult::Status(200)),
            Action::Settle { .. } => {
                *settles += 1;
                let body =
                    format!(r#"{{"success":true,"transaction":"{TX}","network":"eip155:84532"}}"#);
                life.feed_settle(
                    SettleReply::Answered {
                        status: 200,
                        body: body.as_bytes(),
                    },
                    "",
                );
            }
            Action::Verify { .. } => panic!("verification at the facilitator is off"),
            Action::Respond(a) => {
                answer = Some(a.clone());
                if written || !a.use_handler_response {
                    life.responded();
                } else {
                    break;
                }
            }
            Action::Done => break,
        }
    }
    answer.unwrap()
}

#[test]
fn a_settled_undelivered_payment_does_not_unlock_a_dearer_route_with_the_same_nonce() {
    let payer = PrivateKey::from_bytes(&[0x11; 32]).unwrap();
    let (cheap_json, dear_json) = (route_json("cheap", "1"), route_json("dear", "1000000000"));
    let cheap = Route::from_json(cheap_json.as_bytes()).unwrap();
    let dear = Route::from_json(dear_json.as_bytes()).unwrap();
    let mut store = HashMap::new();
    let mut settles = 0;
    // Pay 1 unit for /cheap and hang up before the answer is written: settled, not delivered.
    let cheap_payment = pay_for(&cheap_json, &payer, 0x42, NOW);
    let a = drive(
        &cheap,
        "cheap",
        &cheap_payment,
        NOW,
        "r1",
        &mut store,
        false,
        &mut settles,
    );
    assert_eq!((a.status, settles), (200, 1));
    // After the lease, a new authorization for /dear with the same nonce: refused, not served.
    let dear_payment = pay_for(&dear_json, &payer, 0x42, NOW + 120);
    let b = drive(
        &dear,
        "dear",
        &dear_payment,
        NOW + 120,
        "r2",
        &mut store,
        true,
        &mut settles,
    );
    assert_eq!(b.status, 402, "{b:?}");
    assert!(!b.use_handler_response);
    assert_eq!(settles, 1);
    // The payment that was settled still gets its content, once, without a second settlement.
    let c = drive(
        &cheap,
        "cheap",
        &cheap_payment,
        NOW + 121,
        "r3",
        &mut store,
        true,
        &mut settles,
    );
    assert_eq!(c.status, 200, "{c:?}");
    assert!(c.use_handler_response);
    assert_eq!(settles, 1);
}
