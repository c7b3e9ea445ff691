//! The scheme's wire types: the three payloads, [`ChannelConfig`], the
//! requirements' [`BatchExtra`], and the channel and voucher state the server
//! reports in a payment response or a corrective 402.
//!
//! Parsing is strict, as for the other schemes: amounts are canonical decimal
//! strings (`uint128` where the contract says so), addresses follow the EIP-55
//! rule of [`Address::parse`], ids and salts are 32-byte hex words, delays and
//! times are JSON integers. Errors name the field and what was wrong; unknown
//! members are ignored.

use crate::amount::Amount;
use crate::error::{Error, ErrorKind, Reason};
use crate::evm::{Address, B256};
use crate::json::{JsonObject, JsonStr, JsonValue, ObjectWriter, Sink, SinkFull, ToJson};
use crate::types::payload::hex_string;
use crate::types::{address, b256, err, fields, integer, object, required, string, uint_string};

const R: Reason = Reason::InvalidPayload;

/// The largest `uint128`, the contract's type for amounts and cumulative totals.
pub const UINT128_MAX: u128 = u128::MAX;
/// The largest `uint40`, the contract's type for `withdrawDelay`.
pub const UINT40_MAX: u64 = (1 << 40) - 1;

fn u128_amount(v: JsonValue<'_>, reason: Reason, field: &'static str) -> Result<Amount, Error> {
    let a = uint_string(v, reason, field)?;
    let b = a.to_be_bytes();
    if b.iter().take(16).any(|x| *x != 0) {
        return Err(err(
            reason,
            ErrorKind::Invalid("larger than uint128"),
            field,
        ));
    }
    Ok(a)
}

/// Whether `a` fits the contract's `uint128`.
#[must_use]
pub fn fits_u128(a: &Amount) -> bool {
    a.to_be_bytes().iter().take(16).all(|x| *x == 0)
}

/// The immutable parameters of a channel; its EIP-712 hash under the contract's
/// domain is the channel id ([`super::channel_id`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelConfig {
    /// Who deposits (and gets refunds).
    pub payer: Address,
    /// Who signs vouchers; the zero address means the payer itself (which may
    /// then be a smart wallet, checked with ERC-1271).
    pub payer_authorizer: Address,
    /// Who is paid (`payTo`).
    pub receiver: Address,
    /// Who authorizes claims and refunds (`extra.receiverAuthorizer`).
    pub receiver_authorizer: Address,
    /// The token (`asset`).
    pub token: Address,
    /// Seconds between a payer's withdrawal request and its execution (`uint40`).
    pub withdraw_delay: u64,
    /// Distinguishes channels with otherwise equal parameters.
    pub salt: B256,
}

const CC_KNOWN: &[&str; 7] = &[
    "payer",
    "payerAuthorizer",
    "receiver",
    "receiverAuthorizer",
    "token",
    "withdrawDelay",
    "salt",
];

impl ChannelConfig {
    /// Reads a `channelConfig` object.
    ///
    /// # Errors
    /// `invalid_payload` naming the field.
    pub fn from_json(v: JsonValue<'_>) -> Result<ChannelConfig, Error> {
        let o = object(v, R, "channelConfig")?;
        let [payer, pa, receiver, ra, token, wd, salt] = fields(o, CC_KNOWN);
        let read = || -> Result<ChannelConfig, Error> {
            let withdraw_delay = integer(required(wd, R, "withdrawDelay")?, R, "withdrawDelay")?;
            if withdraw_delay > UINT40_MAX {
                return Err(err(R, ErrorKind::Overflow, "withdrawDelay"));
            }
            Ok(ChannelConfig {
                payer: address(required(payer, R, "payer")?, R, "payer")?,
                payer_authorizer: address(
                    required(pa, R, "payerAuthorizer")?,
                    R,
                    "payerAuthorizer",
                )?,
                receiver: address(required(receiver, R, "receiver")?, R, "receiver")?,
                receiver_authorizer: address(
                    required(ra, R, "receiverAuthorizer")?,
                    R,
                    "receiverAuthorizer",
                )?,
                token: address(required(token, R, "token")?, R, "token")?,
                withdraw_delay,
                salt: b256(required(salt, R, "salt")?, R, "salt")?,
            })
        };
        read().map_err(|e| e.in_object("channelConfig"))
    }
}

