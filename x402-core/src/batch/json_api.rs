//! JSON entry points for hosts and bindings (with `alloc`): one JSON text in,
//! one JSON text out, read by the crate's strict JSON reader.
//!
//! [`verify_batch_settlement_json`] takes
//! `{"request": {"method", "url", "headers": [[name, value], ...]},
//!   "requirements": <PaymentRequired | [PaymentRequirements] | PaymentRequirements>,
//!   "directories": {"<signature agent>": {"keys": [...]}, ...},
//!   "now": <unix seconds>,
//!   "config"?: {"maxClockSkew", "maxAge", "maxValidity"}}`
//! and answers `{"verdict": <VerifyResponse>, "paymentResponse"?: "<PAYMENT-RESPONSE value>"}`.
//! An agent absent from `directories` is unknown to the network.
//!
//! [`sign_request_json`] takes
//! `{"request": {...}, "privateKey": "<JWK d: base64url of the 32-byte seed>",
//!   "signatureAgent", "signatureAgentKey"?, "label"?, "created", "expires", "nonce"?}`
//! and answers `{"signatureAgent", "signatureInput", "signature", "keyid"}`.
//!
//! ```
//! use paywire::batch::{sign_request_json, verify_batch_settlement_json};
//! let payment = "eyJ4NDAyVmVyc2lvbiI6MiwicGF5bG9hZCI6eyJhbW91bnQiOiI1IiwiYXNzZXQiOiJVU0QifSwiYWNjZXB0ZWQiOnsic2NoZW1lIjoiYmF0Y2gtc2V0dGxlbWVudCIsIm5ldHdvcmsiOiJjbG91ZGZsYXJlOjQwMiIsImFtb3VudCI6IjUiLCJhc3NldCI6IlVTRCIsInBheVRvIjoibWVyY2hhbnQiLCJtYXhUaW1lb3V0U2Vjb25kcyI6MzB9fQ==";
//! let signed = sign_request_json(format!(r#"{{"request":{{"method":"GET","url":"https://example.com/article","headers":[["PAYMENT-SIGNATURE","{payment}"]]}},
//!   "privateKey":"n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU","signatureAgent":"\"https://agent.example\"","created":1700000000,"expires":1700000060}}"#).as_bytes()).unwrap();
//! let s: serde_json::Value = serde_json::from_str(&signed).unwrap();
//! let input = serde_json::json!({
//!   "request": {"method": "GET", "url": "https://example.com/article", "headers": [
//!     ["PAYMENT-SIGNATURE", payment], ["Signature-Agent", s["signatureAgent"]],
//!     ["Signature-Input", s["signatureInput"]], ["Signature", s["signature"]]]},
//!   "requirements": {"scheme":"batch-settlement","network":"cloudflare:402","amount":"5","asset":"USD","payTo":"merchant","maxTimeoutSeconds":30},
//!   "directories": {"https://agent.example": {"keys": [{"kty":"OKP","crv":"Ed25519","x":"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"}]}},
//!   "now": 1700000010});
//! let out = verify_batch_settlement_json(input.to_string().as_bytes()).unwrap();
//! assert!(out.starts_with(r#"{"verdict":{"isValid":true"#), "{out}");
//! ```

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use super::directory::{Directory, base64url_decode_32, thumbprint};
use super::ed25519::{PublicKey, SigningKey};
use super::scheme::{
    Config, KeyLookupError, SignParams, sign_request_alloc, verify_batch_settlement_alloc,
};
use super::signature_base::Request;
use crate::error::{Error, ErrorKind, Reason};
use crate::json::{JsonObject, JsonStr, JsonValue, Limits, ObjectWriter};

const R: Reason = Reason::InvalidPayload;

fn bad(what: &'static str) -> Error {
    Error::new(R, ErrorKind::Invalid(what))
}

fn text<'a>(o: JsonObject<'a>, key: &'static str) -> Result<Cow<'a, str>, Error> {
    o.get(key)
        .and_then(|v| v.as_str())
        .map(|s| s.to_cow())
        .ok_or(Error::new(R, ErrorKind::MissingField).at(key))
}

fn opt_text<'a>(o: JsonObject<'a>, key: &'static str) -> Result<Option<Cow<'a, str>>, Error> {
    match o.get(key) {
        None => Ok(None),
        Some(v) if v.is_null() => Ok(None),
        Some(v) => v
            .as_str()
            .map(|s| Some(s.to_cow()))
            .ok_or(bad("must be a string").at(key)),
    }
}

fn int(o: JsonObject<'_>, key: &'static str) -> Result<u64, Error> {
    o.get(key)
        .and_then(|v| v.as_u64())
        .ok_or(bad("must be a non-negative integer").at(key))
}

struct OwnedRequest<'a> {
    method: Cow<'a, str>,
    url: Cow<'a, str>,
    headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

