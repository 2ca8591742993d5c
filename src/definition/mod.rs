//! Service definitions: the JSON files users write, one per service (the format is in
//! `definitions.md` beside this module and in the README).
//!
//! Field names are fixed; unknown fields are refused so that a typo fails loudly instead of
//! being silently ignored. Loading is two-phase: every file is parsed, then the set is
//! validated as a whole, and every problem is collected with its file and JSON path before
//! anything is mounted.

mod api;
mod http;
mod load;
pub mod scalar;
mod validate;

use serde::{Deserialize, Serialize};

use crate::protocol::ContentType;

pub use api::{
    ApiDefinition, ApiMode, SignatureDefinition, DEFAULT_ASYNC_API_TIMEOUT_MS,
    DEFAULT_SYNC_API_TIMEOUT_MS,
};
pub use http::{
    parse_template, valid_oauth_name, ApiKeyDefinition, BasicAuthDefinition, ClientAuth,
    HttpAuthDefinition, HttpBodyDefinition, HttpObjectsDefinition, HttpProcessDefinition,
    OAuthReference, TemplatePart, HTTP_METHODS, LOAD_TEMPLATE_FIELDS, MAX_OAUTH_NAME_BYTES,
    TEMPLATE_PROPERTIES,
};
pub use load::{load_dir, parse_definition, LoadedDefinition, Problem, Problems};
pub use validate::{slugify, validate_set};

/// Default sync budget of a message action, in seconds (Boomi's default).
pub const DEFAULT_SYNC_TIMEOUT_SECONDS: u64 = 30;
/// Default largest upload of a file resource: 1 GiB, the Flow file upload limit.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 1 << 30;
/// The longest event or channel key, in characters: of `events` and `listenableEvents`
/// here, and of the keys of event and channel definitions.
pub const MAX_EVENT_KEY_CHARS: usize = 255;

/// The system type of files.
pub const FILE_TYPE: &str = "$File";

/// One Flow Service component: an external name, configuration values, types, operations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceDefinition {
    /// The External Name: the service is mounted at `/fs/{name}`. Unique.
    pub name: String,
    /// What the service is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Settings builders fill in; sent with every request.
    #[serde(default)]
    pub configuration_values: Vec<ValueDefinition>,
    /// Types used by actions and data actions.
    #[serde(default)]
    pub types: Vec<TypeDefinition>,
    /// Message actions, each mounted at `actions/{slug}`.
    #[serde(default)]
    pub message_actions: Vec<MessageActionDefinition>,
    /// Data actions, one per object type: load, save, delete.
    #[serde(default)]
    pub data_actions: Vec<DataActionDefinition>,
    /// File resources: list and upload.
    #[serde(default)]
    pub file_resources: Vec<FileResourceDefinition>,
    /// Who may call the service. Absent: anyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthDefinition>,
    /// The client addresses that may call the service, as CIDR ranges or addresses
    /// (`["10.0.0.0/8", "::1"]`); others get 403. Empty (the default): every address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_from: Vec<String>,
    /// Request headers passed to the processes of every operation of the service, as
    /// the process property `headers` (`{"x-request-id": "…"}`, names lower case).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass_headers: Vec<String>,
    /// The event keys Flow may listen for on this service (`POST /fs/{name}/listener`
    /// with one of them as `listenType`); non-empty, describe says `providesListening`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listenable_events: Vec<String>,
}

/// How callers of a service authenticate. At least one of `basic` and
/// `clientCertificate` is given; both given, a request needs both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthDefinition {
    /// Every request under `/fs/{name}/` except `/fs/{name}/health` needs HTTP Basic
    /// credentials (password or token) of an admin API user holding the privilege
    /// `flow-service` or `flow-service:{name}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic: Option<bool>,
    /// Every request under `/fs/{name}/` except `/fs/{name}/health` needs a client
    /// certificate, verified by the listener against `--tls-client-ca`, whose subject is
    /// one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<ClientCertificateDefinition>,
}

/// The client certificates a service admits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientCertificateDefinition {
    /// `CN=name` (the subject's common name, exactly) or `DNS=name` (a DNS name of the
    /// subject alternative names, ignoring ASCII case); at least one.
    pub subjects: Vec<String>,
}

