//! `exact` on Solana through the generic entry points the bindings call
//! (`verify::verify_json`, `verify::verify_header`, and
//! `client::create_svm_payment_to_sink`), against `tests/vectors/svm.json`.
//! Without the `svm` feature (and with `std`) a Solana requirement is a typed
//! refusal.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use paywire::verify::{Config, verify_json};
use serde_json::{Value, json};

fn file() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/svm.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn body(v: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "x402Version": 2,
        "paymentPayload": v["paymentPayload"],
        "paymentRequirements": v["paymentRequirements"],
    }))
    .unwrap()
}

/// The verdict's JSON, as the bindings write it.
fn verdict_json(body: &[u8]) -> Value {
    let verdict = verify_json(body, 1_750_000_000, &Config::default());
    let mut out = Vec::new();
    paywire::json::ToJson::write_json(&verdict, &mut out).unwrap();
    assert!(out.len() <= paywire::verify::VERDICT_JSON_MAX);
    serde_json::from_slice(&out).unwrap()
}

#[cfg(all(not(feature = "svm"), feature = "std"))]
#[test]
fn without_svm_a_solana_requirement_is_a_typed_refusal() {
    use paywire::error::ErrorKind;
    let f = file();
    let v = &f["payments"][0];
    let out = verdict_json(&body(v));
    assert_eq!(out["isValid"], false);
    assert_eq!(out["invalidReason"], "unsupported_scheme");
    let message = out["invalidMessage"].as_str().unwrap();
    assert!(
        message.contains("solana:* networks need paywire's `svm` feature"),
        "{message}"
    );
    // The client refuses it with the same kind.
    let pr = serde_json::to_vec(&json!({
        "x402Version": 2,
        "resource": {"url": "https://example.com/a"},
        "accepts": [v["paymentRequirements"]],
    }))
    .unwrap();
    let key = paywire::evm::PrivateKey::from_bytes(&[0x11; 32]).unwrap();
    let mut sink = Vec::new();
    let e = paywire::client::create_payment_to_sink(
        &pr,
        &key,
        [0; 32],
        1_750_000_000,
        &paywire::client::Policy::default(),
        &mut sink,
    )
    .unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::NetworkFamilyNotBuilt { family: "solana" }
    );
}

#[cfg(feature = "svm")]
mod with_svm {
    use super::*;
    use paywire::client::{Policy, SvmFacts, create_svm_payment_to_sink};
    use paywire::svm::Pubkey;

