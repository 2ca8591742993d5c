//! The file download operation.

use http::{Request, Response};

use super::Context;
use crate::error::{Error, Result};
use crate::http::body::{ReqBody, ResBody};

/// Answers a file download request.
pub(crate) async fn handle(
    _ctx: &Context<'_>,
    _id: &str,
    _req: Request<ReqBody>,
) -> Result<Response<ResBody>> {
    Err(Error::NotImplemented(
        "file download is not served by this build yet".into(),
    ))
}
