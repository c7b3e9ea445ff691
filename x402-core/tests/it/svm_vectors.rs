//! `exact` on Solana against the official `@x402/svm` 2.27: the vectors are
//! `tests/vectors/svm.json`, written by `tests/vectors/gen/src/gen-svm.mjs`.
//! Every payment (made by the official client, Token and Token-2022, with and
//! without memo) and every mutation of one must get the official
//! facilitator's verdict (its reason, and the payer it reports), except the
//! documented differences ([`DIFFERENCES`], also in the README's "stricter
//! than the reference" table); this crate's client must make the official
//! client's transactions byte for byte (Ed25519 signatures are deterministic).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use paywire::json::{Limits, parse};
use paywire::svm::verify::{Config, Verdict, verify};
use paywire::svm::{Pubkey, SvmReason};
use paywire::types::FromJson;
use paywire::types::v2::PaymentRequirements;
use serde_json::Value;

/// Vectors where this crate answers otherwise, and what it answers.
const DIFFERENCES: &[(&str, &str)] = &[
    // The specification's fee payer isolation (MUST): the fee payer appears
    // in no instruction's accounts. The reference checks only the
    // transfer's authority.
    (
        "fee-payer-in-memo-accounts",
        "invalid_exact_svm_payload_transaction_fee_payer_transferring_funds",
    ),
    (
        "other-fee-payer-in-memo-accounts",
        "invalid_exact_svm_payload_transaction_fee_payer_transferring_funds",
    ),
    // A compute unit limit cap (400,000 by default); the reference caps it
    // only when configured, with this reason.
    (
        "compute-limit-above-local-cap",
        "invalid_exact_svm_payload_transaction_instructions_compute_limit_instruction_too_high",
    ),
    // The strict decoder: a length not in its shortest form, bytes after
    // the message, a key listed twice. The reference's decoder reads the
    // first two and the runtime refuses the third only when it is sent.
    (
        "noncanonical-compact-u16",
        "invalid_exact_svm_payload_transaction_could_not_be_decoded",
    ),
    (
        "trailing-bytes",
        "invalid_exact_svm_payload_transaction_could_not_be_decoded",
    ),
    (
        "duplicate-key",
        "invalid_exact_svm_payload_transaction_could_not_be_decoded",
    ),
    // A required signer whose key has small order (the identity point),
    // with a signature that holds for it under the cofactorless equation:
    // WebCrypto accepts it; `verify_strict`, as the network's signature
    // verification, refuses weak keys.
    (
        "small-order-signer",
        "invalid_exact_svm_payload_signature_invalid",
    ),
    // Canonical base64 only (as for the headers): the reference's decoder
    // accepts missing padding.
    (
        "unpadded-base64",
        "invalid_exact_svm_payload_transaction_could_not_be_decoded",
    ),
    // The memo compared byte for byte: the reference decodes the data as
    // UTF-8 with replacement first, so 0xff equals "\u{fffd}" there.
    ("memo-not-utf8", "invalid_exact_svm_payload_memo_mismatch"),
    // Cut short: the reference decodes what is left and fails the
    // signature; here it is not a transaction at all.
    (
        "truncated",
        "invalid_exact_svm_payload_transaction_could_not_be_decoded",
    ),
];

