//! Protocol version 2 documents.

use super::{
    Extra, FromJson, List, RawObject, amount, icon_url, integer, label, labels, list, nested,
    network_caip2, object, raw_object, string, unknown_members,
};
use crate::amount::Amount;
use crate::error::{Error, Reason};
use crate::evm::Address;
use crate::json::{JsonArray, JsonObject, JsonStr, JsonValue};
use crate::network::Network;

/// The protocol version these types speak.
pub const X402_VERSION: u64 = 2;

document! {
    /// `ResourceInfo`: the resource being paid for.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct ResourceInfo<'a> in document order {
        /// The resource's URL.
        pub url: JsonStr<'a> = required "url" string,
        /// What it is, for people.
        pub description: Option<JsonStr<'a>> = optional "description" string,
        /// Its media type.
        pub mime_type: Option<JsonStr<'a>> = optional "mimeType" string,
        /// The service's name, for people (1 to 32 printable ASCII characters).
        pub service_name: Option<JsonStr<'a>> = optional "serviceName" label,
        /// Up to 5 tags (each 1 to 32 printable ASCII characters).
        pub tags: Option<JsonArray<'a>> = optional "tags" labels,
        /// An icon's URL (at most 2048 characters).
        pub icon_url: Option<JsonStr<'a>> = optional "iconUrl" icon_url,
    }
}

impl<'a> ResourceInfo<'a> {
    /// A resource with only a URL.
    #[must_use]
    pub const fn new(url: &'a str) -> Self {
        ResourceInfo {
            url: JsonStr::new(url),
            description: None,
            mime_type: None,
            service_name: None,
            tags: None,
            icon_url: None,
            source: JsonObject::EMPTY,
        }
    }

    /// Members other than the typed ones, in order.
    pub fn unknown(&self) -> impl Iterator<Item = (JsonStr<'a>, JsonValue<'a>)> + 'a {
        unknown_members(self.source, Self::KNOWN)
    }
}

impl<'a> FromJson<'a> for ResourceInfo<'a> {
    const REASON: Reason = Reason::InvalidPaymentRequirements;
    fn from_json(v: JsonValue<'a>) -> Result<Self, Error> {
        let r = Self::REASON;
        object(v, r, "resource")
            .and_then(|source| Self::read_object(source, r))
            .map_err(|e| e.in_object("resource"))
    }
}

document! {
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
    pub struct PaymentRequirements<'a> in table order, FromJson as InvalidPaymentRequirements {
        /// The payment scheme (`exact`, `upto`, `batch-settlement`).
        pub scheme: JsonStr<'a> = required "scheme" string,
        /// CAIP-2 network.
        pub network: Network = required "network" network_caip2,
        /// Amount in the asset's atomic units.
        pub amount: Amount = required "amount" amount,
        /// The asset: a token address on EVM, `USD` for batch-settlement, ...
        pub asset: JsonStr<'a> = required "asset" string,
        /// The recipient.
        pub pay_to: JsonStr<'a> = required "payTo" string,
        /// How long the server allows for the payment to settle.
        pub max_timeout_seconds: u64 = required "maxTimeoutSeconds" integer,
        /// Scheme-specific fields.
        pub extra: Option<Extra<'a>> = optional "extra" nested,
    }
}

impl<'a> PaymentRequirements<'a> {
    /// Members other than the typed ones, in order.
    pub fn unknown(&self) -> impl Iterator<Item = (JsonStr<'a>, JsonValue<'a>)> + 'a {
        unknown_members(self.source, Self::KNOWN)
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

document! {
    /// `PaymentRequired`: the body of a 402 answer (v2 sends it in `PAYMENT-REQUIRED`).
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct PaymentRequired<'a> in table order, FromJson as InvalidPaymentRequirements {
        "x402Version" = X402_VERSION,
        /// Why payment is (still) required.
        pub error: Option<JsonStr<'a>> = optional "error" string,
        /// The resource.
        pub resource: ResourceInfo<'a> = required "resource" nested,
        /// The accepted ways to pay, in the server's order of preference.
        pub accepts: List<'a, PaymentRequirements<'a>> = required "accepts" list,
        /// Protocol extensions offered, by id; a client echoes them in its payload.
        pub extensions: Option<RawObject<'a>> = optional "extensions" raw_object,
    }
}

document! {
    /// `PaymentPayload`: what the client sends in `PAYMENT-SIGNATURE`.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct PaymentPayload<'a> in table order, FromJson as InvalidPayload {
        "x402Version" = X402_VERSION,
        /// The resource being paid for, echoed from the 402.
        pub resource: Option<ResourceInfo<'a>> = optional "resource" echoed,
        /// The requirement the client chose, echoed verbatim.
        pub accepted: PaymentRequirements<'a> = required "accepted" echoed,
        /// The scheme's payload (see [`super::payload`]).
        pub payload: RawObject<'a> = required "payload" raw_object,
        /// Extensions, echoed from the 402 (a client may add, never remove).
        pub extensions: Option<RawObject<'a>> = optional "extensions" raw_object,
    }
}

/// A document of the 402 echoed in a payload (`resource`, `accepted`): read as its
/// own type, its errors take the payload's reason and name the member as their object.
fn echoed<'a, T: FromJson<'a>>(v: JsonValue<'a>, r: Reason, key: &'static str) -> Result<T, Error> {
    T::from_json(v).map_err(|e| e.with_reason(r).in_object(key))
}

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
