//! One paid request's lifecycle ([`paywire::lifecycle`]) as a JavaScript
//! class: the core decides (which requirement the payment pays, verification,
//! the replay record, when to settle, what to answer); JavaScript does the I/O
//! (its store, the handler, `fetch` to the facilitator) and feeds the results
//! back. Steps and results cross as JSON, read by the core's strict parser.

use paywire::lifecycle::{Lifecycle, Route, record_info};
use wasm_bindgen::prelude::*;

use crate::{Failure, js, json_arg, now_or_clock, optional_json_arg, parse_out};

/// Starts a lifecycle from JSON texts.
///
/// # Errors
/// A malformed route, request or settings.
pub fn lifecycle_start(
    route: &str,
    request: &str,
    now: u64,
    id: &str,
    settings: Option<&str>,
) -> Result<Lifecycle, Failure> {
    let route = Route::from_json(route.as_bytes())?;
    Ok(Lifecycle::from_json(
        &route,
        request.as_bytes(),
        now,
        id,
        settings.map(str::as_bytes),
    )?)
}

/// What a host may show of a stored record, as JSON.
///
/// # Errors
/// `invalid_payload` if it is not a record the lifecycle wrote.
pub fn record_info_text(record: &str) -> Result<String, Failure> {
    use paywire::json::ToJson;
    Ok(record_info(record)?.to_json_string())
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = crypto, js_name = randomUUID)]
    fn random_uuid() -> String;
}

/// One paid request on a resource server, driven by the host: `next()` says
/// what to do (`lookup`, `swap`, `directory`, `handle`, `settle`, `respond`,
/// `done`), `feed()` takes the result. Call `free()` when done with it.
#[wasm_bindgen]
pub struct PaymentLifecycle {
    life: Lifecycle,
}

#[wasm_bindgen]
impl PaymentLifecycle {
    /// Starts the lifecycle of `request` (`{method, url, headers: [[name,
    /// value]]}`) on `route` (the route's PaymentRequired, x402 version 2).
    /// `options`: `{nowUnix?, id?, settings?: {settleTimeoutSeconds,
    /// claimSeconds, retryAfterSeconds, facilitatorAddresses}}`; `id` (unique
    /// to this request, in the records it writes) defaults to a random UUID.
    #[wasm_bindgen(js_name = start)]
    pub fn start_js(
        #[wasm_bindgen(unchecked_param_type = "PaymentRequired | string")] route: JsValue,
        #[wasm_bindgen(unchecked_param_type = "LifecycleRequest | string")] request: JsValue,
        #[wasm_bindgen(unchecked_param_type = "LifecycleOptions")] options: Option<JsValue>,
    ) -> Result<PaymentLifecycle, JsValue> {
        let route = json_arg(&route, "route")?;
        let request = json_arg(&request, "request")?;
        let options = optional_json_arg(options.as_ref(), "options")?;
        let (now, id, settings) = js(read_start_options(options.as_deref()))?;
        let now = match now {
            Some(n) => n,
            None => now_or_clock(None)?,
        };
        let id = id.unwrap_or_else(random_uuid);
        let life = js(lifecycle_start(
            &route,
            &request,
            now,
            &id,
            settings.as_deref(),
        ))?;
        Ok(PaymentLifecycle { life })
    }

    /// What to do next (see `LifecycleStep`).
    #[wasm_bindgen(unchecked_return_type = "LifecycleStep")]
    pub fn next(&self) -> Result<JsValue, JsValue> {
        parse_out(&self.life.next_json())
    }

    /// The result of the current step (see `LifecycleResult`).
    pub fn feed(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "LifecycleResult | string")] result: JsValue,
    ) -> Result<(), JsValue> {
        let text = json_arg(&result, "result")?;
        js(self.life.feed_json(text.as_bytes()).map_err(Failure::from))
    }

    /// The payment's replay key, once known.
    #[wasm_bindgen(getter)]
    pub fn key(&self) -> Option<String> {
        self.life.key().map(str::to_owned)
    }

    /// The verification verdict (a VerifyResponse), once verified.
    #[wasm_bindgen(getter, unchecked_return_type = "VerifyResponse | undefined")]
    pub fn verdict(&self) -> Result<JsValue, JsValue> {
        match self.life.verdict_json() {
            Some(v) => parse_out(v),
            None => Ok(JsValue::UNDEFINED),
        }
    }
}

