//! The runtime: the mounted services, the registered handlers, and the request entry point.
//!
//! [`Runtime::handle`] is the whole data path after the socket: route on the current
//! snapshot, run the operation, render its answer or its error. Mounting builds a new
//! snapshot from the old one and swaps it in atomically; requests in flight keep theirs.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use arc_swap::ArcSwap;
use http::{HeaderValue, Method, Request, Response, StatusCode};

use crate::callback::{CallbackPolicy, Callbacks};
use crate::definition::{validate_set, LoadedDefinition, Problem, Problems};
use crate::error::Error;
use crate::execution::ServiceUser;
use crate::http::body::{self, ReqBody, ResBody};
use crate::operation;
use crate::process::Handler;
use crate::records::{Records, DEFAULT_RECORDS};
use crate::router::{Route, Service, Snapshot, SERVICE_PREFIX};
use crate::store::Stores;

/// Default largest JSON request body: 10 MiB.
pub const DEFAULT_MAX_REQUEST_BYTES: u64 = 10 << 20;

/// How the runtime serves requests (what the server's sockets do is in `ServerConfig`).
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// The data folder: tables, files and their index live under it.
    pub data_dir: PathBuf,
    /// The largest JSON request body, unless an operation sets its own. Default 10 MiB.
    pub max_request_bytes: u64,
    /// The base URL used in download links; default: built from the request's `Host`.
    pub public_base_url: Option<String>,
    /// Retry policy of WAIT callbacks.
    pub callback: CallbackPolicy,
    /// How many execution records the in-memory ring keeps (0: none). Default 10 000.
    pub execution_records: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            data_dir: PathBuf::from("data"),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            public_base_url: None,
            callback: CallbackPolicy::default(),
            execution_records: DEFAULT_RECORDS,
        }
    }
}

