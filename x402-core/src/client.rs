//! The paying side: choose a requirement from a 402 under a [`Policy`], build and
//! sign the payload, and encode the header the server's protocol version expects.
//!
//! Randomness comes from the caller (a 32-byte nonce); with `std`,
//! [`random_nonce`] draws one from the operating system. Time is an argument too.
//!
//! ```
//! use paywire::client::{create_payment, Policy};
//! use paywire::evm::PrivateKey;
//! use paywire::header;
//!
//! let pr = br#"{"x402Version":2,"resource":{"url":"https://api.example.com/data"},"accepts":[{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}]}"#;
//! let key = PrivateKey::from_bytes(&[0x11; 32]).unwrap();
//! let policy = Policy { max_amount: Some(1_000_000u64.into()), ..Policy::default() };
//! let mut out = [0u8; 2048];
//! let created = create_payment(pr, &key, [0x22; 32], 1_750_000_000, &policy, &mut out).unwrap();
//! assert_eq!(created.header, header::HeaderKind::PaymentSignature);
//! let value = core::str::from_utf8(&out[..created.len]).unwrap();
//! assert!(header::decode_payment_signature(value, &mut [0u8; 2048]).is_ok());
//! ```

use crate::amount::Amount;
use crate::error::{Error, ErrorKind, Reason};
use crate::evm::eip712::{self, Domain, X402_EXACT_PERMIT2_PROXY, X402_UPTO_PERMIT2_PROXY};
use crate::evm::{Address, B256, PrivateKey};
use crate::header::{self, HeaderKind};
use crate::json::{JsonStr, Limits, Sink, SinkFull, SliceSink, ToJson};
use crate::network::Network;
use crate::types::facilitator::{PaymentRequired, PaymentRequirements};
use crate::types::payload::{
    Eip3009Authorization, ExactEvmPayload, Permit2Authorization, Permit2Payload, TokenPermissions,
    Witness,
};
use crate::types::{FromJson, RawObject, v1, v2};

#[cfg(feature = "sponsored-payer")]
#[cfg_attr(docsrs, doc(cfg(feature = "sponsored-payer")))]
pub use crate::gas_sponsoring::payer::ChainFacts;

/// How far back `validAfter` is set, so that a payer's clock running ahead of
/// the facilitator's does not make a fresh payment "not yet valid".
pub const VALID_AFTER_SKEW_SECONDS: u64 = 600;

/// The longest a created authorization stays valid, whatever `maxTimeoutSeconds`
/// the server asks for: a hostile server must not obtain an authorization it
/// can settle at any time in the future.
pub const MAX_VALIDITY_SECONDS: u64 = 3600;

/// What a client is willing to pay. Empty lists allow anything.
#[derive(Clone, Copy, Debug, Default)]
pub struct Policy<'a> {
    /// Networks allowed (CAIP-2; v1 names are compared through their CAIP-2 form).
    pub networks: &'a [Network],
    /// Tokens allowed.
    pub assets: &'a [Address],
    /// The most the client pays for one request, in atomic units; `None`: no cap.
    pub max_amount: Option<Amount>,
    /// Whether `upto` (pay up to an amount, settled later) is acceptable.
    pub allow_upto: bool,
}

/// How the chosen requirement will be paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `exact` with an EIP-3009 `transferWithAuthorization` signature.
    Eip3009,
    /// `exact` with a Permit2 witness transfer.
    Permit2,
    /// `upto` with a Permit2 witness transfer naming the facilitator.
    Upto,
}

/// A requirement this client can pay, with what it takes to pay it.
#[derive(Clone, Copy, Debug)]
pub struct Selected<'a> {
    /// Index in `accepts`.
    pub index: usize,
    /// The requirement.
    pub requirements: PaymentRequirements<'a>,
    /// How it will be paid.
    pub method: Method,
    /// EVM chain id of its network.
    pub chain_id: u64,
    /// The token.
    pub asset: Address,
    /// The recipient.
    pub pay_to: Address,
}

/// Why an EVM key cannot pay a `solana:*` requirement.
#[cfg(feature = "svm")]
const SOLANA: &str = "a solana:* requirement is paid with an Ed25519 key (create_svm_payment)";
#[cfg(all(not(feature = "svm"), feature = "std"))]
const SOLANA: &str = "solana:* networks need paywire's `svm` feature";

fn no_match(why: &'static str) -> Error {
    #[cfg(any(feature = "svm", not(feature = "std")))]
    let kind = ErrorKind::Invalid(why);
    #[cfg(all(not(feature = "svm"), feature = "std"))]
    let kind = if why == SOLANA {
        ErrorKind::NetworkFamilyNotBuilt { family: "solana" }
    } else {
        ErrorKind::Invalid(why)
    };
    Error::new(Reason::InvalidPaymentRequirements, kind).at("accepts")
}

