//! The bazaar extension against the official `@x402/extensions` 2.27
//! (`tests/vectors/bazaar.json`, written by `gen/src/gen-bazaar.mjs`): the
//! declarations its helpers build are the ones [`Declaration`] writes for the
//! same configuration, and are judged alike; hand-written declarations get
//! the official verdict; a payment's extraction keeps what the reference
//! keeps; the sanitisers agree. The checked-in file must be what its
//! generator prints (checked where the JavaScript tools are installed).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use paywire::bazaar::{self, BodyType, Declaration, Input, check_extension, check_spec, discover};
use paywire::json::{JsonValue, Limits, ToJson, parse};
use serde_json::Value;

const FILE: &str = include_str!("../vectors/bazaar.json");

fn file() -> Value {
    serde_json::from_str(FILE).unwrap()
}

const LIMITS: Limits = Limits {
    max_len: 64 * 1024,
    max_depth: 32,
};

fn json(v: &Value) -> String {
    serde_json::to_string(v).unwrap()
}

fn opt<'a>(text: &'a Option<String>) -> Option<JsonValue<'a>> {
    text.as_deref()
        .map(|t| parse(t.as_bytes(), &LIMITS).unwrap())
}

fn text(v: &Value) -> Option<String> {
    (!v.is_null()).then(|| json(v))
}

#[test]
fn the_file_is_what_its_generator_writes() {
    assert_eq!(
        file()["generator"]["packages"]["@x402/extensions"],
        "2.27.0"
    );
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let tools = std::path::Path::new(root).join("node_modules/@x402/extensions/package.json");
    if !tools.exists() {
        eprintln!("skipped: the JavaScript tools are not installed (scripts/install-js.sh)");
        return;
    }
    let out = std::process::Command::new("node")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/gen/src/gen-bazaar.mjs"
        ))
        .arg("--stdout")
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout == FILE.as_bytes(),
        "tests/vectors/bazaar.json differs from what gen/src/gen-bazaar.mjs writes: run it"
    );
}

#[test]
fn declarations_are_written_as_the_official_helpers_write_them() {
    let file = file();
    let decls = file["declarations"].as_array().unwrap();
    assert!(decls.len() >= 10);
    for d in decls {
        let name = d["name"].as_str().unwrap();
        let c = &d["config"];
        let input = text(&c["input"]);
        let schema = text(&c["inputSchema"]);
        let example = text(&c["example"]);
        let out_example = text(&c["output"]["example"]);
        let out_schema = text(&c["output"]["schema"]);
        let input = if let Some(tool) = c["toolName"].as_str() {
            Input::Mcp {
                tool_name: tool,
                description: c["description"].as_str(),
                transport: c["transport"].as_str(),
                input_schema: opt(&schema).unwrap(),
                example: opt(&example),
            }
        } else if let Some(bt) = c["bodyType"].as_str() {
            let body_type = match bt {
                "json" => BodyType::Json,
                "form-data" => BodyType::FormData,
                _ => BodyType::Text,
            };
            Input::Body {
                body_type,
                example: opt(&input),
                schema: opt(&schema),
            }
        } else {
            Input::Query {
                params: opt(&input),
                schema: opt(&schema),
            }
        };
        let ours = Declaration {
            method: d["method"].as_str(),
            input,
            output_example: opt(&out_example),
            output_schema: opt(&out_schema),
        }
        .to_json_string();
        let ours_value: Value = serde_json::from_str(&ours).unwrap();
        assert_eq!(ours_value, d["extension"], "{name}");
        let official = json(&d["extension"]);
        let ext = parse(official.as_bytes(), &LIMITS).unwrap();
        assert_eq!(
            check_extension(ext).is_ok(),
            d["valid"] == true,
            "{name}: {:?}",
            check_extension(ext)
        );
        assert_eq!(check_spec(ext).is_ok(), d["specValid"] == true, "{name}");
    }
}

#[test]
fn a_route_declaration_is_enriched_with_the_method_as_the_reference_does() {
    let file = file();
    for d in file["declarations"].as_array().unwrap() {
        let name = d["name"].as_str().unwrap();
        let declared = json(&d["declared"]);
        let declared = parse(declared.as_bytes(), &LIMITS).unwrap();
        let method = d["method"].as_str().unwrap();
        match bazaar::enrich(declared, method) {
            Some(ours) => {
                let ours: Value = serde_json::from_str(&ours).unwrap();
                assert_eq!(ours, d["extension"], "{name}");
            }
            // MCP tools are not enriched.
            None => assert_eq!(d["declared"], d["extension"], "{name}"),
        }
        let enriched = json(&d["extension"]);
        let enriched = parse(enriched.as_bytes(), &LIMITS).unwrap();
        assert_eq!(
            bazaar::check_declaration(enriched).is_ok(),
            d["valid"] == true && d["specValid"] == true,
            "{name}"
        );
    }
}

