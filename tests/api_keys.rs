//! API keys over real sockets: issued by the admin API as HS256 JWTs shown once, listed
//! without the token, revoked, refused when expired, forged or malformed, 403 for a user
//! without `use-api-key` and `run-actions`, all invalidated by replacing the signing key
//! `phixflow-api-key` (which refuses a value under 32 bytes), and kept across a restart.
//! Keys are checked with `Runtime::auth().authenticate_api_key`, the check the incoming
//! API runs on every call.

mod support;

use std::path::Path;

use base64::Engine as _;
use bytes::Bytes;
use fss::auth::ApiCaller;
use fss::server::ServerConfig;
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{json, Value};
use support::pg::Backend;
use support::{admin_config, basic, fixture, request, Answer, TestServer};

const ADMIN: &str = "keys-admin";
const PASSWORD: &str = "keys-admin-pw-1";
const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const DAY: i64 = 86_400;

// === helpers ===

async fn start(data: &Path, backend: &Backend) -> TestServer {
    TestServer::start_admin_config(&fixture("core"), data, ADMIN, PASSWORD, |c| {
        backend.configure(c)
    })
    .await
}

/// Sends `body` with `method` to the admin API as the bootstrap admin.
async fn admin(s: &TestServer, method: Method, path: &str, body: &Value) -> Answer {
    let auth = basic(ADMIN, PASSWORD);
    let body = if body.is_null() {
        Bytes::new()
    } else {
        Bytes::from(body.to_string())
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

/// Creates the user `id` with `privileges`.
async fn user(s: &TestServer, id: &str, privileges: &[&str]) {
    let a = admin(
        s,
        Method::POST,
        "/api/identity/users",
        &json!({"id": id, "password": format!("{id}-pw-1"), "privileges": privileges}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", text(&a));
}

/// Issues a key to `id` with `body`; returns the answer's JSON.
async fn issue(s: &TestServer, id: &str, body: &Value) -> Value {
    let a = admin(
        s,
        Method::POST,
        &format!("/api/identity/users/{id}/api-keys"),
        body,
    )
    .await;
    assert_eq!(a.status, 201, "{}", text(&a));
    assert_eq!(a.header("cache-control"), Some("no-store"));
    a.json()
}

fn key_of(issued: &Value) -> String {
    issued["key"]
        .as_str()
        .expect("the key is a string")
        .to_owned()
}

/// The JSON of one base64url part of a JWT.
fn part(token: &str, i: usize) -> Value {
    let p = token.split('.').nth(i).expect("a JWT has three parts");
    serde_json::from_slice(&B64URL.decode(p).expect("base64url")).expect("JSON")
}

/// The base64url HMAC-SHA256 of `input` with `secret`: a JWT's HS256 signature.
fn hmac_sha256(secret: &[u8], input: &str) -> String {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    B64URL.encode(mac.finalize().into_bytes())
}

/// `claims` under `header`, signed with HMAC-SHA256 by `secret`.
fn signed(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        B64URL.encode(header.to_string()),
        B64URL.encode(claims.to_string())
    );
    format!("{input}.{}", hmac_sha256(secret, &input))
}

fn hs256() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

/// The check the incoming API runs, on `Authorization: Bearer {token}`: the caller, or
/// the status and message of the refusal.
async fn check(s: &TestServer, token: &str) -> Result<ApiCaller, (u16, String)> {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    check_headers(s, &h, token).await
}

async fn check_headers(
    s: &TestServer,
    h: &HeaderMap,
    token: &str,
) -> Result<ApiCaller, (u16, String)> {
    s.runtime.auth().authenticate_api_key(h).await.map_err(|e| {
        let msg = e.to_string();
        if let Some(sig) = token.split('.').nth(2).filter(|p| p.len() > 8) {
            assert!(!msg.contains(sig), "the refusal echoes the key: {msg}");
        }
        (e.status().as_u16(), msg)
    })
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Milliseconds since the epoch of an ISO-8601 answer field (`…T…Z` or `+00:00`).
fn epoch_s(iso: &Value) -> i64 {
    let s = iso.as_str().expect("a date string");
    let (date, time) = s.split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let t: Vec<i64> = time[..8].split(':').map(|x| x.parse().unwrap()).collect();
    // Days from civil (Howard Hinnant's algorithm).
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * DAY + t[0] * 3600 + t[1] * 60 + t[2]
}

// === issuing and listing ===

async fn an_issued_key_is_an_hs256_jwt_shown_once_and_listed_without_it(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), &backend).await;
    user(&s, "api-bot", &["use-api-key", "run-actions"]).await;

    let issued = issue(&s, "api-bot", &json!({})).await;
    let key = key_of(&issued);
    assert_eq!(issued["name"], "default");
    let header = part(&key, 0);
    assert_eq!(header["alg"], "HS256", "{header}");
    let claims = part(&key, 1);
    assert_eq!(claims["sub"], "api-bot");
    assert_eq!(claims["jti"], issued["id"]);
    assert!(uuid::Uuid::parse_str(issued["id"].as_str().unwrap()).is_ok());
    assert_eq!(claims["iss"], "fss");
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!((iat - now_s()).abs() < 60, "iat {iat}");
    assert_eq!(exp - iat, 90 * DAY, "90 days by default");
    assert_eq!(epoch_s(&issued["createdAt"]), iat);
    assert_eq!(epoch_s(&issued["expiresAt"]), exp);

    let ci = issue(&s, "api-bot", &json!({"name": "ci", "expiresInDays": 1})).await;
    let ci_claims = part(&key_of(&ci), 1);
    assert_eq!(ci["name"], "ci");
    assert_eq!(
        ci_claims["exp"].as_i64().unwrap() - ci_claims["iat"].as_i64().unwrap(),
        DAY
    );
    // No body at all asks for the defaults too.
    let bare = admin(
        &s,
        Method::POST,
        "/api/identity/users/api-bot/api-keys",
        &Value::Null,
    )
    .await;
    assert_eq!(bare.status, 201, "{}", text(&bare));

    let caller = check(&s, &key).await.unwrap();
    assert_eq!(&*caller.user, "api-bot");
    assert_eq!(caller.key_id, issued["id"].as_str().unwrap());
    assert!(!caller.is_admin);

    let list = admin(
        &s,
        Method::GET,
        "/api/identity/users/api-bot/api-keys",
        &Value::Null,
    )
    .await;
    assert_eq!(list.status, 200, "{}", text(&list));
    let v = list.json();
    assert_eq!(v["total"], 3);
    let first = &v["data"][0];
    assert_eq!(first["id"], issued["id"]);
    assert_eq!(first["name"], "default");
    assert_eq!(first["revoked"], false);
    assert_eq!(first["createdAt"], issued["createdAt"]);
    assert_eq!(first["expiresAt"], issued["expiresAt"]);
    assert!(first.get("key").is_none());
    // Not one byte of the answer holds a token's signature (nor its claims).
    for token in [key_of(&issued), key_of(&ci)] {
        for p in token.split('.').skip(1) {
            assert!(
                !text(&list).contains(p),
                "the list holds a token: {}",
                text(&list)
            );
            for h in list.headers.values() {
                assert!(!String::from_utf8_lossy(h.as_bytes()).contains(p));
            }
        }
    }
    s.stop().await;
}

async fn unknown_users_and_bad_bodies_are_refused_saying_what_is_wrong(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), &backend).await;
    user(&s, "api-bot", &["use-api-key", "run-actions"]).await;
    let path = "/api/identity/users/api-bot/api-keys";

    for (body, says) in [
        (json!({"expiresInDays": 0}), "expiresInDays"),
        (json!({"expiresInDays": 3651}), "3650"),
        (json!({"expiresInDays": "soon"}), "expiresInDays"),
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(129)}), "name"),
        (json!({"label": "x"}), "label"),
        (json!([1]), "name"),
    ] {
        let a = admin(&s, Method::POST, path, &body).await;
        assert_eq!(a.status, 400, "{body}: {}", text(&a));
        let msg = a.json()["errorMessage"].as_str().unwrap().to_owned();
        assert!(msg.contains(says), "{body}: {msg}");
    }
    let a = issue(&s, "api-bot", &json!({"expiresInDays": 3650})).await;
    assert_eq!(
        epoch_s(&a["expiresAt"]) - epoch_s(&a["createdAt"]),
        3650 * DAY
    );

    for (method, p) in [
        (Method::POST, "/api/identity/users/ghost/api-keys"),
        (Method::GET, "/api/identity/users/ghost/api-keys"),
        (Method::DELETE, "/api/identity/users/ghost/api-keys/some-id"),
        (
            Method::DELETE,
            "/api/identity/users/api-bot/api-keys/no-such-key",
        ),
    ] {
        let a = admin(&s, method.clone(), p, &json!({})).await;
        assert_eq!(a.status, 404, "{method} {p}: {}", text(&a));
        assert!(!a.json()["errorMessage"].as_str().unwrap().is_empty());
    }
    let a = admin(&s, Method::PUT, path, &json!({})).await;
    assert_eq!(a.status, 405);
    assert_eq!(a.header("allow"), Some("GET, POST"));

    // Admin-only: no key is issued or listed without the admin's credentials.
    let a = request(
        Method::POST,
        &s.url(path),
        &[("content-type", "application/json")],
        Bytes::from("{}"),
    )
    .await;
    assert_eq!(a.status, 401);
    let bot = basic("api-bot", "api-bot-pw-1");
    let a = request(
        Method::GET,
        &s.url(path),
        &[("authorization", &bot)],
        Bytes::new(),
    )
    .await;
    assert_eq!(a.status, 403, "{}", text(&a));
    s.stop().await;
}

