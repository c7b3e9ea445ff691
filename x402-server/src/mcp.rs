//! Paid MCP tools for [rmcp](https://docs.rs/rmcp) servers, and rmcp clients
//! that pay for them (x402's MCP transport).
//!
//! A paid tool call goes through the core's lifecycle as a paid HTTP request
//! does ([`crate::paywall`]), with the same guarantees: the tool runs only
//! for a payment that verifies, its result is sent only once settled (with
//! `_meta["x402/payment-response"]`); a tool that fails (`is_error`, or
//! `Err`) is not settled; a payment pays for one call, once; a facilitator
//! that fails never gets the result delivered nor the client asked to pay
//! again. What each answer is as a tool result is the core's
//! ([`paywire::mcp::tool_answer`]).
//!
//! In a tool of an rmcp server, hand the tool's work to [`PaidTools::call`]
//! with the call's `_meta` (rmcp puts it in the request's context,
//! `context.meta`, and gives it to a `#[tool]` function that takes a
//! `RequestMetaObject`):
//!
//! ```no_run
//! use std::sync::Arc;
//! use paywire_server::mcp::PaidTools;
//! use paywire_server::paywall::{Facilitator, MemoryRecords, Offer};
//! use rmcp::model::{CallToolResult, ContentBlock, RequestMetaObject};
//!
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let paid = PaidTools::new(Facilitator::new("https://facilitator.example")?, Arc::new(MemoryRecords::default()))
//!     .tool("forecast", Offer::exact("eip155:8453", "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
//!                                    "10000", "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"))?;
//! // In the tool, or in `ServerHandler::call_tool` with `Some(&context.meta)`:
//! # let meta = RequestMetaObject::default();
//! let result = paid.call("forecast", Some(&meta), async move {
//!     Ok(CallToolResult::success(vec![ContentBlock::text("sunny")]))
//! });
//! # let _ = result; Ok(()) }
//! ```
//!
//! Or wrap a whole server, its `#[tool_router]` tools untouched:
//! `paid.wrap(server)` is a [`PaidServer`], an rmcp service that sends the
//! calls of priced tools through [`PaidTools::call`] and everything else to
//! `server`. Only a complete tool result is settled: one asking for input
//! first, or a task, is passed on unsettled.
//!
//! A client pays with [`call_tool_paying`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use paywire::client::{self, Policy};
use paywire::evm::PrivateKey;
use paywire::header;
use paywire::lifecycle::{self, Lifecycle, Route, Settings, Transport};
use paywire::mcp::{ERROR_META_KEY, PAYMENT_META_KEY, ToolAnswer, tool_answer};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientRequest, ContentBlock, ErrorData,
    RequestMetaObject, ServerResult,
};
use rmcp::service::{
    NotificationContext, Peer, RequestContext, RoleClient, RoleServer, Service, ServiceError,
    ServiceRole,
};
use serde_json::Value;

use crate::paywall::{
    Error, Handled, Offer, Paywall, RecordStore, Responding, Settler, finish, now,
};

/// Tools paid per call: where payments settle, where their records are
/// kept, and what each priced tool asks. Cheap to clone.
#[derive(Clone)]
pub struct PaidTools {
    paywall: Paywall,
    tools: Arc<Vec<(String, Route)>>,
}

impl std::fmt::Debug for PaidTools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaidTools")
            .field(
                "tools",
                &self.tools.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// The call's payment as a `PAYMENT-SIGNATURE` value: base64 text as it came
/// (Cloudflare's clients), an object as the base64 of its JSON (the
/// transport's form); the lifecycle judges either.
fn payment_header(meta: Option<&RequestMetaObject>) -> Option<String> {
    match meta?.0.0.get(PAYMENT_META_KEY)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => {
            let json = other.to_string();
            let mut out = vec![0u8; header::base64_encoded_len(json.len())];
            let n = header::base64_encode(json.as_bytes(), &mut out).ok()?;
            out.truncate(n);
            String::from_utf8(out).ok()
        }
    }
}

impl PaidTools {
    /// No priced tool yet; payments settle through `facilitator`, their
    /// records are kept in `records` (shared with every server that sells
    /// the same tools).
    #[must_use]
    pub fn new(facilitator: impl Settler + 'static, records: Arc<dyn RecordStore>) -> PaidTools {
        PaidTools {
            paywall: Paywall::new(facilitator, records),
            tools: Arc::new(Vec::new()),
        }
    }

