//! Where an event goes: its outbound channels, its subscribers, its Flow listeners.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::{ChannelDefinition, EventDefinition, Events};
use crate::error::{Error, Result};

/// Sends `event`; with `wait`, returns only once its subscribers have finished.
pub(super) async fn send(
    _events: &Events,
    _event: &Arc<EventDefinition>,
    _payload: Map<String, Value>,
    _tenant_id: &str,
    _wait: bool,
) -> Result<()> {
    Err(Error::NotImplemented(
        "sending events is not built yet".into(),
    ))
}

/// One inbound message of `channel` as an event.
pub(super) async fn accept(
    _events: &Events,
    _channel: &ChannelDefinition,
    _body: &Bytes,
) -> Result<()> {
    Err(Error::NotImplemented(
        "inbound channels are not built yet".into(),
    ))
}
