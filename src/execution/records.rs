//! Execution records: a bounded in-memory ring of recent executions, for troubleshooting.
//!
//! Each record keeps the id, service, operation, start, duration, outcome, HTTP status,
//! tracked properties and callback attempts — never payloads, unless the request asked
//! for debug capture (`X-Boomi-Debug: true` or `?_boomi_debug=true`); then that one
//! execution also keeps its request and response bodies, size-capped, with the values of
//! `ContentPassword`/`ContentEncrypted` and Password configuration values redacted.
//! The ring never grows past its capacity in records nor past its budget in bytes; the
//! oldest record goes first. Whatever a client sends, a record costs a bounded amount:
//! every string it keeps is cut at [`MAX_RECORD_TEXT`] bytes, and a debug capture is kept
//! as redacted JSON text of at most [`MAX_CAPTURE_BYTES`] (never as a parsed tree, which
//! costs many times its text).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// Default number of records kept.
pub const DEFAULT_RECORDS: usize = 10_000;
/// Default budget of the whole ring, in bytes of what its records keep: 32 MiB.
pub const DEFAULT_RECORDS_BYTES: usize = 32 << 20;
/// Record slots reserved up front; a larger ring grows past them as it fills.
const RESERVED_RECORDS: usize = 1 << 16;
/// The most bytes of a body kept by debug capture.
pub const MAX_CAPTURE_BYTES: usize = 64 << 10;
/// The most bytes of any one string a record keeps (a name, a tracked property, a
/// callback's reason); longer ones are cut at a character boundary and end in `…`.
pub const MAX_RECORD_TEXT: usize = 512;
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
    /// Start, answered as RFC 3339 UTC (`startTime`): formatted when a record is read,
    /// not on the hot path of every request.
    #[serde(rename = "startTime", serialize_with = "start_time")]
    started_at: SystemTime,
}

/// Serializes a start as RFC 3339 UTC.
fn start_time<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
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

impl From<super::CallbackOutcome> for CallbackRecord {
    fn from(outcome: super::CallbackOutcome) -> Self {
        match outcome {
            super::CallbackOutcome::Delivered { attempts } => CallbackRecord {
                attempts,
                delivered: true,
                reason: None,
            },
            super::CallbackOutcome::GaveUp { attempts, reason } => CallbackRecord {
                attempts,
                delivered: false,
                reason: Some(reason),
            },
        }
    }
}

/// Bodies of a debug execution, redacted and capped, kept as JSON text.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DebugCapture {
    /// The request body.
    pub request: Option<Box<RawValue>>,
    /// The response body.
    pub response: Option<Box<RawValue>>,
}

impl DebugCapture {
    /// The bytes the capture keeps.
    fn weight(&self) -> usize {
        let len = |v: &Option<Box<RawValue>>| v.as_ref().map_or(0, |v| v.get().len());
        len(&self.request) + len(&self.response)
    }
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
        let name = if name.len() > MAX_RECORD_TEXT {
            Arc::from(cap_text(&name))
        } else {
            name
        };
        ExecutionRecord {
            id,
            service,
            operation,
            name,
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

    /// When the execution started, as RFC 3339 UTC with milliseconds.
    pub fn start_time(&self) -> String {
        rfc3339(self.started_at)
    }

    /// Cuts every string the record keeps to [`MAX_RECORD_TEXT`].
    fn cap(&mut self) {
        for v in self.tracked.values_mut() {
            if v.len() > MAX_RECORD_TEXT {
                *v = cap_text(v);
            }
        }
        if let Some(reason) = self.callback.as_mut().and_then(|c| c.reason.as_mut()) {
            if reason.len() > MAX_RECORD_TEXT {
                *reason = cap_text(reason);
            }
        }
    }

    /// About how many bytes the record keeps: its own size and what its strings and
    /// capture hold (the service name is shared with the service, so it is not counted).
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.id.len()
            + self.name.len()
            + self
                .tracked
                .iter()
                .map(|(k, v)| k.len() + v.len() + 64)
                .sum::<usize>()
            + self
                .callback
                .as_ref()
                .and_then(|c| c.reason.as_ref())
                .map_or(0, String::len)
            + self.debug.as_ref().map_or(0, DebugCapture::weight)
    }
}

