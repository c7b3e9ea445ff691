//! `batch-settlement` on EVM against the official `@x402/evm` 2.27: the
//! vectors are `tests/vectors/batch-settlement-evm.json`, written by
//! `tests/vectors/gen/src/gen-batch-settlement.mjs`. Channel ids and digests
//! must be equal; every payload (made by the official client, valid or
//! tampered) must get the official facilitator's verdict, the checks owed to
//! the chain answered by the vector's fake chain; this crate's client must make
//! the official client's payloads byte for byte (signatures are RFC 6979);
//! the contract calls must be encoded as the official facilitator encodes them.
//!
//! Documented differences ([`DIFFERENCES`]) are listed here and in the
//! README's "stricter than the reference" table.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use paywire::Amount;
use paywire::evm::batch_settlement::client::{self, DepositMethod};
use paywire::evm::batch_settlement::types::{BatchPayload, ChannelConfig, ChannelState};
use paywire::evm::batch_settlement::verify::{
    ChainCheck, ChainFacts, Config, Requirements, Verdict, verify,
};
use paywire::evm::batch_settlement::{
    ClaimEntry, channel_id, claim_batch_digest, refund_digest, voucher_digest,
};
use paywire::evm::{B256, PrivateKey};
use paywire::json::{JsonValue, Limits, ToJson, parse};
use paywire::types::FromJson;
use paywire::types::v2::PaymentRequirements;
use serde_json::Value;

/// Vectors where this crate answers otherwise, and what it answers. Each is
/// stricter than the reference (README, "stricter than the reference").
const DIFFERENCES: &[(&str, &str)] = &[
    // Canonical decimals only: `BigInt("03000")` reads 3000.
    (
        "strict: voucher amount with a leading zero",
        "invalid_payload",
    ),
    // Out of the contract's uint128: refused when read; the reference fails
    // to hash it and answers with the signature reason.
    ("strict: voucher amount above uint128", "invalid_payload"),
    // EIP-2: the contract's ECDSA library refuses high-s signatures; viem
    // recovers them.
    (
        "strict: voucher with a high-s signature",
        "invalid_batch_settlement_evm_voucher_signature",
    ),
    // A refund of nothing: the reference's facilitator does not read
    // `amount`; its server refuses 0 later (`refund_amount_invalid`).
    ("strict: refund of amount 0", "invalid_payload"),
];

fn file() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/batch-settlement-evm.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn b256(v: &Value) -> B256 {
    B256::parse(v.as_str().unwrap()).unwrap()
}

fn amount(v: &Value) -> Amount {
    Amount::parse_decimal(v.as_str().unwrap()).unwrap()
}

