//! Creating `batch-settlement` EVM payloads with a [`PrivateKey`]: the channel
//! configuration a payer opens for some requirements, vouchers, deposits
//! (EIP-3009 or Permit2) and refund requests, as `@x402/evm` 2.27's client
//! builds them.
//!
//! The core reads no clock and draws no randomness: `now`, the deposit's salt
//! and the Permit2 nonce are the caller's (with `std`,
//! [`crate::client::random_nonce`] gives 32 random bytes). What is created owns
//! its signatures; [`Created::payload`] views it as a [`BatchPayload`], which
//! writes the wire JSON.

use crate::amount::Amount;
use crate::evm::eip712::Domain;
use crate::evm::{Address, B256, HexString, PrivateKey, Signature};
use crate::json::{JsonStr, ObjectWriter, Sink, SinkFull, ToJson};
use crate::types::v2::PaymentRequirements;

use super::reason::BatchReason;
use super::types::{
    BatchPayload, ChannelConfig, Deposit, DepositAuthorization, DepositPayload,
    Erc3009DepositAuthorization, Permit2DepositAuthorization, RefundPayload, Voucher,
    VoucherPayload,
};
use super::verify::Requirements;
use super::{
    MIN_WITHDRAW_DELAY, PERMIT2_DEPOSIT_COLLECTOR_ADDRESS, channel_id, erc3009_deposit_nonce,
    permit2_deposit_digest, receive_with_authorization_digest, voucher_digest,
};

/// Why a payload could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateError {
    /// `extra.receiverAuthorizer` is absent or zero.
    NoReceiverAuthorizer,
    /// An EIP-3009 deposit needs the token's `extra.name` and `extra.version`.
    MissingEip712Domain,
    /// The amount does not fit the contract's `uint128`.
    AmountTooLarge,
}

impl CreateError {
    /// A sentence for people.
    #[must_use]
    pub const fn message(self) -> &'static str {
        match self {
            CreateError::NoReceiverAuthorizer => {
                "payment requirements must include a non-zero extra.receiverAuthorizer"
            }
            CreateError::MissingEip712Domain => {
                "EIP-712 domain parameters (extra.name, extra.version) are required for an EIP-3009 deposit"
            }
            CreateError::AmountTooLarge => "amount larger than uint128",
        }
    }

    /// The scheme's reason closest to it.
    #[must_use]
    pub const fn reason(self) -> BatchReason {
        match self {
            CreateError::NoReceiverAuthorizer => BatchReason::ReceiverAuthorizerMismatch,
            CreateError::MissingEip712Domain => BatchReason::MissingEip712Domain,
            CreateError::AmountTooLarge => BatchReason::CumulativeExceedsBalance,
        }
    }
}

impl core::fmt::Display for CreateError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

/// The channel a payer opens for `req`: the payer is `payer`, vouchers are
/// signed by `payer_authorizer` (the payer itself when `None`), the receiver,
/// its authorizer and the token come from the requirements, the withdraw delay
/// from `extra.withdrawDelay` (else the contract's minimum).
///
/// # Errors
/// [`CreateError::NoReceiverAuthorizer`].
pub fn channel_config(
    payer: Address,
    payer_authorizer: Option<Address>,
    req: &Requirements<'_>,
    salt: B256,
) -> Result<ChannelConfig, CreateError> {
    let receiver_authorizer = match req.extra.receiver_authorizer {
        Some(a) if a != Address([0; 20]) => a,
        _ => return Err(CreateError::NoReceiverAuthorizer),
    };
    Ok(ChannelConfig {
        payer,
        payer_authorizer: payer_authorizer.unwrap_or(payer),
        receiver: req.pay_to,
        receiver_authorizer,
        token: req.asset,
        withdraw_delay: req.extra.withdraw_delay.unwrap_or(MIN_WITHDRAW_DELAY),
        salt,
    })
}

/// A signed voucher that owns its signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedVoucher {
    /// The channel.
    pub channel_id: B256,
    /// The cumulative ceiling.
    pub max_claimable_amount: Amount,
    /// The signature.
    pub signature: Signature,
    hex: HexString<132>,
}

