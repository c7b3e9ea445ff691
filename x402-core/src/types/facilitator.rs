//! Facilitator bodies (`POST /verify`, `POST /settle`, `GET /supported`), the
//! responses shared by v1 and v2, and version-detecting wrappers.

use super::{
    FromJson, List, RawObject, amount, boolean, detect_version, err, fields, list, network_any,
    object, present, raw_object, required, string, unknown_members, v1, v2, version_of,
    write_members,
};
use crate::amount::Amount;
use crate::error::{Error, ErrorKind, Reason};
use crate::json::{JsonObject, JsonStr, JsonValue, Sink, SinkFull, ToJson};
use crate::network::Network;

macro_rules! versioned {
    ($(#[$doc:meta])* $name:ident, $reason:expr) => {
        $(#[$doc])*
        // Views are small `Copy` values on the stack; boxing would need `alloc`.
        #[allow(clippy::large_enum_variant)]
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub enum $name<'a> {
            /// Protocol version 1.
            V1(v1::$name<'a>),
            /// Protocol version 2.
            V2(v2::$name<'a>),
        }

        impl<'a> $name<'a> {
            /// The protocol version: 1 or 2.
            #[must_use]
            pub fn x402_version(&self) -> u8 {
                match self {
                    $name::V1(_) => 1,
                    $name::V2(_) => 2,
                }
            }
        }

        impl<'a> FromJson<'a> for $name<'a> {
            const REASON: Reason = $reason;
            /// Reads `x402Version` first, then the matching version's type.
            fn from_json(v: JsonValue<'a>) -> Result<Self, Error> {
                let obj = object(v, Self::REASON, "")?;
                match detect_version(obj)? {
                    1 => v1::$name::from_json(v).map($name::V1),
                    _ => v2::$name::from_json(v).map($name::V2),
                }
            }
        }

        impl ToJson for $name<'_> {
            fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
                match self {
                    $name::V1(x) => x.write_json(out),
                    $name::V2(x) => x.write_json(out),
                }
            }
        }
    };
}

versioned!(
    /// A `PaymentRequired` of either version, detected from `x402Version`.
    PaymentRequired,
    Reason::InvalidPaymentRequirements
);
versioned!(
    /// A `PaymentPayload` of either version, detected from `x402Version`.
    PaymentPayload,
    Reason::InvalidPayload
);

/// `PaymentRequirements` of either version (v1 requirements carry no version; the
/// enclosing document says which).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PaymentRequirements<'a> {
    /// Protocol version 1.
    V1(v1::PaymentRequirements<'a>),
    /// Protocol version 2.
    V2(v2::PaymentRequirements<'a>),
}

impl<'a> PaymentRequirements<'a> {
    /// Reads requirements of the given version.
    ///
    /// # Errors
    /// `invalid_payment_requirements` naming the field, or `invalid_x402_version`.
    pub fn from_json_version(v: JsonValue<'a>, version: u8) -> Result<Self, Error> {
        match version {
            1 => v1::PaymentRequirements::from_json(v).map(PaymentRequirements::V1),
            2 => v2::PaymentRequirements::from_json(v).map(PaymentRequirements::V2),
            _ => Err(err(
                Reason::InvalidX402Version,
                ErrorKind::UnsupportedVersion,
                "x402Version",
            )),
        }
    }

    /// The scheme.
    #[must_use]
    pub fn scheme(&self) -> JsonStr<'a> {
        match self {
            PaymentRequirements::V1(r) => r.scheme,
            PaymentRequirements::V2(r) => r.scheme,
        }
    }

    /// The network (a v1 name or CAIP-2).
    #[must_use]
    pub fn network(&self) -> Network {
        match self {
            PaymentRequirements::V1(r) => r.network,
            PaymentRequirements::V2(r) => r.network,
        }
    }

    /// The amount (`maxAmountRequired` in v1).
    #[must_use]
    pub fn amount(&self) -> Amount {
        match self {
            PaymentRequirements::V1(r) => r.max_amount_required,
            PaymentRequirements::V2(r) => r.amount,
        }
    }

    /// The `extra` object.
    #[must_use]
    pub fn extra(&self) -> Option<super::Extra<'a>> {
        match self {
            PaymentRequirements::V1(r) => r.extra,
            PaymentRequirements::V2(r) => r.extra,
        }
    }

    /// The asset.
    #[must_use]
    pub fn asset(&self) -> JsonStr<'a> {
        match self {
            PaymentRequirements::V1(r) => r.asset,
            PaymentRequirements::V2(r) => r.asset,
        }
    }

    /// The recipient.
    #[must_use]
    pub fn pay_to(&self) -> JsonStr<'a> {
        match self {
            PaymentRequirements::V1(r) => r.pay_to,
            PaymentRequirements::V2(r) => r.pay_to,
        }
    }

    /// The settlement timeout.
    #[must_use]
    pub fn max_timeout_seconds(&self) -> u64 {
        match self {
            PaymentRequirements::V1(r) => r.max_timeout_seconds,
            PaymentRequirements::V2(r) => r.max_timeout_seconds,
        }
    }
}

