//! The edge over real sockets: typed inputs refused before execution, bounded records,
//! cross-site admin writes, CORS and HEAD, forwarding headers from trusted proxies only,
//! headers passed to processes, and address allow-lists.

mod support;

use std::net::SocketAddr;

use http::Method;
use serde_json::{json, Value};
use support::{admin_config, basic, fixture, post_json, request, Answer, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ADMIN: &str = "edge-admin";
const PASSWORD: &str = "edge-admin-pw";

fn echo(inputs: Value) -> Value {
    json!({"token": "t", "inputs": inputs})
}

fn text(a: &Answer) -> String {
    String::from_utf8_lossy(&a.body).into_owned()
}

#[tokio::test]
async fn inputs_that_do_not_fit_their_type_are_refused_before_execution() {
    let s = TestServer::start(&fixture("edge")).await;
    let url = s.url("/fs/Edge/actions/echo");
    let bad = [
        (
            json!([{"developerName": "Count", "contentValue": "abc"}]),
            ["'Count'", "Number"],
        ),
        (
            json!([{"developerName": "Count", "contentValue": "NaN"}]),
            ["'Count'", "Number"],
        ),
        (
            json!([{"developerName": "Flag", "contentValue": "maybe"}]),
            ["'Flag'", "Boolean"],
        ),
        (
            json!([{"developerName": "When", "contentValue": "yesterday"}]),
            ["'When'", "DateTime"],
        ),
        (
            json!([{"developerName": "One", "contentType": "ContentObject", "objectData": [
                {"developerName": "Item", "properties": []},
                {"developerName": "Item", "properties": []}]}]),
            ["'One'", "at most one object"],
        ),
        (
            json!([{"developerName": "Items", "contentType": "ContentList", "objectData": [
                {"developerName": "Item", "properties": [{"developerName": "Qty", "contentValue": "2"}]},
                {"developerName": "Item", "properties": [{"developerName": "Parts", "objectData": [
                    {"developerName": "Item", "properties": [{"developerName": "Qty", "contentValue": "lots"}]}]}]}]}]),
            [
                "'Items', object 2, property 'Parts', object 1, property 'Qty'",
                "Number",
            ],
        ),
    ];
    for (inputs, words) in bad {
        let a = post_json(&url, &echo(inputs.clone())).await;
        let msg = a.problem(400);
        for w in words {
            assert!(msg.contains(w), "{inputs}: {msg}");
        }
    }
    // Objects nested past what the JSON reader takes are refused before any check walks them.
    let mut nested = json!({"developerName": "Item", "properties": []});
    for _ in 0..40 {
        nested = json!({"developerName": "Item", "properties": [
            {"developerName": "Parts", "objectData": [nested]}]});
    }
    let deep = json!([{"developerName": "Items", "objectData": [nested]}]);
    let msg = post_json(&url, &echo(deep)).await.problem(400);
    assert!(msg.contains("not valid JSON"), "{msg}");
    let good = json!([
        {"developerName": "Name", "contentValue": "Ada"},
        {"developerName": "Count", "contentValue": "-1.5e3"},
        {"developerName": "Flag", "contentValue": "True"},
        {"developerName": "When", "contentValue": "2026-01-21T10:00:00+01:00"},
        {"developerName": "Items", "objectData": [
            {"developerName": "Item", "properties": [{"developerName": "Qty", "contentValue": ""}]}]}]);
    let a = post_json(&url, &echo(good)).await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert_eq!(a.json()["outputs"][1]["contentValue"], "-1.5e3");
    s.stop().await;
}

#[tokio::test]
async fn records_keep_bounded_strings_whatever_a_client_sends() {
    let s = TestServer::start(&fixture("edge")).await;
    let path = format!("/file/{}", "x".repeat(1 << 20));
    for _ in 0..20 {
        let a = post_json(&s.url("/fs/Edge/file"), &json!({"resourcePath": path})).await;
        assert!(a.header("x-execution-id").is_some());
    }
    let records = s.runtime.records().list(|_| true);
    assert_eq!(records.len(), 20);
    for r in &records {
        assert!(
            r.name.len() <= fss::execution::records::MAX_RECORD_TEXT,
            "a record keeps a {}-byte name",
            r.name.len()
        );
    }
    let kept = s.runtime.records().bytes();
    assert!(kept < 64 << 10, "20 records keep {kept} bytes");
    s.stop().await;
}

async fn admin_server(configure: impl FnOnce(&mut fss::RuntimeConfig)) -> TestServer {
    let s = TestServer::start_config(
        &fixture("edge"),
        configure,
        |_| {},
        fss::server::ServerConfig::default(),
    )
    .await;
    s.enable_admin(admin_config(ADMIN, PASSWORD))
        .await
        .expect("admin API enables");
    s
}

async fn deploy(s: &TestServer, name: &str, extra: &[(&str, &str)]) -> Answer {
    let definition = json!({"name": name, "messageActions": [{"name": "Ping",
        "inputs": [{"name": "In", "type": "String"}], "outputs": [{"name": "In", "type": "String"}],
        "process": {"builtin": "echo"}}]});
    let boundary = "edge-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"d.json\"; filename=\"d.json\"\r\n\
         Content-Type: application/json\r\n\r\n{definition}\r\n--{boundary}--\r\n"
    );
    let auth = basic(ADMIN, PASSWORD);
    let ct = format!("multipart/form-data; boundary={boundary}");
    let mut headers = vec![
        ("authorization", auth.as_str()),
        ("content-type", ct.as_str()),
    ];
    headers.extend_from_slice(extra);
    request(
        Method::POST,
        &s.url("/api/repository/deployments"),
        &headers,
        body,
    )
    .await
}

