//! The registry: what the control plane persists (users with their hashes and privileges,
//! the records of their API keys, deployments with their resources, service versions,
//! event and channel definitions, sealed OAuth providers), behind
//! the [`Registry`] trait so that another database can hold it. `store::sqlite::SqliteRegistry` is the embedded one.

use std::collections::BTreeSet;
use std::fmt;

use crate::error::Result;

/// Where users, deployments, service versions and OAuth providers persist. Every method blocks; callers
/// run them off the async workers. Every write is all or nothing.
pub(crate) trait Registry: Send + Sync + fmt::Debug {
    /// Everything persisted, as read at start.
    fn load(&self) -> Result<Loaded>;
    /// Inserts or replaces a user and its privileges.
    fn put_user(&self, user: &User) -> Result<()>;
    /// Deletes a user and the records of its API keys; returns whether it existed.
    fn delete_user(&self, id: &str) -> Result<bool>;
    /// Inserts the record of a new API key (never the token: it is shown once).
    fn insert_api_key(&self, key: &ApiKey) -> Result<()>;
    /// Marks the API key `id` revoked at `revoked_ms`; returns whether a key was revoked
    /// now (false: no such key, or it was revoked already).
    fn revoke_api_key(&self, id: &str, revoked_ms: i64) -> Result<bool>;
    /// Inserts a deployment with its resources, service versions and event and channel
    /// definitions, all or none.
    ///
    /// The versions of `services` and `definitions` are numbered again from what the
    /// registry holds (one more than the newest stored version of each key), so that
    /// instances sharing a registry never hand out one version twice.
    fn insert_deployment(
        &self,
        d: &Deployment,
        services: &mut [ServiceVersion],
        definitions: &mut [EventRegistryDefinition],
    ) -> Result<()>;
    /// Deletes a deployment, its resources, its service versions and its event and channel
    /// definitions; returns whether it existed.
    fn delete_deployment(&self, id: &str) -> Result<bool>;
    /// The files of deployment `id` as the registry keeps them, for an instance that has
    /// no folder of it yet; `None` when the registry keeps no copy (the embedded one: the
    /// folder in the data folder is the only one).
    fn deployment_files(&self, id: &str) -> Result<Option<Vec<DeploymentFile>>>;
    /// Every stored OAuth provider, sorted by connector and provider.
    fn oauth_providers(&self) -> Result<Vec<SealedProvider>>;
    /// Inserts or replaces OAuth providers, all or none.
    fn put_oauth_providers(&self, all: &[SealedProvider]) -> Result<()>;
    /// Deletes one OAuth provider; returns whether it existed.
    fn delete_oauth_provider(&self, connector: &str, provider: &str) -> Result<bool>;
    /// Answers whether the database responds (for the health endpoint).
    fn ping(&self) -> Result<()>;
    /// Answers whether the database takes a write now (for the connection test): a write
    /// transaction is begun and rolled back, waiting at most about a second for a lock.
    fn check_writable(&self) -> Result<()>;
    /// The registry's change counter, when other instances may change it: it moves
    /// (within about a second) after every write of any instance, so that each reloads
    /// what it keeps in memory. `None` for a registry only this instance writes.
    fn watch(&self) -> Option<tokio::sync::watch::Receiver<i64>> {
        None
    }
}

/// One file of a deployment, with its bytes, as a shared registry keeps it.
#[derive(Debug, Clone)]
pub(crate) struct DeploymentFile {
    /// The path inside the deployment, `/`-separated.
    pub(crate) name: String,
    /// Its Unix permission bits.
    pub(crate) mode: Option<u32>,
    pub(crate) bytes: Vec<u8>,
}

/// A user of the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    pub(crate) id: String,
    /// The argon2 PHC string (salt and parameters included); never the password.
    pub(crate) password_hash: String,
    /// The argon2 PHC string of the user's service token, when one was generated.
    pub(crate) token_hash: Option<String>,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) privileges: BTreeSet<String>,
}

