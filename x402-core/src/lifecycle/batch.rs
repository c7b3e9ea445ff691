//! `batch-settlement` on `cloudflare:402`: the signed request is the payment,
//! verified once the agent's key directory is known (asked of the host the
//! first time it is needed); recording its commitment is settling it.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error::Reason;
use crate::json::ToJson;

use super::machine::{Lifecycle, Phase};
use super::presented::{BatchReceipt, Presented};
use super::record::Payment;
use super::{BATCH_NETWORK, BATCH_SCHEME, is_batch};

impl Lifecycle {
    pub(super) fn start_batch(&mut self) {
        let offered = self
            .route
            .parsed()
            .is_some_and(|pr| pr.accepts.iter().any(|r| is_batch(&r)));
        if !offered {
            self.payment_required(
                Reason::NoMatchingRequirements.as_str(),
                "this route does not offer batch-settlement",
            );
            return;
        }
        self.presented = Some(Presented::Batch {
            directories: Vec::new(),
            receipt: None,
        });
        self.verify_batch();
    }

    /// The request as `batch-settlement` verification reads it: its header
    /// lines and URL.
    fn request(&self) -> (Vec<(&str, &str)>, &str) {
        (
            self.headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect(),
            self.url.as_str(),
        )
    }
    /// Verifies a batch-settlement request with the directories known so far;
    /// asks for the agent's directory the first time it is needed.
    pub(super) fn verify_batch(&mut self) {
        use crate::batch::{self, KeyLookupError, directory::Directory};
        use core::cell::RefCell;
        use core::fmt::Write as _;
        let Some(Presented::Batch { directories, .. }) = &self.presented else {
            return;
        };
        let asked: RefCell<Option<String>> = RefCell::new(None);
        let lookup = |agent: &str, keyid: &str| match directories.iter().find(|(a, _)| a == agent) {
            Some((_, jwks)) if jwks.is_empty() => Err(KeyLookupError::UnknownAgent),
            Some((_, jwks)) => Directory::parse(jwks)
                .ok()
                .and_then(|d| d.find(keyid))
                .ok_or(KeyLookupError::UnknownKey),
            None => {
                *asked.borrow_mut() = Some(agent.to_owned());
                Err(KeyLookupError::UnknownAgent)
            }
        };
        let (headers, url) = self.request();
        let req = batch::Request {
            method: &self.method,
            url,
            headers: &headers,
        };
        let doc = self.route.json();
        let verdict = batch::verify_batch_settlement_alloc(
            &req,
            doc,
            &lookup,
            self.now,
            &self.settings.batch,
        );
        if let Some(agent) = asked.borrow_mut().take() {
            self.phase = Phase::Directory(agent);
            return;
        }
        let verdict_json = verdict.to_json_string();
        let (Some(c), Some(payer)) = (verdict.commitment, verdict.payer) else {
            let reason = verdict.reason.unwrap_or(Reason::InvalidPayload);
            let message = String::from(verdict.message.as_str());
            self.verdict = Some(verdict_json);
            self.payment_required(reason.as_str(), &message);
            return;
        };
        let receipt = BatchReceipt {
            payer: payer.to_owned(),
            asset: c.asset.to_cow().into_owned(),
            timestamp: self.now,
            committed: c.amount,
        };
        // The commitment: what the agent signed, which no one else can sign.
        let mut nonce = String::new();
        let _ = write!(nonce, "{}", c.keyid.as_plain().unwrap_or_default());
        let _ = write!(nonce, ";created={};expires={}", c.created, c.expires);
        if let Some(n) = c.nonce {
            let _ = write!(nonce, ";nonce={}", n.as_plain().unwrap_or_default());
        }
        let asset = c.asset.to_cow().into_owned();
        let route_url = self
            .route
            .parsed()
            .map(|pr| pr.resource.url.to_cow().into_owned())
            .unwrap_or_default();
        let payer = payer.to_owned();
        let amount = c.amount;
        self.payment = Payment::new(
            BATCH_SCHEME,
            &payer,
            &nonce,
            amount,
            BATCH_NETWORK,
            &asset,
            &route_url,
            self.now,
            c.expires,
        );
        if let Some(Presented::Batch { receipt: r, .. }) = &mut self.presented {
            *r = Some(receipt);
        }
        self.verdict = Some(verdict_json);
        self.phase = Phase::Lookup;
    }
}
