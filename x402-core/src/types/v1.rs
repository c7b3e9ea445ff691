//! Protocol version 1 documents (v1 network names, `X-PAYMENT` headers).

use super::{
    Extra, FromJson, List, RawObject, amount, fields, integer, network_any, object, present,
    required, string, unknown_members, version, write_members,
};
use crate::amount::Amount;
use crate::error::{Error, ErrorKind, Reason};
use crate::evm::Address;
use crate::json::{JsonObject, JsonStr, JsonValue, Sink, SinkFull, ToJson};
use crate::network::Network;

/// The protocol version these types speak.
pub const X402_VERSION: u64 = 1;

/// `PaymentRequirements` of v1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PaymentRequirements<'a> {
    /// The payment scheme (`exact`).
    pub scheme: JsonStr<'a>,
    /// v1 network name (`base-sepolia`); a CAIP-2 identifier is read too, so that a
    /// verifier can answer the reference's `..._network_mismatch` rather than fail.
    pub network: Network,
    /// The amount; the `exact` scheme requires exactly this.
    pub max_amount_required: Amount,
    /// The resource's URL.
    pub resource: JsonStr<'a>,
    /// What it is, for people.
    pub description: JsonStr<'a>,
    /// Its media type (required by the v1 spec; some servers omit it).
    pub mime_type: Option<JsonStr<'a>>,
    /// JSON schema of the response, if the server publishes one.
    pub output_schema: Option<RawObject<'a>>,
    /// The recipient.
    pub pay_to: JsonStr<'a>,
    /// How long the server allows for settlement.
    pub max_timeout_seconds: u64,
    /// The asset (token address on EVM).
    pub asset: JsonStr<'a>,
    /// Scheme-specific fields.
    pub extra: Option<Extra<'a>>,
    /// The object as received; [`JsonObject::EMPTY`] when built.
    pub source: JsonObject<'a>,
}

const REQ_KNOWN: &[&str; 11] = &[
    "scheme",
    "network",
    "maxAmountRequired",
    "resource",
    "description",
    "mimeType",
    "outputSchema",
    "payTo",
    "maxTimeoutSeconds",
    "asset",
    "extra",
];

impl<'a> PaymentRequirements<'a> {
    /// Members other than the typed ones, in order.
    pub fn unknown(&self) -> impl Iterator<Item = (JsonStr<'a>, JsonValue<'a>)> + 'a {
        unknown_members(self.source, REQ_KNOWN)
    }

    /// `asset` as an EVM address.
    ///
    /// # Errors
    /// `invalid_payment_requirements` naming `asset`.
    pub fn asset_address(&self) -> Result<Address, Error> {
        super::v2::evm_address_field(self.asset, "asset")
    }

    /// `payTo` as an EVM address.
    ///
    /// # Errors
    /// `invalid_payment_requirements` naming `payTo`.
    pub fn pay_to_address(&self) -> Result<Address, Error> {
        super::v2::evm_address_field(self.pay_to, "payTo")
    }
}

impl<'a> FromJson<'a> for PaymentRequirements<'a> {
    const REASON: Reason = Reason::InvalidPaymentRequirements;

    fn from_json(v: JsonValue<'a>) -> Result<Self, Error> {
        let r = Self::REASON;
        let source = object(v, r, "")?;
        let [
            scheme,
            network,
            max_amount,
            resource,
            description,
            mime,
            schema,
            pay_to,
            timeout,
            asset,
            extra,
        ] = fields(source, REQ_KNOWN);
        let output_schema = match present(schema) {
            Some(v) => Some(RawObject::Json(object(v, r, "outputSchema")?)),
            None => None,
        };
        Ok(PaymentRequirements {
            scheme: string(required(scheme, r, "scheme")?, r, "scheme")?,
            network: network_any(required(network, r, "network")?, r, "network")?,
            max_amount_required: amount(
                required(max_amount, r, "maxAmountRequired")?,
                r,
                "maxAmountRequired",
            )?,
            resource: string(required(resource, r, "resource")?, r, "resource")?,
            description: string(required(description, r, "description")?, r, "description")?,
            mime_type: present(mime)
                .map(|v| string(v, r, "mimeType"))
                .transpose()?,
            output_schema,
            pay_to: string(required(pay_to, r, "payTo")?, r, "payTo")?,
            max_timeout_seconds: integer(
                required(timeout, r, "maxTimeoutSeconds")?,
                r,
                "maxTimeoutSeconds",
            )?,
            asset: string(required(asset, r, "asset")?, r, "asset")?,
            extra: present(extra).map(Extra::from_json).transpose()?,
            source,
        })
    }
}

