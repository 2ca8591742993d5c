//! Flowable's two definition formats, parsed and checked: the EventModel of a `.event`
//! resource and the ChannelModel of a `.channel` resource.
//!
//! Parsing keeps the document as sent (the `/model` endpoints answer it) beside the fields
//! fss acts on. Every problem of a resource is listed, by its JSON path, so that a refused
//! deployment says all that is wrong at once. Fields fss does not act on are kept and
//! ignored, as Flowable's own parser does; channel types fss does not run (`jms`, `kafka`)
//! are checked only for what every channel has (`key`, `channelType`, `type`).

use serde_json::{Map, Value};

use crate::definition::{Problem, SignatureDefinition, MAX_EVENT_KEY_CHARS};
use crate::error::{Error, Result};

/// The type of one payload field (Flowable's `EventPayloadTypes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PayloadType {
    /// A JSON string.
    String,
    /// A whole number within 32 bits.
    Integer,
    /// A whole number within 64 bits.
    Long,
    /// Any JSON number.
    Double,
    /// `true` or `false`.
    Boolean,
    /// Any JSON value.
    Json,
}

impl PayloadType {
    /// The names Flowable writes, in its order.
    pub(crate) const NAMES: [&'static str; 6] =
        ["string", "integer", "long", "double", "boolean", "json"];

    fn parse(name: &str) -> Option<PayloadType> {
        Some(match name.to_ascii_lowercase().as_str() {
            "string" => PayloadType::String,
            "integer" => PayloadType::Integer,
            "long" => PayloadType::Long,
            "double" => PayloadType::Double,
            "boolean" => PayloadType::Boolean,
            "json" => PayloadType::Json,
            _ => return None,
        })
    }

    /// The name as Flowable writes it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PayloadType::String => "string",
            PayloadType::Integer => "integer",
            PayloadType::Long => "long",
            PayloadType::Double => "double",
            PayloadType::Boolean => "boolean",
            PayloadType::Json => "json",
        }
    }

    /// Whether `v` is a value of this type. `null` is accepted for every type: a field
    /// may be sent without a value.
    pub(crate) fn admits(self, v: &Value) -> bool {
        match (self, v) {
            (_, Value::Null) | (PayloadType::Json, _) => true,
            (PayloadType::String, Value::String(_)) => true,
            (PayloadType::Integer, Value::Number(n)) => {
                n.as_i64().is_some_and(|i| i32::try_from(i).is_ok())
            }
            (PayloadType::Long, Value::Number(n)) => n.as_i64().is_some(),
            (PayloadType::Double, Value::Number(_)) => true,
            (PayloadType::Boolean, Value::Bool(_)) => true,
            _ => false,
        }
    }
}

/// One declared payload field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PayloadField {
    pub(crate) name: String,
    pub(crate) kind: PayloadType,
    /// The field correlates events (listed in `correlationParameters`, or marked
    /// `"correlationParameter": true` as newer Flowable writes it).
    pub(crate) correlation: bool,
}

/// A parsed `.event` resource.
#[derive(Debug, Clone)]
pub(crate) struct EventModel {
    pub(crate) key: String,
    /// The payload fields, the correlation parameters among them.
    pub(crate) payload: Vec<PayloadField>,
    /// The channels that carry this event in (`inboundChannelKeys`).
    pub(crate) inbound_channel_keys: Vec<String>,
    /// The channels this event is sent out on (`outboundChannelKeys`).
    pub(crate) outbound_channel_keys: Vec<String>,
    /// The document as deployed.
    pub(crate) document: Value,
}

