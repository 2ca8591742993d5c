//! Storage: the data behind the `store` builtin (tables of data actions, stored files) and
//! the registry of the control plane (users, deployments, service versions).
//!
//! Each kind of data is a trait — [`TableStore`], [`FileIndex`], [`Registry`] — so that a
//! backend is one folder that implements them plus one line in [`Stores::open`]. The
//! embedded backend is SQLite ([`sqlite`]), files and databases under the data folder;
//! `--database postgres://…` puts them all in PostgreSQL ([`postgres`]), shared by
//! several instances.
//! What is the same whatever the database holds the index stays here: the bytes of stored
//! files on disk ([`files`]), the extracted folders of deployments ([`deployments`]), and
//! the keystore of named secrets whose keys seal secrets at rest ([`keystore`]).
//!
//! Also here, because every backend and every process answers them the same: how hard an
//! acknowledged write lasts ([`Durability`]), and the limits of a load filter
//! ([`MAX_WHERE_ENTRIES`] and the constants after it), each refused with 400 naming it.
//!
//! Nothing above the process layer uses this module: operations reach the store through
//! the `store` process (`process::StoreProcess`), the admin API through `auth` and its
//! registry handle.

pub(crate) mod deployments;
pub(crate) mod files;
pub(crate) mod folder_lock;
pub(crate) mod keystore;
pub(crate) mod listeners;
pub(crate) mod postgres;
pub(crate) mod registry;
pub(crate) mod runs;
pub(crate) mod sqlite;
pub(crate) mod table;

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use crate::definition::TypeDefinition;
use crate::error::Result;
use crate::protocol::{ListFilter, MObject};

pub(crate) use files::{
    FileIndex, FileRecord, Files, Finished, ListQuery, NewFile, OrderColumn, Sink,
};
pub(crate) use registry::Registry;

/// How hard the tables and the file index make an acknowledged write last
/// (`--durability`, `FSS_DURABILITY`). The registry of the admin API is always `Full`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// A write is answered only once it is on stable storage (SQLite `synchronous=FULL` in
    /// WAL mode: every commit syncs the log). It survives a kill and a power loss. The
    /// default.
    #[default]
    Full,
    /// A write is answered once it is in the log, synced only at checkpoints (SQLite
    /// `synchronous=NORMAL`): it survives a kill of fss, but the last writes before a
    /// power loss or an OS crash may be lost. The database itself stays consistent.
    Relaxed,
}

impl Durability {
    /// The value of `PRAGMA synchronous` this durability sets.
    pub(crate) fn synchronous(self) -> &'static str {
        match self {
            Durability::Full => "FULL",
            Durability::Relaxed => "NORMAL",
        }
    }
}

impl std::str::FromStr for Durability {
    type Err = ();

    /// `full` or `relaxed`, in any case.
    fn from_str(s: &str) -> Result<Self, ()> {
        if s.eq_ignore_ascii_case("full") {
            Ok(Durability::Full)
        } else if s.eq_ignore_ascii_case("relaxed") {
            Ok(Durability::Relaxed)
        } else {
            Err(())
        }
    }
}

/// The most `where` entries one load filter holds, those of nested `listFilters`
/// counted: more would take SQLite past its expression depth.
pub(crate) const MAX_WHERE_ENTRIES: usize = 100;
/// The most values one `ANY_EQUAL` or `ALL_EQUAL` entry compares with (its `objectData`).
pub(crate) const MAX_CRITERIA_VALUES: usize = 1000;
/// The most sort keys of one `orderBy`.
pub(crate) const MAX_ORDER_KEYS: usize = 32;
/// The longest column name a filter may give that is not a property's, in bytes: a longer
/// one is refused without being echoed back (property names themselves have no limit).
pub(crate) const MAX_COLUMN_NAME_BYTES: usize = 255;
/// The longest `search` text, and value of a `CONTAINS`, `STARTS_WITH` or `ENDS_WITH`
/// entry, in characters (tables and file lists): patterns stay far below SQLite's LIKE
/// limit (50 000 bytes) and the trigram query stays small.
pub(crate) const MAX_SEARCH_CHARS: usize = 1024;

/// The future of a store call.
pub(crate) type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// The tables of data actions: one table per (service, type), rows keyed by external id.
pub(crate) trait TableStore: Send + Sync + fmt::Debug {
    /// Creates or extends the table of `ty` for `service` (mount time; blocking).
    ///
    /// # Errors
    ///
    /// The database cannot be opened; a name cannot be a column; a property changed type.
    fn prepare(&self, service: &str, ty: &TypeDefinition, key: Option<&str>) -> Result<()>;