impl ToJson for ChannelConfig {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.field("payer", &self.payer)?;
        w.field("payerAuthorizer", &self.payer_authorizer)?;
        w.field("receiver", &self.receiver)?;
        w.field("receiverAuthorizer", &self.receiver_authorizer)?;
        w.field("token", &self.token)?;
        w.u64_field("withdrawDelay", self.withdraw_delay)?;
        w.field("salt", &self.salt)?;
        w.end()
    }
}

/// A voucher: the payer's signature over the channel id and the cumulative
/// amount the receiver may claim from the channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Voucher<'a> {
    /// The channel.
    pub channel_id: B256,
    /// The cumulative ceiling (`uint128`).
    pub max_claimable_amount: Amount,
    /// `0x` + hex signature of the payer authorizer (or of the payer).
    pub signature: JsonStr<'a>,
}

impl<'a> Voucher<'a> {
    /// Reads a `voucher` object.
    ///
    /// # Errors
    /// `invalid_payload` naming the field.
    pub fn from_json(v: JsonValue<'a>) -> Result<Voucher<'a>, Error> {
        let o = object(v, R, "voucher")?;
        let [id, max, sig] = fields(o, &["channelId", "maxClaimableAmount", "signature"]);
        let read = || -> Result<Voucher<'a>, Error> {
            Ok(Voucher {
                channel_id: b256(required(id, R, "channelId")?, R, "channelId")?,
                max_claimable_amount: u128_amount(
                    required(max, R, "maxClaimableAmount")?,
                    R,
                    "maxClaimableAmount",
                )?,
                signature: hex_string(required(sig, R, "signature")?, "signature")?,
            })
        };
        read().map_err(|e| e.in_object("voucher"))
    }
}

impl ToJson for Voucher<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.field("channelId", &self.channel_id)?;
        w.field("maxClaimableAmount", &self.max_claimable_amount)?;
        w.str_field("signature", self.signature)?;
        w.end()
    }
}

/// An EIP-3009 deposit: a `receiveWithAuthorization` from the payer to the
/// EIP-3009 deposit collector, whose nonce binds the channel
/// ([`super::erc3009_deposit_nonce`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Erc3009DepositAuthorization<'a> {
    /// Valid after this unix second.
    pub valid_after: Amount,
    /// Valid before this unix second.
    pub valid_before: Amount,
    /// The payer's random 32-byte salt of the nonce.
    pub salt: B256,
    /// `0x` + hex signature of the payer (ERC-6492-wrapped for an undeployed wallet).
    pub signature: JsonStr<'a>,
}

impl ToJson for Erc3009DepositAuthorization<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.field("validAfter", &self.valid_after)?;
        w.field("validBefore", &self.valid_before)?;
        w.field("salt", &self.salt)?;
        w.str_field("signature", self.signature)?;
        w.end()
    }
}

/// A Permit2 deposit: a witness transfer to the Permit2 deposit collector whose
/// witness is the channel id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permit2DepositAuthorization<'a> {
    /// The payer.
    pub from: Address,
    /// `permitted.token`.
    pub token: Address,
    /// `permitted.amount`.
    pub amount: Amount,
    /// The Permit2 deposit collector.
    pub spender: Address,
    /// Permit2 nonce (decimal).
    pub nonce: Amount,
    /// Signature deadline, unix seconds.
    pub deadline: Amount,
    /// `witness.channelId`.
    pub witness_channel_id: B256,
    /// `witness.channelId` as written (the reference compares it with the
    /// voucher's `channelId` as strings, letter case included).
    pub(crate) witness_text: Option<JsonStr<'a>>,
    /// `0x` + hex signature of the payer.
    pub signature: JsonStr<'a>,
}

