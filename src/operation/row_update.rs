//! The row update operation.

use http::{Request, Response};

use super::Context;
use crate::error::{Error, Result};
use crate::http::body::{ReqBody, ResBody};

/// Answers a row update request.
pub(crate) async fn handle(
    _ctx: &Context<'_>,
    _req: Request<ReqBody>,
) -> Result<Response<ResBody>> {
    Err(Error::NotImplemented(
        "row update is not served by this build yet".into(),
    ))
}
