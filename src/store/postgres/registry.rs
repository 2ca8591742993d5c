//! The PostgreSQL [`Registry`]: users, API keys, deployments with their resources (bytes
//! included, so that every instance can unpack a deployment another one received), service
//! versions, event and channel definitions, OAuth providers — shared by every instance of
//! one database.
//!
//! Every write is one transaction that also counts one more *change* (a single-row
//! generation) and sends `NOTIFY fss_registry` with the schema and the generation as its
//! payload (PostgreSQL delivers it at commit). [`PgRegistry::watch`] answers the newest
//! generation seen, from a `LISTEN` connection of its own and a poll of the generation
//! every [`POLL`], so a notification lost with a broken connection is made up for within
//! that interval: the admin API and the users reload when it moves.
//!
//! Versions: two instances may deploy the same service at once, each from its own view.
//! A deployment's versions are therefore numbered again inside its insert, under a
//! transaction-level advisory lock, from what the database holds: one more than the
//! newest stored version of each key. Versions stay unique and gapless as on one
//! instance.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::watch;
use tokio_postgres::AsyncMessage;

use crate::error::{Error, Result};
use crate::store::deployments::deployment_dir;
use crate::store::registry::{
    ApiKey, DefinitionKind, Deployment, DeploymentFile, EventRegistryDefinition, Loaded, Registry,
    Resource, SealedProvider, ServiceVersion, User,
};

use super::{db_error, Pg};

/// The statements of this store's migration.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE registry_users (
    id            text PRIMARY KEY,
    password_hash text NOT NULL,
    first_name    text,
    last_name     text,
    token_hash    text
);
CREATE TABLE registry_user_privileges (
    user_id   text NOT NULL REFERENCES registry_users(id) ON DELETE CASCADE,
    privilege text NOT NULL,
    PRIMARY KEY (user_id, privilege)
);
CREATE TABLE registry_api_keys (
    id         text PRIMARY KEY,
    user_id    text NOT NULL REFERENCES registry_users(id) ON DELETE CASCADE,
    name       text NOT NULL,
    created_ms bigint NOT NULL,
    expires_ms bigint NOT NULL,
    revoked_ms bigint
);
CREATE INDEX registry_api_keys_by_user ON registry_api_keys(user_id);
CREATE TABLE registry_deployments (
    id             text PRIMARY KEY,
    name           text NOT NULL,
    category       text,
    tenant_id      text NOT NULL DEFAULT '',
    deploy_time_ms bigint NOT NULL
);
CREATE TABLE registry_resources (
    deployment_id text NOT NULL REFERENCES registry_deployments(id) ON DELETE CASCADE,
    name          text NOT NULL,
    mime_type     text NOT NULL,
    size          bigint NOT NULL,
    mode          integer,
    data          bytea NOT NULL,
    PRIMARY KEY (deployment_id, name)
);
CREATE TABLE registry_services (
    id            text PRIMARY KEY,
    key           text NOT NULL,
    version       bigint NOT NULL,
    description   text,
    deployment_id text NOT NULL REFERENCES registry_deployments(id) ON DELETE CASCADE,
    resource_name text NOT NULL,
    UNIQUE (key, version)
);
CREATE INDEX registry_services_by_deployment ON registry_services(deployment_id);
CREATE TABLE registry_definitions (
    id            text PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('event', 'channel')),
    key           text NOT NULL,
    version       bigint NOT NULL,
    name          text,
    category      text,
    description   text,
    deployment_id text NOT NULL REFERENCES registry_deployments(id) ON DELETE CASCADE,
    resource_name text NOT NULL,
    UNIQUE (kind, key, version)
);
CREATE INDEX registry_definitions_by_deployment ON registry_definitions(deployment_id);
CREATE TABLE registry_oauth_providers (
    connector  text NOT NULL,
    provider   text NOT NULL,
    sealed     text NOT NULL,
    updated_ms bigint NOT NULL,
    PRIMARY KEY (connector, provider)
);
CREATE TABLE registry_generation (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    value    bigint NOT NULL
);
INSERT INTO registry_generation (value) VALUES (0);
"#;

/// The notification channel of registry changes (the payload is `schema:generation`).
const CHANNEL: &str = "fss_registry";
/// How often the generation is read, whatever the notifications say.
pub(crate) const POLL: Duration = Duration::from_millis(500);
/// The advisory lock key under which a deployment's versions are numbered.
const VERSION_LOCK: i64 = 0x0F55_0002;

