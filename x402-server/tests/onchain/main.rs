//! The facilitator on a real EVM: payments made by the core's client are
//! verified and settled by facilitators running in this process against a
//! local Hardhat network, some of them through a proxy that injects the
//! faults of real nodes (lost answers, refusals, errors, garbage, slowness).
//!
//! These tests need the chain: `scripts/test-settlement.sh` starts it on
//! 127.0.0.1, compiles the contracts and runs them with `--ignored`, passing
//! `PAYWIRE_TEST_RPC` and `PAYWIRE_TEST_CONTRACTS`; the test command also
//! passes `PAYWIRE_TEST_POSTGRES` (two instances then share one PostgreSQL).
//! They switch the chain's automine off and on: run them one at a time.
//! `PAYWIRE_TEST_LOAD` sets the size of the load test (24 by default; 200 in
//! `scripts/test-long.sh`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "../support/mod.rs"]
mod support;

mod batch;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::{Fault, Hardhat, Proxy, Running, Scratch, Setup, key, pay, pay_with};

fn sqlite(dir: &Scratch) -> String {
    format!("sqlite://{}", dir.0.join("records.db").display())
}

/// PostgreSQL when the run has one (a database of the test's own), else a
/// SQLite file in `dir` (shared by instances in this process).
async fn shared_store(name: &str, dir: &Scratch) -> String {
    match support::fresh_postgres(name).await {
        Some(url) => url,
        None => sqlite(dir),
    }
}

fn tx_of(v: &Value) -> String {
    v["transaction"].as_str().unwrap_or_default().to_owned()
}

