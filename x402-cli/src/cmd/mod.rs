//! One module per command. Each `run` returns the exit status, or a [`Failure`].

pub(crate) mod decode;
pub(crate) mod demo;
pub(crate) mod facilitator;
pub(crate) mod fetch;
pub(crate) mod keygen;
pub(crate) mod pay;
pub(crate) mod serve;
pub(crate) mod verify;

use crate::args::Parsed;
use crate::fail::Failure;

/// The current unix time, or `--now N` when given (to check a payment as of
/// another moment).
pub(crate) fn now(p: &Parsed) -> Result<u64, Failure> {
    Ok(p.u64("now")?.unwrap_or_else(system_now))
}

pub(crate) fn system_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Prints the help text and returns success, when `--help` was given.
pub(crate) fn help(p: &Parsed, text: &str) -> Option<u8> {
    p.has("help").then(|| {
        crate::say(text);
        0
    })
}
