//! Prometheus metrics of a facilitator (`GET /metrics`).

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of a request's outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Outcome {
    pub(crate) endpoint: &'static str,
    pub(crate) network: String,
    /// `valid`, `settled`, or the failure reason.
    pub(crate) outcome: String,
}

/// Labels of a network.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Net {
    pub(crate) network: String,
}

/// Labels of an account on a network.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Account {
    pub(crate) network: String,
    pub(crate) signer: String,
}

/// Every metric, and their registry.
pub(crate) struct Metrics {
    pub(crate) registry: Registry,
    pub(crate) requests: Family<Outcome, Counter>,
    pub(crate) settle_seconds: Family<Net, Histogram>,
    pub(crate) pending: Family<Net, Gauge>,
    pub(crate) nonce: Family<Account, Gauge<i64, AtomicU64Wrapper>>,
    pub(crate) gas_balance: Family<Account, Gauge<f64, AtomicU64>>,
}

/// prometheus-client's atomic for `i64` gauges.
pub(crate) type AtomicU64Wrapper = std::sync::atomic::AtomicI64;

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("paywire_facilitator");
        let requests = Family::<Outcome, Counter>::default();
        registry.register(
            "requests",
            "Verify and settle requests by endpoint, network and outcome (a reason string for failures)",
            requests.clone(),
        );
        let settle_seconds = Family::<Net, Histogram>::new_with_constructor(|| {
            Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0])
        });
        registry.register(
            "settle_seconds",
            "Time from a settle request to its answer",
            settle_seconds.clone(),
        );
        let pending = Family::<Net, Gauge>::default();
        registry.register(
            "pending_settlements",
            "Settlements sent whose outcome is not known yet",
            pending.clone(),
        );
        let nonce = Family::<Account, Gauge<i64, AtomicU64Wrapper>>::default();
        registry.register(
            "signer_next_nonce",
            "The next account nonce the facilitator gave out, per signer",
            nonce.clone(),
        );
        let gas_balance = Family::<Account, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "signer_gas_balance_ether",
            "Each signer's native balance, in ether",
            gas_balance.clone(),
        );
        Metrics {
            registry,
            requests,
            settle_seconds,
            pending,
            nonce,
            gas_balance,
        }
    }

    /// The text exposition.
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
