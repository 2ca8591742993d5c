//! Row delete: `POST /fs/{name}/data/delete`, ObjectDataRequest in,
//! `{"objectData": [], "hasMoreResults": false}` out.
//!
//! Rows are named by the `externalId` of each object of `objectData`, and by
//! `listFilter.id` (the engine sets it for single deletes). A row that does not exist is
//! not an error: after the request, none of them exists.

use http::{Request, Response};

use super::data::{answer, DataCall};
use super::Context;
use crate::error::Result;
use crate::execution::engine;
use crate::execution::OperationKind;
use crate::http::body::{ReqBody, ResBody};

/// Answers a row delete request.
pub(crate) async fn handle(ctx: &Context<'_>, req: Request<ReqBody>) -> Result<Response<ResBody>> {
    let call = DataCall::decode(ctx, req, OperationKind::RowDelete).await?;
    let work = call.process.delete(call.work(), || call.document());
    engine::deadline(ctx.shared.config.execution_timeout, work).await?;
    Ok(answer(Vec::new(), false))
}
