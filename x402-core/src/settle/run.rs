//! A payment on its way through the chain calls: where it starts, the call
//! of each stage, what an answer to the first calls leads to, and how a run
//! ends. The answers of a diagnosis and of settlement's transaction are read
//! in their own files.

use core::fmt::{self, Write as _};

use crate::error::{Error, ErrorKind, Reason};
use crate::evm::Address;
use crate::json::JsonValue;
use crate::message::Message;
use crate::rpc::{self, BlockTag, CallRequest, Request, RpcError};
use crate::types::facilitator::{PaymentPayload, PaymentRequirements};
use crate::verify::{self, Config};

use super::diagnose::Diagnosis;
use super::machine::{Mode, State};
use super::options::Options;
use super::outcome::Report;
use super::payment::{CALLDATA_MAX, Calldata, Kind, Payment, WALLET_BYTES_MAX, extract};
use super::transaction::{Signed, Transaction};
use crate::evm::smart_wallet;

/// The ERC-1271 call with the longest smart-wallet signature kept.
pub(super) const ERC1271_CALL_MAX: usize = smart_wallet::is_valid_signature_len(WALLET_BYTES_MAX);

/// What every stage of a run knows, and the stage.
#[derive(Clone, Copy, Debug)]
pub(super) struct Run {
    pub(super) payment: Payment,
    /// The payer, as the offline checks named it.
    pub(super) payer: Option<Address>,
    /// Who the calls come from: the facilitator's account when settling, the
    /// facilitator an `upto` witness names when verifying (its proxy accepts
    /// no other), else no one.
    pub(super) caller: Option<Address>,
    /// The settlement call: simulated, then sent.
    pub(super) calldata: Calldata<CALLDATA_MAX>,
    pub(super) stage: Stage,
    /// Receipt requests answered without a receipt so far (0 outside the
    /// receipt stage). Kept here rather than in the stage: a field every
    /// state writes is one the host's step can read without first asking
    /// which stage this is.
    pub(super) polls: u32,
    /// The fees a replacement must pay at least (`maxFeePerGas`,
    /// `maxPriorityFeePerGas`): set when this run replaces a transaction.
    pub(super) floor: Option<(u128, u128)>,
    /// The transaction this run replaces: reported as still pending if the
    /// replacement does not go out.
    pub(super) replaces: Option<crate::evm::B256>,
}

/// The calls of a run, in order; each stage holds what it adds.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug)]
pub(super) enum Stage {
    /// `eth_chainId`, when [`Options::check_chain_id`].
    ChainId,
    /// `eth_getCode(from)`, for a smart wallet's signature: a contract is
    /// asked to accept it, no code calls for an allowed ERC-6492 deployment.
    PayerCode,
    /// ERC-1271 `isValidSignature(digest, signature)` on the payer.
    Erc1271(Calldata<ERC1271_CALL_MAX>),
    /// `eth_getCode(Multicall3)`, for a counterfactual wallet: deployed and
    /// paid through it (a call to an address without code would "succeed").
    MulticallCode,
    /// `eth_getCode(asset)`.
    AssetCode,
    /// The settlement call, simulated: `eth_call` to verify, `eth_estimateGas`
    /// to settle.
    Simulate,
    /// Why the simulation failed, one read at a time.
    Diagnose(Diagnosis),
    /// Settlement's transaction, from its nonce to its receipt: entered only
    /// from a passing simulation in [`Mode::Settle`].
    Transact(Transaction),
}

impl Stage {
    /// The transaction sent (or being sent), once signed.
    pub(super) fn sent(&self) -> Option<&Signed> {
        match self {
            Stage::Transact(t) => t.sent(),
            _ => None,
        }
    }
}

