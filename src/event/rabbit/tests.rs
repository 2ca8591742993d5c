//! The broker against a real RabbitMQ (skipped when none answers, unless
//! `FSS_REQUIRE_RABBITMQ=1`), and outages simulated by a loopback TCP proxy in front of
//! it, so that the machine's broker is never stopped.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::consumer::Backoff;
use super::*;
use crate::event::catalog::DefinitionInfo;
use crate::event::model::parse_channel;

const DEFAULT_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The broker's URL, or `None` (with a note on stderr) when nothing answers there.
async fn broker_url() -> Option<String> {
    let url = std::env::var("FSS_AMQP_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let target = endpoint(&url);
    let reachable = matches!(
        tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(&target)).await,
        Ok(Ok(_))
    );
    if reachable {
        return Some(url);
    }
    if std::env::var("FSS_REQUIRE_RABBITMQ").as_deref() == Ok("1") {
        panic!("FSS_REQUIRE_RABBITMQ=1 but no RabbitMQ broker answers at {target}");
    }
    eprintln!(
        "SKIPPED: no RabbitMQ broker at {target} (set FSS_AMQP_URL, or install rabbitmq-server)"
    );
    None
}

/// The test's own connection to the broker, beside the one under test.
struct Side {
    connection: Connection,
    channel: Channel,
}

impl Side {
    async fn open(url: &str) -> Side {
        let connection = Connection::connect(url, ConnectionProperties::default())
            .await
            .expect("the test connects to the broker");
        let channel = connection.create_channel().await.expect("test channel");
        Side {
            connection,
            channel,
        }
    }

    /// Declares a fresh durable queue and returns its name.
    async fn queue(&self, what: &str) -> String {
        let name = format!("fss-test-{what}-{}", uuid::Uuid::new_v4().simple());
        self.channel
            .queue_declare(
                name.as_str().into(),
                QueueDeclareOptions::durable(),
                expiring(),
            )
            .await
            .expect("declare test queue");
        name
    }

    async fn publish(&self, queue: &str, body: &[u8]) {
        self.channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default(),
            )
            .await
            .expect("test publish");
    }

    /// (ready messages, consumers) of `queue`.
    async fn counts(&self, queue: &str) -> (u32, u32) {
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let q = self
            .channel
            .queue_declare(queue.into(), passive, FieldTable::default())
            .await
            .expect("the test queue exists");
        (q.message_count(), q.consumer_count())
    }

    async fn delete(&self, queue: &str) {
        let _ = self
            .channel
            .queue_delete(queue.into(), QueueDeleteOptions::default())
            .await;
    }

    async fn close(self) {
        let _ = self.connection.close(200, "test done".into()).await;
    }
}

/// Waits until `cond` holds, failing the test with `what` after `limit`.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if cond().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// An inbound rabbit channel definition consuming `queue`.
fn inbound(queue: &str) -> Arc<ChannelDefinition> {
    let doc = json!({
        "key": "ordersIn", "channelType": "inbound", "type": "rabbit", "destination": queue,
        "channelEventKeyDetection": {"fixedValue": "orderPlaced"}
    });
    let model = parse_channel("ordersIn.channel", doc.to_string().as_bytes())
        .expect("the test channel parses");
    Arc::new(ChannelDefinition {
        info: DefinitionInfo {
            id: uuid::Uuid::new_v4().to_string(),
            key: "ordersIn".into(),
            version: 1,
            name: None,
            category: None,
            description: None,
            deployment_id: "d1".into(),
            resource_name: "ordersIn.channel".into(),
            tenant_id: String::new(),
        },
        model,
    })
}

