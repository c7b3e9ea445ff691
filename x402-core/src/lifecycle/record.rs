//! The records of the replay store: what they hold, how this module writes
//! and reads them, and what a host may read of them ([`record_info`],
//! [`record_forgettable`]). Hosts compare records byte for byte; only this
//! file knows their form.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::amount::Amount;
use crate::error::{Error, Reason};
use crate::json::{JsonStr, Limits, ObjectWriter, ToJson};

use super::machine::Lifecycle;
use super::{BATCH_SCHEME, bad, limits};

/// The state part of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    Claimed,
    Settling,
    Settled,
    Delivered,
    Uncertain,
    /// A `payment-identifier` bound to the first payment that carried it
    /// (the record of the identifier's key, not of a payment's).
    Bound,
}

impl State {
    const fn as_str(self) -> &'static str {
        match self {
            State::Claimed => "claimed",
            State::Settling => "settling",
            State::Settled => "settled",
            State::Delivered => "delivered",
            State::Uncertain => "uncertain",
            State::Bound => "bound",
        }
    }

    fn from_str(s: &str) -> Option<State> {
        [
            State::Claimed,
            State::Settling,
            State::Settled,
            State::Delivered,
            State::Uncertain,
            State::Bound,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// A record read back.
pub(super) struct Seen {
    pub(super) state: State,
    pub(super) until: u64,
    pub(super) payment_response: Option<String>,
    pub(super) cause: String,
    transaction: String,
    /// The `payment` member as written, kept when the record is rewritten.
    pub(super) payment: String,
}

pub(super) fn read_payer(payment: &str) -> Option<String> {
    crate::json::parse(payment.as_bytes(), &Limits::DEFAULT)
        .ok()?
        .as_object()?
        .get("payer")?
        .as_str()
        .map(|s| s.to_cow().into_owned())
}

/// The replay key of a record's `payment` member (as [`Payment::new`] makes it).
pub(super) fn payment_key(payment: &str) -> Option<String> {
    let v = crate::json::parse(payment.as_bytes(), &Limits::DEFAULT).ok()?;
    let o = v.as_object()?;
    let f = |k: &str| o.get(k)?.as_str().map(|s| s.to_cow().into_owned());
    Some(format!(
        "{}/{}/{}/{}",
        f("network")?,
        f("asset")?,
        f("payer")?,
        f("nonce")?
    ))
}

/// Whether two `payment` members of records describe the same purchase: same
/// scheme, amount and route path (the key already fixes network, asset, payer
/// and nonce). The route is compared without its origin, so that replicas
/// reached under different host names or ports agree.
pub(super) fn same_purchase(a: &str, b: &str) -> bool {
    let read = |text: &str| -> Option<[String; 3]> {
        let v = crate::json::parse(text.as_bytes(), &Limits::DEFAULT).ok()?;
        let o = v.as_object()?;
        let f = |k: &str| {
            o.get(k)
                .and_then(|v| v.as_str())
                .map(|s| s.to_cow().into_owned())
        };
        Some([
            f("scheme")?,
            f("amount")?,
            route_path(&f("route")?).to_owned(),
        ])
    };
    matches!((read(a), read(b)), (Some(x), Some(y)) if x == y)
}

/// `https://host:port/a/b?q` → `/a/b?q`; text without an origin is kept.
fn route_path(route: &str) -> &str {
    match route.split_once("://") {
        Some((_, rest)) => rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/"),
        None => route,
    }
}

pub(super) fn payment_time(payment: &str) -> Option<u64> {
    crate::json::parse(payment.as_bytes(), &Limits::DEFAULT)
        .ok()?
        .as_object()?
        .get("time")?
        .as_u64()
}

pub(super) fn read_record(text: &str) -> Option<Seen> {
    let v = crate::json::parse(text.as_bytes(), &limits(64 * 1024)).ok()?;
    let o = v.as_object()?;
    let s = |k: &str| {
        o.get(k)
            .and_then(|v| v.as_str())
            .map(|s| s.to_cow().into_owned())
    };
    Some(Seen {
        state: State::from_str(&s("state")?)?,
        until: o.get("until").and_then(|v| v.as_u64()).unwrap_or(0),
        payment_response: s("paymentResponse"),
        cause: s("cause").unwrap_or_default(),
        transaction: s("transaction").unwrap_or_default(),
        payment: o.get("payment")?.as_object()?.raw().to_owned(),
    })
}

/// Fields of the reconciliation part of a record, for [`record_info`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordInfo {
    /// `claimed`, `settling`, `settled`, `delivered` or `uncertain`; `bound`
    /// for the record of a `payment-identifier` (the payment it was first
    /// used for).
    pub state: String,
    /// The payer (EVM address or `batch-settlement` agent).
    pub payer: String,
    /// The payment's nonce (EIP-3009 hex, Permit2 decimal, or the signature's
    /// key id, times and nonce for `batch-settlement`).
    pub nonce: String,
    /// The amount, in atomic units.
    pub amount: String,
    /// The network.
    pub network: String,
    /// The asset.
    pub asset: String,
    /// The route's resource URL.
    pub route: String,
    /// When the payment was first claimed (unix seconds).
    pub time: u64,
    /// When the signed payment stops being valid (unix seconds: EIP-3009
    /// `validBefore`, Permit2 `deadline`, the signature's `expires` for
    /// `batch-settlement`), or 0 if unknown.
    pub expires: u64,
    /// Why it is uncertain, for `uncertain` records.
    pub cause: String,
    /// The settlement transaction a facilitator named for an `uncertain`
    /// record (`settlement_pending` with a hash), or empty.
    pub transaction: String,
    /// The `PAYMENT-RESPONSE` value, for `settled` and `delivered` records.
    pub payment_response: String,
}

impl ToJson for RecordInfo {
    /// `{state, payer, nonce, amount, network, asset, route, time, expires?,
    /// cause?, transaction?, paymentResponse?}`: what a host lists of a record
    /// (empty members and a zero `expires` are left out).
    fn write_json(&self, out: &mut dyn crate::json::Sink) -> Result<(), crate::json::SinkFull> {
        let mut w = ObjectWriter::new(out)?;
        for (k, v) in [
            ("state", &self.state),
            ("payer", &self.payer),
            ("nonce", &self.nonce),
            ("amount", &self.amount),
            ("network", &self.network),
            ("asset", &self.asset),
            ("route", &self.route),
        ] {
            w.str_field(k, JsonStr::new(v))?;
        }
        w.u64_field("time", self.time)?;
        if self.expires > 0 {
            w.u64_field("expires", self.expires)?;
        }
        for (k, v) in [
            ("cause", &self.cause),
            ("transaction", &self.transaction),
            ("paymentResponse", &self.payment_response),
        ] {
            if !v.is_empty() {
                w.str_field(k, JsonStr::new(v))?;
            }
        }
        w.end()
    }
}

/// Reads what a host may show of a record (to list those to reconcile).
///
/// # Errors
/// `invalid_payload` if the text is not a record this module wrote.
pub fn record_info(record: &str) -> Result<RecordInfo, Error> {
    let seen = read_record(record).ok_or(bad(Reason::InvalidPayload, "not a payment record"))?;
    let v = crate::json::parse(seen.payment.as_bytes(), &Limits::DEFAULT)
        .map_err(|k| Error::new(Reason::InvalidPayload, k))?;
    let o = v
        .as_object()
        .ok_or(bad(Reason::InvalidPayload, "not a payment record"))?;
    let s = |k: &str| {
        o.get(k)
            .and_then(|v| v.as_str())
            .map(|s| s.to_cow().into_owned())
            .unwrap_or_default()
    };
    Ok(RecordInfo {
        state: seen.state.as_str().into(),
        payer: s("payer"),
        nonce: s("nonce"),
        amount: s("amount"),
        network: s("network"),
        asset: s("asset"),
        route: s("route"),
        time: o.get("time").and_then(|v| v.as_u64()).unwrap_or(0),
        expires: o.get("expires").and_then(|v| v.as_u64()).unwrap_or(0),
        cause: seen.cause,
        transaction: seen.transaction,
        payment_response: seen.payment_response.unwrap_or_default(),
    })
}

/// Whether a host's store may forget this record at `now` (unix seconds):
/// the payment's signature has expired (with a minute's margin for clocks),
/// so it can no longer be presented, and the record holds nothing anyone
/// is owed or must reconcile — it is `delivered`, a `claimed` record whose
/// holder is gone before settling, or a `payment-identifier`'s `bound` record. Never an `uncertain`, `settling` or
/// `settled` record (a payer may be owed content, or a transfer may have
/// happened), never a record without a known expiry, and never a
/// `batch-settlement` commitment (the record the network bills from).
///
/// ```
/// use paywire::lifecycle::record_forgettable;
/// assert!(!record_forgettable("not a record", 2_000_000_000));
/// ```
#[must_use]
pub fn record_forgettable(record: &str, now: u64) -> bool {
    /// Slack for a presenting client's clock and the verifier's margin.
    const MARGIN: u64 = 60;
    let Some(seen) = read_record(record) else {
        return false;
    };
    let over = match seen.state {
        State::Delivered | State::Bound => true,
        State::Claimed => seen.until <= now,
        State::Settling | State::Settled | State::Uncertain => false,
    };
    if !over {
        return false;
    }
    let Ok(v) = crate::json::parse(seen.payment.as_bytes(), &Limits::DEFAULT) else {
        return false;
    };
    let Some(o) = v.as_object() else {
        return false;
    };
    let batch = o
        .get("scheme")
        .and_then(|s| s.as_str())
        .is_some_and(|s| s == BATCH_SCHEME);
    let expires = o.get("expires").and_then(|v| v.as_u64()).unwrap_or(0);
    !batch && expires > 0 && expires.saturating_add(MARGIN) < now
}

/// Who pays what: a payment's replay key and the `payment` member of its records.
#[derive(Clone, Debug, Default)]
pub(super) struct Payment {
    pub(super) key: String,
    pub(super) json: String,
}

impl Payment {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        kind: &str,
        payer: &str,
        nonce: &str,
        amount: Amount,
        network: &str,
        asset: &str,
        route: &str,
        time: u64,
        expires: u64,
    ) -> Payment {
        let amount = amount.to_string();
        let mut json = Vec::new();
        let _ = (|| {
            let mut w = ObjectWriter::new(&mut json)?;
            w.str_field("scheme", JsonStr::new(kind))?;
            w.str_field("payer", JsonStr::new(payer))?;
            w.str_field("nonce", JsonStr::new(nonce))?;
            w.str_field("amount", JsonStr::new(&amount))?;
            w.str_field("network", JsonStr::new(network))?;
            w.str_field("asset", JsonStr::new(asset))?;
            w.str_field("route", JsonStr::new(route))?;
            w.u64_field("time", time)?;
            if expires > 0 {
                w.u64_field("expires", expires)?;
            }
            w.end()
        })();
        Payment {
            key: format!("{network}/{asset}/{payer}/{nonce}"),
            json: String::from_utf8(json).unwrap_or_default(),
        }
    }
}

