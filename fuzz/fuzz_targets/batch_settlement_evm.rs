//! `batch-settlement` on EVM, hostile input:
//! - `BatchPayload::from_json_bytes` never panics; what it reads, written
//!   back, reads again the same (a fixed point after one write);
//! - `verify::verify_json` never panics and is deterministic; an invalid
//!   verdict names a reason of the scheme or a protocol reason; a valid verdict
//!   only for a payload whose channel config hashes to its voucher's channel id
//!   and whose voucher was signed by the config's authorizer (or the payer);
//! - the input as a payload inside a fixed, valid envelope is judged the same
//!   way.
//!
//! Input: a `POST /verify` body, or a payload object.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::evm::batch_settlement::types::BatchPayload;
use paywire::evm::batch_settlement::verify::{ChainFacts, Config, Verdict, verify_json};
use paywire::evm::batch_settlement::{BatchReason, channel_id, voucher_digest};
use paywire::evm::{Address, Signature};
use paywire::json::{Limits, ToJson};

const ENVELOPE_HEAD: &str = r#"{"paymentPayload":{"x402Version":2,"accepted":{"scheme":"batch-settlement","network":"eip155:8453","amount":"1000","asset":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":300,"extra":{"name":"USD Coin","version":"2","receiverAuthorizer":"0x1111111111111111111111111111111111111111","withdrawDelay":900}},"payload":"#;
const ENVELOPE_TAIL: &str = r#"},"paymentRequirements":{"scheme":"batch-settlement","network":"eip155:8453","amount":"1000","asset":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":300,"extra":{"name":"USD Coin","version":"2","receiverAuthorizer":"0x1111111111111111111111111111111111111111","withdrawDelay":900}}}"#;

fn judge(body: &[u8]) {
    let facts = ChainFacts::default();
    let config = Config::default();
    let a = verify_json(body, 1_750_000_000, &facts, &config);
    let b = verify_json(body, 1_750_000_000, &facts, &config);
    assert_eq!(a, b, "verify is deterministic");
    let _ = a.to_json_vec();
    match a {
        Verdict::Invalid { reason, .. } => {
            let s = reason.as_str();
            assert!(
                BatchReason::from_wire(s).is_some() || s.starts_with("invalid_"),
                "unknown reason {s}"
            );
        }
        Verdict::Valid { channel_id: id, .. } => {
            // Re-read the payload independently and check the bindings.
            let v = paywire::json::parse(body, &Limits::DEFAULT).expect("a valid body parses");
            let p = v
                .as_object()
                .and_then(|o| o.get("paymentPayload"))
                .and_then(|p| p.as_object())
                .and_then(|p| p.get("payload"))
                .expect("a payload");
            let payload = BatchPayload::from_json(p).expect("a valid payload reads");
            let cc = payload.channel_config();
            assert_eq!(channel_id(cc, 8453), id, "the channel id binds the config");
            let voucher = payload.voucher();
            let signer = if cc.payer_authorizer == Address([0; 20]) {
                cc.payer
            } else {
                cc.payer_authorizer
            };
            let digest = voucher_digest(8453, &id, &voucher.max_claimable_amount);
            let sig = Signature::parse_hex(voucher.signature).expect("65-byte signature");
            assert_eq!(sig.recover(&digest), Ok(signer), "the voucher's signer");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = BatchPayload::from_json_bytes(data, &Limits::DEFAULT) {
        let once = p.to_json_vec();
        let again = BatchPayload::from_json_bytes(&once, &Limits::DEFAULT)
            .expect("what was written reads again");
        assert_eq!(again.to_json_vec(), once, "write is a fixed point");
        assert_eq!(again.kind(), p.kind());
        assert_eq!(again.channel_config(), p.channel_config());
    }
    judge(data);
    if data.len() < 8192 {
        let mut body = Vec::with_capacity(data.len() + 1024);
        body.extend_from_slice(ENVELOPE_HEAD.as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(ENVELOPE_TAIL.as_bytes());
        judge(&body);
    }
});
