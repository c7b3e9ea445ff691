//! The work no request waits for: settlements sent but undecided (a request
//! that answered `settlement_pending`, an instance that stopped) taken up
//! again until their receipts decide them; signers' balances against the
//! configured minimum; nonces left unused below transactions that wait for
//! them, filled.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use paywire::evm::B256;
use paywire::json::ToJson;
use paywire::rpc::{self, BlockTag, Envelope, Request};

use super::settle::{SettleSummary, take_up};
use super::{Account, Chain, Inner, metrics, now};

/// How often the watcher looks.
const TICK: Duration = Duration::from_secs(1);
/// How often balances are read.
const BALANCE_EVERY: u64 = 15;

/// Runs until the facilitator stops.
pub(crate) async fn run(inner: Arc<Inner>) {
    let owner = format!("{}/watcher", inner.instance);
    let mut ticks: u64 = 0;
    loop {
        if inner.stopping.load(Ordering::SeqCst) {
            return;
        }
        if ticks.is_multiple_of(BALANCE_EVERY) {
            balances(&inner).await;
        }
        ticks = ticks.wrapping_add(1);
        in_flight(&inner, &owner, false).await;
        abandoned(&inner).await;
        gaps(&inner).await;
        tokio::time::sleep(TICK).await;
    }
}

/// `paywire facilitator reconcile`: every settlement in flight, taken up once now.
pub(crate) async fn reconcile(inner: &Inner) -> Result<Vec<SettleSummary>, String> {
    let owner = format!("{}/reconcile", inner.instance);
    Ok(in_flight(inner, &owner, true).await)
}

/// Takes up the settlements in flight that no request is waiting on.
async fn in_flight(inner: &Inner, owner: &str, all: bool) -> Vec<SettleSummary> {
    let records = match inner.store.in_flight().await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "the store cannot list settlements in flight");
            return Vec::new();
        }
    };
    let mut pending_by_network = std::collections::HashMap::<String, i64>::new();
    for r in &records {
        *pending_by_network.entry(r.network.clone()).or_default() += 1;
    }
    for chain in inner.chains.values() {
        let n = pending_by_network
            .get(chain.network.as_str())
            .copied()
            .unwrap_or(0);
        inner
            .metrics
            .pending
            .get_or_create(&metrics::Net {
                network: chain.network.as_str().into(),
            })
            .set(n);
    }
    let mut out = Vec::new();
    let t = now();
    for r in records {
        let quiet = chain_for(inner, &r.network).map_or(30, |c| c.receipt_timeout.as_secs() + 2);
        // A request may still be waiting on it: leave it that long.
        if !all && t.saturating_sub(r.updated) < quiet {
            continue;
        }
        match inner.store.lease(&r.key, owner, t + 60, t).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(key = %r.key, error = %e, "cannot lease a settlement in flight");
                continue;
            }
        }
        let summary = if r.network.starts_with("solana:") {
            super::svm::take_up(inner, &r).await
        } else {
            take_up(inner, &r, owner).await
        };
        tracing::info!(
            key = %summary.key,
            state = %summary.state,
            transaction = %summary.transaction,
            detail = %summary.detail,
            "settlement in flight"
        );
        out.push(summary);
    }
    out
}

/// Claims whose holders stopped before sending anything (a process killed
/// mid-request): released, their nonces given back, the payments
/// presentable again.
async fn abandoned(inner: &Inner) {
    let Ok(claims) = inner.store.expired_claims(now()).await else {
        return;
    };
    for r in claims {
        match inner.store.release(&r.key, &r.owner).await {
            Ok(()) => {
                tracing::info!(key = %r.key, owner = %r.owner, nonce = ?r.nonce, "released an abandoned claim")
            }
            Err(e) => tracing::warn!(key = %r.key, error = %e, "cannot release an abandoned claim"),
        }
    }
}

fn chain_for<'a>(inner: &'a Inner, network: &str) -> Option<&'a Arc<Chain>> {
    inner
        .chains
        .values()
        .find(|c| c.network.as_str() == network)
}

