//! Protocol version 2 documents.

use super::{
    Extra, FromJson, List, RawObject, amount, fields, integer, network_caip2, object, present,
    read_members, required, string, unknown_members, version, write_members,
};
use crate::amount::Amount;
use crate::error::{Error, Reason};
use crate::evm::Address;
use crate::json::{JsonObject, JsonStr, JsonValue, Sink, SinkFull, ToJson};
use crate::network::Network;

/// The protocol version these types speak.
pub const X402_VERSION: u64 = 2;

/// `ResourceInfo`: the resource being paid for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceInfo<'a> {
    /// The resource's URL.
    pub url: JsonStr<'a>,
    /// What it is, for people.
    pub description: Option<JsonStr<'a>>,
    /// Its media type.
    pub mime_type: Option<JsonStr<'a>>,
    /// The object as received (unknown members are kept); [`JsonObject::EMPTY`] when built.
    pub source: JsonObject<'a>,
}

const RESOURCE_KNOWN: &[&str; 3] = &["url", "description", "mimeType"];

impl<'a> ResourceInfo<'a> {
    /// A resource with only a URL.
    #[must_use]
    pub const fn new(url: &'a str) -> Self {
        ResourceInfo {
            url: JsonStr::new(url),
            description: None,
            mime_type: None,
            source: JsonObject::EMPTY,
        }
    }

    /// Members other than the typed ones (`serviceName`, `tags`, ...), in order.
    pub fn unknown(&self) -> impl Iterator<Item = (JsonStr<'a>, JsonValue<'a>)> + 'a {
        unknown_members(self.source, RESOURCE_KNOWN)
    }

    fn read(v: JsonValue<'a>, r: Reason) -> Result<Self, Error> {
        let source = object(v, r, "resource")?;
        let (mut url, mut description, mut mime_type) = (None, None, None);
        read_members(source, RESOURCE_KNOWN, |i, v| {
            match i {
                0 => url = Some(string(v, r, "url")?),
                1 => {
                    description = present(Some(v))
                        .map(|v| string(v, r, "description"))
                        .transpose()?
                }
                _ => {
                    mime_type = present(Some(v))
                        .map(|v| string(v, r, "mimeType"))
                        .transpose()?
                }
            }
            Ok(())
        })?;
        let url = required(url, r, "url")?;
        Ok(ResourceInfo {
            url,
            description,
            mime_type,
            source,
        })
    }
}

impl<'a> FromJson<'a> for ResourceInfo<'a> {
    const REASON: Reason = Reason::InvalidPaymentRequirements;
    fn from_json(v: JsonValue<'a>) -> Result<Self, Error> {
        Self::read(v, Self::REASON).map_err(|e| e.in_object("resource"))
    }
}

impl ToJson for ResourceInfo<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        write_members(out, self.source, RESOURCE_KNOWN, |i, w| match i {
            0 => w.str_field("url", self.url),
            1 => w.opt_str_field("description", self.description),
            _ => w.opt_str_field("mimeType", self.mime_type),
        })
    }
}

/// `PaymentRequirements`: one way the server accepts to be paid.
///
/// ```
/// use paywire::types::v2::PaymentRequirements;
/// use paywire::types::FromJson;
/// use paywire::json::{Limits, ToJson};
/// let json = br#"{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}"#;
/// let req = PaymentRequirements::from_json_bytes(json, &Limits::DEFAULT).unwrap();
/// assert_eq!(req.amount, 10_000u64.into());
/// assert_eq!(req.network.evm_chain_id(), Some(84532));
/// assert_eq!(req.to_json_vec(), json); // decode → encode keeps the bytes
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaymentRequirements<'a> {
    /// The payment scheme (`exact`, `upto`, `batch-settlement`).
    pub scheme: JsonStr<'a>,
    /// CAIP-2 network.
    pub network: Network,
    /// Amount in the asset's atomic units.
    pub amount: Amount,
    /// The asset: a token address on EVM, `USD` for batch-settlement, ...
    pub asset: JsonStr<'a>,
    /// The recipient.
    pub pay_to: JsonStr<'a>,
    /// How long the server allows for the payment to settle.
    pub max_timeout_seconds: u64,
    /// Scheme-specific fields.
    pub extra: Option<Extra<'a>>,
    /// The object as received; [`JsonObject::EMPTY`] when built.
    pub source: JsonObject<'a>,
}