impl<'a> Permit2DepositAuthorization<'a> {
    /// A Permit2 deposit authorization built from its typed fields.
    #[must_use]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        from: Address,
        token: Address,
        amount: Amount,
        spender: Address,
        nonce: Amount,
        deadline: Amount,
        witness_channel_id: B256,
        signature: JsonStr<'a>,
    ) -> Self {
        Permit2DepositAuthorization {
            from,
            token,
            amount,
            spender,
            nonce,
            deadline,
            witness_channel_id,
            witness_text: None,
            signature,
        }
    }
}

impl ToJson for Permit2DepositAuthorization<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.field("from", &self.from)?;
        w.key(JsonStr::new("permitted"))?;
        {
            let mut p = ObjectWriter::new(w.sink())?;
            p.field("token", &self.token)?;
            p.field("amount", &self.amount)?;
            p.end()?;
        }
        w.field("spender", &self.spender)?;
        w.field("nonce", &self.nonce)?;
        w.field("deadline", &self.deadline)?;
        w.key(JsonStr::new("witness"))?;
        {
            let mut p = ObjectWriter::new(w.sink())?;
            p.field("channelId", &self.witness_channel_id)?;
            p.end()?;
        }
        w.str_field("signature", self.signature)?;
        w.end()
    }
}

fn read_erc3009(v: JsonValue<'_>) -> Result<Erc3009DepositAuthorization<'_>, Error> {
    let o = object(v, R, "erc3009Authorization")?;
    let [after, before, salt, sig] = fields(o, &["validAfter", "validBefore", "salt", "signature"]);
    let read = || -> Result<Erc3009DepositAuthorization<'_>, Error> {
        Ok(Erc3009DepositAuthorization {
            valid_after: uint_string(required(after, R, "validAfter")?, R, "validAfter")?,
            valid_before: uint_string(required(before, R, "validBefore")?, R, "validBefore")?,
            salt: b256(required(salt, R, "salt")?, R, "salt")?,
            signature: hex_string(required(sig, R, "signature")?, "signature")?,
        })
    };
    read().map_err(|e| e.in_object("erc3009Authorization"))
}

const P2_KNOWN: &[&str; 7] = &[
    "from",
    "permitted",
    "spender",
    "nonce",
    "deadline",
    "witness",
    "signature",
];

fn read_permit2(v: JsonValue<'_>) -> Result<Permit2DepositAuthorization<'_>, Error> {
    let o = object(v, R, "permit2Authorization")?;
    let [from, permitted, spender, nonce, deadline, witness, sig] = fields(o, P2_KNOWN);
    let read = || -> Result<Permit2DepositAuthorization<'_>, Error> {
        let perm = object(required(permitted, R, "permitted")?, R, "permitted")?;
        let [token, amount] = fields(perm, &["token", "amount"]);
        let token = address(required(token, R, "token")?, R, "token")
            .map_err(|e| e.in_object("permitted"))?;
        let amount = uint_string(required(amount, R, "amount")?, R, "amount")
            .map_err(|e| e.in_object("permitted"))?;
        let wit = object(required(witness, R, "witness")?, R, "witness")?;
        let [id] = fields(wit, &["channelId"]);
        let id = required(id, R, "channelId").map_err(|e| e.in_object("witness"))?;
        let witness_channel_id = b256(id, R, "channelId").map_err(|e| e.in_object("witness"))?;
        Ok(Permit2DepositAuthorization {
            from: address(required(from, R, "from")?, R, "from")?,
            token,
            amount,
            spender: address(required(spender, R, "spender")?, R, "spender")?,
            nonce: uint_string(required(nonce, R, "nonce")?, R, "nonce")?,
            deadline: uint_string(required(deadline, R, "deadline")?, R, "deadline")?,
            witness_channel_id,
            witness_text: id.as_str(),
            signature: hex_string(required(sig, R, "signature")?, "signature")?,
        })
    };
    read().map_err(|e| e.in_object("permit2Authorization"))
}

/// How a deposit is paid: one of the two is expected; which one counts follows
/// `extra.assetTransferMethod`, else the presence of `permit2Authorization`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DepositAuthorization<'a> {
    /// `erc3009Authorization`.
    pub erc3009: Option<Erc3009DepositAuthorization<'a>>,
    /// `permit2Authorization`.
    pub permit2: Option<Permit2DepositAuthorization<'a>>,
}

