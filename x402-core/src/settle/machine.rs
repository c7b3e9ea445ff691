//! The [`Machine`] as hosts drive it: how it starts, what it is for, whether
//! it runs or is done, and the calls and outcomes it hands out. What a run
//! does is in the sibling files.

use core::fmt;

use crate::error::{Error, ErrorKind, Reason};
use crate::evm::{Address, B256, PrivateKey};
use crate::json::{Limits, Sink, SinkFull, SliceSink, ToJson};
use crate::message::Message;
use crate::rpc::{self, Envelope};
use crate::types::FromJson;
use crate::types::facilitator::VerifyRequest;
use crate::verify::Config;

use super::options::Options;
use super::outcome::{Outcome, Report};
use super::run::{self, Run, Stage};
use super::transaction::Transaction;

/// The largest JSON-RPC request a machine writes (an `eth_sendRawTransaction`
/// of a Permit2 settlement is about 1.3 KB): a buffer this long always suffices.
pub const MAX_REQUEST_LEN: usize = 4096;

/// A JSON-RPC call the host must make.
#[derive(Clone, Copy, Debug)]
pub struct Call<'m> {
    /// The request, with its id.
    pub envelope: Envelope<'m>,
    /// Milliseconds to wait before sending (non-zero between receipt polls).
    pub delay_ms: u32,
}

impl Call<'_> {
    /// The method name (`eth_call`, ...).
    #[must_use]
    pub fn method(&self) -> &'static str {
        self.envelope.request.method()
    }
}

impl ToJson for Call<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        self.envelope.write_json(out)
    }
}

/// What the host does next.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug)]
pub enum Step<'m> {
    /// Send this request and [`Machine::feed`] the response body.
    Call(Call<'m>),
    /// Finished.
    Done(&'m Outcome),
}

/// Verification with the chain, or settlement, of one payment. See the module docs.
#[derive(Clone, Debug)]
pub struct Machine {
    mode: Mode,
    options: Options,
    /// The JSON-RPC id of the call asked for; each answer read moves it on.
    id: u64,
    state: State,
}

/// What a machine is for.
#[derive(Clone, Debug)]
pub(super) enum Mode {
    /// `POST /verify`: reads the chain, sends nothing.
    Verify,
    /// `POST /settle`: sends the settlement transaction.
    Settle {
        /// The facilitator's key, which signs the transaction.
        key: PrivateKey,
        /// Its account, which sends the transaction and pays its gas.
        from: Address,
    },
}

impl Mode {
    /// The outcome this mode ends with: a `VerifyResponse` or a
    /// `SettleResponse`, a success without `reason`.
    pub(super) fn outcome(
        &self,
        reason: Option<Reason>,
        message: Message,
        report: Report,
    ) -> Outcome {
        match self {
            Mode::Verify => report.verified(reason, message),
            Mode::Settle { .. } => report.settled(reason, message),
        }
    }

    /// The reason of a failure outside the protocol (a node that misbehaves).
    pub(super) fn unexpected(&self) -> Reason {
        match self {
            Mode::Verify => Reason::UnexpectedVerifyError,
            Mode::Settle { .. } => Reason::UnexpectedSettleError,
        }
    }
}

/// Where a machine is.
// A running machine keeps its calldata inline, since the core has no `alloc`
// to box it with.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub(super) enum State {
    /// Asking the chain about a payment the offline checks accepted.
    Running(Run),
    /// Finished; feeding the machine is an error.
    Done(Outcome),
}

pub(super) fn body_limits() -> Limits {
    Limits {
        max_len: 64 * 1024,
        ..Limits::DEFAULT
    }
}

impl Machine {
    /// Verifies a `POST /verify` body with the chain.
    #[must_use]
    pub fn verify_json(body: &[u8], now: u64, config: &Config<'_>, options: &Options) -> Machine {
        match VerifyRequest::from_json_bytes(body, &body_limits()) {
            Ok(req) => Machine::verify(&req, now, config, options),
            Err(e) => Machine::unreadable(Mode::Verify, options, &e),
        }
    }

    /// Verifies a decoded `POST /verify` body with the chain: the offline checks
    /// of [`verify::verify`] first, then the calls listed in the module docs.
    ///
    /// [`verify::verify`]: crate::verify::verify
    #[must_use]
    pub fn verify(
        req: &VerifyRequest<'_>,
        now: u64,
        config: &Config<'_>,
        options: &Options,
    ) -> Machine {
        Machine::start(Mode::Verify, options, req, now, config)
    }

    /// Settles a `POST /settle` body, paying gas from `key`'s account.
    #[must_use]
    pub fn settle_json(body: &[u8], now: u64, key: &PrivateKey, options: &Options) -> Machine {
        match VerifyRequest::from_json_bytes(body, &body_limits()) {
            Ok(req) => Machine::settle(&req, now, key, options),
            Err(e) => {
                let mode = Mode::Settle {
                    key: key.clone(),
                    from: key.address(),
                };
                Machine::unreadable(mode, options, &e)
            }
        }
    }

