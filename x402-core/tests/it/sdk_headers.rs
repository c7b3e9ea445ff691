//! Headers produced by the official `@x402/core` encoders
//! (`tests/vectors/sdk-headers.json`, see `tests/vectors/gen/src/gen-headers.mjs`)
//! decode to the SDK's documents, report the SDK's protocol version, and
//! re-encode to the SDK's header value byte for byte.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use paywire::header::{self, Decoded, HeaderKind};
use paywire::json::ToJson;
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/sdk-headers.json");
    let file: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(file["generator"]["packages"]["@x402/core"], "2.27.0");
    file["vectors"].as_array().unwrap().clone()
}

/// The protocol version of a decoded header. A SettleResponse carries no
/// `x402Version`: v2 names its network in CAIP-2, v1 by name.
fn detected_version(d: &Decoded<'_>) -> u8 {
    match d {
        Decoded::PaymentRequired(p) => p.x402_version(),
        Decoded::PaymentPayload(p) => p.x402_version(),
        Decoded::SettleResponse(r) => {
            if r.network.is_caip2() {
                2
            } else {
                1
            }
        }
    }
}

#[test]
fn sdk_headers_decode_and_reencode_byte_for_byte() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 21, "vector count changed: update this test");
    let mut seen_kinds = Vec::new();
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        let header_name = v["header"].as_str().unwrap();
        let value = v["value"].as_str().unwrap();
        let version = v["x402Version"].as_u64().unwrap();
        let kind = HeaderKind::from_name(header_name)
            .unwrap_or_else(|| panic!("{name}: unknown header {header_name}"));
        seen_kinds.push(kind);

        let cap = header::base64_decoded_len(value.len());
        let mut buf = vec![0u8; cap];
        let decoded =
            header::decode(kind, value, &mut buf).unwrap_or_else(|e| panic!("{name}: {e}"));

        // The document is the SDK's.
        let ours: Value = serde_json::from_slice(&decoded.to_json_vec())
            .unwrap_or_else(|e| panic!("{name}: our encoding is not JSON: {e}"));
        assert_eq!(ours, v["json"], "{name}: decoded document differs");

        // The header is the SDK's, byte for byte.
        assert_eq!(
            header::encode_to_string(&decoded),
            value,
            "{name}: re-encoded header differs"
        );
        let mut out = vec![0u8; header::encoded_len(&decoded)];
        let n = header::encode(&decoded, &mut out).unwrap();
        assert_eq!(
            &out[..n],
            value.as_bytes(),
            "{name}: header::encode differs"
        );

        // The version is the SDK's.
        assert_eq!(
            u64::from(detected_version(&decoded)),
            version,
            "{name}: protocol version"
        );
        match decoded {
            // A v1 PaymentRequired may travel in PAYMENT-REQUIRED (the SDK encodes both).
            Decoded::PaymentRequired(_) => assert_eq!(kind, HeaderKind::PaymentRequired),
            Decoded::PaymentPayload(_) => {
                assert_eq!(u64::from(kind.x402_version()), version, "{name}");
                assert_eq!(decoded.kind(), kind, "{name}");
            }
            Decoded::SettleResponse(_) => {
                assert_eq!(u64::from(kind.x402_version()), version, "{name}");
            }
        }

        // Shape detection agrees with the header name.
        let mut buf2 = vec![0u8; cap];
        let any = header::decode_any(value, &mut buf2).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            any.to_json_vec(),
            decoded.to_json_vec(),
            "{name}: decode_any"
        );

        // The SDK's compact JSON is what the header holds.
        let mut json = vec![0u8; cap];
        let n = header::base64_decode(value.as_bytes(), &mut json).unwrap();
        assert_eq!(
            decoded.to_json_vec(),
            &json[..n],
            "{name}: decoded bytes differ from our encoding"
        );
    }
    for kind in HeaderKind::ALL {
        assert!(seen_kinds.contains(&kind), "no vector for {}", kind.name());
    }
}

/// Where the SDK's encoder did not encode its argument verbatim, the header holds
/// what it wrote (`json`), not what it was given (`input`): ours must match the
/// header, and must not resurrect the dropped members.
#[test]
fn sdk_encoder_rewrites_are_reflected_in_json_not_input() {
    let mut checked = 0;
    for v in vectors().iter().filter(|v| v.get("input").is_some()) {
        let name = v["name"].as_str().unwrap();
        let value = v["value"].as_str().unwrap();
        let kind = HeaderKind::from_name(v["header"].as_str().unwrap()).unwrap();
        let mut buf = vec![0u8; value.len()];
        let decoded = header::decode(kind, value, &mut buf).unwrap();
        let ours: Value = serde_json::from_slice(&decoded.to_json_vec()).unwrap();
        assert_ne!(ours, v["input"], "{name}");
        assert_eq!(ours, v["json"], "{name}");
        checked += 1;
    }
    assert_eq!(checked, 1);
}

/// A facilitator's settlement with `extensionResponses` (addressed to the
/// resource server): the paywall's `PAYMENT-RESPONSE` is byte for byte what
/// the official SDK's `encodePaymentResponseHeader` sends the buyer, without it.
#[test]
fn extension_responses_stay_with_the_resource_server() {
    use paywire::lifecycle::{SettleReply, Settled, classify_settle_reply};
    let v = vectors()
        .into_iter()
        .find(|v| v["name"] == "payment-response-v2-extension-responses-dropped")
        .unwrap();
    let value = v["value"].as_str().unwrap();
    // The facilitator's body: the buyer-facing JSON, `extensionResponses` last
    // (JSON.stringify's order of the SDK's object).
    let buyer = String::from_utf8(header::decode_to_vec(value, 4096).unwrap()).unwrap();
    let extension = serde_json::to_string(&v["input"]["extensionResponses"]).unwrap();
    let body = format!(
        "{},\"extensionResponses\":{extension}}}",
        buyer.strip_suffix('}').unwrap()
    );
    let network = paywire::Network::parse_caip2(v["json"]["network"].as_str().unwrap()).unwrap();
    let Settled::Success(json) = classify_settle_reply(
        SettleReply::Answered {
            status: 200,
            body: body.as_bytes(),
        },
        "exact",
        network,
    ) else {
        panic!("not a success")
    };
    assert_eq!(json, buyer);
    assert_eq!(
        header::encode_to_string(&header::decode_any(value, &mut vec![0u8; 4096]).unwrap()),
        value
    );
    let mut out = vec![0u8; header::base64_encoded_len(json.len())];
    let n = header::base64_encode(json.as_bytes(), &mut out).unwrap();
    assert_eq!(&out[..n], value.as_bytes());
}