impl EventModel {
    /// The declared fields of `payload`, type-checked: fields the model does not declare
    /// are dropped, a declared field of the wrong type is a 400 naming it (and every
    /// other such field).
    ///
    /// # Errors
    ///
    /// [`Error::BadRequest`] naming each field whose value is not of its declared type.
    pub(crate) fn check_payload(&self, payload: &Map<String, Value>) -> Result<Map<String, Value>> {
        let mut kept = Map::new();
        let mut wrong = Vec::new();
        for f in &self.payload {
            let Some(v) = payload.get(&f.name) else {
                continue;
            };
            if f.kind.admits(v) {
                kept.insert(f.name.clone(), v.clone());
            } else {
                wrong.push(format!(
                    "'{}' must be of type {} but is {}",
                    f.name,
                    f.kind.as_str(),
                    json_kind(v)
                ));
            }
        }
        if wrong.is_empty() {
            Ok(kept)
        } else {
            Err(Error::bad_request(format!(
                "the payload does not match event '{}': {}",
                self.key,
                wrong.join("; ")
            )))
        }
    }
}

/// Which way a channel carries events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Messages come in and become events.
    Inbound,
    /// Events go out as messages.
    Outbound,
}

impl Direction {
    /// `inbound` or `outbound`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// How an inbound message names its event (`channelEventKeyDetection`), or its tenant
/// (`channelEventTenantDetection`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Detection {
    /// Always this value (`fixedValue`).
    Fixed(String),
    /// The top-level JSON field of this name (`jsonField`).
    JsonField(String),
    /// The value at this JSON pointer (`jsonPointerField`, `jsonPointerExpression`).
    JsonPointer(String),
}

impl Detection {
    /// What this rule finds in a message's JSON `body`: a string, or a number or boolean
    /// as text.
    pub(crate) fn detect(&self, body: &Value) -> Option<String> {
        let found = match self {
            Detection::Fixed(v) => return Some(v.clone()),
            Detection::JsonField(f) => body.get(f),
            Detection::JsonPointer(p) => body.pointer(p),
        };
        match found? {
            Value::String(s) => Some(s.clone()),
            v @ (Value::Number(_) | Value::Bool(_)) => Some(v.to_string()),
            _ => None,
        }
    }
}

/// What carries a channel's messages, as far as fss runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transport {
    /// Inbound: the webhook `/events/{key}`. Outbound: a POST to `url`.
    Http {
        /// Outbound only: where events are POSTed (`destination`, or `url`).
        url: Option<String>,
        /// Inbound only: callers need no credentials (a `signature`, if any, is then
        /// the credential).
        allow_anonymous: bool,
        /// Inbound only: the HMAC of the raw body the sender must send.
        signature: Option<SignatureDefinition>,
    },
    /// RabbitMQ: inbound consumes `queue`; outbound publishes to `exchange` (`""`, the
    /// default exchange, unless given) with `routing_key`.
    Rabbit {
        /// Inbound: the queue consumed (`destination`, or the first of `queues`).
        queue: Option<String>,
        /// Outbound: the exchange (`exchange`; default `""`).
        exchange: String,
        /// Outbound: the routing key (`routingKey`, else `destination`).
        routing_key: Option<String>,
    },
    /// A type fss deploys and shows but does not run (`jms`, `kafka`, …).
    Other,
}

/// A parsed `.channel` resource.
#[derive(Debug, Clone)]
pub(crate) struct ChannelModel {
    pub(crate) key: String,
    pub(crate) direction: Direction,
    /// `type` as written (`http`, `rabbit`, `jms`, …), lower case.
    pub(crate) kind: String,
    pub(crate) transport: Transport,
    /// Inbound: how a message names its event; `None` for types fss does not run.
    pub(crate) key_detection: Option<Detection>,
    /// Inbound: how a message names its tenant, when the channel says.
    pub(crate) tenant_detection: Option<Detection>,
    /// The document as deployed.
    pub(crate) document: Value,
}

impl ChannelModel {
    /// Whether fss carries events on this channel (`http` and `rabbit`).
    pub(crate) fn is_run(&self) -> bool {
        !matches!(self.transport, Transport::Other)
    }
}

