//! The resource server's decision per `batch-settlement` channel
//! (`paywire::evm::batch_settlement::server`) against the official server's:
//! the vectors are `tests/vectors/batch-settlement-server.json`, written by
//! `tests/vectors/gen/src/gen-batch-server.mjs` driving the official
//! `BatchSettlementEvmScheme` server's hooks (`@x402/evm` 2.27). Each vector
//! is decided here with the same record, payload, price, time and policy:
//! the same decision, reason, corrective 402 state, committed record, payment
//! response and refund settlement.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use paywire::Amount;
use paywire::evm::batch_settlement::server::{
    self, Accepted, ChannelRecord, Decision, Policy, Settle,
};
use paywire::evm::batch_settlement::types::{BatchPayload, ChannelStateExtra};
use paywire::evm::batch_settlement::verify::Requirements;
use paywire::json::{JsonValue, Limits, ToJson, parse};
use paywire::types::FromJson;
use paywire::types::v2::PaymentRequirements;
use serde_json::Value;

fn file() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/batch-settlement-server.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn amount(v: &Value) -> Amount {
    Amount::parse_decimal(v.as_str().unwrap()).unwrap()
}

/// `v` as this crate writes it, compared as JSON values.
fn json_of(v: &dyn ToJson) -> Value {
    serde_json::from_slice(&v.to_json_vec()).unwrap()
}

/// Reads `v` (kept alive by the caller's buffer) with `f`.
fn with_parsed<T>(v: &Value, f: impl FnOnce(JsonValue<'_>) -> T) -> T {
    let bytes = serde_json::to_vec(v).unwrap();
    f(parse(&bytes, &Limits::DEFAULT).unwrap())
}

fn state_extra(v: Option<&Value>) -> Option<ChannelStateExtra> {
    v.map(|v| with_parsed(v, |j| ChannelStateExtra::from_json(j).unwrap()))
}

#[test]
fn decisions_match_the_official_server() {
    let f = file();
    let req_bytes = serde_json::to_vec(&f["paymentRequirements"]).unwrap();
    let req_json = parse(&req_bytes, &Limits::DEFAULT).unwrap();
    let pr = PaymentRequirements::from_json(req_json).unwrap();
    let req = Requirements::from_requirements(&pr).unwrap();
    let mut n = 0;
    for v in f["vectors"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let now = v["now"].as_u64().unwrap();
        let price = amount(&v["price"]);
        let policy = Policy {
            onchain_state_ttl: v["policy"]["onchainStateTtl"].as_u64().unwrap(),
            min_deposit: v["policy"]["minDeposit"]
                .as_str()
                .map(|m| amount(&Value::from(m))),
        };
        let rec_bytes = serde_json::to_vec(&v["record"]).unwrap();
        let rec_json = parse(&rec_bytes, &Limits::DEFAULT).unwrap();
        let record = (!rec_json.is_null()).then(|| ChannelRecord::from_json(rec_json).unwrap());
        let again_bytes = serde_json::to_vec(&v["recordAfterVerify"]).unwrap();
        let again_json = parse(&again_bytes, &Limits::DEFAULT).unwrap();
        let record_again = if again_json.is_null() {
            record
        } else {
            Some(ChannelRecord::from_json(again_json).unwrap())
        };
        let p_bytes = serde_json::to_vec(&v["paymentPayload"]["payload"]).unwrap();
        let payload = BatchPayload::from_json_bytes(&p_bytes, &Limits::DEFAULT).unwrap();
        let verified = state_extra(v.get("verified"));
        let settled = state_extra(v.get("settled"));
        let expect = &v["expect"];

        let decision = if v["stage"] == "decide" {
            server::decide(record.as_ref(), &payload, &req, &price, now, &policy).unwrap()
        } else {
            assert!(
                matches!(
                    server::decide(record.as_ref(), &payload, &req, &price, now, &policy),
                    Ok(Decision::Verify { .. })
                ),
                "{name}: not left to the facilitator"
            );
            server::after_verify(
                record_again.as_ref(),
                &payload,
                &req,
                &price,
                verified.as_ref(),
                now,
            )
            .unwrap()
        };
        match (expect["decision"].as_str().unwrap(), decision) {
            ("verify", Decision::Verify { channel_id }) => {
                assert_eq!(channel_id, payload.voucher().channel_id, "{name}");
            }
            ("refuse", Decision::Refuse(r)) => {
                assert_eq!(r.reason.as_str(), expect["reason"], "{name}");
                match (&expect["corrective"], r.corrective) {
                    (Value::Null, None) => {}
                    (want, Some(c)) => {
                        assert_eq!(json_of(&c.channel_state), want["channelState"], "{name}");
                        assert_eq!(json_of(&c.voucher_state), want["voucherState"], "{name}");
                    }
                    (want, got) => panic!("{name}: corrective {want} here {got:?}"),
                }
            }
            ("accept", Decision::Accept(acc)) => {
                check_accept(name, &acc, expect, settled.as_ref(), now)
            }
            ("refund", Decision::Refund { record: r }) => {
                let settlement = server::refund_settlement(Some(&r), &payload, &req);
                let want = &expect["refundSettlement"];
                let after = match (want, settlement) {
                    (Value::Null, Err(e)) => {
                        assert_eq!(e.as_str(), expect["refundSettlementError"], "{name}");
                        n += 1;
                        continue;
                    }
                    (want, Ok(s)) => {
                        assert_eq!(
                            want.get("amount").map(amount),
                            s.amount_computed.then_some(s.amount),
                            "{name}"
                        );
                        assert_eq!(amount(&want["refundNonce"]), s.refund_nonce, "{name}");
                        let claims = want["claims"].as_array().unwrap();
                        assert_eq!(claims.len(), 1, "{name}");
                        assert_eq!(
                            claims[0]["channelId"],
                            s.claim.channel_id.to_string(),
                            "{name}"
                        );
                        assert_eq!(
                            amount(&claims[0]["maxClaimableAmount"]),
                            s.claim.max_claimable_amount
                        );
                        assert_eq!(amount(&claims[0]["totalClaimed"]), s.claim.total_claimed);
                        server::refund_settled(&r, settled.as_ref(), now)
                    }
                    (want, got) => panic!("{name}: refund settlement {want} here {got:?}"),
                };
                match after {
                    Ok(kept) => assert_eq!(
                        kept.map(|k| json_of(&k)).unwrap_or(Value::Null),
                        expect["refundSettled"],
                        "{name}"
                    ),
                    Err(e) => assert_eq!(e.as_str(), expect["refundSettlementError"], "{name}"),
                }
            }
            (want, got) => panic!("{name}: the official server decides {want}, here {got:?}"),
        }
        n += 1;
    }
    assert_eq!(n, f["vectors"].as_array().unwrap().len());
}

fn check_accept(
    name: &str,
    acc: &Accepted<'_>,
    expect: &Value,
    settled: Option<&ChannelStateExtra>,
    now: u64,
) {
    assert_eq!(
        json_of(&acc.response),
        expect["response"],
        "{name}: payment response"
    );
    let next = match acc.settle {
        Settle::Commit => acc.next,
        Settle::Deposit => server::deposit_settled(acc, settled, now).0,
    };
    assert_eq!(json_of(&next), expect["next"], "{name}: committed record");
}
