//! WAIT callbacks through the durable outbox of a shared PostgreSQL database: written,
//! delivered once, kept while the receiver is down, and — when the instance running the
//! process dies — a fault callback from another instance once the lease expires.
//!
//! PostgreSQL only (the SQLite path is `tests/wait.rs`): each test gets a schema of its
//! own, and is skipped, saying so, when no PostgreSQL answers (`tests/support/pg.rs`).

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use fss::execution::{CallbackPolicy, OutboxTiming};
use fss::process::{Handler, HandlerFuture, ProcessCall, Reply};
use fss::server::ServerConfig;
use fss::RuntimeConfig;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use support::pg::{self, PgSchema};
use support::{fixture, TestServer};

/// Sleeps `Millis`, then answers `Slept`.
struct Nap;

impl Handler for Nap {
    fn call(&self, call: ProcessCall) -> HandlerFuture {
        Box::pin(async move {
            let ms = call.inputs["Millis"].as_u64().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(Reply::outputs(json!({ "Slept": ms })))
        })
    }
}

/// One callback the fake engine received: its `Authorization` and body.
type Got = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// A fake engine on `listener`: answers every POST `"SUCCESS"` and records it.
fn engine_on(listener: tokio::net::TcpListener) -> Got {
    let got: Got = Arc::default();
    let seen = Arc::clone(&got);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let seen = Arc::clone(&seen);
                    async move {
                        let auth = req
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        seen.lock()
                            .unwrap()
                            .push((auth, serde_json::from_slice(&body).unwrap()));
                        Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                            Bytes::from_static(b"\"SUCCESS\""),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    got
}

/// The callback URI of an engine at `addr`.
fn callback_uri(addr: std::net::SocketAddr) -> String {
    format!("http://{addr}/api/run/1/response")
}

/// Timing short enough that a dead instance is noticed within a second or two.
fn quick() -> OutboxTiming {
    OutboxTiming {
        renew_every: Duration::from_millis(200),
        lease_for: Duration::from_millis(1200),
        sweep_every: Duration::from_millis(100),
        claim_for: Duration::from_secs(30),
    }
}

/// The handlers of the `wait` fixture (only `nap` is called here).
fn register(rt: &fss::Runtime) {
    rt.register_handler("nap", Nap);
    rt.register_handler("nap-fail", Nap);
}

/// Settings of an instance on `schema`, its keystore at `keystore` (instances sharing a
/// database share it), retrying callbacks quickly.
fn configure(c: &mut RuntimeConfig, schema: &PgSchema, keystore: &Path) {
    c.database_url = Some(schema.url.clone());
    c.keystore_file = Some(keystore.to_path_buf());
    c.outbox = quick();
    c.callback = CallbackPolicy {
        attempts: 20,
        backoff: Duration::from_millis(100),
    };
}

async fn instance(schema: &PgSchema, keystore: &Path) -> TestServer {
    TestServer::start_config(
        &fixture("wait"),
        |c| configure(c, schema, keystore),
        register,
        ServerConfig::default(),
    )
    .await
}

/// Starts a nap of `millis` on `server` (answered `WAIT`) calling back `callback`.
async fn start_nap(server: &str, millis: u64, callback: &str) {
    let req = json!({
        "token": "tok-outbox", "tenantId": "tenant-7", "callbackUri": callback,
        "inputs": [{"developerName": "Millis", "contentValue": millis.to_string(),
                    "contentType": "ContentNumber"}]
    });
    let a = support::request(
        http::Method::POST,
        &format!("{server}/fs/Slow/actions/nap"),
        &[
            ("content-type", "application/json"),
            ("authorization", "Basic dTpw"),
        ],
        serde_json::to_vec(&req).unwrap(),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["invokeType"], "WAIT");
}

/// Waits (at most `secs`) until `got` holds `n` callbacks.
async fn received(got: &Got, n: usize, secs: u64) -> Vec<(Option<String>, Value)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while got.lock().unwrap().len() < n && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    got.lock().unwrap().clone()
}

