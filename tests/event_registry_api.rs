//! Flowable's Event Registry REST API at its literal paths under `/event-registry-api/`,
//! over real sockets: credentials and the privilege, 404 and 405, the engine, deployments
//! seen through both repositories, event and channel definitions with their filters,
//! resource bytes and models, and sending events through `event-instances`.
//!
//! Each test starts a real server with the admin API enabled on its own temporary data
//! folder and deploys through `event-registry-repository/deployments`.

mod support;

use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use support::deploy::zip_of;
use support::pg::Backend;
use support::{basic, fixture, request, Answer, TestServer};

const ADMIN: &str = "er-admin";
const PASSWORD: &str = "er-s3cret-pw";
const PREFIX: &str = "/event-registry-api";
const REPO: &str = "/event-registry-api/event-registry-repository";
const INSTANCES: &str = "/event-registry-api/event-registry-runtime/event-instances";
const ENGINE: &str = "/event-registry-api/event-registry-management/engine";

// === helpers ===

async fn start(data: &Path, backend: &Backend) -> TestServer {
    TestServer::start_admin_config(&fixture("core"), data, ADMIN, PASSWORD, |c| {
        backend.configure(c)
    })
    .await
}

async fn api_as(
    s: &TestServer,
    (user, pw): (&str, &str),
    method: Method,
    path: &str,
    body: impl Into<Bytes>,
) -> Answer {
    let auth = basic(user, pw);
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

async fn api(s: &TestServer, method: Method, path: &str) -> Answer {
    api_as(s, (ADMIN, PASSWORD), method, path, Bytes::new()).await
}

async fn get_json(s: &TestServer, path: &str) -> Value {
    let a = api(s, Method::GET, path).await;
    assert_eq!(a.status, 200, "{path}: {}", text(&a));
    assert_eq!(a.header("content-type"), Some("application/json"), "{path}");
    a.json()
}

async fn send(s: &TestServer, body: &Value) -> Answer {
    api_as(
        s,
        (ADMIN, PASSWORD),
        Method::POST,
        INSTANCES,
        serde_json::to_vec(body).unwrap(),
    )
    .await
}

fn text(a: &Answer) -> String {
    String::from_utf8_lossy(&a.body).into_owned()
}

/// Asserts the admin error shape and status; returns the message.
fn admin_error(a: &Answer, status: u16) -> String {
    assert_eq!(a.status.as_u16(), status, "body: {}", text(a));
    assert_eq!(a.header("content-type"), Some("application/json"));
    let v = a.json();
    assert_eq!(v["statusCode"], status);
    v["errorMessage"]
        .as_str()
        .expect("errorMessage is a string")
        .to_owned()
}

/// Deploys one file through the Event Registry's path; asserts 201, returns the JSON.
async fn deploy(s: &TestServer, field: &str, filename: &str, bytes: &[u8]) -> Value {
    let a = support::deploy::upload(s, REPO, (ADMIN, PASSWORD), field, filename, bytes).await;
    assert_eq!(a.status, 201, "{}", text(&a));
    a.json()
}

fn echo_service(name: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"name": name, "messageActions": [{
        "name": "echo", "inputs": [{"name": "In"}], "outputs": [{"name": "In"}],
        "process": {"builtin": "echo"}}]}))
    .unwrap()
}

fn ids(v: &Value) -> Vec<String> {
    v["data"]
        .as_array()
        .expect("data is a list")
        .iter()
        .map(|d| d["id"].as_str().expect("an id").to_owned())
        .collect()
}

fn keys(v: &Value) -> Vec<String> {
    v["data"]
        .as_array()
        .expect("data is a list")
        .iter()
        .map(|d| d["key"].as_str().expect("a key").to_owned())
        .collect()
}

/// `s` percent-encoded as one path segment.
fn seg(s: &str) -> String {
    s.replace('%', "%25")
        .replace('/', "%2F")
        .replace(' ', "%20")
}

/// What a fake receiver of an outbound HTTP channel got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    content_type: Option<String>,
    body: Bytes,
}

