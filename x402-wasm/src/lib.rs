//! JavaScript bindings of [`paywire`], built with wasm-bindgen into the
//! `paywire` npm package (Cloudflare Workers, browsers, Node).
//!
//! Every function converts and forwards: JavaScript values are turned into JSON
//! text (`JSON.stringify`, or the string as given), read by the core's strict
//! parser, and the core's JSON answer is handed back through `JSON.parse`. One
//! reading of every input, the core's, and no serde in the binary.
//!
//! Errors are JavaScript `Error`s whose `code` is the core's reason string
//! (`invalid_payload`, `invalid_x402_version`, ...), or `invalid_argument` for an
//! argument that is not a protocol document (a private key, a time, a header
//! name). Verification never throws for a bad payment: it answers a verdict.
//!
//! The pure parts (everything but the JavaScript boundary) are plain Rust
//! functions over strings, tested on the host; the exported functions only add
//! the conversions. On targets other than wasm32 the exports compile but calling
//! them panics, as with any wasm-bindgen import.

use paywire::client::{self, Method, OwnedPolicy};
use paywire::evm::typed_data::typed_data_hash_json;
use paywire::evm::{B256, PrivateKey, Signature};
use paywire::header::{self, HeaderKind};
use paywire::json::{JsonStr, JsonValue, Limits, ObjectWriter, ToJson};
use paywire::verify::{self, OwnedConfig};
use paywire::{Error, Reason};
use wasm_bindgen::prelude::*;

/// The `code` of errors about arguments that are not protocol documents.
pub const INVALID_ARGUMENT: &str = "invalid_argument";

/// Why a call failed: a protocol error from the core, or a bad argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The core refused a document; `code` is its reason string.
    Core(Error),
    /// An argument that is not a protocol document was malformed.
    Argument(String),
}

impl Failure {
    /// The stable `code` the JavaScript error carries.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Failure::Core(e) => e.reason().as_str(),
            Failure::Argument(_) => INVALID_ARGUMENT,
        }
    }

    /// The message for people.
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            Failure::Core(e) => e.to_string(),
            Failure::Argument(m) => m.clone(),
        }
    }

    fn argument(what: &str, why: impl core::fmt::Display) -> Failure {
        Failure::Argument(format!("{INVALID_ARGUMENT}: {what} {why}"))
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Core(e)
    }
}

// ---------------------------------------------------------------------------
// The pure layer: strings in, strings out.

/// Verifies a `POST /verify` body at `now` with the settings JSON
/// (`{"facilitatorAddresses": [...]}`); answers the VerifyResponse JSON.
///
/// # Errors
/// Only for malformed settings: a malformed body is an invalid verdict.
pub fn verify_text(body: &str, now: u64, settings: Option<&str>) -> Result<String, Failure> {
    let config = read_config(settings)?;
    Ok(verify::verify_json(body.as_bytes(), now, &config.config()).to_json_string())
}

/// Verifies a payment header value against the server's requirements JSON.
///
/// # Errors
/// Only for malformed settings.
pub fn verify_header_text(
    header_value: &str,
    requirements: &str,
    now: u64,
    settings: Option<&str>,
) -> Result<String, Failure> {
    let config = read_config(settings)?;
    let mut scratch = vec![0u8; scratch_len(header_value)];
    let verdict = verify::verify_header(
        header_value,
        requirements.as_bytes(),
        now,
        &config.config(),
        &mut scratch,
    );
    Ok(verdict.to_json_string())
}

/// Verifies a request paying with `batch-settlement` on `cloudflare:402`
/// (HTTP Message Signatures; feature `batch`); the input and output JSON are those of
/// [`paywire::batch::verify_batch_settlement_json`].
///
/// # Errors
/// Only for a malformed input object: a bad payment is an invalid verdict.
#[cfg(feature = "batch")]
pub fn verify_batch_settlement_text(input: &str) -> Result<String, Failure> {
    Ok(paywire::batch::verify_batch_settlement_json(
        input.as_bytes(),
    )?)
}

