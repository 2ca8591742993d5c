//! The connection test over real sockets: `GET /api/management/connection-test` answers
//! 200 "TestConnection completed successfully" when every dependency works, and 503 with
//! each failure's code, verbatim message and detail when one is taken away: the keystore
//! (removed, opened to others, garbage, an alias removed), the database (locked by another
//! connection), the data folder (replaced by a file), and the OAuth providers that mounted
//! services use (not loaded, token endpoint closed, token endpoint answering 500).

mod support;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use fss::server::ServerConfig;
use http::Method;
use serde_json::Value;
use support::{admin_config, basic, fixture, request, Answer, TestServer};

const ADMIN: &str = "conn-admin";
const PASSWORD: &str = "conn-admin-pw-1";
const PATH: &str = "/api/management/connection-test";

const KEYS_MESSAGE: &str = "Failed to get ThingWorx Flow keys from the ThingWorx KeyStore.";
const OAUTH_KEY_MESSAGE: &str = "OAuth admin key not found in the ThingWorx KeyStore.";
const EXCHANGE_KEY_MESSAGE: &str = "Exchange admin key not found in the ThingWorx KeyStore.";

// === helpers ===

/// A server of the `core` fixture on `data`, its keystore at `keystore` (default: in
/// `data`), the admin API enabled.
async fn start(data: &Path, keystore: Option<PathBuf>) -> TestServer {
    let dir = data.to_path_buf();
    let server = TestServer::start_config(
        &fixture("core"),
        move |c| {
            c.data_dir = dir;
            c.keystore_file = keystore;
        },
        |_| {},
        ServerConfig::default(),
    )
    .await;
    server
        .enable_admin(admin_config(ADMIN, PASSWORD))
        .await
        .expect("admin API enables");
    server
}

async fn connection_test(s: &TestServer) -> Answer {
    let auth = basic(ADMIN, PASSWORD);
    request(
        Method::GET,
        &s.url(PATH),
        &[("authorization", &auth)],
        Bytes::new(),
    )
    .await
}

/// Asserts a healthy answer: 200, every check ok.
async fn assert_healthy(s: &TestServer) -> Value {
    let a = connection_test(s).await;
    let body = String::from_utf8_lossy(&a.body).into_owned();
    assert_eq!(a.status, 200, "{body}");
    let v = a.json();
    assert_eq!(v["status"], "ok", "{body}");
    assert_eq!(v["message"], "TestConnection completed successfully");
    assert!(v.get("failures").is_none(), "{body}");
    for c in v["checks"].as_array().unwrap() {
        assert_eq!(c["status"], "ok", "{body}");
    }
    v
}