impl ToJson for PaymentRequirements<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        write_members(out, self.source, REQ_KNOWN, |i, w| match i {
            0 => w.str_field("scheme", self.scheme),
            1 => w.field("network", &self.network),
            2 => w.field("maxAmountRequired", &self.max_amount_required),
            3 => w.str_field("resource", self.resource),
            4 => w.str_field("description", self.description),
            5 => w.opt_str_field("mimeType", self.mime_type),
            6 => match &self.output_schema {
                Some(s) => w.field("outputSchema", s),
                None => Ok(()),
            },
            7 => w.str_field("payTo", self.pay_to),
            8 => w.u64_field("maxTimeoutSeconds", self.max_timeout_seconds),
            9 => w.str_field("asset", self.asset),
            _ => match &self.extra {
                Some(e) => w.field("extra", e),
                None => Ok(()),
            },
        })
    }
}

/// `PaymentRequired` of v1: the JSON body of a 402 answer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PaymentRequired<'a> {
    /// Why payment is (still) required.
    pub error: Option<JsonStr<'a>>,
    /// The accepted ways to pay.
    pub accepts: List<'a, PaymentRequirements<'a>>,
    /// The object as received; [`JsonObject::EMPTY`] when built.
    pub source: JsonObject<'a>,
}

const PR_KNOWN: &[&str; 3] = &["x402Version", "error", "accepts"];

impl<'a> FromJson<'a> for PaymentRequired<'a> {
    const REASON: Reason = Reason::InvalidPaymentRequirements;

    fn from_json(v: JsonValue<'a>) -> Result<Self, Error> {
        let r = Self::REASON;
        let source = object(v, r, "")?;
        let [ver, error, accepts] = fields(source, PR_KNOWN);
        version(
            required(ver, Reason::InvalidX402Version, "x402Version")?,
            X402_VERSION,
        )?;
        Ok(PaymentRequired {
            error: present(error).map(|v| string(v, r, "error")).transpose()?,
            accepts: List::decode(required(accepts, r, "accepts")?, "accepts")?,
            source,
        })
    }
}

impl ToJson for PaymentRequired<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        write_members(out, self.source, PR_KNOWN, |i, w| match i {
            0 => w.u64_field("x402Version", X402_VERSION),
            1 => w.opt_str_field("error", self.error),
            _ => w.field("accepts", &self.accepts),
        })
    }
}

/// `PaymentPayload` of v1: what the client sends in `X-PAYMENT`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PaymentPayload<'a> {
    /// The scheme paid with.
    pub scheme: JsonStr<'a>,
    /// The v1 network name.
    pub network: Network,
    /// The scheme's payload.
    pub payload: RawObject<'a>,
    /// The object as received; [`JsonObject::EMPTY`] when built.
    pub source: JsonObject<'a>,
}

const PP_KNOWN: &[&str; 4] = &["x402Version", "scheme", "network", "payload"];

impl<'a> PaymentPayload<'a> {
    /// The scheme payload as received JSON.
    ///
    /// # Errors
    /// `invalid_payload` if the payload was built from a value rather than received.
    pub fn payload_json(&self) -> Result<JsonObject<'a>, Error> {
        self.payload.as_json().ok_or(super::err(
            Reason::InvalidPayload,
            ErrorKind::Invalid("payload was not received as JSON"),
            "payload",
        ))
    }
}

impl<'a> FromJson<'a> for PaymentPayload<'a> {
    const REASON: Reason = Reason::InvalidPayload;

    fn from_json(v: JsonValue<'a>) -> Result<Self, Error> {
        let r = Self::REASON;
        let source = object(v, r, "")?;
        let [ver, scheme, network, payload] = fields(source, PP_KNOWN);
        version(
            required(ver, Reason::InvalidX402Version, "x402Version")?,
            X402_VERSION,
        )?;
        Ok(PaymentPayload {
            scheme: string(required(scheme, r, "scheme")?, r, "scheme")?,
            network: network_any(required(network, r, "network")?, r, "network")?,
            payload: RawObject::Json(object(required(payload, r, "payload")?, r, "payload")?),
            source,
        })
    }
}

impl ToJson for PaymentPayload<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        write_members(out, self.source, PP_KNOWN, |i, w| match i {
            0 => w.u64_field("x402Version", X402_VERSION),
            1 => w.str_field("scheme", self.scheme),
            2 => w.field("network", &self.network),
            _ => w.field("payload", &self.payload),
        })
    }
}