/// Signs a request for `batch-settlement` with an Ed25519 key; the input and
/// output JSON are those of [`paywire::batch::sign_request_json`].
///
/// # Errors
/// What the core refuses, named.
#[cfg(feature = "batch")]
pub fn sign_request_text(input: &str) -> Result<String, Failure> {
    Ok(paywire::batch::sign_request_json(input.as_bytes())?)
}

fn read_config(settings: Option<&str>) -> Result<OwnedConfig, Failure> {
    match settings {
        Some(s) => Ok(OwnedConfig::from_json(s.as_bytes())?),
        None => Ok(OwnedConfig::default()),
    }
}

/// Room for a decoded header: the core checks the size limit before decoding,
/// so a larger value fails before it needs the buffer.
fn scratch_len(value: &str) -> usize {
    header::base64_decoded_len(value.len()).min(header::DEFAULT_MAX_DECODED)
}

fn header_kind(name: &str) -> Result<HeaderKind, Failure> {
    HeaderKind::from_name(name).ok_or_else(|| {
        Failure::argument(
            "header name",
            "is not one of PAYMENT-REQUIRED, PAYMENT-SIGNATURE, PAYMENT-RESPONSE, \
             X-PAYMENT, X-PAYMENT-RESPONSE",
        )
    })
}

/// Decodes the value of the header called `name` into its JSON document.
///
/// # Errors
/// An unknown header name, or the core's decoding error.
pub fn decode_header_text(name: &str, value: &str) -> Result<String, Failure> {
    let kind = header_kind(name)?;
    let mut buf = vec![0u8; scratch_len(value)];
    Ok(header::decode(kind, value, &mut buf)?.to_json_string())
}

/// Checks a JSON document as the one the header `name` carries and encodes it
/// as the header value.
///
/// # Errors
/// An unknown header name, or the core's error for the document.
pub fn encode_header_text(name: &str, json: &str) -> Result<String, Failure> {
    let kind = header_kind(name)?;
    let doc = header::decode_json(kind, json.as_bytes())?;
    Ok(header::encode_to_string(&doc))
}

/// What `createPayment` and `selectRequirement` take besides the policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientOptions {
    /// The spending policy.
    pub policy: OwnedPolicy,
    /// `nowUnix`, if given.
    pub now: Option<u64>,
    /// `nonce`, if given (32 bytes).
    pub nonce: Option<[u8; 32]>,
    /// `chainFacts`, if given (`full`): the payer's Permit2
    /// allowance and EIP-2612 nonce, for `eip2612GasSponsoring`.
    #[cfg(feature = "sponsored-payer")]
    pub chain_facts: Option<paywire::client::ChainFacts>,
}