impl ToJson for PaymentRequirements<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        match self {
            PaymentRequirements::V1(x) => x.write_json(out),
            PaymentRequirements::V2(x) => x.write_json(out),
        }
    }
}

// Not a `document!` table: the body's `x402Version` decides how both other
// members are read (and must match the payload's own), and it is written from the
// payload rather than stored, which rows that read each member on its own cannot say.

/// The body of `POST /verify` and of `POST /settle`:
/// `{x402Version, paymentPayload, paymentRequirements}`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VerifyRequest<'a> {
    /// The payment, as the client sent it.
    pub payment_payload: PaymentPayload<'a>,
    /// The requirements the resource server holds the payment to.
    pub payment_requirements: PaymentRequirements<'a>,
    /// The object as received; [`JsonObject::EMPTY`] when built.
    pub source: JsonObject<'a>,
}

/// `POST /settle` has the same body as `POST /verify`.
pub type SettleRequest<'a> = VerifyRequest<'a>;

const VR_KNOWN: &[&str; 3] = &["x402Version", "paymentPayload", "paymentRequirements"];

impl<'a> VerifyRequest<'a> {
    /// The protocol version of the body.
    #[must_use]
    pub fn x402_version(&self) -> u8 {
        self.payment_payload.x402_version()
    }
}

impl<'a> FromJson<'a> for VerifyRequest<'a> {
    const REASON: Reason = Reason::InvalidPayload;

    /// The body's `x402Version` decides the version of both members; a payload of
    /// another version is `invalid_x402_version`.
    fn from_json(v: JsonValue<'a>) -> Result<Self, Error> {
        let r = Self::REASON;
        let source = object(v, r, "")?;
        // One pass over the body's members, and one over the payload's.
        let [ver, payload, requirements] = fields(source, VR_KNOWN);
        let version = version_of(ver)?;
        let payload_obj = object(required(payload, r, "paymentPayload")?, r, "paymentPayload")?;
        if detect_version(payload_obj).map_err(|e| e.in_object("paymentPayload"))? != version {
            return Err(err(
                Reason::InvalidX402Version,
                ErrorKind::Invalid("paymentPayload.x402Version differs from the body's"),
                "x402Version",
            ));
        }
        let payment_payload = match version {
            1 => v1::PaymentPayload::from_json(payload_obj.as_value()).map(PaymentPayload::V1),
            _ => v2::PaymentPayload::from_json(payload_obj.as_value()).map(PaymentPayload::V2),
        };
        let payment_payload = payment_payload.map_err(|e| {
            e.with_reason(Reason::InvalidPayload)
                .in_object("paymentPayload")
        })?;
        let req_v = required(
            requirements,
            Reason::InvalidPaymentRequirements,
            "paymentRequirements",
        )?;
        let payment_requirements =
            PaymentRequirements::from_json_version(req_v, version).map_err(|e| {
                e.with_reason(Reason::InvalidPaymentRequirements)
                    .in_object("paymentRequirements")
            })?;
        Ok(VerifyRequest {
            payment_payload,
            payment_requirements,
            source,
        })
    }
}

impl ToJson for VerifyRequest<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        write_members(out, self.source, VR_KNOWN, |i, w| match i {
            0 => w.u64_field("x402Version", u64::from(self.x402_version())),
            1 => w.field("paymentPayload", &self.payment_payload),
            _ => w.field("paymentRequirements", &self.payment_requirements),
        })
    }
}

document! {
    /// `VerifyResponse`: the verdict on a payment.
    ///
    /// ```
    /// use paywire::types::facilitator::VerifyResponse;
    /// use paywire::json::{JsonStr, ToJson};
    /// let r = VerifyResponse::invalid("invalid_exact_evm_signature", Some("signature does not recover to authorization.from"), None);
    /// assert_eq!(r.to_json_string(), r#"{"isValid":false,"invalidReason":"invalid_exact_evm_signature","invalidMessage":"signature does not recover to authorization.from"}"#);
    /// ```
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct VerifyResponse<'a> in table order, FromJson as InvalidResponse {
        /// Whether the payment is valid.
        pub is_valid: bool = required "isValid" boolean,
        /// Why not: a protocol reason string.
        pub invalid_reason: Option<JsonStr<'a>> = optional "invalidReason" string,
        /// Why not, for people.
        pub invalid_message: Option<JsonStr<'a>> = optional "invalidMessage" string,
        /// Who pays.
        pub payer: Option<JsonStr<'a>> = optional "payer" string,
        /// Extensions.
        pub extensions: Option<RawObject<'a>> = optional "extensions" raw_object,
        /// Scheme-specific details of the verdict.
        pub extra: Option<RawObject<'a>> = optional "extra" raw_object,
    }
}

