//! The `POST /verify` body through full offline verification (`verify_json`):
//! - it never panics, and gives the same verdict twice;
//! - an invalid verdict always names a known reason and says why;
//! - a valid verdict holds only if an independent model agrees: schemes and
//!   networks match, the recipient is `payTo`, the times bracket `now`, the
//!   amount and token are the required ones, and the signature, parsed under
//!   Ethereum's rules and recovered with libsecp256k1, is the payer's;
//! - the verdict's JSON is a VerifyResponse saying the same;
//! - the same payment sent as a header (`verify_header`) gets the same verdict.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::evm::Address;
use paywire::evm::eip712::{self, Domain, X402_EXACT_PERMIT2_PROXY, X402_UPTO_PERMIT2_PROXY};
use paywire::header;
use paywire::json::{JsonStr, Limits, ToJson};
use paywire::network::V1_NETWORKS;
use paywire::types::FromJson;
use paywire::types::facilitator::{
    PaymentPayload, PaymentRequirements, VerifyRequest, VerifyResponse,
};
use paywire::types::payload::SchemePayload;
use paywire::verify::{ChainCheck, Config, Verdict, verify_header, verify_json};
use paywire::{Amount, Network};
use paywire_fuzz::NOW;
use paywire_fuzz::reference::{dec, dec_cmp, hex_bytes, recover_strict, same_address, str_at};
use serde_json::Value;

/// The facilitator addresses of the vectors' `upto` payments.
const FACILITATORS: [&str; 3] = [
    "0x5662a4802869C4A40Eeb8885cfB07aBc736Ce967",
    "0x328Db28D6D68752728fD7F408196528f00C2e771",
    "0xAb6aaf6f10A041DB40d8aeE1378E874e8256161e",
];

const BODY_LIMITS: Limits = Limits {
    max_len: 64 * 1024,
    max_depth: 32,
};

fn chain_id(network: &Network, v1: bool) -> u64 {
    let s = network.as_str();
    let caip = if v1 {
        V1_NETWORKS
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, c)| *c)
            .expect("a valid v1 payment names a known v1 network")
    } else {
        s
    };
    let id = caip
        .strip_prefix("eip155:")
        .expect("a valid payment is on an EVM network");
    id.parse().expect("a canonical chain id")
}

fn addr(s: JsonStr<'_>) -> Address {
    Address::parse(&s.to_cow()).expect("a valid payment has EVM addresses")
}

fn lt(a: &Amount, b: u64) -> bool {
    dec_cmp(&a.to_string(), &dec(b)).is_lt()
}
fn gt(a: &Amount, b: u64) -> bool {
    dec_cmp(&a.to_string(), &dec(b)).is_gt()
}

/// What a valid verdict implies, checked independently.
fn check_valid(
    req: &VerifyRequest<'_>,
    body: Option<&Value>,
    verdict: &Verdict,
    config: &Config<'_>,
) {
    let payer = verdict.payer.expect("a valid verdict names the payer");
    let r = &req.payment_requirements;
    let v1 = matches!(r, PaymentRequirements::V1(_));
    let (payload_json, acc_scheme, acc_network) = match &req.payment_payload {
        PaymentPayload::V1(p) => (p.payload_json(), p.scheme, p.network),
        PaymentPayload::V2(p) => (p.payload_json(), p.accepted.scheme, p.accepted.network),
    };
    assert!(acc_network == r.network(), "valid with different networks");
    let chain = chain_id(&r.network(), v1);
    let asset = addr(r.asset());
    let pay_to = addr(r.pay_to());
    let scheme_payload = SchemePayload::from_object(payload_json.expect("received JSON"))
        .expect("a valid payment has a scheme payload");
    let checks: Vec<ChainCheck> = verdict.chain_checks().collect();
    assert!(checks.contains(&ChainCheck::AssetIsContract { asset }));
    match scheme_payload {
        SchemePayload::Eip3009(e) => {
            let a = &e.authorization;
            assert!(
                r.scheme() == "exact" && acc_scheme == "exact",
                "EIP-3009 is exact only"
            );
            let extra = r.extra().expect("EIP-3009 needs extra");
            let (name, version) = (extra.name.expect("name"), extra.version.expect("version"));
            assert!(!name.is_empty() && !version.is_empty());
            let digest = eip712::eip3009_digest(&Domain::eip3009(name, version, chain, asset), a);
            let sig = hex_bytes(&e.signature.to_cow()).expect("hex");
            assert_eq!(
                recover_strict(&sig, &digest),
                Some(a.from.0),
                "signature is not the payer's"
            );
            assert_eq!(payer, a.from);
            assert_eq!(a.to, pay_to, "valid with another recipient");
            assert!(!lt(&a.valid_before, NOW + 6), "valid though expiring");
            assert!(!gt(&a.valid_after, NOW), "valid before validAfter");
            assert_eq!(a.value, r.amount(), "valid with another amount");
            assert!(checks.contains(&ChainCheck::Eip3009NonceUnused {
                asset,
                authorizer: a.from,
                nonce: a.nonce
            }));
            if let Some(b) = body {
                let from = str_at(b, &["paymentPayload", "payload", "authorization", "from"]);
                assert!(same_address(from.expect("from"), &payer.to_string()));
                let to = str_at(b, &["paymentPayload", "payload", "authorization", "to"]);
                let pt = str_at(b, &["paymentRequirements", "payTo"]);
                assert!(same_address(to.expect("to"), pt.expect("payTo")));
            }
        }
        SchemePayload::Permit2(p) => {
            let a = &p.authorization;
            let upto = r.scheme() == "upto";
            assert!(upto || r.scheme() == "exact");
            assert!(
                acc_scheme == r.scheme(),
                "valid with another accepted scheme"
            );
            assert!(!v1, "Permit2 is v2 only");
            let mut signed = *a;
            if upto {
                assert_eq!(a.spender, X402_UPTO_PERMIT2_PROXY);
                let f = a.witness.facilitator.expect("upto names the facilitator");
                assert!(config.facilitator_addresses.contains(&f));
            } else {
                assert_eq!(a.spender, X402_EXACT_PERMIT2_PROXY);
                // The exact proxy checks the exact witness: a facilitator is not part of it.
                signed.witness.facilitator = None;
            }
            assert_eq!(a.witness.to, pay_to, "valid with another recipient");
            assert!(!lt(&a.deadline, NOW + 6), "valid though expiring");
            assert!(!gt(&a.witness.valid_after, NOW), "valid before validAfter");
            assert_eq!(a.permitted.amount, r.amount(), "valid with another amount");
            assert_eq!(a.permitted.token, asset, "valid with another token");
            let digest = eip712::permit2_digest(chain, &signed);
            let sig = hex_bytes(&p.signature.to_cow()).expect("hex");
            assert_eq!(
                recover_strict(&sig, &digest),
                Some(a.from.0),
                "signature is not the payer's"
            );
            assert_eq!(payer, a.from);
        }
        SchemePayload::Batch(_) => panic!("batch-settlement has no offline EVM verdict"),
    }
}

