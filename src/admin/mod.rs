//! The admin API under `/api/`: deployments with hot mount, service definitions and their
//! versions, the routes list, engine info, health, users and their API keys.
//!
//! It follows Flowable's REST conventions: JSON everywhere, `{"statusCode", "errorMessage"}`
//! on every error ([`Error::into_admin_response`]), typed query parameters and paging with
//! `start`, `size`, `sort`, `order` (see `paging`). Every endpoint needs HTTP Basic
//! credentials of a user holding the privilege `access-rest-api` (alias `rest-access-api`):
//! 401 with `WWW-Authenticate` without valid credentials, 403 without the privilege.
//!
//! | method | path | answer |
//! | --- | --- | --- |
//! | GET | `/api/repository/deployments` | deployments: `name`, `nameLike`, `category`, `categoryNotEquals`, `tenantId`, `tenantIdLike`, `withoutTenantId`; sort `id`, `name`, `deployTime`, `tenantId` |
//! | POST | `/api/repository/deployments` | multipart: one `.json`, `.event` or `.channel` definition, or a `.zip`/`.bar` of several; 201 |
//! | GET, DELETE | `/api/repository/deployments/{id}` | one deployment; DELETE unmounts its services (204) |
//! | GET | `/api/repository/deployments/{id}/resources` | its files |
//! | GET | `/api/repository/deployments/{id}/resourcedata/{resourceId}` | a file's bytes (`/` as `%2F`) |
//! | GET | `/api/repository/services` | service versions: `key`, `keyLike`, `name`, `nameLike`, `version`, `latest`, `deploymentId`, `tenantId`, `tenantIdLike`, `resourceName`, `resourceNameLike`; sort `name`, `id`, `key`, `version`, `deploymentId`, `tenantId` |
//! | GET | `/api/repository/services/{id}` | one service version |
//! | GET | `/api/repository/services/{id}/resourcedata` | its definition file |
//! | GET | `/api/repository/services/{id}/model` | its parsed definition |
//! | GET | `/api/repository/routes` | every mounted URL, from the live routing snapshot |
//! | GET | `/api/openapi.json` | an OpenAPI 3.1 description of the admin API, the incoming API and every mounted URL (`openapi`) |
//! | GET | `/api/management/engine` | `{"name": "fss", "version": "…"}` |
//! | GET | `/api/management/health` | the state of the data folder and the database |
//! | GET | `/api/management/metrics` | metrics in the Prometheus text format |
//! | GET | `/api/management/connection-test` | every dependency checked: 200, or 503 with each failure's `FLOW-…` code (`connection`) |
//! | GET | `/api/keystore` | the keystore's aliases, names only (`keystore`) |
//! | PUT, DELETE | `/api/keystore/{alias}` | store `{"value"}` (204); delete (204, 404); 409 for the built-in aliases; `phixflow-api-key` (the API keys' signing key) takes 32 bytes or more |
//! | GET | `/api/runtime/executions` | recent executions: `service`, `serviceLike`, `operation`, `name`, `status`, `httpStatus`; sort `startTime`, `duration`, `service`, `operation`, `status`, `id` |
//! | GET | `/api/runtime/executions/{id}` | one execution record |
//! | GET, POST | `/api/identity/users` | users (never their passwords); create |
//! | GET, PUT, DELETE | `/api/identity/users/{id}` | one user; update; delete |
//! | POST, DELETE | `/api/identity/users/{id}/token` | a new service token, shown once (201); revoke it (204) |
//! | GET, POST | `/api/identity/users/{id}/api-keys` | the user's API keys, never the key itself; issue one `{"name", "expiresInDays"}`, the key shown once (201) (`api_keys`) |
//! | DELETE | `/api/identity/users/{id}/api-keys/{keyId}` | revokes it: it stops working at once (204) |
//! | GET, POST | `/api/oauth/configurations` | OAuth providers: names only; load (add or update) |
//! | DELETE | `/api/oauth/configurations/{connector}/{provider}` | 204; 409 naming the services that use it |
//! | DELETE | `/api/oauth/tokens/{connector}/{provider}` | drops its cached access tokens (204) |
//! | POST | `/Thingworx/Subsystems/WorkflowSubsystem/Services/{name}` | the ThingWorx service names of the same (`oauth`) |
//! | GET, POST | `/event-registry-api/event-registry-repository/deployments` | Flowable's Event Registry view of the same deployments (`event_registry`): the filters and sorts of `/api/repository/deployments`; POST as there, `.event`/`.channel` too |
//! | GET, DELETE | `/event-registry-api/event-registry-repository/deployments/{id}` | one deployment; DELETE as at `/api/repository/deployments/{id}` (204) |
//! | GET | `/event-registry-api/event-registry-repository/deployments/{id}/resources[/{resourceId}]` | its files; one file's `{id, url, contentUrl, mediaType, type}` |
//! | GET | `/event-registry-api/event-registry-repository/deployments/{id}/resourcedata/{resourceId}` | a file's bytes (`/` as `%2F`) |
//! | GET | `/event-registry-api/event-registry-repository/event-definitions` | event definition versions: `key`, `keyLike`, `keyLikeIgnoreCase`, `name`, `nameLike`, `nameLikeIgnoreCase`, `version`, `latest` (with a key filter only), `resourceName`, `resourceNameLike`, `category`, `categoryLike`, `categoryNotEquals`, `deploymentId`, `parentDeploymentId`, `tenantId`, `tenantIdLike`, `withoutTenantId`; sort `name`, `id`, `key`, `category`, `deploymentId`, `tenantId`, `version` |
//! | GET | `/event-registry-api/event-registry-repository/event-definitions/{id}[/resourcedata, /model]` | one version; its `.event` file; its EventModel |
//! | GET | `/event-registry-api/event-registry-repository/channel-definitions` | channel definition versions: the same, plus `onlyInbound`, `onlyOutbound`, `implementation` |
//! | GET | `/event-registry-api/event-registry-repository/channel-definitions/{id}[/resourcedata, /model]` | one version; its `.channel` file; its ChannelModel |
//! | POST | `/event-registry-api/event-registry-runtime/event-instances` | sends an event `{eventDefinitionKey \| eventDefinitionId, eventPayload, tenantId?, channelDefinitionKey?}`: 201, empty |
//! | GET | `/event-registry-api/event-registry-management/engine` | `{"name": "default", "version": "6.6.0"}` |
//!
//! The keystore (`store::keystore`) is one JSON file, `<data>/keystore.key` unless
//! `--keystore` moves it, mode 0600: `{"version": 1, "masterKey": "<base64 of 32 bytes>",
//! "aliases": {"<name>": "fss:v1:…"}}`, every alias value sealed with the master key. Its
//! built-in aliases `oauth-admin-key` and `exchange-admin-key` seal the OAuth providers
//! and the tables' Password values; the API never answers a value.
//!
//! The users edited here also authenticate requests to services with
//! `"auth": {"basic": true}` (`auth`): with their password or their token, when they hold
//! `flow-service` or `flow-service:{service name}`; and calls of the incoming API
//! (`/api/1/…`) with their API keys, when they hold `use-api-key` and `run-actions`.
//! Enabling the admin API creates the keystore alias `phixflow-api-key`, which signs the
//! API keys, when it is absent; replacing it invalidates every key.
//!
//! State lives in memory (queries never touch the disk) and is written through to the
//! registry (`store::registry`) before a change is acknowledged; users live in `auth`,
//! deployments, service versions and event and channel definitions here. Changes (deploy,
//! delete, user edits) are serialized; reads are not. What the deployments define of the
//! Event Registry is installed into the runtime's `event::Events` as one `Catalog` at
//! start and after every deploy and delete, from inside the change lock, so that installs
//! happen in the order of the changes. Services defined by the operations folder are not
//! deployments: a deployment may not replace one (409).

