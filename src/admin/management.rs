//! Engine info, health and metrics.
//!
//! `GET /api/management/engine` is read-only: `{"name": "fss", "version": "<crate version>"}`.
//! `GET /api/management/health` checks each dependency for real: the data folder takes a
//! file write, fsync and removal; the database answers a query. 200 when all are `UP`,
//! 503 when any is `DOWN`, each with its reason.

use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::Ctx;
use crate::error::{Error, Result};
use crate::http::body::{self, ResBody};

/// `GET /api/management/engine`.
pub(super) fn engine() -> Response<ResBody> {
    body::json_response(
        StatusCode::OK,
        &json!({"name": "fss", "version": env!("CARGO_PKG_VERSION")}),
    )
}

/// `GET /api/management/metrics`: the Prometheus text exposition format.
pub(super) fn metrics(ctx: &Ctx) -> Response<ResBody> {
    let mut resp = Response::new(body::full(
        ctx.admin.shared.metrics_text(&ctx.admin.mounts.snapshot()),
    ));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// `GET /api/management/health`.
pub(super) async fn health(ctx: &Ctx) -> Result<Response<ResBody>> {
    let dir = ctx.admin.data_dir().to_path_buf();
    let data = tokio::task::spawn_blocking(move || {
        let probe = dir.join(format!(".health-{}", uuid::Uuid::new_v4()));
        let result = (|| {
            use std::io::Write;
            let mut f = std::fs::File::create(&probe)?;
            f.write_all(b"ok")?;
            f.sync_all()?;
            std::fs::remove_file(&probe)
        })();
        let _ = std::fs::remove_file(&probe);
        (dir, result)
    })
    .await
    .map_err(Error::internal)?;
    let database = ctx.admin.db(|r| r.ping()).await;
    let data_state = match &data.1 {
        Ok(()) => json!({"status": "UP", "path": data.0.display().to_string()}),
        Err(e) => json!({"status": "DOWN", "path": data.0.display().to_string(),
                         "error": format!("not writable: {e}")}),
    };
    let db_state = match &database {
        Ok(()) => json!({"status": "UP", "file": crate::store::sqlite::REGISTRY_FILE}),
        Err(e) => {
            json!({"status": "DOWN", "file": crate::store::sqlite::REGISTRY_FILE, "error": e.to_string()})
        }
    };
    let up = data.1.is_ok() && database.is_ok();
    let answer: Value = json!({
        "status": if up { "UP" } else { "DOWN" },
        "dependencies": { "dataFolder": data_state, "database": db_state },
        "services": ctx.admin.mounts.snapshot().services().count(),
    });
    let status = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok(body::json_response(status, &answer))
}