/// Whether and how `r` can be paid under `policy`.
fn payable<'a>(
    index: usize,
    r: PaymentRequirements<'a>,
    policy: &Policy<'_>,
) -> Result<Selected<'a>, &'static str> {
    let v1 = matches!(r, PaymentRequirements::V1(_));
    let network = r.network();
    // As in the verifier: `no_std` builds without `svm` leave this out.
    #[cfg(any(feature = "svm", feature = "std"))]
    if network.namespace() == Some("solana") {
        return Err(SOLANA);
    }
    let chain_id = network
        .evm_chain_id()
        .ok_or("not an EVM network this client knows")?;
    if !v1 && network.namespace() != Some("eip155") {
        return Err("not an EVM network");
    }
    // v1 names its networks; a v1 verifier refuses a CAIP-2 network.
    if v1 && network.is_caip2() {
        return Err("a v1 requirement must name its network (base-sepolia), not CAIP-2");
    }
    let caip = network.to_caip2().ok_or("unknown network")?;
    if !policy.networks.is_empty() && !policy.networks.iter().any(|n| n.to_caip2() == Some(caip)) {
        return Err("network not allowed by the policy");
    }
    let asset =
        v2::evm_address_field(r.asset(), "asset").map_err(|_| "asset is not an EVM address")?;
    let pay_to =
        v2::evm_address_field(r.pay_to(), "payTo").map_err(|_| "payTo is not an EVM address")?;
    if !policy.assets.is_empty() && !policy.assets.contains(&asset) {
        return Err("asset not allowed by the policy");
    }
    if policy.max_amount.is_some_and(|max| r.amount() > max) {
        return Err("amount above the policy's maximum");
    }
    let extra = r.extra();
    let method = if r.scheme() == "exact" {
        if extra.is_some_and(|e| e.is_permit2()) {
            if v1 {
                return Err("v1 supports EIP-3009 only");
            }
            Method::Permit2
        } else if extra
            .and_then(|e| e.name.zip(e.version))
            .is_some_and(|(n, v)| !n.is_empty() && !v.is_empty())
        {
            Method::Eip3009
        } else {
            return Err("exact with EIP-3009 needs extra.name and extra.version");
        }
    } else if r.scheme() == "upto" && policy.allow_upto && !v1 {
        extra
            .ok_or("upto needs extra.facilitatorAddress")?
            .facilitator_evm_address()
            .map_err(|_| "upto needs extra.facilitatorAddress")?;
        Method::Upto
    } else {
        return Err("scheme not supported");
    };
    Ok(Selected {
        index,
        requirements: r,
        method,
        chain_id,
        asset,
        pay_to,
    })
}

/// Picks the first requirement, in the server's order of preference, that this
/// client can pay and the policy allows.
///
/// # Errors
/// `invalid_payment_requirements` saying why the last candidate was refused.
pub fn select_requirement<'a>(
    pr: &PaymentRequired<'a>,
    policy: &Policy<'_>,
) -> Result<Selected<'a>, Error> {
    let mut last = "accepts is empty";
    // A requirement settled after the handler (`paymentFlow` absent or
    // `authorization`) first; `upfront` and `escrow` only if none is payable.
    let mut fallback = None;
    let candidates: &mut dyn Iterator<Item = PaymentRequirements<'a>> = match pr {
        PaymentRequired::V1(p) => &mut p.accepts.iter().map(PaymentRequirements::V1),
        PaymentRequired::V2(p) => &mut p.accepts.iter().map(PaymentRequirements::V2),
    };
    for (i, r) in candidates.enumerate() {
        let authorization = match r.extra().and_then(|e| e.payment_flow) {
            None => true,
            Some(f) if f == "authorization" => true,
            Some(f) if f == "upfront" || f == "escrow" => false,
            Some(_) => {
                last = "unknown extra.paymentFlow";
                continue;
            }
        };
        match payable(i, r, policy) {
            Ok(s) if authorization => return Ok(s),
            Ok(s) => {
                fallback = fallback.or(Some(s));
            }
            Err(why) => last = why,
        }
    }
    fallback.ok_or_else(|| no_match(last))
}

/// A created payment: the header value was written to the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Created {
    /// Length of the header value written.
    pub len: usize,
    /// The header to send it in (`PAYMENT-SIGNATURE` for v2, `X-PAYMENT` for v1).
    pub header: HeaderKind,
    /// Index of the chosen requirement in `accepts`.
    pub index: usize,
    /// The payer.
    pub payer: Address,
}

/// Reads a PaymentRequired given either as JSON (a v1 402 body, or decoded) or as
/// a `PAYMENT-REQUIRED` header value; `scratch` holds the decoded header.
///
/// # Errors
/// The decoding error.
pub fn read_payment_required<'a>(
    json_or_header: &'a [u8],
    scratch: &'a mut [u8],
) -> Result<PaymentRequired<'a>, Error> {
    let first = json_or_header.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        PaymentRequired::from_json_bytes(json_or_header, &Limits::DEFAULT)
    } else {
        let text = core::str::from_utf8(json_or_header)
            .map_err(|_| Error::new(Reason::InvalidPaymentRequirements, ErrorKind::Utf8))?;
        header::decode_payment_required(text, scratch)
    }
}

/// Chooses, signs and encodes a payment for a PaymentRequired given as JSON or as
/// a header value; the header value is written to `out`.
///
/// # Errors
/// The decoding or selection error, or `BufferTooSmall` (as an `Error` with that kind).
pub fn create_payment(
    payment_required: &[u8],
    key: &PrivateKey,
    nonce: [u8; 32],
    now: u64,
    policy: &Policy<'_>,
    out: &mut [u8],
) -> Result<Created, Error> {
    let mut scratch = [0u8; header::DEFAULT_MAX_DECODED];
    let pr = read_payment_required(payment_required, &mut scratch)?;
    create_payment_for(&pr, key, nonce, now, policy, out)
}

/// [`create_payment`] writing the header value to any sink: into a `Vec<u8>`
/// (with `alloc`), the value takes exactly the room it needs; `Created::len` is
/// its exact length.
///
/// # Errors
/// The decoding or selection error, or `BufferTooSmall` when the sink fills.
pub fn create_payment_to_sink(
    payment_required: &[u8],
    key: &PrivateKey,
    nonce: [u8; 32],
    now: u64,
    policy: &Policy<'_>,
    out: &mut dyn Sink,
) -> Result<Created, Error> {
    let mut scratch = [0u8; header::DEFAULT_MAX_DECODED];
    let pr = read_payment_required(payment_required, &mut scratch)?;
    create_payment_for_to_sink(&pr, key, nonce, now, policy, out)
}

