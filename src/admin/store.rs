//! Persistence of the admin state: users, deployments, their resources and service versions,
//! in `<data>/admin.db` (SQLite), with the extracted deployment files under
//! `<data>/deployments/<id>/`.
//!
//! The schema is versioned with `PRAGMA user_version`; [`open`] applies the migrations a
//! database lacks and refuses one written by a newer fss. Every write is one transaction,
//! so a crash leaves either the whole deployment (or user change) or none of it. Folders are
//! written before their rows and removed after them: a folder without a row is an orphan,
//! removed at the next start ([`remove_orphans`]).
//!
//! Functions here block (SQLite, fsync); callers run them off the async workers.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

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
];

/// The database file under the data folder.
pub(super) const DB_FILE: &str = "admin.db";
/// The folder of extracted deployments under the data folder.
pub(super) const DEPLOYMENTS_DIR: &str = "deployments";

/// A user of the admin API.
#[derive(Debug, Clone)]
pub(super) struct User {
    pub(super) id: String,
    /// The argon2 PHC string (salt and parameters included); never the password.
    pub(super) password_hash: String,
    /// The argon2 PHC string of the user's service token, when one was generated.
    pub(super) token_hash: Option<String>,
    pub(super) first_name: Option<String>,
    pub(super) last_name: Option<String>,
    pub(super) privileges: BTreeSet<String>,
}

/// A deployment: one uploaded file, its resources, the service versions it made.
#[derive(Debug, Clone)]
pub(super) struct Deployment {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) category: Option<String>,
    /// `""` when none.
    pub(super) tenant_id: String,
    /// Milliseconds since the Unix epoch.
    pub(super) deploy_time_ms: i64,
    pub(super) resources: Vec<Resource>,
}

/// One file of a deployment.
#[derive(Debug, Clone)]
pub(super) struct Resource {
    /// The path inside the deployment, `/`-separated (`scripts/run.sh`).
    pub(super) name: String,
    pub(super) mime_type: String,
    pub(super) size: u64,
}

/// One version of a service definition, made by one deployment.
#[derive(Debug, Clone)]
pub(super) struct ServiceVersion {
    pub(super) id: String,
    /// The service name.
    pub(super) key: String,
    pub(super) version: i64,
    pub(super) description: Option<String>,
    pub(super) deployment_id: String,
    /// The resource holding the definition.
    pub(super) resource_name: String,
}

/// Everything persisted, as read at start.
#[derive(Debug, Default)]
pub(super) struct Loaded {
    pub(super) users: Vec<User>,
    pub(super) deployments: Vec<Deployment>,
    pub(super) services: Vec<ServiceVersion>,
}

