//! `paywire serve`: a paywalled HTTP resource on 127.0.0.1.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use paywire::evm::Address;
use paywire::json::{JsonStr, Limits, ObjectWriter, ToJson};
use paywire::lifecycle::{Settings, record_info};
use paywire::{Amount, Network};
use zeroize::Zeroizing;

use crate::args::{self, flag, value};
use crate::fail::Failure;
use crate::ledger::Ledger;
use crate::out::{J, usdc};
use crate::paywall::{Content, Event, Offer, Paywall, Settlement};
use paywire_server::paywall::{
    BlockingRecords as ReplayStore, MemoryRecords as MemoryStore, SqliteRecords as SqliteStore,
};

const HELP: &str = "\
usage: paywire serve --pay-to ADDR --price PRICE [--port N] [--path /PATH]
                  [--network eip155:ID] [--asset ADDR --asset-name NAME --asset-version V]
                  [--facilitator URL [--facilitator-key-file F]]
                  [--state FILE | --max-records N]
                  [--content TEXT | --content-file FILE | --upstream URL] [--json]
       paywire serve --state FILE --list-uncertain

Serves one paywalled resource on 127.0.0.1 (never another interface). A request
without payment gets 402 with a PAYMENT-REQUIRED header (scheme exact, EIP-3009);
a request with PAYMENT-SIGNATURE is verified offline against this route's own
requirement, the content is produced and held back, the payment is settled, and
only then is the content served, with PAYMENT-RESPONSE and
`Cache-Control: private, no-store`. A refused payment gets 402 again, its
reason in `error`.

Each payment is delivered at most once: a record per payment (network, asset,
payer, nonce) is claimed before the content is produced and marked before
settlement. The same payment presented while another request settles it gets
409 payment_in_progress; presented after delivery, 409 payment_already_delivered
with the earlier PAYMENT-RESPONSE; presented after a settlement whose answer
was lost (the server stopped), the content without a second settlement. A
facilitator that fails never gets content delivered nor the client asked to pay
again: 502 facilitator_unavailable when nothing can have settled (the same
payment may be sent again), 502 settlement_uncertain when it may have (the
record is kept for reconciliation). HEAD is never settled.

  --pay-to ADDR       who is paid (an EVM address)
  --price PRICE       the price in whole tokens, e.g. 0.01 (USDC has 6 decimals)
  --decimals N        the token's decimals (default 6)
  --port N            the port (default 4020; 0 picks a free one). A port in use is an error.
  --path /PATH        the resource's path (default /)
  --network NET       CAIP-2 EVM network (default eip155:84532, Base Sepolia)
  --asset ADDR        the token (default: USDC on Base Sepolia or Base)
  --asset-name NAME   the token's EIP-712 name (default: USDC's on that network)
  --asset-version V   the token's EIP-712 version (default 2)
  --facilitator URL   settle through this facilitator's POST /settle
  --facilitator-key-file F
                      the API key the facilitator gave this server, sent as
                      `Authorization: Bearer KEY` (a file only its owner can
                      read; default: $PAYWIRE_FACILITATOR_KEY, if set)
  --settle-timeout S  how long to wait for the facilitator, in seconds (default 30)
  --lease S           how long a request may hold a payment before another may
                      take it over, in seconds (default 60)
  --state FILE        keep payment records in this SQLite file (created if needed):
                      they survive a restart, and several servers may share it
  --max-records N     without --state: keep at most N payment records in memory
                      (default 100000). Delivered payments are forgotten once their
                      signature has expired; uncertain and settled ones never are.
                      At the limit, new payments get 503 with Retry-After.
  --list-uncertain    with --state: print the payments to reconcile (one JSON
                      object per line: payer, nonce, amount, route, time, cause) and exit
  --content TEXT      the resource served once paid (default: a small JSON document)
  --content-file F    the same, from a file
  --upstream URL      the same, from GET URL+PATH on another HTTP server: its answer
                      is held back until the payment settles, and not settled
                      unless it is a 2xx
  --mime-type TYPE    its media type (default application/json)

Without --facilitator, payments settle on a SIMULATED ledger of test-USDC in this
process: each new payer starts with 1.000000 test-USDC, no chain is contacted, and
transaction ids start with `simulated:`.

It prints `listening on URL` when ready, then one line per request on standard
error (one JSON object per event on standard output with --json). Stop it with
Ctrl-C or SIGTERM.

Exit status: 2 usage error, or the port cannot be bound.
";

