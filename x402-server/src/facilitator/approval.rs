//! Sponsored approvals for Permit2 (`erc20ApprovalGasSponsoring`): a payer
//! whose token has no allowance for Permit2 sends, with its Permit2 payment,
//! an `approve(Permit2, …)` transaction it signed; a network configured with
//! an `approval_sponsor` pays that transaction's gas and relays it before the
//! settlement.
//!
//! The core decides ([`Erc20Approval::check`], then
//! [`Erc20Approval::sponsorship`] from what the chain says about the payer);
//! this module asks the chain and sends. The order, for `/settle`, once the
//! payment's record is claimed (half the receipt wait is this step's, the
//! rest the settlement's):
//! 1. the approval held to the extension's rules (signed by the payer, for
//!    the token and this chain, approving at least the amount, gas limit at
//!    most 140,000) and the payment to the core's; a payment that also
//!    carries an `eip2612GasSponsoring` permit takes the permit's path;
//! 2. the approval's receipt, by its hash: mined with status 1 → settle; 0 →
//!    `erc20_approval_tx_failed`;
//! 3. the payer's allowance for Permit2, pending nonce and pending balance,
//!    and the base fee: enough allowance → settle; the nonce past the
//!    approval's → the approval is in flight (its receipt is awaited) or
//!    another transaction took the nonce (refused); a fee cap above the
//!    sponsor's, below the base fee, above twice the base fee and the chain's
//!    suggested tip, or a gas limit above the reference client's 70,000 →
//!    refused; the approval's nonce → relay it, after what `/verify` checks
//!    (the approval succeeds when simulated from the payer; the payer holds
//!    the amount):
//! 4. the sponsor sends the payer what its balance lacks of the approval's
//!    gas (`gas limit × maxFeePerGas`: a node takes a transaction only from an
//!    account holding that much), at most once per payer and day across
//!    every instance on the store (a record keyed by the payer and the day
//!    holds the approval's nonce and the funding's hash: an approval signed
//!    again at that nonce is topped up at most to its own cost; another is
//!    refused, by `/verify` too), and waits for it to be taken by the node
//!    (the next funding counts it) and mined;
//! 5. the signed approval is broadcast, and its receipt awaited;
//! 6. the settlement runs as for any Permit2 payment.
//!
//! Nothing here moves the payer's tokens: a failure before step 6 answers a
//! refusal (or `settlement_pending` while a transaction of steps 4–5 is not
//! mined), and the same payment presented again continues where the chain
//! stands. What the sponsor can lose: per payer and day, one funding of at
//! most 70,000 gas at the approval's fee cap — the payer keeps what the
//! approval does not burn, or all of it if it spends the funding on another
//! transaction at the approval's nonce. A payer's address costs nothing, so
//! an operator bounds the total by who may call `/settle` (its API keys) and
//! by the sponsor's balance. Only the tokens listed in the
//! network's `assets` are sponsored, and `/settle` answers only the
//! facilitator's API keys. Each funding is logged (payer, amount, hash) and
//! recorded in the store. The reference leaves this step to an operator's
//! signer (`sendTransactions`), which may bundle the transactions
//! atomically; this one sends them in turn. Not checked before funding: the
//! Permit2 nonce of the payment (the settlement after the approval finds a
//! used one, and the sponsor has paid for an approval that stays useful to
//! the payer).

use std::time::Instant;

use paywire::Reason;
use paywire::evm::tx::SignedTransaction;
use paywire::evm::{Address, B256, eip712::PERMIT2_ADDRESS};
use paywire::gas_sponsoring::erc20_approval::{self, Erc20Approval, PayerState, Sponsorship};
use paywire::rpc::{BlockTag, CallRequest, Request};
use paywire::settle::PaymentId;
use paywire::types::facilitator::{PaymentPayload, VerifyRequest};
use paywire::verify::Config;

use super::calls::{
    OnError, ask, known, pending_balance, prices, quantity, read_word, receipt, wait,
};
use super::{Account, Chain};
use crate::store::{Claim, Record, State, Store};