// === verification ===

async fn a_revoked_key_stops_at_once_and_a_deleted_user_takes_its_keys(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), &backend).await;
    user(&s, "api-bot", &["use-api-key", "run-actions"]).await;
    let one = issue(&s, "api-bot", &json!({"name": "one"})).await;
    let two = issue(&s, "api-bot", &json!({"name": "two"})).await;
    assert!(check(&s, &key_of(&one)).await.is_ok());

    let id = one["id"].as_str().unwrap();
    let a = admin(
        &s,
        Method::DELETE,
        &format!("/api/identity/users/api-bot/api-keys/{id}"),
        &Value::Null,
    )
    .await;
    assert_eq!(a.status, 204, "{}", text(&a));
    assert!(a.body.is_empty());
    let (status, msg) = check(&s, &key_of(&one)).await.unwrap_err();
    assert_eq!(status, 401);
    assert!(msg.contains("revoked"), "{msg}");
    assert!(
        check(&s, &key_of(&two)).await.is_ok(),
        "the other key still works"
    );
    let list = admin(
        &s,
        Method::GET,
        "/api/identity/users/api-bot/api-keys",
        &Value::Null,
    )
    .await;
    let data_ = list.json()["data"].clone();
    assert_eq!(data_[0]["revoked"], true);
    assert!(data_[0]["revokedAt"].is_string());
    assert_eq!(data_[1]["revoked"], false);

    let a = admin(
        &s,
        Method::DELETE,
        "/api/identity/users/api-bot",
        &Value::Null,
    )
    .await;
    assert_eq!(a.status, 204, "{}", text(&a));
    let (status, _) = check(&s, &key_of(&two)).await.unwrap_err();
    assert_eq!(status, 401);
    // A new user of the same id does not inherit them.
    user(&s, "api-bot", &["use-api-key", "run-actions"]).await;
    assert_eq!(check(&s, &key_of(&two)).await.unwrap_err().0, 401);
    let list = admin(
        &s,
        Method::GET,
        "/api/identity/users/api-bot/api-keys",
        &Value::Null,
    )
    .await;
    assert_eq!(list.json()["total"], 0);
    s.stop().await;
}

