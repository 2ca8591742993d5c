//! Recent executions, from the runtime's in-memory ring (`execution::records`).
//!
//! `GET /api/runtime/executions` lists them with the Flowable conventions: filters
//! `service`, `serviceLike`, `operation`, `name`, `status` (`succeeded`, `failed`,
//! `waiting`), `httpStatus`; sort `startTime` (default), `duration`, `service`,
//! `operation`, `status`, `id`; `order`, `start`, `size`. `GET /api/runtime/executions/{id}`
//! answers one record or 404. Records hold no payloads unless the request asked for debug
//! capture.

use std::cmp::Ordering;

use http::{Request, Response, StatusCode};
use serde_json::Value;

use super::paging::{like, Page, Query};
use super::Ctx;
use crate::error::{Error, Result};
use crate::execution::ExecutionRecord;
use crate::http::body::{self, ReqBody, ResBody};

/// The statuses a record can have.
const STATUSES: &[&str] = &["succeeded", "failed", "waiting"];

/// `GET /api/runtime/executions`.
pub(super) fn list(ctx: &Ctx, req: &Request<ReqBody>) -> Result<Response<ResBody>> {
    let q = Query::parse(req.uri().query());
    let page = Page::from_query(
        &q,
        &[
            "startTime",
            "duration",
            "service",
            "operation",
            "status",
            "id",
        ],
        &[("starttime", "startTime")],
        "startTime",
    )?;
    if let Some(s) = q.get("status") {
        if !STATUSES.contains(&s) {
            return Err(Error::bad_request(format!(
                "Value for param 'status' is not valid: '{s}', must be one of {}",
                STATUSES.join(", ")
            )));
        }
    }
    let http_status = q.integer("httpStatus")?;
    let records = ctx.admin.shared.records.list(|r| {
        q.get("service").is_none_or(|v| &*r.service == v)
            && q.get("serviceLike").is_none_or(|v| like(v, &r.service))
            && q.get("operation").is_none_or(|v| r.operation == v)
            && q.get("name").is_none_or(|v| &*r.name == v)
            && q.get("status").is_none_or(|v| r.status == v)
            && http_status.is_none_or(|v| i64::from(r.http_status) == i64::from(v))
    });
    let answer = page.envelope(records, compare, render);
    Ok(body::json_response(StatusCode::OK, &answer))
}

/// `GET /api/runtime/executions/{id}`.
pub(super) fn get(ctx: &Ctx, id: &str) -> Result<Response<ResBody>> {
    let record =
        ctx.admin.shared.records.get(id).ok_or_else(|| {
            Error::not_found(format!("Could not find an execution with id '{id}'."))
        })?;
    Ok(body::json_response(StatusCode::OK, &render(&record)))
}

fn compare(a: &ExecutionRecord, b: &ExecutionRecord, sort: &str) -> Ordering {
    let by = match sort {
        "duration" => a.duration_micros.cmp(&b.duration_micros),
        "service" => a.service.cmp(&b.service),
        "operation" => a.operation.cmp(b.operation),
        "status" => a.status.cmp(b.status),
        "id" => a.id.cmp(&b.id),
        _ => a.started_at().cmp(&b.started_at()),
    };
    by.then_with(|| a.started_at().cmp(&b.started_at()))
        .then_with(|| a.id.cmp(&b.id))
}

fn render(r: &ExecutionRecord) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}
