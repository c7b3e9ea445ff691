//! Paid MCP tools with rmcp (`paywire_server::mcp`): an rmcp server and
//! client connected in one process, settling through the facilitator double:
//! a paid call delivered and settled once, a tool that fails not settled,
//! every behaviour of `x402-core/tests/vectors/paywall.json` as tool
//! results, the client stopping on an uncertain settlement, the payment as
//! an object or as base64 text, the client's policy, and one payment sent
//! with 20 concurrent calls; and the paying client against a paid tool of
//! Cloudflare's `agents` (Node, over stdio).
#![cfg(feature = "mcp")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../x402-cli/tests/common/doubles.rs"]
mod doubles;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use doubles::{Facilitator as Double, Mode};
use paywire::client::Policy;
use paywire::evm::PrivateKey;
use paywire::lifecycle::Settings;
use paywire_server::mcp::{PaidTools, PayError, call_tool_paying, payment_required_of};
use paywire_server::paywall::{Facilitator, MemoryRecords, Offer};
use rmcp::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    RequestMetaObject, ServerCapabilities, ServerConfig,
};
use rmcp::service::{Peer, RequestContext, RoleClient, RoleServer, RunningService, ServiceExt};
use serde_json::{Value, json};

const VECTORS: &str = include_str!("../../x402-core/tests/vectors/paywall.json");
const NETWORK: &str = "eip155:84532";
const USDC: &str = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";
const PAY_TO: &str = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
const PRICE: u64 = 10_000;

/// A server with `forecast`, `broken` (an error result) and `failing` (an
/// `Err`), all paid.
#[derive(Clone)]
struct Forecast {
    paid: PaidTools,
    ran: Arc<AtomicUsize>,
}

impl ServerHandler for Forecast {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let city = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("city"))
            .and_then(Value::as_str)
            .unwrap_or("nowhere")
            .to_owned();
        let ran = Arc::clone(&self.ran);
        // rmcp moves the call's `_meta` into the request's context.
        let meta = Some(&context.meta);
        let result = match request.name.as_ref() {
            "forecast" => {
                self.paid
                    .call("forecast", meta, async move {
                        ran.fetch_add(1, Ordering::SeqCst);
                        Ok(CallToolResult::success(vec![ContentBlock::text(format!(
                            "sunny in {city}"
                        ))]))
                    })
                    .await
            }
            "broken" => {
                self.paid
                    .call("broken", meta, async move {
                        Ok(CallToolResult::error(vec![ContentBlock::text(
                            "the tool broke",
                        )]))
                    })
                    .await
            }
            "failing" => {
                self.paid
                    .call("failing", meta, async move {
                        Err(ErrorData::internal_error("the tool failed", None))
                    })
                    .await
            }
            other => Err(ErrorData::invalid_params(format!("no tool {other}"), None)),
        }?;
        Ok(result.into())
    }
}

fn offer() -> Offer {
    Offer::exact(NETWORK, USDC, &PRICE.to_string(), PAY_TO)
        .token("USDC", "2")
        .max_timeout_seconds(300)
}

struct Connected {
    peer: Peer<RoleClient>,
    ran: Arc<AtomicUsize>,
    _client: RunningService<RoleClient, ()>,
}

fn paid_tools(fac: &Double) -> PaidTools {
    PaidTools::new(
        Facilitator::new(&fac.url()).unwrap(),
        Arc::new(MemoryRecords::default()),
    )
    .settings(Settings {
        settle_timeout_seconds: 2,
        ..Settings::default()
    })
    .tool("forecast", offer())
    .unwrap()
    .tool("broken", offer())
    .unwrap()
    .tool("failing", offer())
    .unwrap()
}

async fn connect(fac: &Double) -> Connected {
    let ran = Arc::new(AtomicUsize::new(0));
    let server = Forecast {
        paid: paid_tools(fac),
        ran: Arc::clone(&ran),
    };
    connect_to(server, ran).await
}

async fn connect_to<S: rmcp::Service<RoleServer>>(server: S, ran: Arc<AtomicUsize>) -> Connected {
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let client = ().serve(client_io).await.unwrap();
    Connected {
        peer: client.peer().clone(),
        ran,
        _client: client,
    }
}