/// The registry in PostgreSQL.
#[derive(Debug)]
pub(crate) struct PgRegistry {
    pg: Arc<Pg>,
    /// Where committed deployment folders are, to store their bytes.
    data_dir: PathBuf,
    /// The newest generation seen; started by the first [`PgRegistry::watch`].
    generation: std::sync::OnceLock<watch::Receiver<i64>>,
}

impl PgRegistry {
    /// The registry in `pg`; deployment folders of this instance under `data_dir`.
    pub(crate) fn new(pg: Arc<Pg>, data_dir: &Path) -> Self {
        PgRegistry {
            pg,
            data_dir: data_dir.to_path_buf(),
            generation: std::sync::OnceLock::new(),
        }
    }

    /// Runs `work` with a pooled connection, blocking.
    fn with<T, F, Fut>(&self, work: F) -> Result<T>
    where
        F: FnOnce(deadpool_postgres::Object) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T>> + Send,
        T: Send + 'static,
    {
        let pg = Arc::clone(&self.pg);
        self.pg.block(async move { work(pg.client().await?).await })
    }
}

/// Counts one more change and notifies the other instances (at commit).
async fn changed(tx: &tokio_postgres::Transaction<'_>) -> Result<()> {
    tx.execute(
        "WITH g AS (UPDATE registry_generation SET value = value + 1 RETURNING value)
         SELECT pg_notify($1, current_schema() || ':' || g.value) FROM g",
        &[&CHANNEL],
    )
    .await
    .map_err(|e| db_error("counting a registry change", &e))?;
    Ok(())
}

async fn load(c: &deadpool_postgres::Object) -> Result<Loaded> {
    let q = |e| db_error("reading the registry", &e);
    let mut users: Vec<User> = c
        .query(
            "SELECT id, password_hash, first_name, last_name, token_hash FROM registry_users
             ORDER BY id",
            &[],
        )
        .await
        .map_err(q)?
        .iter()
        .map(|r| User {
            id: r.get(0),
            password_hash: r.get(1),
            first_name: r.get(2),
            last_name: r.get(3),
            token_hash: r.get(4),
            privileges: BTreeSet::new(),
        })
        .collect();
    for r in c
        .query(
            "SELECT user_id, privilege FROM registry_user_privileges",
            &[],
        )
        .await
        .map_err(q)?
    {
        let user: String = r.get(0);
        if let Some(u) = users.iter_mut().find(|u| u.id == user) {
            u.privileges.insert(r.get(1));
        }
    }
    let api_keys = c
        .query(
            "SELECT id, user_id, name, created_ms, expires_ms, revoked_ms FROM registry_api_keys
             ORDER BY user_id, created_ms, id",
            &[],
        )
        .await
        .map_err(q)?
        .iter()
        .map(|r| ApiKey {
            id: r.get(0),
            user_id: r.get(1),
            name: r.get(2),
            created_ms: r.get(3),
            expires_ms: r.get(4),
            revoked_ms: r.get(5),
        })
        .collect();
    let mut deployments: Vec<Deployment> = c
        .query(
            "SELECT id, name, category, tenant_id, deploy_time_ms FROM registry_deployments",
            &[],
        )
        .await
        .map_err(q)?
        .iter()
        .map(|r| Deployment {
            id: r.get(0),
            name: r.get(1),
            category: r.get(2),
            tenant_id: r.get(3),
            deploy_time_ms: r.get(4),
            resources: Vec::new(),
        })
        .collect();
    for r in c
        .query(
            "SELECT deployment_id, name, mime_type, size FROM registry_resources ORDER BY name",
            &[],
        )
        .await
        .map_err(q)?
    {
        let dep: String = r.get(0);
        if let Some(d) = deployments.iter_mut().find(|d| d.id == dep) {
            d.resources.push(Resource {
                name: r.get(1),
                mime_type: r.get(2),
                size: u64::try_from(r.get::<_, i64>(3)).unwrap_or(0),
            });
        }
    }
    let services = c
        .query(
            "SELECT id, key, version, description, deployment_id, resource_name
             FROM registry_services",
            &[],
        )
        .await
        .map_err(q)?
        .iter()
        .map(|r| ServiceVersion {
            id: r.get(0),
            key: r.get(1),
            version: r.get(2),
            description: r.get(3),
            deployment_id: r.get(4),
            resource_name: r.get(5),
        })
        .collect();
    let mut definitions = Vec::new();
    for r in c
        .query(
            "SELECT id, kind, key, version, name, category, description, deployment_id,
                    resource_name
             FROM registry_definitions ORDER BY kind, key, version",
            &[],
        )
        .await
        .map_err(q)?
    {
        let kind: String = r.get(1);
        let kind = DefinitionKind::parse(&kind)
            .ok_or_else(|| Error::internal(format!("unknown definition kind '{kind}'")))?;
        definitions.push(EventRegistryDefinition {
            id: r.get(0),
            kind,
            key: r.get(2),
            version: r.get(3),
            name: r.get(4),
            category: r.get(5),
            description: r.get(6),
            deployment_id: r.get(7),
            resource_name: r.get(8),
        });
    }
    Ok(Loaded {
        users,
        api_keys,
        deployments,
        services,
        definitions,
    })
}

