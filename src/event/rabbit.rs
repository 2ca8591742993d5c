//! RabbitMQ channels through one lazily opened broker connection (lapin): publishing
//! with publisher confirms, and a consumer per inbound `rabbit` channel.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

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

/// The broker connection.
#[derive(Debug)]
pub(super) struct Broker {
    url: String,
}

impl Broker {
    /// A broker at `url` (`amqp://user:password@host:port/vhost`); connects on first use.
    pub(super) fn new(url: String) -> Self {
        Broker { url }
    }

    /// Publishes `body` (JSON) to `exchange` with `routing_key` and waits for the broker's
    /// confirm.
    ///
    /// # Errors
    ///
    /// 503 when the broker cannot be reached; 502 when it refuses the message.
    pub(super) async fn publish(
        &self,
        _exchange: &str,
        _routing_key: &str,
        _body: Bytes,
    ) -> Result<()> {
        let _ = &self.url;
        Err(Error::NotImplemented(
            "RabbitMQ channels are not built yet".into(),
        ))
    }

    /// Consumes the queue of each of `channels` with `handler`, and stops the consumers of
    /// channels no longer listed.
    pub(super) fn sync_consumers(&self, _channels: Vec<Arc<ChannelDefinition>>, _handler: Handler) {
    }
}