fn file() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/svm.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn fee_payers(f: &Value) -> Vec<Pubkey> {
    f["feePayers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Pubkey::parse(v.as_str().unwrap()).unwrap())
        .collect()
}

/// The core's verdict on one vector: (reason or None, payer).
fn judge(v: &Value, config: &Config<'_>) -> (Option<String>, String) {
    let pp = serde_json::to_string(&v["paymentPayload"]).unwrap();
    let rq = serde_json::to_string(&v["paymentRequirements"]).unwrap();
    let ppv = parse(pp.as_bytes(), &Limits::DEFAULT).unwrap();
    let rqv = parse(rq.as_bytes(), &Limits::DEFAULT).unwrap();
    let reqs = PaymentRequirements::from_json(rqv).unwrap();
    let verdict = verify(ppv.as_object().unwrap(), &reqs, config);
    let payer = verdict.payer().map(|p| p.to_string()).unwrap_or_default();
    (verdict.reason_str().map(str::to_owned), payer)
}

/// The reason without the reference's free-text suffix (`reason: message`).
fn official_reason(v: &Value) -> Option<String> {
    v["official"]["invalidReason"]
        .as_str()
        .map(|s| s.split(": ").next().unwrap().to_owned())
}

#[test]
fn verdicts_equal_the_official_facilitator() {
    let f = file();
    let fps = fee_payers(&f);
    let config = Config {
        fee_payers: &fps,
        ..Config::default()
    };
    let verdicts = f["verdicts"].as_array().unwrap();
    assert!(verdicts.len() >= 40, "{}", verdicts.len());
    let mut equal = 0;
    let mut differ = 0;
    for v in verdicts {
        let name = v["name"].as_str().unwrap();
        // The reference's options, where the vector set them.
        let options = &v["facilitatorOptions"];
        let mut config = config;
        if let Some(m) = options["maxComputeUnits"].as_u64() {
            config.max_compute_units = u32::try_from(m).unwrap();
        }
        if let Some(m) = options["maxRequiredSignatures"].as_u64() {
            config.max_required_signatures = Some(u8::try_from(m).unwrap());
        }
        let (reason, payer) = judge(v, &config);
        let official = official_reason(v);
        if let Some((_, ours)) = DIFFERENCES.iter().find(|(n, _)| *n == name) {
            assert_ne!(
                official.as_deref(),
                Some(*ours),
                "{name}: no longer a difference"
            );
            assert_eq!(reason.as_deref(), Some(*ours), "{name}");
            differ += 1;
            continue;
        }
        assert_eq!(reason, official, "{name}");
        assert_eq!(
            payer,
            v["official"]["payer"].as_str().unwrap(),
            "{name}: payer"
        );
        if let Some(r) = &reason {
            // Every official reason is one this crate knows by name.
            assert!(SvmReason::from_wire(r).is_some(), "{name}: {r}");
        }
        equal += 1;
    }
    assert_eq!(differ, DIFFERENCES.len());
    assert!(equal >= 40, "{equal}");
}

#[test]
fn official_payments_are_valid_and_owe_the_chain_checks() {
    let f = file();
    let fps = fee_payers(&f);
    let config = Config {
        fee_payers: &fps,
        ..Config::default()
    };
    let payments = f["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 5);
    for p in payments {
        let pp = serde_json::to_string(&p["paymentPayload"]).unwrap();
        let rq = serde_json::to_string(&p["paymentRequirements"]).unwrap();
        let ppv = parse(pp.as_bytes(), &Limits::DEFAULT).unwrap();
        let reqs = PaymentRequirements::from_json(parse(rq.as_bytes(), &Limits::DEFAULT).unwrap())
            .unwrap();
        let verdict = verify(ppv.as_object().unwrap(), &reqs, &config);
        let Verdict::Valid {
            payer, transfer, ..
        } = verdict
        else {
            panic!("{}: {verdict:?}", p["name"]);
        };
        assert_eq!(payer.to_string(), p["client"]["payer"].as_str().unwrap());
        assert_eq!(transfer.amount, 1000);
        assert_eq!(
            transfer.program.to_string(),
            p["client"]["tokenProgram"].as_str().unwrap()
        );
        let names: Vec<_> = verdict.chain_checks().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "blockhashRecent",
                "destinationExists",
                "sourceBalanceAtLeast",
                "simulate"
            ]
        );
    }
}

#[test]
fn address_order_is_kits() {
    use paywire::svm::client::address_order;
    let f = file();
    let sorted: Vec<Pubkey> = f["addressOrder"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Pubkey::parse(v.as_str().unwrap()).unwrap())
        .collect();
    assert!(sorted.len() >= 40);
    let mut ours = sorted.clone();
    ours.reverse();
    ours.sort_by(address_order);
    assert_eq!(ours, sorted);
}

fn hex32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[test]
fn client_makes_the_official_clients_bytes() {
    use paywire::header::base64_encode;
    use paywire::svm::client::{ExactSvmPayload, Payment, create_transaction};
    use paywire::svm::tx::MAX_TRANSACTION_SIZE;

    let f = file();
    for p in f["payments"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        let c = &p["client"];
        let rq = serde_json::to_string(&p["paymentRequirements"]).unwrap();
        let reqs = PaymentRequirements::from_json(parse(rq.as_bytes(), &Limits::DEFAULT).unwrap())
            .unwrap();
        let blockhash = Pubkey::parse(c["blockhash"].as_str().unwrap()).unwrap().0;
        let nonce: [u8; 16] = match c["memoNonce"].as_str() {
            Some(h) => {
                let mut n = [0u8; 16];
                n.copy_from_slice(&hex32(&format!("{h:0<64}"))[..16]);
                n
            }
            None => [0u8; 16],
        };
        let mut memo_buf = [0u8; 256];
        let payment = Payment::from_requirements(
            &reqs,
            Pubkey::parse(c["tokenProgram"].as_str().unwrap()).unwrap(),
            u8::try_from(c["decimals"].as_u64().unwrap()).unwrap(),
            Some(blockhash),
            nonce,
            &mut memo_buf,
        )
        .unwrap();
        let key =
            paywire::svm::client::SigningKey::from_bytes(&hex32(c["payerSeed"].as_str().unwrap()));
        assert_eq!(
            Pubkey(key.verifying_key().to_bytes()).to_string(),
            c["payer"].as_str().unwrap()
        );
        let mut out = [0u8; MAX_TRANSACTION_SIZE];
        let n = create_transaction(&key, &payment, &mut out).unwrap();
        let mut b64 = [0u8; 2048];
        let k = base64_encode(&out[..n], &mut b64).unwrap();
        let official = p["paymentPayload"]["payload"]["transaction"]
            .as_str()
            .unwrap();
        assert_eq!(std::str::from_utf8(&b64[..k]).unwrap(), official, "{name}");
        let mut json = Vec::new();
        paywire::json::ToJson::write_json(
            &ExactSvmPayload {
                transaction: &out[..n],
            },
            &mut json,
        )
        .unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&json).unwrap(),
            p["paymentPayload"]["payload"],
            "{name}"
        );
        let mut whole = Vec::new();
        paywire::svm::client::write_payment_payload(&reqs, &out[..n], &mut whole).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&whole).unwrap(),
            p["paymentPayload"],
            "{name}"
        );
    }
}