mod api_keys;
mod connection;
mod console;
mod deployments;
mod event_registry;
mod executions;
mod keystore;
mod management;
mod oauth;
pub mod openapi;
mod paging;
mod services;
mod sync;
mod users;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response};

use crate::auth::credentials::hash_password;
use crate::auth::{Auth, Directory, PRIVILEGE_METRICS, PRIVILEGE_REST_API};
use crate::definition::{parse_definition, LoadedDefinition, Problem, Problems};
use crate::error::{Error, Result};
use crate::event::model::{parse_channel, parse_event};
use crate::event::{Catalog, ChannelDefinition, DefinitionInfo, EventDefinition, Events};
use crate::http::body::{ReqBody, ResBody};
use crate::router::Mounts;
use crate::shared::Shared;
use crate::store::deployments as folders;
use crate::store::keystore::KeystoreFile;
use crate::store::registry::{
    DefinitionKind, Deployment, EventRegistryDefinition, ServiceVersion, User,
};
use crate::store::Registry;

pub use crate::auth::{
    PRIVILEGES, PRIVILEGE_FLOW_SERVICE, PRIVILEGE_REST_API_ALIAS, PRIVILEGE_RUN_ACTIONS,
    PRIVILEGE_USE_API_KEY,
};
pub(crate) use console::PREFIX as CONSOLE_PREFIX;
pub(crate) use event_registry::PREFIX as EVENT_REGISTRY_PREFIX;
pub(crate) use oauth::THINGWORX_PREFIX;

