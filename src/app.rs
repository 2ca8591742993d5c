//! The entry point of every request after the socket, and the runtime that owns the parts.
//!
//! [`Runtime::handle`] sends each URL prefix to its one owner: `/fs/` to the routing
//! snapshot and the operations (after the service's own authentication, when it has one),
//! `/api/1/` to the incoming API (`incoming`), `/events/` to the inbound HTTP channels
//! (`event`), the rest of `/api/`, Flowable's `/event-registry-api/` and the ThingWorx
//! service names to the admin API, `/health` here. [`Runtime`] builds the parts once —
//! the keystore, stores, the OAuth provider store, the builtins, mounts, users, shared
//! state — and hands each layer only what it may use.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http::{Method, Request, Response};

use crate::admin::{self, Admin, AdminConfig};
use crate::auth::{client_certificate, Auth};
use crate::definition::{validate_set, LoadedDefinition, Problems};
use crate::edge;
use crate::error::{Error, Result};
use crate::event::{self, Events};
use crate::execution::outbox::{self, Outbox, OutboxFuture, OutboxStore, Settle};
use crate::execution::{CallbackTarget, Callbacks, CertificateSubject, Records, ServiceUser};
use crate::http::body::{self, ReqBody, ResBody};
use crate::http::request::Connection;
use crate::incoming::{self, Incoming};
use crate::metrics::Area;
use crate::oauth::OAuth;
use crate::operation;
use crate::process::{Builtins, Handler, StoreProcess};
use crate::reload::{self, OperationsWatch, ReloadReport};
use crate::router::{Mounts, OperationKind, Service, Snapshot, SERVICE_PREFIX};
use crate::shared::{RuntimeConfig, ServerState, Shared};
use crate::store::keystore::{KeystoreFile, OAUTH_ADMIN_KEY};
use crate::store::postgres::outbox::{ClaimedRow, PgOutbox, Settled, StoredCallback};
use crate::store::{StoreConfig, Stores};

/// The runtime, cheap to clone and share between connections.
#[derive(Clone, Debug)]
pub struct Runtime {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Shared,
    mounts: Arc<Mounts>,
    auth: Arc<Auth>,
    stores: Stores,
    /// The incoming API under `/api/1/`.
    incoming: Incoming,
    /// The event registry: definitions, sending, inbound channels, Flow listeners.
    events: Arc<Events>,
    /// The admin API under `/api/`, once [`Runtime::enable_admin`] opened it.
    admin: OnceLock<Arc<Admin>>,
    /// Serializes reloads of the operations folder (the watcher's and SIGHUP's).
    reloads: tokio::sync::Mutex<()>,
}

