//! `exact` on Solana, hostile input:
//! - `svm::verify::verify_json` never panics and is deterministic; an invalid
//!   verdict names a reason of the scheme or a protocol reason;
//! - the input as the transaction's bytes (base64) inside a fixed envelope
//!   is judged the same way, and a valid verdict only for a transaction that
//!   decodes, is paid by the envelope's fee payer, carries the payer's valid
//!   Ed25519 signature, and transfers exactly the amount of the asset to the
//!   associated token account of `payTo`, with no fee payer in any
//!   instruction's accounts.
//!
//! Input: a `POST /verify` body, or wire transaction bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::json::ToJson;
use paywire::svm::tx::Transaction;
use paywire::svm::verify::{Config, Verdict, verify_json};
use paywire::svm::{Pubkey, SvmReason, associated_token_address};

const REQUIREMENTS: &str = r#"{"scheme":"exact","network":"solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1","amount":"1000","asset":"4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU","payTo":"En1dx9bUjczzJkQds2WbBD945oQkWKvFVRRCzQEvSvSG","maxTimeoutSeconds":60,"extra":{"feePayer":"96jgpaHSdAiGufjzHYDiAyhdD9UFwJmFdmmawdPoVX3D"}}"#;

fn judge(body: &[u8]) -> Verdict {
    let config = Config::default();
    let a = verify_json(body, &config);
    assert_eq!(a, verify_json(body, &config), "verify is deterministic");
    let _ = a.to_json_vec();
    if let Verdict::Invalid { reason, .. } = a {
        let s = reason.as_str();
        assert!(
            SvmReason::from_wire(s).is_some() || s.starts_with("invalid_"),
            "unknown reason {s}"
        );
    }
    a
}

fuzz_target!(|data: &[u8]| {
    judge(data);

    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let body = format!(
        r#"{{"paymentPayload":{{"x402Version":2,"accepted":{REQUIREMENTS},"payload":{{"transaction":"{b64}"}}}},"paymentRequirements":{REQUIREMENTS}}}"#
    );
    let Verdict::Valid {
        payer,
        fee_payer,
        transfer,
        ..
    } = judge(body.as_bytes())
    else {
        return;
    };
    let tx = Transaction::decode(data).expect("a valid payment decodes");
    let expected_fee_payer = Pubkey::parse("96jgpaHSdAiGufjzHYDiAyhdD9UFwJmFdmmawdPoVX3D").unwrap();
    assert_eq!(fee_payer, expected_fee_payer);
    assert_eq!(tx.fee_payer(), expected_fee_payer);
    assert_eq!(payer, transfer.authority);
    assert_eq!(transfer.amount, 1000);
    let mint = Pubkey::parse("4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU").unwrap();
    let pay_to = Pubkey::parse("En1dx9bUjczzJkQds2WbBD945oQkWKvFVRRCzQEvSvSG").unwrap();
    assert_eq!(transfer.mint, mint);
    assert_eq!(
        transfer.destination,
        associated_token_address(&pay_to, &mint, &transfer.program)
    );
    let i = tx
        .keys()
        .position(|k| k == payer)
        .expect("the payer is a key");
    assert!(tx.is_signer(i) && i > 0);
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&payer.0).expect("a public key");
    let sig = ed25519_dalek::Signature::from_bytes(tx.signature(i).expect("its signature"));
    assert!(vk.verify_strict(tx.message_bytes(), &sig).is_ok());
    assert!(tx.instructions().all(|ix| !ix.accounts.contains(&0)));
});
