//! The outbound `http` process against a real upstream: an HTTPS server made here (its
//! CA and certificate by rcgen at test time, trusted by fss through `outbound.ca_file`)
//! with an OAuth token endpoint that checks client credentials and counts its requests,
//! and an API that wants the bearer it issued and records every request it gets. fss runs
//! in-process on loopback; OAuth providers are loaded through the admin API. Each test has
//! its own upstream, its own fss and its own folders.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use fss::server::ServerConfig;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::crypto::ring;
use rustls::ServerConfig as TlsServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};
use support::pki::{TestCa, LOOPBACK};
use support::{admin_config, basic, post_json, request, Answer, TestServer};
use tokio_rustls::TlsAcceptor;

const ADMIN: &str = "http-admin";
const ADMIN_PASSWORD: &str = "http-admin-pw";
/// The client credentials the upstream's token endpoint accepts. The secret holds
/// characters that HTTP Basic client authentication must form-encode (RFC 6749 2.3.1).
const CLIENT_ID: &str = "fss-client-7Q2x";
const CLIENT_SECRET: &str = "s3cret:K9+v/w==";
const TENANT: &str = "0b3b9e57-2d7a-4c55-9e6c-1f4f4c1b8a01";
const STATE: &str = "7e3d9b1a-2c4f-4a6e-8b0d-1f5c3e7a9d62";
/// The longest any single call of a test may take before the test fails.
const CALL_BOUND: Duration = Duration::from_secs(20);

// === certificates ===

