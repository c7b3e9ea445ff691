//! The store in a SQLite file: WAL, full sync on every commit (a record
//! written before a transaction leaves survives a crash), and `BEGIN
//! IMMEDIATE` around every read-then-write, so that processes sharing the file
//! see each change whole.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    CatalogEntry, CatalogQuery, Claim, Holder, Record, State, Store, StoreError, chain_id_of,
    pay_to_key,
};

/// A SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS paywire_settlements (
    key TEXT PRIMARY KEY NOT NULL,
    fingerprint TEXT NOT NULL,
    request TEXT NOT NULL,
    state TEXT NOT NULL,
    owner TEXT NOT NULL,
    lease_until INTEGER NOT NULL,
    signer TEXT,
    nonce INTEGER,
    sent TEXT NOT NULL,
    result TEXT,
    network TEXT NOT NULL,
    payer TEXT NOT NULL,
    amount TEXT NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS paywire_settlements_state ON paywire_settlements (state, created);
CREATE TABLE IF NOT EXISTS paywire_nonces (
    chain_id INTEGER NOT NULL,
    signer TEXT NOT NULL,
    next INTEGER NOT NULL,
    PRIMARY KEY (chain_id, signer)
);
CREATE TABLE IF NOT EXISTS paywire_released_nonces (
    chain_id INTEGER NOT NULL,
    signer TEXT NOT NULL,
    nonce INTEGER NOT NULL,
    PRIMARY KEY (chain_id, signer, nonce)
);
CREATE TABLE IF NOT EXISTS paywire_catalog (
    key TEXT PRIMARY KEY NOT NULL,
    resource TEXT NOT NULL,
    kind TEXT NOT NULL,
    x402_version INTEGER NOT NULL,
    accepts TEXT NOT NULL,
    pay_to TEXT NOT NULL,
    scheme TEXT NOT NULL,
    network TEXT NOT NULL,
    extension_keys TEXT NOT NULL,
    description TEXT,
    mime_type TEXT,
    service_name TEXT,
    tags TEXT,
    icon_url TEXT,
    extensions TEXT NOT NULL,
    updated INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS paywire_catalog_updated ON paywire_catalog (updated DESC, key);
";

const CATALOG_COLUMNS: &str = "key, resource, kind, x402_version, accepts, pay_to, scheme, network, extension_keys, description, mime_type, service_name, tags, icon_url, extensions, updated";

fn catalog_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CatalogEntry> {
    Ok(CatalogEntry {
        key: r.get(0)?,
        resource: r.get(1)?,
        kind: r.get(2)?,
        x402_version: uint(r.get(3)?),
        accepts: r.get(4)?,
        pay_to: r.get(5)?,
        scheme: r.get(6)?,
        network: r.get(7)?,
        extension_keys: r.get(8)?,
        description: r.get(9)?,
        mime_type: r.get(10)?,
        service_name: r.get(11)?,
        tags: r.get(12)?,
        icon_url: r.get(13)?,
        extensions: r.get(14)?,
        updated: uint(r.get(15)?),
    })
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError(e.to_string())
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

const COLUMNS: &str = "key, fingerprint, request, state, owner, lease_until, signer, nonce, sent, result, network, payer, amount, created, updated";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    let state: String = r.get(3)?;
    let sent: String = r.get(8)?;
    Ok(Record {
        key: r.get(0)?,
        fingerprint: r.get(1)?,
        request: r.get(2)?,
        state: State::parse(&state).unwrap_or(State::Done),
        owner: r.get(4)?,
        lease_until: uint(r.get(5)?),
        signer: r.get(6)?,
        nonce: r.get::<_, Option<i64>>(7)?.map(uint),
        sent: serde_json::from_str(&sent).unwrap_or_default(),
        result: r.get(9)?,
        network: r.get(10)?,
        payer: r.get(11)?,
        amount: r.get(12)?,
        created: uint(r.get(13)?),
        updated: uint(r.get(14)?),
    })
}

impl SqliteStore {
    /// Opens (creating if needed) the file.
    ///
    /// # Errors
    /// When it cannot be opened or its tables created.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` on the connection, off the async threads.
    async fn with<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut c = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut c)
        })
        .await
        .map_err(|e| StoreError(format!("store task: {e}")))?
    }
}

