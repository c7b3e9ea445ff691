//! `exact` on Solana (`solana:*`): the core's offline verdict
//! ([`paywire::svm::verify`]), then the chain's checks it owes over Solana
//! JSON-RPC, the fee payer's co-signature and the settlement.
//!
//! - **Verify.** The offline verdict, then the owed checks in its order: the
//!   blockhash still valid (`isBlockhashValid`), the destination token
//!   account existing (`getAccountInfo`), the source holding the amount
//!   (`getTokenAccountBalance`), and a simulation of the transaction signed
//!   by the fee payer (`simulateTransaction`, `sigVerify` on,
//!   `replaceRecentBlockhash` off). A failed check answers
//!   `invalid_exact_svm_transaction_simulation_failed`, as the reference
//!   does for all of them.
//! - **Settle.** The payment is keyed by its network and the SHA-256 of its
//!   message and claimed in the store before anything is signed: the same
//!   transaction presented again, at once or later, gets that settlement's
//!   answer, never a second submission. It is verified again, co-signed in
//!   slot 0 by the fee payer `extra.feePayer` names, written to the store,
//!   sent (`sendTransaction`, base64, preflight skipped after the
//!   simulation, as the reference does) and followed with
//!   `getSignatureStatuses` until confirmed; the transaction id is the base58
//!   of signature 0. Not confirmed within `receipt_timeout_seconds`:
//!   `settlement_pending` naming the transaction (the watcher takes it up:
//!   sent again byte for byte while its blockhash lives, failed once it
//!   expired unseen).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Response, StatusCode};
use paywire::json::{JsonObject, JsonStr, Limits, ObjectWriter, ToJson};
use paywire::svm::tx::{MAX_TRANSACTION_SIZE, Transaction, set_signature};
use paywire::svm::verify::{ChainCheck, Config, Verdict, decode_base64, verify_json};
use paywire::svm::{Pubkey, SIGNATURE_BASE58_MAX, SvmReason, signature_to_base58};
use serde_json::{Value, json};

use super::{Inner, json_response, now};
use crate::rpc::Rpc;
use crate::signer::Ed25519Signer;
use crate::store::{Claim, Record, State};

/// A Solana cluster served.
#[derive(Debug)]
pub(crate) struct SolanaChain {
    /// Its CAIP-2 id.
    pub(crate) network: String,
    pub(crate) rpc: Rpc,
    /// The fee payers, in configuration order.
    pub(crate) fee_payers: Vec<Arc<dyn Ed25519Signer>>,
    /// Their addresses, in the same order.
    pub(crate) keys: Vec<Pubkey>,
    /// The mints accepted (empty: any).
    pub(crate) assets: Vec<Pubkey>,
    pub(crate) max_compute_units: u32,
    pub(crate) max_compute_unit_price: u64,
    pub(crate) receipt_timeout: Duration,
}

/// The most signatures a payment's transaction may require.
const MAX_REQUIRED_SIGNATURES: u8 = 3;

impl SolanaChain {
    fn config(&self) -> Config<'_> {
        Config {
            fee_payers: &self.keys,
            max_compute_units: self.max_compute_units,
            max_compute_unit_price: self.max_compute_unit_price,
            // The payer and the fee payer (and one more, for a payer's
            // co-signer): each signature costs the fee payer 5,000 lamports.
            max_required_signatures: Some(MAX_REQUIRED_SIGNATURES),
        }
    }

    fn signer(&self, key: &Pubkey) -> Option<&Arc<dyn Ed25519Signer>> {
        self.keys
            .iter()
            .position(|k| k == key)
            .and_then(|i| self.fee_payers.get(i))
    }
}

