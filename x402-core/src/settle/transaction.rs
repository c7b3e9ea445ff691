//! Settlement's transaction, after a passing gas estimate: its nonce and
//! fees, its signature (by the key the machine holds, or by the host), its
//! broadcast, its receipt, and the confirmations that follow.

use crate::amount::Amount;
use crate::error::{Error, Reason};
use crate::evm::B256;
use crate::evm::tx::{Eip1559Transaction, SignedTransaction};
use crate::json::{JsonStr, JsonValue};
use crate::rpc::{self, BlockTag, Request, RpcError};

use super::diagnose::find_ci;
use super::machine::{Mode, State};
use super::options::Options;
use super::outcome::{Mined, Report};
use super::run::{Run, Stage};
use super::sent::SentTransaction;

/// The transaction as signed. The machine keeps the public form: what a host
/// stores is exactly what the machine knows.
pub(super) type Signed = SentTransaction;

/// Where settlement's transaction is; each step holds what is known by then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Transaction {
    /// `eth_getTransactionCount(from, pending)`: the account's next nonce. A
    /// host that allocates its accounts' nonces itself answers this call from
    /// its allocator instead of the node (the machine asks only after the
    /// simulation passed, so a refused payment never takes a nonce).
    Nonce { gas_limit: u64 },
    /// `eth_getBlockByNumber(latest)`: the base fee.
    BaseFee { gas_limit: u64, nonce: u64 },
    /// `eth_maxPriorityFeePerGas`: the tip.
    PriorityFee {
        gas_limit: u64,
        nonce: u64,
        base_fee: u128,
    },
    /// `eth_gasPrice`, from a node without `eth_maxPriorityFeePerGas`: the
    /// tip is what it asks above the base fee.
    GasPrice {
        gas_limit: u64,
        nonce: u64,
        base_fee: u128,
    },
    /// The host signs the transaction's hash ([`super::Step::Sign`]).
    Sign {
        gas_limit: u64,
        nonce: u64,
        max_fee: u128,
        tip: u128,
    },
    /// `eth_sendRawTransaction`.
    Send(Signed),
    /// `eth_getTransactionReceipt` (the answers without one are counted in
    /// the run).
    Receipt { signed: Signed },
    /// `eth_blockNumber`, until the receipt's block is deep enough
    /// ([`Options::confirmations`]).
    Confirm {
        signed: Signed,
        block_number: u64,
        block_hash: Option<B256>,
    },
    /// `eth_getTransactionReceipt` again, once deep enough: the same block
    /// means confirmed; none means a reorganisation dropped it (sent again).
    Recheck {
        signed: Signed,
        block_number: u64,
        block_hash: Option<B256>,
    },
}

impl Transaction {
    /// The transaction sent (or being sent), once signed.
    pub(super) fn sent(&self) -> Option<&Signed> {
        match self {
            Transaction::Send(s)
            | Transaction::Receipt { signed: s }
            | Transaction::Confirm { signed: s, .. }
            | Transaction::Recheck { signed: s, .. } => Some(s),
            _ => None,
        }
    }

    /// Whether this step waits for the chain (its repetitions are paced).
    pub(super) fn waits(&self) -> bool {
        matches!(
            self,
            Transaction::Receipt { .. } | Transaction::Confirm { .. }
        )
    }
}

/// Node errors that mean a transaction was refused before broadcast (so it can
/// never be mined); every other send error leaves the outcome open.
const NOT_BROADCAST: &[&str] = &[
    "insufficient funds",
    "intrinsic gas too low",
    "exceeds block gas limit",
    "gas limit reached",
    "less than block base fee",
    "transaction underpriced",
    "replacement transaction underpriced",
    "nonce too high",
    "invalid sender",
    "invalid signature",
];

/// Whether a node's `eth_sendRawTransaction` error says it refused the
/// transaction before broadcasting it (so it can never be mined: its nonce may
/// be given back); any other error leaves the transaction's fate open.
#[must_use]
pub fn refused_before_broadcast(message: &str) -> bool {
    let hay = message.as_bytes();
    NOT_BROADCAST.iter().any(|m| {
        let needle = m.as_bytes();
        hay.windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    })
}

