//! The store in PostgreSQL, shared by several facilitator instances: claims
//! are one `INSERT … ON CONFLICT` or one guarded `UPDATE`, nonces are handed
//! out under a row lock (`SELECT … FOR UPDATE`), so two instances sharing a
//! signer never give two transactions one nonce nor settle one payment twice.

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::{NoTls, Row};

use super::{
    CatalogEntry, CatalogQuery, Claim, Holder, Record, State, Store, StoreError, chain_id_of,
    pay_to_key,
};

/// A PostgreSQL database.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostgresStore")
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS paywire_settlements (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    request TEXT NOT NULL,
    state TEXT NOT NULL,
    owner TEXT NOT NULL,
    lease_until BIGINT NOT NULL,
    signer TEXT,
    nonce BIGINT,
    sent TEXT NOT NULL,
    result TEXT,
    network TEXT NOT NULL,
    payer TEXT NOT NULL,
    amount TEXT NOT NULL,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS paywire_settlements_state ON paywire_settlements (state, created);
CREATE TABLE IF NOT EXISTS paywire_nonces (
    chain_id BIGINT NOT NULL,
    signer TEXT NOT NULL,
    next BIGINT NOT NULL,
    PRIMARY KEY (chain_id, signer)
);
CREATE TABLE IF NOT EXISTS paywire_released_nonces (
    chain_id BIGINT NOT NULL,
    signer TEXT NOT NULL,
    nonce BIGINT NOT NULL,
    PRIMARY KEY (chain_id, signer, nonce)
);
CREATE TABLE IF NOT EXISTS paywire_catalog (
    key TEXT PRIMARY KEY,
    resource TEXT NOT NULL,
    kind TEXT NOT NULL,
    x402_version BIGINT NOT NULL,
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
    updated BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS paywire_catalog_updated ON paywire_catalog (updated DESC, key);
";

const CATALOG_COLUMNS: &str = "key, resource, kind, x402_version, accepts, pay_to, scheme, network, extension_keys, description, mime_type, service_name, tags, icon_url, extensions, updated";

fn catalog_entry(r: &Row) -> Result<CatalogEntry, StoreError> {
    Ok(CatalogEntry {
        key: r.try_get(0).map_err(db)?,
        resource: r.try_get(1).map_err(db)?,
        kind: r.try_get(2).map_err(db)?,
        x402_version: uint(r.try_get(3).map_err(db)?),
        accepts: r.try_get(4).map_err(db)?,
        pay_to: r.try_get(5).map_err(db)?,
        scheme: r.try_get(6).map_err(db)?,
        network: r.try_get(7).map_err(db)?,
        extension_keys: r.try_get(8).map_err(db)?,
        description: r.try_get(9).map_err(db)?,
        mime_type: r.try_get(10).map_err(db)?,
        service_name: r.try_get(11).map_err(db)?,
        tags: r.try_get(12).map_err(db)?,
        icon_url: r.try_get(13).map_err(db)?,
        extensions: r.try_get(14).map_err(db)?,
        updated: uint(r.try_get(15).map_err(db)?),
    })
}

const COLUMNS: &str = "key, fingerprint, request, state, owner, lease_until, signer, nonce, sent, result, network, payer, amount, created, updated";

fn db(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn record(r: &Row) -> Result<Record, StoreError> {
    let state: String = r.try_get(3).map_err(db)?;
    let sent: String = r.try_get(8).map_err(db)?;
    Ok(Record {
        key: r.try_get(0).map_err(db)?,
        fingerprint: r.try_get(1).map_err(db)?,
        request: r.try_get(2).map_err(db)?,
        state: State::parse(&state).unwrap_or(State::Done),
        owner: r.try_get(4).map_err(db)?,
        lease_until: uint(r.try_get(5).map_err(db)?),
        signer: r.try_get(6).map_err(db)?,
        nonce: r.try_get::<_, Option<i64>>(7).map_err(db)?.map(uint),
        sent: serde_json::from_str(&sent).unwrap_or_default(),
        result: r.try_get(9).map_err(db)?,
        network: r.try_get(10).map_err(db)?,
        payer: r.try_get(11).map_err(db)?,
        amount: r.try_get(12).map_err(db)?,
        created: uint(r.try_get(13).map_err(db)?),
        updated: uint(r.try_get(14).map_err(db)?),
    })
}

impl PostgresStore {
    /// Connects (a pool of up to 16 connections) and creates the tables.
    ///
    /// # Errors
    /// When the database cannot be reached or the tables created.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let config: tokio_postgres::Config = url.parse().map_err(db)?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager).max_size(16).build().map_err(db)?;
        let client = pool.get().await.map_err(db)?;
        // Two instances starting at once both create the tables: serialise.
        client
            .batch_execute(&format!(
                "SELECT pg_advisory_lock(40240402); {SCHEMA} SELECT pg_advisory_unlock(40240402);"
            ))
            .await
            .map_err(db)?;
        Ok(PostgresStore { pool })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(db)
    }
}

/// Gives back the nonce a record took, if any (within the caller's transaction).
async fn free_nonce(tx: &deadpool_postgres::Transaction<'_>, r: &Record) -> Result<(), StoreError> {
    if let (Some(signer), Some(nonce), Some(chain)) = (&r.signer, r.nonce, chain_id_of(&r.network))
    {
        tx.execute(
            "INSERT INTO paywire_released_nonces (chain_id, signer, nonce) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&int(chain), signer, &int(nonce)],
        )
        .await
        .map_err(db)?;
    }
    Ok(())
}

impl PostgresStore {
    /// Removes `key` if `owner` holds it in `state`, giving its nonce back.
    async fn remove_held(&self, key: &str, owner: &str, state: State) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let row = tx
            .query_opt(
                &format!("SELECT {COLUMNS} FROM paywire_settlements WHERE key = $1 FOR UPDATE"),
                &[&key],
            )
            .await
            .map_err(db)?;
        let Some(r) = row.as_ref().map(record).transpose()? else {
            return Ok(());
        };
        if r.owner != owner || r.state != state {
            return Ok(());
        }
        free_nonce(&tx, &r).await?;
        tx.execute("DELETE FROM paywire_settlements WHERE key = $1", &[&key])
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn claim(&self, r: &Record, now: u64) -> Result<Claim, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 9] = [
            &r.key,
            &r.fingerprint,
            &r.request,
            &r.owner,
            &int(r.lease_until),
            &r.network,
            &r.payer,
            &r.amount,
            &int(now),
        ];
        let inserted = tx
            .query_opt(
                &format!(
                    "INSERT INTO paywire_settlements ({COLUMNS}) \
                     VALUES ($1, $2, $3, 'claimed', $4, $5, NULL, NULL, '[]', NULL, $6, $7, $8, $9, $9) \
                     ON CONFLICT (key) DO NOTHING RETURNING key"
                ),
                &params,
            )
            .await
            .map_err(db)?;
        if inserted.is_some() {
            tx.commit().await.map_err(db)?;
            return Ok(Claim::Claimed);
        }
        let existing = tx
            .query_opt(
                &format!("SELECT {COLUMNS} FROM paywire_settlements WHERE key = $1 FOR UPDATE"),
                &[&r.key],
            )
            .await
            .map_err(db)?;
        let Some(existing) = existing.as_ref().map(record).transpose()? else {
            // Released between the two statements: try once more.
            drop(tx);
            return Box::pin(self.claim(r, now)).await;
        };
        if existing.state != State::Claimed || existing.lease_until > now {
            return Ok(Claim::Existing(Box::new(existing)));
        }
        // Abandoned before sending anything: taken over, its nonce given back.
        free_nonce(&tx, &existing).await?;
        tx.execute(
            "UPDATE paywire_settlements SET fingerprint = $2, request = $3, owner = $4, lease_until = $5, \
               signer = NULL, nonce = NULL, sent = '[]', network = $6, payer = $7, amount = $8, updated = $9 \
             WHERE key = $1",
            &params,
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Claim::Claimed)
    }

    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                &format!("SELECT {COLUMNS} FROM paywire_settlements WHERE key = $1"),
                &[&key],
            )
            .await
            .map_err(db)?;
        row.as_ref().map(record).transpose()
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
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let row = tx
            .query_opt(
                "SELECT owner, state, sent FROM paywire_settlements WHERE key = $1 FOR UPDATE",
                &[&key],
            )
            .await
            .map_err(db)?;
        let Some(row) = row else {
            return Ok(false);
        };
        let holder: String = row.try_get(0).map_err(db)?;
        let state: String = row.try_get(1).map_err(db)?;
        if holder != owner || state == "done" {
            return Ok(false);
        }
        let mut list: Vec<String> =
            serde_json::from_str(&row.try_get::<_, String>(2).map_err(db)?).unwrap_or_default();
        list.push(sent.to_owned());
        let list = serde_json::to_string(&list).map_err(db)?;
        tx.execute(
            "UPDATE paywire_settlements SET state = 'sent', signer = $2, nonce = $3, sent = $4, updated = $5 WHERE key = $1",
            &[&key, &signer, &int(nonce), &list, &int(now)],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn finish(&self, key: &str, result: &str, now: u64) -> Result<(), StoreError> {
        let c = self.client().await?;
        c.execute(
            "UPDATE paywire_settlements SET state = 'done', result = $2, updated = $3 WHERE key = $1",
            &[&key, &result, &int(now)],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn release(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        self.remove_held(key, owner, State::Claimed).await
    }

    async fn withdraw(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        self.remove_held(key, owner, State::Sent).await
    }

    async fn lease(
        &self,
        key: &str,
        owner: &str,
        until: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let c = self.client().await?;
        let n = c
            .execute(
                "UPDATE paywire_settlements SET owner = $2, lease_until = $3 \
                 WHERE key = $1 AND state = 'sent' AND (owner = $2 OR lease_until <= $4)",
                &[&key, &owner, &int(until), &int(now)],
            )
            .await
            .map_err(db)?;
        Ok(n == 1)
    }

    async fn in_flight(&self) -> Result<Vec<Record>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM paywire_settlements WHERE state = 'sent' ORDER BY created"
                ),
                &[],
            )
            .await
            .map_err(db)?;
        rows.iter().map(record).collect()
    }

    async fn expired_claims(&self, now: u64) -> Result<Vec<Record>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM paywire_settlements WHERE state = 'claimed' AND lease_until <= $1"
                ),
                &[&int(now)],
            )
            .await
            .map_err(db)?;
        rows.iter().map(record).collect()
    }

    async fn next_nonce(
        &self,
        chain_id: u64,
        signer: &str,
        chain_pending: u64,
        holder: Option<Holder<'_>>,
    ) -> Result<u64, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let chain = int(chain_id);
        if let Some(h) = holder {
            let held = tx
                .query_opt(
                    "SELECT 1 FROM paywire_settlements WHERE key = $1 AND owner = $2 AND state = 'claimed' FOR UPDATE",
                    &[&h.key, &h.owner],
                )
                .await
                .map_err(db)?;
            if held.is_none() {
                return Err(StoreError("the payment's claim was lost".into()));
            }
        }
        // The counter's row, locked for this transaction (created if new).
        tx.execute(
            "INSERT INTO paywire_nonces (chain_id, signer, next) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING",
            &[&chain, &signer],
        )
        .await
        .map_err(db)?;
        let next: i64 = tx
            .query_one(
                "SELECT next FROM paywire_nonces WHERE chain_id = $1 AND signer = $2 FOR UPDATE",
                &[&chain, &signer],
            )
            .await
            .map_err(db)?
            .try_get(0)
            .map_err(db)?;
        tx.execute(
            "DELETE FROM paywire_released_nonces WHERE chain_id = $1 AND signer = $2 AND nonce < $3",
            &[&chain, &signer, &int(chain_pending)],
        )
        .await
        .map_err(db)?;
        let released = tx
            .query_opt(
                "DELETE FROM paywire_released_nonces WHERE (chain_id, signer, nonce) = \
                 (SELECT chain_id, signer, nonce FROM paywire_released_nonces WHERE chain_id = $1 AND signer = $2 \
                  ORDER BY nonce LIMIT 1) RETURNING nonce",
                &[&chain, &signer],
            )
            .await
            .map_err(db)?;
        let nonce = match released {
            Some(row) => uint(row.try_get(0).map_err(db)?),
            None => {
                let n = uint(next).max(chain_pending);
                tx.execute(
                    "UPDATE paywire_nonces SET next = $3 WHERE chain_id = $1 AND signer = $2",
                    &[&chain, &signer, &int(n.saturating_add(1))],
                )
                .await
                .map_err(db)?;
                n
            }
        };
        if let Some(h) = holder {
            tx.execute(
                "UPDATE paywire_settlements SET signer = $2, nonce = $3 WHERE key = $1",
                &[&h.key, &signer, &int(nonce)],
            )
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(nonce)
    }

    async fn release_nonce(
        &self,
        chain_id: u64,
        signer: &str,
        nonce: u64,
    ) -> Result<(), StoreError> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO paywire_released_nonces (chain_id, signer, nonce) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&int(chain_id), &signer, &int(nonce)],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn released_nonces(&self, chain_id: u64, signer: &str) -> Result<Vec<u64>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT nonce FROM paywire_released_nonces WHERE chain_id = $1 AND signer = $2 ORDER BY nonce",
                &[&int(chain_id), &signer],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| r.try_get::<_, i64>(0).map(uint).map_err(db))
            .collect()
    }

    async fn catalog_put(&self, e: &CatalogEntry) -> Result<(), StoreError> {
        let c = self.client().await?;
        let pay_to = pay_to_key(&e.pay_to);
        c.execute(
            &format!(
                "INSERT INTO paywire_catalog ({CATALOG_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                 ON CONFLICT (key) DO UPDATE SET resource = $2, kind = $3, x402_version = $4, \
                   accepts = $5, pay_to = $6, scheme = $7, network = $8, extension_keys = $9, \
                   description = $10, mime_type = $11, service_name = $12, tags = $13, \
                   icon_url = $14, extensions = $15, updated = $16"
            ),
            &[
                &e.key,
                &e.resource,
                &e.kind,
                &int(e.x402_version),
                &e.accepts,
                &pay_to,
                &e.scheme,
                &e.network,
                &e.extension_keys,
                &e.description,
                &e.mime_type,
                &e.service_name,
                &e.tags,
                &e.icon_url,
                &e.extensions,
                &int(e.updated),
            ],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn catalog_list(&self, q: &CatalogQuery) -> Result<(Vec<CatalogEntry>, u64), StoreError> {
        if q.extension.as_deref().is_some_and(|x| x.contains(',')) {
            return Ok((Vec::new(), 0));
        }
        let c = self.client().await?;
        // A filter that is NULL holds for every row.
        let filter = "($1::TEXT IS NULL OR kind = $1) AND ($2::TEXT IS NULL OR pay_to = $2) \
            AND ($3::TEXT IS NULL OR scheme = $3) AND ($4::TEXT IS NULL OR network = $4) \
            AND ($5::TEXT IS NULL OR strpos(extension_keys, ',' || $5 || ',') > 0)";
        let pay_to = q.pay_to_key();
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
            [&q.kind, &pay_to, &q.scheme, &q.network, &q.extension];
        let total: i64 = c
            .query_one(
                &format!("SELECT count(*) FROM paywire_catalog WHERE {filter}"),
                &params,
            )
            .await
            .map_err(db)?
            .try_get(0)
            .map_err(db)?;
        let (limit, offset) = (int(q.limit), int(q.offset));
        let rows = c
            .query(
                &format!(
                    "SELECT {CATALOG_COLUMNS} FROM paywire_catalog WHERE {filter} \
                     ORDER BY updated DESC, key COLLATE \"C\" LIMIT $6 OFFSET $7"
                ),
                &[
                    &q.kind,
                    &pay_to,
                    &q.scheme,
                    &q.network,
                    &q.extension,
                    &limit,
                    &offset,
                ],
            )
            .await
            .map_err(db)?;
        let entries = rows
            .iter()
            .map(catalog_entry)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((entries, uint(total)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// PostgreSQL from `PAYWIRE_TEST_POSTGRES` (the test command starts one
    /// and sets it); without it the test says so and fails only when
    /// `PAYWIRE_REQUIRE_POSTGRES` is set.
    pub(crate) fn url() -> Option<String> {
        match std::env::var("PAYWIRE_TEST_POSTGRES") {
            Ok(u) if !u.is_empty() => Some(u),
            _ => {
                assert!(
                    std::env::var("PAYWIRE_REQUIRE_POSTGRES").is_err(),
                    "PAYWIRE_TEST_POSTGRES is not set"
                );
                eprintln!(
                    "PAYWIRE_TEST_POSTGRES is not set: the PostgreSQL store is not tested here"
                );
                None
            }
        }
    }

    /// A database of the test's own in the server at `url` (created anew), so
    /// tests running at once do not see each other's rows.
    pub(crate) async fn fresh(url: &str, name: &str) -> String {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        let task = tokio::spawn(conn);
        let db = format!("paywire_{name}_{}", std::process::id());
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
            .await
            .unwrap();
        client
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .unwrap();
        drop(client);
        let _ = task.await;
        let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
        format!("{base}/{db}")
    }

    #[tokio::test]
    async fn postgres_behaves_as_a_store_must() {
        let Some(url) = url() else { return };
        let s = PostgresStore::connect(&fresh(&url, "store").await)
            .await
            .unwrap();
        super::super::tests::exercise(&s).await;
        super::super::tests::exercise_catalog(&s).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_nonces_are_distinct_and_without_gaps() {
        let Some(url) = url() else { return };
        let url = fresh(&url, "nonces").await;
        let a: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url).await.unwrap());
        let b: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url).await.unwrap());
        super::super::tests::exercise_concurrent_nonces([a, b], "0xs").await;
    }
}
