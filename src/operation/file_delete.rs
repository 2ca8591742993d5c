//! File delete: `POST /fs/{name}/file/delete`, a FileDataRequest whose `resourceFile` is
//! the id of a stored file. The index row goes first, then the bytes; the answer is an
//! empty ObjectDataResponse (the Flow wire protocol, `protocol`). An unknown id is 404.

use http::{Request, Response, StatusCode};

use super::file::{check_file_id, execution};
use super::Context;
use crate::error::{Error, Result};
use crate::execution::{OperationKind, FILE_CONTENT_TYPE, FILE_NAME};
use crate::http::body::{self, Blank, ReqBody, ResBody};
use crate::protocol::{FileDataRequest, ObjectDataResponse};

/// Answers a file delete request.
pub(crate) async fn handle(ctx: &Context<'_>, req: Request<ReqBody>) -> Result<Response<ResBody>> {
    let (parts, body) = req.into_parts();
    let blank =
        Blank::Refuse("request body is empty; a FileDataRequest with resourceFile was expected");
    let (_, request): (_, FileDataRequest) =
        body::read_json(body, &parts.headers, ctx.max_request_bytes(), blank).await?;
    let id = request
        .resource_file
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Error::bad_request("resourceFile (the id of the file to delete) is required")
        })?
        .to_owned();
    check_file_id(&id)?;
    // Properties first: a request that lacks a configuration value deletes nothing.
    let mut execution = execution(
        ctx,
        OperationKind::FileDelete,
        String::new(),
        &parts,
        &request,
        &[],
    )?;
    let record = ctx
        .shared
        .store
        .remove(&ctx.service.name, &id)
        .await?
        .ok_or_else(|| Error::not_found(format!("no file with id '{id}'")))?;
    execution.name = record.resource_path;
    execution.track(FILE_NAME, record.name);
    execution.track(FILE_CONTENT_TYPE, record.content_type);
    ctx.note_execution(&execution);
    tracing::debug!(%id, "File deleted.");
    let response = ObjectDataResponse {
        culture: request.culture,
        ..ObjectDataResponse::default()
    };
    Ok(body::json_response(StatusCode::OK, &response))
}