impl Runtime {
    /// A runtime with nothing mounted. Nothing is opened until a service needs it.
    pub fn new(config: RuntimeConfig) -> Self {
        // With a shared database the keystore must be shared too (the tables' sealed
        // values, the API keys' signature): by default it lives in the shared files folder.
        let keystore = Arc::new(match (&config.keystore_file, &config.files_dir) {
            (Some(path), _) => KeystoreFile::new(path.clone()),
            (None, Some(dir)) if config.database_url.is_some() => KeystoreFile::in_data_dir(dir),
            (None, _) => KeystoreFile::in_data_dir(&config.data_dir),
        });
        let stores = Stores::for_config(
            &StoreConfig {
                data_dir: &config.data_dir,
                durability: config.durability,
                database_url: config.database_url.as_deref(),
                files_dir: config.files_dir.as_deref(),
            },
            keystore,
        );
        let store = Arc::new(StoreProcess::new(stores.clone()));
        let keystore = Arc::clone(&stores.keystore);
        let oauth = Arc::new(OAuth::new(
            Arc::clone(&stores.registry),
            Arc::new(move || keystore.key(OAUTH_ADMIN_KEY)),
        ));
        let auth = Arc::new(Auth::new(
            Arc::clone(&stores.registry),
            Arc::clone(&stores.keystore),
            config.api_key_header.clone(),
        ));
        let mut shared = Shared::new(config, store, oauth);
        if let Some(pg) = &stores.database {
            let outbox = PgOutbox::new(Arc::clone(pg), Arc::clone(&stores.keystore));
            let config = &shared.config;
            shared.outbox = Some(Outbox::start(
                Arc::new(outbox),
                config.outbox.outlasting(config.outbound.request_timeout),
                &shared.callbacks,
                &shared.records,
            ));
        }
        let builtins = Builtins {
            store: Arc::clone(&shared.store),
            oauth: Arc::clone(&shared.oauth),
            outbound: shared.outbound.clone(),
            execution_timeout: shared.config.execution_timeout,
        };
        let mounts = Arc::new(Mounts::new(builtins));
        let events = Events::new(
            shared.clone(),
            Arc::clone(&mounts),
            Arc::clone(&auth),
            Arc::clone(&stores.keystore),
            Arc::clone(&stores.listeners),
        );
        Runtime {
            inner: Arc::new(Inner {
                events,
                incoming: Incoming::new(
                    shared.clone(),
                    Arc::clone(&mounts),
                    Arc::clone(&auth),
                    Arc::clone(&stores.keystore),
                    Arc::clone(&stores.runs),
                ),
                mounts,
                auth,
                shared,
                stores,
                admin: OnceLock::new(),
                reloads: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.shared.config
    }

    /// The users and their API keys: [`Auth::authenticate_api_key`] checks the key of a
    /// request, for embedders that serve their own endpoints with fss's API keys.
    pub fn auth(&self) -> &Auth {
        &self.inner.auth
    }

    /// The ring of recent executions.
    pub fn records(&self) -> &Records {
        &self.inner.shared.records
    }

    /// The callback client of WAIT answers.
    pub fn callbacks(&self) -> &Callbacks {
        &self.inner.shared.callbacks
    }

    /// The metrics of every mounted service, in the Prometheus text format.
    pub fn metrics_text(&self) -> String {
        self.inner.shared.metrics_text(&self.snapshot())
    }

    /// Registers a Rust handler under `name`, for definitions that say
    /// `"process": {"handler": name}`. Register before mounting those definitions.
    pub fn register_handler(&self, name: impl Into<String>, handler: impl Handler) {
        self.inner
            .mounts
            .register_handler(name.into(), Arc::new(handler));
    }

    /// The snapshot of mounted services right now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.mounts.snapshot()
    }

    /// Mounts `defs` atomically: either every service answers afterwards, or none of them
    /// does and every problem is returned. A service of the same name is replaced.
    ///
    /// # Errors
    ///
    /// The definitions are invalid as a set, or name a handler that is not registered.
    pub fn mount(&self, defs: Vec<LoadedDefinition>) -> Result<(), Problems> {
        self.inner.mounts.mount(defs)
    }

    /// Unmounts the services named `names`; returns the names that were mounted.
    /// Requests in flight on them finish; new requests get 404.
    pub fn unmount(&self, names: &[&str]) -> Vec<String> {
        self.inner.mounts.unmount(names)
    }

    /// Opens the admin API under `/api/`: reads the registry, creates or reuses the
    /// bootstrap admin, and mounts the newest version of every deployed service. Call it
    /// after the operations folder is mounted (its services cannot be replaced by
    /// deployments). Blocking.
    ///
    /// # Errors
    ///
    /// The registry cannot be opened, the bootstrap admin must be created but has no
    /// password ([`Error::BadRequest`]), or the admin API is already enabled.
    pub fn enable_admin(&self, config: AdminConfig) -> Result<admin::Enabled> {
        let (admin, enabled) = admin::enable(
            admin::Parts {
                mounts: Arc::clone(&self.inner.mounts),
                shared: self.inner.shared.clone(),
                auth: Arc::clone(&self.inner.auth),
                registry: Arc::clone(&self.inner.stores.registry),
                keystore: Arc::clone(&self.inner.stores.keystore),
                events: Arc::clone(&self.inner.events),
            },
            config,
        )?;
        let admin = Arc::new(admin);
        self.inner
            .admin
            .set(Arc::clone(&admin))
            .map_err(|_| Error::internal("the admin API of this runtime is already enabled"))?;
        // A registry that other instances write is followed from now on (on the
        // runtime's own tasks, ending with them).
        if let Some(changes) = self.inner.stores.registry.watch() {
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => drop(rt.spawn(admin.follow(changes))),
                Err(_) => tracing::warn!(
                    "The admin API was enabled outside a tokio runtime: changes of other \
                     instances are not followed."
                ),
            }
        }
        Ok(enabled)
    }

    /// Reloads the operations folder `dir` (the one mounted at start, from
    /// [`definition::load_dir`](crate::definition::load_dir)): services of new files are
    /// mounted, of changed files remounted (requests in flight finish on the old mount),
    /// of removed files unmounted. A file with problems keeps what it mounted before;
    /// services of deployments are never touched, nor taken by a file. Every problem is
    /// logged and returned, with one info line for the reload. `SIGHUP` and the watcher
    /// of [`Runtime::watch_operations`] call it; reloads are serialized with each other
    /// and with the admin API's deployments.
    pub async fn reload_operations(&self, dir: impl AsRef<Path>) -> ReloadReport {
        let dir = dir.as_ref().to_path_buf();
        let _reloading = self.inner.reloads.lock().await;
        let admin = self.inner.admin.get().cloned();
        let _changes = match &admin {
            Some(a) => Some(a.lock_changes().await),
            None => None,
        };
        let mounts = Arc::clone(&self.inner.mounts);
        let folder = dir.clone();
        let in_task = admin.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let admin = in_task;
            let taken = admin
                .as_ref()
                .map(|a| a.deployed_names())
                .unwrap_or_default();
            let report = reload::reload(&folder, &mounts, &taken);
            if let Some(a) = &admin {
                a.operations_changed(&report.added, &report.removed);
            }
            report
        })
        .await;
        let report = joined.unwrap_or_else(|e| {
            tracing::error!(error = %e, "Operations folder reload failed.");
            ReloadReport::default()
        });
        report.log(&dir);
        report
    }

    /// Watches the operations folder `dir` and reloads it
    /// ([`Runtime::reload_operations`]) a moment after each change of its definition
    /// files; the watch lasts until the guard is dropped. Watcher failures are logged and
    /// the watch is set up again when it can be. Call it inside the tokio runtime, after
    /// the folder is mounted.
    pub fn watch_operations(&self, dir: impl Into<PathBuf>) -> OperationsWatch {
        let rt = self.clone();
        reload::watch(dir.into(), move |dir| {
            let rt = rt.clone();
            async move {
                rt.reload_operations(&dir).await;
            }
        })
    }

    /// Answers one request. Never fails: errors become their HTTP answers.
    pub async fn handle(&self, req: Request<ReqBody>) -> Response<ResBody> {
        let shared = &self.inner.shared;
        let area = area_of(req.uri().path());
        let started = Instant::now();
        shared.in_flight.fetch_add(1, Ordering::Relaxed);
        let resp = self.answer(req).await;
        shared.in_flight.fetch_sub(1, Ordering::Relaxed);
        shared
            .http_stats
            .record(area, resp.status().as_u16(), started.elapsed());
        resp
    }

    async fn answer(&self, mut req: Request<ReqBody>) -> Response<ResBody> {
        let edge = &self.inner.shared.config.edge;
        let client = edge::resolve_client(req.headers(), req.extensions(), &edge.trusted_proxies);
        let ip = client.ip;
        // Only links need it, and only when a trusted proxy named the public address: the
        // common request pays no extension.
        if client.forwarded_base.is_some() {
            req.extensions_mut().insert(client);
        }
        let path = req.uri().path();
        if path.starts_with(SERVICE_PREFIX) {
            if req.method() == Method::HEAD {
                // HEAD is GET without its body, wherever GET is answered.
                *req.method_mut() = Method::GET;
                let resp = self.service(req, ip).await;
                return without_body(resp);
            }
            return self.service(req, ip).await;
        }
        if path.starts_with(incoming::PREFIX) {
            // Before the admin API: its address allow-list and edge checks are for
            // operators, not for the REST clients of the incoming API.
            return Box::pin(self.inner.incoming.handle(req)).await;
        }
        if path.starts_with(event::WEBHOOK_PREFIX) {
            return Box::pin(self.inner.events.webhook(req)).await;
        }
        if path.starts_with("/api/")
            || is_console(path)
            || path.starts_with(admin::THINGWORX_PREFIX)
            || path.starts_with(admin::EVENT_REGISTRY_PREFIX)
        {
            let Some(admin) = self.inner.admin.get() else {
                let e = Error::not_found("the admin API is not enabled on this server");
                return admin::refusal(path, e);
            };
            if !edge.admin_allow_from.admits(ip) {
                return admin::refusal(path, forbidden_address(ip, "the admin API"));
            }
            let (parts, body) = req.into_parts();
            if let Err(e) = edge::check_admin_request(&parts, edge) {
                return admin::refusal(parts.uri.path(), e);
            }
            return Box::pin(admin.handle(Request::from_parts(parts, body))).await;
        }
        match (req.method(), path) {
            (&Method::GET, "/health") => body::health(),
            (&Method::HEAD, "/health") => without_body(body::health()),
            (&Method::GET, "/livez") => live(),
            (&Method::HEAD, "/livez") => without_body(live()),
            (&Method::GET, "/readyz") => self.ready(),
            (&Method::HEAD, "/readyz") => without_body(self.ready()),
            (_, "/health" | "/livez" | "/readyz") => {
                Error::MethodNotAllowed { allow: "GET, HEAD" }.into_service_problem(path)
            }
            _ => Error::not_found(
                "no service is mounted at this path; services live under /fs/{name}",
            )
            .into_service_problem(path),
        }
    }

    /// `GET /readyz`: 200 while the server listens and is not draining, else 503 naming
    /// why, so that a load balancer stops sending before the instance goes.
    fn ready(&self) -> Response<ResBody> {
        let server = &self.inner.shared.server;
        let why = if server.draining.load(Ordering::Relaxed) {
            Some("shutting down: in-flight requests are finishing")
        } else if !server.listening.load(Ordering::Relaxed) {
            Some("the listener is not bound yet")
        } else {
            None
        };
        match why {
            None => body::json_response(http::StatusCode::OK, &serde_json::json!({"status": "UP"})),
            Some(reason) => body::json_response(
                http::StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({"status": "DOWN", "reason": reason}),
            ),
        }
    }

    /// What the server tells the runtime of itself: its connections and readiness.
    pub fn server_state(&self) -> &Arc<ServerState> {
        &self.inner.shared.server
    }

    /// A request under `/fs/`: routed on the snapshot, refused by the service's address
    /// allow-list or its authentication, then run; CORS headers go on the answer.
    async fn service(&self, mut req: Request<ReqBody>, ip: Option<IpAddr>) -> Response<ResBody> {
        let edge = &self.inner.shared.config.edge;
        let snapshot = self.inner.mounts.snapshot();
        let path = req.uri().path();
        if req.method() == Method::OPTIONS {
            return match snapshot.route(&Method::OPTIONS, path) {
                Err(Error::MethodNotAllowed { allow }) => {
                    edge::preflight(req.headers(), allow, edge)
                }
                Err(e) => e.into_service_problem(path),
                Ok(_) => edge::preflight(req.headers(), "OPTIONS", edge),
            };
        }
        let origin = edge::origin_of(req.headers(), edge);
        let mut resp = match snapshot.route(req.method(), path) {
            Ok((service, route)) => {
                let started = Instant::now();
                let refused = if !service.allow_from.admits(ip) {
                    Some(forbidden_address(
                        ip,
                        &format!("the service {}", service.name),
                    ))
                } else if requires_auth(&service) && route.kind != OperationKind::Health {
                    // The one check a service without authentication pays.
                    Box::pin(self.authorize(&service, &mut req)).await.err()
                } else {
                    None
                };
                match refused {
                    Some(e) => {
                        let resp = e.into_service_problem(req.uri().path());
                        if let Some(stats) = service.stats.get(route.slot()) {
                            stats.record(resp.status().as_u16(), started.elapsed());
                        }
                        resp
                    }
                    // Registrations are kept by the event registry, which calls them back.
                    None if route.kind == OperationKind::Listener => {
                        Box::pin(self.inner.events.listen(service, req)).await
                    }
                    None => operation::dispatch(&self.inner.shared, service, route, req).await,
                }
            }
            Err(e) => Box::pin(self.unrouted(&snapshot, e, &mut req, ip)).await,
        };
        if let Some(origin) = origin {
            edge::allow_origin(&origin, &mut resp, edge);
        }
        resp
    }

    /// The answer to a path under `/fs/` that is not a route. Of a service with an
    /// address allow-list or authentication, callers learn that only once admitted.
    async fn unrouted(
        &self,
        snapshot: &Snapshot,
        e: Error,
        req: &mut Request<ReqBody>,
        ip: Option<IpAddr>,
    ) -> Response<ResBody> {
        let path = req.uri().path().to_owned();
        if let Some((service, sub)) = snapshot.lookup(&path) {
            if !service.allow_from.admits(ip) {
                let e = forbidden_address(ip, &format!("the service {}", service.name));
                return e.into_service_problem(&path);
            }
            if requires_auth(service) && sub != "/health" {
                let service = Arc::clone(service);
                if let Err(e) = self.authorize(&service, req).await {
                    return e.into_service_problem(&path);
                }
            }
        }
        e.into_service_problem(&path)
    }

    /// Checks the client certificate and the HTTP Basic credentials of a request to
    /// `service`, whichever it requires (both when it names both), before its body is
    /// read. On success the verified caller goes into the request's extensions
    /// ([`CertificateSubject`], [`ServiceUser`]) for the process properties. The
    /// certificate comes first: it costs no hashing.
    ///
    /// # Errors
    ///
    /// 401 without a client certificate or valid credentials; 403 when the certificate's
    /// subject or the user may not call this service.
    async fn authorize(&self, service: &Service, req: &mut Request<ReqBody>) -> Result<()> {
        if let Some(subjects) = service.definition.client_certificate_subjects() {
            let subject = client_certificate::admit(
                &service.name,
                subjects,
                req.extensions().get::<Connection>(),
            )?;
            req.extensions_mut().insert(CertificateSubject(subject));
        }
        if !service.auth_basic {
            return Ok(());
        }
        let user = self
            .inner
            .auth
            .authorize_service(&service.name, req.headers())
            .await?;
        req.extensions_mut().insert(ServiceUser(user));
        Ok(())
    }
}

