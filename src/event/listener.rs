//! Flow listeners: `POST /fs/{service}/listener` registrations, called back when their
//! event occurs.

use std::path::Path;
use std::sync::Arc;

use http::{Request, Response};
use serde_json::{Map, Value};

use super::{EventDefinition, Events};
use crate::error::Error;
use crate::http::body::{ReqBody, ResBody};
use crate::router::Service;

/// The registered listeners.
#[derive(Debug)]
pub(super) struct Listeners {}

impl Listeners {
    /// The listeners kept under `data_dir`; nothing is opened until needed.
    pub(super) fn new(_data_dir: &Path) -> Self {
        Listeners {}
    }
}

/// Registers one listener.
pub(super) async fn register(
    _events: &Events,
    _service: Arc<Service>,
    req: Request<ReqBody>,
) -> Response<ResBody> {
    Error::NotImplemented("listeners are not built yet".into())
        .into_service_problem(req.uri().path())
}

/// Calls back every listener registered for `event` whose object matches `payload`
/// (checked against the event's model), from tenant `tenant_id`; returns at once, the
/// deliveries run on their own.
pub(super) fn notify(
    _events: &Events,
    _event: &Arc<EventDefinition>,
    _payload: &Map<String, Value>,
    _tenant_id: &str,
) {
}
