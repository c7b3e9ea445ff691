use super::*;
use crate::client::{Policy, create_payment};
use crate::error::Reason;
use crate::evm::{B256, PrivateKey, abi};
use crate::header;
use crate::json::ToJson;
use crate::types::FromJson;
use crate::verify::Config;
use std::format;
use std::string::String;
use std::vec::Vec;

const TOKEN: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const PAY_TO: &str = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
const NOW: u64 = 1_750_000_000;

fn body(accept_extra: &str) -> String {
    let accept = format!(
        r#"{{"scheme":"exact","network":"eip155:31337","amount":"1000","asset":"{TOKEN}","payTo":"{PAY_TO}","maxTimeoutSeconds":60,"extra":{{"name":"USD Coin","version":"2"{accept_extra}}}}}"#
    );
    let pr = format!(
        r#"{{"x402Version":2,"resource":{{"url":"https://example.com"}},"accepts":[{accept}]}}"#
    );
    let key = PrivateKey::from_bytes(&[0x11; 32]).unwrap();
    let mut out = [0u8; 4096];
    let c = create_payment(
        pr.as_bytes(),
        &key,
        [7; 32],
        NOW,
        &Policy::default(),
        &mut out,
    )
    .unwrap();
    let mut scratch = [0u8; 4096];
    let payload = header::decode_payment_signature(
        core::str::from_utf8(&out[..c.len]).unwrap(),
        &mut scratch,
    )
    .unwrap();
    format!(
        r#"{{"x402Version":2,"paymentPayload":{},"paymentRequirements":{accept}}}"#,
        payload.to_json_string()
    )
}

trait OwnedJson {
    fn to_owned_json(&self) -> String;
}

impl OwnedJson for Step<'_> {
    fn to_owned_json(&self) -> String {
        match self {
            Step::Call(c) => c.to_json_string(),
            Step::Sign(r) => format!("sign {} for {}", r.hash, r.from),
            Step::Done(o) => o.to_json_string(),
        }
    }
}

fn facilitator() -> PrivateKey {
    PrivateKey::from_bytes(&[0x22; 32]).unwrap()
}

/// The request the machine wants, as JSON text.
fn request(m: &Machine) -> String {
    match m.step() {
        Step::Call(c) => c.to_json_string(),
        Step::Sign(r) => panic!("asks for a signature: {r:?}"),
        Step::Done(o) => panic!("done early: {o:?}"),
    }
}

fn ok(m: &mut Machine, result: &str) {
    let id = match m.step() {
        Step::Call(c) => c.envelope.id,
        Step::Sign(r) => panic!("asks for a signature: {r:?}"),
        Step::Done(o) => panic!("done early: {o:?}"),
    };
    m.feed(format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#).as_bytes())
        .unwrap();
}

fn err(m: &mut Machine, error: &str) {
    let id = match m.step() {
        Step::Call(c) => c.envelope.id,
        Step::Sign(r) => panic!("asks for a signature: {r:?}"),
        Step::Done(o) => panic!("done early: {o:?}"),
    };
    m.feed(format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{error}}}"#).as_bytes())
        .unwrap();
}

fn done(m: &Machine) -> Outcome {
    match m.step() {
        Step::Done(o) => *o,
        Step::Call(c) => panic!("still calling {}", c.method()),
        Step::Sign(r) => panic!("asks for a signature: {r:?}"),
    }
}

fn word_hex(w: [u8; 32]) -> String {
    w.iter().map(|b| format!("{b:02x}")).collect()
}

fn abi_string(s: &str) -> String {
    let mut data = format!(
        "{}{}",
        word_hex(abi::u64_word(32)),
        word_hex(abi::u64_word(s.len() as u64))
    );
    for chunk in s.as_bytes().chunks(32) {
        let mut w = [0u8; 32];
        w[..chunk.len()].copy_from_slice(chunk);
        data.push_str(&word_hex(w));
    }
    format!("\"0x{data}\"")
}

