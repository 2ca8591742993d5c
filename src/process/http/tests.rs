//! The `http` process against real upstreams on loopback: a small hyper server per test
//! that records what it is sent and answers as the test scripts it.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use super::*;
use crate::definition::{
    DataActionDefinition, HttpProcessDefinition, ServiceDefinition, TypeDefinition,
};
use crate::oauth::OAuth;
use crate::process::data::{DataWork, Page};
use crate::process::{Builtins, Process, ProcessCall};
use crate::store::keystore::Keystore;

/// One request an upstream received.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    /// Path and query, as sent.
    target: String,
    headers: HeaderMap,
    body: Bytes,
}

type Answer = Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>>;
type Script = Arc<dyn Fn(usize, Seen) -> Answer + Send + Sync>;

/// A loopback HTTP/1.1 server answering by `script(n, request)` (n counts from 0).
struct Upstream {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    async fn start(script: impl Fn(usize, Seen) -> Answer + Send + Sync + 'static) -> Upstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let script: Script = Arc::new(script);
        let count = Arc::new(AtomicUsize::new(0));
        let recorded = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (script, count, recorded) = (
                    Arc::clone(&script),
                    Arc::clone(&count),
                    Arc::clone(&recorded),
                );
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let (script, count, recorded) = (
                            Arc::clone(&script),
                            Arc::clone(&count),
                            Arc::clone(&recorded),
                        );
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body.collect().await.unwrap().to_bytes();
                            let seen = Seen {
                                method: parts.method,
                                target: parts
                                    .uri
                                    .path_and_query()
                                    .map(|p| p.as_str().to_owned())
                                    .unwrap_or_default(),
                                headers: parts.headers,
                                body,
                            };
                            recorded.lock().unwrap().push(seen.clone());
                            let n = count.fetch_add(1, Ordering::SeqCst);
                            Ok::<_, std::convert::Infallible>(script(n, seen).await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        Upstream { addr, seen, task }
    }

    /// An upstream that answers every request the same.
    async fn answering(status: u16, body: &'static str) -> Upstream {
        Upstream::start(move |_, _| answer(status, body)).await
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn answer(status: u16, body: &str) -> Answer {
    let resp = Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    Box::pin(async move { resp })
}

/// Builtins over a fresh data folder, the OAuth store sealing with a fixed key.
fn builtins(dir: &tempfile::TempDir) -> Builtins {
    let stores = crate::store::Stores::open(dir.path(), crate::store::Durability::default());
    let registry = Arc::clone(&stores.registry);
    let mut b = Builtins::unopened(dir.path());
    b.store = Arc::new(crate::process::StoreProcess::new(stores));
    b.oauth = Arc::new(OAuth::new(
        registry,
        Arc::new(|| Ok(Keystore::from_key(&[7; 32]))),
    ));
    b
}

fn process(def: Value, builtins: &Builtins) -> HttpProcess {
    let def: HttpProcessDefinition = serde_json::from_value(def).unwrap();
    HttpProcess::new(&def, builtins).unwrap()
}

fn call(inputs: Value, properties: Value) -> ProcessCall {
    ProcessCall {
        service: Arc::from("Orders"),
        operation: "action",
        name: "Approve".into(),
        execution_id: "ex-1".into(),
        inputs: inputs.as_object().cloned().unwrap_or_default(),
        properties: properties.as_object().cloned().unwrap_or_default(),
        tracked: BTreeMap::new(),
        extra: serde_json::Map::new(),
    }
}

async fn fails(p: &HttpProcess, c: ProcessCall) -> (u16, String) {
    let e = p.run(c).await.unwrap_err();
    assert!(!e.is_log_only(), "{e}");
    (e.status().as_u16(), e.to_string())
}

#[tokio::test]
async fn the_issue_shape_sends_a_templated_request_and_maps_outputs() {
    let up = Upstream::answering(200, r#"{"status":"approved","approvedAt":"2025-01-02"}"#).await;
    let dir = tempfile::tempdir().unwrap();
    let p = process(
        json!({"method": "POST", "url": up.url("/orders/{Order Id}?region={Region}"),
               "headers": {"X-Tenant": "{tenantId}"},
               "body": {"json": {"id": "{Order Id}", "region": "{Region}", "n": 1}},
               "outputs": {"Status": "/status", "Approved At": "/approvedAt", "Gone": "/nope"},
               "timeoutMs": 10000, "retries": 2}),
        &builtins(&dir),
    );
    let reply = p
        .run(call(
            json!({"Order Id": "42/7?x=1#f"}),
            json!({"tenantId": "t-1", "Region": "EU \"west\""}),
        ))
        .await
        .unwrap();
    assert_eq!(
        reply.outputs_map().unwrap(),
        json!({"Status": "approved", "Approved At": "2025-01-02"})
            .as_object()
            .unwrap()
    );
    let seen = up.seen();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.method, Method::POST);
    assert_eq!(
        r.target,
        "/orders/42%2F7%3Fx%3D1%23f?region=EU%20%22west%22"
    );
    assert_eq!(r.headers["x-tenant"], "t-1");
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["accept"], "application/json");
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        body,
        json!({"id": "42/7?x=1#f", "region": "EU \"west\"", "n": 1})
    );
}

#[tokio::test]
async fn a_header_with_a_line_break_is_refused_before_anything_is_sent() {
    let up = Upstream::answering(200, "{}").await;
    let dir = tempfile::tempdir().unwrap();
    let p = process(
        json!({"url": up.url("/x"), "headers": {"X-Tenant": "{tenantId}"}}),
        &builtins(&dir),
    );
    let e = p
        .run(call(json!({}), json!({"tenantId": "t\r\nX-Evil: 1"})))
        .await
        .unwrap_err();
    assert_eq!(e.status(), 400);
    let m = e.to_string();
    assert!(m.contains("'X-Tenant'") && !m.contains("Evil"), "{m}");
    assert!(up.seen().is_empty());
}

#[tokio::test]
async fn an_error_status_is_502_quoting_the_answer_without_secrets() {
    let up = Upstream::answering(500, "boom\nkey s3cr3t-key was wrong").await;
    let dir = tempfile::tempdir().unwrap();
    let p = process(
        json!({"url": up.url("/orders/{Id}"),
               "auth": {"apiKey": {"header": "X-Api-Key", "value": "{Api Key}"}}}),
        &builtins(&dir),
    );
    let (status, m) = fails(
        &p,
        call(
            json!({"Id": "private-id"}),
            json!({"Api Key": "s3cr3t-key"}),
        ),
    )
    .await;
    assert_eq!(status, 502);
    assert_eq!(
        m,
        format!(
            "{} answered 500: boom key <redacted> was wrong",
            up.origin()
        )
    );
    assert_eq!(up.seen()[0].headers["x-api-key"], "s3cr3t-key");
    // The body quoted is bounded.
    let long: &'static str = Box::leak("x".repeat(5000).into_boxed_str());
    let up = Upstream::answering(503, long).await;
    let p = process(json!({"url": up.url("/")}), &builtins(&dir));
    let (status, m) = fails(&p, call(json!({}), json!({}))).await;
    assert_eq!(status, 502);
    assert!(m.contains("answered 503: ") && m.len() < 600, "{m}");
}

#[tokio::test]
async fn no_answer_in_time_is_504_and_a_large_answer_502() {
    let up = Upstream::start(|_, _| Box::pin(std::future::pending())).await;
    let dir = tempfile::tempdir().unwrap();
    let b = builtins(&dir);
    let p = process(json!({"url": up.url("/slow"), "timeoutMs": 100}), &b);
    let (status, m) = fails(&p, call(json!({}), json!({}))).await;
    assert_eq!(status, 504);
    assert_eq!(m, format!("{} did not answer within 100 ms", up.origin()));

    let big: &'static str = Box::leak(format!("\"{}\"", "y".repeat(2000)).into_boxed_str());
    let up = Upstream::answering(200, big).await;
    let p = process(
        json!({"url": up.url("/big"), "maxAnswerBytes": 1024, "retries": 3}),
        &b,
    );
    let (status, m) = fails(&p, call(json!({}), json!({}))).await;
    assert_eq!(status, 502);
    assert!(m.contains("larger than 1024 bytes"), "{m}");
    // Too large is not retried: the upstream would answer the same.
    assert_eq!(up.seen().len(), 1);
}

#[tokio::test]
async fn an_unreachable_upstream_is_502() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    let p = process(
        json!({"url": format!("http://{addr}/x/{{Id}}")}),
        &builtins(&dir),
    );
    let (status, m) = fails(&p, call(json!({"Id": "secret-path"}), json!({}))).await;
    assert_eq!(status, 502);
    assert!(
        m.starts_with(&format!("could not reach http://{addr}")) && !m.contains("secret-path"),
        "{m}"
    );
}

