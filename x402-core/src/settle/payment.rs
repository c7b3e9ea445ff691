//! What the machine keeps of a payment the offline checks accepted, and the
//! settlement call it makes of it.

use crate::amount::Amount;
use crate::error::{Error, Reason};
use crate::evm::abi;
use crate::evm::eip712::{
    self, Domain, X402_EXACT_PERMIT2_PROXY, X402_UPTO_PERMIT2_PROXY, keccak_text,
};
use crate::evm::smart_wallet::{self, PayerSignature};
use crate::evm::{Address, Signature};
use crate::gas_sponsoring::Eip2612Permit;
use crate::json::JsonStr;
use crate::network::Network;
use crate::types::facilitator::{PaymentPayload, PaymentRequirements};
use crate::types::payload::{
    Eip3009Authorization, MAX_SIGNATURE_BYTES, Permit2Authorization, SchemePayload,
};

/// The longest smart-wallet signature, and factory calldata of an ERC-6492
/// signature, the machine keeps (each).
pub(crate) const WALLET_BYTES_MAX: usize = 1024;

/// Calldata kept by the machine: a counterfactual wallet's deployment and
/// `transferWithAuthorization` with the longest smart-wallet signature,
/// through Multicall3 (the upto proxy's `settle` with a 65-byte signature
/// takes 452 bytes).
pub(super) const CALLDATA_MAX: usize = abi::multicall3_aggregate3_len(
    WALLET_BYTES_MAX,
    abi::transfer_with_authorization_bytes_len(WALLET_BYTES_MAX),
);

/// A smart-wallet payer's signature: what the chain must accept (see
/// [`crate::evm::smart_wallet`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Wallet {
    /// The EIP-712 digest signed.
    pub(super) digest: [u8; 32],
    /// What the wallet checks (ERC-1271), and settlement passes on.
    pub(super) signature: Calldata<WALLET_BYTES_MAX>,
    /// The factory and its calldata an ERC-6492 signature names.
    pub(super) deployment: Option<(Address, Calldata<WALLET_BYTES_MAX>)>,
    /// Set once the chain has shown no code at the payer: the wallet is
    /// counterfactual, and settlement deploys it and transfers in one
    /// transaction (Multicall3 `aggregate3`, all or nothing).
    pub(super) counterfactual: bool,
}
const _: () = assert!(abi::exact_permit2_settle_with_permit_len(65) <= CALLDATA_MAX);

/// Calldata in a fixed buffer: settlement allocates nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Calldata<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Calldata<N> {
    /// `data`, cut to `N` bytes.
    pub(super) fn new(data: &[u8]) -> Calldata<N> {
        let mut c = Calldata {
            bytes: [0; N],
            len: 0,
        };
        let n = data.len().min(N);
        if let (Some(dst), Some(src)) = (c.bytes.get_mut(..n), data.get(..n)) {
            dst.copy_from_slice(src);
        }
        c.len = n;
        c
    }

    /// The bytes.
    pub(super) fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// How a payment moves the tokens, with what its settlement call needs.
// Kept inline: the core has no `alloc` to box a smart wallet's signature with.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// EIP-3009 `transferWithAuthorization` on the token; the hashes of the
    /// EIP-712 domain's name and version the payment names, which the
    /// diagnosis compares with the token's.
    Eip3009 {
        auth: Eip3009Authorization,
        name_hash: [u8; 32],
        version_hash: [u8; 32],
        /// A smart wallet's signature (else `signature` is an EOA's).
        wallet: Option<Wallet>,
    },
    /// Permit2, through the x402 proxy of `exact`, or of `upto`; for
    /// `exact`, with the payer's EIP-2612 permit for Permit2 when the payment
    /// carries one (`eip2612GasSponsoring`: `settleWithPermit`).
    Permit2 {
        auth: Permit2Authorization,
        upto: bool,
        permit: Option<Eip2612Permit>,
    },
}

