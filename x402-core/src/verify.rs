//! Offline verification of payments, with the reference facilitator's order of
//! checks and reason strings.
//!
//! [`verify`] takes a decoded `POST /verify` body (or [`verify_json`] its bytes)
//! and the current unix time — the core reads no clock — and returns a
//! [`Verdict`]: valid, or the first failed check's [`Reason`] with a message for
//! people, and the payer. A valid verdict lists the [`ChainCheck`]s the host still
//! owes (contract code, nonce state, balance, allowance, simulation): they need
//! an RPC node, and this crate never pretends to have done them.
//!
//! Dispatch follows the reference facilitator: on the requirements' network
//! family first — `solana:*` (v2) goes to `svm::verify` (feature `svm`;
//! without it, with `std`, `unsupported_scheme` with
//! [`ErrorKind::NetworkFamilyNotBuilt`](crate::error::ErrorKind::NetworkFamilyNotBuilt);
//! `no_std` builds without it leave that refusal out, for size),
//! its verdict carried by `Verdict::svm_payer` and `Verdict::svm_chain_checks`
//! —, then on the scheme (`exact`, `upto`),
//! then on the payload's shape (`permit2Authorization` → Permit2, otherwise
//! EIP-3009).
//!
//! # Where this verifier is stricter than the reference
//! - **High-s signatures** (EIP-2) are refused with the scheme's signature reason:
//!   the reference accepts them offline, but token contracts revert on them, so
//!   the payment could never settle.
//! - **64-byte (EIP-2098) and non-65-byte signatures** are refused: the reference
//!   refuses 64-byte ones too, and checks longer smart-wallet signatures with an
//!   EIP-1271 call, which needs a chain (see below, and [`Config::smart_wallets`]).
//! - **Malformed values** (`"010"`, `" 1"`, `"0x0a"` amounts, wrong-checksum
//!   addresses, `eip155:08453`) are `invalid_payload` / `invalid_payment_requirements`
//!   / `invalid_network` here; the reference's `BigInt` and `getAddress` accept some
//!   of them and throw on others.
//! - **Duplicate JSON keys, lone surrogates, trailing bytes** are refused when the
//!   body is read (see [`crate::json`]).
//!
//! # What it does not do
//! Smart-wallet payers (a contract at `from`: EIP-1271, ERC-6492, EIP-7702
//! delegations) need the chain; this verifier checks ECDSA signatures of EOAs
//! only. With [`Config::smart_wallets`] any other signature of an EIP-3009
//! payment passes owing [`ChainCheck::PayerSignature`], which the machines of
//! [`crate::settle`] make (`eth_getCode(from)`, then `isValidSignature`).

use core::fmt;

use crate::amount::Amount;
use crate::error::{Error, Reason};
use crate::evm::eip712::{self, Domain, X402_EXACT_PERMIT2_PROXY, X402_UPTO_PERMIT2_PROXY};
use crate::evm::{Address, B256, Signature, SignatureError};
use crate::json::{JsonStr, Limits, ObjectWriter, Sink, SinkFull, ToJson};
use crate::message::MESSAGE_CAPACITY;
pub use crate::message::Message;
use crate::network::Network;
use crate::types::FromJson;
use crate::types::facilitator::{PaymentPayload, PaymentRequirements, VerifyRequest};
use crate::types::payload::{ExactEvmPayload, Permit2Payload, SchemePayload};
use crate::types::{Extra, v1, v2};

/// The window the reference facilitator keeps before `validBefore`/`deadline`:
/// a payment must stay valid for at least this many seconds after `now`.
pub const EXPIRY_MARGIN_SECONDS: u64 = 6;

/// What the verifier needs to know about itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct Config<'a> {
    /// This facilitator's signer addresses: `upto` payments must name one of them
    /// in `witness.facilitator`.
    pub facilitator_addresses: &'a [Address],
    /// Whether the host checks smart-wallet payers on chain: an EIP-3009
    /// signature that is not a 65-byte ECDSA signature recovering to
    /// `authorization.from` then passes the offline checks owing
    /// [`ChainCheck::PayerSignature`] (ERC-1271, ERC-6492), instead of failing
    /// with `invalid_exact_evm_signature`. The machines of [`crate::settle`]
    /// set it; a host that does not make that check must leave it `false`.
    pub smart_wallets: bool,
    /// Whether the host sponsors `erc20ApprovalGasSponsoring`: it pays the gas
    /// of a Permit2 payer's signed `approve` and broadcasts it before the
    /// settlement. A payment carrying the extension is then held to its rules
    /// and owes no Permit2 allowance; when `false` the extension is ignored, as
    /// the reference facilitator ignores it without the extension registered.
    /// A held approval still owes `SimulatePermit2Settle`, which the host must
    /// simulate after the approval (the two together, as the reference's
    /// sponsoring signer does), and the approval's nonce and fees are the
    /// host's to check before it pays for them. (Read only with the
    /// `erc20-approval` feature.)
    pub erc20_approval_sponsoring: bool,
}