fn get(c: &Connection, key: &str) -> Result<Option<Record>, StoreError> {
    c.query_row(
        &format!("SELECT {COLUMNS} FROM paywire_settlements WHERE key = ?1"),
        params![key],
        row,
    )
    .optional()
    .map_err(db)
}

/// Gives back the nonce a record took, if any (within the caller's transaction).
fn free_nonce(c: &Connection, r: &Record) -> Result<(), StoreError> {
    if let (Some(signer), Some(nonce), Some(chain)) = (&r.signer, r.nonce, chain_id_of(&r.network))
    {
        c.execute(
            "INSERT OR IGNORE INTO paywire_released_nonces (chain_id, signer, nonce) VALUES (?1, ?2, ?3)",
            params![int(chain), signer, int(nonce)],
        )
        .map_err(db)?;
    }
    Ok(())
}

/// Removes `key` if `owner` holds it in `state`, giving its nonce back.
fn remove_held(c: &mut Connection, key: &str, owner: &str, state: State) -> Result<(), StoreError> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    let Some(r) = get(&tx, key)? else {
        return Ok(());
    };
    if r.owner != owner || r.state != state {
        return Ok(());
    }
    free_nonce(&tx, &r)?;
    tx.execute(
        "DELETE FROM paywire_settlements WHERE key = ?1",
        params![key],
    )
    .map_err(db)?;
    tx.commit().map_err(db)
}