/// The bytes and permission bits of every resource of the committed folder `dir`.
fn read_folder(dir: &Path, resources: &[Resource]) -> Result<Vec<DeploymentFile>> {
    resources
        .iter()
        .map(|r| {
            let path = dir.join(&r.name);
            let bytes = std::fs::read(&path)?;
            #[cfg(unix)]
            let mode = {
                use std::os::unix::fs::PermissionsExt;
                Some(std::fs::metadata(&path)?.permissions().mode() & 0o777)
            };
            #[cfg(not(unix))]
            let mode = None;
            Ok(DeploymentFile {
                name: r.name.clone(),
                mode,
                bytes,
            })
        })
        .collect()
}

impl Registry for PgRegistry {
    fn load(&self) -> Result<Loaded> {
        self.with(move |c| async move { load(&c).await })
    }

    fn put_user(&self, user: &User) -> Result<()> {
        let user = user.clone();
        self.with(move |mut c| async move {
            let w = |e| db_error("saving a user", &e);
            let tx = c.transaction().await.map_err(w)?;
            tx.execute(
                "INSERT INTO registry_users (id, password_hash, first_name, last_name, token_hash)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET password_hash = $2, first_name = $3,
                     last_name = $4, token_hash = $5",
                &[
                    &user.id,
                    &user.password_hash,
                    &user.first_name,
                    &user.last_name,
                    &user.token_hash,
                ],
            )
            .await
            .map_err(w)?;
            tx.execute(
                "DELETE FROM registry_user_privileges WHERE user_id = $1",
                &[&user.id],
            )
            .await
            .map_err(w)?;
            let privileges: Vec<&String> = user.privileges.iter().collect();
            tx.execute(
                "INSERT INTO registry_user_privileges (user_id, privilege)
                 SELECT $1, unnest($2::text[])",
                &[&user.id, &privileges],
            )
            .await
            .map_err(w)?;
            changed(&tx).await?;
            tx.commit().await.map_err(w)
        })
    }

    fn delete_user(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.with(move |mut c| async move {
            let w = |e| db_error("deleting a user", &e);
            let tx = c.transaction().await.map_err(w)?;
            let n = tx
                .execute("DELETE FROM registry_users WHERE id = $1", &[&id])
                .await
                .map_err(w)?;
            changed(&tx).await?;
            tx.commit().await.map_err(w)?;
            Ok(n > 0)
        })
    }

