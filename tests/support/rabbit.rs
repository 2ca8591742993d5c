//! RabbitMQ for tests: the broker to use (or a skip), a side connection to declare
//! queues, publish and read messages, and a loopback TCP proxy that simulates outages
//! without touching the machine's broker.
//!
//! Tests that need a broker start with `let Some(url) = rabbit::broker().await else {
//! return };`. Nothing answering on the broker's port skips them with a note on stderr,
//! unless `FSS_REQUIRE_RABBITMQ=1` (CI), which turns the skip into a failure.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// fss's default `--amqp-url`.
pub const DEFAULT_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The broker's URL (`FSS_AMQP_URL`, else the default) when something answers on its
/// port; else `None` after a SKIPPED note on stderr.
///
/// # Panics
///
/// When no broker answers and `FSS_REQUIRE_RABBITMQ=1`.
pub async fn broker() -> Option<String> {
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
        panic!(
            "FSS_REQUIRE_RABBITMQ=1: a RabbitMQ broker is required at {target}, and none answers"
        );
    }
    eprintln!(
        "SKIPPED: no RabbitMQ broker at {target} (set FSS_AMQP_URL, or install rabbitmq-server)"
    );
    None
}

/// `host:port` of an AMQP URL (5672 when it names no port).
pub fn endpoint(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let has_port = match host_port.rfind(']') {
        Some(end) => host_port[end..].contains(':'),
        None => host_port.contains(':'),
    };
    if has_port {
        host_port.to_owned()
    } else {
        format!("{host_port}:5672")
    }
}

/// A unique queue name for `what`.
pub fn unique_queue(what: &str) -> String {
    format!("fss-test-{what}-{}", uuid::Uuid::new_v4().simple())
}

/// The test's own connection to the broker, beside fss's.
pub struct Amqp {
    pub connection: Connection,
    pub channel: Channel,
    /// Queues declared through [`Amqp::queue`], deleted by [`Amqp::cleanup`].
    declared: Vec<String>,
}

impl Amqp {
    /// Connects to `url`.
    pub async fn open(url: &str) -> Amqp {
        let connection = Connection::connect(url, ConnectionProperties::default())
            .await
            .expect("the test connects to the RabbitMQ broker");
        let channel = connection
            .create_channel()
            .await
            .expect("the test opens a channel");
        Amqp {
            connection,
            channel,
            declared: Vec::new(),
        }
    }

    /// Declares a fresh durable queue named for `what` and returns its name.
    pub async fn queue(&mut self, what: &str) -> String {
        let name = unique_queue(what);
        self.channel
            .queue_declare(
                name.as_str().into(),
                QueueDeclareOptions::durable(),
                expiring(),
            )
            .await
            .expect("the test declares its queue");
        self.declared.push(name.clone());
        name
    }

    /// Publishes `body` to `queue` through the default exchange (persistent JSON) and
    /// waits for the broker to take it.
    pub async fn publish(&self, queue: &str, body: &[u8]) {
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into());
        self.channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                body,
                properties,
            )
            .await
            .expect("the test publishes");
    }

    /// Takes one message off `queue` (acknowledged at once), if there is one.
    pub async fn get(&self, queue: &str) -> Option<Vec<u8>> {
        self.channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("the test reads its queue")
            .map(|m| m.delivery.data)
    }

    /// Takes the next message off `queue`, waiting up to `limit` for one.
    pub async fn next_message(&self, queue: &str, limit: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(body) = self.get(queue).await {
                return Some(body);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// (ready messages, consumers) of `queue`.
    pub async fn counts(&self, queue: &str) -> (u32, u32) {
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

    /// Deletes the queues this connection declared, and closes it.
    pub async fn cleanup(self) {
        for queue in &self.declared {
            let _ = self
                .channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        let _ = self.connection.close(200, "test done".into()).await;
    }
}

/// A loopback TCP proxy in front of the broker: fss connects through it, and the test
/// cuts every proxied connection and refuses new ones to simulate an outage.
pub struct Proxy {
    pub addr: SocketAddr,
    refusing: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// A proxy to `upstream` (`host:port`) on a free loopback port.
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the proxy binds");
        let addr = listener.local_addr().expect("the proxy has an address");
        let refusing = Arc::new(AtomicBool::new(false));
        let (cut, _) = watch::channel(0u64);
        let task = tokio::spawn({
            let refusing = refusing.clone();
            let cut = cut.clone();
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if refusing.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let upstream = upstream.clone();
                    let mut cut = cut.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            }
        });
        Proxy {
            addr,
            refusing,
            cut,
            task,
        }
    }

    /// `url` with its `host:port` replaced by the proxy's.
    pub fn url(&self, url: &str) -> String {
        url.replacen(&endpoint(url), &self.addr.to_string(), 1)
    }

    /// Closes every proxied connection now.
    pub fn cut_all(&self) {
        self.cut.send_modify(|generation| *generation += 1);
    }

    /// Whether new connections are closed as soon as they are accepted.
    pub fn refuse(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut_all();
        self.task.abort();
    }
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
