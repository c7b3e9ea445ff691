//! `paywire serve`, `fetch` and `demo`, run as processes on 127.0.0.1: payments,
//! refusals (replay, expired, wrong key, underpayment), a facilitator, a port in use.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

/// A merchant address and a running paywall selling `/paid` for 0.01 test-USDC.
fn paywall(dir: &TempDir, extra: &[&str]) -> (Server, String) {
    let (_, merchant) = dir.key("merchant.key");
    let mut args = vec![
        "--pay-to", &merchant, "--price", "0.01", "--port", "0", "--path", "/paid",
    ];
    args.extend_from_slice(extra);
    (serve(dir.path(), &args), merchant)
}

/// The server's PAYMENT-REQUIRED header value.
fn payment_required_of(url: &str) -> String {
    let (status, headers, _) = http_get(url, &[]);
    assert_eq!(status, 402);
    header(&headers, "payment-required").unwrap().to_string()
}

#[test]
fn serve_and_fetch_pay_and_get_the_content() {
    let dir = TempDir::new();
    let (server, merchant) = paywall(&dir, &["--content", "the paid text"]);
    assert!(
        server.url.starts_with("http://127.0.0.1:"),
        "{}",
        server.url
    );
    let (key, payer) = dir.key("payer.key");
    let out = dir.run(&["fetch", &server.url, "--key-file", &key]);
    out.code(0)
        .no_panic()
        .says("PAYMENT-RESPONSE")
        .says("\"success\": true")
        .says("simulated:0x")
        .says("the paid text")
        .says("→ 402 Payment Required")
        .says("→ 200 OK");
    // Machine-readable too.
    let out = dir.run(&["fetch", "--json", &server.url, "--key-file", &key]);
    out.code(0);
    let v = out.json();
    assert_eq!(v["status"], 200);
    assert_eq!(v["paid"], true);
    assert_eq!(v["accepted"]["payTo"], merchant.as_str());
    assert_eq!(v["accepted"]["amount"], "10000");
    assert_eq!(v["paymentResponse"]["payer"], payer.as_str());
    assert_eq!(v["body"], "the paid text");
    let log = server.stderr();
    assert!(log.contains("SIMULATED"), "{log}");
    assert!(log.contains("settled (simulated)"), "{log}");
}

#[test]
fn serve_answers_402_with_a_decodable_header() {
    let dir = TempDir::new();
    let (server, merchant) = paywall(&dir, &[]);
    let (status, headers, body) = http_get(&server.url, &[]);
    assert_eq!(status, 402);
    let pr = header(&headers, "payment-required").unwrap();
    let doc = unb64(pr);
    assert_eq!(doc["x402Version"], 2);
    assert_eq!(doc["resource"]["url"], server.url.as_str());
    assert_eq!(doc["accepts"][0]["payTo"], merchant.as_str());
    assert_eq!(doc["accepts"][0]["amount"], "10000");
    assert_eq!(doc["accepts"][0]["network"], "eip155:84532");
    // The body repeats the document.
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body, doc);
    // `paywire decode` reads it.
    dir.run(&["decode", pr])
        .code(0)
        .says("payable with `paywire pay`");
    // Other paths and methods.
    let (status, _, _) = http_get(&format!("{}/other", server.origin()), &[]);
    assert_eq!(status, 404);
}

/// Sends `value` as PAYMENT-SIGNATURE and returns (status, PaymentRequired error).
fn send_payment(url: &str, value: &str) -> (u16, String) {
    let (status, headers, _) = http_get(url, &[("PAYMENT-SIGNATURE", value)]);
    let error = header(&headers, "payment-required")
        .map(|v| unb64(v)["error"].as_str().unwrap_or("").to_string())
        .unwrap_or_default();
    (status, error)
}

