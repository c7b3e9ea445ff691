//! `batch-settlement` on EVM (`eip155:*`): payment channels on the x402
//! batch-settlement contract. The core judges the payloads
//! ([`paywire::evm::batch_settlement`]); this reads the channel's state, the
//! payer's balance and allowance, simulates, sends and answers.
//!
//! - `POST /verify` of a `deposit`, `voucher` or `refund` payload: the core's
//!   offline checks, then the chain's — the channel's state (`channels`,
//!   `pendingWithdrawals`, `refundNonce`), a deposit's payer balance and
//!   Permit2 allowance, and the deposit's simulation — with the reference
//!   facilitator's `invalid_batch_settlement_evm_*` reasons; a valid answer
//!   carries the channel's state in `extra`.
//! - `POST /settle` of what a resource server sends: a `deposit` (the
//!   contract's `deposit` through the EIP-3009 or Permit2 collector), a
//!   `claim` (`claimWithSignature` of many channels at once), a `settle`
//!   (`settle(receiver, token)`, the claimed funds to the receiver in one
//!   transfer) or a `refund` with its nonce and claims (`refundWithSignature`,
//!   after the claims in one `multicall`). The receiver authorizer's
//!   signatures come with the payload, or are made here by the network's
//!   `receiver_authorizer` when it is the channels' (advertised in
//!   `/supported` as `extra.receiverAuthorizer`).
//!
//! # What it guarantees
//! As for `exact`: every transaction is claimed in the store under a key of
//! what it does — the deposit's authorization signature, the claim batch's
//! calldata, the receiver's claimed total for a sweep, the channel's refund
//! nonce — before anything is sent, and written to the store signed before it
//! leaves; the same request again, here or on another instance, gets that
//! transaction's outcome, never a second transaction. Nonces come from the
//! store's allocator. `success: true` only with a mined, successful receipt;
//! sent but not mined in time: `settlement_pending` naming the transaction.
//! The watcher takes unfinished ones up again (finds them by hash, or sends
//! the same bytes again).
//!
//! # Who may ask, and what it costs the facilitator
//! A claim, sweep or refund moves a receiver's funds: an API key limited to
//! some `payTo` may ask only for those receivers (every claim row's, the
//! refund's, the sweep's). The receiver authorizer signs only for a key
//! whose `pay_to` names every receiver involved (never for an anonymous
//! caller or a key without a list), and signs a refund only when the payer's
//! voucher in it is the payer's and what it says was charged is claimed
//! first. Every token moved must be in the network's `assets` (required with
//! `batch-settlement`), and each kind of call has a gas ceiling (deposit
//! 400,000; sweep 200,000; claims 100,000 + 60,000 a channel; refund 300,000
//! plus its claims): a token or wallet of a caller's making cannot burn the
//! signers' gas.
//!
//! # Left out
//! Deposits signed by smart wallets (ERC-1271 / ERC-6492 authorizations are
//! refused as invalid signatures), Permit2 deposits carrying a gas-sponsoring
//! extension (an allowance must exist), and the replacement of a stuck
//! transaction at its nonce (the watcher sends the same bytes again; a
//! transaction stuck under a rising base fee holds the signer's later ones
//! back). A transaction mined and reverted is final for its key: a refund
//! reverted by a race (a withdrawal finalized meanwhile) is not tried again
//! at that nonce, and its signature is public (the reference has the same
//! property); the chain's state is not read again to tell a copied
//! transaction that landed first from a failure. Receipts are decided at one
//! block (`confirmations` is not applied here), and an answer rebuilt from
//! the store carries no `amount` or channel state. A send the node refused
//! before broadcasting it (its error says so, and it does not know the
//! transaction) gives its nonce and key back; any other send error is
//! followed as sent.

use std::sync::Arc;
use std::time::Instant;

use paywire::Amount;
use paywire::evm::batch_settlement::settlement::{
    self, ClaimRow, DEPOSIT_CALL_MAX, RefundSettlement, SettleAction,
};
use paywire::evm::batch_settlement::types::BatchPayload;
use paywire::evm::batch_settlement::verify::{
    self as bv, ChainCheck, ChainFacts, Requirements, Verdict,
};
use paywire::evm::batch_settlement::{
    self as bs, BATCH_SETTLEMENT_ADDRESS, BatchReason, ChannelState, ChannelStateExtra, abi,
};
use paywire::evm::eip712::PERMIT2_ADDRESS;
use paywire::evm::tx::{Eip1559Transaction, SignedTransaction};
use paywire::evm::{Address, B256, keccak256};
use paywire::json::{JsonObject, JsonStr, Limits, ObjectWriter, ToJson};
use paywire::rpc::{BlockTag, CallRequest, Request};
use paywire::settle::SentTransaction;
use paywire::types::FromJson;
use paywire::types::facilitator::{PaymentRequirements, VerifyRequest, VerifyResponse};

use super::access::Caller;
use super::calls::{Mined, OnError, ask, known, prices, quantity, read_word, receipt, wait};
use super::{Chain, Inner, now};
use crate::signer::Signer;
use crate::store::{Claim, Holder, Record, State};

/// The most gas a deposit may take (the collectors' pull and the channel's
/// update; about 150,000 on the contract as deployed).
const DEPOSIT_GAS: u64 = 400_000;
/// The most gas a sweep may take (one transfer; the reference sends it with
/// 120,000).
const SWEEP_GAS: u64 = 200_000;

/// The most gas a claim batch of `rows` channels may take (about 25,000 a
/// channel on the contract as deployed).
fn claim_gas(rows: usize) -> u64 {
    100_000u64.saturating_add(60_000u64.saturating_mul(rows as u64))
}

/// The most gas a refund may take, with `rows` claims applied first.
fn refund_gas(rows: usize) -> u64 {
    300_000u64.saturating_add(if rows > 0 { claim_gas(rows) } else { 0 })
}

/// The store keys of this scheme's transactions start so.
pub(crate) const KEY_PREFIX: &str = "batch-settlement/";

/// The longest body a claim batch may come in (256 claims of about 900
/// bytes).
pub(crate) const MAX_BODY: usize = 320 * 1024;

fn limits() -> Limits {
    Limits {
        max_len: MAX_BODY,
        ..Limits::DEFAULT
    }
}

/// The receiver authorizer a network signs with.
#[derive(Debug)]
pub(crate) struct Authorizer {
    pub(crate) address: Address,
    pub(crate) signer: Arc<dyn Signer>,
}