/// What the machine keeps of a payment: no borrow of the request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Payment {
    /// The network, as the payment named it.
    pub(super) network: Network,
    pub(super) chain_id: u64,
    pub(super) asset: Address,
    pub(super) payer: Address,
    /// The amount checked against the balance, and transferred.
    pub(super) amount: Amount,
    signature: [u8; 65],
    pub(super) kind: Kind,
}

impl Payment {
    /// Where the settlement transaction goes.
    pub(super) fn target(&self) -> Address {
        if self.pending_deployment().is_some() {
            return abi::MULTICALL3;
        }
        match self.kind {
            Kind::Eip3009 { .. } => self.asset,
            Kind::Permit2 { upto: false, .. } => X402_EXACT_PERMIT2_PROXY,
            Kind::Permit2 { upto: true, .. } => X402_UPTO_PERMIT2_PROXY,
        }
    }

    /// The `Transfer(from, to, value)` settlement must emit.
    pub(super) fn expected_transfer(&self) -> (Address, Address, Amount) {
        match &self.kind {
            Kind::Eip3009 { auth, .. } => (auth.from, auth.to, auth.value),
            Kind::Permit2 { auth, .. } => (auth.from, auth.witness.to, self.amount),
        }
    }

    /// The same payment for a wallet the chain has shown not to be deployed
    /// (no change for other payments).
    pub(super) fn counterfactual(mut self) -> Payment {
        if let Kind::Eip3009 {
            wallet: Some(w), ..
        } = &mut self.kind
        {
            w.counterfactual = w.deployment.is_some();
        }
        self
    }

    /// A smart wallet's signature, when the payer's is not an EOA's.
    pub(super) fn wallet(&self) -> Option<&Wallet> {
        match &self.kind {
            Kind::Eip3009 { wallet, .. } => wallet.as_ref(),
            Kind::Permit2 { .. } => None,
        }
    }

    /// The factory and calldata of a counterfactual wallet's deployment, once
    /// the chain has shown there is no code at the payer.
    pub(super) fn pending_deployment(&self) -> Option<(Address, &[u8])> {
        let w = self.wallet().filter(|w| w.counterfactual)?;
        w.deployment.as_ref().map(|(f, c)| (*f, c.as_slice()))
    }

    /// Whether this is an `upto` payment (settled for a charge at most the
    /// permitted amount).
    pub(super) fn is_upto(&self) -> bool {
        matches!(self.kind, Kind::Permit2 { upto: true, .. })
    }

    /// The reason a failed settlement transaction is reported with.
    pub(super) fn failed_tx_reason(&self) -> Reason {
        if self.is_upto() {
            Reason::UptoEvmTransactionFailed
        } else {
            Reason::ExactEvmTransactionFailed
        }
    }

    /// The settlement calldata (empty should it not fit, which none does).
    pub(super) fn calldata(&self) -> Calldata<CALLDATA_MAX> {
        let mut out = [0u8; CALLDATA_MAX];
        let n = match &self.kind {
            Kind::Eip3009 {
                auth,
                wallet: Some(w),
                ..
            } => {
                let mut transfer =
                    [0u8; abi::transfer_with_authorization_bytes_len(WALLET_BYTES_MAX)];
                let n = abi::transfer_with_authorization_bytes(
                    auth,
                    w.signature.as_slice(),
                    &mut transfer,
                )
                .ok();
                let transfer = transfer.get(..n.unwrap_or(0)).unwrap_or_default();
                match self.pending_deployment() {
                    // Deployed, then paid, in one transaction.
                    Some((factory, deploy)) => abi::multicall3_aggregate3(
                        &[(factory, deploy), (self.asset, transfer)],
                        &mut out,
                    )
                    .ok(),
                    None => out
                        .get_mut(..transfer.len())
                        .map(|d| d.copy_from_slice(transfer))
                        .map(|()| transfer.len()),
                }
            }
            Kind::Eip3009 { auth, .. } => {
                let c = abi::transfer_with_authorization_sig(auth, &self.signature);
                out.get_mut(..c.len())
                    .map(|d| d.copy_from_slice(&c))
                    .map(|()| c.len())
            }
            Kind::Permit2 {
                auth,
                upto: false,
                permit: Some(p),
            } => abi::exact_permit2_settle_with_permit(
                &p.amount,
                &p.deadline,
                &p.signature,
                auth,
                &self.signature,
                &mut out,
            )
            .ok(),
            Kind::Permit2 {
                auth, upto: false, ..
            } => abi::exact_permit2_settle(auth, &self.signature, &mut out).ok(),
            Kind::Permit2 {
                auth, upto: true, ..
            } => abi::upto_permit2_settle(auth, &self.amount, &self.signature, &mut out).ok(),
        };
        Calldata::new(out.get(..n.unwrap_or(0)).unwrap_or_default())
    }
}

