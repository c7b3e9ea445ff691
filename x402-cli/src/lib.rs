#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod agent;
mod args;
mod client_http;
mod cmd;
mod fail;
mod http;
mod input;
mod keyfile;
mod ledger;
mod out;
mod paywall;

use std::io::Write as _;

use fail::{EXIT_USAGE, Failure};

const USAGE: &str = "\
paywire: the x402 payment protocol (HTTP 402) from the command line

usage: paywire <command> [options]

commands:
  decode   pretty-print any x402 header (kind detected) and list what is wrong with it
  verify   verify a payment offline; prints a VerifyResponse (exit 0 valid, 1 invalid)
  pay      sign a payment for a PAYMENT-REQUIRED header; prints the payment header
  keygen   write a new test key file (mode 0600) and print its address
  serve    run a paywalled HTTP resource on 127.0.0.1
  facilitator  run an x402 facilitator service for EVM chains and Solana (verify, settle, supported)
  fetch    GET a URL, paying once if it answers 402
  demo     an agent pays for a resource end to end, in this process, on 127.0.0.1

`paywire <command> --help` describes a command. Every command takes --json for scripts.
Exit status: 0 success, 1 an invalid or refused payment (or a failed demo step),
2 a usage or I/O error.
";

/// Runs the `x402` command with its arguments (the program name first) and
/// returns the exit status: 0 success, 1 an invalid or refused payment, 2 a
/// usage or I/O error.
#[must_use]
pub fn run(args: Vec<String>) -> u8 {
    let mut args = args.into_iter().skip(1);
    let Some(command) = args.next() else {
        say_err(USAGE);
        return EXIT_USAGE;
    };
    let rest: Vec<String> = args.collect();
    let json = rest.iter().any(|a| a == "--json");
    let result = match command.as_str() {
        "decode" => cmd::decode::run(&rest),
        "verify" => cmd::verify::run(&rest),
        "pay" => cmd::pay::run(&rest),
        "keygen" => cmd::keygen::run(&rest),
        "serve" => cmd::serve::run(&rest),
        "fetch" => cmd::fetch::run(&rest),
        "demo" => cmd::demo::run(&rest),
        "facilitator" => cmd::facilitator::run(&rest),
        "help" | "--help" | "-h" => {
            say(USAGE);
            Ok(0)
        }
        "--version" | "-V" => {
            say(&format!("paywire {}\n", env!("CARGO_PKG_VERSION")));
            Ok(0)
        }
        other => Err(Failure::usage(format!("unknown command {other:?}"))
            .hint("the commands are decode, verify, pay, keygen, serve, facilitator, fetch and demo (see `paywire --help`)")),
    };
    match result {
        Ok(code) => code,
        Err(f) => {
            if json {
                say(&format!("{}\n", f.to_json().compact()));
            } else {
                let known = [
                    "decode",
                    "verify",
                    "pay",
                    "keygen",
                    "serve",
                    "facilitator",
                    "fetch",
                    "demo",
                ];
                let cmd = if known.contains(&command.as_str()) {
                    command.as_str()
                } else {
                    ""
                };
                say_err(&f.to_text(cmd));
            }
            f.code
        }
    }
}

/// Writes to standard output, ignoring a closed pipe.
pub(crate) fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Writes to standard error.
pub(crate) fn say_err(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
}
