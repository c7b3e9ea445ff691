//! The JSON entry points that hosts and language bindings use: EIP-712 hashes
//! from typed data, header documents from JSON, verifier settings and client
//! policies from JSON. Checked against the independent vectors (viem,
//! eth-account, the official SDK's header encoders).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use paywire::client::{OwnedPolicy, create_payment};
use paywire::evm::typed_data::{eip3009_hash_json, permit2_hash_json, typed_data_hash_json};
use paywire::evm::{B256, PrivateKey};
use paywire::header::{self, HeaderKind};
use paywire::json::ToJson;
use paywire::verify::{self, OwnedConfig};
use serde_json::{Value, json};

fn vectors(file: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(file);
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["vectors"].as_array().unwrap().clone()
}

fn hex(h: [u8; 32]) -> String {
    B256(h).to_string()
}

fn check_typed_data(file: &str) -> usize {
    let mut n = 0;
    for v in vectors(file) {
        let name = v["name"].as_str().unwrap();
        let doc = json!({"types": v["types"], "primaryType": v["primaryType"], "domain": v["domain"], "message": v["message"]});
        let whole = typed_data_hash_json(&serde_json::to_vec(&doc).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let message = serde_json::to_vec(&v["message"]).unwrap();
        let parts = if v["kind"] == "eip3009" {
            eip3009_hash_json(&serde_json::to_vec(&v["domain"]).unwrap(), &message).unwrap()
        } else {
            permit2_hash_json(v["domain"]["chainId"].as_u64().unwrap(), &message).unwrap()
        };
        assert_eq!(whole, parts, "{name}");
        // Without `types`, the primary type alone decides.
        let bare = json!({"primaryType": v["primaryType"], "domain": v["domain"], "message": v["message"]});
        assert_eq!(
            typed_data_hash_json(&serde_json::to_vec(&bare).unwrap()).unwrap(),
            whole,
            "{name}"
        );
        let lower = |k: &str| v[k].as_str().unwrap().to_lowercase();
        assert_eq!(
            hex(whole.domain_separator),
            lower("domainSeparator"),
            "{name}"
        );
        assert_eq!(hex(whole.struct_hash), lower("structHash"), "{name}");
        assert_eq!(hex(whole.digest), lower("digest"), "{name}");
        n += 1;
    }
    n
}

#[test]
fn typed_data_hashes_match_viem_and_eth_account() {
    assert!(check_typed_data("eip712.json") >= 60);
    assert!(check_typed_data("eip712-eth-account.json") >= 20);
}

#[test]
fn typed_data_with_other_definitions_is_refused() {
    let v = &vectors("eip712.json")[0];
    let with = |f: &dyn Fn(&mut Value)| {
        let mut doc = json!({"types": v["types"], "primaryType": v["primaryType"], "domain": v["domain"], "message": v["message"]});
        f(&mut doc);
        typed_data_hash_json(&serde_json::to_vec(&doc).unwrap())
    };
    assert!(with(&|_| {}).is_ok());
    // EIP712Domain may be given, and must then match the domain.
    assert!(
        with(&|d| d["types"]["EIP712Domain"] = json!([{"name":"name","type":"string"},{"name":"version","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}]))
            .is_ok()
    );
    for bad in [
        &(|d: &mut Value| d["types"]["TransferWithAuthorization"][2]["type"] = json!("uint128"))
            as &dyn Fn(&mut Value),
        &|d| d["types"]["Extra"] = json!([]),
        &|d| d["types"]["EIP712Domain"] = json!([{"name":"name","type":"string"}]),
        &|d| d["primaryType"] = json!("Permit"),
        &|d| {
            d["domain"]
                .as_object_mut()
                .unwrap()
                .remove("version")
                .map(drop)
                .unwrap()
        },
        &|d| d["domain"]["salt"] = json!("0x00"),
        &|d| d["message"]["value"] = json!("01"),
        &|d| d["domain"]["chainId"] = json!(-1),
    ] {
        let e = with(bad).unwrap_err();
        assert_eq!(e.reason().as_str(), "invalid_payload");
    }
    // Errors name the object they concern.
    let message = serde_json::to_vec(&v["message"]).unwrap();
    let e = eip3009_hash_json(b"{}", &message).unwrap_err();
    assert_eq!((e.object(), e.field()), ("domain", "name"));
    // A Permit2 document must use Permit2's own domain.
    let p = vectors("eip712.json")
        .into_iter()
        .find(|v| v["kind"] == "permit2-exact")
        .unwrap();
    let mut doc = json!({"types": p["types"], "primaryType": p["primaryType"], "domain": p["domain"], "message": p["message"]});
    assert!(typed_data_hash_json(&serde_json::to_vec(&doc).unwrap()).is_ok());
    doc["domain"]["name"] = json!("Permit3");
    assert!(typed_data_hash_json(&serde_json::to_vec(&doc).unwrap()).is_err());
    // chainId may be a decimal string.
    assert_eq!(
        typed_data_hash_json(
            br#"{"primaryType":"PermitWitnessTransferFrom","domain":{"name":"Permit2","chainId":"8453","verifyingContract":"0x000000000022D473030F116dDEE9F6B43aC78BA3"},"message":{"permitted":{"token":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","amount":"1"},"spender":"0x402085c248EeA27D92E8b30b2C58ed07f9E20001","nonce":"1","deadline":"2","witness":{"to":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","validAfter":"0"}}}"#
        )
        .unwrap(),
        permit2_hash_json(8453, br#"{"permitted":{"token":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","amount":"1"},"spender":"0x402085c248EeA27D92E8b30b2C58ed07f9E20001","nonce":"1","deadline":"2","witness":{"to":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","validAfter":"0"}}"#).unwrap()
    );
}

#[test]
fn header_documents_from_json_encode_as_the_sdk_does() {
    let mut n = 0;
    for v in vectors("sdk-headers.json") {
        let name = v["name"].as_str().unwrap();
        let kind = HeaderKind::from_name(v["header"].as_str().unwrap()).unwrap();
        let value = v["value"].as_str().unwrap();
        // The SDK's own JSON text, byte for byte.
        let mut raw = vec![0u8; value.len()];
        let len = header::base64_decode(value.as_bytes(), &mut raw).unwrap();
        let doc = header::decode_json(kind, &raw[..len]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut out = vec![0u8; header::encoded_len(&doc)];
        let written = header::encode(&doc, &mut out).unwrap();
        assert_eq!(
            std::str::from_utf8(&out[..written]).unwrap(),
            value,
            "{name}"
        );
        // Same document as decoding the header itself.
        let mut buf = vec![0u8; value.len()];
        let decoded = header::decode(kind, value, &mut buf).unwrap();
        assert_eq!(decoded.to_json_vec(), doc.to_json_vec(), "{name}");
        n += 1;
    }
    assert!(n >= 20);
    // The payment headers check the version against the header name.
    let v2 = br#"{"x402Version":2,"accepted":{"scheme":"exact","network":"eip155:8453","amount":"1","asset":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","payTo":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","maxTimeoutSeconds":60},"payload":{}}"#;
    assert!(header::decode_json(HeaderKind::PaymentSignature, v2).is_ok());
    let e = header::decode_json(HeaderKind::XPayment, v2).unwrap_err();
    assert_eq!(e.reason().as_str(), "invalid_x402_version");
    let e = header::decode_json(HeaderKind::PaymentRequired, b"{\"x402Version\":2}").unwrap_err();
    assert_eq!(e.reason().as_str(), "invalid_payment_requirements");
}

#[test]
fn config_from_json_enables_upto() {
    let v = vectors("official-verdicts.json")
        .into_iter()
        .find(|v| v["name"].as_str().unwrap().starts_with("valid/upto"))
        .unwrap();
    let addresses = v
        .get("facilitatorAddresses")
        .cloned()
        .unwrap_or(json!(["0xFAc11174700000000000000000000000000000fA"]));
    let config = OwnedConfig::from_json(
        &serde_json::to_vec(&json!({"facilitatorAddresses": addresses})).unwrap(),
    )
    .unwrap();
    let body = serde_json::to_vec(&v["request"]).unwrap();
    let now = v["now"].as_u64().unwrap();
    assert!(verify::verify_json(&body, now, &config.config()).is_valid());
    let empty = OwnedConfig::from_json(b"{}").unwrap();
    assert_eq!(
        verify::verify_json(&body, now, &empty.config())
            .reason
            .unwrap()
            .as_str(),
        "upto_facilitator_mismatch"
    );
    for bad in [
        &b"[]"[..],
        b"{\"facilitatorAddresses\":\"0x00\"}",
        b"{\"facilitatorAddresses\":[\"0xFAc11174700000000000000000000000000000FA\"]}",
        b"{\"other\":1}",
        b"{",
    ] {
        assert!(OwnedConfig::from_json(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn policy_from_json_limits_create_payment() {
    let v = &vectors("official-payments.json")[0];
    let pr = serde_json::to_vec(&v["paymentRequired"]).unwrap();
    let amount = v["paymentRequirements"]["amount"].as_str().unwrap();
    let network = v["paymentRequirements"]["network"].as_str().unwrap();
    let key = PrivateKey::from_bytes(&[7; 32]).unwrap();
    let mut out = vec![0u8; 4096];
    let create = |policy: Value, out: &mut [u8]| {
        let p = OwnedPolicy::from_json(&serde_json::to_vec(&policy).unwrap()).unwrap();
        create_payment(&pr, &key, [1; 32], 1_750_000_000, &p.policy(), out)
    };
    assert!(create(json!({}), &mut out).is_ok());
    assert!(
        create(
            json!({"maxAmount": amount, "networks": [network]}),
            &mut out
        )
        .is_ok()
    );
    assert!(create(json!({"networks": ["base"]}), &mut out).is_ok() == (network == "eip155:8453"));
    let e = create(json!({"maxAmount": "1"}), &mut out).unwrap_err();
    assert!(e.to_string().contains("maximum"), "{e}");
    assert!(create(json!({"networks": ["eip155:1"]}), &mut out).is_err());
    assert!(
        create(
            json!({"assets": ["0x0000000000000000000000000000000000000001"]}),
            &mut out
        )
        .is_err()
    );
    let p =
        OwnedPolicy::from_json(br#"{"allowUpto":true,"networks":["eip155:8453","base-sepolia"]}"#)
            .unwrap();
    assert!(p.allow_upto && p.networks.len() == 2 && p.max_amount.is_none());
    for bad in [
        &br#"{"maxAmount":1}"#[..],
        br#"{"maxAmount":"1.5"}"#,
        br#"{"networks":"base"}"#,
        br#"{"networks":["eip155:01"]}"#,
        br#"{"assets":["0x1"]}"#,
        br#"{"allowUpto":"yes"}"#,
        br#"{"maxamount":"1"}"#,
        b"null",
    ] {
        assert!(OwnedPolicy::from_json(bad).is_err(), "{bad:?}");
    }
}
