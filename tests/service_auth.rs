//! Service authentication on `/fs/…` over real sockets: a definition with
//! `"auth": {"basic": true}` answers only users of the admin API holding `flow-service` or
//! `flow-service:{name}`, with their password or a token made by
//! `POST /api/identity/users/{id}/token`; refusals are 401/403 ServiceProblems given before
//! the body is read; the verified user reaches processes as the property `user`.
//!
//! Each test starts a server on 127.0.0.1:0 that mounts the `service_auth` fixture (`Secure`
//! with auth, `Open` without) with a `whoami` handler, then enables the admin API with a
//! bootstrap admin on its own temporary data folder.

mod support;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use fss::process::{Handler, HandlerFuture, ProcessCall, Reply};
use fss::server::ServerConfig;
use http::Method;
use serde_json::{json, Value};
use support::{admin_config, basic, fixture, request, Answer, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ADMIN: &str = "root-admin";
const ADMIN_PW: &str = "s3cret-root-pw";
const ECHO: &str = "/fs/Secure/actions/echo";
const WHO: &str = "/fs/Secure/actions/who-am-i";

// === helpers ===

/// Answers the verified user (`properties.user`) as output `User`; counts its calls.
#[derive(Clone, Default)]
struct WhoAmI {
    calls: Arc<AtomicUsize>,
}

impl Handler for WhoAmI {
    fn call(&self, call: ProcessCall) -> HandlerFuture {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let text = |name: &str| match call.properties.get(name) {
            Some(Value::String(u)) => u.clone(),
            Some(Value::Null) => "<null>".to_owned(),
            other => format!("<{other:?}>"),
        };
        let (user, auth) = (text("user"), text("authorization"));
        Box::pin(async move { Ok(Reply::outputs(json!({ "User": user, "Auth": auth }))) })
    }
}

/// A server on `data` with the fixture mounted, `who` registered, and the admin API
/// enabled (when `admin`) with the bootstrap admin.
async fn start_on(data: &Path, who: &WhoAmI, admin: bool) -> TestServer {
    let dir = data.to_path_buf();
    let h = who.clone();
    let server = TestServer::start_config(
        &fixture("service_auth"),
        move |c| c.data_dir = dir,
        move |rt| rt.register_handler("whoami", h),
        ServerConfig::default(),
    )
    .await;
    if admin {
        server
            .enable_admin(admin_config(ADMIN, ADMIN_PW))
            .await
            .expect("admin API enables");
    }
    server
}

/// A server on a fresh data folder (kept alive by the returned guard).
async fn start(who: &WhoAmI) -> (TestServer, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let s = start_on(data.path(), who, true).await;
    (s, data)
}

/// An admin API call as the bootstrap admin.
async fn api(s: &TestServer, method: Method, path: &str, body: &Value) -> Answer {
    let auth = basic(ADMIN, ADMIN_PW);
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

/// Creates user `id` with `password` and `privileges` (201 expected).
async fn create_user(s: &TestServer, id: &str, password: &str, privileges: &[&str]) {
    let a = api(
        s,
        Method::POST,
        "/api/identity/users",
        &json!({"id": id, "password": password, "privileges": privileges}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
}

/// Makes a new token for `id` (201 expected) and returns it.
async fn new_token(s: &TestServer, id: &str) -> String {
    let a = api(
        s,
        Method::POST,
        &format!("/api/identity/users/{id}/token"),
        &Value::Null,
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.header("cache-control"), Some("no-store"));
    let v = a.json();
    assert_eq!(v["id"], id);
    v["token"].as_str().expect("token is a string").to_owned()
}

/// POSTs a ServiceRequest with input `In` to `path`, with `auth` as `Authorization`.
async fn call(s: &TestServer, path: &str, auth: Option<&str>) -> Answer {
    let body = json!({"token": "t1", "inputs": [
        {"developerName": "In", "contentType": "ContentString", "contentValue": "hi"}]});
    send(s, Method::POST, path, auth, &body).await
}

async fn send(
    s: &TestServer,
    method: Method,
    path: &str,
    auth: Option<&str>,
    body: &Value,
) -> Answer {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    request(
        method,
        &s.url(path),
        &headers,
        serde_json::to_vec(body).unwrap(),
    )
    .await
}

/// The output `name` of a ServiceResponse.
fn output(a: &Answer, name: &str) -> Value {
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let v = a.json();
    v["outputs"]
        .as_array()
        .and_then(|o| o.iter().find(|x| x["developerName"] == name))
        .map(|x| x["contentValue"].clone())
        .unwrap_or(Value::Null)
}

/// Asserts a 401 ServiceProblem with the Basic challenge; returns its message.
fn unauthorized(a: &Answer) -> String {
    let msg = a.problem(401);
    assert_eq!(a.header("www-authenticate"), Some(r#"Basic realm="fss""#));
    msg
}

/// Sends only the head of a request over a raw socket and reads the first answer head:
/// the status line and headers, as text. Bounded by 10 s.
async fn head_only(s: &TestServer, head: &str) -> String {
    let mut sock = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    sock.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            let n = sock.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            if n == 0 || buf.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("an answer comes without the body being sent");
    String::from_utf8_lossy(&buf).into_owned()
}

// === tests ===

#[tokio::test]
async fn no_credentials_is_401_with_challenge_and_service_problem() {
    let who = WhoAmI::default();
    let (s, _d) = start(&who).await;
    let a = call(&s, ECHO, None).await;
    let msg = unauthorized(&a);
    assert!(
        msg.contains("service 'Secure' requires authentication")
            && msg.contains("'flow-service'")
            && msg.contains("'flow-service:Secure'"),
        "{msg}"
    );
    assert_eq!(a.json()["uri"], ECHO);
    // Every operation of the service, describe included, is behind the check.
    for (method, path) in [
        (Method::GET, "/fs/Secure/metadata"),
        (Method::POST, "/fs/Secure/metadata"),
        (Method::POST, "/fs/Secure/metadata/install"),
        (Method::POST, WHO),
        (Method::POST, "/fs/Secure/data"),
        (Method::PUT, "/fs/Secure/data"),
    ] {
        let a = send(&s, method.clone(), path, None, &json!({})).await;
        unauthorized(&a);
        assert!(a.header("x-execution-id").is_none(), "{method} {path}");
    }
    // Not a Basic header at all.
    let a = call(&s, ECHO, Some("Bearer abc")).await;
    assert!(unauthorized(&a).contains("not HTTP Basic"));
    assert_eq!(who.calls.load(Ordering::SeqCst), 0);
    s.stop().await;
}

#[tokio::test]
async fn wrong_password_and_unknown_user_are_401() {
    let who = WhoAmI::default();
    let (s, _d) = start(&who).await;
    create_user(&s, "svc", "svc-password", &["flow-service"]).await;
    let a = call(&s, ECHO, Some(&basic("svc", "wrong"))).await;
    assert_eq!(unauthorized(&a), "wrong user or password");
    let a = call(&s, ECHO, Some(&basic("nobody", "svc-password"))).await;
    assert_eq!(unauthorized(&a), "wrong user or password");
    // A right password after wrong ones still works.
    let a = call(&s, ECHO, Some(&basic("svc", "svc-password"))).await;
    assert_eq!(output(&a, "In"), "hi");
    s.stop().await;
}

#[tokio::test]
async fn valid_user_without_privilege_is_403() {
    let who = WhoAmI::default();
    let (s, _d) = start(&who).await;
    create_user(&s, "plain", "plain-password", &[]).await;
    let a = call(&s, WHO, Some(&basic("plain", "plain-password"))).await;
    let msg = a.problem(403);
    assert!(a.header("www-authenticate").is_none());
    assert_eq!(
        msg,
        "user 'plain' may not call service 'Secure': it holds neither 'flow-service' nor \
         'flow-service:Secure'"
    );
    // The admin privilege is not a service privilege.
    let a = call(&s, ECHO, Some(&basic(ADMIN, ADMIN_PW))).await;
    a.problem(403);
    assert_eq!(who.calls.load(Ordering::SeqCst), 0);
    s.stop().await;
}

#[tokio::test]
async fn flow_service_privilege_opens_every_operation() {
    let who = WhoAmI::default();
    let (s, _d) = start(&who).await;
    create_user(&s, "svc", "svc-password", &["flow-service"]).await;
    let auth = basic("svc", "svc-password");
    let a = call(&s, ECHO, Some(&auth)).await;
    assert_eq!(output(&a, "In"), "hi");
    assert!(a.header("x-execution-id").is_some());
    // Cached now: the same credentials answer again (without another hash).
    for _ in 0..3 {
        assert_eq!(output(&call(&s, ECHO, Some(&auth)).await, "In"), "hi");
    }
    let a = send(
        &s,
        Method::GET,
        "/fs/Secure/metadata",
        Some(&auth),
        &json!({}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert!(a.json()["actions"].is_array());
    let save = json!({"objectDataType": {"developerName": "Note"}, "objectData": [
        {"developerName": "Note", "properties": [
            {"developerName": "Id", "contentValue": "n1"},
            {"developerName": "Text", "contentValue": "hello"}]}]});
    let a = send(&s, Method::PUT, "/fs/Secure/data", Some(&auth), &save).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let load = json!({"objectDataType": {"developerName": "Note"}});
    let a = send(&s, Method::POST, "/fs/Secure/data", Some(&auth), &load).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.json()["objectData"].as_array().map(Vec::len), Some(1));
    s.stop().await;
}

#[tokio::test]
async fn a_grant_by_service_name_opens_that_service_only() {
    let who = WhoAmI::default();
    let (s, _d) = start(&who).await;
    create_user(&s, "other", "other-password", &["flow-service:Open"]).await;
    create_user(&s, "this", "this-password", &["flow-service:Secure"]).await;
    let a = call(&s, ECHO, Some(&basic("other", "other-password"))).await;
    assert!(a.problem(403).contains("'flow-service:Secure'"));
    let a = call(&s, ECHO, Some(&basic("this", "this-password"))).await;
    assert_eq!(output(&a, "In"), "hi");
    // Granting it later opens it at once (the user changed; nothing stale is kept).
    let a = api(
        &s,
        Method::PUT,
        "/api/identity/users/other",
        &json!({"privileges": ["flow-service:Open", "flow-service:Secure"]}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let a = call(&s, ECHO, Some(&basic("other", "other-password"))).await;
    assert_eq!(output(&a, "In"), "hi");
    // Taking it away closes it at once, though the credentials were cached.
    let a = api(
        &s,
        Method::PUT,
        "/api/identity/users/this",
        &json!({"privileges": []}),
    )
    .await;
    assert_eq!(a.status, 200);
    a.json();
    let a = call(&s, ECHO, Some(&basic("this", "this-password"))).await;
    a.problem(403);
    // Privileges are checked when given; the users list filters by them.
    let a = api(
        &s,
        Method::POST,
        "/api/identity/users",
        &json!({"id": "bad", "password": "x", "privileges": ["flow-service:"]}),
    )
    .await;
    assert_eq!(a.status, 400);
    assert!(a.json()["errorMessage"]
        .as_str()
        .unwrap()
        .contains("flow-service:{service name}"));
    let a = api(
        &s,
        Method::GET,
        "/api/identity/users?privilege=flow-service:Secure",
        &Value::Null,
    )
    .await;
    let ids: Vec<Value> = a.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("other")]);
    s.stop().await;
}

#[tokio::test]
async fn tokens_work_once_regenerated_invalidate_the_old_one_and_survive_restart() {
    let who = WhoAmI::default();
    let data = tempfile::tempdir().unwrap();
    let s = start_on(data.path(), &who, true).await;
    create_user(&s, "flow-bot", "bot-password", &["flow-service:Secure"]).await;

    let first = new_token(&s, "flow-bot").await;
    assert!(first.starts_with("fsst_") && first.len() == 48, "{first}");
    let a = call(&s, WHO, Some(&basic("flow-bot", &first))).await;
    assert_eq!(output(&a, "User"), "flow-bot");
    // The token is shown once: never in the user's JSON.
    let a = api(
        &s,
        Method::GET,
        "/api/identity/users/flow-bot",
        &Value::Null,
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(!String::from_utf8_lossy(&a.body).contains(&first[5..]));
    assert!(!String::from_utf8_lossy(&a.body).contains("argon2"));

    let second = new_token(&s, "flow-bot").await;
    assert_ne!(first, second);
    let a = call(&s, ECHO, Some(&basic("flow-bot", &first))).await;
    assert_eq!(unauthorized(&a), "wrong user or password");
    let a = call(&s, ECHO, Some(&basic("flow-bot", &second))).await;
    assert_eq!(output(&a, "In"), "hi");
    // The password keeps working beside the token.
    let a = call(&s, ECHO, Some(&basic("flow-bot", "bot-password"))).await;
    assert_eq!(output(&a, "In"), "hi");
    // A password may not look like a token (it would be checked against the token).
    let a = api(
        &s,
        Method::PUT,
        "/api/identity/users/flow-bot",
        &json!({"password": second}),
    )
    .await;
    assert_eq!(a.status, 400);
    // Only the admin API makes tokens: a service user cannot, unknown users are 404.
    let a = request(
        Method::POST,
        &s.url("/api/identity/users/flow-bot/token"),
        &[("authorization", &basic("flow-bot", &second))],
        Bytes::new(),
    )
    .await;
    assert_eq!(a.status, 403);
    let a = request(
        Method::POST,
        &s.url("/api/identity/users/flow-bot/token"),
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(a.json()["statusCode"], 401);
    let a = api(
        &s,
        Method::POST,
        "/api/identity/users/ghost/token",
        &Value::Null,
    )
    .await;
    assert_eq!(a.status, 404);
    let a = api(
        &s,
        Method::GET,
        "/api/identity/users/flow-bot/token",
        &Value::Null,
    )
    .await;
    assert_eq!(a.status, 405);
    assert_eq!(a.header("allow"), Some("POST, DELETE"));
    s.stop().await;

    // The token hash persists: after a restart the token still works.
    let s = start_on(data.path(), &who, true).await;
    let a = call(&s, WHO, Some(&basic("flow-bot", &second))).await;
    assert_eq!(output(&a, "User"), "flow-bot");
    // Revoked, it stops working; the password does not.
    let a = api(
        &s,
        Method::DELETE,
        "/api/identity/users/flow-bot/token",
        &Value::Null,
    )
    .await;
    assert_eq!(a.status, 204);
    let a = call(&s, ECHO, Some(&basic("flow-bot", &second))).await;
    unauthorized(&a);
    let a = api(
        &s,
        Method::DELETE,
        "/api/identity/users/flow-bot/token",
        &Value::Null,
    )
    .await;
    assert_eq!(a.status, 404);
    let a = call(&s, ECHO, Some(&basic("flow-bot", "bot-password"))).await;
    assert_eq!(output(&a, "In"), "hi");
    s.stop().await;
}

#[tokio::test]
async fn services_without_auth_and_health_stay_open() {
    let who = WhoAmI::default();
    let (s, _d) = start(&who).await;
    let a = call(&s, "/fs/Open/actions/echo", None).await;
    assert_eq!(output(&a, "In"), "hi");
    let a = send(&s, Method::GET, "/fs/Open/metadata", None, &json!({})).await;
    assert_eq!(a.status, 200);
    // Credentials sent to an open service are not checked.
    let a = call(&s, "/fs/Open/actions/echo", Some(&basic("x", "y"))).await;
    assert_eq!(output(&a, "In"), "hi");
    let a = send(&s, Method::GET, "/fs/Secure/health", None, &json!({})).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["status"], "UP");
    let a = send(&s, Method::POST, "/fs/Secure/health", None, &json!({})).await;
    a.problem(405);
    assert_eq!(a.header("allow"), Some("GET, HEAD"));
    s.stop().await;
}

#[tokio::test]
async fn unknown_paths_of_a_secured_service_are_told_only_to_its_users() {
    let who = WhoAmI::default();
    let (s, _d) = start(&who).await;
    create_user(&s, "svc", "svc-password", &["flow-service"]).await;
    create_user(&s, "plain", "plain-password", &[]).await;
    let a = call(&s, "/fs/Secure/actions/nope", None).await;
    unauthorized(&a);
    let a = send(&s, Method::DELETE, ECHO, None, &json!({})).await;
    unauthorized(&a);
    let a = call(
        &s,
        "/fs/Secure/actions/nope",
        Some(&basic("plain", "plain-password")),
    )
    .await;
    a.problem(403);
    let a = call(
        &s,
        "/fs/Secure/actions/nope",
        Some(&basic("svc", "svc-password")),
    )
    .await;
    assert!(a.problem(404).contains("no message action"));
    let a = send(
        &s,
        Method::DELETE,
        ECHO,
        Some(&basic("svc", "svc-password")),
        &json!({}),
    )
    .await;
    a.problem(405);
    // An unknown service stays a plain 404.
    let a = call(&s, "/fs/Nope/actions/echo", None).await;
    a.problem(404);
    s.stop().await;
}

#[tokio::test]
async fn refusals_do_not_read_the_body() {
    let who = WhoAmI::default();
    let (s, _d) = start(&who).await;
    create_user(&s, "plain", "plain-password", &[]).await;
    create_user(&s, "svc", "svc-password", &["flow-service"]).await;
    // 10 GiB announced, nothing sent, and the client waits for `100 Continue` before
    // sending: an answer can only come if the server decides without the body.
    let head = |auth: Option<String>, len: u64| {
        let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
        format!(
            "POST {WHO} HTTP/1.1\r\nHost: fss\r\nContent-Type: application/json\r\n\
             Content-Length: {len}\r\nExpect: 100-continue\r\n{auth}\r\n"
        )
    };
    let got = head_only(&s, &head(None, 10 << 30)).await;
    assert!(got.starts_with("HTTP/1.1 401 "), "{got}");
    assert!(
        got.to_ascii_lowercase()
            .contains("www-authenticate: basic realm=\"fss\""),
        "{got}"
    );
    let got = head_only(&s, &head(Some(basic("svc", "wrong")), 10 << 30)).await;
    assert!(got.starts_with("HTTP/1.1 401 "), "{got}");
    let got = head_only(&s, &head(Some(basic("plain", "plain-password")), 10 << 30)).await;
    assert!(got.starts_with("HTTP/1.1 403 "), "{got}");
    assert_eq!(who.calls.load(Ordering::SeqCst), 0, "the handler never ran");
    // Control: with valid credentials the server does ask for the body.
    let got = head_only(&s, &head(Some(basic("svc", "svc-password")), 100)).await;
    assert!(got.starts_with("HTTP/1.1 100 Continue"), "{got}");
    s.stop().await;
}

#[tokio::test]
async fn the_verified_user_reaches_the_process_as_property_user() {
    let who = WhoAmI::default();
    let (s, _d) = start(&who).await;
    create_user(&s, "ada@acme", "ada-password", &["flow-service:Secure"]).await;
    let a = call(&s, WHO, Some(&basic("ada@acme", "ada-password"))).await;
    assert_eq!(output(&a, "User"), "ada@acme");
    // The credentials were fss's own: the process never sees them.
    assert_eq!(output(&a, "Auth"), "<null>");
    // Without authentication there is no user.
    let a = call(
        &s,
        "/fs/Open/actions/who-am-i",
        Some(&basic("ada@acme", "x")),
    )
    .await;
    assert_eq!(output(&a, "User"), "<null>");
    // A service without auth passes the header on as sent.
    assert_eq!(output(&a, "Auth"), basic("ada@acme", "x"));
    assert_eq!(who.calls.load(Ordering::SeqCst), 2);
    s.stop().await;
}

#[tokio::test]
async fn without_the_admin_api_a_secured_service_accepts_the_registry_users() {
    let who = WhoAmI::default();
    let data = tempfile::tempdir().unwrap();
    // A fresh data folder without the admin API: nobody is a user yet.
    let s = start_on(data.path(), &who, false).await;
    let a = call(&s, ECHO, Some(&basic(ADMIN, ADMIN_PW))).await;
    assert!(unauthorized(&a).contains("wrong user or password"));
    s.stop().await;
    // Users made through the admin API once...
    let s = start_on(data.path(), &who, true).await;
    create_user(&s, "ada@acme", "ada-pw-123", &["flow-service"]).await;
    s.stop().await;
    // ...are the users of the secured service on a server without it.
    let s = start_on(data.path(), &who, false).await;
    let a = call(&s, ECHO, Some(&basic("ada@acme", "ada-pw-123"))).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(output(&a, "In"), "hi");
    let a = call(&s, ECHO, Some(&basic(ADMIN, ADMIN_PW))).await;
    assert_eq!(a.status, 403, "{:?}", a.body);
    let a = call(&s, ECHO, None).await;
    assert!(unauthorized(&a).contains("requires authentication"));
    let a = call(&s, "/fs/Open/actions/echo", None).await;
    assert_eq!(output(&a, "In"), "hi");
    let a = send(&s, Method::GET, "/fs/Secure/health", None, &json!({})).await;
    assert_eq!(a.status, 200);
    assert_eq!(who.calls.load(Ordering::SeqCst), 0);
    // The admin API itself stays off.
    let a = request(Method::GET, &s.url("/api/identity/users"), &[], "").await;
    assert_eq!(a.status, 404);
    s.stop().await;
}
