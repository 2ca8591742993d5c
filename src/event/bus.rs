//! Where an event goes: its outbound channels, its subscribers, its Flow listeners.
//!
//! An event reaches every one of them, whatever any other does: a subscriber runs even
//! when an outbound channel refused the event, and the channels are all tried. What the
//! sender learns is whether the outbound channels took it — they are awaited, all at
//! once, and the first failure (naming its channel) is the send's error — because that
//! is what a sender can act on; a subscriber's failure is recorded in its execution
//! record instead (`subscriber`).
//!
//! The message an outbound channel carries is the payload as one flat JSON object
//! (`{"orderId": "o-1", "amount": 19.99}`), as Flowable's JSON serializer writes it. An
//! `http` channel POSTs it with `Content-Type: application/json` and `X-Event-Key`; a
//! `rabbit` channel publishes it to its exchange with its routing key.
//!
//! An inbound message becomes an event by [`accept`] (and by the webhook, through
//! [`resolve`]): the channel's detection rules name the event and its tenant, the event
//! must be deployed and list the channel among its `inboundChannelKeys`, and the payload
//! is the message's fields that the event declares, type-checked.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::join_all;
use http::{header, HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::Full;
use serde_json::{Map, Value};

use super::model::{Detection, Direction, Transport};
use super::{listener, subscriber, ChannelDefinition, EventDefinition, Events};
use crate::error::{Error, Result};
use crate::http::client::OutboundError;

/// The header naming the event of a message POSTed to an outbound `http` channel.
pub(super) const EVENT_KEY: HeaderName = HeaderName::from_static("x-event-key");
/// The most of an outbound channel's answer that is read (it is not used).
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Sends `event`; with `wait`, returns only once its subscribers have finished.
///
/// # Errors
///
/// The first outbound channel that did not take the event, after all were tried: 502
/// (an `http` channel answered other than 2xx or could not be reached; the broker
/// refused), 503 (the broker cannot be reached). The message names the channel.
pub(super) async fn send(
    events: &Events,
    event: &Arc<EventDefinition>,
    payload: Map<String, Value>,
    tenant_id: &str,
    wait: bool,
) -> Result<()> {
    let catalog = events.catalog();
    let channels: Vec<Arc<ChannelDefinition>> = event
        .model
        .outbound_channel_keys
        .iter()
        .filter_map(|key| {
            let Some(c) = catalog.latest_channel(key, tenant_id) else {
                tracing::debug!(event = %event.info.key, channel = %key, "Outbound channel is not deployed.");
                return None;
            };
            if c.model.direction != Direction::Outbound {
                tracing::debug!(event = %event.info.key, channel = %key, "Channel is not outbound.");
                return None;
            }
            if !c.model.is_run() {
                tracing::debug!(event = %event.info.key, channel = %key, kind = %c.model.kind, "Channel type is not run.");
                return None;
            }
            Some(Arc::clone(c))
        })
        .collect();
    let body = Bytes::from(serde_json::to_vec(&payload).expect("a JSON map always serializes"));

    let subscribers = subscriber::of(&events.mounts.snapshot(), &event.info.key);
    listener::notify(events, event, &payload, tenant_id);
    let outbound = join_all(
        channels
            .iter()
            .map(|c| deliver(events, c, &event.info.key, body.clone())),
    );
    let results = if subscribers.is_empty() {
        outbound.await
    } else if wait {
        let runs = join_all(
            subscribers
                .iter()
                .map(|s| subscriber::run(&events.shared, s, event, &payload, tenant_id)),
        );
        futures_util::future::join(outbound, runs).await.0
    } else {
        let shared = events.shared.clone();
        let event = Arc::clone(event);
        let payload = payload.clone();
        let tenant = tenant_id.to_owned();
        tokio::spawn(async move {
            join_all(
                subscribers
                    .iter()
                    .map(|s| subscriber::run(&shared, s, &event, &payload, &tenant)),
            )
            .await;
        });
        outbound.await
    };
    match results.into_iter().find_map(Result::err) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// One message of inbound `channel` as an event, sent with its subscribers awaited.
///
/// # Errors
///
/// 400 for a body that is not a JSON object or that [`resolve`] refuses; what [`send`]
/// fails with.
pub(super) async fn accept(
    events: &Events,
    channel: &ChannelDefinition,
    body: &Bytes,
) -> Result<()> {
    let message = parse_message(&channel.info.key, body)?;
    let (event, payload, tenant) = resolve(events, channel, &message)?;
    send(events, &event, payload, &tenant, true).await
}

/// The JSON object of a message of channel `channel_key`.
///
/// # Errors
///
/// 400 when it is not JSON, or JSON but not an object.
pub(super) fn parse_message(channel_key: &str, body: &[u8]) -> Result<Value> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        Error::bad_request(format!(
            "the message of channel '{channel_key}' is not JSON: {e}"
        ))
    })?;
    if !v.is_object() {
        return Err(Error::bad_request(format!(
            "the message of channel '{channel_key}' is {}, not a JSON object",
            json_kind(&v)
        )));
    }
    Ok(v)
}

