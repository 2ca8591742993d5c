//! The PostgreSQL [`RunStore`]: the runs of the incoming API, shared by every instance.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::store::runs::{RunRow, RunStore};

use super::Pg;

/// The statements of this store's migration.
pub(super) const MIGRATION: &str = "";

/// The runs in PostgreSQL.
#[derive(Debug)]
pub(crate) struct PgRuns {
    #[allow(dead_code)]
    pg: Arc<Pg>,
}

impl PgRuns {
    /// The runs in `pg`.
    pub(crate) fn new(pg: Arc<Pg>) -> Self {
        PgRuns { pg }
    }
}

fn unbuilt() -> Error {
    Error::Unavailable("the PostgreSQL runs store is not built yet".into())
}

impl RunStore for PgRuns {
    fn insert(&self, _row: &RunRow) -> Result<()> {
        Err(unbuilt())
    }
    fn finish(&self, _id: &str, _status: &str, _finished_ms: i64, _answer: &str) -> Result<()> {
        Err(unbuilt())
    }
    fn get(&self, _id: &str) -> Result<Option<RunRow>> {
        Err(unbuilt())
    }
    fn find_idempotent(
        &self,
        _user: &str,
        _service: &str,
        _action: &str,
        _key: &str,
        _since_ms: i64,
    ) -> Result<Option<RunRow>> {
        Err(unbuilt())
    }
    fn purge(&self, _before_ms: i64) -> Result<usize> {
        Err(unbuilt())
    }
}
