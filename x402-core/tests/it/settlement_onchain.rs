//! Settlement on a real EVM: payments created by this crate are verified,
//! simulated and settled through calldata, JSON-RPC requests and signed
//! transactions built by this crate, against contracts compiled from
//! `tests/chain/contracts` and running on a local Hardhat network.
//!
//! These tests need the chain: `scripts/test-settlement.sh` starts it on
//! 127.0.0.1, compiles the contracts and runs them with `--ignored`, passing
//! `PAYWIRE_TEST_RPC` (the node's URL) and `PAYWIRE_TEST_CONTRACTS` (the compiled
//! bytecode). The chain and the transport are `chain_harness`'s.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use paywire::Amount;
use paywire::client::{Policy, create_payment};
use paywire::evm::{Address, B256, PrivateKey, abi, keccak256};
use paywire::header;
use paywire::json::ToJson;
use paywire::settle::{Machine, Options, Outcome, Settlement};
use paywire::types::FromJson;
use paywire::types::facilitator::{PaymentPayload, SettleResponse};
use paywire::verify::Config;
use serde_json::{Value, json};

use crate::chain_harness::*;

// ---------------------------------------------------------------- payments

struct Paid {
    /// The `POST /verify` (and `/settle`) body.
    body: String,
    payer: Address,
    nonce: [u8; 32],
}

/// A PaymentRequired for `amount` of the test token; `edit` adjusts its only accept.
fn payment_required(
    chain: &Chain,
    pay_to: &Address,
    amount: u128,
    edit: impl FnOnce(&mut Value),
) -> Value {
    let mut accept = json!({
        "scheme": "exact",
        "network": chain.network,
        "amount": amount.to_string(),
        "asset": chain.token.to_string(),
        "payTo": pay_to.to_string(),
        "maxTimeoutSeconds": 300,
        "extra": {"name": "USD Coin", "version": "2"}
    });
    edit(&mut accept);
    json!({
        "x402Version": 2,
        "resource": {"url": "http://127.0.0.1/paid"},
        "accepts": [accept]
    })
}

/// The payer pays `pr` with this crate's client; returns the facilitator body.
fn pay(chain: &Chain, payer: &PrivateKey, pr: &Value, nonce_label: &str) -> Paid {
    let nonce = keccak256(nonce_label.as_bytes());
    let policy = Policy {
        allow_upto: true,
        ..Policy::default()
    };
    let mut out = [0u8; 4096];
    let created = create_payment(
        pr.to_string().as_bytes(),
        payer,
        nonce,
        chain.now(),
        &policy,
        &mut out,
    )
    .unwrap();
    let value = std::str::from_utf8(&out[..created.len]).unwrap();
    let mut scratch = [0u8; 4096];
    let payload: PaymentPayload<'_> =
        header::decode_payment_signature(value, &mut scratch).unwrap();
    let payload_json: Value = serde_json::from_str(&payload.to_json_string()).unwrap();
    let body = json!({
        "x402Version": 2,
        "paymentPayload": payload_json,
        "paymentRequirements": pr["accepts"][0],
    });
    Paid {
        body: body.to_string(),
        payer: created.payer,
        nonce,
    }
}

/// Runs a machine to its end over HTTP; returns the outcome and the methods called.
fn run(chain: &Chain, mut m: Machine) -> (Outcome, Vec<String>) {
    let mut methods = Vec::new();
    let outcome = *m
        .drive(
            |request: &str, delay_ms: u32| -> Result<Vec<u8>, std::convert::Infallible> {
                std::thread::sleep(Duration::from_millis(u64::from(delay_ms.min(200))));
                let v: Value = serde_json::from_str(request).unwrap();
                methods.push(v["method"].as_str().unwrap().to_owned());
                Ok(http_post(&chain.url, request))
            },
        )
        .unwrap();
    (outcome, methods)
}

