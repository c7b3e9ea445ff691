//! The paying side on any 402 (JSON body or `PAYMENT-REQUIRED` value):
//! whatever `client::create_payment` produces is a header of the announced kind
//! that the verifier accepts against the requirement the client chose, from the
//! client's own address; what the client refuses carries a reason.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::client::{self, Policy, create_payment};
use paywire::evm::PrivateKey;
use paywire::header;
use paywire::json::ToJson;
use paywire::types::facilitator::{PaymentRequired, PaymentRequirements};
use paywire::verify::{Config, verify_header};
use paywire::{Reason, verify};
use paywire_fuzz::NOW;

fuzz_target!(|data: &[u8]| {
    let key = PrivateKey::from_bytes(&[0x11; 32]).unwrap();
    let policy = Policy {
        allow_upto: true,
        ..Policy::default()
    };
    let mut out = vec![0u8; 64 * 1024];
    let created = match create_payment(data, &key, [0x22; 32], NOW, &policy, &mut out) {
        Ok(c) => c,
        Err(e) => {
            paywire_fuzz::check_error(&e);
            return;
        }
    };
    assert_eq!(created.payer, key.address());
    let value = std::str::from_utf8(&out[..created.len]).expect("a header value is ASCII");
    if header::base64_decoded_len(value.len()) > header::DEFAULT_MAX_DECODED {
        // The echoed resource and extensions made it larger than a header may be.
        return;
    }
    let mut buf = vec![0u8; header::base64_decoded_len(value.len())];
    header::decode(created.header, value, &mut buf)
        .unwrap_or_else(|e| panic!("the created header does not decode: {e}"));

    // The requirement the client chose, as the server holds it.
    let mut scratch = vec![0u8; header::DEFAULT_MAX_DECODED];
    let pr = client::read_payment_required(data, &mut scratch).expect("read once already");
    let req = match pr {
        PaymentRequired::V1(p) => p.accepts.get(created.index).map(PaymentRequirements::V1),
        PaymentRequired::V2(p) => p.accepts.get(created.index).map(PaymentRequirements::V2),
    }
    .expect("the chosen index is in accepts");
    let requirements = req.to_json_vec();
    let facilitators: Vec<_> = req
        .extra()
        .and_then(|e| e.facilitator_evm_address().ok())
        .into_iter()
        .collect();
    let config = Config {
        facilitator_addresses: &facilitators,
        smart_wallets: false,
        erc20_approval_sponsoring: false,
    };
    let mut scratch = vec![0u8; header::base64_decoded_len(value.len())];
    let verdict = verify_header(value, &requirements, NOW, &config, &mut scratch);
    if req.max_timeout_seconds() < verify::EXPIRY_MARGIN_SECONDS {
        // The server allows less time than a facilitator needs.
        let r = verdict.reason.expect("expires too soon");
        assert!(
            r == Reason::ExactEvmValidBefore || r == Reason::Permit2DeadlineExpired,
            "{r}"
        );
        return;
    }
    assert!(
        verdict.is_valid(),
        "the client made a payment the verifier refuses: {verdict:?}\nrequirements: {}",
        String::from_utf8_lossy(&requirements)
    );
    assert_eq!(verdict.payer, Some(key.address()));
});