/// `start`'s options besides the settings' members: `nowUnix`, `id`, and the
/// settings object's JSON text.
type StartOptions = (Option<u64>, Option<String>, Option<String>);

fn read_start_options(json: Option<&str>) -> Result<StartOptions, Failure> {
    let Some(json) = json else {
        return Ok((None, None, None));
    };
    let v = paywire::json::parse(json.as_bytes(), &paywire::json::Limits::DEFAULT)
        .map_err(|k| Failure::argument("options", format_args!("is not JSON: {k}")))?;
    let o = v
        .as_object()
        .ok_or_else(|| Failure::argument("options", "must be an object"))?;
    let (mut now, mut id, mut settings) = (None, None, None);
    for (k, v) in o.members() {
        if k == "nowUnix" {
            now = Some(
                v.as_u64()
                    .ok_or_else(|| Failure::argument("options.nowUnix", "must be unix seconds"))?,
            );
        } else if k == "id" {
            id = Some(
                v.as_str()
                    .map(|s| s.to_cow().into_owned())
                    .ok_or_else(|| Failure::argument("options.id", "must be a string"))?,
            );
        } else if k == "settings" {
            settings = Some(v.raw().to_owned());
        } else {
            return Err(Failure::argument(
                "options",
                "has an unknown member (known: nowUnix, id, settings)",
            ));
        }
    }
    Ok((now, id, settings))
}

/// What may be shown of a record the lifecycle wrote (to list the payments to
/// reconcile): `{state, payer, nonce, amount, network, asset, route, time,
/// cause?, paymentResponse?}`.
#[wasm_bindgen(js_name = recordInfo, unchecked_return_type = "PaymentRecordInfo")]
pub fn record_info_js(record: &str) -> Result<JsValue, JsValue> {
    parse_out(&js(record_info_text(record))?)
}

#[wasm_bindgen(typescript_custom_section)]
const TYPESCRIPT_LIFECYCLE: &str = include_str!("lifecycle.d.ts");

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const ROUTE: &str = r#"{"x402Version":2,"resource":{"url":"https://example.com/r"},"accepts":[{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}]}"#;

    #[test]
    fn an_unpaid_request_is_answered_at_once() {
        let life = lifecycle_start(
            ROUTE,
            r#"{"method":"GET","url":"https://example.com/r","headers":[]}"#,
            1_750_000_000,
            "t",
            Some(r#"{"claimSeconds":5}"#),
        )
        .unwrap();
        let step: serde_json::Value = serde_json::from_str(&life.next_json()).unwrap();
        assert_eq!(step["action"], "respond");
        assert_eq!(step["status"], 402);
    }

    #[test]
    fn misuse_is_named() {
        let req = r#"{"method":"GET","url":"u","headers":[]}"#;
        let bad_route = lifecycle_start("{}", req, 0, "t", None).unwrap_err();
        assert_eq!(bad_route.code(), "invalid_x402_version");
        let bad_settings = lifecycle_start(ROUTE, req, 0, "t", Some(r#"{"x":1}"#)).unwrap_err();
        assert_eq!(bad_settings.code(), "invalid_payload");
        assert_eq!(
            read_start_options(Some(r#"{"now":1}"#)).unwrap_err().code(),
            "invalid_argument"
        );
        let (now, id, settings) = read_start_options(Some(
            r#"{"nowUnix":7,"id":"a","settings":{"claimSeconds":1}}"#,
        ))
        .unwrap();
        assert_eq!(
            (now, id.as_deref(), settings.as_deref()),
            (Some(7), Some("a"), Some(r#"{"claimSeconds":1}"#))
        );
        assert_eq!(
            record_info_text("{}").unwrap_err().code(),
            "invalid_payload"
        );
    }
}