/// The `deposit` member of a deposit payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deposit<'a> {
    /// The amount deposited (`uint128`).
    pub amount: Amount,
    /// How it is paid.
    pub authorization: DepositAuthorization<'a>,
}

impl<'a> Deposit<'a> {
    /// Reads a `deposit` object.
    ///
    /// # Errors
    /// `invalid_payload` naming the field.
    pub fn from_json(v: JsonValue<'a>) -> Result<Deposit<'a>, Error> {
        let o = object(v, R, "deposit")?;
        let [amount, auth] = fields(o, &["amount", "authorization"]);
        let read = || -> Result<Deposit<'a>, Error> {
            let amount = u128_amount(required(amount, R, "amount")?, R, "amount")?;
            let a = object(required(auth, R, "authorization")?, R, "authorization")?;
            let [e, p] = fields(a, &["erc3009Authorization", "permit2Authorization"]);
            let authorization = DepositAuthorization {
                erc3009: e
                    .map(read_erc3009)
                    .transpose()
                    .map_err(|e| e.in_object("authorization"))?,
                permit2: p
                    .map(read_permit2)
                    .transpose()
                    .map_err(|e| e.in_object("authorization"))?,
            };
            Ok(Deposit {
                amount,
                authorization,
            })
        };
        read().map_err(|e| e.in_object("deposit"))
    }
}

impl ToJson for Deposit<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.field("amount", &self.amount)?;
        w.key(JsonStr::new("authorization"))?;
        {
            let mut a = ObjectWriter::new(w.sink())?;
            if let Some(e) = &self.authorization.erc3009 {
                a.field("erc3009Authorization", e)?;
            }
            if let Some(p) = &self.authorization.permit2 {
                a.field("permit2Authorization", p)?;
            }
            a.end()?;
        }
        w.end()
    }
}

/// `{type: "voucher", channelConfig, voucher}`: pays a request from a funded channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoucherPayload<'a> {
    /// The channel.
    pub channel_config: ChannelConfig,
    /// The voucher.
    pub voucher: Voucher<'a>,
}

/// `{type: "deposit", channelConfig, voucher, deposit}`: funds (or tops up) a
/// channel and pays the request with the voucher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepositPayload<'a> {
    /// The channel.
    pub channel_config: ChannelConfig,
    /// The voucher.
    pub voucher: Voucher<'a>,
    /// The deposit.
    pub deposit: Deposit<'a>,
    /// `voucher.channelId` as written.
    pub(crate) voucher_id_text: Option<JsonStr<'a>>,
}

impl<'a> DepositPayload<'a> {
    /// A deposit payload built from its parts.
    #[must_use]
    pub const fn new(
        channel_config: ChannelConfig,
        voucher: Voucher<'a>,
        deposit: Deposit<'a>,
    ) -> Self {
        DepositPayload {
            channel_config,
            voucher,
            deposit,
            voucher_id_text: None,
        }
    }
}

/// `{type: "refund", channelConfig, voucher, amount?}`: asks for the channel's
/// unspent balance back (all of it without `amount`); the voucher states what
/// has been charged so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefundPayload<'a> {
    /// The channel.
    pub channel_config: ChannelConfig,
    /// The voucher at the charged cumulative amount.
    pub voucher: Voucher<'a>,
    /// How much to refund (positive); absent: everything left.
    pub amount: Option<Amount>,
}

