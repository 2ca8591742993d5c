//! Row update (save): `PUT /fs/{name}/data`, ObjectDataRequest in, the saved objects out.
//!
//! Each object of `objectData` is created (no `externalId`) or updated; the answer holds
//! the objects as stored, with their `externalId`s, in input order. On the store one
//! request is one transaction: a value that does not fit its property refuses it whole.

use http::{Request, Response};

use super::data::{answer, DataCall};
use super::Context;
use crate::error::Result;
use crate::execution::engine;
use crate::execution::OperationKind;
use crate::http::body::{ReqBody, ResBody};

/// Answers a row update request.
pub(crate) async fn handle(ctx: &Context<'_>, req: Request<ReqBody>) -> Result<Response<ResBody>> {
    let call = DataCall::decode(ctx, req, OperationKind::RowUpdate).await?;
    let work = call.process.save(call.work(), || call.document());
    let saved = engine::deadline(ctx.shared.config.execution_timeout, work).await?;
    Ok(answer(saved, false))
}
