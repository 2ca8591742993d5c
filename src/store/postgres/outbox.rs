//! The callback outbox in PostgreSQL: the WAIT callbacks of finished executions, written
//! durably and delivered once by any live instance, and the leases of running executions.

/// The statements of this store's migration.
pub(super) const MIGRATION: &str = "";
