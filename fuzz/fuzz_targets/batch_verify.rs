//! `batch-settlement` verification from JSON (`verify_batch_settlement_json`,
//! the entry point of the bindings): never panics; the answer is strict JSON
//! holding a VerifyResponse with a known reason when invalid; a valid verdict
//! comes with a `PAYMENT-RESPONSE` value that decodes, and only for a request
//! that carries exactly one `PAYMENT-SIGNATURE` and one `Signature-Agent`, and
//! a `Signature-Input` tagged `web-bot-auth` covering `@authority`,
//! `signature-agent` and `payment-signature`, valid at `now`; answering twice
//! gives the same answer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::Reason;
use paywire::batch::sfv::{Dictionary, Limits};
use paywire::batch::verify_batch_settlement_json;
use paywire::header;
use paywire::json;
use paywire::types::FromJson;
use paywire::types::facilitator::VerifyResponse;
use serde_json::Value;

fn headers<'a>(v: &'a Value, name: &str) -> Vec<&'a str> {
    v["request"]["headers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|h| h[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
                .filter_map(|h| h[1].as_str())
                .collect()
        })
        .unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    let out = match verify_batch_settlement_json(data) {
        Ok(out) => out,
        Err(e) => {
            paywire_fuzz::check_error(&e);
            assert_eq!(verify_batch_settlement_json(data).err(), Some(e));
            return;
        }
    };
    assert_eq!(
        verify_batch_settlement_json(data).ok().as_ref(),
        Some(&out),
        "not deterministic"
    );
    let v = json::parse(out.as_bytes(), &paywire_fuzz::WIDE).expect("the answer is strict JSON");
    let o = v.as_object().expect("an object");
    let verdict =
        VerifyResponse::from_json(o.get("verdict").expect("a verdict")).expect("a VerifyResponse");
    let response = o.get("paymentResponse");
    if !verdict.is_valid {
        let r = verdict
            .invalid_reason
            .expect("an invalid verdict names its reason");
        assert!(
            Reason::from_wire(&r.to_cow()).is_some(),
            "unknown reason {r}"
        );
        assert!(response.is_none());
        return;
    }
    // Valid: what must then hold of the request.
    let value = response
        .and_then(|r| r.as_str())
        .expect("a PAYMENT-RESPONSE value");
    let decoded = header::decode_to_vec(&value.to_cow(), header::DEFAULT_MAX_DECODED)
        .expect("the PAYMENT-RESPONSE value decodes");
    json::parse(&decoded, &json::Limits::DEFAULT).expect("and holds JSON");
    let input: Value = serde_json::from_slice(data).expect("accepted input is JSON");
    assert_eq!(headers(&input, "payment-signature").len(), 1);
    assert_eq!(headers(&input, "signature-agent").len(), 1);
    let now = input["now"].as_u64().expect("now");
    let inputs = headers(&input, "signature-input");
    let joined = inputs.join(", ");
    let d = Dictionary::parse(&joined, &Limits::DEFAULT).expect("Signature-Input parses");
    let ok = d.iter().any(|(_, m)| {
        let Some(l) = m.as_inner_list() else {
            return false;
        };
        let p = l.params;
        let tagged = p
            .get("tag")
            .and_then(|t| t.as_string())
            .is_some_and(|t| t.eq_str("web-bot-auth"));
        let covers = |c: &str| {
            l.iter()
                .any(|i| i.bare.as_string().is_some_and(|s| s.eq_str(c)))
        };
        let created = p.get("created").and_then(|c| c.as_integer());
        let expires = p.get("expires").and_then(|c| c.as_integer());
        let in_time = expires.is_none_or(|e| i128::from(e) >= i128::from(now))
            && created.is_some_and(|c| c >= 0);
        tagged
            && covers("@authority")
            && covers("signature-agent")
            && covers("payment-signature")
            && in_time
    });
    assert!(
        ok,
        "valid without a web-bot-auth signature covering what it must: {joined}"
    );
});