/// Reads the options object: the policy's members (read by the core, which
/// refuses unknown ones) plus `nowUnix` and `nonce`, which are this binding's.
///
/// # Errors
/// A malformed `nowUnix` or `nonce` (`invalid_argument`), or the core's policy error.
pub fn read_options(json: Option<&str>) -> Result<ClientOptions, Failure> {
    let Some(json) = json else {
        return Ok(ClientOptions::default());
    };
    let limits = Limits::DEFAULT;
    let value = paywire::json::parse(json.as_bytes(), &limits)
        .map_err(|k| Failure::argument("options", format_args!("is not JSON: {k}")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| Failure::argument("options", "must be an object"))?;
    let mut out = ClientOptions::default();
    // The policy members go to the core as they came, in order.
    let mut policy = Vec::with_capacity(json.len());
    let mut w = ObjectWriter::new(&mut policy).map_err(|_| Failure::argument("options", ""))?;
    for (k, v) in obj.members() {
        #[cfg(feature = "sponsored-payer")]
        if k == "chainFacts" {
            out.chain_facts = Some(gas_sponsoring::read_chain_facts(v)?);
            continue;
        }
        if k == "nowUnix" {
            out.now = Some(read_now_member(v)?);
        } else if k == "nonce" {
            out.nonce = Some(read_nonce_member(v)?);
        } else {
            w.value_field(k, v)
                .map_err(|_| Failure::argument("options", "could not be copied"))?;
        }
    }
    w.end()
        .map_err(|_| Failure::argument("options", "could not be copied"))?;
    out.policy = OwnedPolicy::from_json(&policy)?;
    Ok(out)
}

fn read_now_member(v: JsonValue<'_>) -> Result<u64, Failure> {
    if v.is_null() {
        return Err(Failure::argument("options.nowUnix", "must be a number"));
    }
    v.as_u64().ok_or_else(|| {
        Failure::argument(
            "options.nowUnix",
            "must be a non-negative integer of unix seconds",
        )
    })
}

fn read_nonce_member(v: JsonValue<'_>) -> Result<[u8; 32], Failure> {
    let text = v.as_str().and_then(|s| s.as_str()).unwrap_or("");
    B256::parse(text)
        .map(|b| b.0)
        .map_err(|k| Failure::argument("options.nonce", format_args!("(0x + 64 hex digits): {k}")))
}

/// Reads a private key given as hex (`0x` + 64 digits, or 64 digits).
///
/// # Errors
/// `invalid_argument`, without echoing the key.
pub fn read_private_key(hex: &str) -> Result<PrivateKey, Failure> {
    PrivateKey::from_hex(hex).map_err(|e| Failure::argument("private key", e))
}

/// Creates the payment header value for a PaymentRequired (JSON or a
/// `PAYMENT-REQUIRED` header value).
///
/// # Errors
/// The core's error (nothing payable under the policy, a malformed document).
pub fn create_payment_text(
    payment_required: &str,
    key: &PrivateKey,
    nonce: [u8; 32],
    now: u64,
    policy: &OwnedPolicy,
) -> Result<String, Failure> {
    // A Vec sink holds the header value at whatever length it has: no size
    // to guess, no call to retry.
    let mut out = Vec::new();
    let policy = policy.policy();
    client::create_payment_to_sink(
        payment_required.as_bytes(),
        key,
        nonce,
        now,
        &policy,
        &mut out,
    )?;
    // Header values are base64, hence ASCII.
    String::from_utf8(out).map_err(|_| Failure::argument("payment", "encoding failed"))
}

/// Commits to the first `batch-settlement` requirement (on `cloudflare:402`)
/// of a PaymentRequired that `policy` allows (`maxAmount`): answers the
/// `PAYMENT-SIGNATURE` value, which the agent's signed request carries.
///
/// # Errors
/// The core's error (no such requirement under the policy, a malformed document).
#[cfg(feature = "batch")]
pub fn create_batch_payment_text(
    payment_required: &str,
    policy: &OwnedPolicy,
) -> Result<String, Failure> {
    let mut scratch = vec![0u8; paywire::header::DEFAULT_MAX_DECODED];
    let pr = client::read_payment_required(payment_required.as_bytes(), &mut scratch)?;
    let mut out = vec![0u8; 2 * paywire::header::DEFAULT_MAX_DECODED];
    let created = client::create_batch_payment(&pr, &policy.policy(), &mut out)?;
    out.truncate(created.len);
    String::from_utf8(out).map_err(|_| Failure::argument("payment", "encoding failed"))
}

/// Selects the requirement a client would pay; answers
/// `{index, x402Version, method, chainId, asset, payTo, requirements}`.
///
/// # Errors
/// The core's error (nothing payable under the policy, a malformed document).
pub fn select_requirement_text(
    payment_required: &str,
    policy: &OwnedPolicy,
) -> Result<String, Failure> {
    let mut scratch = vec![0u8; scratch_len(payment_required)];
    let pr = client::read_payment_required(payment_required.as_bytes(), &mut scratch)?;
    let sel = client::select_requirement(&pr, &policy.policy())?;
    let method = match sel.method {
        Method::Eip3009 => "eip3009",
        Method::Permit2 => "permit2",
        Method::Upto => "upto",
    };
    let mut out = Vec::with_capacity(512);
    let written = (|| {
        let mut w = ObjectWriter::new(&mut out)?;
        w.u64_field("index", sel.index as u64)?;
        w.u64_field("x402Version", u64::from(pr.x402_version()))?;
        w.str_field("method", JsonStr::new(method))?;
        w.u64_field("chainId", sel.chain_id)?;
        w.field("asset", &sel.asset)?;
        w.field("payTo", &sel.pay_to)?;
        w.field("requirements", &sel.requirements)?;
        w.end()
    })();
    written.map_err(|_| Failure::argument("selection", "could not be written"))?;
    String::from_utf8(out).map_err(|_| Failure::argument("selection", "is not UTF-8"))
}

/// The EIP-712 hashes of an x402 typed-data document, as
/// `{domainSeparator, structHash, digest}`.
///
/// # Errors
/// The core's error (`invalid_payload` naming the field).
pub fn hash_typed_data_text(json: &str) -> Result<String, Failure> {
    let h = typed_data_hash_json(json.as_bytes())?;
    let mut out = Vec::with_capacity(220);
    let written = (|| {
        let mut w = ObjectWriter::new(&mut out)?;
        w.field("domainSeparator", &B256(h.domain_separator))?;
        w.field("structHash", &B256(h.struct_hash))?;
        w.field("digest", &B256(h.digest))?;
        w.end()
    })();
    written.map_err(|_| Failure::argument("hashes", "could not be written"))?;
    String::from_utf8(out).map_err(|_| Failure::argument("hashes", "are not UTF-8"))
}

/// The EIP-55 address that signed `digest` (`0x` + 64 hex digits).
///
/// # Errors
/// `invalid_argument` for a malformed digest or a signature the core refuses
/// (not 65 bytes, high-s, bad `v`, unrecoverable).
pub fn recover_address_text(digest: &str, signature: &str) -> Result<String, Failure> {
    let digest = B256::parse(digest).map_err(|k| Failure::argument("digest", k))?;
    let sig = Signature::parse_hex(JsonStr::new(signature))
        .map_err(|e| Failure::argument("signature", e))?;
    let signer = sig
        .recover(&digest.0)
        .map_err(|e| Failure::argument("signature", e))?;
    Ok(signer.checksummed().as_str().to_owned())
}

/// Converts a JavaScript number of seconds to the core's `now`.
///
/// # Errors
/// `invalid_argument` for NaN, infinities and negative numbers.
pub fn seconds(t: f64) -> Result<u64, Failure> {
    // 2^64 as f64: every finite value below converts without saturation.
    if t.is_finite() && (0.0..18_446_744_073_709_551_616.0).contains(&t) {
        Ok(t.floor() as u64)
    } else {
        Err(Failure::argument(
            "nowUnix",
            "must be a non-negative number of unix seconds",
        ))
    }
}

// ---------------------------------------------------------------------------
// The JavaScript boundary.

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = JSON, js_name = stringify, catch)]
    fn json_stringify(value: &JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    fn json_parse(text: &str) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_namespace = Date, js_name = now)]
    fn date_now() -> f64;

    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(buf: &mut [u8]) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_name = Error)]
    type CodedError;

    /// The verifier's settings (`VerifyOptions` in TypeScript).
    #[wasm_bindgen(typescript_type = "VerifyOptions")]
    pub type VerifyOptions;

    /// A client's policy and inputs (`PaymentOptions` in TypeScript).
    #[wasm_bindgen(typescript_type = "PaymentOptions")]
    pub type PaymentOptions;

    #[wasm_bindgen(constructor, js_class = "Error")]
    fn new(message: &str) -> CodedError;

    #[wasm_bindgen(method, setter, js_class = "Error")]
    fn set_code(this: &CodedError, code: &str);
}

