//! Cross-checks against independent implementations, through vectors written by
//! `tests/vectors/gen` (viem 2.57.1, eth-account 0.14.0, the official `@x402/evm`
//! 2.27.0 client and facilitator):
//! - EIP-712 domain separators, struct hashes, digests and RFC 6979 signatures
//!   are identical, byte for byte;
//! - payments created by the official client verify here;
//! - the official facilitator's verdicts on valid and tampered payments are
//!   reproduced reason for reason, except where this crate is documented stricter;
//! - payments created here are written to `target/x402-created-payments.json`, for
//!   the generator's check mode to run the official facilitator on them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use paywire::client::{Policy, create_payment};
use paywire::evm::eip712::{self, Domain};
use paywire::evm::{Address, B256, PrivateKey, Signature};
use paywire::json::JsonStr;
use paywire::types::payload::{
    Eip3009Authorization, Permit2Authorization, TokenPermissions, Witness,
};
use paywire::verify::{self, Config};
use paywire::{Amount, header};
use serde_json::{Value, json};

fn vectors(file: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(file);
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["vectors"].as_array().unwrap().clone()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}
fn addr(v: &Value) -> Address {
    s(v).parse().unwrap()
}
fn amount(v: &Value) -> Amount {
    s(v).parse().unwrap()
}
fn b256(v: &Value) -> [u8; 32] {
    s(v).parse::<B256>().unwrap().0
}
fn hex(h: [u8; 32]) -> String {
    B256(h).to_string()
}

fn check_eip712(file: &str) -> usize {
    let mut n = 0;
    for v in vectors(file) {
        let name = s(&v["name"]);
        let d = &v["domain"];
        let m = &v["message"];
        let chain_id = d["chainId"].as_u64().unwrap();
        let (separator, struct_hash) = match s(&v["kind"]) {
            "eip3009" => {
                let domain = Domain::eip3009(
                    JsonStr::new(s(&d["name"])),
                    JsonStr::new(s(&d["version"])),
                    chain_id,
                    addr(&d["verifyingContract"]),
                );
                let auth = Eip3009Authorization {
                    from: addr(&m["from"]),
                    to: addr(&m["to"]),
                    value: amount(&m["value"]),
                    valid_after: amount(&m["validAfter"]),
                    valid_before: amount(&m["validBefore"]),
                    nonce: B256(b256(&m["nonce"])),
                };
                (
                    domain.separator(),
                    eip712::transfer_with_authorization_hash(&auth),
                )
            }
            kind @ ("permit2-exact" | "permit2-upto") => {
                assert_eq!(s(&d["name"]), "Permit2");
                assert_eq!(addr(&d["verifyingContract"]), eip712::PERMIT2_ADDRESS);
                let w = &m["witness"];
                let auth = Permit2Authorization {
                    from: Address::default(),
                    permitted: TokenPermissions {
                        token: addr(&m["permitted"]["token"]),
                        amount: amount(&m["permitted"]["amount"]),
                    },
                    spender: addr(&m["spender"]),
                    nonce: amount(&m["nonce"]),
                    deadline: amount(&m["deadline"]),
                    witness: Witness {
                        to: addr(&w["to"]),
                        facilitator: (kind == "permit2-upto").then(|| addr(&w["facilitator"])),
                        valid_after: amount(&w["validAfter"]),
                    },
                };
                (
                    Domain::permit2(chain_id).separator(),
                    eip712::permit_witness_transfer_from_hash(&auth),
                )
            }
            other => panic!("{name}: kind {other}"),
        };
        assert_eq!(
            hex(separator),
            s(&v["domainSeparator"]).to_lowercase(),
            "{name}: domain separator"
        );
        assert_eq!(
            hex(struct_hash),
            s(&v["structHash"]).to_lowercase(),
            "{name}: struct hash"
        );
        let digest = eip712::digest(&separator, &struct_hash);
        assert_eq!(
            hex(digest),
            s(&v["digest"]).to_lowercase(),
            "{name}: digest"
        );
        let key = PrivateKey::from_hex(s(&v["privateKey"])).unwrap();
        assert_eq!(key.address(), addr(&v["address"]), "{name}: address");
        let sig = key.sign_digest(&digest);
        assert_eq!(
            sig.to_hex().as_str(),
            s(&v["signature"]).to_lowercase(),
            "{name}: RFC 6979 signature"
        );
        let theirs = Signature::parse_hex(JsonStr::new(s(&v["signature"]))).unwrap();
        assert_eq!(
            theirs.recover(&digest).unwrap(),
            addr(&v["address"]),
            "{name}: recovery"
        );
        n += 1;
    }
    n
}

#[test]
fn eip712_digests_and_signatures_match_viem() {
    assert!(check_eip712("eip712.json") >= 60);
}

#[test]
fn eip712_digests_and_signatures_match_eth_account() {
    assert!(check_eip712("eip712-eth-account.json") >= 20);
}

fn config_addresses(v: &Value) -> Vec<Address> {
    v["facilitatorAddresses"]
        .as_array()
        .map(|a| a.iter().map(addr).collect())
        .unwrap_or_default()
}

