//! `extra`: scheme-specific fields of a requirement.

use super::{FromJson, object, string, unknown_members};
use crate::error::{Error, Reason};
use crate::evm::Address;
use crate::json::{JsonObject, JsonStr, JsonValue};

document! {
    /// The `extra` object of a requirement: the fields this crate knows are typed,
    /// the rest is kept as received.
    ///
    /// ```
    /// use paywire::types::Extra;
    /// use paywire::json::JsonStr;
    /// let extra = Extra { name: Some(JsonStr::new("USDC")), version: Some(JsonStr::new("2")), ..Extra::EMPTY };
    /// assert!(extra.name.unwrap() == "USDC");
    /// ```
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Extra<'a> in document order {
        /// EIP-712 domain name of the token (`USD Coin`, `USDC`).
        pub name: Option<JsonStr<'a>> = optional "name" string,
        /// EIP-712 domain version of the token (`2`).
        pub version: Option<JsonStr<'a>> = optional "version" string,
        /// `eip3009` (the default) or `permit2`.
        pub asset_transfer_method: Option<JsonStr<'a>> = optional "assetTransferMethod" string,
        /// For `upto`: the facilitator address the client must put in the witness.
        pub facilitator_address: Option<JsonStr<'a>> = optional "facilitatorAddress" string,
        /// When the server settles: `authorization` (absent: after the
        /// handler), `upfront` (before it) or `escrow`.
        pub payment_flow: Option<JsonStr<'a>> = optional "paymentFlow" string,
    }
}

impl<'a> Extra<'a> {
    /// No fields.
    pub const EMPTY: Extra<'static> = Extra {
        name: None,
        version: None,
        asset_transfer_method: None,
        facilitator_address: None,
        payment_flow: None,
        source: JsonObject::EMPTY,
    };

    /// Members other than the typed ones, in order.
    pub fn unknown(&self) -> impl Iterator<Item = (JsonStr<'a>, JsonValue<'a>)> + 'a {
        unknown_members(self.source, Self::KNOWN)
    }

    /// Whether the requirement asks for Permit2 (`assetTransferMethod: "permit2"`).
    #[must_use]
    pub fn is_permit2(&self) -> bool {
        self.asset_transfer_method.is_some_and(|m| m == "permit2")
    }

    /// `facilitatorAddress` as an EVM address.
    ///
    /// # Errors
    /// `invalid_payment_requirements` when absent or malformed.
    pub fn facilitator_evm_address(&self) -> Result<Address, Error> {
        let s = super::required(
            self.facilitator_address,
            Reason::InvalidPaymentRequirements,
            "facilitatorAddress",
        )?;
        let mut buf = [0u8; 42];
        let text = s.unescape_into(&mut buf).unwrap_or("");
        Address::parse(text).map_err(|k| {
            super::err(Reason::InvalidPaymentRequirements, k, "facilitatorAddress")
                .in_object("extra")
        })
    }
}

impl<'a> FromJson<'a> for Extra<'a> {
    const REASON: Reason = Reason::InvalidPaymentRequirements;

    fn from_json(v: JsonValue<'a>) -> Result<Self, Error> {
        let r = Self::REASON;
        let source = object(v, r, "extra")?;
        Self::read_object(source, r).map_err(|e| e.in_object("extra"))
    }
}