fn read_request(v: Option<JsonValue<'_>>) -> Result<OwnedRequest<'_>, Error> {
    let o = v
        .and_then(|v| v.as_object())
        .ok_or(bad("request must be {method, url, headers}").at("request"))?;
    let mut headers = Vec::new();
    let list = o
        .get("headers")
        .and_then(|h| h.as_array())
        .ok_or(bad("headers must be an array of [name, value] pairs").at("headers"))?;
    for h in list.iter() {
        let pair = h
            .as_array()
            .ok_or(bad("a header is a [name, value] pair").at("headers"))?;
        let mut it = pair.iter();
        let (Some(n), Some(v), None) = (
            it.next().and_then(|x| x.as_str()),
            it.next().and_then(|x| x.as_str()),
            it.next(),
        ) else {
            return Err(bad("a header is a [name, value] pair of strings").at("headers"));
        };
        headers.push((n.to_cow(), v.to_cow()));
    }
    Ok(OwnedRequest {
        method: text(o, "method")?,
        url: text(o, "url")?,
        headers,
    })
}

/// Verifies a request paying with `batch-settlement` (input and output described
/// in the module docs).
///
/// # Errors
/// `invalid_payload` for an input that is not the object described (a bad
/// payment inside a well-formed input is an invalid verdict, not an error).
pub fn verify_batch_settlement_json(input: &[u8]) -> Result<String, Error> {
    let limits = Limits {
        max_len: 256 * 1024,
        ..Limits::DEFAULT
    };
    let v = crate::json::parse(input, &limits).map_err(|k| Error::new(R, k))?;
    let o = v.as_object().ok_or(bad("the input must be an object"))?;
    let req = read_request(o.get("request"))?;
    let requirements = o
        .get("requirements")
        .ok_or(Error::new(R, ErrorKind::MissingField).at("requirements"))?
        .raw();
    let now = int(o, "now")?;
    let mut config = Config::DEFAULT;
    if let Some(c) = o.get("config").filter(|c| !c.is_null()) {
        let c = c
            .as_object()
            .ok_or(bad("config must be an object").at("config"))?;
        for (k, _) in c.members() {
            if k == "maxClockSkew" {
                config.max_clock_skew = int(c, "maxClockSkew")?;
            } else if k == "maxAge" {
                config.max_age = int(c, "maxAge")?;
            } else if k == "maxValidity" {
                config.max_validity = int(c, "maxValidity")?;
            } else {
                return Err(bad(
                    "unknown config member (known: maxClockSkew, maxAge, maxValidity)",
                ));
            }
        }
    }
    let dirs = o
        .get("directories")
        .and_then(|d| d.as_object())
        .ok_or(bad("directories must map agents to JWK Sets").at("directories"))?;
    // Parse every directory up front so a malformed one is an input error.
    let mut parsed: Vec<(JsonStr<'_>, Directory<'_>)> = Vec::new();
    for (agent, jwks) in dirs.members() {
        let d = Directory::parse(jwks.raw().as_bytes())?;
        parsed.push((agent, d));
    }
    let lookup = |agent: &str, keyid: &str| -> Result<PublicKey, KeyLookupError> {
        let (_, dir) = parsed
            .iter()
            .find(|(a, _)| *a == agent)
            .ok_or(KeyLookupError::UnknownAgent)?;
        dir.find(keyid).ok_or(KeyLookupError::UnknownKey)
    };
    let headers: Vec<(&str, &str)> = req.headers.iter().map(|(n, v)| (&**n, &**v)).collect();
    let request = Request {
        method: &req.method,
        url: &req.url,
        headers: &headers,
    };
    let verdict =
        verify_batch_settlement_alloc(&request, requirements.as_bytes(), &lookup, now, &config);
    let mut out = Vec::new();
    let mut w = ObjectWriter::new(&mut out).map_err(|_| bad("output"))?;
    w.field("verdict", &verdict).map_err(|_| bad("output"))?;
    if let Some(receipt) = verdict.payment_response(now) {
        let value = crate::header::encode_to_string(&receipt);
        w.str_field("paymentResponse", JsonStr::new(&value))
            .map_err(|_| bad("output"))?;
    }
    w.end().map_err(|_| bad("output"))?;
    String::from_utf8(out).map_err(|_| bad("output"))
}

/// Signs a request for `batch-settlement` (input and output described in the
/// module docs).
///
/// # Errors
/// `invalid_payload` naming what is wrong with the input, or what
/// [`super::sign_request`] refuses.
pub fn sign_request_json(input: &[u8]) -> Result<String, Error> {
    let limits = Limits {
        max_len: 256 * 1024,
        ..Limits::DEFAULT
    };
    let v = crate::json::parse(input, &limits).map_err(|k| Error::new(R, k))?;
    let o = v.as_object().ok_or(bad("the input must be an object"))?;
    let req = read_request(o.get("request"))?;
    let d = text(o, "privateKey")?;
    let seed = base64url_decode_32(&d)
        .ok_or(bad("privateKey must be the JWK d: 43 characters of base64url").at("privateKey"))?;
    let key = SigningKey::from_seed(&seed);
    let agent = text(o, "signatureAgent")?;
    let agent_key = opt_text(o, "signatureAgentKey")?;
    let label = opt_text(o, "label")?;
    let nonce = opt_text(o, "nonce")?;
    let params = SignParams {
        label: label.as_deref().unwrap_or("sig1"),
        signature_agent: &agent,
        signature_agent_key: agent_key.as_deref(),
        created: int(o, "created")?,
        expires: int(o, "expires")?,
        nonce: nonce.as_deref(),
    };
    let headers: Vec<(&str, &str)> = req.headers.iter().map(|(n, v)| (&**n, &**v)).collect();
    let request = Request {
        method: &req.method,
        url: &req.url,
        headers: &headers,
    };
    let signed = sign_request_alloc(&request, &key, &params)?;
    let kid = thumbprint(&key.public_key());
    let mut out = Vec::new();
    let mut w = ObjectWriter::new(&mut out).map_err(|_| bad("output"))?;
    let put = |w: &mut ObjectWriter<'_>, k: &str, v: &str| {
        w.str_field(k, JsonStr::new(v)).map_err(|_| bad("output"))
    };
    put(&mut w, "signatureAgent", &signed.signature_agent)?;
    put(&mut w, "signatureInput", &signed.signature_input)?;
    put(&mut w, "signature", &signed.signature)?;
    put(&mut w, "keyid", kid.as_str())?;
    w.end().map_err(|_| bad("output"))?;
    String::from_utf8(out).map_err(|_| bad("output"))
}
