//! The schema of the PostgreSQL backend: numbered migrations, applied in order at the
//! first call of an instance, each once per schema.
//!
//! Every instance of one database may start at the same moment, so the migrations run in
//! one transaction under a transaction-level advisory lock: the first instance applies
//! what is missing, the others wait for it and then find nothing to do. A migration is
//! never edited once released; a change is a new one at the end. A database migrated by a
//! newer fss (a version this one does not know) is refused, naming both versions, rather
//! than served with a schema it does not understand.
//!
//! Each store keeps its own statements beside its code (`registry`, `file_index`, …);
//! this list only orders them.

use deadpool_postgres::Object;

use crate::error::{Error, Result};

use super::db_error;

/// The advisory lock key of the migrations (one per database: the `pg_trgm` extension is
/// per database, whatever the schema).
const MIGRATION_LOCK: i64 = 0x0F55_0001;

/// One migration: its number, its name, its statements.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, in order.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "registry",
        sql: super::registry::MIGRATION,
    },
    Migration {
        version: 2,
        name: "file index",
        sql: super::file_index::MIGRATION,
    },
    Migration {
        version: 3,
        name: "runs of the incoming API",
        sql: super::runs::MIGRATION,
    },
    Migration {
        version: 4,
        name: "Flow listeners",
        sql: super::listeners::MIGRATION,
    },
    Migration {
        version: 5,
        name: "tables of data actions",
        sql: super::tables::MIGRATION,
    },
    Migration {
        version: 6,
        name: "callback outbox",
        sql: super::outbox::MIGRATION,
    },
];

/// Applies the migrations this schema lacks.
pub(super) async fn migrate(c: &mut Object) -> Result<()> {
    let tx = c
        .transaction()
        .await
        .map_err(|e| db_error("beginning the migrations", &e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| db_error("locking the migrations", &e))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS fss_schema_migrations (
             version integer PRIMARY KEY,
             name text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .map_err(|e| db_error("creating the migrations table", &e))?;
    // The trigram index of substring criteria; without the extension (not installed, or
    // no right to create it) substring criteria still work, unindexed.
    tx.batch_execute("SAVEPOINT trgm")
        .await
        .map_err(|e| db_error("migrating", &e))?;
    if let Err(e) = tx
        .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
        .await
    {
        tracing::warn!(error = %e, "The pg_trgm extension cannot be created: substring criteria are not indexed.");
        tx.batch_execute("ROLLBACK TO SAVEPOINT trgm")
            .await
            .map_err(|e| db_error("migrating", &e))?;
    }
    let applied: Vec<i32> = tx
        .query(
            "SELECT version FROM fss_schema_migrations ORDER BY version",
            &[],
        )
        .await
        .map_err(|e| db_error("reading the migrations", &e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let newest = MIGRATIONS.last().map_or(0, |m| m.version);
    if let Some(v) = applied.iter().find(|v| **v > newest) {
        return Err(Error::Unavailable(
            format!(
                "the database schema is at version {v}, made by a newer fss; this one knows \
                 versions up to {newest}"
            )
            .into(),
        ));
    }
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        tx.batch_execute(m.sql)
            .await
            .map_err(|e| db_error(&format!("migration {} ({})", m.version, m.name), &e))?;
        tx.execute(
            "INSERT INTO fss_schema_migrations (version, name) VALUES ($1, $2)",
            &[&m.version, &m.name],
        )
        .await
        .map_err(|e| db_error("recording a migration", &e))?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "Database migration applied."
        );
    }
    tx.commit()
        .await
        .map_err(|e| db_error("committing the migrations", &e))
}

/// The operator class of trigram GIN indexes, schema-qualified (`"public".gin_trgm_ops`),
/// when the `pg_trgm` extension is installed.
///
/// # Errors
///
/// The database cannot be read.
pub(crate) async fn trigram_opclass(c: &Object) -> Result<Option<String>> {
    let row = c
        .query_opt(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
             WHERE e.extname = 'pg_trgm'",
            &[],
        )
        .await
        .map_err(|e| db_error("looking for pg_trgm", &e))?;
    Ok(row.map(|r| {
        let schema: String = r.get(0);
        format!("\"{}\".gin_trgm_ops", schema.replace('"', "\"\""))
    }))
}