fn to_js(f: &Failure) -> JsValue {
    let e = CodedError::new(&f.message());
    e.set_code(f.code());
    e.into()
}

fn js<T>(r: Result<T, Failure>) -> Result<T, JsValue> {
    r.map_err(|f| to_js(&f))
}

/// JSON text of an argument: a string is taken as it is, anything else goes
/// through `JSON.stringify`.
fn json_arg(value: &JsValue, what: &str) -> Result<String, JsValue> {
    if let Some(s) = value.as_string() {
        return Ok(s);
    }
    if value.is_undefined() || value.is_null() {
        return Err(to_js(&Failure::argument(what, "is required")));
    }
    json_stringify(value)
        .ok()
        .and_then(|t| t.as_string())
        .ok_or_else(|| to_js(&Failure::argument(what, "cannot be written as JSON")))
}

/// Like [`json_arg`], but `undefined` and `null` mean "not given".
fn optional_json_arg(value: Option<&JsValue>, what: &str) -> Result<Option<String>, JsValue> {
    match value {
        Some(v) if !v.is_undefined() && !v.is_null() => json_arg(v, what).map(Some),
        _ => Ok(None),
    }
}

fn parse_out(text: &str) -> Result<JsValue, JsValue> {
    json_parse(text)
}

fn now_or_clock(now_unix: Option<f64>) -> Result<u64, JsValue> {
    js(seconds(now_unix.unwrap_or_else(|| date_now() / 1000.0)))
}

