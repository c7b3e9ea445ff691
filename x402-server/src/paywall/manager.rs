//! The channel manager of a paywall that sells `batch-settlement` on EVM:
//! what gets the receiver paid for the vouchers the paywall accepted.
//!
//! The paywall charges vouchers into the channel records of its
//! [`RecordStore`] and moves nothing on chain. [`ChannelManager::claim`]
//! lists those records, and asks the facilitator's `POST /settle` to claim
//! every channel charged above what it has claimed — its charged total,
//! under its latest voucher, many channels in one `claimWithSignature` —
//! then mirrors each claim in its record. [`ChannelManager::sweep`] asks it
//! to pay the claimed funds out to the receiver (`settle(receiver, token)`).
//! The payloads are the core's
//! ([`paywire::evm::batch_settlement::manager`]), those of `@x402/evm`'s
//! channel manager; the facilitator signs the claims as the channels'
//! receiver authorizer (`paywire facilitator` with `receiver_authorizer`,
//! for an API key whose `pay_to` names the receiver).
//!
//! # Money rules
//! - A record is marked claimed only when the facilitator answered success
//!   with a transaction (a 2xx `SettleResponse` on the manager's network);
//!   then only its mirrored `totalClaimed` is raised, by compare-and-swap
//!   against the record as read: a record changed meanwhile (a new voucher
//!   charged) is read again and raised in turn, never overwritten.
//! - A refusal leaves the records as they are; so does an uncertain answer
//!   (a timeout, an HTTP 5xx, an answer that is not a `SettleResponse`, a
//!   transaction still pending): the report says so, and the next `claim()`
//!   sends the same claim again, which the facilitator answers with the same
//!   transaction's outcome (it never sends one claim twice).
//! - A batch the facilitator refuses (one channel the contract refuses fails
//!   the whole `claimWithSignature`) is followed by a claim of each of its
//!   channels alone, so that one channel does not hold the others back.
//! - A channel on which a deposit or a refund is settling (its claim record
//!   under `…/{channelId}/claim` is live) is left for the next round: a
//!   refund claims what was charged itself.
//! - Every request is bounded in time ([`ChannelManager::timeout`]), every
//!   store operation too.
//!
//! Run it from a timer (the reference claims every few minutes and sweeps
//! after), and before a payer's withdrawal can complete: a channel's
//! `withdrawRequestedAt` is in its record once the paywall has seen it.
//!
//! ```no_run
//! use std::sync::Arc;
//! use paywire_server::paywall::{ChannelManager, Facilitator, MemoryRecords, RecordStore};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let facilitator = Facilitator::new("https://facilitator.example")?.api_key("the key it gave you");
//! // The store the paywall's layer keeps its records in.
//! let records: Arc<dyn RecordStore> = Arc::new(MemoryRecords::default());
//! let manager = ChannelManager::new(
//!     facilitator,
//!     Arc::clone(&records),
//!     "eip155:84532",
//!     "0x036CbD53842c5426634e7929541eC2318f3dCF7e", // the route's asset
//!     "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", // its payTo
//! )?;
//! let claimed = manager.claim().await;
//! println!("{} channels claimed for {}", claimed.claimed_channels(), claimed.claimed_amount());
//! for failure in &claimed.failures {
//!     eprintln!("not claimed: {failure}");
//! }
//! if claimed.claimed_channels() > 0 {
//!     println!("swept: {}", manager.sweep().await);
//! }
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use paywire::Amount;
use paywire::evm::batch_settlement::manager::{
    self as core_manager, ClaimBatch, ClaimRow, ManagerRequirements, Outcome as CoreOutcome,
    SettleRequest, Skip,
};
use paywire::evm::batch_settlement::server::ChannelRecord;
use paywire::evm::{Address, B256};
use paywire::json::{JsonStr, Limits, ToJson};

use super::client::{Reply, Settler};
use super::{Error, RecordStore};

