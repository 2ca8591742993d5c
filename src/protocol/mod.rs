//! The Flow service wire protocol: every JSON type the engine sends or reads.
//!
//! Parsing is lenient, as the engine is: every field is optional and nullable, unknown
//! fields are ignored, and enums are strings matched case-insensitively with a catch-all
//! variant. Emitting is canonical: exact lowerCamelCase names, canonical enum casing, and
//! both spellings where the engine and the SDKs disagree (`isRequired`/`required`,
//! `order`/`ordinal` on [`DescribeValue`]).

mod action;
mod data;
mod describe;
mod enums;
mod file;
mod listener;
mod value;

pub use action::{OutcomeResponse, ServiceRequest, ServiceResponse, ValueFault};
pub use data::{
    ListFilter, ListFilterMinimal, ListFilterWhere, ObjectDataRequest, ObjectDataResponse,
    ObjectDataType, ObjectDataTypeProperty, OrderBy, SearchCriteria,
};
pub use describe::{
    DescribeInstall, DescribeServiceActionResponse, DescribeServiceRequest,
    DescribeServiceResponse, DescribeValue, TypeElement, TypeElementBinding, TypeElementProperty,
    TypeElementPropertyBinding,
};
pub use enums::{ComparisonType, ContentType, CriteriaType, InvokeType, OrderDirection};
pub use file::{FileDataRequest, FileListFilter};
pub use listener::{ListenerServiceRequest, ListenerServiceResponse};
pub use value::{Culture, EngineValue, MObject, Property};

use serde::Serialize;

/// The error body of every Flow endpoint.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceProblem<'a> {
    /// `service` (a problem in the service) or `api` (in an API the service called).
    pub kind: &'static str,
    /// The request path.
    pub uri: &'a str,
    /// The HTTP status, repeated.
    pub status_code: u16,
    /// What was wrong, for the user.
    pub message: &'a str,
}