/// [`create_payment`] for an already decoded PaymentRequired.
///
/// # Errors
/// The selection error, or `BufferTooSmall`.
pub fn create_payment_for(
    pr: &PaymentRequired<'_>,
    key: &PrivateKey,
    nonce: [u8; 32],
    now: u64,
    policy: &Policy<'_>,
    out: &mut [u8],
) -> Result<Created, Error> {
    create_payment_for_to_sink(pr, key, nonce, now, policy, &mut SliceSink::new(out))
}

/// [`create_payment_for`] writing the header value to any sink (see
/// [`create_payment_to_sink`]).
///
/// # Errors
/// The selection error, or `BufferTooSmall` when the sink fills.
pub fn create_payment_for_to_sink(
    pr: &PaymentRequired<'_>,
    key: &PrivateKey,
    nonce: [u8; 32],
    now: u64,
    policy: &Policy<'_>,
    out: &mut dyn Sink,
) -> Result<Created, Error> {
    create(
        pr,
        key,
        nonce,
        now,
        policy,
        #[cfg(feature = "sponsored-payer")]
        None,
        out,
    )
}

/// [`create_payment_to_sink`] given what only the chain knows
/// ([`ChainFacts`]: the payer's Permit2 allowance and EIP-2612 nonce on the
/// token, read as [`crate::gas_sponsoring::payer::chain_reads`] says; `None`
/// is [`create_payment_to_sink`] itself): a
/// Permit2 payment then carries an EIP-2612 permit for Permit2 in
/// `extensions.eip2612GasSponsoring` when the reference client would attach
/// one (the extension declared, `extra.name` and `extra.version` present, the
/// allowance below the amount or unknown; see
/// [`crate::gas_sponsoring::payer`]), so that a payer without an allowance
/// pays without gas.
///
/// # Errors
/// As [`create_payment_to_sink`].
#[cfg(feature = "sponsored-payer")]
#[cfg_attr(docsrs, doc(cfg(feature = "sponsored-payer")))]
pub fn create_payment_with_facts(
    payment_required: &[u8],
    key: &PrivateKey,
    nonce: [u8; 32],
    now: u64,
    policy: &Policy<'_>,
    facts: Option<&ChainFacts>,
    out: &mut dyn Sink,
) -> Result<Created, Error> {
    let mut scratch = [0u8; header::DEFAULT_MAX_DECODED];
    let pr = read_payment_required(payment_required, &mut scratch)?;
    create(&pr, key, nonce, now, policy, facts, out)
}

/// [`create_payment_with_facts`] for an already decoded PaymentRequired.
///
/// # Errors
/// As [`create_payment_for_to_sink`].
#[cfg(feature = "sponsored-payer")]
#[cfg_attr(docsrs, doc(cfg(feature = "sponsored-payer")))]
pub fn create_payment_for_with_facts(
    pr: &PaymentRequired<'_>,
    key: &PrivateKey,
    nonce: [u8; 32],
    now: u64,
    policy: &Policy<'_>,
    facts: Option<&ChainFacts>,
    out: &mut dyn Sink,
) -> Result<Created, Error> {
    create(pr, key, nonce, now, policy, facts, out)
}

// One body for both entry points.
fn create(
    pr: &PaymentRequired<'_>,
    key: &PrivateKey,
    nonce: [u8; 32],
    now: u64,
    policy: &Policy<'_>,
    #[cfg(feature = "sponsored-payer")] facts: Option<&ChainFacts>,
    out: &mut dyn Sink,
) -> Result<Created, Error> {
    let sel = select_requirement(pr, policy)?;
    let from = key.address();
    let r = sel.requirements;
    // This payment's `payment-identifier` (when the server declares the
    // extension): from its nonce, so that a retry of the same payment keeps it.
    let mut id_buf = [0u8; 4 + 32];
    let payment_id = crate::payment_identifier::id_from_nonce(&nonce, &mut id_buf);
    let valid_after = Amount::from(now.saturating_sub(VALID_AFTER_SKEW_SECONDS));
    let validity = r.max_timeout_seconds().min(MAX_VALIDITY_SECONDS);
    let deadline = Amount::from(now.saturating_add(validity));
    let too_small = |_: SinkFull| Error::new(Reason::InvalidPayload, ErrorKind::BufferTooSmall);
    let created = |len| Created {
        len,
        header: HeaderKind::payment_for_version(pr.x402_version()),
        index: sel.index,
        payer: from,
    };
    match sel.method {
        Method::Eip3009 => {
            let extra = r.extra().unwrap_or(crate::types::Extra::EMPTY);
            let (name, version) = extra
                .name
                .zip(extra.version)
                .ok_or(no_match("extra.name and extra.version are required"))?;
            let authorization = Eip3009Authorization {
                from,
                to: sel.pay_to,
                value: r.amount(),
                valid_after,
                valid_before: deadline,
                nonce: B256(nonce),
            };
            let domain = Domain::eip3009(name, version, sel.chain_id, sel.asset);
            let sig = key
                .sign_digest(&eip712::eip3009_digest(&domain, &authorization))
                .to_hex();
            let payload = ExactEvmPayload {
                authorization,
                signature: JsonStr::new(sig.as_str()),
            };
            write_payload(
                pr,
                &r,
                &payload,
                Some(payment_id),
                #[cfg(feature = "sponsored-payer")]
                None,
                out,
            )
            .map(created)
            .map_err(too_small)
        }
        Method::Permit2 | Method::Upto => {
            let (spender, facilitator) = if sel.method == Method::Upto {
                let f = r.extra().map(|e| e.facilitator_evm_address()).transpose()?;
                (X402_UPTO_PERMIT2_PROXY, f)
            } else {
                (X402_EXACT_PERMIT2_PROXY, None)
            };
            let authorization = Permit2Authorization {
                from,
                permitted: TokenPermissions {
                    token: sel.asset,
                    amount: r.amount(),
                },
                spender,
                nonce: Amount::from_be_bytes(nonce),
                deadline,
                witness: Witness {
                    to: sel.pay_to,
                    facilitator,
                    valid_after,
                },
            };
            let sig = key
                .sign_digest(&eip712::permit2_digest(sel.chain_id, &authorization))
                .to_hex();
            let payload = Permit2Payload {
                signature: JsonStr::new(sig.as_str()),
                authorization,
            };
            #[cfg(feature = "sponsored-payer")]
            let permit = facts
                .and_then(|f| crate::gas_sponsoring::payer::permit_for(pr, &sel, key, deadline, f));
            write_payload(
                pr,
                &r,
                &payload,
                Some(payment_id),
                #[cfg(feature = "sponsored-payer")]
                permit.as_ref(),
                out,
            )
            .map(created)
            .map_err(too_small)
        }
    }
}