/// A private CA (its PEM in `ca_file`) and a server certificate it signed for
/// `127.0.0.1` and `localhost`.
struct Pki {
    ca_file: PathBuf,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

fn pki(dir: &Path) -> Pki {
    let ca = TestCa::new(dir, "fss http-process test CA");
    let (cert, key) = ca.sign(&LOOPBACK);
    Pki {
        ca_file: ca.ca_file,
        cert,
        key,
    }
}

// === the upstream ===

/// One request the API got, as it arrived.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    /// The request target: path and query, exactly as sent (still percent-encoded).
    target: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "upstream body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// One request the token endpoint got.
#[derive(Debug, Clone)]
struct TokenRequest {
    content_type: Option<String>,
    /// Whether the client authenticated with HTTP Basic (else with form fields).
    basic: bool,
    form: BTreeMap<String, String>,
}

/// What the API does with its next requests; set by the tests.
#[derive(Debug, Default)]
struct Switches {
    /// Answer the next request that needs a bearer 401 and forget every issued token.
    refuse_once: AtomicBool,
    /// Answer 500 `{"error":"exploded"}`.
    fail: AtomicBool,
    /// Answer 503 this many more times.
    unavailable: AtomicUsize,
    /// Sleep this long before answering, in ms.
    delay_ms: AtomicU64,
    /// Answer a 64 KiB JSON body.
    oversize: AtomicBool,
    /// Answer HTML.
    not_json: AtomicBool,
}

/// An HTTPS server with a token endpoint (`POST /oauth/token`) and an API. Paths under
/// `/open/` need no bearer; every other API path needs one the token endpoint issued.
#[derive(Debug)]
struct Upstream {
    /// `https://127.0.0.1:PORT`.
    base: String,
    token_requests: AtomicUsize,
    token_seen: Mutex<Vec<TokenRequest>>,
    /// Every access token issued, in order.
    issued: Mutex<Vec<String>>,
    /// The access tokens the API accepts now.
    valid: Mutex<HashSet<String>>,
    seen: Mutex<Vec<Seen>>,
    sw: Switches,
}

impl Upstream {
    fn tokens(&self) -> usize {
        self.token_requests.load(Ordering::SeqCst)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn issued(&self) -> Vec<String> {
        self.issued.lock().unwrap().clone()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

async fn upstream(pki: &Pki) -> Arc<Upstream> {
    let mut config = TlsServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![pki.cert.clone()], pki.key.clone_key())
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let up = Arc::new(Upstream {
        base: format!("https://127.0.0.1:{}", addr.port()),
        token_requests: AtomicUsize::new(0),
        token_seen: Mutex::default(),
        issued: Mutex::default(),
        valid: Mutex::default(),
        seen: Mutex::default(),
        sw: Switches::default(),
    });
    let state = Arc::clone(&up);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, up) = (acceptor.clone(), Arc::clone(&state));
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = service_fn(move |req: Request<Incoming>| {
                    let up = Arc::clone(&up);
                    async move { Ok::<_, std::convert::Infallible>(handle(&up, req).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    up
}

fn answer(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .unwrap()
}

fn json_answer(status: u16, v: &Value) -> Response<Full<Bytes>> {
    answer(status, "application/json", serde_json::to_vec(v).unwrap())
}

async fn handle(up: &Upstream, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if parts.uri.path() == "/oauth/token" {
        return token(up, &parts.method, &parts.headers, &body);
    }
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    up.seen.lock().unwrap().push(Seen {
        method: parts.method.clone(),
        target: target.clone(),
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    if !parts.uri.path().starts_with("/open/") {
        if up.sw.refuse_once.swap(false, Ordering::SeqCst) {
            up.valid.lock().unwrap().clear();
            return json_answer(401, &json!({"error": "invalid_token"}));
        }
        let bearer = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let known = bearer.is_some_and(|b| up.valid.lock().unwrap().contains(b));
        if !known {
            return json_answer(401, &json!({"error": "invalid_token"}));
        }
    }
    let delay = up.sw.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let busy = up
        .sw
        .unavailable
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if busy {
        return answer(503, "text/plain", "busy, try later");
    }
    if up.sw.fail.load(Ordering::SeqCst) {
        return answer(500, "application/json", r#"{"error":"exploded"}"#);
    }
    if up.sw.oversize.load(Ordering::SeqCst) {
        return json_answer(200, &json!({"status": "big", "pad": "x".repeat(64 * 1024)}));
    }
    if up.sw.not_json.load(Ordering::SeqCst) {
        return answer(200, "text/html", "<html><body>maintenance</body></html>");
    }
    let received: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    json_answer(
        200,
        &json!({
            "status": "approved",
            "approvedAt": "2026-03-01T10:00:00Z",
            "method": parts.method.as_str(),
            "received": received,
            "items": [{"name": "Apple", "price": 1.5}, {"name": "Banana", "price": 0.25}],
            "more": true,
        }),
    )
}

/// `application/x-www-form-urlencoded` decoding of one name or value.
fn form_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn parse_form(body: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

/// The token endpoint: client credentials by HTTP Basic (each part form-encoded, then
/// base64) or form fields; `grant_type=client_credentials`; issues a fresh token.
fn token(
    up: &Upstream,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Response<Full<Bytes>> {
    up.token_requests.fetch_add(1, Ordering::SeqCst);
    let form = parse_form(body);
    let from_basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .and_then(|raw| {
            let text = String::from_utf8(raw).ok()?;
            let (id, secret) = text.split_once(':')?;
            Some((form_decode(id), form_decode(secret)))
        });
    let basic = from_basic.is_some();
    let (id, secret) = from_basic.unwrap_or_else(|| {
        (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        )
    });
    up.token_seen.lock().unwrap().push(TokenRequest {
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        basic,
        form: form.clone(),
    });
    if method != Method::POST {
        return json_answer(405, &json!({"error": "invalid_request"}));
    }
    if id != CLIENT_ID || secret != CLIENT_SECRET {
        return json_answer(401, &json!({"error": "invalid_client"}));
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return json_answer(400, &json!({"error": "unsupported_grant_type"}));
    }
    let issued = format!("at-{}", uuid::Uuid::new_v4().simple());
    up.valid.lock().unwrap().insert(issued.clone());
    up.issued.lock().unwrap().push(issued.clone());
    json_answer(
        200,
        &json!({"access_token": issued, "token_type": "Bearer", "expires_in": 3600}),
    )
}

// === a callback receiver (plain HTTP, like the engine's) ===

async fn callback_receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = Arc::clone(&got);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let seen = Arc::clone(&seen);
                    async move {
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        seen.lock()
                            .unwrap()
                            .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                        Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                            Bytes::from_static(b"\"SUCCESS\""),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    (format!("http://{addr}/api/run/1/response"), got)
}

// === fss ===

/// The service `Erp` with the given message actions (and extra top-level fields).
fn service(actions: Value, extra: Value) -> Value {
    let mut s = json!({
        "name": "Erp",
        "description": "http process tests",
        "configurationValues": [
            {"name": "Region", "type": "String"},
            {"name": "Api Token", "type": "Password"},
            {"name": "Pw", "type": "Password"},
            {"name": "Api Key", "type": "Password"}
        ],
        "messageActions": actions
    });
    if let Value::Object(extra) = extra {
        s.as_object_mut().unwrap().extend(extra);
    }
    s
}

/// A message action with String inputs and the `http` process `http`.
fn action(name: &str, inputs: &[&str], outputs: &[(&str, &str)], http: Value) -> Value {
    let inputs: Vec<Value> = inputs
        .iter()
        .map(|n| json!({"name": n, "type": "String"}))
        .collect();
    let outputs: Vec<Value> = outputs
        .iter()
        .map(|(n, t)| json!({"name": n, "type": t}))
        .collect();
    json!({"name": name, "inputs": inputs, "outputs": outputs, "process": {"http": http}})
}

/// OAuth client credentials of provider `erp`/`provider` at the upstream's endpoint.
fn oauth(up: &Upstream, provider: &str) -> Value {
    json!({"oauth": {"connector": "erp", "provider": provider, "grant": "client_credentials",
                     "tokenUrl": up.url("/oauth/token"), "scope": "orders"}})
}

/// The action of the definition format's example: POST an order, OAuth, outputs by pointer.
fn approve(up: &Upstream) -> Value {
    action(
        "Approve Order",
        &["Order Id"],
        &[
            ("Status", "String"),
            ("Approved At", "DateTime"),
            ("Echo Id", "String"),
        ],
        json!({
            "method": "POST", "url": up.url("/orders/{Order Id}"),
            "headers": {"X-Tenant": "{tenantId}"},
            "body": {"json": {"id": "{Order Id}", "region": "{Region}"}},
            "auth": oauth(up, "ERP"),
            "outputs": {"Status": "/status", "Approved At": "/approvedAt",
                        "Echo Id": "/received/id"},
            "timeoutMs": 10000, "retries": 2
        }),
    )
}

/// An unauthenticated GET of `/open/{path}` answering `Status`, with `extra` fields.
fn open_get(name: &str, path: &str, extra: Value) -> Value {
    let mut http = json!({"method": "GET", "url": up_placeholder(path),
                          "outputs": {"Status": "/status"}});
    if let Value::Object(extra) = extra {
        http.as_object_mut().unwrap().extend(extra);
    }
    action(name, &[], &[("Status", "String")], http)
}

/// The URL placeholder of `open_get`, filled in by [`with_base`].
fn up_placeholder(path: &str) -> String {
    format!("BASE/open/{path}")
}

/// Replaces the `BASE` prefix of every `url` of `service` with the upstream's base.
fn with_base(mut v: Value, base: &str) -> Value {
    match &mut v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "url" {
                    if let Some(s) = x.as_str().and_then(|s| s.strip_prefix("BASE")) {
                        *x = Value::String(format!("{base}{s}"));
                    }
                } else {
                    *x = with_base(x.take(), base);
                }
            }
        }
        Value::Array(a) => {
            for x in a.iter_mut() {
                *x = with_base(x.take(), base);
            }
        }
        _ => {}
    }
    v
}

/// fss serving `definition` (written to `dir/ops`), trusting the upstream's CA, its
/// admin API enabled.
async fn fss(pki: &Pki, dir: &Path, definition: &Value) -> TestServer {
    fss_with(pki, dir, definition, |_| {}).await
}

async fn fss_with(
    pki: &Pki,
    dir: &Path,
    definition: &Value,
    configure: impl FnOnce(&mut fss::RuntimeConfig),
) -> TestServer {
    let ops = dir.join("ops");
    std::fs::create_dir_all(&ops).unwrap();
    std::fs::write(
        ops.join("Erp.json"),
        serde_json::to_vec_pretty(definition).unwrap(),
    )
    .unwrap();
    let ca_file = pki.ca_file.clone();
    let s = TestServer::start_config(
        &ops,
        move |c| {
            c.outbound.ca_file = Some(ca_file);
            configure(c);
        },
        |_| {},
        ServerConfig::default(),
    )
    .await;
    s.enable_admin(admin_config(ADMIN, ADMIN_PASSWORD))
        .await
        .expect("admin API enables");
    s
}

fn providers(secret: &str) -> Value {
    json!({"erp": {"ERP": {"CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": secret}}})
}

async fn admin(s: &TestServer, method: Method, path: &str, body: Option<&Value>) -> Answer {
    let auth = basic(ADMIN, ADMIN_PASSWORD);
    let mut headers = vec![("authorization", auth.as_str())];
    let bytes = match body {
        Some(b) => {
            headers.push(("content-type", "application/json"));
            serde_json::to_vec(b).unwrap()
        }
        None => Vec::new(),
    };
    bounded(request(method, &s.url(path), &headers, bytes)).await
}

/// Loads OAuth providers through `POST /api/oauth/configurations`, asserting success.
async fn load_providers(s: &TestServer, doc: &Value) -> Answer {
    let a = admin(s, Method::POST, "/api/oauth/configurations", Some(doc)).await;
    assert_eq!(
        a.status,
        200,
        "loading OAuth providers: {}",
        String::from_utf8_lossy(&a.body)
    );
    let loaded = a.json()["providers"].as_array().map_or(0, |p| p.len());
    let given: usize = doc
        .as_object()
        .unwrap()
        .values()
        .map(|c| c.as_object().map_or(0, |p| p.len()))
        .sum();
    assert_eq!(loaded, given, "every provider reported: {}", a.json());
    a
}

/// A ServiceRequest with String `inputs` and `config` values `(name, contentType, value)`.
fn call_with(inputs: &[(&str, &str)], config: &[(&str, &str, &str)]) -> Value {
    let inputs: Vec<Value> = inputs
        .iter()
        .map(
            |(n, v)| json!({"developerName": n, "contentValue": v, "contentType": "ContentString"}),
        )
        .collect();
    let config: Vec<Value> = config
        .iter()
        .map(|(n, t, v)| json!({"developerName": n, "contentValue": v, "contentType": t}))
        .collect();
    json!({"token": "flow-token-1", "tenantId": TENANT, "stateId": STATE,
           "configurationValues": config, "inputs": inputs})
}

/// A ServiceRequest with String `inputs` and the configuration value Region = EU.
fn call(inputs: &[(&str, &str)]) -> Value {
    call_with(inputs, &[("Region", "ContentString", "EU")])
}

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(CALL_BOUND, f)
        .await
        .expect("fss answered within the bound")
}

/// Invokes action `slug` of `Erp`.
async fn invoke(s: &TestServer, slug: &str, body: &Value) -> Answer {
    bounded(post_json(&s.url(&format!("/fs/Erp/actions/{slug}")), body)).await
}

fn ok(a: &Answer) -> Value {
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    a.json()
}

/// The contentValue of output `name` of a ServiceResponse.
fn output<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["outputs"]
        .as_array()
        .unwrap_or_else(|| panic!("no outputs: {v}"))
        .iter()
        .find(|o| o["developerName"] == name)
        .map(|o| &o["contentValue"])
        .unwrap_or_else(|| panic!("no output '{name}' in {v}"))
}

/// A 5xx message names the other system by scheme, host and port only: no path.
fn no_path(msg: &str) {
    for path in ["/open/", "/orders/", "/oauth/token", "/stock", "/fail"] {
        assert!(
            !msg.contains(path),
            "the message shows the path {path}: {msg}"
        );
    }
}

/// Polls `cond` every 20 ms until it holds, failing after `within`.
async fn until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// === OAuth ===

#[tokio::test]
async fn client_credentials_token_is_fetched_once_and_reused_outputs_by_pointer() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let up = upstream(&pki).await;
    let s = fss(&pki, dir.path(), &service(json!([approve(&up)]), json!({}))).await;
    load_providers(&s, &providers(CLIENT_SECRET)).await;

    for i in 0..3 {
        let id = format!("42-{i}");
        let v = ok(&invoke(&s, "approve-order", &call(&[("Order Id", &id)])).await);
        assert_eq!(v["invokeType"], "FORWARD");
        assert_eq!(output(&v, "Status"), "approved");
        assert_eq!(output(&v, "Approved At"), "2026-03-01T10:00:00Z");
        assert_eq!(output(&v, "Echo Id"), id.as_str());
    }
    assert_eq!(up.tokens(), 1, "one token for three calls");
    let issued = up.issued();
    assert_eq!(issued.len(), 1);

    let t = up.token_seen.lock().unwrap()[0].clone();
    assert_eq!(t.form["grant_type"], "client_credentials");
    assert_eq!(t.form["scope"], "orders");
    assert!(
        t.content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")),
        "{t:?}"
    );
    assert!(
        t.basic || t.form.contains_key("client_id"),
        "client authenticated: {t:?}"
    );

    let seen = up.seen();
    assert_eq!(seen.len(), 3);
    for (i, r) in seen.iter().enumerate() {
        assert_eq!(r.method, Method::POST);
        assert_eq!(r.target, format!("/orders/42-{i}"));
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {}", issued[0]).as_str())
        );
        assert_eq!(r.header("x-tenant"), Some(TENANT));
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "{r:?}"
        );
        assert_eq!(r.json(), json!({"id": format!("42-{i}"), "region": "EU"}));
    }
    s.stop().await;
}

#[tokio::test]
async fn a_401_from_the_api_refreshes_the_token_once_and_the_call_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let up = upstream(&pki).await;
    let s = fss(&pki, dir.path(), &service(json!([approve(&up)]), json!({}))).await;
    load_providers(&s, &providers(CLIENT_SECRET)).await;

    ok(&invoke(&s, "approve-order", &call(&[("Order Id", "1")])).await);
    assert_eq!(up.tokens(), 1);
    up.sw.refuse_once.store(true, Ordering::SeqCst);
    let v = ok(&invoke(&s, "approve-order", &call(&[("Order Id", "2")])).await);
    assert_eq!(output(&v, "Status"), "approved");
    assert_eq!(output(&v, "Echo Id"), "2");
    assert_eq!(up.tokens(), 2, "exactly one more token request");

    let issued = up.issued();
    let seen = up.seen();
    assert_eq!(seen.len(), 3, "first call, the refused attempt, its retry");
    let bearer = |r: &Seen| r.header("authorization").map(str::to_owned);
    assert_eq!(bearer(&seen[1]), Some(format!("Bearer {}", issued[0])));
    assert_eq!(bearer(&seen[2]), Some(format!("Bearer {}", issued[1])));
    assert_eq!(seen[2].target, "/orders/2");

    // The fresh token is cached in turn.
    ok(&invoke(&s, "approve-order", &call(&[("Order Id", "3")])).await);
    assert_eq!(up.tokens(), 2);
    s.stop().await;
}

#[tokio::test]
async fn provider_not_loaded_is_503_until_loaded_through_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let up = upstream(&pki).await;
    let s = fss(&pki, dir.path(), &service(json!([approve(&up)]), json!({}))).await;