impl Run {
    /// After a passing gas estimate: the gas limit with its margin, then the
    /// nonce (asked of the node unless the host keeps it).
    pub(super) fn estimated(&self, options: &Options, estimate: u64) -> State {
        let margin = u64::from(options.gas_limit_margin_percent);
        let gas_limit = estimate.saturating_mul(100 + margin) / 100;
        self.go(Stage::Transact(match options.nonce {
            Some(nonce) => Transaction::BaseFee { gas_limit, nonce },
            None => Transaction::Nonce { gas_limit },
        }))
    }

    /// The call of a transaction step (`None` for the host's signature).
    pub(super) fn transaction_request(&self, tx: &Transaction) -> Option<Request<'_>> {
        Some(match tx {
            Transaction::Nonce { .. } => Request::GetTransactionCount {
                address: self.caller.unwrap_or_default(),
                block: BlockTag::Pending,
            },
            Transaction::BaseFee { .. } => Request::GetBlockByNumber {
                block: BlockTag::Latest,
            },
            Transaction::PriorityFee { .. } => Request::MaxPriorityFeePerGas,
            Transaction::GasPrice { .. } => Request::GasPrice,
            Transaction::Sign { .. } => return None,
            Transaction::Send(signed) => Request::SendRawTransaction {
                tx: self.signed_tx(signed),
            },
            Transaction::Receipt { signed } | Transaction::Recheck { signed, .. } => {
                Request::GetTransactionReceipt { hash: signed.hash }
            }
            Transaction::Confirm { .. } => Request::BlockNumber,
        })
    }

    /// Reads the answer to a transaction step.
    pub(super) fn on_transaction(
        &self,
        mode: &Mode,
        options: &Options,
        tx: Transaction,
        method: &str,
        result: Result<JsonValue<'_>, RpcError<'_>>,
    ) -> Result<State, Error> {
        let go = |tx| self.go(Stage::Transact(tx));
        Ok(match tx {
            Transaction::Nonce { gas_limit } => {
                let Ok(v) = result else {
                    return Ok(self.infra(mode, method, result.err()));
                };
                let nonce = rpc::quantity_u64(v)?;
                go(Transaction::BaseFee { gas_limit, nonce })
            }
            Transaction::BaseFee { gas_limit, nonce } => {
                let Ok(v) = result else {
                    return Ok(self.infra(mode, method, result.err()));
                };
                let header = rpc::BlockHeader::from_json(v)?;
                let Some(base_fee) = header.base_fee_per_gas else {
                    return Ok(
                        self.unexpected(mode, &"the chain has no EIP-1559 base fee (pre-London)")
                    );
                };
                match options.priority_fee_per_gas {
                    Some(tip) => self.priced(mode, options, gas_limit, nonce, base_fee, tip),
                    None => go(Transaction::PriorityFee {
                        gas_limit,
                        nonce,
                        base_fee,
                    }),
                }
            }
            Transaction::PriorityFee {
                gas_limit,
                nonce,
                base_fee,
            } => match result {
                Ok(v) => {
                    let tip = rpc::quantity_u128(v)?;
                    self.priced(mode, options, gas_limit, nonce, base_fee, tip)
                }
                // Nodes without eth_maxPriorityFeePerGas: derive the tip from eth_gasPrice.
                Err(_) => go(Transaction::GasPrice {
                    gas_limit,
                    nonce,
                    base_fee,
                }),
            },
            Transaction::GasPrice {
                gas_limit,
                nonce,
                base_fee,
            } => {
                let Ok(v) = result else {
                    return Ok(self.infra(mode, method, result.err()));
                };
                let tip = rpc::quantity_u128(v)?.saturating_sub(base_fee);
                self.priced(mode, options, gas_limit, nonce, base_fee, tip)
            }
            // Signed by the host through `Machine::feed_signature`, not answered.
            Transaction::Sign { .. } => self.go(self.stage),
            Transaction::Send(signed) => {
                let wait = || go(Transaction::Receipt { signed });
                match result {
                    Ok(v) => {
                        let hash = rpc::hash(v, "result")?;
                        if hash == signed.hash {
                            wait()
                        } else {
                            self.unexpected(
                                mode,
                                &format_args!(
                                    "the node names the transaction {hash}, its hash is {}",
                                    signed.hash
                                ),
                            )
                        }
                    }
                    // A resend of a transaction the node already has: wait for it.
                    Err(e)
                        if contains_ci(e.message, "already known")
                            || contains_ci(e.message, "known transaction") =>
                    {
                        wait()
                    }
                    // The node refused the transaction itself: it was not
                    // broadcast. A replacement refused leaves the transaction
                    // it replaces in flight: pending, never failed.
                    Err(e) if NOT_BROADCAST.iter().any(|m| contains_ci(e.message, m)) => {
                        if let Some(original) = self.replaces {
                            let report = Report {
                                transaction: Some(original),
                                ..self.report()
                            };
                            return Ok(self.fail_with(
                                mode,
                                Reason::SettlementPending,
                                &format_args!("the replacement was refused ({e}); the transaction it replaces is still pending"),
                                report,
                            ));
                        }
                        let report = Report {
                            transaction: None,
                            ..self.report()
                        };
                        self.fail_with(
                            mode,
                            self.payment.failed_tx_reason(),
                            &format_args!("eth_sendRawTransaction failed: {e}"),
                            report,
                        )
                    }
                    // Anything else ("nonce too low" after a resend, an internal error,
                    // a timeout reported as an error) may follow a broadcast: look for
                    // the receipt; if none comes, the settlement is pending, never
                    // "failed" (which would tell the payer to pay again).
                    Err(_) => wait(),
                }
            }
            Transaction::Receipt { signed } => {
                let Ok(v) = result else {
                    return Ok(self.infra(mode, method, result.err()));
                };
                match rpc::Receipt::from_json(v)? {
                    None => self.wait_more(mode, options),
                    Some(r) if options.confirmations > 1 => go(Transaction::Confirm {
                        signed,
                        block_number: r.block_number,
                        block_hash: r.block_hash,
                    }),
                    Some(r) => self.on_receipt(mode, &r),
                }
            }
            Transaction::Confirm {
                signed,
                block_number,
                block_hash,
            } => {
                let Ok(v) = result else {
                    return Ok(self.infra(mode, method, result.err()));
                };
                let head = rpc::quantity_u64(v)?;
                let depth = head.saturating_sub(block_number).saturating_add(1);
                // Deep enough, or the chain went back below the receipt's
                // block (a reorganisation under way): look at the receipt again.
                if depth >= u64::from(options.confirmations) || head < block_number {
                    go(Transaction::Recheck {
                        signed,
                        block_number,
                        block_hash,
                    })
                } else {
                    self.wait_more(mode, options)
                }
            }
            Transaction::Recheck {
                signed,
                block_number,
                block_hash,
            } => {
                let Ok(v) = result else {
                    return Ok(self.infra(mode, method, result.err()));
                };
                match rpc::Receipt::from_json(v)? {
                    // Dropped by a reorganisation: the same bytes go out again
                    // (same nonce, same hash), and the wait starts over.
                    None => go(Transaction::Send(signed)),
                    Some(r) if r.block_number == block_number && r.block_hash == block_hash => {
                        self.on_receipt(mode, &r)
                    }
                    // Mined again in another block: count from there.
                    Some(r) => go(Transaction::Confirm {
                        signed,
                        block_number: r.block_number,
                        block_hash: r.block_hash,
                    }),
                }
            }
        })
    }

    /// One more wait for the chain, or `settlement_pending` once
    /// [`Options::max_receipt_polls`] are spent.
    fn wait_more(&self, mode: &Mode, options: &Options) -> State {
        if self.polls.saturating_add(1) >= options.max_receipt_polls {
            self.pending(
                mode,
                &"the transaction was sent but not confirmed in time; query it by hash",
            )
        } else {
            self.polled()
        }
    }

    /// Ends with `settlement_pending`, naming the transaction in flight (the
    /// one this run sent, else the one it was to replace).
    fn pending(&self, mode: &Mode, message: &dyn core::fmt::Display) -> State {
        let report = Report {
            transaction: self.stage.sent().map(|s| s.hash).or(self.replaces),
            ..self.report()
        };
        self.fail_with(mode, Reason::SettlementPending, message, report)
    }

    /// Prices the transaction (at most [`Options::max_fee_per_gas`], at least
    /// what a replacement must beat), then signs it, or has the host sign it.
    fn priced(
        &self,
        mode: &Mode,
        options: &Options,
        gas_limit: u64,
        nonce: u64,
        base_fee: u128,
        tip: u128,
    ) -> State {
        let mut max_fee = base_fee
            .saturating_mul(u128::from(options.base_fee_multiplier))
            .saturating_add(tip);
        let mut tip = tip;
        if let Some((floor_fee, floor_tip)) = self.floor {
            max_fee = max_fee.max(floor_fee);
            tip = tip.max(floor_tip);
        }
        if let Some(cap) = options.max_fee_per_gas {
            if self.floor.is_some_and(|(floor_fee, _)| floor_fee > cap) {
                return self.pending(
                    mode,
                    &format_args!(
                        "a replacement must pay more than maxFeePerGas allows ({cap} wei); the transaction it replaces is still pending"
                    ),
                );
            }
            max_fee = max_fee.min(cap);
        }
        let tip = tip.min(max_fee);
        match mode {
            Mode::Settle { key: Some(key), .. } => {
                let signed = self.unsigned_tx(gas_limit, nonce, max_fee, tip).sign(key);
                self.go(Stage::Transact(Transaction::Send(Signed {
                    hash: signed.hash(),
                    nonce,
                    gas_limit,
                    max_fee_per_gas: max_fee,
                    max_priority_fee_per_gas: tip,
                    y_parity: signed.y_parity,
                    r: signed.r,
                    s: signed.s,
                })))
            }
            Mode::Settle { key: None, .. } => self.go(Stage::Transact(Transaction::Sign {
                gas_limit,
                nonce,
                max_fee,
                tip,
            })),
            Mode::Verify => self.unexpected(mode, &"settlement needs the facilitator's key"),
        }
    }

    /// The hash the host signs for [`Transaction::Sign`].
    pub(super) fn signing_hash(
        &self,
        gas_limit: u64,
        nonce: u64,
        max_fee: u128,
        tip: u128,
    ) -> B256 {
        B256(
            self.unsigned_tx(gas_limit, nonce, max_fee, tip)
                .signing_hash(),
        )
    }

    pub(super) fn unsigned_tx(
        &self,
        gas_limit: u64,
        nonce: u64,
        max_fee: u128,
        tip: u128,
    ) -> Eip1559Transaction<'_> {
        Eip1559Transaction {
            chain_id: self.payment.chain_id,
            nonce,
            max_priority_fee_per_gas: tip,
            max_fee_per_gas: max_fee,
            gas_limit,
            to: Some(self.payment.target()),
            value: Amount::ZERO,
            data: self.calldata.as_slice(),
        }
    }

    pub(super) fn signed_tx(&self, s: &Signed) -> SignedTransaction<'_> {
        SignedTransaction {
            tx: self.unsigned_tx(
                s.gas_limit,
                s.nonce,
                s.max_fee_per_gas,
                s.max_priority_fee_per_gas,
            ),
            y_parity: s.y_parity,
            r: s.r,
            s: s.s,
        }
    }

    /// A mined transaction settled only if it succeeded and, as the reference
    /// checks, the token logged the expected `Transfer(from, to, value)`.
    fn on_receipt(&self, mode: &Mode, r: &rpc::Receipt<'_>) -> State {
        let p = &self.payment;
        let report = Report {
            receipt: Some(Mined {
                block_number: r.block_number,
                gas_used: r.gas_used,
                effective_gas_price: r.effective_gas_price,
            }),
            ..self.report()
        };
        if !r.status {
            return self.fail_with(
                mode,
                p.failed_tx_reason(),
                &format_args!("the transaction reverted in block {}", r.block_number),
                report,
            );
        }
        let (from, to, value) = p.expected_transfer();
        if r.has_transfer(&p.asset, &from, &to, &value) {
            self.succeed(mode, report)
        } else {
            self.fail_with(
                mode,
                Reason::ExactEvmTransferEventMismatch,
                &"the transaction succeeded without the token's Transfer(from, to, value) log",
                report,
            )
        }
    }
}

fn contains_ci(hay: JsonStr<'_>, needle: &str) -> bool {
    hay.as_str()
        .is_some_and(|h| find_ci(h, needle, 0).is_some())
}
