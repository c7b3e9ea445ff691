//! Shared inputs of the benchmarks: one payment of each kind, taken from the
//! vectors the official SDK produced (`x402-core/tests/vectors`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::Value;

const PAYMENTS: &str = include_str!("../../x402-core/tests/vectors/official-payments.json");

/// A payment created by the official client.
pub struct Payment {
    /// The `PAYMENT-SIGNATURE` header value.
    pub header: String,
    /// The requirements it answers, as JSON.
    pub requirements: Vec<u8>,
    /// The PaymentRequired it answers, as JSON.
    pub payment_required: Vec<u8>,
    /// The `POST /verify` body.
    pub verify_body: Vec<u8>,
    /// The time the payment is valid at.
    pub now: u64,
}

/// The official client's payment named `name` in `official-payments.json`.
pub fn payment(name: &str) -> Payment {
    let all: Value = serde_json::from_str(PAYMENTS).unwrap();
    let v = all["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap();
    let body = serde_json::json!({
        "x402Version": v["x402Version"],
        "paymentPayload": v["paymentPayload"],
        "paymentRequirements": v["paymentRequirements"],
    });
    Payment {
        header: v["header"].as_str().unwrap().to_string(),
        requirements: serde_json::to_vec(&v["paymentRequirements"]).unwrap(),
        payment_required: serde_json::to_vec(&v["paymentRequired"]).unwrap(),
        verify_body: serde_json::to_vec(&body).unwrap(),
        now: v["now"].as_u64().unwrap(),
    }
}

/// The Rust examples of the repository's README, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;
