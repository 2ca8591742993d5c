//! Shared building blocks: culture, values, objects, properties.

use serde::{Deserialize, Serialize};

use super::ContentType;

/// The culture of a request: language, country and so on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Culture {
    /// Culture id.
    pub id: Option<String>,
    /// Developer name.
    pub developer_name: Option<String>,
    /// Developer summary.
    pub developer_summary: Option<String>,
    /// Brand.
    pub brand: Option<String>,
    /// Language, e.g. `EN`.
    pub language: Option<String>,
    /// Country, e.g. `USA`.
    pub country: Option<String>,
    /// Variant.
    pub variant: Option<String>,
}

/// A Flow value passed in or out: an input, an output or a configuration value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EngineValue {
    /// Id of the Flow value.
    pub value_element_id: Option<String>,
    /// Id of the value's type.
    pub type_element_id: Option<String>,
    /// Id of the referenced type property.
    pub type_element_property_id: Option<String>,
    /// The key: matched against describe input, output and configuration names.
    pub developer_name: Option<String>,
    /// Type name for Object and List values.
    pub type_element_developer_name: Option<String>,
    /// Referenced type property name.
    pub type_element_property_developer_name: Option<String>,
    /// The scalar payload, always a string.
    pub content_value: Option<String>,
    /// The content type; the engine sends null for configuration values.
    pub content_type: Option<ContentType>,
    /// The objects of an Object (0–1) or List value.
    pub object_data: Option<Vec<MObject>>,
}

/// One typed object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MObject {
    /// The engine's id.
    pub internal_id: Option<String>,
    /// The service's primary key; null for a new object.
    pub external_id: Option<String>,
    /// The type name.
    pub developer_name: Option<String>,
    /// The type id.
    pub type_element_id: Option<String>,
    /// Position in a list.
    pub order: Option<i64>,
    /// The object's properties.
    pub properties: Option<Vec<Property>>,
    /// The binding used.
    pub type_element_binding_developer_name: Option<String>,
    /// Selected in the UI.
    #[serde(rename = "isSelected")]
    pub is_selected: Option<bool>,
}

/// One property of an object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Property {
    /// Id of the type property.
    pub type_element_property_id: Option<String>,
    /// The property name.
    pub developer_name: Option<String>,
    /// The content type.
    pub content_type: Option<ContentType>,
    /// The scalar value, always a string.
    pub content_value: Option<String>,
    /// The format (the engine sends `""`).
    pub content_format: Option<String>,
    /// Nested objects of an Object or List property.
    pub object_data: Option<Vec<MObject>>,
}

impl MObject {
    /// The property named `name`, if the object carries it.
    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties
            .as_deref()?
            .iter()
            .find(|p| p.developer_name.as_deref() == Some(name))
    }
}
