//! `/verify`, `/settle` and `/supported`: the documents are read and judged by
//! the core; this decides which chain and account, keeps the settlement's
//! record, and answers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{Response, StatusCode};
use paywire::json::{JsonStr, Limits, ObjectWriter, ToJson};
use paywire::message::Message;
use paywire::settle::{Machine, Outcome, PaymentId, SentTransaction, Settlement, Signer};
use paywire::types::FromJson;
use paywire::types::facilitator::{PaymentPayload, PaymentRequirements, VerifyRequest};
use paywire::verify::Config;
use paywire::{Network, Reason};

use super::access::Caller;
use super::approval;
use super::drive::{Driven, Settling, drive};
use super::metrics;
use super::{Chain, Inner, json_response, now, problem};
use crate::config::SchemeConfig;
use crate::store::{Claim, Record, State};

/// What became of one settlement, for `paywire facilitator reconcile`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettleSummary {
    /// The payment's key.
    pub key: String,
    /// `settled`, `failed`, `pending`.
    pub state: String,
    /// The transaction that decided it (or the latest one sent).
    pub transaction: String,
    /// What happened.
    pub detail: String,
}

fn limits() -> Limits {
    Limits {
        // A claim batch is the longest body (the HTTP limit is the operator's).
        max_len: super::batch::MAX_BODY,
        ..Limits::DEFAULT
    }
}

/// A SettleResponse of a failure decided here (nothing sent).
fn failed(reason: Reason, message: &str, network: Option<Network>) -> String {
    Settlement {
        success: false,
        reason: Some(reason),
        message: Message::new(&message),
        payer: None,
        transaction: None,
        network,
        amount: None,
        block_number: None,
        gas_used: None,
        effective_gas_price: None,
    }
    .to_json_string()
}

/// A VerifyResponse of a refusal decided here.
fn invalid(reason: Reason, message: &str) -> String {
    paywire::types::facilitator::VerifyResponse::invalid(reason.as_str(), Some(message), None)
        .to_json_string()
}

/// The chain serving a request's network, if any.
fn chain_of(inner: &Inner, req: &VerifyRequest<'_>) -> Option<Arc<Chain>> {
    let id = req.payment_requirements.network().evm_chain_id()?;
    inner.chains.get(&id).cloned()
}

/// Whether `chain` settles this payment's scheme and method and its asset.
fn served(chain: &Chain, req: &VerifyRequest<'_>, id: &PaymentId) -> Result<(), (Reason, String)> {
    let scheme = req.payment_requirements.scheme();
    let method = if scheme == "upto" {
        Some(SchemeConfig::Upto)
    } else if scheme == "exact" && id.permit2 {
        Some(SchemeConfig::ExactPermit2)
    } else if scheme == "exact" {
        Some(SchemeConfig::ExactEip3009)
    } else {
        None
    };
    match method {
        Some(m) if chain.schemes.contains(&m) => {}
        _ => {
            return Err((
                Reason::UnsupportedScheme,
                format!(
                    "this facilitator does not settle this scheme and transfer method on {}",
                    chain.network.as_str()
                ),
            ));
        }
    }
    if !chain.assets.is_empty() && !chain.assets.contains(&id.asset) {
        return Err((
            Reason::InvalidPaymentRequirements,
            format!(
                "this facilitator does not settle {} on {}",
                id.asset,
                chain.network.as_str()
            ),
        ));
    }
    Ok(())
}

/// Whether `chain` settles `batch-settlement` and the payment's asset.
fn served_batch(chain: &Chain, req: &VerifyRequest<'_>) -> Result<(), (Reason, String)> {
    if !chain.schemes.contains(&SchemeConfig::BatchSettlement) {
        return Err((
            Reason::UnsupportedScheme,
            format!(
                "this facilitator does not settle batch-settlement on {}",
                chain.network.as_str()
            ),
        ));
    }
    let asset = match &req.payment_requirements {
        PaymentRequirements::V2(r) => r.asset_address().ok(),
        PaymentRequirements::V1(_) => None,
    };
    if !chain.assets.is_empty() && !asset.is_some_and(|a| chain.assets.contains(&a)) {
        return Err((
            Reason::InvalidPaymentRequirements,
            format!(
                "this facilitator does not settle this asset on {}",
                chain.network.as_str()
            ),
        ));
    }
    Ok(())
}

