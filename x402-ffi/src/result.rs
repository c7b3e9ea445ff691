//! The result codes.

use paywire::Reason;

/// What a call did. `PAYWIRE_RESULT_OK` (0) is success; every other value is an
/// error. Numbers are part of the ABI: they are never changed nor reused.
///
/// Codes 1-99 report misuse of the API; codes 100 and up report an input
/// document that could not be read, named after the protocol's reason string.
/// An invalid *payment* is never an error code: `paywire_verify` succeeds and its
/// output says `"isValid":false`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum paywire_result {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullParameter = 1,
    /// The output buffer is too small; `*out_len` holds the size needed.
    InsufficientSize = 2,
    /// Internal error: a Rust panic was caught at the boundary (a bug: please report).
    Panic = 3,
    /// An integer argument is out of range (an unknown header kind or result
    /// code, a length above `PTRDIFF_MAX`), or a header name is unknown.
    InvalidArgument = 4,
    /// A text argument is not valid UTF-8.
    InvalidUtf8 = 5,
    /// The verifier configuration JSON is invalid.
    InvalidConfig = 6,
    /// The payment policy JSON is invalid.
    InvalidPolicy = 7,
    /// The private key is zero or not below the secp256k1 group order.
    InvalidPrivateKey = 8,
    /// The signature is malformed, not 65 bytes, high-s (EIP-2), or recovers no key.
    InvalidSignature = 9,
    /// `invalid_payload`: a payment payload (or typed data) could not be read.
    InvalidPayload = 100,
    /// `invalid_payment_requirements`: a PaymentRequired or requirements
    /// document could not be read, or nothing it accepts is payable under the policy.
    InvalidPaymentRequirements = 101,
    /// `invalid_response`: a settlement response could not be read.
    InvalidResponse = 102,
    /// `invalid_x402_version`: `x402Version` is missing, unsupported, or
    /// disagrees with the header.
    InvalidX402Version = 103,
    /// `invalid_network`: a network is not canonical CAIP-2 or a v1 name.
    InvalidNetwork = 104,
}

/// Every code, for the message function and the tests.
pub(crate) const ALL_RESULTS: [paywire_result; 15] = [
    paywire_result::Ok,
    paywire_result::NullParameter,
    paywire_result::InsufficientSize,
    paywire_result::Panic,
    paywire_result::InvalidArgument,
    paywire_result::InvalidUtf8,
    paywire_result::InvalidConfig,
    paywire_result::InvalidPolicy,
    paywire_result::InvalidPrivateKey,
    paywire_result::InvalidSignature,
    paywire_result::InvalidPayload,
    paywire_result::InvalidPaymentRequirements,
    paywire_result::InvalidResponse,
    paywire_result::InvalidX402Version,
    paywire_result::InvalidNetwork,
];

impl paywire_result {
    /// The code for a raw number, if it is one.
    #[must_use]
    pub fn from_u32(code: u32) -> Option<paywire_result> {
        ALL_RESULTS.into_iter().find(|r| *r as u32 == code)
    }

    /// A sentence for people.
    #[must_use]
    pub const fn message(self) -> &'static str {
        match self {
            paywire_result::Ok => "success",
            paywire_result::NullParameter => "a required pointer argument was NULL",
            paywire_result::InsufficientSize => {
                "the output buffer is too small; *out_len holds the size needed"
            }
            paywire_result::Panic => {
                "internal error: a Rust panic was caught at the FFI boundary (please report it)"
            }
            paywire_result::InvalidArgument => {
                "an argument is out of range (unknown header kind, name or result code, or a length above PTRDIFF_MAX)"
            }
            paywire_result::InvalidUtf8 => "a text argument is not valid UTF-8",
            paywire_result::InvalidConfig => "the verifier configuration JSON is invalid",
            paywire_result::InvalidPolicy => "the payment policy JSON is invalid",
            paywire_result::InvalidPrivateKey => {
                "the private key is zero or not below the secp256k1 group order"
            }
            paywire_result::InvalidSignature => {
                "the signature is malformed, not 65 bytes, high-s, or recovers no key"
            }
            paywire_result::InvalidPayload => "invalid_payload: the document could not be read",
            paywire_result::InvalidPaymentRequirements => {
                "invalid_payment_requirements: the requirements could not be read, or none is payable under the policy"
            }
            paywire_result::InvalidResponse => {
                "invalid_response: the settlement response could not be read"
            }
            paywire_result::InvalidX402Version => {
                "invalid_x402_version: x402Version is missing, unsupported or disagrees with the header"
            }
            paywire_result::InvalidNetwork => {
                "invalid_network: not a canonical CAIP-2 identifier or v1 network name"
            }
        }
    }

    /// The protocol reason a document code is named after; `None` for the
    /// codes below 100, which are not about a document.
    pub(crate) const fn reason(self) -> Option<Reason> {
        match self {
            paywire_result::InvalidPayload => Some(Reason::InvalidPayload),
            paywire_result::InvalidPaymentRequirements => Some(Reason::InvalidPaymentRequirements),
            paywire_result::InvalidResponse => Some(Reason::InvalidResponse),
            paywire_result::InvalidX402Version => Some(Reason::InvalidX402Version),
            paywire_result::InvalidNetwork => Some(Reason::InvalidNetwork),
            _ => None,
        }
    }

    /// The code for a document the core could not read.
    pub(crate) fn for_reason(reason: Reason) -> paywire_result {
        match reason {
            Reason::InvalidPaymentRequirements => paywire_result::InvalidPaymentRequirements,
            Reason::InvalidResponse => paywire_result::InvalidResponse,
            Reason::InvalidX402Version => paywire_result::InvalidX402Version,
            Reason::InvalidNetwork => paywire_result::InvalidNetwork,
            _ => paywire_result::InvalidPayload,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_codes_are_named_after_their_reason() {
        for code in ALL_RESULTS {
            match code.reason() {
                Some(r) => {
                    assert!(code as u32 >= 100, "{code:?}");
                    assert_eq!(paywire_result::for_reason(r), code);
                    assert!(code.message().starts_with(r.as_str()), "{code:?}");
                }
                None => assert!((code as u32) < 100, "{code:?}"),
            }
        }
    }
}