const SPEC: &[args::Opt] = &[
    flag("json"),
    value("pay-to"),
    value("price"),
    value("decimals"),
    value("port"),
    value("path"),
    value("network"),
    value("asset"),
    value("asset-name"),
    value("asset-version"),
    value("facilitator"),
    value("facilitator-key-file"),
    value("content"),
    value("content-file"),
    value("mime-type"),
    value("state"),
    flag("list-uncertain"),
    value("upstream"),
    value("settle-timeout"),
    value("lease"),
    value("max-records"),
];

/// The environment variable that holds the facilitator's API key when
/// `--facilitator-key-file` is not given.
const FACILITATOR_KEY_ENV: &str = "PAYWIRE_FACILITATOR_KEY";

/// USDC on the networks the defaults know: (network, address, EIP-712 name, version).
pub(crate) const KNOWN_USDC: &[(&str, &str, &str, &str)] = &[
    (
        "eip155:84532",
        "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
        "USDC",
        "2",
    ),
    (
        "eip155:8453",
        "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
        "USD Coin",
        "2",
    ),
];

/// The default content of the resource.
pub(crate) const DEFAULT_CONTENT: &str =
    "{\"report\":\"sunny, 21 degrees\",\"note\":\"this content was paid for with x402\"}\n";

/// Parses a price in whole tokens (`0.01`) into atomic units.
pub(crate) fn parse_price(price: &str, decimals: u32) -> Result<Amount, Failure> {
    let bad = |why: &str| Failure::usage(format!("--price {price:?}: {why}"));
    let (whole, frac) = price.split_once('.').unwrap_or((price, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad("expected a decimal number such as 0.01"));
    }
    if frac.len() > decimals as usize {
        return Err(bad(&format!("more than {decimals} decimal places")));
    }
    let digits = format!("{whole}{frac:0<width$}", width = decimals as usize);
    let digits = digits.trim_start_matches('0');
    let amount = if digits.is_empty() {
        Amount::ZERO
    } else {
        digits.parse::<Amount>().map_err(|e| bad(&e.to_string()))?
    };
    if amount == Amount::ZERO {
        return Err(bad("the price must be more than zero"));
    }
    Ok(amount)
}

/// The offer described by the options.
fn offer(p: &args::Parsed) -> Result<Offer, Failure> {
    let pay_to: Address = p
        .require("pay-to", "serve")?
        .parse()
        .map_err(|e| Failure::usage(format!("--pay-to: {e}")))?;
    let decimals = p.u64("decimals")?.unwrap_or(6);
    if decimals > 36 {
        return Err(Failure::usage("--decimals: at most 36"));
    }
    let amount = parse_price(p.require("price", "serve")?, decimals as u32)?;
    let network_text = p.get("network").unwrap_or("eip155:84532");
    let network = Network::parse_caip2(network_text)
        .map_err(|e| Failure::usage(format!("--network {network_text:?}: {e}")))?;
    if network.evm_chain_id().is_none() || network.namespace() != Some("eip155") {
        return Err(Failure::usage(format!(
            "--network {network_text:?}: serve sells on EVM networks (eip155:<chain id>)"
        )));
    }
    let known = KNOWN_USDC.iter().find(|(n, ..)| *n == network_text);
    let asset_text = p.get("asset").or(known.map(|k| k.1)).ok_or_else(|| {
        Failure::usage(format!(
            "--asset is needed on {network_text} (the defaults know USDC on eip155:84532 and eip155:8453)"
        ))
    })?;
    let asset: Address = asset_text
        .parse()
        .map_err(|e| Failure::usage(format!("--asset: {e}")))?;
    let default_token = known.filter(|k| p.get("asset").is_none_or(|a| a == k.1));
    let asset_name = p
        .get("asset-name")
        .or(default_token.map(|k| k.2))
        .ok_or_else(|| {
            Failure::usage(
                "--asset-name (the token's EIP-712 domain name) is needed for this token",
            )
        })?;
    let asset_version = p
        .get("asset-version")
        .or(default_token.map(|k| k.3))
        .unwrap_or("2");
    let path = p.get("path").unwrap_or("/");
    if !path.starts_with('/') || path.contains(['?', '#', ' ']) {
        return Err(Failure::usage(format!(
            "--path {path:?}: a path such as /weather"
        )));
    }
    let given = ["content", "content-file", "upstream"]
        .iter()
        .filter(|o| p.has(o))
        .count();
    if given > 1 {
        return Err(Failure::usage(
            "give one of --content, --content-file and --upstream",
        ));
    }
    let content = match (p.get("content"), p.get("content-file")) {
        (Some(_), Some(_)) => {
            return Err(Failure::usage("give --content or --content-file, not both"));
        }
        (Some(c), None) => c.as_bytes().to_vec(),
        (None, Some(f)) => {
            std::fs::read(f).map_err(|e| Failure::io(format!("--content-file {f}"), e))?
        }
        (None, None) => DEFAULT_CONTENT.as_bytes().to_vec(),
    };
    Ok(Offer {
        path: path.to_string(),
        network,
        amount,
        asset,
        asset_name: asset_name.to_string(),
        asset_version: asset_version.to_string(),
        pay_to,
        max_timeout_seconds: 60,
        description: format!("paid resource {path}"),
        mime_type: p.get("mime-type").unwrap_or("application/json").to_string(),
        content,
    })
}