/// Whether a request is of this scheme.
pub(crate) fn is_batch(req: &VerifyRequest<'_>) -> bool {
    req.payment_requirements.scheme() == bs::SCHEME
}

/// A refusal: the reason's wire name and why.
type Refusal = (&'static str, String);

fn scheme(r: BatchReason) -> &'static str {
    r.as_str()
}

/// The receivers whose funds a settlement payload moves (none for a deposit
/// or anything unreadable: those are judged by the body's `payTo`), and
/// whether it asks this facilitator's receiver authorizer to sign (a claim
/// or refund without the authorizer's signature).
fn receivers(body: &[u8]) -> (Vec<Address>, bool) {
    let Ok(req) = VerifyRequest::from_json_bytes(body, &limits()) else {
        return (Vec::new(), false);
    };
    if !is_batch(&req) {
        return (Vec::new(), false);
    }
    let Some(payload) = payload_of(&req) else {
        return (Vec::new(), false);
    };
    match SettleAction::from_json(payload.as_value()) {
        Ok(Some(SettleAction::Claim(c))) => (
            c.claims.rows().map(|r| r.channel.receiver).collect(),
            c.claim_authorizer_signature.is_none(),
        ),
        Ok(Some(SettleAction::Settle(s))) => (vec![s.receiver], false),
        Ok(Some(SettleAction::Refund(r))) => (
            core::iter::once(r.channel_config.receiver)
                .chain(r.claims.rows().map(|c| c.channel.receiver))
                .collect(),
            r.refund_authorizer_signature.is_none()
                || (!r.claims.is_empty() && r.claim_authorizer_signature.is_none()),
        ),
        _ => (Vec::new(), false),
    }
}

/// 403 when the caller's key may not act for a receiver the payload pays,
/// or when it asks the receiver authorizer to sign without naming every
/// receiver involved in its key's `pay_to` list: an anonymous caller (an open
/// facilitator) or a key without a list never gets a signature — a refund
/// signed for anyone would let a payer take back what the receiver charged
/// and has not claimed.
pub(crate) fn refuse_receivers(
    who: &Caller<'_>,
    body: &[u8],
) -> Option<axum::http::Response<axum::body::Body>> {
    let (receivers, signs) = receivers(body);
    if signs && !receivers.iter().all(|r| who.names_receiver(r)) {
        return Some(super::problem(
            axum::http::StatusCode::FORBIDDEN,
            "authorizer_needs_a_key",
            "the receiver authorizer signs claims and refunds only for an API key whose pay_to names every receiver involved",
        ));
    }
    receivers.iter().any(|r| !who.may_pay(r)).then(|| {
        super::problem(
            axum::http::StatusCode::FORBIDDEN,
            "pay_to_not_allowed",
            "this API key may not claim, sweep or refund for one of these receivers",
        )
    })
}

fn payload_of<'a>(req: &VerifyRequest<'a>) -> Option<JsonObject<'a>> {
    req.source
        .get("paymentPayload")?
        .as_object()?
        .get("payload")?
        .as_object()
}

fn hex_bytes(s: JsonStr<'_>) -> Option<Vec<u8>> {
    let t = s.as_str()?.strip_prefix("0x")?;
    let mut out = vec![0u8; t.len() / 2];
    base16ct::mixed::decode(t, &mut out).ok()?;
    Some(out)
}

// ---------------------------------------------------------------------------
// Reading the chain

/// An `eth_call` at the latest block: the returned data, or the node's error
/// (a revert) as text; `Err` when no node answered.
async fn eth_call(
    chain: &Chain,
    from: Option<Address>,
    to: Address,
    data: &[u8],
    deadline: Instant,
) -> Result<Result<Vec<u8>, String>, String> {
    let call = CallRequest {
        from,
        to,
        data,
        gas: None,
    };
    ask(
        chain,
        Request::Call {
            call,
            block: BlockTag::Latest,
        },
        deadline,
        |r| {
            r.and_then(|v| {
                let mut buf = [0u8; 256];
                paywire::rpc::data(v, &mut buf)
                    .map(<[u8]>::to_vec)
                    .map_err(|e| e.to_string())
            })
        },
    )
    .await
}

async fn read(
    chain: &Chain,
    to: Address,
    data: &[u8],
    deadline: Instant,
) -> Result<Vec<u8>, String> {
    eth_call(chain, None, to, data, deadline)
        .await
        .and_then(|r| r)
}

/// The channel's state on chain.
async fn channel_state(
    chain: &Chain,
    id: &B256,
    deadline: Instant,
) -> Result<ChannelState, String> {
    let mut answers = Vec::with_capacity(3);
    for call in [
        abi::channels(id),
        abi::pending_withdrawals(id),
        abi::refund_nonce(id),
    ] {
        answers.push(read(chain, BATCH_SETTLEMENT_ADDRESS, &call, deadline).await?);
    }
    let [c, w, n] = <[Vec<u8>; 3]>::try_from(answers).map_err(|_| "three reads".to_string())?;
    let bad = |what: &str, e: paywire::evm::abi::AbiError| format!("{what}: {e:?}");
    let (balance, total_claimed) = abi::decode_channels(&c).map_err(|e| bad("channels", e))?;
    let (_, withdraw_requested_at) =
        abi::decode_pending_withdrawal(&w).map_err(|e| bad("pendingWithdrawals", e))?;
    let refund_nonce = abi::decode_refund_nonce(&n).map_err(|e| bad("refundNonce", e))?;
    Ok(ChannelState {
        balance,
        total_claimed,
        withdraw_requested_at,
        refund_nonce,
    })
}

// ---------------------------------------------------------------------------
// Verification

/// A payment judged with the chain.
enum Judged {
    Valid {
        payer: Address,
        channel_id: B256,
        state: ChannelState,
    },
    Invalid {
        reason: &'static str,
        message: String,
        payer: Option<Address>,
    },
}

fn invalid_verdict(v: &Verdict) -> Option<Judged> {
    match v {
        Verdict::Valid { .. } => None,
        Verdict::Invalid { reason, payer } => Some(Judged::Invalid {
            reason: reason.as_str(),
            message: String::new(),
            payer: *payer,
        }),
    }
}

