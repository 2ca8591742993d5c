//! File list: `POST /fs/{name}/file`, FileDataRequest in, ObjectDataResponse of `$File` out.
//!
//! The request selects a file resource by `resourcePath`; its list process answers one
//! page (ordering and paging of the `store` are in `process::file`).

use http::{Request, Response, StatusCode};

use super::file::{execution, select_resource};
use super::Context;
use crate::error::{Error, Result};
use crate::execution::engine;
use crate::execution::OperationKind;
use crate::http::body::{self, Blank, ReqBody, ResBody};
use crate::process::file::FileView;
use crate::protocol::{FileDataRequest, ObjectDataResponse};

/// Answers a file list request.
pub(crate) async fn handle(ctx: &Context<'_>, req: Request<ReqBody>) -> Result<Response<ResBody>> {
    let (parts, body) = req.into_parts();
    let (_, request): (_, FileDataRequest) = body::read_json(
        body,
        &parts.headers,
        ctx.max_request_bytes(),
        Blank::Default,
    )
    .await?;
    let service = &ctx.service;
    let selected = select_resource(service, request.resource_path.as_deref())?;
    let Some(process) = &selected.resource.list else {
        return Err(Error::not_found(format!(
            "file resource '{}' has no list operation",
            selected.definition.path
        )));
    };
    let execution = execution(
        ctx,
        OperationKind::FileList,
        selected.resource_path.clone(),
        &parts,
        &request,
        &selected.definition.pass_headers,
    )?;
    ctx.note_execution(&execution);
    let _admitted = selected.resource.admission.admit().await?;
    let filter = request.list_filter.clone().unwrap_or_default();
    let base = ctx.shared.base_url(&parts);
    let work = process.list(
        &service.name,
        selected.resource_path,
        &filter,
        &execution.id,
        &base,
        || Ok(execution.document()),
    );
    let (files, more) = engine::deadline(ctx.shared.config.execution_timeout, work).await?;
    let response = ObjectDataResponse {
        culture: request.culture,
        object_data: files.into_iter().map(FileView::into_object).collect(),
        has_more_results: more,
        offset_token: None,
    };
    Ok(body::json_response(StatusCode::OK, &response))
}
