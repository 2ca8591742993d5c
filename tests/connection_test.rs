//! The connection test over real sockets: `GET /api/management/connection-test` answers
//! 200 "TestConnection completed successfully" when every dependency works, and 503 with
//! each failure's code, verbatim message and detail when one is taken away: the keystore
//! (removed, opened to others, garbage, an alias removed), the database (locked by another
//! connection), the data folder (replaced by a file), and the OAuth providers that mounted
//! services use (not loaded, token endpoint closed, token endpoint answering 500).

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use fss::definition::{parse_definition, LoadedDefinition};
use http::Method;
use serde_json::{json, Value};
use support::{basic, fixture, request, Answer, TestServer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

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
    TestServer::start_admin_config(&fixture("core"), data, ADMIN, PASSWORD, move |c| {
        c.keystore_file = keystore;
    })
    .await
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
    // The file is left as the operator made it: a built-in alias is never recreated
    // (the API keys' signing key, made when the admin API was enabled, is not one).
    let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let names: Vec<&String> = doc["aliases"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["phixflow-api-key"]);
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

// === the OAuth providers that mounted services use ===

/// A loopback token endpoint answering every request with `status`; it counts the
/// requests and keeps their bytes.
struct TokenEndpoint {
    url: String,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TokenEndpoint {
    async fn answering(status: &'static str) -> TokenEndpoint {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/oauth/token", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    log.lock().unwrap().push(buf);
                    let answer = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
                         content-length: 2\r\nconnection: close\r\n\r\n{{}}"
                    );
                    let _ = sock.write_all(answer.as_bytes()).await;
                });
            }
        });
        TokenEndpoint { url, seen, task }
    }

    fn requests(&self) -> Vec<Vec<u8>> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for TokenEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A loopback URL where nothing listens.
fn closed_token_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/oauth/token")
}

/// A service `name` whose one action calls out with the OAuth provider `jira`/`JIRA`,
/// its token from `token_url`.
fn oauth_service(name: &str, token_url: &str) -> LoadedDefinition {
    let json = json!({
        "name": name,
        "messageActions": [{
            "name": "Open",
            "outputs": [{"name": "Status"}],
            "process": {"http": {
                "method": "POST",
                "url": "http://127.0.0.1:9/tickets",
                "auth": {"oauth": {"connector": "jira", "provider": "JIRA",
                                   "tokenUrl": token_url}},
                "outputs": {"Status": "/status"}
            }}
        }]
    });
    LoadedDefinition {
        definition: parse_definition(&format!("{name}.json"), json.to_string().as_bytes()).unwrap(),
        source: format!("{name}.json"),
        base_dir: ".".into(),
    }
}

async fn mount(s: &TestServer, defs: Vec<LoadedDefinition>) {
    let rt = s.runtime.clone();
    tokio::task::spawn_blocking(move || rt.mount(defs))
        .await
        .unwrap()
        .unwrap_or_else(|p| panic!("the definitions mount:\n{p}"));
}

const CLIENT_ID: &str = "cid-5e0c1d-never-sent";
const CLIENT_SECRET: &str = "csecret-93ab44-never-sent";

async fn load_jira(s: &TestServer) {
    let auth = basic(ADMIN, PASSWORD);
    let doc = json!({"jira": {"JIRA": {"CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET}}});
    let a = request(
        Method::POST,
        &s.url("/api/oauth/configurations"),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Bytes::from(doc.to_string()),
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
}

fn holds(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn a_provider_a_service_uses_must_be_loaded_flow_oauth_03() {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), None).await;
    let endpoint = TokenEndpoint::answering("401 Unauthorized").await;
    mount(&s, vec![oauth_service("Tickets", &endpoint.url)]).await;

    let (v, codes) = failed(&s).await;
    assert_eq!(codes, ["FLOW-OAUTH-03"], "{v}");
    let f = failure(&v, "FLOW-OAUTH-03");
    assert_eq!(
        f["message"],
        "The OAuth provider jira/JIRA that Tickets uses is not loaded."
    );
    assert!(check_names(&v).contains(&"oauthProvider:jira/JIRA".to_owned()));
    // The token endpoint answered (401 is below 500): it is reachable.
    let endpoint_check = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == format!("oauthTokenEndpoint:{}", endpoint.url))
        .unwrap_or_else(|| panic!("no endpoint check in {v}"));
    assert_eq!(endpoint_check["status"], "ok");

    load_jira(&s).await;
    let v = assert_healthy(&s).await;
    let names = check_names(&v);
    assert!(
        names.contains(&"oauthProvider:jira/JIRA".to_owned()),
        "{names:?}"
    );
    // Each test probed the endpoint once, without credentials.
    let requests = endpoint.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        let text = String::from_utf8_lossy(r).to_ascii_lowercase();
        assert!(text.starts_with("get /oauth/token "), "{text}");
        assert!(!text.contains("authorization"), "{text}");
        assert!(!holds(r, CLIENT_ID) && !holds(r, CLIENT_SECRET));
    }
    let a = connection_test(&s).await;
    assert!(!holds(&a.body, CLIENT_ID) && !holds(&a.body, CLIENT_SECRET));
    s.stop().await;
}

#[tokio::test]
async fn a_token_endpoint_on_a_closed_port_is_flow_oauth_02() {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), None).await;
    load_jira(&s).await;
    let url = closed_token_url();
    mount(&s, vec![oauth_service("Tickets", &url)]).await;
    let (v, codes) = failed(&s).await;
    assert_eq!(codes, ["FLOW-OAUTH-02"], "{v}");
    let f = failure(&v, "FLOW-OAUTH-02");
    assert_eq!(
        f["message"],
        "Failed to connect to ThingWorx Flow OAuth service. Check whether ThingWorx Flow \
         OAuth service is up and running."
    );
    let detail = f["detail"].as_str().unwrap();
    assert!(
        detail.contains(&url) && detail.contains("refused"),
        "{detail}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_token_endpoint_answering_500_is_flow_oauth_01_probed_once_per_url() {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), None).await;
    load_jira(&s).await;
    let endpoint = TokenEndpoint::answering("500 Internal Server Error").await;
    // Two services, one provider, one token endpoint: one probe.
    mount(
        &s,
        vec![
            oauth_service("Tickets", &endpoint.url),
            oauth_service("Boards", &endpoint.url),
        ],
    )
    .await;
    let (v, codes) = failed(&s).await;
    assert_eq!(codes, ["FLOW-OAUTH-01"], "{v}");
    let f = failure(&v, "FLOW-OAUTH-01");
    assert_eq!(
        f["message"],
        "Failed to connect to ThingWorx Flow OAuth service. Check ThingWorx logs for more \
         details."
    );
    assert!(f["detail"].as_str().unwrap().contains("500"), "{v}");
    assert_eq!(
        endpoint.requests().len(),
        1,
        "each distinct URL is probed once"
    );
    s.stop().await;
}
