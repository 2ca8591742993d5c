//! `POST event-registry-runtime/event-instances` (F21, D3): sends one event.
//!
//! The body is `{eventDefinitionId | eventDefinitionKey, channelDefinitionId?,
//! channelDefinitionKey?, eventPayload: {…}, tenantId?}`. Exactly one of the event's id or
//! key names it (400 with Flowable's texts otherwise); a key resolves to its newest version
//! in the tenant, falling back to the definitions without a tenant, as Flowable does. A
//! channel is optional (Flowable requires one; the seed does not): when given it must
//! exist, and the event is sent the same way whichever inbound channel is named, since
//! where an event goes (outbound channels, subscribers, listeners) depends on the event
//! alone. The payload keeps the fields the event model declares and refuses declared
//! fields of the wrong type, naming them. Sent: **201 with an empty body**.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde_json::{json, Map, Value};

use super::super::Ctx;
use crate::error::{Error, Result};
use crate::event::{Catalog, ChannelDefinition, EventDefinition};
use crate::http::body::{self, ReqBody, ResBody};

/// What names a definition in the request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Named {
    Id(String),
    Key(String),
}

/// A parsed event-instances request.
#[derive(Debug)]
struct EventInstance {
    event: Named,
    channel: Option<Named>,
    payload: Map<String, Value>,
    /// `""`: none.
    tenant_id: String,
}

/// `POST event-registry-runtime/event-instances`.
pub(super) async fn create(ctx: &Ctx, req: Request<ReqBody>) -> Result<Response<ResBody>> {
    let limit = ctx.admin.shared.config.max_request_bytes;
    let len = body::content_length(req.headers());
    let bytes = body::read_limited(req.into_body(), len, limit).await?;
    let instance = EventInstance::parse(&bytes)?;
    let catalog = ctx.admin.events.catalog();
    let event = instance.event_definition(&catalog)?;
    instance.channel_definition(&catalog)?;
    let payload = event.model.check_payload(&instance.payload)?;
    let tenant = if instance.tenant_id.is_empty() {
        event.info.tenant_id.as_str()
    } else {
        instance.tenant_id.as_str()
    };
    if let Err(e) = ctx.admin.events.send(&event, payload, tenant).await {
        return Ok(refused(e));
    }
    let mut resp = Response::new(body::full(Bytes::new()));
    *resp.status_mut() = StatusCode::CREATED;
    Ok(resp)
}

/// The answer when the event was not taken. A channel that did not take it (502, 503,
/// 504) says which and why, as fss wrote it; only messages that may carry internals
/// ([`Error::is_log_only`]) are replaced by the generic one.
fn refused(e: Error) -> Response<ResBody> {
    let status = e.status();
    let gateway = matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
    );
    if gateway && !e.is_log_only() {
        tracing::warn!(error = %e, "Event not sent.");
        return body::json_response(
            status,
            &json!({"statusCode": status.as_u16(), "errorMessage": e.to_string()}),
        );
    }
    e.into_admin_response()
}