/// A check that needs the chain, owed by the host after a valid offline verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainCheck {
    /// `asset` has contract code (`eth_getCode`), else `asset_not_deployed_contract`.
    AssetIsContract {
        /// The token.
        asset: Address,
    },
    /// `authorizationState(authorizer, nonce)` is false, else `invalid_exact_evm_nonce_already_used`.
    Eip3009NonceUnused {
        /// The token.
        asset: Address,
        /// The payer.
        authorizer: Address,
        /// The authorization nonce.
        nonce: B256,
    },
    /// `balanceOf(owner) >= amount`, else the scheme's insufficient-balance reason.
    BalanceAtLeast {
        /// The token.
        asset: Address,
        /// The payer.
        owner: Address,
        /// The amount owed.
        amount: Amount,
    },
    /// `allowance(owner, Permit2) >= amount`, else `permit2_allowance_required`.
    Permit2AllowanceAtLeast {
        /// The token.
        asset: Address,
        /// The payer.
        owner: Address,
        /// The amount owed.
        amount: Amount,
    },
    /// Simulating `transferWithAuthorization` on `asset` succeeds, else
    /// `invalid_exact_evm_transaction_simulation_failed` (after the checks above).
    SimulateEip3009Transfer {
        /// The token.
        asset: Address,
    },
    /// Simulating the x402 proxy's `settle` succeeds, else `permit2_simulation_failed`.
    SimulatePermit2Settle {
        /// The proxy.
        proxy: Address,
    },
    /// The payer is a smart wallet that accepts the signature over `digest`
    /// (ERC-1271 `isValidSignature`, after deployment by an allowed factory
    /// for an ERC-6492 signature: see [`crate::evm::smart_wallet`]), else
    /// `invalid_exact_evm_signature` (or `eip6492_factory_not_allowed`). Owed
    /// only under [`Config::smart_wallets`].
    PayerSignature {
        /// The payer.
        payer: Address,
        /// The EIP-712 digest signed.
        digest: B256,
    },
}

impl ChainCheck {
    /// Its name in a valid VerifyResponse's `extra.chainChecks`
    /// (`assetIsContract`, `eip3009NonceUnused`, ...).
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            ChainCheck::AssetIsContract { .. } => "assetIsContract",
            ChainCheck::Eip3009NonceUnused { .. } => "eip3009NonceUnused",
            ChainCheck::BalanceAtLeast { .. } => "balanceAtLeast",
            ChainCheck::Permit2AllowanceAtLeast { .. } => "permit2AllowanceAtLeast",
            ChainCheck::SimulateEip3009Transfer { .. } => "simulateEip3009Transfer",
            ChainCheck::SimulatePermit2Settle { .. } => "simulatePermit2Settle",
            ChainCheck::PayerSignature { .. } => "payerSignature",
        }
    }
}

impl ToJson for ChainCheck {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.str_field("check", JsonStr::new(self.name()))?;
        match self {
            ChainCheck::AssetIsContract { asset }
            | ChainCheck::SimulateEip3009Transfer { asset } => {
                w.field("asset", asset)?;
            }
            ChainCheck::Eip3009NonceUnused {
                asset,
                authorizer,
                nonce,
            } => {
                w.field("asset", asset)?;
                w.field("authorizer", authorizer)?;
                w.field("nonce", nonce)?;
            }
            ChainCheck::BalanceAtLeast {
                asset,
                owner,
                amount,
            }
            | ChainCheck::Permit2AllowanceAtLeast {
                asset,
                owner,
                amount,
            } => {
                w.field("asset", asset)?;
                w.field("owner", owner)?;
                w.field("amount", amount)?;
            }
            ChainCheck::SimulatePermit2Settle { proxy } => w.field("proxy", proxy)?,
            ChainCheck::PayerSignature { payer, digest } => {
                w.field("payer", payer)?;
                w.field("digest", digest)?;
            }
        }
        w.end()
    }
}

/// The most bytes a [`Verdict`]'s JSON (its VerifyResponse) can take: a buffer
/// this large holds the JSON of any verdict ([`ToJson::encoded_len`]), so a caller can size one before
/// verifying.
///
/// The longest is an invalid verdict with the longest [`Reason`], a message of
/// [`MESSAGE_CAPACITY`] control characters (each escaped as `\u00xx`) and a
/// payer (a Solana address is the longest); a valid one with five chain
/// checks is shorter.
pub const VERDICT_JSON_MAX: usize = {
    // "0x" + 40 hex digits; "0x" + 64; the decimal digits of 2^256 - 1.
    const ADDRESS: usize = 42;
    const HASH: usize = 66;
    const AMOUNT: usize = 78;
    // The longer payer: a Solana address in base58 (`exact` on `solana:*`).
    const PAYER: usize = 44;
    let invalid = r#"{"isValid":false,"invalidReason":"","invalidMessage":"","payer":""}"#.len()
        + Reason::MAX_LEN
        + 6 * MESSAGE_CAPACITY
        + PAYER;
    let nonce_check = r#"{"check":"eip3009NonceUnused","asset":"","authorizer":"","nonce":""}"#
        .len()
        + 2 * ADDRESS
        + HASH;
    let amount_check = r#"{"check":"permit2AllowanceAtLeast","asset":"","owner":"","amount":""}"#
        .len()
        + 2 * ADDRESS
        + AMOUNT;
    let check = if nonce_check > amount_check {
        nonce_check
    } else {
        amount_check
    };
    let checks = 5;
    let valid = r#"{"isValid":true,"payer":"","extra":{"chainChecks":[]}}"#.len()
        + ADDRESS
        + checks * check
        + (checks - 1);
    if invalid > valid { invalid } else { valid }
};

/// The outcome of offline verification.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verdict {
    /// `None` when valid; else the reference's reason string.
    pub reason: Option<Reason>,
    /// Why, for people (empty when valid).
    pub message: Message,
    /// The payer, when the payload named one (EVM; a Solana payer is
    /// `Verdict::svm_payer`, feature `svm`).
    pub payer: Option<Address>,
    checks: [Option<ChainCheck>; 5],
    /// `exact` on Solana: the payer and the checks owed.
    #[cfg(feature = "svm")]
    svm: Option<SvmPart>,
}

