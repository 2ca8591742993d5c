//! The SQLite index of stored files (`files.db`, WAL mode, `synchronous` by the store's
//! [`Durability`]: FULL by default, so an indexed upload that was answered survives a power
//! loss).
//!
//! One connection behind a mutex, opened on first use; callers run on the blocking pool.
//! Listing asks for one row more than the page to know whether more follow. The search
//! text is bounded and free of NUL by the caller (`process::file`), as LIKE needs.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::{Error, Result};
use crate::store::files::{contains_pattern, FileRecord, ListQuery};
use crate::store::{Durability, FileIndex};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS file (
    id            TEXT PRIMARY KEY,
    service       TEXT NOT NULL,
    resource_path TEXT NOT NULL,
    name          TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          INTEGER NOT NULL,
    created       INTEGER NOT NULL,
    modified      INTEGER NOT NULL,
    rel_path      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS file_by_folder ON file (service, resource_path, name);
";

const COLUMNS: &str =
    "id, service, resource_path, name, content_type, size, created, modified, rel_path";

/// The index database, opened lazily.
#[derive(Debug)]
pub(crate) struct SqliteFileIndex {
    path: PathBuf,
    /// How commits are synced; set before the first use.
    durability: Durability,
    conn: Mutex<Option<Connection>>,
}

impl SqliteFileIndex {
    /// The index in the database file `path`, with [`Durability::Full`]; nothing is opened
    /// until first use.
    pub(crate) fn new(path: PathBuf) -> Self {
        SqliteFileIndex {
            path,
            durability: Durability::default(),
            conn: Mutex::new(None),
        }
    }

    /// The same index, syncing its commits as `durability` says.
    pub(crate) fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Runs `f` on the open connection, opening it first when needed.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        // A panic under this lock can only come from rusqlite itself; the connection is
        // still usable, so a poisoned lock is taken over.
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(open(&self.path, self.durability)?);
        }
        f(guard.as_ref().expect("opened just above"))
    }
}

impl FileIndex for SqliteFileIndex {
    fn open(&self) -> Result<()> {
        self.with(|_| Ok(()))
    }

    fn insert(&self, r: &FileRecord) -> Result<()> {
        self.with(|c| {
            c.execute(
                &format!(
                    "INSERT INTO file ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ),
                params![
                    r.id,
                    r.service,
                    r.resource_path,
                    r.name,
                    r.content_type,
                    r.size,
                    r.created,
                    r.modified,
                    r.rel_path
                ],
            )
            .map_err(sql)?;
            Ok(())
        })
    }

    fn get(&self, service: &str, id: &str) -> Result<Option<FileRecord>> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM file WHERE id = ?1 AND service = ?2"),
                params![id, service],
                record,
            )
            .optional()
            .map_err(sql)
        })
    }

    fn delete(&self, service: &str, id: &str) -> Result<Option<FileRecord>> {
        self.with(|c| {
            c.query_row(
                &format!("DELETE FROM file WHERE id = ?1 AND service = ?2 RETURNING {COLUMNS}"),
                params![id, service],
                record,
            )
            .optional()
            .map_err(sql)
        })
    }

    fn list(
        &self,
        service: &str,
        resource_path: &str,
        q: &ListQuery,
    ) -> Result<(Vec<FileRecord>, bool)> {
        let dir = if q.descending { "DESC" } else { "ASC" };
        let col = q.order.column_name();
        let search = q.search_text();
        let query = format!(
            "SELECT {COLUMNS} FROM file WHERE service = ?1 AND resource_path = ?2 {} \
             ORDER BY {col} {dir}, id {dir} LIMIT ?3 OFFSET ?4",
            if search.is_some() {
                "AND name LIKE ?5 ESCAPE '\\'"
            } else {
                "AND ?5 IS NULL"
            }
        );
        let pattern = search.map(contains_pattern);
        let (want, offset) = q.window();
        self.with(|c| {
            let mut stmt = c.prepare_cached(&query).map_err(sql)?;
            let rows: Vec<FileRecord> = stmt
                .query_map(
                    params![service, resource_path, want, offset, pattern],
                    record,
                )
                .map_err(sql)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql)?;
            Ok(q.page(rows))
        })
    }
}