pub(crate) fn run(argv: &[String]) -> Result<u8, Failure> {
    let p = args::parse(argv, SPEC, "serve")?;
    if let Some(code) = super::help(&p, HELP) {
        return Ok(code);
    }
    if let Some(extra) = p.positionals.first() {
        return Err(Failure::usage(format!("unexpected argument {extra:?}")));
    }
    let store: Option<Arc<SqliteStore>> = match p.get("state") {
        Some(path) => Some(Arc::new(
            SqliteStore::open(Path::new(path))
                .map_err(|e| Failure::io(format!("--state {path}"), e))?,
        )),
        None => None,
    };
    if p.has("list-uncertain") {
        let Some(store) = store else {
            return Err(Failure::usage(
                "--list-uncertain reads the records of --state FILE",
            ));
        };
        return list_uncertain(store.as_ref());
    }
    let offer = offer(&p)?;
    let mut settings = Settings::default();
    if let Some(t) = p.u64("settle-timeout")? {
        if t == 0 {
            return Err(Failure::usage("--settle-timeout: at least 1 second"));
        }
        settings.settle_timeout_seconds = t;
    }
    if let Some(t) = p.u64("lease")? {
        if t == 0 {
            return Err(Failure::usage("--lease: at least 1 second"));
        }
        settings.claim_seconds = t;
    }
    let settle_timeout_seconds = settings.settle_timeout_seconds;
    let content = match p.get("upstream") {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            Content::Upstream(url.to_string())
        }
        Some(url) => {
            return Err(Failure::usage(format!(
                "--upstream {url:?}: an http:// or https:// URL"
            )));
        }
        None => Content::Fixed,
    };
    let port = p.u64("port")?.unwrap_or(4020);
    let port =
        u16::try_from(port).map_err(|_| Failure::usage(format!("--port {port}: at most 65535")))?;
    let settlement = match p.get("facilitator") {
        Some(url) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(Failure::usage(format!(
                    "--facilitator {url:?}: an http:// or https:// URL"
                )));
            }
            let key = match p.get("facilitator-key-file") {
                Some(file) => Some(
                    paywire_server::signer::read_secret(Some(Path::new(file)), None)
                        .map_err(|e| Failure::usage(format!("--facilitator-key-file: {e}")))?,
                ),
                None => std::env::var(FACILITATOR_KEY_ENV)
                    .ok()
                    .filter(|k| !k.trim().is_empty())
                    .map(|k| Zeroizing::new(k.trim().to_string())),
            };
            if key
                .as_ref()
                .is_some_and(|k| !k.bytes().all(|b| b.is_ascii_graphic()))
            {
                return Err(Failure::usage(
                    "the facilitator's API key: printable ASCII without spaces (it is sent in an Authorization header)",
                ));
            }
            let client = paywire_server::paywall::Facilitator::new(url)
                .map_err(|e| Failure::usage(format!("--facilitator: {e}")))?;
            Settlement::Facilitator {
                url: url.to_string(),
                client: Box::new(match &key {
                    Some(k) => client.api_key(k),
                    None => client,
                }),
            }
        }
        None if p.get("facilitator-key-file").is_some() => {
            return Err(Failure::usage(
                "--facilitator-key-file without --facilitator",
            ));
        }
        None => {
            let mut ledger = Ledger::new(offer.asset);
            ledger.faucet = Amount::from(1_000_000u64);
            Settlement::Ledger(Arc::new(Mutex::new(ledger)))
        }
    };
    let listener = crate::http::bind(port)?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::io("reading the bound address", e))?;
    let json = p.has("json");
    let simulated = matches!(settlement, Settlement::Ledger(_));
    let facilitator = p.get("facilitator").map(str::to_string);
    let price = offer.amount;
    let mut paywall = Paywall::new(
        offer,
        &format!("http://{addr}"),
        settlement,
        Box::new(move |e| log(&e, json)),
    )
    .with_settings(settings)
    .with_content(content);
    match (store, p.u64("max-records")?) {
        (Some(_), Some(_)) => {
            return Err(Failure::usage(
                "--max-records bounds the memory store: not with --state",
            ));
        }
        (Some(store), None) => paywall = paywall.with_store(store),
        (None, Some(0)) => return Err(Failure::usage("--max-records: at least 1")),
        (None, Some(n)) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            paywall = paywall.with_store(Arc::new(MemoryStore::with_limit(n)));
        }
        (None, None) => {}
    }
    let url = paywall.url().to_string();
    if json {
        let j = J::obj(vec![
            ("event", J::str("listening")),
            ("url", J::str(&url)),
            ("requirement", J::raw(paywall.requirement_json())),
            (
                "settlement",
                J::str(facilitator.as_deref().unwrap_or("simulated-ledger")),
            ),
        ]);
        crate::say(&format!("{}\n", j.compact()));
    } else {
        crate::say(&format!("listening on {url}\n"));
        crate::say_err(&format!(
            "price {price} atomic units ({} at 6 decimals); settlement: {}\n",
            usdc(&price),
            match &facilitator {
                Some(f) => format!("through the facilitator {f}"),
                None => "SIMULATED ledger of test-USDC in this process (no chain; every new payer \
                         starts with 1.000000 test-USDC)"
                    .to_string(),
            }
        ));
        if simulated {
            crate::say_err("transaction ids of the simulation start with `simulated:`\n");
        }
    }
    let paywall = Arc::new(paywall);
    // A request may wait for the upstream, then for the settlement.
    let deadline = crate::http::REQUEST_TIMEOUT + Duration::from_secs(settle_timeout_seconds);
    crate::http::serve(listener, paywall.router(), deadline);
    Ok(0)
}

