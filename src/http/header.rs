//! Header names fss reads or writes, as constants so that no literal is repeated.

use http::HeaderName;

/// The ServiceProblem kind header the Flow engine reads on every error (protocol §4.7).
pub const SERVICE_PROBLEM_KIND: HeaderName =
    HeaderName::from_static("x-manywho-service-problem-kind");

/// The execution id of the request, for troubleshooting.
pub const EXECUTION_ID: HeaderName = HeaderName::from_static("x-execution-id");

/// The tenant header the engine sends and callbacks carry.
pub const MANYWHO_TENANT: HeaderName = HeaderName::from_static("manywhotenant");

/// Per-request debug capture switch (`true` keeps this execution's payloads).
pub const BOOMI_DEBUG: HeaderName = HeaderName::from_static("x-boomi-debug");