/// The signer that pays approvals' gas on a network.
#[derive(Debug)]
pub(crate) struct Sponsor {
    pub(crate) account: Account,
    /// The highest `maxFeePerGas` of an approval it pays for.
    pub(crate) max_fee_per_gas: u128,
    /// One funding at a time from this account (its nonce is the node's
    /// pending count, and a payer's balance is read again under it).
    lock: tokio::sync::Mutex<()>,
}

impl Sponsor {
    pub(crate) fn new(account: Account, max_fee_per_gas: u128) -> Sponsor {
        Sponsor {
            account,
            max_fee_per_gas,
            lock: tokio::sync::Mutex::new(()),
        }
    }
}

/// A refusal: the reason and why.
pub(crate) type Refusal = (Reason, String);

/// The approval a Permit2 payment (`exact` or `upto`) carries, on a
/// network that sponsors approvals, held to the extension's rules
/// ([`Erc20Approval::check`]: signed by the payer, for the token and this
/// chain, `approve(Permit2, ≥ the amount)`, gas limit and tip bounded) and
/// the rest of the payment to the core's verification (`Err`: refused).
/// `None`: nothing to sponsor — no sponsor here, not a Permit2 payment, no
/// approval, or an `eip2612GasSponsoring` permit beside it (the permit path,
/// which costs the sponsor nothing, decides) — and the payment takes the
/// ordinary path.
pub(crate) fn carried(
    chain: &Chain,
    req: &VerifyRequest<'_>,
    now: u64,
) -> Option<Result<(Erc20Approval, PaymentId), Refusal>> {
    chain.sponsor.as_ref()?;
    let id = PaymentId::of(req).ok().filter(|id| id.permit2)?;
    let PaymentPayload::V2(p) = &req.payment_payload else {
        return None;
    };
    let extensions = p.extensions?.as_json()?;
    if extensions
        .get(paywire::gas_sponsoring::EIP2612_GAS_SPONSORING)
        .is_some()
    {
        return None;
    }
    let approval = match erc20_approval::read(extensions)? {
        Ok(a) => a,
        Err(r) => return Some(Err((r, String::new()))),
    };
    if let Err(r) = approval.check(&id.payer, &id.asset, id.chain_id, &id.amount) {
        return Some(Err((
            r,
            "the erc20ApprovalGasSponsoring extension does not hold for this payment".into(),
        )));
    }
    let addresses: Vec<Address> = chain.accounts.iter().map(|a| a.address).collect();
    let config = Config {
        facilitator_addresses: &addresses,
        smart_wallets: false,
        erc20_approval_sponsoring: true,
    };
    let verdict = paywire::verify::verify(req, now, &config);
    if let Some(reason) = verdict.reason {
        return Some(Err((reason, verdict.message.as_str().to_string())));
    }
    Some(Ok((approval, id)))
}

/// What `/verify` answers for a payment carrying an approval to sponsor.
pub(crate) enum Verified {
    /// Permit2 may move the amount already: the ordinary verification
    /// (which simulates the settlement) decides.
    Ordinary,
    /// Valid: the approval is relayable (or in flight), and the payer holds
    /// the amount.
    Valid,
    /// Refused.
    Invalid(Refusal),
}

/// The chain's checks of a payment carrying an approval (sends nothing):
/// the approval's nonce is the payer's next one, its fee within the
/// sponsor's, the approval succeeds when simulated from the payer, and the
/// payer holds the amount.
pub(crate) async fn verify(
    chain: &Chain,
    store: &dyn Store,
    approval: &Erc20Approval,
    id: &PaymentId,
    deadline: Instant,
) -> Verified {
    match check(chain, store, approval, id, deadline).await {
        Ok(true) => Verified::Valid,
        Ok(false) => Verified::Ordinary,
        Err(r) => Verified::Invalid(r),
    }
}

async fn check(
    chain: &Chain,
    store: &dyn Store,
    approval: &Erc20Approval,
    id: &PaymentId,
    deadline: Instant,
) -> Result<bool, Refusal> {
    let (sponsor, tx) = parts(chain, approval)?;
    let state = payer_state(chain, id, deadline).await?;
    let (base, tip) = prices(chain, deadline)
        .await
        .map_err(|e| (Reason::UnexpectedVerifyError, e))?;
    match approval
        .sponsorship(&id.amount, &state, base, tip, sponsor.max_fee_per_gas)
        .map_err(|r| (r, not_sponsorable(r, sponsor)))?
    {
        Sponsorship::Approved => Ok(false),
        Sponsorship::InFlight => {
            if !known(chain, tx.hash(), deadline)
                .await
                .map_err(|e| (Reason::UnexpectedSettleError, e))?
            {
                return Err(nonce_taken());
            }
            holds_amount(chain, id, deadline).await?;
            Ok(true)
        }
        Sponsorship::Relay { fund } => {
            relayable(chain, &tx, id, deadline).await?;
            if fund > 0 {
                funding_free(store, chain, &tx, id).await?;
            }
            Ok(true)
        }
    }
}