/// A handler that records the `id` of every message it is given, and answers with
/// `answer(id, times seen)`.
#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn handler(
        &self,
        answer: impl Fn(&str, usize) -> Result<()> + Send + Sync + 'static,
    ) -> Handler {
        let seen = self.seen.clone();
        let answer = Arc::new(answer);
        Arc::new(move |_channel, body: Bytes| {
            let seen = seen.clone();
            let answer = answer.clone();
            Box::pin(async move {
                let doc: Value = serde_json::from_slice(&body).expect("test bodies are JSON");
                let id = doc["id"].as_str().unwrap_or_default().to_owned();
                let times = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(id.clone());
                    seen.iter().filter(|s| **s == id).count()
                };
                // Long enough that a cut lands while handlers run.
                tokio::time::sleep(Duration::from_millis(5)).await;
                answer(&id, times)
            })
        })
    }

    fn calls(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    fn distinct(&self) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .collect::<HashSet<_>>()
            .len()
    }
}

/// A loopback TCP proxy in front of the broker that can cut every connection and refuse
/// new ones, to simulate an outage without touching the broker.
struct Proxy {
    addr: SocketAddr,
    refusing: Arc<AtomicBool>,
    /// While set, nothing the broker sends is passed on (a broker that stopped answering).
    stalled: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let refusing = Arc::new(AtomicBool::new(false));
        let stalled = Arc::new(AtomicBool::new(false));
        let (cut, _) = watch::channel(0u64);
        let task = tokio::spawn({
            let refusing = refusing.clone();
            let stalled = stalled.clone();
            let cut = cut.clone();
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if refusing.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let upstream = upstream.clone();
                    let stalled = stalled.clone();
                    let mut cut = cut.subscribe();
                    tokio::spawn(async move {
                        let Ok(outbound) = TcpStream::connect(&upstream).await else {
                            return;
                        };
                        let (mut from_client, mut to_client) = inbound.split();
                        let (mut from_broker, mut to_broker) = outbound.into_split();
                        let down = async {
                            let mut buf = vec![0u8; 16 * 1024];
                            loop {
                                let n = from_broker.read(&mut buf).await?;
                                if n == 0 {
                                    return Ok::<(), std::io::Error>(());
                                }
                                while stalled.load(Ordering::SeqCst) {
                                    tokio::time::sleep(Duration::from_millis(10)).await;
                                }
                                to_client.write_all(&buf[..n]).await?;
                            }
                        };
                        tokio::select! {
                            _ = tokio::io::copy(&mut from_client, &mut to_broker) => {}
                            _ = down => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            }
        });
        Proxy {
            addr,
            refusing,
            stalled,
            cut,
            task,
        }
    }

    /// The broker URL `url` pointed at this proxy.
    fn url(&self, url: &str) -> String {
        url.replacen(&endpoint(url), &self.addr.to_string(), 1)
    }

    /// Closes every proxied connection now.
    fn cut_all(&self) {
        self.cut.send_modify(|g| *g += 1);
    }

    fn refuse(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }

    fn stall(&self, stalled: bool) {
        self.stalled.store(stalled, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut_all();
        self.task.abort();
    }
}

#[test]
fn endpoint_names_host_and_port_only() {
    assert_eq!(
        endpoint("amqp://guest:s3cret@127.0.0.1:5672/%2f"),
        "127.0.0.1:5672"
    );
    assert_eq!(
        endpoint("amqp://u:p@rabbit.example/vh"),
        "rabbit.example:5672"
    );
    assert_eq!(
        endpoint("amqps://u:p@rabbit.example"),
        "rabbit.example:5671"
    );
    assert_eq!(endpoint("amqp://u:p@[::1]:5673/"), "[::1]:5673");
    assert_eq!(endpoint("amqp://[::1]"), "[::1]:5672");
    assert_eq!(endpoint("amqp://u:p%40x@h:1?heartbeat=5"), "h:1");
}

#[test]
fn backoff_doubles_to_ten_seconds_with_jitter() {
    let mut b = Backoff::default();
    let delays: Vec<Duration> = (0..10).map(|_| b.next_delay()).collect();
    assert!(delays[0] >= Duration::from_millis(100) && delays[0] <= Duration::from_millis(200));
    assert!(delays[1] >= Duration::from_millis(200) && delays[1] <= Duration::from_millis(400));
    for d in &delays[6..] {
        assert!(
            *d >= Duration::from_secs(5) && *d <= Duration::from_secs(10),
            "{d:?}"
        );
    }
    b.reset();
    assert!(b.next_delay() <= Duration::from_millis(200));
}

#[tokio::test]
async fn publish_is_confirmed_and_persistent_json() {
    let Some(url) = broker_url().await else {
        return;
    };
    let side = Side::open(&url).await;
    let queue = side.queue("publish").await;
    let broker = Broker::new(url);
    let body = Bytes::from_static(br#"{"orderId":"o-1","amount":12.5}"#);
    broker.publish("", &queue, body.clone()).await.unwrap();
    let got = side
        .channel
        .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .expect("the confirmed message is in the queue");
    assert_eq!(got.delivery.data, body.to_vec());
    let props = &got.delivery.properties;
    assert_eq!(*props.delivery_mode(), Some(2));
    assert_eq!(
        props.content_type().as_ref().map(|c| c.as_str()),
        Some("application/json")
    );
    side.delete(&queue).await;
    side.close().await;
}

#[tokio::test]
async fn publish_without_a_bound_queue_is_502() {
    let Some(url) = broker_url().await else {
        return;
    };
    let broker = Broker::new(url);
    let key = format!("fss-test-unbound-{}", uuid::Uuid::new_v4().simple());
    let e = broker
        .publish("", &key, Bytes::from_static(b"{}"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), 502, "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!(
            "no queue is bound to routing key '{key}' on the default exchange"
        )),
        "{msg}"
    );
    assert!(!msg.contains("guest"), "{msg}");
}

#[tokio::test]
async fn publish_to_a_missing_exchange_is_502_and_the_next_publish_works() {
    let Some(url) = broker_url().await else {
        return;
    };
    let side = Side::open(&url).await;
    let queue = side.queue("after-missing-exchange").await;
    let broker = Broker::new(url);
    let exchange = format!("fss-test-missing-{}", uuid::Uuid::new_v4().simple());
    let e = broker
        .publish(&exchange, "k", Bytes::from_static(b"{}"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), 502, "{e}");
    assert!(e.to_string().contains("refused the message"), "{e}");
    // The broker closed the publishing channel; the next publish opens another.
    broker
        .publish("", &queue, Bytes::from_static(b"{\"n\":1}"))
        .await
        .unwrap();
    assert_eq!(side.counts(&queue).await.0, 1);
    side.delete(&queue).await;
    side.close().await;
}

#[tokio::test]
async fn unreachable_broker_is_503_fast_without_credentials() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let broker = Broker::new(format!("amqp://fss:s3cret-pw@127.0.0.1:{port}/%2f"));
    let started = Instant::now();
    let e = broker
        .publish("", "q", Bytes::from_static(b"{}"))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(e.status(), 503, "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "the RabbitMQ broker at 127.0.0.1:{port} cannot be reached: "
        )),
        "{msg}"
    );
    assert!(!msg.contains("s3cret") && !msg.contains("fss:"), "{msg}");
}

