//! ResourceInfo's `serviceName`, `tags` and `iconUrl` (the spec's additions)
//! against the official SDK's schema (`tests/vectors/resource-info.json`,
//! written by `gen/src/gen-resource-info.mjs`): a PaymentRequired is accepted
//! exactly when `@x402/core` 2.27 accepts it, the error names the member, and
//! the SDK's PAYMENT-REQUIRED values decode and re-encode byte for byte.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use paywire::header::{self, HeaderKind};
use paywire::json::{Limits, ToJson};
use paywire::types::FromJson;
use paywire::types::facilitator::PaymentRequired;
use serde_json::Value;

#[test]
fn resource_info_additions_match_the_official_schema() {
    let file: Value = serde_json::from_str(include_str!("../vectors/resource-info.json")).unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 20);
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let json = serde_json::to_vec(&v["paymentRequired"]).unwrap();
        let ours = PaymentRequired::from_json_bytes(&json, &Limits::DEFAULT);
        assert_eq!(ours.is_ok(), v["official"] == true, "{name}: {ours:?}");
        if let Err(e) = &ours {
            let text = e.to_string();
            assert!(
                ["serviceName", "tags", "iconUrl"]
                    .iter()
                    .any(|m| text.contains(m)),
                "{name}: {text}"
            );
        }
        if let Some(value) = v["header"].as_str() {
            let mut buf = vec![0u8; value.len()];
            let decoded = header::decode(HeaderKind::PaymentRequired, value, &mut buf).unwrap();
            assert_eq!(header::encode_to_string(&decoded), value, "{name}");
            let PaymentRequired::V2(pr) =
                PaymentRequired::from_json_bytes(&json, &Limits::DEFAULT).unwrap()
            else {
                panic!("{name}: not v2")
            };
            let r = v["paymentRequired"]["resource"].clone();
            assert_eq!(
                pr.resource.service_name.map(|s| s.to_cow().into_owned()),
                r["serviceName"].as_str().map(String::from),
                "{name}"
            );
            assert_eq!(
                pr.resource.icon_url.map(|s| s.to_cow().into_owned()),
                r["iconUrl"].as_str().map(String::from),
                "{name}"
            );
            assert_eq!(
                pr.resource.tags.map(|t| t.len()),
                r["tags"].as_array().map(Vec::len),
                "{name}"
            );
            let _ = pr.to_json_vec();
        }
    }
}
