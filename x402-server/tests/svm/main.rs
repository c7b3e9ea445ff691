//! The facilitator's `exact` on Solana against a real SVM without a
//! validator: `rpc-shim.mjs` beside this file serves JSON-RPC over npm
//! `litesvm` (SPL Token, Token-2022, the associated token account program,
//! signature and blockhash checks on). Payments are made by the core's client
//! (`paywire::svm::client`) and by the official client (`@x402/svm` 2.27,
//! `official-client.mjs`), verified and settled by a facilitator running in
//! this process, and the balances read back from the SVM.
//!
//! Run by `scripts/test-svm.sh` (`--ignored`); it needs Node and the root's
//! `node_modules` (`scripts/install-js.sh`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "../support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use paywire::svm::client::SigningKey;
use paywire::svm::{Pubkey, TOKEN_2022_PROGRAM, TOKEN_PROGRAM, associated_token_address};
use serde_json::{Value, json};
use support::{Running, Scratch};

const NETWORK: &str = "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1";
const AMOUNT: u64 = 1_000;
const FUNDS: u64 = 1_000_000;

/// The shim, stopped by its PID when dropped.
struct Shim {
    child: Child,
    url: String,
}

impl Shim {
    fn start() -> Option<Shim> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        if !root.join("node_modules/litesvm/package.json").exists() {
            eprintln!("skipped: npm litesvm is not installed (scripts/install-js.sh)");
            return None;
        }
        let mut child = Command::new("node")
            .arg("x402-server/tests/svm/rpc-shim.mjs")
            .args(["--ttl", "120"])
            .current_dir(&root)
            .stdout(Stdio::piped())
            .spawn()
            .expect("node");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("shim said {line:?}"))
            .to_string();
        Some(Shim { child, url })
    }

    async fn call(&self, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let text = support::http()
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let r: Value = serde_json::from_str(&text).unwrap();
        assert!(r.get("error").is_none(), "{method}: {r}");
        r["result"].clone()
    }

    async fn tokens(&self, account: &Pubkey) -> u64 {
        self.call("getTokenAccountBalance", json!([account.to_string()]))
            .await["value"]["amount"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    async fn lamports(&self, account: &Pubkey) -> u64 {
        self.call("getBalance", json!([account.to_string()])).await["value"]
            .as_u64()
            .unwrap()
    }

    async fn sends(&self) -> u64 {
        self.call("paywire_stats", json!([])).await["sends"]
            .as_u64()
            .unwrap()
    }

    async fn blockhash(&self) -> [u8; 32] {
        let r = self.call("getLatestBlockhash", json!([])).await;
        Pubkey::parse(r["value"]["blockhash"].as_str().unwrap())
            .unwrap()
            .0
    }
}

impl Drop for Shim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn key(label: u8) -> SigningKey {
    SigningKey::from_bytes(&[label; 32])
}

fn pubkey(k: &SigningKey) -> Pubkey {
    Pubkey(k.verifying_key().to_bytes())
}

/// A mint of `program` and its accounts.
struct Token {
    program: Pubkey,
    mint: Pubkey,
    source: Pubkey,
    destination: Pubkey,
}

async fn token(
    shim: &Shim,
    program: Pubkey,
    mint: Pubkey,
    payer: &Pubkey,
    pay_to: &Pubkey,
) -> Token {
    let source = associated_token_address(payer, &mint, &program);
    let destination = associated_token_address(pay_to, &mint, &program);
    shim.call(
        "paywire_setup",
        json!([{
            "mint": mint.to_string(),
            "tokenProgram": program.to_string(),
            "decimals": 6,
            "tokenAccounts": [
                {"address": source.to_string(), "owner": payer.to_string(), "amount": FUNDS.to_string()},
                {"address": destination.to_string(), "owner": pay_to.to_string(), "amount": "0"},
            ],
        }]),
    )
    .await;
    Token {
        program,
        mint,
        source,
        destination,
    }
}

fn requirements(t: &Token, pay_to: &Pubkey, fee_payer: &Pubkey, amount: u64) -> Value {
    json!({
        "scheme": "exact",
        "network": NETWORK,
        "amount": amount.to_string(),
        "asset": t.mint.to_string(),
        "payTo": pay_to.to_string(),
        "maxTimeoutSeconds": 60,
        "extra": {"feePayer": fee_payer.to_string()},
    })
}

/// The wire transaction and `/verify` body of a payment of `accepted`.
fn payment(
    payer: &SigningKey,
    t: &Token,
    accepted: &Value,
    blockhash: [u8; 32],
    nonce: u8,
) -> (Vec<u8>, Value) {
    support::svm_payment(payer, t.program, accepted, blockhash, nonce)
}

fn with_transaction(body: &Value, wire: &[u8]) -> Value {
    use base64::Engine as _;
    let mut b = body.clone();
    b["paymentPayload"]["payload"]["transaction"] =
        json!(base64::engine::general_purpose::STANDARD.encode(wire));
    b
}

fn config(dir: &Scratch, rpc: &str, fee_payer: &SigningKey, receipt_timeout: u64) -> String {
    let api = dir.secret("api.key", support::API_KEY);
    let mut keypair: Vec<u8> = fee_payer.to_bytes().to_vec();
    keypair.extend(fee_payer.verifying_key().to_bytes());
    let file = dir.secret("fee-payer.json", &serde_json::to_string(&keypair).unwrap());
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nrequest_timeout_ms = 12000\n\n[store]\nurl = \"sqlite://{}\"\n\n[[access.keys]]\nname = \"shop\"\nkey_file = {api:?}\n\n[[signers]]\nname = \"sol\"\nkind = \"ed25519\"\nkey_file = {file:?}\n\n[[solana_networks]]\nid = {NETWORK:?}\nrpc = [{rpc:?}]\nfee_payers = [\"sol\"]\nreceipt_timeout_seconds = {receipt_timeout}\n",
        dir.0.join("records.db").display()
    )
}

