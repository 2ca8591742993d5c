//! Two instances on one PostgreSQL registry: what one deploys, undeploys, and changes of
//! users, tokens, API keys and OAuth providers reaches the other within a second, and a
//! deployment the other lacks the folder of is unpacked from the registry's copy.
//!
//! Each test starts two in-process runtimes (`TestServer`s with data folders of their
//! own) on ONE schema and sharing one `files_dir` (where the keystore lives with
//! `--database`). PostgreSQL only: without a server each test says it is skipped.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, Method};
use serde_json::{json, Value};
use support::deploy::{upload, zip_of};
use support::pg::{self, PgSchema};
use support::{basic, fixture, request, Answer, TestServer};

const ADMIN: &str = "sync-admin";
const PASSWORD: &str = "sync-admin-pw-1";
/// How long a change of one instance may take to reach the other.
const WITHIN: Duration = Duration::from_secs(1);

// === helpers ===

/// Two instances A and B on one schema, with the folders they are kept alive by.
struct Pair {
    a: TestServer,
    b: TestServer,
    /// The data folders of A and B, and the shared `files_dir`.
    dirs: [tempfile::TempDir; 3],
    _schema: PgSchema,
}

/// Starts A then B on a fresh schema, or `None` when no PostgreSQL answers.
async fn pair(test: &str) -> Option<Pair> {
    let schema = pg::schema(test).await?;
    let (da, db, files) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let on = |url: String, files: std::path::PathBuf| {
        move |c: &mut fss::RuntimeConfig| {
            c.database_url = Some(url);
            c.files_dir = Some(files);
        }
    };
    let ops = fixture("core");
    let a = TestServer::start_admin_config(
        &ops,
        da.path(),
        ADMIN,
        PASSWORD,
        on(schema.url.clone(), files.path().to_path_buf()),
    )
    .await;
    let b = TestServer::start_admin_config(
        &ops,
        db.path(),
        ADMIN,
        PASSWORD,
        on(schema.url.clone(), files.path().to_path_buf()),
    )
    .await;
    Some(Pair {
        a,
        b,
        dirs: [da, db, files],
        _schema: schema,
    })
}

/// An admin API call as the bootstrap admin.
async fn admin(s: &TestServer, method: Method, path: &str, body: &Value) -> Answer {
    let auth = basic(ADMIN, PASSWORD);
    let body = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(body).unwrap()
    };
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

fn text(a: &Answer) -> String {
    String::from_utf8_lossy(&a.body).into_owned()
}

/// A service named `name` with one echo action `Ping`, guarded by Basic credentials when
/// `basic`.
fn echo_def(name: &str, basic: bool) -> Vec<u8> {
    let mut def: Value = serde_json::from_slice(&action_def(name, "Ping")).unwrap();
    if basic {
        def["auth"] = json!({"basic": true});
    }
    serde_json::to_vec(&def).unwrap()
}

/// A service named `name` with one echo action named `action`.
fn action_def(name: &str, action: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"name": name, "messageActions": [
        {"name": action, "inputs": [{"name": "In"}], "outputs": [{"name": "In"}],
         "process": {"builtin": "echo"}}]}))
    .unwrap()
}

/// Deploys `bytes` as `filename` on `s` (201 expected); answers the deployment JSON.
async fn deploy(s: &TestServer, filename: &str, bytes: &[u8]) -> Value {
    let a = upload(
        s,
        "/api/repository",
        (ADMIN, PASSWORD),
        "file",
        filename,
        bytes,
    )
    .await;
    assert_eq!(a.status, 201, "{}", text(&a));
    a.json()
}

/// Calls the action `Ping` of `service` on `s` with `auth`: see [`call`].
async fn ping(s: &TestServer, service: &str, auth: Option<&str>) -> (u16, Value) {
    call(s, service, "ping", auth).await
}