/// Wraps a scheme payload in the PaymentPayload of the server's version and
/// encodes it as a header value. v2 echoes the resource and the extensions
/// (a declared `payment-identifier` with `payment_id`).
fn write_payload(
    pr: &PaymentRequired<'_>,
    r: &PaymentRequirements<'_>,
    payload: &(dyn ToJson + Sync),
    payment_id: Option<&str>,
    #[cfg(feature = "sponsored-payer")] permit: Option<&crate::gas_sponsoring::Eip2612Permit>,
    out: &mut dyn Sink,
) -> Result<usize, SinkFull> {
    match r {
        PaymentRequirements::V2(accepted) => {
            let (resource, extensions) = match pr {
                PaymentRequired::V2(p) => (Some(p.resource), p.extensions),
                PaymentRequired::V1(_) => (None, None),
            };
            let echoed = extensions
                .and_then(|e| e.as_json())
                .zip(payment_id)
                .filter(|(e, _)| crate::payment_identifier::declared(*e).is_some())
                .map(|(ext, id)| crate::payment_identifier::Echoed { ext, id });
            #[cfg(feature = "sponsored-payer")]
            let with_permit =
                permit
                    .zip(extensions.and_then(|e| e.as_json()))
                    .map(|(permit, ext)| crate::gas_sponsoring::payer::WithPermit {
                        ext,
                        id: echoed.as_ref().map(|e| e.id),
                        permit,
                    });
            let extensions = match &echoed {
                Some(e) => Some(RawObject::Value(e)),
                None => extensions,
            };
            #[cfg(feature = "sponsored-payer")]
            let extensions = match &with_permit {
                Some(w) => Some(RawObject::Value(w)),
                None => extensions,
            };
            let doc = v2::PaymentPayload {
                resource,
                accepted: *accepted,
                payload: RawObject::Value(payload),
                extensions,
                source: crate::json::JsonObject::EMPTY,
            };
            header::encode_to_sink(&doc, out)
        }
        PaymentRequirements::V1(req) => {
            let doc = v1::PaymentPayload {
                scheme: req.scheme,
                network: req.network,
                payload: RawObject::Value(payload),
                source: crate::json::JsonObject::EMPTY,
            };
            header::encode_to_sink(&doc, out)
        }
    }
}

/// What a Solana payer needs besides the 402: the mint's token program and
/// decimals (read from the mint account), and a recent blockhash when the
/// requirement carries no `extra.recentBlockhash`.
#[cfg(feature = "svm")]
#[cfg_attr(docsrs, doc(cfg(feature = "svm")))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SvmFacts {
    /// The mint's owner: [`crate::svm::TOKEN_PROGRAM`] or
    /// [`crate::svm::TOKEN_2022_PROGRAM`].
    pub token_program: crate::svm::Pubkey,
    /// The mint's decimals.
    pub decimals: u8,
    /// A recent blockhash, used when `extra.recentBlockhash` is absent.
    pub recent_blockhash: Option<[u8; 32]>,
}

#[cfg(feature = "svm")]
impl SvmFacts {
    /// Reads `{"tokenProgram": "Tokenkeg…", "decimals": 6, "recentBlockhash":
    /// "…"}` (the blockhash optional; addresses in base58), as the bindings
    /// take them.
    ///
    /// # Errors
    /// `invalid_payload` naming the member that is missing, mistyped or not
    /// base58 of 32 bytes, or an unknown member.
    pub fn from_json(json: &[u8]) -> Result<SvmFacts, Error> {
        use crate::types::{err, integer, object, string};
        const R: Reason = Reason::InvalidPayload;
        let key = |v, field: &'static str| {
            let s = string(v, R, field)?;
            let mut buf = [0u8; crate::svm::PUBKEY_BASE58_MAX];
            s.unescape_into(&mut buf)
                .ok()
                .and_then(|t| crate::svm::Pubkey::parse(t).ok())
                .ok_or(err(
                    R,
                    ErrorKind::Invalid("not a base58 address of 32 bytes"),
                    field,
                ))
        };
        let v = crate::json::parse(json, &Limits::DEFAULT).map_err(|k| Error::new(R, k))?;
        let (mut program, mut decimals, mut blockhash) = (None, None, None);
        for (k, v) in object(v, R, "")?.members() {
            if k == "tokenProgram" {
                program = Some(key(v, "tokenProgram")?);
            } else if k == "decimals" {
                let d = integer(v, R, "decimals")?;
                decimals =
                    Some(u8::try_from(d).map_err(|_| err(R, ErrorKind::Overflow, "decimals"))?);
            } else if k == "recentBlockhash" {
                if !v.is_null() {
                    blockhash = Some(key(v, "recentBlockhash")?.0);
                }
            } else {
                return Err(err(
                    R,
                    ErrorKind::Invalid(
                        "unknown member (known: tokenProgram, decimals, recentBlockhash)",
                    ),
                    "",
                ));
            }
        }
        Ok(SvmFacts {
            token_program: program.ok_or(err(R, ErrorKind::MissingField, "tokenProgram"))?,
            decimals: decimals.ok_or(err(R, ErrorKind::MissingField, "decimals"))?,
            recent_blockhash: blockhash,
        })
    }
}

