//! The keystore over real sockets: the file created on first start (mode 0600, a JSON
//! document with the built-in aliases), Password values that survive a restart, a legacy
//! raw 32-byte keystore upgraded without losing what it sealed, aliases through the admin
//! API (write-only: no answer byte holds a value), and `--keystore FILE` moving the file.

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};
use base64::Engine as _;
use bytes::Bytes;
use http::Method;
use serde_json::{json, Value};
use support::{basic, fixture, request, send_json, Answer, TestServer};

const ADMIN: &str = "key-admin";
const PASSWORD: &str = "key-admin-pw-1";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

// === helpers ===

/// A server of the `edge_store_reveal` fixture (a Password property answered on load) on
/// `data`, its keystore at `keystore` (default: in `data`), the admin API enabled.
async fn start(data: &Path, keystore: Option<&Path>) -> TestServer {
    let keystore = keystore.map(Path::to_path_buf);
    let ops = fixture("edge_store_reveal");
    TestServer::start_admin_config(&ops, data, ADMIN, PASSWORD, move |c| {
        c.keystore_file = keystore;
    })
    .await
}

fn auth() -> String {
    basic(ADMIN, PASSWORD)
}

/// Sends `body` (raw bytes) with `method` to the admin API, authenticated.
async fn admin(s: &TestServer, method: Method, path: &str, body: &[u8]) -> Answer {
    let auth = auth();
    request(
        method,
        &s.url(path),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Bytes::copy_from_slice(body),
    )
    .await
}

fn text(a: &Answer) -> String {
    String::from_utf8_lossy(&a.body).into_owned()
}

/// Whether `needle` occurs in `hay`.
fn holds(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn document(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("the keystore exists"))
        .expect("the keystore is JSON")
}

/// The clear value of `alias` in the keystore document `doc`, opened as fss seals it:
/// `fss:v1:` + base64(nonce || ciphertext || tag), the alias name authenticated.
fn reveal(doc: &Value, alias: &str) -> Vec<u8> {
    let master = B64.decode(doc["masterKey"].as_str().unwrap()).unwrap();
    let sealed = doc["aliases"][alias].as_str().unwrap();
    let raw = B64.decode(sealed.strip_prefix("fss:v1:").unwrap()).unwrap();
    let (nonce, ciphertext) = raw.split_at(12);
    Aes256Gcm::new_from_slice(&master)
        .unwrap()
        .decrypt(
            nonce.into(),
            Payload {
                msg: ciphertext,
                aad: alias.as_bytes(),
            },
        )
        .expect("the alias opens with the master key")
}

fn vault(id: &str, secret: Option<&str>) -> Value {
    json!({
        "externalId": null,
        "developerName": "Vault",
        "properties": [
            {"developerName": "Id", "contentType": "ContentString", "contentValue": id},
            {"developerName": "Secret", "contentType": "ContentPassword", "contentValue": secret},
        ]
    })
}

