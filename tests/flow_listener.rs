//! Flow listeners over real sockets: `POST /fs/{service}/listener` registers a listener,
//! an event sent through the Event Registry's `event-instances` (or an inbound webhook)
//! calls it back once with a ListenerServiceResponse at a loopback engine, also after a
//! restart, retried on BUSY.

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fss::execution::CallbackPolicy;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use support::pg::Backend;
use support::{basic, post_json, request, Answer, TestServer};

const ADMIN: &str = "admin";
const PASSWORD: &str = "listen-secret-1";

/// The service `Orders` (listening for `orderPlaced` and `orderShipped`) and `Plain`
/// (listening for nothing), in a folder of their own.
fn services() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let echo = json!([{"name": "Echo", "inputs": [{"name": "In"}], "outputs": [{"name": "In"}],
                       "process": {"builtin": "echo"}}]);
    for (name, listenable) in [
        ("Orders", json!(["orderPlaced", "orderShipped"])),
        ("Plain", json!([])),
    ] {
        let def = json!({"name": name, "listenableEvents": listenable, "messageActions": echo});
        std::fs::write(
            dir.path().join(format!("{name}.json")),
            serde_json::to_vec(&def).unwrap(),
        )
        .unwrap();
    }
    dir
}

/// A server of [`services`] on `data` with the admin API on, its callbacks retried
/// quickly.
async fn server(ops: &Path, data: &Path) -> TestServer {
    server_on(&Backend::Sqlite, ops, data, None).await
}

/// The same on `backend`, its stored files (and keystore) in `files_dir` when given.
async fn server_on(
    backend: &Backend,
    ops: &Path,
    data: &Path,
    files_dir: Option<&Path>,
) -> TestServer {
    TestServer::start_admin_config(ops, data, ADMIN, PASSWORD, |c| {
        backend.configure(c);
        c.files_dir = files_dir.map(Path::to_path_buf);
        c.callback = CallbackPolicy {
            attempts: 3,
            backoff: Duration::from_millis(50),
        };
    })
    .await
}

/// What the engine received: the `ManyWhoTenant` header and the JSON body.
type Received = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// A loopback Flow engine: answers each callback with the next of `replies` (the last
/// one repeats) and keeps what it got.
async fn engine(replies: Vec<&'static str>) -> (String, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got: Received = Arc::default();
    let seen = Arc::clone(&got);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            let replies = replies.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let seen = Arc::clone(&seen);
                    let replies = replies.clone();
                    async move {
                        let tenant = req
                            .headers()
                            .get("manywhotenant")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let n = {
                            let mut seen = seen.lock().unwrap();
                            seen.push((tenant, serde_json::from_slice(&body).unwrap()));
                            seen.len()
                        };
                        let reply = replies[(n - 1).min(replies.len() - 1)];
                        Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(
                            reply,
                        ))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (format!("http://{addr}/api/run/1/response"), got)
}