/// Parses a `.event` resource named `resource`.
///
/// # Errors
///
/// Every problem of the document, by its JSON path.
pub(crate) fn parse_event(resource: &str, bytes: &[u8]) -> Result<EventModel, Vec<Problem>> {
    let doc = parse_object(resource, bytes)?;
    let mut p = Problems::new(resource);
    let key = p.key(&doc);
    // Checked to be a string; the definition's name is read from the document.
    p.opt_string(&doc, "name");
    let mut payload: Vec<PayloadField> = Vec::new();
    let fields =
        |list: &str, correlation: bool, p: &mut Problems<'_>, out: &mut Vec<PayloadField>| {
            let Some(v) = doc.get(list) else { return };
            let Some(items) = v.as_array() else {
                p.add(
                    format!("/{list}"),
                    "must be an array of {\"name\", \"type\"}",
                );
                return;
            };
            for (i, item) in items.iter().enumerate() {
                let at = format!("/{list}/{i}");
                let fname = item.get("name").and_then(Value::as_str).unwrap_or_default();
                if fname.trim().is_empty() {
                    p.add(format!("{at}/name"), "is required: the field's name");
                    continue;
                }
                let tname = item.get("type").and_then(Value::as_str).unwrap_or_default();
                let Some(kind) = PayloadType::parse(tname) else {
                    p.add(
                        format!("{at}/type"),
                        format!(
                            "'{tname}' is not a payload type; use one of {}",
                            PayloadType::NAMES.join(", ")
                        ),
                    );
                    continue;
                };
                let marked = item
                    .get("correlationParameter")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                match out.iter_mut().find(|f| f.name == fname) {
                    Some(f) if f.kind != kind => p.add(
                        at,
                        format!(
                            "field '{fname}' is declared twice with different types ({} and {})",
                            f.kind.as_str(),
                            kind.as_str()
                        ),
                    ),
                    Some(f) => f.correlation |= correlation || marked,
                    None => out.push(PayloadField {
                        name: fname.to_owned(),
                        kind,
                        correlation: correlation || marked,
                    }),
                }
            }
        };
    fields("payload", false, &mut p, &mut payload);
    fields("correlationParameters", true, &mut p, &mut payload);
    let inbound_channel_keys = p.keys(&doc, "inboundChannelKeys");
    let outbound_channel_keys = p.keys(&doc, "outboundChannelKeys");
    p.finish(EventModel {
        key,
        payload,
        inbound_channel_keys,
        outbound_channel_keys,
        document: doc,
    })
}

