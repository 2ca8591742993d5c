//! The PostgreSQL [`ListenerStore`]: Flow listener registrations, shared by every
//! instance, so that a registration made through one instance fires for an event sent
//! to another.
//!
//! A registration is claimed (`claimed_ms` set, by one instance only: the update that
//! finds it unclaimed) before its callback goes out, and removed once the callback was
//! delivered or given up. A claimed registration is never loaded again; one whose instance
//! died during the callback is removed when it expires.

use std::sync::Arc;

use tokio_postgres::Row;

use crate::error::Result;
use crate::store::listeners::{ListenerRow, ListenerStore, COLUMNS};

use super::{db_error, Pg};

/// The statements of this store's migration.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE listeners (
    id            text PRIMARY KEY,
    service       text NOT NULL,
    listen_type   text NOT NULL,
    callback_uri  text NOT NULL,
    state_id      text,
    tenant_id     text,
    token         text,
    culture       text,
    annotations   text,
    value         text NOT NULL,
    registered_ms bigint NOT NULL,
    expires_ms    bigint NOT NULL,
    claimed_ms    bigint
);
CREATE INDEX listeners_state
    ON listeners (service, state_id, listen_type) WHERE state_id IS NOT NULL;
CREATE INDEX listeners_expires ON listeners (expires_ms);
"#;

/// The listener registrations in PostgreSQL.
#[derive(Debug)]
pub(crate) struct PgListeners {
    pg: Arc<Pg>,
}

impl PgListeners {
    /// The registrations in `pg`.
    pub(crate) fn new(pg: Arc<Pg>) -> Self {
        PgListeners { pg }
    }
}

fn row_of(r: &Row) -> ListenerRow {
    ListenerRow {
        id: r.get(0),
        service: r.get(1),
        listen_type: r.get(2),
        callback_uri: r.get(3),
        state_id: r.get(4),
        tenant_id: r.get(5),
        token: r.get(6),
        culture: r.get(7),
        annotations: r.get(8),
        value: r.get(9),
        registered_ms: r.get(10),
        expires_ms: r.get(11),
    }
}

impl ListenerStore for PgListeners {
    fn insert(&self, row: &ListenerRow) -> Result<()> {
        let pg = Arc::clone(&self.pg);
        let row = row.clone();
        self.pg.block(async move {
            let mut c = pg.client().await?;
            let tx = c
                .transaction()
                .await
                .map_err(|e| db_error("saving a listener", &e))?;
            if let Some(state) = &row.state_id {
                tx.execute(
                    "DELETE FROM listeners WHERE service = $1 AND state_id = $2 \
                     AND listen_type = $3 AND claimed_ms IS NULL",
                    &[&row.service, state, &row.listen_type],
                )
                .await
                .map_err(|e| db_error("replacing a listener", &e))?;
            }
            tx.execute(
                &format!(
                    "INSERT INTO listeners ({COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ),
                &[
                    &row.id,
                    &row.service,
                    &row.listen_type,
                    &row.callback_uri,
                    &row.state_id,
                    &row.tenant_id,
                    &row.token,
                    &row.culture,
                    &row.annotations,
                    &row.value,
                    &row.registered_ms,
                    &row.expires_ms,
                ],
            )
            .await
            .map_err(|e| db_error("saving a listener", &e))?;
            tx.commit()
                .await
                .map_err(|e| db_error("saving a listener", &e))
        })
    }

    fn remove(&self, id: &str) -> Result<()> {
        let pg = Arc::clone(&self.pg);
        let id = id.to_owned();
        self.pg.block(async move {
            let c = pg.client().await?;
            c.execute("DELETE FROM listeners WHERE id = $1", &[&id])
                .await
                .map_err(|e| db_error("removing a listener", &e))?;
            Ok(())
        })
    }

    fn load(&self, now_ms: i64) -> Result<Vec<ListenerRow>> {
        let pg = Arc::clone(&self.pg);
        self.pg.block(async move {
            let c = pg.client().await?;
            c.execute("DELETE FROM listeners WHERE expires_ms <= $1", &[&now_ms])
                .await
                .map_err(|e| db_error("removing expired listeners", &e))?;
            let rows = c
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM listeners WHERE claimed_ms IS NULL \
                         ORDER BY registered_ms, id"
                    ),
                    &[],
                )
                .await
                .map_err(|e| db_error("loading listeners", &e))?;
            Ok(rows.iter().map(row_of).collect())
        })
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn claim(&self, id: &str, now_ms: i64) -> Result<bool> {
        let pg = Arc::clone(&self.pg);
        let id = id.to_owned();
        self.pg.block(async move {
            let c = pg.client().await?;
            let n = c
                .execute(
                    "UPDATE listeners SET claimed_ms = $2 \
                     WHERE id = $1 AND claimed_ms IS NULL AND expires_ms > $2",
                    &[&id, &now_ms],
                )
                .await
                .map_err(|e| db_error("claiming a listener", &e))?;
            Ok(n == 1)
        })
    }
}