/// The type of a value or property.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ValueType {
    /// `ContentString`.
    #[default]
    String,
    /// `ContentNumber`.
    Number,
    /// `ContentBoolean`.
    Boolean,
    /// `ContentDateTime`.
    DateTime,
    /// `ContentPassword`.
    Password,
    /// `ContentContent`.
    Content,
    /// `ContentEncrypted`.
    Encrypted,
    /// `ContentObject`; needs `typeName`.
    Object,
    /// `ContentList`; needs `typeName`.
    List,
}

impl ValueType {
    /// The Flow content type this maps to.
    pub fn content_type(self) -> ContentType {
        match self {
            ValueType::String => ContentType::String,
            ValueType::Number => ContentType::Number,
            ValueType::Boolean => ContentType::Boolean,
            ValueType::DateTime => ContentType::DateTime,
            ValueType::Password => ContentType::Password,
            ValueType::Content => ContentType::Content,
            ValueType::Encrypted => ContentType::Encrypted,
            ValueType::Object => ContentType::Object,
            ValueType::List => ContentType::List,
        }
    }

    /// Whether values of this type are objects rather than scalar strings.
    pub fn is_object(self) -> bool {
        matches!(self, ValueType::Object | ValueType::List)
    }
}

/// A configuration value, an input or an output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValueDefinition {
    /// The name, matched against `developerName` on the wire.
    pub name: String,
    /// The type; default `String`.
    #[serde(rename = "type", default)]
    pub value_type: ValueType,
    /// For `Object` and `List`: a type of this definition or a system type (`$File`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// A request without it is refused with 400. Default false.
    #[serde(default)]
    pub required: bool,
    /// What the value is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A type: a name and its properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TypeDefinition {
    /// The type name, used as `developerName` on the wire.
    pub name: String,
    /// What the type is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its properties.
    #[serde(default)]
    pub properties: Vec<PropertyDefinition>,
}

/// A property of a type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PropertyDefinition {
    /// The property name.
    pub name: String,
    /// The type; default `String`.
    #[serde(rename = "type", default)]
    pub value_type: ValueType,
    /// For `Object` and `List`: the referenced type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// For `Password` only: whether the store answers the value (decrypted) in load and
    /// save answers. Default false: a Password is written and kept, encrypted, and never
    /// answered. Either way it can never be filtered, searched or ordered by.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub return_on_load: bool,
}

/// A message action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageActionDefinition {
    /// The action name; its slug makes the URL.
    pub name: String,
    /// What the action does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A URI part used in place of the slug: `"orders/approve"` → `actions/orders/approve`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Inputs, matched by name.
    #[serde(default)]
    pub inputs: Vec<ValueDefinition>,
    /// Outputs, matched by name.
    #[serde(default)]
    pub outputs: Vec<ValueDefinition>,
    /// How long the caller waits before the answer turns into `WAIT`. Default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_timeout_seconds: Option<u64>,
    /// The message shown to users while the answer is `WAIT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_message: Option<String>,
    /// The largest request body accepted, in bytes. Default: the server's limit (10 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_request_bytes: Option<u64>,
    /// The most executions running at once; further requests wait up to `queueTimeoutMs`,
    /// then get 503. Default: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_executions: Option<usize>,
    /// How long a request waits for a free execution slot, in ms. Default 10 000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_timeout_ms: Option<u64>,
    /// The most requests per second (bursts of one second's worth); more get 429.
    /// Default: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests_per_second: Option<f64>,
    /// What runs.
    pub process: ProcessSpec,
    /// Request headers passed to this action's process besides the service's
    /// `passHeaders` (process property `headers`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass_headers: Vec<String>,
    /// The action is also an incoming API endpoint
    /// (`/api/1/action/{service}/{action}/trigger`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiDefinition>,
    /// The keys of the events this action subscribes to: each event of one of them runs
    /// the action once, its inputs taken from the event's payload by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
}

