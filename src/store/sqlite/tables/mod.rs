//! The SQLite [`TableStore`]: one SQLite table per (service, type) in `<data>/tables.db`.
//!
//! Concurrency: one dedicated writer thread owns the only write connection and takes jobs
//! from a bounded channel (a full queue makes senders wait, memory does not grow); each
//! job is one transaction, so a request is written whole or not at all. Loads run on a
//! fixed set of reader threads, each owning one read-only connection, fed by one bounded
//! queue: a fixed number of threads (not the blocking pool's, which grows a thread per
//! burst and keeps its memory) and no pool lock. The database is in WAL mode, so readers never
//! wait on the writer; the writer syncs as the store's [`Durability`] says (`FULL` by
//! default: a write is answered only once it would survive a power loss; `relaxed` is
//! `synchronous=NORMAL`, which survives a kill of fss only). No SQLite call runs on an
//! async worker thread; creating tables at mount time (a synchronous call) runs under
//! `block_in_place` when it is called from a multi-thread runtime.
//!
//! Save semantics: an object whose `externalId` is null or empty is created with the key
//! property's value as its id (a new UUID when the key is not given or the data action
//! names no key); an object with an `externalId` updates that row, or creates it with that
//! id. Only the properties an object carries are written; a Password sent without a value
//! keeps the stored one (answers carry passwords only when the property says
//! `returnOnLoad`). Values are parsed by property type before anything is written (see
//! [`value`]), and Password values sealed with the keystore's `exchange-admin-key`
//! (`<data>/keystore.key` unless `--keystore` moves it, opened with the database); one that does not fit refuses the
//! whole request with 400 naming the property.

mod page;
mod query;
mod scan;
pub(crate) mod schema;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use bytes::Bytes;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection, OpenFlags, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use crate::definition::TypeDefinition;
use crate::error::{Error, Result};
use crate::protocol::{ListFilter, MObject};
use crate::store::keystore::{Keystore, KeystoreFile, EXCHANGE_ADMIN_KEY};
use crate::store::table::{filter, render, write};
use crate::store::{Durability, StoreFuture, TableStore};
use scan::{ScanCache, ScanQuery};
use schema::{quote, sql_error, Table, ID_COLUMN};

/// The database file under the data folder.
pub(crate) const DB_FILE: &str = "tables.db";
/// Write jobs queued before senders wait.
const WRITE_QUEUE: usize = 256;
/// How long a connection waits on a lock held by another connection (mount-time DDL).
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// The page cache of each read-only connection, in KiB (as a negative `cache_size`).
const READER_CACHE_KIB: i64 = -512;
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 64;

/// The tables store under the data folder.
pub(crate) struct SqliteTables {
    data_dir: PathBuf,
    /// How the writer syncs its commits; set before the first mount.
    durability: Durability,
    /// The runtime's keystore: its `exchange-admin-key` seals the Password columns.
    keystore: Arc<KeystoreFile>,
    /// Opened by the first mount that needs a table.
    db: OnceLock<Arc<Db>>,
    /// Tables by service, then type, each with its kept columns; replaced when a service
    /// is mounted again.
    tables: RwLock<HashMap<String, HashMap<String, Mounted>>>,
}

impl std::fmt::Debug for SqliteTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteTables")
            .field("data_dir", &self.data_dir)
            .field("open", &self.db.get().is_some())
            .finish_non_exhaustive()
    }
}

/// A mounted table and the columns its loads keep in memory ([`scan`]).
type Mounted = (Arc<Table>, Arc<ScanCache>);

/// A write job: runs on the writer thread with the write connection.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A read job: runs on a reader thread with its read-only connection.
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;
/// Read jobs queued before loads wait.
const READ_QUEUE: usize = 1024;

/// The open database: the writer's queue and the readers' queue.
struct Db {
    path: PathBuf,
    /// The data folder's key, for the Password columns of every table.
    keystore: Arc<Keystore>,
    /// Sender side of the writer thread's queue; the thread ends when this drops.
    writer: mpsc::Sender<Job>,
    /// Sender side of the reader threads' queue; they end when this drops.
    readers: mpsc::Sender<ReadJob>,
}

