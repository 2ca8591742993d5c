//! The callback outbox in PostgreSQL: the WAIT callbacks of finished executions, written
//! durably and delivered once by any live instance, and the leases of running executions.
//!
//! Two tables. `fss_wait_lease` holds one row per execution answered `WAIT` and still
//! running: the instance that runs it, `lease_until` (renewed by that instance), and the
//! fault callback that stands for it if the lease expires. `fss_callback_outbox` holds the
//! callbacks to deliver: attempts, `next_attempt_at`, the claim of the instance trying it
//! (`claimed_by`, `claimed_until`), and `delivered_at` or `given_up_at` once settled.
//! Every time is the database's clock, so instances need not agree on theirs. Rows are
//! taken with `FOR UPDATE SKIP LOCKED`: two sweepers never take the same lease or
//! callback, and neither waits for the other.
//!
//! The callback's `Authorization` header is a credential: it is sealed with the keystore's
//! `oauth-admin-key` (the key of the credentials the registry keeps), bound to its
//! execution id, and never written, logged or answered in clear. Instances that share a
//! database share the keystore (in `--files-dir` unless `--keystore` says otherwise), so
//! any of them opens it; one whose keystore differs gives the callback up, saying why.
//!
//! What to do with the rows — when to renew, retry, give up — is `execution::outbox`'s;
//! this file only says it in SQL.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::error::Result;
use crate::store::keystore::{KeystoreFile, OAUTH_ADMIN_KEY};

use super::{db_error, Pg};

/// The statements of this store's migration.
pub(super) const MIGRATION: &str = "
CREATE TABLE fss_wait_lease (
    execution_id text PRIMARY KEY,
    instance_id text NOT NULL,
    lease_until timestamptz NOT NULL,
    target_uri text NOT NULL,
    tenant_id text,
    authorization_sealed text,
    fault_body bytea NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fss_wait_lease_until ON fss_wait_lease (lease_until);
CREATE TABLE fss_callback_outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id text NOT NULL,
    target_uri text NOT NULL,
    tenant_id text,
    authorization_sealed text,
    body bytea NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_by text,
    claimed_until timestamptz,
    last_error text,
    delivered_at timestamptz,
    given_up_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fss_callback_outbox_due ON fss_callback_outbox (next_attempt_at)
    WHERE delivered_at IS NULL AND given_up_at IS NULL;
CREATE INDEX fss_callback_outbox_settled
    ON fss_callback_outbox ((coalesce(delivered_at, given_up_at)))
    WHERE delivered_at IS NOT NULL OR given_up_at IS NOT NULL;
";

/// Why a claimed callback cannot be sent here.
const UNOPENED: &str = "the callback's Authorization does not open with this instance's \
                        keystore: instances sharing a database must share their keystore";

/// One callback, its `Authorization` in clear (sealed only in the database).
#[derive(Debug, Clone)]
pub(crate) struct StoredCallback {
    /// The execution it answers.
    pub(crate) execution_id: String,
    /// The `callbackUri`.
    pub(crate) uri: String,
    /// The `tenantId`.
    pub(crate) tenant_id: Option<String>,
    /// The `Authorization` header.
    pub(crate) authorization: Option<String>,
    /// The JSON body.
    pub(crate) body: Bytes,
}

/// A claimed callback.
#[derive(Debug)]
pub(crate) struct ClaimedRow {
    /// Its row id.
    pub(crate) id: i64,
    /// Attempts made before this claim.
    pub(crate) attempts: u32,
    /// The callback.
    pub(crate) callback: StoredCallback,
    /// Why it cannot be sent here, when its `Authorization` does not open.
    pub(crate) unusable: Option<&'static str>,
}

/// The outbox and leases in PostgreSQL; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct PgOutbox {
    pg: Arc<Pg>,
    keystore: Arc<KeystoreFile>,
}

/// Milliseconds of `d`, for `$n::bigint * interval '1 millisecond'`.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The context a callback's `Authorization` is sealed under: its execution, so that a
/// sealed value copied to another row does not open there.
fn context(execution_id: &str) -> Vec<u8> {
    format!("callback authorization {execution_id}").into_bytes()
}

impl PgOutbox {
    /// The outbox in `pg`, sealing with `keystore`.
    pub(crate) fn new(pg: Arc<Pg>, keystore: Arc<KeystoreFile>) -> Self {
        PgOutbox { pg, keystore }
    }

    /// Runs `work` on the database runtime in the background.
    pub(crate) fn spawn(
        &self,
        work: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>>,
    ) {
        // Detached: the work ends on its own (the outbox loops end with their runtime).
        drop(self.pg.spawn(work));
    }

    /// The sealed form of `c`'s `Authorization`.
    fn seal(keystore: &KeystoreFile, c: &StoredCallback) -> Result<Option<String>> {
        let Some(a) = &c.authorization else {
            return Ok(None);
        };
        let key = keystore.key(OAUTH_ADMIN_KEY)?;
        Ok(Some(key.seal(a.as_bytes(), &context(&c.execution_id))))
    }

