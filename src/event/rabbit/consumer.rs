//! The consumer of one inbound `rabbit` channel: a task that consumes its queue on a
//! channel of the shared connection, hands each message to the handler and settles it
//! after, and comes back after the broker went away.
//!
//! Invariants:
//! - A message is acknowledged only after the handler returned `Ok`; a 4xx answer rejects
//!   it (it can never become an event), anything else requeues it after a short pause.
//!   A message whose handler had not finished when the channel was lost is redelivered by
//!   the broker: delivery is at least once.
//! - Reconnects back off exponentially (200 ms doubling to 10 s, with jitter), and an
//!   outage is logged once when it starts and once when it ends, not per attempt.
//! - The task ends when its stop token is cancelled (the channel left the catalog, or the
//!   broker was dropped): it takes no new message, gives the running handlers 5 s to
//!   finish, aborts the rest and closes the channel, so that every unsettled message
//!   returns to the queue.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
};
use lapin::types::FieldTable;
use lapin::Channel;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{Handler, Link};
use crate::error::Result;
use crate::event::ChannelDefinition;

/// Unacknowledged messages the broker sends ahead: also how many handlers run at once.
const PREFETCH: u16 = 16;

/// The first reconnect delay; it doubles per failed attempt up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(200);

/// The longest reconnect delay.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How long a message whose handler failed (not a 4xx) waits before it is requeued, so
/// that a failing subscriber is not retried in a tight loop.
const REQUEUE_DELAY: Duration = Duration::from_secs(1);

/// How long the handlers running when a consumer stops may take to finish.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How long closing a channel may take before it is abandoned.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a consuming session ended.
enum End {
    /// The stop token was cancelled.
    Stopped,
    /// The channel, the connection or the consumer went away; the reason is for the log.
    Lost(String),
}