/// How long a request to the facilitator may take by default (it answers
/// once the transaction is mined, or `settlement_pending`).
pub const DEFAULT_MANAGER_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one store operation may take.
const STORE_TIMEOUT: Duration = Duration::from_secs(30);

/// How many times a record changed meanwhile is read again before its
/// update is given up (and reported).
const MAX_SWAPS: usize = 16;

/// What came of one request to the facilitator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManagerOutcome {
    /// Done on chain: the facilitator answered success with this
    /// transaction.
    Done {
        /// The transaction.
        transaction: String,
        /// The amount the answer names (a sweep's: what the receiver got).
        amount: Option<Amount>,
    },
    /// Not done: the facilitator refused before sending anything, or its
    /// transaction reverted.
    Refused {
        /// The HTTP status.
        status: u16,
        /// Its `errorReason` (empty when the answer is not a
        /// `SettleResponse`).
        reason: String,
        /// Its `errorMessage`, if any.
        message: String,
    },
    /// Not done: the request never reached the facilitator.
    NotSent(String),
    /// Maybe done: nothing was changed here; asking again gets the same
    /// transaction's outcome.
    Uncertain {
        /// Why.
        cause: String,
        /// The transaction the answer named, if any.
        transaction: Option<String>,
    },
}

impl ManagerOutcome {
    /// The transaction, when done.
    #[must_use]
    pub fn transaction(&self) -> Option<&str> {
        match self {
            ManagerOutcome::Done { transaction, .. } => Some(transaction),
            _ => None,
        }
    }
}

impl std::fmt::Display for ManagerOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManagerOutcome::Done {
                transaction,
                amount,
            } => {
                write!(f, "done in {transaction}")?;
                match amount {
                    Some(a) => write!(f, " ({a})"),
                    None => Ok(()),
                }
            }
            ManagerOutcome::Refused {
                status,
                reason,
                message,
            } => {
                write!(f, "refused (HTTP {status}")?;
                if !reason.is_empty() {
                    write!(f, ", {reason}")?;
                }
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                f.write_str(")")
            }
            ManagerOutcome::NotSent(why) => write!(f, "not sent: {why}"),
            ManagerOutcome::Uncertain { cause, transaction } => {
                write!(f, "uncertain: {cause}")?;
                match transaction {
                    Some(t) => write!(f, " (transaction {t})"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// One channel of a claim batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedChannel {
    /// Its record's key.
    pub key: String,
    /// The channel.
    pub channel_id: B256,
    /// The claimed total asked: the channel's charged total.
    pub total_claimed: Amount,
    /// What this claim adds to the claimed total the record mirrored.
    pub amount: Amount,
    /// What became of its record.
    pub record: RecordUpdate,
}

/// What became of a channel's record after its claim batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordUpdate {
    /// Left as it was: the claim is not done.
    Unchanged,
    /// Its mirrored `totalClaimed` raised to the claimed total.
    Updated,
    /// It mirrors as much already (changed meanwhile), or it is gone (a
    /// refund removed it): nothing to write.
    Current,
    /// The claim is done and the record could not be updated: why. The
    /// next `claim()` claims it again and is answered with the same
    /// transaction.
    Failed(String),
}

/// One claim batch: its channels and what came of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimBatchReport {
    /// The channels it names.
    pub channels: Vec<ClaimedChannel>,
    /// What came of it.
    pub outcome: ManagerOutcome,
}

/// A record not claimed for a reason worth telling (a record with nothing
/// to claim is not one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotClaimed {
    /// Its key (or the prefix listed, when the listing failed).
    pub key: String,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for NotClaimed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

/// What [`ChannelManager::claim`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClaimReport {
    /// The batches sent, in order.
    pub batches: Vec<ClaimBatchReport>,
    /// Records not claimed, and why: unreadable, unsigned, busy with a
    /// deposit or refund, or the store failing.
    pub failures: Vec<NotClaimed>,
}

