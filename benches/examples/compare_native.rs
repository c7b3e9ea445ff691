//! The native side of `benches/compare`: this crate verifying the comparison's
//! payment, timed the way the Node and Python sides time theirs (30 samples of
//! at least 20 ms each; µs per call, min and median). Prints one JSON line per
//! operation.
//!
//! `cargo run --release -p paywire-benches --example compare_native`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use paywire::evm::Signature;
use paywire::evm::typed_data::typed_data_hash_json;
use paywire::json::JsonStr;
use paywire::verify::{Config, verify_json};
use serde_json::{Value, json};

/// The payment every implementation verifies.
const PAYMENT: &str = "v2-exact-eip3009-skips-unsupported-first-accept";

/// µs per call: (min, median) over 30 samples of n calls, n chosen so that a
/// sample lasts at least 20 ms.
fn measure(mut f: impl FnMut() -> bool) -> (f64, f64) {
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
    per_op.sort_by(f64::total_cmp);
    (per_op[0], per_op[per_op.len() / 2])
}

fn emit(op: &str, what: &str, (min, median): (f64, f64)) {
    let line = json!({
        "impl": "paywire (native, release)",
        "op": op,
        "what": what,
        "min_us": min,
        "median_us": median,
    });
    println!("{line}");
}

fn main() {
    let p = paywire_benches::payment(PAYMENT);
    let config = Config::default();
    let body = p.verify_body.clone();
    emit(
        "verify",
        "verify_json: POST /verify body bytes to verdict",
        measure(|| verify_json(black_box(&body), p.now, &config).is_valid()),
    );

    // The signature part alone, from the typed data the payer signed.
    let v: Value = serde_json::from_slice(&body).unwrap();
    let req = &v["paymentRequirements"];
    let payload = &v["paymentPayload"]["payload"];
    let typed = json!({
        "primaryType": "TransferWithAuthorization",
        "domain": {
            "name": req["extra"]["name"],
            "version": req["extra"]["version"],
            "chainId": req["network"].as_str().unwrap().split(':').nth(1).unwrap().parse::<u64>().unwrap(),
            "verifyingContract": req["asset"],
        },
        "message": payload["authorization"],
    });
    let typed = serde_json::to_vec(&typed).unwrap();
    let sig = payload["signature"].as_str().unwrap().to_owned();
    let payer: paywire::evm::Address = payload["authorization"]["from"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    emit(
        "signature",
        "typed_data_hash_json + Signature::parse_hex + recover (typed data JSON)",
        measure(|| {
            let h = typed_data_hash_json(black_box(&typed)).unwrap();
            let s = Signature::parse_hex(JsonStr::new(&sig)).unwrap();
            s.recover(&h.digest).unwrap() == payer
        }),
    );
}