async fn mounted(s: &TestServer, name: &str) -> bool {
    let a = post_json(
        &s.url(&format!("/fs/{name}/actions/ping")),
        &json!({"inputs": []}),
    )
    .await;
    a.status != 404
}

#[tokio::test]
async fn cross_site_admin_writes_are_refused() {
    let s = admin_server(|_| {}).await;
    for (i, extra) in [
        vec![
            ("origin", "http://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ],
        vec![("origin", "http://evil.example")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("origin", "null")],
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("Cross{i}");
        let a = deploy(&s, &name, &extra).await;
        assert_eq!(a.status, 403, "{extra:?}: {}", text(&a));
        assert!(a.json()["errorMessage"]
            .as_str()
            .unwrap()
            .contains("refused"));
        assert!(!mounted(&s, &name).await, "{extra:?} mounted {name}");
    }
    // A body a plain HTML form can send is not accepted either.
    let a = request(
        Method::POST,
        &s.url("/api/identity/users"),
        &[
            ("authorization", &basic(ADMIN, PASSWORD)),
            ("content-type", "text/plain"),
        ],
        r#"{"id":"mallory","password":"mallory-pw-1"}"#,
    )
    .await;
    assert_eq!(a.status, 415, "{}", text(&a));
    // The same deploy from a script, and from this server's own origin, works.
    assert_eq!(deploy(&s, "Plain", &[]).await.status, 201);
    let own = format!("http://{}", s.addr);
    let host = s.addr.to_string();
    let a = deploy(
        &s,
        "SameOrigin",
        &[
            ("origin", &own),
            ("host", &host),
            ("sec-fetch-site", "same-origin"),
        ],
    )
    .await;
    assert_eq!(a.status, 201, "{}", text(&a));
    s.stop().await;

    let s = admin_server(|c| c.edge.admin_origins = vec!["https://console.example".into()]).await;
    let extra = [
        ("origin", "https://console.example"),
        ("sec-fetch-site", "cross-site"),
    ];
    assert_eq!(deploy(&s, "Allowed", &extra).await.status, 201);
    assert!(mounted(&s, "Allowed").await);
    s.stop().await;
}

#[tokio::test]
async fn options_is_answered_and_cors_follows_the_configured_origins() {
    let s = TestServer::start(&fixture("edge")).await;
    let preflight = [
        ("origin", "https://app.example"),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "content-type"),
    ];
    let url = s.url("/fs/Edge/actions/echo");
    let a = request(Method::OPTIONS, &url, &preflight, "").await;
    assert_eq!(a.status, 204);
    assert_eq!(a.header("allow"), Some("POST, OPTIONS"));
    assert!(
        a.header("access-control-allow-origin").is_none(),
        "no origin is configured"
    );
    let a = request(
        Method::OPTIONS,
        &s.url("/fs/Edge/nothing-here"),
        &preflight,
        "",
    )
    .await;
    a.problem(404);
    s.stop().await;

    let s = TestServer::start_config(
        &fixture("edge"),
        |c| c.edge.cors_origins = vec!["https://app.example".into()],
        |_| {},
        fss::server::ServerConfig::default(),
    )
    .await;
    let url = s.url("/fs/Edge/actions/echo");
    let a = request(Method::OPTIONS, &url, &preflight, "").await;
    assert_eq!(a.status, 204);
    assert_eq!(
        a.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        a.header("access-control-allow-methods"),
        Some("POST, OPTIONS")
    );
    assert_eq!(
        a.header("access-control-allow-headers"),
        Some("content-type")
    );
    assert!(a.header("access-control-max-age").is_some());
    let call = serde_json::to_vec(&echo(
        json!([{"developerName": "Name", "contentValue": "Ada"}]),
    ))
    .unwrap();
    let a = request(
        Method::POST,
        &url,
        &[
            ("origin", "https://app.example"),
            ("content-type", "application/json"),
        ],
        call.clone(),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(a
        .header("access-control-expose-headers")
        .unwrap()
        .contains("x-execution-id"));
    let a = request(
        Method::POST,
        &url,
        &[
            ("origin", "https://other.example"),
            ("content-type", "application/json"),
        ],
        call,
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(a.header("access-control-allow-origin").is_none());
    s.stop().await;
}

#[tokio::test]
async fn head_is_answered_wherever_get_is() {
    let s = TestServer::start(&fixture("edge")).await;
    for path in ["/health", "/fs/Edge/health"] {
        let got = request(Method::GET, &s.url(path), &[], "").await;
        let head = request(Method::HEAD, &s.url(path), &[], "").await;
        assert_eq!(head.status, got.status, "{path}");
        assert!(head.body.is_empty(), "{path}");
        assert_eq!(
            head.header("content-length").map(str::to_owned),
            Some(got.body.len().to_string()),
            "{path}"
        );
    }
    s.stop().await;
}

async fn upload_link(s: &TestServer, headers: &[(&str, &str)]) -> String {
    let mut h = vec![("content-type", "application/octet-stream")];
    h.extend_from_slice(headers);
    let a = request(
        Method::POST,
        &s.url("/fs/Edge/file/content?name=a.txt"),
        &h,
        &b"hello"[..],
    )
    .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let v = a.json();
    let props = v["objectData"][0]["properties"].as_array().unwrap().clone();
    props
        .iter()
        .find(|p| p["developerName"] == "Download Uri")
        .and_then(|p| p["contentValue"].as_str())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn links_follow_forwarding_headers_of_trusted_proxies_only() {
    let s = TestServer::start(&fixture("edge")).await;
    let own = format!("http://{}/", s.addr);
    let forged = [
        ("host", "evil.example"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "https"),
    ];
    let link = upload_link(&s, &forged).await;
    assert!(
        link.starts_with(&own),
        "an untrusted client chose the link: {link}"
    );
    s.stop().await;

    let s = TestServer::start_config(
        &fixture("edge"),
        |c| c.edge.trusted_proxies = "127.0.0.1".parse().unwrap(),
        |_| {},
        fss::server::ServerConfig::default(),
    )
    .await;
    let link = upload_link(
        &s,
        &[
            ("x-forwarded-host", "flow.example.com"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    assert!(
        link.starts_with("https://flow.example.com/fs/Edge/file/"),
        "{link}"
    );
    let link = upload_link(
        &s,
        &[("forwarded", "for=198.51.100.7;proto=https;host=f.example")],
    )
    .await;
    assert!(link.starts_with("https://f.example/"), "{link}");
    s.stop().await;
}

#[tokio::test]
async fn processes_see_the_headers_the_definition_passes() {
    let s = TestServer::start(&fixture("edge")).await;
    let a = request(
        Method::POST,
        &s.url("/fs/Edge/actions/headers"),
        &[
            ("content-type", "application/json"),
            ("x-request-id", "req-7"),
            ("x-tenant", "acme"),
            ("x-other", "not passed"),
            ("cookie", "session=secret"),
        ],
        r#"{"inputs": []}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let out = a.json()["outputs"][0]["contentValue"]
        .as_str()
        .unwrap()
        .to_owned();
    let headers: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        headers,
        json!({"x-request-id": "req-7", "x-tenant": "acme"})
    );
    s.stop().await;

    let defs = fss::definition::parse_definition(
        "bad.json",
        br#"{"name": "Bad", "passHeaders": ["Authorization"], "messageActions": []}"#,
    )
    .map(|definition| fss::definition::LoadedDefinition {
        definition,
        source: "bad.json".into(),
        base_dir: ".".into(),
    })
    .unwrap();
    let err = fss::check(&[defs]).unwrap_err().to_string();
    assert!(
        err.contains("passHeaders[0]") && err.contains("credentials"),
        "{err}"
    );
}

/// One HTTP/1.1 request from `source` on a fresh connection; the status code.
async fn status_from(source: &str, server: SocketAddr, head: &str, body: &str) -> u16 {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let mut stream = socket.connect(server).await.unwrap();
    let req = format!(
        "{head}\r\nHost: {server}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    let line = String::from_utf8_lossy(&out);
    line.split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn address_allow_lists_guard_services_and_the_admin_api() {
    let s = TestServer::start(&fixture("edge")).await;
    let ping = "POST /fs/Fenced/actions/ping HTTP/1.1";
    let body = r#"{"inputs": [{"developerName": "In", "contentValue": "x"}]}"#;
    assert_eq!(status_from("127.0.0.1", s.addr, ping, body).await, 403);
    assert_eq!(status_from("127.0.0.2", s.addr, ping, body).await, 200);
    // Not even its missing routes are told to others.
    let missing = "POST /fs/Fenced/actions/nothing HTTP/1.1";
    assert_eq!(status_from("127.0.0.1", s.addr, missing, body).await, 403);
    // Another service has no list.
    let echo = "POST /fs/Edge/actions/echo HTTP/1.1";
    assert_eq!(status_from("127.0.0.1", s.addr, echo, body).await, 200);
    let a = post_json(&s.url("/fs/Fenced/actions/ping"), &json!({"inputs": []})).await;
    assert!(a.problem(403).contains("127.0.0.1"));
    s.stop().await;

    // Behind a trusted proxy, the forwarded client address decides.
    let s = TestServer::start_config(
        &fixture("edge"),
        |c| c.edge.trusted_proxies = "127.0.0.1".parse().unwrap(),
        |_| {},
        fss::server::ServerConfig::default(),
    )
    .await;
    let forwarded = format!("{ping}\r\nX-Forwarded-For: 10.1.2.3");
    assert_eq!(
        status_from("127.0.0.1", s.addr, &forwarded, body).await,
        200
    );
    let forwarded = format!("{ping}\r\nX-Forwarded-For: 192.0.2.1");
    assert_eq!(
        status_from("127.0.0.1", s.addr, &forwarded, body).await,
        403
    );
    s.stop().await;

    let s = admin_server(|c| c.edge.admin_allow_from = "127.0.0.2".parse().unwrap()).await;
    let auth = basic(ADMIN, PASSWORD);
    let engine = format!("GET /api/management/engine HTTP/1.1\r\nAuthorization: {auth}");
    assert_eq!(status_from("127.0.0.1", s.addr, &engine, "").await, 403);
    assert_eq!(status_from("127.0.0.2", s.addr, &engine, "").await, 200);
    s.stop().await;
}