    let a = invoke(&s, "approve-order", &call(&[("Order Id", "7")])).await;
    let msg = a.problem(503);
    assert!(
        msg.contains("OAuth provider erp/ERP is not loaded"),
        "{msg}"
    );
    assert_eq!(up.tokens(), 0);
    assert!(up.seen().is_empty(), "nothing went upstream");

    load_providers(&s, &providers(CLIENT_SECRET)).await;
    let v = ok(&invoke(&s, "approve-order", &call(&[("Order Id", "7")])).await);
    assert_eq!(output(&v, "Status"), "approved");
    assert_eq!(up.tokens(), 1);
    assert_eq!(up.seen().len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn token_endpoint_refusing_the_client_is_502_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let up = upstream(&pki).await;
    let s = fss(&pki, dir.path(), &service(json!([approve(&up)]), json!({}))).await;
    load_providers(&s, &providers("not-the-secret")).await;

    let a = invoke(&s, "approve-order", &call(&[("Order Id", "8")])).await;
    let msg = a.problem(502);
    no_path(&msg);
    assert!(
        msg.contains("token endpoint") && msg.contains("401"),
        "{msg}"
    );
    assert!(!msg.contains("not-the-secret"), "{msg}");
    assert_eq!(up.tokens(), 1);
    assert!(up.seen().is_empty(), "the API was not called");
    s.stop().await;
}

#[tokio::test]
async fn dropped_tokens_are_fetched_again_and_a_provider_in_use_is_not_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let up = upstream(&pki).await;
    let s = fss(&pki, dir.path(), &service(json!([approve(&up)]), json!({}))).await;
    load_providers(&s, &providers(CLIENT_SECRET)).await;