#[test]
fn declarations_are_judged_as_the_official_validator_judges_them() {
    let file = file();
    let cases = file["judgements"].as_array().unwrap();
    assert!(cases.len() >= 30);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let ext = json(&c["extension"]);
        let ours = check_extension(parse(ext.as_bytes(), &LIMITS).unwrap());
        assert_eq!(ours.is_ok(), c["valid"] == true, "{name}: {ours:?}");
        if let Err(e) = ours {
            assert!(!e.to_string().is_empty());
        }
    }
}

#[test]
fn a_payment_gives_the_resource_the_reference_catalogs() {
    let file = file();
    let cases = file["extractions"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let payload = json(&c["paymentPayload"]);
        let payload = parse(payload.as_bytes(), &LIMITS)
            .unwrap()
            .as_object()
            .unwrap();
        let want = &c["discovered"];
        match discover(payload) {
            Err(e) => assert!(
                want.is_null(),
                "{name}: dropped ({e}), the reference keeps it"
            ),
            Ok(d) => {
                assert!(!want.is_null(), "{name}: kept, the reference drops it");
                assert_eq!(d.resource, want["resourceUrl"], "{name}");
                assert_eq!(d.kind.as_str(), want["type"], "{name}");
                let same = |ours: &Option<String>, key: &str| {
                    assert_eq!(ours.as_deref(), want[key].as_str(), "{name}: {key}");
                };
                same(&d.method, "method");
                same(&d.tool_name, "toolName");
                same(&d.route_template, "routeTemplate");
                same(&d.description, "description");
                same(&d.mime_type, "mimeType");
                same(&d.service_name, "serviceName");
                same(&d.icon_url, "iconUrl");
                let tags: Vec<&str> = want["tags"]
                    .as_array()
                    .map(|t| t.iter().map(|t| t.as_str().unwrap()).collect())
                    .unwrap_or_default();
                assert_eq!(d.tags, tags, "{name}");
                assert_eq!(
                    serde_json::from_str::<Value>(&d.accepted).unwrap(),
                    c["paymentPayload"]["accepted"]
                );
            }
        }
    }
}

#[test]
fn the_sanitisers_agree() {
    let file = file();
    for c in file["routeTemplates"].as_array().unwrap() {
        let v = c["value"].as_str().unwrap();
        assert_eq!(
            bazaar::is_valid_route_template(v),
            c["valid"] == true,
            "{v}"
        );
    }
    for c in file["serviceNames"].as_array().unwrap() {
        let v = c["value"].as_str().unwrap();
        assert_eq!(
            bazaar::is_valid_service_name(v),
            c["valid"] == true,
            "{v:?}"
        );
    }
    for c in file["iconUrls"].as_array().unwrap() {
        let v = c["value"].as_str().unwrap();
        assert_eq!(bazaar::is_valid_icon_url(v), c["valid"] == true, "{v:?}");
    }
    for c in file["tags"].as_array().unwrap() {
        let v = json(&c["value"]);
        let kept = bazaar::sanitize_tags(parse(v.as_bytes(), &LIMITS).unwrap());
        assert_eq!(serde_json::to_value(kept).unwrap(), c["kept"], "{v}");
    }
}

#[test]
fn a_route_serves_a_valid_declaration_and_refuses_an_invalid_one() {
    use paywire::lifecycle::Route;
    let file = file();
    let ext = file["declarations"][1]["extension"].clone();
    let doc = |ext: &Value| {
        serde_json::json!({
            "x402Version": 2,
            "resource": {"url": "https://api.example.com/weather"},
            "accepts": [{
                "scheme": "exact", "network": "eip155:8453", "amount": "10000",
                "asset": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
                "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
                "maxTimeoutSeconds": 60, "extra": {"name": "USD Coin", "version": "2"}
            }],
            "extensions": {"bazaar": ext}
        })
        .to_string()
    };
    let route = Route::from_json(doc(&ext).as_bytes()).unwrap();
    let answered: Value = serde_json::from_str(&route.payment_required_json(Some("pay"))).unwrap();
    assert_eq!(answered["extensions"]["bazaar"], ext);
    let mut broken = ext.clone();
    broken["info"]["input"]["method"] = Value::from("PUT");
    let e = Route::from_json(doc(&broken).as_bytes()).unwrap_err();
    assert_eq!(e.reason().as_str(), "invalid_payment_requirements");
    assert_eq!(e.field(), "extensions");
}