    /// The ObjectDataResponse (JSON, rendered straight from the rows) of the page of rows
    /// of `type_name` that `filter` selects.
    ///
    /// # Errors
    ///
    /// 400 for a filter that names unknown columns or carries unfit values.
    fn load<'a>(
        &'a self,
        service: &'a str,
        type_name: &'a str,
        filter: Option<&'a ListFilter>,
        provided: &'a [MObject],
    ) -> StoreFuture<'a, Bytes>;

    /// Saves `objects` in one transaction; answers them as stored, in input order.
    ///
    /// # Errors
    ///
    /// 400 naming the property whose value does not fit; nothing is written then.
    fn save<'a>(
        &'a self,
        service: &'a str,
        type_name: &'a str,
        objects: &'a [MObject],
    ) -> StoreFuture<'a, Vec<MObject>>;

    /// Deletes the rows with these external ids in one transaction; missing ones are not
    /// an error.
    ///
    /// # Errors
    ///
    /// Only failures of the store itself.
    fn delete<'a>(
        &'a self,
        service: &'a str,
        type_name: &'a str,
        ids: Vec<String>,
    ) -> StoreFuture<'a, ()>;
}

/// What choosing the stores takes of the runtime's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StoreConfig<'a> {
    /// The data folder (`--data`).
    pub(crate) data_dir: &'a Path,
    /// How hard the embedded stores sync (`--durability`).
    pub(crate) durability: Durability,
    /// The shared database (`--database`), when one is named.
    pub(crate) database_url: Option<&'a str>,
    /// The folder of stored files (`--files-dir`), when it is not the data folder's.
    pub(crate) files_dir: Option<&'a Path>,
}

/// The stores of one runtime, chosen once at start.
#[derive(Debug, Clone)]
pub(crate) struct Stores {
    /// Tables of data actions.
    pub(crate) tables: Arc<dyn TableStore>,
    /// Stored files: bytes on disk, rows in the index.
    pub(crate) files: Files,
    /// Users, deployments and service versions.
    pub(crate) registry: Arc<dyn Registry>,
    /// The runs of the incoming API.
    pub(crate) runs: Arc<dyn runs::RunStore>,
    /// Flow listener registrations.
    pub(crate) listeners: Arc<dyn listeners::ListenerStore>,
    /// The keystore: the tables' key, the OAuth providers' key, the operator's aliases.
    pub(crate) keystore: Arc<keystore::KeystoreFile>,
    /// The shared database, when `--database` names one.
    pub(crate) database: Option<Arc<postgres::Pg>>,
}

impl Stores {
    /// The embedded stores under `data_dir`, writing with `durability`; nothing is
    /// opened until first use.
    pub(crate) fn open(data_dir: &Path, durability: Durability) -> Self {
        let keystore = Arc::new(keystore::KeystoreFile::in_data_dir(data_dir));
        Self::open_with_keystore(data_dir, durability, keystore)
    }

    /// The embedded stores, with the keystore `keystore` (`--keystore` moves it out of
    /// the data folder).
    pub(crate) fn open_with_keystore(
        data_dir: &Path,
        durability: Durability,
        keystore: Arc<keystore::KeystoreFile>,
    ) -> Self {
        Stores {
            tables: Arc::new(
                sqlite::SqliteTables::new(data_dir)
                    .with_durability(durability)
                    .with_keystore(Arc::clone(&keystore)),
            ),
            files: Files::new(
                data_dir,
                Arc::new(
                    sqlite::SqliteFileIndex::new(data_dir.join(sqlite::FILE_INDEX))
                        .with_durability(durability),
                ),
            ),
            registry: Arc::new(sqlite::SqliteRegistry::new(data_dir)),
            runs: Arc::new(sqlite::SqliteRuns::new(data_dir, durability)),
            listeners: Arc::new(sqlite::SqliteListeners::new(data_dir, Durability::Full)),
            keystore,
            database: None,
        }
    }

    /// The stores `config` asks for: PostgreSQL when it names a database, else the
    /// embedded ones; stored files under `--files-dir` when it is set.
    pub(crate) fn for_config(
        config: &StoreConfig<'_>,
        keystore: Arc<keystore::KeystoreFile>,
    ) -> Self {
        let data_dir = config.data_dir;
        let Some(url) = config.database_url else {
            let mut stores = Self::open_with_keystore(data_dir, config.durability, keystore);
            if let Some(dir) = config.files_dir {
                stores.files = Files::new(
                    dir,
                    Arc::new(
                        sqlite::SqliteFileIndex::new(data_dir.join(sqlite::FILE_INDEX))
                            .with_durability(config.durability),
                    ),
                )
                .shared();
            }
            return stores;
        };
        let pg = postgres::Pg::new(url);
        let index: Arc<dyn FileIndex> = Arc::new(postgres::PgFileIndex::new(Arc::clone(&pg)));
        // `--files-dir DIR` holds `DIR/files/…` (and, unless `--keystore` says otherwise,
        // the keystore every instance shares: see `Runtime::new`).
        let files = match config.files_dir {
            Some(dir) => Files::new(dir, index).shared(),
            None => Files::new(data_dir, index),
        };
        Stores {
            tables: Arc::new(postgres::PgTables::new(
                Arc::clone(&pg),
                Arc::clone(&keystore),
            )),
            files,
            registry: Arc::new(postgres::PgRegistry::new(Arc::clone(&pg), data_dir)),
            runs: Arc::new(postgres::PgRuns::new(Arc::clone(&pg), data_dir)),
            listeners: Arc::new(postgres::PgListeners::new(Arc::clone(&pg))),
            keystore,
            database: Some(pg),
        }
    }
}