/// What must hold before the sponsor pays for anything: the approval
/// succeeds when simulated from the payer, and the payer holds the amount.
async fn relayable(
    chain: &Chain,
    tx: &SignedTransaction<'_>,
    id: &PaymentId,
    deadline: Instant,
) -> Result<(), Refusal> {
    let call = CallRequest {
        from: Some(id.payer),
        to: id.asset,
        data: tx.tx.data,
        gas: Some(tx.tx.gas_limit),
    };
    let answer = ask(
        chain,
        Request::Call {
            call,
            block: BlockTag::Latest,
        },
        deadline,
        |r| r.map(|_| ()),
    )
    .await
    .map_err(|e| (Reason::UnexpectedVerifyError, e))?;
    if let Err(e) = answer {
        return Err((
            Reason::Erc20ApprovalTxFailed,
            format!("the approval reverts when simulated from the payer: {e}"),
        ));
    }
    holds_amount(chain, id, deadline).await
}

async fn holds_amount(chain: &Chain, id: &PaymentId, deadline: Instant) -> Result<(), Refusal> {
    let balance = read_word(
        chain,
        id.asset,
        &paywire::evm::abi::balance_of(&id.payer),
        deadline,
    )
    .await
    .map_err(|e| (Reason::UnexpectedVerifyError, format!("balanceOf: {e}")))?;
    if balance < id.amount {
        return Err((
            Reason::Permit2InsufficientBalance,
            "the payer holds less than the amount".into(),
        ));
    }
    Ok(())
}

/// Brings the payer's approval on chain (funding its gas when the payer's
/// balance lacks it), so that the settlement that follows can move the
/// payment. `Ok` once Permit2 may move it (or the approval is mined).
/// `owner` is the settling request (it holds the funding record it claims).
pub(crate) async fn prepare(
    chain: &Chain,
    store: &dyn Store,
    owner: &str,
    approval: &Erc20Approval,
    id: &PaymentId,
    deadline: Instant,
) -> Result<(), Refusal> {
    let (sponsor, tx) = parts(chain, approval)?;
    let hash = tx.hash();
    let unexpected = |e: String| (Reason::UnexpectedSettleError, e);
    if let Some(mined) = receipt(chain, hash, deadline).await.map_err(unexpected)? {
        return mined_ok(mined.status, hash);
    }
    let state = payer_state(chain, id, deadline).await?;
    let (base, tip) = prices(chain, deadline).await.map_err(unexpected)?;
    let fund = match approval
        .sponsorship(&id.amount, &state, base, tip, sponsor.max_fee_per_gas)
        .map_err(|r| (r, not_sponsorable(r, sponsor)))?
    {
        Sponsorship::Approved => return Ok(()),
        Sponsorship::InFlight => {
            if !known(chain, hash, deadline)
                .await
                .map_err(|e| (Reason::UnexpectedSettleError, e))?
            {
                return Err(nonce_taken());
            }
            return await_approval(chain, hash, deadline).await;
        }
        Sponsorship::Relay { fund } => fund,
    };
    // What /verify checked, again: /settle may come without it.
    relayable(chain, &tx, id, deadline).await?;
    if fund > 0 {
        fund_payer(chain, store, owner, sponsor, &tx, id, deadline).await?;
    }
    let Some(raw) = approval.signed_transaction() else {
        return Err((Reason::Erc20ApprovalTxParseFailed, String::new()));
    };
    let sent = ask(chain, Request::SendRawBytes { raw }, deadline, |r| {
        r.map(|_| ())
    })
    .await
    .map_err(|e| (Reason::Erc20ApprovalBroadcastFailed, e))?;
    if let Err(e) = sent
        && !known(chain, hash, deadline)
            .await
            .map_err(|e| (Reason::UnexpectedSettleError, e))?
    {
        return Err((
            Reason::Erc20ApprovalBroadcastFailed,
            format!("the node refused the approval: {e}"),
        ));
    }
    tracing::info!(network = %chain.network, payer = %id.payer, transaction = %hash, "approval relayed");
    await_approval(chain, hash, deadline).await
}