async fn expired_forged_and_malformed_keys_are_401_saying_why(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), &backend).await;
    user(&s, "api-bot", &["use-api-key", "run-actions"]).await;
    // A signing key the test knows, so that it can make tokens by hand.
    let secret = "test-signing-key-0123456789-abcdefghij";
    let a = admin(
        &s,
        Method::PUT,
        "/api/keystore/phixflow-api-key",
        &json!({"value": secret}),
    )
    .await;
    assert_eq!(a.status, 204, "{}", text(&a));
    let issued = issue(&s, "api-bot", &json!({"expiresInDays": 1})).await;
    let key = key_of(&issued);
    let claims = part(&key, 1);
    // The key as issued is signed with that secret, by HMAC-SHA256.
    let (input, sig) = key.rsplit_once('.').unwrap();
    assert_eq!(sig, hmac_sha256(secret.as_bytes(), input));
    assert!(check(&s, &key).await.is_ok());

    let mut past = claims.clone();
    past["exp"] = json!(now_s() - 3600);
    let expired = signed(&hs256(), &past, secret.as_bytes());
    let (status, msg) = check(&s, &expired).await.unwrap_err();
    assert_eq!((status, msg.contains("expired")), (401, true), "{msg}");

    let forged = signed(
        &part(&key, 0),
        &claims,
        b"not-the-signing-key-of-this-server",
    );
    let (status, msg) = check(&s, &forged).await.unwrap_err();
    assert_eq!((status, msg.contains("signature")), (401, true), "{msg}");

    let (status, msg) = check(&s, "not.a.key").await.unwrap_err();
    assert_eq!((status, msg.contains("malformed")), (401, true), "{msg}");

    let none = format!(
        "{}.{}.",
        B64URL.encode(json!({"alg": "none"}).to_string()),
        B64URL.encode(claims.to_string())
    );
    assert_eq!(check(&s, &none).await.unwrap_err().0, 401);

    let (status, msg) = check_headers(&s, &HeaderMap::new(), "").await.unwrap_err();
    assert_eq!((status, msg.contains("Bearer")), (401, true), "{msg}");
    let mut b = HeaderMap::new();
    b.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_str(&basic("api-bot", "api-bot-pw-1")).unwrap(),
    );
    let (status, msg) = check_headers(&s, &b, "").await.unwrap_err();
    assert_eq!((status, msg.contains("Bearer")), (401, true), "{msg}");
    s.stop().await;
}

