//! Where a facilitator keeps what must survive it: one record per payment it
//! settles (claimed before anything is sent, the transaction written before
//! it leaves, the outcome once known), and its accounts' nonces. SQLite for
//! one machine (several processes may share the file), PostgreSQL for several
//! instances behind a load balancer sharing signers: every change is one
//! atomic statement or transaction, so two instances never settle one payment
//! twice nor give two transactions one nonce.
//!
//! It also keeps the discovery catalog (the bazaar extension): one entry per
//! resource (per tool of an MCP server) whose declaration came with a
//! settled payment, replaced by the latest one.

mod postgres;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Where a settlement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Taken by a request (its owner) that verifies and simulates it; nothing
    /// has been sent. A claim whose lease has passed may be taken over.
    Claimed,
    /// A transaction was signed and is (or may be) on its way: the outcome is
    /// on chain; only receipts decide it now.
    Sent,
    /// Decided: the result is final.
    Done,
}

impl State {
    /// Its name in the store.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Claimed => "claimed",
            State::Sent => "sent",
            State::Done => "done",
        }
    }

    /// Reads a name back.
    #[must_use]
    pub fn parse(s: &str) -> Option<State> {
        [State::Claimed, State::Sent, State::Done]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

/// One payment's settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `network/asset/payer/nonce` (lower case): one per authorization.
    pub key: String,
    /// Identifies the signed payment itself (the same key with another
    /// signature is another payment, which the chain refuses).
    pub fingerprint: String,
    /// The `POST /settle` body, kept to take the settlement up again.
    pub request: String,
    /// Where it is.
    pub state: State,
    /// The instance and request holding it (claimed), or watching it (sent).
    pub owner: String,
    /// Until when (unix seconds) the owner holds it.
    pub lease_until: u64,
    /// The account that signed, once one did.
    pub signer: Option<String>,
    /// The account nonce used, once one was.
    pub nonce: Option<u64>,
    /// Every transaction signed for it (a replacement adds one), as
    /// `SentTransaction` JSON, oldest first.
    pub sent: Vec<String>,
    /// The final `SettleResponse` JSON, once done.
    pub result: Option<String>,
    /// The network, payer and amount, for listings.
    pub network: String,
    /// The payer.
    pub payer: String,
    /// The amount, in atomic units.
    pub amount: String,
    /// When it was claimed first (unix seconds).
    pub created: u64,
    /// When it last changed (unix seconds).
    pub updated: u64,
}

/// What [`Store::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The payment is this request's now (new, or taken over from a claim
    /// whose holder is gone).
    Claimed,
    /// Someone has it already: its record.
    Existing(Box<Record>),
}

/// The request holding a claim, when it takes a nonce for it: the nonce is
/// written into the claim in the same transaction, so that a claim given up
/// (or abandoned by a stopped process) gives its nonce back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder<'a> {
    /// The payment's key.
    pub key: &'a str,
    /// The claim's owner.
    pub owner: &'a str,
}

/// The chain id of an `eip155:N` network.
pub(crate) fn chain_id_of(network: &str) -> Option<u64> {
    network.strip_prefix("eip155:")?.parse().ok()
}

/// A store's failure (the database is unreachable, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// A resource in the discovery catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    /// The catalog key: the resource's URL, and for an MCP tool a space and
    /// the tool's name.
    pub key: String,
    /// The resource's URL (origin and path, or route template).
    pub resource: String,
    /// `http` or `mcp`.
    pub kind: String,
    /// The x402 version of the payment that declared it.
    pub x402_version: u64,
    /// The payment requirements it was paid with, as a JSON array.
    pub accepts: String,
    /// `payTo` of those requirements (a filter).
    pub pay_to: String,
    /// Their scheme (a filter).
    pub scheme: String,
    /// Their network (a filter).
    pub network: String,
    /// The keys of the payment's extensions, each between commas
    /// (`,bazaar,payment-identifier,`: the `extensions` filter).
    pub extension_keys: String,
    /// `resource.description`.
    pub description: Option<String>,
    /// `resource.mimeType`.
    pub mime_type: Option<String>,
    /// `resource.serviceName`, sanitised.
    pub service_name: Option<String>,
    /// `resource.tags`, sanitised, as a JSON array (`None`: none kept).
    pub tags: Option<String>,
    /// `resource.iconUrl`, sanitised.
    pub icon_url: Option<String>,
    /// The payment's `extensions`, as a JSON object.
    pub extensions: String,
    /// When it was last declared (unix seconds).
    pub updated: u64,
}