/// The event an inbound `message` (a JSON object) of `channel` is: its definition, its
/// checked payload and its tenant.
///
/// # Errors
///
/// 400 when the message names no event, an event that is not deployed or that this
/// channel does not carry in, or its payload does not match the event's model.
pub(super) fn resolve(
    events: &Events,
    channel: &ChannelDefinition,
    message: &Value,
) -> Result<(Arc<EventDefinition>, Map<String, Value>, String)> {
    let ckey = &channel.info.key;
    let rule = channel.model.key_detection.as_ref().ok_or_else(|| {
        Error::bad_request(format!(
            "channel '{ckey}' has no channelEventKeyDetection: it cannot name an event"
        ))
    })?;
    let key = rule.detect(message).ok_or_else(|| {
        Error::bad_request(format!(
            "the message names no event: channel '{ckey}' takes the event key from {}",
            describe(rule)
        ))
    })?;
    let tenant = channel
        .model
        .tenant_detection
        .as_ref()
        .and_then(|t| t.detect(message))
        .unwrap_or_else(|| channel.info.tenant_id.clone());
    let catalog = events.catalog();
    let event = catalog
        .latest_event(&key, &tenant)
        .cloned()
        .ok_or_else(|| Error::bad_request(format!("event '{key}' is not deployed")))?;
    if !event.model.inbound_channel_keys.iter().any(|k| k == ckey) {
        return Err(Error::bad_request(format!(
            "event '{key}' does not come in on channel '{ckey}' (it is not in the event's \
             inboundChannelKeys)"
        )));
    }
    let fields = message.as_object().cloned().unwrap_or_default();
    let payload = event.model.check_payload(&fields)?;
    Ok((event, payload, tenant))
}