async fn judge(chain: &Chain, req: &VerifyRequest<'_>, deadline: Instant) -> Judged {
    let input = |reason: &'static str, message: &str| Judged::Invalid {
        reason,
        message: message.into(),
        payer: None,
    };
    let PaymentRequirements::V2(r) = &req.payment_requirements else {
        return input(
            scheme(BatchReason::InvalidScheme),
            "batch-settlement is an x402 version 2 scheme",
        );
    };
    let Some(pp) = req.source.get("paymentPayload").and_then(|v| v.as_object()) else {
        return input("invalid_payload", "paymentPayload is not an object");
    };
    let config = bv::Config {
        smart_wallets: false,
    };
    let offline = bv::verify(pp, r, now(), &ChainFacts::default(), &config);
    if let Some(j) = invalid_verdict(&offline) {
        return j;
    }
    let Verdict::Valid {
        payer, channel_id, ..
    } = offline
    else {
        return input("invalid_payload", "unreadable");
    };
    let rpc_failed = |e: String| Judged::Invalid {
        reason: scheme(BatchReason::RpcReadFailed),
        message: e,
        payer: Some(payer),
    };
    let Ok(rq) = Requirements::from_requirements(r) else {
        return input("invalid_payment_requirements", "unreadable requirements");
    };
    let state = match channel_state(chain, &channel_id, deadline).await {
        Ok(s) => s,
        Err(e) => return rpc_failed(e),
    };
    let payload = payload_of(req).and_then(|p| BatchPayload::from_json(p.as_value()).ok());
    let payer_balance = match &payload {
        Some(BatchPayload::Deposit(_)) => {
            match read_word(
                chain,
                rq.asset,
                &paywire::evm::abi::balance_of(&payer),
                deadline,
            )
            .await
            {
                Ok(b) => Some(b),
                Err(e) => return rpc_failed(e),
            }
        }
        _ => None,
    };
    let facts = ChainFacts {
        channel: Some(state),
        payer_balance,
    };
    let judged = bv::verify(pp, r, now(), &facts, &config);
    if let Some(j) = invalid_verdict(&judged) {
        return j;
    }
    for check in judged.chain_checks() {
        let refused = |reason: BatchReason, message: String| Judged::Invalid {
            reason: scheme(reason),
            message,
            payer: Some(payer),
        };
        match check {
            ChainCheck::Permit2AllowanceAtLeast {
                token,
                owner,
                amount,
            } => {
                let data = paywire::evm::abi::allowance(&owner, &PERMIT2_ADDRESS);
                match read_word(chain, token, &data, deadline).await {
                    Ok(a) if a >= amount => {}
                    Ok(_) | Err(_) => {
                        return refused(check.failure_reason(), String::new());
                    }
                }
            }
            ChainCheck::SimulateDeposit { .. } => {
                let Some(BatchPayload::Deposit(d)) = &payload else {
                    return refused(BatchReason::InvalidPayloadType, String::new());
                };
                let mut data = [0u8; DEPOSIT_CALL_MAX];
                let permit2 = settlement::uses_permit2(d, &rq.extra);
                let Some(call) = settlement::deposit_calldata(d, permit2, &mut data) else {
                    return refused(check.failure_reason(), "no calldata".into());
                };
                let from = chain.accounts.first().map(|a| a.address);
                match eth_call(chain, from, BATCH_SETTLEMENT_ADDRESS, call, deadline).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return refused(check.failure_reason(), e),
                    Err(e) => return rpc_failed(e),
                }
            }
            // Facts given, or smart wallets not checked here: not owed.
            ChainCheck::ChannelState { .. }
            | ChainCheck::BalanceAtLeast { .. }
            | ChainCheck::PayerSignature { .. } => {
                return refused(check.failure_reason(), String::new());
            }
        }
    }
    Judged::Valid {
        payer,
        channel_id,
        state,
    }
}

/// `POST /verify` of a `batch-settlement` payment: the VerifyResponse and
/// its log label.
pub(crate) async fn verify(chain: &Chain, req: &VerifyRequest<'_>) -> (String, String) {
    let deadline = Instant::now() + chain.receipt_timeout;
    match judge(chain, req, deadline).await {
        Judged::Valid {
            payer,
            channel_id,
            state,
        } => {
            let mut out = Vec::new();
            let _ = (|| {
                let mut w = ObjectWriter::new(&mut out)?;
                w.bool_field("isValid", true)?;
                w.field("payer", &payer)?;
                w.field("extra", &ChannelStateExtra::of(channel_id, &state, None))?;
                w.end()
            })();
            (String::from_utf8(out).unwrap_or_default(), "valid".into())
        }
        Judged::Invalid {
            reason,
            message,
            payer,
        } => {
            let payer = payer.map(|p| p.to_string());
            let json = VerifyResponse::invalid(
                reason,
                (!message.is_empty()).then_some(message.as_str()),
                payer.as_deref(),
            )
            .to_json_string();
            (json, reason.into())
        }
    }
}

// ---------------------------------------------------------------------------
// Settlement

/// A SettleResponse.
#[derive(Default)]
struct Answer {
    success: bool,
    reason: Option<&'static str>,
    message: String,
    payer: Option<Address>,
    transaction: Option<B256>,
    amount: Option<Amount>,
    channel_state: Option<ChannelStateExtra>,
}

impl Answer {
    fn refused(reason: &'static str, message: impl Into<String>) -> Answer {
        Answer {
            reason: Some(reason),
            message: message.into(),
            ..Answer::default()
        }
    }

    fn json(&self, network: &str) -> String {
        let mut out = Vec::new();
        let _ = (|| {
            let mut w = ObjectWriter::new(&mut out)?;
            w.bool_field("success", self.success)?;
            if let Some(r) = self.reason {
                w.str_field("errorReason", JsonStr::new(r))?;
                if !self.message.is_empty() {
                    let m = paywire::message::Message::new(&self.message);
                    w.str_field("errorMessage", JsonStr::new(m.as_str()))?;
                }
            }
            if let Some(p) = &self.payer {
                w.field("payer", p)?;
            }
            match &self.transaction {
                Some(t) => w.field("transaction", t)?,
                None => w.str_field("transaction", JsonStr::new(""))?,
            }
            w.str_field("network", JsonStr::new(network))?;
            if let Some(a) = &self.amount {
                w.field("amount", a)?;
            }
            if let Some(c) = &self.channel_state {
                w.key(JsonStr::new("extra"))?;
                let mut x = ObjectWriter::new(w.sink())?;
                x.field("channelState", c)?;
                x.end()?;
            }
            w.end()
        })();
        String::from_utf8(out).unwrap_or_default()
    }
}

/// What sending a contract call came to.
enum Sent {
    /// Mined: its hash and receipt.
    Mined { hash: B256, receipt: Mined },
    /// Sent, not mined by the deadline.
    Pending(B256),
    /// An earlier request's answer for the same transaction.
    Earlier(String),
    /// Nothing was sent: the reason and why.
    Unsent(Refusal),
}