    fn insert_api_key(&self, key: &ApiKey) -> Result<()> {
        let k = key.clone();
        self.with(move |mut c| async move {
            let w = |e| db_error("saving an API key", &e);
            let tx = c.transaction().await.map_err(w)?;
            tx.execute(
                "INSERT INTO registry_api_keys (id, user_id, name, created_ms, expires_ms,
                     revoked_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &k.id,
                    &k.user_id,
                    &k.name,
                    &k.created_ms,
                    &k.expires_ms,
                    &k.revoked_ms,
                ],
            )
            .await
            .map_err(w)?;
            changed(&tx).await?;
            tx.commit().await.map_err(w)
        })
    }

    fn revoke_api_key(&self, id: &str, revoked_ms: i64) -> Result<bool> {
        let id = id.to_owned();
        self.with(move |mut c| async move {
            let w = |e| db_error("revoking an API key", &e);
            let tx = c.transaction().await.map_err(w)?;
            let n = tx
                .execute(
                    "UPDATE registry_api_keys SET revoked_ms = $2
                     WHERE id = $1 AND revoked_ms IS NULL",
                    &[&id, &revoked_ms],
                )
                .await
                .map_err(w)?;
            changed(&tx).await?;
            tx.commit().await.map_err(w)?;
            Ok(n > 0)
        })
    }

    fn insert_deployment(
        &self,
        d: &Deployment,
        services: &mut [ServiceVersion],
        definitions: &mut [EventRegistryDefinition],
    ) -> Result<()> {
        let files = read_folder(&deployment_dir(&self.data_dir, &d.id), &d.resources)?;
        let (d, mut s, mut e) = (d.clone(), services.to_vec(), definitions.to_vec());
        let (s, e) = self.with(move |mut c| async move {
            let w = |e| db_error("saving a deployment", &e);
            let tx = c.transaction().await.map_err(w)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&VERSION_LOCK])
                .await
                .map_err(w)?;
            tx.execute(
                "INSERT INTO registry_deployments (id, name, category, tenant_id, deploy_time_ms)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&d.id, &d.name, &d.category, &d.tenant_id, &d.deploy_time_ms],
            )
            .await
            .map_err(w)?;
            for (r, f) in d.resources.iter().zip(&files) {
                let size = i64::try_from(r.size).unwrap_or(i64::MAX);
                let mode = f.mode.and_then(|m| i32::try_from(m).ok());
                tx.execute(
                    "INSERT INTO registry_resources (deployment_id, name, mime_type, size, mode,
                         data)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[&d.id, &r.name, &r.mime_type, &size, &mode, &f.bytes],
                )
                .await
                .map_err(w)?;
            }
            for v in &mut s {
                let row = tx
                    .query_one(
                        "SELECT COALESCE(MAX(version), 0) + 1 FROM registry_services
                         WHERE key = $1",
                        &[&v.key],
                    )
                    .await
                    .map_err(w)?;
                v.version = row.get(0);
                tx.execute(
                    "INSERT INTO registry_services (id, key, version, description, deployment_id,
                         resource_name)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &v.id,
                        &v.key,
                        &v.version,
                        &v.description,
                        &v.deployment_id,
                        &v.resource_name,
                    ],
                )
                .await
                .map_err(w)?;
            }
            for x in &mut e {
                let row = tx
                    .query_one(
                        "SELECT COALESCE(MAX(version), 0) + 1 FROM registry_definitions
                         WHERE kind = $1 AND key = $2",
                        &[&x.kind.as_str(), &x.key],
                    )
                    .await
                    .map_err(w)?;
                x.version = row.get(0);
                tx.execute(
                    "INSERT INTO registry_definitions (id, kind, key, version, name, category,
                         description, deployment_id, resource_name)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    &[
                        &x.id,
                        &x.kind.as_str(),
                        &x.key,
                        &x.version,
                        &x.name,
                        &x.category,
                        &x.description,
                        &x.deployment_id,
                        &x.resource_name,
                    ],
                )
                .await
                .map_err(w)?;
            }
            changed(&tx).await?;
            tx.commit().await.map_err(w)?;
            Ok((s, e))
        })?;
        services.clone_from_slice(&s);
        definitions.clone_from_slice(&e);
        Ok(())
    }

    fn delete_deployment(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.with(move |mut c| async move {
            let w = |e| db_error("deleting a deployment", &e);
            let tx = c.transaction().await.map_err(w)?;
            let n = tx
                .execute("DELETE FROM registry_deployments WHERE id = $1", &[&id])
                .await
                .map_err(w)?;
            changed(&tx).await?;
            tx.commit().await.map_err(w)?;
            Ok(n > 0)
        })
    }

    fn deployment_files(&self, id: &str) -> Result<Option<Vec<DeploymentFile>>> {
        let id = id.to_owned();
        self.with(move |c| async move {
            let rows = c
                .query(
                    "SELECT name, mode, data FROM registry_resources WHERE deployment_id = $1
                     ORDER BY name",
                    &[&id],
                )
                .await
                .map_err(|e| db_error("reading a deployment's files", &e))?;
            Ok(Some(
                rows.iter()
                    .map(|r| DeploymentFile {
                        name: r.get(0),
                        mode: r
                            .get::<_, Option<i32>>(1)
                            .and_then(|m| u32::try_from(m).ok()),
                        bytes: r.get(2),
                    })
                    .collect(),
            ))
        })
    }

    fn oauth_providers(&self) -> Result<Vec<SealedProvider>> {
        self.with(move |c| async move {
            Ok(c.query(
                "SELECT connector, provider, sealed, updated_ms FROM registry_oauth_providers
                 ORDER BY connector, provider",
                &[],
            )
            .await
            .map_err(|e| db_error("reading the OAuth providers", &e))?
            .iter()
            .map(|r| SealedProvider {
                connector: r.get(0),
                provider: r.get(1),
                sealed: r.get(2),
                updated_ms: r.get(3),
            })
            .collect())
        })
    }

    fn put_oauth_providers(&self, all: &[SealedProvider]) -> Result<()> {
        let all = all.to_vec();
        self.with(move |mut c| async move {
            let w = |e| db_error("saving OAuth providers", &e);
            let tx = c.transaction().await.map_err(w)?;
            for p in &all {
                tx.execute(
                    "INSERT INTO registry_oauth_providers (connector, provider, sealed, updated_ms)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (connector, provider) DO UPDATE SET sealed = $3, updated_ms = $4",
                    &[&p.connector, &p.provider, &p.sealed, &p.updated_ms],
                )
                .await
                .map_err(w)?;
            }
            changed(&tx).await?;
            tx.commit().await.map_err(w)
        })
    }

    fn delete_oauth_provider(&self, connector: &str, provider: &str) -> Result<bool> {
        let (connector, provider) = (connector.to_owned(), provider.to_owned());
        self.with(move |mut c| async move {
            let w = |e| db_error("deleting an OAuth provider", &e);
            let tx = c.transaction().await.map_err(w)?;
            let n = tx
                .execute(
                    "DELETE FROM registry_oauth_providers WHERE connector = $1 AND provider = $2",
                    &[&connector, &provider],
                )
                .await
                .map_err(w)?;
            changed(&tx).await?;
            tx.commit().await.map_err(w)?;
            Ok(n > 0)
        })
    }

    fn ping(&self) -> Result<()> {
        self.with(move |c| async move {
            c.query_one("SELECT 1", &[])
                .await
                .map_err(|e| db_error("pinging the database", &e))?;
            Ok(())
        })
    }

    fn check_writable(&self) -> Result<()> {
        self.with(move |mut c| async move {
            let w = |e| db_error("probing a write", &e);
            let tx = c.transaction().await.map_err(w)?;
            tx.batch_execute(
                "SET LOCAL lock_timeout = '1s';
                 SELECT value FROM registry_generation FOR UPDATE;",
            )
            .await
            .map_err(w)?;
            tx.rollback().await.map_err(w)
        })
    }

    fn watch(&self) -> Option<watch::Receiver<i64>> {
        Some(
            self.generation
                .get_or_init(|| {
                    let (tx, rx) = watch::channel(0);
                    self.pg.spawn(follow(Arc::clone(&self.pg), tx));
                    rx
                })
                .clone(),
        )
    }
}