    /// Prices the tool `name` at `offer`, for `mcp://tool/<name>`.
    ///
    /// # Errors
    /// The offer is not one the core's lifecycle can settle (the error names
    /// the field), or the tool is priced already.
    pub fn tool(mut self, name: &str, offer: Offer) -> Result<PaidTools, Error> {
        if self.tools.iter().any(|(n, _)| n == name) {
            return Err(Error(format!("tool {name:?} is priced twice")));
        }
        let route = offer.route(&format!("mcp://tool/{name}"), "POST")?;
        Arc::make_mut(&mut self.tools).push((name.to_owned(), route));
        Ok(self)
    }

    /// The lifecycle's settings (settle timeout, claim lease, ...).
    #[must_use]
    pub fn settings(mut self, settings: Settings) -> PaidTools {
        self.paywall = self.paywall.settings(settings);
        self
    }

    /// Runs one call of the tool `name`: `run` is the tool's work, run only
    /// for a payment that verifies, its result held back until settled.
    /// `meta` is the call's `_meta`. A tool that is not priced runs as it is.
    ///
    /// The call runs on a task of its own (hence `'static`): a client that
    /// cancels, or goes away, never cuts a settlement in flight.
    ///
    /// # Errors
    /// The tool's own `Err`, not settled.
    pub async fn call<F>(
        &self,
        name: &str,
        meta: Option<&RequestMetaObject>,
        run: F,
    ) -> Result<CallToolResult, ErrorData>
    where
        F: Future<Output = Result<CallToolResult, ErrorData>> + Send + 'static,
    {
        self.paid(name, meta, run).await
    }

    /// Whether the tool `name` is priced.
    #[must_use]
    pub fn priced(&self, name: &str) -> bool {
        self.tools.iter().any(|(n, _)| n == name)
    }

    /// Every rmcp service (a `ServerHandler`, with its `#[tool_router]`) with
    /// these tools priced: calls of a priced tool go through
    /// [`PaidTools::call`], everything else to `server` as it is.
    #[must_use]
    pub fn wrap<S>(self, server: S) -> PaidServer<S> {
        PaidServer { server, paid: self }
    }

    async fn paid<H, F>(
        &self,
        name: &str,
        meta: Option<&RequestMetaObject>,
        run: F,
    ) -> Result<H, ErrorData>
    where
        H: Held,
        F: Future<Output = Result<H, ErrorData>> + Send + 'static,
    {
        let Some((_, route)) = self.tools.iter().find(|(n, _)| n == name) else {
            return run.await;
        };
        let route = route.clone();
        let url = format!("mcp://tool/{name}");
        let payment = payment_header(meta);
        let paywall = self.paywall.clone();
        let task =
            tokio::spawn(async move { paid_call(&paywall, &route, url, payment, run).await });
        task.await.unwrap_or_else(|_| {
            Ok(H::from(error_result(
                "paywall_error: the paid call's task failed",
            )))
        })
    }
}

/// What a paid call holds back until it is settled: a tool result, or any
/// answer of a server to a tool call ([`PaidServer`]).
trait Held: From<CallToolResult> + Send + 'static {
    /// The status the lifecycle is told: 200 settles, anything else not.
    fn status(&self) -> u16;
    /// Adds these members to the result's `_meta`.
    fn add_meta(&mut self, added: serde_json::Map<String, Value>);
}

impl Held for CallToolResult {
    fn status(&self) -> u16 {
        if self.is_error == Some(true) {
            500
        } else {
            200
        }
    }
    fn add_meta(&mut self, added: serde_json::Map<String, Value>) {
        let mut m = self.meta.take().unwrap_or_default();
        m.0.extend(added);
        self.meta = Some(m);
    }
}

/// Only a complete tool result is settled: one that asks for input first,
/// or a task, is passed on unsettled (the payment stays usable).
impl Held for ServerResult {
    fn status(&self) -> u16 {
        match self {
            ServerResult::CallToolResult(r) => r.status(),
            _ => 500,
        }
    }
    fn add_meta(&mut self, added: serde_json::Map<String, Value>) {
        if let ServerResult::CallToolResult(r) = self {
            r.add_meta(added);
        }
    }
}

fn error_result(text: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text)])
}