impl ClaimReport {
    /// How many channels were claimed (in batches done).
    #[must_use]
    pub fn claimed_channels(&self) -> usize {
        self.done().map(|b| b.channels.len()).sum()
    }

    /// How much the claims done add to the channels' claimed totals.
    #[must_use]
    pub fn claimed_amount(&self) -> Amount {
        self.done()
            .flat_map(|b| &b.channels)
            .fold(Amount::ZERO, |sum, c| {
                sum.checked_add(&c.amount).unwrap_or(sum)
            })
    }

    /// The claim transactions.
    #[must_use]
    pub fn transactions(&self) -> Vec<&str> {
        self.batches
            .iter()
            .filter_map(|b| b.outcome.transaction())
            .collect()
    }

    /// Whether everything claimable was claimed and mirrored: every channel
    /// of the batches in a batch done (a refused batch's channels then
    /// claimed alone), every record updated, nothing failed.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        let done: BTreeSet<&str> = self
            .done()
            .flat_map(|b| &b.channels)
            .map(|c| c.key.as_str())
            .collect();
        self.failures.is_empty()
            && self
                .batches
                .iter()
                .flat_map(|b| &b.channels)
                .all(|c| done.contains(c.key.as_str()))
            && self
                .done()
                .flat_map(|b| &b.channels)
                .all(|c| !matches!(c.record, RecordUpdate::Failed(_)))
    }

    fn done(&self) -> impl Iterator<Item = &ClaimBatchReport> {
        self.batches
            .iter()
            .filter(|b| b.outcome.transaction().is_some())
    }
}

/// Claims what a paywall's `batch-settlement` channels were charged, and
/// sweeps it to the receiver, through the facilitator (see the module docs).
pub struct ChannelManager {
    facilitator: Arc<dyn Settler>,
    records: Arc<dyn RecordStore>,
    requirements: ManagerRequirements,
    per_batch: usize,
    timeout: Duration,
}

impl std::fmt::Debug for ChannelManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelManager")
            .field("requirements", &self.requirements)
            .field("per_batch", &self.per_batch)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A channel record as the paywall stored it.
