//! Inbound `http` channels: `POST /events/{channelKey}`.

use http::{Request, Response};

use super::Events;
use crate::error::Error;
use crate::http::body::{ReqBody, ResBody};

/// Answers one webhook request.
pub(super) async fn handle(_events: &Events, _req: Request<ReqBody>) -> Response<ResBody> {
    Error::not_found("inbound http channels are not built yet").into_admin_response()
}
