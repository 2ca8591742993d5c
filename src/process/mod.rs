//! Processes: the logic behind an operation.
//!
//! A process is a builtin (`echo`, `store`), a `command` run per execution, or a Rust
//! [`Handler`] that an embedding runtime registers by name. Commands and handlers share
//! one contract: a JSON document in (the [`ProcessCall`]) and a JSON document out, as
//! spec/definitions.md describes for commands.
//!
//! # Embedding
//!
//! ```no_run
//! use fss::process::{Handler, HandlerFuture, ProcessCall, Reply};
//! use serde_json::json;
//!
//! /// Greets the `Name` input.
//! struct Greeter;
//!
//! impl Handler for Greeter {
//!     fn call(&self, call: ProcessCall) -> HandlerFuture {
//!         Box::pin(async move {
//!             let name = call.input_str("Name").unwrap_or("world").to_owned();
//!             Ok(Reply::outputs(json!({ "Greeting": format!("Hello, {name}!") })))
//!         })
//!     }
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = fss::Runtime::new(fss::RuntimeConfig::default());
//! runtime.register_handler("greeter", Greeter);
//! // A definition whose action says `"process": { "handler": "greeter" }` now mounts.
//! runtime.mount(fss::definition::load_dir("operations".as_ref())?)?;
//! # Ok(()) }
//! ```

mod command;
pub mod value;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

pub use command::CommandProcess;

use crate::error::{Error, Result};

/// What a handler's future resolves to.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Reply>> + Send + 'static>>;

/// A Rust process registered by name by a runtime that embeds fss.
///
/// The handler receives the same document a `command` reads on stdin and answers the same
/// document a command writes on stdout. Returning `Err(Error::Process(msg))` fails the
/// execution with `msg` as the message the caller sees.
pub trait Handler: Send + Sync + 'static {
    /// Runs one execution.
    fn call(&self, call: ProcessCall) -> HandlerFuture;
}

/// The document a process receives (command stdin, handler argument).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessCall {
    /// The service name.
    pub service: Arc<str>,
    /// `action`, `load`, `save`, `delete`, `upload`, `list`.
    pub operation: &'static str,
    /// The action name, object type or resource path.
    pub name: String,
    /// The execution id, as in `X-Execution-Id`.
    pub execution_id: String,
    /// Inputs as plain JSON (message actions).
    pub inputs: Map<String, Value>,
    /// Process properties: request fields and configuration values by name.
    pub properties: Map<String, Value>,
    /// Tracked properties (`File Name`, `File Content Type`).
    pub tracked: BTreeMap<String, String>,
    /// Fields of other operation kinds (`filter`, `objects`, `file`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ProcessCall {
    /// A string input, if given as one.
    pub fn input_str(&self, name: &str) -> Option<&str> {
        self.inputs.get(name)?.as_str()
    }
}

/// The document a process answers (command stdout, handler result).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply(pub Map<String, Value>);

impl Reply {
    /// A reply carrying `outputs` (an object of output name → plain value).
    pub fn outputs(outputs: Value) -> Self {
        let mut m = Map::new();
        m.insert("outputs".into(), outputs);
        Reply(m)
    }

    /// The `outputs` object, or an empty one.
    pub fn outputs_map(&self) -> Option<&Map<String, Value>> {
        self.0.get("outputs")?.as_object()
    }
}

/// A process ready to run, resolved at mount time.
#[derive(Clone)]
pub enum Process {
    /// Outputs are the inputs of the same names.
    Echo,
    /// The embedded store (tables, files).
    Store,
    /// A program run per execution.
    Command(Arc<CommandProcess>),
    /// A registered Rust handler.
    Handler(Arc<dyn Handler>),
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Echo => f.write_str("Echo"),
            Process::Store => f.write_str("Store"),
            Process::Command(c) => f.debug_tuple("Command").field(c).finish(),
            Process::Handler(_) => f.write_str("Handler"),
        }
    }
}

impl Process {
    /// Runs a command or handler process with `call`.
    ///
    /// # Errors
    ///
    /// The process failed ([`Error::Process`]), or this process is a builtin that the
    /// operation must run itself.
    pub async fn call(&self, call: ProcessCall) -> Result<Reply> {
        match self {
            Process::Command(c) => c.run(&call).await,
            Process::Handler(h) => h.call(call).await,
            Process::Echo | Process::Store => Err(Error::internal(
                "a builtin process cannot be called with a process document",
            )),
        }
    }
}