/// The sponsor and the approval's transaction.
fn parts<'a>(
    chain: &'a Chain,
    approval: &'a Erc20Approval,
) -> Result<(&'a Sponsor, SignedTransaction<'a>), Refusal> {
    let sponsor = chain.sponsor.as_ref().ok_or((
        Reason::UnexpectedSettleError,
        "this network sponsors no approvals".to_string(),
    ))?;
    let tx = approval
        .transaction()
        .ok_or((Reason::Erc20ApprovalTxParseFailed, String::new()))?;
    Ok((sponsor, tx))
}

fn not_sponsorable(r: Reason, sponsor: &Sponsor) -> String {
    if r == Reason::Erc20ApprovalTxNotSponsorable {
        format!(
            "the approval's nonce is not the payer's next one, or its maxFeePerGas is above the {} wei this facilitator pays",
            sponsor.max_fee_per_gas
        )
    } else {
        String::new()
    }
}

fn nonce_taken() -> Refusal {
    (
        Reason::Erc20ApprovalTxNotSponsorable,
        "another transaction of the payer took the approval's nonce".into(),
    )
}

fn mined_ok(status: bool, hash: B256) -> Result<(), Refusal> {
    if status {
        Ok(())
    } else {
        Err((
            Reason::Erc20ApprovalTxFailed,
            format!("the approval {hash} was mined and reverted"),
        ))
    }
}

async fn await_approval(chain: &Chain, hash: B256, deadline: Instant) -> Result<(), Refusal> {
    match wait(chain, hash, deadline, OnError::Stop).await {
        Ok(Some(mined)) => mined_ok(mined.status, hash),
        Ok(None) => Err((
            Reason::SettlementPending,
            format!(
                "the payer's approval {hash} is sent and not mined yet; the payment is not settled; ask again"
            ),
        )),
        Err(e) => Err((Reason::UnexpectedSettleError, e)),
    }
}

/// The store key of a payer's sponsored funding on a chain, per UTC day:
/// one funding per payer and day, shared by every instance on the store.
fn funding_key(chain_id: u64, payer: &Address, now: u64) -> String {
    format!(
        "approval-funding/{chain_id}/{}/{}",
        payer.to_string().to_ascii_lowercase(),
        now / 86_400
    )
}

/// What a funding record is for: the approval's nonce (an approval signed
/// again at the same nonce, with other fees, is the same funding's, topped
/// up at most to its own cost).
fn funding_fingerprint(approval: &SignedTransaction<'_>) -> String {
    format!("nonce:{}", approval.tx.nonce)
}

/// `/verify`'s view of the day's funding: refused when another approval of
/// the payer was funded today (as `/settle` would refuse it).
async fn funding_free(
    store: &dyn Store,
    chain: &Chain,
    approval: &SignedTransaction<'_>,
    id: &PaymentId,
) -> Result<(), Refusal> {
    let key = funding_key(chain.chain_id, &id.payer, super::now());
    match store.get(&key).await {
        Ok(Some(r)) if r.fingerprint != funding_fingerprint(approval) => Err(funded_today()),
        Ok(_) => Ok(()),
        Err(e) => Err((
            Reason::UnexpectedVerifyError,
            format!("the approval's funding record cannot be read ({e})"),
        )),
    }
}

fn funded_today() -> Refusal {
    (
        Reason::Erc20ApprovalTxNotSponsorable,
        "this payer's approval gas was funded today already (one sponsored approval per payer and day)".into(),
    )
}

