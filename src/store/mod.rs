//! Storage: the data behind the `store` builtin (tables of data actions, stored files) and
//! the registry of the control plane (users, deployments, service versions).
//!
//! Each kind of data is a trait — [`TableStore`], [`FileIndex`], [`Registry`] — so that a
//! backend is one folder that implements them plus one line in [`Stores::open`]. The
//! embedded backend is SQLite ([`sqlite`]), files and databases under the data folder.
//! What is the same whatever the database holds the index stays here: the bytes of stored
//! files on disk ([`files`]) and the extracted folders of deployments ([`deployments`]).
//!
//! Nothing above the process layer uses this module: operations reach the store through
//! the `store` process (`process::StoreProcess`), the admin API through `auth` and its
//! registry handle.

pub(crate) mod deployments;
pub(crate) mod files;
pub(crate) mod registry;
pub(crate) mod sqlite;

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

/// The stores of one runtime, chosen once at start.
#[derive(Debug, Clone)]
pub(crate) struct Stores {
    /// Tables of data actions.
    pub(crate) tables: Arc<dyn TableStore>,
    /// Stored files: bytes on disk, rows in the index.
    pub(crate) files: Files,
    /// Users, deployments and service versions.
    pub(crate) registry: Arc<dyn Registry>,
}

impl Stores {
    /// The embedded stores under `data_dir`; nothing is opened until first use.
    pub(crate) fn open(data_dir: &Path) -> Self {
        Stores {
            tables: Arc::new(sqlite::SqliteTables::new(data_dir)),
            files: Files::new(
                data_dir,
                Arc::new(sqlite::SqliteFileIndex::new(
                    data_dir.join(sqlite::FILE_INDEX),
                )),
            ),
            registry: Arc::new(sqlite::SqliteRegistry::new(data_dir)),
        }
    }
}