impl SqliteTables {
    /// The store under `data_dir`, with [`Durability::Full`]; nothing is opened until a
    /// service needs a table.
    pub(crate) fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
            durability: Durability::default(),
            keystore: Arc::new(KeystoreFile::in_data_dir(data_dir)),
            db: OnceLock::new(),
            tables: RwLock::new(HashMap::new()),
        }
    }

    /// The same store, sealing Password values with the `exchange-admin-key` of
    /// `keystore` (the runtime's one handle) instead of the data folder's own.
    pub(crate) fn with_keystore(mut self, keystore: Arc<KeystoreFile>) -> Self {
        self.keystore = keystore;
        self
    }

    /// The same store, its writer syncing commits as `durability` says.
    pub(crate) fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Creates or extends the table of `ty` for `service` (mount time; blocking).
    ///
    /// # Errors
    ///
    /// The database or the keystore cannot be opened; a type cannot be stored; a property
    /// changed type.
    fn prepare_table(&self, service: &str, ty: &TypeDefinition, key: Option<&str>) -> Result<()> {
        let table = off_worker(|| {
            let db = self.open()?;
            let table = Table::new(service, ty, key, Arc::clone(&db.keystore))?;
            let mut conn = open_connection(&db.path, false)?;
            // Values sealed at mount leave no clear copy in freed pages of the file.
            conn.execute_batch("PRAGMA secure_delete = ON")
                .map_err(sql_error)?;
            if table.create_or_extend(&mut conn)? > 0 {
                // Nor in the log: copy it into the file and empty it (best effort; readers
                // may hold it, and then it empties at a later checkpoint).
                let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
            }
            Ok::<_, Error>(table)
        })?;
        self.tables
            .write()
            .expect("tables map lock is never poisoned: no code panics under it")
            .entry(service.to_owned())
            .or_default()
            .insert(ty.name.clone(), (Arc::new(table), Arc::default()));
        Ok(())
    }

    /// Loads the rows of `type_name` that `filter` selects: the ObjectDataResponse (JSON)
    /// of the page, with whether more rows follow it.
    ///
    /// # Errors
    ///
    /// 400 for a filter that names unknown columns or carries unfit values.
    async fn load_page(
        &self,
        service: &str,
        type_name: &str,
        filter: Option<&ListFilter>,
        provided: &[MObject],
    ) -> Result<Bytes> {
        let (db, table, cache) = self.get(service, type_name)?;
        let plan = filter::plan(&table, filter, provided)?;
        let scan = ScanQuery::of(&table, &plan);
        let q = query::build(&table, plan);
        db.read(move |conn| {
            let mut out = Vec::new();
            // A scan and its fallback read one snapshot.
            let _snapshot = match &scan {
                Some(_) => Some(Snapshot::begin(conn)?),
                None => None,
            };
            if let Some(scan) = &scan {
                if let Some((ids, more)) = cache.pick(conn, &table, scan)? {
                    fetch(conn, &table, &ids, &mut out)?;
                    render::finish(&mut out, more);
                    return Ok(Bytes::from(out));
                }
            }
            let more = match &q.shape {
                query::Shape::Rows { page } => {
                    let mut stmt = conn.prepare_cached(&q.sql).map_err(sql_error)?;
                    let mut rows = stmt.query(params_from_iter(&q.params)).map_err(sql_error)?;
                    let cap = page.unwrap_or(1);
                    out.reserve(render::HEAD.len() + cap.min(128) * table.template.estimate());
                    out.extend_from_slice(render::HEAD);
                    let mut n = 0;
                    let mut more = false;
                    while let Some(row) = rows.next().map_err(sql_error)? {
                        if n == cap {
                            more = true;
                            break;
                        }
                        render::object(
                            &mut out,
                            &table,
                            |i| row.get_ref(i).map_err(sql_error),
                            n == 0,
                        )?;
                        n += 1;
                    }
                    more
                }
                query::Shape::Keys {
                    descending,
                    offset,
                    page,
                } => {
                    // Both steps read one snapshot.
                    let _own = match conn.is_autocommit() {
                        true => Some(Snapshot::begin(conn)?),
                        false => None,
                    };
                    let (ids, more) = {
                        let mut stmt = conn.prepare_cached(&q.sql).map_err(sql_error)?;
                        let rows = stmt.query(params_from_iter(&q.params)).map_err(sql_error)?;
                        page::pick(rows, descending, *offset, *page).map_err(sql_error)?
                    };
                    fetch(conn, &table, &ids, &mut out)?;
                    more
                }
            };
            render::finish(&mut out, more);
            Ok(Bytes::from(out))
        })
        .await
    }

    /// Saves `objects` in one transaction and answers them as stored, in input order.
    ///
    /// # Errors
    ///
    /// 400 naming the property whose value does not fit; nothing is written then.
    async fn save_rows(
        &self,
        service: &str,
        type_name: &str,
        objects: &[MObject],
    ) -> Result<Vec<MObject>> {
        let (db, table, _) = self.get(service, type_name)?;
        let rows = objects
            .iter()
            .map(|o| write::RowWrite::from_object(&table, o))
            .collect::<Result<Vec<_>>>()?;
        db.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_error)?;
            // Each upsert answers its row as stored (RETURNING): no second lookup.
            let mut saved = Vec::with_capacity(rows.len());
            for r in &rows {
                let sql = upsert_sql(r, &table);
                let mut stmt = tx.prepare_cached(&sql).map_err(sql_error)?;
                let params = std::iter::once(SqlValue::Text(r.id.clone()))
                    .chain(r.values.iter().map(|(_, v)| v.clone()));
                let o = stmt
                    .query_row(params_from_iter(params), |row| {
                        Ok(write::object(&table, |i| row.get_ref(i).map_err(sql_error)))
                    })
                    .map_err(sql_error)??;
                saved.push(o);
            }
            bump(&tx, &table)?;
            tx.commit().map_err(sql_error)?;
            Ok(saved)
        })
        .await
    }

    /// Deletes the rows with these external ids in one transaction; missing ones are
    /// not an error.
    ///
    /// # Errors
    ///
    /// Only failures of the store itself.
    async fn delete_rows(&self, service: &str, type_name: &str, ids: Vec<String>) -> Result<()> {
        let (db, table, _) = self.get(service, type_name)?;
        if ids.is_empty() {
            return Ok(());
        }
        db.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_error)?;
            {
                let sql = format!(
                    "DELETE FROM {} WHERE {} = ?",
                    table.quoted,
                    quote(ID_COLUMN)
                );
                let mut stmt = tx.prepare_cached(&sql).map_err(sql_error)?;
                for id in &ids {
                    stmt.execute([id]).map_err(sql_error)?;
                }
            }
            bump(&tx, &table)?;
            tx.commit().map_err(sql_error)
        })
        .await
    }

    fn get(&self, service: &str, type_name: &str) -> Result<(Arc<Db>, Arc<Table>, Arc<ScanCache>)> {
        let (table, cache) = self
            .tables
            .read()
            .expect("tables map lock is never poisoned")
            .get(service)
            .and_then(|t| t.get(type_name))
            .cloned()
            .ok_or_else(|| {
                Error::internal(format!("no table was prepared for type '{type_name}'"))
            })?;
        let db = self
            .db
            .get()
            .cloned()
            .ok_or_else(|| Error::internal("the tables store is not open"))?;
        Ok((db, table, cache))
    }

    fn open(&self) -> Result<Arc<Db>> {
        if let Some(db) = self.db.get() {
            return Ok(Arc::clone(db));
        }
        std::fs::create_dir_all(&self.data_dir).map_err(|e| {
            Error::internal(format!(
                "data folder {} cannot be created: {e}",
                self.data_dir.display()
            ))
        })?;
        let keystore = Arc::new(self.keystore.key(EXCHANGE_ADMIN_KEY)?);
        let db = Db::open(self.data_dir.join(DB_FILE), keystore, self.durability)?;
        // Two mounts racing here both open; the loser's writer thread ends with its sender.
        Ok(Arc::clone(self.db.get_or_init(|| db)))
    }
}

