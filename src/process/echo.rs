//! The `echo` builtin: each declared output takes the input of the same name. It needs
//! nothing but the inputs, so a message action answers it on the connection's task without
//! building process properties or a process document.

use serde_json::{Map, Value};

use crate::definition::MessageActionDefinition;
use crate::protocol::EngineValue;

/// The outputs of `def` from `inputs`.
pub(crate) fn outputs(def: &MessageActionDefinition, inputs: &[EngineValue]) -> Vec<EngineValue> {
    def.outputs
        .iter()
        .filter_map(|o| {
            let v = inputs
                .iter()
                .find(|v| v.developer_name.as_deref() == Some(o.name.as_str()))?;
            Some(EngineValue {
                developer_name: Some(o.name.clone()),
                content_type: Some(o.value_type.content_type()),
                content_value: v.content_value.clone(),
                type_element_developer_name: o.type_name.clone(),
                object_data: v.object_data.clone(),
                ..EngineValue::default()
            })
        })
        .collect()
}

/// The reply of echo to a process document: its inputs as outputs.
pub(crate) fn reply(inputs: &Map<String, Value>) -> super::Reply {
    super::Reply::outputs(Value::Object(inputs.clone()))
}