/// Parses a `.channel` resource named `resource`.
///
/// # Errors
///
/// Every problem of the document, by its JSON path.
pub(crate) fn parse_channel(resource: &str, bytes: &[u8]) -> Result<ChannelModel, Vec<Problem>> {
    let doc = parse_object(resource, bytes)?;
    let mut p = Problems::new(resource);
    let key = p.key(&doc);
    // Checked to be strings; the definition's fields are read from the document.
    for field in ["name", "category", "description"] {
        p.opt_string(&doc, field);
    }
    let direction = match doc.get("channelType").and_then(Value::as_str) {
        Some(t) if t.eq_ignore_ascii_case("inbound") => Direction::Inbound,
        Some(t) if t.eq_ignore_ascii_case("outbound") => Direction::Outbound,
        Some(t) => {
            p.add(
                "/channelType",
                format!("'{t}' is neither inbound nor outbound"),
            );
            Direction::Inbound
        }
        None => {
            p.add("/channelType", "is required: inbound or outbound");
            Direction::Inbound
        }
    };
    let kind = match doc.get("type").and_then(Value::as_str) {
        Some(t) if !t.trim().is_empty() => t.trim().to_ascii_lowercase(),
        _ => {
            p.add(
                "/type",
                "is required: http, rabbit (or jms, kafka, which fss does not run)",
            );
            String::new()
        }
    };
    let destination = p.opt_string(&doc, "destination");
    let transport = match kind.as_str() {
        "http" => {
            let url = destination.or_else(|| p.opt_string(&doc, "url"));
            if direction == Direction::Outbound {
                match url.as_deref() {
                    None => p.add("/destination", "is required: the URL events are POSTed to"),
                    Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                        p.add(
                            "/destination",
                            format!("'{u}' is not an http:// or https:// URL"),
                        );
                    }
                    Some(_) => {}
                }
            }
            let allow_anonymous = match doc.get("allowAnonymous") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    p.add("/allowAnonymous", "must be true or false");
                    false
                }
            };
            let signature = match doc.get("signature") {
                None | Some(Value::Null) => None,
                Some(v) => match serde_json::from_value::<SignatureDefinition>(v.clone()) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        p.add("/signature", e.to_string());
                        None
                    }
                },
            };
            Transport::Http {
                url: if direction == Direction::Outbound {
                    url
                } else {
                    None
                },
                allow_anonymous,
                signature,
            }
        }
        "rabbit" | "rabbitmq" => {
            let queue = destination.clone().or_else(|| {
                doc.get("queues")
                    .and_then(Value::as_array)
                    .and_then(|q| q.first())
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            let exchange = p.opt_string(&doc, "exchange").unwrap_or_default();
            let routing_key = p.opt_string(&doc, "routingKey").or(destination);
            match direction {
                Direction::Inbound if queue.is_none() => {
                    p.add("/destination", "is required: the queue this channel consumes");
                }
                Direction::Outbound if routing_key.is_none() && exchange.is_empty() => p.add(
                    "/destination",
                    "is required: the queue (or routingKey, with an exchange) events are published to",
                ),
                _ => {}
            }
            Transport::Rabbit {
                queue: if direction == Direction::Inbound {
                    queue
                } else {
                    None
                },
                exchange,
                routing_key,
            }
        }
        _ => Transport::Other,
    };
    let runs = !matches!(transport, Transport::Other);
    let key_detection = p.detection(&doc, "channelEventKeyDetection");
    let tenant_detection = p.detection(&doc, "channelEventTenantDetection");
    if runs && direction == Direction::Inbound && key_detection.is_none() {
        p.add(
            "/channelEventKeyDetection",
            "is required on an inbound channel: {\"fixedValue\": \"<event key>\"}, \
             {\"jsonField\": \"<field>\"} or {\"jsonPointerField\": \"/<pointer>\"}",
        );
    }
    for (what, ty) in [
        ("deserializerType", "deserializer"),
        ("serializerType", "serializer"),
    ] {
        if let Some(t) = doc.get(what).and_then(Value::as_str) {
            if runs && !t.eq_ignore_ascii_case("json") {
                p.add(
                    format!("/{what}"),
                    format!("the {ty} '{t}' is not supported; use json"),
                );
            }
        }
    }
    p.finish(ChannelModel {
        key,
        direction,
        kind,
        transport,
        key_detection: if runs { key_detection } else { None },
        tenant_detection: if runs { tenant_detection } else { None },
        document: doc,
    })
}

/// The JSON type of `v`, in words.
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

fn parse_object(resource: &str, bytes: &[u8]) -> Result<Value, Vec<Problem>> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(vec![Problem::new(resource, ".", "must be a JSON object")]),
        Err(e) => Err(vec![Problem::new(
            resource,
            ".",
            format!("is not valid JSON: {e}"),
        )]),
    }
}

/// The problems of one resource, collected.
struct Problems<'a> {
    resource: &'a str,
    list: Vec<Problem>,
}

