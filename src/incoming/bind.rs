//! Input binding of a trigger: what a plain REST call sends becomes the inputs of the
//! action, checked against their declared types exactly as a Flow request's are
//! (`execution::inputs`).
//!
//! For each declared input, the first of these that has it gives its value:
//!
//! 1. the JSON object of the body (or of one element of an array body), by name;
//! 2. a query parameter of that name (`?Name=From%20Query`; `timeout` is the trigger's
//!    own and binds to no input);
//! 3. for inputs named `body`, `headers`, `contentType` and `url`: the raw body as text,
//!    the request headers as an object (lower-case names; `Authorization` and `Cookie`
//!    left out, they carry credentials), the `Content-Type`, and the request's path and
//!    query.
//!
//! An input none of them gives is absent (a required one is refused with 400).

use bytes::Bytes;
use http::request::Parts;
use serde_json::{Map, Value};

use crate::definition::{MessageActionDefinition, ServiceDefinition};
use crate::error::{Error, Result};
use crate::execution::inputs::{check_inputs, plain_inputs};
use crate::process::value;

/// The query parameter that overrides the action's `timeoutMs`.
pub(crate) const TIMEOUT_PARAM: &str = "timeout";
/// The longest `timeoutMs` or `?timeout`: one hour.
pub(crate) const MAX_TIMEOUT_MS: u64 = 3_600_000;

/// The records of one trigger: each runs as its own execution.
#[derive(Debug)]
pub(crate) struct Bound {
    /// The plain inputs of each record, checked.
    pub(crate) records: Vec<Map<String, Value>>,
    /// The body was a JSON array (the answer lists records).
    pub(crate) is_array: bool,
}

/// The decoded query parameters of a trigger, in order (read as every query string is,
/// [`crate::http::request::query_pairs`]).
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query.map_or_else(Vec::new, |q| crate::http::request::query_pairs(q).collect())
}

/// The `?timeout=ms` override, when given.
///
/// # Errors
///
/// 400 when it is not a whole number of ms in 1..=3 600 000.
pub(crate) fn timeout_override(query: &[(String, String)]) -> Result<Option<u64>> {
    let Some((_, v)) = query.iter().find(|(k, _)| k == TIMEOUT_PARAM) else {
        return Ok(None);
    };
    match v.parse::<u64>() {
        Ok(ms @ 1..=MAX_TIMEOUT_MS) => Ok(Some(ms)),
        _ => Err(Error::bad_request(format!(
            "?{TIMEOUT_PARAM}={v} is not a whole number of milliseconds between 1 and \
             {MAX_TIMEOUT_MS}"
        ))),
    }
}

/// Binds and checks the inputs of `def` from the body `bytes`, the `query` and the head
/// `parts`.
///
/// # Errors
///
/// 400 when the body is not JSON (unless the action takes the raw `body`), not an object
/// or an array of objects, or an input does not fit its type (naming the record of an
/// array).
pub(crate) fn bind(
    def: &MessageActionDefinition,
    service: &ServiceDefinition,
    parts: &Parts,
    query: &[(String, String)],
    bytes: &Bytes,
) -> Result<Bound> {
    let declares = |n: &str| def.inputs.iter().any(|d| d.name == n);
    let parsed: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        match serde_json::from_slice(bytes) {
            Ok(v) => v,
            // A webhook may post a form or text: an action that takes the raw body gets it.
            Err(_) if declares("body") => Value::Object(Map::new()),
            Err(e) => {
                return Err(Error::bad_request(format!(
                    "request body is not valid JSON: {e}"
                )))
            }
        }
    };
    let (elements, is_array) = match parsed {
        Value::Object(m) => (vec![m], false),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                match item {
                    Value::Object(m) => out.push(m),
                    other => {
                        return Err(Error::bad_request(format!(
                            "record {i} of the body is {}, not a JSON object of inputs",
                            kind(&other)
                        )))
                    }
                }
            }
            if out.is_empty() {
                return Err(Error::bad_request(
                    "the body is an empty array: send at least one record",
                ));
            }
            (out, true)
        }
        other => {
            return Err(Error::bad_request(format!(
                "the body is {}, not a JSON object of inputs or an array of them",
                kind(&other)
            )))
        }
    };
    let mut records = Vec::with_capacity(elements.len());
    for (i, element) in elements.into_iter().enumerate() {
        let engine: Vec<_> = def
            .inputs
            .iter()
            .filter_map(|d| {
                let v = element
                    .get(&d.name)
                    .cloned()
                    .or_else(|| from_query(query, &d.name))
                    .or_else(|| from_request(&d.name, parts, bytes))?;
                Some(value::plain_to_engine(d, &v, service))
            })
            .collect();
        check_inputs(def, &engine, service).map_err(|e| match (is_array, e) {
            (true, Error::BadRequest(m)) => Error::bad_request(format!("record {i}: {m}")),
            (_, e) => e,
        })?;
        records.push(plain_inputs(def, &engine, service));
    }
    Ok(Bound { records, is_array })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn from_query(query: &[(String, String)], name: &str) -> Option<Value> {
    if name == TIMEOUT_PARAM {
        return None;
    }
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| Value::String(v.clone()))
}

/// The request-derived inputs: `body`, `headers`, `contentType`, `url`.
fn from_request(name: &str, parts: &Parts, bytes: &Bytes) -> Option<Value> {
    match name {
        "body" => Some(Value::String(String::from_utf8_lossy(bytes).into_owned())),
        "headers" => {
            let mut m = Map::new();
            for (k, v) in &parts.headers {
                if k == http::header::AUTHORIZATION || k == http::header::COOKIE {
                    continue;
                }
                let Ok(v) = v.to_str() else { continue };
                match m.get_mut(k.as_str()) {
                    Some(Value::String(prev)) => {
                        prev.push_str(", ");
                        prev.push_str(v);
                    }
                    _ => {
                        m.insert(k.as_str().to_owned(), Value::String(v.to_owned()));
                    }
                }
            }
            Some(Value::Object(m))
        }
        "contentType" => parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| Value::String(v.to_owned())),
        "url" => Some(Value::String(parts.uri.path_and_query().map_or_else(
            || parts.uri.path().to_owned(),
            |p| p.as_str().to_owned(),
        ))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_decode_and_timeout_is_bounded() {
        let q = query_pairs(Some("Name=From%20Query&x=a+b&timeout=300"));
        assert_eq!(q[0], ("Name".into(), "From Query".into()));
        assert_eq!(q[1].1, "a b");
        assert_eq!(timeout_override(&q).unwrap(), Some(300));
        for bad in ["0", "3600001", "soon", ""] {
            let q = vec![("timeout".to_owned(), bad.to_owned())];
            let e = timeout_override(&q).unwrap_err();
            assert_eq!(e.status(), 400, "{bad}");
            assert!(e.to_string().contains("?timeout="), "{e}");
        }
    }
}
