//! Verification with the chain, and settlement, as a host-driven state machine.
//!
//! The core does no I/O. A [`Machine`] says which JSON-RPC call to make next
//! ([`Machine::step`]); the host sends it to its node and feeds the answer back
//! ([`Machine::feed`]), until the machine is done with an [`Outcome`]: a
//! `VerifyResponse` ([`ChainVerdict`]) or a `SettleResponse` ([`Settlement`]).
//! [`Machine::drive`] runs that loop over any transport closure.
//!
//! ```
//! use paywire::settle::{Machine, Options, Step};
//! use paywire::verify::Config;
//! // A body that fails offline never reaches the chain.
//! let m = Machine::verify_json(b"{}", 1_750_000_000, &Config::default(), &Options::default());
//! match m.step() {
//!     Step::Done(outcome) => assert_eq!(outcome.reason().unwrap().as_str(), "invalid_x402_version"),
//!     Step::Call(_) => unreachable!(),
//! }
//! ```
//!
//! # The calls, in order
//! Verify (after the offline checks of [`crate::verify`] passed):
//! 1. `eth_chainId`, when [`Options::check_chain_id`]: the node must serve the
//!    payment's chain.
//! 2. `eth_getCode(asset)`: empty → `asset_not_deployed_contract`.
//! 3. `eth_call` of what settlement will send: `transferWithAuthorization(…, v, r, s)`
//!    on the token, or the x402 proxy's `settle`. Success → valid.
//! 4. On failure, the reference facilitator's diagnosis, one `eth_call` at a time
//!    (the reference batches them through Multicall3, which not every chain has),
//!    stopping at the first finding, in the reference's order of precedence:
//!    - EIP-3009: `authorizationState(from, nonce)` fails →
//!      `invalid_exact_evm_eip3009_not_supported`, is true →
//!      `invalid_exact_evm_nonce_already_used`; `name()` ≠ `extra.name` →
//!      `…_token_name_mismatch`; `version()` ≠ `extra.version` →
//!      `…_token_version_mismatch`; `balanceOf(from)` < amount →
//!      `…_insufficient_balance`; else `invalid_exact_evm_transaction_simulation_failed`
//!      with the decoded revert as `invalidMessage`.
//!    - Permit2 (exact and upto): `PERMIT2()` on the proxy fails →
//!      `permit2_proxy_not_deployed`; `balanceOf` < amount →
//!      `permit2_insufficient_balance`; `allowance(from, Permit2)` < amount →
//!      `permit2_allowance_required`; else `permit2_simulation_failed`.
//!
//! Settle: the same offline checks, chain id and code check; then
//! `eth_estimateGas` of the transaction from the facilitator's address, which
//! simulates it (a revert is diagnosed as above, then mapped from the revert
//! data the way the reference maps its write errors, else
//! `invalid_exact_evm_transaction_failed`); `eth_getTransactionCount(pending)`;
//! `eth_getBlockByNumber(latest)` for the base fee and `eth_maxPriorityFeePerGas`
//! (or `eth_gasPrice` when a node lacks it); `eth_sendRawTransaction` of an
//! EIP-1559 transaction signed with the facilitator's key; and
//! `eth_getTransactionReceipt` until it is mined. A mined transaction succeeded
//! only if its status is 1 and, like the reference, its logs hold the token's
//! `Transfer(from, to, value)`.
//!
//! Where this differs from the reference facilitator: settlement always
//! simulates first (gas estimation does, at no extra call), so a replayed or
//! underfunded payment costs no gas; `v` is always sent as 27/28; upto's
//! `invalid_upto_evm_transaction_failed` is used for upto transactions.

use crate::message::Message;
use core::fmt::{self, Write as _};

use crate::amount::Amount;
use crate::error::{Error, ErrorKind, Reason};
use crate::evm::abi::{self, Revert};
use crate::evm::eip712::{
    PERMIT2_ADDRESS, X402_EXACT_PERMIT2_PROXY, X402_UPTO_PERMIT2_PROXY, keccak_text,
};
use crate::evm::tx::{Eip1559Transaction, SignedTransaction};
use crate::evm::{Address, B256, PrivateKey, Signature};
use crate::json::{JsonStr, JsonValue, Limits, ObjectWriter, Sink, SinkFull, SliceSink, ToJson};
use crate::network::Network;
use crate::rpc::{self, BlockTag, CallRequest, Envelope, Request};
use crate::types::FromJson;
use crate::types::facilitator::{PaymentPayload, PaymentRequirements, VerifyRequest};
use crate::types::payload::{Eip3009Authorization, Permit2Authorization, SchemePayload};
use crate::verify::{self, Config};

/// The largest JSON-RPC request a machine writes (an `eth_sendRawTransaction`
/// of a Permit2 settlement is about 1.3 KB): a buffer this long always suffices.
pub const MAX_REQUEST_LEN: usize = 4096;

/// Calldata kept by the machine: the upto proxy's `settle` with a 65-byte
/// signature is the longest (452 bytes).
const CALLDATA_MAX: usize = 512;

/// Settings of a [`Machine`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Ask `eth_chainId` first and stop if the node serves another chain.
    pub check_chain_id: bool,
    /// Gas limit = estimate × (100 + this) / 100.
    pub gas_limit_margin_percent: u32,
    /// `maxFeePerGas` = base fee × this + tip (2 covers six full blocks of base-fee rise).
    pub base_fee_multiplier: u32,
    /// A fixed tip per gas in wei, instead of asking `eth_maxPriorityFeePerGas`.
    pub priority_fee_per_gas: Option<u128>,
    /// A ceiling on `maxFeePerGas` in wei.
    pub max_fee_per_gas: Option<u128>,
    /// The facilitator account's next nonce, for hosts that track it themselves
    /// (concurrent settlements from one key); `None` asks the node (`pending`).
    pub nonce: Option<u64>,
    /// How many `null` receipts to accept before answering `settlement_pending`.
    pub max_receipt_polls: u32,
    /// The pause the host should make before each repeated receipt request.
    pub receipt_poll_interval_ms: u32,
}

impl Options {
    /// The defaults: check the chain id, 20 % gas margin, 2 × base fee, the
    /// node's tip, 60 receipt polls one second apart.
    pub const DEFAULT: Options = Options {
        check_chain_id: true,
        gas_limit_margin_percent: 20,
        base_fee_multiplier: 2,
        priority_fee_per_gas: None,
        max_fee_per_gas: None,
        nonce: None,
        max_receipt_polls: 60,
        receipt_poll_interval_ms: 1000,
    };
}

impl Default for Options {
    fn default() -> Self {
        Options::DEFAULT
    }
}