/// Opens (creating when absent) the database of `data_dir` and migrates it.
///
/// # Errors
///
/// The file cannot be opened, or its schema is newer than this build knows.
pub(super) fn open(data_dir: &Path) -> rusqlite::Result<Connection> {
    let mut conn = Connection::open(data_dir.join(DB_FILE))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
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

/// Reads every user, deployment and service version.
pub(super) fn load(conn: &Connection) -> rusqlite::Result<Loaded> {
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
    Ok(Loaded {
        users,
        deployments,
        services,
    })
}

/// Inserts or replaces a user and its privileges.
pub(super) fn put_user(conn: &mut Connection, user: &User) -> rusqlite::Result<()> {
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

/// Deletes a user; returns whether it existed.
pub(super) fn delete_user(conn: &mut Connection, id: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM users WHERE id = ?1", params![id])? > 0)
}

/// Inserts a deployment with its resources and service versions, in one transaction.
pub(super) fn insert_deployment(
    conn: &mut Connection,
    d: &Deployment,
    services: &[ServiceVersion],
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
    for s in services {
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
    tx.commit()
}

/// Deletes a deployment, its resources and its service versions; returns whether it existed.
pub(super) fn delete_deployment(conn: &mut Connection, id: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM deployments WHERE id = ?1", params![id])? > 0)
}

/// Answers whether the database responds (for the health endpoint).
pub(super) fn ping(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("SELECT 1", [], |_| Ok(()))
        .optional()
        .map(drop)
}

// === deployment folders ===

/// The folder of deployment `id`.
pub(super) fn deployment_dir(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join(DEPLOYMENTS_DIR).join(id)
}

/// One file to write into a deployment folder.
#[derive(Debug)]
pub(super) struct FileToWrite<'a> {
    /// The `/`-separated path inside the folder, already checked to stay inside it.
    pub(super) name: &'a str,
    pub(super) bytes: &'a [u8],
    /// Unix permission bits from a zip entry, when it carried them.
    pub(super) mode: Option<u32>,
}

/// Writes `files` into the folder of deployment `id`, atomically: into a temporary folder
/// beside it, each file fsynced, then renamed into place and the parent fsynced.
pub(super) fn write_deployment_dir(
    data_dir: &Path,
    id: &str,
    files: &[FileToWrite<'_>],
) -> std::io::Result<PathBuf> {
    let parent = data_dir.join(DEPLOYMENTS_DIR);
    std::fs::create_dir_all(&parent)?;
    let tmp = parent.join(format!(".tmp-{id}"));
    let done = parent.join(id);
    let result = (|| {
        std::fs::create_dir_all(&tmp)?;
        for f in files {
            let path = tmp.join(f.name);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = std::fs::File::create(&path)?;
            file.write_all(f.bytes)?;
            #[cfg(unix)]
            if let Some(mode) = f.mode {
                use std::os::unix::fs::PermissionsExt;
                // Owner read is kept so that fss can always serve the resource back.
                let bits = (mode & 0o777) | 0o400;
                file.set_permissions(std::fs::Permissions::from_mode(bits))?;
            }
            file.sync_all()?;
        }
        std::fs::rename(&tmp, &done)?;
        sync_dir(&parent)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result.map(|()| done)
}

/// Removes the folder of deployment `id`, if present.
pub(super) fn remove_deployment_dir(data_dir: &Path, id: &str) -> std::io::Result<()> {
    match std::fs::remove_dir_all(deployment_dir(data_dir, id)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Removes the folders under `<data>/deployments/` that belong to no known deployment
/// (interrupted writes, deletions whose files were still in use at shutdown).
pub(super) fn remove_orphans(data_dir: &Path, known: &dyn Fn(&str) -> bool) -> usize {
    let Ok(entries) = std::fs::read_dir(data_dir.join(DEPLOYMENTS_DIR)) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !known(&name) && e.path().is_dir() {
            match std::fs::remove_dir_all(e.path()) {
                Ok(()) => removed += 1,
                Err(err) => tracing::warn!(folder = %e.path().display(), error = %err,
                    "Orphan deployment folder not removed."),
            }
        }
    }
    removed
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
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
        let s = ServiceVersion {
            id: "s1".into(),
            key: "A".into(),
            version: 1,
            description: None,
            deployment_id: "d1".into(),
            resource_name: "a.json".into(),
        };
        insert_deployment(&mut conn, &d, std::slice::from_ref(&s)).unwrap();
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

    #[test]
    fn folders_are_written_whole_and_orphans_removed() {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            FileToWrite {
                name: "a.json",
                bytes: b"{}",
                mode: None,
            },
            FileToWrite {
                name: "scripts/run.sh",
                bytes: b"#!/bin/sh\n",
                mode: Some(0o100755),
            },
        ];
        let out = write_deployment_dir(dir.path(), "d1", &files).unwrap();
        assert_eq!(
            std::fs::read(out.join("scripts/run.sh")).unwrap(),
            b"#!/bin/sh\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(out.join("scripts/run.sh"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o755);
        }
        std::fs::create_dir_all(dir.path().join("deployments/.tmp-x")).unwrap();
        assert_eq!(remove_orphans(dir.path(), &|n| n == "d1"), 1);
        assert!(out.exists());
    }
}
