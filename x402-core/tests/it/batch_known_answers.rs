//! Known answers for HTTP Message Signatures: RFC 9421's examples (signature
//! bases byte for byte, its Ed25519 test key and signatures), the Web Bot Auth
//! draft's Ed25519 vectors, and the component examples of RFC 9421 §2.
#![cfg(feature = "batch")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use paywire::batch::directory::{Directory, thumbprint};
use paywire::batch::ed25519::{PublicKey, SigningKey};
use paywire::batch::sfv::{Dictionary, Limits, parse_inner_list};
use paywire::batch::signature_base::{BaseError, Message, Request, Response, write_signature_base};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/vectors/batch/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn b64url(s: &str) -> Vec<u8> {
    let mut bits = 0u32;
    let mut acc = 0u32;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => panic!("not base64url"),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn b64(s: &str) -> Vec<u8> {
    let mut out = vec![0u8; s.len()];
    let n = paywire::header::base64_decode(s.as_bytes(), &mut out).unwrap();
    out.truncate(n);
    out
}

fn test_key() -> SigningKey {
    let d: [u8; 32] = b64url("n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU")
        .try_into()
        .unwrap();
    SigningKey::from_seed(&d)
}

#[test]
fn rfc9421_ed25519_test_key() {
    let doc = load("rfc9421.json");
    let k = &doc["keys"]["test-key-ed25519"];
    let key = test_key();
    let x = b64url(k["x"].as_str().unwrap());
    assert_eq!(key.public_key().as_bytes().as_slice(), x.as_slice());
    // The PEM forms of B.1.4 end with the same 32-byte seed and public key.
    let pkcs8 = b64(k["privateKeyPem"].as_str().unwrap());
    assert_eq!(&pkcs8[pkcs8.len() - 32..], key.seed().as_slice());
    let spki = b64(k["publicKeyPem"].as_str().unwrap());
    assert_eq!(&spki[spki.len() - 32..], x.as_slice());
    assert_eq!(
        thumbprint(&key.public_key()).as_str(),
        k["thumbprint"].as_str().unwrap()
    );
}

struct Owned {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
}

fn owned_request(v: &Value) -> Owned {
    Owned {
        method: v["method"].as_str().unwrap().to_string(),
        url: v["url"].as_str().unwrap().to_string(),
        headers: v["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h[0].as_str().unwrap().to_string(),
                    h[1].as_str().unwrap().to_string(),
                )
            })
            .collect(),
    }
}