/// A loopback HTTP server that answers every request 200 and records it.
async fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let seen = Arc::clone(&got);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let seen = Arc::clone(&seen);
                    async move {
                        let path = req.uri().path().to_owned();
                        let content_type = req
                            .headers()
                            .get("content-type")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        seen.lock().unwrap().push(Received {
                            path,
                            content_type,
                            body,
                        });
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), got)
}

/// Waits (at most 10 s) until `got` holds a request; returns them all.
async fn received(got: &Arc<Mutex<Vec<Received>>>) -> Vec<Received> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let seen = got.lock().unwrap().clone();
        if !seen.is_empty() || tokio::time::Instant::now() >= deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `.event` of orders, its inbound webhook and an outbound channel to `out`.
fn order_event() -> Value {
    json!({"key": "orderPlaced", "name": "Order placed",
           "inboundChannelKeys": ["ordersWebhook"], "outboundChannelKeys": ["ordersOut"],
           "correlationParameters": [{"name": "orderId", "type": "string"}],
           "payload": [{"name": "orderId", "type": "string"}, {"name": "amount", "type": "double"}]})
}

fn webhook_channel() -> Value {
    json!({"key": "ordersWebhook", "category": "orders", "name": "Orders webhook",
           "channelType": "inbound", "type": "http", "deserializerType": "json",
           "channelEventKeyDetection": {"fixedValue": "orderPlaced"}})
}

fn outbound_channel(url: &str) -> Value {
    json!({"key": "ordersOut", "category": "orders", "name": "Orders out",
           "description": "POSTs every order to the warehouse",
           "channelType": "outbound", "type": "http", "destination": url,
           "serializerType": "json"})
}

fn jms_channel() -> Value {
    json!({"key": "legacyQueue", "name": "Legacy JMS", "channelType": "inbound",
           "type": "jms", "destination": "legacy.orders", "deserializerType": "json",
           "channelEventKeyDetection": {"fixedValue": "orderPlaced"}})
}

/// A zip of the orders event, its three channels (one of them `jms`), a service and a
/// script in a folder.
fn orders_zip(out_url: &str) -> Vec<u8> {
    let bytes = |v: Value| serde_json::to_vec_pretty(&v).unwrap();
    zip_of(&[
        ("events/orderPlaced.event", &bytes(order_event())),
        ("ordersWebhook.channel", &bytes(webhook_channel())),
        ("ordersOut.channel", &bytes(outbound_channel(out_url))),
        ("legacyQueue.channel", &bytes(jms_channel())),
        ("OrderEvents.json", &echo_service("OrderEvents")),
        ("scripts/notes.txt", b"not a definition"),
    ])
}

// === credentials, paths, methods, engine ===

/// Every endpoint of the API, with a method it answers.
fn endpoints() -> Vec<(Method, String)> {
    vec![
        (Method::GET, format!("{REPO}/deployments")),
        (Method::POST, format!("{REPO}/deployments")),
        (Method::GET, format!("{REPO}/deployments/d1")),
        (Method::DELETE, format!("{REPO}/deployments/d1")),
        (Method::GET, format!("{REPO}/deployments/d1/resources")),
        (
            Method::GET,
            format!("{REPO}/deployments/d1/resources/a.event"),
        ),
        (
            Method::GET,
            format!("{REPO}/deployments/d1/resourcedata/a.event"),
        ),
        (Method::GET, format!("{REPO}/event-definitions")),
        (Method::GET, format!("{REPO}/event-definitions/e1")),
        (
            Method::GET,
            format!("{REPO}/event-definitions/e1/resourcedata"),
        ),
        (Method::GET, format!("{REPO}/event-definitions/e1/model")),
        (Method::GET, format!("{REPO}/channel-definitions")),
        (Method::GET, format!("{REPO}/channel-definitions/c1")),
        (
            Method::GET,
            format!("{REPO}/channel-definitions/c1/resourcedata"),
        ),
        (Method::GET, format!("{REPO}/channel-definitions/c1/model")),
        (Method::POST, INSTANCES.to_owned()),
        (Method::GET, ENGINE.to_owned()),
        (Method::GET, format!("{PREFIX}/no-such-part")),
    ]
}