const REQ_KNOWN: &[&str; 7] = &[
    "scheme",
    "network",
    "amount",
    "asset",
    "payTo",
    "maxTimeoutSeconds",
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
        evm_address_field(self.asset, "asset")
    }

    /// `payTo` as an EVM address.
    ///
    /// # Errors
    /// `invalid_payment_requirements` naming `payTo`.
    pub fn pay_to_address(&self) -> Result<Address, Error> {
        evm_address_field(self.pay_to, "payTo")
    }
}

pub(crate) fn evm_address_field(s: JsonStr<'_>, field: &'static str) -> Result<Address, Error> {
    let mut buf = [0u8; 42];
    let text = s.unescape_into(&mut buf).unwrap_or("");
    Address::parse(text).map_err(|k| super::err(Reason::InvalidPaymentRequirements, k, field))
}

impl<'a> FromJson<'a> for PaymentRequirements<'a> {
    const REASON: Reason = Reason::InvalidPaymentRequirements;

    fn from_json(v: JsonValue<'a>) -> Result<Self, Error> {
        let r = Self::REASON;
        let source = object(v, r, "")?;
        let [scheme, network, amt, asset, pay_to, timeout, extra] = fields(source, REQ_KNOWN);
        Ok(PaymentRequirements {
            scheme: string(required(scheme, r, "scheme")?, r, "scheme")?,
            network: network_caip2(required(network, r, "network")?, r, "network")?,
            amount: amount(required(amt, r, "amount")?, r, "amount")?,
            asset: string(required(asset, r, "asset")?, r, "asset")?,
            pay_to: string(required(pay_to, r, "payTo")?, r, "payTo")?,
            max_timeout_seconds: integer(
                required(timeout, r, "maxTimeoutSeconds")?,
                r,
                "maxTimeoutSeconds",
            )?,
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
            2 => w.field("amount", &self.amount),
            3 => w.str_field("asset", self.asset),
            4 => w.str_field("payTo", self.pay_to),
            5 => w.u64_field("maxTimeoutSeconds", self.max_timeout_seconds),
            _ => match &self.extra {
                Some(e) => w.field("extra", e),
                None => Ok(()),
            },
        })
    }
}

/// `PaymentRequired`: the body of a 402 answer (v2 sends it in `PAYMENT-REQUIRED`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PaymentRequired<'a> {
    /// Why payment is (still) required.
    pub error: Option<JsonStr<'a>>,
    /// The resource.
    pub resource: ResourceInfo<'a>,
    /// The accepted ways to pay, in the server's order of preference.
    pub accepts: List<'a, PaymentRequirements<'a>>,
    /// Protocol extensions offered, by id; a client echoes them in its payload.
    pub extensions: Option<RawObject<'a>>,
    /// The object as received; [`JsonObject::EMPTY`] when built.
    pub source: JsonObject<'a>,
}

const PR_KNOWN: &[&str; 5] = &["x402Version", "error", "resource", "accepts", "extensions"];

