//! The PostgreSQL [`ListenerStore`]: Flow listener registrations, shared by every
//! instance.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::store::listeners::{ListenerRow, ListenerStore};

use super::Pg;

/// The statements of this store's migration.
pub(super) const MIGRATION: &str = "";

/// The listener registrations in PostgreSQL.
#[derive(Debug)]
pub(crate) struct PgListeners {
    #[allow(dead_code)]
    pg: Arc<Pg>,
}

impl PgListeners {
    /// The registrations in `pg`.
    pub(crate) fn new(pg: Arc<Pg>) -> Self {
        PgListeners { pg }
    }
}

fn unbuilt() -> Error {
    Error::Unavailable("the PostgreSQL listener store is not built yet".into())
}

impl ListenerStore for PgListeners {
    fn insert(&self, _row: &ListenerRow) -> Result<()> {
        Err(unbuilt())
    }
    fn remove(&self, _id: &str) -> Result<()> {
        Err(unbuilt())
    }
    fn load(&self, _now_ms: i64) -> Result<Vec<ListenerRow>> {
        Err(unbuilt())
    }
}