/// Asserts a failed answer (503) and returns it with its failure codes.
async fn failed(s: &TestServer) -> (Value, Vec<String>) {
    let a = connection_test(s).await;
    let body = String::from_utf8_lossy(&a.body).into_owned();
    assert_eq!(a.status, 503, "{body}");
    assert_eq!(a.header("content-type"), Some("application/json"), "{body}");
    let v = a.json();
    assert_eq!(v["status"], "failed", "{body}");
    let codes: Vec<String> = v["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect();
    // The message is every failure's "[CODE] message", joined by "; ".
    let joined: Vec<String> = v["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "[{}] {}",
                f["code"].as_str().unwrap(),
                f["message"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(v["message"], joined.join("; "), "{body}");
    // Each failed check carries its code.
    for code in &codes {
        assert!(
            v["checks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["status"] == "failed" && c["code"] == code.as_str()),
            "{body}"
        );
    }
    (v, codes)
}

/// The failure with `code`.
fn failure<'a>(v: &'a Value, code: &str) -> &'a Value {
    v["failures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no failure {code} in {v}"))
}

fn check_names(v: &Value) -> Vec<String> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Asserts that `detail` names no folder of the test (file names only).
fn assert_no_path(detail: &Value, dirs: &[&Path]) {
    let d = detail.as_str().expect("detail is text");
    for dir in dirs {
        assert!(!d.contains(dir.to_str().unwrap()), "{d}");
    }
}

// === healthy ===

#[tokio::test]
async fn a_healthy_install_completes_successfully() {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), None).await;
    let v = assert_healthy(&s).await;
    assert_eq!(
        check_names(&v),
        [
            "keystore",
            "keystore:oauth-admin-key",
            "keystore:exchange-admin-key",
            "database",
            "dataFolder"
        ]
    );
    // The first test of a fresh install created the keystore, as the first secret would.
    assert!(data.path().join("keystore.key").is_file());
    // No probe file is left behind.
    let left: Vec<String> = std::fs::read_dir(data.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("connection-test"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // Admin credentials are needed.
    let a = request(Method::GET, &s.url(PATH), &[], Bytes::new()).await;
    assert_eq!(a.status, 401);
    let a = request(
        Method::POST,
        &s.url(PATH),
        &[("authorization", &basic(ADMIN, PASSWORD))],
        Bytes::new(),
    )
    .await;
    assert_eq!(a.status, 405);
    s.stop().await;
}

// === the keystore ===

#[tokio::test]
async fn a_removed_keystore_is_flow_key_03_and_the_file_is_not_recreated() {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), None).await;
    assert_healthy(&s).await;
    let path = data.path().join("keystore.key");
    std::fs::remove_file(&path).unwrap();
    let (v, codes) = failed(&s).await;
    assert_eq!(codes, ["FLOW-KEY-03"]);
    let f = failure(&v, "FLOW-KEY-03");
    assert_eq!(f["message"], KEYS_MESSAGE);
    assert_eq!(v["message"], format!("[FLOW-KEY-03] {KEYS_MESSAGE}"));
    let detail = f["detail"].as_str().unwrap();
    assert!(
        detail.contains("keystore.key") && detail.contains("does not exist"),
        "{detail}"
    );
    assert_no_path(&f["detail"], &[data.path()]);
    assert!(!path.exists(), "a test does not recreate the keystore");

    // Not a regular file is unreadable too.
    std::fs::create_dir(&path).unwrap();
    let (v, codes) = failed(&s).await;
    assert_eq!(codes, ["FLOW-KEY-03"]);
    assert!(failure(&v, "FLOW-KEY-03")["detail"]
        .as_str()
        .unwrap()
        .contains("not a regular file"));
    s.stop().await;
}

#[tokio::test]
async fn a_keystore_others_may_read_is_flow_key_04() {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), None).await;
    assert_healthy(&s).await;
    let path = data.path().join("keystore.key");
    set_mode(&path, 0o644);
    let (v, codes) = failed(&s).await;
    assert_eq!(codes, ["FLOW-KEY-04"]);
    let f = failure(&v, "FLOW-KEY-04");
    assert_eq!(f["message"], KEYS_MESSAGE);
    let detail = f["detail"].as_str().unwrap();
    assert!(
        detail.contains("0644") && detail.contains("chmod 600"),
        "{detail}"
    );
    assert_no_path(&f["detail"], &[data.path()]);
    // Fixed, it is healthy again: the test re-reads the file every time.
    set_mode(&path, 0o600);
    assert_healthy(&s).await;
    s.stop().await;
}

#[tokio::test]
async fn a_garbage_keystore_is_flow_key_04_and_its_bytes_are_not_echoed() {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), None).await;
    assert_healthy(&s).await;
    let path = data.path().join("keystore.key");
    std::fs::write(&path, b"garbage-7a1f not a keystore at all").unwrap();
    let (v, codes) = failed(&s).await;
    assert_eq!(codes, ["FLOW-KEY-04"]);
    let f = failure(&v, "FLOW-KEY-04");
    assert_eq!(f["message"], KEYS_MESSAGE);
    let detail = f["detail"].as_str().unwrap();
    assert!(detail.contains("not a keystore document"), "{detail}");
    assert!(!detail.contains("garbage-7a1f"), "{detail}");

    // A document whose alias was sealed with another master key is unusable too.
    let other = tempfile::tempdir().unwrap();
    let s2 = start(other.path(), None).await;
    assert_healthy(&s2).await;
    s2.stop().await;
    let theirs: Value =
        serde_json::from_slice(&std::fs::read(other.path().join("keystore.key")).unwrap()).unwrap();
    let ours_path = data.path().join("keystore.key");
    std::fs::remove_file(&ours_path).unwrap();
    let s3 = start(data.path(), None).await;
    assert_healthy(&s3).await;
    let mut ours: Value = serde_json::from_slice(&std::fs::read(&ours_path).unwrap()).unwrap();
    ours["aliases"]["oauth-admin-key"] = theirs["aliases"]["oauth-admin-key"].clone();
    std::fs::write(&ours_path, serde_json::to_vec(&ours).unwrap()).unwrap();
    let (v, codes) = failed(&s3).await;
    assert_eq!(codes, ["FLOW-KEY-04"]);
    let detail = failure(&v, "FLOW-KEY-04")["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        detail.contains("oauth-admin-key") && detail.contains("master key"),
        "{detail}"
    );
    let master = ours["masterKey"].as_str().unwrap();
    assert!(!String::from_utf8_lossy(&connection_test(&s3).await.body).contains(master));
    s3.stop().await;
    s.stop().await;
}