async fn every_endpoint_needs_basic_credentials_and_the_privilege(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), &backend).await;
    let a = api_as(
        &s,
        (ADMIN, PASSWORD),
        Method::POST,
        "/api/identity/users",
        serde_json::to_vec(&json!({"id": "viewer", "password": "viewer-pw"})).unwrap(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", text(&a));
    for (method, path) in endpoints() {
        let a = request(method.clone(), &s.url(&path), &[], Bytes::new()).await;
        admin_error(&a, 401);
        assert!(
            a.header("www-authenticate")
                .is_some_and(|v| v.starts_with("Basic")),
            "{method} {path}"
        );
        let a = api_as(&s, (ADMIN, "wrong-pw"), method.clone(), &path, Bytes::new()).await;
        admin_error(&a, 401);
        let a = api_as(
            &s,
            ("viewer", "viewer-pw"),
            method.clone(),
            &path,
            Bytes::new(),
        )
        .await;
        let m = admin_error(&a, 403);
        assert!(m.contains("access-rest-api"), "{method} {path}: {m}");
    }
    s.stop().await;
}

async fn unknown_paths_are_404_and_other_methods_405_with_allow(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), &backend).await;
    for path in [
        format!("{PREFIX}/"),
        format!("{PREFIX}/event-registry-repository"),
        format!("{REPO}/process-definitions"),
        format!("{REPO}/event-definitions/e1/other"),
        format!("{PREFIX}/event-registry-management/health"),
    ] {
        let m = admin_error(&api(&s, Method::GET, &path).await, 404);
        assert!(m.contains(&path), "{path}: {m}");
    }
    for (method, path, allow) in [
        (Method::PUT, format!("{REPO}/deployments"), "GET, POST"),
        (
            Method::POST,
            format!("{REPO}/deployments/d1"),
            "GET, DELETE",
        ),
        (
            Method::DELETE,
            format!("{REPO}/deployments/d1/resources"),
            "GET",
        ),
        (
            Method::PUT,
            format!("{REPO}/deployments/d1/resources/x"),
            "GET",
        ),
        (
            Method::POST,
            format!("{REPO}/deployments/d1/resourcedata/x"),
            "GET",
        ),
        (Method::POST, format!("{REPO}/event-definitions"), "GET"),
        (
            Method::DELETE,
            format!("{REPO}/event-definitions/e1"),
            "GET",
        ),
        (
            Method::PUT,
            format!("{REPO}/event-definitions/e1/model"),
            "GET",
        ),
        (Method::POST, format!("{REPO}/channel-definitions"), "GET"),
        (
            Method::POST,
            format!("{REPO}/channel-definitions/c1/resourcedata"),
            "GET",
        ),
        (Method::GET, INSTANCES.to_owned(), "POST"),
        (Method::PUT, ENGINE.to_owned(), "GET"),
    ] {
        let a = api(&s, method.clone(), &path).await;
        admin_error(&a, 405);
        assert_eq!(a.header("allow"), Some(allow), "{method} {path}");
    }
    s.stop().await;
}

async fn the_engine_is_flowables_default(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), &backend).await;
    let v = get_json(&s, ENGINE).await;
    assert_eq!(v, json!({"name": "default", "version": "6.6.0"}));
    // a trailing slash is the same path
    assert_eq!(get_json(&s, &format!("{ENGINE}/")).await, v);
    s.stop().await;
}

// === deployments ===