    ok(&invoke(&s, "approve-order", &call(&[("Order Id", "1")])).await);
    assert_eq!(up.tokens(), 1);
    let a = admin(&s, Method::DELETE, "/api/oauth/tokens/erp/ERP", None).await;
    assert_eq!(a.status, 204, "{}", String::from_utf8_lossy(&a.body));
    ok(&invoke(&s, "approve-order", &call(&[("Order Id", "2")])).await);
    assert_eq!(up.tokens(), 2, "the dropped token is fetched again");
    let issued = up.issued();
    assert_eq!(
        up.seen()[1].header("authorization"),
        Some(format!("Bearer {}", issued[1]).as_str())
    );

    let a = admin(
        &s,
        Method::DELETE,
        "/api/oauth/configurations/erp/ERP",
        None,
    )
    .await;
    assert_eq!(a.status, 409, "{}", String::from_utf8_lossy(&a.body));
    let msg = a.json()["errorMessage"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(msg.contains("Erp"), "names the service using it: {msg}");
    ok(&invoke(&s, "approve-order", &call(&[("Order Id", "3")])).await);
    assert_eq!(up.tokens(), 2, "still loaded, token still cached");
    s.stop().await;
}

// === templating ===

#[tokio::test]
async fn hostile_inputs_stay_one_path_segment_and_one_json_string() {
    const HOSTILE: &str = "A/1?x=\"y\"\nz #%2F&q=1";
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let up = upstream(&pki).await;
    let s = fss(&pki, dir.path(), &service(json!([approve(&up)]), json!({}))).await;
    load_providers(&s, &providers(CLIENT_SECRET)).await;

    let v = ok(&invoke(&s, "approve-order", &call(&[("Order Id", HOSTILE)])).await);
    assert_eq!(output(&v, "Echo Id"), HOSTILE, "the output is intact");

    let seen = up.seen();
    assert_eq!(seen.len(), 1);
    let target = &seen[0].target;
    let segment = target
        .strip_prefix("/orders/")
        .unwrap_or_else(|| panic!("target {target}"));
    for c in ['/', '?', '#', '"', ' ', '\n', '&'] {
        assert!(!segment.contains(c), "{c:?} left raw in {target}");
    }
    assert_eq!(
        percent_encoding::percent_decode_str(segment)
            .decode_utf8()
            .unwrap(),
        HOSTILE,
        "the one segment decodes back to the input: {target}"
    );
    assert_eq!(seen[0].json()["id"], HOSTILE);
    assert_eq!(seen[0].json()["region"], "EU");
    s.stop().await;
}

#[tokio::test]
async fn header_value_with_a_line_break_is_400_naming_the_header_and_nothing_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let up = upstream(&pki).await;
    let note = action(
        "Note",
        &["Note"],
        &[("Status", "String")],
        json!({"method": "GET", "url": up.url("/open/note"),
               "headers": {"X-Note": "{Note}"}, "outputs": {"Status": "/status"}}),
    );
    let s = fss(&pki, dir.path(), &service(json!([note]), json!({}))).await;