#[tokio::test]
async fn removed_built_in_aliases_are_flow_key_01_and_02() {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), None).await;
    assert_healthy(&s).await;
    let path = data.path().join("keystore.key");
    let original = std::fs::read(&path).unwrap();
    let without = |aliases: &[&str]| {
        let mut doc: Value = serde_json::from_slice(&original).unwrap();
        for a in aliases {
            doc["aliases"].as_object_mut().unwrap().remove(*a);
        }
        std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    };

    without(&["oauth-admin-key"]);
    let (v, codes) = failed(&s).await;
    assert_eq!(codes, ["FLOW-KEY-01"]);
    assert_eq!(v["message"], format!("[FLOW-KEY-01] {OAUTH_KEY_MESSAGE}"));
    let f = failure(&v, "FLOW-KEY-01");
    assert!(f["detail"].as_str().unwrap().contains("oauth-admin-key"));
    assert_no_path(&f["detail"], &[data.path()]);

    without(&["exchange-admin-key"]);
    let (v, codes) = failed(&s).await;
    assert_eq!(codes, ["FLOW-KEY-02"]);
    assert_eq!(failure(&v, "FLOW-KEY-02")["message"], EXCHANGE_KEY_MESSAGE);

    without(&["oauth-admin-key", "exchange-admin-key"]);
    let (v, codes) = failed(&s).await;
    assert_eq!(codes, ["FLOW-KEY-01", "FLOW-KEY-02"]);
    assert_eq!(
        v["message"],
        format!("[FLOW-KEY-01] {OAUTH_KEY_MESSAGE}; [FLOW-KEY-02] {EXCHANGE_KEY_MESSAGE}")
    );
    // The file is left as the operator made it: an alias is never recreated.
    let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(doc["aliases"].as_object().unwrap().is_empty());
    s.stop().await;
}

// === the database and the data folder ===

#[tokio::test]
async fn a_locked_database_is_flow_db_01() {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), None).await;
    assert_healthy(&s).await;
    let lock = rusqlite::Connection::open(data.path().join("admin.db")).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let (v, codes) = failed(&s).await;
    assert_eq!(codes, ["FLOW-DB-01"]);
    let f = failure(&v, "FLOW-DB-01");
    assert_eq!(
        f["message"],
        "Failed to write to the database. Check that the data folder's database is not \
         locked or read-only."
    );
    let detail = f["detail"].as_str().unwrap();
    assert!(
        detail.contains("admin.db") && detail.contains("locked"),
        "{detail}"
    );
    assert_no_path(&f["detail"], &[data.path()]);
    // Released, the database takes writes again.
    lock.execute_batch("ROLLBACK").unwrap();
    drop(lock);
    assert_healthy(&s).await;
    s.stop().await;
}

#[tokio::test]
async fn a_data_folder_that_is_a_file_is_flow_data_01() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // The keystore lives apart, so that only the data folder is taken away.
    let keystore = root.path().join("keys").join("keystore.json");
    let s = start(&data, Some(keystore)).await;
    assert_healthy(&s).await;
    std::fs::remove_dir_all(&data).unwrap();
    std::fs::write(&data, b"not a folder").unwrap();
    let (v, codes) = failed(&s).await;
    assert!(codes.contains(&"FLOW-DATA-01".to_owned()), "{v}");
    assert!(!codes.iter().any(|c| c.starts_with("FLOW-KEY")), "{v}");
    let f = failure(&v, "FLOW-DATA-01");
    assert_eq!(
        f["message"],
        "Failed to write to the data folder. Check its permissions and free space."
    );
    assert_no_path(&f["detail"], &[root.path()]);
    s.stop().await;
}
