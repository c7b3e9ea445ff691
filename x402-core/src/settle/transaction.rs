//! Settlement's transaction: signed, sent, and its receipt read.

use crate::message::Message;

use super::diagnose::find_ci;
use super::machine::{Machine, Stage};
use super::outcome::Outcome;
use super::payment::Payment;
use crate::amount::Amount;
use crate::error::Reason;
use crate::evm::tx::{Eip1559Transaction, SignedTransaction};
use crate::json::JsonStr;
use crate::rpc::{self};

/// The signature and fees of the settlement transaction, kept to resend it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SignedParts {
    y_parity: bool,
    r: [u8; 32],
    s: [u8; 32],
    max_fee: u128,
    pub(super) tip: u128,
}

impl Machine {
    pub(super) fn signed_tx(&self, p: &Payment) -> Option<SignedTransaction<'_>> {
        let sp = self.signed?;
        Some(SignedTransaction {
            tx: self.unsigned_tx(p, sp.max_fee, sp.tip),
            y_parity: sp.y_parity,
            r: sp.r,
            s: sp.s,
        })
    }

    fn unsigned_tx(&self, p: &Payment, max_fee: u128, tip: u128) -> Eip1559Transaction<'_> {
        Eip1559Transaction {
            chain_id: p.chain_id,
            nonce: self.nonce,
            max_priority_fee_per_gas: tip,
            max_fee_per_gas: max_fee,
            gas_limit: self.gas_limit,
            to: Some(p.target()),
            value: Amount::ZERO,
            data: self.calldata.get(..self.calldata_len).unwrap_or_default(),
        }
    }

    pub(super) fn sign_and_send(&mut self, p: &Payment) {
        let mut max_fee = self
            .base_fee
            .saturating_mul(u128::from(self.options.base_fee_multiplier))
            .saturating_add(self.tip);
        if let Some(cap) = self.options.max_fee_per_gas {
            max_fee = max_fee.min(cap);
        }
        let tip = self.tip.min(max_fee);
        let signed = self.key.as_ref().map(|key| {
            let s = self.unsigned_tx(p, max_fee, tip).sign(key);
            (s.hash(), s.y_parity, s.r, s.s)
        });
        match signed {
            Some((hash, y_parity, r, s)) => {
                self.tx_hash = Some(hash);
                self.signed = Some(SignedParts {
                    y_parity,
                    r,
                    s,
                    max_fee,
                    tip,
                });
                self.stage = Stage::Send;
            }
            None => self.finish_unexpected(&"settlement needs the facilitator's key"),
        }
    }

    pub(super) fn on_receipt(&mut self, p: &Payment, r: &rpc::Receipt<'_>) {
        self.receipt = Some((r.block_number, r.gas_used, r.effective_gas_price));
        if !r.status {
            self.finish(
                p.failed_tx_reason(),
                &format_args!("the transaction reverted in block {}", r.block_number),
            );
            return;
        }
        let (from, to, value) = p.expected_transfer();
        if r.has_transfer(&p.asset, &from, &to, &value) {
            self.outcome = Some(Outcome::Settled(self.settlement(
                true,
                None,
                Message::EMPTY,
            )));
            self.stage = Stage::Done;
        } else {
            self.finish(
                Reason::ExactEvmTransferEventMismatch,
                &"the transaction succeeded without the token's Transfer(from, to, value) log",
            );
        }
    }
}

/// Node errors that mean a transaction was refused before broadcast (so it can
/// never be mined); every other send error leaves the outcome open.
pub(super) const NOT_BROADCAST: &[&str] = &[
    "insufficient funds",
    "intrinsic gas too low",
    "exceeds block gas limit",
    "gas limit reached",
    "less than block base fee",
    "transaction underpriced",
    "nonce too high",
    "invalid sender",
    "invalid signature",
];

pub(super) fn contains_ci(hay: JsonStr<'_>, needle: &str) -> bool {
    hay.as_str()
        .is_some_and(|h| find_ci(h, needle, 0).is_some())
}