impl Options {
    /// Reads settings from the JSON a host keeps them in; every member is
    /// optional (absent: the default), unknown members are refused so that a
    /// misspelt setting is not silently ignored:
    /// `{"checkChainId": true, "gasLimitMarginPercent": 20, "baseFeeMultiplier": 2,
    /// "priorityFeePerGas": "1000000", "maxFeePerGas": "50000000000", "nonce": 7,
    /// "maxReceiptPolls": 60, "receiptPollIntervalMs": 1000}` (wei amounts are
    /// decimal strings, counts are numbers).
    ///
    /// ```
    /// use paywire::settle::Options;
    /// let o = Options::from_json(br#"{"maxFeePerGas":"30000000000","nonce":4}"#).unwrap();
    /// assert_eq!(o.max_fee_per_gas, Some(30_000_000_000));
    /// assert_eq!(o.nonce, Some(4));
    /// assert!(o.check_chain_id);
    /// assert!(Options::from_json(br#"{"maxFeePerGass":"1"}"#).is_err());
    /// ```
    ///
    /// # Errors
    /// An [`Error`] naming the member (reason `invalid_payload`: settings are not
    /// a protocol document).
    pub fn from_json(json: &[u8]) -> Result<Options, Error> {
        use crate::types::{amount, boolean, err, integer, object};
        const R: Reason = Reason::InvalidPayload;
        let v = crate::json::parse(json, &Limits::DEFAULT).map_err(|k| Error::new(R, k))?;
        let mut o = Options::DEFAULT;
        let wei = |v, f| -> Result<u128, Error> {
            let a = amount(v, R, f)?;
            let b = a.to_be_bytes();
            let (hi, lo) = b.split_at(16);
            if hi.iter().any(|x| *x != 0) {
                return Err(err(R, ErrorKind::Overflow, f));
            }
            let mut w = [0u8; 16];
            w.copy_from_slice(lo);
            Ok(u128::from_be_bytes(w))
        };
        let small = |v, f| -> Result<u32, Error> {
            u32::try_from(integer(v, R, f)?).map_err(|_| err(R, ErrorKind::Overflow, f))
        };
        for (k, v) in object(v, R, "")?.members() {
            if k == "checkChainId" {
                o.check_chain_id = boolean(v, R, "checkChainId")?;
            } else if k == "gasLimitMarginPercent" {
                o.gas_limit_margin_percent = small(v, "gasLimitMarginPercent")?;
            } else if k == "baseFeeMultiplier" {
                o.base_fee_multiplier = small(v, "baseFeeMultiplier")?;
            } else if k == "priorityFeePerGas" {
                o.priority_fee_per_gas = Some(wei(v, "priorityFeePerGas")?);
            } else if k == "maxFeePerGas" {
                o.max_fee_per_gas = Some(wei(v, "maxFeePerGas")?);
            } else if k == "nonce" {
                o.nonce = Some(integer(v, R, "nonce")?);
            } else if k == "maxReceiptPolls" {
                o.max_receipt_polls = small(v, "maxReceiptPolls")?;
            } else if k == "receiptPollIntervalMs" {
                o.receipt_poll_interval_ms = small(v, "receiptPollIntervalMs")?;
            } else {
                return Err(err(
                    R,
                    ErrorKind::Invalid(
                        "unknown member (known: checkChainId, gasLimitMarginPercent, baseFeeMultiplier, priorityFeePerGas, maxFeePerGas, nonce, maxReceiptPolls, receiptPollIntervalMs)",
                    ),
                    "",
                ));
            }
        }
        Ok(o)
    }
}

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

/// A JSON-RPC call the host must make.
#[derive(Clone, Copy, Debug)]
pub struct Call<'m> {
    /// The request, with its id.
    pub envelope: Envelope<'m>,
    /// Milliseconds to wait before sending (non-zero between receipt polls).
    pub delay_ms: u32,
}

impl Call<'_> {
    /// The method name (`eth_call`, ...).
    #[must_use]
    pub fn method(&self) -> &'static str {
        self.envelope.request.method()
    }
}

impl ToJson for Call<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        self.envelope.write_json(out)
    }
}

/// What the host does next.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug)]
pub enum Step<'m> {
    /// Send this request and [`Machine::feed`] the response body.
    Call(Call<'m>),
    /// Finished.
    Done(&'m Outcome),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Eip3009 {
        auth: Eip3009Authorization,
        name_hash: [u8; 32],
        version_hash: [u8; 32],
    },
    Permit2 {
        auth: Permit2Authorization,
        upto: bool,
    },
}

/// What the machine keeps of a payment: no borrow of the request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Payment {
    network: Network,
    chain_id: u64,
    asset: Address,
    payer: Address,
    /// The amount checked against the balance, and transferred.
    amount: Amount,
    signature: [u8; 65],
    kind: Kind,
}

impl Payment {
    /// Where the settlement transaction goes.
    fn target(&self) -> Address {
        match self.kind {
            Kind::Eip3009 { .. } => self.asset,
            Kind::Permit2 { upto: false, .. } => X402_EXACT_PERMIT2_PROXY,
            Kind::Permit2 { upto: true, .. } => X402_UPTO_PERMIT2_PROXY,
        }
    }

    /// The `Transfer(from, to, value)` settlement must emit.
    fn expected_transfer(&self) -> (Address, Address, Amount) {
        match &self.kind {
            Kind::Eip3009 { auth, .. } => (auth.from, auth.to, auth.value),
            Kind::Permit2 { auth, .. } => (auth.from, auth.witness.to, self.amount),
        }
    }

    fn is_upto(&self) -> bool {
        matches!(self.kind, Kind::Permit2 { upto: true, .. })
    }

    fn failed_tx_reason(&self) -> Reason {
        if self.is_upto() {
            Reason::UptoEvmTransactionFailed
        } else {
            Reason::ExactEvmTransactionFailed
        }
    }

    /// The settlement calldata.
    fn calldata(&self, out: &mut [u8]) -> usize {
        let n = match &self.kind {
            Kind::Eip3009 { auth, .. } => {
                let c = abi::transfer_with_authorization_sig(auth, &self.signature);
                out.get_mut(..c.len())
                    .map(|d| d.copy_from_slice(&c))
                    .map(|()| c.len())
            }
            Kind::Permit2 { auth, upto: false } => {
                abi::exact_permit2_settle(auth, &self.signature, out).ok()
            }
            Kind::Permit2 { auth, upto: true } => {
                abi::upto_permit2_settle(auth, &self.amount, &self.signature, out).ok()
            }
        };
        n.unwrap_or(0)
    }
}

/// The signature and fees of the settlement transaction, kept to resend it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SignedParts {
    y_parity: bool,
    r: [u8; 32],
    s: [u8; 32],
    max_fee: u128,
    tip: u128,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    ChainId,
    AssetCode,
    Simulate,
    AuthorizationState,
    Name,
    Version,
    Balance,
    Proxy,
    Allowance,
    Nonce,
    BaseFee,
    PriorityFee,
    GasPrice,
    Send,
    Receipt,
    Done,
}

/// Verification with the chain, or settlement, of one payment. See the module docs.
#[derive(Clone, Debug)]
pub struct Machine {
    settle: bool,
    key: Option<PrivateKey>,
    caller: Option<Address>,
    options: Options,
    payment: Option<Payment>,
    stage: Stage,
    id: u64,
    polls: u32,
    calldata: [u8; CALLDATA_MAX],
    calldata_len: usize,
    aux: [u8; 68],
    aux_len: usize,
    failure: Message,
    mapped: Option<Reason>,
    network: Option<Network>,
    payer: Option<Address>,
    receipt: Option<(u64, u64, Option<u128>)>,
    gas_limit: u64,
    nonce: u64,
    base_fee: u128,
    tip: u128,
    signed: Option<SignedParts>,
    tx_hash: Option<B256>,
    outcome: Option<Outcome>,
}

fn body_limits() -> Limits {
    Limits {
        max_len: 64 * 1024,
        ..Limits::DEFAULT
    }
}

impl Machine {
    fn blank(settle: bool, key: Option<PrivateKey>, options: &Options) -> Machine {
        Machine {
            settle,
            caller: key.as_ref().map(PrivateKey::address),
            key,
            options: *options,
            payment: None,
            stage: Stage::Done,
            id: 1,
            polls: 0,
            calldata: [0; CALLDATA_MAX],
            calldata_len: 0,
            aux: [0; 68],
            aux_len: 0,
            failure: Message::EMPTY,
            mapped: None,
            network: None,
            payer: None,
            receipt: None,
            gas_limit: 0,
            nonce: 0,
            base_fee: 0,
            tip: 0,
            signed: None,
            tx_hash: None,
            outcome: None,
        }
    }