/// 403 when the caller's key may not act for this body's `payTo`.
pub(crate) fn refuse_payee(who: &Caller<'_>, body: &[u8]) -> Option<Response<Body>> {
    let req = VerifyRequest::from_json_bytes(body, &limits()).ok()?;
    let pay_to = match req.payment_requirements {
        PaymentRequirements::V2(r) => r.pay_to_address().ok()?,
        PaymentRequirements::V1(r) => r.pay_to.as_str()?.parse().ok()?,
    };
    (!who.may_pay(&pay_to)).then(|| {
        problem(
            StatusCode::FORBIDDEN,
            "pay_to_not_allowed",
            "this API key may not verify or settle payments to this payTo",
        )
    })
}

fn count(inner: &Inner, endpoint: &'static str, network: &str, outcome: &str) {
    inner
        .metrics
        .requests
        .get_or_create(&metrics::Outcome {
            endpoint,
            network: network.to_string(),
            outcome: outcome.to_string(),
        })
        .inc();
}

fn outcome_label(o: &Outcome) -> String {
    match o.reason() {
        None => match o {
            Outcome::Verified(_) => "valid".into(),
            Outcome::Settled(_) => "settled".into(),
        },
        Some(r) => r.as_str().into(),
    }
}

/// `POST /verify`: the offline checks, then the chain's.
pub(crate) async fn verify(inner: &Inner, who: &Caller<'_>, body: &[u8]) -> Response<Body> {
    let started = Instant::now();
    if let Some(refused) = refuse_payee(who, body) {
        return refused;
    }
    let parsed = VerifyRequest::from_json_bytes(body, &limits());
    let (chain, addresses) = match &parsed {
        Ok(req) => {
            let Some(chain) = chain_of(inner, req) else {
                count(inner, "verify", "", "invalid_network");
                return json_response(
                    StatusCode::OK,
                    invalid(
                        Reason::InvalidNetwork,
                        "this facilitator does not serve this network",
                    ),
                );
            };
            if super::batch::is_batch(req) {
                let (json, label) = match served_batch(&chain, req) {
                    Err((reason, message)) => (invalid(reason, &message), reason.as_str().into()),
                    Ok(()) => super::batch::verify(&chain, req).await,
                };
                count(inner, "verify", chain.network.as_str(), &label);
                tracing::info!(
                    endpoint = "verify",
                    network = %chain.network,
                    outcome = %label,
                    caller = who.name(),
                    scheme = "batch-settlement",
                    latency_ms = started.elapsed().as_millis() as u64,
                    "verify"
                );
                return json_response(StatusCode::OK, json);
            }
            if let Ok(id) = PaymentId::of(req)
                && let Err((reason, message)) = served(&chain, req, &id)
            {
                count(inner, "verify", chain.network.as_str(), reason.as_str());
                return json_response(StatusCode::OK, invalid(reason, &message));
            }
            // A payment-identifier bound here to another payment.
            if let (Some(id_key), Some((_, key, _))) = (identifier_key(req), identify(req))
                && let Ok(Some(bound)) = inner.store.get(&id_key).await
                && bound.fingerprint != key
            {
                let reason = Reason::PaymentIdentifierConflict;
                count(inner, "verify", chain.network.as_str(), reason.as_str());
                return json_response(StatusCode::OK, invalid(reason, IDENTIFIER_CONFLICT));
            }
            // A payer's approval for Permit2, on a network that sponsors it.
            if let Some(answer) = verify_approval(&chain, inner.store.as_ref(), req).await {
                let (json, label) = answer;
                count(inner, "verify", chain.network.as_str(), &label);
                tracing::info!(
                    endpoint = "verify",
                    network = %chain.network,
                    outcome = %label,
                    caller = who.name(),
                    payer = %payer_of(body),
                    latency_ms = started.elapsed().as_millis() as u64,
                    "verify"
                );
                return json_response(StatusCode::OK, json);
            }
            let addresses: Vec<_> = chain.accounts.iter().map(|a| a.address).collect();
            (Some(chain), addresses)
        }
        Err(_) => (None, Vec::new()),
    };
    let config = Config {
        facilitator_addresses: &addresses,
        smart_wallets: false,
        erc20_approval_sponsoring: false,
    };
    let options = chain.as_ref().map(|c| c.options).unwrap_or_default();
    let mut m = Machine::verify_json(body, now(), &config, &options);
    let network = chain
        .as_ref()
        .map(|c| c.network.as_str().to_string())
        .unwrap_or_default();
    let json = match (&chain, m.outcome().is_some()) {
        (_, true) | (None, _) => m.outcome().map(|o| o.to_json_string()).unwrap_or_default(),
        (Some(chain), false) => {
            match drive(&mut m, chain, None, Instant::now() + chain.receipt_timeout).await {
                Driven::Outcome(o) => o.to_json_string(),
                Driven::Unconfirmed(_) => invalid(
                    Reason::UnexpectedVerifyError,
                    "a verification sent a transaction",
                ),
                Driven::Unsent(why) => invalid(
                    Reason::UnexpectedVerifyError,
                    &format!("the chain could not be asked: {why}"),
                ),
            }
        }
    };
    let label = m
        .outcome()
        .map(outcome_label)
        .unwrap_or_else(|| "unexpected_verify_error".into());
    count(inner, "verify", &network, &label);
    tracing::info!(
        endpoint = "verify",
        network = %network,
        outcome = %label,
        caller = who.name(),
        payer = %payer_of(body),
        latency_ms = started.elapsed().as_millis() as u64,
        "verify"
    );
    json_response(StatusCode::OK, json)
}