impl SignedVoucher {
    /// The voucher as written on the wire.
    #[must_use]
    pub fn voucher(&self) -> Voucher<'_> {
        Voucher {
            channel_id: self.channel_id,
            max_claimable_amount: self.max_claimable_amount,
            signature: JsonStr::new(self.hex.as_str()),
        }
    }
}

/// Signs a voucher for `max_claimable_amount` on `channel_id`.
///
/// # Errors
/// [`CreateError::AmountTooLarge`] above `uint128`.
pub fn sign_voucher(
    key: &PrivateKey,
    chain_id: u64,
    channel_id: B256,
    max_claimable_amount: Amount,
) -> Result<SignedVoucher, CreateError> {
    if !super::types::fits_u128(&max_claimable_amount) {
        return Err(CreateError::AmountTooLarge);
    }
    let signature = key.sign_digest(&voucher_digest(
        chain_id,
        &channel_id,
        &max_claimable_amount,
    ));
    Ok(SignedVoucher {
        channel_id,
        max_claimable_amount,
        signature,
        hex: signature.to_hex(),
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Erc3009 {
        valid_before: Amount,
        salt: B256,
    },
    Permit2 {
        token: Address,
        nonce: Amount,
        deadline: Amount,
    },
}

/// A deposit's signed authorization, owning its signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedDeposit {
    /// The amount deposited.
    pub amount: Amount,
    /// The payer's signature.
    pub signature: Signature,
    method: Method,
    channel_id: B256,
    payer: Address,
    hex: HexString<132>,
}

impl SignedDeposit {
    /// The deposit as written on the wire.
    #[must_use]
    pub fn deposit(&self) -> Deposit<'_> {
        let signature = JsonStr::new(self.hex.as_str());
        let authorization = match self.method {
            Method::Erc3009 { valid_before, salt } => DepositAuthorization {
                erc3009: Some(Erc3009DepositAuthorization {
                    valid_after: Amount::ZERO,
                    valid_before,
                    salt,
                    signature,
                }),
                permit2: None,
            },
            Method::Permit2 {
                token,
                nonce,
                deadline,
            } => DepositAuthorization {
                erc3009: None,
                permit2: Some(Permit2DepositAuthorization::new(
                    self.payer,
                    token,
                    self.amount,
                    PERMIT2_DEPOSIT_COLLECTOR_ADDRESS,
                    nonce,
                    deadline,
                    self.channel_id,
                    signature,
                )),
            },
        };
        Deposit {
            amount: self.amount,
            authorization,
        }
    }
}

/// A created payload: the channel, the voucher, and a deposit or a refund
/// amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Created {
    /// The channel.
    pub channel_config: ChannelConfig,
    /// The voucher.
    pub voucher: SignedVoucher,
    /// The deposit, for a deposit payload.
    pub deposit: Option<SignedDeposit>,
    /// Whether this is a refund request, and for how much (`Some(None)`: all).
    pub refund: Option<Option<Amount>>,
}

impl Created {
    /// The payload as written on the wire.
    #[must_use]
    pub fn payload(&self) -> BatchPayload<'_> {
        let voucher = self.voucher.voucher();
        match (&self.deposit, self.refund) {
            (Some(d), _) => BatchPayload::Deposit(DepositPayload::new(
                self.channel_config,
                voucher,
                d.deposit(),
            )),
            (None, Some(amount)) => BatchPayload::Refund(RefundPayload {
                channel_config: self.channel_config,
                voucher,
                amount,
            }),
            (None, None) => BatchPayload::Voucher(VoucherPayload {
                channel_config: self.channel_config,
                voucher,
            }),
        }
    }

    /// The channel id.
    #[must_use]
    pub const fn channel_id(&self) -> B256 {
        self.voucher.channel_id
    }
}

impl ToJson for Created {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        self.payload().write_json(out)
    }
}

/// A voucher payload paying up to `max_claimable_amount` cumulatively, signed
/// by `voucher_key` (the payer authorizer of `config`).
///
/// # Errors
/// [`CreateError::AmountTooLarge`].
pub fn create_voucher(
    voucher_key: &PrivateKey,
    config: &ChannelConfig,
    chain_id: u64,
    max_claimable_amount: Amount,
) -> Result<Created, CreateError> {
    let id = channel_id(config, chain_id);
    Ok(Created {
        channel_config: *config,
        voucher: sign_voucher(voucher_key, chain_id, id, max_claimable_amount)?,
        deposit: None,
        refund: None,
    })
}

