//! Data operations: ObjectDataRequest, ListFilter, ObjectDataResponse.

use serde::{Deserialize, Serialize};

use super::{ComparisonType, CriteriaType, Culture, EngineValue, MObject, OrderDirection};

/// A load, save or delete request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectDataRequest {
    /// Flow state id.
    pub state_id: Option<String>,
    /// Per-job token.
    pub token: Option<String>,
    /// The binding used.
    pub type_element_binding_id: Option<String>,
    /// Authorization (data flavour, kept as sent).
    pub authorization: Option<serde_json::Value>,
    /// Configuration values.
    pub configuration_values: Option<Vec<EngineValue>>,
    /// Command (kept as sent).
    pub command: Option<serde_json::Value>,
    /// Culture.
    pub culture: Option<Culture>,
    /// Load criteria.
    pub list_filter: Option<ListFilter>,
    /// Which type, and which of its properties are wanted.
    pub object_data_type: Option<ObjectDataType>,
    /// Objects to save or delete.
    pub object_data: Option<Vec<MObject>>,
}

/// The type a data request is about.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectDataType {
    /// Type id.
    pub type_element_id: Option<String>,
    /// Type name: selects the data action.
    pub developer_name: Option<String>,
    /// The properties wanted.
    pub properties: Option<Vec<ObjectDataTypeProperty>>,
}

/// One wanted property.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectDataTypeProperty {
    /// Property name.
    pub developer_name: Option<String>,
    /// Nested structure for Object and List properties.
    pub list: Option<Vec<ObjectDataType>>,
}

/// Load criteria: filter, search, order and page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListFilter {
    /// How `where` and `listFilters` combine.
    pub comparison_type: Option<ComparisonType>,
    /// Conditions.
    #[serde(rename = "where")]
    pub where_: Option<Vec<ListFilterWhere>>,
    /// Nested groups.
    pub list_filters: Option<Vec<ListFilterMinimal>>,
    /// Load one object by external id when non-empty.
    pub id: Option<String>,
    /// Reload the objects given in `objectData`.
    pub filter_by_provided_objects: Option<bool>,
    /// Legacy single sort key.
    pub order_by_property_developer_name: Option<String>,
    /// Direction of the legacy sort key.
    pub order_by_direction_type: Option<OrderDirection>,
    /// Multi-column sort.
    pub order_by: Option<Vec<OrderBy>>,
    /// Page size; 0 means not given.
    pub limit: Option<i64>,
    /// Rows to skip.
    pub offset: Option<i64>,
    /// Opaque cursor.
    pub offset_token: Option<String>,
    /// Free-text search.
    pub search: Option<String>,
    /// Columns the search applies to.
    pub search_criteria: Option<Vec<SearchCriteria>>,
}

/// A nested filter group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListFilterMinimal {
    /// How the group's entries combine.
    pub comparison_type: Option<ComparisonType>,
    /// Conditions.
    #[serde(rename = "where")]
    pub where_: Option<Vec<ListFilterWhere>>,
    /// Nested groups.
    pub list_filters: Option<Vec<ListFilterMinimal>>,
}

/// One condition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListFilterWhere {
    /// The property compared.
    pub column_name: Option<String>,
    /// The comparison.
    pub criteria_type: Option<CriteriaType>,
    /// The value (read `contentValue`, then `value`).
    pub content_value: Option<String>,
    /// Deprecated duplicate of `contentValue`.
    pub value: Option<String>,
    /// Objects for list comparisons.
    pub object_data: Option<Vec<MObject>>,
}

impl ListFilterWhere {
    /// The value compared with: `contentValue`, falling back to `value`.
    pub fn operand(&self) -> Option<&str> {
        self.content_value.as_deref().or(self.value.as_deref())
    }
}

/// One sort key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OrderBy {
    /// The property.
    pub column_name: Option<String>,
    /// `ASC` or `DESC`.
    pub direction: Option<OrderDirection>,
}

/// A column a search applies to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SearchCriteria {
    /// The property.
    pub column_name: Option<String>,
    /// Query (OpenAPI only).
    pub query: Option<String>,
}

/// The answer to load, save, delete, file list and upload.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectDataResponse {
    /// Culture.
    pub culture: Option<Culture>,
    /// The objects.
    pub object_data: Vec<MObject>,
    /// Whether rows remain after this page.
    pub has_more_results: bool,
    /// Cursor for the next page.
    pub offset_token: Option<String>,
}