/// Default largest deployment upload: 64 MiB.
pub const DEFAULT_MAX_DEPLOYMENT_BYTES: u64 = 64 << 20;

/// How the admin API starts.
#[derive(Clone)]
pub struct AdminConfig {
    /// The bootstrap admin (`FSS_ADMIN_USER`): created at start when absent with
    /// [`bootstrap_password`](Self::bootstrap_password), reused (and granted
    /// `access-rest-api`) when present; never removed when later unset.
    pub bootstrap_user: Option<String>,
    /// The bootstrap admin's password (`FSS_ADMIN_PASSWORD`); needed only to create it.
    pub bootstrap_password: Option<String>,
    /// The largest deployment upload in bytes, and the most a `.zip` may unpack to
    /// (4 times this). Default 64 MiB.
    pub max_deployment_bytes: u64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            bootstrap_user: None,
            bootstrap_password: None,
            max_deployment_bytes: DEFAULT_MAX_DEPLOYMENT_BYTES,
        }
    }
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("bootstrap_user", &self.bootstrap_user)
            .field(
                "bootstrap_password",
                &self.bootstrap_password.as_ref().map(|_| "<redacted>"),
            )
            .field("max_deployment_bytes", &self.max_deployment_bytes)
            .finish()
    }
}

/// What `Runtime::enable_admin` found and did.
#[derive(Debug, Clone, Default)]
pub struct Enabled {
    /// Persisted deployments.
    pub deployments: usize,
    /// Services of deployments mounted.
    pub services_mounted: usize,
    /// The bootstrap admin was created now (not reused).
    pub bootstrap_created: bool,
    /// Users able to use the admin API.
    pub admins: usize,
}

/// What the admin API works on: the runtime's parts it may change.
#[derive(Debug)]
pub(crate) struct Parts {
    /// The mounted services (deploy and undeploy swap them).
    pub(crate) mounts: Arc<Mounts>,
    /// Settings, records and metrics.
    pub(crate) shared: Shared,
    /// The users.
    pub(crate) auth: Arc<Auth>,
    /// Where deployments and service versions persist.
    pub(crate) registry: Arc<dyn Registry>,
    /// The runtime's keystore (aliases; the connection test re-reads its file).
    pub(crate) keystore: Arc<KeystoreFile>,
    /// The event registry: the admin API installs what deployments define, and sends
    /// events.
    pub(crate) events: Arc<Events>,
}

/// The admin API of one runtime: its state, its registry, the users.
pub struct Admin {
    data_dir: PathBuf,
    max_deployment_bytes: u64,
    /// Written only inside `spawn_blocking`.
    registry: Arc<dyn Registry>,
    /// The in-memory copy of what the registry holds of deployments. Held briefly, never
    /// across `.await`.
    state: Mutex<State>,
    /// Serializes changes, so that versions, mounts and rows agree. Held across `.await`.
    changes: tokio::sync::Mutex<()>,
    auth: Arc<Auth>,
    mounts: Arc<Mounts>,
    shared: Shared,
    /// The runtime's one keystore handle; its writes are serialized inside it.
    keystore: Arc<KeystoreFile>,
    /// The event registry of the runtime: it gets a new [`Catalog`] whenever the
    /// deployments change.
    events: Arc<Events>,
    /// The console's logged-in browsers.
    sessions: console::Sessions,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// Deployments, service versions and event and channel definitions, as persisted.
#[derive(Debug, Default)]
struct State {
    deployments: BTreeMap<String, Deployment>,
    /// Service versions by id.
    services: BTreeMap<String, ServiceVersion>,
    /// Every version of every event and channel definition, by id, as persisted: what
    /// versions are counted from and what the deployment JSON lists.
    definitions: BTreeMap<String, EventRegistryDefinition>,
    /// The event definitions with their parsed models, by id: what the catalog holds. A
    /// definition whose file no longer parses at start is missing here (and only here).
    events: BTreeMap<String, Arc<EventDefinition>>,
    /// The channel definitions with their parsed models, by id (as `events`).
    channels: BTreeMap<String, Arc<ChannelDefinition>>,
    /// Names mounted from the operations folder: deployments may not replace them.
    static_names: HashSet<String>,
}

impl State {
    /// The newest version of the service named `key`.
    fn newest(&self, key: &str) -> Option<&ServiceVersion> {
        self.services
            .values()
            .filter(|s| s.key == key)
            .max_by_key(|s| s.version)
    }

