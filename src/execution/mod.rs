//! Executions: one request through one operation, with its id and its properties, and
//! what runs around every execution: the run engine of message actions (sync budget, then
//! WAIT, then callback: `engine`), the callback client ([`callback`]), the durable
//! outbox of callbacks and leases of running executions on a shared database (`outbox`)
//! and the ring of execution records ([`records`]).
//!
//! Every operation request gets an execution id (returned in `X-Execution-Id`), the
//! process properties taken from the request (`token`, `tenantId`, `stateId`,
//! `callbackUri`, `culture`, each configuration value by name, `authorization`, and `user`:
//! the verified user of a service with `"auth": {"basic": true}`, or the admitted client
//! certificate subject of one with `auth.clientCertificate`), and a
//! tracked-properties map that file operations fill (`File Name`, `File Content Type`).
//! Processes see all of it.

pub mod callback;
pub(crate) mod engine;
pub(crate) mod inputs;
pub(crate) mod outbox;
pub mod records;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use http::request::Parts;
use serde_json::{Map, Value};

use crate::definition::ValueDefinition;
use crate::error::{Error, Result};
use crate::process::ProcessCall;
use crate::protocol::{Culture, EngineValue};
pub use crate::router::OperationKind;

pub use callback::{CallbackOutcome, CallbackPolicy, CallbackTarget, Callbacks};
pub use outbox::OutboxTiming;
pub use records::{CallbackRecord, DebugCapture, ExecutionRecord, Records};

/// Processes running now in this process, WAIT ones included: the
/// `fss_in_flight_executions` gauge. One counter for the process, as the process
/// metrics are: an embedder running several runtimes sees their sum.
static RUNNING: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// How many processes run now (see [`RUNNING`]).
pub fn running_executions() -> i64 {
    RUNNING.load(std::sync::atomic::Ordering::Relaxed)
}

/// Counts one running process while alive.
pub(crate) struct Running(());

