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

use std::sync::Arc;

use http::{HeaderValue, Request, Response};

use crate::error::Result;
use crate::execution::new_execution_id;
use crate::http::body::{ReqBody, ResBody};
use crate::http::header::EXECUTION_ID;
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

/// Runs the operation `route` of `service` for `req`.
pub(crate) async fn dispatch(
    rt: &Runtime,
    service: Arc<Service>,
    route: Route,
    req: Request<ReqBody>,
) -> Response<ResBody> {
    let path = req.uri().path().to_owned();
    let exec_id = match route {
        Route::Describe | Route::Install | Route::Health => None,
        _ => Some(new_execution_id()),
    };
    let ctx = Context {
        rt,
        service,
        exec_id: exec_id.clone().unwrap_or_default(),
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
    let mut resp = result.unwrap_or_else(|e| e.into_service_problem(&path));
    if let Some(id) = exec_id {
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert(EXECUTION_ID, v);
        }
    }
    resp
}

/// What every operation handler gets: the runtime, the service, the execution id.
pub(crate) struct Context<'a> {
    pub(crate) rt: &'a Runtime,
    pub(crate) service: Arc<Service>,
    pub(crate) exec_id: String,
}
