//! Processes: the logic behind an operation.
//!
//! A process is one of:
//!
//! - a builtin: `echo` (outputs are the inputs) or `store` (the embedded tables and files);
//! - a `command`: a program run per execution, the JSON document on stdin;
//! - an `http` request ([`HttpProcess`]): one outbound call per execution on the
//!   connection's task, templated from the document, authenticated from the OAuth
//!   provider store or a configuration value, its JSON answer mapped by pointer;
//! - a Rust [`Handler`] that an embedding runtime registers by name.
//!
//! What the builtins and `http` run on — the store, the OAuth provider store, the
//! outbound client — is [`Builtins`], handed over when a service is mounted. Operations hand every process
//! the same typed work — a message action's inputs, a data action's filter and objects, an
//! upload's spooled file — through one method per kind of work (`Process::load`,
//! `save`, `delete`, `upload`, `list`, [`Process::answer_now`] and [`Process::call`]);
//! each builtin answers it directly, commands and handlers through one contract: a JSON
//! document in (the [`ProcessCall`]) and a JSON document out, as the README and
//! `definition/definitions.md` describe for commands. This is the only layer that reaches
//! the store.
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
pub(crate) mod data;
mod echo;
pub(crate) mod file;
pub mod http;
mod store;
pub mod value;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

pub use command::CommandProcess;
pub use http::HttpProcess;
pub use store::StoreProcess;
pub(crate) use store::{Spool, SpooledFile};

use crate::definition::MessageActionDefinition;
use crate::error::{Error, Result};
use crate::http::client::{OutboundClient, OutboundConfig};
use crate::oauth::OAuth;
use crate::protocol::EngineValue;

/// What the processes that fss itself runs work on, one set per runtime: handed to every
/// service when it is mounted, so that a process reaches nothing else.
#[derive(Debug, Clone)]
pub struct Builtins {
    /// The `store` builtin: tables and files.
    pub store: Arc<StoreProcess>,
    /// The OAuth provider store and token cache of `http` processes.
    pub oauth: Arc<OAuth>,
    /// The one outbound client `http` processes send through.
    pub outbound: OutboundClient,
    /// The runtime's execution timeout: an `http` process starts no retry whose
    /// back-off would end past it, since its caller would be answered 504 by then.
    pub execution_timeout: Duration,
}

impl Builtins {
    /// Builtins that open nothing until used, over the data folder `dir`: for resolving
    /// processes without serving them (`fss check`, tests).
    pub(crate) fn unopened(dir: &std::path::Path) -> Self {
        let stores = crate::store::Stores::open(dir, crate::store::Durability::default());
        let registry = Arc::clone(&stores.registry);
        Builtins {
            store: Arc::new(StoreProcess::new(stores)),
            oauth: Arc::new(OAuth::new(
                registry,
                Arc::new(|| Err(Error::internal("these builtins open no keystore"))),
            )),
            outbound: OutboundClient::new(&OutboundConfig::default())
                .expect("a client without a CA file cannot fail"),
            execution_timeout: DEFAULT_EXECUTION_TIMEOUT,
        }
    }
}

/// Default execution deadline of synchronous work: 30 s, Boomi's low-latency cap. It
/// lives with the processes, which every deadline stops, so that the runtime's settings
/// and the builtins read one value.
pub const DEFAULT_EXECUTION_TIMEOUT: Duration = Duration::from_secs(30);

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
    Store(Arc<StoreProcess>),
    /// A program run per execution.
    Command(Arc<CommandProcess>),
    /// A registered Rust handler.
    Handler(Arc<dyn Handler>),
    /// An outbound HTTP request.
    Http(Arc<HttpProcess>),
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Echo => f.write_str("Echo"),
            Process::Store(_) => f.write_str("Store"),
            Process::Command(c) => f.debug_tuple("Command").field(c).finish(),
            Process::Handler(_) => f.write_str("Handler"),
            Process::Http(_) => f.write_str("Http"),
        }
    }
}

impl Process {
    /// Answers a message action at once when the process needs nothing but the inputs
    /// (`echo`): its outputs, or `None` when it must be called with a document.
    pub fn answer_now(
        &self,
        def: &MessageActionDefinition,
        inputs: &[EngineValue],
    ) -> Option<Vec<EngineValue>> {
        match self {
            Process::Echo => Some(echo::outputs(def, inputs)),
            _ => None,
        }
    }

    /// Runs the process with the document `call`.
    ///
    /// # Errors
    ///
    /// The process failed ([`Error::Process`]), or it is the `store`, which works on typed
    /// requests only (definitions never give it a message action).
    pub async fn call(&self, call: ProcessCall) -> Result<Reply> {
        match self {
            Process::Command(c) => c.run(&call).await,
            Process::Handler(h) => h.call(call).await,
            Process::Http(h) => h.run(call).await,
            Process::Echo => Ok(echo::reply(&call.inputs)),
            Process::Store(_) => Err(Error::internal(
                "the store process answers data actions and file resources only",
            )),
        }
    }
}