/// Verifies a payment offline, with the reference facilitator's checks, order
/// and reason strings. `request` is the `POST /verify` body (an object or its
/// JSON text); `nowUnix` defaults to the JavaScript clock; `options` may list
/// this facilitator's `facilitatorAddresses` (for `upto`).
///
/// Answers a VerifyResponse. A malformed payment is an invalid verdict, never
/// an exception. A valid verdict lists in `extra.chainChecks` what only the
/// chain can tell (balance, nonce unused, simulation).
#[wasm_bindgen(js_name = verify, unchecked_return_type = "VerifyResponse")]
pub fn verify_js(
    #[wasm_bindgen(unchecked_param_type = "VerifyRequest | string")] request: JsValue,
    #[wasm_bindgen(js_name = nowUnix)] now_unix: Option<f64>,
    options: Option<VerifyOptions>,
) -> Result<JsValue, JsValue> {
    let body = json_arg(&request, "request")?;
    let settings = optional_json_arg(options.as_deref(), "options")?;
    let now = now_or_clock(now_unix)?;
    parse_out(&js(verify_text(&body, now, settings.as_deref()))?)
}

/// Verifies the value of a `PAYMENT-SIGNATURE` (or `X-PAYMENT`) header against
/// the requirements this server offered (an object or its JSON text, of the
/// protocol version the header carries). `nowUnix` defaults to the JavaScript
/// clock. Answers a VerifyResponse, as `verify` does.
#[wasm_bindgen(js_name = verifyPaymentHeader, unchecked_return_type = "VerifyResponse")]
pub fn verify_payment_header_js(
    header: &str,
    #[wasm_bindgen(unchecked_param_type = "PaymentRequirements | PaymentRequirementsV1 | string")]
    requirements: JsValue,
    #[wasm_bindgen(js_name = nowUnix)] now_unix: Option<f64>,
    options: Option<VerifyOptions>,
) -> Result<JsValue, JsValue> {
    let requirements = json_arg(&requirements, "requirements")?;
    let settings = optional_json_arg(options.as_deref(), "options")?;
    let now = now_or_clock(now_unix)?;
    parse_out(&js(verify_header_text(
        header,
        &requirements,
        now,
        settings.as_deref(),
    ))?)
}

/// Verifies a request paying with `batch-settlement` on `cloudflare:402`: its
/// HTTP Message Signature (Ed25519, tag `web-bot-auth`, covering `@authority`,
/// `signature-agent` and `payment-signature`) against the agents' key
/// directories, its times, and its payment against the offered requirements.
/// `input` is `{request: {method, url, headers: [[name, value]]}, requirements,
/// directories: {agent: JWKS}, now, config?}` (or its JSON text). Answers
/// `{verdict, paymentResponse?}`; a bad payment is an invalid verdict.
#[cfg(feature = "batch")]
#[wasm_bindgen(js_name = verifyBatchSettlement, unchecked_return_type = "BatchSettlementResult")]
pub fn verify_batch_settlement_js(
    #[wasm_bindgen(unchecked_param_type = "BatchSettlementInput | string")] input: JsValue,
) -> Result<JsValue, JsValue> {
    let input = json_arg(&input, "input")?;
    parse_out(&js(verify_batch_settlement_text(&input))?)
}