/// Consumes `queue` for `channel` until `stop` is cancelled.
pub(super) async fn run(
    link: Arc<Link>,
    channel: Arc<ChannelDefinition>,
    queue: String,
    handler: Handler,
    stop: CancellationToken,
) {
    let key = channel.info.key.clone();
    let mut backoff = Backoff::default();
    // When the current outage began: set on the first failure, cleared once consuming.
    let mut outage: Option<Instant> = None;
    loop {
        let opened = tokio::select! {
            () = stop.cancelled() => return,
            opened = open(&link, &queue) => opened,
        };
        match opened {
            Ok((amqp, consumer)) => {
                match outage.take() {
                    Some(since) => tracing::info!(
                        channel = %key,
                        %queue,
                        broker = %link.endpoint,
                        down_ms = since.elapsed().as_millis() as u64,
                        "RabbitMQ consumer consuming again."
                    ),
                    None => tracing::debug!(channel = %key, %queue, "RabbitMQ consumer started."),
                }
                backoff.reset();
                let end = consume(consumer, &channel, &handler, &stop).await;
                close(&amqp).await;
                match end {
                    End::Stopped => return,
                    End::Lost(reason) => {
                        tracing::warn!(
                            channel = %key,
                            %queue,
                            broker = %link.endpoint,
                            %reason,
                            "RabbitMQ consumer lost its channel; reconnecting."
                        );
                        outage = Some(Instant::now());
                    }
                }
            }
            Err(e) => {
                if outage.is_none() {
                    tracing::warn!(
                        channel = %key,
                        %queue,
                        reason = %e,
                        "RabbitMQ consumer cannot consume; retrying with back-off."
                    );
                    outage = Some(Instant::now());
                } else {
                    tracing::debug!(channel = %key, reason = %e, "RabbitMQ consumer retry failed.");
                }
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
}

/// Opens a channel, makes sure `queue` exists (declared durable when absent) and starts
/// consuming it with manual acknowledgements.
async fn open(link: &Link, queue: &str) -> Result<(Channel, lapin::Consumer)> {
    // Checked afresh on every (re)connection: the queue may have been deleted meanwhile.
    link.forget_queue(queue);
    link.ensure_queue(queue).await?;
    let amqp = link.channel().await?;
    amqp.basic_qos(PREFETCH, BasicQosOptions::default())
        .await
        .map_err(|e| link.unreachable(&e))?;
    let consumer = amqp
        .basic_consume(
            queue.into(),
            // The broker names the consumer: keys may be longer than a tag may be.
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| link.refused_queue(queue, &e))?;
    Ok((amqp, consumer))
}

/// Hands each delivery to a handler task until the consumer ends or `stop` is cancelled.
async fn consume(
    mut consumer: lapin::Consumer,
    channel: &Arc<ChannelDefinition>,
    handler: &Handler,
    stop: &CancellationToken,
) -> End {
    // At most PREFETCH deliveries are unacknowledged, so at most that many tasks run.
    let mut handling = JoinSet::new();
    let end = loop {
        tokio::select! {
            () = stop.cancelled() => {
                // No new deliveries are taken; the handlers running get a grace period to
                // finish and settle theirs. Whatever is left unsettled (buffered, or its
                // handler aborted) returns to the queue when the channel closes.
                let drain = async { while handling.join_next().await.is_some() {} };
                let _ = tokio::time::timeout(STOP_GRACE, drain).await;
                handling.abort_all();
                break End::Stopped;
            }
            Some(_) = handling.join_next(), if !handling.is_empty() => {}
            next = consumer.next() => match next {
                Some(Ok(delivery)) => {
                    handling.spawn(settle(delivery, channel.clone(), handler.clone()));
                }
                Some(Err(e)) => break End::Lost(e.to_string()),
                None => break End::Lost("the broker cancelled the consumer".to_owned()),
            },
        }
    };
    if let End::Lost(_) = end {
        // Handlers of a lost channel finish on their own; their acknowledgements fail and
        // the broker redelivers those messages.
        handling.detach_all();
    }
    end
}

/// Runs the handler on one message and settles it by its answer.
async fn settle(delivery: Delivery, channel: Arc<ChannelDefinition>, handler: Handler) {
    let Delivery { data, acker, .. } = delivery;
    let key = channel.info.key.clone();
    let outcome = handler(channel, Bytes::from(data)).await;
    let settled = match outcome {
        Ok(()) => acker.ack(BasicAckOptions::default()).await,
        Err(e) if e.is_client_error() => {
            tracing::warn!(channel = %key, reason = %e, "RabbitMQ message rejected.");
            acker.reject(BasicRejectOptions { requeue: false }).await
        }
        Err(e) => {
            tracing::warn!(channel = %key, reason = %e, "RabbitMQ message requeued.");
            tokio::time::sleep(REQUEUE_DELAY).await;
            acker
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await
        }
    };
    if let Err(e) = settled {
        // The channel went away: the broker redelivers the message.
        tracing::debug!(channel = %key, reason = %e, "RabbitMQ message not settled.");
    }
}

/// Closes `amqp` if it is still open (best effort, bounded).
async fn close(amqp: &Channel) {
    if amqp.status().connected() {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, amqp.close(200, "fss stops consuming".into()))
            .await;
    }
}

/// Exponential reconnect delays with jitter.
#[derive(Debug, Default)]
pub(super) struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The delay before the next attempt: the current step (200 ms · 2ⁿ, at most 10 s),
    /// scaled into [½, 1] of it at random so that consumers do not reconnect in step.
    pub(super) fn next_delay(&mut self) -> Duration {
        let step = MIN_BACKOFF
            .saturating_mul(1 << self.failures.min(16))
            .min(MAX_BACKOFF);
        self.failures = self.failures.saturating_add(1);
        let (random, _) = uuid::Uuid::new_v4().as_u64_pair();
        let fraction = 0.5 + (random % 1000) as f64 / 2000.0;
        step.mul_f64(fraction)
    }

    pub(super) fn reset(&mut self) {
        self.failures = 0;
    }
}