impl<'a> Problems<'a> {
    fn new(resource: &'a str) -> Self {
        Problems {
            resource,
            list: Vec::new(),
        }
    }

    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let path: String = path.into();
        self.list
            .push(Problem::new(self.resource, &path, message.into()));
    }

    fn finish<T>(self, value: T) -> Result<T, Vec<Problem>> {
        if self.list.is_empty() {
            Ok(value)
        } else {
            Err(self.list)
        }
    }

    /// The required `key`: a non-empty string of at most [`MAX_EVENT_KEY_CHARS`] characters,
    /// without `/` (it names the channel's webhook URL).
    fn key(&mut self, doc: &Value) -> String {
        match doc.get("key") {
            Some(Value::String(k)) if !k.trim().is_empty() => {
                if k.chars().count() > MAX_EVENT_KEY_CHARS {
                    self.add(
                        "/key",
                        format!("is longer than {MAX_EVENT_KEY_CHARS} characters"),
                    );
                } else if k.contains(['/', '\\']) || k.chars().any(char::is_control) {
                    self.add("/key", "may not hold '/', '\\' or control characters");
                }
                k.clone()
            }
            _ => {
                self.add("/key", "is required: a non-empty string");
                String::new()
            }
        }
    }

    fn opt_string(&mut self, doc: &Value, field: &str) -> Option<String> {
        match doc.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.add(format!("/{field}"), "must be a string");
                None
            }
        }
    }

    fn keys(&mut self, doc: &Value, field: &str) -> Vec<String> {
        match doc.get(field) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, v) in items.iter().enumerate() {
                    match v.as_str() {
                        Some(s) if !s.is_empty() => out.push(s.to_owned()),
                        _ => self.add(format!("/{field}/{i}"), "must be a channel key"),
                    }
                }
                out
            }
            Some(_) => {
                self.add(format!("/{field}"), "must be an array of channel keys");
                Vec::new()
            }
        }
    }

    fn detection(&mut self, doc: &Value, field: &str) -> Option<Detection> {
        let v = doc.get(field)?;
        let Some(o) = v.as_object() else {
            self.add(format!("/{field}"), "must be an object");
            return None;
        };
        let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
        if let Some(v) = s("fixedValue") {
            return Some(Detection::Fixed(v));
        }
        if let Some(v) = s("jsonField") {
            return Some(Detection::JsonField(v));
        }
        if let Some(v) = s("jsonPointerField").or_else(|| s("jsonPointerExpression")) {
            if !v.starts_with('/') {
                self.add(
                    format!("/{field}"),
                    format!("the JSON pointer '{v}' must start with '/'"),
                );
                return None;
            }
            return Some(Detection::JsonPointer(v));
        }
        if o.is_empty() {
            return None;
        }
        // jsonPathExpression, xmlXPathExpression, delegateExpression: Flowable's other
        // rules, which fss does not evaluate; a channel of a type fss runs refuses them.
        let named: Vec<&str> = o.keys().map(String::as_str).collect();
        if matches!(doc.get("type").and_then(Value::as_str), Some(t) if ["http", "rabbit", "rabbitmq"].contains(&t.to_ascii_lowercase().as_str()))
        {
            self.add(
                format!("/{field}"),
                format!(
                    "{} is not supported; use fixedValue, jsonField or jsonPointerField",
                    named.join(", ")
                ),
            );
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(v: Value) -> Result<EventModel, Vec<Problem>> {
        parse_event("e.event", v.to_string().as_bytes())
    }

    fn channel(v: Value) -> Result<ChannelModel, Vec<Problem>> {
        parse_channel("c.channel", v.to_string().as_bytes())
    }

    #[test]
    fn an_event_model_parses_with_its_correlation_parameters() {
        let e = event(json!({
            "key": "orderPlaced", "name": "Order placed",
            "inboundChannelKeys": ["hook"], "outboundChannelKeys": ["out"],
            "correlationParameters": [{"name": "orderId", "type": "string"}],
            "payload": [{"name": "orderId", "type": "string"}, {"name": "amount", "type": "double"}]
        }))
        .unwrap();
        assert_eq!(e.key, "orderPlaced");
        assert_eq!(e.payload.len(), 2);
        assert!(e.payload[0].correlation && !e.payload[1].correlation);
        assert_eq!(e.inbound_channel_keys, ["hook"]);
        assert_eq!(e.outbound_channel_keys, ["out"]);
    }

    #[test]
    fn every_problem_of_an_event_is_listed() {
        let p = event(
            json!({"payload": [{"name": "a", "type": "money"}, {"type": "string"}],
                             "inboundChannelKeys": "x"}),
        )
        .unwrap_err();
        let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/key",
                "/payload/0/type",
                "/payload/1/name",
                "/inboundChannelKeys"
            ],
            "{p:?}"
        );
        assert!(parse_event("e.event", b"{nope").is_err());
        assert!(parse_event("e.event", b"[]").is_err());
    }

    #[test]
    fn payloads_keep_declared_fields_and_name_wrong_types() {
        let e = event(json!({"key": "k", "payload": [
            {"name": "id", "type": "string"}, {"name": "n", "type": "integer"},
            {"name": "amount", "type": "double"}, {"name": "ok", "type": "boolean"}]}))
        .unwrap();
        let ok = e
            .check_payload(
                json!({"id": "1", "n": 3, "amount": 1.5, "extra": true})
                    .as_object()
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(Value::Object(ok), json!({"id": "1", "n": 3, "amount": 1.5}));
        let err = e
            .check_payload(
                json!({"amount": "lots", "n": 1.5, "ok": "yes"})
                    .as_object()
                    .unwrap(),
            )
            .unwrap_err();
        assert_eq!(err.status(), 400);
        let msg = err.to_string();
        assert!(
            msg.contains("'amount' must be of type double but is a string"),
            "{msg}"
        );
        assert!(msg.contains("'n'") && msg.contains("'ok'"), "{msg}");
        assert!(!PayloadType::Integer.admits(&json!(3_000_000_000_i64)));
        assert!(PayloadType::Long.admits(&json!(3_000_000_000_i64)));
    }

    #[test]
    fn channels_of_the_types_fss_runs_are_checked_and_others_kept() {
        let hook = channel(
            json!({"key": "hook", "channelType": "inbound", "type": "http",
            "deserializerType": "json", "channelEventKeyDetection": {"fixedValue": "orderPlaced"}}),
        )
        .unwrap();
        assert_eq!(
            hook.key_detection,
            Some(Detection::Fixed("orderPlaced".into()))
        );
        assert!(hook.is_run());
        let out = channel(
            json!({"key": "out", "channelType": "outbound", "type": "rabbit",
            "destination": "q1", "serializerType": "json"}),
        )
        .unwrap();
        assert_eq!(
            out.transport,
            Transport::Rabbit {
                queue: None,
                exchange: String::new(),
                routing_key: Some("q1".into())
            }
        );
        let jms = channel(json!({"key": "j", "channelType": "inbound", "type": "jms",
            "destination": "x", "deserializerType": "xml",
            "channelEventKeyDetection": {"xmlXPathExpression": "/a"}}))
        .unwrap();
        assert!(!jms.is_run());
        let p = channel(json!({"key": "bad", "channelType": "sideways", "type": "rabbit"}))
            .unwrap_err();
        let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
        assert!(
            paths.contains(&"/channelType") && paths.contains(&"/destination"),
            "{p:?}"
        );
        let p = channel(json!({"key": "h", "channelType": "inbound", "type": "http"})).unwrap_err();
        assert_eq!(p[0].path, "/channelEventKeyDetection");
    }

    #[test]
    fn detection_finds_keys_by_field_and_pointer() {
        let body = json!({"type": "orderPlaced", "meta": {"tenant": "t1", "n": 4}});
        assert_eq!(
            Detection::JsonField("type".into()).detect(&body).as_deref(),
            Some("orderPlaced")
        );
        assert_eq!(
            Detection::JsonPointer("/meta/tenant".into())
                .detect(&body)
                .as_deref(),
            Some("t1")
        );
        assert_eq!(
            Detection::JsonPointer("/meta/n".into())
                .detect(&body)
                .as_deref(),
            Some("4")
        );
        assert_eq!(Detection::JsonField("nope".into()).detect(&body), None);
    }
}
