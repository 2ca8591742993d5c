//! The PostgreSQL [`FileIndex`]: the index of stored files, shared by every instance of
//! one database (the bytes live under the shared `--files-dir`).
//!
//! It answers as the SQLite index does: names and ids compare byte by byte (`COLLATE
//! "C"`, SQLite's `BINARY`), the search is a substring of the name, case-insensitive for
//! ASCII letters only (`ILIKE` under the `C` collation, as SQLite's `LIKE`), and a page
//! asks for one row more than it holds to know whether more follow. The search is indexed
//! with a trigram GIN index when the `pg_trgm` extension is there; it is made at the first
//! mount of an instance (its operator class is known only then), under an advisory lock
//! so that instances starting together do not race on it.

use std::sync::Arc;

use tokio::sync::OnceCell;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::error::{Error, Result};
use crate::store::files::contains_pattern;
use crate::store::{FileIndex, FileRecord, ListQuery};

use super::{db_error, schema, Pg};

/// The statements of this store's migration.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE file (
    id            text COLLATE "C" PRIMARY KEY,
    service       text COLLATE "C" NOT NULL,
    resource_path text COLLATE "C" NOT NULL,
    name          text COLLATE "C" NOT NULL,
    content_type  text COLLATE "C" NOT NULL,
    size          bigint NOT NULL,
    created       bigint NOT NULL,
    modified      bigint NOT NULL,
    rel_path      text NOT NULL
);
CREATE INDEX file_by_folder ON file (service, resource_path, name);
"#;

/// The advisory lock key under which the trigram index is made.
const TRIGRAM_LOCK: i64 = 0x0F55_0002;

const COLUMNS: &str =
    "id, service, resource_path, name, content_type, size, created, modified, rel_path";

/// The file index in PostgreSQL.
#[derive(Debug)]
pub(crate) struct PgFileIndex {
    pg: Arc<Pg>,
    /// Set once this instance has made (or found) the trigram index, or found that it
    /// cannot be made.
    trigram: Arc<OnceCell<()>>,
}

impl PgFileIndex {
    /// The index in `pg`.
    pub(crate) fn new(pg: Arc<Pg>) -> Self {
        PgFileIndex {
            pg,
            trigram: Arc::new(OnceCell::new()),
        }
    }
}

impl PgFileIndex {
    /// The record `statement` answers for the file `id` of `service` (`$1`, `$2`).
    fn one(
        &self,
        statement: String,
        service: &str,
        id: &str,
        what: &'static str,
    ) -> Result<Option<FileRecord>> {
        let pg = Arc::clone(&self.pg);
        let (service, id) = (service.to_owned(), id.to_owned());
        self.pg.block(async move {
            let c = pg.client().await?;
            let row = c
                .query_opt(&statement, &[&id, &service])
                .await
                .map_err(|e| index_error(what, &e))?;
            Ok(row.as_ref().map(record))
        })
    }
}

impl FileIndex for PgFileIndex {
    fn open(&self) -> Result<()> {
        let pg = Arc::clone(&self.pg);
        let trigram = Arc::clone(&self.trigram);
        self.pg.block(async move {
            let mut c = pg.client().await?;
            trigram
                .get_or_try_init(|| async {
                    if let Err(e) = make_trigram_index(&mut c).await {
                        // Searching still works, unindexed; the next start tries again.
                        tracing::warn!(error = %e, "The trigram index of file names cannot be made.");
                    }
                    Ok::<_, Error>(())
                })
                .await?;
            Ok(())
        })
    }

    fn insert(&self, r: &FileRecord) -> Result<()> {
        let pg = Arc::clone(&self.pg);
        let r = r.clone();
        self.pg.block(async move {
            let c = pg.client().await?;
            c.execute(
                &format!(
                    "INSERT INTO file ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ),
                &[
                    &r.id,
                    &r.service,
                    &r.resource_path,
                    &r.name,
                    &r.content_type,
                    &r.size,
                    &r.created,
                    &r.modified,
                    &r.rel_path,
                ],
            )
            .await
            .map_err(|e| index_error("indexing a stored file", &e))?;
            Ok(())
        })
    }

    fn get(&self, service: &str, id: &str) -> Result<Option<FileRecord>> {
        self.one(
            format!("SELECT {COLUMNS} FROM file WHERE id = $1 AND service = $2"),
            service,
            id,
            "reading the file index",
        )
    }

    fn delete(&self, service: &str, id: &str) -> Result<Option<FileRecord>> {
        self.one(
            format!("DELETE FROM file WHERE id = $1 AND service = $2 RETURNING {COLUMNS}"),
            service,
            id,
            "deleting from the file index",
        )
    }

    fn list(
        &self,
        service: &str,
        resource_path: &str,
        q: &ListQuery,
    ) -> Result<(Vec<FileRecord>, bool)> {
        let dir = if q.descending { "DESC" } else { "ASC" };
        let col = q.order.column_name();
        let pattern = q.search_text().map(contains_pattern);
        let query = format!(
            "SELECT {COLUMNS} FROM file WHERE service = $1 AND resource_path = $2 {} \
             ORDER BY {col} {dir}, id {dir} LIMIT $3 OFFSET $4",
            if pattern.is_some() {
                "AND name ILIKE $5 ESCAPE '\\'"
            } else {
                ""
            }
        );
        let (want, offset) = q.window();
        let pg = Arc::clone(&self.pg);
        let (service, resource_path) = (service.to_owned(), resource_path.to_owned());
        let q = q.clone();
        self.pg.block(async move {
            let c = pg.client().await?;
            let mut params: Vec<&(dyn ToSql + Sync)> =
                vec![&service, &resource_path, &want, &offset];
            if let Some(p) = &pattern {
                params.push(p);
            }
            let rows = c
                .query(&query, &params)
                .await
                .map_err(|e| index_error("listing the file index", &e))?;
            Ok(q.page(rows.iter().map(record).collect()))
        })
    }
}

/// Makes the trigram index of file names when `pg_trgm` is installed.
async fn make_trigram_index(c: &mut deadpool_postgres::Object) -> Result<()> {
    let Some(opclass) = schema::trigram_opclass(c).await? else {
        return Ok(());
    };
    let tx = c
        .transaction()
        .await
        .map_err(|e| db_error("beginning the trigram index", &e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&TRIGRAM_LOCK])
        .await
        .map_err(|e| db_error("locking the trigram index", &e))?;
    tx.batch_execute(&format!(
        "CREATE INDEX IF NOT EXISTS file_name_trgm ON file USING gin (name {opclass})"
    ))
    .await
    .map_err(|e| db_error("making the trigram index", &e))?;
    tx.commit()
        .await
        .map_err(|e| db_error("committing the trigram index", &e))
}

fn record(r: &Row) -> FileRecord {
    FileRecord {
        id: r.get(0),
        service: r.get(1),
        resource_path: r.get(2),
        name: r.get(3),
        content_type: r.get(4),
        size: r.get(5),
        created: r.get(6),
        modified: r.get(7),
        rel_path: r.get(8),
    }
}

/// A full database disk is the client's to know (507), as a full SQLite disk is; any
/// other failure is [`db_error`]'s.
fn index_error(what: &'static str, e: &tokio_postgres::Error) -> Error {
    if e.code() == Some(&tokio_postgres::error::SqlState::DISK_FULL) {
        tracing::error!(error = %e, "Database error: {what}.");
        return Error::InsufficientStorage {
            what: "the file index cannot be written",
        };
    }
    db_error(what, e)
}