fn with_value<R>(v: &Value, f: impl FnOnce(JsonValue<'_>) -> R) -> R {
    let text = serde_json::to_string(v).unwrap();
    let parsed = parse(text.as_bytes(), &Limits::DEFAULT).unwrap();
    f(parsed)
}

fn config(v: &Value) -> ChannelConfig {
    with_value(v, |j| ChannelConfig::from_json(j).unwrap())
}

#[test]
fn channel_ids_agree() {
    let f = file();
    let ids = f["channelIds"].as_array().unwrap();
    assert!(ids.len() >= 7);
    for v in ids {
        let c = config(&v["channelConfig"]);
        assert_eq!(
            channel_id(&c, v["chainId"].as_u64().unwrap()),
            b256(&v["channelId"]),
            "{}",
            v["name"]
        );
    }
}

#[test]
fn digests_agree() {
    let f = file();
    let d = &f["digests"];
    for v in d["voucher"].as_array().unwrap() {
        let got = voucher_digest(
            v["chainId"].as_u64().unwrap(),
            &b256(&v["channelId"]),
            &amount(&v["maxClaimableAmount"]),
        );
        assert_eq!(B256(got), b256(&v["digest"]));
    }
    for v in d["refund"].as_array().unwrap() {
        let got = refund_digest(
            v["chainId"].as_u64().unwrap(),
            &b256(&v["channelId"]),
            &amount(&v["nonce"]),
            &amount(&v["amount"]),
        );
        assert_eq!(B256(got), b256(&v["digest"]));
    }
    for v in d["claimBatch"].as_array().unwrap() {
        let claims: Vec<ClaimEntry> = v["claims"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| ClaimEntry {
                channel_id: b256(&c["channelId"]),
                max_claimable_amount: amount(&c["maxClaimableAmount"]),
                total_claimed: amount(&c["totalClaimed"]),
            })
            .collect();
        let got = claim_batch_digest(v["chainId"].as_u64().unwrap(), &claims);
        assert_eq!(B256(got), b256(&v["digest"]));
    }
}

/// Our verdict, with the owed checks answered by the vector's chain.
fn our_verdict(v: &Value) -> (bool, Option<String>, Option<String>, Option<Value>) {
    let chain = &v["chain"];
    let facts = ChainFacts {
        channel: Some(ChannelState {
            balance: amount(&chain["balance"]),
            total_claimed: amount(&chain["totalClaimed"]),
            withdraw_requested_at: chain["withdrawRequestedAt"].as_u64().unwrap(),
            refund_nonce: amount(&chain["refundNonce"]),
        }),
        payer_balance: Some(amount(&chain["payerBalance"])),
    };
    let now = v["now"].as_u64().unwrap();
    let pp_text = serde_json::to_string(&v["paymentPayload"]).unwrap();
    let req_text = serde_json::to_string(&v["paymentRequirements"]).unwrap();
    let pp = parse(pp_text.as_bytes(), &Limits::DEFAULT).unwrap();
    let req_v = parse(req_text.as_bytes(), &Limits::DEFAULT).unwrap();
    let req = PaymentRequirements::from_json(req_v).unwrap();
    let verdict = verify(
        pp.as_object().unwrap(),
        &req,
        now,
        &facts,
        &Config::default(),
    );
    let payer = verdict.payer().map(|a| a.checksummed().as_str().to_owned());
    if let Verdict::Valid { .. } = verdict {
        for c in verdict.chain_checks() {
            let failed = match c {
                ChainCheck::Permit2AllowanceAtLeast { amount: a, .. } => {
                    amount(&chain["permit2Allowance"]) < a
                }
                ChainCheck::SimulateDeposit { .. } => false,
                other => panic!(
                    "{}: owed {other:?} although the facts were given",
                    v["name"]
                ),
            };
            if failed {
                return (
                    false,
                    Some(c.failure_reason().as_str().to_owned()),
                    payer,
                    None,
                );
            }
        }
        let out: Value = serde_json::from_slice(&verdict.to_json_vec()).unwrap();
        return (true, None, payer, out.get("extra").cloned());
    }
    (false, verdict.reason_str().map(str::to_owned), payer, None)
}

#[test]
fn verdicts_agree_with_the_official_facilitator() {
    let f = file();
    let vectors = f["verdicts"].as_array().unwrap();
    assert!(vectors.len() >= 50);
    let mut differences = 0;
    let mut failures = Vec::new();
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let official = &v["official"];
        assert!(
            official.get("threw").is_none(),
            "{name}: the reference threw"
        );
        let (valid, reason, payer, extra) = our_verdict(v);
        if let Some((_, ours)) = DIFFERENCES.iter().find(|(n, _)| *n == name) {
            differences += 1;
            if reason.as_deref() != Some(*ours) {
                failures.push(format!("{name}: documented {ours}, got {reason:?}"));
            }
            continue;
        }
        let official_valid = official["isValid"].as_bool().unwrap();
        let official_reason = official["invalidReason"].as_str().map(str::to_owned);
        if valid != official_valid || reason != official_reason {
            failures.push(format!(
                "{name}: official {official_valid} {official_reason:?}, ours {valid} {reason:?}"
            ));
            continue;
        }
        if let Some(p) = official["payer"].as_str() {
            if payer.as_deref().map(str::to_lowercase) != Some(p.to_lowercase()) {
                failures.push(format!("{name}: payer {p} vs {payer:?}"));
            }
        }
        // The reference echoes `channelId` as the payload wrote it; this
        // crate writes the canonical lowercase form.
        let lower = |e: Option<&Value>| {
            e.cloned().map(|mut e| {
                if let Some(id) = e.get("channelId").and_then(Value::as_str) {
                    e["channelId"] = Value::String(id.to_lowercase());
                }
                e
            })
        };
        if valid && lower(official.get("extra")) != lower(extra.as_ref()) {
            failures.push(format!("{name}: extra {} vs {extra:?}", official["extra"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(differences, DIFFERENCES.len());
}

#[test]
fn official_payloads_read_and_write_back_unchanged() {
    let f = file();
    for v in f["verdicts"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        if !name.ends_with(": valid") && !name.starts_with("refund: partial") {
            continue;
        }
        let payload = &v["paymentPayload"]["payload"];
        let written = with_value(payload, |j| {
            BatchPayload::from_json(j).unwrap().to_json_vec()
        });
        let back: Value = serde_json::from_slice(&written).unwrap();
        assert_eq!(&back, payload, "{name}");
    }
}

fn vector<'a>(f: &'a Value, name: &str) -> &'a Value {
    f["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap()
}

fn key(f: &Value, which: &str) -> PrivateKey {
    PrivateKey::from_hex(f["keys"][which].as_str().unwrap()).unwrap()
}

/// This crate's client, given the official client's randomness, makes the
/// same payloads.
#[test]
fn client_makes_the_official_payloads() {
    let f = file();
    let payer = key(&f, "payer");
    let cases = [
        "eip3009 deposit: valid",
        "permit2 deposit: valid",
        "voucher: valid",
        "refund: everything left",
        "refund: partial",
    ];
    for name in cases {
        let v = vector(&f, name);
        let payload = &v["paymentPayload"]["payload"];
        let req_text = serde_json::to_string(&v["paymentRequirements"]).unwrap();
        let req_v = parse(req_text.as_bytes(), &Limits::DEFAULT).unwrap();
        let r = PaymentRequirements::from_json(req_v).unwrap();
        let req = Requirements::from_requirements(&r).unwrap();
        let salt = b256(&payload["channelConfig"]["salt"]);
        let config = client::channel_config(payer.address(), None, &req, salt).unwrap();
        let max = amount(&payload["voucher"]["maxClaimableAmount"]);
        let now = v["now"].as_u64().unwrap();
        let created = match payload["type"].as_str().unwrap() {
            "deposit" => {
                let auth = &payload["deposit"]["authorization"];
                let method = if let Some(e) = auth.get("erc3009Authorization") {
                    DepositMethod::Erc3009 {
                        salt: b256(&e["salt"]),
                    }
                } else {
                    DepositMethod::Permit2 {
                        nonce: amount(&auth["permit2Authorization"]["nonce"]),
                    }
                };
                let amt = amount(&payload["deposit"]["amount"]);
                client::create_deposit(&payer, &payer, &config, &req, amt, max, method, now)
                    .unwrap()
            }
            "voucher" => client::create_voucher(&payer, &config, req.chain_id, max).unwrap(),
            "refund" => client::create_refund(
                &payer,
                &config,
                req.chain_id,
                max,
                payload.get("amount").map(amount),
            )
            .unwrap(),
            t => panic!("{t}"),
        };
        let ours: Value = serde_json::from_slice(&created.to_json_vec()).unwrap();
        assert_eq!(&ours, payload, "{name}");
    }
}

fn unhex(s: &str) -> Vec<u8> {
    let h = s.strip_prefix("0x").unwrap();
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

/// Encodes with `f` into a buffer of exactly `len` bytes, checks one byte
/// less is refused, and returns the bytes.
fn exact(
    len: usize,
    f: impl Fn(&mut [u8]) -> Result<usize, paywire::json::BufferTooSmall>,
) -> Vec<u8> {
    let mut short = vec![0u8; len - 1];
    assert!(f(&mut short).is_err());
    let mut out = vec![0u8; len];
    assert_eq!(f(&mut out).unwrap(), len);
    out
}

/// The contract's calls and the collectors' data, encoded as the official
/// facilitator encodes them (its own ABI, through viem).
#[test]
fn calldata_agrees() {
    use paywire::evm::Address;
    use paywire::evm::batch_settlement::abi;
    let f = file();
    let calls = f["calldata"].as_array().unwrap();
    assert!(calls.len() >= 13);
    let addr = |v: &Value| v.as_str().unwrap().parse::<Address>().unwrap();
    for v in calls {
        let want = unhex(v["calldata"].as_str().unwrap());
        let got = match v["call"].as_str().unwrap() {
            "deposit" => {
                let data = unhex(v["collectorData"].as_str().unwrap());
                exact(abi::deposit_len(data.len()), |out| {
                    abi::deposit(
                        &config(&v["channelConfig"]),
                        &amount(&v["amount"]),
                        &addr(&v["collector"]),
                        &data,
                        out,
                    )
                })
            }
            "refundWithSignature" => {
                let sig = unhex(v["signature"].as_str().unwrap());
                exact(abi::refund_with_signature_len(sig.len()), |out| {
                    abi::refund_with_signature(
                        &config(&v["channelConfig"]),
                        &amount(&v["amount"]),
                        &amount(&v["nonce"]),
                        &sig,
                        out,
                    )
                })
            }
            "settle" => abi::settle(&addr(&v["receiver"]), &addr(&v["token"])).to_vec(),
            "claimWithSignature" => {
                let sigs: Vec<Vec<u8>> = v["claims"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| unhex(c["signature"].as_str().unwrap()))
                    .collect();
                let claims: Vec<abi::VoucherClaim<'_>> = v["claims"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .zip(&sigs)
                    .map(|(c, s)| abi::VoucherClaim {
                        channel: config(&c["channelConfig"]),
                        max_claimable_amount: amount(&c["maxClaimableAmount"]),
                        signature: s,
                        total_claimed: amount(&c["totalClaimed"]),
                    })
                    .collect();
                let sig = unhex(v["signature"].as_str().unwrap());
                exact(abi::claim_with_signature_len(&claims, sig.len()), |out| {
                    abi::claim_with_signature(&claims, &sig, out)
                })
            }
            "erc3009CollectorData" => {
                let sig = unhex(v["signature"].as_str().unwrap());
                exact(abi::erc3009_collector_data_len(sig.len()), |out| {
                    abi::erc3009_collector_data(
                        &amount(&v["validAfter"]),
                        &amount(&v["validBefore"]),
                        &b256(&v["salt"]),
                        &sig,
                        out,
                    )
                })
            }
            "permit2CollectorData" => {
                let sig = unhex(v["signature"].as_str().unwrap());
                let permit = unhex(v["eip2612PermitData"].as_str().unwrap());
                exact(
                    abi::permit2_collector_data_len(sig.len(), permit.len()),
                    |out| {
                        abi::permit2_collector_data(
                            &amount(&v["nonce"]),
                            &amount(&v["deadline"]),
                            &sig,
                            &permit,
                            out,
                        )
                    },
                )
            }
            other => panic!("{other}"),
        };
        assert_eq!(got, want, "{}", v["call"]);
    }
}
