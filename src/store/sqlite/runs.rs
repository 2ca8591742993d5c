//! The SQLite [`RunStore`]: the runs of the incoming API in `<data>/runs.db` (WAL,
//! `synchronous` as `--durability` says), a file of its own so that polling and
//! idempotency never wait on the registry or the tables.
//!
//! The database opens on first use. Runs a previous process left `running` cannot end any
//! more: opening marks them failed, so that a poll after a restart says so instead of
//! `running` forever.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Error, Result};
use crate::store::runs::{RunRow, RunStore, COLUMNS, FAILED, LOST, RUNNING};
use crate::store::Durability;

/// The database file under the data folder.
pub(crate) const DB_FILE: &str = "runs.db";

/// How long a call waits for another connection's lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS runs (
    process_id      TEXT PRIMARY KEY,
    service         TEXT NOT NULL,
    action          TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    mode            TEXT NOT NULL,
    status          TEXT NOT NULL,
    started_ms      INTEGER NOT NULL,
    finished_ms     INTEGER,
    answer          TEXT,
    idempotency_key TEXT,
    body_sha256     TEXT
);
CREATE INDEX IF NOT EXISTS runs_idempotency
    ON runs (user_id, service, action, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_ms);
"#;

/// The runs database of one data folder, opened on first use.
#[derive(Debug)]
pub(crate) struct SqliteRuns {
    path: PathBuf,
    durability: Durability,
    /// `None` until first use; held for one statement (or one short transaction).
    conn: Mutex<Option<Connection>>,
}

impl SqliteRuns {
    /// The runs database `runs.db` of `data_dir`; nothing is opened yet.
    pub(crate) fn new(data_dir: &std::path::Path, durability: Durability) -> Self {
        SqliteRuns {
            path: data_dir.join(DB_FILE),
            durability,
            conn: Mutex::new(None),
        }
    }

    /// The open connection, opening (and creating) the database on first use.
    fn conn(&self) -> Result<MutexGuard<'_, Option<Connection>>> {
        let mut guard = self.conn.lock().map_err(|_| Error::internal("runs lock"))?;
        if guard.is_none() {
            *guard = Some(self.open().map_err(|e| db_error("open", &e))?);
        }
        Ok(guard)
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", self.durability.synchronous())?;
        conn.execute_batch(SCHEMA)?;
        conn.execute(
            "UPDATE runs SET status = ?1, answer = ?2, finished_ms = started_ms \
             WHERE status = ?3",
            params![FAILED, LOST, RUNNING],
        )?;
        Ok(conn)
    }

    fn with<T>(
        &self,
        what: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let guard = self.conn()?;
        let conn = guard.as_ref().expect("conn() opened the connection");
        f(conn).map_err(|e| db_error(what, &e))
    }
}

/// A database failure: logged in full, answered as a generic internal error.
fn db_error(what: &'static str, e: &rusqlite::Error) -> Error {
    tracing::error!(error = %e, what, "Runs database failed.");
    Error::internal(format!("the runs database failed ({what})"))
}

fn row_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        process_id: r.get(0)?,
        service: r.get(1)?,
        action: r.get(2)?,
        user: r.get(3)?,
        mode: r.get(4)?,
        status: r.get(5)?,
        started_ms: r.get(6)?,
        finished_ms: r.get(7)?,
        answer: r.get(8)?,
        idempotency_key: r.get(9)?,
        body_sha256: r.get(10)?,
    })
}

impl RunStore for SqliteRuns {
    fn insert(&self, row: &RunRow) -> Result<()> {
        self.with("insert", |c| {
            c.execute(
                &format!("INSERT INTO runs ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
                params![
                    row.process_id,
                    row.service,
                    row.action,
                    row.user,
                    row.mode,
                    row.status,
                    row.started_ms,
                    row.finished_ms,
                    row.answer,
                    row.idempotency_key,
                    row.body_sha256
                ],
            )
            .map(drop)
        })
    }

    fn finish(&self, process_id: &str, status: &str, finished_ms: i64, answer: &str) -> Result<()> {
        self.with("finish", |c| {
            c.execute(
                "UPDATE runs SET status = ?2, finished_ms = ?3, answer = ?4 WHERE process_id = ?1",
                params![process_id, status, finished_ms, answer],
            )
            .map(drop)
        })
    }

    fn get(&self, process_id: &str) -> Result<Option<RunRow>> {
        self.with("get", |c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM runs WHERE process_id = ?1"),
                [process_id],
                row_of,
            )
            .optional()
        })
    }

    fn find_idempotent(
        &self,
        user: &str,
        service: &str,
        action: &str,
        key: &str,
        since_ms: i64,
    ) -> Result<Option<RunRow>> {
        self.with("find", |c| {
            c.query_row(
                &format!(
                    "SELECT {COLUMNS} FROM runs WHERE user_id = ?1 AND service = ?2 \
                     AND action = ?3 AND idempotency_key = ?4 AND started_ms >= ?5 \
                     ORDER BY started_ms DESC LIMIT 1"
                ),
                params![user, service, action, key, since_ms],
                row_of,
            )
            .optional()
        })
    }

    fn purge(&self, before_ms: i64) -> Result<usize> {
        self.with("purge", |c| {
            c.execute("DELETE FROM runs WHERE started_ms < ?1", [before_ms])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, started_ms: i64) -> RunRow {
        RunRow {
            process_id: id.into(),
            service: "S".into(),
            action: "A".into(),
            user: "u".into(),
            mode: "sync".into(),
            status: RUNNING.into(),
            started_ms,
            finished_ms: None,
            answer: None,
            idempotency_key: Some("k".into()),
            body_sha256: Some("h".into()),
        }
    }

    #[test]
    fn runs_are_found_finished_purged_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let runs = SqliteRuns::new(dir.path(), Durability::Full);
        runs.insert(&row("a", 1_000)).unwrap();
        runs.insert(&row("b", 2_000)).unwrap();
        runs.finish("b", "finished", 2_500, r#"{"status":"Success"}"#)
            .unwrap();
        let b = runs.get("b").unwrap().unwrap();
        assert_eq!(
            (b.status.as_str(), b.finished_ms),
            ("finished", Some(2_500))
        );
        let found = runs
            .find_idempotent("u", "S", "A", "k", 0)
            .unwrap()
            .unwrap();
        assert_eq!(found.process_id, "b", "the newest run with the key");
        assert!(runs
            .find_idempotent("u", "S", "A", "k", 3_000)
            .unwrap()
            .is_none());
        assert!(runs
            .find_idempotent("v", "S", "A", "k", 0)
            .unwrap()
            .is_none());
        drop(runs);
        let runs = SqliteRuns::new(dir.path(), Durability::Full);
        let a = runs.get("a").unwrap().unwrap();
        assert_eq!(a.status, FAILED, "a run left running is failed on reopen");
        assert!(a.answer.unwrap().contains("restarted"));
        assert_eq!(runs.purge(1_500).unwrap(), 1);
        assert!(runs.get("a").unwrap().is_none());
        assert!(runs.get("b").unwrap().is_some());
    }
}
