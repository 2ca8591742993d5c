//! Operation kinds: each decodes its request, fills the execution, hands the typed work to
//! its process, and encodes the answer. One module per kind of the route table; the
//! process does the work, the operation owns the HTTP contract. What the data operations
//! share is in `data`, what the file operations share in `file`.
//!
//! An operation sees its service and the [`Shared`] parts of the runtime, nothing else:
//! no mounts, no admin, no store but through processes.

mod data;
mod describe;
pub(crate) use describe::describe as describe_response;
mod file;
mod file_delete;
mod file_download;
mod file_list;
mod file_upload;
mod message_action;
mod row_delete;
mod row_update;
mod table_load;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use http::{HeaderValue, Request, Response};
use tracing::Instrument;

use crate::definition::ValueType;
use crate::error::Error;
use crate::execution::new_execution_id;
use crate::execution::records::{self, DebugCapture, ExecutionRecord};
use crate::http::body::{self, ReqBody, ResBody};
use crate::http::header::{BOOMI_DEBUG, EXECUTION_ID};
use crate::router::{OperationKind, Route, Service};
use crate::shared::Shared;

/// Runs the operation `route` of `service` for `req`, then records its counters and,
/// for operations, its execution record.
pub(crate) async fn dispatch(
    shared: &Shared,
    service: Arc<Service>,
    route: Route,
    req: Request<ReqBody>,
) -> Response<ResBody> {
    let started = Instant::now();
    // A clone of the parsed URI shares its bytes: no allocation.
    let uri = req.uri().clone();
    let exec_id = route.kind.is_execution().then(new_execution_id);
    // Shared, not copied: recording an action costs no allocation for its name.
    let name = match route.kind {
        OperationKind::Action => Some(Arc::clone(&service.actions[route.action].name)),
        _ => None,
    };
    let ctx = Context {
        shared,
        service: Arc::clone(&service),
        exec_id: exec_id.clone().unwrap_or_default(),
        debug: is_debug(&req),
        notes: Mutex::new(Notes {
            name,
            ..Notes::default()
        }),
    };
    let span = match &exec_id {
        Some(id) => crate::execution::span(id, &service.name),
        None => tracing::Span::none(),
    };
    // Each handler's future is boxed: inline, the largest (table loads and uploads, over
    // 12 KB) would size every request's future, and hyper and tokio move that future
    // several times per request, so an echo would copy kilobytes it never uses.
    let result = async {
        match route.kind {
            OperationKind::Describe => Box::pin(describe::handle(&ctx, req, false)).await,
            OperationKind::Install => Box::pin(describe::handle(&ctx, req, true)).await,
            OperationKind::Health => Ok(body::health()),
            OperationKind::Action => {
                Box::pin(message_action::handle(&ctx, route.action, req)).await
            }
            OperationKind::TableLoad => Box::pin(table_load::handle(&ctx, req)).await,
            OperationKind::RowUpdate => Box::pin(row_update::handle(&ctx, req)).await,
            OperationKind::RowDelete => Box::pin(row_delete::handle(&ctx, req)).await,
            OperationKind::FileList => Box::pin(file_list::handle(&ctx, req)).await,
            OperationKind::FileUpload => Box::pin(file_upload::handle(&ctx, req)).await,
            OperationKind::FileDelete => Box::pin(file_delete::handle(&ctx, req)).await,
            OperationKind::FileDownload => {
                let id = route.file_id.as_deref().unwrap_or_default();
                Box::pin(file_download::handle(&ctx, id, req)).await
            }
            // The runtime hands registrations to the event registry, which keeps them.
            OperationKind::Listener => Err(Error::internal(
                "a listener registration reached the operations instead of the event registry",
            )),
        }
    }
    .instrument(span.clone())
    .await;
    let resp = span.in_scope(|| {
        result.unwrap_or_else(|e| e.into_execution_problem(uri.path(), exec_id.as_deref()))
    });
    let notes = ctx.notes.into_inner().unwrap_or_default();
    conclude(shared, &service, &route, exec_id, started, notes, resp)
}