/// A created Solana payment: the `PAYMENT-SIGNATURE` value was written.
#[cfg(feature = "svm")]
#[cfg_attr(docsrs, doc(cfg(feature = "svm")))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SvmCreated {
    /// Length of the header value written.
    pub len: usize,
    /// Index of the chosen requirement in `accepts`.
    pub index: usize,
    /// The payer (the transfer's authority).
    pub payer: crate::svm::Pubkey,
}

/// The first `exact` requirement on `solana:*` (v2) the policy allows, with
/// its index. The policy's `assets` are EVM addresses: a policy that lists
/// any allows no Solana asset.
///
/// # Errors
/// `invalid_payment_requirements` saying why the last candidate was refused.
#[cfg(feature = "svm")]
#[cfg_attr(docsrs, doc(cfg(feature = "svm")))]
pub fn select_svm_requirement<'a>(
    pr: &PaymentRequired<'a>,
    policy: &Policy<'_>,
) -> Result<(usize, v2::PaymentRequirements<'a>), Error> {
    let PaymentRequired::V2(p) = pr else {
        return Err(no_match("exact on solana:* is paid in x402 v2 only"));
    };
    let mut last = "accepts is empty";
    for (i, r) in p.accepts.iter().enumerate() {
        if r.scheme != crate::svm::SCHEME || r.network.namespace() != Some("solana") {
            last = "not exact on a solana:* network";
        } else if !policy.networks.is_empty()
            && !policy
                .networks
                .iter()
                .any(|n| n.to_caip2() == Some(r.network))
        {
            last = "network not allowed by the policy";
        } else if !policy.assets.is_empty() {
            last = "asset not allowed by the policy (its assets are EVM tokens)";
        } else if policy.max_amount.is_some_and(|max| r.amount > max) {
            last = "amount above the policy's maximum";
        } else {
            return Ok((i, r));
        }
    }
    Err(no_match(last))
}

/// Chooses an `exact` requirement on `solana:*` and pays it: the payer's
/// transaction ([`crate::svm::client`]: compute budget, `TransferChecked` to
/// `payTo`'s associated token account, a Memo of `extra.memo` or of
/// `memo_nonce` in hex), partly signed by `key`, in a v2 PaymentPayload
/// written to `out` as a `PAYMENT-SIGNATURE` value. `payment_required` is
/// JSON or a `PAYMENT-REQUIRED` header value.
///
/// # Errors
/// The decoding or selection error; `invalid_payment_requirements` naming
/// what the transaction could not be built from (`extra.feePayer`, `asset`,
/// no blockhash, ...); `BufferTooSmall` when the sink fills.
#[cfg(feature = "svm")]
#[cfg_attr(docsrs, doc(cfg(feature = "svm")))]
pub fn create_svm_payment_to_sink(
    payment_required: &[u8],
    key: &crate::svm::client::SigningKey,
    facts: &SvmFacts,
    memo_nonce: [u8; 16],
    policy: &Policy<'_>,
    out: &mut dyn Sink,
) -> Result<SvmCreated, Error> {
    let mut scratch = [0u8; header::DEFAULT_MAX_DECODED];
    let pr = read_payment_required(payment_required, &mut scratch)?;
    create_svm_payment_for_to_sink(&pr, key, facts, memo_nonce, policy, out)
}

/// [`create_svm_payment_to_sink`] for an already decoded PaymentRequired.
///
/// # Errors
/// As [`create_svm_payment_to_sink`].
#[cfg(feature = "svm")]
#[cfg_attr(docsrs, doc(cfg(feature = "svm")))]
pub fn create_svm_payment_for_to_sink(
    pr: &PaymentRequired<'_>,
    key: &crate::svm::client::SigningKey,
    facts: &SvmFacts,
    memo_nonce: [u8; 16],
    policy: &Policy<'_>,
    out: &mut dyn Sink,
) -> Result<SvmCreated, Error> {
    use crate::svm::client::{CreateError, ExactSvmPayload, Payment, create_transaction};
    use crate::svm::tx::MAX_TRANSACTION_SIZE;
    let (index, r) = select_svm_requirement(pr, policy)?;
    let refused = |e: CreateError| {
        let field = match e {
            CreateError::MissingFeePayer => "extra.feePayer",
            CreateError::InvalidAddress => "asset",
            CreateError::AmountTooLarge => "amount",
            CreateError::MemoTooLong => "extra.memo",
            CreateError::MissingBlockhash => "extra.recentBlockhash",
            CreateError::UnknownTokenProgram => "tokenProgram",
            CreateError::PayerIsFeePayer => "extra.feePayer",
            CreateError::BufferTooSmall => "",
        };
        let kind = match e {
            CreateError::BufferTooSmall => ErrorKind::BufferTooSmall,
            e => ErrorKind::Invalid(e.message()),
        };
        Error::new(Reason::InvalidPaymentRequirements, kind)
            .at(field)
            .in_object("accepts")
    };
    let mut memo_buf = [0u8; crate::svm::MAX_MEMO_BYTES];
    let payment = Payment::from_requirements(
        &r,
        facts.token_program,
        facts.decimals,
        facts.recent_blockhash,
        memo_nonce,
        &mut memo_buf,
    )
    .map_err(refused)?;
    let mut tx = [0u8; MAX_TRANSACTION_SIZE];
    let n = create_transaction(key, &payment, &mut tx).map_err(refused)?;
    let transaction = tx.get(..n).ok_or(refused(CreateError::BufferTooSmall))?;
    let len = write_payload(
        pr,
        &PaymentRequirements::V2(r),
        &ExactSvmPayload { transaction },
        None,
        #[cfg(feature = "sponsored-payer")]
        None,
        out,
    )
    .map_err(|_| Error::new(Reason::InvalidPayload, ErrorKind::BufferTooSmall))?;
    Ok(SvmCreated {
        len,
        index,
        payer: crate::svm::Pubkey(key.verifying_key().to_bytes()),
    })
}

