//! Flowable's Event Registry REST API at its own paths under `/event-registry-api/`:
//! `event-registry-repository` (deployments, event and channel definitions),
//! `event-registry-runtime` (event instances), `event-registry-management` (engine).

use http::{Request, Response};

use super::Ctx;
use crate::error::{Error, Result};
use crate::http::body::{ReqBody, ResBody};

/// The URL prefix of the Event Registry REST API.
pub(crate) const PREFIX: &str = "/event-registry-api/";

/// Answers one request under [`PREFIX`].
pub(super) async fn route(ctx: &Ctx, req: Request<ReqBody>) -> Result<Response<ResBody>> {
    ctx.admin
        .directory()
        .authenticate_admin(req.headers())
        .await?;
    Err(Error::not_found(format!(
        "no Event Registry endpoint at {}",
        req.uri().path()
    )))
}