/// The record of one API key: what verifying it needs besides its signature. The token
/// itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiKey {
    /// The key id, a UUID: the token's `jti` claim.
    pub(crate) id: String,
    /// The user it authenticates: the token's `sub` claim.
    pub(crate) user_id: String,
    /// The operator's name for it (`"default"` unless given).
    pub(crate) name: String,
    /// Milliseconds since the Unix epoch.
    pub(crate) created_ms: i64,
    /// When it stops working (the token's `exp`), in milliseconds since the Unix epoch.
    pub(crate) expires_ms: i64,
    /// When it was revoked; `None` while it is not.
    pub(crate) revoked_ms: Option<i64>,
}

/// A deployment: one uploaded file, its resources, the service versions it made.
#[derive(Debug, Clone)]
pub(crate) struct Deployment {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) category: Option<String>,
    /// `""` when none.
    pub(crate) tenant_id: String,
    /// Milliseconds since the Unix epoch.
    pub(crate) deploy_time_ms: i64,
    pub(crate) resources: Vec<Resource>,
}

/// One file of a deployment.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    /// The path inside the deployment, `/`-separated (`scripts/run.sh`).
    pub(crate) name: String,
    pub(crate) mime_type: String,
    pub(crate) size: u64,
}

/// One version of a service definition, made by one deployment.
#[derive(Debug, Clone)]
pub(crate) struct ServiceVersion {
    pub(crate) id: String,
    /// The service name.
    pub(crate) key: String,
    pub(crate) version: i64,
    pub(crate) description: Option<String>,
    pub(crate) deployment_id: String,
    /// The resource holding the definition.
    pub(crate) resource_name: String,
}

/// Which of Flowable's Event Registry formats a definition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DefinitionKind {
    /// A `.event` resource (an EventModel).
    Event,
    /// A `.channel` resource (a ChannelModel).
    Channel,
}

impl DefinitionKind {
    /// `event` or `channel`, as stored.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DefinitionKind::Event => "event",
            DefinitionKind::Channel => "channel",
        }
    }

    /// The kind stored as `s`.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "event" => Some(DefinitionKind::Event),
            "channel" => Some(DefinitionKind::Channel),
            _ => None,
        }
    }
}

/// One version of an event or channel definition, made by one deployment. The model
/// itself is not stored: it is parsed again from the resource file at start, so that the
/// file stays the one source of it. Its tenant is the deployment's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventRegistryDefinition {
    /// A UUID.
    pub(crate) id: String,
    pub(crate) kind: DefinitionKind,
    /// The model's `key`.
    pub(crate) key: String,
    /// Per kind and key: 1, then one more for each deployment of the key.
    pub(crate) version: i64,
    pub(crate) name: Option<String>,
    pub(crate) category: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) deployment_id: String,
    /// The resource holding the definition (`orders/orderPlaced.event`).
    pub(crate) resource_name: String,
}

/// One OAuth provider as stored: its names in clear, its parameters (a JSON object with
/// `CLIENT_ID`, `CLIENT_SECRET` and the extras) sealed by the keystore.
#[derive(Debug, Clone)]
pub(crate) struct SealedProvider {
    pub(crate) connector: String,
    pub(crate) provider: String,
    /// The sealed JSON of the parameters (`fss:v1:…`).
    pub(crate) sealed: String,
    /// Milliseconds since the Unix epoch of the last load.
    pub(crate) updated_ms: i64,
}

/// Everything persisted, as read at start.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub(crate) users: Vec<User>,
    /// The records of every API key, revoked ones included.
    pub(crate) api_keys: Vec<ApiKey>,
    pub(crate) deployments: Vec<Deployment>,
    pub(crate) services: Vec<ServiceVersion>,
    /// Every version of every event and channel definition.
    pub(crate) definitions: Vec<EventRegistryDefinition>,
}
