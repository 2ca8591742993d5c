//! fss — a low-latency Flow Services Server.
//!
//! One shared hyper server hosts *services* for Boomi Flow and any REST client. Each
//! service is defined by one JSON file (see `spec/definitions.md` and the README) and
//! mounted at `/fs/{name}`; each of its operations — message action, file upload, file
//! list, table load, row update, row delete — gets its URL, and a *process* runs behind it.
//!
//! # Layout
//!
//! Read in the order a request travels:
//!
//! - [`server`]: the listener, connection cap, HTTP/1.1 + HTTP/2, graceful shutdown.
//! - [`runtime`]: the mounted services, registered handlers, and [`Runtime::handle`].
//! - [`router`]: the immutable snapshot of mounts; path → (service, route).
//! - [`operation`](crate::operation): one module per operation kind (private).
//! - [`process`]: what runs: `echo`, `store`, `command`, Rust [`process::Handler`]s.
//! - [`execution`]: the execution id, process properties and tracked properties.
//! - [`protocol`]: the Flow wire types. [`definition`]: the service definition files.
//! - [`error`]: the one error type and its ServiceProblem answer. [`http`]: body helpers.
//! - [`admin`]: the admin API under `/api/`: deployments (hot mount), service versions,
//!   routes, engine, health, users.
//! - [`config`]: the command line and environment.

#![forbid(unsafe_code)]

pub mod admin;
mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod definition;
pub mod error;
pub mod execution;
pub mod http;
pub mod metrics;
mod operation;
pub mod process;
pub mod protocol;
pub mod router;
pub mod server;
pub mod shared;
mod store;

pub use app::{check, Runtime};
pub use error::{Error, Result};
pub use operation_api::describe;
pub use shared::RuntimeConfig;

/// Public entry points of otherwise private operation modules.
mod operation_api {
    /// The describe answer of a definition.
    pub fn describe(
        def: &crate::definition::ServiceDefinition,
    ) -> crate::protocol::DescribeServiceResponse {
        crate::operation::describe_response(def)
    }
}