impl TableStore for SqliteTables {
    fn prepare(&self, service: &str, ty: &TypeDefinition, key: Option<&str>) -> Result<()> {
        self.prepare_table(service, ty, key)
    }

    fn load<'a>(
        &'a self,
        service: &'a str,
        type_name: &'a str,
        filter: Option<&'a ListFilter>,
        provided: &'a [MObject],
    ) -> StoreFuture<'a, Bytes> {
        Box::pin(self.load_page(service, type_name, filter, provided))
    }

    fn save<'a>(
        &'a self,
        service: &'a str,
        type_name: &'a str,
        objects: &'a [MObject],
    ) -> StoreFuture<'a, Vec<MObject>> {
        Box::pin(self.save_rows(service, type_name, objects))
    }

    fn delete<'a>(
        &'a self,
        service: &'a str,
        type_name: &'a str,
        ids: Vec<String>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(self.delete_rows(service, type_name, ids))
    }
}

// === impl Db ===

impl Db {
    fn open(path: PathBuf, keystore: Arc<Keystore>, durability: Durability) -> Result<Arc<Db>> {
        let mut conn = open_connection(&path, false)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(sql_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::internal(format!(
                "tables store: WAL mode refused ({mode})"
            )));
        }
        conn.pragma_update(None, "synchronous", durability.synchronous())
            .map_err(sql_error)?;
        conn.execute_batch(&scan::changes_ddl())
            .map_err(sql_error)?;
        let (tx, mut rx) = mpsc::channel::<Job>(WRITE_QUEUE);
        std::thread::Builder::new()
            .name("fss-tables-writer".into())
            .spawn(move || {
                while let Some(job) = rx.blocking_recv() {
                    // A panicking job must not take the writer down with it; its caller
                    // sees the dropped reply as an internal error.
                    let _ =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut conn)));
                }
            })
            .map_err(|e| Error::internal(format!("tables writer thread cannot start: {e}")))?;
        let readers = start_readers(&path)?;
        Ok(Arc::new(Db {
            path,
            keystore,
            writer: tx,
            readers,
        }))
    }

    /// Runs `f` as one job on the writer thread.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        self.writer
            .send(job)
            .await
            .map_err(|_| Error::internal("the tables writer has stopped"))?;
        rx.await
            .map_err(|_| Error::internal("the tables writer dropped a job"))?
    }

    /// Runs `f` with a read-only connection on a reader thread.
    async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        let job: ReadJob = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        self.readers
            .send(job)
            .await
            .map_err(|_| Error::internal("the tables readers have stopped"))?;
        rx.await
            .map_err(|_| Error::internal("a table load failed: its reader dropped it"))?
    }
}