    /// Verifies a `POST /verify` body with the chain.
    #[must_use]
    pub fn verify_json(body: &[u8], now: u64, config: &Config<'_>, options: &Options) -> Machine {
        match VerifyRequest::from_json_bytes(body, &body_limits()) {
            Ok(req) => Machine::verify(&req, now, config, options),
            Err(e) => {
                let mut m = Machine::blank(false, None, options);
                m.finish(e.reason(), &e);
                m
            }
        }
    }

    /// Verifies a decoded `POST /verify` body with the chain: the offline checks
    /// of [`verify::verify`] first, then the calls listed in the module docs.
    #[must_use]
    pub fn verify(
        req: &VerifyRequest<'_>,
        now: u64,
        config: &Config<'_>,
        options: &Options,
    ) -> Machine {
        let mut m = Machine::blank(false, None, options);
        m.start(&req.payment_payload, &req.payment_requirements, now, config);
        m
    }

    /// Settles a `POST /settle` body, paying gas from `key`'s account.
    #[must_use]
    pub fn settle_json(body: &[u8], now: u64, key: &PrivateKey, options: &Options) -> Machine {
        match VerifyRequest::from_json_bytes(body, &body_limits()) {
            Ok(req) => Machine::settle(&req, now, key, options),
            Err(e) => {
                let mut m = Machine::blank(true, Some(key.clone()), options);
                m.finish(e.reason(), &e);
                m
            }
        }
    }

    /// Settles a decoded `POST /settle` body, paying gas from `key`'s account.
    /// For `upto`, `paymentRequirements.amount` is the amount to charge (at most
    /// the permitted amount); `witness.facilitator` must be `key`'s address.
    #[must_use]
    pub fn settle(
        req: &VerifyRequest<'_>,
        now: u64,
        key: &PrivateKey,
        options: &Options,
    ) -> Machine {
        let mut m = Machine::blank(true, Some(key.clone()), options);
        let own = [key.address()];
        let config = Config {
            facilitator_addresses: &own,
        };
        m.start(
            &req.payment_payload,
            &req.payment_requirements,
            now,
            &config,
        );
        m
    }

    fn start(
        &mut self,
        payload: &PaymentPayload<'_>,
        requirements: &PaymentRequirements<'_>,
        now: u64,
        config: &Config<'_>,
    ) {
        self.network = Some(match payload {
            PaymentPayload::V1(p) => p.network,
            PaymentPayload::V2(p) => p.accepted.network,
        });
        let extracted = extract(payload, requirements);
        // upto settles any amount up to the permitted one: the offline checks
        // compare against the permitted amount, the charge is checked below.
        let charge = requirements.amount();
        let mut checked = *requirements;
        if let (Some(p), PaymentRequirements::V2(r)) = (&extracted, &mut checked) {
            if let (Kind::Permit2 { auth, upto: true }, true) = (&p.kind, self.settle) {
                r.amount = auth.permitted.amount;
            }
        }
        let verdict = verify::verify_parts(payload, &checked, now, config);
        self.payer = verdict.payer;
        if let Some(reason) = verdict.reason {
            self.finish(reason, &verdict.message.as_str());
            return;
        }
        let Some(mut p) = extracted else {
            self.finish_unexpected(&"this payment cannot be checked on chain");
            return;
        };
        if let Kind::Permit2 { auth, upto: true } = p.kind {
            if self.settle {
                p.amount = charge;
                self.payment = Some(p);
                if charge > auth.permitted.amount {
                    self.finish(
                        Reason::UptoSettlementExceedsAmount,
                        &"the amount to settle exceeds permitted.amount",
                    );
                    return;
                }
                if charge.is_zero() {
                    // Nothing to charge: settled without a transaction, as the reference does.
                    self.outcome = Some(Outcome::Settled(self.settlement(
                        true,
                        None,
                        Message::EMPTY,
                    )));
                    return;
                }
            } else {
                // The upto proxy only accepts the facilitator the witness names.
                self.caller = auth.witness.facilitator;
            }
        }
        self.calldata_len = p.calldata(&mut self.calldata);
        self.payment = Some(p);
        self.stage = if self.options.check_chain_id {
            Stage::ChainId
        } else {
            Stage::AssetCode
        };
    }