impl EventInstance {
    /// Reads the request body.
    ///
    /// # Errors
    ///
    /// 400 when it is not a JSON object, names the event by neither or both of id and
    /// key, names the channel twice, or has a field of the wrong JSON type.
    fn parse(bytes: &[u8]) -> Result<EventInstance> {
        const SHAPE: &str = "send a JSON object such as {\"eventDefinitionKey\": \"orderPlaced\", \
                             \"eventPayload\": {\"orderId\": \"o-1\"}}";
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::bad_request(format!("the body is empty; {SHAPE}")));
        }
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            Error::bad_request(format!("the body is not valid JSON ({e}); {SHAPE}"))
        })?;
        let Value::Object(body) = value else {
            return Err(Error::bad_request(format!(
                "the body is not a JSON object; {SHAPE}"
            )));
        };
        let event = match (
            text(&body, "eventDefinitionId")?,
            text(&body, "eventDefinitionKey")?,
        ) {
            (Some(_), Some(_)) => {
                return Err(Error::bad_request(
                    "Only one of eventDefinitionId or eventDefinitionKey should be set.",
                ))
            }
            (Some(id), None) => Named::Id(id),
            (None, Some(key)) => Named::Key(key),
            (None, None) => {
                return Err(Error::bad_request(
                    "Either eventDefinitionId or eventDefinitionKey is required.",
                ))
            }
        };
        let channel = match (
            text(&body, "channelDefinitionId")?,
            text(&body, "channelDefinitionKey")?,
        ) {
            (Some(_), Some(_)) => {
                return Err(Error::bad_request(
                    "Only one of channelDefinitionId or channelDefinitionKey should be set.",
                ))
            }
            (Some(id), None) => Some(Named::Id(id)),
            (None, Some(key)) => Some(Named::Key(key)),
            (None, None) => None,
        };
        let payload = match body.get("eventPayload") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(other) => {
                return Err(Error::bad_request(format!(
                    "'eventPayload' must be a JSON object of the event's payload fields, not {}",
                    kind_of(other)
                )))
            }
        };
        Ok(EventInstance {
            event,
            channel,
            payload,
            tenant_id: text(&body, "tenantId")?.unwrap_or_default(),
        })
    }

    /// The event definition the request names.
    ///
    /// # Errors
    ///
    /// 404 when none is deployed.
    fn event_definition(&self, catalog: &Catalog) -> Result<Arc<EventDefinition>> {
        match &self.event {
            Named::Id(id) => catalog
                .event(id)
                .ok_or_else(|| no_definition("event", "id", id)),
            Named::Key(key) => catalog
                .latest_event(key, &self.tenant_id)
                .ok_or_else(|| no_definition("event", "key", key)),
        }
        .cloned()
    }

    /// The channel definition the request names, if it names one.
    ///
    /// # Errors
    ///
    /// 404 when it names one that is not deployed.
    fn channel_definition(&self, catalog: &Catalog) -> Result<Option<Arc<ChannelDefinition>>> {
        let found = match &self.channel {
            None => return Ok(None),
            Some(Named::Id(id)) => catalog
                .channel(id)
                .ok_or_else(|| no_definition("channel", "id", id)),
            Some(Named::Key(key)) => catalog
                .latest_channel(key, &self.tenant_id)
                .ok_or_else(|| no_definition("channel", "key", key)),
        };
        found.map(|c| Some(Arc::clone(c)))
    }
}

fn no_definition(kind: &str, by: &str, value: &str) -> Error {
    Error::not_found(format!("No {kind} definition found for {by} '{value}'"))
}

