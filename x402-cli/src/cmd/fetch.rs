//! `paywire fetch`: the client: GET, on 402 choose, pay, retry.

use crate::agent::{self, Step};
use crate::args::{self, flag, value, values};
use crate::fail::{EXIT_INVALID, Failure};
use crate::out::{J, pretty, usdc};

const HELP: &str = "\
usage: paywire fetch URL --key-file FILE [--max-amount N] [--network NET]... [--asset ADDR]...
                  [--json]

GETs URL. If the server answers 402, chooses the first requirement this client can
pay within the policy, signs it with the key, and retries with the payment header.
Prints the decoded PAYMENT-RESPONSE and the body on standard output, and the steps
on standard error (with --json: one JSON object on standard output).

  --key-file FILE   the payer's key (write one with `paywire keygen`)
  --max-amount N    the most to pay, in the token's atomic units (default 100000:
                    0.10 of a 6-decimal token such as USDC)
  --network NET     allowed networks (CAIP-2 or v1 names; default: any)
  --asset ADDR      allowed tokens (default: any)

https:// URLs need a build with the `tls` feature.

Exit status: 0 the final answer is 2xx, 1 the payment was refused or the server
answered another error, 2 usage, key file or network error.
";

const SPEC: &[args::Opt] = &[
    flag("json"),
    value("key-file"),
    value("max-amount"),
    values("network"),
    values("asset"),
];

fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        402 => "Payment Required",
        404 => "Not Found",
        _ => "",
    }
}

pub(crate) fn run(argv: &[String]) -> Result<u8, Failure> {
    let p = args::parse(argv, SPEC, "fetch")?;
    if let Some(code) = super::help(&p, HELP) {
        return Ok(code);
    }
    let url = p.one_positional("a URL", "fetch")?;
    let key_file = p.require("key-file", "fetch")?;
    let policy = agent::policy(p.get("max-amount"), &p.all("network"), &p.all("asset"))?;
    let key = crate::keyfile::read(key_file)?;
    let json = p.has("json");
    let mut chosen = None;
    let mut progress = |s: Step| {
        if !json {
            let line = match &s {
                Step::Request {
                    url,
                    payment_header,
                } => format!(
                    "GET {url}{}",
                    payment_header.map_or(String::new(), |h| format!(" with {h}"))
                ),
                Step::Response { status } => format!("  → {status} {}", status_text(*status)),
                Step::PaymentRequired { .. } => String::new(),
                Step::Chosen {
                    index,
                    scheme,
                    network,
                    amount,
                    asset,
                    pay_to,
                    ..
                } => format!(
                    "paying accepts[{index}]: {scheme} on {network}, {amount} atomic units \
                     ({} if 6 decimals) of {asset} to {pay_to}",
                    usdc(amount)
                ),
                Step::Signed { header, value, .. } => {
                    format!("signed {header} ({} characters)", value.len())
                }
                Step::SignedRequest { .. } => "signed the request".into(),
            };
            if !line.is_empty() {
                crate::say_err(&format!("{line}\n"));
            }
        }
        if let Step::Chosen { json, .. } = &s {
            chosen = Some(json.clone());
        }
    };
    let outcome = agent::fetch(url, &key, &policy, &mut progress)?;
    let ok = (200..300).contains(&outcome.status);
    if json {
        let body = String::from_utf8_lossy(&outcome.body).into_owned();
        let j = J::obj(vec![
            ("status", J::Num(u64::from(outcome.status))),
            ("paid", J::Bool(outcome.paid)),
            ("accepted", chosen.as_deref().map_or(J::Null, J::raw)),
            (
                "paymentResponse",
                outcome.payment_response.as_deref().map_or(J::Null, J::raw),
            ),
            ("refused", outcome.refused.as_ref().map_or(J::Null, J::str)),
            ("body", J::Str(body)),
        ]);
        crate::say(&format!("{}\n", j.compact()));
    } else {
        if let Some(r) = &outcome.payment_response {
            crate::say(&format!("PAYMENT-RESPONSE\n{}\n\n", pretty(r)));
        }
        let error = error_member(&outcome.body);
        if let Some(why) = &outcome.refused {
            crate::say_err(&format!("the server refused the payment: {why}\n"));
        } else if outcome.paid && error.as_deref() == Some("settlement_uncertain") {
            crate::say_err(&format!(
                "the server answered {}: the payment may have been charged; it is recorded for \
                 reconciliation on the server. Do not pay again.\n",
                outcome.status
            ));
        } else if !ok {
            crate::say_err(&format!("the server answered {}\n", outcome.status));
        }
        crate::say(&String::from_utf8_lossy(&outcome.body));
    }
    Ok(if ok { 0 } else { EXIT_INVALID })
}

/// The `error` member of a JSON body, if it has one.
fn error_member(body: &[u8]) -> Option<String> {
    let v = paywire::json::parse(body, &paywire::json::Limits::DEFAULT).ok()?;
    v.as_object()?
        .get("error")?
        .as_str()
        .map(|s| s.to_cow().into_owned())
}
