//! The SQLite [`ListenerStore`]: Flow listener registrations in `<data>/listeners.db`
//! (WAL, `synchronous` as `--durability` says), a file of its own so that registering
//! and firing never wait on the registry, the tables or the runs.
//!
//! The database opens on first use.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection};

use crate::error::{Error, Result};
use crate::store::listeners::{ListenerRow, ListenerStore, COLUMNS};
use crate::store::Durability;

/// The database file under the data folder.
pub(crate) const DB_FILE: &str = "listeners.db";

/// How long a call waits for another connection's lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS listeners (
    id            TEXT PRIMARY KEY,
    service       TEXT NOT NULL,
    listen_type   TEXT NOT NULL,
    callback_uri  TEXT NOT NULL,
    state_id      TEXT,
    tenant_id     TEXT,
    token         TEXT,
    culture       TEXT,
    annotations   TEXT,
    value         TEXT NOT NULL,
    registered_ms INTEGER NOT NULL,
    expires_ms    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS listeners_state
    ON listeners (service, state_id, listen_type) WHERE state_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS listeners_expires ON listeners (expires_ms);
"#;

/// The listeners database of one data folder, opened on first use.
#[derive(Debug)]
pub(crate) struct SqliteListeners {
    path: PathBuf,
    durability: Durability,
    /// `None` until first use; held for one statement (or one short transaction).
    conn: Mutex<Option<Connection>>,
}

impl SqliteListeners {
    /// The listeners database `listeners.db` of `data_dir`; nothing is opened yet.
    pub(crate) fn new(data_dir: &std::path::Path, durability: Durability) -> Self {
        SqliteListeners {
            path: data_dir.join(DB_FILE),
            durability,
            conn: Mutex::new(None),
        }
    }

    /// The open connection, opening (and creating) the database on first use.
    fn conn(&self) -> Result<MutexGuard<'_, Option<Connection>>> {
        let mut guard = self
            .conn
            .lock()
            .map_err(|_| Error::internal("listeners lock"))?;
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
        Ok(conn)
    }

    fn with<T>(
        &self,
        what: &'static str,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let mut guard = self.conn()?;
        let conn = guard.as_mut().expect("conn() opened the connection");
        f(conn).map_err(|e| db_error(what, &e))
    }
}

/// A database failure: logged in full, answered as a generic internal error.
fn db_error(what: &'static str, e: &rusqlite::Error) -> Error {
    tracing::error!(error = %e, what, "Listeners database failed.");
    Error::internal(format!("the listeners database failed ({what})"))
}

fn row_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<ListenerRow> {
    Ok(ListenerRow {
        id: r.get(0)?,
        service: r.get(1)?,
        listen_type: r.get(2)?,
        callback_uri: r.get(3)?,
        state_id: r.get(4)?,
        tenant_id: r.get(5)?,
        token: r.get(6)?,
        culture: r.get(7)?,
        annotations: r.get(8)?,
        value: r.get(9)?,
        registered_ms: r.get(10)?,
        expires_ms: r.get(11)?,
    })
}

impl ListenerStore for SqliteListeners {
    fn insert(&self, row: &ListenerRow) -> Result<()> {
        self.with("insert", |c| {
            let tx = c.transaction()?;
            if let Some(state) = &row.state_id {
                tx.execute(
                    "DELETE FROM listeners WHERE service = ?1 AND state_id = ?2 \
                     AND listen_type = ?3",
                    params![row.service, state, row.listen_type],
                )?;
            }
            tx.execute(
                &format!(
                    "INSERT INTO listeners ({COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                ),
                params![
                    row.id,
                    row.service,
                    row.listen_type,
                    row.callback_uri,
                    row.state_id,
                    row.tenant_id,
                    row.token,
                    row.culture,
                    row.annotations,
                    row.value,
                    row.registered_ms,
                    row.expires_ms
                ],
            )?;
            tx.commit()
        })
    }

    fn remove(&self, id: &str) -> Result<()> {
        self.with("remove", |c| {
            c.execute("DELETE FROM listeners WHERE id = ?1", [id])
                .map(drop)
        })
    }

    fn load(&self, now_ms: i64) -> Result<Vec<ListenerRow>> {
        self.with("load", |c| {
            c.execute("DELETE FROM listeners WHERE expires_ms <= ?1", [now_ms])?;
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM listeners ORDER BY registered_ms"
            ))?;
            let rows = stmt.query_map([], row_of)?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, state: Option<&str>, expires_ms: i64) -> ListenerRow {
        ListenerRow {
            id: id.into(),
            service: "S".into(),
            listen_type: "orderPlaced".into(),
            callback_uri: "http://127.0.0.1:9/cb".into(),
            state_id: state.map(str::to_owned),
            tenant_id: Some("t".into()),
            token: Some("tok".into()),
            culture: None,
            annotations: Some(r#"{"a":"b"}"#.into()),
            value: "null".into(),
            registered_ms: 1_000,
            expires_ms,
        }
    }

    #[test]
    fn registrations_replace_their_state_expire_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteListeners::new(dir.path(), Durability::Full);
        store.insert(&row("a", Some("s1"), 10_000)).unwrap();
        store.insert(&row("b", Some("s1"), 10_000)).unwrap();
        store.insert(&row("c", None, 10_000)).unwrap();
        store.insert(&row("d", None, 2_000)).unwrap();
        let ids = |rows: Vec<ListenerRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(
            ids(store.load(1_500).unwrap()),
            ["b", "c", "d"],
            "a registration of the same state replaces the earlier one"
        );
        drop(store);
        let store = SqliteListeners::new(dir.path(), Durability::Full);
        let rows = store.load(2_000).unwrap();
        assert_eq!(
            rows[0],
            row("b", Some("s1"), 10_000),
            "every column is kept"
        );
        assert_eq!(ids(rows), ["b", "c"], "an expired registration is removed");
        store.remove("b").unwrap();
        store.remove("missing").unwrap();
        assert_eq!(ids(store.load(2_000).unwrap()), ["c"]);
    }
}