#[tokio::test]
#[ignore = "needs Node and npm litesvm: run scripts/test-svm.sh"]
async fn exact_on_litesvm() {
    let Some(shim) = Shim::start() else {
        return;
    };
    let dir = Scratch::new("svm");
    let fee_payer = key(1);
    let payer = key(2);
    let pay_to = pubkey(&key(3));
    let fp = pubkey(&fee_payer);
    shim.call(
        "paywire_setup",
        json!([{"lamports": [{"address": fp.to_string(), "lamports": 1_000_000_000u64}]}]),
    )
    .await;
    // An endpoint of another cluster is refused at start, naming the field.
    let mainnet = config(&dir, &shim.url, &fee_payer, 5)
        .replace(NETWORK, "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp");
    let e = paywire_server::facilitator::Facilitator::new(
        &paywire_server::config::Config::parse(std::path::Path::new("t.toml"), &mainnet).unwrap(),
    )
    .await
    .unwrap_err();
    assert!(e.starts_with("solana_networks[0]"), "{e}");
    let fac = Running::start(&config(&dir, &shim.url, &fee_payer, 5)).await;

    // /supported: the kind with its fee payer, the fee payers as signers.
    let (_, supported) = fac.get("/supported").await;
    let supported: Value = serde_json::from_str(&supported).unwrap();
    assert_eq!(
        supported["kinds"],
        json!([{"x402Version": 2, "scheme": "exact", "network": NETWORK, "extra": {"feePayer": fp.to_string()}}]),
        "{supported}"
    );
    assert_eq!(supported["signers"], json!({"solana:*": [fp.to_string()]}));

    for (name, program, mint) in [
        ("Token", TOKEN_PROGRAM, pubkey(&key(10))),
        ("Token-2022", TOKEN_2022_PROGRAM, pubkey(&key(11))),
    ] {
        let t = token(&shim, program, mint, &pubkey(&payer), &pay_to).await;
        let accepted = requirements(&t, &pay_to, &fp, AMOUNT);
        let blockhash = shim.blockhash().await;
        let (wire, body) = payment(&payer, &t, &accepted, blockhash, 1);
        let body_text = body.to_string();

        let (status, v) = fac.post("/verify", &body_text).await;
        assert_eq!(status, 200);
        assert_eq!(v["isValid"], json!(true), "{name}: {v}");
        assert_eq!(v["payer"], json!(pubkey(&payer).to_string()));

        let before = (
            shim.tokens(&t.source).await,
            shim.tokens(&t.destination).await,
            shim.lamports(&fp).await,
            shim.lamports(&pubkey(&payer)).await,
        );
        let sends = shim.sends().await;
        let (_, s) = fac.post("/settle", &body_text).await;
        assert_eq!(s["success"], json!(true), "{name}: {s}");
        assert_eq!(s["network"], json!(NETWORK));
        assert_eq!(s["payer"], json!(pubkey(&payer).to_string()));
        let signature = s["transaction"].as_str().unwrap().to_string();
        let after = (
            shim.tokens(&t.source).await,
            shim.tokens(&t.destination).await,
            shim.lamports(&fp).await,
            shim.lamports(&pubkey(&payer)).await,
        );
        eprintln!(
            "{name}: payer's tokens {} -> {}, payTo's {} -> {}, fee payer's lamports {} -> {}, payer's lamports {} -> {}; transaction {signature}",
            before.0, after.0, before.1, after.1, before.2, after.2, before.3, after.3
        );
        assert_eq!(
            after.0,
            before.0 - AMOUNT,
            "{name}: the payer pays exactly amount"
        );
        assert_eq!(
            after.1,
            before.1 + AMOUNT,
            "{name}: payTo gets exactly amount"
        );
        assert!(after.2 < before.2, "{name}: the fee payer paid the fee");
        assert_eq!(after.3, before.3, "{name}: the payer paid no fee");
        assert_eq!(shim.sends().await, sends + 1);
        // The id is signature 0: the fee payer's, over the message.
        let signature_bytes: [u8; 64] = bs58::decode(&signature)
            .into_vec()
            .unwrap()
            .try_into()
            .unwrap();
        let tx = paywire::svm::tx::Transaction::decode(&wire).unwrap();
        use ed25519_dalek::Verifier as _;
        fee_payer
            .verifying_key()
            .verify(
                tx.message_bytes(),
                &ed25519_dalek::Signature::from_bytes(&signature_bytes),
            )
            .unwrap();

        // The same payment again, one after the other and two at once: the
        // earlier result, no second submission, nothing more moves.
        let (_, again) = fac.post("/settle", &body_text).await;
        assert_eq!(again["success"], json!(true), "{again}");
        assert_eq!(again["transaction"], json!(signature));
        let (a, b) = tokio::join!(
            fac.post("/settle", &body_text),
            fac.post("/settle", &body_text)
        );
        assert_eq!(a.1["transaction"], json!(signature));
        assert_eq!(b.1["transaction"], json!(signature));
        assert_eq!(shim.sends().await, sends + 1, "{name}: sent once");
        assert_eq!(shim.tokens(&t.destination).await, after.1);

        // A fresh payment presented twice at once: one submission.
        let (_, body2) = payment(&payer, &t, &accepted, blockhash, 2);
        let body2 = body2.to_string();
        let sends = shim.sends().await;
        let (a, b) = tokio::join!(fac.post("/settle", &body2), fac.post("/settle", &body2));
        assert_eq!(a.1["success"], json!(true), "{}", a.1);
        assert_eq!(a.1["transaction"], b.1["transaction"]);
        assert_eq!(shim.sends().await, sends + 1, "{name}: sent once");
        assert_eq!(shim.tokens(&t.destination).await, after.1 + AMOUNT);
        let moved = shim.tokens(&t.destination).await;

        // Mutated: requirements asking one more than the transaction pays,
        // and a transaction whose amount was changed after signing.
        let (_, short) = payment(&payer, &t, &accepted, blockhash, 3);
        let mut short = short;
        short["paymentRequirements"]["amount"] = json!((AMOUNT + 1).to_string());
        short["paymentPayload"]["accepted"]["amount"] = json!((AMOUNT + 1).to_string());
        let (_, v) = fac.post("/verify", &short.to_string()).await;
        assert_eq!(
            v["invalidReason"],
            json!("invalid_exact_svm_payload_amount_mismatch"),
            "{v}"
        );
        let (_, s) = fac.post("/settle", &short.to_string()).await;
        assert_eq!(s["success"], json!(false));
        assert_eq!(
            s["errorReason"],
            json!("invalid_exact_svm_payload_amount_mismatch")
        );
        let (wire4, body4) = payment(&payer, &t, &accepted, blockhash, 4);
        let mut tampered = wire4.clone();
        let tx = paywire::svm::tx::Transaction::decode(&wire4).unwrap();
        let transfer = tx.instruction(2).unwrap();
        let at = wire4.len() - tx.message_bytes().len()
            + (transfer.data.as_ptr() as usize - tx.message_bytes().as_ptr() as usize)
            + 1;
        tampered[at] ^= 1; // the amount's low byte
        let tampered = with_transaction(&body4, &tampered);
        let (_, v) = fac.post("/verify", &tampered.to_string()).await;
        assert_eq!(
            v["invalidReason"],
            json!("invalid_exact_svm_payload_signature_invalid"),
            "{v}"
        );
        let (_, s) = fac.post("/settle", &tampered.to_string()).await;
        assert_eq!(
            s["errorReason"],
            json!("invalid_exact_svm_payload_signature_invalid")
        );
        assert_eq!(s["transaction"], json!(""));
        assert_eq!(
            shim.sends().await,
            sends + 1,
            "{name}: nothing sent for a mutated payment"
        );
        assert_eq!(
            shim.tokens(&t.destination).await,
            moved,
            "{name}: nothing moved"
        );

        // Expired: the blockhash is no longer the latest.
        let (_, old) = payment(&payer, &t, &accepted, blockhash, 5);
        shim.call("paywire_expireBlockhash", json!([])).await;
        let (_, v) = fac.post("/verify", &old.to_string()).await;
        assert_eq!(v["isValid"], json!(false));
        assert_eq!(
            v["invalidReason"],
            json!("invalid_exact_svm_transaction_simulation_failed"),
            "{v}"
        );
        let (_, s) = fac.post("/settle", &old.to_string()).await;
        assert_eq!(s["success"], json!(false));
        assert_eq!(
            s["errorReason"],
            json!("invalid_exact_svm_transaction_simulation_failed"),
            "{s}"
        );
        assert_eq!(
            shim.sends().await,
            sends + 1,
            "{name}: nothing sent for an expired payment"
        );
        assert_eq!(shim.tokens(&t.destination).await, moved);
        // The same transfer with the new blockhash settles.
        let (_, fresh) = payment(&payer, &t, &accepted, shim.blockhash().await, 5);
        let (_, s) = fac.post("/settle", &fresh.to_string()).await;
        assert_eq!(s["success"], json!(true), "{s}");
        assert_eq!(shim.tokens(&t.destination).await, moved + AMOUNT);
        assert_eq!(shim.tokens(&t.source).await, FUNDS - 3 * AMOUNT);

        // The official client's payment (@x402/svm 2.27) verifies and settles.
        let official = official_payment(&shim, &accepted, &payer);
        let body =
            json!({"x402Version": 2, "paymentPayload": official, "paymentRequirements": accepted})
                .to_string();
        let (_, v) = fac.post("/verify", &body).await;
        assert_eq!(v["isValid"], json!(true), "{name}, official client: {v}");
        let (_, s) = fac.post("/settle", &body).await;
        assert_eq!(s["success"], json!(true), "{name}, official client: {s}");
        assert_eq!(shim.tokens(&t.destination).await, moved + 2 * AMOUNT);
        assert_eq!(shim.tokens(&t.source).await, FUNDS - 4 * AMOUNT);
        if program == TOKEN_PROGRAM {
            lost_broadcast(&shim, &fac, &dir, &fee_payer, &payer, &t, &accepted).await;
        }
    }
    fac.stop().await;
}