/// The string field `name` of `body`; absent, `null` and `""` are none.
fn text(body: &Map<String, Value>, name: &str) -> Result<Option<String>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(Error::bad_request(format!(
            "'{name}' must be a string, not {}",
            kind_of(other)
        ))),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::model::{parse_channel, parse_event};
    use crate::event::DefinitionInfo;

    fn parse(v: Value) -> Result<EventInstance> {
        EventInstance::parse(v.to_string().as_bytes())
    }

    fn message(r: Result<EventInstance>) -> (u16, String) {
        let e = r.unwrap_err();
        (e.status().as_u16(), e.to_string())
    }

    fn info(id: &str, key: &str, version: i64, tenant: &str) -> DefinitionInfo {
        DefinitionInfo {
            id: id.into(),
            key: key.into(),
            version,
            name: None,
            category: None,
            description: None,
            deployment_id: "d".into(),
            resource_name: format!("{key}.event"),
            tenant_id: tenant.into(),
        }
    }

    fn catalog() -> Catalog {
        let model = parse_event(
            "e.event",
            br#"{"key": "orderPlaced", "payload": [{"name": "amount", "type": "double"}]}"#,
        )
        .expect("event parses");
        let events = [("e1", 1, ""), ("e2", 2, ""), ("e3", 1, "acme")]
            .into_iter()
            .map(|(id, v, t)| {
                Arc::new(EventDefinition {
                    info: info(id, "orderPlaced", v, t),
                    model: model.clone(),
                })
            })
            .collect();
        let channel = parse_channel(
            "c.channel",
            br#"{"key": "hook", "channelType": "inbound", "type": "http",
                 "channelEventKeyDetection": {"fixedValue": "orderPlaced"}}"#,
        )
        .expect("channel parses");
        let channels = vec![Arc::new(ChannelDefinition {
            info: info("c1", "hook", 1, ""),
            model: channel,
        })];
        Catalog::new(events, channels)
    }

    #[test]
    fn the_event_is_named_by_exactly_one_of_id_and_key() {
        assert_eq!(
            message(parse(
                json!({"eventDefinitionId": "a", "eventDefinitionKey": "b"})
            )),
            (
                400,
                "Only one of eventDefinitionId or eventDefinitionKey should be set.".into()
            )
        );
        assert_eq!(
            message(parse(json!({"eventPayload": {}}))),
            (
                400,
                "Either eventDefinitionId or eventDefinitionKey is required.".into()
            )
        );
        assert!(parse(json!({"eventDefinitionKey": ""})).is_err());
        let i = parse(json!({"eventDefinitionKey": "k"})).unwrap();
        assert_eq!(i.event, Named::Key("k".into()));
        assert!(i.payload.is_empty() && i.channel.is_none());
        let (status, m) = message(parse(
            json!({"eventDefinitionKey": "k", "channelDefinitionId": "c", "channelDefinitionKey": "d"}),
        ));
        assert_eq!(status, 400);
        assert!(m.starts_with("Only one of channelDefinitionId"), "{m}");
    }

    #[test]
    fn bodies_of_the_wrong_shape_are_400_saying_what_is_wrong() {
        for (body, says) in [
            (&b""[..], "empty"),
            (b"  \n", "empty"),
            (b"{not json", "not valid JSON"),
            (b"[1, 2]", "not a JSON object"),
            (b"\"orderPlaced\"", "not a JSON object"),
            (
                br#"{"eventDefinitionKey": 7}"#,
                "'eventDefinitionKey' must be a string",
            ),
            (
                br#"{"eventDefinitionKey": "k", "eventPayload": [1]}"#,
                "'eventPayload' must be a JSON object",
            ),
            (
                br#"{"eventDefinitionKey": "k", "tenantId": false}"#,
                "'tenantId' must be a string",
            ),
        ] {
            let e = EventInstance::parse(body).unwrap_err();
            assert_eq!(e.status(), 400);
            assert!(e.to_string().contains(says), "{says}: {e}");
        }
    }

    #[test]
    fn keys_resolve_to_the_newest_in_the_tenant_then_without_one() {
        let c = catalog();
        let id = |v: Value| {
            parse(v)
                .unwrap()
                .event_definition(&c)
                .map(|e| e.info.id.clone())
        };
        assert_eq!(
            id(json!({"eventDefinitionKey": "orderPlaced"})).unwrap(),
            "e2"
        );
        assert_eq!(
            id(json!({"eventDefinitionKey": "orderPlaced", "tenantId": "acme"})).unwrap(),
            "e3"
        );
        assert_eq!(
            id(json!({"eventDefinitionKey": "orderPlaced", "tenantId": "other"})).unwrap(),
            "e2"
        );
        assert_eq!(id(json!({"eventDefinitionId": "e1"})).unwrap(), "e1");
        let e = id(json!({"eventDefinitionKey": "nope"})).unwrap_err();
        assert_eq!(e.status(), 404);
        assert_eq!(e.to_string(), "No event definition found for key 'nope'");
        let e = id(json!({"eventDefinitionId": "x"})).unwrap_err();
        assert_eq!(e.to_string(), "No event definition found for id 'x'");
    }

    #[test]
    fn a_channel_is_optional_but_must_exist_when_named() {
        let c = catalog();
        let channel = |v: Value| parse(v).unwrap().channel_definition(&c);
        assert!(channel(json!({"eventDefinitionKey": "k"}))
            .unwrap()
            .is_none());
        let found = channel(json!({"eventDefinitionKey": "k", "channelDefinitionKey": "hook"}));
        assert_eq!(found.unwrap().unwrap().info.id, "c1");
        assert!(
            channel(json!({"eventDefinitionKey": "k", "channelDefinitionId": "c1"}))
                .unwrap()
                .is_some()
        );
        let e = channel(json!({"eventDefinitionKey": "k", "channelDefinitionKey": "gone"}))
            .unwrap_err();
        assert_eq!(e.status(), 404);
        assert_eq!(e.to_string(), "No channel definition found for key 'gone'");
    }

    async fn answer(resp: Response<ResBody>) -> (u16, Value) {
        use http_body_util::BodyExt;
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_channel_error_says_which_channel_but_internals_stay_in_the_log() {
        let e = Error::BadGateway("channel 'ordersOut' answered 500".into());
        let said = e.to_string();
        let (status, v) = answer(refused(e)).await;
        assert_eq!(status, 502);
        assert_eq!(v["statusCode"], 502);
        assert_eq!(v["errorMessage"], said);
        let (status, v) =
            answer(refused(Error::internal("/var/lib/fss/registry.db: locked"))).await;
        assert_eq!(status, 500);
        assert!(
            !v["errorMessage"].as_str().unwrap().contains("/var/lib"),
            "{v}"
        );
    }
}
