//! RabbitMQ channels through one lazily opened broker connection (lapin): publishing
//! with publisher confirms, and a consumer per inbound `rabbit` channel.
//!
//! Invariants:
//! - Nothing connects until the first publish or consumer; then one connection is shared
//!   by all of them and reopened by whoever first finds it lost.
//! - A published message is `Ok` only once the broker confirmed it (persistent,
//!   `mandatory`): a nack, a return (no queue bound) or a missing confirm is an error the
//!   sender sees, never a silent drop.
//! - A consumed message is acknowledged only after the handler returned `Ok`; until then
//!   the broker keeps it, and redelivers it when the channel or connection goes away.
//! - Errors and logs name the broker by `host:port` only, never the URL's credentials.

mod consumer;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::model::Transport;
use super::ChannelDefinition;
use crate::error::{Error, Result};

/// What a consumer does with one message: `Ok` acknowledges it; a client error (4xx: the
/// message can never become an event) rejects it without requeueing; any other error
/// requeues it.
pub(super) type Handler = Arc<
    dyn Fn(Arc<ChannelDefinition>, Bytes) -> Pin<Box<dyn Future<Output = Result<()>> + Send>>
        + Send
        + Sync,
>;

/// How long opening the connection may take before the broker counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a publish waits for the broker's confirm (504 after).
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

/// AMQP delivery mode 2: the broker writes the message to disk (durable queues keep it
/// across a broker restart).
const PERSISTENT: u8 = 2;

/// The broker of a runtime: its connection, and the consumers of inbound channels.
#[derive(Debug)]
pub(super) struct Broker {
    /// The connection and the publishing channel, shared with the consumer tasks.
    link: Arc<Link>,
    /// The running consumers by channel definition id, replaced by `sync_consumers`.
    consumers: Mutex<HashMap<String, Running>>,
    /// Cancelled when the broker is dropped: every consumer task holds a child of it, so
    /// none outlives the runtime.
    shutdown: CancellationToken,
}

/// One consumer task and the token that stops it.
#[derive(Debug)]
struct Running {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Broker {
    /// A broker at `url` (`amqp://user:password@host:port/vhost`); connects on first use.
    pub(super) fn new(url: String) -> Self {
        Broker {
            link: Arc::new(Link::new(url)),
            consumers: Mutex::new(HashMap::new()),
            shutdown: CancellationToken::new(),
        }
    }

    /// Publishes `body` (JSON) to `exchange` with `routing_key` and waits for the broker's
    /// confirm. A publishing channel found closed (the connection was lost since the last
    /// publish) is reopened and the message published once more.
    ///
    /// # Errors
    ///
    /// 503 when the broker cannot be reached; 502 when it refuses the message or no queue
    /// is bound to the routing key; 504 when its confirm does not come within 10 s.
    pub(super) async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: Bytes,
    ) -> Result<()> {
        match self.link.publish_once(exchange, routing_key, &body).await {
            Err(Attempt::ChannelClosed(_)) => {
                self.link.forget_publisher().await;
                match self.link.publish_once(exchange, routing_key, &body).await {
                    Err(Attempt::ChannelClosed(e)) => Err(self.link.unreachable(&e)),
                    Err(Attempt::Failed(e)) => Err(e),
                    Ok(()) => Ok(()),
                }
            }
            Err(Attempt::Failed(e)) => Err(e),
            Ok(()) => Ok(()),
        }
    }

    /// Publishes `body` to the queue `queue` through the default exchange, as a channel
    /// whose `destination` is a queue and that names no exchange: the queue is declared
    /// (durable) when it does not exist yet, once per queue and connection, so that the
    /// first event is kept even before anyone consumes. A queue deleted later is
    /// declared again on the next publish.
    ///
    /// # Errors
    ///
    /// What [`Broker::publish`] fails with; 502 when the broker refuses the queue.
    pub(super) async fn publish_to_queue(&self, queue: &str, body: Bytes) -> Result<()> {
        self.link.ensure_queue(queue).await?;
        match self.publish("", queue, body.clone()).await {
            // Deleted since it was declared: declare it again, publish once more.
            Err(Error::BadGateway(m)) if m.contains("no queue is bound") => {
                self.link.forget_queue(queue);
                self.link.ensure_queue(queue).await?;
                self.publish("", queue, body).await
            }
            r => r,
        }
    }

