//! Verification with the chain and settlement (feature `chain`): the core's
//! host-driven state machine ([`paywire::settle::Machine`]) as a JavaScript
//! class. The machine says which JSON-RPC request to send; JavaScript sends it
//! with `fetch` and feeds the answer back, until the machine is done with a
//! VerifyResponse or a SettleResponse.

use paywire::settle::{Machine, Options};
use wasm_bindgen::prelude::*;

use crate::{
    Failure, js, json_arg, now_or_clock, optional_json_arg, parse_out, read_config,
    read_private_key,
};

fn read_chain_options(json: Option<&str>) -> Result<Options, Failure> {
    match json {
        None => Ok(Options::default()),
        Some(j) => Options::from_json(j.as_bytes()).map_err(Failure::from),
    }
}

/// Starts verifying a `POST /verify` body with the chain.
///
/// # Errors
/// Malformed settings or options (a bad payment is an invalid outcome).
pub fn chain_verify(
    body: &str,
    now: u64,
    settings: Option<&str>,
    options: Option<&str>,
) -> Result<Machine, Failure> {
    let config = read_config(settings)?;
    let options = read_chain_options(options)?;
    Ok(Machine::verify_json(
        body.as_bytes(),
        now,
        &config.config(),
        &options,
    ))
}

/// Starts settling a `POST /settle` body, paying gas from `private_key`'s account.
///
/// # Errors
/// A malformed key or options.
pub fn chain_settle(
    body: &str,
    private_key: &str,
    now: u64,
    options: Option<&str>,
) -> Result<Machine, Failure> {
    let key = read_private_key(private_key)?;
    let options = read_chain_options(options)?;
    Ok(Machine::settle_json(body.as_bytes(), now, &key, &options))
}