async fn save_secret(s: &TestServer, id: &str, secret: &str) {
    let a = send_json(
        Method::PUT,
        &s.url("/fs/Reveal/data"),
        &json!({"objectDataType": {"developerName": "Vault", "properties": []},
                "objectData": [vault(id, Some(secret))]}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", text(&a));
}

async fn load_secret(s: &TestServer, id: &str) -> Value {
    let a = support::post_json(
        &s.url("/fs/Reveal/data"),
        &json!({"objectDataType": {"developerName": "Vault", "properties": []},
                "listFilter": {"id": id}}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let props = a.json()["objectData"][0]["properties"].clone();
    props
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["developerName"] == "Secret")
        .map(|p| p["contentValue"].clone())
        .expect("the Secret property")
}

async fn aliases(s: &TestServer) -> Answer {
    admin(s, Method::GET, "/api/keystore", b"").await
}

// === the file ===

#[tokio::test]
async fn the_keystore_is_created_on_first_start_with_mode_0600_and_the_built_in_aliases() {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), None).await;
    let path = data.path().join("keystore.key");
    assert_eq!(mode_of(&path), 0o600);
    let doc = document(&path);
    assert_eq!(doc["version"], 1);
    assert_eq!(
        B64.decode(doc["masterKey"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    let names: Vec<&String> = doc["aliases"].as_object().unwrap().keys().collect();
    // The built-in aliases, and the API keys' signing key the admin API made at start.
    assert_eq!(
        names,
        ["exchange-admin-key", "oauth-admin-key", "phixflow-api-key"]
    );
    let exchange = reveal(&doc, "exchange-admin-key");
    let oauth = reveal(&doc, "oauth-admin-key");
    let signing = reveal(&doc, "phixflow-api-key");
    assert_eq!((exchange.len(), oauth.len(), signing.len()), (32, 32, 32));
    assert_ne!(exchange, oauth, "each built-in alias is a key of its own");
    assert!(signing != exchange && signing != oauth);
    let master = B64.decode(doc["masterKey"].as_str().unwrap()).unwrap();
    assert_ne!(master, exchange);

    let a = aliases(&s).await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert_eq!(
        a.json(),
        json!({"data": [{"alias": "exchange-admin-key"}, {"alias": "oauth-admin-key"},
                        {"alias": "phixflow-api-key"}], "total": 3})
    );
    // No temp file of the first write is left in the folder.
    let strays: Vec<String> = std::fs::read_dir(data.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("keystore") && n != "keystore.key")
        .collect();
    assert!(strays.is_empty(), "{strays:?}");
    s.stop().await;
}

#[tokio::test]
async fn a_password_saved_before_a_restart_loads_after_it_and_the_keystore_is_unchanged() {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), None).await;
    save_secret(&s, "v1", "open sesame").await;
    let a = admin(
        &s,
        Method::PUT,
        "/api/keystore/webhook-1",
        br#"{"value": "whsec-restart-8c1"}"#,
    )
    .await;
    assert_eq!(a.status, 204, "{}", text(&a));
    s.stop().await;
    let before = std::fs::read(data.path().join("keystore.key")).unwrap();

    let s = start(data.path(), None).await;
    assert_eq!(load_secret(&s, "v1").await, "open sesame");
    let a = aliases(&s).await;
    assert_eq!(a.json()["total"], 4, "{}", text(&a));
    assert_eq!(
        std::fs::read(data.path().join("keystore.key")).unwrap(),
        before,
        "a restart reads the keystore, it does not rewrite it"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_legacy_raw_keystore_is_upgraded_and_what_it_sealed_still_opens() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("keystore.key");
    // A Password value sealed under one key...
    let s = start(data.path(), None).await;
    save_secret(&s, "v1", "sealed before aliases").await;
    s.stop().await;
    let raw = reveal(&document(&path), "exchange-admin-key");
    // ...and that key as the keystore of fss before aliases: 32 raw bytes, mode 0600.
    std::fs::write(&path, &raw).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 32);
    assert_eq!(mode_of(&path), 0o600);

    let s = start(data.path(), None).await;
    assert_eq!(load_secret(&s, "v1").await, "sealed before aliases");
    let doc = document(&path);
    assert_eq!(
        doc["masterKey"],
        B64.encode(&raw),
        "the raw key is the master key"
    );
    assert_eq!(
        reveal(&doc, "exchange-admin-key"),
        raw,
        "and the tables' key"
    );
    let oauth = reveal(&doc, "oauth-admin-key");
    assert_eq!(oauth.len(), 32);
    assert_ne!(oauth, raw, "the OAuth key is new");
    assert_eq!(mode_of(&path), 0o600);
    // New values are sealed with the same key, and everything survives another restart.
    save_secret(&s, "v2", "sealed after the upgrade").await;
    s.stop().await;
    let s = start(data.path(), None).await;
    assert_eq!(load_secret(&s, "v1").await, "sealed before aliases");
    assert_eq!(load_secret(&s, "v2").await, "sealed after the upgrade");
    assert_eq!(document(&path), doc, "upgraded once");
    s.stop().await;
}

#[tokio::test]
async fn an_absent_built_in_alias_is_not_recreated() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("keystore.key");
    let s = start(data.path(), None).await;
    save_secret(&s, "v1", "needs the exchange key").await;
    s.stop().await;
    let mut doc = document(&path);
    doc["aliases"]
        .as_object_mut()
        .unwrap()
        .remove("exchange-admin-key");
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let before = std::fs::read(&path).unwrap();

    // The tables cannot open without their key: the mount says so, naming the code.
    let runtime = fss::Runtime::new(fss::RuntimeConfig {
        data_dir: data.path().to_path_buf(),
        ..fss::RuntimeConfig::default()
    });
    let defs = fss::definition::load_dir(&fixture("edge_store_reveal")).unwrap();
    let problems = tokio::task::spawn_blocking(move || runtime.mount(defs))
        .await
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(
        problems.contains("FLOW-KEY-02") && problems.contains("exchange-admin-key"),
        "{problems}"
    );
    assert!(
        !problems.contains(data.path().to_str().unwrap()),
        "{problems}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "nothing is recreated"
    );
}

// === aliases through the admin API ===

#[tokio::test]
async fn aliases_are_write_only_through_the_admin_api() {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), None).await;
    let secret = "whsec-7d41e0c2-never-answered";
    let mut answers: Vec<Answer> = Vec::new();

    let a = admin(
        &s,
        Method::PUT,
        "/api/keystore/webhook.partner_1",
        json!({"value": secret}).to_string().as_bytes(),
    )
    .await;
    assert_eq!(a.status, 204, "{}", text(&a));
    assert!(a.body.is_empty());
    answers.push(a);
    let a = aliases(&s).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json(),
        json!({"data": [{"alias": "exchange-admin-key"}, {"alias": "oauth-admin-key"},
                        {"alias": "phixflow-api-key"}, {"alias": "webhook.partner_1"}],
               "total": 4})
    );
    answers.push(a);
    let path = data.path().join("keystore.key");
    let on_disk = std::fs::read(&path).unwrap();
    assert!(!holds(&on_disk, secret.as_bytes()), "sealed on disk");
    assert_eq!(
        reveal(&document(&path), "webhook.partner_1"),
        secret.as_bytes()
    );
    assert_eq!(mode_of(&path), 0o600);

    // Replaced in place.
    let a = admin(
        &s,
        Method::PUT,
        "/api/keystore/webhook.partner_1",
        br#"{"value": "v2"}"#,
    )
    .await;
    assert_eq!(a.status, 204, "{}", text(&a));
    assert_eq!(reveal(&document(&path), "webhook.partner_1"), b"v2");

    // Refusals, none of which quotes what was sent as a value.
    let long = "v".repeat(8193);
    let with_secret = json!({"value": secret}).to_string().into_bytes();
    let long_alias = format!("/api/keystore/{}", "a".repeat(129));
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "/api/keystore/a%20b",
            with_secret.clone(),
            400,
            "alias name",
        ),
        (
            "/api/keystore/a%2Fb",
            with_secret.clone(),
            400,
            "alias name",
        ),
        (&long_alias, with_secret.clone(), 400, "128"),
        (
            "/api/keystore/big",
            json!({"value": long}).to_string().into_bytes(),
            400,
            "8192",
        ),
        (
            "/api/keystore/empty",
            br#"{"value": ""}"#.to_vec(),
            400,
            "8192",
        ),
        (
            "/api/keystore/typed",
            br#"{"value": 424242}"#.to_vec(),
            400,
            "\"value\"",
        ),
        (
            "/api/keystore/misnamed",
            json!({"valeu": secret}).to_string().into_bytes(),
            400,
            "\"value\"",
        ),
        (
            "/api/keystore/extra",
            json!({"value": "x", "note": secret})
                .to_string()
                .into_bytes(),
            400,
            "one member",
        ),
        (
            "/api/keystore/broken",
            format!("{{\"value\": \"{secret}").into_bytes(),
            400,
            "not JSON",
        ),
        (
            "/api/keystore/oauth-admin-key",
            with_secret.clone(),
            409,
            "stored secrets depend on it",
        ),
        (
            "/api/keystore/exchange-admin-key",
            with_secret,
            409,
            "stored secrets depend on it",
        ),
    ];
    for (path, body, status, says) in cases {
        let a = admin(&s, Method::PUT, path, &body).await;
        assert_eq!(a.status.as_u16(), status, "{path}: {}", text(&a));
        let message = a.json()["errorMessage"].as_str().unwrap().to_owned();
        assert!(message.contains(says), "{path}: {message}");
        assert!(
            !holds(&a.body, b"424242") && !holds(&a.body, long.as_bytes()),
            "{path}"
        );
        answers.push(a);
    }
    let a = request(
        Method::PUT,
        &s.url("/api/keystore/plain"),
        &[("authorization", &auth()), ("content-type", "text/plain")],
        Bytes::from(secret),
    )
    .await;
    assert_eq!(a.status, 415, "{}", text(&a));
    answers.push(a);

    // Built-ins cannot be deleted; others can, once.
    for builtin in ["oauth-admin-key", "exchange-admin-key"] {
        let a = admin(&s, Method::DELETE, &format!("/api/keystore/{builtin}"), b"").await;
        assert_eq!(a.status, 409, "{}", text(&a));
        assert!(
            text(&a).contains("stored secrets depend on it"),
            "{}",
            text(&a)
        );
        answers.push(a);
    }
    let a = admin(&s, Method::DELETE, "/api/keystore/webhook.partner_1", b"").await;
    assert_eq!(a.status, 204, "{}", text(&a));
    answers.push(a);
    let a = admin(&s, Method::DELETE, "/api/keystore/webhook.partner_1", b"").await;
    assert_eq!(a.status, 404, "{}", text(&a));
    assert!(text(&a).contains("webhook.partner_1"), "{}", text(&a));
    answers.push(a);
    let a = aliases(&s).await;
    assert_eq!(a.json()["total"], 3);
    answers.push(a);
    let a = admin(&s, Method::POST, "/api/keystore", b"{}").await;
    assert_eq!(a.status, 405);
    assert_eq!(a.header("allow"), Some("GET"));
    answers.push(a);

    // Without credentials nothing is stored or listed.
    let a = request(Method::GET, &s.url("/api/keystore"), &[], Bytes::new()).await;
    assert_eq!(a.status, 401);
    let a = request(
        Method::PUT,
        &s.url("/api/keystore/sneaky"),
        &[("content-type", "application/json")],
        Bytes::from(r#"{"value": "x"}"#),
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(aliases(&s).await.json()["total"], 3);

    for a in &answers {
        assert!(!holds(&a.body, secret.as_bytes()), "{}", text(a));
        for v in a.headers.values() {
            assert!(!holds(v.as_bytes(), secret.as_bytes()));
        }
    }
    s.stop().await;
}

// === --keystore FILE ===

#[tokio::test]
async fn keystore_file_moves_the_keystore_out_of_the_data_folder() {
    let data = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let moved = elsewhere.path().join("secrets").join("fss-keys.json");
    let s = start(data.path(), Some(&moved)).await;
    save_secret(&s, "v1", "kept elsewhere").await;
    let a = admin(
        &s,
        Method::PUT,
        "/api/keystore/moved-1",
        br#"{"value": "x"}"#,
    )
    .await;
    assert_eq!(a.status, 204, "{}", text(&a));
    assert!(!data.path().join("keystore.key").exists());
    assert_eq!(mode_of(&moved), 0o600);
    let doc = document(&moved);
    assert!(doc["aliases"]["moved-1"].is_string());
    s.stop().await;

    let s = start(data.path(), Some(&moved)).await;
    assert_eq!(load_secret(&s, "v1").await, "kept elsewhere");
    s.stop().await;
}

/// A served `fss` that is killed when the test ends.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_binary_takes_the_keystore_from_its_flag_or_environment() {
    let ops = fixture("edge_store_reveal");
    for from_env in [false, true] {
        let data = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let moved: PathBuf = elsewhere.path().join("keys.json");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fss"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--operations"])
            .arg(&ops)
            .arg("--data")
            .arg(data.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("FSS_") {
                cmd.env_remove(k);
            }
        }
        if from_env {
            cmd.env("FSS_KEYSTORE", &moved);
        } else {
            cmd.arg("--keystore").arg(&moved);
        }
        let mut child = cmd
            .env("FSS_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("fss serve starts");
        let stdout = child.stdout.take().unwrap();
        let _served = Served(child);
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first).unwrap();
        // The mount opened the tables, and with them the keystore, before listening.
        assert!(first.starts_with("listening on http://"), "{first}");
        assert_eq!(mode_of(&moved), 0o600, "from_env: {from_env}");
        assert!(document(&moved)["aliases"]["exchange-admin-key"].is_string());
        assert!(!data.path().join("keystore.key").exists());
    }
}
