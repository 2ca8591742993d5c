//! The answer shapes of the incoming API (P8, P14, P16; the JSON paths are provisional,
//! D10).
//!
//! - one record that ran: 200 `{"status": "Success", "processId", "outputs": {name: value}}`
//!   — unless its outputs hold `statusCode`, `headers`, `contentType` or `body` (the output
//!   node, P6): then those are the HTTP answer itself;
//! - one record that failed: 500 `{"status": "Fail", "processId", "message"}`;
//! - an array body: 200 `{"status": "Success" | "Fail", "processId", "records": [{"index",
//!   "status", "outputs" | "message"}]}`, `Fail` when any record failed;
//! - still running (async, or sync→async with `Prefer: respond-async`): 202
//!   `{"processId", "status": "running"}` with `Location` (the poll URL) and `Retry-After`;
//! - the poll: `{"processId", "status": "running" | "finished" | "failed", "startedAt",
//!   "finishedAt", "outputs" | "records" | "message"}`.
//!
//! What is stored of a run ([`Outcome::to_json`]) is the answer without its `processId`,
//! so that a replay and a poll render from the same text.

use bytes::Bytes;
use http::{header, HeaderName, HeaderValue, Response, StatusCode};
use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::execution::records::rfc3339;
use crate::http::body::{self, ResBody};
use crate::store::runs::{RunRow, FAILED, FINISHED};

/// `Retry-After` of a 202: poll again in a second.
const RETRY_AFTER_SECONDS: &str = "1";
/// The outputs that, present in a single call's outputs, make the HTTP answer (P6).
const STATUS_CODE: &str = "statusCode";
const HEADERS: &str = "headers";
const CONTENT_TYPE: &str = "contentType";
const BODY: &str = "body";

/// How one record ended: its outputs by name, or the message of its failure.
pub(crate) type RecordOutcome = Result<Map<String, Value>, String>;

/// How a run ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// One object body.
    Single(RecordOutcome),
    /// An array body, record by record.
    Array(Vec<RecordOutcome>),
}

impl Outcome {
    /// Whether the run counts as failed for the poll: a single call that failed. An
    /// array run is `finished` whatever its records did; they say it one by one.
    pub(crate) fn run_status(&self) -> &'static str {
        match self {
            Outcome::Single(Err(_)) => FAILED,
            _ => FINISHED,
        }
    }

    /// The stored form: the answer without `processId`.
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Outcome::Single(Ok(outputs)) => json!({"status": "Success", "outputs": outputs}),
            Outcome::Single(Err(message)) => json!({"status": "Fail", "message": message}),
            Outcome::Array(records) => {
                let failed = records.iter().any(Result::is_err);
                let records: Vec<Value> = records
                    .iter()
                    .enumerate()
                    .map(|(i, r)| match r {
                        Ok(outputs) => {
                            json!({"index": i, "status": "Success", "outputs": outputs})
                        }
                        Err(message) => json!({"index": i, "status": "Fail", "message": message}),
                    })
                    .collect();
                json!({"status": if failed { "Fail" } else { "Success" }, "records": records})
            }
        }
    }
}

/// The answer of a run that ended, from its stored form `stored`.
pub(crate) fn finished(process_id: &str, stored: &Value) -> Response<ResBody> {
    let Value::Object(stored) = stored else {
        return failed_answer(process_id, "the stored answer of this run is unreadable");
    };
    let ok = stored.get("status").and_then(Value::as_str) == Some("Success");
    if stored.contains_key("records") {
        return with_process(StatusCode::OK, process_id, stored);
    }
    if !ok {
        return with_process(StatusCode::INTERNAL_SERVER_ERROR, process_id, stored);
    }
    if let Some(Value::Object(outputs)) = stored.get("outputs") {
        if [STATUS_CODE, HEADERS, CONTENT_TYPE, BODY]
            .iter()
            .any(|k| outputs.get(*k).is_some_and(|v| !v.is_null()))
        {
            return output_node(process_id, outputs);
        }
    }
    with_process(StatusCode::OK, process_id, stored)
}

/// The stored answer with `processId` second, after `status`.
fn with_process(
    status: StatusCode,
    process_id: &str,
    stored: &Map<String, Value>,
) -> Response<ResBody> {
    let mut m = Map::new();
    if let Some(s) = stored.get("status") {
        m.insert("status".into(), s.clone());
    }
    m.insert("processId".into(), Value::String(process_id.to_owned()));
    for (k, v) in stored {
        if k != "status" {
            m.insert(k.clone(), v.clone());
        }
    }
    body::json_response(status, &Value::Object(m))
}