/// Signs a request for `batch-settlement`: `input` is `{request, privateKey (JWK
/// d), signatureAgent, signatureAgentKey?, label?, created, expires, nonce?}`
/// (or its JSON text). Answers the `Signature-Agent`, `Signature-Input` and
/// `Signature` values and the key id.
#[cfg(feature = "batch")]
#[wasm_bindgen(js_name = signRequest, unchecked_return_type = "SignedRequestHeaders")]
pub fn sign_request_js(
    #[wasm_bindgen(unchecked_param_type = "SignRequestInput | string")] input: JsValue,
) -> Result<JsValue, JsValue> {
    let input = json_arg(&input, "input")?;
    parse_out(&js(sign_request_text(&input))?)
}

/// Commits to pay a `batch-settlement` offer (on `cloudflare:402`): the first
/// such requirement of `paymentRequired` (an object, its JSON text, or a
/// `PAYMENT-REQUIRED` header value) that `options.maxAmount` allows. Answers
/// the `PAYMENT-SIGNATURE` value; sign the request that carries it with
/// `signRequest`.
#[cfg(feature = "batch")]
#[wasm_bindgen(js_name = createBatchPayment)]
pub fn create_batch_payment_js(
    #[wasm_bindgen(
        js_name = paymentRequired,
        unchecked_param_type = "PaymentRequired | string"
    )]
    payment_required: JsValue,
    options: Option<PaymentOptions>,
) -> Result<String, JsValue> {
    let pr = json_arg(&payment_required, "paymentRequired")?;
    let opts = js(read_options(
        optional_json_arg(options.as_deref(), "options")?.as_deref(),
    ))?;
    js(create_batch_payment_text(&pr, &opts.policy))
}

/// Decodes the value of an x402 header, named case-insensitively
/// (`PAYMENT-REQUIRED`, `PAYMENT-SIGNATURE`, `PAYMENT-RESPONSE`, `X-PAYMENT`,
/// `X-PAYMENT-RESPONSE`), into its document. Strict: canonical base64, strict
/// JSON, every protocol field checked; unknown fields are kept.
#[wasm_bindgen(js_name = decodeHeader, unchecked_return_type = "X402Document")]
pub fn decode_header_js(
    #[wasm_bindgen(unchecked_param_type = "HeaderName")] name: &str,
    value: &str,
) -> Result<JsValue, JsValue> {
    parse_out(&js(decode_header_text(name, value))?)
}

/// Encodes a document (an object or its JSON text) as the value of the x402
/// header `name`, after checking it as that header's document.
#[wasm_bindgen(js_name = encodeHeader)]
pub fn encode_header_js(
    #[wasm_bindgen(unchecked_param_type = "HeaderName")] name: &str,
    #[wasm_bindgen(unchecked_param_type = "X402Document | string")] document: JsValue,
) -> Result<String, JsValue> {
    let json = json_arg(&document, "document")?;
    js(encode_header_text(name, &json))
}

/// Creates a payment for a PaymentRequired (an object, its JSON text, or a
/// `PAYMENT-REQUIRED` header value): picks the first requirement the options'
/// policy allows, signs it with `privateKey` (hex) and answers the header value
/// to send (as `PAYMENT-SIGNATURE` for x402 v2, `X-PAYMENT` for v1). `nowUnix`
/// defaults to the JavaScript clock and `nonce` to `crypto.getRandomValues`.
#[wasm_bindgen(js_name = createPayment)]
pub fn create_payment_js(
    #[wasm_bindgen(
        js_name = paymentRequired,
        unchecked_param_type = "PaymentRequired | PaymentRequiredV1 | string"
    )]
    payment_required: JsValue,
    #[wasm_bindgen(js_name = privateKey)] private_key: &str,
    options: Option<PaymentOptions>,
) -> Result<String, JsValue> {
    let pr = json_arg(&payment_required, "paymentRequired")?;
    let opts = js(read_options(
        optional_json_arg(options.as_deref(), "options")?.as_deref(),
    ))?;
    let key = js(read_private_key(private_key))?;
    let now = match opts.now {
        Some(t) => t,
        None => now_or_clock(None)?,
    };
    let nonce = match opts.nonce {
        Some(n) => n,
        None => {
            let mut n = [0u8; 32];
            get_random_values(&mut n)?;
            n
        }
    };
    #[cfg(feature = "sponsored-payer")]
    return js(gas_sponsoring::create_payment_with_facts_text(
        &pr,
        &key,
        nonce,
        now,
        &opts.policy,
        opts.chain_facts.as_ref(),
    ));
    #[cfg(not(feature = "sponsored-payer"))]
    js(create_payment_text(&pr, &key, nonce, now, &opts.policy))
}