/// A created `batch-settlement` commitment: the `PAYMENT-SIGNATURE` value was
/// written to the caller's buffer.
#[cfg(feature = "batch")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchCreated {
    /// Length of the header value written.
    pub len: usize,
    /// Index of the chosen requirement in `accepts`.
    pub index: usize,
    /// The amount committed to, in the asset's smallest unit.
    pub amount: Amount,
}

/// Chooses the first `batch-settlement` requirement on `cloudflare:402` the
/// policy allows and writes the `PAYMENT-SIGNATURE` value that commits to it:
/// `{x402Version: 2, resource, accepted, payload: {amount, asset}, extensions}`,
/// echoing the 402's resource and extensions like every v2 payment.
///
/// The commitment binds only once the request carrying it is signed with
/// [`crate::batch::sign_request`]; nothing is signed here. The policy's
/// `networks` must allow `cloudflare:402` when not empty, and its `assets` (EVM
/// tokens) must be empty, since the asset is a currency code.
///
/// ```
/// use paywire::batch::{self, directory::Directory, ed25519::SigningKey, Request, SignParams};
/// use paywire::client::{create_batch_payment, read_payment_required, Policy};
///
/// let offer = br#"{"x402Version":2,"resource":{"url":"https://example.com/article"},"accepts":[{"scheme":"batch-settlement","network":"cloudflare:402","amount":"5","asset":"USD","payTo":"merchant","maxTimeoutSeconds":30,"extra":{"version":"1"}}]}"#;
/// let mut scratch = [0u8; 1024];
/// let pr = read_payment_required(offer, &mut scratch).unwrap();
/// let mut out = [0u8; 1024];
/// let created = create_batch_payment(&pr, &Policy::default(), &mut out).unwrap();
/// let payment = core::str::from_utf8(&out[..created.len]).unwrap();
///
/// // Sign the request that carries it, and the server's verifier accepts it.
/// let key = SigningKey::from_seed(&[7; 32]);
/// let url = "https://example.com/article";
/// let unsigned = [("PAYMENT-SIGNATURE", payment)];
/// let params = SignParams { label: "sig1", signature_agent: "\"https://agent.example\"",
///     signature_agent_key: None, created: 1_750_000_000, expires: 1_750_000_060, nonce: None };
/// let signed = batch::sign_request_alloc(&Request { method: "GET", url, headers: &unsigned }, &key, &params).unwrap();
/// let headers = [
///     ("PAYMENT-SIGNATURE", payment),
///     ("Signature-Agent", signed.signature_agent.as_str()),
///     ("Signature-Input", signed.signature_input.as_str()),
///     ("Signature", signed.signature.as_str()),
/// ];
/// let mut jwks = Vec::new();
/// batch::directory::write_directory(&[key.public_key()], &mut jwks).unwrap();
/// let dir = Directory::parse(&jwks).unwrap();
/// let req = Request { method: "GET", url, headers: &headers };
/// let v = batch::verify_batch_settlement_alloc(&req, offer, &dir, 1_750_000_010, &batch::Config::DEFAULT);
/// assert!(v.is_valid(), "{:?}", v.message);
/// assert_eq!(v.commitment.unwrap().amount, 5u64.into());
/// ```
///
/// # Errors
/// `invalid_payment_requirements` naming `accepts` when no requirement fits
/// (saying why the last candidate was refused), or `BufferTooSmall`.
#[cfg(feature = "batch")]
#[cfg_attr(docsrs, doc(cfg(feature = "batch")))]
pub fn create_batch_payment(
    pr: &PaymentRequired<'_>,
    policy: &Policy<'_>,
    out: &mut [u8],
) -> Result<BatchCreated, Error> {
    use crate::batch::{NETWORK, SCHEME};
    use crate::types::payload::BatchSettlementPayload;
    let PaymentRequired::V2(p) = pr else {
        return Err(no_match("batch-settlement is an x402 version 2 scheme"));
    };
    let mut last = "no batch-settlement requirement on cloudflare:402";
    for (index, r) in p.accepts.iter().enumerate() {
        if r.scheme != SCHEME || r.network != NETWORK {
            continue;
        }
        if !policy.networks.is_empty() && !policy.networks.iter().any(|n| *n == NETWORK) {
            last = "network not allowed by the policy";
            continue;
        }
        if !policy.assets.is_empty() {
            last = "asset not allowed by the policy";
            continue;
        }
        if policy.max_amount.is_some_and(|max| r.amount > max) {
            last = "amount above the policy's maximum";
            continue;
        }
        let payload = BatchSettlementPayload {
            amount: r.amount,
            asset: r.asset,
        };
        let len = write_payload(
            pr,
            &PaymentRequirements::V2(r),
            &payload,
            None,
            #[cfg(feature = "sponsored-payer")]
            None,
            &mut SliceSink::new(out),
        )
        .map_err(|_| Error::new(Reason::InvalidPayload, ErrorKind::BufferTooSmall))?;
        return Ok(BatchCreated {
            len,
            index,
            amount: r.amount,
        });
    }
    Err(no_match(last))
}