async fn a_user_without_the_privileges_gets_403_naming_them_on_every_call(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), &backend).await;
    user(&s, "weak-bot", &[]).await;
    // Issuing does not need the privileges: they are checked when the key is used.
    let weak = key_of(&issue(&s, "weak-bot", &json!({})).await);
    let (status, msg) = check(&s, &weak).await.unwrap_err();
    assert_eq!(status, 403);
    assert!(
        msg.contains("use-api-key") && msg.contains("run-actions"),
        "{msg}"
    );

    let grant = |privileges: Value| {
        let s = &s;
        async move {
            let a = admin(
                s,
                Method::PUT,
                "/api/identity/users/weak-bot",
                &json!({ "privileges": privileges }),
            )
            .await;
            assert_eq!(a.status, 200, "{}", text(&a));
        }
    };
    grant(json!(["use-api-key"])).await;
    let (status, msg) = check(&s, &weak).await.unwrap_err();
    assert_eq!(status, 403);
    assert!(
        msg.contains("'run-actions'") && !msg.contains("'use-api-key'"),
        "{msg}"
    );
    grant(json!(["use-api-key", "run-actions", "access-rest-api"])).await;
    let caller = check(&s, &weak).await.unwrap();
    assert!(caller.is_admin, "access-rest-api makes the caller an admin");
    grant(json!(["run-actions"])).await;
    assert_eq!(check(&s, &weak).await.unwrap_err().0, 403);
    s.stop().await;
}

// === the signing key ===

