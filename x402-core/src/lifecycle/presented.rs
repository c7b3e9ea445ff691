//! The payment a request presents: read from its header, keyed, and verified
//! against the route before anything about its record is read.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::error::Reason;
use crate::header::{self, HeaderKind};
use crate::json::{Limits, ToJson};
use crate::types::facilitator::{PaymentPayload, PaymentRequirements};
use crate::types::payload::SchemePayload;
use crate::types::{FromJson, v2};
use crate::verify;

use super::answer::Outcome;
use super::machine::{Lifecycle, Phase};
use super::record::{Payment, read_payer};
use super::route::Request;
use super::{BATCH_SCHEME, is_batch, limits};

/// The payment as this request presents it.
#[derive(Clone, Debug)]
pub(super) enum Presented {
    /// `exact`/`upto` on EVM: the decoded header (JSON) and the index of the
    /// route requirement it pays.
    Evm { json: Vec<u8>, index: usize },
    /// `batch-settlement`: verified once the directory is known.
    #[cfg(feature = "batch")]
    Batch {
        directories: Vec<(String, Vec<u8>)>,
        /// Once verified: what the receipt says but the amount charged.
        receipt: Option<BatchReceipt>,
    },
    /// `batch-settlement` on EVM: a deposit, voucher or refund on a channel.
    #[cfg(feature = "evm-batch")]
    EvmBatch(alloc::boxed::Box<super::evm_batch::EvmBatch>),
}

/// A verified `batch-settlement` commitment's receipt, less the amount.
#[cfg(feature = "batch")]
#[derive(Clone, Debug)]
pub(super) struct BatchReceipt {
    pub(super) payer: String,
    pub(super) asset: String,
    pub(super) timestamp: u64,
    /// The amount the agent committed to: the most it may be charged.
    pub(super) committed: crate::Amount,
}

impl Lifecycle {
    pub(super) fn start(&mut self, request: &Request<'_>) {
        // Two payments in one request: a proxy or a meter reading the other
        // one would disagree with this server about what was paid. Runtimes
        // that fold repeated headers into one value join them with ", ";
        // base64 has no comma, so a comma means two headers too.
        let presented = request
            .headers
            .iter()
            .filter(|(n, _)| {
                n.eq_ignore_ascii_case(HeaderKind::PaymentSignature.name())
                    || n.eq_ignore_ascii_case(HeaderKind::XPayment.name())
            })
            .map(|(_, v)| 1 + v.matches(',').count())
            .sum::<usize>();
        if presented > 1 {
            self.problem(
                400,
                Outcome::BadRequest,
                Reason::DuplicatePaymentHeader,
                "one request carries one payment: send a single PAYMENT-SIGNATURE header (and no X-PAYMENT beside it)",
            );
            return;
        }
        let head = request.method.eq_ignore_ascii_case("HEAD");
        let signature = request.header(HeaderKind::PaymentSignature.name());
        let x_payment = request.header(HeaderKind::XPayment.name());
        if head {
            // Never settled: the same 402 as a GET without payment, whatever it carries.
            let message = match signature.or(x_payment) {
                Some(_) => "HEAD is never settled: send the payment with GET",
                None => "PAYMENT-SIGNATURE header is required",
            };
            self.payment_required("", message);
            return;
        }
        let value = match (signature, x_payment) {
            (Some(v), _) => v,
            (None, Some(_)) => {
                self.payment_required(
                    Reason::InvalidX402Version.as_str(),
                    "this server speaks x402 version 2: send PAYMENT-SIGNATURE, not X-PAYMENT",
                );
                return;
            }
            (None, None) => {
                self.payment_required("", "PAYMENT-SIGNATURE header is required");
                return;
            }
        };
        let json = match header::decode_to_vec(value, header::DEFAULT_MAX_DECODED) {
            Ok(j) => j,
            Err(e) => {
                self.payment_required(e.reason().as_str(), &e.to_string());
                return;
            }
        };
        let accepted = crate::json::parse(&json, &Limits::DEFAULT)
            .ok()
            .and_then(|v| v.as_object())
            .and_then(|o| o.get("accepted"))
            .and_then(|a| a.as_object());
        let member = |k: &str| {
            accepted
                .and_then(|a| a.get(k))
                .and_then(|s| s.as_str())
                .map(|s| s.to_cow().into_owned())
        };
        let scheme = member("scheme").is_some_and(|s| s == BATCH_SCHEME);
        let evm = member("network").is_some_and(|n| n.starts_with("eip155:"));
        if scheme && evm {
            self.start_evm_batch(json);
        } else if scheme {
            self.start_batch();
        } else {
            self.start_evm(json);
        }
    }