#[tokio::test]
async fn publish_reconnects_after_the_connection_was_lost() {
    let Some(url) = broker_url().await else {
        return;
    };
    let side = Side::open(&url).await;
    let queue = side.queue("republish").await;
    let proxy = Proxy::start(endpoint(&url)).await;
    let broker = Broker::new(proxy.url(&url));
    broker
        .publish("", &queue, Bytes::from_static(b"{\"n\":1}"))
        .await
        .unwrap();
    proxy.cut_all();
    let link = broker.link.clone();
    eventually(Duration::from_secs(10), "the cut to be noticed", || {
        let link = link.clone();
        async move {
            let slot = link.connection.lock().await;
            slot.as_ref().is_some_and(|c| !c.status().connected())
        }
    })
    .await;
    broker
        .publish("", &queue, Bytes::from_static(b"{\"n\":2}"))
        .await
        .unwrap();
    assert_eq!(side.counts(&queue).await.0, 2);
    // While the proxy refuses, the broker is unreachable: 503.
    proxy.refuse(true);
    proxy.cut_all();
    let link = broker.link.clone();
    eventually(
        Duration::from_secs(10),
        "the second cut to be noticed",
        || {
            let link = link.clone();
            async move {
                let slot = link.connection.lock().await;
                slot.as_ref().is_some_and(|c| !c.status().connected())
            }
        },
    )
    .await;
    let e = broker
        .publish("", &queue, Bytes::from_static(b"{\"n\":3}"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), 503, "{e}");
    side.delete(&queue).await;
    side.close().await;
}

