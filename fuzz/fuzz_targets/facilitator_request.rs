//! The facilitator's routes on hostile requests: the first byte picks the
//! route and whether the API key is sent, the rest is the body. The service
//! runs with a SQLite store and a node that refuses every connection, so
//! nothing can be settled:
//! - it never panics, and every answer is one of the statuses the routes
//!   document, with a JSON body;
//! - `/settle` answers HTTP 200 with `success: false`, an empty
//!   `transaction` and never `settlement_pending` (nothing was sent), and
//!   `/verify` answers HTTP 200 with `isValid` (`false`: the chain checks
//!   cannot run);
//! - without the key, `/verify` and `/settle` answer 401 whatever the body.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use paywire_server::config::Config;
use paywire_server::facilitator::Facilitator;
use serde_json::Value;
use tower::ServiceExt;

const KEY: &str = "fuzz-api-key";

struct Service {
    rt: tokio::runtime::Runtime,
    facilitator: Facilitator,
}

fn service() -> &'static Service {
    static S: OnceLock<Service> = OnceLock::new();
    S.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("paywire-fuzz-facilitator-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
            p
        };
        let api = secret("api.key", KEY);
        let signer = secret("signer.key", "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
        let toml = format!(
            "[store]\nurl = \"sqlite://{}\"\n[[access.keys]]\nname = \"fuzz\"\nkey_file = {api:?}\n\
             [[signers]]\nname = \"s\"\nkey_file = {signer:?}\n\
             [[networks]]\nid = \"eip155:84532\"\nrpc = [\"http://127.0.0.1:9\"]\n\
             schemes = [\"exact-eip3009\", \"exact-permit2\", \"upto\"]\nsigners = [\"s\"]\nreceipt_timeout_seconds = 2\n",
            dir.join("records.db").display()
        );
        let config = Config::parse(std::path::Path::new("fuzz.toml"), &toml).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let facilitator = rt.block_on(Facilitator::new(&config)).unwrap();
        Service { rt, facilitator }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let s = service();
    let (method, path) = match selector % 4 {
        0 => ("POST", "/verify"),
        1 => ("POST", "/settle"),
        2 => ("GET", "/supported"),
        _ => ("POST", "/nowhere"),
    };
    let keyed = selector & 0x80 == 0;
    let mut req = Request::builder().method(method).uri(path).header("content-type", "application/json");
    if keyed {
        req = req.header("authorization", format!("Bearer {KEY}"));
    }
    let req = req.body(Body::from(body.to_vec())).unwrap();
    let (status, bytes) = s.rt.block_on(async {
        let resp = s.facilitator.router().oneshot(req).await.unwrap();
        let status = resp.status();
        (status, resp.into_body().collect().await.unwrap().to_bytes())
    });
    let v: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{path} {status}: not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    match (path, keyed) {
        ("/verify" | "/settle", false) => assert_eq!(status, StatusCode::UNAUTHORIZED),
        ("/verify", true) => {
            assert!(status == StatusCode::OK || status == StatusCode::FORBIDDEN, "{status}");
            if status == StatusCode::OK {
                assert_eq!(v["isValid"], Value::Bool(false), "{v}");
            }
        }
        ("/settle", true) => {
            assert!(status == StatusCode::OK || status == StatusCode::FORBIDDEN, "{status}");
            if status == StatusCode::OK {
                assert_eq!(v["success"], Value::Bool(false), "{v}");
                assert_eq!(v["transaction"], Value::String(String::new()), "{v}");
                assert_ne!(v["errorReason"], Value::String("settlement_pending".into()), "{v}");
            }
        }
        ("/supported", _) => assert_eq!(status, StatusCode::OK),
        _ => assert_eq!(status, StatusCode::NOT_FOUND),
    }
});