fn open(path: &std::path::Path, durability: Durability) -> Result<Connection> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::internal(format!("cannot create data folder {}: {e}", dir.display()))
        })?;
    }
    let c = Connection::open(path)
        .map_err(|e| Error::internal(format!("cannot open file index {}: {e}", path.display())))?;
    c.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(sql)?;
    c.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
    c.pragma_update(None, "synchronous", durability.synchronous())
        .map_err(sql)?;
    c.execute_batch(SCHEMA).map_err(sql)?;
    Ok(c)
}

fn record(r: &Row<'_>) -> rusqlite::Result<FileRecord> {
    Ok(FileRecord {
        id: r.get(0)?,
        service: r.get(1)?,
        resource_path: r.get(2)?,
        name: r.get(3)?,
        content_type: r.get(4)?,
        size: r.get(5)?,
        created: r.get(6)?,
        modified: r.get(7)?,
        rel_path: r.get(8)?,
    })
}

/// A full disk is the client's to know (507); any other database text is for the log.
fn sql(e: rusqlite::Error) -> Error {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
        return Error::InsufficientStorage {
            what: "the file index cannot be written",
        };
    }
    Error::internal(format!("file index: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, name: &str, created: i64) -> FileRecord {
        FileRecord {
            id: id.into(),
            service: "S".into(),
            resource_path: "/file".into(),
            name: name.into(),
            content_type: "text/plain".into(),
            size: 1,
            created,
            modified: created,
            rel_path: format!("files/S/file/{id}"),
        }
    }

    #[test]
    fn durability_sets_synchronous_of_the_connection() {
        // PRAGMA synchronous reads 2 for FULL, 1 for NORMAL.
        for (durability, want) in [
            (None, 2),
            (Some(Durability::Full), 2),
            (Some(Durability::Relaxed), 1),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let mut idx = SqliteFileIndex::new(dir.path().join("files.db"));
            if let Some(d) = durability {
                idx = idx.with_durability(d);
            }
            let (sync, journal): (i64, String) = idx
                .with(|c| {
                    let sync = c
                        .query_row("PRAGMA synchronous", [], |r| r.get(0))
                        .map_err(sql)?;
                    let journal = c
                        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                        .map_err(sql)?;
                    Ok((sync, journal))
                })
                .unwrap();
            assert_eq!(sync, want, "{durability:?}");
            assert_eq!(journal, "wal");
        }
    }

    #[test]
    fn list_orders_pages_and_searches() {
        let dir = tempfile::tempdir().unwrap();
        let idx = SqliteFileIndex::new(dir.path().join("files.db"));
        for (i, n) in ["b.txt", "a_1.txt", "c.txt", "a%2.txt"].iter().enumerate() {
            idx.insert(&rec(&format!("id{i}"), n, i as i64)).unwrap();
        }
        let q = ListQuery {
            limit: 2,
            ..ListQuery::default()
        };
        let (page, more) = idx.list("S", "/file", &q).unwrap();
        let names: Vec<_> = page.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a%2.txt", "a_1.txt"]);
        assert!(more);
        let q = ListQuery {
            limit: 10,
            search: Some("_".into()),
            ..ListQuery::default()
        };
        let (page, more) = idx.list("S", "/file", &q).unwrap();
        assert_eq!(page.len(), 1);
        assert!(!more);
        let q = ListQuery {
            limit: 10,
            offset: 1,
            order: crate::store::OrderColumn::Created,
            descending: true,
            ..ListQuery::default()
        };
        let (page, _) = idx.list("S", "/file", &q).unwrap();
        assert_eq!(page[0].name, "c.txt");
        assert_eq!(idx.delete("S", "id0").unwrap().unwrap().name, "b.txt");
        assert!(idx.get("S", "id0").unwrap().is_none());
        assert!(idx.delete("Other", "id1").unwrap().is_none());
    }
}