/// Counts the answer `resp` of `route` (started at `started`) in the service's counters
/// and, for an execution (`exec_id`), sets `X-Execution-Id` and records it with `notes`:
/// the end of every operation, and of the requests other parts of the runtime answer on
/// a service's routes (listener registrations).
pub(crate) fn conclude(
    shared: &Shared,
    service: &Service,
    route: &Route,
    exec_id: Option<String>,
    started: Instant,
    notes: Notes,
    mut resp: Response<ResBody>,
) -> Response<ResBody> {
    let elapsed = started.elapsed();
    let status = resp.status().as_u16();
    if let Some(stats) = service.stats.get(route.slot()) {
        stats.record(status, elapsed);
    }
    if let Some(id) = exec_id {
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert(EXECUTION_ID, v);
        }
        let records = &shared.records;
        if records.is_enabled() {
            let mut record = ExecutionRecord::new(
                id,
                Arc::clone(&service.name),
                route.label(),
                notes.name.unwrap_or_else(|| Arc::from("")),
                SystemTime::now() - elapsed,
                elapsed,
                status,
                notes.waiting,
            );
            record.tracked = notes.tracked;
            record.debug = notes.debug;
            records.push(record);
        }
    }
    resp
}

/// Whether the request asks for debug capture: `X-Boomi-Debug: true` or
/// `?_boomi_debug=true`.
fn is_debug(req: &Request<ReqBody>) -> bool {
    let header = req
        .headers()
        .get(BOOMI_DEBUG)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    header
        || req.uri().query().is_some_and(|q| {
            crate::http::request::query_pairs(q).any(|(k, v)| {
                k.eq_ignore_ascii_case("_boomi_debug") && v.eq_ignore_ascii_case("true")
            })
        })
}

/// What an operation learns about its execution for the record.
#[derive(Debug, Default)]
pub(crate) struct Notes {
    /// The action name, object type or resource path.
    pub(crate) name: Option<Arc<str>>,
    /// Tracked properties.
    pub(crate) tracked: BTreeMap<String, String>,
    /// Answered WAIT; the result comes by callback.
    pub(crate) waiting: bool,
    /// Captured bodies (debug requests only).
    pub(crate) debug: Option<DebugCapture>,
}

/// What every operation handler gets: the shared parts, the service, the execution id.
pub(crate) struct Context<'a> {
    /// What operations may use of the runtime.
    pub(crate) shared: &'a Shared,
    /// The service of the request.
    pub(crate) service: Arc<Service>,
    /// The execution id (empty for describe and health).
    pub(crate) exec_id: String,
    /// The request asked for debug capture.
    pub(crate) debug: bool,
    notes: Mutex<Notes>,
}

impl Context<'_> {
    /// Updates the execution's notes for its record.
    pub(crate) fn note(&self, f: impl FnOnce(&mut Notes)) {
        if let Ok(mut n) = self.notes.lock() {
            f(&mut n);
        }
    }

    /// The largest JSON body of this service's requests, unless an operation sets its own.
    pub(crate) fn max_request_bytes(&self) -> u64 {
        self.shared.config.max_request_bytes
    }

    /// Copies the execution's name and tracked properties into its record.
    pub(crate) fn note_execution(&self, execution: &crate::execution::Execution) {
        self.note(|n| {
            n.name = Some(Arc::from(execution.name.as_str()));
            n.tracked.clone_from(&execution.tracked);
        });
    }

    /// Keeps the request and response bodies of a debug execution, redacted.
    ///
    /// What is secret is decided by the definition, whatever the request says of itself:
    /// every configuration value, input, output and type property that the service types
    /// as Password or Encrypted is redacted wherever its name appears (values typed
    /// `ContentPassword`/`ContentEncrypted` on the wire are redacted as well).
    pub(crate) fn capture(&self, request: &[u8], response: &[u8]) {
        if !self.debug {
            return;
        }
        let def = &self.service.definition;
        let secret = |t: &ValueType| matches!(t, ValueType::Password | ValueType::Encrypted);
        let values = def.configuration_values.iter().chain(
            def.message_actions
                .iter()
                .flat_map(|a| a.inputs.iter().chain(&a.outputs)),
        );
        let mut secrets: Vec<&str> = values
            .filter(|v| secret(&v.value_type))
            .map(|v| v.name.as_str())
            .chain(
                def.types
                    .iter()
                    .flat_map(|t| &t.properties)
                    .filter(|p| secret(&p.value_type))
                    .map(|p| p.name.as_str()),
            )
            .collect();
        secrets.sort_unstable();
        secrets.dedup();
        let debug = DebugCapture {
            request: records::capture(request, &secrets),
            response: records::capture(response, &secrets),
        };
        self.note(|n| n.debug = Some(debug));
    }
}