impl Running {
    pub(crate) fn start() -> Self {
        RUNNING.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Running(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Tracked property: the name of the file an operation handles.
pub const FILE_NAME: &str = "File Name";
/// Tracked property: the content type of that file.
pub const FILE_CONTENT_TYPE: &str = "File Content Type";

/// The user whose HTTP Basic credentials were verified for this request (services with
/// `"auth": {"basic": true}`); the runtime puts it into the request's extensions before
/// the operation runs, operations copy it into [`ProcessProperties::user`].
#[derive(Debug, Clone)]
pub struct ServiceUser(pub Arc<str>);

impl ServiceUser {
    /// The verified caller of a request, from its extensions: the Basic user, else the
    /// subject of its client certificate ([`CertificateSubject`]).
    pub fn of(extensions: &http::Extensions) -> Option<String> {
        extensions
            .get::<ServiceUser>()
            .map(|u| u.0.to_string())
            .or_else(|| {
                extensions
                    .get::<CertificateSubject>()
                    .map(|s| s.0.to_string())
            })
    }
}

/// The `auth.clientCertificate.subjects` entry (`CN=…` or `DNS=…`) that admitted the
/// request's verified client certificate; the runtime puts it into the request's
/// extensions, and it is the caller processes see (`user`) unless a Basic user was also
/// verified. Unlike [`ServiceUser`] it leaves the `Authorization` header to processes:
/// fss did not consume it.
#[derive(Debug, Clone)]
pub struct CertificateSubject(pub Arc<str>);

/// The `Authorization` header a process (and a WAIT callback) may see. When fss itself
/// verified the request's Basic credentials (a [`ServiceUser`] is present), the header
/// holds the caller's password or token for fss: it is not passed on.
pub fn passed_authorization(parts: &http::request::Parts) -> Option<String> {
    if parts.extensions.get::<ServiceUser>().is_some() {
        return None;
    }
    parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The fields of a Flow request that become process properties; each request type
/// carries some of them.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestFields<'a> {
    /// `token`.
    pub token: Option<&'a str>,
    /// `tenantId`.
    pub tenant_id: Option<&'a str>,
    /// `stateId`.
    pub state_id: Option<&'a str>,
    /// `callbackUri`.
    pub callback_uri: Option<&'a str>,
    /// `culture`.
    pub culture: Option<&'a Culture>,
    /// The headers the definition passes (the service's `passHeaders`, the operation's).
    pub pass_headers: [&'a [String]; 2],
}

/// The value of the configuration value `name` in what a request sent, when it sent one.
fn sent_value<'a>(sent: Option<&'a [EngineValue]>, name: &str) -> Option<&'a str> {
    sent.unwrap_or_default()
        .iter()
        .find(|v| v.developer_name.as_deref() == Some(name))
        .and_then(|v| v.content_value.as_deref())
}

/// Refuses a request that lacks a required configuration value.
///
/// # Errors
///
/// 400 naming the first required configuration value that is missing or empty.
pub fn check_configuration(
    defined: &[ValueDefinition],
    sent: Option<&[EngineValue]>,
) -> Result<()> {
    match defined
        .iter()
        .find(|d| d.required && sent_value(sent, &d.name).is_none_or(str::is_empty))
    {
        Some(d) => Err(Error::bad_request(format!(
            "configuration value '{}' is required",
            d.name
        ))),
        None => Ok(()),
    }
}

/// Values taken from the request that the process may read.
#[derive(Debug, Clone, Default)]
pub struct ProcessProperties {
    /// The request's correlation token.
    pub token: Option<String>,
    /// The tenant.
    pub tenant_id: Option<String>,
    /// The Flow state.
    pub state_id: Option<String>,
    /// Where a later answer goes.
    pub callback_uri: Option<String>,
    /// The culture.
    pub culture: Option<Culture>,
    /// The `Authorization` header as sent.
    pub authorization: Option<String>,
    /// The verified caller: the Basic user (`"auth": {"basic": true}`), else the admitted
    /// client certificate subject (`auth.clientCertificate`), else `None`.
    pub user: Option<String>,
    /// Each configuration value of the definition by name (absent ones are `None`).
    pub configuration: BTreeMap<String, Option<String>>,
    /// The request headers the definition passes, by lower-case name; several values of
    /// one header are joined with `, `. Absent headers are left out.
    pub headers: BTreeMap<String, String>,
}

impl ProcessProperties {
    /// The properties of one request: its fields, the `Authorization` a process may see
    /// and the verified user from its head, and the service's configuration values.
    ///
    /// # Errors
    ///
    /// 400 naming a required configuration value that is missing or empty.
    pub fn of_request(
        fields: RequestFields<'_>,
        parts: &Parts,
        defined: &[ValueDefinition],
        sent: Option<&[EngineValue]>,
    ) -> Result<Self> {
        check_configuration(defined, sent)?;
        let owned = |v: Option<&str>| v.map(str::to_owned);
        Ok(ProcessProperties {
            token: owned(fields.token),
            tenant_id: owned(fields.tenant_id),
            state_id: owned(fields.state_id),
            callback_uri: owned(fields.callback_uri),
            culture: fields.culture.cloned(),
            authorization: passed_authorization(parts),
            user: ServiceUser::of(&parts.extensions),
            configuration: defined
                .iter()
                .map(|d| (d.name.clone(), owned(sent_value(sent, &d.name))))
                .collect(),
            headers: passed_headers(&parts.headers, fields.pass_headers),
        })
    }

    /// The plain JSON form processes see (command stdin `properties`).
    pub fn to_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        let s = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
        m.insert("token".into(), s(&self.token));
        m.insert("tenantId".into(), s(&self.tenant_id));
        m.insert("stateId".into(), s(&self.state_id));
        m.insert("callbackUri".into(), s(&self.callback_uri));
        m.insert(
            "culture".into(),
            self.culture.as_ref().map_or(Value::Null, |c| {
                serde_json::to_value(c).unwrap_or(Value::Null)
            }),
        );
        m.insert("authorization".into(), s(&self.authorization));
        m.insert("user".into(), s(&self.user));
        if !self.headers.is_empty() {
            let headers = self
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            m.insert("headers".into(), Value::Object(headers));
        }
        for (k, v) in &self.configuration {
            // Configuration values never shadow the request fields above.
            m.entry(k.clone()).or_insert_with(|| s(v));
        }
        m
    }
}

/// The values of the headers named in `lists` that the request carries.
fn passed_headers(headers: &http::HeaderMap, lists: [&[String]; 2]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for name in lists.into_iter().flatten() {
        let values: Vec<&str> = headers
            .get_all(name.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if !values.is_empty() {
            out.insert(name.to_ascii_lowercase(), values.join(", "));
        }
    }
    out
}

/// One request through one operation.
#[derive(Debug)]
pub struct Execution {
    /// The id returned in `X-Execution-Id`.
    pub id: String,
    /// The service name.
    pub service: Arc<str>,
    /// The operation kind.
    pub kind: OperationKind,
    /// The action name, object type or resource path.
    pub name: String,
    /// Values from the request.
    pub properties: ProcessProperties,
    /// Tracked properties, filled by the operation kind.
    pub tracked: BTreeMap<String, String>,
    /// When the request arrived.
    pub started: Instant,
}

impl Execution {
    /// A new execution with a fresh id.
    pub fn new(id: String, service: Arc<str>, kind: OperationKind, name: String) -> Self {
        Execution {
            id,
            service,
            kind,
            name,
            properties: ProcessProperties::default(),
            tracked: BTreeMap::new(),
            started: Instant::now(),
        }
    }

    /// Sets a tracked property.
    pub fn track(&mut self, name: &str, value: impl Into<String>) {
        self.tracked.insert(name.to_owned(), value.into());
    }

    /// The process document of this execution, with the inputs and the fields of its
    /// operation kind (`filter`, `objects`, `file`, ...) left for the caller to add.
    pub fn document(&self) -> ProcessCall {
        ProcessCall {
            service: Arc::clone(&self.service),
            operation: self.kind.label(),
            name: self.name.clone(),
            execution_id: self.id.clone(),
            inputs: Map::new(),
            properties: self.properties.to_json(),
            tracked: self.tracked.clone(),
            extra: Map::new(),
        }
    }
}

/// The span of one execution: every log line inside it (a process that fails, a command
/// that does not start, a callback given up) carries the execution id and the service,
/// so that one `X-Execution-Id` finds every line of its run. At the `error` level, so that
/// it is there whatever level the log filter lets through.
pub fn span(execution_id: &str, service: &str) -> tracing::Span {
    tracing::error_span!("execution", execution_id, service)
}

/// A fresh execution id: a random UUID (version 4).
///
/// Its random bytes come from the OS like [`uuid::Uuid::new_v4`]'s, but 256 ids' worth at
/// a time and kept per thread: one `getrandom` call per 256 executions instead of a
/// system call on every request's hot path.
pub fn new_execution_id() -> String {
    /// Bytes fetched at once: 256 ids.
    const POOL: usize = 16 * 256;
    thread_local! {
        static RANDOM: std::cell::RefCell<(Box<[u8; POOL]>, usize)> =
            std::cell::RefCell::new((Box::new([0; POOL]), POOL));
    }
    let bytes = RANDOM.with(|r| {
        let (pool, used) = &mut *r.borrow_mut();
        if *used == POOL {
            getrandom::fill(&mut pool[..]).ok()?;
            *used = 0;
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&pool[*used..*used + 16]);
        // What was handed out is not kept.
        pool[*used..*used + 16].fill(0);
        *used += 16;
        Some(id)
    });
    match bytes {
        Some(b) => uuid::Builder::from_random_bytes(b).into_uuid().to_string(),
        // The OS refused randomness just now: let uuid ask it again (and report).
        None => uuid::Uuid::new_v4().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_ids_are_distinct_version_4_uuids_past_a_refill() {
        let ids: Vec<String> = (0..600).map(|_| new_execution_id()).collect();
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        for id in &ids {
            let u = uuid::Uuid::parse_str(id).expect("a UUID");
            assert_eq!(u.get_version_num(), 4, "{id}");
            assert_eq!(u.get_variant(), uuid::Variant::RFC4122, "{id}");
        }
    }
}