/// Sends the payer what its pending balance lacks of the approval's gas,
/// from the sponsor, and waits for it to be mined. At most one funding per
/// payer and day (a record of the store, keyed by the payer and the day,
/// holding the approval's hash and the funding's): the same approval
/// presented again waits for that funding (or, when the node no longer
/// knows it, sends it again); another approval of that payer that day is
/// refused.
async fn fund_payer(
    chain: &Chain,
    store: &dyn Store,
    owner: &str,
    sponsor: &Sponsor,
    approval: &SignedTransaction<'_>,
    id: &PaymentId,
    deadline: Instant,
) -> Result<(), Refusal> {
    let unexpected = |e: String| (Reason::UnexpectedSettleError, e);
    let until = tokio::time::Instant::from_std(deadline);
    let Ok(guard) = tokio::time::timeout_at(until, sponsor.lock.lock()).await else {
        return Err((
            Reason::SettlementPending,
            "the approval sponsor is busy; nothing was sent; ask again".into(),
        ));
    };
    // Read again under the lock: the approval may have left meanwhile, and a
    // funding sent meanwhile counts.
    let nonce = quantity(
        chain,
        Request::GetTransactionCount {
            address: id.payer,
            block: BlockTag::Pending,
        },
        deadline,
    )
    .await
    .map_err(unexpected)?;
    if nonce != u128::from(approval.tx.nonce) {
        return Ok(());
    }
    let cost = u128::from(approval.tx.gas_limit).saturating_mul(approval.tx.max_fee_per_gas);
    let balance = pending_balance(chain, id.payer, deadline)
        .await
        .map_err(unexpected)?;
    let fund = cost.saturating_sub(balance).min(
        u128::from(erc20_approval::MAX_APPROVE_GAS_LIMIT).saturating_mul(sponsor.max_fee_per_gas),
    );
    if fund == 0 {
        return Ok(());
    }
    // An account with code (a contract, or a delegated EOA) may run code
    // when paid: a plain transfer's gas is not enough to be sure of.
    let empty = ask(
        chain,
        Request::GetCode {
            address: id.payer,
            block: BlockTag::Latest,
        },
        deadline,
        |r| r.map(paywire::rpc::data_is_empty),
    )
    .await
    .and_then(|r| r)
    .map_err(unexpected)?;
    if empty != Some(true) {
        return Err((
            Reason::Erc20ApprovalTxNotSponsorable,
            "the payer's account has code: its approval's gas is not funded".into(),
        ));
    }
    // The payer's funding of the day: this request's to send, or an earlier
    // one's for this same approval.
    let fingerprint = funding_fingerprint(approval);
    let key = funding_key(chain.chain_id, &id.payer, super::now());
    let record = Record {
        key: key.clone(),
        fingerprint: fingerprint.clone(),
        request: String::new(),
        state: State::Claimed,
        owner: owner.to_owned(),
        lease_until: super::now() + chain.receipt_timeout.as_secs() + 15,
        signer: Some(sponsor.account.address.to_string()),
        nonce: None,
        sent: Vec::new(),
        result: None,
        network: chain.network.as_str().to_owned(),
        payer: id.payer.to_string(),
        amount: fund.to_string(),
        created: super::now(),
        updated: super::now(),
    };
    let unavailable = |e: crate::store::StoreError| {
        (
            Reason::FacilitatorUnavailable,
            format!("the approval's funding record cannot be written ({e}); nothing was sent"),
        )
    };
    let fund = match store
        .claim(&record, super::now())
        .await
        .map_err(unavailable)?
    {
        Claim::Claimed => fund,
        Claim::Existing(r) if r.fingerprint != fingerprint => return Err(funded_today()),
        Claim::Existing(r) => {
            // The funding of an approval at this nonce, by an earlier
            // request. Still short now (read above, the earlier funding
            // counted while the node has it): the approval was signed again
            // at higher fees, or the earlier funding was dropped; what is
            // sent tops the payer up to this approval's cost, no more.
            if r.state == State::Claimed {
                return Err((
                    Reason::SettlementPending,
                    "another request is funding this approval's gas; ask again".into(),
                ));
            }
            // Read once more: that funding may have left (another instance)
            // after the balance above was read.
            let balance = pending_balance(chain, id.payer, deadline)
                .await
                .map_err(unexpected)?;
            let top_up = cost.saturating_sub(balance).min(fund);
            if top_up == 0 {
                return Ok(());
            }
            top_up
        }
    };
    let sent = send_funding(chain, sponsor, id, fund, deadline).await;
    let hash = match sent {
        Ok(h) => h,
        Err(e) => {
            // Nothing left: the day's funding stays free for a retry.
            let _ = store.release(&key, owner).await;
            return Err(e);
        }
    };
    if let Err(e) = store.finish(&key, &hash.to_string(), super::now()).await {
        tracing::error!(key = %key, transaction = %hash, error = %e, "an approval's funding could not be recorded");
    }
    // The node has it (a later funding counts it in the payer's pending
    // balance): others need not wait for it to be mined.
    drop(guard);
    tracing::info!(
        network = %chain.network,
        payer = %id.payer,
        wei = %fund,
        transaction = %hash,
        sponsor = %sponsor.account.address,
        "approval gas funded"
    );
    await_funding(chain, hash, deadline).await
}

