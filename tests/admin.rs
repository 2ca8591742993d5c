//! The admin API over real sockets: authentication, deployments with hot mount, versions,
//! the routes list, users, engine and health, and persistence across restarts.
//!
//! Each test starts a real server on 127.0.0.1:0 that mounts the `core` fixture (the
//! operations folder) and then enables the admin API on its own temporary data folder.

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use fss::admin::AdminConfig;
use fss::server::ServerConfig;
use http::Method;
use serde_json::{json, Value};
use support::pg::Backend;
use support::{basic, fixture, request, Answer, TestServer};

const ADMIN: &str = "root-admin";
const PASSWORD: &str = "s3cret-root-pw";

// === helpers ===

fn config(user: Option<&str>, password: Option<&str>) -> AdminConfig {
    AdminConfig {
        bootstrap_user: user.map(Into::into),
        bootstrap_password: password.map(Into::into),
        ..AdminConfig::default()
    }
}

/// A server on `data` with the admin API enabled by `cfg`.
async fn start(data: &Path, backend: &Backend, cfg: AdminConfig) -> TestServer {
    try_start(data, backend, cfg)
        .await
        .expect("admin API enables")
}

async fn try_start(
    data: &Path,
    backend: &Backend,
    cfg: AdminConfig,
) -> Result<TestServer, fss::Error> {
    let dir = data.to_path_buf();
    let server = TestServer::start_config(
        &fixture("core"),
        move |c| {
            c.data_dir = dir;
            backend.configure(c);
        },
        |_| {},
        ServerConfig::default(),
    )
    .await;
    match server.enable_admin(cfg).await {
        Ok(_) => Ok(server),
        Err(e) => {
            server.stop().await;
            Err(e)
        }
    }
}

async fn start_default(data: &Path, backend: &Backend) -> TestServer {
    start(data, backend, config(Some(ADMIN), Some(PASSWORD))).await
}

/// An admin request with the bootstrap admin's credentials.
async fn api(s: &TestServer, method: Method, path: &str) -> Answer {
    api_as(s, (ADMIN, PASSWORD), method, path, Bytes::new()).await
}

async fn api_as(
    s: &TestServer,
    (user, pw): (&str, &str),
    method: Method,
    path: &str,
    body: impl Into<Bytes>,
) -> Answer {
    let auth = basic(user, pw);
    request(
        method,
        &s.url(path),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body,
    )
    .await
}

async fn api_json(s: &TestServer, method: Method, path: &str, body: &Value) -> Answer {
    api_as(
        s,
        (ADMIN, PASSWORD),
        method,
        path,
        serde_json::to_vec(body).unwrap(),
    )
    .await
}

/// Asserts the admin error shape and status; returns the message.
fn admin_error(a: &Answer, status: u16) -> String {
    assert_eq!(
        a.status.as_u16(),
        status,
        "body: {}",
        String::from_utf8_lossy(&a.body)
    );
    assert_eq!(a.header("content-type"), Some("application/json"));
    let v = a.json();
    assert_eq!(v["statusCode"], status);
    v["errorMessage"]
        .as_str()
        .expect("errorMessage is a string")
        .to_owned()
}

/// One part of a multipart body.
enum Part<'a> {
    File {
        field: &'a str,
        filename: &'a str,
        bytes: &'a [u8],
    },
    Text {
        name: &'a str,
        value: &'a str,
    },
}

const BOUNDARY: &str = "fss-test-boundary-7d1f";

fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        write!(out, "--{BOUNDARY}\r\n").unwrap();
        match p {
            Part::File {
                field,
                filename,
                bytes,
            } => {
                write!(
                    out,
                    "Content-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .unwrap();
                out.extend_from_slice(bytes);
            }
            Part::Text { name, value } => {
                write!(
                    out,
                    "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}"
                )
                .unwrap();
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    write!(out, "--{BOUNDARY}--\r\n").unwrap();
    out
}

async fn post_multipart(s: &TestServer, query: &str, parts: &[Part<'_>]) -> Answer {
    let auth = basic(ADMIN, PASSWORD);
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    request(
        Method::POST,
        &s.url(&format!("/api/repository/deployments{query}")),
        &[("authorization", &auth), ("content-type", &ct)],
        multipart(parts),
    )
    .await
}

/// Deploys one file; asserts 201 and returns the deployment JSON.
async fn deploy(s: &TestServer, field: &str, filename: &str, bytes: &[u8], query: &str) -> Value {
    let a = post_multipart(
        s,
        query,
        &[Part::File {
            field,
            filename,
            bytes,
        }],
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    a.json()
}

/// A service with echo actions named `actions`.
fn echo_def(name: &str, actions: &[&str]) -> Vec<u8> {
    let actions: Vec<Value> = actions
        .iter()
        .map(|a| {
            json!({"name": a, "inputs": [{"name": "In"}], "outputs": [{"name": "In"}],
                   "process": {"builtin": "echo"}})
        })
        .collect();
    serde_json::to_vec(&json!({"name": name, "messageActions": actions})).unwrap()
}

fn zip_of(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes, mode) in entries {
        let options = zip::write::SimpleFileOptions::default().unix_permissions(*mode);
        w.start_file(*name, options).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn service_request(inputs: &[(&str, &str)]) -> Value {
    let inputs: Vec<Value> = inputs
        .iter()
        .map(
            |(k, v)| json!({"developerName": k, "contentType": "ContentString", "contentValue": v}),
        )
        .collect();
    json!({"token": "t1", "tenantId": "x", "inputs": inputs})
}

/// Calls a message action; returns the answer.
async fn call(s: &TestServer, path: &str, inputs: &[(&str, &str)]) -> Answer {
    support::post_json(&s.url(path), &service_request(inputs)).await
}

/// The output named `name` of a ServiceResponse.
fn output(a: &Answer, name: &str) -> Value {
    let v = a.json();
    v["outputs"]
        .as_array()
        .and_then(|o| o.iter().find(|x| x["developerName"] == name))
        .map(|x| x["contentValue"].clone())
        .unwrap_or(Value::Null)
}

/// `v` without its `url` fields (they name the server's port, which a restart changes).
fn without_urls(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("url");
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect()
}

// === authentication ===

async fn admin_api_requires_basic_credentials_and_the_privilege(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start_default(data.path(), &backend).await;
    let url = "/api/repository/deployments";

    let a = request(Method::GET, &s.url(url), &[], Bytes::new()).await;
    let msg = admin_error(&a, 401);
    assert!(msg.contains("credentials are required"), "{msg}");
    assert!(a
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic realm="));

    let a = api_as(&s, (ADMIN, "wrong"), Method::GET, url, Bytes::new()).await;
    assert_eq!(admin_error(&a, 401), "wrong user or password");
    assert!(a.header("www-authenticate").is_some());
    let a = api_as(&s, ("nobody", PASSWORD), Method::GET, url, Bytes::new()).await;
    assert_eq!(admin_error(&a, 401), "wrong user or password");
    let a = request(
        Method::GET,
        &s.url(url),
        &[("authorization", "Bearer abc")],
        Bytes::new(),
    )
    .await;
    assert!(admin_error(&a, 401).contains("not HTTP Basic"));

    // a user without the privilege is known (403), not unknown (401)
    let a = api_json(
        &s,
        Method::POST,
        "/api/identity/users",
        &json!({"id": "viewer", "password": "viewer-pw"}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let a = api_as(&s, ("viewer", "viewer-pw"), Method::GET, url, Bytes::new()).await;
    assert!(admin_error(&a, 403).contains("access-rest-api"));

    // the alias spelling grants the same privilege
    let a = api_json(
        &s,
        Method::POST,
        "/api/identity/users",
        &json!({"id": "ops", "password": "ops-pw", "privileges": ["rest-access-api"]}),
    )
    .await;
    assert_eq!(a.status, 201);
    assert_eq!(a.json()["privileges"], json!(["access-rest-api"]));
    let a = api_as(&s, ("ops", "ops-pw"), Method::GET, url, Bytes::new()).await;
    assert_eq!(a.status, 200);
    // the same credentials again (now from the verified-credential cache)
    let a = api_as(&s, ("ops", "ops-pw"), Method::GET, url, Bytes::new()).await;
    assert_eq!(a.status, 200);

    // Flow endpoints stay open: the admin credentials guard /api/ only
    let a = support::get(&s.url("/fs/Sample/metadata")).await;
    assert_eq!(a.status, 200);
    s.stop().await;
}

async fn bootstrap_admin_is_created_reused_and_never_removed(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start(
        data.path(),
        &backend,
        config(Some("boot"), Some("first-pw")),
    )
    .await;
    let a = api_as(
        &s,
        ("boot", "first-pw"),
        Method::GET,
        "/api/management/engine",
        "",
    )
    .await;
    assert_eq!(a.status, 200);
    s.stop().await;

    // present: reused as it is; a changed password variable does not overwrite it
    let s = start(
        data.path(),
        &backend,
        config(Some("boot"), Some("other-pw")),
    )
    .await;
    let a = api_as(
        &s,
        ("boot", "first-pw"),
        Method::GET,
        "/api/management/engine",
        "",
    )
    .await;
    assert_eq!(a.status, 200);
    let a = api_as(
        &s,
        ("boot", "other-pw"),
        Method::GET,
        "/api/management/engine",
        "",
    )
    .await;
    assert_eq!(a.status, 401);
    s.stop().await;

    // unset later: the user stays
    let s = start(data.path(), &backend, config(None, None)).await;
    let a = api_as(
        &s,
        ("boot", "first-pw"),
        Method::GET,
        "/api/management/engine",
        "",
    )
    .await;
    assert_eq!(a.status, 200);
    s.stop().await;

    // a new bootstrap user needs a password
    let err = try_start(data.path(), &backend, config(Some("newboot"), None))
        .await
        .err()
        .expect("creating a bootstrap admin without a password fails");
    assert_eq!(err.status(), 400);
    assert!(err.to_string().contains("FSS_ADMIN_PASSWORD"), "{err}");

    // the password is stored only as a salted argon2 hash
    if let Backend::Postgres(schema) = &backend {
        let rows = support::pg::registry_rows(schema).await;
        let boot = rows
            .lines()
            .find(|l| l.starts_with("registry_users: (boot,"))
            .unwrap_or_else(|| panic!("no row of boot: {rows}"));
        assert!(boot.contains(",\"$argon2id$"), "{boot}");
        assert!(!rows.contains("first-pw"), "{rows}");
        return;
    }
    let conn = rusqlite::Connection::open(data.path().join("admin.db")).unwrap();
    let hash: String = conn
        .query_row(
            "SELECT password_hash FROM users WHERE id = 'boot'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("first-pw"));
    let db = std::fs::read(data.path().join("admin.db")).unwrap();
    assert!(!db.windows(8).any(|w| w == b"first-pw"));
}

// === deployments ===

async fn deploy_mounts_at_once_and_delete_unmounts(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start_default(data.path(), &backend).await;
    let ping = "/fs/HotDeploy/actions/ping";
    assert_eq!(call(&s, ping, &[("In", "hi")]).await.status, 404);

    let a = post_multipart(
        &s,
        "?category=demo",
        &[
            Part::Text {
                name: "tenantId",
                value: "acme",
            },
            Part::File {
                field: "hot.json",
                filename: "Hot.json",
                bytes: &echo_def("HotDeploy", &["Ping"]),
            },
            Part::File {
                field: "ignored.json",
                filename: "Ignored.json",
                bytes: &echo_def("Ignored", &["Ping"]),
            },
        ],
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let d = a.json();
    let id = d["id"].as_str().unwrap().to_owned();
    assert_eq!(d["name"], "hot.json");
    assert_eq!(d["category"], "demo");
    assert_eq!(d["tenantId"], "acme");
    assert_eq!(d["parentDeploymentId"], Value::Null);
    assert_eq!(
        d["url"],
        s.url(&format!("/api/repository/deployments/{id}"))
    );
    assert_eq!(a.header("location"), d["url"].as_str());
    let time = d["deploymentTime"].as_str().unwrap();
    assert!(
        time.len() == 29 && time.ends_with("+00:00") && time.as_bytes()[10] == b'T',
        "{time}"
    );
    assert_eq!(d["services"][0]["key"], "HotDeploy");
    assert_eq!(d["services"][0]["version"], 1);
    assert_eq!(d["services"][0]["path"], "/fs/HotDeploy");

    // answers at once, without a restart; the extra file was ignored
    let a = call(&s, ping, &[("In", "hi")]).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(output(&a, "In"), "hi");
    assert_eq!(call(&s, "/fs/Ignored/actions/ping", &[]).await.status, 404);

    let a = api(
        &s,
        Method::GET,
        &format!("/api/repository/deployments/{id}"),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["id"], id.as_str());
    let a = api(
        &s,
        Method::GET,
        &format!("/api/repository/deployments/{id}/resourcedata/Hot.json"),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(&a.body[..], &echo_def("HotDeploy", &["Ping"])[..]);

    let a = api(
        &s,
        Method::DELETE,
        &format!("/api/repository/deployments/{id}"),
    )
    .await;
    assert_eq!(a.status, 204);
    assert!(a.body.is_empty());
    assert_eq!(call(&s, ping, &[("In", "hi")]).await.status, 404);
    let a = api(
        &s,
        Method::GET,
        &format!("/api/repository/deployments/{id}"),
    )
    .await;
    assert!(admin_error(&a, 404).contains(&id));
    let a = api(
        &s,
        Method::DELETE,
        &format!("/api/repository/deployments/{id}"),
    )
    .await;
    admin_error(&a, 404);
    let a = api(
        &s,
        Method::PUT,
        &format!("/api/repository/deployments/{id}"),
    )
    .await;
    admin_error(&a, 405);
    assert_eq!(a.header("allow"), Some("GET, DELETE"));

    // the folder goes once nothing runs on it
    let dir = data.path().join("deployments").join(&id);
    eventually(|| !dir.exists()).await;
    s.stop().await;
}

/// Waits (bounded, 10 s) until `cond` holds.
async fn eventually(cond: impl Fn() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not met within 10 s");
}

async fn deploy_refusals_say_what_was_wrong_and_mount_nothing(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let mut cfg = config(Some(ADMIN), Some(PASSWORD));
    cfg.max_deployment_bytes = 4096;
    let s = start(data.path(), &backend, cfg).await;

    let a = api_json(&s, Method::POST, "/api/repository/deployments", &json!({})).await;
    assert!(admin_error(&a, 400).starts_with("Multipart request is required"));

    let a = post_multipart(
        &s,
        "",
        &[Part::Text {
            name: "tenantId",
            value: "x",
        }],
    )
    .await;
    assert!(admin_error(&a, 400).starts_with("Multipart request with file content is required"));

    let a = post_multipart(
        &s,
        "",
        &[Part::File {
            field: "def.txt",
            filename: "def.txt",
            bytes: b"{}",
        }],
    )
    .await;
    assert!(admin_error(&a, 400).starts_with("File must be of type"));

    let a = post_multipart(
        &s,
        "",
        &[Part::File {
            field: "e.json",
            filename: "e.json",
            bytes: b"",
        }],
    )
    .await;
    assert!(admin_error(&a, 400).contains("empty"));

    // one bad definition: every problem listed with resource and JSON path
    let bad = br#"{"name": "Bad", "messageActions": [{"name": "A", "process": {}}], "typo": 1}"#;
    let a = post_multipart(
        &s,
        "",
        &[Part::File {
            field: "bad.json",
            filename: "bad.json",
            bytes: bad,
        }],
    )
    .await;
    let msg = admin_error(&a, 400);
    assert!(msg.contains("bad.json") && msg.contains("typo"), "{msg}");

    // a zip with one good and two bad definitions mounts nothing, lists both problems
    let z = zip_of(&[
        ("Good.json", &echo_def("GoodOne", &["Go"]), 0o644),
        ("Dup1.json", &echo_def("Same", &["A"]), 0o644),
        ("Dup2.json", &echo_def("Same", &["A"]), 0o644),
        ("Broken.json", b"{ not json", 0o644),
    ]);
    let a = post_multipart(
        &s,
        "",
        &[Part::File {
            field: "set.zip",
            filename: "set.zip",
            bytes: &z,
        }],
    )
    .await;
    let msg = admin_error(&a, 400);
    let problems = a.json()["problems"].as_array().unwrap().clone();
    assert_eq!(problems.len(), 2, "{msg}");
    assert!(
        msg.contains("Broken.json") && msg.contains("already used"),
        "{msg}"
    );
    assert_eq!(call(&s, "/fs/GoodOne/actions/go", &[]).await.status, 404);
    let a = api(&s, Method::GET, "/api/repository/deployments").await;
    assert_eq!(a.json()["total"], 0);

    let a = post_multipart(
        &s,
        "",
        &[Part::File {
            field: "x.zip",
            filename: "x.zip",
            bytes: b"PK no zip",
        }],
    )
    .await;
    assert!(admin_error(&a, 400).contains("not a valid .zip"));
    let z = zip_of(&[("scripts/only.sh", b"true", 0o755)]);
    let a = post_multipart(
        &s,
        "",
        &[Part::File {
            field: "x.zip",
            filename: "x.zip",
            bytes: &z,
        }],
    )
    .await;
    assert!(admin_error(&a, 400).contains("no service definition"));

    // a deployment may not replace a service of the operations folder
    let a = post_multipart(
        &s,
        "",
        &[Part::File {
            field: "s.json",
            filename: "s.json",
            bytes: &echo_def("Sample", &["X"]),
        }],
    )
    .await;
    assert!(admin_error(&a, 409).contains("operations folder"));
    assert_eq!(
        support::get(&s.url("/fs/Sample/metadata")).await.status,
        200
    );

    // the body is bounded while it streams
    let big = vec![b' '; 8192];
    let a = post_multipart(
        &s,
        "",
        &[Part::File {
            field: "big.json",
            filename: "big.json",
            bytes: &big,
        }],
    )
    .await;
    admin_error(&a, 413);

    // nothing of the refused uploads is left on disk
    let left: Vec<_> = std::fs::read_dir(data.path().join("deployments"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    s.stop().await;
}

/// A zip whose definitions run scripts shipped beside them.
fn scripted_zip() -> Vec<u8> {
    let reply = br#"#!/bin/sh
cat >/dev/null
printf '{"outputs":{"Out":"from-script"}}'
"#;
    let one = json!({"name": "Scripted", "messageActions": [
        {"name": "Reply", "outputs": [{"name": "Out"}], "process": {"command": ["./scripts/reply.sh"]}},
        {"name": "Reply Sh", "outputs": [{"name": "Out"}], "process": {"command": ["sh", "scripts/reply.sh"]}}
    ]});
    zip_of(&[
        ("Scripted.json", &serde_json::to_vec(&one).unwrap(), 0o644),
        ("Plain.json", &echo_def("Plain", &["Echo"]), 0o644),
        ("scripts/reply.sh", reply, 0o755),
        ("data/notes.txt", b"notes", 0o644),
    ])
}

async fn zip_deployment_runs_its_scripts_and_serves_its_resources(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start_default(data.path(), &backend).await;
    let d = deploy(
        &s,
        "bundle.zip",
        "bundle.zip",
        &scripted_zip(),
        "?deploymentName=Bundle",
    )
    .await;
    let id = d["id"].as_str().unwrap();
    assert_eq!(d["name"], "Bundle");
    assert_eq!(d["tenantId"], "");
    let keys: Vec<&str> = d["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["Plain", "Scripted"]);

    let a = call(&s, "/fs/Scripted/actions/reply", &[]).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(output(&a, "Out"), "from-script");
    let a = call(&s, "/fs/Scripted/actions/reply-sh", &[]).await;
    assert_eq!(output(&a, "Out"), "from-script");
    assert_eq!(
        call(&s, "/fs/Plain/actions/echo", &[("In", "x")])
            .await
            .status,
        200
    );

    let a = api(
        &s,
        Method::GET,
        &format!("/api/repository/deployments/{id}/resources"),
    )
    .await;
    assert_eq!(a.status, 200);
    let names: BTreeSet<String> = a
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let want: BTreeSet<String> = [
        "Plain.json",
        "Scripted.json",
        "data/notes.txt",
        "scripts/reply.sh",
    ]
    .map(String::from)
    .into();
    assert_eq!(names, want);

    // resource ids with '/' arrive as %2F
    let a = api(
        &s,
        Method::GET,
        &format!("/api/repository/deployments/{id}/resourcedata/data%2Fnotes.txt"),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(&a.body[..], b"notes");
    assert_eq!(a.header("content-type"), Some("text/plain"));
    assert_eq!(
        a.header("content-disposition"),
        Some("attachment; filename=\"notes.txt\"; filename*=UTF-8''notes.txt")
    );
    let a = api(
        &s,
        Method::GET,
        &format!("/api/repository/deployments/{id}/resourcedata/scripts%2Freply.sh"),
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(a.body.starts_with(b"#!/bin/sh"));
    let a = api(
        &s,
        Method::GET,
        &format!("/api/repository/deployments/{id}/resourcedata/data%2Fnone.txt"),
    )
    .await;
    assert!(admin_error(&a, 404).contains("data/none.txt"));
    let a = api(
        &s,
        Method::GET,
        "/api/repository/deployments/nope/resourcedata/x",
    )
    .await;
    admin_error(&a, 404);
    s.stop().await;
}

async fn redeploy_makes_a_new_version_and_older_ones_stay_queryable(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start_default(data.path(), &backend).await;
    let d1 = deploy(
        &s,
        "v.json",
        "v.json",
        &echo_def("Versioned", &["Ping"]),
        "",
    )
    .await;
    let d2 = deploy(
        &s,
        "v.json",
        "v.json",
        &echo_def("Versioned", &["Pong"]),
        "",
    )
    .await;
    deploy(&s, "o.json", "o.json", &echo_def("Other", &["Ping"]), "").await;
    assert_eq!(d2["services"][0]["version"], 2);

    // the newest is mounted
    assert_eq!(
        call(&s, "/fs/Versioned/actions/pong", &[]).await.status,
        200
    );
    assert_eq!(
        call(&s, "/fs/Versioned/actions/ping", &[]).await.status,
        404
    );

    let a = api(&s, Method::GET, "/api/repository/services?key=Versioned").await;
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["total"], 2);
    assert_eq!(v["data"][0]["version"], 1);
    assert_eq!(v["data"][0]["mounted"], false);
    assert_eq!(v["data"][1]["version"], 2);
    assert_eq!(v["data"][1]["mounted"], true);
    assert_eq!(v["data"][1]["deploymentId"], d2["id"]);
    assert_eq!(v["data"][1]["resourceName"], "v.json");

    let a = api(
        &s,
        Method::GET,
        "/api/repository/services?key=Versioned&latest=true",
    )
    .await;
    assert_eq!(a.json()["total"], 1);
    assert_eq!(a.json()["data"][0]["version"], 2);
    let a = api(
        &s,
        Method::GET,
        "/api/repository/services?keyLike=%25ed&latest=true",
    )
    .await;
    assert_eq!(a.json()["data"][0]["key"], "Versioned");
    let a = api(&s, Method::GET, "/api/repository/services?latest=true").await;
    assert!(admin_error(&a, 400).contains("'latest'"));
    let a = api(&s, Method::GET, "/api/repository/services?version=1").await;
    assert_eq!(a.json()["total"], 2);
    let a = api(&s, Method::GET, "/api/repository/services?version=one").await;
    assert!(admin_error(&a, 400).contains("'version'"));
    let a = api(
        &s,
        Method::GET,
        "/api/repository/services?latest=yes&key=Other",
    )
    .await;
    assert!(admin_error(&a, 400).contains("must be 'true' or 'false'"));
    let a = api(
        &s,
        Method::GET,
        &format!(
            "/api/repository/services?deploymentId={}",
            d1["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(a.json()["total"], 1);
    let a = api(
        &s,
        Method::GET,
        "/api/repository/services?sort=version&order=desc",
    )
    .await;
    let versions: Vec<i64> = a.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [2, 1, 1]);
    let a = api(&s, Method::GET, "/api/repository/services").await;
    let keys: Vec<&str> = ["Other", "Versioned", "Versioned"].to_vec();
    let got: Vec<String> = a.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, keys);

    // one version, its file and its model
    let old = v["data"][0]["id"].as_str().unwrap();
    let a = api(&s, Method::GET, &format!("/api/repository/services/{old}")).await;
    assert_eq!(a.json()["version"], 1);
    let a = api(
        &s,
        Method::GET,
        &format!("/api/repository/services/{old}/model"),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["messageActions"][0]["name"], "Ping");
    let a = api(
        &s,
        Method::GET,
        &format!("/api/repository/services/{old}/resourcedata"),
    )
    .await;
    assert_eq!(&a.body[..], &echo_def("Versioned", &["Ping"])[..]);
    assert_eq!(a.header("content-type"), Some("application/json"));
    admin_error(
        &api(&s, Method::GET, "/api/repository/services/nope").await,
        404,
    );
    admin_error(
        &api(&s, Method::GET, "/api/repository/services/nope/model").await,
        404,
    );

    // deleting the newest mounts the newest remaining
    let id2 = d2["id"].as_str().unwrap();
    assert_eq!(
        api(
            &s,
            Method::DELETE,
            &format!("/api/repository/deployments/{id2}")
        )
        .await
        .status,
        204
    );
    assert_eq!(
        call(&s, "/fs/Versioned/actions/ping", &[]).await.status,
        200
    );
    assert_eq!(
        call(&s, "/fs/Versioned/actions/pong", &[]).await.status,
        404
    );
    let a = api(
        &s,
        Method::GET,
        "/api/repository/services?key=Versioned&latest=true",
    )
    .await;
    assert_eq!(a.json()["data"][0]["version"], 1);
    assert_eq!(a.json()["data"][0]["mounted"], true);

    // a name differing only in case is refused, not mounted beside it
    let a = post_multipart(
        &s,
        "",
        &[Part::File {
            field: "x.json",
            filename: "x.json",
            bytes: &echo_def("versioned", &["Ping"]),
        }],
    )
    .await;
    assert!(admin_error(&a, 409).contains("only in case"));
    s.stop().await;
}

async fn deployment_list_filters_sorts_and_pages(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start_default(data.path(), &backend).await;
    // name, category, tenant
    let rows = [
        ("alpha.json", Some("red"), Some("t1")),
        ("beta.json", Some("blue"), Some("t1")),
        ("gamma.json", None, Some("t2")),
        ("delta.json", Some("red"), None),
        ("alpine.json", Some("blue"), None),
    ];
    for (i, (name, cat, tenant)) in rows.iter().enumerate() {
        let q = cat.map(|c| format!("?category={c}")).unwrap_or_default();
        let def = echo_def(&format!("Svc{i}"), &["Ping"]);
        let mut parts = vec![Part::File {
            field: name,
            filename: name,
            bytes: &def,
        }];
        if let Some(t) = tenant {
            parts.push(Part::Text {
                name: "tenantId",
                value: t,
            });
        }
        let a = post_multipart(&s, &q, &parts).await;
        assert_eq!(a.status, 201);
        // distinct deployment times for the deployTime sort
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let list = |q: &'static str| {
        let s = &s;
        async move {
            let a = api(s, Method::GET, &format!("/api/repository/deployments{q}")).await;
            assert_eq!(a.status, 200, "{q}: {}", String::from_utf8_lossy(&a.body));
            a.json()
        }
    };
    let set = |v: &Value| -> BTreeSet<String> { ids(v).into_iter().collect() };
    let names = |n: &[&str]| -> BTreeSet<String> { n.iter().map(|s| s.to_string()).collect() };

    let v = list("").await;
    assert_eq!(v["total"], 5);
    assert_eq!(v["size"], 5);
    assert_eq!(v["start"], 0);
    assert_eq!(v["sort"], "id");
    assert_eq!(v["order"], "asc");
    let by_id: Vec<String> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = by_id.clone();
    sorted.sort();
    assert_eq!(by_id, sorted);

    assert_eq!(set(&list("?name=beta.json").await), names(&["beta.json"]));
    assert_eq!(
        set(&list("?nameLike=alp%25").await),
        names(&["alpha.json", "alpine.json"])
    );
    assert_eq!(
        set(&list("?nameLike=%25ta.json").await),
        names(&["beta.json", "delta.json"])
    );
    assert_eq!(
        set(&list("?category=red").await),
        names(&["alpha.json", "delta.json"])
    );
    assert_eq!(
        set(&list("?categoryNotEquals=red").await),
        names(&["beta.json", "gamma.json", "alpine.json"])
    );
    assert_eq!(
        set(&list("?tenantId=t1").await),
        names(&["alpha.json", "beta.json"])
    );
    assert_eq!(
        set(&list("?tenantIdLike=t%25").await),
        names(&["alpha.json", "beta.json", "gamma.json"])
    );
    assert_eq!(
        set(&list("?withoutTenantId=true").await),
        names(&["delta.json", "alpine.json"])
    );
    assert_eq!(list("?withoutTenantId=false").await["total"], 5);
    assert_eq!(
        set(&list("?category=blue&withoutTenantId=true").await),
        names(&["alpine.json"])
    );

    assert_eq!(
        ids(&list("?sort=name").await),
        [
            "alpha.json",
            "alpine.json",
            "beta.json",
            "delta.json",
            "gamma.json"
        ]
    );
    assert_eq!(
        ids(&list("?sort=name&order=desc").await),
        [
            "gamma.json",
            "delta.json",
            "beta.json",
            "alpine.json",
            "alpha.json"
        ]
    );
    let v = list("?sort=deploytime").await;
    assert_eq!(v["sort"], "deployTime");
    assert_eq!(
        ids(&v),
        [
            "alpha.json",
            "beta.json",
            "gamma.json",
            "delta.json",
            "alpine.json"
        ]
    );
    assert_eq!(
        ids(&list("?sort=deployTime&order=desc&size=2").await),
        ["alpine.json", "delta.json"]
    );
    let v = list("?sort=tenantId&order=desc").await;
    assert_eq!(&ids(&v)[..1], ["gamma.json"]);

    // paging across pages: every item exactly once, size = items returned
    let mut seen = Vec::new();
    for start in [0, 2, 4] {
        let q: &'static str =
            Box::leak(format!("?sort=name&size=2&start={start}").into_boxed_str());
        let v = list(q).await;
        assert_eq!(v["total"], 5);
        assert_eq!(v["start"], start);
        assert_eq!(v["size"], if start == 4 { 1 } else { 2 });
        seen.extend(ids(&v));
    }
    assert_eq!(
        seen,
        [
            "alpha.json",
            "alpine.json",
            "beta.json",
            "delta.json",
            "gamma.json"
        ]
    );
    let v = list("?start=9").await;
    assert_eq!(
        (v["size"].as_u64(), v["total"].as_u64()),
        (Some(0), Some(5))
    );
    let v = list("?start=-3&size=-1").await;
    assert_eq!(
        (v["start"].as_u64(), v["size"].as_u64()),
        (Some(0), Some(5))
    );

    // typed-parameter errors, with the exact reason
    let err = |q: &'static str| {
        let s = &s;
        async move {
            admin_error(
                &api(s, Method::GET, &format!("/api/repository/deployments{q}")).await,
                400,
            )
        }
    };
    assert!(err("?sort=bogus")
        .await
        .starts_with("Value for param 'sort' is not valid, 'bogus' is not a valid property"));
    assert_eq!(
        err("?order=up").await,
        "Value for param 'order' is not valid : 'up', must be 'asc' or 'desc'"
    );
    assert!(err("?start=abc")
        .await
        .starts_with("Value for param 'start' is not valid : 'abc' is not an integer"));
    assert!(err("?size=1.5")
        .await
        .starts_with("Value for param 'size' is not valid : '1.5' is not an integer"));
    assert!(err("?size=99999999999").await.contains("'size'"));
    assert_eq!(
        err("?withoutTenantId=1").await,
        "Value for param 'withoutTenantId' is not valid : '1', must be 'true' or 'false'"
    );
    s.stop().await;
}

// === routes ===

/// Lists the routes and checks them against every URL in `ever` (which grows by the listed
/// ones): a URL answers (neither 404 nor 405) exactly when it is listed.
async fn check_routes(s: &TestServer, ever: &mut BTreeSet<(String, String)>) -> Value {
    let v = api(s, Method::GET, "/api/repository/routes").await.json();
    let listed: BTreeSet<(String, String)> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let path = r["path"].as_str().unwrap().replace("{id}", "x");
            (r["method"].as_str().unwrap().to_owned(), path)
        })
        .collect();
    assert_eq!(v["total"].as_u64().unwrap() as usize, listed.len());
    ever.extend(listed.iter().cloned());
    let body = serde_json::to_vec(&service_request(&[])).unwrap();
    for (m, p) in ever.iter() {
        let method = Method::from_bytes(m.as_bytes()).unwrap();
        let ans = request(
            method,
            &s.url(p),
            &[("content-type", "application/json")],
            body.clone(),
        )
        .await;
        let answers = ans.status != 404 && ans.status != 405;
        let is_listed = listed.contains(&(m.clone(), p.clone()));
        assert_eq!(answers, is_listed, "{m} {p} answered {}", ans.status);
    }
    v
}

async fn routes_list_equals_the_urls_that_answer(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start_default(data.path(), &backend).await;
    let a = deploy(
        &s,
        "a.json",
        "a.json",
        &echo_def("RouteA", &["One", "Two"]),
        "",
    )
    .await;
    let mut ever: BTreeSet<(String, String)> = BTreeSet::new();
    check_routes(&s, &mut ever).await;
    deploy(&s, "bundle.zip", "bundle.zip", &scripted_zip(), "").await;
    deploy(
        &s,
        "a2.json",
        "a2.json",
        &echo_def("RouteA", &["Three"]),
        "",
    )
    .await;
    let c = deploy(&s, "c.json", "c.json", &echo_def("RouteC", &["Ping"]), "").await;
    let rows = json!({"name": "RouteRows",
        "types": [{"name": "Row", "properties": [{"name": "Id"}, {"name": "Text"}]}],
        "dataActions": [{"objectType": "Row", "key": "Id", "load": {"builtin": "store"},
                         "save": {"builtin": "store"}, "delete": {"builtin": "store"}}]});
    let rows = serde_json::to_vec(&rows).unwrap();
    let r = deploy(&s, "rows.json", "rows.json", &rows, "").await;

    let v = check_routes(&s, &mut ever).await;
    let data_of = |v: &Value| v["data"].as_array().unwrap().clone();
    let route = data_of(&v)
        .into_iter()
        .find(|r| r["path"] == "/fs/RouteA/actions/three")
        .unwrap();
    assert_eq!(route["method"], "POST");
    assert_eq!(route["kind"], "action");
    assert_eq!(route["service"], "RouteA");
    assert_eq!(route["version"], 2);
    let sample = data_of(&v)
        .into_iter()
        .find(|r| r["service"] == "Sample")
        .unwrap();
    assert_eq!(
        sample["version"],
        Value::Null,
        "operations folder services have no version"
    );
    let one = ("POST".to_owned(), "/fs/RouteA/actions/one".to_owned());
    assert!(ever.contains(&one) && !data_of(&v).iter().any(|r| r["path"] == one.1));

    let kinds: BTreeSet<String> = data_of(&v)
        .iter()
        .filter(|r| r["service"] == "RouteRows")
        .map(|r| r["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        kinds.contains("table load") && kinds.contains("row delete"),
        "{kinds:?}"
    );
    // delete RouteC, RouteRows, and RouteA v1 (not the mounted one), and check again
    for d in [&c, &a, &r] {
        let id = d["id"].as_str().unwrap();
        let path = format!("/api/repository/deployments/{id}");
        assert_eq!(api(&s, Method::DELETE, &path).await.status, 204);
    }
    let v = check_routes(&s, &mut ever).await;
    assert!(data_of(&v).iter().all(|r| r["service"] != "RouteC"));
    assert!(data_of(&v)
        .iter()
        .any(|r| r["path"] == "/fs/RouteA/actions/three"));
    assert!(ever.contains(&("POST".into(), "/fs/RouteC/actions/ping".into())));
    s.stop().await;
}

async fn delete_lets_a_running_request_finish(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start_default(data.path(), &backend).await;
    let slow = br#"import json, sys, time
call = json.load(sys.stdin)
open(call["inputs"]["Marker"], "w").write("started")
time.sleep(1)
json.dump({"outputs": {"Out": "slow-done"}}, sys.stdout)
"#;
    let def = json!({"name": "Slow", "messageActions": [{"name": "Wait", "inputs": [{"name": "Marker"}],
        "outputs": [{"name": "Out"}], "process": {"command": ["python3", "slow.py"]}}]});
    let z = zip_of(&[
        ("Slow.json", &serde_json::to_vec(&def).unwrap(), 0o644),
        ("slow.py", slow, 0o644),
    ]);
    let d = deploy(&s, "slow.zip", "slow.zip", &z, "").await;
    let id = d["id"].as_str().unwrap().to_owned();

    let marker = data.path().join("marker");
    let (url, m) = (s.url("/fs/Slow/actions/wait"), marker.display().to_string());
    let running =
        tokio::spawn(
            async move { support::post_json(&url, &service_request(&[("Marker", &m)])).await },
        );
    let mk = marker.clone();
    eventually(move || mk.exists()).await;

    assert_eq!(
        api(
            &s,
            Method::DELETE,
            &format!("/api/repository/deployments/{id}")
        )
        .await
        .status,
        204
    );
    assert_eq!(
        call(&s, "/fs/Slow/actions/wait", &[("Marker", "/dev/null")])
            .await
            .status,
        404
    );
    let done = running.await.unwrap();
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    assert_eq!(output(&done, "Out"), "slow-done");
    let dir: PathBuf = data.path().join("deployments").join(&id);
    eventually(move || !dir.exists()).await;
    s.stop().await;
}

// === users, engine, health ===

async fn users_are_managed_through_the_api(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start_default(data.path(), &backend).await;
    let users = "/api/identity/users";
    let a = api_json(
        &s,
        Method::POST,
        users,
        &json!({"id": "ann", "password": "ann-pw-1", "firstName": "Ann",
        "privileges": ["access-rest-api"]}),
    )
    .await;
    assert_eq!(a.status, 201);
    let u = a.json();
    assert_eq!(u["id"], "ann");
    assert_eq!(u["firstName"], "Ann");
    assert!(u.get("password").is_none() && !a.body.windows(8).any(|w| w == b"ann-pw-1"));
    assert_eq!(
        a.header("location"),
        Some(s.url("/api/identity/users/ann").as_str())
    );

    let a = api_json(
        &s,
        Method::POST,
        users,
        &json!({"id": "ann", "password": "x"}),
    )
    .await;
    assert!(admin_error(&a, 409).contains("already exists"));
    let a = api_json(
        &s,
        Method::POST,
        users,
        &json!({"id": "bad id", "password": "x"}),
    )
    .await;
    assert!(admin_error(&a, 400).contains("not valid"));
    let a = api_json(
        &s,
        Method::POST,
        users,
        &json!({"id": "bob", "password": "x", "privileges": ["root"]}),
    )
    .await;
    assert!(admin_error(&a, 400).contains("unknown privilege 'root'"));
    let a = api_json(
        &s,
        Method::POST,
        users,
        &json!({"id": "bob", "password": "x", "role": "admin"}),
    )
    .await;
    assert!(admin_error(&a, 415).contains("unknown field"));
    let a = api_json(&s, Method::POST, users, &json!({"id": "bob"})).await;
    assert!(admin_error(&a, 400).contains("missing field"));
    let a = api_as(&s, (ADMIN, PASSWORD), Method::POST, users, "{nope").await;
    admin_error(&a, 400);
    let a = api_json(
        &s,
        Method::POST,
        users,
        &json!({"id": "bob", "password": ""}),
    )
    .await;
    admin_error(&a, 400);

    let v = api(&s, Method::GET, users).await.json();
    assert_eq!(v["total"], 2);
    let listed: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["ann", ADMIN]);
    assert!(!serde_json::to_string(&v).unwrap().contains("argon2"));
    let v = api(&s, Method::GET, "/api/identity/users?idLike=an%25")
        .await
        .json();
    assert_eq!(v["total"], 1);
    let v = api(
        &s,
        Method::GET,
        "/api/identity/users?sort=firstName&order=desc",
    )
    .await
    .json();
    assert_eq!(v["data"][0]["id"], "ann");
    assert_eq!(
        api(&s, Method::GET, "/api/identity/users/ann").await.json()["firstName"],
        "Ann"
    );
    admin_error(&api(&s, Method::GET, "/api/identity/users/zed").await, 404);

    // a new password replaces the old one at once
    let a = api_json(
        &s,
        Method::PUT,
        "/api/identity/users/ann",
        &json!({"password": "ann-pw-2", "lastName": "Lee"}),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["lastName"], "Lee");
    assert_eq!(
        api_as(&s, ("ann", "ann-pw-1"), Method::GET, users, "")
            .await
            .status,
        401
    );
    assert_eq!(
        api_as(&s, ("ann", "ann-pw-2"), Method::GET, users, "")
            .await
            .status,
        200
    );

    // removing the privilege: 403 from then on
    let a = api_json(
        &s,
        Method::PUT,
        "/api/identity/users/ann",
        &json!({"privileges": []}),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        api_as(&s, ("ann", "ann-pw-2"), Method::GET, users, "")
            .await
            .status,
        403
    );

    // the last admin can be neither deleted nor demoted
    let a = api(&s, Method::DELETE, &format!("/api/identity/users/{ADMIN}")).await;
    assert!(admin_error(&a, 409).contains("last one"));
    let a = api_json(
        &s,
        Method::PUT,
        &format!("/api/identity/users/{ADMIN}"),
        &json!({"privileges": []}),
    )
    .await;
    admin_error(&a, 409);

    let a = api(&s, Method::DELETE, "/api/identity/users/ann").await;
    assert_eq!(a.status, 204);
    assert_eq!(
        api_as(&s, ("ann", "ann-pw-2"), Method::GET, users, "")
            .await
            .status,
        401
    );
    admin_error(
        &api(&s, Method::DELETE, "/api/identity/users/ann").await,
        404,
    );
    s.stop().await;
}

async fn engine_health_and_unknown_paths(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start_default(data.path(), &backend).await;
    let a = api(&s, Method::GET, "/api/management/engine").await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json(),
        json!({"name": "fss", "version": env!("CARGO_PKG_VERSION")})
    );
    admin_error(&api(&s, Method::POST, "/api/management/engine").await, 405);

    let a = api(&s, Method::GET, "/api/management/health").await;
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["status"], "UP");
    assert_eq!(v["dependencies"]["dataFolder"]["status"], "UP");
    assert_eq!(v["dependencies"]["database"]["status"], "UP");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let ro = std::fs::Permissions::from_mode(0o555);
        std::fs::set_permissions(data.path(), ro).unwrap();
        let a = api(&s, Method::GET, "/api/management/health").await;
        std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        // root may write anyway; otherwise the folder is reported down
        if a.status == 503 {
            assert_eq!(a.json()["dependencies"]["dataFolder"]["status"], "DOWN");
        }
    }

    let a = api(&s, Method::GET, "/api/nothing/here").await;
    assert!(admin_error(&a, 404).contains("no admin endpoint"));
    // unknown paths are guarded too
    let a = request(Method::GET, &s.url("/api/nothing/here"), &[], Bytes::new()).await;
    admin_error(&a, 401);
    s.stop().await;
}

// === persistence ===

async fn everything_survives_a_restart(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start_default(data.path(), &backend).await;
    deploy(
        &s,
        "v.json",
        "v.json",
        &echo_def("Kept", &["Ping"]),
        "?category=c1",
    )
    .await;
    let d2 = deploy(&s, "v.json", "v.json", &echo_def("Kept", &["Pong"]), "").await;
    let bundle = deploy(&s, "bundle.zip", "bundle.zip", &scripted_zip(), "").await;
    let gone = deploy(
        &s,
        "gone.json",
        "gone.json",
        &echo_def("Gone", &["Ping"]),
        "",
    )
    .await;
    let gone_id = gone["id"].as_str().unwrap();
    assert_eq!(
        api(
            &s,
            Method::DELETE,
            &format!("/api/repository/deployments/{gone_id}")
        )
        .await
        .status,
        204
    );
    let a = api_json(
        &s,
        Method::POST,
        "/api/identity/users",
        &json!({"id": "kim", "password": "kim-pw",
        "privileges": ["access-rest-api"]}),
    )
    .await;
    assert_eq!(a.status, 201);
    let before_deployments = without_urls(
        api(&s, Method::GET, "/api/repository/deployments?sort=name")
            .await
            .json(),
    );
    let before_services = without_urls(
        api(&s, Method::GET, "/api/repository/services")
            .await
            .json(),
    );
    let before_routes = api(&s, Method::GET, "/api/repository/routes").await.json();
    s.stop().await;

    // restarted without the bootstrap variables
    let s = start(data.path(), &backend, config(None, None)).await;
    let kim = ("kim", "kim-pw");
    let get = |path: &'static str| {
        let s = &s;
        async move { api_as(s, kim, Method::GET, path, "").await }
    };
    let after = without_urls(get("/api/repository/deployments?sort=name").await.json());
    assert_eq!(after, before_deployments);
    assert_eq!(
        without_urls(get("/api/repository/services").await.json()),
        before_services
    );
    assert_eq!(get("/api/repository/routes").await.json(), before_routes);
    assert_eq!(
        api_as(
            &s,
            (ADMIN, PASSWORD),
            Method::GET,
            "/api/identity/users",
            ""
        )
        .await
        .status,
        200
    );

    // the newest versions answer without a redeploy; scripts still run from their folder
    assert_eq!(call(&s, "/fs/Kept/actions/pong", &[]).await.status, 200);
    assert_eq!(call(&s, "/fs/Kept/actions/ping", &[]).await.status, 404);
    assert_eq!(
        output(&call(&s, "/fs/Scripted/actions/reply", &[]).await, "Out"),
        "from-script"
    );
    assert_eq!(call(&s, "/fs/Gone/actions/ping", &[]).await.status, 404);
    let bid = bundle["id"].as_str().unwrap();
    let a = api_as(
        &s,
        kim,
        Method::GET,
        &format!("/api/repository/deployments/{bid}/resourcedata/scripts%2Freply.sh"),
        "",
    )
    .await;
    assert_eq!(a.status, 200);

    // versions go on from where they were
    let d3 = deploy(&s, "v.json", "v.json", &echo_def("Kept", &["Three"]), "").await;
    assert_eq!(d3["services"][0]["version"], 3);
    assert_ne!(d3["id"], d2["id"]);
    assert!(!data.path().join("deployments").join(gone_id).exists());
    s.stop().await;
}

async fn concurrent_deploys_of_one_name_get_distinct_versions(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start_default(data.path(), &backend).await;
    let s = std::sync::Arc::new(s);
    let mut tasks = Vec::new();
    for i in 0..5 {
        let s = std::sync::Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            let def = echo_def("Race", &[&format!("Run {i}")]);
            deploy(&s, "race.json", "race.json", &def, "").await
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let v = api(
        &s,
        Method::GET,
        "/api/repository/services?key=Race&sort=version",
    )
    .await
    .json();
    let versions: Vec<i64> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2, 3, 4, 5]);
    // exactly the newest version answers, and it is the one marked mounted
    let newest = v["data"][4]["id"].as_str().unwrap().to_owned();
    let model = api(
        &s,
        Method::GET,
        &format!("/api/repository/services/{newest}/model"),
    )
    .await
    .json();
    let action = model["messageActions"][0]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(v["data"][4]["mounted"], true);
    for i in 0..5 {
        let name = format!("Run {i}");
        let path = format!("/fs/Race/actions/run-{i}");
        let status = call(&s, &path, &[]).await.status;
        assert_eq!(status == 200, name == action, "{path} answered {status}");
    }
    let s = std::sync::Arc::into_inner(s).expect("no task holds the server");
    s.stop().await;
}

crate::both_backends!(
    routes_list_equals_the_urls_that_answer,
    admin_api_requires_basic_credentials_and_the_privilege,
    bootstrap_admin_is_created_reused_and_never_removed,
    deploy_mounts_at_once_and_delete_unmounts,
    deploy_refusals_say_what_was_wrong_and_mount_nothing,
    zip_deployment_runs_its_scripts_and_serves_its_resources,
    redeploy_makes_a_new_version_and_older_ones_stay_queryable,
    deployment_list_filters_sorts_and_pages,
    delete_lets_a_running_request_finish,
    users_are_managed_through_the_api,
    engine_health_and_unknown_paths,
    everything_survives_a_restart,
    concurrent_deploys_of_one_name_get_distinct_versions,
);
