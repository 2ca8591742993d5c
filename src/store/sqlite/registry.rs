//! The SQLite [`Registry`]: users, the records of their API keys, deployments, their
//! resources, service versions and event and channel definitions, OAuth providers in
//! `<data>/admin.db`.
//!
//! The schema is versioned with `PRAGMA user_version`; [`open`] applies the migrations a
//! database lacks and refuses one written by a newer fss. Every write is one transaction,
//! so a crash leaves either the whole deployment (or user change) or none of it.
//!
//! Every call blocks (SQLite, fsync); callers run them off the async workers.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Error, Result};
use crate::store::registry::{
    ApiKey, DefinitionKind, Deployment, DeploymentFile, EventRegistryDefinition, Loaded, Registry,
    Resource, SealedProvider, ServiceVersion, User,
};

/// The schema migrations, in order; `user_version` is the number applied.
const MIGRATIONS: &[&str] = &[
    // 1: users, deployments, resources, service versions.
    r#"
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    first_name    TEXT,
    last_name     TEXT
);
CREATE TABLE user_privileges (
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    privilege TEXT NOT NULL,
    PRIMARY KEY (user_id, privilege)
);
CREATE TABLE deployments (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    category       TEXT,
    tenant_id      TEXT NOT NULL DEFAULT '',
    deploy_time_ms INTEGER NOT NULL
);
CREATE TABLE resources (
    deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    mime_type     TEXT NOT NULL,
    size          INTEGER NOT NULL,
    PRIMARY KEY (deployment_id, name)
);
CREATE TABLE services (
    id            TEXT PRIMARY KEY,
    key           TEXT NOT NULL,
    version       INTEGER NOT NULL,
    description   TEXT,
    deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    resource_name TEXT NOT NULL,
    UNIQUE (key, version)
);
"#,
    // 2: service tokens (HTTP Basic passwords made by the API, stored hashed).
    "ALTER TABLE users ADD COLUMN token_hash TEXT;",
    // 3: OAuth providers, their parameters sealed with the keystore.
    r#"
CREATE TABLE oauth_providers (
    connector  TEXT NOT NULL,
    provider   TEXT NOT NULL,
    sealed     TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (connector, provider)
);
"#,
    // 4: API keys: the record of each (never the token); deleting a user deletes them.
    r#"
CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    revoked_ms INTEGER
);
CREATE INDEX api_keys_by_user ON api_keys(user_id);
"#,
    // 5: event and channel definitions (the Event Registry); deleting a deployment
    // deletes them. Their models stay in the resource files.
    r#"
CREATE TABLE event_registry_definitions (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('event', 'channel')),
    key           TEXT NOT NULL,
    version       INTEGER NOT NULL,
    name          TEXT,
    category      TEXT,
    description   TEXT,
    deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    resource_name TEXT NOT NULL,
    UNIQUE (kind, key, version)
);
CREATE INDEX event_registry_definitions_by_deployment
    ON event_registry_definitions(deployment_id);
"#,
];

/// How long a registry call waits for another connection's lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The database file under the data folder.
pub(crate) const DB_FILE: &str = "admin.db";

/// Opens (creating when absent) the database of `data_dir` and migrates it.
///
/// # Errors
///
/// The file cannot be opened, or its schema is newer than this build knows.
fn open(data_dir: &Path) -> rusqlite::Result<Connection> {
    let mut conn = Connection::open(data_dir.join(DB_FILE))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "{DB_FILE} has schema version {version}, newer than this fss knows ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(conn)
}

