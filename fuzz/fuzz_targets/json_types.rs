//! Every protocol document type, read from the same bytes: anything accepted
//! re-encodes to strict compact JSON that decodes to the same value, and is a
//! fixed point; documents that keep their source (unknown members, member order)
//! re-encode to exactly the input's compact form when it holds no `null`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::json::{self, Limits};
use paywire::types::facilitator::{
    PaymentPayload, PaymentRequired, SettleResponse, SupportedKind, SupportedResponse,
    VerifyRequest, VerifyResponse,
};
use paywire::types::payload::{
    BatchSettlementPayload, Eip3009Authorization, ExactEvmPayload, Permit2Payload, SchemePayload,
};
use paywire::types::{Extra, v1, v2};
use paywire_fuzz::roundtrip;

fuzz_target!(|data: &[u8]| {
    let l = Limits::DEFAULT;
    // Version-detecting wrappers, and each version on its own.
    let pr = roundtrip!(PaymentRequired, data, l, exact = true);
    let pr1 = roundtrip!(v1::PaymentRequired, data, l, exact = true);
    let pr2 = roundtrip!(v2::PaymentRequired, data, l, exact = true);
    assert_eq!(
        pr,
        pr1.or(pr2),
        "PaymentRequired disagrees with its versions"
    );
    let pp = roundtrip!(PaymentPayload, data, l, exact = true);
    let pp1 = roundtrip!(v1::PaymentPayload, data, l, exact = true);
    let pp2 = roundtrip!(v2::PaymentPayload, data, l, exact = true);
    assert_eq!(
        pp,
        pp1.or(pp2),
        "PaymentPayload disagrees with its versions"
    );
    roundtrip!(v1::PaymentRequirements, data, l, exact = true);
    roundtrip!(v2::PaymentRequirements, data, l, exact = true);
    roundtrip!(v2::ResourceInfo, data, l, exact = true);
    roundtrip!(Extra, data, l, exact = true);
    // Facilitator bodies.
    roundtrip!(VerifyRequest, data, l, exact = true);
    roundtrip!(VerifyResponse, data, l, exact = true);
    roundtrip!(SettleResponse, data, l, exact = true);
    roundtrip!(SupportedResponse, data, l, exact = true);
    roundtrip!(SupportedKind, data, l, exact = true);
    // Scheme payloads: typed, written in a fixed member order.
    let e = roundtrip!(ExactEvmPayload, data, l, exact = false);
    let p = roundtrip!(Permit2Payload, data, l, exact = false);
    let b = roundtrip!(BatchSettlementPayload, data, l, exact = false);
    roundtrip!(Eip3009Authorization, data, l, exact = false);
    // Shape recognition agrees with the typed decoders.
    if let Ok(v) = json::parse(data, &l) {
        if let Some(o) = v.as_object() {
            match SchemePayload::from_object(o) {
                Ok(SchemePayload::Eip3009(x)) => {
                    assert!(o.get("permit2Authorization").is_none());
                    assert_eq!(e.as_deref(), Some(&paywire_fuzz::encode_checked(&x)[..]));
                }
                Ok(SchemePayload::Permit2(x)) => {
                    assert_eq!(p.as_deref(), Some(&paywire_fuzz::encode_checked(&x)[..]));
                }
                Ok(SchemePayload::Batch(x)) => {
                    assert!(o.get("authorization").is_none());
                    assert_eq!(b.as_deref(), Some(&paywire_fuzz::encode_checked(&x)[..]));
                }
                Err(err) => paywire_fuzz::check_error(&err),
            }
        }
    }
});
