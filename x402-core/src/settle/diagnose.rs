//! Why a simulation failed: the reference facilitator's reads, one call at a
//! time in its order of precedence, and its mapping of reverts to reasons.

use crate::error::Reason;
use crate::evm::abi::{self, Revert};
use crate::evm::eip712::PERMIT2_ADDRESS;
use crate::evm::{Address, keccak256};
use crate::json::JsonValue;
use crate::message::Message;
use crate::rpc::{self, RpcError};

use super::machine::{Mode, State};
use super::payment::{Calldata, Kind, Payment};
use super::run::{Run, Stage};

/// A failed simulation being explained.
#[derive(Clone, Copy, Debug)]
pub(super) struct Diagnosis {
    /// The read asked for now.
    pub(super) read: Read,
    /// Its calldata (the longest, `allowance(owner, spender)`, is 68 bytes).
    pub(super) call: Calldata<68>,
    /// What the simulation said, for people.
    pub(super) failure: Message,
    /// The reason the simulation's revert maps to: settlement's answer when
    /// the reads find nothing.
    pub(super) mapped: Option<Reason>,
}

/// The reads of a diagnosis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Read {
    /// EIP-3009: `authorizationState(from, nonce)`.
    AuthorizationState,
    /// EIP-3009: the token's `name()`.
    Name,
    /// EIP-3009: the token's `version()`.
    Version,
    /// `balanceOf(payer)`.
    Balance,
    /// Permit2: the x402 proxy's `PERMIT2()`.
    Proxy,
    /// Permit2: `allowance(payer, Permit2)`.
    Allowance,
}

impl Diagnosis {
    /// Where the read goes: the proxy for `PERMIT2()`, else the token.
    pub(super) fn to(&self, p: &Payment) -> Address {
        match self.read {
            Read::Proxy => p.target(),
            _ => p.asset,
        }
    }

    /// The read after this one, whose calldata is `data`.
    fn then(self, read: Read, data: &[u8]) -> Stage {
        Stage::Diagnose(Diagnosis {
            read,
            call: Calldata::new(data),
            ..self
        })
    }
}

impl Run {
    /// A failed simulation: what it said, and the first read of its diagnosis.
    pub(super) fn simulation_failed(&self, method: &str, e: &RpcError<'_>) -> State {
        let mut buf = [0u8; 512];
        let data = e.revert_data(&mut buf).unwrap_or_default();
        let revert = abi::decode_revert(data);
        let failure = if !e.is_revert() {
            Message::new(&format_args!("{method} failed: {e}"))
        } else if revert == Revert::Empty {
            // Nodes put the reason in the message when they attach no data.
            Message::new(&e.message)
        } else {
            Message::new(&revert)
        };
        let mapped = map_revert(&self.payment, &revert, failure.as_str());
        let (read, call) = match &self.payment.kind {
            Kind::Eip3009 { auth, .. } => (
                Read::AuthorizationState,
                Calldata::new(&abi::authorization_state(&auth.from, &auth.nonce)),
            ),
            Kind::Permit2 { .. } => (Read::Proxy, Calldata::new(&abi::permit2())),
        };
        self.go(Stage::Diagnose(Diagnosis {
            read,
            call,
            failure,
            mapped,
        }))
    }