/// What a Solana verdict adds: its payer and the chain checks it owes.
#[cfg(feature = "svm")]
#[derive(Clone, Copy, Debug, PartialEq)]
struct SvmPart {
    payer: Option<crate::svm::Pubkey>,
    checks: [Option<crate::svm::verify::ChainCheck>; 4],
}

impl Verdict {
    fn valid(payer: Address, checks: [Option<ChainCheck>; 5]) -> Verdict {
        Verdict {
            reason: None,
            message: Message::EMPTY,
            payer: Some(payer),
            checks,
            #[cfg(feature = "svm")]
            svm: None,
        }
    }

    /// The reason the reference facilitator gives when `check`, one of this
    /// verdict's [`Verdict::chain_checks`], fails: `asset_not_deployed_contract`,
    /// `invalid_exact_evm_nonce_already_used`, the scheme's insufficient-balance
    /// reason (EIP-3009 or Permit2), `permit2_allowance_required`, or the
    /// scheme's simulation failure.
    ///
    /// ```
    /// use paywire::verify::{ChainCheck, verify_json, Config};
    /// # let body = br#"{}"#;
    /// let verdict = verify_json(body, 1_750_000_000, &Config::default());
    /// for check in verdict.chain_checks() {
    ///     let _if_it_fails = verdict.failure_reason(&check);
    /// }
    /// ```
    #[must_use]
    pub fn failure_reason(&self, check: &ChainCheck) -> Reason {
        let permit2 = self.checks.iter().flatten().any(|c| {
            matches!(
                c,
                ChainCheck::Permit2AllowanceAtLeast { .. }
                    | ChainCheck::SimulatePermit2Settle { .. }
            )
        });
        match check {
            ChainCheck::AssetIsContract { .. } => Reason::AssetNotDeployedContract,
            ChainCheck::Eip3009NonceUnused { .. } => Reason::ExactEvmNonceAlreadyUsed,
            ChainCheck::BalanceAtLeast { .. } if permit2 => Reason::Permit2InsufficientBalance,
            ChainCheck::BalanceAtLeast { .. } => Reason::ExactEvmInsufficientBalance,
            ChainCheck::Permit2AllowanceAtLeast { .. } => Reason::Permit2AllowanceRequired,
            ChainCheck::SimulateEip3009Transfer { .. } => {
                Reason::ExactEvmTransactionSimulationFailed
            }
            ChainCheck::SimulatePermit2Settle { .. } => Reason::Permit2SimulationFailed,
            ChainCheck::PayerSignature { .. } => Reason::ExactEvmSignature,
        }
    }

    fn invalid(reason: Reason, message: &dyn fmt::Display, payer: Option<Address>) -> Verdict {
        Verdict {
            reason: Some(reason),
            message: Message::new(message),
            payer,
            checks: [None; 5],
            #[cfg(feature = "svm")]
            svm: None,
        }
    }

    /// The generic form of a Solana verdict ([`crate::svm::verify::Verdict`]):
    /// its reason (an `invalid_exact_svm_*` one, or the reading error's), its
    /// payer as [`Verdict::svm_payer`], its owed checks as
    /// [`Verdict::svm_chain_checks`].
    #[cfg(feature = "svm")]
    #[must_use]
    pub fn from_svm(v: &crate::svm::verify::Verdict) -> Verdict {
        use crate::svm::verify::{InvalidReason, Verdict as Svm};
        match v {
            Svm::Valid { payer, checks, .. } => Verdict {
                reason: None,
                message: Message::EMPTY,
                payer: None,
                checks: [None; 5],
                svm: Some(SvmPart {
                    payer: Some(*payer),
                    checks: *checks,
                }),
            },
            Svm::Invalid { reason, payer } => {
                let mut verdict = match reason {
                    InvalidReason::Scheme(r) => {
                        Verdict::invalid(Reason::from(*r), &"exact on Solana", None)
                    }
                    InvalidReason::Input(e) => Verdict::from_error(e, None),
                };
                verdict.svm = Some(SvmPart {
                    payer: *payer,
                    checks: [None; 4],
                });
                verdict
            }
        }
    }

    /// The Solana payer (`exact` on `solana:*`), when known.
    #[cfg(feature = "svm")]
    #[must_use]
    pub fn svm_payer(&self) -> Option<crate::svm::Pubkey> {
        self.svm.and_then(|s| s.payer)
    }

    /// The chain checks a valid Solana verdict owes (empty otherwise): each
    /// fails with `invalid_exact_svm_transaction_simulation_failed`.
    #[cfg(feature = "svm")]
    pub fn svm_chain_checks(&self) -> impl Iterator<Item = crate::svm::verify::ChainCheck> + '_ {
        let checks: &[Option<crate::svm::verify::ChainCheck>] = match &self.svm {
            Some(s) if self.reason.is_none() => &s.checks,
            _ => &[],
        };
        checks.iter().flatten().copied()
    }

    fn from_error(e: &Error, payer: Option<Address>) -> Verdict {
        Verdict::invalid(e.reason(), e, payer)
    }

    /// Whether the payment passed every offline check.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.reason.is_none()
    }

    /// The chain checks the host still owes (empty unless valid).
    pub fn chain_checks(&self) -> impl Iterator<Item = ChainCheck> + '_ {
        self.checks.iter().flatten().copied()
    }
}