/// The runtime, cheap to clone and share between connections.
#[derive(Clone, Debug)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    config: RuntimeConfig,
    stores: Stores,
    callbacks: Callbacks,
    records: Records,
    /// Requests being answered right now.
    in_flight: AtomicI64,
    snapshot: ArcSwap<Snapshot>,
    handlers: RwLock<HashMap<String, Arc<dyn Handler>>>,
    /// Serializes mounts so that two concurrent deploys cannot lose each other's services.
    mount_lock: Mutex<()>,
    /// The admin API under `/api/`, once [`crate::admin::enable`] opened it.
    admin: OnceLock<Arc<crate::admin::Admin>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime with nothing mounted.
    pub fn new(config: RuntimeConfig) -> Self {
        Runtime {
            inner: Arc::new(Inner {
                stores: Stores::new(&config.data_dir),
                callbacks: Callbacks::new(config.callback),
                records: Records::new(config.execution_records),
                in_flight: AtomicI64::new(0),
                config,
                snapshot: ArcSwap::from_pointee(Snapshot::default()),
                handlers: RwLock::new(HashMap::new()),
                mount_lock: Mutex::new(()),
                admin: OnceLock::new(),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// The ring of recent executions.
    pub fn records(&self) -> &Records {
        &self.inner.records
    }

    /// The metrics of every mounted service, in the Prometheus text format.
    pub fn metrics_text(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(crate::metrics::HEADER);
        let snapshot = self.snapshot();
        let mut services: Vec<_> = snapshot.services().collect();
        services.sort_by(|a, b| a.name.cmp(&b.name));
        let (mut shed, mut limited) = (0, 0);
        for s in services {
            for op in &s.stats {
                op.render(&s.name, &mut out);
                shed += op.count(503);
                limited += op.count(429);
            }
        }
        let (delivered, retried, failed) = self.callbacks().counts();
        let in_flight = self.inner.in_flight.load(Ordering::Relaxed);
        let _ = write!(
            out,
            "# HELP fss_in_flight_requests Requests being answered now.\n\
             # TYPE fss_in_flight_requests gauge\n\
             fss_in_flight_requests {in_flight}\n\
             # HELP fss_shed_total Requests shed at a concurrency limit (503).\n\
             # TYPE fss_shed_total counter\n\
             fss_shed_total {shed}\n\
             # HELP fss_rate_limited_total Requests refused by a rate limit (429).\n\
             # TYPE fss_rate_limited_total counter\n\
             fss_rate_limited_total {limited}\n\
             # HELP fss_callbacks_total WAIT callbacks by outcome.\n\
             # TYPE fss_callbacks_total counter\n\
             fss_callbacks_total{{outcome=\"delivered\"}} {delivered}\n\
             fss_callbacks_total{{outcome=\"retried\"}} {retried}\n\
             fss_callbacks_total{{outcome=\"failed\"}} {failed}\n"
        );
        out
    }

    /// The callback client of WAIT answers.
    pub fn callbacks(&self) -> &Callbacks {
        &self.inner.callbacks
    }

    /// The embedded stores (tables, files).
    pub(crate) fn stores(&self) -> &Stores {
        &self.inner.stores
    }

    /// The admin API, when enabled.
    pub fn admin(&self) -> Option<&Arc<crate::admin::Admin>> {
        self.inner.admin.get()
    }

    /// Installs the admin API; fails when one is installed already.
    pub(crate) fn set_admin(
        &self,
        admin: Arc<crate::admin::Admin>,
    ) -> Result<(), Arc<crate::admin::Admin>> {
        self.inner.admin.set(admin)
    }

    /// Registers a Rust handler under `name`, for definitions that say
    /// `"process": {"handler": name}`. Register before mounting those definitions.
    pub fn register_handler(&self, name: impl Into<String>, handler: impl Handler) {
        self.inner
            .handlers
            .write()
            .expect("handler registry lock is never poisoned: no code panics under it")
            .insert(name.into(), Arc::new(handler));
    }

    /// The snapshot of mounted services right now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.snapshot.load_full()
    }

    /// Mounts `defs` atomically: either every service answers afterwards, or none of them
    /// does and every problem is returned. A service of the same name is replaced.
    ///
    /// # Errors
    ///
    /// The definitions are invalid as a set, or name a handler that is not registered.
    pub fn mount(&self, defs: Vec<LoadedDefinition>) -> Result<(), Problems> {
        let problems = validate_set(&defs);
        if !problems.0.is_empty() {
            return Err(problems);
        }
        let handlers = self
            .inner
            .handlers
            .read()
            .expect("handler registry lock is never poisoned")
            .clone();
        let resolve = |name: &str| handlers.get(name).cloned();
        let mut built = Vec::with_capacity(defs.len());
        let mut all = Vec::new();
        for d in &defs {
            match Service::build(d, &resolve) {
                Ok(s) => built.push(Arc::new(s)),
                Err(p) => all.extend(p.0),
            }
        }
        for s in &built {
            if let Err(e) = operation::prepare(self, s) {
                all.push(Problem::new(&s.source, ".", e.to_string()));
            }
        }
        if !all.is_empty() {
            return Err(Problems(all));
        }
        let _guard = self
            .inner
            .mount_lock
            .lock()
            .expect("mount lock is never poisoned");
        let current = self.inner.snapshot.load();
        let mut services: HashMap<Arc<str>, Arc<Service>> = current
            .services()
            .map(|s| (Arc::clone(&s.name), Arc::clone(s)))
            .collect();
        for s in built {
            tracing::info!(service = %s.name, "Service mounted.");
            services.insert(Arc::clone(&s.name), s);
        }
        self.inner
            .snapshot
            .store(Arc::new(Snapshot::new(services.into_values())));
        Ok(())
    }

    /// Unmounts the services named `names`; returns the names that were mounted.
    /// Requests in flight on them finish; new requests get 404.
    pub fn unmount(&self, names: &[&str]) -> Vec<String> {
        let _guard = self
            .inner
            .mount_lock
            .lock()
            .expect("mount lock is never poisoned");
        let current = self.inner.snapshot.load();
        let mut removed = Vec::new();
        let kept: Vec<Arc<Service>> = current
            .services()
            .filter(|s| {
                let gone = names.contains(&s.name.as_ref());
                if gone {
                    removed.push(s.name.to_string());
                }
                !gone
            })
            .cloned()
            .collect();
        self.inner.snapshot.store(Arc::new(Snapshot::new(kept)));
        removed
    }

    /// Answers one request. Never fails: errors become their HTTP answers.
    pub async fn handle(&self, req: Request<ReqBody>) -> Response<ResBody> {
        self.inner.in_flight.fetch_add(1, Ordering::Relaxed);
        let resp = self.answer(req).await;
        self.inner.in_flight.fetch_sub(1, Ordering::Relaxed);
        resp
    }

    async fn answer(&self, mut req: Request<ReqBody>) -> Response<ResBody> {
        let path = req.uri().path();
        if path.starts_with(SERVICE_PREFIX) {
            let snapshot = self.inner.snapshot.load_full();
            return match snapshot.route(req.method(), path) {
                Ok((service, route)) => {
                    // The one check a service without authentication pays.
                    if service.auth_basic && !matches!(route, Route::Health) {
                        let started = Instant::now();
                        if let Err(e) = self.authorize(&service, &mut req).await {
                            let resp = e.into_service_problem(req.uri().path());
                            if let Some(stats) = service.stats.get(route.slot()) {
                                stats.record(resp.status().as_u16(), started.elapsed());
                            }
                            return resp;
                        }
                    }
                    operation::dispatch(self, service, route, req).await
                }
                Err(e) => {
                    // A path of a service with authentication that is not one of its
                    // routes: its callers learn that only once authenticated.
                    if let Some((service, sub)) = snapshot.lookup(path) {
                        if service.auth_basic && sub != "/health" {
                            let service = Arc::clone(service);
                            if let Err(e) = self.authorize(&service, &mut req).await {
                                return e.into_service_problem(req.uri().path());
                            }
                            return e.into_service_problem(req.uri().path());
                        }
                    }
                    e.into_service_problem(path)
                }
            };
        }
        if path.starts_with("/api/") {
            return crate::admin::handle(self, req).await;
        }
        match (req.method(), path) {
            (&Method::GET, "/health") => health(),
            (_, "/health") => Error::MethodNotAllowed { allow: "GET" }.into_service_problem(path),
            _ => Error::not_found(
                "no service is mounted at this path; services live under /fs/{name}",
            )
            .into_service_problem(path),
        }
    }
}

impl Runtime {
    /// Checks the HTTP Basic credentials of a request to `service`, which requires them,
    /// before its body is read; on success the verified user goes into the request's
    /// extensions ([`ServiceUser`]) for the process properties.
    ///
    /// # Errors
    ///
    /// 401 without valid credentials, or when the admin API (which holds the users) is not
    /// enabled; 403 when the user may not call this service.
    async fn authorize(&self, service: &Service, req: &mut Request<ReqBody>) -> Result<(), Error> {
        let Some(admin) = self.admin() else {
            return Err(Error::Unauthorized(
                format!(
                    "service '{}' requires authentication, but the admin API that holds its \
                     users is not enabled on this server: nothing of it is served",
                    service.name
                )
                .into(),
            ));
        };
        let user = admin
            .authorize_service(&service.name, req.headers())
            .await?;
        req.extensions_mut().insert(ServiceUser(user));
        Ok(())
    }
}

/// `GET /health`: 200 with a small JSON status.
pub(crate) fn health() -> Response<ResBody> {
    let mut resp = Response::new(body::full(r#"{"status":"UP"}"#));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    *resp.status_mut() = StatusCode::OK;
    resp
}