/// Asks `/settle` again (as the official servers do after a pending answer)
/// until the answer is final or `within` has passed.
async fn settle_until_final(f: &Running, body: &str, within: Duration) -> Value {
    let end = Instant::now() + within;
    loop {
        let (status, v) = f.post("/settle", body).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        if v["errorReason"] != "settlement_pending" || Instant::now() > end {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
async fn a_payment_is_verified_settled_once_and_answered_again() {
    let chain = Hardhat::connect().await;
    let dir = Scratch::new("once");
    let (signer, signer_hex) = key("once/signer");
    let (payer, _) = key("once/payer");
    let merchant = key("once/merchant").0.address();
    chain.fund(&signer.address()).await;
    chain.mint(&payer.address(), 5_000_000).await;
    let f = Running::start(
        &Setup::new(sqlite(&dir), &chain.url, &chain.network, &[&signer_hex]).toml(&dir),
    )
    .await;

    let (status, supported) = f.get("/supported").await;
    assert_eq!(status, StatusCode::OK);
    let supported: Value = serde_json::from_str(&supported).unwrap();
    let kinds = supported["kinds"].as_array().unwrap();
    assert!(
        kinds.contains(&json!({"x402Version": 2, "scheme": "exact", "network": chain.network})),
        "{supported}"
    );
    let upto = kinds
        .iter()
        .find(|k| k["scheme"] == "upto")
        .expect("an upto kind");
    assert_eq!(
        upto["extra"]["facilitatorAddress"],
        signer.address().to_string()
    );
    assert_eq!(
        supported["signers"]["eip155:*"],
        json!([signer.address().to_string()])
    );

    let start = chain.block_number().await;
    let body = pay(&chain, &payer, &merchant, 1_250_000, "once/1").await;
    let (status, v) = f.post("/verify", &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        v,
        json!({"isValid": true, "payer": payer.address().to_string()})
    );

    let (status, s) = f.post("/settle", &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s["success"], true, "{s}");
    assert_eq!(s["network"], chain.network);
    assert_eq!(s["payer"], payer.address().to_string());
    let tx = tx_of(&s);
    let receipt = chain
        .receipt(&tx)
        .await
        .expect("the answer names a mined transaction");
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(chain.balance(&payer.address()).await, 3_750_000);
    assert_eq!(chain.balance(&merchant).await, 1_250_000);

    // Asked again: the same settlement, no second transaction.
    let (_, again) = f.post("/settle", &body).await;
    assert_eq!(again, s);
    // The authorization is spent: verification says so.
    let (_, v) = f.post("/verify", &body).await;
    assert_eq!(v["isValid"], false, "{v}");
    // Another payment with the same authorization nonce (a different amount,
    // signed anew): refused, nothing sent.
    let other = pay(&chain, &payer, &merchant, 999, "once/1").await;
    let (_, o) = f.post("/settle", &other).await;
    assert_eq!(
        (o["success"].clone(), tx_of(&o)),
        (json!(false), String::new()),
        "{o}"
    );
    assert_eq!(chain.sent_by(&signer.address(), start).await, vec![tx]);
    assert_eq!(chain.balance(&merchant).await, 1_250_000);

    let (_, metrics) = f.get("/metrics").await;
    assert!(
        metrics.contains("paywire_facilitator_requests_total{endpoint=\"settle\""),
        "{metrics}"
    );
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
async fn permit2_and_upto_payments_settle_through_their_proxies() {
    let chain = Hardhat::connect().await;
    chain.install_permit2().await;
    let dir = Scratch::new("permit2");
    let (signer, signer_hex) = key("permit2/signer");
    let (payer, _) = key("permit2/payer");
    let merchant = key("permit2/merchant").0.address();
    chain.fund(&signer.address()).await;
    chain.mint(&payer.address(), 3_000_000).await;
    chain.approve_permit2(&payer.address()).await;
    let f = Running::start(
        &Setup::new(sqlite(&dir), &chain.url, &chain.network, &[&signer_hex]).toml(&dir),
    )
    .await;

    let exact = pay_with(&chain, &payer, &merchant, 1_000_000, "permit2/exact", |a| {
        a["extra"]["assetTransferMethod"] = json!("permit2");
    })
    .await;
    let (_, s) = f.post("/settle", &exact).await;
    assert_eq!(s["success"], true, "{s}");
    assert_eq!(chain.balance(&merchant).await, 1_000_000);

    // upto: the payer permits 1,000,000 to this facilitator's signer; the
    // resource server settles what was used.
    let facilitator = signer.address().to_string();
    let upto = pay_with(&chain, &payer, &merchant, 1_000_000, "permit2/upto", |a| {
        a["scheme"] = json!("upto");
        a["extra"] = json!({"facilitatorAddress": facilitator});
    })
    .await;
    let (_, v) = f.post("/verify", &upto).await;
    assert_eq!(v["isValid"], true, "{v}");
    let mut metered: Value = serde_json::from_str(&upto).unwrap();
    metered["paymentRequirements"]["amount"] = json!("400000");
    let (_, s) = f.post("/settle", &metered.to_string()).await;
    assert_eq!(s["success"], true, "{s}");
    assert_eq!(s["amount"], "400000");
    assert_eq!(chain.balance(&merchant).await, 1_400_000);
    assert_eq!(chain.balance(&payer.address()).await, 1_600_000);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
async fn a_payer_without_a_permit2_allowance_pays_with_an_eip2612_permit() {
    use paywire::evm::eip712::{Domain, PERMIT2_ADDRESS};
    use paywire::gas_sponsoring::Eip2612Permit;
    use paywire::json::{JsonStr, ToJson};
    let chain = Hardhat::connect().await;
    chain.install_permit2().await;
    let dir = Scratch::new("eip2612");
    let (signer, signer_hex) = key("eip2612/signer");
    let (payer, _) = key("eip2612/payer");
    let merchant = key("eip2612/merchant").0.address();
    chain.fund(&signer.address()).await;
    // Tokens, no gas and no allowance for Permit2.
    chain.mint(&payer.address(), 2_000_000).await;
    let f = Running::start(
        &Setup::new(sqlite(&dir), &chain.url, &chain.network, &[&signer_hex]).toml(&dir),
    )
    .await;
    let payment = |label: &'static str| {
        pay_with(&chain, &payer, &merchant, 1_000_000, label, |a| {
            a["extra"]["assetTransferMethod"] = json!("permit2");
        })
    };
    // Without the extension: the allowance is missing, nothing is sent.
    let plain = payment("eip2612/plain").await;
    let (_, v) = f.post("/verify", &plain).await;
    assert_eq!(
        (v["isValid"].clone(), v["invalidReason"].clone()),
        (json!(false), json!("permit2_allowance_required")),
        "{v}"
    );
    // With the payer's permit (nonce 0 on the token): verified by simulating
    // settleWithPermit, and settled in one transaction.
    let domain = Domain::eip3009(
        JsonStr::new("USD Coin"),
        JsonStr::new("2"),
        chain.chain_id,
        chain.token,
    );
    let deadline = chain.now().await + 600;
    let permit = Eip2612Permit::sign(
        &payer,
        &domain,
        chain.token,
        paywire::Amount::MAX,
        0u64.into(),
        deadline.into(),
    );
    let with_permit = |body: String, permit: &Eip2612Permit| {
        let mut v: Value = serde_json::from_str(&body).unwrap();
        let info: Value = serde_json::from_str(&permit.to_json_string()).unwrap();
        v["paymentPayload"]["extensions"] = json!({"eip2612GasSponsoring": {"info": info}});
        v.to_string()
    };
    let sponsored = with_permit(payment("eip2612/sponsored").await, &permit);
    let (_, v) = f.post("/verify", &sponsored).await;
    assert_eq!(v["isValid"], true, "{v}");
    let (_, s) = f.post("/settle", &sponsored).await;
    assert_eq!(s["success"], true, "{s}");
    assert_eq!(chain.balance(&merchant).await, 1_000_000);
    assert_eq!(chain.balance(&payer.address()).await, 1_000_000);
    let receipt = chain
        .receipt(s["transaction"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        receipt["to"].as_str().unwrap().to_lowercase(),
        paywire::evm::eip712::X402_EXACT_PERMIT2_PROXY
            .to_string()
            .to_lowercase()
    );
    // The permit set the allowance: the next payment needs no extension.
    let allowance = chain
        .rpc(
            "eth_call",
            json!([{"to": chain.token.to_string(), "data": support::hex(&paywire::evm::abi::allowance(&payer.address(), &PERMIT2_ADDRESS))}, "latest"]),
        )
        .await;
    assert_eq!(allowance.as_str().unwrap(), format!("0x{}", "f".repeat(64)));
    let (_, s) = f.post("/settle", &payment("eip2612/after").await).await;
    assert_eq!(s["success"], true, "{s}");
    assert_eq!(chain.balance(&merchant).await, 2_000_000);
    // A permit of another owner is refused offline, and nothing is sent.
    let (other, _) = key("eip2612/other");
    let foreign = Eip2612Permit::sign(
        &other,
        &domain,
        chain.token,
        paywire::Amount::MAX,
        0u64.into(),
        deadline.into(),
    );
    let refused = with_permit(payment("eip2612/foreign").await, &foreign);
    let (_, s) = f.post("/settle", &refused).await;
    assert_eq!(
        (s["success"].clone(), s["errorReason"].clone()),
        (json!(false), json!("eip2612_from_mismatch")),
        "{s}"
    );
    f.stop().await;
}

/// `body` posted to `/settle` twenty times at once, alternately to `a` and `b`.
async fn settle_twenty_times_at_once(
    a: &Running,
    b: &Running,
    body: &str,
) -> Vec<(StatusCode, Value)> {
    let mut tasks = Vec::new();
    for i in 0..20 {
        let url = if i % 2 == 0 {
            a.url.clone()
        } else {
            b.url.clone()
        };
        let body = body.to_owned();
        tasks.push(tokio::spawn(async move {
            support::post(&format!("{url}/settle"), &body, Some(support::API_KEY)).await
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    answers
}

/// A facilitator configuration whose network sponsors approvals for the test
/// token (the signer `sponsor`, apart from the settling one), on `store`.
fn sponsoring_toml(
    chain: &Hardhat,
    store: String,
    dir: &Scratch,
    signer_hex: &str,
    sponsor_hex: &str,
    fee_cap: u128,
) -> String {
    let extra = format!(
        "assets = [\"{}\"]\napproval_sponsor = \"sponsor\"\napproval_max_fee_per_gas = \"{fee_cap}\"\n",
        chain.token
    );
    let mut setup = Setup::new(store, &chain.url, &chain.network, &[signer_hex]);
    setup.extra_network = &extra;
    format!(
        "{}\n[[signers]]\nname = \"sponsor\"\nkey_file = {:?}\n",
        setup.toml(dir),
        dir.secret("sponsor.key", sponsor_hex)
    )
}

/// A payment body carrying `a` as its `erc20ApprovalGasSponsoring` extension.
fn with_approval(
    body: String,
    a: &paywire::gas_sponsoring::erc20_approval::Erc20Approval,
) -> String {
    use paywire::json::ToJson;
    let mut v: Value = serde_json::from_str(&body).unwrap();
    let info: Value = serde_json::from_str(&a.to_json_string()).unwrap();
    v["paymentPayload"]["extensions"] = json!({"erc20ApprovalGasSponsoring": {"info": info}});
    v.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
async fn one_sponsored_payment_presented_twenty_times_on_two_instances_funds_and_settles_once() {
    use paywire::gas_sponsoring::erc20_approval::Erc20Approval;
    let chain = Hardhat::connect().await;
    chain.install_permit2().await;
    let dir = Scratch::new("approval-twenty");
    let (signer, signer_hex) = key("approval-twenty/signer");
    let (sponsor, sponsor_hex) = key("approval-twenty/sponsor");
    let (payer, _) = key("approval-twenty/payer");
    let merchant = key("approval-twenty/merchant").0.address();
    chain.fund(&signer.address()).await;
    chain.fund(&sponsor.address()).await;
    chain.mint(&payer.address(), 1_000_000).await;
    let store = shared_store("approval_twenty", &dir).await;
    let toml = sponsoring_toml(
        &chain,
        store,
        &dir,
        &signer_hex,
        &sponsor_hex,
        50_000_000_000,
    );
    let a = Running::start(&toml).await;
    let b = Running::start(&toml).await;
    let start = chain.block_number().await;
    let tip = 1_000_000_000;
    let approval = Erc20Approval::sign(
        &payer,
        chain.token,
        chain.chain_id,
        0,
        chain.base_fee().await * 2 + tip,
        tip,
    );
    let body = with_approval(
        pay_with(
            &chain,
            &payer,
            &merchant,
            600_000,
            "approval-twenty/1",
            |a| {
                a["extra"]["assetTransferMethod"] = json!("permit2");
            },
        )
        .await,
        &approval,
    );
    let answers = settle_twenty_times_at_once(&a, &b, &body).await;
    // Each answer is the settlement, or a wait that invites only the same
    // payment again: never a refusal inviting another payment.
    let mut hashes = BTreeSet::new();
    for (status, v) in answers {
        assert_eq!(status, StatusCode::OK);
        if v["success"] == true {
            hashes.insert(tx_of(&v));
        } else {
            assert_eq!(v["errorReason"], "settlement_pending", "{v}");
        }
    }
    let last = settle_until_final(&a, &body, Duration::from_secs(30)).await;
    assert_eq!(last["success"], true, "{last}");
    hashes.insert(tx_of(&last));
    assert_eq!(hashes.len(), 1, "{hashes:?}");
    // One funding, one approval, one settlement.
    assert_eq!(chain.sent_by(&sponsor.address(), start).await.len(), 1);
    assert_eq!(chain.sent_by(&payer.address(), start).await.len(), 1);
    assert_eq!(chain.sent_by(&signer.address(), start).await.len(), 1);
    assert_eq!(chain.balance(&merchant).await, 600_000);
    assert_eq!(chain.balance(&payer.address()).await, 400_000);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
async fn a_payer_without_allowance_or_ether_pays_through_a_sponsored_approval() {
    use paywire::evm::eip712::PERMIT2_ADDRESS;
    use paywire::gas_sponsoring::erc20_approval::Erc20Approval;
    let chain = Hardhat::connect().await;
    chain.install_permit2().await;
    let dir = Scratch::new("approval");
    let (signer, signer_hex) = key("approval/signer");
    let (sponsor, sponsor_hex) = key("approval/sponsor");
    let (payer, _) = key("approval/payer");
    let merchant = key("approval/merchant").0.address();
    chain.fund(&signer.address()).await;
    chain.fund(&sponsor.address()).await;
    // Tokens; no ether, no allowance for Permit2, no EIP-2612 permit used.
    chain.mint(&payer.address(), 3_000_000).await;
    let fee_cap: u128 = 50_000_000_000;
    let toml = sponsoring_toml(
        &chain,
        sqlite(&dir),
        &dir,
        &signer_hex,
        &sponsor_hex,
        fee_cap,
    );
    let f = Running::start(&toml).await;
    let (_, supported) = f.get("/supported").await;
    let supported: Value = serde_json::from_str(&supported).unwrap();
    assert_eq!(
        supported["extensions"],
        json!(["erc20ApprovalGasSponsoring"])
    );

    let payment = |label: &'static str| {
        pay_with(&chain, &payer, &merchant, 1_000_000, label, |a| {
            a["extra"]["assetTransferMethod"] = json!("permit2");
        })
    };
    let tip = 1_000_000_000;
    let max_fee = chain.base_fee().await * 2 + tip;
    assert!(max_fee <= fee_cap);
    let sign = |nonce: u64, fee: u128| {
        Erc20Approval::sign(&payer, chain.token, chain.chain_id, nonce, fee, tip)
    };
    let refused = |v: &Value, reason: &str| {
        assert_eq!(
            (v["isValid"].clone(), v["invalidReason"].clone()),
            (json!(false), json!(reason)),
            "{v}"
        );
    };
    let sponsor_before = chain.eth(&sponsor.address()).await;

    // Refused before anything is paid for: a nonce ahead of the payer's
    // next one; a fee above the sponsor's cap.
    // A fee cap below the base fee, or above twice it plus the tip (the payer
    // would keep most of the funding).
    let base = chain.base_fee().await;
    let node_tip = u128::from_str_radix(
        chain
            .rpc("eth_maxPriorityFeePerGas", json!([]))
            .await
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    let ceiling = 2 * (base + node_tip);
    for (label, approval) in [
        ("approval/ahead", sign(3, max_fee)),
        ("approval/dear", sign(0, fee_cap + 1)),
        ("approval/cheap", sign(0, base - 1)),
        ("approval/greedy", sign(0, ceiling + 1)),
        // Its own tip raised to its fee cap lifts nothing.
        (
            "approval/tipped",
            Erc20Approval::sign(
                &payer,
                chain.token,
                chain.chain_id,
                0,
                ceiling + 1,
                ceiling + 1,
            ),
        ),
    ] {
        let body = with_approval(payment(label).await, &approval);
        let (_, v) = f.post("/verify", &body).await;
        refused(&v, "erc20_approval_tx_not_sponsorable");
        let (_, s) = f.post("/settle", &body).await;
        assert_eq!(
            (s["success"].clone(), s["errorReason"].clone()),
            (json!(false), json!("erc20_approval_tx_not_sponsorable")),
            "{s}"
        );
    }
    // An upto payment whose approval another account signed: refused by
    // the extension's rules, nothing sent (upto is sponsored too).
    let (other, _) = key("approval/other");
    let facilitator = signer.address().to_string();
    let upto = pay_with(&chain, &payer, &merchant, 1_000_000, "approval/upto", |a| {
        a["scheme"] = json!("upto");
        a["extra"] = json!({"facilitatorAddress": facilitator});
    })
    .await;
    let foreign = Erc20Approval::sign(&other, chain.token, chain.chain_id, 0, max_fee, tip);
    let body = with_approval(upto, &foreign);
    let (_, s) = f.post("/settle", &body).await;
    assert_eq!(
        (s["success"].clone(), s["errorReason"].clone()),
        (json!(false), json!("erc20_approval_from_mismatch")),
        "{s}"
    );
    // Without the extension the allowance is missing.
    let (_, v) = f.post("/verify", &payment("approval/plain").await).await;
    refused(&v, "permit2_allowance_required");
    assert_eq!(chain.eth(&sponsor.address()).await, sponsor_before);
    assert_eq!(chain.eth(&payer.address()).await, 0);
    assert_eq!(chain.nonce(&payer.address()).await, 0);

    // The approval at the payer's next nonce: valid; settled after the
    // sponsor funds its gas and relays it.
    let approval = sign(0, max_fee);
    let body = with_approval(payment("approval/sponsored").await, &approval);
    let (_, v) = f.post("/verify", &body).await;
    assert_eq!(
        (v["isValid"].clone(), v["payer"].clone()),
        (json!(true), json!(payer.address().to_string())),
        "{v}"
    );
    assert_eq!(
        chain.eth(&sponsor.address()).await,
        sponsor_before,
        "verify sends nothing"
    );
    let (_, s) = f.post("/settle", &body).await;
    assert_eq!(s["success"], true, "{s}");
    assert_eq!(chain.balance(&merchant).await, 1_000_000);
    assert_eq!(chain.balance(&payer.address()).await, 2_000_000);
    let settled = s["transaction"].as_str().unwrap().to_owned();
    let receipt = chain.receipt(&settled).await.unwrap();
    assert_eq!(
        receipt["to"].as_str().unwrap().to_lowercase(),
        paywire::evm::eip712::X402_EXACT_PERMIT2_PROXY
            .to_string()
            .to_lowercase()
    );
    // The approval was mined from the payer; the payer's ether is the
    // funding (70,000 gas at its fee cap) less what the approval burnt.
    let approval_hash = approval.transaction().unwrap().hash().to_string();
    let approval_receipt = chain
        .receipt(&approval_hash)
        .await
        .expect("the approval was mined");
    assert_eq!(approval_receipt["status"], "0x1");
    assert_eq!(chain.nonce(&payer.address()).await, 1);
    let funded = 70_000 * max_fee;
    assert_eq!(
        chain.eth(&payer.address()).await,
        funded - chain.gas_cost(&approval_hash).await
    );
    // The sponsor paid the funding and its transfer's gas: the transfer is
    // the sponsor's only transaction, mined in the block before the approval's.
    let approval_block = u64::from_str_radix(
        approval_receipt["blockNumber"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    let block = chain
        .rpc(
            "eth_getBlockByNumber",
            json!([format!("0x{:x}", approval_block - 1), true]),
        )
        .await;
    let funding = block["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| {
            t["from"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(&sponsor.address().to_string())
        })
        .expect("the sponsor's funding")["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let sponsor_after = chain.eth(&sponsor.address()).await;
    assert_eq!(
        sponsor_before - sponsor_after,
        funded + chain.gas_cost(&funding).await
    );
    // Presented again: the same settlement, nothing sent.
    let (_, again) = f.post("/settle", &body).await;
    assert_eq!(
        (again["success"].clone(), again["transaction"].clone()),
        (json!(true), json!(settled)),
        "{again}"
    );
    // A later payment carrying the (spent) approval again: the allowance is
    // there, so nothing is relayed or funded.
    let (_, later) = f
        .post(
            "/settle",
            &with_approval(payment("approval/later").await, &approval),
        )
        .await;
    assert_eq!(later["success"], true, "{later}");
    assert_eq!(chain.balance(&merchant).await, 2_000_000);
    assert_eq!(chain.eth(&sponsor.address()).await, sponsor_after);
    let allowance = chain
        .rpc(
            "eth_call",
            json!([{"to": chain.token.to_string(), "data": support::hex(&paywire::evm::abi::allowance(&payer.address(), &PERMIT2_ADDRESS))}, "latest"]),
        )
        .await;
    assert_ne!(allowance.as_str().unwrap(), format!("0x{}", "0".repeat(64)));

    // One sponsored approval per payer and day: the payer takes Permit2's
    // allowance back (a transaction of its own, at nonce 1), spends its
    // ether, and signs another approval: refused, nothing funded.
    let mut revoke = paywire::evm::keccak256(b"approve(address,uint256)")[..4].to_vec();
    revoke.extend_from_slice(&PERMIT2_ADDRESS.to_word());
    revoke.extend_from_slice(&[0u8; 32]);
    chain.set_eth(&payer.address(), 10u128.pow(18)).await;
    chain
        .rpc(
            "hardhat_impersonateAccount",
            json!([payer.address().to_string()]),
        )
        .await;
    let hash = chain
        .rpc(
            "eth_sendTransaction",
            json!([{"from": payer.address().to_string(), "to": chain.token.to_string(), "data": support::hex(&revoke)}]),
        )
        .await;
    assert_eq!(
        chain.receipt(hash.as_str().unwrap()).await.unwrap()["status"],
        "0x1"
    );
    chain.set_eth(&payer.address(), 0).await;
    let again = sign(2, chain.base_fee().await * 2 + tip);
    let (_, v) = f
        .post(
            "/verify",
            &with_approval(payment("approval/again").await, &again),
        )
        .await;
    refused(&v, "erc20_approval_tx_not_sponsorable");
    let (_, s) = f
        .post(
            "/settle",
            &with_approval(payment("approval/again").await, &again),
        )
        .await;
    assert_eq!(
        (s["success"].clone(), s["errorReason"].clone()),
        (json!(false), json!("erc20_approval_tx_not_sponsorable")),
        "{s}"
    );
    assert!(
        s["errorMessage"]
            .as_str()
            .unwrap()
            .contains("per payer and day"),
        "{s}"
    );
    assert_eq!(chain.eth(&sponsor.address()).await, sponsor_after);
    assert_eq!(chain.balance(&merchant).await, 2_000_000);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
async fn one_payment_settled_twenty_times_at_once_on_two_instances_sends_one_transaction() {
    let chain = Hardhat::connect().await;
    let dir = Scratch::new("twenty");
    let (signer, signer_hex) = key("twenty/signer");
    let (payer, _) = key("twenty/payer");
    let merchant = key("twenty/merchant").0.address();
    chain.fund(&signer.address()).await;
    chain.mint(&payer.address(), 1_000_000).await;
    let store = shared_store("twenty", &dir).await;
    let setup = Setup::new(store, &chain.url, &chain.network, &[&signer_hex]);
    let a = Running::start(&setup.toml(&dir)).await;
    let b = Running::start(&setup.toml(&dir)).await;
    let start = chain.block_number().await;
    let body = pay(&chain, &payer, &merchant, 300_000, "twenty/1").await;
    let answers = settle_twenty_times_at_once(&a, &b, &body).await;
    let mut hashes = BTreeSet::new();
    for (status, v) in answers {
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["success"], true, "{v}");
        hashes.insert(tx_of(&v));
    }
    assert_eq!(hashes.len(), 1, "{hashes:?}");
    assert_eq!(chain.sent_by(&signer.address(), start).await.len(), 1);
    assert_eq!(chain.balance(&merchant).await, 300_000);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
async fn many_payers_through_one_signer_get_consecutive_nonces() {
    load("load1", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
async fn many_payers_through_one_signer_on_two_instances_get_consecutive_nonces() {
    load("load2", 2).await;
}

/// `PAYWIRE_TEST_LOAD` payments (24 by default) from a quarter as many payers,
/// all at once, through one signer on `instances` facilitators sharing a store:
/// each settled by a transaction of its own, the signer's nonces consecutive.
async fn load(name: &str, instances: usize) {
    let n: usize = std::env::var("PAYWIRE_TEST_LOAD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let payers_n = n.div_ceil(4).max(1);
    let chain = Hardhat::connect().await;
    let dir = Scratch::new(name);
    let (signer, signer_hex) = key(&format!("{name}/signer"));
    let merchant = key(&format!("{name}/merchant")).0.address();
    chain.fund(&signer.address()).await;
    let payers: Vec<_> = (0..payers_n)
        .map(|i| key(&format!("{name}/payer{i}")).0)
        .collect();
    for p in &payers {
        chain.mint(&p.address(), 1_000_000).await;
    }
    let store = if instances > 1 {
        shared_store(name, &dir).await
    } else {
        sqlite(&dir)
    };
    let mut setup = Setup::new(store, &chain.url, &chain.network, &[&signer_hex]);
    setup.receipt_timeout = 20;
    let mut running = Vec::new();
    for _ in 0..instances {
        running.push(Running::start(&setup.toml(&dir)).await);
    }
    let start = chain.block_number().await;
    let nonce_before = chain.nonce(&signer.address()).await;
    let mut bodies = Vec::new();
    for i in 0..n {
        bodies.push(
            pay(
                &chain,
                &payers[i % payers_n],
                &merchant,
                1_000 + i as u128,
                &format!("{name}/{i}"),
            )
            .await,
        );
    }
    // Blocks every 200 ms, as a real chain makes them: transactions that
    // arrive out of nonce order wait in the pool (an automining Hardhat
    // refuses them).
    chain.automine(false).await;
    chain.rpc("evm_setIntervalMining", json!([200])).await;
    let began = Instant::now();
    let mut tasks = Vec::new();
    for (i, body) in bodies.into_iter().enumerate() {
        let url = running[i % instances].url.clone();
        tasks.push(tokio::spawn(async move {
            support::post(&format!("{url}/settle"), &body, Some(support::API_KEY)).await
        }));
    }
    let mut hashes = BTreeSet::new();
    for t in tasks {
        let (status, v) = t.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["success"], true, "{v}");
        hashes.insert(tx_of(&v));
    }
    eprintln!(
        "{n} settlements from {payers_n} payers through one signer on {instances} instance(s) in {:?}",
        began.elapsed()
    );
    chain.rpc("evm_setIntervalMining", json!([0])).await;
    chain.automine(true).await;
    assert_eq!(hashes.len(), n);
    let sent = chain.sent_by(&signer.address(), start).await;
    assert_eq!(sent.len(), n, "one transaction per payment");
    assert_eq!(
        chain.nonce(&signer.address()).await,
        nonce_before + n as u64,
        "consecutive nonces"
    );
    let expected: u128 = (0..n).map(|i| 1_000 + i as u128).sum();
    assert_eq!(chain.balance(&merchant).await, expected);
    for f in running {
        f.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
async fn unmined_is_pending_with_its_transaction_then_final_on_the_same_one() {
    let chain = Hardhat::connect().await;
    let dir = Scratch::new("pending");
    let (signer, signer_hex) = key("pending/signer");
    let (payer, _) = key("pending/payer");
    let merchant = key("pending/merchant").0.address();
    chain.fund(&signer.address()).await;
    chain.mint(&payer.address(), 1_000_000).await;
    let mut setup = Setup::new(sqlite(&dir), &chain.url, &chain.network, &[&signer_hex]);
    setup.receipt_timeout = 2;
    let f = Running::start(&setup.toml(&dir)).await;
    let body = pay(&chain, &payer, &merchant, 10_000, "pending/1").await;
    let start = chain.block_number().await;
    chain.automine(false).await;
    let (_, p) = f.post("/settle", &body).await;
    assert_eq!(
        (p["success"].clone(), p["errorReason"].clone()),
        (json!(false), json!("settlement_pending")),
        "{p}"
    );
    let tx = tx_of(&p);
    assert!(tx.starts_with("0x") && tx.len() == 66, "{p}");
    assert_eq!(chain.pool().await, vec![tx.clone()]);
    // The official servers send the same body again at once: it waits on the
    // same transaction, sends nothing new.
    let (_, again) = f.post("/settle", &body).await;
    assert_eq!(
        (again["errorReason"].clone(), tx_of(&again)),
        (json!("settlement_pending"), tx.clone())
    );
    assert_eq!(chain.pool().await, vec![tx.clone()]);
    chain.mine().await;
    chain.automine(true).await;
    let s = settle_until_final(&f, &body, Duration::from_secs(10)).await;
    assert_eq!(
        (s["success"].clone(), tx_of(&s)),
        (json!(true), tx.clone()),
        "{s}"
    );
    assert_eq!(chain.sent_by(&signer.address(), start).await, vec![tx]);
    assert_eq!(chain.balance(&merchant).await, 10_000);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
async fn a_lost_answer_to_the_broadcast_is_waited_for_not_sent_again() {
    let chain = Hardhat::connect().await;
    let proxy = Proxy::start(&chain.url).await;
    let dir = Scratch::new("lost");
    let (signer, signer_hex) = key("lost/signer");
    let (payer, _) = key("lost/payer");
    let merchant = key("lost/merchant").0.address();
    chain.fund(&signer.address()).await;
    chain.mint(&payer.address(), 1_000_000).await;
    let f = Running::start(
        &Setup::new(sqlite(&dir), &proxy.url, &chain.network, &[&signer_hex]).toml(&dir),
    )
    .await;
    let body = pay(&chain, &payer, &merchant, 20_000, "lost/1").await;
    let start = chain.block_number().await;
    proxy.inject("eth_sendRawTransaction", Fault::LoseAnswer, 1);
    let (_, s) = f.post("/settle", &body).await;
    assert_eq!(s["success"], true, "{s}");
    assert_eq!(proxy.calls("eth_sendRawTransaction"), 1);
    assert_eq!(
        chain.sent_by(&signer.address(), start).await,
        vec![tx_of(&s)]
    );
    assert_eq!(chain.balance(&merchant).await, 20_000);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
async fn a_broadcast_that_never_reached_the_node_is_sent_again_by_the_watcher() {
    let chain = Hardhat::connect().await;
    let proxy = Proxy::start(&chain.url).await;
    let dir = Scratch::new("unsent");
    let (signer, signer_hex) = key("unsent/signer");
    let (payer, _) = key("unsent/payer");
    let merchant = key("unsent/merchant").0.address();
    chain.fund(&signer.address()).await;
    chain.mint(&payer.address(), 1_000_000).await;
    let mut setup = Setup::new(sqlite(&dir), &proxy.url, &chain.network, &[&signer_hex]);
    setup.receipt_timeout = 2;
    let f = Running::start(&setup.toml(&dir)).await;
    let body = pay(&chain, &payer, &merchant, 30_000, "unsent/1").await;
    let start = chain.block_number().await;
    // The proxy answers 502 without passing it on: the facilitator cannot
    // know the node never saw it, so it must not say "failed".
    proxy.inject("eth_sendRawTransaction", Fault::Refuse, 1);
    let (_, p) = f.post("/settle", &body).await;
    assert_eq!(p["errorReason"], "settlement_pending", "{p}");
    let tx = tx_of(&p);
    assert!(chain.receipt(&tx).await.is_none());
    // The watcher sends the same bytes again; the payment settles on that
    // very transaction.
    let s = settle_until_final(&f, &body, Duration::from_secs(30)).await;
    assert_eq!(
        (s["success"].clone(), tx_of(&s)),
        (json!(true), tx.clone()),
        "{s}"
    );
    assert_eq!(chain.sent_by(&signer.address(), start).await, vec![tx]);
    assert_eq!(chain.balance(&merchant).await, 30_000);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
async fn node_failures_before_the_broadcast_send_nothing_and_leave_the_payment_presentable() {
    let chain = Hardhat::connect().await;
    let proxy = Proxy::start(&chain.url).await;
    let dir = Scratch::new("faults");
    let (signer, signer_hex) = key("faults/signer");
    let (payer, _) = key("faults/payer");
    let merchant = key("faults/merchant").0.address();
    chain.fund(&signer.address()).await;
    chain.mint(&payer.address(), 1_000_000).await;
    let f = Running::start(
        &Setup::new(sqlite(&dir), &proxy.url, &chain.network, &[&signer_hex]).toml(&dir),
    )
    .await;
    let start = chain.block_number().await;
    let body = pay(&chain, &payer, &merchant, 40_000, "faults/1").await;
    for fault in [Fault::Refuse, Fault::Error, Fault::Garbage] {
        proxy.inject("*", fault, 1_000);
        let (status, s) = f.post("/settle", &body).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (s["success"].clone(), tx_of(&s)),
            (json!(false), String::new()),
            "{fault:?}: {s}"
        );
        assert_ne!(s["errorReason"], "settlement_pending", "{fault:?}: {s}");
        proxy.heal();
    }
    // A slow node within the deadline: settled.
    proxy.inject("*", Fault::Slow(300), 1_000);
    let (_, s) = f.post("/settle", &body).await;
    assert_eq!(s["success"], true, "{s}");
    proxy.heal();
    assert_eq!(
        chain.sent_by(&signer.address(), start).await,
        vec![tx_of(&s)]
    );
    assert_eq!(chain.balance(&merchant).await, 40_000);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
async fn a_facilitator_killed_after_sending_is_taken_up_by_its_successor() {
    let chain = Hardhat::connect().await;
    let dir = Scratch::new("killed");
    let (signer, signer_hex) = key("killed/signer");
    let (payer, _) = key("killed/payer");
    let merchant = key("killed/merchant").0.address();
    chain.fund(&signer.address()).await;
    chain.mint(&payer.address(), 1_000_000).await;
    let mut setup = Setup::new(sqlite(&dir), &chain.url, &chain.network, &[&signer_hex]);
    setup.receipt_timeout = 20;
    let toml = setup.toml(&dir);
    let a = Running::start(&toml).await;
    let body = pay(&chain, &payer, &merchant, 50_000, "killed/1").await;
    let start = chain.block_number().await;
    chain.automine(false).await;
    let url = a.url.clone();
    let client_body = body.clone();
    let waiting = tokio::spawn(async move {
        support::post(
            &format!("{url}/settle"),
            &client_body,
            Some(support::API_KEY),
        )
        .await
    });
    // Killed once its transaction is out, while it waits for the receipt.
    let tx = chain.wait_pool(Duration::from_secs(10)).await;
    a.kill();
    waiting.abort();
    chain.mine().await;
    chain.automine(true).await;
    // Its successor on the same records answers the same transaction.
    let b = Running::start(&toml).await;
    let s = settle_until_final(&b, &body, Duration::from_secs(30)).await;
    assert_eq!(
        (s["success"].clone(), tx_of(&s)),
        (json!(true), tx.clone()),
        "{s}"
    );
    assert_eq!(chain.sent_by(&signer.address(), start).await, vec![tx]);
    assert_eq!(chain.balance(&merchant).await, 50_000);
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
async fn a_dropped_transaction_is_sent_again_and_a_stuck_one_replaced_at_its_nonce() {
    let chain = Hardhat::connect().await;
    let dir = Scratch::new("stuck");
    let (signer, signer_hex) = key("stuck/signer");
    let (payer, _) = key("stuck/payer");
    let merchant = key("stuck/merchant").0.address();
    chain.fund(&signer.address()).await;
    chain.mint(&payer.address(), 1_000_000).await;
    let mut setup = Setup::new(sqlite(&dir), &chain.url, &chain.network, &[&signer_hex]);
    setup.receipt_timeout = 2;
    let f = Running::start(&setup.toml(&dir)).await;
    let start = chain.block_number().await;

    // Dropped by the node: the watcher sends the same bytes again.
    let dropped = pay(&chain, &payer, &merchant, 1_000, "stuck/dropped").await;
    chain.automine(false).await;
    let (_, p) = f.post("/settle", &dropped).await;
    assert_eq!(p["errorReason"], "settlement_pending", "{p}");
    let tx = tx_of(&p);
    chain.rpc("hardhat_dropTransaction", json!([tx])).await;
    assert!(chain.pool().await.is_empty());
    let end = Instant::now() + Duration::from_secs(20);
    while chain.pool().await != vec![tx.clone()] {
        assert!(
            Instant::now() < end,
            "the dropped transaction was not sent again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    chain.mine().await;
    let s = settle_until_final(&f, &dropped, Duration::from_secs(10)).await;
    assert_eq!(
        (s["success"].clone(), tx_of(&s)),
        (json!(true), tx.clone()),
        "{s}"
    );
    f.stop().await;

    // Stuck (still unmined after replace_after_seconds): replaced at its nonce
    // with higher fees; whichever is mined settles the payment, once.
    setup.replace_after = 1;
    let f = Running::start(&setup.toml(&dir)).await;
    let stuck = pay(&chain, &payer, &merchant, 2_000, "stuck/stuck").await;
    let (_, p) = f.post("/settle", &stuck).await;
    assert_eq!(p["errorReason"], "settlement_pending", "{p}");
    let first = tx_of(&p);
    let end = Instant::now() + Duration::from_secs(20);
    let replacement = loop {
        let pool = chain.pool().await;
        if pool.len() == 1 && pool[0] != first {
            break pool[0].clone();
        }
        assert!(
            Instant::now() < end,
            "the stuck transaction was not replaced: {pool:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    chain.mine().await;
    chain.automine(true).await;
    let s = settle_until_final(&f, &stuck, Duration::from_secs(15)).await;
    assert_eq!(
        (s["success"].clone(), tx_of(&s)),
        (json!(true), replacement.clone()),
        "{s}"
    );
    assert_eq!(
        chain.sent_by(&signer.address(), start).await,
        vec![tx, replacement]
    );
    assert_eq!(chain.balance(&merchant).await, 3_000);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
async fn a_signer_without_gas_sends_nothing_and_the_payment_stays_presentable() {
    let chain = Hardhat::connect().await;
    let dir = Scratch::new("nogas");
    let (signer, signer_hex) = key("nogas/signer");
    let (payer, _) = key("nogas/payer");
    let merchant = key("nogas/merchant").0.address();
    chain.set_eth(&signer.address(), 1_000).await;
    chain.mint(&payer.address(), 1_000_000).await;
    let mut setup = Setup::new(sqlite(&dir), &chain.url, &chain.network, &[&signer_hex]);
    setup.extra_network = "min_gas_balance = \"1000000000000000\"";
    let f = Running::start(&setup.toml(&dir)).await;
    let body = pay(&chain, &payer, &merchant, 60_000, "nogas/1").await;
    // The watcher finds the balance under the minimum at its first look.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, s) = f.post("/settle", &body).await;
    assert_eq!(
        (s["success"].clone(), s["errorReason"].clone(), tx_of(&s)),
        (
            json!(false),
            json!("facilitator_unavailable"),
            String::new()
        ),
        "{s}"
    );
    let (_, m) = f.get("/metrics").await;
    assert!(
        m.contains("paywire_facilitator_signer_gas_balance_ether"),
        "{m}"
    );
    f.stop().await;
    // Topped up: the same payment settles.
    chain.fund(&signer.address()).await;
    let f = Running::start(&setup.toml(&dir)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, s) = f.post("/settle", &body).await;
    assert_eq!(s["success"], true, "{s}");
    assert_eq!(chain.balance(&merchant).await, 60_000);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
async fn a_settlement_dropped_by_a_reorganisation_is_sent_again_and_confirmed() {
    let chain = Hardhat::connect().await;
    let dir = Scratch::new("reorg");
    let (signer, signer_hex) = key("reorg/signer");
    let (payer, _) = key("reorg/payer");
    let merchant = key("reorg/merchant").0.address();
    chain.fund(&signer.address()).await;
    chain.mint(&payer.address(), 1_000_000).await;
    let mut setup = Setup::new(sqlite(&dir), &chain.url, &chain.network, &[&signer_hex]);
    setup.receipt_timeout = 20;
    setup.extra_network = "confirmations = 2";
    let f = Running::start(&setup.toml(&dir)).await;
    let body = pay(&chain, &payer, &merchant, 70_000, "reorg/1").await;
    chain.automine(false).await;
    let snapshot = chain.rpc("evm_snapshot", json!([])).await;
    let url = f.url.clone();
    let client_body = body.clone();
    let waiting = tokio::spawn(async move {
        support::post(
            &format!("{url}/settle"),
            &client_body,
            Some(support::API_KEY),
        )
        .await
    });
    let tx = chain.wait_pool(Duration::from_secs(10)).await;
    // Mined once (one confirmation of the two asked for), then the block is
    // gone: the chain goes back to before it, the transaction with it.
    chain.mine().await;
    assert!(chain.receipt(&tx).await.is_some());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        chain.rpc("evm_revert", json!([snapshot])).await,
        json!(true)
    );
    assert!(chain.receipt(&tx).await.is_none());
    // The facilitator notices (the chain is below the receipt's block) and
    // sends the same bytes again.
    let again = chain.wait_pool(Duration::from_secs(15)).await;
    assert_eq!(again, tx);
    chain.mine().await;
    chain.mine().await;
    chain.automine(true).await;
    let (status, s) = waiting.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (s["success"].clone(), tx_of(&s)),
        (json!(true), tx.clone()),
        "{s}"
    );
    assert_eq!(chain.balance(&merchant).await, 70_000);
    f.stop().await;
}

// ------------------------------------------------------------------ smart wallets

/// `abi.encode(factory, calldata, signature) ‖ magic`: an ERC-6492 signature.
fn erc6492(factory: &paywire::evm::Address, calldata: &[u8], signature: &[u8]) -> Vec<u8> {
    use paywire::evm::abi::u64_word;
    let tail = |out: &mut Vec<u8>, data: &[u8]| {
        out.extend_from_slice(&u64_word(data.len() as u64));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(32) * 32, 0);
    };
    let mut out = factory.to_word().to_vec();
    out.extend_from_slice(&u64_word(0x60));
    out.extend_from_slice(&u64_word(
        (0x60 + 32 + calldata.len().div_ceil(32) * 32) as u64,
    ));
    tail(&mut out, calldata);
    tail(&mut out, signature);
    out.extend_from_slice(&paywire::evm::smart_wallet::ERC6492_MAGIC_SUFFIX);
    out
}

/// A payment of `amount` from the smart wallet `wallet`, signed by `signer`
/// (its owner, or not), wrapped for a counterfactual wallet when `deploy`
/// names a factory and its calldata.
async fn wallet_pay(
    chain: &support::Hardhat,
    signer: &paywire::evm::PrivateKey,
    wallet: &paywire::evm::Address,
    merchant: &paywire::evm::Address,
    amount: u128,
    label: &str,
    deploy: Option<(&paywire::evm::Address, &[u8])>,
) -> String {
    use paywire::evm::eip712::{Domain, eip3009_digest};
    use paywire::json::JsonStr;
    use paywire::types::payload::Eip3009Authorization;
    let body = pay(chain, signer, merchant, amount, label).await;
    let mut v: Value = serde_json::from_str(&body).unwrap();
    let payload = &mut v["paymentPayload"]["payload"];
    payload["authorization"]["from"] = json!(wallet.to_string());
    let a = &payload["authorization"];
    let field = |k: &str| a[k].as_str().unwrap().to_owned();
    let auth = Eip3009Authorization {
        from: *wallet,
        to: field("to").parse().unwrap(),
        value: field("value").parse().unwrap(),
        valid_after: field("validAfter").parse().unwrap(),
        valid_before: field("validBefore").parse().unwrap(),
        nonce: field("nonce").parse().unwrap(),
    };
    let domain = Domain::eip3009(
        JsonStr::new("USD Coin"),
        JsonStr::new("2"),
        chain.chain_id,
        chain.token,
    );
    let sig = signer
        .sign_digest(&eip3009_digest(&domain, &auth))
        .to_bytes()
        .to_vec();
    let sig = match deploy {
        Some((factory, calldata)) => erc6492(factory, calldata, &sig),
        None => sig,
    };
    payload["signature"] = json!(support::hex(&sig));
    v.to_string()
}

/// Deploys the test's wallet factory (CREATE2); returns its address.
async fn deploy_factory(chain: &support::Hardhat) -> paywire::evm::Address {
    let contracts: Value = serde_json::from_slice(
        &std::fs::read(std::env::var("PAYWIRE_TEST_CONTRACTS").unwrap()).unwrap(),
    )
    .unwrap();
    let code = contracts["contracts"]["SmartWalletFactory"]["bytecode"].clone();
    let hash = chain
        .rpc(
            "eth_sendTransaction",
            json!([{"from": chain.minter, "data": code, "gas": "0x500000"}]),
        )
        .await;
    let receipt = chain.receipt(hash.as_str().unwrap()).await.unwrap();
    receipt["contractAddress"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The factory's `deploy(owner, salt)` calldata.
fn deploy_call(owner: &paywire::evm::Address, salt: u8) -> Vec<u8> {
    let mut data = paywire::evm::keccak256(b"deploy(address,bytes32)")[..4].to_vec();
    data.extend_from_slice(&owner.to_word());
    data.extend_from_slice(&[salt; 32]);
    data
}

/// Where the factory deploys `owner`'s wallet with `salt`.
async fn wallet_address(
    chain: &support::Hardhat,
    factory: &paywire::evm::Address,
    owner: &paywire::evm::Address,
    salt: u8,
) -> paywire::evm::Address {
    let mut data = paywire::evm::keccak256(b"addressOf(address,bytes32)")[..4].to_vec();
    data.extend_from_slice(&owner.to_word());
    data.extend_from_slice(&[salt; 32]);
    let out = chain
        .rpc(
            "eth_call",
            json!([{"to": factory.to_string(), "data": support::hex(&data)}, "latest"]),
        )
        .await;
    paywire::evm::abi::decode_address(&support::unhex(out.as_str().unwrap())).unwrap()
}

/// The official facilitator's verdicts on `bodies` (its verify, on the same
/// chain, with `allowed` as `eip6492AllowedFactories`): official-verify.mjs.
async fn official_verify(
    chain: &support::Hardhat,
    key_hex: &str,
    allowed: &[String],
    bodies: &[&str],
) -> Vec<Value> {
    use std::io::Write;
    let input = json!({
        "rpc": chain.url,
        "chainId": chain.chain_id,
        "now": chain.now().await,
        "key": key_hex,
        "allowedFactories": allowed,
        "bodies": bodies.iter().map(|b| serde_json::from_str::<Value>(b).unwrap()).collect::<Vec<_>>(),
    });
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/onchain/official-verify.mjs"
    );
    let output = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new("node")
            .arg(script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("node runs the official facilitator");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.to_string().as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "official-verify.mjs failed");
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Our verdict says what the official one says (validity and reason).
fn agrees(ours: &Value, official: &Value) {
    assert_eq!(
        (&ours["isValid"], ours.get("invalidReason")),
        (&official["isValid"], official.get("invalidReason")),
        "ours {ours}, official {official}"
    );
}

/// The test's Multicall3 (`aggregate3`) at Multicall3's address.
async fn install_multicall3(chain: &support::Hardhat) {
    let contracts: Value = serde_json::from_slice(
        &std::fs::read(std::env::var("PAYWIRE_TEST_CONTRACTS").unwrap()).unwrap(),
    )
    .unwrap();
    let code = contracts["contracts"]["Multicall3"]["deployedBytecode"].clone();
    chain
        .rpc(
            "hardhat_setCode",
            json!([paywire::evm::abi::MULTICALL3.to_string(), code]),
        )
        .await;
}

async fn code_at(chain: &support::Hardhat, a: &paywire::evm::Address) -> String {
    chain
        .rpc("eth_getCode", json!([a.to_string(), "latest"]))
        .await
        .as_str()
        .unwrap()
        .to_owned()
}

/// A declaration the official `@x402/extensions` built (the bazaar vectors).
fn official_declaration(name: &str) -> Value {
    let file: Value =
        serde_json::from_str(include_str!("../../../x402-core/tests/vectors/bazaar.json")).unwrap();
    file["declarations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap()["extension"]
        .clone()
}

/// A payment body whose payload carries `resource` and the bazaar `declaration`
/// (echoed from the PaymentRequired, outside what the payer signs).
fn declaring(body: &str, resource: Value, declaration: Value) -> String {
    let mut v: Value = serde_json::from_str(body).unwrap();
    v["paymentPayload"]["resource"] = resource;
    v["paymentPayload"]["extensions"] = json!({"bazaar": declaration});
    v.to_string()
}

/// The official bazaar client's `listResources` on `url` (a Node process).
fn official_list(url: &str, params: &Value) -> Value {
    let out = std::process::Command::new("node")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/onchain/list-resources.mjs"
        ))
        .arg(url)
        .arg(params.to_string())
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
async fn smart_wallets_pay_through_erc1271_and_erc6492() {
    let chain = Hardhat::connect().await;
    let dir = Scratch::new("wallets");
    let strict_dir = Scratch::new("wallets-strict");
    let (signer, signer_hex) = key("wallets/signer");
    let (owner, _) = key("wallets/owner");
    let (stranger, _) = key("wallets/stranger");
    let merchant = key("wallets/merchant").0.address();
    chain.fund(&signer.address()).await;
    let factory = deploy_factory(&chain).await;
    let allowing = format!("eip6492_allowed_factories = [\"{factory}\"]");
    let mut setup = Setup::new(sqlite(&dir), &chain.url, &chain.network, &[&signer_hex]);
    setup.extra_network = &allowing;
    let f = Running::start(&setup.toml(&dir)).await;
    let strict = Running::start(
        &Setup::new(
            sqlite(&strict_dir),
            &chain.url,
            &chain.network,
            &[&signer_hex],
        )
        .toml(&strict_dir),
    )
    .await;

    // A deployed ERC-1271 wallet pays: its owner's signature, the bytes overload.
    let wallet = wallet_address(&chain, &factory, &owner.address(), 1).await;
    let hash = chain
        .rpc(
            "eth_sendTransaction",
            json!([{"from": chain.minter, "to": factory.to_string(), "data": support::hex(&deploy_call(&owner.address(), 1))}]),
        )
        .await;
    assert_eq!(
        chain.receipt(hash.as_str().unwrap()).await.unwrap()["status"],
        "0x1"
    );
    assert_ne!(code_at(&chain, &wallet).await, "0x");
    chain.mint(&wallet, 5_000_000).await;
    let body = wallet_pay(&chain, &owner, &wallet, &merchant, 1_250_000, "w/1", None).await;
    let (_, v) = strict.post("/verify", &body).await;
    assert_eq!(v, json!({"isValid": true, "payer": wallet.to_string()}));
    agrees(
        &v,
        &official_verify(&chain, &signer_hex, &[], &[&body]).await[0],
    );
    let (_, s) = f.post("/settle", &body).await;
    assert_eq!(s["success"], true, "{s}");
    assert_eq!(s["payer"], wallet.to_string());
    assert_eq!(chain.receipt(&tx_of(&s)).await.unwrap()["status"], "0x1");
    assert_eq!(chain.balance(&wallet).await, 3_750_000);
    assert_eq!(chain.balance(&merchant).await, 1_250_000);

    // A signature the wallet does not accept: refused, nothing sent.
    let start = chain.block_number().await + 1;
    let body = wallet_pay(&chain, &stranger, &wallet, &merchant, 1_000, "w/2", None).await;
    let (_, v) = f.post("/verify", &body).await;
    assert_eq!(v["invalidReason"], "invalid_exact_evm_signature", "{v}");
    agrees(
        &v,
        &official_verify(&chain, &signer_hex, &[], &[&body]).await[0],
    );
    let (_, s) = f.post("/settle", &body).await;
    assert_eq!(
        (s["success"].clone(), s["errorReason"].clone(), tx_of(&s)),
        (
            json!(false),
            json!("invalid_exact_evm_signature"),
            String::new()
        ),
        "{s}"
    );
    assert!(chain.sent_by(&signer.address(), start).await.is_empty());
    assert_eq!(chain.balance(&wallet).await, 3_750_000);

    // A counterfactual wallet (ERC-6492): its factory must be allowed.
    let later = wallet_address(&chain, &factory, &owner.address(), 2).await;
    assert_eq!(code_at(&chain, &later).await, "0x");
    chain.mint(&later, 2_000_000).await;
    let calldata = deploy_call(&owner.address(), 2);
    let body = wallet_pay(
        &chain,
        &owner,
        &later,
        &merchant,
        500_000,
        "w/3",
        Some((&factory, &calldata)),
    )
    .await;
    let (_, v) = strict.post("/verify", &body).await;
    assert_eq!(
        v,
        json!({"isValid": false, "invalidReason": "eip6492_factory_not_allowed", "invalidMessage": v["invalidMessage"], "payer": later.to_string()})
    );
    agrees(
        &v,
        &official_verify(&chain, &signer_hex, &[], &[&body]).await[0],
    );
    let (_, s) = strict.post("/settle", &body).await;
    assert_eq!(s["errorReason"], "eip6492_factory_not_allowed", "{s}");
    // Allowed, but without Multicall3 it cannot be deployed and paid at once.
    chain
        .rpc(
            "hardhat_setCode",
            json!([paywire::evm::abi::MULTICALL3.to_string(), "0x"]),
        )
        .await;
    let (_, v) = f.post("/verify", &body).await;
    assert_eq!(v["invalidReason"], "unexpected_verify_error", "{v}");
    install_multicall3(&chain).await;
    let (_, v) = f.post("/verify", &body).await;
    assert_eq!(v, json!({"isValid": true, "payer": later.to_string()}));
    let allowed = [factory.to_string()];
    agrees(
        &v,
        &official_verify(&chain, &signer_hex, &allowed, &[&body]).await[0],
    );
    // Nothing was deployed by verifying.
    assert_eq!(code_at(&chain, &later).await, "0x");
    assert_eq!(chain.balance(&later).await, 2_000_000);
    // Settled: deployed, then paid, in one transaction.
    let start = chain.block_number().await + 1;
    let (_, s) = f.post("/settle", &body).await;
    assert_eq!(s["success"], true, "{s}");
    assert_eq!(s["payer"], later.to_string());
    assert_eq!(chain.sent_by(&signer.address(), start).await.len(), 1);
    assert_ne!(code_at(&chain, &later).await, "0x");
    assert_eq!(chain.balance(&later).await, 1_500_000);
    assert_eq!(chain.balance(&merchant).await, 1_750_000);
    // Asked again: the same answer; a second payment of the wallet, still
    // wrapped, is now checked by the deployed wallet (the factory is not needed).
    let (_, again) = f.post("/settle", &body).await;
    assert_eq!(again, s);
    let body = wallet_pay(
        &chain,
        &owner,
        &later,
        &merchant,
        250_000,
        "w/4",
        Some((&factory, &calldata)),
    )
    .await;
    let (_, v) = strict.post("/verify", &body).await;
    assert_eq!(v["isValid"], true, "{v}");
    agrees(
        &v,
        &official_verify(&chain, &signer_hex, &[], &[&body]).await[0],
    );
    let (_, s) = strict.post("/settle", &body).await;
    assert_eq!(s["success"], true, "{s}");
    assert_eq!(chain.balance(&later).await, 1_250_000);
    assert_eq!(chain.balance(&merchant).await, 2_000_000);

    f.stop().await;
    strict.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
async fn a_settled_payment_s_declaration_is_listed_for_the_official_client() {
    let chain = Hardhat::connect().await;
    let dir = Scratch::new("bazaar");
    let (signer, signer_hex) = key("bazaar/signer");
    let (payer, _) = key("bazaar/payer");
    let merchant = key("bazaar/merchant").0.address();
    chain.fund(&signer.address()).await;
    chain.mint(&payer.address(), 5_000_000).await;
    let mut setup = Setup::new(sqlite(&dir), &chain.url, &chain.network, &[&signer_hex]);
    setup.extra_server = "[discovery]\nenabled = true\n";
    let f = Running::start(&setup.toml(&dir)).await;

    let get = official_declaration("GET with query parameters, their schema and an output");
    let mcp = official_declaration("an MCP tool");
    let mut invalid = get.clone();
    invalid["info"]["input"]["method"] = json!("PUT");
    let payments = [
        (
            "bazaar/get",
            json!({"url": "https://api.example.com/weather?city=SF", "description": "Weather",
                   "mimeType": "application/json", "serviceName": "Weather API",
                   "tags": ["weather", "Weather", "forecast"], "iconUrl": "https://localhost/i.png"}),
            get.clone(),
        ),
        (
            "bazaar/mcp",
            json!({"url": "https://api.example.com/mcp"}),
            mcp.clone(),
        ),
        // Settled all the same, never listed.
        (
            "bazaar/invalid",
            json!({"url": "https://api.example.com/other"}),
            invalid,
        ),
    ];
    let mut bodies = Vec::new();
    for (label, resource, declaration) in payments {
        let body = declaring(
            &pay(&chain, &payer, &merchant, 10_000, label).await,
            resource,
            declaration,
        );
        let v = settle_until_final(&f, &body, Duration::from_secs(20)).await;
        assert_eq!(v["success"], true, "{label}: {v}");
        bodies.push(body);
    }
    // The resource server is told what became of each declaration (the
    // EXTENSION-RESPONSES header of the settlement, asked again: the same
    // settlement, cataloged again).
    for (body, status) in bodies.iter().zip(["success", "success", "rejected"]) {
        let r = support::http()
            .post(format!("{}/settle", f.url))
            .header("authorization", format!("Bearer {}", support::API_KEY))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let said = r.headers()["extension-responses"]
            .to_str()
            .unwrap()
            .to_owned();
        let mut buf = vec![0u8; said.len()];
        let n = paywire::header::base64_decode(said.as_bytes(), &mut buf).unwrap();
        let said: Value = serde_json::from_slice(&buf[..n]).unwrap();
        assert_eq!(said["bazaar"]["status"], status, "{said}");
        if status == "rejected" {
            assert!(
                said["bazaar"]["rejectedReason"]
                    .as_str()
                    .unwrap()
                    .contains("info/input/method"),
                "{said}"
            );
        }
        let answer: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(answer["success"], true);
    }

    let (status, listed) = f.get("/discovery/resources").await;
    assert_eq!(status, StatusCode::OK);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["x402Version"], 2);
    assert_eq!(
        listed["pagination"],
        json!({"limit": 20, "offset": 0, "total": 2})
    );
    let items = listed["items"].as_array().unwrap();
    let http = items
        .iter()
        .find(|i| i["type"] == "http")
        .expect("the GET endpoint");
    assert_eq!(http["resource"], "https://api.example.com/weather");
    assert_eq!(http["x402Version"], 2);
    assert_eq!(http["description"], "Weather");
    assert_eq!(http["mimeType"], "application/json");
    assert_eq!(http["serviceName"], "Weather API");
    assert_eq!(http["tags"], json!(["weather", "forecast"]));
    assert!(http.get("iconUrl").is_none(), "a loopback icon is dropped");
    assert_eq!(http["extensions"]["bazaar"], get);
    assert_eq!(http["accepts"][0]["payTo"], merchant.to_string());
    assert_eq!(http["accepts"][0]["network"], chain.network);
    assert!(http["lastUpdated"].as_str().unwrap().ends_with('Z'));
    let tool = items
        .iter()
        .find(|i| i["type"] == "mcp")
        .expect("the MCP tool");
    assert_eq!(tool["resource"], "https://api.example.com/mcp");
    assert_eq!(tool["extensions"]["bazaar"], mcp);

    // Filters and pages.
    let count = |q: &str| {
        let f = &f;
        let q = q.to_owned();
        async move {
            let (status, v) = f.get(&format!("/discovery/resources?{q}")).await;
            assert_eq!(status, StatusCode::OK, "{q}");
            let v: Value = serde_json::from_str(&v).unwrap();
            (
                v["items"].as_array().unwrap().len(),
                v["pagination"]["total"].clone(),
            )
        }
    };
    assert_eq!(count("type=mcp").await, (1, json!(1)));
    let pay_to = merchant.to_string().to_lowercase();
    assert_eq!(count(&format!("payTo={pay_to}")).await, (2, json!(2)));
    assert_eq!(
        count("payTo=0x0000000000000000000000000000000000000001").await,
        (0, json!(0))
    );
    assert_eq!(count("scheme=exact&extensions=bazaar").await, (2, json!(2)));
    assert_eq!(
        count(&format!("network={}", chain.network)).await,
        (2, json!(2))
    );
    assert_eq!(count("limit=1&offset=1").await, (1, json!(2)));

    // The official client reads the same answer.
    let official = official_list(&f.url, &json!({}));
    assert_eq!(official, listed);
    let official = official_list(&f.url, &json!({"type": "http", "limit": 5, "offset": 0}));
    assert_eq!(official["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        official["items"][0]["resource"],
        "https://api.example.com/weather"
    );
    f.stop().await;
}