/// Where a detection rule looks, in words.
fn describe(rule: &Detection) -> String {
    match rule {
        Detection::Fixed(v) => format!("the fixed value '{v}'"),
        Detection::JsonField(f) => format!("the JSON field '{f}'"),
        Detection::JsonPointer(p) => format!("the JSON pointer '{p}'"),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Carries `body`, the payload of event `event_key`, out on `channel`.
///
/// # Errors
///
/// What the channel's transport failed with, its message naming the channel.
async fn deliver(
    events: &Events,
    channel: &ChannelDefinition,
    event_key: &str,
    body: Bytes,
) -> Result<()> {
    let key = &channel.info.key;
    let r = match &channel.model.transport {
        Transport::Http { url, .. } => {
            let Some(url) = url.as_deref() else {
                return Err(Error::BadGateway(
                    format!("channel '{key}' has no destination URL").into(),
                ));
            };
            post(events, key, url, event_key, body).await
        }
        Transport::Rabbit {
            exchange,
            routing_key,
            ..
        } => {
            let routing_key = routing_key.as_deref().unwrap_or_default();
            let published = if exchange.is_empty() {
                // The destination is a queue: it is declared when absent.
                events.broker.publish_to_queue(routing_key, body).await
            } else {
                events.broker.publish(exchange, routing_key, body).await
            };
            published.map_err(|e| naming(key, e))
        }
        // Filtered out by `send`; nothing to carry.
        Transport::Other => Ok(()),
    };
    if let Err(e) = &r {
        tracing::warn!(channel = %key, event = %event_key, error = %e, "Outbound channel did not take the event.");
    }
    r
}

/// POSTs `body` to the `url` of outbound `http` channel `key`.
///
/// # Errors
///
/// 502 naming the channel and the URL's host and path (never its query or user info,
/// which may carry secrets): the answer was not 2xx, or no answer came.
async fn post(events: &Events, key: &str, url: &str, event_key: &str, body: Bytes) -> Result<()> {
    let uri: Uri = url.parse().map_err(|_| {
        Error::BadGateway(format!("channel '{key}': its destination is not a usable URL").into())
    })?;
    let target = shown(&uri);
    let mut req = Request::new(Full::new(body));
    *req.method_mut() = Method::POST;
    *req.uri_mut() = uri;
    let headers = req.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(event_key) {
        headers.insert(EVENT_KEY, v);
    }
    match events.shared.outbound.send(req, MAX_ANSWER_BYTES).await {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) => Err(Error::BadGateway(
            format!(
                "channel '{key}': {target} answered {}",
                resp.status().as_u16()
            )
            .into(),
        )),
        Err(e) => Err(Error::BadGateway(
            format!(
                "channel '{key}': {target} could not be reached: {}",
                transport(&e)
            )
            .into(),
        )),
    }
}

/// What went wrong with an exchange, in words that name no secret.
fn transport(e: &OutboundError) -> String {
    match e {
        // Its text quotes the URI, which may carry a query.
        OutboundError::Unusable(_) => "the URL cannot be used".to_owned(),
        other => other.to_string(),
    }
}

/// `host[:port]/path` of `uri`: what an error may show of a destination.
fn shown(uri: &Uri) -> String {
    let host = uri.host().unwrap_or_default();
    match uri.port_u16() {
        Some(p) => format!("{host}:{p}{}", uri.path()),
        None => format!("{host}{}", uri.path()),
    }
}

/// `e` with its message prefixed by the channel that failed.
fn naming(key: &str, e: Error) -> Error {
    let say = |m: &str| format!("channel '{key}': {m}");
    match e {
        Error::BadGateway(m) => Error::BadGateway(say(&m).into()),
        Error::GatewayTimeout(m) => Error::GatewayTimeout(say(&m).into()),
        Error::Unavailable(m) => Error::Unavailable(say(&m).into()),
        Error::NotImplemented(m) => Error::NotImplemented(say(&m).into()),
        Error::BadRequest(m) => Error::BadRequest(say(&m).into()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destination_is_shown_without_its_query_or_user_info() {
        let uri: Uri = "https://user:pw@hooks.example.com:8443/in/orders?token=s3cret"
            .parse()
            .unwrap();
        assert_eq!(shown(&uri), "hooks.example.com:8443/in/orders");
        let uri: Uri = "http://peer/x".parse().unwrap();
        assert_eq!(shown(&uri), "peer/x");
    }

    #[test]
    fn a_channel_failure_names_the_channel_and_keeps_its_status() {
        let e = naming(
            "toBroker",
            Error::Unavailable("the broker cannot be reached".into()),
        );
        assert_eq!(e.status(), 503);
        assert_eq!(
            e.to_string(),
            "channel 'toBroker': the broker cannot be reached"
        );
    }

    #[test]
    fn a_message_must_be_a_json_object() {
        let e = parse_message("in", b"not json").unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("channel 'in' is not JSON"), "{e}");
        let e = parse_message("in", b"[1]").unwrap_err();
        assert!(
            e.to_string().contains("is an array, not a JSON object"),
            "{e}"
        );
        assert!(parse_message("in", br#"{"a":1}"#).unwrap().is_object());
    }
}
