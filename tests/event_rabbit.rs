//! RabbitMQ event channels end to end, against a real broker (skipped when none answers,
//! unless `FSS_REQUIRE_RABBITMQ=1`): a deployed outbound `rabbit` channel publishes sent
//! events to its queue, a deployed inbound one turns the messages of its queue into
//! events that run the subscribing action, and a broker outage (every connection cut
//! through a loopback proxy, new ones refused for a second) loses none of them.
//!
//! Each test deploys one zip through the admin API: the event `orderPlaced` (payload
//! `orderId` string, `amount` double), its inbound and outbound rabbit channels on fresh
//! queues, and the service `OrderEvents` whose message action subscribes to the event and
//! runs a Python command that appends its inputs to a file.

mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use http::Method;
use serde_json::{json, Value};
use support::rabbit::{self, Amqp, Proxy};
use support::{basic, request, Answer, TestServer};

const ADMIN: &str = "rabbit-admin";
const PASSWORD: &str = "s3cret-rabbit-pw";

// === helpers ===

/// A server with the admin API on a fresh data folder whose broker is `amqp_url`.
async fn start(data: &Path, amqp_url: String) -> TestServer {
    let ops = tempfile::tempdir().unwrap();
    TestServer::start_admin_config(ops.path(), data, ADMIN, PASSWORD, move |c| {
        c.amqp_url = amqp_url;
    })
    .await
}

/// The deployment zip: the event, its two rabbit channels and the subscribing service,
/// whose command appends `{"inputs": ...}` lines to `log`.
fn orders_zip(inbound_queue: &str, outbound_queue: &str, log: &Path) -> Vec<u8> {
    let event = json!({"key": "orderPlaced", "name": "Order placed",
        "inboundChannelKeys": ["ordersIn"], "outboundChannelKeys": ["ordersOut"],
        "correlationParameters": [{"name": "orderId", "type": "string"}],
        "payload": [{"name": "orderId", "type": "string"}, {"name": "amount", "type": "double"}]});
    let inbound = json!({"key": "ordersIn", "name": "Orders from RabbitMQ",
        "channelType": "inbound", "type": "rabbit", "destination": inbound_queue,
        "deserializerType": "json", "channelEventKeyDetection": {"fixedValue": "orderPlaced"}});
    let outbound = json!({"key": "ordersOut", "name": "Orders to RabbitMQ",
        "channelType": "outbound", "type": "rabbit", "destination": outbound_queue,
        "serializerType": "json"});
    let service = json!({"name": "OrderEvents", "messageActions": [
        {"name": "Record Order", "events": ["orderPlaced"],
         "inputs": [{"name": "orderId", "type": "String"}, {"name": "amount", "type": "Number"}],
         "process": {"command": ["python3", "scripts/record.py"]}}]});
    let record = format!(
        "import json, sys\n\
         doc = json.load(sys.stdin)\n\
         with open({log:?}, 'a', encoding='utf-8') as f:\n    \
             f.write(json.dumps({{'inputs': doc.get('inputs')}}) + '\\n')\n\
         print(json.dumps({{'outputs': {{}}}}))\n",
        log = log.display().to_string()
    );
    let docs = [event, inbound, outbound, service].map(|d| d.to_string());
    support::deploy::zip_of(&[
        ("orderPlaced.event", docs[0].as_bytes()),
        ("ordersIn.channel", docs[1].as_bytes()),
        ("ordersOut.channel", docs[2].as_bytes()),
        ("OrderEvents.json", docs[3].as_bytes()),
        ("scripts/record.py", record.as_bytes()),
    ])
}

/// Deploys `zip` through `/api/repository/deployments`; asserts 201.
async fn deploy(s: &TestServer, zip: &[u8]) {
    let a = support::deploy::upload(
        s,
        "/api/repository",
        (ADMIN, PASSWORD),
        "orders-events.zip",
        "bundle.zip",
        zip,
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
}

/// An admin POST of JSON.
async fn admin_post(s: &TestServer, path: &str, body: &Value) -> Answer {
    let auth = basic(ADMIN, PASSWORD);
    request(
        Method::POST,
        &s.url(path),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        serde_json::to_vec(body).unwrap(),
    )
    .await
}

/// The `inputs` of every line the subscriber's command wrote so far.
fn recorded(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v["inputs"].clone())
        .collect()
}

/// The distinct `orderId`s the subscriber ran with.
fn recorded_ids(log: &Path) -> HashSet<String> {
    recorded(log)
        .iter()
        .filter_map(|i| i["orderId"].as_str().map(str::to_owned))
        .collect()
}