async fn paid_call<H, F>(
    paywall: &Paywall,
    route: &Route,
    url: String,
    payment: Option<String>,
    run: F,
) -> Result<H, ErrorData>
where
    H: Held,
    F: Future<Output = Result<H, ErrorData>>,
{
    let inner = &paywall.inner;
    let headers: Vec<(&str, &str)> = payment
        .as_deref()
        .map(|p| vec![("PAYMENT-SIGNATURE", p)])
        .unwrap_or_default();
    let request = lifecycle::Request {
        method: "POST",
        url: &url,
        headers: &headers,
    };
    let settings = Settings {
        transport: Transport::Mcp,
        ..inner.settings.clone()
    };
    let id = format!(
        "{}-mcp-{}",
        std::process::id(),
        inner.next_id.fetch_add(1, Ordering::Relaxed)
    );
    let life = Lifecycle::new(route, &request, now(), &id, &settings);
    let handle = || async move {
        let result = run.await;
        let status = match &result {
            Ok(r) => Ok(r.status()),
            Err(e) => Err(format!("the tool failed: {}", e.message)),
        };
        Handled {
            held: Some(result),
            result: status,
            overrides: None,
        }
    };
    let Some(Responding {
        answer, life, held, ..
    }) = inner.drive(life, &url, handle).await
    else {
        return Ok(H::from(error_result(
            "paywall_error: the payment's lifecycle ended without an answer",
        )));
    };
    let out = answer_of(&answer, held);
    finish(life, inner.records.as_ref()).await;
    out
}

/// The lifecycle's answer as the tool's answer.
fn answer_of<H: Held>(
    answer: &lifecycle::Answer,
    held: Option<Result<H, ErrorData>>,
) -> Result<H, ErrorData> {
    match tool_answer(answer) {
        ToolAnswer::Result(json) => Ok(H::from(
            serde_json::from_str::<CallToolResult>(&json).unwrap_or_else(|_| {
                error_result("paywall_error: an answer that is not a tool result")
            }),
        )),
        ToolAnswer::ToolResult { meta } => {
            let mut result =
                held.unwrap_or_else(|| Ok(H::from(error_result("the tool gave no result"))))?;
            if let Ok(Value::Object(added)) = serde_json::from_str::<Value>(&meta)
                && !added.is_empty()
            {
                result.add_meta(added);
            }
            Ok(result)
        }
    }
}

/// An rmcp server whose priced tools are paid per call ([`PaidTools::wrap`]):
/// serve it as the server itself would be (`server.serve(transport)`).
#[derive(Clone, Debug)]
pub struct PaidServer<S> {
    server: S,
    paid: PaidTools,
}

impl<S> Service<RoleServer> for PaidServer<S>
where
    S: Service<RoleServer> + Clone,
{
    async fn handle_request(
        &self,
        request: <RoleServer as ServiceRole>::PeerReq,
        context: RequestContext<RoleServer>,
    ) -> Result<<RoleServer as ServiceRole>::Resp, ErrorData> {
        let name = match &request {
            ClientRequest::CallToolRequest(r) if self.paid.priced(&r.params.name) => {
                r.params.name.to_string()
            }
            _ => return self.server.handle_request(request, context).await,
        };
        let meta = context.meta.clone();
        let server = self.server.clone();
        let run = async move { server.handle_request(request, context).await };
        self.paid.paid(&name, Some(&meta), run).await
    }

    async fn handle_notification(
        &self,
        notification: <RoleServer as ServiceRole>::PeerNot,
        context: NotificationContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.server.handle_notification(notification, context).await
    }

    fn get_info(&self) -> <RoleServer as ServiceRole>::Info {
        self.server.get_info()
    }

    fn supported_protocol_versions(
        &self,
    ) -> std::borrow::Cow<'static, [rmcp::model::ProtocolVersion]> {
        self.server.supported_protocol_versions()
    }
}

/// Why [`call_tool_paying`] did not return a result.
#[derive(Debug)]
pub enum PayError {
    /// The call itself failed (transport, protocol).
    Service(ServiceError),
    /// Not paid: no requirement is one the policy allows, the offer could
    /// not be read, or `confirm` declined.
    Policy(String),
    /// The server asked for payment again after being paid: nothing more
    /// was paid. Its reason, and the result.
    Refused(String, Box<CallToolResult>),
    /// Paid, the server could not tell whether the payment settled
    /// (`settlement_uncertain`, recorded for reconciliation): it may have
    /// been charged; do not pay again. The error result.
    Uncertain(Box<CallToolResult>),
}

impl std::fmt::Display for PayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PayError::Service(e) => write!(f, "the tool call failed: {e}"),
            PayError::Policy(why) => write!(f, "not paid: {why}"),
            PayError::Refused(reason, _) => {
                write!(
                    f,
                    "the server refused the payment: {reason}; nothing more was paid"
                )?;
                if reason.to_ascii_lowercase().contains("settle") {
                    f.write_str(
                        " (a failed settlement may still have charged it: do not pay again)",
                    )?;
                }
                Ok(())
            }
            PayError::Uncertain(_) => f.write_str(
                "settlement_uncertain: the payment may have been charged; do not pay again",
            ),
        }
    }
}

impl std::error::Error for PayError {}