impl Payment {
    /// The same payment, charged `amount` (what its records say is owed).
    #[cfg(feature = "batch")]
    pub(super) fn set_amount(&mut self, amount: Amount) {
        let Ok(v) = crate::json::parse(self.json.as_bytes(), &Limits::DEFAULT) else {
            return;
        };
        let Some(o) = v.as_object() else {
            return;
        };
        let amount = amount.to_string();
        let mut json = Vec::new();
        let _ = (|| {
            let mut w = ObjectWriter::new(&mut json)?;
            for (k, v) in o.members() {
                if k == "amount" {
                    w.str_field("amount", JsonStr::new(&amount))?;
                } else {
                    w.value_field(k, v)?;
                }
            }
            w.end()
        })();
        self.json = String::from_utf8(json).unwrap_or_default();
    }
}

impl Lifecycle {
    /// A record of this request's payment in `state`.
    pub(super) fn record(
        &self,
        state: State,
        until: u64,
        payment_response: Option<&str>,
        cause: &str,
    ) -> String {
        let mut out = Vec::new();
        let _ = (|| {
            let mut w = ObjectWriter::new(&mut out)?;
            w.str_field("state", JsonStr::new(state.as_str()))?;
            if until > 0 {
                w.u64_field("until", until)?;
            }
            w.str_field("id", JsonStr::new(&self.id))?;
            if let Some(pr) = payment_response {
                w.str_field("paymentResponse", JsonStr::new(pr))?;
            }
            if !cause.is_empty() {
                w.str_field("cause", JsonStr::new(cause))?;
            }
            if state == State::Uncertain && !self.transaction.is_empty() {
                w.str_field("transaction", JsonStr::new(&self.transaction))?;
            }
            w.key(JsonStr::new("payment"))?;
            w.sink().put(self.payment.json.as_bytes())?;
            w.end()
        })();
        String::from_utf8(out).unwrap_or_default()
    }
}