fn verify(chain: &Chain, body: &str, facilitators: &[Address]) -> (Outcome, Vec<String>) {
    let config = Config {
        facilitator_addresses: facilitators,
        smart_wallets: false,
        erc20_approval_sponsoring: false,
    };
    run(
        chain,
        Machine::verify_json(body.as_bytes(), chain.now(), &config, &Options::default()),
    )
}

fn settle(chain: &Chain, body: &str, facilitator: &PrivateKey) -> (Settlement, Vec<String>) {
    let (o, calls) = run(
        chain,
        Machine::settle_json(
            body.as_bytes(),
            chain.now(),
            facilitator,
            &Options::default(),
        ),
    );
    match o {
        Outcome::Settled(s) => (s, calls),
        Outcome::Verified(_) => panic!("a settle machine answered a verdict"),
    }
}

fn reason(o: &Outcome) -> Option<&'static str> {
    o.reason().map(|r| r.as_str())
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

const VERIFY_CALLS: &[&str] = &["eth_chainId", "eth_getCode", "eth_call"];
const SETTLE_CALLS: &[&str] = &[
    "eth_chainId",
    "eth_getCode",
    "eth_estimateGas",
    "eth_getTransactionCount",
    "eth_getBlockByNumber",
    "eth_maxPriorityFeePerGas",
    "eth_sendRawTransaction",
    "eth_getTransactionReceipt",
];

/// Checks a successful settlement: its SettleResponse, the node's view of the
/// transaction, and that the facilitator paid exactly the gas.
fn check_settled(
    chain: &Chain,
    s: &Settlement,
    payer: &Address,
    facilitator: &PrivateKey,
    eth_before: Amount,
) {
    assert!(s.success, "settlement failed: {:?} {}", s.reason, s.message);
    let tx = s.transaction.expect("transaction hash");
    let json = s.to_json_string();
    let resp = SettleResponse::from_json_bytes(json.as_bytes(), &Default::default()).unwrap();
    assert!(resp.success);
    assert_eq!(resp.transaction.as_str(), Some(tx.to_string().as_str()));
    assert_eq!(resp.network.as_str(), chain.network);
    assert_eq!(
        resp.payer.unwrap().as_str(),
        Some(payer.to_string().as_str())
    );
    // The node's record of the transaction: type 2, from the facilitator, nonce and hash ours.
    let t = raw_rpc(
        &chain.url,
        "eth_getTransactionByHash",
        json!([tx.to_string()]),
    );
    assert_eq!(t["type"], "0x2");
    assert_eq!(
        t["from"].as_str().unwrap().to_lowercase(),
        hex(&facilitator.address().0)
    );
    let paid = Amount::from(u128::from(s.gas_used.unwrap()) * s.effective_gas_price.unwrap());
    assert_eq!(
        chain.eth_balance(&facilitator.address()),
        eth_before.checked_sub(&paid).unwrap(),
        "the facilitator paid exactly gasUsed × effectiveGasPrice"
    );
}

/// The high-s twin of a 65-byte signature: s' = n − s, v flipped.
fn high_s_twin(sig: &[u8; 65]) -> [u8; 65] {
    const N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36,
        0x41, 0x41,
    ];
    let mut out = *sig;
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(N[i]) - i16::from(sig[32 + i]) - borrow;
        out[32 + i] = (d.rem_euclid(256)) as u8;
        borrow = i16::from(d < 0);
    }
    out[64] = if sig[64] == 27 { 28 } else { 27 };
    out
}

fn body_signature(body: &str) -> [u8; 65] {
    let v: Value = serde_json::from_str(body).unwrap();
    unhex(
        v["paymentPayload"]["payload"]["signature"]
            .as_str()
            .unwrap(),
    )
    .try_into()
    .unwrap()
}

fn with_signature(body: &str, sig: &[u8]) -> String {
    let mut v: Value = serde_json::from_str(body).unwrap();
    v["paymentPayload"]["payload"]["signature"] = json!(hex(sig));
    v.to_string()
}