    let a = invoke(&s, "note", &call(&[("Note", "a\r\nX-Evil: 1")])).await;
    let msg = a.problem(400);
    assert!(msg.to_ascii_lowercase().contains("x-note"), "{msg}");
    assert!(up.seen().is_empty(), "upstream saw nothing");

    // A harmless value goes through as it is.
    let v = ok(&invoke(&s, "note", &call(&[("Note", "a: b; c")])).await);
    assert_eq!(output(&v, "Status"), "approved");
    let seen = up.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("x-note"), Some("a: b; c"));
    assert!(seen[0].header("x-evil").is_none());
    s.stop().await;
}

// === upstream failures ===

#[tokio::test]
async fn upstream_500_is_502_with_its_status_and_body() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let up = upstream(&pki).await;
    let def = with_base(
        service(json!([open_get("Stock", "stock", json!({}))]), json!({})),
        &up.base,
    );
    let s = fss(&pki, dir.path(), &def).await;
    up.sw.fail.store(true, Ordering::SeqCst);

    let a = invoke(&s, "stock", &call(&[])).await;
    let msg = a.problem(502);
    no_path(&msg);
    assert!(
        msg.contains("answered 500") && msg.contains("exploded"),
        "{msg}"
    );
    assert_eq!(up.seen().len(), 1, "a 500 is not retried without retries");
    s.stop().await;
}

#[tokio::test]
async fn upstream_slower_than_timeout_ms_is_504() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let up = upstream(&pki).await;
    let def = with_base(
        service(
            json!([open_get("Stock", "stock", json!({"timeoutMs": 300}))]),
            json!({}),
        ),
        &up.base,
    );
    let s = fss(&pki, dir.path(), &def).await;
    up.sw.delay_ms.store(2000, Ordering::SeqCst);

    let started = Instant::now();
    let a = tokio::time::timeout(Duration::from_secs(5), invoke(&s, "stock", &call(&[])))
        .await
        .expect("fss answers well before the upstream would");
    let took = started.elapsed();
    let msg = a.problem(504);
    no_path(&msg);
    assert!(msg.contains("did not answer within"), "{msg}");
    assert!(
        took < Duration::from_millis(1800),
        "answered after {took:?}"
    );
    assert_eq!(up.seen().len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn answer_larger_than_max_answer_bytes_is_502() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let up = upstream(&pki).await;
    let def = with_base(
        service(
            json!([open_get("Stock", "stock", json!({"maxAnswerBytes": 1024}))]),
            json!({}),
        ),
        &up.base,
    );
    let s = fss(&pki, dir.path(), &def).await;
    up.sw.oversize.store(true, Ordering::SeqCst);

    let msg = invoke(&s, "stock", &call(&[])).await.problem(502);
    no_path(&msg);
    assert!(msg.contains("larger than 1024 bytes"), "{msg}");
    s.stop().await;
}

#[tokio::test]
async fn unreachable_upstream_is_502() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let def = with_base(
        service(json!([open_get("Stock", "stock", json!({}))]), json!({})),
        &format!("https://127.0.0.1:{port}"),
    );
    let s = fss(&pki, dir.path(), &def).await;

    let msg = invoke(&s, "stock", &call(&[])).await.problem(502);
    no_path(&msg);
    assert!(msg.contains("could not reach"), "{msg}");
    s.stop().await;
}

#[tokio::test]
async fn answer_that_is_not_json_while_outputs_are_declared_is_502() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let up = upstream(&pki).await;
    let def = with_base(
        service(json!([open_get("Stock", "stock", json!({}))]), json!({})),
        &up.base,
    );
    let s = fss(&pki, dir.path(), &def).await;
    up.sw.not_json.store(true, Ordering::SeqCst);

    let msg = invoke(&s, "stock", &call(&[])).await.problem(502);
    no_path(&msg);
    assert!(msg.contains("not JSON"), "{msg}");
    s.stop().await;
}