#[test]
fn official_client_payments_verify() {
    let mut n = 0;
    for v in vectors("official-payments.json") {
        let name = s(&v["name"]);
        let addresses = config_addresses(&v);
        let config = Config {
            facilitator_addresses: &addresses,
            smart_wallets: false,
            erc20_approval_sponsoring: false,
        };
        let req = serde_json::to_vec(&v["paymentRequirements"]).unwrap();
        let value = s(&v["header"]);
        let mut scratch = vec![0u8; value.len()];
        let verdict = verify::verify_header(
            value,
            &req,
            v["now"].as_u64().unwrap(),
            &config,
            &mut scratch,
        );
        assert!(verdict.is_valid(), "{name}: {verdict:?}");
        assert_eq!(verdict.payer.unwrap(), addr(&v["payer"]), "{name}");
        // The header decodes to the payload the SDK says it sent.
        let decoded = header::decode_payment_signature(value, &mut scratch).unwrap();
        let ours: Value =
            serde_json::from_slice(&paywire::json::ToJson::to_json_vec(&decoded)).unwrap();
        assert_eq!(ours, v["paymentPayload"], "{name}");
        n += 1;
    }
    assert!(n >= 10);
}

/// What this crate answers where it deliberately differs from the reference.
fn expected_difference(v: &Value) -> Option<(bool, Option<&'static str>)> {
    let name = s(&v["name"]);
    // An EIP-2612 signature that is not 65 bytes is refused for its form; the
    // reference finds out from a simulation that cannot be built.
    if v["stricter"] == "eip2612-signature-length" {
        return Some((false, Some("invalid_eip2612_extension_format")));
    }
    if v["stricter"] == "high-s" {
        let reason = if name.starts_with("eip3009") || name.contains("/eip3009") {
            "invalid_exact_evm_signature"
        } else {
            "invalid_permit2_signature"
        };
        return Some((false, Some(reason)));
    }
    match v["verdict"].get("threw").and_then(Value::as_str) {
        // The reference throws for a scheme it has no facilitator for.
        Some(t) if t.starts_with("No facilitator registered") => {
            Some((false, Some("unsupported_scheme")))
        }
        // The reference crashes on a Permit2 payload in v1; v1 is EIP-3009 only.
        Some(_) => Some((false, Some("invalid_payload"))),
        None => None,
    }
}

#[test]
fn official_facilitator_verdicts_are_reproduced() {
    let mut per_category: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for v in vectors("official-verdicts.json") {
        let name = s(&v["name"]);
        let addresses = config_addresses(&v);
        let config = Config {
            facilitator_addresses: &addresses,
            smart_wallets: false,
            erc20_approval_sponsoring: false,
        };
        let body = serde_json::to_vec(&v["request"]).unwrap();
        let verdict = verify::verify_json(&body, v["now"].as_u64().unwrap(), &config);
        let ours_reason = verdict.reason.map(|r| r.as_str());
        let entry = per_category
            .entry(s(&v["category"]).to_string())
            .or_default();
        entry.0 += 1;
        match expected_difference(&v) {
            Some((valid, reason)) => {
                assert_eq!(
                    (verdict.is_valid(), ours_reason),
                    (valid, reason),
                    "{name}: documented difference"
                );
                entry.2 += 1;
            }
            None => {
                let theirs = &v["verdict"];
                assert_eq!(
                    verdict.is_valid(),
                    theirs["isValid"].as_bool().unwrap(),
                    "{name}: {verdict:?}"
                );
                assert_eq!(
                    ours_reason,
                    theirs["invalidReason"].as_str(),
                    "{name}: {}",
                    verdict.message.as_str()
                );
                // payer: the reference echoes the payload's `from`; "" means none.
                let their_payer = theirs["payer"].as_str().filter(|p| !p.is_empty());
                assert_eq!(
                    verdict.payer.map(|p| p.to_string().to_lowercase()),
                    their_payer.map(str::to_lowercase),
                    "{name}: payer"
                );
                entry.1 += 1;
            }
        }
    }
    for (cat, (total, same, stricter)) in &per_category {
        eprintln!(
            "{cat:28} {total:3} vectors: {same:3} identical verdicts, {stricter} documented differences"
        );
    }
    let total: usize = per_category.values().map(|c| c.0).sum();
    assert!(total >= 100, "{total}");
}

