//! `paywire demo`: the end-to-end demo, in one process, on 127.0.0.1.
//!
//! A paywalled resource, a fresh test wallet, and an agent that fetches the
//! resource, gets 402, pays, retries and gets the content; the payment settles
//! on a SIMULATED ledger of test-USDC balances (no chain), and a replay of the
//! same payment is refused. Each step is printed as it completes.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use paywire::Amount;
use paywire::Network;
use paywire::Reason;
use paywire::batch::{self, directory, ed25519::SigningKey};
use paywire::evm::Address;

use crate::agent::{self, Step};
use crate::args::{self, flag, value};
use crate::fail::{EXIT_INVALID, Failure};
use crate::ledger::Ledger;
use crate::out::{J, hex, indent, pretty, usdc};
use crate::paywall::{DeferredOffer, Event, Offer, Paywall, Settlement};

const HELP: &str = "\
usage: paywire demo [--json] [--port N]

Runs x402 end to end in this process, on 127.0.0.1: a paywalled resource, a fresh
test wallet, and an agent that fetches the resource, gets 402, chooses a requirement,
signs an EIP-3009 authorization, retries and gets the content; the server verifies
the payment offline and settles it. Settlement is SIMULATED by a local ledger of
test-USDC balances: no chain is contacted and no money moves. The agent then
replays the same payment, which must be refused.

Then a deferred agent (batch-settlement on cloudflare:402) does the same with an
Ed25519 key: it publishes its key directory on 127.0.0.1, commits to pay in
PAYMENT-SIGNATURE and signs the request (RFC 9421); the server fetches the
directory, verifies the signature and the commitment, serves, and records what the
network will bill later. A copy of the request with the amount changed after
signing must be refused.

Each step prints a progress line and what was exchanged (the request, the decoded
402, the chosen requirement, the signed payload, the verification result, the
settlement, the ledger balances); --json prints one JSON object per step.

  --port N   the resource's port (default 0: any free port)

Exit status: 0 every step succeeded, 1 a step failed, 2 usage error or the port
cannot be bound.
";

const SPEC: &[args::Opt] = &[flag("json"), value("port")];

/// Steps of the demo, for the `[n/N]` progress lines.
const STEPS: usize = 16;
/// The price of the resource: 0.01 test-USDC.
const PRICE: u64 = 10_000;
/// What the faucet gives the payer: 1 test-USDC.
const FAUCET: u64 = 1_000_000;
/// The agent's limit per request: 0.05 test-USDC.
const AGENT_LIMIT: u64 = 50_000;
/// The network the simulation pretends to be (Base Sepolia).
const NETWORK: &str = "eip155:84532";
/// The deferred route's price, in the smallest unit of USD.
const DEFERRED_PRICE: u64 = 5;
/// The deferred agent's limit per request.
const DEFERRED_LIMIT: u64 = 10;

/// Which of the two payment flows a sequence of steps belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// `exact` on EVM: signed EIP-3009 authorization, settled now.
    Exact,
    /// `batch-settlement`: a signed request, billed later.
    Deferred,
}

