//! The lifecycle of `batch-settlement` on EVM: vouchers, deposits and
//! refunds on a channel whose record is in the host's store.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::*;
use crate::Amount;
use crate::evm::batch_settlement::client::{self, Created, DepositMethod};
use crate::evm::batch_settlement::server::ChannelRecord;
use crate::evm::batch_settlement::types::ChannelState;
use crate::evm::batch_settlement::verify::Requirements;
use crate::evm::{B256, PrivateKey};
use crate::header;
use crate::json::{JsonStr, ToJson};
use crate::types::FromJson;

const NOW: u64 = 1_750_000_000;
const NETWORK: &str = "eip155:84532";
const CHAIN: u64 = 84532;
const PAY_TO: &str = "0x209693bc6afc0c5328ba36faf03c514ef312287c";
const USDC: &str = "0x036cbd53842c5426634e7929541ec2318f3dcf7e";
const AUTHORIZER: &str = "0x1111111111111111111111111111111111111111";
const TX: &str = "0xabababababababababababababababababababababababababababababababab";

fn requirement() -> String {
    format!(
        r#"{{"scheme":"batch-settlement","network":"{NETWORK}","amount":"1000","asset":"{USDC}","payTo":"{PAY_TO}","maxTimeoutSeconds":300,"extra":{{"receiverAuthorizer":"{AUTHORIZER}","withdrawDelay":900,"name":"USDC","version":"2"}}}}"#
    )
}

fn route() -> Route {
    Route::from_json(
        format!(
            r#"{{"x402Version":2,"resource":{{"url":"https://example.com/report"}},"accepts":[{}]}}"#,
            requirement()
        )
        .as_bytes(),
    )
    .unwrap()
}

fn with_req<R>(f: impl FnOnce(&Requirements<'_>) -> R) -> R {
    let text = requirement();
    let r = crate::types::v2::PaymentRequirements::from_json_bytes(
        text.as_bytes(),
        &crate::json::Limits::DEFAULT,
    )
    .unwrap();
    f(&Requirements::from_requirements(&r).unwrap())
}

fn key(b: u8) -> PrivateKey {
    PrivateKey::from_bytes(&[b; 32]).unwrap()
}

fn a(v: u64) -> Amount {
    Amount::from(v)
}

fn config() -> crate::evm::batch_settlement::ChannelConfig {
    with_req(|rq| {
        client::channel_config(key(1).address(), Some(key(2).address()), rq, B256([7; 32])).unwrap()
    })
}

fn voucher(ceiling: u64) -> Created {
    client::create_voucher(&key(2), &config(), CHAIN, a(ceiling)).unwrap()
}

fn deposit(amount: u64, ceiling: u64) -> Created {
    with_req(|rq| {
        client::create_deposit(
            &key(1),
            &key(2),
            &config(),
            rq,
            a(amount),
            a(ceiling),
            DepositMethod::Erc3009 {
                salt: B256([5; 32]),
            },
            NOW,
        )
        .unwrap()
    })
}

/// The `PAYMENT-SIGNATURE` value of `c`.
fn header_of(c: &Created) -> String {
    let doc = format!(
        r#"{{"x402Version":2,"accepted":{},"payload":{}}}"#,
        requirement(),
        c.to_json_string()
    );
    super::answer::b64(doc.as_bytes())
}

fn channel_key(c: &Created) -> String {
    format!("batch-settlement/{NETWORK}/{}", c.voucher.channel_id)
}

/// The server's record of `c`'s channel: charged `charged` (the voucher at
/// `charged` signed it), 10,000 deposited, synced a few seconds ago.
fn record(charged: u64) -> String {
    let v = voucher(charged);
    let sig = v.voucher.voucher().signature.to_cow().into_owned();
    ChannelRecord {
        channel_id: v.voucher.channel_id,
        channel_config: config(),
        charged_cumulative_amount: a(charged),
        signed_max_claimable: a(charged),
        signature: JsonStr::new(&sig),
        onchain: ChannelState {
            balance: a(10_000),
            total_claimed: a(0),
            withdraw_requested_at: 0,
            refund_nonce: a(0),
        },
        onchain_synced_at: Some(NOW - 5),
        last_request_at: NOW - 5,
    }
    .to_json_string()
}

fn read(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn decoded(value: &str) -> Value {
    serde_json::from_slice(&header::decode_to_vec(value, 1 << 16).unwrap()).unwrap()
}

#[derive(Default)]
struct Host {
    store: HashMap<String, String>,
    verifies: Vec<String>,
    settles: Vec<String>,
    handled: bool,
    swaps: usize,
    /// The swaps of the channel's claim: (expected, new).
    claims: Vec<(Option<String>, Option<String>)>,
}

/// Another request changing the store.
type Meddle = dyn Fn(&mut HashMap<String, String>);

struct Script<'s> {
    handler: u16,
    overrides: Option<&'s str>,
    verify: Option<(u16, String)>,
    settle: Option<(u16, String)>,
    /// Runs before the first swap (another request changing the store).
    before_swap: Option<&'s Meddle>,
    /// The request's time.
    now: u64,
}

impl Default for Script<'_> {
    fn default() -> Self {
        Script {
            handler: 200,
            overrides: None,
            verify: None,
            settle: None,
            before_swap: None,
            now: NOW,
        }
    }
}