impl ToJson for Verdict {
    /// A `VerifyResponse`: `{isValid, invalidReason?, invalidMessage?, payer?}`, and for
    /// a valid verdict `extra.chainChecks`: what the host must still check on chain.
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.bool_field("isValid", self.is_valid())?;
        if let Some(r) = self.reason {
            w.str_field("invalidReason", JsonStr::new(r.as_str()))?;
            w.str_field("invalidMessage", JsonStr::new(self.message.as_str()))?;
        }
        if let Some(p) = &self.payer {
            w.field("payer", p)?;
        }
        #[cfg(feature = "svm")]
        if let Some(p) = self.svm_payer() {
            w.field("payer", &p)?;
        }
        #[cfg(feature = "svm")]
        let svm_checks = self.svm_chain_checks().next().is_some();
        #[cfg(not(feature = "svm"))]
        let svm_checks = false;
        if self.chain_checks().next().is_some() || svm_checks {
            w.key(JsonStr::new("extra"))?;
            let mut extra = ObjectWriter::new(w.sink())?;
            extra.key(JsonStr::new("chainChecks"))?;
            let s = extra.sink();
            s.put(b"[")?;
            for (i, c) in self.chain_checks().enumerate() {
                if i > 0 {
                    s.put(b",")?;
                }
                c.write_json(s)?;
            }
            #[cfg(feature = "svm")]
            for (i, c) in self.svm_chain_checks().enumerate() {
                if i > 0 {
                    s.put(b",")?;
                }
                c.write_json(s)?;
            }
            s.put(b"]")?;
            extra.end()?;
        }
        w.end()
    }
}

/// Reads a `POST /verify` body and verifies it. Malformed bodies are invalid
/// verdicts (`invalid_payload`, `invalid_payment_requirements`, ...), never panics.
///
/// ```
/// use paywire::verify::{verify_json, Config};
/// let v = verify_json(b"{}", 1_750_000_000, &Config::default());
/// assert!(!v.is_valid());
/// assert_eq!(v.reason.unwrap().as_str(), "invalid_x402_version");
/// ```
#[must_use]
pub fn verify_json(body: &[u8], now: u64, config: &Config<'_>) -> Verdict {
    let limits = Limits {
        max_len: 64 * 1024,
        ..Limits::DEFAULT
    };
    match VerifyRequest::from_json_bytes(body, &limits) {
        Ok(req) => verify(&req, now, config),
        Err(e) => Verdict::from_error(&e, None),
    }
}

/// Verifies a payment header value (`PAYMENT-SIGNATURE` or `X-PAYMENT`) against the
/// server's requirements (JSON of the version the header carries). `scratch`
/// receives the decoded header: [`crate::header::base64_decoded_len`] of the
/// value's length suffices.
#[must_use]
pub fn verify_header(
    header_value: &str,
    requirements_json: &[u8],
    now: u64,
    config: &Config<'_>,
    scratch: &mut [u8],
) -> Verdict {
    let payload = match crate::header::decode_payment_signature(header_value, scratch) {
        Ok(p) => p,
        Err(e) => return Verdict::from_error(&e, None),
    };
    let parsed = crate::json::parse(requirements_json, &Limits::DEFAULT)
        .map_err(|k| Error::new(Reason::InvalidPaymentRequirements, k))
        .and_then(|v| PaymentRequirements::from_json_version(v, payload.x402_version()));
    match parsed {
        Ok(requirements) => verify_parts(&payload, &requirements, now, config),
        Err(e) => Verdict::from_error(&e, None),
    }
}

/// Verifies a decoded `POST /verify` body.
#[must_use]
pub fn verify(req: &VerifyRequest<'_>, now: u64, config: &Config<'_>) -> Verdict {
    verify_parts(&req.payment_payload, &req.payment_requirements, now, config)
}

/// Verifies a payment against requirements of the same protocol version.
#[must_use]
pub fn verify_parts(
    payload: &PaymentPayload<'_>,
    requirements: &PaymentRequirements<'_>,
    now: u64,
    config: &Config<'_>,
) -> Verdict {
    verify_at(payload, requirements, Some(now), config)
}

/// Every offline check of [`verify_parts`] except the validity window
/// (`validAfter`/`validBefore`, Permit2's `witness.validAfter`/`deadline`):
/// whether the payer signed this payment for these requirements, at whatever
/// time. A resource server uses it to recognise, after the window has closed,
/// a payment it settled earlier, without revealing anything to whoever
/// presents a payment the payer did not sign.
#[must_use]
pub fn verify_parts_any_time(
    payload: &PaymentPayload<'_>,
    requirements: &PaymentRequirements<'_>,
    config: &Config<'_>,
) -> Verdict {
    verify_at(payload, requirements, None, config)
}

/// `now: None` skips the validity-window checks.
fn verify_at(
    payload: &PaymentPayload<'_>,
    requirements: &PaymentRequirements<'_>,
    now: Option<u64>,
    config: &Config<'_>,
) -> Verdict {
    match (payload, requirements) {
        (PaymentPayload::V2(p), PaymentRequirements::V2(r)) => verify_v2(p, r, now, config),
        (PaymentPayload::V1(p), PaymentRequirements::V1(r)) => verify_v1(p, r, now, config),
        _ => Verdict::invalid(
            Reason::InvalidX402Version,
            &"payload and requirements are of different protocol versions",
            None,
        ),
    }
}

/// The parts of a requirement the EVM verifiers read, for either version.
struct Req<'a> {
    scheme: JsonStr<'a>,
    network: Network,
    amount: Amount,
    asset: JsonStr<'a>,
    pay_to: JsonStr<'a>,
    extra: Option<Extra<'a>>,
    v1: bool,
}

