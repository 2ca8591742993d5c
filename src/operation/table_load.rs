//! Table load: `POST /fs/{name}/data`, ObjectDataRequest in, ObjectDataResponse out.
//!
//! The `store` answers the page rendered straight from its rows; a `command` or handler
//! reads the plain filter (see `process::data`) and answers objects.

use http::{Request, Response, StatusCode};

use super::data::{answer, DataCall};
use super::Context;
use crate::error::Result;
use crate::execution::engine;
use crate::execution::OperationKind;
use crate::http::body::{self, ReqBody, ResBody};
use crate::process::data::Page;

/// Answers a table load request.
pub(crate) async fn handle(ctx: &Context<'_>, req: Request<ReqBody>) -> Result<Response<ResBody>> {
    let call = DataCall::decode(ctx, req, OperationKind::TableLoad).await?;
    let work = call.process.load(call.work(), || call.document());
    match engine::deadline(ctx.shared.config.execution_timeout, work).await? {
        Page::Rendered(page) => Ok(body::json_bytes_response(StatusCode::OK, page)),
        Page::Objects(objects, more) => Ok(answer(objects, more)),
    }
}