async fn replacing_the_signing_key_invalidates_every_key_and_a_short_one_is_400(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), &backend).await;
    user(&s, "api-bot", &["use-api-key", "run-actions"]).await;
    let old = key_of(&issue(&s, "api-bot", &json!({})).await);
    assert!(check(&s, &old).await.is_ok());

    let short = "x".repeat(31);
    let a = admin(
        &s,
        Method::PUT,
        "/api/keystore/phixflow-api-key",
        &json!({ "value": short }),
    )
    .await;
    assert_eq!(a.status, 400, "{}", text(&a));
    let msg = a.json()["errorMessage"].as_str().unwrap().to_owned();
    assert!(
        msg.contains("32") && msg.contains("phixflow-api-key"),
        "{msg}"
    );
    assert!(!text(&a).contains(&short), "the value is not quoted back");
    assert!(
        check(&s, &old).await.is_ok(),
        "a refused value changes nothing"
    );

    let a = admin(
        &s,
        Method::PUT,
        "/api/keystore/phixflow-api-key",
        &json!({ "value": "y".repeat(32) }),
    )
    .await;
    assert_eq!(a.status, 204, "{}", text(&a));
    let (status, msg) = check(&s, &old).await.unwrap_err();
    assert_eq!((status, msg.contains("signature")), (401, true), "{msg}");
    let new = key_of(&issue(&s, "api-bot", &json!({})).await);
    assert!(check(&s, &new).await.is_ok());
    s.stop().await;
}

async fn keys_survive_a_restart_on_the_same_data_folder(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), &backend).await;
    user(&s, "api-bot", &["use-api-key", "run-actions"]).await;
    let kept = issue(&s, "api-bot", &json!({"name": "kept"})).await;
    let revoked = issue(&s, "api-bot", &json!({"name": "revoked"})).await;
    let a = admin(
        &s,
        Method::DELETE,
        &format!(
            "/api/identity/users/api-bot/api-keys/{}",
            revoked["id"].as_str().unwrap()
        ),
        &Value::Null,
    )
    .await;
    assert_eq!(a.status, 204);
    s.stop().await;

    let s = start(data.path(), &backend).await;
    let caller = check(&s, &key_of(&kept)).await.unwrap();
    assert_eq!(caller.key_id, kept["id"].as_str().unwrap());
    assert_eq!(check(&s, &key_of(&revoked)).await.unwrap_err().0, 401);
    let list = admin(
        &s,
        Method::GET,
        "/api/identity/users/api-bot/api-keys",
        &Value::Null,
    )
    .await;
    let v = list.json();
    assert_eq!(v["total"], 2);
    assert_eq!(v["data"][0]["name"], "kept");
    assert_eq!(v["data"][1]["revoked"], true);
    // The token is nowhere in the data folder: only its record is kept.
    let sig = key_of(&kept).split('.').nth(2).unwrap().to_owned();
    for entry in std::fs::read_dir(data.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(sig.len()).any(|w| w == sig.as_bytes()),
                "{} holds the token",
                path.display()
            );
        }
    }
    if let Backend::Postgres(schema) = &backend {
        let rows = support::pg::registry_rows(schema).await;
        assert!(rows.contains("registry_api_keys: "), "{rows}");
        assert!(!rows.contains(&sig), "the registry holds the token: {rows}");
    }
    s.stop().await;
}

async fn another_header_named_by_the_config_carries_the_key_alone(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let (dir, on) = (data.path().to_path_buf(), &backend);
    let s = TestServer::start_config(
        &fixture("core"),
        move |c| {
            c.data_dir = dir;
            c.api_key_header = http::HeaderName::from_static("x-api-key");
            on.configure(c);
        },
        |_| {},
        ServerConfig::default(),
    )
    .await;
    s.enable_admin(admin_config(ADMIN, PASSWORD)).await.unwrap();
    user(&s, "api-bot", &["use-api-key", "run-actions"]).await;
    let key = key_of(&issue(&s, "api-bot", &json!({})).await);
    let mut h = HeaderMap::new();
    h.insert("x-api-key", HeaderValue::from_str(&key).unwrap());
    assert!(check_headers(&s, &h, &key).await.is_ok());
    let (status, msg) = check(&s, &key).await.unwrap_err();
    assert_eq!((status, msg.contains("x-api-key")), (401, true), "{msg}");
    s.stop().await;
}

// === end to end: the trigger endpoint ===