/// Asks every endpoint of `chain` for its genesis hash (`getGenesisHash`):
/// one of another cluster is an error; one not answering is logged.
///
/// # Errors
/// The endpoint serving another cluster, in words.
pub(crate) async fn check_genesis(chain: &SolanaChain, field: &str) -> Result<(), String> {
    let prefix = chain.network.strip_prefix("solana:").unwrap_or("");
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "getGenesisHash"}).to_string();
    for (url, got) in chain.rpc.each(&body).await {
        let hash = got.and_then(|answer| {
            serde_json::from_slice::<Value>(&answer)
                .ok()
                .and_then(|v| v.get("result").and_then(Value::as_str).map(str::to_string))
                .ok_or_else(|| "no genesis hash in the answer".to_string())
        });
        match hash {
            Ok(h) if h.starts_with(prefix) && !prefix.is_empty() => {}
            Ok(h) => {
                return Err(format!(
                    "{field} ({}): {url} serves the cluster of genesis {h}, not {}",
                    chain.network, chain.network
                ));
            }
            Err(e) => {
                tracing::warn!(network = %chain.network, %url, error = %e, "RPC endpoint not answering at start");
            }
        }
    }
    Ok(())
}

fn limits() -> Limits {
    Limits {
        max_len: 64 * 1024,
        ..Limits::DEFAULT
    }
}

/// The `paymentRequirements.network` of a body, when it is a `solana:` one.
pub(crate) fn network_of(body: &[u8]) -> Option<String> {
    let v = paywire::json::parse(body, &limits()).ok()?;
    let net = v
        .as_object()?
        .get("paymentRequirements")?
        .as_object()?
        .get("network")?
        .as_str()?;
    let mut buf = [0u8; 128];
    let text = net.unescape_into(&mut buf).ok()?;
    text.starts_with("solana:").then(|| text.to_string())
}

/// The `paymentRequirements.payTo` of a body, when it is a Solana address.
pub(crate) fn pay_to_of(body: &[u8]) -> Option<Pubkey> {
    let v = paywire::json::parse(body, &limits()).ok()?;
    let p = v
        .as_object()?
        .get("paymentRequirements")?
        .as_object()?
        .get("payTo")?
        .as_str()?;
    let mut buf = [0u8; paywire::svm::PUBKEY_BASE58_MAX];
    Pubkey::parse(p.unescape_into(&mut buf).ok()?).ok()
}

/// The payload's wire transaction, decoded from its base64.
fn wire_of(body: &[u8]) -> Option<Vec<u8>> {
    let v = paywire::json::parse(body, &limits()).ok()?;
    let text: JsonStr<'_> = v
        .as_object()?
        .get("paymentPayload")?
        .as_object()?
        .get("payload")?
        .as_object()
        .and_then(|p: JsonObject<'_>| p.get("transaction"))?
        .as_str()?;
    let mut buf = [0u8; MAX_TRANSACTION_SIZE];
    decode_base64(text, &mut buf).map(<[u8]>::to_vec)
}

fn base64(bytes: &[u8]) -> String {
    let mut out = vec![0u8; paywire::svm::verify::MAX_TRANSACTION_BASE64 + 4];
    let n = paywire::header::base64_encode(bytes, &mut out).unwrap_or(0);
    out.truncate(n);
    String::from_utf8(out).unwrap_or_default()
}

fn base58_sig(sig: &[u8; 64]) -> String {
    let mut buf = [0u8; SIGNATURE_BASE58_MAX];
    signature_to_base58(sig, &mut buf).to_string()
}

// ---------------------------------------------------------------------------
// JSON-RPC

/// Why a Solana JSON-RPC call gave no result.
#[derive(Debug)]
enum RpcError {
    /// No endpoint answered (the request may have reached one).
    Transport(String),
    /// A node answered with an error.
    Node(String),
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RpcError::Transport(e) => write!(f, "{e}"),
            RpcError::Node(e) => write!(f, "the node answered: {e}"),
        }
    }
}