    /// The newest version of the event or channel definition `key`.
    fn newest_definition(&self, kind: DefinitionKind, key: &str) -> Option<i64> {
        self.definitions
            .values()
            .filter(|d| d.kind == kind && d.key == key)
            .map(|d| d.version)
            .max()
    }

    /// The definitions of deployment `id`, events then channels, each sorted by key.
    fn definitions_of(&self, id: &str) -> Vec<&EventRegistryDefinition> {
        let mut of: Vec<&EventRegistryDefinition> = self
            .definitions
            .values()
            .filter(|d| d.deployment_id == id)
            .collect();
        of.sort_by(|a, b| {
            (a.kind == DefinitionKind::Channel, &a.key)
                .cmp(&(b.kind == DefinitionKind::Channel, &b.key))
        });
        of
    }

    /// Adds a definition of deployment `tenant_id`'s tenant with its parsed model.
    fn add_definition(&mut self, d: EventRegistryDefinition, model: Model, tenant_id: &str) {
        let info = DefinitionInfo {
            id: d.id.clone(),
            key: d.key.clone(),
            version: d.version,
            name: d.name.clone(),
            category: d.category.clone(),
            description: d.description.clone(),
            deployment_id: d.deployment_id.clone(),
            resource_name: d.resource_name.clone(),
            tenant_id: tenant_id.to_owned(),
        };
        match model {
            Model::Event(model) => {
                self.events
                    .insert(d.id.clone(), Arc::new(EventDefinition { info, model }));
            }
            Model::Channel(model) => {
                let model = *model;
                self.channels
                    .insert(d.id.clone(), Arc::new(ChannelDefinition { info, model }));
            }
        }
        self.definitions.insert(d.id.clone(), d);
    }

    /// Forgets the definitions of deployment `id`.
    fn remove_definitions_of(&mut self, id: &str) {
        self.definitions.retain(|_, d| d.deployment_id != id);
        self.events.retain(|_, d| d.info.deployment_id != id);
        self.channels.retain(|_, d| d.info.deployment_id != id);
    }