/// Opens one read-only connection per reader (two per core, 4 to 16) and starts their
/// threads on one queue.
///
/// # Errors
///
/// A connection cannot be opened or a thread cannot start.
fn start_readers(path: &Path) -> Result<mpsc::Sender<ReadJob>> {
    let n = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8)
        * 2;
    let (tx, rx) = mpsc::channel::<ReadJob>(READ_QUEUE);
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..n {
        let conn = open_connection(path, true)?;
        let rx = Arc::clone(&rx);
        std::thread::Builder::new()
            .name(format!("fss-tables-reader-{i}"))
            .spawn(move || loop {
                // One thread waits on the queue at a time; the others wait for the lock.
                let job = rx
                    .lock()
                    .expect("reader queue lock is never poisoned: nothing panics under it")
                    .blocking_recv();
                let Some(job) = job else {
                    return;
                };
                // A panicking load must not take its reader down; its caller sees the
                // dropped reply as an internal error.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&conn)));
            })
            .map_err(|e| Error::internal(format!("tables reader thread cannot start: {e}")))?;
    }
    Ok(tx)
}

/// Runs blocking `f` in place, first telling a multi-thread tokio runtime (when called
/// from one of its workers) to move its other tasks elsewhere. Mounting is synchronous, so
/// this is the most it can do; on a current-thread runtime `f` simply runs.
fn off_worker<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Opens a connection to the database file (read-only for loads).
fn open_connection(path: &Path, read_only: bool) -> Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
    };
    let conn = Connection::open_with_flags(path, flags).map_err(sql_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_error)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    if read_only {
        // A load reads its page's rows (and the columns kept in memory once per write):
        // a small page cache per reader is enough, and there are several readers.
        conn.pragma_update(None, "cache_size", READER_CACHE_KIB)
            .map_err(sql_error)?;
    }
    Ok(conn)
}

