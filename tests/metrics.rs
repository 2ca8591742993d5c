//! The metrics text as an operator's scraper reads it: every family grouped (HELP, TYPE,
//! then all its samples), 404s, 405s and admin requests counted, counters kept across a
//! redeploy of the same service, the process metrics and the build, a scrape user holding
//! only `metrics`; and the probes `/livez` and `/readyz`, 503 while draining.

mod support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use fss::server::ServerConfig;
use http::Method;
use serde_json::json;
use support::{admin_config, basic, get, post_json, request, Answer, TestServer};

const ADMIN: &str = "metrics-admin";
const PASSWORD: &str = "metrics-admin-pw-1";

fn definition(actions: &[&str]) -> Vec<u8> {
    let actions: Vec<_> = actions
        .iter()
        .map(|a| json!({"name": a, "process": {"builtin": "echo"}}))
        .collect();
    serde_json::to_vec(&json!({"name": "Counted", "messageActions": actions})).unwrap()
}

async fn start() -> (TestServer, tempfile::TempDir) {
    let ops = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(ops.path(), |_| {}, ServerConfig::default()).await;
    s.enable_admin(admin_config(ADMIN, PASSWORD))
        .await
        .expect("admin API enables");
    (s, ops)
}

async fn scrape_as(s: &TestServer, user: &str, password: &str) -> Answer {
    let auth = basic(user, password);
    let url = s.url("/api/management/metrics");
    request(Method::GET, &url, &[("authorization", &auth)], "").await
}

async fn scrape(s: &TestServer) -> String {
    let a = scrape_as(s, ADMIN, PASSWORD).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    String::from_utf8(a.body.to_vec()).unwrap()
}

/// `series -> value` of every sample line.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("series and value");
            let v = value.parse().unwrap_or_else(|_| panic!("numeric: {l}"));
            (series.to_owned(), v)
        })
        .collect()
}

/// The family a sample name belongs to: histogram and counter suffixes taken off when
/// the family was declared without them.
fn family_of<'a>(name: &'a str, declared: &HashSet<String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if declared.contains(base) {
                return base;
            }
        }
    }
    name
}

async fn deploy(s: &TestServer, bytes: &[u8]) -> Answer {
    support::deploy::upload(
        s,
        "/api/repository",
        (ADMIN, PASSWORD),
        "counted.json",
        "counted.json",
        bytes,
    )
    .await
}

#[tokio::test]
async fn every_family_is_grouped_and_typed() {
    let (s, _ops) = start().await;
    assert_eq!(deploy(&s, &definition(&["ping"])).await.status, 201);
    post_json(&s.url("/fs/Counted/actions/ping"), &json!({"inputs": []})).await;
    let text = scrape(&s).await;
    let mut declared = HashSet::new();
    let mut typed = HashSet::new();
    let mut current: Option<String> = None;
    let mut finished = HashSet::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap().to_owned();
            assert!(declared.insert(name.clone()), "{name} declared twice");
            if let Some(prev) = current.replace(name) {
                finished.insert(prev);
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap();
            assert_eq!(Some(name), current.as_deref(), "TYPE right after its HELP");
            typed.insert(name.to_owned());
            continue;
        }
        let name = line.split(['{', ' ']).next().unwrap();
        let family = family_of(name, &declared);
        assert_eq!(
            Some(family),
            current.as_deref(),
            "sample {line} outside its family's group"
        );
        assert!(!finished.contains(family), "{family} resumed after another");
    }
    assert_eq!(declared, typed, "every family typed");
    for f in [
        "fss_requests_total",
        "fss_request_duration_seconds",
        "fss_http_requests_total",
        "fss_build_info",
        "fss_connections",
        "fss_in_flight_executions",
        "fss_pending_callbacks",
        "fss_records",
        "process_resident_memory_bytes",
        "process_open_fds",
    ] {
        assert!(declared.contains(f), "{f} missing:\n{text}");
    }
    let v = samples(&text);
    assert!(v["process_resident_memory_bytes"] > 0.0);
    assert!(v["fss_connections"] >= 1.0, "the scrape's own connection");
    let build = format!("fss_build_info{{version=\"{}\",", env!("CARGO_PKG_VERSION"));
    assert!(text.contains(&build), "{text}");
    s.stop().await;
}

