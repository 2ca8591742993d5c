//! The durable Flow listener registrations: one row per `POST /fs/{service}/listener`
//! that is waiting for its event, so that a listener registered before a restart is
//! called back after it.
//!
//! A row is written before the engine is answered 204 and removed once its callback was
//! delivered or given up (a registration fires once), or when it expires (the runtime's
//! `--wait-timeout` after it was registered). No credential is kept: the `Authorization`
//! header of the registration is not stored, only the `token` Flow asked to be echoed.
//! Every call blocks (SQLite, fsync): callers run them off the async workers.

use std::fmt;

use crate::error::Result;

/// The columns of a stored registration, in the order of [`ListenerRow`]'s fields (every
/// backend).
pub(crate) const COLUMNS: &str = "id, service, listen_type, callback_uri, state_id, tenant_id, \
                                  token, culture, annotations, value, registered_ms, expires_ms";

/// One registration as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListenerRow {
    /// A UUID: the execution id of the registration.
    pub(crate) id: String,
    /// The service it was registered on.
    pub(crate) service: String,
    /// The event key listened for (`listenType`).
    pub(crate) listen_type: String,
    /// Where the ListenerServiceResponse goes.
    pub(crate) callback_uri: String,
    /// The Flow state that listens, when the request named one.
    pub(crate) state_id: Option<String>,
    /// The tenant; `None`: the registration matches events of any tenant.
    pub(crate) tenant_id: Option<String>,
    /// The request's `token`, echoed in the callback.
    pub(crate) token: Option<String>,
    /// The request's `culture` as JSON text.
    pub(crate) culture: Option<String>,
    /// The request's `annotations` as JSON text.
    pub(crate) annotations: Option<String>,
    /// The `valueForListening` EngineValue as JSON text (`null` when none was sent).
    pub(crate) value: String,
    /// When it was registered, Unix ms.
    pub(crate) registered_ms: i64,
    /// When it expires, Unix ms.
    pub(crate) expires_ms: i64,
}

/// Where registrations are kept.
pub(crate) trait ListenerStore: Send + Sync + fmt::Debug {
    /// Writes a new registration. A registration of the same service, Flow state and
    /// listen type is replaced (Flow registers again each time the state listens).
    ///
    /// # Errors
    ///
    /// The database cannot be written.
    fn insert(&self, row: &ListenerRow) -> Result<()>;

    /// Removes the registration `id` (fired or expired); a missing one is not an error.
    ///
    /// # Errors
    ///
    /// The database cannot be written.
    fn remove(&self, id: &str) -> Result<()>;

    /// Every registration that has not expired at `now_ms`; expired ones are removed.
    ///
    /// # Errors
    ///
    /// The database cannot be read or written.
    fn load(&self, now_ms: i64) -> Result<Vec<ListenerRow>>;

    /// Whether other instances write the same registrations (a shared database): then a
    /// runtime reads them again before it matches an event, instead of trusting what it
    /// loaded once, and claims each one before it fires.
    fn is_shared(&self) -> bool {
        false
    }

    /// Takes the registration `id` for firing at `now_ms`: true for exactly one caller of
    /// every instance of the store, so that a registration fires once whichever instance
    /// saw the event. A claimed registration is no longer loaded; it is removed once its
    /// callback is delivered or given up. A store only one runtime uses needs no claim:
    /// its runtime's index takes each registration once.
    ///
    /// # Errors
    ///
    /// The database cannot be written.
    fn claim(&self, id: &str, now_ms: i64) -> Result<bool> {
        let _ = (id, now_ms);
        Ok(true)
    }
}
