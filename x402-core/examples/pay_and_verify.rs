//! A client pays a 402 and a server verifies the payment, offline, in one process.
//!
//! `cargo run -p paywire --example pay_and_verify`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{SystemTime, UNIX_EPOCH};

use paywire::client::{Policy, create_payment, random_nonce};
use paywire::evm::PrivateKey;
use paywire::header;
use paywire::json::{Limits, ToJson};
use paywire::types::FromJson;
use paywire::types::facilitator::{PaymentPayload, PaymentRequired};
use paywire::verify::{self, Config};

/// What a server on Base Sepolia answers in `PAYMENT-REQUIRED` (as JSON here).
const PAYMENT_REQUIRED: &str = r#"{
  "x402Version": 2,
  "error": "PAYMENT-SIGNATURE header is required",
  "resource": {"url": "https://api.example.com/weather", "description": "Weather data", "mimeType": "application/json"},
  "accepts": [{
    "scheme": "exact", "network": "eip155:84532", "amount": "10000",
    "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
    "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
    "maxTimeoutSeconds": 60, "extra": {"name": "USDC", "version": "2"}
  }]
}"#;

fn main() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // A throwaway key: never use a fixed key for real money.
    let key = PrivateKey::from_bytes(&random_nonce().unwrap()).unwrap();
    println!("payer          {}", key.address());

    // The server's 402, as a header value.
    let pr =
        PaymentRequired::from_json_bytes(PAYMENT_REQUIRED.as_bytes(), &Limits::DEFAULT).unwrap();
    let pr_header = header::encode_to_string(&pr);
    println!("PAYMENT-REQUIRED  {} bytes", pr_header.len());

    // The client: at most 0.05 USDC per request.
    let policy = Policy {
        max_amount: Some(50_000u64.into()),
        ..Policy::default()
    };
    let mut out = vec![0u8; 4096];
    let created = create_payment(
        pr_header.as_bytes(),
        &key,
        random_nonce().unwrap(),
        now,
        &policy,
        &mut out,
    )
    .unwrap();
    let value = std::str::from_utf8(&out[..created.len]).unwrap();
    println!(
        "{}  {} bytes (accepts[{}])",
        created.header.name(),
        value.len(),
        created.index
    );

    // The server: decode and show the payment, then verify it against its own requirements.
    let mut buf = vec![0u8; value.len()];
    let PaymentPayload::V2(p) = header::decode_payment_signature(value, &mut buf).unwrap() else {
        unreachable!()
    };
    println!(
        "payload        {}",
        String::from_utf8(p.payload_json().unwrap().as_value().to_json_vec()).unwrap()
    );
    let requirements = p.accepted.to_json_vec();
    let verdict = verify::verify_header(value, &requirements, now, &Config::default(), &mut buf);
    println!("VerifyResponse {}", verdict.to_json_string());
    assert!(verdict.is_valid());

    // Ten minutes later the same payment has expired.
    let late = verify::verify_header(
        value,
        &requirements,
        now + 600,
        &Config::default(),
        &mut buf,
    );
    println!("10 min later   {}", late.reason.unwrap());
}