#[test]
fn serve_refuses_a_replayed_payment() {
    let dir = TempDir::new();
    let (server, _) = paywall(&dir, &[]);
    let (key, _) = dir.key("payer.key");
    let pr = payment_required_of(&server.url);
    let out = dir.run(&["pay", "--key-file", &key, &pr]);
    out.code(0);
    let sig = header_value(&out.stdout);
    let (status, headers, _) = http_get(&server.url, &[("PAYMENT-SIGNATURE", &sig)]);
    assert_eq!(status, 200);
    let first = header(&headers, "payment-response").unwrap().to_string();
    let response = unb64(&first);
    assert_eq!(response["success"], true);
    // Neither served nor charged again: 409 with the earlier PAYMENT-RESPONSE.
    let (status, headers, body) = http_get(&server.url, &[("PAYMENT-SIGNATURE", &sig)]);
    assert_eq!(status, 409, "{body}");
    assert_eq!(header(&headers, "payment-response"), Some(first.as_str()));
    assert!(header(&headers, "payment-required").is_none());
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "payment_already_delivered");
}

#[test]
fn serve_refuses_expired_wrong_key_and_underpaid_payments() {
    let dir = TempDir::new();
    let (server, merchant) = paywall(&dir, &[]);
    let (key, _) = dir.key("payer.key");
    let pr = payment_required_of(&server.url);

    // Signed two minutes ago with a 60-second window: expired.
    let past = (now() - 120).to_string();
    let out = dir.run(&["pay", "--key-file", &key, "--now", &past, &pr]);
    let (status, error) = send_payment(&server.url, &header_value(&out.stdout));
    assert_eq!(status, 402);
    assert!(
        error.starts_with("invalid_exact_evm_payload_authorization_valid_before"),
        "{error}"
    );

    // Signed by one key, claiming to be from another.
    let out = dir.run(&["pay", "--key-file", &key, &pr]);
    let mut doc = unb64(&header_value(&out.stdout));
    let (_, other) = dir.key("other.key");
    doc["payload"]["authorization"]["from"] = serde_json::json!(other);
    let (status, error) = send_payment(&server.url, &to_header(&doc));
    assert_eq!(status, 402);
    assert!(error.starts_with("invalid_exact_evm_signature"), "{error}");

    // A valid signature for a cheaper requirement.
    let cheap = payment_required(&merchant, "1");
    let out = dir.run(&["pay", "--key-file", &key, &cheap]);
    let (status, error) = send_payment(&server.url, &header_value(&out.stdout));
    assert_eq!(status, 402);
    assert!(
        error.starts_with("invalid_exact_evm_payload_authorization_value_mismatch"),
        "{error}"
    );

    // A truncated header.
    let out = dir.run(&["pay", "--key-file", &key, &pr]);
    let sig = header_value(&out.stdout);
    let (status, error) = send_payment(&server.url, &sig[..sig.len() - 5]);
    assert_eq!(status, 402);
    assert!(error.starts_with("invalid_payload"), "{error}");

    // v1's header on a v2 server.
    let (status, headers, _) = http_get(&server.url, &[("X-PAYMENT", &sig)]);
    assert_eq!(status, 402);
    let error = unb64(header(&headers, "payment-required").unwrap())["error"].clone();
    assert!(
        error.as_str().unwrap().contains("x402 version 2"),
        "{error}"
    );

    // None of these moved money or killed the server: a good payment still works.
    let (status, _) = send_payment(&server.url, &sig);
    assert_eq!(status, 200);
}

#[test]
fn serve_fails_clearly_on_a_port_in_use() {
    let dir = TempDir::new();
    let (_, merchant) = dir.key("m.key");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = dir.run(&[
        "serve", "--pay-to", &merchant, "--price", "0.01", "--port", &port,
    ]);
    out.code(2)
        .no_panic()
        .says(&format!("127.0.0.1:{port}"))
        .says("already in use")
        .says("--port");
    // The demo too.
    let out = dir.run(&["demo", "--port", &port]);
    out.code(2).says("already in use");
    drop(taken);
}

#[test]
fn serve_on_a_chosen_free_port() {
    let dir = TempDir::new();
    let (_, merchant) = dir.key("m.key");
    let port = free_port().to_string();
    let server = serve(
        dir.path(),
        &["--pay-to", &merchant, "--price", "0.25", "--port", &port],
    );
    assert_eq!(server.url, format!("http://127.0.0.1:{port}/"));
    let pr = unb64(&payment_required_of(&server.url));
    assert_eq!(pr["accepts"][0]["amount"], "250000");
}