/// What the watcher needs to take a transaction up again: where it goes,
/// its calldata, and the reason if it reverts.
fn take_up_request(to: &Address, data: &[u8], failure: &'static str) -> String {
    let mut out = Vec::new();
    let _ = (|| {
        let mut w = ObjectWriter::new(&mut out)?;
        w.field("to", to)?;
        let data = format!("0x{}", base16ct::lower::encode_string(data));
        w.str_field("data", JsonStr::new(&data))?;
        w.str_field("failure", JsonStr::new(failure))?;
        w.end()
    })();
    String::from_utf8(out).unwrap_or_default()
}

/// Sends `data` to `to` once under `key`: claims the key, simulates (gas
/// estimation), takes a nonce from the store, signs, writes the signed
/// transaction, sends it and waits for its receipt until `deadline`. The
/// same key again gets the earlier transaction's outcome.
#[allow(clippy::too_many_arguments)]
async fn send_once(
    inner: &Inner,
    chain: &Chain,
    key: &str,
    payer: Option<Address>,
    to: Address,
    data: &[u8],
    max_gas: u64,
    simulation_failed: BatchReason,
    transaction_failed: BatchReason,
    deadline: Instant,
) -> Sent {
    let store = inner.store.as_ref();
    let owner = format!(
        "{}/{}",
        inner.instance,
        inner
            .requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let fingerprint = B256(keccak256(data)).to_string();
    let record = Record {
        key: key.to_owned(),
        fingerprint: fingerprint.clone(),
        request: take_up_request(&to, data, scheme(transaction_failed)),
        state: State::Claimed,
        owner: owner.clone(),
        lease_until: now() + chain.receipt_timeout.as_secs() + 15,
        signer: None,
        nonce: None,
        sent: Vec::new(),
        result: None,
        network: chain.network.as_str().to_owned(),
        payer: payer.map(|p| p.to_string()).unwrap_or_default(),
        amount: String::new(),
        created: now(),
        updated: now(),
    };
    let unavailable = |e: crate::store::StoreError| {
        Sent::Unsent((
            "facilitator_unavailable",
            format!("the settlement record cannot be written ({e}); nothing was sent"),
        ))
    };
    match store.claim(&record, now()).await {
        Ok(Claim::Claimed) => {}
        Ok(Claim::Existing(r)) => return earlier(chain, &r, &fingerprint, deadline).await,
        Err(e) => return unavailable(e),
    }
    let release = |why: Refusal| async {
        let _ = store.release(key, &owner).await;
        Sent::Unsent(why)
    };
    let Some(account) = chain.pick_account() else {
        return release((
            "facilitator_unavailable",
            "no account here holds enough gas; nothing was sent".into(),
        ))
        .await;
    };
    // The simulation: a revert is the payment's fault, and costs nothing.
    let call = CallRequest {
        from: Some(account.address),
        to,
        data,
        gas: None,
    };
    let gas = ask(chain, Request::EstimateGas { call }, deadline, |r| {
        r.and_then(|v| paywire::rpc::quantity_u64(v).map_err(|e| e.to_string()))
    })
    .await;
    let gas = match gas {
        Ok(Ok(g)) => g,
        Ok(Err(e)) => return release((scheme(simulation_failed), e)).await,
        Err(e) => return release(("unexpected_settle_error", e)).await,
    };
    // What a call of this kind needs; more is a token or a wallet run by the
    // caller burning the facilitator's gas.
    if gas > max_gas {
        return release((
            scheme(simulation_failed),
            format!("it needs {gas} gas, more than the {max_gas} this facilitator pays for it"),
        ))
        .await;
    }
    let gas_limit = gas.saturating_add(gas / 5).saturating_add(10_000);
    let pending = quantity(
        chain,
        Request::GetTransactionCount {
            address: account.address,
            block: BlockTag::Pending,
        },
        deadline,
    )
    .await
    .and_then(|n| u64::try_from(n).map_err(|_| "a nonce above u64".into()));
    let pending = match pending {
        Ok(n) => n,
        Err(e) => return release(("unexpected_settle_error", e)).await,
    };
    let signer_name = account.address.to_string();
    let nonce = match store
        .next_nonce(
            chain.chain_id,
            &signer_name,
            pending,
            Some(Holder { key, owner: &owner }),
        )
        .await
    {
        Ok(n) => n,
        Err(e) => return release(("facilitator_unavailable", e.to_string())).await,
    };
    let (base, tip) = match prices(chain, deadline).await {
        Ok(p) => p,
        Err(e) => return release(("unexpected_settle_error", e)).await,
    };
    let mut max_fee = base.saturating_mul(2).saturating_add(tip);
    if let Some(cap) = chain.options.max_fee_per_gas {
        max_fee = max_fee.min(cap);
    }
    let tx = Eip1559Transaction {
        chain_id: chain.chain_id,
        nonce,
        max_priority_fee_per_gas: tip.min(max_fee),
        max_fee_per_gas: max_fee,
        gas_limit,
        to: Some(to),
        value: Amount::ZERO,
        data,
    };
    let signature = match account.signer.sign_hash(B256(tx.signing_hash())).await {
        Ok(s) => s.to_bytes(),
        Err(e) => return release(("unexpected_settle_error", format!("signer: {e}"))).await,
    };
    let (v, r, s) = paywire::evm::abi::split_signature(&signature);
    let signed = SignedTransaction {
        tx,
        y_parity: v == 28,
        r,
        s,
    };
    let hash = signed.hash();
    let sent = SentTransaction {
        hash,
        nonce,
        gas_limit,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip.min(max_fee),
        y_parity: v == 28,
        r,
        s,
    };
    match store
        .record_sent(
            key,
            &owner,
            &signer_name,
            nonce,
            &sent.to_json_string(),
            now(),
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return Sent::Unsent((
                "settlement_pending",
                "another request took this settlement over; ask again".into(),
            ));
        }
        Err(e) => return release(("facilitator_unavailable", e.to_string())).await,
    }
    let answer = ask(
        chain,
        Request::SendRawTransaction { tx: signed },
        deadline,
        |r| r.map(|_| ()),
    )
    .await;
    // Given back only when the node said it refused the transaction before
    // broadcasting it and does not know it: any other error (or no answer)
    // may have let it out, and it is followed (the watcher sends it again).
    if let Ok(Err(e)) = &answer
        && paywire::settle::refused_before_broadcast(e)
        && matches!(known(chain, hash, deadline).await, Ok(false))
    {
        let _ = store.withdraw(key, &owner).await;
        return Sent::Unsent((
            scheme(transaction_failed),
            format!("the node refused the transaction: {e}"),
        ));
    }
    wait_mined(chain, hash, deadline).await
}