/// An operations folder with the service "Key Desk": an echo action any caller with a key
/// may trigger.
fn key_desk(dir: &Path) {
    let def = json!({
        "name": "Key Desk",
        "messageActions": [
            {"name": "Echo",
             "inputs": [{"name": "Name", "type": "String"}],
             "outputs": [{"name": "Name", "type": "String"}],
             "process": {"builtin": "echo"},
             "api": {}}
        ]
    });
    std::fs::write(dir.join("KeyDesk.json"), def.to_string()).unwrap();
}

async fn the_trigger_endpoint_admits_by_api_key_401_403_and_200(backend: Backend) {
    let ops = tempfile::tempdir().unwrap();
    key_desk(ops.path());
    let data = tempfile::tempdir().unwrap();
    let s = TestServer::start_admin_config(ops.path(), data.path(), ADMIN, PASSWORD, |c| {
        backend.configure(c)
    })
    .await;
    user(&s, "api-bot", &["use-api-key", "run-actions"]).await;
    user(&s, "weak-bot", &[]).await;
    let good = issue(&s, "api-bot", &json!({})).await;
    let weak = key_of(&issue(&s, "weak-bot", &json!({})).await);
    let url = s.url("/api/1/action/Key%20Desk/Echo/trigger");
    let call = |auth: Option<String>| {
        let url = url.clone();
        async move {
            let mut h = vec![("content-type".to_owned(), "application/json".to_owned())];
            if let Some(a) = auth {
                h.push(("authorization".to_owned(), a));
            }
            let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            request(Method::POST, &url, &h, Bytes::from(r#"{"Name": "Ada"}"#)).await
        }
    };

    let a = call(Some(format!("Bearer {}", key_of(&good)))).await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let v = a.json();
    assert_eq!(v["status"], "Success", "{v}");
    assert_eq!(v["outputs"]["Name"], "Ada", "{v}");

    let a = call(None).await;
    assert_eq!(a.status, 401, "{}", text(&a));
    assert!(text(&a).contains("API key"), "{}", text(&a));
    assert!(a
        .header("www-authenticate")
        .unwrap_or_default()
        .starts_with("Bearer"));
    let forged = signed(
        &part(&key_of(&good), 0),
        &part(&key_of(&good), 1),
        b"not-the-signing-key-of-this-server",
    );
    let a = call(Some(format!("Bearer {forged}"))).await;
    assert_eq!(a.status, 401, "{}", text(&a));
    assert!(!text(&a).contains(forged.split('.').nth(2).unwrap()));
    let a = call(Some("Bearer not.a.key".into())).await;
    assert_eq!(a.status, 401, "{}", text(&a));
    let a = call(Some(format!("Bearer {weak}"))).await;
    assert_eq!(a.status, 403, "{}", text(&a));
    assert!(text(&a).contains("run-actions"), "{}", text(&a));

    let a = admin(
        &s,
        Method::DELETE,
        &format!(
            "/api/identity/users/api-bot/api-keys/{}",
            good["id"].as_str().unwrap()
        ),
        &Value::Null,
    )
    .await;
    assert_eq!(a.status, 204);
    let a = call(Some(format!("Bearer {}", key_of(&good)))).await;
    assert_eq!(a.status, 401, "{}", text(&a));
    assert!(text(&a).contains("revoked"), "{}", text(&a));
    s.stop().await;
}

crate::both_backends!(
    the_trigger_endpoint_admits_by_api_key_401_403_and_200,
    an_issued_key_is_an_hs256_jwt_shown_once_and_listed_without_it,
    unknown_users_and_bad_bodies_are_refused_saying_what_is_wrong,
    a_revoked_key_stops_at_once_and_a_deleted_user_takes_its_keys,
    expired_forged_and_malformed_keys_are_401_saying_why,
    a_user_without_the_privileges_gets_403_naming_them_on_every_call,
    replacing_the_signing_key_invalidates_every_key_and_a_short_one_is_400,
    keys_survive_a_restart_on_the_same_data_folder,
    another_header_named_by_the_config_carries_the_key_alone,
);
