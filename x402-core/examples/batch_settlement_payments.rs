//! Writes the `batch-settlement` (EVM) payments the binding paywalls are tested
//! with: a deposit opening a channel and vouchers on it, made by the core's
//! client for one fixed requirement at one fixed time (fixed keys and salts:
//! the output is the same on every run).
//!
//! `cargo run -p paywire --features evm-batch --example batch_settlement_payments \
//!   > x402-core/tests/vectors/batch-settlement-paywall.json`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use paywire::Amount;
use paywire::evm::batch_settlement::client::{self, Created, DepositMethod};
use paywire::evm::batch_settlement::verify::Requirements;
use paywire::evm::{B256, PrivateKey};
use paywire::header;
use paywire::json::{Limits, ToJson};
use paywire::types::FromJson;
use paywire::types::v2::PaymentRequirements;

const NOW: u64 = 1_750_000_000;
const CHAIN: u64 = 84532;
const REQUIREMENT: &str = r#"{"scheme":"batch-settlement","network":"eip155:84532","amount":"1000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":300,"extra":{"receiverAuthorizer":"0x1111111111111111111111111111111111111111","withdrawDelay":900,"name":"USDC","version":"2"}}"#;

fn key(b: u8) -> PrivateKey {
    PrivateKey::from_bytes(&[b; 32]).unwrap()
}

/// One payment: its name, what it is, its payload and `PAYMENT-SIGNATURE`.
fn entry(name: &str, what: &str, c: &Created) -> String {
    let doc = format!(
        r#"{{"x402Version":2,"accepted":{REQUIREMENT},"payload":{}}}"#,
        c.to_json_string()
    );
    let mut b64 = vec![0u8; header::base64_encoded_len(doc.len())];
    let n = header::base64_encode(doc.as_bytes(), &mut b64).unwrap();
    b64.truncate(n);
    format!(
        r#"    {{"name": "{name}", "description": "{what}", "paymentPayload": {doc}, "header": "{}"}}"#,
        String::from_utf8(b64).unwrap()
    )
}

fn main() {
    let r = PaymentRequirements::from_json_bytes(REQUIREMENT.as_bytes(), &Limits::DEFAULT).unwrap();
    let rq = Requirements::from_requirements(&r).unwrap();
    let (payer, authorizer) = (key(1), key(2));
    let config = client::channel_config(
        payer.address(),
        Some(authorizer.address()),
        &rq,
        B256([7; 32]),
    )
    .unwrap();
    let deposit = client::create_deposit(
        &payer,
        &authorizer,
        &config,
        &rq,
        Amount::from(10_000u64),
        Amount::from(1000u64),
        DepositMethod::Erc3009 {
            salt: B256([5; 32]),
        },
        NOW,
    )
    .unwrap();
    let voucher = |total: u64| {
        client::create_voucher(&authorizer, &config, CHAIN, Amount::from(total)).unwrap()
    };
    let entries = [
        entry(
            "deposit",
            "opens the channel with 10000 and signs a voucher for 1000 (the first price)",
            &deposit,
        ),
        entry(
            "voucher2000",
            "the next request after the deposit: cumulative 2000",
            &voucher(2000),
        ),
        entry(
            "voucher3000",
            "the request after that: cumulative 3000",
            &voucher(3000),
        ),
        entry(
            "voucher5000",
            "after the deposit, a cumulative total off the charged one plus the price",
            &voucher(5000),
        ),
    ];
    println!("{{");
    println!(
        r#"  "generator": "cargo run -p paywire --features evm-batch --example batch_settlement_payments","#
    );
    println!(r#"  "now": {NOW},"#);
    println!(r#"  "paymentRequirements": {REQUIREMENT},"#);
    println!(r#"  "payer": "{}","#, payer.address());
    println!(r#"  "channelId": "{}","#, deposit.channel_id());
    println!(r#"  "vectors": ["#);
    println!("{}", entries.join(",\n"));
    println!("  ]");
    println!("}}");
}
