//! Listeners: a ListenerServiceRequest registers interest in an event, a
//! ListenerServiceResponse tells the engine it happened.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Culture, EngineValue};

/// A listener registration from the engine (`POST {base}/listener`): the base request
/// fields, the event to listen for and the value it is about.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListenerServiceRequest {
    /// Correlation token: echoed in the callback.
    pub token: Option<String>,
    /// Tenant id.
    pub tenant_id: Option<String>,
    /// Flow state id.
    pub state_id: Option<String>,
    /// Where the ListenerServiceResponse is POSTed when the event happens.
    pub callback_uri: Option<String>,
    /// Culture.
    pub culture: Option<Culture>,
    /// Flow mode.
    pub execution_mode: Option<String>,
    /// Configuration values of the service.
    pub configuration_values: Option<Vec<EngineValue>>,
    /// Group authorization (kept as sent).
    pub authorization: Option<serde_json::Value>,
    /// State annotations: echoed in the callback.
    pub annotations: Option<BTreeMap<String, String>>,
    /// Attributes.
    pub attributes: Option<BTreeMap<String, String>>,
    /// The event listened for: one of the service's `listenableEvents`.
    pub listen_type: Option<String>,
    /// The Object or List watched, with its `objectData`.
    pub value_for_listening: Option<EngineValue>,
}

/// The callback of a listener whose event happened (service → `callbackUri`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerServiceResponse {
    /// The registration's token.
    pub token: Option<String>,
    /// The registration's tenant id.
    pub tenant_id: Option<String>,
    /// The registration's culture.
    pub culture: Option<Culture>,
    /// The registration's annotations.
    pub annotations: Option<BTreeMap<String, String>>,
    /// The watched value as the event changed it.
    pub listening_event_value: Option<EngineValue>,
}