    /// The next thing to do.
    #[must_use]
    pub fn step(&self) -> Step<'_> {
        if let Some(o) = &self.outcome {
            return Step::Done(o);
        }
        let Some(p) = &self.payment else {
            // Unreachable: a machine without a payment has an outcome.
            return Step::Call(self.call(Request::ChainId));
        };
        let caller = self.caller;
        let call = |to: Address, data| call_request(caller, to, data);
        let aux = self.aux.get(..self.aux_len).unwrap_or_default();
        let main = self.calldata.get(..self.calldata_len).unwrap_or_default();
        let request = match self.stage {
            Stage::ChainId => Request::ChainId,
            Stage::AssetCode => Request::GetCode {
                address: p.asset,
                block: BlockTag::Latest,
            },
            Stage::Simulate if self.settle => Request::EstimateGas {
                call: call(p.target(), main),
            },
            Stage::Simulate => Request::Call {
                call: call(p.target(), main),
                block: BlockTag::Latest,
            },
            Stage::AuthorizationState
            | Stage::Name
            | Stage::Version
            | Stage::Balance
            | Stage::Allowance => Request::Call {
                call: call(p.asset, aux),
                block: BlockTag::Latest,
            },
            Stage::Proxy => Request::Call {
                call: call(p.target(), aux),
                block: BlockTag::Latest,
            },
            Stage::Nonce => Request::GetTransactionCount {
                address: self.caller.unwrap_or_default(),
                block: BlockTag::Pending,
            },
            Stage::BaseFee => Request::GetBlockByNumber {
                block: BlockTag::Latest,
            },
            Stage::PriorityFee => Request::MaxPriorityFeePerGas,
            Stage::GasPrice => Request::GasPrice,
            Stage::Send => match self.signed_tx(p) {
                Some(tx) => Request::SendRawTransaction { tx },
                None => Request::ChainId,
            },
            Stage::Receipt => Request::GetTransactionReceipt {
                hash: self.tx_hash.unwrap_or_default(),
            },
            Stage::Done => Request::ChainId,
        };
        let mut c = self.call(request);
        if self.stage == Stage::Receipt && self.polls > 0 {
            c.delay_ms = self.options.receipt_poll_interval_ms;
        }
        Step::Call(c)
    }

    fn call<'m>(&self, request: Request<'m>) -> Call<'m> {
        Call {
            envelope: Envelope {
                id: self.id,
                request,
            },
            delay_ms: 0,
        }
    }

    fn signed_tx(&self, p: &Payment) -> Option<SignedTransaction<'_>> {
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

    /// The outcome, once done.
    #[must_use]
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// The hash of the settlement transaction, once it is signed.
    #[must_use]
    pub fn transaction_hash(&self) -> Option<B256> {
        self.tx_hash
    }

    /// Feeds the response body of the call [`Machine::step`] asked for.
    ///
    /// # Errors
    /// `invalid_response` if the body is not a JSON-RPC response to that call
    /// (malformed, or another `id`); the machine is unchanged then, and the host
    /// may send the same call again. Feeding a finished machine is an error too.
    pub fn feed(&mut self, body: &[u8]) -> Result<(), Error> {
        if self.outcome.is_some() {
            return Err(Error::new(
                Reason::InvalidResponse,
                ErrorKind::Invalid("the machine is done; nothing was asked"),
            ));
        }
        let resp = rpc::parse_response(body)?;
        if !resp.id_is(self.id) {
            return Err(Error::new(
                Reason::InvalidResponse,
                ErrorKind::Invalid("response id does not match the request"),
            )
            .at("id"));
        }
        let Some(p) = self.payment else {
            return Err(Error::new(
                Reason::InvalidResponse,
                ErrorKind::Invalid("no payment"),
            ));
        };
        self.on_response(&p, resp.result)?;
        self.id += 1;
        Ok(())
    }

    fn on_response(
        &mut self,
        p: &Payment,
        result: Result<JsonValue<'_>, rpc::RpcError<'_>>,
    ) -> Result<(), Error> {
        let method = self.step_method();
        match self.stage {
            Stage::ChainId => {
                let Ok(v) = result else {
                    return self.infra(method, result.err());
                };
                let id = rpc::quantity_u64(v)?;
                if id == p.chain_id {
                    self.stage = Stage::AssetCode;
                } else {
                    self.finish_unexpected(&format_args!(
                        "the RPC node serves chain {id}, the payment is for chain {}",
                        p.chain_id
                    ));
                }
            }
            Stage::AssetCode => {
                let Ok(v) = result else {
                    return self.infra(method, result.err());
                };
                match rpc::data_is_empty(v) {
                    Some(false) => self.stage = Stage::Simulate,
                    Some(true) => self.finish(
                        Reason::AssetNotDeployedContract,
                        &format_args!("no contract code at asset {} on chain {}", p.asset, p.chain_id),
                    ),
                    None => return Err(rpc_invalid("eth_getCode result is not hex data")),
                }
            }
            Stage::Simulate => match result {
                Ok(v) if self.settle => {
                    let estimate = rpc::quantity_u64(v)?;
                    let margin = u64::from(self.options.gas_limit_margin_percent);
                    self.gas_limit = estimate.saturating_mul(100 + margin) / 100;
                    match self.options.nonce {
                        Some(n) => {
                            self.nonce = n;
                            self.stage = Stage::BaseFee;
                        }
                        None => self.stage = Stage::Nonce,
                    }
                }
                Ok(_) => self.finish_valid(),
                Err(e) => {
                    let mut buf = [0u8; 512];
                    let data = e.revert_data(&mut buf).unwrap_or_default();
                    let revert = abi::decode_revert(data);
                    self.failure = if !e.is_revert() {
                        Message::new(&format_args!("{method} failed: {e}"))
                    } else if revert == Revert::Empty {
                        // Nodes put the reason in the message when they attach no data.
                        Message::new(&e.message)
                    } else {
                        Message::new(&revert)
                    };
                    self.mapped = map_revert(p, &revert, self.failure.as_str());
                    self.begin_diagnosis(p);
                }
            },
            Stage::AuthorizationState => match result.ok().map(|v| call_result(v, abi::decode_bool)) {
                Some(Some(true)) => self.finish(
                    Reason::ExactEvmNonceAlreadyUsed,
                    &"authorizationState(from, nonce) is true: the authorization was already used or canceled",
                ),
                Some(Some(false)) => self.next_diag(p, Stage::Name),
                _ => self.finish(
                    Reason::ExactEvmEip3009NotSupported,
                    &"the asset does not answer authorizationState(address,bytes32)",
                ),
            },
            Stage::Name | Stage::Version => {
                let mismatch = result.ok().and_then(|v| {
                    let mut buf = [0u8; 512];
                    let data = rpc::data(v, &mut buf).ok()?;
                    let s = abi::decode_string(data).ok()?;
                    let want = match (&p.kind, self.stage) {
                        (Kind::Eip3009 { name_hash, .. }, Stage::Name) => name_hash,
                        (Kind::Eip3009 { version_hash, .. }, _) => version_hash,
                        _ => return None,
                    };
                    (crate::evm::keccak256(s.as_bytes()) != *want).then_some(())
                });
                match (mismatch, self.stage) {
                    (Some(()), Stage::Name) => self.finish(
                        Reason::ExactEvmTokenNameMismatch,
                        &"the token's name() differs from extra.name (the EIP-712 domain name)",
                    ),
                    (Some(()), _) => self.finish(
                        Reason::ExactEvmTokenVersionMismatch,
                        &"the token's version() differs from extra.version (the EIP-712 domain version)",
                    ),
                    (None, Stage::Name) => self.next_diag(p, Stage::Version),
                    (None, _) => self.next_diag(p, Stage::Balance),
                }
            }
            Stage::Balance => {
                let balance = result.ok().and_then(|v| call_result(v, abi::decode_uint));
                if balance.is_some_and(|b| b < p.amount) {
                    let reason = match p.kind {
                        Kind::Eip3009 { .. } => Reason::ExactEvmInsufficientBalance,
                        Kind::Permit2 { .. } => Reason::Permit2InsufficientBalance,
                    };
                    self.finish(reason, &format_args!("balanceOf(payer) is below {}", p.amount));
                } else if matches!(p.kind, Kind::Permit2 { .. }) {
                    self.next_diag(p, Stage::Allowance);
                } else {
                    self.finish_diagnosis(p);
                }
            }
            Stage::Proxy => {
                if result.ok().and_then(|v| call_result(v, abi::decode_address)).is_some() {
                    self.next_diag(p, Stage::Balance);
                } else {
                    self.finish(
                        Reason::Permit2ProxyNotDeployed,
                        &format_args!("the x402 Permit2 proxy {} does not answer PERMIT2()", p.target()),
                    );
                }
            }
            Stage::Allowance => {
                let allowance = result.ok().and_then(|v| call_result(v, abi::decode_uint));
                if allowance.is_some_and(|a| a < p.amount) {
                    self.finish(
                        Reason::Permit2AllowanceRequired,
                        &format_args!("the payer's allowance to Permit2 is below {}", p.amount),
                    );
                } else {
                    self.finish_diagnosis(p);
                }
            }
            Stage::Nonce => {
                let Ok(v) = result else {
                    return self.infra(method, result.err());
                };
                self.nonce = rpc::quantity_u64(v)?;
                self.stage = Stage::BaseFee;
            }
            Stage::BaseFee => {
                let Ok(v) = result else {
                    return self.infra(method, result.err());
                };
                let header = rpc::BlockHeader::from_json(v)?;
                let Some(base) = header.base_fee_per_gas else {
                    self.finish_unexpected(&"the chain has no EIP-1559 base fee (pre-London)");
                    return Ok(());
                };
                self.base_fee = base;
                match self.options.priority_fee_per_gas {
                    Some(tip) => {
                        self.tip = tip;
                        self.sign_and_send(p);
                    }
                    None => self.stage = Stage::PriorityFee,
                }
            }
            Stage::PriorityFee => match result {
                Ok(v) => {
                    self.tip = rpc::quantity_u128(v)?;
                    self.sign_and_send(p);
                }
                // Nodes without eth_maxPriorityFeePerGas: derive the tip from eth_gasPrice.
                Err(_) => self.stage = Stage::GasPrice,
            },
            Stage::GasPrice => {
                let Ok(v) = result else {
                    return self.infra(method, result.err());
                };
                self.tip = rpc::quantity_u128(v)?.saturating_sub(self.base_fee);
                self.sign_and_send(p);
            }
            Stage::Send => match result {
                Ok(v) => {
                    let hash = rpc::hash(v, "result")?;
                    if Some(hash) != self.tx_hash {
                        self.finish_unexpected(&format_args!(
                            "the node names the transaction {hash}, its hash is {}",
                            self.tx_hash.unwrap_or_default()
                        ));
                    } else {
                        self.stage = Stage::Receipt;
                    }
                }
                // A resend of a transaction the node already has: wait for it.
                Err(e) if contains_ci(e.message, "already known") || contains_ci(e.message, "known transaction") => {
                    self.stage = Stage::Receipt;
                }
                // The node refused the transaction itself: it was not broadcast.
                Err(e) if NOT_BROADCAST.iter().any(|m| contains_ci(e.message, m)) => {
                    self.tx_hash = None;
                    self.finish(p.failed_tx_reason(), &format_args!("eth_sendRawTransaction failed: {e}"));
                }
                // Anything else ("nonce too low" after a resend, an internal error,
                // a timeout reported as an error) may follow a broadcast: look for
                // the receipt; if none comes, the settlement is pending, never
                // "failed" (which would tell the payer to pay again).
                Err(_) => self.stage = Stage::Receipt,
            },
            Stage::Receipt => {
                let Ok(v) = result else {
                    return self.infra(method, result.err());
                };
                match rpc::Receipt::from_json(v)? {
                    None => {
                        self.polls += 1;
                        if self.polls >= self.options.max_receipt_polls {
                            self.finish(
                                Reason::SettlementPending,
                                &"the transaction was sent but no receipt arrived in time; query it by hash",
                            );
                        }
                    }
                    Some(r) => self.on_receipt(p, &r),
                }
            }
            Stage::Done => {}
        }
        Ok(())
    }

    fn step_method(&self) -> &'static str {
        match self.step() {
            Step::Call(c) => c.method(),
            Step::Done(_) => "",
        }
    }

    fn begin_diagnosis(&mut self, p: &Payment) {
        match &p.kind {
            Kind::Eip3009 { auth, .. } => {
                self.set_aux(&abi::authorization_state(&auth.from, &auth.nonce));
                self.stage = Stage::AuthorizationState;
            }
            Kind::Permit2 { .. } => {
                self.set_aux(&abi::permit2());
                self.stage = Stage::Proxy;
            }
        }
    }

    fn next_diag(&mut self, p: &Payment, stage: Stage) {
        match stage {
            Stage::Name => self.set_aux(&abi::name()),
            Stage::Version => self.set_aux(&abi::version()),
            Stage::Balance => self.set_aux(&abi::balance_of(&p.payer)),
            Stage::Allowance => self.set_aux(&abi::allowance(&p.payer, &PERMIT2_ADDRESS)),
            _ => {}
        }
        self.stage = stage;
    }

    fn set_aux(&mut self, data: &[u8]) {
        let n = data.len().min(self.aux.len());
        if let (Some(dst), Some(src)) = (self.aux.get_mut(..n), data.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.aux_len = n;
    }

    fn finish_diagnosis(&mut self, p: &Payment) {
        let failure = self.failure;
        let reason = if self.settle {
            self.mapped.unwrap_or(p.failed_tx_reason())
        } else {
            match p.kind {
                Kind::Eip3009 { .. } => Reason::ExactEvmTransactionSimulationFailed,
                Kind::Permit2 { .. } => Reason::Permit2SimulationFailed,
            }
        };
        self.finish(reason, &failure);
    }

    fn sign_and_send(&mut self, p: &Payment) {
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

    fn on_receipt(&mut self, p: &Payment, r: &rpc::Receipt<'_>) {
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

    fn settlement(&self, success: bool, reason: Option<Reason>, message: Message) -> Settlement {
        let upto = self.payment.as_ref().filter(|p| p.is_upto());
        Settlement {
            success,
            reason,
            message,
            payer: self.payer,
            transaction: self.tx_hash,
            network: self.network,
            amount: if success {
                upto.map(|p| p.amount)
            } else {
                None
            },
            block_number: self.receipt.map(|r| r.0),
            gas_used: self.receipt.map(|r| r.1),
            effective_gas_price: self.receipt.and_then(|r| r.2),
        }
    }

    fn finish(&mut self, reason: Reason, message: &dyn fmt::Display) {
        let mut message = Message::new(message);
        let diagnosing = matches!(
            self.stage,
            Stage::AuthorizationState
                | Stage::Name
                | Stage::Version
                | Stage::Balance
                | Stage::Proxy
                | Stage::Allowance
        );
        if diagnosing && !self.failure.is_empty() && message != self.failure {
            let failure = self.failure;
            let _ = write!(message, " (simulation: {failure})");
        }
        self.outcome = Some(if self.settle {
            Outcome::Settled(self.settlement(false, Some(reason), message))
        } else {
            Outcome::Verified(ChainVerdict {
                reason: Some(reason),
                message,
                payer: self.payer,
            })
        });
        self.stage = Stage::Done;
    }

    fn finish_valid(&mut self) {
        self.outcome = Some(Outcome::Verified(ChainVerdict {
            reason: None,
            message: Message::EMPTY,
            payer: self.payer,
        }));
        self.stage = Stage::Done;
    }

    fn finish_unexpected(&mut self, message: &dyn fmt::Display) {
        let reason = if self.settle {
            Reason::UnexpectedSettleError
        } else {
            Reason::UnexpectedVerifyError
        };
        self.finish(reason, message);
    }

    /// A node error on a call that has no protocol meaning when it fails.
    fn infra(&mut self, method: &str, e: Option<rpc::RpcError<'_>>) -> Result<(), Error> {
        match e {
            Some(e) => self.finish_unexpected(&format_args!("{method} failed: {e}")),
            None => self.finish_unexpected(&format_args!("{method} failed")),
        }
        Ok(())
    }

    /// Runs the machine to its end over `transport`, which sends one JSON-RPC
    /// request body (after waiting the given milliseconds) and returns the
    /// response body.
    ///
    /// # Errors
    /// [`DriveError::Transport`] with the transport's error, or
    /// [`DriveError::Response`] when a response cannot be read.
    pub fn drive<E, R, F>(&mut self, mut transport: F) -> Result<&Outcome, DriveError<E>>
    where
        R: AsRef<[u8]>,
        F: FnMut(&str, u32) -> Result<R, E>,
    {
        let mut buf = [0u8; MAX_REQUEST_LEN];
        loop {
            let (len, delay) = match self.step() {
                Step::Done(_) => break,
                Step::Call(call) => {
                    let mut sink = SliceSink::new(&mut buf);
                    call.write_json(&mut sink)
                        .map_err(|_| DriveError::Response(too_long()))?;
                    (sink.len(), call.delay_ms)
                }
            };
            let text = buf
                .get(..len)
                .and_then(|b| core::str::from_utf8(b).ok())
                .unwrap_or("");
            let body = transport(text, delay).map_err(DriveError::Transport)?;
            self.feed(body.as_ref()).map_err(DriveError::Response)?;
        }
        self.outcome
            .as_ref()
            .ok_or(DriveError::Response(too_long()))
    }
}

fn call_request(from: Option<Address>, to: Address, data: &[u8]) -> CallRequest<'_> {
    CallRequest {
        from,
        to,
        data,
        gas: None,
    }
}

fn too_long() -> Error {
    Error::new(Reason::InvalidResponse, ErrorKind::BufferTooSmall)
}

/// Why [`Machine::drive`] stopped before an outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriveError<E> {
    /// The transport failed.
    Transport(E),
    /// A response was not a JSON-RPC answer to the request.
    Response(Error),
}