#[tokio::test]
async fn answers_that_are_not_json_fail_only_when_outputs_are_mapped() {
    let up = Upstream::answering(200, "<html>ok</html>").await;
    let dir = tempfile::tempdir().unwrap();
    let b = builtins(&dir);
    let p = process(json!({"url": up.url("/")}), &b);
    assert_eq!(
        p.run(call(json!({}), json!({}))).await.unwrap(),
        Reply::default()
    );
    let p = process(json!({"url": up.url("/"), "outputs": {"A": "/a"}}), &b);
    let (status, m) = fails(&p, call(json!({}), json!({}))).await;
    assert_eq!(status, 502);
    assert!(m.contains("not JSON"), "{m}");
    // An empty answer maps nothing.
    let up = Upstream::answering(200, "").await;
    let p = process(json!({"url": up.url("/"), "outputs": {"A": "/a"}}), &b);
    let reply = p.run(call(json!({}), json!({}))).await.unwrap();
    assert!(reply.outputs_map().unwrap().is_empty());
}

#[tokio::test]
async fn idempotent_requests_are_retried_and_others_are_not() {
    let up = Upstream::start(|n, _| {
        if n < 2 {
            answer(503, "busy")
        } else {
            answer(200, r#"{"ok":true}"#)
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let b = builtins(&dir);
    let p = process(
        json!({"url": up.url("/"), "retries": 2, "outputs": {"Ok": "/ok"}}),
        &b,
    );
    let reply = p.run(call(json!({}), json!({}))).await.unwrap();
    assert_eq!(reply.outputs_map().unwrap()["Ok"], true);
    assert_eq!(up.seen().len(), 3);

    let up = Upstream::answering(503, "busy").await;
    let p = process(
        json!({"method": "POST", "url": up.url("/"), "retries": 2,
               "body": {"text": "x"}}),
        &b,
    );
    let (status, m) = fails(&p, call(json!({}), json!({}))).await;
    assert_eq!((status, up.seen().len()), (502, 1), "{m}");
    assert!(m.contains("answered 503"), "{m}");

    // A Retry-After longer than fss waits ends the retries.
    let up = Upstream::start(|_, _| {
        let resp = Response::builder()
            .status(429)
            .header("retry-after", "60")
            .body(Full::new(Bytes::new()))
            .unwrap();
        Box::pin(async move { resp })
    })
    .await;
    let p = process(json!({"url": up.url("/"), "retries": 3}), &b);
    let (status, m) = fails(&p, call(json!({}), json!({}))).await;
    assert_eq!((status, up.seen().len()), (502, 1), "{m}");
}

#[test]
fn backoff_doubles_with_jitter_and_is_capped() {
    for attempt in 0..20 {
        let full = Duration::from_millis(100 * (1u64 << attempt.min(16))).min(MAX_BACKOFF);
        let d = backoff(attempt);
        assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
    }
    let mut h = HeaderMap::new();
    h.insert(RETRY_AFTER, HeaderValue::from_static(" 3 "));
    assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
    h.insert(
        RETRY_AFTER,
        HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
    );
    assert_eq!(retry_after(&h), None);
}

/// A token endpoint and an API behind it: the API accepts only the current token.
struct OAuthPair {
    token: Upstream,
    api: Upstream,
    /// How many tokens were handed out.
    issued: Arc<AtomicUsize>,
}

async fn oauth_pair(expires_in: Option<u64>) -> OAuthPair {
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&issued);
    let token = Upstream::start(move |_, _| {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        let mut doc = json!({"access_token": format!("tok-{n}"), "token_type": "Bearer"});
        if let Some(e) = expires_in {
            doc["expires_in"] = json!(e);
        }
        let body: &'static str = Box::leak(doc.to_string().into_boxed_str());
        answer(200, body)
    })
    .await;
    let current = Arc::clone(&issued);
    let api = Upstream::start(move |_, seen| {
        let want = format!("Bearer tok-{}", current.load(Ordering::SeqCst));
        if seen
            .headers
            .get("authorization")
            .is_some_and(|v| *v == *want)
        {
            answer(200, r#"{"who":"erp"}"#)
        } else {
            answer(401, r#"{"error":"invalid_token"}"#)
        }
    })
    .await;
    OAuthPair { token, api, issued }
}

fn oauth_process(pair: &OAuthPair, extra: Value, b: &Builtins) -> HttpProcess {
    let mut oauth = json!({"connector": "erp", "provider": "ERP",
                           "grant": "client_credentials",
                           "tokenUrl": pair.token.url("/oauth/token"), "scope": "orders"});
    for (k, v) in extra.as_object().unwrap() {
        oauth[k] = v.clone();
    }
    process(
        json!({"url": pair.api.url("/who"), "auth": {"oauth": oauth},
               "outputs": {"Who": "/who"}}),
        b,
    )
}

async fn load_provider(b: &Builtins, doc: Value) {
    let oauth = Arc::clone(&b.oauth);
    tokio::task::spawn_blocking(move || oauth.load(&doc))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_provider_not_loaded_is_503_until_it_is() {
    let pair = oauth_pair(Some(3600)).await;
    let dir = tempfile::tempdir().unwrap();
    let b = builtins(&dir);
    let p = oauth_process(&pair, json!({}), &b);
    let (status, m) = fails(&p, call(json!({}), json!({}))).await;
    assert_eq!(status, 503);
    assert!(m.contains("OAuth provider erp/ERP is not loaded"), "{m}");
    assert!(pair.token.seen().is_empty());
    load_provider(
        &b,
        json!({"erp": {"ERP": {"CLIENT_ID": "id", "CLIENT_SECRET": "sec"}}}),
    )
    .await;
    let reply = p.run(call(json!({}), json!({}))).await.unwrap();
    assert_eq!(reply.outputs_map().unwrap()["Who"], "erp");
}

#[tokio::test]
async fn one_token_serves_every_call_while_fresh() {
    let pair = oauth_pair(Some(3600)).await;
    let dir = tempfile::tempdir().unwrap();
    let b = builtins(&dir);
    load_provider(
        &b,
        json!({"erp": {"ERP": {"CLIENT_ID": "my id:1", "CLIENT_SECRET": "s&cret é"}}}),
    )
    .await;
    let p = Arc::new(oauth_process(&pair, json!({}), &b));
    // Concurrent first calls wait for one token request.
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let p = Arc::clone(&p);
            tokio::spawn(async move { p.run(call(json!({}), json!({}))).await })
        })
        .collect();
    for c in calls {
        c.await.unwrap().unwrap();
    }
    for _ in 0..3 {
        p.run(call(json!({}), json!({}))).await.unwrap();
    }
    let tokens = pair.token.seen();
    assert_eq!(tokens.len(), 1);
    assert_eq!(pair.api.seen().len(), 8);
    let t = &tokens[0];
    assert_eq!(t.method, Method::POST);
    assert_eq!(t.target, "/oauth/token");
    assert_eq!(
        t.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(t.body, "grant_type=client_credentials&scope=orders");
    // RFC 6749 §2.3.1: form-urlencoded id and secret, then Basic.
    let basic = base64::engine::general_purpose::STANDARD.encode("my+id%3A1:s%26cret+%C3%A9");
    assert_eq!(
        t.headers["authorization"],
        format!("Basic {basic}").as_str()
    );
}

#[tokio::test]
async fn a_refused_token_is_replaced_once() {
    let pair = oauth_pair(None).await;
    let dir = tempfile::tempdir().unwrap();
    let b = builtins(&dir);
    load_provider(
        &b,
        json!({"erp": {"ERP": {"CLIENT_ID": "id", "CLIENT_SECRET": "sec"}}}),
    )
    .await;
    let p = oauth_process(&pair, json!({}), &b);
    p.run(call(json!({}), json!({}))).await.unwrap();
    assert_eq!(pair.token.seen().len(), 1);
    // The API revokes tok-1: the next token request hands out tok-2, which it accepts.
    pair.issued.fetch_add(1, Ordering::SeqCst);
    let reply = p.run(call(json!({}), json!({}))).await.unwrap();
    assert_eq!(reply.outputs_map().unwrap()["Who"], "erp");
    assert_eq!(pair.token.seen().len(), 2);
    let api = pair.api.seen();
    assert_eq!(api.len(), 3);
    assert_eq!(api[1].headers["authorization"], "Bearer tok-1");
    assert_eq!(api[2].headers["authorization"], "Bearer tok-3");
}

#[tokio::test]
async fn form_client_auth_sends_the_credentials_and_token_parameters_in_the_body() {
    let pair = oauth_pair(Some(10)).await;
    let dir = tempfile::tempdir().unwrap();
    let b = builtins(&dir);
    load_provider(
        &b,
        json!({"erp": {"ERP": {"CLIENT_ID": "id", "CLIENT_SECRET": "sec",
                               "audience": "https://api.example/"}}}),
    )
    .await;
    let p = oauth_process(
        &pair,
        json!({"clientAuth": "form", "tokenParameters": ["audience"]}),
        &b,
    );
    p.run(call(json!({}), json!({}))).await.unwrap();
    let t = &pair.token.seen()[0];
    assert!(t.headers.get("authorization").is_none());
    assert_eq!(
        t.body,
        "grant_type=client_credentials&scope=orders\
         &audience=https%3A%2F%2Fapi.example%2F&client_id=id&client_secret=sec"
    );
    // A parameter the provider lacks is the provider's problem: 503 naming it.
    let p = oauth_process(&pair, json!({"tokenParameters": ["resource"]}), &b);
    let (status, m) = fails(&p, call(json!({}), json!({}))).await;
    assert_eq!(status, 503);
    assert!(m.contains("'resource'"), "{m}");
}

#[tokio::test]
async fn a_failing_token_endpoint_is_502_without_the_secret() {
    let token = Upstream::answering(401, r#"{"error":"invalid_client","secret":"sec-123"}"#).await;
    let api = Upstream::answering(200, "{}").await;
    let dir = tempfile::tempdir().unwrap();
    let b = builtins(&dir);
    load_provider(
        &b,
        json!({"erp": {"ERP": {"CLIENT_ID": "id", "CLIENT_SECRET": "sec-123"}}}),
    )
    .await;
    let pair = OAuthPair {
        token,
        api,
        issued: Arc::default(),
    };
    let p = oauth_process(&pair, json!({}), &b);
    let (status, m) = fails(&p, call(json!({}), json!({}))).await;
    assert_eq!(status, 502);
    assert!(
        m.starts_with(&format!(
            "the token endpoint {} answered 401",
            pair.token.origin()
        )) && m.contains("invalid_client")
            && !m.contains("sec-123"),
        "{m}"
    );
    assert!(pair.api.seen().is_empty());
}

#[tokio::test]
async fn bearer_and_basic_fill_the_authorization_header() {
    let up = Upstream::answering(204, "").await;
    let dir = tempfile::tempdir().unwrap();
    let b = builtins(&dir);
    let p = process(
        json!({"method": "DELETE", "url": up.url("/"), "auth": {"bearer": "{Api Token}"}}),
        &b,
    );
    p.run(call(json!({}), json!({"Api Token": "t0k"})))
        .await
        .unwrap();
    let p = process(
        json!({"method": "PUT", "url": up.url("/"),
               "auth": {"basic": {"username": "{user}", "password": "{Password}"}},
               "body": {"form": {"a b": "{V}", "c": "x"}}}),
        &b,
    );
    p.run(call(
        json!({"V": "1&2"}),
        json!({"user": "ann", "Password": "pw:1"}),
    ))
    .await
    .unwrap();
    let seen = up.seen();
    assert_eq!(seen[0].headers["authorization"], "Bearer t0k");
    let basic = base64::engine::general_purpose::STANDARD.encode("ann:pw:1");
    assert_eq!(
        seen[1].headers["authorization"],
        format!("Basic {basic}").as_str()
    );
    assert_eq!(
        seen[1].headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(seen[1].body, "a+b=1%262&c=x");
}

#[tokio::test]
async fn a_table_load_answers_objects_as_a_command_would() {
    let up = Upstream::answering(
        200,
        r#"{"data":{"items":[{"id":"7","name":{"first":"Ann"},"n":3},{"id":"8"}]},"more":true}"#,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let b = builtins(&dir);
    let service: ServiceDefinition = serde_json::from_value(json!({
        "name": "Crm",
        "types": [{"name": "Person", "properties": [
            {"name": "Id"}, {"name": "Name"}, {"name": "N", "type": "Number"}]}],
    }))
    .unwrap();
    let action: DataActionDefinition = serde_json::from_value(json!({
        "objectType": "Person", "key": "Id", "load": {"builtin": "store"}
    }))
    .unwrap();
    let ty: &TypeDefinition = &service.types[0];
    let p = Process::Http(Arc::new(process(
        json!({"url": up.url("/people?q={search}&limit={limit}"),
               "objects": {"pointer": "/data/items", "hasMoreResults": "/more",
                           "properties": {"Id": "/id", "Name": "/name/first", "N": "/n"}}}),
        &b,
    )));
    let filter: crate::protocol::ListFilter =
        serde_json::from_value(json!({"search": "a b", "limit": 20})).unwrap();
    let work = DataWork {
        service: "Crm",
        definition: &service,
        action: &action,
        ty,
        filter: Some(&filter),
        objects: &[],
    };
    let page = p
        .load(work, || {
            let mut c = call(json!({}), json!({}));
            c.operation = "load";
            Ok(c)
        })
        .await
        .unwrap();
    let Page::Objects(objects, more) = page else {
        panic!("a process answers objects");
    };
    assert!(more);
    assert_eq!(objects.len(), 2);
    assert_eq!(objects[0].external_id.as_deref(), Some("7"));
    assert_eq!(objects[1].external_id.as_deref(), Some("8"));
    let name = objects[0].property("Name").unwrap();
    assert_eq!(name.content_value.as_deref(), Some("Ann"));
    assert_eq!(
        objects[0].property("N").unwrap().content_value.as_deref(),
        Some("3")
    );
    assert_eq!(up.seen()[0].target, "/people?q=a%20b&limit=20");

    // An answer with something else than an array there is the upstream's fault.
    let up = Upstream::answering(200, r#"{"data":{"items":{"id":"7"}}}"#).await;
    let p = process(
        json!({"url": up.url("/"),
               "objects": {"pointer": "/data/items", "properties": {"Id": "/id"}}}),
        &b,
    );
    let (status, m) = fails(&p, call(json!({}), json!({}))).await;
    assert_eq!(status, 502);
    assert!(m.contains("no array at '/data/items'"), "{m}");
}

#[test]
fn snippets_replace_control_characters_and_stay_short() {
    let mut secrets = Secrets::default();
    secrets.add("id".into());
    secrets.add("s3cr3t".into());
    assert_eq!(
        snippet(b"invalid id, s3cr3t!s3cr3t,xs3cr3t", &secrets),
        ": invalid <redacted>, <redacted>!<redacted>,xs3cr3t"
    );
    let s = Secrets::default();
    assert_eq!(snippet(b"", &s), "");
    assert_eq!(snippet(b"a\r\nb\0c", &s), ": a  b c");
    let long = vec![b'z'; 2000];
    assert_eq!(snippet(&long, &s).len(), 2 + QUOTED_ANSWER_BYTES);
    // A cut through a character does not panic.
    let mut utf8 = vec![b'a'];
    utf8.extend("é".repeat(600).as_bytes());
    assert!(snippet(&utf8, &s).starts_with(": aé"));
    assert_eq!(
        origin_of(&"https://erp.example/a?b".parse().unwrap()),
        "https://erp.example:443"
    );
    assert_eq!(
        origin_of(&"http://[::1]:81/".parse().unwrap()),
        "http://[::1]:81"
    );
    let _ = StatusCode::OK;
}