/// The state a payment starts in: done when the offline checks refuse it (or
/// an `upto` settlement has nothing to charge), else running from its first
/// call.
pub(super) fn start(
    mode: &Mode,
    options: &Options,
    payload: &PaymentPayload<'_>,
    requirements: &PaymentRequirements<'_>,
    now: u64,
    config: &Config<'_>,
) -> State {
    let network = match payload {
        PaymentPayload::V1(p) => p.network,
        PaymentPayload::V2(p) => p.accepted.network,
    };
    let extracted = extract(payload, requirements);
    // upto settles any amount up to the permitted one: the offline checks
    // compare against the permitted amount, the charge is checked below.
    let charge = requirements.amount();
    let mut checked = *requirements;
    if let (Some(p), PaymentRequirements::V2(r), Mode::Settle { .. }) =
        (&extracted, &mut checked, mode)
    {
        if let Kind::Permit2 {
            auth, upto: true, ..
        } = &p.kind
        {
            r.amount = auth.permitted.amount;
        }
    }
    // The chain calls below check a smart wallet's signature.
    let config = Config {
        smart_wallets: true,
        ..*config
    };
    let verdict = verify::verify_parts(payload, &checked, now, &config);
    let report = Report {
        payer: verdict.payer,
        network: Some(network),
        ..Report::default()
    };
    let end = |reason, message: &dyn fmt::Display| {
        State::Done(mode.outcome(reason, Message::new(message), report))
    };
    if let Some(reason) = verdict.reason {
        return end(Some(reason), &verdict.message.as_str());
    }
    let Some(mut payment) = extracted else {
        if verdict
            .chain_checks()
            .any(|c| matches!(c, verify::ChainCheck::PayerSignature { .. }))
        {
            return end(
                Some(Reason::ExactEvmSignature),
                &"a smart-wallet signature that cannot be read (an ERC-6492 wrapper that is not (factory, calldata, signature), or parts over 1024 bytes)",
            );
        }
        return end(
            Some(mode.unexpected()),
            &"this payment cannot be checked on chain",
        );
    };
    let mut caller = match mode {
        Mode::Verify => None,
        Mode::Settle { from, .. } => Some(*from),
    };
    if let Kind::Permit2 {
        auth, upto: true, ..
    } = payment.kind
    {
        match mode {
            Mode::Settle { .. } => {
                payment.amount = charge;
                if charge > auth.permitted.amount {
                    return end(
                        Some(Reason::UptoSettlementExceedsAmount),
                        &"the amount to settle exceeds permitted.amount",
                    );
                }
                if charge.is_zero() {
                    // Nothing to charge: settled without a transaction, as the reference does.
                    let report = Report {
                        amount: Some(charge),
                        ..report
                    };
                    return State::Done(mode.outcome(None, Message::EMPTY, report));
                }
            }
            // The upto proxy only accepts the facilitator the witness names.
            Mode::Verify => caller = auth.witness.facilitator,
        }
    }
    State::Running(Run {
        calldata: payment.calldata(),
        payment,
        payer: verdict.payer,
        caller,
        stage: if options.check_chain_id {
            Stage::ChainId
        } else {
            first_check(&payment)
        },
        polls: 0,
        floor: None,
        replaces: None,
    })
}

/// The first call after the chain id: the payer's code for a smart wallet's
/// signature (the reference checks the signature before the asset), else the
/// asset's code.
fn first_check(payment: &Payment) -> Stage {
    if payment.wallet().is_some() {
        Stage::PayerCode
    } else {
        Stage::AssetCode
    }
}

/// How a run that picks up a transaction already signed starts.
#[derive(Clone, Copy, Debug)]
pub(super) enum Pickup {
    /// Look for its receipt; send the same bytes first when `rebroadcast`.
    Resume { rebroadcast: bool },
    /// Sign another at the same nonce, paying at least this much more
    /// (per mille) in both fees, and send it.
    Replace { bump_per_mille: u32 },
}

