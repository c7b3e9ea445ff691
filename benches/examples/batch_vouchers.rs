//! The native side of `benches/batch`: batch-settlement vouchers verified by
//! this crate as a resource server checks them, against the channel state it
//! holds. Writes the vouchers it made to the file named by its first argument
//! (for the official server's side, `benches/batch/official.mjs`), then times
//! the verification the way `benches/compare` times (30 samples of at least
//! 20 ms each; µs per call, min and median) and prints one JSON line.
//!
//! Each of the 64 channels has a payer authorizer (the reference server checks
//! vouchers locally only then), a charged total and a mirrored on-chain state;
//! its voucher signs the charged total plus the price. One call: parse the
//! `PaymentPayload` JSON, read the requirements' and payload's members, check
//! the channel config and recompute the channel id, recover the voucher's
//! signer, judge the ceiling against the channel's balance and claimed total
//! (`batch_settlement::verify::verify`), then check that it is the charged
//! total plus the price (`check_cumulative`).
//!
//! `cargo run --release -p paywire-benches --example batch_vouchers -- vouchers.json`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use paywire::amount::Amount;
use paywire::evm::batch_settlement::server::{ChannelRecord, Decision, Policy, decide};
use paywire::evm::batch_settlement::verify::{
    ChainFacts, Config, Requirements, check_cumulative, verify,
};
use paywire::evm::batch_settlement::{
    BatchPayload, ChannelConfig, ChannelState, PayloadType, client,
};
use paywire::evm::{B256, PrivateKey};
use paywire::json::{JsonStr, Limits, ToJson, parse};
use paywire::types::FromJson;
use paywire::types::v2::PaymentRequirements;
use serde_json::{Value, json};

/// Channels, one voucher each.
const CHANNELS: u64 = 64;
/// The price of a request (`amount`), in the token's units.
const PRICE: u64 = 1000;
/// The unix time of the server's decisions (its records are synced then).
const NOW: u64 = 1_750_000_000;

/// Every call must answer valid, in the timed loops too.
fn measure(g: &mut dyn FnMut() -> bool) -> (f64, f64) {
    let mut bad = 0u32;
    let mut f = || {
        let ok = g();
        bad += u32::from(!ok);
        ok
    };
    for _ in 0..3 {
        assert!(f());
    }
    let mut n = 1u32;
    loop {
        let t = Instant::now();
        for _ in 0..n {
            black_box(f());
        }
        if t.elapsed() >= Duration::from_millis(20) {
            break;
        }
        n *= 2;
    }
    let mut per_op: Vec<f64> = (0..30)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                black_box(f());
            }
            t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        })
        .collect();
    assert_eq!(bad, 0, "calls answered invalid");
    per_op.sort_by(f64::total_cmp);
    (per_op[0], per_op[per_op.len() / 2])
}

fn key(tag: u8, i: u64) -> PrivateKey {
    let mut b = [tag; 32];
    b[24..].copy_from_slice(&(i + 1).to_be_bytes());
    PrivateKey::from_bytes(&b).unwrap()
}

struct Channel {
    payload: Vec<u8>,
    state: ChannelState,
    charged: Amount,
    config: ChannelConfig,
    id: B256,
    /// The previous voucher's signature, as the server's record keeps it.
    signature: String,
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .expect("usage: batch_vouchers <vouchers.json>");
    let receiver_authorizer = key(0x52, 0).address();
    let pay_to = key(0x50, 0).address();
    let requirements = json!({
        "scheme": "batch-settlement",
        "network": "eip155:84532",
        "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
        "amount": PRICE.to_string(),
        "payTo": pay_to.checksummed().as_str(),
        "maxTimeoutSeconds": 300,
        "extra": {
            "name": "USDC",
            "version": "2",
            "receiverAuthorizer": receiver_authorizer.checksummed().as_str(),
            "withdrawDelay": 900,
        },
    });
    let req_bytes = serde_json::to_vec(&requirements).unwrap();
    let req_value = parse(&req_bytes, &Limits::DEFAULT).unwrap();
    let req = PaymentRequirements::from_json(req_value).unwrap();
    let scheme_req = Requirements::from_requirements(&req).unwrap();