fn scheme_payload(
    obj: Result<crate::json::JsonObject<'_>, Error>,
) -> Result<SchemePayload<'_>, Error> {
    SchemePayload::from_object(obj?)
}

fn verify_v2(
    p: &v2::PaymentPayload<'_>,
    r: &v2::PaymentRequirements<'_>,
    now: Option<u64>,
    config: &Config<'_>,
) -> Verdict {
    let req = Req {
        scheme: r.scheme,
        network: r.network,
        amount: r.amount,
        asset: r.asset,
        pay_to: r.pay_to,
        extra: r.extra,
        v1: false,
    };
    // Solana's family has its own verifier (`exact` only: any other scheme is
    // its `invalid_exact_svm_unsupported_scheme`, as the reference answers).

    // Solana's family has its own verifier (`exact` only: any other scheme is
    // its `invalid_exact_svm_unsupported_scheme`, as the reference answers).
    // Without `svm`, builds with `std` refuse it as such; the smallest
    // (`no_std`) builds leave that out and answer what the EVM verifiers
    // make of it.
    #[cfg(any(feature = "svm", feature = "std"))]
    if r.network.namespace() == Some("solana") {
        return verify_svm(p, r);
    }
    let payload = match scheme_payload(p.payload_json()) {
        Ok(s) => s,
        Err(e) => return Verdict::from_error(&e, None),
    };
    if r.scheme == "exact" {
        match payload {
            SchemePayload::Permit2(pp) => {
                let permit = p
                    .extensions
                    .and_then(|e| e.as_json())
                    .and_then(crate::gas_sponsoring::read);
                let verdict =
                    verify_permit2(&pp, p.accepted.scheme, p.accepted.network, &req, now, None);
                match permit {
                    Some(permit) if verdict.is_valid() => {
                        with_permit(verdict, permit, &pp, &req, now)
                    }
                    #[cfg(feature = "erc20-approval")]
                    None if verdict.is_valid() && config.erc20_approval_sponsoring => {
                        with_approval(verdict, p.extensions.and_then(|e| e.as_json()), &pp, &req)
                    }
                    _ => verdict,
                }
            }
            SchemePayload::Eip3009(e) => {
                verify_eip3009(&e, p.accepted.scheme, p.accepted.network, &req, now, config)
            }
            SchemePayload::Batch(_) => Verdict::invalid(
                Reason::UnsupportedPayloadType,
                &"exact expects an EIP-3009 or Permit2 payload",
                None,
            ),
        }
    } else if r.scheme == "upto" {
        match payload {
            SchemePayload::Permit2(pp) if pp.authorization.witness.facilitator.is_some() => {
                verify_permit2(
                    &pp,
                    p.accepted.scheme,
                    p.accepted.network,
                    &req,
                    now,
                    Some(config.facilitator_addresses),
                )
            }
            _ => Verdict::invalid(
                Reason::UnsupportedPayloadType,
                &"upto expects a Permit2 payload with witness.facilitator",
                None,
            ),
        }
    } else {
        Verdict::invalid(
            Reason::UnsupportedScheme,
            &"no verifier for this scheme",
            None,
        )
    }
}

/// `solana:*`: the Solana verifier with its default settings (no
/// fee payers of its own: `extra.feePayer` is held to the fee payer's rules;
/// the compute unit cap of [`crate::svm::verify::DEFAULT_MAX_COMPUTE_UNITS`]).
/// A facilitator that pays fees calls [`crate::svm::verify`] with its own.
#[cfg(feature = "svm")]
fn verify_svm(p: &v2::PaymentPayload<'_>, r: &v2::PaymentRequirements<'_>) -> Verdict {
    let config = crate::svm::verify::Config::default();
    Verdict::from_svm(&crate::svm::verify::verify_parts(p, r, &config))
}

/// `solana:*` in a build with `std` but without the `svm` feature: refused
/// with a typed error ([`ErrorKind::NetworkFamilyNotBuilt`](crate::error::ErrorKind::NetworkFamilyNotBuilt)).
#[cfg(all(not(feature = "svm"), feature = "std"))]
fn verify_svm(_: &v2::PaymentPayload<'_>, _: &v2::PaymentRequirements<'_>) -> Verdict {
    let e = Error::new(
        Reason::UnsupportedScheme,
        crate::error::ErrorKind::NetworkFamilyNotBuilt { family: "solana" },
    )
    .at("network")
    .in_object("paymentRequirements");
    Verdict::from_error(&e, None)
}

fn verify_v1(
    p: &v1::PaymentPayload<'_>,
    r: &v1::PaymentRequirements<'_>,
    now: Option<u64>,
    config: &Config<'_>,
) -> Verdict {
    let req = Req {
        scheme: r.scheme,
        network: r.network,
        amount: r.max_amount_required,
        asset: r.asset,
        pay_to: r.pay_to,
        extra: r.extra,
        v1: true,
    };
    if r.scheme != "exact" {
        return Verdict::invalid(
            Reason::UnsupportedScheme,
            &"no v1 verifier for this scheme",
            None,
        );
    }
    match scheme_payload(p.payload_json()) {
        Ok(SchemePayload::Eip3009(e)) => verify_eip3009(&e, p.scheme, p.network, &req, now, config),
        Ok(_) => Verdict::invalid(
            Reason::InvalidPayload,
            &"v1 exact takes an EIP-3009 payload",
            None,
        ),
        Err(e) => Verdict::from_error(&e, None),
    }
}