/// A refund request: the voucher at the charged total `charged_cumulative_amount`,
/// and the amount to refund (`None`: all that is left).
///
/// # Errors
/// [`CreateError::AmountTooLarge`].
pub fn create_refund(
    voucher_key: &PrivateKey,
    config: &ChannelConfig,
    chain_id: u64,
    charged_cumulative_amount: Amount,
    amount: Option<Amount>,
) -> Result<Created, CreateError> {
    if amount.is_some_and(|a| !super::types::fits_u128(&a)) {
        return Err(CreateError::AmountTooLarge);
    }
    let mut c = create_voucher(voucher_key, config, chain_id, charged_cumulative_amount)?;
    c.refund = Some(amount);
    Ok(c)
}

/// How a deposit is paid, with the caller's randomness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DepositMethod {
    /// EIP-3009 `receiveWithAuthorization`, with a random 32-byte salt.
    Erc3009 {
        /// The salt of the authorization's nonce.
        salt: B256,
    },
    /// Permit2 witness transfer, with a random uint256 nonce.
    Permit2 {
        /// The Permit2 nonce.
        nonce: Amount,
    },
}

/// A deposit payload: `payer_key` (the channel's payer) signs the deposit of
/// `amount`, valid until `now + maxTimeoutSeconds`; `voucher_key` signs the
/// voucher for `max_claimable_amount`.
///
/// # Errors
/// [`CreateError`].
#[allow(clippy::too_many_arguments)]
pub fn create_deposit(
    payer_key: &PrivateKey,
    voucher_key: &PrivateKey,
    config: &ChannelConfig,
    req: &Requirements<'_>,
    amount: Amount,
    max_claimable_amount: Amount,
    method: DepositMethod,
    now: u64,
) -> Result<Created, CreateError> {
    if !super::types::fits_u128(&amount) {
        return Err(CreateError::AmountTooLarge);
    }
    let id = channel_id(config, req.chain_id);
    let until = Amount::from(now.saturating_add(req.max_timeout_seconds));
    let payer = payer_key.address();
    let (digest, method) = match method {
        DepositMethod::Erc3009 { salt } => {
            let (Some(name), Some(version)) = (req.extra.name, req.extra.version) else {
                return Err(CreateError::MissingEip712Domain);
            };
            let domain = Domain::eip3009(name, version, req.chain_id, req.asset);
            let digest = receive_with_authorization_digest(
                &domain,
                &payer,
                &amount,
                &Amount::ZERO,
                &until,
                &erc3009_deposit_nonce(&id, &salt),
            );
            (
                digest,
                Method::Erc3009 {
                    valid_before: until,
                    salt,
                },
            )
        }
        DepositMethod::Permit2 { nonce } => {
            let auth = Permit2DepositAuthorization::new(
                payer,
                req.asset,
                amount,
                PERMIT2_DEPOSIT_COLLECTOR_ADDRESS,
                nonce,
                until,
                id,
                JsonStr::new(""),
            );
            (
                permit2_deposit_digest(req.chain_id, &auth),
                Method::Permit2 {
                    token: req.asset,
                    nonce,
                    deadline: until,
                },
            )
        }
    };
    let signature = payer_key.sign_digest(&digest);
    Ok(Created {
        channel_config: *config,
        voucher: sign_voucher(voucher_key, req.chain_id, id, max_claimable_amount)?,
        deposit: Some(SignedDeposit {
            amount,
            signature,
            method,
            channel_id: id,
            payer,
            hex: signature.to_hex(),
        }),
        refund: None,
    })
}

/// Writes a v2 `PaymentPayload`: `{x402Version: 2, accepted, payload}`.
///
/// # Errors
/// `SinkFull`.
pub fn write_payment_payload(
    accepted: &PaymentRequirements<'_>,
    payload: &dyn ToJson,
    out: &mut dyn Sink,
) -> Result<(), SinkFull> {
    let mut w = ObjectWriter::new(out)?;
    w.u64_field("x402Version", 2)?;
    w.field("accepted", accepted)?;
    w.field("payload", payload)?;
    w.end()
}