/// Waits for `hash`'s receipt until `deadline` (a failed ask is asked
/// again).
async fn wait_mined(chain: &Chain, hash: B256, deadline: Instant) -> Sent {
    match wait(chain, hash, deadline, OnError::AskAgain).await {
        Ok(Some(receipt)) => Sent::Mined { hash, receipt },
        _ => Sent::Pending(hash),
    }
}

/// The outcome of a transaction another request claimed: its answer if
/// decided, else its receipt awaited.
async fn earlier(chain: &Chain, r: &Record, fingerprint: &str, deadline: Instant) -> Sent {
    if r.fingerprint != fingerprint {
        return Sent::Unsent((
            "invalid_payload",
            "another settlement holds this key (a different transaction for the same authorization)"
                .into(),
        ));
    }
    match r.state {
        State::Done => Sent::Earlier(r.result.clone().unwrap_or_default()),
        State::Sent => {
            let latest = r
                .sent
                .iter()
                .filter_map(|s| SentTransaction::from_json(s.as_bytes()).ok())
                .next_back();
            match latest {
                Some(tx) => wait_mined(chain, tx.hash, deadline).await,
                None => Sent::Unsent((
                    "settlement_pending",
                    "another request is settling this; ask again".into(),
                )),
            }
        }
        State::Claimed => Sent::Unsent((
            "settlement_pending",
            "another request is settling this; nothing is sent twice; ask again".into(),
        )),
    }
}

/// The outcome of the transaction recorded under `key`, if there is one
/// (the same request asked again): what the chain's state says now no
/// longer tells, since that transaction changed it.
async fn replayed(
    inner: &Inner,
    chain: &Chain,
    key: &str,
    data: &[u8],
    payer: Option<Address>,
    failure: BatchReason,
    deadline: Instant,
) -> Option<(String, String, String)> {
    let r = inner.store.get(key).await.ok()??;
    let fingerprint = B256(keccak256(data)).to_string();
    let sent = earlier(chain, &r, &fingerprint, deadline).await;
    Some(
        decide(inner, chain, key, sent, payer, failure, async |hash, _| {
            Answer {
                success: true,
                payer,
                transaction: Some(hash),
                ..Answer::default()
            }
        })
        .await,
    )
}

/// Turns what was sent into the answer, writing a decided one to the store.
async fn decide(
    inner: &Inner,
    chain: &Chain,
    key: &str,
    sent: Sent,
    payer: Option<Address>,
    failure: BatchReason,
    success: impl AsyncFnOnce(B256, &Mined) -> Answer,
) -> (String, String, String) {
    let network = chain.network.as_str();
    match sent {
        Sent::Earlier(json) => (json, "earlier".into(), String::new()),
        Sent::Unsent((reason, message)) => {
            let a = Answer {
                payer,
                ..Answer::refused(reason, message)
            };
            (a.json(network), reason.into(), String::new())
        }
        Sent::Pending(hash) => {
            let a = Answer {
                payer,
                transaction: Some(hash),
                ..Answer::refused(
                    "settlement_pending",
                    format!("{hash} is sent and not mined yet; ask again: nothing is sent twice"),
                )
            };
            (
                a.json(network),
                "settlement_pending".into(),
                hash.to_string(),
            )
        }
        Sent::Mined { hash, receipt } => {
            let a = if receipt.status {
                success(hash, &receipt).await
            } else {
                Answer {
                    payer,
                    transaction: Some(hash),
                    ..Answer::refused(scheme(failure), format!("{hash} reverted"))
                }
            };
            let json = a.json(network);
            if let Err(e) = inner.store.finish(key, &json, now()).await {
                tracing::error!(%key, error = %e, "a decided batch settlement could not be written; the watcher will decide it again");
            }
            let label = a.reason.unwrap_or("settled").to_string();
            (json, label, hash.to_string())
        }
    }
}

/// `POST /settle` of a `batch-settlement` payload: the SettleResponse, its
/// log label, transaction and payer.
pub(crate) async fn settle(
    inner: &Inner,
    chain: &Arc<Chain>,
    req: &VerifyRequest<'_>,
) -> (String, String, String, String) {
    let network = chain.network.as_str();
    let deadline = Instant::now() + chain.receipt_timeout;
    let refused = |reason: &'static str, message: &str| {
        (
            Answer::refused(reason, message).json(network),
            reason.to_string(),
            String::new(),
            String::new(),
        )
    };
    let Some(payload) = payload_of(req) else {
        return refused("invalid_payload", "paymentPayload.payload is not an object");
    };
    let action = match SettleAction::from_json(payload.as_value()) {
        Ok(Some(a)) => a,
        Ok(None) => return refused(scheme(BatchReason::InvalidPayloadType), ""),
        Err(e) => return refused(e.reason().as_str(), &e.to_string()),
    };
    // Every token moved is one this network settles: a token of the caller's
    // making could run anything on the facilitator's gas.
    if !chain.assets.is_empty() {
        let tokens: Vec<Address> = match &action {
            SettleAction::Deposit(d) => vec![d.channel_config.token],
            SettleAction::Claim(c) => c.claims.rows().map(|r| r.channel.token).collect(),
            SettleAction::Settle(s) => vec![s.token],
            SettleAction::Refund(r) => core::iter::once(r.channel_config.token)
                .chain(r.claims.rows().map(|c| c.channel.token))
                .collect(),
        };
        if let Some(t) = tokens.iter().find(|t| !chain.assets.contains(t)) {
            return refused(
                "invalid_payment_requirements",
                &format!("this facilitator does not settle {t} on {network}"),
            );
        }
    }
    let (json, label, tx, payer) = match action {
        SettleAction::Deposit(d) => settle_deposit(inner, chain, req, &d, deadline).await,
        SettleAction::Claim(c) => {
            let rows: Vec<ClaimRow<'_>> = c.claims.rows().collect();
            let (j, l, t) =
                claim(inner, chain, &rows, c.claim_authorizer_signature, deadline).await;
            (j, l, t, None)
        }
        SettleAction::Settle(s) => {
            let (j, l, t) = sweep(inner, chain, s.receiver, s.token, deadline).await;
            (j, l, t, None)
        }
        SettleAction::Refund(r) => {
            let (j, l, t) = refund(inner, chain, &r, deadline).await;
            (j, l, t, Some(r.channel_config.payer))
        }
    };
    (
        json,
        label,
        tx,
        payer.map(|p| p.to_string()).unwrap_or_default(),
    )
}