const NOT_EVM: &str = "not an EVM network (eip155:<chainId>)";

/// Chain id of a requirement's network (`eip155:N`, or a v1 name).
fn chain_id(network: &Network, v1: bool) -> Option<u64> {
    if v1 {
        network
            .v1_name()
            .filter(|_| !network.is_caip2())
            .and(network.evm_chain_id())
    } else {
        network
            .namespace()
            .filter(|ns| *ns == "eip155")
            .and(network.evm_chain_id())
    }
}

fn verify_eip3009(
    e: &ExactEvmPayload<'_>,
    accepted_scheme: JsonStr<'_>,
    accepted_network: Network,
    req: &Req<'_>,
    now: Option<u64>,
    config: &Config<'_>,
) -> Verdict {
    let auth = &e.authorization;
    let payer = Some(auth.from);
    let fail = |reason, msg: &dyn fmt::Display| Verdict::invalid(reason, msg, payer);
    if accepted_scheme != "exact" || req.scheme != "exact" {
        return fail(Reason::ExactEvmScheme, &"scheme is not exact");
    }
    // v1 resolves the network name before anything else.
    let chain = if req.v1 {
        match chain_id(&accepted_network, true) {
            Some(c) => Some(c),
            None => return fail(Reason::ExactEvmNetworkMismatch, &"unknown v1 network"),
        }
    } else {
        None
    };
    let domain_fields = req
        .extra
        .and_then(|x| x.name.zip(x.version))
        .filter(|(n, v)| !n.is_empty() && !v.is_empty());
    let Some((name, version)) = domain_fields else {
        return fail(
            Reason::ExactEvmMissingEip712Domain,
            &"extra.name and extra.version (the token's EIP-712 domain) are required",
        );
    };
    let asset = match req.asset_address() {
        Ok(a) => a,
        Err(err) => return Verdict::from_error(&err, payer),
    };
    if accepted_network != req.network {
        return fail(
            Reason::ExactEvmNetworkMismatch,
            &"payload network differs from the requirements'",
        );
    }
    let chain = match chain {
        Some(c) => c,
        None => match chain_id(&req.network, false) {
            Some(c) => c,
            None => return fail(Reason::InvalidNetwork, &NOT_EVM),
        },
    };
    let digest = eip712::eip3009_digest(&Domain::eip3009(name, version, chain, asset), auth);
    // A signature of another length, or one that does not recover to `from`,
    // is a smart wallet's, which only the chain can check: owed to a host
    // that makes that check, refused otherwise. A 65-byte signature breaking
    // the ECDSA policy (EIP-2 high-s, `v`) is refused whoever the payer is.
    let mut wallet = None;
    let recovered = Signature::parse_hex(e.signature).and_then(|s| s.recover(&digest));
    match recovered {
        Ok(signer) if signer == auth.from => {}
        Ok(_)
        | Err(SignatureError::Length | SignatureError::Compact | SignatureError::Unrecoverable)
            if config.smart_wallets =>
        {
            wallet = Some(ChainCheck::PayerSignature {
                payer: auth.from,
                digest: B256(digest),
            });
        }
        Ok(_) => {
            return fail(
                Reason::ExactEvmSignature,
                &"signature does not recover to authorization.from",
            );
        }
        Err(err) => return fail(Reason::ExactEvmSignature, &err),
    }
    let pay_to = match req.pay_to_address() {
        Ok(a) => a,
        Err(err) => return Verdict::from_error(&err, payer),
    };
    if auth.to != pay_to {
        return fail(
            Reason::ExactEvmRecipientMismatch,
            &"authorization.to is not payTo",
        );
    }
    if let Some(now) = now {
        if auth.valid_before < Amount::from(now.saturating_add(EXPIRY_MARGIN_SECONDS)) {
            return fail(
                Reason::ExactEvmValidBefore,
                &"authorization.validBefore is less than 6 seconds from now",
            );
        }
        if auth.valid_after > Amount::from(now) {
            return fail(
                Reason::ExactEvmValidAfter,
                &"authorization.validAfter is in the future",
            );
        }
    }
    if auth.value != req.amount {
        let reason = if req.v1 {
            Reason::ExactEvmAuthorizationValue
        } else {
            Reason::ExactEvmValueMismatch
        };
        return fail(
            reason,
            &"authorization.value differs from the required amount",
        );
    }
    Verdict::valid(
        auth.from,
        [
            // The reference checks a smart wallet's signature first.
            wallet,
            Some(ChainCheck::AssetIsContract { asset }),
            Some(ChainCheck::Eip3009NonceUnused {
                asset,
                authorizer: auth.from,
                nonce: auth.nonce,
            }),
            Some(ChainCheck::BalanceAtLeast {
                asset,
                owner: auth.from,
                amount: auth.value,
            }),
            Some(ChainCheck::SimulateEip3009Transfer { asset }),
        ],
    )
}