/// The data action of one object type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataActionDefinition {
    /// The type this action loads, saves and deletes.
    pub object_type: String,
    /// The property holding the external id; rows created without one get a generated id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// What the data action is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Load (POST `/data`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<ProcessSpec>,
    /// Save (PUT `/data`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save: Option<ProcessSpec>,
    /// Delete (POST `/data/delete`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<ProcessSpec>,
    /// The largest request body accepted, in bytes. Default: the server's limit (10 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_request_bytes: Option<u64>,
    /// The most executions running at once; further requests wait up to `queueTimeoutMs`,
    /// then get 503. Default: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_executions: Option<usize>,
    /// How long a request waits for a free execution slot, in ms. Default 10 000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_timeout_ms: Option<u64>,
    /// The most requests per second (bursts of one second's worth); more get 429.
    /// Default: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests_per_second: Option<f64>,
    /// Request headers passed to this operation's processes besides the service's
    /// `passHeaders` (process property `headers`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass_headers: Vec<String>,
}

/// A file resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileResourceDefinition {
    /// The resource path, e.g. `/file`.
    pub path: String,
    /// What the resource holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The largest upload, in bytes. Default 1 GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_upload_bytes: Option<u64>,
    /// List files (POST `/file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<ProcessSpec>,
    /// Upload a file (POST `/file/content`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<ProcessSpec>,
    /// The most executions running at once; further requests wait up to `queueTimeoutMs`,
    /// then get 503. Default: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_executions: Option<usize>,
    /// How long a request waits for a free execution slot, in ms. Default 10 000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_timeout_ms: Option<u64>,
    /// The most requests per second (bursts of one second's worth); more get 429.
    /// Default: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests_per_second: Option<f64>,
    /// Request headers passed to this operation's processes besides the service's
    /// `passHeaders` (process property `headers`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass_headers: Vec<String>,
}

/// The limits of one operation, from its definition. All optional; none means unlimited
/// (the server's connection cap still bounds everything). `router::admission` enforces
/// them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    /// The most executions running at once.
    pub max_concurrent: Option<usize>,
    /// How long a request waits for a slot; default 10 s.
    pub queue_timeout: Option<std::time::Duration>,
    /// The most requests admitted per second (bursts up to one second's worth).
    pub max_per_second: Option<f64>,
}

/// The builtin processes, by the name a definition gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// `echo`: each output takes the input of the same name (message actions).
    Echo,
    /// `store`: the embedded store (data actions and file resources).
    Store,
}

impl Builtin {
    /// Every builtin.
    pub const ALL: [Builtin; 2] = [Builtin::Echo, Builtin::Store];

    /// The name definitions use.
    pub fn as_str(self) -> &'static str {
        match self {
            Builtin::Echo => "echo",
            Builtin::Store => "store",
        }
    }

    /// The builtin of `name`.
    pub fn parse(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.as_str() == name)
    }
}

