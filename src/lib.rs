//! fss — a low-latency Flow Services Server.
//!
//! One shared hyper server hosts *services* for Boomi Flow and any REST client. Each
//! service is defined by one JSON file (see the README and `definition/definitions.md`) and
//! mounted at `/fs/{name}`; each of its operations — message action, file upload, file
//! list, table load, row update, row delete — gets its URL, and a *process* runs behind it.
//!
//! # Layout
//!
//! Read in the order a request travels; each layer imports only the ones below it
//! (server → app → router → operation → execution → process → oauth → store), and the leaves
//! (`protocol`, `definition`, `error`, `http`, `metrics`, `clock`) serve every layer.
//!
//! - [`config`]: the command line and environment; `main.rs` turns them into a runtime.
//! - [`server`]: the listener, connection caps (global and per peer address), HTTP/1.1 +
//!   HTTP/2, HTTPS (`server::tls`: reloadable certificate, optional client certificates),
//!   head-read and idle timeouts of every connection, graceful shutdown.
//! - `app`: [`Runtime`], the one entry of every request: `/fs/` to the services (after
//!   their authentication), `/api/1/` to the incoming API, `/api/` and the ThingWorx
//!   service names to the admin API, `/health`; it builds the parts and gives each layer
//!   only what it may use.
//! - `incoming`: the incoming API (`/api/1/action/…/trigger`): plain-JSON triggers of
//!   actions by API key or webhook signature, sync or async with a durable status URL,
//!   idempotent retries (private).
//! - `event`: the event registry at work: deployed event and channel definitions, events
//!   sent to outbound channels (HTTP, RabbitMQ), subscribing actions and Flow listeners;
//!   inbound channels (`/events/{channelKey}`, RabbitMQ queues) (private).
//! - [`edge`]: what is decided from the transport and the head alone: the client behind
//!   trusted proxies, address allow-lists, CORS, cross-site admin requests.
//! - [`auth`]: the users and the HTTP Basic login of secured services and of the admin
//!   API, with or without the admin API enabled; the API keys (signed tokens) of the
//!   incoming API.
//! - [`admin`]: the admin API under `/api/`: deployments (hot mount), service versions,
//!   routes, engine, health, metrics, executions, users and their API keys, the keystore,
//!   the OAuth provider store, the connection test; Flowable's Event Registry REST API
//!   under `/event-registry-api/`.
//! - [`reload`]: hot reload of the operations folder (a file watcher, `SIGHUP`): only
//!   what changed is remounted; a file with problems keeps its old mount.
//! - [`router`]: the route table (the one list of operation kinds), the immutable
//!   snapshot of mounts (path → service and route), mounting, per-operation admission.
//! - [`shared`]: what an operation may see of the runtime: settings, the `store`
//!   process, callbacks, records.
//! - `operation`: one module per operation kind: decode HTTP, set tracked properties,
//!   hand the typed work to the process, encode the answer (private).
//! - [`execution`]: the execution id, process properties, the process document, the run
//!   engine (sync budget → WAIT → callback), the callback client, execution records.
//! - [`process`]: what runs: `echo`, `store`, `command`, `http`, Rust
//!   [`process::Handler`]s.
//! - [`oauth`]: the OAuth provider store (sealed at rest) and the access-token cache of
//!   `http` processes.
//! - `store`: the storage traits (tables, file index, registry), the bytes of stored
//!   files and deployment folders, the keystore that seals secrets at rest, and the
//!   embedded SQLite backend (private).
//! - [`protocol`]: the Flow wire types. [`definition`]: the service definition files.
//! - [`error`]: the one error type. [`http`]: body helpers, header constants, the
//!   ServiceProblem and admin renderings of errors, the one outbound client (callbacks
//!   over HTTP and HTTPS).
//! - [`metrics`]: per-operation counters. [`clock`]: epoch milliseconds and ISO-8601.

#![forbid(unsafe_code)]

pub mod admin;
mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod definition;
pub mod edge;
pub mod error;
mod event;
pub mod execution;
pub mod http;
mod incoming;
pub mod metrics;
pub mod oauth;
mod operation;
pub mod process;
pub mod protocol;
pub mod reload;
pub mod router;
pub mod server;
pub mod shared;
mod store;

pub use app::{check, Runtime};
pub use error::{Error, Result};
pub use operation_api::describe;
pub use shared::RuntimeConfig;
pub use store::folder_lock::FolderLock;
pub use store::Durability;

/// Public entry points of otherwise private operation modules.
mod operation_api {
    /// The describe answer of a definition.
    pub fn describe(
        def: &crate::definition::ServiceDefinition,
    ) -> crate::protocol::DescribeServiceResponse {
        crate::operation::describe_response(def)
    }
}