fn run(host: &mut Host, payment: &str, script: &Script<'_>) -> Answer {
    let headers = [("PAYMENT-SIGNATURE", payment)];
    let req = Request {
        method: "GET",
        url: "https://example.com/report",
        headers: &headers,
    };
    let mut life = Lifecycle::new(&route(), &req, script.now, "req-1", &Settings::default());
    let mut answer = None;
    for _ in 0..40 {
        match life.next() {
            Action::Lookup { key } => {
                let r = host.store.get(key).cloned();
                life.feed_record(r.as_deref());
            }
            Action::Swap { key, expected, new } => {
                let (key, expected, new) = (
                    key.to_owned(),
                    expected.map(str::to_owned),
                    new.map(str::to_owned),
                );
                // Another request's change lands before this one's first
                // write of the channel's record (after its claim, if any).
                if key.ends_with("/claim") {
                    host.claims.push((expected.clone(), new.clone()));
                } else {
                    if host.swaps == 0 {
                        if let Some(f) = script.before_swap {
                            f(&mut host.store);
                        }
                    }
                    host.swaps += 1;
                }
                let current = host.store.get(&key).cloned();
                if current != expected {
                    life.feed_swap(Err(current.as_deref()));
                } else {
                    match new {
                        Some(n) => host.store.insert(key, n),
                        None => host.store.remove(&key),
                    };
                    life.feed_swap(Ok(()));
                }
            }
            Action::Directory { .. } => panic!("no directory for EVM"),
            Action::Handle => {
                host.handled = true;
                if let Some(o) = script.overrides {
                    let _ = life.feed_settlement_overrides(o);
                }
                life.feed_handler(HandlerResult::Status(script.handler));
            }
            Action::Verify { body, .. } => {
                host.verifies.push(body.to_owned());
                let (status, reply) = script.verify.clone().expect("no verification expected");
                life.feed_verify(
                    SettleReply::Answered {
                        status,
                        body: reply.as_bytes(),
                    },
                    "",
                );
            }
            Action::Settle { body, .. } => {
                host.settles.push(body.to_owned());
                match script.settle.clone() {
                    Some((0, _)) => life.feed_settle(SettleReply::NoAnswer, "timed out"),
                    Some((status, reply)) => life.feed_settle(
                        SettleReply::Answered {
                            status,
                            body: reply.as_bytes(),
                        },
                        "",
                    ),
                    None => panic!("no settlement expected"),
                }
            }
            Action::Respond(a) => {
                answer = Some(a.clone());
                life.responded();
            }
            Action::Done => return answer.unwrap(),
        }
    }
    panic!("no end");
}

fn state_extra(balance: u64) -> Value {
    json!({
        "channelId": voucher(0).voucher.channel_id.to_string(),
        "balance": balance.to_string(),
        "totalClaimed": "0",
        "withdrawRequestedAt": 0,
        "refundNonce": "0"
    })
}

fn valid(balance: u64) -> Option<(u16, String)> {
    Some((
        200,
        json!({"isValid": true, "payer": key(1).address().to_string(), "extra": state_extra(balance)})
            .to_string(),
    ))
}

fn settled(balance: u64) -> Option<(u16, String)> {
    Some((
        200,
        json!({"success": true, "payer": key(1).address().to_string(), "transaction": TX,
               "network": NETWORK, "extra": {"channelState": state_extra(balance)}})
        .to_string(),
    ))
}

