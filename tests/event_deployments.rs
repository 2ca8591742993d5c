//! Deployments of Event Registry definitions over real sockets: `.event` and `.channel`
//! resources alone, in `.zip`/`.bar` archives and beside service definitions; every
//! problem of a refused deployment listed; versions per key; persistence across restarts.
//!
//! Each test starts a real server on 127.0.0.1:0 that mounts the `core` fixture and enables
//! the admin API on its own temporary data folder.

mod support;

use std::path::Path;

use bytes::Bytes;
use http::Method;
use serde_json::{json, Value};
use support::deploy::zip_of;
use support::pg::Backend;
use support::{basic, fixture, request, Answer, TestServer};

const ADMIN: &str = "er-admin";
const PASSWORD: &str = "er-s3cret-pw";
/// The Event Registry's repository: its definition queries answer from the installed
/// catalog.
const ER: &str = "/event-registry-api/event-registry-repository";

// === helpers ===

async fn start(data: &Path, backend: &Backend) -> TestServer {
    TestServer::start_admin_config(&fixture("core"), data, ADMIN, PASSWORD, |c| {
        backend.configure(c)
    })
    .await
}

/// An admin request with the bootstrap admin's credentials.
async fn api(s: &TestServer, method: Method, path: &str) -> Answer {
    let auth = basic(ADMIN, PASSWORD);
    request(
        method,
        &s.url(path),
        &[("authorization", &auth)],
        Bytes::new(),
    )
    .await
}

/// POSTs one file part named `field` with `filename` to the deployments of `repo`.
async fn upload(s: &TestServer, repo: &str, field: &str, filename: &str, bytes: &[u8]) -> Answer {
    support::deploy::upload(s, repo, (ADMIN, PASSWORD), field, filename, bytes).await
}

/// Deploys one file at `/api/repository`; asserts 201 and returns the deployment JSON.
async fn deploy(s: &TestServer, filename: &str, bytes: &[u8]) -> Value {
    let a = upload(s, "/api/repository", filename, filename, bytes).await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    a.json()
}

/// Asserts the admin error shape and status; returns the answer's JSON.
fn admin_error(a: &Answer, status: u16) -> Value {
    assert_eq!(
        a.status.as_u16(),
        status,
        "body: {}",
        String::from_utf8_lossy(&a.body)
    );
    let v = a.json();
    assert_eq!(v["statusCode"], status);
    assert!(v["errorMessage"].is_string(), "{v}");
    v
}

fn bytes_of(v: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).unwrap()
}

/// The EventModel `orderPlaced`, carried in by `ordersWebhook`, out by `ordersToRabbit`.
fn order_placed(name: &str) -> Vec<u8> {
    bytes_of(&json!({
        "key": "orderPlaced", "name": name,
        "inboundChannelKeys": ["ordersWebhook"], "outboundChannelKeys": ["ordersToRabbit"],
        "correlationParameters": [{"name": "orderId", "type": "string"}],
        "payload": [{"name": "orderId", "type": "string"}, {"name": "amount", "type": "double"}]
    }))
}

fn webhook_channel() -> Vec<u8> {
    bytes_of(&json!({
        "key": "ordersWebhook", "category": "orders", "name": "Orders webhook",
        "description": "Orders posted by the shop",
        "channelType": "inbound", "type": "http", "deserializerType": "json",
        "channelEventKeyDetection": {"fixedValue": "orderPlaced"}
    }))
}

fn rabbit_channel() -> Vec<u8> {
    bytes_of(&json!({
        "key": "ordersToRabbit", "name": "Orders to RabbitMQ",
        "channelType": "outbound", "type": "rabbit", "destination": "fss-test-orders",
        "serializerType": "json"
    }))
}

/// A service with one echo action.
fn echo_service(name: &str) -> Vec<u8> {
    bytes_of(&json!({"name": name, "messageActions": [{"name": "Ping",
        "inputs": [{"name": "In"}], "outputs": [{"name": "In"}],
        "process": {"builtin": "echo"}}]}))
}