fn read_record(text: &str) -> Result<ChannelRecord<'_>, String> {
    let limits = Limits {
        max_len: 64 * 1024,
        ..Limits::DEFAULT
    };
    paywire::json::parse(text.as_bytes(), &limits)
        .map_err(|e| e.to_string())
        .and_then(|v| ChannelRecord::from_json(v).map_err(|e| e.to_string()))
        .map_err(|e| format!("not a channel record: {e}"))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl ChannelManager {
    /// The manager of the channels a paywall route sells on `network`
    /// (`eip155:<chain id>`) in the token `asset` to `pay_to` (the route's
    /// requirement), settling through `facilitator` (the paywall's) with the
    /// paywall's `records`.
    ///
    /// # Errors
    /// The network is not an `eip155` CAIP-2 id, or an address is malformed.
    pub fn new(
        facilitator: impl Settler + 'static,
        records: Arc<dyn RecordStore>,
        network: &str,
        asset: &str,
        pay_to: &str,
    ) -> Result<ChannelManager, Error> {
        let address = |what: &str, a: &str| {
            Address::parse(a).map_err(|e| Error(format!("the channel manager's {what} {a:?}: {e}")))
        };
        let requirements =
            ManagerRequirements::new(network, address("asset", asset)?, address("payTo", pay_to)?)
                .ok_or_else(|| {
                    Error(format!(
                        "the channel manager's network {network:?}: an eip155 CAIP-2 id"
                    ))
                })?;
        Ok(ChannelManager {
            facilitator: Arc::new(facilitator),
            records,
            requirements,
            per_batch: core_manager::DEFAULT_CLAIMS_PER_BATCH,
            timeout: DEFAULT_MANAGER_TIMEOUT,
        })
    }

    /// At most `n` channels per claim batch (1 to 256; the default is 100).
    #[must_use]
    pub fn claims_per_batch(mut self, n: usize) -> ChannelManager {
        self.per_batch = n.clamp(1, core_manager::MAX_CLAIMS);
        self
    }

    /// How long one request to the facilitator may take (60 s by default):
    /// past it, the outcome is uncertain.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> ChannelManager {
        self.timeout = timeout;
        self
    }

    /// Claims every channel of the store charged above what it has claimed,
    /// in batches, then mirrors each claim done in its record.
    pub async fn claim(&self) -> ClaimReport {
        let mut report = ClaimReport::default();
        let mut prefix = Vec::new();
        let _ = self.requirements.write_key_prefix(&mut prefix);
        let prefix = String::from_utf8(prefix).unwrap_or_default();
        let listed = match store(self.records.list(&prefix)).await {
            Ok(l) => l,
            Err(e) => {
                report.failures.push(NotClaimed {
                    key: prefix,
                    reason: format!("the records could not be listed: {e}"),
                });
                return report;
            }
        };
        // Channels on which a deposit or a refund holds a live claim.
        let now = unix_now();
        let busy: BTreeSet<&str> = listed
            .iter()
            .filter_map(|(k, r)| paywire::lifecycle::held_channel_claim(k, r, now))
            .collect();
        let mut candidates: Vec<(&str, &str, ChannelRecord<'_>, ClaimRow<'_>)> = Vec::new();
        for (key, text) in &listed {
            // Channel records only (not their claims, nor uncertain records).
            if key.strip_prefix(&prefix).is_none_or(|c| c.contains('/')) {
                continue;
            }
            let failed = |reason: String| NotClaimed {
                key: key.clone(),
                reason,
            };
            let record = match read_record(text) {
                Ok(r) => r,
                Err(e) => {
                    report.failures.push(failed(e));
                    continue;
                }
            };
            let row = match core_manager::claim_row(
                &record,
                &self.requirements.pay_to,
                &self.requirements.asset,
            ) {
                Ok(row) => row,
                Err(Skip::NothingToClaim | Skip::OtherReceiver) => continue,
                Err(skip) => {
                    report.failures.push(failed(skip.to_string()));
                    continue;
                }
            };
            if busy.contains(key.as_str()) {
                report.failures.push(failed(
                    "a deposit or a refund is settling on it: left for the next claim".into(),
                ));
                continue;
            }
            candidates.push((key, text, record, row));
        }
        for batch in candidates.chunks(self.per_batch) {
            let claimed = self.claim_batch(batch).await;
            let refused = matches!(claimed.outcome, ManagerOutcome::Refused { .. });
            report.batches.push(claimed);
            // One channel the contract refuses (its charged total above what
            // a completed withdrawal left, say) fails its whole batch: the
            // others are claimed alone.
            if refused && batch.len() > 1 {
                for one in batch.chunks(1) {
                    report.batches.push(self.claim_batch(one).await);
                }
            }
        }
        report
    }

    async fn claim_batch(
        &self,
        batch: &[(&str, &str, ChannelRecord<'_>, ClaimRow<'_>)],
    ) -> ClaimBatchReport {
        let rows: Vec<ClaimRow<'_>> = batch.iter().map(|c| c.3).collect();
        let mut channels: Vec<ClaimedChannel> = batch
            .iter()
            .map(|(key, _, record, row)| ClaimedChannel {
                key: (*key).to_owned(),
                channel_id: record.channel_id,
                total_claimed: row.total_claimed,
                amount: row
                    .total_claimed
                    .checked_sub(&record.onchain.total_claimed)
                    .unwrap_or_default(),
                record: RecordUpdate::Unchanged,
            })
            .collect();
        let Some(payload) = ClaimBatch::new(&rows, None) else {
            // Not reached: a batch holds 1 to 256 rows.
            return ClaimBatchReport {
                channels,
                outcome: ManagerOutcome::NotSent("an empty or oversized claim batch".into()),
            };
        };
        let outcome = self.send(self.body(&payload)).await;
        if outcome.transaction().is_some() {
            for (c, (key, text, _, row)) in channels.iter_mut().zip(batch) {
                c.record = self.mark_claimed(key, text, row.total_claimed).await;
            }
        }
        ClaimBatchReport { channels, outcome }
    }

    /// Raises the record's mirrored `totalClaimed` to `total`, by
    /// compare-and-swap from `text` (the record as listed), reading it again
    /// whenever it changed meanwhile.
    async fn mark_claimed(&self, key: &str, text: &str, total: Amount) -> RecordUpdate {
        let mut current = Some(text.to_owned());
        for _ in 0..MAX_SWAPS {
            let Some(text) = current else {
                return RecordUpdate::Current;
            };
            let next = match read_record(&text) {
                Ok(record) => {
                    core_manager::claim_settled(&record, total).map(|r| r.to_json_string())
                }
                Err(e) => return RecordUpdate::Failed(e),
            };
            let Some(next) = next else {
                return RecordUpdate::Current;
            };
            match store(self.records.swap(key, Some(&text), Some(&next))).await {
                Ok(Ok(())) => return RecordUpdate::Updated,
                Ok(Err(now)) => current = now,
                Err(e) => return RecordUpdate::Failed(e),
            }
        }
        RecordUpdate::Failed(format!("the record changed {MAX_SWAPS} times meanwhile"))
    }

    /// Sweeps the receiver's claimed funds in the token to it
    /// (`settle(receiver, token)`, one transfer). Nothing claimed and not
    /// swept yet: refused with `invalid_batch_settlement_evm_nothing_to_settle`.
    pub async fn sweep(&self) -> ManagerOutcome {
        self.send(self.body(&self.requirements.sweep())).await
    }

    /// The `POST /settle` body carrying `payload`.
    fn body(&self, payload: &dyn ToJson) -> String {
        SettleRequest {
            requirements: &self.requirements,
            payload,
        }
        .to_json_string()
    }

    /// Sends `body` to `POST /settle`, bounded by the timeout.
    async fn send(&self, body: String) -> ManagerOutcome {
        // The facilitator client bounds the request itself; a `Settler` that
        // does not is cut off a little after.
        let reply = tokio::time::timeout(
            self.timeout + Duration::from_secs(1),
            self.facilitator.settle(&body, self.timeout),
        )
        .await
        .unwrap_or_else(|_| Reply::NoAnswer(format!("no answer within {:?}", self.timeout)));
        let (status, answer) = match reply {
            Reply::NotSent(why) => return ManagerOutcome::NotSent(why),
            Reply::NoAnswer(why) => {
                return ManagerOutcome::Uncertain {
                    cause: format!("the facilitator did not answer: {why}"),
                    transaction: None,
                };
            }
            Reply::Answered { status, body } => (status, body),
        };
        let text = |s: JsonStr<'_>| s.to_cow().into_owned();
        match core_manager::read_answer(status, &answer, &self.requirements) {
            CoreOutcome::Done {
                transaction,
                amount,
            } => ManagerOutcome::Done {
                transaction: text(transaction),
                amount,
            },
            CoreOutcome::Refused {
                status,
                reason,
                message,
            } => ManagerOutcome::Refused {
                status,
                reason: reason.map(text).unwrap_or_default(),
                message: message.map(text).unwrap_or_default(),
            },
            CoreOutcome::Uncertain { doubt, transaction } => ManagerOutcome::Uncertain {
                cause: doubt.to_string(),
                transaction: transaction.map(text),
            },
        }
    }
}

/// A store operation, bounded in time.
async fn store<T>(op: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::time::timeout(STORE_TIMEOUT, op)
        .await
        .unwrap_or_else(|_| Err(format!("the store did not answer within {STORE_TIMEOUT:?}")))
}

/// The manager's futures can be spawned.
#[allow(dead_code)]
fn futures_are_send(m: &ChannelManager) {
    fn send<T: Send>(_: T) {}
    send(m.claim());
    send(m.sweep());
}
