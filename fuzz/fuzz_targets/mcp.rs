//! The MCP helpers on any JSON object: `mcp::read_payment_required` (a paid
//! tool's result), `payment_from_meta` and `payment_response_from_meta` (the
//! `_meta` members). What they read, written back as a tool result or a `_meta`
//! object (`PaymentRequiredResult`, `Meta`), is read again as the same
//! document, through `structuredContent` and through the text fallback alike.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::json::{self, Limits, ToJson};
use paywire::mcp::{
    self, Meta, PAYMENT_META_KEY, PAYMENT_RESPONSE_META_KEY, PaymentRequiredResult,
};

/// A text-only tool result: the `content` of `result`, without `structuredContent`.
fn text_only(result: &[u8]) -> Vec<u8> {
    let v = json::parse(result, &paywire_fuzz::WIDE).expect("written by the crate");
    let o = v.as_object().expect("an object");
    let mut out = b"{".to_vec();
    let mut first = true;
    for (k, m) in o.members() {
        if k == "structuredContent" {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        json::write_escaped(&mut out, k).unwrap();
        out.push(b':');
        json::write_compact(&mut out, m).unwrap();
    }
    out.push(b'}');
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = json::parse(data, &Limits::DEFAULT) else {
        return;
    };
    let Some(obj) = v.as_object() else {
        return;
    };

    let mut buf = vec![0u8; data.len()];
    match mcp::read_payment_required(obj, &mut buf) {
        Err(e) => paywire_fuzz::check_error(&e),
        Ok(pr) => {
            let doc = paywire_fuzz::encode_checked(&pr);
            let result = paywire_fuzz::encode_checked(&PaymentRequiredResult {
                payment_required: &pr,
            });
            // Through structuredContent.
            let rv = json::parse(&result, &paywire_fuzz::WIDE).expect("strict JSON");
            let mut buf2 = vec![0u8; result.len()];
            let back = mcp::read_payment_required(rv.as_object().unwrap(), &mut buf2)
                .unwrap_or_else(|e| panic!("own tool result refused: {e}"));
            assert_eq!(back.to_json_vec(), doc, "structuredContent round trip");
            // Through the text of content[0].
            let text = text_only(&result);
            let tv = json::parse(&text, &paywire_fuzz::WIDE).expect("strict JSON");
            let mut buf3 = vec![0u8; text.len()];
            let back = mcp::read_payment_required(tv.as_object().unwrap(), &mut buf3)
                .unwrap_or_else(|e| panic!("own tool result text refused: {e}"));
            assert_eq!(back.to_json_vec(), doc, "content text round trip");
        }
    }

    match mcp::payment_from_meta(obj) {
        Err(e) => paywire_fuzz::check_error(&e),
        Ok(p) => {
            let doc = paywire_fuzz::encode_checked(&p);
            let meta = paywire_fuzz::encode_checked(&Meta {
                key: PAYMENT_META_KEY,
                value: &p,
            });
            let mv = json::parse(&meta, &paywire_fuzz::WIDE).expect("strict JSON");
            let back = mcp::payment_from_meta(mv.as_object().unwrap()).expect("own _meta");
            assert_eq!(back.to_json_vec(), doc);
        }
    }

    match mcp::payment_response_from_meta(obj) {
        Err(e) => paywire_fuzz::check_error(&e),
        Ok(r) => {
            let doc = paywire_fuzz::encode_checked(&r);
            let meta = paywire_fuzz::encode_checked(&Meta {
                key: PAYMENT_RESPONSE_META_KEY,
                value: &r,
            });
            let mv = json::parse(&meta, &paywire_fuzz::WIDE).expect("strict JSON");
            let back = mcp::payment_response_from_meta(mv.as_object().unwrap()).expect("own _meta");
            assert_eq!(back.to_json_vec(), doc);
        }
    }
});