async fn deployments_are_the_same_in_both_views_with_their_urls_under_each(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), &backend).await;
    let zip = zip_of(&[
        ("Hello.json", &echo_service("Hello")),
        ("scripts/run.sh", b"echo hi\n"),
    ]);
    let dep = deploy(&s, "hello.zip", "bundle.zip", &zip).await;
    let id = dep["id"].as_str().unwrap().to_owned();
    assert_eq!(
        dep["url"],
        s.url(&format!("{REPO}/deployments/{}", seg(&id)))
    );

    let list = get_json(&s, &format!("{REPO}/deployments")).await;
    for k in ["data", "total", "start", "sort", "order", "size"] {
        assert!(list.get(k).is_some(), "envelope without {k}: {list}");
    }
    assert_eq!(ids(&list), [id.as_str()]);
    assert_eq!(
        (&list["sort"], &list["order"]),
        (&json!("id"), &json!("asc"))
    );
    let fss_view = get_json(&s, &format!("/api/repository/deployments/{}", seg(&id))).await;
    assert_eq!(fss_view["id"], dep["id"]);
    assert_eq!(fss_view["name"], dep["name"]);
    assert!(fss_view["url"]
        .as_str()
        .unwrap()
        .contains("/api/repository/deployments/"));
    let one = get_json(&s, &format!("{REPO}/deployments/{}", seg(&id))).await;
    assert_eq!(one["url"], dep["url"]);
    assert_eq!(one["tenantId"], "");
    assert!(one["deploymentTime"].as_str().unwrap().ends_with("+00:00"));

    // filters and sorts of F11, typed
    let q = |query: &str| format!("{REPO}/deployments?{query}");
    assert_eq!(
        ids(&get_json(&s, &q("name=nope")).await),
        Vec::<String>::new()
    );
    assert_eq!(ids(&get_json(&s, &q("nameLike=hel%25")).await).len(), 1);
    assert_eq!(
        ids(&get_json(&s, &q("withoutTenantId=true")).await).len(),
        1
    );
    assert_eq!(ids(&get_json(&s, &q("tenantIdLike=x%25")).await).len(), 0);
    assert_eq!(
        get_json(&s, &q("sort=deploytime")).await["sort"],
        "deployTime"
    );
    let m = admin_error(&api(&s, Method::GET, &q("sort=bogus")).await, 400);
    assert!(
        m.starts_with("Value for param 'sort' is not valid, 'bogus' is not a valid property"),
        "{m}"
    );
    let m = admin_error(&api(&s, Method::GET, &q("withoutTenantId=yes")).await, 400);
    assert_eq!(
        m,
        "Value for param 'withoutTenantId' is not valid : 'yes', must be 'true' or 'false'"
    );
    let m = admin_error(&api(&s, Method::GET, &q("start=x")).await, 400);
    assert!(m.contains("'start'"), "{m}");
    let m = admin_error(&api(&s, Method::GET, &q("order=up")).await, 400);
    assert!(m.contains("'order'"), "{m}");

    // resources, one resource, its bytes (`/` as %2F)
    let base = format!("{REPO}/deployments/{}", seg(&id));
    let list = get_json(&s, &format!("{base}/resources")).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"scripts/run.sh"), "{list}");
    let r = get_json(&s, &format!("{base}/resources/scripts%2Frun.sh")).await;
    assert_eq!(r["id"], "scripts/run.sh");
    assert_eq!(r["type"], "resource");
    assert_eq!(
        r["url"],
        s.url(&format!("{base}/resources/scripts%2Frun.sh"))
    );
    assert_eq!(
        r["contentUrl"],
        s.url(&format!("{base}/resourcedata/scripts%2Frun.sh"))
    );
    assert!(r["mediaType"].is_string());
    let r = get_json(&s, &format!("{base}/resources/Hello.json")).await;
    assert_eq!(r["type"], "serviceDefinition");
    let a = api(
        &s,
        Method::GET,
        &format!("{base}/resourcedata/scripts%2Frun.sh"),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(&a.body[..], b"echo hi\n");
    assert!(a
        .header("content-disposition")
        .is_some_and(|v| v.contains("run.sh")));
    let m = admin_error(
        &api(&s, Method::GET, &format!("{base}/resources/nope.txt")).await,
        404,
    );
    assert_eq!(
        m,
        format!("Could not find a resource with id 'nope.txt' in deployment '{id}'.")
    );
    let m = admin_error(
        &api(
            &s,
            Method::GET,
            &format!("{REPO}/deployments/nope/resources/x"),
        )
        .await,
        404,
    );
    assert_eq!(m, "Could not find a deployment with id 'nope'.");
    admin_error(
        &api(&s, Method::GET, &format!("{base}/resourcedata/nope.txt")).await,
        404,
    );

    // the service answers; deleting it through this view removes it from both
    let a = support::post_json(
        &s.url("/fs/Hello/actions/echo"),
        &json!({"inputs": [{"developerName": "In", "contentType": "ContentString", "contentValue": "x"}]}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let a = api(&s, Method::DELETE, &base).await;
    assert_eq!(a.status, 204);
    assert!(a.body.is_empty());
    admin_error(&api(&s, Method::GET, &base).await, 404);
    admin_error(
        &api(
            &s,
            Method::GET,
            &format!("/api/repository/deployments/{}", seg(&id)),
        )
        .await,
        404,
    );
    admin_error(&api(&s, Method::DELETE, &base).await, 404);
    s.stop().await;
}

// === definitions: parameters ===

async fn definition_queries_check_every_parameter_with_flowables_texts(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), &backend).await;
    for kind in ["event-definitions", "channel-definitions"] {
        let q = |query: &str| format!("{REPO}/{kind}?{query}");
        let v = get_json(&s, &q("")).await;
        assert_eq!(
            (
                &v["total"],
                &v["size"],
                &v["start"],
                &v["sort"],
                &v["order"]
            ),
            (
                &json!(0),
                &json!(0),
                &json!(0),
                &json!("name"),
                &json!("asc")
            ),
            "{kind}"
        );
        assert_eq!(get_json(&s, &q("sort=VERSION")).await["sort"], "version");
        let m = admin_error(&api(&s, Method::GET, &q("latest=true")).await, 400);
        assert_eq!(
            m,
            "Value for param 'latest' can only be used together with 'key' or 'keyLike'"
        );
        admin_error(&api(&s, Method::GET, &q("latest=true&name=x")).await, 400);
        get_json(&s, &q("latest=true&keyLike=order%25")).await;
        let m = admin_error(&api(&s, Method::GET, &q("key=k&latest=TRUE")).await, 400);
        assert_eq!(
            m,
            "Value for param 'latest' is not valid : 'TRUE', must be 'true' or 'false'"
        );
        let m = admin_error(&api(&s, Method::GET, &q("version=1.5")).await, 400);
        assert!(m.contains("'version'") && m.contains("'1.5'"), "{m}");
        let m = admin_error(&api(&s, Method::GET, &q("size=ten")).await, 400);
        assert!(m.contains("'size'"), "{m}");
        let m = admin_error(&api(&s, Method::GET, &q("sort=createTime")).await, 400);
        assert!(
            m.starts_with(
                "Value for param 'sort' is not valid, 'createTime' is not a valid property"
            ),
            "{m}"
        );
        let noun = if kind.starts_with('e') {
            "an event"
        } else {
            "a channel"
        };
        for tail in ["", "/model", "/resourcedata"] {
            let m = admin_error(
                &api(&s, Method::GET, &format!("{REPO}/{kind}/x%2Fy{tail}")).await,
                404,
            );
            assert_eq!(
                m,
                format!("Could not find {noun} definition with id 'x/y'.")
            );
        }
    }
    let q = |query: &str| format!("{REPO}/channel-definitions?{query}");
    let m = admin_error(
        &api(&s, Method::GET, &q("onlyInbound=true&onlyOutbound=true")).await,
        400,
    );
    assert!(
        m.contains("onlyInbound") && m.contains("onlyOutbound"),
        "{m}"
    );
    admin_error(&api(&s, Method::GET, &q("onlyOutbound=1")).await, 400);
    s.stop().await;
}