/// The next step as JSON: `{"done":false,"request":"<JSON-RPC body>","delayMs":0}`
/// or `{"done":true,"outcome":{...}}` (the core's form).
#[must_use]
pub fn chain_next_text(m: &Machine) -> String {
    let mut out = Vec::with_capacity(1024);
    // Writing to a Vec never fails.
    let _ = m.write_step_json(&mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Feeds a node's response body.
///
/// # Errors
/// `invalid_response` if it is not a JSON-RPC answer to the last request.
pub fn chain_feed(m: &mut Machine, body: &str) -> Result<(), Failure> {
    m.feed(body.as_bytes()).map_err(Failure::from)
}

/// A verification with the chain, or a settlement, in progress. `next()` gives
/// the JSON-RPC request to POST to the node (or the outcome); `feed()` takes
/// the node's answer. Call `free()` when done with it.
#[wasm_bindgen]
pub struct ChainMachine {
    machine: Machine,
}

#[wasm_bindgen]
impl ChainMachine {
    /// Starts verifying a `POST /verify` body with the chain: the offline
    /// checks, then chain id, the asset's code and a simulation of the transfer
    /// (diagnosed as the reference facilitator does when it fails). `nowUnix`
    /// defaults to the JavaScript clock; `settings` may list
    /// `facilitatorAddresses`; `options` as `ChainOptions`.
    #[wasm_bindgen(js_name = verify)]
    pub fn verify_js(
        #[wasm_bindgen(unchecked_param_type = "VerifyRequest | string")] request: JsValue,
        #[wasm_bindgen(js_name = nowUnix)] now_unix: Option<f64>,
        #[wasm_bindgen(unchecked_param_type = "VerifyOptions")] settings: Option<JsValue>,
        #[wasm_bindgen(unchecked_param_type = "ChainOptions")] options: Option<JsValue>,
    ) -> Result<ChainMachine, JsValue> {
        let body = json_arg(&request, "request")?;
        let settings = optional_json_arg(settings.as_ref(), "settings")?;
        let options = optional_json_arg(options.as_ref(), "options")?;
        let now = now_or_clock(now_unix)?;
        js(chain_verify(
            &body,
            now,
            settings.as_deref(),
            options.as_deref(),
        ))
        .map(|machine| ChainMachine { machine })
    }

    /// Starts settling a `POST /settle` body, paying gas from the account of
    /// `privateKey` (`0x` + 64 hex digits): an EIP-1559 transaction is built,
    /// simulated, signed and sent, and its receipt awaited. For `upto`,
    /// `paymentRequirements.amount` is the amount to charge.
    #[wasm_bindgen(js_name = settle)]
    pub fn settle_js(
        #[wasm_bindgen(unchecked_param_type = "VerifyRequest | string")] request: JsValue,
        #[wasm_bindgen(js_name = privateKey)] private_key: &str,
        #[wasm_bindgen(js_name = nowUnix)] now_unix: Option<f64>,
        #[wasm_bindgen(unchecked_param_type = "ChainOptions")] options: Option<JsValue>,
    ) -> Result<ChainMachine, JsValue> {
        let body = json_arg(&request, "request")?;
        let options = optional_json_arg(options.as_ref(), "options")?;
        let now = now_or_clock(now_unix)?;
        js(chain_settle(&body, private_key, now, options.as_deref()))
            .map(|machine| ChainMachine { machine })
    }

    /// What to do next: `{done: false, request, delayMs}` (POST `request` to the
    /// node after `delayMs`) or `{done: true, outcome}`.
    #[wasm_bindgen(unchecked_return_type = "ChainStep")]
    pub fn next(&self) -> Result<JsValue, JsValue> {
        parse_out(&chain_next_text(&self.machine))
    }

    /// Hands the node's response body (text) to the machine. Throws
    /// `invalid_response` if it does not answer the last request; the same
    /// request may then be sent again.
    pub fn feed(&mut self, response: &str) -> Result<(), JsValue> {
        js(chain_feed(&mut self.machine, response))
    }
}

#[wasm_bindgen(typescript_custom_section)]
const TYPESCRIPT_CHAIN: &str = include_str!("chain.d.ts");

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn body() -> String {
        let pr = json!({
            "x402Version": 2,
            "resource": {"url": "https://api.example.com/data"},
            "accepts": [{
                "scheme": "exact", "network": "eip155:84532", "amount": "10000",
                "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
                "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
                "maxTimeoutSeconds": 60, "extra": {"name": "USDC", "version": "2"}
            }]
        });
        let key = read_private_key(&format!("0x{}", "11".repeat(32))).unwrap();
        let header = crate::create_payment_text(
            &pr.to_string(),
            &key,
            [9; 32],
            1_750_000_000,
            &Default::default(),
        )
        .unwrap();
        let payload: Value =
            serde_json::from_str(&crate::decode_header_text("PAYMENT-SIGNATURE", &header).unwrap())
                .unwrap();
        json!({"x402Version": 2, "paymentPayload": payload, "paymentRequirements": pr["accepts"][0]})
            .to_string()
    }

    fn answer(step: &Value, result: &str) -> String {
        let req: Value = serde_json::from_str(step["request"].as_str().unwrap()).unwrap();
        format!(
            r#"{{"jsonrpc":"2.0","id":{},"result":{result}}}"#,
            req["id"]
        )
    }

    #[test]
    fn verify_steps_as_json() {
        let mut m = chain_verify(&body(), 1_750_000_000, None, None).unwrap();
        for result in [r#""0x14a34""#, r#""0x6080""#, r#""0x""#] {
            let step: Value = serde_json::from_str(&chain_next_text(&m)).unwrap();
            assert_eq!(step["done"], false);
            assert_eq!(step["delayMs"], 0);
            chain_feed(&mut m, &answer(&step, result)).unwrap();
        }
        let step: Value = serde_json::from_str(&chain_next_text(&m)).unwrap();
        assert_eq!(step["done"], true);
        assert_eq!(step["outcome"]["isValid"], true);
        assert!(chain_feed(&mut m, "{}").is_err());
    }

    #[test]
    fn settings_and_keys_are_checked() {
        assert_eq!(
            chain_verify(&body(), 0, None, Some(r#"{"nonce":"x"}"#))
                .err()
                .unwrap()
                .code(),
            "invalid_payload"
        );
        assert_eq!(
            chain_settle(&body(), "0x12", 0, None).err().unwrap().code(),
            crate::INVALID_ARGUMENT
        );
        let m = chain_settle(
            &body(),
            &format!("0x{}", "22".repeat(32)),
            1_750_000_000,
            None,
        )
        .unwrap();
        let step: Value = serde_json::from_str(&chain_next_text(&m)).unwrap();
        assert!(step["request"].as_str().unwrap().contains("eth_chainId"));
    }
}
