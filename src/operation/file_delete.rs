//! File delete: `POST /fs/{name}/file/delete`, a FileDataRequest whose `resourceFile` is
//! the id of a stored file. The index row goes first, then the bytes; the answer is an
//! empty ObjectDataResponse (protocol §4.4). An unknown id is 404.

use http::{Request, Response, StatusCode};

use super::file_list;
use super::Context;
use crate::error::{Error, Result};
use crate::execution::{Execution, OperationKind, FILE_CONTENT_TYPE, FILE_NAME};
use crate::http::body::{self, ReqBody, ResBody};
use crate::protocol::{FileDataRequest, ObjectDataResponse};

/// Answers a file delete request.
pub(crate) async fn handle(ctx: &Context<'_>, req: Request<ReqBody>) -> Result<Response<ResBody>> {
    let (parts, body) = req.into_parts();
    let limit = ctx.rt.config().max_request_bytes;
    let bytes = body::read_limited(body, body::content_length(&parts.headers), limit).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::bad_request(
            "request body is empty; a FileDataRequest with resourceFile was expected",
        ));
    }
    let request: FileDataRequest = serde_json::from_slice(&bytes)?;
    let id = request
        .resource_file
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Error::bad_request("resourceFile (the id of the file to delete) is required")
        })?
        .to_owned();
    let service = &ctx.service;
    let properties = file_list::properties(service, &parts, &request)?;
    let record = ctx
        .rt
        .stores()
        .files
        .delete(service.name.to_string(), id.clone())
        .await?
        .ok_or_else(|| Error::not_found(format!("no file with id '{id}'")))?;
    let mut execution = Execution::new(
        ctx.exec_id.clone(),
        service.name.clone(),
        OperationKind::FileDelete,
        record.resource_path.clone(),
    );
    execution.properties = properties;
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