/// The PaymentRequired of a tool result in any of its forms
/// (`structuredContent`; Cloudflare's `_meta["x402/error"]`; the JSON of
/// its first text), with whether the server wants the payment as base64
/// text (it signals only in `_meta["x402/error"]`).
#[must_use]
pub fn payment_required_of(result: &CallToolResult) -> Option<(Value, bool)> {
    let offer = |v: &Value| {
        (v.get("x402Version") == Some(&Value::from(2))
            && v.get("accepts")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty()))
        .then(|| v.clone())
    };
    if result.is_error != Some(true) {
        return None;
    }
    if let Some(o) = result.structured_content.as_ref().and_then(offer) {
        return Some((o, false));
    }
    if let Some(Value::Object(cf)) = result.meta.as_ref().and_then(|m| m.0.get(ERROR_META_KEY))
        && cf
            .get("accepts")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    {
        let mut o = cf.clone();
        o.insert("x402Version".into(), Value::from(2));
        return Some((Value::Object(o), true));
    }
    let text = result.content.first()?.as_text()?.text.as_str();
    if text.len() > 64 * 1024 {
        return None;
    }
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| offer(&v))
        .map(|o| (o, false))
}

/// The `error` of an error result's `structuredContent` (as the paywall
/// writes its answers that offer nothing to pay).
fn error_reason(result: &CallToolResult) -> Option<&str> {
    if result.is_error != Some(true) {
        return None;
    }
    result.structured_content.as_ref()?.get("error")?.as_str()
}

/// Calls a tool on `peer`; when it answers payment-required, pays the first
/// requirement `policy` allows (its `max_amount` is required) with `key`,
/// once, if `confirm(requirement)` agrees, and calls once more with
/// `_meta["x402/payment"]`. A second payment-required is
/// [`PayError::Refused`], a settlement the server could not confirm
/// [`PayError::Uncertain`]: nothing more is paid.
///
/// # Errors
/// See [`PayError`].
pub async fn call_tool_paying(
    peer: &Peer<RoleClient>,
    params: CallToolRequestParams,
    key: &PrivateKey,
    policy: &Policy<'_>,
    confirm: impl FnOnce(&Value) -> bool,
) -> Result<CallToolResult, PayError> {
    if policy.max_amount.is_none() {
        return Err(PayError::Policy(
            "the policy's max_amount is required (the most one call pays)".into(),
        ));
    }
    let first = peer
        .call_tool(params.clone())
        .await
        .map_err(PayError::Service)?;
    let already = params
        .meta
        .as_ref()
        .is_some_and(|m| m.0.0.contains_key(PAYMENT_META_KEY));
    let Some((offer, as_text)) = payment_required_of(&first).filter(|_| !already) else {
        return Ok(first);
    };
    let offer_json = offer.to_string();
    let mut scratch = vec![0u8; header::DEFAULT_MAX_DECODED];
    let pr = client::read_payment_required(offer_json.as_bytes(), &mut scratch)
        .map_err(|e| PayError::Policy(e.to_string()))?;
    let selected =
        client::select_requirement(&pr, policy).map_err(|e| PayError::Policy(e.to_string()))?;
    let requirement = offer
        .get("accepts")
        .and_then(|a| a.get(selected.index))
        .cloned()
        .unwrap_or(Value::Null);
    if !confirm(&requirement) {
        return Err(PayError::Policy("the payment was declined".into()));
    }
    let nonce = client::random_nonce().map_err(|e| PayError::Policy(e.to_string()))?;
    let mut out = Vec::new();
    client::create_payment_for_to_sink(&pr, key, nonce, now(), policy, &mut out)
        .map_err(|e| PayError::Policy(e.to_string()))?;
    let value = String::from_utf8(out).map_err(|e| PayError::Policy(e.to_string()))?;
    let payment = if as_text {
        Value::String(value)
    } else {
        let mut buf = vec![0u8; header::DEFAULT_MAX_DECODED];
        let json = header::decode_to_json(
            &value,
            &mut buf,
            header::DEFAULT_MAX_DECODED,
            paywire::Reason::InvalidPayload,
        )
        .map_err(|e| PayError::Policy(e.to_string()))?;
        serde_json::from_slice(json).map_err(|e| PayError::Policy(e.to_string()))?
    };
    let mut again = params;
    let mut meta = again.meta.take().unwrap_or_default();
    meta.0.0.insert(PAYMENT_META_KEY.into(), payment);
    again.meta = Some(meta);
    let second = peer.call_tool(again).await.map_err(PayError::Service)?;
    if let Some((offer, _)) = payment_required_of(&second) {
        let reason = offer
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        return Err(PayError::Refused(reason, Box::new(second)));
    }
    if error_reason(&second) == Some("settlement_uncertain") {
        return Err(PayError::Uncertain(Box::new(second)));
    }
    Ok(second)
}