    /// What the deployments define of the Event Registry now.
    fn catalog(&self) -> Catalog {
        Catalog::new(
            self.events.values().cloned().collect(),
            self.channels.values().cloned().collect(),
        )
    }
}

/// The parsed model of an event or channel definition (a channel's is boxed: it is the
/// larger by far).
#[derive(Debug)]
enum Model {
    Event(crate::event::model::EventModel),
    Channel(Box<crate::event::model::ChannelModel>),
}

/// Opens the admin API on `parts`: reads the registry, creates or reuses the bootstrap
/// admin, and mounts the newest version of every persisted service. Call it after the
/// operations folder is mounted (its services cannot be replaced by deployments). Blocking.
///
/// # Errors
///
/// The registry cannot be read, or the bootstrap admin must be created but has no password
/// ([`Error::BadRequest`]).
pub(crate) fn enable(parts: Parts, config: AdminConfig) -> Result<(Admin, Enabled)> {
    let data_dir = parts.shared.config.data_dir.clone();
    std::fs::create_dir_all(&data_dir)?;
    let directory = parts.auth.open_blocking()?;
    let loaded = parts.registry.load()?;
    // A registry other instances write may hold deployments this one has no folder of.
    for d in &loaded.deployments {
        if let Err(e) = sync::materialize(&data_dir, &*parts.registry, d) {
            tracing::warn!(deployment = %d.id, error = %e, "Deployment cannot be unpacked.");
        }
    }
    let known: HashSet<String> = loaded.deployments.iter().map(|d| d.id.clone()).collect();
    let orphans = folders::remove_orphans(&data_dir, &|n| known.contains(n));
    if orphans > 0 {
        tracing::info!(orphans, "Orphan deployment folders removed.");
    }
    let mut state = State {
        deployments: loaded
            .deployments
            .into_iter()
            .map(|d| (d.id.clone(), d))
            .collect(),
        services: loaded
            .services
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect(),
        static_names: parts
            .mounts
            .snapshot()
            .services()
            .map(|s| s.name.to_string())
            .collect(),
        ..State::default()
    };
    for d in loaded.definitions {
        let Some(tenant) = state
            .deployments
            .get(&d.deployment_id)
            .map(|x| x.tenant_id.clone())
        else {
            continue;
        };
        match load_model(&data_dir, &d) {
            Ok(model) => state.add_definition(d, model, &tenant),
            Err(p) => {
                tracing::warn!(kind = d.kind.as_str(), key = %d.key, version = d.version,
                    problems = %p, "Deployed definition cannot be loaded; it is not installed.");
                state.definitions.insert(d.id.clone(), d);
            }
        }
    }
    let mut enabled = Enabled {
        deployments: state.deployments.len(),
        ..Enabled::default()
    };
    if let Some(id) = config.bootstrap_user.as_deref().filter(|u| !u.is_empty()) {
        enabled.bootstrap_created = bootstrap(directory, id, config.bootstrap_password.as_deref())?;
    }
    // Made now rather than at the first key, so that an operator who backs up the
    // keystore after the first start has it.
    directory.ensure_signing_key_blocking()?;
    enabled.admins = directory.admins();
    if enabled.admins == 0 {
        tracing::warn!(
            "The admin API has no user: set FSS_ADMIN_USER and FSS_ADMIN_PASSWORD to create one."
        );
    }
    let admin = Admin {
        data_dir,
        max_deployment_bytes: config.max_deployment_bytes.max(1),
        registry: parts.registry,
        state: Mutex::new(state),
        changes: tokio::sync::Mutex::new(()),
        auth: parts.auth,
        mounts: parts.mounts,
        shared: parts.shared,
        keystore: parts.keystore,
        events: parts.events,
        sessions: console::Sessions::default(),
    };
    let keys: Vec<String> = {
        let st = admin.lock();
        let mut k: Vec<String> = st.services.values().map(|s| s.key.clone()).collect();
        k.sort();
        k.dedup();
        k
    };
    enabled.services_mounted = admin.reconcile(&keys);
    // No change can run yet (the admin API is not served): no change lock is needed.
    admin.install_catalog();
    Ok((admin, enabled))
}

/// Reads and parses event or channel definition `d` from its deployment folder.
fn load_model(data_dir: &Path, d: &EventRegistryDefinition) -> Result<Model, Problems> {
    let dir = folders::deployment_dir(data_dir, &d.deployment_id);
    let bytes = std::fs::read(dir.join(&d.resource_name)).map_err(|e| {
        Problems(vec![Problem::new(
            &d.resource_name,
            ".",
            format!("cannot be read from {}: {e}", dir.display()),
        )])
    })?;
    let model = match d.kind {
        DefinitionKind::Event => parse_event(&d.resource_name, &bytes).map(Model::Event),
        DefinitionKind::Channel => {
            parse_channel(&d.resource_name, &bytes).map(|m| Model::Channel(Box::new(m)))
        }
    };
    model.map_err(Problems)
}

/// Creates the bootstrap admin `id`, or grants `access-rest-api` to the user of that id;
/// returns whether it was created. Blocking.
fn bootstrap(directory: &Directory, id: &str, password: Option<&str>) -> Result<bool> {
    users::check_id(id)?;
    let existing = directory.users().get(id).cloned();
    let (user, created) = match existing {
        Some(u) if u.privileges.contains(PRIVILEGE_REST_API) => return Ok(false),
        Some(mut u) => {
            u.privileges.insert(PRIVILEGE_REST_API.to_owned());
            (u, false)
        }
        None => {
            let password = password.filter(|p| !p.is_empty()).ok_or_else(|| {
                Error::bad_request(format!(
                    "the admin user '{id}' does not exist yet: FSS_ADMIN_PASSWORD \
                     (or --admin-password) is needed to create it"
                ))
            })?;
            users::check_password(password)?;
            let user = User {
                id: id.to_owned(),
                password_hash: hash_password(password)?,
                token_hash: None,
                first_name: None,
                last_name: None,
                privileges: [PRIVILEGE_REST_API.to_owned()].into(),
            };
            (user, true)
        }
    };
    directory.save_blocking(user)?;
    Ok(created)
}

impl Admin {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("admin state lock is never poisoned: no code panics under it")
    }

