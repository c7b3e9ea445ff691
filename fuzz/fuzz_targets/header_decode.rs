//! Every header kind (v2 `PAYMENT-REQUIRED`, `PAYMENT-SIGNATURE`,
//! `PAYMENT-RESPONSE`; v1 `X-PAYMENT`, `X-PAYMENT-RESPONSE`) decoded from the same
//! value:
//! - base64 is canonical: whatever decodes re-encodes to the same text;
//! - a decoded header re-encodes (`header::encode`) to a value that decodes as
//!   the same kind to the same document, and is a fixed point; with no `null` in
//!   the document, it is the base64 of the document's compact form;
//! - the same JSON read through `decode_json` and `decode_any` gives the same
//!   document; rejections carry the kind's reason (or the version's, the network's);
//! - a scratch buffer of `base64_decoded_len` always suffices; a smaller one is
//!   an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::Reason;
use paywire::header::{self, Decoded, HeaderKind};
use paywire::json::{self, Limits};

fn b64(bytes: &[u8]) -> String {
    let mut out = vec![0u8; header::base64_encoded_len(bytes.len())];
    let n = header::base64_encode(bytes, &mut out).expect("exact buffer");
    assert_eq!(n, out.len());
    String::from_utf8(out).expect("base64 is ASCII")
}

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    let value: &str = &value;
    let trimmed = value.trim_matches(|c| c == ' ' || c == '\t');

    // Base64 alone.
    let mut raw = vec![0u8; header::base64_decoded_len(data.len())];
    if let Ok(n) = header::base64_decode(data, &mut raw) {
        assert_eq!(b64(&raw[..n]).as_bytes(), data, "base64 is not canonical");
    }

    let scratch_len = header::base64_decoded_len(value.len());
    let json_limits = Limits {
        max_len: header::DEFAULT_MAX_DECODED,
        ..Limits::DEFAULT
    };
    for kind in HeaderKind::ALL {
        let mut buf = vec![0u8; scratch_len];
        let decoded = match header::decode(kind, value, &mut buf) {
            Ok(d) => d,
            Err(e) => {
                paywire_fuzz::check_error(&e);
                let r = e.reason();
                assert!(
                    r == kind.reason()
                        || r == Reason::InvalidX402Version
                        || r == Reason::InvalidNetwork,
                    "{}: unexpected reason {r}",
                    kind.name()
                );
                // A short scratch buffer fails the same way or for its size.
                let mut small = vec![0u8; scratch_len / 2];
                let _ = header::decode(kind, value, &mut small);
                continue;
            }
        };
        match (kind, &decoded) {
            (HeaderKind::PaymentRequired, Decoded::PaymentRequired(_))
            | (
                HeaderKind::PaymentResponse | HeaderKind::XPaymentResponse,
                Decoded::SettleResponse(_),
            ) => {}
            (HeaderKind::PaymentSignature | HeaderKind::XPayment, Decoded::PaymentPayload(_)) => {
                assert_eq!(
                    decoded.kind(),
                    kind,
                    "payload version differs from the header's"
                );
            }
            _ => panic!("{} decoded as {:?}", kind.name(), decoded.kind()),
        }
        let json_doc = paywire_fuzz::encode_checked(&decoded);
        let enc = {
            let mut out = vec![0u8; header::encoded_len(&decoded)];
            let n = header::encode(&decoded, &mut out).expect("encoded_len suffices");
            assert_eq!(n, out.len());
            if let Some(short) = n.checked_sub(1) {
                let err = header::encode(&decoded, &mut vec![0u8; short]).expect_err("short");
                assert_eq!(err.needed, n);
            }
            String::from_utf8(out).expect("ASCII")
        };
        assert_eq!(enc, header::encode_to_string(&decoded));
        assert_eq!(
            enc,
            b64(&json_doc),
            "header value is not the base64 of the JSON"
        );

        // decode -> encode -> decode.
        let mut buf2 = vec![0u8; header::base64_decoded_len(enc.len())];
        let again = header::decode(kind, &enc, &mut buf2)
            .unwrap_or_else(|e| panic!("{}: re-encoded header refused: {e}", kind.name()));
        assert_eq!(header::encode_to_string(&again), enc, "not a fixed point");

        // The same JSON, read without base64.
        let mut buf3 = vec![0u8; scratch_len];
        let raw_json =
            header::decode_to_json(value, &mut buf3, header::DEFAULT_MAX_DECODED, kind.reason())
                .expect("decoded once already");
        assert_eq!(raw_json, b64_decode(trimmed));
        let direct = header::decode_json(kind, raw_json).expect("decode_json agrees with decode");
        assert_eq!(header::encode_to_string(&direct), enc);
        let compact = paywire_fuzz::compact(raw_json, &json_limits).expect("strict JSON");
        let parsed = json::parse(&compact, &json_limits).expect("compact parses");
        if !paywire_fuzz::has_null(parsed) {
            assert_eq!(
                json_doc,
                compact,
                "{}: re-encoding lost or changed something",
                kind.name()
            );
        }

        // Kind-blind decoding reads the same document (when the shape is unambiguous).
        let mut buf4 = vec![0u8; scratch_len];
        if let Ok(any) = header::decode_any(value, &mut buf4) {
            if std::mem::discriminant(&any) == std::mem::discriminant(&decoded) {
                assert_eq!(header::encode_to_string(&any), enc);
            }
        }
        // The owned document reads the same JSON.
        let doc = paywire::types::Document::from_header(value).expect("decoded already");
        assert_eq!(doc.json(), raw_json);
    }
});

fn b64_decode(s: &str) -> Vec<u8> {
    let mut out = vec![0u8; header::base64_decoded_len(s.len())];
    let n = header::base64_decode(s.as_bytes(), &mut out).expect("decoded already");
    out.truncate(n);
    out
}
