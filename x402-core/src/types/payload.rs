//! Scheme payloads: the `payload` member of a `PaymentPayload`.
//!
//! All numbers are canonical decimal strings; addresses follow the EIP-55 rule
//! of [`Address::parse`]; `nonce` of EIP-3009 is a 32-byte hex word.

use super::{FromJson, address, b256, err, fields, object, required, string, uint_string};
use crate::amount::Amount;
use crate::error::{Error, ErrorKind, Reason};
use crate::evm::{Address, B256};
use crate::json::{JsonObject, JsonStr, JsonValue, ObjectWriter, Sink, SinkFull, ToJson};

// These types are written by hand rather than as `document!` tables: they are the
// signed structures of EIP-3009 and Permit2, encoded from their typed fields alone
// (a payload keeps no unknown members, so there is no `source` to write around),
// and they are read in shapes a row cannot say: `SchemePayload` recognises a
// payload and collects its members in one pass, and a Permit2 authorization reads
// `permitted` and `witness` before its other members, naming the members of
// `witness` under it and those of `permitted` directly.

const R: Reason = Reason::InvalidPayload;

/// Longest signature accepted, in bytes: room for ERC-6492-wrapped smart-wallet
/// signatures, far below the document limit.
pub const MAX_SIGNATURE_BYTES: usize = 4096;

/// A `0x`-prefixed hex byte string of even length (a signature).
pub(crate) fn hex_string<'a>(v: JsonValue<'a>, field: &'static str) -> Result<JsonStr<'a>, Error> {
    let s = string(v, R, field)?;
    let mut chars = s.chars();
    if chars.next() != Some('0') || chars.next() != Some('x') {
        return Err(err(R, ErrorKind::Hex("must start with 0x"), field));
    }
    let mut n = 0usize;
    for c in chars {
        if !c.is_ascii_hexdigit() {
            return Err(err(R, ErrorKind::Hex("not a hex digit"), field));
        }
        n += 1;
    }
    if !n.is_multiple_of(2) {
        return Err(err(R, ErrorKind::Hex("odd number of digits"), field));
    }
    if n / 2 > MAX_SIGNATURE_BYTES {
        return Err(err(R, ErrorKind::Hex("longer than 4096 bytes"), field));
    }
    Ok(s)
}

/// EIP-3009 `TransferWithAuthorization` parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Eip3009Authorization {
    /// The payer.
    pub from: Address,
    /// The recipient.
    pub to: Address,
    /// Amount in atomic units.
    pub value: Amount,
    /// Valid from this unix second (exclusive in the contract: `block.timestamp > validAfter`).
    pub valid_after: Amount,
    /// Valid until this unix second (`block.timestamp < validBefore`).
    pub valid_before: Amount,
    /// A unique 32-byte nonce, chosen by the payer.
    pub nonce: B256,
}

const AUTH_KNOWN: &[&str; 6] = &["from", "to", "value", "validAfter", "validBefore", "nonce"];

impl<'a> FromJson<'a> for Eip3009Authorization {
    const REASON: Reason = R;
    fn from_json(v: JsonValue<'a>) -> Result<Self, Error> {
        let o = object(v, R, "authorization")?;
        let [from, to, value, after, before, nonce] = fields(o, AUTH_KNOWN);
        let get = |v: Option<JsonValue<'a>>, f| required(v, R, f);
        let read = || -> Result<Self, Error> {
            Ok(Eip3009Authorization {
                from: address(get(from, "from")?, R, "from")?,
                to: address(get(to, "to")?, R, "to")?,
                value: uint_string(get(value, "value")?, R, "value")?,
                valid_after: uint_string(get(after, "validAfter")?, R, "validAfter")?,
                valid_before: uint_string(get(before, "validBefore")?, R, "validBefore")?,
                nonce: b256(get(nonce, "nonce")?, R, "nonce")?,
            })
        };
        read().map_err(|e| e.in_object("authorization"))
    }
}

impl ToJson for Eip3009Authorization {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.field("from", &self.from)?;
        w.field("to", &self.to)?;
        w.field("value", &self.value)?;
        w.field("validAfter", &self.valid_after)?;
        w.field("validBefore", &self.valid_before)?;
        w.field("nonce", &self.nonce)?;
        w.end()
    }
}

/// The `exact` scheme's EVM payload with EIP-3009: `{authorization, signature}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExactEvmPayload<'a> {
    /// The signed authorization.
    pub authorization: Eip3009Authorization,
    /// `0x` + hex: 65 bytes r‖s‖v for an EOA; longer for smart wallets.
    pub signature: JsonStr<'a>,
}

