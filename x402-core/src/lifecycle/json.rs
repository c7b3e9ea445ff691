//! The JSON form of a lifecycle, for bindings: a request to start from, each
//! action as JSON, and each result fed back as JSON.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{Error, ErrorKind, Reason};
use crate::json::{JsonStr, JsonValue, ObjectWriter};

use super::answer::{Action, Outcome};
use super::classify::SettleReply;
use super::machine::Lifecycle;
use super::route::{HandlerResult, Request, Route, Settings, Transport};
use super::{bad, limits};

impl Lifecycle {
    /// Starts a lifecycle from JSON (for bindings): `request` is
    /// `{"method", "url", "headers": [[name, value], ...]}`.
    ///
    /// # Errors
    /// `invalid_payload` for a request that is not that object, or settings
    /// [`Settings::from_json`] refuses.
    pub fn from_json(
        route: &Route,
        request_json: &[u8],
        now: u64,
        id: &str,
        settings_json: Option<&[u8]>,
    ) -> Result<Lifecycle, Error> {
        let settings = match settings_json {
            Some(s) => Settings::from_json(s)?,
            None => Settings::default(),
        };
        let v = crate::json::parse(request_json, &limits(256 * 1024))
            .map_err(|k| Error::new(Reason::InvalidPayload, k))?;
        let o = v.as_object().ok_or(bad(
            Reason::InvalidPayload,
            "request must be {method, url, headers}",
        ))?;
        let text = |k: &'static str| {
            o.get(k)
                .and_then(|v| v.as_str())
                .map(|s| s.to_cow().into_owned())
                .ok_or(Error::new(Reason::InvalidPayload, ErrorKind::MissingField).at(k))
        };
        let method = text("method")?;
        let url = text("url")?;
        let mut headers: Vec<(String, String)> = Vec::new();
        let list = o.get("headers").and_then(|h| h.as_array()).ok_or(
            bad(
                Reason::InvalidPayload,
                "headers must be an array of [name, value] pairs",
            )
            .at("headers"),
        )?;
        for h in list.iter() {
            let pair = h.as_array().map(|a| {
                let mut it = a.iter();
                (it.next(), it.next(), it.next())
            });
            let Some((Some(n), Some(v), None)) = pair else {
                return Err(
                    bad(Reason::InvalidPayload, "a header is a [name, value] pair").at("headers"),
                );
            };
            let (Some(n), Some(v)) = (n.as_str(), v.as_str()) else {
                return Err(bad(
                    Reason::InvalidPayload,
                    "a header is a [name, value] pair of strings",
                )
                .at("headers"));
            };
            headers.push((n.to_cow().into_owned(), v.to_cow().into_owned()));
        }
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let request = Request {
            method: &method,
            url: &url,
            headers: &pairs,
        };
        Ok(Lifecycle::new(route, &request, now, id, &settings))
    }

    /// [`Lifecycle::next`] as JSON: `{"action": "lookup", "key"}`,
    /// `{"action": "swap", "key", "expected", "new"}`, `{"action":
    /// "directory", "agent"}`, `{"action": "handle"}`, `{"action": "settle",
    /// "body", "timeoutMs"}`, `{"action": "verify", "body", "timeoutMs"}`, `{"action": "respond", "status", "outcome",
    /// "reason", "message", "headers": [[name, value]], "body",
    /// "useHandlerResponse"}` (with [`Transport::Mcp`], also "toolResult", the
    /// tool result to send, or null to send the tool's own with the members
    /// of "toolMeta" added to its `_meta`: [`crate::mcp::tool_answer`]), `{"action": "done", "outcome"}`; records and
    /// bodies are JSON texts inside strings.
    #[must_use]
    pub fn next_json(&self) -> String {
        let mut out = Vec::with_capacity(512);
        let opt = |w: &mut ObjectWriter<'_>, k: &str, v: Option<&str>| match v {
            Some(s) => w.str_field(k, JsonStr::new(s)),
            None => {
                w.key(JsonStr::new(k))?;
                w.sink().put(b"null")
            }
        };
        let _ = (|| {
            let mut w = ObjectWriter::new(&mut out)?;
            match self.next() {
                Action::Lookup { key } => {
                    w.str_field("action", JsonStr::new("lookup"))?;
                    w.str_field("key", JsonStr::new(key))?;
                }
                Action::Swap { key, expected, new } => {
                    w.str_field("action", JsonStr::new("swap"))?;
                    w.str_field("key", JsonStr::new(key))?;
                    opt(&mut w, "expected", expected)?;
                    opt(&mut w, "new", new)?;
                }
                Action::Directory { agent } => {
                    w.str_field("action", JsonStr::new("directory"))?;
                    w.str_field("agent", JsonStr::new(agent))?;
                }
                Action::Handle => w.str_field("action", JsonStr::new("handle"))?,
                Action::Settle { body, timeout_ms } => {
                    w.str_field("action", JsonStr::new("settle"))?;
                    w.str_field("body", JsonStr::new(body))?;
                    w.u64_field("timeoutMs", timeout_ms)?;
                }
                Action::Verify { body, timeout_ms } => {
                    w.str_field("action", JsonStr::new("verify"))?;
                    w.str_field("body", JsonStr::new(body))?;
                    w.u64_field("timeoutMs", timeout_ms)?;
                }
                Action::Respond(a) => {
                    w.str_field("action", JsonStr::new("respond"))?;
                    w.u64_field("status", u64::from(a.status))?;
                    w.str_field("outcome", JsonStr::new(a.outcome.as_str()))?;
                    w.str_field("reason", JsonStr::new(&a.reason))?;
                    w.str_field("message", JsonStr::new(&a.message))?;
                    w.key(JsonStr::new("headers"))?;
                    let s = w.sink();
                    s.put(b"[")?;
                    for (i, (n, v)) in a.headers.iter().enumerate() {
                        if i > 0 {
                            s.put(b",")?;
                        }
                        s.put(b"[")?;
                        crate::json::write_escaped(s, JsonStr::new(n))?;
                        s.put(b",")?;
                        crate::json::write_escaped(s, JsonStr::new(v))?;
                        s.put(b"]")?;
                    }
                    s.put(b"]")?;
                    opt(&mut w, "body", a.body.as_deref())?;
                    w.bool_field("useHandlerResponse", a.use_handler_response)?;
                    if self.settings.transport == Transport::Mcp {
                        let (result, meta) = match crate::mcp::tool_answer(a) {
                            crate::mcp::ToolAnswer::Result(r) => (Some(r), None),
                            crate::mcp::ToolAnswer::ToolResult { meta } => (None, Some(meta)),
                        };
                        opt(&mut w, "toolResult", result.as_deref())?;
                        opt(&mut w, "toolMeta", meta.as_deref())?;
                    }
                }
                Action::Done => {
                    w.str_field("action", JsonStr::new("done"))?;
                    opt(&mut w, "outcome", self.outcome.map(Outcome::as_str))?;
                }
            }
            if let Some(u) = &self.uncertain {
                w.str_field("uncertainRecord", JsonStr::new(u))?;
            }
            w.end()
        })();
        String::from_utf8(out).unwrap_or_default()
    }

    /// Feeds the result of the current action as JSON: `{"record": text|null}`
    /// (lookup), `{"swapped": true}` or `{"swapped": false, "record":
    /// text|null}` (swap), `{"storeError": text}` (lookup or swap: the store
    /// failed), `{"directory": jwks|null}` (the JWK Set as an object
    /// or its text), `{"status": n}` or `{"error": text}` (handle; with
    /// `"settlementOverrides": text`, the handler's `Settlement-Overrides`),
    /// `{"status":
    /// n, "body": text}`, `{"notSent": text}` or `{"noAnswer": text}` (settle
    /// and verify),
    /// `{}` (respond). Any of them may add `"now"`: the host's clock in unix
    /// seconds, given to [`Lifecycle::advance_clock`] first.
    ///
    /// # Errors
    /// `invalid_payload` for a JSON text that is not the answer to the current action.
    pub fn feed_json(&mut self, json: &[u8]) -> Result<(), Error> {
        let v = crate::json::parse(json, &limits(1024 * 1024))
            .map_err(|k| Error::new(Reason::InvalidPayload, k))?;
        let o = v
            .as_object()
            .ok_or(bad(Reason::InvalidPayload, "the answer is an object"))?;
        if let Some(now) = o.get("now") {
            let now = now
                .as_u64()
                .ok_or(bad(Reason::InvalidPayload, "now is unix seconds").at("now"))?;
            self.advance_clock(now);
        }
        let text = |v: Option<JsonValue<'_>>| -> Result<Option<String>, Error> {
            match v {
                None => Ok(None),
                Some(v) if v.is_null() => Ok(None),
                Some(v) => v
                    .as_str()
                    .map(|s| Some(s.to_cow().into_owned()))
                    .ok_or(bad(Reason::InvalidPayload, "must be a string or null")),
            }
        };
        let wrong = || {
            bad(
                Reason::InvalidPayload,
                "not the answer to the current action",
            )
        };
        if let Some(e) = o.get("storeError") {
            if !matches!(self.next(), Action::Lookup { .. } | Action::Swap { .. }) {
                return Err(wrong());
            }
            let e = text(Some(e))?.unwrap_or_default();
            self.feed_store_error(&e);
            return Ok(());
        }
        match self.next() {
            Action::Lookup { .. } => {
                let r = text(Some(o.get("record").ok_or_else(wrong)?))?;
                self.feed_record(r.as_deref());
            }
            Action::Swap { .. } => {
                let ok = o
                    .get("swapped")
                    .and_then(|v| v.as_bool())
                    .ok_or_else(wrong)?;
                if ok {
                    self.feed_swap(Ok(()));
                } else {
                    let r = text(o.get("record"))?;
                    self.feed_swap(Err(r.as_deref()));
                }
            }
            Action::Directory { .. } => {
                let d = o.get("directory").ok_or_else(wrong)?;
                if d.is_null() {
                    self.feed_directory(None);
                } else if let Some(s) = d.as_str() {
                    let s = s.to_cow().into_owned();
                    self.feed_directory(Some(s.as_bytes()));
                } else {
                    self.feed_directory(Some(d.raw().as_bytes()));
                }
            }
            Action::Handle => {
                if let Some(overrides) = text(o.get("settlementOverrides"))? {
                    // A value that cannot be read fails the handler's answer.
                    let _ = self.feed_settlement_overrides(&overrides);
                }
                if let Some(s) = o.get("status") {
                    let s = s.as_u64().and_then(|s| u16::try_from(s).ok()).ok_or(
                        bad(Reason::InvalidPayload, "status is an HTTP status").at("status"),
                    )?;
                    self.feed_handler(HandlerResult::Status(s));
                } else {
                    let e = text(o.get("error"))?.ok_or_else(wrong)?;
                    self.feed_handler(HandlerResult::Failed(&e));
                }
            }
            action @ (Action::Settle { .. } | Action::Verify { .. }) => {
                let verify = matches!(action, Action::Verify { .. });
                let feed = |life: &mut Lifecycle, reply: SettleReply<'_>, detail: &str| {
                    if verify {
                        life.feed_verify(reply, detail);
                    } else {
                        life.feed_settle(reply, detail);
                    }
                };
                if let Some(why) = text(o.get("notSent"))? {
                    feed(self, SettleReply::NotSent, &why);
                } else if let Some(why) = text(o.get("noAnswer"))? {
                    feed(self, SettleReply::NoAnswer, &why);
                } else {
                    let status = o
                        .get("status")
                        .and_then(|s| s.as_u64())
                        .and_then(|s| u16::try_from(s).ok())
                        .ok_or_else(wrong)?;
                    let body = text(o.get("body"))?.unwrap_or_default();
                    feed(
                        self,
                        SettleReply::Answered {
                            status,
                            body: body.as_bytes(),
                        },
                        "",
                    );
                }
            }
            Action::Respond(_) => self.responded(),
            Action::Done => return Err(wrong()),
        }
        Ok(())
    }
}