/// Permit2 for `exact` (`facilitators` is `None`) and `upto` (the configured addresses).
fn verify_permit2(
    pp: &Permit2Payload<'_>,
    accepted_scheme: JsonStr<'_>,
    accepted_network: Network,
    req: &Req<'_>,
    now: Option<u64>,
    facilitators: Option<&[Address]>,
) -> Verdict {
    let auth = &pp.authorization;
    let payer = Some(auth.from);
    let fail = |reason, msg: &dyn fmt::Display| Verdict::invalid(reason, msg, payer);
    let upto = facilitators.is_some();
    let (scheme, scheme_reason, network_reason, proxy) = if upto {
        (
            "upto",
            Reason::UptoEvmScheme,
            Reason::UptoEvmNetworkMismatch,
            X402_UPTO_PERMIT2_PROXY,
        )
    } else {
        (
            "exact",
            Reason::UnsupportedPayloadType,
            Reason::ExactEvmNetworkMismatch,
            X402_EXACT_PERMIT2_PROXY,
        )
    };
    if accepted_scheme != scheme || req.scheme != scheme {
        return fail(scheme_reason, &"scheme does not match the payload");
    }
    if accepted_network != req.network {
        return fail(
            network_reason,
            &"payload network differs from the requirements'",
        );
    }
    let Some(chain) = chain_id(&req.network, req.v1) else {
        return fail(Reason::InvalidNetwork, &NOT_EVM);
    };
    let (asset, pay_to) = match (req.asset_address(), req.pay_to_address()) {
        (Ok(a), Ok(p)) => (a, p),
        (Err(err), _) | (_, Err(err)) => return Verdict::from_error(&err, payer),
    };
    if auth.spender != proxy {
        return fail(
            Reason::Permit2Spender,
            &"spender is not the x402 Permit2 proxy",
        );
    }
    if auth.witness.to != pay_to {
        return fail(Reason::Permit2RecipientMismatch, &"witness.to is not payTo");
    }
    if let (Some(allowed), Some(f)) = (facilitators, auth.witness.facilitator) {
        if !allowed.contains(&f) {
            return fail(
                Reason::UptoFacilitatorMismatch,
                &"witness.facilitator is not one of this facilitator's addresses",
            );
        }
    }
    if let Some(now) = now {
        if auth.deadline < Amount::from(now.saturating_add(EXPIRY_MARGIN_SECONDS)) {
            return fail(
                Reason::Permit2DeadlineExpired,
                &"deadline is less than 6 seconds from now",
            );
        }
        if auth.witness.valid_after > Amount::from(now) {
            return fail(
                Reason::Permit2NotYetValid,
                &"witness.validAfter is in the future",
            );
        }
    }
    if auth.permitted.amount != req.amount {
        return fail(
            Reason::Permit2AmountMismatch,
            &"permitted.amount differs from the required amount",
        );
    }
    if auth.permitted.token != asset {
        return fail(
            Reason::Permit2TokenMismatch,
            &"permitted.token is not the asset",
        );
    }
    let signature = match Signature::parse_hex(pp.signature) {
        Ok(s) => s,
        Err(err) => return fail(Reason::Permit2Signature, &err),
    };
    // The exact proxy checks the exact witness, which has no facilitator: hash
    // what it checks, as the reference does, whatever else the witness carries.
    let mut signed = *auth;
    if !upto {
        signed.witness.facilitator = None;
    }
    match signature.recover(&eip712::permit2_digest(chain, &signed)) {
        Ok(signer) if signer == auth.from => {}
        Ok(_) => {
            return fail(
                Reason::Permit2Signature,
                &"signature does not recover to permit2Authorization.from",
            );
        }
        Err(err) => return fail(Reason::Permit2Signature, &err),
    }
    let amount = auth.permitted.amount;
    Verdict::valid(
        auth.from,
        [
            Some(ChainCheck::AssetIsContract { asset }),
            Some(ChainCheck::BalanceAtLeast {
                asset,
                owner: auth.from,
                amount,
            }),
            Some(ChainCheck::Permit2AllowanceAtLeast {
                asset,
                owner: auth.from,
                amount,
            }),
            Some(ChainCheck::SimulatePermit2Settle { proxy }),
            None,
        ],
    )
}

/// A valid Permit2 verdict, for a payment that carries an EIP-2612 permit
/// for Permit2 (`eip2612GasSponsoring`): the extension's offline rules, in
/// the reference's order after the signature; then the chain checks of a
/// settlement through `settleWithPermit` (the permit sets the allowance, so
/// none is checked; the simulation sends the permit too).
fn with_permit(
    verdict: Verdict,
    permit: Result<crate::gas_sponsoring::Eip2612Permit, Reason>,
    pp: &Permit2Payload<'_>,
    req: &Req<'_>,
    now: Option<u64>,
) -> Verdict {
    let payer = pp.authorization.from;
    let checked = permit.and_then(|permit| {
        let token = req.asset_address().map_err(|e| e.reason())?;
        permit.check(&payer, &token, now.unwrap_or(0))
    });
    allowance_given(verdict, checked, payer, "eip2612GasSponsoring")
}

/// A valid Permit2 verdict whose extension (`name`) gives Permit2 its
/// allowance before the settlement: without the allowance check when the
/// extension's rules hold (`checked`), else refused with their reason.
fn allowance_given(
    verdict: Verdict,
    checked: Result<(), Reason>,
    payer: Address,
    name: &str,
) -> Verdict {
    match checked {
        Ok(()) => Verdict {
            checks: verdict
                .checks
                .map(|c| c.filter(|c| !matches!(c, ChainCheck::Permit2AllowanceAtLeast { .. }))),
            ..verdict
        },
        Err(reason) => Verdict::invalid(
            reason,
            &format_args!("the {name} extension does not hold for this payment"),
            Some(payer),
        ),
    }
}