/// A `batch-settlement` EVM payload, recognised by its `type`.
// A view of borrowed text, built on the stack and read once: no boxing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchPayload<'a> {
    /// `type: "deposit"`.
    Deposit(DepositPayload<'a>),
    /// `type: "voucher"`.
    Voucher(VoucherPayload<'a>),
    /// `type: "refund"`.
    Refund(RefundPayload<'a>),
}

/// The payload's `type`, before the rest is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadType {
    /// `deposit`.
    Deposit,
    /// `voucher`.
    Voucher,
    /// `refund`.
    Refund,
}

impl PayloadType {
    /// The `type` of a payload object: `None` when absent, not a string, or
    /// not one of the three (the reference then answers
    /// `invalid_batch_settlement_evm_payload_type`).
    #[must_use]
    pub fn of(o: JsonObject<'_>) -> Option<PayloadType> {
        let t = o.get("type")?.as_str()?;
        if t == "deposit" {
            Some(PayloadType::Deposit)
        } else if t == "voucher" {
            Some(PayloadType::Voucher)
        } else if t == "refund" {
            Some(PayloadType::Refund)
        } else {
            None
        }
    }

    /// Its wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            PayloadType::Deposit => "deposit",
            PayloadType::Voucher => "voucher",
            PayloadType::Refund => "refund",
        }
    }
}

fn voucher_id_text(o: JsonObject<'_>) -> Option<JsonStr<'_>> {
    o.get("voucher")?.as_object()?.get("channelId")?.as_str()
}

impl<'a> BatchPayload<'a> {
    /// Reads a payload object.
    ///
    /// # Errors
    /// `invalid_payload` naming the field (`type` when it is not one of the three).
    pub fn from_json(v: JsonValue<'a>) -> Result<BatchPayload<'a>, Error> {
        let o = object(v, R, "payload")?;
        let read = || -> Result<BatchPayload<'a>, Error> {
            let [t, cc, voucher, deposit, amount] = fields(
                o,
                &["type", "channelConfig", "voucher", "deposit", "amount"],
            );
            string(required(t, R, "type")?, R, "type")?;
            let kind = PayloadType::of(o).ok_or(err(
                R,
                ErrorKind::Invalid("not deposit, voucher or refund"),
                "type",
            ))?;
            let channel_config = ChannelConfig::from_json(required(cc, R, "channelConfig")?)?;
            let voucher = Voucher::from_json(required(voucher, R, "voucher")?)?;
            Ok(match kind {
                PayloadType::Voucher => BatchPayload::Voucher(VoucherPayload {
                    channel_config,
                    voucher,
                }),
                PayloadType::Deposit => BatchPayload::Deposit(DepositPayload {
                    channel_config,
                    voucher,
                    deposit: Deposit::from_json(required(deposit, R, "deposit")?)?,
                    voucher_id_text: voucher_id_text(o),
                }),
                PayloadType::Refund => {
                    let amount = amount.map(|a| u128_amount(a, R, "amount")).transpose()?;
                    if amount.is_some_and(|a| a.is_zero()) {
                        return Err(err(R, ErrorKind::Invalid("must be positive"), "amount"));
                    }
                    BatchPayload::Refund(RefundPayload {
                        channel_config,
                        voucher,
                        amount,
                    })
                }
            })
        };
        read().map_err(|e| e.in_object("payload"))
    }

    /// Reads a payload from JSON text.
    ///
    /// # Errors
    /// The JSON error, or `invalid_payload` naming the field.
    pub fn from_json_bytes(
        json: &'a [u8],
        limits: &crate::json::Limits,
    ) -> Result<BatchPayload<'a>, Error> {
        let v = crate::json::parse(json, limits).map_err(|k| Error::new(R, k))?;
        BatchPayload::from_json(v)
    }

    /// The payload's type.
    #[must_use]
    pub const fn kind(&self) -> PayloadType {
        match self {
            BatchPayload::Deposit(_) => PayloadType::Deposit,
            BatchPayload::Voucher(_) => PayloadType::Voucher,
            BatchPayload::Refund(_) => PayloadType::Refund,
        }
    }

    /// The channel configuration.
    #[must_use]
    pub const fn channel_config(&self) -> &ChannelConfig {
        match self {
            BatchPayload::Deposit(p) => &p.channel_config,
            BatchPayload::Voucher(p) => &p.channel_config,
            BatchPayload::Refund(p) => &p.channel_config,
        }
    }

    /// The voucher.
    #[must_use]
    pub const fn voucher(&self) -> &Voucher<'a> {
        match self {
            BatchPayload::Deposit(p) => &p.voucher,
            BatchPayload::Voucher(p) => &p.voucher,
            BatchPayload::Refund(p) => &p.voucher,
        }
    }
}