fn call(city: &str) -> CallToolRequestParams {
    let mut args = serde_json::Map::new();
    args.insert("city".into(), json!(city));
    CallToolRequestParams::new("forecast").with_arguments(args)
}

fn with_payment(payment: Value) -> CallToolRequestParams {
    let mut p = call("Porto");
    let mut meta = RequestMetaObject::default();
    meta.0.0.insert("x402/payment".into(), payment);
    p.meta = Some(meta);
    p
}

fn key() -> PrivateKey {
    PrivateKey::from_bytes(&[0x44; 32]).unwrap()
}

fn policy() -> Policy<'static> {
    Policy {
        max_amount: Some(PRICE.into()),
        ..Policy::default()
    }
}

/// A fresh payment (the PaymentPayload object) for the tool's offer.
async fn payment_for(peer: &Peer<RoleClient>) -> Value {
    let unpaid = peer.call_tool(call("Porto")).await.unwrap();
    let (offer, _) = payment_required_of(&unpaid).unwrap();
    let mut out = vec![0u8; 8192];
    let nonce = paywire::client::random_nonce().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let c = paywire::client::create_payment(
        offer.to_string().as_bytes(),
        &key(),
        nonce,
        now,
        &policy(),
        &mut out,
    )
    .unwrap();
    out.truncate(c.len);
    let mut buf = vec![0u8; 8192];
    let json = paywire::header::decode_to_json(
        std::str::from_utf8(&out).unwrap(),
        &mut buf,
        8192,
        paywire::Reason::InvalidPayload,
    )
    .unwrap();
    serde_json::from_slice(json).unwrap()
}

