//! The [`Machine`] as hosts drive it: how it starts, what it is for, whether
//! it runs or is done, and the calls and outcomes it hands out. What a run
//! does is in the sibling files.

use core::fmt;

use crate::error::{Error, ErrorKind, Reason};
use crate::evm::{Address, B256, PrivateKey, Signature};
use crate::json::{Limits, Sink, SinkFull, SliceSink, ToJson};
use crate::message::Message;
use crate::rpc::{self, Envelope};
use crate::types::FromJson;
use crate::types::facilitator::VerifyRequest;
use crate::verify::Config;

use super::options::Options;
use super::outcome::{Outcome, Report};
use super::run::{self, Pickup, Run, Stage};
use super::sent::SentTransaction;
use super::transaction::Transaction;

/// The largest JSON-RPC request a machine writes (an `eth_sendRawTransaction`
/// that deploys a smart wallet and pays, with the longest signature and
/// factory call kept, is about 5.8 KB): a buffer this long always suffices.
pub const MAX_REQUEST_LEN: usize = 8192;

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

/// A transaction for the host to sign (machines made with
/// [`Signer::Host`]): the EIP-1559 signing hash, and the account whose key
/// must sign it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignRequest {
    /// `keccak256(0x02 ‖ rlp(unsigned fields))`.
    pub hash: B256,
    /// The account that pays the gas: the signature must recover to it.
    pub from: Address,
}