#[async_trait]
impl Store for SqliteStore {
    async fn claim(&self, record: &Record, now: u64) -> Result<Claim, StoreError> {
        let r = record.clone();
        self.with(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let existing = get(&tx, &r.key)?;
            let take = match &existing {
                None => true,
                Some(e) => e.state == State::Claimed && e.lease_until <= now,
            };
            if !take {
                return Ok(Claim::Existing(Box::new(existing.unwrap_or_else(|| r.clone()))));
            }
            if let Some(abandoned) = &existing {
                free_nonce(&tx, abandoned)?;
            }
            tx.execute(
                &format!(
                    "INSERT OR REPLACE INTO paywire_settlements ({COLUMNS}) \
                     VALUES (?1, ?2, ?3, 'claimed', ?4, ?5, NULL, NULL, '[]', NULL, ?6, ?7, ?8, ?9, ?9)"
                ),
                params![
                    r.key,
                    r.fingerprint,
                    r.request,
                    r.owner,
                    int(r.lease_until),
                    r.network,
                    r.payer,
                    r.amount,
                    int(now)
                ],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(Claim::Claimed)
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
        let key = key.to_owned();
        self.with(move |c| get(c, &key)).await
    }

    async fn record_sent(
        &self,
        key: &str,
        owner: &str,
        signer: &str,
        nonce: u64,
        sent: &str,
        now: u64,
    ) -> Result<bool, StoreError> {
        let (key, owner, signer, sent) = (
            key.to_owned(),
            owner.to_owned(),
            signer.to_owned(),
            sent.to_owned(),
        );
        self.with(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let Some(r) = get(&tx, &key)? else {
                return Ok(false);
            };
            if r.owner != owner || r.state == State::Done {
                return Ok(false);
            }
            let mut list = r.sent;
            list.push(sent);
            let list = serde_json::to_string(&list).map_err(|e| StoreError(e.to_string()))?;
            tx.execute(
                "UPDATE paywire_settlements SET state = 'sent', signer = ?2, nonce = ?3, sent = ?4, updated = ?5 WHERE key = ?1",
                params![key, signer, int(nonce), list, int(now)],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(true)
        })
        .await
    }

    async fn finish(&self, key: &str, result: &str, now: u64) -> Result<(), StoreError> {
        let (key, result) = (key.to_owned(), result.to_owned());
        self.with(move |c| {
            c.execute(
                "UPDATE paywire_settlements SET state = 'done', result = ?2, updated = ?3 WHERE key = ?1",
                params![key, result, int(now)],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn release(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        let (key, owner) = (key.to_owned(), owner.to_owned());
        self.with(move |c| remove_held(c, &key, &owner, State::Claimed))
            .await
    }

    async fn withdraw(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        let (key, owner) = (key.to_owned(), owner.to_owned());
        self.with(move |c| remove_held(c, &key, &owner, State::Sent))
            .await
    }

    async fn lease(
        &self,
        key: &str,
        owner: &str,
        until: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let (key, owner) = (key.to_owned(), owner.to_owned());
        self.with(move |c| {
            let n = c
                .execute(
                    "UPDATE paywire_settlements SET owner = ?2, lease_until = ?3 \
                     WHERE key = ?1 AND state = 'sent' AND (owner = ?2 OR lease_until <= ?4)",
                    params![key, owner, int(until), int(now)],
                )
                .map_err(db)?;
            Ok(n == 1)
        })
        .await
    }

    async fn in_flight(&self) -> Result<Vec<Record>, StoreError> {
        self.with(|c| {
            let mut stmt = c
                .prepare(&format!(
                    "SELECT {COLUMNS} FROM paywire_settlements WHERE state = 'sent' ORDER BY created"
                ))
                .map_err(db)?;
            let rows = stmt.query_map([], row).map_err(db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db)
        })
        .await
    }

    async fn expired_claims(&self, now: u64) -> Result<Vec<Record>, StoreError> {
        self.with(move |c| {
            let mut stmt = c
                .prepare(&format!(
                    "SELECT {COLUMNS} FROM paywire_settlements WHERE state = 'claimed' AND lease_until <= ?1"
                ))
                .map_err(db)?;
            let rows = stmt.query_map(params![int(now)], row).map_err(db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db)
        })
        .await
    }

    async fn next_nonce(
        &self,
        chain_id: u64,
        signer: &str,
        chain_pending: u64,
        holder: Option<Holder<'_>>,
    ) -> Result<u64, StoreError> {
        let signer = signer.to_owned();
        let holder = holder.map(|h| (h.key.to_owned(), h.owner.to_owned()));
        self.with(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            if let Some((key, owner)) = &holder {
                let held = get(&tx, key)?.is_some_and(|r| &r.owner == owner && r.state == State::Claimed);
                if !held {
                    return Err(StoreError("the payment's claim was lost".into()));
                }
            }
            // Released nonces the chain has moved past are gone.
            tx.execute(
                "DELETE FROM paywire_released_nonces WHERE chain_id = ?1 AND signer = ?2 AND nonce < ?3",
                params![int(chain_id), signer, int(chain_pending)],
            )
            .map_err(db)?;
            let released: Option<i64> = tx
                .query_row(
                    "SELECT MIN(nonce) FROM paywire_released_nonces WHERE chain_id = ?1 AND signer = ?2",
                    params![int(chain_id), signer],
                    |r| r.get(0),
                )
                .map_err(db)?;
            let nonce = if let Some(n) = released {
                tx.execute(
                    "DELETE FROM paywire_released_nonces WHERE chain_id = ?1 AND signer = ?2 AND nonce = ?3",
                    params![int(chain_id), signer, n],
                )
                .map_err(db)?;
                uint(n)
            } else {
                let next: Option<i64> = tx
                    .query_row(
                        "SELECT next FROM paywire_nonces WHERE chain_id = ?1 AND signer = ?2",
                        params![int(chain_id), signer],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db)?;
                let n = next.map(uint).unwrap_or(0).max(chain_pending);
                tx.execute(
                    "INSERT INTO paywire_nonces (chain_id, signer, next) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (chain_id, signer) DO UPDATE SET next = ?3",
                    params![int(chain_id), signer, int(n.saturating_add(1))],
                )
                .map_err(db)?;
                n
            };
            if let Some((key, _)) = &holder {
                tx.execute(
                    "UPDATE paywire_settlements SET signer = ?2, nonce = ?3 WHERE key = ?1",
                    params![key, signer, int(nonce)],
                )
                .map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(nonce)
        })
        .await
    }

    async fn release_nonce(
        &self,
        chain_id: u64,
        signer: &str,
        nonce: u64,
    ) -> Result<(), StoreError> {
        let signer = signer.to_owned();
        self.with(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO paywire_released_nonces (chain_id, signer, nonce) VALUES (?1, ?2, ?3)",
                params![int(chain_id), signer, int(nonce)],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn released_nonces(&self, chain_id: u64, signer: &str) -> Result<Vec<u64>, StoreError> {
        let signer = signer.to_owned();
        self.with(move |c| {
            let mut stmt = c
                .prepare(
                    "SELECT nonce FROM paywire_released_nonces WHERE chain_id = ?1 AND signer = ?2 ORDER BY nonce",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map(params![int(chain_id), signer], |r| r.get::<_, i64>(0))
                .map_err(db)?;
            rows.map(|r| r.map(uint))
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)
        })
        .await
    }

    async fn catalog_put(&self, e: &CatalogEntry) -> Result<(), StoreError> {
        let e = e.clone();
        self.with(move |c| {
            c.execute(
                &format!(
                    "INSERT OR REPLACE INTO paywire_catalog ({CATALOG_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
                ),
                params![
                    e.key,
                    e.resource,
                    e.kind,
                    int(e.x402_version),
                    e.accepts,
                    pay_to_key(&e.pay_to),
                    e.scheme,
                    e.network,
                    e.extension_keys,
                    e.description,
                    e.mime_type,
                    e.service_name,
                    e.tags,
                    e.icon_url,
                    e.extensions,
                    int(e.updated),
                ],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn catalog_list(&self, q: &CatalogQuery) -> Result<(Vec<CatalogEntry>, u64), StoreError> {
        if q.extension.as_deref().is_some_and(|x| x.contains(',')) {
            return Ok((Vec::new(), 0));
        }
        let q = q.clone();
        self.with(move |c| {
            // A filter that is NULL holds for every row.
            let filter = "(?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR pay_to = ?2) \
                AND (?3 IS NULL OR scheme = ?3) AND (?4 IS NULL OR network = ?4) \
                AND (?5 IS NULL OR instr(extension_keys, ',' || ?5 || ',') > 0)";
            let pay_to = q.pay_to_key();
            let total: i64 = c
                .query_row(
                    &format!("SELECT count(*) FROM paywire_catalog WHERE {filter}"),
                    params![q.kind, pay_to, q.scheme, q.network, q.extension],
                    |r| r.get(0),
                )
                .map_err(db)?;
            let mut stmt = c
                .prepare(&format!(
                    "SELECT {CATALOG_COLUMNS} FROM paywire_catalog WHERE {filter} \
                     ORDER BY updated DESC, key LIMIT ?6 OFFSET ?7"
                ))
                .map_err(db)?;
            let rows = stmt
                .query_map(
                    params![
                        q.kind,
                        pay_to,
                        q.scheme,
                        q.network,
                        q.extension,
                        int(q.limit),
                        int(q.offset)
                    ],
                    catalog_row,
                )
                .map_err(db)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?;
            Ok((rows, uint(total)))
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_behaves_as_a_store_must() {
        let dir = std::env::temp_dir().join(format!("paywire-sqlite-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.db");
        let _ = std::fs::remove_file(&path);
        let s = SqliteStore::open(&path).unwrap();
        super::super::tests::exercise(&s).await;
        super::super::tests::exercise_catalog(&s).await;
        // A second connection (another process, in effect) sees it all.
        let t = SqliteStore::open(&path).unwrap();
        assert!(t.get("k").await.unwrap().is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_nonces_are_distinct_and_without_gaps() {
        let dir =
            std::env::temp_dir().join(format!("paywire-sqlite-nonces-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("n.db");
        let _ = std::fs::remove_file(&path);
        let a: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
        let b: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
        super::super::tests::exercise_concurrent_nonces([a, b], "0xs").await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