    fn start_evm(&mut self, json: Vec<u8>) {
        let payload = match PaymentPayload::from_json_bytes(&json, &limits(json.len())) {
            Ok(PaymentPayload::V2(p)) => p,
            Ok(PaymentPayload::V1(_)) => {
                self.payment_required(
                    Reason::InvalidX402Version.as_str(),
                    "this server speaks x402 version 2",
                );
                return;
            }
            Err(e) => {
                self.payment_required(e.reason().as_str(), &e.to_string());
                return;
            }
        };
        let Some(route) = self.route.parsed() else {
            self.problem(
                500,
                Outcome::StoreError,
                Reason::InvalidPaymentRequirements,
                "the route cannot be read",
            );
            return;
        };
        // The idempotency key's form, and the route's requirement of one.
        if let Err((reason, message)) = crate::payment_identifier::check(
            route.extensions.and_then(|e| e.as_json()),
            payload.extensions.and_then(|e| e.as_json()),
        ) {
            self.problem(400, Outcome::BadRequest, reason, message);
            return;
        }
        let accepted = payload.accepted;
        let same_asset =
            |r: &v2::PaymentRequirements<'_>| match (r.asset_address(), accepted.asset_address()) {
                (Ok(a), Ok(b)) => a == b,
                // A Solana mint: base58, compared as written.
                _ => is_solana(r) && r.asset.to_cow() == accepted.asset.to_cow(),
            };
        let found = route.accepts.iter().enumerate().find(|(_, r)| {
            !is_batch(r)
                && r.scheme == accepted.scheme
                && r.network == accepted.network
                && same_asset(r)
        });
        let Some((index, req)) = found else {
            self.payment_required(
                Reason::NoMatchingRequirements.as_str(),
                "accepted (scheme, network, asset) matches none of this route's requirements",
            );
            return;
        };
        // The key: the route's network and asset, the payload's payer and nonce.
        let asset = req
            .asset_address()
            .map(|a| lower(a.checksummed().as_str()))
            .unwrap_or_else(|_| req.asset.to_cow().into_owned());
        #[cfg(feature = "svm")]
        let solana = is_solana(&req)
            .then(|| solana_ids(&payload, &req, self.now))
            .flatten();
        #[cfg(not(feature = "svm"))]
        let solana: Option<(String, String, u64)> = None;
        let ids = payload
            .payload_json()
            .and_then(SchemePayload::from_object)
            .ok()
            .and_then(|s| match s {
                SchemePayload::Eip3009(e) => Some((
                    e.authorization.from,
                    String::from(e.authorization.nonce.to_hex().as_str()),
                    e.authorization.valid_before,
                )),
                SchemePayload::Permit2(p) => Some((
                    p.authorization.from,
                    p.authorization.nonce.to_string(),
                    p.authorization.deadline,
                )),
                SchemePayload::Batch(_) => None,
            });
        let ids = ids
            .map(|(payer, nonce, expires)| {
                (
                    lower(payer.checksummed().as_str()),
                    nonce,
                    expires.to_u64().unwrap_or(u64::MAX),
                )
            })
            .or(solana);
        let Some((payer, nonce, expires)) = ids else {
            // Not a payment that can be keyed: verification says what is wrong.
            let verdict = verify::verify_parts(
                &PaymentPayload::V2(payload),
                &PaymentRequirements::V2(req),
                self.now,
                &verify::Config::default(),
            );
            let reason = verdict.reason.unwrap_or(Reason::InvalidPayload);
            self.payment_required(reason.as_str(), verdict.message.as_str());
            return;
        };
        self.upfront = payment_flow(&req) == Some("upfront");
        let scheme = req.scheme.to_cow().into_owned();
        let network = req.network;
        let amount = req.amount;
        let route_url = route.resource.url.to_cow().into_owned();
        self.payment = Payment::new(
            &scheme,
            &payer,
            &nonce,
            amount,
            network.as_str(),
            &asset,
            &route_url,
            self.now,
            expires,
        );
        // A payment-identifier, on a route that declares the extension, is
        // bound to the first payment that carries it (per payee).
        let declared = route
            .extensions
            .and_then(|e| e.as_json())
            .and_then(crate::payment_identifier::declared)
            .is_some();
        self.binding = payload
            .extensions
            .and_then(|e| e.as_json())
            .and_then(crate::payment_identifier::id_of)
            .filter(|_| declared)
            .map(|id| {
                crate::payment_identifier::binding_key(
                    network.as_str(),
                    &req.pay_to.to_cow(),
                    &id.to_cow(),
                )
            });
        self.presented = Some(Presented::Evm { json, index });
        self.verify_first();
    }

    /// Verifies before anything about a record is read: a payment the payer
    /// did not sign for this route learns nothing of the payment it names
    /// (whether it exists, its state, its `PAYMENT-RESPONSE`), and changes no
    /// record. One that fails only for its validity window is looked up all
    /// the same: it may be one this server settled and still owes.
    fn verify_first(&mut self) {
        let failed = self.check(self.now);
        self.verdict = self.verdict_of(failed.as_ref());
        match failed {
            None => self.look_up(),
            Some((reason, message)) if is_window(reason) && self.check_any_time().is_none() => {
                self.outside_window = Some((reason, message));
                self.look_up();
            }
            Some((reason, message)) => self.payment_required(reason.as_str(), &message),
        }
    }

    /// A build without `evm-batch` refuses `batch-settlement` payments on EVM.
    #[cfg(not(feature = "evm-batch"))]
    fn start_evm_batch(&mut self, json: Vec<u8>) {
        let _ = json;
        self.payment_required(
            Reason::UnsupportedScheme.as_str(),
            "batch-settlement on EVM is not supported by this build",
        );
    }

    /// A build without `batch` refuses `batch-settlement` payments.
    #[cfg(not(feature = "batch"))]
    fn start_batch(&mut self) {
        self.payment_required(
            Reason::UnsupportedScheme.as_str(),
            "batch-settlement is not supported by this build",
        );
    }

    /// Feeds the result of [`Action::Directory`]: the agent's JWK Set, or
    /// `None` if the agent is not one the host recognises.
    ///
    /// [`Action::Directory`]: super::Action::Directory
    pub fn feed_directory(&mut self, jwks: Option<&[u8]>) {
        let Phase::Directory(agent) = &self.phase else {
            return;
        };
        #[cfg(feature = "batch")]
        {
            let agent = agent.clone();
            if let Some(Presented::Batch { directories, .. }) = &mut self.presented {
                directories.push((agent, jwks.map(<[u8]>::to_vec).unwrap_or_default()));
            }
            self.verify_batch();
        }
        #[cfg(not(feature = "batch"))]
        {
            let _ = (agent, jwks);
        }
    }

    /// A VerifyResponse for an EVM payment's verdict.
    fn verdict_of(&self, failed: Option<&(Reason, String)>) -> Option<String> {
        if !matches!(self.presented, Some(Presented::Evm { .. })) {
            return self.verdict.clone();
        }
        let payer = read_payer(&self.payment.json);
        let payer = payer.as_deref();
        Some(
            match failed {
                Some((r, m)) => {
                    crate::types::facilitator::VerifyResponse::invalid(r.as_str(), Some(m), payer)
                }
                None => crate::types::facilitator::VerifyResponse::valid(payer),
            }
            .to_json_string(),
        )
    }

    /// Why the payment fails verification at `at`, if it does.
    pub(super) fn check(&self, at: u64) -> Option<(Reason, String)> {
        match &self.presented {
            Some(Presented::Evm { json, index }) => {
                let route = self.route.parsed();
                let req = route.as_ref().and_then(|r| r.accepts.get(*index));
                let payload = PaymentPayload::from_json_bytes(json, &limits(json.len()));
                match (payload, req) {
                    (Ok(p), Some(r)) => {
                        let config = verify::Config {
                            facilitator_addresses: &self.settings.facilitator_addresses,
                            smart_wallets: false,
                            erc20_approval_sponsoring: false,
                        };
                        let v = verify::verify_parts(&p, &PaymentRequirements::V2(r), at, &config);
                        v.reason.map(|r| (r, String::from(v.message.as_str())))
                    }
                    _ => Some((Reason::InvalidPayload, String::new())),
                }
            }
            // Verified before the key was known.
            #[cfg(feature = "batch")]
            Some(Presented::Batch { .. }) => None,
            #[cfg(feature = "evm-batch")]
            Some(Presented::EvmBatch(_)) => None,
            None => Some((Reason::InvalidPayload, String::new())),
        }
    }

    /// Why the payment fails every offline check but its validity window, if
    /// it does: `None` says the payer signed it for this route.
    fn check_any_time(&self) -> Option<(Reason, String)> {
        let Some(Presented::Evm { json, index }) = &self.presented else {
            return Some((Reason::InvalidPayload, String::new()));
        };
        let route = self.route.parsed();
        let req = route.as_ref().and_then(|r| r.accepts.get(*index));
        match (
            PaymentPayload::from_json_bytes(json, &limits(json.len())),
            req,
        ) {
            (Ok(p), Some(r)) => {
                let config = verify::Config {
                    facilitator_addresses: &self.settings.facilitator_addresses,
                    smart_wallets: false,
                    erc20_approval_sponsoring: false,
                };
                let v = verify::verify_parts_any_time(&p, &PaymentRequirements::V2(r), &config);
                v.reason.map(|r| (r, String::from(v.message.as_str())))
            }
            _ => Some((Reason::InvalidPayload, String::new())),
        }
    }
}