/// A nonce from the operating system's random source.
///
/// # Errors
/// The random source's error.
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub fn random_nonce() -> Result<[u8; 32], getrandom::Error> {
    let mut n = [0u8; 32];
    getrandom::fill(&mut n)?;
    Ok(n)
}

/// A [`Policy`] that owns its lists, read from JSON:
/// `{"networks": ["eip155:8453", "base"], "assets": ["0x…"], "maxAmount": "1000000",
/// "allowUpto": false}`. Every member is optional (absent: no restriction, and
/// `upto` refused); networks are CAIP-2 identifiers or v1 names; `maxAmount` is a
/// decimal string of atomic units. Unknown members are refused, so a misspelt
/// limit is never silently ignored.
///
/// ```
/// use paywire::client::OwnedPolicy;
/// let p = OwnedPolicy::from_json(br#"{"networks":["base-sepolia"],"maxAmount":"10000"}"#).unwrap();
/// assert_eq!(p.policy().max_amount, Some(10_000u64.into()));
/// assert!(OwnedPolicy::from_json(br#"{"maxAmmount":"1"}"#).is_err());
/// ```
#[cfg(feature = "alloc")]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedPolicy {
    /// See [`Policy::networks`].
    pub networks: alloc::vec::Vec<Network>,
    /// See [`Policy::assets`].
    pub assets: alloc::vec::Vec<Address>,
    /// See [`Policy::max_amount`].
    pub max_amount: Option<Amount>,
    /// See [`Policy::allow_upto`].
    pub allow_upto: bool,
}

#[cfg(feature = "alloc")]
impl OwnedPolicy {
    /// Reads the policy object described above.
    ///
    /// # Errors
    /// An [`Error`] naming the member (its reason is `invalid_payment_requirements`,
    /// but a policy is the caller's setting, not a peer's document).
    pub fn from_json(json: &[u8]) -> Result<OwnedPolicy, Error> {
        use crate::types::{address, amount, array, boolean, err, network_any, object};
        const R: Reason = Reason::InvalidPaymentRequirements;
        let v = crate::json::parse(json, &Limits::DEFAULT).map_err(|k| Error::new(R, k))?;
        let mut p = OwnedPolicy::default();
        for (k, v) in object(v, R, "")?.members() {
            if k == "networks" {
                for n in array(v, R, "networks")?.iter() {
                    p.networks.push(network_any(n, R, "networks")?);
                }
            } else if k == "assets" {
                for a in array(v, R, "assets")?.iter() {
                    p.assets.push(address(a, R, "assets")?);
                }
            } else if k == "maxAmount" {
                p.max_amount = Some(amount(v, R, "maxAmount")?);
            } else if k == "allowUpto" {
                p.allow_upto = boolean(v, R, "allowUpto")?;
            } else {
                return Err(err(
                    R,
                    ErrorKind::Invalid(
                        "unknown member (known: networks, assets, maxAmount, allowUpto)",
                    ),
                    "",
                ));
            }
        }
        Ok(p)
    }

