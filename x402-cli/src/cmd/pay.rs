//! `paywire pay`: signs a payment for a PAYMENT-REQUIRED header.

use paywire::client;
use paywire::header;

use crate::agent::{self, Step};
use crate::args::{self, flag, value, values};
use crate::fail::Failure;
use crate::out::{J, usdc};

const HELP: &str = "\
usage: paywire pay --key-file FILE [--max-amount N] [--network NET]... [--asset ADDR]...
                [--now UNIX_SECONDS] [--json] <PAYMENT-REQUIRED | 402 JSON BODY | ->

Chooses the first requirement of the 402 that this client can pay and the policy
allows, signs it with the key (EIP-3009, or Permit2 when the requirement asks), and
prints the payment header: PAYMENT-SIGNATURE for x402 v2, X-PAYMENT for v1.

  --key-file FILE   the payer's key (write one with `paywire keygen`)
  --max-amount N    the most to pay, in the token's atomic units (default 100000:
                    0.10 of a 6-decimal token such as USDC)
  --network NET     allowed networks (CAIP-2 or v1 names; default: any)
  --asset ADDR      allowed tokens (default: any)
  --now N           sign as of this unix time (the validity window starts here)

Exit status: 0 signed, 1 nothing payable under the policy or a malformed 402,
2 usage or I/O error (a missing or malformed key file).
";

const SPEC: &[args::Opt] = &[
    flag("json"),
    value("key-file"),
    value("max-amount"),
    values("network"),
    values("asset"),
    value("now"),
];

pub(crate) fn run(argv: &[String]) -> Result<u8, Failure> {
    let p = args::parse(argv, SPEC, "pay")?;
    if let Some(code) = super::help(&p, HELP) {
        return Ok(code);
    }
    let key_file = p.require("key-file", "pay")?;
    let arg = p.one_positional(
        "a PAYMENT-REQUIRED header value (or - for standard input)",
        "pay",
    )?;
    let policy = agent::policy(p.get("max-amount"), &p.all("network"), &p.all("asset"))?;
    let now = super::now(&p)?;
    let key = crate::keyfile::read(key_file)?;
    let text = crate::input::text_arg(arg, "PAYMENT-REQUIRED")?;
    let (kind, value) = crate::input::header_line(&text)?;
    if let Some(k) = kind
        && k != header::HeaderKind::PaymentRequired
    {
        return Err(Failure::usage(format!(
            "{} is not a 402's requirements: pay takes PAYMENT-REQUIRED (or a v1 402 JSON body)",
            k.name()
        )));
    }
    let mut scratch = vec![0u8; header::DEFAULT_MAX_DECODED];
    let pr = client::read_payment_required(value.as_bytes(), &mut scratch)
        .map_err(|e| Failure::core("PAYMENT-REQUIRED", &e))?;
    let mut chosen = None;
    let mut signed = None;
    let (name, header_value) = agent::pay_at(&pr, &key, &policy, now, &mut |s| match s {
        Step::Chosen { .. } => chosen = Some(s),
        Step::Signed { .. } => signed = Some(s),
        _ => {}
    })?;
    let payer = key.address().to_string();
    if p.has("json") {
        let mut m = vec![
            ("header", J::str(name)),
            ("value", J::str(&header_value)),
            ("payer", J::str(&payer)),
        ];
        if let Some(Step::Chosen { index, json, .. }) = &chosen {
            m.push(("index", J::Num(*index as u64)));
            m.push(("accepted", J::raw(json)));
        }
        if let Some(Step::Signed { json, .. }) = &signed {
            m.push(("payload", J::raw(json)));
        }
        crate::say(&format!("{}\n", J::obj(m).compact()));
    } else {
        if let Some(Step::Chosen {
            index,
            scheme,
            network,
            amount,
            asset,
            pay_to,
            ..
        }) = &chosen
        {
            crate::say_err(&format!(
                "paying accepts[{index}]: {scheme} on {network}, {amount} atomic units \
                 ({} if 6 decimals) of {asset} to {pay_to}, from {payer}\n",
                usdc(amount)
            ));
        }
        crate::say(&format!("{name}: {header_value}\n"));
    }
    Ok(0)
}