// === event instances: bodies ===

async fn event_instances_refuse_bad_bodies_with_flowables_texts(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_path_buf();
    let s = TestServer::start_admin_config(&fixture("core"), &dir, ADMIN, PASSWORD, |c| {
        c.max_request_bytes = 4096;
        backend.configure(c);
    })
    .await;
    let raw = |body: &'static [u8]| {
        let s = &s;
        async move { api_as(s, (ADMIN, PASSWORD), Method::POST, INSTANCES, body).await }
    };
    assert!(admin_error(&raw(b"").await, 400).contains("empty"));
    assert!(admin_error(&raw(b"{\"eventDefinitionKey\":").await, 400).contains("not valid JSON"));
    assert!(admin_error(&raw(b"[\"orderPlaced\"]").await, 400).contains("not a JSON object"));
    assert_eq!(
        admin_error(
            &send(
                &s,
                &json!({"eventDefinitionKey": "a", "eventDefinitionId": "b"})
            )
            .await,
            400
        ),
        "Only one of eventDefinitionId or eventDefinitionKey should be set."
    );
    assert_eq!(
        admin_error(
            &send(&s, &json!({"eventPayload": {"orderId": "o"}})).await,
            400
        ),
        "Either eventDefinitionId or eventDefinitionKey is required."
    );
    let m = admin_error(
        &send(&s, &json!({"eventDefinitionKey": 12, "eventPayload": {}})).await,
        400,
    );
    assert!(m.contains("'eventDefinitionKey' must be a string"), "{m}");
    let m = admin_error(
        &send(
            &s,
            &json!({"eventDefinitionKey": "k", "eventPayload": "orderId=o"}),
        )
        .await,
        400,
    );
    assert!(m.contains("'eventPayload' must be a JSON object"), "{m}");
    assert_eq!(
        admin_error(
            &send(&s, &json!({"eventDefinitionKey": "noSuchEvent"})).await,
            404
        ),
        "No event definition found for key 'noSuchEvent'"
    );
    assert_eq!(
        admin_error(&send(&s, &json!({"eventDefinitionId": "no-id"})).await, 404),
        "No event definition found for id 'no-id'"
    );
    // the server's request limit bounds the body
    let big = json!({"eventDefinitionKey": "k", "eventPayload": {"pad": "x".repeat(5000)}});
    admin_error(&send(&s, &big).await, 413);
    s.stop().await;
}