/// `/verify` of a Permit2 payment carrying an approval to sponsor: its
/// answer and label, or `None` for the ordinary verification.
async fn verify_approval(
    chain: &Chain,
    store: &dyn crate::store::Store,
    req: &VerifyRequest<'_>,
) -> Option<(String, String)> {
    let (approval, id) = match approval::carried(chain, req, now())? {
        Ok(found) => found,
        Err((reason, message)) => {
            let payer = PaymentId::of(req).ok().map(|id| id.payer.to_string());
            let json = paywire::types::facilitator::VerifyResponse::invalid(
                reason.as_str(),
                Some(&message),
                payer.as_deref(),
            )
            .to_json_string();
            return Some((json, reason.as_str().into()));
        }
    };
    let payer = id.payer.to_string();
    let deadline = Instant::now() + chain.receipt_timeout;
    match approval::verify(chain, store, &approval, &id, deadline).await {
        approval::Verified::Ordinary => None,
        approval::Verified::Valid => Some((
            paywire::types::facilitator::VerifyResponse::valid(Some(&payer)).to_json_string(),
            "valid".into(),
        )),
        approval::Verified::Invalid((reason, message)) => Some((
            paywire::types::facilitator::VerifyResponse::invalid(
                reason.as_str(),
                Some(&message),
                Some(&payer),
            )
            .to_json_string(),
            reason.as_str().into(),
        )),
    }
}

fn payer_of(body: &[u8]) -> String {
    VerifyRequest::from_json_bytes(body, &limits())
        .ok()
        .and_then(|r| PaymentId::of(&r).ok())
        .map(|id| id.payer.to_string())
        .unwrap_or_default()
}

/// The payment's record key and fingerprint (the payment itself: its
/// payload and the requirements it is settled against).
fn identify(req: &VerifyRequest<'_>) -> Option<(PaymentId, String, String)> {
    let id = PaymentId::of(req).ok()?;
    let mut key = String::new();
    id.write_key(&mut key).ok()?;
    let canonical = req.to_json_string();
    let fingerprint = paywire::evm::B256(paywire::evm::keccak256(canonical.as_bytes())).to_string();
    Some((id, key, fingerprint))
}

/// The store key of the payment's `payment-identifier` (per network and
/// payee), when it carries a valid one.
fn identifier_key(req: &VerifyRequest<'_>) -> Option<String> {
    let PaymentPayload::V2(p) = &req.payment_payload else {
        return None;
    };
    let id = paywire::payment_identifier::id_of(p.extensions?.as_json()?)?.to_cow();
    paywire::payment_identifier::is_valid_id(&id).then(|| {
        paywire::payment_identifier::binding_key(
            req.payment_requirements.network().as_str(),
            &req.payment_requirements.pay_to().to_cow(),
            &id,
        )
    })
}

const IDENTIFIER_CONFLICT: &str =
    "this payment-identifier was used for another payment here; a new purchase needs a new id";

/// Binds the payment's `payment-identifier` to the payment (its record key)
/// unless it is bound already: `Err` when bound to another payment. The
/// binding is a record of the store, claimed and at once finished (a done
/// record is inert: nothing takes it up).
async fn bind_identifier(
    inner: &Inner,
    id_key: &str,
    payment: &Record,
) -> Result<(), (Reason, String)> {
    let binding = Record {
        key: id_key.to_owned(),
        fingerprint: payment.key.clone(),
        request: String::new(),
        state: State::Claimed,
        owner: payment.owner.clone(),
        lease_until: now() + 60,
        signer: None,
        nonce: None,
        sent: Vec::new(),
        result: None,
        ..payment.clone()
    };
    let unavailable = |e: crate::store::StoreError| {
        (
            Reason::FacilitatorUnavailable,
            format!("the settlement record cannot be written ({e}); nothing was sent"),
        )
    };
    match inner.store.claim(&binding, now()).await {
        Ok(Claim::Claimed) => inner
            .store
            .finish(id_key, "", now())
            .await
            .map_err(unavailable),
        Ok(Claim::Existing(r)) if r.fingerprint == payment.key => Ok(()),
        Ok(Claim::Existing(_)) => Err((
            Reason::PaymentIdentifierConflict,
            IDENTIFIER_CONFLICT.into(),
        )),
        Err(e) => Err(unavailable(e)),
    }
}