fn header_refs(h: &[(String, String)]) -> Vec<(&str, &str)> {
    h.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

/// Builds the base for a vector's message (request, response, or response with its request).
fn base_for(message: &Value, params: &str) -> Result<Vec<u8>, BaseError> {
    let list = parse_inner_list(params, &Limits::DEFAULT).unwrap();
    let mut out = Vec::new();
    if message.get("method").is_some() {
        let o = owned_request(message);
        let h = header_refs(&o.headers);
        let req = Request {
            method: &o.method,
            url: &o.url,
            headers: &h,
        };
        write_signature_base(&Message::Request(req), &list, &mut out)?;
    } else {
        let (resp_v, req_v) = match message.get("response") {
            Some(r) => (r, message.get("request")),
            None => (message, None),
        };
        let rh: Vec<(String, String)> = resp_v["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h[0].as_str().unwrap().into(), h[1].as_str().unwrap().into()))
            .collect();
        let rh = header_refs(&rh);
        let q = req_v.map(owned_request);
        let qh = q.as_ref().map(|q| header_refs(&q.headers));
        let request = q.as_ref().map(|q| Request {
            method: &q.method,
            url: &q.url,
            headers: qh.as_deref().unwrap(),
        });
        let resp = Response {
            status: resp_v["status"].as_u64().unwrap() as u16,
            headers: &rh,
            request,
        };
        write_signature_base(&Message::Response(resp), &list, &mut out)?;
    }
    Ok(out)
}

#[test]
fn rfc9421_signature_bases_byte_for_byte() {
    let doc = load("rfc9421.json");
    let mut n = 0;
    for v in doc["vectors"].as_array().unwrap() {
        let Some(base) = v.get("base") else { continue };
        let got = base_for(&v["message"], v["signatureParams"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", v["name"]));
        assert_eq!(
            String::from_utf8(got).unwrap(),
            base.as_str().unwrap(),
            "{}",
            v["name"]
        );
        n += 1;
    }
    assert_eq!(n, 11);
}

#[test]
fn rfc9421_ed25519_signatures() {
    let doc = load("rfc9421.json");
    let key = test_key();
    let mut n = 0;
    for v in doc["vectors"].as_array().unwrap() {
        let Some(sig) = v.get("signature") else {
            continue;
        };
        let name = v["name"].as_str().unwrap();
        let base = base_for(&v["message"], v["signatureParams"].as_str().unwrap()).unwrap();
        let member = sig.as_str().unwrap();
        let dict = Dictionary::parse(member, &Limits::DEFAULT).unwrap();
        let (_, value) = dict.iter().next().unwrap();
        let bytes: [u8; 64] = value
            .as_item()
            .unwrap()
            .bare
            .as_byte_seq()
            .unwrap()
            .decode_array()
            .unwrap();
        let ok = key.public_key().verify(&base, &bytes).is_ok();
        assert_eq!(ok, v["valid"].as_bool().unwrap(), "{name}");
        if ok {
            // Ed25519 is deterministic: signing the same base gives the RFC's bytes.
            assert_eq!(key.sign(&base), bytes, "{name}");
        }
        n += 1;
    }
    assert_eq!(n, 7);
}

#[test]
fn web_bot_auth_draft_vectors() {
    let doc = load("web-bot-auth-draft.json");
    let key = test_key();
    let dir_json = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"}]}"#;
    let dir = Directory::parse(dir_json).unwrap();
    for v in doc["vectors"].as_array().unwrap() {
        let label = v["label"].as_str().unwrap();
        let mut headers = vec![];
        if let Some(a) = v.get("signature_agent") {
            headers.push(("Signature-Agent", a.as_str().unwrap()));
        }
        headers.push(("Signature-Input", v["signature_input"].as_str().unwrap()));
        headers.push(("Signature", v["signature"].as_str().unwrap()));
        let req = Request {
            method: "GET",
            url: v["target_url"].as_str().unwrap(),
            headers: &headers,
        };
        let input = Dictionary::parse(v["signature_input"].as_str().unwrap(), &Limits::DEFAULT)
            .unwrap()
            .get(label)
            .unwrap()
            .as_inner_list()
            .unwrap();
        let keyid = input.params.get("keyid").unwrap().as_string().unwrap();
        let pk = dir
            .find(keyid.as_plain().unwrap())
            .expect("keyid is the thumbprint");
        assert_eq!(pk, key.public_key());
        let mut base = Vec::new();
        write_signature_base(&Message::Request(req), &input, &mut base).unwrap();
        let sig: [u8; 64] = Dictionary::parse(v["signature"].as_str().unwrap(), &Limits::DEFAULT)
            .unwrap()
            .get(label)
            .unwrap()
            .as_item()
            .unwrap()
            .bare
            .as_byte_seq()
            .unwrap()
            .decode_array()
            .unwrap();
        pk.verify(&base, &sig).unwrap();
        assert_eq!(key.sign(&base), sig);
    }
    assert_eq!(doc["vectors"].as_array().unwrap().len(), 4);
}

fn base_lines(req: Request<'_>, params: &str) -> Result<String, BaseError> {
    let list = parse_inner_list(params, &Limits::DEFAULT).unwrap();
    let mut out = Vec::new();
    write_signature_base(&Message::Request(req), &list, &mut out)?;
    let s = String::from_utf8(out).unwrap();
    Ok(s.rsplit_once('\n')
        .map(|(a, _)| a.to_string())
        .unwrap_or_default())
}

#[test]
fn rfc9421_section_2_1_field_examples() {
    let headers = [
        ("Host", "www.example.com"),
        ("Date", "Tue, 20 Apr 2021 02:07:56 GMT"),
        ("X-OWS-Header", "   Leading and trailing whitespace.   "),
        ("X-Obs-Fold-Header", "Obsolete\r\n    line folding."),
        ("Cache-Control", "max-age=60"),
        ("Cache-Control", "   must-revalidate"),
        ("Example-Dict", " a=1,    b=2;x=1;y=2,   c=(a   b   c)"),
        ("X-Empty-Header", " "),
    ];
    let req = Request {
        method: "GET",
        url: "https://www.example.com/",
        headers: &headers,
    };
    let got = base_lines(
        req,
        r#"("host" "date" "x-ows-header" "x-obs-fold-header" "cache-control" "example-dict" "x-empty-header")"#,
    )
    .unwrap();
    assert_eq!(
        got,
        "\"host\": www.example.com\n\
         \"date\": Tue, 20 Apr 2021 02:07:56 GMT\n\
         \"x-ows-header\": Leading and trailing whitespace.\n\
         \"x-obs-fold-header\": Obsolete line folding.\n\
         \"cache-control\": max-age=60, must-revalidate\n\
         \"example-dict\": a=1,    b=2;x=1;y=2,   c=(a   b   c)\n\
         \"x-empty-header\": "
    );
}

#[test]
fn rfc9421_dictionary_member_and_byte_sequence_examples() {
    let headers = [("Example-Dict", "  a=1, b=2;x=1;y=2, c=(a   b    c), d")];
    let req = Request {
        method: "GET",
        url: "https://www.example.com/",
        headers: &headers,
    };
    let got = base_lines(
        req,
        r#"("example-dict";key="a" "example-dict";key="d" "example-dict";key="b" "example-dict";key="c")"#,
    )
    .unwrap();
    assert_eq!(
        got,
        "\"example-dict\";key=\"a\": 1\n\"example-dict\";key=\"d\": ?1\n\"example-dict\";key=\"b\": 2;x=1;y=2\n\"example-dict\";key=\"c\": (a b c)"
    );
    assert!(base_lines(req, r#"("example-dict";key="zz")"#).is_err());

    let two = [
        ("Example-Header", "value, with, lots"),
        ("Example-Header", "of, commas"),
    ];
    let one = [("Example-Header", "value, with, lots, of, commas")];
    let r2 = Request {
        headers: &two,
        ..req
    };
    let r1 = Request {
        headers: &one,
        ..req
    };
    assert_eq!(
        base_lines(r2, r#"("example-header";bs)"#).unwrap(),
        "\"example-header\";bs: :dmFsdWUsIHdpdGgsIGxvdHM=:, :b2YsIGNvbW1hcw==:"
    );
    assert_eq!(
        base_lines(r1, r#"("example-header";bs)"#).unwrap(),
        "\"example-header\";bs: :dmFsdWUsIHdpdGgsIGxvdHMsIG9mLCBjb21tYXM=:"
    );
    assert_eq!(
        base_lines(r2, r#"("example-header")"#).unwrap(),
        base_lines(r1, r#"("example-header")"#).unwrap()
    );
}

#[test]
fn rfc9421_section_2_2_derived_examples() {
    let h = [("Host", "www.example.com")];
    let https = Request {
        method: "POST",
        url: "https://www.example.com/path?param=value",
        headers: &h,
    };
    assert_eq!(
        base_lines(
            https,
            r#"("@method" "@target-uri" "@authority" "@request-target" "@path" "@query")"#
        )
        .unwrap(),
        "\"@method\": POST\n\"@target-uri\": https://www.example.com/path?param=value\n\"@authority\": www.example.com\n\"@request-target\": /path?param=value\n\"@path\": /path\n\"@query\": ?param=value"
    );
    let http = Request {
        url: "http://www.example.com/path?param=value",
        ..https
    };
    assert_eq!(
        base_lines(http, r#"("@scheme")"#).unwrap(),
        "\"@scheme\": http"
    );
    let q = |url| base_lines(Request { url, ..https }, r#"("@query")"#).unwrap();
    assert_eq!(
        q("https://www.example.com/path?param=value&foo=bar&baz=bat%2Dman"),
        "\"@query\": ?param=value&foo=bar&baz=bat%2Dman"
    );
    assert_eq!(
        q("https://www.example.com/path?queryString"),
        "\"@query\": ?queryString"
    );
    assert_eq!(q("https://www.example.com/path"), "\"@query\": ?");
    // Authority normalisation: lower case, default port dropped, other ports kept.
    let a = |url| base_lines(Request { url, ..https }, r#"("@authority" "@path")"#).unwrap();
    assert_eq!(
        a("https://WWW.Example.COM:443"),
        "\"@authority\": www.example.com\n\"@path\": /"
    );
    assert_eq!(
        a("http://example.com:8080/x"),
        "\"@authority\": example.com:8080\n\"@path\": /x"
    );
    assert_eq!(
        a("http://[::1]:80/x"),
        "\"@authority\": [::1]\n\"@path\": /x"
    );
    // @status on a response.
    let resp = Response {
        status: 200,
        headers: &[("Date", "Fri, 26 Mar 2010 00:05:00 GMT")],
        request: None,
    };
    let list = parse_inner_list(r#"("@status")"#, &Limits::DEFAULT).unwrap();
    let mut out = Vec::new();
    write_signature_base(&Message::Response(resp), &list, &mut out).unwrap();
    assert!(out.starts_with(b"\"@status\": 200\n"));
}

#[test]
fn signature_base_errors() {
    let h = [("Host", "example.com"), ("Accept", "caf\u{e9}")];
    let req = Request {
        method: "GET",
        url: "https://example.com/",
        headers: &h,
    };
    let err = |params: &str| base_lines(req, params).unwrap_err();
    let component = |e: BaseError| match e {
        BaseError::Component { index, .. } => index,
        BaseError::SinkFull => usize::MAX,
    };
    assert_eq!(component(err(r#"("@authority" "missing")"#)), 1);
    assert_eq!(component(err(r#"("@authority" "@authority")"#)), 1);
    assert_eq!(component(err(r#"("x";bs;req "x";req;bs)"#)), 0); // req in a request
    assert_eq!(component(err(r#"("@status")"#)), 0);
    assert_eq!(component(err(r#"("@unknown")"#)), 0);
    assert_eq!(component(err(r#"("@signature-params")"#)), 0);
    assert_eq!(component(err(r#"("accept")"#)), 0); // non-ASCII value
    assert_eq!(component(err(r#"("Host")"#)), 0); // upper case name
    assert_eq!(component(err(r#"("host";foo)"#)), 0); // unknown parameter
    assert_eq!(component(err(r#"("host";sf)"#)), 0); // unknown structured type
    assert_eq!(component(err(r#"("host";bs;sf)"#)), 0);
    assert_eq!(component(err(r#"("@query-param";name="a")"#)), 0);
    assert_eq!(component(err(r#"(host)"#)), 0); // a token, not a string
    let bad_url = Request {
        url: "https://user@example.com/",
        ..req
    };
    assert!(base_lines(bad_url, r#"("@authority")"#).is_err());
    let frag = Request {
        url: "https://example.com/#x",
        ..req
    };
    assert!(base_lines(frag, r#"("@path")"#).is_err());
    // Equal identifiers with parameters in another order are the same component.
    let d = [("Example-Dict", "a=1")];
    let r = Request { headers: &d, ..req };
    assert!(
        base_lines(
            r,
            r#"("example-dict";key="a";sf "example-dict";sf;key="a")"#
        )
        .is_err()
    );
}

#[test]
fn public_key_rejects_small_order_points() {
    // The identity point (y = 1) is of small order.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert!(PublicKey::from_bytes(&identity).is_err());
}