fn authorization(body: &str) -> paywire::types::payload::Eip3009Authorization {
    let v: Value = serde_json::from_str(body).unwrap();
    let a = &v["paymentPayload"]["payload"]["authorization"];
    let amt = |k: &str| a[k].as_str().unwrap().parse::<Amount>().unwrap();
    paywire::types::payload::Eip3009Authorization {
        from: a["from"].as_str().unwrap().parse().unwrap(),
        to: a["to"].as_str().unwrap().parse().unwrap(),
        value: amt("value"),
        valid_after: amt("validAfter"),
        valid_before: amt("validBefore"),
        nonce: a["nonce"].as_str().unwrap().parse().unwrap(),
    }
}

fn revert_text(data: &[u8]) -> String {
    abi::decode_revert(data).to_string()
}

// ---------------------------------------------------------------- scenarios

#[test]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
fn eip3009_payment_is_verified_simulated_and_settled_with_exact_balance_moves() {
    let _g = serial();
    let chain = Chain::get();
    let payer = key("eip3009/payer");
    let pay_to = key("eip3009/merchant").address();
    let facilitator = key("eip3009/facilitator");
    fund(&chain.url, &facilitator.address());
    chain.mint(&payer.address(), 5_000_000);
    let pr = payment_required(chain, &pay_to, 1_250_000, |_| {});
    let paid = pay(chain, &payer, &pr, "eip3009/nonce");

    let (verdict, calls) = verify(chain, &paid.body, &[]);
    assert!(verdict.is_success(), "{verdict:?}");
    assert_eq!(calls, strs(VERIFY_CALLS));
    assert_eq!(
        verdict.to_json_string(),
        format!(r#"{{"isValid":true,"payer":"{}"}}"#, paid.payer)
    );

    let (payer_before, merchant_before) = (chain.balance(&paid.payer), chain.balance(&pay_to));
    let eth_before = chain.eth_balance(&facilitator.address());
    let (s, calls) = settle(chain, &paid.body, &facilitator);
    assert_eq!(calls, strs(SETTLE_CALLS));
    check_settled(chain, &s, &paid.payer, &facilitator, eth_before);
    assert_eq!(
        chain.balance(&paid.payer),
        payer_before.checked_sub(&1_250_000u64.into()).unwrap()
    );
    assert_eq!(
        chain.balance(&pay_to),
        merchant_before.checked_add(&1_250_000u64.into()).unwrap()
    );
    let used = chain
        .token_call(&abi::authorization_state(&paid.payer, &B256(paid.nonce)))
        .unwrap();
    assert_eq!(abi::decode_bool(&used), Ok(true));
}

#[test]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
fn replay_is_rejected_by_the_token_and_diagnosed_as_nonce_already_used() {
    let _g = serial();
    let chain = Chain::get();
    let payer = key("replay/payer");
    let pay_to = key("replay/merchant").address();
    let facilitator = key("replay/facilitator");
    fund(&chain.url, &facilitator.address());
    chain.mint(&payer.address(), 3_000_000);
    let pr = payment_required(chain, &pay_to, 1_000_000, |_| {});
    let paid = pay(chain, &payer, &pr, "replay/nonce");
    let eth_before = chain.eth_balance(&facilitator.address());
    let (first, _) = settle(chain, &paid.body, &facilitator);
    check_settled(chain, &first, &paid.payer, &facilitator, eth_before);
    let after_first = chain.balance(&paid.payer);

    // The same payment again: the chain says the nonce is used.
    let (verdict, calls) = verify(chain, &paid.body, &[]);
    assert_eq!(
        reason(&verdict),
        Some("invalid_exact_evm_nonce_already_used")
    );
    assert_eq!(
        calls,
        strs(&["eth_chainId", "eth_getCode", "eth_call", "eth_call"])
    );
    let nonce_before = account_nonce(&chain.url, &facilitator.address());
    let (again, _) = settle(chain, &paid.body, &facilitator);
    assert!(!again.success);
    assert_eq!(
        again.reason.map(|r| r.as_str()),
        Some("invalid_exact_evm_nonce_already_used")
    );
    assert_eq!(again.transaction, None, "no transaction was sent");
    assert_eq!(
        account_nonce(&chain.url, &facilitator.address()),
        nonce_before
    );

    // Sent anyway, without simulation: the token rejects it on chain.
    let calldata = abi::transfer_with_authorization_sig(
        &authorization(&paid.body),
        &body_signature(&paid.body),
    );
    assert_eq!(
        revert_text(&chain.token_call(&calldata).unwrap_err()),
        "execution reverted: EIP3009: authorization is used or canceled"
    );
    let forced = send_tx(
        &chain.url,
        chain.chain_id,
        &facilitator,
        Some(chain.token),
        &calldata,
        Some(150_000),
    );
    assert!(
        !forced.status,
        "the replay reverted on chain ({})",
        forced.hash
    );
    assert_eq!(chain.balance(&paid.payer), after_first, "paid once only");
}

#[test]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
fn high_s_signature_is_refused_offline_and_rejected_on_chain_as_predicted() {
    let _g = serial();
    let chain = Chain::get();
    let payer = key("high-s/payer");
    let pay_to = key("high-s/merchant").address();
    let facilitator = key("high-s/facilitator");
    fund(&chain.url, &facilitator.address());
    chain.mint(&payer.address(), 2_000_000);
    let pr = payment_required(chain, &pay_to, 700_000, |_| {});
    let paid = pay(chain, &payer, &pr, "high-s/nonce");
    let low = body_signature(&paid.body);
    let high = high_s_twin(&low);
    let twin_body = with_signature(&paid.body, &high);

    // The verifier refuses the twin before any RPC call, naming EIP-2.
    let (verdict, calls) = verify(chain, &twin_body, &[]);
    assert_eq!(reason(&verdict), Some("invalid_exact_evm_signature"));
    assert!(calls.is_empty(), "refused offline: {calls:?}");
    let Outcome::Verified(v) = verdict else {
        unreachable!()
    };
    assert!(v.message.as_str().contains("EIP-2"), "{}", v.message);

    // The token agrees: the same authorization with the twin reverts on chain.
    let auth = authorization(&paid.body);
    let twin_call = abi::transfer_with_authorization_sig(&auth, &high);
    assert_eq!(
        revert_text(&chain.token_call(&twin_call).unwrap_err()),
        "execution reverted: ECRecover: invalid signature 's' value"
    );
    let forced = send_tx(
        &chain.url,
        chain.chain_id,
        &facilitator,
        Some(chain.token),
        &twin_call,
        Some(150_000),
    );
    assert!(!forced.status, "the high-s transaction reverted on chain");

    // The low-s original settles.
    let eth_before = chain.eth_balance(&facilitator.address());
    let before = chain.balance(&paid.payer);
    let (s, _) = settle(chain, &paid.body, &facilitator);
    check_settled(chain, &s, &paid.payer, &facilitator, eth_before);
    assert_eq!(
        chain.balance(&paid.payer),
        before.checked_sub(&700_000u64.into()).unwrap()
    );
}

#[test]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
fn underfunded_payer_is_diagnosed_as_insufficient_balance() {
    let _g = serial();
    let chain = Chain::get();
    let payer = key("poor/payer");
    let pay_to = key("poor/merchant").address();
    let facilitator = key("poor/facilitator");
    fund(&chain.url, &facilitator.address());
    chain.mint(&payer.address(), 999);
    let pr = payment_required(chain, &pay_to, 1_000, |_| {});
    let paid = pay(chain, &payer, &pr, "poor/nonce");
    let (verdict, calls) = verify(chain, &paid.body, &[]);
    assert_eq!(
        reason(&verdict),
        Some("invalid_exact_evm_insufficient_balance")
    );
    // authorizationState, name, version, balanceOf: the reference's order.
    assert_eq!(calls.len(), 7, "{calls:?}");
    let nonce_before = account_nonce(&chain.url, &facilitator.address());
    let (s, _) = settle(chain, &paid.body, &facilitator);
    assert_eq!(
        s.reason.map(|r| r.as_str()),
        Some("invalid_exact_evm_insufficient_balance")
    );
    assert_eq!(s.transaction, None);
    assert_eq!(
        account_nonce(&chain.url, &facilitator.address()),
        nonce_before
    );
    assert_eq!(chain.balance(&paid.payer), Amount::from(999u64));
    let j: Value = serde_json::from_str(&s.to_json_string()).unwrap();
    assert_eq!(j["success"], false);
    assert_eq!(j["transaction"], "");
    assert_eq!(j["errorReason"], "invalid_exact_evm_insufficient_balance");
}

#[test]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
fn token_domain_mismatches_and_missing_contracts_are_diagnosed() {
    let _g = serial();
    let chain = Chain::get();
    let payer = key("domain/payer");
    let pay_to = key("domain/merchant").address();
    chain.mint(&payer.address(), 1_000_000);
    // The client signs with the domain the server announced; the token's differs.
    let wrong_name = payment_required(chain, &pay_to, 10, |a| a["extra"]["name"] = json!("USDC"));
    let paid = pay(chain, &payer, &wrong_name, "domain/name");
    let (v, _) = verify(chain, &paid.body, &[]);
    assert_eq!(reason(&v), Some("invalid_exact_evm_token_name_mismatch"));
    let wrong_version =
        payment_required(chain, &pay_to, 10, |a| a["extra"]["version"] = json!("1"));
    let paid = pay(chain, &payer, &wrong_version, "domain/version");
    let (v, _) = verify(chain, &paid.body, &[]);
    assert_eq!(reason(&v), Some("invalid_exact_evm_token_version_mismatch"));
    // An asset without code.
    let nowhere = payment_required(chain, &pay_to, 10, |a| {
        a["asset"] = json!("0x000000000000000000000000000000000000dEaD")
    });
    let paid = pay(chain, &payer, &nowhere, "domain/nowhere");
    let (v, calls) = verify(chain, &paid.body, &[]);
    assert_eq!(reason(&v), Some("asset_not_deployed_contract"));
    assert_eq!(calls, strs(&["eth_chainId", "eth_getCode"]));
    // A payment for another chain than the node's.
    let elsewhere = payment_required(chain, &pay_to, 10, |a| a["network"] = json!("eip155:8453"));
    let paid = pay(chain, &payer, &elsewhere, "domain/elsewhere");
    let (v, calls) = verify(chain, &paid.body, &[]);
    assert_eq!(reason(&v), Some("unexpected_verify_error"));
    assert_eq!(calls, strs(&["eth_chainId"]));
}

#[test]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
fn v_is_normalised_for_both_transfer_with_authorization_overloads() {
    let _g = serial();
    let chain = Chain::get();
    let payer = key("v01/payer");
    let pay_to = key("v01/merchant").address();
    chain.mint(&payer.address(), 50_000);
    let pr = payment_required(chain, &pay_to, 50_000, |_| {});
    let paid = pay(chain, &payer, &pr, "v01/nonce");
    let auth = authorization(&paid.body);
    let mut sig01 = body_signature(&paid.body);
    sig01[64] -= 27;
    // Written with v = 0/1, as some wallets sign: the encoders send 27/28 and the token accepts.
    assert_eq!(
        chain.token_call(&abi::transfer_with_authorization_sig(&auth, &sig01)),
        Ok(vec![])
    );
    let mut buf = [0u8; 512];
    let n = abi::transfer_with_authorization_bytes(&auth, &sig01, &mut buf).unwrap();
    assert_eq!(chain.token_call(&buf[..n]), Ok(vec![]));
    // Unnormalised, as peers pass it through: the token rejects v = 0/1.
    let mut raw = abi::transfer_with_authorization_sig(&auth, &sig01);
    raw[4 + 6 * 32 + 31] = sig01[64];
    assert_eq!(
        revert_text(&chain.token_call(&raw).unwrap_err()),
        "execution reverted: ECRecover: invalid signature 'v' value"
    );
}

#[test]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
fn a_payment_signed_with_v_0_or_1_settles() {
    let _g = serial();
    let chain = Chain::get();
    let payer = key("v01settle/payer");
    let pay_to = key("v01settle/merchant").address();
    let facilitator = key("v01settle/facilitator");
    fund(&chain.url, &facilitator.address());
    chain.mint(&payer.address(), 70_000);
    let pr = payment_required(chain, &pay_to, 70_000, |_| {});
    let paid = pay(chain, &payer, &pr, "v01settle/nonce");
    let mut sig01 = body_signature(&paid.body);
    sig01[64] -= 27;
    let body = with_signature(&paid.body, &sig01);
    let (payer_before, merchant_before) = (chain.balance(&paid.payer), chain.balance(&pay_to));
    let eth_before = chain.eth_balance(&facilitator.address());
    let (s, _) = settle(chain, &body, &facilitator);
    check_settled(chain, &s, &paid.payer, &facilitator, eth_before);
    assert_eq!(
        chain.balance(&paid.payer),
        payer_before.checked_sub(&70_000u64.into()).unwrap()
    );
    assert_eq!(
        chain.balance(&pay_to),
        merchant_before.checked_add(&70_000u64.into()).unwrap()
    );
}

#[test]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
fn permit2_exact_payment_settles_through_the_x402_proxy() {
    let _g = serial();
    let chain = Chain::get();
    let payer = key("permit2/payer");
    let pay_to = key("permit2/merchant").address();
    let facilitator = key("permit2/facilitator");
    fund(&chain.url, &facilitator.address());
    chain.mint(&payer.address(), 4_000_000);
    let pr = payment_required(chain, &pay_to, 1_500_000, |a| {
        a["extra"]["assetTransferMethod"] = json!("permit2")
    });
    let paid = pay(chain, &payer, &pr, "permit2/nonce");

    // Without an allowance to Permit2 the simulation fails and says why.
    let (v, _) = verify(chain, &paid.body, &[]);
    assert_eq!(reason(&v), Some("permit2_allowance_required"));

    chain.approve_permit2(&payer);
    let (v, calls) = verify(chain, &paid.body, &[]);
    assert!(v.is_success(), "{v:?}");
    assert_eq!(calls, strs(VERIFY_CALLS));
    let before = (chain.balance(&paid.payer), chain.balance(&pay_to));
    let eth_before = chain.eth_balance(&facilitator.address());
    let (s, calls) = settle(chain, &paid.body, &facilitator);
    assert_eq!(calls, strs(SETTLE_CALLS));
    check_settled(chain, &s, &paid.payer, &facilitator, eth_before);
    assert_eq!(
        chain.balance(&paid.payer),
        before.0.checked_sub(&1_500_000u64.into()).unwrap()
    );
    assert_eq!(
        chain.balance(&pay_to),
        before.1.checked_add(&1_500_000u64.into()).unwrap()
    );

    // A replay: Permit2's nonce is spent. Verify reports the reference's
    // simulation failure with Permit2's error; settle maps the error.
    let (v, _) = verify(chain, &paid.body, &[]);
    assert_eq!(reason(&v), Some("permit2_simulation_failed"));
    let Outcome::Verified(cv) = v else {
        unreachable!()
    };
    assert!(
        cv.message.as_str().contains("InvalidNonce()"),
        "{}",
        cv.message
    );
    let (s, _) = settle(chain, &paid.body, &facilitator);
    assert_eq!(s.reason.map(|r| r.as_str()), Some("permit2_invalid_nonce"));
    assert_eq!(s.transaction, None);
}

#[test]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
fn upto_payment_settles_the_metered_amount() {
    let _g = serial();
    let chain = Chain::get();
    let payer = key("upto/payer");
    let pay_to = key("upto/merchant").address();
    let facilitator = key("upto/facilitator");
    let other = key("upto/other-facilitator");
    fund(&chain.url, &facilitator.address());
    chain.mint(&payer.address(), 2_000_000);
    chain.approve_permit2(&payer);
    let fac = facilitator.address();
    let pr = payment_required(chain, &pay_to, 1_000_000, |a| {
        a["scheme"] = json!("upto");
        a["extra"] = json!({"facilitatorAddress": fac.to_string()});
    });
    let paid = pay(chain, &payer, &pr, "upto/nonce");
    let (v, calls) = verify(chain, &paid.body, &[fac]);
    assert!(v.is_success(), "{v:?}");
    assert_eq!(calls, strs(VERIFY_CALLS));

    // The resource server settles what was used: 400000 of the permitted 1000000.
    let mut body: Value = serde_json::from_str(&paid.body).unwrap();
    body["paymentRequirements"]["amount"] = json!("400000");
    let metered = body.to_string();
    // Only the facilitator the payer named may settle.
    let (s, calls) = settle(chain, &metered, &other);
    assert_eq!(
        s.reason.map(|r| r.as_str()),
        Some("upto_facilitator_mismatch")
    );
    assert!(calls.is_empty());
    body["paymentRequirements"]["amount"] = json!("1000001");
    let (s, _) = settle(chain, &body.to_string(), &facilitator);
    assert_eq!(
        s.reason.map(|r| r.as_str()),
        Some("invalid_upto_evm_payload_settlement_exceeds_amount")
    );

    let before = (chain.balance(&paid.payer), chain.balance(&pay_to));
    let eth_before = chain.eth_balance(&fac);
    let (s, calls) = settle(chain, &metered, &facilitator);
    assert_eq!(calls, strs(SETTLE_CALLS));
    check_settled(chain, &s, &paid.payer, &facilitator, eth_before);
    assert_eq!(s.amount, Some(400_000u64.into()));
    let j: Value = serde_json::from_str(&s.to_json_string()).unwrap();
    assert_eq!(j["amount"], "400000");
    assert_eq!(
        chain.balance(&paid.payer),
        before.0.checked_sub(&400_000u64.into()).unwrap()
    );
    assert_eq!(
        chain.balance(&pay_to),
        before.1.checked_add(&400_000u64.into()).unwrap()
    );
}

/// Not a scenario: when `PAYWIRE_TEST_FIXTURE` names a file, funds a payer, an
/// underfunded payer and a facilitator for the Worker example's on-chain test
/// (`x402-wasm/tests/chain`), and writes their keys and the token there.
#[test]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
fn fixture_for_the_worker_example() {
    let Ok(path) = std::env::var("PAYWIRE_TEST_FIXTURE") else {
        return;
    };
    let _g = serial();
    let chain = Chain::get();
    let label_key = |label: &str| {
        hex(&keccak256(
            format!("x402 settlement test/{label}").as_bytes(),
        ))
    };
    let payer = key("worker/payer");
    let poor = key("worker/poor-payer");
    let facilitator = key("worker/facilitator");
    fund(&chain.url, &facilitator.address());
    chain.mint(&payer.address(), 10_000_000);
    chain.mint(&poor.address(), 5);
    let fixture = json!({
        "rpcUrl": chain.url,
        "network": chain.network,
        "token": chain.token.to_string(),
        "tokenName": "USD Coin",
        "tokenVersion": "2",
        "payerKey": label_key("worker/payer"),
        "poorPayerKey": label_key("worker/poor-payer"),
        "facilitatorKey": label_key("worker/facilitator"),
        "payTo": key("worker/merchant").address().to_string(),
    });
    std::fs::write(path, fixture.to_string()).unwrap();
}