/// The ring of recent executions.
#[derive(Debug)]
pub struct Records {
    capacity: usize,
    max_bytes: usize,
    ring: Mutex<Ring>,
    /// Woken on every push while someone watches (the console's live stream).
    pushed: tokio::sync::Notify,
    /// How many watch: a push with none pays no wake-up.
    watchers: std::sync::atomic::AtomicUsize,
}

#[derive(Debug, Default)]
struct Ring {
    records: VecDeque<(ExecutionRecord, usize)>,
    bytes: usize,
    /// Records pushed since the start: the sequence number of the newest.
    seq: u64,
}

impl Ring {
    /// Drops the oldest records until one more of `weight` fits both bounds (or the ring
    /// is empty: the newest record is always kept). Room is made before the push, so the
    /// ring never holds more than `capacity` and never outgrows its reservation.
    fn make_room(&mut self, capacity: usize, max_bytes: usize, weight: usize) {
        while self.records.len() >= capacity
            || (self.bytes + weight > max_bytes && !self.records.is_empty())
        {
            match self.records.pop_front() {
                Some((_, w)) => self.bytes -= w,
                None => break,
            }
        }
    }

    /// Drops the oldest records until both bounds hold.
    fn trim(&mut self, capacity: usize, max_bytes: usize) {
        while self.records.len() > capacity || (self.bytes > max_bytes && self.records.len() > 1) {
            match self.records.pop_front() {
                Some((_, w)) => self.bytes -= w,
                None => break,
            }
        }
    }
}

impl Records {
    /// A ring keeping at most `capacity` records (0 keeps none) and at most `max_bytes`
    /// of what they hold (the newest record is always kept).
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Records {
            capacity,
            max_bytes,
            ring: Mutex::new(Ring {
                // The whole ring at once (its pages are touched only as records
                // arrive): grown by doubling it would end at up to twice the records.
                records: VecDeque::with_capacity(capacity.min(RESERVED_RECORDS)),
                bytes: 0,
                seq: 0,
            }),
            pushed: tokio::sync::Notify::new(),
            watchers: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Whether records are kept at all.
    pub fn is_enabled(&self) -> bool {
        self.capacity > 0
    }

    /// Adds a record, dropping the oldest while either bound is passed.
    pub fn push(&self, mut record: ExecutionRecord) {
        if self.capacity == 0 {
            return;
        }
        record.cap();
        let weight = record.weight();
        {
            let mut ring = self.ring.lock().expect("records lock is never poisoned");
            ring.make_room(self.capacity, self.max_bytes, weight);
            ring.bytes += weight;
            ring.seq += 1;
            ring.records.push_back((record, weight));
        }
        if self.watchers.load(std::sync::atomic::Ordering::Relaxed) > 0 {
            self.pushed.notify_waiters();
        }
    }

    /// The sequence number of the newest record and the records pushed after `after`
    /// that the ring still holds, oldest first (`after` past the newest: none).
    pub fn since(&self, after: u64) -> (u64, Vec<ExecutionRecord>) {
        let ring = self.ring.lock().expect("records lock is never poisoned");
        let new = usize::try_from(ring.seq.saturating_sub(after)).unwrap_or(usize::MAX);
        let skip = ring.records.len().saturating_sub(new);
        let records = ring
            .records
            .iter()
            .skip(skip)
            .map(|(r, _)| r.clone())
            .collect();
        (ring.seq, records)
    }

    /// As [`Records::since`], waiting up to `limit` for a record when there is none yet
    /// (none missed: the wait is registered before the ring is read).
    pub async fn wait_since(
        &self,
        after: u64,
        limit: std::time::Duration,
    ) -> (u64, Vec<ExecutionRecord>) {
        use std::sync::atomic::Ordering;
        let notified = self.pushed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        self.watchers.fetch_add(1, Ordering::Relaxed);
        let mut found = self.since(after);
        if found.1.is_empty() && tokio::time::timeout(limit, notified).await.is_ok() {
            found = self.since(after);
        }
        self.watchers.fetch_sub(1, Ordering::Relaxed);
        found
    }

    /// Applies `f` to the record `id`, if it is still in the ring.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut ExecutionRecord)) {
        let mut ring = self.ring.lock().expect("records lock is never poisoned");
        let Some((r, w)) = ring.records.iter_mut().rev().find(|(r, _)| r.id == id) else {
            return;
        };
        f(r);
        r.cap();
        let (old, new) = (*w, r.weight());
        *w = new;
        ring.bytes = ring.bytes + new - old;
        ring.trim(self.capacity, self.max_bytes);
    }