/// Calls the action at `/fs/{service}/actions/{action}` on `s` with `auth`; answers the
/// status and, on 200, the echoed input.
async fn call(s: &TestServer, service: &str, action: &str, auth: Option<&str>) -> (u16, Value) {
    let body = json!({"token": "t1", "tenantId": "x", "inputs": [
        {"developerName": "In", "contentType": "ContentString", "contentValue": "hi"}]});
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    let a = request(
        Method::POST,
        &s.url(&format!("/fs/{service}/actions/{action}")),
        &headers,
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    let out = if a.status == 200 {
        a.json()["outputs"][0]["contentValue"].clone()
    } else {
        Value::Null
    };
    (a.status.as_u16(), out)
}

/// Polls `cond` until it holds or [`WITHIN`] has passed; panics with `what` then.
async fn within<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + WITHIN;
    loop {
        if cond().await {
            return;
        }
        assert!(Instant::now() < deadline, "not within {WITHIN:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether `s` lists a route of `/fs/{service}` in `/api/repository/routes`.
async fn routes_list(s: &TestServer, service: &str) -> bool {
    let v = admin(s, Method::GET, "/api/repository/routes", &Value::Null)
        .await
        .json();
    let prefix = format!("/fs/{service}/");
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["path"].as_str().unwrap().starts_with(&prefix))
}

/// The check the incoming API runs on `Authorization: Bearer {key}`: the status of the
/// refusal, or `None` when accepted.
async fn key_refusal(s: &TestServer, key: &str) -> Option<u16> {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {key}")).unwrap(),
    );
    s.runtime
        .auth()
        .authenticate_api_key(&h)
        .await
        .err()
        .map(|e| e.status().as_u16())
}

/// Every regular file under `dir`, by its path relative to `dir`.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

// === deployments ===

#[tokio::test]
async fn a_deployment_on_one_instance_is_served_by_the_other() {
    let Some(p) = pair("registry_sync::a_deployment_on_one_instance_is_served_by_the_other").await
    else {
        return;
    };
    assert_eq!(ping(&p.b, "Synced", None).await.0, 404);
    let d = deploy(&p.a, "Synced.json", &echo_def("Synced", false)).await;
    let id = d["id"].as_str().unwrap().to_owned();

    within("B answers the service deployed on A", || async {
        ping(&p.b, "Synced", None).await == (200, json!("hi"))
    })
    .await;
    assert!(routes_list(&p.b, "Synced").await);
    let a = admin(
        &p.b,
        Method::GET,
        &format!("/api/repository/deployments/{id}"),
        &Value::Null,
    )
    .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let on_b = a.json();
    assert_eq!(on_b["id"], d["id"]);
    assert_eq!(on_b["services"][0]["key"], "Synced");
    assert_eq!(on_b["services"][0]["version"], d["services"][0]["version"]);

    // undeployed on B: gone from A
    let a = admin(
        &p.b,
        Method::DELETE,
        &format!("/api/repository/deployments/{id}"),
        &Value::Null,
    )
    .await;
    assert_eq!(a.status, 204, "{}", text(&a));
    within("A stops answering the service undeployed on B", || async {
        ping(&p.a, "Synced", None).await.0 == 404
    })
    .await;
    assert!(!routes_list(&p.a, "Synced").await);
    p.a.stop().await;
    p.b.stop().await;
}

#[tokio::test]
async fn deploys_of_one_name_at_once_get_distinct_versions_and_both_serve_the_newest() {
    let Some(p) = pair(
        "registry_sync::deploys_of_one_name_at_once_get_distinct_versions_and_both_serve_the_newest",
    )
    .await
    else {
        return;
    };
    // The same name from each instance, told apart by the name of its one action.
    let (def_a, def_b) = (action_def("Twice", "From A"), action_def("Twice", "From B"));
    let (da, db) = tokio::join!(
        deploy(&p.a, "Twice.json", &def_a),
        deploy(&p.b, "Twice.json", &def_b)
    );
    let (va, vb) = (
        da["services"][0]["version"].as_i64().unwrap(),
        db["services"][0]["version"].as_i64().unwrap(),
    );
    let mut versions = [va, vb];
    versions.sort_unstable();
    assert_eq!(versions, [1, 2], "two deployments got one version");
    let (newest, older) = if va > vb {
        ("from-a", "from-b")
    } else {
        ("from-b", "from-a")
    };

    for s in [&p.a, &p.b] {
        within(
            "both instances know both deployments and serve the newest version",
            || async {
                let v = admin(s, Method::GET, "/api/repository/deployments", &Value::Null)
                    .await
                    .json();
                v["total"] == 2
                    && call(s, "Twice", newest, None).await.0 == 200
                    && call(s, "Twice", older, None).await.0 == 404
            },
        )
        .await;
    }
    p.a.stop().await;
    p.b.stop().await;
}

#[tokio::test]
async fn a_zip_deployment_is_unpacked_by_the_instance_that_lacks_its_folder() {
    let Some(p) =
        pair("registry_sync::a_zip_deployment_is_unpacked_by_the_instance_that_lacks_its_folder")
            .await
    else {
        return;
    };
    let resource: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let zip = zip_of(&[
        ("Zipped.json", &echo_def("Zipped", false)),
        ("data/blob.bin", &resource),
    ]);
    let d = deploy(&p.a, "zipped.zip", &zip).await;
    let id = d["id"].as_str().unwrap().to_owned();
    within("B answers the service of A's zip", || async {
        ping(&p.b, "Zipped", None).await.0 == 200
    })
    .await;
    let folder = p.dirs[1].path().join("deployments").join(&id);
    let found: Vec<_> = files_under(&folder)
        .into_iter()
        .filter(|f| f.ends_with("data/blob.bin"))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "B's folder {} lacks the resource",
        folder.display()
    );
    assert!(
        std::fs::read(&found[0]).unwrap() == resource,
        "bytes differ"
    );
    p.a.stop().await;
    p.b.stop().await;
}

