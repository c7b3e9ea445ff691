//! Driving the core's settle machine over a chain's RPC endpoints: the calls
//! it asks for go to the node, except two that the facilitator answers or
//! guards itself — the account nonce comes from the store's allocator (the
//! machine asks for it only once the simulation passed, so a refused payment
//! never takes one), and a signed transaction is written to the store before
//! it leaves.

use std::time::{Duration, Instant};

use paywire::evm::B256;
use paywire::json::ToJson;
use paywire::settle::{Machine, Outcome, Step};

use super::Account;
use super::Chain;
use crate::store::{Holder, Store};

/// What a drive came to.
#[derive(Debug)]
pub(crate) enum Driven {
    /// The machine's outcome.
    Outcome(Box<Outcome>),
    /// It stopped before anything was sent (no endpoint reachable, the store
    /// failed, the claim was lost, the deadline came): nothing can have been
    /// settled.
    Unsent(String),
    /// The deadline came after this transaction was sent and before its
    /// receipt decided anything: pending.
    Unconfirmed(B256),
}

/// Where a settlement drive writes what it does.
pub(crate) struct Settling<'a> {
    pub(crate) store: &'a dyn Store,
    pub(crate) key: &'a str,
    pub(crate) owner: &'a str,
    pub(crate) account: &'a Account,
    /// Hand out the account's nonce when the machine asks (a new settlement),
    /// or let the node answer (a transaction taken up again knows its own).
    pub(crate) allocate: bool,
}

/// How often a malformed answer is asked again before giving up.
const RETRIES: u32 = 3;

/// Runs `m` to its end over `chain`'s endpoints, or until `deadline`.
/// `settling` is `None` for a verification (which sends nothing).
pub(crate) async fn drive(
    m: &mut Machine,
    chain: &Chain,
    settling: Option<&Settling<'_>>,
    deadline: Instant,
) -> Driven {
    let mut sent = false;
    let mut malformed = 0u32;
    // What the deadline makes of the drive where it stands.
    let late = |m: &Machine, sent: bool| match (sent, m.sent_transaction()) {
        (true, Some(tx)) => Driven::Unconfirmed(tx.hash),
        _ => Driven::Unsent("the request's deadline came first".into()),
    };
    let until = tokio::time::Instant::from_std(deadline);
    let outcome = loop {
        let (body, method, id, delay) = match m.step() {
            Step::Done(o) => break Driven::Outcome(Box::new(*o)),
            Step::Sign(req) => {
                let Some(s) = settling else {
                    break Driven::Unsent("a verification asked for a signature".into());
                };
                let Ok(signed) =
                    tokio::time::timeout_at(until, s.account.signer.sign_hash(req.hash)).await
                else {
                    break late(m, sent);
                };
                match signed {
                    Ok(sig) => {
                        if let Err(e) = m.feed_signature(&sig) {
                            break Driven::Unsent(format!(
                                "the signer's signature was refused: {e}"
                            ));
                        }
                        continue;
                    }
                    Err(e) => break Driven::Unsent(format!("the signer failed: {e}")),
                }
            }
            Step::Call(c) => (c.to_json_string(), c.method(), c.envelope.id, c.delay_ms),
        };
        if delay > 0 {
            let wake = Instant::now() + Duration::from_millis(u64::from(delay));
            if wake >= deadline {
                break late(m, sent);
            }
            tokio::time::sleep_until(tokio::time::Instant::from_std(wake)).await;
        }
        let answer = match (method, settling) {
            ("eth_getTransactionCount", Some(s)) if s.allocate => {
                let Ok(allocation) = tokio::time::timeout_at(until, nonce(chain, s, &body)).await
                else {
                    break late(m, sent);
                };
                match allocation {
                    Ok(n) => Ok(
                        format!(r#"{{"jsonrpc":"2.0","id":{id},"result":"0x{n:x}"}}"#).into_bytes(),
                    ),
                    Err(e) => break Driven::Unsent(e),
                }
            }
            ("eth_sendRawTransaction", Some(s)) => {
                let Some(tx) = m.sent_transaction() else {
                    break Driven::Unsent("nothing signed to send".into());
                };
                let written = s
                    .store
                    .record_sent(
                        s.key,
                        s.owner,
                        &s.account.address.to_string(),
                        tx.nonce,
                        &tx.to_json_string(),
                        super::now(),
                    )
                    .await;
                match written {
                    Ok(true) => {}
                    Ok(false) if sent => {}
                    Ok(false) => {
                        break Driven::Unsent("another request took the payment over".into());
                    }
                    Err(e) => break Driven::Unsent(e.to_string()),
                }
                sent = true;
                let Ok(broadcast) =
                    tokio::time::timeout_at(until, chain.rpc.call_traced(&body)).await
                else {
                    break late(m, sent);
                };
                match broadcast {
                    // A refusal by one node, after another may have taken the
                    // transaction, proves nothing: read it as no answer (the
                    // machine then waits for a receipt).
                    Ok((answer, true)) if is_rpc_error(&answer) => Err(crate::rpc::RpcFailure::NoAnswer(
                        "an endpoint that may have taken the transaction gave no answer; the next one refused it"
                            .into(),
                    )),
                    Ok((answer, _)) => Ok(answer.to_vec()),
                    Err(f) => Err(f),
                }
            }
            // Checked against every endpoint at start.
            ("eth_chainId", _) if chain.ids_checked => Ok(format!(
                r#"{{"jsonrpc":"2.0","id":{id},"result":"0x{:x}"}}"#,
                chain.chain_id
            )
            .into_bytes()),
            ("eth_getCode", _) => {
                let address = code_address(&body);
                match address.as_deref().and_then(|a| cached_code(chain, a)) {
                    Some(result) => Ok(answer_with(id, &result)),
                    None => match tokio::time::timeout_at(until, chain.rpc.call(&body)).await {
                        Ok(answer) => answer.map(|b| {
                            if let Some(a) = address {
                                remember_code(chain, a, &b);
                            }
                            b.to_vec()
                        }),
                        Err(_) => break late(m, sent),
                    },
                }
            }
            _ => match tokio::time::timeout_at(until, chain.rpc.call(&body)).await {
                Ok(answer) => answer.map(|b| b.to_vec()),
                Err(_) => break late(m, sent),
            },
        };
        let bytes = match answer {
            Ok(b) => b,
            Err(f) if !sent && m.sent_transaction().is_none() => {
                break Driven::Unsent(f.to_string());
            }
            // After the broadcast (or with it in doubt) the outcome is on
            // chain: the machine reads the failure as an error answer and
            // ends naming the transaction, which is then pending.
            Err(f) => {
                let escaped = serde_json::to_string(&f.to_string()).unwrap_or_default();
                format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32603,"message":{escaped}}}}}"#
                )
                .into_bytes()
            }
        };
        match m.feed(&bytes) {
            Ok(()) => malformed = 0,
            Err(e) => {
                malformed += 1;
                if malformed > RETRIES {
                    if sent {
                        let msg = serde_json::to_string(&format!("unreadable answers: {e}"))
                            .unwrap_or_default();
                        let _ = m.feed(
                            format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32603,"message":{msg}}}}}"#)
                                .as_bytes(),
                        );
                        malformed = 0;
                        continue;
                    }
                    break Driven::Unsent(format!("{method}: unreadable answers ({e})"));
                }
                if Instant::now() + Duration::from_millis(200) >= deadline {
                    break late(m, sent);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    // A transaction the node refused outright never left: its record goes,
    // and its nonce with it (the payment may be presented again). A nonce
    // taken for a transaction that was not sent lives in the claim, which
    // the caller releases.
    let refused = sent
        && matches!(&outcome, Driven::Outcome(o) if matches!(**o, Outcome::Settled(ref st) if st.transaction.is_none()));
    if refused
        && let Some(s) = settling.filter(|s| s.allocate)
        && let Err(e) = s.store.withdraw(s.key, s.owner).await
    {
        tracing::error!(key = s.key, error = %e, "a refused transaction's record could not be removed; the watcher will send it again");
    }
    outcome
}

