//! The PostgreSQL backend (`--database postgres://…`): every durable thing in one
//! database that several fss instances share.
//!
//! [`Pg`] is the one handle: a pool of connections (deadpool-postgres over tokio-postgres,
//! the async driver of the tokio stack, kept by the same people as the driver), and a
//! small runtime of its own that every database call runs on. That runtime is why the
//! blocking store traits ([`crate::store::Registry`], the file index, runs, listeners) can
//! call PostgreSQL from any thread — an async worker at mount time, the blocking pool,
//! `main` — without deadlocking a single-threaded caller, and why connections outlive the
//! runtime of the caller that opened them.
//!
//! Nothing connects until the first call; the first call applies the schema migrations
//! ([`schema`]) under an advisory lock, so several instances may start together. A URL
//! that does not parse, or a database that does not answer, fails each call with 503
//! naming the database by host and port only: the URL may carry a password, so it is
//! never logged or answered.

pub(crate) mod file_index;
pub(crate) mod listeners;
pub(crate) mod outbox;
pub(crate) mod registry;
pub(crate) mod runs;
pub(crate) mod schema;
pub(crate) mod tables;

pub(crate) use file_index::PgFileIndex;
pub(crate) use listeners::PgListeners;
pub(crate) use registry::PgRegistry;
pub(crate) use runs::PgRuns;
pub(crate) use tables::PgTables;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio::sync::OnceCell;
use tokio_postgres::NoTls;

use crate::error::{Error, Result};

/// Connections of one instance's pool.
const POOL_SIZE: usize = 16;
/// How long opening one connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a call waits for a free connection of the pool.
const WAIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Worker threads of the database runtime.
const WORKERS: usize = 2;

/// The PostgreSQL database of a runtime; cheap to share (`Arc`).
pub(crate) struct Pg {
    /// The pool, or why the URL cannot be used.
    pool: std::result::Result<Pool, String>,
    /// The parsed URL: notification listeners open their own connection with it.
    config: Option<tokio_postgres::Config>,
    /// `host:port` of the database: all that is ever said of the URL.
    target: String,
    /// Set once the migrations are applied (by this instance or another).
    ready: OnceCell<()>,
    runtime: PgRuntime,
}

impl std::fmt::Debug for Pg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pg")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// The runtime database calls run on; shut down in the background when dropped, so that
/// dropping the last handle inside an async context does not panic.
struct PgRuntime(Option<tokio::runtime::Runtime>);

impl PgRuntime {
    fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("runtime lives until drop").handle()
    }
}

impl Drop for PgRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl Pg {
    /// The database at `url`; nothing connects until the first call.
    pub(crate) fn new(url: &str) -> Arc<Pg> {
        let runtime = PgRuntime(Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(WORKERS)
                .thread_name("fss-pg")
                .enable_all()
                .build()
                .expect("the database runtime starts"),
        ));
        let parsed = url.parse::<tokio_postgres::Config>();
        let target = parsed.as_ref().map(describe).unwrap_or_default();
        let pool = match &parsed {
            Ok(config) => {
                let mut config = config.clone();
                if config.get_connect_timeout().is_none() {
                    config.connect_timeout(CONNECT_TIMEOUT);
                }
                if config.get_application_name().is_none() {
                    config.application_name("fss");
                }
                let manager = Manager::from_config(
                    config,
                    NoTls,
                    ManagerConfig {
                        recycling_method: RecyclingMethod::Fast,
                    },
                );
                Pool::builder(manager)
                    .max_size(POOL_SIZE)
                    .runtime(deadpool_postgres::Runtime::Tokio1)
                    .wait_timeout(Some(WAIT_TIMEOUT))
                    .create_timeout(Some(CONNECT_TIMEOUT))
                    .build()
                    .map_err(|e| format!("the database pool cannot be made: {e}"))
            }
            Err(_) => Err("--database is not a valid postgres:// URL".to_owned()),
        };
        Arc::new(Pg {
            pool,
            config: parsed.ok(),
            target,
            ready: OnceCell::new(),
            runtime,
        })
    }

    /// The parsed URL, for a connection of its own (notifications); `None` when it does
    /// not parse.
    pub(crate) fn config(&self) -> Option<&tokio_postgres::Config> {
        self.config.as_ref()
    }

    /// A connection of the pool, once the schema is migrated. Call it on the database
    /// runtime ([`Pg::run`], [`Pg::block`]).
    ///
    /// # Errors
    ///
    /// 503 when the database does not answer or the URL cannot be used; 500 when a
    /// migration fails.
    pub(crate) async fn client(&self) -> Result<Object> {
        let pool = self
            .pool
            .as_ref()
            .map_err(|e| Error::Unavailable(e.clone().into()))?;
        self.ready
            .get_or_try_init(|| async {
                let mut c = pool.get().await.map_err(|e| self.pool_error(e))?;
                schema::migrate(&mut c).await
            })
            .await?;
        pool.get().await.map_err(|e| self.pool_error(e))
    }

    /// Runs `work` on the database runtime and awaits it, from any runtime.
    ///
    /// # Errors
    ///
    /// What `work` returns; 500 when it panicked.
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T>
    where
        F: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        self.runtime
            .handle()
            .spawn(work)
            .await
            .map_err(|_| Error::internal("a database task failed"))?
    }

    /// Runs `work` on the database runtime and blocks the calling thread until it ends:
    /// for the blocking store traits, callable from any thread.
    ///
    /// # Errors
    ///
    /// What `work` returns; 500 when it panicked.
    pub(crate) fn block<T, F>(&self, work: F) -> Result<T>
    where
        F: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.handle().spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv()
            .map_err(|_| Error::internal("a database task failed"))?
    }

    /// Spawns `work` on the database runtime (listeners, background sweeps).
    pub(crate) fn spawn<F>(&self, work: F) -> tokio::task::JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.runtime.handle().spawn(work)
    }

    fn pool_error(&self, e: deadpool_postgres::PoolError) -> Error {
        tracing::warn!(database = %self.target, error = %e, "The database does not answer.");
        Error::Unavailable(format!("the database at {} does not answer", self.target).into())
    }
}

/// `host:port` of a parsed URL (the first host), never its user or password.
fn describe(c: &tokio_postgres::Config) -> String {
    let host = match c.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}")
}

/// The error of a failed statement: logged whole, answered as 500 saying only `what`
/// failed (a database error may name tables, columns or values). A lost connection is
/// 503.
pub(crate) fn db_error(what: &str, e: &tokio_postgres::Error) -> Error {
    tracing::error!(error = %e, "Database error: {what}.");
    if e.is_closed() || e.code().is_none() && e.as_db_error().is_none() {
        return Error::Unavailable(format!("the database did not answer: {what}").into());
    }
    Error::internal(format!("database error: {what}"))
}
