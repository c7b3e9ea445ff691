//! `batch-settlement` through the facilitator: a channel opened by an
//! EIP-3009 deposit, vouchers verified, claimed with the facilitator's
//! receiver-authorizer signature, swept to the receiver and the rest
//! refunded — each once, with exact balances.

use paywire::Amount;
use paywire::evm::Address;
use paywire::evm::batch_settlement::client::{
    Created, DepositMethod, channel_config, create_deposit, create_voucher,
};
use paywire::evm::batch_settlement::types::BatchExtra;
use paywire::evm::batch_settlement::verify::Requirements;
use paywire::evm::batch_settlement::{
    BATCH_SETTLEMENT_ADDRESS, ChannelConfig, ERC3009_DEPOSIT_COLLECTOR_ADDRESS, MIN_WITHDRAW_DELAY,
    PERMIT2_DEPOSIT_COLLECTOR_ADDRESS,
};
use paywire::evm::{B256, keccak256};
use paywire::json::{JsonStr, ToJson};

use super::*;

const PRICE: u128 = 1_000;

async fn place_contracts(chain: &Hardhat) {
    let contracts: Value = serde_json::from_slice(
        &std::fs::read(std::env::var("PAYWIRE_TEST_CONTRACTS").expect(support::NEEDS_CHAIN))
            .unwrap(),
    )
    .unwrap();
    for (addr, name) in [
        (BATCH_SETTLEMENT_ADDRESS, "X402BatchSettlement"),
        (ERC3009_DEPOSIT_COLLECTOR_ADDRESS, "Erc3009DepositCollector"),
        (PERMIT2_DEPOSIT_COLLECTOR_ADDRESS, "Permit2DepositCollector"),
    ] {
        let code = contracts["contracts"][name]["deployedBytecode"].clone();
        assert!(code.is_string(), "{name} is compiled");
        chain
            .rpc("hardhat_setCode", json!([addr.to_string(), code]))
            .await;
    }
}

/// The requirements a resource server states, as JSON and as the core reads them.
fn requirements(chain: &Hardhat, receiver: &Address, authorizer: &Address) -> Value {
    json!({
        "scheme": "batch-settlement",
        "network": chain.network,
        "amount": PRICE.to_string(),
        "asset": chain.token.to_string(),
        "payTo": receiver.to_string(),
        "maxTimeoutSeconds": 300,
        "extra": {
            "receiverAuthorizer": authorizer.to_string(),
            "withdrawDelay": MIN_WITHDRAW_DELAY,
            "name": "USD Coin",
            "version": "2",
            "assetTransferMethod": "eip3009"
        }
    })
}

fn core_requirements(
    chain: &Hardhat,
    receiver: &Address,
    authorizer: &Address,
) -> Requirements<'static> {
    Requirements {
        chain_id: chain.chain_id,
        pay_to: *receiver,
        asset: chain.token,
        amount: Amount::from(PRICE),
        max_timeout_seconds: 300,
        extra: BatchExtra {
            receiver_authorizer: Some(*authorizer),
            withdraw_delay: Some(MIN_WITHDRAW_DELAY),
            name: Some(JsonStr::new("USD Coin")),
            version: Some(JsonStr::new("2")),
            asset_transfer_method: Some(JsonStr::new("eip3009")),
            ..BatchExtra::default()
        },
    }
}

/// A `/verify` or `/settle` body carrying `payload`.
fn body(accepted: &Value, payload: Value) -> String {
    json!({
        "x402Version": 2,
        "paymentPayload": {"x402Version": 2, "accepted": accepted, "payload": payload},
        "paymentRequirements": accepted
    })
    .to_string()
}

fn payload_of(c: &Created) -> Value {
    serde_json::from_str(&c.to_json_string()).unwrap()
}

fn claim_row(config: &ChannelConfig, voucher: &Created, total: u128) -> Value {
    json!({
        "voucher": {
            "channel": serde_json::from_str::<Value>(&config.to_json_string()).unwrap(),
            "maxClaimableAmount": voucher.voucher.max_claimable_amount.to_string()
        },
        "signature": voucher.voucher.voucher().signature.as_str().unwrap(),
        "totalClaimed": total.to_string()
    })
}

async fn token_balance(chain: &Hardhat, a: &Address) -> u128 {
    chain.balance(a).await
}