/// Signs and sends the sponsor's transfer of `fund` wei to the payer: its
/// hash once the node took it.
async fn send_funding(
    chain: &Chain,
    sponsor: &Sponsor,
    id: &PaymentId,
    fund: u128,
    deadline: Instant,
) -> Result<B256, Refusal> {
    let unexpected = |e: String| (Reason::UnexpectedSettleError, e);
    let from = sponsor.account.address;
    let nonce = quantity(
        chain,
        Request::GetTransactionCount {
            address: from,
            block: BlockTag::Pending,
        },
        deadline,
    )
    .await
    .map_err(unexpected)?;
    let nonce = u64::try_from(nonce)
        .map_err(|_| unexpected("eth_getTransactionCount: too large".into()))?;
    let (base, tip) = prices(chain, deadline).await.map_err(unexpected)?;
    let until = tokio::time::Instant::from_std(deadline);
    let signed = tokio::time::timeout_at(
        until,
        super::signed_transfer(chain, &sponsor.account, id.payer, fund, nonce, base, tip),
    )
    .await
    .map_err(|_| unexpected("the approval sponsor's signer did not answer in time".into()))?
    .map_err(|e| unexpected(format!("the approval sponsor's signer failed: {e}")))?;
    let hash = signed.hash();
    let sent = ask(
        chain,
        Request::SendRawTransaction { tx: signed },
        deadline,
        |r| r.map(|_| ()),
    )
    .await
    .map_err(unexpected)?;
    if let Err(e) = sent
        && !known(chain, hash, deadline)
            .await
            .map_err(|e| (Reason::UnexpectedSettleError, e))?
    {
        return Err(unexpected(format!(
            "the node refused the approval's gas funding: {e}"
        )));
    }
    Ok(hash)
}

async fn await_funding(chain: &Chain, hash: B256, deadline: Instant) -> Result<(), Refusal> {
    match wait(chain, hash, deadline, OnError::Stop).await {
        Ok(Some(mined)) if mined.status => Ok(()),
        Ok(Some(_)) => Err((
            Reason::UnexpectedSettleError,
            format!("the approval's gas funding {hash} reverted"),
        )),
        Ok(None) => Err((
            Reason::SettlementPending,
            format!(
                "the approval's gas funding {hash} is not mined yet; the payment is not settled; ask again"
            ),
        )),
        Err(e) => Err((Reason::UnexpectedSettleError, e)),
    }
}

/// The payer's allowance for Permit2, pending nonce and pending balance.
async fn payer_state(
    chain: &Chain,
    id: &PaymentId,
    deadline: Instant,
) -> Result<PayerState, Refusal> {
    let unexpected = |e: String| (Reason::UnexpectedVerifyError, e);
    let calldata = paywire::evm::abi::allowance(&id.payer, &PERMIT2_ADDRESS);
    let allowance = read_word(chain, id.asset, &calldata, deadline)
        .await
        .map_err(|e| unexpected(format!("allowance: {e}")))?;
    let nonce = quantity(
        chain,
        Request::GetTransactionCount {
            address: id.payer,
            block: BlockTag::Pending,
        },
        deadline,
    )
    .await
    .map_err(unexpected)?;
    let balance = pending_balance(chain, id.payer, deadline)
        .await
        .map_err(unexpected)?;
    Ok(PayerState {
        allowance,
        pending_nonce: u64::try_from(nonce)
            .map_err(|_| unexpected("the payer's nonce is too large".into()))?,
        balance,
    })
}