    let mut channels = Vec::new();
    let mut file = Vec::new();
    for i in 0..CHANNELS {
        let payer = key(0x01, i);
        let authorizer = key(0x02, i);
        let mut salt = [0u8; 32];
        salt[24..].copy_from_slice(&i.to_be_bytes());
        let config = client::channel_config(
            payer.address(),
            Some(authorizer.address()),
            &scheme_req,
            B256(salt),
        )
        .unwrap();
        let charged = Amount::from(PRICE * (i + 3));
        let ceiling = charged.checked_add(&Amount::from(PRICE)).unwrap();
        let created = client::create_voucher(&authorizer, &config, 84532, ceiling).unwrap();
        let payload: Value = serde_json::from_slice(&created.to_json_vec()).unwrap();
        let payment_payload = json!({
            "x402Version": 2,
            "accepted": requirements,
            "payload": payload,
        });
        let state = ChannelState {
            balance: Amount::from(1_000_000u64),
            total_claimed: Amount::from(PRICE * i),
            withdraw_requested_at: 0,
            refund_nonce: Amount::ZERO,
        };
        file.push(json!({
            "paymentPayload": payment_payload,
            "channelId": payload["voucher"]["channelId"],
            "chargedCumulativeAmount": charged.to_string(),
            "balance": state.balance.to_string(),
            "totalClaimed": state.total_claimed.to_string(),
        }));
        channels.push(Channel {
            payload: serde_json::to_vec(&payment_payload).unwrap(),
            state,
            charged,
            config,
            id: created.channel_id(),
            signature: payload["voucher"]["signature"].as_str().unwrap().to_owned(),
        });
    }
    let doc = json!({ "requirements": requirements, "channels": file });
    std::fs::write(&out, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();

    let config = Config::default();
    let price = Amount::from(PRICE);
    let mut next = 0usize;
    let mut verify_next = || {
        let c = &channels[next % channels.len()];
        next += 1;
        let Ok(v) = parse(black_box(&c.payload), &Limits::DEFAULT) else {
            return false;
        };
        let Some(o) = v.as_object() else { return false };
        let facts = ChainFacts {
            channel: Some(c.state),
            payer_balance: None,
        };
        if !verify(o, &req, 0, &facts, &config).is_valid() {
            return false;
        }
        let Some(Ok(p)) = o.get("payload").map(BatchPayload::from_json) else {
            return false;
        };
        check_cumulative(
            PayloadType::Voucher,
            &p.voucher().max_claimable_amount,
            &c.charged,
            &price,
        )
        .is_ok()
    };
    // The resource server's path: the payload read from the PaymentPayload,
    // then `server::decide` against the channel's record (fresh mirrored state).
    let policy = Policy::default();
    let scheme_req = &scheme_req;
    let mut next2 = 0usize;
    let mut decide_next = || {
        let c = &channels[next2 % channels.len()];
        next2 += 1;
        let Ok(v) = parse(black_box(&c.payload), &Limits::DEFAULT) else {
            return false;
        };
        let Some(Ok(p)) = v
            .as_object()
            .and_then(|o| o.get("payload"))
            .map(BatchPayload::from_json)
        else {
            return false;
        };
        let record = ChannelRecord {
            channel_id: c.id,
            channel_config: c.config,
            charged_cumulative_amount: c.charged,
            signed_max_claimable: c.charged,
            signature: JsonStr::new(&c.signature),
            onchain: c.state,
            onchain_synced_at: Some(NOW),
            last_request_at: NOW,
        };
        matches!(
            decide(Some(&record), &p, scheme_req, &price, NOW, &policy),
            Ok(Decision::Accept(_))
        )
    };
    // `BATCH_VOUCHERS_CALLS=n`: n calls of one path (`BATCH_VOUCHERS_PATH`:
    // `verify`, the default, or `decide`) and no timing, for counting
    // instructions: run it under callgrind with n and with 0.
    if let Some(n) = std::env::var("BATCH_VOUCHERS_CALLS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
    {
        let decide_path = std::env::var("BATCH_VOUCHERS_PATH").is_ok_and(|p| p == "decide");
        for _ in 0..n {
            assert!(if decide_path {
                decide_next()
            } else {
                verify_next()
            });
        }
        return;
    }
    for (what, f) in [
        (
            "json::parse + batch_settlement::verify::verify (channel state given) + check_cumulative",
            &mut verify_next as &mut dyn FnMut() -> bool,
        ),
        (
            "json::parse + BatchPayload::from_json + batch_settlement::server::decide (the channel's record given)",
            &mut decide_next,
        ),
    ] {
        let (min, median) = measure(f);
        let line = json!({
            "impl": "paywire (native, release)",
            "what": what,
            "min_us": min,
            "median_us": median,
        });
        println!("{line}");
    }
}