/// Reads every user, API key record, deployment, service version and event and channel
/// definition.
fn load(conn: &Connection) -> rusqlite::Result<Loaded> {
    let mut users: Vec<User> = conn
        .prepare(
            "SELECT id, password_hash, first_name, last_name, token_hash FROM users ORDER BY id",
        )?
        .query_map([], |r| {
            Ok(User {
                id: r.get(0)?,
                password_hash: r.get(1)?,
                first_name: r.get(2)?,
                last_name: r.get(3)?,
                token_hash: r.get(4)?,
                privileges: BTreeSet::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare("SELECT user_id, privilege FROM user_privileges")?;
    let privileges = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
    for p in privileges {
        let (user, privilege) = p?;
        if let Some(u) = users.iter_mut().find(|u| u.id == user) {
            u.privileges.insert(privilege);
        }
    }
    let api_keys = conn
        .prepare(
            "SELECT id, user_id, name, created_ms, expires_ms, revoked_ms FROM api_keys
             ORDER BY user_id, created_ms, id",
        )?
        .query_map([], |r| {
            Ok(ApiKey {
                id: r.get(0)?,
                user_id: r.get(1)?,
                name: r.get(2)?,
                created_ms: r.get(3)?,
                expires_ms: r.get(4)?,
                revoked_ms: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut deployments: Vec<Deployment> = conn
        .prepare("SELECT id, name, category, tenant_id, deploy_time_ms FROM deployments")?
        .query_map([], |r| {
            Ok(Deployment {
                id: r.get(0)?,
                name: r.get(1)?,
                category: r.get(2)?,
                tenant_id: r.get(3)?,
                deploy_time_ms: r.get(4)?,
                resources: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt =
        conn.prepare("SELECT deployment_id, name, mime_type, size FROM resources ORDER BY name")?;
    let resources = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Resource {
                name: r.get(1)?,
                mime_type: r.get(2)?,
                size: r.get(3)?,
            },
        ))
    })?;
    for res in resources {
        let (dep, resource) = res?;
        if let Some(d) = deployments.iter_mut().find(|d| d.id == dep) {
            d.resources.push(resource);
        }
    }
    let services = conn
        .prepare(
            "SELECT id, key, version, description, deployment_id, resource_name FROM services",
        )?
        .query_map([], |r| {
            Ok(ServiceVersion {
                id: r.get(0)?,
                key: r.get(1)?,
                version: r.get(2)?,
                description: r.get(3)?,
                deployment_id: r.get(4)?,
                resource_name: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let definitions = conn
        .prepare(
            "SELECT id, kind, key, version, name, category, description, deployment_id,
                    resource_name
             FROM event_registry_definitions ORDER BY kind, key, version",
        )?
        .query_map([], |r| {
            let kind: String = r.get(1)?;
            Ok(EventRegistryDefinition {
                id: r.get(0)?,
                kind: DefinitionKind::parse(&kind).ok_or_else(|| {
                    rusqlite::Error::InvalidColumnType(1, kind, rusqlite::types::Type::Text)
                })?,
                key: r.get(2)?,
                version: r.get(3)?,
                name: r.get(4)?,
                category: r.get(5)?,
                description: r.get(6)?,
                deployment_id: r.get(7)?,
                resource_name: r.get(8)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Loaded {
        users,
        api_keys,
        deployments,
        services,
        definitions,
    })
}

/// Inserts or replaces a user and its privileges.
fn put_user(conn: &mut Connection, user: &User) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO users (id, password_hash, first_name, last_name, token_hash)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(id) DO UPDATE SET password_hash = ?2, first_name = ?3, last_name = ?4,
             token_hash = ?5",
        params![
            user.id,
            user.password_hash,
            user.first_name,
            user.last_name,
            user.token_hash
        ],
    )?;
    tx.execute(
        "DELETE FROM user_privileges WHERE user_id = ?1",
        params![user.id],
    )?;
    for p in &user.privileges {
        tx.execute(
            "INSERT INTO user_privileges (user_id, privilege) VALUES (?1, ?2)",
            params![user.id, p],
        )?;
    }
    tx.commit()
}

/// Deletes a user (its privileges and API key records cascade); returns whether it
/// existed.
fn delete_user(conn: &mut Connection, id: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM users WHERE id = ?1", params![id])? > 0)
}

/// Inserts the record of a new API key.
fn insert_api_key(conn: &mut Connection, k: &ApiKey) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO api_keys (id, user_id, name, created_ms, expires_ms, revoked_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            k.id,
            k.user_id,
            k.name,
            k.created_ms,
            k.expires_ms,
            k.revoked_ms
        ],
    )
    .map(drop)
}

/// Marks an API key revoked unless it is already; returns whether it was revoked now.
fn revoke_api_key(conn: &mut Connection, id: &str, revoked_ms: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE api_keys SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms IS NULL",
        params![id, revoked_ms],
    )? > 0)
}

/// Inserts a deployment with its resources, service versions and event and channel
/// definitions, in one transaction.
fn insert_deployment(
    conn: &mut Connection,
    d: &Deployment,
    services: &mut [ServiceVersion],
    definitions: &mut [EventRegistryDefinition],
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO deployments (id, name, category, tenant_id, deploy_time_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![d.id, d.name, d.category, d.tenant_id, d.deploy_time_ms],
    )?;
    for r in &d.resources {
        tx.execute(
            "INSERT INTO resources (deployment_id, name, mime_type, size) VALUES (?1, ?2, ?3, ?4)",
            params![d.id, r.name, r.mime_type, r.size],
        )?;
    }
    for s in services.iter_mut() {
        s.version = tx.query_row(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM services WHERE key = ?1",
            params![s.key],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO services (id, key, version, description, deployment_id, resource_name)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                s.id,
                s.key,
                s.version,
                s.description,
                s.deployment_id,
                s.resource_name
            ],
        )?;
    }
    for e in definitions.iter_mut() {
        e.version = tx.query_row(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM event_registry_definitions
             WHERE kind = ?1 AND key = ?2",
            params![e.kind.as_str(), e.key],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO event_registry_definitions (id, kind, key, version, name, category,
                 description, deployment_id, resource_name)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                e.id,
                e.kind.as_str(),
                e.key,
                e.version,
                e.name,
                e.category,
                e.description,
                e.deployment_id,
                e.resource_name
            ],
        )?;
    }
    tx.commit()
}

/// Deletes a deployment; its resources, service versions and event and channel
/// definitions cascade. Returns whether it existed.
fn delete_deployment(conn: &mut Connection, id: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM deployments WHERE id = ?1", params![id])? > 0)
}

/// Every stored OAuth provider, sorted by connector and provider.
fn oauth_providers(conn: &Connection) -> rusqlite::Result<Vec<SealedProvider>> {
    conn.prepare(
        "SELECT connector, provider, sealed, updated_ms FROM oauth_providers
         ORDER BY connector, provider",
    )?
    .query_map([], |r| {
        Ok(SealedProvider {
            connector: r.get(0)?,
            provider: r.get(1)?,
            sealed: r.get(2)?,
            updated_ms: r.get(3)?,
        })
    })?
    .collect()
}

/// Inserts or replaces OAuth providers, in one transaction.
fn put_oauth_providers(conn: &mut Connection, all: &[SealedProvider]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for p in all {
        tx.execute(
            "INSERT INTO oauth_providers (connector, provider, sealed, updated_ms)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(connector, provider) DO UPDATE SET sealed = ?3, updated_ms = ?4",
            params![p.connector, p.provider, p.sealed, p.updated_ms],
        )?;
    }
    tx.commit()
}

/// Deletes one OAuth provider; returns whether it existed.
fn delete_oauth_provider(
    conn: &mut Connection,
    connector: &str,
    provider: &str,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "DELETE FROM oauth_providers WHERE connector = ?1 AND provider = ?2",
        params![connector, provider],
    )? > 0)
}

/// Answers whether the database responds (for the health endpoint).
fn ping(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("SELECT 1", [], |_| Ok(()))
        .optional()
        .map(drop)
}

/// How long the write probe waits for another connection's lock.
const WRITE_PROBE_BUSY: std::time::Duration = std::time::Duration::from_secs(1);

/// Begins a write transaction and rolls it back: `BEGIN IMMEDIATE` takes the write lock
/// (or fails when another connection holds it past [`WRITE_PROBE_BUSY`], or the file is
/// read-only) without changing a byte. The usual busy timeout is restored after.
fn check_writable(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(WRITE_PROBE_BUSY)?;
    let probe = conn
        .execute_batch("BEGIN IMMEDIATE")
        .and_then(|()| conn.execute_batch("ROLLBACK"));
    conn.busy_timeout(BUSY_TIMEOUT)?;
    probe
}

/// The registry in `<data>/admin.db`: one connection, opened (and migrated) on first
/// use, used by one caller at a time.
#[derive(Debug)]
pub(crate) struct SqliteRegistry {
    data_dir: PathBuf,
    conn: Mutex<Option<Connection>>,
}

impl SqliteRegistry {
    /// The registry of `data_dir`; nothing is opened until first use.
    pub(crate) fn new(data_dir: &Path) -> Self {
        SqliteRegistry {
            data_dir: data_dir.to_path_buf(),
            conn: Mutex::new(None),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        // A panic under this lock can only come from rusqlite itself; the connection is
        // still usable, so a poisoned lock is taken over.
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let failed = |e: rusqlite::Error| {
            Error::internal(format!("{}: {e}", self.data_dir.join(DB_FILE).display()))
        };
        if guard.is_none() {
            std::fs::create_dir_all(&self.data_dir)?;
            *guard = Some(open(&self.data_dir).map_err(failed)?);
        }
        f(guard.as_mut().expect("opened just above")).map_err(failed)
    }
}

impl Registry for SqliteRegistry {
    fn load(&self) -> Result<Loaded> {
        self.with(|c| load(c))
    }

    fn put_user(&self, user: &User) -> Result<()> {
        self.with(|c| put_user(c, user))
    }

    fn delete_user(&self, id: &str) -> Result<bool> {
        self.with(|c| delete_user(c, id))
    }

    fn insert_api_key(&self, key: &ApiKey) -> Result<()> {
        self.with(|c| insert_api_key(c, key))
    }

    fn revoke_api_key(&self, id: &str, revoked_ms: i64) -> Result<bool> {
        self.with(|c| revoke_api_key(c, id, revoked_ms))
    }

    fn insert_deployment(
        &self,
        d: &Deployment,
        services: &mut [ServiceVersion],
        definitions: &mut [EventRegistryDefinition],
    ) -> Result<()> {
        self.with(|c| insert_deployment(c, d, services, definitions))
    }

    fn deployment_files(&self, _id: &str) -> Result<Option<Vec<DeploymentFile>>> {
        Ok(None)
    }

    fn delete_deployment(&self, id: &str) -> Result<bool> {
        self.with(|c| delete_deployment(c, id))
    }

    fn oauth_providers(&self) -> Result<Vec<SealedProvider>> {
        self.with(|c| oauth_providers(c))
    }

    fn put_oauth_providers(&self, all: &[SealedProvider]) -> Result<()> {
        self.with(|c| put_oauth_providers(c, all))
    }

    fn delete_oauth_provider(&self, connector: &str, provider: &str) -> Result<bool> {
        self.with(|c| delete_oauth_provider(c, connector, provider))
    }

    fn ping(&self) -> Result<()> {
        self.with(|c| ping(c))
    }

    fn check_writable(&self) -> Result<()> {
        self.with(|c| check_writable(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_newer_schemas_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path()).unwrap();
        let v: usize = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len());
        drop(conn);
        let conn = open(dir.path()).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("newer"), "{err}");
    }

    #[test]
    fn users_of_schema_1_gain_a_token_column() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO users (id, password_hash) VALUES ('old', 'h')",
                [],
            )
            .unwrap();
        }
        let mut conn = open(dir.path()).unwrap();
        let mut users = load(&conn).unwrap().users;
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].token_hash, None);
        users[0].token_hash = Some("t".into());
        put_user(&mut conn, &users[0]).unwrap();
        assert_eq!(
            load(&conn).unwrap().users[0].token_hash.as_deref(),
            Some("t")
        );
    }

    #[test]
    fn api_keys_round_trip_revoke_once_and_go_with_their_user() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(dir.path()).unwrap();
        let user = User {
            id: "bot".into(),
            password_hash: "h".into(),
            token_hash: None,
            first_name: None,
            last_name: None,
            privileges: BTreeSet::new(),
        };
        put_user(&mut conn, &user).unwrap();
        let key = ApiKey {
            id: "k1".into(),
            user_id: "bot".into(),
            name: "default".into(),
            created_ms: 1_000,
            expires_ms: 2_000,
            revoked_ms: None,
        };
        insert_api_key(&mut conn, &key).unwrap();
        assert_eq!(load(&conn).unwrap().api_keys, vec![key.clone()]);
        // Updating the user keeps its keys (an upsert, not a delete and insert).
        put_user(&mut conn, &user).unwrap();
        assert_eq!(load(&conn).unwrap().api_keys.len(), 1);
        assert!(revoke_api_key(&mut conn, "k1", 1_500).unwrap());
        assert!(
            !revoke_api_key(&mut conn, "k1", 1_600).unwrap(),
            "revoked once"
        );
        assert!(!revoke_api_key(&mut conn, "nope", 1_600).unwrap());
        assert_eq!(load(&conn).unwrap().api_keys[0].revoked_ms, Some(1_500));
        // A key of an unknown user is refused by the foreign key.
        let stray = ApiKey {
            id: "k2".into(),
            user_id: "ghost".into(),
            ..key
        };
        assert!(insert_api_key(&mut conn, &stray).is_err());
        assert!(delete_user(&mut conn, "bot").unwrap());
        assert!(load(&conn).unwrap().api_keys.is_empty());
    }

    #[test]
    fn deployments_round_trip_and_cascade() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(dir.path()).unwrap();
        let d = Deployment {
            id: "d1".into(),
            name: "a.json".into(),
            category: Some("c".into()),
            tenant_id: String::new(),
            deploy_time_ms: 5,
            resources: vec![Resource {
                name: "a.json".into(),
                mime_type: "application/json".into(),
                size: 3,
            }],
        };
        let mut s = ServiceVersion {
            id: "s1".into(),
            key: "A".into(),
            version: 1,
            description: None,
            deployment_id: "d1".into(),
            resource_name: "a.json".into(),
        };
        insert_deployment(&mut conn, &d, std::slice::from_mut(&mut s), &mut []).unwrap();
        let got = load(&conn).unwrap();
        assert_eq!(got.deployments.len(), 1);
        assert_eq!(got.deployments[0].resources.len(), 1);
        assert_eq!(got.services[0].key, "A");
        assert!(delete_deployment(&mut conn, "d1").unwrap());
        let got = load(&conn).unwrap();
        assert!(got.deployments.is_empty() && got.services.is_empty());
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM resources", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }

    fn definition(
        id: &str,
        kind: DefinitionKind,
        key: &str,
        version: i64,
    ) -> EventRegistryDefinition {
        EventRegistryDefinition {
            id: id.into(),
            kind,
            key: key.into(),
            version,
            name: Some(format!("{key} v{version}")),
            category: None,
            description: Some("d".into()),
            deployment_id: "d1".into(),
            resource_name: format!("{key}.{}", kind.as_str()),
        }
    }

    fn deployment(id: &str) -> Deployment {
        Deployment {
            id: id.into(),
            name: "bundle.zip".into(),
            category: None,
            tenant_id: "t1".into(),
            deploy_time_ms: 7,
            resources: Vec::new(),
        }
    }

    #[test]
    fn event_registry_definitions_round_trip_in_one_transaction_and_cascade() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(dir.path()).unwrap();
        let defs = vec![
            definition("e1", DefinitionKind::Event, "orderPlaced", 1),
            definition("c1", DefinitionKind::Channel, "hook", 1),
            // One key may be an event and a channel: versions are per kind.
            definition("c2", DefinitionKind::Channel, "orderPlaced", 1),
        ];
        insert_deployment(&mut conn, &deployment("d1"), &mut [], &mut defs.clone()).unwrap();
        let mut got = load(&conn).unwrap().definitions;
        got.sort_by(|a, b| a.id.cmp(&b.id));
        let mut want = defs;
        want.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(got, want);
        // A deployment numbered from a stale view (version 1 of a key stored already) is
        // numbered again from what is stored: one more than the newest, per kind and key.
        let mut again = definition("e2", DefinitionKind::Event, "orderPlaced", 1);
        again.deployment_id = "d2".into();
        let mut fine = definition("e3", DefinitionKind::Event, "other", 1);
        fine.deployment_id = "d2".into();
        let mut both = [fine, again];
        insert_deployment(&mut conn, &deployment("d2"), &mut [], &mut both).unwrap();
        assert_eq!((both[0].version, both[1].version), (1, 2));
        let got = load(&conn).unwrap();
        assert_eq!(got.deployments.len(), 2);
        assert_eq!(got.definitions.len(), 5);
        assert!(delete_deployment(&mut conn, "d1").unwrap());
        assert!(delete_deployment(&mut conn, "d2").unwrap());
        assert!(load(&conn).unwrap().definitions.is_empty());
    }

    #[test]
    fn a_schema_4_database_gains_the_event_registry_table() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            for sql in &MIGRATIONS[..4] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 4).unwrap();
            conn.execute(
                "INSERT INTO deployments (id, name, tenant_id, deploy_time_ms)
                 VALUES ('d1', 'old.json', '', 1)",
                [],
            )
            .unwrap();
        }
        let mut conn = open(dir.path()).unwrap();
        let v: usize = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, 5);
        let got = load(&conn).unwrap();
        assert_eq!(got.deployments.len(), 1);
        assert!(got.definitions.is_empty());
        // The old deployment takes definitions now, and they go with it.
        let e = definition("e1", DefinitionKind::Event, "k", 1);
        conn.execute(
            "INSERT INTO event_registry_definitions (id, kind, key, version, deployment_id,
                 resource_name) VALUES (?1, 'event', ?2, 1, 'd1', 'k.event')",
            params![e.id, e.key],
        )
        .unwrap();
        assert_eq!(load(&conn).unwrap().definitions.len(), 1);
        assert!(delete_deployment(&mut conn, "d1").unwrap());
        assert!(load(&conn).unwrap().definitions.is_empty());
        // A kind other than event or channel is refused by the table.
        assert!(conn
            .execute(
                "INSERT INTO deployments (id, name, tenant_id, deploy_time_ms)
                 VALUES ('d2', 'x', '', 1)",
                [],
            )
            .is_ok());
        assert!(conn
            .execute(
                "INSERT INTO event_registry_definitions (id, kind, key, version, deployment_id,
                     resource_name) VALUES ('x', 'process', 'k', 1, 'd2', 'k.x')",
                [],
            )
            .is_err());
    }
}
