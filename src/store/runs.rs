//! The durable runs of the incoming API: one row per trigger that ran something, so that
//! the poll URL (`GET /api/1/action/{service}/{action}/trigger/{processId}`) answers
//! after the 202, after a restart, and that an `Idempotency-Key` repeat finds what the
//! first call did.
//!
//! A row is written before the caller is answered 202 (or is answered at all) and
//! updated when the run ends. Rows older than the retention (`--api-retention-days`) are
//! purged. Every call blocks (SQLite, fsync): callers run them off the async workers.

use std::fmt;

use crate::error::Result;

/// Status of a run that has not ended.
pub(crate) const RUNNING: &str = "running";
/// Status of a run that ended with an answer (an array run, even with failed records).
pub(crate) const FINISHED: &str = "finished";
/// Status of a single call that failed, or of a run fss lost (a restart).
pub(crate) const FAILED: &str = "failed";

/// The answer of a run that a restart of fss cut short: it cannot end any more.
pub(crate) const LOST: &str =
    r#"{"status":"Fail","message":"fss restarted before this run ended; its result is lost"}"#;

/// The columns of a stored run, in the order of [`RunRow`]'s fields (every backend).
pub(crate) const COLUMNS: &str = "process_id, service, action, user_id, mode, status, \
                                  started_ms, finished_ms, answer, idempotency_key, body_sha256";

/// One run as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunRow {
    /// The process id (a UUID), the last segment of the poll URL.
    pub(crate) process_id: String,
    /// The service name.
    pub(crate) service: String,
    /// The action name (not its alias).
    pub(crate) action: String,
    /// The caller: the API key's user, or `System` for an anonymous call.
    pub(crate) user: String,
    /// `sync` or `async`.
    pub(crate) mode: String,
    /// [`RUNNING`], [`FINISHED`] or [`FAILED`].
    pub(crate) status: String,
    /// Start, Unix ms.
    pub(crate) started_ms: i64,
    /// End, Unix ms, once ended.
    pub(crate) finished_ms: Option<i64>,
    /// The outcome as JSON text (`status`, `outputs` / `records` / `message`), once ended.
    pub(crate) answer: Option<String>,
    /// The `Idempotency-Key` the call carried.
    pub(crate) idempotency_key: Option<String>,
    /// SHA-256 of the request body, hex, when an `Idempotency-Key` was sent.
    pub(crate) body_sha256: Option<String>,
}

/// Where runs are kept.
pub(crate) trait RunStore: Send + Sync + fmt::Debug {
    /// Writes a new run.
    ///
    /// # Errors
    ///
    /// The database cannot be written.
    fn insert(&self, row: &RunRow) -> Result<()>;

    /// Records the end of run `process_id`: its status, end and answer.
    ///
    /// # Errors
    ///
    /// The database cannot be written.
    fn finish(&self, process_id: &str, status: &str, finished_ms: i64, answer: &str) -> Result<()>;

    /// The run `process_id`.
    ///
    /// # Errors
    ///
    /// The database cannot be read.
    fn get(&self, process_id: &str) -> Result<Option<RunRow>>;

    /// The newest run of `user` on `service`/`action` that carried `key` and started at or
    /// after `since_ms` (the idempotency TTL).
    ///
    /// # Errors
    ///
    /// The database cannot be read.
    fn find_idempotent(
        &self,
        user: &str,
        service: &str,
        action: &str,
        key: &str,
        since_ms: i64,
    ) -> Result<Option<RunRow>>;

    /// Removes the runs that started before `before_ms`; returns how many.
    ///
    /// # Errors
    ///
    /// The database cannot be written.
    fn purge(&self, before_ms: i64) -> Result<usize>;
}
