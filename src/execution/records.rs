//! Execution records: a bounded in-memory ring of recent executions, for troubleshooting.
//!
//! Each record keeps the id, service, operation, start, duration, outcome, HTTP status,
//! tracked properties and callback attempts — never payloads, unless the request asked
//! for debug capture (`X-Boomi-Debug: true` or `?_boomi_debug=true`); then that one
//! execution also keeps its request and response bodies, size-capped, with the values of
//! `ContentPassword`/`ContentEncrypted` and Password configuration values redacted.
//! The ring never grows past its capacity; the oldest record goes first.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::Value;

/// Default number of records kept.
pub const DEFAULT_RECORDS: usize = 10_000;
/// The most bytes of a body kept by debug capture.
pub const MAX_CAPTURE_BYTES: usize = 64 << 10;
/// What replaces a secret in captured bodies.
pub const REDACTED: &str = "********";

/// One execution as recorded.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionRecord {
    /// The execution id (`X-Execution-Id`).
    pub id: String,
    /// The service.
    pub service: Arc<str>,
    /// The operation kind (`action`, `load`, `save`, `delete`, `upload`, `list`, ...).
    pub operation: &'static str,
    /// The action name, object type or resource path, when known.
    pub name: Arc<str>,
    /// Start, as RFC 3339 UTC.
    pub start_time: String,
    /// Duration until the answer, in microseconds.
    pub duration_micros: u64,
    /// `succeeded`, `failed` or `waiting` (answered WAIT, result pending).
    pub status: &'static str,
    /// The HTTP status answered.
    pub http_status: u16,
    /// Tracked properties.
    pub tracked: BTreeMap<String, String>,
    /// Callback delivery, for executions answered WAIT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<CallbackRecord>,
    /// Captured bodies, only for debug requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debug: Option<DebugCapture>,
    #[serde(skip)]
    started_at: SystemTime,
}

/// How a callback ended.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackRecord {
    /// Attempts made.
    pub attempts: u32,
    /// Whether the engine accepted it.
    pub delivered: bool,
    /// Why the last attempt failed, when it was given up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Bodies of a debug execution, redacted and capped.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DebugCapture {
    /// The request body.
    pub request: Option<Value>,
    /// The response body.
    pub response: Option<Value>,
}

impl ExecutionRecord {
    /// A record of an execution that started at `started_at`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        service: Arc<str>,
        operation: &'static str,
        name: Arc<str>,
        started_at: SystemTime,
        duration: Duration,
        http_status: u16,
        waiting: bool,
    ) -> Self {
        let status = if waiting {
            "waiting"
        } else if http_status < 400 {
            "succeeded"
        } else {
            "failed"
        };
        ExecutionRecord {
            id,
            service,
            operation,
            name,
            start_time: rfc3339(started_at),
            duration_micros: duration.as_micros().min(u64::MAX as u128) as u64,
            status,
            http_status,
            tracked: BTreeMap::new(),
            callback: None,
            debug: None,
            started_at,
        }
    }

    /// When the execution started.
    pub fn started_at(&self) -> SystemTime {
        self.started_at
    }
}

/// The ring of recent executions.
#[derive(Debug)]
pub struct Records {
    capacity: usize,
    ring: Mutex<VecDeque<ExecutionRecord>>,
}

impl Records {
    /// A ring keeping at most `capacity` records (0 keeps none).
    pub fn new(capacity: usize) -> Self {
        Records {
            capacity,
            ring: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
        }
    }

    /// Whether records are kept at all.
    pub fn is_enabled(&self) -> bool {
        self.capacity > 0
    }

    /// Adds a record, dropping the oldest when full.
    pub fn push(&self, record: ExecutionRecord) {
        if self.capacity == 0 {
            return;
        }
        let mut ring = self.ring.lock().expect("records lock is never poisoned");
        if ring.len() == self.capacity {
            ring.pop_front();
        }
        ring.push_back(record);
    }