    /// The record `id`.
    pub fn get(&self, id: &str) -> Option<ExecutionRecord> {
        let ring = self.ring.lock().expect("records lock is never poisoned");
        ring.records
            .iter()
            .rev()
            .find(|(r, _)| r.id == id)
            .map(|(r, _)| r.clone())
    }

    /// The records that pass `keep`, newest first.
    pub fn list(&self, keep: impl Fn(&ExecutionRecord) -> bool) -> Vec<ExecutionRecord> {
        let ring = self.ring.lock().expect("records lock is never poisoned");
        ring.records
            .iter()
            .rev()
            .filter(|(r, _)| keep(r))
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// How many records the ring keeps right now.
    pub fn len(&self) -> usize {
        self.ring
            .lock()
            .expect("records lock is never poisoned")
            .records
            .len()
    }

    /// Whether the ring keeps no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes the ring's records keep right now, as counted against its budget.
    pub fn bytes(&self) -> usize {
        self.ring
            .lock()
            .expect("records lock is never poisoned")
            .bytes
    }
}

/// `s` cut to at most [`MAX_RECORD_TEXT`] bytes at a character boundary, ending in `…`.
fn cap_text(s: &str) -> String {
    let mut end = MAX_RECORD_TEXT - '…'.len_utf8();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A JSON body prepared for capture: secrets redacted, kept as JSON text of at most
/// [`MAX_CAPTURE_BYTES`]. A larger body, or one that is not JSON, is kept as a note of
/// its size or as (capped) text.
pub fn capture(bytes: &[u8], secret_names: &[&str]) -> Option<Box<RawValue>> {
    if bytes.is_empty() {
        return None;
    }
    let note = |what: String| RawValue::from_string(Value::String(what).to_string()).ok();
    if bytes.len() > MAX_CAPTURE_BYTES {
        return note(format!(
            "({} bytes; capture keeps at most {MAX_CAPTURE_BYTES})",
            bytes.len()
        ));
    }
    let Ok(mut v) = serde_json::from_slice::<Value>(bytes) else {
        return note(String::from_utf8_lossy(bytes).into_owned());
    };
    redact(&mut v, secret_names);
    let text = v.to_string();
    if text.len() > MAX_CAPTURE_BYTES {
        return note(format!(
            "({} bytes once redacted; capture keeps at most {MAX_CAPTURE_BYTES})",
            text.len()
        ));
    }
    RawValue::from_string(text).ok()
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
        let r = Records::new(2, DEFAULT_RECORDS_BYTES);
        r.push(record("a"));
        r.push(record("b"));
        r.push(record("c"));
        let ids: Vec<String> = r.list(|_| true).into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["c", "b"]);
        assert!(r.get("a").is_none());
    }

    #[test]
    fn a_full_ring_keeps_its_reservation() {
        let r = Records::new(100, DEFAULT_RECORDS_BYTES);
        let reserved = r.ring.lock().unwrap().records.capacity();
        assert!(reserved >= 100, "{reserved}");
        for i in 0..350 {
            r.push(record(&format!("r{i}")));
        }
        let ring = r.ring.lock().unwrap();
        assert_eq!(ring.records.len(), 100);
        assert_eq!(ring.records.capacity(), reserved, "the ring grew");
        assert_eq!(
            ring.records.front().map(|(r, _)| r.id.as_str()),
            Some("r250")
        );
    }