    /// Consumes the queue of each of `channels` with `handler`, and stops the consumers of
    /// channels no longer listed (their unacknowledged messages go back to the queue). A
    /// listed channel whose consumer runs already is left alone.
    pub(super) fn sync_consumers(&self, channels: Vec<Arc<ChannelDefinition>>, handler: Handler) {
        let mut consumers = self
            .consumers
            .lock()
            .expect("the consumer table is never left half-updated by a panic");
        consumers.retain(|id, running| {
            let keep = channels.iter().any(|c| &c.info.id == id) && !running.task.is_finished();
            if !keep {
                running.stop.cancel();
            }
            keep
        });
        for channel in channels {
            if consumers.contains_key(&channel.info.id) {
                continue;
            }
            let Transport::Rabbit {
                queue: Some(queue), ..
            } = &channel.model.transport
            else {
                // The model refuses an inbound rabbit channel without a queue; nothing to
                // consume for anything else.
                continue;
            };
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                tracing::warn!(
                    channel = %channel.info.key,
                    "RabbitMQ consumer not started: no async runtime."
                );
                continue;
            };
            let stop = self.shutdown.child_token();
            let task = runtime.spawn(consumer::run(
                self.link.clone(),
                channel.clone(),
                queue.clone(),
                handler.clone(),
                stop.clone(),
            ));
            consumers.insert(channel.info.id.clone(), Running { stop, task });
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

// === impl Link ===

/// The one broker connection, opened on first use and reopened when found lost, and the
/// channel publishes go through (in confirm mode).
#[derive(Debug)]
struct Link {
    /// The AMQP URL with its credentials: handed to lapin only, never shown.
    url: String,
    /// `host:port` of the URL: what errors and logs name.
    endpoint: String,
    /// The open connection, if any. A tokio mutex: it is held while connecting, so that
    /// concurrent users wait for one connection instead of opening one each.
    connection: tokio::sync::Mutex<Option<Arc<Connection>>>,
    /// The publishing channel (confirm mode), if open.
    publisher: tokio::sync::Mutex<Option<Channel>>,
    /// How long a publish waits for its confirm: [`CONFIRM_TIMEOUT`] (shorter in tests).
    confirm_timeout: Duration,
    /// The queues [`Link::ensure_queue`] found or declared. Held briefly, never across
    /// `.await`.
    declared: Mutex<HashSet<String>>,
}

/// The outcome of one publish attempt that failed.
enum Attempt {
    /// The channel or connection was found closed when publishing: worth one retry on a
    /// fresh channel.
    ChannelClosed(lapin::Error),
    /// The final answer.
    Failed(Error),
}

impl Link {
    fn new(url: String) -> Self {
        let endpoint = endpoint(&url);
        Link {
            url,
            endpoint,
            connection: tokio::sync::Mutex::new(None),
            publisher: tokio::sync::Mutex::new(None),
            confirm_timeout: CONFIRM_TIMEOUT,
            declared: Mutex::new(HashSet::new()),
        }
    }

    /// Makes sure `queue` exists: a passive declare leaves an existing queue's settings
    /// alone; when the queue is absent the broker closes that channel (404), and a fresh
    /// one declares it durable. Remembered, so that publishing pays it once per queue.
    ///
    /// # Errors
    ///
    /// 503 when the broker cannot be reached; 502 when it refuses the queue.
    pub(super) async fn ensure_queue(&self, queue: &str) -> Result<()> {
        if self.declared().contains(queue) {
            return Ok(());
        }
        let amqp = self.channel().await?;
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let found = amqp
            .queue_declare(queue.into(), passive, FieldTable::default())
            .await;
        let amqp = match found {
            Ok(_) => amqp,
            Err(e) if !e.is_amqp_soft_error() => return Err(self.unreachable(&e)),
            Err(_) => {
                let amqp = self.channel().await?;
                amqp.queue_declare(
                    queue.into(),
                    QueueDeclareOptions::durable(),
                    FieldTable::default(),
                )
                .await
                .map_err(|e| self.refused_queue(queue, &e))?;
                amqp
            }
        };
        // The channel served its purpose; a close that fails changes nothing.
        let _ = amqp.close(200, "declared".into()).await;
        self.declared().insert(queue.to_owned());
        Ok(())
    }

    /// Forgets that `queue` was declared (it was deleted since).
    fn forget_queue(&self, queue: &str) {
        self.declared().remove(queue);
    }

    fn declared(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.declared
            .lock()
            .expect("declared-queues lock is never poisoned: nothing panics under it")
    }

    /// The open connection; opens one when there is none or it was lost.
    ///
    /// # Errors
    ///
    /// 503 naming `host:port` when the broker cannot be reached (or refuses the login).
    async fn connection(&self) -> Result<Arc<Connection>> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            if connection.status().connected() {
                return Ok(connection.clone());
            }
        }
        // A lost connection is dropped before the next one is opened.
        *slot = None;
        let properties = ConnectionProperties::default().with_connection_name("fss".into());
        let connection =
            match tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(&self.url, properties))
                .await
            {
                Ok(Ok(connection)) => Arc::new(connection),
                Ok(Err(e)) => return Err(self.unreachable(&e)),
                Err(_) => {
                    return Err(Error::Unavailable(
                        format!(
                            "the RabbitMQ broker at {} cannot be reached: no answer within {} s",
                            self.endpoint,
                            CONNECT_TIMEOUT.as_secs()
                        )
                        .into(),
                    ))
                }
            };
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// A new channel on the shared connection.
    ///
    /// # Errors
    ///
    /// 503 when the broker cannot be reached.
    async fn channel(&self) -> Result<Channel> {
        let connection = self.connection().await?;
        connection
            .create_channel()
            .await
            .map_err(|e| self.unreachable(&e))
    }