/// The `{key, version}` of each entry of the list `field` of a deployment.
fn listed(d: &Value, field: &str) -> Vec<(String, i64)> {
    d[field]
        .as_array()
        .unwrap_or_else(|| panic!("{field} is a list: {d}"))
        .iter()
        .map(|e| {
            assert!(e["id"].as_str().is_some_and(|id| id.len() == 36), "{e}");
            (
                e["key"].as_str().unwrap().to_owned(),
                e["version"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The `(key, version, deploymentId)` of each definition a definitions query answers.
async fn query(s: &TestServer, what: &str, query: &str) -> Vec<(String, i64, String)> {
    let a = api(s, Method::GET, &format!("{ER}/{what}{query}")).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let mut got: Vec<(String, i64, String)> = a.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["key"].as_str().unwrap().to_owned(),
                d["version"].as_i64().unwrap(),
                d["deploymentId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    got
}

fn id_of(d: &Value) -> String {
    d["id"].as_str().expect("a deployment has an id").to_owned()
}

/// The names of the folders under `<data>/deployments`.
fn folders(data: &Path) -> Vec<String> {
    std::fs::read_dir(data.join("deployments"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

// === tests ===

async fn a_zip_of_an_event_two_channels_and_a_service_deploys_them_all(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), &backend).await;
    let z = zip_of(&[
        ("orderPlaced.event", &order_placed("Order placed")),
        ("channels/ordersWebhook.channel", &webhook_channel()),
        ("channels/ordersToRabbit.channel", &rabbit_channel()),
        ("OrderEvents.json", &echo_service("OrderEvents")),
        ("README.txt", b"not a definition"),
    ]);
    let d = deploy(&s, "orders.zip", &z).await;
    assert_eq!(listed(&d, "eventDefinitions"), [("orderPlaced".into(), 1)]);
    assert_eq!(
        listed(&d, "channelDefinitions"),
        [("ordersToRabbit".into(), 1), ("ordersWebhook".into(), 1)]
    );
    assert_eq!(d["services"][0]["key"], "OrderEvents");
    // Installed: the Event Registry lists them, with what their documents say.
    let id = id_of(&d);
    assert_eq!(
        query(&s, "event-definitions", "").await,
        [("orderPlaced".into(), 1, id.clone())]
    );
    assert_eq!(
        query(&s, "channel-definitions", "").await,
        [
            ("ordersToRabbit".into(), 1, id.clone()),
            ("ordersWebhook".into(), 1, id.clone())
        ]
    );
    let a = api(
        &s,
        Method::GET,
        &format!("{ER}/channel-definitions?key=ordersWebhook"),
    )
    .await;
    let hook = &a.json()["data"][0];
    assert_eq!(hook["name"], "Orders webhook");
    assert_eq!(hook["category"], "orders");
    assert_eq!(hook["description"], "Orders posted by the shop");
    assert_eq!(hook["resourceName"], "channels/ordersWebhook.channel");
    let a = api(
        &s,
        Method::GET,
        &format!("{ER}/channel-definitions?key=ordersToRabbit"),
    )
    .await;
    assert_eq!(a.json()["data"][0]["category"], Value::Null);
    assert_eq!(
        support::get(&s.url("/fs/OrderEvents/metadata"))
            .await
            .status,
        200
    );

    // Each resource says what it defines; its path inside the archive is its name.
    let a = api(
        &s,
        Method::GET,
        &format!("/api/repository/deployments/{id}/resources"),
    )
    .await;
    assert_eq!(a.status, 200);
    let types: Vec<(String, String)> = a
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (name, kind) in [
        ("orderPlaced.event", "eventDefinition"),
        ("channels/ordersWebhook.channel", "channelDefinition"),
        ("channels/ordersToRabbit.channel", "channelDefinition"),
        ("OrderEvents.json", "serviceDefinition"),
        ("README.txt", "resource"),
    ] {
        assert!(
            types.contains(&(name.to_owned(), kind.to_owned())),
            "{name} is a {kind}: {types:?}"
        );
    }
    let a = api(
        &s,
        Method::GET,
        &format!("/api/repository/deployments/{id}/resourcedata/channels%2FordersWebhook.channel"),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_eq!(a.body, Bytes::from(webhook_channel()));

    // One definition alone, in a single-file upload.
    let e = deploy(
        &s,
        "invoiceSent.event",
        &bytes_of(&json!({"key": "invoiceSent"})),
    )
    .await;
    assert_eq!(listed(&e, "eventDefinitions"), [("invoiceSent".into(), 1)]);
    assert_eq!(listed(&e, "channelDefinitions"), []);
    assert_eq!(e["services"], json!([]));
    let c = deploy(&s, "hook.channel", &webhook_channel()).await;
    assert_eq!(
        listed(&c, "channelDefinitions"),
        [("ordersWebhook".into(), 2)]
    );
    assert_eq!(listed(&c, "eventDefinitions"), []);
    // The type comes from the field name when the file name has none (D7).
    let a = upload(
        &s,
        "/api/repository",
        "x.channel",
        "blob",
        &rabbit_channel(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(
        listed(&a.json(), "channelDefinitions"),
        [("ordersToRabbit".into(), 2)]
    );

    // A .bar is an archive like a .zip; definitions alone make a deployment.
    let bar = zip_of(&[(
        "events/shipped.event",
        &bytes_of(&json!({"key": "shipped"})),
    )]);
    let b = deploy(&s, "shipping.bar", &bar).await;
    assert_eq!(listed(&b, "eventDefinitions"), [("shipped".into(), 1)]);
    let a = api(&s, Method::GET, "/api/repository/deployments").await;
    assert_eq!(a.json()["total"], 5);
    s.stop().await;
}

async fn a_bad_event_and_a_bad_channel_are_refused_with_every_problem(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), &backend).await;
    let z = zip_of(&[
        (
            "orders/bad.event",
            &bytes_of(&json!({"payload": [{"name": "n", "type": "money"}]})),
        ),
        (
            "bad.channel",
            &bytes_of(&json!({"key": "c", "channelType": "sideways", "type": "rabbit"})),
        ),
        ("good.event", &order_placed("fine")),
        ("again.event", &order_placed("the same key")),
        ("Fine.json", &echo_service("FineService")),
    ]);
    let a = upload(&s, "/api/repository", "bad.zip", "bad.zip", &z).await;
    let v = admin_error(&a, 400);
    let problems: Vec<(String, String)> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert!(p["message"].as_str().is_some_and(|m| !m.is_empty()), "{p}");
            (
                p["resource"].as_str().unwrap().to_owned(),
                p["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for want in [
        ("orders/bad.event", "/key"),
        ("orders/bad.event", "/payload/0/type"),
        ("bad.channel", "/channelType"),
        ("bad.channel", "/destination"),
        ("again.event", "/key"),
    ] {
        assert!(
            problems.contains(&(want.0.to_owned(), want.1.to_owned())),
            "{want:?} in {problems:?}"
        );
    }
    let msg = v["errorMessage"].as_str().unwrap();
    assert!(
        msg.contains("orders/bad.event") && msg.contains("bad.channel") && msg.contains("money"),
        "{msg}"
    );
    // Nothing of it is deployed, mounted or left on disk.
    let a = api(&s, Method::GET, "/api/repository/deployments").await;
    assert_eq!(a.json()["total"], 0);
    assert_eq!(
        support::get(&s.url("/fs/FineService/metadata"))
            .await
            .status,
        404
    );
    assert!(
        folders(data.path()).is_empty(),
        "{:?}",
        folders(data.path())
    );
    assert_eq!(query(&s, "event-definitions", "").await, []);
    assert_eq!(query(&s, "channel-definitions", "").await, []);

    // A single bad file is refused the same way.
    let a = upload(&s, "/api/repository", "x.event", "x.event", b"{ not json").await;
    let v = admin_error(&a, 400);
    assert_eq!(v["problems"][0]["resource"], "x.event");
    // An archive without any definition says what it looks for.
    let z = zip_of(&[("notes/readme.txt", b"hi"), ("sub/nested.json", b"{}")]);
    let a = upload(&s, "/api/repository", "empty.zip", "empty.zip", &z).await;
    let msg = admin_error(&a, 400)["errorMessage"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        msg.contains("*.event") && msg.contains("*.channel") && msg.contains("*.json"),
        "{msg}"
    );
    assert!(
        folders(data.path()).is_empty(),
        "{:?}",
        folders(data.path())
    );
    s.stop().await;
}

async fn a_file_of_another_type_is_refused_naming_the_types(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), &backend).await;
    let a = upload(&s, "/api/repository", "notes.txt", "notes.txt", b"{}").await;
    let v = admin_error(&a, 400);
    assert_eq!(
        v["errorMessage"],
        "File must be of type .event, .channel, .json, .zip or .bar; got 'notes.txt'"
    );
    assert!(folders(data.path()).is_empty());
    s.stop().await;
}

async fn redeploying_a_key_makes_version_2_and_deleting_it_leaves_version_1(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), &backend).await;
    let first = deploy(&s, "orderPlaced.event", &order_placed("first")).await;
    let second = deploy(&s, "orderPlaced.event", &order_placed("second")).await;
    assert_eq!(
        listed(&first, "eventDefinitions"),
        [("orderPlaced".into(), 1)]
    );
    assert_eq!(
        listed(&second, "eventDefinitions"),
        [("orderPlaced".into(), 2)]
    );
    let latest = "?key=orderPlaced&latest=true";
    assert_eq!(
        query(&s, "event-definitions", latest).await,
        [("orderPlaced".into(), 2, id_of(&second))]
    );
    // Events and channels count their versions apart, even under one key.
    let same_key = bytes_of(&json!({"key": "orderPlaced", "channelType": "outbound",
        "type": "jms", "destination": "orders"}));
    let c = deploy(&s, "orderPlaced.channel", &same_key).await;
    assert_eq!(
        listed(&c, "channelDefinitions"),
        [("orderPlaced".into(), 1)]
    );

    let a = api(
        &s,
        Method::DELETE,
        &format!("/api/repository/deployments/{}", id_of(&second)),
    )
    .await;
    assert_eq!(a.status, 204);
    let a = api(
        &s,
        Method::GET,
        &format!("/api/repository/deployments/{}", id_of(&second)),
    )
    .await;
    admin_error(&a, 404);
    let a = api(
        &s,
        Method::GET,
        &format!("/api/repository/deployments/{}", id_of(&first)),
    )
    .await;
    assert_eq!(
        listed(&a.json(), "eventDefinitions"),
        [("orderPlaced".into(), 1)]
    );
    // Version 1 is the latest again, and version 2 is gone from the catalog.
    assert_eq!(
        query(&s, "event-definitions", latest).await,
        [("orderPlaced".into(), 1, id_of(&first))]
    );
    assert_eq!(
        query(&s, "event-definitions", "?key=orderPlaced").await,
        [("orderPlaced".into(), 1, id_of(&first))]
    );
    // Version 1 is the newest now: the next deployment of the key makes version 2 again.
    let third = deploy(&s, "orderPlaced.event", &order_placed("third")).await;
    assert_eq!(
        listed(&third, "eventDefinitions"),
        [("orderPlaced".into(), 2)]
    );
    s.stop().await;
}

async fn definitions_ids_and_versions_survive_a_restart(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), &backend).await;
    let z = zip_of(&[
        ("orderPlaced.event", &order_placed("v1")),
        ("ordersWebhook.channel", &webhook_channel()),
    ]);
    // Through the Event Registry's path, the same deployments as /api/repository.
    let a = upload(&s, ER, "orders", "orders.bar", &z).await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let first = a.json();
    let second = deploy(&s, "orderPlaced.event", &order_placed("v2")).await;
    let path = |d: &Value| format!("/api/repository/deployments/{}", id_of(d));
    let before_first = api(&s, Method::GET, &path(&first)).await.json();
    let before_second = api(&s, Method::GET, &path(&second)).await.json();
    let events_before = query(&s, "event-definitions", "").await;
    let channels_before = query(&s, "channel-definitions", "").await;
    assert_eq!(events_before.len(), 2);
    s.stop().await;

    let s = start(data.path(), &backend).await;
    for before in [&before_first, &before_second] {
        let a = api(&s, Method::GET, &path(before)).await;
        assert_eq!(a.status, 200);
        let after = a.json();
        for field in ["eventDefinitions", "channelDefinitions", "services", "name"] {
            assert_eq!(after[field], before[field], "{field}");
        }
    }
    assert_eq!(
        listed(&before_second, "eventDefinitions"),
        [("orderPlaced".into(), 2)]
    );
    // Installed again at start, from the files of the deployments.
    assert_eq!(query(&s, "event-definitions", "").await, events_before);
    assert_eq!(query(&s, "channel-definitions", "").await, channels_before);
    let a = api(
        &s,
        Method::GET,
        &format!("{ER}/event-definitions?key=orderPlaced&latest=true"),
    )
    .await;
    assert_eq!(
        a.json()["data"][0]["id"],
        before_second["eventDefinitions"][0]["id"]
    );
    // Versions go on from what was persisted.
    let third = deploy(&s, "orderPlaced.event", &order_placed("v3")).await;
    assert_eq!(
        listed(&third, "eventDefinitions"),
        [("orderPlaced".into(), 3)]
    );
    s.stop().await;
}

crate::both_backends!(
    a_zip_of_an_event_two_channels_and_a_service_deploys_them_all,
    a_bad_event_and_a_bad_channel_are_refused_with_every_problem,
    a_file_of_another_type_is_refused_naming_the_types,
    redeploying_a_key_makes_version_2_and_deleting_it_leaves_version_1,
    definitions_ids_and_versions_survive_a_restart,
);