/// Reads every signer's balance; one below its network's minimum settles
/// nothing there until topped up.
async fn balances(inner: &Inner) {
    for chain in inner.chains.values() {
        for a in &chain.accounts {
            match chain.rpc.balance(&a.address).await {
                Ok(wei) => {
                    let funded = chain.min_gas_balance.is_none_or(|min| wei >= min);
                    if a.funded.swap(funded, Ordering::Relaxed) != funded {
                        tracing::warn!(
                            network = %chain.network.as_str(),
                            signer = %a.address,
                            balance_wei = %wei,
                            funded,
                            "signer balance crossed the minimum"
                        );
                    }
                    let labels = metrics::Account {
                        network: chain.network.as_str().into(),
                        signer: a.address.to_string(),
                    };
                    #[allow(clippy::cast_precision_loss)]
                    inner
                        .metrics
                        .gas_balance
                        .get_or_create(&labels)
                        .set(wei as f64 / 1e18);
                    inner.metrics.nonce.get_or_create(&labels).set(
                        i64::try_from(a.next_nonce.load(Ordering::Relaxed)).unwrap_or(i64::MAX),
                    );
                }
                Err(e) => {
                    tracing::warn!(network = %chain.network.as_str(), signer = %a.address, error = %e, "balance unknown")
                }
            }
        }
    }
}

/// Nonces given back (their transactions never left) while later ones were
/// sent: those wait for them; a transfer of nothing to itself fills each.
async fn gaps(inner: &Inner) {
    let Ok(records) = inner.store.in_flight().await else {
        return;
    };
    for chain in inner.chains.values() {
        for a in &chain.accounts {
            let signer = a.address.to_string();
            let Ok(released) = inner.store.released_nonces(chain.chain_id, &signer).await else {
                continue;
            };
            let Some(&lowest) = released.first() else {
                continue;
            };
            let waiting = records.iter().any(|r| {
                r.signer
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(&signer))
                    && r.nonce.is_some_and(|n| n > lowest)
            });
            if !waiting {
                continue;
            }
            let Ok(pending) = chain
                .rpc
                .transaction_count(&a.address, BlockTag::Pending)
                .await
            else {
                continue;
            };
            let Ok(nonce) = inner
                .store
                .next_nonce(chain.chain_id, &signer, pending, None)
                .await
            else {
                continue;
            };
            match fill(chain, a, nonce).await {
                Ok(hash) => tracing::warn!(
                    network = %chain.network.as_str(),
                    signer = %signer,
                    nonce,
                    transaction = %hash,
                    "filled an unused nonce that held later settlements back"
                ),
                Err(e) => {
                    let _ = inner
                        .store
                        .release_nonce(chain.chain_id, &signer, nonce)
                        .await;
                    tracing::warn!(network = %chain.network.as_str(), signer = %signer, nonce, error = %e, "could not fill an unused nonce");
                }
            }
        }
    }
}

/// Sends a transfer of nothing from `a` to itself at `nonce`.
async fn fill(chain: &Chain, a: &Account, nonce: u64) -> Result<B256, String> {
    let header_body = Envelope {
        id: 1,
        request: Request::GetBlockByNumber {
            block: BlockTag::Latest,
        },
    }
    .to_json_string();
    let answer = chain
        .rpc
        .call(&header_body)
        .await
        .map_err(|e| e.to_string())?;
    let resp = rpc::parse_response(&answer).map_err(|e| e.to_string())?;
    let header = rpc::BlockHeader::from_json(resp.result.map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let base = header.base_fee_per_gas.ok_or("the chain has no base fee")?;
    let tip = chain.options.priority_fee_per_gas.unwrap_or(1_000_000_000);
    let signed = super::signed_transfer(chain, a, a.address, 0, nonce, base, tip).await?;
    let body = Envelope {
        id: 1,
        request: Request::SendRawTransaction { tx: signed },
    }
    .to_json_string();
    let answer = chain.rpc.call(&body).await.map_err(|e| e.to_string())?;
    let resp = rpc::parse_response(&answer).map_err(|e| e.to_string())?;
    resp.result.map_err(|e| e.to_string())?;
    Ok(B256(signed.hash().0))
}
