//! Every JSON and base64 example of the x402 specification documents
//! (`tests/vectors/spec/`, indexed by `manifest.json`) decodes to its documented
//! values and re-encodes equivalently; the examples that break the spec's own
//! field tables are rejected with the expected reason, or accepted where this crate
//! is documented to be lenient.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use paywire::header::{self, Decoded};
use paywire::json::{Limits, ToJson, parse};
use paywire::types::facilitator::{
    self, SettleResponse, SupportedResponse, VerifyRequest, VerifyResponse,
};
use paywire::types::{FromJson, v1, v2};
use paywire::{Error, mcp};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/spec")
}

fn manifest() -> Vec<Value> {
    let m: Value =
        serde_json::from_slice(&std::fs::read(dir().join("manifest.json")).unwrap()).unwrap();
    m["examples"].as_array().unwrap().clone()
}

/// JSON equality after dropping `null` members: this crate reads an optional
/// member that is `null` as absent, and does not write it back.
fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), normalize(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// Decodes `bytes` as the type the manifest names, re-encodes, and returns the
/// re-encoding (or the error).
fn roundtrip(kind: &str, version: Option<u64>, bytes: &[u8]) -> Result<Vec<u8>, Error> {
    fn go<'a, T: FromJson<'a> + ToJson>(bytes: &'a [u8]) -> Result<Vec<u8>, Error> {
        let t = T::from_json_bytes(bytes, &Limits::DEFAULT)?;
        Ok(t.to_json_vec())
    }
    match (kind, version) {
        ("PaymentRequired", _) => go::<facilitator::PaymentRequired<'_>>(bytes),
        ("PaymentPayload", _) => go::<facilitator::PaymentPayload<'_>>(bytes),
        ("PaymentRequirements", Some(1)) => go::<v1::PaymentRequirements<'_>>(bytes),
        ("PaymentRequirements", _) => go::<v2::PaymentRequirements<'_>>(bytes),
        ("SettleResponse", _) => go::<SettleResponse<'_>>(bytes),
        ("VerifyResponse", _) => go::<VerifyResponse<'_>>(bytes),
        ("VerifyRequest" | "SettleRequest", _) => go::<VerifyRequest<'_>>(bytes),
        ("SupportedResponse", _) => go::<SupportedResponse<'_>>(bytes),
        _ => unreachable!("{kind}"),
    }
}

/// Examples that break the spec's own field tables, and what this crate says.
/// `Ok` entries are accepted on purpose: `null` for an optional member reads as absent.
fn nonconformant_expectations() -> BTreeMap<&'static str, Result<(), &'static str>> {
    BTreeMap::from([
        // `outputSchema: null` in v1 requirements: optional, null reads as absent.
        ("v1-spec-payment-required-01.json", Ok(())),
        ("v1-http-payment-required-01.json", Ok(())),
        // `errorReason: null`: optional, null reads as absent.
        ("v2-exact-algo-settle-response-01.json", Ok(())),
        // A v2 payload that also carries v1-style members: kept as unknown members.
        ("v2-exact-algo-payment-payload-01.json", Ok(())),
        // `transactionId` instead of the required `transaction`.
        (
            "v2-exact-hedera-settle-response-01.json",
            Err("invalid_response"),
        ),
        // No `maxTimeoutSeconds` in the requirement.
        (
            "v2-batch-cloudflare-payment-required-01.json",
            Err("invalid_payment_requirements"),
        ),
        // The scheme's first text: a PAYMENT-RESPONSE of `{amount, asset, network, timestamp}`, not a
        // SettleResponse (since 1.0.0 it is one: v2-batch-cloudflare-payment-response-02.json).
        (
            "v2-batch-cloudflare-payment-response-01.json",
            Err("invalid_response"),
        ),
        // `x402Version: "2"` (a string).
        (
            "v2-ext-eip2612-payment-payload-01.json",
            Err("invalid_x402_version"),
        ),
        (
            "v2-ext-erc20-approval-payment-payload-01.json",
            Err("invalid_x402_version"),
        ),
        (
            "v2-ext-siwx-payment-required-01.json",
            Err("invalid_x402_version"),
        ),
        // v1 documents carrying v2 `extensions`: kept as unknown members, so accepted.
        (
            "v1-ext-offer-receipt-payment-required-eip712-01.json",
            Ok(()),
        ),
        ("v1-ext-offer-receipt-payment-required-jws-01.json", Ok(())),
        (
            "v1-ext-offer-receipt-settle-response-eip712-01.json",
            Ok(()),
        ),
        ("v1-ext-offer-receipt-settle-response-jws-01.json", Ok(())),
    ])
}

const TYPED: &[&str] = &[
    "PaymentRequired",
    "PaymentPayload",
    "PaymentRequirements",
    "SettleResponse",
    "VerifyResponse",
    "VerifyRequest",
    "SettleRequest",
    "SupportedResponse",
];

#[test]
fn spec_documents_decode_and_reencode() {
    let expectations = nonconformant_expectations();
    let mut checked = 0;
    for e in manifest() {
        let file = e["file"].as_str().unwrap();
        let kind = e["kind"].as_str().unwrap();
        if !TYPED.contains(&kind) || e["valid_json"] != Value::Bool(true) {
            continue;
        }
        let bytes = std::fs::read(dir().join(file)).unwrap();
        let result = roundtrip(kind, e["x402Version"].as_u64(), &bytes);
        let expected = match e["spec_conformant"] {
            Value::Bool(false) => *expectations
                .get(file)
                .unwrap_or_else(|| panic!("no expectation for {file}")),
            _ => Ok(()),
        };
        match (result, expected) {
            (Ok(out), Ok(())) => {
                // decode → encode → decode → encode is a fixed point.
                let again = roundtrip(kind, e["x402Version"].as_u64(), &out).unwrap();
                assert_eq!(again, out, "{file}: encoding is not idempotent");
                assert_eq!(
                    normalize(&json(&out)),
                    normalize(&json(&bytes)),
                    "{file}: re-encoding differs"
                );
            }
            (Err(err), Err(reason)) => assert_eq!(err.reason().as_str(), reason, "{file}: {err}"),
            (Ok(_), Err(reason)) => panic!("{file}: accepted, expected {reason}"),
            (Err(err), Ok(())) => panic!("{file}: rejected: {err}"),
        }
        checked += 1;
    }
    assert!(checked >= 60, "only {checked} typed examples checked");
}

#[test]
fn spec_headers_decode_to_their_documents_and_reencode_byte_for_byte() {
    let mut checked = 0;
    for e in manifest() {
        let file = e["file"].as_str().unwrap();
        let Some(name) = e["header_name"].as_str() else {
            continue;
        };
        let Some(kind) = header::HeaderKind::from_name(name) else {
            continue;
        };
        let value = std::fs::read_to_string(dir().join(file)).unwrap();
        let value = value.trim_end();
        let mut buf = vec![0u8; value.len()];
        let result = header::decode(kind, value, &mut buf);
        if e["spec_conformant"] != Value::Bool(true) {
            // The batch-settlement examples whose decoded text is not JSON, and the
            // batch-settlement PAYMENT-RESPONSE (not a SettleResponse).
            assert!(result.is_err(), "{file}: accepted a non-conformant header");
            checked += 1;
            continue;
        }
        let decoded = result.unwrap_or_else(|err| panic!("{file}: {err}"));
        if let Some(doc) = e["decodes_to"].as_str() {
            let documented = std::fs::read(dir().join(doc)).unwrap();
            assert_eq!(json(&decoded.to_json_vec()), json(&documented), "{file}");
        }
        if e["decoded_vs_document"] == "exact" {
            assert_eq!(
                header::encode_to_string(&decoded),
                value,
                "{file}: re-encoded header differs"
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} headers checked");
}

#[test]
fn spec_documented_values() {
    let read = |f: &str| std::fs::read(dir().join(f)).unwrap();
    let bytes = read("v2-spec-payment-required-01.json");
    let facilitator::PaymentRequired::V2(pr) =
        facilitator::PaymentRequired::from_json_bytes(&bytes, &Limits::DEFAULT).unwrap()
    else {
        panic!("not v2")
    };
    let req = pr.accepts.get(0).unwrap();
    assert!(req.scheme == "exact");
    assert_eq!(req.network.evm_chain_id(), Some(84532));
    assert_eq!(
        req.asset_address().unwrap().to_string(),
        "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
    );
    assert!(req.extra.unwrap().name.unwrap() == "USDC");
    assert!(pr.resource.url.as_str().unwrap().starts_with("https://"));

    let bytes = read("v2-spec-payment-payload-01.json");
    let facilitator::PaymentPayload::V2(p) =
        facilitator::PaymentPayload::from_json_bytes(&bytes, &Limits::DEFAULT).unwrap()
    else {
        panic!("not v2")
    };
    let paywire::types::payload::SchemePayload::Eip3009(exact) =
        paywire::types::payload::SchemePayload::from_object(p.payload_json().unwrap()).unwrap()
    else {
        panic!("not EIP-3009")
    };
    assert_eq!(
        exact.authorization.from.to_string(),
        "0x857b06519E91e3A54538791bDbb0E22373e36b66"
    );
    assert_eq!(exact.authorization.value, 10_000u64.into());
    assert_eq!(exact.authorization.valid_after, 1_740_672_089u64.into());
    assert_eq!(exact.authorization.valid_before, 1_740_672_154u64.into());
}

#[test]
fn spec_mcp_examples() {
    let read = |f: &str| std::fs::read(dir().join(f)).unwrap();
    for (file, version) in [
        ("v2-mcp-payment-required-response-01.json", 2),
        ("v1-mcp-payment-required-response-01.json", 1),
    ] {
        let bytes = read(file);
        let v = parse(&bytes, &Limits::DEFAULT).unwrap();
        let result = v
            .as_object()
            .unwrap()
            .get("result")
            .unwrap()
            .as_object()
            .unwrap();
        let mut buf = vec![0u8; bytes.len()];
        let pr =
            mcp::read_payment_required(result, &mut buf).unwrap_or_else(|e| panic!("{file}: {e}"));
        let expected = &json(&bytes)["result"]["structuredContent"];
        assert_eq!(
            normalize(&json(&pr.to_json_vec())),
            normalize(expected),
            "{file}"
        );
        let pr_version = match pr {
            facilitator::PaymentRequired::V1(_) => 1,
            facilitator::PaymentRequired::V2(_) => 2,
        };
        assert_eq!(pr_version, version);
        // What we write reads back, through the structured content and through the text alone.
        let ours = mcp::PaymentRequiredResult {
            payment_required: &pr,
        }
        .to_json_vec();
        let ours_v = parse(&ours, &Limits::DEFAULT).unwrap();
        let mut buf2 = vec![0u8; ours.len()];
        let back = mcp::read_payment_required(ours_v.as_object().unwrap(), &mut buf2).unwrap();
        assert_eq!(back.to_json_vec(), pr.to_json_vec());
        let ours_json = json(&ours);
        let text_only =
            serde_json::json!({"isError": true, "content": ours_json["content"]}).to_string();
        let text_v = parse(text_only.as_bytes(), &Limits::DEFAULT).unwrap();
        let mut buf3 = vec![0u8; text_only.len()];
        let back = mcp::read_payment_required(text_v.as_object().unwrap(), &mut buf3).unwrap();
        assert_eq!(back.to_json_vec(), pr.to_json_vec());
    }
    for file in [
        "v2-mcp-tool-call-request-01.json",
        "v1-mcp-tool-call-request-01.json",
    ] {
        let bytes = read(file);
        let v = parse(&bytes, &Limits::DEFAULT).unwrap();
        let meta = v
            .as_object()
            .unwrap()
            .get("params")
            .unwrap()
            .as_object()
            .unwrap()
            .get("_meta")
            .unwrap();
        let p = mcp::payment_from_meta(meta.as_object().unwrap())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            normalize(&json(&p.to_json_vec())),
            normalize(&json(&bytes)["params"]["_meta"]["x402/payment"])
        );
    }
    for file in [
        "v2-mcp-settle-response-01.json",
        "v2-mcp-settle-failure-response-01.json",
        "v1-mcp-settle-response-01.json",
    ] {
        let bytes = read(file);
        let v = parse(&bytes, &Limits::DEFAULT).unwrap();
        let result = v
            .as_object()
            .unwrap()
            .get("result")
            .unwrap()
            .as_object()
            .unwrap();
        let Some(meta) = result.get("_meta") else {
            continue;
        };
        let r = mcp::payment_response_from_meta(meta.as_object().unwrap())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            normalize(&json(&r.to_json_vec())),
            normalize(&json(&bytes)["result"]["_meta"]["x402/payment-response"])
        );
    }
    let _ = Decoded::SettleResponse;
}
