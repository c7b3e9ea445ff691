//! Payment records of a paywall: one record per payment, read and changed by
//! compare-and-swap as `paywire::lifecycle` asks. In memory
//! ([`MemoryRecords`]); in a SQLite file ([`SqliteRecords`]), which survives a
//! restart and can be shared by several server processes on one machine
//! (SQLite's own locking makes each swap atomic across them); in PostgreSQL
//! ([`PostgresRecords`]) for servers on several machines.
//!
//! The records are the core's JSON texts; a store keeps them as given and
//! compares them byte for byte. The tables also keep each record's `state`
//! in a column, so that payments to reconcile can be listed with
//! `select key, record from paywire_payments where state = 'uncertain'`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use paywire::lifecycle::{record_forgettable, record_info};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// The outcome of a swap: written, or the record as it is now.
pub type Swapped = Result<(), Option<String>>;

/// What the lifecycle needs of a store, for hosts that wait on it (a
/// blocking server). Errors are messages for the log.
pub trait BlockingRecords: Send + Sync {
    /// The record of `key`.
    fn get(&self, key: &str) -> Result<Option<String>, String>;
    /// Sets the record of `key` to `new` (`None`: removes it) if it is
    /// `expected` (`None`: absent), atomically.
    fn swap(&self, key: &str, expected: Option<&str>, new: Option<&str>)
    -> Result<Swapped, String>;
    /// Every record whose state is `uncertain`: (key, record).
    fn uncertain(&self) -> Result<Vec<(String, String)>, String>;
    /// Every record whose key starts with `prefix`: (key, record), by key
    /// (the channel manager lists `batch-settlement/{network}/` so).
    fn list(&self, prefix: &str) -> Result<Vec<(String, String)>, String>;
}

fn state_of(record: &str) -> String {
    record_info(record).map(|i| i.state).unwrap_or_default()
}

/// Records in this process only, at most `limit` of them. Records that can
/// no longer matter are forgotten (`paywire::lifecycle::record_forgettable`:
/// delivered payments whose signature has expired); records of uncertain
/// settlements and of settled payments never are. When the limit is reached
/// with nothing to forget, a new payment is refused (the lifecycle answers
/// 503 with `Retry-After`) instead of growing without end.
pub struct MemoryRecords {
    records: Mutex<Memory>,
    limit: usize,
}

#[derive(Default)]
struct Memory {
    map: HashMap<String, String>,
    /// New keys since the last sweep for forgettable records.
    inserted: usize,
}

/// The default bound of a memory store (about 1.4 KB a record).
pub const DEFAULT_MEMORY_RECORDS: usize = 100_000;

/// New keys between two sweeps for forgettable records.
const SWEEP_EVERY: usize = 1024;

impl Default for MemoryRecords {
    fn default() -> Self {
        MemoryRecords::with_limit(DEFAULT_MEMORY_RECORDS)
    }
}

impl MemoryRecords {
    /// A store of at most `limit` records.
    pub fn with_limit(limit: usize) -> MemoryRecords {
        MemoryRecords {
            records: Mutex::new(Memory::default()),
            limit: limit.max(1),
        }
    }

    /// How many records it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        lock(&self.records).map.len()
    }

    /// Whether it holds no record.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        lock(&self.records).map.is_empty()
    }
}

impl Memory {
    fn sweep(&mut self) {
        let now = u64::try_from(unix_now()).unwrap_or(0);
        self.map.retain(|_, r| !record_forgettable(r, now));
        self.inserted = 0;
    }
}

impl BlockingRecords for MemoryRecords {
    fn get(&self, key: &str) -> Result<Option<String>, String> {
        Ok(lock(&self.records).map.get(key).cloned())
    }

    fn swap(
        &self,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
    ) -> Result<Swapped, String> {
        let mut records = lock(&self.records);
        let current = records.map.get(key);
        if current.map(String::as_str) != expected {
            return Ok(Err(current.cloned()));
        }
        match new {
            Some(n) => {
                if current.is_none() {
                    if records.inserted >= SWEEP_EVERY || records.map.len() >= self.limit {
                        records.sweep();
                    }
                    if records.map.len() >= self.limit {
                        return Err(format!(
                            "the memory store holds its limit of {} payment records, none of them forgettable yet",
                            self.limit
                        ));
                    }
                    records.inserted += 1;
                }
                records.map.insert(key.to_string(), n.to_string())
            }
            None => records.map.remove(key),
        };
        Ok(Ok(()))
    }

    fn uncertain(&self) -> Result<Vec<(String, String)>, String> {
        let mut out: Vec<(String, String)> = lock(&self.records)
            .map
            .iter()
            .filter(|(_, r)| state_of(r) == "uncertain")
            .map(|(k, r)| (k.clone(), r.clone()))
            .collect();
        out.sort();
        Ok(out)
    }