/// The state of a run that takes up `sent`, a settlement transaction signed
/// earlier for this payment: no offline checks (its validity window may have
/// closed since), no simulation; the payment only rebuilds the transaction.
pub(super) fn pick_up(
    mode: &Mode,
    payload: &PaymentPayload<'_>,
    requirements: &PaymentRequirements<'_>,
    sent: &Signed,
    pickup: Pickup,
) -> State {
    let network = match payload {
        PaymentPayload::V1(p) => p.network,
        PaymentPayload::V2(p) => p.accepted.network,
    };
    let report = Report {
        network: Some(network),
        transaction: Some(sent.hash),
        ..Report::default()
    };
    let Some(mut payment) = extract(payload, requirements) else {
        return State::Done(mode.outcome(
            Some(mode.unexpected()),
            Message::new(&"this payment cannot be settled on chain"),
            report,
        ));
    };
    if let Kind::Permit2 { upto: true, .. } = payment.kind {
        payment.amount = requirements.amount();
    }
    let caller = match mode {
        Mode::Verify => None,
        Mode::Settle { from, .. } => Some(*from),
    };
    let run = Run {
        calldata: payment.calldata(),
        payer: Some(payment.payer),
        payment,
        caller,
        stage: Stage::ChainId,
        polls: 0,
        floor: None,
        replaces: None,
    };
    // The stored transaction must be this payment's: rebuilt from the
    // payment, it has the same hash, or it is not taken up. A counterfactual
    // wallet's was built with its deployment.
    let run = if run.signed_tx(sent).hash() == sent.hash {
        run
    } else {
        let payment = run.payment.counterfactual();
        Run {
            payment,
            calldata: payment.calldata(),
            ..run
        }
    };
    if run.signed_tx(sent).hash() != sent.hash {
        return State::Done(mode.outcome(
            Some(mode.unexpected()),
            Message::new(&"the transaction given is not this payment's settlement"),
            report,
        ));
    }
    let stage = match pickup {
        Pickup::Resume { rebroadcast: true } => Transaction::Send(*sent),
        Pickup::Resume { rebroadcast: false } => Transaction::Receipt { signed: *sent },
        Pickup::Replace { bump_per_mille } => {
            let bump = |fee: u128| fee.saturating_mul(1000 + u128::from(bump_per_mille)) / 1000 + 1;
            return State::Running(Run {
                stage: Stage::Transact(Transaction::BaseFee {
                    gas_limit: sent.gas_limit,
                    nonce: sent.nonce,
                }),
                floor: Some((
                    bump(sent.max_fee_per_gas),
                    bump(sent.max_priority_fee_per_gas),
                )),
                replaces: Some(sent.hash),
                ..run
            });
        }
    };
    State::Running(Run {
        stage: Stage::Transact(stage),
        ..run
    })
}