    fn hex<const N: usize>(s: &str) -> [u8; N] {
        let mut out = [0u8; N];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    #[test]
    fn every_vector_gets_the_solana_verifiers_verdict() {
        let f = file();
        let config = paywire::svm::verify::Config::default();
        let mut n = 0;
        for v in f["verdicts"].as_array().unwrap() {
            let name = v["name"].as_str().unwrap();
            if !v["facilitatorOptions"].is_null() {
                continue;
            }
            let b = body(v);
            let direct = paywire::svm::verify::verify_json(&b, &config);
            let out = verdict_json(&b);
            assert_eq!(out["isValid"], direct.is_valid(), "{name}");
            assert_eq!(out["invalidReason"].as_str(), direct.reason_str(), "{name}");
            assert_eq!(
                out["payer"].as_str().map(str::to_owned),
                direct.payer().map(|p| p.to_string()),
                "{name}"
            );
            n += 1;
        }
        assert!(n >= 40, "{n}");
    }

    #[test]
    fn mutations_are_refused_with_the_reference_reasons() {
        let f = file();
        for (name, reason) in [
            ("wrong-mint", "invalid_exact_svm_payload_mint_mismatch"),
            ("amount-plus-1", "invalid_exact_svm_payload_amount_mismatch"),
            (
                "bad-signature",
                "invalid_exact_svm_payload_signature_invalid",
            ),
            ("memo-mismatch", "invalid_exact_svm_payload_memo_mismatch"),
            (
                "fee-payer-authority",
                "invalid_exact_svm_payload_transaction_fee_payer_transferring_funds",
            ),
            ("network-mismatch", "invalid_exact_svm_network_mismatch"),
        ] {
            let v = f["verdicts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == name)
                .unwrap();
            let out = verdict_json(&body(v));
            assert_eq!(out["isValid"], false, "{name}");
            assert_eq!(out["invalidReason"], reason, "{name}");
            assert_eq!(
                out["invalidReason"], v["official"]["invalidReason"],
                "{name}"
            );
        }
    }

    #[test]
    fn official_payments_are_valid_owing_the_chain_checks() {
        let f = file();
        for p in f["payments"].as_array().unwrap() {
            let name = p["name"].as_str().unwrap();
            let out = verdict_json(&body(p));
            assert_eq!(out["isValid"], true, "{name}: {out}");
            assert_eq!(out["payer"], p["client"]["payer"], "{name}");
            let checks: Vec<&str> = out["extra"]["chainChecks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["check"].as_str().unwrap())
                .collect();
            assert_eq!(
                checks,
                [
                    "blockhashRecent",
                    "destinationExists",
                    "sourceBalanceAtLeast",
                    "simulate"
                ],
                "{name}"
            );
            assert_eq!(out["extra"]["chainChecks"][2]["amount"], "1000");
            assert_eq!(
                out["extra"]["chainChecks"][0]["blockhash"],
                p["client"]["blockhash"]
            );

            // The same payment as a PAYMENT-SIGNATURE header.
            let pp = serde_json::to_vec(&p["paymentPayload"]).unwrap();
            let mut value = vec![0u8; pp.len() * 2];
            let k = paywire::header::base64_encode(&pp, &mut value).unwrap();
            let value = std::str::from_utf8(&value[..k]).unwrap();
            let rq = serde_json::to_vec(&p["paymentRequirements"]).unwrap();
            let mut scratch = vec![0u8; paywire::header::base64_decoded_len(value.len())];
            let verdict = paywire::verify::verify_header(
                value,
                &rq,
                1_750_000_000,
                &Config::default(),
                &mut scratch,
            );
            assert!(verdict.is_valid(), "{name}: {verdict:?}");
            assert_eq!(
                verdict.svm_payer().unwrap().to_string(),
                p["client"]["payer"].as_str().unwrap()
            );
            assert_eq!(verdict.svm_chain_checks().count(), 4);
            assert_eq!(verdict.payer, None);
        }
    }

    fn payment_required(req: &Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "x402Version": 2,
            "resource": {"url": "https://example.com/a"},
            "accepts": [
                {"scheme": "exact", "network": "eip155:84532", "amount": "1", "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e", "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "maxTimeoutSeconds": 60, "extra": {"name": "USDC", "version": "2"}},
                req,
            ],
        }))
        .unwrap()
    }

    fn facts(c: &Value) -> SvmFacts {
        SvmFacts {
            token_program: Pubkey::parse(c["tokenProgram"].as_str().unwrap()).unwrap(),
            decimals: u8::try_from(c["decimals"].as_u64().unwrap()).unwrap(),
            recent_blockhash: Some(Pubkey::parse(c["blockhash"].as_str().unwrap()).unwrap().0),
        }
    }

    fn memo_nonce(c: &Value) -> [u8; 16] {
        c["memoNonce"].as_str().map_or([0; 16], hex::<16>)
    }

    fn decode(value: &[u8]) -> Value {
        let mut buf = vec![0u8; value.len()];
        let n = paywire::header::base64_decode(value, &mut buf).unwrap();
        serde_json::from_slice(&buf[..n]).unwrap()
    }

    #[test]
    fn the_client_makes_the_official_transactions() {
        let f = file();
        for p in f["payments"].as_array().unwrap() {
            let name = p["name"].as_str().unwrap();
            let c = &p["client"];
            let key = paywire::svm::client::SigningKey::from_bytes(&hex::<32>(
                c["payerSeed"].as_str().unwrap(),
            ));
            let mut out = Vec::new();
            let created = create_svm_payment_to_sink(
                &payment_required(&p["paymentRequirements"]),
                &key,
                &facts(c),
                memo_nonce(c),
                &Policy::default(),
                &mut out,
            )
            .unwrap();
            assert_eq!(created.index, 1, "{name}");
            assert_eq!(created.len, out.len());
            assert_eq!(created.payer.to_string(), c["payer"].as_str().unwrap());
            let doc = decode(&out);
            assert_eq!(doc["x402Version"], 2);
            assert_eq!(doc["accepted"], p["paymentRequirements"], "{name}");
            assert_eq!(doc["resource"]["url"], "https://example.com/a");
            assert_eq!(
                doc["payload"], p["paymentPayload"]["payload"],
                "{name}: the official client's bytes"
            );
            // And it verifies.
            let v = json!({"paymentPayload": doc, "paymentRequirements": p["paymentRequirements"]});
            assert_eq!(verdict_json(&body(&v))["isValid"], true, "{name}");
        }
    }

    #[test]
    fn the_client_says_what_it_lacks() {
        let f = file();
        let p = &f["payments"][0];
        let c = &p["client"];
        let key = paywire::svm::client::SigningKey::from_bytes(&[7; 32]);
        let mut req = p["paymentRequirements"].clone();
        req["extra"]
            .as_object_mut()
            .unwrap()
            .remove("recentBlockhash");
        let no_hash = SvmFacts {
            recent_blockhash: None,
            ..facts(c)
        };
        let e = create_svm_payment_to_sink(
            &payment_required(&req),
            &key,
            &no_hash,
            [1; 16],
            &Policy::default(),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert_eq!(e.reason().as_str(), "invalid_payment_requirements");
        assert_eq!(e.field(), "extra.recentBlockhash");
        // The host's blockhash serves when the requirement has none.
        let mut out = Vec::new();
        create_svm_payment_to_sink(
            &payment_required(&req),
            &key,
            &facts(c),
            [1; 16],
            &Policy::default(),
            &mut out,
        )
        .unwrap();
        let doc = decode(&out);
        let v = json!({"paymentPayload": doc, "paymentRequirements": req});
        assert_eq!(verdict_json(&body(&v))["isValid"], true);

        // A policy naming EVM assets allows no Solana one.
        let usdc =
            paywire::evm::Address::parse("0x036CbD53842c5426634e7929541eC2318f3dCF7e").unwrap();
        let policy = Policy {
            assets: core::slice::from_ref(&usdc),
            ..Policy::default()
        };
        let e = create_svm_payment_to_sink(
            &payment_required(&req),
            &key,
            &facts(c),
            [1; 16],
            &policy,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("asset not allowed"), "{e}");

        // An EVM key is pointed to the Solana client.
        let evm = paywire::evm::PrivateKey::from_bytes(&[0x11; 32]).unwrap();
        let only_solana = serde_json::to_vec(&json!({
            "x402Version": 2,
            "resource": {"url": "https://example.com/a"},
            "accepts": [req],
        }))
        .unwrap();
        let e = paywire::client::create_payment_to_sink(
            &only_solana,
            &evm,
            [0; 32],
            1_750_000_000,
            &Policy::default(),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("Ed25519 key"), "{e}");
    }
}