/// Reads what settlement needs from a payment the offline verifier accepted.
pub(super) fn extract(
    payload: &PaymentPayload<'_>,
    req: &PaymentRequirements<'_>,
) -> Option<Payment> {
    let (obj, network) = match payload {
        PaymentPayload::V1(p) => (p.payload_json().ok()?, p.network),
        PaymentPayload::V2(p) => (p.payload_json().ok()?, p.accepted.network),
    };
    let asset = crate::types::v2::evm_address_field(req.asset(), "asset").ok()?;
    let chain_id = req.network().evm_chain_id()?;
    match SchemePayload::from_object(obj).ok()? {
        SchemePayload::Eip3009(e) => {
            let extra = req.extra()?;
            let (name, version) = (extra.name?, extra.version?);
            let domain = Domain::eip3009(name, version, chain_id, asset);
            let digest = eip712::eip3009_digest(&domain, &e.authorization);
            let (signature, wallet) =
                eip3009_signature(e.signature, &digest, &e.authorization.from)?;
            Some(Payment {
                network,
                chain_id,
                asset,
                payer: e.authorization.from,
                amount: req.amount(),
                signature,
                kind: Kind::Eip3009 {
                    auth: e.authorization,
                    name_hash: keccak_text(name),
                    version_hash: keccak_text(version),
                    wallet,
                },
            })
        }
        SchemePayload::Permit2(pp) => {
            let upto = req.scheme() == "upto";
            // Verified offline before: a permit that is there is valid.
            let permit = match payload {
                PaymentPayload::V2(p) if !upto => p
                    .extensions
                    .and_then(|e| e.as_json())
                    .and_then(crate::gas_sponsoring::read)
                    .and_then(Result::ok),
                _ => None,
            };
            Some(Payment {
                network,
                chain_id,
                asset,
                payer: pp.authorization.from,
                amount: pp.authorization.permitted.amount,
                signature: Signature::parse_hex(pp.signature).ok()?.to_bytes(),
                kind: Kind::Permit2 {
                    auth: pp.authorization,
                    upto,
                    permit,
                },
            })
        }
        SchemePayload::Batch(_) => None,
    }
}

/// An EIP-3009 signature: an EOA's 65 bytes, or a smart wallet's (then the
/// 65 bytes are zero). `None` for a signature that is not hex, an ERC-6492
/// signature that cannot be unwrapped, or parts longer than
/// [`WALLET_BYTES_MAX`].
fn eip3009_signature(
    hex: JsonStr<'_>,
    digest: &[u8; 32],
    payer: &Address,
) -> Option<([u8; 65], Option<Wallet>)> {
    let mut buf = [0u8; MAX_SIGNATURE_BYTES];
    let bytes = decode_hex(hex, &mut buf)?;
    let keep = |b: &[u8]| (b.len() <= WALLET_BYTES_MAX).then(|| Calldata::new(b));
    match smart_wallet::classify(bytes, digest, payer).ok()? {
        PayerSignature::Eoa(sig) => Some((sig.to_bytes(), None)),
        PayerSignature::Contract {
            signature,
            deployment,
        } => {
            let deployment = match deployment {
                Some(d) => Some((d.factory, keep(d.calldata)?)),
                None => None,
            };
            let wallet = Wallet {
                digest: *digest,
                signature: keep(signature)?,
                deployment,
                counterfactual: false,
            };
            Some(([0; 65], Some(wallet)))
        }
    }
}