    /// Writes the lease of `fault.execution_id` for `instance`.
    pub(crate) async fn lease(
        &self,
        instance: String,
        lease_for: Duration,
        fault: StoredCallback,
    ) -> Result<()> {
        let (pg, keystore) = (Arc::clone(&self.pg), Arc::clone(&self.keystore));
        self.pg
            .run(async move {
                let sealed = Self::seal(&keystore, &fault)?;
                let c = pg.client().await?;
                c.execute(
                    "INSERT INTO fss_wait_lease (execution_id, instance_id, lease_until,
                         target_uri, tenant_id, authorization_sealed, fault_body)
                     VALUES ($1, $2, now() + $3::bigint * interval '1 millisecond', $4, $5, $6, $7)",
                    &[
                        &fault.execution_id,
                        &instance,
                        &millis(lease_for),
                        &fault.uri,
                        &fault.tenant_id,
                        &sealed,
                        &fault.body.as_ref(),
                    ],
                )
                .await
                .map_err(|e| db_error("writing the lease of an execution", &e))?;
                Ok(())
            })
            .await
    }

    /// Swaps the lease of `callback.execution_id` for `callback` in one transaction;
    /// `None` when there was no lease (nothing written).
    pub(crate) async fn finish(&self, callback: StoredCallback) -> Result<Option<i64>> {
        let (pg, keystore) = (Arc::clone(&self.pg), Arc::clone(&self.keystore));
        self.pg
            .run(async move {
                let sealed = Self::seal(&keystore, &callback)?;
                let mut c = pg.client().await?;
                let what = "writing a callback into the outbox";
                let tx = c.transaction().await.map_err(|e| db_error(what, &e))?;
                let leased = tx
                    .execute(
                        "DELETE FROM fss_wait_lease WHERE execution_id = $1",
                        &[&callback.execution_id],
                    )
                    .await
                    .map_err(|e| db_error(what, &e))?;
                if leased == 0 {
                    return Ok(None);
                }
                let row = tx
                    .query_one(
                        "INSERT INTO fss_callback_outbox (execution_id, target_uri, tenant_id,
                             authorization_sealed, body)
                         VALUES ($1, $2, $3, $4, $5) RETURNING id",
                        &[
                            &callback.execution_id,
                            &callback.uri,
                            &callback.tenant_id,
                            &sealed,
                            &callback.body.as_ref(),
                        ],
                    )
                    .await
                    .map_err(|e| db_error(what, &e))?;
                tx.commit().await.map_err(|e| db_error(what, &e))?;
                Ok(Some(row.get(0)))
            })
            .await
    }

    /// Deletes the lease of `execution_id`.
    pub(crate) async fn forget(&self, execution_id: String) -> Result<()> {
        let pg = Arc::clone(&self.pg);
        self.pg
            .run(async move {
                let c = pg.client().await?;
                c.execute(
                    "DELETE FROM fss_wait_lease WHERE execution_id = $1",
                    &[&execution_id],
                )
                .await
                .map_err(|e| db_error("deleting the lease of an execution", &e))?;
                Ok(())
            })
            .await
    }

    /// Extends the leases of `executions` held by `instance`.
    pub(crate) async fn renew(
        &self,
        instance: String,
        executions: Vec<String>,
        lease_for: Duration,
    ) -> Result<u64> {
        let pg = Arc::clone(&self.pg);
        self.pg
            .run(async move {
                let c = pg.client().await?;
                c.execute(
                    "UPDATE fss_wait_lease SET lease_until = now() + $3::bigint * interval '1 millisecond'
                     WHERE instance_id = $1 AND execution_id = ANY($2)",
                    &[&instance, &executions, &millis(lease_for)],
                )
                .await
                .map_err(|e| db_error("renewing the leases of executions", &e))
            })
            .await
    }

    /// Turns at most `limit` expired leases into their fault callbacks.
    pub(crate) async fn expire(&self, limit: i64) -> Result<u64> {
        let pg = Arc::clone(&self.pg);
        self.pg
            .run(async move {
                let c = pg.client().await?;
                c.execute(
                    "WITH expired AS (
                         DELETE FROM fss_wait_lease WHERE execution_id IN (
                             SELECT execution_id FROM fss_wait_lease WHERE lease_until < now()
                             ORDER BY lease_until LIMIT $1 FOR UPDATE SKIP LOCKED)
                         RETURNING execution_id, target_uri, tenant_id, authorization_sealed,
                             fault_body)
                     INSERT INTO fss_callback_outbox (execution_id, target_uri, tenant_id,
                         authorization_sealed, body)
                     SELECT execution_id, target_uri, tenant_id, authorization_sealed, fault_body
                     FROM expired",
                    &[&limit],
                )
                .await
                .map_err(|e| db_error("failing executions whose lease expired", &e))
            })
            .await
    }

    /// Claims for `instance` at most `limit` due callbacks nobody holds (row `only`, when
    /// given).
    pub(crate) async fn claim(
        &self,
        instance: String,
        only: Option<i64>,
        claim_for: Duration,
        limit: i64,
    ) -> Result<Vec<ClaimedRow>> {
        let (pg, keystore) = (Arc::clone(&self.pg), Arc::clone(&self.keystore));
        self.pg
            .run(async move {
                let c = pg.client().await?;
                let rows = c
                    .query(
                        "UPDATE fss_callback_outbox
                         SET claimed_by = $1,
                             claimed_until = now() + $2::bigint * interval '1 millisecond'
                         WHERE id IN (
                             SELECT id FROM fss_callback_outbox
                             WHERE delivered_at IS NULL AND given_up_at IS NULL
                               AND next_attempt_at <= now()
                               AND (claimed_until IS NULL OR claimed_until < now())
                               AND ($3::bigint IS NULL OR id = $3)
                             ORDER BY next_attempt_at LIMIT $4
                             FOR UPDATE SKIP LOCKED)
                         RETURNING id, execution_id, target_uri, tenant_id,
                             authorization_sealed, body, attempts",
                        &[&instance, &millis(claim_for), &only, &limit],
                    )
                    .await
                    .map_err(|e| db_error("claiming due callbacks", &e))?;
                let key = if rows.iter().any(|r| r.get::<_, Option<&str>>(4).is_some()) {
                    keystore.key(OAUTH_ADMIN_KEY).ok()
                } else {
                    None
                };
                Ok(rows
                    .iter()
                    .map(|r| {
                        let execution_id: String = r.get(1);
                        let sealed: Option<&str> = r.get(4);
                        let opened = sealed.map(|s| {
                            key.as_ref()
                                .and_then(|k| k.open(s, &context(&execution_id)).ok())
                                .and_then(|a| String::from_utf8(a).ok())
                        });
                        let unusable = matches!(opened, Some(None)).then_some(UNOPENED);
                        let attempts: i32 = r.get(6);
                        ClaimedRow {
                            id: r.get(0),
                            attempts: u32::try_from(attempts).unwrap_or(0),
                            callback: StoredCallback {
                                execution_id,
                                uri: r.get(2),
                                tenant_id: r.get(3),
                                authorization: opened.flatten(),
                                body: Bytes::from(r.get::<_, Vec<u8>>(5)),
                            },
                            unusable,
                        }
                    })
                    .collect())
            })
            .await
    }

    /// Records `outcome` of the claimed row `id` after `attempts` in all; `false` when
    /// `instance` no longer held its claim (nothing is written then).
    pub(crate) async fn settle(
        &self,
        id: i64,
        instance: String,
        attempts: u32,
        outcome: Settled,
    ) -> Result<bool> {
        let pg = Arc::clone(&self.pg);
        let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
        self.pg
            .run(async move {
                let c = pg.client().await?;
                let what = "recording a callback's attempt";
                let n = match outcome {
                    Settled::Delivered => {
                        c.execute(
                            "UPDATE fss_callback_outbox SET attempts = $3, delivered_at = now(),
                                 last_error = NULL, claimed_by = NULL, claimed_until = NULL
                             WHERE id = $1 AND claimed_by = $2",
                            &[&id, &instance, &attempts],
                        )
                        .await
                    }
                    Settled::Retry { after, reason } => {
                        c.execute(
                            "UPDATE fss_callback_outbox SET attempts = $3, last_error = $4,
                                 next_attempt_at = now() + $5::bigint * interval '1 millisecond',
                                 claimed_by = NULL, claimed_until = NULL
                             WHERE id = $1 AND claimed_by = $2",
                            &[&id, &instance, &attempts, &reason, &millis(after)],
                        )
                        .await
                    }
                    Settled::GaveUp { reason } => {
                        c.execute(
                            "UPDATE fss_callback_outbox SET attempts = $3, given_up_at = now(),
                                 last_error = $4, claimed_by = NULL, claimed_until = NULL
                             WHERE id = $1 AND claimed_by = $2",
                            &[&id, &instance, &attempts, &reason],
                        )
                        .await
                    }
                }
                .map_err(|e| db_error(what, &e))?;
                Ok(n == 1)
            })
            .await
    }

    /// Deletes callbacks settled more than `older_than` ago.
    pub(crate) async fn purge(&self, older_than: Duration) -> Result<u64> {
        let pg = Arc::clone(&self.pg);
        self.pg
            .run(async move {
                let c = pg.client().await?;
                c.execute(
                    "DELETE FROM fss_callback_outbox
                     WHERE (delivered_at IS NOT NULL OR given_up_at IS NOT NULL)
                       AND coalesce(delivered_at, given_up_at)
                           < now() - $1::bigint * interval '1 millisecond'",
                    &[&millis(older_than)],
                )
                .await
                .map_err(|e| db_error("purging settled callbacks", &e))
            })
            .await
    }
}

/// What became of a claimed callback's attempt.
#[derive(Debug)]
pub(crate) enum Settled {
    /// Accepted by the engine.
    Delivered,
    /// Due again after `after`.
    Retry {
        /// The back-off.
        after: Duration,
        /// Why the attempt failed.
        reason: String,
    },
    /// Never sent again.
    GaveUp {
        /// Why.
        reason: String,
    },
}