/// A valid Permit2 verdict, for a host that sponsors
/// `erc20ApprovalGasSponsoring`: a payment carrying a signed approval is held
/// to the extension's rules (in the reference's order after the signature),
/// and owes no allowance (the approval sets it before the settlement).
#[cfg(feature = "erc20-approval")]
fn with_approval(
    verdict: Verdict,
    extensions: Option<crate::json::JsonObject<'_>>,
    pp: &Permit2Payload<'_>,
    req: &Req<'_>,
) -> Verdict {
    let Some(approval) = extensions.and_then(crate::gas_sponsoring::erc20_approval::read) else {
        return verdict;
    };
    let payer = pp.authorization.from;
    let checked = approval.and_then(|a| {
        let token = req.asset_address().map_err(|e| e.reason())?;
        let chain = req.network.evm_chain_id().ok_or(Reason::InvalidNetwork)?;
        a.check(&payer, &token, chain, &pp.authorization.permitted.amount)
    });
    allowance_given(verdict, checked, payer, "erc20ApprovalGasSponsoring")
}

impl Req<'_> {
    fn asset_address(&self) -> Result<Address, Error> {
        v2::evm_address_field(self.asset, "asset").map_err(|e| e.in_object("paymentRequirements"))
    }

    fn pay_to_address(&self) -> Result<Address, Error> {
        v2::evm_address_field(self.pay_to, "payTo").map_err(|e| e.in_object("paymentRequirements"))
    }
}

/// A [`Config`] that owns its lists, read from the JSON a host keeps its settings
/// in: `{"facilitatorAddresses": ["0x…"]}` (every member optional; unknown
/// members are refused, so a misspelt setting is not silently ignored).
///
/// ```
/// use paywire::verify::OwnedConfig;
/// let c = OwnedConfig::from_json(br#"{"facilitatorAddresses":["0xfac11174700000000000000000000000000000fa"]}"#).unwrap();
/// assert_eq!(c.config().facilitator_addresses.len(), 1);
/// assert!(OwnedConfig::from_json(br#"{"facilitatorAdresses":[]}"#).is_err());
/// ```
#[cfg(feature = "alloc")]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedConfig {
    /// See [`Config::facilitator_addresses`].
    pub facilitator_addresses: alloc::vec::Vec<Address>,
}

#[cfg(feature = "alloc")]
impl OwnedConfig {
    /// Reads the settings object described above.
    ///
    /// # Errors
    /// An [`Error`] naming the member (its reason is `invalid_payload`: settings
    /// are not a protocol document).
    pub fn from_json(json: &[u8]) -> Result<OwnedConfig, Error> {
        use crate::error::ErrorKind;
        use crate::types::{address, array, err, object};
        const R: Reason = Reason::InvalidPayload;
        let v = crate::json::parse(json, &Limits::DEFAULT).map_err(|k| Error::new(R, k))?;
        let mut config = OwnedConfig::default();
        for (k, v) in object(v, R, "")?.members() {
            if k == "facilitatorAddresses" {
                for a in array(v, R, "facilitatorAddresses")?.iter() {
                    let a = address(a, R, "facilitatorAddresses")?;
                    config.facilitator_addresses.push(a);
                }
            } else {
                return Err(err(
                    R,
                    ErrorKind::Invalid("unknown member (known: facilitatorAddresses)"),
                    "",
                ));
            }
        }
        Ok(config)
    }

    /// The borrowed [`Config`] the verifier takes.
    #[must_use]
    pub fn config(&self) -> Config<'_> {
        Config {
            facilitator_addresses: &self.facilitator_addresses,
            smart_wallets: false,
            erc20_approval_sponsoring: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_verdict_is_longer_than_verdict_json_max() {
        let longest = Reason::ALL
            .iter()
            .copied()
            .find(|r| r.as_str().len() == Reason::MAX_LEN)
            .unwrap_or(Reason::InvalidPayload);
        let controls = "\u{1}".repeat(MESSAGE_CAPACITY);
        let payer = Some(Address([0xab; 20]));
        let invalid = Verdict::invalid(longest, &controls, payer);
        assert_eq!(invalid.message.as_str().len(), MESSAGE_CAPACITY);
        // The bound is that of this verdict with a Solana payer exactly (an
        // EVM address is two characters shorter than the longest base58 one).
        assert_eq!(invalid.encoded_len() + 2, VERDICT_JSON_MAX);
        #[cfg(feature = "svm")]
        {
            let mut solana = Verdict::invalid(longest, &controls, None);
            let payer = crate::svm::Pubkey([0xff; 32]);
            assert_eq!(payer.to_string().len(), crate::svm::PUBKEY_BASE58_MAX);
            solana.svm = Some(SvmPart {
                payer: Some(payer),
                checks: [None; 4],
            });
            assert_eq!(solana.encoded_len(), VERDICT_JSON_MAX);
        }

        let a = Address([0xcd; 20]);
        let kinds = [
            ChainCheck::AssetIsContract { asset: a },
            ChainCheck::Eip3009NonceUnused {
                asset: a,
                authorizer: a,
                nonce: B256([0xef; 32]),
            },
            ChainCheck::BalanceAtLeast {
                asset: a,
                owner: a,
                amount: Amount::MAX,
            },
            ChainCheck::Permit2AllowanceAtLeast {
                asset: a,
                owner: a,
                amount: Amount::MAX,
            },
            ChainCheck::SimulateEip3009Transfer { asset: a },
            ChainCheck::SimulatePermit2Settle { proxy: a },
            ChainCheck::PayerSignature {
                payer: a,
                digest: B256([0xef; 32]),
            },
        ];
        for c in kinds {
            let valid = Verdict::valid(a, [Some(c); 5]);
            assert!(valid.encoded_len() <= VERDICT_JSON_MAX, "{c:?}");
        }
    }
}