async fn settle_deposit(
    inner: &Inner,
    chain: &Arc<Chain>,
    req: &VerifyRequest<'_>,
    d: &paywire::evm::batch_settlement::DepositPayload<'_>,
    deadline: Instant,
) -> (String, String, String, Option<Address>) {
    let network = chain.network.as_str();
    let payer = d.channel_config.payer;
    let PaymentRequirements::V2(r) = &req.payment_requirements else {
        return (String::new(), "invalid".into(), String::new(), Some(payer));
    };
    let extra = Requirements::from_requirements(r)
        .map(|q| q.extra)
        .unwrap_or_default();
    let permit2 = settlement::uses_permit2(d, &extra);
    let mut data = [0u8; DEPOSIT_CALL_MAX];
    let Some(call) = settlement::deposit_calldata(d, permit2, &mut data) else {
        let a = Answer::refused(scheme(BatchReason::InvalidPayloadType), "");
        return (
            a.json(network),
            "invalid".into(),
            String::new(),
            Some(payer),
        );
    };
    let data = call;
    // Keyed by what is sent (the signature as the contract takes it, `v`
    // 27/28, whatever its spelling), so one authorization is one deposit.
    let key = format!(
        "{KEY_PREFIX}{}/deposit/{}",
        chain.chain_id,
        B256(keccak256(data))
    );
    // Settled (or being settled) already: that transaction's outcome; the
    // authorization is spent, so judging it again would say otherwise.
    if let Ok(Some(r)) = inner.store.get(&key).await {
        let fingerprint = B256(keccak256(data)).to_string();
        let sent = earlier(chain, &r, &fingerprint, deadline).await;
        let (json, label, tx) = decide(
            inner,
            chain,
            &key,
            sent,
            Some(payer),
            BatchReason::DepositTransactionFailed,
            async |hash, _| Answer {
                success: true,
                payer: Some(payer),
                transaction: Some(hash),
                amount: Some(d.deposit.amount),
                ..Answer::default()
            },
        )
        .await;
        return (json, label, tx, Some(payer));
    }
    let (channel_id, before) = match judge(chain, req, deadline).await {
        Judged::Valid {
            channel_id, state, ..
        } => (channel_id, state),
        Judged::Invalid {
            reason,
            message,
            payer,
        } => {
            let a = Answer {
                payer,
                ..Answer::refused(reason, message)
            };
            return (a.json(network), reason.into(), String::new(), payer);
        }
    };
    let sent = send_once(
        inner,
        chain,
        &key,
        Some(payer),
        BATCH_SETTLEMENT_ADDRESS,
        data,
        DEPOSIT_GAS,
        BatchReason::DepositSimulationFailed,
        BatchReason::DepositTransactionFailed,
        deadline,
    )
    .await;
    let amount = d.deposit.amount;
    let (json, label, tx) = decide(
        inner,
        chain,
        &key,
        sent,
        Some(payer),
        BatchReason::DepositTransactionFailed,
        async |hash, _| {
            // The state after it (what the reference reports); the one
            // before plus the deposit when it cannot be read.
            let after = channel_state(chain, &channel_id, deadline)
                .await
                .unwrap_or(ChannelState {
                    balance: before
                        .balance
                        .checked_add(&amount)
                        .unwrap_or(before.balance),
                    ..before
                });
            Answer {
                success: true,
                payer: Some(payer),
                transaction: Some(hash),
                amount: Some(amount),
                channel_state: Some(ChannelStateExtra::of(channel_id, &after, None)),
                ..Answer::default()
            }
        },
    )
    .await;
    (json, label, tx, Some(payer))
}

/// A receiver authorizer's signature of `digest`: the one given, or this
/// network's authorizer's when every channel names it.
async fn authorizer_signature(
    chain: &Chain,
    given: Option<JsonStr<'_>>,
    mut authorizers: impl Iterator<Item = Address>,
    digest: [u8; 32],
) -> Result<Vec<u8>, Refusal> {
    if let Some(s) = given {
        return hex_bytes(s).ok_or(("invalid_payload", "a signature that is not hex".into()));
    }
    let Some(a) = &chain.authorizer else {
        return Err((
            scheme(BatchReason::AuthorizerNotConfigured),
            "no receiver_authorizer is configured here, and the payload carries no signature"
                .into(),
        ));
    };
    if let Some(other) = authorizers.find(|x| *x != a.address) {
        return Err((
            scheme(BatchReason::AuthorizerAddressMismatch),
            format!(
                "a channel's receiverAuthorizer is {other}, not {}",
                a.address
            ),
        ));
    }
    a.signer
        .sign_hash(B256(digest))
        .await
        .map(|s| s.to_bytes().to_vec())
        .map_err(|e| ("unexpected_settle_error", format!("authorizer: {e}")))
}