/// Keeps `tx` at the newest generation: a `LISTEN` connection of its own (reopened when it
/// breaks) and a read of the generation every [`POLL`]. Ends when every receiver is gone.
async fn follow(pg: Arc<Pg>, tx: watch::Sender<i64>) {
    let mut listening: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        if tx.is_closed() {
            if let Some(l) = listening.take() {
                l.abort();
            }
            return;
        }
        if listening.as_ref().is_none_or(|l| l.is_finished()) {
            listening = pg
                .config()
                .cloned()
                .map(|config| tokio::spawn(listen(config, tx.clone())));
        }
        if let Ok(c) = pg.client().await {
            if let Ok(row) = c
                .query_one("SELECT value FROM registry_generation", &[])
                .await
            {
                let g: i64 = row.get(0);
                tx.send_if_modified(|old| {
                    let newer = g > *old;
                    if newer {
                        *old = g;
                    }
                    newer
                });
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One `LISTEN` connection: moves `tx` with each notification of this schema; returns
/// when the connection ends.
async fn listen(config: tokio_postgres::Config, tx: watch::Sender<i64>) {
    let Ok((client, mut conn)) = config.connect(tokio_postgres::NoTls).await else {
        return;
    };
    let (notes_tx, mut notes) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let AsyncMessage::Notification(n) = m {
                if notes_tx.send(n.payload().to_owned()).is_err() {
                    return;
                }
            }
        }
    });
    let schema: Option<String> = match client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
        Ok(()) => client
            .query_one("SELECT current_schema()", &[])
            .await
            .ok()
            .map(|r| r.get(0)),
        Err(_) => None,
    };
    let Some(schema) = schema else {
        driver.abort();
        return;
    };
    while let Some(payload) = notes.recv().await {
        let Some(g) = payload
            .rsplit_once(':')
            .filter(|(s, _)| *s == schema)
            .and_then(|(_, g)| g.parse::<i64>().ok())
        else {
            continue;
        };
        tx.send_if_modified(|old| {
            let newer = g > *old;
            if newer {
                *old = g;
            }
            newer
        });
        if tx.is_closed() {
            break;
        }
    }
    driver.abort();
}