#[tokio::test]
async fn idempotent_requests_are_retried_and_posts_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let up = upstream(&pki).await;
    let post = action(
        "Place",
        &[],
        &[("Status", "String")],
        json!({"method": "POST", "url": "BASE/open/place", "body": {"json": {"n": 1}},
               "outputs": {"Status": "/status"}, "retries": 2}),
    );
    let def = with_base(
        service(
            json!([open_get("Stock", "stock", json!({"retries": 2})), post]),
            json!({}),
        ),
        &up.base,
    );
    let s = fss(&pki, dir.path(), &def).await;

    up.sw.unavailable.store(2, Ordering::SeqCst);
    let v = ok(&invoke(&s, "stock", &call(&[])).await);
    assert_eq!(output(&v, "Status"), "approved");
    let seen = up.seen();
    assert_eq!(seen.len(), 3, "two 503s, then the 200");
    assert!(seen
        .iter()
        .all(|r| r.method == Method::GET && r.target == "/open/stock"));

    up.sw.unavailable.store(100, Ordering::SeqCst);
    let msg = invoke(&s, "place", &call(&[])).await.problem(502);
    no_path(&msg);
    assert!(msg.contains("503"), "{msg}");
    let posts: Vec<Seen> = up
        .seen()
        .into_iter()
        .filter(|r| r.method == Method::POST)
        .collect();
    assert_eq!(
        posts.len(),
        1,
        "a POST is sent once without retryNonIdempotent"
    );
    assert_eq!(posts[0].json(), json!({"n": 1}));
    s.stop().await;
}

#[tokio::test]
async fn post_is_retried_with_retry_non_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let up = upstream(&pki).await;
    let post = action(
        "Place",
        &[],
        &[("Status", "String")],
        json!({"method": "POST", "url": "BASE/open/place", "body": {"json": {"n": 2}},
               "outputs": {"Status": "/status"}, "retries": 2, "retryNonIdempotent": true}),
    );
    let s = fss(
        &pki,
        dir.path(),
        &with_base(service(json!([post]), json!({})), &up.base),
    )
    .await;
    up.sw.unavailable.store(1, Ordering::SeqCst);
    let v = ok(&invoke(&s, "place", &call(&[])).await);
    assert_eq!(output(&v, "Status"), "approved");
    let seen = up.seen();
    assert_eq!(seen.len(), 2, "the 503, then the retried POST");
    assert!(seen.iter().all(|r| r.json() == json!({"n": 2})));
    s.stop().await;
}

// === other authentication ===

#[tokio::test]
async fn static_bearer_basic_and_api_key_are_sent_as_configured() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let up = upstream(&pki).await;
    let get = |name: &str, path: &str, auth: Value| {
        action(
            name,
            &[],
            &[("Status", "String")],
            json!({"method": "GET", "url": format!("BASE/open/{path}"), "auth": auth,
                   "outputs": {"Status": "/status"}}),
        )
    };
    let def = with_base(
        service(
            json!([
                get("With Bearer", "bearer", json!({"bearer": "{Api Token}"})),
                get(
                    "With Basic",
                    "basic",
                    json!({"basic": {"username": "svc-user", "password": "{Pw}"}})
                ),
                get(
                    "With Key",
                    "key",
                    json!({"apiKey": {"header": "X-Api-Key", "value": "{Api Key}"}})
                ),
            ]),
            json!({}),
        ),
        &up.base,
    );
    let s = fss(&pki, dir.path(), &def).await;
    let config = [
        ("Region", "ContentString", "EU"),
        ("Api Token", "ContentPassword", "static-tok-5d1"),
        ("Pw", "ContentPassword", "pw:with spaces"),
        ("Api Key", "ContentPassword", "key-77a0"),
    ];
    let body = call_with(&[], &config);
    let mut answers = Vec::new();
    for slug in ["with-bearer", "with-basic", "with-key"] {
        let a = invoke(&s, slug, &body).await;
        assert_eq!(output(&ok(&a), "Status"), "approved");
        answers.push(a);
    }
    let seen = up.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].target, "/open/bearer");
    assert_eq!(
        seen[0].header("authorization"),
        Some("Bearer static-tok-5d1")
    );
    assert_eq!(seen[1].target, "/open/basic");
    assert_eq!(
        seen[1].header("authorization"),
        Some(basic("svc-user", "pw:with spaces").as_str())
    );
    assert_eq!(seen[2].target, "/open/key");
    assert_eq!(seen[2].header("x-api-key"), Some("key-77a0"));
    assert!(seen[2].header("authorization").is_none());
    for a in &answers {
        assert_no_secret(
            "answer",
            &answer_text(a),
            &["static-tok-5d1", "pw:with spaces", "key-77a0"],
        );
    }
    s.stop().await;
}

// === table loads ===