impl<'a> ExactEvmPayload<'a> {
    fn from_parts(auth: Option<JsonValue<'a>>, sig: Option<JsonValue<'a>>) -> Result<Self, Error> {
        let read = || -> Result<Self, Error> {
            Ok(ExactEvmPayload {
                authorization: Eip3009Authorization::from_json(required(
                    auth,
                    R,
                    "authorization",
                )?)?,
                signature: hex_string(required(sig, R, "signature")?, "signature")?,
            })
        };
        read().map_err(|e| e.in_object("payload"))
    }
}

impl<'a> FromJson<'a> for ExactEvmPayload<'a> {
    const REASON: Reason = R;
    fn from_json(v: JsonValue<'a>) -> Result<Self, Error> {
        let [auth, sig] = fields(object(v, R, "payload")?, &["authorization", "signature"]);
        ExactEvmPayload::from_parts(auth, sig)
    }
}

impl ToJson for ExactEvmPayload<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.field("authorization", &self.authorization)?;
        w.str_field("signature", self.signature)?;
        w.end()
    }
}

/// Permit2 `TokenPermissions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenPermissions {
    /// The token.
    pub token: Address,
    /// The amount (`upto`: the maximum).
    pub amount: Amount,
}

/// The Permit2 witness: `Witness(address to,uint256 validAfter)` for `exact`,
/// `Witness(address to,address facilitator,uint256 validAfter)` for `upto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Witness {
    /// The recipient.
    pub to: Address,
    /// `upto` only: the facilitator allowed to settle.
    pub facilitator: Option<Address>,
    /// Valid from this unix second.
    pub valid_after: Amount,
}

/// Permit2 `permit2Authorization`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permit2Authorization {
    /// The payer (token owner).
    pub from: Address,
    /// Token and amount.
    pub permitted: TokenPermissions,
    /// The x402 Permit2 proxy allowed to pull the funds.
    pub spender: Address,
    /// Permit2 nonce (uint256, decimal).
    pub nonce: Amount,
    /// Signature deadline, unix seconds.
    pub deadline: Amount,
    /// The witness.
    pub witness: Witness,
}

const P2_KNOWN: &[&str; 6] = &[
    "from",
    "permitted",
    "spender",
    "nonce",
    "deadline",
    "witness",
];

fn read_permit2(o: JsonObject<'_>) -> Result<Permit2Authorization, Error> {
    let [from, permitted, spender, nonce, deadline, witness] = fields(o, P2_KNOWN);
    let perm = object(required(permitted, R, "permitted")?, R, "permitted")?;
    let [token, amount] = fields(perm, &["token", "amount"]);
    let permitted = TokenPermissions {
        token: address(required(token, R, "token")?, R, "token")?,
        amount: uint_string(required(amount, R, "amount")?, R, "amount")?,
    };
    let wit = object(required(witness, R, "witness")?, R, "witness")?;
    let [to, facilitator, valid_after] = fields(wit, &["to", "facilitator", "validAfter"]);
    let witness = Witness {
        to: address(required(to, R, "to")?, R, "to").map_err(|e| e.in_object("witness"))?,
        facilitator: facilitator
            .map(|v| address(v, R, "facilitator"))
            .transpose()
            .map_err(|e| e.in_object("witness"))?,
        valid_after: uint_string(required(valid_after, R, "validAfter")?, R, "validAfter")
            .map_err(|e| e.in_object("witness"))?,
    };
    Ok(Permit2Authorization {
        from: address(required(from, R, "from")?, R, "from")?,
        permitted,
        spender: address(required(spender, R, "spender")?, R, "spender")?,
        nonce: uint_string(required(nonce, R, "nonce")?, R, "nonce")?,
        deadline: uint_string(required(deadline, R, "deadline")?, R, "deadline")?,
        witness,
    })
}

impl ToJson for Permit2Authorization {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.field("from", &self.from)?;
        w.key(JsonStr::new("permitted"))?;
        {
            let mut p = ObjectWriter::new(w.sink())?;
            p.field("token", &self.permitted.token)?;
            p.field("amount", &self.permitted.amount)?;
            p.end()?;
        }
        w.field("spender", &self.spender)?;
        w.field("nonce", &self.nonce)?;
        w.field("deadline", &self.deadline)?;
        w.key(JsonStr::new("witness"))?;
        {
            let mut p = ObjectWriter::new(w.sink())?;
            p.field("to", &self.witness.to)?;
            if let Some(f) = &self.witness.facilitator {
                p.field("facilitator", f)?;
            }
            p.field("validAfter", &self.witness.valid_after)?;
            p.end()?;
        }
        w.end()
    }
}