#[tokio::test]
async fn publish_without_a_confirm_in_time_is_504() {
    let Some(url) = broker_url().await else {
        return;
    };
    let side = Side::open(&url).await;
    let queue = side.queue("no-confirm").await;
    let proxy = Proxy::start(endpoint(&url)).await;
    let mut broker = Broker::new(proxy.url(&url));
    Arc::get_mut(&mut broker.link)
        .expect("nothing shares the link yet")
        .confirm_timeout = Duration::from_millis(500);
    broker
        .publish("", &queue, Bytes::from_static(b"{\"n\":1}"))
        .await
        .unwrap();
    proxy.stall(true);
    let started = Instant::now();
    let e = broker
        .publish("", &queue, Bytes::from_static(b"{\"n\":2}"))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(e.status(), 504, "{e}");
    assert!(
        e.to_string()
            .contains("did not confirm the message within 500 ms"),
        "{e}"
    );
    proxy.stall(false);
    side.delete(&queue).await;
    side.close().await;
}

#[tokio::test]
async fn consumer_acks_after_the_handler_and_rejects_client_errors() {
    let Some(url) = broker_url().await else {
        return;
    };
    let side = Side::open(&url).await;
    let queue = side.queue("consume").await;
    let broker = Broker::new(url);
    let recorder = Recorder::default();
    // "bad" is a 4xx (dropped); "flaky" fails with a 5xx once, then succeeds.
    let handler = recorder.handler(|id, times| match id {
        "bad" => Err(Error::bad_request("not an event")),
        "flaky" if times == 1 => Err(Error::Unavailable("later".into())),
        _ => Ok(()),
    });
    broker.sync_consumers(vec![inbound(&queue)], handler);
    for id in ["a", "bad", "flaky", "b"] {
        side.publish(&queue, json!({ "id": id }).to_string().as_bytes())
            .await;
    }
    eventually(Duration::from_secs(15), "every message handled", || {
        let r = recorder.clone();
        async move { r.calls() >= 5 && r.distinct() == 4 }
    })
    .await;
    // Everything was settled: nothing ready, and after the consumer stops nothing returns
    // (a message still unacknowledged would).
    broker.sync_consumers(Vec::new(), recorder.handler(|_, _| Ok(())));
    eventually(Duration::from_secs(10), "the consumer to stop", || async {
        side.counts(&queue).await.1 == 0
    })
    .await;
    assert_eq!(side.counts(&queue).await, (0, 0));
    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(seen.iter().filter(|s| *s == "bad").count(), 1, "{seen:?}");
    assert_eq!(seen.iter().filter(|s| *s == "flaky").count(), 2, "{seen:?}");
    side.delete(&queue).await;
    side.close().await;
}