impl<'a> FromJson<'a> for PaymentRequired<'a> {
    const REASON: Reason = Reason::InvalidPaymentRequirements;

    fn from_json(v: JsonValue<'a>) -> Result<Self, Error> {
        let r = Self::REASON;
        let source = object(v, r, "")?;
        let [ver, error, resource, accepts, extensions] = fields(source, PR_KNOWN);
        version(
            required(ver, Reason::InvalidX402Version, "x402Version")?,
            X402_VERSION,
        )?;
        Ok(PaymentRequired {
            error: present(error).map(|v| string(v, r, "error")).transpose()?,
            resource: ResourceInfo::from_json(required(resource, r, "resource")?)?,
            accepts: List::decode(required(accepts, r, "accepts")?, "accepts")?,
            extensions: present(extensions)
                .map(|v| object(v, r, "extensions").map(RawObject::Json))
                .transpose()?,
            source,
        })
    }
}

impl ToJson for PaymentRequired<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        write_members(out, self.source, PR_KNOWN, |i, w| match i {
            0 => w.u64_field("x402Version", X402_VERSION),
            1 => w.opt_str_field("error", self.error),
            2 => w.field("resource", &self.resource),
            3 => w.field("accepts", &self.accepts),
            _ => match &self.extensions {
                Some(e) => w.field("extensions", e),
                None => Ok(()),
            },
        })
    }
}

/// `PaymentPayload`: what the client sends in `PAYMENT-SIGNATURE`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PaymentPayload<'a> {
    /// The resource being paid for, echoed from the 402.
    pub resource: Option<ResourceInfo<'a>>,
    /// The requirement the client chose, echoed verbatim.
    pub accepted: PaymentRequirements<'a>,
    /// The scheme's payload (see [`super::payload`]).
    pub payload: RawObject<'a>,
    /// Extensions, echoed from the 402 (a client may add, never remove).
    pub extensions: Option<RawObject<'a>>,
    /// The object as received; [`JsonObject::EMPTY`] when built.
    pub source: JsonObject<'a>,
}

const PP_KNOWN: &[&str; 5] = &[
    "x402Version",
    "resource",
    "accepted",
    "payload",
    "extensions",
];

impl<'a> PaymentPayload<'a> {
    /// The scheme payload as received JSON.
    ///
    /// # Errors
    /// `invalid_payload` if the payload was built from a value rather than received.
    pub fn payload_json(&self) -> Result<JsonObject<'a>, Error> {
        self.payload.as_json().ok_or(super::err(
            Reason::InvalidPayload,
            crate::error::ErrorKind::Invalid("payload was not received as JSON"),
            "payload",
        ))
    }
}

impl<'a> FromJson<'a> for PaymentPayload<'a> {
    const REASON: Reason = Reason::InvalidPayload;

    fn from_json(v: JsonValue<'a>) -> Result<Self, Error> {
        let r = Self::REASON;
        let source = object(v, r, "")?;
        let [ver, resource, accepted, payload, extensions] = fields(source, PP_KNOWN);
        version(
            required(ver, Reason::InvalidX402Version, "x402Version")?,
            X402_VERSION,
        )?;
        let in_payload = |e: Error| e.with_reason(r);
        Ok(PaymentPayload {
            resource: present(resource)
                .map(|v| ResourceInfo::read(v, r))
                .transpose()
                .map_err(|e| in_payload(e).in_object("resource"))?,
            accepted: PaymentRequirements::from_json(required(accepted, r, "accepted")?)
                .map_err(|e| in_payload(e).in_object("accepted"))?,
            payload: RawObject::Json(object(required(payload, r, "payload")?, r, "payload")?),
            extensions: present(extensions)
                .map(|v| object(v, r, "extensions").map(RawObject::Json))
                .transpose()?,
            source,
        })
    }
}

impl ToJson for PaymentPayload<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        write_members(out, self.source, PP_KNOWN, |i, w| match i {
            0 => w.u64_field("x402Version", X402_VERSION),
            1 => match &self.resource {
                Some(res) => w.field("resource", res),
                None => Ok(()),
            },
            2 => w.field("accepted", &self.accepted),
            3 => w.field("payload", &self.payload),
            _ => match &self.extensions {
                Some(e) => w.field("extensions", e),
                None => Ok(()),
            },
        })
    }
}