// === a deployed event and its channels ===

async fn an_event_and_its_channels_deployed_in_a_zip_show_through_the_literal_paths(
    backend: Backend,
) {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), &backend).await;
    let (out_url, _got) = receiver().await;
    let dep = deploy(&s, "orders-events.zip", "bundle.zip", &orders_zip(&out_url)).await;
    let dep_id = dep["id"].as_str().unwrap().to_owned();

    // the event definition, latest of its key
    let v = get_json(
        &s,
        &format!("{REPO}/event-definitions?key=orderPlaced&latest=true"),
    )
    .await;
    assert_eq!(v["total"], 1, "{v}");
    let ev = v["data"][0].clone();
    let ev_id = ev["id"].as_str().unwrap().to_owned();
    assert_eq!(ev["key"], "orderPlaced");
    assert_eq!(ev["name"], "Order placed");
    assert_eq!(ev["version"], 1);
    assert_eq!(ev["deploymentId"], json!(dep_id));
    assert_eq!(ev["resourceName"], "events/orderPlaced.event");
    assert_eq!(ev["tenantId"], "");
    assert!(ev["parentDeploymentId"].is_null());
    assert_eq!(
        ev["url"],
        s.url(&format!("{REPO}/event-definitions/{}", seg(&ev_id)))
    );
    for k in ["category", "description"] {
        assert!(ev.get(k).is_some(), "no {k}: {ev}");
    }
    let one = get_json(&s, &format!("{REPO}/event-definitions/{}", seg(&ev_id))).await;
    assert_eq!(one, ev);
    let model = get_json(
        &s,
        &format!("{REPO}/event-definitions/{}/model", seg(&ev_id)),
    )
    .await;
    assert_eq!(model, order_event());

    // its resource, exactly as the deployment's resourcedata answers it
    let a = api(
        &s,
        Method::GET,
        &format!("{REPO}/event-definitions/{}/resourcedata", seg(&ev_id)),
    )
    .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert_eq!(
        serde_json::from_slice::<Value>(&a.body).unwrap(),
        order_event()
    );
    let b = api(
        &s,
        Method::GET,
        &format!(
            "{REPO}/deployments/{}/resourcedata/events%2ForderPlaced.event",
            seg(&dep_id)
        ),
    )
    .await;
    assert_eq!(a.body, b.body);
    assert_eq!(a.header("content-type"), b.header("content-type"));
    assert!(a.header("content-type").is_some());
    assert!(a
        .header("content-disposition")
        .is_some_and(|v| v.contains("orderPlaced.event")));

    // event filters
    let q = |query: &str| format!("{REPO}/event-definitions?{query}");
    assert_eq!(
        keys(&get_json(&s, &q("keyLike=order%25")).await),
        ["orderPlaced"]
    );
    assert_eq!(
        keys(&get_json(&s, &q("keyLikeIgnoreCase=ORDER%25")).await),
        ["orderPlaced"]
    );
    assert_eq!(
        keys(&get_json(&s, &q("nameLikeIgnoreCase=%25placed")).await),
        ["orderPlaced"]
    );
    assert_eq!(
        keys(&get_json(&s, &q("resourceName=events/orderPlaced.event")).await).len(),
        1
    );
    assert_eq!(
        keys(&get_json(&s, &q("resourceNameLike=%25.event")).await).len(),
        1
    );
    assert_eq!(keys(&get_json(&s, &q("version=2")).await).len(), 0);
    assert_eq!(
        keys(&get_json(&s, &q(&format!("deploymentId={dep_id}"))).await).len(),
        1
    );
    assert_eq!(keys(&get_json(&s, &q("deploymentId=other")).await).len(), 0);
    assert_eq!(keys(&get_json(&s, &q("tenantId=acme")).await).len(), 0);
    assert_eq!(
        keys(&get_json(&s, &q("withoutTenantId=true")).await).len(),
        1
    );

    // channels: all three, jms included, with their types
    let v = get_json(
        &s,
        &format!("{REPO}/channel-definitions?deploymentId={dep_id}&sort=key"),
    )
    .await;
    assert_eq!(keys(&v), ["legacyQueue", "ordersOut", "ordersWebhook"]);
    let q = |query: &str| format!("{REPO}/channel-definitions?{query}");
    assert_eq!(
        keys(&get_json(&s, &q("onlyInbound=true&sort=key")).await),
        ["legacyQueue", "ordersWebhook"]
    );
    assert_eq!(
        keys(&get_json(&s, &q("onlyOutbound=true")).await),
        ["ordersOut"]
    );
    assert_eq!(
        keys(&get_json(&s, &q("implementation=jms")).await),
        ["legacyQueue"]
    );
    assert_eq!(
        keys(&get_json(&s, &q("category=orders&sort=key&order=desc")).await),
        ["ordersWebhook", "ordersOut"]
    );
    assert_eq!(
        keys(&get_json(&s, &q("categoryNotEquals=orders")).await),
        ["legacyQueue"]
    );
    assert_eq!(
        keys(&get_json(&s, &q("key=ordersOut&latest=true")).await),
        ["ordersOut"]
    );
    let out = get_json(&s, &q("key=ordersOut")).await["data"][0].clone();
    assert_eq!(out["type"], "outbound");
    assert_eq!(out["implementation"], "http");
    assert_eq!(out["channelType"], "outbound");
    assert_eq!(out["description"], "POSTs every order to the warehouse");
    assert_eq!(out["resourceName"], "ordersOut.channel");
    let out_id = out["id"].as_str().unwrap().to_owned();
    assert_eq!(
        out["url"],
        s.url(&format!("{REPO}/channel-definitions/{}", seg(&out_id)))
    );
    let jms = get_json(&s, &q("key=legacyQueue")).await["data"][0].clone();
    let jms_id = jms["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (&jms["implementation"], &jms["type"], &jms["channelType"]),
        (&json!("jms"), &json!("inbound"), &json!("inbound"))
    );
    let model = get_json(
        &s,
        &format!("{REPO}/channel-definitions/{}/model", seg(&jms_id)),
    )
    .await;
    assert_eq!(model, jms_channel());
    let a = api(
        &s,
        Method::GET,
        &format!("{REPO}/channel-definitions/{}/resourcedata", seg(&jms_id)),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&a.body).unwrap(),
        jms_channel()
    );

    // the deployment's resources say what each defines
    let base = format!("{REPO}/deployments/{}", seg(&dep_id));
    for (resource, kind) in [
        ("events%2ForderPlaced.event", "eventDefinition"),
        ("ordersOut.channel", "channelDefinition"),
        ("OrderEvents.json", "serviceDefinition"),
        ("scripts%2Fnotes.txt", "resource"),
    ] {
        let r = get_json(&s, &format!("{base}/resources/{resource}")).await;
        assert_eq!(r["type"], kind, "{resource}: {r}");
    }

    // a second deployment of the event makes version 2, the latest
    let again = deploy(
        &s,
        "orderPlaced.event",
        "orderPlaced.event",
        &serde_json::to_vec(&order_event()).unwrap(),
    )
    .await;
    let v = get_json(
        &s,
        &format!("{REPO}/event-definitions?key=orderPlaced&sort=version&order=desc"),
    )
    .await;
    assert_eq!(v["total"], 2);
    assert_eq!(v["data"][0]["version"], 2);
    assert_eq!(v["data"][0]["deploymentId"], again["id"]);
    let v = get_json(
        &s,
        &format!("{REPO}/event-definitions?key=orderPlaced&latest=true"),
    )
    .await;
    assert_eq!(ids(&v).len(), 1);
    assert_eq!(v["data"][0]["version"], 2);

    // deleting the first deployment takes its definitions away
    assert_eq!(api(&s, Method::DELETE, &base).await.status, 204);
    admin_error(
        &api(
            &s,
            Method::GET,
            &format!("{REPO}/event-definitions/{}", seg(&ev_id)),
        )
        .await,
        404,
    );
    let v = get_json(&s, &format!("{REPO}/channel-definitions")).await;
    assert_eq!(v["total"], 0, "{v}");
    s.stop().await;
}

