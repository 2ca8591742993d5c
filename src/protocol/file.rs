//! File operations: FileDataRequest and its list filter.

use serde::{Deserialize, Serialize};

use super::{Culture, EngineValue, OrderDirection};

/// A file list, upload or delete request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FileDataRequest {
    /// Flow state id.
    pub state_id: Option<String>,
    /// Service element id.
    pub service_element_id: Option<String>,
    /// Token.
    pub token: Option<String>,
    /// Authorization (data flavour, kept as sent).
    pub authorization: Option<serde_json::Value>,
    /// Configuration values.
    pub configuration_values: Option<Vec<EngineValue>>,
    /// Culture.
    pub culture: Option<Culture>,
    /// Folder to list or upload into.
    pub resource_path: Option<String>,
    /// A specific file (its id).
    pub resource_file: Option<String>,
    /// Path (OpenAPI only).
    pub path: Option<String>,
    /// Order, page and search.
    pub list_filter: Option<FileListFilter>,
}

/// Order, page and search of a file list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FileListFilter {
    /// A `$File` property to order by.
    pub order_by_property_developer_name: Option<String>,
    /// Direction.
    pub order_by_direction_type: Option<OrderDirection>,
    /// Page size; 0 means not given.
    pub limit: Option<i64>,
    /// Files to skip.
    pub offset: Option<i64>,
    /// Substring of the name.
    pub search: Option<String>,
}
