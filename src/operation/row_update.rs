//! Row update (save): `PUT /fs/{name}/data`, ObjectDataRequest in, the saved objects out.
//!
//! Each object of `objectData` is created (no `externalId`) or updated; the answer holds
//! the objects as stored, with their `externalId`s, in input order. On the store one
//! request is one transaction: a value that does not fit its property refuses it whole.

use http::{Request, Response};
use serde_json::Map;

use super::table_load::{answer, DataCall};
use super::Context;
use crate::error::Result;
use crate::execution::OperationKind;
use crate::http::body::{ReqBody, ResBody};
use crate::process::Process;

/// Answers a row update request.
pub(crate) async fn handle(ctx: &Context<'_>, req: Request<ReqBody>) -> Result<Response<ResBody>> {
    let call = DataCall::decode(ctx, req, OperationKind::RowUpdate).await?;
    let objects = call.request.object_data.as_deref().unwrap_or_default();
    let saved = match call.process {
        Process::Store => {
            ctx.rt
                .stores()
                .tables
                .save(&ctx.service.name, &call.ty.name, objects)
                .await?
        }
        process => {
            let mut extra = Map::new();
            extra.insert("objects".into(), call.plain_objects(objects));
            let reply = process.call(call.process_call(ctx, extra)?).await?;
            call.reply_objects(&reply)
                .unwrap_or_else(|| objects.to_vec())
        }
    };
    Ok(answer(saved, false))
}
