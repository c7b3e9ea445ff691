//! The paying side of `eip2612GasSponsoring` (the `full`
//! flavour): what to read from the chain before paying a Permit2 offer that
//! declares the extension, reading the node's answers, and the facts handed
//! to `createPayment` (its option `chainFacts`), which then attaches an
//! EIP-2612 permit for Permit2 when the reference client would.

use paywire::Amount;
use paywire::client::{self, ChainFacts};
use paywire::evm::{Address, PrivateKey};
use paywire::gas_sponsoring::payer;
use paywire::json::{JsonStr, JsonValue, ObjectWriter};
use wasm_bindgen::prelude::*;

use crate::{
    Failure, PaymentOptions, js, json_arg, optional_json_arg, parse_out, read_options, scratch_len,
};

/// Reads `chainFacts`: `{permit2Allowance: string | null, permitNonce:
/// string}` (decimal strings; a `null` or absent allowance is one that could
/// not be read).
///
/// # Errors
/// `invalid_argument` naming the member.
pub fn read_chain_facts(v: JsonValue<'_>) -> Result<ChainFacts, Failure> {
    let obj = v
        .as_object()
        .ok_or_else(|| Failure::argument("options.chainFacts", "must be an object"))?;
    let decimal = |v: JsonValue<'_>, what: &str| {
        v.as_str()
            .and_then(|s| s.as_str())
            .and_then(|s| Amount::parse_decimal(s).ok())
            .ok_or_else(|| Failure::argument(what, "must be a decimal string"))
    };
    let mut allowance = None;
    let mut nonce = None;
    for (k, v) in obj.members() {
        if k == "permit2Allowance" {
            if !v.is_null() {
                allowance = Some(decimal(v, "options.chainFacts.permit2Allowance")?);
            }
        } else if k == "permitNonce" {
            nonce = Some(decimal(v, "options.chainFacts.permitNonce")?);
        } else {
            return Err(Failure::argument(
                "options.chainFacts",
                "has an unknown member (known: permit2Allowance, permitNonce)",
            ));
        }
    }
    Ok(ChainFacts {
        permit2_allowance: allowance,
        permit_nonce: nonce
            .ok_or_else(|| Failure::argument("options.chainFacts.permitNonce", "is required"))?,
    })
}

/// [`crate::create_payment_text`] given the chain's facts, if any (the one
/// path of `createPayment` in the flavours with the extension).
///
/// # Errors
/// As [`crate::create_payment_text`].
pub fn create_payment_with_facts_text(
    payment_required: &str,
    key: &PrivateKey,
    nonce: [u8; 32],
    now: u64,
    policy: &paywire::client::OwnedPolicy,
    facts: Option<&ChainFacts>,
) -> Result<String, Failure> {
    let mut out = Vec::new();
    client::create_payment_with_facts(
        payment_required.as_bytes(),
        key,
        nonce,
        now,
        &policy.policy(),
        facts,
        &mut out,
    )?;
    String::from_utf8(out).map_err(|_| Failure::argument("payment", "encoding failed"))
}

/// The reads to make before paying (see `gasSponsoringReads`), as JSON, or
/// `None` when no permit would be attached whatever the chain answers.
///
/// # Errors
/// The core's error (nothing payable under the policy, a malformed document),
/// or a malformed `owner`.
pub fn gas_sponsoring_reads_text(
    payment_required: &str,
    owner: &str,
    policy: &paywire::client::OwnedPolicy,
) -> Result<Option<String>, Failure> {
    let owner = Address::parse(owner).map_err(|e| Failure::argument("owner", e))?;
    let mut scratch = vec![0u8; scratch_len(payment_required)];
    let pr = client::read_payment_required(payment_required.as_bytes(), &mut scratch)?;
    let sel = client::select_requirement(&pr, &policy.policy())?;
    let Some(reads) = payer::chain_reads(&pr, &sel, owner) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(600);
    let written = (|| {
        let mut w = ObjectWriter::new(&mut out)?;
        w.str_field("network", JsonStr::new(sel.requirements.network().as_str()))?;
        w.u64_field("chainId", reads.chain_id)?;
        w.field("token", &reads.token)?;
        w.field("owner", &reads.owner)?;
        w.field("allowance", &reads.allowance.request(1))?;
        w.field("nonces", &reads.nonces.request(2))?;
        w.end()
    })();
    written.map_err(|_| Failure::argument("reads", "could not be written"))?;
    String::from_utf8(out)
        .map(Some)
        .map_err(|_| Failure::argument("reads", "are not UTF-8"))
}

/// What to read from the chain before paying `paymentRequired` as `owner`
/// (an address) under `options` (the policy of `createPayment`), so that a
/// Permit2 offer declaring `eip2612GasSponsoring` can be paid without a
/// Permit2 allowance: `{network, chainId, token, owner, allowance, nonces}`,
/// `allowance` and `nonces` being JSON-RPC `eth_call` bodies to POST to a
/// node of `network` (`allowance(owner, Permit2)` and `nonces(owner)` on the
/// token). `null` when no permit would be attached whatever the chain
/// answers (the extension not declared, an offer not paid through Permit2,
/// no `extra.name` or `extra.version`). Read the answers with
/// `uint256Response` and pass them to `createPayment` as `chainFacts`.
#[wasm_bindgen(js_name = gasSponsoringReads, unchecked_return_type = "GasSponsoringReads | null")]
pub fn gas_sponsoring_reads_js(
    #[wasm_bindgen(
        js_name = paymentRequired,
        unchecked_param_type = "PaymentRequired | string"
    )]
    payment_required: JsValue,
    owner: &str,
    options: Option<PaymentOptions>,
) -> Result<JsValue, JsValue> {
    let pr = json_arg(&payment_required, "paymentRequired")?;
    let opts = js(read_options(
        optional_json_arg(options.as_deref(), "options")?.as_deref(),
    ))?;
    match js(gas_sponsoring_reads_text(&pr, owner, &opts.policy))? {
        Some(text) => parse_out(&text),
        None => Ok(JsValue::NULL),
    }
}

/// The `uint256` a JSON-RPC response (its text, or the parsed object)
/// answers, as a decimal string; `null` for an error answer or a result that
/// is not one.
#[wasm_bindgen(js_name = uint256Response)]
pub fn uint256_response_js(
    #[wasm_bindgen(unchecked_param_type = "string | object")] response: JsValue,
) -> Result<Option<String>, JsValue> {
    let text = json_arg(&response, "response")?;
    Ok(payer::uint256_response(text.as_bytes()).map(|a| a.to_string()))
}

#[wasm_bindgen(typescript_custom_section)]
const TYPESCRIPT_GAS_SPONSORING: &str = include_str!("gas_sponsoring.d.ts");
