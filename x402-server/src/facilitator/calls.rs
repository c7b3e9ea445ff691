//! The chain's answers the facilitator's own paths ask for (sponsored
//! approvals, batch settlement): one JSON-RPC call each, bounded by the
//! request's deadline, its result read or its error given as text.

use std::time::{Duration, Instant};

use paywire::Amount;
use paywire::evm::{Address, B256};
use paywire::json::{JsonValue, ToJson};
use paywire::rpc::{BlockHeader, BlockTag, CallRequest, Envelope, Receipt, Request};

use super::Chain;

/// How often a receipt is asked for.
pub(crate) const POLL: Duration = Duration::from_millis(250);

/// The latest block's base fee per gas and the chain's suggested tip (the
/// network's configured one, else the node's `eth_maxPriorityFeePerGas`).
pub(crate) async fn prices(chain: &Chain, deadline: Instant) -> Result<(u128, u128), String> {
    let base = base_fee(chain, deadline).await?;
    let tip = match chain.options.priority_fee_per_gas {
        Some(t) => t,
        None => quantity(chain, Request::MaxPriorityFeePerGas, deadline).await?,
    };
    Ok((base, tip))
}

/// The latest block's base fee per gas (0 on a chain without one).
pub(crate) async fn base_fee(chain: &Chain, deadline: Instant) -> Result<u128, String> {
    let header = ask(
        chain,
        Request::GetBlockByNumber {
            block: BlockTag::Latest,
        },
        deadline,
        |r| r.and_then(|v| BlockHeader::from_json(v).map_err(|e| e.to_string())),
    )
    .await
    .and_then(|r| r)?;
    Ok(header.base_fee_per_gas.unwrap_or(0))
}

/// `who`'s balance in wei, with the transactions still in the pool (a
/// funding sent and not mined yet counts).
pub(crate) async fn pending_balance(
    chain: &Chain,
    who: Address,
    deadline: Instant,
) -> Result<u128, String> {
    let request = Request::GetBalance {
        address: who,
        block: BlockTag::Pending,
    };
    quantity(chain, request, deadline).await
}

/// Whether the node knows the transaction (pending or mined); an error
/// answer is an error, never "unknown".
pub(crate) async fn known(chain: &Chain, hash: B256, deadline: Instant) -> Result<bool, String> {
    ask(
        chain,
        Request::GetTransactionByHash { hash },
        deadline,
        |r| r.map(|v| !v.is_null()),
    )
    .await
    .and_then(|r| r.map_err(|e| format!("eth_getTransactionByHash: {e}")))
}

/// A mined transaction's receipt, kept as the node sent it.
pub(crate) struct Mined {
    /// Whether it succeeded (`status` `0x1`).
    pub(crate) status: bool,
    json: String,
}

impl Mined {
    /// The receipt, read again with its logs ([`Receipt::logs`]).
    pub(crate) fn receipt(&self) -> Option<Receipt<'_>> {
        let v = paywire::json::parse(self.json.as_bytes(), &paywire::rpc::RESPONSE_LIMITS).ok()?;
        Receipt::from_json(v).ok().flatten()
    }
}

/// The transaction's receipt, if mined.
pub(crate) async fn receipt(
    chain: &Chain,
    hash: B256,
    deadline: Instant,
) -> Result<Option<Mined>, String> {
    ask(
        chain,
        Request::GetTransactionReceipt { hash },
        deadline,
        |r| {
            r.and_then(|v| {
                Receipt::from_json(v)
                    .map(|r| {
                        r.map(|r| Mined {
                            status: r.status,
                            json: v.raw().to_owned(),
                        })
                    })
                    .map_err(|e| e.to_string())
            })
        },
    )
    .await
    .and_then(|r| r.map_err(|e| format!("eth_getTransactionReceipt: {e}")))
}

/// What a wait for a receipt makes of a failed ask (no answer, or an
/// error answer).
#[derive(Clone, Copy)]
pub(crate) enum OnError {
    /// The wait ends with its error.
    Stop,
    /// Asked again while time remains.
    AskAgain,
}

/// Waits for the transaction's receipt until `deadline`, asking every
/// [`POLL`]: the receipt, or `None` when it is not mined by then; a failed
/// ask as `on_error` says.
pub(crate) async fn wait(
    chain: &Chain,
    hash: B256,
    deadline: Instant,
    on_error: OnError,
) -> Result<Option<Mined>, String> {
    loop {
        match receipt(chain, hash, deadline).await {
            Ok(Some(mined)) => return Ok(Some(mined)),
            Ok(None) => {}
            Err(e) => {
                if let OnError::Stop = on_error {
                    return Err(e);
                }
            }
        }
        if Instant::now() + POLL >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Asks the node, and reads its answer's result (or its error, as text)
/// with `read`; `Err` when no endpoint answered by `deadline`, or the
/// answer is not JSON-RPC.
pub(crate) async fn ask<T>(
    chain: &Chain,
    request: Request<'_>,
    deadline: Instant,
    read: impl FnOnce(Result<JsonValue<'_>, String>) -> T,
) -> Result<T, String> {
    let method = request.method();
    let body = Envelope { id: 1, request }.to_json_string();
    let answer = tokio::time::timeout_at(
        tokio::time::Instant::from_std(deadline),
        chain.rpc.call(&body),
    )
    .await
    .map_err(|_| format!("{method}: no answer by the request's deadline"))?
    .map_err(|e| format!("{method}: {e}"))?;
    let resp = paywire::rpc::parse_response(&answer).map_err(|e| format!("{method}: {e}"))?;
    Ok(read(resp.result.map_err(|e| e.to_string())))
}

/// A quantity result (`0x…`), as a number.
pub(crate) async fn quantity(
    chain: &Chain,
    request: Request<'_>,
    deadline: Instant,
) -> Result<u128, String> {
    let method = request.method();
    ask(chain, request, deadline, |r| {
        r.and_then(|v| paywire::rpc::quantity_u128(v).map_err(|e| e.to_string()))
    })
    .await
    .and_then(|r| r.map_err(|e| format!("{method}: {e}")))
}

/// An `eth_call` of a `uint256` getter on `to`, at the latest block.
pub(crate) async fn read_word(
    chain: &Chain,
    to: Address,
    data: &[u8],
    deadline: Instant,
) -> Result<Amount, String> {
    let call = CallRequest {
        from: None,
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
                let mut buf = [0u8; 32];
                let data = paywire::rpc::data(v, &mut buf).map_err(|e| e.to_string())?;
                let word: [u8; 32] = data.try_into().map_err(|_| {
                    format!("a 32-byte word was expected, not {} bytes", data.len())
                })?;
                Ok(Amount::from_be_bytes(word))
            })
        },
    )
    .await
    .and_then(|r| r)
}