impl ToJson for BatchPayload<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.str_field("type", JsonStr::new(self.kind().as_str()))?;
        w.field("channelConfig", self.channel_config())?;
        w.field("voucher", self.voucher())?;
        match self {
            BatchPayload::Deposit(p) => w.field("deposit", &p.deposit)?,
            BatchPayload::Refund(RefundPayload {
                amount: Some(a), ..
            }) => w.field("amount", a)?,
            _ => {}
        }
        w.end()
    }
}

const RQ: Reason = Reason::InvalidPaymentRequirements;

/// The scheme's members of the requirements' `extra`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct BatchExtra<'a> {
    /// `receiverAuthorizer`: who authorizes claims and refunds (required by
    /// payers and facilitators, and non-zero).
    pub receiver_authorizer: Option<Address>,
    /// `withdrawDelay`: the delay channels must be opened with.
    pub withdraw_delay: Option<u64>,
    /// `minDeposit`: the server's smallest accepted deposit (a hint to clients).
    pub min_deposit: Option<Amount>,
    /// `name`: the token's EIP-712 name (EIP-3009 deposits).
    pub name: Option<JsonStr<'a>>,
    /// `version`: the token's EIP-712 version (EIP-3009 deposits).
    pub version: Option<JsonStr<'a>>,
    /// `assetTransferMethod`: `eip3009` or `permit2`.
    pub asset_transfer_method: Option<JsonStr<'a>>,
    /// `channelState`, in a corrective 402 (cumulative-amount mismatch).
    pub channel_state: Option<ChannelStateExtra>,
    /// `voucherState`, in a corrective 402: the last voucher the server holds.
    pub voucher_state: Option<VoucherState<'a>>,
}

const EXTRA_KNOWN: &[&str; 8] = &[
    "receiverAuthorizer",
    "withdrawDelay",
    "minDeposit",
    "name",
    "version",
    "assetTransferMethod",
    "channelState",
    "voucherState",
];

impl<'a> BatchExtra<'a> {
    /// Reads the scheme's members of an `extra` object (`invalid_payment_requirements`).
    ///
    /// # Errors
    /// `invalid_payment_requirements` naming the field.
    pub fn from_object(o: JsonObject<'a>) -> Result<BatchExtra<'a>, Error> {
        let [ra, wd, md, name, version, atm, cs, vs] = fields(o, EXTRA_KNOWN);
        let read = || -> Result<BatchExtra<'a>, Error> {
            Ok(BatchExtra {
                receiver_authorizer: ra
                    .map(|v| address(v, RQ, "receiverAuthorizer"))
                    .transpose()?,
                withdraw_delay: wd.map(|v| integer(v, RQ, "withdrawDelay")).transpose()?,
                min_deposit: md.map(|v| uint_string(v, RQ, "minDeposit")).transpose()?,
                name: name.map(|v| string(v, RQ, "name")).transpose()?,
                version: version.map(|v| string(v, RQ, "version")).transpose()?,
                asset_transfer_method: atm
                    .map(|v| string(v, RQ, "assetTransferMethod"))
                    .transpose()?,
                channel_state: cs.map(|v| ChannelStateExtra::read(v, RQ)).transpose()?,
                voucher_state: vs.map(|v| VoucherState::read(v, RQ)).transpose()?,
            })
        };
        read().map_err(|e| e.in_object("extra"))
    }

