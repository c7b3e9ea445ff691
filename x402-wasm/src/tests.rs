//! Host tests of the pure layer (the JavaScript boundary is tested in Node,
//! workerd and Chromium by `scripts/test-wasm.sh`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::*;
use serde_json::{Value, json};

const NOW: u64 = 1_750_000_000;

fn payment_required() -> Value {
    json!({
        "x402Version": 2,
        "resource": {"url": "https://api.example.com/data"},
        "accepts": [{
            "scheme": "exact",
            "network": "eip155:84532",
            "amount": "10000",
            "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
            "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
            "maxTimeoutSeconds": 60,
            "extra": {"name": "USDC", "version": "2"}
        }]
    })
}

fn key() -> PrivateKey {
    read_private_key("0x1111111111111111111111111111111111111111111111111111111111111111").unwrap()
}

#[test]
fn created_payment_verifies_and_tampering_is_caught() {
    let pr = payment_required().to_string();
    let opts = read_options(Some(r#"{"maxAmount":"10000","nonce":"0x2222222222222222222222222222222222222222222222222222222222222222","nowUnix":1750000000}"#)).unwrap();
    assert_eq!(opts.now, Some(NOW));
    assert_eq!(opts.nonce, Some([0x22; 32]));
    let value = create_payment_text(&pr, &key(), opts.nonce.unwrap(), NOW, &opts.policy).unwrap();
    let req = payment_required()["accepts"][0].to_string();
    let verdict: Value =
        serde_json::from_str(&verify_header_text(&value, &req, NOW, None).unwrap()).unwrap();
    assert_eq!(verdict["isValid"], true, "{verdict}");
    assert_eq!(
        verdict["payer"],
        key().address().checksummed().as_str(),
        "{verdict}"
    );
    // Expired by the time it arrives.
    let late: Value =
        serde_json::from_str(&verify_header_text(&value, &req, NOW + 3600, None).unwrap()).unwrap();
    assert_eq!(
        late["invalidReason"],
        "invalid_exact_evm_payload_authorization_valid_before"
    );
    // Decoded, changed and re-encoded: the signature no longer matches.
    let mut doc: Value =
        serde_json::from_str(&decode_header_text("payment-signature", &value).unwrap()).unwrap();
    doc["payload"]["authorization"]["value"] = json!("20000");
    let tampered = encode_header_text("PAYMENT-SIGNATURE", &doc.to_string()).unwrap();
    let mut req2 = payment_required()["accepts"][0].clone();
    req2["amount"] = json!("20000");
    let v: Value =
        serde_json::from_str(&verify_header_text(&tampered, &req2.to_string(), NOW, None).unwrap())
            .unwrap();
    assert_eq!(v["invalidReason"], "invalid_exact_evm_signature");
}

#[test]
fn policy_is_enforced_and_misspelt_options_are_refused() {
    let pr = payment_required().to_string();
    let opts = read_options(Some(r#"{"maxAmount":"9999"}"#)).unwrap();
    let err = create_payment_text(&pr, &key(), [1; 32], NOW, &opts.policy).unwrap_err();
    assert_eq!(err.code(), "invalid_payment_requirements");
    let err = read_options(Some(r#"{"maxAmmount":"1"}"#)).unwrap_err();
    assert!(matches!(err, Failure::Core(_)), "{err:?}");
    for bad in [
        r#"{"nowUnix":-1}"#,
        r#"{"nowUnix":1.5}"#,
        r#"{"nowUnix":null}"#,
        r#"{"nonce":"0x12"}"#,
        r#"[]"#,
        "{",
    ] {
        assert_eq!(
            read_options(Some(bad)).unwrap_err().code(),
            INVALID_ARGUMENT,
            "{bad}"
        );
    }
    assert_eq!(read_options(None).unwrap(), ClientOptions::default());
}

#[test]
fn selection_reports_the_chosen_requirement() {
    let pr = payment_required().to_string();
    let sel: Value =
        serde_json::from_str(&select_requirement_text(&pr, &OwnedPolicy::default()).unwrap())
            .unwrap();
    assert_eq!(
        sel,
        json!({
            "index": 0, "x402Version": 2, "method": "eip3009", "chainId": 84532,
            "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
            "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
            "requirements": payment_required()["accepts"][0],
        })
    );
}

#[test]
fn arguments_that_are_not_documents_get_invalid_argument() {
    assert_eq!(
        decode_header_text("PAYMENT", "e30=").unwrap_err().code(),
        INVALID_ARGUMENT
    );
    assert_eq!(
        read_private_key("0x00").unwrap_err().code(),
        INVALID_ARGUMENT
    );
    // A bad key's text is never echoed.
    let secret = "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
    assert!(
        !read_private_key(secret)
            .unwrap_err()
            .message()
            .contains("baaedce")
    );
    assert_eq!(seconds(f64::NAN).unwrap_err().code(), INVALID_ARGUMENT);
    assert_eq!(seconds(-1.0).unwrap_err().code(), INVALID_ARGUMENT);
    assert_eq!(seconds(1.9).unwrap(), 1);
    assert_eq!(
        recover_address_text("0x12", "0x").unwrap_err().code(),
        INVALID_ARGUMENT
    );
}

#[test]
fn documents_get_the_core_reason() {
    assert_eq!(
        decode_header_text("X-PAYMENT", "not base64")
            .unwrap_err()
            .code(),
        "invalid_payload"
    );
    assert_eq!(
        encode_header_text("PAYMENT-REQUIRED", "{}")
            .unwrap_err()
            .code(),
        "invalid_x402_version"
    );
    assert_eq!(
        verify_text("{}", NOW, Some(r#"{"facilitatorAddresses":1}"#))
            .unwrap_err()
            .code(),
        "invalid_payload"
    );
    // A malformed body is a verdict, not an error.
    let v: Value = serde_json::from_str(&verify_text("[", NOW, None).unwrap()).unwrap();
    assert_eq!(v["isValid"], false);
}

#[test]
fn typed_data_hashes_and_recovery_match_the_spec_example() {
    let td = json!({
        "primaryType": "TransferWithAuthorization",
        "domain": {"name": "USDC", "version": "2", "chainId": 84532,
                   "verifyingContract": "0x036CbD53842c5426634e7929541eC2318f3dCF7e"},
        "message": {"from": "0x857b06519E91e3A54538791bDbb0E22373e36b66",
                    "to": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
                    "value": "10000", "validAfter": "1740672089", "validBefore": "1740672154",
                    "nonce": "0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480"}
    });
    let h: Value = serde_json::from_str(&hash_typed_data_text(&td.to_string()).unwrap()).unwrap();
    assert_eq!(
        h["digest"],
        "0xf256992871671abcb27ff92885a7afa46218724e5fc0bac35d050115aa1d22e6"
    );
    let digest = [7u8; 32];
    let sig = key().sign_digest(&digest).to_hex();
    assert_eq!(
        recover_address_text(B256(digest).to_hex().as_str(), sig.as_str()).unwrap(),
        key().address().checksummed().as_str()
    );
}

#[cfg(feature = "batch")]
#[test]
fn batch_settlement_sign_then_verify() {
    let payment = "eyJ4NDAyVmVyc2lvbiI6MiwicGF5bG9hZCI6eyJhbW91bnQiOiI1IiwiYXNzZXQiOiJVU0QifSwiYWNjZXB0ZWQiOnsic2NoZW1lIjoiYmF0Y2gtc2V0dGxlbWVudCIsIm5ldHdvcmsiOiJjbG91ZGZsYXJlOjQwMiIsImFtb3VudCI6IjUiLCJhc3NldCI6IlVTRCIsInBheVRvIjoibWVyY2hhbnQiLCJtYXhUaW1lb3V0U2Vjb25kcyI6MzB9fQ==";
    let request = json!({"method": "GET", "url": "https://example.com/article",
                         "headers": [["PAYMENT-SIGNATURE", payment]]});
    let signed: Value = serde_json::from_str(
        &sign_request_text(
            &json!({
                "request": request,
                "privateKey": "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU",
                "signatureAgent": "\"https://agent.example\"",
                "created": NOW, "expires": NOW + 60
            })
            .to_string(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        signed["keyid"],
        "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U"
    );
    let input = json!({
        "request": {"method": "GET", "url": "https://example.com/article", "headers": [
            ["PAYMENT-SIGNATURE", payment],
            ["Signature-Agent", signed["signatureAgent"]],
            ["Signature-Input", signed["signatureInput"]],
            ["Signature", signed["signature"]]]},
        "requirements": [{"scheme": "batch-settlement", "network": "cloudflare:402", "amount": "5",
                          "asset": "USD", "payTo": "merchant", "maxTimeoutSeconds": 30}],
        "directories": {"https://agent.example": {"keys": [{"kty": "OKP", "crv": "Ed25519",
            "x": "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"}]}},
        "now": NOW + 5
    });
    let out: Value =
        serde_json::from_str(&verify_batch_settlement_text(&input.to_string()).unwrap()).unwrap();
    assert_eq!(out["verdict"]["isValid"], true, "{out}");
    assert!(out["paymentResponse"].is_string());
    // A stranger agent is refused with the network's code.
    let mut other = input.clone();
    other["directories"] = json!({});
    let out: Value =
        serde_json::from_str(&verify_batch_settlement_text(&other.to_string()).unwrap()).unwrap();
    assert_eq!(
        out["verdict"]["invalidReason"],
        "invalid_batch_settlement_cloudflare_signature_agent_unknown"
    );
    assert_eq!(
        out["verdict"]["extra"]["errorCode"],
        "signature_agent_unknown"
    );
    assert_eq!(
        verify_batch_settlement_text("[]").unwrap_err().code(),
        "invalid_payload"
    );
}

#[cfg(feature = "sponsored-payer")]
#[test]
fn chain_facts_make_a_permit2_payment_carry_the_eip2612_permit() {
    let mut pr = payment_required();
    pr["accepts"][0]["extra"]["assetTransferMethod"] = json!("permit2");
    pr["extensions"] =
        json!({"eip2612GasSponsoring": {"info": {"description": "d", "version": "1"}}});
    let pr = pr.to_string();
    let owner = key().address().checksummed().as_str().to_owned();
    let reads: Value = serde_json::from_str(
        &gas_sponsoring::gas_sponsoring_reads_text(&pr, &owner, &OwnedPolicy::default())
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(reads["network"], "eip155:84532");
    assert_eq!(reads["chainId"], 84532);
    assert_eq!(reads["nonces"]["method"], "eth_call");
    assert!(
        reads["allowance"]["params"][0]["data"]
            .as_str()
            .unwrap()
            .starts_with("0xdd62ed3e")
    );
    assert!(
        reads["nonces"]["params"][0]["data"]
            .as_str()
            .unwrap()
            .starts_with("0x7ecebe00")
    );

    let opts = read_options(Some(
        r#"{"maxAmount":"10000","nowUnix":1750000000,"chainFacts":{"permit2Allowance":null,"permitNonce":"3"}}"#,
    ))
    .unwrap();
    let facts = opts.chain_facts.unwrap();
    assert_eq!(
        (facts.permit2_allowance, facts.permit_nonce),
        (None, 3u64.into())
    );
    let value = gas_sponsoring::create_payment_with_facts_text(
        &pr,
        &key(),
        [7; 32],
        NOW,
        &opts.policy,
        Some(&facts),
    )
    .unwrap();
    let doc: Value =
        serde_json::from_str(&decode_header_text("PAYMENT-SIGNATURE", &value).unwrap()).unwrap();
    let info = &doc["extensions"]["eip2612GasSponsoring"]["info"];
    assert_eq!(
        (
            info["description"].as_str(),
            info["nonce"].as_str(),
            info["amount"].as_str()
        ),
        (Some("d"), Some("3"), Some("10000"))
    );

    for bad in [
        r#"{"chainFacts":{"permit2Allowance":"1"}}"#,
        r#"{"chainFacts":{"permitNonce":"0x1"}}"#,
        r#"{"chainFacts":{"permitNonce":"1","other":1}}"#,
        r#"{"chainFacts":[]}"#,
    ] {
        assert_eq!(
            read_options(Some(bad)).unwrap_err().code(),
            INVALID_ARGUMENT,
            "{bad}"
        );
    }
    // Not declared: nothing to read.
    let plain = payment_required().to_string();
    assert_eq!(
        gas_sponsoring::gas_sponsoring_reads_text(&plain, &owner, &OwnedPolicy::default()).unwrap(),
        None
    );
}

/// `exact` on Solana (`full`): the official client's payments (svm.json)
/// verify, and `createSvmPayment`'s pure layer makes their transactions.
#[cfg(feature = "svm")]
#[test]
fn solana_payments_verify_and_are_made_as_the_official_client_makes_them() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../x402-core/tests/vectors/svm.json"
    );
    let f: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for p in f["payments"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        let body = json!({"x402Version": 2, "paymentPayload": p["paymentPayload"], "paymentRequirements": p["paymentRequirements"]});
        let v: Value =
            serde_json::from_str(&verify_text(&body.to_string(), NOW, None).unwrap()).unwrap();
        assert_eq!(v["isValid"], true, "{name}: {v}");
        assert_eq!(v["payer"], p["client"]["payer"], "{name}");

        let c = &p["client"];
        let key = svm::read_seed(c["payerSeed"].as_str().unwrap()).unwrap();
        let mut nonce = [0u8; 32];
        if let Some(h) = c["memoNonce"].as_str() {
            for (i, b) in nonce.iter_mut().take(16).enumerate() {
                *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap();
            }
        }
        let facts = json!({"tokenProgram": c["tokenProgram"], "decimals": c["decimals"], "recentBlockhash": c["blockhash"]});
        let pr = json!({"x402Version": 2, "resource": {"url": "https://example.com/a"}, "accepts": [p["paymentRequirements"]]});
        let value = svm::create_svm_payment_text(
            &pr.to_string(),
            &key,
            &facts.to_string(),
            nonce,
            &OwnedPolicy::default(),
        )
        .unwrap();
        let doc: Value =
            serde_json::from_str(&decode_header_text("PAYMENT-SIGNATURE", &value).unwrap())
                .unwrap();
        assert_eq!(doc["payload"], p["paymentPayload"]["payload"], "{name}");
        let v: Value = serde_json::from_str(
            &verify_header_text(&value, &p["paymentRequirements"].to_string(), NOW, None).unwrap(),
        )
        .unwrap();
        assert_eq!(v["isValid"], true, "{name}: {v}");
    }
    assert!(svm::read_seed("0x12").is_err());
    let bad = svm::create_svm_payment_text(
        "{}",
        &svm::read_seed(&"11".repeat(32)).unwrap(),
        r#"{"decimals":6}"#,
        [0; 32],
        &OwnedPolicy::default(),
    )
    .unwrap_err();
    assert!(bad.message().contains("tokenProgram"), "{}", bad.message());
}