    #[test]
    fn capture_redacts_secrets() {
        let body = br#"{"configurationValues":[{"developerName":"Api Key","contentValue":"k-1"}],
            "inputs":[{"developerName":"Pw","contentType":"ContentPassword","contentValue":"hunter2"},
                      {"developerName":"Name","contentType":"ContentString","contentValue":"Ada"}]}"#;
        let v: Value = serde_json::from_str(capture(body, &["Api Key"]).unwrap().get()).unwrap();
        assert_eq!(v["configurationValues"][0]["contentValue"], REDACTED);
        assert_eq!(v["inputs"][0]["contentValue"], REDACTED);
        assert_eq!(v["inputs"][1]["contentValue"], "Ada");
    }

    #[test]
    fn strings_of_a_record_are_capped() {
        let r = Records::new(10, DEFAULT_RECORDS_BYTES);
        let mut rec = record("a");
        rec.name = Arc::from("é".repeat(1 << 20));
        let rec = ExecutionRecord::new(
            "b".into(),
            Arc::from("S"),
            "list",
            Arc::clone(&rec.name),
            SystemTime::now(),
            Duration::ZERO,
            400,
            false,
        );
        let mut rec = rec;
        rec.tracked.insert("File Name".into(), "x".repeat(1 << 20));
        r.push(rec);
        let got = r.get("b").unwrap();
        assert!(got.name.len() <= MAX_RECORD_TEXT && got.name.ends_with('…'));
        assert!(got.tracked["File Name"].len() <= MAX_RECORD_TEXT);
        r.update("b", |r| {
            r.callback = Some(CallbackRecord {
                attempts: 1,
                delivered: false,
                reason: Some("y".repeat(1 << 20)),
            })
        });
        let reason = r.get("b").unwrap().callback.unwrap().reason.unwrap();
        assert!(reason.len() <= MAX_RECORD_TEXT);
        assert!(r.bytes() < 4 * MAX_RECORD_TEXT + 1024, "{}", r.bytes());
    }

    #[test]
    fn ring_is_bounded_in_bytes() {
        let body = format!(
            r#"{{"inputs":[{{"developerName":"Blob","contentValue":"{}"}}]}}"#,
            "z".repeat(60 << 10)
        );
        let r = Records::new(1000, 1 << 20);
        for i in 0..100 {
            let mut rec = record(&format!("r{i}"));
            rec.debug = Some(DebugCapture {
                request: capture(body.as_bytes(), &[]),
                response: None,
            });
            r.push(rec);
        }
        assert!(r.bytes() <= 1 << 20, "{} bytes kept", r.bytes());
        let kept = r.list(|_| true);
        assert!(kept.len() < 20 && kept.len() >= 10, "{} kept", kept.len());
        assert_eq!(kept[0].id, "r99", "the newest stays");
    }

    #[test]
    fn capture_keeps_text_not_a_tree() {
        let big = format!(
            "[{}]",
            vec![r#"{"developerName":"Item","properties":[]}"#; 1400].join(",")
        );
        let c = capture(big.as_bytes(), &[]).unwrap();
        assert!(c.get().len() <= MAX_CAPTURE_BYTES);
        assert!(c.get().starts_with("[{"));
        let over = "x".repeat(MAX_CAPTURE_BYTES + 1);
        let c = capture(over.as_bytes(), &[]).unwrap();
        assert!(c.get().contains("capture keeps at most"), "{}", c.get());
    }

    #[test]
    fn rfc3339_renders_utc() {
        use std::time::UNIX_EPOCH;
        let t = UNIX_EPOCH + Duration::from_millis(1_768_953_600_123);
        assert_eq!(rfc3339(t), "2026-01-21T00:00:00.123Z");
    }
}