/// `POST /settle`.
/// The answer, and whether it is a settlement's success.
pub(crate) async fn settle(inner: &Inner, who: &str, body: Bytes) -> (Response<Body>, bool) {
    let started = Instant::now();
    let (json, network, label, transaction, payer, amount) = settle_inner(inner, &body).await;
    let elapsed = started.elapsed();
    count(inner, "settle", &network, &label);
    inner
        .metrics
        .settle_seconds
        .get_or_create(&metrics::Net {
            network: network.clone(),
        })
        .observe(elapsed.as_secs_f64());
    tracing::info!(
        endpoint = "settle",
        network = %network,
        outcome = %label,
        caller = who,
        payer = %payer,
        amount = %amount,
        transaction = %transaction,
        latency_ms = elapsed.as_millis() as u64,
        "settle"
    );
    let success = paywire::json::parse(json.as_bytes(), &limits())
        .ok()
        .and_then(|v| v.as_object())
        .and_then(|o| o.get("success"))
        .and_then(|s| s.as_bool())
        == Some(true);
    (json_response(StatusCode::OK, json), success)
}

/// The answer, and what the log line says of it: network, outcome,
/// transaction, payer, amount.
async fn settle_inner(
    inner: &Inner,
    body: &[u8],
) -> (String, String, String, String, String, String) {
    let req = match VerifyRequest::from_json_bytes(body, &limits()) {
        Ok(r) => r,
        Err(e) => {
            let json = failed(e.reason(), &e.to_string(), None);
            return (
                json,
                String::new(),
                e.reason().as_str().into(),
                String::new(),
                String::new(),
                String::new(),
            );
        }
    };
    let network_text = req.payment_requirements.network().as_str().to_string();
    let network = Some(req.payment_requirements.network());
    let Some(chain) = chain_of(inner, &req) else {
        let json = failed(
            Reason::InvalidNetwork,
            "this facilitator does not serve this network",
            network,
        );
        return (
            json,
            network_text,
            "invalid_network".into(),
            String::new(),
            String::new(),
            String::new(),
        );
    };
    if super::batch::is_batch(&req) {
        if let Err((reason, message)) = served_batch(&chain, &req) {
            return (
                failed(reason, &message, network),
                network_text,
                reason.as_str().into(),
                String::new(),
                String::new(),
                String::new(),
            );
        }
        let (json, label, tx, payer) = super::batch::settle(inner, &chain, &req).await;
        return (json, network_text, label, tx, payer, String::new());
    }
    let Some((id, key, fingerprint)) = identify(&req) else {
        // Not an authorization this facilitator can settle: the machine says why.
        let m = Machine::settle_json_as(
            body,
            now(),
            Signer::Host(paywire::evm::Address::default()),
            &chain.options,
        );
        let json = m.outcome().map(|o| o.to_json_string()).unwrap_or_else(|| {
            failed(
                Reason::InvalidPayload,
                "not a payment this facilitator can settle",
                network,
            )
        });
        let label = m
            .outcome()
            .map(outcome_label)
            .unwrap_or_else(|| "invalid_payload".into());
        return (
            json,
            network_text,
            label,
            String::new(),
            String::new(),
            String::new(),
        );
    };
    let payer = id.payer.to_string();
    let amount = id.amount.to_string();
    let out = |json: String, label: String, tx: String| {
        (
            json,
            network_text.clone(),
            label,
            tx,
            payer.clone(),
            amount.clone(),
        )
    };
    if let Err((reason, message)) = served(&chain, &req, &id) {
        return out(
            failed(reason, &message, network),
            reason.as_str().into(),
            String::new(),
        );
    }
    let owner = format!(
        "{}/{}",
        inner.instance,
        inner
            .requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let deadline = Instant::now() + chain.receipt_timeout;
    let mut record = Record {
        key: key.clone(),
        fingerprint: fingerprint.clone(),
        request: String::from_utf8_lossy(body).into_owned(),
        state: State::Claimed,
        owner: owner.clone(),
        // Held while this request may still send or wait (its deadline and
        // a margin); then the watcher may take it up.
        lease_until: now() + chain.receipt_timeout.as_secs() + 15,
        signer: None,
        nonce: None,
        sent: Vec::new(),
        result: None,
        network: network_text.clone(),
        payer: payer.clone(),
        amount: amount.clone(),
        created: now(),
        updated: now(),
    };
    if let Some(id_key) = identifier_key(&req)
        && let Err((reason, message)) = bind_identifier(inner, &id_key, &record).await
    {
        return out(
            failed(reason, &message, network),
            reason.as_str().into(),
            String::new(),
        );
    }
    loop {
        let claim = match inner.store.claim(&record, now()).await {
            Ok(c) => c,
            Err(e) => {
                return out(
                    failed(
                        Reason::FacilitatorUnavailable,
                        &format!("the settlement record cannot be written ({e}); nothing was sent"),
                        network,
                    ),
                    "facilitator_unavailable".into(),
                    String::new(),
                );
            }
        };
        let existing = match claim {
            Claim::Claimed => break,
            Claim::Existing(r) => *r,
        };
        match existing.state {
            State::Done | State::Sent if existing.fingerprint != fingerprint => {
                return out(
                    failed(
                        Reason::InvalidPayload,
                        "another payment with this authorization's nonce was settled here; this one cannot be",
                        network,
                    ),
                    "conflicting_payment".into(),
                    String::new(),
                );
            }
            State::Done => {
                let json = existing.result.unwrap_or_default();
                let tx = latest_hash(&existing.sent);
                return out(json, "idempotent".into(), tx);
            }
            State::Sent => {
                // Sent earlier (a retry after settlement_pending, or another
                // instance's request): wait for that transaction, never another.
                let (json, label, tx) = follow(inner, &chain, &req, &existing, deadline).await;
                return out(json, label, tx);
            }
            State::Claimed => {
                // Another request holds it and has sent nothing yet: wait for
                // it to send, finish or let go.
                if Instant::now() >= deadline {
                    return out(
                        failed(
                            Reason::SettlementPending,
                            "another request is settling this payment now; ask again shortly",
                            network,
                        ),
                        "settlement_pending".into(),
                        String::new(),
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                record.updated = now();
            }
        }
    }
    // The payment is this request's.
    let Some(account) = chain.pick_account() else {
        let _ = inner.store.release(&key, &owner).await;
        return out(
            failed(
                Reason::FacilitatorUnavailable,
                "no signer of this network holds the minimum gas balance; nothing was sent",
                network,
            ),
            "facilitator_unavailable".into(),
            String::new(),
        );
    };
    // A payer's approval for Permit2 on a network that sponsors it: on chain
    // before the settlement (nothing of the payer's moves until then).
    if let Some(carried) = approval::carried(&chain, &req, now()) {
        let prepared = match carried {
            Ok((approval, id)) => {
                // Half the receipt wait, within the request's: the
                // settlement after it needs the rest.
                let until = (Instant::now() + chain.receipt_timeout / 2).min(
                    deadline
                        .checked_sub(Duration::from_secs(2))
                        .unwrap_or(deadline),
                );
                approval::prepare(&chain, inner.store.as_ref(), &owner, &approval, &id, until).await
            }
            Err(refusal) => Err(refusal),
        };
        if let Err((reason, message)) = prepared {
            let _ = inner.store.release(&key, &owner).await;
            return out(
                failed(reason, &message, network),
                reason.as_str().into(),
                String::new(),
            );
        }
    }
    let mut m = Machine::settle_json_as(body, now(), Signer::Host(account.address), &chain.options);
    let settling = Settling {
        store: inner.store.as_ref(),
        key: &key,
        owner: &owner,
        account: &account,
        allocate: true,
    };
    // The drive ends by the request's deadline (a second past the receipt
    // wait), well within the server's: a transaction sent and not confirmed
    // by then is pending, never a timeout.
    let driven = drive(
        &mut m,
        &chain,
        Some(&settling),
        deadline + Duration::from_secs(1),
    )
    .await;
    let (json, label, tx) =
        finish(inner, &chain, &key, &owner, driven, network, Some(id.payer)).await;
    out(json, label, tx)
}

fn latest_hash(sent: &[String]) -> String {
    sent.last()
        .and_then(|s| SentTransaction::from_json(s.as_bytes()).ok())
        .map(|t| t.hash.to_string())
        .unwrap_or_default()
}

/// Writes and answers what a settlement drive came to.
async fn finish(
    inner: &Inner,
    chain: &Chain,
    key: &str,
    owner: &str,
    driven: Driven,
    network: Option<Network>,
    payer: Option<paywire::evm::Address>,
) -> (String, String, String) {
    match driven {
        Driven::Unconfirmed(hash) => {
            let s = Settlement {
                success: false,
                reason: Some(Reason::SettlementPending),
                message: Message::EMPTY,
                payer,
                transaction: Some(hash),
                network,
                amount: None,
                block_number: None,
                gas_used: None,
                effective_gas_price: None,
            };
            hand_over(inner, chain, key, owner).await;
            (
                pending(
                    &s,
                    "the transaction was sent and is not confirmed yet; ask again with the same body",
                ),
                "settlement_pending".into(),
                hash.to_string(),
            )
        }
        Driven::Unsent(why) => {
            let _ = inner.store.release(key, owner).await;
            (
                failed(
                    Reason::FacilitatorUnavailable,
                    &format!("{why}; nothing was sent"),
                    network,
                ),
                "facilitator_unavailable".into(),
                String::new(),
            )
        }
        Driven::Outcome(o) => {
            let Outcome::Settled(s) = *o else {
                return (o.to_json_string(), outcome_label(&o), String::new());
            };
            let tx = s.transaction.map(|h| h.to_string()).unwrap_or_default();
            let label = outcome_label(&o);
            if s.transaction.is_none() {
                // Refused before anything was sent: the payment may be presented again.
                let _ = inner.store.release(key, owner).await;
                return (o.to_json_string(), label, tx);
            }
            if s.success || is_final_failure(&s) {
                if let Err(e) = inner.store.finish(key, &o.to_json_string(), now()).await {
                    tracing::error!(%key, error = %e, "a decided settlement could not be written; the watcher will decide it again");
                }
                return (o.to_json_string(), label, tx);
            }
            // Sent, not decided in time: pending, with the transaction.
            hand_over(inner, chain, key, owner).await;
            (
                pending(
                    &s,
                    "the transaction was sent and is not confirmed yet; ask again with the same body",
                ),
                "settlement_pending".into(),
                tx,
            )
        }
    }
}

/// Lets the watcher take up a pending settlement from now on (this request
/// lets its lease go), and counts it.
async fn hand_over(inner: &Inner, chain: &Chain, key: &str, owner: &str) {
    let t = now();
    if let Err(e) = inner.store.lease(key, owner, t, t).await {
        tracing::warn!(%key, error = %e, "could not hand a pending settlement to the watcher; it will take it when the lease ends");
    }
    inner
        .metrics
        .pending
        .get_or_create(&metrics::Net {
            network: chain.network.as_str().into(),
        })
        .inc();
}

/// The settlement a drive of a sent payment came to, if it came to one; when
/// it decides the payment it is written to the record, and its answer and log
/// label come with it.
async fn settled(
    inner: &Inner,
    key: &str,
    driven: Driven,
) -> Option<(Settlement, Option<(String, String)>)> {
    let Driven::Outcome(o) = driven else {
        return None;
    };
    let Outcome::Settled(s) = *o else { return None };
    if !(s.success || is_final_failure(&s)) {
        return Some((s, None));
    }
    let json = o.to_json_string();
    if let Err(e) = inner.store.finish(key, &json, now()).await {
        tracing::error!(%key, error = %e, "a decided settlement could not be written; the watcher will decide it again");
    }
    Some((s, Some((json, outcome_label(&o)))))
}

/// A failure after a transaction was sent that decides the payment (mined and
/// reverted, or without the expected transfer); anything else is pending.
fn is_final_failure(s: &Settlement) -> bool {
    matches!(
        s.reason,
        Some(
            Reason::ExactEvmTransactionFailed
                | Reason::UptoEvmTransactionFailed
                | Reason::ExactEvmTransferEventMismatch
        )
    ) && s.block_number.is_some()
}

/// `settlement_pending` naming the settlement's transaction.
fn pending(s: &Settlement, message: &str) -> String {
    Settlement {
        success: false,
        reason: Some(Reason::SettlementPending),
        message: Message::new(&message),
        block_number: None,
        gas_used: None,
        effective_gas_price: None,
        ..*s
    }
    .to_json_string()
}

/// Waits (until `deadline`) for the outcome of a settlement sent earlier, by
/// its transactions' receipts; sends nothing new.
async fn follow(
    inner: &Inner,
    chain: &Chain,
    req: &VerifyRequest<'_>,
    record: &Record,
    deadline: Instant,
) -> (String, String, String) {
    loop {
        if let Some(done) = inner
            .store
            .get(&record.key)
            .await
            .ok()
            .flatten()
            .filter(|r| r.state == State::Done)
        {
            let tx = latest_hash(&done.sent);
            return (done.result.unwrap_or_default(), "idempotent".into(), tx);
        }
        let account = record.signer.as_deref().and_then(|a| chain.account(a));
        for sent in record.sent.iter().rev() {
            let Ok(tx) = SentTransaction::from_json(sent.as_bytes()) else {
                continue;
            };
            let Some(account) = &account else { break };
            let options = paywire::settle::Options {
                max_receipt_polls: 1,
                ..chain.options
            };
            let mut m = Machine::resume(req, Signer::Host(account.address), &options, &tx, false);
            if let Some((_, Some((json, label)))) = settled(
                inner,
                &record.key,
                drive(&mut m, chain, None, deadline).await,
            )
            .await
            {
                return (json, label, tx.hash.to_string());
            }
        }
        if Instant::now() + Duration::from_millis(250) >= deadline {
            let tx = record
                .sent
                .last()
                .and_then(|s| SentTransaction::from_json(s.as_bytes()).ok());
            let s = Settlement {
                success: false,
                reason: Some(Reason::SettlementPending),
                message: Message::EMPTY,
                payer: PaymentId::of(req).ok().map(|id| id.payer),
                transaction: tx.map(|t| t.hash),
                network: Some(req.payment_requirements.network()),
                amount: None,
                block_number: None,
                gas_used: None,
                effective_gas_price: None,
            };
            return (
                pending(
                    &s,
                    "the transaction was sent and is not confirmed yet; ask again with the same body",
                ),
                "settlement_pending".into(),
                tx.map(|t| t.hash.to_string()).unwrap_or_default(),
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `GET /supported`: a kind per network and scheme (and the v1 name of
/// networks that have one), `upto` kinds naming a signer as
/// `extra.facilitatorAddress` (any of them is accepted), the signers by
/// network family.
pub(crate) fn supported_json(inner: &Inner) -> String {
    let mut chains: Vec<&Arc<Chain>> = inner.chains.values().collect();
    chains.sort_by_key(|c| c.chain_id);
    let mut solana: Vec<&Arc<super::svm::SolanaChain>> = inner.solana.values().collect();
    solana.sort_by(|a, b| a.network.cmp(&b.network));
    let mut out = Vec::new();
    let _ = (|| {
        let mut w = ObjectWriter::new(&mut out)?;
        w.key(JsonStr::new("kinds"))?;
        let s = w.sink();
        s.put(b"[")?;
        let mut first = true;
        for chain in &chains {
            let exact = chain
                .schemes
                .iter()
                .any(|m| matches!(m, SchemeConfig::ExactEip3009 | SchemeConfig::ExactPermit2));
            let upto = chain.schemes.contains(&SchemeConfig::Upto);
            let mut kind =
                |s: &mut dyn paywire::json::Sink,
                 version: u64,
                 scheme: &str,
                 network: &str,
                 extra: Option<(&str, paywire::evm::Address)>| {
                    if !first {
                        s.put(b",")?;
                    }
                    first = false;
                    let mut k = ObjectWriter::new(s)?;
                    k.u64_field("x402Version", version)?;
                    k.str_field("scheme", JsonStr::new(scheme))?;
                    k.str_field("network", JsonStr::new(network))?;
                    if let Some((name, address)) = extra {
                        k.key(JsonStr::new("extra"))?;
                        let mut x = ObjectWriter::new(k.sink())?;
                        x.field(name, &address)?;
                        x.end()?;
                    }
                    k.end()
                };
            if exact {
                kind(s, 2, "exact", chain.network.as_str(), None)?;
            }
            if upto {
                let extra = chain
                    .accounts
                    .first()
                    .map(|a| ("facilitatorAddress", a.address));
                kind(s, 2, "upto", chain.network.as_str(), extra)?;
            }
            if chain.schemes.contains(&SchemeConfig::BatchSettlement) {
                let extra = chain
                    .authorizer
                    .as_ref()
                    .map(|a| ("receiverAuthorizer", a.address));
                kind(s, 2, "batch-settlement", chain.network.as_str(), extra)?;
            }
            if let (true, Some(name)) = (
                chain.schemes.contains(&SchemeConfig::ExactEip3009),
                chain.network.v1_name(),
            ) {
                kind(s, 1, "exact", name, None)?;
            }
        }
        super::svm::write_kinds(&solana, s, &mut first)?;
        s.put(b"]")?;
        w.key(JsonStr::new("extensions"))?;
        let mut extensions = Vec::new();
        if inner.discovery.enabled {
            extensions.push("bazaar");
        }
        if chains.iter().any(|c| c.sponsor.is_some()) {
            extensions.push(paywire::gas_sponsoring::erc20_approval::ERC20_APPROVAL_GAS_SPONSORING);
        }
        let s = w.sink();
        s.put(b"[")?;
        for (i, e) in extensions.iter().enumerate() {
            if i > 0 {
                s.put(b",")?;
            }
            JsonStr::new(e).write_json(s)?;
        }
        s.put(b"]")?;
        w.key(JsonStr::new("signers"))?;
        let mut signers = ObjectWriter::new(w.sink())?;
        let fee_payers = super::svm::fee_payers(&solana);
        if !fee_payers.is_empty() {
            signers.key(JsonStr::new("solana:*"))?;
            super::svm::write_keys(&fee_payers, signers.sink())?;
        }
        if !chains.is_empty() {
            signers.key(JsonStr::new("eip155:*"))?;
            let s = signers.sink();
            s.put(b"[")?;
            let mut seen: Vec<paywire::evm::Address> = Vec::new();
            for chain in &chains {
                for a in &chain.accounts {
                    if !seen.contains(&a.address) {
                        if !seen.is_empty() {
                            s.put(b",")?;
                        }
                        a.address.write_json(s)?;
                        seen.push(a.address);
                    }
                }
            }
            s.put(b"]")?;
        }
        signers.end()?;
        w.end()
    })();
    String::from_utf8(out).unwrap_or_default()
}

/// Takes one settlement in flight up again: its transactions' receipts, a
/// broadcast again if no node knows it, a replacement if it is stuck.
/// How long the watcher spends on one settlement at a time.
const TAKE_UP: Duration = Duration::from_secs(30);

pub(crate) async fn take_up(inner: &Inner, record: &Record, watcher: &str) -> SettleSummary {
    let mut summary = SettleSummary {
        key: record.key.clone(),
        state: "pending".into(),
        transaction: latest_hash(&record.sent),
        detail: String::new(),
    };
    if record.key.starts_with(super::batch::KEY_PREFIX) {
        return super::batch::take_up(inner, record).await;
    }
    let Ok(req) = VerifyRequest::from_json_bytes(record.request.as_bytes(), &limits()) else {
        summary.detail = "its request cannot be read again".into();
        return summary;
    };
    let Some(chain) = chain_of(inner, &req) else {
        summary.detail = "its network is not served by this configuration".into();
        return summary;
    };
    let Some(account) = record.signer.as_deref().and_then(|a| chain.account(a)) else {
        summary.detail = "its signer is not in this configuration".into();
        return summary;
    };
    let txs: Vec<SentTransaction> = record
        .sent
        .iter()
        .filter_map(|s| SentTransaction::from_json(s.as_bytes()).ok())
        .collect();
    let Some(latest) = txs.last().copied() else {
        summary.detail = "no transaction recorded".into();
        return summary;
    };
    // Any of its transactions mined decides it (a replacement or the original).
    let quick = paywire::settle::Options {
        max_receipt_polls: 1,
        ..chain.options
    };
    for tx in txs.iter().rev() {
        let mut m = Machine::resume(&req, Signer::Host(account.address), &quick, tx, false);
        if let Some((s, Some(_))) = settled(
            inner,
            &record.key,
            drive(&mut m, &chain, None, Instant::now() + TAKE_UP).await,
        )
        .await
        {
            summary.state = if s.success { "settled" } else { "failed" }.into();
            summary.transaction = tx.hash.to_string();
            summary.detail = s.message.as_str().into();
            return summary;
        }
    }
    // Undecided: send the latest again (a node that lost it takes it back; one
    // that has it says so), or replace it once it has waited long enough.
    let age = now().saturating_sub(record.updated);
    let settling = Settling {
        store: inner.store.as_ref(),
        key: &record.key,
        owner: watcher,
        account: &account,
        allocate: false,
    };
    let replace = age >= chain.replace_after.as_secs();
    let mut m = if replace {
        summary.detail = "stuck: replaced at its nonce with higher fees".into();
        Machine::replace(&req, Signer::Host(account.address), &quick, &latest, 125)
    } else {
        summary.detail = "sent again".into();
        Machine::resume(&req, Signer::Host(account.address), &quick, &latest, true)
    };
    // A replacement is a new transaction: written before it leaves. The same
    // bytes sent again are already written.
    let driven = drive(
        &mut m,
        &chain,
        replace.then_some(&settling),
        Instant::now() + TAKE_UP,
    )
    .await;
    match settled(inner, &record.key, driven).await {
        Some((s, Some(_))) => {
            summary.state = if s.success { "settled" } else { "failed" }.into();
            summary.transaction = s.transaction.map(|h| h.to_string()).unwrap_or_default();
        }
        Some((s, None)) => {
            if let Some(h) = s.transaction {
                summary.transaction = h.to_string();
            }
        }
        None => {}
    }
    summary
}