async fn call(rpc: &Rpc, method: &str, params: Value) -> Result<Value, RpcError> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let answer = rpc
        .call(&body)
        .await
        .map_err(|e| RpcError::Transport(e.to_string()))?;
    let mut v: Value = serde_json::from_slice(&answer)
        .map_err(|e| RpcError::Transport(format!("{method}: not a JSON-RPC answer ({e})")))?;
    if let Some(e) = v.get("error") {
        let mut text = e.to_string();
        text.truncate(512);
        return Err(RpcError::Node(format!("{method}: {text}")));
    }
    v.get_mut("result")
        .map(Value::take)
        .ok_or_else(|| RpcError::Transport(format!("{method}: an answer without result")))
}

/// Whether the node still takes transactions of this blockhash.
async fn blockhash_valid(rpc: &Rpc, blockhash: &[u8; 32]) -> Result<bool, RpcError> {
    let r = call(
        rpc,
        "isBlockhashValid",
        json!([Pubkey(*blockhash).to_string(), {"commitment": "processed"}]),
    )
    .await?;
    r.get("value")
        .and_then(Value::as_bool)
        .ok_or_else(|| RpcError::Transport("isBlockhashValid: no value".into()))
}

/// What a signature's status says.
#[derive(Debug, PartialEq, Eq)]
enum Status {
    /// Not known to the node (yet).
    Unknown,
    /// Processed, not yet confirmed.
    Processed,
    /// Confirmed (or finalized) without error.
    Confirmed,
    /// Confirmed with an error: the fee was paid, nothing moved.
    Failed(String),
}

async fn status(rpc: &Rpc, signature: &str) -> Result<Status, RpcError> {
    let r = call(
        rpc,
        "getSignatureStatuses",
        json!([[signature], {"searchTransactionHistory": true}]),
    )
    .await?;
    let Some(entry) = r.get("value").and_then(|v| v.get(0)) else {
        return Ok(Status::Unknown);
    };
    if entry.is_null() {
        return Ok(Status::Unknown);
    }
    let level = entry
        .get("confirmationStatus")
        .and_then(Value::as_str)
        .unwrap_or("");
    if level != "confirmed" && level != "finalized" {
        return Ok(Status::Processed);
    }
    match entry.get("err") {
        None | Some(Value::Null) => Ok(Status::Confirmed),
        Some(e) => {
            let mut text = e.to_string();
            text.truncate(256);
            Ok(Status::Failed(text))
        }
    }
}

// ---------------------------------------------------------------------------
// Verification

/// Why the chain's checks did not pass.
enum Refusal {
    /// A check failed: the payment is invalid.
    Invalid(String),
    /// The chain could not be asked.
    Unreachable(String),
}

fn unreachable(e: RpcError) -> Refusal {
    match e {
        RpcError::Transport(t) => Refusal::Unreachable(t),
        RpcError::Node(t) => Refusal::Invalid(t),
    }
}