/// The address an `eth_getCode` request asks about (lower case), when it
/// asks about the latest block.
fn code_address(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let params = v.get("params")?.as_array()?;
    (params.get(1)?.as_str()? == "latest").then_some(())?;
    Some(params.first()?.as_str()?.to_ascii_lowercase())
}

/// A JSON-RPC answer with `result` (raw JSON) for request `id`.
fn answer_with(id: u64, result: &[u8]) -> Vec<u8> {
    let mut out = format!(r#"{{"jsonrpc":"2.0","id":{id},"result":"#).into_bytes();
    out.extend_from_slice(result);
    out.push(b'}');
    out
}

fn cached_code(chain: &Chain, address: &str) -> Option<Vec<u8>> {
    let cache = chain
        .code
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    cache
        .get(address)
        .filter(|(at, _)| at.elapsed() < super::CODE_CACHE)
        .map(|(_, r)| r.clone())
}

/// Keeps a deployed contract's code (never an empty answer: a contract not
/// deployed yet may be soon), a bounded number of them.
fn remember_code(chain: &Chain, address: String, answer: &[u8]) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(answer) else {
        return;
    };
    let Some(code) = v.get("result").and_then(|r| r.as_str()) else {
        return;
    };
    if code.len() <= 2 {
        return;
    }
    let mut cache = chain
        .code
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if cache.len() >= 256 {
        cache.retain(|_, (at, _)| at.elapsed() < super::CODE_CACHE);
        if cache.len() >= 256 {
            return;
        }
    }
    let result = serde_json::to_vec(code).unwrap_or_default();
    cache.insert(address, (Instant::now(), result));
}

/// Whether a JSON-RPC answer is an error.
fn is_rpc_error(answer: &[u8]) -> bool {
    paywire::rpc::parse_response(answer).is_ok_and(|r| r.result.is_err())
}

/// The account's next nonce: the store's allocator, at least the node's
/// pending count (transactions sent from elsewhere).
async fn nonce(chain: &Chain, s: &Settling<'_>, body: &str) -> Result<u64, String> {
    let answer = chain.rpc.call(body).await.map_err(|e| e.to_string())?;
    let resp = paywire::rpc::parse_response(&answer).map_err(|e| e.to_string())?;
    let pending = resp
        .result
        .map_err(|e| format!("eth_getTransactionCount: {e}"))
        .and_then(|v| paywire::rpc::quantity_u64(v).map_err(|e| e.to_string()))?;
    let n = s
        .store
        .next_nonce(
            chain.chain_id,
            &s.account.address.to_string(),
            pending,
            Some(Holder {
                key: s.key,
                owner: s.owner,
            }),
        )
        .await
        .map_err(|e| e.to_string())?;
    s.account
        .next_nonce
        .store(n.saturating_add(1), std::sync::atomic::Ordering::Relaxed);
    Ok(n)
}