impl<E: fmt::Display> fmt::Display for DriveError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriveError::Transport(e) => write!(f, "RPC transport failed: {e}"),
            DriveError::Response(e) => write!(f, "unreadable RPC response: {e}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for DriveError<E> {}

fn rpc_invalid(why: &'static str) -> Error {
    Error::new(Reason::InvalidResponse, ErrorKind::Invalid(why)).in_object("rpc")
}

/// Decodes an `eth_call` result with `decode`; `None` if either step fails.
fn call_result<T>(v: JsonValue<'_>, decode: fn(&[u8]) -> Result<T, abi::AbiError>) -> Option<T> {
    let mut buf = [0u8; 512];
    let data = rpc::data(v, &mut buf).ok()?;
    decode(data).ok()
}

/// Case-insensitive ASCII search of `needle` in `hay` from byte `from`;
/// returns the end of the match.
fn find_ci(hay: &str, needle: &str, from: usize) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    (from..=h.len().checked_sub(n.len())?).find_map(|i| {
        h.get(i..i + n.len())
            .filter(|w| w.eq_ignore_ascii_case(n))
            .map(|_| i + n.len())
    })
}

/// Whether `words` occur in `hay` in this order (like the regex `a.*b.*c`, case-insensitive).
fn in_order_ci(hay: &str, words: &[&str]) -> bool {
    let mut at = 0;
    for w in words {
        match find_ci(hay, w, at) {
            Some(end) => at = end,
            None => return false,
        }
    }
    true
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
    "nonce too high",
    "invalid sender",
    "invalid signature",
];

