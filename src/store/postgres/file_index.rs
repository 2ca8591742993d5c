//! The PostgreSQL [`FileIndex`]: the index of stored files, shared by every instance of
//! one database (the bytes live under the shared `--files-dir`).

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::store::{FileIndex, FileRecord, ListQuery};

use super::Pg;

/// The statements of this store's migration.
pub(super) const MIGRATION: &str = "";

/// The file index in PostgreSQL.
#[derive(Debug)]
pub(crate) struct PgFileIndex {
    #[allow(dead_code)]
    pg: Arc<Pg>,
}

impl PgFileIndex {
    /// The index in `pg`.
    pub(crate) fn new(pg: Arc<Pg>) -> Self {
        PgFileIndex { pg }
    }
}

fn unbuilt() -> Error {
    Error::Unavailable("the PostgreSQL file index is not built yet".into())
}

impl FileIndex for PgFileIndex {
    fn open(&self) -> Result<()> {
        Err(unbuilt())
    }
    fn insert(&self, _record: &FileRecord) -> Result<()> {
        Err(unbuilt())
    }
    fn get(&self, _service: &str, _id: &str) -> Result<Option<FileRecord>> {
        Err(unbuilt())
    }
    fn delete(&self, _service: &str, _id: &str) -> Result<Option<FileRecord>> {
        Err(unbuilt())
    }
    fn list(
        &self,
        _service: &str,
        _resource_path: &str,
        _query: &ListQuery,
    ) -> Result<(Vec<FileRecord>, bool)> {
        Err(unbuilt())
    }
}