/// The requirement `createPayment` would pay, under the same options: answers
/// `{index, x402Version, method, chainId, asset, payTo, requirements}`.
#[wasm_bindgen(js_name = selectRequirement, unchecked_return_type = "SelectedRequirement")]
pub fn select_requirement_js(
    #[wasm_bindgen(
        js_name = paymentRequired,
        unchecked_param_type = "PaymentRequired | PaymentRequiredV1 | string"
    )]
    payment_required: JsValue,
    options: Option<PaymentOptions>,
) -> Result<JsValue, JsValue> {
    let pr = json_arg(&payment_required, "paymentRequired")?;
    let opts = js(read_options(
        optional_json_arg(options.as_deref(), "options")?.as_deref(),
    ))?;
    parse_out(&js(select_requirement_text(&pr, &opts.policy))?)
}

/// The EIP-712 hashes of an x402 typed-data document `{types?, primaryType,
/// domain, message}` (the `eth_signTypedData_v4` shape, primary type
/// `TransferWithAuthorization` or `PermitWitnessTransferFrom`).
#[wasm_bindgen(js_name = hashTypedData, unchecked_return_type = "TypedDataHashes")]
pub fn hash_typed_data_js(
    #[wasm_bindgen(js_name = typedData, unchecked_param_type = "TypedData | string")]
    typed_data: JsValue,
) -> Result<JsValue, JsValue> {
    let json = json_arg(&typed_data, "typedData")?;
    parse_out(&js(hash_typed_data_text(&json))?)
}

/// The EIP-55 address whose key signed `digest` (`0x` + 64 hex digits) with
/// `signature` (`0x` + 65 bytes `r‖s‖v`; high-s is refused, as on chain).
#[wasm_bindgen(js_name = recoverAddress)]
pub fn recover_address_js(digest: &str, signature: &str) -> Result<String, JsValue> {
    js(recover_address_text(digest, signature))
}

/// The EIP-55 address of a private key (hex).
#[wasm_bindgen(js_name = privateKeyToAddress)]
pub fn private_key_to_address_js(
    #[wasm_bindgen(js_name = privateKey)] private_key: &str,
) -> Result<String, JsValue> {
    let key = js(read_private_key(private_key))?;
    Ok(key.address().checksummed().as_str().to_owned())
}

/// Every reason string the core may put in `invalidReason` or an error's `code`.
#[wasm_bindgen(js_name = reasons, unchecked_return_type = "string[]")]
pub fn reasons_js() -> Vec<String> {
    Reason::ALL.iter().map(|r| r.as_str().to_owned()).collect()
}

#[wasm_bindgen(typescript_custom_section)]
const TYPESCRIPT: &str = include_str!("types.d.ts");

#[cfg(feature = "batch")]
#[wasm_bindgen(typescript_custom_section)]
const TYPESCRIPT_BATCH: &str = include_str!("batch.d.ts");

#[cfg(feature = "chain")]
pub mod chain;

#[cfg(feature = "sponsored-payer")]
pub mod gas_sponsoring;

#[cfg(feature = "lifecycle")]
pub mod lifecycle;

#[cfg(feature = "svm")]
pub mod svm;

#[cfg(test)]
mod tests;