/// What a [`ProcessSpec`] names, once its "exactly one" rule holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProcessKind<'a> {
    /// A builtin; `Err` carries a name that is none.
    Builtin(Result<Builtin, &'a str>),
    /// A program and its arguments.
    Command(&'a [String]),
    /// A registered Rust handler.
    Handler(&'a str),
    /// An outbound HTTP request.
    Http(&'a HttpProcessDefinition),
}

/// What runs behind an operation: exactly one of `builtin`, `command`, `handler`, `http`,
/// as the file writes it; [`ProcessSpec::kind`] is the typed form every reader uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProcessSpec {
    /// `echo` (message actions) or `store` (data actions and file resources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin: Option<String>,
    /// A program and its arguments, run per execution with the JSON document on stdin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// A Rust handler registered under this name by an embedding runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    /// An outbound HTTP request to another system, made on the connection's task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Box<HttpProcessDefinition>>,
}

impl ProcessSpec {
    /// Which process this is.
    ///
    /// # Errors
    ///
    /// The spec sets none or several of the three fields.
    pub fn kind(&self) -> Result<ProcessKind<'_>, &'static str> {
        match (&self.builtin, &self.command, &self.handler, &self.http) {
            (Some(b), None, None, None) => {
                Ok(ProcessKind::Builtin(Builtin::parse(b).ok_or(b.as_str())))
            }
            (None, Some(argv), None, None) => Ok(ProcessKind::Command(argv)),
            (None, None, Some(h), None) => Ok(ProcessKind::Handler(h)),
            (None, None, None, Some(h)) => Ok(ProcessKind::Http(h)),
            _ => Err(
                "a process needs exactly one of \"builtin\", \"command\", \"handler\", \"http\"",
            ),
        }
    }

    /// The OAuth provider this process authenticates with, as `(connector, provider)`.
    pub fn oauth_provider(&self) -> Option<(&str, &str)> {
        let oauth = self.http.as_ref()?.auth.as_ref()?.oauth.as_ref()?;
        Some((oauth.connector.as_str(), oauth.provider.as_str()))
    }

    /// Whether this spec names `builtin`.
    pub fn is_builtin(&self, builtin: Builtin) -> bool {
        matches!(self.kind(), Ok(ProcessKind::Builtin(Ok(b))) if b == builtin)
    }
}

/// Builds the admission [`Limits`] of a definition that carries the three limit fields.
macro_rules! limits_of {
    ($t:ty) => {
        impl $t {
            /// The admission limits this operation sets.
            pub fn limits(&self) -> Limits {
                Limits {
                    max_concurrent: self.max_concurrent_executions,
                    queue_timeout: self.queue_timeout_ms.map(std::time::Duration::from_millis),
                    max_per_second: self.max_requests_per_second,
                }
            }
        }
    };
}
limits_of!(MessageActionDefinition);
limits_of!(DataActionDefinition);
limits_of!(FileResourceDefinition);

impl ServiceDefinition {
    /// Whether requests need HTTP Basic credentials (`"auth": {"basic": true}`).
    pub fn requires_basic_auth(&self) -> bool {
        self.auth.as_ref().is_some_and(|a| a.basic == Some(true))
    }

    /// The client certificate subjects a request must present one of
    /// (`"auth": {"clientCertificate": {"subjects": [...]}}`); `None`: no certificate
    /// needed.
    pub fn client_certificate_subjects(&self) -> Option<&[String]> {
        self.auth
            .as_ref()
            .and_then(|a| a.client_certificate.as_ref())
            .map(|c| c.subjects.as_slice())
    }

    /// Every process of the service, with the JSON path of its spec
    /// (`messageActions[0].process`).
    pub fn processes(&self) -> impl Iterator<Item = (String, &ProcessSpec)> + '_ {
        let actions = self
            .message_actions
            .iter()
            .enumerate()
            .map(|(i, a)| (format!("messageActions[{i}].process"), &a.process));
        let data = self.data_actions.iter().enumerate().flat_map(|(i, d)| {
            [("load", &d.load), ("save", &d.save), ("delete", &d.delete)]
                .into_iter()
                .filter_map(move |(f, p)| Some((format!("dataActions[{i}].{f}"), p.as_ref()?)))
        });
        let files = self.file_resources.iter().enumerate().flat_map(|(i, r)| {
            [("list", &r.list), ("upload", &r.upload)]
                .into_iter()
                .filter_map(move |(f, p)| Some((format!("fileResources[{i}].{f}"), p.as_ref()?)))
        });
        actions.chain(data).chain(files)
    }

    /// Whether a process of the service authenticates with the OAuth provider
    /// `provider` of `connector`.
    pub fn uses_oauth_provider(&self, connector: &str, provider: &str) -> bool {
        self.processes()
            .any(|(_, p)| p.oauth_provider() == Some((connector, provider)))
    }

    /// The type named `name`.
    pub fn type_named(&self, name: &str) -> Option<&TypeDefinition> {
        self.types.iter().find(|t| t.name == name)
    }
}

impl MessageActionDefinition {
    /// The path after `actions/`: the explicit `uri`, or the slug of the name.
    pub fn uri_suffix(&self) -> String {
        match &self.uri {
            Some(u) => u.trim_matches('/').to_owned(),
            None => slugify(&self.name),
        }
    }

    /// The sync budget in seconds.
    pub fn sync_timeout_seconds(&self) -> u64 {
        self.sync_timeout_seconds
            .unwrap_or(DEFAULT_SYNC_TIMEOUT_SECONDS)
    }
}

impl FileResourceDefinition {
    /// The largest upload in bytes.
    pub fn max_upload_bytes(&self) -> u64 {
        self.max_upload_bytes.unwrap_or(DEFAULT_MAX_UPLOAD_BYTES)
    }
}