/// Whether a requirement is on a Solana network.
fn is_solana(r: &v2::PaymentRequirements<'_>) -> bool {
    r.network.namespace() == Some("solana")
}

/// How long after it is presented a Solana payment may still land: a
/// transaction's blockhash is valid for 150 slots (about a minute; longer when
/// slots are slow), so its record is kept this much beyond
/// `maxTimeoutSeconds`.
#[cfg(feature = "svm")]
const SOLANA_BLOCKHASH_SECONDS: u64 = 180;

/// The replay key's parts of a Solana payment that passes the offline checks:
/// its payer (base58), the payer's signature (base58: no two transactions
/// share it) and when its record may be forgotten. `None` for a payment that
/// fails them (verification then says why).
#[cfg(feature = "svm")]
fn solana_ids(
    payload: &v2::PaymentPayload<'_>,
    req: &v2::PaymentRequirements<'_>,
    now: u64,
) -> Option<(String, String, u64)> {
    use crate::svm::verify::{Config, Verdict, decode_base64, verify_parts};
    let Verdict::Valid { payer, .. } = verify_parts(payload, req, &Config::default()) else {
        return None;
    };
    let text = payload.payload.as_json()?.get("transaction")?.as_str()?;
    let mut buf = [0u8; crate::svm::tx::MAX_TRANSACTION_SIZE];
    let tx = crate::svm::tx::Transaction::decode(decode_base64(text, &mut buf)?).ok()?;
    let signer =
        (0..usize::from(tx.header.num_required_signatures)).find(|&i| tx.key(i) == Some(payer))?;
    let mut b58 = [0u8; crate::svm::SIGNATURE_BASE58_MAX];
    let n = bs58::encode(tx.signature(signer)?)
        .onto(&mut b58[..])
        .ok()?;
    let nonce = core::str::from_utf8(b58.get(..n)?).ok()?;
    let expires = now
        .saturating_add(req.max_timeout_seconds)
        .saturating_add(SOLANA_BLOCKHASH_SECONDS);
    Some((payer.to_string(), String::from(nonce), expires))
}

/// Reasons that say only that a payment is outside its validity window.
fn is_window(reason: Reason) -> bool {
    matches!(
        reason,
        Reason::ExactEvmValidBefore
            | Reason::ExactEvmValidAfter
            | Reason::Permit2DeadlineExpired
            | Reason::Permit2NotYetValid
    )
}

/// A requirement's `extra.paymentFlow`, when it names one.
pub(super) fn payment_flow<'r>(req: &'r v2::PaymentRequirements<'_>) -> Option<&'r str> {
    req.extra.as_ref()?.payment_flow?.as_str()
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}