/// What the host does next.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug)]
pub enum Step<'m> {
    /// Send this request and [`Machine::feed`] the response body.
    Call(Call<'m>),
    /// Sign this hash with the settling account's key and
    /// [`Machine::feed_signature`] the signature (only for [`Signer::Host`]).
    Sign(SignRequest),
    /// Finished.
    Done(&'m Outcome),
}

/// Who signs a settlement transaction.
#[derive(Clone, Copy, Debug)]
pub enum Signer<'k> {
    /// The machine, with this key.
    Key(&'k PrivateKey),
    /// The host, for this account ([`Step::Sign`]): a key it keeps elsewhere
    /// (a remote signer, a hardware module).
    Host(Address),
}

impl Signer<'_> {
    fn mode(self) -> Mode {
        match self {
            Signer::Key(key) => Mode::Settle {
                key: Some(key.clone()),
                from: key.address(),
            },
            Signer::Host(from) => Mode::Settle { key: None, from },
        }
    }
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
        /// The facilitator's key, which signs the transaction; `None`: the
        /// host signs ([`Step::Sign`]).
        key: Option<PrivateKey>,
        /// The account that sends the transaction and pays its gas.
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
        Machine::settle_json_as(body, now, Signer::Key(key), options)
    }

    /// Settles a `POST /settle` body, signed by `signer`.
    #[must_use]
    pub fn settle_json_as(body: &[u8], now: u64, signer: Signer<'_>, options: &Options) -> Machine {
        match VerifyRequest::from_json_bytes(body, &body_limits()) {
            Ok(req) => Machine::settle_as(&req, now, signer, options),
            Err(e) => Machine::unreadable(signer.mode(), options, &e),
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
        Machine::settle_as(req, now, Signer::Key(key), options)
    }

    /// Settles a decoded `POST /settle` body, signed by `signer`: with
    /// [`Signer::Host`] the machine asks the host to sign ([`Step::Sign`]).
    #[must_use]
    pub fn settle_as(
        req: &VerifyRequest<'_>,
        now: u64,
        signer: Signer<'_>,
        options: &Options,
    ) -> Machine {
        let mode = signer.mode();
        let own = match &mode {
            Mode::Settle { from, .. } => [*from],
            Mode::Verify => [Address::default()],
        };
        let config = Config {
            facilitator_addresses: &own,
            smart_wallets: false,
            erc20_approval_sponsoring: false,
        };
        Machine::start(mode, options, req, now, &config)
    }

    /// Takes up `sent`, this payment's settlement transaction signed and
    /// (perhaps) sent earlier — by a process that stopped before its answer,
    /// say — without sending another: reads its receipt (after sending the
    /// very same bytes again when `rebroadcast`, which a node that has them
    /// ignores), and ends as a settlement from the start would. No offline
    /// check runs again (the payment's validity window may have closed since;
    /// the transaction was signed after they passed); a `sent` that is not
    /// this payment's settlement is refused.
    #[must_use]
    pub fn resume(
        req: &VerifyRequest<'_>,
        signer: Signer<'_>,
        options: &Options,
        sent: &SentTransaction,
        rebroadcast: bool,
    ) -> Machine {
        Machine::pick_up(req, signer, options, sent, Pickup::Resume { rebroadcast })
    }

    /// Replaces `sent`, this payment's settlement transaction that is stuck
    /// (not mined), with one at the same account nonce paying at least
    /// `bump_per_mille` more in both fees (nodes ask for 10 %: 100), so that
    /// at most one of them can ever be mined. If the replacement cannot go
    /// out, the outcome is `settlement_pending` naming `sent`.
    #[must_use]
    pub fn replace(
        req: &VerifyRequest<'_>,
        signer: Signer<'_>,
        options: &Options,
        sent: &SentTransaction,
        bump_per_mille: u32,
    ) -> Machine {
        Machine::pick_up(
            req,
            signer,
            options,
            sent,
            Pickup::Replace { bump_per_mille },
        )
    }

    fn pick_up(
        req: &VerifyRequest<'_>,
        signer: Signer<'_>,
        options: &Options,
        sent: &SentTransaction,
        pickup: Pickup,
    ) -> Machine {
        let mode = signer.mode();
        let state = run::pick_up(
            &mode,
            &req.payment_payload,
            &req.payment_requirements,
            sent,
            pickup,
        );
        Machine {
            mode,
            options: *options,
            id: 1,
            state,
        }
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
        let waits = matches!(run.stage, Stage::Transact(t) if t.waits());
        let delay_ms = if waits && run.polls > 0 {
            self.options.receipt_poll_interval_ms
        } else {
            0
        };
        match run.request(&self.mode) {
            Some(request) => Step::Call(Call {
                envelope: Envelope {
                    id: self.id,
                    request,
                },
                delay_ms,
            }),
            None => match (run.stage, &self.mode) {
                (
                    Stage::Transact(Transaction::Sign {
                        gas_limit,
                        nonce,
                        max_fee,
                        tip,
                    }),
                    Mode::Settle { from, .. },
                ) => Step::Sign(SignRequest {
                    hash: run.signing_hash(gas_limit, nonce, max_fee, tip),
                    from: *from,
                }),
                // Every stage but the host's signature has a call.
                _ => Step::Done(&Outcome::UNREACHABLE),
            },
        }
    }

    /// [`Machine::step`] as JSON, for bindings: `{"done":false,"request":
    /// "<JSON-RPC body>","delayMs":0}`, `{"done":false,"sign":{"hash":"0x…",
    /// "from":"0x…"}}` or `{"done":true,"outcome":{…}}`.
    ///
    /// # Errors
    /// [`SinkFull`] from the sink.
    pub fn write_step_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let mut w = crate::json::ObjectWriter::new(out)?;
        match self.step() {
            Step::Call(c) => {
                w.bool_field("done", false)?;
                w.key(crate::json::JsonStr::new("request"))?;
                // The request is a JSON text inside a JSON string.
                let mut request = [0u8; MAX_REQUEST_LEN];
                let mut sink = SliceSink::new(&mut request);
                c.write_json(&mut sink)?;
                let n = sink.len();
                let text = request
                    .get(..n)
                    .and_then(|b| core::str::from_utf8(b).ok())
                    .unwrap_or("");
                crate::json::write_escaped(w.sink(), crate::json::JsonStr::new(text))?;
                w.u64_field("delayMs", u64::from(c.delay_ms))?;
            }
            Step::Sign(s) => {
                w.bool_field("done", false)?;
                w.key(crate::json::JsonStr::new("sign"))?;
                let mut o = crate::json::ObjectWriter::new(w.sink())?;
                o.field("hash", &s.hash)?;
                o.field("from", &s.from)?;
                o.end()?;
            }
            Step::Done(o) => {
                w.bool_field("done", true)?;
                w.field("outcome", o)?;
            }
        }
        w.end()
    }

    /// Feeds the host's signature of [`Step::Sign`]'s hash.
    ///
    /// # Errors
    /// `invalid_payload` if the machine is not waiting for a signature, or if
    /// the signature does not recover to the settling account (the machine is
    /// unchanged then).
    pub fn feed_signature(&mut self, signature: &Signature) -> Result<(), Error> {
        let wrong = |why| Error::new(Reason::InvalidPayload, ErrorKind::Invalid(why));
        let (State::Running(run), Mode::Settle { from, .. }) = (&self.state, &self.mode) else {
            return Err(wrong("the machine is not waiting for a signature"));
        };
        let Stage::Transact(Transaction::Sign {
            gas_limit,
            nonce,
            max_fee,
            tip,
        }) = run.stage
        else {
            return Err(wrong("the machine is not waiting for a signature"));
        };
        let hash = run.signing_hash(gas_limit, nonce, max_fee, tip);
        match signature.recover(&hash.0) {
            Ok(signer) if signer == *from => {}
            _ => {
                return Err(wrong(
                    "the signature does not recover to the settling account",
                ));
            }
        }
        let bytes = signature.to_bytes();
        let (v, r, s) = crate::evm::abi::split_signature(&bytes);
        let sent = SentTransaction {
            hash: B256([0; 32]),
            nonce,
            gas_limit,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            y_parity: v == 28,
            r,
            s,
        };
        let sent = SentTransaction {
            hash: run.signed_tx(&sent).hash(),
            ..sent
        };
        self.state = run.go(Stage::Transact(Transaction::Send(sent)));
        Ok(())
    }

    /// The settlement transaction as signed, once it is: what a host keeps
    /// (durably, before the transaction leaves) to find it again after a
    /// restart ([`Machine::resume`]) or to replace it ([`Machine::replace`]).
    #[must_use]
    pub fn sent_transaction(&self) -> Option<SentTransaction> {
        match &self.state {
            State::Running(run) => run.stage.sent().copied(),
            State::Done(_) => None,
        }
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
                Step::Sign(_) => {
                    return Err(DriveError::Response(Error::new(
                        Reason::InvalidPayload,
                        ErrorKind::Invalid(
                            "this machine waits for the host's signature (feed_signature)",
                        ),
                    )));
                }
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