/// The test's own connection to its schema.
async fn db(schema: &PgSchema) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&schema.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// Waits (at most 10 s) until the outbox has exactly one row, delivered; answers its
/// attempts.
async fn delivered_once(c: &tokio_postgres::Client) -> i32 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let rows = c
            .query(
                "SELECT attempts, delivered_at IS NOT NULL, authorization_sealed
                 FROM fss_callback_outbox",
                &[],
            )
            .await
            .unwrap();
        if rows.len() == 1 && rows[0].get::<_, bool>(1) {
            let sealed: Option<String> = rows[0].get(2);
            let sealed = sealed.expect("the authorization is kept, sealed");
            assert!(
                sealed.starts_with("fss:v1:") && !sealed.contains("dTpw"),
                "sealed, not in clear: {sealed}"
            );
            return rows[0].get(0);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "one delivered outbox row within 10 s: {} rows",
            rows.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn leases(c: &tokio_postgres::Client) -> i64 {
    c.query_one("SELECT count(*) FROM fss_wait_lease", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn wait_callback_is_written_and_delivered_once() {
    let Some(schema) = pg::schema("wait_outbox::delivered_once").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let s = instance(&schema, &dir.path().join("keystore.key")).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cb = callback_uri(listener.local_addr().unwrap());
    let got = engine_on(listener);

    start_nap(&s.url(""), 1300, &cb).await;
    let c = db(&schema).await;
    assert_eq!(leases(&c).await, 1, "the running execution holds a lease");
    let calls = received(&got, 1, 10).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0.as_deref(), Some("Basic dTpw"));
    assert_eq!(calls[0].1["invokeType"], "FORWARD");
    assert_eq!(calls[0].1["token"], "tok-outbox");
    assert_eq!(calls[0].1["outputs"][0]["contentValue"], "1300");
    assert_eq!(
        delivered_once(&c).await,
        1,
        "the first attempt delivered it"
    );
    assert_eq!(leases(&c).await, 0, "the lease ended with the run");
    // Several sweeps later, a delivered row is still not sent again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(got.lock().unwrap().len(), 1, "delivered once");
    assert_eq!(s.runtime.callbacks().counts(), (1, 0, 0));
    s.stop().await;
}

#[tokio::test]
async fn wait_callback_waits_for_its_receiver_to_come_up() {
    let Some(schema) = pg::schema("wait_outbox::receiver_down").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let s = instance(&schema, &dir.path().join("keystore.key")).await;
    // A port that was just free: nothing listens there until the receiver comes up.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    start_nap(&s.url(""), 1100, &callback_uri(addr)).await;

    let c = db(&schema).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let tried: i32 = c
            .query_one(
                "SELECT coalesce(max(attempts), 0) FROM fss_callback_outbox
                 WHERE delivered_at IS NULL AND given_up_at IS NULL",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if tried >= 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "two failed attempts counted within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let got = engine_on(tokio::net::TcpListener::bind(addr).await.unwrap());
    let calls = received(&got, 1, 10).await;
    assert_eq!(calls.len(), 1, "delivered once the receiver is up");
    assert_eq!(calls[0].1["outputs"][0]["contentValue"], "1100");
    assert!(
        delivered_once(&c).await >= 3,
        "the failed attempts are counted"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(got.lock().unwrap().len(), 1, "delivered once");
    s.stop().await;
}

#[tokio::test]
async fn execution_of_a_dead_instance_fails_with_a_fault_callback_from_another() {
    let Some(schema) = pg::schema("wait_outbox::dead_instance").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let keystore = dir.path().join("keystore.key");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cb = callback_uri(listener.local_addr().unwrap());
    let got = engine_on(listener);

    // Instance A on a runtime of its own, so that it can die: shutting that runtime down
    // drops its server, its running process and its lease renewal at once.
    let rt_a = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (url_tx, url_rx) = tokio::sync::oneshot::channel();
    let (schema_url, ks) = (schema.url.clone(), keystore.clone());
    rt_a.spawn(async move {
        let a = TestServer::start_config(
            &fixture("wait"),
            |c| {
                c.database_url = Some(schema_url);
                c.keystore_file = Some(ks);
                c.outbox = quick();
            },
            register,
            ServerConfig::default(),
        )
        .await;
        let _ = url_tx.send(a.url(""));
        std::future::pending::<()>().await;
        drop(a);
    });
    let a_url = url_rx.await.unwrap();
    let b = instance(&schema, &keystore).await;

    // A ten-minute nap on A: only A's death ends it early.
    start_nap(&a_url, 600_000, &cb).await;
    let c = db(&schema).await;
    assert_eq!(leases(&c).await, 1);
    // While A lives it renews the lease: past the lease's length B fails nothing.
    tokio::time::sleep(quick().lease_for * 2).await;
    assert!(got.lock().unwrap().is_empty(), "no callback while A lives");
    assert_eq!(leases(&c).await, 1);

    rt_a.shutdown_background();
    let calls = received(&got, 1, 15).await;
    assert_eq!(calls.len(), 1, "B sends the fault callback");
    let (auth, body) = &calls[0];
    assert_eq!(
        auth.as_deref(),
        Some("Basic dTpw"),
        "with the request's headers"
    );
    assert_eq!(body["invokeType"], "FORWARD");
    assert_eq!(body["token"], "tok-outbox");
    let fault = body["rootFaults"]["Nap"].as_str().unwrap_or_default();
    assert!(fault.contains("instance running it stopped"), "{body}");
    assert_eq!(delivered_once(&c).await, 1);
    assert_eq!(leases(&c).await, 0, "the expired lease is gone");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(got.lock().unwrap().len(), 1, "the fault is delivered once");
    assert_eq!(b.runtime.callbacks().counts(), (1, 0, 0));
    b.stop().await;
}
