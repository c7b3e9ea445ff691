//! The `Signature-Input` member (an RFC 8941 inner list with parameters) and the
//! RFC 9421 signature base built from it over a request, from JSON
//! `{"message": {"method", "url", "headers": [[name, value], ...]},
//!   "signatureParams": "(...);created=...", "signatureInput"?: "sig1=(...)..."}`:
//! - never panics; a refusal names the component at fault;
//! - a base has one line per covered component, each starting with the
//!   component's canonical identifier, and ends with `"@signature-params": `
//!   and the canonical serialization of the inner list;
//! - the base is the same through a growing `Vec` and an exact fixed buffer, a
//!   buffer one byte short is refused, and building it twice gives the same bytes;
//! - each inner-list member of a whole `Signature-Input` dictionary gives the
//!   same base as the member on its own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::batch::sfv::{self, Dictionary, InnerList, Limits};
use paywire::batch::signature_base::{BaseError, Message, Request, write_signature_base};
use paywire::json::{Counter, SliceSink};
use serde_json::Value;

fn base(msg: &Message<'_>, list: &InnerList<'_>) -> Result<Vec<u8>, BaseError> {
    let mut out = Vec::new();
    write_signature_base(msg, list, &mut out)?;
    Ok(out)
}

fn check(msg: &Message<'_>, list: &InnerList<'_>) -> Option<Vec<u8>> {
    let b = match base(msg, list) {
        Ok(b) => b,
        Err(e) => {
            assert!(matches!(e, BaseError::Component { .. }), "{e}");
            if let BaseError::Component { index, .. } = e {
                assert!(
                    index < list.len(),
                    "error names component {index} of {}",
                    list.len()
                );
            }
            assert_eq!(base(msg, list), Err(e), "not deterministic");
            return None;
        }
    };
    assert_eq!(base(msg, list).as_ref(), Ok(&b), "not deterministic");
    let mut count = Counter(0);
    write_signature_base(msg, list, &mut count).expect("counts as it writes");
    assert_eq!(count.0, b.len());
    let mut exact = vec![0u8; b.len()];
    let mut sink = SliceSink::new(&mut exact);
    write_signature_base(msg, list, &mut sink).expect("exact buffer");
    assert_eq!(exact, b);
    if let Some(short) = b.len().checked_sub(1) {
        let mut small = vec![0u8; short];
        let mut sink = SliceSink::new(&mut small);
        assert_eq!(
            write_signature_base(msg, list, &mut sink),
            Err(BaseError::SinkFull)
        );
    }
    // Structure: one line per component, then the parameters line.
    let text = String::from_utf8(b.clone()).expect("a base is text");
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines.len(), list.len() + 1, "{text:?}");
    for (line, item) in lines.iter().zip(list.iter()) {
        let mut id = Vec::new();
        item.serialize(&mut id).unwrap();
        let id = String::from_utf8(id).unwrap();
        assert!(line.starts_with(&format!("{id}: ")), "{line:?} for {id}");
    }
    let mut params = Vec::new();
    list.serialize(&mut params).unwrap();
    assert_eq!(
        *lines.last().unwrap(),
        format!(
            "\"@signature-params\": {}",
            String::from_utf8(params).unwrap()
        )
    );
    Some(b)
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let m = &v["message"];
    let (Some(method), Some(url)) = (m["method"].as_str(), m["url"].as_str()) else {
        return;
    };
    let headers: Vec<(&str, &str)> = m["headers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|h| Some((h.get(0)?.as_str()?, h.get(1)?.as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    let req = Request {
        method,
        url,
        headers: &headers,
    };
    let msg = Message::Request(req);
    if let Some(p) = v["signatureParams"].as_str() {
        if let Ok(list) = sfv::parse_inner_list(p, &Limits::DEFAULT) {
            check(&msg, &list);
        }
    }
    if let Some(input) = v["signatureInput"].as_str() {
        if let Ok(d) = Dictionary::parse(input, &Limits::DEFAULT) {
            for (label, member) in d.iter() {
                let Some(list) = member.as_inner_list() else {
                    continue;
                };
                let alone = check(&msg, &list);
                let mut text = Vec::new();
                list.serialize(&mut text).unwrap();
                let text = String::from_utf8(text).unwrap();
                let reparsed = sfv::parse_inner_list(&text, &Limits::DEFAULT)
                    .unwrap_or_else(|e| panic!("member {label} does not reparse: {e}"));
                assert_eq!(check(&msg, &reparsed), alone, "member {label}");
            }
        }
    }
});