/// A broadcast lost on the way: the request answers `settlement_pending`
/// with the signature; asked again it waits for that transaction and sends
/// nothing; the watcher (once the request's lease has passed) sends the same
/// bytes again; then the payment settles, once.
async fn lost_broadcast(
    shim: &Shim,
    fac: &Running,
    dir: &Scratch,
    fee_payer: &SigningKey,
    payer: &SigningKey,
    t: &Token,
    accepted: &Value,
) {
    let fast = Running::start(&config(dir, &shim.url, fee_payer, 1)).await;
    shim.call("paywire_hold", json!([{"dropSends": true}]))
        .await;
    let (_, lost) = payment(payer, t, accepted, shim.blockhash().await, 6);
    let lost = lost.to_string();
    let sends = shim.sends().await;
    let held = shim.tokens(&t.destination).await;
    let (_, p) = fast.post("/settle", &lost).await;
    assert_eq!(p["errorReason"], json!("settlement_pending"), "{p}");
    let signature = p["transaction"].as_str().unwrap().to_string();
    assert!(!signature.is_empty());
    shim.call("paywire_hold", json!([{}])).await;
    let (_, again) = fast.post("/settle", &lost).await;
    assert_eq!(again["errorReason"], json!("settlement_pending"), "{again}");
    assert_eq!(again["transaction"], json!(signature));
    assert_eq!(shim.sends().await, sends + 1, "a retry sends nothing");
    assert_eq!(shim.tokens(&t.destination).await, held);
    // The lease: the claim's time, the receipt timeout and 5 s.
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    let summaries = fac.facilitator.reconcile().await.unwrap();
    assert!(
        summaries.iter().any(|s| s.transaction == signature),
        "{summaries:?}"
    );
    assert_eq!(shim.sends().await, sends + 2, "the watcher sent it again");
    let (_, s) = fac.post("/settle", &lost).await;
    assert_eq!(s["success"], json!(true), "{s}");
    assert_eq!(s["transaction"], json!(signature));
    assert_eq!(shim.tokens(&t.destination).await, held + AMOUNT);
    let (_, s) = fac.post("/settle", &lost).await;
    assert_eq!(s["transaction"], json!(signature));
    assert_eq!(shim.sends().await, sends + 2);
    eprintln!("lost broadcast: pending, sent again by the watcher, settled once as {signature}");
    fast.stop().await;
}

/// A PaymentPayload made by the official client (`official-client.mjs`).
fn official_payment(shim: &Shim, accepted: &Value, payer: &SigningKey) -> Value {
    let seed: String = payer
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let input = json!({"rpc": shim.url, "requirements": accepted, "payerSeedHex": seed});
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("node")
        .arg("x402-server/tests/svm/official-client.mjs")
        .arg(input.to_string())
        .current_dir(root)
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "official client: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