    /// Settles a decoded `POST /settle` body, paying gas from `key`'s account.
    /// For `upto`, `paymentRequirements.amount` is the amount to charge (at most
    /// the permitted amount); `witness.facilitator` must be `key`'s address.
    #[must_use]
    pub fn settle(
        req: &VerifyRequest<'_>,
        now: u64,
        key: &PrivateKey,
        options: &Options,
    ) -> Machine {
        let from = key.address();
        let own = [from];
        let config = Config {
            facilitator_addresses: &own,
        };
        let mode = Mode::Settle {
            key: key.clone(),
            from,
        };
        Machine::start(mode, options, req, now, &config)
    }

    /// A machine done before any call: the body is not a request.
    fn unreadable(mode: Mode, options: &Options, e: &Error) -> Machine {
        let outcome = mode.outcome(Some(e.reason()), Message::new(e), Report::default());
        Machine {
            mode,
            options: *options,
            id: 1,
            state: State::Done(outcome),
        }
    }

    fn start(
        mode: Mode,
        options: &Options,
        req: &VerifyRequest<'_>,
        now: u64,
        config: &Config<'_>,
    ) -> Machine {
        let state = run::start(
            &mode,
            options,
            &req.payment_payload,
            &req.payment_requirements,
            now,
            config,
        );
        Machine {
            mode,
            options: *options,
            id: 1,
            state,
        }
    }

    /// The next thing to do.
    #[must_use]
    pub fn step(&self) -> Step<'_> {
        let run = match &self.state {
            State::Running(run) => run,
            State::Done(outcome) => return Step::Done(outcome),
        };
        let receipt = matches!(run.stage, Stage::Transact(Transaction::Receipt { .. }));
        let delay_ms = if receipt && run.polls > 0 {
            self.options.receipt_poll_interval_ms
        } else {
            0
        };
        Step::Call(Call {
            envelope: Envelope {
                id: self.id,
                request: run.request(&self.mode),
            },
            delay_ms,
        })
    }

    /// The outcome, once done.
    #[must_use]
    pub fn outcome(&self) -> Option<&Outcome> {
        match &self.state {
            State::Running(_) => None,
            State::Done(outcome) => Some(outcome),
        }
    }

    /// The hash of the settlement transaction, once it is signed.
    #[must_use]
    pub fn transaction_hash(&self) -> Option<B256> {
        match &self.state {
            State::Running(run) => run.stage.sent().map(|s| s.hash),
            State::Done(Outcome::Settled(s)) => s.transaction,
            State::Done(Outcome::Verified(_)) => None,
        }
    }

    /// Feeds the response body of the call [`Machine::step`] asked for.
    ///
    /// # Errors
    /// `invalid_response` if the body is not a JSON-RPC response to that call
    /// (malformed, or another `id`); the machine is unchanged then, and the host
    /// may send the same call again. Feeding a finished machine is an error too.
    pub fn feed(&mut self, body: &[u8]) -> Result<(), Error> {
        let State::Running(run) = &self.state else {
            return Err(Error::new(
                Reason::InvalidResponse,
                ErrorKind::Invalid("the machine is done; nothing was asked"),
            ));
        };
        let resp = rpc::parse_response(body)?;
        if !resp.id_is(self.id) {
            return Err(Error::new(
                Reason::InvalidResponse,
                ErrorKind::Invalid("response id does not match the request"),
            )
            .at("id"));
        }
        // Computed whole before anything changes, so that an answer refused
        // halfway leaves the machine as it was.
        let next = run.answer(&self.mode, &self.options, resp.result)?;
        self.state = next;
        self.id += 1;
        Ok(())
    }

    /// Runs the machine to its end over `transport`, which sends one JSON-RPC
    /// request body (after waiting the given milliseconds) and returns the
    /// response body.
    ///
    /// # Errors
    /// [`DriveError::Transport`] with the transport's error, or
    /// [`DriveError::Response`] when a response cannot be read.
    pub fn drive<E, R, F>(&mut self, mut transport: F) -> Result<&Outcome, DriveError<E>>
    where
        R: AsRef<[u8]>,
        F: FnMut(&str, u32) -> Result<R, E>,
    {
        let mut buf = [0u8; MAX_REQUEST_LEN];
        loop {
            let (len, delay) = match self.step() {
                Step::Done(_) => break,
                Step::Call(call) => {
                    let mut sink = SliceSink::new(&mut buf);
                    call.write_json(&mut sink)
                        .map_err(|_| DriveError::Response(too_long()))?;
                    (sink.len(), call.delay_ms)
                }
            };
            let text = buf
                .get(..len)
                .and_then(|b| core::str::from_utf8(b).ok())
                .unwrap_or("");
            let body = transport(text, delay).map_err(DriveError::Transport)?;
            self.feed(body.as_ref()).map_err(DriveError::Response)?;
        }
        self.outcome().ok_or(DriveError::Response(too_long()))
    }
}

fn too_long() -> Error {
    Error::new(Reason::InvalidResponse, ErrorKind::BufferTooSmall)
}

/// Why [`Machine::drive`] stopped before an outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriveError<E> {
    /// The transport failed.
    Transport(E),
    /// A response was not a JSON-RPC answer to the request.
    Response(Error),
}

impl<E: fmt::Display> fmt::Display for DriveError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriveError::Transport(e) => write!(f, "RPC transport failed: {e}"),
            DriveError::Response(e) => write!(f, "unreadable RPC response: {e}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for DriveError<E> {}
