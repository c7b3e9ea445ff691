//! How a machine ends: a `VerifyResponse` or a `SettleResponse`, and their
//! JSON.

use crate::amount::Amount;
use crate::error::Reason;
use crate::evm::{Address, B256};
use crate::json::{JsonStr, ObjectWriter, Sink, SinkFull, ToJson};
use crate::message::Message;
use crate::network::Network;

/// The verdict of verification with the chain: a `VerifyResponse`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChainVerdict {
    /// `None` when valid; else the reference's reason.
    pub reason: Option<Reason>,
    /// Why, for people (`invalidMessage`; empty when valid).
    pub message: Message,
    /// The payer, when known.
    pub payer: Option<Address>,
}

impl ChainVerdict {
    /// Whether the payment is valid on chain too.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.reason.is_none()
    }
}

impl ToJson for ChainVerdict {
    /// `{"isValid":…,"invalidReason"?,"invalidMessage"?,"payer"?}`.
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.bool_field("isValid", self.reason.is_none())?;
        if let Some(r) = self.reason {
            w.str_field("invalidReason", JsonStr::new(r.as_str()))?;
            if !self.message.is_empty() {
                w.str_field("invalidMessage", JsonStr::new(self.message.as_str()))?;
            }
        }
        if let Some(p) = &self.payer {
            w.field("payer", p)?;
        }
        w.end()
    }
}

/// The outcome of settlement: a `SettleResponse`, with what the receipt said.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settlement {
    /// Whether the payment settled.
    pub success: bool,
    /// Why not (`errorReason`).
    pub reason: Option<Reason>,
    /// Why not, for people (`errorMessage`).
    pub message: Message,
    /// The payer.
    pub payer: Option<Address>,
    /// The transaction hash, once one was sent (also on failure).
    pub transaction: Option<B256>,
    /// The network, as the payment named it (`None` if the body was unreadable).
    pub network: Option<Network>,
    /// The amount settled (`upto` only, as the reference reports it).
    pub amount: Option<Amount>,
    /// The block the transaction was mined in.
    pub block_number: Option<u64>,
    /// Gas used by the transaction.
    pub gas_used: Option<u64>,
    /// Wei paid per gas.
    pub effective_gas_price: Option<u128>,
}

impl ToJson for Settlement {
    /// `{"success":…,"errorReason"?,"errorMessage"?,"payer"?,"transaction","network","amount"?}`.
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.bool_field("success", self.success)?;
        if let Some(r) = self.reason {
            w.str_field("errorReason", JsonStr::new(r.as_str()))?;
        }
        if !self.message.is_empty() {
            w.str_field("errorMessage", JsonStr::new(self.message.as_str()))?;
        }
        if let Some(p) = &self.payer {
            w.field("payer", p)?;
        }
        match &self.transaction {
            Some(h) => w.field("transaction", h)?,
            None => w.str_field("transaction", JsonStr::new(""))?,
        }
        match &self.network {
            Some(n) => w.field("network", n)?,
            None => w.str_field("network", JsonStr::new(""))?,
        }
        if let Some(a) = &self.amount {
            w.field("amount", a)?;
        }
        w.end()
    }
}

/// How a machine ended.
// Outcomes are small `Copy` values on the stack; boxing would need `alloc`.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    /// A verification ended.
    Verified(ChainVerdict),
    /// A settlement ended.
    Settled(Settlement),
}

impl Outcome {
    /// What a machine would answer in a state that has no next step: none
    /// exists (every running stage has a call or a signature to ask for).
    pub(super) const UNREACHABLE: Outcome = Outcome::Settled(Settlement {
        success: false,
        reason: Some(Reason::UnexpectedSettleError),
        message: Message::EMPTY,
        payer: None,
        transaction: None,
        network: None,
        amount: None,
        block_number: None,
        gas_used: None,
        effective_gas_price: None,
    });

    /// The failure reason, if any.
    #[must_use]
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Outcome::Verified(v) => v.reason,
            Outcome::Settled(s) => s.reason,
        }
    }

    /// Whether the payment is valid (verify) or settled (settle).
    #[must_use]
    pub fn is_success(&self) -> bool {
        match self {
            Outcome::Verified(v) => v.is_valid(),
            Outcome::Settled(s) => s.success,
        }
    }
}

impl ToJson for Outcome {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        match self {
            Outcome::Verified(v) => v.write_json(out),
            Outcome::Settled(s) => s.write_json(out),
        }
    }
}

/// What an outcome reports besides its verdict, as far as the machine got.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Report {
    /// The payer, as the offline checks named it.
    pub(super) payer: Option<Address>,
    /// The network, as the payment named it (`None` if the body was unreadable).
    pub(super) network: Option<Network>,
    /// The amount an `upto` settlement charges (reported only once settled).
    pub(super) amount: Option<Amount>,
    /// The settlement transaction, once one was signed and not refused.
    pub(super) transaction: Option<B256>,
    /// What its receipt said, once mined.
    pub(super) receipt: Option<Mined>,
}

/// What a receipt says of a mined settlement transaction.
#[derive(Clone, Copy, Debug)]
pub(super) struct Mined {
    /// `blockNumber`.
    pub(super) block_number: u64,
    /// `gasUsed`.
    pub(super) gas_used: u64,
    /// `effectiveGasPrice`, when the node reports it.
    pub(super) effective_gas_price: Option<u128>,
}

impl Report {
    /// A `VerifyResponse`: valid without `reason`.
    pub(super) fn verified(self, reason: Option<Reason>, message: Message) -> Outcome {
        Outcome::Verified(ChainVerdict {
            reason,
            message,
            payer: self.payer,
        })
    }

    /// A `SettleResponse`: settled without `reason`.
    pub(super) fn settled(self, reason: Option<Reason>, message: Message) -> Outcome {
        let success = reason.is_none();
        Outcome::Settled(Settlement {
            success,
            reason,
            message,
            payer: self.payer,
            transaction: self.transaction,
            network: self.network,
            amount: if success { self.amount } else { None },
            block_number: self.receipt.map(|r| r.block_number),
            gas_used: self.receipt.map(|r| r.gas_used),
            effective_gas_price: self.receipt.and_then(|r| r.effective_gas_price),
        })
    }
}
