//! The PostgreSQL [`RunStore`]: the runs of the incoming API, shared by every instance, so
//! that a poll URL or an `Idempotency-Key` repeat answers whichever instance the load
//! balancer picks.
//!
//! Each row names the instance that runs it: the id kept in that instance's data folder
//! (`instance.id`, made at first use). The data folder is locked by one process at a time,
//! so when an instance first uses the runs, no process of its data folder is running any
//! more: its runs left `running` cannot end and are marked failed, as the SQLite store
//! does at open. Runs of the other instances are left alone: they may be running.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::OnceCell;
use tokio_postgres::Row;

use crate::error::{Error, Result};
use crate::store::runs::{RunRow, RunStore, COLUMNS, FAILED, LOST, RUNNING};

use super::{db_error, Pg};

/// The statements of this store's migration.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE runs (
    process_id      text PRIMARY KEY,
    service         text NOT NULL,
    action          text NOT NULL,
    user_id         text NOT NULL,
    mode            text NOT NULL,
    status          text NOT NULL,
    started_ms      bigint NOT NULL,
    finished_ms     bigint,
    answer          text,
    idempotency_key text,
    body_sha256     text,
    instance        text NOT NULL
);
CREATE INDEX runs_idempotency
    ON runs (user_id, service, action, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX runs_started ON runs (started_ms);
CREATE INDEX runs_running ON runs (instance) WHERE status = 'running';
"#;

/// The file of the data folder that names its instance.
pub(crate) const INSTANCE_FILE: &str = "instance.id";

/// The runs in PostgreSQL.
#[derive(Debug)]
pub(crate) struct PgRuns {
    pg: Arc<Pg>,
    /// The data folder of this instance, where its id is kept.
    data_dir: PathBuf,
    /// This instance's id, once read (or made) and its lost runs marked failed.
    instance: Arc<OnceCell<String>>,
}

impl PgRuns {
    /// The runs in `pg` of the instance whose data folder is `data_dir`; nothing is read
    /// until first use.
    pub(crate) fn new(pg: Arc<Pg>, data_dir: &Path) -> Self {
        PgRuns {
            pg,
            data_dir: data_dir.to_path_buf(),
            instance: Arc::new(OnceCell::new()),
        }
    }

    /// Runs `work` with a connection and this instance's id, marking the runs a previous
    /// process of this data folder left `running` failed at the first call.
    fn with<T, F, Fut>(&self, work: F) -> Result<T>
    where
        F: FnOnce(deadpool_postgres::Object, String) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T>> + Send,
        T: Send + 'static,
    {
        let pg = Arc::clone(&self.pg);
        let cell = Arc::clone(&self.instance);
        let data_dir = self.data_dir.clone();
        self.pg.block(async move {
            let c = pg.client().await?;
            let instance = cell
                .get_or_try_init(|| async {
                    let id = tokio::task::spawn_blocking(move || instance_id(&data_dir))
                        .await
                        .map_err(|_| Error::internal("reading the instance id failed"))??;
                    c.execute(
                        "UPDATE runs SET status = $1, answer = $2, finished_ms = started_ms \
                         WHERE status = $3 AND instance = $4",
                        &[&FAILED, &LOST, &RUNNING, &id],
                    )
                    .await
                    .map_err(|e| db_error("failing the runs a restart cut short", &e))?;
                    Ok::<_, Error>(id)
                })
                .await?
                .clone();
            work(c, instance).await
        })
    }
}

/// The id of the instance of `data_dir`, made (a UUID) when it has none yet.
fn instance_id(data_dir: &Path) -> Result<String> {
    let path = data_dir.join(INSTANCE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("the instance id cannot be read", &e)),
    }
    let id = uuid::Uuid::new_v4().to_string();
    std::fs::create_dir_all(data_dir)
        .and_then(|()| std::fs::write(&path, &id))
        .map_err(|e| Error::io("the instance id cannot be written", &e))?;
    Ok(id)
}

fn row_of(r: &Row) -> RunRow {
    RunRow {
        process_id: r.get(0),
        service: r.get(1),
        action: r.get(2),
        user: r.get(3),
        mode: r.get(4),
        status: r.get(5),
        started_ms: r.get(6),
        finished_ms: r.get(7),
        answer: r.get(8),
        idempotency_key: r.get(9),
        body_sha256: r.get(10),
    }
}

impl RunStore for PgRuns {
    fn insert(&self, row: &RunRow) -> Result<()> {
        let row = row.clone();
        self.with(move |c, instance| async move {
            c.execute(
                &format!(
                    "INSERT INTO runs ({COLUMNS}, instance) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ),
                &[
                    &row.process_id,
                    &row.service,
                    &row.action,
                    &row.user,
                    &row.mode,
                    &row.status,
                    &row.started_ms,
                    &row.finished_ms,
                    &row.answer,
                    &row.idempotency_key,
                    &row.body_sha256,
                    &instance,
                ],
            )
            .await
            .map_err(|e| db_error("saving a run", &e))?;
            Ok(())
        })
    }

    fn finish(&self, process_id: &str, status: &str, finished_ms: i64, answer: &str) -> Result<()> {
        let (id, status, answer) = (process_id.to_owned(), status.to_owned(), answer.to_owned());
        self.with(move |c, _| async move {
            c.execute(
                "UPDATE runs SET status = $2, finished_ms = $3, answer = $4 WHERE process_id = $1",
                &[&id, &status, &finished_ms, &answer],
            )
            .await
            .map_err(|e| db_error("ending a run", &e))?;
            Ok(())
        })
    }

    fn get(&self, process_id: &str) -> Result<Option<RunRow>> {
        let id = process_id.to_owned();
        self.with(move |c, _| async move {
            let row = c
                .query_opt(
                    &format!("SELECT {COLUMNS} FROM runs WHERE process_id = $1"),
                    &[&id],
                )
                .await
                .map_err(|e| db_error("reading a run", &e))?;
            Ok(row.as_ref().map(row_of))
        })
    }

    fn find_idempotent(
        &self,
        user: &str,
        service: &str,
        action: &str,
        key: &str,
        since_ms: i64,
    ) -> Result<Option<RunRow>> {
        let (user, service, action, key) = (
            user.to_owned(),
            service.to_owned(),
            action.to_owned(),
            key.to_owned(),
        );
        self.with(move |c, _| async move {
            let row = c
                .query_opt(
                    &format!(
                        "SELECT {COLUMNS} FROM runs WHERE user_id = $1 AND service = $2 \
                         AND action = $3 AND idempotency_key = $4 AND started_ms >= $5 \
                         ORDER BY started_ms DESC LIMIT 1"
                    ),
                    &[&user, &service, &action, &key, &since_ms],
                )
                .await
                .map_err(|e| db_error("looking up an idempotent run", &e))?;
            Ok(row.as_ref().map(row_of))
        })
    }

    fn purge(&self, before_ms: i64) -> Result<usize> {
        self.with(move |c, _| async move {
            let n = c
                .execute("DELETE FROM runs WHERE started_ms < $1", &[&before_ms])
                .await
                .map_err(|e| db_error("purging old runs", &e))?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }
}
