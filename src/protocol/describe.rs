//! Describe: what a service offers, and the types it installs.

use serde::{Deserialize, Serialize};

use super::{ContentType, Culture, EngineValue};

/// The engine's describe request; every field may be missing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DescribeServiceRequest {
    /// Culture.
    pub culture: Option<Culture>,
    /// The base URI being described.
    pub uri: Option<String>,
    /// Configuration values typed so far (possibly partial).
    pub configuration_values: Option<Vec<EngineValue>>,
}

/// A configuration value, input or output as describe lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeValue {
    /// The name builders see and the engine sends back.
    pub developer_name: String,
    /// Default value.
    pub content_value: Option<String>,
    /// Content type.
    pub content_type: ContentType,
    /// Type name of Object and List values.
    pub type_element_developer_name: Option<String>,
    /// Required (the engine's spelling).
    #[serde(rename = "isRequired")]
    pub is_required: bool,
    /// Required (the SDKs' spelling).
    pub required: bool,
    /// Position (the engine's spelling).
    pub order: i64,
    /// Position (the SDKs' spelling).
    pub ordinal: i64,
}

impl DescribeValue {
    /// A value named `name` at position `order`, emitting both spellings of each flag.
    pub fn new(
        name: &str,
        content_type: ContentType,
        type_name: Option<&str>,
        required: bool,
        order: i64,
    ) -> Self {
        DescribeValue {
            developer_name: name.to_owned(),
            content_value: None,
            content_type,
            type_element_developer_name: type_name.map(str::to_owned),
            is_required: required,
            required,
            order,
            ordinal: order,
        }
    }
}

/// One message action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeServiceActionResponse {
    /// Path relative to the service base, e.g. `actions/approve-order`.
    pub uri_part: String,
    /// The action's name.
    pub developer_name: String,
    /// Its description.
    pub developer_summary: Option<String>,
    /// Inputs.
    pub service_inputs: Vec<DescribeValue>,
    /// Outputs.
    pub service_outputs: Vec<DescribeValue>,
    /// Outcomes (empty for logic actions).
    pub service_action_outcomes: Vec<serde_json::Value>,
    /// Always false: fss actions are logic actions.
    #[serde(rename = "isViewMessageAction")]
    pub is_view_message_action: bool,
}

/// A type to create in the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeElement {
    /// Always `TYPE`.
    pub element_type: String,
    /// Type name.
    pub developer_name: String,
    /// Description.
    pub developer_summary: Option<String>,
    /// Null on install.
    pub id: Option<String>,
    /// Null on install.
    pub service_element_id: Option<String>,
    /// Properties.
    pub properties: Vec<TypeElementProperty>,
    /// Database bindings; empty for types only used by actions.
    pub bindings: Vec<TypeElementBinding>,
    /// Always false.
    pub update_by_name: bool,
}

/// A property of a [`TypeElement`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeElementProperty {
    /// Null on install.
    pub id: Option<String>,
    /// Property name.
    pub developer_name: String,
    /// Format.
    pub content_format: Option<String>,
    /// Content type.
    pub content_type: ContentType,
    /// Referenced type id.
    pub type_element_id: Option<String>,
    /// Referenced type name for Object and List properties.
    pub type_element_developer_name: Option<String>,
}

/// A database binding of a type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeElementBinding {
    /// Null on install.
    pub id: Option<String>,
    /// Binding name.
    pub developer_name: String,
    /// Description.
    pub developer_summary: Option<String>,
    /// The table the binding stands for.
    pub database_table_name: String,
    /// Null on install.
    pub service_element_id: Option<String>,
    /// One entry per property.
    pub property_bindings: Vec<TypeElementPropertyBinding>,
}

/// A property's column in a binding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeElementPropertyBinding {
    /// Column name (equal to the property name, so filters may use either).
    pub database_field_name: String,
    /// Null on install.
    pub type_element_property_id: Option<String>,
    /// The property.
    pub type_element_property_developer_name: String,
    /// Native type.
    pub database_content_type: Option<String>,
}

/// The types to install.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInstall {
    /// The types.
    pub type_elements: Vec<TypeElement>,
}

/// The describe answer. On `/metadata/install` it also carries `actions` and `types`
/// at the top level (the 2017 v2 form), so every known consumer finds what it reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeServiceResponse {
    /// Culture.
    pub culture: Option<Culture>,
    /// The base URI, echoed.
    pub uri: Option<String>,
    /// Settings builders fill in.
    pub configuration_values: Vec<DescribeValue>,
    /// Auto binding.
    pub provides_auto_binding: bool,
    /// Data actions exist.
    pub provides_database: bool,
    /// File resources exist.
    pub provides_files: bool,
    /// Identity (never, for fss services).
    pub provides_identity: bool,
    /// Listening.
    pub provides_listening: bool,
    /// Message actions exist.
    pub provides_logic: bool,
    /// Notifications.
    pub provides_notifications: bool,
    /// Smart save.
    pub provides_smart_save: bool,
    /// Social.
    pub provides_social: bool,
    /// Sharing.
    pub provides_sharing: bool,
    /// Views.
    pub provides_views: bool,
    /// Voting.
    pub provides_voting: bool,
    /// Message actions.
    pub actions: Vec<DescribeServiceActionResponse>,
    /// Types to install.
    pub install: DescribeInstall,
    /// The install form's copy of `install.typeElements`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub types: Option<Vec<TypeElement>>,
}