/// Prints the payments whose settlement is uncertain, one JSON object a line.
fn list_uncertain(store: &SqliteStore) -> Result<u8, Failure> {
    let records = store.uncertain().map_err(|e| Failure::io("--state", e))?;
    for (key, record) in records {
        // The key, then what the core lists of the record.
        let listed = record_info(&record).unwrap_or_default().to_json_string();
        let mut line = Vec::new();
        let _ = (|| {
            let mut w = ObjectWriter::new(&mut line)?;
            w.str_field("key", JsonStr::new(&key))?;
            if let Some(o) = paywire::json::parse(listed.as_bytes(), &Limits::DEFAULT)
                .ok()
                .and_then(|v| v.as_object())
            {
                for (k, v) in o.members() {
                    w.value_field(k, v)?;
                }
            }
            w.end()
        })();
        crate::say(&format!("{}\n", String::from_utf8_lossy(&line)));
    }
    Ok(0)
}

/// One line per event on standard error, or one JSON object on standard output.
fn log(e: &Event, json: bool) {
    if json {
        crate::say(&format!("{}\n", event_json(e).compact()));
        return;
    }
    let line = match e {
        Event::Request {
            method,
            target,
            payment_header,
        } => format!(
            "{method} {target}{}",
            payment_header.map_or(String::new(), |h| format!(" with {h}"))
        ),
        Event::PaymentRequired { error } => format!(
            "  → 402 Payment Required{}",
            error.as_ref().map_or(String::new(), |e| format!(": {e}"))
        ),
        Event::Verified { valid, .. } => {
            format!(
                "  verified offline: {}",
                if *valid { "valid" } else { "invalid" }
            )
        }
        Event::ChainChecks(checks) => format!(
            "  chain checks on the simulated ledger: {}",
            checks
                .iter()
                .map(|c| format!("{} {}", c.name, if c.ok { "ok" } else { "FAILED" }))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Event::Settled {
            response,
            simulated,
        } => format!(
            "  settled{}: {response}",
            if *simulated { " (simulated)" } else { "" }
        ),
        Event::SettleFailed { reason, message } => {
            format!("  settlement refused: {reason}: {message}")
        }
        Event::Served { status, bytes } => format!("  → {status}, {bytes} bytes"),
        Event::Problem { message } => format!("  problem: {message}"),
        Event::DirectoryFetched { agent, keys } => {
            format!("  fetched the key directory of {agent}: {keys} key(s)")
        }
        Event::Recorded {
            agent,
            amount,
            asset,
        } => format!("  recorded: {agent} committed {amount} {asset}, billed later"),
        Event::Calldata { to, data } => format!(
            "  on a chain a facilitator would send to {to} (not sent, the ledger is simulated): {}",
            crate::out::hex(data)
        ),
        Event::Answered {
            status,
            outcome,
            reason,
            message,
        } => format!("  → {status} ({outcome}) {reason}: {message}"),
        Event::Uncertain { record } => {
            format!("  UNCERTAIN settlement, recorded for reconciliation: {record}")
        }
    };
    crate::say_err(&format!("{}\n", escape_controls(&line)));
}

/// `text` with every control character written as an escape (`\u{1b}`): what
/// clients and facilitators send never moves a terminal's cursor nor forges a
/// log line.
fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// An event as a JSON object (`serve --json`).
pub(crate) fn event_json(e: &Event) -> J {
    match e {
        Event::Request {
            method,
            target,
            payment_header,
        } => J::obj(vec![
            ("event", J::str("request")),
            ("method", J::str(method)),
            ("target", J::str(target)),
            ("paymentHeader", payment_header.map_or(J::Null, J::str)),
        ]),
        Event::PaymentRequired { error } => J::obj(vec![
            ("event", J::str("paymentRequired")),
            ("error", error.as_ref().map_or(J::Null, J::str)),
        ]),
        Event::Verified { valid, response } => J::obj(vec![
            ("event", J::str("verified")),
            ("isValid", J::Bool(*valid)),
            ("verifyResponse", J::Raw(response.clone())),
        ]),
        Event::ChainChecks(checks) => J::obj(vec![
            ("event", J::str("chainChecks")),
            ("simulated", J::Bool(true)),
            (
                "checks",
                J::Arr(
                    checks
                        .iter()
                        .map(|c| J::obj(vec![("check", J::str(c.name)), ("ok", J::Bool(c.ok))]))
                        .collect(),
                ),
            ),
        ]),
        Event::Settled {
            response,
            simulated,
        } => J::obj(vec![
            ("event", J::str("settled")),
            ("simulated", J::Bool(*simulated)),
            ("settleResponse", J::Raw(response.clone())),
        ]),
        Event::SettleFailed { reason, message } => J::obj(vec![
            ("event", J::str("settleFailed")),
            ("reason", J::str(reason)),
            ("message", J::str(message)),
        ]),
        Event::Served { status, bytes } => J::obj(vec![
            ("event", J::str("served")),
            ("status", J::Num(u64::from(*status))),
            ("bytes", J::Num(*bytes as u64)),
        ]),
        Event::Problem { message } => J::obj(vec![
            ("event", J::str("problem")),
            ("message", J::str(message)),
        ]),
        Event::DirectoryFetched { agent, keys } => J::obj(vec![
            ("event", J::str("directoryFetched")),
            ("agent", J::str(agent)),
            ("keys", J::Num(*keys as u64)),
        ]),
        Event::Recorded {
            agent,
            amount,
            asset,
        } => J::obj(vec![
            ("event", J::str("recorded")),
            ("agent", J::str(agent)),
            ("amount", J::str(amount.to_string())),
            ("asset", J::str(asset)),
        ]),
        Event::Calldata { to, data } => J::obj(vec![
            ("event", J::str("calldata")),
            ("sent", J::Bool(false)),
            ("to", J::str(to.to_string())),
            ("data", J::str(crate::out::hex(data))),
        ]),
        Event::Answered {
            status,
            outcome,
            reason,
            message,
        } => J::obj(vec![
            ("event", J::str("answered")),
            ("status", J::Num(u64::from(*status))),
            ("outcome", J::str(outcome)),
            ("reason", J::str(reason)),
            ("message", J::str(message)),
        ]),
        Event::Uncertain { record } => J::obj(vec![
            ("event", J::str("uncertain")),
            ("record", J::raw(record.as_bytes())),
        ]),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_in_log_lines() {
        assert_eq!(super::escape_controls("GET /paid"), "GET /paid");
        assert_eq!(
            super::escape_controls("GET /\u{1b}[2J\r\nforged"),
            "GET /\\u{1b}[2J\\u{d}\\u{a}forged"
        );
    }

    #[test]
    fn prices() {
        assert_eq!(parse_price("0.01", 6).unwrap(), Amount::from(10_000u64));
        assert_eq!(parse_price("1", 6).unwrap(), Amount::from(1_000_000u64));
        assert_eq!(parse_price(".5", 6).unwrap(), Amount::from(500_000u64));
        assert_eq!(parse_price("0.000001", 6).unwrap(), Amount::from(1u64));
        for bad in ["", ".", "0", "0.0000001", "1e3", "-1", "0x10", "1.2.3"] {
            assert!(parse_price(bad, 6).is_err(), "{bad:?}");
        }
    }
}