fn charged_in(store: &HashMap<String, String>, key: &str) -> String {
    read(&store[key])["chargedCumulativeAmount"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_voucher_is_checked_here_and_its_charge_committed_before_release() {
    let c = voucher(4000);
    let mut host = Host::default();
    host.store.insert(channel_key(&c), record(3000));
    let answer = run(&mut host, &header_of(&c), &Script::default());
    assert_eq!(answer.status, 200);
    assert_eq!(answer.outcome, Outcome::Delivered);
    assert!(answer.use_handler_response);
    assert_eq!(answer.header("Cache-Control"), Some(PAID_CACHE_CONTROL));
    // No facilitator call: the commit is the payment.
    assert!(host.verifies.is_empty() && host.settles.is_empty());
    assert_eq!(charged_in(&host.store, &channel_key(&c)), "4000");
    let pr = decoded(answer.header("PAYMENT-RESPONSE").unwrap());
    assert_eq!(pr["success"], true);
    assert_eq!(pr["transaction"], "");
    assert_eq!(pr["network"], NETWORK);
    assert_eq!(pr["extra"]["chargedAmount"], "1000");
    assert_eq!(
        pr["extra"]["channelState"]["chargedCumulativeAmount"],
        "4000"
    );
    assert_eq!(pr["extra"]["channelState"]["balance"], "10000");
    // The same voucher again: it signs a total already charged.
    let again = run(&mut host, &header_of(&c), &Script::default());
    assert_eq!(again.status, 402);
    assert_eq!(
        again.reason,
        "invalid_batch_settlement_evm_cumulative_amount_mismatch"
    );
}

#[test]
fn a_handler_may_charge_less_never_more() {
    let c = voucher(4000);
    let mut host = Host::default();
    host.store.insert(channel_key(&c), record(3000));
    let script = Script {
        overrides: Some(r#"{"amount":"250"}"#),
        ..Script::default()
    };
    let answer = run(&mut host, &header_of(&c), &script);
    assert_eq!(answer.status, 200);
    assert_eq!(charged_in(&host.store, &channel_key(&c)), "3250");
    let pr = decoded(answer.header("PAYMENT-RESPONSE").unwrap());
    assert_eq!(pr["extra"]["chargedAmount"], "250");
    assert_eq!(
        pr["extra"]["channelState"]["chargedCumulativeAmount"],
        "3250"
    );
    // Above the route's amount: capped at it.
    let mut host = Host::default();
    host.store.insert(channel_key(&c), record(3000));
    let script = Script {
        overrides: Some(r#"{"amount":"5000"}"#),
        ..Script::default()
    };
    run(&mut host, &header_of(&c), &script);
    assert_eq!(charged_in(&host.store, &channel_key(&c)), "4000");
}

#[test]
fn a_failing_handler_commits_nothing() {
    let c = voucher(4000);
    for status in [500, 404, 302, 402] {
        let mut host = Host::default();
        host.store.insert(channel_key(&c), record(3000));
        let answer = run(
            &mut host,
            &header_of(&c),
            &Script {
                handler: status,
                ..Script::default()
            },
        );
        assert_ne!(answer.status, 402, "{status}");
        assert_eq!(answer.outcome, Outcome::NotSettled);
        assert!(answer.header("PAYMENT-RESPONSE").is_none());
        assert_eq!(host.swaps, 0);
        assert_eq!(host.store[&channel_key(&c)], record(3000));
    }
}

#[test]
fn a_lost_swap_is_channel_busy_and_nothing_is_delivered() {
    let c = voucher(4000);
    let mut host = Host::default();
    host.store.insert(channel_key(&c), record(3000));
    let key = channel_key(&c);
    let other = move |s: &mut HashMap<String, String>| {
        s.insert(key.clone(), record(3500));
    };
    let answer = run(
        &mut host,
        &header_of(&c),
        &Script {
            before_swap: Some(&other),
            ..Script::default()
        },
    );
    assert!(host.handled);
    assert_eq!(answer.status, 402);
    assert_eq!(answer.reason, "invalid_batch_settlement_evm_channel_busy");
    assert!(!answer.use_handler_response);
    assert!(answer.header("PAYMENT-RESPONSE").is_none());
    assert_eq!(charged_in(&host.store, &channel_key(&c)), "3500");
}

#[test]
fn a_voucher_off_the_charged_total_gets_the_corrective_402() {
    let c = voucher(5000);
    let mut host = Host::default();
    host.store.insert(channel_key(&c), record(3000));
    let answer = run(&mut host, &header_of(&c), &Script::default());
    assert!(!host.handled);
    assert_eq!(answer.status, 402);
    assert_eq!(
        answer.reason,
        "invalid_batch_settlement_evm_cumulative_amount_mismatch"
    );
    let body = read(answer.body.as_deref().unwrap());
    assert_eq!(decoded(answer.header("PAYMENT-REQUIRED").unwrap()), body);
    let extra = &body["accepts"][0]["extra"];
    // The route's members kept, the state added.
    assert_eq!(extra["receiverAuthorizer"], AUTHORIZER);
    assert_eq!(extra["withdrawDelay"], 900);
    let cs = &extra["channelState"];
    assert_eq!(cs["channelId"], c.voucher.channel_id.to_string());
    assert_eq!(cs["chargedCumulativeAmount"], "3000");
    assert_eq!(cs["balance"], "10000");
    let vs = &extra["voucherState"];
    assert_eq!(vs["signedMaxClaimable"], "3000");
    assert_eq!(
        vs["signature"],
        voucher(3000).voucher.voucher().signature.to_cow().as_ref()
    );
    // The client signs on from it: accepted.
    let next = voucher(4000);
    assert_eq!(
        run(&mut host, &header_of(&next), &Script::default()).status,
        200
    );
}

#[test]
fn a_deposit_is_verified_handled_settled_then_committed() {
    let c = deposit(10_000, 1000);
    let mut host = Host::default();
    let answer = run(
        &mut host,
        &header_of(&c),
        &Script {
            verify: valid(0),
            settle: settled(10_000),
            ..Script::default()
        },
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.outcome, Outcome::Delivered);
    assert!(answer.use_handler_response);
    assert_eq!(host.verifies.len(), 1);
    assert_eq!(host.settles.len(), 1);
    let settle = read(&host.settles[0]);
    assert_eq!(settle["paymentPayload"]["payload"]["type"], "deposit");
    assert_eq!(settle["paymentRequirements"]["scheme"], "batch-settlement");
    let rec = read(&host.store[&channel_key(&c)]);
    assert_eq!(rec["chargedCumulativeAmount"], "1000");
    assert_eq!(rec["balance"], "10000");
    assert_eq!(rec["onchainSyncedAt"], NOW);
    let pr = decoded(answer.header("PAYMENT-RESPONSE").unwrap());
    assert_eq!(pr["transaction"], TX);
    assert_eq!(pr["extra"]["chargedAmount"], "1000");
    assert_eq!(pr["extra"]["channelState"]["balance"], "10000");
    assert_eq!(
        pr["extra"]["channelState"]["chargedCumulativeAmount"],
        "1000"
    );
    // The next request pays with a voucher, checked here.
    let mut again = Host {
        store: host.store.clone(),
        ..Host::default()
    };
    let v = run(&mut again, &header_of(&voucher(2000)), &Script::default());
    assert_eq!(v.status, 200);
    assert!(again.verifies.is_empty() && again.settles.is_empty());
    assert_eq!(charged_in(&again.store, &channel_key(&c)), "2000");
}

#[test]
fn a_deposit_whose_handler_fails_is_not_settled() {
    let c = deposit(10_000, 1000);
    let mut host = Host::default();
    let answer = run(
        &mut host,
        &header_of(&c),
        &Script {
            handler: 503,
            verify: valid(0),
            ..Script::default()
        },
    );
    assert_eq!(answer.status, 503);
    assert!(host.settles.is_empty());
    assert!(host.store.is_empty());
}

#[test]
fn a_refused_deposit_is_a_402_and_nothing_is_delivered() {
    let c = deposit(10_000, 1000);
    let refused = json!({"success": false, "errorReason": "invalid_batch_settlement_evm_deposit_simulation_failed",
        "transaction": "", "network": NETWORK}).to_string();
    let mut host = Host::default();
    let answer = run(
        &mut host,
        &header_of(&c),
        &Script {
            verify: valid(0),
            settle: Some((200, refused)),
            ..Script::default()
        },
    );
    assert_eq!(answer.status, 402);
    assert_eq!(
        answer.reason,
        "invalid_batch_settlement_evm_deposit_simulation_failed"
    );
    assert!(!answer.use_handler_response);
    assert!(host.store.is_empty());
}

#[test]
fn an_uncertain_deposit_is_a_502_recorded_for_reconciliation() {
    let c = deposit(10_000, 1000);
    let failed_no_tx = json!({"success": false, "errorReason": "invalid_batch_settlement_evm_deposit_transaction_failed",
        "transaction": "", "network": NETWORK}).to_string();
    let pending = json!({"success": false, "errorReason": "settlement_pending",
        "transaction": TX, "network": NETWORK})
    .to_string();
    let no_tx = json!({"success": true, "transaction": "", "network": NETWORK}).to_string();
    for settle in [
        (0, String::new()),
        (500, String::from("oops")),
        (200, failed_no_tx),
        (200, pending),
        (200, no_tx),
    ] {
        let mut host = Host::default();
        let answer = run(
            &mut host,
            &header_of(&c),
            &Script {
                verify: valid(0),
                settle: Some(settle.clone()),
                ..Script::default()
            },
        );
        assert_eq!(answer.status, 502, "{settle:?}");
        assert_eq!(answer.reason, "settlement_uncertain");
        assert!(!answer.use_handler_response);
        // No channel record; one uncertain record to reconcile, and the
        // channel's claim kept until it expires (the same deposit presented
        // meanwhile is not sent again).
        assert!(!host.store.contains_key(&channel_key(&c)));
        assert_eq!(host.store.len(), 2);
        let claim = record_info(&host.store[&format!("{}/claim", channel_key(&c))]).unwrap();
        assert_eq!(claim.state, "claimed");
        let (k, r) = host
            .store
            .iter()
            .find(|(k, _)| k.contains("/uncertain/"))
            .unwrap();
        assert!(k.starts_with(&channel_key(&c)), "{k}");
        let info = record_info(r).unwrap();
        assert_eq!(info.state, "uncertain");
        assert_eq!(info.amount, "10000");
        assert_eq!(info.network, NETWORK);
    }
}

#[test]
fn an_unreachable_facilitator_settles_nothing() {
    let c = deposit(10_000, 1000);
    let mut host = Host::default();
    let answer = run(
        &mut host,
        &header_of(&c),
        &Script {
            verify: valid(0),
            settle: Some((404, String::from("not found"))),
            ..Script::default()
        },
    );
    assert_eq!(answer.status, 502);
    assert_eq!(answer.outcome, Outcome::FacilitatorUnavailable);
    assert!(host.store.is_empty());
    // An invalid verification: 402, no handler.
    let mut host = Host::default();
    let invalid = json!({"isValid": false, "invalidReason": "invalid_batch_settlement_evm_voucher_signature"})
        .to_string();
    let answer = run(
        &mut host,
        &header_of(&c),
        &Script {
            verify: Some((200, invalid)),
            ..Script::default()
        },
    );
    assert_eq!(answer.status, 402);
    assert_eq!(
        answer.reason,
        "invalid_batch_settlement_evm_voucher_signature"
    );
    assert!(!host.handled);
}

#[test]
fn a_refund_settles_without_the_handler_and_updates_the_record() {
    let refund = client::create_refund(&key(2), &config(), CHAIN, a(3000), None).unwrap();
    let mut host = Host::default();
    host.store.insert(channel_key(&refund), record(3000));
    let after = Some((
        200,
        json!({"success": true, "payer": key(1).address().to_string(), "transaction": TX,
               "network": NETWORK, "amount": "7000", "extra": {"channelState": state_extra(3000)}})
        .to_string(),
    ));
    let answer = run(
        &mut host,
        &header_of(&refund),
        &Script {
            verify: valid(10_000),
            settle: after,
            ..Script::default()
        },
    );
    assert!(!host.handled);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body.as_deref(), Some("{}"));
    let pr = decoded(answer.header("PAYMENT-RESPONSE").unwrap());
    assert_eq!(pr["transaction"], TX);
    // The settled payload: the client's, enriched.
    let payload = &read(&host.settles[0])["paymentPayload"]["payload"];
    assert_eq!(payload["type"], "refund");
    assert_eq!(payload["amount"], "7000");
    assert_eq!(payload["refundNonce"], "0");
    let claim = &payload["claims"][0];
    assert_eq!(claim["totalClaimed"], "3000");
    assert_eq!(claim["voucher"]["maxClaimableAmount"], "3000");
    assert_eq!(claim["signature"], payload["voucher"]["signature"]);
    assert_eq!(
        claim["voucher"]["channel"],
        read(&config().to_json_string())
    );
    // Nothing left above the charged total: the record is gone.
    assert!(host.store.is_empty());
    // Part of it: the record stays, with the state after.
    let refund = client::create_refund(&key(2), &config(), CHAIN, a(3000), Some(a(2000))).unwrap();
    let mut host = Host::default();
    host.store.insert(channel_key(&refund), record(3000));
    let answer = run(
        &mut host,
        &header_of(&refund),
        &Script {
            verify: valid(10_000),
            settle: settled(8000),
            ..Script::default()
        },
    );
    assert_eq!(answer.status, 200);
    let payload = &read(&host.settles[0])["paymentPayload"]["payload"];
    assert_eq!(payload["amount"], "2000");
    assert_eq!(read(&host.store[&channel_key(&refund)])["balance"], "8000");
}

#[test]
fn a_refund_of_a_channel_unknown_here_claims_its_voucher_first() {
    // As the reference: the refund's voucher is the charged total.
    let refund = client::create_refund(&key(2), &config(), CHAIN, a(3000), None).unwrap();
    let mut host = Host::default();
    let answer = run(
        &mut host,
        &header_of(&refund),
        &Script {
            verify: valid(10_000),
            settle: settled(3000),
            ..Script::default()
        },
    );
    assert_eq!(answer.status, 200);
    let payload = &read(&host.settles[0])["paymentPayload"]["payload"];
    assert_eq!(payload["amount"], "7000");
    assert_eq!(payload["claims"][0]["totalClaimed"], "3000");
    assert!(host.store.is_empty());
    // Nothing left to refund: refused before settling.
    let mut host = Host::default();
    let answer = run(
        &mut host,
        &header_of(&refund),
        &Script {
            verify: valid(3000),
            ..Script::default()
        },
    );
    assert_eq!(answer.status, 402);
    assert_eq!(
        answer.reason,
        "invalid_batch_settlement_evm_refund_no_balance"
    );
    assert!(host.settles.is_empty());
}

#[test]
fn a_store_failure_delivers_nothing() {
    let c = voucher(4000);
    let headers = [("PAYMENT-SIGNATURE", header_of(&c))];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let req = Request {
        method: "GET",
        url: "https://example.com/report",
        headers: &headers,
    };
    let mut life = Lifecycle::new(&route(), &req, NOW, "r", &Settings::default());
    assert!(matches!(life.next(), Action::Lookup { .. }));
    let rec = record(3000);
    life.feed_record(Some(&rec));
    assert_eq!(life.next(), Action::Handle);
    life.feed_handler(HandlerResult::Status(200));
    assert!(matches!(life.next(), Action::Swap { .. }));
    life.feed_store_error("down");
    match life.next() {
        Action::Respond(a) => {
            assert_eq!(a.status, 503);
            assert!(!a.use_handler_response);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_voucher_on_a_stale_or_unknown_channel_is_verified_by_the_facilitator_first() {
    // The server restarted (no record): the facilitator verifies, and the
    // record is made from the verified state.
    let c = voucher(4000);
    let mut host = Host::default();
    let answer = run(
        &mut host,
        &header_of(&c),
        &Script {
            verify: valid(10_000),
            ..Script::default()
        },
    );
    assert_eq!(answer.status, 200);
    assert_eq!(host.verifies.len(), 1);
    assert!(host.settles.is_empty());
    let rec = read(&host.store[&channel_key(&c)]);
    assert_eq!(rec["chargedCumulativeAmount"], "4000");
    assert_eq!(rec["balance"], "10000");
    // A record whose mirror is older than the policy trusts: verified again.
    let mut stale: Value = read(&record(3000));
    stale["onchainSyncedAt"] = json!(NOW - 3600);
    let mut host = Host::default();
    host.store.insert(channel_key(&c), stale.to_string());
    let answer = run(
        &mut host,
        &header_of(&c),
        &Script {
            verify: valid(12_000),
            ..Script::default()
        },
    );
    assert_eq!(answer.status, 200);
    assert_eq!(host.verifies.len(), 1);
    let rec = read(&host.store[&channel_key(&c)]);
    assert_eq!(rec["balance"], "12000");
    assert_eq!(rec["onchainSyncedAt"], NOW);
}

#[test]
fn a_settled_deposit_whose_commit_loses_is_never_a_402() {
    let c = deposit(10_000, 1000);
    let key = channel_key(&c);
    let other = move |s: &mut HashMap<String, String>| {
        s.insert(key.clone(), record(3000));
    };
    let mut host = Host::default();
    let answer = run(
        &mut host,
        &header_of(&c),
        &Script {
            verify: valid(0),
            settle: settled(10_000),
            before_swap: Some(&other),
            ..Script::default()
        },
    );
    assert_eq!(answer.status, 409);
    assert_eq!(answer.reason, "invalid_batch_settlement_evm_channel_busy");
    assert!(!answer.use_handler_response);
    // The deposit's settlement, so the client knows its funds are in.
    let pr = decoded(answer.header("PAYMENT-RESPONSE").unwrap());
    assert_eq!(pr["transaction"], TX);
}

#[test]
fn the_json_form_drives_a_voucher_alike() {
    let c = voucher(4000);
    let payment = header_of(&c);
    let headers = [("PAYMENT-SIGNATURE", payment.as_str())];
    let req = Request {
        method: "GET",
        url: "https://example.com/report",
        headers: &headers,
    };
    let mut life = Lifecycle::new(&route(), &req, NOW, "r", &Settings::default());
    let mut store: HashMap<String, String> = HashMap::new();
    store.insert(channel_key(&c), record(3000));
    let mut status = 0;
    for _ in 0..20 {
        let step: Value = serde_json::from_str(&life.next_json()).unwrap();
        let answer = match step["action"].as_str().unwrap() {
            "lookup" => json!({"record": store.get(step["key"].as_str().unwrap())}),
            "swap" => {
                let k = step["key"].as_str().unwrap().to_owned();
                assert_eq!(store.get(&k).map(String::as_str), step["expected"].as_str());
                store.insert(k, step["new"].as_str().unwrap().to_owned());
                json!({"swapped": true})
            }
            "handle" => json!({"status": 200}),
            "respond" => {
                status = step["status"].as_u64().unwrap();
                json!({})
            }
            "done" => break,
            other => panic!("{other}"),
        };
        life.feed_json(answer.to_string().as_bytes()).unwrap();
    }
    assert_eq!(status, 200);
    assert_eq!(charged_in(&store, &channel_key(&c)), "4000");
}

/// The claim's key of the channel of `c`.
fn claim_of(c: &Created) -> String {
    format!("{}/claim", channel_key(c))
}

#[test]
fn a_deposit_claims_its_channel_and_gives_the_claim_back_after_its_answer() {
    let c = deposit(10_000, 1000);
    let refused = json!({"success": false, "errorReason": "invalid_batch_settlement_evm_deposit_simulation_failed",
        "transaction": "", "network": NETWORK}).to_string();
    let invalid = json!({"isValid": false, "invalidReason": "invalid_batch_settlement_evm_deposit_insufficient_balance"})
        .to_string();
    for (name, script, status) in [
        (
            "settled",
            Script {
                verify: valid(0),
                settle: settled(10_000),
                ..Script::default()
            },
            200,
        ),
        (
            "refused",
            Script {
                verify: valid(0),
                settle: Some((200, refused)),
                ..Script::default()
            },
            402,
        ),
        (
            "handler failed",
            Script {
                verify: valid(0),
                handler: 500,
                ..Script::default()
            },
            500,
        ),
        (
            "not verified",
            Script {
                verify: Some((200, invalid)),
                ..Script::default()
            },
            402,
        ),
    ] {
        let mut host = Host::default();
        let answer = run(&mut host, &header_of(&c), &script);
        assert_eq!(answer.status, status, "{name}: {answer:?}");
        // Claimed where nothing was, before the facilitator saw it; given
        // back, as written, once the answer was out.
        assert_eq!(host.claims.len(), 2, "{name}");
        let (expected, claim) = &host.claims[0];
        assert!(expected.is_none(), "{name}");
        let claim = claim.clone().unwrap();
        let info = record_info(&claim).unwrap();
        assert_eq!(info.state, "claimed", "{name}");
        // The verification, the handler and the settlement fit in its lease.
        assert_eq!(read(&claim)["until"], NOW + 60 + 2 * 30, "{name}");
        assert_eq!(host.claims[1], (Some(claim), None), "{name}");
        assert!(!host.store.contains_key(&claim_of(&c)), "{name}");
    }
}

#[test]
fn a_deposit_while_another_settles_on_its_channel_is_sent_nowhere() {
    let c = deposit(10_000, 1000);
    // A deposit whose settlement is uncertain keeps its claim.
    let mut host = Host::default();
    let answer = run(
        &mut host,
        &header_of(&c),
        &Script {
            verify: valid(0),
            settle: Some((500, String::from("oops"))),
            ..Script::default()
        },
    );
    assert_eq!(answer.status, 502);
    let held = host.store[&claim_of(&c)].clone();
    // What a channel manager reads of it: held until its lease ends.
    let claim = claim_of(&c);
    let channel = channel_key(&c);
    assert_eq!(
        super::held_channel_claim(&claim, &held, NOW),
        Some(channel.as_str())
    );
    let until = read(&held)["until"].as_u64().unwrap();
    assert_eq!(super::held_channel_claim(&claim, &held, until), None);
    assert_eq!(super::held_channel_claim(&channel, &held, NOW), None);
    // The same deposit again, while the claim holds: in progress, never a
    // 402; not verified, not handled, not settled; the claim untouched.
    let mut again = Host {
        store: host.store.clone(),
        ..Host::default()
    };
    let answer = run(&mut again, &header_of(&c), &Script::default());
    assert_eq!(answer.status, 409, "{answer:?}");
    assert_eq!(answer.reason, "payment_in_progress");
    assert!(answer.header("PAYMENT-REQUIRED").is_none());
    assert!(again.verifies.is_empty() && again.settles.is_empty() && !again.handled);
    assert_eq!(again.claims.len(), 1);
    assert_eq!(again.store[&claim_of(&c)], held);
    // A refund on that channel waits alike.
    let refund = client::create_refund(&key(2), &config(), CHAIN, a(3000), None).unwrap();
    let mut store = host.store.clone();
    store.insert(channel_key(&refund), record(3000));
    let mut refunding = Host {
        store,
        ..Host::default()
    };
    let answer = run(
        &mut refunding,
        &header_of(&refund),
        &Script {
            verify: valid(10_000),
            ..Script::default()
        },
    );
    assert_eq!(answer.status, 409, "{answer:?}");
    assert!(refunding.settles.is_empty());
    // Once the claim expired (its holder gone), the next presentation takes
    // it over and settles.
    let expires = read(&held)["until"].as_u64().unwrap();
    let mut later = Host {
        store: host.store.clone(),
        ..Host::default()
    };
    let answer = run(
        &mut later,
        &header_of(&c),
        &Script {
            verify: valid(0),
            settle: settled(10_000),
            now: expires,
            ..Script::default()
        },
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        later
            .claims
            .iter()
            .any(|(e, n)| e.as_deref() == Some(held.as_str()) && n.is_some())
    );
    assert_eq!(later.settles.len(), 1);
    assert!(!later.store.contains_key(&claim_of(&c)));
}

#[test]
fn a_store_failure_on_the_claim_sends_nothing() {
    let c = deposit(10_000, 1000);
    let req_headers = [("PAYMENT-SIGNATURE", header_of(&c))];
    let headers: Vec<(&str, &str)> = req_headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let req = Request {
        method: "GET",
        url: "https://example.com/report",
        headers: &headers,
    };
    let mut life = Lifecycle::new(&route(), &req, NOW, "r", &Settings::default());
    assert!(matches!(life.next(), Action::Lookup { .. }));
    life.feed_record(None);
    let Action::Swap { key, .. } = life.next() else {
        panic!("no claim")
    };
    assert!(key.ends_with("/claim"), "{key}");
    life.feed_store_error("down");
    let Action::Respond(answer) = life.next() else {
        panic!("no answer")
    };
    assert_eq!(answer.status, 503);
    assert_eq!(
        answer.reason,
        "invalid_batch_settlement_evm_verification_state_unavailable"
    );
    life.responded();
    assert!(matches!(life.next(), Action::Done));
}
