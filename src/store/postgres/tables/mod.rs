//! The PostgreSQL [`TableStore`]: the tables of data actions, shared by every instance.

use std::sync::Arc;

use bytes::Bytes;

use crate::definition::TypeDefinition;
use crate::error::{Error, Result};
use crate::protocol::{ListFilter, MObject};
use crate::store::keystore::KeystoreFile;
use crate::store::{StoreFuture, TableStore};

use super::Pg;

/// The statements of this store's migration.
pub(super) const MIGRATION: &str = "";

/// The tables in PostgreSQL.
#[derive(Debug)]
pub(crate) struct PgTables {
    #[allow(dead_code)]
    pg: Arc<Pg>,
    #[allow(dead_code)]
    keystore: Arc<KeystoreFile>,
}

impl PgTables {
    /// The tables in `pg`, Password values sealed with `keystore`'s `exchange-admin-key`.
    pub(crate) fn new(pg: Arc<Pg>, keystore: Arc<KeystoreFile>) -> Self {
        PgTables { pg, keystore }
    }
}

fn unbuilt() -> Error {
    Error::Unavailable("the PostgreSQL tables are not built yet".into())
}

impl TableStore for PgTables {
    fn prepare(&self, _service: &str, _ty: &TypeDefinition, _key: Option<&str>) -> Result<()> {
        Err(unbuilt())
    }
    fn load<'a>(
        &'a self,
        _service: &'a str,
        _type_name: &'a str,
        _filter: Option<&'a ListFilter>,
        _provided: &'a [MObject],
    ) -> StoreFuture<'a, Bytes> {
        Box::pin(async { Err(unbuilt()) })
    }
    fn save<'a>(
        &'a self,
        _service: &'a str,
        _type_name: &'a str,
        _objects: &'a [MObject],
    ) -> StoreFuture<'a, Vec<MObject>> {
        Box::pin(async { Err(unbuilt()) })
    }
    fn delete<'a>(
        &'a self,
        _service: &'a str,
        _type_name: &'a str,
        _ids: Vec<String>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async { Err(unbuilt()) })
    }
}
