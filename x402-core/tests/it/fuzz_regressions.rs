//! Regression tests for what the fuzz targets (`fuzz/`) found, one test per finding.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use paywire::client::{Policy, create_payment};
use paywire::evm::PrivateKey;
use paywire::evm::eip712;
use paywire::header;
use paywire::types::FromJson;
use paywire::types::payload::Permit2Payload;
use paywire::verify::{Config, verify_json};
use serde_json::{Value, json};

const NOW: u64 = 1_750_000_000;

/// A valid `exact` Permit2 `POST /verify` body made by the client.
fn exact_permit2_body(key: &PrivateKey) -> Value {
    let requirements = json!({
        "scheme": "exact", "network": "eip155:8453", "amount": "10000",
        "asset": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
        "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "maxTimeoutSeconds": 60,
        "extra": {"assetTransferMethod": "permit2", "name": "USD Coin", "version": "2"},
    });
    let pr = json!({"x402Version": 2, "resource": {"url": "https://api.example.com/r"}, "accepts": [requirements]});
    let mut out = [0u8; 4096];
    let created = create_payment(
        &serde_json::to_vec(&pr).unwrap(),
        key,
        [7; 32],
        NOW,
        &Policy::default(),
        &mut out,
    )
    .unwrap();
    let value = std::str::from_utf8(&out[..created.len]).unwrap();
    let payload: Value =
        serde_json::from_slice(&header::decode_to_vec(value, 1 << 14).unwrap()).unwrap();
    json!({"x402Version": 2, "paymentPayload": payload, "paymentRequirements": requirements})
}

fn verdict(body: &Value) -> Option<&'static str> {
    let v = verify_json(&serde_json::to_vec(body).unwrap(), NOW, &Config::default());
    v.reason.map(|r| r.as_str())
}

/// Found by `payment_mutation`: an `exact` Permit2 payload whose witness names a
/// facilitator, signed over the `upto` witness type, was valid: the verifier
/// hashed the witness it found rather than the one the exact proxy checks. The
/// proxy (and the reference facilitator) hash the exact witness, so that
/// signature can never settle: it must be `invalid_permit2_signature`, while a
/// signature over the exact witness stays valid whatever else the witness holds.
#[test]
fn exact_permit2_hashes_the_exact_witness_whatever_the_payload_carries() {
    let key = PrivateKey::from_bytes(&[0x42; 32]).unwrap();
    let mut body = exact_permit2_body(&key);
    assert_eq!(verdict(&body), None);

    let witness = &mut body["paymentPayload"]["payload"]["permit2Authorization"]["witness"];
    witness["facilitator"] = json!("0x5662a4802869C4A40Eeb8885cfB07aBc736Ce967");
    // The exact signature still holds: the facilitator is not part of what is checked.
    assert_eq!(verdict(&body), None);

    // Re-signed over the upto witness (with the facilitator): not what the proxy checks.
    let payload = serde_json::to_vec(&body["paymentPayload"]["payload"]).unwrap();
    let p = Permit2Payload::from_json_bytes(&payload, &Default::default()).unwrap();
    assert!(p.authorization.witness.facilitator.is_some());
    let sig = key.sign_digest(&eip712::permit2_digest(8453, &p.authorization));
    body["paymentPayload"]["payload"]["signature"] = json!(sig.to_hex().as_str());
    assert_eq!(verdict(&body), Some("invalid_permit2_signature"));
}

/// Found by `structured_fields`: a value parsed under limits wider than the
/// defaults was walked again under the defaults, so a member with more than 32
/// parameters (or a dictionary of more than 64 members) silently ended the walk:
/// the dictionary serialized as nothing and its members went missing.
#[cfg(feature = "batch")]
#[test]
fn structured_fields_parsed_with_wide_limits_are_walked_whole() {
    use paywire::batch::sfv::{Dictionary, Limits, List, parse_inner_list};
    let wide = Limits {
        max_len: 1 << 16,
        max_members: 1024,
        max_inner_items: 1024,
        max_params: 256,
    };
    let params: String = (0..40).map(|i| format!(";p{i}={i}")).collect();
    let members: Vec<String> = (0..70).map(|i| format!("m{i}=1")).collect();
    let value = format!("a=1{params}, {}", members.join(", "));
    let d = Dictionary::parse(&value, &wide).unwrap();
    assert_eq!(d.len(), 71);
    assert_eq!(d.get("a").unwrap().params().len(), 40);
    assert!(d.get("m69").is_some());
    let mut out = Vec::new();
    d.serialize(&mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), value);

    let items: Vec<String> = (0..70).map(|i| format!("i{i}")).collect();
    let joined = items.join(", ");
    let list = List::parse(&joined, &wide).unwrap();
    assert_eq!(list.iter().count(), 70);
    let text = format!("({}){params}", items.join(" "));
    let inner = parse_inner_list(&text, &wide).unwrap();
    assert_eq!(inner.len(), 70);
    assert_eq!(inner.params.len(), 40);
}

/// Found by the `client_payment` target: a v1 402 whose requirement names its
/// network in CAIP-2 form was paid, and every v1 verifier refuses the payment.
#[test]
fn a_v1_requirement_with_a_caip2_network_is_not_paid() {
    let pr = br#"{"x402Version":1,"accepts":[{"scheme":"exact","network":"eip155:84532","maxAmountRequired":"10000","resource":"https://api.example.com/premium-data","description":"d","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","extra":{"name":"USDC","version":"2"}}]}"#;
    let key = PrivateKey::from_bytes(&[7; 32]).unwrap();
    let mut out = vec![0u8; 4096];
    let err = create_payment(
        pr,
        &key,
        [1; 32],
        1_750_000_000,
        &Policy::default(),
        &mut out,
    )
    .unwrap_err();
    assert_eq!(err.reason().as_str(), "invalid_payment_requirements");
    assert!(err.to_string().contains("CAIP-2"), "{err}");
    // The same requirement with the v1 name is paid.
    let named = std::str::from_utf8(pr)
        .unwrap()
        .replace("eip155:84532", "base-sepolia");
    assert!(
        create_payment(
            named.as_bytes(),
            &key,
            [1; 32],
            1_750_000_000,
            &Policy::default(),
            &mut out
        )
        .is_ok()
    );
}
