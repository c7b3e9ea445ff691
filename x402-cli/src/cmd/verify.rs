//! `paywire verify`: offline verification; prints a VerifyResponse.

use paywire::evm::Address;
use paywire::header::{self, HeaderKind};
use paywire::json::ToJson;
use paywire::types::facilitator::PaymentPayload;
use paywire::verify::{self, Config, Verdict};

use crate::args::{self, flag, value, values};
use crate::fail::{EXIT_INVALID, Failure};
use crate::out::pretty;

const HELP: &str = "\
usage: paywire verify [--json] [--now UNIX_SECONDS] [--requirements FILE]
                   [--facilitator-address ADDR]... <REQUEST.json | HEADER | ->

Verifies a payment offline, with the reference facilitator's order of checks and
reason strings, and prints the VerifyResponse. The input is either a facilitator's
POST /verify body ({x402Version, paymentPayload, paymentRequirements}), or a
PAYMENT-SIGNATURE / X-PAYMENT header value checked against the requirement in
--requirements FILE (one element of `accepts`, as JSON). Without --requirements, a v2
payment is checked against its own `accepted` requirement.

A valid VerifyResponse lists in extra.chainChecks what still needs the chain
(nonce unused, balance, simulation): offline verification never pretends to do them.

  --now N                   verify as of this unix time (default: now)
  --facilitator-address A   an address of this facilitator (for `upto` payments)

Exit status: 0 valid, 1 invalid, 2 usage or I/O error.
";

const SPEC: &[args::Opt] = &[
    flag("json"),
    value("now"),
    value("requirements"),
    values("facilitator-address"),
];

pub(crate) fn run(argv: &[String]) -> Result<u8, Failure> {
    let p = args::parse(argv, SPEC, "verify")?;
    if let Some(code) = super::help(&p, HELP) {
        return Ok(code);
    }
    let now = super::now(&p)?;
    let mut facilitators: Vec<Address> = Vec::new();
    for a in p.all("facilitator-address") {
        facilitators.push(
            a.parse()
                .map_err(|e| Failure::usage(format!("--facilitator-address {a:?}: {e}")))?,
        );
    }
    let config = Config {
        facilitator_addresses: &facilitators,
        smart_wallets: false,
        erc20_approval_sponsoring: false,
    };
    let arg = p.one_positional(
        "a POST /verify body or a payment header value (or - for standard input)",
        "verify",
    )?;
    let text = crate::input::text_arg(arg, "input")?;
    let trimmed = text.trim();
    let (verdict, note) = if trimmed.starts_with('{') {
        if p.get("requirements").is_some() {
            return Err(Failure::usage(
                "a POST /verify body carries its own paymentRequirements: --requirements is for header values",
            ));
        }
        (verify::verify_json(trimmed.as_bytes(), now, &config), None)
    } else {
        verify_header(trimmed, p.get("requirements"), now, &config)?
    };
    let response = verdict.to_json_vec();
    if p.has("json") {
        crate::say(&format!("{}\n", String::from_utf8_lossy(&response)));
    } else {
        crate::say(&format!("{}\n", pretty(&response)));
        if let Some(n) = note {
            crate::say_err(&format!("note: {n}\n"));
        }
        crate::say_err(&summary(&verdict));
    }
    Ok(if verdict.is_valid() { 0 } else { EXIT_INVALID })
}

fn summary(v: &Verdict) -> String {
    match v.reason {
        None => {
            "valid: every offline check passed; extra.chainChecks are still owed on chain\n".into()
        }
        Some(r) => format!("invalid: {r}: {}\n", v.message.as_str()),
    }
}

/// Verifies a header value against `--requirements`, or a v2 payment against its
/// own `accepted`.
fn verify_header(
    text: &str,
    requirements: Option<&str>,
    now: u64,
    config: &Config<'_>,
) -> Result<(Verdict, Option<String>), Failure> {
    let (kind, value) = crate::input::header_line(text)?;
    if let Some(k) = kind
        && k != HeaderKind::PaymentSignature
        && k != HeaderKind::XPayment
    {
        return Err(Failure::usage(format!(
            "{} does not carry a payment: verify takes PAYMENT-SIGNATURE or X-PAYMENT",
            k.name()
        )));
    }
    let mut scratch = vec![0u8; header::base64_decoded_len(value.len()) + 3];
    let (req_json, note) = match requirements {
        Some(path) => {
            let json = crate::input::read_file(path, "requirements file")?;
            if !json.trim_start().starts_with('{') {
                return Err(Failure::usage(format!(
                    "requirements file {path}: expected a JSON object (one element of `accepts`)"
                )));
            }
            if json.contains("\"accepts\"") {
                return Err(Failure::usage(format!(
                    "requirements file {path} holds a whole PaymentRequired: give the one \
                     requirement the payment is checked against (an element of `accepts`)"
                )));
            }
            (json.into_bytes(), None)
        }
        None => {
            let accepted = {
                let mut buf = vec![0u8; header::base64_decoded_len(value.len()) + 3];
                match header::decode_payment_signature(value, &mut buf) {
                    Ok(PaymentPayload::V2(p)) => Some(p.accepted.to_json_vec()),
                    Ok(PaymentPayload::V1(_)) => {
                        return Err(Failure::usage(
                            "a v1 X-PAYMENT carries no requirements: pass --requirements FILE",
                        ));
                    }
                    // Malformed: the verifier reports it with its reason.
                    Err(_) => None,
                }
            };
            (
                accepted.unwrap_or_else(|| b"{}".to_vec()),
                Some(
                    "no --requirements: checked against the payment's own `accepted` \
                     (a server checks it against its own requirements)"
                        .to_string(),
                ),
            )
        }
    };
    Ok((
        verify::verify_header(value, &req_json, now, config, &mut scratch),
        note,
    ))
}