    /// Runs `f` on the registry, off the async workers.
    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Registry) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let registry = Arc::clone(&self.registry);
        tokio::task::spawn_blocking(move || f(&*registry))
            .await
            .map_err(Error::internal)?
    }

    /// The users (the admin API is enabled only once they are loaded).
    fn directory(&self) -> &Directory {
        self.auth
            .open_blocking()
            .expect("enable loaded the users before the admin API existed")
    }

    /// Makes what is mounted for each of `keys` agree with the state: the newest version
    /// of a deployed service is mounted, a service without versions is unmounted. Names of
    /// the operations folder are left alone. Returns how many services were mounted.
    /// Blocking (reads definition files, prepares stores).
    fn reconcile(&self, keys: &[String]) -> usize {
        let (wanted, gone): (Vec<ServiceVersion>, Vec<String>) = {
            let st = self.lock();
            let mut wanted = Vec::new();
            let mut gone = Vec::new();
            for k in keys.iter().filter(|k| !st.static_names.contains(*k)) {
                match st.newest(k) {
                    Some(s) => wanted.push(s.clone()),
                    None => gone.push(k.clone()),
                }
            }
            (wanted, gone)
        };
        let mut defs = Vec::new();
        let mut failed = gone;
        for s in &wanted {
            match self.load_version(s) {
                Ok(d) => defs.push(d),
                Err(p) => {
                    tracing::warn!(service = %s.key, version = s.version, problems = %p,
                        "Deployed service cannot be loaded; it is not mounted.");
                    failed.push(s.key.clone());
                }
            }
        }
        let mut mounted = 0;
        if self.mounts.mount(defs.clone()).is_ok() {
            mounted = defs.len();
        } else {
            for d in defs {
                let name = d.definition.name.clone();
                match self.mounts.mount(vec![d]) {
                    Ok(()) => mounted += 1,
                    Err(p) => {
                        tracing::warn!(service = %name, problems = %p,
                            "Deployed service does not mount; it is not served.");
                        failed.push(name);
                    }
                }
            }
        }
        if !failed.is_empty() {
            let names: Vec<&str> = failed.iter().map(String::as_str).collect();
            self.mounts.unmount(&names);
        }
        mounted
    }

    /// Reads and parses the definition of service version `s` from its deployment folder.
    fn load_version(&self, s: &ServiceVersion) -> Result<LoadedDefinition, Problems> {
        let dir = folders::deployment_dir(&self.data_dir, &s.deployment_id);
        let bytes = std::fs::read(dir.join(&s.resource_name)).map_err(|e| {
            Problems(vec![Problem::new(
                &s.resource_name,
                ".",
                format!("cannot be read from {}: {e}", dir.display()),
            )])
        })?;
        let definition = parse_definition(&s.resource_name, &bytes)?;
        Ok(LoadedDefinition {
            definition,
            source: s.resource_name.clone(),
            base_dir: dir,
        })
    }

    fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Installs what the state defines of the Event Registry into the runtime's events.
    /// Callers hold the change lock (or run before the admin API is served), so that
    /// catalogs are installed in the order of the changes.
    fn install_catalog(&self) {
        let catalog = self.lock().catalog();
        tracing::debug!(
            events = catalog.events.len(),
            channels = catalog.channels.len(),
            "Event registry catalog installed."
        );
        self.events.install(catalog);
    }
}

// === impl Admin: the operations folder's reloads ===

impl Admin {
    /// The change lock, for a reload of the operations folder: a name is checked and taken
    /// in one step, never between a deployment's check and its mount.
    pub(crate) async fn lock_changes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.changes.lock().await
    }

    /// The lower-case names of every deployed service, mounted or not: a file of the
    /// operations folder may not take one.
    pub(crate) fn deployed_names(&self) -> HashSet<String> {
        let st = self.lock();
        st.services.values().map(|s| s.key.to_lowercase()).collect()
    }

    /// A reload of the operations folder mounted `added` and unmounted `removed`: the first
    /// are the folder's now (deployments may not replace them), the second free again, and
    /// a deployed version of one of those (shadowed by the folder since the start) is
    /// mounted. Callers hold the change lock. Blocking.
    pub(crate) fn operations_changed(&self, added: &[String], removed: &[String]) {
        {
            let mut st = self.lock();
            st.static_names.extend(added.iter().cloned());
            for name in removed {
                st.static_names.remove(name);
            }
        }
        if !removed.is_empty() {
            self.reconcile(removed);
        }
    }
}

/// What every admin handler gets.
struct Ctx {
    admin: Arc<Admin>,
    /// `scheme://host[:port]` for the `url` fields.
    base_url: String,
}