/// The `claimWithSignature` calldata of `rows`, signed.
async fn claim_calldata(
    chain: &Chain,
    rows: &[ClaimRow<'_>],
    given: Option<JsonStr<'_>>,
) -> Result<Vec<u8>, Refusal> {
    let entries: Vec<bs::ClaimEntry> = rows.iter().map(|r| r.entry(chain.chain_id)).collect();
    let digest = bs::claim_batch_digest(chain.chain_id, &entries);
    let sig = authorizer_signature(
        chain,
        given,
        rows.iter().map(|r| r.channel.receiver_authorizer),
        digest,
    )
    .await?;
    let sigs: Vec<Vec<u8>> = rows
        .iter()
        .map(|r| hex_bytes(r.signature).unwrap_or_default())
        .collect();
    let claims: Vec<abi::VoucherClaim<'_>> = rows
        .iter()
        .zip(&sigs)
        .map(|(r, s)| abi::VoucherClaim {
            channel: r.channel,
            max_claimable_amount: r.max_claimable_amount,
            signature: s,
            total_claimed: r.total_claimed,
        })
        .collect();
    let mut data = vec![0u8; abi::claim_with_signature_len(&claims, sig.len())];
    abi::claim_with_signature(&claims, &sig, &mut data)
        .map_err(|e| ("unexpected_settle_error", e.to_string()))?;
    Ok(data)
}

async fn claim(
    inner: &Inner,
    chain: &Chain,
    rows: &[ClaimRow<'_>],
    given: Option<JsonStr<'_>>,
    deadline: Instant,
) -> (String, String, String) {
    let network = chain.network.as_str();
    let data = match claim_calldata(chain, rows, given).await {
        Ok(d) => d,
        Err((reason, message)) => {
            return (
                Answer::refused(reason, message).json(network),
                reason.into(),
                String::new(),
            );
        }
    };
    let key = format!(
        "{KEY_PREFIX}{}/claim/{}",
        chain.chain_id,
        B256(keccak256(&data))
    );
    let sent = send_once(
        inner,
        chain,
        &key,
        None,
        BATCH_SETTLEMENT_ADDRESS,
        &data,
        claim_gas(rows.len()),
        BatchReason::ClaimSimulationFailed,
        BatchReason::ClaimTransactionFailed,
        deadline,
    )
    .await;
    decide(
        inner,
        chain,
        &key,
        sent,
        None,
        BatchReason::ClaimTransactionFailed,
        async |hash, _| Answer {
            success: true,
            transaction: Some(hash),
            ..Answer::default()
        },
    )
    .await
}

/// The amount a receipt's `Settled` log pays `receiver` in `token`.
fn settled_amount(mined: &Mined, receiver: &Address, token: &Address) -> Option<Amount> {
    for log in mined.receipt()?.logs() {
        if let Some(a) = abi::settled_log_amount(&log.ok()?, receiver, token) {
            return Some(a);
        }
    }
    None
}

async fn sweep(
    inner: &Inner,
    chain: &Chain,
    receiver: Address,
    token: Address,
    deadline: Instant,
) -> (String, String, String) {
    let network = chain.network.as_str();
    let out = |a: Answer| {
        let label = a.reason.unwrap_or("settled").to_string();
        (a.json(network), label, String::new())
    };
    let totals = read(
        chain,
        BATCH_SETTLEMENT_ADDRESS,
        &abi::receivers(&receiver, &token),
        deadline,
    )
    .await
    .and_then(|d| abi::decode_receivers(&d).map_err(|e| format!("receivers: {e:?}")));
    let (claimed, settled) = match totals {
        Ok(t) => t,
        Err(e) => return out(Answer::refused(scheme(BatchReason::RpcReadFailed), e)),
    };
    let data = abi::settle(&receiver, &token);
    // One sweep per claimed total: the same total again is the same sweep.
    let key = format!(
        "{KEY_PREFIX}{}/settle/{receiver}/{token}/{claimed}",
        chain.chain_id
    );
    if claimed <= settled {
        let failure = BatchReason::SettleTransactionFailed;
        if let Some(earlier) = replayed(inner, chain, &key, &data, None, failure, deadline).await {
            return earlier;
        }
        return out(Answer::refused(
            scheme(BatchReason::NothingToSettle),
            "nothing to settle for receiver and token",
        ));
    }
    let sent = send_once(
        inner,
        chain,
        &key,
        None,
        BATCH_SETTLEMENT_ADDRESS,
        &data,
        SWEEP_GAS,
        BatchReason::SettleSimulationFailed,
        BatchReason::SettleTransactionFailed,
        deadline,
    )
    .await;
    decide(
        inner,
        chain,
        &key,
        sent,
        None,
        BatchReason::SettleTransactionFailed,
        async |hash, mined| Answer {
            success: true,
            transaction: Some(hash),
            amount: Some(settled_amount(mined, &receiver, &token).unwrap_or_default()),
            ..Answer::default()
        },
    )
    .await
}

async fn refund(
    inner: &Inner,
    chain: &Chain,
    r: &RefundSettlement<'_>,
    deadline: Instant,
) -> (String, String, String) {
    let network = chain.network.as_str();
    let payer = Some(r.channel_config.payer);
    let out = |reason: &'static str, message: String| {
        let a = Answer {
            payer,
            ..Answer::refused(reason, message)
        };
        (a.json(network), reason.to_string(), String::new())
    };
    let id = bs::channel_id(&r.channel_config, chain.chain_id);
    let digest = bs::refund_digest(chain.chain_id, &id, &r.refund_nonce, &r.amount);
    let refund_sig = match authorizer_signature(
        chain,
        r.refund_authorizer_signature,
        core::iter::once(r.channel_config.receiver_authorizer),
        digest,
    )
    .await
    {
        Ok(s) => s,
        Err((reason, message)) => return out(reason, message),
    };
    let mut refund_data = vec![0u8; abi::refund_with_signature_len(refund_sig.len())];
    if let Err(e) = abi::refund_with_signature(
        &r.channel_config,
        &r.amount,
        &r.refund_nonce,
        &refund_sig,
        &mut refund_data,
    ) {
        return out("unexpected_settle_error", e.to_string());
    }
    let data = if r.claims.is_empty() {
        refund_data
    } else {
        let rows: Vec<ClaimRow<'_>> = r.claims.rows().collect();
        let claim_data = match claim_calldata(chain, &rows, r.claim_authorizer_signature).await {
            Ok(d) => d,
            Err((reason, message)) => return out(reason, message),
        };
        let calls: [&[u8]; 2] = [&claim_data, &refund_data];
        let mut data = vec![0u8; abi::multicall_len(&calls)];
        if let Err(e) = abi::multicall(&calls, &mut data) {
            return out("unexpected_settle_error", e.to_string());
        }
        data
    };
    // The contract takes one refund per nonce.
    let key = format!(
        "{KEY_PREFIX}{}/refund/{id}/{}",
        chain.chain_id, r.refund_nonce
    );
    let failure = BatchReason::RefundTransactionFailed;
    if let Some(earlier) = replayed(inner, chain, &key, &data, payer, failure, deadline).await {
        return earlier;
    }
    let before = match channel_state(chain, &id, deadline).await {
        Ok(s) => s,
        Err(e) => return out(scheme(BatchReason::RpcReadFailed), e),
    };
    if settlement::refundable(r, chain.chain_id, &before).is_some_and(|a| a.is_zero()) {
        return out(
            scheme(BatchReason::RefundNoBalance),
            "Nothing to refund".into(),
        );
    }
    // Signed here: never a refund of what the payer's own voucher says was
    // charged — that much must be claimed first (by this refund's claims, or
    // before).
    if r.refund_authorizer_signature.is_none()
        && let Err(refused) = settlement::may_sign_refund(r, chain.chain_id, &before)
    {
        return out(scheme(refused.reason()), refused.to_string());
    }
    let sent = send_once(
        inner,
        chain,
        &key,
        payer,
        BATCH_SETTLEMENT_ADDRESS,
        &data,
        refund_gas(r.claims.len()),
        BatchReason::RefundSimulationFailed,
        BatchReason::RefundTransactionFailed,
        deadline,
    )
    .await;
    decide(
        inner,
        chain,
        &key,
        sent,
        payer,
        BatchReason::RefundTransactionFailed,
        async |hash, _| {
            let (amount, state) = match channel_state(chain, &id, deadline).await {
                Ok(after) => {
                    let (a, s) = settlement::refund_outcome(id, &before, &after);
                    (Some(a), Some(s))
                }
                Err(_) => (None, None),
            };
            Answer {
                success: true,
                payer,
                transaction: Some(hash),
                amount,
                channel_state: state,
                ..Answer::default()
            }
        },
    )
    .await
}

// ---------------------------------------------------------------------------
// Taking unfinished transactions up again

/// Takes a batch-settlement transaction up again: decided by its receipt if
/// mined, else the same signed bytes sent again.
pub(crate) async fn take_up(inner: &Inner, record: &Record) -> super::SettleSummary {
    let mut summary = super::SettleSummary {
        key: record.key.clone(),
        state: "pending".into(),
        transaction: String::new(),
        detail: String::new(),
    };
    let Some(chain) = crate::store::chain_id_of(&record.network)
        .and_then(|id| inner.chains.get(&id))
        .cloned()
    else {
        summary.detail = "its network is not served by this configuration".into();
        return summary;
    };
    let Some(tx) = record
        .sent
        .iter()
        .filter_map(|s| SentTransaction::from_json(s.as_bytes()).ok())
        .next_back()
    else {
        summary.detail = "no transaction recorded".into();
        return summary;
    };
    summary.transaction = tx.hash.to_string();
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    let Ok(v) = paywire::json::parse(record.request.as_bytes(), &limits()) else {
        summary.detail = "its request cannot be read again".into();
        return summary;
    };
    let o = v.as_object();
    let field = |k: &str| o.and_then(|o| o.get(k)).and_then(|v| v.as_str());
    let to: Option<Address> = field("to").and_then(|t| t.as_str()?.parse().ok());
    let data = field("data").and_then(hex_bytes);
    let failure = field("failure")
        .and_then(|f| f.as_str())
        .and_then(BatchReason::from_wire)
        .unwrap_or(BatchReason::ClaimTransactionFailed);
    let (Some(to), Some(data)) = (to, data) else {
        summary.detail = "its request cannot be read again".into();
        return summary;
    };
    if let Ok(Some(Mined { status, .. })) = receipt(&chain, tx.hash, deadline).await {
        let a = if status {
            Answer {
                success: true,
                transaction: Some(tx.hash),
                ..Answer::default()
            }
        } else {
            Answer {
                transaction: Some(tx.hash),
                ..Answer::refused(scheme(failure), format!("{} reverted", tx.hash))
            }
        };
        if inner
            .store
            .finish(&record.key, &a.json(chain.network.as_str()), now())
            .await
            .is_ok()
        {
            summary.state = if status { "settled" } else { "failed" }.into();
        }
        return summary;
    }
    let signed = SignedTransaction {
        tx: Eip1559Transaction {
            chain_id: chain.chain_id,
            nonce: tx.nonce,
            max_priority_fee_per_gas: tx.max_priority_fee_per_gas,
            max_fee_per_gas: tx.max_fee_per_gas,
            gas_limit: tx.gas_limit,
            to: Some(to),
            value: Amount::ZERO,
            data: &data,
        },
        y_parity: tx.y_parity,
        r: tx.r,
        s: tx.s,
    };
    if signed.hash() != tx.hash {
        summary.detail = "its recorded transaction does not hash to its hash".into();
        return summary;
    }
    let _ = ask(
        &chain,
        Request::SendRawTransaction { tx: signed },
        deadline,
        |r| r.map(|_| ()),
    )
    .await;
    summary.detail = "sent again".into();
    summary
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const CC: &str = r#"{"payer":"0x1111111111111111111111111111111111111111","payerAuthorizer":"0x1111111111111111111111111111111111111111","receiver":"0x2222222222222222222222222222222222222222","receiverAuthorizer":"0x3333333333333333333333333333333333333333","token":"0x4444444444444444444444444444444444444444","withdrawDelay":900,"salt":"0x0000000000000000000000000000000000000000000000000000000000000001"}"#;

    fn body(payload: &str) -> String {
        let accepted = r#"{"scheme":"batch-settlement","network":"eip155:84532","amount":"0","asset":"0x4444444444444444444444444444444444444444","payTo":"0x2222222222222222222222222222222222222222","maxTimeoutSeconds":60,"extra":{}}"#;
        format!(
            r#"{{"x402Version":2,"paymentPayload":{{"x402Version":2,"accepted":{accepted},"payload":{payload}}},"paymentRequirements":{accepted}}}"#
        )
    }

    fn claim(signature: &str) -> String {
        let sig = "ab".repeat(65);
        body(&format!(
            r#"{{"type":"claim","claims":[{{"voucher":{{"channel":{CC},"maxClaimableAmount":"10"}},"signature":"0x{sig}","totalClaimed":"10"}}]{signature}}}"#
        ))
    }

    #[test]
    fn an_anonymous_caller_gets_no_authorizer_signature() {
        let unsigned = claim("");
        let refused = refuse_receivers(&Caller::Anyone, unsigned.as_bytes()).expect("refused");
        assert_eq!(refused.status(), axum::http::StatusCode::FORBIDDEN);
        // Signed by the server's own authorizer: relayed for anyone.
        let signed = claim(&format!(
            r#","claimAuthorizerSignature":"0x{}""#,
            "cd".repeat(65)
        ));
        assert!(refuse_receivers(&Caller::Anyone, signed.as_bytes()).is_none());
        let refund = body(&format!(
            r#"{{"type":"refund","channelConfig":{CC},"voucher":{{"channelId":"0x{}","maxClaimableAmount":"10","signature":"0x{}"}},"amount":"5","refundNonce":"0","claims":[]}}"#,
            "00".repeat(32),
            "ab".repeat(65)
        ));
        assert!(refuse_receivers(&Caller::Anyone, refund.as_bytes()).is_some());
        let (receivers, signs) = receivers(unsigned.as_bytes());
        assert_eq!(
            receivers,
            ["0x2222222222222222222222222222222222222222"
                .parse::<Address>()
                .unwrap()]
        );
        assert!(signs);
    }
}
