//! Recent executions, from the runtime's in-memory ring (`execution::records`).
//!
//! `GET /api/runtime/executions` lists them with the Flowable conventions: filters
//! `service`, `serviceLike`, `operation`, `name`, `status` (`succeeded`, `failed`,
//! `waiting`), `httpStatus`; sort `startTime` (default), `duration`, `service`,
//! `operation`, `status`, `id`; `order`, `start`, `size`. `GET /api/runtime/executions/{id}`
//! answers one record or 404. Records hold no payloads unless the request asked for debug
//! capture.

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, StreamBody};
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

/// The longest a live stream stays open; the browser's `EventSource` reconnects, with
/// `Last-Event-ID`, and misses nothing the ring still holds.
const STREAM_SECONDS: u64 = 300;
/// A comment line this often keeps proxies from closing an idle stream.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// `GET /api/runtime/execution-events`: server-sent events, one `execution` event (the
/// record as the list renders it, `id` its sequence number) per execution recorded from
/// now on — or after `Last-Event-ID` when reconnecting. `seconds` (1 to 300, default 300)
/// bounds how long it stays open; it also ends when the server drains.
pub(super) fn events(ctx: &Ctx, req: &Request<ReqBody>) -> Result<Response<ResBody>> {
    let q = Query::parse(req.uri().query());
    let seconds = match q.integer("seconds")? {
        None => STREAM_SECONDS,
        Some(s) if (1..=300).contains(&s) => u64::from(s.unsigned_abs()),
        Some(s) => {
            return Err(Error::bad_request(format!(
                "Value for param 'seconds' is not valid : '{s}', must be from 1 to {STREAM_SECONDS}"
            )))
        }
    };
    let records = Arc::clone(&ctx.admin.shared.records);
    let server = Arc::clone(&ctx.admin.shared.server);
    let resumed = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let start = resumed.unwrap_or_else(|| records.since(u64::MAX).0);
    let end = tokio::time::Instant::now() + Duration::from_secs(seconds);
    // (the sequence number seen last, whether the opening line went out)
    let stream = futures_util::stream::unfold((start, false), move |(seen, opened)| {
        let records = Arc::clone(&records);
        let server = Arc::clone(&server);
        async move {
            if !opened {
                return Some((Bytes::from_static(b"retry: 2000\n\n"), (seen, true)));
            }
            let now = tokio::time::Instant::now();
            if now >= end || server.draining.load(std::sync::atomic::Ordering::Relaxed) {
                return None;
            }
            let (seq, new) = records.wait_since(seen, HEARTBEAT.min(end - now)).await;
            if new.is_empty() {
                return Some((
                    Bytes::from_static(b": keep-alive\n\n"),
                    (seen.max(seq), true),
                ));
            }
            let first = seq + 1 - new.len() as u64;
            let mut out = String::new();
            for (i, r) in new.iter().enumerate() {
                let data = serde_json::to_string(&render(r)).unwrap_or_default();
                out.push_str(&format!(
                    "id: {}\nevent: execution\ndata: {data}\n\n",
                    first + i as u64
                ));
            }
            Some((Bytes::from(out), (seq, true)))
        }
    })
    .map(|b| Ok::<_, std::io::Error>(hyper::body::Frame::data(b)));
    let mut resp = Response::new(Either::Right(BodyExt::boxed(StreamBody::new(stream))));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(resp)
}