// === users, tokens, API keys, OAuth providers ===

#[tokio::test]
async fn a_user_and_token_made_on_one_instance_work_on_the_other_until_revoked() {
    let Some(p) = pair(
        "registry_sync::a_user_and_token_made_on_one_instance_work_on_the_other_until_revoked",
    )
    .await
    else {
        return;
    };
    deploy(&p.a, "Guarded.json", &echo_def("Guarded", true)).await;
    let a = admin(
        &p.a,
        Method::POST,
        "/api/identity/users",
        &json!({"id": "flow-bot", "password": "flow-bot-pw-1", "privileges": ["flow-service"]}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", text(&a));
    let a = admin(
        &p.a,
        Method::POST,
        "/api/identity/users/flow-bot/token",
        &Value::Null,
    )
    .await;
    assert_eq!(a.status, 201, "{}", text(&a));
    let token = a.json()["token"].as_str().unwrap().to_owned();
    let (pw, tok) = (
        basic("flow-bot", "flow-bot-pw-1"),
        basic("flow-bot", &token),
    );

    within("B accepts the user and the token made on A", || async {
        ping(&p.b, "Guarded", Some(&pw)).await.0 == 200
            && ping(&p.b, "Guarded", Some(&tok)).await.0 == 200
    })
    .await;
    assert_eq!(ping(&p.b, "Guarded", None).await.0, 401);

    let a = admin(
        &p.b,
        Method::DELETE,
        "/api/identity/users/flow-bot/token",
        &Value::Null,
    )
    .await;
    assert_eq!(a.status, 204, "{}", text(&a));
    assert_eq!(ping(&p.b, "Guarded", Some(&tok)).await.0, 401);
    within("A refuses the token revoked on B", || async {
        ping(&p.a, "Guarded", Some(&tok)).await.0 == 401
    })
    .await;
    assert_eq!(ping(&p.a, "Guarded", Some(&pw)).await.0, 200);
    p.a.stop().await;
    p.b.stop().await;
}

#[tokio::test]
async fn an_api_key_issued_on_one_instance_works_on_the_other_until_revoked() {
    let Some(p) =
        pair("registry_sync::an_api_key_issued_on_one_instance_works_on_the_other_until_revoked")
            .await
    else {
        return;
    };
    let a = admin(
        &p.a,
        Method::POST,
        "/api/identity/users",
        &json!({"id": "api-bot", "password": "api-bot-pw-1",
                "privileges": ["use-api-key", "run-actions"]}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", text(&a));
    let a = admin(
        &p.a,
        Method::POST,
        "/api/identity/users/api-bot/api-keys",
        &json!({"name": "shared"}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", text(&a));
    let issued = a.json();
    let (key, id) = (
        issued["key"].as_str().unwrap().to_owned(),
        issued["id"].as_str().unwrap().to_owned(),
    );
    assert_eq!(key_refusal(&p.a, &key).await, None);
    within("B accepts the key issued on A", || async {
        key_refusal(&p.b, &key).await.is_none()
    })
    .await;

    let a = admin(
        &p.a,
        Method::DELETE,
        &format!("/api/identity/users/api-bot/api-keys/{id}"),
        &Value::Null,
    )
    .await;
    assert_eq!(a.status, 204, "{}", text(&a));
    within("B refuses the key revoked on A", || async {
        key_refusal(&p.b, &key).await == Some(401)
    })
    .await;
    p.a.stop().await;
    p.b.stop().await;
}

#[tokio::test]
async fn an_oauth_provider_loaded_on_one_instance_is_listed_by_the_other() {
    let Some(p) =
        pair("registry_sync::an_oauth_provider_loaded_on_one_instance_is_listed_by_the_other")
            .await
    else {
        return;
    };
    let doc = json!({"erp": {"ERP": {"CLIENT_ID": "cid-1", "CLIENT_SECRET": "sec-1"}}});
    let a = admin(&p.a, Method::POST, "/api/oauth/configurations", &doc).await;
    assert_eq!(a.status, 200, "{}", text(&a));
    within("B lists the provider loaded on A", || async {
        let v = admin(&p.b, Method::GET, "/api/oauth/configurations", &Value::Null)
            .await
            .json();
        v["data"] == json!([{"connector": "erp", "providers": ["ERP"]}])
    })
    .await;
    p.a.stop().await;
    p.b.stop().await;
}