fn contains_ci(hay: JsonStr<'_>, needle: &str) -> bool {
    hay.as_str()
        .is_some_and(|h| find_ci(h, needle, 0).is_some())
}

/// The reason a settlement's failed simulation maps to, from its revert: for
/// EIP-3009 the reference's reading of token revert strings, for Permit2 its
/// reading of the proxies' and Permit2's custom errors.
fn map_revert(p: &Payment, revert: &Revert<'_>, text: &str) -> Option<Reason> {
    let hay = match revert {
        Revert::Reason(s) => s,
        Revert::Custom(e) => e.signature,
        _ => text,
    };
    let has = |w: &str| find_ci(hay, w, 0).is_some();
    match p.kind {
        Kind::Eip3009 { .. } => {
            if in_order_ci(hay, &["authorization", "expired"])
                || in_order_ci(hay, &["authorization", "valid before"])
                || has("AuthorizationExpired")
            {
                Some(Reason::ExactEvmValidBefore)
            } else if in_order_ci(hay, &["authorization", "not", "valid"])
                || has("AuthorizationNotYetValid")
            {
                Some(Reason::ExactEvmValidAfter)
            } else if in_order_ci(hay, &["authorization", "used"])
                || has("AuthorizationAlreadyUsed")
                || has("AuthorizationUsedOrCanceled")
            {
                Some(Reason::ExactEvmNonceAlreadyUsed)
            } else if in_order_ci(hay, &["transfer", "exceeds", "balance"])
                || in_order_ci(hay, &["insufficient", "balance"])
                || has("ERC20InsufficientBalance")
            {
                Some(Reason::ExactEvmInsufficientBalance)
            } else if in_order_ci(hay, &["invalid", "signature"])
                || has("SignerMismatch")
                || has("InvalidSignatureV")
                || has("InvalidSignatureS")
            {
                Some(Reason::ExactEvmSignature)
            } else {
                None
            }
        }
        Kind::Permit2 { .. } => [
            (
                "Permit2612AmountMismatch",
                Reason::Permit2Eip2612AmountMismatch,
            ),
            ("InvalidAmount", Reason::Permit2InvalidAmount),
            ("InvalidDestination", Reason::Permit2InvalidDestination),
            ("InvalidOwner", Reason::Permit2InvalidOwner),
            ("PaymentTooEarly", Reason::Permit2PaymentTooEarly),
            ("InvalidSignature", Reason::Permit2Signature),
            ("InvalidSigner", Reason::Permit2Signature),
            ("SignatureExpired", Reason::Permit2Signature),
            ("InvalidNonce", Reason::Permit2InvalidNonce),
            ("AmountExceedsPermitted", Reason::UptoAmountExceedsPermitted),
            (
                "UnauthorizedFacilitator",
                Reason::UptoUnauthorizedFacilitator,
            ),
        ]
        .into_iter()
        .find(|(w, _)| hay.contains(w))
        .map(|(_, r)| r),
    }
}