    fn list(&self, prefix: &str) -> Result<Vec<(String, String)>, String> {
        let mut out: Vec<(String, String)> = lock(&self.records)
            .map
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, r)| (k.clone(), r.clone()))
            .collect();
        out.sort();
        Ok(out)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records in a SQLite file.
pub struct SqliteRecords {
    conn: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS paywire_payments (
    key TEXT PRIMARY KEY NOT NULL,
    record TEXT NOT NULL,
    state TEXT NOT NULL,
    updated INTEGER NOT NULL
)";

fn db(e: rusqlite::Error) -> String {
    format!("payment records (SQLite): {e}")
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl SqliteRecords {
    /// Opens (creating if needed) the SQLite file at `path`.
    ///
    /// # Errors
    /// The file cannot be opened or set up.
    pub fn open(path: &Path) -> Result<SqliteRecords, String> {
        let conn = Connection::open(path).map_err(db)?;
        // Another process may hold the write lock for a moment: wait for it.
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db)?;
        // WAL lets readers and one writer proceed together; FULL syncs each
        // commit, so a record written before an answer survives a crash.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        conn.execute(SCHEMA, []).map_err(db)?;
        Ok(SqliteRecords {
            conn: Arc::new(Mutex::new(conn)),
        })
    }
}

impl BlockingRecords for SqliteRecords {
    fn get(&self, key: &str) -> Result<Option<String>, String> {
        lock(&self.conn)
            .query_row(
                "SELECT record FROM paywire_payments WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)
    }

    fn swap(
        &self,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
    ) -> Result<Swapped, String> {
        let mut conn = lock(&self.conn);
        // IMMEDIATE takes the write lock before reading, so the comparison and
        // the write are one step for every process sharing the file.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let current: Option<String> = tx
            .query_row(
                "SELECT record FROM paywire_payments WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        if current.as_deref() != expected {
            return Ok(Err(current));
        }
        match new {
            Some(n) => tx
                .execute(
                    "INSERT INTO paywire_payments (key, record, state, updated) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(key) DO UPDATE SET record = ?2, state = ?3, updated = ?4",
                    params![key, n, state_of(n), unix_now()],
                )
                .map_err(db)?,
            None => tx
                .execute("DELETE FROM paywire_payments WHERE key = ?1", params![key])
                .map_err(db)?,
        };
        tx.commit().map_err(db)?;
        Ok(Ok(()))
    }

    fn uncertain(&self) -> Result<Vec<(String, String)>, String> {
        let conn = lock(&self.conn);
        let mut stmt = conn
            .prepare(
                "SELECT key, record FROM paywire_payments WHERE state = 'uncertain' ORDER BY key",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(db)
    }

    fn list(&self, prefix: &str) -> Result<Vec<(String, String)>, String> {
        let conn = lock(&self.conn);
        // A comparison of the key's first characters: no LIKE wildcards.
        let mut stmt = conn
            .prepare(
                "SELECT key, record FROM paywire_payments WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map(params![prefix], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(db)
    }
}

/// What the lifecycle needs of a store, for an async host (the paywall
/// layer). Errors are messages for the log.
#[async_trait::async_trait]
pub trait RecordStore: Send + Sync {
    /// The record of `key`.
    async fn get(&self, key: &str) -> Result<Option<String>, String>;
    /// Sets the record of `key` to `new` (`None`: removes it) if it is
    /// `expected` (`None`: absent), atomically.
    async fn swap(
        &self,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
    ) -> Result<Swapped, String>;
    /// Every record whose state is `uncertain`: (key, record).
    async fn uncertain(&self) -> Result<Vec<(String, String)>, String>;
    /// Every record whose key starts with `prefix`: (key, record), by key.
    /// The channel manager lists a network's `batch-settlement` channel
    /// records so (`batch-settlement/{network}/`).
    async fn list(&self, prefix: &str) -> Result<Vec<(String, String)>, String>;
}

/// In memory, a map behind a mutex held for a moment: called in place.
#[async_trait::async_trait]
impl RecordStore for MemoryRecords {
    async fn get(&self, key: &str) -> Result<Option<String>, String> {
        BlockingRecords::get(self, key)
    }

    async fn swap(
        &self,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
    ) -> Result<Swapped, String> {
        BlockingRecords::swap(self, key, expected, new)
    }

    async fn uncertain(&self) -> Result<Vec<(String, String)>, String> {
        BlockingRecords::uncertain(self)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<(String, String)>, String> {
        BlockingRecords::list(self, prefix)
    }
}

impl SqliteRecords {
    /// Runs `f` on a blocking thread (SQLite may wait for another process's
    /// lock, and each commit syncs to disk).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&SqliteRecords) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let this = SqliteRecords {
            conn: Arc::clone(&self.conn),
        };
        tokio::task::spawn_blocking(move || f(&this))
            .await
            .map_err(|e| format!("payment records (SQLite): {e}"))?
    }
}

#[async_trait::async_trait]
impl RecordStore for SqliteRecords {
    async fn get(&self, key: &str) -> Result<Option<String>, String> {
        let key = key.to_owned();
        self.blocking(move |s| BlockingRecords::get(s, &key)).await
    }

    async fn swap(
        &self,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
    ) -> Result<Swapped, String> {
        let (key, expected, new) = (
            key.to_owned(),
            expected.map(str::to_owned),
            new.map(str::to_owned),
        );
        self.blocking(move |s| BlockingRecords::swap(s, &key, expected.as_deref(), new.as_deref()))
            .await
    }

    async fn uncertain(&self) -> Result<Vec<(String, String)>, String> {
        self.blocking(BlockingRecords::uncertain).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<(String, String)>, String> {
        let prefix = prefix.to_owned();
        self.blocking(move |s| BlockingRecords::list(s, &prefix))
            .await
    }
}

/// How long a PostgreSQL connection, a wait for one, or a statement may take.
const STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Records in PostgreSQL, shared by paywalls on several machines: each swap
/// is one conditional statement, atomic across them. The connection is not
/// encrypted: keep the database on a private network or this machine.
pub struct PostgresRecords {
    pool: deadpool_postgres::Pool,
}

fn pg(e: impl std::fmt::Display) -> String {
    format!("payment records (PostgreSQL): {e}")
}

impl PostgresRecords {
    /// Connects to `url` (`postgres://user:password@host/db`) and creates
    /// the table if it is missing.
    ///
    /// # Errors
    /// The URL is malformed, or the server cannot be reached or set up.
    pub async fn connect(url: &str) -> Result<PostgresRecords, String> {
        let mut config: tokio_postgres::Config = url.parse().map_err(pg)?;
        // Bounded: a connection, a wait for one, and each statement.
        config.connect_timeout(STORE_TIMEOUT);
        config.options("-c statement_timeout=5000");
        let manager = deadpool_postgres::Manager::new(config, tokio_postgres::NoTls);
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(16)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(STORE_TIMEOUT))
            .create_timeout(Some(STORE_TIMEOUT))
            .recycle_timeout(Some(STORE_TIMEOUT))
            .build()
            .map_err(pg)?;
        let client = pool.get().await.map_err(pg)?;
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS paywire_payments (
                    key TEXT PRIMARY KEY NOT NULL,
                    record TEXT NOT NULL,
                    state TEXT NOT NULL,
                    updated BIGINT NOT NULL
                )",
            )
            .await
            .map_err(pg)?;
        Ok(PostgresRecords { pool })
    }
}

#[async_trait::async_trait]
impl RecordStore for PostgresRecords {
    async fn get(&self, key: &str) -> Result<Option<String>, String> {
        let client = self.pool.get().await.map_err(pg)?;
        let row = client
            .query_opt(
                "SELECT record FROM paywire_payments WHERE key = $1",
                &[&key],
            )
            .await
            .map_err(pg)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn swap(
        &self,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
    ) -> Result<Swapped, String> {
        let client = self.pool.get().await.map_err(pg)?;
        let changed = match (expected, new) {
            (None, Some(n)) => client
                .execute(
                    "INSERT INTO paywire_payments (key, record, state, updated) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (key) DO NOTHING",
                    &[&key, &n, &state_of(n), &unix_now()],
                )
                .await
                .map_err(pg)?,
            (Some(e), Some(n)) => client
                .execute(
                    "UPDATE paywire_payments SET record = $3, state = $4, updated = $5
                     WHERE key = $1 AND record = $2",
                    &[&key, &e, &n, &state_of(n), &unix_now()],
                )
                .await
                .map_err(pg)?,
            (Some(e), None) => client
                .execute(
                    "DELETE FROM paywire_payments WHERE key = $1 AND record = $2",
                    &[&key, &e],
                )
                .await
                .map_err(pg)?,
            (None, None) => {
                // Absent stays absent: the swap holds if nothing is there.
                let now = self.get(key).await?;
                return Ok(match now {
                    None => Ok(()),
                    Some(r) => Err(Some(r)),
                });
            }
        };
        if changed == 1 {
            return Ok(Ok(()));
        }
        // Not written: what is there now (the comparison failed).
        Ok(Err(self.get(key).await?))
    }

    async fn uncertain(&self) -> Result<Vec<(String, String)>, String> {
        let client = self.pool.get().await.map_err(pg)?;
        let rows = client
            .query(
                "SELECT key, record FROM paywire_payments WHERE state = 'uncertain' ORDER BY key",
                &[],
            )
            .await
            .map_err(pg)?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<(String, String)>, String> {
        let client = self.pool.get().await.map_err(pg)?;
        // A comparison of the key's first characters: no LIKE wildcards.
        let rows = client
            .query(
                "SELECT key, record FROM paywire_payments WHERE left(key, char_length($1)) = $1 ORDER BY key",
                &[&prefix],
            )
            .await
            .map_err(pg)?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{BlockingRecords, MemoryRecords, SqliteRecords, unix_now};

    fn exercise(s: &dyn BlockingRecords) {
        assert_eq!(s.get("k").unwrap(), None);
        assert_eq!(s.swap("k", Some("x"), Some("a")).unwrap(), Err(None));
        assert_eq!(s.swap("k", None, Some("a")).unwrap(), Ok(()));
        assert_eq!(s.swap("k", None, Some("b")).unwrap(), Err(Some("a".into())));
        assert_eq!(s.swap("k", Some("a"), Some("b")).unwrap(), Ok(()));
        assert_eq!(s.get("k").unwrap().as_deref(), Some("b"));
        assert_eq!(s.swap("k", Some("b"), None).unwrap(), Ok(()));
        assert_eq!(s.get("k").unwrap(), None);
        // Listed by prefix, taken literally (`_` and `%` are no wildcards).
        for k in ["a/b_1", "a/b_2", "a/bx3", "a/b", "b/b_1"] {
            s.swap(k, None, Some(k)).unwrap().unwrap();
        }
        let listed: Vec<String> = s
            .list("a/b_")
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(listed, ["a/b_1", "a/b_2"]);
        assert_eq!(s.list("a/").unwrap().len(), 4);
        assert_eq!(s.list("a/b_1").unwrap(), [("a/b_1".into(), "a/b_1".into())]);
        assert!(s.list("c").unwrap().is_empty());
        for k in ["a/b_1", "a/b_2", "a/bx3", "a/b", "b/b_1"] {
            s.swap(k, Some(k), None).unwrap().unwrap();
        }
    }

    #[test]
    fn memory_swaps() {
        exercise(&MemoryRecords::default());
    }

    /// A delivered record whose payment expired at `expires`.
    fn delivered(expires: u64) -> String {
        format!(
            r#"{{"state":"delivered","id":"r","paymentResponse":"e30=","payment":{{"scheme":"exact","payer":"0x1","nonce":"0x2","amount":"1","network":"eip155:84532","asset":"0x3","route":"/","time":1,"expires":{expires}}}}}"#
        )
    }

    #[test]
    fn memory_is_bounded_and_forgets_only_expired_deliveries() {
        let s = MemoryRecords::with_limit(3);
        let now = u64::try_from(unix_now()).unwrap();
        let live = delivered(now + 3600);
        let uncertain = live
            .replace("\"delivered\"", "\"uncertain\"")
            .replace("\"paymentResponse\":\"e30=\",", "\"cause\":\"x\",");
        assert_eq!(s.swap("a", None, Some(&live)).unwrap(), Ok(()));
        assert_eq!(s.swap("b", None, Some(&uncertain)).unwrap(), Ok(()));
        assert_eq!(s.swap("c", None, Some(&delivered(1))).unwrap(), Ok(()));
        // Full: the expired delivery is forgotten to make room.
        assert_eq!(s.swap("d", None, Some(&live)).unwrap(), Ok(()));
        assert_eq!(s.get("c").unwrap(), None);
        assert_eq!(s.len(), 3);
        // Full of records that matter: refused, nothing lost.
        assert!(s.swap("e", None, Some(&live)).is_err());
        assert_eq!(s.get("b").unwrap().as_deref(), Some(uncertain.as_str()));
        // Changing a record already held is never refused.
        assert_eq!(s.swap("a", Some(&live), Some(&uncertain)).unwrap(), Ok(()));
    }

    #[test]
    fn sqlite_swaps_and_persists() {
        let dir = std::env::temp_dir().join(format!("paywire-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.db");
        let _ = std::fs::remove_file(&path);
        exercise(&SqliteRecords::open(&path).unwrap());
        SqliteRecords::open(&path)
            .unwrap()
            .swap("k", None, Some("kept"))
            .unwrap()
            .unwrap();
        // A second connection (another process, in effect) sees it.
        assert_eq!(
            SqliteRecords::open(&path)
                .unwrap()
                .get("k")
                .unwrap()
                .as_deref(),
            Some("kept")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