    /// The borrowed [`Policy`] that [`create_payment`] takes.
    #[must_use]
    pub fn policy(&self) -> Policy<'_> {
        Policy {
            networks: &self.networks,
            assets: &self.assets,
            max_amount: self.max_amount,
            allow_upto: self.allow_upto,
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod sink_tests {
    use super::*;
    use crate::json::Counter;

    const PR: &[u8] = br#"{"x402Version":2,"resource":{"url":"https://api.example.com/data"},"accepts":[{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}]}"#;

    #[test]
    fn a_sink_receives_the_value_and_a_counter_its_exact_length() {
        let key = PrivateKey::from_bytes(&[0x11; 32]).unwrap();
        let policy = Policy::default();
        let (nonce, now) = ([0x22; 32], 1_750_000_000);
        let mut out = [0u8; 4096];
        let c = create_payment(PR, &key, nonce, now, &policy, &mut out).unwrap();

        let mut counter = Counter(0);
        let counted = create_payment_to_sink(PR, &key, nonce, now, &policy, &mut counter).unwrap();
        assert_eq!((counted.len, counter.0), (c.len, c.len));

        let mut v = Vec::new();
        let into_vec = create_payment_to_sink(PR, &key, nonce, now, &policy, &mut v).unwrap();
        assert_eq!(into_vec, c);
        assert_eq!(v, &out[..c.len]);

        // One byte short is BufferTooSmall; the exact length is enough.
        let e = create_payment(PR, &key, nonce, now, &policy, &mut out[..c.len - 1]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BufferTooSmall);
        assert!(create_payment(PR, &key, nonce, now, &policy, &mut out[..c.len]).is_ok());
    }

    #[test]
    fn a_requirement_settled_after_the_handler_is_preferred_and_unknown_flows_are_skipped() {
        let req = |amount: &str, flow: &str| {
            alloc::format!(
                r#"{{"scheme":"exact","network":"eip155:84532","amount":"{amount}","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{{"name":"USDC","version":"2"{flow}}}}}"#
            )
        };
        let pick = |accepts: &[String]| {
            let json = alloc::format!(
                r#"{{"x402Version":2,"resource":{{"url":"https://a.example/"}},"accepts":[{}]}}"#,
                accepts.join(",")
            );
            let mut scratch = [0u8; 8];
            let pr = read_payment_required(json.as_bytes(), &mut scratch).unwrap();
            select_requirement(&pr, &Policy::default()).map(|s| s.index)
        };
        let upfront = req("1", r#","paymentFlow":"upfront""#);
        let escrow = req("2", r#","paymentFlow":"escrow""#);
        let authorization = req("3", r#","paymentFlow":"authorization""#);
        let plain = req("4", "");
        let unknown = req("5", r#","paymentFlow":"later""#);
        assert_eq!(pick(&[upfront.clone(), authorization.clone()]).unwrap(), 1);
        assert_eq!(pick(&[escrow.clone(), plain.clone()]).unwrap(), 1);
        assert_eq!(pick(&[unknown.clone(), upfront.clone()]).unwrap(), 1);
        assert_eq!(pick(&[upfront]).unwrap(), 0);
        let e = pick(&[unknown]).unwrap_err();
        assert!(e.to_string().contains("paymentFlow"), "{e}");
    }
}

#[cfg(all(test, feature = "batch"))]
mod batch_tests {
    use super::*;

    const OFFER: &[u8] = br#"{"x402Version":2,"resource":{"url":"https://example.com/a"},"accepts":[{"scheme":"exact","network":"eip155:84532","amount":"1","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}},{"scheme":"batch-settlement","network":"cloudflare:402","amount":"5","asset":"USD","payTo":"merchant","maxTimeoutSeconds":30,"extra":{"version":"1"}}],"extensions":{"http-message-signatures":{"info":{"tags":["web-bot-auth"]}}}}"#;

    fn created(policy: &Policy<'_>) -> Result<(BatchCreated, String), Error> {
        let mut scratch = [0u8; 2048];
        let pr = read_payment_required(OFFER, &mut scratch)?;
        let mut out = [0u8; 2048];
        let c = create_batch_payment(&pr, policy, &mut out)?;
        let value = core::str::from_utf8(&out[..c.len]).unwrap().to_string();
        Ok((c, value))
    }

    #[test]
    fn commits_to_the_batch_requirement_and_echoes_the_402() {
        let (c, value) = created(&Policy::default()).unwrap();
        assert_eq!((c.index, c.amount), (1, Amount::from(5u64)));
        let json = header::decode_to_vec(&value, header::DEFAULT_MAX_DECODED).unwrap();
        assert_eq!(
            core::str::from_utf8(&json).unwrap(),
            r#"{"x402Version":2,"resource":{"url":"https://example.com/a"},"accepted":{"scheme":"batch-settlement","network":"cloudflare:402","amount":"5","asset":"USD","payTo":"merchant","maxTimeoutSeconds":30,"extra":{"version":"1"}},"payload":{"amount":"5","asset":"USD"},"extensions":{"http-message-signatures":{"info":{"tags":["web-bot-auth"]}}}}"#
        );
    }

    #[test]
    fn policy_refusals_say_why() {
        let base = Network::parse_caip2("eip155:8453").unwrap();
        let usdc = Address::parse("0x036CbD53842c5426634e7929541eC2318f3dCF7e").unwrap();
        for (policy, why) in [
            (
                Policy {
                    max_amount: Some(4u64.into()),
                    ..Policy::default()
                },
                "amount above the policy's maximum",
            ),
            (
                Policy {
                    networks: core::slice::from_ref(&base),
                    ..Policy::default()
                },
                "network not allowed by the policy",
            ),
            (
                Policy {
                    assets: core::slice::from_ref(&usdc),
                    ..Policy::default()
                },
                "asset not allowed by the policy",
            ),
        ] {
            let e = created(&policy).unwrap_err();
            assert_eq!(e.reason(), Reason::InvalidPaymentRequirements);
            assert_eq!(e.kind(), ErrorKind::Invalid(why));
            assert_eq!(e.field(), "accepts");
        }
        let cf = Network::parse_caip2("cloudflare:402").unwrap();
        let ok = Policy {
            networks: core::slice::from_ref(&cf),
            max_amount: Some(5u64.into()),
            ..Policy::default()
        };
        assert!(created(&ok).is_ok());
    }

    #[test]
    fn v1_and_evm_only_402s_have_nothing_to_commit_to() {
        let v1 = br#"{"x402Version":1,"accepts":[]}"#;
        let mut scratch = [0u8; 256];
        let pr = read_payment_required(v1, &mut scratch).unwrap();
        let e = create_batch_payment(&pr, &Policy::default(), &mut [0u8; 256]).unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::Invalid("batch-settlement is an x402 version 2 scheme")
        );
        let evm = br#"{"x402Version":2,"resource":{"url":"u"},"accepts":[]}"#;
        let pr = read_payment_required(evm, &mut scratch).unwrap();
        let e = create_batch_payment(&pr, &Policy::default(), &mut [0u8; 256]).unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::Invalid("no batch-settlement requirement on cloudflare:402")
        );
        // Too small a buffer is an error, not a panic.
        let (c, _) = created(&Policy::default()).unwrap();
        let mut scratch = [0u8; 2048];
        let pr = read_payment_required(OFFER, &mut scratch).unwrap();
        let e =
            create_batch_payment(&pr, &Policy::default(), &mut vec![0u8; c.len - 1]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BufferTooSmall);
    }
}