/// The fee payer's signature in slot 0 of `wire` (a copy).
async fn co_signed(
    chain: &SolanaChain,
    fee_payer: &Pubkey,
    wire: &[u8],
) -> Result<(Vec<u8>, [u8; 64]), String> {
    let signer = chain
        .signer(fee_payer)
        .ok_or_else(|| "extra.feePayer is not one of this network's fee payers".to_string())?;
    let tx = Transaction::decode(wire).map_err(|e| e.message().to_string())?;
    let sig = signer
        .sign_message(tx.message_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut signed = wire.to_vec();
    set_signature(&mut signed, 0, &sig).map_err(|e| e.message().to_string())?;
    Ok((signed, sig))
}

/// Runs the verdict's owed chain checks, in order.
async fn chain_checks(
    chain: &SolanaChain,
    verdict: &Verdict,
    fee_payer: &Pubkey,
    wire: &[u8],
) -> Result<(), Refusal> {
    for check in verdict.chain_checks() {
        match check {
            ChainCheck::BlockhashRecent { blockhash } => {
                if !blockhash_valid(&chain.rpc, &blockhash)
                    .await
                    .map_err(unreachable)?
                {
                    return Err(Refusal::Invalid("the blockhash has expired".into()));
                }
            }
            ChainCheck::DestinationExists { account } => {
                let r = call(
                    &chain.rpc,
                    "getAccountInfo",
                    json!([account.to_string(), {"encoding": "base64", "commitment": "confirmed"}]),
                )
                .await
                .map_err(unreachable)?;
                if r.get("value").is_none_or(Value::is_null) {
                    return Err(Refusal::Invalid(format!(
                        "the destination token account {account} does not exist"
                    )));
                }
            }
            ChainCheck::SourceBalanceAtLeast { account, amount } => {
                let r = call(
                    &chain.rpc,
                    "getTokenAccountBalance",
                    json!([account.to_string(), {"commitment": "confirmed"}]),
                )
                .await
                .map_err(unreachable)?;
                let held = r
                    .get("value")
                    .and_then(|v| v.get("amount"))
                    .and_then(Value::as_str)
                    .and_then(|a| a.parse::<u64>().ok());
                match held {
                    Some(h) if h >= amount => {}
                    Some(h) => {
                        return Err(Refusal::Invalid(format!(
                            "the source token account holds {h}, less than {amount}"
                        )));
                    }
                    None => {
                        return Err(Refusal::Invalid(format!(
                            "the source token account {account} has no readable balance"
                        )));
                    }
                }
            }
            ChainCheck::Simulate => {
                let (signed, _) = co_signed(chain, fee_payer, wire)
                    .await
                    .map_err(Refusal::Unreachable)?;
                let r = call(
                    &chain.rpc,
                    "simulateTransaction",
                    json!([base64(&signed), {
                        "encoding": "base64",
                        "sigVerify": true,
                        "replaceRecentBlockhash": false,
                        "commitment": "confirmed"
                    }]),
                )
                .await
                .map_err(unreachable)?;
                match r.get("value").and_then(|v| v.get("err")) {
                    None | Some(Value::Null) => {}
                    Some(e) => {
                        let mut text = e.to_string();
                        text.truncate(256);
                        return Err(Refusal::Invalid(format!("the simulation failed: {text}")));
                    }
                }
            }
        }
    }
    Ok(())
}

/// The outcome of verifying a body: the offline verdict, the chain's checks.
enum Checked {
    /// Valid: the payer, the fee payer, the wire transaction, its blockhash.
    Valid {
        payer: Pubkey,
        fee_payer: Pubkey,
        wire: Vec<u8>,
        blockhash: [u8; 32],
    },
    /// Invalid: the reason, a sentence, the payer when known.
    Invalid {
        reason: String,
        message: String,
        payer: Option<Pubkey>,
    },
    /// The chain could not be asked.
    Unreachable(String),
}

async fn check(chain: &SolanaChain, body: &[u8]) -> Checked {
    let verdict = verify_json(body, &chain.config());
    let (payer, fee_payer, transfer) = match verdict {
        Verdict::Valid {
            payer,
            fee_payer,
            transfer,
            ..
        } => (payer, fee_payer, transfer),
        Verdict::Invalid { reason, payer } => {
            return Checked::Invalid {
                reason: reason.as_str().to_string(),
                message: String::new(),
                payer,
            };
        }
    };
    if !chain.assets.is_empty() && !chain.assets.contains(&transfer.mint) {
        return Checked::Invalid {
            reason: paywire::Reason::InvalidPaymentRequirements
                .as_str()
                .to_string(),
            message: format!(
                "this facilitator does not settle {} on {}",
                transfer.mint, chain.network
            ),
            payer: Some(payer),
        };
    }
    let Some(wire) = wire_of(body) else {
        return Checked::Invalid {
            reason: SvmReason::TransactionCouldNotBeDecoded.as_str().into(),
            message: String::new(),
            payer: Some(payer),
        };
    };
    let Ok(blockhash) = Transaction::decode(&wire).map(|t| *t.recent_blockhash) else {
        return Checked::Invalid {
            reason: SvmReason::TransactionCouldNotBeDecoded.as_str().into(),
            message: String::new(),
            payer: Some(payer),
        };
    };
    match chain_checks(chain, &verdict, &fee_payer, &wire).await {
        Ok(()) => Checked::Valid {
            payer,
            fee_payer,
            wire,
            blockhash,
        },
        Err(Refusal::Invalid(message)) => Checked::Invalid {
            reason: SvmReason::TransactionSimulationFailed.as_str().into(),
            message,
            payer: Some(payer),
        },
        Err(Refusal::Unreachable(why)) => Checked::Unreachable(why),
    }
}

fn verify_answer(
    valid: bool,
    reason: Option<&str>,
    message: &str,
    payer: Option<&Pubkey>,
) -> String {
    let mut out = Vec::new();
    let _ = (|| {
        let mut w = ObjectWriter::new(&mut out)?;
        w.bool_field("isValid", valid)?;
        if let Some(r) = reason {
            w.str_field("invalidReason", JsonStr::new(r))?;
        }
        if !message.is_empty() {
            w.str_field("invalidMessage", JsonStr::new(message))?;
        }
        if let Some(p) = payer {
            w.field("payer", p)?;
        }
        w.end()
    })();
    String::from_utf8(out).unwrap_or_default()
}

/// `POST /verify` of a `solana:*` payment; the answer and its log label.
pub(crate) async fn verify(chain: &SolanaChain, body: &[u8]) -> (Response<Body>, String) {
    let (json, label) = match check(chain, body).await {
        Checked::Valid { payer, .. } => {
            (verify_answer(true, None, "", Some(&payer)), "valid".into())
        }
        Checked::Invalid {
            reason,
            message,
            payer,
        } => (
            verify_answer(false, Some(&reason), &message, payer.as_ref()),
            reason,
        ),
        Checked::Unreachable(why) => {
            let reason = paywire::Reason::UnexpectedVerifyError.as_str();
            (
                verify_answer(
                    false,
                    Some(reason),
                    &format!("the chain could not be asked: {why}"),
                    None,
                ),
                reason.into(),
            )
        }
    };
    (json_response(StatusCode::OK, json), label)
}

// ---------------------------------------------------------------------------
// Settlement

/// A SettleResponse.
fn settle_answer(
    success: bool,
    reason: Option<&str>,
    message: &str,
    payer: Option<&str>,
    transaction: &str,
    network: &str,
) -> String {
    let mut out = Vec::new();
    let _ = (|| {
        let mut w = ObjectWriter::new(&mut out)?;
        w.bool_field("success", success)?;
        if let Some(r) = reason {
            w.str_field("errorReason", JsonStr::new(r))?;
        }
        if !message.is_empty() {
            w.str_field("errorMessage", JsonStr::new(message))?;
        }
        if let Some(p) = payer {
            w.str_field("payer", JsonStr::new(p))?;
        }
        w.str_field("transaction", JsonStr::new(transaction))?;
        w.str_field("network", JsonStr::new(network))?;
        w.end()
    })();
    String::from_utf8(out).unwrap_or_default()
}

/// What is kept of a signed transaction in the settlement's record.
fn sent_json(signed: &[u8], signature: &str, blockhash: &[u8; 32]) -> String {
    json!({
        "transaction": base64(signed),
        "signature": signature,
        "blockhash": Pubkey(*blockhash).to_string(),
    })
    .to_string()
}

/// A record's sent transaction: its wire bytes (base64), signature, blockhash.
fn read_sent(record: &Record) -> Option<(String, String, [u8; 32])> {
    let v: Value = serde_json::from_str(record.sent.last()?).ok()?;
    let tx = v.get("transaction")?.as_str()?.to_string();
    let sig = v.get("signature")?.as_str()?.to_string();
    let bh = Pubkey::parse(v.get("blockhash")?.as_str()?).ok()?.0;
    Some((tx, sig, bh))
}

/// `POST /settle` of a `solana:*` payment: the answer, its log label and
/// transaction.
pub(crate) async fn settle(
    inner: &Inner,
    chain: &SolanaChain,
    body: &[u8],
) -> (String, String, String) {
    let network = chain.network.as_str();
    let fail = |reason: &str, message: &str, payer: Option<&Pubkey>| {
        let p = payer.map(ToString::to_string);
        (
            settle_answer(false, Some(reason), message, p.as_deref(), "", network),
            reason.to_string(),
            String::new(),
        )
    };
    // Offline first: a payment that cannot be valid claims nothing.
    let verdict = verify_json(body, &chain.config());
    let payer = match verdict {
        Verdict::Valid { payer, .. } => payer,
        Verdict::Invalid { reason, payer } => return fail(reason.as_str(), "", payer.as_ref()),
    };
    let Some(key) = wire_of(body).and_then(|w| {
        Transaction::decode(&w).ok().map(|t| {
            format!(
                "{network}/svm/{}",
                base16ct::lower::encode_string(&t.message_hash())
            )
        })
    }) else {
        return fail(
            SvmReason::TransactionCouldNotBeDecoded.as_str(),
            "",
            Some(&payer),
        );
    };
    let owner = format!(
        "{}/{}",
        inner.instance,
        inner
            .requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let deadline = Instant::now() + chain.receipt_timeout;
    let amount = match verdict {
        Verdict::Valid { transfer, .. } => transfer.amount.to_string(),
        Verdict::Invalid { .. } => String::new(),
    };
    let mut record = Record {
        key: key.clone(),
        fingerprint: key.clone(),
        request: String::from_utf8_lossy(body).into_owned(),
        state: State::Claimed,
        owner: owner.clone(),
        // Held while this request may still send or wait; then the watcher
        // may take it up. Shorter than an EVM claim's: a take-up alongside
        // this request only broadcasts the same signed bytes again (one
        // signature, which the chain takes once).
        lease_until: now() + chain.receipt_timeout.as_secs() + 5,
        signer: None,
        nonce: None,
        sent: Vec::new(),
        result: None,
        network: network.to_string(),
        payer: payer.to_string(),
        amount,
        created: now(),
        updated: now(),
    };
    loop {
        let existing = match inner.store.claim(&record, now()).await {
            Ok(Claim::Claimed) => break,
            Ok(Claim::Existing(r)) => *r,
            Err(e) => {
                return fail(
                    paywire::Reason::FacilitatorUnavailable.as_str(),
                    &format!("the settlement record cannot be written ({e}); nothing was sent"),
                    Some(&payer),
                );
            }
        };
        match existing.state {
            State::Done => {
                let tx = read_sent(&existing).map(|(_, s, _)| s).unwrap_or_default();
                return (existing.result.unwrap_or_default(), "idempotent".into(), tx);
            }
            State::Sent => {
                // Sent earlier: wait for that transaction, never another.
                return follow(inner, chain, &existing, deadline).await;
            }
            State::Claimed => {
                if Instant::now() >= deadline {
                    return fail(
                        paywire::Reason::SettlementPending.as_str(),
                        "another request is settling this payment now; ask again shortly",
                        Some(&payer),
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                record.updated = now();
            }
        }
    }
    // The payment is this request's: verified again with the chain.
    let (fee_payer, wire, blockhash) = match check(chain, body).await {
        Checked::Valid {
            fee_payer,
            wire,
            blockhash,
            ..
        } => (fee_payer, wire, blockhash),
        Checked::Invalid {
            reason,
            message,
            payer,
        } => {
            let _ = inner.store.release(&key, &owner).await;
            return fail(&reason, &message, payer.as_ref());
        }
        Checked::Unreachable(why) => {
            let _ = inner.store.release(&key, &owner).await;
            return fail(
                paywire::Reason::UnexpectedSettleError.as_str(),
                &format!("the chain could not be asked: {why}; nothing was sent"),
                Some(&payer),
            );
        }
    };
    let (signed, sig) = match co_signed(chain, &fee_payer, &wire).await {
        Ok(s) => s,
        Err(e) => {
            let _ = inner.store.release(&key, &owner).await;
            return fail(
                paywire::Reason::UnexpectedSettleError.as_str(),
                &format!("the fee payer could not sign ({e}); nothing was sent"),
                Some(&payer),
            );
        }
    };
    let signature = base58_sig(&sig);
    // Written before it leaves.
    match inner
        .store
        .record_sent(
            &key,
            &owner,
            &fee_payer.to_string(),
            0,
            &sent_json(&signed, &signature, &blockhash),
            now(),
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            let _ = inner.store.release(&key, &owner).await;
            return fail(
                paywire::Reason::SettlementPending.as_str(),
                "this request lost its claim on the payment before sending; ask again",
                Some(&payer),
            );
        }
        Err(e) => {
            let _ = inner.store.release(&key, &owner).await;
            return fail(
                paywire::Reason::FacilitatorUnavailable.as_str(),
                &format!("the settlement record cannot be written ({e}); nothing was sent"),
                Some(&payer),
            );
        }
    }
    let sent = call(
        &chain.rpc,
        "sendTransaction",
        json!([base64(&signed), {
            "encoding": "base64",
            "skipPreflight": true,
            "preflightCommitment": "confirmed"
        }]),
    )
    .await;
    // Whatever the node said, the transaction may have gone out (a node may
    // forward what it then reports as an error): it is followed by its
    // signature until its blockhash expires, never given up on here — the
    // same bytes sent again are harmless, an early "failed" would not be.
    if let Err(e) = &sent {
        tracing::warn!(network = %network, signature = %signature, error = %e, "sendTransaction failed; following the transaction until its blockhash expires");
    }
    record.sent = vec![sent_json(&signed, &signature, &blockhash)];
    record.state = State::Sent;
    follow(inner, chain, &record, deadline).await
}

/// Waits (until `deadline`) for a sent settlement's transaction to be
/// confirmed; writes and answers the outcome once it is decided.
async fn follow(
    inner: &Inner,
    chain: &SolanaChain,
    record: &Record,
    deadline: Instant,
) -> (String, String, String) {
    let network = chain.network.as_str();
    let Some((_, signature, blockhash)) = read_sent(record) else {
        return (
            settle_answer(
                false,
                Some(paywire::Reason::UnexpectedSettleError.as_str()),
                "the settlement's record has no readable transaction",
                Some(&record.payer),
                "",
                network,
            ),
            "unexpected_settle_error".into(),
            String::new(),
        );
    };
    loop {
        if let Some(decided) = decide(inner, chain, record, &signature, &blockhash).await {
            return decided;
        }
        if Instant::now() >= deadline {
            return (
                settle_answer(
                    false,
                    Some(paywire::Reason::SettlementPending.as_str()),
                    "sent; not confirmed yet: ask again for its outcome",
                    Some(&record.payer),
                    &signature,
                    network,
                ),
                "settlement_pending".into(),
                signature,
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The outcome of a sent transaction if the chain has decided it (written to
/// the record), else `None`.
async fn decide(
    inner: &Inner,
    chain: &SolanaChain,
    record: &Record,
    signature: &str,
    blockhash: &[u8; 32],
) -> Option<(String, String, String)> {
    let network = chain.network.as_str();
    let (json, label) = match status(&chain.rpc, signature).await.ok()? {
        Status::Confirmed => (
            settle_answer(true, None, "", Some(&record.payer), signature, network),
            "settled".to_string(),
        ),
        Status::Failed(err) => (
            settle_answer(
                false,
                Some(SvmReason::TransactionFailed.as_str()),
                &format!("the transaction failed on chain: {err}"),
                Some(&record.payer),
                signature,
                network,
            ),
            SvmReason::TransactionFailed.as_str().to_string(),
        ),
        Status::Processed => return None,
        Status::Unknown => {
            // Unseen, and its blockhash gone: it can never land.
            if blockhash_valid(&chain.rpc, blockhash).await.ok()? {
                return None;
            }
            if status(&chain.rpc, signature).await.ok()? != Status::Unknown {
                return None;
            }
            (
                settle_answer(
                    false,
                    Some(SvmReason::TransactionFailed.as_str()),
                    "the transaction's blockhash expired before it landed",
                    Some(&record.payer),
                    "",
                    network,
                ),
                SvmReason::TransactionFailed.as_str().to_string(),
            )
        }
    };
    if let Err(e) = inner.store.finish(&record.key, &json, now()).await {
        tracing::warn!(key = %record.key, error = %e, "cannot write a settlement's outcome");
    }
    Some((json, label, signature.to_string()))
}

/// Takes a sent Solana settlement up again (the watcher): decided if the
/// chain decided it, else its transaction sent again byte for byte (the same
/// signature: the chain takes it once).
pub(crate) async fn take_up(inner: &Inner, record: &Record) -> super::SettleSummary {
    let summary = |state: &str, tx: &str, detail: &str| super::SettleSummary {
        key: record.key.clone(),
        state: state.into(),
        transaction: tx.into(),
        detail: detail.into(),
    };
    let Some(chain) = inner.solana.get(&record.network) else {
        return summary("pending", "", "this network is not configured here");
    };
    let Some((tx, signature, blockhash)) = read_sent(record) else {
        return summary("pending", "", "no readable transaction in the record");
    };
    if let Some((json, label, _)) = decide(inner, chain, record, &signature, &blockhash).await {
        let state = if json.contains("\"success\":true") {
            "settled"
        } else {
            "failed"
        };
        return summary(state, &signature, &label);
    }
    let _ = call(
        &chain.rpc,
        "sendTransaction",
        json!([tx, {"encoding": "base64", "skipPreflight": true}]),
    )
    .await;
    summary("pending", &signature, "sent again; not confirmed yet")
}

/// The `/supported` kinds of the Solana networks (`exact`, `extra.feePayer`
/// their first fee payer), written into an open array after `first`.
pub(crate) fn write_kinds(
    chains: &[&Arc<SolanaChain>],
    s: &mut dyn paywire::json::Sink,
    first: &mut bool,
) -> Result<(), paywire::json::SinkFull> {
    for chain in chains {
        let Some(fee_payer) = chain.keys.first() else {
            continue;
        };
        if !*first {
            s.put(b",")?;
        }
        *first = false;
        let mut k = ObjectWriter::new(s)?;
        k.u64_field("x402Version", 2)?;
        k.str_field("scheme", JsonStr::new(paywire::svm::SCHEME))?;
        k.str_field("network", JsonStr::new(&chain.network))?;
        k.key(JsonStr::new("extra"))?;
        let mut x = ObjectWriter::new(k.sink())?;
        x.field("feePayer", fee_payer)?;
        x.end()?;
        k.end()?;
    }
    Ok(())
}

/// Every fee payer of the Solana networks, once each.
pub(crate) fn fee_payers(chains: &[&Arc<SolanaChain>]) -> Vec<Pubkey> {
    let mut seen = Vec::new();
    for c in chains {
        for k in &c.keys {
            if !seen.contains(k) {
                seen.push(*k);
            }
        }
    }
    seen
}

/// Writes a JSON array of addresses.
pub(crate) fn write_keys(
    keys: &[Pubkey],
    s: &mut dyn paywire::json::Sink,
) -> Result<(), paywire::json::SinkFull> {
    s.put(b"[")?;
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            s.put(b",")?;
        }
        k.write_json(s)?;
    }
    s.put(b"]")
}
