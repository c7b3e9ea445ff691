//! Decodes the example headers of the x402 specification and prints what they say.
//!
//! ```text
//! cargo run -p paywire --example decode_headers
//! ```
//!
//! Exits with a failure status if any header does not decode.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::ExitCode;

use paywire::Error;
use paywire::header::{self, Decoded, HeaderKind};
use paywire::json::ToJson;
use paywire::types::facilitator::{PaymentPayload, PaymentRequired, PaymentRequirements};
use paywire::types::payload::SchemePayload;

/// The spec's examples (`tests/vectors/spec`, see `manifest.json`), by header name.
const HEADERS: &[(&str, &str)] = &[
    (
        "PAYMENT-REQUIRED",
        include_str!("../tests/vectors/spec/v2-http-payment-required-header-01.b64"),
    ),
    (
        "PAYMENT-SIGNATURE",
        include_str!("../tests/vectors/spec/v2-http-payment-signature-header-01.b64"),
    ),
    (
        "PAYMENT-RESPONSE",
        include_str!("../tests/vectors/spec/v2-http-payment-response-header-01.b64"),
    ),
    (
        "X-PAYMENT",
        include_str!("../tests/vectors/spec/v1-http-x-payment-header-01.b64"),
    ),
];

fn main() -> ExitCode {
    let mut ok = true;
    for (name, value) in HEADERS {
        // The fixture files end with a newline; the header value does not.
        if let Err(e) = show(name, value.trim_end()) {
            eprintln!("{name}: {e}");
            ok = false;
        }
        println!();
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn show(name: &str, value: &str) -> Result<(), Error> {
    let kind = HeaderKind::from_name(name).expect("one of the x402 headers");
    let mut buf = vec![0u8; header::base64_decoded_len(value.len())];
    let decoded = header::decode(kind, value, &mut buf)?;
    println!(
        "{name}: {} characters, {} bytes of JSON",
        value.len(),
        decoded.encoded_len()
    );

    match decoded {
        Decoded::PaymentRequired(pr) => {
            println!("  x402Version {}", pr.x402_version());
            match pr {
                PaymentRequired::V2(pr) => {
                    println!("  resource     {}", pr.resource.url);
                    pr.accepts
                        .iter()
                        .for_each(|r| requirement(PaymentRequirements::V2(r)));
                }
                PaymentRequired::V1(pr) => {
                    for r in pr.accepts.iter() {
                        println!("  resource     {}", r.resource);
                        requirement(PaymentRequirements::V1(r));
                    }
                }
            }
        }
        Decoded::PaymentPayload(p) => {
            println!("  x402Version {}", p.x402_version());
            let payload = match p {
                PaymentPayload::V2(p) => {
                    println!("  accepted:");
                    requirement(PaymentRequirements::V2(p.accepted));
                    p.payload_json()?
                }
                PaymentPayload::V1(p) => {
                    println!("  scheme       {} on {}", p.scheme, p.network);
                    p.payload_json()?
                }
            };
            match SchemePayload::from_object(payload)? {
                SchemePayload::Eip3009(exact) => {
                    let a = exact.authorization;
                    println!("  EIP-3009 transferWithAuthorization:");
                    println!("    from        {}", a.from);
                    println!("    to          {}", a.to);
                    println!("    value       {}", a.value);
                    println!("    validAfter  {}", a.valid_after);
                    println!("    validBefore {}", a.valid_before);
                    println!("    nonce       {}", a.nonce);
                }
                SchemePayload::Permit2(p) => println!("  Permit2 from {}", p.authorization.from),
                SchemePayload::Batch(b) => println!("  batch of {} {}", b.amount, b.asset),
            }
        }
        Decoded::SettleResponse(r) => {
            println!(
                "  x402Version {} (from the header name)",
                kind.x402_version()
            );
            println!("  success      {}", r.success);
            if let Some(reason) = r.error_reason {
                println!("  errorReason  {reason}");
            }
            println!("  transaction  {}", r.transaction);
            println!("  network      {}", r.network);
            if let Some(payer) = r.payer {
                println!("  payer        {payer}");
            }
        }
    }

    let again = header::encode_to_string(&decoded);
    println!("  re-encoded   {again}");
    println!("  same bytes as the input: {}", again == value);
    Ok(())
}

fn requirement(r: PaymentRequirements<'_>) {
    let chain = r
        .network()
        .evm_chain_id()
        .map_or("-".into(), |id| id.to_string());
    println!("  - scheme     {}", r.scheme());
    println!("    network    {} (chain id {chain})", r.network());
    println!("    amount     {}", r.amount());
    println!("    asset      {}", r.asset());
    println!("    payTo      {}", r.pay_to());
}