/// Reads what settlement needs from a payment the offline verifier accepted.
fn extract(payload: &PaymentPayload<'_>, req: &PaymentRequirements<'_>) -> Option<Payment> {
    let (obj, network) = match payload {
        PaymentPayload::V1(p) => (p.payload_json().ok()?, p.network),
        PaymentPayload::V2(p) => (p.payload_json().ok()?, p.accepted.network),
    };
    let asset = crate::types::v2::evm_address_field(req.asset(), "asset").ok()?;
    let chain_id = req.network().evm_chain_id()?;
    match SchemePayload::from_object(obj).ok()? {
        SchemePayload::Eip3009(e) => {
            let extra = req.extra()?;
            Some(Payment {
                network,
                chain_id,
                asset,
                payer: e.authorization.from,
                amount: req.amount(),
                signature: Signature::parse_hex(e.signature).ok()?.to_bytes(),
                kind: Kind::Eip3009 {
                    auth: e.authorization,
                    name_hash: keccak_text(extra.name?),
                    version_hash: keccak_text(extra.version?),
                },
            })
        }
        SchemePayload::Permit2(pp) => Some(Payment {
            network,
            chain_id,
            asset,
            payer: pp.authorization.from,
            amount: pp.authorization.permitted.amount,
            signature: Signature::parse_hex(pp.signature).ok()?.to_bytes(),
            kind: Kind::Permit2 {
                auth: pp.authorization,
                upto: req.scheme() == "upto",
            },
        }),
        SchemePayload::Batch(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Policy, create_payment};
    use crate::header;
    use std::format;
    use std::string::String;
    use std::vec::Vec;

    const TOKEN: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    const PAY_TO: &str = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
    const NOW: u64 = 1_750_000_000;

    fn body(accept_extra: &str) -> String {
        let accept = format!(
            r#"{{"scheme":"exact","network":"eip155:31337","amount":"1000","asset":"{TOKEN}","payTo":"{PAY_TO}","maxTimeoutSeconds":60,"extra":{{"name":"USD Coin","version":"2"{accept_extra}}}}}"#
        );
        let pr = format!(
            r#"{{"x402Version":2,"resource":{{"url":"https://example.com"}},"accepts":[{accept}]}}"#
        );
        let key = PrivateKey::from_bytes(&[0x11; 32]).unwrap();
        let mut out = [0u8; 4096];
        let c = create_payment(
            pr.as_bytes(),
            &key,
            [7; 32],
            NOW,
            &Policy::default(),
            &mut out,
        )
        .unwrap();
        let mut scratch = [0u8; 4096];
        let payload = header::decode_payment_signature(
            core::str::from_utf8(&out[..c.len]).unwrap(),
            &mut scratch,
        )
        .unwrap();
        format!(
            r#"{{"x402Version":2,"paymentPayload":{},"paymentRequirements":{accept}}}"#,
            payload.to_json_string()
        )
    }

    trait OwnedJson {
        fn to_owned_json(&self) -> String;
    }

    impl OwnedJson for Step<'_> {
        fn to_owned_json(&self) -> String {
            match self {
                Step::Call(c) => c.to_json_string(),
                Step::Done(o) => o.to_json_string(),
            }
        }
    }

    fn facilitator() -> PrivateKey {
        PrivateKey::from_bytes(&[0x22; 32]).unwrap()
    }

    /// The request the machine wants, as JSON text.
    fn request(m: &Machine) -> String {
        match m.step() {
            Step::Call(c) => c.to_json_string(),
            Step::Done(o) => panic!("done early: {o:?}"),
        }
    }

    fn ok(m: &mut Machine, result: &str) {
        let id = match m.step() {
            Step::Call(c) => c.envelope.id,
            Step::Done(o) => panic!("done early: {o:?}"),
        };
        m.feed(format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#).as_bytes())
            .unwrap();
    }

    fn err(m: &mut Machine, error: &str) {
        let id = match m.step() {
            Step::Call(c) => c.envelope.id,
            Step::Done(o) => panic!("done early: {o:?}"),
        };
        m.feed(format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{error}}}"#).as_bytes())
            .unwrap();
    }

    fn done(m: &Machine) -> Outcome {
        match m.step() {
            Step::Done(o) => *o,
            Step::Call(c) => panic!("still calling {}", c.method()),
        }
    }

    fn word_hex(w: [u8; 32]) -> String {
        w.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn abi_string(s: &str) -> String {
        let mut data = format!(
            "{}{}",
            word_hex(abi::u64_word(32)),
            word_hex(abi::u64_word(s.len() as u64))
        );
        for chunk in s.as_bytes().chunks(32) {
            let mut w = [0u8; 32];
            w[..chunk.len()].copy_from_slice(chunk);
            data.push_str(&word_hex(w));
        }
        format!("\"0x{data}\"")
    }

    #[test]
    fn verify_calls_and_valid_verdict() {
        let b = body("");
        let mut m =
            Machine::verify_json(b.as_bytes(), NOW, &Config::default(), &Options::default());
        assert_eq!(
            request(&m),
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#
        );
        // Garbage, another id, or an error object where a result is owed leave the machine as it was.
        assert!(m.feed(b"<html>").is_err());
        assert!(
            m.feed(br#"{"jsonrpc":"2.0","id":9,"result":"0x7a69"}"#)
                .is_err()
        );
        assert_eq!(
            request(&m),
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#
        );
        ok(&mut m, "\"0x7a69\"");
        assert!(request(&m).contains(r#""method":"eth_getCode","params":["0x5fbdb2315678afecb367f032d93f642f64180aa3","latest"]"#));
        ok(&mut m, "\"0x6080\"");
        let sim = request(&m);
        assert!(sim.contains(r#""method":"eth_call","params":[{"to":"0x5fbdb2315678afecb367f032d93f642f64180aa3","data":"0xe3ee160e"#), "{sim}");
        ok(&mut m, "\"0x\"");
        let o = done(&m);
        assert!(o.is_success());
        assert!(
            o.to_json_string()
                .starts_with(r#"{"isValid":true,"payer":"0x"#)
        );
        assert!(
            m.feed(br#"{"jsonrpc":"2.0","id":4,"result":"0x"}"#)
                .is_err()
        );
    }

    #[test]
    fn geth_style_revert_is_diagnosed_in_the_reference_order() {
        let b = body("");
        let mut m =
            Machine::verify_json(b.as_bytes(), NOW, &Config::default(), &Options::default());
        ok(&mut m, "\"0x7a69\"");
        ok(&mut m, "\"0x6080\"");
        let reason = abi_string("FiatTokenV2: invalid signature");
        err(
            &mut m,
            &format!(
                r#"{{"code":3,"message":"execution reverted: FiatTokenV2: invalid signature","data":"0x08c379a0{}"}}"#,
                reason.trim_matches('"').trim_start_matches("0x")
            ),
        );
        assert!(
            request(&m).contains("0xe94a0102"),
            "authorizationState first"
        );
        ok(&mut m, &format!("\"0x{}\"", word_hex([0; 32])));
        assert!(request(&m).contains("0x06fdde03"), "then name()");
        ok(&mut m, &abi_string("USD Coin"));
        assert!(request(&m).contains("0x54fd4d50"), "then version()");
        ok(&mut m, &abi_string("2"));
        assert!(request(&m).contains("0x70a08231"), "then balanceOf");
        ok(&mut m, &format!("\"0x{}\"", word_hex(abi::u64_word(1000))));
        let o = done(&m);
        assert_eq!(
            o.reason(),
            Some(Reason::ExactEvmTransactionSimulationFailed)
        );
        let Outcome::Verified(v) = o else {
            unreachable!()
        };
        assert_eq!(
            v.message.as_str(),
            "execution reverted: FiatTokenV2: invalid signature"
        );
    }

    #[test]
    fn version_mismatch_and_unsupported_tokens() {
        let b = body("");
        let mut m =
            Machine::verify_json(b.as_bytes(), NOW, &Config::default(), &Options::default());
        ok(&mut m, "\"0x7a69\"");
        ok(&mut m, "\"0x6080\"");
        err(&mut m, r#"{"code":-32000,"message":"execution reverted"}"#);
        ok(&mut m, &format!("\"0x{}\"", word_hex([0; 32])));
        ok(&mut m, &abi_string("USD Coin"));
        ok(&mut m, &abi_string("1"));
        assert_eq!(
            done(&m).reason(),
            Some(Reason::ExactEvmTokenVersionMismatch)
        );

        // No authorizationState: `0x` from a contract without it.
        let mut m =
            Machine::verify_json(b.as_bytes(), NOW, &Config::default(), &Options::default());
        ok(&mut m, "\"0x7a69\"");
        ok(&mut m, "\"0x6080\"");
        err(&mut m, r#"{"code":-32000,"message":"execution reverted"}"#);
        ok(&mut m, "\"0x\"");
        assert_eq!(done(&m).reason(), Some(Reason::ExactEvmEip3009NotSupported));
    }

    #[test]
    fn wrong_chain_and_node_failures_end_in_unexpected_errors() {
        let b = body("");
        let mut m =
            Machine::verify_json(b.as_bytes(), NOW, &Config::default(), &Options::default());
        ok(&mut m, "\"0x2105\"");
        assert_eq!(done(&m).reason(), Some(Reason::UnexpectedVerifyError));
        let mut m =
            Machine::verify_json(b.as_bytes(), NOW, &Config::default(), &Options::default());
        ok(&mut m, "\"0x7a69\"");
        err(&mut m, r#"{"code":-32005,"message":"rate limited"}"#);
        let o = done(&m);
        assert_eq!(o.reason(), Some(Reason::UnexpectedVerifyError));
        assert!(
            o.to_json_string()
                .contains("eth_getCode failed: rate limited")
        );
    }

    /// Drives a settlement up to the receipt; returns the hash it sent.
    fn settle_to_receipt(m: &mut Machine) -> B256 {
        ok(m, "\"0x7a69\"");
        ok(m, "\"0x6080\"");
        assert!(request(m).contains(r#""method":"eth_estimateGas","params":[{"from":"0x"#));
        ok(m, "\"0x186a0\"");
        assert!(request(m).contains(r#""pending"]"#));
        ok(m, "\"0x5\"");
        ok(
            m,
            r#"{"number":"0x10","timestamp":"0x6853b0f0","baseFeePerGas":"0x3b9aca00","transactions":[]}"#,
        );
        // No eth_maxPriorityFeePerGas on this node: the tip comes from eth_gasPrice.
        err(
            m,
            r#"{"code":-32601,"message":"the method eth_maxPriorityFeePerGas does not exist"}"#,
        );
        assert!(request(m).contains("eth_gasPrice"));
        ok(m, "\"0x3b9aca64\"");
        let send = request(m);
        let hash = m.transaction_hash().unwrap();
        let raw_hex = send
            .split("\"params\":[\"0x")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let raw: Vec<u8> = (0..raw_hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&raw_hex[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(
            crate::evm::keccak256(&raw),
            hash.0,
            "the hash is keccak256 of the raw transaction"
        );
        assert_eq!(raw[0], 0x02);
        ok(m, &format!("\"{hash}\""));
        hash
    }

    fn receipt(hash: &B256, status: u8, logs: &str) -> String {
        format!(
            r#"{{"transactionHash":"{hash}","status":"0x{status}","blockNumber":"0x11","gasUsed":"0x1d4c0","effectiveGasPrice":"0x3b9aca64","contractAddress":null,"logs":{logs}}}"#
        )
    }

    #[test]
    fn settlement_polls_then_answers_settlement_pending() {
        let b = body("");
        let opts = Options {
            max_receipt_polls: 3,
            receipt_poll_interval_ms: 250,
            ..Options::default()
        };
        let mut m = Machine::settle_json(b.as_bytes(), NOW, &facilitator(), &opts);
        let hash = settle_to_receipt(&mut m);
        for i in 0..3 {
            match m.step() {
                Step::Call(c) => assert_eq!(c.delay_ms, if i == 0 { 0 } else { 250 }),
                Step::Done(_) => panic!("done early"),
            }
            ok(&mut m, "null");
        }
        let o = done(&m);
        assert_eq!(o.reason(), Some(Reason::SettlementPending));
        let Outcome::Settled(s) = o else {
            unreachable!()
        };
        assert_eq!(s.transaction, Some(hash));
        assert!(
            s.to_json_string()
                .contains(&format!(r#""transaction":"{hash}""#))
        );
    }

    #[test]
    fn reverted_or_eventless_transactions_fail_with_their_hash() {
        let b = body("");
        let mut m = Machine::settle_json(b.as_bytes(), NOW, &facilitator(), &Options::default());
        let hash = settle_to_receipt(&mut m);
        ok(&mut m, &receipt(&hash, 0, "[]"));
        let Outcome::Settled(s) = done(&m) else {
            unreachable!()
        };
        assert_eq!(s.reason, Some(Reason::ExactEvmTransactionFailed));
        assert_eq!(s.transaction, Some(hash));
        assert_eq!(s.gas_used, Some(120_000));

        let mut m = Machine::settle_json(b.as_bytes(), NOW, &facilitator(), &Options::default());
        let hash = settle_to_receipt(&mut m);
        ok(&mut m, &receipt(&hash, 1, "[]"));
        assert_eq!(
            done(&m).reason(),
            Some(Reason::ExactEvmTransferEventMismatch)
        );
    }

    #[test]
    fn a_resent_transaction_the_node_knows_is_awaited() {
        let b = body("");
        let mut m = Machine::settle_json(b.as_bytes(), NOW, &facilitator(), &Options::default());
        ok(&mut m, "\"0x7a69\"");
        ok(&mut m, "\"0x6080\"");
        ok(&mut m, "\"0x186a0\"");
        ok(&mut m, "\"0x5\"");
        ok(
            &mut m,
            r#"{"number":"0x10","timestamp":"0x1","baseFeePerGas":"0x7"}"#,
        );
        ok(&mut m, "\"0x1\"");
        err(&mut m, r#"{"code":-32000,"message":"already known"}"#);
        assert!(request(&m).contains("eth_getTransactionReceipt"));
        let mut m = Machine::settle_json(b.as_bytes(), NOW, &facilitator(), &Options::default());
        ok(&mut m, "\"0x7a69\"");
        ok(&mut m, "\"0x6080\"");
        ok(&mut m, "\"0x186a0\"");
        ok(&mut m, "\"0x5\"");
        ok(
            &mut m,
            r#"{"number":"0x10","timestamp":"0x1","baseFeePerGas":"0x7"}"#,
        );
        ok(&mut m, "\"0x1\"");
        // "nonce too low" may mean this very transaction was mined already:
        // never "failed" (the payer would be asked to pay again); look for it.
        err(&mut m, r#"{"code":-32000,"message":"nonce too low"}"#);
        assert!(request(&m).contains("eth_getTransactionReceipt"));
        // A refusal of the transaction itself: never broadcast, so it failed.
        let mut m = Machine::settle_json(b.as_bytes(), NOW, &facilitator(), &Options::default());
        ok(&mut m, "\"0x7a69\"");
        ok(&mut m, "\"0x6080\"");
        ok(&mut m, "\"0x186a0\"");
        ok(&mut m, "\"0x5\"");
        ok(
            &mut m,
            r#"{"number":"0x10","timestamp":"0x1","baseFeePerGas":"0x7"}"#,
        );
        ok(&mut m, "\"0x1\"");
        err(
            &mut m,
            r#"{"code":-32000,"message":"insufficient funds for gas * price + value"}"#,
        );
        let Outcome::Settled(s) = done(&m) else {
            unreachable!()
        };
        assert_eq!(s.reason, Some(Reason::ExactEvmTransactionFailed));
        assert_eq!(s.transaction, None);
        assert!(s.message.as_str().contains("insufficient funds"));
    }

    #[test]
    fn settle_maps_token_revert_strings_when_the_reads_find_nothing() {
        let b = body("");
        let mut m = Machine::settle_json(b.as_bytes(), NOW, &facilitator(), &Options::default());
        ok(&mut m, "\"0x7a69\"");
        ok(&mut m, "\"0x6080\"");
        err(
            &mut m,
            r#"{"code":-32000,"message":"execution reverted: FiatTokenV2: authorization is expired"}"#,
        );
        ok(&mut m, &format!("\"0x{}\"", word_hex([0; 32])));
        ok(&mut m, &abi_string("USD Coin"));
        ok(&mut m, &abi_string("2"));
        ok(&mut m, &format!("\"0x{}\"", word_hex(abi::u64_word(5000))));
        let Outcome::Settled(s) = done(&m) else {
            unreachable!()
        };
        assert_eq!(s.reason, Some(Reason::ExactEvmValidBefore));
        assert!(!s.success);
        assert_eq!(s.transaction, None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever a node answers, in whatever shape, the machine never panics
        /// and never loops without asking: each fed answer moves it or is refused.
        #[test]
        fn any_answers_never_panic(
            answers in proptest::collection::vec(
                (0usize..12, proptest::prelude::any::<u64>(), "[ -~]{0,40}"),
                1..24,
            ),
            settle in proptest::prelude::any::<bool>(),
        ) {
            let b = body("");
            let mut m = if settle {
                Machine::settle_json(b.as_bytes(), NOW, &facilitator(), &Options::default())
            } else {
                Machine::verify_json(b.as_bytes(), NOW, &Config::default(), &Options::default())
            };
            for (shape, n, text) in answers {
                let id = match m.step() {
                    Step::Call(c) => c.envelope.id,
                    Step::Done(_) => break,
                };
                let quoted = format!("{text:?}");
                let result = match shape {
                    0 => format!("\"0x{n:x}\""),
                    1 => "\"0x\"".into(),
                    2 => "null".into(),
                    3 => quoted.clone(),
                    4 => format!("{{\"number\":\"0x{n:x}\",\"timestamp\":\"0x1\",\"baseFeePerGas\":\"0x{:x}\"}}", n % 1000),
                    5 => format!("\"0x{}\"", word_hex(abi::u64_word(n))),
                    6 => format!("{{\"transactionHash\":\"0x{}\",\"status\":\"0x{}\",\"blockNumber\":\"0x1\",\"gasUsed\":\"0x5\",\"logs\":[{quoted}]}}", word_hex(abi::u64_word(n)), n % 3),
                    7 => abi_string(&text),
                    _ => String::new(),
                };
                let answer = if result.is_empty() {
                    format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{},"message":{quoted},"data":"0x08c379a0"}}}}"#, n % 7)
                } else {
                    format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#)
                };
                let before = m.step().to_owned_json();
                if m.feed(answer.as_bytes()).is_err() {
                    // Refused: nothing changed.
                    proptest::prop_assert_eq!(before, m.step().to_owned_json());
                }
            }
        }
    }

    #[test]
    fn unreadable_bodies_and_offline_failures_never_call() {
        let m = Machine::settle_json(b"{", NOW, &facilitator(), &Options::default());
        let o = done(&m);
        assert_eq!(o.reason(), Some(Reason::InvalidPayload));
        assert_eq!(
            o.to_json_string()
                .split(r#","errorMessage""#)
                .next()
                .unwrap(),
            r#"{"success":false,"errorReason":"invalid_payload""#
        );
        // An expired payment.
        let b = body("");
        let m = Machine::verify_json(
            b.as_bytes(),
            NOW + 3600,
            &Config::default(),
            &Options::default(),
        );
        assert_eq!(done(&m).reason(), Some(Reason::ExactEvmValidBefore));
        let s: String = done(&m).to_json_string();
        assert!(s.contains("\"payer\":\"0x"), "{s}");
    }
}