async fn event_instances_check_the_payload_then_send_the_event_out(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), &backend).await;
    let (out_url, got) = receiver().await;
    deploy(
        &s,
        "orders-events.zip",
        "bundle.zip",
        &orders_zip(&format!("{out_url}/orders")),
    )
    .await;

    let m = admin_error(
        &send(
            &s,
            &json!({"eventDefinitionKey": "orderPlaced",
                          "eventPayload": {"orderId": "o-1", "amount": "lots"}}),
        )
        .await,
        400,
    );
    assert!(m.contains("amount") && m.contains("double"), "{m}");
    assert!(!m.contains("orderId"), "{m}");
    let m = admin_error(
        &send(
            &s,
            &json!({"eventDefinitionKey": "orderPlaced", "channelDefinitionKey": "noSuch",
                          "eventPayload": {"orderId": "o-1"}}),
        )
        .await,
        404,
    );
    assert_eq!(m, "No channel definition found for key 'noSuch'");
    assert!(got.lock().unwrap().is_empty(), "a refused event went out");

    // sent by key, through its webhook channel: 201, no body; it reaches the outbound
    // channel with the declared fields only
    let a = send(
        &s,
        &json!({"eventDefinitionKey": "orderPlaced", "channelDefinitionKey": "ordersWebhook",
                "eventPayload": {"orderId": "o-1", "amount": 19.99, "undeclared": true}}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", text(&a));
    assert!(a.body.is_empty());
    let seen = received(&got).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].path, "/orders");
    assert!(seen[0]
        .content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("application/json")));
    let body: Value = serde_json::from_slice(&seen[0].body).expect("the channel got JSON");
    let body_text = body.to_string();
    assert!(
        body_text.contains("o-1") && body_text.contains("19.99"),
        "{body}"
    );
    assert!(!body_text.contains("undeclared"), "{body}");

    // by id, without a channel (it defaults to the event's inbound one)
    let ev = get_json(&s, &format!("{REPO}/event-definitions?key=orderPlaced")).await;
    let ev_id = ev["data"][0]["id"].as_str().unwrap().to_owned();
    let a = send(
        &s,
        &json!({"eventDefinitionId": ev_id, "eventPayload": {"orderId": "o-2"}}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", text(&a));
    s.stop().await;
}

crate::both_backends!(
    every_endpoint_needs_basic_credentials_and_the_privilege,
    unknown_paths_are_404_and_other_methods_405_with_allow,
    the_engine_is_flowables_default,
    deployments_are_the_same_in_both_views_with_their_urls_under_each,
    definition_queries_check_every_parameter_with_flowables_texts,
    event_instances_refuse_bad_bodies_with_flowables_texts,
    an_event_and_its_channels_deployed_in_a_zip_show_through_the_literal_paths,
    event_instances_check_the_payload_then_send_the_event_out,
);
