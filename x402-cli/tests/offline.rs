//! `paywire decode`, `verify`, `pay` and `keygen`, run as processes, on good and bad input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;

const PAY_TO: &str = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";

/// Signs a payment for the spec's PAYMENT-REQUIRED with a fresh key.
fn signed(dir: &TempDir, extra: &[&str]) -> (String, String) {
    let (key, address) = dir.key("payer.key");
    let mut args = vec!["pay", "--key-file", &key];
    args.extend_from_slice(extra);
    args.push(SPEC_PR.trim());
    let out = dir.run(&args);
    out.code(0).no_panic();
    assert!(
        out.stdout.starts_with("PAYMENT-SIGNATURE: "),
        "{}",
        out.stdout
    );
    (header_value(&out.stdout), address)
}

fn requirement_file(dir: &TempDir, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut r = unb64(SPEC_PR.trim())["accepts"][0].clone();
    edit(&mut r);
    dir.write("req.json", &r.to_string())
}

// ---------------------------------------------------------------- decode

#[test]
fn decode_detects_every_spec_header() {
    for (value, kind, version) in [
        (SPEC_PR, "PAYMENT-REQUIRED", 2),
        (SPEC_SIG, "PAYMENT-SIGNATURE", 2),
        (SPEC_RESPONSE, "PAYMENT-RESPONSE", 2),
        (SPEC_X_PAYMENT, "X-PAYMENT", 1),
    ] {
        let out = run(&["decode", "--json", value.trim()]);
        out.no_panic();
        let v = out.json();
        assert_eq!(v["header"], kind);
        assert_eq!(v["x402Version"], version);
        assert_eq!(v["reencodesIdentically"], true, "{kind}");
        assert!(v["document"].is_object());
    }
}

#[test]
fn decode_says_what_it_cannot_check() {
    let batch = include_str!(
        "../../x402-core/tests/vectors/spec/v2-batch-cloudflare-payment-signature-header-01.b64"
    );
    run(&["decode", batch.trim()])
        .code(0)
        .says("\"scheme\": \"batch-settlement\"")
        .says("no offline verifier for scheme batch-settlement here");
}

#[test]
fn decode_prints_the_json_for_people() {
    let out = run(&["decode", SPEC_PR.trim()]);
    out.code(0)
        .says("PAYMENT-REQUIRED (x402 version 2)")
        .says("\"payTo\": \"0x209693Bc6afc0C5328bA36FaF03C514EF312287C\"")
        .says("accepts[0]: payable")
        .says("no problems found");
}

#[test]
fn decode_reads_stdin_and_header_lines() {
    let out = run_in(
        &std::env::temp_dir(),
        &["decode", "-"],
        Some(&format!("payment-response: {}\n", SPEC_RESPONSE.trim())),
    );
    out.code(0)
        .says("PAYMENT-RESPONSE")
        .says("\"success\": true");
}

#[test]
fn decode_truncated_header_names_the_cause() {
    let full = SPEC_SIG.trim();
    // Cut inside a base64 group: not base64 any more.
    let out = run(&["decode", &full[..full.len() / 2 + 1]]);
    out.code(1)
        .no_panic()
        .says("invalid_payload")
        .says("not canonical standard base64")
        .says("truncated");
    // Cut at a group boundary: base64, but the JSON ends early.
    let cut = full.len() / 2 / 4 * 4;
    let out = run(&["decode", "--json", &full[..cut]]);
    out.code(1).no_panic();
    let v = out.json();
    assert_eq!(v["valid"], false);
    assert_eq!(v["problems"][0]["reason"], "invalid_payload");
    assert!(v["hints"][0].as_str().unwrap().contains("truncated"), "{v}");
}

#[test]
fn decode_names_url_safe_base64_and_whitespace() {
    let full = SPEC_SIG.trim();
    let url_safe = format!("-{}", &full[1..]);
    run(&["decode", &url_safe])
        .code(1)
        .says("URL-safe alphabet");
    let split = format!("{}\n{}", &full[..40], &full[40..]);
    // A literal value with a line break (not a file name).
    run(&["decode", &format!("x{split}")])
        .code(1)
        .says("whitespace or a line break");
}