impl Run {
    /// The call of the current stage (`None` while the host signs).
    pub(super) fn request(&self, mode: &Mode) -> Option<Request<'_>> {
        let p = &self.payment;
        let call = |to: Address, data| call_request(self.caller, to, data);
        Some(match &self.stage {
            Stage::ChainId => Request::ChainId,
            Stage::AssetCode => Request::GetCode {
                address: p.asset,
                block: BlockTag::Latest,
            },
            Stage::PayerCode => Request::GetCode {
                address: p.payer,
                block: BlockTag::Latest,
            },
            Stage::MulticallCode => Request::GetCode {
                address: crate::evm::abi::MULTICALL3,
                block: BlockTag::Latest,
            },
            Stage::Erc1271(data) => Request::Call {
                call: call(p.payer, data.as_slice()),
                block: BlockTag::Latest,
            },
            Stage::Simulate => {
                let call = call(p.target(), self.calldata.as_slice());
                match mode {
                    Mode::Verify => Request::Call {
                        call,
                        block: BlockTag::Latest,
                    },
                    Mode::Settle { .. } => Request::EstimateGas { call },
                }
            }
            Stage::Diagnose(d) => Request::Call {
                call: call(d.to(p), d.call.as_slice()),
                block: BlockTag::Latest,
            },
            Stage::Transact(tx) => return self.transaction_request(tx),
        })
    }

    /// Where an answer to the current call leads.
    ///
    /// # Errors
    /// `invalid_response` for a result that is not what the call returns.
    pub(super) fn answer(
        &self,
        mode: &Mode,
        options: &Options,
        result: Result<JsonValue<'_>, RpcError<'_>>,
    ) -> Result<State, Error> {
        let method = self.request(mode).map_or("", |r| r.method());
        let p = &self.payment;
        Ok(match self.stage {
            Stage::ChainId => {
                let Ok(v) = result else {
                    return Ok(self.infra(mode, method, result.err()));
                };
                let id = rpc::quantity_u64(v)?;
                if id == p.chain_id {
                    self.go(first_check(p))
                } else {
                    self.unexpected(
                        mode,
                        &format_args!(
                            "the RPC node serves chain {id}, the payment is for chain {}",
                            p.chain_id
                        ),
                    )
                }
            }
            Stage::AssetCode => {
                let Ok(v) = result else {
                    return Ok(self.infra(mode, method, result.err()));
                };
                match rpc::data_is_empty(v) {
                    Some(false) => self.go(Stage::Simulate),
                    Some(true) => self.fail(
                        mode,
                        Reason::AssetNotDeployedContract,
                        &format_args!(
                            "no contract code at asset {} on chain {}",
                            p.asset, p.chain_id
                        ),
                    ),
                    None => return Err(rpc_invalid("eth_getCode result is not hex data")),
                }
            }
            Stage::PayerCode => {
                let Ok(v) = result else {
                    return Ok(self.infra(mode, method, result.err()));
                };
                let empty = rpc::data_is_empty(v)
                    .ok_or(rpc_invalid("eth_getCode result is not hex data"))?;
                self.on_payer_code(mode, options, empty)
            }
            Stage::MulticallCode => {
                let Ok(v) = result else {
                    return Ok(self.infra(mode, method, result.err()));
                };
                match rpc::data_is_empty(v) {
                    Some(false) => self.go(Stage::AssetCode),
                    Some(true) => self.unexpected(
                        mode,
                        &format_args!(
                            "no Multicall3 at {} on chain {}: a wallet not deployed yet cannot be deployed and paid in one transaction",
                            crate::evm::abi::MULTICALL3,
                            p.chain_id
                        ),
                    ),
                    None => return Err(rpc_invalid("eth_getCode result is not hex data")),
                }
            }
            Stage::Erc1271(_) => {
                let mut buf = [0u8; 256];
                let accepted = result
                    .ok()
                    .and_then(|v| rpc::data(v, &mut buf).ok())
                    .is_some_and(smart_wallet::is_erc1271_magic);
                if accepted {
                    self.go(Stage::AssetCode)
                } else {
                    self.fail(
                        mode,
                        Reason::ExactEvmSignature,
                        &format_args!(
                            "the smart wallet at {} does not accept the signature (ERC-1271 isValidSignature)",
                            p.payer
                        ),
                    )
                }
            }
            Stage::Simulate => match (result, mode) {
                (Ok(_), Mode::Verify) => self.succeed(mode, self.report()),
                (Ok(v), Mode::Settle { .. }) => self.estimated(options, rpc::quantity_u64(v)?),
                (Err(e), _) => self.simulation_failed(method, &e),
            },
            Stage::Diagnose(d) => self.on_read(mode, d, result),
            Stage::Transact(tx) => self.on_transaction(mode, options, tx, method, result)?,
        })
    }

    /// Where the payer's code leads a smart wallet's signature: a contract is
    /// asked whether it accepts it (EIP-7702 delegations too, as the
    /// reference does); no code needs an ERC-6492 deployment by an allowed
    /// factory.
    fn on_payer_code(&self, mode: &Mode, options: &Options, empty: bool) -> State {
        let p = &self.payment;
        let Some(wallet) = p.wallet() else {
            return self.go(Stage::AssetCode);
        };
        if !empty {
            let mut out = [0u8; ERC1271_CALL_MAX];
            let n = smart_wallet::is_valid_signature(
                &wallet.digest,
                wallet.signature.as_slice(),
                &mut out,
            )
            .unwrap_or(0);
            return self.go(Stage::Erc1271(Calldata::new(
                out.get(..n).unwrap_or_default(),
            )));
        }
        let Some((factory, _)) = wallet.deployment else {
            return self.fail(
                mode,
                Reason::ExactEvmSignature,
                &format_args!(
                    "no contract code at {} and the signature does not recover to it",
                    p.payer
                ),
            );
        };
        if !options.eip6492_allowed_factories.contains(&factory) {
            return self.fail(
                mode,
                Reason::Eip6492FactoryNotAllowed,
                &format_args!(
                    "the wallet at {} is not deployed and its factory {factory} is not allowed",
                    p.payer
                ),
            );
        }
        // Deployed and paid in one transaction, simulated as such.
        let payment = p.counterfactual();
        let run = Run {
            payment,
            calldata: payment.calldata(),
            ..*self
        };
        run.go(Stage::MulticallCode)
    }

    /// The run at another stage.
    pub(super) fn go(&self, stage: Stage) -> State {
        State::Running(Run {
            stage,
            polls: 0,
            ..*self
        })
    }

    /// The same stage after one more answer without a receipt.
    pub(super) fn polled(&self) -> State {
        State::Running(Run {
            polls: self.polls.saturating_add(1),
            ..*self
        })
    }

    /// What the outcome reports if the run ends now.
    pub(super) fn report(&self) -> Report {
        Report {
            payer: self.payer,
            network: Some(self.payment.network),
            amount: self.payment.is_upto().then_some(self.payment.amount),
            transaction: self.stage.sent().map(|s| s.hash).or(self.replaces),
            receipt: None,
        }
    }

    /// Ends with success: valid, or settled.
    pub(super) fn succeed(&self, mode: &Mode, report: Report) -> State {
        State::Done(mode.outcome(None, Message::EMPTY, report))
    }

    /// Ends with `reason`.
    pub(super) fn fail(&self, mode: &Mode, reason: Reason, message: &dyn fmt::Display) -> State {
        self.fail_with(mode, reason, message, self.report())
    }

    /// Ends with `reason`, reporting `report`. A finding of a diagnosis says
    /// what the simulation said too.
    pub(super) fn fail_with(
        &self,
        mode: &Mode,
        reason: Reason,
        message: &dyn fmt::Display,
        report: Report,
    ) -> State {
        let mut message = Message::new(message);
        if let Stage::Diagnose(d) = &self.stage {
            if !d.failure.is_empty() && message != d.failure {
                let failure = d.failure;
                let _ = write!(message, " (simulation: {failure})");
            }
        }
        State::Done(mode.outcome(Some(reason), message, report))
    }

    /// Ends with `unexpected_verify_error` or `unexpected_settle_error`.
    pub(super) fn unexpected(&self, mode: &Mode, message: &dyn fmt::Display) -> State {
        self.fail(mode, mode.unexpected(), message)
    }

    /// Ends on a node error for a call whose failure has no protocol meaning.
    pub(super) fn infra(&self, mode: &Mode, method: &str, e: Option<RpcError<'_>>) -> State {
        match e {
            Some(e) => self.unexpected(mode, &format_args!("{method} failed: {e}")),
            None => self.unexpected(mode, &format_args!("{method} failed")),
        }
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

fn rpc_invalid(why: &'static str) -> Error {
    Error::new(Reason::InvalidResponse, ErrorKind::Invalid(why)).in_object("rpc")
}