#[tokio::test]
async fn consumer_declares_a_missing_queue_and_leaves_a_running_one_alone() {
    let Some(url) = broker_url().await else {
        return;
    };
    let side = Side::open(&url).await;
    let queue = format!("fss-test-absent-{}", uuid::Uuid::new_v4().simple());
    let broker = Broker::new(url);
    let recorder = Recorder::default();
    let channel = inbound(&queue);
    broker.sync_consumers(vec![channel.clone()], recorder.handler(|_, _| Ok(())));
    eventually(
        Duration::from_secs(10),
        "the queue to be declared and consumed",
        || {
            let side = &side;
            let queue = queue.clone();
            async move {
                let passive = QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                };
                // A failed passive declare closes the test channel; use a fresh one per try.
                let Ok(ch) = side.connection.create_channel().await else {
                    return false;
                };
                ch.queue_declare(queue.as_str().into(), passive, FieldTable::default())
                    .await
                    .is_ok_and(|q| q.consumer_count() == 1)
            }
        },
    )
    .await;
    // Installing the same channel again keeps the one consumer.
    broker.sync_consumers(vec![channel], recorder.handler(|_, _| Ok(())));
    side.publish(&queue, br#"{"id":"x"}"#).await;
    eventually(Duration::from_secs(10), "the message handled", || {
        let r = recorder.clone();
        async move { r.calls() == 1 }
    })
    .await;
    assert_eq!(side.counts(&queue).await.1, 1);
    drop(broker);
    eventually(
        Duration::from_secs(10),
        "the dropped broker's consumer to end",
        || async { side.counts(&queue).await.1 == 0 },
    )
    .await;
    side.delete(&queue).await;
    side.close().await;
}

#[tokio::test]
async fn consumer_loses_nothing_when_the_connection_is_cut() {
    let Some(url) = broker_url().await else {
        return;
    };
    const N: usize = 200;
    let side = Side::open(&url).await;
    let queue = side.queue("outage").await;
    let proxy = Proxy::start(endpoint(&url)).await;
    let broker = Broker::new(proxy.url(&url));
    let recorder = Recorder::default();
    broker.sync_consumers(vec![inbound(&queue)], recorder.handler(|_, _| Ok(())));
    for i in 0..N / 2 {
        side.publish(
            &queue,
            json!({ "id": format!("m{i}") }).to_string().as_bytes(),
        )
        .await;
    }
    eventually(Duration::from_secs(15), "consumption under way", || {
        let r = recorder.clone();
        async move { r.calls() >= 10 }
    })
    .await;
    // The outage: every connection cut mid-consumption, new ones refused for a second,
    // while the rest of the messages arrive at the broker.
    proxy.refuse(true);
    proxy.cut_all();
    let cut_at = recorder.calls();
    for i in N / 2..N {
        side.publish(
            &queue,
            json!({ "id": format!("m{i}") }).to_string().as_bytes(),
        )
        .await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.refuse(false);
    eventually(Duration::from_secs(30), "every message handled", || {
        let r = recorder.clone();
        async move { r.distinct() == N }
    })
    .await;
    assert!(cut_at < N, "the cut came after all messages were handled");
    eventually(Duration::from_secs(10), "the queue empty", || async {
        side.counts(&queue).await.0 == 0
    })
    .await;
    // Stop consuming: anything handled but not acknowledged would now return.
    drop(broker);
    eventually(Duration::from_secs(10), "the consumer to end", || async {
        side.counts(&queue).await.1 == 0
    })
    .await;
    assert_eq!(side.counts(&queue).await, (0, 0));
    side.delete(&queue).await;
    side.close().await;
}

#[tokio::test]
async fn publish_to_queue_declares_a_missing_queue_and_again_after_it_was_deleted() {
    let Some(url) = broker_url().await else {
        return;
    };
    let side = Side::open(&url).await;
    let queue = format!("fss-test-to-queue-{}", uuid::Uuid::new_v4().simple());
    let broker = Broker::new(url);
    broker
        .publish_to_queue(&queue, Bytes::from_static(b"{\"n\":1}"))
        .await
        .unwrap();
    assert_eq!(
        side.counts(&queue).await,
        (1, 0),
        "the queue was declared and holds the message"
    );
    side.delete(&queue).await;
    broker
        .publish_to_queue(&queue, Bytes::from_static(b"{\"n\":2}"))
        .await
        .unwrap();
    assert_eq!(
        side.counts(&queue).await,
        (1, 0),
        "declared again after its deletion"
    );
    side.delete(&queue).await;
    side.close().await;
}

/// The arguments of a test queue: the broker deletes it after ten unused minutes, so
/// that a test that failed before its cleanup leaves nothing behind for long.
fn expiring() -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        "x-expires".into(),
        lapin::types::AMQPValue::LongInt(600_000),
    );
    args
}