    /// Applies `f` to the record `id`, if it is still in the ring.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut ExecutionRecord)) {
        let mut ring = self.ring.lock().expect("records lock is never poisoned");
        if let Some(r) = ring.iter_mut().rev().find(|r| r.id == id) {
            f(r);
        }
    }

    /// The record `id`.
    pub fn get(&self, id: &str) -> Option<ExecutionRecord> {
        let ring = self.ring.lock().expect("records lock is never poisoned");
        ring.iter().rev().find(|r| r.id == id).cloned()
    }

    /// The records that pass `keep`, newest first.
    pub fn list(&self, keep: impl Fn(&ExecutionRecord) -> bool) -> Vec<ExecutionRecord> {
        let ring = self.ring.lock().expect("records lock is never poisoned");
        ring.iter().rev().filter(|r| keep(r)).cloned().collect()
    }
}

/// A JSON body prepared for capture: parsed, secrets redacted, capped.
pub fn capture(bytes: &[u8], secret_names: &[&str]) -> Option<Value> {
    if bytes.is_empty() {
        return None;
    }
    if bytes.len() > MAX_CAPTURE_BYTES {
        return Some(Value::String(format!(
            "({} bytes; capture keeps at most {MAX_CAPTURE_BYTES})",
            bytes.len()
        )));
    }
    let mut v: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(_) => return Some(Value::String(String::from_utf8_lossy(bytes).into_owned())),
    };
    redact(&mut v, secret_names);
    Some(v)
}

/// Replaces the `contentValue` of secret values: those typed `ContentPassword` or
/// `ContentEncrypted`, and those whose `developerName` is in `secret_names`.
fn redact(v: &mut Value, secret_names: &[&str]) {
    match v {
        Value::Object(m) => {
            let secret = matches!(
                m.get("contentType").and_then(Value::as_str),
                Some("ContentPassword" | "ContentEncrypted")
            ) || m
                .get("developerName")
                .and_then(Value::as_str)
                .is_some_and(|n| secret_names.contains(&n));
            if secret {
                if let Some(cv) = m.get_mut("contentValue") {
                    if !cv.is_null() {
                        *cv = Value::String(REDACTED.into());
                    }
                }
            }
            for (_, child) in m.iter_mut() {
                redact(child, secret_names);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| redact(c, secret_names)),
        _ => {}
    }
}

/// RFC 3339 UTC with milliseconds, e.g. `2026-01-21T10:00:00.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    crate::clock::format_millis(crate::clock::millis_of(t), "Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> ExecutionRecord {
        ExecutionRecord::new(
            id.into(),
            Arc::from("S"),
            "action",
            Arc::from("A"),
            SystemTime::now(),
            Duration::from_micros(5),
            200,
            false,
        )
    }

    #[test]
    fn ring_keeps_only_the_newest() {
        let r = Records::new(2);
        r.push(record("a"));
        r.push(record("b"));
        r.push(record("c"));
        let ids: Vec<String> = r.list(|_| true).into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["c", "b"]);
        assert!(r.get("a").is_none());
    }

    #[test]
    fn capture_redacts_secrets() {
        let body = br#"{"configurationValues":[{"developerName":"Api Key","contentValue":"k-1"}],
            "inputs":[{"developerName":"Pw","contentType":"ContentPassword","contentValue":"hunter2"},
                      {"developerName":"Name","contentType":"ContentString","contentValue":"Ada"}]}"#;
        let v = capture(body, &["Api Key"]).unwrap();
        assert_eq!(v["configurationValues"][0]["contentValue"], REDACTED);
        assert_eq!(v["inputs"][0]["contentValue"], REDACTED);
        assert_eq!(v["inputs"][1]["contentValue"], "Ada");
    }

    #[test]
    fn rfc3339_renders_utc() {
        use std::time::UNIX_EPOCH;
        let t = UNIX_EPOCH + Duration::from_millis(1_768_953_600_123);
        assert_eq!(rfc3339(t), "2026-01-21T00:00:00.123Z");
    }
}