#[tokio::test]
async fn not_found_wrong_method_and_admin_requests_are_counted() {
    let (s, _ops) = start().await;
    let before = samples(&scrape(&s).await);
    let n = |v: &HashMap<String, f64>, area: &str, status: &str| {
        let k = format!("fss_http_requests_total{{area=\"{area}\",status=\"{status}\"}}");
        v.get(&k).copied().unwrap_or(0.0)
    };
    assert_eq!(
        post_json(&s.url("/fs/NoSuch/actions/x"), &json!({}))
            .await
            .status,
        404
    );
    assert_eq!(get(&s.url("/no/such/path")).await.status, 404);
    assert_eq!(
        request(Method::DELETE, &s.url("/health"), &[], "")
            .await
            .status,
        405
    );
    assert_eq!(get(&s.url("/api/repository/deployments")).await.status, 401);
    let after = samples(&scrape(&s).await);
    assert_eq!(n(&after, "fs", "404") - n(&before, "fs", "404"), 1.0);
    assert_eq!(n(&after, "other", "404") - n(&before, "other", "404"), 1.0);
    assert_eq!(n(&after, "other", "405") - n(&before, "other", "405"), 1.0);
    assert_eq!(n(&after, "admin", "401") - n(&before, "admin", "401"), 1.0);
    // The first scrape was itself counted once answered.
    assert!(n(&after, "admin", "200") >= 1.0);
    s.stop().await;
}

#[tokio::test]
async fn a_redeploy_keeps_the_service_counters() {
    let (s, _ops) = start().await;
    assert_eq!(deploy(&s, &definition(&["ping"])).await.status, 201);
    for _ in 0..3 {
        let a = post_json(&s.url("/fs/Counted/actions/ping"), &json!({"inputs": []})).await;
        assert_eq!(a.status, 200);
    }
    let key =
        "fss_requests_total{service=\"Counted\",operation=\"action\",name=\"ping\",status=\"200\"}";
    assert_eq!(samples(&scrape(&s).await)[key], 3.0);
    // A new version: the same action and one more.
    assert_eq!(deploy(&s, &definition(&["ping", "pong"])).await.status, 201);
    let a = post_json(&s.url("/fs/Counted/actions/pong"), &json!({"inputs": []})).await;
    assert_eq!(a.status, 200, "the new version is mounted");
    post_json(&s.url("/fs/Counted/actions/ping"), &json!({"inputs": []})).await;
    let v = samples(&scrape(&s).await);
    assert_eq!(v[key], 4.0, "counted on, not reset");
    s.stop().await;
}

#[tokio::test]
async fn a_scrape_user_reads_metrics_and_nothing_else() {
    let (s, _ops) = start().await;
    let auth = basic(ADMIN, PASSWORD);
    let body = json!({"id": "scraper", "password": "scrape-pw-1", "privileges": ["metrics"]});
    let made = request(
        Method::POST,
        &s.url("/api/identity/users"),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_eq!(made.status, 201, "{}", String::from_utf8_lossy(&made.body));
    let a = scrape_as(&s, "scraper", "scrape-pw-1").await;
    assert_eq!(a.status, 200);
    assert!(String::from_utf8_lossy(&a.body).contains("fss_http_requests_total"));
    let sc = basic("scraper", "scrape-pw-1");
    let d = request(
        Method::GET,
        &s.url("/api/repository/deployments"),
        &[("authorization", &sc)],
        "",
    )
    .await;
    assert_eq!(d.status, 403);
    assert!(String::from_utf8_lossy(&d.body).contains("access-rest-api"));
    // An unknown privilege is still refused, naming the known ones, `metrics` among them.
    let bad = json!({"id": "x", "password": "x-pw-123456", "privileges": ["metricz"]});
    let r = request(
        Method::POST,
        &s.url("/api/identity/users"),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        serde_json::to_vec(&bad).unwrap(),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("metrics"));
    s.stop().await;
}

#[tokio::test]
async fn probes_answer_without_credentials_and_readiness_drops_while_draining() {
    let ops = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_with(ops.path(), |_| {}, ServerConfig::default()).await;
    for p in ["/livez", "/readyz"] {
        let a = get(&s.url(p)).await;
        assert_eq!(a.status, 200, "{p}");
        assert_eq!(a.json()["status"], "UP");
        let h = request(Method::HEAD, &s.url(p), &[], "").await;
        assert_eq!(h.status, 200);
        assert!(h.body.is_empty());
    }
    let post = request(Method::POST, &s.url("/readyz"), &[], "").await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    // A connection held open keeps the server draining; readiness reads the state the
    // server published.
    let stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let state = std::sync::Arc::clone(s.runtime.server_state());
    let task = s.begin_shutdown();
    let drained = async {
        while !state.draining.load(std::sync::atomic::Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), drained)
        .await
        .expect("the server says it drains");
    let answer = s.runtime.handle(
        http::Request::get("/readyz")
            .body(fss::http::body::empty_request())
            .unwrap(),
    );
    let resp = answer.await;
    assert_eq!(resp.status(), 503);
    drop(stream);
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
}
