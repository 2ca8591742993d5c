//! Operation kinds: each decodes its request, fills the execution, runs the process, and
//! encodes the answer. One module per kind; the process does the work, the operation
//! owns the HTTP contract.

mod describe;
pub(crate) use describe::describe as describe_response;
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

use crate::definition::ValueType;
use crate::error::Result;
use crate::execution::new_execution_id;
use crate::http::body::{ReqBody, ResBody};
use crate::http::header::{BOOMI_DEBUG, EXECUTION_ID};
use crate::records::{self, DebugCapture, ExecutionRecord};
use crate::router::{Route, Service};
use crate::runtime::Runtime;

/// Prepares what a service needs before it answers (tables created, folders made).
///
/// # Errors
///
/// The service cannot be served on this data folder, e.g. a table whose property changed
/// type.
pub(crate) fn prepare(rt: &Runtime, service: &Service) -> Result<()> {
    table_load::prepare(rt, service)?;
    file_upload::prepare(rt, service)
}

/// Runs the operation `route` of `service` for `req`, then records its counters and,
/// for operations, its execution record.
pub(crate) async fn dispatch(
    rt: &Runtime,
    service: Arc<Service>,
    route: Route,
    req: Request<ReqBody>,
) -> Response<ResBody> {
    let started = Instant::now();
    // A clone of the parsed URI shares its bytes: no allocation.
    let uri = req.uri().clone();
    let slot = route.slot();
    let label = route.label();
    let exec_id = match route {
        Route::Describe | Route::Install | Route::Health => None,
        _ => Some(new_execution_id()),
    };
    // Shared, not copied: recording an action costs no allocation for its name.
    let name = match route {
        Route::Action(i) => Some(Arc::clone(&service.actions[i].name)),
        _ => None,
    };
    let ctx = Context {
        rt,
        service: Arc::clone(&service),
        exec_id: exec_id.clone().unwrap_or_default(),
        debug: is_debug(&req),
        notes: Mutex::new(Notes {
            name,
            ..Notes::default()
        }),
    };
    let result = match route {
        Route::Describe => describe::handle(&ctx, req, false).await,
        Route::Install => describe::handle(&ctx, req, true).await,
        Route::Health => Ok(crate::runtime::health()),
        Route::Action(i) => message_action::handle(&ctx, i, req).await,
        Route::TableLoad => table_load::handle(&ctx, req).await,
        Route::RowUpdate => row_update::handle(&ctx, req).await,
        Route::RowDelete => row_delete::handle(&ctx, req).await,
        Route::FileList => file_list::handle(&ctx, req).await,
        Route::FileUpload => file_upload::handle(&ctx, req).await,
        Route::FileDelete => file_delete::handle(&ctx, req).await,
        Route::FileDownload(id) => file_download::handle(&ctx, &id, req).await,
    };
    let mut resp = result.unwrap_or_else(|e| e.into_service_problem(uri.path()));
    let elapsed = started.elapsed();
    let status = resp.status().as_u16();
    if let Some(stats) = service.stats.get(slot) {
        stats.record(status, elapsed);
    }
    if let Some(id) = exec_id {
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert(EXECUTION_ID, v);
        }
        let records = rt.records();
        if records.is_enabled() {
            let notes = ctx.notes.into_inner().unwrap_or_default();
            let mut record = ExecutionRecord::new(
                id,
                Arc::clone(&service.name),
                label,
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
            q.split('&')
                .any(|kv| kv.eq_ignore_ascii_case("_boomi_debug=true"))
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

/// What every operation handler gets: the runtime, the service, the execution id.
pub(crate) struct Context<'a> {
    pub(crate) rt: &'a Runtime,
    pub(crate) service: Arc<Service>,
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

    /// Copies the execution's name and tracked properties into its record.
    pub(crate) fn note_execution(&self, execution: &crate::execution::Execution) {
        self.note(|n| {
            n.name = Some(Arc::from(execution.name.as_str()));
            n.tracked.clone_from(&execution.tracked);
        });
    }

    /// Keeps the request and response bodies of a debug execution, redacted.
    pub(crate) fn capture(&self, request: &[u8], response: &[u8]) {
        if !self.debug {
            return;
        }
        let secrets: Vec<&str> = self
            .service
            .definition
            .configuration_values
            .iter()
            .filter(|v| matches!(v.value_type, ValueType::Password | ValueType::Encrypted))
            .map(|v| v.name.as_str())
            .collect();
        let debug = DebugCapture {
            request: records::capture(request, &secrets),
            response: records::capture(response, &secrets),
        };
        self.note(|n| n.debug = Some(debug));
    }
}