#[tokio::test]
async fn table_load_builds_objects_from_the_array_at_the_pointer() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let up = upstream(&pki).await;
    let def = with_base(
        service(
            json!([]),
            json!({
                "types": [{"name": "Item", "properties": [
                    {"name": "Name", "type": "String"}, {"name": "Price", "type": "Number"}]}],
                "dataActions": [{"objectType": "Item", "key": "Name",
                    "load": {"http": {"method": "GET", "url": "BASE/open/items?q={search}",
                        "objects": {"pointer": "/items",
                                    "properties": {"Name": "/name", "Price": "/price"}}}}}]
            }),
        ),
        &up.base,
    );
    let s = fss(&pki, dir.path(), &def).await;
    let search = "red apple&x=1#top";
    let a = bounded(post_json(
        &s.url("/fs/Erp/data"),
        &json!({"objectDataType": {"developerName": "Item", "properties": []},
                "listFilter": {"search": search}}),
    ))
    .await;
    let v = ok(&a);
    let objects = v["objectData"].as_array().expect("objectData is a list");
    assert_eq!(objects.len(), 2, "{v}");
    let prop = |o: &Value, name: &str| -> Value {
        o["properties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["developerName"] == name)
            .map(|p| p["contentValue"].clone())
            .unwrap_or_else(|| panic!("no property {name} in {o}"))
    };
    assert_eq!(objects[0]["developerName"], "Item");
    assert_eq!(prop(&objects[0], "Name"), "Apple");
    assert_eq!(prop(&objects[0], "Price"), "1.5");
    assert_eq!(
        objects[0]["externalId"], "Apple",
        "the key names the object"
    );
    assert_eq!(prop(&objects[1], "Name"), "Banana");
    assert_eq!(prop(&objects[1], "Price"), "0.25");

    let seen = up.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, Method::GET);
    let query = seen[0]
        .target
        .strip_prefix("/open/items?q=")
        .unwrap_or_else(|| panic!("target {}", seen[0].target));
    for c in ['&', '#', ' ', '='] {
        assert!(!query.contains(c), "{c:?} left raw in {}", seen[0].target);
    }
    assert_eq!(form_decode(query), search);
    s.stop().await;
}

#[tokio::test]
async fn table_load_reads_has_more_results_by_pointer() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let up = upstream(&pki).await;
    let def = with_base(
        service(
            json!([]),
            json!({
                "types": [{"name": "Item", "properties": [{"name": "Name", "type": "String"}]}],
                "dataActions": [{"objectType": "Item", "key": "Name",
                    "load": {"http": {"url": "BASE/open/items?limit={limit}&offset={offset}",
                        "objects": {"pointer": "/items", "properties": {"Name": "/name"},
                                    "hasMoreResults": "/more"}}}}]
            }),
        ),
        &up.base,
    );
    let s = fss(&pki, dir.path(), &def).await;
    let a = bounded(post_json(
        &s.url("/fs/Erp/data"),
        &json!({"objectDataType": {"developerName": "Item", "properties": []},
                "listFilter": {"limit": 2, "offset": 4}}),
    ))
    .await;
    let v = ok(&a);
    assert_eq!(v["hasMoreResults"], true, "{v}");
    assert_eq!(v["objectData"].as_array().map(Vec::len), Some(2));
    assert_eq!(up.seen()[0].target, "/open/items?limit=2&offset=4");
    s.stop().await;
}

// === WAIT ===

#[tokio::test]
async fn slow_upstream_turns_into_wait_and_the_callback_carries_the_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let up = upstream(&pki).await;
    let mut slow = open_get("Slow Stock", "slow", json!({"timeoutMs": 10000}));
    slow["syncTimeoutSeconds"] = json!(1);
    slow["waitMessage"] = json!("Asking the ERP");
    let def = with_base(service(json!([slow]), json!({})), &up.base);
    let s = fss(&pki, dir.path(), &def).await;
    up.sw.delay_ms.store(2000, Ordering::SeqCst);
    let (callback, got) = callback_receiver().await;

    let mut body = call(&[]);
    body["callbackUri"] = json!(callback);
    let started = Instant::now();
    let a = invoke(&s, "slow-stock", &body).await;
    let v = ok(&a);
    assert_eq!(v["invokeType"], "WAIT", "{v}");
    assert_eq!(v["waitMessage"], "Asking the ERP");
    assert!(
        started.elapsed() < Duration::from_millis(1900),
        "WAIT came after {:?}",
        started.elapsed()
    );

    until("the callback", Duration::from_secs(10), || {
        !got.lock().unwrap().is_empty()
    })
    .await;
    let calls = got.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "one callback");
    assert_eq!(calls[0]["invokeType"], "FORWARD");
    assert_eq!(calls[0]["token"], "flow-token-1");
    assert_eq!(output(&calls[0], "Status"), "approved");
    assert_eq!(up.seen().len(), 1);
    s.stop().await;
}

// === secrets ===

/// Status line, headers and body of an answer as one text.
fn answer_text(a: &Answer) -> String {
    let mut t = format!("{}\n", a.status);
    for (k, v) in &a.headers {
        t.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
    }
    t.push_str(&String::from_utf8_lossy(&a.body));
    t
}

fn assert_no_secret(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "{what} carries the secret {secret:?}:\n{text}"
        );
    }
}