/// `channels(id)` on chain: balance and claimed total.
async fn channel(chain: &Hardhat, config: &ChannelConfig) -> (u128, u128) {
    let id = paywire::evm::batch_settlement::channel_id(config, chain.chain_id);
    let data = paywire::evm::batch_settlement::abi::channels(&id);
    let out = chain
        .rpc(
            "eth_call",
            json!([{"to": BATCH_SETTLEMENT_ADDRESS.to_string(), "data": support::hex(&data)}, "latest"]),
        )
        .await;
    let b = support::unhex(out.as_str().unwrap());
    let word = |i: usize| u128::from_be_bytes(b[i * 32 + 16..i * 32 + 32].try_into().unwrap());
    (word(0), word(1))
}

/// `paywire facilitator` settling `batch-settlement` with `signer_hex`,
/// signing claims and refunds as the receiver authorizer `authorizer_hex`;
/// the resource server's key acts for its own `receiver` only.
async fn authorizing_facilitator(
    chain: &Hardhat,
    dir: &Scratch,
    signer_hex: &str,
    authorizer_hex: &str,
    receiver: &Address,
) -> Running {
    let auth_file = dir.secret("authorizer.key", authorizer_hex);
    let mut setup = Setup::new(sqlite(dir), &chain.url, &chain.network, &[signer_hex]);
    let extra = format!(
        "assets = [\"{}\"]\nreceiver_authorizer = \"auth\"\n\n[[signers]]\nname = \"auth\"\nkey_file = {auth_file:?}\n",
        chain.token
    );
    setup.extra_network = &extra;
    let own = format!("pay_to = [\"{receiver}\"]");
    setup.extra_key = &own;
    let toml = setup.toml(dir).replace(
        "schemes = [\"exact-eip3009\", \"exact-permit2\", \"upto\"]",
        "schemes = [\"exact-eip3009\", \"batch-settlement\"]",
    );
    Running::start(&toml).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
async fn a_channel_is_funded_claimed_swept_and_refunded_each_once() {
    let chain = Hardhat::connect().await;
    place_contracts(&chain).await;
    // The official facilitator reads the chain through Multicall3.
    install_multicall3(&chain).await;
    let dir = Scratch::new("batch");
    let (signer, signer_hex) = key("batch/signer");
    let (authorizer, authorizer_hex) = key("batch/authorizer");
    let (payer, _) = key("batch/payer");
    let receiver = key("batch/receiver").0.address();
    chain.fund(&signer.address()).await;
    chain.mint(&payer.address(), 1_000_000).await;
    let f = authorizing_facilitator(&chain, &dir, &signer_hex, &authorizer_hex, &receiver).await;

    // Advertised with its receiver authorizer.
    let (_, supported) = f.get("/supported").await;
    let supported: Value = serde_json::from_str(&supported).unwrap();
    assert!(
        supported["kinds"].as_array().unwrap().contains(&json!({
            "x402Version": 2, "scheme": "batch-settlement", "network": chain.network,
            "extra": {"receiverAuthorizer": authorizer.address().to_string()}
        })),
        "{supported}"
    );

    let accepted = requirements(&chain, &receiver, &authorizer.address());
    let req = core_requirements(&chain, &receiver, &authorizer.address());
    let salt = B256(keccak256(format!("{}/batch", chain.token).as_bytes()));
    let config = channel_config(payer.address(), None, &req, salt).unwrap();
    let start = chain.block_number().await;

    // The deposit: verified against the empty channel, settled once.
    let deposit = create_deposit(
        &payer,
        &payer,
        &config,
        &req,
        Amount::from(300_000u64),
        Amount::from(PRICE),
        DepositMethod::Erc3009 {
            salt: B256(keccak256(format!("{}/deposit", chain.token).as_bytes())),
        },
        chain.now().await,
    )
    .unwrap();
    let dep = body(&accepted, payload_of(&deposit));
    let (_, v) = f.post("/verify", &dep).await;
    assert_eq!(v["isValid"], true, "{v}");
    // The official facilitator says the same of this client's deposit.
    let official = official_verify(&chain, &signer_hex, &[], &[&dep]).await;
    assert_eq!(official[0], v, "the official facilitator's verdict");
    assert_eq!(v["payer"], payer.address().to_string());
    assert_eq!(v["extra"]["balance"], "0", "{v}");
    let (_, s) = f.post("/settle", &dep).await;
    assert_eq!(s["success"], true, "{s}");
    assert_eq!(s["amount"], "300000");
    assert_eq!(s["extra"]["channelState"]["balance"], "300000", "{s}");
    assert_eq!(s["extra"]["channelState"]["totalClaimed"], "0");
    assert_eq!(token_balance(&chain, &payer.address()).await, 700_000);
    assert_eq!(
        token_balance(&chain, &BATCH_SETTLEMENT_ADDRESS).await,
        300_000
    );
    let (_, again) = f.post("/settle", &dep).await;
    assert_eq!(again, s, "the same deposit again: the same answer");
    assert_eq!(token_balance(&chain, &payer.address()).await, 700_000);

    // Vouchers: each verified against the funded channel; one above the
    // balance refused.
    let mut last = None;
    for n in 1..=3u128 {
        let voucher =
            create_voucher(&payer, &config, chain.chain_id, Amount::from(n * PRICE)).unwrap();
        let (_, v) = f
            .post("/verify", &body(&accepted, payload_of(&voucher)))
            .await;
        assert_eq!(v["isValid"], true, "{v}");
        assert_eq!(v["extra"]["balance"], "300000");
        last = Some(voucher);
    }
    let last = last.unwrap();
    let over = create_voucher(&payer, &config, chain.chain_id, Amount::from(300_001u64)).unwrap();
    let (_, v) = f.post("/verify", &body(&accepted, payload_of(&over))).await;
    assert_eq!(
        v["invalidReason"], "invalid_batch_settlement_evm_cumulative_exceeds_balance",
        "{v}"
    );
    let (stranger, _) = key("batch/stranger");
    let forged =
        create_voucher(&stranger, &config, chain.chain_id, Amount::from(4 * PRICE)).unwrap();
    let (_, v) = f
        .post("/verify", &body(&accepted, payload_of(&forged)))
        .await;
    assert_eq!(
        v["invalidReason"], "invalid_batch_settlement_evm_voucher_signature",
        "{v}"
    );

    // The claim: signed here by the receiver authorizer, sent once.
    let claim = body(
        &accepted,
        json!({"type": "claim", "claims": [claim_row(&config, &last, 3 * PRICE)]}),
    );
    let (_, c) = f.post("/settle", &claim).await;
    assert_eq!(c["success"], true, "{c}");
    assert_eq!(channel(&chain, &config).await, (300_000, 3_000));
    let (_, again) = f.post("/settle", &claim).await;
    assert_eq!(again, c);
    // A claim naming another receiver authorizer is not signed here.
    let mut other = config;
    other.receiver_authorizer = stranger.address();
    let (_, m) = f
        .post(
            "/settle",
            &body(
                &accepted,
                json!({"type": "claim", "claims": [claim_row(&other, &last, 3 * PRICE)]}),
            ),
        )
        .await;
    assert_eq!(
        m["errorReason"], "invalid_batch_settlement_evm_authorizer_address_mismatch",
        "{m}"
    );

    // The sweep: the claimed 3,000 to the receiver in one transfer, once.
    let sweep = body(
        &accepted,
        json!({"type": "settle", "receiver": receiver.to_string(), "token": chain.token.to_string()}),
    );
    let (_, w) = f.post("/settle", &sweep).await;
    assert_eq!(w["success"], true, "{w}");
    assert_eq!(w["amount"], "3000", "{w}");
    assert_eq!(token_balance(&chain, &receiver).await, 3_000);
    let (_, again) = f.post("/settle", &sweep).await;
    assert_eq!(again, w);
    assert_eq!(token_balance(&chain, &receiver).await, 3_000);

    // The refund of the rest, signed here, once.
    let refund = body(
        &accepted,
        json!({
            "type": "refund",
            "channelConfig": serde_json::from_str::<Value>(&config.to_json_string()).unwrap(),
            "voucher": payload_of(&last)["voucher"],
            "amount": "297000",
            "refundNonce": "0",
            "claims": []
        }),
    );
    let (_, r) = f.post("/settle", &refund).await;
    assert_eq!(r["success"], true, "{r}");
    assert_eq!(r["amount"], "297000", "{r}");
    assert_eq!(r["extra"]["channelState"]["balance"], "3000", "{r}");
    assert_eq!(r["extra"]["channelState"]["refundNonce"], "1");
    assert_eq!(token_balance(&chain, &payer.address()).await, 997_000);
    assert_eq!(token_balance(&chain, &BATCH_SETTLEMENT_ADDRESS).await, 0);
    let (_, again) = f.post("/settle", &refund).await;
    assert_eq!(again, r);
    assert_eq!(token_balance(&chain, &payer.address()).await, 997_000);

    // Four transactions so far, from the facilitator's signer.
    let sent = chain.sent_by(&signer.address(), start).await;
    assert_eq!(
        sent,
        [&s, &c, &w, &r].map(tx_of).to_vec(),
        "one transaction each"
    );

    // A second payer's channel, refunded with its last voucher claimed first
    // (one multicall): the claim and the refund land together.
    let (payer2, _) = key("batch/payer2");
    chain.mint(&payer2.address(), 50_000).await;
    let config2 = channel_config(payer2.address(), None, &req, salt).unwrap();
    let deposit2 = create_deposit(
        &payer2,
        &payer2,
        &config2,
        &req,
        Amount::from(50_000u64),
        Amount::from(PRICE),
        DepositMethod::Erc3009 {
            salt: B256(keccak256(format!("{}/deposit2", chain.token).as_bytes())),
        },
        chain.now().await,
    )
    .unwrap();
    let (_, s2) = f
        .post("/settle", &body(&accepted, payload_of(&deposit2)))
        .await;
    assert_eq!(s2["success"], true, "{s2}");
    let v2 = create_voucher(&payer2, &config2, chain.chain_id, Amount::from(2 * PRICE)).unwrap();
    let refund2 = body(
        &accepted,
        json!({
            "type": "refund",
            "channelConfig": serde_json::from_str::<Value>(&config2.to_json_string()).unwrap(),
            "voucher": payload_of(&v2)["voucher"],
            "amount": "1000000",
            "refundNonce": "0",
            "claims": [claim_row(&config2, &v2, 2 * PRICE)]
        }),
    );
    // Without the claim of what the payer's voucher says was charged, the
    // facilitator signs no refund: nothing moves.
    let mut unclaimed: Value = serde_json::from_str(&refund2).unwrap();
    unclaimed["paymentPayload"]["payload"]["claims"] = json!([]);
    let (_, u) = f.post("/settle", &unclaimed.to_string()).await;
    assert_eq!(
        u["errorReason"], "invalid_batch_settlement_evm_refund_payload",
        "{u}"
    );
    assert_eq!(token_balance(&chain, &payer2.address()).await, 0);
    let (_, r2) = f.post("/settle", &refund2).await;
    assert_eq!(r2["success"], true, "{r2}");
    assert_eq!(
        r2["amount"], "48000",
        "capped at what is left after the claim: {r2}"
    );
    assert_eq!(channel(&chain, &config2).await, (2_000, 2_000));
    assert_eq!(token_balance(&chain, &payer2.address()).await, 48_000);
    let (_, w2) = f.post("/settle", &sweep).await;
    assert_eq!(w2["amount"], "2000", "{w2}");
    assert_eq!(token_balance(&chain, &receiver).await, 5_000);
    assert_eq!(token_balance(&chain, &BATCH_SETTLEMENT_ADDRESS).await, 0);

    // Another receiver's channel: not this key's to claim, sweep or refund.
    let mut theirs = config;
    theirs.receiver = stranger.address();
    for payload in [
        json!({"type": "claim", "claims": [claim_row(&theirs, &last, 3 * PRICE)]}),
        json!({"type": "settle", "receiver": stranger.address().to_string(), "token": chain.token.to_string()}),
    ] {
        let (status, v) = f.post("/settle", &body(&accepted, payload)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    }
    assert_eq!(chain.sent_by(&signer.address(), start).await.len(), 7);
    f.stop().await;
}

/// A `PAYMENT-SIGNATURE` header carrying `c` for `accepted`.
fn header_of(accepted: &Value, c: &Created) -> String {
    let doc = json!({"x402Version": 2, "accepted": accepted, "payload": payload_of(c)}).to_string();
    let mut b64 = vec![0u8; paywire::header::base64_encoded_len(doc.len())];
    let n = paywire::header::base64_encode(doc.as_bytes(), &mut b64).unwrap();
    b64.truncate(n);
    String::from_utf8(b64).unwrap()
}

/// `GET url` paying with `payment`: the status.
async fn pay_route(url: &str, payment: String) -> (u16, String) {
    let r = support::http()
        .get(url)
        .header("PAYMENT-SIGNATURE", payment)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a local chain: run scripts/test-settlement.sh"]
async fn the_paywalls_channels_are_claimed_and_swept_by_its_channel_manager() {
    use paywire_server::paywall::{
        ChannelManager, Facilitator as Client, ManagerOutcome, MemoryRecords, Offer, Paywall,
        RecordStore, RecordUpdate,
    };
    use std::sync::Arc;

    let chain = Hardhat::connect().await;
    place_contracts(&chain).await;
    let dir = Scratch::new("batch-manager");
    let (signer, signer_hex) = key("batch-manager/signer");
    let (authorizer, authorizer_hex) = key("batch-manager/authorizer");
    let (payer, _) = key("batch-manager/payer");
    let (payer2, _) = key("batch-manager/payer2");
    let receiver = key("batch-manager/receiver").0.address();
    chain.fund(&signer.address()).await;
    chain.mint(&payer.address(), 1_000_000).await;
    chain.mint(&payer2.address(), 50_000).await;
    let f = authorizing_facilitator(&chain, &dir, &signer_hex, &authorizer_hex, &receiver).await;
    let start = chain.block_number().await;

    // The Rust paywall layer selling GET /report as batch-settlement,
    // settling through the facilitator.
    let accepted = requirements(&chain, &receiver, &authorizer.address());
    let req = core_requirements(&chain, &receiver, &authorizer.address());
    let records: Arc<dyn RecordStore> = Arc::new(MemoryRecords::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/report", listener.local_addr().unwrap());
    let offer = json!({"x402Version": 2, "resource": {"url": url, "mimeType": "text/plain"}, "accepts": [accepted]});
    let paywall = Paywall::new(
        Client::new(&f.url).unwrap().api_key(support::API_KEY),
        Arc::clone(&records),
    )
    .route("GET /report", Offer::document(&offer.to_string()))
    .unwrap();
    let app = axum::Router::new()
        .route("/report", axum::routing::get(|| async { "the report" }))
        .layer(paywall.layer());
    let server = tokio::spawn(paywire_server::http::serve(
        listener,
        app,
        paywire_server::http::Limits::default(),
        std::future::pending(),
    ));

    // Two payers: a deposit each (its first voucher charged), then vouchers
    // checked by the paywall alone.
    let salt = B256(keccak256(format!("{}/manager", chain.token).as_bytes()));
    let config = channel_config(payer.address(), None, &req, salt).unwrap();
    let config2 = channel_config(payer2.address(), None, &req, salt).unwrap();
    let now = chain.now().await;
    let deposit =
        |who: &paywire::evm::PrivateKey, config: &ChannelConfig, amount: u64, tag: &str| {
            let d = create_deposit(
                who,
                who,
                config,
                &req,
                Amount::from(amount),
                Amount::from(PRICE),
                DepositMethod::Erc3009 {
                    salt: B256(keccak256(format!("{}/{tag}", chain.token).as_bytes())),
                },
                now,
            );
            d.unwrap()
        };
    let voucher = |who: &paywire::evm::PrivateKey, config: &ChannelConfig, total: u128| {
        create_voucher(who, config, chain.chain_id, Amount::from(total)).unwrap()
    };
    let d1 = deposit(&payer, &config, 100_000, "manager-deposit");
    let d2 = deposit(&payer2, &config2, 50_000, "manager-deposit2");
    for (payment, what) in [
        (header_of(&accepted, &d1), "deposit"),
        (
            header_of(&accepted, &voucher(&payer, &config, 2 * PRICE)),
            "2,000",
        ),
        (
            header_of(&accepted, &voucher(&payer, &config, 3 * PRICE)),
            "3,000",
        ),
        (header_of(&accepted, &d2), "deposit 2"),
        (
            header_of(&accepted, &voucher(&payer2, &config2, 2 * PRICE)),
            "2,000 (2)",
        ),
    ] {
        let (status, body) = pay_route(&url, payment).await;
        assert_eq!((status, body.as_str()), (200, "the report"), "{what}");
    }
    assert_eq!(token_balance(&chain, &payer.address()).await, 900_000);
    assert_eq!(token_balance(&chain, &payer2.address()).await, 0);
    assert_eq!(
        token_balance(&chain, &BATCH_SETTLEMENT_ADDRESS).await,
        150_000
    );
    assert_eq!(token_balance(&chain, &receiver).await, 0);
    assert_eq!(channel(&chain, &config).await, (100_000, 0));

    // The channel manager: one claim of both channels at their charged
    // totals, signed by the facilitator as receiver authorizer.
    let manager = ChannelManager::new(
        Client::new(&f.url).unwrap().api_key(support::API_KEY),
        Arc::clone(&records),
        &chain.network,
        &chain.token.to_string(),
        &receiver.to_string(),
    )
    .unwrap();
    let claimed = manager.claim().await;
    assert!(claimed.is_complete(), "{claimed:?}");
    assert_eq!(claimed.claimed_channels(), 2);
    assert_eq!(claimed.claimed_amount(), Amount::from(5_000u64));
    assert!(
        claimed.batches[0]
            .channels
            .iter()
            .all(|c| c.record == RecordUpdate::Updated)
    );
    assert_eq!(channel(&chain, &config).await, (100_000, 3_000));
    assert_eq!(channel(&chain, &config2).await, (50_000, 2_000));
    assert_eq!(
        token_balance(&chain, &BATCH_SETTLEMENT_ADDRESS).await,
        150_000
    );
    assert_eq!(token_balance(&chain, &receiver).await, 0);
    // Nothing charged since: nothing claimed.
    let again = manager.claim().await;
    assert!(
        again.batches.is_empty() && again.failures.is_empty(),
        "{again:?}"
    );

    // The sweep: the receiver gets exactly what was charged.
    let swept = manager.sweep().await;
    let ManagerOutcome::Done {
        transaction: sweep_tx,
        amount,
    } = &swept
    else {
        panic!("{swept}")
    };
    assert_eq!(*amount, Some(Amount::from(5_000u64)));
    assert_eq!(token_balance(&chain, &receiver).await, 5_000);
    assert_eq!(
        token_balance(&chain, &BATCH_SETTLEMENT_ADDRESS).await,
        145_000
    );
    // The same sweep again: the same transaction, nothing moves.
    assert_eq!(manager.sweep().await.transaction(), Some(sweep_tx.as_str()));
    assert_eq!(token_balance(&chain, &receiver).await, 5_000);

    // Charged on, claimed and swept again: the new charge only.
    let (status, _) = pay_route(
        &url,
        header_of(&accepted, &voucher(&payer, &config, 4 * PRICE)),
    )
    .await;
    assert_eq!(status, 200);
    let claimed2 = manager.claim().await;
    assert!(claimed2.is_complete(), "{claimed2:?}");
    assert_eq!(claimed2.claimed_channels(), 1);
    assert_eq!(claimed2.claimed_amount(), Amount::from(1_000u64));
    assert_eq!(channel(&chain, &config).await, (100_000, 4_000));
    let swept2 = manager.sweep().await;
    assert!(
        matches!(&swept2, ManagerOutcome::Done { amount: Some(a), .. } if *a == Amount::from(1_000u64)),
        "{swept2}"
    );
    assert_eq!(token_balance(&chain, &receiver).await, 6_000);
    assert_eq!(
        token_balance(&chain, &BATCH_SETTLEMENT_ADDRESS).await,
        144_000
    );
    assert_eq!(token_balance(&chain, &payer.address()).await, 900_000);
    assert_eq!(token_balance(&chain, &payer2.address()).await, 0);
    // Nothing left to sweep: the last sweep's outcome again, nothing moves.
    assert_eq!(manager.sweep().await, swept2);
    assert_eq!(token_balance(&chain, &receiver).await, 6_000);

    // Six transactions from the facilitator's signer: two deposits, two
    // claims, two sweeps.
    let sent = chain.sent_by(&signer.address(), start).await;
    assert_eq!(sent.len(), 6, "{sent:?}");
    assert!(sent.contains(&claimed.transactions()[0].to_owned()));
    assert!(sent.contains(sweep_tx));
    server.abort();
    f.stop().await;
}