#[test]
fn serve_usage_errors() {
    let dir = TempDir::new();
    let (_, merchant) = dir.key("m.key");
    let private_key = private_file(&dir, "api.key", "k-0123456789\n");
    let spaced_key = private_file(&dir, "spaced.key", "two words\n");
    let shared_key = dir.write("shared.key", "k-0123456789\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&shared_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    for (args, says) in [
        (vec!["serve", "--price", "0.01"], "needs --pay-to"),
        (vec!["serve", "--pay-to", &merchant], "needs --price"),
        (
            vec!["serve", "--pay-to", &merchant, "--price", "1e3"],
            "--price \"1e3\"",
        ),
        (
            vec!["serve", "--pay-to", &merchant, "--price", "0.0000001"],
            "more than 6 decimal places",
        ),
        (
            vec![
                "serve",
                "--pay-to",
                "0x209693bc6afc0c5328ba36faf03c514ef312287C",
                "--price",
                "1",
            ],
            "--pay-to",
        ),
        (
            vec![
                "serve", "--pay-to", &merchant, "--price", "1", "--port", "70000",
            ],
            "--port 70000",
        ),
        (
            vec![
                "serve",
                "--pay-to",
                &merchant,
                "--price",
                "1",
                "--network",
                "eip155:1",
            ],
            "--asset is needed",
        ),
        (
            vec![
                "serve",
                "--pay-to",
                &merchant,
                "--price",
                "1",
                "--facilitator",
                "ftp://x",
            ],
            "--facilitator",
        ),
        (
            vec![
                "serve",
                "--pay-to",
                &merchant,
                "--price",
                "1",
                "--facilitator-key-file",
                &private_key,
            ],
            "--facilitator-key-file without --facilitator",
        ),
        (
            vec![
                "serve",
                "--pay-to",
                &merchant,
                "--price",
                "1",
                "--facilitator",
                "http://127.0.0.1:9/",
                "--facilitator-key-file",
                &shared_key,
            ],
            "can be read by other users",
        ),
        (
            vec![
                "serve",
                "--pay-to",
                &merchant,
                "--price",
                "1",
                "--facilitator",
                "http://127.0.0.1:9/",
                "--facilitator-key-file",
                &spaced_key,
            ],
            "printable ASCII without spaces",
        ),
    ] {
        dir.run(&args).code(2).no_panic().says(says);
    }
}

/// A file only its owner may read, as an API key file must be.
fn private_file(dir: &TempDir, name: &str, text: &str) -> String {
    let p = dir.write(name, text);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    p
}

#[test]
fn serve_json_events() {
    let dir = TempDir::new();
    let (server, _) = paywall(&dir, &["--json"]);
    let (key, _) = dir.key("payer.key");
    dir.run(&["fetch", &server.url, "--key-file", &key]).code(0);
    let mut events = Vec::new();
    while let Ok(line) = server.stdout_lines.recv_timeout(Duration::from_secs(5)) {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let e = v["event"].as_str().unwrap().to_string();
        let done = e == "served";
        events.push(v);
        if done {
            break;
        }
    }
    let names: Vec<&str> = events
        .iter()
        .map(|v| v["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "request",
            "paymentRequired",
            "request",
            "verified",
            "calldata",
            "chainChecks",
            "settled",
            "served"
        ]
    );
    assert_eq!(events[3]["verifyResponse"]["isValid"], true);
    // transferWithAuthorization (v, r, s), shown and not sent.
    assert_eq!(events[4]["sent"], false);
    assert!(
        events[4]["data"]
            .as_str()
            .unwrap()
            .starts_with("0xe3ee160e")
    );
    assert_eq!(
        events[4]["data"].as_str().unwrap().len(),
        2 + 2 * (4 + 9 * 32)
    );
    assert_eq!(events[6]["simulated"], true);
}