    /// Reads the answer to the diagnosis read `d`: a finding ends the run,
    /// else the next read, else the simulation's own failure.
    pub(super) fn on_read(
        &self,
        mode: &Mode,
        d: Diagnosis,
        result: Result<JsonValue<'_>, RpcError<'_>>,
    ) -> State {
        let p = &self.payment;
        match d.read {
            Read::AuthorizationState => match result.ok().map(|v| call_result(v, abi::decode_bool)) {
                Some(Some(true)) => self.fail(
                    mode,
                    Reason::ExactEvmNonceAlreadyUsed,
                    &"authorizationState(from, nonce) is true: the authorization was already used or canceled",
                ),
                Some(Some(false)) => self.go(d.then(Read::Name, &abi::name())),
                _ => self.fail(
                    mode,
                    Reason::ExactEvmEip3009NotSupported,
                    &"the asset does not answer authorizationState(address,bytes32)",
                ),
            },
            Read::Name | Read::Version => {
                let mismatch = result.ok().and_then(|v| {
                    let mut buf = [0u8; 512];
                    let data = rpc::data(v, &mut buf).ok()?;
                    let s = abi::decode_string(data).ok()?;
                    let want = match (&p.kind, d.read) {
                        (Kind::Eip3009 { name_hash, .. }, Read::Name) => name_hash,
                        (Kind::Eip3009 { version_hash, .. }, _) => version_hash,
                        _ => return None,
                    };
                    (keccak256(s.as_bytes()) != *want).then_some(())
                });
                match (mismatch, d.read) {
                    (Some(()), Read::Name) => self.fail(
                        mode,
                        Reason::ExactEvmTokenNameMismatch,
                        &"the token's name() differs from extra.name (the EIP-712 domain name)",
                    ),
                    (Some(()), _) => self.fail(
                        mode,
                        Reason::ExactEvmTokenVersionMismatch,
                        &"the token's version() differs from extra.version (the EIP-712 domain version)",
                    ),
                    (None, Read::Name) => self.go(d.then(Read::Version, &abi::version())),
                    (None, _) => self.go(d.then(Read::Balance, &abi::balance_of(&p.payer))),
                }
            }
            Read::Balance => {
                let balance = result.ok().and_then(|v| call_result(v, abi::decode_uint));
                if balance.is_some_and(|b| b < p.amount) {
                    let reason = match p.kind {
                        Kind::Eip3009 { .. } => Reason::ExactEvmInsufficientBalance,
                        Kind::Permit2 { .. } => Reason::Permit2InsufficientBalance,
                    };
                    self.fail(mode, reason, &format_args!("balanceOf(payer) is below {}", p.amount))
                } else if matches!(p.kind, Kind::Permit2 { .. }) {
                    self.go(d.then(
                        Read::Allowance,
                        &abi::allowance(&p.payer, &PERMIT2_ADDRESS),
                    ))
                } else {
                    self.unexplained(mode, d)
                }
            }
            Read::Proxy => {
                if result.ok().and_then(|v| call_result(v, abi::decode_address)).is_some() {
                    self.go(d.then(Read::Balance, &abi::balance_of(&p.payer)))
                } else {
                    self.fail(
                        mode,
                        Reason::Permit2ProxyNotDeployed,
                        &format_args!("the x402 Permit2 proxy {} does not answer PERMIT2()", p.target()),
                    )
                }
            }
            Read::Allowance => {
                let allowance = result.ok().and_then(|v| call_result(v, abi::decode_uint));
                if allowance.is_some_and(|a| a < p.amount) {
                    self.fail(
                        mode,
                        Reason::Permit2AllowanceRequired,
                        &format_args!("the payer's allowance to Permit2 is below {}", p.amount),
                    )
                } else {
                    self.unexplained(mode, d)
                }
            }
        }
    }

    /// The reads found nothing: the simulation's failure stands, as the
    /// reference reports it (settlement: the reason its revert maps to).
    fn unexplained(&self, mode: &Mode, d: Diagnosis) -> State {
        let reason = match mode {
            Mode::Settle { .. } => d.mapped.unwrap_or(self.payment.failed_tx_reason()),
            Mode::Verify => match self.payment.kind {
                Kind::Eip3009 { .. } => Reason::ExactEvmTransactionSimulationFailed,
                Kind::Permit2 { .. } => Reason::Permit2SimulationFailed,
            },
        };
        self.fail(mode, reason, &d.failure)
    }
}

/// Decodes an `eth_call` result with `decode`; `None` if either step fails.
fn call_result<T>(v: JsonValue<'_>, decode: fn(&[u8]) -> Result<T, abi::AbiError>) -> Option<T> {
    let mut buf = [0u8; 512];
    let data = rpc::data(v, &mut buf).ok()?;
    decode(data).ok()
}

/// Case-insensitive ASCII search of `needle` in `hay` from byte `from`;
/// returns the end of the match.
pub(super) fn find_ci(hay: &str, needle: &str, from: usize) -> Option<usize> {
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