/// Renders the rows of `ids`, in that order, as the objects of a response.
///
/// One statement reads them all (in rowid order, as SQLite finds them); each is rendered
/// into a scratch buffer and the objects are then laid out in page order.
fn fetch(conn: &Connection, table: &Table, ids: &[i64], out: &mut Vec<u8>) -> Result<()> {
    out.extend_from_slice(render::HEAD);
    if ids.is_empty() {
        return Ok(());
    }
    let rowid_col = table.columns.len() + 1;
    let sql = format!(
        "{}, {t}.rowid FROM {t} WHERE {t}.rowid IN (SELECT value FROM json_each(?))",
        table.select_list,
        t = table.quoted
    );
    let mut list = String::with_capacity(ids.len() * 12 + 2);
    list.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        write!(list, "{id}").expect("writing to a String cannot fail");
    }
    list.push(']');
    // Page positions by rowid, to place each row as it comes.
    let mut wanted: Vec<(i64, usize)> = ids.iter().copied().zip(0..).collect();
    wanted.sort_unstable();
    let mut scratch = Vec::with_capacity(ids.len() * table.template.estimate());
    let mut spans = vec![(0, 0); ids.len()];
    let mut stmt = conn.prepare_cached(&sql).map_err(sql_error)?;
    let mut rows = stmt.query([list]).map_err(sql_error)?;
    let mut found = 0;
    while let Some(row) = rows.next().map_err(sql_error)? {
        let rowid: i64 = row.get(rowid_col).map_err(sql_error)?;
        let Ok(at) = wanted.binary_search_by_key(&rowid, |(id, _)| *id) else {
            continue;
        };
        let start = scratch.len();
        render::object(
            &mut scratch,
            table,
            |i| row.get_ref(i).map_err(sql_error),
            true,
        )?;
        spans[wanted[at].1] = (start, scratch.len());
        found += 1;
    }
    if found != ids.len() {
        return Err(Error::internal(
            "table store: rows of the page vanished within a snapshot",
        ));
    }
    out.reserve(scratch.len() + ids.len() + 64);
    for (i, (start, end)) in spans.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&scratch[start..end]);
    }
    Ok(())
}

/// Bumps the generation of `table` in the write transaction `tx` (see [`scan`]).
fn bump(tx: &rusqlite::Transaction<'_>, table: &Table) -> Result<()> {
    tx.prepare_cached(&scan::bump_sql())
        .and_then(|mut s| s.execute([&table.name]))
        .map_err(sql_error)?;
    Ok(())
}

/// A read transaction: the statements run while it lives see one snapshot.
struct Snapshot<'c>(&'c Connection);

impl<'c> Snapshot<'c> {
    fn begin(conn: &'c Connection) -> Result<Self> {
        conn.prepare_cached("BEGIN")
            .and_then(|mut s| s.execute([]))
            .map_err(sql_error)?;
        Ok(Snapshot(conn))
    }
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        // Nothing was written: ending it cannot lose anything. A connection left inside a
        // transaction would pin its snapshot, so fall back to ROLLBACK.
        let ended = self
            .0
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]));
        if ended.is_err() && !self.0.is_autocommit() {
            let _ = self.0.execute_batch("ROLLBACK");
        }
    }
}

