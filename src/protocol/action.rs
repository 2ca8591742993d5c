//! Message actions: ServiceRequest in, ServiceResponse out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Culture, EngineValue, InvokeType};

/// An outcome offered by the message step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OutcomeResponse {
    /// Outcome id.
    pub id: Option<String>,
    /// Outcome name.
    pub developer_name: Option<String>,
    /// Label.
    pub label: Option<String>,
    /// Position.
    pub order: Option<i64>,
}

/// A message action call from the engine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceRequest {
    /// Correlation token: echoed in the response and any callback.
    pub token: Option<String>,
    /// Tenant id.
    pub tenant_id: Option<String>,
    /// Flow state id.
    pub state_id: Option<String>,
    /// Where a later ServiceResponse is POSTed.
    pub callback_uri: Option<String>,
    /// Platform URI (engine model only).
    pub platform_uri: Option<String>,
    /// Culture.
    pub culture: Option<Culture>,
    /// Flow mode.
    pub execution_mode: Option<String>,
    /// Configuration values of the service.
    pub configuration_values: Option<Vec<EngineValue>>,
    /// Group authorization (kept as sent).
    pub authorization: Option<serde_json::Value>,
    /// State annotations.
    pub annotations: Option<BTreeMap<String, String>>,
    /// Attributes.
    pub attributes: Option<BTreeMap<String, String>>,
    /// Join URL.
    pub join_player_uri: Option<String>,
    /// Player URL.
    pub player_uri: Option<String>,
    /// Full URL of the action.
    pub uri: Option<String>,
    /// Inputs keyed by `developerName`.
    pub inputs: Option<Vec<EngineValue>>,
    /// Outcomes available from the step.
    pub outcomes: Option<Vec<OutcomeResponse>>,
}

/// A fault tied to an input value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ValueFault {
    /// The value referenced.
    pub value_element_to_reference_id: Option<String>,
    /// The property referenced.
    pub value_element_type_element_property_to_reference_id: Option<String>,
    /// Fault code.
    pub fault_code: Option<String>,
    /// Fault message.
    pub fault_message: Option<String>,
}

/// The answer to a message action, and the body of a callback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceResponse {
    /// The request's token.
    pub token: Option<String>,
    /// The request's tenant id.
    pub tenant_id: Option<String>,
    /// Culture.
    pub culture: Option<Culture>,
    /// Annotations.
    pub annotations: Option<BTreeMap<String, String>>,
    /// `FORWARD` when done, `WAIT` when the answer comes later.
    pub invoke_type: InvokeType,
    /// Shown to users while waiting.
    pub wait_message: Option<String>,
    /// Outputs keyed by describe output name.
    pub outputs: Option<Vec<EngineValue>>,
    /// The chosen outcome.
    pub selected_outcome_id: Option<String>,
    /// Faults reported to the state.
    pub root_faults: Option<BTreeMap<String, String>>,
    /// Faults tied to inputs.
    pub value_faults: Option<Vec<ValueFault>>,
    /// Mode for the state.
    pub mode: Option<String>,
}

impl ServiceResponse {
    /// An answer to `req` of `invoke_type`, echoing its token, tenant, culture and
    /// annotations, with nothing else set.
    pub fn reply_to(req: &ServiceRequest, invoke_type: InvokeType) -> Self {
        ServiceResponse {
            token: req.token.clone(),
            tenant_id: req.tenant_id.clone(),
            culture: req.culture.clone(),
            annotations: req.annotations.clone(),
            invoke_type,
            wait_message: None,
            outputs: None,
            selected_outcome_id: None,
            root_faults: None,
            value_faults: None,
            mode: None,
        }
    }

    /// A `FORWARD` answer carrying `outputs` that takes the echoed fields out of `req`
    /// instead of copying them.
    pub fn forward_from(req: ServiceRequest, outputs: Vec<EngineValue>) -> Self {
        ServiceResponse {
            token: req.token,
            tenant_id: req.tenant_id,
            culture: req.culture,
            annotations: req.annotations,
            invoke_type: InvokeType::Forward,
            wait_message: None,
            outputs: Some(outputs),
            selected_outcome_id: None,
            root_faults: None,
            value_faults: None,
            mode: None,
        }
    }

    /// A `FORWARD` answer to `req` carrying `outputs`.
    pub fn forward(req: &ServiceRequest, outputs: Vec<EngineValue>) -> Self {
        ServiceResponse {
            outputs: Some(outputs),
            ..Self::reply_to(req, InvokeType::Forward)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_request_with_nulls_everywhere_parses() {
        let body = r#"{"token":null,"tenantId":null,"stateId":null,"callbackUri":null,
            "culture":null,"executionMode":null,"configurationValues":null,"authorization":null,
            "annotations":null,"attributes":null,"inputs":[{"developerName":"A","contentValue":null,
            "contentType":null,"objectData":null,"valueElementId":null}],"outcomes":null,
            "somethingNew":{"x":1}}"#;
        let req: ServiceRequest = serde_json::from_str(body).unwrap();
        assert_eq!(req.inputs.unwrap()[0].developer_name.as_deref(), Some("A"));
    }
}
