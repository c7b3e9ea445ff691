//! Cross-checks with Cloudflare's web-bot-auth, both ways:
//! - its signatures (`tests/vectors/batch/web-bot-auth.json`, written by
//!   `gen-batch/generate.sh`) reach the verdict each vector expects here;
//! - requests signed here are written (when `PAYWIRE_BATCH_SIGNED_OUT` names a file)
//!   for `gen-batch/check.sh`, which runs web-bot-auth's verify on them.
#![cfg(feature = "batch")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use paywire::batch::directory::{Directory, thumbprint};
use paywire::batch::ed25519::{PublicKey, SigningKey};
use paywire::batch::{
    Config, KeyLookupError, Request, SignParams, sign_request_alloc, verify_batch_settlement_alloc,
};
use paywire::header;
use serde_json::{Value, json};

fn load(name: &str) -> Value {
    let path = format!("{}/tests/vectors/batch/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn headers_of(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap().to_string(),
                h[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn web_bot_auth_signatures_verify_here() {
    let doc = load("web-bot-auth.json");
    let vectors = doc["vectors"].as_array().unwrap();
    let mut n = 0;
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let jwks = json!({"keys": [v["jwk"]]}).to_string();
        let dir = Directory::parse(jwks.as_bytes()).unwrap();
        let (kid, _) = dir.keys().next().unwrap();
        assert_eq!(
            kid.as_str(),
            v["keyid"].as_str().unwrap(),
            "{name}: thumbprint"
        );
        let lookup = |agent: &str, keyid: &str| -> Result<PublicKey, KeyLookupError> {
            if agent != "https://agent.example" {
                return Err(KeyLookupError::UnknownAgent);
            }
            dir.find(keyid).ok_or(KeyLookupError::UnknownKey)
        };
        let h = headers_of(&v["request"]["headers"]);
        let hr: Vec<(&str, &str)> = h.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let req = Request {
            method: v["request"]["method"].as_str().unwrap(),
            url: v["request"]["url"].as_str().unwrap(),
            headers: &hr,
        };
        let offer = v["offer"].to_string();
        let verdict = verify_batch_settlement_alloc(
            &req,
            offer.as_bytes(),
            &lookup,
            v["now"].as_u64().unwrap(),
            &Config::DEFAULT,
        );
        let expect = &v["expect"];
        assert_eq!(
            verdict.is_valid(),
            expect["isValid"].as_bool().unwrap(),
            "{name}: {:?} {}",
            verdict.reason,
            verdict.message.as_str()
        );
        assert_eq!(
            verdict.reason.map(|r| r.as_str()),
            expect.get("invalidReason").and_then(Value::as_str),
            "{name}"
        );
        // Where the signature alone decides, both implementations agree.
        if name.starts_with("valid") || name.starts_with("tampered") || name == "expired" {
            assert_eq!(
                verdict.is_valid(),
                v["webBotAuthVerifies"].as_bool().unwrap(),
                "{name}"
            );
        }
        n += 1;
    }
    assert_eq!(n, 26);
    println!("web-bot-auth signatures checked here: {n}");
}

fn payment(amount: &str) -> String {
    let json = format!(
        r#"{{"x402Version":2,"payload":{{"amount":"{amount}","asset":"USD"}},"accepted":{{"scheme":"batch-settlement","network":"cloudflare:402","amount":"5","asset":"USD","payTo":"merchant","extra":{{"version":"1.0.0"}}}}}}"#
    );
    let mut out = vec![0u8; json.len() * 2];
    let n = header::base64_encode(json.as_bytes(), &mut out).unwrap();
    String::from_utf8(out[..n].to_vec()).unwrap()
}

/// Requests signed by x402-core, in the check-mode format of `gen-batch/check.sh`.
fn signed_here() -> Vec<Value> {
    let now = 1_750_000_000u64;
    let mut out = Vec::new();
    let urls = [
        "https://example.com/article",
        "https://example.com:8443/a/b?x=1&y=%20",
        "http://EXAMPLE.com:80/",
        "https://[2001:db8::1]/v6",
        "https://sub.example.com/%C3%A9t%C3%A9",
    ];
    for i in 0..20u8 {
        let key = SigningKey::from_seed(&[i.wrapping_mul(37).wrapping_add(1); 32]);
        let url = urls[usize::from(i) % urls.len()];
        let method = ["GET", "POST", "PUT"][usize::from(i) % 3];
        let pay = payment(&(i + 1).to_string());
        let agent = format!("\"https://agent{i}.example\"");
        let unsigned = [("PAYMENT-SIGNATURE", pay.as_str())];
        let req = Request {
            method,
            url,
            headers: &unsigned,
        };
        // web-bot-auth accepts only a base64 nonce of 64 bytes, or none.
        let nonce_bytes = [i; 64];
        let mut nonce = vec![0u8; 88];
        header::base64_encode(&nonce_bytes, &mut nonce).unwrap();
        let nonce = String::from_utf8(nonce).unwrap();
        let created = now - u64::from(i);
        let params = SignParams {
            label: if i % 2 == 0 { "sig1" } else { "x402" },
            signature_agent: &agent,
            signature_agent_key: None,
            created,
            expires: created + 60 + u64::from(i),
            nonce: if i % 3 == 0 { None } else { Some(&nonce) },
        };
        let h = sign_request_alloc(&req, &key, &params).unwrap();
        let mut headers = vec![
            json!(["PAYMENT-SIGNATURE", pay]),
            json!(["Signature-Agent", h.signature_agent]),
            json!(["Signature-Input", h.signature_input]),
            json!(["Signature", h.signature]),
        ];
        let mut jwk_text = Vec::new();
        paywire::batch::directory::write_jwk(&key.public_key(), &mut jwk_text).unwrap();
        let x = serde_json::from_slice::<Value>(&jwk_text).unwrap()["x"].clone();
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": x});
        // Every fourth request is tampered after signing: both sides must refuse it.
        let tampered = i % 4 == 3;
        if tampered {
            headers[0] = json!(["PAYMENT-SIGNATURE", payment("999")]);
        }
        out.push(json!({
            "name": format!("x402-core-{i}{}", if tampered { "-tampered" } else { "" }),
            "jwk": jwk,
            "keyid": thumbprint(&key.public_key()).to_string(),
            "request": {"method": method, "url": url, "headers": headers},
            "now": now,
            "webBotAuthVerifies": !tampered,
        }));
    }
    out
}

#[test]
fn signatures_made_here_verify_here_and_are_written_for_web_bot_auth() {
    let vectors = signed_here();
    for v in &vectors {
        let jwks = json!({"keys": [v["jwk"]]}).to_string();
        let dir = Directory::parse(jwks.as_bytes()).unwrap();
        let h = headers_of(&v["request"]["headers"]);
        let hr: Vec<(&str, &str)> = h.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let req = Request {
            method: v["request"]["method"].as_str().unwrap(),
            url: v["request"]["url"].as_str().unwrap(),
            headers: &hr,
        };
        let offer = r#"{"scheme":"batch-settlement","network":"cloudflare:402","amount":"5","asset":"USD","payTo":"merchant","extra":{"version":"1.0.0"}}"#;
        let verdict = verify_batch_settlement_alloc(
            &req,
            offer.as_bytes(),
            &dir,
            v["now"].as_u64().unwrap(),
            &Config::DEFAULT,
        );
        let signature_ok = verdict.reason != Some(paywire::Reason::BatchCloudflareSignature);
        assert_eq!(
            signature_ok,
            v["webBotAuthVerifies"].as_bool().unwrap(),
            "{}: {:?}",
            v["name"],
            verdict.reason
        );
    }
    if let Ok(path) = std::env::var("PAYWIRE_BATCH_SIGNED_OUT") {
        let doc = json!({
            "description": "Requests signed by x402-core's batch::sign_request (tests/batch_crosscheck.rs), for web-bot-auth's verify.",
            "vectors": vectors,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        println!("wrote {} signed requests to {path}", vectors.len());
    }
}