/// Waits until `cond` holds, failing with `what` after `limit`.
async fn eventually(limit: Duration, what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    loop {
        if cond().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn log_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("subscriber.log")
}

// === tests ===

#[tokio::test]
async fn sent_event_is_published_to_the_outbound_rabbit_queue() {
    let Some(url) = rabbit::broker().await else {
        return;
    };
    let mut amqp = Amqp::open(&url).await;
    let inbound = amqp.queue("orders-in").await;
    let outbound = amqp.queue("orders-out").await;
    let data = tempfile::tempdir().unwrap();
    let log = log_path(&data);
    let s = start(data.path(), url).await;
    deploy(&s, &orders_zip(&inbound, &outbound, &log)).await;

    let a = admin_post(
        &s,
        "/event-registry-api/event-registry-runtime/event-instances",
        &json!({"eventDefinitionKey": "orderPlaced",
                "eventPayload": {"orderId": "o-out-1", "amount": 19.99, "note": "ignored"}}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    assert!(a.body.is_empty());

    let body = amqp
        .next_message(&outbound, Duration::from_secs(10))
        .await
        .expect("the outbound queue holds the event");
    let v: Value = serde_json::from_slice(&body).expect("the message is JSON");
    assert_eq!(v["orderId"], "o-out-1", "{v}");
    assert_eq!(v["amount"], 19.99, "{v}");
    assert!(
        v.get("note").is_none(),
        "undeclared fields are dropped: {v}"
    );
    // The subscriber ran too.
    eventually(
        Duration::from_secs(10),
        "the subscriber to run",
        async || recorded_ids(&log).contains("o-out-1"),
    )
    .await;
    s.stop().await;
    amqp.cleanup().await;
}

#[tokio::test]
async fn message_on_the_inbound_queue_runs_the_subscribing_action() {
    let Some(url) = rabbit::broker().await else {
        return;
    };
    let mut amqp = Amqp::open(&url).await;
    let inbound = amqp.queue("orders-in").await;
    let outbound = amqp.queue("orders-out").await;
    let data = tempfile::tempdir().unwrap();
    let log = log_path(&data);
    let s = start(data.path(), url).await;
    deploy(&s, &orders_zip(&inbound, &outbound, &log)).await;

    amqp.publish(&inbound, br#"{"orderId":"o-in-1","amount":5.5}"#)
        .await;
    eventually(Duration::from_secs(15), "the action to run", async || {
        recorded_ids(&log).contains("o-in-1")
    })
    .await;
    let inputs = recorded(&log);
    let run = inputs
        .iter()
        .find(|i| i["orderId"] == "o-in-1")
        .expect("recorded");
    assert_eq!(run["amount"], 5.5, "{run}");
    // Acknowledged once handled: nothing is left on the queue.
    eventually(
        Duration::from_secs(10),
        "the queue to be empty",
        async || amqp.counts(&inbound).await.0 == 0,
    )
    .await;
    // A message that is not an event is rejected (4xx), not requeued forever.
    amqp.publish(&inbound, b"not json").await;
    amqp.publish(&inbound, br#"{"orderId":"o-in-2","amount":1}"#)
        .await;
    eventually(
        Duration::from_secs(15),
        "the next message to run",
        async || recorded_ids(&log).contains("o-in-2"),
    )
    .await;
    eventually(
        Duration::from_secs(10),
        "the queue to be empty",
        async || amqp.counts(&inbound).await.0 == 0,
    )
    .await;
    s.stop().await;
    amqp.cleanup().await;
}

#[tokio::test]
async fn broker_outage_during_consumption_loses_no_message() {
    let Some(url) = rabbit::broker().await else {
        return;
    };
    const N: usize = 40;
    let mut amqp = Amqp::open(&url).await;
    let inbound = amqp.queue("orders-in").await;
    let outbound = amqp.queue("orders-out").await;
    let proxy = Proxy::start(rabbit::endpoint(&url)).await;
    let data = tempfile::tempdir().unwrap();
    let log = log_path(&data);
    let s = start(data.path(), proxy.url(&url)).await;
    deploy(&s, &orders_zip(&inbound, &outbound, &log)).await;

    let publish = async |range: std::ops::Range<usize>| {
        for i in range {
            let body = json!({"orderId": format!("o-{i}"), "amount": i as f64});
            amqp.publish(&inbound, body.to_string().as_bytes()).await;
        }
    };
    publish(0..N / 2).await;
    eventually(
        Duration::from_secs(30),
        "consumption under way",
        async || !recorded_ids(&log).is_empty(),
    )
    .await;
    // The outage: every fss connection cut mid-consumption and new ones refused for a
    // second, while the rest of the messages reach the broker.
    proxy.refuse(true);
    proxy.cut_all();
    let before = recorded_ids(&log).len();
    publish(N / 2..N).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.refuse(false);

    eventually(
        Duration::from_secs(60),
        "every message to run",
        async || recorded_ids(&log).len() == N,
    )
    .await;
    assert!(before < N, "the outage came after every message had run");
    eventually(
        Duration::from_secs(10),
        "the queue to be empty",
        async || amqp.counts(&inbound).await.0 == 0,
    )
    .await;
    // Stopping fss closes its consumer; anything it had not acknowledged would return.
    s.stop().await;
    eventually(
        Duration::from_secs(10),
        "fss's consumer to end",
        async || amqp.counts(&inbound).await.1 == 0,
    )
    .await;
    assert_eq!(amqp.counts(&inbound).await, (0, 0));
    drop(proxy);
    amqp.cleanup().await;
}