impl<'a> VerifyResponse<'a> {
    /// A valid verdict.
    #[must_use]
    pub const fn valid(payer: Option<&'a str>) -> Self {
        VerifyResponse {
            is_valid: true,
            invalid_reason: None,
            invalid_message: None,
            payer: match payer {
                Some(p) => Some(JsonStr::new(p)),
                None => None,
            },
            extensions: None,
            extra: None,
            source: JsonObject::EMPTY,
        }
    }

    /// An invalid verdict.
    #[must_use]
    pub const fn invalid(
        reason: &'a str,
        message: Option<&'a str>,
        payer: Option<&'a str>,
    ) -> Self {
        VerifyResponse {
            is_valid: false,
            invalid_reason: Some(JsonStr::new(reason)),
            invalid_message: match message {
                Some(m) => Some(JsonStr::new(m)),
                None => None,
            },
            payer: match payer {
                Some(p) => Some(JsonStr::new(p)),
                None => None,
            },
            extensions: None,
            extra: None,
            source: JsonObject::EMPTY,
        }
    }

    /// Members other than the typed ones.
    pub fn unknown(&self) -> impl Iterator<Item = (JsonStr<'a>, JsonValue<'a>)> + 'a {
        unknown_members(self.source, Self::KNOWN)
    }
}

document! {
    /// `SettleResponse`: the outcome of settlement (`PAYMENT-RESPONSE` / `X-PAYMENT-RESPONSE`).
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct SettleResponse<'a> in table order, FromJson as InvalidResponse {
        /// Whether the payment settled.
        pub success: bool = required "success" boolean,
        /// Why not: a protocol reason string.
        pub error_reason: Option<JsonStr<'a>> = optional "errorReason" string,
        /// Why not, for people.
        pub error_message: Option<JsonStr<'a>> = optional "errorMessage" string,
        /// Who paid.
        pub payer: Option<JsonStr<'a>> = optional "payer" string,
        /// The transaction (hash on EVM; empty on failure).
        pub transaction: JsonStr<'a> = required "transaction" string,
        /// The network (CAIP-2 in v2, a name in v1).
        pub network: Network = required "network" network_any,
        /// The amount settled (`upto`, `batch-settlement`).
        pub amount: Option<Amount> = optional "amount" amount,
        /// Extensions.
        pub extensions: Option<RawObject<'a>> = optional "extensions" raw_object,
        /// Scheme-specific details (`cloudflare:402`: `{timestamp}`).
        pub extra: Option<RawObject<'a>> = optional "extra" raw_object,
    }
}

impl<'a> SettleResponse<'a> {
    /// Members other than the typed ones.
    pub fn unknown(&self) -> impl Iterator<Item = (JsonStr<'a>, JsonValue<'a>)> + 'a {
        unknown_members(self.source, Self::KNOWN)
    }
}

document! {
    /// One entry of `GET /supported`'s `kinds`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SupportedKind<'a> in table order, FromJson as InvalidResponse {
        /// Protocol version.
        pub x402_version: u8 = any "x402Version" |v, _, _| version_of(v),
        /// Scheme.
        pub scheme: JsonStr<'a> = required "scheme" string,
        /// Network (a v1 name for v1 kinds).
        pub network: Network = required "network" network_any,
        /// Scheme-specific data (`facilitatorAddress` for `upto`, ...).
        pub extra: Option<JsonObject<'a>> = optional "extra" object,
    }
}

document! {
    /// `GET /supported`: what a facilitator can verify and settle.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct SupportedResponse<'a> in table order {
        /// The (version, scheme, network) combinations supported.
        pub kinds: List<'a, SupportedKind<'a>> = required "kinds" list,
        /// Extension ids supported (v1 facilitators omit the member).
        pub extensions: Option<List<'a, JsonStr<'a>>> = optional "extensions"
            |v, r, f| list(v, r, f).map_err(|e| e.with_reason(r)),
        /// Signer addresses by CAIP family pattern (`eip155:*` → addresses).
        pub signers: Option<JsonObject<'a>> = optional "signers" signers,
    }
}

/// `signers`: an object whose members are arrays of strings.
fn signers<'a>(v: JsonValue<'a>, r: Reason, field: &'static str) -> Result<JsonObject<'a>, Error> {
    let s = object(v, r, field)?;
    for (_, addrs) in s.members() {
        for a in super::array(addrs, r, field)?.iter() {
            string(a, r, field)?;
        }
    }
    Ok(s)
}

impl<'a> FromJson<'a> for SupportedResponse<'a> {
    const REASON: Reason = Reason::InvalidResponse;

    fn from_json(v: JsonValue<'a>) -> Result<Self, Error> {
        let r = Self::REASON;
        let source = object(v, r, "")?;
        // `signers` is checked before the other members, as it always was: of
        // several faults, the one reported stays the same.
        present(source.get("signers"))
            .map(|v| signers(v, r, "signers"))
            .transpose()?;
        Self::read_object(source, r)
    }
}

/// Reads the `x402Version` of a body without decoding the rest.
///
/// # Errors
/// `invalid_x402_version`.
pub fn body_version(v: JsonValue<'_>) -> Result<u8, Error> {
    detect_version(object(v, Reason::InvalidPayload, "")?)
}