/// Which catalog entries to list: every filter given must hold; newest
/// first, then by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogQuery {
    /// `http` or `mcp`.
    pub kind: Option<String>,
    /// The recipient (an `0x` address compares without case).
    pub pay_to: Option<String>,
    /// The scheme.
    pub scheme: Option<String>,
    /// The network.
    pub network: Option<String>,
    /// An extension the payment carried.
    pub extension: Option<String>,
    /// At most this many.
    pub limit: u64,
    /// After skipping this many.
    pub offset: u64,
}

impl CatalogQuery {
    /// The `pay_to` filter as compared (lower case for an address).
    pub(crate) fn pay_to_key(&self) -> Option<String> {
        self.pay_to.as_deref().map(pay_to_key)
    }
}

/// A recipient as the catalog compares it: an `0x` address in lower case,
/// anything else as it is.
pub(crate) fn pay_to_key(p: &str) -> String {
    if p.starts_with("0x") || p.starts_with("0X") {
        p.to_ascii_lowercase()
    } else {
        p.to_string()
    }
}

/// What a facilitator needs of its store.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Claims `record.key` for `record.owner` until `record.lease_until`: the
    /// record is written (state `claimed`) if there is none, or if the one
    /// there is a claim whose lease has passed at `now` (its holder is gone
    /// before sending anything; a nonce it took is given back); else the
    /// record there is answered.
    async fn claim(&self, record: &Record, now: u64) -> Result<Claim, StoreError>;

    /// The record of `key`.
    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError>;

    /// Writes that `owner` signed `sent` (SentTransaction JSON) with account
    /// `signer` at `nonce`, before sending it: state `sent`. Answers `false`
    /// (and writes nothing) if `owner` no longer holds the record.
    async fn record_sent(
        &self,
        key: &str,
        owner: &str,
        signer: &str,
        nonce: u64,
        sent: &str,
        now: u64,
    ) -> Result<bool, StoreError>;

    /// Writes the final result (state `done`).
    async fn finish(&self, key: &str, result: &str, now: u64) -> Result<(), StoreError>;

    /// Removes a claim of `owner` that sent nothing (the payment was refused,
    /// or the request stopped before sending), so the payment can be
    /// presented again; a nonce it took is given back.
    async fn release(&self, key: &str, owner: &str) -> Result<(), StoreError>;

    /// Removes a `sent` record of `owner` whose transaction the node refused
    /// outright (it was never broadcast: "insufficient funds", say), so the
    /// payment can be presented again, and gives its nonce back. Does nothing
    /// once another holder took the record over.
    async fn withdraw(&self, key: &str, owner: &str) -> Result<(), StoreError>;

    /// Takes the lease of a `sent` record for `owner` until `until` (to
    /// replace or resend its transaction) if it is free at `now` or already
    /// `owner`'s.
    async fn lease(&self, key: &str, owner: &str, until: u64, now: u64)
    -> Result<bool, StoreError>;

    /// Every record in state `sent` (settlements whose outcome the chain
    /// holds), oldest first.
    async fn in_flight(&self) -> Result<Vec<Record>, StoreError>;

    /// Claims whose lease passed at `now` (their holders stopped before
    /// sending anything), for [`Store::release`].
    async fn expired_claims(&self, now: u64) -> Result<Vec<Record>, StoreError>;

    /// The next nonce of `signer` on chain `chain_id` for a new transaction:
    /// the lowest nonce released earlier, else the next one after every
    /// nonce handed out, at least `chain_pending` (the node's pending count,
    /// which counts transactions sent from elsewhere). With a `holder`, the
    /// nonce is written into its claim in the same transaction, and none is
    /// handed out if the claim is no longer its.
    async fn next_nonce(
        &self,
        chain_id: u64,
        signer: &str,
        chain_pending: u64,
        holder: Option<Holder<'_>>,
    ) -> Result<u64, StoreError>;

    /// Gives back a nonce handed out for a transaction that was never sent.
    async fn release_nonce(
        &self,
        chain_id: u64,
        signer: &str,
        nonce: u64,
    ) -> Result<(), StoreError>;

    /// The nonces released and not handed out again: gaps that hold back
    /// later transactions until something is sent at them.
    async fn released_nonces(&self, chain_id: u64, signer: &str) -> Result<Vec<u64>, StoreError>;

    /// Writes a catalog entry, replacing the one of the same key.
    async fn catalog_put(&self, entry: &CatalogEntry) -> Result<(), StoreError>;

    /// The entries `query` selects (a page of them), and how many it selects
    /// in all.
    async fn catalog_list(
        &self,
        query: &CatalogQuery,
    ) -> Result<(Vec<CatalogEntry>, u64), StoreError>;
}