impl Ctx {
    /// The users.
    fn users(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, User>> {
        self.admin.directory().users()
    }
}

impl Admin {
    /// Answers one request under `/api/`, `/console` or the ThingWorx service names.
    pub(crate) async fn handle(self: &Arc<Self>, req: Request<ReqBody>) -> Response<ResBody> {
        let from_console = console::is_console_call(&req);
        let mut resp = self.answer(req).await;
        if from_console {
            // The page shows its own login: a browser must not pop up its Basic dialog.
            resp.headers_mut().remove(http::header::WWW_AUTHENTICATE);
        }
        resp
    }

    async fn answer(self: &Arc<Self>, req: Request<ReqBody>) -> Response<ResBody> {
        let (parts, body) = req.into_parts();
        let ctx = Ctx {
            base_url: self.shared.base_url(&parts),
            admin: Arc::clone(self),
        };
        let req = Request::from_parts(parts, body);
        if req.uri().path().starts_with(EVENT_REGISTRY_PREFIX) {
            return event_registry::route(&ctx, req)
                .await
                .unwrap_or_else(Error::into_admin_response);
        }
        if req.uri().path().starts_with(CONSOLE_PREFIX) {
            return console::handle(&ctx, req)
                .await
                .unwrap_or_else(Error::into_admin_response);
        }
        if req.uri().path().starts_with(THINGWORX_PREFIX) {
            if let Err(e) = self.directory().authenticate_admin(req.headers()).await {
                return refusal(req.uri().path(), e);
            }
            return oauth::thingworx(&ctx, req).await;
        }
        route(&ctx, req)
            .await
            .unwrap_or_else(Error::into_admin_response)
    }
}

/// The answer of a request to `path` that the admin API refuses before its handler runs:
/// the ThingWorx service names answer `{"message"}`, the rest of the admin API
/// `{"statusCode", "errorMessage"}`.
pub(crate) fn refusal(path: &str, e: Error) -> Response<ResBody> {
    match path.strip_prefix(THINGWORX_PREFIX) {
        Some(service) => oauth::thingworx_error(service.trim_end_matches('/'), &e),
        None => e.into_admin_response(),
    }
}

async fn route(ctx: &Ctx, req: Request<ReqBody>) -> Result<Response<ResBody>> {
    let directory = ctx.admin.directory();
    // A scrape user holding only `metrics` reads the metrics, nothing else.
    let metrics = req.uri().path().trim_end_matches('/') == "/api/management/metrics";
    match ctx.admin.sessions.user_of(req.headers(), req.method())? {
        Some(user) if metrics => {
            directory.require(&user, &[PRIVILEGE_METRICS, PRIVILEGE_REST_API])?
        }
        Some(user) => directory.require(&user, &[PRIVILEGE_REST_API])?,
        None if metrics => drop(directory.authenticate_scraper(req.headers()).await?),
        None => drop(directory.authenticate_admin(req.headers()).await?),
    }

    let path = req.uri().path().to_owned();
    let rest = path.strip_prefix("/api/").unwrap_or_default();
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let segs: Vec<&str> = rest.split('/').collect();
    let method = req.method().clone();
    let m = |allow: &'static str| Error::MethodNotAllowed { allow };
    match segs.as_slice() {
        ["repository", "deployments"] => match method {
            Method::GET => deployments::list(ctx, &req, deployments::REPOSITORY),
            Method::POST => deployments::create(ctx, req, deployments::REPOSITORY).await,
            _ => Err(m("GET, POST")),
        },
        ["repository", "deployments", id] => match method {
            Method::GET => deployments::get(ctx, &decode(id), deployments::REPOSITORY),
            Method::DELETE => deployments::delete(ctx, &decode(id)).await,
            _ => Err(m("GET, DELETE")),
        },
        ["repository", "deployments", id, "resources"] => match method {
            Method::GET => deployments::resources(ctx, &decode(id), deployments::REPOSITORY),
            _ => Err(m("GET")),
        },
        ["repository", "deployments", id, "resourcedata", resource @ ..]
            if !resource.is_empty() =>
        {
            match method {
                Method::GET => {
                    let resource: Vec<String> = resource.iter().map(|s| decode(s)).collect();
                    deployments::resource_data(ctx, &decode(id), &resource.join("/")).await
                }
                _ => Err(m("GET")),
            }
        }
        ["repository", "services"] => match method {
            Method::GET => services::list(ctx, &req),
            _ => Err(m("GET")),
        },
        ["repository", "services", id] => match method {
            Method::GET => services::get(ctx, &decode(id)),
            _ => Err(m("GET")),
        },
        ["repository", "services", id, "resourcedata"] => match method {
            Method::GET => services::resource_data(ctx, &decode(id)).await,
            _ => Err(m("GET")),
        },
        ["repository", "services", id, "model"] => match method {
            Method::GET => services::model(ctx, &decode(id)).await,
            _ => Err(m("GET")),
        },
        ["openapi.json"] => match method {
            Method::GET => Ok(openapi::document(ctx)),
            _ => Err(m("GET")),
        },
        ["repository", "routes"] => match method {
            Method::GET => services::routes(ctx, &req),
            _ => Err(m("GET")),
        },
        ["management", "engine"] => match method {
            Method::GET => Ok(management::engine()),
            _ => Err(m("GET")),
        },
        ["management", "health"] => match method {
            Method::GET => management::health(ctx).await,
            _ => Err(m("GET")),
        },
        ["management", "metrics"] => match method {
            Method::GET => Ok(management::metrics(ctx)),
            _ => Err(m("GET")),
        },
        ["management", "connection-test"] => match method {
            Method::GET => Ok(connection::answer(&ctx.admin).await),
            _ => Err(m("GET")),
        },
        ["keystore"] => match method {
            Method::GET => keystore::list(ctx).await,
            _ => Err(m("GET")),
        },
        ["keystore", alias] => match method {
            Method::PUT => keystore::put(ctx, &decode(alias), req).await,
            Method::DELETE => keystore::delete(ctx, &decode(alias)).await,
            _ => Err(m("PUT, DELETE")),
        },
        ["runtime", "executions"] => match method {
            Method::GET => executions::list(ctx, &req),
            _ => Err(m("GET")),
        },
        ["runtime", "execution-events"] => match method {
            Method::GET => executions::events(ctx, &req),
            _ => Err(m("GET")),
        },
        ["runtime", "executions", id] => match method {
            Method::GET => executions::get(ctx, &decode(id)),
            _ => Err(m("GET")),
        },
        ["identity", "users"] => match method {
            Method::GET => users::list(ctx, &req),
            Method::POST => users::create(ctx, req).await,
            _ => Err(m("GET, POST")),
        },
        ["identity", "users", id] => match method {
            Method::GET => users::get(ctx, &decode(id)),
            Method::PUT => users::update(ctx, &decode(id), req).await,
            Method::DELETE => users::delete(ctx, &decode(id)).await,
            _ => Err(m("GET, PUT, DELETE")),
        },
        ["oauth", rest @ ..] => oauth::route(ctx, rest, req).await,
        ["identity", "users", id, "token"] => match method {
            Method::POST => users::new_user_token(ctx, &decode(id)).await,
            Method::DELETE => users::delete_user_token(ctx, &decode(id)).await,
            _ => Err(m("POST, DELETE")),
        },
        ["identity", "users", id, "api-keys"] => match method {
            Method::GET => api_keys::list(ctx, &decode(id)),
            Method::POST => api_keys::create(ctx, &decode(id), req).await,
            _ => Err(m("GET, POST")),
        },
        ["identity", "users", id, "api-keys", key_id] => match method {
            Method::DELETE => api_keys::revoke(ctx, &decode(id), &decode(key_id)).await,
            _ => Err(m("DELETE")),
        },
        _ => Err(Error::not_found(format!(
            "no admin endpoint at {path}; see /api/repository/deployments, \
             /api/repository/services, /api/repository/routes, /api/management/engine, \
             /api/identity/users, /api/oauth/configurations"
        ))),
    }
}

/// One path segment, percent-decoded (`%2F` becomes `/`).
fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// Milliseconds since the Unix epoch, now.
fn now_ms() -> i64 {
    crate::clock::now_millis()
}

/// ISO-8601 with milliseconds and offset, in UTC: `2024-05-01T12:34:56.789+00:00`.
fn iso8601(ms: i64) -> String {
    crate::clock::format_millis(ms, "+00:00")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_formats_utc_with_offset() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000+00:00");
        assert_eq!(iso8601(951_782_400_123), "2000-02-29T00:00:00.123+00:00");
        assert_eq!(iso8601(1_714_566_896_789), "2024-05-01T12:34:56.789+00:00");
    }

    #[test]
    fn config_debug_hides_the_password() {
        let c = AdminConfig {
            bootstrap_user: Some("a".into()),
            bootstrap_password: Some("hunter2".into()),
            ..AdminConfig::default()
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