/// `GET /livez`: the process is up and answering.
fn live() -> Response<ResBody> {
    body::json_response(http::StatusCode::OK, &serde_json::json!({"status": "UP"}))
}

/// Whether `path` is the console's (`/console` and below, not `/consoles`).
fn is_console(path: &str) -> bool {
    path.strip_prefix(admin::CONSOLE_PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The area a request of `path` is counted under in `fss_http_requests_total`.
fn area_of(path: &str) -> Area {
    if path.starts_with(SERVICE_PREFIX) {
        Area::Fs
    } else if path.starts_with(incoming::PREFIX) {
        Area::Incoming
    } else if path.starts_with(event::WEBHOOK_PREFIX) {
        Area::Events
    } else if path.starts_with("/api/")
        || is_console(path)
        || path.starts_with(admin::THINGWORX_PREFIX)
        || path.starts_with(admin::EVENT_REGISTRY_PREFIX)
    {
        Area::Admin
    } else {
        Area::Other
    }
}

/// Whether requests to `service` must authenticate (Basic, client certificate or both):
/// the one check a service without authentication pays.
fn requires_auth(service: &Service) -> bool {
    service.auth_basic || service.definition.auth.is_some()
}

/// The 403 of a client address an allow-list does not hold.
fn forbidden_address(ip: Option<IpAddr>, what: &str) -> Error {
    let who = ip.map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string());
    tracing::debug!(client = %who, "Address refused by an allow-list: {what}.");
    Error::Forbidden(format!("{who} may not call {what}").into())
}

/// `resp` without its body, for HEAD: the head stays, with the `Content-Length` the
/// body would have had when it is known.
fn without_body(resp: Response<ResBody>) -> Response<ResBody> {
    use hyper::body::Body as _;
    let (mut parts, body) = resp.into_parts();
    if let Some(len) = body.size_hint().exact() {
        parts
            .headers
            .entry(http::header::CONTENT_LENGTH)
            .or_insert_with(|| len.into());
    }
    Response::from_parts(parts, body::full(bytes::Bytes::new()))
}

/// The callback outbox of the runtime's database: the statements of
/// `store::postgres::outbox` behind the seam `execution::outbox` runs. It lives here, where
/// both are wired, so that neither the run engine nor the store imports the other.
impl OutboxStore for PgOutbox {
    fn lease(
        &self,
        instance: &str,
        lease_for: Duration,
        fault: outbox::Callback,
    ) -> OutboxFuture<()> {
        let (me, instance) = (self.clone(), instance.to_owned());
        Box::pin(async move { PgOutbox::lease(&me, instance, lease_for, stored(fault)).await })
    }

    fn finish(&self, callback: outbox::Callback) -> OutboxFuture<Option<i64>> {
        let me = self.clone();
        Box::pin(async move { PgOutbox::finish(&me, stored(callback)).await })
    }

    fn forget(&self, execution_id: &str) -> OutboxFuture<()> {
        let (me, id) = (self.clone(), execution_id.to_owned());
        Box::pin(async move { PgOutbox::forget(&me, id).await })
    }

    fn renew(
        &self,
        instance: &str,
        executions: Vec<String>,
        lease_for: Duration,
    ) -> OutboxFuture<u64> {
        let (me, instance) = (self.clone(), instance.to_owned());
        Box::pin(async move { PgOutbox::renew(&me, instance, executions, lease_for).await })
    }

    fn expire(&self, limit: i64) -> OutboxFuture<u64> {
        let me = self.clone();
        Box::pin(async move { PgOutbox::expire(&me, limit).await })
    }

    fn claim(
        &self,
        instance: &str,
        only: Option<i64>,
        claim_for: Duration,
        limit: i64,
    ) -> OutboxFuture<Vec<outbox::Due>> {
        let (me, instance) = (self.clone(), instance.to_owned());
        Box::pin(async move {
            let rows = PgOutbox::claim(&me, instance, only, claim_for, limit).await?;
            Ok(rows.into_iter().map(due).collect())
        })
    }

    fn settle(&self, id: i64, instance: &str, settle: Settle) -> OutboxFuture<bool> {
        let (me, instance) = (self.clone(), instance.to_owned());
        let (attempts, settled) = match settle {
            Settle::Delivered { attempts } => (attempts, Settled::Delivered),
            Settle::Retry {
                attempts,
                after,
                reason,
            } => (attempts, Settled::Retry { after, reason }),
            Settle::GaveUp { attempts, reason } => (attempts, Settled::GaveUp { reason }),
        };
        Box::pin(async move { PgOutbox::settle(&me, id, instance, attempts, settled).await })
    }

    fn purge(&self, older_than: Duration) -> OutboxFuture<u64> {
        let me = self.clone();
        Box::pin(async move { PgOutbox::purge(&me, older_than).await })
    }

    fn spawn(
        &self,
        work: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>>,
    ) {
        PgOutbox::spawn(self, work);
    }
}

/// A callback of the run engine as the database keeps it.
fn stored(c: outbox::Callback) -> StoredCallback {
    StoredCallback {
        execution_id: c.execution_id,
        uri: c.target.uri,
        tenant_id: c.target.tenant_id,
        authorization: c.target.authorization,
        body: c.body,
    }
}

/// A claimed row as the run engine delivers it.
fn due(row: ClaimedRow) -> outbox::Due {
    let c = row.callback;
    outbox::Due {
        id: row.id,
        attempts: row.attempts,
        callback: outbox::Callback {
            execution_id: c.execution_id,
            target: CallbackTarget {
                uri: c.uri,
                tenant_id: c.tenant_id,
                authorization: c.authorization,
            },
            body: c.body,
        },
        unusable: row.unusable,
    }
}

/// Checks definitions as mounting them would, without opening anything: the set's rules
/// and the processes they name, with no handler registered (`fss check`).
///
/// # Errors
///
/// Every problem of every definition.
pub fn check(defs: &[LoadedDefinition]) -> Result<(), Problems> {
    let problems = validate_set(defs);
    if !problems.0.is_empty() {
        return Err(problems);
    }
    // Processes are resolved only: nothing of these builtins is opened.
    let builtins = Builtins::unopened(std::path::Path::new("."));
    let unresolved: Vec<_> = defs
        .iter()
        .filter_map(|d| Service::build(d, &|_| None, &builtins).err())
        .flat_map(|p| p.0)
        .collect();
    if unresolved.is_empty() {
        Ok(())
    } else {
        Err(Problems(unresolved))
    }
}