/// Opens the store a configuration names (`sqlite://PATH`, `postgres://...`).
///
/// # Errors
/// When it cannot be opened or its tables created.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        Ok(Arc::new(SqliteStore::open(std::path::Path::new(path))?))
    } else if url.starts_with("postgres://") {
        Ok(Arc::new(PostgresStore::connect(url).await?))
    } else {
        Err(StoreError(format!(
            "unknown store {url:?}: sqlite://PATH or postgres://..."
        )))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! The behaviour every store must have, run against each.
    #![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;

    pub(crate) fn record(key: &str, owner: &str, lease_until: u64) -> Record {
        Record {
            key: key.into(),
            fingerprint: "f".into(),
            request: "{}".into(),
            state: State::Claimed,
            owner: owner.into(),
            lease_until,
            signer: None,
            nonce: None,
            sent: Vec::new(),
            result: None,
            network: "eip155:84532".into(),
            payer: "0x1".into(),
            amount: "10".into(),
            created: 100,
            updated: 100,
        }
    }

    pub(crate) async fn exercise(s: &dyn Store) {
        // Claims: one holder; a live claim is answered; an expired one taken over.
        assert_eq!(
            s.claim(&record("k", "a", 200), 100).await.unwrap(),
            Claim::Claimed
        );
        match s.claim(&record("k", "b", 300), 150).await.unwrap() {
            Claim::Existing(r) => assert_eq!((r.owner.as_str(), r.state), ("a", State::Claimed)),
            Claim::Claimed => panic!("a live claim was taken"),
        }
        assert_eq!(
            s.claim(&record("k", "b", 400), 250).await.unwrap(),
            Claim::Claimed
        );
        // The old holder lost it: it cannot record a send.
        assert!(
            !s.record_sent("k", "a", "0xs", 7, "{\"hash\":1}", 260)
                .await
                .unwrap()
        );
        assert!(
            s.record_sent("k", "b", "0xs", 7, "{\"hash\":1}", 260)
                .await
                .unwrap()
        );
        let r = s.get("k").await.unwrap().unwrap();
        assert_eq!((r.state, r.nonce, r.sent.len()), (State::Sent, Some(7), 1));
        // A sent record is never taken over by a claim, whatever its lease.
        assert!(matches!(
            s.claim(&record("k", "c", 900), 10_000).await.unwrap(),
            Claim::Existing(_)
        ));
        // A replacement adds its transaction.
        assert!(
            s.record_sent("k", "b", "0xs", 7, "{\"hash\":2}", 270)
                .await
                .unwrap()
        );
        assert_eq!(s.get("k").await.unwrap().unwrap().sent.len(), 2);
        assert_eq!(s.in_flight().await.unwrap().len(), 1);
        // Leases of sent records.
        // The sender holds it until its claim's lease ends (400).
        assert!(!s.lease("k", "w1", 500, 300).await.unwrap());
        assert!(s.lease("k", "b", 500, 300).await.unwrap());
        assert!(s.lease("k", "w1", 600, 500).await.unwrap());
        assert!(!s.lease("k", "w2", 700, 550).await.unwrap());
        assert!(s.lease("k", "w2", 700, 600).await.unwrap());
        s.finish("k", "{\"success\":true}", 300).await.unwrap();
        let r = s.get("k").await.unwrap().unwrap();
        assert_eq!(
            (r.state, r.result.as_deref()),
            (State::Done, Some("{\"success\":true}"))
        );
        assert!(s.in_flight().await.unwrap().is_empty());
        // Withdraw: only the holder's sent record.
        assert_eq!(
            s.claim(&record("w", "a", 200), 100).await.unwrap(),
            Claim::Claimed
        );
        assert!(
            s.record_sent("w", "a", "0xs", 9, "{\"hash\":3}", 110)
                .await
                .unwrap()
        );
        s.withdraw("w", "z").await.unwrap();
        assert!(s.get("w").await.unwrap().is_some());
        s.withdraw("w", "a").await.unwrap();
        assert!(s.get("w").await.unwrap().is_none());
        // Release: only the holder's claim that sent nothing.
        assert_eq!(
            s.claim(&record("r", "a", 200), 100).await.unwrap(),
            Claim::Claimed
        );
        s.release("r", "z").await.unwrap();
        assert!(s.get("r").await.unwrap().is_some());
        s.release("r", "a").await.unwrap();
        assert!(s.get("r").await.unwrap().is_none());
        // Nonces: consecutive, at least the chain's, released ones first.
        assert_eq!(s.next_nonce(1, "0xs", 5, None).await.unwrap(), 5);
        assert_eq!(s.next_nonce(1, "0xs", 5, None).await.unwrap(), 6);
        assert_eq!(s.next_nonce(1, "0xs", 0, None).await.unwrap(), 7);
        s.release_nonce(1, "0xs", 6).await.unwrap();
        assert_eq!(s.released_nonces(1, "0xs").await.unwrap(), vec![6]);
        assert_eq!(s.next_nonce(1, "0xs", 0, None).await.unwrap(), 6);
        assert_eq!(s.next_nonce(1, "0xs", 0, None).await.unwrap(), 8);
        // Transactions from elsewhere moved the chain on.
        assert_eq!(s.next_nonce(1, "0xs", 20, None).await.unwrap(), 20);
        // Another chain, another signer: their own counters.
        assert_eq!(s.next_nonce(2, "0xs", 0, None).await.unwrap(), 0);
        assert_eq!(s.next_nonce(1, "0xt", 3, None).await.unwrap(), 3);

        // A nonce taken for a claim lives in it, and comes back with it.
        let held = |key, owner| Some(Holder { key, owner });
        let chain = chain_id_of("eip155:84532").unwrap();
        assert_eq!(
            s.claim(&record("h", "a", 200), 100).await.unwrap(),
            Claim::Claimed
        );
        assert!(
            s.next_nonce(chain, "0xh", 0, held("h", "z")).await.is_err(),
            "not z's claim"
        );
        assert_eq!(
            s.next_nonce(chain, "0xh", 0, held("h", "a")).await.unwrap(),
            0
        );
        let r = s.get("h").await.unwrap().unwrap();
        assert_eq!((r.signer.as_deref(), r.nonce), (Some("0xh"), Some(0)));
        s.release("h", "a").await.unwrap();
        assert_eq!(s.released_nonces(chain, "0xh").await.unwrap(), vec![0]);
        // Abandoned (its lease passed): listed, and taken over with the nonce given back.
        assert_eq!(
            s.claim(&record("h", "a", 200), 100).await.unwrap(),
            Claim::Claimed
        );
        assert_eq!(
            s.next_nonce(chain, "0xh", 0, held("h", "a")).await.unwrap(),
            0
        );
        assert_eq!(s.next_nonce(chain, "0xh", 0, None).await.unwrap(), 1);
        assert!(s.expired_claims(150).await.unwrap().is_empty());
        assert_eq!(s.expired_claims(250).await.unwrap().len(), 1);
        assert_eq!(
            s.claim(&record("h", "b", 400), 250).await.unwrap(),
            Claim::Claimed
        );
        assert_eq!(s.released_nonces(chain, "0xh").await.unwrap(), vec![0]);
        assert_eq!(s.get("h").await.unwrap().unwrap().nonce, None);
        // Withdrawn after a refused broadcast: the nonce comes back too.
        assert_eq!(
            s.next_nonce(chain, "0xh", 0, held("h", "b")).await.unwrap(),
            0
        );
        assert!(
            s.record_sent("h", "b", "0xh", 0, "{\"hash\":4}", 260)
                .await
                .unwrap()
        );
        s.withdraw("h", "b").await.unwrap();
        assert!(s.get("h").await.unwrap().is_none());
        assert_eq!(s.released_nonces(chain, "0xh").await.unwrap(), vec![0]);
    }

    pub(crate) fn entry(key: &str, kind: &str, pay_to: &str, updated: u64) -> CatalogEntry {
        CatalogEntry {
            key: key.into(),
            resource: key.split(' ').next().unwrap().into(),
            kind: kind.into(),
            x402_version: 2,
            accepts: "[]".into(),
            pay_to: pay_to.into(),
            scheme: "exact".into(),
            network: "eip155:84532".into(),
            extension_keys: ",bazaar,".into(),
            description: Some("d".into()),
            mime_type: None,
            service_name: None,
            tags: Some("[\"t\"]".into()),
            icon_url: None,
            extensions: "{}".into(),
            updated,
        }
    }

    /// The catalog: replaced by key, filtered, newest first, paged.
    pub(crate) async fn exercise_catalog(s: &dyn Store) {
        let all = |limit| CatalogQuery {
            limit,
            ..CatalogQuery::default()
        };
        assert_eq!(s.catalog_list(&all(10)).await.unwrap(), (vec![], 0));
        s.catalog_put(&entry("https://a/x", "http", "0xAb", 10))
            .await
            .unwrap();
        s.catalog_put(&entry("https://a/mcp t1", "mcp", "0xab", 20))
            .await
            .unwrap();
        s.catalog_put(&entry("https://a/mcp t2", "mcp", "Sol1", 30))
            .await
            .unwrap();
        let mut newer = entry("https://a/x", "http", "0xAb", 40);
        newer.description = None;
        newer.extension_keys = ",bazaar,payment-identifier,".into();
        s.catalog_put(&newer).await.unwrap();
        let (items, total) = s.catalog_list(&all(10)).await.unwrap();
        assert_eq!(total, 3);
        let mut want = newer.clone();
        want.pay_to = "0xab".into();
        assert_eq!(items[0], want);
        assert_eq!(
            items.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
            ["https://a/x", "https://a/mcp t2", "https://a/mcp t1"]
        );
        let (page, total) = s
            .catalog_list(&CatalogQuery {
                limit: 1,
                offset: 1,
                ..CatalogQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(
            (page.len(), page[0].key.as_str(), total),
            (1, "https://a/mcp t2", 3)
        );
        let count = |q: CatalogQuery| async move {
            s.catalog_list(&CatalogQuery { limit: 10, ..q })
                .await
                .unwrap()
                .1
        };
        assert_eq!(
            count(CatalogQuery {
                kind: Some("mcp".into()),
                ..all(0)
            })
            .await,
            2
        );
        assert_eq!(
            count(CatalogQuery {
                pay_to: Some("0xAB".into()),
                ..all(0)
            })
            .await,
            2
        );
        assert_eq!(
            count(CatalogQuery {
                pay_to: Some("sol1".into()),
                ..all(0)
            })
            .await,
            0
        );
        assert_eq!(
            count(CatalogQuery {
                scheme: Some("upto".into()),
                ..all(0)
            })
            .await,
            0
        );
        assert_eq!(
            count(CatalogQuery {
                network: Some("eip155:84532".into()),
                ..all(0)
            })
            .await,
            3
        );
        assert_eq!(
            count(CatalogQuery {
                extension: Some("payment-identifier".into()),
                ..all(0)
            })
            .await,
            1
        );
        assert_eq!(
            count(CatalogQuery {
                extension: Some("bazaar,payment".into()),
                ..all(0)
            })
            .await,
            0
        );
        assert_eq!(
            count(CatalogQuery {
                extension: Some("%".into()),
                ..all(0)
            })
            .await,
            0
        );
    }

    /// Nonces under concurrency: `stores` share one database (two instances,
    /// in effect); tasks take nonces from either, and some give theirs back
    /// (a transaction that never left). Whatever the interleaving, no nonce
    /// is held twice, and the held ones with those given back fill
    /// `0..n` without a gap: the next takers get the given-back ones first.
    pub(crate) async fn exercise_concurrent_nonces(
        [first, second]: [Arc<dyn Store>; 2],
        signer: &str,
    ) {
        let mut tasks = Vec::new();
        for i in 0..60u64 {
            let s = Arc::clone(if i % 2 == 0 { &first } else { &second });
            let signer = signer.to_owned();
            tasks.push(tokio::spawn(async move {
                let n = s.next_nonce(7, &signer, 0, None).await.unwrap();
                // Every third gives its nonce back, after a pause of its own.
                if i % 3 == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(i % 7)).await;
                    s.release_nonce(7, &signer, n).await.unwrap();
                    None
                } else {
                    Some(n)
                }
            }));
        }
        let mut held = Vec::new();
        for t in tasks {
            held.extend(t.await.unwrap());
        }
        let mut given_back = first.released_nonces(7, signer).await.unwrap();
        let mut all = held.clone();
        all.append(&mut given_back.clone());
        all.sort_unstable();
        let top = all.last().copied().unwrap_or(0);
        assert_eq!(
            all,
            (0..=top).collect::<Vec<u64>>(),
            "held {held:?}, given back {given_back:?}"
        );
        // The given-back nonces are handed out again, lowest first, then new ones.
        given_back.sort_unstable();
        for want in given_back.iter().copied().chain([top + 1]) {
            assert_eq!(second.next_nonce(7, signer, 0, None).await.unwrap(), want);
        }
    }
}