#[test]
fn verify_calls_and_valid_verdict() {
    let b = body("");
    let mut m = Machine::verify_json(b.as_bytes(), NOW, &Config::default(), &Options::default());
    assert_eq!(
        request(&m),
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#
    );
    // Garbage, another id, or an error object where a result is owed leave the machine as it was.
    assert!(m.feed(b"<html>").is_err());
    assert!(
        m.feed(br#"{"jsonrpc":"2.0","id":9,"result":"0x7a69"}"#)
            .is_err()
    );
    assert_eq!(
        request(&m),
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#
    );
    ok(&mut m, "\"0x7a69\"");
    assert!(request(&m).contains(
        r#""method":"eth_getCode","params":["0x5fbdb2315678afecb367f032d93f642f64180aa3","latest"]"#
    ));
    ok(&mut m, "\"0x6080\"");
    let sim = request(&m);
    assert!(sim.contains(r#""method":"eth_call","params":[{"to":"0x5fbdb2315678afecb367f032d93f642f64180aa3","data":"0xe3ee160e"#), "{sim}");
    ok(&mut m, "\"0x\"");
    let o = done(&m);
    assert!(o.is_success());
    assert!(
        o.to_json_string()
            .starts_with(r#"{"isValid":true,"payer":"0x"#)
    );
    assert!(
        m.feed(br#"{"jsonrpc":"2.0","id":4,"result":"0x"}"#)
            .is_err()
    );
}

#[test]
fn geth_style_revert_is_diagnosed_in_the_reference_order() {
    let b = body("");
    let mut m = Machine::verify_json(b.as_bytes(), NOW, &Config::default(), &Options::default());
    ok(&mut m, "\"0x7a69\"");
    ok(&mut m, "\"0x6080\"");
    let reason = abi_string("FiatTokenV2: invalid signature");
    err(
        &mut m,
        &format!(
            r#"{{"code":3,"message":"execution reverted: FiatTokenV2: invalid signature","data":"0x08c379a0{}"}}"#,
            reason.trim_matches('"').trim_start_matches("0x")
        ),
    );
    assert!(
        request(&m).contains("0xe94a0102"),
        "authorizationState first"
    );
    ok(&mut m, &format!("\"0x{}\"", word_hex([0; 32])));
    assert!(request(&m).contains("0x06fdde03"), "then name()");
    ok(&mut m, &abi_string("USD Coin"));
    assert!(request(&m).contains("0x54fd4d50"), "then version()");
    ok(&mut m, &abi_string("2"));
    assert!(request(&m).contains("0x70a08231"), "then balanceOf");
    ok(&mut m, &format!("\"0x{}\"", word_hex(abi::u64_word(1000))));
    let o = done(&m);
    assert_eq!(
        o.reason(),
        Some(Reason::ExactEvmTransactionSimulationFailed)
    );
    let Outcome::Verified(v) = o else {
        unreachable!()
    };
    assert_eq!(
        v.message.as_str(),
        "execution reverted: FiatTokenV2: invalid signature"
    );
}

#[test]
fn version_mismatch_and_unsupported_tokens() {
    let b = body("");
    let mut m = Machine::verify_json(b.as_bytes(), NOW, &Config::default(), &Options::default());
    ok(&mut m, "\"0x7a69\"");
    ok(&mut m, "\"0x6080\"");
    err(&mut m, r#"{"code":-32000,"message":"execution reverted"}"#);
    ok(&mut m, &format!("\"0x{}\"", word_hex([0; 32])));
    ok(&mut m, &abi_string("USD Coin"));
    ok(&mut m, &abi_string("1"));
    assert_eq!(
        done(&m).reason(),
        Some(Reason::ExactEvmTokenVersionMismatch)
    );

    // No authorizationState: `0x` from a contract without it.
    let mut m = Machine::verify_json(b.as_bytes(), NOW, &Config::default(), &Options::default());
    ok(&mut m, "\"0x7a69\"");
    ok(&mut m, "\"0x6080\"");
    err(&mut m, r#"{"code":-32000,"message":"execution reverted"}"#);
    ok(&mut m, "\"0x\"");
    assert_eq!(done(&m).reason(), Some(Reason::ExactEvmEip3009NotSupported));
}

#[test]
fn wrong_chain_and_node_failures_end_in_unexpected_errors() {
    let b = body("");
    let mut m = Machine::verify_json(b.as_bytes(), NOW, &Config::default(), &Options::default());
    ok(&mut m, "\"0x2105\"");
    assert_eq!(done(&m).reason(), Some(Reason::UnexpectedVerifyError));
    let mut m = Machine::verify_json(b.as_bytes(), NOW, &Config::default(), &Options::default());
    ok(&mut m, "\"0x7a69\"");
    err(&mut m, r#"{"code":-32005,"message":"rate limited"}"#);
    let o = done(&m);
    assert_eq!(o.reason(), Some(Reason::UnexpectedVerifyError));
    assert!(
        o.to_json_string()
            .contains("eth_getCode failed: rate limited")
    );
}

/// Drives a settlement up to the receipt; returns the hash it sent.
fn settle_to_receipt(m: &mut Machine) -> B256 {
    ok(m, "\"0x7a69\"");
    ok(m, "\"0x6080\"");
    assert!(request(m).contains(r#""method":"eth_estimateGas","params":[{"from":"0x"#));
    ok(m, "\"0x186a0\"");
    assert!(request(m).contains(r#""pending"]"#));
    ok(m, "\"0x5\"");
    ok(
        m,
        r#"{"number":"0x10","timestamp":"0x6853b0f0","baseFeePerGas":"0x3b9aca00","transactions":[]}"#,
    );
    // No eth_maxPriorityFeePerGas on this node: the tip comes from eth_gasPrice.
    err(
        m,
        r#"{"code":-32601,"message":"the method eth_maxPriorityFeePerGas does not exist"}"#,
    );
    assert!(request(m).contains("eth_gasPrice"));
    ok(m, "\"0x3b9aca64\"");
    let send = request(m);
    let hash = m.transaction_hash().unwrap();
    let raw_hex = send
        .split("\"params\":[\"0x")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let raw: Vec<u8> = (0..raw_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&raw_hex[i..i + 2], 16).unwrap())
        .collect();
    assert_eq!(
        crate::evm::keccak256(&raw),
        hash.0,
        "the hash is keccak256 of the raw transaction"
    );
    assert_eq!(raw[0], 0x02);
    ok(m, &format!("\"{hash}\""));
    hash
}

fn receipt(hash: &B256, status: u8, logs: &str) -> String {
    format!(
        r#"{{"transactionHash":"{hash}","status":"0x{status}","blockNumber":"0x11","gasUsed":"0x1d4c0","effectiveGasPrice":"0x3b9aca64","contractAddress":null,"logs":{logs}}}"#
    )
}

#[test]
fn settlement_polls_then_answers_settlement_pending() {
    let b = body("");
    let opts = Options {
        max_receipt_polls: 3,
        receipt_poll_interval_ms: 250,
        ..Options::default()
    };
    let mut m = Machine::settle_json(b.as_bytes(), NOW, &facilitator(), &opts);
    let hash = settle_to_receipt(&mut m);
    for i in 0..3 {
        match m.step() {
            Step::Call(c) => assert_eq!(c.delay_ms, if i == 0 { 0 } else { 250 }),
            Step::Sign(_) | Step::Done(_) => panic!("done early"),
        }
        ok(&mut m, "null");
    }
    let o = done(&m);
    assert_eq!(o.reason(), Some(Reason::SettlementPending));
    let Outcome::Settled(s) = o else {
        unreachable!()
    };
    assert_eq!(s.transaction, Some(hash));
    assert!(
        s.to_json_string()
            .contains(&format!(r#""transaction":"{hash}""#))
    );
}

#[test]
fn reverted_or_eventless_transactions_fail_with_their_hash() {
    let b = body("");
    let mut m = Machine::settle_json(b.as_bytes(), NOW, &facilitator(), &Options::default());
    let hash = settle_to_receipt(&mut m);
    ok(&mut m, &receipt(&hash, 0, "[]"));
    let Outcome::Settled(s) = done(&m) else {
        unreachable!()
    };
    assert_eq!(s.reason, Some(Reason::ExactEvmTransactionFailed));
    assert_eq!(s.transaction, Some(hash));
    assert_eq!(s.gas_used, Some(120_000));

    let mut m = Machine::settle_json(b.as_bytes(), NOW, &facilitator(), &Options::default());
    let hash = settle_to_receipt(&mut m);
    ok(&mut m, &receipt(&hash, 1, "[]"));
    assert_eq!(
        done(&m).reason(),
        Some(Reason::ExactEvmTransferEventMismatch)
    );
}

#[test]
fn a_resent_transaction_the_node_knows_is_awaited() {
    let b = body("");
    let mut m = Machine::settle_json(b.as_bytes(), NOW, &facilitator(), &Options::default());
    ok(&mut m, "\"0x7a69\"");
    ok(&mut m, "\"0x6080\"");
    ok(&mut m, "\"0x186a0\"");
    ok(&mut m, "\"0x5\"");
    ok(
        &mut m,
        r#"{"number":"0x10","timestamp":"0x1","baseFeePerGas":"0x7"}"#,
    );
    ok(&mut m, "\"0x1\"");
    err(&mut m, r#"{"code":-32000,"message":"already known"}"#);
    assert!(request(&m).contains("eth_getTransactionReceipt"));
    let mut m = Machine::settle_json(b.as_bytes(), NOW, &facilitator(), &Options::default());
    ok(&mut m, "\"0x7a69\"");
    ok(&mut m, "\"0x6080\"");
    ok(&mut m, "\"0x186a0\"");
    ok(&mut m, "\"0x5\"");
    ok(
        &mut m,
        r#"{"number":"0x10","timestamp":"0x1","baseFeePerGas":"0x7"}"#,
    );
    ok(&mut m, "\"0x1\"");
    // "nonce too low" may mean this very transaction was mined already:
    // never "failed" (the payer would be asked to pay again); look for it.
    err(&mut m, r#"{"code":-32000,"message":"nonce too low"}"#);
    assert!(request(&m).contains("eth_getTransactionReceipt"));
    // A refusal of the transaction itself: never broadcast, so it failed.
    let mut m = Machine::settle_json(b.as_bytes(), NOW, &facilitator(), &Options::default());
    ok(&mut m, "\"0x7a69\"");
    ok(&mut m, "\"0x6080\"");
    ok(&mut m, "\"0x186a0\"");
    ok(&mut m, "\"0x5\"");
    ok(
        &mut m,
        r#"{"number":"0x10","timestamp":"0x1","baseFeePerGas":"0x7"}"#,
    );
    ok(&mut m, "\"0x1\"");
    err(
        &mut m,
        r#"{"code":-32000,"message":"insufficient funds for gas * price + value"}"#,
    );
    let Outcome::Settled(s) = done(&m) else {
        unreachable!()
    };
    assert_eq!(s.reason, Some(Reason::ExactEvmTransactionFailed));
    assert_eq!(s.transaction, None);
    assert!(s.message.as_str().contains("insufficient funds"));
}

#[test]
fn settle_maps_token_revert_strings_when_the_reads_find_nothing() {
    let b = body("");
    let mut m = Machine::settle_json(b.as_bytes(), NOW, &facilitator(), &Options::default());
    ok(&mut m, "\"0x7a69\"");
    ok(&mut m, "\"0x6080\"");
    err(
        &mut m,
        r#"{"code":-32000,"message":"execution reverted: FiatTokenV2: authorization is expired"}"#,
    );
    ok(&mut m, &format!("\"0x{}\"", word_hex([0; 32])));
    ok(&mut m, &abi_string("USD Coin"));
    ok(&mut m, &abi_string("2"));
    ok(&mut m, &format!("\"0x{}\"", word_hex(abi::u64_word(5000))));
    let Outcome::Settled(s) = done(&m) else {
        unreachable!()
    };
    assert_eq!(s.reason, Some(Reason::ExactEvmValidBefore));
    assert!(!s.success);
    assert_eq!(s.transaction, None);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Whatever a node answers, in whatever shape, the machine never panics
    /// and never loops without asking: each fed answer moves it or is refused.
    #[test]
    fn any_answers_never_panic(
        answers in proptest::collection::vec(
            (0usize..12, proptest::prelude::any::<u64>(), "[ -~]{0,40}"),
            1..24,
        ),
        settle in proptest::prelude::any::<bool>(),
    ) {
        let b = body("");
        let mut m = if settle {
            Machine::settle_json(b.as_bytes(), NOW, &facilitator(), &Options::default())
        } else {
            Machine::verify_json(b.as_bytes(), NOW, &Config::default(), &Options::default())
        };
        for (shape, n, text) in answers {
            let id = match m.step() {
                Step::Call(c) => c.envelope.id,
                Step::Sign(_) | Step::Done(_) => break,
            };
            let quoted = format!("{text:?}");
            let result = match shape {
                0 => format!("\"0x{n:x}\""),
                1 => "\"0x\"".into(),
                2 => "null".into(),
                3 => quoted.clone(),
                4 => format!("{{\"number\":\"0x{n:x}\",\"timestamp\":\"0x1\",\"baseFeePerGas\":\"0x{:x}\"}}", n % 1000),
                5 => format!("\"0x{}\"", word_hex(abi::u64_word(n))),
                6 => format!("{{\"transactionHash\":\"0x{}\",\"status\":\"0x{}\",\"blockNumber\":\"0x1\",\"gasUsed\":\"0x5\",\"logs\":[{quoted}]}}", word_hex(abi::u64_word(n)), n % 3),
                7 => abi_string(&text),
                _ => String::new(),
            };
            let answer = if result.is_empty() {
                format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{},"message":{quoted},"data":"0x08c379a0"}}}}"#, n % 7)
            } else {
                format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#)
            };
            let before = m.step().to_owned_json();
            if m.feed(answer.as_bytes()).is_err() {
                // Refused: nothing changed.
                proptest::prop_assert_eq!(before, m.step().to_owned_json());
            }
        }
    }
}

#[test]
fn unreadable_bodies_and_offline_failures_never_call() {
    let m = Machine::settle_json(b"{", NOW, &facilitator(), &Options::default());
    let o = done(&m);
    assert_eq!(o.reason(), Some(Reason::InvalidPayload));
    assert_eq!(
        o.to_json_string()
            .split(r#","errorMessage""#)
            .next()
            .unwrap(),
        r#"{"success":false,"errorReason":"invalid_payload""#
    );
    // An expired payment.
    let b = body("");
    let m = Machine::verify_json(
        b.as_bytes(),
        NOW + 3600,
        &Config::default(),
        &Options::default(),
    );
    assert_eq!(done(&m).reason(), Some(Reason::ExactEvmValidBefore));
    let s: String = done(&m).to_json_string();
    assert!(s.contains("\"payer\":\"0x"), "{s}");
}

/// The token's `Transfer(payer, PAY_TO, 1000)` log of a successful settlement.
fn transfer_logs() -> String {
    let topic = word_hex(crate::evm::keccak256(b"Transfer(address,address,uint256)"));
    let payer = PrivateKey::from_bytes(&[0x11; 32]).unwrap().address();
    let pad = |a: &crate::evm::Address| format!("{}{}", "0".repeat(24), word_hex_20(&a.0));
    let to: crate::evm::Address = PAY_TO.parse().unwrap();
    format!(
        r#"[{{"address":"{}","topics":["0x{topic}","0x{}","0x{}"],"data":"0x{}","blockNumber":"0x11","logIndex":"0x0"}}]"#,
        TOKEN.to_lowercase(),
        pad(&payer),
        pad(&to),
        word_hex(abi::u64_word(1000)),
    )
}

fn word_hex_20(a: &[u8; 20]) -> String {
    a.iter().map(|b| format!("{b:02x}")).collect()
}

fn mined(hash: &B256, block: u64, block_hash: u8) -> String {
    format!(
        r#"{{"transactionHash":"{hash}","status":"0x1","blockNumber":"0x{block:x}","blockHash":"0x{}","gasUsed":"0x1d4c0","effectiveGasPrice":"0x3b9aca64","contractAddress":null,"logs":{}}}"#,
        format!("{block_hash:02x}").repeat(32),
        transfer_logs()
    )
}

#[test]
fn a_successful_receipt_settles() {
    let b = body("");
    let mut m = Machine::settle_json(b.as_bytes(), NOW, &facilitator(), &Options::default());
    let hash = settle_to_receipt(&mut m);
    ok(&mut m, &mined(&hash, 0x11, 0xaa));
    let o = done(&m);
    assert!(o.is_success(), "{o:?}");
}

#[test]
fn the_host_can_sign_and_signs_the_same_transaction() {
    let b = body("");
    let key = facilitator();
    let mut by_key = Machine::settle_json(b.as_bytes(), NOW, &key, &Options::default());
    let expected = settle_to_receipt(&mut by_key);
    let mut m = Machine::settle_json_as(
        b.as_bytes(),
        NOW,
        Signer::Host(key.address()),
        &Options::default(),
    );
    for answer in [
        "\"0x7a69\"",
        "\"0x6080\"",
        "\"0x186a0\"",
        "\"0x5\"",
        r#"{"number":"0x10","timestamp":"0x6853b0f0","baseFeePerGas":"0x3b9aca00","transactions":[]}"#,
    ] {
        ok(&mut m, answer);
    }
    err(
        &mut m,
        r#"{"code":-32601,"message":"the method eth_maxPriorityFeePerGas does not exist"}"#,
    );
    ok(&mut m, "\"0x3b9aca64\"");
    let Step::Sign(req) = m.step() else {
        panic!("no signature asked: {}", m.step().to_owned_json());
    };
    assert_eq!(req.from, key.address());
    // Another key's signature is refused, the machine unchanged.
    let wrong = PrivateKey::from_bytes(&[0x33; 32])
        .unwrap()
        .sign_digest(&req.hash.0);
    assert!(m.feed_signature(&wrong).is_err());
    assert!(matches!(m.step(), Step::Sign(_)));
    m.feed_signature(&key.sign_digest(&req.hash.0)).unwrap();
    assert_eq!(m.transaction_hash(), Some(expected));
    assert!(request(&m).contains("eth_sendRawTransaction"));
    // drive() cannot sign.
    let mut again = Machine::settle_json_as(
        b.as_bytes(),
        NOW,
        Signer::Host(key.address()),
        &Options::default(),
    );
    let mut answers = [
        "\"0x7a69\"",
        "\"0x6080\"",
        "\"0x186a0\"",
        "\"0x5\"",
        r#"{"number":"0x10","timestamp":"0x6853b0f0","baseFeePerGas":"0x3b9aca00","transactions":[]}"#,
        "\"0x1\"",
    ]
    .into_iter();
    let r = again.drive(|req: &str, _| -> Result<String, ()> {
        let id: u64 = req
            .split("\"id\":")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        Ok(format!(
            r#"{{"jsonrpc":"2.0","id":{id},"result":{}}}"#,
            answers.next().unwrap()
        ))
    });
    assert!(matches!(r, Err(DriveError::Response(_))));
}

#[test]
fn a_sent_transaction_is_kept_and_taken_up_again() {
    let b = body("");
    let key = facilitator();
    let mut m = Machine::settle_json(b.as_bytes(), NOW, &key, &Options::default());
    let hash = settle_to_receipt(&mut m);
    let sent = m.sent_transaction().unwrap();
    assert_eq!(sent.hash, hash);
    assert_eq!(sent.nonce, 5);
    let json = sent.to_json_string();
    assert_eq!(SentTransaction::from_json(json.as_bytes()).unwrap(), sent);
    let req = crate::types::facilitator::VerifyRequest::from_json_bytes(
        b.as_bytes(),
        &crate::json::Limits::DEFAULT,
    )
    .unwrap();
    // Long after the payment's window: no offline check, the same bytes again.
    let mut r = Machine::resume(&req, Signer::Key(&key), &Options::default(), &sent, true);
    let send = request(&r);
    assert!(send.contains("eth_sendRawTransaction"), "{send}");
    err(&mut r, r#"{"code":-32000,"message":"already known"}"#);
    ok(&mut r, "null");
    ok(&mut r, &mined(&hash, 0x11, 0xaa));
    let o = done(&r);
    assert!(o.is_success());
    let Outcome::Settled(s) = o else {
        unreachable!()
    };
    assert_eq!(s.transaction, Some(hash));
    // Without a broadcast: straight to the receipt.
    let r = Machine::resume(&req, Signer::Key(&key), &Options::default(), &sent, false);
    assert!(request(&r).contains("eth_getTransactionReceipt"));
    // Another payment's transaction is refused.
    let other = SentTransaction { nonce: 6, ..sent };
    let r = Machine::resume(&req, Signer::Key(&key), &Options::default(), &other, true);
    assert_eq!(done(&r).reason(), Some(Reason::UnexpectedSettleError));
}

#[test]
fn a_stuck_transaction_is_replaced_at_its_nonce_or_reported_pending() {
    let b = body("");
    let key = facilitator();
    let mut m = Machine::settle_json(b.as_bytes(), NOW, &key, &Options::default());
    let hash = settle_to_receipt(&mut m);
    let sent = m.sent_transaction().unwrap();
    let req = crate::types::facilitator::VerifyRequest::from_json_bytes(
        b.as_bytes(),
        &crate::json::Limits::DEFAULT,
    )
    .unwrap();
    let mut r = Machine::replace(&req, Signer::Key(&key), &Options::default(), &sent, 125);
    assert!(request(&r).contains("eth_getBlockByNumber"));
    ok(
        &mut r,
        r#"{"number":"0x12","timestamp":"0x1","baseFeePerGas":"0x7"}"#,
    );
    ok(&mut r, "\"0x1\"");
    let new = r.sent_transaction().unwrap();
    assert_eq!(new.nonce, sent.nonce);
    assert_ne!(new.hash, sent.hash);
    assert!(new.max_fee_per_gas * 1000 >= sent.max_fee_per_gas * 1125);
    assert!(new.max_priority_fee_per_gas * 1000 >= sent.max_priority_fee_per_gas * 1125);
    // The node refuses the replacement: the original is still in flight.
    err(
        &mut r,
        r#"{"code":-32000,"message":"replacement transaction underpriced"}"#,
    );
    let Outcome::Settled(s) = done(&r) else {
        unreachable!()
    };
    assert_eq!(s.reason, Some(Reason::SettlementPending));
    assert_eq!(s.transaction, Some(hash));
    // A fee cap below what a replacement must pay: pending, naming the original.
    let capped = Options {
        max_fee_per_gas: Some(sent.max_fee_per_gas),
        ..Options::default()
    };
    let mut r = Machine::replace(&req, Signer::Key(&key), &capped, &sent, 125);
    ok(
        &mut r,
        r#"{"number":"0x12","timestamp":"0x1","baseFeePerGas":"0x7"}"#,
    );
    ok(&mut r, "\"0x1\"");
    let Outcome::Settled(s) = done(&r) else {
        unreachable!()
    };
    assert_eq!(s.reason, Some(Reason::SettlementPending));
    assert_eq!(s.transaction, Some(hash));
}

#[test]
fn confirmations_wait_for_depth_and_survive_a_reorganisation() {
    let b = body("");
    let opts = Options {
        confirmations: 3,
        receipt_poll_interval_ms: 100,
        ..Options::default()
    };
    let mut m = Machine::settle_json(b.as_bytes(), NOW, &facilitator(), &opts);
    let hash = settle_to_receipt(&mut m);
    ok(&mut m, &mined(&hash, 0x11, 0xaa));
    assert!(request(&m).contains("eth_blockNumber"));
    ok(&mut m, "\"0x11\"");
    // Not deep enough: asked again, paced.
    match m.step() {
        Step::Call(c) => {
            assert_eq!(c.method(), "eth_blockNumber");
            assert_eq!(c.delay_ms, 100);
        }
        other => panic!("{}", other.to_owned_json()),
    }
    ok(&mut m, "\"0x13\"");
    // Deep enough: the receipt again. Gone: a reorganisation dropped it;
    // the same bytes go out again.
    assert!(request(&m).contains("eth_getTransactionReceipt"));
    ok(&mut m, "null");
    assert!(request(&m).contains("eth_sendRawTransaction"));
    assert_eq!(m.transaction_hash(), Some(hash));
    err(&mut m, r#"{"code":-32000,"message":"already known"}"#);
    // Mined again in another block, then confirmed there.
    ok(&mut m, &mined(&hash, 0x14, 0xbb));
    ok(&mut m, "\"0x16\"");
    ok(&mut m, &mined(&hash, 0x14, 0xbb));
    let o = done(&m);
    assert!(o.is_success(), "{o:?}");
    let Outcome::Settled(s) = o else {
        unreachable!()
    };
    assert_eq!(s.block_number, Some(0x14));
}

#[test]
fn a_chain_gone_back_below_the_receipt_is_looked_at_again_at_once() {
    let b = body("");
    let opts = Options {
        confirmations: 3,
        ..Options::default()
    };
    let mut m = Machine::settle_json(b.as_bytes(), NOW, &facilitator(), &opts);
    let hash = settle_to_receipt(&mut m);
    ok(&mut m, &mined(&hash, 0x11, 0xaa));
    // The head is below the receipt's block: the block is gone; the receipt
    // is asked for now, not after the chain grows three blocks again.
    ok(&mut m, "\"0x10\"");
    assert!(request(&m).contains("eth_getTransactionReceipt"));
    ok(&mut m, "null");
    assert!(request(&m).contains("eth_sendRawTransaction"));
    assert_eq!(m.transaction_hash(), Some(hash));
}

/// `b` with its payload's signature replaced by `sig` (hex without `0x`).
fn with_signature(b: &str, sig: &str) -> String {
    let start = b.find(r#""signature":"0x"#).unwrap() + r#""signature":"0x"#.len();
    let end = start + b[start..].find('"').unwrap();
    format!("{}{sig}{}", &b[..start], &b[end..])
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `abi.encode(factory, calldata, sig) ‖ magic`.
fn erc6492(factory: [u8; 20], calldata: &[u8], sig: &[u8]) -> Vec<u8> {
    let w = |out: &mut Vec<u8>, data: &[u8]| {
        out.extend_from_slice(&abi::u64_word(data.len() as u64));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(32) * 32, 0);
    };
    let mut out = Vec::new();
    let mut f = [0u8; 32];
    f[12..].copy_from_slice(&factory);
    out.extend_from_slice(&f);
    out.extend_from_slice(&abi::u64_word(0x60));
    out.extend_from_slice(&abi::u64_word(
        (0x60 + 32 + calldata.len().div_ceil(32) * 32) as u64,
    ));
    w(&mut out, calldata);
    w(&mut out, sig);
    out.extend_from_slice(&crate::evm::smart_wallet::ERC6492_MAGIC_SUFFIX);
    out
}

const FACTORY: [u8; 20] = [0xfa; 20];

fn wallet_machine(sig: &[u8], options: &Options) -> Machine {
    let b = with_signature(&body(""), &hex(sig));
    Machine::verify_json(b.as_bytes(), NOW, &Config::default(), options)
}

fn magic_word() -> String {
    format!("\"0x1626ba7e{}\"", "00".repeat(28))
}

#[test]
fn smart_wallet_signature_is_checked_by_erc1271() {
    let owner = PrivateKey::from_bytes(&[0x33; 32]).unwrap();
    let sig = owner.sign_digest(&[1; 32]).to_bytes();
    // Offline, without a host that checks wallets, it is a bad signature.
    let b = with_signature(&body(""), &hex(&sig));
    let v = crate::verify::verify_json(b.as_bytes(), NOW, &Config::default());
    assert_eq!(v.reason, Some(Reason::ExactEvmSignature));
    for (answer, valid) in [
        (magic_word(), true),
        (format!("\"0x{}\"", "00".repeat(32)), false),
    ] {
        let mut m = wallet_machine(&sig, &Options::default());
        ok(&mut m, "\"0x7a69\"");
        let payer = PrivateKey::from_bytes(&[0x11; 32]).unwrap().address();
        let code = request(&m);
        assert!(code.contains("eth_getCode"), "{code}");
        assert!(code.contains(&format!("{payer}").to_lowercase()), "{code}");
        ok(&mut m, "\"0x6080\"");
        let call = request(&m);
        assert!(call.contains("\"data\":\"0x1626ba7e"), "{call}");
        ok(&mut m, &answer);
        if !valid {
            assert_eq!(done(&m).reason(), Some(Reason::ExactEvmSignature));
            continue;
        }
        ok(&mut m, "\"0x6080\"");
        // The settlement call is the bytes overload.
        let sim = request(&m);
        assert!(sim.contains("\"data\":\"0xcf092995"), "{sim}");
        ok(&mut m, "\"0x\"");
        assert_eq!(done(&m).reason(), None);
    }
    // A revert is a refusal too.
    let mut m = wallet_machine(&sig, &Options::default());
    ok(&mut m, "\"0x7a69\"");
    ok(&mut m, "\"0x6080\"");
    err(
        &mut m,
        r#"{"code":3,"message":"execution reverted","data":"0x"}"#,
    );
    assert_eq!(done(&m).reason(), Some(Reason::ExactEvmSignature));
    // No code and no deployment: nothing can accept it.
    let mut m = wallet_machine(&sig, &Options::default());
    ok(&mut m, "\"0x7a69\"");
    ok(&mut m, "\"0x\"");
    assert_eq!(done(&m).reason(), Some(Reason::ExactEvmSignature));
}

#[test]
fn counterfactual_wallet_needs_an_allowed_factory() {
    let owner = PrivateKey::from_bytes(&[0x33; 32]).unwrap();
    let inner = owner.sign_digest(&[1; 32]).to_bytes();
    let wrapped = erc6492(FACTORY, &[0xde, 0xad], &inner);
    let mut m = wallet_machine(&wrapped, &Options::default());
    ok(&mut m, "\"0x7a69\"");
    ok(&mut m, "\"0x\"");
    assert_eq!(done(&m).reason(), Some(Reason::Eip6492FactoryNotAllowed));
    let mut allowed = Options::default();
    allowed
        .eip6492_allowed_factories
        .push(crate::evm::Address(FACTORY))
        .unwrap();
    let mut m = wallet_machine(&wrapped, &allowed);
    ok(&mut m, "\"0x7a69\"");
    ok(&mut m, "\"0x\"");
    // Deployed and paid through Multicall3, which must be there.
    let multicall = "0xca11bde05977b3631167028862be2a173976ca11";
    assert!(request(&m).contains(multicall), "{}", request(&m));
    ok(&mut m, "\"0x6080\"");
    ok(&mut m, "\"0x6080\"");
    // The simulation is the deployment, then the transfer, in one call.
    let sim = request(&m);
    assert!(
        sim.contains(&format!("\"to\":\"{multicall}\",\"data\":\"0x82ad56cb")),
        "{sim}"
    );
    assert!(sim.contains(&hex(&FACTORY)), "{sim}");
    assert!(sim.contains("dead"), "{sim}");
    assert!(sim.contains("cf092995"), "{sim}");
    assert!(sim.contains(&hex(&inner)), "{sim}");
    ok(&mut m, "\"0x\"");
    assert_eq!(done(&m).reason(), None);
    // Without Multicall3 nothing is claimed.
    let mut m = wallet_machine(&wrapped, &allowed);
    ok(&mut m, "\"0x7a69\"");
    ok(&mut m, "\"0x\"");
    ok(&mut m, "\"0x\"");
    assert_eq!(done(&m).reason(), Some(Reason::UnexpectedVerifyError));
    // Once deployed, the factory does not matter: the wallet checks the inner signature.
    let mut m = wallet_machine(&wrapped, &Options::default());
    ok(&mut m, "\"0x7a69\"");
    ok(&mut m, "\"0x6080\"");
    let call = request(&m);
    assert!(call.contains(&hex(&inner)), "{call}");
    assert!(!call.contains("dead"), "{call}");
    // A wrapper that cannot be read is a bad signature, before any call.
    let mut broken = wrapped.clone();
    broken[0] = 1;
    let m = wallet_machine(&broken, &allowed);
    assert_eq!(done(&m).reason(), Some(Reason::ExactEvmSignature));
    // Settling a counterfactual wallet sends one transaction to Multicall3,
    // which a machine taking it up again recognises as this payment's.
    let b = with_signature(&body(""), &hex(&wrapped));
    let key = facilitator();
    let mut m = Machine::settle_json(b.as_bytes(), NOW, &key, &allowed);
    ok(&mut m, "\"0x7a69\"");
    ok(&mut m, "\"0x\"");
    ok(&mut m, "\"0x6080\"");
    ok(&mut m, "\"0x6080\"");
    assert!(request(&m).contains("eth_estimateGas"));
    ok(&mut m, "\"0x30000\"");
    ok(&mut m, "\"0x5\"");
    ok(
        &mut m,
        r#"{"number":"0x10","hash":"0x0000000000000000000000000000000000000000000000000000000000000001","timestamp":"0x1","baseFeePerGas":"0x3b9aca00"}"#,
    );
    ok(&mut m, "\"0x3b9aca00\"");
    let sent = m.sent_transaction().expect("signed");
    assert!(request(&m).contains("eth_sendRawTransaction"));
    let req = crate::types::facilitator::VerifyRequest::from_json_bytes(
        b.as_bytes(),
        &crate::json::Limits {
            max_len: 64 * 1024,
            ..crate::json::Limits::DEFAULT
        },
    )
    .unwrap();
    let resumed = Machine::resume(&req, Signer::Key(&key), &allowed, &sent, false);
    assert!(
        request(&resumed).contains("eth_getTransactionReceipt"),
        "{}",
        request(&resumed)
    );
}

#[test]
fn options_read_allowed_factories() {
    let o = Options::from_json(
        br#"{"eip6492AllowedFactories":["0xfafafafafafafafafafafafafafafafafafafafa"]}"#,
    )
    .unwrap();
    assert!(
        o.eip6492_allowed_factories
            .contains(&crate::evm::Address(FACTORY))
    );
    let nine: Vec<String> = (1..=9u8)
        .map(|i| format!("\"0x{}\"", format!("{i:02x}").repeat(20)))
        .collect();
    let json = format!(r#"{{"eip6492AllowedFactories":[{}]}}"#, nine.join(","));
    assert!(Options::from_json(json.as_bytes()).is_err());
}

#[cfg(feature = "gas-sponsoring")]
#[test]
fn a_permit2_payment_with_an_eip2612_permit_is_simulated_and_settled_through_settle_with_permit() {
    use crate::evm::eip712::Domain;
    use crate::gas_sponsoring::Eip2612Permit;
    use crate::json::JsonStr;
    let plain = body(r#","assetTransferMethod":"permit2""#);
    let key = PrivateKey::from_bytes(&[0x11; 32]).unwrap();
    let token = crate::evm::Address::parse(TOKEN).unwrap();
    let domain = Domain::eip3009(JsonStr::new("USD Coin"), JsonStr::new("2"), 31337, token);
    let permit = Eip2612Permit::sign(
        &key,
        &domain,
        token,
        crate::Amount::MAX,
        0u64.into(),
        (NOW + 600).into(),
    );
    let with = plain.replacen(
        r#""paymentPayload":{"#,
        &format!(
            r#""paymentPayload":{{"extensions":{{"eip2612GasSponsoring":{{"info":{}}}}},"#,
            permit.to_json_string()
        ),
        1,
    );
    for (b, selector) in [(&plain, "0x13cd3b53"), (&with, "0xfa340378")] {
        let mut m =
            Machine::verify_json(b.as_bytes(), NOW, &Config::default(), &Options::default());
        ok(&mut m, "\"0x7a69\"");
        ok(&mut m, "\"0x6080\"");
        let sim = request(&m);
        assert!(sim.contains(&format!(r#""data":"{selector}"#)), "{sim}");
    }
}

#[test]
fn send_errors_that_prove_nothing_left() {
    use super::refused_before_broadcast as refused;
    assert!(refused("Insufficient funds for gas * price + value"));
    assert!(refused("replacement transaction underpriced"));
    assert!(!refused("connection reset"));
    assert!(!refused("already known"));
    assert!(!refused(""));
}
