//! The file upload operation.

use http::{Request, Response};

use super::Context;
use crate::error::{Error, Result};
use crate::http::body::{ReqBody, ResBody};
use crate::router::Service;
use crate::runtime::Runtime;

/// Prepares the store for a service before it is mounted.
pub(crate) fn prepare(_rt: &Runtime, _service: &Service) -> Result<()> {
    Ok(())
}

/// Answers a file upload request.
pub(crate) async fn handle(
    _ctx: &Context<'_>,
    _req: Request<ReqBody>,
) -> Result<Response<ResBody>> {
    Err(Error::NotImplemented(
        "file upload is not served by this build yet".into(),
    ))
}
