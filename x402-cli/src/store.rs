//! Replay stores for `x402 serve`: one record per payment, read and changed by
//! compare-and-swap as `x402_core::lifecycle` asks. In memory by default; in a
//! SQLite file with `--state FILE`, which survives a restart and can be shared
//! by several server processes on one machine (SQLite's own locking makes each
//! swap atomic across them).
//!
//! The records are the core's JSON texts; the store keeps them as given and
//! compares them byte for byte. The SQLite table also keeps each record's
//! `state` in a column, so that payments to reconcile can be listed with
//! `sqlite3 FILE "select key, record from x402_payments where state = 'uncertain'"`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use x402_core::lifecycle::record_info;

/// The outcome of a swap: written, or the record as it is now.
pub(crate) type Swapped = Result<(), Option<String>>;

/// What the lifecycle needs of a store. Errors are messages for the log.
pub(crate) trait ReplayStore: Send + Sync {
    /// The record of `key`.
    fn get(&self, key: &str) -> Result<Option<String>, String>;
    /// Sets the record of `key` to `new` (`None`: removes it) if it is
    /// `expected` (`None`: absent), atomically.
    fn swap(&self, key: &str, expected: Option<&str>, new: Option<&str>)
    -> Result<Swapped, String>;
    /// Every record whose state is `uncertain`: (key, record).
    fn uncertain(&self) -> Result<Vec<(String, String)>, String>;
}

fn state_of(record: &str) -> String {
    record_info(record).map(|i| i.state).unwrap_or_default()
}

/// Records in this process only.
#[derive(Default)]
pub(crate) struct MemoryStore {
    records: Mutex<HashMap<String, String>>,
}

impl ReplayStore for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<String>, String> {
        Ok(lock(&self.records).get(key).cloned())
    }

    fn swap(
        &self,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
    ) -> Result<Swapped, String> {
        let mut records = lock(&self.records);
        let current = records.get(key);
        if current.map(String::as_str) != expected {
            return Ok(Err(current.cloned()));
        }
        match new {
            Some(n) => records.insert(key.to_string(), n.to_string()),
            None => records.remove(key),
        };
        Ok(Ok(()))
    }

    fn uncertain(&self) -> Result<Vec<(String, String)>, String> {
        let mut out: Vec<(String, String)> = lock(&self.records)
            .iter()
            .filter(|(_, r)| state_of(r) == "uncertain")
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
pub(crate) struct SqliteStore {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS x402_payments (
    key TEXT PRIMARY KEY NOT NULL,
    record TEXT NOT NULL,
    state TEXT NOT NULL,
    updated INTEGER NOT NULL
)";

fn db(e: rusqlite::Error) -> String {
    format!("state file: {e}")
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl SqliteStore {
    /// Opens (creating if needed) the state file.
    pub(crate) fn open(path: &Path) -> Result<SqliteStore, String> {
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
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }
}

impl ReplayStore for SqliteStore {
    fn get(&self, key: &str) -> Result<Option<String>, String> {
        lock(&self.conn)
            .query_row(
                "SELECT record FROM x402_payments WHERE key = ?1",
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
                "SELECT record FROM x402_payments WHERE key = ?1",
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
                    "INSERT INTO x402_payments (key, record, state, updated) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(key) DO UPDATE SET record = ?2, state = ?3, updated = ?4",
                    params![key, n, state_of(n), unix_now()],
                )
                .map_err(db)?,
            None => tx
                .execute("DELETE FROM x402_payments WHERE key = ?1", params![key])
                .map_err(db)?,
        };
        tx.commit().map_err(db)?;
        Ok(Ok(()))
    }

    fn uncertain(&self) -> Result<Vec<(String, String)>, String> {
        let conn = lock(&self.conn);
        let mut stmt = conn
            .prepare("SELECT key, record FROM x402_payments WHERE state = 'uncertain' ORDER BY key")
            .map_err(db)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(db)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn exercise(s: &dyn ReplayStore) {
        assert_eq!(s.get("k").unwrap(), None);
        assert_eq!(s.swap("k", Some("x"), Some("a")).unwrap(), Err(None));
        assert_eq!(s.swap("k", None, Some("a")).unwrap(), Ok(()));
        assert_eq!(s.swap("k", None, Some("b")).unwrap(), Err(Some("a".into())));
        assert_eq!(s.swap("k", Some("a"), Some("b")).unwrap(), Ok(()));
        assert_eq!(s.get("k").unwrap().as_deref(), Some("b"));
        assert_eq!(s.swap("k", Some("b"), None).unwrap(), Ok(()));
        assert_eq!(s.get("k").unwrap(), None);
    }

    #[test]
    fn memory_swaps() {
        exercise(&MemoryStore::default());
    }

    #[test]
    fn sqlite_swaps_and_persists() {
        let dir = std::env::temp_dir().join(format!("x402-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.db");
        let _ = std::fs::remove_file(&path);
        exercise(&SqliteStore::open(&path).unwrap());
        SqliteStore::open(&path)
            .unwrap()
            .swap("k", None, Some("kept"))
            .unwrap()
            .unwrap();
        // A second connection (another process, in effect) sees it.
        assert_eq!(
            SqliteStore::open(&path)
                .unwrap()
                .get("k")
                .unwrap()
                .as_deref(),
            Some("kept")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