/// The Permit2 payload of `exact` and `upto`: `{signature, permit2Authorization}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permit2Payload<'a> {
    /// `0x` + hex signature.
    pub signature: JsonStr<'a>,
    /// The signed permit.
    pub authorization: Permit2Authorization,
}

impl<'a> Permit2Payload<'a> {
    fn from_parts(sig: Option<JsonValue<'a>>, auth: Option<JsonValue<'a>>) -> Result<Self, Error> {
        let auth = object(
            required(auth, R, "permit2Authorization")?,
            R,
            "permit2Authorization",
        )?;
        Ok(Permit2Payload {
            signature: hex_string(required(sig, R, "signature")?, "signature")?,
            authorization: read_permit2(auth).map_err(|e| e.in_object("permit2Authorization"))?,
        })
    }
}

impl<'a> FromJson<'a> for Permit2Payload<'a> {
    const REASON: Reason = R;
    fn from_json(v: JsonValue<'a>) -> Result<Self, Error> {
        let [sig, auth] = fields(
            object(v, R, "payload")?,
            &["signature", "permit2Authorization"],
        );
        Permit2Payload::from_parts(sig, auth)
    }
}

impl ToJson for Permit2Payload<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.str_field("signature", self.signature)?;
        w.field("permit2Authorization", &self.authorization)?;
        w.end()
    }
}

/// The `batch-settlement` payload: `{amount, asset}` (the commitment is an HTTP
/// message signature over the request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSettlementPayload<'a> {
    /// Amount committed, in the asset's units.
    pub amount: Amount,
    /// The asset (`USD`).
    pub asset: JsonStr<'a>,
}

impl<'a> BatchSettlementPayload<'a> {
    fn from_parts(
        amount: Option<JsonValue<'a>>,
        asset: Option<JsonValue<'a>>,
    ) -> Result<Self, Error> {
        let read = || -> Result<Self, Error> {
            Ok(BatchSettlementPayload {
                amount: uint_string(required(amount, R, "amount")?, R, "amount")?,
                asset: string(required(asset, R, "asset")?, R, "asset")?,
            })
        };
        read().map_err(|e| e.in_object("payload"))
    }
}

impl<'a> FromJson<'a> for BatchSettlementPayload<'a> {
    const REASON: Reason = R;
    fn from_json(v: JsonValue<'a>) -> Result<Self, Error> {
        let [amount, asset] = fields(object(v, R, "payload")?, &["amount", "asset"]);
        BatchSettlementPayload::from_parts(amount, asset)
    }
}

impl ToJson for BatchSettlementPayload<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        w.field("amount", &self.amount)?;
        w.str_field("asset", self.asset)?;
        w.end()
    }
}

/// A scheme payload recognised by its shape, as the reference facilitator does
/// (`permit2Authorization` present → Permit2, `authorization` → EIP-3009).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemePayload<'a> {
    /// EIP-3009 (`exact`).
    Eip3009(ExactEvmPayload<'a>),
    /// Permit2 (`exact` or `upto`).
    Permit2(Permit2Payload<'a>),
    /// `batch-settlement`.
    Batch(BatchSettlementPayload<'a>),
}

impl<'a> SchemePayload<'a> {
    /// Recognises and decodes a scheme payload.
    ///
    /// # Errors
    /// `invalid_payload` naming the field.
    pub fn from_object(o: JsonObject<'a>) -> Result<Self, Error> {
        // One pass over the members finds the shape and the values.
        let [p2, auth, sig, amount, asset] = fields(
            o,
            &[
                "permit2Authorization",
                "authorization",
                "signature",
                "amount",
                "asset",
            ],
        );
        if p2.is_some() {
            Permit2Payload::from_parts(sig, p2).map(SchemePayload::Permit2)
        } else if auth.is_some() {
            ExactEvmPayload::from_parts(auth, sig).map(SchemePayload::Eip3009)
        } else if amount.is_some() && asset.is_some() {
            BatchSettlementPayload::from_parts(amount, asset).map(SchemePayload::Batch)
        } else {
            Err(err(
                R,
                ErrorKind::Invalid("unrecognised scheme payload"),
                "payload",
            ))
        }
    }
}