#[tokio::test]
async fn client_credentials_and_tokens_never_appear_in_answers_records_or_metrics() {
    const WRONG: &str = "wrong-secret-3f9c";
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let up = upstream(&pki).await;
    let wrong = action(
        "Wrong Client",
        &[],
        &[("Status", "String")],
        json!({"method": "GET", "url": up.url("/stock"), "auth": oauth(&up, "WRONG"),
               "outputs": {"Status": "/status"}}),
    );
    let failing = action(
        "Failing",
        &[],
        &[("Status", "String")],
        json!({"method": "GET", "url": up.url("/fail"), "auth": oauth(&up, "ERP"),
               "outputs": {"Status": "/status"}, "timeoutMs": 5000}),
    );
    let s = fss(
        &pki,
        dir.path(),
        &service(json!([approve(&up), wrong, failing]), json!({})),
    )
    .await;
    let mut answers = Vec::new();
    let doc = json!({"erp": {
        "ERP": {"CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET, "audience": "erp-api"},
        "WRONG": {"CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": WRONG}
    }});
    answers.push(load_providers(&s, &doc).await);
    let listed = admin(&s, Method::GET, "/api/oauth/configurations", None).await;
    assert_eq!(
        listed.status,
        200,
        "{}",
        String::from_utf8_lossy(&listed.body)
    );
    answers.push(listed);

    // A call captured for debugging, a refresh, a failure after the token, a refused client.
    let debug = bounded(request(
        Method::POST,
        &s.url("/fs/Erp/actions/approve-order"),
        &[
            ("content-type", "application/json"),
            ("x-boomi-debug", "true"),
        ],
        serde_json::to_vec(&call(&[("Order Id", "s-1")])).unwrap(),
    ))
    .await;
    ok(&debug);
    let debug_id = debug.header("x-execution-id").unwrap().to_owned();
    assert!(
        s.runtime.records().get(&debug_id).unwrap().debug.is_some(),
        "the debug request's bodies are kept, so the check below covers them"
    );
    answers.push(debug);
    up.sw.refuse_once.store(true, Ordering::SeqCst);
    let refreshed = invoke(&s, "approve-order", &call(&[("Order Id", "s-2")])).await;
    ok(&refreshed);
    answers.push(refreshed);
    up.sw.fail.store(true, Ordering::SeqCst);
    let failed = invoke(&s, "failing", &call(&[])).await;
    failed.problem(502);
    answers.push(failed);
    up.sw.fail.store(false, Ordering::SeqCst);
    let refused = invoke(&s, "wrong-client", &call(&[])).await;
    refused.problem(502);
    answers.push(refused);
    assert_eq!(up.issued().len(), 2);

    let executions = admin(&s, Method::GET, "/api/runtime/executions", None).await;
    assert_eq!(executions.status, 200);
    let ids: Vec<String> = executions.json()["data"]
        .as_array()
        .expect("executions data")
        .iter()
        .map(|r| r["id"].as_str().expect("record id").to_owned())
        .collect();
    assert_eq!(ids.len(), 4, "one record per call");
    answers.push(executions);
    for id in &ids {
        let one = admin(
            &s,
            Method::GET,
            &format!("/api/runtime/executions/{id}"),
            None,
        )
        .await;
        assert_eq!(one.status, 200);
        answers.push(one);
    }
    let metrics = admin(&s, Method::GET, "/api/management/metrics", None).await;
    assert_eq!(metrics.status, 200);
    answers.push(metrics);

    let issued = up.issued();
    let basic_creds = basic(CLIENT_ID, CLIENT_SECRET);
    let basic_b64 = basic_creds.trim_start_matches("Basic ");
    let mut secrets = vec![CLIENT_ID, CLIENT_SECRET, WRONG, basic_b64];
    secrets.extend(issued.iter().map(String::as_str));
    for a in &answers {
        assert_no_secret("an answer", &answer_text(a), &secrets);
    }
    for r in s.runtime.records().list(|_| true) {
        let text = serde_json::to_string(&r).unwrap();
        assert_no_secret("an execution record", &text, &secrets);
        assert_no_secret("an execution record", &format!("{r:?}"), &secrets);
    }
    assert_no_secret("the metrics", &s.runtime.metrics_text(), &secrets);
    s.stop().await;
}

#[tokio::test]
async fn client_auth_form_sends_credentials_and_token_parameters_as_form_fields() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let up = upstream(&pki).await;
    let mut def = approve(&up);
    let oauth = &mut def["process"]["http"]["auth"]["oauth"];
    oauth["clientAuth"] = json!("form");
    oauth["tokenParameters"] = json!(["audience"]);
    let s = fss(&pki, dir.path(), &service(json!([def]), json!({}))).await;
    let doc = json!({"erp": {"ERP": {"CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET,
                                     "audience": "https://erp.example/api"}}});
    load_providers(&s, &doc).await;

    ok(&invoke(&s, "approve-order", &call(&[("Order Id", "f-1")])).await);
    assert_eq!(up.tokens(), 1);
    let t = up.token_seen.lock().unwrap()[0].clone();
    assert!(!t.basic, "no Basic header with clientAuth form: {t:?}");
    assert_eq!(t.form["client_id"], CLIENT_ID);
    assert_eq!(t.form["client_secret"], CLIENT_SECRET);
    assert_eq!(t.form["grant_type"], "client_credentials");
    assert_eq!(t.form["scope"], "orders");
    assert_eq!(t.form["audience"], "https://erp.example/api");
    s.stop().await;
}

/// The upstream's own check of the credentials: what fss must send, in the form the token
/// endpoint decodes (so that a wrong expectation here fails loudly, not the fss tests).
#[tokio::test]
async fn the_upstream_token_endpoint_accepts_rfc6749_basic_and_form_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let up = upstream(&pki).await;
    let client = fss::http::client::OutboundClient::new(&fss::http::client::OutboundConfig {
        ca_file: Some(pki.ca_file.clone()),
        ..fss::http::client::OutboundConfig::default()
    })
    .unwrap();
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let basic_value = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            enc(CLIENT_ID),
            enc(CLIENT_SECRET)
        ))
    );
    let token_request = |auth: Option<&str>, form: String| {
        let mut r = Request::builder()
            .method(Method::POST)
            .uri(up.url("/oauth/token"))
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.body(Full::new(Bytes::from(form))).unwrap()
    };
    let r = client
        .send(
            token_request(
                Some(&basic_value),
                "grant_type=client_credentials&scope=orders".into(),
            ),
            4096,
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        enc(CLIENT_ID),
        enc(CLIENT_SECRET)
    );
    let r = client.send(token_request(None, form), 4096).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let wrong = client
        .send(
            token_request(None, "grant_type=client_credentials&client_id=x".into()),
            4096,
        )
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(up.tokens(), 3);
    assert_eq!(up.issued().len(), 2);
}