/// Payments carrying a signed approval (`erc20ApprovalGasSponsoring`), judged
/// as the official facilitator with that extension registered judges them;
/// a host that does not sponsor approvals ignores the extension, as the
/// reference does without it registered.
#[cfg(feature = "erc20-approval")]
#[test]
fn signed_approvals_are_judged_as_the_official_facilitator_judges_them() {
    let (mut same, mut stricter) = (0, 0);
    for v in vectors("erc20-approval.json") {
        let name = s(&v["name"]);
        let body = serde_json::to_vec(&v["request"]).unwrap();
        let now = v["now"].as_u64().unwrap();
        let config = |sponsoring| Config {
            facilitator_addresses: &[],
            smart_wallets: false,
            erc20_approval_sponsoring: sponsoring,
        };
        let verdict = verify::verify_json(&body, now, &config(true));
        let ours = (verdict.is_valid(), verdict.reason.map(|r| r.as_str()));
        let theirs = &v["verdict"];
        let theirs = (
            theirs["isValid"].as_bool().unwrap(),
            theirs["invalidReason"].as_str(),
        );
        if let Some(reason) = v["stricter"]["reason"].as_str() {
            assert!(
                theirs.0,
                "{name}: a documented difference the reference accepts"
            );
            assert_eq!(ours, (false, Some(reason)), "{name}: documented difference");
            stricter += 1;
        } else {
            assert_eq!(ours, theirs, "{name}: {}", verdict.message.as_str());
            same += 1;
        }
        // Not sponsoring: the extension is not read at all.
        let ignored = verify::verify_json(&body, now, &config(false));
        if !name.contains("bad-permit2-signature") {
            assert!(ignored.is_valid(), "{name}: {ignored:?}");
            assert!(
                ignored
                    .chain_checks()
                    .any(|c| matches!(c, verify::ChainCheck::Permit2AllowanceAtLeast { .. })),
                "{name}: an ignored approval leaves the allowance to check"
            );
        }
        if ours.0 {
            assert!(
                !verdict
                    .chain_checks()
                    .any(|c| matches!(c, verify::ChainCheck::Permit2AllowanceAtLeast { .. }))
                    || name.contains("version-missing"),
                "{name}: a held approval owes no allowance"
            );
        }
    }
    eprintln!("erc20-approval: {same} identical verdicts, {stricter} documented differences");
    assert!(same >= 15 && stricter >= 5, "{same} {stricter}");
}

/// Creates payments for the official PaymentRequired documents with this crate and
/// writes them where `tests/vectors/gen/check.sh` (run by the test command) feeds
/// them to the official facilitator. Also verifies each one here.
#[test]
fn payments_created_here_verify_and_are_exported_for_the_official_check() {
    let mut entries = Vec::new();
    for (i, v) in vectors("official-payments.json").into_iter().enumerate() {
        let name = s(&v["name"]);
        let now = v["now"].as_u64().unwrap();
        let addresses = config_addresses(&v);
        let key = PrivateKey::from_bytes(&[u8::try_from(i + 1).unwrap(); 32]).unwrap();
        let pr = serde_json::to_vec(&v["paymentRequired"]).unwrap();
        let mut nonce = [0u8; 32];
        nonce[0] = 0xa5;
        nonce[31] = u8::try_from(i).unwrap();
        let policy = Policy {
            allow_upto: true,
            ..Policy::default()
        };
        let mut out = vec![0u8; 4096];
        let created = create_payment(&pr, &key, nonce, now, &policy, &mut out)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let value = std::str::from_utf8(&out[..created.len]).unwrap();
        let mut scratch = vec![0u8; value.len()];
        let payload = header::decode_payment_signature(value, &mut scratch).unwrap();
        let payload_json: Value =
            serde_json::from_slice(&paywire::json::ToJson::to_json_vec(&payload)).unwrap();
        let requirements = match &payload {
            paywire::types::facilitator::PaymentPayload::V2(p) => {
                serde_json::from_slice::<Value>(&paywire::json::ToJson::to_json_vec(&p.accepted))
                    .unwrap()
            }
            paywire::types::facilitator::PaymentPayload::V1(_) => {
                let accepts = v["paymentRequired"]["accepts"].as_array().unwrap();
                accepts[created.index].clone()
            }
        };
        assert_eq!(created.payer, key.address());
        // Verified here first.
        let body = json!({"x402Version": payload_json["x402Version"], "paymentPayload": payload_json, "paymentRequirements": requirements});
        let config = Config {
            facilitator_addresses: &addresses,
            smart_wallets: false,
            erc20_approval_sponsoring: false,
        };
        let verdict = verify::verify_json(&serde_json::to_vec(&body).unwrap(), now, &config);
        assert!(verdict.is_valid(), "{name}: {verdict:?}");
        entries.push(json!({
            "name": name,
            "x402Version": body["x402Version"],
            "paymentRequirements": requirements,
            "paymentPayload": payload_json,
            "now": now,
            "facilitatorAddresses": v.get("facilitatorAddresses").cloned().unwrap_or(Value::Null),
        }));
        // The same payment, malformed for the facilitator in one field each, is refused here.
        let tampered = serde_json::to_vec(&json!({"x402Version": body["x402Version"], "paymentPayload": payload_json, "paymentRequirements": requirements, "extra": 1})).unwrap();
        assert!(
            verify::verify_json(&tampered, now, &config).is_valid(),
            "{name}: unknown members of the body are ignored"
        );
        let expired =
            verify::verify_json(&serde_json::to_vec(&body).unwrap(), now + 10_000, &config);
        assert!(!expired.is_valid(), "{name}: accepted after expiry");
    }
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/x402-created-payments.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_vec_pretty(&entries).unwrap()).unwrap();
    assert!(entries.len() >= 10);
}
