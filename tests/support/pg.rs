//! PostgreSQL for the tests that run one body on both backends.
//!
//! Each test gets a schema of its own in the database of `FSS_TEST_DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`), so tests run in parallel; the
//! schema is dropped when the [`PgSchema`] is. When no server answers, the PostgreSQL half
//! of a test prints that it was skipped and passes — unless `FSS_REQUIRE_POSTGRES=1`
//! (set by `.ci/run`), which makes it fail instead, so CI cannot skip it silently.
//!
//! Write a test once as `async fn name(backend: Backend)` and list it in
//! [`both_backends!`]: it becomes `name::sqlite` and `name::postgres`.

use std::sync::atomic::{AtomicUsize, Ordering};

use fss::RuntimeConfig;

/// The database of the tests unless `FSS_TEST_DATABASE_URL` names another.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which store backend a test body runs on.
#[derive(Debug)]
pub enum Backend {
    /// The embedded SQLite databases under the data folder.
    Sqlite,
    /// A fresh schema of the test database.
    Postgres(PgSchema),
}

impl Backend {
    /// Points `config` at this backend.
    pub fn configure(&self, config: &mut RuntimeConfig) {
        if let Backend::Postgres(s) = self {
            config.database_url = Some(s.url.clone());
        }
    }

    /// The `--database` URL of this backend, for a spawned binary; `None` for SQLite.
    pub fn url(&self) -> Option<&str> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres(s) => Some(&s.url),
        }
    }

    /// `sqlite` or `postgres`, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// Every row of the registry's tables (`registry_*`) of `schema`, each as PostgreSQL's
/// text form of the row, one a line: what a test that looks for a secret in the SQLite
/// file looks through on PostgreSQL.
///
/// # Panics
///
/// When the schema cannot be read.
pub async fn registry_rows(schema: &PgSchema) -> String {
    let client = connect(&schema.url)
        .await
        .expect("the test database answers");
    let tables = client
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = $1 AND table_name LIKE 'registry\\_%' ORDER BY 1",
            &[&schema.name],
        )
        .await
        .expect("the registry's tables are listed");
    let mut out = String::new();
    for t in tables {
        let table: String = t.get(0);
        for row in client
            .query(&format!("SELECT r::text FROM {table} r"), &[])
            .await
            .expect("a registry table is read")
        {
            out.push_str(&format!("{table}: {}\n", row.get::<_, String>(0)));
        }
    }
    out
}

/// A schema made for one test, dropped with it.
#[derive(Debug)]
pub struct PgSchema {
    /// The URL of the test database with `search_path` set to the schema.
    pub url: String,
    /// The schema's name.
    pub name: String,
    base: String,
}

fn base_url() -> String {
    std::env::var("FSS_TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_owned())
}

fn required() -> bool {
    std::env::var("FSS_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// A fresh schema for the test `test`, or `None` (after saying so on stderr) when no
/// PostgreSQL answers and none is required.
///
/// # Panics
///
/// When `FSS_REQUIRE_POSTGRES=1` and no server answers, or the schema cannot be made.
pub async fn schema(test: &str) -> Option<PgSchema> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let base = base_url();
    let client = match tokio::time::timeout(std::time::Duration::from_secs(5), connect(&base)).await
    {
        Ok(Ok(c)) => c,
        outcome => {
            let why = match outcome {
                Ok(Err(e)) => e.to_string(),
                _ => "no answer within 5 s".to_owned(),
            };
            assert!(
                !required(),
                "{test}: PostgreSQL is required (FSS_REQUIRE_POSTGRES=1) but {base} does not answer: {why}"
            );
            eprintln!(
                "SKIPPED (no PostgreSQL): {test} on postgres: {why}; set FSS_TEST_DATABASE_URL \
                 to a database to run it"
            );
            return None;
        }
    };
    let name = format!(
        "fss_t_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .get(..8)
            .unwrap_or("x")
    );
    client
        .batch_execute(&format!("CREATE SCHEMA {name}"))
        .await
        .unwrap_or_else(|e| panic!("{test}: cannot create schema {name}: {e}"));
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(PgSchema {
        url: format!("{base}{sep}options=-c%20search_path%3D{name}"),
        name,
        base,
    })
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // On a thread of its own: the test's runtime may be the one being dropped.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the schema");
            rt.block_on(async {
                if let Ok(c) = connect(&base).await {
                    let _ = c
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// Makes each `async fn name(backend: Backend)` listed into two tests, `name::sqlite` and
/// `name::postgres` (skipped, saying so, when no PostgreSQL answers).
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::support::pg::Backend::Sqlite).await
                }

                #[tokio::test]
                async fn postgres() {
                    let test = concat!(module_path!(), "::", stringify!($name));
                    if let Some(s) = $crate::support::pg::schema(test).await {
                        super::$name($crate::support::pg::Backend::Postgres(s)).await
                    }
                }
            }
        )+
    };
}