fuzz_target!(|data: &[u8]| {
    let facilitators: Vec<Address> = FACILITATORS.iter().map(|a| a.parse().unwrap()).collect();
    let config = Config {
        facilitator_addresses: &facilitators,
        smart_wallets: false,
        erc20_approval_sponsoring: true,
    };
    let verdict = verify_json(data, NOW, &config);
    assert_eq!(
        verify_json(data, NOW, &config),
        verdict,
        "not deterministic"
    );

    // The verdict as a VerifyResponse.
    let json = paywire_fuzz::encode_checked(&verdict);
    let resp = VerifyResponse::from_json_bytes(&json, &Limits::DEFAULT).expect("a VerifyResponse");
    assert_eq!(resp.is_valid, verdict.is_valid());
    assert_eq!(
        resp.invalid_reason.map(|r| r.to_cow().into_owned()),
        verdict.reason.map(|r| r.as_str().to_owned())
    );
    // The payer: an EVM address, or a Solana one (base58) for `solana:*`.
    let payer = verdict
        .payer
        .map(|p| p.to_string())
        .or_else(|| verdict.svm_payer().map(|p| p.to_string()));
    assert_eq!(resp.payer.map(|p| p.to_cow().into_owned()), payer);

    let req = VerifyRequest::from_json_bytes(data, &BODY_LIMITS);
    match verdict.reason {
        Some(reason) => {
            assert!(!verdict.message.as_str().is_empty(), "{reason}: no message");
            assert_eq!(paywire::Reason::from_wire(reason.as_str()), Some(reason));
            assert_eq!(verdict.chain_checks().count(), 0);
            assert_eq!(verdict.svm_chain_checks().count(), 0);
        }
        // A valid Solana payment (the Solana verifier's own target,
        // `svm_verify`, checks it): its payer, and the four owed checks.
        None if verdict.svm_payer().is_some() => {
            assert_eq!(verdict.svm_chain_checks().count(), 4);
            assert_eq!(verdict.chain_checks().count(), 0);
        }
        None => {
            let req = req
                .as_ref()
                .expect("a valid verdict comes from a body that decodes");
            let body: Option<Value> = serde_json::from_slice(data).ok();
            check_valid(req, body.as_ref(), &verdict, &config);
        }
    }

    // The same payment as a header, with the requirements as JSON.
    if let Ok(req) = req {
        let value = header::encode_to_string(&req.payment_payload);
        let requirements = req.payment_requirements.to_json_vec();
        if header::base64_decoded_len(value.len()) <= header::DEFAULT_MAX_DECODED
            && requirements.len() <= Limits::DEFAULT.max_len
        {
            let mut scratch = vec![0u8; header::base64_decoded_len(value.len())];
            let h = verify_header(&value, &requirements, NOW, &config, &mut scratch);
            assert_eq!(
                h.reason, verdict.reason,
                "verify_header disagrees with verify_json"
            );
            assert_eq!(h.payer, verdict.payer);
            assert!(h.chain_checks().eq(verdict.chain_checks()));
        }
    }
});
