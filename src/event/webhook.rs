//! Inbound `http` channels: `POST /events/{channelKey}`.
//!
//! The key (percent-decoded) names the newest inbound `http` channel of that key (of no
//! tenant); any other path under `/events/` is 404. The caller authenticates as the
//! channel says: a channel with a `signature` needs the HMAC of the raw body, verified as
//! the incoming API verifies it (the header before a byte is read, the digest after the
//! last) — the signature is then the credential, since the senders of webhooks sign
//! rather than log in; any other channel needs admin Basic credentials (a user holding
//! `access-rest-api`, 401/403 as the admin API answers) unless it is `allowAnonymous`. The body
//! is read up to the runtime's `max_request_bytes` (413 past it) and must be a JSON
//! object; it becomes an event as an inbound RabbitMQ message does (`bus::resolve`),
//! and is sent without waiting for its subscribers.
//!
//! Answers: **202** `{"eventDefinitionKey", "eventDefinitionId"}` once every outbound
//! channel of the event took it; errors as the admin API writes them,
//! `{"statusCode", "errorMessage"}`. An outbound channel that did not take the event is
//! a **502** (503 when the broker cannot be reached) whose message names the channel —
//! the sender should retry, and the message says where to look — while every other
//! 5xx shows a generic message, its cause logged.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Body as _;
use serde_json::json;

use super::model::{Direction, Transport};
use super::{bus, ChannelDefinition, Events, WEBHOOK_PREFIX};
use crate::auth::signature::Verifier;
use crate::definition::SignatureDefinition;
use crate::error::{Error, Result};
use crate::http::body::{self, ReqBody, ResBody};

/// Answers one webhook request.
pub(super) async fn handle(events: &Events, req: Request<ReqBody>) -> Response<ResBody> {
    match accept(events, req).await {
        Ok(resp) => resp,
        Err(e) => problem(e),
    }
}

/// The admin error answer of `e`, except that the failure of an outbound channel keeps
/// its message (it names a channel and a host, never a secret).
fn problem(e: Error) -> Response<ResBody> {
    match &e {
        Error::BadGateway(m) | Error::GatewayTimeout(m) | Error::Unavailable(m) => {
            tracing::debug!(error = %m, "Webhook event was not sent.");
            let status = e.status();
            body::json_response(
                status,
                &json!({"statusCode": status.as_u16(), "errorMessage": m}),
            )
        }
        _ => e.into_admin_response(),
    }
}

/// The key of the channel a webhook path names.
fn channel_key(path: &str) -> Option<String> {
    let rest = path.strip_prefix(WEBHOOK_PREFIX)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains('/') {
        return None;
    }
    Some(
        percent_encoding::percent_decode_str(rest)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

async fn accept(events: &Events, req: Request<ReqBody>) -> Result<Response<ResBody>> {
    if req.method() != Method::POST {
        return Err(Error::MethodNotAllowed { allow: "POST" });
    }
    let key = channel_key(req.uri().path())
        .ok_or_else(|| Error::not_found("no such webhook URL: POST /events/{channelKey}"))?;
    let unknown = || Error::not_found(format!("no inbound http channel '{key}' is deployed"));
    let channel: Arc<ChannelDefinition> = events
        .catalog()
        .latest_channel(&key, "")
        .filter(|c| c.model.direction == Direction::Inbound)
        .cloned()
        .ok_or_else(unknown)?;
    let Transport::Http {
        allow_anonymous,
        signature,
        ..
    } = &channel.model.transport
    else {
        return Err(unknown());
    };
    let (parts, body) = req.into_parts();
    if !allow_anonymous && signature.is_none() {
        events
            .auth
            .open()
            .await?
            .authenticate_admin(&parts.headers)
            .await?;
    }
    let verifier = match signature {
        Some(def) => Some(verifier(events, def, &parts.headers).await?),
        None => None,
    };
    let limit = events.shared.config.max_request_bytes;
    let bytes = read(&parts.headers, body, limit, verifier).await?;
    let message = bus::parse_message(&channel.info.key, &bytes)?;
    let (event, payload, tenant) = bus::resolve(events, &channel, &message)?;
    bus::send(events, &event, payload, &tenant, false).await?;
    Ok(body::json_response(
        StatusCode::ACCEPTED,
        &json!({
            "eventDefinitionKey": event.info.key,
            "eventDefinitionId": event.info.id,
        }),
    ))
}

/// The verifier of the channel's signature `def`, its secret from the keystore.
///
/// # Errors
///
/// 401 when the signature header is missing, malformed or stale; 500 (logged) when the
/// secret is not in the keystore.
async fn verifier(
    events: &Events,
    def: &SignatureDefinition,
    headers: &http::HeaderMap,
) -> Result<Verifier> {
    let keystore = Arc::clone(&events.keystore);
    let alias = def.secret_alias.clone();
    let secret = tokio::task::spawn_blocking(move || keystore.value(&alias))
        .await
        .map_err(|e| Error::internal(format!("a keystore task failed: {e}")))??;
    let Some(secret) = secret else {
        tracing::error!(alias = %def.secret_alias, "The signature secret of a channel is not in the keystore.");
        return Err(Error::internal(
            "the signature secret of this channel is not set",
        ));
    };
    Verifier::new(def, headers, &secret, crate::clock::now_millis() / 1000)
}

/// Reads the body up to `limit`, feeding `verifier` (when there is one) as it goes.
///
/// # Errors
///
/// 413 past the limit (before a byte is read when `Content-Length` says so); 401 when
/// the signature does not match the body.
async fn read(
    headers: &http::HeaderMap,
    mut body: ReqBody,
    limit: u64,
    mut verifier: Option<Verifier>,
) -> Result<Bytes> {
    if let Some(len) = body::content_length(headers) {
        if len > limit {
            return Err(Error::PayloadTooLarge { limit });
        }
    }
    let mut buf = BytesMut::with_capacity(body.size_hint().lower().min(limit) as usize);
    while let Some(frame) = http_body_util::BodyExt::frame(&mut body).await {
        let frame = frame.map_err(body::read_error)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if (buf.len() + data.len()) as u64 > limit {
            return Err(Error::PayloadTooLarge { limit });
        }
        if let Some(v) = verifier.as_mut() {
            v.update(&data);
        }
        buf.extend_from_slice(&data);
    }
    if let Some(v) = verifier {
        v.finish()?;
    }
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_paths_name_one_decoded_channel_key() {
        assert_eq!(channel_key("/events/orders").as_deref(), Some("orders"));
        assert_eq!(channel_key("/events/orders/").as_deref(), Some("orders"));
        assert_eq!(
            channel_key("/events/order%20hook").as_deref(),
            Some("order hook")
        );
        assert_eq!(channel_key("/events/"), None);
        assert_eq!(channel_key("/events/a/b"), None);
    }

    #[test]
    fn a_failed_outbound_channel_keeps_its_message_other_5xx_do_not() {
        let resp = problem(Error::BadGateway(
            "channel 'out': peer/x answered 500".into(),
        ));
        assert_eq!(resp.status(), 502);
        let resp = problem(Error::internal("/secret/path failed"));
        assert_eq!(resp.status(), 500);
    }
}
