//! The bazaar extension (`paywire::bazaar`), the parser a payer reaches in a
//! facilitator that catalogs: the first byte picks what the rest is.
//! - 0: an `extensions.bazaar` object for `check_extension` — never a panic,
//!   the same verdict twice, an error path under `info` or `schema` (or the
//!   object itself), and an accepted schema has no `$ref`/`$id` outside the
//!   document anywhere (checked with serde_json);
//! - 1: a `PaymentPayload` for `discover` — what it keeps is an http(s) URL
//!   without query or fragment, a route template, service name, tags and icon
//!   URL that their own checks accept, and a declaration `check_extension`
//!   accepts;
//! - 2: an extension for `enrich` with the method `GET` — what it writes is
//!   strict JSON whose `info.input.method` is `GET` and whose schema pins it;
//! - otherwise: a text for the sanitisers — a route template accepted starts
//!   with `/` and holds only its characters; an icon URL accepted is at most
//!   2048 bytes of http(s) without user information.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paywire::bazaar::{
    check_extension, discover, enrich, is_valid_icon_url, is_valid_route_template,
    is_valid_service_name,
};
use paywire::json::{Limits, parse};
use serde_json::Value;

const LIMITS: Limits = Limits {
    max_len: 64 * 1024,
    max_depth: 64,
};

fn only_local_references(v: &Value) -> bool {
    match v {
        Value::Object(o) => o.iter().all(|(k, v)| {
            let local = !(k == "$ref" || k == "$id") || v.as_str().is_some_and(|s| s.starts_with('#'));
            local && only_local_references(v)
        }),
        Value::Array(a) => a.iter().all(only_local_references),
        _ => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode {
        0 => {
            let Ok(ext) = parse(rest, &LIMITS) else {
                return;
            };
            let verdict = check_extension(ext);
            assert_eq!(verdict, check_extension(ext));
            match verdict {
                Ok(()) => {
                    let v: Value = serde_json::from_slice(rest).expect("serde_json reads it too");
                    assert!(only_local_references(&v["schema"]), "an external reference passed");
                }
                Err(e) => {
                    assert!(
                        e.path.is_empty() || e.path.starts_with("info") || e.path.starts_with("schema"),
                        "{e}"
                    );
                    assert!(!e.to_string().is_empty());
                }
            }
        }
        1 => {
            let Some(payload) = parse(rest, &LIMITS).ok().and_then(|v| v.as_object()) else {
                return;
            };
            let Ok(d) = discover(payload) else {
                return;
            };
            assert!(
                d.resource.starts_with("http://") || d.resource.starts_with("https://"),
                "{}",
                d.resource
            );
            assert!(!d.resource.contains(['?', '#']), "{}", d.resource);
            if let Some(t) = &d.route_template {
                assert!(is_valid_route_template(t) && d.resource.ends_with(t.as_str()));
            }
            if let Some(n) = &d.service_name {
                assert!(is_valid_service_name(n));
            }
            assert!(d.tags.len() <= 5 && d.tags.iter().all(|t| is_valid_service_name(t)));
            if let Some(u) = &d.icon_url {
                assert!(is_valid_icon_url(u));
            }
            let ext = payload
                .get("extensions")
                .and_then(|e| e.as_object())
                .and_then(|e| e.get("bazaar"))
                .expect("a declaration");
            assert_eq!(check_extension(ext), Ok(()));
        }
        2 => {
            let Ok(ext) = parse(rest, &LIMITS) else {
                return;
            };
            let Some(enriched) = enrich(ext, "GET") else {
                return;
            };
            let limits = Limits {
                max_len: enriched.len(),
                max_depth: 256,
            };
            parse(enriched.as_bytes(), &limits).expect("enrich writes strict JSON");
            let v: Value = serde_json::from_str(&enriched).unwrap();
            assert_eq!(v["info"]["input"]["method"], "GET");
            let input = &v["schema"]["properties"]["input"];
            assert_eq!(input["properties"]["method"]["enum"], serde_json::json!(["GET"]));
            assert!(
                input["required"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|m| m == "method"))
            );
        }
        _ => {
            let Ok(s) = std::str::from_utf8(rest) else {
                return;
            };
            if is_valid_route_template(s) {
                assert!(s.starts_with('/'));
                assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_/:.-~%".contains(&b)));
                assert!(!s.contains(".."));
            }
            if is_valid_icon_url(s) {
                assert!(s.len() <= 2048);
                let lower = s.to_ascii_lowercase();
                let rest = lower
                    .strip_prefix("https://")
                    .or_else(|| lower.strip_prefix("http://"))
                    .expect("http(s)");
                // WHATWG ends a special URL's authority at a backslash too.
                let authority = rest.split(['/', '?', '#', '\\']).next().unwrap_or("");
                assert!(!authority.contains('@') && !authority.starts_with('['), "{s}");
                assert!(!s.bytes().any(|b| b < 0x20 || b == 0x7f));
            }
            if is_valid_service_name(s) {
                assert!((1..=32).contains(&s.len()));
            }
        }
    }
});
