//! `x402 demo`: the end-to-end demo, in one process, on 127.0.0.1.
//!
//! A paywalled resource, a fresh test wallet, and an agent that fetches the
//! resource, gets 402, pays, retries and gets the content; the payment settles
//! on a SIMULATED ledger of test-USDC balances (no chain), and a replay of the
//! same payment is refused. Each step is printed as it completes.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use x402_core::Amount;
use x402_core::Network;
use x402_core::evm::Address;

use crate::agent::{self, Step};
use crate::args::{self, flag, value};
use crate::fail::{EXIT_INVALID, Failure};
use crate::ledger::Ledger;
use crate::out::{J, indent, pretty, usdc};
use crate::paywall::{Event, Offer, Paywall, Settlement};

const HELP: &str = "\
usage: x402 demo [--json] [--port N]

Runs x402 end to end in this process, on 127.0.0.1: a paywalled resource, a fresh
test wallet, and an agent that fetches the resource, gets 402, chooses a requirement,
signs an EIP-3009 authorization, retries and gets the content; the server verifies
the payment offline and settles it. Settlement is SIMULATED by a local ledger of
test-USDC balances: no chain is contacted and no money moves. Finally the agent
replays the same payment, which must be refused.

Each step prints a progress line and what was exchanged (the request, the decoded
402, the chosen requirement, the signed payload, the verification result, the
settlement, the ledger balances); --json prints one JSON object per step.

  --port N   the resource's port (default 0: any free port)

Exit status: 0 every step succeeded, 1 a step failed, 2 usage error or the port
cannot be bound.
";

const SPEC: &[args::Opt] = &[flag("json"), value("port")];

/// Steps of the demo, for the `[n/N]` progress lines.
const STEPS: usize = 9;
/// The price of the resource: 0.01 test-USDC.
const PRICE: u64 = 10_000;
/// What the faucet gives the payer: 1 test-USDC.
const FAUCET: u64 = 1_000_000;
/// The agent's limit per request: 0.05 test-USDC.
const AGENT_LIMIT: u64 = 50_000;
/// The network the simulation pretends to be (Base Sepolia).
const NETWORK: &str = "eip155:84532";

/// What a step shows.
enum Detail {
    /// A labelled line.
    Text(&'static str, String, String),
    /// A labelled JSON document, shown indented.
    Json(&'static str, String, Vec<u8>),
}

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
        }
    }
}

fn status_text(status: u16) -> String {
    let text = match status {
        200 => "OK",
        402 => "Payment Required",
        404 => "Not Found",
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
            "x402 demo: an agent pays for an HTTP resource with x402, end to end, in this process on 127.0.0.1.\n\
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
    let paywall = Arc::new(Paywall::new(
        offer,
        &format!("http://{addr}"),
        Settlement::Ledger(Arc::clone(&ledger)),
        Box::new(move |e| {
            let _ = tx.send(e);
        }),
    ));
    let url = paywall.url().to_string();
    let requirement = paywall.requirement_json().to_vec();
    let server = Arc::clone(&paywall);
    std::thread::Builder::new()
        .name("x402-demo-server".into())
        .spawn(move || crate::http::serve(listener, Arc::new(move |req| server.handle(req))))
        .map_err(|e| Failure::io("starting the server thread", e))?;
    say.step(
        &format!(
            "paywalled resource: {url}, {} test-USDC per request, settled on the SIMULATED ledger",
            usdc(&Amount::from(PRICE))
        ),
        true,
        vec![Detail::Text(
            "requirement",
            "it offers".into(),
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
    narrate_fetch(&mut say, records, &result, &url);
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

    // 9. A replay of the same payment must be refused.
    let Some((name, value)) = outcome.payment else {
        return Ok(finish(&mut say, None));
    };
    let replay = crate::client_http::get(&url, &[(name, &value)]);
    let mut details = Vec::new();
    server_details(rx.try_iter().collect(), &mut details, true);
    let (title, ok) = match &replay {
        Ok(r) => {
            let why = if r.status == 402 {
                agent::refusal_of(r)
            } else {
                String::new()
            };
            let refused = r.status == 402
                && why.starts_with(x402_core::Reason::ExactEvmNonceAlreadyUsed.as_str());
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
                        ": nonce already used, refused as it must be"
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
    Ok(finish(&mut say, None))
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
) {
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
                let title = match payment_header {
                    Some(h) => format!("agent: GET {url} with {h}"),
                    None => format!("agent: GET {url}"),
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
                pay_to,
                ..
            }) => {
                flush(say, &mut current);
                current = Some((
                    format!(
                        "agent: chooses accepts[{index}]: {scheme} on {network}, {} test-USDC to {pay_to} \
                         (its limit: {} per request)",
                        usdc(&amount),
                        usdc(&Amount::from(AGENT_LIMIT))
                    ),
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
                    "agent: signs an EIP-3009 transferWithAuthorization (EIP-712) with its key"
                        .into(),
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
                "\nall {STEPS} steps succeeded (settlement was SIMULATED on a local test-USDC ledger)\n"
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