fn failed_answer(process_id: &str, message: &str) -> Response<ResBody> {
    body::json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        &json!({"status": "Fail", "processId": process_id, "message": message}),
    )
}

/// The HTTP answer an action's outputs describe: `statusCode` (default 200), `headers`
/// (an object of names to values), `contentType`, `body` (text as is, other JSON
/// serialized).
fn output_node(process_id: &str, outputs: &Map<String, Value>) -> Response<ResBody> {
    let status = outputs
        .get(STATUS_CODE)
        .and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()))
        .and_then(|c| u16::try_from(c).ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(StatusCode::OK);
    let (bytes, json_body) = match outputs.get(BODY) {
        None | Some(Value::Null) => (Bytes::new(), false),
        Some(Value::String(s)) => (Bytes::from(s.clone()), false),
        Some(v) => (Bytes::from(v.to_string()), true),
    };
    let mut resp = Response::new(body::full(bytes));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    if let Some(Value::Object(h)) = outputs.get(HEADERS) {
        for (k, v) in h {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => continue,
                other => other.to_string(),
            };
            if let (Ok(k), Ok(v)) = (
                HeaderName::try_from(k.as_str()),
                HeaderValue::try_from(text),
            ) {
                headers.append(k, v);
            }
        }
    }
    let content_type = outputs
        .get(CONTENT_TYPE)
        .and_then(Value::as_str)
        .and_then(|c| HeaderValue::try_from(c).ok());
    match content_type {
        Some(c) => {
            headers.insert(header::CONTENT_TYPE, c);
        }
        None if json_body && !headers.contains_key(header::CONTENT_TYPE) => {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        None => {}
    }
    if let Ok(v) = HeaderValue::try_from(process_id) {
        headers.insert(super::PROCESS_ID, v);
    }
    resp
}

/// 202: the run goes on; poll `location`.
pub(crate) fn running(process_id: &str, location: &str) -> Response<ResBody> {
    let mut resp = body::json_response(
        StatusCode::ACCEPTED,
        &json!({"processId": process_id, "status": "running"}),
    );
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::try_from(location) {
        h.insert(header::LOCATION, v);
    }
    h.insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECONDS),
    );
    resp
}

/// The poll answer of `row`.
pub(crate) fn poll(row: &RunRow) -> Response<ResBody> {
    let mut m = Map::new();
    m.insert("processId".into(), Value::String(row.process_id.clone()));
    m.insert("status".into(), Value::String(row.status.clone()));
    let at = |ms: i64| {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
        Value::String(rfc3339(t))
    };
    m.insert("startedAt".into(), at(row.started_ms));
    m.insert("finishedAt".into(), row.finished_ms.map_or(Value::Null, at));
    if let Some(Value::Object(stored)) = row
        .answer
        .as_deref()
        .and_then(|a| serde_json::from_str::<Value>(a).ok())
    {
        for key in ["outputs", "records", "message"] {
            if let Some(v) = stored.get(key) {
                m.insert(key.into(), v.clone());
            }
        }
    }
    body::json_response(StatusCode::OK, &Value::Object(m))
}

/// The answer of a refused or failed trigger: `{"status": "Fail", "message"}` with the
/// error's status; a 5xx whose cause may name a path or a database says only that, the
/// cause goes to the log with the execution id.
pub(crate) fn problem(e: &Error, execution_id: &str) -> Response<ResBody> {
    let status = e.status();
    let message = if e.is_log_only() {
        tracing::error!(execution_id, error = %e, "Trigger failed.");
        format!("internal error in execution {execution_id}; the server log has the details")
    } else {
        if status.is_server_error() {
            tracing::warn!(execution_id, error = %e, "Trigger failed.");
        }
        e.to_string()
    };
    let mut resp = body::json_response(status, &json!({"status": "Fail", "message": message}));
    let headers = resp.headers_mut();
    match e {
        Error::Unauthorized(_) => {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="fss incoming API""#),
            );
        }
        Error::MethodNotAllowed { allow } => {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        Error::Overloaded { retry_after, .. } | Error::RateLimited { retry_after, .. } => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        _ => {}
    }
    resp
}

/// The message a record's failure shows: the process's own words, or a generic one for
/// an internal failure (whose cause is logged).
pub(crate) fn failure_message(e: &Error, execution_id: &str) -> String {
    if e.is_log_only() {
        tracing::error!(execution_id, error = %e, "Trigger record failed.");
        format!("internal error in execution {execution_id}; the server log has the details")
    } else {
        e.to_string()
    }
}
