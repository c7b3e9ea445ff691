//! The resource server's decision per `batch-settlement` channel
//! (`evm::batch_settlement::server`), hostile input: a stored record, a
//! payload, the facilitator's reported state, a price and a time.
//! - `ChannelRecord::from_json` never panics; a record read, written back,
//!   reads again the same;
//! - `decide` and `after_verify` never panic and are deterministic; an
//!   accepted payment's voucher binds its config, the record to commit charges
//!   the price on top of a base and stays within the voucher's ceiling; a
//!   voucher accepted by `decide` was signed by the payer authorizer within the
//!   mirrored balance and above its claimed total; a cumulative mismatch, and
//!   only it, carries the corrective state;
//! - `deposit_settled`, `refund_settlement` and `refund_settled` never panic;
//!   a refund's amount is never zero.
//!
//! Input: `{"record":…,"payload":…,"verified":…,"price":"…","now":…}`, each
//! member optional.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::Amount;
use paywire::evm::Signature;
use paywire::evm::batch_settlement::server::{
    self, ChannelRecord, Decision, Policy, after_verify, decide,
};
use paywire::evm::batch_settlement::types::{BatchPayload, ChannelStateExtra};
use paywire::evm::batch_settlement::verify::Requirements;
use paywire::evm::batch_settlement::{BatchReason, channel_id, voucher_digest};
use paywire::json::{Limits, ToJson};
use paywire::types::FromJson;
use paywire::types::v2::PaymentRequirements;

const REQUIREMENTS: &str = r#"{"scheme":"batch-settlement","network":"eip155:8453","asset":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","amount":"1000","payTo":"0x91c7A5c94959Ba54b8C7aaf1C254D342DDB4818b","maxTimeoutSeconds":300,"extra":{"name":"USD Coin","version":"2","receiverAuthorizer":"0x2B2f8FfE0B568E6bA53839479f8BF68bAB70db82","withdrawDelay":900}}"#;

fn check<'a>(
    d: &Decision<'a>,
    record: Option<&ChannelRecord<'a>>,
    payload: &BatchPayload<'a>,
    price: &Amount,
    from_decide: bool,
) {
    let v = payload.voucher();
    match d {
        Decision::Accept(acc) => {
            assert_eq!(channel_id(payload.channel_config(), 8453), v.channel_id);
            let next = &acc.next;
            assert_eq!(next.signed_max_claimable, v.max_claimable_amount);
            assert!(next.charged_cumulative_amount <= v.max_claimable_amount);
            let base = next
                .charged_cumulative_amount
                .checked_sub(price)
                .expect("the price is charged on top of a base");
            if let Some(r) = record {
                assert_eq!(base, r.charged_cumulative_amount);
            }
            if from_decide {
                let cc = payload.channel_config();
                let digest = voucher_digest(8453, &v.channel_id, &v.max_claimable_amount);
                let sig = Signature::parse_hex(v.signature).expect("a checked signature");
                assert_eq!(sig.recover(&digest), Ok(cc.payer_authorizer));
                let r = record.expect("a voucher is checked here only against a record");
                assert!(v.max_claimable_amount <= r.onchain.balance);
                assert!(v.max_claimable_amount > r.onchain.total_claimed);
            }
            let _ = acc.response.to_json_vec();
            let _ = server::deposit_settled(acc, None, 1);
        }
        Decision::Refuse(r) => {
            assert_eq!(
                r.reason == BatchReason::CumulativeAmountMismatch,
                r.corrective.is_some()
            );
        }
        Decision::Verify { channel_id: id } => assert_eq!(*id, v.channel_id),
        Decision::Refund { record: r } => {
            assert_eq!(r.charged_cumulative_amount, v.max_claimable_amount);
            if let Ok(s) = server::refund_settlement(Some(r), payload, &requirements()) {
                assert!(!s.amount.is_zero());
            }
            let _ = server::refund_settled(r, Some(&r.channel_state(None)), 2);
        }
    }
}

fn requirements() -> Requirements<'static> {
    let v = paywire::json::parse(REQUIREMENTS.as_bytes(), &Limits::DEFAULT).unwrap();
    let pr = PaymentRequirements::from_json(v).unwrap();
    Requirements::from_requirements(&pr).unwrap()
}

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = paywire::json::parse(data, &Limits::DEFAULT) else {
        return;
    };
    let Some(o) = doc.as_object() else { return };
    let record = o.get("record").and_then(|r| ChannelRecord::from_json(r).ok());
    if let Some(r) = &record {
        let once = r.to_json_vec();
        let again = paywire::json::parse(&once, &Limits::DEFAULT).expect("written JSON parses");
        assert_eq!(ChannelRecord::from_json(again).as_ref(), Ok(r), "a record reads back");
    }
    let Some(Ok(payload)) = o.get("payload").map(BatchPayload::from_json) else {
        return;
    };
    let verified = o.get("verified").and_then(|v| ChannelStateExtra::from_json(v).ok());
    let price = o
        .get("price")
        .and_then(|p| p.as_str())
        .and_then(|p| p.as_str().and_then(|s| Amount::parse_decimal(s).ok()))
        .unwrap_or(Amount::from(1000u64));
    let now = o.get("now").and_then(|n| n.as_u64()).unwrap_or(1_750_000_000);
    let req = requirements();
    let policy = Policy {
        onchain_state_ttl: 300,
        min_deposit: o.get("minDeposit").map(|_| Amount::from(10_000u64)),
    };
    let a = decide(record.as_ref(), &payload, &req, &price, now, &policy);
    assert_eq!(a, decide(record.as_ref(), &payload, &req, &price, now, &policy));
    let b = after_verify(record.as_ref(), &payload, &req, &price, verified.as_ref(), now);
    assert_eq!(b, after_verify(record.as_ref(), &payload, &req, &price, verified.as_ref(), now));
    match (a, b) {
        (Ok(a), Ok(b)) => {
            check(&a, record.as_ref(), &payload, &price, true);
            check(&b, record.as_ref(), &payload, &price, false);
        }
        (Err(_), Err(_)) => assert!(price > req.amount),
        _ => panic!("the price is judged alike"),
    }
});