#[test]
fn fetch_refusals_and_errors() {
    let dir = TempDir::new();
    let (server, _) = paywall(&dir, &[]);
    let (key, _) = dir.key("payer.key");
    dir.run(&[
        "fetch",
        &server.url,
        "--key-file",
        &key,
        "--max-amount",
        "9999",
    ])
    .code(1)
    .says("above the policy's maximum");
    dir.run(&[
        "fetch",
        &format!("{}/nothing", server.origin()),
        "--key-file",
        &key,
    ])
    .code(1)
    .says("404");
    let closed = free_port();
    dir.run(&[
        "fetch",
        &format!("http://127.0.0.1:{closed}/"),
        "--key-file",
        &key,
    ])
    .code(2)
    .no_panic()
    .says("failed");
    dir.run(&["fetch", "https://127.0.0.1:1/", "--key-file", &key])
        .code(2)
        .says("--features tls");
    dir.run(&["fetch", "ftp://x", "--key-file", &key]).code(2);
    dir.run(&["fetch", &server.url]).code(2).says("--key-file");
    let bad = dir.write("bad.key", "0xzz\n");
    dir.run(&["fetch", &server.url, "--key-file", &bad])
        .code(2)
        .says("not a secp256k1 private key");
}

/// A one-shot server answering every request with `response` (raw HTTP).
fn canned(response: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/x", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
            }
            let _ = stream.write_all(response.as_bytes());
        }
    });
    url
}

#[test]
fn fetch_a_truncated_or_missing_payment_required() {
    let dir = TempDir::new();
    let (key, _) = dir.key("payer.key");
    let pr = payment_required("0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "10");
    let truncated = &pr[..pr.len() - 6];
    let url = canned(format!(
        "HTTP/1.1 402 Payment Required\r\nPAYMENT-REQUIRED: {truncated}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    ));
    let out = dir.run(&["fetch", "--json", &url, "--key-file", &key]);
    out.code(1).no_panic();
    let e = &out.json()["error"];
    assert_eq!(e["reason"], "invalid_payment_requirements");
    assert!(
        e["message"].as_str().unwrap().contains("PAYMENT-REQUIRED"),
        "{e}"
    );
    let url = canned(
        "HTTP/1.1 402 Payment Required\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
            .to_string(),
    );
    dir.run(&["fetch", &url, "--key-file", &key])
        .code(1)
        .says("without a PAYMENT-REQUIRED header");
}

#[test]
fn serve_refuses_oversized_requests() {
    let dir = TempDir::new();
    let (server, _) = paywall(&dir, &[]);
    let huge = "A".repeat(70 * 1024);
    let (status, _, _) = http_get(&server.url, &[("PAYMENT-SIGNATURE", &huge)]);
    assert_eq!(status, 431);
    // Still serving.
    let (status, _, _) = http_get(&server.url, &[]);
    assert_eq!(status, 402);
}

/// A stand-in facilitator: answers `POST /settle` with `answer` and records the bodies.
fn facilitator(answer: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let path = line.split(' ').nth(1).unwrap_or("").to_string();
            let mut len = 0;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some((n, v)) = h.split_once(':')
                    && n.eq_ignore_ascii_case("content-length")
                {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            seen.lock()
                .unwrap()
                .push(format!("{path} {}", String::from_utf8(body).unwrap()));
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
            let _ = stream.write_all(resp.as_bytes());
        }
    });
    (url, bodies)
}

#[test]
fn serve_settles_through_a_facilitator() {
    let (fac, bodies) = facilitator(
        r#"{"success":true,"payer":"0x857b06519E91e3A54538791bDbb0E22373e36b66","transaction":"0xabababababababababababababababababababababababababababababababab","network":"eip155:84532"}"#,
    );
    let dir = TempDir::new();
    let (server, merchant) = paywall(&dir, &["--facilitator", &fac]);
    let (key, payer) = dir.key("payer.key");
    let out = dir.run(&["fetch", "--json", &server.url, "--key-file", &key]);
    out.code(0);
    let v = out.json();
    assert_eq!(
        v["paymentResponse"]["transaction"],
        "0xabababababababababababababababababababababababababababababababab"
    );
    let seen = bodies.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let (path, body) = seen[0].split_once(' ').unwrap();
    assert_eq!(path, "/settle");
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["x402Version"], 2);
    assert_eq!(body["paymentRequirements"]["payTo"], merchant.as_str());
    assert_eq!(
        body["paymentPayload"]["payload"]["authorization"]["from"],
        payer.as_str()
    );
}

