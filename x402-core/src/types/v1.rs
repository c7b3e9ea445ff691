//! Protocol version 1 documents (v1 network names, `X-PAYMENT` headers).

use super::{
    Extra, FromJson, List, RawObject, amount, integer, list, nested, network_any, object, present,
    raw_object, string, unknown_members,
};
use crate::amount::Amount;
use crate::error::{Error, ErrorKind, Reason};
use crate::evm::Address;
use crate::json::{JsonObject, JsonStr, JsonValue};
use crate::network::Network;

/// The protocol version these types speak.
pub const X402_VERSION: u64 = 1;

document! {
    /// `PaymentRequirements` of v1.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct PaymentRequirements<'a> in table order {
        /// The payment scheme (`exact`).
        pub scheme: JsonStr<'a> = required "scheme" string,
        /// v1 network name (`base-sepolia`); a CAIP-2 identifier is read too, so that a
        /// verifier can answer the reference's `..._network_mismatch` rather than fail.
        pub network: Network = required "network" network_any,
        /// The amount; the `exact` scheme requires exactly this.
        pub max_amount_required: Amount = required "maxAmountRequired" amount,
        /// The resource's URL.
        pub resource: JsonStr<'a> = required "resource" string,
        /// What it is, for people.
        pub description: JsonStr<'a> = required "description" string,
        /// Its media type (required by the v1 spec; some servers omit it).
        pub mime_type: Option<JsonStr<'a>> = optional "mimeType" string,
        /// JSON schema of the response, if the server publishes one.
        pub output_schema: Option<RawObject<'a>> = optional "outputSchema" raw_object,
        /// The recipient.
        pub pay_to: JsonStr<'a> = required "payTo" string,
        /// How long the server allows for settlement.
        pub max_timeout_seconds: u64 = required "maxTimeoutSeconds" integer,
        /// The asset (token address on EVM).
        pub asset: JsonStr<'a> = required "asset" string,
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
        // `outputSchema` is checked before the other members, as it always was: of
        // several faults, the one reported stays the same.
        present(source.get("outputSchema"))
            .map(|v| object(v, r, "outputSchema"))
            .transpose()?;
        Self::read_object(source, r)
    }
}

document! {
    /// `PaymentRequired` of v1: the JSON body of a 402 answer.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct PaymentRequired<'a> in table order, FromJson as InvalidPaymentRequirements {
        "x402Version" = X402_VERSION,
        /// Why payment is (still) required.
        pub error: Option<JsonStr<'a>> = optional "error" string,
        /// The accepted ways to pay.
        pub accepts: List<'a, PaymentRequirements<'a>> = required "accepts" list,
    }
}

document! {
    /// `PaymentPayload` of v1: what the client sends in `X-PAYMENT`.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct PaymentPayload<'a> in table order, FromJson as InvalidPayload {
        "x402Version" = X402_VERSION,
        /// The scheme paid with.
        pub scheme: JsonStr<'a> = required "scheme" string,
        /// The v1 network name.
        pub network: Network = required "network" network_any,
        /// The scheme's payload.
        pub payload: RawObject<'a> = required "payload" raw_object,
    }
}

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