    /// Reads an `extra` value.
    ///
    /// # Errors
    /// `invalid_payment_requirements` naming the field.
    pub fn from_json(v: JsonValue<'a>) -> Result<BatchExtra<'a>, Error> {
        BatchExtra::from_object(object(v, RQ, "extra")?)
    }

    /// Whether Permit2 is the announced transfer method.
    #[must_use]
    pub fn is_permit2(&self) -> bool {
        self.asset_transfer_method.is_some_and(|m| m == "permit2")
    }
}

impl ToJson for BatchExtra<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.opt_str_field("name", self.name)?;
        w.opt_str_field("version", self.version)?;
        w.opt_str_field("assetTransferMethod", self.asset_transfer_method)?;
        if let Some(a) = &self.receiver_authorizer {
            w.field("receiverAuthorizer", a)?;
        }
        if let Some(d) = self.withdraw_delay {
            w.u64_field("withdrawDelay", d)?;
        }
        if let Some(m) = &self.min_deposit {
            w.field("minDeposit", m)?;
        }
        if let Some(c) = &self.channel_state {
            w.field("channelState", c)?;
        }
        if let Some(v) = &self.voucher_state {
            w.field("voucherState", v)?;
        }
        w.end()
    }
}

/// A channel's state on chain: `channels(id)`, `pendingWithdrawals(id)` and
/// `refundNonce(id)` of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ChannelState {
    /// Deposited and not yet withdrawn or refunded.
    pub balance: Amount,
    /// Claimed so far by the receiver.
    pub total_claimed: Amount,
    /// When the payer asked to withdraw (unix seconds), 0 if not.
    pub withdraw_requested_at: u64,
    /// The next refund's nonce.
    pub refund_nonce: Amount,
}

/// `channelState` as servers and facilitators report it (a verify response's
/// `extra`, a payment response's `extra.channelState`, a corrective 402's
/// `extra.channelState`): every member optional, since the shapes differ — a
/// deposit's or refund's payment response from the server may carry only
/// `chargedCumulativeAmount`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ChannelStateExtra {
    /// `channelId`.
    pub channel_id: Option<B256>,
    /// `balance` (decimal string).
    pub balance: Option<Amount>,
    /// `totalClaimed` (decimal string).
    pub total_claimed: Option<Amount>,
    /// `withdrawRequestedAt` (integer).
    pub withdraw_requested_at: Option<u64>,
    /// `refundNonce` (decimal string).
    pub refund_nonce: Option<Amount>,
    /// `chargedCumulativeAmount` (decimal string): what the server has charged
    /// the channel so far, the base of the next voucher.
    pub charged_cumulative_amount: Option<Amount>,
}

const CS_KNOWN: &[&str; 6] = &[
    "channelId",
    "balance",
    "totalClaimed",
    "withdrawRequestedAt",
    "refundNonce",
    "chargedCumulativeAmount",
];

impl ChannelStateExtra {
    fn read(v: JsonValue<'_>, r: Reason) -> Result<ChannelStateExtra, Error> {
        let o = object(v, r, "channelState")?;
        let [id, bal, tc, wra, rn, cca] = fields(o, CS_KNOWN);
        let read = || -> Result<ChannelStateExtra, Error> {
            Ok(ChannelStateExtra {
                channel_id: id.map(|v| b256(v, r, "channelId")).transpose()?,
                balance: bal.map(|v| uint_string(v, r, "balance")).transpose()?,
                total_claimed: tc.map(|v| uint_string(v, r, "totalClaimed")).transpose()?,
                withdraw_requested_at: wra
                    .map(|v| integer(v, r, "withdrawRequestedAt"))
                    .transpose()?,
                refund_nonce: rn.map(|v| uint_string(v, r, "refundNonce")).transpose()?,
                charged_cumulative_amount: cca
                    .map(|v| uint_string(v, r, "chargedCumulativeAmount"))
                    .transpose()?,
            })
        };
        read().map_err(|e| e.in_object("channelState"))
    }

    /// Reads a `channelState` object.
    ///
    /// # Errors
    /// `invalid_payload` naming the field.
    pub fn from_json(v: JsonValue<'_>) -> Result<ChannelStateExtra, Error> {
        ChannelStateExtra::read(v, R)
    }

    /// The full on-chain state, when all four of its members are present.
    #[must_use]
    pub fn onchain(&self) -> Option<ChannelState> {
        Some(ChannelState {
            balance: self.balance?,
            total_claimed: self.total_claimed?,
            withdraw_requested_at: self.withdraw_requested_at?,
            refund_nonce: self.refund_nonce?,
        })
    }