#[test]
fn decode_refuses_oversized_values_before_decoding() {
    let huge = "A".repeat(30_000);
    let out = run(&["decode", "--json", &huge]);
    out.code(1).no_panic();
    let v = out.json();
    assert!(
        v["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("larger than the limit"),
        "{v}"
    );
    assert!(v["hints"][0].as_str().unwrap().contains("at most"), "{v}");
}

#[test]
fn decode_names_the_field_that_is_wrong() {
    let mut doc = unb64(SPEC_SIG.trim());
    doc["accepted"]["amount"] = serde_json::json!("010");
    let out = run(&["decode", "--json", &to_header(&doc)]);
    out.code(1);
    let v = out.json();
    assert_eq!(v["problems"][0]["reason"], "invalid_payload");
    assert_eq!(v["problems"][0]["field"], "accepted.amount");
    // A v2 payload sent under the v1 header name.
    let out = run(&["decode", &format!("X-PAYMENT: {}", SPEC_SIG.trim())]);
    out.code(1)
        .says("invalid_x402_version")
        .says("field: x402Version");
}

#[test]
fn decode_lists_an_expired_payment() {
    let dir = TempDir::new();
    let (sig, _) = signed(&dir, &[]);
    run(&["decode", &sig]).code(0).says("no problems found");
    let later = (now() + 3600).to_string();
    let out = run(&["decode", "--json", "--now", &later, &sig]);
    out.code(1);
    let v = out.json();
    assert_eq!(
        v["problems"][0]["reason"],
        "invalid_exact_evm_payload_authorization_valid_before"
    );
}

#[test]
fn decode_accepts_a_json_document_and_refuses_garbage() {
    run(&[
        "decode",
        r#"{"success":false,"errorReason":"insufficient_funds","transaction":"","network":"eip155:8453"}"#,
    ])
    .code(0)
    .says("settlement failed: insufficient_funds");
    run(&["decode", "hello world!"]).code(1).no_panic();
    run(&["decode", "Authorization: Bearer x"])
        .code(2)
        .says("unknown header name");
    run(&["decode"]).code(2).says("needs a header value");
    run(&["decode", "a", "b"])
        .code(2)
        .says("unexpected extra argument");
    run(&["decode", "--frobnicate", "x"])
        .code(2)
        .says("unknown option --frobnicate");
}

// ---------------------------------------------------------------- verify

#[test]
fn verify_a_payment_against_the_server_requirement() {
    let dir = TempDir::new();
    let (sig, payer) = signed(&dir, &[]);
    let req = requirement_file(&dir, |_| {});
    let out = dir.run(&["verify", "--json", "--requirements", &req, &sig]);
    out.code(0);
    let v = out.json();
    assert_eq!(v["isValid"], true);
    assert_eq!(v["payer"], payer.as_str());
    let checks: Vec<&str> = v["extra"]["chainChecks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        checks,
        [
            "assetIsContract",
            "eip3009NonceUnused",
            "balanceAtLeast",
            "simulateEip3009Transfer"
        ]
    );
    // For people: the same document, indented, and a summary.
    dir.run(&[
        "verify",
        "--requirements",
        &req,
        &format!("PAYMENT-SIGNATURE: {sig}"),
    ])
    .code(0)
    .says("\"isValid\": true")
    .says("valid: every offline check passed");
}

#[test]
fn verify_expired_payment_is_invalid() {
    let dir = TempDir::new();
    let (sig, _) = signed(&dir, &[]);
    let later = (now() + 61).to_string();
    let out = dir.run(&["verify", "--json", "--now", &later, &sig]);
    out.code(1);
    assert_eq!(
        out.json()["invalidReason"],
        "invalid_exact_evm_payload_authorization_valid_before"
    );
    // Signed an hour ago: expired now.
    let past = (now() - 3600).to_string();
    let (old, _) = signed(&TempDir::new(), &["--now", &past]);
    let out = run(&["verify", "--json", &old]);
    out.code(1);
    assert_eq!(
        out.json()["invalidReason"],
        "invalid_exact_evm_payload_authorization_valid_before"
    );
}

#[test]
fn verify_wrong_key_is_an_invalid_signature() {
    let dir = TempDir::new();
    let (sig, _) = signed(&dir, &[]);
    let (_, other) = dir.key("other.key");
    // The payload claims another payer than the key that signed it.
    let mut doc = unb64(&sig);
    doc["payload"]["authorization"]["from"] = serde_json::json!(other);
    let out = run(&["verify", "--json", &to_header(&doc)]);
    out.code(1);
    let v = out.json();
    assert_eq!(v["invalidReason"], "invalid_exact_evm_signature");
    assert_eq!(v["payer"], other.as_str());
}

#[test]
fn verify_against_other_requirements() {
    let dir = TempDir::new();
    let (sig, _) = signed(&dir, &[]);
    for (edit, reason) in [
        (
            ("payTo", "0x1111111111111111111111111111111111111111"),
            "invalid_exact_evm_recipient_mismatch",
        ),
        (
            ("amount", "20000"),
            "invalid_exact_evm_payload_authorization_value_mismatch",
        ),
        (
            ("network", "eip155:8453"),
            "invalid_exact_evm_network_mismatch",
        ),
    ] {
        let req = requirement_file(&dir, |r| r[edit.0] = serde_json::json!(edit.1));
        let out = dir.run(&["verify", "--json", "--requirements", &req, &sig]);
        out.code(1);
        assert_eq!(out.json()["invalidReason"], reason, "{edit:?}");
    }
}

#[test]
fn verify_the_spec_v1_payment_at_its_time() {
    let dir = TempDir::new();
    let pr: serde_json::Value = serde_json::from_str(SPEC_V1_PR_JSON).unwrap();
    let req = dir.write("v1-req.json", &pr["accepts"][0].to_string());
    let out = dir.run(&[
        "verify",
        "--json",
        "--now",
        "1740672100",
        "--requirements",
        &req,
        SPEC_X_PAYMENT.trim(),
    ]);
    out.code(0);
    assert_eq!(
        out.json()["payer"],
        "0x857b06519E91e3A54538791bDbb0E22373e36b66"
    );
    let out = dir.run(&[
        "verify",
        "--json",
        "--requirements",
        &req,
        SPEC_X_PAYMENT.trim(),
    ]);
    out.code(1);
    assert_eq!(
        out.json()["invalidReason"],
        "invalid_exact_evm_payload_authorization_valid_before"
    );
    // v1 payments carry no requirements.
    dir.run(&["verify", SPEC_X_PAYMENT.trim()])
        .code(2)
        .says("--requirements");
}

#[test]
fn verify_a_facilitator_body_from_a_file() {
    let dir = TempDir::new();
    let (sig, _) = signed(&dir, &[]);
    let payload = unb64(&sig);
    let body = serde_json::json!({
        "x402Version": 2,
        "paymentPayload": payload,
        "paymentRequirements": payload["accepted"],
    });
    let path = dir.write("verify.json", &body.to_string());
    dir.run(&["verify", "--json", &path]).code(0);
    let mut bad = body.clone();
    bad["paymentRequirements"]["amount"] = serde_json::json!("1");
    let path = dir.write("bad.json", &bad.to_string());
    let out = dir.run(&["verify", "--json", &path]);
    out.code(1);
    assert_eq!(
        out.json()["invalidReason"],
        "invalid_exact_evm_payload_authorization_value_mismatch"
    );
    // The spec's example body has placeholders for the signature: malformed, with the field.
    let spec = include_str!("../../x402-core/tests/vectors/spec/v2-spec-verify-request-01.json");
    let path = dir.write("spec.json", spec);
    let out = dir.run(&["verify", "--json", &path]);
    out.code(1);
    let v = out.json();
    assert_eq!(v["invalidReason"], "invalid_payload");
    assert!(
        v["invalidMessage"].as_str().unwrap().contains("payload"),
        "{v}"
    );
}

#[test]
fn verify_bad_input() {
    let dir = TempDir::new();
    let full = SPEC_SIG.trim();
    let out = dir.run(&["verify", "--json", &full[..full.len() - 7]]);
    out.code(1);
    assert_eq!(out.json()["invalidReason"], "invalid_payload");
    dir.run(&["verify", "--requirements", "missing.json", full])
        .code(2)
        .says("requirements file missing.json");
    let whole = dir.write("pr.json", &unb64(SPEC_PR.trim()).to_string());
    dir.run(&["verify", "--requirements", &whole, full])
        .code(2)
        .says("whole PaymentRequired");
    dir.run(&["verify", "--now", "soon", full])
        .code(2)
        .says("--now");
    dir.run(&["verify", &format!("PAYMENT-REQUIRED: {}", SPEC_PR.trim())])
        .code(2)
        .says("does not carry a payment");
    // --json also reports usage errors as JSON.
    let out = dir.run(&["verify", "--json"]);
    out.code(2);
    assert!(out.json()["error"]["message"].is_string());
}

// ---------------------------------------------------------------- pay

#[test]
fn pay_signs_what_verify_accepts() {
    let dir = TempDir::new();
    let (key, address) = dir.key("k");
    let out = dir.run(&["pay", "--json", "--key-file", &key, SPEC_PR.trim()]);
    out.code(0);
    let v = out.json();
    assert_eq!(v["header"], "PAYMENT-SIGNATURE");
    assert_eq!(v["payer"], address.as_str());
    assert_eq!(v["index"], 0);
    assert_eq!(
        v["payload"]["payload"]["authorization"]["from"],
        address.as_str()
    );
    assert_eq!(v["payload"]["payload"]["authorization"]["to"], PAY_TO);
    run(&["verify", v["value"].as_str().unwrap()]).code(0);
}

#[test]
fn pay_a_v1_402_body_gives_x_payment() {
    let dir = TempDir::new();
    let (key, _) = dir.key("k");
    let body = dir.write("402.json", SPEC_V1_PR_JSON);
    let out = dir.run(&["pay", "--key-file", &key, &body]);
    out.code(0);
    assert!(out.stdout.starts_with("X-PAYMENT: "), "{}", out.stdout);
    let pr: serde_json::Value = serde_json::from_str(SPEC_V1_PR_JSON).unwrap();
    let req = dir.write("r.json", &pr["accepts"][0].to_string());
    dir.run(&["verify", "--requirements", &req, &header_value(&out.stdout)])
        .code(0);
}

#[test]
fn pay_with_a_wrong_or_missing_key_file() {
    let dir = TempDir::new();
    for (content, name) in [
        ("0x1234\n", "short.key"),
        ("not a key\n", "text.key"),
        (
            "0x0000000000000000000000000000000000000000000000000000000000000000\n",
            "zero.key",
        ),
        (
            "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\n",
            "order.key",
        ),
    ] {
        let path = dir.write(name, content);
        dir.run(&["pay", "--key-file", &path, SPEC_PR.trim()])
            .code(2)
            .no_panic()
            .says(&format!("key file {path}: not a secp256k1 private key"))
            .says("paywire keygen");
    }
    dir.run(&["pay", "--key-file", "nowhere.key", SPEC_PR.trim()])
        .code(2)
        .says("key file nowhere.key");
    dir.run(&["pay", SPEC_PR.trim()])
        .code(2)
        .says("needs --key-file");
}

#[test]
fn pay_respects_the_policy() {
    let dir = TempDir::new();
    let (key, _) = dir.key("k");
    let pricey = payment_required(PAY_TO, "5000000");
    dir.run(&["pay", "--key-file", &key, &pricey])
        .code(1)
        .says("above the policy's maximum")
        .says("--max-amount");
    dir.run(&[
        "pay",
        "--key-file",
        &key,
        "--max-amount",
        "5000000",
        &pricey,
    ])
    .code(0);
    dir.run(&[
        "pay",
        "--key-file",
        &key,
        "--network",
        "eip155:8453",
        SPEC_PR.trim(),
    ])
    .code(1)
    .says("network not allowed");
    dir.run(&[
        "pay",
        "--key-file",
        &key,
        "--max-amount",
        "lots",
        SPEC_PR.trim(),
    ])
    .code(2)
    .says("--max-amount");
}

#[test]
fn pay_bad_requirements() {
    let dir = TempDir::new();
    let (key, _) = dir.key("k");
    let full = SPEC_PR.trim();
    let out = dir.run(&["pay", "--json", "--key-file", &key, &full[..full.len() - 8]]);
    out.code(1);
    assert_eq!(
        out.json()["error"]["reason"],
        "invalid_payment_requirements"
    );
    dir.run(&[
        "pay",
        "--key-file",
        &key,
        &format!("PAYMENT-SIGNATURE: {}", SPEC_SIG.trim()),
    ])
    .code(2)
    .says("pay takes PAYMENT-REQUIRED");
    let mut pr = unb64(full);
    pr["accepts"][0]["payTo"] = serde_json::json!("0x209693bc6afc0c5328ba36faf03c514ef312287C");
    let out = dir.run(&["pay", "--json", "--key-file", &key, &to_header(&pr)]);
    out.code(1);
    let e = &out.json()["error"];
    assert_eq!(e["reason"], "invalid_payment_requirements");
    assert_eq!(e["field"], "accepts", "{e}");
    assert!(e["message"].as_str().unwrap().contains("payTo"), "{e}");
}

// ---------------------------------------------------------------- keygen

#[test]
fn keygen_writes_an_owner_only_key_and_prints_its_address() {
    let dir = TempDir::new();
    let out = dir.run(&["keygen", "--out", "a.key"]);
    out.code(0);
    let address = out.stdout.trim().to_string();
    assert!(
        address.starts_with("0x") && address.len() == 42,
        "{address}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.file("a.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The key in the file is the key of that address.
    let out = dir.run(&["pay", "--json", "--key-file", "a.key", SPEC_PR.trim()]);
    assert_eq!(out.json()["payer"], address.as_str());
    // Never overwritten by accident; --force replaces it.
    dir.run(&["keygen", "--out", "a.key"])
        .code(2)
        .says("File exists")
        .says("--force");
    let again = dir.run(&["keygen", "--out", "a.key", "--force"]);
    again.code(0);
    assert_ne!(again.stdout.trim(), address);
    dir.run(&["keygen", "--out", "no/such/dir/k"]).code(2);
}

#[test]
fn help_and_unknown_commands() {
    run(&["--help"]).code(0).says("commands:");
    for c in [
        "decode", "verify", "pay", "keygen", "serve", "fetch", "demo",
    ] {
        run(&[c, "--help"])
            .code(0)
            .says(&format!("usage: paywire {c}"));
    }
    run(&["frobnicate"]).code(2).says("unknown command");
    run(&[]).code(2).says("usage: paywire");
}