/// What a step shows.
enum Detail {
    /// A labelled line.
    Text(&'static str, String, String),
    /// A labelled JSON document, shown indented.
    Json(&'static str, String, Vec<u8>),
    /// The `transferWithAuthorization` call a facilitator would send on a chain.
    Calldata(Address, Vec<u8>),
}

/// The argument names of `transferWithAuthorization` (v, r, s overload), one per word.
const TRANSFER_WITH_AUTHORIZATION_ARGS: [&str; 9] = [
    "from",
    "to",
    "value",
    "validAfter",
    "validBefore",
    "nonce",
    "v",
    "r",
    "s",
];

/// Prints the steps, for people or as JSON lines.
struct Narrator {
    json: bool,
    n: usize,
    failed: Option<usize>,
}

impl Narrator {
    fn step(&mut self, title: &str, ok: bool, details: Vec<Detail>) {
        self.n += 1;
        if !ok && self.failed.is_none() {
            self.failed = Some(self.n);
        }
        if self.json {
            let mut d = Vec::new();
            for detail in details {
                match detail {
                    Detail::Text(key, _, text) => d.push((key, J::Str(text))),
                    Detail::Json(key, _, json) => d.push((key, J::raw(&json))),
                    Detail::Calldata(to, data) => d.push((
                        "calldata",
                        J::obj(vec![
                            ("sent", J::Bool(false)),
                            ("to", J::str(to.to_string())),
                            ("data", J::str(hex(&data))),
                        ]),
                    )),
                }
            }
            let j = J::obj(vec![
                ("step", J::Num(self.n as u64)),
                ("of", J::Num(STEPS as u64)),
                ("title", J::str(title)),
                ("ok", J::Bool(ok)),
                ("details", J::obj(d)),
            ]);
            crate::say(&format!("{}\n", j.compact()));
            return;
        }
        let mut s = format!(
            "[{}/{STEPS}] {title}{}\n",
            self.n,
            if ok { "" } else { "  << FAILED" }
        );
        for detail in details {
            match detail {
                Detail::Text(_, label, text) => {
                    s.push_str(&format!("      {label:<26} {text}\n"));
                }
                Detail::Json(_, label, json) => {
                    s.push_str(&format!("      {label}:\n{}\n", indent(&pretty(&json), 8)));
                }
                Detail::Calldata(to, data) => {
                    s.push_str(&format!(
                        "      on a chain, the facilitator would send this call to {to} \
                         (NOT sent: the ledger is simulated):\n"
                    ));
                    let (selector, words) = data.split_at(data.len().min(4));
                    s.push_str(&format!(
                        "        {}  transferWithAuthorization(address,address,uint256,uint256,\
                         uint256,bytes32,uint8,bytes32,bytes32)\n",
                        hex(selector)
                    ));
                    for (word, name) in words.chunks(32).zip(TRANSFER_WITH_AUTHORIZATION_ARGS) {
                        s.push_str(&format!("        {}  {name}\n", hex(word)));
                    }
                }
            }
        }
        crate::say(&s);
    }
}

/// What the agent and the server did, in order.
enum Record {
    Agent(Step),
    Server(Vec<Event>),
}

/// The server's events as step details.
fn server_details(events: Vec<Event>, out: &mut Vec<Detail>, brief: bool) {
    for e in events {
        match e {
            Event::Request { .. } => {}
            Event::PaymentRequired { error } => out.push(Detail::Text(
                "server402",
                "server answered 402".into(),
                error.unwrap_or_default(),
            )),
            Event::Verified { valid, .. } if brief => out.push(Detail::Text(
                "verified",
                "server: offline verification".into(),
                if valid {
                    "valid (the signature and the amounts are still good)".into()
                } else {
                    "invalid".into()
                },
            )),
            Event::Verified { response, .. } => out.push(Detail::Json(
                "verifyResponse",
                "server: offline verification (VerifyResponse)".into(),
                response.into_bytes(),
            )),
            Event::ChainChecks(checks) => out.push(Detail::Text(
                "chainChecks",
                "server: chain checks".into(),
                format!(
                    "{} (on the SIMULATED ledger)",
                    checks
                        .iter()
                        .map(|c| format!("{} {}", c.name, if c.ok { "ok" } else { "FAILED" }))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            Event::Settled { response, .. } => out.push(Detail::Json(
                "settleResponse",
                "server: settlement, SIMULATED (SettleResponse)".into(),
                response.into_bytes(),
            )),
            Event::SettleFailed { reason, message } => out.push(Detail::Text(
                "settleFailed",
                "server: settlement refused".into(),
                format!("{reason}: {message}"),
            )),
            Event::Served { status, bytes } => out.push(Detail::Text(
                "served",
                "server: served".into(),
                format!("{status}, {bytes} bytes"),
            )),
            Event::Problem { message } => {
                out.push(Detail::Text("problem", "server: problem".into(), message))
            }
            Event::DirectoryFetched { agent, keys } => out.push(Detail::Text(
                "directoryFetched",
                "server: key directory".into(),
                format!("fetched from {agent}: {keys} key(s)"),
            )),
            Event::Calldata { .. } if brief => {}
            Event::Calldata { to, data } => out.push(Detail::Calldata(to, data)),
            Event::Recorded {
                agent,
                amount,
                asset,
            } => out.push(Detail::Text(
                "recorded",
                "server: recorded".into(),
                format!("{agent} committed {amount} {asset}, to be billed later"),
            )),
            Event::Answered {
                status,
                outcome,
                reason,
                message,
            } => out.push(Detail::Text(
                "answered",
                format!("server answered {status} ({outcome})"),
                format!("{reason}: {message}"),
            )),
            Event::Uncertain { record } => out.push(Detail::Json(
                "uncertain",
                "server: settlement uncertain, recorded for reconciliation".into(),
                record.into_bytes(),
            )),
        }
    }
}

fn status_text(status: u16) -> String {
    let text = match status {
        200 => "OK",
        402 => "Payment Required",
        404 => "Not Found",
        409 => "Conflict",
        502 => "Bad Gateway",
        _ => "",
    };
    format!("{status} {text}").trim_end().to_string()
}

pub(crate) fn run(argv: &[String]) -> Result<u8, Failure> {
    let p = args::parse(argv, SPEC, "demo")?;
    if let Some(code) = super::help(&p, HELP) {
        return Ok(code);
    }
    if let Some(extra) = p.positionals.first() {
        return Err(Failure::usage(format!("unexpected argument {extra:?}")));
    }
    let port = p.u64("port")?.unwrap_or(0);
    let port =
        u16::try_from(port).map_err(|_| Failure::usage(format!("--port {port}: at most 65535")))?;
    let json = p.has("json");
    let mut say = Narrator {
        json,
        n: 0,
        failed: None,
    };
    if !json {
        crate::say(
            "paywire demo: an agent pays for an HTTP resource with x402, end to end, in this process on 127.0.0.1;\n\
             then a deferred agent pays for another by signing its request (batch-settlement).\n\
             Settlement is SIMULATED: a local ledger of test-USDC balances stands in for the chain;\n\
             no chain is contacted and no money moves.\n\n",
        );
    }

    // 1. Wallets.
    let (payer_key, mut payer_bytes) = crate::keyfile::fresh()?;
    zeroize::Zeroize::zeroize(&mut payer_bytes);
    let payer = payer_key.address();
    let merchant = crate::keyfile::fresh()?.0.address();
    say.step(
        "wallets: a fresh payer key (the agent's test wallet) and a merchant address",
        true,
        vec![
            Detail::Text("payer", "payer".into(), payer.to_string()),
            Detail::Text("merchant", "merchant (payTo)".into(), merchant.to_string()),
        ],
    );

    // 2. The simulated ledger.
    let (_, asset, asset_name, asset_version) = super::serve::KNOWN_USDC
        .iter()
        .find(|k| k.0 == NETWORK)
        .copied()
        .ok_or_else(|| Failure::invalid("no USDC default for the demo network"))?;
    let asset: Address = asset
        .parse()
        .map_err(|e| Failure::invalid(format!("the demo's token address: {e}")))?;
    let ledger = Arc::new(Mutex::new(Ledger::new(asset)));
    lock(&ledger).mint(payer, Amount::from(FAUCET));
    say.step(
        &format!(
            "ledger (SIMULATED, test-USDC on {NETWORK}): the faucet credits the payer with {} test-USDC",
            usdc(&Amount::from(FAUCET))
        ),
        true,
        balances(&ledger, payer, merchant),
    );

    // 3. The paywalled resource.
    let network = Network::parse_caip2(NETWORK)
        .map_err(|e| Failure::invalid(format!("the demo's network: {e}")))?;
    let offer = Offer {
        path: "/weather".into(),
        network,
        amount: Amount::from(PRICE),
        asset,
        asset_name: asset_name.into(),
        asset_version: asset_version.into(),
        pay_to: merchant,
        max_timeout_seconds: 60,
        description: "Today's weather report".into(),
        mime_type: "application/json".into(),
        content: super::serve::DEFAULT_CONTENT.as_bytes().to_vec(),
    };
    let listener = crate::http::bind(port)?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::io("reading the bound address", e))?;
    let (tx, rx) = mpsc::channel::<Event>();
    let paywall = Arc::new(
        Paywall::new(
            offer,
            &format!("http://{addr}"),
            Settlement::Ledger(Arc::clone(&ledger)),
            Box::new(move |e| {
                let _ = tx.send(e);
            }),
        )
        .with_deferred(DeferredOffer {
            path: "/article".into(),
            amount: Amount::from(DEFERRED_PRICE),
            asset: "USD".into(),
            pay_to: "merchant".into(),
            description: "A premium article, billed later".into(),
            mime_type: "text/plain; charset=utf-8".into(),
            content: b"The premium article: deferred payments, explained.\n".to_vec(),
        }),
    );
    let url = paywall.url().to_string();
    let requirement = paywall.requirement_json().to_vec();
    let server = Arc::clone(&paywall);
    std::thread::Builder::new()
        .name("paywire-demo-server".into())
        .spawn(move || crate::http::serve(listener, server.router(), crate::http::REQUEST_TIMEOUT))
        .map_err(|e| Failure::io("starting the server thread", e))?;
    let deferred_url = paywall.deferred_url().unwrap_or_default();
    say.step(
        &format!(
            "resource server: {url} for {} test-USDC (exact, settled on the SIMULATED ledger), \
             and {deferred_url} (batch-settlement, billed later)",
            usdc(&Amount::from(PRICE))
        ),
        true,
        vec![Detail::Text(
            "requirement",
            "/weather offers".into(),
            String::from_utf8_lossy(&requirement).into_owned(),
        )],
    );

    // 4-7. The agent fetches, pays and retries.
    let policy = agent::policy(Some(&AGENT_LIMIT.to_string()), &[NETWORK], &[])?;
    let mut records = Vec::new();
    let result = agent::fetch(&url, &payer_key, &policy, &mut |s| {
        let is_response = matches!(s, Step::Response { .. });
        records.push(Record::Agent(s));
        if is_response {
            records.push(Record::Server(rx.try_iter().collect()));
        }
    });
    narrate_fetch(&mut say, records, &result, &url, Flow::Exact);
    let outcome = match result {
        Ok(o) => o,
        Err(f) => return Ok(finish(&mut say, Some(f))),
    };

    // 8. Balances.
    let payer_balance = lock(&ledger).balance(&payer);
    let merchant_balance = lock(&ledger).balance(&merchant);
    let moved =
        payer_balance == Amount::from(FAUCET - PRICE) && merchant_balance == Amount::from(PRICE);
    say.step(
        &format!(
            "ledger (SIMULATED): {} test-USDC moved from the payer to the merchant",
            usdc(&Amount::from(PRICE))
        ),
        moved,
        balances(&ledger, payer, merchant),
    );

    // 9. A replay of the same payment must not be served, nor charged, again.
    let Some((name, value)) = outcome.payment else {
        return Ok(finish(&mut say, None));
    };
    let replay = crate::client_http::get(&url, &[(name, &value)]);
    let mut details = Vec::new();
    server_details(rx.try_iter().collect(), &mut details, true);
    let (title, ok) = match &replay {
        Ok(r) => {
            // 409 with the earlier PAYMENT-RESPONSE (delivered, or its answer
            // still on its way): served once, charged once.
            let earlier = r.header(paywire::header::HeaderKind::PaymentResponse.name());
            let refused = r.status == 409 && earlier.is_some();
            let unchanged = lock(&ledger).balance(&payer) == payer_balance;
            details.push(Detail::Text(
                "balances",
                "ledger (SIMULATED)".into(),
                format!(
                    "payer still holds {} test-USDC",
                    usdc(&lock(&ledger).balance(&payer))
                ),
            ));
            (
                format!(
                    "agent: replays the same {name} → {}{}",
                    status_text(r.status),
                    if refused {
                        ": already delivered, answered with the earlier PAYMENT-RESPONSE, \
                         neither served nor charged again, as it must be"
                    } else {
                        ": the replay was NOT refused"
                    }
                ),
                refused && unchanged,
            )
        }
        Err(f) => (format!("agent: replay failed: {}", f.message), false),
    };
    say.step(&title, ok, details);

    // 10-16. The deferred agent.
    deferred(&mut say, &paywall, &rx)?;
    Ok(finish(&mut say, None))
}

/// Steps 10-16: a deferred (batch-settlement) agent pays with a signed request.
fn deferred(
    say: &mut Narrator,
    paywall: &Paywall,
    rx: &mpsc::Receiver<Event>,
) -> Result<(), Failure> {
    // 10. The agent's key and its directory, served on its own origin.
    let mut seed =
        paywire::client::random_nonce().map_err(|e| Failure::io("drawing a random key", e))?;
    let key = SigningKey::from_seed(&seed);
    zeroize::Zeroize::zeroize(&mut seed);
    let public = key.public_key();
    let keyid = directory::thumbprint(&public).to_string();
    let mut jwks: Vec<u8> = Vec::new();
    directory::write_directory(&[public], &mut jwks)
        .map_err(|_| Failure::invalid("writing the key directory"))?;
    let listener = crate::http::bind(0)?;
    let origin = format!(
        "http://{}",
        listener
            .local_addr()
            .map_err(|e| Failure::io("reading the bound address", e))?
    );
    let served = jwks.clone();
    std::thread::Builder::new()
        .name("paywire-demo-agent".into())
        .spawn(move || {
            let app = axum::Router::new().route(
                directory::WELL_KNOWN_PATH,
                axum::routing::get(move || {
                    let served = served.clone();
                    async move {
                        (
                            [(axum::http::header::CONTENT_TYPE, directory::MEDIA_TYPE)],
                            served,
                        )
                    }
                }),
            );
            crate::http::serve(listener, app, crate::http::REQUEST_TIMEOUT)
        })
        .map_err(|e| Failure::io("starting the agent's directory server", e))?;
    paywall.register_agent(&origin);
    say.step(
        &format!(
            "deferred agent: a fresh Ed25519 key; its key directory is served at {origin}{}; \
             the resource server knows the agent",
            directory::WELL_KNOWN_PATH
        ),
        true,
        vec![
            Detail::Text("keyid", "keyid (JWK thumbprint)".into(), keyid),
            Detail::Json("directory", "its key directory (JWK set)".into(), jwks),
        ],
    );

    // 11-14. It fetches, commits, signs and retries.
    let url = paywall.deferred_url().unwrap_or_default();
    let policy = agent::policy(Some(&DEFERRED_LIMIT.to_string()), &[batch::NETWORK], &[])?;
    let who = agent::DeferredAgent {
        key: &key,
        origin: &origin,
    };
    let mut records = Vec::new();
    let result = agent::fetch_deferred(&url, &who, &policy, &mut |s| {
        let is_response = matches!(s, Step::Response { .. });
        records.push(Record::Agent(s));
        if is_response {
            records.push(Record::Server(rx.try_iter().collect()));
        }
    });
    narrate_fetch(say, records, &result, &url, Flow::Deferred);
    let Ok(outcome) = result else {
        return Ok(());
    };

    // 15. The same signed request, its commitment lowered after signing.
    let Some((name, value)) = outcome.payment else {
        return Ok(());
    };
    let json = paywire::header::decode_to_vec(&value, paywire::header::DEFAULT_MAX_DECODED)
        .map_err(|e| Failure::core("the agent's PAYMENT-SIGNATURE", &e))?;
    let text = String::from_utf8_lossy(&json).into_owned();
    let lowered = text.replace(
        &format!("\"payload\":{{\"amount\":\"{DEFERRED_PRICE}\""),
        "\"payload\":{\"amount\":\"1\"",
    );
    let tampered = crate::paywall::header_value(lowered.as_bytes());
    let mut headers: Vec<(&str, &str)> = vec![(name, tampered.as_str())];
    headers.extend(
        outcome
            .signature_headers
            .iter()
            .map(|(n, v)| (*n, v.as_str())),
    );
    let reply = crate::client_http::get(&url, &headers);
    let mut details = Vec::new();
    server_details(rx.try_iter().collect(), &mut details, false);
    let (title, ok) = match &reply {
        Ok(r) => {
            let why = if r.status == 402 {
                agent::refusal_of(r)
            } else {
                String::new()
            };
            let refused = lowered != text
                && r.status == 402
                && why.starts_with(&format!("{}:", Reason::BatchCloudflareSignature));
            (
                format!(
                    "deferred agent: the same signed request with payload.amount lowered to 1 → {}{}",
                    status_text(r.status),
                    if refused {
                        ": the signature no longer verifies, refused as it must be"
                    } else {
                        ": NOT refused"
                    }
                ),
                refused,
            )
        }
        Err(f) => (
            format!("deferred agent: request failed: {}", f.message),
            false,
        ),
    };
    say.step(&title, ok, details);

    // 16. What the network will bill.
    let book = paywall.commitments();
    let recorded = book.len() == 1
        && book
            .first()
            .is_some_and(|c| c.amount == Amount::from(DEFERRED_PRICE) && c.agent == origin);
    say.step(
        &format!(
            "resource server: {} deferred commitment(s) recorded for the network to bill later \
             (off-chain; nothing settles now)",
            book.len()
        ),
        recorded,
        book.iter()
            .map(|c| {
                Detail::Text(
                    "commitment",
                    "commitment".into(),
                    format!(
                        "{} owes {} {} (key {}, signed at {})",
                        c.agent, c.amount, c.asset, c.keyid, c.created
                    ),
                )
            })
            .collect(),
    );
    Ok(())
}

fn lock(ledger: &Mutex<Ledger>) -> std::sync::MutexGuard<'_, Ledger> {
    ledger.lock().unwrap_or_else(|e| e.into_inner())
}

fn balances(ledger: &Mutex<Ledger>, payer: Address, merchant: Address) -> Vec<Detail> {
    let l = lock(ledger);
    vec![
        Detail::Text(
            "payerBalance",
            "payer balance".into(),
            format!("{} test-USDC", usdc(&l.balance(&payer))),
        ),
        Detail::Text(
            "merchantBalance",
            "merchant balance".into(),
            format!("{} test-USDC", usdc(&l.balance(&merchant))),
        ),
    ]
}

/// Prints the agent's steps 4-7 from what it and the server recorded.
fn narrate_fetch(
    say: &mut Narrator,
    records: Vec<Record>,
    result: &Result<agent::Outcome, Failure>,
    url: &str,
    flow: Flow,
) {
    let who = match flow {
        Flow::Exact => "agent",
        Flow::Deferred => "deferred agent",
    };
    // The step being built: title, details, ok.
    let mut current: Option<(String, Vec<Detail>, bool)> = None;
    let flush = |say: &mut Narrator, c: &mut Option<(String, Vec<Detail>, bool)>| {
        if let Some((title, details, ok)) = c.take() {
            say.step(&title, ok, details);
        }
    };
    let mut paid_request = false;
    for r in records {
        match r {
            Record::Agent(Step::Request { payment_header, .. }) => {
                flush(say, &mut current);
                paid_request = payment_header.is_some();
                let title = match (payment_header, flow) {
                    (Some(h), Flow::Exact) => format!("{who}: GET {url} with {h}"),
                    (Some(h), Flow::Deferred) => {
                        format!("{who}: GET {url} with {h} and its signature")
                    }
                    (None, _) => format!("{who}: GET {url}"),
                };
                current = Some((title, Vec::new(), true));
            }
            Record::Agent(Step::Response { status }) => {
                if let Some(c) = current.as_mut() {
                    c.0.push_str(&format!(" → {}", status_text(status)));
                    c.2 = status == if paid_request { 200 } else { 402 };
                }
            }
            Record::Server(events) => {
                if let Some(c) = current.as_mut() {
                    server_details(events, &mut c.1, false);
                }
            }
            Record::Agent(Step::PaymentRequired { header_value, json }) => {
                if let Some(c) = current.as_mut() {
                    if let Some(v) = header_value {
                        c.1.push(Detail::Text(
                            "paymentRequiredHeader",
                            "PAYMENT-REQUIRED".into(),
                            format!("{} characters of base64", v.len()),
                        ));
                    }
                    c.1.push(Detail::Json(
                        "paymentRequired",
                        "decoded PAYMENT-REQUIRED (PaymentRequired)".into(),
                        json,
                    ));
                }
            }
            Record::Agent(Step::Chosen {
                index,
                json,
                scheme,
                network,
                amount,
                asset,
                pay_to,
            }) => {
                flush(say, &mut current);
                current = Some((
                    match flow {
                        Flow::Exact => format!(
                            "{who}: chooses accepts[{index}]: {scheme} on {network}, {} test-USDC \
                             to {pay_to} (its limit: {} per request)",
                            usdc(&amount),
                            usdc(&Amount::from(AGENT_LIMIT))
                        ),
                        Flow::Deferred => format!(
                            "{who}: chooses accepts[{index}]: {scheme} on {network}, {amount} {asset} \
                             (smallest unit) to {pay_to}, paid later (its limit: {DEFERRED_LIMIT})"
                        ),
                    },
                    vec![Detail::Json(
                        "accepted",
                        "the chosen requirement".into(),
                        json,
                    )],
                    true,
                ));
            }
            Record::Agent(Step::Signed {
                header,
                value,
                json,
            }) => {
                flush(say, &mut current);
                current = Some((
                    format!(
                        "{who}: signs an EIP-3009 transferWithAuthorization (EIP-712) with its key"
                    ),
                    vec![
                        Detail::Text(
                            "paymentHeader",
                            header.into(),
                            format!("{} characters of base64", value.len()),
                        ),
                        Detail::Json(
                            "paymentPayload",
                            format!("decoded {header} (PaymentPayload)"),
                            json,
                        ),
                    ],
                    true,
                ));
            }
            Record::Agent(Step::SignedRequest { json, headers }) => {
                flush(say, &mut current);
                let mut details = vec![Detail::Json(
                    "paymentPayload",
                    "decoded PAYMENT-SIGNATURE (the commitment)".into(),
                    json,
                )];
                for (name, value) in headers.into_iter().skip(1) {
                    let key = match name {
                        "Signature-Agent" => "signatureAgent",
                        "Signature-Input" => "signatureInput",
                        _ => "signature",
                    };
                    details.push(Detail::Text(key, name.into(), value));
                }
                current = Some((
                    format!(
                        "{who}: commits to pay in PAYMENT-SIGNATURE and signs the request \
                         (RFC 9421, Ed25519, tag web-bot-auth)"
                    ),
                    details,
                    true,
                ));
            }
        }
    }
    match result {
        Ok(o) => {
            if let Some(c) = current.as_mut() {
                match &o.payment_response {
                    Some(r) => c.1.push(Detail::Json(
                        "paymentResponse",
                        "agent: decoded PAYMENT-RESPONSE".into(),
                        r.clone(),
                    )),
                    None => c.2 = false,
                }
                if let Some(why) = &o.refused {
                    c.1.push(Detail::Text("refused", "refused".into(), why.clone()));
                }
                c.1.push(Detail::Text(
                    "body",
                    "agent: the content".into(),
                    String::from_utf8_lossy(&o.body).trim_end().to_string(),
                ));
                c.2 = c.2 && o.paid && (200..300).contains(&o.status);
            }
            flush(say, &mut current);
        }
        Err(f) => {
            if let Some(c) = current.as_mut() {
                c.2 = false;
                c.1.push(Detail::Text("error", "error".into(), f.message.clone()));
            } else {
                current = Some((format!("agent: {}", f.message), Vec::new(), false));
            }
            flush(say, &mut current);
        }
    }
}

/// The closing line; returns the exit status.
fn finish(say: &mut Narrator, error: Option<Failure>) -> u8 {
    let failed = say.failed.or(error.as_ref().map(|_| say.n));
    if say.json {
        let j = J::obj(vec![
            ("ok", J::Bool(failed.is_none() && say.n == STEPS)),
            ("steps", J::Num(say.n as u64)),
            ("of", J::Num(STEPS as u64)),
            ("settlement", J::str("simulated-ledger")),
        ]);
        crate::say(&format!("{}\n", j.compact()));
    } else {
        match failed {
            None if say.n == STEPS => crate::say(&format!(
                "\nall {STEPS} steps succeeded (settlement was SIMULATED on a local test-USDC ledger; \
                 the deferred commitment is recorded, not billed)\n"
            )),
            None => crate::say(&format!(
                "\nthe demo stopped after {} of {STEPS} steps\n",
                say.n
            )),
            Some(n) => crate::say(&format!("\nstep {n} of {STEPS} FAILED\n")),
        }
    }
    if failed.is_none() && say.n == STEPS {
        0
    } else {
        EXIT_INVALID
    }
}