/// `0x`-prefixed hex (a payload's signature, validated when it was read) into `out`.
fn decode_hex<'b>(hex: JsonStr<'_>, out: &'b mut [u8]) -> Option<&'b [u8]> {
    let mut chars = hex.chars();
    if chars.next() != Some('0') || chars.next() != Some('x') {
        return None;
    }
    let mut n = 0;
    while let Some(hi) = chars.next() {
        let lo = chars.next()?;
        let byte = (hi.to_digit(16)? << 4) | lo.to_digit(16)?;
        *out.get_mut(n)? = u8::try_from(byte).ok()?;
        n += 1;
    }
    out.get(..n)
}

/// What makes a payment unique on chain: the authorization of `payer` with
/// `nonce` on `asset`'s `network` can move money once. Hosts key their
/// records by it ([`PaymentId::write_key`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaymentId {
    /// The network, as the payment names it.
    pub network: Network,
    /// The chain.
    pub chain_id: u64,
    /// The token.
    pub asset: Address,
    /// Whose authorization.
    pub payer: Address,
    /// Its nonce: EIP-3009's `bytes32`, or Permit2's `uint256` (big-endian).
    pub nonce: [u8; 32],
    /// Whether the nonce is Permit2's (else EIP-3009's).
    pub permit2: bool,
    /// The scheme's method: `true` for `upto`.
    pub upto: bool,
    /// The amount the settlement moves (for `upto`, the amount to charge).
    pub amount: Amount,
}

impl PaymentId {
    /// Reads the identity of a `POST /settle` (or `/verify`) body's payment,
    /// without verifying it.
    ///
    /// # Errors
    /// `invalid_payload` when the payment is not an EVM authorization this
    /// crate can settle (EIP-3009 or Permit2).
    pub fn of(req: &crate::types::facilitator::VerifyRequest<'_>) -> Result<PaymentId, Error> {
        let p = extract(&req.payment_payload, &req.payment_requirements).ok_or(Error::new(
            Reason::InvalidPayload,
            crate::error::ErrorKind::Invalid("not an EVM authorization (EIP-3009 or Permit2)"),
        ))?;
        let (nonce, permit2, upto) = match &p.kind {
            Kind::Eip3009 { auth, .. } => (auth.nonce.0, false, false),
            Kind::Permit2 { auth, upto, .. } => (auth.nonce.to_be_bytes(), true, *upto),
        };
        Ok(PaymentId {
            network: p.network,
            chain_id: p.chain_id,
            asset: p.asset,
            payer: p.payer,
            nonce,
            permit2,
            upto,
            amount: if upto {
                req.payment_requirements.amount()
            } else {
                p.amount
            },
        })
    }

    /// `network/asset/payer/nonce`, lower case (the nonce in hex for
    /// EIP-3009, in decimal for Permit2): the key resource servers'
    /// lifecycles use for the same payment.
    ///
    /// # Errors
    /// [`core::fmt::Error`] from `out`.
    pub fn write_key(&self, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        let asset = self.asset.checksummed();
        let payer = self.payer.checksummed();
        write!(out, "{}/", self.network.as_str())?;
        for c in asset.as_str().chars().chain(core::iter::once('/')) {
            out.write_char(c.to_ascii_lowercase())?;
        }
        for c in payer.as_str().chars().chain(core::iter::once('/')) {
            out.write_char(c.to_ascii_lowercase())?;
        }
        if self.permit2 {
            write!(out, "{}", Amount::from_be_bytes(self.nonce))
        } else {
            write!(out, "{}", crate::evm::B256(self.nonce))
        }
    }
}
