//! The `x402` command; see the `paywire_cli` library for its documentation.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Failures are reported as messages; should a bug ever panic, say so in one
    // line instead of printing a backtrace hint.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("paywire: internal error (please report it): {info}");
    }));
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    ExitCode::from(paywire_cli::run(args))
}