/// `INSERT ... ON CONFLICT("$externalId") DO UPDATE SET` the columns carried, `RETURNING`
/// the row as stored, in [`Table::select`]'s columns. An object carrying no property
/// sets its id to itself, so that the row is returned all the same.
fn upsert_sql(row: &write::RowWrite, table: &Table) -> String {
    let id = quote(ID_COLUMN);
    let mut cols = id.clone();
    let mut marks = String::from("?");
    let mut set = String::new();
    for (i, _) in &row.values {
        let q = &table.columns[*i].quoted;
        cols.push_str(", ");
        cols.push_str(q);
        marks.push_str(", ?");
        if !set.is_empty() {
            set.push_str(", ");
        }
        set.push_str(&format!("{q} = excluded.{q}"));
    }
    if set.is_empty() {
        set = format!("{id} = excluded.{id}");
    }
    let mut returning = id.clone();
    for c in &table.columns {
        returning.push_str(", ");
        returning.push_str(&c.quoted);
    }
    format!(
        "INSERT INTO {} ({cols}) VALUES ({marks}) ON CONFLICT({id}) DO UPDATE SET {set} \
         RETURNING {returning}",
        table.quoted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item_type(json: &str) -> TypeDefinition {
        serde_json::from_str(json).expect("type parses")
    }

    /// `PRAGMA synchronous` of the writer's connection.
    async fn synchronous(tables: &SqliteTables) -> i64 {
        let db = tables.db.get().cloned().expect("opened by prepare");
        db.write(|conn| {
            conn.query_row("PRAGMA synchronous", [], |r| r.get(0))
                .map_err(sql_error)
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn durability_sets_synchronous_of_the_writer() {
        let ty = item_type(r#"{"name":"T","properties":[{"name":"Id"}]}"#);
        // PRAGMA synchronous reads 2 for FULL, 1 for NORMAL.
        for (durability, want) in [
            (None, 2),
            (Some(Durability::Full), 2),
            (Some(Durability::Relaxed), 1),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let mut tables = SqliteTables::new(dir.path());
            if let Some(d) = durability {
                tables = tables.with_durability(d);
            }
            tables.prepare("S", &ty, Some("Id")).unwrap();
            assert_eq!(synchronous(&tables).await, want, "{durability:?}");
        }
    }

    /// The external ids of a load's page and its `hasMoreResults`.
    async fn page_ids(tables: &SqliteTables, filter: &ListFilter) -> (Vec<String>, bool) {
        let page = tables.load_page("S", "T", Some(filter), &[]).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&page).unwrap();
        let ids = v["objectData"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["externalId"].as_str().unwrap().to_owned())
            .collect();
        (ids, v["hasMoreResults"].as_bool().unwrap())
    }

    /// A store under `dir` with type `T` (`Id` the key, `Name`, Number `N`) of service `S`.
    fn tables_of_t(dir: &Path) -> SqliteTables {
        let tables = SqliteTables::new(dir);
        let ty = item_type(
            r#"{"name":"T","properties":[{"name":"Id"},{"name":"Name"},
                {"name":"N","type":"Number"}]}"#,
        );
        tables.prepare("S", &ty, Some("Id")).unwrap();
        tables
    }

    fn objects(rows: &[(&str, &str, f64)]) -> Vec<MObject> {
        rows.iter()
            .map(|(id, name, n)| {
                serde_json::from_value(serde_json::json!({
                    "externalId": id, "developerName": "T", "properties": [
                        { "developerName": "Id", "contentValue": id },
                        { "developerName": "Name", "contentValue": name },
                        { "developerName": "N", "contentType": "ContentNumber",
                          "contentValue": n.to_string() } ] }))
                .unwrap()
            })
            .collect()
    }

    #[tokio::test]
    async fn a_save_answers_rows_as_stored_also_without_properties() {
        let dir = tempfile::tempdir().unwrap();
        let tables = tables_of_t(dir.path());
        tables
            .save_rows("S", "T", &objects(&[("a", "first", 12.5)]))
            .await
            .unwrap();
        let bare: MObject = serde_json::from_value(serde_json::json!({
            "externalId": "a", "developerName": "T", "properties": [] }))
        .unwrap();
        let saved = tables.save_rows("S", "T", &[bare]).await.unwrap();
        let v = serde_json::to_value(&saved).unwrap();
        assert_eq!(v[0]["externalId"], "a");
        assert_eq!(v[0]["properties"][1]["contentValue"], "first");
        assert_eq!(v[0]["properties"][2]["contentValue"], "12.5");
        // A new row without properties is created and answered too.
        let new: MObject = serde_json::from_value(serde_json::json!({
            "externalId": "b", "developerName": "T", "properties": [] }))
        .unwrap();
        let saved = tables.save_rows("S", "T", &[new]).await.unwrap();
        let v = serde_json::to_value(&saved).unwrap();
        assert_eq!(v[0]["externalId"], "b");
        assert_eq!(
            v[0]["properties"][1]["contentValue"],
            serde_json::Value::Null
        );
    }

    #[tokio::test]
    async fn loads_from_kept_columns_see_every_write_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let tables = tables_of_t(dir.path());
        let save = |rows: &[(&str, &str, f64)]| {
            let objects = objects(rows);
            let tables = &tables;
            async move { tables.save_rows("S", "T", &objects).await.unwrap() }
        };
        save(&[
            ("a", "a blue one", 1.0),
            ("b", "red", 2.0),
            ("c", "BLUE two", 3.0),
        ])
        .await;
        let filter: ListFilter = serde_json::from_value(serde_json::json!({
            "where": [ { "columnName": "Name", "criteriaType": "CONTAINS", "contentValue": "Blue" } ],
            "orderBy": [ { "columnName": "N", "direction": "DESC" } ], "limit": 1 }))
        .unwrap();
        let all = ListFilter {
            limit: Some(10),
            ..filter.clone()
        };
        // The first load reads the columns; the second is answered from them.
        for _ in 0..2 {
            assert_eq!(page_ids(&tables, &filter).await, (vec!["c".into()], true));
            assert_eq!(
                page_ids(&tables, &all).await,
                (vec!["c".into(), "a".into()], false)
            );
        }
        save(&[("a", "green", 1.0)]).await;
        assert_eq!(page_ids(&tables, &all).await, (vec!["c".into()], false));
        save(&[("d", "blue", 9.0), ("e", "blue", 0.5)]).await;
        assert_eq!(
            page_ids(&tables, &all).await,
            (vec!["d".into(), "c".into(), "e".into()], false)
        );
        tables
            .delete_rows("S", "T", vec!["c".into()])
            .await
            .unwrap();
        assert_eq!(
            page_ids(&tables, &all).await,
            (vec!["d".into(), "e".into()], false)
        );
        let cache = Arc::clone(&tables.get("S", "T").unwrap().2);
        let kept = cache.generation();
        assert_eq!(
            kept,
            Some(4),
            "three saves and a delete: the page came from generation 4"
        );
    }

    #[tokio::test]
    async fn mounting_seals_clear_passwords_and_renames_reserved_columns() {
        let dir = tempfile::tempdir().unwrap();
        {
            // A table as stored before Password values were sealed and names mapped.
            let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            conn.execute_batch(
                r#"CREATE TABLE "S/T" ("$externalId" TEXT NOT NULL UNIQUE, "Id" TEXT,
                       "$tag" TEXT, "Secret" PASSWORD_TEXT);
                   INSERT INTO "S/T" VALUES ('a', 'a', 'tagged', 'clear-pw-4711');"#,
            )
            .unwrap();
        }
        let ty = item_type(
            r#"{"name":"T","properties":[{"name":"Id"},{"name":"$tag"},
                {"name":"Secret","type":"Password","returnOnLoad":true}]}"#,
        );
        let tables = SqliteTables::new(dir.path());
        tables.prepare("S", &ty, Some("Id")).unwrap();
        let page = tables.load_page("S", "T", None, &[]).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&page).unwrap();
        let props = &v["objectData"][0]["properties"];
        assert_eq!(props[1]["developerName"], "$tag");
        assert_eq!(props[1]["contentValue"], "tagged");
        assert_eq!(props[2]["contentValue"], "clear-pw-4711");
        let db = tables.db.get().cloned().unwrap();
        let (stored, columns): (String, String) = db
            .write(|conn| {
                let stored = conn
                    .query_row(r#"SELECT "Secret" FROM "S/T""#, [], |r| r.get(0))
                    .map_err(sql_error)?;
                let columns = conn
                    .query_row(
                        r#"SELECT group_concat(name, ',') FROM pragma_table_info('S/T')"#,
                        [],
                        |r| r.get(0),
                    )
                    .map_err(sql_error)?;
                Ok((stored, columns))
            })
            .await
            .unwrap();
        assert!(
            stored.starts_with(crate::store::keystore::PREFIX),
            "{stored}"
        );
        assert_eq!(columns, "$externalId,Id,$p:$tag,Secret");
        drop(db);
        drop(tables);
        let mut bytes = std::fs::read(dir.path().join(DB_FILE)).unwrap();
        bytes.extend(std::fs::read(dir.path().join("tables.db-wal")).unwrap_or_default());
        assert!(
            !bytes.windows(13).any(|w| w == b"clear-pw-4711"),
            "no clear copy is left in the database file or its log"
        );
    }
}
