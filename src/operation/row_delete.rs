//! Row delete: `POST /fs/{name}/data/delete`, ObjectDataRequest in,
//! `{"objectData": [], "hasMoreResults": false}` out.
//!
//! Rows are named by the `externalId` of each object of `objectData`, and by
//! `listFilter.id` (the engine sets it for single deletes). A row that does not exist is
//! not an error: after the request, none of them exists.

use http::{Request, Response};
use serde_json::{json, Map};

use super::table_load::{answer, DataCall};
use super::Context;
use crate::error::Result;
use crate::execution::OperationKind;
use crate::http::body::{ReqBody, ResBody};
use crate::process::Process;

/// Answers a row delete request.
pub(crate) async fn handle(ctx: &Context<'_>, req: Request<ReqBody>) -> Result<Response<ResBody>> {
    let call = DataCall::decode(ctx, req, OperationKind::RowDelete).await?;
    let objects = call.request.object_data.as_deref().unwrap_or_default();
    let filter_id = call
        .request
        .list_filter
        .as_ref()
        .and_then(|f| f.id.clone())
        .filter(|id| !id.is_empty());
    match call.process {
        Process::Store => {
            let mut ids: Vec<String> = objects
                .iter()
                .filter_map(|o| o.external_id.clone())
                .filter(|id| !id.is_empty())
                .collect();
            ids.extend(filter_id);
            ctx.rt
                .stores()
                .tables
                .delete(&ctx.service.name, &call.ty.name, ids)
                .await?;
        }
        process => {
            let mut extra = Map::new();
            extra.insert("objects".into(), call.plain_objects(objects));
            extra.insert("filter".into(), json!({ "id": filter_id }));
            process.call(call.process_call(ctx, extra)?).await?;
        }
    }
    Ok(answer(Vec::new(), false))
}