    /// The report of `state` for `channel_id`, with the server's charged total.
    #[must_use]
    pub fn of(channel_id: B256, state: &ChannelState, charged: Option<Amount>) -> Self {
        ChannelStateExtra {
            channel_id: Some(channel_id),
            balance: Some(state.balance),
            total_claimed: Some(state.total_claimed),
            withdraw_requested_at: Some(state.withdraw_requested_at),
            refund_nonce: Some(state.refund_nonce),
            charged_cumulative_amount: charged,
        }
    }
}

impl ToJson for ChannelStateExtra {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        if let Some(v) = &self.channel_id {
            w.field("channelId", v)?;
        }
        if let Some(v) = &self.balance {
            w.field("balance", v)?;
        }
        if let Some(v) = &self.total_claimed {
            w.field("totalClaimed", v)?;
        }
        if let Some(v) = self.withdraw_requested_at {
            w.u64_field("withdrawRequestedAt", v)?;
        }
        if let Some(v) = &self.refund_nonce {
            w.field("refundNonce", v)?;
        }
        if let Some(v) = &self.charged_cumulative_amount {
            w.field("chargedCumulativeAmount", v)?;
        }
        w.end()
    }
}

/// `voucherState` of a corrective 402: the latest voucher the server holds, so
/// that a client that lost its state can sign on from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoucherState<'a> {
    /// `signedMaxClaimable`.
    pub signed_max_claimable: Amount,
    /// `signature`: the payer's signature of that voucher.
    pub signature: JsonStr<'a>,
}

impl<'a> VoucherState<'a> {
    fn read(v: JsonValue<'a>, r: Reason) -> Result<VoucherState<'a>, Error> {
        let o = object(v, r, "voucherState")?;
        let [m, s] = fields(o, &["signedMaxClaimable", "signature"]);
        let read = || -> Result<VoucherState<'a>, Error> {
            Ok(VoucherState {
                signed_max_claimable: uint_string(
                    required(m, r, "signedMaxClaimable")?,
                    r,
                    "signedMaxClaimable",
                )?,
                signature: hex_string(required(s, r, "signature")?, "signature")
                    .map_err(|e| Error::new(r, e.kind()).at("signature"))?,
            })
        };
        read().map_err(|e| e.in_object("voucherState"))
    }
}

impl ToJson for VoucherState<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.field("signedMaxClaimable", &self.signed_max_claimable)?;
        w.str_field("signature", self.signature)?;
        w.end()
    }
}

/// The `extra` of a `batch-settlement` payment response (`PAYMENT-RESPONSE`).
/// Three shapes: a voucher-only payment (full `channelState` with
/// `chargedCumulativeAmount`, and `chargedAmount`), a deposit (the
/// facilitator's `channelState` with the server's `chargedCumulativeAmount`,
/// and `chargedAmount`), a refund (`channelState` after the refund; the
/// refunded amount is the response's `amount`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PaymentResponseExtra {
    /// `channelState`.
    pub channel_state: Option<ChannelStateExtra>,
    /// `chargedAmount`: what this request cost.
    pub charged_amount: Option<Amount>,
}

impl PaymentResponseExtra {
    /// Reads a payment response's `extra`.
    ///
    /// # Errors
    /// `invalid_payload` naming the field.
    pub fn from_json(v: JsonValue<'_>) -> Result<PaymentResponseExtra, Error> {
        let o = object(v, R, "extra")?;
        let [cs, ca] = fields(o, &["channelState", "chargedAmount"]);
        let read = || -> Result<PaymentResponseExtra, Error> {
            Ok(PaymentResponseExtra {
                channel_state: cs.map(|v| ChannelStateExtra::read(v, R)).transpose()?,
                charged_amount: ca.map(|v| uint_string(v, R, "chargedAmount")).transpose()?,
            })
        };
        read().map_err(|e| e.in_object("extra"))
    }
}

impl ToJson for PaymentResponseExtra {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        if let Some(c) = &self.channel_state {
            w.field("channelState", c)?;
        }
        if let Some(a) = &self.charged_amount {
            w.field("chargedAmount", a)?;
        }
        w.end()
    }
}