    /// The publishing channel, opened (in confirm mode) when there is none or it closed.
    async fn publisher(&self) -> Result<Channel> {
        let mut slot = self.publisher.lock().await;
        if let Some(channel) = slot.as_ref() {
            if channel.status().connected() {
                return Ok(channel.clone());
            }
        }
        *slot = None;
        let channel = self.channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| self.unreachable(&e))?;
        *slot = Some(channel.clone());
        Ok(channel)
    }

    /// Drops the publishing channel, so that the next publish opens a fresh one.
    async fn forget_publisher(&self) {
        *self.publisher.lock().await = None;
    }

    /// One publish and its confirm.
    async fn publish_once(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
    ) -> std::result::Result<(), Attempt> {
        let channel = self.publisher().await.map_err(Attempt::Failed)?;
        let properties = BasicProperties::default()
            .with_delivery_mode(PERSISTENT)
            .with_content_type("application/json".into());
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let confirm = channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                options,
                body,
                properties,
            )
            .await
            .map_err(|e| {
                if is_closed(&e) {
                    Attempt::ChannelClosed(e)
                } else {
                    Attempt::Failed(self.refused(&e))
                }
            })?;
        let confirmation = match tokio::time::timeout(self.confirm_timeout, confirm).await {
            Ok(Ok(confirmation)) => confirmation,
            // The broker closes the channel over a publish it cannot route at all (an
            // exchange that does not exist): its reply names why.
            Ok(Err(e)) if e.is_amqp_error() => return Err(Attempt::Failed(self.refused(&e))),
            Ok(Err(e)) => return Err(Attempt::Failed(self.unreachable(&e))),
            Err(_) => {
                return Err(Attempt::Failed(Error::GatewayTimeout(
                    format!(
                        "the RabbitMQ broker at {} did not confirm the message within {} ms",
                        self.endpoint,
                        self.confirm_timeout.as_millis()
                    )
                    .into(),
                )))
            }
        };
        match confirmation {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(_returned)) => Err(Attempt::Failed(Error::BadGateway(
                format!(
                    "the RabbitMQ broker at {} returned the message: no queue is bound to \
                     routing key '{routing_key}' on {}",
                    self.endpoint,
                    exchange_name(exchange)
                )
                .into(),
            ))),
            Confirmation::Nack(_) => Err(Attempt::Failed(Error::BadGateway(
                format!(
                    "the RabbitMQ broker at {} refused the message (nack)",
                    self.endpoint
                )
                .into(),
            ))),
            Confirmation::NotRequested => Err(Attempt::Failed(Error::internal(
                "the RabbitMQ publishing channel is not in confirm mode",
            ))),
        }
    }

    /// The 503 of a broker that cannot be reached; lapin's text names no credential.
    fn unreachable(&self, e: &lapin::Error) -> Error {
        Error::Unavailable(
            format!(
                "the RabbitMQ broker at {} cannot be reached: {e}",
                self.endpoint
            )
            .into(),
        )
    }

    /// The error of a queue the broker does not let a consumer declare or consume: 502
    /// with its reason, or 503 when the broker went away meanwhile.
    fn refused_queue(&self, queue: &str, e: &lapin::Error) -> Error {
        if e.is_amqp_error() {
            Error::BadGateway(
                format!(
                    "the RabbitMQ broker at {} refused queue '{queue}': {e}",
                    self.endpoint
                )
                .into(),
            )
        } else {
            self.unreachable(e)
        }
    }

    /// The 502 of a message the broker refused, with its reason.
    fn refused(&self, e: &lapin::Error) -> Error {
        Error::BadGateway(
            format!(
                "the RabbitMQ broker at {} refused the message: {e}",
                self.endpoint
            )
            .into(),
        )
    }
}

/// Whether `e` says the channel or its connection is closed (as opposed to a refusal).
fn is_closed(e: &lapin::Error) -> bool {
    use lapin::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::InvalidChannelState(..)
            | ErrorKind::InvalidConnectionState(_)
            | ErrorKind::InvalidChannel(_)
    ) || e.is_io_error()
}

/// How messages name an exchange: `""` is the default one.
fn exchange_name(exchange: &str) -> String {
    if exchange.is_empty() {
        "the default exchange".to_owned()
    } else {
        format!("exchange '{exchange}'")
    }
}

/// `host:port` of an AMQP URL, without its user, password or vhost (port 5672, or 5671
/// for `amqps`, when the URL has none).
fn endpoint(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("amqp", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let has_port = match host_port.rfind(']') {
        Some(end) => host_port[end..].contains(':'),
        None => host_port.contains(':'),
    };
    if host_port.is_empty() {
        "localhost:5672".to_owned()
    } else if has_port {
        host_port.to_owned()
    } else if scheme == "amqps" {
        format!("{host_port}:5671")
    } else {
        format!("{host_port}:5672")
    }
}