/// Waits (at most 15 s) until `got` holds `n` callbacks; returns them.
async fn callbacks(got: &Received, n: usize) -> Vec<(Option<String>, Value)> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let seen = got.lock().unwrap().clone();
        if seen.len() >= n {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "{n} callbacks within 15 s: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A ListenerServiceRequest for `orderPlaced` about the order `order_id` (none: any).
fn listen(callback: &str, state: &str, order_id: Option<&str>) -> Value {
    json!({
        "token": "tok-1", "tenantId": "tenant-a", "stateId": state,
        "callbackUri": callback,
        "culture": {"language": "EN", "country": "USA"},
        "configurationValues": [],
        "annotations": {"source": "test"},
        "attributes": {},
        "listenType": "orderPlaced",
        "valueForListening": {
            "developerName": "Order", "contentType": "ContentObject",
            "typeElementDeveloperName": "Order",
            "objectData": [{"developerName": "Order", "externalId": "o", "properties": [
                {"developerName": "orderId", "contentType": "ContentString",
                 "contentValue": order_id},
                {"developerName": "total", "contentType": "ContentNumber",
                 "contentValue": null}
            ]}]
        }
    })
}

/// Registers `body` on `Orders`; asserts 204 with an empty body and returns the
/// execution id.
async fn register(s: &TestServer, body: &Value) -> String {
    let a = post_json(&s.url("/fs/Orders/listener"), body).await;
    assert_eq!(a.status, 204, "{}", String::from_utf8_lossy(&a.body));
    assert!(a.body.is_empty());
    a.header("x-execution-id")
        .expect("a registration is an execution")
        .to_owned()
}

/// Deploys the event `orderPlaced` (correlated by `orderId`) and its inbound webhook
/// `orderHook` (anonymous, tenant `tenant-a`), one `.zip` through the deployments of
/// the admin API.
async fn deploy_event(s: &TestServer) {
    let event = json!({"key": "orderPlaced", "name": "Order placed",
        "inboundChannelKeys": ["orderHook"],
        "correlationParameters": [{"name": "orderId", "type": "string"}],
        "payload": [{"name": "total", "type": "double"}]});
    let channel = json!({"key": "orderHook", "channelType": "inbound", "type": "http",
        "deserializerType": "json", "allowAnonymous": true,
        "channelEventKeyDetection": {"fixedValue": "orderPlaced"},
        "channelEventTenantDetection": {"fixedValue": "tenant-a"}});
    let (event, channel) = (event.to_string(), channel.to_string());
    let zip = support::deploy::zip_of(&[
        ("orderPlaced.event", event.as_bytes()),
        ("orderHook.channel", channel.as_bytes()),
    ]);
    let a = support::deploy::upload(
        s,
        "/api/repository",
        (ADMIN, PASSWORD),
        "Orders",
        "orders.zip",
        &zip,
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
}

/// Sends `orderPlaced` with `payload` through the webhook `/events/orderHook`; asserts
/// 202.
async fn hook(s: &TestServer, payload: Value) {
    let a = post_json(&s.url("/events/orderHook"), &payload).await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
}

/// Sends `orderPlaced` with `payload` from `tenant-a`; asserts 201.
async fn send(s: &TestServer, payload: Value) {
    let a = send_answer(s, payload).await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
}

/// The answer to sending `orderPlaced` with `payload` from `tenant-a`.
async fn send_answer(s: &TestServer, payload: Value) -> Answer {
    let body = json!({"eventDefinitionKey": "orderPlaced", "eventPayload": payload,
                      "tenantId": "tenant-a"});
    request(
        Method::POST,
        &s.url("/event-registry-api/event-registry-runtime/event-instances"),
        &[
            ("authorization", &basic(ADMIN, PASSWORD)),
            ("content-type", "application/json"),
        ],
        serde_json::to_vec(&body).unwrap(),
    )
    .await
}

/// The `contentValue` of property `i` of the first object of a callback's
/// `listeningEventValue`.
fn property(callback: &Value, i: usize) -> &Value {
    &callback["listeningEventValue"]["objectData"][0]["properties"][i]["contentValue"]
}

#[tokio::test]
async fn describe_says_provides_listening_for_services_with_listenable_events() {
    let ops = services();
    let s = TestServer::start(ops.path()).await;
    for (name, listening) in [("Orders", true), ("Plain", false)] {
        let a = post_json(&s.url(&format!("/fs/{name}/metadata")), &json!({})).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.json()["providesListening"], listening, "{name}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_registration_is_answered_204_and_recorded() {
    let ops = services();
    let s = TestServer::start(ops.path()).await;
    let id = register(
        &s,
        &listen("https://flow.example.test/api/run/1/response", "s1", None),
    )
    .await;
    let record = s.runtime.records().get(&id).expect("recorded");
    assert_eq!(record.operation, "listener");
    assert_eq!(&*record.name, "orderPlaced");
    assert_eq!(record.http_status, 204);
    assert_eq!(record.status, "waiting", "until its event is sent");
    assert!(s.data.path().join("listeners.db").exists(), "kept on disk");
    s.stop().await;
}

#[tokio::test]
async fn bad_registrations_are_400_naming_what_is_wrong() {
    let ops = services();
    let s = TestServer::start(ops.path()).await;
    let url = s.url("/fs/Orders/listener");
    let cb = "https://flow.example.test/api/run/1/response";

    let mut body = listen(cb, "s1", None);
    body.as_object_mut().unwrap().remove("listenType");
    let msg = post_json(&url, &body).await.problem(400);
    assert!(msg.contains("listenType is required"), "{msg}");
    assert!(msg.contains("orderPlaced, orderShipped"), "{msg}");

    body["listenType"] = json!("orderLost");
    let msg = post_json(&url, &body).await.problem(400);
    assert!(msg.contains("'orderLost'"), "{msg}");
    assert!(
        msg.contains("orderPlaced, orderShipped"),
        "names the allowed ones: {msg}"
    );

    for bad in [
        json!(null),
        json!("not a url"),
        json!("ftp://flow.example.test/x"),
    ] {
        let mut body = listen(cb, "s1", None);
        body["callbackUri"] = bad.clone();
        let msg = post_json(&url, &body).await.problem(400);
        assert!(msg.contains("callbackUri"), "{bad}: {msg}");
    }

    let a = request(
        Method::POST,
        &url,
        &[("content-type", "application/json")],
        "{not json",
    )
    .await;
    let msg = a.problem(400);
    assert!(msg.contains("not valid JSON"), "{msg}");
    let msg = request(Method::POST, &url, &[], "").await.problem(400);
    assert!(msg.contains("ListenerServiceRequest"), "{msg}");
    s.stop().await;
}

#[tokio::test]
async fn listener_is_404_on_a_service_without_listenable_events() {
    let ops = services();
    let s = TestServer::start(ops.path()).await;
    let a: Answer = post_json(
        &s.url("/fs/Plain/listener"),
        &listen("https://flow.example.test/cb", "s1", None),
    )
    .await;
    a.problem(404);
    s.stop().await;
}

#[tokio::test]
async fn a_sent_event_calls_its_listener_back_once_when_the_object_matches() {
    let ops = services();
    let data = tempfile::tempdir().unwrap();
    let s = server(ops.path(), data.path()).await;
    deploy_event(&s).await;
    let (one, got_one) = engine(vec![r#""OK""#]).await;
    let (two, got_two) = engine(vec![r#""OK""#]).await;
    let first = register(&s, &listen(&one, "s1", Some("o-1"))).await;
    register(&s, &listen(&two, "s2", Some("o-2"))).await;

    // The event about o-2 calls the listener of o-2 only: the one of o-1 is still there
    // to be called by the event about o-1, with the values of that event.
    send(&s, json!({"orderId": "o-2", "total": 2.0})).await;
    callbacks(&got_two, 1).await;
    send(
        &s,
        json!({"orderId": "o-1", "total": 12.5, "ignored": true}),
    )
    .await;
    let seen = callbacks(&got_one, 1).await;
    let (tenant, body) = &seen[0];
    assert_eq!(
        tenant.as_deref(),
        Some("tenant-a"),
        "ManyWhoTenant as WAIT callbacks"
    );
    assert_eq!(body["token"], "tok-1");
    assert_eq!(body["tenantId"], "tenant-a");
    assert_eq!(body["culture"]["language"], "EN");
    assert_eq!(body["annotations"], json!({"source": "test"}));
    assert_eq!(
        body["listeningEventValue"]["typeElementDeveloperName"],
        "Order"
    );
    assert_eq!(property(body, 0), "o-1");
    assert_eq!(
        property(body, 1),
        "12.5",
        "a payload field's value, as text"
    );

    // Fired once: the next event about o-1 reaches a new listener, not the first.
    let (three, got_three) = engine(vec![r#""OK""#]).await;
    register(&s, &listen(&three, "s3", None)).await;
    send(&s, json!({"orderId": "o-1", "total": 1.0})).await;
    callbacks(&got_three, 1).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let record = s.runtime.records().get(&first).expect("recorded");
        if record.status == "succeeded" {
            let callback = record.callback.expect("the callback is recorded");
            assert!(callback.delivered);
            assert_eq!(callback.attempts, 1);
            break;
        }
        assert!(Instant::now() < deadline, "the delivery is recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(got_one.lock().unwrap().len(), 1, "a listener fires once");
    assert_eq!(got_two.lock().unwrap().len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn a_listener_registered_before_a_restart_is_called_back_after_it_retrying_busy() {
    let ops = services();
    let data = tempfile::tempdir().unwrap();
    let (uri, got) = engine(vec![r#""BUSY""#, r#""OK""#]).await;
    let s = server(ops.path(), data.path()).await;
    deploy_event(&s).await;
    register(&s, &listen(&uri, "s1", Some("o-7"))).await;
    s.stop().await;

    let s = server(ops.path(), data.path()).await;
    hook(&s, json!({"orderId": "o-7", "total": 3.5})).await;
    // BUSY, then OK: retried with the same body, as WAIT callbacks are.
    let seen = callbacks(&got, 2).await;
    assert_eq!(seen[0].1, seen[1].1);
    assert_eq!(property(&seen[1].1, 0), "o-7");
    assert_eq!(property(&seen[1].1, 1), "3.5");
    let deadline = Instant::now() + Duration::from_secs(15);
    while s.runtime.callbacks().counts() != (1, 1, 0) {
        assert!(
            Instant::now() < deadline,
            "delivered after one retry: {:?}",
            s.runtime.callbacks().counts()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.stop().await;
}

// === on both backends ===

/// The runtime that sees events after `first` registered a listener: on SQLite, `first`'s
/// data folder started again; on PostgreSQL, another instance of the same database
/// (its own data folder), running beside `first`, which is returned too.
async fn other_runtime(
    backend: &Backend,
    first: TestServer,
    ops: &Path,
    data: &Path,
    other: &Path,
    files: &Path,
) -> (TestServer, Option<TestServer>) {
    match backend {
        Backend::Sqlite => {
            first.stop().await;
            (server_on(backend, ops, data, Some(files)).await, None)
        }
        Backend::Postgres(_) => (
            server_on(backend, ops, other, Some(files)).await,
            Some(first),
        ),
    }
}

/// Sends an event about no listener's order until `s` accepts it (another instance
/// learns of a deployment within a poll of the registry).
async fn until_the_event_is_known(s: &TestServer) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let a = send_answer(s, json!({"orderId": "nobody", "total": 0.0})).await;
        if a.status == 201 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the event is known within 10 s: {} {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A listener registered through one runtime is called back, once, for an event sent
/// to another runtime of the same database — even one that loaded its listeners before
/// the registration, and even when two runtimes receive the event at once; a registration
/// of the same state through another runtime replaces it.
async fn a_listener_fires_once_for_an_event_sent_to_another_runtime(backend: Backend) {
    let ops = services();
    let (data, other, files) = (tempdir(), tempdir(), tempdir());
    let a = server_on(&backend, ops.path(), data.path(), Some(files.path())).await;
    deploy_event(&a).await;
    let (b, a) = other_runtime(
        &backend,
        a,
        ops.path(),
        data.path(),
        other.path(),
        files.path(),
    )
    .await;
    // `b` has read its listeners (none) before anything is registered.
    until_the_event_is_known(&b).await;
    let registrar = a.as_ref().unwrap_or(&b);
    // Flow registers again each time a state listens: the registration of `s1` made
    // through `b` replaces the one made through the other runtime.
    let (replaced, got_replaced) = engine(vec![r#""OK""#]).await;
    register(registrar, &listen(&replaced, "s1", Some("o-9"))).await;
    let (uri, got) = engine(vec![r#""OK""#]).await;
    register(&b, &listen(&uri, "s1", Some("o-9"))).await;
    send(&b, json!({"orderId": "o-9", "total": 9.5})).await;
    let seen = callbacks(&got, 1).await;
    assert_eq!(property(&seen[0].1, 0), "o-9");
    assert_eq!(property(&seen[0].1, 1), "9.5");

    // Two runtimes receive a matching event at once: the next listener is called once.
    let (uri, got_next) = engine(vec![r#""OK""#]).await;
    register(registrar, &listen(&uri, "s2", Some("o-10"))).await;
    let payload = json!({"orderId": "o-10", "total": 1.0});
    tokio::join!(send(registrar, payload.clone()), send(&b, payload.clone()));
    callbacks(&got_next, 1).await;
    // The same event again, on both: nobody is waiting for it any more. A second callback
    // is an absence, which can only be waited for; a callback to loopback takes
    // milliseconds, so half a second is ample.
    send(&b, payload.clone()).await;
    send(registrar, payload).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        got.lock().unwrap().len(),
        1,
        "the first listener fired once"
    );
    assert_eq!(
        got_next.lock().unwrap().len(),
        1,
        "the second listener fired once"
    );
    assert!(
        got_replaced.lock().unwrap().is_empty(),
        "a replaced registration is never called"
    );
    b.stop().await;
    if let Some(a) = a {
        a.stop().await;
    }
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

crate::both_backends!(a_listener_fires_once_for_an_event_sent_to_another_runtime);
