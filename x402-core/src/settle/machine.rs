//! The [`Machine`]: its state, the calls it asks for, and what each answer
//! leads to.

use crate::message::Message;
use core::fmt::{self, Write as _};

use super::diagnose::{call_result, map_revert};
use super::options::Options;
use super::outcome::{ChainVerdict, Outcome, Settlement};
use super::payment::{CALLDATA_MAX, Kind, Payment, extract};
use super::transaction::{NOT_BROADCAST, SignedParts, contains_ci};
use crate::error::{Error, ErrorKind, Reason};
use crate::evm::abi::{self, Revert};
use crate::evm::{Address, B256, PrivateKey};
use crate::json::{JsonValue, Limits, Sink, SinkFull, SliceSink, ToJson};
use crate::network::Network;
use crate::rpc::{self, BlockTag, CallRequest, Envelope, Request};
use crate::types::FromJson;
use crate::types::facilitator::{PaymentPayload, PaymentRequirements, VerifyRequest};
use crate::verify::{self, Config};

/// The largest JSON-RPC request a machine writes (an `eth_sendRawTransaction`
/// of a Permit2 settlement is about 1.3 KB): a buffer this long always suffices.
pub const MAX_REQUEST_LEN: usize = 4096;

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
pub(super) enum Stage {
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
    pub(super) settle: bool,
    pub(super) key: Option<PrivateKey>,
    caller: Option<Address>,
    pub(super) options: Options,
    payment: Option<Payment>,
    pub(super) stage: Stage,
    id: u64,
    polls: u32,
    pub(super) calldata: [u8; CALLDATA_MAX],
    pub(super) calldata_len: usize,
    pub(super) aux: [u8; 68],
    pub(super) aux_len: usize,
    pub(super) failure: Message,
    pub(super) mapped: Option<Reason>,
    network: Option<Network>,
    pub(super) payer: Option<Address>,
    pub(super) receipt: Option<(u64, u64, Option<u128>)>,
    pub(super) gas_limit: u64,
    pub(super) nonce: u64,
    pub(super) base_fee: u128,
    pub(super) tip: u128,
    pub(super) signed: Option<SignedParts>,
    pub(super) tx_hash: Option<B256>,
    pub(super) outcome: Option<Outcome>,
}

pub(super) fn body_limits() -> Limits {
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

    pub(super) fn settlement(
        &self,
        success: bool,
        reason: Option<Reason>,
        message: Message,
    ) -> Settlement {
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

    pub(super) fn finish(&mut self, reason: Reason, message: &dyn fmt::Display) {
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

    pub(super) fn finish_unexpected(&mut self, message: &dyn fmt::Display) {
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

pub(super) fn call_request(from: Option<Address>, to: Address, data: &[u8]) -> CallRequest<'_> {
    CallRequest {
        from,
        to,
        data,
        gas: None,
    }
}

pub(super) fn too_long() -> Error {
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

pub(super) fn rpc_invalid(why: &'static str) -> Error {
    Error::new(Reason::InvalidResponse, ErrorKind::Invalid(why)).in_object("rpc")
}