#[test]
fn serve_reports_a_facilitator_refusal_and_absence() {
    let (fac, _) = facilitator(
        r#"{"success":false,"errorReason":"invalid_exact_evm_insufficient_balance","transaction":"","network":"eip155:84532"}"#,
    );
    let dir = TempDir::new();
    let (server, _) = paywall(&dir, &["--facilitator", &fac]);
    let (key, _) = dir.key("payer.key");
    let out = dir.run(&["fetch", "--json", &server.url, "--key-file", &key]);
    out.code(1);
    assert_eq!(
        out.json()["refused"],
        "invalid_exact_evm_insufficient_balance"
    );
    // No facilitator listening: a 502, said plainly.
    let gone = format!("http://127.0.0.1:{}", free_port());
    let (server, _) = paywall(&TempDir::new(), &["--facilitator", &gone]);
    let out = dir.run(&["fetch", &server.url, "--key-file", &key]);
    out.code(1).says("502").says("facilitator");
}

#[test]
fn demo_runs_end_to_end() {
    let out = run(&["demo"]);
    out.code(0).no_panic();
    for s in [
        "SIMULATED",
        "[1/16] wallets",
        "→ 402 Payment Required",
        "decoded PAYMENT-REQUIRED",
        "agent: chooses accepts[0]",
        "transferWithAuthorization",
        "\"isValid\": true",
        "simulated:0x",
        "→ 200 OK",
        "0.990000 test-USDC",
        "already delivered, answered with the earlier PAYMENT-RESPONSE",
        "[10/16] deferred agent: a fresh Ed25519 key",
        "\"scheme\": \"batch-settlement\"",
        "Signature-Input",
        "tag=\"web-bot-auth\"",
        "server: key directory",
        "\"network\": \"cloudflare:402\"",
        "the signature no longer verifies, refused as it must be",
        "1 deferred commitment(s) recorded",
        "all 16 steps succeeded",
    ] {
        out.says(s);
    }
}

#[test]
fn demo_json_has_a_line_per_step() {
    let out = run(&["demo", "--json"]);
    out.code(0);
    let lines: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 17, "{}", out.stdout);
    for (i, step) in lines[..16].iter().enumerate() {
        assert_eq!(step["step"], i as u64 + 1);
        assert_eq!(step["ok"], true, "{step}");
    }
    assert_eq!(lines[6]["details"]["verifyResponse"]["isValid"], true);
    assert_eq!(lines[6]["details"]["settleResponse"]["success"], true);
    assert_eq!(lines[7]["details"]["payerBalance"], "0.990000 test-USDC");
    let calldata = &lines[6]["details"]["calldata"];
    assert_eq!(calldata["sent"], false);
    assert_eq!(calldata["to"], "0x036CbD53842c5426634e7929541eC2318f3dCF7e");
    let payer = lines[0]["details"]["payer"]
        .as_str()
        .unwrap()
        .to_lowercase();
    let data = calldata["data"].as_str().unwrap();
    assert!(data.starts_with("0xe3ee160e"), "{data}");
    assert_eq!(
        &data[10 + 24..10 + 64],
        &payer[2..],
        "the first word is `from`"
    );
    // The deferred agent: its signed request verified, the receipt, the tampered copy refused.
    let paid = &lines[13]["details"];
    assert_eq!(paid["verifyResponse"]["isValid"], true);
    assert_eq!(
        paid["verifyResponse"]["extra"]["scheme"],
        "batch-settlement"
    );
    assert_eq!(paid["paymentResponse"]["network"], "cloudflare:402");
    assert_eq!(paid["paymentResponse"]["amount"], "5");
    assert_eq!(
        lines[14]["details"]["verifyResponse"]["invalidReason"],
        "invalid_batch_settlement_cloudflare_signature"
    );
    assert_eq!(lines[16]["ok"], true);
    assert_eq!(lines[16]["steps"], 16);
}