/// Checks an answer against a vector's expectation (`status`, `reason`).
fn assert_answer(name: &str, result: &CallToolResult, expect: &Value) {
    let text = serde_json::to_string(result).unwrap();
    if expect["status"] == 200 {
        assert_ne!(result.is_error, Some(true), "{name}: {text}");
        assert!(text.contains("sunny in Porto"), "{name}: {text}");
        let meta = result.meta.as_ref().unwrap();
        assert_eq!(meta.0["x402/payment-response"]["success"], true, "{name}");
        return;
    }
    assert_eq!(result.is_error, Some(true), "{name}: {text}");
    assert!(!text.contains("sunny"), "{name}: no content unless settled");
    let reason = expect["reason"].as_str().unwrap();
    if expect["status"] == 402 {
        let (offer, _) = payment_required_of(result).unwrap_or_else(|| panic!("{name}: {text}"));
        assert!(
            offer["error"].as_str().unwrap().starts_with(reason),
            "{name}: {offer}"
        );
    } else {
        assert!(payment_required_of(result).is_none(), "{name}: {text}");
        assert!(!text.contains("accepts"), "{name}: {text}");
        assert_eq!(
            result.structured_content.as_ref().unwrap()["error"],
            reason,
            "{name}"
        );
        let receipt = result
            .meta
            .as_ref()
            .is_some_and(|m| m.0.contains_key("x402/payment-response"));
        assert_eq!(receipt, expect["paymentResponse"] == true, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_call_is_delivered_and_settled_once() {
    let fac = Double::start(Mode::settled());
    let c = connect(&fac).await;
    let unpaid = c.peer.call_tool(call("Lisbon")).await.unwrap();
    assert_eq!(unpaid.is_error, Some(true));
    let sc = unpaid.structured_content.clone().unwrap();
    assert_eq!(sc["accepts"][0]["amount"], PRICE.to_string());
    assert_eq!(sc["resource"]["url"], "mcp://tool/forecast");
    assert_eq!(sc["resource"]["mimeType"], "application/json");
    assert_eq!(unpaid.meta.as_ref().unwrap().0["x402/error"], sc);
    assert_eq!(
        c.ran.load(Ordering::SeqCst),
        0,
        "the tool does not run unpaid"
    );

    let paid = call_tool_paying(&c.peer, call("Lisbon"), &key(), &policy(), |_| true)
        .await
        .unwrap();
    let text = serde_json::to_string(&paid).unwrap();
    assert!(text.contains("sunny in Lisbon"), "{text}");
    assert_eq!(
        paid.meta.as_ref().unwrap().0["x402/payment-response"]["success"],
        true
    );
    assert_eq!(fac.calls().len(), 1);
    let auth = &fac.calls()[0]["paymentPayload"]["payload"]["authorization"];
    assert_eq!(auth["to"], PAY_TO);
    assert_eq!(auth["value"], PRICE.to_string());

    // A tool that fails: paid for, not settled.
    let mut broken = call("Lisbon");
    broken.name = "broken".into();
    let failed = call_tool_paying(&c.peer, broken, &key(), &policy(), |_| true)
        .await
        .unwrap();
    assert_eq!(failed.is_error, Some(true));
    assert!(payment_required_of(&failed).is_none());
    assert_eq!(fac.calls().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_of_the_facilitator_table() {
    let vectors: Value = serde_json::from_str(VECTORS).unwrap();
    for v in vectors["vectors"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let expect = &v["expect"];
        let fac = Double::start(Mode::from_vector(&v["reply"]));
        let c = connect(&fac).await;
        let payment = payment_for(&c.peer).await;
        let first = c
            .peer
            .call_tool(with_payment(payment.clone()))
            .await
            .unwrap();
        assert_answer(name, &first, expect);
        let settles = fac.calls().len();
        if let Some(again) = expect.get("again") {
            let got = c
                .peer
                .call_tool(with_payment(payment.clone()))
                .await
                .unwrap();
            assert_answer(&format!("{name}, again"), &got, again);
            assert_eq!(
                fac.calls().len(),
                settles + usize::from(again["status"] == 402),
                "{name}: never settled twice"
            );
        }
        if let Some(recovered) = expect.get("recovered") {
            fac.set(Mode::settled());
            let got = c
                .peer
                .call_tool(with_payment(payment.clone()))
                .await
                .unwrap();
            assert_answer(&format!("{name}, recovered"), &got, recovered);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_payment_as_base64_text_and_garbage() {
    let fac = Double::start(Mode::settled());
    let c = connect(&fac).await;
    let payment = payment_for(&c.peer).await;
    let mut b64 = vec![0u8; 8192];
    let json = payment.to_string();
    let n = paywire::header::base64_encode(json.as_bytes(), &mut b64).unwrap();
    let text = String::from_utf8(b64[..n].to_vec()).unwrap();
    let got = c
        .peer
        .call_tool(with_payment(Value::String(text)))
        .await
        .unwrap();
    assert_answer("base64", &got, &json!({"status": 200}));
    let got = c.peer.call_tool(with_payment(payment)).await.unwrap();
    assert_answer(
        "object after base64",
        &got,
        &json!({"status": 409, "reason": "payment_already_delivered", "paymentResponse": true}),
    );
    let got = c
        .peer
        .call_tool(with_payment(json!("not-base64!")))
        .await
        .unwrap();
    assert_answer(
        "garbage",
        &got,
        &json!({"status": 402, "reason": "invalid_payload"}),
    );
    assert_eq!(fac.calls().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_pays_within_its_policy_and_never_twice() {
    let fac = Double::start(Mode::settled());
    let c = connect(&fac).await;
    let cheap = Policy {
        max_amount: Some((PRICE - 1).into()),
        ..Policy::default()
    };
    let e = call_tool_paying(&c.peer, call("Porto"), &key(), &cheap, |_| true)
        .await
        .unwrap_err();
    assert!(matches!(e, PayError::Policy(_)), "{e}");
    let e = call_tool_paying(&c.peer, call("Porto"), &key(), &Policy::default(), |_| true)
        .await
        .unwrap_err();
    assert!(matches!(e, PayError::Policy(_)), "{e}");
    let mut seen = None;
    let e = call_tool_paying(&c.peer, call("Porto"), &key(), &policy(), |r| {
        seen = Some(r.clone());
        false
    })
    .await
    .unwrap_err();
    assert!(e.to_string().contains("declined"), "{e}");
    assert_eq!(seen.unwrap()["amount"], PRICE.to_string());
    assert_eq!(fac.calls().len(), 0);
    assert_eq!(c.ran.load(Ordering::SeqCst), 0, "no paid call was sent");
    fac.set(Mode::from_vector(&json!({"status": 200, "body":
        r#"{"success":false,"errorReason":"invalid_exact_evm_insufficient_balance","transaction":"","network":"eip155:84532"}"#})));
    let e = call_tool_paying(&c.peer, call("Porto"), &key(), &policy(), |_| true)
        .await
        .unwrap_err();
    let PayError::Refused(reason, _) = &e else {
        panic!("{e}")
    };
    assert!(
        reason.starts_with("invalid_exact_evm_insufficient_balance"),
        "{reason}"
    );
    assert_eq!(fac.calls().len(), 1);
}

/// A server that knows nothing of payments, with `forecast` and `free`.
#[derive(Clone)]
struct Plain {
    ran: Arc<AtomicUsize>,
}

impl ServerHandler for Plain {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let text = match request.name.as_ref() {
            "forecast" => {
                self.ran.fetch_add(1, Ordering::SeqCst);
                "sunny in Porto"
            }
            "free" => "free",
            other => return Err(ErrorData::invalid_params(format!("no tool {other}"), None)),
        };
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
    }
}

/// `PaidTools::wrap`: the priced tools of a server that knows nothing of
/// payments are paid per call, the others answered as they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_wrapped_whole() {
    let fac = Double::start(Mode::settled());
    let ran = Arc::new(AtomicUsize::new(0));
    let server = paid_tools(&fac).wrap(Plain {
        ran: Arc::clone(&ran),
    });
    let c = connect_to(server, ran).await;
    let free = c
        .peer
        .call_tool(CallToolRequestParams::new("free"))
        .await
        .unwrap();
    assert_ne!(free.is_error, Some(true));
    let unpaid = c.peer.call_tool(call("Porto")).await.unwrap();
    assert!(payment_required_of(&unpaid).is_some());
    assert_eq!(
        c.ran.load(Ordering::SeqCst),
        0,
        "the tool does not run unpaid"
    );
    let payment = payment_for(&c.peer).await;
    let paid = c
        .peer
        .call_tool(with_payment(payment.clone()))
        .await
        .unwrap();
    assert_answer("wrapped", &paid, &json!({"status": 200}));
    let again = c.peer.call_tool(with_payment(payment)).await.unwrap();
    assert_answer(
        "wrapped, again",
        &again,
        &json!({"status": 409, "reason": "payment_already_delivered", "paymentResponse": true}),
    );
    assert_eq!(fac.calls().len(), 1);
    assert_eq!(c.ran.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_that_errs_is_not_settled() {
    let fac = Double::start(Mode::settled());
    let c = connect(&fac).await;
    let mut failing = call("Porto");
    failing.name = "failing".into();
    let got = call_tool_paying(&c.peer, failing, &key(), &policy(), |_| true)
        .await
        .unwrap();
    assert_eq!(got.is_error, Some(true));
    assert_eq!(
        got.structured_content.as_ref().unwrap()["error"],
        "handler_failed"
    );
    assert!(payment_required_of(&got).is_none());
    assert_eq!(fac.calls().len(), 0, "not settled");
}

/// A facilitator that hangs past the settle timeout: the server answers
/// `settlement_uncertain` (nothing to pay), the client stops there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_stops_on_an_uncertain_settlement() {
    let fac = Double::start(Mode::Hang);
    let c = connect(&fac).await;
    let e = call_tool_paying(&c.peer, call("Porto"), &key(), &policy(), |_| true)
        .await
        .unwrap_err();
    let PayError::Uncertain(result) = &e else {
        panic!("{e}")
    };
    assert!(
        e.to_string()
            .contains("may have been charged; do not pay again"),
        "{e}"
    );
    let text = serde_json::to_string(result).unwrap();
    assert!(
        !text.contains("accepts") && !text.contains("sunny"),
        "{text}"
    );
    assert_eq!(
        fac.calls().len(),
        1,
        "one settlement asked, no second payment"
    );
    assert_eq!(c.ran.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_payment_twenty_concurrent_calls_settle_once() {
    let fac = Double::start(Mode::settled_after(Duration::from_millis(300)));
    let c = connect(&fac).await;
    let payment = payment_for(&c.peer).await;
    let calls = (0..20).map(|_| {
        let peer = c.peer.clone();
        let p = payment.clone();
        tokio::spawn(async move { peer.call_tool(with_payment(p)).await.unwrap() })
    });
    let mut results = Vec::new();
    for t in calls {
        results.push(t.await.unwrap());
    }
    let ok = results.iter().filter(|r| r.is_error != Some(true)).count();
    assert_eq!(ok, 1);
    assert_eq!(fac.calls().len(), 1);
    assert_eq!(c.ran.load(Ordering::SeqCst), 1, "the tool ran once");
    for r in results.iter().filter(|r| r.is_error == Some(true)) {
        let e = &r.structured_content.as_ref().unwrap()["error"];
        assert!(
            e == "payment_in_progress" || e == "payment_already_delivered",
            "{e}"
        );
        assert!(payment_required_of(r).is_none());
    }
}

/// A paid tool of Cloudflare's agents 0.32 (`withX402` + `paidTool`, run by
/// Node from the repository's test tools) over stdio, settling through
/// `fac`; `None` when the JavaScript test tools are not installed.
async fn cloudflare(
    fac: &Double,
) -> Option<(RunningService<RoleClient, ()>, tokio::process::Child)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = root.join("x402-wasm/tests/mcp/server.mjs");
    if !root.join("node_modules/agents/package.json").exists() {
        eprintln!("skipped: the JavaScript test tools are not installed (scripts/install-js.sh)");
        return None;
    }
    let mut child = tokio::process::Command::new("node")
        .arg(&script)
        .args(["cloudflare", "stdio"])
        .current_dir(&root)
        .envs([
            ("FACILITATOR_URL", fac.url()),
            ("NETWORK", NETWORK.into()),
            ("ASSET", USDC.into()),
            ("PAY_TO", PAY_TO.into()),
            ("PRICE", PRICE.to_string()),
            ("TOKEN_NAME", "USDC".into()),
            ("TOKEN_VERSION", "2".into()),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node");
    let io = (child.stdout.take().unwrap(), child.stdin.take().unwrap());
    let client = tokio::time::timeout(Duration::from_secs(30), ().serve(io))
        .await
        .unwrap()
        .unwrap();
    Some((client, child))
}

/// Cloudflare's paid tool signals only in `_meta["x402/error"]` and reads
/// the payment as base64 text; the client answers it in that form, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paying_cloudflares_paid_tool_over_stdio() {
    let fac = Double::start(Mode::settled());
    let Some((client, mut child)) = cloudflare(&fac).await else {
        return;
    };
    let peer = client.peer().clone();
    let unpaid = peer.call_tool(call("Lisbon")).await.unwrap();
    let (offer, as_text) = payment_required_of(&unpaid).unwrap();
    assert!(
        as_text,
        "Cloudflare's server signals in _meta[\"x402/error\"] only"
    );
    assert_eq!(offer["accepts"][0]["amount"], PRICE.to_string());
    let paid = tokio::time::timeout(
        Duration::from_secs(30),
        call_tool_paying(&peer, call("Lisbon"), &key(), &policy(), |_| true),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        serde_json::to_string(&paid)
            .unwrap()
            .contains("sunny in Lisbon")
    );
    assert_eq!(
        paid.meta.as_ref().unwrap().0["x402/payment-response"]["success"],
        true
    );
    assert_eq!(fac.calls().len(), 1);
    let auth = &fac.calls()[0]["paymentPayload"]["payload"]["authorization"];
    assert_eq!(auth["value"], PRICE.to_string());
    assert_eq!(auth["to"], PAY_TO);
    drop(client);
    let _ = child.kill().await;
}

/// Cloudflare's server answers a failed settlement with a new
/// payment-required result, even when the transfer may have happened: the
/// client stops there, and says not to pay again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudflares_tool_whose_settlement_fails_is_paid_once() {
    let fac = Double::start(Mode::from_vector(&json!({
        "status": 502, "contentType": "text/html", "body": "<html>bad gateway</html>"
    })));
    let Some((client, mut child)) = cloudflare(&fac).await else {
        return;
    };
    let e = tokio::time::timeout(
        Duration::from_secs(30),
        call_tool_paying(client.peer(), call("Lisbon"), &key(), &policy(), |_| true),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert!(matches!(e, PayError::Refused(..)), "{e}");
    assert!(e.to_string().contains("do not pay again"), "{e}");
    assert_eq!(
        fac.calls().len(),
        1,
        "one settlement asked, no second payment"
    );
    drop(client);
    let _ = child.kill().await;
}
